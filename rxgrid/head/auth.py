"""Who may call the head: a client token and a separate worker token.

The cluster runs pickled code, so an open port is a remote shell. When tokens are
set, every RPC but health checking needs ``authorization: Bearer <token>``; the
client token opens the Cluster service (and reflection), the worker token only the
WorkerLink service, so a leaked worker token cannot submit or read jobs. Tokens are
compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging

import grpc

log = logging.getLogger("rxgrid.head.auth")

OPEN_PREFIXES = ("/grpc.health.v1.Health/",)
WORKER_PREFIX = "/rxgrid.v1.WorkerLink/"


def _matches(given: str, expected: str | None) -> bool:
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


class TokenInterceptor(grpc.aio.ServerInterceptor):
    """Refuses calls without the right token with UNAUTHENTICATED (PERMISSION_DENIED for the
    right token on the wrong service)."""

    def __init__(self, client_token: str | None, worker_token: str | None):
        self.client_token = client_token
        self.worker_token = worker_token

    async def intercept_service(self, continuation, handler_call_details):
        method = handler_call_details.method
        if method.startswith(OPEN_PREFIXES):
            return await continuation(handler_call_details)
        token = ""
        for key, value in handler_call_details.invocation_metadata or ():
            if key == "authorization" and value.startswith("Bearer "):
                token = value[len("Bearer "):]
        needed = self.worker_token if method.startswith(WORKER_PREFIX) else self.client_token
        other = self.client_token if method.startswith(WORKER_PREFIX) else self.worker_token
        if _matches(token, needed):
            return await continuation(handler_call_details)
        if _matches(token, other):
            return _deny(grpc.StatusCode.PERMISSION_DENIED,
                         f"this token may not call {method}: "
                         + ("a client token cannot register a worker"
                            if method.startswith(WORKER_PREFIX) else
                            "a worker token cannot submit, read or cancel jobs"))
        log.warning("refused %s: %s token", method, "wrong" if token else "no")
        return _deny(grpc.StatusCode.UNAUTHENTICATED,
                     f"{'wrong' if token else 'missing'} token for {method}: send "
                     f"'authorization: Bearer <token>' (rxgrid.connect(..., token=...), "
                     f"RXGRID_TOKEN, or grpcurl -H)")


def _deny(code: grpc.StatusCode, message: str):
    async def abort(request, context):
        await context.abort(code, message)

    # The call ends at once, so one handler shape serves every kind of method.
    return grpc.unary_unary_rpc_method_handler(abort)


def is_loopback(listen: str) -> bool:
    """Is ``HOST:PORT`` an address only this machine can reach?"""
    host = listen.rsplit(":", 1)[0].strip("[]")
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_secret(path: str | None, env_value: str | None, what: str) -> str | None:
    """A token from a file (first line) or the environment; None if neither is set."""
    if path:
        with open(path) as f:
            token = f.readline().strip()
        if len(token) < 16:
            raise SystemExit(f"rxgrid: the {what} in {path} is shorter than 16 characters; "
                             f"make one with: python -c 'import secrets; print(secrets.token_hex(32))'")
        return token
    return env_value or None
