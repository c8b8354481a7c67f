"""Pickling of functions, arguments and results, shared by client, worker and executor.

Functions from ``__main__``, a notebook or the user's own modules that are not installed
travel by value (cloudpickle), so a script's helpers work on a remote worker; installed
packages travel by reference and must be importable there.
"""

from __future__ import annotations

import hashlib
import pickle
import site
import sys
import sysconfig
import types

import cloudpickle

from .errors import SerializationError

_INSTALLED_ROOTS = tuple(
    {p for p in (*site.getsitepackages(), site.getusersitepackages(),
                 sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]) if p}
)


def blob_hash(data: bytes) -> str:
    """The content address of ``data``: hex sha256."""
    return hashlib.sha256(data).hexdigest()


def _travels_by_value(module: types.ModuleType) -> bool:
    name = module.__name__.partition(".")[0]
    if name in ("__main__", "rxgrid") or name in sys.builtin_module_names:
        return False
    path = getattr(module, "__file__", None)
    return bool(path) and not path.startswith(_INSTALLED_ROOTS)


def _register_user_modules(obj: object) -> None:
    module = sys.modules.get(getattr(obj, "__module__", None) or "")
    if module is not None and _travels_by_value(module):
        top = sys.modules.get(module.__name__.partition(".")[0], module)
        try:
            cloudpickle.register_pickle_by_value(top)
        except ValueError:
            pass


def dumps(obj: object, what: str = "value") -> bytes:
    """Pickle ``obj`` with cloudpickle; a failure names ``what`` could not be pickled."""
    _register_user_modules(obj)
    try:
        return cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # cloudpickle raises many types: PicklingError, TypeError, ...
        raise SerializationError(
            f"the {what} cannot be pickled, so it cannot be sent to a worker: "
            f"{type(exc).__name__}: {exc}. Pass plain data (numbers, strings, numpy arrays, "
            f"lists/dicts of them) or open resources such as files, locks and connections "
            f"inside the task instead.") from exc


def loads(data: bytes, what: str = "value") -> object:
    """Unpickle ``data``; a missing module is named with what to do about it."""
    try:
        return pickle.loads(data)
    except ModuleNotFoundError as exc:
        raise SerializationError(
            f"the {what} needs module {exc.name!r}, which is not importable here: install it "
            f"on every worker and name it in packages=[{exc.name!r}]") from exc
