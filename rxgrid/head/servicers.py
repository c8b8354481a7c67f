"""gRPC servicers of the head: they translate messages into calls on :class:`Head`.

No scheduling or storage logic lives here; a :class:`HeadError` becomes the matching
gRPC status with a ``google.rpc.ErrorInfo`` (``rxgrid.transport.errors``), and the head's
records (``jobs.py``, ``workers.py``, ``blobs.py``) become messages in the converters at
the end of this module. One :class:`BlobsService` serves clients and workers alike. Each
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
from ..states import JobState
from ..transport import errors as wire_errors
from ..transport.wire import duration, job_state, job_state_from_wire, timestamp
from . import validate
from .auth import bearer_token, caller, matches
from .core import Head
from .errors import HeadError, not_found, protocol_mismatch
from .jobs import ChunkRecord, JobRecord, TaskErrorRecord, Usage
from .users import NOBODY, User, Users
from .workers import WorkerStatus

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


def status_of(exc: HeadError) -> grpc.Status:
    """A HeadError as the status (and ErrorInfo) a call ends with."""
    return wire_errors.status(_CODES[exc.code], str(exc), exc.reason, exc.metadata)


async def _abort(context, exc: HeadError) -> None:
    status = status_of(exc)
    await context.abort(status.code, status.details, status.trailing_metadata)


def _refusal(exc: HeadError) -> pb.Refusal:
    """A HeadError carried in band (ExecJobs), as the status RunJob would end with."""
    code = _CODES[exc.code]
    return pb.Refusal(code=code.value[0], message=str(exc), reason=exc.reason or code.name,
                      metadata=exc.metadata)


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
                await _abort(context, exc)
        return stream

    @functools.wraps(method)
    async def unary(self, request, context):
        try:
            return await method(self, request, context)
        except HeadError as exc:
            await _abort(context, exc)
    return unary


class BlobsService(pb_grpc.BlobsServicer):
    """PutBlob, GetBlob, PutBlobFile, LocateBlob and FindMissingBlobs, for clients and
    workers alike.

    A worker (the worker token, or its session's name on a head without tokens) may read
    every blob, and what it is sent is counted on its session; a client reads only what
    its user may (another user's blob is NOT_FOUND, and "missing" to FindMissingBlobs).
    Everything else is :class:`~rxgrid.head.blobs.Blobs`.
    """

    def __init__(self, head: Head, users: Users | None = None, worker_token: str | None = None):
        self.head = head
        self.users = users
        self.worker_token = worker_token

    def _reader(self, context) -> User | None:
        """The user behind a client's call; None for a worker's (which reads every blob)."""
        metadata = context.invocation_metadata()
        if self.worker_token and matches(bearer_token(metadata), self.worker_token):
            return None
        return caller(self.users, metadata) if self.users is not None else NOBODY

    def _check_readable(self, digest: str, context) -> None:
        user = self._reader(context)
        if user is not None and not self.head.queries.may_read_blob(digest, user):
            raise not_found("blob", f"no blob {digest[:12]}... on the head")

    def _count_sent(self, size: int, context) -> None:
        worker = dict(context.invocation_metadata()).get("rxgrid-worker", "")
        session = self.head.workers.sessions.get(worker)
        if session is not None:
            session.blob_bytes_sent += size

    @_translate_errors
    async def PutBlob(self, request_iterator, context):
        stored = await self.head.blobs.receive((p.hash, p.data) async for p in request_iterator)
        return pb.PutBlobResponse(hash=stored.hash, size=stored.size)

    @_translate_errors
    async def PutBlobFile(self, request, context):
        stored = await self.head.blobs.adopt(request.name, request.hash)
        return pb.PutBlobFileResponse(hash=stored.hash, size=stored.size)

    @_translate_errors
    async def LocateBlob(self, request, context):
        self._check_readable(request.hash, context)
        where = self.head.blobs.locate(request.hash)
        return pb.LocateBlobResponse(path=where.path, size=where.size)

    @_translate_errors
    async def GetBlob(self, request, context):
        self._check_readable(request.hash, context)
        first = True
        for data, total in self.head.blobs.pieces(request.hash):
            self._count_sent(len(data), context)
            yield pb.GetBlobResponse(hash=request.hash if first else "", data=data,
                                     total_size=total if first else 0)
            first = False

    @_translate_errors
    async def FindMissingBlobs(self, request, context):
        hashes = validate.blob_names(request.hashes)
        missing = set(self.head.blobs.missing(hashes))
        user = self._reader(context)
        if user is not None and not user.admin:
            # Another user's blob answers "missing", as for GetBlob: whether it exists must
            # not tell anyone what others uploaded. The client sends it again; the store,
            # named by content, keeps one copy.
            readable = self.head.queries.may_read_blob
            missing.update(h for h in hashes if h not in missing and not readable(h, user))
        return pb.FindMissingBlobsResponse(missing=[h for h in hashes if h in missing])


class ClusterService(pb_grpc.ClusterServicer):
    """What clients call."""

    def __init__(self, head: Head, users: Users | None = None):
        self.head = head
        self.users = users

    def _user(self, context) -> User:
        return caller(self.users, context.invocation_metadata())

    def _job(self, job_id: str, context) -> JobRecord:
        """The job's record if the caller may see it; else NOT_FOUND, as for a missing job."""
        return self.head.queries.job_info_for(job_id, self._user(context))

    @_translate_errors
    async def Connect(self, request, context):
        if request.protocol_version != PROTOCOL_VERSION:
            raise protocol_mismatch(f"client speaks protocol {request.protocol_version}, "
                                    f"this head speaks {PROTOCOL_VERSION}: use the same "
                                    f"rxgrid version as the head ({__version__})")
        return pb.ConnectResponse(protocol_version=PROTOCOL_VERSION, head_version=__version__,
                               total_slots=self.head.queries.total_slots(),
                               workers=len(self.head.workers.connected()),
                               max_message_bytes=MAX_MESSAGE_BYTES,
                               blob_inbox=self.head.blobs.inbox_path())

    @_translate_errors
    async def SubmitJob(self, request, context):
        record = await self.head.submit(request.job, owner=self._user(context).name)
        return pb.SubmitJobResponse(job=job_info(record))

    @_translate_errors
    async def RunJob(self, request, context):
        return pb.RunJobResponse(outcome=await self._run(request.job, self._user(context)))

    async def ExecJobs(self, request_iterator, context):
        user = self._user(context)
        async for request in request_iterator:
            try:
                response = pb.ExecJobsResponse(outcome=await self._run(request.job, user))
            except HeadError as exc:
                response = pb.ExecJobsResponse(refusal=_refusal(exc))
            await context.write(response)
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
            self.head.watchers.stop_waiting(info.job_id, events)
        if outcome.complete:
            if request.auto_cleanup:
                await self.head.retention.mark_collected(info.job_id, request)
            return outcome
        self.head.metrics.blocking_results_streamed += 1
        if outcome.info.collected:
            # Too big for one reply: not collected until the client has streamed them.
            await self.head.repository.set_collected(info.job_id, False)
            outcome.info.collected = False
        return outcome

    @_translate_errors
    async def GetJob(self, request, context):
        return pb.GetJobResponse(job=job_info(self._job(request.job_id, context)))

    @_translate_errors
    async def WatchJob(self, request, context):
        self._job(request.job_id, context)
        async for kind, payload in self.head.watchers.watch(request.job_id, request.results,
                                                            request.progress):
            yield (pb.WatchJobResponse(chunk=chunk_result(payload)) if kind == "chunk"
                   else pb.WatchJobResponse(info=job_info(payload)))
        if request.results and self.head.queries.job_info(request.job_id).state == JobState.FINISHED:
            await self.head.retention.mark_collected(request.job_id)

    @_translate_errors
    async def GetResults(self, request, context):
        info = self._job(request.job_id, context)
        for chunk in self.head.queries.stored_results(request.job_id):
            yield pb.GetResultsResponse(chunk=chunk_result(chunk))
        if info.state == JobState.FINISHED:
            await self.head.retention.mark_collected(request.job_id)

    @_translate_errors
    async def GetErrors(self, request, context):
        self._job(request.job_id, context)
        return pb.GetErrorsResponse(errors=[task_error(e) for e in self.head.queries.errors(request.job_id)])

    @_translate_errors
    async def ListFiles(self, request, context):
        self._job(request.job_id, context)
        return pb.ListFilesResponse(files=[pb.TaskFile(**vars(f))
                                           for f in self.head.queries.task_files(request.job_id)])

    @_translate_errors
    async def GetLogs(self, request, context):
        self._job(request.job_id, context)
        task = request.task if request.HasField("task") else None
        return pb.GetLogsResponse(outputs=[pb.TaskOutput(**vars(o))
                                           for o in self.head.queries.task_logs(request.job_id, task)])

    @_translate_errors
    async def CancelJob(self, request, context):
        self._job(request.job_id, context)
        info, cancelled = await self.head.cancel(request.job_id)
        return pb.CancelJobResponse(job=job_info(info), cancelled=cancelled)

    @_translate_errors
    async def ListJobs(self, request, context):
        state = job_state_from_wire(validate.job_state(request.state)) or ""
        since = validate.timestamp(request.since_time, "since_time")
        until = validate.timestamp(request.until_time, "until_time")
        jobs = self.head.queries.list_jobs(state, since, until, request.limit, request.service,
                                           self._user(context))
        return pb.ListJobsResponse(jobs=[job_info(j) for j in jobs])

    @_translate_errors
    async def CleanupJobs(self, request, context):
        validate.job_ids(request.job_ids)
        removed, refused, reason = await self.head.retention.cleanup(
            list(request.job_ids), request.force, self._user(context))
        return pb.CleanupJobsResponse(removed=removed, refused=refused, reason=reason)

    @_translate_errors
    async def ListWorkers(self, request, context):
        return pb.ListWorkersResponse(workers=[worker_info(w) for w in self.head.queries.list_workers()])

    @_translate_errors
    async def PublishService(self, request, context):
        info = await self.head.services.publish(request.service, owner=self._user(context).name)
        return pb.PublishServiceResponse(service=info)

    @_translate_errors
    async def GetService(self, request, context):
        return pb.GetServiceResponse(service=self.head.services.get(request.name, request.version))

    @_translate_errors
    async def ListServices(self, request, context):
        return pb.ListServicesResponse(services=self.head.services.list())

    @_translate_errors
    async def DeleteService(self, request, context):
        info = await self.head.services.delete(request.name, request.version, self._user(context))
        return pb.DeleteServiceResponse(service=info)

    @_translate_errors
    async def GetDiskUsage(self, request, context):
        return disk_usage(self.head.queries.usage())


class WorkerLinkService(pb_grpc.WorkerLinkServicer):
    """What worker daemons call."""

    def __init__(self, head: Head):
        self.head = head

    @_translate_errors
    async def RegisterWorker(self, request, context):
        if request.protocol_version != PROTOCOL_VERSION:
            raise protocol_mismatch(f"worker speaks protocol {request.protocol_version}, "
                                    f"this head speaks {PROTOCOL_VERSION}: install the "
                                    f"same rxgrid version on head and workers")
        validate.registration(request)
        workers = self.head.workers
        session = workers.register(request.name or f"{request.host}-{request.pid}",
                                   request.host, request.cores, request.pid)
        return pb.RegisterWorkerResponse(
            name=session.name, heartbeat_interval=duration(workers.heartbeat_interval),
            lease_timeout=duration(workers.lease_timeout), session=session.token,
            blob_inbox=self.head.blobs.inbox_path())

    async def RunSession(self, request_iterator, context):
        meta = dict(context.invocation_metadata())
        try:
            session = self.head.worker_events.open_session(meta.get("rxgrid-worker", ""),
                                                           meta.get("rxgrid-session", ""))
        except HeadError as exc:
            await _abort(context, exc)
        reader = _spawn_reader(self.head, session, request_iterator)
        try:
            while True:
                msg = await session.outbox.get()
                if msg is None:
                    break
                await context.write(msg)
        finally:
            reader.cancel()
            self.head.worker_events.close_session(session)

def _spawn_reader(head: Head, session, request_iterator):
    async def read() -> None:
        try:
            async for msg in request_iterator:
                if msg.WhichOneof("msg") == "done":
                    # Chunk results are handled concurrently so their writes share commits.
                    asyncio.create_task(head.worker_events.message(session, msg))
                else:
                    await head.worker_events.message(session, msg)
        except Exception as exc:  # noqa: BLE001 - any stream failure means the worker is gone
            log.info("stream of worker %s ended: %s", session.name, exc)
        finally:
            session.outbox.put_nowait(None)

    return asyncio.create_task(read())


# -------------------------------------------------------------------- records as messages
def job_info(record: JobRecord) -> pb.JobInfo:
    """A job's record as the wire's JobInfo: its recipe as submitted, rng_kind filled in."""
    r = record
    info = pb.JobInfo(
        job_id=r.job_id, name=r.name, state=job_state(r.state), priority=r.priority,
        tasks_total=r.tasks_total, tasks_done=r.tasks_done, tasks_failed=r.tasks_failed,
        chunks_total=r.chunks_total, chunks_done=r.chunks_done,
        submit_time=timestamp(r.submitted_at), start_time=timestamp(r.started_at),
        end_time=timestamp(r.finished_at), collected=r.collected, per_node=r.per_node,
        error=r.error, result_bytes=r.result_bytes, single_result=r.single_result,
        service=r.service, owner=r.owner, recipe=r.recipe)
    info.recipe.rng_kind = r.rng_kind
    return info


def worker_info(w: WorkerStatus) -> pb.WorkerInfo:
    """A worker's status as the wire's WorkerInfo."""
    state = pb.WORKER_STATE_CONNECTED if w.state == "connected" else pb.WORKER_STATE_REGISTERING
    return pb.WorkerInfo(name=w.name, host=w.host, cores=w.cores, busy=w.busy, state=state,
                         last_heartbeat_time=timestamp(w.last_heartbeat),
                         register_time=timestamp(w.registered_at), pid=w.pid,
                         chunks_done=w.chunks_done, blob_bytes_sent=w.blob_bytes_sent)


def disk_usage(usage: Usage) -> pb.GetDiskUsageResponse:
    """What the state dir holds; jobs by state keyed by the JobState enum's names."""
    by_state = {pb.JobState.Name(job_state(s)): n for s, n in usage.jobs_by_state.items()}
    return pb.GetDiskUsageResponse(
        state_dir=usage.state_dir, database_bytes=usage.database_bytes,
        blob_bytes=usage.blob_bytes, blobs=usage.blobs, jobs_by_state=by_state,
        result_bytes=usage.result_bytes)


def task_error(record: TaskErrorRecord) -> pb.TaskError:
    """A stored task error as the wire carries it (``exception``: the pickled exception)."""
    return pb.TaskError(**vars(record))


def chunk_result(chunk: ChunkRecord | pb.ChunkResult) -> pb.ChunkResult:
    """A stored chunk result as a message; a live one is the worker's message already.
    Its values are one of the oneof: pickled inline, a blob, or JSON (a kernel's)."""
    if isinstance(chunk, pb.ChunkResult):
        return chunk
    msg = pb.ChunkResult(job_id=chunk.job_id, chunk=chunk.chunk, first_task=chunk.first_task,
                         num_tasks=chunk.num_tasks, worker=chunk.worker,
                         errors=[task_error(e) for e in chunk.errors])
    if chunk.results_blob:
        msg.results_blob = chunk.results_blob
    elif chunk.results_json:
        msg.results_json = chunk.results_json
    else:
        msg.results = chunk.results
    return msg
