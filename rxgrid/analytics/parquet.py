"""Parquet files read as block data sets: one block per row group, streamed (needs pyarrow).

A Parquet file, or a directory of them, becomes a *view*: a small directory whose
manifest lists the files, one block per (file, row group), and the variables with
their types and levels. ``get_info`` reads the view like any data set and
``read_block`` reads one row group's wanted columns from the file itself, so a fit
never loads a file whole and the view costs a few kilobytes::

    data.parquet ──open_view──► views/<key>/manifest.json   {"source": {"kind": "parquet", ...}}
                                     │ read_block(view, b, columns)
                                     ▼
                       pq.ParquetFile(file).read_row_group(rg, columns) → numpy

Column types: floats stay float32/float64; integers and booleans are int64 and bool
when the files' statistics show no nulls, else float64 with NaN; strings and
dictionary columns are categories. Other types (dates, timestamps, nested) are left
out of the view, with a warning. Levels are the union over all row groups of each
column's dictionary, so a code means the same level in every block: in the files'
order for dictionary columns (a pandas categorical keeps its categories' order), sorted
for plain string columns. They are found once when the view is made, reading only the
categorical columns, one row group at a time.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .dataset import FORMAT, MANIFEST, VERSION, Categorical, DatasetInfo, code_dtype
from .errors import DatasetError

SUFFIXES = (".parquet", ".pq", ".parq")


def _pyarrow():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise DatasetError("reading Parquet needs pyarrow: pip install 'rxgrid[analytics]'") from None
    return pa, pq


def is_parquet(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a Parquet file or a directory holding Parquet files (and no manifest)."""
    p = Path(path)
    if p.is_dir():
        return not (p / MANIFEST).exists() and any(parquet_files(p))
    return p.suffix.lower() in SUFFIXES and p.is_file()


def parquet_files(path: str | os.PathLike) -> list[str]:
    """The Parquet files of ``path``: itself, or those under a directory, in sorted order."""
    p = Path(path)
    if not p.is_dir():
        return [str(p.resolve())]
    return sorted(str(f.resolve()) for f in p.rglob("*") if f.suffix.lower() in SUFFIXES and f.is_file())


def storage_kind(arrow_type, nulls: bool) -> str | None:
    """The data set type of an Arrow column type (``None``: not storable)."""
    pa, _ = _pyarrow()
    t = arrow_type
    if pa.types.is_dictionary(t) or pa.types.is_string(t) or pa.types.is_large_string(t) \
            or getattr(pa.types, "is_string_view", lambda _: False)(t):
        return "category"
    if pa.types.is_boolean(t):
        return "float64" if nulls else "bool"
    if pa.types.is_integer(t):
        return "float64" if nulls else "int64"
    if pa.types.is_float32(t):
        return "float32"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "float64"
    return None


def _may_have_nulls(metadata, column: int) -> bool:
    for rg in range(metadata.num_row_groups):
        stats = metadata.row_group(rg).column(column).statistics
        if stats is None or not stats.has_null_count or stats.null_count > 0:
            return True
    return False


def _schema(files: list[str]) -> tuple[dict[str, str], dict[str, bool], list[tuple[int, int, int]]]:
    """Storable columns' kinds, whether each categorical is a dictionary column, and the blocks."""
    pa, pq = _pyarrow()
    kinds: dict[str, str] = {}
    dictionary: dict[str, bool] = {}
    skipped, blocks, first_names = [], [], None
    for f, file in enumerate(files):
        parquet = pq.ParquetFile(file)
        schema, metadata = parquet.schema_arrow, parquet.metadata
        if first_names is None:
            first_names = schema.names
        elif schema.names != first_names:
            raise DatasetError(f"{file} has columns {schema.names}, the first file {first_names}")
        leaves = {metadata.schema.column(i).path: i for i in range(metadata.num_columns)}
        for field in schema:
            nulls = field.name not in leaves or _may_have_nulls(metadata, leaves[field.name])
            kind = storage_kind(field.type, nulls)
            if kind is None:
                skipped.append(f"{field.name} ({field.type})")
                continue
            previous = kinds.setdefault(field.name, kind)
            if previous != kind:  # files disagree: a number that may be missing is float64
                if "category" in (previous, kind) or "float32" in (previous, kind):
                    raise DatasetError(f"column {field.name!r} is {previous} in one file, {kind} in {file}")
                kinds[field.name] = "float64"
            dictionary[field.name] = dictionary.get(field.name, True) and pa.types.is_dictionary(field.type)
        blocks += [(f, rg, metadata.row_group(rg).num_rows) for rg in range(metadata.num_row_groups)]
    if skipped:
        warnings.warn(f"columns of types a data set cannot hold are left out: {sorted(set(skipped))}",
                      stacklevel=3)
    return kinds, dictionary, blocks


def _values_of(dictionary) -> list[str]:
    return [str(v) for v in dictionary.to_pylist() if v is not None]


def scan_levels(files: list[str], columns: Sequence[str], dictionary: dict[str, bool]) -> dict[str, list]:
    """Levels of each categorical column over every row group of every file (see the module doc)."""
    _, pq = _pyarrow()
    found: dict[str, dict[str, None]] = {c: {} for c in columns}  # dicts keep first-seen order
    if not columns:
        return {}
    for file in files:
        parquet = pq.ParquetFile(file, read_dictionary=list(columns))
        for rg in range(parquet.metadata.num_row_groups):
            table = parquet.read_row_group(rg, columns=list(columns))
            for name in columns:
                for chunk in table.column(name).chunks:
                    found[name].update(dict.fromkeys(_values_of(chunk.dictionary)))
    return {c: list(v) if dictionary[c] else sorted(v) for c, v in found.items()}


def open_view(path: str | os.PathLike, views_dir: str | os.PathLike) -> str:
    """A view of the Parquet file or directory ``path`` (made once per version of the files)."""
    files = parquet_files(path)
    if not files:
        raise DatasetError(f"{path} holds no Parquet files")
    identity = [(f, os.stat(f).st_mtime_ns, os.stat(f).st_size) for f in files]
    key = hashlib.sha256(json.dumps([VERSION, identity]).encode()).hexdigest()[:20]
    view = Path(views_dir) / key
    if (view / MANIFEST).exists():
        return str(view)
    kinds, dictionary, blocks = _schema(files)
    levels = scan_levels(files, [n for n, k in kinds.items() if k == "category"], dictionary)
    manifest = {
        "format": FORMAT, "version": VERSION,
        "rows": sum(rows for _, _, rows in blocks),
        "block_rows": [rows for _, _, rows in blocks],
        "variables": [{"name": n, "type": k, "levels": levels.get(n)} for n, k in kinds.items()],
        "source": {"kind": "parquet", "files": files, "blocks": [[f, rg] for f, rg, _ in blocks]},
    }
    view.mkdir(parents=True, exist_ok=True)
    tmp = view / f"{MANIFEST}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(manifest))
    tmp.replace(view / MANIFEST)
    return str(view)


def arrow_to_numpy(column, kind: str, levels: Sequence[str] | None) -> np.ndarray:
    """One Arrow (chunked) column as a data set array of ``kind`` (categories as codes into ``levels``)."""
    pa, _ = _pyarrow()
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if kind == "category":
        return encode(column, levels).codes
    if kind in ("int64", "bool"):
        return column.to_numpy(zero_copy_only=False).astype(kind, copy=False)
    if pa.types.is_boolean(column.type) or pa.types.is_decimal(column.type) or column.null_count:
        column = column.cast(pa.float64() if kind == "float64" else pa.float32())
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=kind)


def encode(column, levels: Sequence[str] | None) -> Categorical:
    """An Arrow array as a ``Categorical``: into ``levels`` (values outside are an error), or
    into its own distinct values, sorted, when ``levels`` is None."""
    pa, _ = _pyarrow()
    if not pa.types.is_dictionary(column.type):
        column = column.dictionary_encode()
    values = [str(v) if v is not None else None for v in column.dictionary.to_pylist()]
    if levels is None:
        levels = sorted({v for v in values if v is not None})
    index = {level: code for code, level in enumerate(levels)}
    unknown = sorted({v for v in values if v is not None and v not in index})
    if unknown:
        raise DatasetError(f"values {unknown[:5]} are not among the levels {list(levels)[:20]}")
    mapping = np.array([index.get(v, -1) if v is not None else -1 for v in values] + [-1], dtype=np.int32)
    indices = column.indices.fill_null(len(values)).to_numpy(zero_copy_only=False)
    return Categorical(mapping[indices].astype(code_dtype(len(levels)), copy=False), tuple(levels))


def read_row_group(info: DatasetInfo, block: int, columns: Sequence[str]) -> dict[str, np.ndarray]:
    """Block ``block`` of a Parquet view: one row group's ``columns`` as data set arrays."""
    _, pq = _pyarrow()
    source = info.source
    f, rg = source["blocks"][block]
    variables = {name: info.variable(name) for name in columns}
    categorical = [n for n, v in variables.items() if v.type == "category"]
    parquet = pq.ParquetFile(source["files"][f], read_dictionary=categorical)
    table = parquet.read_row_group(rg, columns=list(dict.fromkeys(columns)))
    return {n: arrow_to_numpy(table.column(n), v.type, v.levels) for n, v in variables.items()}
