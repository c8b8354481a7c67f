"""Built-in kernels callable by name with typed parameters (e.g. from grpcurl).

Each entry turns a job's numeric parameters into a task function of no arguments that
runs a Numba kernel of :mod:`rxgrid.kernels`, keyed by the task's (seed, task index),
so a kernel job is as reproducible as any other. Parameters:

    dice        games (per task)                               -> wins
    birthday    n (group size; task i uses n + i), trials      -> probability
    mandelbrot  width, height, max_iter, rows (per task),
                x_min, x_max, y_min, y_max                     -> rows of counts (task i: band i)
"""

from __future__ import annotations

from collections.abc import Callable

from .seeding import task_key


def _seed_and_task() -> tuple[int, int]:
    seed, task = task_key()
    return (0 if seed is None else seed), task


def _dice(params: dict) -> Callable:
    games = int(params.get("games", 1))

    def task() -> int:
        from ..kernels import dice_wins
        seed, index = _seed_and_task()
        return int(dice_wins(games, seed, index))
    return task


def _birthday(params: dict) -> Callable:
    n, trials = int(params.get("n", 2)), int(params.get("trials", 5000))

    def task() -> float:
        from ..kernels import pbirthday
        seed, index = _seed_and_task()
        return float(pbirthday([n + index], trials, seed, index)[0])
    return task


def _mandelbrot(params: dict) -> Callable:
    def task() -> list:
        import numpy as np

        from ..kernels import mandelbrot_grid
        _, index = _seed_and_task()
        width, height = int(params.get("width", 240)), int(params.get("height", 240))
        rows = int(params.get("rows", height))
        x = np.linspace(params.get("x_min", -2.0), params.get("x_max", 0.6), width)
        y = np.linspace(params.get("y_min", -1.3), params.get("y_max", 1.3), height)
        band = y[index * rows:(index + 1) * rows]
        return mandelbrot_grid(x, band, int(params.get("max_iter", 100))).tolist()
    return task


KERNELS = {"dice": _dice, "birthday": _birthday, "mandelbrot": _mandelbrot}


def kernel_function(name: str, params: dict) -> Callable:
    """The task function of built-in kernel ``name`` with ``params``."""
    try:
        return KERNELS[name](params)
    except KeyError:
        raise ValueError(f"unknown kernel {name!r}; built-in kernels: {', '.join(KERNELS)}") from None
