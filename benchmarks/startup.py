"""Time from nothing to a ready cluster (issue 2).

Measured from before the system is created until the first trivial result is back in
this process: ``rxgrid.local(workers=2)``; ``ray.init(num_cpus=2)``; Dask's
``LocalCluster`` + ``Client``; a ``ProcessPoolExecutor(2)``. Imports are already done
(they are paid once per program, not per cluster) and kernels are not warmed. Shutdown
is outside the timing but inside each repetition, so every start is from nothing.
Repetitions are interleaved: round 1 starts A, B, C, round 2 again, and so on; with
``Config.isolate`` every start is in a process of its own (``common.in_turn_process``).
"""

from __future__ import annotations

import logging
import time

from . import systems
from .common import Config, Recorder, guarded, in_turn_process
from .fair import Check
from .tasks import trivial

GROUP = "startup"
WORKLOADS = ("startup",)
log = logging.getLogger("benchmarks.startup")


def run(cfg: Config, rec: Recorder, only: set[str]) -> None:
    down: set[str] = set()
    for rnd in range(cfg.reps):
        for name in cfg.systems:
            if name in down:
                continue
            with guarded(rec, GROUP, name) as outcome:
                seconds = in_turn_process(cfg, rec, lambda n=name: time_to_first_result(n),
                                          f"{GROUP}/{name} round {rnd + 1}")
                rec.add(GROUP, "startup", "to first result", "s", "lower", name, seconds,
                        Check("first result 1", "1"), workers=systems.WORKERS)
                log.info("[startup] %s round %d: %.2f s", name, rnd + 1, seconds)
            if outcome.failed:
                down.add(name)


def time_to_first_result(name: str) -> float:
    system = systems.make(name, warm=False)
    start = time.perf_counter()
    system.start()
    try:
        if system.call(trivial, 1) != 1:
            raise RuntimeError(f"{name} returned a wrong first result")
        return time.perf_counter() - start
    finally:
        system.stop()
