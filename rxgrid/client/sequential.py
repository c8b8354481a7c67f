"""``rxgrid.local_sequential()``: the same API, every task run in this process, in order.

For debugging (a breakpoint in a task just works) and as the reference the cluster's
contract tests compare against. RevoScaleR calls it ``RxLocalSeq``.
"""

from __future__ import annotations

import concurrent.futures
import logging
import time

from .. import _chunk
from ..errors import DuplicateJobError, JobNotFoundError, TaskFailure
from .analytics import AnalyticsMixin
from .cluster import WorkerInfo, _warn_failures
from .job import JobInfo, Progress, outcome
from .prepare import prepare
from .results import ResultSet, TaskOutput, print_outputs

log = logging.getLogger("rxgrid.client")

WORKER_NAME = "local-sequential"


class _FileRecord:
    def __init__(self, task, path, blob):
        self.task, self.path, self.blob = task, path, blob


class SequentialJob:
    """A job already run in this process; the same methods as :class:`rxgrid.Job`."""

    def __init__(self, job_id: str, info: JobInfo, results: ResultSet):
        self.id = job_id
        self._info = info
        self._results = results

    def __repr__(self) -> str:
        return f"<SequentialJob {self.id}>"

    def info(self) -> JobInfo:
        return self._info

    def status(self) -> str:
        return self._info.state

    def progress(self) -> Progress:
        return Progress(self._info.tasks_done, self._info.tasks_failed, self._info.tasks_total)

    def done(self) -> bool:
        return True

    def wait(self, timeout: float | None = None, progress: bool | None = False) -> JobInfo:
        return self._info

    def result(self, timeout: float | None = None, partial: bool = False,
               progress: bool | None = False):
        if partial:
            return self._results.as_list(self._info.tasks_total)
        return outcome(self._info, self._results)

    result_now = result

    def errors(self) -> dict[int, TaskFailure]:
        return dict(self._results.failures)

    def logs(self, task: int | None = None) -> dict[int, TaskOutput]:
        return {o.task: o for o in self._results.outputs if task in (None, o.task)}

    def files(self) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for task, path, _ in self._results.files:
            out.setdefault(task, []).append(path)
        return out

    def file_content(self, task: int, path: str) -> bytes:
        for t, p, data in self._results.files:
            if (t, p) == (task, path):
                return data
        raise FileNotFoundError(f"job {self.id} kept no file {path!r} for task {task}")

    def download(self, dest: str = ".", task: int | None = None) -> list[str]:
        from .job import download_files
        records = [_FileRecord(t, p, i) for i, (t, p, _) in enumerate(self._results.files)]
        return download_files(records, lambda i: self._results.files[i][2], dest, task)

    def cancel(self) -> bool:
        return False


class SequentialCluster(AnalyticsMixin):
    """Runs every job at once, in this process (no workers, no head)."""

    address = "local-sequential"

    def __init__(self):
        self._jobs: dict[str, SequentialJob] = {}
        self.last_job: SequentialJob | None = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        pass

    def exec(self, function, *args, times=None, chunk_size=None, seed=None, wait=True,
             priority=0, job_id=None, continue_on_failure=True, per_node=False, packages=(),
             objects=None, timeout=None, auto_cleanup=False, rng_kind="pcg64",
             console_output=False, output_files=(), progress=None, _single_result=False,
             **kwargs):
        """Same as :meth:`rxgrid.Cluster.exec`; ``timeout`` is not enforced here."""
        call = prepare(function, args, kwargs, times=times, chunk_size=chunk_size, seed=seed,
                       job_id=job_id, priority=priority, continue_on_failure=continue_on_failure,
                       per_node=per_node, packages=packages, objects=objects, timeout=timeout,
                       auto_cleanup=auto_cleanup, rng_kind=rng_kind)
        if call.job_id in self._jobs:
            raise DuplicateJobError(f"a job with id {call.job_id!r} already exists")
        from .cluster import _patterns
        job = self._run(call, _single_result, console_output, tuple(_patterns(output_files)))
        self._jobs[job.id] = self.last_job = job
        if not wait:
            return job
        if job._results.outputs:
            print_outputs(job._results.outputs)
        _warn_failures(job.info())
        return job.result()

    def _run(self, call, single_result: bool = False, console_output: bool = False,
             output_files: tuple = ()) -> SequentialJob:
        submitted = time.time()
        _chunk.import_packages(call.packages)
        function = _chunk.with_objects(call.function, call.objects)
        total = 1 if call.per_node else call.num_tasks
        results = ResultSet()
        failed = False
        for first, count in (call.chunks(1) if not call.per_node else [(0, 1)]):
            chunk = _chunk.ChunkCall(function, call.args, call.kwargs, call.slices(first, count),
                                     first, count, call.seed, not call.continue_on_failure,
                                     call.rng_kind, console_output, output_files)
            values, failures = _chunk.run_chunk(chunk)
            results.files.extend(chunk.files)
            results.add_values(first, values, WORKER_NAME, failures)
            results.outputs.extend(TaskOutput(*o) for o in chunk.outputs)
            if failures and not call.continue_on_failure:
                failed = True
                break
        done = results.done - len(results.failures)
        first_error = min(results.failures.values(), key=lambda f: f.task, default=None)
        info = JobInfo(call.job_id, getattr(call.function, "__qualname__", "function"),
                       "failed" if failed else "finished", call.priority, total, done,
                       len(results.failures), 1, 1, submitted, submitted, time.time(), False,
                       call.per_node,
                       f"task {first_error.task} raised {first_error.type}: {first_error.message}"
                       if failed else "", call.seed, single_result, call.rng_kind)
        return SequentialJob(call.job_id, info, results)

    def _fit(self, kind, data, formula, options, wait):
        from .analytics import fit_model
        options.pop("priority", None)
        if wait:
            return fit_model(kind, str(data), formula, options, self._map)
        return self.exec(fit_model, kind, str(data), formula, options, self._map, wait=False,
                         _single_result=True)

    @staticmethod
    def _map(fn, arguments):
        return [fn(*args) for args in arguments]

    def job(self, job_id: str) -> SequentialJob:
        try:
            return self._jobs[job_id]
        except KeyError:
            raise JobNotFoundError(f"no job {job_id!r} in this local_sequential context") from None

    def jobs(self, state=None, since=None, until=None, limit=0) -> list[JobInfo]:
        infos = [j.info() for j in self._jobs.values() if state in (None, j.status())]
        return infos[-limit:] if limit else infos

    def cleanup(self, jobs=None, force: bool = False) -> list[str]:
        ids = list(self._jobs) if jobs is None else [getattr(j, "id", j) for j in (
            [jobs] if isinstance(jobs, str) or hasattr(jobs, "id") else jobs)]
        for job_id in ids:
            self._jobs.pop(job_id, None)
        return ids

    def workers(self) -> list[WorkerInfo]:
        return [WorkerInfo(WORKER_NAME, "localhost", 1, 0, "connected", time.time(), 0, 0)]

    def executor(self, keep_jobs: bool = False) -> concurrent.futures.Executor:
        """A one-thread executor: tasks raise their own exceptions, as on every context.

        It stores no jobs, so ``keep_jobs`` (kept for the same signature) changes nothing.
        """
        return concurrent.futures.ThreadPoolExecutor(1)


def local_sequential() -> SequentialCluster:
    """A compute context that runs every task in this process, one after another."""
    return SequentialCluster()
