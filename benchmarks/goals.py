"""The goals of issues 2, 3, 7 and 19, each judged by whole min-max ranges.

A goal compares one measured row of rxgrid (``ours``) with one other row (``theirs``)
times ``factor``: "at most half of Ray's time" is ``factor=0.5`` on a lower-is-better
metric, "at least 25% of the bandwidth" is ``factor=0.25`` on a higher-is-better one.
:func:`rows` gives the report's table; :func:`benchmarks.fair.verdict` decides.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import fair


@dataclass(frozen=True)
class Goal:
    text: str
    group: str
    workload: str
    metric: str
    theirs: str
    factor: float = 1.0
    ours: str = "rxgrid"


def _faster(workload: str, metric: str = "wall") -> tuple[Goal, ...]:
    return tuple(Goal(f"{workload}: faster than {peer}", "seed001", workload, metric, peer)
                 for peer in ("ray", "dask"))


GOALS = (
    Goal("trivial round trip p50 at most half of Ray's", "overhead", "roundtrip", "p50", "ray",
         0.5),
    Goal("one task per call: more tasks/s than Ray", "overhead", "throughput-each", "tasks/s",
         "ray"),
    Goal("one task per call: more tasks/s than Dask", "overhead", "throughput-each", "tasks/s",
         "dask"),
    Goal("batched: at least 0.3x ProcessPool's tasks/s", "overhead", "throughput-batched",
         "tasks/s", "processpool", 0.3),
    Goal("nothing to first result no slower than Dask", "startup", "startup", "to first result",
         "dask"),
    *_faster("dice"), *_faster("birthday"), *_faster("mandelbrot"), *_faster("kmeans"),
    Goal("200 MB to 1,000 tasks 5x faster than a per-task copy", "broadcast", "broadcast",
         "wall", "processpool", 0.2),
    Goal("200 MB to 1,000 tasks faster than Ray", "broadcast", "broadcast", "wall", "ray"),
    Goal("Mandelbrot, 1 core: Numba within 1.05x of gcc -O3 -march=native", "native",
         "mandelbrot-c", "wall", "gcc-O3-native-1core", 1.05, ours="numba-1core"),
    Goal("Mandelbrot, 2 cores: no slower than Numba prange on 2 threads", "native",
         "mandelbrot-prange", "wall", "numba-prange-2threads"),
    Goal("k-means 400 starts: at most 2/3 of Ray + scikit-learn's time, same starts and "
         "inertias", "native", "kmeans-sklearn", "wall", "ray-sklearn", 2 / 3),
    Goal("logit, 3 covariates: 20x scikit-learn newton-cholesky's rows/s", "analytics",
         "logit-sklearn", "rows/s", "sklearn-newton-cholesky", 20.0),
    Goal("lin_mod cube: at least 25% of numpy.sum's GB/s", "analytics", "lin_mod", "GB/s",
         "numpy.sum", 0.25),
    Goal("logit, 1 billion rows: 10x faster than seed 000's quoted minute", "analytics",
         "logit-1b", "wall", "seed000-5-nodes", 0.1),
)


def judge(goal: Goal, found: dict, bounds: tuple[str, ...] = ()) -> tuple[str, str, str]:
    """(ours, theirs, verdict) of one goal; ``found`` maps (group, workload, metric,
    system) to a measurement."""
    ours = found.get((goal.group, goal.workload, goal.metric, goal.ours))
    theirs = found.get((goal.group, goal.workload, goal.metric, goal.theirs))
    if ours is None or theirs is None or not ours.values or not theirs.values:
        return _range(ours), _range(theirs), "not measured"
    if theirs.system not in bounds and not fair.same_work(ours.checks, theirs.checks):
        return _range(ours), _range(theirs), "no verdict: results differ or unchecked"
    outcome = fair.verdict(ours.values, theirs.values, ours.better, goal.factor)
    return _range(ours), _range(theirs), f"**{outcome}**"


def rows(measurements: list, bounds: tuple[str, ...] = ()) -> list[str]:
    found = {(m.group, m.workload, m.metric, m.system): m for m in measurements if m.values}
    out = []
    for goal in GOALS:
        ours, theirs, outcome = judge(goal, found, bounds)
        out.append(f"| {goal.text} | {ours} | {goal.theirs}: {theirs} | {outcome} |")
    return out


def _range(m) -> str:
    if m is None or not m.values:
        return "-"
    return f"{m.median:.4g} ({min(m.values):.4g}–{max(m.values):.4g}) {m.unit}"
