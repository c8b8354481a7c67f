"""Faults the cluster must survive, and bad input that must end in a clear error.

Real processes and real signals: SIGKILL of a head, SIGSTOP of a worker, a segfault
inside a task, a state dir on a tiny filesystem that fills up.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sqlite3
import subprocess
import threading
import time
import urllib.request

import numpy as np
import pytest

import rxgrid
from rxgrid import each
from rxgrid.client.local import free_port
from tests import fixtures
from tests.test_cluster import _wait_until
from tests.test_metrics import parse_prometheus, value


def _segfault(x):
    if x == 1:
        ctypes.string_at(0)
    return x


def test_a_segfault_in_a_task_kills_only_its_executor(cluster1):
    results = cluster1.exec(_segfault, each(range(3)), chunk_size=3)
    assert results[0] == 0 and results[2] == 2
    assert results[1].type == "ExecutorDiedError" and "SIGSEGV" in results[1].message
    assert "tried 3 time(s)" in results[1].message


@pytest.mark.parametrize("chunk_size", [1, 4])
def test_a_task_that_kills_its_executor_fails_and_its_chunk_mates_run(cluster1, chunk_size):
    # Found in the wild: with chunk_size set, task 5 (and its chunk-mates 6 and 7) came
    # back as a successful None: the retry mixed up task indices and chunk offsets.
    job = cluster1.exec(fixtures.die_on, each(range(12)), chunk_size=chunk_size, wait=False)
    results = job.result(timeout=120)
    assert results[:5] + results[6:] == [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11]
    assert results[5].type == "ExecutorDiedError" and "exit code 3" in results[5].message
    assert job.progress() == (11, 1, 12)
    assert list(job.errors()) == [5]


def test_an_argument_that_kills_its_executor_when_loaded_fails_each_task_instead_of_hanging(
        cluster1):
    # Found reading Slot._run for issue 14: an executor that died before its first
    # task started was replaced and sent the chunk again, forever; the job never ended.
    job = cluster1.exec(fixtures.add, each(range(3)), fixtures.DiesWhenLoaded(5), chunk_size=3,
                        wait=False)
    results = job.result(timeout=90)
    for task, failure in enumerate(results):
        assert isinstance(failure, rxgrid.TaskFailure) and failure.type == "ExecutorDiedError"
        assert f"before task {task} started" in failure.message
        assert "exit code 5" in failure.message and "tried 3 time(s)" in failure.message
    assert job.progress() == (0, 3, 3)
    assert cluster1.exec(fixtures.square, each(range(3)), chunk_size=3) == [0, 1, 4]


def test_a_task_that_calls_sys_exit_fails_with_its_exit_code_not_our_sigkill(cluster1, tmp_path):
    # Found by tests/test_true_outcomes.py: the executor's pipe closes before it has
    # exited, and the slot killed it then, so sys.exit(4) was reported as SIGKILL.
    results = cluster1.exec(fixtures.crash_as_planned, each(range(3)), {1: "sysexit:4"},
                            str(tmp_path), chunk_size=3)
    assert results[0] == fixtures.planned_value(0) and results[2] == fixtures.planned_value(2)
    assert results[1].type == "ExecutorDiedError" and "(exit code 4)" in results[1].message


def test_a_paused_worker_counts_no_result_twice(fresh_cluster, tmp_path):
    port = free_port()
    cluster = fresh_cluster(workers=2, lease_timeout=2.0, heartbeat=0.25,
                            dashboard=f"127.0.0.1:{port}")
    metrics = f"http://127.0.0.1:{port}/metrics"
    starts = tmp_path / "starts.txt"
    job = cluster.exec(fixtures.log_worker_then_sleep, str(starts), each(range(12)), seconds=1.0,
                       chunk_size=1, wait=False)
    # pause local-1 just after one of its 1-second tasks has started, so it holds a lease
    _wait_until(lambda: starts.exists() and "local-1 " in starts.read_text(), 30)
    cluster.kill("local-1", signal.SIGSTOP)
    try:
        assert [w.busy for w in cluster.workers() if w.name == "local-1"] == [1]
        assert job.result(timeout=60) == list(range(12))
        assert _metric(metrics, "rxgrid_chunks_rerun_total") >= 1
        assert _metric(metrics, "rxgrid_late_results_ignored_total") == 0
    finally:
        cluster.kill("local-1", signal.SIGCONT)
    # the woken worker finishes its chunk and delivers the result: the head ignores it
    _wait_until(lambda: _metric(metrics, "rxgrid_late_results_ignored_total") >= 1, 60)
    info = job.info()
    assert (info.tasks_done, info.tasks_failed, info.chunks_done) == (12, 0, 12)
    assert job.result() == list(range(12))
    assert cluster.exec(fixtures.square, each(range(4))) == [0, 1, 4, 9]


def _metric(url: str, name: str) -> float:
    with urllib.request.urlopen(url, timeout=10) as r:
        return value(parse_prometheus(r.read().decode())[1], name)


def test_a_non_blocking_job_resumes_after_a_head_kill_and_keeps_finished_results(fresh_cluster):
    cluster = fresh_cluster(workers=2)
    done = cluster.exec(fixtures.square, each(range(5)), wait=False)
    assert done.result(timeout=60) == [0, 1, 4, 9, 16]
    running = cluster.exec(fixtures.sleep_then, 0.2, each(range(20)), chunk_size=1, wait=False)
    queued = cluster.exec(fixtures.square, each(range(3)), priority=-1, wait=False)
    _wait_until(lambda: running.progress().done >= 2, 30)
    cluster.kill("head", signal.SIGKILL)
    box = {}
    waiter = threading.Thread(target=lambda: box.setdefault("r", running.result(timeout=120)))
    waiter.start()
    time.sleep(0.5)
    cluster.start_head()
    waiter.join(150)
    assert box.get("r") == list(range(20))
    assert queued.result(timeout=60) == [0, 1, 4]
    assert done.result() == [0, 1, 4, 9, 16]
    _wait_until(lambda: sum(w.state == "connected" for w in cluster.workers()) == 2, 30)


def test_an_unpicklable_function_or_argument_is_refused_before_submit(cluster2):
    before = len(cluster2.jobs())
    lock = threading.Lock()
    with pytest.raises(rxgrid.SerializationError, match="cannot be pickled"):
        cluster2.exec(fixtures.add, lock, 1)
    with pytest.raises(rxgrid.SerializationError, match="function"):
        cluster2.exec(lambda: lock, times=2)
    assert len(cluster2.jobs()) == before


def test_a_function_whose_module_is_missing_on_the_worker_names_it(cluster2, tmp_path, monkeypatch):
    module = tmp_path / "only_here_mod.py"
    module.write_text("def f(x):\n    return x + 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    from rxgrid.runtime import serialize as _serialize
    mod = importlib.import_module("only_here_mod")
    # As if installed on this machine only: it travels by reference, not by value.
    monkeypatch.setattr(_serialize, "_travels_by_value", lambda m: False)
    result = cluster2.exec(mod.f, 1)
    assert isinstance(result[0], rxgrid.TaskFailure)
    assert "only_here_mod" in result[0].message and "packages=" in result[0].message
    assert cluster2.exec(fixtures.square, 3) == [9]


def test_results_of_a_cancelled_job_are_refused_clearly(cluster2):
    job = cluster2.exec(fixtures.sleep_then, 20, wait=False)
    job.cancel()
    with pytest.raises(rxgrid.JobCancelledError, match="partial=True"):
        job.result()
    assert job.result(partial=True) == [None]


@pytest.fixture
def tiny_disk(tmp_path):
    mount = tmp_path / "tiny"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_state_dir_refuses_new_work_and_keeps_what_it_has(tiny_disk):
    with rxgrid.local(workers=1, state_dir=str(tiny_disk / "state")) as cluster:
        kept = cluster.exec(fixtures.square, each(range(4)), wait=False)
        assert kept.result(timeout=60) == [0, 1, 4, 9]
        with pytest.raises(rxgrid.HeadStorageError, match="Free disk space"):
            cluster.exec(fixtures.array_sum, np.random.default_rng(0).random(1_000_000), 1)
        refused = None
        for i in range(40):  # 240 kB arguments, each inline with its submit, until the disk is full
            try:
                cluster.exec(fixtures.array_sum, np.random.default_rng(i).random(30_000), 1)
            except rxgrid.HeadStorageError as exc:
                refused = exc
                break
        assert refused is not None and "state dir" in str(refused)
        assert cluster.job(kept.id).result() == [0, 1, 4, 9]
        db = os.path.join(cluster.state_dir, "rxgrid.sqlite3")
        assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_per_node_task_waiting_for_a_worker_that_never_returns_fails_instead_of_hanging(
        fresh_cluster):
    cluster = fresh_cluster(workers=2, lease_timeout=2.0)
    first = cluster.exec(fixtures.sleep_then, 60, per_node=True, wait=False)
    _wait_until(lambda: sum(w.busy for w in cluster.workers()) == 2, 30)
    # Queued behind `first` on each worker: its chunk for local-1 waits for local-1.
    second = cluster.exec(fixtures.where_am_i, per_node=True, wait=False)
    cluster.kill("local-1")
    _wait_until(lambda: second.progress().failed == 1, 30)  # after lease_timeout, not never
    first.cancel()  # frees local-0 for second's other chunk
    results = second.result(timeout=60)
    assert results["local-0"][0] == "local-0"
    lost = results["local-1"]
    assert isinstance(lost, rxgrid.TaskFailure) and lost.type == "WorkerLostError"
    assert "did not come back" in lost.message


def test_a_blocking_exec_whose_results_exceed_half_the_message_limit_streams_them(fresh_cluster):
    port = free_port()
    cluster = fresh_cluster(workers=2, dashboard=f"127.0.0.1:{port}")
    metrics = f"http://127.0.0.1:{port}/metrics"
    assert cluster.exec(fixtures.filled_bytes, each(range(4)), 10, progress=False) == [
        bytes([i]) * 10 for i in range(4)]
    assert _metric(metrics, "rxgrid_blocking_results_streamed_total") == 0
    # 40 one-task chunks of 1,000,000 bytes: each chunk's results stay inline in its report
    # (under the worker's 1 MiB limit, so no blob file), 40 MB in all: over half of the
    # 64 MiB message limit, so the head replies without them and the client streams them.
    size = 1_000_000
    results = cluster.exec(fixtures.filled_bytes, each(range(40)), size, chunk_size=1,
                           progress=False)
    assert len(results) == 40 and all(r == bytes([i]) * size for i, r in enumerate(results))
    assert _metric(metrics, "rxgrid_blocking_results_streamed_total") == 1
    info = cluster.last_job.info()
    assert (info.state, info.tasks_done, info.collected) == ("finished", 40, True)


def test_a_head_that_dies_between_reply_and_commit_runs_the_job_again_with_nobody_waiting(
        fresh_cluster, tmp_path, monkeypatch):
    # The head reads this test-only variable at start: it holds a blocking job's last
    # result uncommitted and SIGKILLs itself once the reply carrying it is written.
    monkeypatch.setenv("RXGRID_TEST_KILL_HEAD_BEFORE_COMMIT", "1")
    cluster = fresh_cluster(workers=1)
    monkeypatch.delenv("RXGRID_TEST_KILL_HEAD_BEFORE_COMMIT")
    starts, gate = tmp_path / "starts.txt", tmp_path / "gate"
    box = {}
    runner = threading.Thread(target=lambda: box.setdefault("r", cluster.exec(
        fixtures.gated_record, str(starts), each(["a", "b", "c"]), str(gate), chunk_size=3,
        progress=False)))
    runner.start()
    try:
        # Release the tasks only once the job is stored (ListJobs reads the database), so
        # that a restarted head knows it.
        _wait_until(lambda: len(cluster.jobs()) == 1 and starts.exists(), 60)
        job_id = cluster.jobs()[0].id
    finally:
        gate.touch()  # a failure above must not leave the runner (and the teardown) blocked
        runner.join(120)
    assert box.get("r") == ["a", "b", "c"]  # the client has every result ...
    assert cluster._procs["head"].wait(60) == -signal.SIGKILL  # ... from a head now dead
    cluster.start_head()
    job = cluster.job(job_id)
    assert job.result(timeout=120) == ["a", "b", "c"]
    assert job.status() == "finished"
    assert starts.read_text().split() == ["a", "b", "c", "a", "b", "c"]  # the work ran again
