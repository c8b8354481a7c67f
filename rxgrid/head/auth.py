"""Who may call the head: client tokens (one per user) and a separate worker token.

The cluster runs pickled code, so an open port is a remote shell. When tokens are
set, every RPC but health checking needs ``authorization: Bearer <token>``; a client
token (``users.py``: one admin, or named users) opens the Cluster service (and
reflection), the worker token only the WorkerLink service, so a leaked worker token
cannot submit or read jobs; either opens the Blobs service, whose servicer lets a client
read only its own user's blobs. Tokens are compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging

import grpc

from .users import NOBODY, User, Users

log = logging.getLogger("rxgrid.head.auth")

OPEN_PREFIXES = ("/grpc.health.v1.Health/",)
WORKER_PREFIX = "/rxgrid.v1.WorkerLink/"
SHARED_PREFIX = "/rxgrid.v1.Blobs/"  # clients and workers


def matches(given: str, expected: str | None) -> bool:
    """Is ``given`` the token ``expected`` (compared in constant time; never an unset one)?"""
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def bearer_token(metadata) -> str:
    """The token of an ``authorization: Bearer <token>`` header ("" if there is none)."""
    for key, value in metadata or ():
        if key == "authorization" and value.startswith("Bearer "):
            return value[len("Bearer "):]
    return ""


def caller(users: Users | None, metadata) -> User:
    """The user behind a call the interceptor let through (anyone is admin without tokens)."""
    if users is None:
        return NOBODY
    user = users.find(bearer_token(metadata))
    if user is None:  # the interceptor refuses these; never treat one as admin
        raise PermissionError("no user holds this token")
    return user


class TokenInterceptor(grpc.aio.ServerInterceptor):
    """Refuses calls without the right token with UNAUTHENTICATED (PERMISSION_DENIED for the
    right token on the wrong service)."""

    def __init__(self, users: Users | None, worker_token: str | None):
        self.users = users
        self.worker_token = worker_token

    def _is_client(self, token: str) -> bool:
        return self.users is not None and self.users.find(token) is not None

    def _is_worker(self, token: str) -> bool:
        return matches(token, self.worker_token)

    async def intercept_service(self, continuation, handler_call_details):
        method = handler_call_details.method
        if method.startswith(OPEN_PREFIXES):
            return await continuation(handler_call_details)
        token = bearer_token(handler_call_details.invocation_metadata)
        if method.startswith(SHARED_PREFIX) and (self._is_client(token) or self._is_worker(token)):
            return await continuation(handler_call_details)
        needed, other = ((self._is_worker, self._is_client) if method.startswith(WORKER_PREFIX)
                         else (self._is_client, self._is_worker))
        if needed(token):
            return await continuation(handler_call_details)
        if other(token):
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
