"""The R factor of a block of rows (TSQR): least squares without squaring the condition number.

``r_factor`` reduces a block of design rows to the upper-triangular ``R`` of
its QR decomposition; ``combine_r_factors`` stacks the ``R`` of several blocks
and reduces them again (TSQR). Least squares then solves ``R b = R[:, -1]``
(the response is the last column), so the error grows with ``cond(X)`` and not
with ``cond(X)**2`` as with the normal equations ``X'X b = X'y``.

With ``center=True`` every column is centred on its (weighted) mean before the
reduction, and blocks with different means are merged by Chan's rule for
co-moments written for R factors: the R of the union is the R of
``[R_a; R_b; sqrt(W_a W_b / W) (m_a - m_b)]``. The R of ``[1, X]`` follows as
``[[sqrt(W), sqrt(W) m'], [0, R_c]]``, exactly. Centring removes the
ill-conditioning that an intercept and columns far from zero bring (NIST's
Longley data: from LRE 11 to 13).

Layers (after STUMPY): ``_fold_rows`` (``@njit``) folds a few rows into ``R`` by
Householder reflections that use the triangular shape (each column's reflector
touches one row of ``R`` and the new rows, so a row costs about ``2 p**2``
flops); ``_block_r`` runs it over a block in fixed pieces, single-threaded like
the cell kernels (the parallelism is one task per block range); ``r_factor``
validates and centres.

Why not LAPACK: ``numpy.linalg.qr(rows, mode="r")`` per block (the blocks' factors
merged by QR of the stacked Rs) is as accurate (NIST LREs within 0.6 digits) but slower:
on 500,000-row blocks 7-25x for the kernel alone (4x fed 16,384 rows at a time);
``lin_mod`` at 2 million rows, alternated best of 7 on 2 loaded cores, 0.140 s against
0.050 s with 2 numeric predictors and 0.377 s against 0.134 s with ``DayOfWeek`` as
well. Its Householder sweeps stream each tall column from memory once per column;
``_fold_rows`` works on 256 rows that stay in cache.
"""

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from . import _shared_cache
from ._shared_cache import read_only

_PIECE_ROWS = 256


# "reassoc" lets LLVM vectorize the dot products (a different, still fixed, order of additions).
@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _fold_rows(R, C, m):
    """Fold the ``m`` rows held in the columns of ``C`` into the upper triangle ``R``.

    Parameters
    ----------
    R : numpy.ndarray
        ``(q, q)`` upper-triangular factor, updated in place.
    C : numpy.ndarray
        ``(q, m_max)`` new rows stored by column (``C[k, r]``: column ``k`` of
        row ``r``); overwritten.
    m : int
        Number of rows used in ``C``.
    """
    q = R.shape[0]
    for j in range(q):
        s = 0.0
        for r in range(m):
            s += C[j, r] * C[j, r]
        if s == 0.0:
            continue
        a = R[j, j]
        norm = math.sqrt(a * a + s)
        beta = -norm if a >= 0.0 else norm
        v0 = a - beta  # the reflector is (v0, C[j, :m]); v0 has the sign of a: no cancellation
        vtv = v0 * v0 + s
        for k in range(j + 1, q):
            w = v0 * R[j, k]
            for r in range(m):
                w += C[j, r] * C[k, r]
            f = 2.0 * w / vtv
            R[j, k] -= f * v0
            for r in range(m):
                C[k, r] -= f * C[j, r]
        R[j, j] = beta


@njit(cache=True, nogil=True)
def _block_r(X, mean, root_w, R):
    """Fold the rows of ``X``, centred and weighted, into ``R``, ``_PIECE_ROWS`` at a time.

    Parameters
    ----------
    X : numpy.ndarray
        ``(q, n)`` float64 rows of the design, one numpy row per column.
    mean : numpy.ndarray
        ``(q,)`` values subtracted from each column (zeros: no centring).
    root_w : numpy.ndarray
        ``(n,)`` square roots of the row weights, or an empty array (no weights).
    R : numpy.ndarray
        ``(q, q)`` factor to update in place.
    """
    q, n = X.shape
    weighted = root_w.shape[0] == n
    C = np.empty((q, _PIECE_ROWS))
    for first in range(0, n, _PIECE_ROWS):
        m = min(_PIECE_ROWS, n - first)
        for k in range(q):
            shift = mean[k]
            if weighted:
                for r in range(m):
                    C[k, r] = (X[k, first + r] - shift) * root_w[first + r]
            else:
                for r in range(m):
                    C[k, r] = X[k, first + r] - shift
        _fold_rows(R, C, m)


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _weighted_mean(X, w, total):
    """Column means of ``X`` (``(q, n)``) with weights ``w`` (empty: none), with one correction pass.

    Parameters
    ----------
    X : numpy.ndarray
        ``(q, n)`` rows.
    w : numpy.ndarray
        ``(n,)`` weights or an empty array.
    total : float
        Sum of the weights (``n`` without).

    Returns
    -------
    numpy.ndarray
        ``(q,)`` means.
    """
    q, n = X.shape
    weighted = w.shape[0] == n
    mean = np.zeros(q)
    for k in range(q):
        acc = 0.0
        for i in range(n):
            acc += X[k, i] * w[i] if weighted else X[k, i]
        guess = acc / total
        acc = 0.0  # the residuals' mean: the first sum's rounding error, removed
        for i in range(n):
            acc += (X[k, i] - guess) * w[i] if weighted else X[k, i] - guess
        mean[k] = guess + acc / total
    return mean


class RFactor(NamedTuple):
    """R factor of (centred, weighted) rows, with their weighted means, weight and row count."""

    r: np.ndarray
    """``(q, q)`` upper triangular; ``r'r = sum w (x - mean)(x - mean)'``."""
    mean: np.ndarray
    """``(q,)`` weighted column means (zeros when not centred)."""
    weight: float
    """Sum of the weights (the row count without weights)."""
    rows: int


def r_factor(X, weights=None, center: bool = False) -> RFactor:
    """R factor of the rows of a block.

    Parameters
    ----------
    X : array_like
        ``(q, n)``: ``q`` columns of ``n`` complete rows (no NaN), one numpy
        row per design column, the response last.
    weights : array_like, optional
        ``(n,)`` non-negative row weights (``R'R = X' W X``).
    center : bool, default False
        Centre each column on its weighted mean first.

    Returns
    -------
    RFactor
    """
    X = read_only(np.ascontiguousarray(X, dtype=np.float64))
    if X.ndim != 2:
        raise ValueError(f"X must be 2-d (columns, rows), got shape {X.shape}")
    q, n = X.shape
    w = None if weights is None else read_only(np.ascontiguousarray(weights, dtype=np.float64).reshape(-1))
    if w is not None and (w.shape[0] != n or (w < 0).any()):
        raise ValueError(f"weights must be {n} non-negative values")
    total = float(n if w is None else w.sum())
    no_weights = read_only(np.empty(0))
    mean = _weighted_mean(X, no_weights if w is None else w, total) if center and total > 0 else np.zeros(q)
    R = np.zeros((q, q))
    _block_r(X, mean, no_weights if w is None else read_only(np.sqrt(w)), R)
    return RFactor(R, mean, total, n)


def combine_r_factors(parts: list[RFactor]) -> RFactor:
    """Merge R factors of disjoint rows, in list order (see the module docstring)."""
    r, mean, weight, rows = parts[0].r.copy(), parts[0].mean.copy(), parts[0].weight, parts[0].rows
    for part in parts[1:]:
        total = weight + part.weight
        stacked = [part.r]
        if total > 0 and (mean.any() or part.mean.any()):
            stacked.append((math.sqrt(weight * part.weight / total) * (mean - part.mean))[None, :])
            mean = mean + (part.mean - mean) * (part.weight / total)
        new = np.ascontiguousarray(np.vstack(stacked).T)
        _block_r(read_only(new), np.zeros(len(r)), read_only(np.empty(0)), r)
        weight, rows = total, rows + part.rows
    return RFactor(r, mean, weight, rows)


# The first process on this machine to need a kernel compiles it; the others load it.
_shared_cache.share(globals())
