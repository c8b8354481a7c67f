"""examples/quickstart.ipynb runs in a real Jupyter kernel (nbclient), and a Ctrl-C there
(the kernel interrupted during a blocking exec) detaches the job, which finishes."""

from __future__ import annotations

import os
import re
import signal
import threading
import time

import pytest

import rxgrid
from tests.conftest import ROOT

nbformat = pytest.importorskip("nbformat", reason="the notebook test needs nbformat, nbclient, ipykernel")
nbclient = pytest.importorskip("nbclient", reason="the notebook test needs nbclient")
pytest.importorskip("ipykernel", reason="the notebook test needs ipykernel")

NOTEBOOK = os.path.join(ROOT, "examples", "quickstart.ipynb")

# A blocking exec whose tasks say they started and then wait for the test's go-ahead, so
# the interrupt lands while the kernel is blocked in exec, whatever the machine's speed.
BLOCKING = """
import os, time
open(os.path.join({folder!r}, "address"), "w").write(cluster.address)
def held(i, folder):
    open(os.path.join(folder, f"started-{{i}}"), "w").close()
    while not os.path.exists(os.path.join(folder, "release")):
        time.sleep(0.02)
    return i * i
cluster.exec(held, rxgrid.each(range(4)), {folder!r}, chunk_size=1)
"""

REATTACH = """
job = cluster.last_job
line = f"{{job.result(timeout=60)}} {{job.status().value}}"
open({reattached!r}, "w").write(line)
print(line)
"""


def _outputs(cell, kind: str) -> str:
    text = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream" and out.get("name") == kind:
            text.append(out["text"])
        elif kind == "html" and "text/html" in out.get("data", {}):
            text.append(out["data"]["text/html"])
    return "".join(text)


def _interrupt_when_started(client, folder: str, done: threading.Event) -> None:
    """SIGINT the kernel (what Jupyter's Interrupt does) once a task has started."""
    while not done.is_set():
        if any(name.startswith("started-") for name in os.listdir(folder)):
            os.kill(client.km.provisioner.process.pid, signal.SIGINT)
            return
        time.sleep(0.02)


def test_the_quickstart_notebook_runs_and_ctrl_c_detaches_a_blocking_exec(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    *tour, close = nb.cells
    folder = str(tmp_path)
    blocking = nbformat.v4.new_code_cell(BLOCKING.format(folder=folder))
    reattached = os.path.join(folder, "reattached")
    reattach = nbformat.v4.new_code_cell(REATTACH.format(reattached=reattached))
    nb.cells = [*tour, blocking, reattach, close]
    client = nbclient.NotebookClient(  # the re-attach cell: its job.result waits 60 s at most
        nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": folder}},
        timeout_func=lambda cell: 90 if cell is reattach else 240)
    with client.setup_kernel(env={**os.environ, "PYTHONPATH": ROOT}):
        for index, cell in enumerate(tour):
            client.execute_cell(cell, index)  # CellExecutionError on any error
        done = threading.Event()
        watcher = threading.Thread(target=_interrupt_when_started, args=(client, folder, done))
        watcher.start()
        try:
            with pytest.raises(nbclient.exceptions.CellExecutionError, match="KeyboardInterrupt"):
                client.execute_cell(blocking, len(tour))
        finally:
            done.set()
            watcher.join()
        open(os.path.join(folder, "release"), "w").close()
        try:
            client.execute_cell(reattach, len(tour) + 1)
            replied = True
        except nbclient.exceptions.CellTimeoutError:
            # The kernel sent no reply to the cell. Seen in CI on 2026-12-02, in both venvs
            # at once under load (ipykernel 7.4 and 6.29): ipykernel's own reply failed with
            # "ZMQError: Socket operation on non-socket" (its shell socket closed under it,
            # after the interrupt), so nbclient waited out the cell's timeout. Whether the
            # cell ran is told by its file; the job is checked on the cluster either way.
            replied = False
        if replied and os.path.exists(reattached):
            client.execute_cell(close, len(tour) + 2)
        elif not os.path.exists(reattached):
            # The kernel did not run the cell. ipykernel aborts requests that come in while
            # it winds down from an error, and nbclient takes an aborted cell silently (CI
            # saw it three times under load). The job must still be on the cluster:
            # re-attach from another client, while the kernel (and the cluster it started)
            # is alive.
            match = re.search(r"job (\S+) keeps running", _outputs(blocking, "stderr"))
            assert match, _outputs(blocking, "stderr")
            with open(os.path.join(folder, "address")) as f:
                other = rxgrid.connect(f.read())
            try:
                job = other.job(match.group(1))
                with open(reattached, "w") as f:
                    f.write(f"{job.result(timeout=120)} {job.status().value}")
            finally:
                other.close()

    outputs = {i: c for i, c in enumerate(nb.cells)}
    assert "Win" in str(outputs[3].outputs)  # the dice Counter
    html = "".join(_outputs(c, "html") for c in tour)
    assert "<progress" in html and "finished" in html  # the job's display
    assert "busy / cores" in html and "slots" in html  # the workers' and the cluster's
    assert "keeps running on the cluster" in _outputs(blocking, "stderr")
    with open(reattached) as f:
        assert f.read() == "[0, 1, 4, 9] finished"
    if replied and reattach.get("outputs"):
        assert _outputs(reattach, "stdout").strip() == "[0, 1, 4, 9] finished"
