"""RevoScaleR's HPA functions on a compute context: ``lin_mod``, ``logit``, ``glm``,
``kmeans`` over a block dataset, with the blocks spread over the workers as tasks.

The fitting loops live in :mod:`rxgrid.analytics.models`; this module gives them a
``map_blocks`` that runs each step's partial statistics as one job of the context.
With ``wait=False`` the whole fit (driver included) runs as a job on the cluster, so
it survives the client's exit and ``job.result()`` is the fitted model.
"""

from __future__ import annotations

import contextvars
import os

from .._args import each
from ..errors import InvalidArgumentError

# True while a waiting fit runs one of its steps: a Ctrl-C then detaches the fit as a
# whole (AnalyticsMixin._detach_fit), not the step's job, which that cancels.
FIT_STEP: contextvars.ContextVar[bool] = contextvars.ContextVar("rxgrid_fit_step", default=False)


class ContextMap:
    """``map_blocks`` over a compute context: one job per step, one task per block range."""

    def __init__(self, context, priority: int = 0):
        self.context = context
        self.priority = priority

    def __call__(self, fn, arguments: list[tuple]) -> list:
        if not arguments:
            return []
        columns = [each(list(c)) for c in zip(*arguments, strict=True)]
        step = FIT_STEP.set(True)
        try:
            return self.context.options(priority=self.priority, continue_on_failure=False).exec(
                fn, *columns)
        finally:
            FIT_STEP.reset(step)


def fit_model(kind: str, data: str, formula, options: dict, map_blocks=None):
    """Fit model ``kind`` ('glm' or 'kmeans') on ``data`` (runs where it is called)."""
    from ..analytics import models
    if map_blocks is None:  # running as a driver task on a worker: use the cluster it runs on
        from .. import connect
        map_blocks = ContextMap(connect(os.environ["RXGRID_HEAD"]), options.pop("_priority", 0))
    if kind == "kmeans":
        return models.kmeans(data, formula, options.pop("k"), map_blocks=map_blocks, **options)
    return models.glm(data, formula, map_blocks=map_blocks, **options)


class AnalyticsMixin:
    """The HPA methods every compute context has (it provides ``options().exec`` and ``_total_slots``)."""

    def lin_mod(self, formula: str, data: str, *, cube: bool = False, wait: bool = True, **options):
        """Linear model (rxLinMod): ``cluster.lin_mod("ArrDelay ~ DayOfWeek", data=path, cube=True)``."""
        return self._fit("glm", data, formula, dict(family="gaussian", cube=cube, **options), wait)

    def logit(self, formula: str, data: str, *, wait: bool = True, **options):
        """Logistic regression (rxLogit) on a 0/1 response."""
        return self._fit("glm", data, formula, dict(family="binomial", **options), wait)

    def glm(self, formula: str, data: str, *, family: str = "gaussian", wait: bool = True, **options):
        """Generalised linear model (rxGlm): family 'gaussian', 'binomial' or 'poisson'."""
        return self._fit("glm", data, formula, dict(family=family, **options), wait)

    def kmeans(self, formula, data: str, k, *, wait: bool = True, **options):
        """k-means (rxKmeans) over the columns of a formula ``"~ a + b"`` or a list of names."""
        return self._fit("kmeans", data, formula, dict(k=k, **options), wait)

    def predict(self, model, data, **options):
        """Score a fitted model (rxPredict); a data set is scored block by block as tasks here."""
        from ..analytics.predict import predict

        return predict(model, data, map_blocks=ContextMap(self, options.pop("priority", 0)), **options)

    def _fit(self, kind: str, data, formula, options: dict, wait: bool):
        data = os.fspath(data)
        priority = options.pop("priority", 0)
        if wait:
            try:
                fit = fit_model(kind, data, formula, dict(options), ContextMap(self, priority))
                fit.map_blocks = ContextMap(self, priority)  # fit.predict(dataset) scores here, as tasks
                return fit
            except KeyboardInterrupt:
                self._detach_fit(kind, data, formula, options, priority)
                raise
        if self._total_slots() < 2:
            raise InvalidArgumentError(
                "a non-waiting fit runs its driver as a task and its block steps as further "
                "tasks, so it needs at least 2 executor slots; this cluster has fewer")
        return self.options(wait=False, priority=priority, _single_result=True).exec(
            fit_model, kind, data, formula, dict(options, _priority=priority))

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
