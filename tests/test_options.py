"""JobOptions, JobState and how exec's keywords are split (no cluster needed)."""

from __future__ import annotations

import dataclasses
import functools

import pytest

import rxgrid
from rxgrid import InvalidArgumentError, JobOptions, JobState
from rxgrid.client.options import OPTION_NAMES, split_keywords
from tests import fixtures


@pytest.mark.parametrize("changes, message", [
    ({"times": 0}, "times must be a whole number of at least 1"),
    ({"chunk_size": True}, "chunk_size must be"),
    ({"seed": 2**64}, "seed must be a whole number from 0 to 2\\*\\*64-1 or 'auto'"),
    ({"rng_kind": "xorshift"}, "rng_kind must be one of"),
    ({"timeout": 0}, "timeout must be a positive number"),
    ({"priority": 1.5}, "priority must be a whole number"),
    ({"job_id": "a b"}, "not valid"),
    ({"packages": [""]}, "packages= takes module names"),
    ({"output_files": ["/etc/*"]}, "output_files takes relative glob patterns"),
    ({"objects": {"not a name": 1}}, "objects= keys must be Python names"),
])
def test_every_option_is_checked_when_the_options_are_made(changes, message):
    with pytest.raises(InvalidArgumentError, match=message):
        JobOptions(**changes)
    with pytest.raises(InvalidArgumentError, match=message):
        JobOptions().replace(**changes)


def test_options_are_frozen_and_normalised():
    options = JobOptions(packages="json", output_files="out/*", objects="X", seed="auto")
    assert (options.packages, options.output_files, options.objects) == (("json",), ("out/*",), ("X",))
    assert options.seed == "auto"  # drawn per job, not once for every job of a bound context
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.seed = 1  # type: ignore[misc]
    assert "wait" in OPTION_NAMES and "_single_result" not in OPTION_NAMES


def test_job_states_are_strings_with_a_terminal_predicate():
    assert JobState("finished") == "finished" and f"{JobState.RUNNING}" == "running"
    assert [s for s in JobState if s.is_terminal] == ["finished", "failed", "cancelled"]
    from rxgrid.client.job import JobInfo
    assert JobInfo("j", "f", "queued", 0, 1, 0, 0, 1, 0, 0, 0, 0, False, False, "", None).state \
        is JobState.QUEUED


def _positional_only(seed, /):
    return seed


class _Simulation:
    def __init__(self, n, seed=0):
        self.n, self.seed = n, seed


@pytest.mark.parametrize("function, ambiguous", [
    (fixtures.simulate, True),
    (functools.partial(fixtures.simulate, 3), True),  # a partial keeps the parameter
    (_Simulation, True),  # a class: its __init__'s parameters
    (fixtures.takes_any_keywords, True),
    (_positional_only, False),  # cannot be given by keyword: no doubt
    (fixtures.square, False),
    (abs, False),  # a builtin without a signature: nothing to check, as before
])
def test_a_keyword_is_ambiguous_only_when_the_function_could_take_it(function, ambiguous):
    if ambiguous:
        with pytest.raises(InvalidArgumentError, match="kwargs="):
            split_keywords(function, {"seed": 1}, None)
    else:
        assert split_keywords(function, {"seed": 1, "y": 2}, None) == ({"seed": 1}, {"y": 2})


def test_kwargs_must_be_a_dict_of_names():
    with pytest.raises(InvalidArgumentError, match="kwargs= takes a dict"):
        split_keywords(fixtures.add, {}, [("y", 1)])


def test_a_bound_context_refuses_what_options_do_not_reach():
    ctx = rxgrid.local_sequential()
    with pytest.raises(AttributeError, match="lin_mod"):
        ctx.options(seed=1).lin_mod  # noqa: B018 - the lookup is the test
    with pytest.raises(InvalidArgumentError, match="options\\(\\) do not reach it"):
        ctx.options(seed=1).executor()
    assert ctx.options(seed=1).job is not None
