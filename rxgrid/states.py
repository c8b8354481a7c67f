"""Job states, one definition for the client, the head, the CLI and the dashboard.

    queued ─► running ─► finished
                     ├─► failed
                     └─► cancelled      (a queued job may also be cancelled)

:class:`JobState` is a ``str`` Enum, so a state read from the wire or from SQLite compares
equal to its member (``JobState.FINISHED == "finished"``) and code that still holds plain
strings keeps working. This module imports nothing from rxgrid, so both sides can use it.
"""

from __future__ import annotations

import enum


class JobState(enum.StrEnum):
    """Where a job is: ``queued``, ``running``, ``finished``, ``failed`` or ``cancelled``."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """True for the states a job never leaves: finished, failed, cancelled."""
        return self in TERMINAL


#: The states a job ends in.
TERMINAL: frozenset[JobState] = frozenset({JobState.FINISHED, JobState.FAILED, JobState.CANCELLED})
#: The states of a job that has not ended.
ACTIVE: frozenset[JobState] = frozenset({JobState.QUEUED, JobState.RUNNING})


def is_terminal(state: str) -> bool:
    """True if ``state`` (a :class:`JobState` or its string) is one a job ends in."""
    return state in TERMINAL


__all__ = ["ACTIVE", "TERMINAL", "JobState", "is_terminal"]
