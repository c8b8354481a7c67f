"""Pickling of functions, arguments and results, shared by client, worker and executor.

Functions from ``__main__``, a notebook or the user's own modules that are not installed
travel by value (cloudpickle), so a script's helpers work on a remote worker; installed
packages travel by reference and must be importable there.
"""

from __future__ import annotations

import io
import linecache
import pickle
import site
import struct
import sys
import sysconfig
import types

import cloudpickle

from ..errors import SerializationError

_INSTALLED_ROOTS = tuple(
    {p for p in (*site.getsitepackages(), site.getusersitepackages(),
                 sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]) if p}
)


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


# Code pickled by value keeps its file name and the source lines of that file, so a task's
# traceback on a worker shows the user's file, line and code. cloudpickle 3.1.3 replaced
# every by-value code object's co_filename with "<dynamic-code>", and a worker on another
# host (or a notebook cell) has no file to read the lines from anyway.
_CLOUDPICKLE_CODE_REDUCE = cloudpickle.Pickler.dispatch_table[types.CodeType]
_MAX_SOURCE_BYTES = 1 << 20  # a larger file travels without its lines


def _restore_source(rebuild, args: tuple, filename: str, lines: tuple | None) -> types.CodeType:
    """Unpickling side: the code object with its original ``co_filename``; its file's
    lines go into linecache (an entry with no mtime, which ``checkcache`` never drops)."""
    code = rebuild(*args)
    if code.co_filename != filename:
        code = code.replace(co_filename=filename)
    if lines:
        linecache.cache[filename] = (sum(map(len, lines)), None, list(lines), filename)
    return code


class _Pickler(cloudpickle.Pickler):
    """cloudpickle, with each by-value code object's file name and source lines."""

    def __init__(self, file, **kwargs):
        super().__init__(file, **kwargs)
        self._sources: dict[str, tuple | None] = {}  # one tuple per file: pickled once (memo)

    def reducer_override(self, obj):
        if type(obj) is types.CodeType:
            return self._reduce_code(obj)
        return super().reducer_override(obj)

    def _reduce_code(self, code: types.CodeType):
        filename = code.co_filename
        if filename not in self._sources:
            lines = tuple(linecache.getlines(filename))
            self._sources[filename] = lines if 0 < sum(map(len, lines)) <= _MAX_SOURCE_BYTES else None
        rebuild, args = _CLOUDPICKLE_CODE_REDUCE(code)
        return _restore_source, (rebuild, args, filename, self._sources[filename])


# Large buffers (numpy arrays) travel out of band (pickle protocol 5): the blob is a
# frame holding the pickle stream and then each buffer, 64-byte aligned, so a reader can
# rebuild the arrays as views of the blob's memory (bytes or an mmap) without copying.
FRAME_MAGIC = b"RXGF\x00\x01\x00\x00"
_ALIGN = 64
_OUT_OF_BAND_MIN = 64 << 10  # smaller buffers stay in the pickle stream


def _frame(stream: bytes, buffers: list) -> bytes:
    header = FRAME_MAGIC + struct.pack("<QQ", len(stream), len(buffers))
    header += b"".join(struct.pack("<Q", b.nbytes) for b in buffers)
    parts, offset = [header, stream], len(header) + len(stream)
    for b in buffers:
        pad = -offset % _ALIGN
        parts += [b"\x00" * pad, b]
        offset += pad + b.nbytes
    return b"".join(parts)


def _unframe(data) -> tuple[memoryview, list[memoryview]]:
    view = memoryview(data)
    stream_len, count = struct.unpack_from("<QQ", view, len(FRAME_MAGIC))
    sizes = struct.unpack_from(f"<{count}Q", view, len(FRAME_MAGIC) + 16)
    offset = len(FRAME_MAGIC) + 16 + 8 * count
    stream = view[offset:offset + stream_len]
    offset += stream_len
    buffers = []
    for size in sizes:
        offset += -offset % _ALIGN
        buffers.append(view[offset:offset + size])
        offset += size
    return stream, buffers


def in_band_bytes(data) -> int:
    """Bytes of ``data``'s pickle stream: what every reader copies (out-of-band buffers,
    numpy arrays, are mapped instead)."""
    if data[:len(FRAME_MAGIC)] == FRAME_MAGIC:
        return struct.unpack_from("<Q", data, len(FRAME_MAGIC))[0]
    return len(data)


def dumps(obj: object, what: str = "value") -> bytes:
    """Pickle ``obj`` with cloudpickle; a failure names ``what`` could not be pickled.

    Buffers of 64 kB or more (numpy arrays) are framed out of band, so :func:`loads`
    can rebuild them without a copy.
    """
    _register_user_modules(obj)
    buffers: list = []

    def keep_large(buffer: pickle.PickleBuffer) -> bool:
        raw = buffer.raw()
        if raw.nbytes >= _OUT_OF_BAND_MIN:
            buffers.append(raw)
            return False
        return True

    try:
        out = io.BytesIO()
        _Pickler(out, protocol=5, buffer_callback=keep_large).dump(obj)
        stream = out.getvalue()
        return _frame(stream, buffers) if buffers else stream
    except Exception as exc:  # cloudpickle raises many types: PicklingError, TypeError, ...
        raise SerializationError(
            f"the {what} cannot be pickled, so it cannot be sent to a worker: "
            f"{type(exc).__name__}: {exc}. Pass plain data (numbers, strings, numpy arrays, "
            f"lists/dicts of them) or open resources such as files, locks and connections "
            f"inside the task instead.") from exc


def loads(data, what: str = "value") -> object:
    """Unpickle ``data`` (bytes, memoryview or mmap); a missing module is named with
    what to do about it. Out-of-band buffers become views of ``data``: no copy."""
    try:
        if data[:len(FRAME_MAGIC)] == FRAME_MAGIC:
            stream, buffers = _unframe(data)
            return pickle.loads(stream, buffers=buffers)
        return pickle.loads(data)
    except ModuleNotFoundError as exc:
        raise SerializationError(
            f"the {what} needs module {exc.name!r}, which is not importable here: install it "
            f"on every worker and name it in packages=[{exc.name!r}]") from exc
