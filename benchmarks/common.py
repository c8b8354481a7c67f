"""What every workload group shares: the run's settings, the record of measurements,
and the loop that runs one group on every system.

A *measurement* is one (workload, metric, system) with a list of values, one per
repetition, and the :class:`~benchmarks.fair.Check` of each repetition's results; the
report takes their median, min and max, and gives a ratio only where the checks agree.
Every metric says whether lower or higher is better, so ratios can be read without
guessing.

Repetitions are interleaved across systems (:func:`interleave`): round 1 runs A, B, C,
round 2 runs A, B, C again, and so on, so a change of the machine's load hits every
system alike. By default each system is started for its turn and shut down after it,
so only one system is alive while it is measured (``Config.keep_up`` keeps every system
of a group up for all rounds instead: faster, the others sit idle meanwhile).

With ``Config.isolate`` (``python -m benchmarks`` sets it unless systems are kept up)
each turn runs in a process of its own, forked from the benchmark process before the
turn starts its system (:func:`isolated`): no system's turn runs in a process that an
earlier turn left threads, event loops, imports or settings in. (Measured: rxgrid's
one-task-per-call rate fell round after round, 1,185, 548, 371 tasks/s, in a process
that had also hosted Ray's and Dask's turns, while three clusters in a row in a fresh
process kept 1,269, 1,232 and 1,124.)
"""

from __future__ import annotations

import logging
import multiprocessing
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field

from . import systems
from .fair import Check

log = logging.getLogger("benchmarks")


@dataclass
class Config:
    """Settings of one run: ``quick`` picks the small sizes; ``reps`` repetitions each."""

    quick: bool = False
    reps: int = 3
    systems: tuple[str, ...] = systems.ALL
    keep_up: bool = False
    smoke: bool = False  # tiny sizes: proves the harness end to end, times nothing useful
    isolate: bool = False  # each turn in a process of its own (needs keep_up off)

    def size(self, full, quick, smoke=None):
        if self.smoke and smoke is not None:
            return smoke
        return quick if self.quick or self.smoke else full


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
    checks: list[Check] = field(default_factory=list)

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None

    def as_dict(self) -> dict:
        d = asdict(self)
        d["checks"] = [c.as_dict() for c in self.checks]
        if self.values:
            d.update(median=self.median, min=min(self.values), max=max(self.values))
        return d


class Recorder:
    """Collects measurements in the order they were made."""

    def __init__(self):
        self.items: list[Measurement] = []

    def add(self, group, workload, metric, unit, better, system, value,
            check: Check | None = None, **params) -> None:
        """One repetition's value (and the check of its results, when it has one)."""
        checks = [check] if check is not None else []
        for m in self.items:
            if (m.group, m.workload, m.metric, m.system) == (group, workload, metric, system):
                m.values.append(value)
                m.params.update(params)
                m.checks += checks
                return
        self.items.append(Measurement(group, workload, metric, unit, better, system,
                                      [value], dict(params), checks=checks))

    def status(self, group, workload, system, status) -> None:
        self.items.append(Measurement(group, workload, "-", "", "lower", system, status=status))


def rxgrid_role(process) -> str | None:
    """'head', 'daemon' or 'executor' for a process of a local rxgrid cluster, else None."""
    cmd = " ".join(process.cmdline())
    if "rxgrid head" in cmd:
        return "head"
    if "rxgrid worker" in cmd:
        return "daemon"
    parent = process.parent()
    if parent is not None and "rxgrid worker" in " ".join(parent.cmdline()) \
            and "resource_tracker" not in cmd:
        return "executor"
    return None


def cpu_by_role(role_of: Callable = rxgrid_role,
                roles: tuple[str, ...] = ("head", "daemon", "executor")) -> dict[str, float]:
    """CPU seconds (user + system, by psutil: 10 ms ticks) of this process ('client') and
    of its descendants, summed by ``role_of(process)``; descendants it names None (or
    that vanish while read) are not counted."""
    import psutil
    me = psutil.Process()
    totals = {"client": sum(me.cpu_times()[:2]), **dict.fromkeys(roles, 0.0)}
    for p in me.children(recursive=True):
        try:
            role, cpu = role_of(p), sum(p.cpu_times()[:2])
        except psutil.Error:
            continue
        if role is not None:
            totals[role] = totals.get(role, 0.0) + cpu
    return totals


def timed(fn: Callable, *args, **kwargs) -> tuple[float, object]:
    """(seconds, result) of one call, by ``time.perf_counter``."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


class Outcome:
    """What :func:`guarded` saw: ``failed`` is set when the block raised."""

    failed = False


@contextmanager
def guarded(rec: Recorder, group: str, system: str, workload: str = "*") -> Iterator[Outcome]:
    """Turn a missing peer or a failure into a reported status, never a crash."""
    outcome = Outcome()
    try:
        yield outcome
    except systems.NotInstalled:
        outcome.failed = True
        log.warning("%s: not installed, skipped", system)
        rec.status(group, workload, system, "not installed")
    except Exception as exc:  # a benchmark run should report, not stop
        outcome.failed = True
        log.exception("%s failed in %s/%s", system, group, workload)
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        rec.status(group, workload, system, f"error: {type(exc).__name__}: {first_line}")


LEFTOVERS: list[str] = []  # processes an isolated turn left behind (then killed)
LEFTOVER_GRACE = 15.0  # seconds a turn's processes get to end after the turn


def isolated(rec: Recorder, fn: Callable[[], object], label: str) -> object:
    """``fn()`` in a child forked from this process; its return value comes back.

    The child sees everything this process holds (closures, data), so ``fn`` needs no
    pickling; ``rec``'s items come back as the child left them (it appends to its copy).
    What ``fn`` changes elsewhere in memory stays in the child. Processes the child left
    alive when it ended are reported in :data:`LEFTOVERS` and killed. A child that dies
    without reporting raises ``RuntimeError`` with its exit code.
    """
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_isolated_child, args=(rec, fn, send), name=label, daemon=False)
    child.start()
    send.close()
    try:
        items, value, left = receive.recv()
    except EOFError:
        child.join()
        raise RuntimeError(f"{label}: its process ended with exit code {child.exitcode} "
                           "before it reported") from None
    finally:
        receive.close()
    child.join()
    rec.items[:] = items
    if left:
        LEFTOVERS.append(f"{label}: {left}")
    return value


def in_turn_process(cfg: Config, rec: Recorder, fn: Callable[[], object], label: str) -> object:
    """``fn()`` in a process of its own when ``cfg.isolate`` (:func:`isolated`), else here:
    for what a group measures outside :func:`interleave` (a start from nothing, a
    baseline), so that nothing it loads (Ray's state, an OpenMP pool) reaches the
    processes later turns fork from."""
    return isolated(rec, fn, label) if cfg.isolate else fn()


def _isolated_child(rec: Recorder, fn: Callable[[], object], send) -> None:
    value = fn()
    left = leftover_processes(kill=True, grace=LEFTOVER_GRACE)
    send.send((rec.items, value, left))
    send.close()


def leftover_processes(kill: bool = False, grace: float = 15.0) -> str:
    """This process's descendants still alive ``grace`` seconds after it asked (should be
    none once every system is shut down), as text; with ``kill``, they are killed."""
    try:
        import psutil
    except ImportError:
        return "not checked (psutil not installed)"
    me = psutil.Process()
    deadline = time.monotonic() + grace
    while True:
        alive = [p for p in me.children(recursive=True) if not _benign(p)]
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    text = "; ".join(f"pid {p.pid}: {' '.join(_cmdline(p))[:120]}" for p in alive)
    if kill:
        for p in alive:
            try:
                p.kill()
            except psutil.Error:
                pass
    return text


def left_behind() -> str:
    """Every process a run left behind: what isolated turns left (:data:`LEFTOVERS`, killed
    then) and this process's descendants still alive now; empty when none."""
    return "; ".join(filter(None, [*LEFTOVERS, leftover_processes()]))


def _cmdline(p) -> list[str]:
    try:
        return p.cmdline()
    except Exception:
        return ["?"]


def _benign(p) -> bool:
    # multiprocessing's resource tracker lives as long as its process, by design.
    return any("resource_tracker" in part for part in _cmdline(p))


def _start(stack: ExitStack, make: Callable, name: str):
    """Enter system ``name`` on ``stack``; a failed start (Ray's raylet can time out on a
    busy machine) is tried once more before the system counts as down."""
    try:
        return stack.enter_context(make(name))
    except systems.NotInstalled:
        raise
    except Exception as exc:
        log.warning("%s failed to start (%s); trying once more", name, exc)
        return stack.enter_context(make(name))


def interleave(group: str, cfg: Config, rec: Recorder, workloads: list[str],
               measure: Callable, names: tuple[str, ...] | None = None,
               make: Callable = systems.make) -> None:
    """``cfg.reps`` rounds; in each, every system in turn runs ``measure(system, workload,
    round)`` for every workload (one repetition each).

    A system that fails to start, or a workload that fails on it, is reported once and
    left out of the later rounds.
    """
    names = tuple(names or cfg.systems)
    down: set[str] = set()
    broken: set[tuple[str, str]] = set()

    def turn(system, rnd: int) -> None:
        for workload in workloads:
            if (system.name, workload) not in broken:
                with guarded(rec, group, system.name, workload) as outcome:
                    measure(system, workload, rnd)
                if outcome.failed:
                    broken.add((system.name, workload))

    def one_turn(name: str, rnd: int, stack: ExitStack, alive: dict) -> bool:
        """Start ``name`` unless it is up, run its turn; True when it failed to start or
        failed as a whole (then it is left out of the later rounds)."""
        with guarded(rec, group, name) as outcome, ExitStack() as this_turn:
            if name not in alive:
                log.info("[%s] round %d: starting %s", group, rnd + 1, name)
                owner = stack if cfg.keep_up else this_turn
                alive[name] = _start(owner, make, name)
                alive[name].warm()
                if not cfg.keep_up:
                    this_turn.callback(alive.pop, name)
            turn(alive[name], rnd)
        return outcome.failed

    def isolated_turn(name: str, rnd: int) -> bool:
        def in_child():
            with ExitStack() as stack:
                return one_turn(name, rnd, stack, {}), broken
        label, failed = f"{group}/{name} round {rnd + 1}", False
        with guarded(rec, group, name) as outcome:
            failed, child_broken = isolated(rec, in_child, label)
            broken.update(child_broken)
        return failed or outcome.failed

    if cfg.isolate and cfg.keep_up:
        raise ValueError("Config.isolate needs keep_up off: a kept-up system lives in one process")
    with ExitStack() as stack:
        alive = {}
        for rnd in range(cfg.reps):
            for name in names:
                if name in down:
                    continue
                failed = (isolated_turn(name, rnd) if cfg.isolate
                          else one_turn(name, rnd, stack, alive))
                if failed:
                    down.add(name)
                    alive.pop(name, None)
