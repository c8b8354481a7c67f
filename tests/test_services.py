"""Seed 002: publish a service, score a batch asynchronously, keep each record's files."""

from __future__ import annotations

import json
import signal
import time

import numpy as np
import pytest

import rxgrid
from tests import fixtures
from tests.conftest import run_python
from tests.test_cluster import _wait_until


@pytest.fixture(scope="module")
def service_cluster(tmp_path_factory):
    state = tmp_path_factory.mktemp("svc")
    with rxgrid.local(workers=2, state_dir=str(state / "state")) as cluster:
        yield cluster


def test_publish_call_and_describe(service_cluster):
    svc = service_cluster.publish_service("score", "1.0", fixtures.score_record,
                                          description="x times y", outputs={"answer": "float"})
    assert svc(x=3.0, y=4.0) == {"answer": 12.0, "total": 7.0}
    assert svc.inputs == {"x": "float", "y": "float"}
    api = json.loads(service_cluster.service("score", "1.0").swagger())
    assert api["info"] == {"title": "score", "version": "1.0", "description": "x times y"}
    assert api["paths"]["/services/score/1.0"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]["properties"] == {"x": {"type": "number"}, "y": {"type": "number"}}
    assert ("score", "1.0") in [(s.name, s.version) for s in service_cluster.services()]
    with pytest.raises(rxgrid.DuplicateJobError, match="never changes"):
        service_cluster.publish_service("score", "1.0", fixtures.square)
    with pytest.raises(rxgrid.TaskError, match="must not be negative"):
        svc(x=-1.0, y=1.0)


def test_seed_002_batch_workflow(service_cluster, tmp_path):
    svc = service_cluster.publish_service("score", "2.0", fixtures.score_record)
    records = [{"x": float(i), "y": 2.0} for i in range(32)]
    records[5]["x"] = -1.0  # one record fails; the rest go on
    batch = svc.batch(records, parallel_count=5).start()
    assert batch.id in svc.batch_executions()
    seen_partial = False
    while True:
        res = batch.results()
        assert res.total_item_count == 32
        if 0 < res.completed_item_count < 32:
            seen_partial = True
        if res.status in (batch.STATUS.complete, batch.STATUS.failed):
            break
        time.sleep(0.05)
    assert res.status == batch.STATUS.complete
    assert (res.completed_item_count, res.failed_item_count) == (32, 1)
    assert res.execution(7).outputs == {"answer": 14.0, "total": 9.0}
    assert res.execution(5).error.type == "ValueError"
    assert batch.list_files(7) == ["plot.png", "summary.csv"]
    assert batch.file_content(7, "summary.csv") == b"x,y,sum\n7.0,2.0,9.0\n"
    assert batch.file_content(7, "plot.png").startswith(b"\x89PNG")
    one = batch.download(7, "plot.png", dest=str(tmp_path / "one"))
    assert [p.split("/")[-1] for p in one] == ["plot.png"]
    every = batch.download(8, dest=str(tmp_path / "all"))
    assert sorted(p.split("/")[-1] for p in every) == ["plot.png", "summary.csv"]
    assert seen_partial or res.completed_item_count == 32


def test_parallel_count_caps_records_running_at_once(service_cluster):
    svc = service_cluster.publish_service("slow", "1.0", fixtures.slow_score)
    batch = svc.batch([{"x": float(i), "y": 1.0} for i in range(6)], parallel_count=1).start()
    peak = 0
    while batch.results().status not in (batch.STATUS.complete, batch.STATUS.failed):
        peak = max(peak, sum(w.busy for w in service_cluster.workers()))
        time.sleep(0.05)
    assert peak == 1


def test_cancel_mid_batch_keeps_finished_records(service_cluster):
    svc = service_cluster.publish_service("slow", "2.0", fixtures.slow_score)
    batch = svc.batch([{"x": float(i), "y": 1.0} for i in range(20)], parallel_count=2).start()
    _wait_until(lambda: batch.results().completed_item_count >= 2, 30)
    assert batch.cancel()
    res = batch.results()
    assert res.status == batch.STATUS.cancelled
    done = [i for i in range(20) if res.execution(i).outputs is not None]
    assert 2 <= len(done) < 20
    for i in done:
        assert res.execution(i).outputs == {"answer": float(i)}
        assert batch.file_content(i, "out.txt") == str(float(i)).encode()


def test_records_from_a_csv_a_structured_array_and_another_process(service_cluster, tmp_path):
    svc = service_cluster.publish_service("score", "3.0", fixtures.score_record)
    csv_path = tmp_path / "records.csv"
    csv_path.write_text("x,y\n1,2\n3,4\n")
    batch = svc.batch(str(csv_path), parallel_count=2).start()
    structured = np.array([(2.0, 5.0)], dtype=[("x", "f8"), ("y", "f8")])
    other = svc.batch(structured).start()
    out = run_python(f"""
import rxgrid
svc = rxgrid.connect({service_cluster.address!r}).service("score", "3.0")
b = svc.get_batch({batch.id!r})
r = b.results(partial=False, timeout=60)
ids = sorted({[batch.id, other.id]!r})
print(r.status, r.execution(1).outputs["answer"], sorted(svc.batch_executions()) == ids)
""")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["complete", "12", "True"]
    assert other.results(partial=False, timeout=60).execution(0).outputs["answer"] == 10.0


def test_a_published_service_survives_a_head_restart(service_cluster):
    service_cluster.publish_service("durable", "1.0", fixtures.score_record)
    service_cluster.kill("head", signal.SIGKILL)
    service_cluster.start_head()
    svc = service_cluster.service("durable", "1.0")
    assert svc(x=2.0, y=3.0)["answer"] == 6.0
    service_cluster.wait_for_workers(2, 30)


def test_cli_services_and_batch(service_cluster, tmp_path):
    import os
    import subprocess
    import sys
    service_cluster.publish_service("clisvc", "1.0", fixtures.score_record, description="for the CLI")
    env = {**os.environ, "RXGRID_HEAD": service_cluster.address}

    def cli(*args):
        out = subprocess.run([sys.executable, "-m", "rxgrid", *args], capture_output=True,
                             text=True, env=env, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout

    assert "clisvc" in cli("services") and "for the CLI" in cli("services")
    assert json.loads(cli("services", "clisvc", "1.0"))["info"]["version"] == "1.0"
    records = tmp_path / "r.tsv"
    records.write_text("x\ty\n1\t1\n2\t2\n")
    batch_id = cli("batch", "start", "clisvc", "1.0", str(records), "--parallel", "2").strip()
    _wait_until(lambda: "complete" in cli("batch", "status", batch_id), 60)
    assert "1\tplot.png" in cli("batch", "files", batch_id, "--record", "1")
    cli("batch", "download", batch_id, "--record", "1", "--dest", str(tmp_path / "d"))
    assert (tmp_path / "d" / "1" / "summary.csv").read_text().startswith("x,y,sum")
