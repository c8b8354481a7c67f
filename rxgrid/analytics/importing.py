"""``import_data`` (RevoScaleR's ``rxImport``): CSV, Parquet or a DataFrame to a block data set.

The parsing is pyarrow's or pandas', never Python's per value::

    CSV      ──pyarrow.csv.open_csv (threads) or pandas.read_csv(chunksize)──┐
    Parquet  ──one row group at a time (levels scanned first)────────────────┼─► DatasetWriter
    DataFrame ───────────────────────────────────────────────────────────────┘   (blocks)

Categorical codes are stable across blocks: a level keeps its code in every block
(the writer adds new levels at the end). Parquet levels are known before the first
row group (see ``rxgrid.analytics.parquet``); CSV levels are added as they appear,
sorted within the batch that brings them, unless ``levels=`` fixes them.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from .dataset import DEFAULT_BLOCK_ROWS, MISSING_TOKENS, TYPES, Categorical, DatasetInfo, DatasetWriter
from .errors import DatasetError

ARROW_BLOCK_BYTES = 8 << 20  # bytes of CSV text per pyarrow batch


def import_data(
    src,
    out: str | os.PathLike,
    *,
    block_rows: int = DEFAULT_BLOCK_ROWS,
    columns: Sequence[str] | None = None,
    types: Mapping[str, str] | None = None,
    levels: Mapping[str, Sequence[str]] | None = None,
    delimiter: str = ",",
    chunk_rows: int = 100_000,
    overwrite: bool = False,
) -> DatasetInfo:
    """Convert ``src`` (a CSV path, a Parquet file or directory, or a pandas DataFrame)
    to a block data set at ``out``; returns its info (RevoScaleR's ``rxImport``).

    ``columns`` keeps only those columns; ``types`` fixes a column's type (one of
    ``float64``, ``float32``, ``int64``, ``bool``, ``category``); ``levels`` fixes a
    categorical's levels and their order (other values are an error). A CSV's numeric
    columns become float64 (missing: empty, ``NA``, ``NaN``, ``NULL``) and its other
    columns categories; ``delimiter`` and ``chunk_rows`` (rows per pandas chunk, when
    pyarrow is not installed) apply to CSV only. Parquet needs pyarrow.
    """
    from .dataset import _is_frame
    from .parquet import is_parquet
    for name, kind in (types or {}).items():
        if kind not in TYPES:
            raise DatasetError(f"type of {name!r} must be one of {TYPES}, got {kind!r}")
    with DatasetWriter(out, block_rows, overwrite) as writer:
        if _is_frame(src):
            frame = src if columns is None else src[list(columns)]
            _append_all(writer, [_retyped(frame, types, levels)])
        elif is_parquet(src):
            _append_all(writer, _parquet_batches(src, columns, types, levels))
        elif os.path.isfile(src):
            _append_all(writer, _csv_batches(src, columns, types, levels, delimiter, chunk_rows))
        else:
            raise DatasetError(f"{src!r} is not a CSV file, a Parquet file or directory, or a DataFrame")
    return writer.close()


def csv_to_dataset(csv_path: str | os.PathLike, out: str | os.PathLike,
                   block_rows: int = DEFAULT_BLOCK_ROWS, **options) -> DatasetInfo:
    """Convert a CSV file with a header line to a data set (``import_data`` for CSV)."""
    return import_data(csv_path, out, block_rows=block_rows, **options)


def _append_all(writer: DatasetWriter, batches) -> None:
    empty = None
    for batch in batches:
        if batch and len(next(iter(batch.values()))) == 0 and writer._names is None:
            empty = batch
            continue
        writer.append(batch)
    if writer._names is None and empty is not None:
        writer.append(empty)


def _retyped(frame, types, levels) -> dict[str, object]:
    from .dataset import frame_columns
    columns = frame_columns(frame)
    for name, kind in (types or {}).items():
        if kind != "category" and not isinstance(columns.get(name), Categorical):
            columns[name] = np.asarray(columns[name]).astype(kind)
    for name, fixed in (levels or {}).items():
        current = columns[name]
        if not isinstance(current, Categorical):
            current = Categorical.from_values(np.asarray(current))
        columns[name] = _relevel(name, current, fixed)
    return columns


def _relevel(name: str, categorical: Categorical, levels: Sequence[str]) -> Categorical:
    index = {str(level): code for code, level in enumerate(levels)}
    unknown = [level for level in categorical.levels if level not in index]
    if unknown:
        raise DatasetError(f"column {name!r} has values {unknown[:5]} outside the levels {list(levels)[:20]}")
    mapping = np.array([index[level] for level in categorical.levels] + [-1], dtype=np.int32)
    codes = np.asarray(categorical.codes)
    return Categorical(mapping[np.where(codes < 0, len(categorical.levels), codes)], tuple(map(str, levels)))


# --- Parquet ----------------------------------------------------------------------------


def _parquet_batches(src, columns, types, levels) -> Iterator[dict[str, object]]:
    import pyarrow.parquet as pq

    from .parquet import _schema, arrow_to_numpy, encode, parquet_files, scan_levels
    files = parquet_files(src)
    kinds, dictionary, blocks = _schema(files)
    names = list(kinds) if columns is None else list(columns)
    kinds = {n: (types or {}).get(n, kinds[n]) if n in kinds else _unknown(n, kinds) for n in names}
    scanned = scan_levels(files, [n for n in names if kinds[n] == "category" and n not in (levels or {})],
                          {n: dictionary.get(n, False) for n in names})
    fixed = {n: [str(v) for v in (levels or {}).get(n, scanned.get(n, ()))] for n in names}
    categorical = [n for n in names if kinds[n] == "category"]
    opened: dict[int, object] = {}  # the file being read, kept open over its row groups
    for f, rg, _ in blocks:
        if f not in opened:
            opened = {f: pq.ParquetFile(files[f], read_dictionary=categorical)}
        table = opened[f].read_row_group(rg, columns=names)
        yield {n: Categorical(encode(_one_chunk(table.column(n)), fixed[n]).codes, tuple(fixed[n]))
               if kinds[n] == "category" else arrow_to_numpy(table.column(n), kinds[n], None)
               for n in names}


def _one_chunk(column):
    return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)


def _unknown(name, kinds):
    raise DatasetError(f"no column {name!r}; the columns are {list(kinds)}")


# --- CSV --------------------------------------------------------------------------------


def _csv_batches(src, columns, types, levels, delimiter, chunk_rows) -> Iterator[dict[str, object]]:
    try:
        import pyarrow.csv  # noqa: F401 - pyarrow's reader when it is there
    except ImportError:
        yield from _pandas_csv_batches(src, columns, types, levels, delimiter, chunk_rows)
        return
    yield from _arrow_csv_batches(src, columns, types, levels, delimiter, chunk_rows)


def _csv_kind(name: str, arrow_type, types) -> str:
    import pyarrow as pa
    if name in (types or {}):
        return types[name]
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or pa.types.is_null(arrow_type) \
            or pa.types.is_boolean(arrow_type):
        return "float64"
    return "category"


def _arrow_csv_batches(src, columns, types, levels, delimiter, chunk_rows) -> Iterator[dict[str, object]]:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    read = pacsv.ReadOptions(block_size=ARROW_BLOCK_BYTES)
    parse = pacsv.ParseOptions(delimiter=delimiter)
    nulls = dict(null_values=sorted(MISSING_TOKENS), strings_can_be_null=True, include_columns=columns)
    head = _first_lines(src, chunk_rows + 1)  # types come from the first chunk_rows rows
    if not head.strip():
        raise DatasetError(f"{src} is empty")
    schema = pacsv.read_csv(io.BytesIO(head), parse_options=parse,
                            convert_options=pacsv.ConvertOptions(**nulls)).schema
    kinds = {n: (types or {}).get(n) or ("category" if n in (levels or {}) else _csv_kind(n, t, types))
             for n, t in zip(schema.names, schema.types, strict=True)}
    arrow = {n: pa.string() if k == "category" else (pa.bool_() if k == "bool" else pa.float64())
             for n, k in kinds.items()}
    convert = pacsv.ConvertOptions(column_types=arrow, **nulls)
    state, reader = _LevelState(levels), None
    while True:
        try:  # open_csv reads the first batch already
            reader = reader or pacsv.open_csv(src, read_options=read, parse_options=parse,
                                              convert_options=convert)
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except pa.ArrowInvalid as error:
            raise _located(error, src, delimiter) from None
        yield {n: state.codes(n, batch.column(n)) if k == "category" else _numeric(n, batch.column(n), k)
               for n, k in kinds.items()}


def _first_lines(src, lines: int, piece: int = 1 << 20) -> bytes:
    """The first ``lines`` lines of a file (newlines counted in C, a megabyte at a time)."""
    head, found = [], 0
    with open(src, "rb") as handle:
        while found < lines and (data := handle.read(piece)):
            head.append(data)
            found += data.count(b"\n")
    text = b"".join(head)
    ends = np.flatnonzero(np.frombuffer(text, dtype=np.uint8) == ord("\n"))
    return text if len(ends) < lines else text[:ends[lines - 1] + 1]


def _numeric(name: str, column, kind: str) -> np.ndarray:
    from .parquet import arrow_to_numpy
    if kind in ("int64", "bool") and column.null_count:
        raise DatasetError(f"column {name!r} is {kind} but has missing values")
    return arrow_to_numpy(column, kind, None)


class _LevelState:
    """Levels of each CSV categorical: fixed by ``levels=``, or grown batch by batch."""

    def __init__(self, levels):
        self.fixed = {n: [str(v) for v in values] for n, values in (levels or {}).items()}

    def codes(self, name: str, column) -> Categorical:
        from .parquet import encode
        return encode(column, self.fixed.get(name))


def _located(error: Exception, src, delimiter: str) -> DatasetError:
    """pyarrow's conversion error with the line of the bad value found (it gives none)."""
    found = re.search(r"column #(\d+): CSV conversion error to \w+: invalid value '(.*)'", str(error))
    if found:
        column, value = int(found.group(1)), found.group(2)
        with open(src, newline="") as handle:
            for line, row in enumerate(csv.reader(handle, delimiter=delimiter), 1):
                if line > 1 and len(row) > column and row[column] == value:
                    return DatasetError(f"line {line}: column #{column} holds {value!r}, not a number")
    return DatasetError(f"{src}: {error}")


def _pandas_csv_batches(src, columns, types, levels, delimiter, chunk_rows) -> Iterator[dict[str, object]]:
    import pandas as pd
    # round_trip: numbers read correctly rounded, as pyarrow reads them (pandas 2 defaults to "high")
    common = dict(sep=delimiter, usecols=columns, na_values=sorted(MISSING_TOKENS), keep_default_na=False,
                  float_precision="round_trip")
    first = pd.read_csv(src, nrows=chunk_rows, **common)
    if len(first.columns) == 0:
        raise DatasetError(f"{src} is empty")
    kinds = {n: (types or {}).get(n) or ("category" if n in (levels or {}) or first[n].dtype == object
                                         or pd.api.types.is_string_dtype(first[n].dtype) else "float64")
             for n in first.columns}
    dtypes = {n: str if k == "category" else np.float64 for n, k in kinds.items()}
    seen: dict[str, list[str]] = {n: [str(v) for v in values] for n, values in (levels or {}).items()}
    try:
        for frame in pd.read_csv(src, chunksize=chunk_rows, dtype=dtypes, **common):
            batch = {}
            for n, k in kinds.items():
                if k == "category":
                    cat = frame[n].astype("category").cat
                    categorical = Categorical(cat.codes.to_numpy(np.int32), tuple(map(str, cat.categories)))
                    batch[n] = _relevel(n, categorical, seen[n]) if n in seen else categorical
                else:
                    batch[n] = frame[n].to_numpy(np.float64).astype(k)
            yield batch
    except ValueError as error:
        raise DatasetError(f"{src}: {error}") from None
