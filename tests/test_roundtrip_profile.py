"""``benchmarks.roundtrip_profile``: the client's profile is split by headprofile's code
with the client's categories, and the script runs end to end at a tiny size on a real
head and two workers. The figures are not checked."""

import cProfile
import pstats
import re
import threading

import pytest

from benchmarks import headprofile
from benchmarks.roundtrip_profile import CLIENT_CATEGORIES, CLIENT_IDLE
from rxgrid.runtime.serialize import dumps
from tests.conftest import run_python


def test_client_categories_hold_all_own_time_and_the_wait_is_idle():
    def task(x):
        return x + 1

    lock = threading.Lock()
    lock.acquire()
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(20):
        dumps(task, "function")
    lock.acquire(timeout=0.05)  # as the main thread waits for the outcome
    profile.disable()
    stats = pstats.Stats(profile)
    seconds = headprofile.categorize(stats, CLIENT_CATEGORIES, CLIENT_IDLE)
    assert sum(seconds.values()) == pytest.approx(sum(v[2] for v in stats.stats.values()))
    assert seconds["pickle"] > 0 and seconds["rxgrid (shared modules)"] > 0
    assert seconds[headprofile.IDLE] >= 0.04
    assert "SQLite" not in seconds


def test_script_reports_head_and_client(tmp_path):
    out = tmp_path / "PROFILE.md"
    done = run_python("import sys; from benchmarks.roundtrip_profile import main; sys.exit(main("
                      f"['--calls', '20', '--warmup', '5', '--out', {str(out)!r}]))", timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    text = out.read_text()
    for heading in ("## What bounds the head", "## What the client spends", "| SQLite |",
                    "rxgrid's functions in the head by cumulative time:",
                    "| rxgrid client |", "rpc.py"):
        assert heading in text
    folder = re.search(r"The profiles: `(.+)/head\.prof`", text).group(1)
    for name in ("head.prof", "client.prof"):
        assert pstats.Stats(f"{folder}/{name}").total_calls > 0
    assert text in done.stdout
