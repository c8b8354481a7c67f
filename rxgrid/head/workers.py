"""Worker sessions: who is registered, who is connected, who has gone quiet.

A worker's life as the head sees it::

    RegisterWorker ──► registered ──RunSession stream opens──► connected ──stream ends──► gone
                 (token given)                        │  every message is a sign of life
                                                      └─ silent for lease_timeout ─► gone

Registration is fenced: a name that is connected cannot be taken by a second daemon.
A per-node chunk waits for its own worker; a worker away (not connected) for
``lease_timeout`` while such a chunk waits is reported once by :meth:`away_too_long`.

Plain Python, no gRPC and no scheduler: the head asks this registry and acts on the
answers (requeue chunks, fail per-node ones). Call from the event loop only.
"""

from __future__ import annotations

import asyncio
import hmac
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..defaults import HEARTBEAT_INTERVAL, LEASE_TIMEOUT
from .errors import HeadError

WORKER_NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


@dataclass(eq=False)
class WorkerSession:
    """One registration of a worker daemon, and its stream once open."""

    name: str
    host: str
    cores: int
    pid: int
    token: str
    registered_at: float
    last_heartbeat: float = 0.0
    outbox: asyncio.Queue = field(default_factory=asyncio.Queue)  # RunSessionResponses; None ends it
    sent_blobs: set = field(default_factory=set)  # blobs this worker got inline already
    chunks_done: int = 0
    blob_bytes_sent: int = 0
    open: bool = False  # its Session stream is connected


@dataclass(frozen=True)
class WorkerStatus:
    """A worker as ListWorkers and the dashboard show it."""

    name: str
    host: str
    cores: int
    busy: int
    state: str  # connected | registering
    last_heartbeat: float
    registered_at: float
    pid: int
    chunks_done: int
    blob_bytes_sent: int


class WorkerRegistry:
    """The head's worker sessions by name."""

    def __init__(self, heartbeat_interval: float = HEARTBEAT_INTERVAL,
                 lease_timeout: float = LEASE_TIMEOUT, clock: Callable[[], float] = time.time):
        self.heartbeat_interval = heartbeat_interval
        self.lease_timeout = lease_timeout
        self.clock = clock
        self.sessions: dict[str, WorkerSession] = {}
        self._absent_since: dict[str, float] = {}  # worker name -> first seen away

    def register(self, name: str, host: str, cores: int, pid: int) -> WorkerSession:
        """A new registration under ``name``, replacing one whose stream is not open."""
        if not WORKER_NAME_RE.match(name):
            raise HeadError("invalid", f"worker name {name!r} is not valid: use A-Z a-z 0-9 . _ -")
        old = self.sessions.get(name)
        if old is not None and old.open:
            # Fenced: a second registration must not drop a live worker (nor take over its
            # leases). A daemon that reconnects gets in once its old stream has ended.
            raise HeadError("exists", f"worker {name!r} is connected already: give this worker "
                                      f"another --name, or retry once the other has gone")
        if old is not None:
            self.drop(old)
        session = WorkerSession(name, host, cores, pid, secrets.token_hex(16), self.clock())
        self.sessions[name] = session
        return session

    def open(self, name: str, token: str) -> WorkerSession:
        """Open the stream of the registration ``name`` holds, if ``token`` is its own."""
        session = self.sessions.get(name)
        if session is None or not hmac.compare_digest(session.token.encode(), token.encode()):
            raise HeadError("precondition", f"worker {name[:80]!r} has no current registration: "
                                            f"call RegisterWorker first")
        if session.open:
            raise HeadError("precondition", f"worker {name!r} has its session open already: "
                                            f"one stream per registration")
        session.open, session.last_heartbeat = True, self.clock()
        return session

    def is_current(self, session: WorkerSession) -> bool:
        """Is ``session`` its name's registration (not one replaced since)?"""
        return self.sessions.get(session.name) is session

    def drop(self, session: WorkerSession) -> bool:
        """Forget a session and end its stream; True if it was connected (its chunks need
        another worker)."""
        if self.is_current(session):
            del self.sessions[session.name]
        session.outbox.put_nowait(None)
        was_open, session.open = session.open, False
        return was_open

    def heard_from(self, session: WorkerSession) -> None:
        """Any message from a worker shows it is alive."""
        session.last_heartbeat = self.clock()

    def silent(self) -> list[WorkerSession]:
        """Connected workers that have sent nothing for ``lease_timeout``."""
        deadline = self.clock() - self.lease_timeout
        return [s for s in self.sessions.values() if s.open and s.last_heartbeat < deadline]

    def away_too_long(self, waited_for: Iterable[str]) -> list[tuple[str, float]]:
        """Workers that per-node chunks wait for and that have not been connected for
        ``lease_timeout``, as (name, seconds away); each is reported once per absence."""
        now, waited_for = self.clock(), set(waited_for)
        for name in list(self._absent_since):
            if name not in waited_for:
                del self._absent_since[name]
        gone = []
        for name in sorted(waited_for):
            if self.is_connected(name):
                self._absent_since.pop(name, None)
                continue
            since = self._absent_since.setdefault(name, now)
            if now - since >= self.lease_timeout:
                del self._absent_since[name]
                gone.append((name, now - since))
        return gone

    def is_connected(self, name: str) -> bool:
        session = self.sessions.get(name)
        return session is not None and session.open

    def connected(self) -> list[WorkerSession]:
        """Workers whose stream is open, by name."""
        return sorted((s for s in self.sessions.values() if s.open), key=lambda s: s.name)

    def total_slots(self) -> int:
        """Cores of the connected workers."""
        return sum(s.cores for s in self.sessions.values() if s.open)

    def send(self, name: str, message) -> None:
        """Queue a message for a worker's stream; a worker that is gone needs none."""
        session = self.sessions.get(name)
        if session is not None:
            session.outbox.put_nowait(message)

    def close_all(self) -> None:
        """End every stream (the head is stopping)."""
        for session in list(self.sessions.values()):
            session.outbox.put_nowait(None)

    def statuses(self, busy: dict[str, int]) -> list[WorkerStatus]:
        """Every registered worker by name; ``busy``: running chunks per worker."""
        return [WorkerStatus(s.name, s.host, s.cores, busy.get(s.name, 0),
                             "connected" if s.open else "registering", s.last_heartbeat,
                             s.registered_at, s.pid, s.chunks_done, s.blob_bytes_sent)
                for s in sorted(self.sessions.values(), key=lambda s: s.name)]
