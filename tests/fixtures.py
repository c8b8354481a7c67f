"""Functions that tests run as tasks (importable, so they also travel by reference)."""

from __future__ import annotations

import os
import random
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


def gated_record(path: str, label: str, gate: str):
    """Append ``label`` to ``path``, then hold the slot until the file ``gate`` exists."""
    with open(path, "a") as f:
        f.write(f"{label}\n")
    while not os.path.exists(gate):
        time.sleep(0.02)
    return label


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
