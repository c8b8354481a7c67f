"""The head's read-only questions: a job's record, its results, errors, output and files,
the jobs, the disk usage and the workers.

A live job's record comes from the state machine's table of active jobs (``Head.jobs``,
newer than its row); everything else is read from the store. Nothing here changes state.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from .blobs import Blobs
from .errors import HeadError, not_found
from .jobs import (
    ChunkRecord,
    JobQuery,
    JobRecord,
    JobRepository,
    TaskErrorRecord,
    TaskFileRecord,
    TaskOutputRecord,
    Usage,
)
from .scheduler import Scheduler
from .users import User
from .workers import WorkerRegistry, WorkerStatus

if TYPE_CHECKING:
    from .core import ActiveJob


class HeadQueries:
    """Answers about jobs and workers, for the servicers and the dashboard."""

    def __init__(self, active: Mapping[str, ActiveJob], repository: JobRepository, blobs: Blobs,
                 workers: WorkerRegistry, scheduler: Scheduler):
        self.active = active  # the head's own table: read, never changed here
        self.repository = repository
        self.blobs = blobs
        self.workers = workers
        self.scheduler = scheduler

    def job_info(self, job_id: str) -> JobRecord:
        """A job's latest record (not found if the head has no such job)."""
        job = self.active.get(job_id)
        if job is not None:
            return job.info
        record = self.repository.get(job_id)
        if record is None:
            raise no_job(job_id)
        return record

    def job_info_for(self, job_id: str, user: User) -> JobRecord:
        """A job's record if ``user`` may see it. Another user's job is "not found", word
        for word like a missing one, so nobody learns which ids others use."""
        info = self.job_info(job_id)
        if not user.may_see(info.owner):
            raise no_job(job_id)
        return info

    def may_read_blob(self, digest: str, user: User) -> bool:
        """May ``user`` fetch this blob? Not another user's results, files or service code."""
        return user.admin or self.repository.blob_readable_by(digest, user.name)

    def total_slots(self) -> int:
        """Executor slots of the connected workers."""
        return self.workers.total_slots()

    def stored_results(self, job_id: str) -> Iterator[ChunkRecord]:
        """The stored chunk results of a job, in chunk order, with their task errors."""
        return self.repository.results(job_id)

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

    def list_jobs(self, state: str, since: float, until: float, limit: int,
                  service: str = "", user: User | None = None) -> list[JobRecord]:
        """Jobs in submission order; only ``user``'s own unless they are an admin."""
        owner = user.name if user is not None and not user.admin else None
        records = self.repository.find(JobQuery(state, since, until, limit, service, owner))
        live = [self.active[r.job_id].info if r.job_id in self.active else r for r in records]
        return sorted(live, key=lambda i: i.submitted_at)

    def usage(self) -> Usage:
        """How much the state dir holds, and the jobs by state."""
        return self.repository.usage(*self.blobs.file_usage())

    def list_workers(self) -> list[WorkerStatus]:
        """Every registered worker, with the chunks it is running."""
        return self.workers.statuses({name: busy for name, (_, busy)
                                      in self.scheduler.workers().items()})


def no_job(job_id: str) -> HeadError:
    """The error for a job this head does not have (or the asker may not see)."""
    return not_found("job", f"no job {job_id!r} on this head (list jobs with `rxgrid jobs`)")
