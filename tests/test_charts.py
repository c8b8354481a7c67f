"""The demo's pictures: matplotlib charts with the [plot] extra, the plain PNG writer without."""

from __future__ import annotations

import math
import struct
import sys

import numpy as np
import pytest

from rxgrid.demo.charts import birthday_chart, mandelbrot_chart

SIZES = list(range(2, 101))
EXACT = [1.0 - math.prod((365 - k) / 365 for k in range(n)) for n in SIZES]
GROUPS = [(n - 2) // 20 for n in SIZES]


def _png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return struct.unpack(">II", data[16:24])


def _draw_both(tmp_path):
    birthday_chart(str(tmp_path / "birthday.png"), SIZES, EXACT, EXACT, GROUPS)
    x, y = np.linspace(-2.0, 0.6, 30), np.linspace(-1.3, 1.3, 20)
    counts = np.minimum(np.add.outer(np.arange(20), np.arange(30)), 25)
    mandelbrot_chart(str(tmp_path / "mandelbrot.png"), counts, x, y, 25)
    return _png_size(tmp_path / "birthday.png"), _png_size(tmp_path / "mandelbrot.png")


def test_with_matplotlib_the_charts_are_figures(tmp_path):
    pytest.importorskip("matplotlib", reason="the [plot] extra is not installed")
    birthday, mandelbrot = _draw_both(tmp_path)
    assert birthday == (700, 450)  # 7 x 4.5 inches at 100 dpi: a figure, not the plain 480 x 320
    assert mandelbrot[0] == 600


def test_without_matplotlib_the_plain_png_writer_draws_them(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    birthday, mandelbrot = _draw_both(tmp_path)
    assert birthday == (480, 320) and mandelbrot == (30, 20)
