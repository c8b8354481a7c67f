"""Shared fixtures: real clusters of real processes on loopback, torn down even on failure."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

import rxgrid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="session")
def cluster2():
    """A local cluster of two one-core workers shared by the tests that only read from it."""
    with rxgrid.local(workers=2, cores_per_worker=1) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def cluster1():
    with rxgrid.local(workers=1, cores_per_worker=1) as cluster:
        yield cluster


@pytest.fixture
def fresh_cluster(tmp_path):
    """A cluster of its own, for tests that kill, fill or restart things."""
    clusters = []

    def make(workers: int = 2, cores: int = 1, **options):
        cluster = rxgrid.local(workers=workers, cores_per_worker=cores,
                               state_dir=str(tmp_path / f"state{len(clusters)}"), **options)
        clusters.append(cluster)
        return cluster

    yield make
    for cluster in clusters:
        cluster.close()


def run_python(code: str, timeout: float = 120, **env) -> subprocess.CompletedProcess:
    """Run ``code`` in a new Python process (its own process group), return the result."""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": ROOT, **env}, cwd=ROOT)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"child python timed out:\n{out}\n{err}") from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


# CI sets RXGRID_REQUIRE_ALL_TESTS=1: there every test must run, so a skip (Chromium, root,
# network namespaces, a tmpfs mount, systemd-analyze or an extra that did not install) is a
# failure that says what was missing, instead of a quiet "s" in the summary.
REQUIRE_ALL = os.environ.get("RXGRID_REQUIRE_ALL_TESTS") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_ALL and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = (f"skipped, but RXGRID_REQUIRE_ALL_TESTS=1 requires every test to run: "
                           f"{reason}")
