"""How far one head scales: hundreds of simulated workers on this one machine.

``python -m benchmarks.scale [--workers 100 500] [--profile] [--out benchmarks/SCALE.md]``

Simulated workers (``rxgrid worker --simulate N``) hold real gRPC streams to a real
head, but have no executors: a task "runs" instantly and returns None. What is
measured is the head alone: chunk assignments per second (a job of one-task chunks),
end-to-end tasks per second (a large job with automatic chunking), and the head's CPU
and memory per connected worker (psutil on the head process).

With ``--profile`` the head runs under :mod:`benchmarks.headprofile`, and a second
one-task-chunk job of the same size runs inside a profile window: the section "What
bounds the head" splits the head's CPU per chunk into categories (scaled to the CPU the
unprofiled job took, since cProfile slows the Python it profiles), lists the functions
with the most own time, and counts SQLite statements and commits and worker-stream
messages per chunk.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time

import psutil

import rxgrid
from benchmarks import headprofile
from rxgrid.client.local import free_port

log = logging.getLogger("benchmarks.scale")
PER_PROCESS = 100  # simulated workers sharing one process
GOAL_MS_PER_CHUNK = 0.1  # head CPU per chunk at 1,000 workers (README, head goals)


def _noop(x):
    return x


def _spawn(args: list[str], log_path: str) -> subprocess.Popen:
    return headprofile.spawn([sys.executable, "-m", "rxgrid"], args, log_path)


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def _profiled_chunks(cluster, head: psutil.Process, chunks: int, out: str) -> dict:
    """The one-task-chunk job again, inside the head's profile window."""
    window = headprofile.ProfileWindow(head.pid, out)
    window.start()
    cpu0 = _cpu(head)
    cluster.exec(_noop, rxgrid.each(range(chunks)), chunk_size=1)
    cpu = _cpu(head) - cpu0
    stats = window.stop()
    return {"profiled_cpu_s": cpu, "categories_s": headprofile.categorize(stats),
            "top": headprofile.top(stats), "counts": headprofile.counts(stats)}


def measure(workers: int, cores: int, chunks: int, tasks: int, profile: bool = False) -> dict:
    state = tempfile.mkdtemp(prefix="rxgrid-scale-")
    address = f"127.0.0.1:{free_port()}"
    profile_out = os.path.join(state, "head.prof") if profile else None
    procs = [headprofile.spawn(headprofile.head_command(profile_out),
                               ["head", "--listen", address, "--state-dir", state, "--lease-timeout", "60"],
                               os.path.join(state, "head.log"))]
    try:
        cluster = rxgrid.connect(address, retry_deadline=60)
        head = psutil.Process(procs[0].pid)
        base_rss = head.memory_info().rss
        for first in range(0, workers, PER_PROCESS):
            n = min(PER_PROCESS, workers - first)
            procs.append(_spawn(["worker", "--head", address, "--simulate", str(n), "--cores",
                                 str(cores), "--name", f"sim{first}"], os.path.join(state, "w.log")))
        started = time.monotonic()
        while len(cluster.workers()) < workers:
            if time.monotonic() - started > 300:
                raise RuntimeError(f"only {len(cluster.workers())} of {workers} workers connected")
            time.sleep(0.2)
        connect_s = time.monotonic() - started
        rss_connected = head.memory_info().rss
        cpu0 = head.cpu_times()
        t0 = time.perf_counter()
        cluster.exec(_noop, rxgrid.each(range(chunks)), chunk_size=1)
        assign_s = time.perf_counter() - t0
        cpu1 = head.cpu_times()
        profiled = _profiled_chunks(cluster, head, chunks, profile_out) if profile else None
        t0 = time.perf_counter()
        cluster.exec(_noop, rxgrid.each(range(tasks)))
        tasks_s = time.perf_counter() - t0
        return {"profile": profiled,
            "workers": workers, "slots": workers * cores, "connect_s": connect_s,
            "chunks": chunks, "chunks_per_s": chunks / assign_s,
            "head_cpu_per_chunk_ms": 1000 * ((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)) / chunks,
            "tasks": tasks, "tasks_per_s": tasks / tasks_s,
            "head_rss_mb": rss_connected / 1e6,
            "rss_per_worker_kb": (rss_connected - base_rss) / workers / 1e3,
            "head_peak_rss_mb": head.memory_info().rss / 1e6,
        }
    finally:
        headprofile.stop(procs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[100, 500])
    parser.add_argument("--cores", type=int, default=2, help="slots per simulated worker")
    parser.add_argument("--chunks", type=int, default=20_000)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--profile", action="store_true",
                        help="profile the head during a second one-task-chunk job")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "SCALE.md"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    rows = []
    for n in args.workers:
        log.info("measuring %d simulated workers", n)
        rows.append(measure(n, args.cores, args.chunks, args.tasks, args.profile))
        log.info("%s", {k: v for k, v in rows[-1].items() if k != "profile"})
    flags = f" --chunks {args.chunks} --tasks {args.tasks}" + (" --profile" if args.profile else "")
    lines = ["# Head scale with simulated workers", "",
             f"`python -m benchmarks.scale --workers {' '.join(map(str, args.workers))}{flags}` on "
             f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}. Simulated workers hold real "
             f"streams but run no code; {args.cores} slots each.", "",
             "| workers | slots | connect (s) | chunk assignments/s | head CPU per chunk (ms) | "
             "tasks/s (1M, auto chunks) | head RSS (MB) | RSS per worker (kB) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['workers']} | {r['slots']} | {r['connect_s']:.1f} | {r['chunks_per_s']:,.0f} | "
                     f"{r['head_cpu_per_chunk_ms']:.3f} | {r['tasks_per_s']:,.0f} | "
                     f"{r['head_rss_mb']:.0f} | {r['rss_per_worker_kb']:.0f} |")
    for r in rows:
        if r["profile"]:
            section = headprofile.bounds_section("chunk", r["chunks"], r["head_cpu_per_chunk_ms"],
                                                 r["profile"], GOAL_MS_PER_CHUNK)
            section[0] += f" ({r['workers']} workers, one-task chunks)"
            lines += ["", *section]
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
