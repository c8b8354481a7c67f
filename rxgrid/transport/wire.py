"""The wire's own types as Python values, both ways: times, durations and job states.

    float seconds (0 = none) ◄──► google.protobuf.Timestamp / Duration (unset = none)
    JobState "finished"      ◄──► JOB_STATE_FINISHED

The head's servicers and the client's readers both convert here, so no other module
knows how a time or a state is written on the wire. No grpc here (protobuf only).
"""

from __future__ import annotations

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


def job_state(state: str) -> int:
    """A :class:`JobState` (or its string) as the wire's enum value."""
    return pb.JobState.Value(_JOB_STATE_PREFIX + JobState(state).name)


def job_state_from_wire(value: int) -> JobState | None:
    """The wire's enum value as a :class:`JobState` (None for JOB_STATE_UNSPECIFIED)."""
    if value == pb.JOB_STATE_UNSPECIFIED:
        return None
    return JobState[pb.JobState.Name(value)[len(_JOB_STATE_PREFIX):]]
