"""Counters of the head, rendered in the Prometheus text format at ``/metrics``.

The head updates these on its event loop; rendering reads them there too, so no
locks are needed.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field

BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 60.0, 300.0, 1800.0)


@dataclass
class Histogram:
    """Cumulative buckets as Prometheus wants them."""

    counts: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    total: int = 0
    sum: float = 0.0

    def observe(self, value: float) -> None:
        self.total += 1
        self.sum += value
        for i, bound in enumerate(BUCKETS):
            if value <= bound:
                self.counts[i] += 1


@dataclass
class HeadMetrics:
    """What the head counts: tasks, chunks, jobs, and how long chunks run."""

    tasks_started: int = 0
    tasks_finished: int = 0
    tasks_failed: int = 0
    chunks_assigned: int = 0
    chunks_rerun: int = 0
    late_results_ignored: int = 0  # results of chunks that meanwhile ran elsewhere, or of ended jobs
    jobs_submitted: int = 0
    # Blocking jobs (RunJob, ExecJobs) whose results were too big for one reply: the client
    # read them through GetResults instead.
    blocking_results_streamed: int = 0
    # By user name: one series per user of the users file ("" without tokens).
    jobs_submitted_by_owner: collections.Counter = field(default_factory=collections.Counter)
    # Large blobs that reached the head, by way: "stream" (PutBlob) or "file" (PutBlobFile,
    # from a client or worker on this host), and those workers took as files (LocateBlob).
    blob_bytes_in: dict = field(default_factory=lambda: {"stream": 0, "file": 0})
    blobs_located: int = 0
    chunk_seconds: Histogram = field(default_factory=Histogram)
    started_at: float = field(default_factory=time.time)


def render(head) -> str:
    """The Prometheus exposition text for ``head`` (a :class:`rxgrid.head.core.Head`)."""
    m: HeadMetrics = head.metrics
    workers = head.scheduler.workers()
    slots = sum(s for s, _ in workers.values())
    busy = sum(b for _, b in workers.values())
    queued = head.scheduler.queued()
    lines = [
        _one("rxgrid_queue_chunks", "gauge", "Runnable chunks waiting for a slot", len(queued)),
        _one("rxgrid_queue_tasks", "gauge", "Tasks in the waiting chunks", sum(c.count for c in queued)),
        _one("rxgrid_slots_busy", "gauge", "Executor slots running a chunk", busy),
        _one("rxgrid_slots_idle", "gauge", "Executor slots with nothing to run", slots - busy),
        _one("rxgrid_workers", "gauge", "Connected workers", len(workers)),
        _one("rxgrid_jobs_active", "gauge", "Jobs queued or running", len(head.jobs)),
        _one("rxgrid_jobs_submitted_total", "counter", "Jobs submitted", m.jobs_submitted),
        *_by_owner("rxgrid_jobs_submitted_by_owner_total", "counter", "Jobs submitted, by owner",
                   m.jobs_submitted_by_owner),
        *_by_owner("rxgrid_jobs_active_by_owner", "gauge", "Jobs queued or running, by owner",
                   collections.Counter(job.info.owner for job in head.jobs.values())),
        _one("rxgrid_tasks_started_total", "counter", "Tasks handed to workers", m.tasks_started),
        _one("rxgrid_tasks_finished_total", "counter", "Tasks that returned a value", m.tasks_finished),
        _one("rxgrid_tasks_failed_total", "counter", "Tasks that failed", m.tasks_failed),
        _one("rxgrid_chunks_assigned_total", "counter", "Chunk leases given out", m.chunks_assigned),
        _one("rxgrid_chunks_rerun_total", "counter", "Chunks put back after a worker was lost",
             m.chunks_rerun),
        _one("rxgrid_late_results_ignored_total", "counter",
             "Chunk results ignored: the chunk had run elsewhere or its job had ended",
             m.late_results_ignored),
        _one("rxgrid_blocking_results_streamed_total", "counter",
             "Blocking jobs whose results exceeded half the message limit (streamed by the client)",
             m.blocking_results_streamed),
        "# HELP rxgrid_blob_bytes_received_total Bytes of large blobs received, by way",
        "# TYPE rxgrid_blob_bytes_received_total counter",
        *(f'rxgrid_blob_bytes_received_total{{via="{via}"}} {n}' for via, n in m.blob_bytes_in.items()),
        _one("rxgrid_blobs_located_total", "counter",
             "Blob files handed to processes on this host instead of streams", m.blobs_located),
        "# HELP rxgrid_chunk_seconds Time from a chunk's assignment to its stored result",
        "# TYPE rxgrid_chunk_seconds histogram",
    ]
    for bound, count in zip(BUCKETS, m.chunk_seconds.counts, strict=True):
        lines.append(f'rxgrid_chunk_seconds_bucket{{le="{bound}"}} {count}')
    lines += [f'rxgrid_chunk_seconds_bucket{{le="+Inf"}} {m.chunk_seconds.total}',
              f"rxgrid_chunk_seconds_sum {m.chunk_seconds.sum:.6f}",
              f"rxgrid_chunk_seconds_count {m.chunk_seconds.total}",
              "# HELP rxgrid_worker_heartbeat_age_seconds Seconds since a worker was last heard",
              "# TYPE rxgrid_worker_heartbeat_age_seconds gauge"]
    now = time.time()
    for session in head.workers.sessions.values():
        if session.open:
            lines.append(f'rxgrid_worker_heartbeat_age_seconds{{worker="{session.name}"}} '
                         f"{now - session.last_heartbeat:.3f}")
    return "\n".join(lines) + "\n"


def _by_owner(name: str, kind: str, help_text: str, counts: collections.Counter) -> list[str]:
    # Owner names follow the users file's grammar, so they need no escaping as label values.
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}",
            *(f'{name}{{owner="{owner}"}} {n}' for owner, n in sorted(counts.items()))]


def _one(name: str, kind: str, help_text: str, value) -> str:
    return f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n{name} {value}"
