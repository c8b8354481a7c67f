"""What bounds the two CPU-bound goals of issue 19 still missed: measured, not argued.

``python -m benchmarks.cpu_bounds [--rounds 3] [--only kmeans mandelbrot] [--quick]
[--out benchmarks/CPU_BOUNDS.md]``

The goals (``benchmarks.native``): k-means 5000x50, k=10, 400 starts in at most 2/3 of
Ray + scikit-learn's time (same starts and inertias); Mandelbrot 2000², 1000 iterations
on 2 cores no slower than one-process Numba ``prange`` on 2 threads. This script runs the
benchmark's own workload code (``native``, ``seed001``, ``tasks``) and splits the times:

k-means
    (a) in THIS process on one core (``NUMBA_NUM_THREADS=1``, OpenMP/BLAS at 1 thread and
    ``threadpoolctl`` limits): the time per start of rxgrid's kernel (``tasks.kmeans_task``)
    and of scikit-learn's ``KMeans`` from the same k-means++ starts
    (``native.sklearn_kmeans_task``, the Ray task's body), their best inertias per task
    checked equal within seed001's tolerance; the k-means++ seeding alone, timed apart.
    (b) ``rxgrid.local(workers=2)`` and Ray + scikit-learn on the benchmark's job, each wall
    time split by psutil (``cpu_by_role``): executor CPU, idle executor time
    (``workers x wall - executor CPU``), and the CPU of the daemons, head and this client.
Mandelbrot
    (a) in this process on one core, every band of seed001's row bands timed
    (``tasks.mandelbrot_band``): their sum is the one-core kernel time, half of it the
    ideal 2-core time; the 2-core makespan of those bands in rxgrid's chunk sizes
    (``guided_sizes``) handed out in order to whichever slot is free, and of two contiguous
    halves (prange's static split), are models of the imbalance; the ``prange`` child's
    wall (``native.PrangeChild``). (b) ``rxgrid.local(workers=2)`` split as above.

A wall time over its ideal splits exactly as ``wall - ideal = (executor CPU - one-core
kernel time) / 2 + idle / 2``: extra CPU the executors burn, and executor time not spent
computing (imbalance, hand-overs, and cores taken by the daemons, head and client, which
share the 2 cores). On Linux the idle time splits further: time an executor's main
thread (where tasks run) was runnable but queued for a core (``executor_queued``: the
machine's other load, or this cluster's own processes), and the rest, without work. For
Ray the rest can come out a little below zero: its executors burn CPU in other threads too.
Rounds are interleaved across setups (``common.interleave``: each
system started for its turn and shut down after it, so one is alive at a time); the
Markdown gives median (min–max) and conclusions computed from the medians.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace

if __name__ == "__main__":  # not on import (tests): before Numba, OpenMP or BLAS load, one
    # thread in this process and in every process it starts (the prange child sets 2)
    os.environ["NUMBA_NUM_THREADS"] = "1"
    os.environ.update(dict.fromkeys(("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                     "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                                     "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"), "1"))

import numpy as np  # noqa: E402
import psutil  # noqa: E402

from rxgrid.runtime.chunk_sizes import guided_sizes  # noqa: E402

from . import native, seed001, systems, tasks  # noqa: E402
from .common import Config, Recorder, interleave, timed  # noqa: E402
from .common import cpu_by_role as _cpu_by_process  # noqa: E402
from .fair import Check, same_work  # noqa: E402

GROUP = "cpu-bounds"
WORKLOADS = ("kmeans", "mandelbrot")
IN_PROCESS = "in-process-1core"
SETUPS = {"kmeans": (IN_PROCESS, "rxgrid", native.RAY_SKLEARN),
          "mandelbrot": (IN_PROCESS, native.PRANGE, "rxgrid")}
GOAL = {"kmeans": 2 / 3, "mandelbrot": 1.0}
ROLES = ("executor", "idle", "queued", "no work", "daemon", "head", "client")
log = logging.getLogger("benchmarks.cpu_bounds")


# ---------------------------------------------------------------- pure helpers
def ray_role(cmd: str) -> str:
    """The role of a Ray process by its command line; "other" for anything not Ray's."""
    if "ray::" in cmd or "default_worker.py" in cmd:
        return "executor"
    if "gcs_server" in cmd:
        return "head"
    return "daemon" if "/ray/" in cmd or "raylet" in cmd else "other"


def rxgrid_role(cmd: str) -> str:
    """The role of an rxgrid process by its command line (executors are spawned children)."""
    return "head" if "rxgrid head" in cmd else "daemon" if "rxgrid worker" in cmd else "executor"


def rxgrid_only_role(cmd: str) -> str:
    """``rxgrid_role``, with a Ray process still winding down counted as "other"."""
    return "other" if ray_role(cmd) != "other" else rxgrid_role(cmd)


def cpu_by_role(role: Callable[[str], str] = rxgrid_role) -> dict[str, float]:
    """``common.cpu_by_role`` with each descendant's role named from its command line."""
    return _cpu_by_process(lambda p: role(" ".join(p.cmdline())),
                           ("head", "daemon", "executor", "other"))


def wall_split(wall: float, slots: int, before: dict, after: dict) -> dict[str, float]:
    """CPU seconds by role between two ``cpu_by_role`` readings, and the idle executor
    time ``slots x wall - executor CPU``; a "queued" reading (``executor_queued``) passes
    through as its difference."""
    cpu = {k: after[k] - before[k] for k in after}
    return {"wall": wall, **cpu, "idle": slots * wall - cpu["executor"]}


def executor_queued(role: Callable[[str], str]) -> float:
    """Seconds the executors' main threads (where rxgrid and Ray run tasks) spent runnable
    but waiting for a core (Linux ``/proc/<pid>/task/<pid>/schedstat``, second field): the
    part of their idle time that other processes, on this machine or of this cluster, took
    from them. Their other threads (Ray's gRPC and I/O threads) are left out: their waits
    are not time a task could have run. NaN off Linux."""
    if not os.path.exists("/proc/self/schedstat"):
        return math.nan
    total = 0.0
    for p in psutil.Process().children(recursive=True):
        try:
            if role(" ".join(p.cmdline())) != "executor":
                continue
            with open(f"/proc/{p.pid}/task/{p.pid}/schedstat") as f:
                total += int(f.read().split()[1]) / 1e9
        except (psutil.Error, OSError):
            continue
    return total


def in_order_makespan(task_seconds: list[float], chunk_sizes: list[int], slots: int) -> float:
    """When the last of ``slots`` finishes if consecutive chunks of tasks go, in order, to
    whichever slot is free first (hand-overs cost nothing)."""
    if sum(chunk_sizes) != len(task_seconds):
        raise ValueError("chunk sizes do not cover the tasks")
    free, first = [0.0] * slots, 0
    for size in chunk_sizes:
        slot = free.index(min(free))
        free[slot] += sum(task_seconds[first:first + size])
        first += size
    return max(free)


def cpu_timed(fn, *args) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds of this thread, result) of one call. The CPU time is what
    a kernel costs on one core even when other work shares the machine's cores; it is the
    calling thread's (with 1 thread, Numba's parallel loops and OpenMP run on it) so threads
    a stopped Ray driver or gRPC channel left in this process are not counted."""
    wall, cpu = time.perf_counter(), time.thread_time()
    result = fn(*args)
    return time.perf_counter() - wall, time.thread_time() - cpu, result


def halves_makespan(task_seconds: list[float]) -> float:
    """The longer of two contiguous halves of the tasks (a static 2-thread split)."""
    mid = len(task_seconds) // 2
    return max(sum(task_seconds[:mid]), sum(task_seconds[mid:]))


# ---------------------------------------------------------------- sizes and setups
def sizes_for(quick: bool) -> seed001.Sizes:
    """``native.run``'s sizes; k-means' in-process sample is ``kmeans_sample`` tasks."""
    base = seed001.QUICK if quick else seed001.FULL
    return replace(base, kmeans_rows=5000, kmeans_cols=50, kmeans_k=10, kmeans_iter=35,
                   kmeans_tasks=20, kmeans_starts=5 if quick else 20)


def kmeans_sample(quick: bool) -> int:
    """Tasks timed one after another in this process (of ``kmeans_starts`` starts each)."""
    return 2 if quick else 4


class OneCore(native.Local):
    """This process, one Numba thread, scikit-learn's thread pools limited to 1."""

    name = IN_PROCESS

    def start(self) -> None:
        from threadpoolctl import threadpool_limits
        self.limits = threadpool_limits(limits=1)

    def stop(self) -> None:
        self.limits.restore_original_limits()


def make(name: str):
    return OneCore() if name == IN_PROCESS else native.make(name)


# ---------------------------------------------------------------- measurements
def _add(rec: Recorder, workload: str, system: str, metric: str, value: float,
         check: Check | None = None, unit: str = "s") -> None:
    rec.add(GROUP, workload, metric, unit, "lower", system, value, check)


def _split_run(rec: Recorder, workload: str, system, role, fn, *args) -> Check:
    """One timed cluster run, its wall split by role."""
    before, queued = cpu_by_role(role), executor_queued(role)
    wall, check = timed(fn, *args)
    split = wall_split(wall, system.workers, before, cpu_by_role(role))
    split["queued"] = executor_queued(role) - queued
    split["no work"] = split["idle"] - split["queued"]
    for metric in ("wall", *ROLES):
        _add(rec, workload, system.name, metric, split[metric], check if metric == "wall" else None)
    log.info("[%s] %s: %.3f s, executor CPU %.3f s, idle %.3f s (%s)", workload, system.name,
             wall, split["executor"], split["idle"], check.text)
    return check


def kmeans_in_process(rec: Recorder, s: seed001.Sizes, X: np.ndarray, sample: int) -> None:
    from threadpoolctl import threadpool_info

    from rxgrid.kernels._random import substream, task_key
    from rxgrid.kernels.kmeans import _init_plus_plus
    args = (X, s.kmeans_k, s.kmeans_iter, s.kmeans_starts, seed001.SEED)
    tasks.kmeans_task(*args[:3], 1, seed001.SEED, 0)  # untimed: kernels, imports
    native.sklearn_kmeans_task(*args[:3], 1, seed001.SEED, 0)
    starts = sample * s.kmeans_starts
    rx_wall, rx_cpu, rx = cpu_timed(lambda: [tasks.kmeans_task(*args, t)[0] for t in range(sample)])
    sk_wall, sk_cpu, sk = cpu_timed(lambda: [native.sklearn_kmeans_task(*args, t)
                                             for t in range(sample)])
    keys = [task_key(tasks.peer_seed(seed001.SEED, t), 0) for t in range(sample)]
    _, seeding, _ = cpu_timed(lambda: [_init_plus_plus(X, s.kmeans_k, np.uint64(substream(key, i)))
                                       for key in keys for i in range(s.kmeans_starts)])
    threads = max((p["num_threads"] for p in threadpool_info()), default=1)
    if threads != 1:
        raise RuntimeError(f"a thread pool in this process would use {threads} threads")
    _add(rec, "kmeans", IN_PROCESS, "rxgrid s/start", rx_cpu / starts, seed001.kmeans_check(rx))
    _add(rec, "kmeans", IN_PROCESS, "sklearn s/start", sk_cpu / starts, seed001.kmeans_check(sk))
    _add(rec, "kmeans", IN_PROCESS, "rxgrid wall s/start", rx_wall / starts)
    _add(rec, "kmeans", IN_PROCESS, "sklearn wall s/start", sk_wall / starts)
    _add(rec, "kmeans", IN_PROCESS, "k-means++ s/start", seeding / starts)
    log.info("[kmeans] one core: CPU per start rxgrid %.4f s, sklearn %.4f s (seeding %.4f); "
             "wall %.4f, %.4f", rx_cpu / starts, sk_cpu / starts, seeding / starts,
             rx_wall / starts, sk_wall / starts)


def mandelbrot_in_process(rec: Recorder, s: seed001.Sizes, band_times: list[list[float]]) -> None:
    tasks.mandelbrot_band(40, 10, 0, 2)  # untimed: kernels
    walls, seconds, bands = [], [], []
    for b in range(s.mandel_bands):
        wall, cpu, counts = cpu_timed(tasks.mandelbrot_band, s.mandel_size, s.mandel_lim, b,
                                      s.mandel_bands)
        walls.append(wall)
        seconds.append(cpu)
        bands.append(counts)
    band_times.append(seconds)
    one_core = sum(seconds)
    check = seed001.mandelbrot_check(np.concatenate(bands))
    _add(rec, "mandelbrot", IN_PROCESS, "one-core kernel", one_core, check)
    _add(rec, "mandelbrot", IN_PROCESS, "one-core wall", sum(walls))
    _add(rec, "mandelbrot", IN_PROCESS, "chunked makespan",
         in_order_makespan(seconds, guided_sizes(s.mandel_bands, systems.WORKERS), systems.WORKERS))
    _add(rec, "mandelbrot", IN_PROCESS, "halves makespan", halves_makespan(seconds))
    log.info("[mandelbrot] one core: CPU %.3f s, wall %.3f s over %d bands (%s)", one_core,
             sum(walls), len(seconds), check.text)


def measure_with(rec: Recorder, s: seed001.Sizes, X: np.ndarray, sample: int,
                 band_times: list[list[float]]):
    """``interleave``'s measure: one repetition of ``workload`` on ``system``."""
    def measure(system, workload: str, rnd: int) -> None:
        if system.name not in SETUPS[workload]:
            return
        if system.name == IN_PROCESS:
            if workload == "kmeans":
                kmeans_in_process(rec, s, X, sample)
            else:
                mandelbrot_in_process(rec, s, band_times)
        elif system.name == native.PRANGE:
            out = system(s.mandel_size, s.mandel_lim)
            check = Check(f"sum {out['sum']}, counts #{out['digest']}", out["digest"])
            _add(rec, "mandelbrot", system.name, "wall", out["seconds"], check)
        elif workload == "kmeans":
            native.kmeans_run(system, seed001.TINY, seed001.warm_data(X))  # untimed
            role = ray_role if system.name == native.RAY_SKLEARN else rxgrid_only_role
            _split_run(rec, "kmeans", system, role, native.kmeans_run, system, s, X)
        else:
            seed001.mandelbrot(system, seed001.TINY, None)  # untimed: first calls
            _split_run(rec, "mandelbrot", system, rxgrid_only_role, seed001.mandelbrot, system, s,
                       None)
    return measure


# ---------------------------------------------------------------- the report
class Table:
    """Medians of a Recorder's values by (workload, system, metric)."""

    def __init__(self, rec: Recorder):
        self.items = {(m.workload, m.system, m.metric): m for m in rec.items if m.values}
        self.failed = [m for m in rec.items if m.status != "ok"]

    def med(self, workload: str, system: str, metric: str) -> float | None:
        m = self.items.get((workload, system, metric))
        return m.median if m else None

    def cell(self, workload: str, system: str, metric: str) -> str:
        m = self.items.get((workload, system, metric))
        if m is None:
            return "–"
        return f"{m.median:.3g} ({min(m.values):.3g}–{max(m.values):.3g})"

    def same(self, workload: str, a: tuple[str, str], b: tuple[str, str]) -> bool:
        ma, mb = self.items.get((workload, *a)), self.items.get((workload, *b))
        return bool(ma and mb and same_work(ma.checks, mb.checks))


def _split_table(t: Table, workload: str, names: list[str]) -> list[str]:
    lines = ["| setup | wall (s) | executor CPU (s) | idle executor (s) | of it, queued for a "
             "core (s) | of it, without work (s) | daemon CPU (s) | head CPU (s) | client CPU (s) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name in names:
        cells = " | ".join(t.cell(workload, name, m) for m in ("wall", *ROLES))
        lines.append(f"| {name} | {cells} |")
    return lines


def _gap(t: Table, workload: str, system: str, one_core: float) -> str:
    """``wall - one_core/2`` split into half the extra executor CPU and half the idle."""
    wall, cpu, idle, queued, no_work = (t.med(workload, system, m)
                                        for m in ("wall", "executor", "idle", "queued", "no work"))
    if None in (wall, cpu, idle, queued, no_work):
        return f"{system}: no measurement"
    overhead = sum(t.med(workload, system, r) or 0.0 for r in ("daemon", "head", "client"))
    return (f"{system}: wall {wall:.3g} s is {wall - one_core / 2:+.3g} s over the ideal "
            f"{one_core / 2:.3g} s: executors' CPU beyond the one-core kernel time "
            f"{(cpu - one_core) / 2:+.3g} s (half of {cpu - one_core:+.3g} s), idle executor "
            f"time {idle / 2:.3g} s (half of {idle:.3g} s, of which {queued:.3g} s runnable but "
            f"queued for a core and {no_work:.3g} s without work: medians of each); the daemons, head and "
            f"client used {overhead:.3g} s of CPU on the same 2 cores")


def kmeans_section(t: Table, s: seed001.Sizes, sample: int) -> list[str]:
    w, rx, ray = "kmeans", "rxgrid", native.RAY_SKLEARN
    n = s.kmeans_tasks * s.kmeans_starts
    lines = [f"## k-means {s.kmeans_rows}x{s.kmeans_cols}, k={s.kmeans_k}, iter_max="
             f"{s.kmeans_iter}, {n} starts (goal: rxgrid ≤ {GOAL[w]:.3g} x Ray + scikit-learn)",
             "", f"(a) One core, this process, {sample} tasks of {s.kmeans_starts} starts "
             "(seconds per start; CPU time, wall beside it):", "",
             "| rxgrid kernel | scikit-learn KMeans (incl. seeding) | k-means++ seeding alone "
             "| rxgrid wall | scikit-learn wall | inertias equal |", "|---|---|---|---|---|---|",
             f"| {t.cell(w, IN_PROCESS, 'rxgrid s/start')} | {t.cell(w, IN_PROCESS, 'sklearn s/start')} "
             f"| {t.cell(w, IN_PROCESS, 'k-means++ s/start')} "
             f"| {t.cell(w, IN_PROCESS, 'rxgrid wall s/start')} "
             f"| {t.cell(w, IN_PROCESS, 'sklearn wall s/start')} "
             f"| {t.same(w, (IN_PROCESS, 'rxgrid s/start'), (IN_PROCESS, 'sklearn s/start'))} |",
             "", f"(b) 2 workers, {s.kmeans_tasks} tasks of {s.kmeans_starts} starts:", "",
             *_split_table(t, w, [rx, ray]),
             f"\nBest inertias per task equal on both: {t.same(w, (rx, 'wall'), (ray, 'wall'))}.",
             "", "Conclusions (from the medians):", ""]
    r, q, seed_s = (t.med(w, IN_PROCESS, m) for m in ("rxgrid s/start", "sklearn s/start",
                                                       "k-means++ s/start"))
    w_rx, w_ray = t.med(w, rx, "wall"), t.med(w, ray, "wall")
    if None in (r, q, w_rx, w_ray):
        return [*lines, "- not every setup was measured: no conclusion."]
    kernel = r / q
    lines += [
        f"- Kernel bound: per start rxgrid takes {r:.4g} s, scikit-learn {q:.4g} s (of which "
        f"{seed_s:.4g} s is the shared k-means++ seeding): {kernel:.3f}x. With both sides at "
        f"their ideal 2-core time the ratio would be {kernel:.3f}, "
        + ("so no distribution of the work can reach the goal of "
           if kernel > GOAL[w] else "below the goal of ") + f"{GOAL[w]:.3g}.",
        f"- Measured: rxgrid {w_rx:.3g} s ÷ Ray {w_ray:.3g} s = {w_rx / w_ray:.3f}.",
        f"- {_gap(t, w, rx, n * r)}.",
        f"- {_gap(t, w, ray, n * q)}.",
        f"- Best achievable against this Ray run: rxgrid at its ideal {n * r / 2:.3g} s "
        f"({n} starts x {r:.4g} s / 2) ÷ {w_ray:.3g} s = {n * r / 2 / w_ray:.3f}; against a "
        f"Ray at its ideal too: {kernel:.3f}.",
    ]
    return lines


def mandelbrot_section(t: Table, s: seed001.Sizes, band_times: list[list[float]]) -> list[str]:
    w, rx, pr = "mandelbrot", "rxgrid", native.PRANGE
    lines = [f"## Mandelbrot {s.mandel_size}², {s.mandel_lim} iterations, {s.mandel_bands} bands "
             "(goal: rxgrid on 2 workers no slower than prange on 2 threads)", "",
             "(a) One core, this process, every band timed (CPU s; wall of the sum beside it):", "",
             "| one-core kernel (sum of bands) | ideal 2-core (half) | bands in rxgrid's chunks, "
             "in order to 2 slots | two contiguous halves | one-core wall | prange 2 threads, wall |",
             "|---|---|---|---|---|---|"]
    one = t.med(w, IN_PROCESS, "one-core kernel")
    lines.append(f"| {t.cell(w, IN_PROCESS, 'one-core kernel')} | "
                 f"{one / 2 if one else float('nan'):.3g} | {t.cell(w, IN_PROCESS, 'chunked makespan')} "
                 f"| {t.cell(w, IN_PROCESS, 'halves makespan')} | {t.cell(w, IN_PROCESS, 'one-core wall')} "
                 f"| {t.cell(w, pr, 'wall')} |")
    if band_times:
        per_band = [statistics.median(b) for b in zip(*band_times, strict=True)]
        lines += ["", f"Band times, median over rounds (s): min {min(per_band):.3g}, max "
                  f"{max(per_band):.3g}, chunk sizes {guided_sizes(s.mandel_bands, systems.WORKERS)}."]
    lines += ["", "(b) 2 workers:", "", *_split_table(t, w, [rx]),
              f"\nCounts identical: in-process vs rxgrid "
              f"{t.same(w, (IN_PROCESS, 'one-core kernel'), (rx, 'wall'))}, vs prange "
              f"{t.same(w, (IN_PROCESS, 'one-core kernel'), (pr, 'wall'))}.",
              "", "Conclusions (from the medians):", ""]
    w_rx, w_pr = t.med(w, rx, "wall"), t.med(w, pr, "wall")
    chunked, halves = t.med(w, IN_PROCESS, "chunked makespan"), t.med(w, IN_PROCESS, "halves makespan")
    if None in (one, w_rx, w_pr, chunked):
        return [*lines, "- not every setup was measured: no conclusion."]
    idle, queued, no_work = (t.med(w, rx, m) or 0.0 for m in ("idle", "queued", "no work"))
    lines += [
        f"- Measured: rxgrid {w_rx:.3g} s ÷ prange {w_pr:.3g} s = {w_rx / w_pr:.3f}; rxgrid is "
        f"{w_rx / (one / 2):.3f}x and prange {w_pr / (one / 2):.3f}x the ideal {one / 2:.3g} s.",
        f"- {_gap(t, w, rx, one)}.",
        f"- Imbalance (model, no hand-over cost): the bands in rxgrid's chunk sizes finish at "
        f"{chunked:.3g} s, {chunked - one / 2:+.3g} s over the ideal, i.e. {2 * chunked - one:.3g} s "
        f"of the {idle:.3g} s idle executor time; {queued:.3g} s was queued for a core; of the "
        f"{no_work:.3g} s without work, the rest, {no_work - (2 * chunked - one):.3g} s, is "
        "hand-overs and waiting for the job's chunks. "
        f"Two contiguous halves (prange's static split) would finish at {halves:.3g} s.",
        f"- Best achievable with these chunks: {chunked:.3g} s ÷ prange {w_pr:.3g} s = "
        f"{chunked / w_pr:.3f}.",
    ]
    return lines


def markdown(t: Table, s: seed001.Sizes, args, sample: int, band_times, loads) -> str:
    head = [f"# CPU bounds of the missed goals (`python -m benchmarks.cpu_bounds "
            f"{' '.join(sys.argv[1:])}`)", "",
            f"{args.rounds} interleaved rounds; median (min–max). {os.cpu_count()} CPUs; load "
            f"average {loads[0]:.2f} before, {loads[1]:.2f} after. Idle executor time is "
            "`workers x wall - executor CPU`; CPU is user + system from psutil (for this "
            "process's one-core runs, `time.thread_time`): the kernel times below are CPU "
            "times, so other load on the machine inflates walls and idle time, not them.", ""]
    body = []
    if "kmeans" in args.only:
        body += [*kmeans_section(t, s, sample), ""]
    if "mandelbrot" in args.only:
        body += [*mandelbrot_section(t, s, band_times), ""]
    failed = [f"- {m.workload} on {m.system}: {m.status}" for m in t.failed]
    return "\n".join(head + body + (["## Failures", "", *failed, ""] if failed else []))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", nargs="+", choices=WORKLOADS, default=list(WORKLOADS))
    parser.add_argument("--quick", action="store_true", help="1000² Mandelbrot, 100 starts")
    parser.add_argument("--out", default="benchmarks/CPU_BOUNDS.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, datefmt="%H:%M:%S",
                        format="%(asctime)s %(name)s %(message)s")
    for noisy in ("ray", "distributed", "numba"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    s, sample = sizes_for(args.quick), kmeans_sample(args.quick)
    X = np.random.default_rng(1).standard_normal((s.kmeans_rows, s.kmeans_cols))  # native's X
    rec, band_times, load_before = Recorder(), [], os.getloadavg()[0]
    names = tuple(dict.fromkeys(n for w in WORKLOADS if w in args.only for n in SETUPS[w]))
    interleave(GROUP, Config(quick=args.quick, reps=args.rounds), rec,
               [w for w in WORKLOADS if w in args.only],
               measure_with(rec, s, X, sample, band_times), names, make=make)
    text = markdown(Table(rec), s, args, sample, band_times, (load_before, os.getloadavg()[0]))
    with open(args.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
