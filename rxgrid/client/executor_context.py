"""``rxgrid.from_executor(executor)``: the ``exec`` API over any ``concurrent.futures.Executor``.

RevoScaleR's ``RxForeachDoPar`` runs rxExec on whatever parallel backend is registered;
this does the same for Python's executors (``ProcessPoolExecutor``, ``ThreadPoolExecutor``,
loky, Dask's ``client.get_executor()``), so code written for rxgrid runs unchanged where
no cluster is there::

    exec() ─► prepare (the checks every context makes)
           ─► one ChunkCall per chunk ─► cloudpickle ─► executor.submit(run_pickled_chunk, bytes)
                                                            │  in the executor: unpickle, import
                                                            │  packages, _chunk.run_chunk with the
                                                            ▼  (seed, task) streams
    ExecutorJob ◄─ done callbacks: ResultSet, counts, state ◄─ (values, failures)

Each chunk is one ``submit`` of a module-level function that takes bytes, so closures
and functions defined in ``__main__`` work with executors that use plain pickle, and the
random streams are those of every other context (they come from (seed, task index)).

What an executor cannot do, this context does not pretend to: ``priority`` is recorded
but chunks run in submission order; ``timeout`` is not enforced; ``cancel()`` cancels
the chunks not yet started and leaves running ones to finish (their results are kept
for ``result(partial=True)``); the executor is one "worker", so ``per_node=True`` runs
the function once, keyed by the context's name.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import socket
import threading
import time
from collections.abc import Callable

from ..errors import DuplicateJobError, InvalidArgumentError, JobNotFoundError, TaskFailure
from ..runtime import chunk as _chunk
from ..runtime.serialize import dumps, loads
from ..states import JobState
from .analytics import ContextMap, fit_model
from .cluster import WorkerInfo, _timestamp, _warn_failures
from .context import ComputeContext, plain_pool
from .job import JobHandle, JobInfo, outcome
from .options import JobOptions
from .prepare import PreparedCall, prepare
from .results import ResultSet

log = logging.getLogger("rxgrid.client")

ChunkOutcome = tuple[list, list[TaskFailure]]


# ------------------------------------------------------------------ runner side
def run_pickled_chunk(call_bytes: bytes, columns_bytes: bytes | None, first: int, count: int,
                      packages: tuple[str, ...] = (), worker: str = "",
                      node_name: str | None = None) -> ChunkOutcome:
    """Run tasks ``first .. first + count - 1`` of a pickled :class:`rxgrid.runtime.chunk.ChunkCall`.

    Runs inside the executor. A chunk that cannot start (a package missing, a function
    that does not unpickle) fails every one of its tasks, as on a cluster worker.
    ``node_name`` is set as ``RXGRID_WORKER`` while a per-node task runs.
    """
    try:
        _chunk.import_packages(packages)
        call: _chunk.ChunkCall = loads(call_bytes, "function and arguments")
        call.columns = loads(columns_bytes, "per-task arguments") if columns_bytes else None
        call.first, call.count = first, count
    except Exception as exc:  # noqa: BLE001 - a chunk that cannot start fails each task
        failure = _chunk.describe_failure(first, exc)
        return [None] * count, [failure.for_task(first + i, worker) for i in range(count)]
    if node_name is None:
        values, failures = _chunk.run_chunk(call)
    else:
        values, failures = _run_as_node(call, node_name)
    for failure in failures:
        failure.worker = worker
    return values, failures


def _run_as_node(call: _chunk.ChunkCall, node_name: str) -> ChunkOutcome:
    # Per-node tasks ask RXGRID_WORKER where they run, as on a worker's executor. In a
    # thread pool this briefly sets it for the whole process (one per-node chunk a job).
    before = os.environ.get("RXGRID_WORKER")
    os.environ["RXGRID_WORKER"] = node_name
    try:
        return _chunk.run_chunk(call)
    finally:
        if before is None:
            os.environ.pop("RXGRID_WORKER", None)
        else:
            os.environ["RXGRID_WORKER"] = before


# ------------------------------------------------------------------ caller side
class ExecutorJob(JobHandle):
    """A job running on an executor; the same methods as :class:`rxgrid.Job`.

    States: ``queued -> running -> finished | failed | cancelled``. The chunk futures'
    done callbacks (run on the executor's threads) move it; the caller's methods only read.
    """

    def __init__(self, call: PreparedCall, worker: str, chunks: list[tuple[int, int]]):
        self.id = call.job_id
        self._call = call
        self._worker = worker
        self._chunks = chunks
        self._lock = threading.Lock()
        self._ended = threading.Event()
        self._futures: list[concurrent.futures.Future] = []
        self._results = ResultSet()
        self._state, self._error = JobState.QUEUED, ""
        self._chunks_done = 0
        self._submitted_at, self._started_at, self._finished_at = time.time(), 0.0, 0.0
        self._collected = False
        self._on_collected: Callable[[ExecutorJob], None] | None = None

    def __repr__(self) -> str:
        return f"<ExecutorJob {self.id} {self._state}>"

    # ---- runner side: called from the executor's callback threads
    def _attach(self, first: int, count: int, future: concurrent.futures.Future) -> None:
        with self._lock:
            self._futures.append(future)
            ended = self._state.is_terminal
        if ended:  # failed or cancelled while its chunks were still being submitted
            future.cancel()
        future.add_done_callback(lambda f: self._chunk_done(first, count, f))

    def _chunk_done(self, first: int, count: int, future: concurrent.futures.Future) -> None:
        if future.cancelled():
            return
        try:
            values, failures = future.result()
        except BaseException as exc:  # noqa: BLE001 - the executor broke (e.g. a dead process)
            failure = _chunk.describe_failure(first, exc)
            values = [None] * count
            failures = [failure.for_task(first + i, self._worker) for i in range(count)]
        with self._lock:
            self._results.add_values(first, values, self._worker, failures)
            self._chunks_done += 1
            self._started_at = self._started_at or time.time()
            if self._state.is_terminal:
                return  # cancelled or failed already: keep the values for partial results
            if failures and not self._call.options.continue_on_failure:
                first_error = min(failures, key=lambda f: f.task)
                self._end(JobState.FAILED, f"task {first_error.task} raised {first_error.type}: "
                                           f"{first_error.message}")
            elif self._chunks_done == len(self._chunks):
                self._end(JobState.FINISHED)
        if self._state is JobState.FAILED:
            self._cancel_futures()

    def _end(self, state: JobState, error: str = "") -> None:
        # Called with the lock held.
        self._state, self._error, self._finished_at = state, error, time.time()
        self._ended.set()

    def _cancel_futures(self) -> None:
        with self._lock:
            futures = list(self._futures)
        for future in futures:
            future.cancel()

    # ---- caller side
    def info(self) -> JobInfo:
        """What is known of this job right now."""
        call, o = self._call, self._call.options
        with self._lock:
            if self._state is JobState.QUEUED and any(f.running() or f.done() for f in self._futures):
                self._state, self._started_at = JobState.RUNNING, self._started_at or time.time()
            failed = len(self._results.failures)
            return JobInfo(
                id=self.id, name=call.name, state=self._state, priority=o.priority,
                tasks_total=self._tasks_total(), tasks_done=self._results.done - failed,
                tasks_failed=failed, chunks_total=len(self._chunks), chunks_done=self._chunks_done,
                submitted_at=self._submitted_at, started_at=self._started_at,
                finished_at=self._finished_at, collected=self._collected, per_node=o.per_node,
                error=self._error, seed=call.seed, single_result=o._single_result,
                rng_kind=o.rng_kind)

    def _tasks_total(self) -> int:
        return sum(count for _, count in self._chunks)

    def _pause(self, seconds: float) -> None:
        self._ended.wait(seconds)  # the last chunk's callback sets it: no need to sleep on

    def _fetch(self) -> ResultSet:
        with self._lock:  # a copy: the executor's callbacks go on adding to it
            results = ResultSet()
            results.chunks, results.failures = dict(self._results.chunks), dict(self._results.failures)
            return results

    def _collect(self, info: JobInfo):
        value = outcome(info, self._fetch())
        with self._lock:
            first_time, self._collected = not self._collected, True
        if first_time and self._on_collected is not None:
            self._on_collected(self)
        return value

    def errors(self) -> dict[int, TaskFailure]:
        """Task index -> TaskFailure (type, message, traceback) for every failed task."""
        with self._lock:
            return dict(self._results.failures)

    def cancel(self) -> bool:
        """Cancel the chunks not started yet; False if the job had already ended."""
        with self._lock:
            if self._state.is_terminal:
                return False
            self._end(JobState.CANCELLED)
        self._cancel_futures()
        return True


class ExecutorContext(ComputeContext):
    """A compute context over a ``concurrent.futures.Executor``; see :func:`from_executor`."""

    def __init__(self, executor: concurrent.futures.Executor, name: str | None = None,
                 slots: int | None = None, shutdown_on_close: bool = False):
        if not isinstance(executor, concurrent.futures.Executor) and not hasattr(executor, "submit"):
            raise InvalidArgumentError(f"from_executor() takes a concurrent.futures.Executor, "
                                       f"not a {type(executor).__name__}")
        self._executor = executor
        self.name = name or f"{type(executor).__name__.lower()}-{os.getpid()}"
        self.address = f"executor:{self.name}"
        self._slots = slots or _executor_slots(executor)
        self._shutdown_on_close = shutdown_on_close
        self._jobs: dict[str, ExecutorJob] = {}
        self._jobs_lock = threading.Lock()
        self._reserved: set[str] = set()  # ids being submitted: a duplicate is refused at once
        self.last_job: ExecutorJob | None = None

    def __repr__(self) -> str:
        return f"<ExecutorContext {self.name} slots={self._slots}>"

    def close(self) -> None:
        """Shut the executor down if this context was told it owns it (``shutdown_on_close``)."""
        if self._shutdown_on_close:
            self._executor.shutdown(wait=True, cancel_futures=True)

    # ---------------------------------------------------------------- exec
    def _run(self, call: PreparedCall, options: JobOptions):
        """Submit ``call``'s chunks to the executor.

        ``priority`` does not reorder chunks (an executor runs them in submission order),
        ``timeout`` is not enforced, and ``console_output`` / ``output_files`` need a
        cluster (they are refused here rather than silently ignored).
        """
        if options.console_output or options.output_files:
            raise InvalidArgumentError("console_output and output_files need an rxgrid cluster "
                                       "(rxgrid.local() or rxgrid.connect()); an executor context "
                                       "runs tasks where it cannot keep their output")
        self._reserve(call.job_id)
        try:
            job = self._submit(call)
        except BaseException:
            with self._jobs_lock:
                self._reserved.discard(call.job_id)
            raise
        self._register(job)
        if not options.wait:
            return job
        value = job.result(progress=options.progress if call.num_tasks > 1 else False)
        _warn_failures(job.info())
        return value

    def _reserve(self, job_id: str) -> None:
        with self._jobs_lock:
            if job_id in self._jobs or job_id in self._reserved:
                raise DuplicateJobError(f"a job with id {job_id!r} already exists")
            self._reserved.add(job_id)

    def _register(self, job: ExecutorJob) -> None:
        with self._jobs_lock:
            self._reserved.discard(job.id)
            self._jobs[job.id] = self.last_job = job

    def _submit(self, call: PreparedCall) -> ExecutorJob:
        o = call.options
        chunks = [(0, 1)] if o.per_node else call.chunks(self._slots)
        job = ExecutorJob(call, self.name, chunks)
        if o.auto_cleanup:
            job._on_collected = self._forget
        function = _chunk.with_objects(call.function, call.objects)
        template = _chunk.ChunkCall(function, call.args, call.kwargs, None, 0, 0,
                                    o.task_settings(call.seed))
        dumps(function, "function")  # a clear error naming the function, and by-value modules
        call_bytes = dumps(template, "function and arguments")
        node = self.name if o.per_node else None
        try:
            for first, count in chunks:
                columns = call.slices(first, count)
                future = self._executor.submit(
                    run_pickled_chunk, call_bytes,
                    dumps(columns, "each() values") if columns else None, first, count,
                    o.packages, self.name, node)
                job._attach(first, count, future)
        except BaseException:
            job.cancel()
            raise
        return job

    def _forget(self, job: ExecutorJob) -> None:
        with self._jobs_lock:
            self._jobs.pop(job.id, None)

    # ---------------------------------------------------------------- analytics
    def _fit(self, kind: str, data, formula, options: dict, wait: bool):
        if wait:
            return super()._fit(kind, data, formula, options, wait)
        # The driver runs on a thread of this process, not as a task: a task could not
        # reach this executor to submit the fit's block steps.
        priority = options.pop("priority", 0)
        map_blocks = ContextMap(self, priority)
        call = prepare(fit_model, (kind, os.fspath(data), formula, dict(options), map_blocks), {},
                       JobOptions(priority=priority, _single_result=True))
        job = ExecutorJob(call, self.name, [(0, 1)])
        future: concurrent.futures.Future = concurrent.futures.Future()
        job._attach(0, 1, future)
        threading.Thread(target=_run_driver, args=(future, call), daemon=True,
                         name=f"rxgrid-fit-{call.job_id}").start()
        self._register(job)
        return job

    def _total_slots(self) -> int:
        return self._slots

    # ---------------------------------------------------------------- jobs
    def job(self, job_id: str) -> ExecutorJob:
        """The job with this id (JobNotFoundError if this context has none)."""
        with self._jobs_lock:
            try:
                return self._jobs[job_id]
            except KeyError:
                raise JobNotFoundError(f"no job {job_id!r} in executor context "
                                       f"{self.name}") from None

    def jobs(self, state: str | None = None, since=None, until=None, limit: int = 0) -> list[JobInfo]:
        """Jobs of this context, oldest first, filtered by state and submission time."""
        with self._jobs_lock:
            jobs = list(self._jobs.values())
        infos = [j.info() for j in jobs]
        low, high = _timestamp(since), _timestamp(until)
        infos = [i for i in infos if state in (None, i.state) and i.submitted_at >= low
                 and (not high or i.submitted_at <= high)]
        return infos[-limit:] if limit else infos

    def cleanup(self, jobs=None, force: bool = False) -> list[str]:
        """Forget ended jobs; finished ones nobody collected are kept unless ``force``."""
        with self._jobs_lock:
            if jobs is None:
                ids = list(self._jobs)
            else:
                many = [jobs] if isinstance(jobs, str) or hasattr(jobs, "id") else jobs
                ids = [getattr(j, "id", j) for j in many]
            removed, kept = [], []
            for job_id in ids:
                job = self._jobs.get(job_id)
                if job is None:
                    continue
                info = job.info()
                if not info.is_done or (info.state is JobState.FINISHED and not info.collected
                                        and not force):
                    kept.append(job_id)
                    continue
                del self._jobs[job_id]
                removed.append(job_id)
        if kept:
            log.warning("cleanup kept %d job(s) that are running or whose results nobody read "
                        "(force=True removes the latter): %s", len(kept), ", ".join(kept[:5]))
        return removed

    def workers(self) -> list[WorkerInfo]:
        """The executor, as one worker with as many cores as it has slots."""
        with self._jobs_lock:
            jobs = list(self._jobs.values())
        busy = sum(1 for j in jobs for f in j._futures if f.running())
        done = sum(j._chunks_done for j in jobs)
        return [WorkerInfo(self.name, socket.gethostname(), self._slots, min(busy, self._slots),
                           "connected", time.time(), os.getpid(), done)]

    def _make_executor(self, keep_jobs: bool, options: JobOptions) -> concurrent.futures.Executor:
        """The executor this context runs on (it stores no jobs: ``keep_jobs`` changes nothing)."""
        plain_pool(options, f"from_executor({type(self._executor).__name__})")
        return self._executor


def _run_driver(future: concurrent.futures.Future, call: PreparedCall) -> None:
    if not future.set_running_or_notify_cancel():
        return
    try:
        value, failures = call.function(*call.args), []
    except Exception as exc:  # noqa: BLE001 - recorded as the job's failure
        value, failures = None, [_chunk.describe_failure(0, exc)]
    future.set_result(([value], failures))


def _executor_slots(executor: concurrent.futures.Executor) -> int:
    """How many chunks ``executor`` runs at once, as far as it tells."""
    for attribute in ("_max_workers", "max_workers", "_processes"):
        value = getattr(executor, attribute, None)
        if isinstance(value, int) and value > 0:
            return value
    client = getattr(executor, "_client", None)  # dask.distributed's ClientExecutor
    if client is not None:
        try:
            return max(1, sum(client.nthreads().values()))
        except Exception:  # noqa: BLE001 - a client that cannot say falls back to the cores
            pass
    return os.cpu_count() or 1


def from_executor(executor: concurrent.futures.Executor, name: str | None = None,
                  slots: int | None = None, shutdown_on_close: bool = False) -> ExecutorContext:
    """A compute context that runs ``exec`` chunks on ``executor`` (RxForeachDoPar).

    ``executor`` is any ``concurrent.futures.Executor``: a ``ProcessPoolExecutor``
    (fork or spawn), a ``ThreadPoolExecutor``, loky's, or Dask's ``client.get_executor()``.
    ``name`` names it as a worker (``per_node`` results are keyed by it); ``slots`` says
    how many chunks it runs at once when it cannot tell (used to size chunks).
    """
    return ExecutorContext(executor, name=name, slots=slots, shutdown_on_close=shutdown_on_close)


__all__ = ["ExecutorContext", "ExecutorJob", "from_executor", "run_pickled_chunk"]
