"""The arithmetic ``benchmarks.cpu_bounds`` draws its conclusions from, and its CPU reading
of a real child process. Fast: no cluster, no kernels."""

import subprocess
import sys
import time

import pytest

from benchmarks.cpu_bounds import (
    cpu_by_role,
    executor_queued,
    halves_makespan,
    in_order_makespan,
    ray_role,
    rxgrid_only_role,
    wall_split,
)


@pytest.mark.parametrize(("cmd", "ray", "rxgrid"), [
    ("/v/bin/python -m rxgrid head --listen 127.0.0.1:1", "other", "head"),
    ("/v/bin/python -m rxgrid worker --head 127.0.0.1:1 --name local-0", "other", "daemon"),
    ("/v/bin/python -c from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5)",
     "other", "executor"),
    ("ray::sklearn_kmeans_task", "executor", "other"),
    ("ray::IDLE", "executor", "other"),
    ("/v/bin/python /v/lib/python3.11/site-packages/ray/_private/workers/default_worker.py "
     "--node-ip-address=127.0.0.1", "executor", "other"),
    ("/v/lib/python3.11/site-packages/ray/core/src/ray/gcs/gcs_server --log_dir=/tmp/ray",
     "head", "other"),
    ("/v/lib/python3.11/site-packages/ray/core/src/ray/raylet/raylet --node_ip_address=x",
     "daemon", "other"),
    ("/v/bin/python -u /v/lib/python3.11/site-packages/ray/_private/log_monitor.py",
     "daemon", "other"),
])
def test_processes_are_counted_for_their_own_system_only(cmd, ray, rxgrid):
    assert ray_role(cmd) == ray
    assert rxgrid_only_role(cmd) == rxgrid


def test_wall_split_gives_idle_executor_time():
    before = {"client": 1.0, "head": 0.0, "daemon": 0.5, "executor": 2.0}
    after = {"client": 1.5, "head": 0.25, "daemon": 1.0, "executor": 5.0}
    split = wall_split(2.0, 2, before, after)
    assert split == {"wall": 2.0, "client": 0.5, "head": 0.25, "daemon": 0.5,
                     "executor": 3.0, "idle": 1.0}


def test_in_order_makespan_hands_each_chunk_to_the_first_free_slot():
    seconds = [4.0, 1.0, 1.0, 1.0, 1.0, 2.0]
    # chunks [4], [1, 1], [1, 1], [2]: slot A 4; slot B 2, then 4; the last chunk goes to A
    assert in_order_makespan(seconds, [1, 2, 2, 1], 2) == 6.0
    assert in_order_makespan(seconds, [6], 2) == sum(seconds)
    assert in_order_makespan([1.0] * 4, [1] * 4, 2) == 2.0
    with pytest.raises(ValueError):
        in_order_makespan(seconds, [1, 2], 2)


def test_halves_makespan_is_the_longer_contiguous_half():
    assert halves_makespan([1.0, 2.0, 3.0, 4.0]) == 7.0
    assert halves_makespan([1.0, 1.0, 1.0, 1.0, 5.0]) == 7.0


def test_cpu_by_role_sees_a_busy_child():
    child = subprocess.Popen([sys.executable, "-c",
                              "import time\nend = time.process_time() + 0.5\n"
                              "while time.process_time() < end: pass\ntime.sleep(30)"])
    try:
        start = time.monotonic()
        while cpu_by_role()["executor"] < 0.4 and time.monotonic() - start < 15:
            time.sleep(0.1)
        assert cpu_by_role()["executor"] >= 0.4
        assert executor_queued(rxgrid_only_role) >= 0.0  # read from /proc on Linux
    finally:
        child.kill()
        child.wait()
