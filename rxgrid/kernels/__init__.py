"""Numba kernels: pure functions over numpy arrays, compiled once per process.

Each workload has its own module, written in three layers (after STUMPY): a
private ``@njit`` kernel on a slice of the problem, a private parallel driver
(``prange``) and a public wrapper that validates its arguments. Kernels do no
I/O and import nothing else of rxgrid. Random numbers come from a
counter-based generator keyed by (seed, task), see ``_random``.

Public functions are named apart from their modules (``pbirthday`` in
``birthday``, ``kmeans_fit`` in ``kmeans``) so a submodule import never hides
an export. Importing this package is cheap: the public names load their module (and
Numba) on first use. Call `warm` once in a new process to load the compiled
code from the on-disk cache (or compile it) before the first real task.
"""

import importlib

_EXPORTS = {
    "dice_wins": "dice",
    "play_dice": "dice",
    "pbirthday": "birthday",
    "mandelbrot_grid": "mandelbrot",
    "mandelbrot_row": "mandelbrot",
    "kmeans_fit": "kmeans",
    "kmeans_lloyd": "kmeans",
    "kmeans_block_stats": "kmeans",
    "KMeansResult": "kmeans",
    "KMeansBlockStats": "kmeans",
    "glm_block_stats": "glm",
    "GlmBlockStats": "glm",
    "design_layout": "glm",
    "r_factor": "qr",
    "combine_r_factors": "qr",
    "RFactor": "qr",
    "random_uniform": "_random",
    "random_integers": "_random",
    "random_normal": "_random",
}

__all__ = [
    "GlmBlockStats",
    "KMeansBlockStats",
    "KMeansResult",
    "RFactor",
    "combine_r_factors",
    "design_layout",
    "dice_wins",
    "glm_block_stats",
    "kmeans_block_stats",
    "kmeans_fit",
    "kmeans_lloyd",
    "mandelbrot_grid",
    "mandelbrot_row",
    "pbirthday",
    "play_dice",
    "r_factor",
    "random_integers",
    "random_normal",
    "random_uniform",
    "warm",
]


def __getattr__(name: str):
    if name in _EXPORTS:
        module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__


def warm(modules=None) -> None:
    """Compile (or load from cache) every kernel by running it on tiny inputs.

    A worker calls this when it starts so that its first task does not pay
    for compilation. The inputs have the dtypes and layouts the public
    wrappers pass, so the signatures compiled here are the ones used later.
    ``modules`` (names from `WARM_MODULES`; default: all) warms only those, so
    that two processes can compile different modules side by side.
    """
    names = WARM_MODULES if modules is None else tuple(modules)
    unknown = sorted(set(names) - set(WARM_MODULES))
    if unknown:
        raise ValueError(f"no kernel module named {', '.join(unknown)}: "
                         f"choose from {', '.join(WARM_MODULES)}")
    for name in WARM_MODULES:
        if name in names:
            _WARM[name](importlib.import_module(f".{name}", __name__))


def _warm_random(_random) -> None:
    _random.random_uniform(0, 0, 2)
    _random.random_integers(0, 0, 6, 2)
    _random.random_normal(0, 0, 2)


def _warm_dice(dice) -> None:
    dice.dice_wins(2, 0)
    dice.play_dice(2, 0)


def _warm_birthday(birthday) -> None:
    birthday.pbirthday([2, 3], 2)


def _warm_mandelbrot(mandelbrot) -> None:
    mandelbrot.mandelbrot_grid([0.0, 0.1], [0.0], 3)
    mandelbrot.mandelbrot_row([0.0, 0.1], 0.0, 3)


def _points():
    import numpy as np
    return np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0]]), np.array([0.0, 1.0, 1.0])


def _warm_kmeans(kmeans) -> None:
    X, _ = _points()
    for init in ("k-means++", "random"):
        kmeans.kmeans_fit(X, 2, 2, 1, init=init)
    kmeans.kmeans_lloyd(X, X[:2], 2)
    kmeans.kmeans_block_stats(X, X[:2])


def _warm_glm(glm) -> None:
    import numpy as np
    _, y = _points()
    for family in glm.FAMILIES:
        for start in (False, True):
            glm.glm_block_stats(y, [[0, 1, 1]], [[0.5, 1.0, 2.0]], np.zeros(3), family, [2], start=start)


def _warm_glm_cells(glm_cells) -> None:
    # the analytics' fast path, for the column types make_airline and CSV imports produce
    import numpy as np
    _, y = _points()
    for y_type in (np.float32, np.float64):
        cells = np.array([0, 1, 1], dtype=np.int8)
        glm_cells.glm_cell_moments(y.astype(y_type), cells, 2)
        for numeric in ((), (y, y)):
            beta_num = np.zeros(len(numeric))
            glm_cells.glm_cell_stats(y.astype(y_type), cells, 2, numeric, np.zeros(2), beta_num, "binomial")


def _warm_qr(qr) -> None:
    X, y = _points()
    qr.combine_r_factors([qr.r_factor(X.T, y, center=True), qr.r_factor(X.T)])


_WARM = {"_random": _warm_random, "dice": _warm_dice, "birthday": _warm_birthday,
         "mandelbrot": _warm_mandelbrot, "kmeans": _warm_kmeans, "glm": _warm_glm,
         "glm_cells": _warm_glm_cells, "qr": _warm_qr}
WARM_MODULES = tuple(_WARM)
