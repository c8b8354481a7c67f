"""Names that become paths: one grammar, checked by the worker, the head and the client.

A task file's path and an ``output_files`` pattern travel from client to worker, worker
to head and head to client; each step that turns one into a file on its disk checks it
here (defence in depth), so none of them can be steered outside its folder.
"""

from __future__ import annotations

import hashlib
import os
import re

BLOB_HASH_RE = re.compile(r"^[0-9a-f]{64}$")
MAX_PATH_CHARS = 1024


def blob_hash(data: bytes) -> str:
    """The content address of ``data``: hex sha256."""
    return hashlib.sha256(data).hexdigest()


def is_blob_hash(name: str) -> bool:
    """Is ``name`` a blob's name: a hex sha256 (64 lowercase hex characters)?"""
    return isinstance(name, str) and BLOB_HASH_RE.match(name) is not None


def relative_path(path: str, what: str = "task file path") -> str:
    """``path`` if it is relative, normalised, with ``/`` separators, no ``..`` and no
    absolute or empty part; else ValueError saying what is wrong and what would be right."""
    problem = _path_problem(path)
    if problem:
        raise ValueError(f"{what} {path[:200]!r} {problem}: use a relative path inside the "
                         f"task's directory such as 'out/plot.png'")
    return path


def _path_problem(path: str) -> str:
    if not isinstance(path, str) or not path:
        return "is empty"
    if len(path) > MAX_PATH_CHARS:
        return f"is longer than {MAX_PATH_CHARS} characters"
    if "\x00" in path or "\\" in path:
        return "holds a NUL or a backslash"
    if path.startswith("/"):
        return "is absolute"
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "has an empty, '.' or '..' part"
    return ""


def output_pattern(pattern: str) -> str:
    """An ``output_files`` glob pattern, checked as a relative path (``*`` allowed)."""
    return relative_path(pattern, "output_files pattern")


def inside(dest: str, path: str) -> str:
    """``dest/path`` after checking ``path`` and that the result stays inside ``dest``
    (no symlink in ``dest`` leads out)."""
    relative_path(path)
    root = os.path.realpath(dest)
    target = os.path.realpath(os.path.join(root, path))
    if os.path.commonpath([root, target]) != root:
        raise ValueError(f"task file path {path!r} leads outside {dest} (through a link)")
    return os.path.join(dest, path)
