"""k-means clustering: seeding, Lloyd iterations, many starts, block statistics.

``kmeans`` runs ``nstart`` independent starts (k-means++ or random rows), each
followed by Lloyd iterations, and keeps the start with the smallest total
within-cluster sum of squares, as R's ``kmeans(x, centers, iter.max, nstart)``
is used in seed 001. Starts run in parallel threads; start ``s`` draws from
sub-stream ``first_start + s`` of stream (seed, task), so the best result does
not depend on the thread count and ``nstart`` can be split over tasks.

``kmeans_block_stats`` is the map step of the distributed version: for given
centers it returns per-cluster sums, counts and the sum of squares of one
block of rows; adding these over blocks gives the next centers.

A Lloyd iteration assigns every row to its nearest center, then moves each
center to the mean of its rows. It stops when no label changes, when the sum
of squared center moves is at most ``tol``, or after ``iter_max`` moves, the
stopping rules of scikit-learn's ``KMeans(algorithm="lloyd")``. A cluster that
loses all its rows keeps its previous center.
"""

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from . import _shared_cache
from ._random import integer, substream, task_key, uniform

_CHUNK_ROWS = 8192
_MAX_CHUNKS = 64


# reassoc lets LLVM vectorize the sum over coordinates (8 lanes with AVX-512); the order of
# the additions is then the compiler's, the same in every process running this build.
@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _nearest_center(X, i, centers):
    """Index of and squared distance to the center nearest row ``i``.

    Parameters
    ----------
    X : numpy.ndarray
        Data, shape ``(n, p)``.
    i : int
        Row index.
    centers : numpy.ndarray
        Centers, shape ``(k, p)``.

    Returns
    -------
    tuple of (int, float)
        Label (lowest index on ties) and squared Euclidean distance.
    """
    best = np.inf
    label = 0
    for c in range(centers.shape[0]):
        d = 0.0
        for j in range(X.shape[1]):
            diff = X[i, j] - centers[c, j]
            d += diff * diff
        if d < best:
            best = d
            label = c
    return label, best


@njit(cache=True, nogil=True)
def _assign(X, centers, labels):
    """Label every row with its nearest center.

    Parameters
    ----------
    X : numpy.ndarray
        Data, shape ``(n, p)``.
    centers : numpy.ndarray
        Centers, shape ``(k, p)``.
    labels : numpy.ndarray
        int64 labels, overwritten.

    Returns
    -------
    tuple of (float, int)
        Total within-cluster sum of squares and number of labels changed.
    """
    inertia = 0.0
    changed = 0
    for i in range(X.shape[0]):
        label, d = _nearest_center(X, i, centers)
        if label != labels[i]:
            changed += 1
            labels[i] = label
        inertia += d
    return inertia, changed


@njit(cache=True, nogil=True)
def _move_centers(X, labels, centers):
    """Move each center to the mean of its rows, in place.

    Parameters
    ----------
    X : numpy.ndarray
        Data, shape ``(n, p)``.
    labels : numpy.ndarray
        int64 labels.
    centers : numpy.ndarray
        Centers, shape ``(k, p)``, updated in place; empty clusters keep theirs.

    Returns
    -------
    float
        Sum over centers of the squared distance moved.
    """
    k, p = centers.shape
    sums = np.zeros((k, p))
    counts = np.zeros(k, dtype=np.int64)
    for i in range(X.shape[0]):
        c = labels[i]
        counts[c] += 1
        for j in range(p):
            sums[c, j] += X[i, j]
    shift = 0.0
    for c in range(k):
        if counts[c] == 0:
            continue
        for j in range(p):
            mean = sums[c, j] / counts[c]
            shift += (mean - centers[c, j]) ** 2
            centers[c, j] = mean
    return shift


@njit(cache=True, nogil=True)
def _lloyd(X, centers, iter_max, tol, labels):
    """Lloyd iterations from ``centers`` (updated in place).

    Parameters
    ----------
    X : numpy.ndarray
        Data, shape ``(n, p)``.
    centers : numpy.ndarray
        Starting centers, shape ``(k, p)``; holds the final centers on return.
    iter_max : int
        Maximum number of center moves.
    tol : float
        Stop when the sum of squared center moves is at most ``tol``.
    labels : numpy.ndarray
        int64 array of ``n`` labels, overwritten with the final labels.

    Returns
    -------
    tuple of (float, int)
        Total within-cluster sum of squares of the final labels and centers,
        and the number of center moves made.
    """
    labels[:] = -1
    moves = 0
    for _ in range(iter_max):
        _, changed = _assign(X, centers, labels)
        if changed == 0:
            # The centers are already the means of these labels.
            return _assign(X, centers, labels)[0], moves
        shift = _move_centers(X, labels, centers)
        moves += 1
        if shift <= tol:
            break
    return _assign(X, centers, labels)[0], moves


@njit(cache=True, nogil=True)
def _init_random(X, k, key):
    """Pick ``k`` distinct rows uniformly at random as centers.

    Parameters
    ----------
    X : numpy.ndarray
        Data, shape ``(n, p)`` with ``n >= k``.
    k : int
        Number of centers.
    key : numpy.uint64
        Stream key of this start.

    Returns
    -------
    numpy.ndarray
        Centers, shape ``(k, p)``.
    """
    n = X.shape[0]
    chosen = np.empty(k, dtype=np.int64)
    counter = 0
    c = 0
    while c < k:
        row = integer(key, counter, n)
        counter += 1
        fresh = True
        for j in range(c):
            if chosen[j] == row:
                fresh = False
        if fresh:
            chosen[c] = row
            c += 1
    centers = np.empty((k, X.shape[1]))
    for c in range(k):
        centers[c] = X[chosen[c]]
    return centers


@njit(cache=True, nogil=True)
def _init_plus_plus(X, k, key):
    """k-means++ seeding (Arthur & Vassilvitskii 2007).

    The first center is a uniform row; each next one is a row drawn with
    probability proportional to its squared distance to the nearest center
    chosen so far.

    Parameters
    ----------
    X : numpy.ndarray
        Data, shape ``(n, p)`` with ``n >= k``.
    k : int
        Number of centers.
    key : numpy.uint64
        Stream key of this start.

    Returns
    -------
    numpy.ndarray
        Centers, shape ``(k, p)``.
    """
    n, p = X.shape
    centers = np.empty((k, p))
    centers[0] = X[integer(key, 0, n)]
    nearest = np.empty(n)
    for i in range(n):
        d = 0.0
        for j in range(p):
            d += (X[i, j] - centers[0, j]) ** 2
        nearest[i] = d
    for c in range(1, k):
        total = nearest.sum()
        row = n - 1
        if total > 0.0:
            target = uniform(key, c) * total
            acc = 0.0
            for i in range(n):
                acc += nearest[i]
                if acc > target:
                    row = i
                    break
        else:
            # Fewer distinct rows than k: any row is as good as another.
            row = integer(key, c, n)
        centers[c] = X[row]
        for i in range(n):
            d = 0.0
            for j in range(p):
                d += (X[i, j] - centers[c, j]) ** 2
            nearest[i] = min(nearest[i], d)
    return centers


@njit(cache=True, nogil=True, parallel=True)
def _kmeans_starts(X, k, iter_max, tol, key, first_start, n_starts, plus_plus):
    """Run ``n_starts`` seeded starts of Lloyd's algorithm in parallel.

    Parameters
    ----------
    X : numpy.ndarray
        Data, shape ``(n, p)``.
    k : int
        Number of clusters.
    iter_max : int
        Maximum center moves per start.
    tol : float
        Absolute tolerance on the sum of squared center moves.
    key : numpy.uint64
        Stream key of the task.
    first_start : int
        Index of the first start (its sub-stream).
    n_starts : int
        Number of starts.
    plus_plus : bool
        k-means++ seeding if True, else ``k`` random distinct rows.

    Returns
    -------
    tuple of numpy.ndarray
        Final centers ``(n_starts, k, p)``, inertias ``(n_starts,)`` and
        center moves ``(n_starts,)``.
    """
    n, p = X.shape
    all_centers = np.empty((n_starts, k, p))
    inertias = np.empty(n_starts)
    moves = np.empty(n_starts, dtype=np.int64)
    for s in prange(n_starts):
        start_key = substream(key, first_start + s)
        if plus_plus:
            centers = _init_plus_plus(X, k, start_key)
        else:
            centers = _init_random(X, k, start_key)
        labels = np.empty(n, dtype=np.int64)
        inertias[s], moves[s] = _lloyd(X, centers, iter_max, tol, labels)
        all_centers[s] = centers
    return all_centers, inertias, moves


@njit(cache=True, nogil=True)
def _block_chunk(X, centers, lo, hi, sums, counts):
    """Add rows ``lo .. hi - 1`` to per-cluster sums and counts.

    Parameters
    ----------
    X : numpy.ndarray
        Data, shape ``(n, p)``.
    centers : numpy.ndarray
        Centers, shape ``(k, p)``.
    lo, hi : int
        Row range.
    sums : numpy.ndarray
        ``(k, p)`` accumulator.
    counts : numpy.ndarray
        ``(k,)`` int64 accumulator.

    Returns
    -------
    tuple of (float, int)
        Sum of squared distances to the nearest centers, rows skipped (NaN).
    """
    ss = 0.0
    skipped = 0
    for i in range(lo, hi):
        has_nan = False
        for j in range(X.shape[1]):
            if np.isnan(X[i, j]):
                has_nan = True
        if has_nan:
            skipped += 1
            continue
        label, d = _nearest_center(X, i, centers)
        ss += d
        counts[label] += 1
        for j in range(X.shape[1]):
            sums[label, j] += X[i, j]
    return ss, skipped


@njit(cache=True, nogil=True, parallel=True)
def _block_stats(X, centers):
    """Per-cluster sums, counts and sum of squares of a block of rows.

    Rows are cut into a number of chunks that depends only on ``n``, and the
    chunks' partial results are added in order, so the result is the same for
    any thread count.

    Parameters
    ----------
    X : numpy.ndarray
        Data, shape ``(n, p)``.
    centers : numpy.ndarray
        Centers, shape ``(k, p)``.

    Returns
    -------
    tuple
        ``sums (k, p)``, ``counts (k,)``, total squared distance, rows skipped.
    """
    n = X.shape[0]
    k, p = centers.shape
    n_chunks = min((n + _CHUNK_ROWS - 1) // _CHUNK_ROWS, _MAX_CHUNKS)
    size = (n + n_chunks - 1) // n_chunks if n_chunks > 0 else 0
    sums = np.zeros((n_chunks, k, p))
    counts = np.zeros((n_chunks, k), dtype=np.int64)
    ss = np.zeros(n_chunks)
    skipped = np.zeros(n_chunks, dtype=np.int64)
    for c in prange(n_chunks):
        ss[c], skipped[c] = _block_chunk(X, centers, c * size, min(n, (c + 1) * size), sums[c], counts[c])
    total_sums = np.zeros((k, p))
    total_counts = np.zeros(k, dtype=np.int64)
    for c in range(n_chunks):
        total_sums += sums[c]
        total_counts += counts[c]
    return total_sums, total_counts, ss.sum(), skipped.sum()


class KMeansResult(NamedTuple):
    """Outcome of a k-means fit."""

    centers: np.ndarray
    """Final centers, shape ``(k, p)``."""
    labels: np.ndarray
    """Cluster of each row, int64."""
    inertia: float
    """Total within-cluster sum of squares."""
    withinss: np.ndarray
    """Within-cluster sum of squares per cluster."""
    sizes: np.ndarray
    """Rows per cluster."""
    n_iter: int
    """Center moves made by the best start."""
    best_start: int
    """Index of the best start."""


class KMeansBlockStats(NamedTuple):
    """Sufficient statistics of one block for given centers."""

    sums: np.ndarray
    counts: np.ndarray
    ss: float
    n_skipped: int


def _as_data(X) -> np.ndarray:
    X = np.ascontiguousarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be two-dimensional, got shape {X.shape}")
    return X


def _as_centers(centers, p: int) -> np.ndarray:
    centers = np.array(centers, dtype=np.float64, order="C")
    if centers.ndim != 2 or centers.shape[1] != p or centers.shape[0] < 1:
        raise ValueError(f"centers must have shape (k, {p}), got {centers.shape}")
    return centers


def _summarise(X, centers, inertia, n_iter, best_start) -> KMeansResult:
    labels = np.full(X.shape[0], -1, dtype=np.int64)
    _assign(X, centers, labels)
    k = centers.shape[0]
    d = ((X - centers[labels]) ** 2).sum(axis=1)
    withinss = np.bincount(labels, weights=d, minlength=k)
    sizes = np.bincount(labels, minlength=k)
    return KMeansResult(centers, labels, float(inertia), withinss, sizes, int(n_iter), best_start)


def _absolute_tol(X: np.ndarray, tol: float) -> float:
    # scikit-learn's convention: tol is relative to the mean column variance.
    return float(np.mean(np.var(X, axis=0)) * tol) if X.shape[0] else 0.0


def kmeans_lloyd(X, centers, iter_max: int = 300, tol: float = 1e-4) -> KMeansResult:
    """Lloyd iterations from given starting centers.

    Parameters
    ----------
    X : array_like
        Data, shape ``(n, p)``, without NaN.
    centers : array_like
        Starting centers, shape ``(k, p)``.
    iter_max : int, default 300
        Maximum number of center moves.
    tol : float, default 1e-4
        Stop when the sum of squared center moves is at most ``tol`` times the
        mean column variance of ``X`` (scikit-learn's rule); 0 runs until no
        label changes or ``iter_max`` is reached.

    Returns
    -------
    KMeansResult
        Final centers, labels, inertia, per-cluster sums of squares and sizes.
    """
    X = _as_data(X)
    start = _as_centers(centers, X.shape[1])
    labels = np.empty(X.shape[0], dtype=np.int64)
    inertia, moves = _lloyd(X, start, int(iter_max), _absolute_tol(X, tol), labels)
    return _summarise(X, start, inertia, moves, 0)


def kmeans_fit(
    X,
    k: int,
    iter_max: int = 10,
    nstart: int = 1,
    *,
    init: str = "k-means++",
    seed: int = 0,
    task: int = 0,
    first_start: int = 0,
    tol: float = 1e-4,
) -> KMeansResult:
    """k-means with ``nstart`` seeded starts; keeps the best.

    Parameters
    ----------
    X : array_like
        Data, shape ``(n, p)`` with ``n >= k``, without NaN.
    k : int
        Number of clusters.
    iter_max : int, default 10
        Maximum number of center moves per start (R's ``iter.max``).
    nstart : int, default 1
        Number of starts.
    init : {"k-means++", "random"}
        Seeding: k-means++, or ``k`` distinct rows drawn uniformly.
    seed : int, default 0
        Seed of the random numbers.
    task : int, default 0
        Task index.
    first_start : int, default 0
        Index of the first start, so that starts can be split over calls.
    tol : float, default 1e-4
        Relative tolerance, as in `kmeans_lloyd`.

    Returns
    -------
    KMeansResult
        The start with the smallest total within-cluster sum of squares
        (the lowest start index on ties).
    """
    X = _as_data(X)
    if init not in ("k-means++", "random"):
        raise ValueError(f"init must be 'k-means++' or 'random', got {init!r}")
    if not 1 <= k <= X.shape[0] or nstart < 1 or iter_max < 0 or first_start < 0:
        raise ValueError("need 1 <= k <= n rows, nstart >= 1, iter_max >= 0")
    if np.isnan(X).any():
        raise ValueError("X contains NaN")
    key = task_key(seed, task)
    all_centers, inertias, moves = _kmeans_starts(
        X,
        int(k),
        int(iter_max),
        _absolute_tol(X, tol),
        key,
        int(first_start),
        int(nstart),
        init == "k-means++",
    )
    best = int(np.argmin(inertias))
    return _summarise(X, all_centers[best], inertias[best], moves[best], first_start + best)


def kmeans_block_stats(X, centers) -> KMeansBlockStats:
    """Per-cluster sums and counts of a block of rows, for distributed k-means.

    Parameters
    ----------
    X : array_like
        Block of data, shape ``(n, p)``; rows with a NaN are skipped.
    centers : array_like
        Current centers, shape ``(k, p)``.

    Returns
    -------
    KMeansBlockStats
        ``sums (k, p)`` and ``counts (k,)`` of the rows nearest each center,
        ``ss`` the sum of their squared distances, ``n_skipped`` rows with NaN.
        Summing over blocks and dividing ``sums`` by ``counts`` gives the next
        centers of a Lloyd iteration.
    """
    X = _as_data(X)
    centers = _as_centers(centers, X.shape[1])
    sums, counts, ss, skipped = _block_stats(X, centers)
    return KMeansBlockStats(sums, counts, float(ss), int(skipped))


# The first process on this machine to need a kernel compiles it; the others load it.
_shared_cache.share(globals())
