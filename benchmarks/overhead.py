"""Per-task overhead (issue 2): what a task costs when it does nothing.

``roundtrip``   one blocking trivial call, after warm-up: p50 and p95 latency over many
                calls. This is the floor of every interactive use of a cluster.
``throughput``  100,000 trivial tasks end to end, each system chunking its natural way
                (rxgrid: automatic chunks; Ray and Dask: one task each, as their users
                write it; ProcessPoolExecutor: ``map`` with about 4 chunks per worker).
                Reported as tasks/s, so runs with different task counts compare.
"""

from __future__ import annotations

import logging

import numpy as np

from .common import Config, Recorder, guarded, run_on_each_system, timed
from .tasks import trivial

GROUP = "overhead"
WORKLOADS = ("roundtrip", "throughput")
WARMUP_CALLS = 20
log = logging.getLogger("benchmarks.overhead")


def run(cfg: Config, rec: Recorder, only: set[str]) -> None:
    def body(system):
        for name, measure in (("roundtrip", roundtrip), ("throughput", throughput)):
            if name in only:
                with guarded(rec, GROUP, system.name, name):
                    measure(system, cfg, rec)
    run_on_each_system(GROUP, cfg, rec, body)


def roundtrip(system, cfg: Config, rec: Recorder) -> None:
    calls = cfg.size(300, 100)
    for _ in range(WARMUP_CALLS):
        system.call(trivial, 1)
    for rep in range(cfg.reps):
        times = np.array([timed(system.call, trivial, 1)[0] for _ in range(calls)]) * 1e3
        p50, p95 = np.percentile(times, [50, 95])
        for metric, value in (("p50", p50), ("p95", p95)):
            rec.add(GROUP, "roundtrip", metric, "ms", "lower", system.name, float(value),
                    calls=calls)
        log.info("[roundtrip] %s rep %d: p50 %.3f ms, p95 %.3f ms", system.name, rep, p50, p95)


def throughput(system, cfg: Config, rec: Recorder) -> None:
    n = task_count(system.name, cfg)
    for rep in range(cfg.reps):
        seconds, results = timed(system.map_trivial, trivial, n)
        if list(results[:3]) != [0, 1, 2] or len(results) != n:
            raise RuntimeError(f"{system.name} returned wrong results for {n} trivial tasks")
        rec.add(GROUP, "throughput", "tasks/s", "tasks/s", "higher", system.name, n / seconds,
                tasks=n)
        rec.add(GROUP, "throughput", "wall", "s", "lower", system.name, seconds, tasks=n)
        log.info("[throughput] %s rep %d: %d tasks in %.2f s (%.0f tasks/s)",
                 system.name, rep, n, seconds, n / seconds)


QUICK_PEER_TASKS = {"ray": 5_000, "dask": 2_000}
FULL_PEER_TASKS = {"ray": 20_000, "dask": 10_000}


def task_count(system: str, cfg: Config) -> int:
    """100,000 everywhere; in --quick fewer for Ray and Dask, where one task each is slow
    (a few hundred to a thousand tasks/s here) and 100,000 would take minutes."""
    if cfg.quick:
        return QUICK_PEER_TASKS.get(system, 100_000)
    # Ray and Dask pay milliseconds per task; tasks/s from 20k / 10k is the same figure
    # and saves a quarter of an hour per run.
    return FULL_PEER_TASKS.get(system, 100_000)
