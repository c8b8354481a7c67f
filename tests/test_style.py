"""The house style is checked, not hoped for: ruff over the package, tests and benchmarks."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import ROOT


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff not installed (pip install ruff)")
def test_ruff_is_clean():
    out = subprocess.run(["ruff", "check", "rxgrid", "tests", "benchmarks"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
