"""The head's read-only queries and its watch streams over a real SQLite file, without a server."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from rxgrid._proto import rxgrid_pb2 as pb
from rxgrid.head.core import ActiveJob, Head
from rxgrid.head.errors import HeadError
from rxgrid.head.jobs import ChunkLayout, JobRecord
from rxgrid.head.store import Store
from rxgrid.head.users import User
from rxgrid.head.watchers import notify


@pytest.fixture
def head(tmp_path):
    store = Store(tmp_path / "state")
    yield Head(store)
    store.close()


def _stored(head: Head, job_id: str, owner: str = "alice") -> JobRecord:
    recipe = pb.TaskRecipe(function_blob="a" * 64)
    spec = pb.JobSpec(job_id=job_id, num_tasks=2, recipe=recipe)
    record = JobRecord(job_id, name=job_id, priority=0, tasks_total=2, chunks_total=2,
                       submitted_at=1.0, owner=owner, recipe=recipe)

    async def insert():
        await head.repository.insert(record, spec, 1, [ChunkLayout(i, i, 1, None) for i in range(2)])
    asyncio.run(insert())
    return record


def _result(job_id: str, chunk: int) -> pb.ChunkResult:
    return pb.ChunkResult(job_id=job_id, chunk=chunk, first_task=chunk, num_tasks=1, worker="w1",
                          results=bytes([chunk]))


def test_a_live_record_is_newer_than_its_row_and_another_users_job_is_not_found(head):
    stored = _stored(head, "j1")
    running = dataclasses.replace(stored, state="running", tasks_done=1)
    head.jobs["j1"] = ActiveJob(running, pb.JobSpec())
    assert head.queries.job_info("j1") == running
    assert head.queries.list_jobs("", 0, 0, 10) == [running]
    assert head.queries.job_info_for("j1", User("alice")) == running
    with pytest.raises(HeadError) as other:
        head.queries.job_info_for("j1", User("bob"))
    with pytest.raises(HeadError) as missing:
        head.queries.job_info("nope")
    assert str(other.value).replace("j1", "ID") == str(missing.value).replace("nope", "ID")


def test_a_watcher_hears_each_chunk_once_then_the_end(head):
    record = _stored(head, "j1")
    job = head.jobs["j1"] = ActiveJob(record, pb.JobSpec())

    async def main():
        events = head.watchers.watch("j1", results=True, progress=True)
        first = await anext(events)  # subscribed now
        notify(job, ("chunk", _result("j1", 0)))
        notify(job, ("chunk", _result("j1", 0)))  # told twice (stored, then resent): read once
        notify(job, ("info", record))
        notify(job, ("end", record))
        rest = [(kind, getattr(payload, "chunk", None)) async for kind, payload in events]
        return first, rest, job.watchers

    first, rest, watchers = asyncio.run(main())
    assert first == ("info", record)
    assert rest == [("chunk", 0), ("info", None), ("end", None)]
    assert not watchers  # the stream's end unsubscribed it


def test_a_waiter_that_leaves_before_the_end_leaves_the_results_uncollected(head):
    record = _stored(head, "j1")
    waiter: asyncio.Queue = asyncio.Queue()
    job = head.jobs["j1"] = ActiveJob(record, pb.JobSpec(), waiter=waiter, collect_on_finish=True)
    head.watchers.stop_waiting("j1", asyncio.Queue())  # not its waiter: nothing changes
    assert job.waiter is waiter and job.collect_on_finish
    head.watchers.stop_waiting("j1", waiter)
    assert job.waiter is None and not job.collect_on_finish
