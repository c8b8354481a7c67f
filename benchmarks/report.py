"""Writing the results: ``RESULTS.md`` for people, ``results.json`` for programs.

Ratios are always ``rxgrid ÷ peer`` of the medians, and each comes with a verdict in
words ("rxgrid 3.1x faster"), because whether a ratio above 1 is good depends on the
metric (time: lower is better; tasks/s: higher is better). A ratio is only given when
both sides ran the same size of problem. A group can name another reference system for a
workload that rxgrid does not run (``REFERENCES`` in its module, e.g. native's numba vs C).
"""

from __future__ import annotations

import json
from collections import defaultdict

from .common import Measurement

REFERENCE = "rxgrid"


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
    items = [Measurement(**{k: d[k] for k in fields}) for d in data.pop("measurements")]
    with open(path_md, "w") as f:
        f.write(markdown(items, data))


def markdown(measurements: list[Measurement], meta: dict) -> str:
    lines = [f"# rxgrid benchmarks{' (--quick: small sizes)' if meta['quick'] else ''}", "",
             f"Command: `{meta['command']}`  ", f"Started {meta['started']}, took "
             f"{meta['seconds']:.0f} s; {meta['reps']} repetitions of every measurement.", "",
             "How to read: *median (min–max)* of the repetitions. **rxgrid ÷ peer** is the "
             "ratio of medians; the verdict says which side is better (for times lower is "
             "better, for tasks/s higher is better). Every system gets 2 worker processes "
             "with 1 core each (Numba limited to 1 thread per process). Where a workload has no "
             "rxgrid row, the ratio is against the row marked *reference*.", "",
             "## Machine", ""]
    lines += _machine(meta["machine"])
    by_group: dict[str, list[Measurement]] = defaultdict(list)
    for m in measurements:
        by_group[m.group].append(m)
    for group, items in by_group.items():
        lines += ["", f"## {group}", "", meta["descriptions"].get(group, ""), ""]
        lines += _table(items, _references(group))
    speedup = _speedups(measurements)
    if speedup:
        lines += ["", "## Speed-up from 1 to 2 rxgrid workers", "",
                  "median wall time with `local(workers=1)` ÷ with `local(workers=2)` "
                  "(2.0 is perfect).", "", "| workload | 1 worker (s) | 2 workers (s) | "
                  "speed-up |", "|---|---|---|---|", *speedup]
    lines += ["", "## Processes left behind", "", meta.get("leftovers") or "none", ""]
    return "\n".join(lines)


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
    out = ["| workload | metric | system | median (min–max) | size | rxgrid ÷ system | verdict |",
           "|---|---|---|---|---|---|---|"]
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
        for extra in ("note", "check"):
            if extra in m.params:
                size += f"; {m.params[extra]}"
        ratio, verdict = _ratio(reference.get((m.workload, m.metric)), m)
        metric = m.metric if m.metric == m.unit else f"{m.metric} ({m.unit})"
        out.append(f"| {m.workload} | {metric} | {m.system} | "
                   f"{_fmt(m.median)} ({_fmt(min(m.values))}–{_fmt(max(m.values))}) | {size} | "
                   f"{ratio} | {verdict} |")
    return out


def _ratio(ref: Measurement | None, m: Measurement) -> tuple[str, str]:
    if ref is None:
        return "", ""
    if m.system == ref.system:
        return ("", "") if ref.system == REFERENCE else ("*reference*", "")
    if _size(ref) != _size(m) and m.better == "lower":
        return "n/a", "different sizes"
    r = ref.median / m.median
    ref_better = r < 1 if m.better == "lower" else r > 1
    factor = max(r, 1 / r) if r > 0 else float("inf")
    word = "faster" if m.unit in ("s", "ms", "tasks/s", "rows/s", "GB/s") else "better"
    who = ref.system if ref_better else m.system
    return f"{r:.3g}", f"{who} {factor:.2f}x {word}"


def _size(m: Measurement) -> dict:
    return {k: v for k, v in m.params.items() if k not in ("check", "note", "iterations")}


def _speedups(measurements: list[Measurement]) -> list[str]:
    walls = {(m.workload, m.system): m.median for m in measurements
             if m.group == "seed001" and m.values}
    rows = []
    for (workload, system), one in walls.items():
        two = walls.get((workload, "rxgrid"))
        if system == "rxgrid-1w" and two:
            rows.append(f"| {workload} | {_fmt(one)} | {_fmt(two)} | {one / two:.2f}x |")
    return rows
