"""A first run on a cold Numba cache: each kernel a job calls is compiled once per machine,
by one process, while the others wait and load it; one line says so, on the user's stderr.

Real processes: a client with rxgrid.local(workers=2) and a fresh NUMBA_CACHE_DIR.
"""

from __future__ import annotations

import glob
import os

from tests.conftest import run_python

LINE = "rxgrid: compiling the mandelbrot kernels with Numba (first run on this machine only; cached in "

SCRIPT = """
import os
import rxgrid

def row(y):                       # defined in __main__: travels by value
    from rxgrid.kernels import mandelbrot_row
    return os.getpid(), int(mandelbrot_row([-1.0, 0.0, 0.25], y, 50).sum())

for run in ("first", "second"):   # a second cluster on the same machine: the cache is warm
    with rxgrid.local(workers=2, cores_per_worker=1, state_dir=os.path.join({tmp!r}, run)) as c:
        results = c.exec(row, rxgrid.each([0.0, 0.1, 0.2, 0.3, 0.4, 0.5]), chunk_size=1)
        print(run, len({{pid for pid, _ in results}}), [total for _, total in results])
"""


def test_a_cold_cache_compiles_once_per_machine_and_says_so_once(tmp_path):
    cache = tmp_path / "numba"
    out = run_python(SCRIPT.format(tmp=str(tmp_path)), timeout=300, NUMBA_CACHE_DIR=str(cache))
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()
    assert first.startswith("first 2 ")  # both executors ran the kernel...
    assert second.split(" ", 2)[2] == first.split(" ", 2)[2]
    lines = [line for line in out.stderr.splitlines() if "compiling" in line]
    assert len(lines) == 1 and lines[0].startswith(LINE), out.stderr  # ...one said so, once
    assert lines[0].endswith(f"cached in {glob.glob(str(cache / '*'))[0]})")
    # and only one process compiled: the one line is in one worker's log, none in the rest
    logs = glob.glob(str(tmp_path / "*" / "logs" / "local-*.log"))
    assert len(logs) == 4
    said = [log for log in logs if "compiling the mandelbrot kernels" in open(log).read()]
    assert len(said) == 1 and os.path.dirname(os.path.dirname(said[0])).endswith("first")
    # only what the job called is in the cache: the row kernel, not the grid's
    cached = {os.path.basename(p).split("-")[0] for p in glob.glob(str(cache / "*" / "*.nbi"))}
    assert cached == {"mandelbrot._mandelbrot_row", "mandelbrot._escape_count"}
