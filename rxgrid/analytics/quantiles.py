"""Quantiles over big data (RevoScaleR's ``rxQuantile``): exact, or binned with an error bound.

Neither way brings the column to the caller. Both start with one pass of counts, minima
and maxima, then count values in bins::

    binned:  one histogram of ``bins`` equal bins over [min, max]; each quantile is
             interpolated in its bin(s), and the true value is within the bins that hold
             its two order statistics: ``error_bound`` is their span
             (at most 2 (max - min) / bins).
    exact:   the histogram is refined where the wanted order statistics fall: each pass
             splits only the bins that hold them into ``bins`` more, until such a bin
             holds at most ``gather`` values; a last pass returns those few values (as
             distinct values and counts) and the order statistics are read off them.
             About 4 passes for a billion rows; ``error_bound`` is 0.

Quantiles follow ``numpy.quantile``'s default (linear interpolation between the order
statistics at ``(n - 1) p``; R's type 7). Missing values (NaN) are left out.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np

from .dataset import get_info, read_block
from .errors import ModelError
from .models import MapBlocks, block_ranges, map_sequential
from .sources import data_source

DEFAULT_PROBS = (0.0, 0.25, 0.5, 0.75, 1.0)
Interval = tuple[float, float, bool]  # [low, high) or [low, high] when the flag is True


def _values(path, blocks, column, info):
    for block in blocks:
        y = np.asarray(read_block(path, block, [column], info=info)[column], dtype=np.float64)
        yield y[~np.isnan(y)]


def range_partial(path: str | os.PathLike, blocks: list[int], column: str) -> tuple[int, float, float]:
    """(count of non-missing values, min, max) of ``column`` over ``blocks``."""
    info = get_info(path)
    n, low, high = 0, math.inf, -math.inf
    for y in _values(path, blocks, column, info):
        if len(y):
            n, low, high = n + len(y), min(low, float(y.min())), max(high, float(y.max()))
    return n, low, high


def _edges(interval: Interval, bins: int) -> np.ndarray:
    low, high, _ = interval
    return np.linspace(low, high, bins + 1)


def _bin_of(y: np.ndarray, interval: Interval, bins: int) -> np.ndarray:
    """Bin of each value inside ``interval`` (-1 outside)."""
    low, high, closed = interval
    inside = (y >= low) & ((y <= high) if closed else (y < high))
    found = np.searchsorted(_edges(interval, bins), y, side="right") - 1
    return np.where(inside, np.minimum(found, bins - 1), -1)


def histogram_partial(path: str | os.PathLike, blocks: list[int], column: str,
                      intervals: list[Interval], bins: int) -> np.ndarray:
    """Counts of ``column`` in ``bins`` equal bins of each interval: shape (intervals, bins)."""
    info = get_info(path)
    counts = np.zeros((len(intervals), bins), dtype=np.int64)
    for y in _values(path, blocks, column, info):
        for i, interval in enumerate(intervals):
            b = _bin_of(y, interval, bins)
            counts[i] += np.bincount(b[b >= 0], minlength=bins)
    return counts


def values_partial(path: str | os.PathLike, blocks: list[int], column: str,
                   intervals: list[Interval]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Distinct values of ``column`` in each interval with their counts."""
    info = get_info(path)
    found: list[list[np.ndarray]] = [[] for _ in intervals]
    for y in _values(path, blocks, column, info):
        for i, (low, high, closed) in enumerate(intervals):
            found[i].append(y[(y >= low) & ((y <= high) if closed else (y < high))])
    return [np.unique(np.concatenate(f) if f else np.empty(0), return_counts=True) for f in found]


def _ranks(n: int, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h = (n - 1) * probs
    below = np.floor(h).astype(np.int64)
    return below, np.minimum(below + 1, n - 1), h - below


def _locate(counts: np.ndarray, before: int, rank: int) -> tuple[int, int]:
    """The bin holding order statistic ``rank`` (0-based) and the count before that bin."""
    cumulative = before + np.cumsum(counts)
    b = int(np.searchsorted(cumulative, rank, side="right"))
    return b, int(cumulative[b] - counts[b])


def _sub(interval: Interval, b: int, bins: int) -> Interval:
    edges = _edges(interval, bins)
    last = b == bins - 1
    return float(edges[b]), float(interval[1] if last else edges[b + 1]), interval[2] and last


def quantile(column: str, data, probs: Sequence[float] = DEFAULT_PROBS, *, exact: bool = True,
             bins: int = 4096, gather: int = 65_536, map_blocks: MapBlocks = map_sequential,
             blocks_per_read: int = 1):
    """Quantiles of a numeric ``column`` (RevoScaleR's ``rxQuantile``) as a pandas DataFrame.

    Indexed by ``prob``, with columns ``column`` (the quantile) and ``error_bound`` (0 when
    ``exact``; see the module docstring for the binned bound). ``bins``: bins per
    histogram pass; ``gather``: most values returned per wanted order statistic.
    """
    import pandas as pd
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 1 or ((probs < 0) | (probs > 1)).any() or np.isnan(probs).any():
        raise ModelError(f"probs must be numbers in [0, 1], got {probs.tolist()}")
    with data_source(data, in_process=map_blocks is map_sequential) as path:
        info = get_info(path)
        if info.variable(column).type == "category":
            raise ModelError(f"{column!r} is categorical; quantiles need a numeric column")
        tasks = block_ranges(info.blocks, blocks_per_read)
        parts = map_blocks(range_partial, [(path, b, column) for b in tasks])
        n = sum(p[0] for p in parts)
        if n == 0:
            values, bounds = np.full(len(probs), np.nan), np.full(len(probs), np.nan)
        else:
            whole = (min(p[1] for p in parts), max(p[2] for p in parts), True)
            run = _Passes(path, column, tasks, map_blocks, bins)
            find = run.exact if exact else run.binned
            values, bounds = find(whole, n, probs, gather)
    return pd.DataFrame({column: values, "error_bound": bounds}, index=pd.Index(probs, name="prob"))


class _Passes:
    """The histogram passes of one ``quantile`` call."""

    def __init__(self, path, column, tasks, map_blocks, bins):
        self.path, self.column, self.tasks, self.map, self.bins = path, column, tasks, map_blocks, bins

    def histograms(self, intervals: list[Interval]) -> np.ndarray:
        parts = self.map(histogram_partial, [(self.path, b, self.column, intervals, self.bins)
                                             for b in self.tasks])
        return sum(parts[1:], parts[0])

    def binned(self, whole: Interval, n: int, probs: np.ndarray, gather: int):
        counts = self.histograms([whole])[0]
        edges = _edges(whole, self.bins)
        lo_rank, hi_rank, frac = _ranks(n, probs)
        values, bounds = [], []
        for a, b, f in zip(lo_rank, hi_rank, frac, strict=True):
            (ba, ca), (bb, cb) = _locate(counts, 0, a), _locate(counts, 0, b)
            xa = edges[ba] + (edges[ba + 1] - edges[ba]) * (a - ca + 0.5) / counts[ba]
            xb = edges[bb] + (edges[bb + 1] - edges[bb]) * (b - cb + 0.5) / counts[bb]
            values.append(min(max(xa + f * (xb - xa), whole[0]), whole[1]))
            bounds.append(float(edges[bb + 1] - edges[ba]))
        return np.array(values), np.array(bounds)

    def exact(self, whole: Interval, n: int, probs: np.ndarray, gather: int):
        lo_rank, hi_rank, frac = _ranks(n, probs)
        wanted = sorted(set(lo_rank.tolist()) | set(hi_rank.tolist()))
        where: dict[int, tuple[Interval, int, int]] = {r: (whole, 0, n) for r in wanted}
        for _ in range(64):  # each pass divides a wide bin by `bins`; floats run out first
            wide = sorted({w[0] for w in where.values() if w[2] > gather and w[0][0] < w[0][1]})
            if not wide:
                break
            counts = dict(zip(wide, self.histograms(wide), strict=True))
            for rank, (interval, before, _) in list(where.items()):
                if interval in counts:
                    b, below = _locate(counts[interval], before, rank)
                    sub = _sub(interval, b, self.bins)  # the same again: floats cannot split it
                    where[rank] = (sub, below, 0 if sub == interval else int(counts[interval][b]))
        intervals = sorted({w[0] for w in where.values()})
        parts = self.map(values_partial, [(self.path, b, self.column, intervals) for b in self.tasks])
        order = {}
        for i, interval in enumerate(intervals):
            distinct = np.unique(np.concatenate([p[i][0] for p in parts]))
            counts = np.zeros(len(distinct), dtype=np.int64)
            for p in parts:
                counts[np.searchsorted(distinct, p[i][0])] += p[i][1]
            order[interval] = (distinct, np.cumsum(counts))
        stat = {}
        for rank, (interval, before, _) in where.items():
            distinct, cumulative = order[interval]
            stat[rank] = float(distinct[np.searchsorted(before + cumulative, rank, side="right")])
        values = [stat[a] + f * (stat[b] - stat[a]) for a, b, f in zip(lo_rank, hi_rank, frac, strict=True)]
        return np.array(values), np.zeros(len(probs))
