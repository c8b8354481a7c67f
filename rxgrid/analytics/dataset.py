"""Block-columnar data sets on disk, like RevoScaleR's .xdf files.

A data set is a directory::

    airline/
      manifest.json            names, types, category levels, rows per block
      block_000000/c000.npy    one .npy file per column per block
      block_000000/c001.npy
      block_000001/...

Every column of every block is a plain ``.npy`` file, so a worker reads one
block of the columns it needs with ``numpy.load(mmap_mode="r")`` and nothing
else. Categorical columns are stored as integer codes (-1 for missing) with the
level names in the manifest, in the narrowest of int8, int16 and int32 that
holds the levels known when the block is written (levels only grow, so every
block's codes stay valid); a 7-level column costs one byte per row.
The manifest is written last, by ``close()``, so a data set that is being
written is never mistaken for a finished one.

Two other kinds of data set answer ``get_info`` and ``read_block`` the same way, so
every fit and summary reads them unchanged:

- a *view*: a directory whose manifest has a ``source`` (Parquet files, one block per
  row group, read from the files themselves; see ``rxgrid.analytics.parquet``);
- an *in-memory* data set, ``memory:<id>``, registered by this process (a pandas
  DataFrame fitted where it is; see ``rxgrid.analytics.sources``).

Types: ``float64`` and ``float32`` (NaN is missing), ``int64``, ``bool`` and
``category``. A column's type is fixed by the first ``append``: float32 input
stays float32 (half the bytes to read, about 7 significant digits), any other
float becomes float64.
"""

import json
import os
import shutil
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DatasetError

FORMAT = "rxgrid.dataset"
VERSION = 1
MANIFEST = "manifest.json"
DEFAULT_BLOCK_ROWS = 500_000
MISSING_TOKENS = frozenset({"", "NA", "NaN", "nan", "NULL", "null"})
TYPES = ("float64", "float32", "int64", "bool", "category")


@dataclass(frozen=True)
class Categorical:
    """A categorical column: int codes into ``levels`` (-1 marks a missing value)."""

    codes: np.ndarray
    levels: tuple[str, ...]

    @classmethod
    def from_values(cls, values: Iterable, levels: Sequence[str] | None = None) -> "Categorical":
        """Encode values; levels default to the sorted distinct non-missing values."""
        items = values.tolist() if isinstance(values, np.ndarray) else list(values)
        strings = np.array([str(v) for v in items], dtype=object)
        missing = np.array([v is None or str(v) in MISSING_TOKENS for v in items], dtype=bool)
        if levels is None:
            levels = sorted(set(strings[~missing].tolist()))
        lookup = {level: code for code, level in enumerate(levels)}
        unknown = set(strings[~missing].tolist()) - lookup.keys()
        if unknown:
            raise DatasetError(f"values {sorted(unknown)[:5]} are not among the levels {list(levels)}")
        codes = np.array([lookup.get(s, -1) for s in strings.tolist()], dtype=np.int32)
        codes[missing] = -1
        return cls(codes, tuple(levels))

    def __len__(self) -> int:
        return len(self.codes)


@dataclass(frozen=True)
class VariableInfo:
    """Name, storage type and (for categoricals) level names of a column."""

    name: str
    type: str
    levels: tuple[str, ...] | None = None


@dataclass(frozen=True)
class DatasetInfo:
    """What ``get_info`` reports about a data set (RevoScaleR's ``rxGetInfo``)."""

    path: str
    rows: int
    block_rows: tuple[int, ...]
    variables: tuple[VariableInfo, ...]
    source: dict | None = field(default=None, compare=False, repr=False)  # a view's files

    @property
    def blocks(self) -> int:
        """Number of blocks."""
        return len(self.block_rows)

    @property
    def names(self) -> list[str]:
        """Column names in storage order."""
        return [v.name for v in self.variables]

    def variable(self, name: str) -> VariableInfo:
        """The variable called ``name``; ``DatasetError`` if there is none."""
        for v in self.variables:
            if v.name == name:
                return v
        raise DatasetError(f"no column {name!r} in {self.path}; columns are {self.names}")

    def __str__(self) -> str:
        lines = [
            f"File name: {self.path}",
            f"Number of observations: {self.rows}",
            f"Number of variables: {len(self.variables)}",
            f"Number of blocks: {self.blocks}",
            "Variable information:",
        ]
        for i, v in enumerate(self.variables, 1):
            levels = f" {len(v.levels)} levels: {' '.join(v.levels)}" if v.levels is not None else ""
            lines.append(f"Var {i}: {v.name}, Type: {v.type}{levels}")
        return "\n".join(lines)


def _column_file(path: Path, block: int, column: int) -> Path:
    return path / f"block_{block:06d}" / f"c{column:03d}.npy"


def _storage_type(values) -> str:
    if isinstance(values, Categorical):
        return "category"
    dtype = np.asarray(values).dtype
    if dtype.kind in "USO":
        return "category"
    if dtype == np.float32:
        return "float32"
    return {"b": "bool", "i": "int64", "u": "int64", "f": "float64"}.get(dtype.kind) or _bad_kind(dtype.kind)


def code_dtype(n_levels: int) -> np.dtype:
    """The narrowest signed integer type that holds codes ``-1 .. n_levels - 1``."""
    for dtype in (np.int8, np.int16, np.int32):
        if n_levels <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    raise DatasetError(f"a categorical column cannot have {n_levels} levels (at most 2**31 - 1)")


def _bad_kind(kind: str) -> str:
    raise DatasetError(f"cannot store a column of numpy kind {kind!r}")


class DatasetWriter:
    """Writes a data set block by block; ``append`` as often as needed, then ``close``.

    Columns are fixed by the first ``append``. Categorical levels may grow
    between appends (new levels are added at the end, existing codes keep
    their meaning); pass ``Categorical`` values to fix the level order.
    """

    def __init__(
        self, path: str | os.PathLike, block_rows: int = DEFAULT_BLOCK_ROWS, overwrite: bool = False
    ):
        if block_rows < 1:
            raise DatasetError(f"block_rows must be >= 1, got {block_rows}")
        self.path = Path(path)
        if self.path.exists():
            if not overwrite:
                raise DatasetError(f"{self.path} already exists (pass overwrite=True to replace it)")
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True)
        self.block_rows = int(block_rows)
        self._names: list[str] | None = None
        self._types: dict[str, str] = {}
        self._levels: dict[str, list[str]] = {}
        self._pending: dict[str, list[np.ndarray]] = {}
        self._pending_rows = 0
        self._written: list[int] = []
        self._closed = False

    def __enter__(self) -> "DatasetWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()

    def append(self, columns: Mapping[str, object]) -> None:
        """Add rows: a mapping of column name to equally long arrays, or a pandas DataFrame."""
        if self._closed:
            raise DatasetError("the writer is closed")
        if _is_frame(columns):
            columns = frame_columns(columns)
        if self._names is None:
            self._start(columns)
        if list(columns) != self._names:
            raise DatasetError(f"columns {list(columns)} differ from the first append's {self._names}")
        arrays = {name: self._convert(name, values) for name, values in columns.items()}
        lengths = {len(a) for a in arrays.values()}
        if len(lengths) > 1:
            raise DatasetError(f"columns have different lengths: {sorted(lengths)}")
        for name, array in arrays.items():
            self._pending[name].append(array)
        self._pending_rows += lengths.pop() if lengths else 0
        while self._pending_rows >= self.block_rows:
            self._flush(self.block_rows)

    def close(self) -> DatasetInfo:
        """Write the last partial block and the manifest; return the data set's info."""
        if not self._closed:
            if self._pending_rows:
                self._flush(self._pending_rows)
            self._write_manifest()
            self._closed = True
        return get_info(self.path)

    def _start(self, columns: Mapping[str, object]) -> None:
        if len(columns) == 0:
            raise DatasetError("a data set needs at least one column")
        self._names = list(columns)
        for name, values in columns.items():
            self._types[name] = _storage_type(values)
            self._pending[name] = []
            if self._types[name] == "category":
                self._levels[name] = list(values.levels) if isinstance(values, Categorical) else []

    def _convert(self, name: str, values) -> np.ndarray:
        kind = self._types[name]
        if kind != "category":
            array = np.asarray(values)
            if array.ndim != 1 or _storage_type(array) == "category":
                raise DatasetError(f"column {name!r} must be a 1-d numeric array")
            if kind in ("int64", "bool") and array.dtype.kind == "f":
                raise DatasetError(f"column {name!r} was {kind} and now gets floats")
            return array.astype(kind)
        categorical = values if isinstance(values, Categorical) else Categorical.from_values(values)
        return self._recode(name, categorical)

    def _recode(self, name: str, categorical: Categorical) -> np.ndarray:
        levels = self._levels[name]
        for level in categorical.levels:
            if level not in levels:
                levels.append(level)
        index = {level: code for code, level in enumerate(levels)}
        mapping = np.array([index[level] for level in categorical.levels] + [-1], dtype=np.int32)
        codes = np.asarray(categorical.codes)
        return mapping[np.where(codes < 0, len(categorical.levels), codes)]

    def _flush(self, rows: int) -> None:
        block = len(self._written)
        (self.path / f"block_{block:06d}").mkdir()
        for column, name in enumerate(self._names):
            joined = np.concatenate(self._pending[name])
            if self._types[name] == "category":
                joined = joined.astype(code_dtype(len(self._levels[name])), copy=False)
            np.save(_column_file(self.path, block, column), joined[:rows])
            self._pending[name] = [joined[rows:]]
        self._pending_rows -= rows
        self._written.append(rows)

    def _write_manifest(self) -> None:
        variables = [
            {"name": n, "type": self._types[n], "levels": self._levels.get(n)} for n in self._names or []
        ]
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "rows": sum(self._written),
            "block_rows": self._written,
            "variables": variables,
        }
        tmp = self.path / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(manifest, indent=1))
        tmp.replace(self.path / MANIFEST)


def write_dataset(
    path: str | os.PathLike,
    columns: Mapping[str, object],
    block_rows: int = DEFAULT_BLOCK_ROWS,
    overwrite: bool = False,
) -> DatasetInfo:
    """Write in-memory columns (numpy arrays or ``Categorical``, or a pandas DataFrame) as a data set."""
    writer = DatasetWriter(path, block_rows, overwrite)
    writer.append(columns)
    return writer.close()


def get_info(path: str | os.PathLike) -> DatasetInfo:
    """Rows, blocks and variables (names, types, levels) of a data set."""
    if os.fspath(path).startswith(MEMORY_PREFIX):
        return _memory_entry(path)[0]
    manifest_path = Path(path) / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
    except FileNotFoundError:
        raise DatasetError(f"{path} is not a data set (no {MANIFEST}; unfinished or wrong path)") from None
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise DatasetError(f"{path}: unsupported data set format {manifest.get('format')!r}")
    variables = tuple(
        VariableInfo(v["name"], v["type"], tuple(v["levels"]) if v["levels"] is not None else None)
        for v in manifest["variables"]
    )
    return DatasetInfo(str(path), int(manifest["rows"]), tuple(manifest["block_rows"]), variables,
                       manifest.get("source"))


def read_block(
    path: str | os.PathLike,
    block: int,
    columns: Sequence[str] | None = None,
    mmap: bool = True,
    info: DatasetInfo | None = None,
) -> dict[str, np.ndarray]:
    """Columns of one block, memory-mapped; categoricals come back as integer codes.

    Codes are int8, int16 or int32 (see the module docstring), -1 for missing.
    """
    info = info or get_info(path)
    if not 0 <= block < info.blocks:
        raise DatasetError(f"block {block} out of range: {path} has {info.blocks} blocks")
    names = info.names
    wanted = names if columns is None else list(columns)
    for name in wanted:
        info.variable(name)
    if info.source is not None:
        from .parquet import read_row_group  # a view: the block is a row group of a Parquet file
        return read_row_group(info, block, wanted)
    if info.path.startswith(MEMORY_PREFIX):
        block_columns = _memory_entry(info.path)[1][block]
        return {name: block_columns[name] for name in wanted}
    files = {name: _column_file(Path(path), block, names.index(name)) for name in wanted}
    with _NPY_HEADERS:  # mapping reads only the headers: cheap to take one at a time
        mapped = {name: np.load(file, mmap_mode="r") for name, file in files.items()}
    return mapped if mmap else {name: np.array(column) for name, column in mapped.items()}


# numpy reads a .npy header with ast.literal_eval, and CPython 3.11's AST constructor
# keeps its recursion depth in state shared by all threads: two threads parsing at once
# can fail with "SystemError: AST constructor recursion depth mismatch" (CPython
# gh-106905; seen here as a failed k-means block task in a thread-pool context).
_NPY_HEADERS = threading.Lock()


class Columns(dict):
    """Columns read whole from a data set: name -> array (categoricals as integer codes).

    ``to_pandas()`` gives a DataFrame with categoricals as pandas categoricals.
    """

    def __init__(self, arrays: Mapping[str, np.ndarray], info: DatasetInfo):
        super().__init__(arrays)
        self.info = info

    def to_pandas(self):
        """A pandas DataFrame of these columns; categorical codes become ``pandas.Categorical``."""
        import pandas as pd

        data = {}
        for name, values in self.items():
            levels = self.info.variable(name).levels
            data[name] = values if levels is None else pd.Categorical.from_codes(
                np.asarray(values, dtype=np.int64), categories=list(levels))
        return pd.DataFrame(data)


def read_dataset(path: str | os.PathLike, columns: Sequence[str] | None = None) -> Columns:
    """All blocks of the given columns, concatenated in memory (for small data).

    A dict of name -> array (categoricals as codes) with a ``to_pandas()`` method.
    """
    info = get_info(path)
    blocks = [read_block(path, b, columns, mmap=False, info=info) for b in range(info.blocks)]
    names = info.names if columns is None else list(columns)
    if not blocks:
        return Columns({name: np.empty(0, dtype=_empty_dtype(info.variable(name).type))
                        for name in names}, info)
    return Columns({name: np.concatenate([b[name] for b in blocks]) for name in names}, info)


def _empty_dtype(kind: str):
    return np.int32 if kind == "category" else np.dtype(kind)


# --- in-memory data sets and pandas ---------------------------------------------------

MEMORY_PREFIX = "memory:"
_MEMORY: dict[str, tuple[DatasetInfo, list[dict[str, np.ndarray]]]] = {}


def _memory_entry(path) -> tuple[DatasetInfo, list[dict[str, np.ndarray]]]:
    try:
        return _MEMORY[os.fspath(path)]
    except KeyError:
        raise DatasetError(f"{path} is not an in-memory data set of this process (released, or "
                           "sent to another process: write it with write_dataset)") from None


def register_memory(name: str, columns: Mapping[str, object], block_rows: int) -> str:
    """Make ``columns`` (arrays or ``Categorical``) readable as the data set ``memory:<name>``.

    Blocks are views of the arrays (no copy for arrays already of a storage type).
    Release it with ``release_memory``.
    """
    path = MEMORY_PREFIX + name
    arrays, variables = {}, []
    for column, values in columns.items():
        kind = _storage_type(values)
        if kind == "category":
            categorical = values if isinstance(values, Categorical) else Categorical.from_values(values)
            arrays[column] = np.asarray(categorical.codes).astype(code_dtype(len(categorical.levels)))
            variables.append(VariableInfo(column, kind, tuple(categorical.levels)))
        else:
            arrays[column] = np.asarray(values).astype(kind, copy=False)
            variables.append(VariableInfo(column, kind))
    rows = len(next(iter(arrays.values()))) if arrays else 0
    starts = range(0, rows, max(int(block_rows), 1))
    blocks = [{n: a[s:s + block_rows] for n, a in arrays.items()} for s in starts]
    info = DatasetInfo(path, rows, tuple(min(block_rows, rows - s) for s in starts), tuple(variables))
    _MEMORY[path] = (info, blocks)
    return path


def release_memory(path: str) -> None:
    """Forget the in-memory data set ``path`` (nothing happens if it is not registered)."""
    _MEMORY.pop(os.fspath(path), None)


def _is_frame(columns) -> bool:
    return hasattr(columns, "dtypes") and hasattr(columns, "columns") and hasattr(columns, "iloc")


def frame_columns(frame) -> dict[str, object]:
    """A pandas DataFrame's columns as storable arrays: categoricals and strings become
    ``Categorical`` (pandas' level order), nullable numbers with missing values float64
    with NaN, datetimes are refused."""
    import pandas as pd

    columns: dict[str, object] = {}
    for name in frame.columns:
        series = frame[name]
        dtype = series.dtype
        if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype) \
                or pd.api.types.is_object_dtype(dtype):
            categorical = series if isinstance(dtype, pd.CategoricalDtype) else series.astype("category")
            levels = tuple(str(level) for level in categorical.cat.categories)
            columns[str(name)] = Categorical(categorical.cat.codes.to_numpy(np.int32), levels)
        elif pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype):
            if series.isna().any():
                columns[str(name)] = series.to_numpy(np.float64, na_value=np.nan)
            else:
                columns[str(name)] = series.to_numpy(bool if pd.api.types.is_bool_dtype(dtype) else np.int64)
        elif pd.api.types.is_float_dtype(dtype):
            kind = np.float32 if dtype == np.float32 or str(dtype) == "Float32" else np.float64
            columns[str(name)] = series.to_numpy(kind, na_value=np.nan)
        else:
            raise DatasetError(f"column {name!r} has type {dtype}, which a data set cannot hold "
                               "(numbers, booleans, strings and categoricals can be stored)")
    return columns
