"""Start a head: a grpc.aio server with the cluster, worker, health and reflection services.

``serve()`` runs one until it is told to stop; ``start_head()`` returns a started one
(used by tests and the embedded cluster).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from .. import defaults
from .._proto import rxgrid_pb2 as pb
from .._proto import rxgrid_pb2_grpc as pb_grpc
from ..defaults import MAX_MESSAGE_BYTES
from .auth import TokenInterceptor, is_loopback
from .core import Head
from .servicers import BlobsService, ClusterService, WorkerLinkService
from .store import Store
from .users import Users

log = logging.getLogger("rxgrid.head")

SERVER_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.so_reuseport", 0),
]


class RunningHead:
    """A started head: ``address`` to connect to, ``stop()`` to end it."""

    def __init__(self, server: grpc.aio.Server, head: Head, store: Store, address: str):
        self.server, self.head, self.store, self.address = server, head, store, address
        self.dashboard = None  # the web page and /metrics, when asked for

    async def stop(self, grace: float = 1.0) -> None:
        if self.dashboard is not None:
            await self.dashboard.close()
        await self.head.stop()
        await self.server.stop(grace)
        self.store.close()


@dataclass
class Security:
    """Tokens and TLS of a head; all empty means loopback-only plaintext."""

    client_token: str | None = None  # one admin user named "admin"
    worker_token: str | None = None
    users: Users | None = None  # named client tokens (--users-file), instead of client_token
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_client_ca: str | None = None  # set: clients and workers must show a certificate
    insecure: bool = False  # allow a non-loopback address without tokens

    def client_users(self) -> Users | None:
        """Who may call the Cluster service; None: anyone (no client token)."""
        if self.users is not None:
            return self.users
        return Users.single_admin(self.client_token) if self.client_token else None

    def check(self, listen: str) -> None:
        if self.users is not None and self.client_token:
            raise SystemExit("rxgrid: give --users-file or a client token (--token-file, "
                             "RXGRID_TOKEN), not both: put the admin in the users file")
        users = self.client_users()
        if users is not None and self.worker_token in users.tokens():
            raise SystemExit("rxgrid: the worker token is also a client token: give workers "
                             "a token of their own, so a worker cannot submit jobs")
        if is_loopback(listen) or self.insecure:
            return
        if not (users and self.worker_token):
            raise SystemExit(
                f"rxgrid: refusing to listen on {listen} without tokens: the cluster runs "
                f"pickled code, so anyone who reaches the port could run anything. Give "
                f"--token-file and --worker-token-file (and --tls-cert/--tls-key), or pass "
                f"--insecure if this network is yours alone")

    def credentials(self):
        if not self.tls_cert:
            return None
        with open(self.tls_key, "rb") as k, open(self.tls_cert, "rb") as c:
            pair = (k.read(), c.read())
        root = open(self.tls_client_ca, "rb").read() if self.tls_client_ca else None
        return grpc.ssl_server_credentials([pair], root_certificates=root,
                                           require_client_auth=root is not None)


async def start_head(listen: str, state_dir: str,
                     heartbeat_interval: float = defaults.HEARTBEAT_INTERVAL,
                     lease_timeout: float = defaults.LEASE_TIMEOUT, security: Security | None = None,
                     dashboard: str | None = None) -> RunningHead:
    """Start a head listening on ``listen`` (``HOST:PORT``, port 0 picks a free one)."""
    security = security or Security()
    security.check(listen)
    store = Store(state_dir)
    head = Head(store, heartbeat_interval=heartbeat_interval, lease_timeout=lease_timeout)
    await head.start()
    users = security.client_users()
    interceptors = []
    if users or security.worker_token:
        interceptors.append(TokenInterceptor(users, security.worker_token))
    server = grpc.aio.server(options=SERVER_OPTIONS, interceptors=interceptors)
    pb_grpc.add_ClusterServicer_to_server(ClusterService(head, users), server)
    pb_grpc.add_WorkerLinkServicer_to_server(WorkerLinkService(head), server)
    pb_grpc.add_BlobsServicer_to_server(BlobsService(head, users, security.worker_token), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = (pb.DESCRIPTOR.services_by_name["Cluster"].full_name,
             pb.DESCRIPTOR.services_by_name["WorkerLink"].full_name,
             pb.DESCRIPTOR.services_by_name["Blobs"].full_name,
             health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
             reflection.SERVICE_NAME)
    reflection.enable_server_reflection(names, server)
    credentials = security.credentials()
    port = (server.add_secure_port(listen, credentials) if credentials
            else server.add_insecure_port(listen))
    if port == 0:
        raise OSError(f"cannot listen on {listen}: the address is in use or not local")
    await server.start()
    for name in ("", *names[:3]):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    host = listen.rsplit(":", 1)[0]
    address = f"{host}:{port}"
    running = RunningHead(server, head, store, address)
    if dashboard:
        if not is_loopback(dashboard) and not users and not security.insecure:
            raise SystemExit(f"rxgrid: refusing to serve the dashboard on {dashboard} without a "
                             f"token (it can cancel jobs); give --token-file or --insecure")
        from .dashboard import start_dashboard
        running.dashboard = await start_dashboard(head, dashboard, users)
        log.info("dashboard and /metrics at http://%s/", running.dashboard.address)
    log.info("head listening on %s (%s, %s), state dir %s", address,
             "TLS" + (" with client certificates" if security.tls_client_ca else "")
             if credentials else "plaintext",
             f"tokens required, {len(users or ())} client user(s)" if interceptors else "no tokens",
             os.path.abspath(state_dir))
    return running


def serve(listen: str, state_dir: str, ready_file: str | None = None, parent_pid: int = 0,
          **options) -> None:
    """Run a head in the foreground until SIGINT/SIGTERM (or the parent process exits)."""
    asyncio.run(_serve(listen, state_dir, ready_file, parent_pid, **options))


async def _serve(listen, state_dir, ready_file, parent_pid, **options) -> None:
    running = await start_head(listen, state_dir, **options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if ready_file:
        _write_atomically(ready_file, running.address)
    if parent_pid:
        asyncio.create_task(_exit_with_parent(parent_pid, stop))
    await stop.wait()
    log.info("head stopping")
    await running.stop()


async def _exit_with_parent(parent_pid: int, stop: asyncio.Event) -> None:
    # An embedded cluster must not outlive the program that started it, even a killed one.
    while os.getppid() == parent_pid:
        await asyncio.sleep(0.5)
    log.warning("parent process %d is gone: stopping", parent_pid)
    stop.set()


def _write_atomically(path: str, text: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
