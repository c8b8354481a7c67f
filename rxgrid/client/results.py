"""Putting chunk results back together in task order."""

from __future__ import annotations

import logging
import pickle

from .._proto import rxgrid_pb2 as pb
from ..errors import TaskFailure

log = logging.getLogger("rxgrid.client")


def failure_from_proto(e: pb.TaskError) -> TaskFailure:
    return TaskFailure(e.task, e.type, e.message, e.traceback, e.worker)


class ResultSet:
    """Results of one job as its chunks arrive: values by task, failures, worker names."""

    def __init__(self, num_tasks: int = 0):
        self.values: dict[int, object] = {}
        self.failures: dict[int, TaskFailure] = {}
        self.workers: dict[int, str] = {}
        self.num_tasks = num_tasks

    def add(self, chunk: pb.ChunkResult, fetch_blob) -> None:
        data = chunk.results or (fetch_blob(chunk.results_blob) if chunk.results_blob else b"")
        values = pickle.loads(data) if data else [None] * chunk.num_tasks
        for offset, value in enumerate(values):
            self.values[chunk.first_task + offset] = value
            self.workers[chunk.first_task + offset] = chunk.worker
        for e in chunk.errors:
            self.failures[e.task] = failure_from_proto(e)
            self.values[e.task] = self.failures[e.task]

    def as_list(self, total: int, fill=None) -> list:
        """Values in task order; failed tasks hold a TaskFailure, missing ones ``fill``."""
        return [self.values.get(i, fill) for i in range(total)]

    def by_worker(self) -> dict[str, object]:
        """Per-node results: worker name -> value."""
        return {self.workers[i]: v for i, v in sorted(self.values.items())}
