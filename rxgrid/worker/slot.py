"""One executor slot of a worker daemon: a spawned executor process and the pipe to it.

``Slot.run`` (a coroutine on the daemon's event loop) sends a chunk to the executor and
waits for its outcome; the pipe is watched with ``add_reader``, so no thread stands
between the loop and the executor. It is also where the daemon survives what tasks do to their
process: a task that overruns its timeout or kills its executor (``os._exit``, a
segfault, the OOM killer) costs a new executor, not the daemon. Such a chunk is rerun
task by task so the one culprit is found, retried up to ``max_attempts`` times, and
recorded as failed; the other tasks are unaffected.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import pickle
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..runtime.chunk import PickledValues, TaskSettings
from . import executor

log = logging.getLogger("rxgrid.worker")

_SPAWN = multiprocessing.get_context("spawn")
EXIT_GRACE = 5.0  # seconds a dying executor has to exit by itself before it is killed


@dataclass
class ChunkWork:
    """A chunk as the daemon hands it to a slot."""

    lease: int
    job_id: str
    first: int
    count: int
    blob: Callable[[str], bytes]  # hash -> bytes, from the daemon's cache
    function: str = ""
    common: str = ""
    objects: str = ""
    chunk_data: bytes = b""
    timeout: float = 0.0
    packages: tuple = ()
    kernel: str = ""
    kernel_params: dict = field(default_factory=dict)
    settings: TaskSettings = field(default_factory=TaskSettings)  # to the executor as it is


@dataclass
class ChunkOutcome:
    results: bytes
    failures: list  # (task, type, message, traceback, pickled exception or b"")
    outputs: list = field(default_factory=list)  # (task, stdout, stderr)
    files: list = field(default_factory=list)  # (task, path, bytes)
    json: str = ""  # built-in kernel jobs: the values as JSON


class Slot:
    """An executor process the daemon can run chunks on, kill, and replace."""

    def __init__(self, index: int, worker_name: str, max_attempts: int = 3):
        self.index = index
        self.worker_name = worker_name
        self.max_attempts = max_attempts
        self.lease: int | None = None
        self._cancelled = False
        self.process = None
        self.conn = None
        self.known = executor.ObjectCache()
        self._inbox: asyncio.Queue | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.broken = False  # the executor was killed or died: replace it before reuse
        # The executor's tasks make their directories in here, so what a killed executor
        # leaves behind goes with it.
        self.scratch: str | None = None

    # ---------------------------------------------------------------- process
    def _spawn(self):
        parent, child = _SPAWN.Pipe()
        process = _SPAWN.Process(target=executor.main, args=(child, self.worker_name),
                                 name=f"rxgrid-executor-{self.index}", daemon=True)
        process.start()
        child.close()
        # The first start on a machine may compile every kernel (--warm-kernels).
        if not parent.poll(900):
            process.kill()
            raise RuntimeError("executor process did not start within 900 s")
        parent.recv()
        return process, parent

    async def start(self) -> None:
        """Start the executor (in a thread: spawning blocks) and watch its pipe."""
        self._loop = asyncio.get_running_loop()
        self.scratch = tempfile.mkdtemp(prefix=f"rxgrid-executor-{os.getpid()}-{self.index}-")
        self.process, self.conn = await asyncio.to_thread(self._spawn)
        self.known, self._inbox = executor.ObjectCache(), asyncio.Queue()
        self.broken = False
        self._loop.add_reader(self.conn.fileno(), self._on_readable, self.conn, self._inbox)

    def _on_readable(self, conn, inbox: asyncio.Queue) -> None:
        # One message per call: the loop calls again while the pipe stays readable
        # (conn.poll would build a selector per call, a third of this callback's cost).
        try:
            inbox.put_nowait(conn.recv())
        except (EOFError, OSError):
            self._loop.remove_reader(conn.fileno())
            self.broken = True
            inbox.put_nowait(None)  # the executor is gone

    async def restart(self) -> None:
        self.kill()
        await self.start()

    def kill(self) -> None:
        if self.process is not None:
            if self._loop is not None:
                self._loop.remove_reader(self.conn.fileno())
            self.process.kill()
            self.process.join(5)
            self.conn.close()
            self.process = None
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None

    def cancel(self, lease: int) -> bool:
        """Stop the chunk of ``lease`` if this slot runs it (kills the executor)."""
        if self.lease != lease:
            return False
        self._cancelled = True
        self.broken = True
        if self.process is not None:
            self.process.kill()
        return True

    # ---------------------------------------------------------------- running
    async def run(self, work: ChunkWork) -> ChunkOutcome | None:
        """Run ``work``; return its outcome, or None if it was cancelled."""
        self.lease, self._cancelled = work.lease, False
        try:
            return await self._run(work)
        except (OSError, EOFError):
            self.broken = True
            raise
        finally:
            self.lease = None
            # is_alive() can still say True just after a SIGKILL: trust our own flag too.
            if self.broken or self.process is None or not self.process.is_alive():
                await self.restart()

    async def _run(self, work: ChunkWork) -> ChunkOutcome | None:
        pieces: list = [None] * work.count
        failures: dict[int, tuple] = {}
        attempts: dict[int, int] = {}
        side: dict = {"outputs": [], "files": [], "json": []}
        start, per_task, loads = 0, work.timeout > 0, 0
        while start < work.count:
            self.conn.send(("run", self._request(work, start, per_task)))
            status, payload = await self._collect(work, pieces, failures, side)
            if self._cancelled:
                return None
            if status == "done":
                if not per_task:
                    return ChunkOutcome(payload, [failures[k] for k in sorted(failures)],
                                        side["outputs"], side["files"], "".join(side["json"]))
                break
            # The executor died or overran: replace it and go on task by task.
            task, how = payload, await self._reap(status)
            await self.restart()
            if task is None and not per_task:  # died in batch mode: rerun one task at a time
                per_task = True
                continue
            if task is None:  # died with no task running: between two tasks, or loading
                unended = _first_unended(work, pieces, failures, start)
                loads = 0 if unended > start else loads + 1
                start = unended
                if loads >= self.max_attempts:  # loading the chunk kills every executor
                    failures.update(self._lost_before_start(work, start, loads, how))
                    break
                continue
            attempts[task] = attempts.get(task, 0) + 1
            # ``task`` is the job's task index; ``start`` is an offset in this chunk.
            if status == "timeout" or attempts[task] >= self.max_attempts:
                failures[task] = self._lost_task(work, task, status, attempts[task], how)
                if work.settings.stop_on_failure:
                    break
                start = task - work.first + 1
            else:
                start = task - work.first
        _check_every_task_ended(work, pieces, failures)
        return ChunkOutcome(pickle.dumps(PickledValues(pieces), protocol=5),
                            [failures[k] for k in sorted(failures)], side["outputs"], side["files"])

    def _request(self, work: ChunkWork, start: int, per_task: bool) -> dict:
        blobs = {}
        for digest in (work.function, work.common, work.objects):
            if digest and self.known.remember(digest):
                blobs[digest] = work.blob(digest)
        return {"first": work.first, "count": work.count, "start": start, "per_task": per_task,
                "function": work.function, "common": work.common, "objects": work.objects,
                "blobs": blobs, "chunk_data": work.chunk_data, "packages": work.packages,
                "kernel": work.kernel, "kernel_params": work.kernel_params,
                "settings": work.settings, "workdir": self.scratch}

    async def _collect(self, work: ChunkWork, pieces: list, failures: dict, side: dict):
        """Read the executor's messages until the chunk is done or the executor is lost.

        Returns ("done", results bytes), ("died", task or None) or ("timeout", task).
        """
        running, deadline = None, None
        while True:
            if deadline is None:
                message = await self._inbox.get()
            else:
                try:
                    message = await asyncio.wait_for(self._inbox.get(),
                                                     max(0.0, deadline - time.monotonic()))
                except TimeoutError:
                    return "timeout", work.first + running
            if message is None:
                return "died", None if running is None else work.first + running
            kind = message[0]
            if kind == "start":
                running = message[1]
                deadline = time.monotonic() + work.timeout if work.timeout > 0 else None
            elif kind == "result":
                _, offset, data, failure, more = message
                pieces[offset] = data
                _merge(side, more)
                if failure is not None:
                    failures[work.first + offset] = failure
                running, deadline = None, None
            elif kind == "done":
                _, data, batch_failures, reset, more = message
                _merge(side, more)
                if reset:
                    self.known = executor.ObjectCache()
                for failure in batch_failures:
                    failures[failure[0]] = failure
                return "done", data

    async def _reap(self, status: str) -> str:
        """Make sure the executor is dead; say how it ended.

        One that died gets ``EXIT_GRACE`` seconds to finish exiting: its pipe closes a
        moment before its exit status exists (at once for ``os._exit``, later for
        ``sys.exit``), and killing it then would report our SIGKILL, not its own end.
        """
        process = self.process
        if process is None:
            return "exit status unknown"
        if status == "died":
            await asyncio.to_thread(process.join, EXIT_GRACE)
        if process.exitcode is not None:
            return _describe_exit(process.exitcode)
        process.kill()
        await asyncio.to_thread(process.join, 5)
        if status == "died":
            return f"it closed its pipe but had not exited after {EXIT_GRACE:g} s, so it was killed"
        return _describe_exit(process.exitcode)

    def _lost_task(self, work: ChunkWork, task: int, status: str, attempts: int,
                   how: str) -> tuple:
        if status == "timeout":
            message = (f"task {task} ran longer than timeout={work.timeout:g} s; its executor "
                       f"was stopped and the slot freed")
            return (task, "TimeoutError", message, "", b"")
        log.warning("job %s task %d: executor died (%s), attempt %d", work.job_id, task, how, attempts)
        return (task, "ExecutorDiedError",
                f"executor died while running task {task} ({how}); tried {attempts} time(s)", "",
                b"")

    def _lost_before_start(self, work: ChunkWork, start: int, attempts: int,
                           how: str) -> dict[int, tuple]:
        """Failures for the tasks from offset ``start`` on, which never started because
        their executor died each time it loaded the chunk (function, arguments, packages)."""
        log.warning("job %s chunk at task %d: executor died loading it (%s), %d time(s)",
                    work.job_id, work.first, how, attempts)
        return {task: (task, "ExecutorDiedError",
                       f"executor died before task {task} started, while loading the job's "
                       f"function, arguments or packages ({how}); tried {attempts} time(s)", "", b"")
                for task in range(work.first + start, work.first + work.count)}


class SimulatedSlot:
    """A slot with no executor: every task "runs" for ``task_delay`` seconds and returns
    None. For measuring how far one head scales (hundreds of workers on one machine)."""

    def __init__(self, index: int, task_delay: float = 0.0):
        self.index, self.task_delay, self.lease = index, task_delay, None

    async def start(self) -> None:
        pass

    def kill(self) -> None:
        pass

    def cancel(self, lease: int) -> bool:
        return False

    async def run(self, work: ChunkWork) -> ChunkOutcome:
        if self.task_delay:
            await asyncio.sleep(self.task_delay * work.count)
        return ChunkOutcome(pickle.dumps([None] * work.count, protocol=5), [])


def _check_every_task_ended(work: ChunkWork, pieces: list, failures: dict) -> None:
    """Every task of the chunk has its value or its failure: a task with neither must
    never be reported as a success holding ``None``. (With ``stop_on_failure`` the tasks
    after the first failure are not run, and the job fails.)"""
    if work.settings.stop_on_failure and failures:
        return
    missing = [work.first + i for i, piece in enumerate(pieces)
               if piece is None and work.first + i not in failures]
    if missing:
        raise RuntimeError(f"tasks {missing} of job {work.job_id} ended with neither a value "
                           f"nor a failure")


def _first_unended(work: ChunkWork, pieces: list, failures: dict, start: int) -> int:
    """The offset of the first task from ``start`` on with neither a value nor a failure."""
    offset = start
    while offset < work.count and (pieces[offset] is not None or work.first + offset in failures):
        offset += 1
    return offset


def _merge(side: dict, more: dict) -> None:
    for key, items in more.items():
        side[key].extend(items)


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "exit status unknown"
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
