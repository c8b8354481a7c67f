"""An executor: one spawned process that runs chunks for a worker daemon, one at a time.

The daemon talks to it over a pipe:

    daemon ──("run", request)──► executor      request: task range, seed, blob hashes,
    daemon ◄──("start", task)─── executor      (only with a per-task timeout or retries)
    daemon ◄──("result", ...)─── executor      (same: one per task)
    daemon ◄──("done", values, failures)──     one per chunk otherwise

Objects unpickled from blobs (function, common arguments, objects) are kept in an LRU
of ``CACHE_ITEMS`` entries that the daemon mirrors exactly, so it sends the bytes of a
blob only to executors that don't hold it yet. Cancelling a chunk kills this process.
"""

from __future__ import annotations

import collections
import ctypes
import logging
import os
import signal
import sys
from typing import Any

CACHE_ITEMS = 32

log = logging.getLogger("rxgrid.worker.executor")


class BlobFile:
    """A large blob the daemon keeps as a file: executors map it instead of copying it."""

    __slots__ = ("path",)

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (BlobFile, (self.path,))

    def open(self):
        """The blob's bytes as a read-only memory map (arrays unpickled from it are views)."""
        import mmap
        with open(self.path, "rb") as f:
            return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


def blob_bytes(data):
    """bytes, or an mmap for a BlobFile."""
    return data.open() if isinstance(data, BlobFile) else data


class ObjectCache:
    """An LRU of unpickled blobs; the daemon keeps a key-only twin (``remember``)."""

    def __init__(self, capacity: int = CACHE_ITEMS):
        self.capacity = capacity
        self.items: collections.OrderedDict[str, Any] = collections.OrderedDict()

    def remember(self, digest: str, value: Any = None) -> bool:
        """Touch ``digest``; return True if it was new (so its bytes are needed)."""
        if digest in self.items:
            self.items.move_to_end(digest)
            return False
        self.items[digest] = value
        if len(self.items) > self.capacity:
            self.items.popitem(last=False)
        return True


def scrub_secrets(environ=os.environ) -> list[str]:
    """Remove rxgrid's secrets (``RXGRID_*TOKEN*``) from ``environ``; return their names.

    Tasks run arbitrary code: an executor must not hand them the worker's token (a
    worker token receives every job's code) or a client token. The daemon scrubs its own
    environment once it has read its token, so executors start without them; each
    executor scrubs again on start.
    """
    names = [k for k in environ if k.startswith("RXGRID_") and "TOKEN" in k]
    for name in names:
        del environ[name]
    return names


def _die_with_parent() -> None:
    # Linux: the kernel kills us when the daemon dies, even by SIGKILL.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def main(conn, worker_name: str) -> None:
    """Entry point of the executor process."""
    _die_with_parent()
    scrub_secrets()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # One executor per core already fills the machine: Numba's prange threads inside
    # each would only fight over the same cores.
    os.environ.setdefault("NUMBA_NUM_THREADS", os.environ.get("RXGRID_EXECUTOR_THREADS", "1"))
    # numpy loads before "ready"
    from ..runtime import chunk as _chunk
    from ..runtime import seeding as _seeding  # noqa: F401
    from ..runtime import serialize as _serialize

    cache = ObjectCache()
    os.environ["RXGRID_WORKER"] = worker_name
    if os.environ.get("RXGRID_WARM_KERNELS") == "1":
        # Before "ready": a worker registers only once its executors can run a kernel
        # task at full speed (warming in the background made the first seconds of a
        # "ready" cluster slow).
        _warm_kernels()
    conn.send(("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message[0] == "run":
            _run(conn, message[1], cache, _chunk, _serialize, worker_name)
        elif message[0] == "exit":
            return


def _warm_kernels() -> None:
    """Load (or, the first time, compile) the Numba kernels."""
    try:
        from ..kernels import warm
        warm()
    except Exception:  # noqa: BLE001 - a kernel that fails to warm fails in its task instead
        log.exception("warming the kernels failed")


def _load(request: dict, cache: ObjectCache, serialize) -> dict:
    loaded = {}
    for role in ("function", "common", "objects"):
        digest = request.get(role)
        if not digest:
            continue
        data = blob_bytes(request["blobs"].get(digest))
        if cache.remember(digest):
            cache.items[digest] = serialize.loads(data, "function" if role == "function" else
                                                  "job's arguments")
        loaded[role] = cache.items[digest]
    return loaded


def _build_call(request: dict, cache: ObjectCache, chunk_mod, serialize):
    chunk_mod.import_packages(request.get("packages", ()))
    loaded = _load(request, cache, serialize)
    if request.get("kernel"):
        from ..runtime.builtin import kernel_function
        function = kernel_function(request["kernel"], request.get("kernel_params", {}))
    else:
        function = loaded["function"]
    function = chunk_mod.with_objects(function, loaded.get("objects"))
    args, kwargs = loaded.get("common", ((), {}))
    columns = (serialize.loads(blob_bytes(request["chunk_data"]), "per-task arguments")
               if request.get("chunk_data") else None)
    return chunk_mod.ChunkCall(function, args, kwargs, columns, request["first"], request["count"],
                               request["settings"], workdir=request.get("workdir"))


def _run(conn, request: dict, cache, chunk_mod, serialize, worker_name) -> None:
    start = request.get("start", 0)
    per_task = request.get("per_task", False)
    try:
        call = _build_call(request, cache, chunk_mod, serialize)
    except Exception as exc:  # noqa: BLE001 - a chunk that cannot start fails each task
        failure = chunk_mod.describe_failure(request["first"] + start, exc)
        failures = [failure.for_task(request["first"] + i, worker_name)
                    for i in range(start, request["count"])]
        # What the daemon believes this cache holds may now be wrong: start both afresh.
        cache.items.clear()
        conn.send(("done", serialize.dumps([None] * (request["count"] - start)),
                   [_failure_tuple(f) for f in failures], True, {}))
        return
    if per_task:
        for offset in range(start, call.count):
            conn.send(("start", offset))
            value, failure = _one(call, offset, chunk_mod)
            conn.send(("result", offset, _dump_value(value, call.first + offset, serialize)
                       if failure is None else None, _failure_tuple(failure),
                       call.take_side_results()))
            if failure is not None and call.settings.stop_on_failure:
                break
        conn.send(("done", None, [], False, {}))
        return
    values, failures = chunk_mod.run_chunk(call)
    data, more = _dump_values(values, call.first, serialize, chunk_mod)
    side = call.take_side_results()
    if request.get("kernel"):
        # Typed results for clients that don't speak pickle (grpcurl, other languages).
        import json
        side["json"] = [json.dumps(values)]
    conn.send(("done", data, [_failure_tuple(f) for f in failures + more], False, side))


def _one(call, offset: int, chunk_mod):
    try:
        return chunk_mod.run_task(call, offset), None
    except Exception as exc:  # noqa: BLE001 - recorded as the task's failure
        return None, chunk_mod.describe_failure(call.first + offset, exc)


def _dump_value(value, task: int, serialize) -> bytes:
    return serialize.dumps(value, f"result of task {task}")


def _dump_values(values: list, first: int, serialize, chunk_mod) -> tuple[bytes, list]:
    try:
        return serialize.dumps(values, "results"), []
    except Exception:  # noqa: BLE001 - find which results cannot be pickled
        more = []
        for i, value in enumerate(values):
            try:
                serialize.dumps(value)
            except Exception as exc:  # noqa: BLE001
                more.append(chunk_mod.describe_failure(first + i, exc))
                values[i] = None
        return serialize.dumps(values, "results"), more


def _failure_tuple(failure) -> tuple | None:
    if failure is None:
        return None
    return (failure.task, failure.type, failure.message, failure.traceback, failure.pickled)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run executors through the worker daemon")
