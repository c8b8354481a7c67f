"""The job API contract, run against every way of running a job.

The same tests run on ``local_sequential()``, ``local(workers=1)`` and
``local(workers=2)``: results, order, seeds and errors must not depend on which.
"""

from __future__ import annotations

import contextlib
import os
import time
import traceback

import numpy as np
import pytest

import rxgrid
from rxgrid import each
from tests import fixtures

CONTEXTS = ["sequential", "local1", "local2"]


@pytest.fixture(params=CONTEXTS)
def ctx(request):
    if request.param == "sequential":
        return rxgrid.local_sequential()
    return request.getfixturevalue("cluster1" if request.param == "local1" else "cluster2")


def test_results_come_back_in_task_order(ctx):
    assert ctx.exec(fixtures.square, each(range(50)), chunk_size=7) == [i * i for i in range(50)]


def test_times_runs_the_function_that_many_times(ctx):
    assert ctx.exec(fixtures.add, 2, y=3, times=5) == [5] * 5


def test_several_each_arguments_zip_and_common_ones_repeat(ctx):
    assert ctx.exec(fixtures.add, each([1, 2, 3]), y=each([10, 20, 30])) == [11, 22, 33]


def test_a_single_call_without_times_runs_once(ctx):
    assert ctx.exec(fixtures.square, 9) == [81]


@pytest.mark.parametrize("chunk_size", [1, 3, 100])
def test_seeded_streams_do_not_depend_on_chunking_or_context(ctx, chunk_size):
    expected = rxgrid.local_sequential().exec(fixtures.draws, times=12, seed=42, chunk_size=12)
    got = ctx.exec(fixtures.draws, times=12, seed=42, chunk_size=chunk_size)
    assert got == expected
    assert len({tuple(r) for r in got}) == 12, "every task must get its own stream"


def _runs(folder) -> dict[int, int]:
    """How many times flaky_draw ran for each x, from the files it left in ``folder``."""
    counts: dict[int, int] = {}
    for name in os.listdir(folder):
        x = int(name.split("-")[0])
        counts[x] = counts.get(x, 0) + 1
    return counts


def test_a_task_that_raises_is_retried_on_its_own_stream(ctx, tmp_path):
    first, flaky = tmp_path / "first", tmp_path / "flaky"
    first.mkdir()
    flaky.mkdir()
    expected = rxgrid.local_sequential().exec(fixtures.flaky_draw, str(first), 0, each(range(5)), seed=9)
    got = ctx.exec(fixtures.flaky_draw, str(flaky), 2, each(range(5)), seed=9, retries=2, chunk_size=2)
    assert got == expected  # what a first run draws, though each task raised twice before
    assert _runs(flaky) == {x: 3 for x in range(5)}


def test_a_task_that_keeps_raising_reports_its_last_exception_and_its_attempts(ctx, tmp_path):
    failure = ctx.exec(fixtures.flaky_draw, str(tmp_path), 10, 0, retries=2)[0]
    assert isinstance(failure, rxgrid.TaskFailure) and failure.type == "ValueError"
    assert failure.message == "run 3 of 0 fails (failed on all 3 attempts, retries=2)"
    assert "failed on all 3 attempts" in failure.traceback and _runs(tmp_path) == {0: 3}
    assert isinstance(failure.original_exception(), ValueError)


def test_without_retries_a_task_runs_once(ctx, tmp_path):
    failure = ctx.exec(fixtures.flaky_draw, str(tmp_path), 1, 7)[0]
    assert failure.message == "run 1 of 7 fails" and _runs(tmp_path) == {7: 1}
    with pytest.raises(rxgrid.InvalidArgumentError, match="retries must be a whole number"):
        ctx.exec(fixtures.flaky_draw, str(tmp_path), 1, 7, retries=-1)


def test_a_different_seed_gives_different_numbers(ctx):
    assert ctx.exec(fixtures.draws, times=3, seed=1) != ctx.exec(fixtures.draws, times=3, seed=2)


def test_non_blocking_job_reports_status_progress_and_results(ctx):
    job = ctx.exec(fixtures.square, each(range(20)), wait=False)
    assert isinstance(job.id, str) and job.id
    info = job.wait(timeout=60)
    assert info.state == "finished" and job.status() == "finished"
    assert tuple(job.progress()) == (20, 0, 20)
    assert job.result() == [i * i for i in range(20)]
    assert ctx.last_job.id == job.id
    assert ctx.job(job.id).result() == [i * i for i in range(20)]


def test_a_failing_task_keeps_its_place_and_its_traceback(ctx):
    results = ctx.exec(fixtures.fail_on, each(range(6)), chunk_size=2)
    failure = results[3]
    assert isinstance(failure, rxgrid.TaskFailure)
    assert (failure.type, failure.message) == ("ValueError", "bad value 3")
    assert "fail_on" in failure.traceback and "raise ValueError" in failure.traceback
    assert [r for i, r in enumerate(results) if i != 3] == [0, 1, 2, 4, 5]
    errors = ctx.last_job.errors()
    assert list(errors) == [3] and errors[3].type == "ValueError"


def test_stop_at_first_failure_fails_the_job_with_the_remote_traceback(ctx):
    with pytest.raises(rxgrid.JobFailedError) as info:
        ctx.exec(fixtures.fail_on, each(range(6)), chunk_size=6, continue_on_failure=False)
    assert "bad value 3" in str(info.value)
    assert "raise ValueError" in str(info.value.__cause__)
    assert info.value.errors[3].type == "ValueError"


def test_objects_become_globals_of_the_function(ctx):
    assert ctx.exec(fixtures.uses_global, times=2, objects={"MULTIPLIER": 21}) == [42, 42]


def test_objects_by_name_are_taken_from_the_caller(ctx):
    MULTIPLIER = 5  # noqa: N806,F841 - read through objects=
    assert ctx.exec(fixtures.uses_global, objects=["MULTIPLIER"]) == [10]


def test_packages_are_imported_first_and_a_missing_one_is_named(ctx):
    assert ctx.exec(fixtures.square, 4, packages=["json"]) == [16]
    result = ctx.exec(fixtures.square, 4, packages=["no_such_module_xyz"]) \
        if not isinstance(ctx, rxgrid.SequentialCluster) else None
    if result is not None:
        assert isinstance(result[0], rxgrid.TaskFailure)
        assert "no_such_module_xyz" in result[0].message and "packages=" in result[0].message
    else:
        with pytest.raises(ImportError, match="no_such_module_xyz"):
            ctx.exec(fixtures.square, 4, packages=["no_such_module_xyz"])


def test_per_node_runs_once_per_worker_keyed_by_name(ctx):
    result = ctx.exec(fixtures.where_am_i, per_node=True)
    names = sorted(w.name for w in ctx.workers())
    assert sorted(result) == names
    assert all(result[name][0] == name for name in names)


def test_a_job_id_can_be_chosen_and_a_duplicate_is_refused(ctx):
    job_id = f"chosen-{time.time_ns()}"
    assert ctx.exec(fixtures.square, 3, job_id=job_id) == [9]
    with pytest.raises(rxgrid.DuplicateJobError, match=job_id):
        ctx.exec(fixtures.square, 3, job_id=job_id)
    assert ctx.job(job_id).result() == [9]


def test_unknown_job_is_not_found(ctx):
    with pytest.raises(rxgrid.JobNotFoundError):
        ctx.job("no-such-job")


def test_jobs_are_listed_by_state(ctx):
    job = ctx.exec(fixtures.square, 2, wait=False)
    job.wait(60)
    assert job.id in [j.id for j in ctx.jobs(state="finished")]
    assert job.id not in [j.id for j in ctx.jobs(state="failed")]


@pytest.mark.parametrize("kwargs, message", [
    ({"times": 0}, "times"), ({"times": -3}, "times"), ({"chunk_size": 0}, "chunk_size"),
    ({"job_id": "bad id!"}, "not valid"), ({"seed": -1}, "seed"), ({"timeout": 0}, "timeout"),
])
def test_bad_arguments_are_refused_before_anything_runs(ctx, kwargs, message):
    with pytest.raises(rxgrid.InvalidArgumentError, match=message):
        ctx.exec(fixtures.square, 2, **kwargs)


def test_each_arguments_of_unequal_length_are_refused(ctx):
    with pytest.raises(rxgrid.InvalidArgumentError, match="same number of values"):
        ctx.exec(fixtures.add, each([1, 2]), y=each([1, 2, 3]))


def test_a_shared_numpy_argument_reaches_every_task(ctx):
    a = np.arange(1000.0)
    assert ctx.exec(fixtures.array_sum, a, each(range(4))) == [a.sum() + i for i in range(4)]


# ------------------------------------------------------------------ concurrent.futures contract
# What ProcessPoolExecutor does, every context's executor() and blocking exec do too: a
# task's own exception type reaches the caller (test_cluster checks ProcessPoolExecutor
# itself against the same expectations).

@contextlib.contextmanager
def _executor_of(ctx):
    """``ctx.executor()``, shut down after use unless the context runs on it (from_executor)."""
    pool = ctx.executor()
    try:
        yield pool
    finally:
        if not isinstance(ctx, rxgrid.ExecutorContext):
            pool.shutdown(wait=True)


def _shown(exc: BaseException) -> str:
    """Everything Python prints for ``exc``, its chained remote traceback included."""
    return "".join(traceback.format_exception(exc))


def test_a_future_raises_the_tasks_own_exception_showing_the_users_line(ctx):
    with _executor_of(ctx) as pool:
        future = pool.submit(fixtures.divide, 1, 0)
        with pytest.raises(ZeroDivisionError) as info:
            future.result(timeout=60)
    assert not isinstance(info.value, rxgrid.RxgridError)
    assert "return x / y" in _shown(info.value)


def test_except_catches_the_tasks_own_exception_from_map_after_the_results_before_it(ctx):
    with _executor_of(ctx) as pool:
        results = pool.map(fixtures.divide, [4, 1, 2], [2, 0, 1])
        assert next(results) == 2.0
        with pytest.raises(ZeroDivisionError):
            next(results)


def test_a_blocking_exec_stopped_by_a_failure_raises_the_tasks_type_and_job_failed_error(ctx):
    try:
        ctx.exec(fixtures.divide, 1, each([1, 0, 2]), chunk_size=3, continue_on_failure=False)
    except ZeroDivisionError as exc:
        assert isinstance(exc, rxgrid.JobFailedError)
        assert exc.errors[1].type == "ZeroDivisionError"
        assert "division by zero" in str(exc) and "return x / y" in str(exc.__cause__)
    else:
        pytest.fail("no exception")


@pytest.mark.parametrize("name", ["NeedsArguments", "HoldsLock"])
def test_an_odd_exception_class_still_reaches_the_caller_as_its_type(ctx, name):
    with pytest.raises(rxgrid.JobFailedError, match=f"raised {name}") as info:
        ctx.exec(fixtures.raise_odd, name, 7, continue_on_failure=False)
    assert isinstance(info.value, fixtures.ODD_EXCEPTIONS[name])
    own = info.value.errors[0].original_exception()
    if name == "NeedsArguments":  # rebuilt without calling its __init__
        assert type(own) is fixtures.NeedsArguments and own.code == 7 and "code 7" in str(own)
    else:  # its lock does not pickle: the error says so and is still a HoldsLock
        assert "did not pickle" in str(info.value)
        assert isinstance(own, rxgrid.TaskError) and isinstance(own, fixtures.HoldsLock)


def test_an_exception_class_that_cannot_be_subclassed_gives_a_plain_error_naming_it(ctx):
    with pytest.raises(rxgrid.JobFailedError, match="raised Final: Final 3") as info:
        ctx.exec(fixtures.raise_odd, "Final", 3, continue_on_failure=False)
    assert not isinstance(info.value, fixtures.Final)
    assert type(info.value.errors[0].original_exception()) is fixtures.Final


def test_map_with_a_timeout_yields_the_ready_results_then_raises_timeout_error(ctx, tmp_path):
    release = str(tmp_path / "release")
    with _executor_of(ctx) as pool:
        results = pool.map(fixtures.zero_or_wait_for, [release] * 3, [0, 0, 1], timeout=4)
        try:
            assert next(results) == 0 and next(results) == 0
            with pytest.raises(TimeoutError):
                next(results)
        finally:
            open(release, "w").close()  # the waiting task ends (where it was not cancelled)


def test_submitted_jobs_are_not_kept_once_their_results_are_read(ctx):
    before = {j.id for j in ctx.jobs()}
    with _executor_of(ctx) as pool:
        futures = [pool.submit(fixtures.square, i) for i in range(100)]
        assert [f.result(timeout=120) for f in futures] == [i * i for i in range(100)]
    assert {j.id for j in ctx.jobs()} - before == set()


# ------------------------------------------------------------------ options and kwargs=
def test_an_option_name_the_function_also_takes_is_refused_saying_how_to_pass_it(ctx):
    with pytest.raises(rxgrid.InvalidArgumentError) as info:
        ctx.exec(fixtures.simulate, 10, seed=42)
    message = str(info.value)
    assert "seed=42" in message and "simulate() takes a parameter named 'seed'" in message
    assert "kwargs={'seed': 42}" in message and "options(seed=42)" in message
    with pytest.raises(rxgrid.InvalidArgumentError, match=r"takes \*\*kwargs"):
        ctx.exec(fixtures.takes_any_keywords, 1, timeout=5)


def test_kwargs_reach_the_function_while_the_same_name_beside_them_is_the_option(ctx):
    first = ctx.exec(fixtures.simulate, 10, kwargs={"seed": 42}, seed=1, times=2)
    again = ctx.exec(fixtures.simulate, 10, kwargs={"seed": 42}, seed=1, times=2)
    other = ctx.exec(fixtures.simulate, 10, kwargs={"seed": 42}, seed=2, times=2)
    assert [r[:2] for r in first] == [(10, 42), (10, 42)]
    assert first == again and first != other, "seed= must seed the task streams"
    assert ctx.exec(fixtures.takes_any_keywords, 1, kwargs={"timeout": 5}) == [(1, [("timeout", 5)])]


def test_keywords_beside_kwargs_must_be_options(ctx):
    with pytest.raises(rxgrid.InvalidArgumentError, match="y=.*not an rxgrid option.*kwargs="):
        ctx.exec(fixtures.add, 1, kwargs={"x": 1}, y=2)


def test_a_plain_keyword_with_an_option_name_is_the_option_when_the_function_cannot_take_it(ctx):
    assert ctx.exec(fixtures.add, 2, y=3, times=2) == [5, 5]
    assert ctx.exec(fixtures.rng_draws, times=2, seed=5) == \
        ctx.options(seed=5).exec(fixtures.rng_draws, times=2)


def test_options_bind_defaults_for_blocking_and_non_blocking_exec(ctx):
    bound = ctx.options(seed=7, times=3)
    expected = ctx.exec(fixtures.rng_draws, times=3, seed=7)
    assert bound.exec(fixtures.rng_draws) == expected
    with pytest.raises(rxgrid.InvalidArgumentError, match="seed"):
        bound.exec(fixtures.simulate, 1, seed=8)  # still ambiguous through a bound context
    job = bound.options(wait=False).exec(fixtures.simulate, 1)
    assert job.wait(60).state is rxgrid.JobState.FINISHED and job.info().seed == 7
    assert [r[:2] for r in job.result()] == [(1, 0)] * 3
    assert bound.exec(fixtures.rng_draws, seed=9) == ctx.exec(fixtures.rng_draws, times=3, seed=9)


def test_unknown_option_names_are_refused_naming_the_closest(ctx):
    with pytest.raises(rxgrid.InvalidArgumentError, match="tmeout=.*did you mean 'timeout'"):
        ctx.options(tmeout=5)
    with pytest.raises(rxgrid.InvalidArgumentError, match="timeout"):
        ctx.options(timeout=-1)
