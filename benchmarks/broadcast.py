"""Broadcast cost (issue 7): one big numpy array read by many tasks.

Each task reads one element of a 200 MB float64 array (1,000 tasks; --quick: 50 MB and
200 tasks), so the time is what it costs to get the array to the tasks. Each system
shares it its own way, and that step is inside the timing: rxgrid passes it as a common
argument (stored once by content hash, fetched once and cached per worker); Ray does one
``ray.put``; Dask ``client.scatter(broadcast=True)``; ProcessPoolExecutor passes it with
every task, the naive way (it has no other).

The naive way costs the same for every task (one pickle, one pipe copy, one unpickle of
the whole array), and at a few hundred MB/s here 1,000 x 200 MB would take over ten
minutes a repetition; so ProcessPoolExecutor runs the first ``NAIVE_TASKS`` tasks and
its time is scaled to the full count, marked "extrapolated" in the report.
"""

from __future__ import annotations

import itertools
import logging

import numpy as np

from .common import Config, Recorder, interleave, timed
from .fair import Check
from .tasks import touch

GROUP = "broadcast"
WORKLOADS = ("broadcast",)
NAIVE = "processpool"
log = logging.getLogger("benchmarks.broadcast")


def run(cfg: Config, rec: Recorder, only: set[str]) -> None:
    megabytes, n_tasks = cfg.size((200, 1000), (50, 200), (4, 20))
    naive_tasks = cfg.size(100, 10, 10)  # the per-task copy is slow: it is scaled up
    big = np.random.default_rng(2).random(megabytes * 2**20 // 8)
    fresh = itertools.count(10)

    def measure(system, workload: str, rnd: int):
        run_tasks = naive_tasks if system.name == NAIVE else n_tasks
        note = {"note": f"extrapolated from {run_tasks} tasks"} if run_tasks < n_tasks else {}
        broadcast(system, big[:1000].copy(), 4)  # untimed: first calls, imports
        big[-1] = next(fresh)  # new content: no cache may hold it from a previous round
        seconds, results = timed(broadcast, system, big, run_tasks)
        right = results == [float(big[i % big.shape[0]]) for i in range(run_tasks)]
        check = Check(f"all {run_tasks} reads " + ("right" if right else "WRONG"),
                      "right" if right else "wrong")
        rec.add(GROUP, "broadcast", "wall", "s", "lower", system.name,
                seconds * n_tasks / run_tasks, check, array_mb=megabytes, tasks=n_tasks, **note)
        log.info("[broadcast] %s round %d: %d tasks in %.2f s", system.name, rnd + 1, run_tasks,
                 seconds)
    interleave(GROUP, cfg, rec, list(WORKLOADS), measure)


def broadcast(system, big: np.ndarray, n_tasks: int) -> list[float]:
    return system.run_tasks(touch, [(i,) for i in range(n_tasks)], common=(system.share(big),))
