"""Issue 15: a head probed by someone holding one token (raw gRPC with the client token or
the worker token) and by a fake worker speaking WorkerLink through the real stubs.

Every test asserts the refusal, that a canary folder outside the state dir is unchanged
(nothing read, created or deleted), and that the head still answers its health check.
"""

from __future__ import annotations

import math
import os
import pickle
import queue
import stat
import subprocess
import sys

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc

import rxgrid
from rxgrid._paths import blob_hash
from rxgrid._proto import rxgrid_pb2 as pb
from rxgrid._proto import rxgrid_pb2_grpc as pb_grpc
from rxgrid._version import PROTOCOL_VERSION
from rxgrid.client.local import free_port
from rxgrid.errors import InvalidArgumentError
from tests import fixtures
from tests.conftest import ROOT

TOKEN = "client-token-" + "c" * 32
WORKER_TOKEN = "worker-token-" + "w" * 32
INVALID = grpc.StatusCode.INVALID_ARGUMENT


# -------------------------------------------------------------------- a canary and heads
@pytest.fixture(scope="module")
def canary(tmp_path_factory):
    """A folder outside every state dir: a secret, a FIFO and a subfolder."""
    root = tmp_path_factory.mktemp("canary")
    (root / "secret.txt").write_text("canary secret\n")
    (root / "sub").mkdir()
    (root / "sub" / "keep.txt").write_text("keep me\n")
    os.mkfifo(root / "fifo")
    return root


def listing(root) -> dict:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            content = open(path, "rb").read() if stat.S_ISREG(st.st_mode) else None
            out[os.path.relpath(path, root)] = (stat.S_IFMT(st.st_mode), st.st_mtime_ns, content)
    return out


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    """A head with both tokens and one real worker whose daemon has both tokens in its
    environment (as a careless deployment would)."""
    state = tmp_path_factory.mktemp("grid") / "state"
    saved = {k: os.environ.get(k) for k in ("RXGRID_TOKEN", "RXGRID_WORKER_TOKEN")}
    os.environ.update(RXGRID_TOKEN=TOKEN, RXGRID_WORKER_TOKEN=WORKER_TOKEN)
    try:
        cluster = rxgrid.local(workers=1, cores_per_worker=1, token=TOKEN,
                               worker_token=WORKER_TOKEN, state_dir=str(state))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    with cluster:
        yield cluster


class BareHead:
    """A head process with tokens and no worker: fake workers get every chunk."""

    def __init__(self, tmp):
        self.state = tmp / "state"
        self.state.mkdir(mode=0o700)
        for name, value in (("client.token", TOKEN), ("worker.token", WORKER_TOKEN)):
            (tmp / name).write_text(value + "\n")
            os.chmod(tmp / name, 0o600)
        self.address = f"127.0.0.1:{free_port()}"
        self.ready = tmp / "ready"
        self.log = tmp / "head.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "rxgrid", "head", "--listen", self.address,
                 "--state-dir", str(self.state), "--token-file", str(tmp / "client.token"),
                 "--worker-token-file", str(tmp / "worker.token"), "--lease-timeout", "120",
                 "--ready-file", str(self.ready), "--log-level", "INFO"],
                stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True,
                env={**os.environ, "PYTHONPATH": ROOT})
        self.channel = grpc.insecure_channel(self.address)
        grpc.channel_ready_future(self.channel).result(timeout=60)

    def close(self):
        self.channel.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    head = BareHead(tmp_path_factory.mktemp("bare"))
    yield head
    head.close()


class Stubs:
    """The stubs of one channel as one object: Cluster (or WorkerLink) and Blobs."""

    def __init__(self, *stubs):
        self._stubs = stubs

    def __getattr__(self, name: str):
        for stub in self._stubs:
            if hasattr(stub, name):
                return getattr(stub, name)
        raise AttributeError(name)


def client(address: str):
    channel = grpc.insecure_channel(address)
    stubs = Stubs(pb_grpc.ClusterStub(channel), pb_grpc.BlobsStub(channel))
    return channel, stubs, (("authorization", f"Bearer {TOKEN}"),)


def worker_stub(address: str):
    channel = grpc.insecure_channel(address)
    stubs = Stubs(pb_grpc.WorkerLinkStub(channel), pb_grpc.BlobsStub(channel))
    return channel, stubs, (("authorization", f"Bearer {WORKER_TOKEN}"),)


RECIPE_FIELDS = set(pb.TaskRecipe.DESCRIPTOR.fields_by_name)


def submit_request(**fields) -> pb.SubmitJobRequest:
    """A SubmitJob request; fields of the TaskRecipe go into the job's recipe."""
    recipe = pb.TaskRecipe(**{k: fields.pop(k) for k in list(fields) if k in RECIPE_FIELDS})
    return pb.SubmitJobRequest(job=pb.JobSpec(recipe=recipe, **fields))


def serving(address: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def refused(call, *args, code=INVALID, **kwargs) -> str:
    """Call ``call``; assert it fails with ``code``; return the message."""
    with pytest.raises(grpc.RpcError) as info:
        result = call(*args, timeout=30, **kwargs)
        if not hasattr(result, "ByteSize"):  # a stream: read it
            list(result)
    assert info.value.code() == code, info.value.details()
    return info.value.details()


@pytest.fixture
def untouched(canary):
    """The canary is exactly as it was after the test."""
    before = listing(canary)
    yield canary
    assert listing(canary) == before


def path_name(path) -> str:
    """A blob "hash" that the old store turned into ``path`` (root / '..' / '/abs')."""
    return ".." + str(path)


# -------------------------------------------------------------------- 1: names as paths
def test_blob_names_that_are_paths_are_refused_by_every_rpc(grid, untouched):
    channel, stub, auth = client(grid.address)
    wchannel, wstub, wauth = worker_stub(grid.address)
    with channel, wchannel:
        for target in (untouched / "secret.txt", os.path.join(grid.state_dir, "client.token"),
                       "/proc/self/environ", untouched / "fifo"):
            name = path_name(target)
            for call, meta in ((stub.GetBlob, auth), (wstub.GetBlob, wauth)):
                assert "64 lowercase hex" in refused(call, pb.GetBlobRequest(hash=name), metadata=meta)
            for call, meta in ((stub.LocateBlob, auth), (wstub.LocateBlob, wauth)):
                refused(call, pb.LocateBlobRequest(hash=name), metadata=meta)
            refused(stub.FindMissingBlobs, pb.FindMissingBlobsRequest(hashes=["a" * 64, name]),
                    metadata=auth)
    assert serving(grid.address)


def test_a_fifo_inside_the_store_is_not_opened(grid, untouched):
    # Even a well-formed name must lead only to a regular file (a FIFO would block the loop).
    digest = "f1f0" + "0" * 60
    folder = os.path.join(grid.state_dir, "blobs", digest[:2])
    os.makedirs(folder, mode=0o700, exist_ok=True)
    os.mkfifo(os.path.join(folder, digest[2:]))
    try:
        channel, stub, auth = client(grid.address)
        with channel:
            refused(stub.GetBlob, pb.GetBlobRequest(hash=digest), metadata=auth,
                    code=grpc.StatusCode.NOT_FOUND)
            assert missing(stub, [digest], auth) == [digest]
    finally:
        os.unlink(os.path.join(folder, digest[2:]))
    assert serving(grid.address)


def test_a_refused_job_with_a_path_named_inline_blob_plants_nothing(grid, untouched):
    channel, stub, auth = client(grid.address)
    planted = untouched / "planted.pth"
    with channel:
        spec = submit_request(kernel=pb.KernelCall(name="dice"), num_tasks=1,
                              inline_blobs=[pb.Blob(hash=path_name(planted), data=b"import os\n")])
        assert "inline blob" in refused(stub.SubmitJob, spec, metadata=auth)
        # A valid name, but a bad job: nothing of it is stored either.
        data = pickle.dumps(len)
        digest = blob_hash(data)
        spec = submit_request(function_blob=digest, num_tasks=0,
                              inline_blobs=[pb.Blob(hash=digest, data=data)])
        refused(stub.SubmitJob, spec, metadata=auth)
        assert missing(stub, [digest], auth) == [digest]
    assert not planted.exists()
    assert serving(grid.address)


def test_a_job_naming_a_path_as_its_function_cannot_delete_it_at_cleanup(grid, untouched):
    channel, stub, auth = client(grid.address)
    with channel:
        for field in ("function_blob", "common_blob", "objects_blob"):
            spec = submit_request(job_id=f"evil-{field}", num_tasks=1, kernel=pb.KernelCall(name="dice"))
            setattr(spec.job.recipe, field, path_name(untouched / "secret.txt"))
            assert field in refused(stub.SubmitJob, spec, metadata=auth)
            refused(stub.GetJob, pb.GetJobRequest(job_id=f"evil-{field}"), metadata=auth,
                    code=grpc.StatusCode.NOT_FOUND)
        spec = submit_request(num_tasks=1, kernel=pb.KernelCall(name="dice"),
                              chunk_blobs=[path_name(untouched / "secret.txt")])
        refused(stub.SubmitJob, spec, metadata=auth)
        stub.CleanupJobs(pb.CleanupJobsRequest(force=True), metadata=auth)
    assert serving(grid.address)


# -------------------------------------------------------------------- 2: bytes verified
def test_blob_bytes_must_hash_to_their_name_however_they_arrive(grid, untouched):
    honest = pickle.dumps(round)
    digest = blob_hash(honest)
    poison = pickle.dumps("POISONED")
    channel, stub, auth = client(grid.address)
    with channel:
        spec = submit_request(function_blob=digest, num_tasks=1,
                              inline_blobs=[pb.Blob(hash=digest, data=poison)])
        assert "hash" in refused(stub.SubmitJob, spec, metadata=auth)
        service = pb.ServiceSpec(name="svc", version="1", runner_blob=digest,
                                 inline_blobs=[pb.Blob(hash=digest, data=poison)])
        refused(stub.PublishService, pb.PublishServiceRequest(service=service), metadata=auth)
        pieces = iter([pb.PutBlobRequest(hash=digest, data=poison)])
        assert "damaged" in refused(stub.PutBlob, pieces, metadata=auth)
        assert missing(stub, [digest], auth) == [digest]
    # The honest client's next call gets the honest function.
    assert grid.exec(round, 2.5) == [2]
    assert serving(grid.address)


def test_a_poisoned_database_row_does_not_shadow_an_honest_blob(tmp_path):
    import sqlite3

    from rxgrid.head.store import Store
    store = Store(tmp_path / "state")
    data = os.urandom(100)
    digest = blob_hash(data)
    store.write_sync([("INSERT INTO small_blobs(hash, data) VALUES (?,?)", (digest, b"POISONED"))])
    store.blobs._small.clear()
    assert not store.blobs.has(digest)
    store.blobs.put(data)
    store._writer.flush()
    store.blobs._small.clear()
    assert store.blobs.read(digest) == data
    store.close()
    with sqlite3.connect(tmp_path / "state" / "rxgrid.sqlite3") as db:
        assert db.execute("SELECT data FROM small_blobs WHERE hash=?", (digest,)).fetchone()[0] == data


# -------------------------------------------------------------------- 3: paths from workers
def test_raw_output_patterns_outside_the_task_dir_are_refused_at_submit(grid, untouched):
    channel, stub, auth = client(grid.address)
    with channel:
        for pattern in ("../*", "/etc/*", "a/../../*", "", "a//b"):
            spec = submit_request(num_tasks=1, kernel=pb.KernelCall(name="dice"), output_files=[pattern])
            assert "output_files pattern" in refused(stub.SubmitJob, spec, metadata=auth)
    assert serving(grid.address)


@pytest.mark.parametrize("pattern", ["../*", "/tmp/*", "a/../../*"])
def test_the_worker_checks_patterns_too_and_leaves_no_task_dir(tmp_path, untouched, pattern):
    from rxgrid.runtime.chunk import ChunkCall, TaskSettings, run_chunk
    (tmp_path / "outside.txt").write_text("not yours")
    work = tmp_path / "work"
    work.mkdir()
    call = ChunkCall(fixtures.write_files, columns=None, args=(0,), count=1,
                     settings=TaskSettings(output_patterns=(pattern,)), workdir=str(work))
    values, failures = run_chunk(call)
    assert failures and "output_files pattern" in failures[0].message
    assert call.files == [] and os.listdir(work) == []


def test_the_client_writes_no_file_outside_its_destination(tmp_path, untouched):
    from rxgrid.client.job import download_files
    dest = tmp_path / "dest"
    for bad in ("../../escaped.txt", str(untouched / "planted.txt"), "a/../../x", ""):
        records = [pb.TaskFile(task=0, path="fine.txt", blob="x"), pb.TaskFile(task=0, path=bad, blob="x")]
        with pytest.raises(InvalidArgumentError):
            download_files(records, lambda digest: b"data", str(dest))
        assert not dest.exists() and not (tmp_path / "escaped.txt").exists()
    (tmp_path / "elsewhere").mkdir()
    (dest / "0").mkdir(parents=True)
    os.symlink(tmp_path / "elsewhere", dest / "0" / "link")
    with pytest.raises(InvalidArgumentError):
        download_files([pb.TaskFile(task=0, path="link/x.txt", blob="x")], lambda d: b"x", str(dest))
    assert os.listdir(tmp_path / "elsewhere") == []


# -------------------------------------------------------------------- 5: a hostile worker
class FakeWorker:
    """A worker that speaks WorkerLink through the real stubs and says what it likes."""

    def __init__(self, address: str, name: str, cores: int = 8):
        self.channel, self.stub, self.auth = worker_stub(address)
        self.name = name
        self.reply = self.stub.RegisterWorker(pb.RegisterWorkerRequest(
            protocol_version=PROTOCOL_VERSION, name=name, host="evil", cores=cores, pid=1),
            metadata=self.auth, timeout=30)
        self.outbox: queue.Queue = queue.Queue()
        self.call = self.stub.RunSession(
            iter(self.outbox.get, None), timeout=300,
            metadata=self.auth + (("rxgrid-worker", name), ("rxgrid-session", self.reply.session)))
        self.send(pb.RunSessionRequest(heartbeat=pb.Heartbeat()))

    def send(self, msg: pb.RunSessionRequest) -> None:
        self.outbox.put(msg)

    def assignment(self, job_id: str) -> pb.ChunkAssignment:
        for msg in self.call:
            if msg.WhichOneof("msg") == "assign" and msg.assign.job_id == job_id:
                return msg.assign
        raise AssertionError("the session ended without an assignment")

    def done(self, a: pb.ChunkAssignment, **fields) -> None:
        result = pb.ChunkResult(job_id=a.job_id, chunk=a.chunk, first_task=a.first_task,
                                num_tasks=a.num_tasks, worker=self.name,
                                results=pickle.dumps([1] * a.num_tasks))
        for key, value in fields.items():
            if isinstance(value, list):
                getattr(result, key).extend(value)
            else:
                setattr(result, key, value)
        self.send(pb.RunSessionRequest(done=pb.ChunkDone(lease=a.lease, result=result)))

    def close(self) -> None:
        self.outbox.put(None)
        self.call.cancel()
        self.channel.close()


def submit(address: str, job_id: str, tasks: int = 3, chunk_size: int = 3) -> None:
    channel, stub, auth = client(address)
    with channel:
        stub.SubmitJob(submit_request(job_id=job_id, num_tasks=tasks, chunk_size=chunk_size,
                                      kernel=pb.KernelCall(name="dice"), continue_on_failure=True),
                       metadata=auth, timeout=30)


def missing(stub, hashes: list[str], auth) -> list[str]:
    """What FindMissingBlobs says the head lacks of ``hashes``."""
    return list(stub.FindMissingBlobs(pb.FindMissingBlobsRequest(hashes=hashes), metadata=auth).missing)


def final_info(address: str, job_id: str) -> pb.JobInfo:
    channel, stub, auth = client(address)
    with channel:
        events = list(stub.WatchJob(pb.WatchJobRequest(job_id=job_id), metadata=auth, timeout=120))
    return events[-1].info


def job_errors(address: str, job_id: str) -> list:
    channel, stub, auth = client(address)
    with channel:
        return list(stub.GetErrors(pb.GetErrorsRequest(job_id=job_id), metadata=auth, timeout=30).errors)


@pytest.fixture
def worker(bare):
    made = []

    def make(name: str, **options) -> FakeWorker:
        made.append(FakeWorker(bare.address, name, **options))
        return made[-1]

    yield make
    for w in made:
        w.close()


def test_a_worker_reports_only_on_chunks_leased_to_its_session(bare, worker, untouched):
    submit(bare.address, "leased-1")
    holder = worker("holder")
    a = holder.assignment("leased-1")
    thief = worker("thief")
    thief.done(a, num_tasks=1_000_000)                # a lease it does not hold
    thief.done(a, num_tasks=1_000_000)
    holder.done(a, num_tasks=1_000_000)               # its own lease, a lying count
    info = final_info(bare.address, "leased-1")
    assert (info.state, info.tasks_done, info.tasks_total) == (pb.JOB_STATE_FINISHED, 3, 3)
    assert serving(bare.address)


def test_task_indices_outside_the_chunk_fail_the_chunk(bare, worker, untouched):
    submit(bare.address, "indices-1", tasks=6, chunk_size=3)
    w = worker("indices")
    a = w.assignment("indices-1")
    w.done(a, errors=[pb.TaskError(task=a.first_task + 5, type="X", message="forged")])
    b = w.assignment("indices-1")
    w.done(b)
    info = final_info(bare.address, "indices-1")
    assert (info.tasks_done, info.tasks_failed) == (3, 3)
    errors = job_errors(bare.address, "indices-1")
    assert {e.task for e in errors} == set(range(a.first_task, a.first_task + 3))
    assert all(e.type == "WorkerReportError" and "outside the chunk" in e.message for e in errors)
    assert serving(bare.address)


@pytest.mark.parametrize("bad", ["../../x", "/abs/x", "a/../../x"])
def test_task_file_paths_from_a_worker_are_refused(bare, worker, untouched, bad):
    data = b"planted"
    channel, stub, auth = client(bare.address)
    job_id = f"paths-{abs(hash(bad))}"
    submit(bare.address, job_id, tasks=1, chunk_size=1)
    w = worker(f"paths-{abs(hash(bad))}")
    a = w.assignment(job_id)
    digest = w.stub.PutBlob(iter([pb.PutBlobRequest(data=data)]), metadata=w.auth, timeout=30).hash
    w.done(a, files=[pb.TaskFile(task=a.first_task, path=bad, blob=digest, size=len(data))])
    assert final_info(bare.address, job_id).tasks_failed == 1
    with channel:
        assert list(stub.ListFiles(pb.ListFilesRequest(job_id=job_id), metadata=auth, timeout=30).files) == []
    assert "task file path" in job_errors(bare.address, job_id)[0].message
    assert serving(bare.address)


def test_a_results_blob_naming_a_path_is_not_deleted_at_cleanup(bare, worker, untouched):
    submit(bare.address, "results-1", tasks=1, chunk_size=1)
    w = worker("results")
    a = w.assignment("results-1")
    w.done(a, results_blob=path_name(untouched / "secret.txt"))
    assert final_info(bare.address, "results-1").tasks_failed == 1
    channel, stub, auth = client(bare.address)
    with channel:
        assert stub.CleanupJobs(pb.CleanupJobsRequest(job_ids=["results-1"], force=True),
                                metadata=auth, timeout=30).removed == ["results-1"]
    assert serving(bare.address)


def test_a_second_registration_under_a_live_name_is_refused_and_the_first_keeps_working(
        bare, worker, untouched):
    first = worker("twin")
    channel, stub, auth = worker_stub(bare.address)
    request = pb.RegisterWorkerRequest(protocol_version=PROTOCOL_VERSION, name="twin", host="x", cores=1)
    submit(bare.address, "twin-1", tasks=1, chunk_size=1)
    a = first.assignment("twin-1")   # the first's session is open
    assert "connected already" in refused(stub.RegisterWorker, request, metadata=auth,
                                          code=grpc.StatusCode.ALREADY_EXISTS)
    first.done(a)
    assert final_info(bare.address, "twin-1").tasks_done == 1
    bad = stub.RunSession(iter([]), metadata=auth + (("rxgrid-worker", "twin"), ("rxgrid-session", "0" * 32)))
    with pytest.raises(grpc.RpcError) as info:
        list(bad)
    channel.close()
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert serving(bare.address)


# -------------------------------------------------------------------- 6, 9: sizes and values
@pytest.mark.parametrize("spec, words", [
    (dict(num_tasks=200_000, chunk_size=1), "chunk_size >= 10"),
    (dict(num_tasks=4_000_000_000), "10,000,000 tasks"),
    (dict(num_tasks=4, chunk_sizes=[1] * 20_001), "chunk_sizes are more than"),
    (dict(num_tasks=4, chunk_sizes=[2, 0, 2]), "chunk_sizes[1] is 0"),
    (dict(num_tasks=4, chunk_sizes=[2, 1]), "add up to 3"),
    (dict(num_tasks=1, name="n" * 5000), "job name"),
    (dict(num_tasks=1, job_id="j" * 129), "job id"),
    (dict(num_tasks=1, rng_kind="nosuch"), "pcg64"),
    (dict(num_tasks=1, timeout=Duration(seconds=-5)), "timeout"),
    (dict(num_tasks=1, timeout=Duration(seconds=400 * 86400)), "timeout"),
    (dict(num_tasks=1, packages=["os; rm -rf /"]), "module name"),
    (dict(num_tasks=1, retries=4_000_000_000), "retries=4,000,000,000"),
    (dict(num_tasks=1, cores=4_000_000_000), "per task is more than any worker can have"),
])
def test_sizes_names_and_values_are_checked_at_submit(grid, untouched, spec, words):
    channel, stub, auth = client(grid.address)
    with channel:
        message = refused(stub.SubmitJob, submit_request(kernel=pb.KernelCall(name="dice"), **spec),
                          metadata=auth)
    assert words in message and grid.state_dir not in message
    assert serving(grid.address)


@pytest.mark.parametrize("name, params, words", [
    ("dice", {"games": -1}, "games=-1"),
    ("dice", {"games": math.nan}, "games=nan"),
    ("dice", {"games": 1e300}, "out of range"),
    ("dice", {"games": 2.5}, "whole number"),
    ("birthday", {"nosuch": 1}, "no parameter 'nosuch'"),
    ("mandelbrot", {"x_min": math.inf}, "x_min=inf"),
    ("nosuch", {}, "unknown kernel"),
])
def test_kernel_params_are_checked_at_submit(grid, untouched, name, params, words):
    channel, stub, auth = client(grid.address)
    with channel:
        spec = submit_request(num_tasks=1, kernel=pb.KernelCall(name=name, params=params))
        assert words in refused(stub.SubmitJob, spec, metadata=auth)
    assert serving(grid.address)


def test_an_unknown_job_state_is_refused_naming_the_known_ones(grid, untouched):
    channel, stub, auth = client(grid.address)
    with channel:
        message = refused(stub.ListJobs, pb.ListJobsRequest(state=99), metadata=auth)
        assert "unknown job state 99" in message and "JOB_STATE_FINISHED" in message
        before_year_1 = pb.ListJobsRequest(since_time=Timestamp(seconds=-62_135_596_801))
        assert "not a time from 0001-01-01" in refused(stub.ListJobs, before_year_1, metadata=auth)
    assert serving(grid.address)


def test_an_empty_blob_name_is_invalid_and_names_no_path(grid, untouched):
    channel, stub, auth = client(grid.address)
    with channel:
        message = refused(stub.GetBlob, pb.GetBlobRequest(hash=""), metadata=auth)
    assert grid.state_dir not in message and "64 lowercase hex" in message
    assert serving(grid.address)


# -------------------------------------------------------------------- 7, 8: hygiene
def test_a_task_cannot_read_the_tokens_of_its_worker(grid, untouched):
    seen = grid.exec(fixtures.secret_environment)[0]
    assert seen == {"environ": [], "proc": []}


def test_the_state_dir_is_private(grid, untouched):
    grid.exec(fixtures.square, rxgrid.each(range(2)))
    state = grid.state_dir
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
    for dirpath, dirnames, filenames in os.walk(state):
        for name in dirnames:
            assert stat.S_IMODE(os.stat(os.path.join(dirpath, name)).st_mode) == 0o700, name
        for name in filenames:
            path = os.path.join(dirpath, name)
            assert stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0, path
    assert any(n.startswith("rxgrid.sqlite3") for n in os.listdir(state))


def test_a_blob_changed_in_the_heads_store_is_refused_by_the_reader(tmp_path, monkeypatch):
    # Bytes are checked against their name where they are used, too: a store damaged
    # (or edited) after the head checked the bytes never becomes a result.
    monkeypatch.setenv("RXGRID_LOCAL_BLOBS", "0")  # stream, as from another host
    with rxgrid.local(workers=1, state_dir=str(tmp_path / "state")) as cluster:
        job = cluster.exec(fixtures.zeros_plus, 200_000, 1.0, wait=False)
        job.wait(timeout=120)
        files = [p for p in (tmp_path / "state" / "blobs").rglob("*")
                 if p.is_file() and p.stat().st_size > 1_000_000]
        assert len(files) == 1, files  # the one large result
        data = bytearray(files[0].read_bytes())
        data[-1] ^= 0x01  # the last value changes a little: a wrong answer, not a crash
        files[0].write_bytes(bytes(data))
        with pytest.raises(rxgrid.RxgridError, match="does not match its hash"):
            job.result()
