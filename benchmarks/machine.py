"""The facts a reader needs to judge the numbers: CPU, cores, memory, versions."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata

PACKAGES = ("rxgrid", "ray", "dask", "distributed", "numpy", "numba", "cloudpickle", "grpcio")


def facts() -> dict:
    return {
        "cpu": _cpu_model(),
        "logical cores": os.cpu_count(),
        "usable cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory GiB": _memory_gib(),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "rxgrid commit": _git_commit(),
        "packages": {name: _version(name) for name in PACKAGES},
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=os.path.dirname(__file__), timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "rxgrid"],
                               capture_output=True, text=True,
                               cwd=os.path.dirname(__file__), timeout=5)
        return out.stdout.strip() + (" (rxgrid/ modified)" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
