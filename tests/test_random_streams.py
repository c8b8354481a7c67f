"""Per-task random streams: every RNG kind, seed='auto', independence of the streams."""

from __future__ import annotations

import os

import numpy as np
import pytest

import rxgrid
from tests import fixtures

KINDS = ["pcg64", "philox", "sfc64", "mt19937"]


def normals(n: int = 2000):
    return rxgrid.task_rng().standard_normal(n)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_independent_of_chunking_and_workers(cluster1, cluster2, kind):
    runs = [ctx.exec(fixtures.draws, times=9, seed=7, rng_kind=kind, chunk_size=c)
            for ctx, c in ((cluster1, 1), (cluster2, 4), (rxgrid.local_sequential(), 9))]
    assert runs[0] == runs[1] == runs[2]
    assert len({tuple(r) for r in runs[0]}) == 9


def test_kinds_give_different_streams():
    seq = rxgrid.local_sequential()
    firsts = {kind: seq.exec(fixtures.draws, times=2, seed=7, rng_kind=kind)[0][0] for kind in KINDS}
    assert len(set(firsts.values())) == len(KINDS)


def test_seed_auto_is_recorded_and_repeats_the_run(cluster2):
    job = cluster2.exec(fixtures.draws, times=4, seed="auto", wait=False)
    first = job.result(timeout=60)
    seed = job.info().seed
    assert isinstance(seed, int) and seed >= 0
    assert cluster2.exec(fixtures.draws, times=4, seed=seed) == first


@pytest.mark.parametrize("kind", KINDS)
def test_streams_of_different_tasks_are_uncorrelated(kind):
    """Seed 001's check: correlations between task streams stay at noise level."""
    draws = np.array(rxgrid.local_sequential().exec(normals, times=40, seed=777, rng_kind=kind))
    corr = np.corrcoef(draws)
    off_diagonal = corr[~np.eye(len(corr), dtype=bool)]
    # For independent streams of 2000 normals each correlation is ~N(0, 1/2000): |r| < 5 sigma.
    assert np.abs(off_diagonal).max() < 5 / np.sqrt(2000)
    assert abs(off_diagonal.mean()) < 5 / np.sqrt(2000 * len(off_diagonal))


def test_unknown_rng_kind_is_refused():
    with pytest.raises(rxgrid.InvalidArgumentError, match="rng_kind"):
        rxgrid.local_sequential().exec(fixtures.draws, seed=1, rng_kind="xorshift")


def test_adjacent_seeds_do_not_share_streams():
    seq = rxgrid.local_sequential()
    a = np.array(seq.exec(normals, times=1, seed=1))
    b = np.array(seq.exec(normals, times=1, seed=2))
    assert abs(np.corrcoef(a[0], b[0])[0, 1]) < 5 / np.sqrt(2000)


def test_a_task_run_alone_is_retried_on_its_own_stream_too(tmp_path):
    # run_task is how a worker re-runs a chunk task by task after its executor died.
    from rxgrid.runtime.chunk import ChunkCall, TaskSettings, run_task
    first, flaky = tmp_path / "first", tmp_path / "flaky"
    first.mkdir()
    flaky.mkdir()
    expected = rxgrid.local_sequential().exec(fixtures.flaky_draw, str(first), 0, 3, seed=5)[0]
    call = ChunkCall(fixtures.flaky_draw, args=(str(flaky), 2, 3), first=0, count=1,
                     settings=TaskSettings(seed=5, retries=2))
    assert run_task(call, 0) == expected and len(os.listdir(flaky)) == 3
    call = ChunkCall(fixtures.flaky_draw, args=(str(flaky), 10, 3), settings=TaskSettings(retries=1))
    with pytest.raises(ValueError) as info:
        run_task(call, 0)
    assert "rxgrid: failed on all 2 attempts, retries=1" in info.value.__notes__
