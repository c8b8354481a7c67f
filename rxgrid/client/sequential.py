"""``rxgrid.local_sequential()``: the same API, every task run in this process, in order.

For debugging (a breakpoint in a task just works) and as the reference the cluster's
contract tests compare against. RevoScaleR calls it ``RxLocalSeq``.
"""

from __future__ import annotations

import concurrent.futures
import logging
import time

from ..errors import DuplicateJobError, JobNotFoundError, TaskFailure
from ..runtime import chunk as _chunk
from ..states import JobState
from .cluster import WorkerInfo, _warn_failures
from .context import ComputeContext, plain_pool
from .job import JobHandle, JobInfo
from .options import JobOptions
from .prepare import PreparedCall
from .results import ResultSet, TaskOutput, print_outputs

log = logging.getLogger("rxgrid.client")

WORKER_NAME = "local-sequential"


class _FileRecord:
    def __init__(self, task, path, blob):
        self.task, self.path, self.blob = task, path, blob


class SequentialJob(JobHandle):
    """A job already run in this process; the same methods as :class:`rxgrid.Job`."""

    def __init__(self, job_id: str, info: JobInfo, results: ResultSet):
        self.id = job_id
        self._info = info
        self._results = results

    def info(self) -> JobInfo:
        """What this job did (it has ended: it ran when it was submitted)."""
        return self._info

    def _fetch(self) -> ResultSet:
        return self._results

    def errors(self) -> dict[int, TaskFailure]:
        """Task index -> TaskFailure for every failed task."""
        return dict(self._results.failures)

    def logs(self, task: int | None = None) -> dict[int, TaskOutput]:
        """Task index -> TaskOutput(stdout, stderr), for jobs run with ``console_output=True``."""
        return {o.task: o for o in self._results.outputs if task in (None, o.task)}

    def files(self) -> dict[int, list[str]]:
        """Task index -> the paths of the files it kept (``output_files=``)."""
        out: dict[int, list[str]] = {}
        for task, path, _ in self._results.files:
            out.setdefault(task, []).append(path)
        return out

    def file_content(self, task: int, path: str) -> bytes:
        """The bytes of one kept file of one task."""
        for t, p, data in self._results.files:
            if (t, p) == (task, path):
                return data
        raise FileNotFoundError(f"job {self.id} kept no file {path!r} for task {task}")

    def download(self, dest: str = ".", task: int | None = None) -> list[str]:
        """Write kept files to ``dest/<task>/<path>`` (one task, or all); return the paths."""
        from .job import download_files
        records = [_FileRecord(t, p, i) for i, (t, p, _) in enumerate(self._results.files)]
        return download_files(records, lambda i: self._results.files[i][2], dest, task)

    def cancel(self) -> bool:
        """False: the job has already ended."""
        return False


class SequentialCluster(ComputeContext):
    """Runs every job at once, in this process (no workers, no head); ``timeout`` is not enforced."""

    address = "local-sequential"
    _in_process = True  # a DataFrame is fitted and summarised where it is

    def __init__(self):
        self._jobs: dict[str, SequentialJob] = {}
        self.last_job: SequentialJob | None = None

    def _run(self, call: PreparedCall, options: JobOptions):
        if call.job_id in self._jobs:
            raise DuplicateJobError(f"a job with id {call.job_id!r} already exists")
        job = self._run_now(call)
        self._jobs[job.id] = self.last_job = job
        if not options.wait:
            return job
        if job._results.outputs:
            print_outputs(job._results.outputs)
        _warn_failures(job.info())
        return job.result()

    def _run_now(self, call: PreparedCall) -> SequentialJob:
        submitted, o = time.time(), call.options
        _chunk.import_packages(o.packages)
        function = _chunk.with_objects(call.function, call.objects)
        results = ResultSet()
        failed = False
        for first, count in (call.chunks(1) if not o.per_node else [(0, 1)]):
            chunk = _chunk.ChunkCall(function, call.args, call.kwargs, call.slices(first, count),
                                     first, count, o.task_settings(call.seed))
            values, failures = _chunk.run_chunk(chunk)
            results.files.extend(chunk.files)
            results.add_values(first, values, WORKER_NAME, failures)
            results.outputs.extend(TaskOutput(*output) for output in chunk.outputs)
            if failures and not o.continue_on_failure:
                failed = True
                break
        return SequentialJob(call.job_id, _info(call, results, failed, submitted), results)

    def _fit(self, kind, data, formula, options, wait):
        from .analytics import fit_model
        options.pop("priority", None)
        if wait:
            return fit_model(kind, str(data), formula, options, self._map)
        return self.options(wait=False, _single_result=True).exec(
            fit_model, kind, str(data), formula, options, self._map)

    def _block_map(self, priority: int):
        return self._map

    @staticmethod
    def _map(fn, arguments):
        return [fn(*args) for args in arguments]

    def job(self, job_id: str) -> SequentialJob:
        """The job with this id (JobNotFoundError if this context has none)."""
        try:
            return self._jobs[job_id]
        except KeyError:
            raise JobNotFoundError(f"no job {job_id!r} in this local_sequential context") from None

    def jobs(self, state=None, since=None, until=None, limit=0) -> list[JobInfo]:
        """Jobs of this context, oldest first (``since``/``until`` are not checked here)."""
        infos = [j.info() for j in self._jobs.values() if state in (None, j.status())]
        return infos[-limit:] if limit else infos

    def cleanup(self, jobs=None, force: bool = False) -> list[str]:
        """Forget jobs (all of them by default); returns their ids."""
        ids = list(self._jobs) if jobs is None else [getattr(j, "id", j) for j in (
            [jobs] if isinstance(jobs, str) or hasattr(jobs, "id") else jobs)]
        for job_id in ids:
            self._jobs.pop(job_id, None)
        return ids

    def workers(self) -> list[WorkerInfo]:
        """This process, as one worker."""
        return [WorkerInfo(WORKER_NAME, "localhost", 1, 0, "connected", time.time(), 0, 0)]

    def _make_executor(self, keep_jobs: bool, options: JobOptions) -> concurrent.futures.Executor:
        """A one-thread executor: tasks raise their own exceptions, as on every context.

        It stores no jobs, so ``keep_jobs`` (kept for the same signature) changes nothing.
        """
        plain_pool(options, "local_sequential()")
        return concurrent.futures.ThreadPoolExecutor(1)


def _info(call: PreparedCall, results: ResultSet, failed: bool, submitted: float) -> JobInfo:
    """What a job run in this process did."""
    first_error = min(results.failures.values(), key=lambda f: f.task, default=None)
    error = f"task {first_error.task} raised {first_error.type}: {first_error.message}" if failed else ""
    o = call.options
    return JobInfo(call.job_id, call.name, JobState.FAILED if failed else JobState.FINISHED,
                   o.priority, 1 if o.per_node else call.num_tasks,
                   results.done - len(results.failures), len(results.failures), 1, 1, submitted,
                   submitted, time.time(), False, o.per_node, error, call.seed, o._single_result,
                   o.rng_kind)


def local_sequential() -> SequentialCluster:
    """A compute context that runs every task in this process, one after another."""
    return SequentialCluster()
