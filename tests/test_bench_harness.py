"""The fair-fight rules of ``benchmarks/``: the verdict by ranges, the equality gate, the
peers' seeds and batches. Pure and fast: no cluster, no timing."""

import numpy as np
import pytest

from benchmarks import fair, goals, report, tasks
from benchmarks.common import Config, Measurement, Recorder, interleave
from benchmarks.fair import MET, MISSED, TIE, Check, same_work, verdict
from rxgrid.runtime.chunk_sizes import guided_sizes
from rxgrid.runtime.seeding import enter_task


@pytest.mark.parametrize(("ours", "theirs", "better", "factor", "expected"), [
    ([1.0, 1.2], [1.5, 2.0], "lower", 1.0, MET),
    ([1.0, 1.6], [1.5, 2.0], "lower", 1.0, TIE),
    ([2.1, 2.5], [1.5, 2.0], "lower", 1.0, MISSED),
    ([1.5, 1.5], [1.5, 1.5], "lower", 1.0, TIE),  # equal is not "separated"
    ([0.9, 1.0], [2.1, 2.4], "lower", 0.5, MET),  # at most half: 1.0 < 0.5 * 2.1
    ([0.9, 1.1], [2.1, 2.4], "lower", 0.5, TIE),
    ([1.3, 1.4], [2.1, 2.4], "lower", 0.5, MISSED),
    ([10.0, 12.0], [5.0, 9.0], "higher", 1.0, MET),
    ([8.0, 12.0], [5.0, 9.0], "higher", 1.0, TIE),
    ([3.0, 4.0], [5.0, 9.0], "higher", 1.0, MISSED),
    ([100.0], [4.0, 4.9], "higher", 20.0, MET),
    ([90.0], [4.0, 4.9], "higher", 20.0, TIE),
])
def test_verdict_is_by_whole_ranges(ours, theirs, better, factor, expected):
    assert verdict(ours, theirs, better, factor) == expected


def test_verdict_ignores_medians_inside_overlapping_ranges():
    # median 1.0 vs 1.5 (a "1.5x win" by medians), but one slow repetition overlaps
    assert verdict([0.9, 1.0, 1.6], [1.4, 1.5, 1.6], "lower") == TIE


def test_verdict_refuses_bad_input():
    with pytest.raises(ValueError):
        verdict([], [1.0], "lower")
    with pytest.raises(ValueError):
        verdict([1.0], [1.0], "faster")


def test_checks_agree_exactly_on_keys_and_within_tolerance_on_values():
    a = Check("a", "k", (1.0, 2.0), 1e-9)
    assert a.agrees(Check("b", "k", (1.0 + 1e-12, 2.0)))
    assert not a.agrees(Check("a", "k", (1.0 + 1e-6, 2.0)))
    assert not a.agrees(Check("a", "other", (1.0, 2.0), 1e-9))
    assert not a.agrees(Check("a", "k", (1.0,), 1e-9))
    assert Check.from_dict(a.as_dict()) == a


def test_same_work_needs_every_check_of_both_sides_to_agree():
    one, two = Check("x", "1"), Check("y", "2")
    assert same_work([one, one], [one])
    assert not same_work([one, two], [one])  # a repetition of ours differs
    assert not same_work([one], [one, two])
    assert not same_work([], [one])  # unchecked is not proved equal
    assert not same_work([one], [])


def test_digest_sees_values_shape_and_dtype_not_the_container():
    a = np.arange(6, dtype=np.int32)
    assert fair.digest(a) == fair.digest(a.copy())
    assert fair.digest(a) != fair.digest(a.reshape(2, 3))
    assert fair.digest(a) != fair.digest(a.astype(np.int64))
    assert fair.digest([1, 2]) == fair.digest((1, 2))
    assert fair.digest([1, 2]) != fair.digest([2, 1])


def _measurement(system, values, checks, better="lower", **params):
    return Measurement("g", "w", "wall", "s", better, system, list(values), dict(params),
                       checks=list(checks))


def test_report_refuses_a_ratio_when_results_differ():
    ref = _measurement("rxgrid", [1.0, 1.1], [Check("a", "1")] * 2)
    other = _measurement("ray", [2.0, 2.1], [Check("b", "2")] * 2)
    assert report._ratio(ref, other) == ("refused", "results differ")
    unchecked = _measurement("ray", [2.0, 2.1], [])
    assert report._ratio(ref, unchecked) == ("refused", "results unchecked")


def test_report_gives_ratio_and_range_verdict_when_results_agree():
    same = [Check("a", "1")] * 2
    ref = _measurement("rxgrid", [1.0, 1.1], same)
    assert report._ratio(ref, _measurement("ray", [2.0, 2.2], same)) == ("0.5", "rxgrid faster")
    assert report._ratio(ref, _measurement("ray", [1.05, 1.2], same))[1] == "tie (ranges overlap)"
    assert report._ratio(ref, _measurement("ray", [2.0], same, n=3))[0] == "refused"


def test_report_ratio_to_a_bound_is_marked_not_the_same_work():
    ref = _measurement("rxgrid", [1.0, 1.1], [Check("a", "1")])
    ratio, text = report._ratio(ref, _measurement("numpy.sum", [5.0, 5.5], []))
    assert ratio == "0.2" and "a bound" in text


def test_goal_is_judged_only_on_the_same_work():
    goal = goals.Goal("half of ray", "g", "w", "wall", "ray", 0.5)
    same = [Check("a", "1")]
    rx, ray = _measurement("rxgrid", [1.0], same), _measurement("ray", [2.5], same)
    found = {("g", "w", "wall", "rxgrid"): rx, ("g", "w", "wall", "ray"): ray}
    assert goals.judge(goal, found)[2] == "**met**"
    found[("g", "w", "wall", "ray")] = _measurement("ray", [2.5], [Check("b", "2")])
    assert goals.judge(goal, found)[2].startswith("no verdict")
    assert goals.judge(goal, {})[2] == "not measured"


def test_peer_seed_is_the_first_draw_of_rxgrids_task_stream():
    import rxgrid
    for task in (0, 1, 17):
        enter_task(777, task)
        assert tasks._rx_seed() == tasks.peer_seed(777, task)
        enter_task(777, task)
        assert int(rxgrid.task_rng().integers(2**31)) == tasks.peer_seed(777, task)
    enter_task(None, 0)


class _FakeSystem:
    def __init__(self, name, log):
        self.name, self.log, self.workers = name, log, 2

    def __enter__(self):
        self.log.append(("start", self.name))
        return self

    def __exit__(self, *exc):
        self.log.append(("stop", self.name))

    def warm(self):
        pass


@pytest.mark.parametrize("keep_up", [False, True])
def test_interleave_runs_rounds_a_b_c_a_b_c(keep_up):
    log = []
    cfg = Config(reps=3, systems=("a", "b", "c"), keep_up=keep_up)
    interleave("g", cfg, Recorder(), ["w"], lambda s, w, r: log.append((s.name, r)),
               make=lambda name: _FakeSystem(name, log))
    runs = [e for e in log if e[0] in "abc"]
    assert runs == [(n, r) for r in range(3) for n in "abc"]
    starts = [e for e in log if e[0] == "start"]
    assert len(starts) == (3 if keep_up else 9)
    if not keep_up:  # one system alive at a time
        assert log[:3] == [("start", "a"), ("a", 0), ("stop", "a")]


def test_interleave_drops_a_failing_workload_after_reporting_it_once():
    rec, log = Recorder(), []

    def measure(system, workload, rnd):
        if system.name == "b":
            raise RuntimeError("boom")
        log.append(system.name)
    interleave("g", Config(reps=3, systems=("a", "b")), rec, ["w"], measure,
               make=lambda name: _FakeSystem(name, []))
    assert log == ["a", "a", "a"]
    assert [m.status for m in rec.items] == ["error: RuntimeError: boom"]


def test_isolated_turns_run_a_b_c_a_b_c_each_in_a_process_of_its_own():
    """Config.isolate: every turn runs in a fresh child of this process (its pid differs
    from this one and from every other turn's), what it records comes back in order, and
    what it changes elsewhere in memory does not."""
    import os
    rec, changed = Recorder(), []

    def measure(system, workload, rnd):
        changed.append(system.name)  # stays in the child
        rec.add("g", workload, "pid", "", "lower", system.name, float(os.getpid()), round=rnd)
        rec.add("g", workload, "order", "", "lower", "all", float("abc".index(system.name) + 3 * rnd))
    interleave("g", Config(reps=3, systems=("a", "b", "c"), isolate=True), rec, ["w"], measure,
               make=lambda name: _FakeSystem(name, []))
    pids = [v for m in rec.items if m.metric == "pid" for v in m.values]
    assert len(pids) == len(set(pids)) == 9 and os.getpid() not in pids
    assert next(m.values for m in rec.items if m.metric == "order") == [float(i) for i in range(9)]
    assert changed == []


def test_an_isolated_turn_that_fails_is_reported_once_and_left_out_later():
    rec, seen = Recorder(), []

    def measure(system, workload, rnd):
        if system.name == "b" and workload == "w1":
            raise RuntimeError("boom")
        rec.add("g", workload, "ran", "", "lower", system.name, float(rnd))
    interleave("g", Config(reps=3, systems=("a", "b"), isolate=True), rec, ["w1", "w2"], measure,
               make=lambda name: _FakeSystem(name, seen))
    ran = {(m.system, m.workload): m.values for m in rec.items if m.metric == "ran"}
    assert ran == {("a", "w1"): [0.0, 1.0, 2.0], ("a", "w2"): [0.0, 1.0, 2.0],
                   ("b", "w2"): [0.0, 1.0, 2.0]}
    assert [m.status for m in rec.items if m.status != "ok"] == ["error: RuntimeError: boom"]


def test_an_isolated_turn_whose_process_dies_is_reported_and_its_system_left_out():
    import os
    rec = Recorder()

    def measure(system, workload, rnd):
        if system.name == "b":
            os._exit(7)  # a crash that no exception handler sees
        rec.add("g", workload, "ran", "", "lower", system.name, float(rnd))
    interleave("g", Config(reps=2, systems=("a", "b"), isolate=True), rec, ["w"], measure,
               make=lambda name: _FakeSystem(name, []))
    assert [m.values for m in rec.items if m.metric == "ran"] == [[0.0, 1.0]]
    failures = [m.status for m in rec.items if m.status != "ok"]
    assert failures == ["error: RuntimeError: g/b round 1: its process ended with exit code 7 "
                        "before it reported"]


def test_a_process_an_isolated_turn_leaves_behind_is_reported_and_killed(monkeypatch):
    import subprocess
    import sys

    import psutil

    from benchmarks import common
    monkeypatch.setattr(common, "LEFTOVERS", [])
    monkeypatch.setattr(common, "LEFTOVER_GRACE", 0.5)
    rec = Recorder()

    def measure(system, workload, rnd):
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        rec.add("g", workload, "pid", "", "lower", system.name, float(child.pid))
    interleave("g", Config(reps=1, systems=("a",), isolate=True), rec, ["w"], measure,
               make=lambda name: _FakeSystem(name, []))
    pid = int(rec.items[0].values[0])
    assert len(common.LEFTOVERS) == 1 and common.LEFTOVERS[0].startswith(f"g/a round 1: pid {pid}:")
    try:
        proc = psutil.Process(pid)
        proc.wait(timeout=10)  # killed, and reaped by init once its parent is gone
    except psutil.NoSuchProcess:
        pass
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_what_a_group_measures_outside_its_turns_runs_apart_when_isolated():
    """startup's starts and analytics' baselines use in_turn_process: with isolate, in a
    child (so Ray's or OpenMP's state never reaches the process later turns fork from)."""
    import os

    from benchmarks.common import in_turn_process
    here = os.getpid()
    assert in_turn_process(Config(isolate=False), Recorder(), os.getpid, "x") == here
    assert in_turn_process(Config(isolate=True), Recorder(), os.getpid, "x") != here


def test_isolation_refuses_systems_kept_up_across_rounds():
    with pytest.raises(ValueError, match="keep_up off"):
        interleave("g", Config(reps=3, systems=("a",), isolate=True, keep_up=True), Recorder(),
                   ["w"], lambda s, w, r: None, make=lambda name: _FakeSystem(name, []))


def test_peers_batch_in_rxgrids_automatic_chunk_sizes():
    class Peer(_FakeSystem):
        def run_tasks(self, fn, rows, common=()):
            self.batches = [len(r[1]) for r in rows]
            return [fn(*row) for row in rows]
    from benchmarks.systems import System
    peer = Peer("p", [])
    rows = [(i,) for i in range(1000)]
    out = System.map_batched(peer, tasks.trivial, rows)
    assert out == list(range(1000))
    assert peer.batches == guided_sizes(1000, 2)


def test_load_tally_catches_missing_duplicated_and_unknown_jobs():
    from benchmarks.load import tally
    clean = [{"proved": [0, 1], "bad": 0}, {"proved": [2, 3], "bad": 0}]
    assert tally(clean, 2, 2) == {"proved": 4, "missing": 0, "duplicated": 0, "unknown": 0,
                                  "wrong": 0, "failed clients": 0}
    mixed = [{"proved": [0, 0], "bad": 0}, {"proved": [2, 9], "bad": 1}, {"proved": [], "bad": -1}]
    counts = tally(mixed, 2, 2)
    assert (counts["missing"], counts["duplicated"], counts["unknown"]) == (2, 1, 1)
    assert (counts["wrong"], counts["failed clients"]) == (1, 1)


def test_head_profile_categories_hold_all_own_time_and_builtins_count_for_their_callers(tmp_path):
    """A real profile of the head's scheduler and of SQLite writes: every second of own
    time lands in one category, sqlite3's methods in SQLite, and the builtin sum() that
    the scheduler's slot counting calls in the scheduler."""
    import cProfile
    import pstats
    import sqlite3

    from benchmarks import headprofile
    from rxgrid.head.scheduler import Scheduler
    conn = sqlite3.connect(tmp_path / "t.sqlite3", isolation_level=None)
    conn.execute("CREATE TABLE t (x)")
    scheduler = Scheduler()
    for w in range(50):
        scheduler.add_worker(f"w{w}", 2)
    profile = cProfile.Profile()
    profile.enable()
    scheduler.add_job("j", 0, 1, [(i, 1, None) for i in range(100)])
    assert len(scheduler.assign()) == 100
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(1000)])
    conn.execute("COMMIT")
    profile.disable()
    stats = pstats.Stats(profile)
    seconds = headprofile.categorize(stats)
    assert sum(seconds.values()) == pytest.approx(sum(v[2] for v in stats.stats.values()))
    assert seconds["SQLite"] > 0
    scheduler_own = sum(v[2] for k, v in stats.stats.items() if k[0].endswith("scheduler.py"))
    assert seconds["scheduler"] > scheduler_own  # plus the sum() calls made from it
    assert headprofile.category_of(("~", 0, "<built-in method builtins.sum>")) is None
    assert headprofile.counts(stats) == {"sqlite_execute_calls": 3, "sqlite_commits": 0,
                                         "worker_stream_messages": 0}
    section = headprofile.bounds_section("chunk", 100, 0.3, {
        "profiled_cpu_s": 0.1, "categories_s": seconds, "top": headprofile.top(stats),
        "counts": headprofile.counts(stats)}, goal_ms=0.1)
    first = max(seconds, key=seconds.get)
    assert section[-1].startswith(f"**Conclusion**: {first} dominates")


def test_importing_the_benchmark_modules_the_tests_use_leaves_the_environment_alone():
    """The suite imports these. One that set NUMBA_NUM_THREADS or PYTHONPATH on import
    changed every cluster the suite started after it (and made a later Numba compile in
    the suite's process fail: threads launched at 1, the variable gone)."""
    import subprocess
    import sys

    code = ("import importlib, os; before = dict(os.environ)\n"
            "for name in ('batched_cost', 'common', 'cpu_bounds', 'fair', 'goals', 'headprofile', 'load', "
            "'report', 'roundtrip_cost', 'roundtrip_profile', 'scale', 'speedup', 'systems', 'tasks'):\n"
            "    importlib.import_module('benchmarks.' + name)\n"
            "print(sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k)))")
    root = __file__.rsplit("/tests/", 1)[0]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
