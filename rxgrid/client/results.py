"""Putting chunk results back together in task order."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from .._proto import rxgrid_pb2 as pb
from ..errors import TaskFailure
from ..runtime.serialize import loads

log = logging.getLogger("rxgrid.client")


@dataclass(frozen=True)
class TaskOutput:
    """What one task printed, when its job ran with ``console_output=True``."""

    task: int
    stdout: str
    stderr: str


def print_outputs(outputs) -> None:
    """Show tasks' output on this console, in task order, as RevoScaleR's consoleOutput does."""
    for o in sorted(outputs, key=lambda o: o.task):
        sys.stdout.write("".join(f"[task {o.task}] {line}\n" for line in o.stdout.splitlines()))
        sys.stderr.write("".join(f"[task {o.task}] {line}\n" for line in o.stderr.splitlines()))
    sys.stdout.flush()
    sys.stderr.flush()


def failure_from_proto(e: pb.TaskError) -> TaskFailure:
    return TaskFailure(e.task, e.type, e.message, e.traceback, e.worker, e.exception)


def _values(chunk: pb.ChunkResult, fetch_blob) -> list:
    """A chunk's values, whichever way they came: pickled inline, a blob (results too large
    to ride inline, over 1 MB), or a built-in kernel's JSON."""
    kind = chunk.WhichOneof("values")
    if kind == "results_json":
        import json
        return json.loads(chunk.results_json)
    data = fetch_blob(chunk.results_blob, large=True) if kind == "results_blob" else chunk.results
    return loads(data, "results") if data else [None] * chunk.num_tasks


class ResultSet:
    """Results of one job as its chunks arrive: values per chunk, failures by task."""

    def __init__(self):
        self.chunks: dict[int, tuple[list, str]] = {}  # first task -> (values, worker)
        self.failures: dict[int, TaskFailure] = {}
        self.outputs: list[TaskOutput] = []
        self.files: list[tuple] = []  # (task, path, bytes), local_sequential only

    def add(self, chunk: pb.ChunkResult, fetch_blob) -> None:
        self.add_values(chunk.first_task, _values(chunk, fetch_blob), chunk.worker,
                        [failure_from_proto(e) for e in chunk.errors])
        self.outputs.extend(TaskOutput(o.task, o.stdout, o.stderr) for o in chunk.outputs)

    def add_values(self, first: int, values: list, worker: str, failures: list[TaskFailure]) -> None:
        self.chunks[first] = (values, worker)
        for failure in failures:
            self.failures[failure.task] = failure

    @property
    def done(self) -> int:
        return sum(len(v) for v, _ in self.chunks.values())

    def as_list(self, total: int, fill=None) -> list:
        """Values in task order; failed tasks hold a TaskFailure, missing ones ``fill``."""
        out = [fill] * total
        for first, (values, _) in self.chunks.items():
            out[first:first + len(values)] = values
        for task, failure in self.failures.items():
            out[task] = failure
        return out

    def in_order(self, start: int) -> Iterator:
        """Values from task ``start`` on, as far as they have arrived without a gap (a
        failed task's place holds its TaskFailure)."""
        while start in self.chunks:
            values = self.chunks[start][0]
            for offset, value in enumerate(values):
                yield self.failures.get(start + offset, value)
            start += len(values)

    def by_worker(self) -> dict[str, object]:
        """Per-node results: worker name -> value (one single-task chunk per worker)."""
        return {worker: self.failures.get(first, values[0] if values else None)
                for first, (values, worker) in sorted(self.chunks.items())}
