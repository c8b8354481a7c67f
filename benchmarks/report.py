"""Writing the results: ``RESULTS.md`` for people, ``results.json`` for programs.

Ratios are always ``rxgrid ÷ peer`` of the medians. A ratio is only given when both
sides ran the same size of problem *and* every repetition's check of their results
agrees (:func:`benchmarks.fair.same_work`); otherwise the row says "refused". The
verdict beside it is by whole min-max ranges (:func:`benchmarks.fair.verdict`): a side
is "faster" only when its range is entirely better than the other's, else it is a tie.
Rows against a *bound* (memory bandwidth, a quoted figure: ``BOUNDS``) are not the same
work and say so. A group can name another reference system for a workload that rxgrid
does not run (``REFERENCES`` in its module, e.g. native's numba vs C). The goals of
issue 19 (``goals.GOALS``) get their own table, judged the same way.
"""

from __future__ import annotations

import json
from collections import defaultdict

from . import fair, goals
from .common import Measurement

REFERENCE = "rxgrid"
# Reference rows that cannot run the same work: a ratio to them is against a bound.
BOUNDS = ("numpy.sum", "seed000-5-nodes")


def write(path_md: str, path_json: str, measurements: list[Measurement], meta: dict) -> None:
    with open(path_json, "w") as f:
        json.dump({**meta, "measurements": [m.as_dict() for m in measurements]}, f, indent=1,
                  default=str)
    with open(path_md, "w") as f:
        f.write(markdown(measurements, meta))


def rewrite(path_json: str, path_md: str) -> None:
    """Render a report again from its raw values (after a change to this module)."""
    from .common import Measurement
    with open(path_json) as f:
        data = json.load(f)
    fields = ("group", "workload", "metric", "unit", "better", "system", "values", "params", "status")
    items = [Measurement(**{k: d[k] for k in fields},
                         checks=[fair.Check.from_dict(c) for c in d.get("checks", [])])
             for d in data.pop("measurements")]
    with open(path_md, "w") as f:
        f.write(markdown(items, data))


def markdown(measurements: list[Measurement], meta: dict) -> str:
    lines = [f"# rxgrid benchmarks{' (--quick: small sizes)' if meta['quick'] else ''}", "",
             f"Command: `{meta['command']}`  ", f"Started {meta['started']}, took "
             f"{meta['seconds']:.0f} s; {meta['reps']} repetitions of every measurement.", "",
             "How to read: *median (min–max)* of the repetitions, taken interleaved across "
             "systems (round 1: A, B, C; round 2: A, B, C; ...; "
             f"{_UP[bool(meta.get('keep_up'))]}"
             f"{_ISOLATED if meta.get('isolate') else ''}). "
             "**rxgrid ÷ peer** is the ratio of medians, given only when every repetition's "
             "check of the results agrees on both sides (else *refused*). The verdict is by "
             "whole min-max ranges: a side is faster only when its whole range is better, "
             "else *tie*. Every system gets 2 worker processes with 1 core each (Numba "
             "limited to 1 thread per process). Where a workload has no rxgrid row, the ratio "
             "is against the row marked *reference*.", "",
             "## Machine", ""]
    lines += _machine(meta["machine"])
    by_group: dict[str, list[Measurement]] = defaultdict(list)
    for m in measurements:
        by_group[m.group].append(m)
    for group, items in by_group.items():
        lines += ["", f"## {group}", "", meta["descriptions"].get(group, ""), ""]
        lines += _table(items, _references(group))
    lines += ["", "## Goals (issue 19)", "",
              "met: the whole range of rxgrid beats the goal applied to the whole range of "
              "the other side; missed: the whole range fails it; tie: the ranges overlap. "
              "Judged only where the results' checks agree.", "",
              "| goal | rxgrid | other side | verdict |", "|---|---|---|---|",
              *goals.rows(measurements, BOUNDS)]
    speedup = _speedups(measurements)
    if speedup:
        lines += ["", "## Speed-up from 1 to 2 rxgrid workers", "",
                  "median wall time with `local(workers=1)` ÷ with `local(workers=2)` "
                  "(2.0 is perfect).", "", "| workload | 1 worker (s) | 2 workers (s) | "
                  "speed-up |", "|---|---|---|---|", *speedup]
    lines += ["", "## Processes left behind", "", meta.get("leftovers") or "none", ""]
    return "\n".join(lines)


_ISOLATED = ", every turn in a process of its own forked from the benchmark's"
_UP = {False: "each system started for its turn and shut down after it",
       True: "every system of a group kept up for all its rounds"}


def _machine(facts: dict) -> list[str]:
    rows = [f"- {k}: {v}" for k, v in facts.items() if k != "packages"]
    rows.append("- packages: " + ", ".join(f"{k} {v}" for k, v in facts["packages"].items()))
    return rows


def _fmt(x: float) -> str:
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}" if abs(x) >= 0.01 else f"{x:.2e}"


def _references(group: str) -> dict[str, str]:
    """Workload -> reference system, for the workloads of ``group`` not measured on rxgrid."""
    from . import GROUPS
    return next((getattr(g, "REFERENCES", {}) for g in GROUPS if g.GROUP == group), {})


def _table(items: list[Measurement], references: dict[str, str] | None = None) -> list[str]:
    out = ["| workload | metric | system | median (min–max) | size | check | rxgrid ÷ system "
           "| verdict |", "|---|---|---|---|---|---|---|---|"]
    references = references or {}
    reference = {(m.workload, m.metric): m for m in items
                 if m.system == references.get(m.workload, REFERENCE) and m.values}
    order = {name: i for i, name in enumerate(dict.fromkeys((m.workload, m.metric) for m in items))}
    systems = list(dict.fromkeys(m.system for m in items))
    items = sorted(items, key=lambda m: (order[(m.workload, m.metric)], systems.index(m.system)))
    for m in items:
        if not m.values:
            out.append(f"| {m.workload} | | {m.system} | {m.status} | | | |")
            continue
        size = ", ".join(f"{k}={v}" for k, v in _size(m).items())
        if "note" in m.params:
            size += f"; {m.params['note']}"
        ref = reference.get((m.workload, m.metric))
        ratio, verdict = _ratio(ref, m)
        metric = m.metric if m.metric == m.unit else f"{m.metric} ({m.unit})"
        out.append(f"| {m.workload} | {metric} | {m.system} | "
                   f"{_fmt(m.median)} ({_fmt(min(m.values))}–{_fmt(max(m.values))}) | {size} | "
                   f"{_check_text(ref, m)} | {ratio} | {verdict} |")
    return out


def _check_text(ref: Measurement | None, m: Measurement) -> str:
    if not m.checks:
        return "none"
    texts = list(dict.fromkeys(c.text for c in m.checks))
    steady = fair.same_work(m.checks, m.checks)
    text = texts[0] + ("" if steady else f" (repetitions differ: {len(texts)} results)")
    if ref is not None and ref is not m and ref.checks and not fair.same_work(ref.checks, m.checks):
        text += f" ≠ {ref.system}"
    return text


def _ratio(ref: Measurement | None, m: Measurement) -> tuple[str, str]:
    if ref is None:
        return "", ""
    if m.system == ref.system:
        return ("", "") if ref.system == REFERENCE else ("*reference*", "")
    bound = ref.system in BOUNDS or m.system in BOUNDS  # not the same work by nature
    if not bound and _size(ref) != _size(m):
        return "refused", "different sizes"
    if not bound and not fair.same_work(ref.checks, m.checks):
        return "refused", "results differ" if ref.checks and m.checks else "results unchecked"
    r = ref.median / m.median
    outcome = fair.verdict(ref.values, m.values, m.better)
    word = "faster" if m.unit in ("s", "ms", "tasks/s", "rows/s", "GB/s") else "better"
    verdict = {fair.MET: f"{ref.system} {word}", fair.MISSED: f"{m.system} {word}",
               fair.TIE: "tie (ranges overlap)"}[outcome]
    return f"{r:.3g}", verdict + (" (a bound, not the same work)" if bound else "")


def _size(m: Measurement) -> dict:
    return {k: v for k, v in m.params.items() if k not in ("note", "iterations")}


def _speedups(measurements: list[Measurement]) -> list[str]:
    walls = {(m.workload, m.system): m.median for m in measurements
             if m.group == "seed001" and m.values}
    rows = []
    for (workload, system), one in walls.items():
        two = walls.get((workload, "rxgrid"))
        if system == "rxgrid-1w" and two:
            rows.append(f"| {workload} | {_fmt(one)} | {_fmt(two)} | {one / two:.2f}x |")
    return rows
