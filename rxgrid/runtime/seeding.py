"""Reproducible random streams: task *i* of a job with seed *S* gets a stream from (S, i).

The stream depends on nothing else (not the chunk size, the worker count or which
worker ran the task). Python tasks see it as ``rxgrid.task_rng()`` (a numpy Generator),
and the global ``random`` and legacy ``numpy.random`` states are seeded from it too.

A task's stream is per thread, so tasks in a thread pool (``from_executor`` over threads,
Dask threads) never draw from each other's. The global ``random`` and ``numpy.random``
states cannot be per thread: :func:`seeded_globals` is a lock that the chunk runner
holds while a seeded chunk runs outside the main thread, so those draws reproduce too,
as long as nothing else in the process draws from them. A framework whose own threads share
the process can: Dask's in-process workers draw from the global ``random`` (``dask.sizeof``
samples lists, message compression samples bytes) while tasks run. There only
``task_rng()``, which is per thread, is guaranteed to reproduce.
"""

from __future__ import annotations

import contextlib
import random
import threading

import numpy as np


class _TaskState(threading.local):
    current: np.random.Generator | None = None
    current_seeded = False
    task: tuple[int | None, int] = (None, 0)


_state = _TaskState()
_GLOBALS_LOCK = threading.Lock()


def seeded_globals(seed: int | None):
    """A context in which the process-wide ``random`` / ``numpy.random`` states belong to
    this thread's seeded tasks: a lock when other threads may run tasks, else nothing."""
    if seed is None or threading.current_thread() is threading.main_thread():
        return contextlib.nullcontext()
    return _GLOBALS_LOCK


RNG_KINDS = {"pcg64": np.random.PCG64, "philox": np.random.Philox, "sfc64": np.random.SFC64,
             "mt19937": np.random.MT19937}


def task_generator(seed: int, task: int, kind: str = "pcg64") -> np.random.Generator:
    """The numpy Generator of task ``task`` in a job seeded with ``seed``.

    The stream comes from ``SeedSequence(seed, spawn_key=(task,))``: independent of every
    other task's, and of how tasks were chunked or placed.
    """
    bit_generator = RNG_KINDS[kind or "pcg64"]
    return np.random.Generator(bit_generator(np.random.SeedSequence(seed, spawn_key=(task,))))


def enter_task(seed: int | None, task: int, kind: str = "pcg64") -> None:
    """Seed this process's generators for ``task``; no seed leaves fresh entropy."""
    state = _state
    state.task = (seed, task)
    if seed is None:
        if state.current is not None and state.current_seeded:
            state.current = None  # a seeded stream must not leak into an unseeded task
        return
    state.current, state.current_seeded = task_generator(seed, task, kind), True
    words = np.random.SeedSequence(seed, spawn_key=(task, 1)).generate_state(4)
    random.seed(int.from_bytes(words.tobytes(), "little"))
    np.random.seed(words)


def task_rng() -> np.random.Generator:
    """The random stream of the task now running (fresh entropy when the job has no seed)."""
    state = _state
    if state.current is None:
        state.current, state.current_seeded = np.random.default_rng(), False
    return state.current


def task_key() -> tuple[int | None, int]:
    """(seed, task index) of the task now running: the key of counter-based kernels."""
    return _state.task
