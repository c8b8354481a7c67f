import numpy as np
import pytest
from sklearn.cluster import KMeans

from rxgrid.kernels import kmeans_block_stats, kmeans_fit, kmeans_lloyd
from tests import naive


def blobs(n=300, p=3, k=4, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=4.0, size=(k, p))
    return centers[rng.integers(0, k, n)] + rng.normal(size=(n, p))


HAND_MADE = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 10.0], [10.0, 11.0], [6.0, 6.0]])


def test_lloyd_on_hand_made_points():
    result = kmeans_lloyd(HAND_MADE, [[0.0, 0.0], [10.0, 10.0]], iter_max=10, tol=0.0)
    np.testing.assert_allclose(result.centers, [[0.0, 0.5], [26 / 3, 9.0]])
    np.testing.assert_array_equal(result.labels, [0, 0, 1, 1, 1])
    np.testing.assert_array_equal(result.sizes, [2, 3])
    assert result.inertia == pytest.approx(result.withinss.sum())


@pytest.mark.parametrize("seed, k, iter_max", [(0, 3, 50), (1, 5, 3), (2, 2, 1)])
def test_lloyd_equals_reference(seed, k, iter_max):
    X = blobs(seed=seed)
    start = X[:k]
    expected_centers, expected_inertia = naive.naive_lloyd(X, start, iter_max, 0.0)
    result = kmeans_lloyd(X, start, iter_max=iter_max, tol=0.0)
    np.testing.assert_allclose(result.centers, expected_centers, rtol=1e-12)
    assert result.inertia == pytest.approx(expected_inertia, rel=1e-12)


@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_many_starts_equal_reference(init):
    X = blobs(n=120, seed=3)
    result = kmeans_fit(X, 4, iter_max=20, nstart=6, init=init, seed=11, tol=0.0)
    centers, inertia, best = naive.naive_kmeans(X, 4, 20, 6, init, seed=11)
    assert result.best_start == best
    np.testing.assert_allclose(result.centers, centers, rtol=1e-12)
    assert result.inertia == pytest.approx(inertia, rel=1e-12)


def test_inertia_equals_scikit_learn_from_the_same_centers():
    X = blobs(n=400, p=5, k=6, seed=4)
    start = X[[0, 50, 100, 150, 200, 250]]
    ours = kmeans_lloyd(X, start, iter_max=300, tol=0.0)
    theirs = KMeans(6, init=start, n_init=1, algorithm="lloyd", tol=0.0, max_iter=300).fit(X)
    assert abs(ours.inertia - theirs.inertia_) <= 1e-9 * theirs.inertia_
    np.testing.assert_array_equal(ours.labels, theirs.labels_)


def test_same_seed_same_result_however_starts_are_split():
    X = blobs(n=150, seed=5)
    whole = kmeans_fit(X, 3, iter_max=10, nstart=8, seed=777)
    halves = [kmeans_fit(X, 3, iter_max=10, nstart=4, seed=777, first_start=f) for f in (0, 4)]
    best = min(halves, key=lambda r: r.inertia)
    assert best.inertia == whole.inertia and best.best_start == whole.best_start
    np.testing.assert_array_equal(best.centers, whole.centers)


def test_block_stats_equal_reference_and_skip_nan_rows():
    X = blobs(n=20_000, p=3, seed=6)
    X[[3, 17, 19_999], 1] = np.nan
    centers = X[100:104]
    stats = kmeans_block_stats(X, centers)
    sums, counts, ss, skipped = naive.naive_kmeans_block_stats(X, centers)
    np.testing.assert_allclose(stats.sums, sums, rtol=1e-12)
    np.testing.assert_array_equal(stats.counts, counts)
    assert stats.ss == pytest.approx(ss, rel=1e-12) and stats.n_skipped == skipped == 3


def test_block_stats_add_up_over_blocks_to_one_lloyd_step():
    X = blobs(n=500, seed=7)
    centers = X[:4]
    parts = [kmeans_block_stats(X[i : i + 100], centers) for i in range(0, 500, 100)]
    sums = sum(p.sums for p in parts)
    counts = sum(p.counts for p in parts)
    one_step = kmeans_lloyd(X, centers, iter_max=1, tol=0.0)
    np.testing.assert_allclose(sums / counts[:, None], one_step.centers, rtol=1e-12)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        kmeans_fit(HAND_MADE, 6)
    with pytest.raises(ValueError):
        kmeans_fit(HAND_MADE, 2, init="fancy")
    with pytest.raises(ValueError):
        kmeans_fit(np.array([[np.nan, 0.0], [1.0, 1.0]]), 1)
    with pytest.raises(ValueError):
        kmeans_block_stats(HAND_MADE, [[0.0, 0.0, 0.0]])
