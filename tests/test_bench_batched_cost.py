"""``benchmarks.batched_cost``: the conclusion's arithmetic, and the script end to end at
tiny sizes on a real rxgrid cluster and a real process pool, with both profiles readable
(the executors' taken inside the executors). The figures are not checked."""

import pstats
import re

from benchmarks import batched_cost
from benchmarks.common import Recorder
from tests.conftest import run_python


def _record(rec: Recorder, system: str, phase: str, wall: float, cpu_us: dict) -> None:
    rec.add(batched_cost.GROUP, phase, "wall", "s", "lower", system, wall, tasks=100_000, chunks=14)
    for role, us in cpu_us.items():
        rec.add(batched_cost.GROUP, phase, role, "us/task", "lower", system, us)


def test_conclusion_names_the_process_with_most_cpu_on_the_path():
    rec = Recorder()
    # Executors summed 3.0 us per task: halved (side by side), 1.5 us is below the client's 2.
    _record(rec, "rxgrid", "first", 1.0, {"client": 2.0, "executor": 3.0})
    _record(rec, "rxgrid", "warm", 0.4, {"client": 2.0, "head": 0.1, "daemon": 0.1,
                                         "executor": 3.0})
    _record(rec, "processpool", "first", 0.2, {"client": 1.0, "executor": 0.5})
    text = batched_cost.conclusion(batched_cost._values(rec), 100_000, None)
    assert "takes 1.000 s against ProcessPool's 0.200 s (5.0x" in text
    assert "0.600 s is the first job's own cost" in text
    assert "(client 0.200, head 0.010, daemon 0.010, executor 0.150 s" in text
    assert text.endswith("and the client bounds it.")


def test_script_reports_both_systems_and_both_profiles(tmp_path):
    out = tmp_path / "BATCHED.md"
    done = run_python("import sys; from benchmarks.batched_cost import main; sys.exit(main("
                      "['--tasks', '300', '--rounds', '1', '--reps', '1', '--profile-reps', '1', "
                      f"'--no-warm-kernels', '--out', {str(out)!r}]))", timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    text = out.read_text()
    for row in ("| rxgrid |", "| processpool |", "| CPU executors (both; pool: its workers) |",
                "| **CPU sum** |", "### The executors' main threads",
                "| chunk loop (rxgrid/runtime/chunk.py) |", "### The client's main thread",
                "**Conclusion**:", "Processes left behind: none."):
        assert row in text
    assert "error" not in text
    folder = re.search(r"The profiles: `(.+)/client\.prof`", text).group(1)
    client = pstats.Stats(f"{folder}/client.prof")
    assert client.total_calls > 0
    executors = sorted(p for p in __import__("os").listdir(folder) if p.startswith("executor-"))
    assert len(executors) == 2
    for name in executors:  # each executor ran its share of the profiled job's chunks
        stats = pstats.Stats(f"{folder}/{name}")
        assert any(f[0].endswith("rxgrid/runtime/chunk.py") and f[2] == "_run_tasks"
                   for f in stats.stats)
    assert text in done.stdout
