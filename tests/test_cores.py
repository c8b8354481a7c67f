"""``cores=``: a task that holds several slots of one worker, and Numba's threads in it.

Real processes: a head and one worker with 2 slots (its 2 executor processes), the
tasks asking Numba how many threads they have.
"""

from __future__ import annotations

import json

import pytest

import rxgrid
from rxgrid import each
from tests import fixtures


@pytest.fixture(scope="module")
def two_slot_worker():
    with rxgrid.local(workers=1, cores_per_worker=2) as cluster:
        yield cluster


def test_a_two_core_task_runs_two_numba_threads_and_the_next_one_core_task_one(two_slot_worker):
    ones = two_slot_worker.exec(fixtures.numba_threads, each(range(4)), chunk_size=1)
    assert [threads for threads, _ in ones] == [1, 1, 1, 1]  # the first import: one thread
    wide = two_slot_worker.exec(fixtures.numba_threads, each(range(3)), chunk_size=1, cores=2)
    assert [threads for threads, _ in wide] == [2, 2, 2]
    after = two_slot_worker.exec(fixtures.numba_threads, each(range(4)), chunk_size=1)
    assert [threads for threads, _ in after] == [1, 1, 1, 1]
    executors = {pid for _, pid in wide}
    assert executors & {pid for _, pid in after}, "the executors that ran cores=2 ran these too"


def test_a_two_core_chunk_holds_both_slots_of_its_worker(two_slot_worker, tmp_path):
    log, gate = tmp_path / "log", tmp_path / "gate"
    wide = two_slot_worker.exec(fixtures.gated_record, str(log), "wide", str(gate), cores=2,
                                wait=False)
    from tests.test_cluster import _wait_until
    _wait_until(lambda: log.exists(), 60)
    narrow = two_slot_worker.exec(fixtures.square, 3, wait=False)
    assert [w.busy for w in two_slot_worker.workers()] == [2]
    with pytest.raises(rxgrid.ResultTimeout):
        narrow.wait(timeout=1.5)  # no slot is free while the wide chunk runs
    gate.touch()
    assert wide.result(timeout=60) == ["wide"] and narrow.result(timeout=60) == [9]


def test_more_cores_than_any_worker_has_is_refused_at_submit(two_slot_worker):
    before = len(two_slot_worker.jobs())
    with pytest.raises(rxgrid.InvalidArgumentError, match="cores=3.*largest worker has 2 slots"):
        two_slot_worker.exec(fixtures.square, 2, cores=3)
    assert len(two_slot_worker.jobs()) == before


def test_the_mandelbrot_kernel_runs_on_the_threads_it_is_given(two_slot_worker):
    from rxgrid.kernels import mandelbrot_grid
    grid = two_slot_worker.exec(fixtures.mandelbrot_threads, cores=2)[0]
    x, y = [-2.0, -1.0, 0.0, 0.25], [-1.0, 0.0, 1.0]
    assert grid[0] == 2 and grid[1] == mandelbrot_grid(x, y, 50).tolist()


def test_cores_is_checked_where_the_job_is_made():
    with pytest.raises(rxgrid.InvalidArgumentError, match="cores"):
        rxgrid.JobOptions(cores=0)
    with pytest.raises(rxgrid.InvalidArgumentError, match="cores=2.*executor"):
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(1) as pool:
            rxgrid.from_executor(pool).exec(fixtures.square, 2, cores=2)


def test_grpcurl_runs_a_mandelbrot_kernel_on_two_cores_and_is_refused_three(two_slot_worker):
    from tests.test_wire import grpcurl
    params = {"width": 12, "height": 6, "rows": 3, "max_iter": 50}
    kernel = {"name": "mandelbrot", "params": params}

    def job(cores: int) -> dict:
        return {"job": {"recipe": {"kernel": kernel, "cores": cores}, "num_tasks": 2, "chunk_size": 1}}

    out = grpcurl(two_slot_worker.address, "rxgrid.v1.Cluster/RunJob", data=job(2))
    assert out.returncode == 0, out.stderr
    outcome = json.loads(out.stdout)["outcome"]
    assert outcome["info"]["state"] == "JOB_STATE_FINISHED" and outcome["info"]["tasks_done"] == 2
    refused = grpcurl(two_slot_worker.address, "rxgrid.v1.Cluster/SubmitJob", data=job(3))
    assert "InvalidArgument" in refused.stderr and "largest worker has 2 slots" in refused.stderr
