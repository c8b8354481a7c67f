"""Several hosts on one machine: a head, two workers and a client in four network
namespaces joined by a bridge, with tokens and TLS on (issue 6, item 5).

Every process is real and every byte crosses a veth link: the head listens on
10.213.0.1 inside its own namespace, which the root namespace cannot reach. The
bridge lives in a fifth namespace, so nothing of the test touches the machine's own
network. The tests run the dice and Mandelbrot jobs, then take one worker's link down
in the middle of a job and check that the job still finishes whole on the other worker.

Needs root and iproute2 (``ip netns``); skips with the reason otherwise. Run it alone
with ``python -m pytest -m multihost`` or ``python -m pytest tests/test_multihost.py``.

This module is also the client program: the test runs
``ip netns exec <client ns> python -m tests.test_multihost PHASE ...`` so the client's
calls travel over the namespaces' network too.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.multihost

SUBNET = "10.213.0"  # private test subnet: exists only inside this test's namespaces
NODES = {"head": f"{SUBNET}.1", "w1": f"{SUBNET}.2", "w2": f"{SUBNET}.3", "client": f"{SUBNET}.4"}
PORT = 50051
HEAD = f"{SUBNET}.1:{PORT}"
PREFIX = "rxmh"  # namespace names: rxmh<pid>-<node>

LONG_TASKS = 40
MANDEL_X = (-2.0, 0.5, 48)
MANDEL_Y = (-1.25, 1.25, 24)
MANDEL_LIM = 200
DICE_TIMES, DICE_CHUNK, DICE_SEED = 300, 40, 777


# ---------------------------------------------------------------- the client program


def mandel_row(y0, xvec, lim):
    """One Mandelbrot row with the built-in Numba kernel."""
    from rxgrid.kernels import mandelbrot_row
    return [int(v) for v in mandelbrot_row(xvec, y0, lim)]


def tick(i):
    """Half a second of 'work'; says which worker ran it."""
    time.sleep(0.5)
    return i, os.environ.get("RXGRID_WORKER", "?")


def _connect(token):
    import rxgrid
    return rxgrid.connect(HEAD, token=token, tls_ca=os.environ["MH_CA"], retry_deadline=30)


def _wait_for_workers(cluster, names, timeout=90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = {w.name: w for w in cluster.workers()}
        if all(n in seen and seen[n].state == "connected" for n in names):
            return
        time.sleep(0.2)
    raise SystemExit(f"workers {names} did not register in {timeout} s: {list(seen)}")


def _say(tag, payload):
    print(tag, json.dumps(payload), flush=True)


def client_jobs():
    """Phase 1: refused without the right token or without TLS; then dice and Mandelbrot."""
    import rxgrid
    from tests import fixtures
    token = os.environ["MH_TOKEN"]
    refusals = {}
    for label, kwargs in (("wrong token", dict(token="x" * 48, tls_ca=os.environ["MH_CA"])),
                          ("worker token", dict(token=os.environ["MH_WORKER_TOKEN"],
                                                tls_ca=os.environ["MH_CA"])),
                          ("plaintext", dict(token=token))):
        try:
            rxgrid.connect(HEAD, retry_deadline=1, **kwargs).jobs()
            refusals[label] = "ACCEPTED"
        except rxgrid.RxgridError as exc:
            refusals[label] = type(exc).__name__
    with _connect(token) as cluster:
        _wait_for_workers(cluster, ["w1", "w2"])
        dice = cluster.exec(fixtures.play_dice, times=DICE_TIMES, chunk_size=DICE_CHUNK,
                            seed=DICE_SEED)
        xvec = np.linspace(*MANDEL_X)
        rows = cluster.exec(mandel_row, rxgrid.each(list(np.linspace(*MANDEL_Y))), xvec=xvec,
                            lim=MANDEL_LIM, chunk_size=4)
        ran_on = sorted({w.name for w in cluster.workers() if w.chunks_done > 0})
    _say("RESULT", {"refusals": refusals, "dice": dice, "rows": rows, "ran_on": ran_on})


def client_long_job():
    """Phase 2: a long job; say CUT once both workers hold chunks, then wait for it whole."""
    import rxgrid
    with _connect(os.environ["MH_TOKEN"]) as cluster:
        _wait_for_workers(cluster, ["w1", "w2"])
        job = cluster.exec(tick, rxgrid.each(range(LONG_TASKS)), chunk_size=1, wait=False)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            busy = {w.name: w.busy for w in cluster.workers()}
            done = job.progress()[0]
            if done >= 4 and busy.get("w1", 0) > 0 and busy.get("w2", 0) > 0:
                break
            time.sleep(0.05)
        else:
            raise SystemExit(f"both workers never held chunks at once: {busy}, {done} done")
        _say("CUT", {"busy": busy, "done": done, "t": time.time()})
        results = job.result(timeout=120)
        info = job.info()
        workers = {w.name: w.state for w in cluster.workers()}
    _say("RESULT", {"results": results, "tasks_done": info.tasks_done,
                    "tasks_failed": info.tasks_failed, "state": info.state, "workers": workers,
                    "t": time.time()})


# ---------------------------------------------------------------- the network lab


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_namespaces() -> None:
    """Namespaces left by an earlier run of this test whose process is gone (a SIGKILLed
    pytest cannot run its finalizers)."""
    listed = _run("ip", "netns", "list", check=False).stdout.split("\n")
    for line in listed:
        name = line.split(" ")[0]
        if not name.startswith(PREFIX) or "-" not in name:
            continue
        pid = name[len(PREFIX):].split("-")[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            _run("ip", "netns", "del", name, check=False)


class NetLab:
    """Four 'hosts' (network namespaces) on a bridge in a fifth; processes run inside them."""

    def __init__(self, workdir):
        self.workdir = workdir
        tag = f"{PREFIX}{os.getpid()}"
        self.bridge_ns = f"{tag}-br"
        self.ns = {node: f"{tag}-{node}" for node in NODES}
        self.created: list[str] = []
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, str] = {}
        self.client_env: dict[str, str] = {}  # tokens and CA path for the client program
        self.secrets: tuple[str, ...] = ()

    def build(self) -> None:
        for ns in (self.bridge_ns, *self.ns.values()):
            _run("ip", "netns", "add", ns)
            self.created.append(ns)
            _run("ip", "-n", ns, "link", "set", "lo", "up")
        br = self.bridge_ns
        _run("ip", "-n", br, "link", "add", "br0", "type", "bridge")
        _run("ip", "-n", br, "link", "set", "br0", "up")
        for node, ip in NODES.items():
            ns, port = self.ns[node], f"p-{node}"
            # Both ends are created straight inside their namespaces: no name in the root
            # namespace, so parallel runs cannot clash.
            _run("ip", "link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", port,
                 "netns", br)
            _run("ip", "-n", br, "link", "set", port, "master", "br0")
            _run("ip", "-n", br, "link", "set", port, "up")
            _run("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0")
            _run("ip", "-n", ns, "link", "set", "eth0", "up")

    def link_down(self, node: str) -> None:
        """Cut a host off: its port on the bridge goes down (the host sees no carrier)."""
        _run("ip", "-n", self.bridge_ns, "link", "set", f"p-{node}", "down")

    def env(self, **extra) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RXGRID_", "MH_"))}
        env.update(PYTHONPATH=ROOT + os.pathsep + env.get("PYTHONPATH", ""), PYTHONUNBUFFERED="1")
        env.update(extra)
        return env

    def start(self, node: str, label: str, argv: list[str], pipe: bool = False, **env):
        """Run ``python argv`` in ``node``'s namespace, in a process group of its own."""
        log = os.path.join(self.workdir, f"{label}.log")
        self.logs[label] = log
        err = open(log, "w")
        proc = subprocess.Popen(["ip", "netns", "exec", self.ns[node], sys.executable, *argv],
                                stdout=subprocess.PIPE if pipe else err, stderr=err,
                                stdin=subprocess.DEVNULL, text=True, cwd=ROOT,
                                env=self.env(**env), start_new_session=True)
        err.close()
        self.procs[label] = proc
        return proc

    def tail(self, lines: int = 25) -> str:
        out = []
        for label, path in self.logs.items():
            try:
                text = open(path).read().splitlines()[-lines:]
            except OSError:
                text = ["(no log)"]
            out.append(f"--- {label} ---\n" + "\n".join(text))
        return "\n".join(out)

    def teardown(self) -> None:
        for proc in self.procs.values():
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the process and its executors
            except ProcessLookupError:
                pass
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        for ns in reversed(self.created):  # the veths go with their namespaces
            _run("ip", "netns", "del", ns, check=False)


def _why_no_namespaces() -> str | None:
    if sys.platform != "linux":
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "creating network namespaces needs root"
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed"
    probe = f"{PREFIX}{os.getpid()}-probe"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


class Lines:
    """Lines of a child's stdout, read with a deadline."""

    def __init__(self, proc):
        self.proc, self.q = proc, queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            self.q.put(line)
        self.q.put(None)

    def expect(self, tag: str, timeout: float, lab: NetLab) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.q.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {tag} from the client in {timeout} s\n{lab.tail()}") from None
            if line is None:
                raise AssertionError(f"client exited ({self.proc.wait()}) before {tag}\n{lab.tail()}")
            if line.startswith(tag + " "):
                return json.loads(line[len(tag) + 1:])


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    """A head (tokens + TLS) and two workers, each in its own namespace."""
    reason = _why_no_namespaces()
    if reason:
        pytest.skip(reason)
    _remove_stale_namespaces()
    work = tmp_path_factory.mktemp("multihost")
    lab = NetLab(str(work))
    try:
        lab.build()
        certs = work / "tls"
        made = subprocess.run([sys.executable, "-m", "rxgrid", "certs", str(certs), "--host",
                               NODES["head"], "--host", "rxgrid-head"], capture_output=True,
                              text=True, timeout=60, cwd=ROOT, env=lab.env())
        assert made.returncode == 0, made.stderr
        token, worker_token = secrets.token_hex(24), secrets.token_hex(24)
        for name, value in (("client.token", token), ("worker.token", worker_token)):
            path = work / name
            path.write_text(value + "\n")
            path.chmod(0o600)
        ready = work / "head.ready"
        lab.start("head", "head", [
            "-m", "rxgrid", "head", "--listen", f"0.0.0.0:{PORT}", "--state-dir", str(work / "state"),
            "--token-file", str(work / "client.token"),
            "--worker-token-file", str(work / "worker.token"),
            "--tls-cert", str(certs / "server.pem"), "--tls-key", str(certs / "server-key.pem"),
            "--lease-timeout", "3", "--heartbeat", "0.5", "--ready-file", str(ready),
            "--parent-pid", str(os.getpid())])
        for name in ("w1", "w2"):
            lab.start(name, name, [
                "-m", "rxgrid", "worker", "--head", HEAD, "--cores", "2", "--name", name,
                "--token-file", str(work / "worker.token"), "--tls-ca", str(certs / "ca.pem"),
                "--parent-pid", str(os.getpid())])
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert lab.procs["head"].poll() is None, f"head exited\n{lab.tail()}"
            assert time.monotonic() < deadline, f"head not ready in 60 s\n{lab.tail()}"
            time.sleep(0.1)
        lab.client_env = dict(MH_TOKEN=token, MH_WORKER_TOKEN=worker_token,
                              MH_CA=str(certs / "ca.pem"))
        lab.secrets = (token, worker_token)
        yield lab
    finally:
        lab.teardown()


def _client(lab: NetLab, phase: str):
    proc = lab.start("client", f"client-{phase}", ["-m", "tests.test_multihost", phase], pipe=True,
                     **lab.client_env)
    return proc, Lines(proc)


def test_dice_and_mandelbrot_across_namespaces_with_tokens_and_tls(grid):
    import rxgrid
    from rxgrid.kernels import mandelbrot_row
    from tests import fixtures

    proc, lines = _client(grid, "jobs")
    out = lines.expect("RESULT", 150, grid)
    assert proc.wait(timeout=30) == 0, grid.tail()

    refusals = out["refusals"]  # over the network too, the wrong credentials get nothing
    assert refusals["wrong token"] == refusals["worker token"] == "AuthenticationError", refusals
    assert refusals["plaintext"] != "ACCEPTED"
    with rxgrid.local_sequential() as here:
        expected = here.exec(fixtures.play_dice, times=DICE_TIMES, chunk_size=DICE_CHUNK,
                             seed=DICE_SEED)
    assert out["dice"] == expected
    assert {"Win", "Loss"} == set(expected)
    xvec = np.linspace(*MANDEL_X)
    want = [mandelbrot_row(xvec, y0, MANDEL_LIM).tolist() for y0 in np.linspace(*MANDEL_Y)]
    assert out["rows"] == want
    assert max(max(r) for r in want) == MANDEL_LIM  # some points are inside the set
    assert out["ran_on"] == ["w1", "w2"]
    head_log = open(grid.logs["head"]).read()
    assert "TLS" in head_log and "tokens required" in head_log
    for secret in grid.secrets:
        assert secret not in grid.tail(10_000)


def test_a_worker_whose_link_goes_down_mid_job_loses_its_chunks_to_the_other(grid):
    proc, lines = _client(grid, "long")
    cut = lines.expect("CUT", 90, grid)
    grid.link_down("w1")
    out = lines.expect("RESULT", 90, grid)
    assert proc.wait(timeout=30) == 0, grid.tail()

    assert cut["busy"]["w1"] > 0  # w1 held chunks when its link went down
    results = out["results"]
    assert sorted(i for i, _ in results) == list(range(LONG_TASKS))  # each task exactly once
    assert [i for i, _ in results] == list(range(LONG_TASKS))  # in task order
    assert out["tasks_done"] == LONG_TASKS and out["tasks_failed"] == 0
    assert out["state"] == "finished"
    by_worker = {name: sum(1 for _, w in results if w == name) for name in ("w1", "w2")}
    assert by_worker["w1"] + by_worker["w2"] == LONG_TASKS and by_worker["w2"] > LONG_TASKS // 2
    # The head lost w1 by its lease (its link carried nothing more) and reran what it held.
    assert out["workers"].get("w1") != "connected"
    assert any("w1" in line and "lost" in line for line in open(grid.logs["head"])), grid.tail()


if __name__ == "__main__":
    {"jobs": client_jobs, "long": client_long_job}[sys.argv[1]]()
