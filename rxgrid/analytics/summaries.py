"""Descriptive statistics over big data: ``summary`` (rxSummary), ``crosstabs`` (rxCrossTabs)
and ``cube`` (rxCube), returned as pandas DataFrames.

Formulas: numeric columns on the left (``y``, ``y1 + y2``), factors on the right, crossed
with ``:``; a factor is a categorical column or ``F(x)``, the integer values (floor) of a
numeric column from its minimum to its maximum as levels (RevoScaleR's ``F()``).

Every one is one pass of the same map and combine step; the data never comes to the
caller, only per-cell statistics::

    driver (here)                                   map_blocks -> workers
    groups <- formula + get_info(path)
    parts <- map_blocks(cell_moments_partial, ...) --->  per block: cell of each row (level
                                                          combination of the factors), then per
    stats <- combine_moments(parts)   (Chan)       <---  cell n, missing, mean, M2, min, max
    DataFrame <- stats

Within a block, each cell's values are taken relative to a shift (one of the cell's own
values, so ``y - shift`` is exact for values within a factor of 2), then means come first
and squared deviations from them second; blocks combine with Chan, Golub and LeVeque's
pairwise update on the shifted means, so a spread of 2 around 1e9 keeps 15 digits
(unshifted means would be rounded to 1e9's spacing, 1.2e-7, and the between-block term
with them). Sums are ``n * mean``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .dataset import DatasetInfo, get_info, read_block
from .errors import ModelError
from .models import MapBlocks, block_ranges, map_sequential
from .sources import data_source

Group = tuple[str | None, tuple[str, ...]]  # (numeric column or None for counts, factors)
_COLUMN = r"`[^`]+`|[A-Za-z_.][\w.]*"
_NAME = rf"{_COLUMN}|F\(\s*(?:{_COLUMN})\s*\)"  # F(x): a numeric column as a factor, as RevoScaleR's
MAX_F_LEVELS = 100_000
STATISTICS = ("count", "missing", "mean", "std", "min", "max")


@dataclass(frozen=True)
class Moments:
    """Per-cell statistics of a numeric column (or row counts only, ``column=None``)."""

    n: np.ndarray
    missing: np.ndarray
    offset: np.ndarray  # mean - shift
    m2: np.ndarray
    low: np.ndarray
    high: np.ndarray
    shift: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        """Mean per cell (0 where a cell is empty)."""
        return self.shift + self.offset


def _empty(cells: int) -> Moments:
    zeros = np.zeros(cells)
    return Moments(np.zeros(cells, np.int64), np.zeros(cells, np.int64), zeros, zeros.copy(),
                   np.full(cells, np.inf), np.full(cells, -np.inf), zeros.copy())


def block_moments(y: np.ndarray | None, cells: np.ndarray, n_cells: int) -> Moments:
    """Moments of ``y`` in each cell (``cells``: cell of each row, -1 for none) of one block."""
    if y is None:
        n = np.bincount(cells[cells >= 0], minlength=n_cells).astype(np.int64)
        empty = _empty(n_cells)
        return Moments(n, empty.missing, empty.offset, empty.m2, empty.low, empty.high, empty.shift)
    y = np.asarray(y, dtype=np.float64)
    nan = np.isnan(y)
    ok = ~nan & (cells >= 0)
    c, v = cells[ok], y[ok]
    n = np.bincount(c, minlength=n_cells).astype(np.int64)
    shift = np.zeros(n_cells)
    shift[c] = v  # any one value of each cell will do
    d = v - shift[c]
    offset = np.divide(np.bincount(c, d, n_cells), n, out=np.zeros(n_cells), where=n > 0)
    m2 = np.bincount(c, (d - offset[c]) ** 2, n_cells)
    low, high = np.full(n_cells, np.inf), np.full(n_cells, -np.inf)
    if n_cells == 1:
        if len(v):
            low[0], high[0] = v.min(), v.max()
    else:
        np.minimum.at(low, c, v)
        np.maximum.at(high, c, v)
    missing = np.bincount(cells[nan & (cells >= 0)], minlength=n_cells).astype(np.int64)
    return Moments(n, missing, offset, m2, low, high, shift)


def combine_moments(parts: Sequence[Moments]) -> Moments:
    """Add per-cell moments in order (Chan et al.'s update for the mean and M2)."""
    total = parts[0]
    for part in parts[1:]:
        n = total.n + part.n
        safe = np.maximum(n, 1)
        shift = np.where(total.n > 0, total.shift, part.shift)  # keep a shift that is a value
        start = np.where(total.n > 0, total.offset, 0.0)
        delta = np.where(part.n > 0, (part.shift - shift) + part.offset - start, 0.0)  # of the means
        offset = np.where(n > 0, start + delta * part.n / safe, 0.0)
        m2 = total.m2 + part.m2 + delta**2 * total.n * part.n / safe
        total = Moments(n, total.missing + part.missing, offset, m2, np.minimum(total.low, part.low),
                        np.maximum(total.high, part.high), shift)
    return total


def _codes(columns: dict[str, np.ndarray], factor: str, numeric: dict[str, tuple[str, int]]) -> np.ndarray:
    if factor not in numeric:
        return np.asarray(columns[factor], dtype=np.int64)
    column, low = numeric[factor]
    x = np.floor(np.asarray(columns[column], dtype=np.float64)) - low
    return np.where(np.isnan(x), -1, x).astype(np.int64)


def _cells(columns: dict[str, np.ndarray], factors: tuple[str, ...], n_levels: tuple[int, ...],
           rows: int, numeric: dict[str, tuple[str, int]]) -> np.ndarray:
    if not factors:
        return np.zeros(rows, dtype=np.int64)
    codes = [_codes(columns, f, numeric) for f in factors]
    cells = np.ravel_multi_index([np.maximum(c, 0) for c in codes], n_levels)
    cells[np.logical_or.reduce([c < 0 for c in codes])] = -1
    return cells


def cell_moments_partial(path: str | os.PathLike, blocks: list[int], groups: tuple[Group, ...],
                         n_levels: dict[str, int], numeric: dict[str, tuple[str, int]]) -> list[Moments]:
    """Per-cell moments of each group over ``blocks`` (the map step of every summary).

    ``numeric`` maps each ``F(x)`` factor to its column and lowest integer value.
    """
    info = get_info(path)
    columns_of = [((y,) if y else ()) + tuple(numeric[f][0] if f in numeric else f for f in fs)
                  for y, fs in groups]
    wanted = list(dict.fromkeys(n for names in columns_of for n in names))
    sizes = [(tuple(n_levels[f] for f in fs), int(np.prod([n_levels[f] for f in fs], dtype=np.int64)))
             for _, fs in groups]
    totals = [[_empty(cells)] for _, cells in sizes]
    for block in blocks:
        columns = read_block(path, block, wanted, info=info)
        rows = info.block_rows[block]
        for (y, factors), (shape, cells), parts in zip(groups, sizes, totals, strict=True):
            index = _cells(columns, factors, shape, rows, numeric)
            parts.append(block_moments(None if y is None else columns[y], index, cells))
    return [combine_moments(parts) for parts in totals]


# --- formulas ---------------------------------------------------------------------------


def _names(text: str, where: str) -> list[str]:
    text = text.strip()
    if not text:
        return []
    names = [n.strip() for n in text.split("+")]
    for name in names:
        if not re.fullmatch(_NAME, name) and name != ".":
            raise ModelError(f"cannot read {name!r} in the {where} (column names joined by '+'; "
                             "factors crossed with ':')")
    return [n.strip("`") for n in names]


def parse_summary_formula(formula: str, info: DatasetInfo) -> tuple[list[str], list[tuple[str, ...]]]:
    """``"y1 + y2 ~ a:b + c"`` -> (``["y1", "y2"]``, ``[("a", "b"), ("c",)]``); ``.`` is every column."""
    if not isinstance(formula, str) or formula.count("~") != 1:
        raise ModelError(f"a formula needs exactly one '~', got {formula!r}")
    lhs, rhs = formula.split("~")
    ys = _names(lhs, "left-hand side")
    terms = [tuple(_names(t.replace(":", "+"), "right-hand side")) for t in rhs.split("+") if t.strip()]
    if ("." ,) in terms:
        used = set(ys) | {n for t in terms for n in t}
        terms = [t for t in terms if t != (".",)] + [(n,) for n in info.names if n not in used]
    for name in ys + [n for t in terms for n in t]:
        info.variable(_column_of(name))  # DatasetError naming the columns if unknown
    return ys, terms


def _column_of(name: str) -> str:
    """The column of a factor: ``x`` for ``F(x)``, else the name itself."""
    found = re.fullmatch(r"F\(\s*(.+?)\s*\)", name)
    return found.group(1).strip("`") if found else name


def _is_factor(info: DatasetInfo, name: str) -> bool:
    return _column_of(name) != name or info.variable(name).type == "category"


def _categorical(info: DatasetInfo, name: str) -> None:
    if _column_of(name) != name:
        return _numeric(info, _column_of(name))
    if info.variable(name).type != "category":
        raise ModelError(f"{name!r} is numeric; a factor must be a categorical column or F({name}) "
                         "(its integer values as levels)")


def _numeric(info: DatasetInfo, name: str) -> None:
    if info.variable(name).type == "category":
        raise ModelError(f"{name!r} is categorical; statistics need a numeric column")


def _factor_levels(path, info, factors, map_blocks, tasks) -> tuple[dict, dict]:
    """Levels of each factor, and each ``F(x)``'s (column, lowest integer): a pass for its range."""
    from .quantiles import range_partial
    levels = {f: info.variable(f).levels for f in factors if _column_of(f) == f}
    numeric = {}
    for f in factors:
        if f in levels:
            continue
        parts = map_blocks(range_partial, [(path, b, _column_of(f)) for b in tasks]) if tasks else []
        if not sum(p[0] for p in parts):
            levels[f], numeric[f] = (), (_column_of(f), 0)
            continue
        low, high = (math.floor(min(p[1] for p in parts)), math.floor(max(p[2] for p in parts)))
        if high - low >= MAX_F_LEVELS:
            raise ModelError(f"{f} would have {high - low + 1} levels (from {low} to {high}); "
                             f"at most {MAX_F_LEVELS}")
        levels[f], numeric[f] = tuple(str(v) for v in range(low, high + 1)), (_column_of(f), low)
    return levels, numeric


def _run(path: str, groups: list[Group], info: DatasetInfo, map_blocks: MapBlocks,
         blocks_per_read: int) -> tuple[list[Moments], dict[str, tuple[str, ...]]]:
    """One pass: each group's per-cell moments, and the levels of the factors."""
    tasks = block_ranges(info.blocks, blocks_per_read)
    factors = list(dict.fromkeys(f for _, fs in groups for f in fs))
    levels, numeric = _factor_levels(path, info, factors, map_blocks, tasks)
    n_levels = {f: len(v) for f, v in levels.items()}
    if not tasks or 0 in n_levels.values():
        return [_empty(int(np.prod([n_levels[f] for f in fs], dtype=np.int64))) for _, fs in groups], levels
    parts = map_blocks(cell_moments_partial,
                       [(path, blocks, tuple(groups), n_levels, numeric) for blocks in tasks])
    return [combine_moments([p[g] for p in parts]) for g in range(len(groups))], levels


def _statistics(m: Moments):
    import pandas as pd

    def where(values):
        return np.where(m.n > 0, values, np.nan)

    std = np.where(m.n > 1, np.sqrt(m.m2 / np.maximum(m.n - 1, 1)), np.nan)
    return pd.DataFrame({"count": m.n, "missing": m.missing, "mean": where(m.mean), "std": std,
                         "min": where(m.low), "max": where(m.high)})


def _cell_index(levels_of: dict[str, tuple[str, ...]], factors: tuple[str, ...]):
    import pandas as pd
    levels = [pd.CategoricalIndex(levels_of[f], categories=levels_of[f], name=f) for f in factors]
    if len(levels) == 1:
        return levels[0]
    return pd.MultiIndex.from_product(levels, names=list(factors))


# --- the summaries ----------------------------------------------------------------------


def summary(formula: str, data, *, map_blocks: MapBlocks = map_sequential, blocks_per_read: int = 1):
    """Summary statistics (RevoScaleR's ``rxSummary``) as a pandas DataFrame.

    ``"~ x + y + g"`` (``"~ ."``: every column): one row per column with ``count``
    (non-missing), ``missing``, ``mean``, ``std`` (n - 1), ``min``, ``max``; a categorical's
    row has its counts only, and its level counts are in ``result.attrs["levels"][name]``
    (a Series). ``"y ~ g"`` or ``"y1 + y2 ~ g:h"``: the same statistics of each ``y`` in
    each cell of the factors, indexed by (``Name``, factor levels...); rows whose factors
    are missing are left out.
    """
    import pandas as pd
    with data_source(data, in_process=map_blocks is map_sequential) as path:
        info = get_info(path)
        ys, terms = parse_summary_formula(formula, info)
        if ys:
            return _grouped_summary(path, info, ys, terms, map_blocks, blocks_per_read)
        if any(len(t) > 1 for t in terms):
            raise ModelError(f"{formula!r}: give statistics by group as 'y ~ g' (or 'y ~ g:h')")
        names = [t[0] for t in terms]
        groups = [(None, (n,)) if _is_factor(info, n) else (n, ()) for n in names]
        stats, levels_of = _run(path, groups, info, map_blocks, blocks_per_read)
    rows, levels = [], {}
    for name, (y, _), m in zip(names, groups, stats, strict=True):
        if y is not None:
            rows.append(_statistics(m).iloc[0])
            continue
        levels[name] = pd.Series(m.n, index=_cell_index(levels_of, (name,)), name="count")
        counted = int(m.n.sum())
        rows.append(pd.Series({"count": counted, "missing": info.rows - counted}))
    frame = pd.DataFrame(rows, index=pd.Index(names, name="Name"), columns=list(STATISTICS))
    frame[["count", "missing"]] = frame[["count", "missing"]].astype(np.int64)
    frame.attrs["levels"] = levels
    return frame


def _grouped_summary(path, info, ys, terms, map_blocks, blocks_per_read):
    import pandas as pd
    if len(terms) != 1:
        raise ModelError("statistics by group take one term of factors on the right: 'y ~ g' or 'y ~ g:h'")
    factors = terms[0]
    for y in ys:
        _numeric(info, y)
    for f in factors:
        _categorical(info, f)
    stats, levels_of = _run(path, [(y, factors) for y in ys], info, map_blocks, blocks_per_read)
    index = _cell_index(levels_of, factors)
    frames = [_statistics(m).set_index(index) for m in stats]
    return pd.concat(frames, keys=ys, names=["Name"])


def _cross_groups(formula, info) -> tuple[str | None, tuple[str, ...]]:
    ys, terms = parse_summary_formula(formula, info)
    factors = tuple(f for t in terms for f in t)
    if len(ys) > 1 or not factors:
        raise ModelError(f"{formula!r}: give at most one response and one or more factors ('y ~ a:b')")
    for f in factors:
        _categorical(info, f)
    if ys:
        _numeric(info, ys[0])
    return (ys[0] if ys else None), factors


def cube(formula: str, data, *, remove_zero_counts: bool = False, map_blocks: MapBlocks = map_sequential,
         blocks_per_read: int = 1):
    """Cell means and counts (RevoScaleR's ``rxCube``): one row per level combination.

    ``"y ~ a:b"`` gives columns ``a``, ``b`` (categoricals), ``y`` (the mean of ``y`` in
    the cell, NaN when empty) and ``Counts``; ``"~ a:b"`` gives the counts only.
    """
    with data_source(data, in_process=map_blocks is map_sequential) as path:
        info = get_info(path)
        y, factors = _cross_groups(formula, info)
        (m,), levels_of = _run(path, [(y, factors)], info, map_blocks, blocks_per_read)
    index = _cell_index(levels_of, factors)
    frame = index.to_frame(index=False) if len(factors) > 1 else index.to_frame(index=False, name=factors[0])
    if y is not None:
        frame[y] = np.where(m.n > 0, m.mean, np.nan)
    frame["Counts"] = m.n
    return frame[frame["Counts"] > 0].reset_index(drop=True) if remove_zero_counts else frame


def crosstabs(formula: str, data, *, values: str | None = None, map_blocks: MapBlocks = map_sequential,
              blocks_per_read: int = 1):
    """Contingency tables (RevoScaleR's ``rxCrossTabs``), shaped as ``pandas.crosstab``'s.

    ``"~ a:b"`` counts rows by ``a`` (rows) and ``b`` (columns); more factors make the
    row index a MultiIndex, the last factor giving the columns. ``"y ~ a:b"`` gives the
    sums of ``y`` per cell (RevoScaleR's default), ``values="means"`` its means and
    ``values="counts"`` the counts of rows where ``y`` is present. With two or more
    factors, ``result.attrs["chi_squared"]`` holds Pearson's test of independence of the
    row cells and the columns over the counts (``statistic``, ``df``, ``p_value``; no
    continuity correction; empty rows and columns left out).
    """
    with data_source(data, in_process=map_blocks is map_sequential) as path:
        info = get_info(path)
        y, factors = _cross_groups(formula, info)
        values = values or ("sums" if y else "counts")
        if values not in ("counts", "sums", "means") or (y is None and values != "counts"):
            raise ModelError(f"values must be 'counts', or with a response 'sums' or 'means'; got {values!r}")
        (m,), levels_of = _run(path, [(y, factors)], info, map_blocks, blocks_per_read)
    cells = {"counts": m.n, "sums": m.n * m.mean, "means": np.where(m.n > 0, m.mean, np.nan)}[values]
    table = _wide(cells, levels_of, factors, y or "count")
    if len(factors) > 1:
        table.attrs["chi_squared"] = chi_squared(_wide(m.n, levels_of, factors, "count").to_numpy())
    return table


def _wide(cells: np.ndarray, levels_of: dict, factors: tuple[str, ...], name: str):
    import pandas as pd
    index = _cell_index(levels_of, factors)
    series = pd.Series(cells, index=index)
    if len(factors) == 1:
        return series.to_frame(name)
    table = series.unstack(factors[-1], sort=False)
    table.columns = pd.CategoricalIndex(table.columns, categories=levels_of[factors[-1]], name=factors[-1])
    return table


def chi_squared(counts: np.ndarray) -> dict[str, float]:
    """Pearson's chi-squared test of independence of a two-way table of counts."""
    table = np.asarray(counts, dtype=np.float64)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    total = table.sum()
    if total == 0 or min(table.shape) < 2:
        return {"statistic": float("nan"), "df": 0, "p_value": float("nan")}
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / total
    statistic = float(((table - expected) ** 2 / expected).sum())
    df = (table.shape[0] - 1) * (table.shape[1] - 1)
    try:
        from scipy import stats
        p_value = float(stats.chi2.sf(statistic, df))
    except ImportError:
        p_value = float("nan")
    return {"statistic": statistic, "df": df, "p_value": p_value}
