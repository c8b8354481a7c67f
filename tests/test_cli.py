"""The rxgrid command against a real cluster."""

from __future__ import annotations

import os
import subprocess
import sys

from tests import fixtures


def rxgrid_cli(*args: str, address: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rxgrid", *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "RXGRID_HEAD": address})


def test_jobs_status_result_and_cleanup(cluster2):
    job = cluster2.exec(fixtures.square, cluster2_each(), wait=False)
    job.wait(60)
    listed = rxgrid_cli("jobs", address=cluster2.address)
    assert listed.returncode == 0 and job.id in listed.stdout
    status = rxgrid_cli("status", job.id, address=cluster2.address)
    assert "finished" in status.stdout and "3 done" in status.stdout
    result = rxgrid_cli("result", job.id, address=cluster2.address)
    assert result.stdout.split("\n")[:3] == ["[0] 0", "[1] 1", "[2] 4"]
    removed = rxgrid_cli("cleanup", job.id, address=cluster2.address)
    assert "removed 1" in removed.stdout


def cluster2_each():
    import rxgrid
    return rxgrid.each(range(3))


def test_workers_and_cancel(cluster2):
    workers = rxgrid_cli("workers", address=cluster2.address)
    assert "local-0" in workers.stdout and "local-1" in workers.stdout
    job = cluster2.exec(fixtures.sleep_then, 30, wait=False)
    cancelled = rxgrid_cli("cancel", job.id, address=cluster2.address)
    assert "cancelled" in cancelled.stdout
    assert job.status() == "cancelled"


def test_unknown_job_is_a_clear_error(cluster2):
    out = rxgrid_cli("status", "no-such-job", address=cluster2.address)
    assert out.returncode == 1 and "no job 'no-such-job'" in out.stderr


def test_missing_head_address_is_a_clear_error():
    env = {k: v for k, v in os.environ.items() if k != "RXGRID_HEAD"}
    out = subprocess.run([sys.executable, "-m", "rxgrid", "jobs"], capture_output=True, text=True,
                         env=env, timeout=60)
    assert out.returncode != 0 and "--head" in out.stderr


def test_status_without_a_job_shows_the_cluster_and_its_disk_usage(cluster2):
    cluster2.exec(fixtures.square, 2)
    usage = cluster2.disk_usage()
    assert usage.database_bytes > 0 and usage.jobs_by_state.get("finished", 0) >= 1
    out = rxgrid_cli("status", address=cluster2.address)
    assert out.returncode == 0, out.stderr
    assert "2 workers" in out.stdout and "state dir" in out.stdout and "MB" in out.stdout
