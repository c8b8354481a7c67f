"""Seed 002: publish a service, score a batch asynchronously, keep each record's files."""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import psutil
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
    res = batch.results(partial=False, timeout=120)
    assert res.total_item_count == 32
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


def test_partial_results_are_visible_while_the_batch_runs(service_cluster, tmp_path):
    # Records 0-3 run (two at a time); 4-7 wait for a file only the test writes, so while they
    # wait the batch is running with exactly four results.
    gate = tmp_path / "go"
    svc = service_cluster.publish_service("gated", "1.0", fixtures.gated_service_record)
    records = [{"x": float(i), "gate": str(gate) if i >= 4 else ""} for i in range(8)]
    batch = svc.batch(records, parallel_count=2).start()
    _wait_until(lambda: batch.results().completed_item_count == 4, 60)
    res = batch.results()
    assert res.status == batch.STATUS.running
    assert (res.total_item_count, res.completed_item_count, res.failed_item_count) == (8, 4, 0)
    expected = [{"answer": float(i)} for i in range(4)] + [None] * 4
    assert [res.execution(i).outputs for i in range(8)] == expected
    gate.touch()
    res = batch.results(partial=False, timeout=60)
    assert (res.status, res.completed_item_count) == (batch.STATUS.complete, 8)
    assert [res.execution(i).outputs["answer"] for i in range(8)] == [float(i) for i in range(8)]


def test_parallel_count_caps_records_running_at_once(fresh_cluster, tmp_path):
    cluster = fresh_cluster(workers=2, cores=2)  # 4 slots, a cap of 2
    svc = cluster.publish_service("timed", "1.0", fixtures.timed_record)
    batch = svc.batch([{"x": float(i), "log_dir": str(tmp_path)} for i in range(6)],
                      parallel_count=2).start()
    assert batch.results(partial=False, timeout=120).completed_item_count == 6
    spans = [tuple(int(t) for t in p.read_text().split()) for p in tmp_path.glob("*.log")]
    assert len(spans) == 6 and all(len(span) == 2 for span in spans), spans
    assert _max_overlap(spans) == 2


def _max_overlap(spans) -> int:
    """Most intervals open at one instant (an end before a start at the same instant)."""
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def test_cancel_mid_batch_kills_running_records_and_keeps_finished_ones(service_cluster, tmp_path):
    svc = service_cluster.publish_service("sleepy", "1.0", fixtures.service_record_pid_then_sleep)
    records = [{"x": float(i), "seconds": 0.0 if i < 2 else 600.0, "log_dir": str(tmp_path)}
               for i in range(6)]
    batch = svc.batch(records, parallel_count=2).start()
    pid_files = [tmp_path / "pid-2.0", tmp_path / "pid-3.0"]
    _wait_until(lambda: all(p.exists() and p.read_text().endswith("\n") for p in pid_files), 60)
    running = [psutil.Process(int(p.read_text().split("\n")[0])) for p in pid_files]
    places = [p.read_text().split("\n")[1] for p in pid_files]
    assert all(os.path.isdir(place) for place in places)
    assert batch.results().completed_item_count == 2
    assert batch.cancel()
    # The executors running records 2 and 3 are killed (and reaped), not left to sleep.
    _wait_until(lambda: not any(p.is_running() for p in running), 30)  # a zombie still runs
    # and the directories those records ran in go with them
    _wait_until(lambda: not any(os.path.exists(place) for place in places), 30)
    # Dead processes write nothing: their markers can never appear.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["done-0.0", "done-1.0", "pid-0.0",
                                                          "pid-1.0", "pid-2.0", "pid-3.0"]
    res = batch.results()
    assert res.status == batch.STATUS.cancelled
    assert [res.execution(i).outputs for i in range(6)] == [{"answer": 0.0}, {"answer": 1.0}] + [None] * 4
    for i in (0, 1):
        assert batch.file_content(i, "out.txt") == str(float(i)).encode()
    (tmp_path / "after").mkdir()
    assert svc(x=9.0, seconds=0.0, log_dir=str(tmp_path / "after")) == {"answer": 9.0}


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
