"""Progress without polling: job.watch() streams changes, a bar on request, status --follow,
and logs in rotating files with timestamps and origin."""

from __future__ import annotations

import io
import os
import subprocess
import sys

from rxgrid import each
from rxgrid.client.progress import ProgressBar, TqdmBar, progress_bar
from tests import fixtures


def test_watch_streams_progress_until_the_job_ends(cluster2):
    job = cluster2.exec(fixtures.sleep_then, 0.1, each(range(8)), chunk_size=1, wait=False)
    seen = list(job.watch(timeout=60))
    assert seen[-1].state == "finished" and seen[-1].tasks_done == 8
    done = [i.tasks_done for i in seen]
    assert done == sorted(done) and len(set(done)) >= 3  # it moved in steps, as chunks ended


def test_a_blocking_exec_can_draw_a_progress_bar(cluster2, capsys):
    assert cluster2.exec(fixtures.square, each(range(6)), chunk_size=1, progress=True) == \
        [i * i for i in range(6)]
    err = capsys.readouterr().err
    assert "6/6" in err and "finished" in err and "[" in err


def test_the_bar_reports_rate_failures_and_eta():
    out = io.StringIO()
    bar = ProgressBar("job-1", stream=out, width=10)
    bar.update(5, 1, 12, "running")
    bar.close()
    text = out.getvalue()
    assert "[#####.....]" in text and "6/12" in text and "(1 failed)" in text and "ETA" in text


def test_without_tqdm_the_line_fits_the_terminal(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # as if tqdm were not installed
    monkeypatch.setenv("COLUMNS", "40")
    out = io.StringIO()
    bar = progress_bar("rx-20261202-011500-1a2b3c4d", stream=out)
    assert isinstance(bar, ProgressBar)
    for done in range(0, 101, 25):
        bar.update(done, 0, 100, "running")
    lines = out.getvalue().split("\r")[1:]
    assert lines and all(len(line.rstrip()) <= 39 for line in lines)
    assert lines[-1].rstrip().endswith("running") and "100/100" in lines[-1]


def test_with_tqdm_the_bar_is_tqdm_auto():
    out = io.StringIO()
    bar = progress_bar("job-1", stream=out)
    assert isinstance(bar, TqdmBar)
    bar.update(3, 1, 8, "running")
    bar.close()
    text = out.getvalue()
    assert "job-1" in text and "4/8" in text and "1 failed, running" in text


def test_watch_draws_a_bar_when_asked(cluster2, capsys):
    job = cluster2.exec(fixtures.square, each(range(4)), chunk_size=1, wait=False)
    assert list(job.watch(timeout=60, progress=True))[-1].state == "finished"
    assert "4/4" in capsys.readouterr().err


def test_status_follow_prints_each_change(cluster2, tmp_path):
    # The tasks wait for a gate, opened once --follow has printed the job still going:
    # it must then print each change up to the end, whatever the machine's speed.
    gate = tmp_path / "gate"
    job = cluster2.exec(fixtures.gated_record, str(tmp_path / "log"), each(range(12)), str(gate),
                        chunk_size=1, wait=False)
    follow = subprocess.Popen([sys.executable, "-m", "rxgrid", "status", job.id, "--follow"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "RXGRID_HEAD": cluster2.address})
    try:
        first = follow.stdout.readline()
        gate.touch()
        rest, err = follow.communicate(timeout=60)
    finally:
        follow.kill()
        follow.wait()
    assert follow.returncode == 0, err
    assert " finished:" not in first and "of 12" in first, first
    lines = (first + rest).strip().splitlines()
    assert lines[-1].endswith("finished: 12 done, 0 failed of 12") and len(lines) >= 2


def test_head_logs_go_to_a_rotating_file_with_time_level_and_origin(cluster2):
    cluster2.exec(fixtures.square, 1)
    path = os.path.join(cluster2.state_dir, "logs", "rxgrid-head.log")
    first = open(path).readline()
    # e.g. "2026-11-22 03:31:02,123 INFO rxgrid.head[1234]: head listening on ..."
    date, clock, level, origin = first.split()[:4]
    assert date.count("-") == 2 and clock.count(":") == 2
    assert level in ("INFO", "WARNING") and origin.startswith("rxgrid.head[")
