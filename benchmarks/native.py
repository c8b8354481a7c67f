"""Native code and in-process parallelism as the peers (issue 3): how far rxgrid's Numba
kernels are from C, from one process's own threads, and from scikit-learn on Ray.

``mandelbrot-c``       Mandelbrot escape counts, 2000x2000 grid, 1000 iterations (--quick:
                       1000x1000), on ONE core in this process: rxgrid's Numba kernel
                       (``mandelbrot_row`` row after row, the single-threaded path) against
                       the same loop in C, written out and compiled here with ``gcc -O3
                       -march=native`` (Numba compiles for the host too) into a shared
                       library called through ``ctypes``. Ratio: numba ÷ gcc.
``mandelbrot-prange``  the same full grid with 2 cores: Numba's ``prange`` driver
                       (``mandelbrot_grid``) in one process with 2 threads, against
                       ``rxgrid.local(workers=2)`` running it in 40 row bands (seed001's way).
``kmeans-sklearn``     seed 001 k-means (5000x50 standard normal data, k=10, iter_max=35,
                       400 starts; --quick: 100) with 2 cores: rxgrid with its Numba kernel
                       (20 tasks of 20 starts, as seed001) against Ray running scikit-learn's
                       ``KMeans(n_clusters=10, init=<the same start>, n_init=1, max_iter=35,
                       algorithm="lloyd")`` once per start, 20 tasks of 20 starts, the data
                       shared by ``ray.put``.

The C loop is ``_escape_count``'s arithmetic in the same order (the squares kept from the
test to the update, as the kernel does now), on the very grid the Numba kernel gets, built
with ``-ffp-contract=off`` so no fused multiply-add can change a result: the counts must
be identical (checked by digest), else the report refuses the ratio.

The k-means starts are the same on both sides: each Ray task derives rxgrid's stream for
its task (``tasks.peer_seed``), draws each start's k-means++ centers with rxgrid's own
seeding kernel, and gives them to scikit-learn as ``init``; the same starts converge to
the same inertias (per task, within a relative 1e-9), which the check proves.
scikit-learn's OpenMP and BLAS are held to 1 thread in the Ray workers
(``OMP_NUM_THREADS=1`` etc. in the environment Ray starts from; the note shows what
``threadpoolctl`` saw there), so both systems use 2 processes of 1 core.

Every workload's repetitions are interleaved across its systems (``common.interleave``):
round 1 runs numba, gcc, prange, rxgrid, ray-sklearn, round 2 again, and so on. The
``prange`` run is a child process started with ``NUMBA_NUM_THREADS=2`` for each round (this
run gives every process 1 Numba thread), which makes one untimed warm-up call and one
timed one. Compilation and first calls are outside the timing everywhere.
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
from .common import Config, Recorder, interleave, timed
from .fair import Check

GROUP = "native"
WORKLOADS = ("mandelbrot-c", "mandelbrot-prange", "kmeans-sklearn")
# mandelbrot-c has no rxgrid row: its ratios are numba ÷ each system (see report.py).
REFERENCES = {"mandelbrot-c": "numba-1core"}
PRANGE_THREADS = 2
NUMBA_1CORE, GCC, PRANGE = "numba-1core", "gcc-O3-native-1core", f"numba-prange-{PRANGE_THREADS}threads"
RAY_SKLEARN = "ray-sklearn"
CFLAGS = ("-O3", "-march=native", "-ffp-contract=off", "-fPIC", "-shared")
ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
              "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
SYSTEMS = {"mandelbrot-c": (NUMBA_1CORE, GCC), "mandelbrot-prange": (PRANGE, "rxgrid"),
           "kmeans-sklearn": ("rxgrid", RAY_SKLEARN)}
log = logging.getLogger("benchmarks.native")


def run(cfg: Config, rec: Recorder, only: set[str]) -> None:
    base = cfg.size(seed001.FULL, seed001.QUICK, seed001.SMOKE)
    # seed001's sizes for the Mandelbrot bands; the full k-means data even with --quick.
    sizes = replace(base, kmeans_rows=cfg.size(5000, 5000, 500), kmeans_cols=50, kmeans_k=10,
                    kmeans_iter=35, kmeans_tasks=cfg.size(20, 20, 4),
                    kmeans_starts=cfg.size(20, 5, 2))
    X = np.random.default_rng(1).standard_normal((sizes.kmeans_rows, sizes.kmeans_cols))
    chosen = [w for w in WORKLOADS if w in only]
    names = tuple(dict.fromkeys(n for w in chosen for n in SYSTEMS[w]
                                if n.split("-")[0] in cfg.systems or n not in ("rxgrid", RAY_SKLEARN)))

    def measure(system, workload: str, rnd: int) -> None:
        if system.name in SYSTEMS[workload]:
            MEASURES[workload](system, cfg, rec, sizes, X, rnd)
    interleave(GROUP, cfg, rec, chosen, measure, names, make=make)


def make(name: str):
    """The systems of this group: local runners, rxgrid, and Ray set up for scikit-learn."""
    if name == "rxgrid":
        return systems.make("rxgrid")
    if name == RAY_SKLEARN:
        return RaySklearn()
    return {NUMBA_1CORE: Numba1Core, GCC: CMandelbrot, PRANGE: PrangeChild}[name]()


class Local(systems.System):
    """A runner in this process (or a child it starts per call): nothing to start."""

    def __init__(self):
        super().__init__(workers=1)

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """The columns and rows of ``tasks.mandelbrot_band``'s grid (its bands, joined)."""
    return np.linspace(-2.0, 0.6, size), np.linspace(-1.3, 1.3, size)


def _mandel_params(s: seed001.Sizes) -> dict:
    return {"grid": f"{s.mandel_size}x{s.mandel_size}", "iterations": s.mandel_lim}


# ---------------------------------------------------------------- mandelbrot-c
C_SOURCE = r"""
/* rxgrid.kernels.mandelbrot._escape_count and _mandelbrot_row: same arithmetic, same order
   (the squares are kept from the loop test to the update, as the kernel does). */
static int escape_count(double x0, double y0, int lim)
{
    double x = x0;
    double y = y0;
    int count = 0;
    double x2 = x * x;
    double y2 = y * y;
    while (x2 + y2 < 4.0 && count < lim) {
        y = 2.0 * x * y + y0;
        x = x2 - y2 + x0;
        x2 = x * x;
        y2 = y * y;
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


class Numba1Core(Local):
    """The grid row after row with rxgrid's single-threaded row kernel, in this process."""

    name = NUMBA_1CORE
    note = "rxgrid mandelbrot_row, row by row, 1 thread"

    def __call__(self, xvec: np.ndarray, yvec: np.ndarray, lim: int) -> np.ndarray:
        from rxgrid.kernels import mandelbrot_row
        out = np.empty((yvec.shape[0], xvec.shape[0]), dtype=np.int32)
        for r in range(yvec.shape[0]):
            out[r] = mandelbrot_row(xvec, yvec[r], lim)
        return out


class CMandelbrot(Local):
    """The C loop, compiled with gcc into a temporary directory and loaded by ctypes."""

    name = GCC

    def start(self) -> None:
        gcc = shutil.which("gcc")
        if gcc is None:
            raise systems.NotInstalled("gcc is not installed")
        self.workdir = tempfile.TemporaryDirectory()
        source = os.path.join(self.workdir.name, "mandelbrot.c")
        library = os.path.join(self.workdir.name, "libmandelbrot.so")
        with open(source, "w") as f:
            f.write(C_SOURCE)
        subprocess.run([gcc, *CFLAGS, "-o", library, source], check=True, capture_output=True,
                       text=True, timeout=120)
        version = subprocess.run([gcc, "-dumpfullversion"], capture_output=True, text=True,
                                 timeout=30).stdout.strip()
        self.note = f"gcc {version} {' '.join(CFLAGS[:3])}, via ctypes"
        self.fn = ctypes.CDLL(library).mandelbrot_grid
        self.fn.restype = None
        self.fn.argtypes = [ctypes.c_void_p, ctypes.c_long, ctypes.c_void_p, ctypes.c_long,
                            ctypes.c_int, ctypes.c_void_p]

    def stop(self) -> None:
        self.workdir.cleanup()

    def __call__(self, xvec: np.ndarray, yvec: np.ndarray, lim: int) -> np.ndarray:
        xvec = np.ascontiguousarray(xvec, dtype=np.float64)
        yvec = np.ascontiguousarray(yvec, dtype=np.float64)
        out = np.empty((yvec.shape[0], xvec.shape[0]), dtype=np.int32)
        self.fn(xvec.ctypes.data, xvec.shape[0], yvec.ctypes.data, yvec.shape[0], lim,
                out.ctypes.data)
        return out


def mandelbrot_c(system, cfg: Config, rec: Recorder, s: seed001.Sizes, X, rnd: int) -> None:
    xvec, yvec = _grid(s.mandel_size)
    system(xvec[:40], yvec[:40], 10)  # untimed: load the code
    seconds, counts = timed(system, xvec, yvec, s.mandel_lim)
    check = seed001.mandelbrot_check(counts)
    rec.add(GROUP, "mandelbrot-c", "wall", "s", "lower", system.name, seconds, check,
            **_mandel_params(s), note=system.note)
    log.info("[mandelbrot-c] %s round %d: %.3f s (%s)", system.name, rnd + 1, seconds, check.text)


# ---------------------------------------------------------------- mandelbrot-prange
# Run by a child Python with NUMBA_NUM_THREADS=2; of benchmarks it imports only fair.
PRANGE_CHILD = """
import json, sys, time
import numba
import numpy as np
from rxgrid.kernels import mandelbrot_grid
from benchmarks.fair import digest
size, lim = (int(a) for a in sys.argv[1:3])
xvec, yvec = np.linspace(-2.0, 0.6, size), np.linspace(-1.3, 1.3, size)
mandelbrot_grid(xvec[:40], yvec[:40], 10)  # untimed: load the code, start the threads
start = time.perf_counter()
counts = mandelbrot_grid(xvec, yvec, lim)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "sum": int(counts.sum()), "digest": digest(counts),
                  "threads": numba.get_num_threads(), "layer": numba.threading_layer()}))
"""


class PrangeChild(Local):
    """Numba's ``prange`` driver in a child process with 2 threads, one run per call."""

    name = PRANGE

    def __call__(self, size: int, lim: int) -> dict:
        env = {**os.environ, "NUMBA_NUM_THREADS": str(PRANGE_THREADS)}
        done = subprocess.run([sys.executable, "-c", PRANGE_CHILD, str(size), str(lim)],
                              env=env, capture_output=True, text=True, timeout=1800)
        if done.returncode != 0:
            raise RuntimeError(f"prange child exited {done.returncode}: "
                               f"{done.stderr.strip().splitlines()[-1:]}")
        out = json.loads(done.stdout.strip().splitlines()[-1])
        if out["threads"] != PRANGE_THREADS:
            raise RuntimeError(f"prange child ran {out['threads']} Numba threads, not "
                               f"{PRANGE_THREADS}")
        return out


def mandelbrot_prange(system, cfg: Config, rec: Recorder, s: seed001.Sizes, X, rnd: int) -> None:
    if system.name == PRANGE:
        out = system(s.mandel_size, s.mandel_lim)
        seconds, note = out["seconds"], f"one process, {out['threads']} {out['layer']} threads"
        check = Check(f"sum {out['sum']}, counts #{out['digest']}", out["digest"])
    else:
        seed001.mandelbrot(system, seed001.TINY, None)  # untimed: first calls
        seconds, check = timed(seed001.mandelbrot, system, s, None)
        note = f"{s.mandel_bands} bands"
    rec.add(GROUP, "mandelbrot-prange", "wall", "s", "lower", system.name, seconds, check,
            **_mandel_params(s), note=note)
    log.info("[mandelbrot-prange] %s round %d: %.3f s (%s)", system.name, rnd + 1, seconds,
             check.text)


# ---------------------------------------------------------------- kmeans-sklearn
def sklearn_kmeans_task(X: np.ndarray, k: int, iter_max: int, n_starts: int, seed: int,
                        task: int) -> float:
    """Best inertia of ``n_starts`` scikit-learn Lloyd runs from the starts rxgrid's task
    ``task`` of a job seeded ``seed`` draws (``tasks.kmeans_task_rx``): its kernel seed,
    its k-means++ kernel, sub-stream ``s`` for start ``s``. Runs in a Ray worker."""
    from sklearn.cluster import KMeans

    from rxgrid.kernels._random import substream, task_key
    from rxgrid.kernels.kmeans import _init_plus_plus
    key = task_key(tasks.peer_seed(seed, task), 0)
    best = np.inf
    for start in range(n_starts):
        centers = _init_plus_plus(X, k, np.uint64(substream(key, start)))
        fit = KMeans(n_clusters=k, init=centers, n_init=1, max_iter=iter_max, tol=1e-4,
                     algorithm="lloyd").fit(X)
        best = min(best, float(fit.inertia_))
    return best


def sklearn_warm(pause: float) -> tuple[int, int]:
    """Import scikit-learn and fit once; (pid, most threads any thread pool would use)."""
    import time

    from threadpoolctl import threadpool_info
    sklearn_kmeans_task(np.random.default_rng(0).standard_normal((50, 3)), 2, 3, 1, 0, 0)
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


class RaySklearn(systems.Ray):
    """Ray whose workers start with OpenMP and BLAS at 1 thread and import scikit-learn."""

    name = RAY_SKLEARN

    def start(self) -> None:
        if importlib.util.find_spec("sklearn") is None:
            raise systems.NotInstalled("scikit-learn is not installed")
        with _one_thread_env():
            super().start()

    def warm(self) -> None:
        import sklearn
        pids, threads = set(), set()
        for _ in range(40):  # until both worker processes have imported scikit-learn
            for pid, n in self.run_tasks(sklearn_warm, [(0.3,)] * self.workers):
                pids.add(pid)
                threads.add(n)
            if len(pids) >= self.workers:
                break
        self.note = (f"scikit-learn {sklearn.__version__}, the same starts, at most "
                     f"{max(threads)} thread(s) per worker")


def _kmeans_params(s: seed001.Sizes) -> dict:
    return {"data": f"{s.kmeans_rows}x{s.kmeans_cols}", "k": s.kmeans_k,
            "iter_max": s.kmeans_iter, "starts": s.kmeans_tasks * s.kmeans_starts,
            "tasks": s.kmeans_tasks}


def kmeans_run(system, s: seed001.Sizes, X: np.ndarray) -> Check:
    """seed001's k-means on rxgrid, or the same starts by scikit-learn on Ray."""
    if system.name != RAY_SKLEARN:
        return seed001.kmeans(system, s, X)
    common = (system.share(X), s.kmeans_k, s.kmeans_iter, s.kmeans_starts)
    best = system.run_tasks(sklearn_kmeans_task, [(seed001.SEED, t) for t in range(s.kmeans_tasks)],
                            common=common)
    return seed001.kmeans_check(best)


def kmeans_sklearn(system, cfg: Config, rec: Recorder, s: seed001.Sizes, X, rnd: int) -> None:
    kmeans_run(system, seed001.TINY, seed001.warm_data(X))  # untimed: few starts
    seconds, check = timed(kmeans_run, system, s, X)
    note = getattr(system, "note", f"Numba kernel, {s.kmeans_tasks} tasks of {s.kmeans_starts} "
                                   "starts")
    params = _kmeans_params(s)
    rec.add(GROUP, "kmeans-sklearn", "wall", "s", "lower", system.name, seconds, check, **params,
            note=note)
    rec.add(GROUP, "kmeans-sklearn", "best inertia", "inertia", "lower", system.name,
            min(check.values), check, **params)
    log.info("[kmeans-sklearn] %s round %d: %.3f s, %s", system.name, rnd + 1, seconds, check.text)


MEASURES = {"mandelbrot-c": mandelbrot_c, "mandelbrot-prange": mandelbrot_prange,
            "kmeans-sklearn": kmeans_sklearn}
