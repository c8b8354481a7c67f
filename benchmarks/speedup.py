"""Why 2 rxgrid workers on 2 cores can beat 1 worker by more than 2x: where a fit's time goes.

``python -m benchmarks.speedup [--rows 100000000] [--rounds 5] [--workload logit]``

The analytics group measured the 3-covariate logit on 100 M rows at 12.4 s in this process
(one core, the block functions one after another), 14.2 s on ``local(workers=1)`` and 6.55 s
on ``local(workers=2)``: 2.16x from 1 to 2 workers, but only 1.89x over one plain core. So
the 1-worker cluster carries about 1.8 s that the 2-worker one does not carry twice. The
hypothesis: with one executor slot, every hand-over (a chunk's results back through the
daemon and head, the next chunk's lease, each IRLS pass's job submitted only after the
client combined the last) leaves the only executor idle, while with two slots the other
executor computes through most of them; and with one slot, guided chunking starts with
half of all blocks in one chunk, so that chunk's results all travel at its end.

This script tests it. In interleaved rounds it fits the same model (after one untimed fit
per setup) in this process, on 1 worker with automatic chunks, on 1 worker with the
2-worker chunk sizes, and on 2 workers, and splits each wall time with psutil: CPU time of
the executors, the worker daemons, the head and this client, and the idle executor time
``workers x wall - executor CPU``. The hypothesis holds if the 1-worker idle time is
most of its excess over this process's time and the executors' CPU is about the same on
every setup; it fails if the executors themselves burn more CPU on 1 worker (then look at
per-task costs or caches in the executor instead). Nothing is written but stdout.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

if __name__ == "__main__":  # not on import (the tests import this module)
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import rxgrid  # noqa: E402
from rxgrid.analytics import get_info, models  # noqa: E402
from rxgrid.client.analytics import ContextMap  # noqa: E402
from rxgrid.runtime.chunk_sizes import guided_sizes  # noqa: E402

from .analytics import FORMULAS, dataset  # noqa: E402
from .common import cpu_by_role  # noqa: E402


def one_fit(map_blocks, path: str, workload: str) -> tuple[float, dict[str, float]]:
    formula, family, options, _ = FORMULAS[workload]
    before, start = cpu_by_role(), time.perf_counter()
    models.glm(path, formula, family, map_blocks=map_blocks, **options)
    wall, after = time.perf_counter() - start, cpu_by_role()
    return wall, {k: after[k] - before[k] for k in after}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workload", default="logit", choices=sorted(FORMULAS))
    args = parser.parse_args()
    path = dataset(args.rows, FORMULAS[args.workload][3])
    blocks = get_info(path).blocks
    chunk = int(max(1, statistics.median(guided_sizes(blocks, 2))))
    one = rxgrid.local(workers=1, cores_per_worker=1)
    two = rxgrid.local(workers=2, cores_per_worker=1)
    setups = {  # name: (map_blocks, executor slots)
        "in-process": (models.map_sequential, 1),
        "1 worker, auto chunks": (ContextMap(one), 1),
        f"1 worker, chunks of {chunk}": (ContextMap(one.options(chunk_size=chunk)), 1),
        "2 workers, auto chunks": (ContextMap(two), 2),
    }
    rows: dict[str, list] = {name: [] for name in setups}
    try:
        for map_blocks, _ in setups.values():
            one_fit(map_blocks, path, args.workload)  # untimed: kernels, page cache
        for rnd in range(args.rounds):
            for name, (map_blocks, slots) in setups.items():
                wall, cpu = one_fit(map_blocks, path, args.workload)
                rows[name].append((wall, cpu, slots))
                print(f"round {rnd + 1} {name}: {wall:.2f} s, executor CPU {cpu['executor']:.2f} s",
                      flush=True)
    finally:
        one.close()
        two.close()
    print(f"\n{args.workload}, {args.rows:,} rows, {blocks} blocks; medians of {args.rounds} "
          "interleaved rounds\n")
    print("| setup | wall (s) | executor CPU (s) | idle executor time (s) | daemon CPU | head CPU "
          "| client CPU |\n|---|---|---|---|---|---|---|")
    for name, runs in rows.items():
        med = {k: statistics.median(r[1][k] for r in runs) for k in runs[0][1]}
        wall = statistics.median(r[0] for r in runs)
        idle = statistics.median(r[2] * r[0] - r[1]["executor"] for r in runs)
        executor = med["executor"] if name != "in-process" else med["client"]
        print(f"| {name} | {wall:.2f} ({min(r[0] for r in runs):.2f}-{max(r[0] for r in runs):.2f}) "
              f"| {executor:.2f} | {idle if name != 'in-process' else 0:.2f} | {med['daemon']:.2f} "
              f"| {med['head']:.2f} | {med['client']:.2f} |")


if __name__ == "__main__":
    main()
