"""The head's state machine: jobs and their chunks, from submission to end, on one loop.

Data flow of one job:

    client ─SubmitJob/RunJob─► Head.submit ─► JobRepository.insert ─► Scheduler.add_job
                                                                          │ _dispatch
    worker ◄─ChunkAssignment── WorkerSession.outbox ◄─────────────────────┘
    worker ──ChunkDone──────► Head.chunk_done ─► Scheduler.complete ─► JobRepository (commit)
                                                     │
    client ◄─(chunk results, final JobRecord)────────┘ watchers

A job's states (``JobRecord.state``)::

    queued ──first chunk leased──► running ──every chunk done──► finished
       │                              ├──a task failed (unless continue_on_failure)──► failed
       └──────────────cancel──────────┴──────────────────────────────────────────────► cancelled

What each part owns: ``scheduler.py`` which chunk runs where, ``jobs.py`` all SQL about
jobs and results, ``workers.py`` worker sessions, ``blobs.py`` blobs, ``intake.py`` the
checks, chunk layout and first record of a new job, ``chunks.py`` the assignment sent for
a chunk, the check of the report on it and the job's record after it. The servicers
(``servicers.py``) only translate messages. Everything here runs on the event loop
thread, so no locks are needed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

from .._proto import rxgrid_pb2 as pb
from ..defaults import HEARTBEAT_INTERVAL, LAZY_COMMIT_SECONDS, LEASE_TIMEOUT
from ..states import TERMINAL, JobState
from . import chunks, intake, validate
from .blobs import Blobs
from .errors import HeadError, not_found
from .jobs import (
    ChunkRecord,
    JobQuery,
    JobRecord,
    JobRepository,
    StoredJob,
    TaskErrorRecord,
    TaskFileRecord,
    TaskOutputRecord,
    Usage,
    removable,
)
from .metrics import HeadMetrics
from .scheduler import ChunkLease, Scheduler
from .services import ServiceRegistry
from .store import Store, StoreError
from .users import User
from .workers import WorkerRegistry, WorkerSession, WorkerStatus

log = logging.getLogger("rxgrid.head")


@dataclass(eq=False)
class ActiveJob:
    """A queued or running job: its latest record, its spec and who listens to it."""

    info: JobRecord  # replaced, never changed in place: a record handed out stays as it was
    spec: pb.JobSpec
    watchers: set = field(default_factory=set)
    waiter: asyncio.Queue | None = None  # the client blocked on this job (RunJob, ExecJobs)
    collect_on_finish: bool = False
    inserted: bool = True  # its row is queued for the store (False only inside submit)
    # lease -> (session, chunk) of every lease given out and not yet answered: a worker
    # reports only on a chunk the head leased to its current session.
    leases: dict = field(default_factory=dict)


class Head:
    """Jobs, workers and results of one cluster; call from the event loop only."""

    def __init__(self, store: Store, heartbeat_interval: float = HEARTBEAT_INTERVAL,
                 lease_timeout: float = LEASE_TIMEOUT):
        self.store = store
        self.heartbeat_interval = heartbeat_interval
        self.lease_timeout = lease_timeout
        self.repository = JobRepository(store)
        self.workers = WorkerRegistry(heartbeat_interval, lease_timeout)
        self.scheduler = Scheduler(first_lease=time.time_ns() // 1000)
        self.jobs: dict[str, ActiveJob] = {}
        self.metrics = HeadMetrics()
        self.blobs = Blobs(store, self.metrics)
        self.services = ServiceRegistry(store, self.blobs)
        self._seq = 0
        self._monitor: asyncio.Task | None = None
        self._lease_started: dict[int, float] = {}
        # Test-only (tests/test_faults.py), read once at start; it does nothing unless set
        # to 1. Then a blocking job's last result is never committed, and the ExecJobs
        # servicer SIGKILLs the head once the reply carrying it is written: the head dies
        # between reply and commit, deterministically.
        self.test_kill_before_commit = os.environ.get("RXGRID_TEST_KILL_HEAD_BEFORE_COMMIT") == "1"

    # ================================================================ life cycle
    async def start(self) -> None:
        """Resume unfinished jobs from the store and start watching heartbeats."""
        self._seq = self.repository.last_seq()
        for stored in self.repository.unfinished():
            self._resume(stored)
        self._monitor = asyncio.create_task(self._watch_heartbeats())

    async def stop(self) -> None:
        if self._monitor:
            self._monitor.cancel()
        self.workers.close_all()

    def _resume(self, stored: StoredJob) -> None:
        done = {c.index for c in stored.chunks if c.done}
        self.scheduler.add_job(stored.record.job_id, stored.record.priority, stored.seq,
                               [(c.first, c.count, c.pinned) for c in stored.chunks], done,
                               max_parallel=stored.spec.max_parallel)
        self.jobs[stored.record.job_id] = ActiveJob(stored.record, stored.spec)
        log.info("resumed job %s: %d of %d chunks done", stored.record.job_id, len(done),
                 len(stored.chunks))

    # ================================================================ clients
    async def submit(self, spec: pb.JobSpec, collect: bool = False, owner: str = "") -> JobRecord:
        """Validate, store and queue a job; return its record once it is durable.

        ``collect``: the caller will read every result, so the job is recorded as
        collected in the same commit that records it finished. ``owner``: the user's name.
        """
        job, committed = self._enqueue(spec, collect, None, owner)
        try:
            await committed
        except StoreError as exc:
            raise self._not_stored(job.info.job_id, exc) from exc
        return job.info

    def submit_waiting(self, spec: pb.JobSpec, waiter: asyncio.Queue,
                       owner: str = "") -> JobRecord:
        """Queue a job for a client that blocks until it ends (RunJob, ExecJobs).

        ``waiter`` gets ("chunk", result) for each chunk and ("end", record) as soon as
        they happen, before they are stored (see ``chunk_done``), or ("error",
        HeadError) if the job cannot be stored. Such a client hears nothing before the
        job's end, so the job's own commit may wait a little for company: a job that
        ends within ``LAZY_COMMIT_SECONDS`` is stored, results and all, in one commit
        instead of two. A head that dies before that commit loses only a job whose
        client is still waiting, and that client submits it again.
        """
        job, committed = self._enqueue(spec, True, waiter, owner)
        job_id = job.info.job_id

        def landed(future: asyncio.Future) -> None:
            if not future.cancelled() and future.exception() is not None:
                waiter.put_nowait(("error", self._not_stored(job_id, future.exception())))

        committed.add_done_callback(landed)
        return job.info

    def _enqueue(self, spec: pb.JobSpec, collect: bool, waiter: asyncio.Queue | None,
                 owner: str) -> tuple[ActiveJob, asyncio.Future]:
        """Validate a job, queue its chunks and its insert; return it and its commit."""
        self._refuse_if_store_failed()
        validate.job_spec(spec)
        job_id = intake.job_id(spec.job_id, lambda j: j in self.jobs or self.repository.exists(j))
        layout = intake.chunk_layout(spec, [s.name for s in self.workers.connected()],
                                     self.total_slots())
        intake.check_source(spec, self.blobs.has)
        # Only a job that passed every check stores anything: a refused one leaves no trace.
        for blob in spec.inline_blobs:
            self.blobs.put(blob.data, blob.hash)
        spec.job_id = job_id
        del spec.inline_blobs[:]
        self._seq += 1
        job = self.jobs[job_id] = ActiveJob(
            intake.new_record(spec, job_id, layout, owner), spec, waiter=waiter,
            collect_on_finish=collect, inserted=False)
        # Dispatch before the commit: the assignments leave first and the commit lands
        # long before any result can come back; the client hears of the job only once it
        # is committed (a waiting client: once it has ended).
        self.scheduler.add_job(job_id, spec.priority, self._seq,
                               [(c.first, c.count, c.pinned) for c in layout],
                               max_parallel=spec.max_parallel)
        self.metrics.jobs_submitted += 1
        self.metrics.jobs_submitted_by_owner[owner] += 1
        self._dispatch()
        committed = self.repository.insert(job.info, spec, self._seq, layout,
                                           delay=LAZY_COMMIT_SECONDS if waiter else 0.0)
        job.inserted = True
        log.debug("job %s queued: %d tasks in %d chunks, priority %d",
                  job_id, job.info.tasks_total, len(layout), spec.priority)
        return job, committed

    def _not_stored(self, job_id: str, exc: BaseException) -> HeadError:
        """Drop a job whose insert did not commit; the error tells its client why."""
        job = self.jobs.pop(job_id, None)
        for lease in self.scheduler.cancel_job(job_id):
            self._send_cancel(lease)
        self.scheduler.forget_job(job_id)
        if job is not None:
            _notify(job, ("end", job.info))
        return HeadError("storage", f"job not accepted: the head cannot write its state dir "
                                    f"{self.store.dir} ({exc}). Free disk space there; stored "
                                    f"jobs and results are kept")

    def _refuse_if_store_failed(self) -> None:
        if self.store.write_failure:
            # Retry once with a probe: a transient failure should not block forever.
            try:
                self.repository.probe()
            except StoreError as exc:
                raise HeadError("storage",
                                f"the head cannot write its state dir {self.store.dir} ({exc}); "
                                f"it refuses new work until it can. Free disk space or fix "
                                f"permissions; stored jobs and results are kept") from exc

    def may_read_blob(self, digest: str, user: User) -> bool:
        """May ``user`` fetch this blob? Not another user's results, files or service code."""
        return user.admin or self.repository.blob_readable_by(digest, user.name)

    def total_slots(self) -> int:
        return self.workers.total_slots()

    def job_info(self, job_id: str) -> JobRecord:
        job = self.jobs.get(job_id)
        if job is not None:
            return job.info
        record = self.repository.get(job_id)
        if record is None:
            raise _no_job(job_id)
        return record

    def job_info_for(self, job_id: str, user: User) -> JobRecord:
        """A job's record if ``user`` may see it. Another user's job is "not found", word
        for word like a missing one, so nobody learns which ids others use."""
        info = self.job_info(job_id)
        if not user.may_see(info.owner):
            raise _no_job(job_id)
        return info

    async def watch(self, job_id: str, results: bool,
                    progress: bool) -> AsyncIterator[tuple[str, object]]:
        """Events of a job: ("chunk", result) for its stored results (if asked), ("info",
        record) for progress (if asked), then ("end", its final record)."""
        job = self.jobs.get(job_id)
        if job is None:
            info = self.job_info(job_id)
            if results:
                for chunk in self.stored_results(job_id):
                    yield "chunk", chunk
            yield "end", info
            return
        queue: asyncio.Queue = asyncio.Queue()
        job.watchers.add(queue)
        sent: set[int] = set()
        try:
            if results:
                for chunk in self.stored_results(job_id):
                    sent.add(chunk.chunk)
                    yield "chunk", chunk
            if progress:
                yield "info", job.info
            while True:
                kind, payload = await queue.get()
                if kind == "chunk" and results and payload.chunk not in sent:
                    sent.add(payload.chunk)
                    yield "chunk", payload
                elif kind == "info" and progress:
                    yield "info", payload
                elif kind == "end":
                    yield "end", payload
                    return
        finally:
            job.watchers.discard(queue)

    def stop_waiting(self, job_id: str, queue: asyncio.Queue) -> None:
        """The client behind ``queue`` (the waiter given to ``submit_waiting``) is done."""
        job = self.jobs.get(job_id)
        if job is not None and job.waiter is queue:
            job.waiter = None
            if job.info.state not in TERMINAL:
                # The client left before the end (Ctrl-C, a lost connection): nobody will
                # have read the results, so they must not be recorded as collected.
                job.collect_on_finish = False

    def stored_results(self, job_id: str) -> Iterator[ChunkRecord]:
        """The stored chunk results of a job, in chunk order, with their task errors."""
        return self.repository.results(job_id)

    async def mark_collected(self, job_id: str, spec: pb.JobSpec | None = None) -> None:
        """Record that a client has read every result; clean up if the job asked for it."""
        info = self.job_info(job_id)
        if info.state not in TERMINAL:
            return
        if not info.collected:
            await self.repository.set_collected(job_id)
        spec = spec or self.repository.spec(job_id)
        if spec is not None and spec.auto_cleanup:
            await self.cleanup([job_id], force=True)

    def task_logs(self, job_id: str, task: int | None = None) -> list[TaskOutputRecord]:
        """What the job's tasks printed (jobs run with console_output), by task."""
        self.job_info(job_id)
        return self.repository.task_outputs(job_id, task)

    def task_files(self, job_id: str) -> list[TaskFileRecord]:
        """Files kept from the job's tasks (output_files), by task and path."""
        self.job_info(job_id)
        return self.repository.task_files(job_id)

    def errors(self, job_id: str) -> list[TaskErrorRecord]:
        """Every failed task of the job (read from its own table: no results are loaded)."""
        self.job_info(job_id)
        return self.repository.task_errors(job_id)

    async def cancel(self, job_id: str) -> tuple[JobRecord, bool]:
        """Cancel a queued or running job: queued chunks are dropped, running ones killed."""
        job = self.jobs.get(job_id)
        if job is None:
            return self.job_info(job_id), False
        for lease in self.scheduler.cancel_job(job_id):
            self._send_cancel(lease)
        await self._finish(job, JobState.CANCELLED, "cancelled by request")
        self._dispatch()
        return job.info, True

    def list_jobs(self, state: str, since: float, until: float, limit: int,
                  service: str = "", user: User | None = None) -> list[JobRecord]:
        """Jobs in submission order; only ``user``'s own unless they are an admin."""
        owner = user.name if user is not None and not user.admin else None
        records = self.repository.find(JobQuery(state, since, until, limit, service, owner))
        live = [self.jobs[r.job_id].info if r.job_id in self.jobs else r for r in records]
        return sorted(live, key=lambda i: i.submitted_at)

    async def cleanup(self, job_ids: list[str], force: bool,
                      user: User | None = None) -> tuple[list[str], list[str], str]:
        """Delete terminal jobs and their blobs; uncollected finished ones only with force.

        With ``user``, only jobs they may see: no ids means every ended job of theirs, and
        another user's id is "not found"."""
        if job_ids:
            infos = [self.job_info(j) if user is None else self.job_info_for(j, user)
                     for j in job_ids]
        else:
            infos = [r for r in self.repository.ended() if user is None or user.may_see(r.owner)]
        removed, refused, reasons = removable(infos, force)
        if removed:
            for digest in await self.repository.delete(removed):
                self.blobs.delete(digest)
            log.info("cleaned up %d job(s): %s", len(removed), ", ".join(removed[:10]))
        return removed, refused, reasons

    def usage(self) -> Usage:
        """How much the state dir holds, and the jobs by state."""
        return self.repository.usage(*self.blobs.file_usage())

    def list_workers(self) -> list[WorkerStatus]:
        """Every registered worker, with the chunks it is running."""
        return self.workers.statuses({name: busy for name, (_, busy)
                                      in self.scheduler.workers().items()})

    # ================================================================ workers
    def open_session(self, name: str, token: str) -> WorkerSession:
        """A registered worker's stream opened: it takes chunks from now on."""
        session = self.workers.open(name, token)
        self.scheduler.add_worker(name, session.cores)
        log.info("worker %s connected from %s with %d cores", name, session.host, session.cores)
        self.repository.record_worker(name, session.host, session.cores, session.pid,
                                      session.registered_at, session.last_heartbeat)
        self._dispatch()
        return session

    def close_session(self, session: WorkerSession) -> None:
        """A worker's stream ended or went silent: its running chunks go back to the queue."""
        if not self.workers.is_current(session):
            return
        if self.workers.drop(session):
            self._requeue_chunks_of(session.name)
        self._dispatch()

    def _requeue_chunks_of(self, worker: str) -> None:
        running = [lease for lease in self.scheduler.leased() if lease.worker == worker]
        orphans = self.scheduler.remove_worker(worker)
        self.metrics.chunks_rerun += len(running) - len(orphans)
        for lease in running:
            self._lease_started.pop(lease.lease, None)
        log.warning("worker %s is gone; %d running chunk(s) go back to the queue", worker,
                    len(running) - len(orphans))
        for chunk in orphans:
            asyncio.create_task(self.chunk_done(None, None, chunks.worker_lost(chunk)))

    async def worker_message(self, session: WorkerSession, msg: pb.RunSessionRequest) -> None:
        self.workers.heard_from(session)
        kind = msg.WhichOneof("msg")
        if kind == "done":
            result = self._checked_report(session, msg.done.lease, msg.done.result)
            if result is not None:
                await self.chunk_done(session, msg.done.lease, result)
            else:
                self._dispatch()

    def _checked_report(self, session: WorkerSession, lease: int,
                        result: pb.ChunkResult) -> pb.ChunkResult | None:
        """A worker's chunk result as the head will store it (:func:`chunks.checked_report`),
        or None to ignore it: taken only on a lease the head gave this session for this chunk.
        """
        job = self.jobs.get(result.job_id)
        held = job.leases.get(lease) if job is not None else None
        if held is None or held[0] is not session or held[1] != result.chunk:
            # A lease given up (the worker was lost and its chunk ran elsewhere, or the job
            # ended) or never given: a late result, or a lie. Either way it counts for nothing.
            self.metrics.late_results_ignored += 1
            if job is not None:
                log.warning("worker %s reported on %s chunk %d without holding lease %d: "
                            "ignored", session.name, result.job_id, result.chunk, lease)
            return None
        chunk = self.scheduler.chunk(result.job_id, result.chunk)
        if chunk is None:
            return None
        result, problem = chunks.checked_report(result, chunk, session.name, self.blobs.has)
        if problem:
            log.warning("worker %s sent a bad report on %s chunk %d: %s", session.name,
                        result.job_id, result.chunk, problem)
        return result

    async def chunk_done(self, session: WorkerSession | None, lease: int | None,
                         result: pb.ChunkResult) -> None:
        """Store a chunk's result (once), tell the watchers, schedule more work."""
        accepted, other = self.scheduler.complete(result.job_id, result.chunk, lease)
        started = self._lease_started.pop(lease, None) if lease is not None else None
        job = self.jobs.get(result.job_id)
        if job is not None and lease is not None:
            job.leases.pop(lease, None)
        if other is not None:
            self._send_cancel(other)
            self._lease_started.pop(other.lease, None)
        if not accepted or job is None:
            self.metrics.late_results_ignored += 1
            log.debug("ignored a late result for %s chunk %d", result.job_id, result.chunk)
            self._dispatch()
            return
        if session is not None:
            session.chunks_done += 1
        if started is not None:
            self.metrics.chunk_seconds.observe(time.monotonic() - started)
        with_values = chunks.tasks_with_values(job.spec, result)
        self.metrics.tasks_failed += len(result.errors)
        self.metrics.tasks_finished += with_values
        before = job.info
        job.info = info = chunks.record_after(job.info, job.spec, result, job.collect_on_finish)
        self._dispatch()
        if job.waiter is not None:
            # The blocked client gets its results now (its wakeup is queued before the
            # flush below), so the reply travels while the commit runs. Should the head
            # die before the commit lands, the job runs again with nobody waiting: work
            # repeated, no result lost (the client has them). Other watchers hear only
            # what is stored.
            job.waiter.put_nowait(("chunk", result))
            if info.state in TERMINAL:
                job.waiter.put_nowait(("end", info))
                if self.test_kill_before_commit:
                    await asyncio.get_running_loop().create_future()  # held until the kill
        try:
            await self.repository.record_result(info, result)
        except StoreError:
            log.error("result of %s chunk %d not stored; it will run again", result.job_id,
                      result.chunk)
            job.info = before
            self.scheduler.reopen(result.job_id, result.chunk)
            return
        _notify(job, ("chunk", result))
        if info.state in TERMINAL:
            if info.state == JobState.FAILED:
                for running in self.scheduler.cancel_job(info.job_id):
                    self._send_cancel(running)
            self._retire(job)
        else:
            _notify(job, ("info", job.info))

    async def _finish(self, job: ActiveJob, state: JobState, error: str) -> None:
        job.info = dataclasses.replace(job.info, state=state, finished_at=time.time(), error=error)
        await self.repository.finish(job.info)
        self._retire(job)

    def _retire(self, job: ActiveJob) -> None:
        info = job.info
        if job.waiter is not None:
            job.waiter.put_nowait(("end", info))
        self.jobs.pop(info.job_id, None)
        self.scheduler.forget_job(info.job_id)
        log.debug("job %s %s: %d done, %d failed of %d tasks", info.job_id, info.state,
                  info.tasks_done, info.tasks_failed, info.tasks_total)
        _notify(job, ("end", info))

    # ================================================================ dispatch
    def _dispatch(self) -> None:
        for lease in self.scheduler.assign():
            job = self.jobs[lease.job_id]
            session = self.workers.sessions[lease.worker]
            self.metrics.chunks_assigned += 1
            self.metrics.tasks_started += lease.count
            self._lease_started[lease.lease] = time.monotonic()
            job.leases[lease.lease] = (session, lease.chunk)
            if job.info.state == JobState.QUEUED:
                job.info = dataclasses.replace(job.info, state=JobState.RUNNING, started_at=time.time())
                if job.inserted:  # else its insert, queued next, carries the state
                    self.repository.mark_running(job.info.job_id, job.info.started_at)
            session.outbox.put_nowait(pb.RunSessionResponse(assign=self._assignment(job, lease, session)))

    def _assignment(self, job: ActiveJob, lease: ChunkLease, session: WorkerSession) -> pb.ChunkAssignment:
        msg = chunks.assignment(job.spec, lease, session.sent_blobs, self.blobs.inline)
        for blob in msg.blobs:
            session.sent_blobs.add(blob.hash)
            session.blob_bytes_sent += len(blob.data)
        return msg

    def _send_cancel(self, lease: ChunkLease) -> None:
        self.workers.send(lease.worker, pb.RunSessionResponse(cancel=pb.CancelChunks(leases=[lease.lease])))

    async def _watch_heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            for session in self.workers.silent():
                log.warning("worker %s sent nothing for %.0f s: treating it as lost",
                            session.name, time.time() - session.last_heartbeat)
                self.close_session(session)
            self._fail_pinned_to_absent_workers()

    def _fail_pinned_to_absent_workers(self) -> None:
        """A per-node chunk waits for its own worker; if that worker stays away (lost
        while its chunk was queued, or gone when the head restarted) for
        ``lease_timeout``, the chunk fails with WorkerLostError instead of holding its job
        forever."""
        waiting = self.scheduler.pinned_waiting()
        for name, away in self.workers.away_too_long(waiting):
            log.warning("worker %s has been away for %.0f s: failing the %d per-node chunk(s) "
                        "waiting for it", name, away, len(waiting[name]))
            for chunk in waiting[name]:
                asyncio.create_task(self.chunk_done(None, None, chunks.worker_lost(
                    chunk, f"did not come back within {self.lease_timeout:g} s to run its "
                           f"per-node task")))


# ==================================================================== helpers
def _no_job(job_id: str) -> HeadError:
    return not_found("job", f"no job {job_id!r} on this head (list jobs with `rxgrid jobs`)")


def _notify(job: ActiveJob, event: tuple) -> None:
    for queue in job.watchers:
        queue.put_nowait(event)
