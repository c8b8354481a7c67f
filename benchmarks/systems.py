"""One adapter per system, so every workload is written once.

Each adapter is a context manager that starts the system with 2 worker processes of
1 core each (where the system lets us say so) and shuts it down completely on exit.
Inside, the same verbs run work the way a user of that system would write it:

``call(fn, x)``               one blocking trivial call (round-trip latency)
``map_each(fn, n)``           ``fn(i)`` for i < n, one task (one remote call) per item
``batched_input(rows)``       the rows laid out as the system's API takes them (untimed:
                              rows for the peers, one ``each()`` column per argument for rxgrid)
``map_batched(fn, prepared)`` ``fn(*row)`` for every row, in the chunks rxgrid's automatic
                              chunking picks (``guided_sizes(len(rows), workers)``): rxgrid
                              chunks them itself, peers run one ``tasks.run_batch`` per chunk
``run_tasks(fn, rows, common)`` one task per row: ``fn(*common, *row)``
``share(obj)``                put a big argument where every task can reach it
``warm()``                    load the Numba kernels in every worker process

Peers that are not installed raise :class:`NotInstalled`; the runner reports them and
moves on.
"""

from __future__ import annotations

import importlib.util
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from rxgrid.runtime.chunk_sizes import guided_sizes

from . import tasks

log = logging.getLogger("benchmarks.systems")

WORKERS = 2
PEERS = ("ray", "dask", "processpool")


class NotInstalled(Exception):
    """The system's package is not importable here."""


def _require(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise NotInstalled(f"{module} is not installed")


class System:
    """Common shape; subclasses start/stop the system and implement the verbs."""

    name = "?"

    def __init__(self, workers: int = WORKERS, warm: bool = True):
        self.workers = workers
        self.warm_on_start = warm

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self._stop_after_failed_start()
            raise
        return self

    def _stop_after_failed_start(self) -> None:
        """A start that failed half way may have left processes: stop what can be stopped."""
        try:
            self.stop()
        except Exception as exc:
            log.warning("%s: stop after a failed start: %s", self.name, exc)

    def __exit__(self, *exc) -> None:
        self.stop()

    def share(self, obj):
        return obj

    def call(self, fn, x):
        return self.run_tasks(fn, [(x,)])[0]

    def map_each(self, fn, n):
        self.chunks = n
        return self.run_tasks(fn, [(i,) for i in range(n)])

    def batched_input(self, rows: list[tuple]):
        """What ``map_batched`` takes: the rows as they are."""
        return rows

    def map_batched(self, fn, rows):
        """``fn(*row)`` for every row; a task per chunk of rxgrid's guided sizes."""
        batches, first = [], 0
        for size in guided_sizes(len(rows), self.workers):
            batches.append((fn, rows[first:first + size]))
            first += size
        self.chunks = len(batches)
        return [r for part in self.run_tasks(tasks.run_batch, batches) for r in part]

    def chunks_of_last_map(self) -> int:
        """How many tasks (chunks) the last ``map_each`` or ``map_batched`` ran."""
        return self.chunks

    def warm(self) -> None:
        pass


class InProcess(System):
    """Single-process baseline: the tasks run one after another in this process."""

    name = "in-process"

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def warm(self) -> None:
        tasks.warm_kernels()

    def run_tasks(self, fn, rows, common=()):
        return [fn(*common, *row) for row in rows]


class Rxgrid(System):
    """``rxgrid.local(workers, cores_per_worker=1)``; big arguments are common arguments."""

    def __init__(self, workers: int = WORKERS, warm: bool = True):
        super().__init__(workers, warm)
        self.name = "rxgrid" if workers == WORKERS else f"rxgrid-{workers}w"

    def start(self) -> None:
        import rxgrid
        self.cluster = rxgrid.local(workers=self.workers, cores_per_worker=1,
                                    warm_kernels=self.warm_on_start)

    def stop(self) -> None:
        self.cluster.close()

    def call(self, fn, x):
        return _no_failures(self.cluster.exec(fn, x))[0]

    def map_each(self, fn, n):
        import rxgrid
        return _no_failures(self.cluster.exec(fn, rxgrid.each(range(n)), chunk_size=1))

    def batched_input(self, rows: list[tuple]):
        """One ``each()`` column per argument: the shape rxgrid's ``exec`` takes, as a user
        with N values would write ``each(values)``."""
        import rxgrid
        return [rxgrid.each(list(col)) for col in zip(*rows, strict=True)]

    def map_batched(self, fn, columns):
        # rxgrid's automatic chunking: guided_sizes(len(rows), slots), the peers' batches
        return _no_failures(self.cluster.exec(fn, *columns))

    def chunks_of_last_map(self) -> int:
        """The chunks the head laid out for the last job (proves the granularity)."""
        return self.cluster.last_job.info().chunks_total

    def run_tasks(self, fn, rows, common=()):
        return _no_failures(self.cluster.exec(fn, *common, *self.batched_input(rows)))

    def run_seeded(self, fn, args=(), times=None, seed=0, each=None):
        """rxgrid's own seeding: ``seed=`` gives task i the stream (seed, i)."""
        import rxgrid
        columns = [rxgrid.each(col) for col in each] if each else []
        return _no_failures(self.cluster.exec(fn, *columns, *args, times=times, seed=seed))


def _no_failures(results: list) -> list:
    """rxgrid puts a TaskFailure in a failed task's place; a benchmark must not time that."""
    from rxgrid import TaskFailure
    failed = [r for r in results if isinstance(r, TaskFailure)]
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(results)} rxgrid tasks failed, first: "
                           f"{failed[0]!r}\n{failed[0].traceback}")
    return results


class Ray(System):
    """``ray.init(num_cpus=2)``: tasks are ``.remote`` calls, big arguments go to ``ray.put``."""

    name = "ray"

    def start(self) -> None:
        _require("ray")
        import ray
        ray.init(num_cpus=self.workers, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING, configure_logging=False)
        self._remote = {}

    def stop(self) -> None:
        import ray
        ray.shutdown()

    def _r(self, fn):
        import ray
        if fn not in self._remote:
            self._remote[fn] = ray.remote(num_cpus=1)(fn)
        return self._remote[fn]

    def call(self, fn, x):
        import ray
        return ray.get(self._r(fn).remote(x))

    def run_tasks(self, fn, rows, common=()):
        import ray
        remote = self._r(fn)
        return ray.get([remote.remote(*common, *row) for row in rows])

    def share(self, obj):
        import ray
        return ray.put(obj)

    def warm(self) -> None:
        # Ray cannot aim a task at a worker: send batches of slow warm-ups until
        # every worker process has answered.
        _until_every_worker(self, lambda: self.run_tasks(tasks.warm_kernels,
                                                         [(0.3,)] * self.workers))


class Dask(System):
    """``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)`` + ``Client``."""

    name = "dask"

    def start(self) -> None:
        _require("distributed")
        from distributed import Client, LocalCluster
        logging.getLogger("distributed").setLevel(logging.WARNING)  # set on import; quiet it
        self.local = LocalCluster(n_workers=self.workers, threads_per_worker=1,
                                  processes=True, dashboard_address=None,
                                  silence_logs=logging.WARNING)
        self.client = Client(self.local)

    def stop(self) -> None:
        self.client.close()
        self.local.close()

    def call(self, fn, x):
        return self.client.submit(fn, x, pure=False).result()

    def map_each(self, fn, n):
        self.chunks = n  # one Dask task per item: the size a ratio is checked against
        return self.client.gather(self.client.map(fn, range(n), pure=False))

    def run_tasks(self, fn, rows, common=()):
        n = len(rows)
        columns = [[c] * n for c in common] + [list(col) for col in zip(*rows, strict=True)]
        if not columns:
            return self.client.gather([self.client.submit(fn, pure=False) for _ in rows])
        return self.client.gather(self.client.map(fn, *columns, pure=False))

    def share(self, obj):
        # hash=False: a repeated scatter of the same array must not share (and then lose)
        # the key of the previous repetition's released future.
        return self.client.scatter(obj, broadcast=True, hash=False)

    def warm(self) -> None:
        self.client.run(tasks.warm_kernels)


class ProcessPool(System):
    """``ProcessPoolExecutor(2)`` (spawn, as rxgrid's executors): arguments go per task."""

    name = "processpool"

    def start(self) -> None:
        init = tasks.warm_kernels if self.warm_on_start else None
        self.pool = ProcessPoolExecutor(self.workers, initializer=init,
                                        mp_context=multiprocessing.get_context("spawn"))

    def stop(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def call(self, fn, x):
        return self.pool.submit(fn, x).result()

    def run_tasks(self, fn, rows, common=()):
        futures = [self.pool.submit(fn, *common, *row) for row in rows]
        return [f.result() for f in futures]

    def warm(self) -> None:
        # The initializer warms each worker as it starts (workers start on demand);
        # slow tasks until every worker answers prove they all have.
        _until_every_worker(self, lambda: self.run_tasks(tasks.warm_kernels,
                                                         [(0.3,)] * self.workers))


def _until_every_worker(system: System, run_batch, tries: int = 40) -> None:
    seen: set[int] = set()
    for _ in range(tries):
        seen.update(run_batch())
        if len(seen) >= system.workers:
            return
    log.warning("%s: only %d of %d worker processes answered the warm-up",
                system.name, len(seen), system.workers)


FACTORIES = {"rxgrid": Rxgrid, "ray": Ray, "dask": Dask, "processpool": ProcessPool}
ALL = ("rxgrid", *PEERS)


def make(name: str, **options) -> System:
    """The adapter for ``name`` ('rxgrid', 'ray', 'dask', 'processpool', 'in-process')."""
    if name == "in-process":
        return InProcess(**options)
    if name == "rxgrid-1w":
        return Rxgrid(workers=1, **options)
    return FACTORIES[name](**options)
