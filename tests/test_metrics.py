"""``/metrics``: Prometheus text from a real head, with counters that match what ran."""

from __future__ import annotations

import re
import time
import urllib.request

import numpy as np
import pytest

import rxgrid
from rxgrid.client.local import free_port
from tests import fixtures

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)')
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def parse_prometheus(text: str) -> tuple[dict[str, str], dict[tuple, float]]:
    """Family types and samples of a Prometheus text exposition; AssertionError if malformed."""
    types: dict[str, str] = {}
    samples: dict[tuple, float] = {}
    assert text.endswith("\n"), "the exposition must end with a newline"
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert kind in TYPES and name not in types, line
            types[name] = kind
            continue
        if line.startswith("#") or not line.strip():
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, labels, value = match.groups()
        pairs = LABEL.findall(labels or "")
        assert (labels or "").count("=") == len(pairs), f"bad labels in {line!r}"
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in types or family in types, f"{name} has no # TYPE line"
        key = (name, tuple(sorted(pairs)))
        assert key not in samples, f"duplicate sample {line!r}"
        samples[key] = float(value)
    return types, samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


@pytest.fixture(scope="module")
def cluster():
    port = free_port()
    with rxgrid.local(workers=2, cores_per_worker=1, dashboard=f"127.0.0.1:{port}") as c:
        c.metrics_url = f"http://127.0.0.1:{port}/metrics"
        yield c


def scrape(cluster) -> tuple[dict, dict]:
    with urllib.request.urlopen(cluster.metrics_url, timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return parse_prometheus(r.read().decode())


def test_the_parser_rejects_malformed_text():
    for bad in ("rxgrid_x 1\n", "# TYPE rxgrid_x gauge\nrxgrid_x{a=1} 1\n",
                "# TYPE rxgrid_x gauge\nrxgrid_x\n", "# TYPE rxgrid_x gauge\nrxgrid_x 1"):
        with pytest.raises(AssertionError):
            parse_prometheus(bad)


def test_counters_match_the_tasks_that_ran(cluster):
    assert cluster.exec(fixtures.square, rxgrid.each(range(20))) == [x * x for x in range(20)]
    results = cluster.exec(fixtures.fail_on, rxgrid.each([3, 1, 3, 3]))
    assert sum(isinstance(r, rxgrid.TaskFailure) for r in results) == 3
    types, s = scrape(cluster)
    assert value(s, "rxgrid_jobs_submitted_total") == 2
    assert value(s, "rxgrid_tasks_started_total") == 24
    assert value(s, "rxgrid_tasks_finished_total") == 21
    assert value(s, "rxgrid_tasks_failed_total") == 3
    assert types["rxgrid_tasks_failed_total"] == "counter"
    assert value(s, "rxgrid_queue_chunks") == value(s, "rxgrid_queue_tasks") == 0
    assert value(s, "rxgrid_slots_busy") == 0 and value(s, "rxgrid_slots_idle") == 2
    assert types["rxgrid_chunk_seconds"] == "histogram"
    buckets = sorted(((float(dict(k[1])["le"]), v) for k, v in s.items()
                      if k[0] == "rxgrid_chunk_seconds_bucket"))
    counts = [v for _, v in buckets]
    assert counts == sorted(counts), "histogram buckets must be cumulative"
    count = value(s, "rxgrid_chunk_seconds_count")
    assert buckets[-1] == (float("inf"), count)
    assert count >= value(s, "rxgrid_chunks_assigned_total") > 0
    assert 0 < value(s, "rxgrid_chunk_seconds_sum") < 60
    ages = {dict(k[1])["worker"]: v for k, v in s.items() if k[0] == "rxgrid_worker_heartbeat_age_seconds"}
    assert set(ages) == {"local-0", "local-1"}
    assert all(0 <= age < 5 for age in ages.values()), ages


def test_queue_depth_and_busy_slots_while_a_job_runs(cluster):
    job = cluster.exec(fixtures.sleep_then, 20, times=5, chunk_size=1, wait=False)
    try:
        deadline = time.monotonic() + 10
        while True:
            _, s = scrape(cluster)
            if value(s, "rxgrid_slots_busy") == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert value(s, "rxgrid_slots_busy") == 2 and value(s, "rxgrid_slots_idle") == 0
        assert value(s, "rxgrid_queue_tasks") == 3 and value(s, "rxgrid_queue_chunks") >= 1
        assert value(s, "rxgrid_jobs_active") == 1
    finally:
        job.cancel()
    _, s = scrape(cluster)
    assert value(s, "rxgrid_queue_tasks") == 0 and value(s, "rxgrid_jobs_active") == 0


def test_prometheus_client_reads_it_too(cluster):
    parser = pytest.importorskip("prometheus_client.parser", reason="prometheus_client not installed")
    with urllib.request.urlopen(cluster.metrics_url, timeout=10) as r:
        families = {f.name: f for f in parser.text_string_to_metric_families(r.read().decode())}
    assert families["rxgrid_chunk_seconds"].type == "histogram"
    assert families["rxgrid_tasks_finished"].type == "counter"


def test_large_blobs_on_one_host_move_as_files_and_are_counted(cluster):
    # The argument (client -> head) and the results (worker -> head) arrive as files, the
    # workers take the argument's file, and the client reads the results' files.
    _, before = scrape(cluster)
    big = np.zeros(200_000)  # 1.6 MB: a blob, not inline
    values = cluster.exec(fixtures.zeros_plus, 200_000, rxgrid.each(range(4)), chunk_size=2)
    assert cluster.exec(fixtures.array_sum, big, rxgrid.each(range(2))) == [0.0, 1.0]
    assert [float(v[0]) for v in values] == [0.0, 1.0, 2.0, 3.0]
    _, after = scrape(cluster)
    name = "rxgrid_blob_bytes_received_total"
    by_file = value(after, name, via="file") - value(before, name, via="file")
    assert by_file >= big.nbytes + 4 * 200_000 * 8
    assert value(after, name, via="stream") == value(before, name, via="stream")
    assert value(after, "rxgrid_blobs_located_total") - value(before, "rxgrid_blobs_located_total") >= 3
