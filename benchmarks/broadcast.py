"""Broadcast cost (issue 7): one big numpy array read by many tasks.

Each task reads one element of a 200 MB float64 array (1,000 tasks; --quick: 50 MB and
200 tasks), so the time is what it costs to get the array to the tasks. Each system
shares it its own way, and that step is inside the timing: rxgrid passes it as a common
argument (stored once by content hash, fetched once and cached per worker); Ray does one
``ray.put``; Dask ``client.scatter(broadcast=True)``; ProcessPoolExecutor passes it with
every task, the naive way (it has no other).
"""

from __future__ import annotations

import logging

import numpy as np

from .common import Config, Recorder, run_on_each_system, timed
from .tasks import touch

GROUP = "broadcast"
WORKLOADS = ("broadcast",)
log = logging.getLogger("benchmarks.broadcast")


def run(cfg: Config, rec: Recorder, only: set[str]) -> None:
    megabytes, n_tasks = cfg.size((200, 1000), (50, 200))
    big = np.random.default_rng(2).random(megabytes * 2**20 // 8)

    def body(system):
        for rep in range(cfg.reps):
            seconds, results = timed(broadcast, system, big, n_tasks)
            if results[1] != float(big[1]):
                raise RuntimeError(f"{system.name} read the wrong element")
            rec.add(GROUP, "broadcast", "wall", "s", "lower", system.name, seconds,
                    array_mb=megabytes, tasks=n_tasks)
            log.info("[broadcast] %s rep %d: %.2f s", system.name, rep, seconds)
    run_on_each_system(GROUP, cfg, rec, body)


def broadcast(system, big: np.ndarray, n_tasks: int) -> list[float]:
    return system.run_tasks(touch, [(i,) for i in range(n_tasks)], common=(system.share(big),))
