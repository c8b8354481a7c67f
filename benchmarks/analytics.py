"""Seed 000's analytics (issues 3 and 7): ``lin_mod`` and ``logit`` over on-disk data sets.

``lin_mod``   ``lin_mod("ArrDelay ~ DayOfWeek", cube=True)`` on 120 million rows (the seed's
              data size), end to end through the cluster, in GB/s of column bytes read, beside
              a large ``numpy.sum`` in the same run (this machine's memory bandwidth, one core)
``logit``     ``logit("Late ~ DayOfWeek + CRSDepTime + Distance")`` on 100 million rows, in
              rows/s
``logit-1b``  ``logit("Late ~ DayOfWeek")`` on 1 billion rows, against the seed's quoted time
              on its five-node cluster ("less than a minute": 60 s is the reference row)
``logit-sklearn``  the 3-covariate logit on the first 10 million rows (a data set of its own,
              the same numbers), by rxgrid and by scikit-learn's ``LogisticRegression`` (no
              penalty, the newton-cholesky solver: its fastest here) in this process with
              all cores, in rows/s; the coefficients must agree within a relative 1e-5

Data sets are made once with ``rxgrid.analytics.make_airline`` (blocks drawn in parallel,
``processes=``, the same numbers as one process) and kept in ``$RXGRID_BENCH_DATA`` (default
``benchmarks/.data``) for later runs; making them is not timed. Each system runs one untimed
fit first, so the columns are in the page cache and the kernels loaded. rxgrid runs the
fits through its own ``cluster.lin_mod``/``cluster.logit``, whose steps are jobs of one
task per block in rxgrid's automatic (guided) chunks; Ray and Dask run the same fit (the same
``rxgrid.analytics`` driver and block functions) with each step's block tasks batched in
chunks of the same sizes (``System.map_batched``), so every system ships the same
granularity. ``in-process`` runs the block functions one after another here (one core).
Every fit's coefficients are checked against every other's (relative 1e-9: the same
partial sums, combined in the same order).

Repetitions are interleaved across systems. The page cache is filled once before the
rounds (every column file read); each system's turn starts with an untimed fit of a small
data set of the same columns (loads the kernels in its workers), then one timed fit.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

import numpy as np

from . import systems
from .common import Config, Recorder, guarded, in_turn_process, interleave, timed
from .fair import Check

GROUP = "analytics"
WORKLOADS = ("lin_mod", "logit", "logit-1b", "logit-sklearn")
REFERENCES = {"logit-1b": "seed000-5-nodes"}
COEF_REL_TOL = 1e-9  # the same partial sums in the same order: equal but for the last bits
SKLEARN_REL_TOL = 1e-5  # IRLS and newton-cholesky both stopped at a relative 1e-8
SYSTEMS = ("in-process", "rxgrid", "rxgrid-1w", "ray", "dask")
SEED = 2026
SEED000_SECONDS = 60.0  # seed 000: "even with one billion observations ... less than a minute"
DATA = os.environ.get("RXGRID_BENCH_DATA",
                      os.path.join(os.path.dirname(os.path.abspath(__file__)), ".data"))
log = logging.getLogger("benchmarks.analytics")


@dataclass
class Sizes:
    lin_mod_rows: int
    logit_rows: int
    billion_rows: int
    sklearn_rows: int


FULL = Sizes(120_000_000, 100_000_000, 1_000_000_000, 10_000_000)
QUICK = Sizes(12_000_000, 10_000_000, 100_000_000, 2_000_000)
SMOKE = Sizes(2_000_000, 2_000_000, 4_000_000, 1_000_000)
WARM_ROWS = 1_000_000  # the untimed fit of each turn

FORMULAS = {
    "lin_mod": ("ArrDelay ~ DayOfWeek", "gaussian", {"cube": True}, ("DayOfWeek", "ArrDelay")),
    "logit": ("Late ~ DayOfWeek + CRSDepTime + Distance", "binomial", {},
              ("DayOfWeek", "Late", "CRSDepTime", "Distance")),
    "logit-1b": ("Late ~ DayOfWeek", "binomial", {}, ("DayOfWeek", "Late")),
}  # fmt: skip
FORMULAS["logit-sklearn"] = FORMULAS["logit"]


def run(cfg: Config, rec: Recorder, only: set[str]) -> None:
    sizes = cfg.size(FULL, QUICK, SMOKE)
    rows = {"lin_mod": sizes.lin_mod_rows, "logit": sizes.logit_rows,
            "logit-1b": sizes.billion_rows, "logit-sklearn": sizes.sklearn_rows}
    chosen = [w for w in WORKLOADS if w in only]
    paths, warm = {}, {}
    for workload in chosen:
        with guarded(rec, GROUP, "data", workload):
            paths[workload] = dataset(rows[workload], FORMULAS[workload][3])
            warm[workload] = dataset(WARM_ROWS, FORMULAS[workload][3])
            fill_page_cache(paths[workload])
    chosen = [w for w in chosen if w in paths]
    if "lin_mod" in chosen:
        with guarded(rec, GROUP, "numpy.sum", "lin_mod"):
            in_turn_process(cfg, rec, lambda: memory_bandwidth(cfg, rec), "numpy.sum")
    if "logit-sklearn" in chosen:
        with guarded(rec, GROUP, "sklearn-newton-cholesky", "logit-sklearn"):
            in_turn_process(cfg, rec, lambda: sklearn_same_rows(cfg, rec, paths["logit-sklearn"]),
                            "scikit-learn")
    if "logit-1b" in chosen:
        rec.add(GROUP, "logit-1b", "wall", "s", "lower", "seed000-5-nodes", SEED000_SECONDS,
                rows=rows["logit-1b"], note="quoted by seed 000, not measured")  # fmt: skip
    names = tuple(s for s in SYSTEMS if s.split("-")[0] in cfg.systems or s == "in-process")

    def measure(system, workload: str, rnd: int) -> None:
        if workload == "logit-sklearn" and system.name != "rxgrid":
            return
        if workload == "logit-1b" and not system.name.startswith("rxgrid"):
            return  # 1 billion rows one core at a time, or on the peers, is left out: time
        _fit(system, workload, warm[workload])  # untimed: kernels and first calls
        one_fit(system, workload, paths[workload], rows[workload], rec, rnd)
    interleave(GROUP, cfg, rec, chosen, measure, names,
               make=lambda name: systems.make(name, warm=False))


# --- data ----------------------------------------------------------------------------


def dataset(rows: int, columns: tuple[str, ...], block_rows: int = 500_000) -> str:
    """The airline data set of ``rows`` rows and ``columns``, made if not on disk yet."""
    from rxgrid.analytics import get_info, make_airline
    from rxgrid.analytics.dataset import DatasetError

    path = os.path.join(DATA, f"airline-{rows}-{'-'.join(columns)}")
    try:
        if get_info(path).rows == rows:
            return path
    except DatasetError:
        pass
    log.info("making %s (%d rows, once; kept for later runs)", path, rows)
    started = time.perf_counter()
    os.makedirs(DATA, exist_ok=True)
    make_airline(path, rows, SEED, block_rows, overwrite=True, columns=columns,
                 processes=os.cpu_count() or 1)  # fmt: skip
    log.info("made %s in %.0f s", path, time.perf_counter() - started)
    return path


def fill_page_cache(path: str) -> None:
    """Read every file of the data set once, so no system's turn pays the disk."""
    for root, _, files in os.walk(path):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                while f.read(1 << 24):
                    pass


def column_bytes(path: str, columns: tuple[str, ...]) -> int:
    """Bytes of the given columns' data over all blocks (what a fit has to read)."""
    from rxgrid.analytics import get_info, read_block

    info = get_info(path)
    sample = read_block(path, 0, columns, info=info)
    return sum(sample[c].dtype.itemsize for c in columns) * info.rows


# --- measurements ----------------------------------------------------------------------


def memory_bandwidth(cfg: Config, rec: Recorder) -> None:
    """``numpy.sum`` over 2 GiB of float64, one core: this machine's read bandwidth."""
    a = np.ones(1 << 28)
    a.sum()
    for _ in range(cfg.reps):
        seconds, _ = timed(a.sum)
        rec.add(GROUP, "lin_mod", "GB/s", "GB/s", "higher", "numpy.sum", a.nbytes / seconds / 1e9,
                note="numpy.sum of 2 GiB float64, one core")  # fmt: skip
    del a


def _fit(system, workload: str, path: str):
    formula, family, options, _ = FORMULAS[workload]
    if system.name.startswith("rxgrid"):
        return system.cluster.glm(formula, data=path, family=family, **options)
    from rxgrid.analytics import glm

    return glm(formula, path, family, map_blocks=system.map_batched, **options)


def coefficients_check(fit, rel_tol: float = COEF_REL_TOL) -> Check:
    """The fit's coefficients (intercept first), within ``rel_tol``; rows used, exactly."""
    values = tuple(float(v) for v in fit.params)
    return Check(f"{fit.n_used:,} rows; Friday {fit.coefficients['DayOfWeek=Friday']:.6g}",
                 f"{fit.n_used} rows {','.join(fit.names)}", values, rel_tol)


def one_fit(system, workload: str, path: str, rows: int, rec: Recorder, rnd: int) -> None:
    """One timed fit."""
    seconds, fit = timed(_fit, system, workload, path)
    nbytes = column_bytes(path, FORMULAS[workload][3])
    tol = SKLEARN_REL_TOL if workload == "logit-sklearn" else COEF_REL_TOL
    check, params = coefficients_check(fit, tol), dict(rows=rows, iterations=fit.iterations)
    rec.add(GROUP, workload, "wall", "s", "lower", system.name, seconds, check, **params)
    if workload == "lin_mod":
        rec.add(GROUP, workload, "GB/s", "GB/s", "higher", system.name, nbytes / seconds / 1e9, check,
                **params)  # fmt: skip
    else:
        rec.add(GROUP, workload, "rows/s", "rows/s", "higher", system.name, rows / seconds, check,
                **params)  # fmt: skip
    log.info("[%s] %s round %d: %.3f s (%.1f M rows/s, %.2f GB/s; %s)", workload, system.name, rnd + 1,
             seconds, rows / seconds / 1e6, nbytes / seconds / 1e9, check.text)  # fmt: skip


def _logit_design(path: str, n: int):
    """scikit-learn's X and y for the 3-covariate logit on the first ``n`` rows."""
    from rxgrid.analytics import get_info, read_block

    info = get_info(path)
    parts = [read_block(path, b, info=info, mmap=False) for b in range(-(-n // info.block_rows[0]))]
    columns = {k: np.concatenate([p[k] for p in parts])[:n] for k in parts[0]}
    keep = ~np.isnan(columns["Late"])
    day = columns["DayOfWeek"][keep]
    X = np.column_stack([(day == k).astype(float) for k in range(1, 7)]
                        + [columns["CRSDepTime"][keep], columns["Distance"][keep]])  # fmt: skip
    return X, columns["Late"][keep].astype(np.float64)


def sklearn_same_rows(cfg: Config, rec: Recorder, path: str) -> None:
    """scikit-learn's newton-cholesky on every row of the data set rxgrid fits."""
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        raise systems.NotInstalled("scikit-learn") from None
    from rxgrid.analytics import get_info

    n = get_info(path).rows
    X, y = _logit_design(path, n)
    model = LogisticRegression(C=np.inf, solver="newton-cholesky", max_iter=10_000, tol=1e-8)
    for rnd in range(cfg.reps):
        seconds, _ = timed(model.fit, X, y)
        values = (float(model.intercept_[0]), *(float(c) for c in model.coef_[0]))
        names = "(Intercept)," + ",".join(f"DayOfWeek={d}" for d in DAYS[1:]) + ",CRSDepTime,Distance"
        check = Check(f"{len(y):,} rows; Friday {values[4]:.6g}", f"{len(y)} rows {names}", values,
                      SKLEARN_REL_TOL)
        rec.add(GROUP, "logit-sklearn", "rows/s", "rows/s", "higher", "sklearn-newton-cholesky", n / seconds,
                check, rows=n, iterations=int(model.n_iter_[0]))  # fmt: skip
        log.info("[logit-sklearn] sklearn round %d: %.2f s (%.2f M rows/s; %s)", rnd + 1, seconds,
                 n / seconds / 1e6, check.text)  # fmt: skip


DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
