"""The head's state machine: jobs and their chunks, from submission to end, on one loop.

Data flow of one job:

    client ─SubmitJob/RunJob─► Head.submit ─► JobRepository.insert ─► Scheduler.add_job
                                                                          │ dispatch
    worker ◄─ChunkAssignment── WorkerSession.outbox ◄─────────────────────┘
    worker ──ChunkDone──► WorkerEvents.message ─► Head.chunk_done ─► Scheduler.complete
                                                     │          ─► JobRepository (commit)
    client ◄─(chunk results, final JobRecord)────────┘ watchers

A job's states (``JobRecord.state``)::

    queued ──first chunk leased──► running ──every chunk done──► finished
       │                              ├──a task failed (unless continue_on_failure)──► failed
       └──────────────cancel──────────┴──────────────────────────────────────────────► cancelled

What each part owns: this module the jobs' states and dispatch (``Head``, with the
table of active jobs), ``scheduler.py`` which chunk runs where, ``jobs.py`` all SQL about
jobs and results, ``workers.py`` worker sessions, ``worker_events.py`` what a session's
opening, reports, silence and end do to the jobs, ``queries.py`` the read-only questions
(``Head.queries``), ``watchers.py`` who hears of a job's events (``Head.watchers``),
``retention.py`` collected marks and cleanup of ended jobs (``Head.retention``),
``blobs.py`` blobs, ``intake.py`` the checks, chunk layout and first record of a new job,
``chunks.py`` the assignment sent for a chunk, the check of the report on it and the
job's record after it. The servicers (``servicers.py``) only translate messages. Everything
here runs on the event loop thread, so no locks are needed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
from dataclasses import dataclass, field

from .._proto import rxgrid_pb2 as pb
from ..defaults import HEARTBEAT_INTERVAL, LAZY_COMMIT_SECONDS, LEASE_TIMEOUT
from ..states import TERMINAL, JobState
from . import chunks, intake, validate
from .blobs import Blobs
from .errors import HeadError
from .jobs import JobRecord, JobRepository, StoredJob
from .metrics import HeadMetrics
from .queries import HeadQueries
from .retention import Retention
from .scheduler import ChunkLease, Scheduler
from .services import ServiceRegistry
from .store import Store, StoreError
from .watchers import JobWatchers, notify
from .worker_events import WorkerEvents
from .workers import WorkerRegistry, WorkerSession

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
    """Jobs, workers and results of one cluster; call from the event loop only.

    The servicers and the dashboard call the state machine here (``submit``, ``cancel``)
    and its parts by what they own: ``queries`` (read-only), ``watchers`` (event
    streams), ``retention`` (collected, cleanup), ``worker_events`` (worker sessions).
    """

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
        self.queries = HeadQueries(self.jobs, self.repository, self.blobs, self.workers,
                                   self.scheduler)
        self.watchers = JobWatchers(self.jobs, self.queries)
        self.retention = Retention(self.queries, self.repository, self.blobs)
        self.worker_events = WorkerEvents(self)
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
        self._monitor = asyncio.create_task(self.worker_events.watch_heartbeats())

    async def stop(self) -> None:
        if self._monitor:
            self._monitor.cancel()
        self.workers.close_all()

    def _resume(self, stored: StoredJob) -> None:
        done = {c.index for c in stored.chunks if c.done}
        self.scheduler.add_job(stored.record.job_id, stored.record.priority, stored.seq,
                               [(c.first, c.count, c.pinned) for c in stored.chunks], done,
                               max_parallel=stored.spec.max_parallel, cores=stored.spec.recipe.cores or 1)
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
        intake.check_cores(spec, {name: slots for name, (slots, _) in self.scheduler.workers().items()})
        layout = intake.chunk_layout(spec, [s.name for s in self.workers.connected()],
                                     max(1, self.workers.total_slots() // (spec.recipe.cores or 1)))
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
                               max_parallel=spec.max_parallel, cores=spec.recipe.cores or 1)
        self.metrics.jobs_submitted += 1
        self.metrics.jobs_submitted_by_owner[owner] += 1
        self.dispatch()
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
            notify(job, ("end", job.info))
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

    async def cancel(self, job_id: str) -> tuple[JobRecord, bool]:
        """Cancel a queued or running job: queued chunks are dropped, running ones killed."""
        job = self.jobs.get(job_id)
        if job is None:
            return self.queries.job_info(job_id), False
        for lease in self.scheduler.cancel_job(job_id):
            self._send_cancel(lease)
        await self._finish(job, JobState.CANCELLED, "cancelled by request")
        self.dispatch()
        return job.info, True

    # ================================================================ results and ends
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
            self.dispatch()
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
        self.dispatch()
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
        notify(job, ("chunk", result))
        if info.state in TERMINAL:
            if info.state == JobState.FAILED:
                for running in self.scheduler.cancel_job(info.job_id):
                    self._send_cancel(running)
            self._retire(job)
        else:
            notify(job, ("info", job.info))

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
        notify(job, ("end", info))

    # ================================================================ dispatch
    def dispatch(self) -> None:
        """Lease every chunk that a free slot can take now, and send the assignments."""
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

    def forget_lease_times(self, leases: list[ChunkLease]) -> None:
        """Leases given up without a result: their chunks' run times are not measured."""
        for lease in leases:
            self._lease_started.pop(lease.lease, None)

    def _send_cancel(self, lease: ChunkLease) -> None:
        self.workers.send(lease.worker, pb.RunSessionResponse(cancel=pb.CancelChunks(leases=[lease.lease])))

