"""How clients and workers reach a head: plaintext or TLS, with a bearer token.

Shared by the client (sync gRPC) and the worker daemon (grpc.aio), so both read the
same settings the same way: arguments first, then ``RXGRID_TOKEN`` /
``RXGRID_WORKER_TOKEN``, ``RXGRID_TLS_CA``, ``RXGRID_TLS_CERT``, ``RXGRID_TLS_KEY``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import grpc

CHANNEL_OPTIONS = [("grpc.max_receive_message_length", 64 << 20),
                   ("grpc.max_send_message_length", 64 << 20),
                   ("grpc.enable_retries", 0)]


@dataclass(frozen=True)
class ChannelSettings:
    """Token and TLS material for a channel to the head (all optional)."""

    token: str | None = None
    tls: bool = False
    tls_ca: str | None = None  # None with tls=True: the system's roots
    tls_cert: str | None = None  # client certificate, for heads that require one
    tls_key: str | None = None
    server_name: str | None = None  # the name the head's certificate is checked against

    @classmethod
    def from_env(cls, token_var: str = "RXGRID_TOKEN", **given) -> ChannelSettings:
        env = os.environ
        values = dict(token=env.get(token_var), tls_ca=env.get("RXGRID_TLS_CA"),
                      tls_cert=env.get("RXGRID_TLS_CERT"), tls_key=env.get("RXGRID_TLS_KEY"),
                      server_name=env.get("RXGRID_TLS_SERVER_NAME"))
        values.update({k: v for k, v in given.items() if v is not None})
        values["tls"] = bool(given.get("tls") or values["tls_ca"] or values["tls_cert"])
        return cls(**values)

    def metadata(self) -> tuple:
        return (("authorization", f"Bearer {self.token}"),) if self.token else ()

    def credentials(self) -> grpc.ChannelCredentials | None:
        if not self.tls:
            return None
        read = lambda p: open(p, "rb").read() if p else None  # noqa: E731
        return grpc.ssl_channel_credentials(read(self.tls_ca), read(self.tls_key), read(self.tls_cert))

    def options(self) -> list:
        extra = [("grpc.ssl_target_name_override", self.server_name)] if self.server_name else []
        return CHANNEL_OPTIONS + extra

    def sync_channel(self, address: str) -> grpc.Channel:
        credentials = self.credentials()
        channel = (grpc.secure_channel(address, credentials, options=self.options()) if credentials
                   else grpc.insecure_channel(address, options=self.options()))
        if self.token:
            channel = grpc.intercept_channel(channel, _MetadataInterceptor(self.metadata()))
        return channel

    def aio_channel(self, address: str) -> grpc.aio.Channel:
        credentials = self.credentials()
        if credentials:
            return grpc.aio.secure_channel(address, credentials, options=self.options())
        return grpc.aio.insecure_channel(address, options=self.options())


class _MetadataInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                           grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Adds the token to every call of a sync channel."""

    def __init__(self, metadata: tuple):
        self._metadata = metadata

    def _details(self, details):
        metadata = tuple(details.metadata or ()) + self._metadata
        return details._replace(metadata=metadata) if hasattr(details, "_replace") else \
            _Details(details.method, details.timeout, metadata, details.credentials,
                     getattr(details, "wait_for_ready", None), getattr(details, "compression", None))

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation, details, request_iterator):
        return continuation(self._details(details), request_iterator)

    def intercept_stream_stream(self, continuation, details, request_iterator):
        return continuation(self._details(details), request_iterator)


class _Details(grpc.ClientCallDetails):
    def __init__(self, method, timeout, metadata, credentials, wait_for_ready, compression):
        self.method, self.timeout, self.metadata = method, timeout, metadata
        self.credentials, self.wait_for_ready, self.compression = credentials, wait_for_ready, compression
