"""``rxgrid.from_dask(client)`` and ``rxgrid.from_ray()``: the ``exec`` API on a cluster a team already runs.

Both are executor contexts (:mod:`rxgrid.client.executor_context`): the same jobs,
``wait=False`` handles and analytics, the same chunk runner and seeded streams. They
differ from ``from_executor`` only in where a chunk goes and what the engine is told::

    exec() ─► prepare ─► ExecutorContext._submit ─► _share(pickled call)   Dask: scatter once
                                 │                                         Ray:  ray.put once
                                 ▼  _submit_chunk(options, node, run_pickled_chunk, ...)
        Dask: client.submit(priority=, resources={"CPU": cores}, workers=[node])
        Ray:  chunk.options(num_cpus=cores, scheduling_strategy=node affinity).remote()
                                 │
    ExecutorJob ◄── EngineFuture (a concurrent.futures.Future; cancel() also cancels in the engine)

What each engine can do, and what is refused rather than ignored:

===================  =================================  ====================================
option               Dask                               Ray
===================  =================================  ====================================
``priority``         Dask's ``priority=``               refused (Ray core has no priorities)
``timeout``          refused (no per-task time limit)   refused (no per-task time limit)
``cores``            ``resources={"CPU": n}``: workers  ``num_cpus=n``
                     must declare ``--resources CPU=N``
``cancel()``         ``client.cancel(force=True)``:     ``ray.cancel(force=True)``: queued
                     queued chunks dropped; a running   chunks dropped, a running chunk's
                     chunk's thread cannot be stopped,  worker process killed
                     its result is discarded
``per_node``         once on every Dask worker          once on every alive Ray node
===================  =================================  ====================================

Seeds: ``rxgrid.task_rng()`` gives task *i* the stream from (seed, i) on both engines.
The ``random`` / ``numpy.random`` globals are seeded per task too, and reproduce on Ray
(a task has its worker process to itself), but not reliably on Dask: a Dask worker's
event loop draws from ``random`` itself (``dask.sizeof``'s ``random.sample``, gather's
``random.choice``) while tasks run, in worker processes as with ``processes=False``.
Use ``task_rng()`` for numbers that must reproduce on Dask.
"""

from __future__ import annotations

import concurrent.futures
import os
import socket
import time
from collections.abc import Callable

from ..errors import InvalidArgumentError
from ..runtime import chunk as _chunk
from ..runtime.serialize import dumps, loads
from .cluster import WorkerInfo
from .executor_context import ExecutorContext, run_pickled_chunk
from .options import JobOptions
from .prepare import PreparedCall


class EngineFuture(concurrent.futures.Future):
    """A chunk running on an engine, as a ``concurrent.futures.Future``.

    ``cancel()`` also cancels the engine's task (running ones too, as far as the engine
    can). Engines do not say when a task starts, so a submitted future counts as running.
    """

    def __init__(self, cancel_in_engine: Callable[[], None], engine_task=None):
        super().__init__()
        self._cancel_in_engine = cancel_in_engine
        self.engine_task = engine_task  # the engine's own handle: a Dask future or a Ray ObjectRef

    def running(self) -> bool:
        """True until it is done: the engine has it, queued or running."""
        return not self.done()

    def cancel(self) -> bool:
        """Cancel it here and in the engine; False once it is done."""
        if not super().cancel():  # here first: the engine's "cancelled" answer is then dropped
            return False
        self._cancel_in_engine()
        return True

    def settle(self, get_value: Callable[[], object]) -> None:
        """Take the engine's outcome (``get_value()`` returns it or raises it)."""
        if not self.set_running_or_notify_cancel():
            return  # cancelled here first: the engine's answer is dropped
        try:
            self.set_result(get_value())
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the future
            self.set_exception(exc)


def _refuse(engine: str, what: str, instead: str) -> None:
    raise InvalidArgumentError(f"{what} cannot be honoured on {engine}: {instead}")


def _refuse_timeout(engine: str, options: JobOptions) -> None:
    if options.timeout is not None:
        _refuse(engine, f"timeout={options.timeout}",
                f"{engine} has no per-task time limit that stops a running task. Use "
                f"job.wait(timeout) and job.cancel(), or run on rxgrid.local() / "
                f"rxgrid.connect(), whose workers kill an overrunning task")


# ------------------------------------------------------------------ Dask
def outcome_as_bytes(fn: Callable, *args) -> bytes:
    """``fn(*args)`` pickled: Dask sizes a bytes result by its length, whereas a list of
    more than 10 values it sizes with ``random.sample``, drawing from the ``random``
    state that the next chunk's seeded tasks, running meanwhile, are using."""
    return dumps(fn(*args), "results")


class DaskContext(ExecutorContext):
    """A compute context on a ``dask.distributed`` cluster; see :func:`from_dask`."""

    def __init__(self, client, name: str | None = None):
        self._client = client
        self._addresses: dict[str, str] = {}  # worker name -> address, for per-node chunks
        super().__init__(client.get_executor(), name=name or f"dask-{client.scheduler.address}")

    def __repr__(self) -> str:
        return f"<DaskContext {self._client.scheduler.address} slots={self._slots}>"

    def _check_options(self, options: JobOptions) -> None:
        super()._check_options(options)
        _refuse_timeout("Dask", options)

    def _check_cores(self, cores: int) -> None:
        declared = [w.get("resources", {}).get("CPU", 0) for w in self._workers().values()]
        if not any(n >= cores for n in declared):
            _refuse("Dask", f"cores={cores}",
                    f"a task holds cores through the Dask resource 'CPU', and no worker declares "
                    f"{cores} (they declare {sorted(set(declared))}); start workers with "
                    f"`dask worker --resources CPU=N` or LocalCluster(resources={{'CPU': N}})")

    def _workers(self) -> dict[str, dict]:
        try:
            info = self._client.scheduler_info(n_workers=-1)["workers"]  # newer: 5 by default
        except TypeError:  # distributed before n_workers= listed every worker
            info = self._client.scheduler_info()["workers"]
        named = {str(w.get("name", address)): dict(w, address=address) for address, w in info.items()}
        self._addresses = {name: w["address"] for name, w in named.items()}
        self._slots = max(1, sum(w.get("nthreads", 1) for w in named.values()))
        return named

    def _plan(self, call: PreparedCall) -> list[tuple[int, int, str | None]]:
        names = sorted(self._workers())
        if call.options.per_node:
            return [(i, 1, name) for i, name in enumerate(names)]
        return super()._plan(call)

    def _share(self, call_bytes: bytes):
        # On every worker at once: a chunk waiting to fetch it would lose its place in the
        # priority order to one whose copy arrived first.
        return self._client.scatter(call_bytes, hash=False, broadcast=True)

    def _submit_chunk(self, options: JobOptions, node: str | None, fn: Callable, *args):
        where = {} if node is None else {"workers": [self._addresses[node]],
                                         "allow_other_workers": False}
        if options.cores > 1:
            where["resources"] = {"CPU": options.cores}
        task = self._client.submit(outcome_as_bytes, fn, *args, pure=False,
                                   priority=options.priority, **where)
        future = EngineFuture(lambda: self._client.cancel([task], force=True), task)
        task.add_done_callback(lambda t: future.settle(lambda: loads(t.result(), "results")))
        return future

    def workers(self) -> list[WorkerInfo]:
        """The Dask workers, one ``WorkerInfo`` each (cores: their threads)."""
        processing = self._client.processing()
        return [WorkerInfo(name, w.get("host", ""), w.get("nthreads", 1),
                           len(processing.get(w["address"], ())), "connected",
                           w.get("last_seen", time.time()), w.get("pid", 0), 0)
                for name, w in sorted(self._workers().items())]


def from_dask(client, name: str | None = None) -> DaskContext:
    """A compute context on a Dask cluster: ``exec``, ``wait=False`` jobs and analytics.

    ``client`` is a ``distributed.Client`` (or the scheduler's address). Chunks are Dask
    tasks: ``priority`` is Dask's, ``cancel()`` is ``client.cancel(force=True)``,
    ``per_node`` runs once on every worker. ``timeout`` is refused (Dask cannot stop a
    running task). Prefer workers as processes: then seeded ``random`` draws reproduce
    too, not only ``rxgrid.task_rng()``.
    """
    import distributed
    if isinstance(client, str):
        client = distributed.Client(client)
    if not isinstance(client, distributed.Client):
        raise InvalidArgumentError(f"from_dask() takes a distributed.Client or a scheduler address, "
                                   f"not a {type(client).__name__}")
    return DaskContext(client, name=name)


# ------------------------------------------------------------------ Ray
def run_one_pickled(call_bytes: bytes) -> tuple[bool, object]:
    """Run a pickled ``(fn, args, kwargs)``: (True, value), or (False, its TaskFailure)."""
    fn, args, kwargs = loads(call_bytes, "function and arguments")
    try:
        return True, fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - raised again, as itself, in the caller
        return False, _chunk.describe_failure(0, exc)


def _value_or_raise(outcome: tuple[bool, object]):
    ok, value = outcome
    if not ok:
        raise value.original_exception()
    return value


class RayExecutor(concurrent.futures.Executor):
    """``concurrent.futures`` on Ray: each ``submit`` is one Ray task.

    A failed task raises its own exception (with the remote traceback as ``__cause__``),
    as on every rxgrid context; ``cancel()`` of a running future kills its task.
    """

    def __init__(self):
        import ray
        self._ray = ray
        self._remote = ray.remote(max_retries=0)(run_one_pickled)

    def submit(self, fn, /, *args, **kwargs) -> concurrent.futures.Future:
        """Run ``fn(*args, **kwargs)`` as a Ray task."""
        ref = self._remote.remote(dumps((fn, args, kwargs), "function and arguments"))
        return _follow(ref, self._ray, _value_or_raise)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Nothing to release: the Ray context owns the connection."""


def _follow(ref, ray, unwrap: Callable) -> EngineFuture:
    future = EngineFuture(lambda: ray.cancel(ref, force=True), ref)
    ref.future().add_done_callback(lambda done: future.settle(lambda: unwrap(done.result())))
    return future


class RayContext(ExecutorContext):
    """A compute context on a Ray cluster; see :func:`from_ray`."""

    def __init__(self, name: str | None = None, owns_ray: bool = False):
        import ray
        self._ray = ray
        self._owns_ray = owns_ray
        self._chunk_task = ray.remote(max_retries=0)(run_pickled_chunk)
        self._nodes: dict[str, str] = {}  # worker name -> Ray node id
        super().__init__(RayExecutor(), name=name or f"ray-{os.getpid()}",
                         slots=int(ray.cluster_resources().get("CPU", 1)) or 1)

    def __repr__(self) -> str:
        return f"<RayContext {self.name} slots={self._slots}>"

    def close(self) -> None:
        """Shut Ray down if :func:`from_ray` started it."""
        if self._owns_ray and self._ray.is_initialized():
            self._ray.shutdown()

    def _check_options(self, options: JobOptions) -> None:
        super()._check_options(options)
        _refuse_timeout("Ray", options)
        if options.priority:
            _refuse("Ray", f"priority={options.priority}",
                    "Ray core runs tasks without priorities; submit the urgent job first or "
                    "use rxgrid.local() / rxgrid.connect() or Dask")

    def _check_cores(self, cores: int) -> None:
        widest = max((int(n["Resources"].get("CPU", 0)) for n in self._alive_nodes().values()),
                     default=0)
        if cores > widest:
            _refuse("Ray", f"cores={cores}", f"a task asks Ray for num_cpus={cores}, and the "
                                              f"largest node has {widest} CPUs")

    def _alive_nodes(self) -> dict[str, dict]:
        nodes = {f"ray-{n['NodeID'][:12]}": n for n in self._ray.nodes() if n.get("Alive")}
        self._nodes = {name: n["NodeID"] for name, n in nodes.items()}
        self._slots = max(1, int(sum(n["Resources"].get("CPU", 0) for n in nodes.values())))
        return nodes

    def _plan(self, call: PreparedCall) -> list[tuple[int, int, str | None]]:
        names = sorted(self._alive_nodes())
        if call.options.per_node:
            return [(i, 1, name) for i, name in enumerate(names)]
        return super()._plan(call)

    def _share(self, call_bytes: bytes):
        return self._ray.put(call_bytes)

    def _submit_chunk(self, options: JobOptions, node: str | None, fn: Callable, *args):
        settings: dict = {"num_cpus": options.cores}
        if node is not None:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
            settings["scheduling_strategy"] = NodeAffinitySchedulingStrategy(self._nodes[node],
                                                                             soft=False)
        ref = self._chunk_task.options(**settings).remote(*args)
        return _follow(ref, self._ray, lambda outcome: outcome)

    def workers(self) -> list[WorkerInfo]:
        """The alive Ray nodes, one ``WorkerInfo`` each (cores: their CPUs)."""
        return [WorkerInfo(name, n.get("NodeManagerHostname", socket.gethostname()),
                           int(n["Resources"].get("CPU", 0)), 0, "connected", time.time(), 0, 0)
                for name, n in sorted(self._alive_nodes().items())]


def from_ray(address: str | None = None, name: str | None = None, **init_options) -> RayContext:
    """A compute context on a Ray cluster: ``exec``, ``wait=False`` jobs and analytics.

    Uses the Ray this process is connected to; otherwise ``ray.init(address,
    **init_options)`` (``None``: ``$RAY_ADDRESS`` or a new local Ray), which the
    context shuts down on ``close()``. Chunks are Ray tasks: ``cancel()`` is
    ``ray.cancel(force=True)`` (a running chunk's worker is killed), ``per_node`` runs once
    on every alive node. ``priority`` and ``timeout`` are refused: Ray core has neither.
    """
    import ray
    owns = not ray.is_initialized()
    if owns:
        ray.init(address=address, **init_options)
    elif address is not None or init_options:
        raise InvalidArgumentError("from_ray(): this process is already connected to Ray; call "
                                   "it without an address and init options to use that Ray")
    return RayContext(name=name, owns_ray=owns)


__all__ = ["DaskContext", "EngineFuture", "RayContext", "RayExecutor", "from_dask", "from_ray"]
