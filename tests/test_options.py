"""JobOptions, JobState, how exec's keywords are split, and how options become a TaskRecipe
and TaskSettings (no cluster needed)."""

from __future__ import annotations

import dataclasses
import functools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rxgrid
from rxgrid import InvalidArgumentError, JobOptions, JobState
from rxgrid._proto import rxgrid_pb2 as pb
from rxgrid.client.options import MAX_RETRIES, OPTION_NAMES, split_keywords
from rxgrid.runtime.chunk import TaskSettings
from rxgrid.runtime.seeding import RNG_KINDS
from rxgrid.transport.wire import CALL_FIELDS, recipe_options
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


# ------------------------------------------------- one table: JobOptions, TaskRecipe, TaskSettings
# What a test draws for each option the TaskRecipe carries. A new TaskRecipe field fails
# test_every_recipe_and_settings_field_is_a_documented_option until it is drawn here too.
RECIPE_OPTIONS = {
    "seed": st.none() | st.integers(0, 2**64 - 1),
    "rng_kind": st.sampled_from(sorted(RNG_KINDS)),
    "packages": st.lists(st.sampled_from(["json", "math", "fractions"]), max_size=3).map(tuple),
    "timeout": st.none() | st.integers(1, 10**7).map(lambda ms: ms / 1000),
    "continue_on_failure": st.booleans(),
    "console_output": st.booleans(),
    "output_files": st.lists(st.sampled_from(["out/*", "test-*.txt", "a/**"]), max_size=3).map(tuple),
    "retries": st.integers(0, MAX_RETRIES),
    "cores": st.integers(1, 256),
}


def _recipe_option_fields() -> set[str]:
    return set(pb.TaskRecipe.DESCRIPTOR.fields_by_name) - CALL_FIELDS


def test_every_recipe_and_settings_field_is_a_documented_option():
    recipe = _recipe_option_fields()
    assert recipe <= OPTION_NAMES, f"TaskRecipe fields that are no option: {recipe - OPTION_NAMES}"
    assert set(RECIPE_OPTIONS) == recipe, "draw every TaskRecipe option in RECIPE_OPTIONS"
    # every setting travels on the wire, so a worker can fill it from its TaskRecipe
    settings = TaskSettings.option_names()
    assert settings <= recipe, f"TaskSettings fields no TaskRecipe carries: {settings - recipe}"
    assert len(settings) == len(dataclasses.fields(TaskSettings)), "two settings from one option"
    undocumented = [n for n in OPTION_NAMES if f"\n        {n}: " not in JobOptions.__doc__]
    assert not undocumented, f"options missing from JobOptions' Attributes: {undocumented}"


def test_the_defaults_agree_on_every_side():
    assert JobOptions().task_settings(None) == TaskSettings()
    empty = pb.TaskRecipe(continue_on_failure=True)  # proto3: a bool is always sent as it is
    assert TaskSettings.from_options(recipe_options(empty)) == TaskSettings()


@settings(max_examples=200, deadline=None)
@given(st.fixed_dictionaries(RECIPE_OPTIONS))
def test_options_reach_a_worker_as_they_reach_the_runtime(drawn):
    seed = drawn.pop("seed")
    options = JobOptions(**drawn, seed=seed)
    recipe = pb.TaskRecipe.FromString(options.task_recipe(seed).SerializeToString())
    read = recipe_options(recipe)
    assert TaskSettings.from_options(read) == options.task_settings(seed)
    sent, default = options._by_name(seed), JobOptions()._by_name(None)
    for name in _recipe_option_fields():  # what the wire leaves out is the option's default
        assert read.get(name, default[name]) == sent[name], name
