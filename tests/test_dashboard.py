"""The head's web dashboard: JSON API, auth, cancel, and the page rendered by headless Chromium.

A real head with workers and a token (``rxgrid.local``), real HTTP (``urllib``), a real
browser when ``/usr/bin/chromium`` is there."""

from __future__ import annotations

import http.cookiejar
import json
import os
import secrets
import select
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

import rxgrid
from rxgrid.client.local import free_port
from tests import fixtures

TOKEN, WORKER_TOKEN = secrets.token_hex(24), secrets.token_hex(24)
CHROMIUM = "/usr/bin/chromium"
# Builtins travel by reference, so one job can print, write to stderr and fail.
EVAL_TASKS = ["print('hello from task 0')", "__import__('sys').stderr.write('careful: task 1 warns\\n')",
              "1/0", "sum(range(10))"]


class Dash:
    """A token-protected cluster with its dashboard and a few finished jobs."""

    def __init__(self, cluster, base: str):
        self.cluster, self.base = cluster, base
        cluster.exec(fixtures.square, rxgrid.each(range(6)))
        self.square_id = cluster.last_job.id
        cluster.exec(fixtures.fail_on, rxgrid.each(range(5)))
        self.fail_id = cluster.last_job.id
        cluster.exec(eval, rxgrid.each(EVAL_TASKS), console_output=True)
        self.eval_id = cluster.last_job.id

    def call(self, path: str, method: str = "GET", token: str | None = TOKEN,
             headers: dict | None = None, opener=None) -> tuple[int, dict, bytes]:
        """(status, headers, body) of one request; errors are answers, not exceptions."""
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.base + path, method=method, headers=headers,
                                         data=b"" if method == "POST" else None)
        try:
            with (opener or urllib.request.urlopen)(request, timeout=10) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def json(self, path: str, method: str = "GET", **kw) -> dict:
        status, _, body = self.call(path, method, **kw)
        assert status == 200, (status, body)
        return json.loads(body)


@pytest.fixture(scope="module")
def dash():
    port = free_port()
    with rxgrid.local(workers=2, cores_per_worker=1, token=TOKEN, worker_token=WORKER_TOKEN,
                      dashboard=f"127.0.0.1:{port}") as cluster:
        yield Dash(cluster, f"http://127.0.0.1:{port}")


def wait_for(predicate, timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


# -------------------------------------------------------------------- JSON API
def test_cluster_api_lists_workers_and_counts(dash):
    c = dash.json("/api/cluster")
    assert [w["name"] for w in c["workers"]] == ["local-0", "local-1"]
    assert all(w["cores"] == 1 and w["state"] == "connected" for w in c["workers"])
    assert all(0 <= w["heartbeat_age"] < 5 for w in c["workers"])
    assert c["counts"]["slots"] == 2 and c["counts"]["workers"] == 2
    assert c["counts"]["tasks_failed"] >= 2  # fail_on's and eval's


def test_jobs_api_shows_progress_and_a_job_its_errors_and_output(dash):
    jobs = {j["job_id"]: j for j in dash.json("/api/jobs")["jobs"]}
    square = jobs[dash.square_id]
    assert (square["state"], square["tasks_done"], square["tasks_total"], square["name"]) == \
        ("finished", 6, 6, "square")
    assert (jobs[dash.fail_id]["tasks_done"], jobs[dash.fail_id]["tasks_failed"]) == (4, 1)
    failed = dash.json(f"/api/jobs/{dash.fail_id}")
    assert failed["job"]["job_id"] == dash.fail_id and failed["errors_total"] == 1
    (error,) = failed["errors"]
    assert (error["task"], error["type"], error["message"]) == (3, "ValueError", "bad value 3")
    assert "fail_on" in error["traceback"] and error["worker"].startswith("local-")
    logs = {o["task"]: o for o in dash.json(f"/api/jobs/{dash.eval_id}")["logs"]}
    assert logs[0]["stdout"] == "hello from task 0\n"
    assert logs[1]["stderr"] == "careful: task 1 warns\n"
    status, _, body = dash.call("/api/jobs/no-such-job")
    assert status == 404 and "no-such-job" in json.loads(body)["error"]


def test_queue_is_in_priority_order_and_cancel_stops_running_work(dash):
    low = dash.cluster.exec(fixtures.sleep_then, 3600, times=4, wait=False)
    wait_for(lambda: len(dash.json("/api/cluster")["running"]) == 2, 60, "two running chunks")
    high = dash.cluster.exec(fixtures.sleep_then, 3600, times=2, priority=5, wait=False)
    queue = wait_for(lambda: [q for q in dash.json("/api/cluster")["queue"]] or None, 60, "a queue")
    assert [q["job_id"] for q in queue] == [high.id] * 2 + [low.id] * 2
    assert [q["priority"] for q in queue] == [5, 5, 0, 0]
    assert {r["job_id"] for r in dash.json("/api/cluster")["running"]} == {low.id}

    for job in (high, low):
        reply = dash.json(f"/api/jobs/{job.id}/cancel", "POST", headers={"X-Rxgrid": "1"})
        assert reply["cancelled"] is True and reply["job"]["state"] == "cancelled"
    assert low.status() == high.status() == "cancelled"
    # The hour-long tasks were killed, not left to finish: both slots are free again.
    wait_for(lambda: dash.json("/api/cluster")["counts"]["busy"] == 0, what="free slots",
             timeout=120)
    again = dash.json(f"/api/jobs/{low.id}/cancel", "POST", headers={"X-Rxgrid": "1"})
    assert again["cancelled"] is False


# -------------------------------------------------------------------- auth and HTTP errors
def test_requests_without_the_right_token_are_refused(dash):
    for path in ("/", "/api/cluster", f"/api/jobs/{dash.square_id}", "/metrics", "/nope"):
        status, headers, body = dash.call(path, token=None)
        assert status == 401 and b"no token was given" in body, (path, body)
        assert headers["WWW-Authenticate"].startswith("Bearer")
        status, _, body = dash.call(path, token="x" * 48)
        assert status == 401 and b"token is wrong" in body
    assert dash.call("/api/cluster?token=" + "y" * 48, token=None)[0] == 401
    assert dash.call("/api/cluster", token=None, headers={"Cookie": "rxgrid_dashboard=" + TOKEN})[0] == 401
    assert dash.call("/metrics")[0] == 200


def test_post_needs_the_csrf_header_and_wrong_methods_and_paths_are_named(dash):
    job = dash.cluster.exec(fixtures.sleep_then, 30, wait=False)
    try:
        status, _, body = dash.call(f"/api/jobs/{job.id}/cancel", "POST")
        assert status == 403 and b"X-Rxgrid: 1" in body
        assert dash.call(f"/api/jobs/{job.id}/cancel", "POST", headers={"X-Rxgrid": "yes"})[0] == 403
        assert job.status() in ("queued", "running")
        status, headers, body = dash.call(f"/api/jobs/{job.id}/cancel")
        assert status == 405 and headers["Allow"] == "POST" and b"answers POST" in body
        assert dash.call("/api/cluster", "POST", headers={"X-Rxgrid": "1"})[0] == 405
        status, _, body = dash.call("/nope")
        assert status == 404 and b"/api/cluster" in body
    finally:
        job.cancel()


def test_malformed_and_oversized_requests_get_clear_answers(dash):
    host, port = dash.base.removeprefix("http://").split(":")

    def raw(data: bytes) -> bytes:
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(data)
            return s.makefile("rb").read()

    assert raw(b"NONSENSE\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert raw(b"GET / HTTP/1.1\r\nX: " + b"a" * 40_000 + b"\r\n\r\n").startswith(b"HTTP/1.1 431 ")
    big = raw(b"POST /api/jobs/x/cancel HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n")
    assert big.startswith(b"HTTP/1.1 413 ")
    assert dash.json("/api/cluster")["counts"]["workers"] == 2  # and the server still answers


def test_token_in_the_url_once_sets_a_cookie_and_is_never_logged(dash):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar)).open
    with opener(f"{dash.base}/?token={TOKEN}", timeout=10) as r:
        assert r.status == 200 and r.url == dash.base + "/"  # redirected: the token left the URL
        assert b"<title>rxgrid</title>" in r.read()
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    (cookie,) = list(jar)
    assert cookie.value != TOKEN and TOKEN not in cookie.value
    assert cookie.has_nonstandard_attr("HttpOnly") and cookie.get_nonstandard_attr("SameSite") == "Strict"
    status, _, body = dash.call("/api/cluster", token=None, opener=opener)
    assert status == 200 and json.loads(body)["counts"]["workers"] == 2
    assert dash.call("/static/dashboard.js", token=None, opener=opener)[0] == 200
    with open(os.path.join(dash.cluster.log_dir, "head.log"), errors="replace") as f:
        assert TOKEN not in f.read()


def test_without_a_token_only_loopback_host_names_are_answered(fresh_cluster):
    port = free_port()
    fresh_cluster(workers=1, dashboard=f"127.0.0.1:{port}")
    base = f"http://127.0.0.1:{port}"
    with urllib.request.urlopen(base + "/api/jobs", timeout=10) as r:
        assert json.loads(r.read())["jobs"] == []
    for host in ("localhost", f"localhost:{port}", f"127.0.0.1:{port}"):
        request = urllib.request.Request(base + "/api/cluster", headers={"Host": host})
        with urllib.request.urlopen(request, timeout=10) as r:
            assert r.status == 200
    for host in ("127.0.0.2", f"[::1]:{port}"):
        request = urllib.request.Request(base + "/api/cluster", headers={"Host": host})
        with urllib.request.urlopen(request, timeout=10) as r:
            assert r.status == 200
    # DNS names that only start like a loopback address resolve wherever their owner likes.
    for host in (f"evil.example:{port}", "127.evil.example", f"127.0.0.1.nip.io:{port}"):
        rebound = urllib.request.Request(base + "/api/cluster", headers={"Host": host})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(rebound, timeout=10)
        assert refused.value.code == 403 and b"loopback" in refused.value.read(), host


# -------------------------------------------------------------------- the page in a browser
def chromium_flags(tmp_path, name: str, size: str = "1280,900") -> list[str]:
    return [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / ('profile-' + name)}",
            "--virtual-time-budget=5000", f"--window-size={size}"]


def chromium(tmp_path, name: str, *args: str, size: str = "1280,900") -> subprocess.Popen:
    return subprocess.Popen([*chromium_flags(tmp_path, name, size), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


@pytest.mark.skipif(not os.path.exists(CHROMIUM),
                    reason=f"{CHROMIUM} is missing (Debian: apt-get install -y chromium)")
def test_the_page_renders_workers_jobs_and_a_job_in_headless_chromium(dash, tmp_path):
    running = dash.cluster.exec(fixtures.sleep_then, 30, times=3, wait=False)
    try:
        wait_for(lambda: running.status() == "running", what="a running job")
        url = f"{dash.base}/?token={TOKEN}#job={dash.eval_id}"
        shot = tmp_path / "dashboard.png"
        browsers = [chromium(tmp_path, "dom", "--dump-dom", url),
                    chromium(tmp_path, "shot", f"--screenshot={shot}", url, size="1280,1400")]
        outputs = [b.communicate(timeout=60) for b in browsers]
        dom = outputs[0][0]
        assert browsers[0].returncode == 0, outputs[0][1][-2000:]
        for needle in (dash.eval_id, dash.square_id, running.id,   # jobs table and job panel
                       "local-0", "local-1",                          # workers
                       'role="progressbar"', 'class="progress active"',
                       "ZeroDivisionError", "division by zero",       # the job's error
                       "hello from task 0", "careful: task 1 warns",  # its output
                       f'data-job="{running.id}"'):                   # a cancel button
            assert needle in dom, f"{needle!r} not in the rendered page"
        assert "Not authorized" not in dom and "head unreachable" not in dom
        assert shot.exists() and shot.stat().st_size > 10_000, outputs[1][1][-2000:]
        print(f"dashboard screenshot: {shot}")
    finally:
        running.cancel()
    shutil.rmtree(tmp_path / "profile-dom", ignore_errors=True)
    shutil.rmtree(tmp_path / "profile-shot", ignore_errors=True)


class DevTools:
    """Chromium driven over the DevTools protocol on a pipe (fds 3 and 4; no extra packages)."""

    def __init__(self, tmp_path, url: str):
        to_chrome, self._send_fd = os.pipe()
        self._recv_fd, from_chrome = os.pipe()
        flags = [f for f in chromium_flags(tmp_path, "cdp") if not f.startswith("--virtual-time")]
        self.proc = subprocess.Popen(
            ["bash", "-c", f'exec "$@" 3<&{to_chrome} 4>&{from_chrome}', "--", *flags,
             "--remote-debugging-pipe", "about:blank"],
            pass_fds=(to_chrome, from_chrome), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True)
        os.close(to_chrome)
        os.close(from_chrome)
        self._buffer, self._next_id, self.session = b"", 0, None
        page = next(t for t in self.call("Target.getTargets")["targetInfos"] if t["type"] == "page")
        attached = self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)
        self.session = attached["sessionId"]
        self.call("Page.navigate", url=url)

    def call(self, method: str, timeout: float = 20.0, **params) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        os.write(self._send_fd, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self._next_id:
                    assert "error" not in reply, reply
                    return reply["result"]
            ready, _, _ = select.select([self._recv_fd], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, f"Chromium did not answer {method}"
            chunk = os.read(self._recv_fd, 1 << 16)
            assert chunk, "Chromium closed the DevTools pipe"
            self._buffer += chunk

    def js(self, expression: str):
        """The value of ``expression`` evaluated in the page (awaited if a promise)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def close(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        os.close(self._send_fd)
        os.close(self._recv_fd)


@pytest.mark.skipif(not os.path.exists(CHROMIUM),
                    reason=f"{CHROMIUM} is missing (Debian: apt-get install -y chromium)")
def test_clicking_cancel_in_the_page_cancels_the_job_and_the_page_follows_live(dash, tmp_path):
    job = dash.cluster.exec(fixtures.sleep_then, 30, times=2, wait=False)
    browser = DevTools(tmp_path, f"{dash.base}/?token={TOKEN}")
    try:
        button = f"document.querySelector('#jobs button[data-job=\"{job.id}\"]')"
        badge = f"document.querySelector('#jobs tr[data-job=\"{job.id}\"] .badge')?.textContent"
        wait_for(lambda: browser.js(badge) == "running", what="the job shown running")
        browser.js(f"{button}.click()")   # the first click only arms the button
        time.sleep(0.3)
        assert job.status() == "running" and browser.js(f"{button}.textContent") == "Confirm"
        browser.js(f"{button}.click()")
        wait_for(lambda: job.status() == "cancelled", what="the head to cancel the job")
        # No reload: the next poll shows it.
        wait_for(lambda: browser.js(badge) == "cancelled", what="the page to show the job cancelled")
        assert browser.js(f"{button}") is None
    finally:
        browser.close()
        job.cancel()
