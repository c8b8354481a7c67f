"""``rxgrid.runtime.chunk``: the plain loop (no retries, capture or per-task callback) ends
every task as the general loop does: the same values, the same failures in the same
places, the same stop at a first failure, the same seeded draws; only its cost differs."""

import random

import pytest

import rxgrid
from rxgrid.runtime.args import each, split_arguments
from rxgrid.runtime.chunk import ChunkCall, TaskSettings, positional_rows, run_chunk


def fails_on_multiples_of_three(x, y=0, *, z=0):
    if x % 3 == 0:
        raise ValueError(f"no multiples of three: {x}")
    return (x, y, z)


def seeded_draws(x):
    return (x, int(rxgrid.task_rng().integers(1_000_000)), random.random())


SHAPES = {  # (args, kwargs) of an exec call
    "each only": ((each(range(1, 11)),), {}),
    "two each": ((each(range(1, 11)), each(range(10, 20))), {}),
    "each and a common keyword": ((each(range(1, 11)),), {"z": 7}),
    "a common positional too": ((each(range(1, 11)), 5), {}),
    "each as a keyword": ((each(range(1, 11)),), {"y": each(range(20, 30))}),
    "keyword-only each": ((each(range(1, 11)),), {"z": each(range(30, 40))}),
}


def _call(function, args, kwargs, settings) -> ChunkCall:
    args, kwargs, columns = split_arguments(args, kwargs)
    count = len(columns[0]) if columns else 1
    return ChunkCall(function, args, kwargs, columns or None, 100, count, settings)


def _both_loops(function, args, kwargs, settings):
    plain = run_chunk(_call(function, args, kwargs, settings))
    seen = []
    general = run_chunk(_call(function, args, kwargs, settings),
                        on_task=lambda task, value, failure: seen.append((task, value, failure)))
    return plain, general, seen


def _failures(failures):
    return [(f.task, f.type, f.message) for f in failures]


@pytest.mark.parametrize("stop", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_the_plain_loop_ends_every_task_as_the_general_loop_does(shape, stop):
    args, kwargs = SHAPES[shape]
    (values, failures), (values2, failures2), seen = _both_loops(
        fails_on_multiples_of_three, args, kwargs, TaskSettings(stop_on_failure=stop))
    assert values == values2 == [v for _, v, _ in seen]
    assert _failures(failures) == _failures(failures2) == _failures(f for _, _, f in seen if f)
    ran = 3 if stop else 10  # stops after its first failure, task 102 (x = 3)
    assert len(values) == ran and [f.task for f in failures] == [t for t in (102, 105, 108)
                                                                 if t < 100 + ran]
    assert [v for t, v in enumerate(values, 100) if t in (102, 105, 108)] == [None] * len(failures)
    assert "no multiples of three: 3" in failures[0].message


def test_seeded_tasks_draw_the_same_in_both_loops():
    args, kwargs = (each(range(8)),), {}
    (values, _), (values2, _), _ = _both_loops(seeded_draws, args, kwargs, TaskSettings(seed=42))
    assert values == values2 and len({v[1] for v in values}) == 8


def test_positional_rows_only_for_each_arguments_in_positional_places():
    def rows(shape):
        args, kwargs, columns = split_arguments(*SHAPES[shape])
        return positional_rows(ChunkCall(fails_on_multiples_of_three, args, kwargs, columns, 0, 10))
    assert rows("two each")[:2] == [(1, 10), (2, 11)]
    assert rows("each and a common keyword")[0] == (1,)
    for shape in ("a common positional too", "each as a keyword", "keyword-only each"):
        assert rows(shape) is None


def test_a_column_shorter_than_its_chunk_fails_the_tasks_it_lacks():
    args, kwargs, columns = split_arguments((each(range(1, 5)),), {})
    call = ChunkCall(fails_on_multiples_of_three, args, kwargs, columns, 0, 6)
    values, failures = run_chunk(call)
    assert values == [(1, 0, 0), (2, 0, 0), None, (4, 0, 0), None, None]
    assert [(f.task, f.type) for f in failures] == [(2, "ValueError"), (4, "IndexError"),
                                                    (5, "IndexError")]
