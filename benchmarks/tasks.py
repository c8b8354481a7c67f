"""The functions the benchmark tasks run, the same on every system.

They live in an importable module (not ``__main__``) so Ray, Dask and
ProcessPoolExecutor pickle them by reference, and each one calls an
``rxgrid.kernels`` Numba kernel inside the task: every system runs the same
compiled code, so what differs between systems is how the work gets there and
back. The ``*_rx`` variants draw their kernel seed from ``rxgrid.task_rng()`` (a job
run with ``seed=``), the way an rxgrid user writes it; the others take (seed, task)
explicitly, the way a Ray, Dask or pool user has to, and derive the same kernel seed
from them with :func:`peer_seed`: rxgrid's own formula for task ``task`` of a job with
seed ``seed``, so every system draws the same numbers (proved by each workload's check,
and by ``tests/test_bench_harness.py``).
"""

from __future__ import annotations

import numpy as np


def trivial(x):
    """The cheapest possible task: measures pure per-task overhead."""
    return x


def warm_kernels(pause: float = 0.0) -> int:
    """Load (or compile) every Numba kernel in this process; returns the pid.

    ``pause`` keeps the task busy a little so a batch of them spreads over workers.
    """
    import os
    import time

    from rxgrid import kernels
    kernels.warm()
    time.sleep(pause)
    return os.getpid()


def run_batch(fn, rows: list[tuple]) -> list:
    """``fn(*row)`` for every row, in one task: the peers' batch of rxgrid's chunk."""
    return [fn(*row) for row in rows]


def _rx_seed() -> int:
    import rxgrid
    return int(rxgrid.task_rng().integers(2**31))


def peer_seed(seed: int, task: int) -> int:
    """The kernel seed ``_rx_seed`` draws in task ``task`` of an rxgrid job with ``seed``:
    the first draw of rxgrid's stream for (seed, task), ``rxgrid.runtime.seeding.task_generator``."""
    from rxgrid.runtime.seeding import task_generator
    return int(task_generator(seed, task).integers(2**31))


# ---------------------------------------------------------------- dice
def _dice(n_games: int, kernel_seed: int) -> int:
    from rxgrid.kernels import dice_wins
    return int(dice_wins(n_games, kernel_seed, task=0))


def dice_task(n_games: int, seed: int, task: int) -> int:
    """Wins in ``n_games`` games of craps (seed 001 "dice"), task ``task`` of seed ``seed``."""
    return _dice(n_games, peer_seed(seed, task))


def dice_task_rx(n_games: int) -> int:
    return _dice(n_games, _rx_seed())


# ---------------------------------------------------------------- birthday
def _birthday(group_size: int, n_tests: int, kernel_seed: int) -> float:
    from rxgrid.kernels import pbirthday
    return float(pbirthday([group_size], n_tests=n_tests, seed=kernel_seed, task=0)[0])


def birthday_task(group_size: int, n_tests: int, seed: int, task: int) -> float:
    """Estimated chance of a shared birthday in a group (seed 001 "birthday")."""
    return _birthday(group_size, n_tests, peer_seed(seed, task))


def birthday_task_rx(group_size: int, n_tests: int) -> float:
    return _birthday(group_size, n_tests, _rx_seed())


# ---------------------------------------------------------------- Mandelbrot
def mandelbrot_band(size: int, lim: int, band: int, n_bands: int) -> np.ndarray:
    """Escape counts of one band of rows of a ``size`` x ``size`` Mandelbrot grid.

    The task builds its own coordinates, so only a few integers travel out and the
    band's counts (the real payload) travel back.
    """
    from rxgrid.kernels import mandelbrot_grid
    xvec = np.linspace(-2.0, 0.6, size)
    rows = np.array_split(np.linspace(-1.3, 1.3, size), n_bands)[band]
    return mandelbrot_grid(xvec, rows, lim)


# ---------------------------------------------------------------- k-means
def _kmeans(X: np.ndarray, k: int, iter_max: int, n_starts: int,
            kernel_seed: int) -> tuple[float, np.ndarray]:
    from rxgrid.kernels import kmeans_fit
    fit = kmeans_fit(X, k, iter_max, n_starts, seed=kernel_seed, task=0)
    return float(fit.inertia), fit.centers


def kmeans_task(X: np.ndarray, k: int, iter_max: int, n_starts: int, seed: int,
                task: int) -> tuple[float, np.ndarray]:
    """Best of ``n_starts`` k-means starts (seed 001 "naive parallel k-means")."""
    return _kmeans(X, k, iter_max, n_starts, peer_seed(seed, task))


def kmeans_task_rx(X: np.ndarray, k: int, iter_max: int, n_starts: int):
    return _kmeans(X, k, iter_max, n_starts, _rx_seed())


# ---------------------------------------------------------------- broadcast
def touch(big: np.ndarray, i: int) -> float:
    """Read one element of a big shared array: the cost measured is getting it there."""
    return float(big[i % big.shape[0]])
