"""Several users on one head (`--users-file`): each sees and acts on only their own jobs.

A real head with a users file (alice, bob and an admin), a real worker, real gRPC (the
client library and raw stubs), the real CLI and the real dashboard over HTTP."""

from __future__ import annotations

import glob
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request

import grpc
import pytest

import rxgrid
from rxgrid._proto import rxgrid_pb2 as pb
from rxgrid._proto import rxgrid_pb2_grpc as pb_grpc
from rxgrid.client.local import free_port
from rxgrid.head import store as store_module
from rxgrid.head.users import UsersFileError, parse_users
from tests import fixtures

ALICE, BOB, ROOT, WORKER = (secrets.token_hex(24) for _ in range(4))
STRANGER = secrets.token_hex(24)
SECRETS = (ALICE, BOB, ROOT, WORKER, STRANGER)


def write_private(path, text: str, mode: int = 0o600) -> str:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return str(path)


class Head:
    """The shared head: a cluster object per user, raw stubs, the dashboard's address."""

    def __init__(self, admin, dashboard: str):
        self.admin, self.dashboard = admin, dashboard
        self.alice = rxgrid.connect(admin.address, token=ALICE, retry_deadline=10)
        self.bob = rxgrid.connect(admin.address, token=BOB, retry_deadline=10)
        self.channel = grpc.insecure_channel(admin.address)
        self.stub = pb_grpc.ClusterStub(self.channel)
        self.blobs = pb_grpc.BlobsStub(self.channel)

    def _method(self, name: str):
        return getattr(self.stub, name, None) or getattr(self.blobs, name)

    def call(self, method: str, request, token: str):
        """A raw unary call as the holder of ``token``; the grpc.RpcError if refused."""
        try:
            return self._method(method)(request, metadata=(("authorization", f"Bearer {token}"),),
                                        timeout=30)
        except grpc.RpcError as exc:
            return exc

    def stream(self, method: str, request, token: str):
        try:
            return list(self._method(method)(
                request, metadata=(("authorization", f"Bearer {token}"),), timeout=30))
        except grpc.RpcError as exc:
            return exc

    def http(self, path: str, token: str, method: str = "GET") -> tuple[int, bytes]:
        request = urllib.request.Request(
            f"http://{self.dashboard}{path}", method=method,
            headers={"Authorization": f"Bearer {token}", "X-Rxgrid": "1"},
            data=b"" if method == "POST" else None)
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def close(self) -> None:
        self.channel.close()
        self.alice.close()
        self.bob.close()


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    folder = tmp_path_factory.mktemp("users")
    users = write_private(folder / "users", f"# the people of this cluster\n\nalice {ALICE}\n"
                                            f"bob   {BOB}\n  # ops\nroot {ROOT} admin\n")
    port = free_port()
    with rxgrid.local(workers=1, cores_per_worker=2, token=ROOT, worker_token=WORKER,
                      users_file=users, dashboard=f"127.0.0.1:{port}") as admin:
        shared = Head(admin, f"127.0.0.1:{port}")
        yield shared
        shared.close()


def test_each_user_lists_only_their_own_and_an_admin_sees_both(head):
    head.alice.exec(fixtures.square, rxgrid.each(range(3)))
    alices = head.alice.last_job.id
    head.bob.exec(fixtures.square, rxgrid.each(range(2)))
    bobs = head.bob.last_job.id
    alice_sees = {j.id: j.owner for j in head.alice.jobs()}
    bob_sees = {j.id: j.owner for j in head.bob.jobs()}
    assert alices in alice_sees and bobs not in alice_sees
    assert bobs in bob_sees and alices not in bob_sees
    assert set(alice_sees.values()) == {"alice"} and set(bob_sees.values()) == {"bob"}
    admin_sees = {j.id: j.owner for j in head.admin.jobs()}
    assert admin_sees[alices] == "alice" and admin_sees[bobs] == "bob"
    assert head.admin.job(alices).result() == [0, 1, 4]


def test_bob_cannot_read_cancel_or_clean_up_alices_jobs(head):
    done = head.alice.exec(fixtures.write_files, rxgrid.each(range(2)), output_files=["test-*.txt"],
                           wait=False)
    done.wait(60)
    running = head.alice.exec(fixtures.sleep_then, 60, wait=False)
    nowhere = f"no-such-{secrets.token_hex(4)}"
    for job_id in (done.id, running.id):
        for method, request in (("GetJob", pb.GetJobRequest(job_id=job_id)),
                                ("GetErrors", pb.GetErrorsRequest(job_id=job_id)),
                                ("ListFiles", pb.ListFilesRequest(job_id=job_id)),
                                ("GetLogs", pb.GetLogsRequest(job_id=job_id)),
                                ("CancelJob", pb.CancelJobRequest(job_id=job_id)),
                                ("CleanupJobs", pb.CleanupJobsRequest(job_ids=[job_id], force=True))):
            refused = head.call(method, request, BOB)
            missing = head.call(method, type(request)(**_with_id(request, nowhere)), BOB)
            assert refused.code() == grpc.StatusCode.NOT_FOUND, method
            # Word for word a missing job's answer: nothing says the id is taken.
            assert refused.details() == missing.details().replace(nowhere, job_id), method
        for method in ("GetResults", "WatchJob"):
            request = (pb.WatchJobRequest(job_id=job_id, results=True) if method == "WatchJob"
                       else pb.GetResultsRequest(job_id=job_id))
            assert head.stream(method, request, BOB).code() == grpc.StatusCode.NOT_FOUND, method
    with pytest.raises(rxgrid.JobNotFoundError):
        head.bob.job(done.id)
    # Bob's "clean up everything" leaves alice's jobs alone.
    head.bob.cleanup(force=True)
    # The blobs of alice's job (her task files) are hers too.
    blob = head.call("ListFiles", pb.ListFilesRequest(job_id=done.id), ALICE).files[0].blob
    assert head.stream("GetBlob", pb.GetBlobRequest(hash=blob), BOB).code() == grpc.StatusCode.NOT_FOUND
    assert head.call("LocateBlob", pb.LocateBlobRequest(hash=blob), BOB).code() == grpc.StatusCode.NOT_FOUND
    assert head.stream("GetBlob", pb.GetBlobRequest(hash=blob), ALICE)[0].data.startswith(b"output of")
    # The worker token reads every blob (its chunks' arguments), on the same Blobs service.
    assert head.stream("GetBlob", pb.GetBlobRequest(hash=blob), WORKER)[0].data.startswith(b"output of")
    # Nor does asking which blobs the head lacks tell bob what alice has.
    missing = pb.FindMissingBlobsRequest(hashes=[blob])
    assert list(head.call("FindMissingBlobs", missing, BOB).missing) == [blob]
    assert list(head.call("FindMissingBlobs", missing, ALICE).missing) == []
    # Alice's jobs are untouched: the finished one keeps its results, the other still runs.
    assert head.alice.job(done.id).result() == [0, 1]
    assert head.alice.job(running.id).info().state in ("queued", "running")
    assert running.cancel()


def _with_id(request, job_id: str) -> dict:
    fields = {f.name: getattr(request, f.name) for f in request.DESCRIPTOR.fields}
    if "job_ids" in fields:
        fields["job_ids"] = [job_id]
    else:
        fields["job_id"] = job_id
    return fields


def test_an_admin_acts_on_anyones_job(head):
    job = head.bob.exec(fixtures.sleep_then, 60, wait=False)
    assert head.admin.job(job.id).cancel()
    assert head.bob.job(job.id).info().state == "cancelled"
    assert head.admin.cleanup([job.id]) == [job.id]


def test_a_service_is_callable_by_all_but_deleted_only_by_its_owner(head):
    svc = head.alice.publish_service(f"score-{secrets.token_hex(3)}", "1.0", fixtures.score_record)
    assert head.bob.service(svc.name, "1.0")(x=2.0, y=3.0)["answer"] == 6.0
    assert svc.owner == "alice" and head.bob.service(svc.name, "1.0").owner == "alice"
    denied = head.call("DeleteService", pb.DeleteServiceRequest(name=svc.name, version="1.0"), BOB)
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
    assert svc.name in [s.name for s in head.bob.services()]
    # Bob's call of alice's service ran as his job; alice's batches are hers alone.
    batch = svc.batch([{"x": 1.0, "y": 1.0}], parallel_count=1).start()
    batch.results(partial=False, timeout=60)
    assert batch.id in svc.batch_executions()
    assert batch.id not in head.bob.service(svc.name, "1.0").batch_executions()
    head.alice.delete_service(svc.name, "1.0")
    assert svc.name not in [s.name for s in head.bob.services()]


def test_rxgrid_jobs_and_the_dashboard_show_the_owner(head):
    head.alice.exec(fixtures.square, 4)
    alices = head.alice.last_job.id
    head.bob.exec(fixtures.square, 5)
    bobs = head.bob.last_job.id
    env = {**os.environ, "RXGRID_HEAD": head.admin.address}
    as_alice = subprocess.run([sys.executable, "-m", "rxgrid", "jobs"], capture_output=True,
                              text=True, timeout=60, env={**env, "RXGRID_TOKEN": ALICE})
    assert as_alice.returncode == 0, as_alice.stderr
    lines = {line.split()[0]: line.split()[1] for line in as_alice.stdout.splitlines()[1:]}
    assert lines[alices] == "alice" and bobs not in lines and set(lines.values()) == {"alice"}
    as_admin = subprocess.run([sys.executable, "-m", "rxgrid", "jobs"], capture_output=True,
                              text=True, timeout=60, env={**env, "RXGRID_TOKEN": ROOT})
    lines = {line.split()[0]: line.split()[1] for line in as_admin.stdout.splitlines()[1:]}
    assert lines[alices] == "alice" and lines[bobs] == "bob"

    status, body = head.http("/api/jobs", ALICE)
    jobs = {j["job_id"]: j["owner"] for j in json.loads(body)["jobs"]}
    assert status == 200 and jobs[alices] == "alice" and bobs not in jobs
    status, body = head.http("/api/jobs", ROOT)
    jobs = {j["job_id"]: j["owner"] for j in json.loads(body)["jobs"]}
    assert jobs[alices] == "alice" and jobs[bobs] == "bob"
    assert head.http(f"/api/jobs/{bobs}", ALICE)[0] == 404
    assert head.http(f"/api/jobs/{bobs}/cancel", ALICE, "POST")[0] == 404
    assert json.loads(head.http(f"/api/jobs/{bobs}", BOB)[1])["job"]["owner"] == "bob"
    assert head.http("/metrics", ALICE)[0] == 403
    status, body = head.http("/metrics", ROOT)
    assert status == 200 and 'rxgrid_jobs_submitted_by_owner_total{owner="bob"}' in body.decode()
    assert head.http("/api/jobs", STRANGER)[0] == 401


def test_a_token_not_in_the_file_is_unauthenticated_and_tokens_are_never_logged(head):
    with pytest.raises(rxgrid.AuthenticationError, match="wrong token"):
        rxgrid.connect(head.admin.address, token=STRANGER, retry_deadline=1)
    refused = head.call("ListJobs", pb.ListJobsRequest(), STRANGER)
    assert refused.code() == grpc.StatusCode.UNAUTHENTICATED
    assert head.call("ListJobs", pb.ListJobsRequest(), WORKER).code() == \
        grpc.StatusCode.PERMISSION_DENIED
    head.alice.exec(fixtures.square, 2)
    listing = json.dumps([j.__dict__ for j in head.admin.jobs()])
    logs = "".join(open(p, errors="replace").read()
                   for p in glob.glob(os.path.join(head.admin.log_dir, "*.log")))
    assert "3 client user(s)" in logs  # the head read them all
    for secret in SECRETS:
        assert secret not in listing and secret not in logs


# ------------------------------------------------------------------ the users file
@pytest.mark.parametrize(("text", "problem"), [
    ("alice tok\n", "line 1: the token of alice is shorter than 16"),
    ("# x\n\n9lives " + "a" * 32 + "\n", "line 3: the user name is not valid"),
    (f"alice {ALICE}\nalice {BOB}\n", "line 2: user alice is already on line 1"),
    (f"alice {ALICE}\nbob {ALICE}\n", "line 2: this token is already on line 1"),
    (f"alice {ALICE} root\n", "line 1: the third field of alice may only be 'admin'"),
    (f"alice {ALICE} admin extra\n", "line 1: expected 'name token [admin]', found 4"),
    ("# nobody yet\n", "has no users"),
])
def test_bad_lines_are_refused_naming_the_line_but_not_the_token(text, problem):
    with pytest.raises(UsersFileError) as info:
        parse_users(text.splitlines(), "users.txt")
    assert problem in str(info.value)
    for secret in SECRETS:
        assert secret not in str(info.value)


def test_a_good_file_gives_users_and_admins():
    users = dict(parse_users([f"alice {ALICE}", "", "# c", f"root {ROOT} admin"], "f"))
    assert users[ALICE].name == "alice" and not users[ALICE].admin and users[ROOT].admin


def run_head(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rxgrid", "head", "--listen",
                           f"127.0.0.1:{free_port()}", "--log-file", "", *args],
                          capture_output=True, text=True, timeout=60)


def test_a_state_dir_whose_jobs_an_older_rxgrid_wrote_is_refused_and_left_as_it_was(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    db_path = state / "rxgrid.sqlite3"
    with sqlite3.connect(db_path) as db:  # state format 0: wire protocol 1's messages
        db.executescript(store_module.SCHEMA)
        db.execute("INSERT INTO jobs(job_id, seq, name, spec, state, priority, tasks_total, "
                   "chunks_total, submitted_at) VALUES ('old-job', 1, 'old', x'0a0141', "
                   "'queued', 0, 1, 1, 1.0)")
    db.close()
    before = db_path.read_bytes()
    out = run_head("--state-dir", str(state))
    assert out.returncode != 0, out.stderr
    assert "holds 1 jobs and 0 services written by an older rxgrid" in out.stderr
    assert "new --state-dir" in out.stderr and "Traceback" not in out.stderr
    assert db_path.read_bytes() == before
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 0
    db.close()


def test_an_empty_state_dir_of_an_older_rxgrid_is_brought_up_to_this_format(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    with sqlite3.connect(state / "rxgrid.sqlite3") as db:
        db.executescript(store_module.SCHEMA)
    db.close()
    with rxgrid.local(workers=1, cores_per_worker=1, state_dir=str(state)) as cluster:
        assert cluster.exec(fixtures.square, 3) == [9]
    with sqlite3.connect(state / "rxgrid.sqlite3") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == store_module.STATE_FORMAT
    db.close()


def test_the_head_refuses_a_users_file_others_can_read_or_with_a_bad_line(tmp_path):
    users = write_private(tmp_path / "users", f"alice {ALICE}\n", mode=0o644)
    out = run_head("--users-file", users, "--state-dir", str(tmp_path / "s"))
    assert out.returncode != 0 and f"chmod 600 {users}" in out.stderr
    assert "mode 644" in out.stderr and ALICE not in out.stderr
    write_private(users, f"alice {ALICE}\nbob short\n")
    out = run_head("--users-file", users, "--state-dir", str(tmp_path / "s"))
    assert out.returncode != 0 and "line 2: the token of bob is shorter" in out.stderr
    assert ALICE not in out.stderr + out.stdout


def test_an_old_state_dir_gains_owners_and_the_single_token_file_is_an_admin(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    # A state dir from before owners: the same schema without the owner columns.
    old_schema = store_module.SCHEMA.replace(", owner TEXT NOT NULL DEFAULT ''", "").replace(
        "owner TEXT NOT NULL DEFAULT '', ", "")
    assert "owner" not in old_schema
    with sqlite3.connect(state / "rxgrid.sqlite3") as db:
        db.executescript(old_schema)
        db.execute(f"PRAGMA user_version = {store_module.STATE_FORMAT}")  # columns came later
        db.execute("INSERT INTO jobs(job_id, seq, name, spec, state, priority, tasks_total, "
                   "chunks_total, submitted_at) VALUES ('old-job', 1, 'old', ?, 'cancelled', 0, "
                   "1, 1, 1.0)", (pb.JobSpec().SerializeToString(),))
    db.close()
    with rxgrid.local(workers=1, cores_per_worker=1, token=ROOT, worker_token=WORKER,
                      state_dir=str(state)) as cluster:
        cluster.exec(fixtures.square, 3)
        owners = {j.id: j.owner for j in cluster.jobs()}
        assert owners["old-job"] == "" and owners[cluster.last_job.id] == "admin"
        assert cluster.cleanup(["old-job"]) == ["old-job"]
