"""Compute contexts over executors, and the current context (rxSetComputeContext).

The job API contract of ``tests/test_contract.py`` runs here again, against
``from_executor(ProcessPoolExecutor(2))``, ``from_executor(ThreadPoolExecutor(2))`` and a
Dask executor: the test functions are imported, and this module's ``ctx`` fixture (which
replaces the imported one) gives them these contexts only.
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest

import rxgrid
from rxgrid import each
from rxgrid.client import context as rxcontext
from rxgrid.client.executor_context import ExecutorContext, from_executor
from tests import fixtures
from tests.test_cluster import _wait_until
from tests.test_contract import *  # noqa: F403 - the contract tests, re-run on these contexts

try:
    import distributed
except ImportError:  # pragma: no cover - dask is an optional extra
    distributed = None

EXECUTORS = ["processes", "threads"] + (["dask"] if distributed is not None else [])


@pytest.fixture(scope="module")
def process_pool():
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool


@pytest.fixture(scope="module")
def thread_pool():
    with ThreadPoolExecutor(2) as pool:
        yield pool


@pytest.fixture(scope="module")
def dask_executor():
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        yield client.get_executor()


@pytest.fixture(params=EXECUTORS)
def ctx(request):  # noqa: F811 - this module's contexts replace test_contract's
    pools = {"processes": "process_pool", "threads": "thread_pool", "dask": "dask_executor"}
    return from_executor(request.getfixturevalue(pools[request.param]))


@pytest.fixture
def threads_ctx(thread_pool):
    return from_executor(thread_pool)


# ------------------------------------------------------------------ executor-only behaviour
@pytest.mark.parametrize("chunk_size", [1, 3, 100])
def test_seeded_streams_do_not_depend_on_chunking_or_context(ctx, chunk_size, request):
    # Replaces the contract test of that name. Dask's in-process workers draw from the
    # process-wide ``random`` themselves while tasks run (dask.sizeof, message compression),
    # so there only the per-thread task_rng() streams are promised (README: ``seed``).
    expected = rxgrid.local_sequential().exec(fixtures.draws, times=12, seed=42, chunk_size=12)
    got = ctx.exec(fixtures.draws, times=12, seed=42, chunk_size=chunk_size)
    if request.node.callspec.params["ctx"] == "dask":
        task_rng_only = [0, 3, 4]  # draws(): task_rng, random, numpy.random, task_rng x2
        expected = [[row[i] for i in task_rng_only] for row in expected]
        got = [[row[i] for i in task_rng_only] for row in got]
    assert got == expected
    assert len({tuple(r) for r in got}) == 12, "every task must get its own stream"


def test_a_closure_from_a_plain_pickle_executor_runs(process_pool):
    offset = 100
    ctx = from_executor(process_pool)
    assert ctx.exec(lambda x: x + offset, each(range(5)), chunk_size=2) == [100, 101, 102, 103, 104]


def test_seeded_tasks_in_threads_draw_only_from_their_own_streams():
    # Tasks of a thread pool share one process: rxgrid.task_rng() is per thread, and a
    # seeded chunk holds the process-wide random / numpy.random states while it runs.
    expected = rxgrid.local_sequential().exec(fixtures.draws_across_a_pause, times=16, seed=5)
    with ThreadPoolExecutor(4) as pool:
        got = from_executor(pool).exec(fixtures.draws_across_a_pause, times=16, seed=5, chunk_size=1)
    assert got == expected


def test_chunks_are_sized_for_the_executor_slots(threads_ctx):
    job = threads_ctx.exec(fixtures.square, each(range(80)), wait=False)
    job.wait(30)
    from rxgrid.runtime.chunk_sizes import guided_sizes
    # guided chunks for 2 slots: large first, small at the end
    assert job.info().chunks_total == len(guided_sizes(80, 2))
    assert threads_ctx.workers()[0].cores == 2


def test_cancel_drops_chunks_not_started_and_keeps_what_ran(tmp_path):
    ctx = from_executor(ThreadPoolExecutor(1))
    log, gate = tmp_path / "starts.txt", tmp_path / "gate"
    job = ctx.exec(fixtures.gated_record, str(log), each([f"t{i}" for i in range(20)]), str(gate),
                   chunk_size=1, wait=False)
    _wait_until(lambda: log.exists() and log.read_text(), 60)  # t0 runs, held by the gate
    assert job.status() == "running"
    assert job.cancel() is True and job.status() == "cancelled"
    with pytest.raises(rxgrid.JobCancelledError):
        job.result()
    gate.touch()
    ctx.executor().shutdown(wait=True)  # the chunk that was running finishes
    assert job.result(partial=True) == ["t0"] + [None] * 19
    assert log.read_text().split() == ["t0"]  # no chunk started after the cancel
    assert job.cancel() is False


def test_wait_timeout_and_result_now_while_running(threads_ctx):
    job = threads_ctx.exec(fixtures.sleep_then, 0.5, 1, times=2, wait=False)
    with pytest.raises(rxgrid.ResultTimeout, match="still running"):
        job.wait(timeout=0.05)
    with pytest.raises(rxgrid.JobNotFinishedError, match="of 2 tasks done"):
        job.result_now()
    assert not job.done()
    assert job.result(timeout=10) == [1, 1] and job.done() and job.result_now() == [1, 1]


def test_stop_on_failure_cancels_the_chunks_still_queued():
    ctx = from_executor(ThreadPoolExecutor(1))
    with pytest.raises(rxgrid.JobFailedError):
        ctx.exec(fixtures.fail_on, each(range(40)), bad=0, chunk_size=1, continue_on_failure=False)
    info = ctx.last_job.info()
    assert info.state == "failed" and info.chunks_done < 40
    ctx.executor().shutdown()


def test_cleanup_keeps_uncollected_results_unless_forced(threads_ctx):
    kept = threads_ctx.exec(fixtures.square, 2, wait=False)
    kept.wait(10)
    read = threads_ctx.exec(fixtures.square, 3, wait=False)
    read.result()
    assert threads_ctx.cleanup() == [read.id]
    assert threads_ctx.cleanup(kept, force=True) == [kept.id]
    assert threads_ctx.jobs() == []


def test_auto_cleanup_forgets_a_job_once_read(threads_ctx):
    assert threads_ctx.exec(fixtures.square, 5, auto_cleanup=True) == [25]
    with pytest.raises(rxgrid.JobNotFoundError):
        threads_ctx.job(threads_ctx.last_job.id)


def test_a_broken_process_pool_fails_the_tasks_of_its_chunks():
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = from_executor(pool).exec(fixtures.die_hard, times=2, chunk_size=1)
    assert all(isinstance(r, rxgrid.TaskFailure) and r.type == "BrokenProcessPool" for r in results)


def test_an_unpicklable_argument_is_refused_before_anything_runs(threads_ctx):
    with pytest.raises(rxgrid.SerializationError, match="arguments"):
        threads_ctx.exec(fixtures.add, threading.Lock())


def test_lin_mod_over_an_executor_equals_the_sequential_fit(threads_ctx, tmp_path):
    from rxgrid.analytics import make_airline
    make_airline(tmp_path / "air", rows=4_000, seed=5, block_rows=1_000)
    reference = rxgrid.local_sequential().lin_mod("ArrDelay ~ DayOfWeek", data=tmp_path / "air")
    fit = threads_ctx.lin_mod("ArrDelay ~ DayOfWeek", data=tmp_path / "air")
    assert list(fit.params) == pytest.approx(list(reference.params), rel=1e-12)
    job = threads_ctx.lin_mod("ArrDelay ~ DayOfWeek", data=tmp_path / "air", wait=False)
    assert list(job.result(timeout=30).params) == pytest.approx(list(reference.params), rel=1e-12)
    assert job.info().single_result


def test_from_executor_refuses_what_is_not_an_executor():
    with pytest.raises(rxgrid.InvalidArgumentError, match="Executor"):
        from_executor([1, 2])


# ------------------------------------------------------------------ the current context
@pytest.fixture
def restore_context():
    previous = rxcontext.set_context(None)
    yield
    rxcontext.set_context(previous)


def test_the_default_context_is_local_sequential(restore_context):
    assert isinstance(rxcontext.get_context(), rxgrid.SequentialCluster)
    assert rxcontext.get_context() is rxcontext.get_context()
    assert rxcontext.exec(fixtures.square, each(range(4))) == [0, 1, 4, 9]


def test_set_context_routes_exec_and_returns_the_previous_one(restore_context, threads_ctx):
    default = rxcontext.get_context()
    assert rxcontext.set_context(threads_ctx) is default
    assert rxcontext.exec(fixtures.where_am_i, per_node=True).keys() == {threads_ctx.name}
    job = rxcontext.exec(fixtures.draws, times=6, seed=9, wait=False)
    assert threads_ctx.last_job is job and default.last_job is None
    assert job.result() == rxgrid.local_sequential().exec(fixtures.draws, times=6, seed=9)


def test_use_context_switches_for_the_block_only_even_on_error(restore_context, threads_ctx):
    outer = rxcontext.get_context()
    with rxcontext.use_context(threads_ctx) as inside:
        assert inside is threads_ctx and rxcontext.get_context() is threads_ctx
        with pytest.raises(ZeroDivisionError), rxcontext.use_context(rxgrid.local_sequential()):
            assert isinstance(rxcontext.get_context(), rxgrid.SequentialCluster)
            1 / 0  # noqa: B018
        assert rxcontext.get_context() is threads_ctx
    assert rxcontext.get_context() is outer


def test_module_exec_takes_objects_by_name_from_its_caller(restore_context, threads_ctx):
    MULTIPLIER = 7  # noqa: N806,F841 - read through objects=
    with rxcontext.use_context(threads_ctx):
        assert rxcontext.exec(fixtures.uses_global, times=2, objects=["MULTIPLIER"]) == [14, 14]
    with pytest.raises(rxgrid.InvalidArgumentError, match="NOT_DEFINED"):
        rxcontext.exec(fixtures.uses_global, objects=["NOT_DEFINED"])


def test_a_context_must_have_exec(restore_context):
    with pytest.raises(rxgrid.InvalidArgumentError, match="compute context"):
        rxcontext.set_context("local")
    with pytest.raises(rxgrid.InvalidArgumentError), rxcontext.use_context(42):
        pass


def test_module_analytics_forward_to_the_current_context(restore_context, tmp_path):
    from rxgrid.analytics import make_airline
    make_airline(tmp_path / "air", rows=2_000, seed=1, block_rows=500)
    ctx = from_executor(ThreadPoolExecutor(2), shutdown_on_close=True)
    with ctx, rxcontext.use_context(ctx):
        fit = rxcontext.logit("Late ~ DayOfWeek", data=tmp_path / "air")
        assert ctx.last_job is not None and ctx.jobs(state="finished")
        centres = rxcontext.kmeans("~ CRSDepTime + Distance", data=tmp_path / "air", centers=2, seed=1)
    sequential = rxgrid.local_sequential()
    reference = sequential.logit("Late ~ DayOfWeek", data=tmp_path / "air")
    assert list(fit.params) == pytest.approx(list(reference.params), rel=1e-10)
    assert fit.n_used == reference.n_used and fit.iterations == reference.iterations
    expected = sequential.kmeans("~ CRSDepTime + Distance", data=tmp_path / "air", centers=2, seed=1)
    assert centres.centers.shape == (2, 2)
    np.testing.assert_allclose(centres.centers, expected.centers, rtol=1e-12)
    assert list(centres.sizes) == list(expected.sizes) and sum(centres.sizes) == centres.n_used
    assert centres.inertia == pytest.approx(expected.inertia, rel=1e-12)


def test_executor_context_is_exported_for_isinstance_checks(threads_ctx):
    assert isinstance(threads_ctx, ExecutorContext)
