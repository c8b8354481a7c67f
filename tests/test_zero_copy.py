"""Arrays travel as raw out-of-band buffers and are rebuilt as views, not copies."""

from __future__ import annotations

import mmap

import numpy as np

from rxgrid import each
from rxgrid.runtime.serialize import FRAME_MAGIC, dumps, loads
from tests import fixtures


def test_a_large_array_is_framed_out_of_band_and_loaded_as_a_view():
    a = np.arange(1_000_000, dtype=np.float64)
    data = dumps({"a": a, "small": np.arange(3)})
    assert data.startswith(FRAME_MAGIC)
    back = loads(data)
    np.testing.assert_array_equal(back["a"], a)
    assert not back["a"].flags.owndata  # a view of the blob, no copy


def test_loading_from_a_memory_map_needs_no_copy(tmp_path):
    a = np.random.default_rng(0).random((500, 300))
    path = tmp_path / "blob"
    path.write_bytes(dumps(a))
    with open(path, "rb") as f:
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    back = loads(mapped)
    np.testing.assert_array_equal(back, a)
    assert not back.flags.writeable and not back.flags.owndata
    assert back.ctypes.data % 64 == 0  # buffers are aligned within a page-aligned map


def test_small_values_stay_plain_pickles():
    assert not dumps([1, 2, 3]).startswith(FRAME_MAGIC)
    assert loads(dumps([1, 2, 3])) == [1, 2, 3]


def test_large_arguments_and_results_round_trip_through_a_cluster(cluster2):
    big = np.random.default_rng(1).random(2_000_000)  # 16 MB: a file blob on each worker
    assert cluster2.exec(fixtures.array_sum, big, each([0, 1, 2])) == [big.sum() + i for i in range(3)]
    doubled = cluster2.exec(np.multiply, big, 2.0)[0]
    np.testing.assert_array_equal(doubled, big * 2)


def test_a_task_sees_a_large_argument_as_a_read_only_view(cluster2):
    big = np.random.default_rng(2).random(2_000_000)  # 16 MB: a file the executors map
    outcomes = cluster2.exec(fixtures.try_to_write, big, times=4, chunk_size=1)
    for writeable, owndata, error in outcomes:
        assert (writeable, owndata) == (False, False)
        assert error.startswith("ValueError") and "read-only" in error, error
    # and no write reached the blob the next tasks read
    assert cluster2.exec(fixtures.array_sum, big, each([0])) == [big.sum()]
