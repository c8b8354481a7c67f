"""Durable state of the head: SQLite (WAL) for jobs, chunks, errors, workers and small
blobs, plus content-addressed files for large blobs beside it.

Writes queued during one turn of the event loop commit together in one transaction
(group commit), so a thousand chunk results cost a handful of commits, not a thousand.
Callers on the event loop await the commit before telling anyone that a result is
stored. Reads use a second connection on the loop thread.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import logging
import os
import pathlib
import shutil
import sqlite3
import stat
import tempfile
import time
from collections.abc import Callable, Iterator

from .._paths import blob_hash, is_blob_hash
from ..defaults import LAZY_COMMIT_SECONDS, SMALL_BLOB_BYTES, SMALL_BLOB_CACHE_ENTRIES

log = logging.getLogger("rxgrid.head.store")

# The format of what the state database holds, kept in SQLite's user_version. Jobs and
# services are stored as wire messages, so a new wire contract (protocol 2) is a new format.
STATE_FORMAT = 2


class StateFormatError(Exception):
    """The state dir was written by another version of rxgrid and cannot be read."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, name TEXT, spec BLOB NOT NULL,
    state TEXT NOT NULL, priority INTEGER NOT NULL,
    tasks_total INTEGER NOT NULL, tasks_done INTEGER NOT NULL DEFAULT 0,
    tasks_failed INTEGER NOT NULL DEFAULT 0, chunks_total INTEGER NOT NULL,
    chunks_done INTEGER NOT NULL DEFAULT 0, submitted_at REAL NOT NULL,
    started_at REAL, finished_at REAL, collected INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '', result_bytes INTEGER NOT NULL DEFAULT 0,
    service TEXT NOT NULL DEFAULT '', owner TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
CREATE INDEX IF NOT EXISTS jobs_submitted ON jobs(submitted_at);
CREATE TABLE IF NOT EXISTS chunks (
    job_id TEXT NOT NULL, chunk INTEGER NOT NULL, first_task INTEGER NOT NULL,
    num_tasks INTEGER NOT NULL, pinned TEXT, state TEXT NOT NULL DEFAULT 'queued',
    worker TEXT, results BLOB, results_blob TEXT, results_json TEXT, finished_at REAL,
    PRIMARY KEY (job_id, chunk)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS task_errors (
    job_id TEXT NOT NULL, task INTEGER NOT NULL, type TEXT, message TEXT,
    traceback TEXT, worker TEXT, exception BLOB, PRIMARY KEY (job_id, task)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS task_output (
    job_id TEXT NOT NULL, task INTEGER NOT NULL, stdout TEXT, stderr TEXT,
    PRIMARY KEY (job_id, task)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS task_files (
    job_id TEXT NOT NULL, task INTEGER NOT NULL, path TEXT NOT NULL, blob TEXT NOT NULL,
    size INTEGER NOT NULL, PRIMARY KEY (job_id, task, path)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS job_blobs (
    job_id TEXT NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (job_id, hash)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS job_blobs_hash ON job_blobs(hash);
CREATE TABLE IF NOT EXISTS services (
    name TEXT NOT NULL, version TEXT NOT NULL, spec BLOB NOT NULL, created_at REAL NOT NULL,
    owner TEXT NOT NULL DEFAULT '', PRIMARY KEY (name, version)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS small_blobs (
    hash TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS workers (
    name TEXT PRIMARY KEY, host TEXT, cores INTEGER, pid INTEGER,
    registered_at REAL, last_seen REAL, chunks_done INTEGER NOT NULL DEFAULT 0);
"""

# Columns added since a state dir may have been made: (table, column, definition). An
# older state dir gets them on open; its rows get the default ('' owner: admins only).
ADDED_COLUMNS = (("jobs", "owner", "TEXT NOT NULL DEFAULT ''"),
                 ("services", "owner", "TEXT NOT NULL DEFAULT ''"),
                 ("task_errors", "exception", "BLOB"))
INDEXES_ON_ADDED = "CREATE INDEX IF NOT EXISTS jobs_owner ON jobs(owner);"

Op = tuple[str, tuple | list]

# A job's progress row is rewritten by every chunk result; within one group commit only
# the last write per job matters, so the writer keeps just that one.
JOB_PROGRESS_SQL = ("UPDATE jobs SET state=?, tasks_done=?, tasks_failed=?, chunks_done=?, "
                    "finished_at=?, error=?, result_bytes=?, collected=? WHERE job_id=?")


class StoreError(Exception):
    """A write to the state dir failed (disk full, read-only, ...)."""


class BlobNameError(ValueError):
    """A blob name that is not a sha256, or bytes that do not hash to their name.

    The service edge (``validate.py``) refuses such names first; this is the store's
    own last line, so no name ever becomes a path outside the store.
    """


class BlobStore:
    """Blobs by sha256: small ones as rows of the database, large ones as files under
    ``root/ab/cdef...``.

    A job of 10,000 one-task chunks carries 10,000 small argument blobs; as files that
    was a temp file and a rename each (the head's first bottleneck at scale), as rows
    they ride in the job's own group commit.
    """

    def __init__(self, root: pathlib.Path, queue_write=None, query=None):
        self.root = root
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._queue_write, self._query = queue_write, query
        self._small: collections.OrderedDict[str, bytes] = collections.OrderedDict()
        self._pending: dict[str, bytes] = {}  # queued rows whose commit has not landed

    def path(self, digest: str) -> pathlib.Path:
        if not is_blob_hash(digest):
            raise BlobNameError(f"{digest[:80]!r} is not a blob name (a sha256 in 64 lowercase "
                                f"hex characters)")
        return self.root / digest[:2] / digest[2:]

    def _small_row(self, digest: str) -> bytes | None:
        data = self._pending.get(digest) or self._small.get(digest)
        if data is None and self._query is not None:
            rows = self._query("SELECT data FROM small_blobs WHERE hash=?", (digest,))
            data = rows[0][0] if rows else None
            if data is not None and blob_hash(data) != digest:
                # A row written before bytes were verified: it must not shadow the truth.
                log.warning("ignoring the stored row of blob %s: its bytes do not match its "
                            "name", digest[:12])
                data = None
        return data

    def has(self, digest: str) -> bool:
        return self._small_row(digest) is not None or _is_regular(self.path(digest))

    def put(self, data: bytes, digest: str | None = None) -> str:
        """Store ``data`` (a row, or a file written atomically); return its hash.

        ``digest``, when given, must be the hash of ``data`` (BlobNameError otherwise):
        a blob is never stored under a name its bytes do not have.
        """
        actual = blob_hash(data)
        if digest and digest != actual:
            raise BlobNameError(f"blob {digest[:12]}... holds bytes that hash to {actual[:12]}...")
        digest = actual
        if len(data) < SMALL_BLOB_BYTES and self._queue_write is not None:
            if digest not in self._small and digest not in self._pending:
                data = bytes(data)
                self._pending[digest] = data

                def landed(error, digest=digest, data=data):
                    self._pending.pop(digest, None)
                    if error is None:
                        self._remember(digest, data)
                self._queue_write([("INSERT OR REPLACE INTO small_blobs(hash, data) VALUES (?,?)",
                                    (digest, data))], landed)
            return digest
        target = self.path(digest)
        if _is_regular(target):
            return digest
        target.parent.mkdir(mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, target)
        except BaseException:
            pathlib.Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def adopt(self, path: pathlib.Path, digest: str) -> None:
        """Move a file whose content hashes to ``digest`` into the store (same file
        system: a rename, no copy); if the store holds it already, drop the file."""
        target = self.path(digest)
        if _is_regular(target):
            path.unlink(missing_ok=True)
            return
        target.parent.mkdir(mode=0o700, exist_ok=True)
        os.replace(path, target)

    def writer(self) -> BlobWriter:
        """Write a blob piece by piece (hashing as it goes); ``finish`` names it."""
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
        return BlobWriter(self, os.fdopen(fd, "wb"), tmp)

    def _remember(self, digest: str, data: bytes) -> None:
        self._small[digest] = data
        if len(self._small) > SMALL_BLOB_CACHE_ENTRIES:
            self._small.popitem(last=False)

    def read(self, digest: str) -> bytes:
        data = self._small_row(digest)
        if data is not None:
            return data
        with open_regular(self.path(digest)) as f:
            return f.read()

    def size(self, digest: str) -> int:
        data = self._small_row(digest)
        return len(data) if data is not None else self.path(digest).lstat().st_size

    def pieces(self, digest: str, piece: int = 1 << 20) -> Iterator[bytes]:
        data = self._small_row(digest)
        if data is not None:
            yield data
            return
        with open_regular(self.path(digest)) as f:
            while data := f.read(piece):
                yield data

    def delete(self, digest: str) -> None:
        if not is_blob_hash(digest):  # a row from before names were checked: no path
            log.warning("not deleting blob %r: not a blob name", digest[:80])
            return
        self._small.pop(digest, None)
        self._pending.pop(digest, None)
        if self._queue_write is not None:
            self._queue_write([("DELETE FROM small_blobs WHERE hash=?", (digest,))], None)
        self.path(digest).unlink(missing_ok=True)

    def total_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())


class BlobWriter:
    """A blob arriving in pieces: hashed and written as they come, named at the end."""

    def __init__(self, store: BlobStore, file, tmp: str):
        self.store, self.file, self.tmp = store, file, tmp
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.hash.update(data)
        self.file.write(data)
        self.size += len(data)

    def finish(self) -> str:
        self.file.close()
        digest = self.hash.hexdigest()
        target = self.store.path(digest)
        target.parent.mkdir(mode=0o700, exist_ok=True)
        os.replace(self.tmp, target)
        return digest

    def abort(self) -> None:
        self.file.close()
        pathlib.Path(self.tmp).unlink(missing_ok=True)


class _Writer:
    """Writes to SQLite from the event loop, committing everything queued in one go.

    ``submit`` queues ops and schedules one flush with ``call_soon``; every write queued
    before the flush runs shares its transaction (group commit). No thread is involved:
    a hand-off between threads costs more than a commit here (WAL, synchronous=NORMAL).
    """

    def __init__(self, path: pathlib.Path):
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        _check_state_format(self._conn, path)  # before anything writes to the file
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)
        _add_missing_columns(self._conn)
        self._conn.execute(f"PRAGMA user_version = {STATE_FORMAT}")
        self._batch: list = []
        self._scheduled = False
        self._timer: asyncio.TimerHandle | None = None
        self.failed: str | None = None

    def submit(self, ops: list[Op], done: Callable[[BaseException | None], None] | None,
               delay: float = 0.0) -> None:
        """Queue ``ops``; they commit with the next flush, at the latest after ``delay``."""
        self._batch.append((ops, done))
        if self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        if delay > 0:
            if self._timer is None:
                self._timer = loop.call_later(delay, self.flush)
            return
        self._scheduled = True
        loop.call_soon(self.flush)

    def stop(self) -> None:
        self.flush()
        self._conn.close()

    def flush(self) -> None:
        self._scheduled = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._batch = self._batch, []
        if batch:
            self._commit(batch)

    @staticmethod
    def _coalesced(batch: list) -> list[Op]:
        ops = [op for part, _ in batch for op in part]
        last = {op[1][-1]: i for i, op in enumerate(ops) if op[0] is JOB_PROGRESS_SQL}
        return [op for i, op in enumerate(ops) if op[0] is not JOB_PROGRESS_SQL or last[op[1][-1]] == i]

    def _commit(self, batch: list) -> None:
        error = None
        try:
            self._conn.execute("BEGIN")
            for sql, params in self._coalesced(batch):
                if isinstance(params, list):
                    self._conn.executemany(sql, params)
                else:
                    self._conn.execute(sql, params)
            self._conn.execute("COMMIT")
            self.failed = None
        except sqlite3.Error as exc:
            error = StoreError(f"cannot write the state database: {exc}")
            self.failed = str(exc)
            log.error("state database write failed, batch rolled back: %s", exc)
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
        for _, done in batch:
            if done is not None:
                done(error)


class Store:
    """The head's durable state: one SQLite file plus a blob folder, in ``state_dir``."""

    def __init__(self, state_dir: str | os.PathLike):
        self.dir = pathlib.Path(state_dir)
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Results, pickles and task output are nobody else's business on this host.
        os.chmod(self.dir, 0o700)
        self.db_path = self.dir / "rxgrid.sqlite3"
        # Large blobs from clients on this host arrive here as files (PutBlobFile). Only
        # this user can write it; what is left from before a restart is stale.
        inbox = self.dir / "inbox"
        shutil.rmtree(inbox, ignore_errors=True)
        self.inbox: pathlib.Path | None = None  # None: everything streams
        try:
            inbox.mkdir(mode=0o700)
            self.inbox = inbox.resolve()
        except OSError as exc:  # a full or read-only state dir: blobs stream, reads go on
            log.warning("no blob inbox in %s (%s): clients and workers will stream blobs",
                        self.dir, exc)
        self.blobs = BlobStore(self.dir / "blobs", lambda ops, done: self._writer.submit(ops, done),
                               self.query)
        self._writer = _Writer(self.db_path)
        self.read = sqlite3.connect(self.db_path, check_same_thread=False)
        self.read.row_factory = sqlite3.Row
        for path in (*self.dir.glob("rxgrid.sqlite3*"), self.blobs.root):
            os.chmod(path, 0o700 if path.is_dir() else 0o600)

    @property
    def write_failure(self) -> str | None:
        """Why the last write failed, or None if the last batches committed."""
        return self._writer.failed

    def write(self, ops: list[Op], delay: float = 0.0) -> asyncio.Future:
        """Queue ``ops`` for the next group commit; the future resolves once committed.

        ``delay``: the commit may wait this long for other writes to join it (any write
        without a delay flushes everything queued at once).
        """
        future = asyncio.get_running_loop().create_future()

        def done(error: BaseException | None) -> None:
            _settle(future, error)

        self._writer.submit(ops, done, delay)
        return future

    def write_nowait(self, ops: list[Op]) -> None:
        """Queue ``ops`` without waiting for the commit (bookkeeping nobody waits on): they
        join the next commit, at the latest after ``LAZY_COMMIT_SECONDS``."""
        self._writer.submit(ops, None, LAZY_COMMIT_SECONDS)

    def write_sync(self, ops: list[Op]) -> None:
        """Write now, with whatever else is queued, and raise if it failed."""
        box = []
        self._writer.submit(ops, box.append)
        self._writer.flush()
        if box and box[0] is not None:
            raise box[0]

    def query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        return self.read.execute(sql, params).fetchall()

    def close(self) -> None:
        self._writer.stop()
        self.read.close()


def _check_state_format(conn: sqlite3.Connection, path: pathlib.Path) -> None:
    """Refuse a state database whose jobs or services this version cannot read.

    An older database with nothing stored in that form is brought up to this format.
    """
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == STATE_FORMAT:
        return
    where = f"the state dir {path.parent}"
    if version > STATE_FORMAT:
        raise StateFormatError(f"{where} was written by a newer rxgrid (state format {version}; "
                               f"this one reads {STATE_FORMAT}): upgrade rxgrid, or start this "
                               f"head with a new --state-dir")
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    held = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("jobs", "services") if t in tables}
    if any(held.values()):
        raise StateFormatError(
            f"{where} holds {held.get('jobs', 0)} jobs and {held.get('services', 0)} services "
            f"written by an older rxgrid (state format {version}, wire protocol 1), which this "
            f"version cannot read. Let that version finish them and remove them (`rxgrid "
            f"cleanup`, `cluster.delete_service(name, version)`), or start this head with a new --state-dir")


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    """Bring the tables of an older state dir up to this schema."""
    for table, column, definition in ADDED_COLUMNS:
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if column not in have:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
            log.info("state database: added column %s.%s", table, column)
    conn.executescript(INDEXES_ON_ADDED)


def _settle(future: asyncio.Future, error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


def _is_regular(path: pathlib.Path) -> bool:
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def open_regular(path: pathlib.Path):
    """Open ``path`` for reading only if it is a regular file, not a link, FIFO or device
    (a FIFO would block the reader forever); OSError otherwise."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path.name} is not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def file_hash(path: pathlib.Path) -> tuple[str, int]:
    """sha256 hex digest and size of a file, read in 4 MB pieces (run it in a thread)."""
    digest, size = hashlib.sha256(), 0
    with open_regular(path) as f:
        while piece := f.read(4 << 20):
            digest.update(piece)
            size += len(piece)
    return digest.hexdigest(), size


def now() -> float:
    return time.time()
