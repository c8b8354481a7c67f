"""Behaviour only a real cluster has: durability across processes, priorities, cancel,
lost workers, shared blobs, timeouts and dying executors. Real processes, real ports."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
import time

import numpy as np
import pytest

import rxgrid
from rxgrid import each
from tests import fixtures
from tests.conftest import run_python


def test_a_job_outlives_the_process_that_submitted_it(cluster2):
    submit = run_python(f"""
import rxgrid
from tests import fixtures
cluster = rxgrid.connect({cluster2.address!r})
job = cluster.exec(fixtures.sleep_then, 0.3, rxgrid.each(range(6)), wait=False)
print(job.id)
""")
    assert submit.returncode == 0, submit.stderr
    job_id = submit.stdout.strip()
    read = run_python(f"""
import rxgrid
cluster = rxgrid.connect({cluster2.address!r})
print(cluster.job({job_id!r}).result(timeout=60))
""")
    assert read.returncode == 0, read.stderr
    assert read.stdout.strip() == str(list(range(6)))


def test_a_function_defined_in_a_script_runs_on_the_workers(cluster2):
    out = run_python(f"""
import rxgrid
OFFSET = 100
def helper(x):
    return x + OFFSET
def task(x):
    return helper(x) * 2
cluster = rxgrid.connect({cluster2.address!r})
print(cluster.exec(task, rxgrid.each([1, 2, 3])))
""")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[202, 204, 206]"


def test_higher_priority_runs_before_the_rest_of_a_lower_priority_job(fresh_cluster, tmp_path):
    # One slot, so the order tasks start in is exactly the order the head hands them out.
    cluster = fresh_cluster(workers=1)
    log, gate = tmp_path / "starts.txt", tmp_path / "gate"
    low = cluster.exec(fixtures.gated_record, str(log), each([f"low{i}" for i in range(4)]),
                       str(gate), chunk_size=1, wait=False)
    _wait_until(lambda: _count(log) >= 1, 60)  # the only slot is held by low0
    high = cluster.exec(fixtures.gated_record, str(log), each(["high0", "high1"]), str(gate),
                        chunk_size=1, priority=10, wait=False)
    gate.touch()
    low.wait(60), high.wait(60)
    order = log.read_text().split()
    assert order == ["low0", "high0", "high1", "low1", "low2", "low3"], order


def test_equal_priorities_run_in_submission_order(fresh_cluster, tmp_path):
    cluster = fresh_cluster(workers=1)
    log, gate = tmp_path / "starts.txt", tmp_path / "gate"
    blocker = cluster.exec(fixtures.gated_record, str(log), "blocker", str(gate), wait=False)
    _wait_until(lambda: _count(log) == 1, 60)  # the only slot is held by the blocker
    # (name, priority, tasks) in submission order; equal priorities interleave with others.
    plan = [("a", 0, 2), ("b", 0, 1), ("hi", 3, 2), ("c", 0, 2), ("lo", -2, 1), ("d", 0, 1),
            ("hi2", 3, 1), ("e", 0, 1)]
    jobs = [cluster.exec(fixtures.gated_record, str(log), each([f"{name}{i}" for i in range(n)]),
                         str(gate), priority=p, chunk_size=1, wait=False) for name, p, n in plan]
    _wait_until(lambda: all(j.status() == "queued" for j in jobs), 60)
    gate.touch()
    for job in (blocker, *jobs):
        job.wait(60)
    # Independent oracle: (-priority, submission order, task index).
    expected = [f"{name}{i}" for _, order, name, n in sorted(
        (-p, order, name, n) for order, (name, p, n) in enumerate(plan)) for i in range(n)]
    assert log.read_text().split() == ["blocker", *expected]


def test_cancel_stops_a_running_task_quickly_and_frees_the_slot(fresh_cluster, tmp_path):
    cluster = fresh_cluster(workers=1)
    pid_file = tmp_path / "pid"
    job = cluster.exec(fixtures.pid_then_sleep, str(pid_file), 3600, wait=False)
    _wait_until(lambda: pid_file.exists() and pid_file.read_text(), 60)
    pid = int(pid_file.read_text())
    assert job.cancel() is True
    # The executor running the hour-long task is killed (not left to finish) ...
    _wait_until(lambda: not _alive(pid), 60)
    # ... and the slot takes new work.
    assert cluster.exec(fixtures.square, 7) == [49]
    assert job.status() == "cancelled"
    with pytest.raises(rxgrid.JobCancelledError, match="cancelled"):
        job.result()
    assert job.cancel() is False


def test_a_killed_worker_daemon_loses_no_result(fresh_cluster):
    cluster = fresh_cluster(workers=2)
    job = cluster.exec(fixtures.sleep_then, 0.2, each(range(20)), chunk_size=2, wait=False)
    _wait_until(lambda: job.progress().done >= 2, 30)
    cluster.kill("local-1", signal.SIGKILL)
    assert job.result(timeout=90) == list(range(20))
    info = job.info()
    assert (info.tasks_done, info.tasks_failed) == (20, 0)


def test_a_shared_argument_crosses_the_wire_once_per_worker(fresh_cluster, monkeypatch):
    # Streamed, as between hosts: on one host a worker would link the head's file and
    # nothing would be counted, however often it was fetched.
    monkeypatch.setenv("RXGRID_LOCAL_BLOBS", "0")
    cluster = fresh_cluster(workers=2)
    matrix = np.random.default_rng(0).random((512, 512))  # 2 MB
    n = matrix.nbytes
    results = cluster.exec(fixtures.array_sum, matrix, each(range(400)), chunk_size=1)
    assert results == [matrix.sum() + i for i in range(400)]
    workers = cluster.workers()
    assert len(workers) == 2
    for worker in workers:
        assert worker.chunks_done >= 3, worker  # enough chunks that a re-fetch would show
        assert n <= worker.blob_bytes_sent < 2 * n, worker


def test_an_argument_larger_than_a_grpc_message_is_streamed(cluster2):
    big = np.ones(9_000_000)  # 72 MB: above the 64 MB message limit
    assert cluster2.exec(fixtures.array_sum, big, each([0, 1])) == [9_000_000.0, 9_000_001.0]


def test_a_task_over_its_timeout_fails_and_frees_the_slot(fresh_cluster):
    cluster = fresh_cluster(workers=1)
    results = cluster.exec(fixtures.sleep_then, each([0.0, 30.0, 0.0]), each(["a", "b", "c"]),
                           timeout=1.0, chunk_size=3)
    assert results[0] == "a" and results[2] == "c"
    assert isinstance(results[1], rxgrid.TaskFailure) and results[1].type == "TimeoutError"
    assert "timeout=1" in results[1].message


def test_an_executor_that_dies_is_replaced_and_the_task_failed(cluster1):
    results = cluster1.exec(_die_on_two, each(range(4)), chunk_size=4)
    assert [results[i] for i in (0, 1, 3)] == [0, 1, 3]
    assert isinstance(results[2], rxgrid.TaskFailure)
    assert results[2].type == "ExecutorDiedError" and "exit code 3" in results[2].message
    assert cluster1.exec(fixtures.square, 5) == [25]


def _die_on_two(x):
    import os
    if x == 2:
        os._exit(3)
    return x


def test_executor_interface_returns_real_futures(cluster2):
    with cluster2.executor() as pool:
        future = pool.submit(fixtures.add, 2, y=5)
        assert future.result(timeout=60) == 7
        assert list(pool.map(fixtures.square, range(10))) == [i * i for i in range(10)]
        failing = pool.submit(fixtures.fail_on, 3)
        with pytest.raises(ValueError, match="bad value 3"):
            failing.result(timeout=60)


def _check_a_pool_as_process_pool_executor_does(pool) -> None:
    """What a ``ProcessPoolExecutor`` does with a failing task and a map timeout."""
    with pytest.raises(ZeroDivisionError) as info:
        pool.submit(fixtures.divide, 1, 0).result(timeout=60)
    assert type(info.value) is ZeroDivisionError
    assert "return x / y" in str(info.value.__cause__)  # the remote traceback, chained
    results, ready = pool.map(time.sleep, [0, 0, 8], timeout=4), []
    with pytest.raises(TimeoutError):
        for value in results:
            ready.append(value)
    assert ready == [None, None]


def test_process_pool_executor_is_the_reference_for_the_cluster_executor():
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        _check_a_pool_as_process_pool_executor_does(pool)


def test_the_cluster_executor_fails_and_times_out_as_process_pool_executor_does(cluster2):
    before = {j.id for j in cluster2.jobs()}
    with cluster2.executor() as pool:
        _check_a_pool_as_process_pool_executor_does(pool)
        with pytest.raises(ZeroDivisionError) as info:
            pool.submit(fixtures.divide, 1, 0).result(timeout=60)
        assert isinstance(info.value.__cause__, rxgrid.errors.RemoteTraceback)
    # The timed-out map's job was cancelled (its sleeping task stopped) and removed.
    assert {j.id for j in cluster2.jobs()} == before


@pytest.mark.parametrize("name", ["NeedsArguments", "HoldsLock", "Final"])
def test_a_future_of_an_odd_exception_class_raises_it_or_a_clear_error(cluster2, name):
    with cluster2.executor() as pool, pytest.raises(fixtures.ODD_EXCEPTIONS[name]) as info:
        pool.submit(fixtures.raise_odd, name, 5).result(timeout=60)
    if name == "HoldsLock":  # did not pickle: a TaskError that is also a HoldsLock
        assert isinstance(info.value, rxgrid.TaskError) and "did not pickle" in str(info.value)
    else:
        assert not isinstance(info.value, rxgrid.TaskError)


def test_keep_jobs_keeps_every_submitted_job_on_the_head(cluster2):
    before = {j.id for j in cluster2.jobs()}
    with cluster2.executor(keep_jobs=True) as pool:
        assert [f.result(timeout=120) for f in [pool.submit(fixtures.square, i)
                                                for i in range(100)]] == [i * i for i in range(100)]
    kept = {j.id for j in cluster2.jobs()} - before
    assert len(kept) == 100
    cluster2.cleanup(list(kept))


def test_an_exception_class_defined_in_a_script_is_caught_by_the_script(cluster2):
    out = run_python(f"""
import rxgrid
class ScriptError(Exception):
    pass
def task(x):
    raise ScriptError(f"from the script {{x}}")
cluster = rxgrid.connect({cluster2.address!r})
with cluster.executor() as pool:
    try:
        pool.submit(task, 4).result(timeout=60)
    except ScriptError as exc:
        print("caught", type(exc) is ScriptError, exc)
try:
    cluster.exec(task, 5, continue_on_failure=False)
except ScriptError as exc:
    print("caught", isinstance(exc, rxgrid.JobFailedError))
""")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["caught True from the script 4", "caught True"]


def test_cleanup_keeps_unread_results_unless_forced(cluster2):
    job = cluster2.exec(fixtures.square, 3, wait=False)
    job.wait(60)
    assert cluster2.cleanup([job.id]) == []
    assert cluster2.job(job.id).status() == "finished"
    assert cluster2.cleanup([job.id], force=True) == [job.id]
    with pytest.raises(rxgrid.JobNotFoundError):
        cluster2.job(job.id)


def test_collected_results_can_be_cleaned_up_without_force(cluster2):
    job = cluster2.exec(fixtures.square, 3, wait=False)
    assert job.result(timeout=60) == [9]
    assert cluster2.cleanup(job) == [job.id]


def test_jobs_can_be_listed_by_time_range(cluster2):
    before = time.time()
    job = cluster2.exec(fixtures.square, 1, wait=False)
    job.wait(60)
    assert job.id in [j.id for j in cluster2.jobs(since=before)]
    assert job.id not in [j.id for j in cluster2.jobs(until=before)]


def test_a_blocking_exec_rides_through_a_head_restart(fresh_cluster):
    cluster = fresh_cluster(workers=2)
    box = {}
    thread = threading.Thread(target=lambda: box.setdefault("r", cluster.exec(
        fixtures.sleep_then, 0.25, each(range(16)), chunk_size=1)))
    thread.start()
    _wait_until(lambda: any(j.tasks_done >= 3 for j in cluster.jobs()), 30)
    cluster.kill("head", signal.SIGKILL)
    time.sleep(0.5)
    cluster.start_head()
    thread.join(120)
    assert box.get("r") == list(range(16))
    job = cluster.jobs()[-1]
    assert (job.state, job.tasks_done) == ("finished", 16)


def _count(path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def _alive(pid: int) -> bool:
    """True while ``pid`` runs: a zombie (``Z``) or a dead entry (``X``) has exited, and a
    process that exits between the open and the read makes the read fail with ESRCH."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return False


def _wait_until(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def test_auto_cleanup_removes_a_job_once_its_results_are_read(cluster2):
    before = cluster2.disk_usage().blobs
    assert cluster2.exec(fixtures.array_sum, np.ones(100_000), 1, auto_cleanup=True) == [100_001.0]
    with pytest.raises(rxgrid.JobNotFoundError):
        cluster2.job(cluster2.last_job.id)
    job = cluster2.exec(fixtures.square, 4, auto_cleanup=True, wait=False)
    job.wait(60)
    assert cluster2.job(job.id).status() == "finished"  # not read yet: kept
    assert job.result() == [16]
    with pytest.raises(rxgrid.JobNotFoundError):
        cluster2.job(job.id)
    assert cluster2.disk_usage().blobs <= before + 1  # the shared function blob may stay


def test_a_paused_result_stream_does_not_hide_newer_results(cluster2):
    """Found by the load benchmark: a half-read stream kept an old database snapshot."""
    import grpc

    from rxgrid._proto import rxgrid_pb2 as pb
    from rxgrid._proto import rxgrid_pb2_grpc as pb_grpc
    first = cluster2.exec(fixtures.square, each(range(300)), chunk_size=1, wait=False)
    first.wait(60)
    with grpc.insecure_channel(cluster2.address) as channel:
        paused = pb_grpc.ClusterStub(channel).GetResults(pb.GetResultsRequest(job_id=first.id))
        next(paused)  # one chunk read, the stream left open
        second = cluster2.exec(fixtures.square, each(range(8)), chunk_size=1, wait=False)
        assert second.result(timeout=60) == [i * i for i in range(8)]
        assert len(list(paused)) == 299


def test_blocking_execs_from_many_threads_share_one_connection(cluster2):
    # One thread at a time holds the standing ExecJobs stream; the others use RunJob.
    import concurrent.futures

    def run(k: int) -> list:
        return [cluster2.exec(fixtures.add, k, y=i) for i in range(15)]

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, range(4)))
    assert results == [[[k + i] for i in range(15)] for k in range(4)]


def test_a_refused_blocking_job_leaves_the_connection_usable(cluster2):
    job_id = f"refused-{time.time_ns()}"
    assert cluster2.exec(fixtures.square, 3, job_id=job_id) == [9]
    with pytest.raises(rxgrid.DuplicateJobError, match=job_id):
        cluster2.exec(fixtures.square, 4, job_id=job_id)
    assert cluster2.exec(fixtures.square, 5) == [25]
    assert cluster2.job(job_id).result() == [9]  # the first job's results are untouched


def test_a_finished_job_keeps_its_start_time(cluster2):
    cluster2.exec(fixtures.square, 3)
    info = cluster2.last_job.info()  # read back from the store: the job has retired
    assert info.state == "finished"
    assert 0 < info.submitted_at <= info.started_at <= info.finished_at


def test_a_large_argument_sent_again_after_a_cleanup_removed_it(cluster2):
    # The client remembers which blobs the head holds; a cleanup (here auto_cleanup) may
    # remove one since. The next job naming it must still run, not be refused.
    big = np.arange(100_000, dtype=np.float64)  # 800 kB: uploaded, not inlined
    expected = [float(big.sum()) + 1]
    assert cluster2.exec(fixtures.array_sum, big, 1, auto_cleanup=True) == expected
    assert cluster2.exec(fixtures.array_sum, big, 1) == expected
    first = cluster2.last_job.id
    second = cluster2.exec(fixtures.array_sum, big, 1, wait=False)
    assert second.result() == expected
    # Every job holding the blob is cleaned up: the head deletes it.
    assert sorted(cluster2.cleanup([first, second.id], force=True)) == sorted([first, second.id])
    assert cluster2.exec(fixtures.array_sum, big, 1) == expected


def _big_array() -> np.ndarray:
    return np.random.default_rng(7).random(400_000)  # 3.2 MB: uploaded, then fetched


def test_on_one_host_a_large_argument_travels_as_a_file_not_a_stream(fresh_cluster):
    # The client hands the blob to the head as a file in its inbox, each worker links the
    # head's file: no byte of it crosses gRPC, and the tasks see the same array.
    cluster = fresh_cluster(workers=2)
    big = _big_array()
    assert cluster.exec(fixtures.array_sum, big, each(range(6))) == [big.sum() + i for i in range(6)]
    # Only the small function blob rides along with the assignments.
    assert all(w.blob_bytes_sent < big.nbytes // 100 for w in cluster.workers())
    assert not os.listdir(os.path.join(cluster.state_dir, "inbox"))  # nothing left behind


def test_a_worker_on_another_file_system_copies_the_heads_file():
    # /dev/shm is a tmpfs: the worker's cache (in /tmp) cannot hard-link into it.
    state = tempfile.mkdtemp(prefix="rxgrid-shm-", dir="/dev/shm")
    try:
        cluster = rxgrid.local(workers=1, cores_per_worker=1, state_dir=state)
        with cluster:
            big = _big_array()
            assert cluster.exec(fixtures.array_sum, big, 1) == [big.sum() + 1]
            assert cluster.workers()[0].blob_bytes_sent < big.nbytes // 100
    finally:
        shutil.rmtree(state, ignore_errors=True)


def test_without_shared_files_large_arguments_are_streamed(fresh_cluster, monkeypatch):
    monkeypatch.setenv("RXGRID_LOCAL_BLOBS", "0")  # read by the worker daemons
    cluster = fresh_cluster(workers=2)
    cluster._inbox = "/nonexistent/inbox"  # as a client on another host sees it
    big = _big_array()
    assert cluster.exec(fixtures.array_sum, big, each(range(4))) == [big.sum() + i for i in range(4)]
    sent = [w.blob_bytes_sent for w in cluster.workers()]
    assert all(big.nbytes <= s < 2 * big.nbytes for s in sent), sent


def test_on_one_host_large_results_travel_as_files(fresh_cluster):
    # Results over 1 MB a chunk are blobs: the worker writes them into the head's inbox,
    # the client reads the head's file. Same values as the streamed way below.
    cluster = fresh_cluster(workers=2)
    values = cluster.exec(fixtures.zeros_plus, 300_000, each(range(6)), chunk_size=3)
    assert [float(v[0]) for v in values] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert all(v.shape == (300_000,) for v in values)
    stored = [f for d in os.listdir(os.path.join(cluster.state_dir, "blobs"))
              if len(d) == 2 for f in os.listdir(os.path.join(cluster.state_dir, "blobs", d))]
    assert len(stored) >= 2  # the two chunks' results, each a file in the head's store
    assert not os.listdir(os.path.join(cluster.state_dir, "inbox"))


def test_large_results_are_streamed_without_shared_files(fresh_cluster, monkeypatch):
    monkeypatch.setenv("RXGRID_LOCAL_BLOBS", "0")  # the workers and this client
    cluster = fresh_cluster(workers=2)
    values = cluster.exec(fixtures.zeros_plus, 300_000, each(range(6)), chunk_size=3)
    assert [float(v[0]) for v in values] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_a_job_right_after_local_starts_is_chunked_for_every_slot():
    """The client connects before the workers register; local() waits for them and must
    then know their slots, or its first jobs are laid out for one (6 chunks, not 14)."""
    from rxgrid.runtime.chunk_sizes import guided_sizes
    with rxgrid.local(workers=2, cores_per_worker=1) as cluster:
        assert cluster.exec(fixtures.square, each(range(1000)))[:3] == [0, 1, 4]
        assert cluster.last_job.info().chunks_total == len(guided_sizes(1000, 2)) == 14
