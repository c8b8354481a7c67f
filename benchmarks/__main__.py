"""``python -m benchmarks``: run the benchmark groups and write the results.

The environment is set before anything imports Numba: every process this run starts
(rxgrid executors, Ray and Dask workers, pool workers) inherits 1 Numba thread, so
each system has 2 workers of 1 core, and the repository root on ``PYTHONPATH``, so
every worker imports ``benchmarks.tasks`` by reference.
"""

from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ["NUMBA_NUM_THREADS"] = "1"
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)

import argparse  # noqa: E402
import logging  # noqa: E402
import time  # noqa: E402

from . import GROUPS, machine, report, systems  # noqa: E402
from .common import Config, Recorder, left_behind  # noqa: E402

log = logging.getLogger("benchmarks")


def parse_args(argv: list[str]) -> argparse.Namespace:
    names = [g.GROUP for g in GROUPS] + [w for g in GROUPS for w in g.WORKLOADS]
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes (a few minutes)")
    p.add_argument("--smoke", action="store_true",
                   help="tiny sizes: checks the harness (results equal, rounds interleaved) in "
                        "a minute or two; the timings mean nothing")
    p.add_argument("--only", nargs="+", metavar="NAME", choices=sorted(set(names)),
                   help="groups or workloads to run: " + ", ".join(dict.fromkeys(names)))
    p.add_argument("--systems", nargs="+", choices=systems.ALL, default=list(systems.ALL),
                   help="systems to run (default: all)")
    p.add_argument("--reps", type=int, default=3,
                   help="rounds: repetitions per measurement, interleaved across systems (>= 3)")
    p.add_argument("--keep-up", action=argparse.BooleanOptionalAction, default=None,
                   help="keep every system of a group up for all its rounds (faster; the "
                        "others sit idle during a measurement) instead of starting each for "
                        "its turn; default: on with --quick, off otherwise")
    p.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "RESULTS.md"),
                   help="Markdown output; its raw values go beside it (RESULTS.md: results.json, "
                        "RESULTS-x.md: RESULTS-x.json)")
    args = p.parse_args(argv)
    if args.reps < 3:
        p.error("--reps must be at least 3 (the report gives medians)")
    return args


def selected(group, only: list[str] | None) -> set[str]:
    """The workloads of ``group`` that ``--only`` asks for (all when not given)."""
    if not only or group.GROUP in only:
        return set(group.WORKLOADS)
    return set(group.WORKLOADS) & set(only)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, datefmt="%H:%M:%S",
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for noisy in ("distributed", "ray"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    keep_up = (args.quick or args.smoke) if args.keep_up is None else args.keep_up
    cfg = Config(quick=args.quick, reps=args.reps, systems=tuple(args.systems), keep_up=keep_up,
                 smoke=args.smoke, isolate=not keep_up)
    rec = Recorder()
    started, t0 = time.strftime("%Y-%m-%d %H:%M:%S"), time.perf_counter()
    facts = machine.facts()
    log.info("machine: %s", facts)
    for group in GROUPS:
        only = selected(group, args.only)
        if only:
            log.info("== group %s: %s", group.GROUP, ", ".join(sorted(only)))
            group.run(cfg, rec, only)
    meta = {"command": "python -m benchmarks " + " ".join(sys.argv[1:] if argv is None else argv),
            "quick": args.quick or args.smoke, "smoke": args.smoke, "reps": args.reps,
            "keep_up": keep_up, "started": started,
            "seconds": time.perf_counter() - t0, "machine": facts,
            "descriptions": {g.GROUP: " ".join(g.__doc__.split("\n\n")[0].split()) for g in GROUPS},
            "isolate": cfg.isolate,
            "leftovers": left_behind()}
    out = os.path.abspath(args.out)
    # RESULTS.md -> results.json; any other name -> the same name with .json (RESULTS-x.json)
    json_path = (os.path.join(os.path.dirname(out), "results.json") if os.path.basename(out) == "RESULTS.md"
                 else os.path.splitext(out)[0] + ".json")  # fmt: skip
    report.write(args.out, json_path, rec.items, meta)
    log.info("wrote %s and %s in %.0f s", args.out, json_path, meta["seconds"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
