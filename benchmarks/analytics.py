"""Hook for the analytics benchmarks (issue 7): ``logit`` and ``lin_mod(cube=True)`` on
100 million rows. Not built yet.

To build it, fill in :func:`run` the way the other groups do: make (or reuse) a block
data set on local disk outside the timing, then time ``rxgrid.analytics`` fitting it
on ``rxgrid.local(workers=2)`` (and ``rxgrid-1w`` for the speed-up), beside the peers'
natural way to fit the same model (e.g. ``dask_ml``/statsmodels on Dask arrays) where
one exists; record with ``rec.add(GROUP, "logit", "wall", "s", "lower", system, secs)``.
The runner already lists this group; ``--only analytics`` selects it.
"""

from __future__ import annotations

import logging

from .common import Config, Recorder

GROUP = "analytics"
WORKLOADS = ("logit", "lin_mod")
log = logging.getLogger("benchmarks.analytics")


def run(cfg: Config, rec: Recorder, only: set[str]) -> None:
    log.info("[analytics] logit / lin_mod on 100M rows: not built yet, skipped")
    for workload in WORKLOADS:
        if workload in only:
            rec.status(GROUP, workload, "*", "not built yet")
