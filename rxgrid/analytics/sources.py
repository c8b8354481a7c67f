"""What ``data=`` may be, resolved in one place for every fit and summary.

    data_source(data, in_process=...) ──► a path that get_info / read_block read
      block data set directory       ──► itself
      Parquet file or directory      ──► a view: one block per row group (parquet.open_view)
      CSV file (.tsv: tab-separated) ──► imported to a scratch data set (removed afterwards)
      pandas DataFrame (or a dict of ──► in_process and small: ``memory:<id>``, blocks that
      equally long arrays)                are views of its columns, nothing written;
                                         else written to a scratch data set (removed after)

``in_process`` says whether the blocks are read by this process only (the sequential
map); a cluster's workers read only what is on disk. Scratch data sets and views go
under ``$RXGRID_SCRATCH`` (default: ``<tempdir>/rxgrid-<uid>``); a cluster's workers must
be able to read it, so on several hosts point it at shared storage, as the data path.
``keep=True`` leaves a scratch data set in place (a non-waiting fit reads it after the
call returns), and so does a Ctrl-C (a waiting fit on a cluster then goes on detached).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from ..errors import interrupt_behind
from .dataset import DEFAULT_BLOCK_ROWS, MANIFEST, MEMORY_PREFIX, _is_frame, register_memory, release_memory
from .errors import DatasetError

# A DataFrame larger than this is written to disk even when it could be read in place.
MEMORY_LIMIT_BYTES = 512 << 20
CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".csv.bz2", ".csv.zst")


def scratch_dir() -> Path:
    """Where scratch data sets and Parquet views are made (``$RXGRID_SCRATCH`` or a temp dir)."""
    user = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    root = os.environ.get("RXGRID_SCRATCH") or os.path.join(tempfile.gettempdir(), f"rxgrid-{user}")
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def frame_block_rows(rows: int) -> int:
    """Block size for a DataFrame: about 8 blocks (tasks to spread), 10,000 to 500,000 rows each."""
    return min(DEFAULT_BLOCK_ROWS, max(10_000, math.ceil(rows / 8)))


def describe(data) -> str:
    """How a ``data=`` value is named in a result: its path, or the kind of in-memory data."""
    if _is_frame(data):
        return f"<DataFrame: {len(data)} rows>"
    if isinstance(data, Mapping):
        return "<dict of arrays>"
    return os.fspath(data)


def _nbytes(data) -> int:
    if _is_frame(data):
        return int(data.memory_usage(index=False, deep=False).sum())
    return sum(getattr(v, "nbytes", 0) for v in data.values())


def _rows(data) -> int:
    return len(data) if _is_frame(data) else len(next(iter(data.values()), ()))


@contextmanager
def data_source(data, *, in_process: bool = True, keep: bool = False) -> Iterator[str]:
    """A path to read ``data`` through (see the module docstring); scratch copies made for it
    are removed when the block ends, unless ``keep``."""
    if _is_frame(data) or isinstance(data, Mapping):
        yield from _in_memory(data, in_process, keep)
        return
    try:
        path = os.fspath(data)
    except TypeError:
        raise DatasetError(f"data must be a data set path, a Parquet or CSV path, or a pandas "
                           f"DataFrame; got a {type(data).__name__}") from None
    from .parquet import is_parquet, open_view
    if path.startswith(MEMORY_PREFIX) or (Path(path) / MANIFEST).exists():
        yield path
    elif is_parquet(path):
        yield open_view(path, scratch_dir() / "views")
    elif os.path.isfile(path) and path.lower().endswith(CSV_SUFFIXES):
        yield from _scratch(path, keep)
    else:
        yield path  # get_info says what is wrong with it


def _in_memory(data, in_process: bool, keep: bool) -> Iterator[str]:
    from .dataset import frame_columns
    block_rows = frame_block_rows(_rows(data))
    if in_process and _nbytes(data) <= MEMORY_LIMIT_BYTES:
        columns = frame_columns(data) if _is_frame(data) else data
        path = register_memory(uuid.uuid4().hex, columns, block_rows)
        try:
            yield path
        finally:
            release_memory(path)
        return
    yield from _scratch(data, keep, block_rows)


def _scratch(data, keep: bool, block_rows: int = DEFAULT_BLOCK_ROWS) -> Iterator[str]:
    from .dataset import write_dataset
    from .importing import import_data
    path = scratch_dir() / f"data-{uuid.uuid4().hex}"
    try:
        if isinstance(data, Mapping) and not _is_frame(data):
            write_dataset(path, data, block_rows)
        else:
            tabs = isinstance(data, str) and data.lower().endswith(".tsv")
            import_data(data, path, block_rows=block_rows, delimiter="\t" if tabs else ",")
        yield str(path)
    except BaseException as exc:  # a waiting fit on a cluster detaches on Ctrl-C and goes on reading it
        keep = keep or interrupt_behind(exc) is not None
        raise
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)
