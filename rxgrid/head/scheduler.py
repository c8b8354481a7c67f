"""The chunk scheduler: a priority queue of runnable chunks and the leases on them.

Plain Python with no gRPC and no I/O, so it is tested on its own (see
``tests/test_scheduler.py``). The head calls it on every event:

    add_job ─► queue (heap: higher priority first, then submission order)
                 │ lease_next(worker)            free slot pulls the best chunk
                 ▼
              leases ──complete(lease)──► done
                 │ remove_worker / release
                 └──────────────► back into the queue (same place in the order)

A chunk of a job with ``cores`` > 1 holds that many slots of one worker. A worker with
free slots takes the best chunk it could ever run (cores within its slots); if that one
needs more slots than are free now, the worker takes nothing until they are: a smaller
chunk behind it never overtakes it there, so wide chunks are not starved by narrow ones.

A chunk is leased to at most one worker at a time. A result that arrives on a lease
that is no longer current (the worker was thought lost and the chunk ran elsewhere)
is accepted only if the chunk is not done yet: every task ends exactly once.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field

QUEUED, LEASED, DONE, CANCELLED = "queued", "leased", "done", "cancelled"


@dataclass(eq=False, slots=True)
class Chunk:
    """A contiguous range of tasks of one job, scheduled as one unit."""

    job_id: str
    index: int
    first: int
    count: int
    priority: int
    seq: int
    pinned: str | None = None  # per-node chunks run only on this worker
    cores: int = 1  # slots of one worker it holds while it runs
    state: str = QUEUED
    lease: int | None = None
    worker: str | None = None
    attempts: int = 0

    def sort_key(self) -> tuple:
        return (-self.priority, self.seq, self.index)


@dataclass(frozen=True)
class ChunkLease:
    """The right of one worker to run one chunk; ``lease`` names it on the wire."""

    lease: int
    job_id: str
    chunk: int
    worker: str
    first: int
    count: int
    cores: int = 1


@dataclass
class _Worker:
    name: str
    slots: int
    seq: int = 0  # registration order: equally free workers are filled in this order
    leases: dict[int, int] = field(default_factory=dict)  # lease -> slots it holds
    busy: int = 0  # the slots its leases hold, kept as they come and go

    @property
    def free(self) -> int:
        return self.slots - self.busy


class Scheduler:
    """Priority scheduling of chunks onto worker slots, with leases."""

    def __init__(self, first_lease: int = 1):
        self._queues: dict[int, list[tuple]] = {}  # cores -> heap of the unpinned chunks
        self._pinned: dict[str, list[tuple]] = {}
        self._chunks: dict[tuple[str, int], Chunk] = {}
        self._jobs: dict[str, list[Chunk]] = {}
        self._leases: dict[int, Chunk] = {}
        self._workers: dict[str, _Worker] = {}
        # The workers with a free slot. assign() runs after every event and looks at these
        # only: scanning every worker each time was half the head's CPU per chunk at 200
        # workers (python -m benchmarks.scale --profile).
        self._free: dict[str, _Worker] = {}
        self._worker_seq = itertools.count()
        self._lease_ids = itertools.count(first_lease)
        # Jobs with a cap on chunks at once (a batch's parallel_count): their extra chunks
        # wait in _parked, out of the heap, until one of theirs ends.
        self._limits: dict[str, int] = {}
        self._running: dict[str, int] = {}
        self._parked: dict[str, list[Chunk]] = {}

    # ---------------------------------------------------------------- jobs
    def add_job(self, job_id: str, priority: int, seq: int,
                chunks: list[tuple[int, int, str | None]], done: set[int] = frozenset(),
                max_parallel: int = 0, cores: int = 1) -> None:
        """Queue a job's chunks, given as (first task, task count, pinned worker or None).

        ``max_parallel`` > 0 caps how many of its chunks run at once; each chunk holds
        ``cores`` slots of its worker.
        """
        if job_id in self._jobs:
            raise ValueError(f"job {job_id!r} is already scheduled")
        if max_parallel > 0:
            self._limits[job_id] = max_parallel
        made = [Chunk(job_id, index, first, count, priority, seq, pinned, max(1, cores))
                for index, (first, count, pinned) in enumerate(chunks)]
        self._chunks.update(((job_id, chunk.index), chunk) for chunk in made)
        unpinned = []
        for chunk in made:
            if chunk.index in done:
                chunk.state = DONE
            elif chunk.pinned is None:
                unpinned.append((-priority, seq, chunk.index, job_id, chunk))
            else:
                self._push(chunk)
        # A large job is one heapify, not a push per chunk (a job of 100,000 chunks is laid
        # out on the head's event loop); a small one beside a long queue is pushed.
        queue = self._queues.setdefault(max(1, cores), [])
        if len(unpinned) > len(queue) // 4:
            queue.extend(unpinned)
            heapq.heapify(queue)
        else:
            for entry in unpinned:
                heapq.heappush(queue, entry)
        self._jobs[job_id] = made

    def forget_job(self, job_id: str) -> None:
        """Drop a finished or cancelled job's bookkeeping."""
        for chunk in self._jobs.pop(job_id, []):
            self._chunks.pop((job_id, chunk.index), None)
            if chunk.state == LEASED:
                self._drop_lease(chunk)
        self._limits.pop(job_id, None)
        self._running.pop(job_id, None)
        self._parked.pop(job_id, None)

    def cancel_job(self, job_id: str) -> list[ChunkLease]:
        """Stop scheduling a job; return the leases running now, to be stopped."""
        running = []
        for chunk in self._jobs.get(job_id, []):
            if chunk.state == LEASED and chunk.lease is not None:  # not an orphan
                running.append(self._lease_of(chunk))
                self._drop_lease(chunk)
            if chunk.state != DONE:
                chunk.state = CANCELLED
        return running

    # ---------------------------------------------------------------- workers
    def add_worker(self, name: str, slots: int) -> None:
        """A worker with ``slots`` free executor slots joined."""
        if name in self._workers:
            raise ValueError(f"worker {name!r} is already registered")
        worker = self._workers[name] = _Worker(name, slots, next(self._worker_seq))
        if worker.free > 0:
            self._free[name] = worker
        self._pinned.setdefault(name, [])

    def remove_worker(self, name: str) -> list[Chunk]:
        """A worker left or was lost: requeue its chunks; return pinned ones it held."""
        worker = self._workers.pop(name, None)
        self._free.pop(name, None)
        orphans = []
        if worker is None:
            return orphans
        for lease in list(worker.leases):
            chunk = self._leases[lease]
            self._drop_lease(chunk)
            if chunk.pinned is not None:
                orphans.append(chunk)
            else:
                chunk.state = QUEUED
                self._push(chunk)
        return orphans

    def workers(self) -> dict[str, tuple[int, int]]:
        """Worker name -> (slots, busy slots)."""
        return {w.name: (w.slots, w.busy) for w in self._workers.values()}

    def largest_worker(self) -> int:
        """The most slots any registered worker has (0 with none)."""
        return max((w.slots for w in self._workers.values()), default=0)

    # ---------------------------------------------------------------- leases
    def lease_next(self, worker_name: str) -> ChunkLease | None:
        """Lease the best runnable chunk to a free slot of this worker, if any."""
        worker = self._workers.get(worker_name)
        if worker is None or worker.free <= 0:
            return None
        chunk = self._pop_best(worker)
        if chunk is None:
            return None
        chunk.state, chunk.lease, chunk.worker = LEASED, next(self._lease_ids), worker_name
        chunk.attempts += 1
        self._running[chunk.job_id] = self._running.get(chunk.job_id, 0) + 1
        self._leases[chunk.lease] = chunk
        worker.leases[chunk.lease] = chunk.cores
        worker.busy += chunk.cores
        if worker.free <= 0:
            self._free.pop(worker.name, None)
        return self._lease_of(chunk)

    def assign(self) -> list[ChunkLease]:
        """Fill every free slot of every worker, spreading chunks across workers."""
        leases: list[ChunkLease] = []
        # Called after every event: return at once when nothing could be leased (with
        # hundreds of workers, sorting them all each time was the head's bottleneck).
        free = list(self._free.values())
        if not free or (all(self._top(queue) is None for queue in self._queues.values())
                        and not any(self._pinned.get(w.name) for w in free)):
            return leases
        free.sort(key=lambda w: (-w.free, w.seq))
        while free:
            # A worker whose best chunk did not fit is asked again after a round in which
            # others leased: that chunk may have gone elsewhere, and a smaller one now fits.
            leased = [lease for worker in free if (lease := self.lease_next(worker.name))]
            if not leased:
                break
            leases.extend(leased)
            free = [w for w in free if w.free > 0]
        return leases

    def complete(self, job_id: str, index: int, lease: int | None) -> tuple[bool, ChunkLease | None]:
        """Record a chunk's result; return (accepted, other lease to stop).

        A result on the current lease is accepted. A result on an old lease is accepted
        only if the chunk is not done yet; then the lease running it now, if any, is
        returned so the head can stop that duplicate run.
        """
        chunk = self._chunks.get((job_id, index))
        if chunk is None or chunk.state in (DONE, CANCELLED):
            return False, None
        other = None
        # A per-node chunk whose worker was lost stays LEASED with no lease (an orphan the
        # head fails): nothing runs it, so there is no other lease to stop or drop.
        if chunk.state == LEASED and chunk.lease is not None:
            if chunk.lease != lease:
                other = self._lease_of(chunk)
            self._drop_lease(chunk)
        chunk.state = DONE
        return True, other

    def reopen(self, job_id: str, index: int) -> None:
        """Queue a chunk again whose result could not be stored (it will run again)."""
        chunk = self._chunks.get((job_id, index))
        if chunk is not None and chunk.state == DONE:
            chunk.state = QUEUED
            self._push(chunk)

    # ---------------------------------------------------------------- views
    def queued(self) -> list[Chunk]:
        """Runnable chunks in the order they would be leased."""
        live = [c for queue in self._queues.values() for c in self._iter_live(queue)]
        for heap in self._pinned.values():
            live.extend(self._iter_live(heap))
        live.extend(c for parked in self._parked.values() for c in parked if c.state == QUEUED)
        return sorted(live, key=Chunk.sort_key)

    def pinned_waiting(self) -> dict[str, list[Chunk]]:
        """Queued per-node chunks by the worker they wait for (only workers with some)."""
        waiting = {name: list(self._iter_live(heap)) for name, heap in self._pinned.items()}
        return {name: chunks for name, chunks in waiting.items() if chunks}

    def leased(self) -> list[ChunkLease]:
        """Every current lease."""
        return [self._lease_of(c) for c in self._leases.values()]

    def chunk(self, job_id: str, index: int) -> Chunk | None:
        return self._chunks.get((job_id, index))

    # ---------------------------------------------------------------- internals
    def _push(self, chunk: Chunk) -> None:
        heap = (self._queues.setdefault(chunk.cores, []) if chunk.pinned is None
                else self._pinned.setdefault(chunk.pinned, []))
        heapq.heappush(heap, (*chunk.sort_key(), chunk.job_id, chunk))

    @staticmethod
    def _iter_live(heap: list[tuple]):
        seen = set()
        for entry in heap:
            chunk = entry[-1]
            if chunk.state == QUEUED and id(chunk) not in seen:
                seen.add(id(chunk))
                yield chunk

    def _top(self, heap: list[tuple]) -> tuple | None:
        # Entries go stale when a chunk is leased, cancelled or pushed twice: drop them lazily.
        while heap:
            chunk = heap[0][-1]
            if chunk.state != QUEUED or self._chunks.get((chunk.job_id, chunk.index)) is not chunk:
                heapq.heappop(heap)
            elif self._running.get(chunk.job_id, 0) >= self._limits.get(chunk.job_id, 1 << 62):
                self._parked.setdefault(chunk.job_id, []).append(heapq.heappop(heap)[-1])
            else:
                return heap[0]
        return None

    def _pop_best(self, worker: _Worker) -> Chunk | None:
        """The best chunk this worker could run, if it fits its free slots now."""
        heaps = [queue for cores, queue in self._queues.items() if cores <= worker.slots]
        heaps.append(self._pinned.get(worker.name, []))
        tops = [(top[:3], heap) for heap in heaps if (top := self._top(heap)) is not None]
        if not tops:
            return None
        _, heap = min(tops, key=lambda t: t[0])
        if heap[0][-1].cores > worker.free:
            return None  # it waits for this worker's slots; nothing smaller overtakes it
        return heapq.heappop(heap)[-1]

    def _drop_lease(self, chunk: Chunk) -> None:
        self._leases.pop(chunk.lease, None)
        worker = self._workers.get(chunk.worker or "")
        if worker is not None:
            worker.busy -= worker.leases.pop(chunk.lease, 0)
            if worker.free > 0:
                self._free[worker.name] = worker
        chunk.lease = None
        if chunk.job_id in self._running:
            self._running[chunk.job_id] -= 1
        for parked in self._parked.pop(chunk.job_id, []):
            if parked.state == QUEUED:
                self._push(parked)

    @staticmethod
    def _lease_of(chunk: Chunk) -> ChunkLease:
        return ChunkLease(chunk.lease, chunk.job_id, chunk.index, chunk.worker,
                          chunk.first, chunk.count, chunk.cores)
