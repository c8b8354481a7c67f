"""The head's blobs without a server: put, receive, adopt, locate, pieces, inline."""

from __future__ import annotations

import asyncio
import os

import pytest

from rxgrid._paths import blob_hash
from rxgrid.defaults import INLINE_BLOB_LIMIT, SMALL_BLOB_BYTES
from rxgrid.head.blobs import Blobs
from rxgrid.head.errors import HeadError
from rxgrid.head.metrics import HeadMetrics
from rxgrid.head.store import Store


@pytest.fixture
def blobs(tmp_path):
    store = Store(tmp_path / "state")
    yield Blobs(store, HeadMetrics())
    store.close()


async def _pieces(*pairs):
    for pair in pairs:
        yield pair


def test_put_small_and_large_blobs_and_read_them_back_in_pieces(blobs):
    small, large = b"x" * 10, os.urandom(SMALL_BLOB_BYTES + 1)
    for data in (small, large):
        digest = blobs.put(data)
        assert digest == blob_hash(data) and blobs.has(digest)
        assert b"".join(d for d, _ in blobs.pieces(digest)) == data
        assert {total for _, total in blobs.pieces(digest)} == {len(data)}
    assert blobs.locate(blob_hash(small)).path == ""  # a row, not a file
    where = blobs.locate(blob_hash(large))
    assert where.size == len(large) and open(where.path, "rb").read() == large


def test_put_refuses_bytes_under_a_name_they_do_not_hash_to(blobs):
    with pytest.raises(ValueError):
        blobs.put(b"data", blob_hash(b"other"))


def test_receive_checks_the_name_a_stream_was_sent_as(blobs):
    data = os.urandom(SMALL_BLOB_BYTES * 2)
    stored = asyncio.run(blobs.receive(_pieces((blob_hash(data), data[:10]), ("", data[10:]))))
    assert (stored.hash, stored.size) == (blob_hash(data), len(data))
    assert blobs.metrics.blob_bytes_in["stream"] == len(data)
    with pytest.raises(HeadError) as damaged:
        asyncio.run(blobs.receive(_pieces((blob_hash(b"other"), data))))
    assert damaged.value.code == "invalid"


def test_adopt_takes_an_inbox_file_only_under_its_own_hash(blobs):
    data = os.urandom(1000)
    (blobs.store.inbox / "up").write_bytes(data)
    with pytest.raises(HeadError) as wrong:
        asyncio.run(blobs.adopt("up", blob_hash(b"other")))
    assert wrong.value.code == "invalid" and not (blobs.store.inbox / "up").exists()
    (blobs.store.inbox / "up").write_bytes(data)
    stored = asyncio.run(blobs.adopt("up", blob_hash(data)))
    assert stored.size == len(data) and blobs.has(stored.hash)
    for name in ("../x", ".hidden", ""):
        with pytest.raises(HeadError):
            asyncio.run(blobs.adopt(name, stored.hash))


def test_missing_blobs_are_not_found_and_an_empty_blob_is_one_empty_piece(blobs):
    absent = blob_hash(b"absent")
    assert blobs.missing([absent]) == [absent]
    for read in (blobs.locate, lambda d: list(blobs.pieces(d))):
        with pytest.raises(HeadError) as missing:
            read(absent)
        assert missing.value.code == "not_found"
    empty = blobs.put(b"")
    assert list(blobs.pieces(empty)) == [(b"", 0)]


def test_inline_serves_blobs_up_to_the_limit_and_forgets_deleted_ones(blobs):
    small = blobs.put(b"small")
    big = blobs.put(b"\0" * (INLINE_BLOB_LIMIT + 1))
    assert blobs.inline(small) == b"small" and blobs.inline(big) is None
    blobs.delete(small)
    assert small not in blobs._inline
