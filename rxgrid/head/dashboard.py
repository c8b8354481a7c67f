"""The head's web dashboard, JSON API and Prometheus ``/metrics``, on the head's event loop.

A small HTTP/1.1 server (``asyncio.start_server``, one request per connection) reads the
:class:`~rxgrid.head.core.Head` directly, the way the gRPC servicers do::

    browser ── GET /  ─────────────► page (dashboard_static/: HTML, JS, CSS)
       │  every second, JS polls:
       ├─ GET /api/cluster ────────► workers, queue (lease order), running chunks, counts
       ├─ GET /api/jobs ───────────► recent jobs with progress
       ├─ GET /api/jobs/ID ────────► one job: info, errors, task output
       └─ POST /api/jobs/ID/cancel ► Head.cancel(ID)
    Prometheus ── GET /metrics ────► metrics.render(head)

Auth: with a token, every request shows it, as ``Authorization: Bearer TOKEN``, or once
as ``?token=TOKEN``, which answers with a redirect that drops it from the address and sets
an HttpOnly, SameSite=Strict cookie holding an HMAC of the token (not the token itself).
Each token is a user (``users.py``): a user sees only their own jobs (another's is 404)
and the queue rows of them; ``/metrics``, which counts every user's jobs, needs an admin.
POSTs must also carry ``X-Rxgrid: 1``, which a cross-site form cannot send. Without a
token the server only runs on loopback (``server.py`` refuses otherwise) and answers only
requests whose ``Host`` is a loopback name, which defeats DNS rebinding.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import http
import importlib.resources
import ipaddress
import json
import logging
import re
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from .. import defaults
from ..states import ACTIVE
from .errors import HeadError
from .metrics import render
from .users import NOBODY, User, Users

log = logging.getLogger("rxgrid.head.dashboard")

COOKIE = "rxgrid_dashboard"
MAX_HEADER_BYTES = defaults.DASHBOARD_MAX_HEADER_BYTES
MAX_BODY_BYTES = defaults.DASHBOARD_MAX_BODY_BYTES
REQUEST_TIMEOUT = defaults.DASHBOARD_REQUEST_TIMEOUT
MAX_LISTED_JOBS = defaults.DASHBOARD_MAX_LISTED_JOBS
MAX_QUEUE_ROWS = defaults.DASHBOARD_MAX_QUEUE_ROWS
MAX_ERRORS = defaults.DASHBOARD_MAX_ERRORS
MAX_OUTPUTS = defaults.DASHBOARD_MAX_OUTPUTS
MAX_STREAM_CHARS = defaults.DASHBOARD_MAX_STREAM_CHARS
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "ip6-localhost"}

JOB_FIELDS = ("job_id", "name", "owner", "state", "priority", "tasks_total", "tasks_done", "tasks_failed",
              "chunks_total", "chunks_done", "submitted_at", "started_at", "finished_at", "error",
              "per_node", "collected", "result_bytes", "rng_kind")
WORKER_FIELDS = ("name", "host", "cores", "busy", "state", "last_heartbeat", "registered_at", "pid",
                 "chunks_done")

# On every answer: live data must not be cached, and nothing is to be sniffed as HTML.
COMMON_HEADERS = ("Cache-Control: no-store", "X-Content-Type-Options: nosniff", "Connection: close")
PAGE_HEADERS = [
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; "
                                "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
                                "form-action 'none'; frame-ancestors 'none'"),
]
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8"}


@dataclass
class Request:
    """One parsed HTTP request; ``params`` are the path's captured groups."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""
    params: tuple[str, ...] = ()
    user: User = NOBODY  # who the token belongs to (everyone is admin without tokens)

    def arg(self, name: str, default: str = "") -> str:
        """The first value of query parameter ``name``."""
        return self.query.get(name, [default])[0]


@dataclass
class Response:
    """What to send back: status, body, its type and any extra headers."""

    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)


Handler = Callable[[Request], Awaitable[Response]]


def text(status: int, message: str, headers: list[tuple[str, str]] | None = None) -> Response:
    """A plain-text answer, for errors people read in a browser or with curl."""
    return Response(status, (message + "\n").encode(), headers=headers or [])


def as_json(value, status: int = 200) -> Response:
    """A compact JSON answer for the page's API calls."""
    return Response(status, json.dumps(value, separators=(",", ":")).encode(),
                    "application/json; charset=utf-8")


@functools.cache
def static_file(name: str) -> bytes:
    """A file of ``dashboard_static/``, read once."""
    return (importlib.resources.files(__package__) / "dashboard_static" / name).read_bytes()


class DashboardServer:
    """The dashboard of one head: ``address`` ("host:port") to browse, ``close()`` to stop."""

    def __init__(self, head, users: Users | None, listen_host: str):
        self.head = head
        self.address = ""
        self._users = users
        self._cookie_users = users.derived(_cookie_value) if users else None
        # Without a token, only loopback Host headers are answered (DNS rebinding).
        self._check_host = not users and _is_loopback_name(listen_host)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._routes: list[tuple[re.Pattern, dict[str, Handler]]] = [
            (re.compile(p), methods) for p, methods in (
                (r"/", {"GET": self.page}),
                (r"/job/([^/]+)", {"GET": self.page}),
                (r"/static/(dashboard\.(?:js|css))", {"GET": self.asset}),
                (r"/metrics", {"GET": self.metrics}),
                (r"/api/cluster", {"GET": self.cluster}),
                (r"/api/jobs", {"GET": self.jobs}),
                (r"/api/jobs/([^/]+)", {"GET": self.job}),
                (r"/api/jobs/([^/]+)/cancel", {"POST": self.cancel}),
            )]

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._connection, host, port, limit=MAX_HEADER_BYTES)
        bound = self._server.sockets[0].getsockname()[1]
        self.address = f"[{host}]:{bound}" if ":" in host else f"{host}:{bound}"

    async def close(self) -> None:
        """Stop listening and drop open connections."""
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()
        self._server = None

    # ---------------------------------------------------------------- HTTP
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            response = await asyncio.wait_for(self._answer(reader), REQUEST_TIMEOUT)
            if response is not None:
                writer.write(_encode(response))
                await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception:
            log.exception("dashboard: a connection failed")
        finally:
            self._writers.discard(writer)
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass

    async def _answer(self, reader: asyncio.StreamReader) -> Response | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            return text(431, "431 Request Header Fields Too Large")
        except asyncio.IncompleteReadError:
            return None  # the client went away (or probed the port)
        request = _parse(head)
        if request is None:
            return text(400, "400 Bad Request: not an HTTP/1.x request")
        length = request.headers.get("content-length", "0")
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            return text(413, f"413 Content Too Large: at most {MAX_BODY_BYTES} bytes of body")
        request.body = await reader.readexactly(int(length))
        response = await self._handle(request)
        # The path only: a ?token= in the query must never reach a log.
        log.debug("%s %s -> %d", request.method, request.path, response.status)
        return response

    async def _handle(self, request: Request) -> Response:
        if self._check_host and not _is_loopback_name(_host_name(request.headers.get("host", ""))):
            return text(403, "403 Forbidden: this dashboard has no token, so it answers only "
                             "requests addressed to a loopback name (localhost, 127.0.0.1, ::1)")
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        for pattern, methods in self._routes:
            match = pattern.fullmatch(request.path)
            if match is None:
                continue
            handler = methods.get(request.method)
            if handler is None:
                allow = ", ".join(methods)
                return text(405, f"405 Method Not Allowed: {request.path} answers {allow}",
                            [("Allow", allow)])
            if request.method == "POST" and request.headers.get("x-rxgrid") != "1":
                return text(403, "403 Forbidden: a POST needs the header 'X-Rxgrid: 1' (the "
                                 "dashboard page sends it; cross-site forms cannot)")
            request.params = tuple(urllib.parse.unquote(g) for g in match.groups())
            try:
                return await handler(request)
            except HeadError as e:
                return as_json({"error": str(e), "code": e.code}, 404 if e.code == "not_found" else 400)
            except Exception:
                log.exception("dashboard: %s %s failed", request.method, request.path)
                return text(500, "500 Internal Server Error: see the head's log")
        return text(404, f"404 Not Found: no page {request.path} (try / , /api/cluster, /api/jobs, "
                         f"/api/jobs/ID or /metrics)")

    def _authenticate(self, request: Request) -> Response | None:
        """None if the request may go on (``request.user`` set); else a 401, or the redirect
        that sets the cookie."""
        if not self._users:
            return None
        query_token = request.arg("token")
        user = self._users.find(query_token) if query_token else None
        if user is not None:
            request.user = user
            if request.method != "GET":
                return None
            rest = {k: v for k, v in request.query.items() if k != "token"}
            location = request.path + ("?" + urllib.parse.urlencode(rest, doseq=True) if rest else "")
            return Response(303, b"", headers=[
                ("Location", location),
                ("Set-Cookie", f"{COOKIE}={_cookie_value(query_token)}; Path=/; HttpOnly; "
                               f"SameSite=Strict")])
        auth = request.headers.get("authorization", "")
        cookie = _cookies(request.headers.get("cookie", "")).get(COOKIE, "")
        user = ((self._users.find(auth[7:].strip()) if auth[:7].lower() == "bearer " else None)
                or (self._cookie_users.find(cookie) if cookie else None))
        if user is not None:
            request.user = user
            return None
        why = "the token is wrong" if (query_token or auth or cookie) else "no token was given"
        return text(401, f"401 Unauthorized: {why}. This dashboard needs the cluster's client token: "
                         f"open /?token=TOKEN once in the browser (it then sets a cookie), or send "
                         f"'Authorization: Bearer TOKEN'", [("WWW-Authenticate", 'Bearer realm="rxgrid"')])

    # ---------------------------------------------------------------- pages
    async def page(self, request: Request) -> Response:
        """The one HTML page (``/`` and ``/job/ID``: the script reads the address)."""
        return Response(200, static_file("index.html"), STATIC_TYPES[".html"], list(PAGE_HEADERS))

    async def asset(self, request: Request) -> Response:
        """The page's script and style sheet (separate files, so the CSP forbids inline script)."""
        name = request.params[0]
        return Response(200, static_file(name), STATIC_TYPES[name[name.rindex("."):]],
                        list(PAGE_HEADERS))

    async def metrics(self, request: Request) -> Response:
        """Prometheus text exposition format 0.0.4 (every user's counts: admins only)."""
        if not request.user.admin:
            return text(403, "403 Forbidden: /metrics counts every user's jobs, so it needs an "
                             "admin's token")
        return Response(200, render(self.head).encode(), "text/plain; version=0.0.4; charset=utf-8")

    # ---------------------------------------------------------------- JSON API
    async def cluster(self, request: Request) -> Response:
        """Workers, the queue in lease order, running chunks and totals."""
        head, now = self.head, time.time()
        workers = [dict(_fields(w, WORKER_FIELDS), heartbeat_age=round(now - w.last_heartbeat, 3))
                   for w in head.queries.list_workers()]
        queued = head.scheduler.queued()
        # The counts are the whole cluster's; the rows name only jobs this user may see.
        mine = {job_id: job.info for job_id, job in head.jobs.items()
                if request.user.may_see(job.info.owner)}
        queue = [{"job_id": c.job_id, "name": mine[c.job_id].name, "chunk": c.index,
                  "first": c.first, "count": c.count, "priority": c.priority, "pinned": c.pinned or ""}
                 for c in queued if c.job_id in mine][:MAX_QUEUE_ROWS]
        leased = head.scheduler.leased()
        running = [{"job_id": r.job_id, "chunk": r.chunk, "worker": r.worker, "first": r.first,
                    "count": r.count} for r in leased if r.job_id in mine]
        slots = sum(w["cores"] for w in workers if w["state"] == "connected")
        busy = sum(w["busy"] for w in workers)
        m = getattr(head, "metrics", None)
        counts = {"workers": len(workers), "slots": slots, "busy": busy, "idle": max(0, slots - busy),
                  "queued_chunks": len(queued), "queued_tasks": sum(c.count for c in queued),
                  "running_chunks": len(leased), "active_jobs": len(head.jobs),
                  "tasks_finished": getattr(m, "tasks_finished", 0),
                  "tasks_failed": getattr(m, "tasks_failed", 0)}
        return as_json({"now": now, "heartbeat_interval": head.heartbeat_interval,
                        "lease_timeout": head.lease_timeout, "workers": workers, "queue": queue,
                        "running": running, "counts": counts})

    async def jobs(self, request: Request) -> Response:
        """The latest jobs (``?limit=N``, ``?state=running``), newest last."""
        limit = request.arg("limit", "100")
        if not limit.isdigit():
            return as_json({"error": f"limit must be a whole number, got {limit!r}"}, 400)
        infos = self.head.queries.list_jobs(request.arg("state"), 0, 0,
                                            min(int(limit), MAX_LISTED_JOBS) or 100,
                                            user=request.user)
        return as_json({"now": time.time(), "jobs": [_job(i) for i in infos]})

    async def job(self, request: Request) -> Response:
        """One job: its info, its task errors and, when kept, its tasks' output."""
        job_id = request.params[0]
        info = self.head.queries.job_info_for(job_id, request.user)
        errors = self.head.queries.errors(job_id)
        task_logs = getattr(self.head.queries, "task_logs", None)
        outputs = task_logs(job_id) if task_logs is not None else []
        return as_json({
            "now": time.time(), "job": _job(info),
            "errors": [{"task": e.task, "type": e.type, "message": e.message,
                        "traceback": _clip(e.traceback), "worker": e.worker} for e in errors[:MAX_ERRORS]],
            "errors_total": len(errors),
            "logs_available": task_logs is not None,
            "logs": [{"task": o.task, "stdout": _clip(o.stdout), "stderr": _clip(o.stderr)}
                     for o in outputs[:MAX_OUTPUTS]],
            "logs_total": len(outputs)})

    async def cancel(self, request: Request) -> Response:
        """Cancel a queued or running job; ``cancelled`` is false if it had already ended."""
        self.head.queries.job_info_for(request.params[0], request.user)
        info, cancelled = await self.head.cancel(request.params[0])
        return as_json({"job": _job(info), "cancelled": cancelled})


async def start_dashboard(head, listen: str, users: Users | None) -> DashboardServer:
    """Serve the dashboard of ``head`` on ``listen`` ("HOST:PORT"; port 0 picks a free one);
    ``users`` are the client tokens (None: no token, loopback only)."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit():
        raise ValueError(f"dashboard address {listen!r} is not HOST:PORT")
    server = DashboardServer(head, users, host)
    await server.start(host, int(port))
    return server


# -------------------------------------------------------------------- helpers
def _parse(head: bytes) -> Request | None:
    try:
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ")
    except ValueError:
        return None
    if not version.startswith("HTTP/1.") or not target.startswith("/"):
        return None
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    try:
        url = urllib.parse.urlsplit(target)
    except ValueError:
        return None
    return Request(method, url.path, urllib.parse.parse_qs(url.query), headers)


def _encode(response: Response) -> bytes:
    reason = http.HTTPStatus(response.status).phrase
    lines = [f"HTTP/1.1 {response.status} {reason}",
             f"Content-Type: {response.content_type}",
             f"Content-Length: {len(response.body)}",
             *COMMON_HEADERS,
             *(f"{k}: {v}" for k, v in response.headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body


def _fields(message, names: tuple[str, ...]) -> dict:
    return {name: getattr(message, name) for name in names}


def _job(info) -> dict:
    out = _fields(info, JOB_FIELDS)
    out["seed"] = str(info.seed) if info.seed is not None else None  # a uint64 is too big for JS numbers
    out["active"] = info.state in ACTIVE
    return out


def _clip(s: str) -> str:
    if len(s) <= MAX_STREAM_CHARS:
        return s
    return s[:MAX_STREAM_CHARS] + f"\n... ({len(s) - MAX_STREAM_CHARS:,} more characters not shown)"


def _cookie_value(token: str) -> str:
    # The cookie proves the token was shown once; it is not the token, so it opens no gRPC door.
    return hmac.new(token.encode(), b"rxgrid-dashboard-cookie", hashlib.sha256).hexdigest()


def _cookies(header: str) -> dict[str, str]:
    pairs = (part.strip().partition("=") for part in header.split(";"))
    return {name: value for name, _, value in pairs if name}


def _host_name(host_header: str) -> str:
    if host_header.startswith("["):
        return host_header[1:].partition("]")[0]
    return host_header.rpartition(":")[0] if host_header.count(":") == 1 else host_header


def _is_loopback_name(host: str) -> bool:
    """``localhost`` or a loopback IP literal (127.0.0.0/8, ::1); never a DNS name that
    merely starts with ``127.`` (``127.0.0.1.nip.io`` is anyone's address)."""
    host = host.lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
