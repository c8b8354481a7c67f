"""Jupyter's rich displays, read as HTML: a job, a cluster and its workers."""

from __future__ import annotations

from rxgrid import each
from tests import fixtures


def test_a_job_shows_its_id_state_progress_and_errors(cluster2):
    job = cluster2.exec(fixtures.fail_on, each(range(4)), 2, wait=False, continue_on_failure=True)
    job.wait(60)
    html = job._repr_html_()
    assert job.id in html and "finished" in html
    assert '<progress value="4" max="4"' in html and ">1</span>" in html  # one task failed


def test_a_cluster_and_its_workers_show_as_tables(cluster2):
    html = cluster2._repr_html_()
    assert cluster2.address in html and "2 connected" in html and "busy / 2" in html
    assert "queued" in html and "running" in html
    workers = cluster2.workers()
    assert isinstance(workers, list) and len(workers) == 2
    table = workers._repr_html_()
    assert table.count("<tr>") == 3 and "local-0" in table and "local-1" in table


def test_names_are_escaped():
    from rxgrid.client.html import job_html
    from rxgrid.client.job import JobInfo
    info = JobInfo("a<b", "<script>", "failed", 0, 1, 0, 1, 1, 1, 0.0, 0.0, 0.0, False, False,
                   "x & y", None)
    html = job_html(info)
    assert "<script>" not in html and "&lt;script&gt;" in html and "x &amp; y" in html
