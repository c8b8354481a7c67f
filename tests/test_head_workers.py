"""Worker sessions without a server: registration, fencing, silence and absence."""

from __future__ import annotations

import pytest

from rxgrid.head.errors import HeadError
from rxgrid.head.workers import WorkerRegistry


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def registry(clock: Clock) -> WorkerRegistry:
    return WorkerRegistry(heartbeat_interval=1.0, lease_timeout=10.0, clock=clock)


def test_a_registered_worker_opens_its_stream_with_its_own_token_only(registry):
    session = registry.register("w1", "host", 4, 123)
    with pytest.raises(HeadError) as refused:
        registry.open("w1", "not-the-token")
    assert refused.value.code == "precondition"
    assert registry.open("w1", session.token) is session
    assert session.open and registry.total_slots() == 4 and registry.is_connected("w1")


def test_a_connected_name_is_fenced_and_a_registering_one_is_replaced(registry):
    first = registry.register("w1", "host", 2, 1)
    second = registry.register("w1", "host", 2, 2)  # first never opened: replaced
    assert first.outbox.get_nowait() is None and not registry.is_current(first)
    registry.open("w1", second.token)
    with pytest.raises(HeadError) as refused:
        registry.register("w1", "host", 2, 3)
    assert refused.value.code == "exists" and registry.is_current(second)


def test_bad_worker_names_are_refused(registry):
    with pytest.raises(HeadError) as refused:
        registry.register("../w", "host", 1, 1)
    assert refused.value.code == "invalid"


def test_drop_tells_whether_the_worker_was_connected(registry):
    waiting = registry.register("w1", "host", 1, 1)
    assert registry.drop(waiting) is False
    running = registry.register("w2", "host", 1, 1)
    registry.open("w2", running.token)
    assert registry.drop(running) is True
    assert registry.sessions == {} and registry.total_slots() == 0
    assert running.outbox.get_nowait() is None


def test_a_worker_silent_for_the_lease_timeout_is_reported(registry, clock):
    session = registry.register("w1", "host", 1, 1)
    registry.open("w1", session.token)
    clock.now += 9.0
    assert registry.silent() == []
    registry.heard_from(session)
    clock.now += 10.5
    assert registry.silent() == [session]


def test_an_absent_worker_is_reported_once_after_the_lease_timeout(registry, clock):
    assert registry.away_too_long(["w1"]) == []
    clock.now += 5.0
    assert registry.away_too_long(["w1"]) == []
    clock.now += 5.0
    assert registry.away_too_long(["w1"]) == [("w1", 10.0)]
    assert registry.away_too_long(["w1"]) == []  # a new absence starts now


def test_a_worker_that_comes_back_is_no_longer_absent(registry, clock):
    registry.away_too_long(["w1"])
    clock.now += 8.0
    session = registry.register("w1", "host", 1, 1)
    registry.open("w1", session.token)
    assert registry.away_too_long(["w1"]) == []
    registry.drop(session)
    assert registry.away_too_long(["w1"]) == []  # its absence counts from now
    clock.now += 8.0
    assert registry.away_too_long(["w1"]) == []
    clock.now += 2.0
    assert registry.away_too_long(["w1"]) == [("w1", 10.0)]


def test_statuses_list_workers_by_name_with_their_running_chunks(registry):
    b = registry.register("b", "host", 2, 1)
    registry.register("a", "host", 1, 2)
    registry.open("b", b.token)
    statuses = registry.statuses({"b": 2})
    assert [(s.name, s.state, s.busy) for s in statuses] == [
        ("a", "registering", 0), ("b", "connected", 2)]
    registry.send("b", "hello")
    registry.send("gone", "nobody")
    assert b.outbox.get_nowait() == "hello"
