"""Blobs as files between processes on the head's host (client, head, workers).

A large blob crosses gRPC in 1-4 MB pieces at a few hundred MB/s here; on one host it
can instead be written into the head's inbox and renamed into its store, and read (or
hard-linked) from the store's file. The head always checks an inbox file against its
hash; readers check the size. ``RXGRID_LOCAL_BLOBS=0`` turns the shortcut off (then
everything streams, as between hosts).
"""

from __future__ import annotations

import contextlib
import os
import secrets


def enabled() -> bool:
    return os.environ.get("RXGRID_LOCAL_BLOBS", "1") != "0"


def write_into_inbox(inbox: str, data) -> str | None:
    """Write ``data`` as a new file in ``inbox``; its name, or None if that is not possible
    here (no such folder on this host, no write access, disk full)."""
    if not inbox or not os.path.isdir(inbox):
        return None
    name = f"{secrets.token_hex(16)}.blob"
    path = os.path.join(inbox, name)
    try:
        with open(path, "wb") as f:
            f.write(data)
    except OSError:
        discard(inbox, name)
        return None
    return name


def discard(inbox: str, name: str) -> None:
    """Remove an inbox file the head did not take (it removes those it takes or refuses)."""
    with contextlib.suppress(OSError):
        os.unlink(os.path.join(inbox, name))


def read_file(path: str, size: int) -> bytes | None:
    """The bytes of the head's file of a blob, or None if it cannot be read here."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    return data if len(data) == size else None
