"""How far one head scales: hundreds of simulated workers on this one machine.

``python -m benchmarks.scale [--workers 100 500] [--out benchmarks/SCALE.md]``

Simulated workers (``rxgrid worker --simulate N``) hold real gRPC streams to a real
head, but have no executors: a task "runs" instantly and returns None. What is
measured is the head alone: chunk assignments per second (a job of one-task chunks),
end-to-end tasks per second (a large job with automatic chunking), and the head's CPU
and memory per connected worker (psutil on the head process).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time

import psutil

import rxgrid
from rxgrid.client.local import free_port

log = logging.getLogger("benchmarks.scale")
PER_PROCESS = 100  # simulated workers sharing one process


def _noop(x):
    return x


def _spawn(args: list[str], log_path: str) -> subprocess.Popen:
    with open(log_path, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "rxgrid", *args, "--log-level", "WARNING",
                                 "--parent-pid", str(os.getpid())], stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def measure(workers: int, cores: int, chunks: int, tasks: int) -> dict:
    state = tempfile.mkdtemp(prefix="rxgrid-scale-")
    address = f"127.0.0.1:{free_port()}"
    procs = [_spawn(["head", "--listen", address, "--state-dir", state, "--lease-timeout", "60"],
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
        t0 = time.perf_counter()
        cluster.exec(_noop, rxgrid.each(range(tasks)))
        tasks_s = time.perf_counter() - t0
        return {
            "workers": workers, "slots": workers * cores, "connect_s": connect_s,
            "chunks": chunks, "chunks_per_s": chunks / assign_s,
            "head_cpu_per_chunk_ms": 1000 * ((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)) / chunks,
            "tasks": tasks, "tasks_per_s": tasks / tasks_s,
            "head_rss_mb": rss_connected / 1e6,
            "rss_per_worker_kb": (rss_connected - base_rss) / workers / 1e3,
            "head_peak_rss_mb": head.memory_info().rss / 1e6,
        }
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[100, 500])
    parser.add_argument("--cores", type=int, default=2, help="slots per simulated worker")
    parser.add_argument("--chunks", type=int, default=20_000)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "SCALE.md"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    rows = []
    for n in args.workers:
        log.info("measuring %d simulated workers", n)
        rows.append(measure(n, args.cores, args.chunks, args.tasks))
        log.info("%s", rows[-1])
    lines = ["# Head scale with simulated workers", "",
             f"`python -m benchmarks.scale --workers {' '.join(map(str, args.workers))}` on "
             f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}. Simulated workers hold real "
             f"streams but run no code; {args.cores} slots each.", "",
             "| workers | slots | connect (s) | chunk assignments/s | head CPU per chunk (ms) | "
             "tasks/s (1M, auto chunks) | head RSS (MB) | RSS per worker (kB) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['workers']} | {r['slots']} | {r['connect_s']:.1f} | {r['chunks_per_s']:,.0f} | "
                     f"{r['head_cpu_per_chunk_ms']:.3f} | {r['tasks_per_s']:,.0f} | "
                     f"{r['head_rss_mb']:.0f} | {r['rss_per_worker_kb']:.0f} |")
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
