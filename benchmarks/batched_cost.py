"""What bounds the batched throughput row: wall and CPU per task by process, and where the
client's and the executors' time goes.

``python -m benchmarks.batched_cost [--tasks 100000] [--rounds 3] [--reps 5] [--profile-reps 3]
[--systems rxgrid processpool] [--no-warm-kernels] [--out benchmarks/BATCHED.md]``

The job is the overhead group's ``throughput-batched`` (``benchmarks.overhead``): ``--tasks``
trivial tasks through ``system.map_batched`` (rxgrid: ``cluster.exec(trivial, each(...))``
in its automatic chunks; ProcessPoolExecutor: one ``tasks.run_batch`` per chunk of the same
sizes), the input laid out before the clock starts as the row lays it out
(``System.batched_input``). Rounds are interleaved (``common.interleave``), each system
started for its turn as the row starts it, every turn in a process of its own. In each
round the system's *first* batched job is timed alone (this is what the row measures when
it runs alone: the first job on a freshly started system), then ``--reps`` more (*warm*
jobs). Around each, psutil reads the CPU (user + system) of this process and of every
process it started, by role (``common.cpu_by_role``: client, head, worker daemons,
executors; the pool's workers count as executors), given in microseconds per task. The
executors' CPU is the sum over both: each runs about half of the tasks at the same time.

Then, on one more rxgrid cluster, after one untimed job: the executors' main threads
(switched on and off by a ``per_node`` job, which runs in each worker's one executor) and
this process's main thread run under cProfile for ``--profile-reps`` jobs. Each profile is
split by category with :func:`benchmarks.headprofile.categorize` and scaled to the warm
jobs' unprofiled CPU per task, as ``benchmarks.roundtrip_profile`` does; the executors'
wait for the next chunk (the pipe's ``read``) and the client's wait for the outcome (a lock's
``acquire``) are idle and left out. cProfile sees the main thread only: gRPC's threads in
the client are in the psutil figure, not in the split. CPU comes in 10 ms ticks per process.
Writes ``--out`` and prints it.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time

if __name__ == "__main__":  # not on import (tests): NUMBA_NUM_THREADS=1, PYTHONPATH
    from . import __main__  # noqa: F401

from . import headprofile, machine, systems
from .common import (
    Config,
    Recorder,
    cpu_by_role,
    interleave,
    left_behind,
    rxgrid_role,
    timed,
)
from .roundtrip_profile import CLIENT_CATEGORIES, CLIENT_IDLE
from .tasks import trivial

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GROUP = "batched-cost"
SYSTEMS = ("rxgrid", "processpool")
ROLES = ("client", "head", "daemon", "executor")
ROLE_NAMES = {"client": "client (this process)", "head": "head", "daemon": "worker daemons",
              "executor": "executors (both; pool: its workers)"}
EXECUTOR_CATEGORIES = [
    ("the task (benchmarks/tasks.py trivial)", ("benchmarks/tasks.py",)),
    ("chunk loop (rxgrid/runtime/chunk.py)", ("rxgrid/runtime/chunk.py",)),
    ("per-task seeding state (rxgrid/runtime/seeding.py)", ("rxgrid/runtime/seeding.py",)),
    ("pickle", ("cloudpickle", "_pickle", "pickle.py", "copyreg", "rxgrid/runtime/serialize.py")),
    ("pipe to the daemon", ("multiprocessing/connection.py",)),
    ("executor's message loop (rxgrid/worker/executor.py)", ("rxgrid/worker/executor.py",)),
    ("profile switch (this script)", ("benchmarks/batched_cost.py",)),
]
EXECUTOR_IDLE = ("<built-in method posix.read>",)  # waiting on the pipe for the next chunk
CLIENT_SPLIT = [("this script", ("benchmarks/batched_cost.py",)),
                ("rxgrid's adapter: the failure scan (benchmarks/systems.py)",
                 ("benchmarks/systems.py",)), *CLIENT_CATEGORIES]
TOP = 12


def pool_role(process) -> str | None:
    """The pool's worker processes are its executors (its resource tracker is not)."""
    return None if "resource_tracker" in " ".join(process.cmdline()) else "executor"


ROLE_OF = {"rxgrid": rxgrid_role, "processpool": pool_role}


# ---------------------------------------------------------------- measuring
def batched_input(system, n: int):
    """The row's input, laid out for ``system`` before the clock starts (as ``overhead``)."""
    return system.batched_input([(i,) for i in range(n)])


def batched_job(system, prepared) -> list:
    """The row's timed call."""
    return system.map_batched(trivial, prepared)


def _checked(results: list, system, n: int) -> None:
    """The row's check, outside the timed call as the row makes it."""
    if results != list(range(n)):
        raise RuntimeError(f"{system.name}: {n} trivial tasks did not answer 0..N-1 in order")


def _timed_jobs(system, n: int, jobs: int) -> tuple[list[float], dict[str, float]]:
    """Walls (s) of ``jobs`` batched jobs and the CPU seconds per task of each role."""
    role_of = ROLE_OF.get(system.name, rxgrid_role)
    prepared = batched_input(system, n)
    before, walls, answers = cpu_by_role(role_of, ROLES[1:]), [], []
    for _ in range(jobs):
        seconds, results = timed(batched_job, system, prepared)
        walls.append(seconds)
        answers.append(results)
    after = cpu_by_role(role_of, ROLES[1:])
    for results in answers:  # after the CPU is read: the check is not the row's work
        _checked(results, system, n)
    return walls, {r: (after[r] - before[r]) / (n * jobs) for r in ROLES}


def measure(system, n: int, reps: int, rec: Recorder, rnd: int) -> None:
    """One round: the first job on the fresh system, then ``reps`` warm jobs."""
    for phase, jobs in (("first", 1), ("warm", reps)):
        walls, cpu = _timed_jobs(system, n, jobs)
        chunks = system.chunks_of_last_map()
        for wall in walls:
            rec.add(GROUP, phase, "wall", "s", "lower", system.name, wall, tasks=n, chunks=chunks)
        for role, seconds in cpu.items():
            rec.add(GROUP, phase, role, "us/task", "lower", system.name, seconds * 1e6)
        rec.add(GROUP, phase, "sum", "us/task", "lower", system.name, sum(cpu.values()) * 1e6)
        print(f"{system.name} round {rnd + 1} {phase}: wall {statistics.median(walls):.4f} s, "
              f"{chunks} chunks, CPU us/task " + ", ".join(f"{r} {s * 1e6:.3f}"
                                                        for r, s in cpu.items()), flush=True)


def run(n: int, rounds: int, reps: int, names: tuple[str, ...], warm_kernels: bool) -> Recorder:
    rec = Recorder()
    interleave(GROUP, Config(reps=rounds, systems=names, isolate=True), rec, ["batched"],
               lambda system, _, rnd: measure(system, n, reps, rec, rnd),
               make=lambda name: systems.make(name, warm=warm_kernels))
    return rec


# ---------------------------------------------------------------- profiles
def start_executor_profile() -> int:
    """Run in each executor (``per_node``): profile its main thread from now on. The
    profiler is found again by ``sys.getprofile()``: this module travels by value (it is not
    installed), so a global of it would not outlive the task."""
    cProfile.Profile().enable()
    return os.getpid()


def stop_executor_profile(folder: str) -> str:
    """Run in each executor (``per_node``): stop the profile and write it to ``folder``."""
    running = sys.getprofile()
    running.disable()
    path = os.path.join(folder, f"executor-{os.getpid()}.prof")
    running.dump_stats(path)
    return path


def profile(n: int, jobs: int, warm_kernels: bool) -> dict:
    """The client's and the executors' profiles of ``jobs`` warm batched jobs on a fresh
    rxgrid cluster; the folder that holds them."""
    folder = tempfile.mkdtemp(prefix="rxgrid-batched-prof-")
    with systems.make("rxgrid", warm=warm_kernels) as system:
        prepared = batched_input(system, n)
        _checked(batched_job(system, prepared), system, n)
        cluster = system.cluster
        pids = cluster.exec(start_executor_profile, per_node=True)
        client = cProfile.Profile()
        client.enable()
        answers = [batched_job(system, prepared) for _ in range(jobs)]
        client.disable()
        for results in answers:
            _checked(results, system, n)
        paths = sorted(cluster.exec(stop_executor_profile, folder, per_node=True).values())
    client.dump_stats(os.path.join(folder, "client.prof"))
    if len(set(pids.values())) != len(paths):
        raise RuntimeError(f"profiled executors {pids} but got {paths}")
    return {"folder": folder, "client": pstats.Stats(os.path.join(folder, "client.prof")),
            "executor": pstats.Stats(*paths), "executors": len(paths), "jobs": jobs}


# ---------------------------------------------------------------- the report
def _values(rec: Recorder) -> dict[tuple[str, str, str], list[float]]:
    return {(m.system, m.workload, m.metric): m.values for m in rec.items if m.values}


def _median(found: dict, *key) -> float | None:
    values = found.get(key)
    return statistics.median(values) if values else None


def _cell(values: list[float] | None, scale: float = 1.0, digits: int = 3) -> str:
    if not values:
        return "–"
    v = [x * scale for x in values]
    return f"{statistics.median(v):.{digits}f} ({min(v):.{digits}f}–{max(v):.{digits}f})"


def _split_lines(title: str, stats: pstats.Stats, categories: list, idle: tuple,
                 us_per_task: float, tasks: int) -> list[str]:
    """A profile's categories scaled to ``us_per_task`` of unprofiled CPU, and its top
    functions by own time (per task, profiled and scaled)."""
    busy, waited = _busy(stats, categories, idle)
    total = sum(busy.values()) or 1.0
    scale = us_per_task / (1e6 * total / tasks)
    lines = [title, "", f"Profiled: busy {1e6 * total / tasks:.3f} us per task, idle "
             f"{1e6 * waited / tasks:.3f}; scaled to the unprofiled "
             f"{us_per_task:.3f} us of CPU per task ({scale:.2f}x the profiled times).", "",
             "| category | us per task (scaled) | share |", "|---|---|---|"]
    for c, s in sorted(busy.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {c} | {us_per_task * s / total:.4f} | {100 * s / total:.0f}% |")
    lines += ["", f"Top {TOP} functions by own time:", "",
              "| function | calls per task | own us per task (scaled) | category |",
              "|---|---|---|---|"]
    for r in headprofile.top(stats, TOP, categories, idle):
        category = r["category"].replace(headprofile.IDLE, "idle (waiting, not scaled)")
        own = r["tottime_s"] * (1 if category.startswith("idle") else scale)
        lines.append(f"| `{r['function']}` | {r['calls'] / tasks:.3f} | "
                     f"{1e6 * own / tasks:.4f} | {category} |")
    return lines + [""]


def _busy(stats: pstats.Stats, categories: list, idle: tuple) -> tuple[dict[str, float], float]:
    """A profile's own seconds by busy category, and its idle seconds."""
    seconds = headprofile.categorize(stats, categories, idle)
    waited = seconds.pop(headprofile.IDLE, 0.0)
    return seconds, waited


def shares(stats: pstats.Stats, categories: list, idle: tuple) -> dict[str, float]:
    """Each busy category's share of a profile's busy time."""
    busy, _ = _busy(stats, categories, idle)
    total = sum(busy.values()) or 1.0
    return {c: s / total for c, s in sorted(busy.items(), key=lambda kv: -kv[1])}


def conclusion(found: dict, n: int, profiled: dict | None) -> str:
    """One line: what the row's time is made of, and which process bounds it, from the medians."""
    first, warm = (_median(found, "rxgrid", p, "wall") for p in ("first", "warm"))
    if first is None:
        return "**Conclusion**: rxgrid was not measured: nothing to conclude."
    pool = _median(found, "processpool", "first", "wall")
    # The executors run side by side, each about half the tasks: their share of the wall is
    # half their summed CPU; the others' work is on the path once.
    path = {r: (_median(found, "rxgrid", "warm", r) or 0.0) * n / 1e6 for r in ROLES}
    path["executor"] /= 2
    top = max(path, key=path.get)
    said = (f"the row (the first batched job on a fresh cluster) takes {first:.3f} s"
            + (f" against ProcessPool's {pool:.3f} s ({first / pool:.1f}x; the goal is at most "
               f"3.3x)" if pool else "")
            + f"; a warm job {warm:.3f} s, so {max(0.0, first - warm):.3f} s is the first job's "
            f"own cost. In a warm job {sum(path.values()):.3f} s of CPU is on the path ("
            + ", ".join(f"{r} {s:.3f}" for r, s in path.items())
            + f" s; the executors' halved) and the {top} bounds it")
    if profiled is not None and top in ("client", "executor"):
        cats = shares(profiled[top], EXECUTOR_CATEGORIES if top == "executor" else CLIENT_SPLIT,
                      EXECUTOR_IDLE if top == "executor" else CLIENT_IDLE)
        name, share = next(iter(cats.items()))
        said += f", {share:.0%} of its CPU in {name}"
    return "**Conclusion**: " + said[0].upper() + said[1:] + "."


def markdown(rec: Recorder, n: int, rounds: int, reps: int, names: tuple[str, ...],
             profiled: dict | None, command: str) -> str:
    found = _values(rec)
    lines = [f"# The batched throughput row: what bounds it ({GROUP})", "",
             f"`{command}`: {n:,} trivial tasks per job in rxgrid's automatic chunks, "
             f"{rounds} interleaved rounds, each on a freshly started system: its first job, "
             f"then {reps} warm jobs; median (min–max) over jobs (walls) or rounds (CPU). "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average at the end "
             f"{os.getloadavg()[0]:.2f} (other processes share this machine); machine: "
             f"{machine.facts()}. CPU comes in 10 ms ticks per process: "
             f"{1e4 / n:.3f} us per task for a first job.", "",
             "## Wall per job (s)", "", "| system | chunks | first job (the row) | warm jobs |",
             "|---|---|---|---|"]
    for name in names:
        chunks = next((m.params.get("chunks") for m in rec.items
                       if m.system == name and m.metric == "wall"), "–")
        lines.append(f"| {name} | {chunks} | {_cell(found.get((name, 'first', 'wall')))} | "
                     f"{_cell(found.get((name, 'warm', 'wall')))} |")
    failed = [f"{m.system}: {m.status}" for m in rec.items if m.status != "ok"]
    lines += [*(f"\n{f}" for f in failed), "", "## Per task (us)", "",
              "| | " + " | ".join(f"{s} {p}" for s in names for p in ("first", "warm")) + " |",
              "|---" * (2 * len(names) + 1) + "|"]
    wall_us = " | ".join(_cell(found.get((s, p, "wall")), 1e6 / n) for s in names
                         for p in ("first", "warm"))
    lines.append(f"| wall | {wall_us} |")
    for role in (*ROLES, "sum"):
        title = "**CPU sum**" if role == "sum" else f"CPU {ROLE_NAMES[role]}"
        lines.append(f"| {title} | " + " | ".join(_cell(found.get((s, p, role)))
                                                  for s in names for p in ("first", "warm"))
                     + " |")
    if profiled is not None:
        tasks = n * profiled["jobs"]
        lines += ["", f"## Profiles of {profiled['jobs']} warm rxgrid jobs", "",
                  f"The profiles: `{profiled['folder']}/client.prof` and "
                  f"`{profiled['folder']}/executor-*.prof` ({profiled['executors']} executors; "
                  "read them with `pstats`).", ""]
        lines += _split_lines("### The executors' main threads (both, summed)",
                              profiled["executor"], EXECUTOR_CATEGORIES, EXECUTOR_IDLE,
                              _median(found, "rxgrid", "warm", "executor") or 0.0, tasks)
        lines += _split_lines("### The client's main thread (its gRPC threads are not in it)",
                              profiled["client"], CLIENT_SPLIT, CLIENT_IDLE,
                              _median(found, "rxgrid", "warm", "client") or 0.0, tasks)
    lines += ["## Conclusion", "", conclusion(found, n, profiled), ""]
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.batched_cost",
                                description=__doc__.splitlines()[0])
    p.add_argument("--tasks", type=int, default=100_000, help="trivial tasks per job")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds, each on a fresh system")
    p.add_argument("--reps", type=int, default=5, help="warm jobs per round after the first")
    p.add_argument("--profile-reps", type=int, default=3, help="profiled warm jobs (0: none)")
    p.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    p.add_argument("--warm-kernels", action=argparse.BooleanOptionalAction, default=True,
                   help="start the systems with their Numba kernels loaded, as the row does")
    p.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "BATCHED.md"))
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    names = tuple(s for s in SYSTEMS if s in args.systems)
    rec = run(args.tasks, args.rounds, args.reps, names, args.warm_kernels)
    profiled = (profile(args.tasks, args.profile_reps, args.warm_kernels)
                if args.profile_reps and "rxgrid" in names else None)
    text = markdown(rec, args.tasks, args.rounds, args.reps, names, profiled,
                    " ".join(["python -m benchmarks.batched_cost", *argv]))
    left = left_behind()
    text += f"\nProcesses left behind: {left or 'none'}.\n"
    with open(args.out, "w") as f:
        f.write(text)
    print(text)
    return 0 if not left and all(m.status == "ok" for m in rec.items) else 1


if __name__ == "__main__":
    sys.exit(main())
