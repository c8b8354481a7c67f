"""Functions that tests run as tasks (importable, so they also travel by reference)."""

from __future__ import annotations

import os
import random
import threading
import time

import numpy as np

import rxgrid


def square(x):
    return x * x


def add(x, y=0):
    return x + y


def fail_on(x, bad=3):
    if x == bad:
        raise ValueError(f"bad value {x}")
    return x


def play_dice() -> str:
    """Seed 001's craps game, on the task's seeded ``random``."""
    point = None
    count = 1
    while True:
        roll = random.randint(1, 6) + random.randint(1, 6)
        if point is None:
            point = roll
        if count == 1 and roll in (7, 11):
            return "Win"
        if count == 1 and roll in (2, 3, 12):
            return "Loss"
        if count > 1 and roll == 7:
            return "Loss"
        if count > 1 and roll == point:
            return "Win"
        count += 1


def pbirthday(n: int, ntests: int = 5000) -> float:
    """Seed 001's pbirthday: share of ``ntests`` groups of ``n`` with a shared birthday."""
    rng = rxgrid.task_rng()
    days = rng.integers(0, 365, size=(ntests, n))
    days.sort(axis=1)
    return float(np.mean((np.diff(days, axis=1) == 0).any(axis=1)))


def draws(k: int = 3) -> list:
    """A task's first draws from all three seeded generators."""
    return [rxgrid.task_rng().random(), random.random(), float(np.random.random())] + \
        [rxgrid.task_rng().random() for _ in range(k - 1)]


def rng_draws(k: int = 3) -> list:
    """A task's first draws from its own stream, ``task_rng()``: the stream promised on
    every context (under Dask, other code draws from the global ``random`` too)."""
    return [rxgrid.task_rng().random() for _ in range(k)]


def flaky_draw(folder: str, failures: int, x: int = 0) -> float:
    """A draw of the task's stream; the first ``failures`` runs for ``x`` raise after
    drawing (runs are counted as files in ``folder``, shared by every process)."""
    draw = float(rxgrid.task_rng().random())
    runs = sum(name.startswith(f"{x}-") for name in os.listdir(folder))
    open(os.path.join(folder, f"{x}-{os.getpid()}-{threading.get_ident()}-{time.time_ns()}"), "w").close()
    if runs < failures:
        raise ValueError(f"run {runs + 1} of {x} fails")
    return draw


def sleep_then(seconds: float, value=None):
    time.sleep(seconds)
    return value


def record_start(path: str, label: str, seconds: float = 0.0):
    """Append ``label`` and a time to ``path`` (to see the order tasks start in)."""
    with open(path, "a") as f:
        f.write(f"{label} {time.time()}\n")
    time.sleep(seconds)
    return label


def gated_record(path: str, label: str, gate: str):
    """Append ``label`` to ``path``, then hold the slot until the file ``gate`` exists."""
    with open(path, "a") as f:
        f.write(f"{label}\n")
    while not os.path.exists(gate):
        time.sleep(0.02)
    return label


def filled_bytes(i: int, size: int) -> bytes:
    """``size`` bytes, each ``i % 256`` (a result of known size and content)."""
    return bytes([i % 256]) * size


def pid_then_sleep(path: str, seconds: float):
    """Write this executor's pid to ``path``, then sleep (a task to be killed)."""
    with open(path, "w") as f:
        f.write(str(os.getpid()))
    time.sleep(seconds)


def where_am_i():
    return os.environ.get("RXGRID_WORKER", "local-sequential"), os.getpid()


def uses_global():
    return MULTIPLIER * 2  # noqa: F821 - provided through objects=


def array_sum(a, i):
    return float(a.sum()) + i


def die_hard():
    os._exit(3)


def chatty(x):
    import sys
    print(f"hello from task {x}")
    print(f"warning {x}", file=sys.stderr)
    return x


def fail_deep(x):
    return _inner_failure(x)


def _inner_failure(x):
    raise KeyError(f"missing {x}")


def write_files(i, name=None):
    """Seed 003: a task writing its output file; name=None gives test-<i>.txt."""
    import os
    with open(name or f"test-{i}.txt", "w") as f:
        f.write(f"output of task {i}\n")
    os.makedirs("out/deep", exist_ok=True)
    with open("out/deep/data.csv", "w") as f:
        f.write(f"task,{i}\n")
    with open("ignored.log", "w") as f:
        f.write("not kept")
    return i


def score_record(x: float, y: float) -> dict:
    """Seed 002's scoring function: writes a PNG and a CSV, returns its outputs."""
    import numpy as np

    from rxgrid.demo.png import write_png
    if x < 0:
        raise ValueError(f"x must not be negative, got {x}")
    img = np.zeros((8, 8, 3), np.uint8)
    img[:, :, 0] = int(x) % 256
    write_png("plot.png", img)
    with open("summary.csv", "w") as f:
        f.write(f"x,y,sum\n{x},{y},{x + y}\n")
    return {"answer": x * y, "total": x + y}


def slow_score(x: float, y: float) -> dict:
    import time
    time.sleep(0.3)
    with open("out.txt", "w") as f:
        f.write(str(x))
    return {"answer": x * y}


def zeros_plus(n: int, value: float):
    """An array of ``n`` copies of ``value`` (large results)."""
    import numpy as np
    return np.zeros(n) + value


def die_on(x, bad=5, code=3):
    """Return ``x``, except that task value ``bad`` kills its executor (``os._exit``)."""
    if x == bad:
        os._exit(code)
    return x


def secret_environment() -> dict:
    """What a task can see of rxgrid's tokens: its environment and /proc/self/environ."""
    with open("/proc/self/environ", "rb") as f:
        raw = f.read().decode(errors="replace")
    return {"environ": sorted(k for k in os.environ if "TOKEN" in k),
            "proc": sorted(e.partition("=")[0] for e in raw.split("\0") if "TOKEN" in e)}


def divide(x, y=1):
    return x / y  # tests look for this line in the remote traceback


class NeedsArguments(Exception):
    """An ``__init__`` that takes other arguments than it passes on: plain pickle cannot
    rebuild it (``ProcessPoolExecutor`` breaks on one)."""

    def __init__(self, code, detail):
        super().__init__(f"code {code}: {detail}")
        self.code = code


class HoldsLock(Exception):
    """An exception whose state does not pickle."""

    def __init__(self, message):
        super().__init__(message)
        self.lock = threading.Lock()


class Final(Exception):
    """A class that refuses subclasses (as some extension types do)."""

    def __init_subclass__(cls, **kwargs):
        raise TypeError("Final cannot be subclassed")


ODD_EXCEPTIONS = {"NeedsArguments": NeedsArguments, "HoldsLock": HoldsLock, "Final": Final}


def raise_odd(name: str, x=0):
    if name == "NeedsArguments":
        raise NeedsArguments(x, "odd")
    raise ODD_EXCEPTIONS[name](f"{name} {x}")


def zero_or_wait_for(path: str, x: float, limit: float = 120.0):
    """Return at once for ``x == 0``; else wait until ``path`` exists (the test releases it)."""
    deadline = time.monotonic() + limit
    while x and not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.02)
    return x


def try_to_write(a) -> tuple[bool, bool, str]:
    """An argument's (writeable, owndata) flags and the error writing to it raised ('' if none)."""
    try:
        a[0] = -1.0
        error = ""
    except (ValueError, TypeError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    return bool(a.flags.writeable), bool(a.flags.owndata), error


def task_directory(i) -> str:
    """Write a file in the task's working directory and say where that was."""
    with open(f"test-{i}.txt", "w") as f:
        f.write(f"output of task {i}\n")
    return os.getcwd()


def _wait_for(ready, timeout: float = 60.0) -> None:
    """Poll ``ready()`` until true; TimeoutError after ``timeout`` s (so no task hangs forever)."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError("the test never released this task")
        time.sleep(0.01)


def gated_service_record(x: float, gate: str) -> dict:
    """A service record that waits for the file ``gate`` to exist ('' = no gate)."""
    if gate:
        _wait_for(lambda: os.path.exists(gate))
    return {"answer": x}


def timed_record(x: float, log_dir: str) -> dict:
    """A service record that logs its start and end (CLOCK_MONOTONIC, one clock for all
    processes on this host) to ``log_dir/<x>.log`` and, to overlap another record if it
    may, holds on until a second record has started (or 30 s have passed: alone)."""
    path = os.path.join(log_dir, f"{x}.log")
    with open(path, "w") as f:
        f.write(f"{time.monotonic_ns()}\n")
    try:
        _wait_for(lambda: sum(n.endswith(".log") for n in os.listdir(log_dir)) >= 2, 30.0)
    except TimeoutError:
        pass
    time.sleep(0.2)  # long enough for an over-cap record to start beside these two
    with open(path, "a") as f:
        f.write(f"{time.monotonic_ns()}\n")
    return {"answer": x}


def service_record_pid_then_sleep(x: float, seconds: float, log_dir: str) -> dict:
    """A service record that writes its process id and working directory, sleeps, then
    writes a marker file."""
    with open(os.path.join(log_dir, f"pid-{x}"), "w") as f:
        f.write(f"{os.getpid()}\n{os.getcwd()}\n")
    time.sleep(seconds)
    with open(os.path.join(log_dir, f"done-{x}"), "w") as f:
        f.write("finished")
    with open("out.txt", "w") as f:
        f.write(str(x))
    return {"answer": x}


def log_worker_then_sleep(path: str, i: int, seconds: float):
    """Append '<worker> <i>' to ``path`` (which worker started task i), then sleep."""
    with open(path, "a") as f:
        f.write(f"{os.environ.get('RXGRID_WORKER', '?')} {i}\n")
    time.sleep(seconds)
    return i


# ---------------------------------------------------------------- crash plans
# ``crash_as_planned(x, plan, marker_dir)`` runs task ``x`` as ``plan[x]`` says. Kinds:
#   "exit:N"  os._exit(N)                 "segv"    a segfault (read address 0)
#   "sysexit:N" sys.exit(N) (SystemExit is no Exception: it ends the executor)
#   "sigkill" SIGKILLed from outside: the task creates ``kill-<pid>`` in ``marker_dir``
#             and waits for the test to kill it
#   "oom"     allocates 4 GB under an address-space limit (RLIMIT_AS)
#   "raise"   raises ValueError
#   "worker"  its worker daemon is SIGKILLed from outside: the task creates
#             ``worker-<name>-<pid>`` and waits
# A kind ending in "-once" crashes only on the task's first attempt (a marker file in
# ``marker_dir`` remembers it), so the retry returns the task's value.

WAIT_TO_BE_KILLED = 120.0


def planned_value(x: int) -> int:
    """The value task ``x`` returns when it does not crash (never None, never ``x``)."""
    return 10 * x + 1


def crash_as_planned(x: int, plan: dict, marker_dir: str) -> int:
    """Task ``x``: crash as ``plan`` says (see above), else return ``planned_value(x)``."""
    kind = plan.get(x, "")
    if kind.endswith("-once"):
        kind = kind[:-len("-once")] if _first_attempt(marker_dir, x) else ""
    if kind:
        _crash(kind, marker_dir)
    return planned_value(x)


def _first_attempt(marker_dir: str, x: int) -> bool:
    try:  # O_EXCL: exactly one attempt of the task creates the marker
        os.close(os.open(os.path.join(marker_dir, f"tried-{x}"), os.O_CREAT | os.O_EXCL))
        return True
    except FileExistsError:
        return False


def _crash(kind: str, marker_dir: str) -> None:
    import ctypes
    if kind.startswith("exit:"):
        os._exit(int(kind.split(":")[1]))
    elif kind.startswith("sysexit:"):
        raise SystemExit(int(kind.split(":")[1]))
    elif kind == "segv":
        ctypes.string_at(0)
    elif kind == "sigkill":
        _wait_to_be_killed(marker_dir, f"kill-{os.getpid()}")
    elif kind == "worker":
        _wait_to_be_killed(marker_dir, f"worker-{os.environ['RXGRID_WORKER']}-{os.getpid()}")
    elif kind == "oom":
        _allocate_under_limit(4 << 30)
    elif kind == "raise":
        raise ValueError("planned failure")
    else:
        raise AssertionError(f"unknown crash kind {kind!r}")


def _wait_to_be_killed(marker_dir: str, name: str) -> None:
    open(os.path.join(marker_dir, name), "w").close()
    time.sleep(WAIT_TO_BE_KILLED)
    raise AssertionError(f"{name}: nobody killed this task within {WAIT_TO_BE_KILLED} s")


def _allocate_under_limit(size: int) -> None:
    """Allocate ``size`` bytes with the address space limited to 256 MB more than now.

    The soft limit is put back afterwards, so the executor's next tasks run as before.
    """
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (_address_space_bytes() + (256 << 20), hard))
    try:
        bytearray(size)
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _address_space_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


class DiesWhenLoaded:
    """An argument whose unpickling calls ``os._exit(code)``: it kills the executor that
    loads it, before any task of its chunk starts."""

    def __init__(self, code: int = 5):
        self.code = code

    def __reduce__(self):
        return (os._exit, (self.code,))


def simulate(n: int, seed: int = 0) -> tuple:
    """The issue's example: a function with its own ``seed`` (not rxgrid's), and a draw
    from rxgrid's task stream."""
    return n, seed, rxgrid.task_rng().random()


def takes_any_keywords(x: int, **extra) -> tuple:
    """A function that accepts every keyword, so any option name could be meant for it."""
    return x, sorted(extra.items())


def draws_across_a_pause(pause: float = 0.005) -> list:
    """Draws from the three seeded generators before and after giving other threads the
    interpreter: threads running tasks at once must not draw from each other's streams."""
    first = [rxgrid.task_rng().random(), random.random(), float(np.random.random())]
    time.sleep(pause)
    return first + [rxgrid.task_rng().random(), random.random(), float(np.random.random())]


def record_pid_then_wait(path: str, label: str, gate: str, limit: float = 60.0):
    """Append ``label pid`` to ``path``, hold the slot until ``gate`` exists, then append
    ``label ended``: a cancelled task that was killed never writes the second line."""
    with open(path, "a") as f:
        f.write(f"{label} {os.getpid()}\n")
    deadline = time.monotonic() + limit
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.02)
    with open(path, "a") as f:
        f.write(f"{label} ended\n")
    return label


def numba_threads(_=None) -> tuple[int, int]:
    """(Numba's thread count in this task, this process's id)."""
    import numba
    return numba.get_num_threads(), os.getpid()


def mandelbrot_threads():
    """(Numba threads, the escape counts of a small grid) from the parallel kernel."""
    import numba

    from rxgrid.kernels import mandelbrot_grid
    return numba.get_num_threads(), mandelbrot_grid([-2.0, -1.0, 0.0, 0.25], [-1.0, 0.0, 1.0], 50).tolist()
