"""Native code and in-process parallelism as the peers (issue 3): how far rxgrid's Numba
kernels are from C, from one process's own threads, and from scikit-learn on Ray.

``mandelbrot-c``       Mandelbrot escape counts, 2000x2000 grid, 1000 iterations (--quick:
                       1000x1000), on ONE core in this process: rxgrid's Numba kernel
                       (``mandelbrot_row`` row after row, the single-threaded path) against
                       the same loop in C, written out and compiled here with ``gcc -O3``
                       into a shared library called through ``ctypes``. Ratio: numba ÷ gcc.
``mandelbrot-prange``  the same full grid with 2 cores: Numba's ``prange`` driver
                       (``mandelbrot_grid``) in one process with 2 threads, against
                       ``rxgrid.local(workers=2)`` running it in 40 row bands (seed001's way).
``kmeans-sklearn``     seed 001 k-means (5000x50 standard normal data, k=10, iter_max=35,
                       400 starts; --quick: 100) with 2 cores: rxgrid with its Numba kernel
                       (20 tasks of 20 starts, as seed001) against Ray running scikit-learn's
                       ``KMeans(n_clusters=10, n_init=20, max_iter=35, algorithm="lloyd")``
                       as 20 tasks (--quick: 5 starts each), the data shared by ``ray.put``.

The C loop is ``_escape_count``'s arithmetic in the same order, on the very grid the
Numba kernel gets (the same float64 arrays are passed in), built with
``-ffp-contract=off`` so no fused multiply-add can change a result: the counts must be
identical, and the report's check column says whether they are. Compilation and the
first Numba call are outside the timing; the numba and gcc repetitions alternate, so a
change in the machine's load hits both alike.

``__main__`` gives every process 1 Numba thread, so the ``prange`` run happens in a
child process started with ``NUMBA_NUM_THREADS=2`` that makes one untimed warm-up call
(loads the compiled code, starts the threads) and prints its timings as JSON. The
rxgrid runs make an untimed tiny run first, as seed001 does.

For k-means both sides keep the best of all starts; the report has the wall time and
that best inertia (lower is better) of each. The two use different seeding streams
(and scikit-learn's greedy k-means++), so the inertias are close but not equal.
scikit-learn's OpenMP and BLAS are held to 1 thread in the Ray workers
(``OMP_NUM_THREADS=1`` etc. in the environment Ray starts from; the check column shows
what ``threadpoolctl`` saw there), so both systems use 2 processes of 1 core.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import replace

import numpy as np

from . import seed001, systems, tasks
from .common import Config, Recorder, guarded, timed

GROUP = "native"
WORKLOADS = ("mandelbrot-c", "mandelbrot-prange", "kmeans-sklearn")
# mandelbrot-c has no rxgrid row: its ratios are numba ÷ each system (see report.py).
REFERENCES = {"mandelbrot-c": "numba-1core"}
MANDEL_LIM = 1000
PRANGE_THREADS = 2
CFLAGS = ("-O3", "-ffp-contract=off", "-fPIC", "-shared")
ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
              "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
log = logging.getLogger("benchmarks.native")


def run(cfg: Config, rec: Recorder, only: set[str]) -> None:
    base = seed001.QUICK if cfg.quick else seed001.FULL
    # seed001's sizes for the Mandelbrot bands; the full k-means data even with --quick.
    sizes = replace(base, kmeans_rows=5000, kmeans_cols=50, kmeans_k=10, kmeans_iter=35,
                    kmeans_tasks=20, kmeans_starts=cfg.size(20, 5))
    X = np.random.default_rng(1).standard_normal((sizes.kmeans_rows, sizes.kmeans_cols))
    if "mandelbrot-c" in only:
        mandelbrot_c(cfg, rec, sizes)
    if "mandelbrot-prange" in only:
        with guarded(rec, GROUP, f"numba-prange-{PRANGE_THREADS}threads", "mandelbrot-prange"):
            mandelbrot_prange(cfg, rec, sizes)
    rx_workloads = [w for w in ("mandelbrot-prange", "kmeans-sklearn") if w in only]
    if rx_workloads and "rxgrid" in cfg.systems:
        log.info("[%s] starting rxgrid", GROUP)
        with guarded(rec, GROUP, "rxgrid"), systems.make("rxgrid") as system:
            system.warm()
            for workload in rx_workloads:
                with guarded(rec, GROUP, system.name, workload):
                    RXGRID[workload](system, cfg, rec, sizes, X)
        log.info("[%s] rxgrid done", GROUP)
    if "kmeans-sklearn" in only and "ray" in cfg.systems:
        with guarded(rec, GROUP, "ray-sklearn", "kmeans-sklearn"):
            kmeans_ray_sklearn(cfg, rec, sizes, X)


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """The columns and rows of ``tasks.mandelbrot_band``'s grid (its bands, joined)."""
    return np.linspace(-2.0, 0.6, size), np.linspace(-1.3, 1.3, size)


def _mandel_params(s: seed001.Sizes) -> dict:
    return {"grid": f"{s.mandel_size}x{s.mandel_size}", "iterations": s.mandel_lim}


# ---------------------------------------------------------------- mandelbrot-c
C_SOURCE = r"""
/* rxgrid.kernels.mandelbrot._escape_count and _mandelbrot_row: same arithmetic, same order. */
static int escape_count(double x0, double y0, int lim)
{
    double x = x0;
    double y = y0;
    int count = 0;
    while (x * x + y * y < 4.0 && count < lim) {
        double xtemp = x * x - y * y + x0;
        y = 2.0 * x * y + y0;
        x = xtemp;
        count += 1;
    }
    return count;
}

void mandelbrot_grid(const double *xvec, long nx, const double *yvec, long ny, int lim,
                     int *out)
{
    for (long r = 0; r < ny; r++)
        for (long i = 0; i < nx; i++)
            out[r * nx + i] = escape_count(xvec[i], yvec[r], lim);
}
"""


def numba_1core(xvec: np.ndarray, yvec: np.ndarray, lim: int) -> np.ndarray:
    """The grid row after row with rxgrid's single-threaded row kernel."""
    from rxgrid.kernels import mandelbrot_row
    out = np.empty((yvec.shape[0], xvec.shape[0]), dtype=np.int32)
    for r in range(yvec.shape[0]):
        out[r] = mandelbrot_row(xvec, yvec[r], lim)
    return out


class CMandelbrot:
    """The C loop, compiled with gcc into a temporary directory and loaded by ctypes."""

    def __init__(self, workdir: str):
        gcc = shutil.which("gcc")
        if gcc is None:
            raise systems.NotInstalled("gcc is not installed")
        source = os.path.join(workdir, "mandelbrot.c")
        library = os.path.join(workdir, "libmandelbrot.so")
        with open(source, "w") as f:
            f.write(C_SOURCE)
        subprocess.run([gcc, *CFLAGS, "-o", library, source], check=True, capture_output=True,
                       text=True, timeout=120)
        version = subprocess.run([gcc, "-dumpfullversion"], capture_output=True, text=True,
                                 timeout=30).stdout.strip()
        self.note = f"gcc {version} {' '.join(CFLAGS[:2])}, via ctypes"
        self.fn = ctypes.CDLL(library).mandelbrot_grid
        self.fn.restype = None
        self.fn.argtypes = [ctypes.c_void_p, ctypes.c_long, ctypes.c_void_p, ctypes.c_long,
                            ctypes.c_int, ctypes.c_void_p]

    def __call__(self, xvec: np.ndarray, yvec: np.ndarray, lim: int) -> np.ndarray:
        xvec = np.ascontiguousarray(xvec, dtype=np.float64)
        yvec = np.ascontiguousarray(yvec, dtype=np.float64)
        out = np.empty((yvec.shape[0], xvec.shape[0]), dtype=np.int32)
        self.fn(xvec.ctypes.data, xvec.shape[0], yvec.ctypes.data, yvec.shape[0], lim,
                out.ctypes.data)
        return out


def mandelbrot_c(cfg: Config, rec: Recorder, s: seed001.Sizes) -> None:
    xvec, yvec = _grid(s.mandel_size)
    params = _mandel_params(s)
    with contextlib.ExitStack() as stack:
        runs = {"numba-1core": (numba_1core, "rxgrid mandelbrot_row, row by row, 1 thread")}
        with guarded(rec, GROUP, "gcc-O3-1core", "mandelbrot-c"):
            compiled = CMandelbrot(stack.enter_context(tempfile.TemporaryDirectory()))
            runs["gcc-O3-1core"] = (compiled, compiled.note)
        numba_counts = None
        for rep in range(cfg.reps):  # alternate the two, so a change of load hits both
            for name, (fn, note) in list(runs.items()):
                del runs[name]  # back below unless it fails: a failed system is not re-run
                with guarded(rec, GROUP, name, "mandelbrot-c"):
                    if rep == 0:
                        fn(xvec[:40], yvec[:40], 10)  # untimed: load the code
                    seconds, counts = timed(fn, xvec, yvec, s.mandel_lim)
                    check = f"sum {int(counts.sum())}"
                    if name == "numba-1core":
                        numba_counts = counts
                    elif numba_counts is not None:
                        differ = int(np.count_nonzero(counts != numba_counts))
                        check += ("; identical to numba-1core" if differ == 0 else
                                  f"; {differ} counts differ from numba-1core")
                    rec.add(GROUP, "mandelbrot-c", "wall", "s", "lower", name, seconds,
                            **params, note=note, check=check)
                    log.info("[mandelbrot-c] %s rep %d: %.3f s (%s)", name, rep, seconds, check)
                    runs[name] = (fn, note)


# ---------------------------------------------------------------- mandelbrot-prange
# Run by a child Python with NUMBA_NUM_THREADS=2; imports nothing of benchmarks.
PRANGE_CHILD = """
import json, sys, time
import numba
import numpy as np
from rxgrid.kernels import mandelbrot_grid
size, lim, reps = (int(a) for a in sys.argv[1:4])
xvec, yvec = np.linspace(-2.0, 0.6, size), np.linspace(-1.3, 1.3, size)
mandelbrot_grid(xvec[:40], yvec[:40], 10)  # untimed: load the code, start the threads
times = []
for _ in range(reps):
    start = time.perf_counter()
    counts = mandelbrot_grid(xvec, yvec, lim)
    times.append(time.perf_counter() - start)
print(json.dumps({"times": times, "sum": int(counts.sum()), "threads": numba.get_num_threads(),
                  "layer": numba.threading_layer()}))
"""


def mandelbrot_prange(cfg: Config, rec: Recorder, s: seed001.Sizes) -> None:
    name = f"numba-prange-{PRANGE_THREADS}threads"
    env = {**os.environ, "NUMBA_NUM_THREADS": str(PRANGE_THREADS)}
    log.info("[mandelbrot-prange] %s: %d reps in a child process", name, cfg.reps)
    done = subprocess.run([sys.executable, "-c", PRANGE_CHILD, str(s.mandel_size),
                           str(s.mandel_lim), str(cfg.reps)], env=env, capture_output=True,
                          text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"prange child exited {done.returncode}: "
                           f"{done.stderr.strip().splitlines()[-1:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    if out["threads"] != PRANGE_THREADS:
        raise RuntimeError(f"prange child ran {out['threads']} Numba threads, not "
                           f"{PRANGE_THREADS}")
    for rep, seconds in enumerate(out["times"]):
        rec.add(GROUP, "mandelbrot-prange", "wall", "s", "lower", name, seconds,
                **_mandel_params(s), note=f"one process, {out['threads']} {out['layer']} threads",
                check=f"sum {out['sum']}")
        log.info("[mandelbrot-prange] %s rep %d: %.3f s", name, rep, seconds)


def mandelbrot_rxgrid(system, cfg: Config, rec: Recorder, s: seed001.Sizes, X) -> None:
    seed001.mandelbrot(system, seed001.TINY, None)  # untimed: first calls
    for rep in range(cfg.reps):
        seconds, check = timed(seed001.mandelbrot, system, s, None)
        rec.add(GROUP, "mandelbrot-prange", "wall", "s", "lower", system.name, seconds,
                **_mandel_params(s), note=f"{s.mandel_bands} bands", check=check)
        log.info("[mandelbrot-prange] %s rep %d: %.3f s (%s)", system.name, rep, seconds, check)


# ---------------------------------------------------------------- kmeans-sklearn
def _kmeans_params(s: seed001.Sizes) -> dict:
    return {"data": f"{s.kmeans_rows}x{s.kmeans_cols}", "k": s.kmeans_k,
            "iter_max": s.kmeans_iter, "starts": s.kmeans_tasks * s.kmeans_starts,
            "tasks": s.kmeans_tasks}


def _record_kmeans(rec: Recorder, system: str, s: seed001.Sizes, rep: int, seconds: float,
                   inertia: float, note: str) -> None:
    params = _kmeans_params(s)
    rec.add(GROUP, "kmeans-sklearn", "wall", "s", "lower", system, seconds, **params, note=note)
    rec.add(GROUP, "kmeans-sklearn", "inertia", "inertia", "lower", system, inertia, **params,
            check=f"best {inertia:.10g}")
    log.info("[kmeans-sklearn] %s rep %d: %.3f s, best inertia %.10g", system, rep, seconds,
             inertia)


def kmeans_rx(system, s: seed001.Sizes, X: np.ndarray) -> float:
    """seed001's k-means on rxgrid: best inertia of ``tasks`` x ``starts`` Numba starts."""
    common = (system.share(X), s.kmeans_k, s.kmeans_iter, s.kmeans_starts)
    fits = system.run_seeded(tasks.kmeans_task_rx, common, times=s.kmeans_tasks,
                             seed=seed001.SEED)
    return min(f[0] for f in fits)


def kmeans_rxgrid(system, cfg: Config, rec: Recorder, s: seed001.Sizes, X) -> None:
    tiny = seed001.TINY
    kmeans_rx(system, tiny, np.ascontiguousarray(X[:tiny.kmeans_rows, :tiny.kmeans_cols]))
    for rep in range(cfg.reps):
        seconds, inertia = timed(kmeans_rx, system, s, X)
        _record_kmeans(rec, system.name, s, rep, seconds, inertia,
                       f"Numba kernel, {s.kmeans_tasks} tasks of {s.kmeans_starts} starts")


def sklearn_kmeans_task(X: np.ndarray, k: int, iter_max: int, n_init: int, seed: int) -> float:
    """Best inertia of ``n_init`` scikit-learn Lloyd starts (runs in a Ray worker)."""
    from sklearn.cluster import KMeans
    fit = KMeans(n_clusters=k, n_init=n_init, max_iter=iter_max, algorithm="lloyd",
                 random_state=seed).fit(X)
    return float(fit.inertia_)


def sklearn_warm(pause: float) -> tuple[int, int]:
    """Import scikit-learn and fit once; (pid, most threads any thread pool would use)."""
    import time

    from threadpoolctl import threadpool_info
    sklearn_kmeans_task(np.random.default_rng(0).standard_normal((50, 3)), 2, 3, 1, 0)
    time.sleep(pause)
    return os.getpid(), max((p["num_threads"] for p in threadpool_info()), default=1)


@contextlib.contextmanager
def _one_thread_env() -> Iterator[None]:
    """OpenMP and BLAS at 1 thread in the processes started inside; restored after."""
    saved = {k: os.environ.get(k) for k in ONE_THREAD}
    os.environ.update(dict.fromkeys(ONE_THREAD, "1"))
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def kmeans_sklearn(system, s: seed001.Sizes, X: np.ndarray) -> float:
    common = (system.share(X), s.kmeans_k, s.kmeans_iter, s.kmeans_starts)
    rows = [(seed001.SEED * 1000 + t,) for t in range(s.kmeans_tasks)]
    return min(system.run_tasks(sklearn_kmeans_task, rows, common=common))


def kmeans_ray_sklearn(cfg: Config, rec: Recorder, s: seed001.Sizes, X: np.ndarray) -> None:
    if importlib.util.find_spec("sklearn") is None:
        raise systems.NotInstalled("scikit-learn is not installed")
    import sklearn
    log.info("[%s] starting ray (scikit-learn)", GROUP)
    with _one_thread_env(), systems.make("ray") as system:
        pids, threads = set(), set()
        for _ in range(40):  # until both worker processes have imported scikit-learn
            for pid, n in system.run_tasks(sklearn_warm, [(0.3,)] * system.workers):
                pids.add(pid)
                threads.add(n)
            if len(pids) >= system.workers:
                break
        tiny = seed001.TINY
        kmeans_sklearn(system, tiny, np.ascontiguousarray(X[:tiny.kmeans_rows,
                                                            :tiny.kmeans_cols]))
        note = (f"scikit-learn {sklearn.__version__}, {s.kmeans_tasks} tasks of "
                f"{s.kmeans_starts} starts, at most {max(threads)} thread(s) per worker")
        for rep in range(cfg.reps):
            seconds, inertia = timed(kmeans_sklearn, system, s, X)
            _record_kmeans(rec, "ray-sklearn", s, rep, seconds, inertia, note)
    log.info("[%s] ray done", GROUP)


RXGRID = {"mandelbrot-prange": mandelbrot_rxgrid, "kmeans-sklearn": kmeans_rxgrid}
