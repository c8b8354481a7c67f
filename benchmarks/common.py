"""What every workload group shares: the run's settings, the record of measurements,
and the loop that runs one group on every system.

A *measurement* is one (workload, metric, system) with a list of values, one per
repetition; the report takes their median, min and max. Every metric says whether
lower or higher is better, so ratios can be read without guessing.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

from . import systems

log = logging.getLogger("benchmarks")


@dataclass
class Config:
    """Settings of one run: ``quick`` picks the small sizes; ``reps`` repetitions each."""

    quick: bool = False
    reps: int = 3
    systems: tuple[str, ...] = systems.ALL

    def size(self, full, quick):
        return quick if self.quick else full


@dataclass
class Measurement:
    group: str
    workload: str
    metric: str
    unit: str
    better: str  # "lower" or "higher"
    system: str
    values: list[float] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    status: str = "ok"  # "ok", "not installed", "error: ..."

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None

    def as_dict(self) -> dict:
        d = asdict(self)
        if self.values:
            d.update(median=self.median, min=min(self.values), max=max(self.values))
        return d


class Recorder:
    """Collects measurements in the order they were made."""

    def __init__(self):
        self.items: list[Measurement] = []

    def add(self, group, workload, metric, unit, better, system, value, **params) -> None:
        for m in self.items:
            if (m.group, m.workload, m.metric, m.system) == (group, workload, metric, system):
                m.values.append(value)
                m.params.update(params)
                return
        self.items.append(Measurement(group, workload, metric, unit, better, system,
                                      [value], dict(params)))

    def status(self, group, workload, system, status) -> None:
        self.items.append(Measurement(group, workload, "-", "", "lower", system, status=status))


def timed(fn: Callable, *args, **kwargs) -> tuple[float, object]:
    """(seconds, result) of one call, by ``time.perf_counter``."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


@contextmanager
def guarded(rec: Recorder, group: str, system: str, workload: str = "*") -> Iterator[None]:
    """Turn a missing peer or a failure into a reported status, never a crash."""
    try:
        yield
    except systems.NotInstalled:
        log.warning("%s: not installed, skipped", system)
        rec.status(group, workload, system, "not installed")
    except Exception as exc:  # a benchmark run should report, not stop
        log.exception("%s failed in %s/%s", system, group, workload)
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        rec.status(group, workload, system, f"error: {type(exc).__name__}: {first_line}")


def run_on_each_system(group: str, cfg: Config, rec: Recorder, body: Callable,
                       names: tuple[str, ...] | None = None) -> None:
    """Start each system, warm it, run ``body(system)``, and shut it down."""
    for name in names or cfg.systems:
        log.info("[%s] starting %s", group, name)
        with guarded(rec, group, name), systems.make(name) as system:
            system.warm()
            body(system)
        log.info("[%s] %s done", group, name)
