"""Lines from the processes of a local cluster to the user's program: a FIFO in the state
dir, read by a thread that prints each line on this program's stderr (in a notebook, in
the cell's output).

Workers and their executors write their logs to files; a few things the user waits for
(the first compilation of a kernel: ``rxgrid/kernels/_shared_cache.py``) must be seen
where the user is. They find the FIFO through ``RXGRID_NOTICES`` in their environment.
"""

from __future__ import annotations

import os
import select
import sys
import threading

from ..kernels._shared_cache import NOTICES_ENV


class NoticeRelay:
    """A FIFO at ``directory/notices`` whose lines are printed on ``sys.stderr``."""

    env_name = NOTICES_ENV

    def __init__(self, directory: str):
        self.path = os.path.join(directory, "notices")
        if os.path.lexists(self.path):  # left by an earlier cluster on this state dir
            os.unlink(self.path)
        os.mkfifo(self.path, 0o600)
        # Read and write: the FIFO never reads as ended, and writers' opens never fail.
        self._fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK)
        self._stop_read, self._stop_write = os.pipe()
        self._thread = threading.Thread(target=self._relay, name="rxgrid-notices", daemon=True)
        self._thread.start()

    def _relay(self) -> None:
        pending = b""
        while True:
            ready, _, _ = select.select([self._fd, self._stop_read], [], [])
            if self._stop_read in ready:
                return
            try:
                pending += os.read(self._fd, 4096)
            except BlockingIOError:
                continue
            *lines, pending = pending.split(b"\n")
            for line in lines:
                print(line.decode(errors="replace"), file=sys.stderr, flush=True)

    def close(self) -> None:
        """Stop relaying and remove the FIFO."""
        os.write(self._stop_write, b"x")
        self._thread.join(5)
        for fd in (self._fd, self._stop_read, self._stop_write):
            os.close(fd)
        try:
            os.unlink(self.path)
        except OSError:
            pass


def relay(directory: str) -> NoticeRelay | None:
    """A relay in ``directory``, or None where there are no FIFOs."""
    if not hasattr(os, "mkfifo"):
        return None
    return NoticeRelay(directory)
