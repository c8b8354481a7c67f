"""The scheduler on its own: no gRPC, no processes."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

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


def test_a_wide_chunk_holds_its_slots_and_is_not_overtaken_by_narrow_ones():
    s = Scheduler()
    s.add_worker("two", 2)
    s.add_job("narrow", 0, 1, [(0, 1, None)])
    s.add_job("wide", 0, 2, [(0, 1, None), (1, 1, None)], cores=2)
    s.add_job("later", 0, 3, [(0, 1, None)])
    n = s.lease_next("two")
    assert (n.job_id, n.cores) == ("narrow", 1)
    assert s.lease_next("two") is None  # "wide" needs both slots: "later" does not jump ahead
    s.complete(n.job_id, n.chunk, n.lease)
    w = s.lease_next("two")
    assert (w.job_id, w.cores) == ("wide", 2) and s.workers() == {"two": (2, 2)}
    assert s.lease_next("two") is None
    s.add_worker("one", 1)  # too narrow for "wide": it takes what it can run
    assert s.lease_next("one").job_id == "later"
    s.complete(w.job_id, w.chunk, w.lease)
    assert s.lease_next("two").job_id == "wide" and s.largest_worker() == 2


def test_a_slot_left_by_a_wide_chunk_that_went_elsewhere_takes_a_narrow_one_in_the_same_assign():
    # Found by the model on the lowest dependencies. "a" has one free slot and waits for
    # "w2" (2 cores); "c" takes "w2" in the second round; "n2" then fits "a" or "b", and
    # the same assign() must lease it: no free slot is left idle while it has work.
    s = Scheduler()
    s.add_worker("a", 3)
    s.add_job("busy", 1, 0, [(0, 1, None), (1, 1, None)])
    assert len(s.assign()) == 2 and s.workers() == {"a": (3, 2)}
    s.add_worker("b", 3)
    s.add_worker("c", 3)
    for order, (name, cores) in enumerate([("w1", 2), ("n1", 1), ("w2", 2), ("n2", 1)], 1):
        s.add_job(name, 0, order, [(0, 1, None)], cores=cores)
    leased = {lease.job_id: lease.worker for lease in s.assign()}
    assert sorted(leased) == ["n1", "n2", "w1", "w2"] and leased["n2"] in ("a", "b"), leased
    assert s.queued() == []


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
    from rxgrid.runtime.chunk_sizes import guided_sizes
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


# ------------------------------------------------------------------ stateful model
# A rule-based state machine drives the scheduler as the head does (submissions, workers
# joining, lost and rejoining under the same name, leases, results on current, stale and
# late leases, per-node chunks, max_parallel, reopen, cancel, forget) and checks every
# answer against a plain model. The priority oracle is the model's own (-priority,
# submission order, chunk index), not Chunk.sort_key.

WORKER_NAMES = ("a", "b", "c")

# Preconditions are named functions: hypothesis describes each precondition on every
# step, and extracting a lambda's source took nearly all of this test's time.
def _has_leases(m):
    return any(c["state"] == "leased" for c in m.chunks.values())


def _has_stale(m):
    return bool(m.stale)


def _has_waiting(m):
    return bool(m._waiting())


def _has_reopenable(m):
    return bool(m._reopenable())


def _has_live(m):
    return bool(m._live())


def _has_ended(m):
    return bool(m._ended())


def _has_absent(m):
    return len(m.workers) < len(WORKER_NAMES)


def _has_workers(m):
    return bool(m.workers)



class SchedulerMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.s = Scheduler()
        self.jobs: dict[str, dict] = {}  # job -> priority, order, cap, cancelled
        self.chunks: dict[tuple[str, int], dict] = {}  # state, pinned, lease, worker
        self.workers: dict[str, int] = {}
        self.stale: list = []  # leases that are no longer current
        self.ends: dict[tuple[str, int], int] = {}  # accepted results minus reopens

    # -------------------------------------------------------------- oracle helpers
    def _running(self, job: str) -> int:
        return sum(1 for (j, _), c in self.chunks.items() if j == job and c["state"] == "leased")

    def _busy(self, worker: str) -> int:
        return sum(c["cores"] for c in self.chunks.values()
                   if c["state"] == "leased" and c["worker"] == worker)

    def _eligible(self, worker: str) -> list[tuple[str, int]]:
        """Chunks this worker could ever run (cores within its slots), best first."""
        out = []
        for (job, index), c in self.chunks.items():
            cap = self.jobs[job]["cap"]
            if c["state"] == "queued" and c["pinned"] in (None, worker) and (
                    cap == 0 or self._running(job) < cap) and c["cores"] <= self.workers[worker]:
                out.append((job, index))
        return sorted(out, key=lambda k: (-self.jobs[k[0]]["priority"], self.jobs[k[0]]["order"], k[1]))

    def _check_lease(self, worker: str, lease) -> None:
        """``lease`` is what the scheduler gave ``worker``; it must be the oracle's pick."""
        free = self.workers.get(worker, 0) - self._busy(worker)
        eligible = self._eligible(worker) if free > 0 else []
        # The best chunk the worker could run takes free slots or waits for them: a
        # smaller one behind it never overtakes it.
        fits = bool(eligible) and self.chunks[eligible[0]]["cores"] <= free
        if lease is None:
            assert not fits, (worker, eligible, free)
            return
        assert lease.worker == worker and fits, (lease, eligible, free)
        assert (lease.job_id, lease.chunk) == eligible[0], (lease, eligible)
        assert lease.cores == self.chunks[eligible[0]]["cores"]
        assert all(lease.lease != c["lease"] for c in self.chunks.values())
        assert all(lease.lease != old[0] for old in self.stale)
        c = self.chunks[(lease.job_id, lease.chunk)]
        c.update(state="leased", lease=lease.lease, worker=worker)

    def _end(self, key) -> None:
        self.ends[key] = self.ends.get(key, 0) + 1
        assert self.ends[key] == 1, f"{key} ended twice"
        c = self.chunks[key]
        if c["state"] == "leased":
            self.stale.append(self._current(key))
        c.update(state="done", lease=None, worker=None)

    def _waiting(self) -> list:
        return [k for k, c in self.chunks.items() if c["state"] == "orphan" or (
            c["state"] == "queued" and c["pinned"] is not None and c["pinned"] not in self.workers)]

    def _reopenable(self) -> list:
        return [k for k, c in self.chunks.items()
                if c["state"] == "done" and not self.jobs[k[0]]["cancelled"]]

    def _live(self) -> list:
        return [j for j, info in self.jobs.items() if not info["cancelled"] and "forgotten" not in info]

    def _ended(self) -> list:
        return [j for j, info in self.jobs.items() if "forgotten" not in info and all(
            c["state"] in ("done", "cancelled") for k, c in self.chunks.items() if k[0] == j)]

    def _current(self, key):
        c = self.chunks[key]
        return (c["lease"], key[0], key[1], c["worker"])

    # -------------------------------------------------------------- rules
    @rule(priority=st.integers(-1, 1), pins=st.lists(st.sampled_from((None, None, *WORKER_NAMES)),
                                                      min_size=1, max_size=4),
          cap=st.integers(0, 2), cores=st.integers(1, 3))
    def submit(self, priority, pins, cap, cores):
        if any(pins):
            cores = 1  # per-node chunks wider than a worker are refused at submit (intake)
        job = f"j{len(self.jobs)}"
        # Submission order is the head's seq; give it gaps so nothing relies on 1, 2, 3.
        self.jobs[job] = dict(priority=priority, order=10 * len(self.jobs) + 7, cap=cap,
                              cancelled=False)
        self.s.add_job(job, priority, self.jobs[job]["order"],
                       [(i, 1, pin) for i, pin in enumerate(pins)], max_parallel=cap, cores=cores)
        for i, pin in enumerate(pins):
            self.chunks[(job, i)] = dict(state="queued", pinned=pin, lease=None, worker=None,
                                         cores=cores)

    @precondition(_has_absent)
    @rule(data=st.data(), slots=st.integers(1, 3))
    def join(self, data, slots):
        name = data.draw(st.sampled_from([n for n in WORKER_NAMES if n not in self.workers]))
        self._join(name, slots)

    def _join(self, name, slots):
        self.s.add_worker(name, slots)
        self.workers[name] = slots

    @precondition(_has_workers)
    @rule(data=st.data())
    def lose(self, data):
        self._lose(data.draw(st.sampled_from(sorted(self.workers))))

    def _lose(self, name):
        orphans = self.s.remove_worker(name)
        del self.workers[name]
        expected = set()
        for key, c in self.chunks.items():
            if c["state"] == "leased" and c["worker"] == name:
                self.stale.append(self._current(key))
                if c["pinned"] is None:
                    c.update(state="queued", lease=None, worker=None)
                else:  # a per-node chunk cannot run elsewhere: the head fails it
                    c.update(state="orphan", lease=None, worker=None)
                    expected.add(key)
        assert {(o.job_id, o.index) for o in orphans} == expected

    @rule(name=st.sampled_from(WORKER_NAMES))
    def lease_one(self, name):
        self._check_lease(name, self.s.lease_next(name))

    @rule()
    def assign(self):
        for lease in self.s.assign():
            self._check_lease(lease.worker, lease)
        for name in self.workers:  # no free slot is left idle while it has work
            self._check_lease(name, None)

    @precondition(_has_leases)
    @rule(data=st.data())
    def finish(self, data):
        current = [k for k, c in self.chunks.items() if c["state"] == "leased"]
        key = data.draw(st.sampled_from(current))
        assert self.s.complete(*key, self.chunks[key]["lease"]) == (True, None)
        self._end(key)

    @precondition(_has_stale)
    @rule(data=st.data())
    def late_result(self, data):
        """A result on a lease that is no longer current: reassigned, or its worker removed."""
        lease, job, index, _ = data.draw(st.sampled_from(self.stale))
        key = (job, index)
        accepted, other = self.s.complete(job, index, lease)
        c = self.chunks.get(key)
        live = c is not None and c["state"] in ("queued", "leased", "orphan")
        assert accepted == live, (key, c)
        if c is not None and c["state"] == "leased":
            assert (other.lease, other.job_id, other.chunk, other.worker) == self._current(key)
        else:
            assert other is None, (key, c, other)
        if accepted:
            self._end(key)

    @precondition(_has_waiting)
    @rule(data=st.data())
    def fail_in_place(self, data):
        """The head fails a per-node chunk whose worker is gone (lease None)."""
        waiting = self._waiting()
        key = data.draw(st.sampled_from(waiting))
        assert self.s.complete(*key, None) == (True, None)
        self._end(key)

    @precondition(_has_reopenable)
    @rule(data=st.data())
    def reopen(self, data):
        """A result that could not be stored: the chunk runs again."""
        done = self._reopenable()
        key = data.draw(st.sampled_from(done))
        self.s.reopen(*key)
        self.ends[key] -= 1
        self.chunks[key]["state"] = "queued"

    @precondition(_has_live)
    @rule(data=st.data())
    def cancel(self, data):
        live = self._live()
        job = data.draw(st.sampled_from(live))
        running = self.s.cancel_job(job)
        mine = {k: c for k, c in self.chunks.items() if k[0] == job}
        assert sorted((r.lease, r.job_id, r.chunk, r.worker) for r in running) == sorted(
            self._current(k) for k, c in mine.items() if c["state"] == "leased")
        for key, c in mine.items():
            if c["state"] == "leased":
                self.stale.append(self._current(key))
            if c["state"] != "done":
                c.update(state="cancelled", lease=None, worker=None)
        self.jobs[job]["cancelled"] = True

    @precondition(_has_ended)
    @rule(data=st.data())
    def forget(self, data):
        """The head forgets a job once it has ended (every chunk done, or cancelled)."""
        ended = self._ended()
        job = data.draw(st.sampled_from(ended))
        self.s.forget_job(job)
        self.jobs[job]["forgotten"] = True
        for key in [k for k in self.chunks if k[0] == job]:
            del self.chunks[key]
            assert self.s.chunk(*key) is None

    # -------------------------------------------------------------- invariants
    @invariant()
    def views_match_the_model(self):
        assert sorted((x.lease, x.job_id, x.chunk, x.worker) for x in self.s.leased()) == sorted(
            self._current(k) for k, c in self.chunks.items() if c["state"] == "leased")
        assert {(c.job_id, c.index) for c in self.s.queued()} == {
            k for k, c in self.chunks.items() if c["state"] == "queued"}
        assert self.s.workers() == {name: (slots, self._busy(name))
                                    for name, slots in self.workers.items()}
        for name, slots in self.workers.items():
            assert self._busy(name) <= slots, "a worker holds more slots than it has"
        for job, info in self.jobs.items():
            if info["cap"]:
                assert self._running(job) <= info["cap"]

    def teardown(self):
        """Drain: with every worker back, each chunk of a job not cancelled ends exactly once."""
        for name in WORKER_NAMES:  # every worker back, wide enough for every chunk
            if self.workers.get(name, 3) < 3:
                self._lose(name)
            if name not in self.workers:
                self._join(name, 3)
        for key in [k for k, c in self.chunks.items() if c["state"] == "orphan"]:
            assert self.s.complete(*key, None) == (True, None)
            self._end(key)
        while True:
            self.assign()
            current = [k for k, c in self.chunks.items() if c["state"] == "leased"]
            if not current:
                break
            for key in current:
                assert self.s.complete(*key, self.chunks[key]["lease"]) == (True, None)
                self._end(key)
        for key, c in self.chunks.items():
            if self.jobs[key[0]]["cancelled"]:
                assert c["state"] in ("done", "cancelled") and self.ends.get(key, 0) == (c["state"] == "done")
            else:
                assert c["state"] == "done" and self.ends[key] == 1, (key, c)


# No timing health check: a loaded 2-core runner must not fail it.
SchedulerMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=30,
                                              deadline=None,
                                              suppress_health_check=[HealthCheck.too_slow])
test_scheduler_against_a_model = SchedulerMachine.TestCase
