"""Side-by-side benchmarks of rxgrid against Ray, Dask distributed and
``concurrent.futures.ProcessPoolExecutor``, in one run on one machine.

    python -m benchmarks [--quick] [--only NAME ...] [--reps N] [--out benchmarks/RESULTS.md]

writes ``RESULTS.md`` (medians, min/max, checks of the results, rxgrid ÷ peer ratios where
the checks agree, verdicts by min-max separation, goals, machine facts) and
``results.json`` (every raw value) beside it. Repetitions are interleaved across
systems (``common.interleave``); the rules are in ``fair``. Groups, each its own module, run in
this order; each starts every system, runs its workloads, and shuts the system down:

=============  ==========================================  ========
group          workloads                                   issue
=============  ==========================================  ========
overhead       roundtrip, throughput-each,                 2, 19
               throughput-batched
startup        startup                                     2
seed001        dice, birthday, mandelbrot, kmeans          7
               (+ in-process baseline, 1 vs 2 workers)
native         mandelbrot-c, mandelbrot-prange,            3
               kmeans-sklearn (vs C, prange, scikit-learn)
broadcast      broadcast                                   7
analytics      lin_mod (120 M rows), logit (100 M),         3, 7
               logit-1b (1 billion rows, seed 000),
               logit-sklearn (10 M, beside scikit-learn)
=============  ==========================================  ========
"""

from . import analytics, broadcast, native, overhead, seed001, startup

GROUPS = (overhead, startup, seed001, native, broadcast, analytics)

__all__ = ["GROUPS"]
