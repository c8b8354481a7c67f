"""The jobs repository: every SQL statement about jobs, chunks, results, task errors,
task output and task files, returning dataclasses.

    Head ──insert / mark_running / record_result / finish / set_collected / delete──► Store
         ◄──JobRecord / StoredJob / ChunkRecord / TaskErrorRecord / ...── (group commit, WAL)

Writes go through the store's group commit (``Store.write``: a future that resolves once
committed); reads run on the store's read connection and are always read whole, never
through a cursor left open across an ``await`` (an open cursor pins the connection's
read snapshot for every other query). A job's spec is kept as the JobSpec message it was
submitted as; it is the only message that comes back out of here.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from .._proto import rxgrid_pb2 as pb
from ..defaults import RESULT_PAGE_ROWS
from ..states import ACTIVE, TERMINAL, JobState
from .store import JOB_PROGRESS_SQL, Store

JOB_TABLES = ("jobs", "chunks", "task_errors", "task_output", "task_files", "job_blobs")


@dataclass(frozen=True)
class JobRecord:
    """What the head knows of a job; the servicers' ``job_info`` makes the wire's JobInfo."""

    job_id: str
    name: str = ""
    state: JobState = JobState.QUEUED
    priority: int = 0
    tasks_total: int = 0
    tasks_done: int = 0
    tasks_failed: int = 0
    chunks_total: int = 0
    chunks_done: int = 0
    submitted_at: float = 0.0
    started_at: float = 0.0
    finished_at: float = 0.0
    collected: bool = False
    per_node: bool = False
    error: str = ""
    result_bytes: int = 0
    single_result: bool = False
    service: str = ""
    owner: str = ""
    recipe: pb.TaskRecipe | None = None  # the job's, as submitted (never changed)

    @property
    def seed(self) -> int | None:
        """The seed of the task streams (None: not seeded)."""
        return self.recipe.seed if self.recipe is not None and self.recipe.HasField("seed") else None

    @property
    def rng_kind(self) -> str:
        """The bit generator of the task streams."""
        return (self.recipe.rng_kind if self.recipe is not None else "") or "pcg64"


class ChunkLayout(NamedTuple):
    """A stored chunk of a job: its tasks, the worker it is pinned to, and whether done.

    A NamedTuple, not a frozen dataclass: a job may have 100,000 of them, made on the
    head's event loop (a frozen dataclass costs three times as much to build)."""

    index: int
    first: int
    count: int
    pinned: str | None
    done: bool = False


@dataclass(frozen=True)
class StoredJob:
    """An unfinished job as a restarted head resumes it."""

    record: JobRecord
    spec: pb.JobSpec
    seq: int
    chunks: list[ChunkLayout]


@dataclass(frozen=True)
class TaskErrorRecord:
    """A failed task; ``exception`` is the pickled exception (b"" if there is none)."""

    task: int
    type: str
    message: str
    traceback: str
    worker: str = ""
    exception: bytes = b""


@dataclass(frozen=True)
class ChunkRecord:
    """A stored chunk result with the errors of its tasks."""

    job_id: str
    chunk: int
    first_task: int
    num_tasks: int
    results: bytes = b""
    results_blob: str = ""
    errors: list[TaskErrorRecord] = field(default_factory=list)
    worker: str = ""
    results_json: str = ""


@dataclass(frozen=True)
class TaskOutputRecord:
    """What one task printed."""

    task: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class TaskFileRecord:
    """A file one task left behind, kept as a blob."""

    task: int
    path: str
    blob: str
    size: int


@dataclass(frozen=True)
class JobQuery:
    """Which jobs to list: empty fields do not filter; ``owner`` None means everyone's."""

    state: str = ""
    since: float = 0.0
    until: float = 0.0
    limit: int = 0  # the newest ``limit`` jobs; 0: all
    service: str = ""
    owner: str | None = None


@dataclass(frozen=True)
class Usage:
    """How much the state dir holds; its fields are those of the wire's GetDiskUsageResponse."""

    state_dir: str
    database_bytes: int
    blob_bytes: int
    blobs: int
    jobs_by_state: dict[str, int]
    result_bytes: int


class JobRepository:
    """Jobs and their results in the head's store."""

    def __init__(self, store: Store):
        self.store = store

    # ------------------------------------------------------------ reading jobs
    def last_seq(self) -> int:
        """The submission number of the newest stored job (0 if none)."""
        return self.store.query("SELECT COALESCE(MAX(seq), 0) FROM jobs")[0][0]

    def unfinished(self) -> list[StoredJob]:
        """Queued and running jobs with their chunks, in submission order."""
        return [self._stored_job(row) for row in self.store.query(
            f"SELECT * FROM jobs WHERE state IN {_placeholders(ACTIVE)} ORDER BY seq", tuple(ACTIVE))]

    def _stored_job(self, row) -> StoredJob:
        chunks = [ChunkLayout(c["chunk"], c["first_task"], c["num_tasks"], c["pinned"],
                              c["state"] == "done")
                  for c in self.store.query(
                      "SELECT chunk, first_task, num_tasks, pinned, state FROM chunks "
                      "WHERE job_id=? ORDER BY chunk", (row["job_id"],))]
        return StoredJob(_record(row), pb.JobSpec.FromString(row["spec"]), row["seq"], chunks)

    def exists(self, job_id: str) -> bool:
        return bool(self.store.query("SELECT 1 FROM jobs WHERE job_id=?", (job_id,)))

    def get(self, job_id: str) -> JobRecord | None:
        rows = self.store.query("SELECT * FROM jobs WHERE job_id=?", (job_id,))
        return _record(rows[0]) if rows else None

    def spec(self, job_id: str) -> pb.JobSpec | None:
        rows = self.store.query("SELECT spec FROM jobs WHERE job_id=?", (job_id,))
        return pb.JobSpec.FromString(rows[0]["spec"]) if rows else None

    def find(self, query: JobQuery) -> list[JobRecord]:
        """Jobs matching ``query``, in submission order (the newest ``limit``, newest first)."""
        sql, params = "SELECT * FROM jobs WHERE 1=1", []
        for column, test, value in (("owner", "=", query.owner), ("service", "=", query.service),
                                    ("state", "=", query.state),
                                    ("submitted_at", ">=", query.since),
                                    ("submitted_at", "<", query.until)):
            if value or (column == "owner" and value is not None):
                sql += f" AND {column}{test}?"
                params.append(value)
        sql += " ORDER BY seq" + (f" DESC LIMIT {int(query.limit)}" if query.limit else "")
        return [_record(r) for r in self.store.query(sql, tuple(params))]

    def ended(self) -> list[JobRecord]:
        """Every job that has ended (finished, failed or cancelled)."""
        return [_record(r) for r in self.store.query(
            f"SELECT * FROM jobs WHERE state IN {_placeholders(TERMINAL)}", tuple(TERMINAL))]

    # ------------------------------------------------------------ reading results
    def results(self, job_id: str) -> Iterator[ChunkRecord]:
        """The stored chunk results of a job, in chunk order, with their task errors."""
        errors = collections.defaultdict(list)
        for e in self.task_errors(job_id):
            errors[e.task].append(e)
        for r in self._done_chunks(job_id):
            chunk_errors = [e for t in range(r["first_task"], r["first_task"] + r["num_tasks"])
                            for e in errors.get(t, ())] if errors else []
            yield ChunkRecord(job_id, r["chunk"], r["first_task"], r["num_tasks"],
                              r["results"] or b"", r["results_blob"] or "", chunk_errors,
                              r["worker"] or "", r["results_json"] or "")

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
                "FROM chunks WHERE job_id=? AND state='done' AND chunk>? ORDER BY chunk LIMIT ?",
                (job_id, last, page))
            yield from rows
            if len(rows) < page:
                return
            last = rows[-1]["chunk"]

    def task_errors(self, job_id: str) -> list[TaskErrorRecord]:
        """Every failed task of the job, by task (no results are loaded)."""
        return [TaskErrorRecord(r["task"], r["type"], r["message"], r["traceback"],
                                r["worker"] or "", r["exception"] or b"")
                for r in self.store.query("SELECT * FROM task_errors WHERE job_id=? ORDER BY task",
                                          (job_id,))]

    def task_outputs(self, job_id: str, task: int | None = None) -> list[TaskOutputRecord]:
        """What the job's tasks printed (all tasks, or one), by task."""
        sql, params = "SELECT task, stdout, stderr FROM task_output WHERE job_id=?", [job_id]
        if task is not None:
            sql += " AND task=?"
            params.append(task)
        return [TaskOutputRecord(r["task"], r["stdout"] or "", r["stderr"] or "")
                for r in self.store.query(sql + " ORDER BY task", tuple(params))]

    def task_files(self, job_id: str) -> list[TaskFileRecord]:
        """Files kept from the job's tasks, by task and path."""
        return [TaskFileRecord(r["task"], r["path"], r["blob"], r["size"])
                for r in self.store.query("SELECT * FROM task_files WHERE job_id=? "
                                          "ORDER BY task, path", (job_id,))]

    # ------------------------------------------------------------ blobs and usage
    def blob_readable_by(self, digest: str, owner: str) -> bool:
        """May the (non-admin) user ``owner`` fetch this blob?

        Refused: a service's function of another owner, and a blob that stored jobs use
        when none of them is the user's. A blob no stored job names yet (a result a
        waiting client hears of before its commit) stays readable: its hash was told to
        its owner alone.
        """
        if self.store.query(
                "SELECT 1 FROM job_blobs b JOIN services s ON b.job_id = "
                "'service:' || s.name || '/' || s.version WHERE b.hash=? AND s.owner<>? LIMIT 1",
                (digest, owner)):
            return False
        owners = "SELECT 1 FROM job_blobs b JOIN jobs j ON j.job_id=b.job_id WHERE b.hash=?"
        return (not self.store.query(owners + " LIMIT 1", (digest,))
                or bool(self.store.query(owners + " AND j.owner=? LIMIT 1", (digest, owner))))

    def usage(self, blob_files: int, blob_file_bytes: int) -> Usage:
        """The state dir's size and the jobs by state; blob files are counted by the caller."""
        database = sum(p.stat().st_size for p in self.store.dir.glob("rxgrid.sqlite3*"))
        rows, row_bytes = self.store.query(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(data)), 0) FROM small_blobs")[0]
        states = {r[0]: r[1] for r in self.store.query(
            "SELECT state, COUNT(*) FROM jobs GROUP BY state")}
        results = self.store.query("SELECT COALESCE(SUM(result_bytes), 0) FROM jobs")[0][0]
        return Usage(str(self.store.dir.resolve()), database, blob_file_bytes + row_bytes,
                     blob_files + rows, states, results)

    # ------------------------------------------------------------ writing
    def probe(self) -> None:
        """Write nothing, now; StoreError if the state database still cannot be written."""
        self.store.write_sync([("UPDATE jobs SET seq=seq WHERE 0", ())])

    def insert(self, job: JobRecord, spec: pb.JobSpec, seq: int, chunks: list[ChunkLayout],
               delay: float = 0.0) -> asyncio.Future:
        """Store a new job, its chunks and the blobs it uses."""
        return self.store.write([
            ("INSERT INTO jobs(job_id, seq, name, spec, state, priority, tasks_total, "
             "chunks_total, submitted_at, started_at, service, owner) "
             "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
             (job.job_id, seq, job.name, spec.SerializeToString(), job.state, job.priority,
              job.tasks_total, job.chunks_total, job.submitted_at, job.started_at or None,
              spec.service, job.owner)),
            ("INSERT INTO chunks(job_id, chunk, first_task, num_tasks, pinned) VALUES (?,?,?,?,?)",
             [(job.job_id, c.index, c.first, c.count, c.pinned) for c in chunks]),
            ("INSERT OR IGNORE INTO job_blobs(job_id, hash) VALUES (?,?)",
             [(job.job_id, d) for d in set(spec_blobs(spec))]),
        ], delay=delay)

    def mark_running(self, job_id: str, started_at: float) -> None:
        """Record that a job's first chunk went out (nobody waits for this commit)."""
        self.store.write_nowait([("UPDATE jobs SET state=?, started_at=? WHERE job_id=?",
                                  (JobState.RUNNING, started_at, job_id))])

    def record_result(self, job: JobRecord, result: pb.ChunkResult) -> asyncio.Future:
        """Store a chunk's result (as the worker sent it) and the job's progress after it."""
        return self.store.write(_result_ops(job, result))

    def finish(self, job: JobRecord) -> asyncio.Future:
        """Store how a job ended without a result (cancelled, say)."""
        return self.store.write([("UPDATE jobs SET state=?, finished_at=?, error=? WHERE job_id=?",
                                  (job.state, job.finished_at, job.error, job.job_id))])

    def set_collected(self, job_id: str, collected: bool = True) -> asyncio.Future:
        """Record whether a client has read every result of the job."""
        return self.store.write([("UPDATE jobs SET collected=? WHERE job_id=?",
                                  (int(collected), job_id))])

    async def delete(self, job_ids: list[str]) -> list[str]:
        """Delete jobs and everything stored of them; return the blobs no job uses now."""
        hashes = {r["hash"] for j in job_ids for r in self.store.query(
            "SELECT hash FROM job_blobs WHERE job_id=?", (j,))}
        await self.store.write([(f"DELETE FROM {table} WHERE job_id=?", [(j,) for j in job_ids])
                                for table in JOB_TABLES])
        return [d for d in hashes
                if not self.store.query("SELECT 1 FROM job_blobs WHERE hash=? LIMIT 1", (d,))]

    def record_worker(self, name: str, host: str, cores: int, pid: int, registered_at: float,
                      last_seen: float) -> None:
        """Remember a worker that connected (nobody waits for this commit)."""
        self.store.write_nowait([(
            "INSERT OR REPLACE INTO workers(name, host, cores, pid, registered_at, last_seen) "
            "VALUES (?,?,?,?,?,?)", (name, host, cores, pid, registered_at, last_seen))])


def removable(records: list[JobRecord], force: bool) -> tuple[list[str], list[str], str]:
    """Which jobs a cleanup may delete, which it must keep, and why: a job that has not
    ended, or (without ``force``) one that finished with results nobody has read."""
    removed, refused, reasons = [], [], []
    for r in records:
        if r.state not in TERMINAL:
            refused.append(r.job_id)
            reasons.append(f"{r.job_id} is {r.state} (cancel it first)")
        elif r.state == JobState.FINISHED and not r.collected and not force:
            refused.append(r.job_id)
            reasons.append(f"{r.job_id} has results nobody has read (use force)")
        else:
            removed.append(r.job_id)
    return removed, refused, "; ".join(reasons)


def spec_blobs(spec: pb.JobSpec) -> list[str]:
    """The blobs a job's spec names."""
    recipe = spec.recipe
    return [d for d in (recipe.function_blob, recipe.common_blob, recipe.objects_blob,
                        *spec.chunk_blobs) if d]


def _result_ops(job: JobRecord, result: pb.ChunkResult) -> list:
    ops = [
        ("UPDATE chunks SET state='done', worker=?, results=?, results_blob=?, results_json=?, "
         "finished_at=? WHERE job_id=? AND chunk=?",
         (result.worker, result.results, result.results_blob, result.results_json, time.time(),
          result.job_id, result.chunk)),
        (JOB_PROGRESS_SQL,
         (job.state, job.tasks_done, job.tasks_failed, job.chunks_done, job.finished_at or None,
          job.error, job.result_bytes, int(job.collected), job.job_id)),
    ]
    if result.errors:
        ops.append(("INSERT OR REPLACE INTO task_errors(job_id, task, type, message, traceback, "
                    "worker, exception) VALUES (?,?,?,?,?,?,?)",
                    [(result.job_id, e.task, e.type, e.message, e.traceback,
                      e.worker or result.worker, e.exception or None) for e in result.errors]))
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
        ops.append(("INSERT OR REPLACE INTO task_output(job_id, task, stdout, stderr) "
                    "VALUES (?,?,?,?)",
                    [(result.job_id, o.task, o.stdout, o.stderr) for o in result.outputs]))
    return ops


def _record(row) -> JobRecord:
    """A job row as a record; seed and result options come from its stored spec."""
    try:
        spec = pb.JobSpec.FromString(row["spec"])
        recipe, per_node, single = spec.recipe, spec.per_node, spec.single_result
    except Exception:  # noqa: BLE001 - a damaged spec must not hide the job
        recipe, per_node, single = None, False, False
    return JobRecord(
        job_id=row["job_id"], name=row["name"] or "", state=JobState(row["state"]), priority=row["priority"],
        tasks_total=row["tasks_total"], tasks_done=row["tasks_done"],
        tasks_failed=row["tasks_failed"], chunks_total=row["chunks_total"],
        chunks_done=row["chunks_done"], submitted_at=row["submitted_at"],
        started_at=row["started_at"] or 0, finished_at=row["finished_at"] or 0,
        collected=bool(row["collected"]), per_node=per_node, error=row["error"],
        recipe=recipe, result_bytes=row["result_bytes"], single_result=single,
        service=row["service"], owner=row["owner"])


def _placeholders(states) -> str:
    """``(?,?)`` for an SQL ``IN`` over ``states``."""
    return "(" + ",".join("?" * len(states)) + ")"
