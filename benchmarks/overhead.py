"""Per-task overhead (issue 2): what a task costs when it does nothing.

``roundtrip``           one blocking trivial call, after warm-up: p50 and p95 latency over
                        many calls. This is the floor of every interactive use of a cluster.
``throughput-each``     N trivial tasks, one task (one remote call, one chunk) per item on
                        every system: rxgrid with ``chunk_size=1``, Ray ``.remote`` per item,
                        Dask ``client.map``, ProcessPoolExecutor ``submit`` per item.
``throughput-batched``  N trivial tasks in the chunks rxgrid's automatic chunking picks
                        (``guided_sizes(N, 2)``): rxgrid chunks them itself, every peer runs
                        one ``tasks.run_batch`` task per chunk of the same sizes. The input
                        is laid out before the clock starts, for every system as its API
                        takes it (``System.batched_input``: rows for the peers, ``each()``
                        columns for rxgrid); checking rxgrid's results for failures is timed.

Every system runs the same N (each: 20,000, --quick 2,000; batched: 100,000, --quick
20,000), and its results are checked (``[0, 1, ..., N-1]`` in order, by digest).
Reported as tasks/s and wall time.
"""

from __future__ import annotations

import logging

import numpy as np

from .common import Config, Recorder, interleave, timed
from .fair import Check, digest
from .tasks import trivial

GROUP = "overhead"
WORKLOADS = ("roundtrip", "throughput-each", "throughput-batched")
WARMUP_CALLS = 20
log = logging.getLogger("benchmarks.overhead")


def run(cfg: Config, rec: Recorder, only: set[str]) -> None:
    chosen = [w for w in WORKLOADS if w in only]

    def measure(system, workload: str, rnd: int) -> None:
        MEASURES[workload](system, cfg, rec, rnd)
    interleave(GROUP, cfg, rec, chosen, measure)


def roundtrip(system, cfg: Config, rec: Recorder, rnd: int) -> None:
    calls = cfg.size(300, 100, 20)
    for _ in range(WARMUP_CALLS):
        system.call(trivial, 1)
    times, answers = [], set()
    for _ in range(calls):
        seconds, answer = timed(system.call, trivial, 1)
        times.append(seconds * 1e3)
        answers.add(answer)
    check = Check(f"{calls} calls answered {sorted(answers)}", repr(sorted(answers)))
    p50, p95 = np.percentile(times, [50, 95])
    for metric, value in (("p50", p50), ("p95", p95)):
        rec.add(GROUP, "roundtrip", metric, "ms", "lower", system.name, float(value), check,
                calls=calls)
    log.info("[roundtrip] %s round %d: p50 %.3f ms, p95 %.3f ms", system.name, rnd + 1, p50, p95)


def _throughput(workload: str, run, n: int, system, rec: Recorder, rnd: int) -> None:
    seconds, results = timed(run, trivial, n)
    chunks = system.chunks_of_last_map()  # a size: a ratio needs the same on both sides
    key = digest(list(results))
    expected = digest(list(range(n)))
    check = Check(f"{len(results)} results, " + ("0..N-1 in order" if key == expected
                                                  else f"WRONG #{key}"), key)
    rec.add(GROUP, workload, "tasks/s", "tasks/s", "higher", system.name, n / seconds, check,
            tasks=n, chunks=chunks)
    rec.add(GROUP, workload, "wall", "s", "lower", system.name, seconds, check, tasks=n,
            chunks=chunks)
    log.info("[%s] %s round %d: %d tasks in %.2f s (%.0f tasks/s)", workload, system.name,
             rnd + 1, n, seconds, n / seconds)


def throughput_each(system, cfg: Config, rec: Recorder, rnd: int) -> None:
    n = cfg.size(20_000, 2_000, 200)  # 20,000: rxgrid's limit of chunks per job
    _throughput("throughput-each", system.map_each, n, system, rec, rnd)


def throughput_batched(system, cfg: Config, rec: Recorder, rnd: int) -> None:
    n = cfg.size(100_000, 20_000, 2_000)
    prepared = system.batched_input([(i,) for i in range(n)])  # untimed, as every system's
    _throughput("throughput-batched", lambda fn, n: system.map_batched(fn, prepared),
                n, system, rec, rnd)


MEASURES = {"roundtrip": roundtrip, "throughput-each": throughput_each,
            "throughput-batched": throughput_batched}
