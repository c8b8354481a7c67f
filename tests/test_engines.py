"""rxgrid on the Ray and Dask clusters a team already runs: ``from_dask`` and ``from_ray``.

The job API contract of ``tests/test_contract.py`` runs again on a real Dask cluster
(two worker processes) and a real local Ray (2 CPUs): the test functions are imported and
this module's ``ctx`` fixture gives them these contexts. Ray is an extra (``[ray]``) and
slow to start, so its tests carry the ``ray`` marker, which the default run deselects:
``python -m pytest -m ray tests/test_engines.py`` runs them (README, "Tests").
"""

from __future__ import annotations

import time

import distributed
import pytest

import rxgrid
from rxgrid import each
from rxgrid.client.engines import DaskContext, RayContext, from_dask, from_ray
from tests import fixtures
from tests.test_cluster import _alive, _wait_until
from tests.test_contract import *  # noqa: F403 - the contract tests, re-run on these engines

ENGINES = ["dask", pytest.param("ray", marks=pytest.mark.ray)]


@pytest.fixture(scope="module")
def dask_client():
    # Worker processes: seeded `random` draws reproduce there (see rxgrid.client.engines).
    # Each declares the resource 'CPU' that cores= asks for.
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  resources={"CPU": 2}, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def dask_ctx(dask_client):
    return from_dask(dask_client)


@pytest.fixture(scope="module")
def ray_ctx():
    pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]'")
    with from_ray(num_cpus=2, include_dashboard=False, object_store_memory=80 * 2**20,
                  log_to_driver=False) as ctx:
        yield ctx


@pytest.fixture(params=ENGINES)
def ctx(request):  # noqa: F811 - this module's contexts replace test_contract's
    return request.getfixturevalue(f"{request.param}_ctx")


@pytest.fixture(params=ENGINES)
def engine(request):
    return request.getfixturevalue(f"{request.param}_ctx")


@pytest.mark.parametrize("chunk_size", [1, 3, 100])
def test_seeded_streams_do_not_depend_on_chunking_or_context(ctx, chunk_size):
    # Replaces the contract test of that name (as tests/test_contexts.py does for Dask's
    # in-process workers): a Dask worker's event loop draws from the process-wide
    # ``random`` while tasks run, in worker processes too, so on Dask only the
    # task_rng() streams are promised. On Ray every draw reproduces.
    expected = rxgrid.local_sequential().exec(fixtures.draws, times=12, seed=42, chunk_size=12)
    got = ctx.exec(fixtures.draws, times=12, seed=42, chunk_size=chunk_size)
    if isinstance(ctx, DaskContext):
        task_rng_only = [0, 3, 4]  # draws(): task_rng, random, numpy.random, task_rng x2
        expected, got = ([[row[i] for i in task_rng_only] for row in rows] for rows in (expected, got))
    assert got == expected
    assert len({tuple(r) for r in got}) == 12, "every task must get its own stream"


# ------------------------------------------------------------------ what each engine maps
def test_a_timeout_is_refused_saying_why(engine):
    with pytest.raises(rxgrid.InvalidArgumentError, match="no per-task time limit"):
        engine.exec(fixtures.square, 2, timeout=5)


def test_dask_is_given_the_jobs_priority(dask_ctx, dask_client, tmp_path):
    # Dask orders by it what it still holds back; what already went to a worker may run
    # first (Dask's own rule), so the mapping is checked on the scheduler itself.
    job = dask_ctx.exec(fixtures.gated_record, str(tmp_path / "log"), each(["a", "b", "c"]),
                        str(tmp_path / "gate"), chunk_size=1, wait=False, priority=5)
    keys = [f.engine_task.key for f in job._futures]

    def on_scheduler():
        return dask_client.run_on_scheduler(
            lambda dask_scheduler: [getattr(dask_scheduler.tasks.get(k), "priority", None)
                                    for k in keys])
    _wait_until(lambda: None not in on_scheduler(), 30)  # submits reach it asynchronously
    priorities = on_scheduler()
    (tmp_path / "gate").touch()
    assert job.result(timeout=60) == ["a", "b", "c"]
    assert [p[0] for p in priorities] == [-5, -5, -5]  # Dask's key: (-priority, ...)


@pytest.mark.ray
def test_ray_refuses_priorities(ray_ctx):
    with pytest.raises(rxgrid.InvalidArgumentError, match="without priorities"):
        ray_ctx.exec(fixtures.square, 2, priority=3)


def test_cancel_drops_queued_chunks_and_stops_what_the_engine_can(engine, tmp_path):
    log, gate = tmp_path / "log.txt", tmp_path / "gate"
    job = engine.exec(fixtures.record_pid_then_wait, str(log), each([f"t{i}" for i in range(8)]),
                      str(gate), chunk_size=1, wait=False)
    _wait_until(lambda: log.exists() and len(log.read_text().splitlines()) >= 2, 60)
    assert job.cancel() is True and job.status() == "cancelled"
    with pytest.raises(rxgrid.JobCancelledError):
        job.result()
    running = {line.split()[0]: int(line.split()[1]) for line in log.read_text().splitlines()}
    time.sleep(1.0)
    gate.touch()
    time.sleep(1.0)
    lines = log.read_text().splitlines()
    assert len([line for line in lines if not line.endswith("ended")]) == len(running), \
        "no chunk may start after the cancel"
    if isinstance(engine, RayContext):  # ray.cancel(force=True) killed the running tasks
        assert not [line for line in lines if line.endswith("ended")]
        _wait_until(lambda: not any(_alive(pid) for pid in running.values()), 30)
    assert job.result(partial=True) == [None] * 8


def test_cores_map_to_the_engines_cpus_and_numba_threads(engine):
    wide = engine.exec(fixtures.numba_threads, each(range(2)), chunk_size=1, cores=2)
    assert [threads for threads, _ in wide] == [2, 2]
    assert [t for t, _ in engine.exec(fixtures.numba_threads, each(range(2)), chunk_size=1)] == [1, 1]
    with pytest.raises(rxgrid.InvalidArgumentError, match="cores=3"):
        engine.exec(fixtures.square, 1, cores=3)


def test_per_node_names_the_engines_workers(engine):
    names = [w.name for w in engine.workers()]
    assert names and sum(w.cores for w in engine.workers()) == 2
    assert sorted(engine.exec(fixtures.where_am_i, per_node=True)) == sorted(names)


def test_seeded_streams_reproduce_while_the_engine_works_beside_the_task(engine):
    expected = rxgrid.local_sequential().exec(fixtures.draws_across_a_pause, times=8, seed=3)
    got = engine.exec(fixtures.draws_across_a_pause, times=8, seed=3, chunk_size=1)
    if isinstance(engine, DaskContext):
        # A Dask worker's event loop draws from `random` itself (dask.sizeof's
        # random.sample, gather's random.choice) while a task runs: there only
        # task_rng() is the task's own (draws 0 and 3; see rxgrid.client.engines).
        got, expected = ([[r[0], r[3]] for r in rows] for rows in (got, expected))
    assert got == expected


def test_lin_mod_and_a_non_waiting_logit_equal_the_sequential_fits(engine, tmp_path):
    from rxgrid.analytics import make_airline
    make_airline(tmp_path / "air", rows=4_000, seed=5, block_rows=1_000)
    sequential = rxgrid.local_sequential()
    reference = sequential.lin_mod("ArrDelay ~ DayOfWeek", data=tmp_path / "air")
    fit = engine.lin_mod("ArrDelay ~ DayOfWeek", data=tmp_path / "air")
    assert list(fit.params) == pytest.approx(list(reference.params), rel=1e-12)
    job = engine.logit("Late ~ DayOfWeek", data=tmp_path / "air", wait=False)
    expected = sequential.logit("Late ~ DayOfWeek", data=tmp_path / "air")
    assert list(job.result(timeout=600).params) == pytest.approx(list(expected.params), rel=1e-10)


def test_from_dask_refuses_what_is_not_a_client():
    with pytest.raises(rxgrid.InvalidArgumentError, match="distributed.Client"):
        from_dask(42)
