"""Checking and shaping an ``exec`` call before it goes anywhere.

Every way of running a job (the cluster, ``local_sequential``) starts here, so a wrong
argument gets the same clear error everywhere, before anything is submitted.
"""

from __future__ import annotations

import re
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .._args import column_slices, split_arguments
from .._chunk import guided_sizes
from .._seeding import RNG_KINDS
from ..errors import InvalidArgumentError

JOB_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


@dataclass
class PreparedCall:
    """An ``exec`` call, checked: function, common arguments, per-task values, options."""

    function: Callable
    args: tuple
    kwargs: dict
    columns: list[list]
    num_tasks: int
    chunk_size: int | None
    seed: int | None
    job_id: str
    priority: int = 0
    continue_on_failure: bool = True
    per_node: bool = False
    packages: tuple[str, ...] = ()
    objects: dict = field(default_factory=dict)
    timeout: float | None = None
    auto_cleanup: bool = False
    rng_kind: str = "pcg64"

    def chunks(self, slots: int) -> list[tuple[int, int]]:
        """(first task, count) of every chunk, for ``slots`` executor slots."""
        if self.chunk_size:
            return [(first, min(self.chunk_size, self.num_tasks - first))
                    for first in range(0, self.num_tasks, self.chunk_size)]
        out, first = [], 0
        for size in guided_sizes(self.num_tasks, slots):
            out.append((first, size))
            first += size
        return out

    def slices(self, first: int, count: int) -> list[list] | None:
        """Per-task values of one chunk, a list per ``each`` argument (None without any)."""
        return column_slices(self.columns, first, first + count) if self.columns else None


def new_job_id() -> str:
    """A fresh job id: readable time plus randomness."""
    return time.strftime("rx-%Y%m%d-%H%M%S-") + secrets.token_hex(4)


def _positive_int(value, name: str, allow_none: bool = True) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgumentError(f"{name} must be a whole number of at least 1, got {value!r}")
    return value


def _resolve_objects(objects, depth: int) -> dict:
    if objects is None:
        return {}
    if isinstance(objects, dict):
        bad = [k for k in objects if not isinstance(k, str) or not k.isidentifier()]
        if bad:
            raise InvalidArgumentError(f"objects= keys must be Python names, not {bad[:3]!r}")
        return dict(objects)
    if isinstance(objects, str):
        objects = [objects]
    frame = sys._getframe(depth)
    scope = {**frame.f_globals, **frame.f_locals}
    missing = [name for name in objects if name not in scope]
    if missing:
        raise InvalidArgumentError(f"objects= names {missing!r}, which the calling code does not "
                                   f"define; pass a dict {{name: value}} instead")
    return {name: scope[name] for name in objects}


def prepare(function, args: tuple, kwargs: dict, *, times=None, chunk_size=None, seed=None,
            job_id=None, priority=0, continue_on_failure=True, per_node=False, packages=(),
            objects=None, timeout=None, auto_cleanup=False, rng_kind="pcg64",
            caller_depth: int = 3) -> PreparedCall:
    """Check an ``exec`` call and return it as a :class:`PreparedCall`."""
    if not callable(function):
        raise InvalidArgumentError(f"exec() runs a function, but its first argument is a "
                                   f"{type(function).__name__}")
    times = _positive_int(times, "times")
    chunk_size = _positive_int(chunk_size, "chunk_size")
    if seed == "auto":
        seed = secrets.randbits(63)  # recorded on the job, so the run can be repeated
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0
                             or seed >= 2**64):
        raise InvalidArgumentError(f"seed must be a whole number from 0 to 2**64-1 or 'auto', "
                                   f"got {seed!r}")
    if rng_kind not in RNG_KINDS:
        raise InvalidArgumentError(f"rng_kind must be one of {', '.join(RNG_KINDS)}, "
                                   f"got {rng_kind!r}")
    if timeout is not None and (not isinstance(timeout, (int, float)) or timeout <= 0):
        raise InvalidArgumentError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise InvalidArgumentError(f"priority must be a whole number, got {priority!r}")
    if job_id is not None and (not isinstance(job_id, str) or not JOB_ID_RE.match(job_id)):
        raise InvalidArgumentError(f"job id {job_id!r} is not valid: use 1 to 128 of the "
                                   f"characters A-Z a-z 0-9 . _ -")
    if isinstance(packages, str):
        packages = (packages,)
    if not all(isinstance(p, str) and p for p in packages):
        raise InvalidArgumentError(f"packages= takes module names as strings, got {packages!r}")
    args, kwargs, columns = split_arguments(args, kwargs)
    num_tasks = _count_tasks(times, columns, per_node)
    return PreparedCall(function, args, kwargs, columns, num_tasks, chunk_size, seed,
                        job_id or new_job_id(), priority, bool(continue_on_failure), bool(per_node),
                        tuple(packages), _resolve_objects(objects, caller_depth), timeout,
                        bool(auto_cleanup), rng_kind)


def _count_tasks(times: int | None, columns: list[list], per_node: bool) -> int:
    if per_node:
        if columns or times:
            raise InvalidArgumentError("per_node=True runs the function once on every worker: "
                                       "it takes neither times= nor each() arguments")
        return 0
    if columns:
        n = len(columns[0])
        if n == 0:
            raise InvalidArgumentError("each() was given no values, so there is no task to run")
        if times is not None and times != n:
            raise InvalidArgumentError(f"times={times} but each() gives {n} values; "
                                       f"leave times out (it follows each())")
        return n
    return times or 1
