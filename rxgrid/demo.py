"""``rxgrid demo``: seed 001's rxExec examples on an embedded local cluster.

Dice, the birthday problem, a Mandelbrot image and naive parallel k-means, then a
non-waiting job followed by its id: the tour a RevoScaleR user takes first.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter

import numpy as np

import rxgrid


def play_dice() -> str:
    """One game of craps (seed 001's playDice)."""
    point, count = None, 1
    while True:
        roll = random.randint(1, 6) + random.randint(1, 6)
        if point is None:
            point = roll
        if count == 1 and roll in (7, 11):
            return "Win"
        if count == 1 and roll in (2, 3, 12):
            return "Loss"
        if count > 1 and (roll == 7 or roll == point):
            return "Win" if roll == point else "Loss"
        count += 1


def pbirthday(n: int, ntests: int = 5000) -> float:
    """Share of ``ntests`` random groups of ``n`` people with a shared birthday."""
    days = rxgrid.task_rng().integers(0, 365, size=(ntests, n))
    days.sort(axis=1)
    return float(np.mean((np.diff(days, axis=1) == 0).any(axis=1)))


def vmandelbrot(xvec, y0: float, lim: int) -> np.ndarray:
    """Escape counts of one row of the Mandelbrot set (seed 001's vmandelbrot), in Numba."""
    from rxgrid.kernels import mandelbrot_row
    return mandelbrot_row(xvec, y0, lim)


def kmeans_starts(x: np.ndarray, centers: int, iter_max: int, nstart: int):
    """k-means with ``nstart`` starts on this task's random stream; (inertia, centers)."""
    from rxgrid.kernels import kmeans_fit
    fit = kmeans_fit(x, centers, iter_max, nstart, seed=int(rxgrid.task_rng().integers(2**31)))
    return fit.inertia, fit.centers


def _exact_birthday(n: int) -> float:
    return 1.0 - math.prod((365 - k) / 365 for k in range(n))


def run_demo(workers: int = 2) -> int:
    started = time.perf_counter()
    with rxgrid.local(workers=workers, warm_kernels=True) as cluster:
        print(f"local cluster of {workers} workers ready in {time.perf_counter() - started:.1f} s "
              f"at {cluster.address}\n")

        t = time.perf_counter()
        z = cluster.exec(play_dice, times=10_000, chunk_size=2_000, seed=777)
        print(f"dice: cluster.exec(play_dice, times=10_000, chunk_size=2_000, seed=777) "
              f"[{time.perf_counter() - t:.2f} s]\n  {dict(Counter(z))}   expected wins "
              f"{10_000 * 244 / 495:.0f}")

        t = time.perf_counter()
        probs = cluster.exec(pbirthday, rxgrid.each(range(2, 101)), chunk_size=20, seed=777)
        print(f"birthday: cluster.exec(pbirthday, each(range(2, 101)), chunk_size=20) "
              f"[{time.perf_counter() - t:.2f} s]")
        for n in (3, 25, 50):
            print(f"  n={n:3d}: {probs[n - 2]:.4f}  (exact {_exact_birthday(n):.4f})")

        t = time.perf_counter()
        x_in, y_in = np.linspace(-2.0, 0.6, 60), np.linspace(-1.3, 1.3, 24)
        rows = cluster.exec(vmandelbrot, x_in, rxgrid.each(y_in), 100, chunk_size=6)
        print(f"mandelbrot: cluster.exec(vmandelbrot, x, each(y), 100, chunk_size=6) "
              f"[{time.perf_counter() - t:.2f} s]")
        for row in rows:
            print("  " + "".join("#" if v >= 100 else "+" if v > 10 else "." for v in row))

        t = time.perf_counter()
        x = np.random.default_rng(1).normal(size=(5000, 50))
        fits = cluster.exec(kmeans_starts, x, 10, 35, 20, times=20, seed=777)
        best = min(fits, key=lambda f: f[0])
        print(f"k-means: 20 tasks x 20 starts on 5000x50 [{time.perf_counter() - t:.2f} s]: "
              f"best total within SS {best[0]:.1f}")

        job = cluster.exec(pbirthday, rxgrid.each(range(2, 101)), seed=1, wait=False)
        print(f"\nnon-waiting job {job.id}: {job.status()} -> "
              f"{job.wait(60).state}; {len(job.result())} results; "
              f"later, from any process: rxgrid.connect(ADDRESS).job({job.id!r}).result()")
    return 0
