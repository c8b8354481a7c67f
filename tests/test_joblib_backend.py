"""The "rxgrid" joblib backend: joblib.Parallel and scikit-learn's n_jobs on a real cluster."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import joblib
import numpy as np
import pytest
from joblib import Parallel, delayed
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV
from sklearn.svm import SVC

import rxgrid
import rxgrid.joblib_backend  # noqa: F401 - registers the backend
from rxgrid.client import context as rxcontext
from rxgrid.client.executor_context import from_executor
from tests import fixtures
from tests.test_cluster import _alive, _wait_until


def triple_if_even(i: int) -> int:
    if i == 13:
        raise KeyError("thirteen")
    return 3 * i


@pytest.fixture(scope="module")
def cluster():
    with rxgrid.local(workers=2, cores_per_worker=1) as cluster:
        yield cluster


def _grid_search(n_jobs):
    X, y = load_iris(return_X_y=True)
    grid = {"C": [0.1, 1.0], "gamma": [0.1, 1.0]}
    return GridSearchCV(SVC(), grid, cv=3, n_jobs=n_jobs).fit(X, y)


def _chunks_done(cluster) -> int:
    return sum(w.chunks_done for w in cluster.workers())


def test_grid_search_on_the_cluster_equals_the_local_fit(cluster):
    local = _grid_search(None)  # joblib's default backend, in this process
    before = _chunks_done(cluster)
    with joblib.parallel_backend("rxgrid", cluster=cluster):
        remote = _grid_search(-1)
    assert remote.best_params_ == local.best_params_
    np.testing.assert_array_equal(remote.cv_results_["mean_test_score"],
                                  local.cv_results_["mean_test_score"])
    assert _chunks_done(cluster) - before >= 2, "the 12 fits must have run on the workers"


def test_parallel_runs_calls_on_the_cluster_in_order(cluster):
    before = _chunks_done(cluster)
    with joblib.parallel_backend("rxgrid", cluster=cluster):
        out = Parallel(n_jobs=2)(delayed(fixtures.square)(i) for i in range(50))
    assert _chunks_done(cluster) > before
    with joblib.parallel_backend("rxgrid", cluster=cluster):
        where = Parallel(n_jobs=2)(delayed(fixtures.where_am_i)() for _ in range(4))
    assert out == [i * i for i in range(50)]
    assert {name for name, _ in where} <= {w.name for w in cluster.workers()}


def test_a_call_s_exception_comes_back_as_itself_with_the_worker_traceback(cluster):
    with joblib.parallel_backend("rxgrid", cluster=cluster), pytest.raises(KeyError) as info:
        Parallel(n_jobs=2)(delayed(triple_if_even)(i) for i in range(20))
    assert "thirteen" in str(info.value)
    assert "triple_if_even" in str(info.value.__cause__)


def test_n_jobs_minus_one_means_every_slot_of_the_context(cluster):
    backend = rxgrid.joblib_backend.RxgridBackend(cluster=cluster)
    assert backend.effective_n_jobs(-1) == 2 and backend.effective_n_jobs(-2) == 1
    assert backend.effective_n_jobs(5) == 5
    with pytest.raises(ValueError):
        backend.effective_n_jobs(0)


def test_executor_context_and_current_context_as_backends():
    ctx = from_executor(ThreadPoolExecutor(2), shutdown_on_close=True)
    with ctx, joblib.parallel_backend("rxgrid", cluster=ctx):
        assert Parallel()(delayed(fixtures.add)(i, y=1) for i in range(30)) == list(range(1, 31))
    assert ctx.jobs() == []  # batch jobs are auto-cleaned once read
    with rxcontext.use_context(rxgrid.local_sequential()), joblib.parallel_backend("rxgrid"):
        assert Parallel()(delayed(fixtures.square)(i) for i in range(5)) == [0, 1, 4, 9, 16]


def test_an_aborted_parallel_cancels_the_batches_left(cluster, tmp_path):
    with joblib.parallel_backend("rxgrid", cluster=cluster), pytest.raises(KeyError):
        Parallel(n_jobs=2, batch_size=1)(
            delayed(triple_if_even)(13) if i == 0
            else delayed(fixtures.pid_then_sleep)(str(tmp_path / f"pid{i}"), 3600.0)
            for i in range(12))
    # Parallel raised without waiting for the hour-long calls: the batches left are
    # cancelled, so every slot is free again and the executors that had started one exit.
    _wait_until(lambda: not any(w.busy for w in cluster.workers()), 120)
    pids = [int(p.read_text()) for p in tmp_path.glob("pid*") if p.read_text()]
    _wait_until(lambda: not any(_alive(pid) for pid in pids), 120)
