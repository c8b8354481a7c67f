"""The worker daemon: registers with the head, keeps one stream open, runs chunks.

    head ──Session stream──► _read ──assign──► _run_chunk ─► Slot.run (thread) ─► executor
                 ▲                                              │
                 └──── _write ◄── outbox ◄── ChunkDone ◄────────┘

Chunks keep running while the head is away; their results wait in the outbox and go
out after the daemon has registered again (with backoff). The head takes results only
on leases of the daemon's current session, so those late ones are ignored: the head
requeued their chunks when the old session ended.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import logging
import os
import random
import shutil
import signal
import socket
import tempfile
import time

import grpc

from .._proto import rxgrid_pb2 as pb
from .._proto import rxgrid_pb2_grpc as pb_grpc
from .._version import PROTOCOL_VERSION
from ..runtime.chunk import TaskSettings
from ..transport import blobfiles as _blobfiles
from ..transport.channel import ChannelSettings
from ..transport.errors import PROTOCOL_MISMATCH, reason_of
from ..transport.wire import recipe_options, seconds
from .executor import BlobFile, scrub_secrets
from .slot import ChunkWork, SimulatedSlot, Slot

log = logging.getLogger("rxgrid.worker")

INLINE_RESULT_LIMIT = 1 << 20


FILE_BLOB_BYTES = 1 << 20  # blobs this large are kept as files that executors map


class BlobCache:
    """Blobs by hash, bounded in total size, least recently used dropped first.

    Small blobs are kept as bytes; large ones as files in ``directory``, handed to the
    executors as :class:`BlobFile` so each maps the same pages instead of copying them
    through its pipe (a 200 MB argument costs one file, not one copy per executor).
    """

    def __init__(self, max_bytes: int, directory: str):
        self.max_bytes = max_bytes
        self.directory = directory
        self.size = 0
        self._items: collections.OrderedDict[str, tuple] = collections.OrderedDict()

    def get(self, digest: str):
        """bytes, a BlobFile, or None."""
        item = self._items.get(digest)
        if item is None:
            return None
        self._items.move_to_end(digest)
        return item[0]

    def put(self, digest: str, data: bytes) -> None:
        if digest in self._items:
            return
        if len(data) >= FILE_BLOB_BYTES:
            path = self.path(digest)
            with open(path, "wb") as f:
                f.write(data)
            self._add(digest, BlobFile(path), len(data))
        else:
            self._add(digest, data, len(data))

    def path(self, digest: str) -> str:
        return os.path.join(self.directory, digest)

    def add_file(self, digest: str, size: int) -> None:
        """Record a blob already written to ``path(digest)``."""
        self._add(digest, BlobFile(self.path(digest)), size)

    def _add(self, digest: str, value, size: int) -> None:
        self._items[digest] = (value, size)
        self.size += size
        while self.size > self.max_bytes and len(self._items) > 1:
            _, (old, old_size) = self._items.popitem(last=False)
            self.size -= old_size
            if isinstance(old, BlobFile):
                # Executors that mapped it keep their pages; the name goes now.
                with contextlib.suppress(OSError):
                    os.unlink(old.path)


class WorkerDaemon:
    """One worker: ``cores`` executor slots fed by one head."""

    def __init__(self, head: str, cores: int, name: str = "", cache_bytes: int = 2 << 30,
                 max_attempts: int = 3, settings: ChannelSettings | None = None,
                 simulate: bool = False, task_delay: float = 0.0):
        self.head = head
        self.settings = settings or ChannelSettings.from_env("RXGRID_WORKER_TOKEN")
        self._auth = self.settings.metadata()
        # Read once above; from here on executors (spawned with this environment) and
        # the tasks in them never see a token.
        scrub_secrets()
        # Tasks that submit jobs of their own (a model fit's driver) find the head here.
        os.environ.setdefault("RXGRID_HEAD", head)
        self.cores = cores
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.blobs = BlobCache(cache_bytes, _blob_directory())
        self.slots = ([SimulatedSlot(i, task_delay) for i in range(cores)] if simulate
                      else [Slot(i, self.name, max_attempts, threads=cores) for i in range(cores)])
        self._free: asyncio.Queue | None = None
        self._outbox: asyncio.Queue | None = None
        self._running: dict[int, Slot | None] = {}
        self._cancelled: set[int] = set()
        self._stub: pb_grpc.WorkerLinkStub | None = None
        self._blobs: pb_grpc.BlobsStub | None = None
        self._stopping = False
        # Try the head's blob files before streaming them (RXGRID_LOCAL_BLOBS=0: never).
        self._local_files = _blobfiles.enabled()
        self._inbox = ""  # the head's inbox, from its RegisterWorkerResponse

    # ---------------------------------------------------------------- life cycle
    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Start the executors, then serve the head until ``stop`` is set."""
        self._free, self._outbox = asyncio.Queue(), asyncio.Queue()
        self._taking = asyncio.Lock()
        await asyncio.gather(*(s.start() for s in self.slots))
        for slot in self.slots:
            self._free.put_nowait(slot)
        log.info("worker %s: %d executors ready", self.name, self.cores)
        stop = stop or asyncio.Event()
        serving = asyncio.create_task(self._serve_forever())
        await stop.wait()
        self._stopping = True
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        for slot in self.slots:
            slot.kill()
        shutil.rmtree(self.blobs.directory, ignore_errors=True)

    async def _serve_forever(self) -> None:
        delay = 0.1
        while not self._stopping:
            started = time.monotonic()
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except grpc.aio.AioRpcError as exc:
                if exc.code() in (grpc.StatusCode.UNAUTHENTICATED,
                                  grpc.StatusCode.PERMISSION_DENIED):
                    log.error("head %s refused worker %s: %s", self.head, self.name, exc.details())
                elif exc.code() in (grpc.StatusCode.FAILED_PRECONDITION,
                                    grpc.StatusCode.INVALID_ARGUMENT):
                    log.error("head refused worker %s: %s", self.name, exc.details())
                    if (exc.code() == grpc.StatusCode.INVALID_ARGUMENT
                            or reason_of(exc).reason == PROTOCOL_MISMATCH):
                        raise SystemExit(2) from exc
                else:
                    log.warning("lost the head at %s (%s); reconnecting", self.head, exc.code().name)
            except Exception:  # noqa: BLE001 - keep the daemon alive through anything
                log.exception("worker session failed; reconnecting")
            if time.monotonic() - started > 5:
                delay = 0.1
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 5.0)

    async def _session(self) -> None:
        async with self.settings.aio_channel(self.head) as channel:
            self._stub = stub = pb_grpc.WorkerLinkStub(channel)
            self._blobs = pb_grpc.BlobsStub(channel)
            reply = await stub.RegisterWorker(pb.RegisterWorkerRequest(
                protocol_version=PROTOCOL_VERSION, name=self.name, host=socket.gethostname(),
                cores=self.cores, pid=os.getpid()), metadata=self._auth)
            self.name = reply.name
            self._inbox = reply.blob_inbox if self._local_files else ""
            call = stub.RunSession(metadata=(("rxgrid-worker", reply.name),
                                             ("rxgrid-session", reply.session)) + self._auth)
            log.info("worker %s connected to head %s", self.name, self.head)
            tasks = [asyncio.create_task(self._write(call)),
                     asyncio.create_task(self._heartbeat(seconds(reply.heartbeat_interval)))]
            try:
                async for msg in call:
                    self._handle(msg)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _write(self, call) -> None:
        pending = None
        try:
            while True:
                pending = await self._outbox.get()
                await call.write(pending)
                pending = None
        finally:
            if pending is not None and pending.WhichOneof("msg") == "done":
                # Not sent: keep it for the next session.
                self._outbox.put_nowait(pending)

    async def _heartbeat(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            self._outbox.put_nowait(pb.RunSessionRequest(heartbeat=pb.Heartbeat()))

    # ---------------------------------------------------------------- chunks
    def _handle(self, msg: pb.RunSessionResponse) -> None:
        kind = msg.WhichOneof("msg")
        if kind == "assign":
            self._running[msg.assign.lease] = None
            asyncio.create_task(self._run_chunk(msg.assign))
        elif kind == "cancel":
            for lease in msg.cancel.leases:
                self._cancel(lease)

    def _cancel(self, lease: int) -> None:
        if lease not in self._running:
            return
        self._cancelled.add(lease)
        slot = self._running[lease]
        if slot is not None:
            log.info("cancelling lease %d: killing its executor", lease)
            slot.cancel(lease)

    async def _run_chunk(self, a: pb.ChunkAssignment) -> None:
        try:
            for blob in a.blobs:
                self.blobs.put(blob.hash, blob.data)
            await self._fetch_missing(a)
            slots = await self._take_slots(a.recipe.cores or 1)
            slot = slots[0]  # runs the chunk; the others stay idle: its Numba threads use them
            try:
                if a.lease in self._cancelled:
                    return
                self._running[a.lease] = slot
                outcome = await slot.run(self._work(a))
            finally:
                for taken in slots:
                    self._free.put_nowait(taken)
            if outcome is None or a.lease in self._cancelled:
                return
            result = pb.ChunkResult(job_id=a.job_id, chunk=a.chunk, first_task=a.first_task,
                                    num_tasks=a.num_tasks, worker=self.name, errors=[
                                        pb.TaskError(task=t, type=ty, message=m, traceback=tb,
                                                     worker=self.name, exception=exc)
                                        for t, ty, m, tb, exc in outcome.failures],
                                    outputs=[pb.TaskOutput(task=t, stdout=o, stderr=e)
                                             for t, o, e in outcome.outputs])
            await self._attach_results(result, outcome)
            for task, path, data in outcome.files:
                digest = await self._upload(data)
                result.files.add(task=task, path=path, blob=digest, size=len(data))
            self._outbox.put_nowait(pb.RunSessionRequest(done=pb.ChunkDone(lease=a.lease, result=result)))
        except Exception as exc:  # noqa: BLE001 - reported as the chunk's failure, never silent
            log.exception("chunk %d of job %s could not run here", a.chunk, a.job_id)
            self._report_broken_chunk(a, exc)
        finally:
            self._running.pop(a.lease, None)
            self._cancelled.discard(a.lease)

    async def _take_slots(self, n: int) -> list:
        """``n`` free slots for one chunk (the head leases no more than are free). One
        taker at a time, so two wide chunks never each hold half of what they need."""
        async with self._taking:
            return [await self._free.get() for _ in range(n)]

    def _report_broken_chunk(self, a: pb.ChunkAssignment, exc: Exception) -> None:
        # Without a report the chunk would stay leased to us forever.
        message = f"worker {self.name} could not run this chunk: {type(exc).__name__}: {exc}"
        errors = [pb.TaskError(task=t, type="WorkerError", message=message, worker=self.name)
                  for t in range(a.first_task, a.first_task + a.num_tasks)]
        result = pb.ChunkResult(job_id=a.job_id, chunk=a.chunk, first_task=a.first_task,
                                num_tasks=a.num_tasks, worker=self.name, errors=errors)
        self._outbox.put_nowait(pb.RunSessionRequest(done=pb.ChunkDone(lease=a.lease, result=result)))

    def _work(self, a: pb.ChunkAssignment) -> ChunkWork:
        """The one converter from the wire's TaskRecipe to what a slot runs."""
        r, options = a.recipe, recipe_options(a.recipe)
        return ChunkWork(
            lease=a.lease, job_id=a.job_id, first=a.first_task, count=a.num_tasks,
            blob=self._blob_or_fail, function=r.function_blob, common=r.common_blob,
            objects=r.objects_blob, chunk_data=self.blobs.get(a.chunk_blob) if a.chunk_blob else b"",
            timeout=options.get("timeout", 0.0), packages=options["packages"], kernel=r.kernel.name,
            kernel_params=dict(r.kernel.params), settings=TaskSettings.from_options(options))

    def _blob_or_fail(self, digest: str) -> bytes:
        data = self.blobs.get(digest)
        if data is None:
            raise RuntimeError(f"blob {digest[:12]} left the cache before its chunk ran")
        return data

    async def _fetch_missing(self, a: pb.ChunkAssignment) -> None:
        for digest in (a.recipe.function_blob, a.recipe.common_blob, a.chunk_blob, a.recipe.objects_blob):
            if digest and self.blobs.get(digest) is None:
                await self._fetch(digest)

    async def _fetch(self, digest: str) -> None:
        """Get a blob from the head: link or copy its file when the head is on this host,
        else stream it (straight to a file when it is large)."""
        if await self._take_local_file(digest):
            return
        call = self._blobs.GetBlob(pb.GetBlobRequest(hash=digest),
                                  metadata=(("rxgrid-worker", self.name),) + self._auth)
        pieces, out, size, hasher = [], None, 0, hashlib.sha256()
        async for piece in call:
            if out is None and piece.total_size >= FILE_BLOB_BYTES:
                out = open(self.blobs.path(digest) + ".part", "wb")
            if out is not None:
                out.write(piece.data)
            else:
                pieces.append(piece.data)
            hasher.update(piece.data)
            size += len(piece.data)
        if hasher.hexdigest() != digest:  # never run a task on bytes that are not what was named
            if out is not None:
                out.close()
                os.unlink(self.blobs.path(digest) + ".part")
            raise RuntimeError(f"blob {digest[:12]} from the head does not match its hash")
        if out is None:
            self.blobs.put(digest, b"".join(pieces))
            return
        out.close()
        os.replace(self.blobs.path(digest) + ".part", self.blobs.path(digest))
        self.blobs.add_file(digest, size)

    async def _take_local_file(self, digest: str) -> bool:
        """Link (or copy) the head's file of a blob into this worker's cache, if the head
        is on this host. A 200 MB argument then costs a link, not a 200 MB stream per
        worker. False when that is not possible (another host, a small blob, an old head)."""
        if not self._local_files:
            return False
        try:
            where = await self._blobs.LocateBlob(pb.LocateBlobRequest(hash=digest),
                                                 metadata=(("rxgrid-worker", self.name),) + self._auth)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                self._local_files = False
            return False
        if where.size < FILE_BLOB_BYTES or not where.path:
            return False
        if await asyncio.to_thread(self._link_or_copy, where.path, where.size, digest):
            return True
        self._local_files = False  # another host (or no access): stream from now on
        return False

    def _link_or_copy(self, source: str, size: int, digest: str) -> bool:
        target = self.blobs.path(digest)
        try:
            if os.stat(source).st_size != size:
                return False
            try:
                os.link(source, target)
            except OSError:  # another file system, or links not allowed: copy it
                shutil.copyfile(source, target + ".part")
                os.replace(target + ".part", target)
            if os.stat(target).st_size != size:
                os.unlink(target)
                return False
        except OSError:  # not on this host (no such file), or not readable: stream it
            with contextlib.suppress(OSError):
                os.unlink(target + ".part")
            return False
        self.blobs.add_file(digest, size)
        log.debug("blob %s taken from the head's file %s", digest[:12], source)
        return True

    async def _put_file(self, data: bytes, digest: str) -> bool:
        """Hand a large result to a head on this host as a file in its inbox."""
        inbox = self._inbox
        if not inbox:
            return False
        name = await asyncio.to_thread(_blobfiles.write_into_inbox, inbox, data)
        if name is None:
            self._inbox = ""
            return False
        try:
            await self._blobs.PutBlobFile(pb.PutBlobFileRequest(name=name, hash=digest),
                                          metadata=self._auth)
            return True
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNAVAILABLE:
                raise
            log.debug("result %s not handed over as a file (%s); streaming it", digest[:12],
                      exc.details())
            self._inbox = ""
            return False
        finally:
            _blobfiles.discard(inbox, name)

    async def _attach_results(self, result: pb.ChunkResult, outcome) -> None:
        """The values, one of: a built-in kernel's as JSON, pickled inline, or a blob."""
        data = outcome.results
        if outcome.json:
            result.results_json = outcome.json
        elif len(data) <= INLINE_RESULT_LIMIT:
            result.results = data
        else:
            result.results_blob = await self._upload(data)

    async def _upload(self, data: bytes) -> str:
        """Store ``data`` on the head as a blob (as a file when the head is on this host,
        else in 1 MB pieces); return its hash."""
        from .._paths import blob_hash

        digest = blob_hash(data)
        if len(data) >= FILE_BLOB_BYTES and await self._put_file(data, digest):
            return digest

        async def pieces():
            for i in range(0, max(len(data), 1), 1 << 20):
                yield pb.PutBlobRequest(hash=digest if i == 0 else "", data=data[i:i + (1 << 20)])

        await self._blobs.PutBlob(pieces(), metadata=self._auth)
        return digest


def _blob_directory() -> str:
    """A fresh folder for file blobs; folders left by daemons that died are removed."""
    base = tempfile.gettempdir()
    for entry in os.listdir(base):
        if entry.startswith("rxgrid-blobs-"):
            pid = entry.split("-")[2]
            if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
                shutil.rmtree(os.path.join(base, entry), ignore_errors=True)
    return tempfile.mkdtemp(prefix=f"rxgrid-blobs-{os.getpid()}-")


def run_worker(head: str, cores: int, name: str = "", parent_pid: int = 0, **options) -> None:
    """Run a worker daemon in the foreground until SIGINT/SIGTERM or the parent exits."""
    asyncio.run(_main(head, cores, name, parent_pid, **options))


async def _main(head: str, cores: int, name: str, parent_pid: int, count: int = 1,
                **options) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if parent_pid:
        asyncio.create_task(_exit_with_parent(parent_pid, stop))
    # Simulated workers are cheap: many share one process and one event loop.
    names = [name] if count == 1 else [f"{name or socket.gethostname()}-sim{i}" for i in range(count)]
    await asyncio.gather(*(WorkerDaemon(head, cores, n, **options).run(stop) for n in names))


async def _exit_with_parent(parent_pid: int, stop: asyncio.Event) -> None:
    while os.getppid() == parent_pid:
        await asyncio.sleep(0.5)
    log.warning("parent process %d is gone: stopping", parent_pid)
    stop.set()
