"""What the head spends its CPU on: a head run under cProfile for a window, and that
window's profile split into categories.

``python -m benchmarks.headprofile OUT head ARGS...`` runs ``rxgrid head ARGS...`` with a
profiler that SIGUSR1 starts and SIGUSR2 stops, dumping the stats to OUT (written
atomically). A benchmark opens the window around the work it measures
(:class:`ProfileWindow`), so the connect phase and other jobs stay out of it. Nothing in
``rxgrid/`` changes: this wrapper only calls the CLI's ``main``.

Only the head's main thread is profiled, by wall time; the time the loop sleeps in
``epoll.poll`` waiting for work is idle (:data:`IDLE`) and left out of the split. That
thread is the event loop thread, where all of the head's Python runs (gRPC's C core
threads and SQLite's C code are outside the profile except as the time of the builtins
that call them). :func:`categorize` splits
the profile by each function's own time (tottime), grouped by the module it lives in;
a builtin's time goes to the category of the function that called it, from pstats'
per-caller timings, unless the builtin itself names a category (``sqlite3``, protobuf's
``_upb``, ``cygrpc``, ``select``).
"""

from __future__ import annotations

import cProfile
import os
import pstats
import signal
import subprocess
import sys
import time

# (category, substrings of a file path or builtin name); the first that matches wins.
CATEGORIES = [
    ("SQLite", ("sqlite3", "rxgrid/head/store.py")),
    ("gRPC and protobuf", ("/grpc/", "grpc.", "cygrpc", "google/protobuf", "google._upb", "_upb",
                           "rxgrid/_proto/", "rxgrid/head/servicers.py")),
    ("scheduler", ("rxgrid/head/scheduler.py",)),
    ("validation", ("rxgrid/head/validate.py",)),
    ("result handling", ("rxgrid/head/worker_events.py", "rxgrid/head/jobs.py",
                         "rxgrid/head/chunks.py")),
    ("dispatch and bookkeeping", ("rxgrid/head/core.py", "rxgrid/head/workers.py",
                                  "rxgrid/head/watchers.py", "rxgrid/head/metrics.py")),
    ("logging", ("/logging/",)),
    # Time inside Context.run that no profiled function below it took: asyncio's C task
    # steps, and gRPC's Cython coroutines with the protobuf (de)serializing they call (C
    # code called from C makes no profile events). The profile cannot split it further.
    ("C under the event loop (asyncio C tasks, gRPC Cython)", ("_contextvars.Context",)),
    ("asyncio event loop", ("/asyncio/", "selectors.py", "select.epoll", "<built-in method select.")),
]
OTHER = "other"
IDLE = "idle (the loop waiting in epoll)"
IDLE_FUNCTIONS = ("<method 'poll' of 'select.epoll' objects>",)


def _where(func: tuple) -> str:
    filename, _, name = func
    return name if filename == "~" else filename.replace(os.sep, "/")


def category_of(func: tuple, categories: list = CATEGORIES,
                idle: tuple[str, ...] = IDLE_FUNCTIONS) -> str | None:
    """The category of a pstats function key, or None for a builtin that names none.
    Another process's profile (the client's) passes its own ``categories`` and ``idle``
    builtins; the idle category keeps the name :data:`IDLE`."""
    where = _where(func)
    if func[0] == "~" and where in idle:
        return IDLE
    for name, patterns in categories:
        if any(p in where for p in patterns):
            return name
    return None if func[0] == "~" else OTHER


def categorize(stats: pstats.Stats, categories: list = CATEGORIES,
               idle: tuple[str, ...] = IDLE_FUNCTIONS) -> dict[str, float]:
    """Own time (s) per category; a builtin's time goes to its callers' categories."""
    seconds: dict[str, float] = {}
    for func, (_, _, tottime, _, callers) in stats.stats.items():
        own = category_of(func, categories, idle)
        if own is not None or not callers:
            seconds[own or OTHER] = seconds.get(own or OTHER, 0.0) + tottime
            continue
        for caller, timing in callers.items():
            cat = category_of(caller, categories, idle) or OTHER
            seconds[cat] = seconds.get(cat, 0.0) + timing[2]  # (nc, cc, tt, ct)
        # Calls from frames entered before the profile started have no caller entry.
        unknown = tottime - sum(timing[2] for timing in callers.values())
        seconds[OTHER] = seconds.get(OTHER, 0.0) + unknown
    return seconds


def calls(stats: pstats.Stats, filename_part: str, name: str, caller_names: tuple = ()) -> int:
    """How often functions called ``name`` in files containing ``filename_part`` ran (a
    builtin: ``filename_part`` "~" and the name as pstats spells it); with
    ``caller_names``, only the calls from callers of those names."""
    total = 0
    for (filename, _, funcname), (_, ncalls, _, _, callers) in stats.stats.items():
        if filename_part not in filename or funcname != name:
            continue
        if not caller_names:
            total += ncalls
        else:
            total += sum(t[0] for c, t in callers.items() if c[2] in caller_names)  # (nc, cc, tt, ct)
    return total


def counts(stats: pstats.Stats) -> dict[str, int]:
    """SQLite statements and commits, and messages queued for worker streams, in a profile."""
    execute = sum(calls(stats, "~", f"<method '{m}' of 'sqlite3.{cls}' objects>")
                  for m in ("execute", "executemany") for cls in ("Connection", "Cursor"))
    return {
        "sqlite_execute_calls": execute,  # BEGIN and COMMIT included; executemany counts once
        "sqlite_commits": calls(stats, "rxgrid/head/store.py", "_commit"),
        "worker_stream_messages": calls(stats, "asyncio/queues.py", "put_nowait",
                                        ("dispatch", "send")),
    }


def top(stats: pstats.Stats, n: int = 15, categories: list = CATEGORIES,
        idle: tuple[str, ...] = IDLE_FUNCTIONS) -> list[dict]:
    """The ``n`` functions with the most own time."""
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:n]
    return [{"function": _label(func),
             "category": category_of(func, categories, idle) or "(its callers')",
             "calls": v[1], "tottime_s": v[2]} for func, v in rows]


def _label(func: tuple) -> str:
    filename, line, name = func
    if filename == "~":
        return name
    parts = filename.replace(os.sep, "/").split("/")
    short = "/".join(parts[parts.index("rxgrid"):] if "rxgrid" in parts else parts[-2:])
    return f"{short}:{line}({name})"


class ProfileWindow:
    """Opens and closes the profile of a head started with :func:`head_command`."""

    def __init__(self, pid: int, out: str):
        self.pid, self.out = pid, out

    def start(self) -> None:
        os.kill(self.pid, signal.SIGUSR1)
        time.sleep(0.2)  # the handler runs on the head's next pass through its loop

    def stop(self, timeout: float = 60) -> pstats.Stats:
        os.kill(self.pid, signal.SIGUSR2)
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.out):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the head wrote no profile to {self.out}")
            time.sleep(0.1)
        return pstats.Stats(self.out)


def head_command(profile_out: str | None) -> list[str]:
    """The command that starts a head, profiled into ``profile_out`` if given."""
    if profile_out is None:
        return [sys.executable, "-m", "rxgrid"]
    return [sys.executable, "-m", "benchmarks.headprofile", profile_out]


def spawn(command: list[str], args: list[str], log_path: str) -> subprocess.Popen:
    """Start a head or worker in its own session; it exits with this process."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    with open(log_path, "ab") as out:
        return subprocess.Popen([*command, *args, "--log-level", "WARNING", "--parent-pid",
                                 str(os.getpid())], stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, env=env)


def stop(procs: list[subprocess.Popen]) -> None:
    """SIGTERM every process group, then SIGKILL those still there after 10 s."""
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
            proc.wait()


def _run_profiled(out: str, argv: list[str]) -> int:
    # The default (wall) timer: time.thread_time would count CPU only, but it is a system
    # call per event and made the profiled head 7x slower, inflating the functions called
    # most often; the wall clock made it 1.5x. The loop's idle wait is taken out (IDLE).
    profile = cProfile.Profile()

    def start(*_) -> None:
        profile.enable()

    def stop(*_) -> None:
        profile.disable()
        profile.dump_stats(out + ".tmp")
        os.replace(out + ".tmp", out)

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    from rxgrid.cli import main
    return main(argv)


if __name__ == "__main__":
    raise SystemExit(_run_profiled(sys.argv[1], sys.argv[2:]))


def bounds_section(unit: str, units: int, unprofiled_ms: float, profiled: dict,
                   goal_ms: float | None = None) -> list[str]:
    """Markdown for "What bounds the head": the categories in ms per ``unit`` scaled to the
    unprofiled CPU, the top functions, the counts per unit and a conclusion from them."""
    cats = {c: s for c, s in profiled["categories_s"].items() if c != IDLE}
    idle_s = profiled["categories_s"].get(IDLE, 0.0)
    profile_s = sum(cats.values())
    scaled = {c: unprofiled_ms * s / profile_s for c, s in cats.items()}
    order = sorted(scaled, key=lambda c: -scaled[c])
    lines = ["## What bounds the head", "",
             f"Head CPU per {unit}, unprofiled: **{unprofiled_ms:.3f} ms**. Under cProfile the same "
             f"work took {1000 * profiled['profiled_cpu_s'] / units:.3f} ms of head process CPU per "
             f"{unit}; the profile (wall time on the event loop thread) saw "
             f"{1000 * profile_s / units:.3f} ms busy and {1000 * idle_s / units:.3f} ms idle in epoll "
             f"per {unit} (busy wall above the process CPU is time the thread waited for a core, "
             f"which a loaded machine spreads over whatever ran). The split below is the profile's, "
             f"scaled to the unprofiled CPU. A builtin's time counts for the "
             f"category of its caller unless it names one (sqlite3, protobuf, cygrpc, select, "
             f"contextvars).", "",
             f"| category | ms per {unit} (scaled) | share | ms per {unit} (profiled) |", "|---|---|---|---|"]
    for c in order:
        lines.append(f"| {c} | {scaled[c]:.4f} | {100 * cats[c] / profile_s:.1f}% | "
                     f"{1000 * cats[c] / units:.4f} |")
    lines += ["", "Categories by module: " + "; ".join(
        f"{name}: {', '.join(f'`{p}`' for p in patterns)}" for name, patterns in CATEGORIES)
        + f"; {OTHER}: the rest.", "",
        f"Per {unit}: " + ", ".join(f"{k.replace('_', ' ')} {v / units:.2f}"
                                    for k, v in profiled["counts"].items())
        + " (execute calls include BEGIN and COMMIT; an executemany counts once; worker-stream "
          "messages are those queued by `Head.dispatch` and `WorkerSessions.send`).", "",
        f"Top {len(profiled['top'])} functions by own time (profiled):", "",
        f"| function | category | calls per {unit} | own ms per {unit} | share of busy |",
        "|---|---|---|---|---|"]
    for row in profiled["top"]:
        share = "" if row["category"] == IDLE else f"{100 * row['tottime_s'] / profile_s:.1f}%"
        lines.append(f"| `{row['function']}` | {row['category']} | {row['calls'] / units:.2f} | "
                     f"{1000 * row['tottime_s'] / units:.4f} | {share} |")
    lines += ["", _conclusion(unit, unprofiled_ms, scaled, order, goal_ms)]
    return lines


def _conclusion(unit: str, total: float, scaled: dict, order: list[str], goal: float | None) -> str:
    first, second = order[0], order[1] if len(order) > 1 else None
    text = (f"**Conclusion**: {first} dominates, {scaled[first]:.3f} ms of {total:.3f} ms per {unit} "
            f"({100 * scaled[first] / total:.0f}%)")
    if second:
        text += f", {scaled[first] / scaled[second]:.1f}x the next, {second} ({scaled[second]:.3f} ms)"
    text += "."
    if goal is None:
        return text
    if total <= goal:
        return text + f" The goal of {goal:.3g} ms per {unit} is met."
    cut = total - goal
    rest = total - scaled[first]
    if rest <= goal:
        return text + (f" The goal of {goal:.3g} ms per {unit} needs {cut:.3f} ms less: {first} would have "
                       f"to shrink to {scaled[first] - cut:.3f} ms ({100 * cut / scaled[first]:.0f}% less), "
                       f"the rest held where it is.")
    return text + (f" The goal of {goal:.3g} ms per {unit} cannot be met by {first} alone: without it "
                   f"{rest:.3f} ms would remain; every category together has to shrink "
                   f"{total / goal:.1f}x.")
