"""What worker sessions do to the jobs: a session opens, reports on a chunk, goes silent
or ends, and a worker that per-node chunks wait for stays away.

    RunSession opens ──► open_session ──► Scheduler.add_worker ──► Head.dispatch
    ChunkDone ─────────► message ─► checked_report (lease held?) ─► Head.chunk_done
    stream ends, or silent for lease_timeout ──► close_session ──► its chunks requeued
    per-node chunk's worker away for lease_timeout ──► the chunk fails (WorkerLostError)

``workers.py`` knows who is registered and connected; this module acts on the jobs for
it, through the state machine (``core.Head``). Call from the event loop only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from .._proto import rxgrid_pb2 as pb
from . import chunks
from .workers import WorkerSession

if TYPE_CHECKING:
    from .core import Head

log = logging.getLogger("rxgrid.head")


class WorkerEvents:
    """The worker side of the head: sessions opened, heard from, lost."""

    def __init__(self, head: Head):
        self.head = head

    def open_session(self, name: str, token: str) -> WorkerSession:
        """A registered worker's stream opened: it takes chunks from now on."""
        head = self.head
        session = head.workers.open(name, token)
        head.scheduler.add_worker(name, session.cores)
        log.info("worker %s connected from %s with %d cores", name, session.host, session.cores)
        head.repository.record_worker(name, session.host, session.cores, session.pid,
                                      session.registered_at, session.last_heartbeat)
        head.dispatch()
        return session

    def close_session(self, session: WorkerSession) -> None:
        """A worker's stream ended or went silent: its running chunks go back to the queue."""
        if not self.head.workers.is_current(session):
            return
        if self.head.workers.drop(session):
            self._requeue_chunks_of(session.name)
        self.head.dispatch()

    async def message(self, session: WorkerSession, msg: pb.RunSessionRequest) -> None:
        """A message on a worker's stream: a sign of life, and maybe a chunk's report."""
        self.head.workers.heard_from(session)
        if msg.WhichOneof("msg") == "done":
            result = self._checked_report(session, msg.done.lease, msg.done.result)
            if result is not None:
                await self.head.chunk_done(session, msg.done.lease, result)
            else:
                self.head.dispatch()

    async def watch_heartbeats(self) -> None:
        """Forever: drop workers gone silent, fail per-node chunks whose worker stays away."""
        while True:
            await asyncio.sleep(self.head.heartbeat_interval)
            for session in self.head.workers.silent():
                log.warning("worker %s sent nothing for %.0f s: treating it as lost",
                            session.name, time.time() - session.last_heartbeat)
                self.close_session(session)
            self._fail_pinned_to_absent_workers()

    def _requeue_chunks_of(self, worker: str) -> None:
        head = self.head
        running = [lease for lease in head.scheduler.leased() if lease.worker == worker]
        orphans = head.scheduler.remove_worker(worker)
        head.metrics.chunks_rerun += len(running) - len(orphans)
        head.forget_lease_times(running)
        log.warning("worker %s is gone; %d running chunk(s) go back to the queue", worker,
                    len(running) - len(orphans))
        for chunk in orphans:
            asyncio.create_task(head.chunk_done(None, None, chunks.worker_lost(chunk)))

    def _checked_report(self, session: WorkerSession, lease: int,
                        result: pb.ChunkResult) -> pb.ChunkResult | None:
        """A worker's chunk result as the head will store it (:func:`chunks.checked_report`),
        or None to ignore it: taken only on a lease the head gave this session for this chunk.
        """
        head = self.head
        job = head.jobs.get(result.job_id)
        held = job.leases.get(lease) if job is not None else None
        if held is None or held[0] is not session or held[1] != result.chunk:
            # A lease given up (the worker was lost and its chunk ran elsewhere, or the job
            # ended) or never given: a late result, or a lie. Either way it counts for nothing.
            head.metrics.late_results_ignored += 1
            if job is not None:
                log.warning("worker %s reported on %s chunk %d without holding lease %d: "
                            "ignored", session.name, result.job_id, result.chunk, lease)
            return None
        chunk = head.scheduler.chunk(result.job_id, result.chunk)
        if chunk is None:
            return None
        result, problem = chunks.checked_report(result, chunk, session.name, head.blobs.has)
        if problem:
            log.warning("worker %s sent a bad report on %s chunk %d: %s", session.name,
                        result.job_id, result.chunk, problem)
        return result

    def _fail_pinned_to_absent_workers(self) -> None:
        """A per-node chunk waits for its own worker; if that worker stays away (lost
        while its chunk was queued, or gone when the head restarted) for
        ``lease_timeout``, the chunk fails with WorkerLostError instead of holding its job
        forever."""
        head = self.head
        waiting = head.scheduler.pinned_waiting()
        for name, away in head.workers.away_too_long(waiting):
            log.warning("worker %s has been away for %.0f s: failing the %d per-node chunk(s) "
                        "waiting for it", name, away, len(waiting[name]))
            for chunk in waiting[name]:
                asyncio.create_task(head.chunk_done(None, None, chunks.worker_lost(
                    chunk, f"did not come back within {head.lease_timeout:g} s to run its "
                           f"per-node task")))
