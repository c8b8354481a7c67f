"""Seed 003: files tasks write are kept per task, never overwriting each other."""

from __future__ import annotations

import os

import pytest

import rxgrid
from rxgrid import each
from tests import fixtures
from tests.conftest import run_python


@pytest.fixture(params=["sequential", "local2"])
def ctx(request):
    return rxgrid.local_sequential() if request.param == "sequential" else request.getfixturevalue("cluster2")


def test_good_practice_distinct_names_are_kept(ctx, tmp_path):
    job = ctx.exec(fixtures.write_files, each(range(3)), output_files=["test-*.txt"], wait=False)
    assert job.result(timeout=60) == [0, 1, 2]
    assert job.files() == {i: [f"test-{i}.txt"] for i in range(3)}
    assert job.file_content(1, "test-1.txt") == b"output of task 1\n"


def test_bad_practice_same_name_is_kept_apart_per_task(ctx, tmp_path):
    job = ctx.exec(fixtures.write_files, each(range(3)), "a.txt", output_files=["a.txt", "out/**"],
                   wait=False)
    job.wait(60)
    assert job.files() == {i: ["a.txt", "out/deep/data.csv"] for i in range(3)}
    written = job.download(str(tmp_path))
    assert len(written) == 6
    for i in range(3):
        assert (tmp_path / str(i) / "a.txt").read_text() == f"output of task {i}\n"
        assert (tmp_path / str(i) / "out" / "deep" / "data.csv").read_text() == f"task,{i}\n"
    assert not list(tmp_path.rglob("ignored.log"))


def test_tasks_run_in_their_own_directory_and_leave_none_behind(ctx):
    here = os.getcwd()
    job = ctx.exec(fixtures.task_directory, each(range(4)), output_files=["*.txt"], wait=False)
    places = job.result(timeout=60)
    # each task ran in a directory of its own, made for it, and removed afterwards
    assert len(set(places)) == 4
    for i, place in enumerate(places):
        assert os.path.basename(place).startswith(f"rxgrid-task{i}-"), place
        assert not os.path.exists(place), f"task {i}'s directory {place} was left behind"
    assert job.files() == {i: [f"test-{i}.txt"] for i in range(4)}
    assert os.getcwd() == here


def test_files_are_fetched_from_a_new_process(cluster2, tmp_path):
    job = cluster2.exec(fixtures.write_files, each(range(2)), output_files=["test-*.txt"], wait=False)
    job.wait(60)
    out = run_python(f"""
import rxgrid
job = rxgrid.connect({cluster2.address!r}).job({job.id!r})
print(job.result(), sorted(job.files().items()))
print(job.download({str(tmp_path)!r}))
""")
    assert out.returncode == 0, out.stderr
    assert "[0, 1]" in out.stdout and "test-1.txt" in out.stdout
    assert (tmp_path / "1" / "test-1.txt").exists()


def test_bad_patterns_are_refused(ctx):
    with pytest.raises(rxgrid.InvalidArgumentError, match="relative glob"):
        ctx.exec(fixtures.square, 1, output_files=["/etc/*"])


def test_rxgrid_files_command_lists_and_downloads(cluster2, tmp_path):
    import subprocess
    import sys
    job = cluster2.exec(fixtures.write_files, each(range(2)), "a.txt", output_files=["a.txt"], wait=False)
    job.wait(60)
    env = {**os.environ, "RXGRID_HEAD": cluster2.address}
    listed = subprocess.run([sys.executable, "-m", "rxgrid", "files", job.id], capture_output=True,
                            text=True, env=env, timeout=60)
    assert listed.stdout.split("\n")[:2] == ["0\ta.txt", "1\ta.txt"]
    subprocess.run([sys.executable, "-m", "rxgrid", "files", job.id, "--download", str(tmp_path)],
                   check=True, env=env, timeout=60, capture_output=True)
    assert (tmp_path / "1" / "a.txt").read_text() == "output of task 1\n"
