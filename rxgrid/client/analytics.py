"""RevoScaleR's HPA functions on a compute context: ``lin_mod``, ``logit``, ``glm``,
``kmeans``, ``summary``, ``crosstabs``, ``cube`` and ``quantile``, with the blocks spread
over the workers as tasks.

Every method takes ``(formula, data, ...)`` with ``data`` in any form
:func:`rxgrid.analytics.data_source` reads (a data set, Parquet, CSV, a DataFrame: on a
cluster a DataFrame or CSV is written to a scratch data set the workers read). The
loops live in :mod:`rxgrid.analytics`; this module gives them a ``map_blocks`` that runs
each step's partial statistics as one job of the context. With ``wait=False`` the whole
fit (driver included) runs as a job on the cluster, so it survives the client's exit
and ``job.result()`` is the fitted model.
"""

from __future__ import annotations

import contextvars
import os

from ..errors import InvalidArgumentError, interrupt_behind
from ..runtime.args import each

# True while a waiting fit runs one of its steps: a Ctrl-C then detaches the fit as a
# whole (AnalyticsMixin._detach_fit), not the step's job, which that cancels.
FIT_STEP: contextvars.ContextVar[bool] = contextvars.ContextVar("rxgrid_fit_step", default=False)


class ContextMap:
    """``map_blocks`` over a compute context: one job per step, one task per block range."""

    def __init__(self, context, priority: int = 0, cores: int = 1):
        self.context = context
        self.priority = priority
        self.cores = cores  # each block task's slots: the Numba threads of the block kernels

    def __call__(self, fn, arguments: list[tuple]) -> list:
        if not arguments:
            return []
        columns = [each(list(c)) for c in zip(*arguments, strict=True)]
        step = FIT_STEP.set(True)
        try:
            return self.context.options(priority=self.priority, cores=self.cores,
                                        continue_on_failure=False).exec(
                fn, *columns)
        finally:
            FIT_STEP.reset(step)


def fit_model(kind: str, data: str, formula, options: dict, map_blocks=None):
    """Fit model ``kind`` ('glm' or 'kmeans') on ``data`` (runs where it is called)."""
    from ..analytics import api
    if map_blocks is None:  # running as a driver task on a worker: use the cluster it runs on
        from .. import connect
        map_blocks = ContextMap(connect(os.environ["RXGRID_HEAD"]), options.pop("_priority", 0),
                                options.pop("_cores", 1))
    if kind == "kmeans":
        return api.kmeans(formula, data, map_blocks=map_blocks, **options)
    return api.glm(formula, data, map_blocks=map_blocks, **options)


class AnalyticsMixin:
    """The HPA methods every compute context has (it provides ``options().exec`` and ``_total_slots``)."""

    _in_process = False  # whether block steps run in this process (then a DataFrame is read in place)

    def lin_mod(self, formula: str, data, *, cube: bool = False, wait: bool = True, **options):
        """Linear model (rxLinMod): ``cluster.lin_mod("ArrDelay ~ DayOfWeek", data=path, cube=True)``."""
        return self._fit_data("glm", data, formula, dict(family="gaussian", cube=cube, **options), wait)

    def logit(self, formula: str, data, *, wait: bool = True, **options):
        """Logistic regression (rxLogit) on a 0/1 response."""
        return self._fit_data("glm", data, formula, dict(family="binomial", **options), wait)

    def glm(self, formula: str, data, *, family: str = "gaussian", wait: bool = True, **options):
        """Generalised linear model (rxGlm): family 'gaussian', 'binomial' or 'poisson'."""
        return self._fit_data("glm", data, formula, dict(family=family, **options), wait)

    def kmeans(self, formula, data, centers=None, *, wait: bool = True, **options):
        """k-means (rxKmeans) over the columns of ``"~ a + b"`` (or a list of names); ``centers``
        is a number of clusters or an array of starting centers; ``max_iter`` (10)."""
        from ..analytics.api import renamed
        renamed(options, "k", "centers", "kmeans")
        renamed(options, "iter_max", "max_iter", "kmeans")
        centers = options.pop("centers") if centers is None and "centers" in options else centers
        return self._fit_data("kmeans", data, formula, dict(centers=centers, **options), wait)

    def summary(self, formula: str, data, **options):
        """Summary statistics (rxSummary) as a DataFrame; see :func:`rxgrid.analytics.summary`."""
        return self._summarize("summary", formula, data, options)

    def crosstabs(self, formula: str, data, **options):
        """Contingency tables (rxCrossTabs) as a DataFrame; see :func:`rxgrid.analytics.crosstabs`."""
        return self._summarize("crosstabs", formula, data, options)

    def cube(self, formula: str, data, **options):
        """Cell means and counts (rxCube) as a DataFrame; see :func:`rxgrid.analytics.cube`."""
        return self._summarize("cube", formula, data, options)

    def quantile(self, column: str, data, probs=(0.0, 0.25, 0.5, 0.75, 1.0), **options):
        """Quantiles (rxQuantile) as a DataFrame; see :func:`rxgrid.analytics.quantile`."""
        return self._summarize("quantile", column, data, dict(options, probs=probs))

    def _summarize(self, name: str, first, data, options: dict):
        from ..analytics import quantiles, sources, summaries
        function = quantiles.quantile if name == "quantile" else getattr(summaries, name)
        map_blocks = self._block_map(options.pop("priority", 0))
        with sources.data_source(data, in_process=self._in_process) as path:
            return function(first, path, map_blocks=map_blocks, **options)

    def _block_map(self, priority: int):
        return ContextMap(self, priority)

    def _fit_data(self, kind: str, data, formula, options: dict, wait: bool):
        """Resolve ``data`` (the old ``(data, formula)`` order warns), then fit."""
        from ..analytics import api, sources
        formula, data = api.ordered(formula, data, "lin_mod" if kind == "glm" else kind, stacklevel=4)
        api.renamed(options, "iter_max", "max_iter", kind, stacklevel=4)
        keep = not wait and not self._in_process  # a non-waiting fit reads it after we return
        with sources.data_source(data, in_process=self._in_process, keep=keep) as path:
            result = self._fit(kind, path, formula, options, wait)
        return api._labelled(result, data) if wait else result

    def predict(self, model, data, **options):
        """Score a fitted model (rxPredict); a data set is scored block by block as tasks here."""
        from ..analytics.predict import predict

        return predict(model, data, map_blocks=ContextMap(self, options.pop("priority", 0)), **options)

    def _fit(self, kind: str, data, formula, options: dict, wait: bool):
        data = os.fspath(data)
        priority, cores = options.pop("priority", 0), options.pop("cores", 1)
        if wait:
            try:
                blocks = ContextMap(self, priority, cores)
                fit = fit_model(kind, data, formula, dict(options), blocks)
                fit.map_blocks = blocks  # fit.predict(dataset) scores here, as tasks
                return fit
            except BaseException as exc:
                interrupt = interrupt_behind(exc)
                if interrupt is None:
                    raise
                self._detach_fit(kind, data, formula, dict(options, _cores=cores), priority)
                raise interrupt from None
        if self._total_slots() < 2:
            raise InvalidArgumentError(
                "a non-waiting fit runs its driver as a task and its block steps as further "
                "tasks, so it needs at least 2 executor slots; this cluster has fewer")
        return self.options(wait=False, priority=priority, _single_result=True).exec(
            fit_model, kind, data, formula, dict(options, _priority=priority, _cores=cores))

    def _detach_fit(self, kind, data, formula, options, priority) -> None:
        """Ctrl-C in a waiting fit: go on as a non-waiting fit on the cluster."""
        last = getattr(self, "last_job", None)
        if last is not None and hasattr(last, "cancel"):
            last.cancel()  # the step that was running belongs to the driver we leave
        if self._total_slots() < 2 or not hasattr(self, "_conn"):
            return
        from .cluster import detach
        job = self.options(wait=False, priority=priority, _single_result=True).exec(
            fit_model, kind, data, formula, dict(options, _priority=priority))
        detach(job, resubmitted=True)

    def _total_slots(self) -> int:  # pragma: no cover - overridden
        return 1
