"""Built-in kernels callable by name with typed parameters (e.g. from grpcurl).

Each entry turns the job's numeric parameters into a task function of no arguments;
the task's seed stream comes from ``rxgrid.task_rng`` / the kernel's own counter-based
generator keyed by (seed, task index).
"""

from __future__ import annotations

from collections.abc import Callable


def _dice(params: dict) -> Callable:
    def task():
        from . import _seeding
        rng = _seeding.task_rng()
        games = int(params.get("games", 1))
        wins = 0
        for _ in range(games):
            first = int(rng.integers(1, 7)) + int(rng.integers(1, 7))
            if first in (7, 11):
                wins += 1
                continue
            if first in (2, 3, 12):
                continue
            while True:
                roll = int(rng.integers(1, 7)) + int(rng.integers(1, 7))
                if roll == first:
                    wins += 1
                    break
                if roll == 7:
                    break
        return wins
    return task


def _birthday(params: dict) -> Callable:
    def task():
        import numpy as np

        from . import _seeding
        rng = _seeding.task_rng()
        n, trials = int(params.get("n", 23)), int(params.get("trials", 5000))
        days = rng.integers(0, 365, size=(trials, n))
        days.sort(axis=1)
        return float(np.mean((np.diff(days, axis=1) == 0).any(axis=1)))
    return task


def _mandelbrot(params: dict) -> Callable:
    def task():
        import numpy as np
        width, height = int(params.get("width", 64)), int(params.get("height", 64))
        limit = int(params.get("max_iter", 100))
        x = np.linspace(params.get("x_min", -2.0), params.get("x_max", 0.6), width)
        y = np.linspace(params.get("y_min", -1.3), params.get("y_max", 1.3), height)
        c = x[None, :] + 1j * y[:, None]
        z = np.zeros_like(c)
        counts = np.zeros(c.shape, dtype=np.int64)
        for _ in range(limit):
            alive = np.abs(z) < 2
            z[alive] = z[alive] ** 2 + c[alive]
            counts += alive
        return counts.tolist()
    return task


KERNELS = {"dice": _dice, "birthday": _birthday, "mandelbrot": _mandelbrot}


def kernel_function(name: str, params: dict) -> Callable:
    """The task function of built-in kernel ``name`` with ``params``."""
    try:
        return KERNELS[name](params)
    except KeyError:
        raise ValueError(f"unknown kernel {name!r}; built-in kernels: {', '.join(KERNELS)}") from None
