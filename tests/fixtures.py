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


def sleep_then(seconds: float, value=None):
    time.sleep(seconds)
    return value


def record_start(path: str, label: str, seconds: float = 0.0):
    """Append ``label`` and a time to ``path`` (to see the order tasks start in)."""
    with open(path, "a") as f:
        f.write(f"{label} {time.time()}\n")
    time.sleep(seconds)
    return label


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

    from rxgrid._png import write_png
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


def simulate(n: int, seed: int = 0) -> tuple:
    """The issue's example: a function with its own ``seed`` (not rxgrid's), and a draw
    from rxgrid's task stream."""
    return n, seed, rxgrid.task_rng().random()


def takes_any_keywords(x: int, **extra) -> tuple:
    """A function that accepts every keyword, so any option name could be meant for it."""
    return x, sorted(extra.items())
