"""Ctrl-C (a real SIGINT) during a blocking call detaches from the job, as in seed 000.

A script runs as a user's would, in its own session; the test interrupts it with real
SIGINTs. Its jobs wait on a gate file the test opens, so nothing ends before the test
has had its say. No sleep paces the test: it sends a signal only once the script reports
(from a thread of its own) that its main thread is blocked in the call, or that 2.5 s have
passed on the script's clock since rxgrid printed its detach message.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import rxgrid
from rxgrid.analytics import write_dataset
from tests import fixtures
from tests.conftest import ROOT
from tests.test_cluster import _wait_until

SCRIPT = """
import signal, sys, threading, time, rxgrid, rxgrid.errors
# A process started from a background job inherits SIGINT ignored (so Python installs no
# handler); a user's terminal does not. Restore Python's handler so the script sees Ctrl-C.
signal.signal(signal.SIGINT, signal.default_int_handler)
from tests import fixtures
address, mode, gate, data, late = sys.argv[1:]
cluster, observer = rxgrid.connect(address), rxgrid.connect(address)
main = threading.main_thread().ident
BLOCKED_IN = {"exec": "run_job", "result": "wait", "fit": "run_job"}[mode]


class StampedStderr:
    # Notes the time (this script's clock) rxgrid prints its detach message.
    def __init__(self, stream):
        self.stream, self.detached, self.at = stream, threading.Event(), 0.0

    def write(self, text):
        if "keeps running" in text and not self.detached.is_set():
            self.at = time.monotonic()
            self.detached.set()
        return self.stream.write(text)

    def __getattr__(self, name):  # flush, isatty, fileno ...: the real stream's
        return getattr(self.stream, name)


sys.stderr = stamped = StampedStderr(sys.stderr)


def blocked() -> bool:
    frame = sys._current_frames().get(main)
    while frame is not None:
        if frame.f_code.co_name == BLOCKED_IN and "rxgrid" in frame.f_code.co_filename:
            return True
        frame = frame.f_back
    return False


def on_head() -> bool:
    job = cluster.last_job
    try:
        return job is not None and observer.job(job.id).status() in ("queued", "running")
    except rxgrid.errors.JobNotFoundError:
        return False


def report():
    # Blocked in the call, with its job on the head (a step's job, for a fit).
    while not (blocked() and on_head()):
        time.sleep(0.005)
    print("BLOCKED", flush=True)
    stamped.detached.wait()
    time.sleep(max(0.0, stamped.at + 2.5 - time.monotonic()))
    print("LATE 2.5 s after the detach message", flush=True)


threading.Thread(target=report, daemon=True).start()
try:
    try:
        if mode == "exec":
            cluster.exec(fixtures.gated_record, data, rxgrid.each(["a", "b"]), gate, chunk_size=1)
        elif mode == "result":
            cluster.exec(fixtures.gated_record, data, rxgrid.each(["a", "b"]), gate,
                         chunk_size=1, wait=False).result()
        else:  # a fit whose first step waits behind a job holding both slots until the gate opens
            cluster.exec(fixtures.gated_record, data + ".log", rxgrid.each(["x", "y"]), gate,
                         chunk_size=1, wait=False)
            cluster.lin_mod("y ~ x", data=data)
    except KeyboardInterrupt:
        print("LAST", cluster.last_job.id, flush=True)
    if late == "late":
        threading.Event().wait()
except KeyboardInterrupt:  # wherever it lands, as a user's later Ctrl-C would
    print("SECOND CTRL-C", flush=True)
    if late == "late":
        # Once (1 run in 3 of the full CI) this script then hung at interpreter exit in
        # the "result" mode; not yet understood (see the closing note of issue 14). What
        # this test is about has been decided by now: end without running exit handlers.
        sys.stderr.flush()
        import os
        os._exit(0)
"""


class _Script:
    """The script above in a child Python (own session), its output read line by line."""

    def __init__(self, address: str, mode: str, gate: str, data: str, late: bool = False):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SCRIPT, address, mode, gate, data, "late" if late else "once"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
            start_new_session=True, env={**os.environ, "PYTHONPATH": ROOT})
        self.seen: dict[str, list[str]] = {"out": [], "err": []}
        self._lines: dict[str, queue.Queue] = {"out": queue.Queue(), "err": queue.Queue()}
        self._pumps = [threading.Thread(target=self._pump, args=(stream, self._lines[name]))
                       for name, stream in (("out", self.proc.stdout), ("err", self.proc.stderr))]
        for pump in self._pumps:
            pump.start()

    @staticmethod
    def _pump(stream, lines: queue.Queue) -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    def expect(self, name: str, text: str, timeout: float = 120) -> str:
        """The next line of stdout ('out') or stderr ('err') that holds ``text``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines[name].get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                raise AssertionError(f"no line with {text!r} from the script:\n{self.output()}")
            self.seen[name].append(line)
            if text in line:
                return line

    def interrupt(self) -> None:
        self.proc.send_signal(signal.SIGINT)

    def finish(self) -> int:
        """Wait for the script to exit (SIGKILL after a deadline); its exit code."""
        try:
            code = self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            code = self.proc.wait()
        for pump in self._pumps:
            pump.join(10)
        for name, lines in self._lines.items():
            while not lines.empty():
                if (line := lines.get_nowait()) is not None:
                    self.seen[name].append(line)
        return code

    def output(self) -> str:
        return "".join(self.seen["out"]) + "--- stderr:\n" + "".join(self.seen["err"])


@pytest.fixture
def run(cluster2, tmp_path):
    """Start the script in a mode; the gate its jobs wait on opens at the latest at the end."""
    gate = tmp_path / "gate"
    scripts = []

    def start(mode: str, late: bool = False) -> _Script:
        if mode == "fit":
            data = str(tmp_path / "line")
            x = np.arange(100.0)
            write_dataset(data, {"x": x, "y": 2.0 + 3.0 * x}, block_rows=25)
        else:
            data = str(tmp_path / "starts.txt")
        script = _Script(cluster2.address, mode, str(gate), data, late)
        scripts.append(script)
        return script

    start.gate = gate
    yield start
    gate.touch()
    for script in scripts:
        script.finish()
    # The session's cluster is shared: leave it with no job of this test still running.
    _wait_until(lambda: not cluster2.jobs(state="running") and not cluster2.jobs(state="queued"),
                120)


def _detach(script: _Script) -> str:
    """Interrupt the script once it is blocked; the id of the job it detached from."""
    script.expect("out", "BLOCKED")
    script.interrupt()
    job_id = script.expect("err", "keeps running").split()[2]
    script.expect("err", "press Ctrl-C again within 2 s")
    return job_id


def _check_finished(address: str, job_id: str, mode: str) -> None:
    job = rxgrid.connect(address).job(job_id)
    _wait_until(lambda: job.status() in ("finished", "failed", "cancelled"), 120)
    assert job.status() == "finished"
    if mode == "fit":
        np.testing.assert_allclose(job.result().params, [2.0, 3.0], atol=1e-9)
    else:
        assert not job.info().collected  # nobody has read them: a cleanup must keep them
        assert rxgrid.connect(address).cleanup([job_id]) == []
        assert job.result() == ["a", "b"]


@pytest.mark.parametrize("mode", ["exec", "result", "fit"])
def test_ctrl_c_leaves_the_job_running_and_says_how_to_reattach(cluster2, run, mode):
    script = run(mode)
    job_id = _detach(script)
    assert script.expect("out", "LAST").split()[1] == job_id  # it is cluster.last_job
    assert script.finish() == 0, script.output()
    err = "".join(script.seen["err"])
    assert err.count("keeps running") == 1, err  # one message, naming the job that runs on
    assert f"job {job_id} keeps running" in err and f"rxgrid cancel {job_id}" in err
    assert f"cluster.job({job_id!r}).result()" in err
    run.gate.touch()
    _check_finished(cluster2.address, job_id, mode)


@pytest.mark.parametrize("mode", ["exec", "result", "fit"])
def test_a_second_ctrl_c_within_two_seconds_cancels_the_job(cluster2, run, mode):
    script = run(mode)
    script.expect("out", "BLOCKED")
    script.interrupt()
    script.expect("err", "press Ctrl-C again within 2 s")
    script.interrupt()
    job_id = script.expect("out", "LAST").split()[1]
    assert script.finish() == 0, script.output()
    assert f"job {job_id} cancelled" in "".join(script.seen["err"])
    assert rxgrid.connect(cluster2.address).job(job_id).status() == "cancelled"


@pytest.mark.parametrize("mode", ["exec", "result", "fit"])
def test_a_second_ctrl_c_after_two_seconds_does_not_cancel(cluster2, run, mode):
    script = run(mode, late=True)
    job_id = _detach(script)
    script.expect("out", "LATE 2.5 s after the detach message")
    script.interrupt()
    script.expect("out", "SECOND CTRL-C")
    assert script.finish() == 0, script.output()
    assert "cancelled" not in "".join(script.seen["err"])
    run.gate.touch()
    _check_finished(cluster2.address, job_id, mode)


def test_a_ctrl_c_before_the_job_left_still_leaves_it_running(cluster2, monkeypatch, capsys):
    # The Ctrl-C can land before the blocking call has sent the job: "keeps running" must
    # still be true, so the client submits it as a non-waiting job (its id makes that safe).
    def interrupted_before_sending(spec):
        raise KeyboardInterrupt

    cluster = rxgrid.connect(cluster2.address)
    try:
        monkeypatch.setattr(cluster._conn, "run_job", interrupted_before_sending)
        with pytest.raises(KeyboardInterrupt):
            cluster.exec(fixtures.square, rxgrid.each(range(4)), job_id=f"early-{time.time_ns()}")
        job = cluster.last_job
        assert job.result(timeout=120) == [0, 1, 4, 9]
        assert "restarted as a non-waiting job" in capsys.readouterr().err
    finally:
        cluster.close()


def _interrupt_as_a_failed_release() -> RuntimeError:
    """What CPython can raise for a Ctrl-C that lands between a Condition's release of its
    lock and the ``try`` that takes it back (gRPC's stream reads wait on one): the enclosing
    ``with`` fails to release, a RuntimeError whose context is the KeyboardInterrupt."""
    lock = threading.RLock()
    try:
        try:
            raise KeyboardInterrupt
        finally:
            lock.release()  # not held: RuntimeError, chained to the interrupt
    except RuntimeError as exc:
        return exc
    raise AssertionError("releasing a lock not held did not fail")


@pytest.mark.parametrize("where", ["exec", "result"])
def test_a_ctrl_c_that_surfaces_as_a_failed_lock_release_still_detaches(cluster2, monkeypatch,
                                                                         capsys, where, tmp_path):
    # CI saw this once in a notebook: the Ctrl-C came out of a gRPC stream as "RuntimeError:
    # cannot release un-acquired lock", so the job was neither detached nor announced.
    gate = tmp_path / "gate"
    cluster = rxgrid.connect(cluster2.address)
    try:
        if where == "exec":
            def interrupted(spec):
                cluster._submit(spec)  # the job left; the reply's wait is what broke
                raise _interrupt_as_a_failed_release()
            monkeypatch.setattr(cluster._conn, "run_job", interrupted)
            with pytest.raises(KeyboardInterrupt):
                cluster.exec(fixtures.gated_record, str(tmp_path / "rec"), rxgrid.each(range(3)), str(gate))
            job = cluster.last_job
        else:
            job = cluster.exec(fixtures.gated_record, str(tmp_path / "rec"), rxgrid.each(range(3)),
                               str(gate), wait=False)

            class BrokenStream:  # the gRPC stream a Ctrl-C broke as above
                def __iter__(self):
                    raise _interrupt_as_a_failed_release()

                def cancel(self):
                    pass
            monkeypatch.setattr(job._conn.stub, "WatchJob", lambda *a, **k: BrokenStream())
            with pytest.raises(KeyboardInterrupt):
                job.result()
            monkeypatch.undo()
        assert cluster.last_job.id == job.id
        assert "keeps running on the cluster" in capsys.readouterr().err
        assert not job.info().is_done  # detached, not cancelled: it waits on the gate
        gate.touch()
        assert job.result(timeout=120) == [0, 1, 2]
    finally:
        cluster.close()


def test_a_ctrl_c_while_a_job_with_a_progress_bar_is_submitted_leaves_it_running(cluster2, monkeypatch,
                                                                                 capsys, tmp_path):
    # With a progress bar (a notebook, a terminal) a blocking exec submits, then watches.
    # Its first task can start before the submit returns; a Ctrl-C then (CI saw it in the
    # notebook test) must detach the job as one a moment later would, not just raise.
    gate = tmp_path / "gate"
    cluster = rxgrid.connect(cluster2.address)
    real_call = cluster._conn.call
    interrupted = []

    def call(method, request, **kwargs):
        reply = real_call(method, request, **kwargs)
        if method == "SubmitJob" and not interrupted:
            interrupted.append(request.job.job_id)
            raise KeyboardInterrupt  # the reply came; the Ctrl-C landed as it was read
        return reply
    try:
        monkeypatch.setattr(cluster._conn, "call", call)
        with pytest.raises(KeyboardInterrupt):
            cluster.exec(fixtures.gated_record, str(tmp_path / "rec"), rxgrid.each(range(3)), str(gate),
                         progress=True)
        monkeypatch.undo()
        job = cluster.last_job
        assert interrupted == [job.id]
        err = capsys.readouterr().err
        assert "keeps running on the cluster" in err and "restarted" not in err  # it had arrived
        assert not job.info().is_done
        gate.touch()
        assert job.result(timeout=120) == [0, 1, 2]
    finally:
        cluster.close()
