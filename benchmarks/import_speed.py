"""How fast CSV (and Parquet) become a block dataset, beside pandas and pyarrow reading the same file.

``python -m benchmarks.import_speed [--rows 300000] [--reps 3]`` writes an airline-like
CSV (about 9 MB at 300,000 rows: a day name, four numbers, some missing) to a temporary
directory, then times, best of ``--reps``:

- rxgrid's import of the CSV to a block dataset (``import_data``, or ``csv_to_dataset``
  where ``import_data`` does not exist yet, so the same script measures before and after);
- ``pandas.read_csv`` of the same file (into memory only);
- ``pyarrow.csv.read_csv`` (if pyarrow is installed);
- rxgrid's import of the same rows from a Parquet file (if pyarrow is installed and
  ``import_data`` exists).

It prints rows/s and MB/s for each. Single process, bounded: one file, a few reps.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

import numpy as np


def write_csv(path: str, rows: int, seed: int = 0) -> None:
    """An airline-like CSV: DayOfWeek, ArrDelay, Late, CRSDepTime, Distance (2% missing)."""
    import pandas as pd

    from rxgrid.analytics.airline import DAYS

    rng = np.random.default_rng(seed)
    delay = np.round(rng.normal(7, 30, rows), 2)
    late = (delay > 15).astype(float)
    gone = rng.random(rows) < 0.02
    delay[gone], late[gone] = np.nan, np.nan
    frame = pd.DataFrame({
        "DayOfWeek": np.asarray(DAYS, dtype=object)[rng.integers(0, 7, rows)],
        "ArrDelay": delay,
        "Late": late,
        "CRSDepTime": np.round(rng.uniform(6, 22, rows), 3),
        "Distance": np.round(np.clip(np.exp(rng.normal(np.log(700), 0.6, rows)), 50, 5000)),
    })
    frame.to_csv(path, index=False, na_rep="NA")


def best(fn, reps: int) -> float:
    """The fastest of ``reps`` timed calls of ``fn``."""
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args(argv)
    import pandas as pd

    from rxgrid import analytics

    work = tempfile.mkdtemp(prefix="rxgrid-import-speed-")
    try:
        csv_path = os.path.join(work, "air.csv")
        write_csv(csv_path, args.rows)
        megabytes = os.path.getsize(csv_path) / 1e6
        out = os.path.join(work, "air")
        importer = getattr(analytics, "import_data", None)
        name = "import_data" if importer else "csv_to_dataset"
        convert = importer or analytics.csv_to_dataset
        timings = {f"rxgrid {name} (CSV)": best(lambda: convert(csv_path, out, overwrite=True), args.reps),
                   "pandas.read_csv": best(lambda: pd.read_csv(csv_path), args.reps)}
        try:
            import pyarrow.csv
            import pyarrow.parquet as pq
        except ImportError:
            pq = None
        if pq is not None:
            timings["pyarrow.csv.read_csv"] = best(lambda: pyarrow.csv.read_csv(csv_path), args.reps)
            if importer:
                parquet_path = os.path.join(work, "air.parquet")
                pq.write_table(pyarrow.csv.read_csv(csv_path), parquet_path, row_group_size=50_000)
                timings["rxgrid import_data (Parquet)"] = best(
                    lambda: importer(parquet_path, out, overwrite=True), args.reps)
        print(f"{args.rows:,} rows, CSV {megabytes:.1f} MB, best of {args.reps}")
        for what, seconds in timings.items():
            print(f"  {what:32s} {seconds:7.3f} s  {args.rows / seconds / 1e3:9.0f} k rows/s  "
                  f"{megabytes / seconds:7.1f} MB/s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
