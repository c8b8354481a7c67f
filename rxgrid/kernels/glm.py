"""Sufficient statistics of one IRLS step of a generalized linear model.

For a block of rows and the current coefficients ``beta``, ``glm_block_stats``
returns ``X'WX``, ``X'Wz``, the deviance at ``beta`` and the counts of rows used
and skipped. Adding these over blocks and solving ``(X'WX) beta = X'Wz`` is one
iteration of iteratively reweighted least squares (IRLS); for the gaussian
family one step gives the least-squares fit.

The design matrix is never built. Its columns are, in order::

    [intercept] [levels of categorical 0] [levels of categorical 1] ... [numeric 0] ...

A categorical row contributes a single 1 at the column of its level, read
from an integer code; a level below ``drop_first[v]`` (the reference level)
has no column. A row is skipped, and counted, if the response or a numeric
value is NaN or a code is negative (missing level).

Families and links: gaussian/identity, binomial/logit, poisson/log. Working
weights and responses are the canonical-link ones:
``w = mu (1 - mu)``, ``z = eta + (y - mu) / w`` (binomial) and ``w = mu``,
``z = eta + (y - mu) / mu`` (poisson). With ``start=True`` the first step
starts from ``mu`` computed from ``y`` (R's ``mustart``) instead of ``beta``.
"""

import math
from typing import NamedTuple

import numpy as np
from numba import njit, prange

from . import _shared_cache
from ._shared_cache import read_only

GAUSSIAN = 0
BINOMIAL = 1
POISSON = 2
FAMILIES = {"gaussian": GAUSSIAN, "binomial": BINOMIAL, "poisson": POISSON}

_CHUNK_ROWS = 8192
_MAX_CHUNKS = 64
# statsmodels clips probabilities to this, so does our binomial mean.
_EPS = np.finfo(np.float64).eps


@njit(cache=True, nogil=True)
def _y_log_y_over(y, mu):
    """``y * log(y / mu)`` with the limit 0 at ``y = 0``.

    Parameters
    ----------
    y, mu : float
        Observation and mean.

    Returns
    -------
    float
        The deviance term.
    """
    if y <= 0.0:
        return 0.0
    return y * math.log(y / mu)


@njit(cache=True, nogil=True)
def _glm_chunk(
    y,
    codes,
    numeric,
    beta,
    family,
    intercept,
    cat_start,
    cat_skip,
    num_start,
    start,
    lo,
    hi,
    xtwx,
    xtwz,
    idx,
    val,
):
    """Accumulate rows ``lo .. hi - 1`` into ``xtwx`` (upper triangle) and ``xtwz``.

    Parameters
    ----------
    y : numpy.ndarray
        Response, float64 ``(n,)``.
    codes : numpy.ndarray
        Level codes, int32 ``(n_cat, n)``.
    numeric : numpy.ndarray
        Numeric predictors, float64 ``(n_num, n)``.
    beta : numpy.ndarray
        Current coefficients ``(p,)``.
    family : int
        ``GAUSSIAN``, ``BINOMIAL`` or ``POISSON``.
    intercept : bool
        Whether column 0 is an intercept.
    cat_start : numpy.ndarray
        Design column of the first kept level of each categorical.
    cat_skip : numpy.ndarray
        Number of leading levels without a column (0 or 1) per categorical.
    num_start : int
        Design column of the first numeric predictor.
    start : bool
        Start from ``mu`` computed from ``y`` instead of from ``beta``.
    lo, hi : int
        Row range.
    xtwx : numpy.ndarray
        ``(p, p)`` accumulator; only the upper triangle is written.
    xtwz : numpy.ndarray
        ``(p,)`` accumulator.
    idx, val : numpy.ndarray
        Scratch space for the nonzero columns of a row.

    Returns
    -------
    tuple of (float, int, int)
        Deviance at ``beta``, rows used, rows skipped.
    """
    deviance = 0.0
    used = 0
    skipped = 0
    for i in range(lo, hi):
        yi = y[i]
        ok = not np.isnan(yi)
        q = 0
        if intercept:
            idx[0] = 0
            val[0] = 1.0
            q = 1
        for v in range(codes.shape[0]):
            code = codes[v, i]
            if code < 0:
                ok = False
            elif code >= cat_skip[v]:
                idx[q] = cat_start[v] + code - cat_skip[v]
                val[q] = 1.0
                q += 1
        for j in range(numeric.shape[0]):
            x = numeric[j, i]
            if np.isnan(x):
                ok = False
            idx[q] = num_start + j
            val[q] = x
            q += 1
        if not ok:
            skipped += 1
            continue
        eta = 0.0
        for a in range(q):
            eta += beta[idx[a]] * val[a]
        if family == GAUSSIAN:
            w = 1.0
            z = yi
            deviance += (yi - eta) ** 2
        elif family == BINOMIAL:
            if start:
                mu = (yi + 0.5) / 2.0
                eta = math.log(mu / (1.0 - mu))
            else:
                mu = 1.0 / (1.0 + math.exp(-eta))
                mu = min(max(mu, _EPS), 1.0 - _EPS)
            w = mu * (1.0 - mu)
            z = eta + (yi - mu) / w
            deviance += 2.0 * (_y_log_y_over(yi, mu) + _y_log_y_over(1.0 - yi, 1.0 - mu))
        else:
            if start:
                mu = yi + 0.1
                eta = math.log(mu)
            else:
                mu = math.exp(eta)
            w = mu
            z = eta + (yi - mu) / mu
            deviance += 2.0 * (_y_log_y_over(yi, mu) - (yi - mu))
        used += 1
        for a in range(q):
            wa = w * val[a]
            ia = idx[a]
            xtwz[ia] += wa * z
            for b in range(a, q):
                xtwx[ia, idx[b]] += wa * val[b]
    return deviance, used, skipped


@njit(cache=True, nogil=True, parallel=True)
def _glm_stats(y, codes, numeric, beta, family, intercept, cat_start, cat_skip, num_start, start):
    """IRLS sufficient statistics of a block, rows spread over threads.

    Rows are cut into a number of chunks that depends only on ``n`` and the
    partial sums are added in chunk order, so the result is bit-for-bit the
    same for any thread count.

    Parameters
    ----------
    y, codes, numeric, beta, family, intercept, cat_start, cat_skip, num_start, start
        As in `_glm_chunk`.

    Returns
    -------
    tuple
        ``xtwx (p, p)`` (symmetric), ``xtwz (p,)``, deviance, rows used, rows
        skipped.
    """
    n = y.shape[0]
    p = beta.shape[0]
    q_max = p if p > 0 else 1
    n_chunks = min((n + _CHUNK_ROWS - 1) // _CHUNK_ROWS, _MAX_CHUNKS)
    size = (n + n_chunks - 1) // n_chunks if n_chunks > 0 else 0
    xtwx_parts = np.zeros((n_chunks, p, p))
    xtwz_parts = np.zeros((n_chunks, p))
    deviances = np.zeros(n_chunks)
    used = np.zeros(n_chunks, dtype=np.int64)
    skipped = np.zeros(n_chunks, dtype=np.int64)
    for c in prange(n_chunks):
        idx = np.empty(q_max, dtype=np.int64)
        val = np.empty(q_max)
        deviances[c], used[c], skipped[c] = _glm_chunk(
            y,
            codes,
            numeric,
            beta,
            family,
            intercept,
            cat_start,
            cat_skip,
            num_start,
            start,
            c * size,
            min(n, (c + 1) * size),
            xtwx_parts[c],
            xtwz_parts[c],
            idx,
            val,
        )
    xtwx = np.zeros((p, p))
    xtwz = np.zeros(p)
    for c in range(n_chunks):
        xtwx += xtwx_parts[c]
        xtwz += xtwz_parts[c]
    for a in range(p):
        for b in range(a):
            xtwx[a, b] = xtwx[b, a]
    return xtwx, xtwz, deviances.sum(), used.sum(), skipped.sum()


class GlmBlockStats(NamedTuple):
    """IRLS sufficient statistics of one block of rows."""

    xtwx: np.ndarray
    """``X'WX``, shape ``(p, p)``."""
    xtwz: np.ndarray
    """``X'Wz``, shape ``(p,)``."""
    deviance: float
    """Deviance of the used rows at the given coefficients."""
    n_used: int
    n_skipped: int


def design_layout(n_levels, intercept: bool, drop_first, n_numeric: int):
    """Column layout of the implicit design matrix.

    Parameters
    ----------
    n_levels : sequence of int
        Number of levels of each categorical predictor.
    intercept : bool
        Whether the design has an intercept column (column 0).
    drop_first : sequence of bool or None
        Whether each categorical's first level is the reference (no column).
        None means R's convention: every categorical drops its first level
        when there is an intercept, all but the first do when there is none.
    n_numeric : int
        Number of numeric predictors.

    Returns
    -------
    tuple
        ``cat_start`` and ``cat_skip`` (int64 arrays), ``num_start`` and the
        number of columns ``p``.
    """
    n_levels = np.asarray(n_levels, dtype=np.int64).reshape(-1)
    if drop_first is None:
        drop_first = [intercept or v > 0 for v in range(n_levels.shape[0])]
    cat_skip = np.asarray(drop_first, dtype=np.int64).reshape(-1)
    if cat_skip.shape != n_levels.shape:
        raise ValueError("drop_first needs one flag per categorical predictor")
    widths = n_levels - cat_skip
    cat_start = int(intercept) + np.concatenate(([0], np.cumsum(widths)[:-1])).astype(np.int64)
    num_start = int(intercept) + int(widths.sum())
    return cat_start[: n_levels.shape[0]], cat_skip, num_start, num_start + int(n_numeric)


def _as_rows(values, n: int, dtype, name: str) -> np.ndarray:
    if values is None:
        return np.empty((0, n), dtype=dtype)
    array = np.ascontiguousarray(values, dtype=dtype)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2 or array.shape[1] != n:
        raise ValueError(f"{name} must have shape (k, {n}), got {array.shape}")
    return array


def glm_block_stats(
    y,
    codes,
    numeric,
    beta,
    family: str,
    n_levels=(),
    *,
    intercept: bool = True,
    drop_first=None,
    start: bool = False,
) -> GlmBlockStats:
    """Sufficient statistics of one IRLS step over a block of rows.

    Parameters
    ----------
    y : array_like
        Response, shape ``(n,)``; 0/1 for binomial, counts for poisson.
    codes : array_like or None
        Integer level codes of the categorical predictors, shape
        ``(n_cat, n)``; -1 marks a missing value.
    numeric : array_like or None
        Numeric predictors, shape ``(n_num, n)`` (one row per variable).
    beta : array_like
        Current coefficients, one per design column (see `design_layout`).
    family : {"gaussian", "binomial", "poisson"}
        Error distribution; the link is the canonical one.
    n_levels : sequence of int
        Number of levels of each categorical predictor.
    intercept : bool, default True
        Whether design column 0 is an intercept.
    drop_first : sequence of bool, optional
        Reference-level flags, as in `design_layout`.
    start : bool, default False
        Compute the first IRLS step from ``y`` rather than from ``beta``.

    Returns
    -------
    GlmBlockStats
        ``X'WX``, ``X'Wz``, deviance at ``beta``, rows used and skipped.
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {sorted(FAMILIES)}, got {family!r}")
    y = read_only(np.ascontiguousarray(y, dtype=np.float64).reshape(-1))
    n = y.shape[0]
    codes = read_only(_as_rows(codes, n, np.int32, "codes"))
    numeric = read_only(_as_rows(numeric, n, np.float64, "numeric"))
    cat_start, cat_skip, num_start, p = design_layout(n_levels, intercept, drop_first, numeric.shape[0])
    if cat_start.shape[0] != codes.shape[0]:
        raise ValueError("n_levels needs one entry per row of codes")
    if n and codes.shape[0] and (codes.max(axis=1) >= np.asarray(n_levels)).any():
        raise ValueError("a level code is >= its number of levels")
    beta = np.ascontiguousarray(beta, dtype=np.float64).reshape(-1)
    if beta.shape[0] != p:
        raise ValueError(f"beta has {beta.shape[0]} values, the design has {p} columns")
    xtwx, xtwz, deviance, used, skipped = _glm_stats(
        y,
        codes,
        numeric,
        beta,
        FAMILIES[family],
        bool(intercept),
        cat_start,
        cat_skip,
        num_start,
        bool(start),
    )
    return GlmBlockStats(xtwx, xtwz, float(deviance), int(used), int(skipped))


# The first process on this machine to need a kernel compiles it; the others load it.
_shared_cache.share(globals())
