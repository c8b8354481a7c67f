"""GLM statistics gathered by *cell*: the fast path of ``lin_mod``, ``logit`` and ``glm``.

A cell is one combination of levels of the categorical predictors, numbered
``sum(code_v * stride_v)``; every row of a cell has the same categorical part
of the design. So instead of adding a ``p x p`` outer product per row, as
`glm.glm_block_stats` does, these kernels add a few numbers per row into
per-cell slots, and the caller turns the cell sums into the normal equations
once per pass (``rxgrid.analytics.partials``), with the small ``cells x p``
design of the cells:

``glm_cell_stats`` (one IRLS step, any design)
    per cell ``sum w``, ``sum w z`` and ``sum w x`` (``x``: the numeric
    predictors), and over all rows ``sum w x x'`` and ``sum w x z``, with the
    deviance at the given coefficients. ``X'WX`` and ``X'Wz`` follow exactly.

``glm_cell_moments`` (designs with no numeric predictor)
    per cell the count, mean and centred sum of squares of ``y`` and the sums
    of ``y log y`` and ``(1 - y) log(1 - y)``. With only categorical
    predictors a GLM is a model of the cell means: IRLS over the cells, with
    the counts as prior weights, gives the same coefficients, standard errors
    and deviance as IRLS over the rows, so the whole fit reads the data once.

Rows with a NaN response or numeric value or a negative code are skipped
and counted. Rows are cut into pieces whose number depends only on the number
of rows and the size of the cell table, and the pieces are added in order.
The kernels are single-threaded on purpose: the parallelism is one task per
block range on every core of the cluster, and a Numba ``prange`` called from
several threads at once (a ``ThreadPoolExecutor`` context) is not safe with
Numba's default threading layer.

Means and centred sums of squares are combined with Chan's formula (no
``sum y**2 - n mean**2`` cancellation); each piece shifts a cell's values by
its first value.
"""

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from . import _shared_cache
from ._shared_cache import read_only
from .glm import _EPS, BINOMIAL, FAMILIES, GAUSSIAN

_CHUNK_ROWS = 32768
_MAX_CHUNKS = 32
# Bound on doubles of per-piece cell tables, so many cells mean fewer pieces.
_MAX_PIECE_DOUBLES = 1 << 22


def _pieces(n: int, doubles_per_piece: int) -> tuple[int, int]:
    by_rows = (n + _CHUNK_ROWS - 1) // _CHUNK_ROWS
    by_memory = max(1, _MAX_PIECE_DOUBLES // max(doubles_per_piece, 1))
    count = max(1, min(by_rows, _MAX_CHUNKS, by_memory))
    return count, (n + count - 1) // count


@njit(cache=True, nogil=True)
def _cell_of(cells, has_cells, n_cells, i):
    """Cell of row ``i``: -1 if its code is missing, ``n_cells`` if out of range."""
    if not has_cells:
        return 0
    c = np.int64(cells[i])
    if c < 0:
        return -1
    if c >= n_cells:
        return n_cells
    return c


# --- moments ------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _moments_piece(y, cells, has_cells, n_cells, logs, lo, hi,
                   count, shifted, shifted_sq, shift, ylogy, y1logy1):  # fmt: skip
    skipped = 0
    bad = 0
    y_min = np.inf
    y_max = -np.inf
    not_01 = False
    for i in range(lo, hi):
        yi = np.float64(y[i])
        c = _cell_of(cells, has_cells, n_cells, i)
        if c == n_cells:
            bad += 1
            continue
        if c < 0 or np.isnan(yi):
            skipped += 1
            continue
        if count[c] == 0:
            shift[c] = yi
        d = yi - shift[c]
        count[c] += 1
        shifted[c] += d
        shifted_sq[c] += d * d
        not_01 |= yi * (1.0 - yi) != 0.0  # 0 exactly for y = 0 and y = 1
        y_min = min(y_min, yi)
        y_max = max(y_max, yi)
    if logs and not_01:  # a second loop, so 0/1 data (all terms 0) pays no logarithm
        for i in range(lo, hi):
            yi = np.float64(y[i])
            c = _cell_of(cells, has_cells, n_cells, i)
            if 0 <= c < n_cells and yi > 0.0 and yi != 1.0:
                ylogy[c] += yi * math.log(yi)
                if yi < 1.0:
                    y1logy1[c] += (1.0 - yi) * math.log(1.0 - yi)
    return skipped, bad, y_min, y_max


@njit(cache=True, nogil=True)
def _moments(y, cells, has_cells, n_cells, logs, n_pieces, size):
    n = y.shape[0]
    count = np.zeros((n_pieces, n_cells), dtype=np.int64)
    shifted = np.zeros((n_pieces, n_cells))
    shifted_sq = np.zeros((n_pieces, n_cells))
    shift = np.zeros((n_pieces, n_cells))
    ylogy = np.zeros((n_pieces, n_cells))
    y1logy1 = np.zeros((n_pieces, n_cells))
    skipped = np.zeros(n_pieces, dtype=np.int64)
    bad = np.zeros(n_pieces, dtype=np.int64)
    y_min = np.full(n_pieces, np.inf)
    y_max = np.full(n_pieces, -np.inf)
    for k in range(n_pieces):
        skipped[k], bad[k], y_min[k], y_max[k] = _moments_piece(
            y, cells, has_cells, n_cells, logs, k * size, min(n, (k + 1) * size),
            count[k], shifted[k], shifted_sq[k], shift[k], ylogy[k], y1logy1[k],
        )  # fmt: skip
    total = np.zeros(n_cells, dtype=np.int64)
    mean = np.zeros(n_cells)
    m2 = np.zeros(n_cells)
    for k in range(n_pieces):
        for c in range(n_cells):
            nb = count[k, c]
            if nb == 0:
                continue
            mb = shift[k, c] + shifted[k, c] / nb
            m2b = shifted_sq[k, c] - shifted[k, c] * shifted[k, c] / nb
            na = total[c]
            nt = na + nb
            delta = mb - mean[c]
            mean[c] += delta * nb / nt
            m2[c] += m2b + delta * delta * na * nb / nt
            total[c] = nt
    return (
        total,
        mean,
        m2,
        ylogy.sum(axis=0),
        y1logy1.sum(axis=0),
        skipped.sum(),
        bad.sum(),
        y_min.min(),
        y_max.max(),
    )


class CellMoments(NamedTuple):
    """Per-cell count, mean, centred sum of squares, ``sum y log y``, ``sum (1-y) log(1-y)``."""

    count: np.ndarray
    mean: np.ndarray
    m2: np.ndarray
    ylogy: np.ndarray
    y1logy1: np.ndarray
    n_skipped: int
    y_min: float
    y_max: float


def _check_cells(cells, n: int, n_cells: int):
    if n_cells < 1:
        raise ValueError(f"n_cells must be >= 1, got {n_cells}")
    if cells is None:
        return read_only(np.zeros(1, dtype=np.int8)), False
    cells = np.asarray(cells).reshape(-1)
    if cells.dtype.kind not in "iu" or cells.shape[0] != n:
        raise ValueError(f"cells must be {n} integer codes, got {cells.dtype} {cells.shape}")
    return read_only(cells), True


def _check_y(y):
    y = np.asarray(y).reshape(-1)
    if y.dtype not in (np.float32, np.float64):
        y = y.astype(np.float64)
    return read_only(y)


def glm_cell_moments(y, cells, n_cells: int, logs: bool = True) -> CellMoments:
    """Count, mean and spread of ``y`` in each cell (see the module docstring).

    Parameters
    ----------
    y : array_like
        Response, float32 or float64 ``(n,)``; NaN is missing.
    cells : array_like or None
        Cell of each row (any integer type, -1 missing); None: one cell.
    n_cells : int
        Number of cells; codes must be below it.
    logs : bool, default True
        Also sum ``y log y`` and ``(1 - y) log(1 - y)`` (deviances of the
        binomial and poisson families; a gaussian fit skips the logarithms).

    Returns
    -------
    CellMoments
    """
    y = _check_y(y)
    cells, has_cells = _check_cells(cells, y.shape[0], n_cells)
    n_pieces, size = _pieces(y.shape[0], 6 * n_cells)
    count, mean, m2, ylogy, y1logy1, skipped, bad, y_min, y_max = _moments(
        y, cells, has_cells, n_cells, bool(logs), n_pieces, size
    )
    if bad:
        raise ValueError(f"{bad} rows have a cell code >= n_cells = {n_cells}")
    return CellMoments(count, mean, m2, ylogy, y1logy1, int(skipped), float(y_min), float(y_max))


def combine_moments(parts: list[CellMoments]) -> CellMoments:
    """Pool per-cell moments of several blocks (Chan's formula), in list order."""
    first = parts[0]
    count, mean, m2 = first.count.copy(), first.mean.copy(), first.m2.copy()
    for part in parts[1:]:
        total = count + part.count
        safe = np.maximum(total, 1)
        delta = part.mean - mean
        mean = mean + delta * part.count / safe
        m2 = m2 + part.m2 + delta * delta * count * part.count / safe
        count = total
    return CellMoments(
        count, mean, m2,
        sum((p.ylogy for p in parts[1:]), first.ylogy),
        sum((p.y1logy1 for p in parts[1:]), first.y1logy1),
        sum(p.n_skipped for p in parts),
        min(p.y_min for p in parts),
        max(p.y_max for p in parts),
    )  # fmt: skip


# --- IRLS statistics ----------------------------------------------------------------


# exp and log over buffers, without libm: plain arithmetic loops LLVM can vectorize. exp:
# x = k ln2 + r, |r| <= ln2 / 2, e**r by its Taylor series to r**13 (next term < 5e-18),
# 2**k by building the float's exponent bits. log: x = 2**e m, m in [sqrt(1/2), sqrt(2)),
# log m = 2 atanh(s), s = (m - 1) / (m + 1), by its series to s**21 (|s| < 0.172).
_LOG2E = 1.4426950408889634
_LN2_HI = 0.6931471803691238
_LN2_LO = 1.9082149292705877e-10
_SQRT2 = 1.4142135623730951
_SUB = 256  # rows per buffer


@njit(cache=True, nogil=True, fastmath={"contract"})
def _exp_buffer(x, out, bits, n):
    """``out[:n] = exp(x[:n])`` for ``x`` in [-708, 708] (clipped), to about 2 ulp."""
    for i in range(n):
        v = x[i]
        v = v if v > -708.0 else -708.0  # selects, not branches: the loop vectorizes
        v = v if v < 708.0 else 708.0
        k = np.floor(v * _LOG2E + 0.5)
        r = (v - k * _LN2_HI) - k * _LN2_LO
        p = 1.0 / 6227020800.0
        p = p * r + 1.0 / 479001600.0
        p = p * r + 1.0 / 39916800.0
        p = p * r + 1.0 / 3628800.0
        p = p * r + 1.0 / 362880.0
        p = p * r + 1.0 / 40320.0
        p = p * r + 1.0 / 5040.0
        p = p * r + 1.0 / 720.0
        p = p * r + 1.0 / 120.0
        p = p * r + 1.0 / 24.0
        p = p * r + 1.0 / 6.0
        p = p * r + 0.5
        p = p * r + 1.0
        out[i] = p * r + 1.0
        bits[i] = (np.int64(k) + 1023) << 52
    scale = bits.view(np.float64)
    for i in range(n):
        out[i] *= scale[i]


@njit(cache=True, nogil=True, fastmath={"contract"})
def _log_buffer(x, out, bits, n):
    """``out[:n] = log(x[:n])`` for positive normal ``x``, to about 2 ulp."""
    raw = x.view(np.int64)
    for i in range(n):
        bits[i] = (raw[i] & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000
    mantissa = bits.view(np.float64)
    for i in range(n):
        big = mantissa[i] > _SQRT2
        m = mantissa[i] * 0.5 if big else mantissa[i]
        e = np.float64(((raw[i] >> 52) & 0x7FF) - (1022 if big else 1023))
        s = (m - 1.0) / (m + 1.0)
        s2 = s * s
        q = 1.0 / 21.0
        q = q * s2 + 1.0 / 19.0
        q = q * s2 + 1.0 / 17.0
        q = q * s2 + 1.0 / 15.0
        q = q * s2 + 1.0 / 13.0
        q = q * s2 + 1.0 / 11.0
        q = q * s2 + 1.0 / 9.0
        q = q * s2 + 1.0 / 7.0
        q = q * s2 + 1.0 / 5.0
        q = q * s2 + 1.0 / 3.0
        q = q * s2 + 1.0
        out[i] = e * _LN2_HI + (e * _LN2_LO + 2.0 * s * q)


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _dot(a, b, n):
    """``sum(a[:n] * b[:n])``, vectorized (the order of the additions is the compiler's)."""
    acc = 0.0
    for i in range(n):
        acc += a[i] * b[i]
    return acc


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _dot3(a, b, c, n):
    """``sum(a[:n] * b[:n] * c[:n])``, vectorized."""
    acc = 0.0
    for i in range(n):
        acc += a[i] * b[i] * c[i]
    return acc


@njit(cache=True, nogil=True, fastmath={"contract"})
def _binomial_weights(y_b, eta_b, t_b, l_b, w_b, wz_b, dev_b, q):
    """Weights, ``w z = w eta + y - mu`` and deviance terms of a buffer (no divisions by w)."""
    for r in range(q):
        yi = y_b[r]
        eta = eta_b[r]
        # -2 [y log mu + (1 - y) log(1 - mu)] = 2 [log(1 + t) + (1 - y) eta], t = exp(-eta)
        log1pt = l_b[r] if eta > -30.0 else -eta
        dev_b[r] = log1pt + (1.0 - yi) * eta
        mu = 1.0 / (1.0 + t_b[r])
        mu = mu if mu > _EPS else _EPS
        mu = mu if mu < 1.0 - _EPS else 1.0 - _EPS
        w = mu * (1.0 - mu)
        w_b[r] = w
        wz_b[r] = w * eta + (yi - mu)


@njit(cache=True, nogil=True)
def _stats_piece(y, cells, has_cells, n_cells, numeric, m, beta_cell, beta_num, family, start, lo, hi,
                 sw, swz, swx, swxx, swxz):  # fmt: skip
    """Rows ``lo .. hi - 1``, ``_SUB`` at a time, in branch-free loops over buffers.

    A row that cannot be used (NaN, missing level) stays in the buffers with
    zeros in place of its values and a weight of 0, so no loop compacts or
    branches per row: gather ``y``, cell, ``x`` and ``eta``; weights, ``w z``
    and deviance terms; then the per-cell sums and the vectorized dot products.
    """
    deviance = 0.0
    sy = 0.0
    sylogy = 0.0
    slgamma = 0.0
    used = 0
    skipped = 0
    bad = 0
    y_min = np.inf
    y_max = -np.inf
    eta_b = np.empty(_SUB)
    y_b = np.empty(_SUB)
    ok_b = np.empty(_SUB)  # 1.0 for a usable row, 0.0 for a skipped one
    t_b = np.empty(_SUB)
    l_b = np.empty(_SUB)
    w_b = np.empty(_SUB)
    z_b = np.empty(_SUB)  # w z: the working response times the weight
    dev_b = np.empty(_SUB)
    c_b = np.empty(_SUB, dtype=np.int64)
    bits = np.empty(_SUB, dtype=np.int64)
    x_b = np.empty((max(m, 1), _SUB))
    for first in range(lo, hi, _SUB):
        q = min(first + _SUB, hi) - first
        for r in range(q):
            yi = np.float64(y[first + r])
            c = np.int64(cells[first + r]) if has_cells else np.int64(0)
            bad += c >= n_cells
            good = (c >= 0) & (c < n_cells) & (yi == yi)
            c = c if good else 0
            ok_b[r] = 1.0 if good else 0.0
            c_b[r] = c
            y_b[r] = yi if good else 0.0
            eta_b[r] = beta_cell[c]
        for j in range(m):
            column = numeric[j]
            b = beta_num[j]
            for r in range(q):
                xv = column[first + r]
                fine = xv == xv
                ok_b[r] = ok_b[r] if fine else 0.0
                xv = xv if fine else 0.0
                x_b[j, r] = xv
                eta_b[r] += b * xv
        n_ok = 0
        for r in range(q):
            n_ok += ok_b[r] != 0.0
            sy += y_b[r] * ok_b[r]
            y_min = min(y_min, y_b[r] if ok_b[r] != 0.0 else np.inf)
            y_max = max(y_max, y_b[r] if ok_b[r] != 0.0 else -np.inf)
        used += n_ok
        skipped += q - n_ok
        if family == GAUSSIAN:
            for r in range(q):
                w_b[r] = ok_b[r]
                z_b[r] = y_b[r] * ok_b[r]
                dev_b[r] = (y_b[r] - eta_b[r]) * ok_b[r]
            deviance += _dot(dev_b, dev_b, q)
        elif family == BINOMIAL:
            if start:
                for r in range(q):
                    mu = (y_b[r] + 0.5) / 2.0
                    eta_b[r] = math.log(mu / (1.0 - mu))
                    t_b[r] = (1.0 - mu) / mu
            else:
                for r in range(q):
                    l_b[r] = -eta_b[r]
                _exp_buffer(l_b, t_b, bits, q)
            for r in range(q):
                l_b[r] = 1.0 + t_b[r]
            _log_buffer(l_b, l_b, bits, q)
            _binomial_weights(y_b, eta_b, t_b, l_b, w_b, z_b, dev_b, q)
            deviance += 2.0 * _dot(dev_b, ok_b, q)
            for r in range(q):
                yi = y_b[r]
                if yi * (1.0 - yi) != 0.0 and ok_b[r] != 0.0:  # 0 exactly for y = 0 and y = 1
                    term = 0.0
                    if yi > 0.0:
                        term += yi * math.log(yi)
                    if yi < 1.0:
                        term += (1.0 - yi) * math.log(1.0 - yi)
                    deviance += 2.0 * term
                    sylogy += term
        else:
            if start:
                for r in range(q):
                    t_b[r] = y_b[r] + 0.1
                    eta_b[r] = math.log(t_b[r])
            else:
                _exp_buffer(eta_b, t_b, bits, q)
            for r in range(q):
                yi = y_b[r]
                mu = t_b[r]
                w_b[r] = mu
                z_b[r] = mu * eta_b[r] + (yi - mu)
                l_b[r] = yi if yi > 0.0 else 1.0
            _log_buffer(l_b, l_b, bits, q)
            for r in range(q):  # y log(y / mu) - (y - mu) = y log y - y eta - y + mu
                dev_b[r] = y_b[r] * (l_b[r] - eta_b[r] - 1.0) + t_b[r]
                if ok_b[r] != 0.0:
                    sylogy += y_b[r] * l_b[r]
                    slgamma += math.lgamma(y_b[r] + 1.0)
            deviance += 2.0 * _dot(dev_b, ok_b, q)
        if family != GAUSSIAN:
            for r in range(q):
                w_b[r] *= ok_b[r]
                z_b[r] *= ok_b[r]
        for r in range(q):
            c = c_b[r]
            sw[c] += w_b[r]
            swz[c] += z_b[r]
        for j in range(m):
            x_j = x_b[j]
            for r in range(q):
                swx[c_b[r], j] += w_b[r] * x_j[r]
            swxz[j] += _dot(x_j, z_b, q)
            for k in range(j, m):
                swxx[j, k] += _dot3(w_b, x_j, x_b[k], q)
    return deviance, used, skipped - bad, bad, y_min, y_max, sy, sylogy, slgamma


@njit(cache=True, nogil=True)
def _stats(y, cells, has_cells, n_cells, numeric, m, beta_cell, beta_num, family, start, n_pieces, size):
    n = y.shape[0]
    sw = np.zeros((n_pieces, n_cells))
    swz = np.zeros((n_pieces, n_cells))
    swx = np.zeros((n_pieces, n_cells, max(m, 1)))
    swxx = np.zeros((n_pieces, max(m, 1), max(m, 1)))
    swxz = np.zeros((n_pieces, max(m, 1)))
    deviance = np.zeros(n_pieces)
    used = np.zeros(n_pieces, dtype=np.int64)
    skipped = np.zeros(n_pieces, dtype=np.int64)
    bad = np.zeros(n_pieces, dtype=np.int64)
    y_min = np.full(n_pieces, np.inf)
    y_max = np.full(n_pieces, -np.inf)
    sums = np.zeros((n_pieces, 3))
    for k in range(n_pieces):
        (deviance[k], used[k], skipped[k], bad[k], y_min[k], y_max[k],
         sums[k, 0], sums[k, 1], sums[k, 2]) = _stats_piece(
            y, cells, has_cells, n_cells, numeric, m, beta_cell, beta_num, family, start,
            k * size, min(n, (k + 1) * size), sw[k], swz[k], swx[k], swxx[k], swxz[k],
        )  # fmt: skip
    out_sw = np.zeros(n_cells)
    out_swz = np.zeros(n_cells)
    out_swx = np.zeros((n_cells, max(m, 1)))
    out_swxx = np.zeros((max(m, 1), max(m, 1)))
    out_swxz = np.zeros(max(m, 1))
    dev = 0.0
    for k in range(n_pieces):
        out_sw += sw[k]
        out_swz += swz[k]
        out_swx += swx[k]
        out_swxx += swxx[k]
        out_swxz += swxz[k]
        dev += deviance[k]
    for j in range(m):
        for k in range(j):
            out_swxx[j, k] = out_swxx[k, j]
    out_sums = np.zeros(3)
    for k in range(n_pieces):
        out_sums += sums[k]
    return (out_sw, out_swz, out_swx[:, :m], out_swxx[:m, :m], out_swxz[:m], dev,
            used.sum(), skipped.sum(), bad.sum(), y_min.min(), y_max.max(), out_sums)  # fmt: skip


class CellStats(NamedTuple):
    """Per-cell ``sum w``, ``sum w z``, ``sum w x``; overall ``sum w x x'``, ``sum w x z``."""

    sw: np.ndarray
    swz: np.ndarray
    swx: np.ndarray
    swxx: np.ndarray
    swxz: np.ndarray
    deviance: float
    n_used: int
    n_skipped: int
    y_min: float
    y_max: float
    sy: float = 0.0
    """Sum of the response over the rows used."""
    sylogy: float = 0.0
    """Sum of ``y log y + (1 - y) log(1 - y)`` (binomial) or ``y log y`` (poisson)."""
    slgamma: float = 0.0
    """Sum of ``log(y!)`` (poisson)."""


_NO_NUMERIC = (read_only(np.zeros(0)),)


def glm_cell_stats(
    y, cells, n_cells: int, numeric, beta_cell, beta_num, family: str, start: bool = False
) -> CellStats:
    """One IRLS step's statistics by cell (see the module docstring).

    Parameters
    ----------
    y : array_like
        Response, float32 or float64 ``(n,)``.
    cells : array_like or None
        Cell of each row (any integer type, -1 missing); None: one cell.
    n_cells : int
        Number of cells.
    numeric : sequence of array_like
        Numeric predictors, each ``(n,)`` (converted to float64 if needed).
    beta_cell : array_like
        Linear predictor of each cell's categorical part (intercept included).
    beta_num : array_like
        Coefficients of the numeric predictors.
    family : {"gaussian", "binomial", "poisson"}
        Canonical link.
    start : bool
        First step: ``mu`` from ``y`` instead of from the coefficients.

    Returns
    -------
    CellStats
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {sorted(FAMILIES)}, got {family!r}")
    y = _check_y(y)
    n = y.shape[0]
    cells, has_cells = _check_cells(cells, n, n_cells)
    columns = tuple(read_only(np.ascontiguousarray(x, dtype=np.float64).reshape(-1)) for x in numeric)
    if any(x.shape[0] != n for x in columns):
        raise ValueError(f"every numeric predictor must have {n} values")
    m = len(columns)
    beta_cell = np.ascontiguousarray(beta_cell, dtype=np.float64).reshape(-1)
    beta_num = np.ascontiguousarray(beta_num, dtype=np.float64).reshape(-1)
    if beta_cell.shape[0] != n_cells or beta_num.shape[0] != m:
        raise ValueError(f"need {n_cells} cell and {m} numeric coefficients")
    n_pieces, size = _pieces(n, n_cells * (2 + m))
    sw, swz, swx, swxx, swxz, deviance, used, skipped, bad, y_min, y_max, sums = _stats(
        y, cells, has_cells, n_cells, columns or _NO_NUMERIC, m, beta_cell,
        beta_num if m else np.zeros(1), FAMILIES[family], bool(start), n_pieces, size,
    )  # fmt: skip
    if bad:
        raise ValueError(f"{bad} rows have a cell code >= n_cells = {n_cells}")
    return CellStats(sw, swz, swx, swxx, swxz, float(deviance), int(used), int(skipped), float(y_min),
                     float(y_max), *(float(v) for v in sums))  # fmt: skip


# The first process on this machine to need a kernel compiles it; the others load it.
_shared_cache.share(globals())
