"""A progress bar for long waits: tasks done / failed / total, rate and ETA.

``tqdm.auto`` draws it when tqdm is installed (a widget in Jupyter); otherwise one line on
stderr, redrawn in place and fitted to the terminal's width. By default it is drawn only
where someone watches (an interactive terminal, or a notebook), so logs and pipes stay clean.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import time


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where stderr is not a terminal but is seen)."""
    shell = sys.modules.get("IPython")
    try:
        ip = shell.get_ipython() if shell is not None else None
    except Exception:  # noqa: BLE001 - any failure means: not a notebook
        return False
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def wanted(progress: bool | None) -> bool:
    """Show a bar? ``None`` means: when stderr is an interactive terminal or in a notebook."""
    if progress is None:
        return sys.stderr.isatty() or in_notebook()
    return bool(progress)


def progress_bar(job_id: str, stream=None):
    """A bar for job ``job_id``: tqdm's when it is installed, else :class:`ProgressBar`."""
    try:
        if in_notebook() and importlib.util.find_spec("ipywidgets") is None:
            from tqdm.std import tqdm  # what tqdm.auto falls back to, without its warning
        else:
            from tqdm.auto import tqdm
    except ImportError:
        return ProgressBar(job_id, stream)
    return TqdmBar(tqdm, job_id, stream)


class TqdmBar:
    """The same ``update``/``close`` over a tqdm bar (``tqdm.auto``: a widget in Jupyter)."""

    def __init__(self, tqdm, job_id: str, stream=None):
        self._bar = tqdm(total=None, desc=job_id, unit="task", file=stream or sys.stderr,
                         dynamic_ncols=True, leave=True)

    def update(self, done: int, failed: int, total: int, state: str) -> None:
        if self._bar.total != total:
            self._bar.total = total
        self._bar.n = done + failed
        self._bar.set_postfix_str((f"{failed} failed, " if failed else "") + str(state), refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()


class ProgressBar:
    """Redraws one line on stderr from JobInfo-like objects (done, failed, total).

    The bar takes what the terminal's width leaves after the text (``width`` at most).
    """

    def __init__(self, job_id: str, stream=None, width: int = 30):
        self.job_id, self.stream, self.width = job_id, stream or sys.stderr, width
        self.started = time.monotonic()
        self._last = ""

    def update(self, done: int, failed: int, total: int, state: str) -> None:
        finished = done + failed
        frac = finished / total if total else 1.0
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = finished / elapsed
        eta = (total - finished) / rate if rate > 0 else float("inf")
        counts = f" {finished}/{total}" + (f" ({failed} failed)" if failed else "")
        speed = f" {rate:,.0f}/s" + (f" ETA {eta:,.0f}s" if eta != float("inf") and finished < total
                                     else "")
        columns = shutil.get_terminal_size((80, 24)).columns - 1  # the last column wraps
        # What gives way on a narrow terminal: first the bar, then the rate, then the id.
        tail = counts + speed + f" {state}"
        if len(self.job_id) + len(tail) + 8 > columns:
            tail = counts + f" {state}"
        width = max(0, min(self.width, columns - len(self.job_id) - len(tail) - 3))
        filled = int(width * frac)
        bar = f" [{'#' * filled}{'.' * (width - filled)}]" if width >= 5 else ""
        line = "\r" + (self.job_id + bar + tail)[-columns:]
        if line != self._last:
            self.stream.write(line.ljust(len(self._last)))
            self.stream.flush()
            self._last = line

    def close(self) -> None:
        if self._last:
            self.stream.write("\n")
            self.stream.flush()
