"""Tokens and TLS: an open port is a remote shell, so nothing runs without the right token.

Real heads, real TLS certificates made by `rxgrid certs`, real grpcurl (or, where its binary
is missing, a Python client that knows the head only through reflection)."""

from __future__ import annotations

import glob
import json
import logging
import os
import secrets
import signal
import subprocess
import sys

import grpc
import pytest

import rxgrid
from rxgrid._proto import rxgrid_pb2 as pb
from rxgrid._proto import rxgrid_pb2_grpc as pb_grpc
from rxgrid._version import PROTOCOL_VERSION
from rxgrid.client.local import free_port
from tests import fixtures
from tests.grpcurl_client import run_grpcurl
from tests.test_cluster import _wait_until

TOKEN, WORKER_TOKEN = secrets.token_hex(24), secrets.token_hex(24)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    out = tmp_path_factory.mktemp("tls")
    made = subprocess.run([sys.executable, "-m", "rxgrid", "certs", str(out), "--host", "localhost",
                           "--host", "127.0.0.1"], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    return out


@pytest.fixture(scope="module")
def secure_cluster(certs):
    with rxgrid.local(workers=2, token=TOKEN, worker_token=WORKER_TOKEN, tls_dir=str(certs)) as c:
        yield c


def test_the_right_token_over_tls_runs_jobs(secure_cluster):
    assert secure_cluster.exec(fixtures.square, rxgrid.each(range(5))) == [0, 1, 4, 9, 16]
    assert len(secure_cluster.workers()) == 2


def test_missing_or_wrong_token_is_unauthenticated(secure_cluster, certs):
    for token in (None, "x" * 48):
        with pytest.raises(rxgrid.AuthenticationError, match="token"):
            rxgrid.connect(secure_cluster.address, token=token, tls_ca=str(certs / "ca.pem"),
                           retry_deadline=1)


def test_a_worker_token_cannot_submit_and_a_client_token_cannot_register(secure_cluster, certs):
    with pytest.raises(rxgrid.AuthenticationError, match="worker token cannot"):
        rxgrid.connect(secure_cluster.address, token=WORKER_TOKEN, tls_ca=str(certs / "ca.pem"),
                       retry_deadline=1)
    creds = grpc.ssl_channel_credentials((certs / "ca.pem").read_bytes())
    with grpc.secure_channel(secure_cluster.address, creds) as channel:
        with pytest.raises(grpc.RpcError) as info:
            pb_grpc.WorkerLinkStub(channel).RegisterWorker(
                pb.RegisterWorkerRequest(protocol_version=PROTOCOL_VERSION, name="intruder", cores=1),
                metadata=(("authorization", f"Bearer {TOKEN}"),))
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "intruder" not in [w.name for w in secure_cluster.workers()]


def test_health_needs_no_token_and_plaintext_is_refused(secure_cluster, certs):
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    creds = grpc.ssl_channel_credentials((certs / "ca.pem").read_bytes())
    with grpc.secure_channel(secure_cluster.address, creds) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(rxgrid.RxgridError):
        rxgrid.connect(secure_cluster.address, token=TOKEN, retry_deadline=1)


def test_no_secret_in_logs_or_listings(secure_cluster):
    secure_cluster.exec(fixtures.square, 3)
    listing = json.dumps([j.__dict__ for j in secure_cluster.jobs()])
    logs = "".join(open(p).read() for p in glob.glob(os.path.join(secure_cluster.log_dir, "*.log")))
    for secret in (TOKEN, WORKER_TOKEN):
        assert secret not in listing and secret not in logs


def test_no_token_right_or_wrong_appears_in_any_log_or_error(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    token, worker_token = secrets.token_hex(24), secrets.token_hex(24)
    wrong, wrong_worker = secrets.token_hex(24), secrets.token_hex(24)
    errors = []
    with rxgrid.local(workers=1, cores_per_worker=1, token=token, worker_token=worker_token,
                      log_level="DEBUG", state_dir=str(tmp_path / "state")) as cluster:
        assert cluster.exec(fixtures.square, rxgrid.each([3])) == [9]
        for bad in (wrong, worker_token, None):  # made up, the worker's, none
            with pytest.raises(rxgrid.AuthenticationError) as info:
                rxgrid.connect(cluster.address, token=bad, retry_deadline=1)
            errors.append(_all_text(info.value))
        with grpc.insecure_channel(cluster.address) as channel:
            with pytest.raises(grpc.RpcError) as info:
                pb_grpc.ClusterStub(channel).ListJobs(pb.ListJobsRequest(),
                                                     metadata=(("authorization", f"Bearer {wrong}"),))
            errors.append(_all_text(info.value))
        for name, bad in (("wrong-worker", wrong_worker), ("client-worker", token)):
            _run_refused_worker(cluster.address, name, bad, tmp_path)
        paths = glob.glob(os.path.join(cluster.log_dir, "*.log")) + glob.glob(str(tmp_path / "*.log"))
        logs = {os.path.basename(p): open(p, errors="replace").read() for p in paths}
    assert {"head.log", "local-0.log", "wrong-worker.log", "client-worker.log"} <= set(logs), set(logs)
    assert " queued: 1 tasks" in logs["head.log"]  # a DEBUG line: the chattiest level
    assert logs["head.log"].count("wrong token") >= 3  # the refusals were logged, tokens not
    everything = [*logs.values(), caplog.text, *errors]
    for secret in (token, worker_token, wrong, wrong_worker):
        assert not [text[:200] for text in everything if secret in text]


def _all_text(exc: BaseException) -> str:
    """An exception's str and repr, and those of every exception chained to it."""
    parts = []
    while exc is not None:
        parts += [str(exc), repr(exc)]
        exc = exc.__cause__ or exc.__context__
    return "\n".join(parts)


def _run_refused_worker(address: str, name: str, token: str, tmp_path) -> None:
    """A worker daemon at DEBUG with a token the head refuses: run it until it says so."""
    token_file = tmp_path / f"{name}.token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    log_path = tmp_path / f"{name}.log"
    with open(log_path, "wb") as log_file:
        worker = subprocess.Popen(
            [sys.executable, "-m", "rxgrid", "worker", "--head", address, "--name", name,
             "--cores", "1", "--no-warm-kernels", "--token-file", str(token_file),
             "--log-level", "DEBUG", "--parent-pid", str(os.getpid())],
            stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_until(lambda: "refused worker" in log_path.read_text(errors="replace"), 60)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()


def test_grpcurl_with_a_token_header_over_tls(secure_cluster, certs):
    # grpcurl, or where its binary is missing the Python reflection stand-in (tests/grpcurl_client.py)
    base = ["-cacert", str(certs / "ca.pem"), "-H", f"authorization: Bearer {TOKEN}"]
    listed = run_grpcurl([*base, secure_cluster.address, "list"])
    assert "rxgrid.v1.Cluster" in listed.stdout, (listed.tool, listed.stderr)
    job_id = f"dice-{secrets.token_hex(4)}"
    submit = {"job": {"job_id": job_id, "num_tasks": 4, "chunk_size": 4, "recipe": {
        "kernel": {"name": "dice", "params": {"games": 300}}, "seed": 777}}}
    run = run_grpcurl([*base, "-d", json.dumps(submit), secure_cluster.address,
                       "rxgrid.v1.Cluster/SubmitJob"])
    assert run.returncode == 0, run.stderr
    run_grpcurl([*base, "-d", json.dumps({"job_id": job_id}), secure_cluster.address,
                 "rxgrid.v1.Cluster/WatchJob"], timeout=120)
    got = run_grpcurl([*base, "-d", json.dumps({"job_id": job_id}), secure_cluster.address,
                       "rxgrid.v1.Cluster/GetResults"])
    wins = json.loads(json.loads(got.stdout)["chunk"]["results_json"])
    from rxgrid.kernels import dice_wins
    assert wins == [dice_wins(300, 777, task) for task in range(4)]
    jobs = run_grpcurl([*base, "-d", "{}", secure_cluster.address, "rxgrid.v1.Cluster/ListJobs"])
    assert jobs.returncode == 0 and job_id in [j["job_id"] for j in json.loads(jobs.stdout)["jobs"]]
    refused = run_grpcurl(["-cacert", str(certs / "ca.pem"), "-d", "{}",
                           secure_cluster.address, "rxgrid.v1.Cluster/ListJobs"])
    assert refused.returncode != 0 and "Unauthenticated" in refused.stderr


def test_a_public_address_without_tokens_is_refused_unless_insecure(tmp_path):
    listen = f"0.0.0.0:{free_port()}"
    out = subprocess.run([sys.executable, "-m", "rxgrid", "head", "--listen", listen,
                          "--state-dir", str(tmp_path / "s")], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode != 0 and "refusing to listen" in out.stderr and "--insecure" in out.stderr


def test_mutual_tls_requires_a_client_certificate(certs, tmp_path):
    port = free_port()
    head = subprocess.Popen([sys.executable, "-m", "rxgrid", "head", "--listen", f"127.0.0.1:{port}",
                             "--state-dir", str(tmp_path / "s"), "--tls-cert", str(certs / "server.pem"),
                             "--tls-key", str(certs / "server-key.pem"),
                             "--tls-client-ca", str(certs / "ca.pem"), "--parent-pid", str(os.getpid())],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        address, ca = f"127.0.0.1:{port}", str(certs / "ca.pem")
        cluster = rxgrid.connect(address, tls_ca=ca, tls_cert=str(certs / "client.pem"),
                                 tls_key=str(certs / "client-key.pem"), retry_deadline=30)
        assert cluster.jobs() == []
        with pytest.raises(rxgrid.RxgridError):
            rxgrid.connect(address, tls_ca=ca, retry_deadline=1)
    finally:
        head.kill()
        head.wait()
