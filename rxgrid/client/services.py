"""Published services and asynchronous batch scoring (seed 002, mrsdeploy).

    svc = cluster.publish_service("score", "1.0", score, description="...")
    svc(x=1.0, y=2.0)                                  # request-response: one record
    batch = svc.batch(records, parallel_count=5).start()
    res = batch.results()                              # partial while it runs
    res.status, res.completed_item_count, res.execution(3).outputs
    batch.list_files(3), batch.file_content(3, "plot.png"), batch.download(3, dest="out")

A batch is a job whose tasks are the records, at most ``parallel_count`` at once, each
run in its own working directory whose files are that record's artifacts.
"""

from __future__ import annotations

import csv
import functools
import inspect
import json
from dataclasses import dataclass, field
from types import SimpleNamespace

from .._paths import blob_hash
from .._proto import rxgrid_pb2 as pb
from ..errors import InvalidArgumentError, TaskFailure
from ..runtime.args import each
from ..runtime.serialize import dumps
from .job import Job, download_files
from .prepare import prepare


def run_record(fn, record: dict) -> dict:
    """Call a service function on one record; its outputs as a dict."""
    value = fn(**record)
    return value if isinstance(value, dict) else {"output": value}


def _fields(described: dict | None, fn, outputs: bool) -> list[pb.ServiceField]:
    if described is None and not outputs:
        params = inspect.signature(fn).parameters.values()
        described = {p.name: _type_name(p.annotation) for p in params
                     if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    described = described or {"output": "any"}
    return [pb.ServiceField(name=k, type=v if isinstance(v, str) else _type_name(v))
            for k, v in described.items()]


def _type_name(annotation) -> str:
    if annotation is inspect.Parameter.empty:
        return "any"
    return getattr(annotation, "__name__", str(annotation))


def publish(cluster, name, version, fn, description, inputs, outputs) -> Service:
    if not callable(fn):
        raise InvalidArgumentError(f"publish_service needs a function, got {type(fn).__name__}")
    data = dumps(functools.partial(run_record, fn), "service function")
    digest = blob_hash(data)
    spec = pb.ServiceSpec(name=name, version=version, description=description, runner_blob=digest,
                          inputs=_fields(inputs, fn, False), outputs=_fields(outputs, fn, True))
    spec.inline_blobs.add(hash=digest, data=data)
    reply = cluster._conn.call("PublishService", pb.PublishServiceRequest(service=spec))
    return Service(cluster, reply.service)


class Service:
    """A published service: call it, or score a batch of records with it."""

    def __init__(self, cluster, info: pb.ServiceInfo):
        self._cluster = cluster
        self._info = info
        self.name, self.version, self.description = info.name, info.version, info.description
        self.owner = info.owner  # who published it: only they or an admin may delete it
        self.inputs = {f.name: f.type for f in info.inputs}
        self.outputs = {f.name: f.type for f in info.outputs}

    def __repr__(self) -> str:
        return f"<Service {self.name} {self.version}>"

    def swagger(self) -> str:
        """The machine-readable (OpenAPI-style JSON) description of this service."""
        return self._info.api

    def __call__(self, **inputs) -> dict:
        """Run one request and return its outputs (request-response)."""
        job = self._submit([inputs], parallel_count=1, wait=True)
        value = job[0]
        if isinstance(value, TaskFailure):
            raise value.exception()
        return value

    def batch(self, records, parallel_count: int = 10) -> Batch:
        """A batch over ``records`` (list of dicts, numpy structured array, DataFrame, or a
        CSV/TSV path), at most ``parallel_count`` records at once; ``.start()`` runs it."""
        if isinstance(parallel_count, bool) or not isinstance(parallel_count, int) or parallel_count < 1:
            raise InvalidArgumentError(f"parallel_count must be a whole number >= 1, "
                                       f"got {parallel_count!r}")
        return Batch(self, to_records(records), parallel_count)

    def batch_executions(self) -> list[str]:
        """Ids of every batch run of this service, oldest first, from any process."""
        reply = self._cluster._conn.call("ListJobs", pb.ListJobsRequest(
            service=f"{self.name}/{self.version}"))
        return [j.job_id for j in reply.jobs]

    def get_batch(self, batch_id: str) -> Batch:
        """The batch with this id (from any process)."""
        job = self._cluster.job(batch_id)
        if job.info().name != f"{self.name}/{self.version}":
            raise InvalidArgumentError(f"job {batch_id} is not a batch of {self.name} {self.version}")
        return Batch(self, None, 0, job)

    def _submit(self, records: list[dict], parallel_count: int, wait: bool):
        cluster = self._cluster
        call = prepare(run_record, (each(records),), {}, chunk_size=1)

        def build():
            spec = cluster._spec(call, function_blob=self._info.runner_blob)
            spec.name = spec.service = f"{self.name}/{self.version}"
            spec.max_parallel = parallel_count
            spec.recipe.output_files.append("**")
            return spec

        if wait:
            return cluster._send(build, lambda spec: cluster._run_spec(spec, Job(cluster, call.job_id)))
        cluster._send(build, cluster._submit)
        return Job(cluster, call.job_id)


def to_records(records) -> list[dict]:
    """Records as a list of dicts, from the shapes seed 002 accepts."""
    if isinstance(records, str) or hasattr(records, "__fspath__"):
        return _read_delimited(str(records))
    if hasattr(records, "to_dict") and hasattr(records, "columns"):  # a pandas DataFrame
        return records.to_dict("records")
    dtype = getattr(records, "dtype", None)
    if dtype is not None and dtype.names:
        return [{n: row[n].item() for n in dtype.names} for row in records]
    records = list(records)
    if not records or not all(isinstance(r, dict) for r in records):
        raise InvalidArgumentError("records must be a non-empty list of dicts, a numpy structured "
                                   "array, a pandas DataFrame, or a CSV/TSV file path")
    return records


def _read_delimited(path: str) -> list[dict]:
    with open(path, newline="") as f:
        sample = f.read(4096)
        f.seek(0)
        delimiter = "\t" if path.endswith((".tsv", ".tab")) or sample.count("\t") > sample.count(",") \
            else ","
        return [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(f, delimiter=delimiter)]


def _number(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


@dataclass(frozen=True)
class Execution:
    """One record's outcome: its outputs, or its error, and its files."""

    index: int
    outputs: dict | None
    error: TaskFailure | None
    files: list = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.error is None and self.outputs is not None


STATUS = SimpleNamespace(pending="pending", running="running", complete="complete",
                         failed="failed", cancelled="cancelled")
_STATES = {"queued": STATUS.pending, "running": STATUS.running, "finished": STATUS.complete,
           "failed": STATUS.failed, "cancelled": STATUS.cancelled}


@dataclass
class BatchResult:
    """Where a batch is: status, counts and each record's execution."""

    STATUS = STATUS
    status: str
    total_item_count: int
    completed_item_count: int
    failed_item_count: int
    _values: list
    _files: dict

    def execution(self, i: int) -> Execution:
        """Record ``i``'s outputs or error (outputs None while it has not run)."""
        value = self._values[i]
        if isinstance(value, TaskFailure):
            return Execution(i, None, value, self._files.get(i, []))
        return Execution(i, value, None, self._files.get(i, []))


class Batch:
    """A batch of records scored by a service; ``start()`` runs it asynchronously."""

    STATUS = STATUS

    def __init__(self, service: Service, records: list[dict] | None, parallel_count: int,
                 job: Job | None = None):
        self.service = service
        self.records = records
        self.parallel_count = parallel_count
        self._job = job

    def __repr__(self) -> str:
        return f"<Batch {self.id if self._job else '(not started)'} of {self.service!r}>"

    def start(self) -> Batch:
        if self._job is not None:
            raise InvalidArgumentError(f"batch {self._job.id} has already started")
        self._job = self.service._submit(self.records, self.parallel_count, wait=False)
        return self

    @property
    def id(self) -> str:
        return self._started().id

    def _started(self) -> Job:
        if self._job is None:
            raise InvalidArgumentError("the batch has not started: call .start() first")
        return self._job

    def cancel(self) -> bool:
        """Stop the batch; records already done keep their outputs and files."""
        return self._started().cancel()

    def results(self, partial: bool = True, timeout: float | None = None) -> BatchResult:
        """Status, counts and executions now (``partial=False`` waits for the end)."""
        job = self._started()
        if not partial:
            try:
                job.wait(timeout, progress=None)
            except Exception:  # noqa: BLE001 - the status below says what happened
                pass
        info = job.info()
        values = job.result(partial=True)
        files: dict[int, list[str]] = job.files()
        return BatchResult(_STATES[info.state], info.tasks_total, info.tasks_done + info.tasks_failed,
                           info.tasks_failed, values, files)

    def list_files(self, i: int) -> list[str]:
        """The files record ``i`` left in its working directory."""
        return self._started().files().get(i, [])

    def file_content(self, i: int, name: str) -> bytes:
        return self._started().file_content(i, name)

    def download(self, i: int, name: str | None = None, dest: str = ".") -> list[str]:
        """Write record ``i``'s files (or the one named) into ``dest``; return the paths."""
        job = self._started()
        return download_files(job._file_records(), job._conn.fetch_blob, dest, task=i, name=name,
                              flat=True)


def describe_services(services: list[Service]) -> str:
    return json.dumps([{"name": s.name, "version": s.version, "description": s.description,
                        "inputs": s.inputs, "outputs": s.outputs} for s in services], indent=1)


__all__ = ["Service", "Batch", "BatchResult", "Execution", "STATUS"]
