"""The map step of the analytics: statistics of a few blocks of a data set.

These are plain module-level functions of picklable arguments (data set
path, block indices, a frozen spec, current coefficients or centers), so a
cluster can run them as tasks by reference: nothing travels but the
arguments. Each returns a small object that ``combine_*`` adds up in order.
"""

import os
from dataclasses import dataclass

import numpy as np

from rxgrid.kernels.glm import glm_block_stats
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
        total = combine_glm([total, GlmPartial(*stats, y_min=y_min, y_max=y_max)])
    return total


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


def combine_kmeans(parts: list[KMeansPartial]) -> KMeansPartial:
    """Add partial k-means statistics in list order."""
    return KMeansPartial(
        sum(p.sums for p in parts[1:]) + parts[0].sums,
        sum(p.counts for p in parts[1:]) + parts[0].counts,
        float(sum(p.ss for p in parts)),
        sum(p.n_skipped for p in parts),
    )
