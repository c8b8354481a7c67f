"""`rxgrid demo --test`: the whole tour on tiny data, end to end, as a user runs it."""

from __future__ import annotations

import subprocess
import sys


def test_demo_runs_on_test_data_and_writes_pictures(tmp_path):
    out = subprocess.run([sys.executable, "-m", "rxgrid", "demo", "--test", "--out", str(tmp_path),
                          "--log-level", "WARNING"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    for text in ("dice:", "birthday:", "mandelbrot:", "k-means:", "non-waiting job",
                 "Cube Linear Regression Results", "Logistic Regression Results"):
        assert text in out.stdout
    for name in ("birthday.png", "mandelbrot.png"):
        data = (tmp_path / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 100
