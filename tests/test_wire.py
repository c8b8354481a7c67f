"""The wire as other clients see it: grpcurl, raw gRPC calls, protocol versions.

The grpcurl tests always run: where the grpcurl binary is missing they drive a Python client
that knows the head only through reflection (``tests/grpcurl_client.py`` says why)."""

from __future__ import annotations

import json
import re
import time

import grpc
import pytest

import rxgrid
from rxgrid._proto import rxgrid_pb2 as pb
from rxgrid._proto import rxgrid_pb2_grpc as pb_grpc
from rxgrid._version import PROTOCOL_VERSION, __version__
from rxgrid.errors import ServiceNotFoundError
from rxgrid.transport.errors import reason_of
from tests.grpcurl_client import GrpcurlResult, run_grpcurl


def grpcurl(address: str, *args: str, data: dict | None = None) -> GrpcurlResult:
    """grpcurl, or where its binary is missing the Python reflection stand-in (``.tool``)."""
    cmd = ["-plaintext"]
    if data is not None:
        cmd += ["-d", json.dumps(data)]
    return run_grpcurl([*cmd, address, *args])


def test_grpcurl_lists_and_describes_the_services(cluster2):
    out = grpcurl(cluster2.address, "list")
    assert out.returncode == 0, out.stderr
    services = set(out.stdout.split())
    assert {"rxgrid.v1.Cluster", "rxgrid.v1.WorkerLink", "rxgrid.v1.Blobs",
            "grpc.health.v1.Health"} <= services
    described = grpcurl(cluster2.address, "describe", "rxgrid.v1.Cluster")
    assert "rpc ListJobs" in described.stdout and "rpc RunJob" in described.stdout
    for service, method in (("rxgrid.v1.WorkerLink", "rpc RunSession"),
                            ("rxgrid.v1.Blobs", "rpc GetBlob"),
                            ("grpc.health.v1.Health", "rpc Check"),
                            ("rxgrid.v1.JobSpec", "job_id")):
        out = grpcurl(cluster2.address, "describe", service)
        assert out.returncode == 0 and method in out.stdout, (service, out.stderr)


def test_grpcurl_health_check(cluster2):
    out = grpcurl(cluster2.address, "grpc.health.v1.Health/Check")
    assert json.loads(out.stdout)["status"] == "SERVING"


def test_grpcurl_submits_a_kernel_job_and_lists_jobs_as_json(cluster2):
    job_id = f"grpcurl-dice-{time.time_ns()}"
    out = grpcurl(cluster2.address, "rxgrid.v1.Cluster/SubmitJob", data={"job": {
        "job_id": job_id, "recipe": {"kernel": {"name": "dice", "params": {"games": 200}},
                                     "seed": 777}, "num_tasks": 4}})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["job"]["job_id"] == job_id
    # WatchJob without progress sends one message: the job's info once it has ended
    ended = json.loads(grpcurl(cluster2.address, "rxgrid.v1.Cluster/WatchJob",
                               data={"job_id": job_id}).stdout)["info"]
    assert ended["state"] == "JOB_STATE_FINISHED"
    info = json.loads(grpcurl(cluster2.address, "rxgrid.v1.Cluster/GetJob",
                              data={"job_id": job_id}).stdout)["job"]
    assert info["state"] == "JOB_STATE_FINISHED" and info["tasks_done"] == 4
    assert info["recipe"]["seed"] == "777" and info["submit_time"].endswith("Z")
    listed = json.loads(grpcurl(cluster2.address, "rxgrid.v1.Cluster/ListJobs", data={}).stdout)
    assert job_id in [j["job_id"] for j in listed["jobs"]]


def test_grpcurl_malformed_request_gets_invalid_argument(cluster2):
    out = grpcurl(cluster2.address, "rxgrid.v1.Cluster/SubmitJob",
                  data={"job": {"job_id": "bad id!", "recipe": {"kernel": {"name": "dice"}},
                                "num_tasks": 1}})
    assert out.returncode != 0
    assert "InvalidArgument" in out.stderr and "not valid" in out.stderr
    out = grpcurl(cluster2.address, "rxgrid.v1.Cluster/GetJob", data={"job_id": "nope"})
    assert "NotFound" in out.stderr


def test_a_client_of_another_protocol_version_is_refused_with_both_versions(cluster2):
    with grpc.insecure_channel(cluster2.address) as channel:
        stub = pb_grpc.ClusterStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            stub.Connect(pb.ConnectRequest(protocol_version=99))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason_of(info.value).reason == "PROTOCOL_MISMATCH"
    details = info.value.details()
    # which side speaks which version, and the head's release to install
    client, head = re.search(r"client speaks protocol (\d+), this head speaks (\d+)", details).groups()
    assert (int(client), int(head)) == (99, PROTOCOL_VERSION), details
    assert f"use the same rxgrid version as the head ({__version__})" in details, details


def test_a_worker_of_another_protocol_version_is_refused(cluster2):
    with grpc.insecure_channel(cluster2.address) as channel:
        stub = pb_grpc.WorkerLinkStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            stub.RegisterWorker(pb.RegisterWorkerRequest(protocol_version=7, name="old", cores=1))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason_of(info.value).reason == "PROTOCOL_MISMATCH"
    details = info.value.details()
    worker, head = re.search(r"worker speaks protocol (\d+), this head speaks (\d+)", details).groups()
    assert (int(worker), int(head)) == (7, PROTOCOL_VERSION), details
    assert "old" not in [w.name for w in cluster2.workers()]


def test_a_submit_naming_a_missing_blob_is_refused(cluster2):
    with grpc.insecure_channel(cluster2.address) as channel:
        stub = pb_grpc.ClusterStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            stub.SubmitJob(pb.SubmitJobRequest(job=pb.JobSpec(
                recipe=pb.TaskRecipe(function_blob="ab" * 32), num_tasks=1)))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "PutBlob" in info.value.details()
    assert reason_of(info.value) == ("BLOB_MISSING", {"blob": "ab" * 32})


def test_not_found_names_what_was_not_found(cluster2):
    """NOT_FOUND carries the resource type, so a client raises JobNotFoundError only for
    a job, and its own error for a missing service or blob."""
    with grpc.insecure_channel(cluster2.address) as channel:
        cluster, blobs = pb_grpc.ClusterStub(channel), pb_grpc.BlobsStub(channel)
        calls = {"job": lambda: cluster.GetJob(pb.GetJobRequest(job_id="nope")),
                 "service": lambda: cluster.GetService(pb.GetServiceRequest(name="n", version="1")),
                 "blob": lambda: blobs.LocateBlob(pb.LocateBlobRequest(hash="cd" * 32))}
        for kind, call in calls.items():
            with pytest.raises(grpc.RpcError) as info:
                call()
            assert info.value.code() == grpc.StatusCode.NOT_FOUND
            assert reason_of(info.value) == ("NOT_FOUND", {"resource_type": kind})
    with pytest.raises(rxgrid.JobNotFoundError):
        cluster2.job("nope")
    with pytest.raises(ServiceNotFoundError) as missing:
        cluster2.service("nope", "1")
    assert not isinstance(missing.value, rxgrid.JobNotFoundError)


def test_grpcurl_runs_a_mandelbrot_kernel_and_reads_typed_results(cluster2):
    job_id = f"grpcurl-mandel-{time.time_ns()}"
    params = {"width": 12, "height": 6, "rows": 2, "max_iter": 50}
    out = grpcurl(cluster2.address, "rxgrid.v1.Cluster/SubmitJob", data={"job": {
        "job_id": job_id, "recipe": {"kernel": {"name": "mandelbrot", "params": params}},
        "num_tasks": 3, "chunk_size": 1}})
    assert out.returncode == 0, out.stderr
    grpcurl(cluster2.address, "rxgrid.v1.Cluster/WatchJob", data={"job_id": job_id})
    stream = grpcurl(cluster2.address, "rxgrid.v1.Cluster/GetResults", data={"job_id": job_id})
    assert stream.returncode == 0, stream.stderr
    decoder, text, chunks = json.JSONDecoder(), stream.stdout.strip(), []
    while text:
        chunk, end = decoder.raw_decode(text)
        chunks.append(chunk)
        text = text[end:].strip()
    chunks = [c["chunk"] for c in chunks]
    rows = [row for c in sorted(chunks, key=lambda c: c.get("chunk", 0))
            for band in json.loads(c["results_json"]) for row in band]
    import numpy as np

    from rxgrid.kernels import mandelbrot_grid
    x, y = np.linspace(-2.0, 0.6, 12), np.linspace(-1.3, 1.3, 6)
    assert rows == mandelbrot_grid(x, y, 50).tolist()


def test_exec_runs_jobs_in_turn_on_one_stream_and_refuses_in_band(cluster2):
    """The standing ExecJobs stream: each job gets its whole JobOutcome; a refused job
    (here a duplicate id) comes back as a Refusal with the status RunJob would have
    ended with, and the stream goes on serving."""
    job_id = f"exec-dice-{time.time_ns()}"

    def dice(job_id: str) -> pb.ExecJobsRequest:
        recipe = pb.TaskRecipe(kernel=pb.KernelCall(name="dice", params={"games": 100}), seed=5)
        return pb.ExecJobsRequest(job=pb.JobSpec(job_id=job_id, recipe=recipe, num_tasks=3))

    with grpc.insecure_channel(cluster2.address) as channel:
        stub = pb_grpc.ClusterStub(channel)
        responses = list(stub.ExecJobs(iter([dice(job_id), dice(job_id), dice(job_id + "-b")])))
    assert len(responses) == 3
    assert [r.WhichOneof("result") for r in responses] == ["outcome", "refusal", "outcome"]
    first, second, duplicate = responses[0].outcome, responses[2].outcome, responses[1].refusal
    assert first.complete and first.info.state == pb.JOB_STATE_FINISHED
    assert sum(c.num_tasks for c in first.chunks) == 3
    assert duplicate.code == grpc.StatusCode.ALREADY_EXISTS.value[0] and job_id in duplicate.message
    assert duplicate.reason == "ALREADY_EXISTS"
    assert second.info.job_id == job_id + "-b" and second.info.state == pb.JOB_STATE_FINISHED
    # Same seed, same kernel: the same win rates, whatever ran them.
    assert ([json.loads(c.results_json) for c in sorted(first.chunks, key=lambda c: c.chunk)]
            == [json.loads(c.results_json) for c in sorted(second.chunks, key=lambda c: c.chunk)])


def test_a_head_and_a_worker_daemon_do_not_load_numpy():
    # numpy costs ~70 ms of CPU per process at start; on a small machine the processes of
    # a local cluster start at once, so every one of them counts. Only executors need it.
    import subprocess
    import sys
    code = ("import sys, rxgrid, rxgrid.cli, rxgrid.head.server, rxgrid.worker.daemon; "
            "print('numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_put_blob_file_takes_only_regular_files_of_the_inbox_that_match_their_hash(cluster2):
    import hashlib
    import os
    with grpc.insecure_channel(cluster2.address) as channel:
        inbox = pb_grpc.ClusterStub(channel).Connect(
            pb.ConnectRequest(protocol_version=_protocol())).blob_inbox
        stub = pb_grpc.BlobsStub(channel)
        data = os.urandom(300_000)
        digest = hashlib.sha256(data).hexdigest()

        def refused(name: str, hash_: str = digest) -> grpc.RpcError:
            with pytest.raises(grpc.RpcError) as info:
                stub.PutBlobFile(pb.PutBlobFileRequest(name=name, hash=hash_))
            return info.value

        assert refused("../rxgrid.sqlite3").code() == grpc.StatusCode.INVALID_ARGUMENT
        assert refused(".hidden").code() == grpc.StatusCode.INVALID_ARGUMENT
        assert refused("absent.blob").code() == grpc.StatusCode.NOT_FOUND
        os.symlink("/etc/passwd", os.path.join(inbox, "link.blob"))
        assert "not a regular file" in refused("link.blob").details()
        with open(os.path.join(inbox, "wrong.blob"), "wb") as f:
            f.write(data)
        assert "hashes to" in refused("wrong.blob", "0" * 64).details()
        with open(os.path.join(inbox, "right.blob"), "wb") as f:
            f.write(data)
        assert stub.PutBlobFile(pb.PutBlobFileRequest(name="right.blob", hash=digest)).size == len(data)
        assert b"".join(p.data for p in stub.GetBlob(pb.GetBlobRequest(hash=digest))) == data
        assert os.listdir(inbox) == []  # taken, refused or not: nothing stays


def _protocol() -> int:
    from rxgrid._version import PROTOCOL_VERSION
    return PROTOCOL_VERSION
