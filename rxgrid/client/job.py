"""A job on the head, seen from any client process: status, progress, results, cancel.

A :class:`Job` is only a name and a connection; everything it says is asked of the head,
so a job submitted by one process can be followed from another (``cluster.job(id)``).

States: ``queued -> running -> finished | failed | cancelled`` (:class:`rxgrid.JobState`).

:class:`JobHandle` is what every context's job shares: ``status``, ``progress``,
``done``, ``wait``, ``result`` and ``result_now`` are written once, on ``info()`` and a
few hooks (``_infos`` to follow the job, ``_fetch`` for its results). :class:`Job` asks
the head; ``ExecutorJob`` and ``SequentialJob`` answer from this process.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import grpc

from .._proto import rxgrid_pb2 as pb
from ..errors import (
    JobCancelledError,
    JobFailedError,
    JobNotFinishedError,
    ResultTimeout,
    TaskFailure,
    interrupt_behind,
)
from ..states import JobState
from ..transport.wire import job_state_from_wire, seconds
from .results import ResultSet, TaskOutput, failure_from_proto


class Progress(NamedTuple):
    done: int
    failed: int
    total: int


@dataclass(frozen=True)
class JobInfo:
    """What the head knows of a job (times are unix seconds, 0 when not yet)."""

    id: str
    name: str
    state: JobState
    priority: int
    tasks_total: int
    tasks_done: int
    tasks_failed: int
    chunks_total: int
    chunks_done: int
    submitted_at: float
    started_at: float
    finished_at: float
    collected: bool
    per_node: bool
    error: str
    seed: int | None
    single_result: bool = False
    rng_kind: str = "pcg64"
    owner: str = ""  # the user who submitted it ("" on a head without tokens)

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", JobState(self.state))

    @classmethod
    def from_proto(cls, m: pb.JobInfo) -> JobInfo:
        """A JobInfo read from the head's ``JobInfo`` message."""
        r = m.recipe
        return cls(m.job_id, m.name, job_state_from_wire(m.state), m.priority, m.tasks_total,
                   m.tasks_done, m.tasks_failed, m.chunks_total, m.chunks_done,
                   seconds(m.submit_time), seconds(m.start_time), seconds(m.end_time), m.collected,
                   m.per_node, m.error, r.seed if r.HasField("seed") else None, m.single_result,
                   r.rng_kind or "pcg64", m.owner)

    @property
    def is_done(self) -> bool:
        """True once the job is finished, failed or cancelled."""
        return self.state.is_terminal


def outcome(info: JobInfo, results: ResultSet):
    """The value ``result()`` returns for a terminal job, or the error it raises."""
    if info.state is JobState.CANCELLED:
        raise JobCancelledError(
            f"job {info.id} was cancelled with {info.tasks_done} of {info.tasks_total} tasks "
            f"done; result(partial=True) returns what finished")
    if info.state is JobState.FAILED:
        first = min(results.failures.values(), key=lambda f: f.task, default=None)
        message = (f"job {info.id} failed: {info.error or 'a task failed'} "
                   f"(continue_on_failure=False stops a job at its first failure)")
        if first is None:
            raise JobFailedError(message, results.failures)
        # Also an instance of the first failure's own class: `except ZeroDivisionError`
        # catches a blocking exec as it would the same call made without rxgrid.
        raise first.as_error(JobFailedError, message, errors=results.failures)
    if info.per_node:
        return results.by_worker()
    values = results.as_list(info.tasks_total)
    if info.single_result:
        if isinstance(values[0], TaskFailure):
            raise values[0].exception()
        return values[0]
    return values


def download_files(records, fetch, dest: str, task: int | None = None,
                   name: str | None = None, flat: bool = False) -> list[str]:
    """Write file records to ``dest/<task>/<path>`` (or ``dest/<path>`` if flat).

    Every path is checked before anything is written: a head (or a worker behind it)
    that names ``../x`` or ``/x`` gets an InvalidArgumentError, not a file outside ``dest``.
    """
    import os

    from .._paths import inside
    from ..errors import InvalidArgumentError
    chosen = [f for f in records
              if (task is None or f.task == task) and (name is None or f.path == name)]
    try:
        targets = [inside(dest if flat else os.path.join(dest, str(f.task)), f.path)
                   for f in chosen]
    except ValueError as exc:
        raise InvalidArgumentError(f"refusing to download: {exc}") from None
    written = []
    for f, target in zip(chosen, targets, strict=True):
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
        with open(target, "wb") as out:
            out.write(fetch(f.blob))
        written.append(target)
    return written


class JobHandle:
    """What every job handle has, built on :meth:`info` (the ``concurrent.futures`` caller side).

    Subclasses give ``id``, :meth:`info`, :meth:`_fetch` (the results stored now),
    :meth:`errors` and :meth:`cancel`; they may follow the job more cheaply than by
    polling :meth:`info` (override :meth:`_infos` or :meth:`_pause`).
    """

    id: str
    _POLL = 0.05  # seconds between info() calls while waiting, doubling up to 1 s

    def _repr_html_(self) -> str:
        """Jupyter's display: id, state, a progress bar and the errors count."""
        from .html import job_html
        return job_html(self.info())

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}>"

    def info(self) -> JobInfo:
        """Everything known of this job right now."""
        raise NotImplementedError

    def status(self) -> JobState:
        """``queued``, ``running``, ``finished``, ``failed`` or ``cancelled``."""
        return self.info().state

    def progress(self) -> Progress:
        """(tasks done, tasks failed, tasks in all)."""
        i = self.info()
        return Progress(i.tasks_done, i.tasks_failed, i.tasks_total)

    def done(self) -> bool:
        """True once the job is finished, failed or cancelled."""
        return self.info().is_done

    def wait(self, timeout: float | None = None, progress: bool | None = False) -> JobInfo:
        """Block until the job ends; ResultTimeout after ``timeout`` seconds (it goes on).

        ``progress=None`` draws a progress bar when stderr is a terminal; True always.
        """
        from .progress import progress_bar, wanted
        bar = progress_bar(self.id) if wanted(progress) else None
        try:
            for info in self._infos(timeout, progress=bar is not None):
                if bar is not None:
                    bar.update(info.tasks_done, info.tasks_failed, info.tasks_total, info.state)
                if info.is_done:
                    return info
        finally:
            if bar is not None:
                bar.close()
        raise self._timeout(timeout)  # followed to the end without a final state

    def _infos(self, timeout: float | None, progress: bool) -> Iterator[JobInfo]:
        """JobInfo as the job goes (or only once it ends), until it ends; ResultTimeout
        once ``timeout`` seconds have passed. Polls :meth:`info`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = self._POLL
        while True:
            info = self.info()
            if progress or info.is_done:
                yield info
            if info.is_done:
                return
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise self._timeout(timeout)
            self._pause(pause if remaining is None else min(pause, remaining))
            pause = min(1.0, pause * 2)

    def _pause(self, seconds: float) -> None:
        """Wait up to ``seconds`` for the job to change (a handle that is told returns sooner)."""
        time.sleep(seconds)

    def _timeout(self, timeout: float | None) -> ResultTimeout:
        i = self.info()
        return ResultTimeout(f"job {self.id} is still {i.state} after {timeout} s "
                             f"({i.tasks_done} of {i.tasks_total} tasks done); it goes on running")

    def result(self, timeout: float | None = None, partial: bool = False,
               progress: bool | None = False):
        """The results in task order (a dict by worker for per-node jobs).

        Waits for the job to end (``timeout`` seconds at most). A failed task's place
        holds a :class:`TaskFailure`. With ``partial=True`` it does not wait: it
        returns what is there now, ``None`` for tasks not done yet.
        """
        if partial:
            info, results = self.info(), self._fetch()
            return results.by_worker() if info.per_node else results.as_list(info.tasks_total)
        try:
            info = self.wait(timeout, progress)
        except BaseException as exc:
            interrupt = interrupt_behind(exc)
            if interrupt is None:
                raise
            self._detach()
            raise interrupt from None
        return self._collect(info)

    def result_now(self):
        """The results if the job has ended; else JobNotFinishedError saying how far it is."""
        info = self.info()
        if not info.is_done:
            raise JobNotFinishedError(f"job {self.id} is {info.state}, {info.tasks_done} of "
                                      f"{info.tasks_total} tasks done")
        return self._collect(info)

    def _collect(self, info: JobInfo):
        """The value ``result()`` gives for an ended job (or the error it raises)."""
        return outcome(info, self._fetch())

    def _fetch(self) -> ResultSet:
        """The results stored now."""
        raise NotImplementedError

    def _detach(self) -> None:
        """Ctrl-C while waiting for the results (a cluster's job runs on)."""

    def errors(self) -> dict[int, TaskFailure]:
        """Task index -> TaskFailure (type, message, traceback) for every failed task."""
        raise NotImplementedError

    def cancel(self) -> bool:
        """Cancel the job; False if it had already ended."""
        raise NotImplementedError


class Job(JobHandle):
    """A handle on a job of a cluster (see ``Cluster.exec(..., wait=False)``)."""

    def __init__(self, cluster, job_id: str):
        self._cluster = cluster
        self.id = job_id

    @property
    def _conn(self):
        return self._cluster._conn

    def info(self) -> JobInfo:
        """Everything the head knows of this job right now."""
        return JobInfo.from_proto(self._conn.call("GetJob", pb.GetJobRequest(job_id=self.id)).job)

    def watch(self, timeout: float | None = None, progress: bool | None = None):
        """Yield the job's JobInfo each time its state or progress changes, until it ends.

        A server-streaming call: the head pushes each change, nothing is polled. A
        progress bar follows it too (``progress=None``: in a terminal or a notebook).
        """
        from .progress import progress_bar, wanted
        bar = progress_bar(self.id) if wanted(progress) else None
        try:
            for info in self._infos(timeout, progress=True):
                if bar is not None:
                    bar.update(info.tasks_done, info.tasks_failed, info.tasks_total, info.state)
                yield info
        finally:
            if bar is not None:
                bar.close()

    def _infos(self, timeout: float | None, progress: bool):
        """JobInfo from WatchJob (every change, or only the final one), riding out restarts."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise self._timeout(timeout)
            stream = self._conn.stub.WatchJob(pb.WatchJobRequest(job_id=self.id, progress=progress),
                                              timeout=remaining)
            try:
                for event in stream:
                    if event.WhichOneof("event") == "info":
                        info = JobInfo.from_proto(event.info)
                        yield info
                        if info.is_done:
                            return
            except grpc.RpcError as exc:
                self._watch_broke(exc, timeout)
            finally:  # left early (Ctrl-C, a caller's break): end the call now, not at GC
                stream.cancel()

    def _watch_broke(self, exc: grpc.RpcError, timeout: float | None) -> None:
        """A WatchJob stream ended in an error: raise it, or wait out a head restart."""
        if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
            raise self._timeout(timeout) from None
        if exc.code() != grpc.StatusCode.UNAVAILABLE:
            raise self._conn._error(exc) from None
        self._ride_out_restart()

    def _ride_out_restart(self) -> None:
        # The head went away: wait for it (GetJob retries) and watch again.
        time.sleep(0.2)
        self.info()

    def _results_in_order(self, timeout: float | None = None) -> Iterator:
        """Yield the results in task order as their chunks are stored (a failed task's
        place holds its TaskFailure); ResultTimeout once ``timeout`` seconds have passed
        with the next one not there yet. For ``ClusterExecutor.map``.

        One WatchJob stream that also carries the chunks, read to its end: the head marks
        the results read (and an ``auto_cleanup`` job removed) before it closes the stream.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        results, ended, position = ResultSet(), None, 0
        while ended is None:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise self._timeout(timeout)
            stream = self._conn.stub.WatchJob(pb.WatchJobRequest(job_id=self.id, results=True),
                                              timeout=remaining)
            try:
                for event in stream:
                    if event.WhichOneof("event") == "chunk":
                        results.add(event.chunk, self._conn.fetch_blob)
                        for value in results.in_order(position):
                            position += 1
                            yield value
                    elif JobInfo.from_proto(event.info).is_done:
                        ended = JobInfo.from_proto(event.info)
            except grpc.RpcError as exc:
                self._watch_broke(exc, timeout)
            finally:
                stream.cancel()
        yield from outcome(ended, results)[position:]

    def _detach(self) -> None:
        from .cluster import detach
        detach(self)

    def _fetch(self) -> ResultSet:
        results = ResultSet()
        for response in self._conn.stream("GetResults", pb.GetResultsRequest(job_id=self.id)):
            results.add(response.chunk, self._conn.fetch_blob)
        return results

    def errors(self) -> dict[int, TaskFailure]:
        """Task index -> TaskFailure (type, message, traceback) for every failed task."""
        reply = self._conn.call("GetErrors", pb.GetErrorsRequest(job_id=self.id))
        return {e.task: failure_from_proto(e) for e in reply.errors}

    def logs(self, task: int | None = None) -> dict[int, TaskOutput]:
        """Task index -> TaskOutput(stdout, stderr), for jobs run with ``console_output=True``."""
        request = pb.GetLogsRequest(job_id=self.id, task=task)
        reply = self._conn.call("GetLogs", request)
        return {o.task: TaskOutput(o.task, o.stdout, o.stderr) for o in reply.outputs}

    def files(self) -> dict[int, list[str]]:
        """Task index -> the paths of the files it kept (``output_files=``)."""
        out: dict[int, list[str]] = {}
        for f in self._file_records():
            out.setdefault(f.task, []).append(f.path)
        return out

    def _file_records(self) -> list:
        return list(self._conn.call("ListFiles", pb.ListFilesRequest(job_id=self.id)).files)

    def file_content(self, task: int, path: str) -> bytes:
        """The bytes of one kept file of one task."""
        for f in self._file_records():
            if f.task == task and f.path == path:
                return self._conn.fetch_blob(f.blob)
        raise FileNotFoundError(f"job {self.id} kept no file {path!r} for task {task} "
                                f"(it has {self.files().get(task, [])})")

    def download(self, dest: str = ".", task: int | None = None) -> list[str]:
        """Write kept files to ``dest/<task>/<path>`` (one task, or all); return the paths."""
        return download_files(self._file_records(), self._conn.fetch_blob, dest, task)

    def cancel(self) -> bool:
        """Cancel the job: queued chunks are dropped, running ones stopped. False if it had ended."""
        return self._conn.call("CancelJob", pb.CancelJobRequest(job_id=self.id)).cancelled


__all__ = ["Job", "JobHandle", "JobInfo", "Progress"]
