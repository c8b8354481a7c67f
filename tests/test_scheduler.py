"""The scheduler on its own: no gRPC, no processes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rxgrid.head.scheduler import Scheduler


def test_higher_priority_first_then_submission_order():
    s = Scheduler()
    s.add_worker("w", 1)
    s.add_job("low", 0, 1, [(0, 1, None), (1, 1, None)])
    s.add_job("high", 5, 2, [(0, 1, None)])
    s.add_job("low2", 0, 3, [(0, 1, None)])
    order = []
    while (lease := s.lease_next("w")) is not None:
        order.append((lease.job_id, lease.chunk))
        s.complete(lease.job_id, lease.chunk, lease.lease)
    assert order == [("high", 0), ("low", 0), ("low", 1), ("low2", 0)]


def test_a_lost_worker_puts_its_chunks_back_in_their_place():
    s = Scheduler()
    s.add_worker("a", 2)
    s.add_job("j", 0, 1, [(0, 5, None), (5, 5, None), (10, 5, None)])
    first, second = s.lease_next("a"), s.lease_next("a")
    assert s.remove_worker("a") == []
    s.add_worker("b", 1)
    again = s.lease_next("b")
    assert (again.chunk, again.first) == (first.chunk, first.first)
    assert again.lease not in (first.lease, second.lease)


def test_a_result_on_an_old_lease_counts_once_and_stops_the_rerun():
    s = Scheduler()
    s.add_worker("a", 1)
    s.add_job("j", 0, 1, [(0, 1, None)])
    old = s.lease_next("a")
    s.remove_worker("a")
    s.add_worker("b", 1)
    new = s.lease_next("b")
    accepted, other = s.complete("j", 0, old.lease)
    assert accepted and other == new
    assert s.complete("j", 0, new.lease) == (False, None)


def test_pinned_chunks_run_only_on_their_worker():
    s = Scheduler()
    s.add_worker("a", 1)
    s.add_worker("b", 1)
    s.add_job("per-node", 0, 1, [(0, 1, "a"), (1, 1, "b")])
    assert s.lease_next("a").chunk == 0
    assert s.lease_next("b").chunk == 1


def test_cancel_returns_running_leases_and_drops_queued_chunks():
    s = Scheduler()
    s.add_worker("a", 1)
    s.add_job("j", 0, 1, [(0, 1, None), (1, 1, None)])
    running = s.lease_next("a")
    assert s.cancel_job("j") == [running]
    s.forget_job("j")
    assert s.lease_next("a") is None and s.queued() == []


ops = st.lists(st.one_of(
    st.tuples(st.just("submit"), st.integers(-2, 2), st.integers(1, 4)),
    st.tuples(st.just("join"), st.integers(1, 3)),
    st.tuples(st.just("lose"), st.integers(0, 5)),
    st.tuples(st.just("finish"), st.integers(0, 20)),
    st.tuples(st.just("cancel"), st.integers(0, 10)),
    st.tuples(st.just("assign"),),
), max_size=60)


@settings(max_examples=300, deadline=None)
@given(ops)
def test_every_task_ends_exactly_once_and_priority_order_holds(script):
    s = Scheduler()
    workers, jobs, finished, cancelled = [], {}, {}, set()
    joined = 0
    for op in script:
        if op[0] == "submit":
            job = f"j{len(jobs)}"
            jobs[job] = op[2]
            s.add_job(job, op[1], len(jobs), [(i, 1, None) for i in range(op[2])])
        elif op[0] == "join":
            joined += 1
            workers.append(f"w{joined}")
            s.add_worker(workers[-1], op[1])
        elif op[0] == "lose" and workers:
            s.remove_worker(workers.pop(op[1] % len(workers)))
        elif op[0] == "finish" and s.leased():
            lease = s.leased()[op[1] % len(s.leased())]
            accepted, _ = s.complete(lease.job_id, lease.chunk, lease.lease)
            assert accepted
            key = (lease.job_id, lease.chunk)
            assert key not in finished, "a chunk finished twice"
            finished[key] = True
        elif op[0] == "cancel" and jobs:
            job = sorted(jobs)[op[1] % len(jobs)]
            s.cancel_job(job)
            cancelled.add(job)
        elif op[0] == "assign":
            queued_before = s.queued()
            for lease in s.assign():
                # Priority: nothing left queued may outrank what was just leased.
                chunk = s.chunk(lease.job_id, lease.chunk)
                better = [c for c in s.queued() if c.pinned is None and c.sort_key() < chunk.sort_key()]
                assert not better, (lease, better, queued_before)
        leases = s.leased()
        assert len({(x.job_id, x.chunk) for x in leases}) == len(leases), "chunk leased twice"
        for slots, busy in s.workers().values():
            assert busy <= slots
    # Drain: with a worker present every live chunk ends exactly once.
    s.add_worker("drain", 4)
    while True:
        leases = s.assign() or s.leased()
        if not leases:
            break
        for lease in leases:
            accepted, _ = s.complete(lease.job_id, lease.chunk, lease.lease)
            key = (lease.job_id, lease.chunk)
            assert accepted and key not in finished
            finished[key] = True
    for job, n in jobs.items():
        if job not in cancelled:
            assert all((job, i) in finished for i in range(n)), job


def test_max_parallel_caps_running_chunks_of_a_job_but_not_others():
    s = Scheduler()
    s.add_worker("w", 4)
    s.add_job("batch", 5, 1, [(i, 1, None) for i in range(6)], max_parallel=2)
    s.add_job("other", 0, 2, [(0, 1, None), (1, 1, None)])
    leases = s.assign()
    assert sorted(lease.job_id for lease in leases) == ["batch", "batch", "other", "other"]
    first = next(lease for lease in leases if lease.job_id == "batch")
    s.complete("batch", first.chunk, first.lease)
    more = s.assign()
    assert [lease.job_id for lease in more] == ["batch"]
    assert len([c for c in s.queued() if c.job_id == "batch"]) == 3


def test_guided_chunk_sizes_cover_every_task_and_shrink_towards_the_end():
    from rxgrid._chunk import guided_sizes
    for n, slots in ((1, 2), (7, 1), (40, 2), (99, 3), (100_000, 2), (12345, 16)):
        sizes = guided_sizes(n, slots)
        assert sum(sizes) == n and min(sizes) >= 1
        assert sizes == sorted(sizes, reverse=True)
    assert guided_sizes(40, 2)[-4:] == [1, 1, 1, 1]  # the end is fine-grained
    assert len(guided_sizes(100_000, 2)) < 20  # trivial tasks stay few chunks


def test_pinned_waiting_lists_queued_per_node_chunks_by_worker():
    s = Scheduler()
    s.add_worker("a", 1)
    s.add_job("j", 0, 1, [(0, 1, "a"), (1, 1, "b"), (2, 1, None)])
    assert {name: [c.index for c in chunks] for name, chunks in s.pinned_waiting().items()} == {
        "a": [0], "b": [1]}
    lease = s.lease_next("a")
    assert lease.chunk == 0
    assert list(s.pinned_waiting()) == ["b"]  # leased chunks are not waiting
    assert s.complete("j", 1, None) == (True, None)  # failed in place: no longer waiting
    assert s.pinned_waiting() == {}
