"""A task's exception, carried from where it ran back to the caller and raised again.

    runner: pickle_exception(exc) ─► bytes (class and instance pickled apart, b"" if not)
            travels in TaskFailure.pickled (TaskError.exception on the wire, stored by the head)
    caller: rebuild(bytes, type name) ─► Rebuilt(cls, instance, problem)
            ├─ futures and map raise ``instance`` itself, as ProcessPoolExecutor does
            └─ rxgrid errors become instances of ``cls`` too: instance_of_both(TaskError, cls)

The two-class error is the approach of Ray's ``RayTaskError.as_instanceof_cause``: a
class made on the fly from the rxgrid error and the task's exception class, so both
``except ZeroDivisionError`` and ``except rxgrid.JobFailedError`` catch it. When the
class cannot be loaded here or cannot be subclassed, the rxgrid error stays plain and its
message names the type.
"""

from __future__ import annotations

import builtins
import functools
import logging
from typing import NamedTuple

log = logging.getLogger("rxgrid.client")

# Each failed task's pickle is stored by the head and sent with its results; a bigger
# one (an exception holding a large array, say) is dropped: the text says what happened.
MAX_PICKLED_BYTES = 64 << 10


class Rebuilt(NamedTuple):
    """What could be made here of a task's exception."""

    cls: type[BaseException] | None  # its class, if it could be loaded here
    instance: BaseException | None  # the exception object itself, if it could be rebuilt
    problem: str  # why not, when a pickle came but something could not be rebuilt


# ------------------------------------------------------------------ runner side
def pickle_exception(exc: BaseException) -> bytes:
    """``exc`` pickled so the caller can raise it again; b"" if its class does not pickle.

    The class and the instance are pickled apart: a caller that cannot rebuild the
    instance (its state does not pickle) still learns its class.
    """
    from .serialize import dumps
    try:
        kind = dumps(type(exc))
    except Exception as why:  # noqa: BLE001 - the failure's text still says what happened
        log.debug("the class of %r does not pickle: %s", exc, why)
        return b""
    try:
        instance = dumps(_state(exc))
    except Exception as why:  # noqa: BLE001 - the class alone still helps the caller
        log.debug("%r does not pickle: %s", exc, why)
        instance = b""
    data = dumps((kind, instance))
    return data if len(data) <= MAX_PICKLED_BYTES else dumps((kind, b""))


def _state(exc: BaseException) -> tuple:
    """What rebuilds ``exc``, without calling its ``__init__`` when that can be avoided.

    Plain pickling calls ``cls(*exc.args)``, which breaks for an ``__init__`` that takes
    other arguments than it passes to ``Exception`` (a long-standing CPython wart). A
    class with its own ``__reduce__`` (``OSError``, ``json.JSONDecodeError``, a user's)
    knows how to rebuild itself: it is pickled as it is.
    """
    if type(exc).__reduce__ is BaseException.__reduce__:
        return ("state", type(exc), exc.args, dict(getattr(exc, "__dict__", {})))
    return ("object", exc)


# ------------------------------------------------------------------ caller side
def rebuild(pickled: bytes, type_name: str) -> Rebuilt:
    """The class and instance of a task's exception, as far as they can be made here.

    Without a pickle (an exception made by the head or a worker daemon, such as a
    per-task ``TimeoutError``), a builtin type name still gives its class.
    """
    if not pickled:
        named = getattr(builtins, type_name, None)
        is_exception = isinstance(named, type) and issubclass(named, BaseException)
        return Rebuilt(named if is_exception else None, None, "")
    from .serialize import loads
    try:
        kind, instance = loads(pickled, "task's exception")
        cls = loads(kind, f"class {type_name}")
    except Exception as why:  # noqa: BLE001 - reported in the error's message
        return Rebuilt(None, None, f"its class could not be loaded here: {why}")
    if not (isinstance(cls, type) and issubclass(cls, BaseException)):
        return Rebuilt(None, None, f"what came back is not an exception class: {cls!r}")
    if not instance:
        return Rebuilt(cls, None, "the exception object did not pickle where the task ran")
    try:
        return Rebuilt(cls, _from_state(loads(instance, f"{type_name} object")), "")
    except Exception as why:  # noqa: BLE001 - reported in the error's message
        return Rebuilt(cls, None, f"the exception object could not be rebuilt here: {why}")


def _from_state(state: tuple) -> BaseException:
    if state[0] == "object":
        return state[1]
    _, cls, args, attributes = state
    exc = cls.__new__(cls, *args)
    exc.args = args
    if attributes:
        exc.__dict__.update(attributes)
    return exc


def instance_of_both(base: type[BaseException], cls: type[BaseException] | None, message: str,
                     fields: dict) -> BaseException | None:
    """An instance of ``base`` (an rxgrid error) that is also one of ``cls``; None if
    no such class can be made (``cls`` unknown, final, or with a clashing layout)."""
    both = _class_of_both(base, cls) if cls is not None else None
    if both is None:
        return None
    try:
        exc = both.__new__(both, message)
        BaseException.__init__(exc, message)  # the task's __init__ may want other arguments
    except Exception as why:  # noqa: BLE001 - the caller falls back to a plain rxgrid error
        log.debug("cannot make a %s: %s", both.__name__, why)
        return None
    exc.__dict__.update(fields)
    return exc


@functools.lru_cache(maxsize=256)
def _class_of_both(base: type[BaseException], cls: type[BaseException]) -> type | None:
    name = f"{base.__name__}({cls.__name__})"
    namespace = {
        "__module__": base.__module__, "__qualname__": name,
        # The task's class may print its arguments its own way (KeyError quotes them).
        "__str__": BaseException.__str__, "__repr__": BaseException.__repr__,
        "__reduce__": _reduce_both,
    }
    try:
        return type(name, (base, cls), namespace)
    except Exception as why:  # noqa: BLE001 - final classes, layout clashes, odd metaclasses
        log.debug("cannot subclass %s and %s: %s", base.__name__, cls.__name__, why)
        return None


def _reduce_both(exc: BaseException) -> tuple:
    # The class is made on the fly, so it is rebuilt from its parts.
    base, cls = type(exc).__bases__
    return _rebuild_both, (base, cls, str(exc), dict(exc.__dict__))


def _rebuild_both(base, cls, message: str, fields: dict) -> BaseException:
    exc = instance_of_both(base, cls, message, fields)
    if exc is None:
        exc = base.__new__(base, message)
        BaseException.__init__(exc, message)
        exc.__dict__.update(fields)
    return exc
