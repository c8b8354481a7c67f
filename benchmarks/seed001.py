"""The seed 001 workloads (issue 7), the same Numba kernel on every system.

``dice``        craps games, ``tasks`` tasks of ``games`` games each (win rate ~ 244/495)
``birthday``    chance of a shared birthday for n = 2..100, one task per n
``mandelbrot``  escape counts of a square grid, computed in row bands
``kmeans``      best of many k-means starts on normal data, a batch of starts per task

Every system runs the same task functions (``benchmarks.tasks``), with kernels warmed
in every worker before timing, so no one pays JIT compile time. rxgrid seeds through
``seed=`` and ``rxgrid.task_rng()``; peers pass (seed, task) by hand and derive the same
kernel seed from it (``tasks.peer_seed``), so every system runs the same draws: each
repetition's results are checked (dice wins and birthday estimates per task, the full
Mandelbrot counts by digest; the k-means inertias per task within a relative 1e-9) and
the report gives a ratio only where the checks agree. Systems:
``in-process`` (the tasks one after another in this process: the 1-core baseline),
``rxgrid`` (2 workers), ``rxgrid-1w`` (1 worker: the speed-up from 1 to 2 workers is
their ratio), Ray, Dask and ProcessPoolExecutor. Shared input (the k-means data) goes
the system's own way: rxgrid common argument, ``ray.put``, Dask ``scatter``, per task
for the pool. Repetitions are interleaved across systems (``common.interleave``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from . import tasks
from .common import Config, Recorder, interleave, timed
from .fair import Check, digest

GROUP = "seed001"
WORKLOADS = ("dice", "birthday", "mandelbrot", "kmeans")
SYSTEMS = ("in-process", "rxgrid", "rxgrid-1w", "ray", "dask", "processpool")
SEED = 777
KMEANS_REL_TOL = 1e-9  # the same kernel on the same data: equal but for summation order
log = logging.getLogger("benchmarks.seed001")


@dataclass
class Sizes:
    dice_tasks: int
    dice_games: int
    birthday_tests: int
    mandel_size: int
    mandel_lim: int
    mandel_bands: int
    kmeans_rows: int
    kmeans_cols: int
    kmeans_k: int
    kmeans_iter: int
    kmeans_tasks: int
    kmeans_starts: int


FULL = Sizes(40, 250_000, 5_000, 2000, 1000, 40, 5000, 50, 10, 35, 20, 20)
QUICK = Sizes(40, 250_000, 5_000, 1000, 1000, 40, 2000, 50, 10, 35, 20, 5)
SMOKE = Sizes(8, 2_000, 200, 120, 50, 8, 400, 10, 4, 10, 4, 2)  # --smoke: the harness only
TINY = Sizes(4, 100, 10, 40, 10, 4, 100, 5, 3, 3, 4, 1)  # warm-up: every code path, no work


def run(cfg: Config, rec: Recorder, only: set[str]) -> None:
    sizes = cfg.size(FULL, QUICK, SMOKE)
    chosen = [w for w in WORKLOADS if w in only]
    X = np.random.default_rng(1).standard_normal((sizes.kmeans_rows, sizes.kmeans_cols))
    names = tuple(s for s in SYSTEMS if s.split("-")[0] in cfg.systems or s == "in-process")
    tiny_X, warm_X = np.ascontiguousarray(X[:TINY.kmeans_rows, :TINY.kmeans_cols]), warm_data(X)

    def measure(system, workload: str, rnd: int) -> None:
        """One untimed run on tiny sizes (imports, first calls), then one timed run."""
        RUNNERS[workload](system, TINY, warm_X if workload == "kmeans" else tiny_X)
        seconds, check = timed(RUNNERS[workload], system, sizes, X)
        rec.add(GROUP, workload, "wall", "s", "lower", system.name, seconds, check,
                **params(workload, sizes))
        log.info("[%s] %s round %d: %.3f s (%s)", workload, system.name, rnd + 1, seconds,
                 check.text)
    interleave(GROUP, cfg, rec, chosen, measure, names)


def warm_data(X: np.ndarray) -> np.ndarray:
    """Data of X's size and other content for k-means' untimed run: a big array reaches
    rxgrid's tasks read-only (memory-mapped), a kernel signature of its own that a tiny array
    would not load; other content, so no system finds the timed run's data already sent."""
    warm = X.copy()
    warm[0, 0] += 1.0
    return warm


def params(workload: str, s: Sizes) -> dict:
    return {
        "dice": {"games": s.dice_tasks * s.dice_games, "tasks": s.dice_tasks},
        "birthday": {"n": "2..100", "trials": s.birthday_tests, "tasks": 99},
        "mandelbrot": {"grid": f"{s.mandel_size}x{s.mandel_size}", "iterations": s.mandel_lim,
                       "bands": s.mandel_bands},
        "kmeans": {"data": f"{s.kmeans_rows}x{s.kmeans_cols}", "k": s.kmeans_k,
                   "iter_max": s.kmeans_iter, "starts": s.kmeans_tasks * s.kmeans_starts,
                   "tasks": s.kmeans_tasks},
    }[workload]


def _is_rxgrid(system) -> bool:
    return system.name.startswith("rxgrid")


def dice(system, s: Sizes, X) -> Check:
    if _is_rxgrid(system):
        wins = system.run_seeded(tasks.dice_task_rx, (s.dice_games,), times=s.dice_tasks,
                                 seed=SEED)
    else:
        wins = system.run_tasks(tasks.dice_task, [(s.dice_games, SEED, t)
                                                  for t in range(s.dice_tasks)])
    key = digest([int(w) for w in wins])
    return Check(f"win rate {sum(wins) / (s.dice_tasks * s.dice_games):.4f}, wins #{key}", key)


def birthday(system, s: Sizes, X) -> Check:
    group_sizes = list(range(2, 101))
    if _is_rxgrid(system):
        p = system.run_seeded(tasks.birthday_task_rx, (s.birthday_tests,),
                              each=[group_sizes], seed=SEED)
    else:  # task t of the job is group size group_sizes[t], as rxgrid numbers them
        p = system.run_tasks(tasks.birthday_task, [(n, s.birthday_tests, SEED, t)
                                                   for t, n in enumerate(group_sizes)])
    key = digest([float(x) for x in p])
    return Check(f"p(23) {p[21]:.3f}, all #{key}", key)


def mandelbrot(system, s: Sizes, X) -> Check:
    bands = system.run_tasks(tasks.mandelbrot_band, [(b, s.mandel_bands)
                                                     for b in range(s.mandel_bands)],
                             common=(s.mandel_size, s.mandel_lim))
    return mandelbrot_check(np.concatenate(bands))


def mandelbrot_check(counts: np.ndarray) -> Check:
    """Every escape count, by digest (the same on every system, or no ratio)."""
    key = digest(np.ascontiguousarray(counts, dtype=np.int32))
    return Check(f"sum {int(counts.sum())}, counts #{key}", key)


def kmeans(system, s: Sizes, X) -> Check:
    common = (system.share(X), s.kmeans_k, s.kmeans_iter, s.kmeans_starts)
    if _is_rxgrid(system):
        fits = system.run_seeded(tasks.kmeans_task_rx, common, times=s.kmeans_tasks,
                                 seed=SEED)
    else:
        fits = system.run_tasks(tasks.kmeans_task, [(SEED, t) for t in range(s.kmeans_tasks)],
                                common=common)
    return kmeans_check([f[0] for f in fits])


def kmeans_check(best_per_task: list[float]) -> Check:
    """Each task's best inertia, within a relative ``KMEANS_REL_TOL``."""
    inertias = tuple(float(x) for x in best_per_task)
    return Check(f"best inertia {min(inertias):.10g} (per task within {KMEANS_REL_TOL:g})",
                 values=inertias, rel_tol=KMEANS_REL_TOL)


RUNNERS = {"dice": dice, "birthday": birthday, "mandelbrot": mandelbrot, "kmeans": kmeans}
