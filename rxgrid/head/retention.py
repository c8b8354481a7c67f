"""What becomes of a job after its end: recorded as collected once a client has read every
result, and removed with its blobs on request, or at once when it asked for auto_cleanup.

    ended ──every result read──► collected ──cleanup (or auto_cleanup)──► removed
      └──────────────────────cleanup(force=True)──────────────────────────┘

Only ended jobs are touched (``jobs.removable`` says which may go), so nothing here
races the state machine. Call from the event loop only.
"""

from __future__ import annotations

import logging

from .._proto import rxgrid_pb2 as pb
from ..states import TERMINAL
from .blobs import Blobs
from .jobs import JobRepository, removable
from .queries import HeadQueries
from .users import User

log = logging.getLogger("rxgrid.head")


class Retention:
    """Collected marks and cleanup of ended jobs."""

    def __init__(self, queries: HeadQueries, repository: JobRepository, blobs: Blobs):
        self.queries = queries
        self.repository = repository
        self.blobs = blobs

    async def mark_collected(self, job_id: str, spec: pb.JobSpec | None = None) -> None:
        """Record that a client has read every result; clean up if the job asked for it."""
        info = self.queries.job_info(job_id)
        if info.state not in TERMINAL:
            return
        if not info.collected:
            await self.repository.set_collected(job_id)
        spec = spec or self.repository.spec(job_id)
        if spec is not None and spec.auto_cleanup:
            await self.cleanup([job_id], force=True)

    async def cleanup(self, job_ids: list[str], force: bool,
                      user: User | None = None) -> tuple[list[str], list[str], str]:
        """Delete terminal jobs and their blobs; uncollected finished ones only with force.

        With ``user``, only jobs they may see: no ids means every ended job of theirs, and
        another user's id is "not found"."""
        if job_ids:
            infos = [self.queries.job_info(j) if user is None else self.queries.job_info_for(j, user)
                     for j in job_ids]
        else:
            infos = [r for r in self.repository.ended() if user is None or user.may_see(r.owner)]
        removed, refused, reasons = removable(infos, force)
        if removed:
            for digest in await self.repository.delete(removed):
                self.blobs.delete(digest)
            log.info("cleaned up %d job(s): %s", len(removed), ", ".join(removed[:10]))
        return removed, refused, reasons
