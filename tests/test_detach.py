"""Ctrl-C (a real SIGINT) during a blocking call detaches from the job, as in seed 000."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.conftest import ROOT
from tests.test_cluster import _wait_until

SCRIPT = """
import signal, sys, rxgrid
# A process started from a background job inherits SIGINT ignored (so Python installs no
# handler); a user's terminal does not. Restore Python's handler so the test sees Ctrl-C.
signal.signal(signal.SIGINT, signal.default_int_handler)
from tests import fixtures
cluster = rxgrid.connect(sys.argv[1])
print("submitting", flush=True)
try:
    cluster.exec(fixtures.sleep_then, 3, rxgrid.each(range(2)), chunk_size=1)
except KeyboardInterrupt:
    print("LAST", cluster.last_job.id, flush=True)
"""


def _interrupt(cluster, signals: int) -> tuple[str, str]:
    before = {j.id for j in cluster.jobs()}
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, cluster.address], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": ROOT})
    assert proc.stdout.readline().strip() == "submitting"
    # Interrupt only once the job is on the head (on a loaded machine, e.g. a first run
    # compiling Numba kernels, submitting can take longer than any fixed pause).
    deadline = time.monotonic() + 60
    while not ({j.id for j in cluster.jobs()} - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    if signals == 2:
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return out, err


def test_ctrl_c_leaves_the_job_running_and_says_how_to_reattach(cluster2):
    out, err = _interrupt(cluster2, 1)
    assert "LAST" in out, err
    job_id = out.split("LAST")[1].strip()
    assert f"job {job_id} keeps running" in err and f"rxgrid cancel {job_id}" in err
    job = cluster2.job(job_id)
    _wait_until(lambda: job.status() == "finished", 60)
    assert not job.info().collected  # nobody has read them: a cleanup must keep them
    assert cluster2.cleanup([job_id]) == []
    assert job.result(timeout=60) == [0, 1]


def test_a_second_ctrl_c_within_two_seconds_cancels_the_job(cluster2):
    out, err = _interrupt(cluster2, 2)
    assert "LAST" in out, err
    job_id = out.split("LAST")[1].strip()
    assert f"job {job_id} cancelled" in err
    assert cluster2.job(job_id).status() == "cancelled"
