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
of rows and the size of the cell table, and the pieces are added in order, so
the results are the same for any thread count. Means and centred sums of
squares are combined with Chan's formula (no ``sum y**2 - n mean**2``
cancellation); each piece shifts a cell's values by its first value.
"""

import math
from typing import NamedTuple

import numpy as np
from numba import njit, prange

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
def _moments_piece(y, cells, has_cells, n_cells, lo, hi, count, shifted, shifted_sq, shift, ylogy, y1logy1):
    skipped = 0
    bad = 0
    y_min = np.inf
    y_max = -np.inf
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
        if yi > 0.0 and yi != 1.0:
            ylogy[c] += yi * math.log(yi)
            if yi < 1.0:
                y1logy1[c] += (1.0 - yi) * math.log(1.0 - yi)
        y_min = min(y_min, yi)
        y_max = max(y_max, yi)
    return skipped, bad, y_min, y_max


@njit(cache=True, nogil=True, parallel=True)
def _moments(y, cells, has_cells, n_cells, n_pieces, size):
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
    for k in prange(n_pieces):
        skipped[k], bad[k], y_min[k], y_max[k] = _moments_piece(
            y, cells, has_cells, n_cells, k * size, min(n, (k + 1) * size),
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
        return np.zeros(1, dtype=np.int8), False
    cells = np.asarray(cells).reshape(-1)
    if cells.dtype.kind not in "iu" or cells.shape[0] != n:
        raise ValueError(f"cells must be {n} integer codes, got {cells.dtype} {cells.shape}")
    return cells, True


def _check_y(y):
    y = np.asarray(y).reshape(-1)
    if y.dtype not in (np.float32, np.float64):
        y = y.astype(np.float64)
    return y


def glm_cell_moments(y, cells, n_cells: int) -> CellMoments:
    """Count, mean and spread of ``y`` in each cell (see the module docstring).

    Parameters
    ----------
    y : array_like
        Response, float32 or float64 ``(n,)``; NaN is missing.
    cells : array_like or None
        Cell of each row (any integer type, -1 missing); None: one cell.
    n_cells : int
        Number of cells; codes must be below it.

    Returns
    -------
    CellMoments
    """
    y = _check_y(y)
    cells, has_cells = _check_cells(cells, y.shape[0], n_cells)
    n_pieces, size = _pieces(y.shape[0], 6 * n_cells)
    count, mean, m2, ylogy, y1logy1, skipped, bad, y_min, y_max = _moments(
        y, cells, has_cells, n_cells, n_pieces, size
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


@njit(cache=True, nogil=True)
def _stats_piece(y, cells, has_cells, n_cells, numeric, m, beta_cell, beta_num, family, start, lo, hi,
                 sw, swz, swx, swxx, swxz):  # fmt: skip
    deviance = 0.0
    used = 0
    skipped = 0
    bad = 0
    y_min = np.inf
    y_max = -np.inf
    x = np.empty(max(m, 1))
    for i in range(lo, hi):
        yi = np.float64(y[i])
        c = _cell_of(cells, has_cells, n_cells, i)
        if c == n_cells:
            bad += 1
            continue
        ok = c >= 0 and not np.isnan(yi)
        eta = beta_cell[c] if c >= 0 else 0.0
        for j in range(m):
            xj = numeric[j][i]
            if np.isnan(xj):
                ok = False
            x[j] = xj
            eta += beta_num[j] * xj
        if not ok:
            skipped += 1
            continue
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
            if yi > 0.0:
                deviance += 2.0 * yi * math.log(yi / mu)
            if yi < 1.0:
                deviance += 2.0 * (1.0 - yi) * math.log((1.0 - yi) / (1.0 - mu))
        else:
            if start:
                mu = yi + 0.1
                eta = math.log(mu)
            else:
                mu = math.exp(eta)
            w = mu
            z = eta + (yi - mu) / mu
            if yi > 0.0:
                deviance += 2.0 * (yi * math.log(yi / mu) - (yi - mu))
            else:
                deviance += 2.0 * mu
        used += 1
        y_min = min(y_min, yi)
        y_max = max(y_max, yi)
        sw[c] += w
        swz[c] += w * z
        for j in range(m):
            wx = w * x[j]
            swx[c, j] += wx
            swxz[j] += wx * z
            for k in range(j, m):
                swxx[j, k] += wx * x[k]
    return deviance, used, skipped, bad, y_min, y_max


@njit(cache=True, nogil=True, parallel=True)
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
    for k in prange(n_pieces):
        deviance[k], used[k], skipped[k], bad[k], y_min[k], y_max[k] = _stats_piece(
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
    return (out_sw, out_swz, out_swx[:, :m], out_swxx[:m, :m], out_swxz[:m], dev,
            used.sum(), skipped.sum(), bad.sum(), y_min.min(), y_max.max())  # fmt: skip


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


_NO_NUMERIC = (np.zeros(0),)


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
    columns = tuple(np.ascontiguousarray(x, dtype=np.float64).reshape(-1) for x in numeric)
    if any(x.shape[0] != n for x in columns):
        raise ValueError(f"every numeric predictor must have {n} values")
    m = len(columns)
    beta_cell = np.ascontiguousarray(beta_cell, dtype=np.float64).reshape(-1)
    beta_num = np.ascontiguousarray(beta_num, dtype=np.float64).reshape(-1)
    if beta_cell.shape[0] != n_cells or beta_num.shape[0] != m:
        raise ValueError(f"need {n_cells} cell and {m} numeric coefficients")
    n_pieces, size = _pieces(n, n_cells * (2 + m))
    sw, swz, swx, swxx, swxz, deviance, used, skipped, bad, y_min, y_max = _stats(
        y, cells, has_cells, n_cells, columns or _NO_NUMERIC, m, beta_cell,
        beta_num if m else np.zeros(1), FAMILIES[family], bool(start), n_pieces, size,
    )  # fmt: skip
    if bad:
        raise ValueError(f"{bad} rows have a cell code >= n_cells = {n_cells}")
    return CellStats(
        sw, swz, swx, swxx, swxz, float(deviance), int(used), int(skipped), float(y_min), float(y_max)
    )
