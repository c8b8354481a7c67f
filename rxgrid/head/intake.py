"""What a submitted job must pass, and the chunks it is cut into: pure functions.

    JobSpec ─► job_id (checked, or made) ─► check_source (kernel or function, blobs held)
            ─► chunk_layout ─► [ChunkLayout(index, first task, task count, pinned worker)]
            ─► new_record ─► its first JobRecord (queued)

No I/O: the head passes in what it knows (connected workers, free slots, which blobs it
holds) and gets a :class:`~rxgrid.head.errors.HeadError` for a job it must refuse.
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
from collections.abc import Callable

from .._proto import rxgrid_pb2 as pb
from ..runtime.chunk_sizes import guided_sizes
from ..states import JobState
from .errors import HeadError, blob_missing
from .jobs import ChunkLayout, JobRecord, spec_blobs

JOB_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
KERNEL_NAMES = ("dice", "birthday", "mandelbrot")


def job_id(requested: str, taken: Callable[[str], bool]) -> str:
    """The id a job gets: the one its client chose (if valid and free) or a new one."""
    if not requested:
        return time.strftime("rx-%Y%m%d-%H%M%S-") + secrets.token_hex(3)
    if not JOB_ID_RE.match(requested):
        raise HeadError("invalid", f"job id {requested!r} is not valid: use 1 to 128 of the "
                                   f"characters A-Z a-z 0-9 . _ -")
    if taken(requested):
        raise HeadError("exists", f"a job with id {requested!r} already exists: choose another "
                                  f"id, or clean the old job up first (rxgrid cleanup {requested})")
    return requested


def check_source(spec: pb.JobSpec, held: Callable[[str], bool]) -> None:
    """A job runs a known kernel or a function, and every blob it names is on the head
    (``held``) or inline in the spec."""
    recipe = spec.recipe
    if recipe.HasField("kernel"):
        if recipe.kernel.name not in KERNEL_NAMES:
            raise HeadError("invalid", f"unknown kernel {recipe.kernel.name!r}; "
                                       f"built-in kernels are {', '.join(KERNEL_NAMES)}")
    elif not recipe.function_blob:
        raise HeadError("invalid", "the job has neither a function blob nor a kernel name")
    inline = {blob.hash for blob in spec.inline_blobs}
    for digest in spec_blobs(spec):
        if digest not in inline and not held(digest):
            raise blob_missing(f"blob {digest[:12]}... is not on the head: upload it with "
                               f"PutBlob (or inline it) before submitting", digest)


def chunk_layout(spec: pb.JobSpec, workers: list[str], slots: int) -> list[ChunkLayout]:
    """The chunks of a job: one per connected worker (``per_node``), the sizes it asked
    for, or guided sizes for ``slots`` free executors."""
    if spec.per_node:
        if not workers:
            raise HeadError("precondition", "a per-node job needs connected workers, and "
                                            "none is connected: start one with `rxgrid worker`")
        return [ChunkLayout(i, i, 1, name) for i, name in enumerate(workers)]
    sizes = _chunk_sizes(spec, slots)
    if spec.chunk_blobs and len(spec.chunk_blobs) != len(sizes):
        raise HeadError("invalid", f"{len(spec.chunk_blobs)} chunk argument blobs for "
                                   f"{len(sizes)} chunks")
    firsts = itertools.accumulate([0] + sizes[:-1])
    return [ChunkLayout(i, first, size, None)
            for i, (first, size) in enumerate(zip(firsts, sizes, strict=True))]


def _chunk_sizes(spec: pb.JobSpec, slots: int) -> list[int]:
    n = spec.num_tasks
    if n < 1:
        raise HeadError("invalid", f"a job needs at least one task, got num_tasks={n}")
    if spec.chunk_sizes:
        sizes = list(spec.chunk_sizes)
        if sum(sizes) != n:
            raise HeadError("invalid", f"chunk_sizes add up to {sum(sizes)}, not num_tasks={n}: "
                                       f"give sizes that add up to the job's tasks")
        return sizes
    if spec.chunk_size:
        return [min(spec.chunk_size, n - first) for first in range(0, n, spec.chunk_size)]
    return guided_sizes(n, slots)


def new_record(spec: pb.JobSpec, job_id: str, layout: list[ChunkLayout], owner: str) -> JobRecord:
    """The record of a job just accepted: queued, with its tasks and chunks counted."""
    return JobRecord(
        job_id=job_id, name=spec.name or spec.recipe.kernel.name, state=JobState.QUEUED,
        priority=spec.priority, tasks_total=sum(c.count for c in layout),
        chunks_total=len(layout), submitted_at=time.time(), per_node=spec.per_node,
        recipe=spec.recipe, single_result=spec.single_result, service=spec.service, owner=owner)
