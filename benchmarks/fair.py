"""The two rules of a fair comparison, as small pure functions.

*Same work, proved*: every timed run returns a :class:`Check` of its results; a ratio
between two systems is given only when every check of both agrees (:func:`same_work`).
*Separation, not medians*: a goal is met only when the whole min-max ranges of the
repetitions separate the right way (:func:`verdict`); overlapping ranges are a tie.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MET, TIE, MISSED = "met", "tie", "missed"


@dataclass(frozen=True)
class Check:
    """What a run computed, to compare across systems.

    ``key`` must be equal exactly (a digest of integer results, a count); ``values`` must
    agree within ``rel_tol`` (float results whose last bits may depend on summation order).
    ``text`` is what the report shows.
    """

    text: str
    key: str = ""
    values: tuple[float, ...] = ()
    rel_tol: float = 0.0

    def agrees(self, other: Check) -> bool:
        tol = max(self.rel_tol, other.rel_tol)
        return (self.key == other.key and len(self.values) == len(other.values)
                and all(math.isclose(a, b, rel_tol=tol, abs_tol=0.0)
                        for a, b in zip(self.values, other.values, strict=True)))

    def as_dict(self) -> dict:
        return {"text": self.text, "key": self.key, "values": list(self.values),
                "rel_tol": self.rel_tol}

    @classmethod
    def from_dict(cls, d: dict) -> Check:
        return cls(d["text"], d.get("key", ""), tuple(d.get("values", ())), d.get("rel_tol", 0.0))


def same_work(ours: Sequence[Check], theirs: Sequence[Check]) -> bool:
    """True when both sides have checks and every one agrees with every other."""
    if not ours or not theirs:
        return False
    first = ours[0]
    return all(first.agrees(c) for c in [*ours, *theirs])


def verdict(ours: Sequence[float], theirs: Sequence[float], better: str,
            factor: float = 1.0) -> str:
    """Is ``ours`` at least ``factor`` times as good as ``theirs``, by whole ranges?

    For ``better="lower"`` (times) the goal is ``ours <= factor * theirs``; for
    ``"higher"`` (rates) it is ``ours >= factor * theirs``. ``met`` when every value of
    ours beats ``factor`` times every value of theirs, ``missed`` when every value of
    ours fails against every one of theirs, else ``tie``.
    """
    if not ours or not theirs:
        raise ValueError("verdict needs values on both sides")
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', got {better!r}")
    lo, hi = factor * min(theirs), factor * max(theirs)
    if better == "lower":
        if max(ours) < lo:
            return MET
        return MISSED if min(ours) > hi else TIE
    if min(ours) > hi:
        return MET
    return MISSED if max(ours) < lo else TIE


def digest(obj) -> str:
    """A short sha256 of results: arrays by dtype, shape and bytes; lists item by item."""
    h = hashlib.sha256()
    _feed(h, obj)
    return h.hexdigest()[:16]


def _feed(h, obj) -> None:
    if isinstance(obj, np.ndarray):
        h.update(f"nd{obj.dtype.str}{obj.shape}".encode())
        h.update(np.ascontiguousarray(obj).tobytes())
    elif isinstance(obj, (list, tuple)):
        h.update(f"[{len(obj)}".encode())
        for item in obj:
            _feed(h, item)
        h.update(b"]")
    elif isinstance(obj, (np.integer, np.floating)):
        h.update(repr(obj.item()).encode())
    else:
        h.update(repr(obj).encode())
