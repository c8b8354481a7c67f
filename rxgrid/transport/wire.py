"""The wire's own types as Python values, both ways: times, durations and job states.

    float seconds (0 = none) ◄──► google.protobuf.Timestamp / Duration (unset = none)
    JobState "finished"      ◄──► JOB_STATE_FINISHED
    job options by name      ◄──► TaskRecipe (its fields but CALL_FIELDS are named for them)

The head's servicers and the client's readers both convert here, so no other module
knows how a time or a state is written on the wire. No grpc here (protobuf only).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from .._proto import rxgrid_pb2 as pb
from ..states import JobState

_JOB_STATE_PREFIX = "JOB_STATE_"


def timestamp(seconds: float) -> Timestamp | None:
    """Unix ``seconds`` as a Timestamp; None (the field stays unset) for 0."""
    if not seconds:
        return None
    stamp = Timestamp()
    stamp.FromMicroseconds(round(seconds * 1e6))  # a float's precision: no made-up nanoseconds
    return stamp


def seconds(stamp: Timestamp | Duration) -> float:
    """A Timestamp as unix seconds, or a Duration as seconds (0.0 when unset)."""
    return stamp.ToNanoseconds() / 1e9


def duration(seconds: float | None) -> Duration | None:
    """``seconds`` as a Duration; None (unset) for None or 0."""
    if not seconds:
        return None
    span = Duration()
    span.FromNanoseconds(round(seconds * 1e9))
    return span


# Looked up once: every job's JobInfo converts its state, on the head and on the client.
_WIRE_STATES = {s: pb.JobState.Value(_JOB_STATE_PREFIX + s.name) for s in JobState}
_STATES_FROM_WIRE = {v: s for s, v in _WIRE_STATES.items()}


def job_state(state: str) -> int:
    """A :class:`JobState` (or its string) as the wire's enum value."""
    return _WIRE_STATES[JobState(state)]


def job_state_from_wire(value: int) -> JobState | None:
    """The wire's enum value as a :class:`JobState` (None for JOB_STATE_UNSPECIFIED)."""
    if value == pb.JOB_STATE_UNSPECIFIED:
        return None
    found = _STATES_FROM_WIRE.get(value)
    # A value this side does not know raises as the enum lookups do.
    return found if found is not None else JobState[pb.JobState.Name(value)[len(_JOB_STATE_PREFIX):]]


#: The TaskRecipe's fields that say what the tasks call (set by the client from the blobs
#: it sent); each other field is the job option of its name, converted by its type alone.
CALL_FIELDS = frozenset({"function_blob", "kernel", "common_blob", "objects_blob"})


def task_recipe(options: Mapping[str, Any]) -> pb.TaskRecipe:
    """A TaskRecipe (without CALL_FIELDS) from job options by name: every option the
    recipe has a field for must be given; None leaves a field unset."""
    recipe = pb.TaskRecipe()
    for f in _option_fields():
        value = options[f.name]
        if value is None:
            continue
        if f.is_repeated:
            getattr(recipe, f.name).extend(value)
        elif f.message_type is not None:  # a Duration, the only message an option is
            if duration(value) is not None:
                getattr(recipe, f.name).CopyFrom(duration(value))
        else:
            setattr(recipe, f.name, value)
    return recipe


def recipe_options(recipe: pb.TaskRecipe) -> dict[str, Any]:
    """The job options a TaskRecipe carries, by name. What the wire leaves unset is left
    out, so the reader's default holds: an unset optional or Duration, and a zero number
    or empty text (the proto says "0 = the default" for each); a bool is always its value,
    and a repeated field a tuple."""
    options: dict[str, Any] = {}
    for f in _option_fields():
        value = getattr(recipe, f.name)
        if f.is_repeated:
            options[f.name] = tuple(value)
        elif f.has_presence:
            if recipe.HasField(f.name):
                options[f.name] = seconds(value) if f.message_type is not None else value
        elif value or f.type == f.TYPE_BOOL:
            options[f.name] = value
    return options


@functools.cache  # the descriptor is fixed once the module is loaded; read per job
def _option_fields() -> tuple:
    return tuple(f for f in pb.TaskRecipe.DESCRIPTOR.fields if f.name not in CALL_FIELDS)
