"""The head's brain: jobs, chunks, worker sessions and results, on one asyncio loop.

Data flow of one job:

    client ─SubmitJob/RunJob─► Head.submit ─► Store (commit) ─► Scheduler.add_job
                                                                    │ _dispatch
    worker ◄─ChunkAssignment── WorkerSession.outbox ◄───────────────┘
    worker ──ChunkDone──────► Head.chunk_done ─► Scheduler.complete ─► Store (commit)
                                                     │
    client ◄─JobEvent (chunk results, final info)────┘ watchers

The servicers in ``service.py`` only translate messages; this module holds no gRPC.
Everything here runs on the event loop thread, so no locks are needed.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

from .._chunk import guided_sizes
from .._proto import rxgrid_pb2 as pb
from ..defaults import (
    HEARTBEAT_INTERVAL,
    LAZY_COMMIT_SECONDS,
    LEASE_TIMEOUT,
    RESULT_PAGE_ROWS,
)
from ..errors import MISSING_BLOB
from . import validate
from .blobs import Blobs
from .errors import HeadError
from .metrics import HeadMetrics
from .scheduler import ChunkLease, Scheduler
from .services import ServiceRegistry
from .store import JOB_PROGRESS_SQL, Store, StoreError
from .users import User
from .workers import WorkerRegistry, WorkerSession, WorkerStatus

log = logging.getLogger("rxgrid.head")

JOB_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
TERMINAL = ("finished", "failed", "cancelled")
KERNEL_NAMES = ("dice", "birthday", "mandelbrot")


@dataclass(eq=False)
class ActiveJob:
    info: pb.JobInfo
    spec: pb.JobSpec
    watchers: set = field(default_factory=set)
    waiter: asyncio.Queue | None = None  # the client blocked on this job (RunJob, Exec)
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
        self.workers = WorkerRegistry(heartbeat_interval, lease_timeout)
        self.scheduler = Scheduler(first_lease=time.time_ns() // 1000)
        self.jobs: dict[str, ActiveJob] = {}
        self._seq = 0
        self._monitor: asyncio.Task | None = None
        self.metrics = HeadMetrics()
        self.blobs = Blobs(store, self.metrics)
        self.services = ServiceRegistry(store, self.blobs)
        self._lease_started: dict[int, float] = {}

    # ================================================================ life cycle
    async def start(self) -> None:
        """Resume unfinished jobs from the store and start watching heartbeats."""
        rows = self.store.query("SELECT COALESCE(MAX(seq), 0) FROM jobs")
        self._seq = rows[0][0]
        for row in self.store.query(
                "SELECT * FROM jobs WHERE state IN ('queued', 'running') ORDER BY seq"):
            self._resume(row)
        self._monitor = asyncio.create_task(self._watch_heartbeats())

    async def stop(self) -> None:
        if self._monitor:
            self._monitor.cancel()
        self.workers.close_all()

    def _resume(self, row) -> None:
        spec = pb.JobSpec.FromString(row["spec"])
        info = _info_from_row(row)
        chunks = self.store.query(
            "SELECT chunk, first_task, num_tasks, pinned, state FROM chunks WHERE job_id=? "
            "ORDER BY chunk", (row["job_id"],))
        done = {c["chunk"] for c in chunks if c["state"] == "done"}
        self.scheduler.add_job(info.job_id, info.priority, row["seq"],
                               [(c["first_task"], c["num_tasks"], c["pinned"]) for c in chunks], done,
                               max_parallel=spec.max_parallel)
        self.jobs[info.job_id] = ActiveJob(info, spec)
        log.info("resumed job %s: %d of %d chunks done", info.job_id, len(done), len(chunks))

    # ================================================================ clients
    async def submit(self, spec: pb.JobSpec, collect: bool = False, owner: str = "") -> pb.JobInfo:
        """Validate, store and queue a job; return its info once it is durable.

        ``collect``: the caller will read every result, so the job is recorded as
        collected in the same commit that records it finished. ``owner``: the user's name.
        """
        info, committed = self._enqueue(spec, collect, None, owner)
        try:
            await committed
        except StoreError as exc:
            raise self._not_stored(info.job_id, exc) from exc
        return info

    def submit_waiting(self, spec: pb.JobSpec, waiter: asyncio.Queue,
                       owner: str = "") -> pb.JobInfo:
        """Queue a job for a client that blocks until it ends (RunJob, Exec).

        ``waiter`` gets ("chunk", result) for each chunk and ("end", info) as soon as
        they happen, before they are stored (see ``chunk_done``), or ("error",
        HeadError) if the job cannot be stored. Such a client hears nothing before the
        job's end, so the job's own commit may wait a little for company: a job that
        ends within ``LAZY_COMMIT_SECONDS`` is stored, results and all, in one commit
        instead of two. A head that dies before that commit loses only a job whose
        client is still waiting, and that client submits it again.
        """
        info, committed = self._enqueue(spec, True, waiter, owner)

        def landed(future: asyncio.Future) -> None:
            if not future.cancelled() and future.exception() is not None:
                waiter.put_nowait(("error", self._not_stored(info.job_id, future.exception())))

        committed.add_done_callback(landed)
        return info

    def _enqueue(self, spec: pb.JobSpec, collect: bool, waiter: asyncio.Queue | None,
                 owner: str) -> tuple[pb.JobInfo, asyncio.Future]:
        """Validate a job, queue its chunks and its insert; return its info and the commit."""
        self._refuse_if_store_failed()
        validate.job_spec(spec)
        job_id = self._check_job_id(spec.job_id)
        chunks = self._layout(spec)
        self._check_blobs(spec)
        # Only a job that passed every check stores anything: a refused one leaves no trace.
        for blob in spec.inline_blobs:
            self.blobs.put(blob.data, blob.hash)
        spec.job_id = job_id
        del spec.inline_blobs[:]
        self._seq += 1
        info = pb.JobInfo(
            job_id=job_id, name=spec.name or spec.kernel.name, state="queued",
            priority=spec.priority, tasks_total=sum(c[1] for c in chunks),
            chunks_total=len(chunks), submitted_at=time.time(), per_node=spec.per_node,
            has_seed=spec.has_seed, seed=spec.seed, single_result=spec.single_result,
            rng_kind=spec.rng_kind or "pcg64", service=spec.service, owner=owner)
        job = self.jobs[job_id] = ActiveJob(info, spec, waiter=waiter, collect_on_finish=collect,
                                            inserted=False)
        # Dispatch before the commit: the assignments leave first and the commit lands
        # long before any result can come back; the client hears of the job only once it
        # is committed (a waiting client: once it has ended).
        self.scheduler.add_job(job_id, spec.priority, self._seq, chunks,
                               max_parallel=spec.max_parallel)
        self.metrics.jobs_submitted += 1
        self.metrics.jobs_submitted_by_owner[owner] += 1
        self._dispatch()
        committed = self.store.write(_insert_job_ops(info, spec, self._seq, chunks),
                                     delay=LAZY_COMMIT_SECONDS if waiter is not None else 0.0)
        job.inserted = True
        log.debug("job %s queued: %d tasks in %d chunks, priority %d",
                  job_id, info.tasks_total, len(chunks), spec.priority)
        return info, committed

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

    def may_read_blob(self, digest: str, user: User) -> bool:
        """May ``user`` fetch this blob? Not another user's results, files or service code.

        Refused: a service's function of another owner, and a blob that stored jobs use
        when none of them is the user's. A blob no stored job names yet (a result a
        waiting client hears of before its commit) stays readable: its hash was told to
        its owner alone.
        """
        if user.admin:
            return True
        others_service = self.store.query(
            "SELECT 1 FROM job_blobs b JOIN services s ON b.job_id = "
            "'service:' || s.name || '/' || s.version WHERE b.hash=? AND s.owner<>? LIMIT 1",
            (digest, user.name))
        if others_service:
            return False
        owners = "SELECT 1 FROM job_blobs b JOIN jobs j ON j.job_id=b.job_id WHERE b.hash=?"
        return (not self.store.query(owners + " LIMIT 1", (digest,))
                or bool(self.store.query(owners + " AND j.owner=? LIMIT 1", (digest, user.name))))

    def _refuse_if_store_failed(self) -> None:
        if self.store.write_failure:
            # Retry once with a probe: a transient failure should not block forever.
            try:
                self.store.write_sync([("UPDATE jobs SET seq=seq WHERE 0", ())])
            except StoreError as exc:
                raise HeadError("storage",
                                f"the head cannot write its state dir {self.store.dir} ({exc}); "
                                f"it refuses new work until it can. Free disk space or fix "
                                f"permissions; stored jobs and results are kept") from exc

    def _check_job_id(self, job_id: str) -> str:
        if not job_id:
            return time.strftime("rx-%Y%m%d-%H%M%S-") + secrets.token_hex(3)
        if not JOB_ID_RE.match(job_id):
            raise HeadError("invalid", f"job id {job_id!r} is not valid: use 1 to 128 of the "
                                       f"characters A-Z a-z 0-9 . _ -")
        if job_id in self.jobs or self.store.query("SELECT 1 FROM jobs WHERE job_id=?", (job_id,)):
            raise HeadError("exists", f"a job with id {job_id!r} already exists: choose another "
                                      f"id, or clean the old job up first (rxgrid cleanup {job_id})")
        return job_id

    def _layout(self, spec: pb.JobSpec) -> list[tuple[int, int, str | None]]:
        """The chunks of a job as (first task, task count, pinned worker)."""
        if spec.per_node:
            names = [s.name for s in self.workers.connected()]
            if not names:
                raise HeadError("precondition", "a per-node job needs connected workers, and "
                                                "none is connected: start one with `rxgrid worker`")
            return [(i, 1, name) for i, name in enumerate(names)]
        n = spec.num_tasks
        if n < 1:
            raise HeadError("invalid", f"a job needs at least one task, got num_tasks={n}")
        if spec.chunk_sizes:
            sizes = list(spec.chunk_sizes)
            if sum(sizes) != n:
                raise HeadError("invalid", f"chunk_sizes add up to {sum(sizes)}, not num_tasks={n}: "
                                           f"give sizes that add up to the job's tasks")
        elif spec.chunk_size:
            sizes = [min(spec.chunk_size, n - first) for first in range(0, n, spec.chunk_size)]
        else:
            sizes = guided_sizes(n, self.total_slots())
        if spec.chunk_blobs and len(spec.chunk_blobs) != len(sizes):
            raise HeadError("invalid", f"{len(spec.chunk_blobs)} chunk argument blobs for "
                                       f"{len(sizes)} chunks")
        firsts = itertools.accumulate([0] + sizes[:-1])
        return [(first, size, None) for first, size in zip(firsts, sizes, strict=True)]

    def _check_blobs(self, spec: pb.JobSpec) -> None:
        if spec.kernel.name:
            if spec.kernel.name not in KERNEL_NAMES:
                raise HeadError("invalid", f"unknown kernel {spec.kernel.name!r}; "
                                           f"built-in kernels are {', '.join(KERNEL_NAMES)}")
        elif not spec.function_blob:
            raise HeadError("invalid", "the job has neither a function blob nor a kernel name")
        inline = {blob.hash for blob in spec.inline_blobs}
        for digest in _spec_blobs(spec):
            if digest not in inline and not self.store.blobs.has(digest):
                raise HeadError("invalid", f"blob {digest[:12]}... {MISSING_BLOB}: upload it "
                                           f"with PutBlob (or inline it) before submitting")

    def total_slots(self) -> int:
        return self.workers.total_slots()

    def job_info(self, job_id: str) -> pb.JobInfo:
        job = self.jobs.get(job_id)
        if job is not None:
            return job.info
        rows = self.store.query("SELECT * FROM jobs WHERE job_id=?", (job_id,))
        if not rows:
            raise _no_job(job_id)
        return _info_from_row(rows[0])

    def job_info_for(self, job_id: str, user: User) -> pb.JobInfo:
        """A job's info if ``user`` may see it. Another user's job is "not found", word for
        word like a missing one, so nobody learns which ids others use."""
        info = self.job_info(job_id)
        if not user.may_see(info.owner):
            raise _no_job(job_id)
        return info

    async def watch(self, job_id: str, results: bool, progress: bool) -> AsyncIterator[pb.JobEvent]:
        """Events of a job: stored chunk results (if asked), progress, then its final info."""
        job = self.jobs.get(job_id)
        if job is None:
            info = self.job_info(job_id)
            if results:
                for chunk in self.stored_results(job_id):
                    yield pb.JobEvent(chunk=chunk)
            yield pb.JobEvent(info=info)
            return
        queue: asyncio.Queue = asyncio.Queue()
        job.watchers.add(queue)
        sent: set[int] = set()
        try:
            if results:
                for chunk in self.stored_results(job_id):
                    sent.add(chunk.chunk)
                    yield pb.JobEvent(chunk=chunk)
            if progress:
                yield pb.JobEvent(info=job.info)
            while True:
                kind, payload = await queue.get()
                if kind == "chunk" and results and payload.chunk not in sent:
                    sent.add(payload.chunk)
                    yield pb.JobEvent(chunk=payload)
                elif kind == "info" and progress:
                    yield pb.JobEvent(info=payload)
                elif kind == "end":
                    yield pb.JobEvent(info=payload)
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

    def stored_results(self, job_id: str) -> Iterator[pb.ChunkResult]:
        """The stored chunk results of a job, in chunk order, with their task errors."""
        errors = collections.defaultdict(list)
        for e in self.store.query("SELECT * FROM task_errors WHERE job_id=? ORDER BY task", (job_id,)):
            errors[e["task"]].append(_task_error(e))
        for r in self._done_chunks(job_id):
            chunk_errors = [e for t in range(r["first_task"], r["first_task"] + r["num_tasks"])
                            for e in errors.get(t, ())] if errors else []
            yield pb.ChunkResult(job_id=job_id, chunk=r["chunk"], first_task=r["first_task"],
                                 num_tasks=r["num_tasks"], results=r["results"] or b"",
                                 results_blob=r["results_blob"] or "", errors=chunk_errors,
                                 worker=r["worker"] or "", results_json=r["results_json"] or "")

    def _done_chunks(self, job_id: str, page: int = RESULT_PAGE_ROWS):
        """Stored chunk rows in pages, each read whole.

        No statement may stay open across a yield: SQLite keeps a connection's read
        snapshot while any statement on it is unfinished, so a half-read cursor of one
        client's stream would hide newer commits from every other query on the head.
        """
        last = -1
        while True:
            rows = self.store.query(
                "SELECT chunk, first_task, num_tasks, results, results_blob, results_json, worker "
                "FROM chunks "
                "WHERE job_id=? AND state='done' AND chunk>? ORDER BY chunk LIMIT ?",
                (job_id, last, page))
            yield from rows
            if len(rows) < page:
                return
            last = rows[-1]["chunk"]

    async def mark_collected(self, job_id: str, spec: pb.JobSpec | None = None) -> None:
        """Record that a client has read every result; clean up if the job asked for it."""
        info = self.job_info(job_id)
        if info.state not in TERMINAL:
            return
        if not info.collected:
            await self.store.write([("UPDATE jobs SET collected=1 WHERE job_id=?", (job_id,))])
        spec = spec or self._spec(job_id)
        if spec is not None and spec.auto_cleanup:
            await self.cleanup([job_id], force=True)

    def _spec(self, job_id: str) -> pb.JobSpec | None:
        rows = self.store.query("SELECT spec FROM jobs WHERE job_id=?", (job_id,))
        return pb.JobSpec.FromString(rows[0]["spec"]) if rows else None

    def task_logs(self, job_id: str, task: int | None = None) -> list[pb.TaskOutput]:
        """What the job's tasks printed (jobs run with console_output), by task."""
        self.job_info(job_id)
        sql, params = "SELECT task, stdout, stderr FROM task_output WHERE job_id=?", [job_id]
        if task is not None:
            sql += " AND task=?"
            params.append(task)
        return [pb.TaskOutput(task=r["task"], stdout=r["stdout"] or "", stderr=r["stderr"] or "")
                for r in self.store.query(sql + " ORDER BY task", tuple(params))]

    def task_files(self, job_id: str) -> list[pb.TaskFile]:
        """Files kept from the job's tasks (output_files), by task and path."""
        self.job_info(job_id)
        return [pb.TaskFile(task=r["task"], path=r["path"], blob=r["blob"], size=r["size"])
                for r in self.store.query("SELECT * FROM task_files WHERE job_id=? "
                                          "ORDER BY task, path", (job_id,))]

    def errors(self, job_id: str) -> list[pb.TaskError]:
        """Every failed task of the job (read from its own table: no results are loaded)."""
        self.job_info(job_id)
        return [_task_error(e)
                for e in self.store.query("SELECT * FROM task_errors WHERE job_id=? ORDER BY task",
                                          (job_id,))]

    async def cancel(self, job_id: str) -> tuple[pb.JobInfo, bool]:
        """Cancel a queued or running job: queued chunks are dropped, running ones killed."""
        job = self.jobs.get(job_id)
        if job is None:
            return self.job_info(job_id), False
        for lease in self.scheduler.cancel_job(job_id):
            self._send_cancel(lease)
        await self._finish(job, "cancelled", "cancelled by request")
        self._dispatch()
        return job.info, True

    def list_jobs(self, state: str, since: float, until: float, limit: int,
                  service: str = "", user: User | None = None) -> list[pb.JobInfo]:
        """Jobs in submission order; only ``user``'s own unless they are an admin."""
        sql, params = "SELECT * FROM jobs WHERE 1=1", []
        if user is not None and not user.admin:
            sql += " AND owner=?"
            params.append(user.name)
        if service:
            sql += " AND service=?"
            params.append(service)
        if state:
            sql += " AND state=?"
            params.append(state)
        if since:
            sql += " AND submitted_at>=?"
            params.append(since)
        if until:
            sql += " AND submitted_at<?"
            params.append(until)
        sql += " ORDER BY seq" + (f" DESC LIMIT {int(limit)}" if limit else "")
        rows = self.store.query(sql, tuple(params))
        infos = [self.jobs[r["job_id"]].info if r["job_id"] in self.jobs else _info_from_row(r)
                 for r in rows]
        return sorted(infos, key=lambda i: i.submitted_at)

    async def cleanup(self, job_ids: list[str], force: bool,
                      user: User | None = None) -> tuple[list[str], list[str], str]:
        """Delete terminal jobs and their blobs; uncollected finished ones only with force.

        With ``user``, only jobs they may see: no ids means every ended job of theirs, and
        another user's id is "not found"."""
        if job_ids:
            infos = [self.job_info(j) if user is None else self.job_info_for(j, user)
                     for j in job_ids]
        else:
            infos = [_info_from_row(r) for r in self.store.query(
                "SELECT * FROM jobs WHERE state IN ('finished', 'failed', 'cancelled')")
                if user is None or user.may_see(r["owner"])]
        removed, refused, reasons = [], [], []
        for info in infos:
            if info.state not in TERMINAL:
                refused.append(info.job_id)
                reasons.append(f"{info.job_id} is {info.state} (cancel it first)")
            elif info.state == "finished" and not info.collected and not force:
                refused.append(info.job_id)
                reasons.append(f"{info.job_id} has results nobody has read (use force)")
            else:
                removed.append(info.job_id)
        if removed:
            await self._delete_jobs(removed)
        return removed, refused, "; ".join(reasons)

    async def _delete_jobs(self, job_ids: list[str]) -> None:
        hashes = {r["hash"] for j in job_ids for r in self.store.query(
            "SELECT hash FROM job_blobs WHERE job_id=?", (j,))}
        ops = [(f"DELETE FROM {table} WHERE job_id=?", [(j,) for j in job_ids])
               for table in ("jobs", "chunks", "task_errors", "task_output", "task_files",
                             "job_blobs")]
        await self.store.write(ops)
        for digest in hashes:
            if not self.store.query("SELECT 1 FROM job_blobs WHERE hash=? LIMIT 1", (digest,)):
                self.blobs.delete(digest)
        log.info("cleaned up %d job(s): %s", len(job_ids), ", ".join(job_ids[:10]))

    def usage(self) -> pb.UsageReply:
        """How much the state dir holds, and the jobs by state."""
        db = sum(p.stat().st_size for p in self.store.dir.glob("rxgrid.sqlite3*"))
        blobs = [p for p in self.store.blobs.root.rglob("*") if p.is_file()]
        small = self.store.query("SELECT COUNT(*), COALESCE(SUM(LENGTH(data)), 0) FROM small_blobs")[0]
        states = {r[0]: r[1] for r in self.store.query("SELECT state, COUNT(*) FROM jobs GROUP BY state")}
        inline = self.store.query("SELECT COALESCE(SUM(result_bytes), 0) FROM jobs")[0][0]
        return pb.UsageReply(state_dir=str(self.store.dir.resolve()), database_bytes=db,
                             blob_bytes=sum(p.stat().st_size for p in blobs) + small[1],
                             blobs=len(blobs) + small[0],
                             jobs_by_state=states, result_bytes=inline)

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
        self.store.write_nowait([(
            "INSERT OR REPLACE INTO workers(name, host, cores, pid, registered_at, last_seen) "
            "VALUES (?,?,?,?,?,?)", (name, session.host, session.cores, session.pid,
                                     session.registered_at, session.last_heartbeat))])
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
            asyncio.create_task(self._fail_orphan(chunk))

    async def _fail_orphan(self, chunk, why: str = "was lost before its per-node task finished"
                           ) -> None:
        error = pb.TaskError(task=chunk.first, type="WorkerLostError",
                             message=f"worker {chunk.pinned} {why}", worker=chunk.pinned)
        result = pb.ChunkResult(job_id=chunk.job_id, chunk=chunk.index, first_task=chunk.first,
                                num_tasks=chunk.count, worker=chunk.pinned, errors=[error])
        await self.chunk_done(None, None, result)

    async def worker_message(self, session: WorkerSession, msg: pb.WorkerMessage) -> None:
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
        """A worker's chunk result as the head will store it, or None to ignore it.

        Taken only on a lease the head gave this session for this chunk; the task range
        is the head's own, never the worker's. A report that breaks the rules (tasks
        outside the chunk, bad blob names or file paths, blobs never uploaded) fails the
        chunk's tasks instead of being stored.
        """
        job = self.jobs.get(result.job_id)
        held = job.leases.get(lease) if job is not None else None
        if held is None or held[0] is not session or held[1] != result.chunk:
            if job is not None:
                log.warning("worker %s reported on %s chunk %d without holding lease %d: "
                            "ignored", session.name, result.job_id, result.chunk, lease)
            return None
        chunk = self.scheduler.chunk(result.job_id, result.chunk)
        if chunk is None:
            return None
        result.first_task, result.num_tasks, result.worker = chunk.first, chunk.count, session.name
        problem = (validate.chunk_report(result, chunk.first, chunk.count)
                   or self._missing_report_blobs(result))
        if not problem:
            return result
        log.warning("worker %s sent a bad report on %s chunk %d: %s", session.name,
                    result.job_id, result.chunk, problem)
        message = f"worker {session.name} sent an invalid report on this chunk: {problem}"
        return pb.ChunkResult(
            job_id=result.job_id, chunk=chunk.index, first_task=chunk.first,
            num_tasks=chunk.count, worker=session.name,
            errors=[pb.TaskError(task=t, type="WorkerReportError", message=message,
                                 worker=session.name)
                    for t in range(chunk.first, chunk.first + chunk.count)])

    def _missing_report_blobs(self, result: pb.ChunkResult) -> str:
        for digest in (result.results_blob, *(f.blob for f in result.files)):
            if digest and not self.store.blobs.has(digest):
                return f"blob {digest[:12]}... was never uploaded"
        return ""

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
            log.debug("ignored a late result for %s chunk %d", result.job_id, result.chunk)
            self._dispatch()
            return
        if session is not None:
            session.chunks_done += 1
        if started is not None:
            self.metrics.chunk_seconds.observe(time.monotonic() - started)
        self.metrics.tasks_failed += len(result.errors)
        self.metrics.tasks_finished += result.num_tasks - len(result.errors)
        info = job.info
        before = pb.JobInfo()
        before.CopyFrom(info)
        info.chunks_done += 1
        info.tasks_failed += len(result.errors)
        info.tasks_done += result.num_tasks - len(result.errors)
        info.result_bytes += len(result.results)
        state = self._state_after(job, result)
        if state in TERMINAL:
            info.state, info.finished_at = state, time.time()
            info.collected = job.collect_on_finish and state == "finished"
            if state == "failed":
                info.error = _first_error(result)
        self._dispatch()
        if job.waiter is not None:
            # The blocked client gets its results now (its wakeup is queued before the
            # flush below), so the reply travels while the commit runs. Should the head
            # die before the commit lands, the job runs again with nobody waiting: work
            # repeated, no result lost (the client has them). Other watchers hear only
            # what is stored.
            job.waiter.put_nowait(("chunk", result))
            if state in TERMINAL:
                job.waiter.put_nowait(("end", info))
        try:
            await self.store.write(_chunk_done_ops(info, result))
        except StoreError:
            log.error("result of %s chunk %d not stored; it will run again", result.job_id,
                      result.chunk)
            info.CopyFrom(before)
            self.scheduler.reopen(result.job_id, result.chunk)
            return
        _notify(job, ("chunk", result))
        if state in TERMINAL:
            if state == "failed":
                for running in self.scheduler.cancel_job(info.job_id):
                    self._send_cancel(running)
            self._retire(job)
        else:
            _notify(job, ("info", info))

    def _state_after(self, job: ActiveJob, result: pb.ChunkResult) -> str:
        info = job.info
        if result.errors and not job.spec.continue_on_failure:
            return "failed"
        if info.chunks_done >= info.chunks_total:
            return "finished"
        return "running"

    async def _finish(self, job: ActiveJob, state: str, error: str) -> None:
        info = job.info
        info.state, info.finished_at, info.error = state, time.time(), error
        await self.store.write([("UPDATE jobs SET state=?, finished_at=?, error=? WHERE job_id=?",
                                 (state, info.finished_at, error, info.job_id))])
        self._retire(job)

    def _retire(self, job: ActiveJob) -> None:
        if job.waiter is not None:
            job.waiter.put_nowait(("end", job.info))
        self.jobs.pop(job.info.job_id, None)
        self.scheduler.forget_job(job.info.job_id)
        log.debug("job %s %s: %d done, %d failed of %d tasks", job.info.job_id, job.info.state,
                 job.info.tasks_done, job.info.tasks_failed, job.info.tasks_total)
        _notify(job, ("end", job.info))

    # ================================================================ dispatch
    def _dispatch(self) -> None:
        for lease in self.scheduler.assign():
            job = self.jobs[lease.job_id]
            session = self.workers.sessions[lease.worker]
            self.metrics.chunks_assigned += 1
            self.metrics.tasks_started += lease.count
            self._lease_started[lease.lease] = time.monotonic()
            job.leases[lease.lease] = (session, lease.chunk)
            if job.info.state == "queued":
                job.info.state, job.info.started_at = "running", time.time()
                if job.inserted:  # else its insert, queued next, carries the state
                    self.store.write_nowait([("UPDATE jobs SET state='running', started_at=? "
                                          "WHERE job_id=?", (job.info.started_at, job.info.job_id))])
            session.outbox.put_nowait(pb.HeadMessage(assign=self._assignment(job, lease, session)))

    def _assignment(self, job: ActiveJob, lease: ChunkLease, session: WorkerSession) -> pb.ChunkAssignment:
        spec = job.spec
        msg = pb.ChunkAssignment(
            job_id=lease.job_id, chunk=lease.chunk, lease=lease.lease, first_task=lease.first,
            num_tasks=lease.count, function_blob=spec.function_blob, common_blob=spec.common_blob,
            chunk_blob=spec.chunk_blobs[lease.chunk] if spec.chunk_blobs else "",
            objects_blob=spec.objects_blob, has_seed=spec.has_seed, seed=spec.seed,
            packages=spec.packages, timeout=spec.timeout, kernel=spec.kernel,
            stop_on_failure=not spec.continue_on_failure, rng_kind=spec.rng_kind,
            console_output=spec.console_output, output_files=spec.output_files)
        for digest in (msg.function_blob, msg.common_blob, msg.chunk_blob, msg.objects_blob):
            if digest and digest not in session.sent_blobs:
                data = self.blobs.inline(digest)
                if data is not None:
                    msg.blobs.add(hash=digest, data=data)
                    session.sent_blobs.add(digest)
                    session.blob_bytes_sent += len(data)
        return msg

    def _send_cancel(self, lease: ChunkLease) -> None:
        self.workers.send(lease.worker, pb.HeadMessage(cancel=pb.CancelChunks(leases=[lease.lease])))

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
                asyncio.create_task(self._fail_orphan(
                    chunk, f"did not come back within {self.lease_timeout:g} s to run its "
                           f"per-node task"))


# ==================================================================== helpers
def _no_job(job_id: str) -> HeadError:
    return HeadError("not_found", f"no job {job_id!r} on this head (list jobs with `rxgrid jobs`)")


def _notify(job: ActiveJob, event: tuple) -> None:
    for queue in job.watchers:
        queue.put_nowait(event)


def _first_error(result: pb.ChunkResult) -> str:
    e = result.errors[0]
    return f"task {e.task} raised {e.type}: {e.message}"


def _spec_blobs(spec: pb.JobSpec) -> list[str]:
    return [d for d in (spec.function_blob, spec.common_blob, spec.objects_blob, *spec.chunk_blobs) if d]


def _insert_job_ops(info: pb.JobInfo, spec: pb.JobSpec, seq: int, chunks: list) -> list:
    return [
        ("INSERT INTO jobs(job_id, seq, name, spec, state, priority, tasks_total, chunks_total, "
         "submitted_at, started_at, service, owner) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
         (info.job_id, seq, info.name, spec.SerializeToString(), info.state, info.priority,
          info.tasks_total, info.chunks_total, info.submitted_at, info.started_at or None,
          spec.service, info.owner)),
        ("INSERT INTO chunks(job_id, chunk, first_task, num_tasks, pinned) VALUES (?,?,?,?,?)",
         [(info.job_id, i, first, count, pinned) for i, (first, count, pinned) in enumerate(chunks)]),
        ("INSERT OR IGNORE INTO job_blobs(job_id, hash) VALUES (?,?)",
         [(info.job_id, d) for d in set(_spec_blobs(spec))]),
    ]


def _chunk_done_ops(info: pb.JobInfo, result: pb.ChunkResult) -> list:
    ops = [
        ("UPDATE chunks SET state='done', worker=?, results=?, results_blob=?, results_json=?, "
         "finished_at=? WHERE job_id=? AND chunk=?",
         (result.worker, result.results, result.results_blob, result.results_json, time.time(),
          result.job_id, result.chunk)),
        (JOB_PROGRESS_SQL,
         (info.state, info.tasks_done, info.tasks_failed, info.chunks_done, info.finished_at or None,
          info.error, info.result_bytes, int(info.collected), info.job_id)),
    ]
    if result.errors:
        ops.append(("INSERT OR REPLACE INTO task_errors(job_id, task, type, message, traceback, "
                    "worker, exception) VALUES (?,?,?,?,?,?,?)",
                    [(result.job_id, e.task, e.type, e.message, e.traceback, e.worker or result.worker,
                      e.exception or None) for e in result.errors]))
    if result.results_blob:
        ops.append(("INSERT OR IGNORE INTO job_blobs(job_id, hash) VALUES (?,?)",
                    (result.job_id, result.results_blob)))
    if result.files:
        ops.append(("INSERT OR REPLACE INTO task_files(job_id, task, path, blob, size) "
                    "VALUES (?,?,?,?,?)",
                    [(result.job_id, f.task, f.path, f.blob, f.size) for f in result.files]))
        ops.append(("INSERT OR IGNORE INTO job_blobs(job_id, hash) VALUES (?,?)",
                    [(result.job_id, f.blob) for f in result.files]))
    if result.outputs:
        ops.append(("INSERT OR REPLACE INTO task_output(job_id, task, stdout, stderr) VALUES (?,?,?,?)",
                    [(result.job_id, o.task, o.stdout, o.stderr) for o in result.outputs]))
    return ops


def _task_error(row) -> pb.TaskError:
    """A stored task error as the wire carries it (``exception``: the pickled exception)."""
    return pb.TaskError(task=row["task"], type=row["type"], message=row["message"],
                        traceback=row["traceback"], worker=row["worker"] or "",
                        exception=row["exception"] or b"")


def _info_from_row(row) -> pb.JobInfo:
    spec_has_seed = False
    seed = 0
    try:
        spec = pb.JobSpec.FromString(row["spec"])
        spec_has_seed, seed, per_node = spec.has_seed, spec.seed, spec.per_node
        single, kind = spec.single_result, spec.rng_kind or "pcg64"
    except Exception:  # noqa: BLE001 - a damaged spec must not hide the job
        per_node = single = False
        kind = ""
    return pb.JobInfo(
        job_id=row["job_id"], name=row["name"] or "", state=row["state"], priority=row["priority"],
        tasks_total=row["tasks_total"], tasks_done=row["tasks_done"],
        tasks_failed=row["tasks_failed"], chunks_total=row["chunks_total"],
        chunks_done=row["chunks_done"], submitted_at=row["submitted_at"],
        started_at=row["started_at"] or 0, finished_at=row["finished_at"] or 0,
        collected=bool(row["collected"]), per_node=per_node, error=row["error"],
        has_seed=spec_has_seed, seed=seed, result_bytes=row["result_bytes"], single_result=single,
        rng_kind=kind, service=row["service"], owner=row["owner"])
