"""``rxgrid.local()``: a head and N workers as child processes on loopback.

Each child runs in its own process group and watches this process: it stops when this
process exits, however that happens, so an embedded cluster never outlives its program.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from .. import defaults
from ..errors import RxgridError
from .cluster import Cluster
from .notices import relay

log = logging.getLogger("rxgrid.local")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalCluster(Cluster):
    """A head and ``workers`` worker daemons on this machine, stopped by ``close()``."""

    def __init__(self, workers: int = 2, cores_per_worker: int | None = None,
                 state_dir: str | None = None, startup_timeout: float = 120.0,
                 log_level: str = "INFO", retry_deadline: float = 60.0,
                 warm_kernels: bool = False, lease_timeout: float = defaults.LEASE_TIMEOUT,
                 heartbeat: float = defaults.HEARTBEAT_INTERVAL, token: str | None = None,
                 worker_token: str | None = None, tls_dir: str | None = None,
                 host: str = "127.0.0.1", dashboard: str | None = None,
                 users_file: str | None = None, max_attempts: int = 3):
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.num_workers = workers
        self.cores_per_worker = cores_per_worker or max(1, (os.cpu_count() or 1) // workers)
        self._own_dir = state_dir is None
        self.state_dir = state_dir or tempfile.mkdtemp(prefix="rxgrid-local-")
        self.log_dir = os.path.join(self.state_dir, "logs")
        os.makedirs(self.log_dir, mode=0o700, exist_ok=True)
        self.log_level = log_level
        self.warm_kernels = warm_kernels
        self.head_options = ["--lease-timeout", str(lease_timeout), "--heartbeat", str(heartbeat)]
        # How often a worker runs a task whose executor died before recording its death.
        self.worker_options: list[str] = ["--max-attempts", str(max_attempts)]
        if dashboard:
            self.head_options += ["--dashboard", dashboard]
        settings = self._secure(token, worker_token, tls_dir, users_file)
        self._procs: dict[str, subprocess.Popen] = {}
        self._closed = False
        self._notices = relay(self.state_dir)  # the children's few lines for the user
        address = f"{host}:{free_port()}"
        self.address = address
        atexit.register(self.close)
        started = time.monotonic()
        try:
            self.start_head()
            for i in range(workers):
                self.start_worker(f"local-{i}")
            self._wait_for_port(startup_timeout)
            super().__init__(address, retry_deadline=retry_deadline, settings=settings)
            # Warming may compile every kernel on a machine's first run: give it time.
            self.wait_for_workers(workers * self.cores_per_worker,
                                  max(startup_timeout, 900.0) if warm_kernels else startup_timeout)
            # Connected before the workers registered: the slot count jobs are chunked for
            # was 1 until its next refresh, 2 s on.
            self._total_slots()
        except BaseException:
            self.close()
            raise
        log.info("local cluster ready at %s in %.2f s", address, time.monotonic() - started)

    def _secure(self, token, worker_token, tls_dir, users_file=None):
        """Token files (mode 600) and TLS flags for the children; the client's settings.

        With ``users_file`` the head takes its named users, and ``token`` is the one this
        client connects with (one of that file's)."""
        from ..transport.channel import ChannelSettings
        if bool(token) != bool(worker_token):
            raise ValueError("give both token and worker_token, or neither")
        if token:
            worker_file = self._secret_file("worker.token", worker_token)
            self.head_options += (["--users-file", users_file] if users_file else
                                  ["--token-file", self._secret_file("client.token", token)])
            self.head_options += ["--worker-token-file", worker_file]
            self.worker_options += ["--token-file", worker_file]
        if tls_dir:
            pem = lambda name: os.path.join(tls_dir, name)  # noqa: E731
            self.head_options += ["--tls-cert", pem("server.pem"), "--tls-key", pem("server-key.pem")]
            self.worker_options += ["--tls-ca", pem("ca.pem")]
        return ChannelSettings(token=token, tls=bool(tls_dir),
                               tls_ca=os.path.join(tls_dir, "ca.pem") if tls_dir else None)

    def _secret_file(self, name: str, value: str) -> str:
        path = os.path.join(self.state_dir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(value + "\n")
        return path

    # ---------------------------------------------------------------- processes
    def _spawn(self, key: str, args: list[str]) -> subprocess.Popen:
        log_file = os.fdopen(os.open(os.path.join(self.log_dir, f"{key}.log"),
                                     os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if self._notices is not None:
            env[self._notices.env_name] = self._notices.path
        proc = subprocess.Popen(
            [sys.executable, "-m", "rxgrid", *args, "--parent-pid", str(os.getpid()),
             "--log-level", self.log_level],
            stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True, env=env)
        log_file.close()
        self._procs[key] = proc
        return proc

    def start_head(self) -> None:
        """Start (or restart) the head on this cluster's address and state dir."""
        self._spawn("head", ["head", "--listen", self.address, "--state-dir", self.state_dir,
                             *self.head_options])

    def start_worker(self, name: str, cores: int | None = None) -> None:
        """Start one more worker daemon named ``name``."""
        self._spawn(name, ["worker", "--head", self.address, "--name", name,
                           "--cores", str(cores or self.cores_per_worker),
                           "--warm-kernels" if self.warm_kernels else "--no-warm-kernels",
                           *self.worker_options])

    def kill(self, key: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to a child's process group ('head' or a worker name)."""
        proc = self._procs[key]
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        if sig in (signal.SIGKILL, signal.SIGTERM):
            proc.wait(10)

    def pid(self, key: str) -> int:
        """The process id of a child ('head' or a worker name)."""
        return self._procs[key].pid

    def _wait_for_port(self, timeout: float) -> None:
        """Poll the head's port every 10 ms (the client's retry backoff is much coarser)."""
        host, port = self.address.rsplit(":", 1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection((host, int(port)), timeout=0.1).close()
                return
            except OSError:
                if self._procs["head"].poll() is not None:
                    raise RxgridError(f"the head of the local cluster exited with code "
                                      f"{self._procs['head'].returncode}:\n{self.log_tail('head')}"
                                      ) from None
                time.sleep(0.01)

    def wait_for_workers(self, slots: int, timeout: float = 60.0) -> None:
        """Block until the head reports ``slots`` executor slots connected."""
        deadline = time.monotonic() + timeout
        while True:
            have = sum(w.cores for w in self.workers() if w.state == "connected")
            if have >= slots:
                return
            for key, proc in self._procs.items():
                if proc.poll() is not None:
                    raise RxgridError(f"{key} of the local cluster exited with code "
                                      f"{proc.returncode}:\n{self.log_tail(key)}")
            if time.monotonic() > deadline:
                raise RxgridError(f"only {have} of {slots} executor slots connected after "
                                  f"{timeout} s; see the logs in {self.log_dir}")
            time.sleep(0.02)

    def log_tail(self, key: str, lines: int = 30) -> str:
        """The last ``lines`` lines of a child's log ('head' or a worker name; "" if none)."""
        try:
            with open(os.path.join(self.log_dir, f"{key}.log"), errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def close(self) -> None:
        """Stop every child process and remove the temporary state dir."""
        if self._closed:
            return
        self._closed = True
        try:
            super().close()
        except AttributeError:
            pass
        for proc in self._procs.values():
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 5
        for proc in self._procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
        if self._notices is not None:
            self._notices.close()
        if self._own_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)
        atexit.unregister(self.close)

    def __exit__(self, *exc) -> None:
        self.close()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def local(workers: int = 2, **options) -> LocalCluster:
    """Start an embedded cluster: a head and ``workers`` workers on loopback.

    Use it as a context manager (``with rxgrid.local(2) as cluster: ...``); it is also
    stopped when the program exits.
    """
    return LocalCluster(workers, **options)
