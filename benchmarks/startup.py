"""Time from nothing to a ready cluster (issue 2).

Measured from before the system is created until the first trivial result is back in
this process: ``rxgrid.local(workers=2)``; ``ray.init(num_cpus=2)``; Dask's
``LocalCluster`` + ``Client``; a ``ProcessPoolExecutor(2)``. Imports are already done
(they are paid once per program, not per cluster) and kernels are not warmed. Shutdown
is outside the timing but inside each repetition, so every start is from nothing.
"""

from __future__ import annotations

import logging
import time

from . import systems
from .common import Config, Recorder, guarded
from .tasks import trivial

GROUP = "startup"
WORKLOADS = ("startup",)
log = logging.getLogger("benchmarks.startup")


def run(cfg: Config, rec: Recorder, only: set[str]) -> None:
    for name in cfg.systems:
        with guarded(rec, GROUP, name):
            for rep in range(cfg.reps):
                seconds = time_to_first_result(name)
                rec.add(GROUP, "startup", "to first result", "s", "lower", name, seconds,
                        workers=systems.WORKERS)
                log.info("[startup] %s rep %d: %.2f s", name, rep, seconds)


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
