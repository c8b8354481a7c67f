"""Checking and shaping an ``exec`` call before it goes anywhere.

Every way of running a job (the cluster, ``local_sequential``, an executor) starts here,
so a wrong argument gets the same clear error everywhere, before anything is submitted.
The options were checked when their :class:`JobOptions` was made; what is checked here
depends on the arguments too (``each()`` lengths, ``times`` against them, ``per_node``).
"""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from ..errors import InvalidArgumentError
from ..runtime.args import column_slices, split_arguments
from ..runtime.chunk_sizes import guided_sizes
from .options import JobOptions


@dataclass
class PreparedCall:
    """An ``exec`` call, checked: function, common arguments, per-task values, options.

    ``seed`` is the job's seed (``"auto"`` already drawn) and ``objects`` the globals as
    a dict (names already looked up); everything else is in ``options``.
    """

    function: Callable
    args: tuple
    kwargs: dict
    columns: list[list]
    num_tasks: int
    job_id: str
    seed: int | None = None
    objects: dict = field(default_factory=dict)
    options: JobOptions = field(default_factory=JobOptions)

    @property
    def name(self) -> str:
        """The function's name, as jobs are listed."""
        return getattr(self.function, "__qualname__", None) or repr(self.function)

    def chunks(self, slots: int) -> list[tuple[int, int]]:
        """(first task, count) of every chunk, for ``slots`` executor slots."""
        chunk_size = self.options.chunk_size
        if chunk_size:
            return [(first, min(chunk_size, self.num_tasks - first))
                    for first in range(0, self.num_tasks, chunk_size)]
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


def _resolve_objects(objects, frame: FrameType | None) -> dict:
    if objects is None:
        return {}
    if isinstance(objects, dict):
        return dict(objects)
    scope = {**frame.f_globals, **frame.f_locals} if frame is not None else {}
    missing = [name for name in objects if name not in scope]
    if missing:
        raise InvalidArgumentError(f"objects= names {missing!r}, which the calling code does not "
                                   f"define; pass a dict {{name: value}} instead")
    return {name: scope[name] for name in objects}


def prepare(function: Callable, args: tuple, kwargs: dict, options: JobOptions | None = None,
            caller: FrameType | None = None, **changes: Any) -> PreparedCall:
    """Check an ``exec`` call and return it as a :class:`PreparedCall`.

    Args:
        function: What each task calls.
        args: Its positional arguments (``each()`` ones differ per task).
        kwargs: Its keyword arguments (``each()`` ones differ per task).
        options: The job's options (default: ``JobOptions()``).
        caller: The frame whose names ``objects=["name"]`` refers to (default: the caller
            of this function).
        **changes: Options to change in ``options``, for rxgrid's own calls.
    """
    if not callable(function):
        raise InvalidArgumentError(f"exec() runs a function, but its first argument is a "
                                   f"{type(function).__name__}")
    options = (options or JobOptions()).replace(**changes) if changes else (options or JobOptions())
    seed = secrets.randbits(63) if options.seed == "auto" else options.seed  # recorded on the job
    args, kwargs, columns = split_arguments(args, dict(kwargs))
    num_tasks = _count_tasks(options.times, columns, options.per_node)
    objects = _resolve_objects(options.objects, caller or sys._getframe(1))
    return PreparedCall(function, args, kwargs, columns, num_tasks, options.job_id or new_job_id(),
                        seed, objects, options)


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
