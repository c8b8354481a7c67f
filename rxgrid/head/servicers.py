"""gRPC servicers of the head: they translate messages into calls on :class:`Head`.

No scheduling or storage logic lives here; a :class:`HeadError` becomes the matching
gRPC status with the head's message, and the head's records (``jobs.py``,
``workers.py``, ``blobs.py``) become messages in the converters at the end of this
module. The blob RPCs both services share are written once (``_BlobMethods``). Each
Cluster call acts as the user whose token it carries (``users.py``): what it creates is
theirs, and another user's job is NOT_FOUND.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal

import grpc

from .._proto import rxgrid_pb2 as pb
from .._proto import rxgrid_pb2_grpc as pb_grpc
from .._version import PROTOCOL_VERSION, __version__
from ..defaults import MAX_MESSAGE_BYTES
from ..states import ACTIVE, TERMINAL, JobState
from . import validate
from .auth import caller
from .core import Head
from .errors import HeadError
from .jobs import ChunkRecord, JobRecord, TaskErrorRecord
from .users import User, Users

log = logging.getLogger("rxgrid.head.servicers")


_CODES = {
    "invalid": grpc.StatusCode.INVALID_ARGUMENT,
    "not_found": grpc.StatusCode.NOT_FOUND,
    "exists": grpc.StatusCode.ALREADY_EXISTS,
    "precondition": grpc.StatusCode.FAILED_PRECONDITION,
    "unavailable": grpc.StatusCode.UNAVAILABLE,
    "storage": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "denied": grpc.StatusCode.PERMISSION_DENIED,
}


def _translate_errors(method):
    """Turn HeadError into a gRPC status; works for unary and streaming handlers."""
    import inspect

    if inspect.isasyncgenfunction(method):
        @functools.wraps(method)
        async def stream(self, request, context):
            try:
                async for item in method(self, request, context):
                    yield item
            except HeadError as exc:
                await context.abort(_CODES[exc.code], str(exc))
        return stream

    @functools.wraps(method)
    async def unary(self, request, context):
        try:
            return await method(self, request, context)
        except HeadError as exc:
            await context.abort(_CODES[exc.code], str(exc))
    return unary


class _BlobMethods:
    """PutBlob, PutBlobFile, LocateBlob and GetBlob, the same for both services.

    A service says who may read a blob (``_check_readable``) and counts what it sends
    (``_count_sent``); everything else is :class:`~rxgrid.head.blobs.Blobs`.
    """

    head: Head

    def _check_readable(self, digest: str, context) -> None:
        """Raise HeadError("not_found") if the caller may not read this blob."""

    def _count_sent(self, size: int, context) -> None:
        """Account ``size`` bytes of a blob streamed to the caller."""

    @_translate_errors
    async def PutBlob(self, request_iterator, context):
        stored = await self.head.blobs.receive((p.hash, p.data) async for p in request_iterator)
        return pb.BlobRef(hash=stored.hash, size=stored.size)

    @_translate_errors
    async def PutBlobFile(self, request, context):
        stored = await self.head.blobs.adopt(request.name, request.hash)
        return pb.BlobRef(hash=stored.hash, size=stored.size)

    @_translate_errors
    async def LocateBlob(self, request, context):
        self._check_readable(request.hash, context)
        where = self.head.blobs.locate(request.hash)
        return pb.BlobLocation(path=where.path, size=where.size)

    @_translate_errors
    async def GetBlob(self, request, context):
        self._check_readable(request.hash, context)
        first = True
        for data, total in self.head.blobs.pieces(request.hash):
            self._count_sent(len(data), context)
            yield pb.BlobPiece(hash=request.hash if first else "", data=data,
                               total_size=total if first else 0)
            first = False


class ClusterService(_BlobMethods, pb_grpc.ClusterServicer):
    """What clients call."""

    def __init__(self, head: Head, users: Users | None = None):
        self.head = head
        self.users = users

    def _user(self, context) -> User:
        return caller(self.users, context.invocation_metadata())

    def _job(self, job_id: str, context) -> JobRecord:
        """The job's record if the caller may see it; else NOT_FOUND, as for a missing job."""
        return self.head.job_info_for(job_id, self._user(context))

    @_translate_errors
    async def Connect(self, request, context):
        if request.protocol_version != PROTOCOL_VERSION:
            raise HeadError("precondition", f"client speaks protocol {request.protocol_version}, "
                                            f"this head speaks {PROTOCOL_VERSION}: use the same "
                                            f"rxgrid version as the head ({__version__})")
        return pb.ConnectReply(protocol_version=PROTOCOL_VERSION, head_version=__version__,
                               total_slots=self.head.total_slots(),
                               workers=len(self.head.workers.connected()),
                               max_message_bytes=MAX_MESSAGE_BYTES,
                               blob_inbox=self.head.blobs.inbox_path())

    @_translate_errors
    async def SubmitJob(self, request, context):
        return job_info(await self.head.submit(request, owner=self._user(context).name))

    @_translate_errors
    async def RunJob(self, request, context):
        return await self._run(request, self._user(context))

    async def Exec(self, request_iterator, context):
        user = self._user(context)
        async for spec in request_iterator:
            try:
                outcome = await self._run(spec, user)
            except HeadError as exc:
                outcome = pb.JobOutcome(error_code=_CODES[exc.code].name, error=str(exc))
            await context.write(outcome)
            if self.head.test_kill_before_commit:  # test-only: see Head.__init__
                os.kill(os.getpid(), signal.SIGKILL)

    async def _run(self, request: pb.JobSpec, user: User) -> pb.JobOutcome:
        """Submit a job, wait for its end, and gather its results into one outcome."""
        events: asyncio.Queue = asyncio.Queue()
        info = self.head.submit_waiting(request, events, owner=user.name)
        outcome, size = pb.JobOutcome(complete=True), 0
        try:
            while True:
                kind, payload = await events.get()
                if kind == "error":
                    raise payload
                if kind == "end":
                    outcome.info.CopyFrom(job_info(payload))
                    break
                if kind == "chunk" and outcome.complete:
                    size += payload.ByteSize()
                    if size > MAX_MESSAGE_BYTES // 2:
                        outcome.complete = False  # too big for one reply: the client streams them
                        del outcome.chunks[:]
                    else:
                        outcome.chunks.append(payload)
        finally:
            self.head.stop_waiting(info.job_id, events)
        if outcome.complete:
            if request.auto_cleanup:
                await self.head.mark_collected(info.job_id, request)
            return outcome
        self.head.metrics.blocking_results_streamed += 1
        if outcome.info.collected:
            # Too big for one reply: not collected until the client has streamed them.
            await self.head.repository.set_collected(info.job_id, False)
            outcome.info.collected = False
        return outcome

    @_translate_errors
    async def GetJob(self, request, context):
        return job_info(self._job(request.job_id, context))

    @_translate_errors
    async def WatchJob(self, request, context):
        self._job(request.job_id, context)
        async for kind, payload in self.head.watch(request.job_id, request.results,
                                                   request.progress):
            yield (pb.JobEvent(chunk=chunk_result(payload)) if kind == "chunk"
                   else pb.JobEvent(info=job_info(payload)))
        if request.results and self.head.job_info(request.job_id).state == JobState.FINISHED:
            await self.head.mark_collected(request.job_id)

    @_translate_errors
    async def GetResults(self, request, context):
        info = self._job(request.job_id, context)
        for chunk in self.head.stored_results(request.job_id):
            yield chunk_result(chunk)
        if info.state == JobState.FINISHED:
            await self.head.mark_collected(request.job_id)

    @_translate_errors
    async def GetErrors(self, request, context):
        self._job(request.job_id, context)
        return pb.ErrorsReply(errors=[task_error(e) for e in self.head.errors(request.job_id)])

    @_translate_errors
    async def ListFiles(self, request, context):
        self._job(request.job_id, context)
        return pb.FilesReply(files=[pb.TaskFile(**vars(f))
                                     for f in self.head.task_files(request.job_id)])

    @_translate_errors
    async def GetLogs(self, request, context):
        self._job(request.job_id, context)
        task = None if request.all_tasks else request.task
        return pb.LogsReply(outputs=[pb.TaskOutput(**vars(o))
                                     for o in self.head.task_logs(request.job_id, task)])

    @_translate_errors
    async def CancelJob(self, request, context):
        self._job(request.job_id, context)
        info, cancelled = await self.head.cancel(request.job_id)
        return pb.CancelReply(job=job_info(info), cancelled=cancelled)

    @_translate_errors
    async def ListJobs(self, request, context):
        if request.state and request.state not in ACTIVE | TERMINAL:
            raise HeadError("invalid", f"unknown state {request.state!r}: use one of "
                                       f"{', '.join(JobState)}")
        jobs = self.head.list_jobs(request.state, request.since, request.until, request.limit,
                                   request.service, self._user(context))
        return pb.ListJobsReply(jobs=[job_info(j) for j in jobs])

    @_translate_errors
    async def Cleanup(self, request, context):
        validate.job_ids(request.job_ids)
        removed, refused, reason = await self.head.cleanup(list(request.job_ids), request.force,
                                                           self._user(context))
        return pb.CleanupReply(removed=removed, refused=refused, reason=reason)

    @_translate_errors
    async def ListWorkers(self, request, context):
        return pb.ListWorkersReply(workers=[pb.WorkerInfo(**vars(w))
                                            for w in self.head.list_workers()])

    @_translate_errors
    async def PublishService(self, request, context):
        return await self.head.services.publish(request, owner=self._user(context).name)

    @_translate_errors
    async def GetService(self, request, context):
        return self.head.services.get(request.name, request.version)

    @_translate_errors
    async def ListServices(self, request, context):
        return pb.ListServicesReply(services=self.head.services.list())

    @_translate_errors
    async def DeleteService(self, request, context):
        return await self.head.services.delete(request.name, request.version,
                                               self._user(context))

    @_translate_errors
    async def DiskUsage(self, request, context):
        return pb.UsageReply(**vars(self.head.usage()))

    def _check_readable(self, digest: str, context) -> None:
        if not self.head.may_read_blob(digest, self._user(context)):
            raise HeadError("not_found", f"no blob {digest[:12]}... on the head")

    @_translate_errors
    async def MissingBlobs(self, request, context):
        hashes = validate.blob_names(request.hashes)
        missing = set(self.head.blobs.missing(hashes))
        user = self._user(context)
        if not user.admin:
            # Another user's blob answers "missing", as for GetBlob: whether it exists must
            # not tell anyone what others uploaded. The client sends it again; the store,
            # named by content, keeps one copy.
            missing.update(h for h in hashes if h not in missing and not self.head.may_read_blob(h, user))
        return pb.BlobQueryReply(missing=[h for h in hashes if h in missing])


class WorkerLinkService(_BlobMethods, pb_grpc.WorkerLinkServicer):
    """What worker daemons call."""

    def __init__(self, head: Head):
        self.head = head

    @_translate_errors
    async def Register(self, request, context):
        if request.protocol_version != PROTOCOL_VERSION:
            raise HeadError("precondition", f"worker speaks protocol {request.protocol_version}, "
                                            f"this head speaks {PROTOCOL_VERSION}: install the "
                                            f"same rxgrid version on head and workers")
        validate.registration(request)
        workers = self.head.workers
        session = workers.register(request.name or f"{request.host}-{request.pid}",
                                   request.host, request.cores, request.pid)
        return pb.RegisterReply(name=session.name, heartbeat_interval=workers.heartbeat_interval,
                                lease_timeout=workers.lease_timeout, session=session.token,
                                blob_inbox=self.head.blobs.inbox_path())

    async def Session(self, request_iterator, context):
        meta = dict(context.invocation_metadata())
        try:
            session = self.head.open_session(meta.get("rxgrid-worker", ""),
                                             meta.get("rxgrid-session", ""))
        except HeadError as exc:
            await context.abort(_CODES[exc.code], str(exc))
        reader = _spawn_reader(self.head, session, request_iterator)
        try:
            while True:
                msg = await session.outbox.get()
                if msg is None:
                    break
                await context.write(msg)
        finally:
            reader.cancel()
            self.head.close_session(session)

    def _count_sent(self, size: int, context) -> None:
        worker = dict(context.invocation_metadata()).get("rxgrid-worker", "")
        session = self.head.workers.sessions.get(worker)
        if session is not None:
            session.blob_bytes_sent += size


def _spawn_reader(head: Head, session, request_iterator):
    async def read() -> None:
        try:
            async for msg in request_iterator:
                if msg.WhichOneof("msg") == "done":
                    # Chunk results are handled concurrently so their writes share commits.
                    asyncio.create_task(head.worker_message(session, msg))
                else:
                    await head.worker_message(session, msg)
        except Exception as exc:  # noqa: BLE001 - any stream failure means the worker is gone
            log.info("stream of worker %s ended: %s", session.name, exc)
        finally:
            session.outbox.put_nowait(None)

    return asyncio.create_task(read())


# -------------------------------------------------------------------- records as messages
def job_info(record: JobRecord) -> pb.JobInfo:
    """A job's record as the wire's JobInfo (the same fields)."""
    return pb.JobInfo(**vars(record))


def task_error(record: TaskErrorRecord) -> pb.TaskError:
    """A stored task error as the wire carries it (``exception``: the pickled exception)."""
    return pb.TaskError(**vars(record))


def chunk_result(chunk: ChunkRecord | pb.ChunkResult) -> pb.ChunkResult:
    """A stored chunk result as a message; a live one is the worker's message already."""
    if isinstance(chunk, pb.ChunkResult):
        return chunk
    fields = dict(vars(chunk), errors=[task_error(e) for e in chunk.errors])
    return pb.ChunkResult(**fields)
