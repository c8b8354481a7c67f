"""The client's edge to the wire: a stub whose calls retry while the head is away and
turn gRPC statuses into rxgrid errors (by their ErrorInfo: ``rxgrid.transport.errors``)."""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import queue
import socket
import sys
import threading
import time
from collections.abc import Iterator

import grpc

from .._proto import rxgrid_pb2 as pb
from .._proto import rxgrid_pb2_grpc as pb_grpc
from ..errors import HeadUnavailableError, InvalidArgumentError, RxgridError
from ..transport import blobfiles as _blobfiles
from ..transport.channel import ChannelSettings
from ..transport.errors import Reason, error_for, translate

log = logging.getLogger("rxgrid.client")

_RETRY = (grpc.StatusCode.UNAVAILABLE,)
NOTICE_AFTER = 3.0  # seconds of retrying before the wait shows itself on stderr


def check_address(address: str) -> tuple[str, int]:
    """``(host, port)`` of a ``HOST:PORT`` address, or an error at once that says what is
    wrong: a URL (``http://...``), no port, a bad port, or a host name that does not resolve.

    gRPC would retry each of these as "unavailable" until its deadline, in silence.
    """
    example = "e.g. 'localhost:50051' or '10.0.0.5:50051'"
    if "://" in address:
        scheme, _, rest = address.partition("://")
        raise InvalidArgumentError(f"{address!r} is a URL; give the head's address as HOST:PORT "
                                   f"without a scheme ({scheme}://), e.g. {rest.rstrip('/')!r}")
    host, sep, port_text = address.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise InvalidArgumentError(f"cannot parse the head's address {address!r}: give "
                                   f"HOST:PORT with a port from 1 to 65535 ({example})")
    port = int(port_text)
    try:
        ipaddress.ip_address(host)
        return host, port
    except ValueError:
        pass
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise HeadUnavailableError(f"cannot resolve the head's host name {host!r} ({exc}): "
                                   f"check its spelling, or give its IP address") from None
    return host, port


class HeadConnection:
    """A channel to one head, with calls that ride through a head restart."""

    def __init__(self, address: str, retry_deadline: float = 60.0,
                 settings: ChannelSettings | None = None):
        self.address = address
        self.retry_deadline = retry_deadline
        self.settings = settings or ChannelSettings.from_env()
        self.channel = self.settings.sync_channel(address)
        self.stub = pb_grpc.ClusterStub(self.channel)
        self.blobs = pb_grpc.BlobsStub(self.channel)
        self._exec: _ExecStream | None = None
        self._exec_lock = threading.Lock()
        self._exec_missing = False  # the head has no ExecJobs: use RunJob
        self._local_blobs = _blobfiles.enabled()  # read large results from the head's files

    def close(self) -> None:
        with self._exec_lock:
            if self._exec is not None:
                self._exec.close()
                self._exec = None
        self.channel.close()

    def run_job(self, spec: pb.JobSpec) -> pb.JobOutcome:
        """Run a job to its end: one turn on the standing ExecJobs stream (a unary RunJob
        when another thread is using the stream). Not retried: the caller resumes the job."""
        if self._exec_missing or not self._exec_lock.acquire(blocking=False):
            return self.call("RunJob", pb.RunJobRequest(job=spec), retry=False).outcome
        try:
            if self._exec is None:
                self._exec = _ExecStream(self.stub)
            try:
                outcome = self._exec.run(spec)
            except grpc.RpcError as exc:
                self._exec.close()
                self._exec = None
                if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                    raise self._error(exc) from None
                self._exec_missing = True
                outcome = None
            except BaseException:  # Ctrl-C mid-job: the stream is out of step, start afresh
                self._exec.close()
                self._exec = None
                raise
        finally:
            self._exec_lock.release()
        if outcome is None:
            return self.call("RunJob", pb.RunJobRequest(job=spec), retry=False).outcome
        if outcome.HasField("refusal"):
            r = outcome.refusal
            code = next((c for c in grpc.StatusCode if c.value[0] == r.code), grpc.StatusCode.UNKNOWN)
            raise error_for(code, r.message, Reason(r.reason, dict(r.metadata)))
        return outcome.outcome

    def call(self, method: str, request, *, retry: bool = True, timeout: float | None = None,
             give_up_after: float | None = None):
        """A unary call; UNAVAILABLE is retried until ``retry_deadline`` (or ``give_up_after``)
        seconds pass. A wait longer than ``NOTICE_AFTER`` says so once on stderr."""
        start = time.monotonic()
        patience = self.retry_deadline if give_up_after is None else give_up_after
        deadline = start + (patience if retry else 0)
        delay, noticed = 0.05, False
        while True:
            try:
                return self._method(method)(request, timeout=timeout, wait_for_ready=False)
            except grpc.RpcError as exc:
                now = time.monotonic()
                if exc.code() not in _RETRY or now >= deadline:
                    raise self._error(exc) from None
                if not noticed and now - start >= NOTICE_AFTER:  # a short wait stays quiet
                    noticed = True
                    print(f"rxgrid: waiting for the head at {self.address}\u2026 (Ctrl-C to stop; "
                          f"giving up after {patience:.0f} s)", file=sys.stderr, flush=True)
                log.debug("head %s unavailable (%s); retrying", self.address, method)
                time.sleep(min(delay, max(0.0, deadline - now)))
                delay = min(delay * 2, 1.0)

    def stream(self, method: str, request) -> Iterator:
        """A server-streaming call (not retried here: callers resume where they were)."""
        call = self._method(method)(request)
        try:
            yield from call
        except grpc.RpcError as exc:
            raise self._error(exc) from None
        finally:  # left early (Ctrl-C, a caller's break): end the call now, not at GC
            call.cancel()

    def _method(self, name: str):
        """A Cluster method, or a Blobs one."""
        return getattr(self.stub, name, None) or getattr(self.blobs, name)

    def _error(self, exc: grpc.RpcError) -> RxgridError:
        error = translate(exc)
        if isinstance(error, HeadUnavailableError):
            return HeadUnavailableError(
                f"cannot reach the rxgrid head at {self.address}: {exc.details()}. Is it "
                f"running? Start one with `rxgrid head` or use rxgrid.local()")
        return error

    def fetch_blob(self, digest: str, large: bool = False) -> bytes:
        """A blob's bytes, streamed in pieces; a ``large`` one is read from the head's file
        when the head is on this host."""
        if large and self._local_blobs:
            try:
                where = self.call("LocateBlob", pb.LocateBlobRequest(hash=digest))
            except RxgridError:  # no such blob: the stream says so
                where = pb.LocateBlobResponse()
            data = _blobfiles.read_file(where.path, where.size) if where.path else None
            if data is not None:
                return data
            if where.path:
                self._local_blobs = False  # another host: stream from now on
        data = b"".join(p.data for p in self.stream("GetBlob", pb.GetBlobRequest(hash=digest)))
        if hashlib.sha256(data).hexdigest() != digest:
            raise RxgridError(f"blob {digest[:12]} from the head at {self.address} does not match "
                              f"its hash: its store is damaged or something between changed it")
        return data

    def put_blob(self, data: bytes, digest: str) -> None:
        view = memoryview(data)

        def pieces():
            for i in range(0, max(len(data), 1), 4 << 20):
                yield pb.PutBlobRequest(hash=digest if i == 0 else "",
                                        data=view[i:i + (4 << 20)].tobytes())
        try:
            self.blobs.PutBlob(pieces())
        except grpc.RpcError as exc:
            raise self._error(exc) from None


class _ExecStream:
    """A standing ExecJobs call: ``run`` sends one job and reads its response (an outcome
    or a refusal).

    A unary call pays its set-up (a new HTTP/2 stream, call objects on both sides) on
    every job; on a stream that is paid once, which is most of a trivial job's round trip.
    """

    def __init__(self, stub: pb_grpc.ClusterStub):
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._responses = stub.ExecJobs(iter(self._requests.get, None))

    def run(self, spec: pb.JobSpec) -> pb.ExecJobsResponse:
        self._requests.put(pb.ExecJobsRequest(job=spec))
        try:
            return next(self._responses)
        except StopIteration:
            raise HeadUnavailableError("the head closed the job stream") from None

    def close(self) -> None:
        self._requests.put(None)
        self._responses.cancel()
