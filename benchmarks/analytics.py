"""Seed 000's analytics (issues 3 and 7): ``lin_mod`` and ``logit`` over on-disk data sets.

``lin_mod``   ``lin_mod("ArrDelay ~ DayOfWeek", cube=True)`` on 120 million rows (the seed's
              data size), end to end through the cluster, in GB/s of column bytes read, beside
              a large ``numpy.sum`` in the same run (this machine's memory bandwidth, one core)
``logit``     ``logit("Late ~ DayOfWeek + CRSDepTime + Distance")`` on 100 million rows, in
              rows/s, beside scikit-learn's ``LogisticRegression`` (no penalty; the
              newton-cholesky solver, its fastest here, and the default lbfgs) fitting the
              first rows of the same data in this process with all cores
``logit-1b``  ``logit("Late ~ DayOfWeek")`` on 1 billion rows, against the seed's quoted time
              on its five-node cluster ("less than a minute": 60 s is the reference row)

Data sets are made once with ``rxgrid.analytics.make_airline`` (blocks drawn in parallel,
``processes=``, the same numbers as one process) and kept in ``$RXGRID_BENCH_DATA`` (default
``benchmarks/.data``) for later runs; making them is not timed. Each system runs one untimed
fit first, so the columns are in the page cache and the kernels loaded. rxgrid runs the
fits through its own ``cluster.lin_mod``/``cluster.logit``; Ray and Dask run the same fit
(the same ``rxgrid.analytics`` driver and block functions, as their tasks), so what differs
is how each system ships the block tasks. ``in-process`` runs the block functions one after
another here (one core).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

import numpy as np

from . import systems
from .common import Config, Recorder, guarded, timed

GROUP = "analytics"
WORKLOADS = ("lin_mod", "logit", "logit-1b")
REFERENCES = {"logit-1b": "seed000-5-nodes"}
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
    lbfgs_rows: int


FULL = Sizes(120_000_000, 100_000_000, 1_000_000_000, 10_000_000, 1_000_000)
QUICK = Sizes(12_000_000, 10_000_000, 100_000_000, 2_000_000, 0)

FORMULAS = {
    "lin_mod": ("ArrDelay ~ DayOfWeek", "gaussian", {"cube": True}, ("DayOfWeek", "ArrDelay")),
    "logit": ("Late ~ DayOfWeek + CRSDepTime + Distance", "binomial", {},
              ("DayOfWeek", "Late", "CRSDepTime", "Distance")),
    "logit-1b": ("Late ~ DayOfWeek", "binomial", {}, ("DayOfWeek", "Late")),
}  # fmt: skip


def run(cfg: Config, rec: Recorder, only: set[str]) -> None:
    sizes = QUICK if cfg.quick else FULL
    rows = {"lin_mod": sizes.lin_mod_rows, "logit": sizes.logit_rows, "logit-1b": sizes.billion_rows}
    chosen = [w for w in WORKLOADS if w in only]
    paths = {}
    for workload in chosen:
        with guarded(rec, GROUP, "data", workload):
            paths[workload] = dataset(rows[workload], FORMULAS[workload][3])
    chosen = [w for w in chosen if w in paths]
    if "lin_mod" in chosen:
        with guarded(rec, GROUP, "numpy.sum", "lin_mod"):
            memory_bandwidth(cfg, rec)
    if "logit" in chosen:
        with guarded(rec, GROUP, "scikit-learn", "logit"):
            sklearn_logit(cfg, rec, paths["logit"], sizes)
    if "logit-1b" in chosen:
        rec.add(GROUP, "logit-1b", "wall", "s", "lower", "seed000-5-nodes", SEED000_SECONDS,
                rows=rows["logit-1b"], note="quoted by seed 000, not measured")  # fmt: skip
    names = tuple(s for s in SYSTEMS if s.split("-")[0] in cfg.systems or s == "in-process")
    for name in names:
        workloads = [w for w in chosen if w != "logit-1b" or name.startswith("rxgrid")]
        if not workloads:
            continue
        log.info("[%s] starting %s", GROUP, name)
        with guarded(rec, GROUP, name), systems.make(name, warm=False) as system:
            for workload in workloads:
                with guarded(rec, GROUP, name, workload):
                    measure(system, workload, paths[workload], rows[workload], cfg, rec)
        log.info("[%s] %s done", GROUP, name)


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

    return glm(formula, path, family, map_blocks=lambda fn, args: system.run_tasks(fn, args), **options)


def measure(system, workload: str, path: str, rows: int, cfg: Config, rec: Recorder) -> None:
    """One untimed fit (page cache, kernels), then ``cfg.reps`` timed ones."""
    first, fit = timed(_fit, system, workload, path)
    log.info("[%s] %s first fit %.2f s (untimed): %d rows used, %d iterations",
             workload, system.name, first, fit.n_used, fit.iterations)  # fmt: skip
    check = round(fit.coefficients["DayOfWeek=Friday"], 4)
    nbytes = column_bytes(path, FORMULAS[workload][3])
    for rep in range(cfg.reps):
        seconds, fit = timed(_fit, system, workload, path)
        params = dict(rows=rows, check=check, iterations=fit.iterations)
        rec.add(GROUP, workload, "wall", "s", "lower", system.name, seconds, **params)
        if workload == "lin_mod":
            rec.add(GROUP, workload, "GB/s", "GB/s", "higher", system.name, nbytes / seconds / 1e9, **params)
        else:
            rec.add(GROUP, workload, "rows/s", "rows/s", "higher", system.name, rows / seconds, **params)
        log.info("[%s] %s rep %d: %.3f s (%.1f M rows/s, %.2f GB/s)", workload, system.name, rep, seconds,
                 rows / seconds / 1e6, nbytes / seconds / 1e9)  # fmt: skip


def sklearn_logit(cfg: Config, rec: Recorder, path: str, sizes: Sizes) -> None:
    """scikit-learn's LogisticRegression on the first rows of the same data set."""
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        raise systems.NotInstalled("scikit-learn") from None
    from rxgrid.analytics import get_info, read_block

    info = get_info(path)
    for solver, n in (("newton-cholesky", sizes.sklearn_rows), ("lbfgs", sizes.lbfgs_rows)):
        if not n:
            continue
        parts = [read_block(path, b, info=info, mmap=False) for b in range(-(-n // info.block_rows[0]))]
        columns = {k: np.concatenate([p[k] for p in parts])[:n] for k in parts[0]}
        keep = ~np.isnan(columns["Late"])
        day = columns["DayOfWeek"][keep]
        X = np.column_stack([(day == k).astype(float) for k in range(1, 7)]
                            + [columns["CRSDepTime"][keep], columns["Distance"][keep]])  # fmt: skip
        y = columns["Late"][keep].astype(np.float64)
        model = LogisticRegression(C=np.inf, solver=solver, max_iter=10_000, tol=1e-8)
        for _ in range(cfg.reps if solver != "lbfgs" else 1):
            seconds, _ = timed(model.fit, X, y)
            check = round(float(model.coef_[0][3]), 4)  # Friday
            rec.add(GROUP, "logit", "rows/s", "rows/s", "higher", f"sklearn-{solver}", n / seconds,
                    rows=n, check=check, iterations=int(model.n_iter_[0]))  # fmt: skip
            log.info("[logit] sklearn %s on %d rows: %.2f s (%.2f M rows/s, %d iterations)",
                     solver, n, seconds, n / seconds / 1e6, model.n_iter_[0])  # fmt: skip
