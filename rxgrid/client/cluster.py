"""The client: ``Cluster.exec`` runs a function many times on the cluster (rxExec).

    exec() ─► prepare (checks) ─► JobSpec + blobs ─► RunJob ─► ResultSet ─► list
                                                 └─► SubmitJob ─► Job (wait=False)
"""

from __future__ import annotations

import collections
import concurrent.futures
import functools
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._paths import blob_hash
from .._proto import rxgrid_pb2 as pb
from .._version import PROTOCOL_VERSION
from ..errors import (
    AuthenticationError,
    DuplicateJobError,
    HeadUnavailableError,
    JobNotFoundError,
    MissingBlobError,
    ProtocolMismatchError,
    RxgridError,
    TaskFailure,
    interrupt_behind,
)
from ..runtime.serialize import dumps, in_band_bytes
from ..transport import blobfiles as _blobfiles
from ..transport.wire import job_state, job_state_from_wire, seconds, timestamp
from .analytics import FIT_STEP
from .context import ComputeContext
from .job import Job, JobInfo, outcome
from .options import JobOptions
from .prepare import PreparedCall
from .results import ResultSet, print_outputs
from .rpc import HeadConnection, check_address

log = logging.getLogger("rxgrid.client")

INLINE_BLOB_BYTES = 256 << 10
ON_HEAD_MEMORY = 4096  # blob hashes remembered as already on the head
LARGE_PICKLE_BYTES = 10_000_000  # a function or argument pickled in band above this: a warning
CONNECT_TIMEOUT = 10.0  # seconds the first connect waits for a head that is not there


@dataclass(frozen=True)
class DiskUsage:
    """What the head's state dir holds."""

    state_dir: str
    database_bytes: int
    blob_bytes: int
    blobs: int
    jobs_by_state: dict

    @property
    def total_bytes(self) -> int:
        return self.database_bytes + self.blob_bytes


@dataclass(frozen=True)
class WorkerInfo:
    """A worker as the head sees it."""

    name: str
    host: str
    cores: int
    busy: int
    state: str
    last_heartbeat: float
    pid: int
    chunks_done: int
    blob_bytes_sent: int = 0

    @classmethod
    def from_proto(cls, w: pb.WorkerInfo) -> WorkerInfo:
        """A WorkerInfo read from the head's ``WorkerInfo`` message."""
        state = "connected" if w.state == pb.WORKER_STATE_CONNECTED else "registering"
        return cls(w.name, w.host, w.cores, w.busy, state, seconds(w.last_heartbeat_time), w.pid,
                   w.chunks_done, w.blob_bytes_sent)


class WorkerList(list):
    """A list of WorkerInfo that Jupyter shows as a table."""

    def _repr_html_(self) -> str:
        from .html import workers_html
        return workers_html(self)


class Cluster(ComputeContext):
    """A connection to an rxgrid head: run jobs, find them again, clean up.

    Use :func:`rxgrid.connect` or :func:`rxgrid.local` rather than this constructor.
    """

    def __init__(self, address: str, retry_deadline: float = 60.0, settings=None,
                 timeout: float = CONNECT_TIMEOUT):
        if not address.startswith("unix:"):
            check_address(address)
        self.address = address
        self._conn = HeadConnection(address, retry_deadline, settings)
        # Blobs the head holds, as far as this client knows (a bounded memory: a forgotten
        # one is merely sent again).
        self._on_head: collections.OrderedDict[str, None] = collections.OrderedDict()
        self.last_job: Job | None = None
        self._inbox: str | None = None  # the head's blob inbox, if it may be on this host
        self._slots, self._slots_at = 1, 0.0
        try:
            self._connect(give_up_after=timeout)
        except BaseException:
            self._conn.close()
            raise

    def _connect(self, give_up_after: float | None = None) -> pb.ConnectResponse:
        reply = self._conn.call("Connect", pb.ConnectRequest(protocol_version=PROTOCOL_VERSION,
                                                              client="python"),
                                give_up_after=give_up_after)
        if reply.protocol_version != PROTOCOL_VERSION:
            raise ProtocolMismatchError(f"head speaks protocol {reply.protocol_version}, this "
                                        f"client {PROTOCOL_VERSION}")
        self._slots, self._slots_at = max(1, reply.total_slots), time.monotonic()
        if self._inbox is None:
            self._inbox = reply.blob_inbox if _blobfiles.enabled() else ""
        return reply

    def close(self) -> None:
        """Close the connection (jobs on the head go on)."""
        self._conn.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.address}>"

    def _repr_html_(self) -> str:
        """Jupyter's display: workers, executor slots (busy / all) and the queue."""
        from .html import cluster_html
        return cluster_html(self.address, self.workers(), self.disk_usage().jobs_by_state)

    # ---------------------------------------------------------------- exec
    def _run(self, call: PreparedCall, options: JobOptions):
        """Submit ``call``: its Job at once (``wait=False``), or its results when it ends."""
        def build() -> pb.JobSpec:
            spec = self._spec(call)
            spec.single_result = options._single_result
            return spec

        job = Job(self, call.job_id)
        self.last_job = job
        if not options.wait:
            self._send(build, self._submit)
            return job
        if call.num_tasks > 1 and _progress_wanted(options.progress):
            # A bar needs the job's progress while it runs: submit, watch, then read.
            self._send_detaching(build, job)
            result = job.result(progress=True)  # which detaches on a Ctrl-C itself
            if options.console_output:
                print_outputs(job.logs().values())
            _warn_failures(job.info())
            return result
        return self._send(build, lambda spec: self._run_spec(spec, job))

    def _send_detaching(self, build: Callable[[], pb.JobSpec], job: Job) -> None:
        """Submit a blocking job; a Ctrl-C once it may have left detaches it, as one later
        would (the task that starts first can start before the submit has returned)."""
        sent: list[pb.JobSpec] = []

        def submit(spec: pb.JobSpec) -> None:
            sent.append(spec)
            self._submit(spec)
        try:
            self._send(build, submit)
        except BaseException as exc:
            interrupt = interrupt_behind(exc)
            if interrupt is None or not sent:
                raise  # not a Ctrl-C, or one before anything was sent: nothing runs on
            detach(job, resubmitted=self._submit_if_not_there(sent[-1]))
            raise interrupt from None

    def _send(self, build: Callable[[], pb.JobSpec], send: Callable[[pb.JobSpec], Any]) -> Any:
        """Build a job's spec and hand it to ``send`` (submit, or run to the end).

        Blobs this client has sent before are named, not sent again. If a cleanup has
        removed one from the head since, the head refuses the job before anything runs;
        it is then built and sent once more with every blob.
        """
        spec = build()
        try:
            result = send(spec)
        except MissingBlobError:
            if not self._on_head:
                raise
            log.info("the head no longer holds a blob this client sent before (cleaned up); "
                     "sending the job again with all its blobs")
            self._on_head.clear()
            spec = build()
            result = send(spec)
        if spec.auto_cleanup:  # its blobs go with it (unless another job holds them too)
            for digest in (spec.recipe.function_blob, spec.recipe.common_blob,
                           spec.recipe.objects_blob, *spec.chunk_blobs):
                self._on_head.pop(digest, None)
        else:
            for blob in spec.inline_blobs:
                self._on_head_add(blob.hash)
        return result

    def _on_head_add(self, digest: str) -> None:
        self._on_head[digest] = None
        self._on_head.move_to_end(digest)
        if len(self._on_head) > ON_HEAD_MEMORY:
            self._on_head.popitem(last=False)

    def _submit(self, spec: pb.JobSpec) -> None:
        deadline, retried = time.monotonic() + self._conn.retry_deadline, False
        while True:
            try:
                self._conn.call("SubmitJob", pb.SubmitJobRequest(job=spec), retry=False)
                return
            except HeadUnavailableError:
                if time.monotonic() > deadline:
                    raise
                retried = True
                time.sleep(0.2)
            except DuplicateJobError:
                # A retried submit whose first attempt got through is not a duplicate.
                if not retried:
                    raise
                return

    def _submit_if_not_there(self, spec: pb.JobSpec) -> bool:
        """After a Ctrl-C in a blocking call: make sure the job is on the head, so "keeps
        running" is true even if the Ctrl-C came before the job left. True if it had not
        arrived and was submitted now (as a non-waiting job; the id makes this safe)."""
        try:
            self._conn.call("SubmitJob", pb.SubmitJobRequest(job=spec), retry=False)
            return True
        except DuplicateJobError:
            return False  # it got there: it runs on
        except RxgridError as exc:
            log.warning("could not check that job %s reached the head: %s", spec.job_id, exc)
            return False

    def _run_spec(self, spec: pb.JobSpec, job: Job):
        try:
            reply = self._conn.run_job(spec)
        except HeadUnavailableError:
            log.warning("lost the head while job %s ran; waiting for it to come back", job.id)
            return self._resume(spec, job)
        except BaseException as exc:
            interrupt = interrupt_behind(exc)
            if interrupt is None:
                raise
            detach(job, resubmitted=self._submit_if_not_there(spec))
            raise interrupt from None
        if not reply.complete:
            return self._resume(spec, job)
        results = ResultSet()
        for chunk in reply.chunks:
            results.add(chunk, self._conn.fetch_blob)
        info = JobInfo.from_proto(reply.info)
        if results.outputs:
            print_outputs(results.outputs)
        value = outcome(info, results)
        _warn_failures(info)
        return value

    def _resume(self, spec: pb.JobSpec, job: Job):
        try:
            job.info()
        except JobNotFoundError:
            self._submit(spec)  # the head never stored it
        result = job.result()
        if spec.recipe.console_output:
            print_outputs(job.logs().values())
        _warn_failures(job.info())
        return result

    def _spec(self, call: PreparedCall, function_blob: str = "") -> pb.JobSpec:
        inline: dict[str, bytes] = {}
        o = call.options
        spec = pb.JobSpec(
            job_id=call.job_id, name=call.name, recipe=self._recipe(call, function_blob, inline),
            num_tasks=call.num_tasks, priority=o.priority, per_node=o.per_node,
            auto_cleanup=o.auto_cleanup)
        if call.columns:
            chunks = call.chunks(self._current_slots())
            spec.chunk_size = o.chunk_size or 0
            if not o.chunk_size:
                spec.chunk_sizes.extend(count for _, count in chunks)
            spec.chunk_blobs.extend(self._blob(dumps(call.slices(first, count), "each() values"), inline)
                                    for first, count in chunks)
        elif o.chunk_size:
            spec.chunk_size = o.chunk_size
        spec.inline_blobs.extend(pb.Blob(hash=h, data=d) for h, d in inline.items())
        return spec

    def _recipe(self, call: PreparedCall, function_blob: str,
                inline: dict[str, bytes]) -> pb.TaskRecipe:
        """A call's TaskRecipe: its options' (``JobOptions.task_recipe``) and its blobs."""
        recipe = call.options.task_recipe(call.seed)
        recipe.function_blob = function_blob or self._blob(
            _checked(dumps(call.function, "function"), "function"), inline)
        if call.args or call.kwargs:
            recipe.common_blob = self._blob(_checked(dumps((call.args, call.kwargs), "arguments"),
                                                     "common arguments"), inline)
        if call.objects:
            recipe.objects_blob = self._blob(_checked(dumps(call.objects, "objects"), "objects"),
                                             inline)
        return recipe

    def _total_slots(self) -> int:
        self._slots_at = 0.0
        return self._current_slots()

    def _current_slots(self) -> int:
        if time.monotonic() - self._slots_at > 2.0:
            self._connect()
        return self._slots

    def _blob(self, data: bytes, inline: dict[str, bytes]) -> str:
        digest = blob_hash(data)
        if digest in self._on_head:
            return digest
        if len(data) <= INLINE_BLOB_BYTES:
            inline[digest] = data
            return digest
        missing = self._conn.call("FindMissingBlobs",
                                  pb.FindMissingBlobsRequest(hashes=[digest])).missing
        if missing and not self._put_blob_file(data, digest):
            self._conn.put_blob(data, digest)
        self._on_head_add(digest)
        return digest

    def _put_blob_file(self, data: bytes, digest: str) -> bool:
        """Hand a large blob to a head on this host as a file in its inbox (a write and a
        rename instead of a stream through gRPC); False if that is not possible here."""
        inbox = self._inbox
        name = _blobfiles.write_into_inbox(inbox, data)
        if name is None:
            return False
        try:
            self._conn.call("PutBlobFile", pb.PutBlobFileRequest(name=name, hash=digest))
            return True
        except (HeadUnavailableError, AuthenticationError):
            raise
        except RxgridError as exc:
            # A folder of the same name on another host, an old head: stream this blob
            # and every later one.
            log.debug("blob %s not handed over as a file (%s); streaming it", digest[:12], exc)
            self._inbox = ""
            return False
        finally:
            _blobfiles.discard(inbox, name)

    # ---------------------------------------------------------------- jobs
    def job(self, job_id: str) -> Job:
        """The job with this id, submitted by any process (JobNotFoundError if unknown)."""
        job = Job(self, job_id)
        job.info()
        return job

    def jobs(self, state: str | None = None, since: float | None = None,
             until: float | None = None, limit: int = 0) -> list[JobInfo]:
        """Jobs on the head, oldest first, filtered by state and submission time."""
        reply = self._conn.call("ListJobs", pb.ListJobsRequest(
            state=job_state(state) if state else pb.JOB_STATE_UNSPECIFIED,
            since_time=timestamp(_timestamp(since)), until_time=timestamp(_timestamp(until)),
            limit=limit))
        return [JobInfo.from_proto(j) for j in reply.jobs]

    def cleanup(self, jobs=None, force: bool = False) -> list[str]:
        """Remove ended jobs and their stored results; returns the ids removed.

        Finished jobs whose results nobody has read are kept unless ``force=True`` (so
        nothing is lost by accident); running jobs are never removed.
        """
        ids = [] if jobs is None else [j.id if isinstance(j, Job) else j
                                       for j in ([jobs] if isinstance(jobs, (str, Job)) else jobs)]
        reply = self._conn.call("CleanupJobs", pb.CleanupJobsRequest(job_ids=ids, force=force))
        if reply.refused:
            log.warning("cleanup kept %d job(s): %s", len(reply.refused), reply.reason)
        return list(reply.removed)

    def workers(self) -> WorkerList:
        """The workers connected to the head (a list; a table in Jupyter)."""
        reply = self._conn.call("ListWorkers", pb.ListWorkersRequest())
        return WorkerList(WorkerInfo.from_proto(w) for w in reply.workers)

    def disk_usage(self) -> DiskUsage:
        """How much the head's state dir holds (database, blobs) and its jobs by state."""
        r = self._conn.call("GetDiskUsage", pb.GetDiskUsageRequest())
        by_state = {job_state_from_wire(pb.JobState.Value(k)): n for k, n in r.jobs_by_state.items()}
        return DiskUsage(r.state_dir, r.database_bytes, r.blob_bytes, r.blobs, by_state)

    # ---------------------------------------------------------------- services
    def publish_service(self, name: str, version: str, fn, description: str = "",
                        inputs: dict | None = None, outputs: dict | None = None):
        """Publish ``fn`` as service ``name`` version ``version`` (immutable once published)."""
        from .services import publish
        return publish(self, name, version, fn, description, inputs, outputs)

    def service(self, name: str, version: str):
        """A published service, to call (``svc(**inputs)``) or to score batches with."""
        from .services import Service
        reply = self._conn.call("GetService", pb.GetServiceRequest(name=name, version=version))
        return Service(self, reply.service)

    def services(self) -> list:
        """Every published service (name, version, description, inputs, outputs)."""
        from .services import Service
        reply = self._conn.call("ListServices", pb.ListServicesRequest())
        return [Service(self, s) for s in reply.services]

    def delete_service(self, name: str, version: str) -> None:
        """Remove a published version (batches already run keep their results)."""
        self._conn.call("DeleteService", pb.DeleteServiceRequest(name=name, version=version))

    def executor(self, keep_jobs: bool = False) -> ClusterExecutor:
        """A ``concurrent.futures.Executor`` whose ``submit``/``map`` run on this cluster.

        Its jobs are removed from the head once their results are read, unless
        ``keep_jobs=True`` (to find them later with ``cluster.jobs()``).
        """
        return self._make_executor(keep_jobs, JobOptions())

    def _make_executor(self, keep_jobs: bool, options: JobOptions) -> ClusterExecutor:
        return ClusterExecutor(self, keep_jobs=keep_jobs, options=options)


def _checked(data: bytes, what: str) -> bytes:
    """``data``; a WARNING first when its in-band pickle is larger than LARGE_PICKLE_BYTES.

    In-band bytes are unpickled into a private copy by every executor that runs the job;
    numpy arrays travel out of band and are mapped, so they do not count.
    """
    size = in_band_bytes(data)
    if size > LARGE_PICKLE_BYTES:
        how = ("a function that captures data (a closure, a global of __main__) carries it "
               "in every job: pass the data as an argument instead"
               if what == "function" else
               "every executor unpickles its own copy: pass large data as numpy arrays "
               "(mapped, not copied) or as a path on storage the workers share, read inside "
               "the task")
        log.warning("the %s: %.0f MB pickled in band; %s", what, size / 1e6, how)
    return data


def _progress_wanted(progress) -> bool:
    from .progress import wanted
    return wanted(progress)


def detach(job: Job, resubmitted: bool = False) -> None:
    """Ctrl-C in a blocking call: the job runs on; a second Ctrl-C within 2 s cancels it.

    RevoScaleR turns a waiting job into a non-waiting one on Esc / Ctrl-C; so do we. The
    job becomes ``cluster.last_job`` and how to re-attach or cancel it is printed.
    """
    if FIT_STEP.get():  # a step of a waiting fit: the fit detaches as a whole (_detach_fit)
        return
    job._cluster.last_job = job
    try:  # a Ctrl-C while the message is being printed is within the 2 s too
        print(f"\nrxgrid: job {job.id} keeps running on the cluster"
              f"{' (restarted as a non-waiting job)' if resubmitted else ''}.\n"
              f"  re-attach: cluster.job({job.id!r}).result()   (or cluster.last_job)\n"
              f"  cancel:    cluster.job({job.id!r}).cancel()   or: rxgrid cancel {job.id}\n"
              f"  press Ctrl-C again within 2 s to cancel it now", file=sys.stderr, flush=True)
        time.sleep(2.0)
    except BaseException as exc:
        if interrupt_behind(exc) is None:
            raise
        job.cancel()
        print(f"rxgrid: job {job.id} cancelled", file=sys.stderr, flush=True)


def _timestamp(value) -> float:
    if value is None:
        return 0.0
    if hasattr(value, "timestamp"):
        return value.timestamp()
    return float(value)


def _warn_failures(info: JobInfo) -> None:
    if info.tasks_failed:
        log.warning("job %s: %d of %d tasks failed; their places hold TaskFailure (see "
                    "job.errors())", info.id, info.tasks_failed, info.tasks_total)


class ClusterExecutor(concurrent.futures.Executor):
    """``concurrent.futures`` on an rxgrid cluster: each ``submit`` is a one-task job, each
    ``map`` one job.

    As with ``ProcessPoolExecutor``, a failed task raises its own exception (a
    ``ZeroDivisionError`` stays one) with the remote traceback as ``__cause__``. A job
    is removed from the head once its results are read (or it was cancelled), unless
    ``keep_jobs=True``: a long-lived pool does not fill the head with finished jobs.
    """

    def __init__(self, cluster: Cluster, max_waiters: int = 32, keep_jobs: bool = False,
                 options: JobOptions | None = None):
        self._cluster = cluster
        self._keep_jobs = keep_jobs
        # Options bound with cluster.options(...): every job of this executor runs with them.
        self._options = (options or JobOptions()).replace(wait=False, auto_cleanup=not keep_jobs)
        self._waiters = concurrent.futures.ThreadPoolExecutor(max_waiters,
                                                              thread_name_prefix="rxgrid-wait")
        self._lock = threading.Lock()
        self._shutdown = False

    def submit(self, fn, /, *args, **kwargs) -> concurrent.futures.Future:
        """Run ``fn(*args, **kwargs)`` as a one-task job; its future settles when it ends."""
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot submit after shutdown")
        job = self._cluster._exec(functools.partial(fn, *args, **kwargs), (), None, {},
                                  self._options, sys._getframe(1))
        future: concurrent.futures.Future = concurrent.futures.Future()
        future.add_done_callback(lambda f: f.cancelled() and self._abandon(job))
        self._waiters.submit(_settle, future, job)
        return future

    def map(self, fn, *iterables, timeout=None, chunksize=1):
        """Results of ``fn`` over the zipped iterables, in order, as they are ready.

        One job; a result is ready when its chunk is (``chunksize`` > 1 sets the chunk
        size, else rxgrid sizes the chunks). ``TimeoutError`` at the first result not
        ready ``timeout`` seconds after this call; the job is then cancelled, as it is
        when a task raises or the iterator is dropped early.
        """
        from ..runtime.args import each
        columns = [list(it) for it in iterables]
        if not columns or not columns[0]:
            return iter(())
        deadline = None if timeout is None else time.monotonic() + timeout
        n = min(len(c) for c in columns)
        options = self._options.replace(chunk_size=chunksize) if chunksize > 1 else self._options
        job = self._cluster._exec(fn, tuple(each(c[:n]) for c in columns), None, {}, options,
                                  sys._getframe(1))

        def results():
            read_all = False
            try:
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                for value in job._results_in_order(remaining):
                    if isinstance(value, TaskFailure):
                        raise value.original_exception()
                    yield value
                read_all = True
            finally:
                if not read_all:
                    self._abandon(job)
        return results()

    def _abandon(self, job: Job) -> None:
        """Cancel a job whose results will not all be read, and remove it from the head."""
        try:
            job.cancel()
            if not self._keep_jobs:
                self._cluster.cleanup([job.id], force=True)
        except JobNotFoundError:
            pass  # already removed (read to the end and cleaned up)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._shutdown = True
        self._waiters.shutdown(wait=wait, cancel_futures=cancel_futures)


def _settle(future: concurrent.futures.Future, job: Job) -> None:
    if not future.set_running_or_notify_cancel():
        return
    try:
        value = job.result()[0]
    except BaseException as exc:  # noqa: BLE001 - handed to the future
        future.set_exception(exc)
        return
    if isinstance(value, TaskFailure):
        future.set_exception(value.original_exception())
    else:
        future.set_result(value)


__all__ = ["Cluster", "ClusterExecutor", "DiskUsage", "WorkerInfo", "WorkerList"]
