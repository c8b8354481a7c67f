"""A new user's first run (issue 18), measured in one run on this machine:

1. ``rxgrid demo`` on a cold Numba cache (a fresh ``NUMBA_CACHE_DIR``): seconds from
   launch to its first result (the dice line) and to its first kernel result (the
   Mandelbrot line, which waits for one compilation), and the compile lines it printed.
   The demo is stopped after that, to spare a shared machine.
2. A plain ``rxgrid.local(workers=2)`` against Dask's ``LocalCluster(n_workers=2)`` with a
   ``Client``: seconds until each is ready (its constructor returned, workers connected)
   and until a first trivial result is back. Imports are done first (paid once per
   program); runs alternate, and the median of ``--reps`` is reported.

    python -m benchmarks.first_run [--reps 3] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cold_demo() -> dict:
    """Launch ``rxgrid demo`` with an empty Numba cache; time its first lines."""
    with tempfile.TemporaryDirectory(prefix="rxgrid-cold-") as tmp:
        env = {**os.environ, "NUMBA_CACHE_DIR": os.path.join(tmp, "numba"),
               "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "rxgrid", "demo", "--out", os.path.join(tmp, "out"),
                                 "--log-level", "WARNING"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
        times: dict = {}
        try:
            for line in proc.stdout:
                for key in ("ready", "dice:", "mandelbrot:"):
                    if key not in times and key in line:
                        times[key] = time.perf_counter() - start
                if "mandelbrot:" in times:
                    break
        finally:
            os.killpg(proc.pid, signal.SIGTERM)  # its cluster's children watch it and stop too
            try:
                _, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                _, err = proc.communicate()
        times["compile lines"] = [line for line in err.splitlines() if "compiling" in line]
        return times


def local_ready() -> tuple[float, float]:
    import rxgrid
    from benchmarks.tasks import trivial
    start = time.perf_counter()
    with rxgrid.local(workers=2) as cluster:
        ready = time.perf_counter() - start
        assert cluster.exec(trivial, 1) == [1]
        return ready, time.perf_counter() - start


def dask_ready() -> tuple[float, float]:
    from dask.distributed import Client, LocalCluster

    from benchmarks.tasks import trivial
    start = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        ready = time.perf_counter() - start
        assert client.submit(trivial, 1).result() == 1
        return ready, time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", help="also write the table to this Markdown file")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    demo = cold_demo()
    import dask.distributed  # noqa: F401 - imports are not part of a start

    import rxgrid  # noqa: F401
    runs: dict[str, list] = {"rxgrid.local(workers=2)": [], "Dask LocalCluster(n_workers=2) + Client": []}
    for _ in range(args.reps):
        runs["rxgrid.local(workers=2)"].append(local_ready())
        runs["Dask LocalCluster(n_workers=2) + Client"].append(dask_ready())
    load_after = os.getloadavg()
    lines = [f"First run, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
             f"load average {load_before[0]:.1f} before and {load_after[0]:.1f} after "
             f"(a shared machine: other work ran at the same time)", "",
             "| cold `rxgrid demo` (fresh NUMBA_CACHE_DIR) | seconds from launch |", "|---|---|",
             f"| cluster ready | {demo.get('ready', float('nan')):.1f} |",
             f"| first result (dice) | {demo.get('dice:', float('nan')):.1f} |",
             f"| first kernel result (Mandelbrot, one compilation) | "
             f"{demo.get('mandelbrot:', float('nan')):.1f} |",
             f"| compile lines printed | {len(demo['compile lines'])} |", "",
             f"| start (median of {args.reps}) | ready s | first result s |", "|---|---|---|"]
    for name, values in runs.items():
        ready = statistics.median(v[0] for v in values)
        first = statistics.median(v[1] for v in values)
        lines.append(f"| {name} | {ready:.2f} | {first:.2f} |")
    lines += ["", *[f"    {line}" for line in demo["compile lines"]]]
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
