"""``rxgrid demo``: seed 001's rxExec examples and seed 000's regressions on an
embedded local cluster.

Dice, the birthday problem (with a plot), a Mandelbrot image, naive parallel k-means,
then a non-waiting job followed by its id, and the airline regressions (rxLinMod with
cube=TRUE, rxLogit) on generated data. Pictures are written as PNG files: charts with
axes and labels when matplotlib is installed (the ``[plot]`` extra), plain images otherwise.
``--test`` runs the same pipeline on tiny data in seconds (seed 004: prove the
pipeline on test data before the long run).
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


SIZES = {  # (full, --test)
    "games": (10_000, 500), "ntests": (5000, 200), "grid": ((480, 480, 256), (60, 24, 50)),
    "kmeans": ((5000, 50, 20), (300, 5, 2)), "rows": (2_000_000, 20_000),
}


def run_demo(workers: int = 2, test: bool = False, out: str = "rxgrid-demo") -> int:
    """Run the tour; ``test`` uses tiny sizes. Returns a process exit code."""
    import os

    from .charts import birthday_chart, mandelbrot_chart
    pick = {k: v[1] if test else v[0] for k, v in SIZES.items()}
    os.makedirs(out, exist_ok=True)
    started = time.perf_counter()
    # Kernels compile when a task first calls them (once per machine, saying so), not before.
    with rxgrid.local(workers=workers) as cluster:
        print(f"local cluster of {workers} workers ready in {time.perf_counter() - started:.1f} s "
              f"at {cluster.address}{' (test sizes)' if test else ''}\n")

        t = time.perf_counter()
        games = pick["games"]
        z = cluster.exec(play_dice, times=games, chunk_size=max(1, games // 5), seed=777)
        print(f"dice: cluster.exec(play_dice, times={games}, chunk_size={games // 5}, seed=777) "
              f"[{time.perf_counter() - t:.2f} s]\n  {dict(Counter(z))}   expected wins "
              f"{games * 244 / 495:.0f}")

        t = time.perf_counter()
        sizes = list(range(2, 101))
        probs = cluster.exec(pbirthday, rxgrid.each(sizes), pick["ntests"], chunk_size=20, seed=777)
        print(f"birthday: cluster.exec(pbirthday, each(range(2, 101)), chunk_size=20) "
              f"[{time.perf_counter() - t:.2f} s]")
        for n in (3, 25, 50):
            print(f"  n={n:3d}: {probs[n - 2]:.4f}  (exact {_exact_birthday(n):.4f})")
        birthday_chart(os.path.join(out, "birthday.png"), sizes, probs,
                       [_exact_birthday(n) for n in sizes], [(n - 2) // 20 for n in sizes])

        t = time.perf_counter()
        width, height, limit = pick["grid"]
        x_in, y_in = np.linspace(-2.0, 0.6, width), np.linspace(-1.3, 1.3, height)
        rows = cluster.exec(vmandelbrot, x_in, rxgrid.each(y_in), limit,
                            chunk_size=max(1, height // 10))
        image = np.array(rows)
        mandelbrot_chart(os.path.join(out, "mandelbrot.png"), image, x_in, y_in, limit)
        print(f"mandelbrot: cluster.exec(vmandelbrot, x, each(y), {limit}) on {width}x{height} "
              f"[{time.perf_counter() - t:.2f} s] -> {out}/mandelbrot.png")
        if test:
            for row in rows:
                print("  " + "".join("#" if v >= limit else "+" if v > 10 else "." for v in row))

        t = time.perf_counter()
        n, d, starts = pick["kmeans"]
        x = np.random.default_rng(1).normal(size=(n, d))
        fits = cluster.exec(kmeans_starts, x, 10, 35, starts, times=20, seed=777)
        best = min(fits, key=lambda f: f[0])
        print(f"k-means: 20 tasks x {starts} starts on {n}x{d} [{time.perf_counter() - t:.2f} s]: "
              f"best total within SS {best[0]:.1f}")

        job = cluster.exec(pbirthday, rxgrid.each(sizes), pick["ntests"], seed=1, wait=False)
        print(f"\nnon-waiting job {job.id}: {job.status()} -> {job.wait(120).state}; "
              f"{len(job.result())} results; later, from any process: "
              f"rxgrid.connect(ADDRESS).job({job.id!r}).result()\n")

        _regressions(cluster, os.path.join(out, "airline"), pick["rows"])
    print(f"\npictures in {os.path.abspath(out)}")
    return 0


def _regressions(cluster, path: str, rows: int) -> None:
    from ..analytics import make_airline
    t = time.perf_counter()
    make_airline(path, rows=rows, seed=0, block_rows=max(rows // 20, 1000), overwrite=True)
    print(f"airline data: {rows:,} rows generated [{time.perf_counter() - t:.2f} s]")
    print(rxgrid.get_info(path))
    t = time.perf_counter()
    cube = cluster.lin_mod("ArrDelay ~ DayOfWeek", data=path, cube=True)
    print(f"\ncluster.lin_mod('ArrDelay ~ DayOfWeek', cube=True) [{time.perf_counter() - t:.2f} s]")
    print(cube.summary())
    t = time.perf_counter()
    late = cluster.logit("Late ~ DayOfWeek", data=path)
    print(f"\ncluster.logit('Late ~ DayOfWeek') [{time.perf_counter() - t:.2f} s]")
    print(late.summary())
