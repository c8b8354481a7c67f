"""Where the head's and the client's CPU of one trivial round trip goes, function by function.

``python -m benchmarks.roundtrip_profile [--calls 500] [--warmup 50] [--out benchmarks/ROUNDTRIP_PROFILE.md]``

The cluster is ``benchmarks.load --profile``'s: a head under :mod:`benchmarks.headprofile`
and two one-core workers, as ``rxgrid.local(workers=2, cores_per_worker=1)`` starts them
(:func:`benchmarks.load._cluster`). After ``--warmup`` calls, ``cluster.exec(trivial, 1)``
blocks ``--calls`` times unprofiled: psutil gives the head's CPU, the client's (this
process's) and the client's main thread's per round trip, and the wall p50. Then the same
calls run again with the head's profile window open (SIGUSR1/SIGUSR2) and this process's
main thread under cProfile.

Each profile is split by :func:`benchmarks.headprofile.categorize` (the head's categories;
the client's are :data:`CLIENT_CATEGORIES`) and scaled to the unprofiled CPU per round
trip, as ``headprofile.bounds_section`` does. The client's main thread waits for the
outcome in a lock's ``acquire`` (gRPC's rendezvous condition): that is its idle time, left
out as the head's ``epoll.poll`` is. cProfile sees the calling thread only: gRPC's request
consumer thread (which serializes the request) and its C core threads are outside it; their
CPU is the client's total minus its main thread's, given separately. The tables of rxgrid
functions by cumulative time name the hot spots in rxgrid's own code. Writes ``--out``.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import tempfile
import threading
import time

import psutil

from benchmarks import headprofile
from benchmarks.load import _cluster
from benchmarks.tasks import trivial

CLIENT_CATEGORIES = [
    ("pickle", ("cloudpickle", "_pickle", "pickle.py", "copyreg")),
    ("gRPC and protobuf", ("/grpc/", "grpc.", "cygrpc", "google/protobuf", "google._upb", "_upb",
                           "rxgrid/_proto/", "rxgrid/transport/")),
    ("rxgrid client", ("rxgrid/client/",)),
    ("rxgrid (shared modules)", ("rxgrid/",)),
    ("logging", ("/logging/",)),
    ("threading and queues", ("threading.py", "queue.py", "_thread.", "_queue.")),
]
# The main thread blocks here until the outcome arrives.
CLIENT_IDLE = ("<method 'acquire' of '_thread.lock' objects>",)
CLIENT_IDLE_NAME = "idle (waiting for the outcome)"
TOP = 20


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def _main_thread_cpu() -> float:
    me = threading.get_native_id()
    return next(t.user_time + t.system_time for t in psutil.Process().threads() if t.id == me)


def _calls(cluster, n: int, head: psutil.Process) -> dict:
    """``n`` blocking trivial calls: wall per call and CPU seconds of head, client, main thread."""
    head0, client0, main0 = _cpu(head), _cpu(psutil.Process()), _main_thread_cpu()
    walls = []
    for _ in range(n):
        start = time.perf_counter()
        if cluster.exec(trivial, 1) != [1]:
            raise RuntimeError("a trivial call did not answer 1")
        walls.append(time.perf_counter() - start)
    return {"head_s": _cpu(head) - head0, "client_s": _cpu(psutil.Process()) - client0,
            "main_s": _main_thread_cpu() - main0, "p50_ms": 1e3 * statistics.median(walls)}


def rxgrid_cumulative(stats: pstats.Stats, n: int = 15) -> list[dict]:
    """rxgrid's own functions by cumulative time (their callees included)."""
    rows = [(func, v) for func, v in stats.stats.items()
            if "/rxgrid/" in func[0].replace(os.sep, "/") and "/_proto/" not in func[0]]
    rows.sort(key=lambda kv: -kv[1][3])
    return [{"function": headprofile._label(func), "calls": v[1], "cumtime_s": v[3],
             "tottime_s": v[2]} for func, v in rows[:n]]


def _scaled_categories(seconds: dict[str, float], unprofiled_ms: float) -> dict[str, float]:
    busy = {c: s for c, s in seconds.items() if c != headprofile.IDLE}
    total = sum(busy.values()) or 1.0
    return {c: unprofiled_ms * s / total for c, s in sorted(busy.items(), key=lambda kv: -kv[1])}


def _functions_table(title: str, rows: list[dict], calls: int, scale: float | None,
                     cum: bool) -> list[str]:
    """Rows of :func:`headprofile.top` or :func:`rxgrid_cumulative` per round trip; without
    a ``scale`` (times that include waiting) the scaled column is left empty."""
    kind = "cumulative" if cum else "own"
    lines = [title, "", f"| function | calls per round trip | {kind} ms per round trip (scaled) | "
             f"{kind} ms per round trip (profiled) |" + (" own ms (profiled) |" if cum else
                                                          " category |"),
             "|---|---|---|---|---|"]
    for r in rows:
        t = r["cumtime_s"] if cum else r["tottime_s"]
        extra = f"{1e3 * r['tottime_s'] / calls:.4f}" if cum else r["category"].replace(
            headprofile.IDLE, CLIENT_IDLE_NAME)
        scaled = "–" if scale is None else f"{1e3 * t * scale / calls:.4f}"
        lines.append(f"| `{r['function']}` | {r['calls'] / calls:.2f} | {scaled} "
                     f"| {1e3 * t / calls:.4f} | {extra} |")
    return lines + [""]


def client_section(calls: int, plain: dict, profiled: dict, stats: pstats.Stats) -> list[str]:
    """Markdown: the client's main thread split by category, its top functions, and rxgrid's."""
    seconds = headprofile.categorize(stats, CLIENT_CATEGORIES, CLIENT_IDLE)
    main_ms = 1e3 * plain["main_s"] / calls
    busy_s = sum(s for c, s in seconds.items() if c != headprofile.IDLE)
    scale = main_ms / (1e3 * busy_s / calls) if busy_s else 0.0
    lines = ["## What the client spends", "",
             f"Client CPU per round trip, unprofiled: **{1e3 * plain['client_s'] / calls:.3f} ms**, "
             f"of which its main thread {main_ms:.3f} ms and gRPC's other threads (request consumer, "
             f"C core) {1e3 * (plain['client_s'] - plain['main_s']) / calls:.3f} ms. Profiled, the "
             f"main thread was busy {1e3 * busy_s / calls:.3f} ms and waited (lock acquire) "
             f"{1e3 * seconds.get(headprofile.IDLE, 0.0) / calls:.3f} ms per round trip. The split "
             f"below is the main thread's, scaled to its unprofiled CPU ({scale:.2f}x the "
             f"profiled times).", "",
             "| category | ms per round trip (scaled) |", "|---|---|"]
    lines += [f"| {c} | {ms:.4f} |" for c, ms in _scaled_categories(seconds, main_ms).items()]
    lines += ["", "Categories: " + "; ".join(f"{n}: {', '.join(f'`{p}`' for p in ps)}"
                                             for n, ps in CLIENT_CATEGORIES)
              + "; a builtin counts for its caller's category.", ""]
    lines += _functions_table(f"Top {TOP} functions by own time (main thread):",
                              headprofile.top(stats, TOP, CLIENT_CATEGORIES, CLIENT_IDLE), calls,
                              scale, cum=False)
    lines += _functions_table("rxgrid's functions by cumulative time (main thread; those above "
                              "`rpc.py(run)` include the wait for the outcome, so they are not "
                              "scaled):", rxgrid_cumulative(stats), calls, None, cum=True)
    return lines


def head_section(calls: int, plain: dict, profiled: dict, stats: pstats.Stats) -> list[str]:
    """Markdown: headprofile's "What bounds the head" per round trip, and rxgrid's hot spots."""
    head_ms = 1e3 * plain["head_s"] / calls
    seconds = headprofile.categorize(stats)
    section = headprofile.bounds_section("round trip", calls, head_ms, {
        "profiled_cpu_s": profiled["head_s"], "categories_s": seconds,
        "top": headprofile.top(stats, TOP), "counts": headprofile.counts(stats)})
    busy_s = sum(s for c, s in seconds.items() if c != headprofile.IDLE)
    scale = head_ms / (1e3 * busy_s / calls) if busy_s else 0.0
    return section + [""] + _functions_table(
        "rxgrid's functions in the head by cumulative time:", rxgrid_cumulative(stats), calls,
        scale, cum=True)


def run(calls: int, warmup: int) -> tuple[dict, dict, pstats.Stats, pstats.Stats, str]:
    """Unprofiled and profiled calls' figures, the head's and the client's profiles, and the
    folder that holds them as ``head.prof`` and ``client.prof``."""
    out = os.path.join(tempfile.mkdtemp(prefix="rxgrid-rtprof-"), "head.prof")
    with _cluster(out) as (_, pid, cluster):
        head = psutil.Process(pid)
        _calls(cluster, warmup, head)
        plain = _calls(cluster, calls, head)
        window = headprofile.ProfileWindow(pid, out)
        window.start()
        client = cProfile.Profile()
        client.enable()
        profiled = _calls(cluster, calls, head)
        client.disable()
        head_stats = window.stop()
        cluster.close()
    client.dump_stats(os.path.join(os.path.dirname(out), "client.prof"))
    return plain, profiled, head_stats, pstats.Stats(client), os.path.dirname(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.roundtrip_profile",
                                description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=500)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "ROUNDTRIP_PROFILE.md"))
    args = p.parse_args(argv)
    plain, profiled, head_stats, client_stats, folder = run(args.calls, args.warmup)
    n = args.calls
    lines = ["# The round trip, profiled: head and client", "",
             f"`python -m benchmarks.roundtrip_profile --calls {n} --warmup {args.warmup}` on "
             f"{os.cpu_count()} cores ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}): a head "
             f"under the profiler and two one-core workers. Unprofiled: wall p50 "
             f"**{plain['p50_ms']:.3f} ms**, head CPU {1e3 * plain['head_s'] / n:.3f} ms and client "
             f"CPU {1e3 * plain['client_s'] / n:.3f} ms per round trip; profiled: p50 "
             f"{profiled['p50_ms']:.3f} ms, head {1e3 * profiled['head_s'] / n:.3f} ms, client "
             f"{1e3 * profiled['client_s'] / n:.3f} ms. CPU comes in 10 ms ticks: "
             f"{10 / n:.3f} ms per round trip. The profiles: `{folder}/head.prof`, "
             f"`{folder}/client.prof` (read them with `pstats`).", ""]
    lines += head_section(n, plain, profiled, head_stats) + client_section(n, plain, profiled,
                                                                           client_stats)
    text = "\n".join(lines) + "\n"
    with open(args.out, "w") as f:
        f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
