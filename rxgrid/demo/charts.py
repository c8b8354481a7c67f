"""The demo's pictures: real charts with matplotlib (the ``[plot]`` extra), else the plain
PNG writer of ``_png``.

matplotlib is used through its object API (``Figure`` and the Agg canvas), never
``pyplot``, so drawing a chart changes no global state of the program that asked.
"""

from __future__ import annotations

import numpy as np


def have_matplotlib() -> bool:
    """True when matplotlib can be imported here."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def birthday_chart(path: str, sizes, simulated, exact, groups) -> None:
    """Seed 001's birthday plot: the simulated probability per party size, coloured by the
    chunk that computed it, beside the exact curve."""
    if not have_matplotlib():
        from .png import scatter, write_png
        write_png(path, scatter(sizes, simulated, groups))
        return
    figure, axes = _figure(7.0, 4.5)
    sizes, simulated, groups = np.asarray(sizes), np.asarray(simulated), np.asarray(groups)
    axes.plot(sizes, exact, color="0.2", linewidth=1.2, label="exact: 1 - 365!/((365-n)! 365^n)")
    for group in np.unique(groups):
        chosen = groups == group
        axes.scatter(sizes[chosen], simulated[chosen], s=14, label=f"simulated, chunk {group + 1}")
    axes.axhline(0.5, color="0.6", linewidth=0.8, linestyle="--")
    axes.set(xlabel="Party size", ylabel="Probability of a shared birthday",
             title="The birthday problem: rxExec simulation and exact curve",
             xlim=(sizes.min() - 1, sizes.max() + 1), ylim=(-0.02, 1.02))
    axes.legend(loc="lower right", fontsize="small")
    axes.grid(alpha=0.3)
    _save(figure, path)


def mandelbrot_chart(path: str, counts: np.ndarray, x, y, limit: int) -> None:
    """The escape counts as an image on the complex plane, with its coordinates."""
    if not have_matplotlib():
        from .png import heat, write_png
        write_png(path, heat(counts, limit))
        return
    figure, axes = _figure(6.0, 6.0 * len(y) / max(len(x), 1) + 0.8)
    image = axes.imshow(np.where(counts >= limit, np.nan, counts), origin="lower", cmap="turbo",
                        extent=(x[0], x[-1], y[0], y[-1]), interpolation="nearest")
    axes.set_facecolor("black")  # points in the set (count == limit) stay black
    axes.set(xlabel="Re(c)", ylabel="Im(c)",
             title=f"Mandelbrot set: {len(x)} x {len(y)} points, {limit} iterations")
    figure.colorbar(image, ax=axes, label="iterations before escape", shrink=0.8)
    _save(figure, path)


def _figure(width: float, height: float):
    from matplotlib.figure import Figure
    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.add_subplot()


def _save(figure, path: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    FigureCanvasAgg(figure).print_png(path)
