"""The map step of the analytics: statistics of a few blocks of a data set.

These are plain module-level functions of picklable arguments (data set
path, block indices, a frozen spec, current coefficients or centers), so a
cluster can run them as tasks by reference: nothing travels but the
arguments. Each returns a small object that ``combine_*`` adds up in order.
"""

import os
from dataclasses import dataclass

import numpy as np

from rxgrid.kernels.glm import design_layout, glm_block_stats
from rxgrid.kernels.glm_cells import CellMoments, CellStats, combine_moments, glm_cell_moments, glm_cell_stats
from rxgrid.kernels.kmeans import kmeans_block_stats

from .dataset import get_info, read_block


@dataclass(frozen=True)
class GlmSpec:
    """Everything a worker needs to compute GLM statistics of a block."""

    response: str
    categorical: tuple[str, ...]
    n_levels: tuple[int, ...]
    drop_first: tuple[bool, ...]
    numeric: tuple[str, ...]
    intercept: bool
    family: str


@dataclass(frozen=True)
class GlmPartial:
    """IRLS statistics of some blocks; ``y_min``/``y_max`` only on the first pass."""

    xtwx: np.ndarray
    xtwz: np.ndarray
    deviance: float
    n_used: int
    n_skipped: int
    y_min: float = np.inf
    y_max: float = -np.inf
    sy: float = 0.0  # sums of y, of y log y (+ (1 - y) log(1 - y)) and of log(y!): see CellStats
    sylogy: float = 0.0
    slgamma: float = 0.0


@dataclass(frozen=True)
class KMeansPartial:
    """Per-cluster sums and counts of some blocks, and their sum of squares."""

    sums: np.ndarray
    counts: np.ndarray
    ss: float
    n_skipped: int


def _rows(columns: dict[str, np.ndarray], names: tuple[str, ...], dtype) -> np.ndarray | None:
    if not names:
        return None
    return np.stack([np.asarray(columns[name], dtype=dtype) for name in names])


def glm_partial(
    path: str | os.PathLike, blocks: list[int], spec: GlmSpec, beta: np.ndarray | None
) -> GlmPartial:
    """GLM statistics of ``blocks`` at ``beta`` (``None``: the first step, from ``y``)."""
    info = get_info(path)
    p = int(spec.intercept) + sum(k - d for k, d in zip(spec.n_levels, spec.drop_first, strict=True))
    p += len(spec.numeric)
    start = beta is None
    beta = np.zeros(p) if start else beta
    total = GlmPartial(np.zeros((p, p)), np.zeros(p), 0.0, 0, 0)
    names = (spec.response, *spec.categorical, *spec.numeric)
    for block in blocks:
        columns = read_block(path, block, names, info=info)
        y = np.asarray(columns[spec.response], dtype=np.float64)
        stats = glm_block_stats(
            y,
            _rows(columns, spec.categorical, np.int32),
            _rows(columns, spec.numeric, np.float64),
            beta,
            spec.family,
            spec.n_levels,
            intercept=spec.intercept,
            drop_first=spec.drop_first,
            start=start,
        )
        y_min, y_max = (np.nanmin(y), np.nanmax(y)) if start and stats.n_used else (np.inf, -np.inf)
        sums = _response_sums(y, columns, spec)
        total = combine_glm([total, GlmPartial(*stats, y_min=y_min, y_max=y_max, **sums)])
    return total


def _response_sums(y: np.ndarray, columns: dict, spec: GlmSpec) -> dict[str, float]:
    """Sums of the response over the rows the per-row kernel uses (no missing value)."""
    ok = ~np.isnan(y)
    for name in spec.numeric:
        ok &= ~np.isnan(np.asarray(columns[name], dtype=np.float64))
    for name in spec.categorical:
        ok &= np.asarray(columns[name]) >= 0
    from .dense import response_sums

    sums = response_sums(y[ok], None, spec.family)
    return dict(sy=sums.wy, sylogy=sums.ylogy, slgamma=sums.lgamma)


def combine_glm(parts: list[GlmPartial]) -> GlmPartial:
    """Add partial GLM statistics (in list order, so the sum is reproducible)."""
    return GlmPartial(
        sum(p.xtwx for p in parts[1:]) + parts[0].xtwx,
        sum(p.xtwz for p in parts[1:]) + parts[0].xtwz,
        float(sum(p.deviance for p in parts)),
        sum(p.n_used for p in parts),
        sum(p.n_skipped for p in parts),
        float(min(p.y_min for p in parts)),
        float(max(p.y_max for p in parts)),
        *(float(sum(getattr(p, f) for p in parts)) for f in ("sy", "sylogy", "slgamma")),
    )


def kmeans_partial(
    path: str | os.PathLike, blocks: list[int], columns: tuple[str, ...], centers: np.ndarray
) -> KMeansPartial:
    """Sums, counts and sum of squares of ``blocks`` for the given centers."""
    info = get_info(path)
    k, p = centers.shape
    total = KMeansPartial(np.zeros((k, p)), np.zeros(k, dtype=np.int64), 0.0, 0)
    for block in blocks:
        data = read_block(path, block, columns, info=info)
        X = np.column_stack([np.asarray(data[name], dtype=np.float64) for name in columns])
        total = combine_kmeans([total, KMeansPartial(*kmeans_block_stats(X, centers))])
    return total


# --- the cell path: per-cell sums instead of per-row outer products ---------------------

# Designs with more cells (level combinations) than this use the per-row kernel.
MAX_CELLS = 4096


def n_cells(spec: GlmSpec) -> int:
    """Number of level combinations of the categorical predictors (1 without any)."""
    return int(np.prod(spec.n_levels, dtype=np.int64)) if spec.categorical else 1


def uses_cells(spec: GlmSpec) -> bool:
    """Whether ``spec`` is fitted through the cell kernels (few enough cells)."""
    return n_cells(spec) <= MAX_CELLS


def cell_design(spec: GlmSpec) -> np.ndarray:
    """``(cells, p_cat)`` design rows of each cell: intercept and level columns."""
    cat_start, cat_skip, num_start, _ = design_layout(spec.n_levels, spec.intercept, spec.drop_first, 0)
    cells = n_cells(spec)
    design = np.zeros((cells, num_start))
    if spec.intercept:
        design[:, 0] = 1.0
    index = np.arange(cells)
    for v, codes in enumerate(np.unravel_index(index, spec.n_levels) if spec.categorical else ()):
        kept = codes >= cat_skip[v]
        design[index[kept], cat_start[v] + codes[kept] - cat_skip[v]] = 1.0
    return design


def _cells(columns: dict[str, np.ndarray], spec: GlmSpec) -> np.ndarray | None:
    """Cell index of each row (-1 when a code is missing); None without categoricals."""
    if not spec.categorical:
        return None
    if len(spec.categorical) == 1:
        return np.asarray(columns[spec.categorical[0]])
    codes = [np.asarray(columns[name]) for name in spec.categorical]
    cells = np.ravel_multi_index([np.maximum(c, 0) for c in codes], spec.n_levels).astype(np.int32)
    cells[np.logical_or.reduce([c < 0 for c in codes])] = -1
    return cells


def moments_partial(path: str | os.PathLike, blocks: list[int], spec: GlmSpec) -> CellMoments:
    """Per-cell moments of the response over ``blocks`` (designs without numeric terms)."""
    info = get_info(path)
    parts = []
    for block in blocks:
        columns = read_block(path, block, (spec.response, *spec.categorical), info=info)
        logs = spec.family != "gaussian"
        parts.append(glm_cell_moments(columns[spec.response], _cells(columns, spec), n_cells(spec), logs))
    return combine_moments(parts) if parts else glm_cell_moments(np.zeros(0), None, n_cells(spec))


def cell_stats_partial(
    path: str | os.PathLike, blocks: list[int], spec: GlmSpec, beta: np.ndarray | None
) -> CellStats:
    """One IRLS step's per-cell statistics of ``blocks`` at ``beta`` (None: the start)."""
    info = get_info(path)
    design = cell_design(spec)
    p_cat = design.shape[1]
    start = beta is None
    beta = np.zeros(p_cat + len(spec.numeric)) if start else np.asarray(beta, dtype=np.float64)
    beta_cell, beta_num = design @ beta[:p_cat], beta[p_cat:]
    parts = []
    for block in blocks:
        columns = read_block(path, block, (spec.response, *spec.categorical, *spec.numeric), info=info)
        numeric = tuple(columns[name] for name in spec.numeric)
        parts.append(glm_cell_stats(columns[spec.response], _cells(columns, spec), len(design), numeric,
                                    beta_cell, beta_num, spec.family, start))  # fmt: skip
    if not parts:  # no blocks: zeros of the right shapes
        cells, m = len(design), len(spec.numeric)
        zeros = (np.zeros(cells), np.zeros(cells), np.zeros((cells, m)), np.zeros((m, m)), np.zeros(m))
        return CellStats(*zeros, 0.0, 0, 0, np.inf, -np.inf)
    return combine_cell_stats(parts)


def combine_cell_stats(parts: list[CellStats]) -> CellStats:
    """Add per-cell statistics in list order."""
    first = parts[0]
    return CellStats(
        *(
            sum((getattr(p, f) for p in parts[1:]), getattr(first, f))
            for f in ("sw", "swz", "swx", "swxx", "swxz")
        ),
        float(sum(p.deviance for p in parts)),
        sum(p.n_used for p in parts),
        sum(p.n_skipped for p in parts),
        min(p.y_min for p in parts),
        max(p.y_max for p in parts),
        *(float(sum(getattr(p, f) for p in parts)) for f in ("sy", "sylogy", "slgamma")),
    )


def normal_equations(stats: CellStats, design: np.ndarray) -> GlmPartial:
    """``X'WX`` and ``X'Wz`` (as a `GlmPartial`) from per-cell statistics."""
    top = design.T @ (stats.sw[:, None] * design)
    cross = design.T @ stats.swx
    xtwx = np.block([[top, cross], [cross.T, stats.swxx]])
    xtwz = np.concatenate([design.T @ stats.swz, stats.swxz])
    return GlmPartial(xtwx, xtwz, stats.deviance, stats.n_used, stats.n_skipped, stats.y_min, stats.y_max,
                      stats.sy, stats.sylogy, stats.slgamma)  # fmt: skip


def combine_kmeans(parts: list[KMeansPartial]) -> KMeansPartial:
    """Add partial k-means statistics in list order."""
    return KMeansPartial(
        sum(p.sums for p in parts[1:]) + parts[0].sums,
        sum(p.counts for p in parts[1:]) + parts[0].counts,
        float(sum(p.ss for p in parts)),
        sum(p.n_skipped for p in parts),
    )
