"""Who hears of a live job's events, and the stream of them that ``WatchJob`` reads.

    Head.chunk_done, Head._retire ──notify(job, event)──► each watcher's queue ──► watch()
                                  └──job.waiter (RunJob, ExecJobs): told before the commit

An event is ("chunk", ChunkResult), ("info", JobRecord) or ("end", JobRecord). Watchers
hear only what is stored; the one blocked client (``ActiveJob.waiter``) hears it first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING

from ..states import TERMINAL
from .queries import HeadQueries

if TYPE_CHECKING:
    from .core import ActiveJob


def notify(job: ActiveJob, event: tuple) -> None:
    """Tell every watcher of ``job`` of ``event``."""
    for queue in job.watchers:
        queue.put_nowait(event)


class JobWatchers:
    """Watch streams over the head's active jobs, and the end of a blocked client's wait."""

    def __init__(self, active: Mapping[str, ActiveJob], queries: HeadQueries):
        self.active = active  # the head's own table
        self.queries = queries

    async def watch(self, job_id: str, results: bool,
                    progress: bool) -> AsyncIterator[tuple[str, object]]:
        """Events of a job: ("chunk", result) for its stored results (if asked), ("info",
        record) for progress (if asked), then ("end", its final record)."""
        job = self.active.get(job_id)
        if job is None:
            info = self.queries.job_info(job_id)
            if results:
                for chunk in self.queries.stored_results(job_id):
                    yield "chunk", chunk
            yield "end", info
            return
        queue: asyncio.Queue = asyncio.Queue()
        job.watchers.add(queue)
        sent: set[int] = set()
        try:
            if results:
                for chunk in self.queries.stored_results(job_id):
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
        """The client behind ``queue`` (the waiter given to ``Head.submit_waiting``) is done."""
        job = self.active.get(job_id)
        if job is not None and job.waiter is queue:
            job.waiter = None
            if job.info.state not in TERMINAL:
                # The client left before the end (Ctrl-C, a lost connection): nobody will
                # have read the results, so they must not be recorded as collected.
                job.collect_on_finish = False
