"""A joblib parallel backend, "rxgrid": ``joblib.Parallel`` (and scikit-learn's
``n_jobs``) on any rxgrid compute context.

    import rxgrid.joblib_backend              # registers "rxgrid" with joblib
    with joblib.parallel_backend("rxgrid", cluster=cluster):
        GridSearchCV(SVC(), grid, n_jobs=-1).fit(X, y)

    Parallel ─► submit(batch) ─► waiter thread ─► context.exec(run_batch, batch) ─► a job of
      ▲          (a Future)                        one task: the whole joblib batch, run on a
      └──── done callback ◄── value or the task's own exception ◄──┘  worker's executor

joblib groups calls into batches (auto-batching grows them until one takes ~0.2 s); each
batch is one rxgrid job of one task, so the per-call overhead is paid once per batch.
The context is ``cluster=`` (a ``Cluster``, ``LocalCluster``, ``SequentialCluster`` or
``ExecutorContext``) or, without it, the current context (``rxgrid.set_context``).
An exception raised by a call comes back as itself, with the worker's traceback as its
``__cause__``; batches left when joblib aborts are cancelled on the cluster.
"""

from __future__ import annotations

import concurrent.futures
import threading
import traceback
from typing import Any

import joblib
from joblib._parallel_backends import AutoBatchingMixin, ParallelBackendBase, SequentialBackend

from .errors import InvalidArgumentError, RemoteTraceback, RxgridError, TaskFailure
from .runtime import serialize as _serialize

BACKEND_NAME = "rxgrid"


def run_batch(batch) -> tuple:
    """Run a joblib batch on a worker: ``(True, results)`` or ``(False, exception, traceback)``.

    The exception is returned, not raised, so the caller re-raises the very type the call
    raised (scikit-learn's ``error_score`` relies on it); one that cannot be pickled is
    replaced by a RuntimeError naming it.
    """
    try:
        return True, batch()
    except Exception as exc:  # noqa: BLE001 - handed back to joblib in the caller
        text = traceback.format_exc()
        try:
            _serialize.dumps(exc)
        except RxgridError:
            exc = RuntimeError(f"{type(exc).__name__}: {exc}")
        return False, exc, text


def _register_batch_modules(batch) -> None:
    # A call's function from a script or an uninstalled module must travel by value, as
    # ``exec``'s own function does; joblib and scikit-learn wrap it, so look inside.
    for item in getattr(batch, "items", ()):
        function = item[0]
        for candidate in (function, getattr(function, "function", None),
                          getattr(function, "func", None), getattr(function, "__wrapped__", None)):
            if candidate is not None:
                _serialize._register_user_modules(candidate)


class RxgridBackend(AutoBatchingMixin, ParallelBackendBase):
    """joblib backend running each batch of calls as one rxgrid job on a compute context.

    ``cluster``: the compute context (default: ``rxgrid.client.context.get_context()``
    when the backend is configured). ``priority``: the priority of the batch jobs.
    """

    supports_retrieve_callback = True  # results come back through the future's callback
    uses_threads = False
    supports_sharedmem = False  # calls run elsewhere, on pickled copies of their arguments
    supports_inner_max_num_threads = False
    default_n_jobs = -1

    def __init__(self, cluster: Any = None, priority: int = 0, nesting_level: int | None = None,
                 inner_max_num_threads: int | None = None, **backend_kwargs):
        super().__init__(nesting_level=nesting_level,
                         inner_max_num_threads=inner_max_num_threads, **backend_kwargs)
        if cluster is not None and not callable(getattr(cluster, "exec", None)):
            raise InvalidArgumentError(f"the rxgrid joblib backend takes cluster=<a compute "
                                       f"context>, not a {type(cluster).__name__}")
        self.cluster = cluster
        self.priority = priority
        self._waiters: concurrent.futures.ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._running: dict[concurrent.futures.Future, str] = {}  # future -> job id

    def __reduce__(self):
        # A batch carries its nested backend, never this one; should this one be pickled,
        # it goes without its connection.
        return (RxgridBackend, ())

    def _context(self) -> Any:
        if self.cluster is None:
            from .client.context import get_context
            self.cluster = get_context()
        return self.cluster

    # ------------------------------------------------------------ sizing
    def effective_n_jobs(self, n_jobs: int | None) -> int:
        """Batches run at once: ``n_jobs`` as given, or for ``-k`` all slots but ``k - 1``."""
        if n_jobs == 0:
            raise ValueError("n_jobs == 0 in Parallel has no meaning")
        if n_jobs is None:
            n_jobs = self.default_n_jobs
        if n_jobs < 0:
            return max(self._slots() + 1 + n_jobs, 1)
        return n_jobs

    def _slots(self) -> int:
        context = self._context()
        total = getattr(context, "_total_slots", None)
        if total is not None:
            return max(1, total())
        return max(1, sum(w.cores for w in context.workers()))

    def configure(self, n_jobs: int | None = 1, parallel=None, prefer=None, require=None,
                  **backend_kwargs) -> int:
        """Ready the backend for one ``Parallel`` call; returns the batches run at once."""
        n_jobs = self.effective_n_jobs(n_jobs)
        self.parallel = parallel
        with self._lock:
            if self._waiters is None:
                # One waiter per batch in flight: the default pre_dispatch is 2 * n_jobs.
                self._waiters = concurrent.futures.ThreadPoolExecutor(
                    min(2 * n_jobs + 2, 64), thread_name_prefix="rxgrid-joblib")
        return n_jobs

    def get_nested_backend(self):
        """Calls inside a batch run sequentially: the worker's cores are busy with batches."""
        level = (self.nesting_level or 0) + 1
        return SequentialBackend(nesting_level=level), None

    # ------------------------------------------------------------ batches
    def submit(self, func, callback=None) -> concurrent.futures.Future:
        """Run the batch ``func`` as a job of the context; the future holds its results."""
        from .client.prepare import new_job_id

        future: concurrent.futures.Future = concurrent.futures.Future()
        future.get = future.result  # the AsyncResult API joblib's older paths call
        job_id = "joblib-" + new_job_id()
        with self._lock:
            if self._waiters is None:
                raise RuntimeError("the rxgrid joblib backend was used before configure()")
            self._running[future] = job_id
            self._waiters.submit(self._run, func, future, job_id)
        if callback is not None:
            future.add_done_callback(callback)
        return future

    apply_async = submit  # joblib < 1.5 calls this name

    def _run(self, batch, future: concurrent.futures.Future, job_id: str) -> None:
        if not future.set_running_or_notify_cancel():
            with self._lock:
                self._running.pop(future, None)
            return
        try:
            _register_batch_modules(batch)
            value = self._context().exec(run_batch, batch, job_id=job_id, priority=self.priority,
                                         auto_cleanup=True)[0]
        except BaseException as exc:  # noqa: BLE001 - handed to joblib through the future
            future.set_exception(exc)
            return
        finally:
            with self._lock:
                self._running.pop(future, None)
        if isinstance(value, TaskFailure):
            future.set_exception(value.exception())
        elif value[0]:
            future.set_result(value[1])
        else:
            error = value[1]
            error.__cause__ = RemoteTraceback(value[2])
            future.set_exception(error)

    def retrieve_result_callback(self, out: concurrent.futures.Future) -> Any:
        """The batch's list of results, or the exception one of its calls raised."""
        return out.result()

    def abort_everything(self, ensure_ready: bool = True) -> None:
        """Cancel the batches not started and the jobs of those running."""
        with self._lock:
            running = dict(self._running)
        context = self.cluster
        for future, job_id in running.items():
            if future.cancel() or context is None:
                continue
            try:
                context.job(job_id).cancel()
            except RxgridError:
                pass  # ended, or not submitted yet
        if not ensure_ready:
            self.terminate()

    def terminate(self) -> None:
        """End of a ``Parallel`` call: let the waiter threads go."""
        with self._lock:
            waiters, self._waiters = self._waiters, None
        if waiters is not None:
            waiters.shutdown(wait=False, cancel_futures=True)
        self.reset_batch_stats()


def register() -> None:
    """Register the backend with joblib as "rxgrid" (importing this module does it)."""
    joblib.register_parallel_backend(BACKEND_NAME, RxgridBackend)


register()

__all__ = ["RxgridBackend", "register", "run_batch", "BACKEND_NAME"]
