"""console_output (seed 001's consoleOutput): what tasks print is kept, shown and listed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import rxgrid
from rxgrid import each
from tests import fixtures


@pytest.fixture(params=["sequential", "local2"])
def ctx(request):
    return rxgrid.local_sequential() if request.param == "sequential" else request.getfixturevalue("cluster2")


def test_console_output_is_printed_and_kept_per_task(ctx, capsys):
    assert ctx.exec(fixtures.chatty, each(range(3)), console_output=True) == [0, 1, 2]
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"[task {i}] hello from task {i}" for i in range(3)]
    assert "[task 2] warning 2" in err
    logs = ctx.last_job.logs()
    assert sorted(logs) == [0, 1, 2] and logs[1].stdout == "hello from task 1\n"
    assert logs[1].stderr == "warning 1\n"
    assert list(ctx.last_job.logs(task=2)) == [2]


def test_without_console_output_nothing_is_kept(ctx, capsys):
    ctx.exec(fixtures.chatty, each(range(2)))
    assert ctx.last_job.logs() == {}


def test_a_traceback_starts_in_the_users_code(ctx):
    failure = ctx.exec(fixtures.fail_deep, 7)[0]
    lines = failure.traceback.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert "fixtures.py" in lines[1] and "in fail_deep" in lines[1]
    assert "runtime/chunk.py" not in failure.traceback
    assert "_inner_failure" in failure.traceback and "KeyError: 'missing 7'" in failure.traceback


def test_a_traceback_shows_the_users_file_and_lines_even_where_the_worker_cannot_read_it(
        cluster1, tmp_path, monkeypatch):
    # Code pickled by value (a module that is not installed, a notebook cell) carries its
    # file name and its lines: cloudpickle >= 3.1.3 alone sends "<dynamic-code>" and no
    # lines, and a worker on another host has no such file anyway.
    (tmp_path / "not_installed_here.py").write_text(
        "def explode(x):\n"
        "    scale = 2\n"
        "    return {'k': x}['missing'] * scale  # the line users must see\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import linecache

    import not_installed_here
    path = not_installed_here.__file__
    assert linecache.getlines(path)  # the client holds the lines, as a notebook does ...
    os.remove(path)  # ... and the workers cannot read the file
    failure = cluster1.exec(not_installed_here.explode, 1)[0]
    assert failure.type == "KeyError"
    assert f'File "{path}", line 3, in explode' in failure.traceback
    assert "return {'k': x}['missing'] * scale  # the line users must see" in failure.traceback
    monkeypatch.delitem(sys.modules, "not_installed_here")


def test_rxgrid_logs_command(cluster2):
    job = cluster2.exec(fixtures.chatty, each(range(2)), console_output=True, wait=False)
    job.wait(60)
    out = subprocess.run([sys.executable, "-m", "rxgrid", "logs", job.id, "--task", "1"],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "RXGRID_HEAD": cluster2.address})
    assert out.returncode == 0, out.stderr
    assert "--- task 1 ---" in out.stdout and "hello from task 1" in out.stdout
    assert "task 0" not in out.stdout
