"""Load: many client processes submitting non-blocking jobs to one head at once.

``python -m benchmarks.load [--clients 100] [--jobs 20] [--tasks 500] [--profile] [--out benchmarks/LOAD.md]``

Every client process submits ``--jobs`` non-blocking jobs of ``--tasks`` trivial tasks
(100 x 20 x 500 = 1 million tasks by default), then collects every result and checks
it. The head's peak RSS is sampled all along. It stops by itself: each client has a
deadline, and the cluster is torn down at the end whatever happened.

Each job's tasks compute ``3 * i + offset`` with an offset of its own (client x jobs +
job), so its results say which job they came from. A client reports, for every result
list it got back, the job that list proves it belongs to (or that it is wrong); the run
then checks that every submitted job came back exactly once, none twice, none missing,
none that was never submitted (:func:`tally`). A head that mixed up two jobs' results,
lost one or answered one twice fails it.

The head's CPU (psutil, user + system) over the run gives head CPU per job. With
``--profile`` the head runs under :mod:`benchmarks.headprofile` (a head and two
one-core workers started here, as ``rxgrid.local(workers=2)`` would) and the load runs
a second time inside a profile window, checked the same way: "What bounds the head"
splits the head's CPU per job into categories, scaled to the first, unprofiled round.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import psutil

import rxgrid
from benchmarks import headprofile
from rxgrid.client.local import free_port

GOAL_JOBS_PER_S = 60  # 3x the 20 jobs/s of 2026-11-22 (README, head goals)

CLIENT = r"""
import json, sys, time, rxgrid
from benchmarks.load import triple
address, jobs, tasks, me, tag = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
cluster = rxgrid.connect(address, retry_deadline=120)
submitted = [cluster.exec(triple, rxgrid.each(range(tasks)), me * jobs + j, job_id=f"{tag}-{me}-{j}",
                          wait=False) for j in range(jobs)]
proved, bad, first = [], 0, None
for job in submitted:
    got = job.result(timeout=1800)
    owner = got[0] if got else None  # 3 * 0 + offset: the job these results belong to
    if got == [3 * i + owner for i in range(tasks)]:
        proved.append(owner)
    else:
        bad += 1
        first = first or f"{job.id}: {len(got)} results, first {got[:3]}"
print(json.dumps({"client": me, "jobs": len(submitted), "proved": proved, "bad": bad, "first": first}))
"""


def triple(i: int, offset: int) -> int:
    return 3 * i + offset


def tally(reports: list[dict], clients: int, jobs: int) -> dict:
    """How the jobs the clients proved they got back compare with the jobs submitted:
    counts of missing, duplicated and unknown jobs, and of wrong result lists."""
    from collections import Counter
    got = Counter(owner for r in reports for owner in r.get("proved", []))
    expected = set(range(clients * jobs))
    return {"proved": sum(got.values()), "missing": len(expected - set(got)),
            "duplicated": sum(n - 1 for n in got.values() if n > 1),
            "unknown": len(set(got) - expected), "wrong": sum(max(r["bad"], 0) for r in reports),
            "failed clients": sum(r["bad"] < 0 for r in reports)}


@contextlib.contextmanager
def _cluster(profile_out: str | None):
    """(address, head pid, cluster): ``rxgrid.local(workers=2)``, or the same cluster with a
    head under the profiler when ``profile_out`` is given."""
    if profile_out is None:
        with rxgrid.local(workers=2, cores_per_worker=1, log_level="WARNING") as cluster:
            yield cluster.address, cluster.pid("head"), cluster
        return
    state = tempfile.mkdtemp(prefix="rxgrid-load-")
    address = f"127.0.0.1:{free_port()}"
    log = os.path.join(state, "cluster.log")
    procs = [headprofile.spawn(headprofile.head_command(profile_out),
                               ["head", "--listen", address, "--state-dir", state], log)]
    try:
        procs += [headprofile.spawn([sys.executable, "-m", "rxgrid"],
                                    ["worker", "--head", address, "--name", f"w{i}", "--cores", "1",
                                     "--no-warm-kernels"], log) for i in range(2)]
        cluster = rxgrid.connect(address, retry_deadline=60)
        while len(cluster.workers()) < 2:
            time.sleep(0.1)
        yield address, procs[0].pid, cluster
    finally:
        headprofile.stop(procs)


def _round(address: str, head: psutil.Process, args, tag: str, peak: list) -> dict:
    """Every client submits and checks its jobs (ids ``tag-client-job``); the wall time,
    the head's CPU over it and the clients' reports."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.2):
            peak.append(head.memory_info().rss)
    threading.Thread(target=sample, daemon=True).start()
    cpu0, started = head.cpu_times(), time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", CLIENT, address, str(args.jobs),
                               str(args.tasks), str(i), tag], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True,
                              cwd=root, env={**os.environ, "PYTHONPATH": root},
                              start_new_session=True) for i in range(args.clients)]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=3600)
        if proc.returncode != 0:
            print(f"client failed ({proc.returncode}):\n{err[-2000:]}", file=sys.stderr)
        reports.append(json.loads(out.strip().splitlines()[-1]) if proc.returncode == 0
                       else {"bad": -1, "jobs": 0, "proved": []})
    elapsed, cpu1 = time.perf_counter() - started, head.cpu_times()
    stop.set()
    for report in reports:
        if report.get("first"):
            print("wrong results:", report["first"], file=sys.stderr)
    counts = tally(reports, args.clients, args.jobs)
    ok = (counts["proved"] == args.clients * args.jobs
          and not any(counts[k] for k in ("missing", "duplicated", "unknown", "wrong", "failed clients")))
    return {"elapsed": elapsed, "counts": counts, "ok": ok,
            "head_cpu_s": (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)}


def _profiled_round(address: str, head: psutil.Process, args, out: str, peak: list) -> dict:
    """The same load again, inside the head's profile window."""
    window = headprofile.ProfileWindow(head.pid, out)
    window.start()
    run = _round(address, head, args, "load-profiled", peak)
    stats = window.stop()
    return {**run, "profiled_cpu_s": run["head_cpu_s"], "categories_s": headprofile.categorize(stats),
            "top": headprofile.top(stats), "counts_profile": headprofile.counts(stats)}


def _head_bound(core_share: float, jobs_per_s: float) -> str:
    """Whether the head's CPU can be what bounds jobs/s: its event loop has one core."""
    if core_share >= 0.8:
        return (f"The head kept its one event loop core {100 * core_share:.0f}% busy: its CPU per job "
                f"bounds jobs/s (at most {jobs_per_s / core_share:.1f} jobs/s at this CPU per job).")
    return (f"The head used {100 * core_share:.0f}% of one core: at this size its CPU is not what "
            f"bounds jobs/s (clients, workers and waits are); at 100% it would allow "
            f"{jobs_per_s / core_share:.1f} jobs/s at this CPU per job.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--profile", action="store_true",
                        help="run the load again with the head profiled, and split its CPU per job")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "LOAD.md"))
    args = parser.parse_args()
    profile_out = os.path.join(tempfile.mkdtemp(prefix="rxgrid-load-prof-"), "head.prof") \
        if args.profile else None
    with _cluster(profile_out) as (address, pid, cluster):
        head = psutil.Process(pid)
        peak = [head.memory_info().rss]
        run = _round(address, head, args, "load", peak)
        profiled = _profiled_round(address, head, args, profile_out, peak) if args.profile else None
        stored = len([j for j in cluster.jobs() if j.id.startswith("load-") and "profiled" not in j.id])
    jobs, total = args.clients * args.jobs, args.clients * args.jobs * args.tasks
    counts, elapsed, ok = run["counts"], run["elapsed"], run["ok"] and (not profiled or profiled["ok"])
    cpu_per_job_ms = 1000 * run["head_cpu_s"] / jobs
    lines = [
        "# Load: many clients, one head", "",
        f"`python -m benchmarks.load --clients {args.clients} --jobs {args.jobs} --tasks {args.tasks}"
        f"{' --profile' if args.profile else ''}` on {os.cpu_count()} cores ({time.strftime('%Y-%m-%d')}); "
        + ("a head under the profiler and two one-core workers, as `rxgrid.local(workers=2)` starts them."
           if args.profile else "`rxgrid.local(workers=2)`."), "",
        "| clients | jobs | tasks | wall (s) | jobs/s | tasks/s | jobs proved back once | missing | "
        "duplicated | unknown | wrong | jobs stored | head peak RSS (MB) | head CPU per job (ms) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        f"| {args.clients} | {jobs} | {total:,} | {elapsed:.1f} | "
        f"{jobs / elapsed:.1f} | {total / elapsed:,.0f} | "
        f"{'yes' if ok else 'NO'}: {counts['proved']} | {counts['missing']} | {counts['duplicated']} | "
        f"{counts['unknown']} | {counts['wrong']} | {stored} | {max(peak) / 1e6:.0f} | "
        f"{cpu_per_job_ms:.2f} |",
        "", f"Head CPU: {run['head_cpu_s']:.1f} s over {elapsed:.1f} s of wall time "
        f"({100 * run['head_cpu_s'] / elapsed:.0f}% of one core), {1000 * run['head_cpu_s'] / total:.4f} ms "
        f"per task. " + _head_bound(run["head_cpu_s"] / elapsed, jobs / elapsed),
    ]
    if profiled:
        # If the head's one event loop thread is the bound, the goal allows this much CPU per job.
        section = headprofile.bounds_section("job", jobs, cpu_per_job_ms,
                                             {**profiled, "counts": profiled["counts_profile"]},
                                             1000 / GOAL_JOBS_PER_S)
        section[0] += f" ({args.clients} clients x {args.jobs} jobs of {args.tasks} tasks)"
        section[1:1] = ["", f"The goal of {GOAL_JOBS_PER_S} jobs/s leaves the head's one event loop core "
                            f"{1000 / GOAL_JOBS_PER_S:.1f} ms of CPU per job; that is the budget the "
                            f"conclusion compares with."]
        lines += ["", *section]
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    if not ok:
        raise SystemExit("load run found wrong or missing results")


if __name__ == "__main__":
    main()
