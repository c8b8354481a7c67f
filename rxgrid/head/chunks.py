"""A chunk's round trip as pure functions: what the head sends, what it takes back, and
what that does to the job's record.

    ChunkLease ─► assignment ─► ChunkAssignment (small blobs inline, once per session)
    Chunk of a lost worker ─► worker_lost ─► a ChunkResult of WorkerLostError
    ChunkResult ─► checked_report ─► the result as stored (the head's own task range),
                                     or every task failed with WorkerReportError
                ─► record_after ─► the job's next JobRecord (progress, and its end)

No I/O: :mod:`rxgrid.head.core` passes in what it knows (the blobs it holds) and keeps
the leases, the metrics and the logging.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from .._proto import rxgrid_pb2 as pb
from ..states import JobState
from . import validate
from .jobs import JobRecord
from .scheduler import Chunk, ChunkLease


def assignment(spec: pb.JobSpec, lease: ChunkLease, sent_blobs: set[str],
               inline: Callable[[str], bytes | None]) -> pb.ChunkAssignment:
    """The message that gives ``lease`` to its worker; a small blob the worker has not
    been sent (``sent_blobs``) travels inside it (``inline`` gives its bytes, or None)."""
    msg = pb.ChunkAssignment(
        job_id=lease.job_id, chunk=lease.chunk, lease=lease.lease, first_task=lease.first,
        num_tasks=lease.count, recipe=spec.recipe,
        chunk_blob=spec.chunk_blobs[lease.chunk] if spec.chunk_blobs else "")
    recipe = spec.recipe
    for digest in (recipe.function_blob, recipe.common_blob, msg.chunk_blob, recipe.objects_blob):
        if digest and digest not in sent_blobs:
            data = inline(digest)
            if data is not None:
                msg.blobs.add(hash=digest, data=data)
    return msg


def checked_report(result: pb.ChunkResult, chunk: Chunk, worker: str,
                   has_blob: Callable[[str], bool]) -> tuple[pb.ChunkResult, str]:
    """A worker's report on a chunk it holds, as the head will store it, and what was
    wrong with it ("" if nothing).

    The task range is the head's own, never the worker's. A report that breaks the rules
    (tasks outside the chunk, bad blob names or file paths, blobs never uploaded) fails
    every task of the chunk instead.
    """
    result.first_task, result.num_tasks, result.worker = chunk.first, chunk.count, worker
    problem = validate.chunk_report(result, chunk.first, chunk.count) or _missing_blob(result, has_blob)
    if not problem:
        return result, ""
    message = f"worker {worker} sent an invalid report on this chunk: {problem}"
    return pb.ChunkResult(
        job_id=result.job_id, chunk=chunk.index, first_task=chunk.first, num_tasks=chunk.count,
        worker=worker, errors=[pb.TaskError(task=t, type="WorkerReportError", message=message,
                                            worker=worker)
                               for t in range(chunk.first, chunk.first + chunk.count)]), problem


def _missing_blob(result: pb.ChunkResult, has_blob: Callable[[str], bool]) -> str:
    for digest in (result.results_blob, *(f.blob for f in result.files)):
        if digest and not has_blob(digest):
            return f"blob {digest[:12]}... was never uploaded"
    return ""


def worker_lost(chunk: Chunk, why: str = "was lost before its per-node task finished"
                ) -> pb.ChunkResult:
    """The result of a per-node chunk whose worker is gone: its task failed with
    WorkerLostError, and ``why`` says how."""
    error = pb.TaskError(task=chunk.first, type="WorkerLostError",
                         message=f"worker {chunk.pinned} {why}", worker=chunk.pinned)
    return pb.ChunkResult(job_id=chunk.job_id, chunk=chunk.index, first_task=chunk.first,
                          num_tasks=chunk.count, worker=chunk.pinned, errors=[error])


def tasks_with_values(spec: pb.JobSpec, result: pb.ChunkResult) -> int:
    """How many tasks of a chunk ended with a value. A job that stops at its first failure
    (continue_on_failure=False) stops that chunk there too: the tasks after it never ran,
    and must not be counted as done."""
    if result.errors and not spec.recipe.continue_on_failure:
        return min(e.task for e in result.errors) - result.first_task
    return result.num_tasks - len(result.errors)


def record_after(info: JobRecord, spec: pb.JobSpec, result: pb.ChunkResult,
                 collected: bool) -> JobRecord:
    """The job's record once ``result`` is in: progress, and its end if this was it
    (``collected`` if it finished with a client reading every result as it came)."""
    failed = len(result.errors)
    info = dataclasses.replace(
        info, chunks_done=info.chunks_done + 1, tasks_failed=info.tasks_failed + failed,
        tasks_done=info.tasks_done + tasks_with_values(spec, result),
        result_bytes=info.result_bytes + len(result.results) + len(result.results_json))
    if failed and not spec.recipe.continue_on_failure:
        e = result.errors[0]
        return dataclasses.replace(info, state=JobState.FAILED, finished_at=time.time(),
                                   collected=False,
                                   error=f"task {e.task} raised {e.type}: {e.message}")
    if info.chunks_done >= info.chunks_total:
        return dataclasses.replace(info, state=JobState.FINISHED, finished_at=time.time(),
                                   collected=collected)
    return info
