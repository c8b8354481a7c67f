"""The current compute context, as RevoScaleR's ``rxSetComputeContext`` keeps one.

    set_context(rxgrid.local(workers=4))       # from now on rxgrid.exec(...) runs there
    rxgrid.exec(play_dice, times=10_000, seed=777)
    with use_context(rxgrid.local_sequential()):
        rxgrid.exec(play_dice, times=10)        # for a while: in this process, in order

The default is ``local_sequential()``, made on first use. The current context is one
per process (a module global guarded by a lock), like RevoScaleR's: ``set_context`` in
one thread changes it for every thread, and two threads that nest ``use_context`` blocks
at the same time restore each other's contexts in an order they do not control. Pass
contexts explicitly (``ctx.exec``) in threaded code.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import InvalidArgumentError

_lock = threading.Lock()
_current: Any = None


def _check(context: Any) -> Any:
    if not callable(getattr(context, "exec", None)):
        raise InvalidArgumentError(
            f"a compute context has an exec() method (rxgrid.local(), rxgrid.connect(), "
            f"rxgrid.local_sequential(), rxgrid.from_executor()); got a {type(context).__name__}")
    return context


def get_context() -> Any:
    """The current compute context (``local_sequential()`` until one is set)."""
    global _current
    with _lock:
        if _current is None:
            from .sequential import SequentialCluster
            _current = SequentialCluster()
        return _current


def set_context(context: Any) -> Any:
    """Make ``context`` the current compute context; returns the one it replaces.

    ``None`` goes back to the default (a fresh ``local_sequential()`` on next use).
    """
    global _current
    if context is not None:
        _check(context)
    with _lock:
        previous, _current = _current, context
    return previous


@contextmanager
def use_context(context: Any) -> Iterator[Any]:
    """``with use_context(ctx):`` makes ``ctx`` current inside the block, then restores."""
    global _current
    _check(context)
    with _lock:
        previous, _current = _current, context
    try:
        yield context
    finally:
        with _lock:
            _current = previous


def exec(function, *args, objects=None, **options):  # noqa: A001 - rxExec's name
    """``get_context().exec(function, *args, **options)``: rxExec on the current context.

    ``objects=`` names are looked up in the caller's scope, as ``ctx.exec`` does.
    """
    if objects is not None and not isinstance(objects, dict):
        objects = _caller_objects(objects, sys._getframe(1))
    return get_context().exec(function, *args, objects=objects, **options)


def _caller_objects(names, frame) -> dict:
    names = [names] if isinstance(names, str) else list(names)
    scope = {**frame.f_globals, **frame.f_locals}
    missing = [name for name in names if name not in scope]
    if missing:
        raise InvalidArgumentError(f"objects= names {missing!r}, which the calling code does not "
                                   f"define; pass a dict {{name: value}} instead")
    return {name: scope[name] for name in names}


def lin_mod(formula: str, data, **options):
    """Linear model (rxLinMod) on the current compute context."""
    return get_context().lin_mod(formula, data, **options)


def logit(formula: str, data, **options):
    """Logistic regression (rxLogit) on the current compute context."""
    return get_context().logit(formula, data, **options)


def glm(formula: str, data, **options):
    """Generalised linear model (rxGlm) on the current compute context."""
    return get_context().glm(formula, data, **options)


def kmeans(formula, data, k, **options):
    """k-means (rxKmeans) on the current compute context."""
    return get_context().kmeans(formula, data, k, **options)


__all__ = ["get_context", "set_context", "use_context", "exec", "lin_mod", "logit", "glm",
           "kmeans"]
