"""A progress bar for long waits: tasks done / failed / total, rate and ETA.

Drawn on stderr only when it is a terminal (or when asked), so logs and pipes stay clean.
"""

from __future__ import annotations

import sys
import time


def wanted(progress: bool | None) -> bool:
    """Show a bar? ``None`` means: when stderr is an interactive terminal."""
    if progress is None:
        return sys.stderr.isatty()
    return bool(progress)


class ProgressBar:
    """Redraws one line on stderr from JobInfo-like objects (done, failed, total)."""

    def __init__(self, job_id: str, stream=None, width: int = 30):
        self.job_id, self.stream, self.width = job_id, stream or sys.stderr, width
        self.started = time.monotonic()
        self._last = ""

    def update(self, done: int, failed: int, total: int, state: str) -> None:
        finished = done + failed
        frac = finished / total if total else 1.0
        filled = int(self.width * frac)
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = finished / elapsed
        eta = (total - finished) / rate if rate > 0 else float("inf")
        line = (f"\r{self.job_id} [{'#' * filled}{'.' * (self.width - filled)}] "
                f"{finished}/{total}" + (f" ({failed} failed)" if failed else "")
                + f" {rate:,.0f}/s" + (f" ETA {eta:,.0f}s" if eta != float("inf") and finished < total
                                        else "") + f" {state}")
        if line != self._last:
            self.stream.write(line.ljust(len(self._last)))
            self.stream.flush()
            self._last = line

    def close(self) -> None:
        if self._last:
            self.stream.write("\n")
            self.stream.flush()
