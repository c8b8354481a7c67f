"""The head's one validation edge: every name, size, count and path that arrives in a
message is checked here before anything acts on it.

    client / worker ──message──► servicers.py ──► validate.* ──► core.Head / Store
                                                     │ HeadError("invalid", what was wrong
                                                     ▼            and what would be right)
                                              INVALID_ARGUMENT

Names the head turns into paths (blob hashes) must be 64 lowercase hex characters;
blobs that arrive with their bytes must hash to their name; task file paths are
relative without ``..`` (:mod:`rxgrid._paths`, shared with the worker and the client).
A request is checked completely before any of it is stored, so a refused one leaves
no trace. Pure functions: no I/O, no gRPC.
"""

from __future__ import annotations

import math
import re

from .._paths import blob_hash, is_blob_hash, output_pattern, relative_path
from .._proto import rxgrid_pb2 as pb
from ..defaults import MAX_RETRIES
from .errors import HeadError

MAX_TASKS = 10_000_000        # tasks per job
MAX_CHUNKS = 20_000           # chunks per job: laid out on the event loop (~0.1 s at most)
MAX_ID_CHARS = 128            # job ids, worker names, service names and versions
MAX_TEXT_CHARS = 1024         # a job's name, a service field's name or type
MAX_DESCRIPTION_CHARS = 64 << 10
MAX_LIST_ITEMS = 256          # packages, output_files patterns, service fields
MAX_QUERY_ITEMS = 100_000     # hashes in FindMissingBlobs, job ids in CleanupJobs
MAX_TIMEOUT_SECONDS = 366 * 86400
RNG_KINDS = ("pcg64", "philox", "sfc64", "mt19937")  # as rxgrid.runtime.seeding (no numpy here)
PACKAGE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")

# name -> (smallest, largest, whole number?)
_COORD = (-1e3, 1e3, False)
KERNEL_PARAMS = {
    "dice": {"games": (1, 1e9, True)},
    "birthday": {"n": (1, 10_000, True), "trials": (1, 1e9, True)},
    "mandelbrot": {"width": (1, 20_000, True), "height": (1, 20_000, True),
                   "rows": (1, 20_000, True), "max_iter": (1, 1e6, True),
                   "x_min": _COORD, "x_max": _COORD, "y_min": _COORD, "y_max": _COORD},
}


def invalid(message: str) -> HeadError:
    return HeadError("invalid", message)


# ---------------------------------------------------------------- blobs
def blob_name(name: str, what: str = "blob") -> str:
    """``name`` if it is a blob's name (a sha256: 64 lowercase hex characters)."""
    if not is_blob_hash(name):
        raise invalid(f"{what} name {_show(name)} is not a blob name: blobs are named by "
                      f"their sha256, 64 lowercase hex characters (0-9 a-f)")
    return name


def optional_blob_name(name: str, what: str) -> str:
    return blob_name(name, what) if name else name


def blob_names(names, what: str = "blob") -> list[str]:
    _count(names, MAX_QUERY_ITEMS, f"{what} names")
    return [blob_name(n, what) for n in names]


def inline_blobs(blobs) -> None:
    """Each inline blob is well named and its bytes hash to that name."""
    for blob in blobs:
        blob_name(blob.hash, "inline blob")
        actual = blob_hash(blob.data)
        if actual != blob.hash:
            raise invalid(f"inline blob {blob.hash[:12]}...: its {len(blob.data):,} bytes hash "
                          f"to {actual[:12]}..., not to its name; name a blob by the sha256 "
                          f"of its bytes")


# ---------------------------------------------------------------- jobs
def job_spec(spec) -> None:
    """Everything about a job that needs no state: names, sizes, kernel, paths, blobs."""
    _text(spec.name, MAX_TEXT_CHARS, "job name")
    _text(spec.service, 2 * MAX_ID_CHARS + 1, "service")
    task_recipe(spec.recipe)
    _count(spec.chunk_blobs, MAX_CHUNKS, "chunk_blobs")
    for name in spec.chunk_blobs:
        blob_name(name, "chunk_blobs entry")
    inline_blobs(spec.inline_blobs)
    if not spec.per_node:
        _job_size(spec)


def task_recipe(recipe) -> None:
    """How a job's tasks run: bit generator, timeout, retries, packages, patterns, blobs
    and kernel, each known and in its range."""
    if recipe.rng_kind and recipe.rng_kind not in RNG_KINDS:
        raise invalid(f"rng_kind {_show(recipe.rng_kind)} is unknown: use one of "
                      f"{', '.join(RNG_KINDS)} (empty means pcg64)")
    timeout = recipe.timeout
    if not (0 <= timeout.seconds <= MAX_TIMEOUT_SECONDS and 0 <= timeout.nanos < 10**9):
        raise invalid(f"timeout {timeout.seconds}s {timeout.nanos}ns is not a duration from 0 "
                      f"(none) to {MAX_TIMEOUT_SECONDS:g} seconds")
    if recipe.retries > MAX_RETRIES:
        raise invalid(f"retries={recipe.retries:,} is more than the {MAX_RETRIES} re-runs a task "
                      f"may have: use a smaller number")
    if recipe.cores > MAX_CORES:
        raise invalid(f"cores={recipe.cores:,} per task is more than any worker can have "
                      f"({MAX_CORES:,})")
    _packages(recipe.packages)
    _patterns(recipe.output_files)
    for what, name in (("function_blob", recipe.function_blob), ("common_blob", recipe.common_blob),
                       ("objects_blob", recipe.objects_blob)):
        optional_blob_name(name, what)
    if recipe.HasField("kernel"):
        kernel(recipe.kernel.name, recipe.kernel.params)


def kernel(name: str, params) -> None:
    """A built-in kernel's name and its parameters, each known and in its range."""
    known = KERNEL_PARAMS.get(name)
    if known is None:
        raise invalid(f"unknown kernel {_show(name)}; built-in kernels are "
                      f"{', '.join(KERNEL_PARAMS)}")
    for key, value in params.items():
        if key not in known:
            raise invalid(f"kernel {name} has no parameter {_show(key)}; its parameters are "
                          f"{', '.join(known)}")
        low, high, whole = known[key]
        if not (math.isfinite(value) and low <= value <= high and (not whole or value == int(value))):
            kind = "a whole number" if whole else "a number"
            raise invalid(f"kernel {name} parameter {key}={value!r} is out of range: use "
                          f"{kind} from {low:g} to {high:g}")


def _job_size(spec) -> None:
    n = spec.num_tasks
    if n > MAX_TASKS:
        raise invalid(f"num_tasks={n:,} is more than the {MAX_TASKS:,} tasks a job may have: "
                      f"split the work into several jobs, or give each task more to do")
    if spec.chunk_sizes:
        _count(spec.chunk_sizes, MAX_CHUNKS, "chunk_sizes")
        bad = [i for i, size in enumerate(spec.chunk_sizes) if size < 1]
        if bad:
            raise invalid(f"chunk_sizes[{bad[0]}] is {spec.chunk_sizes[bad[0]]}: every chunk "
                          f"needs at least one task")
    elif spec.chunk_size and n and -(-n // spec.chunk_size) > MAX_CHUNKS:
        raise invalid(f"num_tasks={n:,} in chunks of {spec.chunk_size:,} makes "
                      f"{-(-n // spec.chunk_size):,} chunks, more than the {MAX_CHUNKS:,} a job "
                      f"may have: use chunk_size >= {-(-n // MAX_CHUNKS):,}")


def _packages(packages) -> None:
    _count(packages, MAX_LIST_ITEMS, "packages")
    for name in packages:
        if len(name) > MAX_TEXT_CHARS or not PACKAGE_RE.match(name):
            raise invalid(f"package {_show(name)} is not a module name: use dotted Python "
                          f"names such as 'numpy' or 'scipy.stats'")


def _patterns(patterns) -> None:
    _count(patterns, MAX_LIST_ITEMS, "output_files patterns")
    for pattern in patterns:
        try:
            output_pattern(pattern)
        except ValueError as exc:
            raise invalid(str(exc)) from None


# ---------------------------------------------------------------- services, queries
def service_spec(spec) -> None:
    """A service to publish: its texts, fields and blobs (its name and version are
    checked by the registry)."""
    _text(spec.description, MAX_DESCRIPTION_CHARS, "service description")
    blob_name(spec.runner_blob, "runner_blob")
    for what, fields in (("inputs", spec.inputs), ("outputs", spec.outputs)):
        _count(fields, MAX_LIST_ITEMS, f"service {what}")
        for f in fields:
            _text(f.name, MAX_TEXT_CHARS, f"service {what} name")
            _text(f.type, MAX_TEXT_CHARS, f"service {what} type")
    inline_blobs(spec.inline_blobs)


def job_state(value: int) -> int:
    """A JobState enum value from the wire (an open enum: any number may arrive)."""
    if value not in pb.JobState.values():
        raise invalid(f"unknown job state {value}: use one of {', '.join(pb.JobState.keys())} "
                      f"(JOB_STATE_UNSPECIFIED: any)")
    return value


# google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z
MIN_TIMESTAMP_SECONDS, MAX_TIMESTAMP_SECONDS = -62_135_596_800, 253_402_300_799


def timestamp(stamp, what: str) -> float:
    """A Timestamp from the wire as unix seconds (0.0 when unset), if it is one."""
    if not (MIN_TIMESTAMP_SECONDS <= stamp.seconds <= MAX_TIMESTAMP_SECONDS
            and 0 <= stamp.nanos < 1_000_000_000):
        raise invalid(f"{what} ({stamp.seconds} s, {stamp.nanos} ns) is not a time from "
                      f"0001-01-01 to 9999-12-31: send an RFC 3339 time such as "
                      f"2026-01-31T12:00:00Z")
    return stamp.seconds + stamp.nanos / 1e9


def job_ids(ids) -> None:
    _count(ids, MAX_QUERY_ITEMS, "job ids")
    for job_id in ids:
        _text(job_id, MAX_ID_CHARS, "job id")


# ---------------------------------------------------------------- workers
MAX_CORES = 65_536


def registration(req) -> None:
    """A worker's RegisterWorker: its host text and its core count (its name: ``core``)."""
    _text(req.host, MAX_TEXT_CHARS, "worker host")
    _text(req.name, MAX_ID_CHARS, "worker name")
    if not 1 <= req.cores <= MAX_CORES:
        raise invalid(f"a worker has 1 to {MAX_CORES:,} cores, not {req.cores:,}")


# ---------------------------------------------------------------- worker reports
def chunk_report(result, first: int, count: int) -> str:
    """What is wrong with a worker's report on the chunk of tasks ``first`` to
    ``first + count - 1`` ("" if nothing): blob names, task indices and file paths."""
    try:
        optional_blob_name(result.results_blob, "results_blob")
        if len(result.errors) > count or len(result.outputs) > count:
            return f"more errors or outputs than the chunk's {count} tasks"
        tasks = [e.task for e in result.errors]
        if len(set(tasks)) != len(tasks):
            return "two errors for one task"
        for what, items in (("error", result.errors), ("output", result.outputs),
                            ("file", result.files)):
            for item in items:
                if not first <= item.task < first + count:
                    return (f"{what} for task {item.task}, outside the chunk's tasks "
                            f"{first}..{first + count - 1}")
        for f in result.files:
            blob_name(f.blob, "task file blob")
            relative_path(f.path)
    except (HeadError, ValueError) as exc:
        return str(exc)
    return ""


# ---------------------------------------------------------------- helpers
def _count(items, most: int, what: str) -> None:
    if len(items) > most:
        raise invalid(f"{len(items):,} {what} are more than the {most:,} allowed")


def _text(value: str, most: int, what: str) -> None:
    if len(value) > most:
        raise invalid(f"{what} is {len(value):,} characters long; at most {most:,} are allowed")


def _show(value: str) -> str:
    """A value for an error message: quoted, cut short (it may be huge or hostile)."""
    return repr(value[:80] + ("..." if len(value) > 80 else ""))
