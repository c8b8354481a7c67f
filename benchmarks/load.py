"""Load: many client processes submitting non-blocking jobs to one head at once.

``python -m benchmarks.load [--clients 100] [--jobs 20] [--tasks 500] [--out benchmarks/LOAD.md]``

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
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time

import psutil

import rxgrid

CLIENT = r"""
import json, sys, time, rxgrid
from benchmarks.load import triple
address, jobs, tasks, me = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
cluster = rxgrid.connect(address, retry_deadline=120)
submitted = [cluster.exec(triple, rxgrid.each(range(tasks)), me * jobs + j, job_id=f"load-{me}-{j}",
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "LOAD.md"))
    args = parser.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with rxgrid.local(workers=2, cores_per_worker=1, log_level="WARNING") as cluster:
        head = psutil.Process(cluster.pid("head"))
        peak, stop = [head.memory_info().rss], threading.Event()

        def sample() -> None:
            while not stop.wait(0.2):
                peak.append(head.memory_info().rss)
        threading.Thread(target=sample, daemon=True).start()
        started = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-c", CLIENT, cluster.address, str(args.jobs),
                                   str(args.tasks), str(i)], stdout=subprocess.PIPE,
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
        elapsed = time.perf_counter() - started
        for report in reports:
            if report.get("first"):
                print("wrong results:", report["first"], file=sys.stderr)
        stop.set()
        stored = len([j for j in cluster.jobs() if j.id.startswith("load-")])
    total = args.clients * args.jobs * args.tasks
    counts = tally(reports, args.clients, args.jobs)
    ok = (counts["proved"] == args.clients * args.jobs
          and not any(counts[k] for k in ("missing", "duplicated", "unknown", "wrong", "failed clients")))
    lines = [
        "# Load: many clients, one head", "",
        f"`python -m benchmarks.load --clients {args.clients} --jobs {args.jobs} --tasks {args.tasks}` "
        f"on {os.cpu_count()} cores ({time.strftime('%Y-%m-%d')}); `rxgrid.local(workers=2)`.", "",
        "| clients | jobs | tasks | wall (s) | jobs/s | tasks/s | jobs proved back once | missing | "
        "duplicated | unknown | wrong | jobs stored | head peak RSS (MB) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        f"| {args.clients} | {args.clients * args.jobs} | {total:,} | {elapsed:.1f} | "
        f"{args.clients * args.jobs / elapsed:.1f} | {total / elapsed:,.0f} | "
        f"{'yes' if ok else 'NO'}: {counts['proved']} | {counts['missing']} | {counts['duplicated']} | "
        f"{counts['unknown']} | {counts['wrong']} | {stored} | {max(peak) / 1e6:.0f} |",
    ]
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    if not ok:
        raise SystemExit("load run found wrong or missing results")


if __name__ == "__main__":
    main()
