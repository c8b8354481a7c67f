"""Connecting fails fast and says why: a bad address at once, a refused port retried with
a visible line, then given up after the timeout the caller chose."""

from __future__ import annotations

import socket

import pytest

import rxgrid
from rxgrid.errors import HeadUnavailableError, InvalidArgumentError
from tests.conftest import run_python

WAITING = "waiting for the head at"


@pytest.mark.parametrize("address, says", [
    ("http://localhost:50051", "URL"),
    ("localhost", "HOST:PORT"),
    ("localhost:port", "HOST:PORT"),
    ("localhost:70000", "1 to 65535"),
    (":50051", "HOST:PORT"),
])
def test_an_address_that_cannot_parse_is_an_error_at_once(address, says, capsys):
    with pytest.raises(InvalidArgumentError, match=says):
        rxgrid.connect(address)
    assert WAITING not in capsys.readouterr().err  # no retry happened


def test_a_host_that_does_not_resolve_is_an_error_at_once(capsys):
    # .invalid never resolves (RFC 2606)
    with pytest.raises(HeadUnavailableError, match="cannot resolve.*lcalhost.invalid"):
        rxgrid.connect("lcalhost.invalid:50051")
    assert WAITING not in capsys.readouterr().err


@pytest.fixture
def refused_port():
    """A port bound but not listening: connections to it are refused, and nothing else can
    take it while the test runs."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


def test_a_refused_port_is_retried_visibly_then_given_up(refused_port):
    # A real client process; its stderr is a pipe, so the line is printed, not only logged.
    out = run_python(
        "import rxgrid\n"
        "try:\n"
        f"    rxgrid.connect('127.0.0.1:{refused_port}', timeout=4)\n"
        "except rxgrid.HeadUnavailableError as exc:\n"
        "    print('gave up:', exc)\n", timeout=60)
    assert out.returncode == 0, out.stderr
    assert "gave up: cannot reach the rxgrid head at 127.0.0.1" in out.stdout
    lines = [line for line in out.stderr.splitlines() if WAITING in line]
    assert lines == [f"rxgrid: {WAITING} 127.0.0.1:{refused_port}\u2026 (Ctrl-C to stop; "
                     f"giving up after 4 s)"]
