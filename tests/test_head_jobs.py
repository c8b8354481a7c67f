"""The jobs repository over a real SQLite file, without a server."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from rxgrid._proto import rxgrid_pb2 as pb
from rxgrid.head.jobs import ChunkLayout, JobQuery, JobRecord, JobRepository
from rxgrid.head.store import Store


@pytest.fixture
def repo(tmp_path):
    store = Store(tmp_path / "state")
    yield JobRepository(store)
    store.close()


def run(awaitable):
    async def main():
        return await awaitable()
    return asyncio.run(main())


def _insert(repo: JobRepository, job_id: str, seq: int, owner: str = "alice",
            chunks: int = 2, **spec_fields) -> JobRecord:
    recipe = pb.TaskRecipe(function_blob="a" * 64, **spec_fields)
    spec = pb.JobSpec(job_id=job_id, num_tasks=chunks, recipe=recipe)
    layout = [ChunkLayout(i, i, 1, None) for i in range(chunks)]
    record = JobRecord(job_id, name=job_id, priority=1, tasks_total=chunks, chunks_total=chunks,
                       submitted_at=float(seq), owner=owner, recipe=recipe)
    run(lambda: repo.insert(record, spec, seq, layout))
    return record


def _result(job_id: str, chunk: int, errors=(), **fields) -> pb.ChunkResult:
    return pb.ChunkResult(job_id=job_id, chunk=chunk, first_task=chunk, num_tasks=1,
                          worker="w1", errors=list(errors), **fields)


def test_a_stored_job_comes_back_as_the_record_it_was_stored_as(repo):
    record = _insert(repo, "j1", 1, seed=7)
    assert repo.get("j1") == record and repo.exists("j1") and not repo.exists("j2")
    assert repo.last_seq() == 1 and repo.spec("j1").recipe.seed == 7 and record.seed == 7
    [stored] = repo.unfinished()
    assert stored.record == record and stored.seq == 1
    assert [(c.index, c.first, c.count, c.done) for c in stored.chunks] == [
        (0, 0, 1, False), (1, 1, 1, False)]


def test_results_errors_outputs_and_files_come_back_as_records(repo):
    record = _insert(repo, "j1", 1)
    error = pb.TaskError(task=1, type="ValueError", message="bad", traceback="tb",
                         exception=b"pickled")
    done = dataclasses.replace(record, state="running", chunks_done=1, tasks_done=1)
    run(lambda: repo.record_result(done, _result("j1", 0, results=b"r0", outputs=[
        pb.TaskOutput(task=0, stdout="hi", stderr="")], files=[
        pb.TaskFile(task=0, path="out.txt", blob="b" * 64, size=3)])))
    ended = dataclasses.replace(done, state="failed", chunks_done=2, tasks_failed=1,
                                finished_at=5.0, error="task 1 raised ValueError: bad")
    run(lambda: repo.record_result(ended, _result("j1", 1, errors=[error])))
    assert repo.get("j1") == ended and repo.unfinished() == []
    chunks = list(repo.results("j1"))
    assert [(c.chunk, c.results, c.worker) for c in chunks] == [(0, b"r0", "w1"), (1, b"", "w1")]
    [stored_error] = chunks[1].errors
    assert (stored_error.type, stored_error.exception, stored_error.worker) == (
        "ValueError", b"pickled", "w1")
    assert repo.task_errors("j1") == [stored_error]
    assert [(o.task, o.stdout) for o in repo.task_outputs("j1")] == [(0, "hi")]
    assert repo.task_outputs("j1", task=1) == []
    assert [(f.path, f.size) for f in repo.task_files("j1")] == [("out.txt", 3)]


def test_results_are_read_in_pages(repo, monkeypatch):
    record = _insert(repo, "big", 1, chunks=5)
    for chunk in range(5):
        run(lambda c=chunk: repo.record_result(record, _result("big", c, results=bytes([c]))))
    monkeypatch.setattr(repo, "_done_chunks", lambda job_id, page=2, f=repo._done_chunks:
                        f(job_id, page))
    assert [c.results for c in repo.results("big")] == [bytes([c]) for c in range(5)]


def test_find_filters_by_owner_state_time_and_keeps_the_newest(repo):
    for seq, owner in enumerate(["alice", "bob", "alice"], start=1):
        _insert(repo, f"j{seq}", seq, owner=owner)
    run(lambda: repo.finish(dataclasses.replace(repo.get("j1"), state="cancelled",
                                                finished_at=9.0, error="by request")))
    ids = lambda query: [r.job_id for r in repo.find(query)]  # noqa: E731
    assert ids(JobQuery()) == ["j1", "j2", "j3"]
    assert ids(JobQuery(owner="alice")) == ["j1", "j3"]
    assert ids(JobQuery(state="queued")) == ["j2", "j3"]
    assert ids(JobQuery(since=2.0, until=3.0)) == ["j2"]
    assert ids(JobQuery(limit=2)) == ["j3", "j2"]
    assert [r.job_id for r in repo.ended()] == ["j1"]


def test_collected_delete_and_blob_ownership(repo):
    _insert(repo, "j1", 1, owner="alice")
    run(lambda: repo.set_collected("j1"))
    assert repo.get("j1").collected
    run(lambda: repo.set_collected("j1", False))
    assert not repo.get("j1").collected
    assert repo.blob_readable_by("a" * 64, "alice") and not repo.blob_readable_by("a" * 64, "bob")
    assert repo.blob_readable_by("c" * 64, "bob")  # no stored job names it
    _insert(repo, "j2", 2, owner="bob")
    assert run(lambda: repo.delete(["j1"])) == []  # j2 still uses the function blob
    assert run(lambda: repo.delete(["j2"])) == ["a" * 64]
    assert repo.get("j1") is None and repo.find(JobQuery()) == []


def test_usage_counts_jobs_by_state(repo):
    _insert(repo, "j1", 1)
    usage = repo.usage(blob_files=2, blob_file_bytes=10)
    assert usage.jobs_by_state == {"queued": 1} and usage.blobs >= 2
    assert usage.blob_bytes >= 10 and usage.database_bytes > 0
