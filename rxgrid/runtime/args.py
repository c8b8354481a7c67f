"""Per-task arguments: ``each(values)`` marks an argument that differs from task to task.

A call's arguments are split into a *common* part, sent once, where every ``each``
argument is replaced by a numbered :class:`_Slot`, and *per-task* columns holding one
value per task for every slot. ``_chunk.argument_maker`` puts the values back.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import InvalidArgumentError


class each:  # noqa: N801 - lower case on purpose: it reads as rxElemArg does in R
    """Mark an argument that takes one value per task (RevoScaleR's ``rxElemArg``).

    ``cluster.exec(f, each([1, 2, 3]), y=5)`` runs ``f(1, y=5)``, ``f(2, y=5)`` and
    ``f(3, y=5)``. Several ``each`` arguments zip together and must be equally long.
    """

    __slots__ = ("values",)

    def __init__(self, values: Iterable[Any]):
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise InvalidArgumentError(
                f"each() takes a list, tuple, range or array of per-task values, "
                f"not {type(values).__name__}")
        self.values = list(values)

    def __len__(self) -> int:
        return len(self.values)

    def __repr__(self) -> str:
        return f"each(<{len(self.values)} values>)"


class _Slot:
    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index

    def __reduce__(self):
        return (_Slot, (self.index,))


def split_arguments(args: tuple, kwargs: dict) -> tuple[tuple, dict, list[list]]:
    """Replace ``each`` arguments by slots; return (args, kwargs, values per slot)."""
    columns: list[list] = []
    names: list[str] = []

    def take(value: Any, name: str) -> Any:
        if isinstance(value, each):
            names.append(name)
            columns.append(value.values)
            return _Slot(len(columns) - 1)
        return value

    new_args = tuple(take(a, f"argument {i + 1}") for i, a in enumerate(args))
    new_kwargs = {k: take(v, f"argument {k!r}") for k, v in kwargs.items()}
    lengths = {len(c) for c in columns}
    if len(lengths) > 1:
        described = ", ".join(f"{n} has {len(c)}" for n, c in zip(names, columns, strict=True))
        raise InvalidArgumentError(
            f"each() arguments must have the same number of values (one per task), "
            f"but {described}")
    return new_args, new_kwargs, columns


def column_slices(columns: list[list], start: int, stop: int) -> list[list]:
    """The per-task values of tasks ``start..stop-1``, one list per ``each`` argument."""
    return [c[start:stop] for c in columns]
