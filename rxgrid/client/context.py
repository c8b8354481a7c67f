"""The current compute context, as RevoScaleR's ``rxSetComputeContext`` keeps one.

    set_context(rxgrid.local(workers=4))       # from now on rxgrid.exec(...) runs there
    rxgrid.exec(play_dice, times=10_000, seed=777)
    with use_context(rxgrid.local_sequential()):
        rxgrid.exec(play_dice, times=10)        # for a while: in this process, in order

The default is ``local_sequential()``, made on first use. The current context is one
per process (a module global guarded by a lock), like RevoScaleR's: ``set_context`` in
one thread changes it for every thread, and two threads that nest ``use_context`` blocks
at the same time restore each other's contexts in an order they do not control. Pass
contexts explicitly (``ctx.exec``) in threaded code.

Every context is a :class:`ComputeContext`: ``exec`` is written once here, turns its
keywords into a :class:`~rxgrid.JobOptions` and a checked call, and hands both to the
context's ``_run``::

    ctx.exec(fn, *args, kwargs=None, **keywords)    ctx.options(seed=1).exec(fn, *args)
        └──────────────► _exec: split_keywords, JobOptions, prepare ◄──┘ (BoundContext)
                                 │
                                 ▼  _run(call, options)
        Cluster: JobSpec to the head   SequentialCluster: in this process
        ExecutorContext: chunks to a concurrent.futures.Executor
"""

from __future__ import annotations

import concurrent.futures
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgumentError
from .analytics import AnalyticsMixin
from .options import JobOptions, split_keywords
from .prepare import PreparedCall, prepare

if TYPE_CHECKING:
    from .job import JobHandle, JobInfo


class ComputeContext(AnalyticsMixin):
    """Where jobs run (RevoScaleR's compute context): one ``exec``, one job API.

    Subclasses implement :meth:`_run` (run a checked call), :meth:`job`, :meth:`jobs`,
    :meth:`cleanup`, :meth:`workers` and :meth:`_make_executor`.
    """

    address: str = ""
    last_job: JobHandle | None = None

    def exec(self, function: Callable[..., Any], /, *args: Any,
             kwargs: Mapping[str, Any] | None = None, **keywords: Any) -> Any:
        """Run ``function`` many times: ``times`` times, or once per value of its ``each()`` arguments.

        RevoScaleR's ``rxExec``: the function's arguments and rxgrid's options go in one
        call. A keyword with an option's name is the option; one that the function could
        also take (it has a parameter of that name, or ``**kwargs``) is refused as
        ambiguous: pass the function's keywords in ``kwargs={...}`` and the options beside
        it, or through :meth:`options`.

        Args:
            function: What each task calls (defined anywhere: ``__main__`` and notebooks too).
            *args: Its positional arguments; ``rxgrid.each(values)`` gives one value per
                task (several zip together). Common ones are pickled once.
            kwargs: The function's keyword arguments, given explicitly; then every other
                keyword must be an option.
            **keywords: The function's keyword arguments (when ``kwargs`` is not given)
                and rxgrid's options: any field of :class:`rxgrid.JobOptions`, each
                documented there.

        Returns:
            With ``wait=True`` the results in task order (a failed task's place holds a
            :class:`rxgrid.TaskFailure`; ``{worker: result}`` with ``per_node``); with
            ``wait=False`` a job handle (:class:`rxgrid.Job` on a cluster).

        Raises:
            InvalidArgumentError: A bad option or argument, an unknown option name next
                to ``kwargs=``, or an ambiguous keyword; nothing was submitted.
            JobFailedError: ``continue_on_failure=False`` and a task failed (also an
                instance of the task's own exception class).
        """
        return self._exec(function, args, kwargs, keywords, JobOptions(), sys._getframe(1))

    def options(self, options: JobOptions | None = None, /, **changes: Any) -> BoundContext:
        """This context with options bound for every ``exec`` made through it (Ray's ``.options()``).

        ``cluster.options(seed=1, timeout=5).exec(simulate, 10)`` seeds the task streams
        with 1 and leaves ``simulate``'s own ``seed`` alone. Options given this way are
        never mistaken for the function's keywords. An unknown name is an error.

        Args:
            options: Options to start from (default: every option at its default).
            **changes: Options to set, by name (the fields of :class:`rxgrid.JobOptions`).
        """
        return BoundContext(self, (options or JobOptions()).replace(**changes))

    def executor(self, keep_jobs: bool = False) -> concurrent.futures.Executor:
        """A ``concurrent.futures.Executor`` whose tasks run on this context."""
        return self._make_executor(keep_jobs, JobOptions())

    def _exec(self, function: Callable, args: tuple, kwargs: Mapping[str, Any] | None,
              keywords: dict[str, Any], base: JobOptions, caller: FrameType | None) -> Any:
        chosen, function_kwargs = split_keywords(function, keywords, kwargs)
        options = base.replace(**chosen) if chosen else base
        call = prepare(function, args, function_kwargs, options, caller)
        return self._run(call, options)

    def _run(self, call: PreparedCall, options: JobOptions) -> Any:
        """Run a checked call: its results when ``options.wait``, else its job handle."""
        raise NotImplementedError

    def _make_executor(self, keep_jobs: bool, options: JobOptions) -> concurrent.futures.Executor:
        raise NotImplementedError

    def job(self, job_id: str) -> JobHandle:
        """The job with this id (JobNotFoundError if unknown)."""
        raise NotImplementedError

    def jobs(self, state: str | None = None, since: Any = None, until: Any = None,
             limit: int = 0) -> list[JobInfo]:
        """Jobs of this context, oldest first, filtered by state and submission time."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the context holds (jobs on a cluster go on)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def plain_pool(options: JobOptions, context: str) -> None:
    """Refuse bound options for a context whose ``executor()`` runs calls without them."""
    if options != JobOptions():
        raise InvalidArgumentError(f"the executor() of {context} is a plain pool that runs each "
                                   f"call as it is: options() do not reach it ({options!r}); "
                                   f"use exec() on the bound context instead")


class BoundContext:
    """A compute context with options bound: ``cluster.options(priority=5, timeout=60)``.

    ``exec`` and ``executor`` use the bound options (an ``exec`` keyword overrides one);
    ``options`` binds more; job lookups (``job``, ``jobs``, ``last_job``, ``cleanup``,
    ``workers``) are the context's own.
    """

    _DELEGATED = frozenset({"job", "jobs", "last_job", "cleanup", "workers", "address",
                            "disk_usage", "close", "name"})

    def __init__(self, context: ComputeContext, options: JobOptions):
        self.context = context
        self.job_options = options

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.context!r} {self.job_options!r}>"

    def exec(self, function: Callable[..., Any], /, *args: Any,
             kwargs: Mapping[str, Any] | None = None, **keywords: Any) -> Any:
        """:meth:`ComputeContext.exec` with the bound options as defaults."""
        return self.context._exec(function, args, kwargs, keywords, self.job_options,
                                  sys._getframe(1))

    def options(self, options: JobOptions | None = None, /, **changes: Any) -> BoundContext:
        """These options changed by ``changes`` (or replaced by ``options``)."""
        return BoundContext(self.context, (options or self.job_options).replace(**changes))

    def executor(self, keep_jobs: bool = False) -> concurrent.futures.Executor:
        """The context's executor, running its jobs with the bound options."""
        return self.context._make_executor(keep_jobs, self.job_options)

    def __getattr__(self, name: str) -> Any:
        if name in self._DELEGATED:
            return getattr(self.context, name)
        raise AttributeError(f"{type(self).__name__} has exec, executor, options and the job "
                             f"lookups; call {name} on the context itself "
                             f"(options() does not apply to it)")


_lock = threading.Lock()
_current: Any = None


def _check(context: Any) -> Any:
    if not callable(getattr(context, "exec", None)):
        raise InvalidArgumentError(
            f"a compute context has an exec() method (rxgrid.local(), rxgrid.connect(), "
            f"rxgrid.local_sequential(), rxgrid.from_executor()); got a {type(context).__name__}")
    return context


def get_context() -> Any:
    """The current compute context (``local_sequential()`` until one is set)."""
    global _current
    with _lock:
        if _current is None:
            from .sequential import SequentialCluster
            _current = SequentialCluster()
        return _current


def set_context(context: Any) -> Any:
    """Make ``context`` the current compute context; returns the one it replaces.

    ``None`` goes back to the default (a fresh ``local_sequential()`` on next use).
    """
    global _current
    if context is not None:
        _check(context)
    with _lock:
        previous, _current = _current, context
    return previous


@contextmanager
def use_context(context: Any) -> Iterator[Any]:
    """``with use_context(ctx):`` makes ``ctx`` current inside the block, then restores."""
    global _current
    _check(context)
    with _lock:
        previous, _current = _current, context
    try:
        yield context
    finally:
        with _lock:
            _current = previous


def exec(function: Callable[..., Any], /, *args: Any,  # noqa: A001 - rxExec's name
         kwargs: Mapping[str, Any] | None = None, **keywords: Any) -> Any:
    """``get_context().exec(function, *args, **keywords)``: rxExec on the current context.

    ``objects=`` names are looked up in the caller's scope, as ``ctx.exec`` does.
    """
    context, caller = get_context(), sys._getframe(1)
    if isinstance(context, BoundContext):
        return context.context._exec(function, args, kwargs, keywords, context.job_options, caller)
    if isinstance(context, ComputeContext):
        return context._exec(function, args, kwargs, keywords, JobOptions(), caller)
    return context.exec(function, *args, kwargs=kwargs, **keywords)


def lin_mod(formula: str, data, **options):
    """Linear model (rxLinMod) on the current compute context."""
    return get_context().lin_mod(formula, data, **options)


def logit(formula: str, data, **options):
    """Logistic regression (rxLogit) on the current compute context."""
    return get_context().logit(formula, data, **options)


def glm(formula: str, data, **options):
    """Generalised linear model (rxGlm) on the current compute context."""
    return get_context().glm(formula, data, **options)


def kmeans(formula, data, centers=None, **options):
    """k-means (rxKmeans) on the current compute context."""
    return get_context().kmeans(formula, data, centers, **options)


def summary(formula: str, data, **options):
    """Summary statistics (rxSummary) on the current compute context, as a DataFrame."""
    return get_context().summary(formula, data, **options)


def crosstabs(formula: str, data, **options):
    """Contingency tables (rxCrossTabs) on the current compute context, as a DataFrame."""
    return get_context().crosstabs(formula, data, **options)


def cube(formula: str, data, **options):
    """Cell means and counts (rxCube) on the current compute context, as a DataFrame."""
    return get_context().cube(formula, data, **options)


def quantile(column: str, data, probs=(0.0, 0.25, 0.5, 0.75, 1.0), **options):
    """Quantiles (rxQuantile) on the current compute context, as a DataFrame."""
    return get_context().quantile(column, data, probs, **options)


__all__ = ["BoundContext", "ComputeContext", "get_context", "set_context", "use_context", "exec",
           "lin_mod", "logit", "glm", "kmeans", "summary", "crosstabs", "cube", "quantile"]
