"""The head's blobs, as both gRPC services (Cluster and WorkerLink) serve them.

Every way a blob comes in or goes out, in one place::

    bytes in a request ─── put ──────────┐
    PutBlob pieces ─────── receive ──────┤  hash checked  ─► BlobStore (store.py):
    a file in the inbox ── adopt ────────┘                   rows (small) and files (large)
    GetBlob ◄───────────── pieces ───────┐
    LocateBlob ◄────────── locate ───────┤◄── BlobStore
    a chunk assignment ◄── inline ───────┘    (small blobs ride along, cached here)

No gRPC here: the servicers turn the values below into messages and a
:class:`~rxgrid.head.errors.HeadError` into a status. Call from the event loop only.
"""

from __future__ import annotations

import asyncio
import collections
import os
import re
import stat
from collections.abc import AsyncIterable, Iterator
from dataclasses import dataclass

from ..defaults import BLOB_PIECE_BYTES, INLINE_BLOB_CACHE_ENTRIES, INLINE_BLOB_LIMIT
from . import validate
from .errors import HeadError, not_found
from .metrics import HeadMetrics
from .store import Store, file_hash

INBOX_NAME_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$")  # no path, no leading dot


@dataclass(frozen=True)
class StoredBlob:
    """A blob the head holds now: its name (sha256) and size in bytes."""

    hash: str
    size: int


@dataclass(frozen=True)
class BlobLocation:
    """Where a blob's file is on the head's host; ``path`` is "" for a small blob (a row)."""

    path: str = ""
    size: int = 0


class Blobs:
    """Put, receive, adopt, locate and read the blobs of one head's store."""

    def __init__(self, store: Store, metrics: HeadMetrics):
        self.store = store
        self.metrics = metrics
        self._inline: collections.OrderedDict[str, bytes] = collections.OrderedDict()

    # ------------------------------------------------------------ in
    def put(self, data: bytes, digest: str | None = None) -> str:
        """Store a blob; a full or read-only state dir is a clear refusal, not a crash."""
        try:
            return self.store.blobs.put(data, digest)
        except OSError as exc:
            raise self._cannot_store(exc, f"{len(data):,} bytes") from exc

    async def receive(self, pieces: AsyncIterable[tuple[str, bytes]]) -> StoredBlob:
        """Write a streamed blob to disk, hashing it on the way; refuse it if damaged.

        ``pieces``: (hash, data) pairs; the first non-empty hash is the name it was sent as.
        """
        expected = ""
        try:
            writer = self.store.blobs.writer()
            try:
                async for digest, data in pieces:
                    if digest and not expected:
                        expected = validate.blob_name(digest)
                    writer.write(data)
            except BaseException:
                writer.abort()
                raise
            actual = writer.hash.hexdigest()
            if expected and expected != actual:
                writer.abort()
                raise HeadError("invalid", f"blob content hashes to {actual[:12]}..., not the "
                                           f"{expected[:12]}... it was sent as: it was damaged "
                                           f"in transit")
            digest = writer.finish()
            self.metrics.blob_bytes_in["stream"] += writer.size
        except OSError as exc:
            raise self._cannot_store(exc, "a blob") from exc
        return StoredBlob(digest, writer.size)

    async def adopt(self, name: str, digest: str) -> StoredBlob:
        """Take a blob a process on this host wrote into the store's inbox (PutBlobFile)."""
        path = self._inbox_file(name)
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            raise not_found("inbox_file", f"no file {name} in the head's blob inbox "
                                         f"{self.store.inbox}: a client on another host streams "
                                         f"its blobs with PutBlob") from None
        try:
            validate.blob_name(digest)
            if not stat.S_ISREG(mode):
                raise HeadError("invalid", f"{name} in the blob inbox is not a regular file")
            actual, size = await asyncio.to_thread(file_hash, path)
            if actual != digest:
                raise HeadError("invalid", f"the file {name} hashes to {actual[:12]}..., not the "
                                           f"{digest[:12]}... it was handed over as")
            self.store.blobs.adopt(path, digest)
            self.metrics.blob_bytes_in["file"] += size
        except OSError as exc:
            raise self._cannot_store(exc, "a blob") from exc
        finally:
            path.unlink(missing_ok=True)
        return StoredBlob(digest, size)

    def _inbox_file(self, name: str):
        if not INBOX_NAME_RE.match(name):
            raise HeadError("invalid", f"{name[:80]!r} is not a file name of the blob inbox: "
                                       f"use up to 128 of A-Z a-z 0-9 . _ -, not starting with '.'")
        if self.store.inbox is None:
            raise not_found("inbox_file", "this head has no blob inbox: stream blobs with PutBlob")
        return self.store.inbox / name

    def _cannot_store(self, exc: OSError, what: str) -> HeadError:
        return HeadError("storage", f"the head cannot store {what} in its state dir "
                                    f"{self.store.dir}: {exc.strerror or exc}. Free disk space "
                                    f"there; stored jobs and results are kept")

    # ------------------------------------------------------------ out
    def has(self, digest: str) -> bool:
        return self.store.blobs.has(digest)

    def missing(self, digests: list[str]) -> list[str]:
        """The blobs of ``digests`` the head does not hold (FindMissingBlobs)."""
        return [d for d in digests if not self.store.blobs.has(d)]

    def inbox_path(self) -> str:
        """The blob inbox for processes on this host ("" if there is none)."""
        return str(self.store.inbox or "")

    def locate(self, digest: str) -> BlobLocation:
        """Where a blob's file is on this host (empty for a small blob: a database row)."""
        self._check_held(digest)
        path = self.store.blobs.path(digest)
        try:
            where = BlobLocation(str(path.resolve()), path.stat().st_size)
        except OSError:
            return BlobLocation()
        self.metrics.blobs_located += 1
        return where

    def pieces(self, digest: str) -> Iterator[tuple[bytes, int]]:
        """A blob's bytes in pieces, as (data, total size); at least one, maybe empty."""
        self._check_held(digest)
        total = -1
        try:
            for data in self.store.blobs.pieces(digest, BLOB_PIECE_BYTES):
                if total < 0:
                    total = self.store.blobs.size(digest)
                yield data, total
        except OSError as exc:  # removed by a cleanup meanwhile, or not a regular file
            raise not_found("blob", f"blob {digest[:12]}... cannot be read on the head "
                                         f"({exc.strerror or exc})") from exc
        if total < 0:
            yield b"", 0

    def _check_held(self, digest: str) -> None:
        validate.blob_name(digest)
        if not self.store.blobs.has(digest):
            raise not_found("blob", f"no blob {digest[:12]}... on the head")

    def inline(self, digest: str) -> bytes | None:
        """A blob small enough to ride along with a chunk assignment, else None."""
        data = self._inline.get(digest)
        if data is None:
            if self.store.blobs.size(digest) > INLINE_BLOB_LIMIT:
                return None
            data = self.store.blobs.read(digest)
            self._inline[digest] = data
            if len(self._inline) > INLINE_BLOB_CACHE_ENTRIES:
                self._inline.popitem(last=False)
        return data

    def file_usage(self) -> tuple[int, int]:
        """How many blob files the store holds, and their bytes (rows are not counted)."""
        files = [p for p in self.store.blobs.root.rglob("*") if p.is_file()]
        return len(files), sum(p.stat().st_size for p in files)

    def delete(self, digest: str) -> None:
        """Remove a blob nothing refers to any more."""
        self.store.blobs.delete(digest)
        self._inline.pop(digest, None)
