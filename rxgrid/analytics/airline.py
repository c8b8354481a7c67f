"""Synthetic airline-like data with known true coefficients (seed 000's workload).

``make_airline`` writes a data set block by block (block ``b`` drawn from
``numpy.random.default_rng([seed, b])``), so any number of rows can be made
in bounded memory and the same (seed, block_rows) always gives the same data.

Columns and how they are drawn, per row:

- ``DayOfWeek``: categorical, levels Monday..Sunday, uniform.
- ``CRSDepTime``: scheduled departure, in hours, uniform on [6, 22).
- ``Distance``: miles, ``exp(N(log 700, 0.6**2))`` clipped to [50, 5000].
- ``ArrDelay``: minutes, ``ARR_DELAY_DAY_MEANS[day] + 0.8 (CRSDepTime - 14)
  + 0.004 (Distance - 800) + N(0, 30**2)``. The day means are seed 000's
  cube regression, so ``lin_mod("ArrDelay ~ DayOfWeek", cube=True)`` estimates
  them up to the small shift ``0.004 (E[Distance] - 800)``.
- ``Late``: 0/1 (float32: 4 bytes, NaN for missing), Bernoulli
  with ``logit p = LATE_COEFFICIENTS["(Intercept)"]
  + LATE_COEFFICIENTS["DayOfWeek=<day>"] + ... * CRSDepTime + ... * Distance``
  (Monday is the reference level), drawn independently of ``ArrDelay``, so
  ``logit("Late ~ DayOfWeek + CRSDepTime + Distance")`` estimates
  ``LATE_COEFFICIENTS``.
- A fraction ``missing`` of the rows (cancelled or diverted flights) has
  ``ArrDelay`` and ``Late`` missing (NaN), as in the seed's data.
"""

import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from .dataset import DEFAULT_BLOCK_ROWS, Categorical, DatasetInfo, DatasetWriter
from .errors import DatasetError

COLUMNS = ("DayOfWeek", "ArrDelay", "Late", "CRSDepTime", "Distance")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ARR_DELAY_DAY_MEANS = dict(
    zip(DAYS, (6.669515, 5.960421, 7.091502, 8.945047, 9.606953, 4.187419, 6.525040), strict=True)
)
ARR_DELAY_COEFFICIENTS = {"CRSDepTime": 0.8, "Distance": 0.004}
ARR_DELAY_NOISE_SD = 30.0
# Seed 000's logit day effects, re-expressed with Monday as the reference level.
LATE_COEFFICIENTS = {
    "(Intercept)": -2.3,
    "DayOfWeek=Tuesday": -0.047581,
    "DayOfWeek=Wednesday": 0.046998,
    "DayOfWeek=Thursday": 0.194613,
    "DayOfWeek=Friday": 0.247273,
    "DayOfWeek=Saturday": -0.170139,
    "DayOfWeek=Sunday": 0.008393,
    "CRSDepTime": 0.05,
    "Distance": 0.0001,
}


def airline_block(rows: int, rng: np.random.Generator, missing: float) -> dict[str, object]:
    """One block of airline-like columns (see the module docstring)."""
    day = rng.integers(0, 7, rows).astype(np.int32)
    dep = rng.uniform(6.0, 22.0, rows)
    distance = np.clip(np.exp(rng.normal(np.log(700.0), 0.6, rows)), 50.0, 5000.0)
    day_means = np.array([ARR_DELAY_DAY_MEANS[d] for d in DAYS])
    delay = (
        day_means[day]
        + ARR_DELAY_COEFFICIENTS["CRSDepTime"] * (dep - 14.0)
        + ARR_DELAY_COEFFICIENTS["Distance"] * (distance - 800.0)
        + rng.normal(0.0, ARR_DELAY_NOISE_SD, rows)
    )
    day_effects = np.array([0.0] + [LATE_COEFFICIENTS[f"DayOfWeek={d}"] for d in DAYS[1:]])
    eta = (
        LATE_COEFFICIENTS["(Intercept)"]
        + day_effects[day]
        + LATE_COEFFICIENTS["CRSDepTime"] * dep
        + LATE_COEFFICIENTS["Distance"] * distance
    )
    late = (rng.uniform(size=rows) < 1.0 / (1.0 + np.exp(-eta))).astype(np.float32)
    gone = rng.uniform(size=rows) < missing
    delay[gone] = np.nan
    late[gone] = np.nan
    return {
        "DayOfWeek": Categorical(day, DAYS),
        "ArrDelay": delay,
        "Late": late,
        "CRSDepTime": dep,
        "Distance": distance,
    }


def _airline_columns(args: tuple) -> dict[str, object]:
    """Block ``block`` of the data set, only the ``keep`` columns (a picklable task)."""
    rows, seed, block, missing, keep = args
    data = airline_block(rows, np.random.default_rng([seed, block]), missing)
    return {name: data[name] for name in keep}


def make_airline(
    path: str | os.PathLike,
    rows: int,
    seed: int = 0,
    block_rows: int = DEFAULT_BLOCK_ROWS,
    missing: float = 0.021,
    overwrite: bool = False,
    columns: Sequence[str] | None = None,
    processes: int = 1,
) -> DatasetInfo:
    """Write ``rows`` rows of synthetic airline data as a data set at ``path``.

    ``columns`` keeps only some of the columns (the others are still drawn, so
    the kept ones are the same as in the full data set for the same seed).
    ``processes > 1`` draws blocks in that many processes; each block has its
    own generator, so the data are the same for any number of processes.
    """
    keep = list(COLUMNS if columns is None else columns)
    unknown = sorted(set(keep) - set(COLUMNS))
    if unknown:
        raise DatasetError(f"make_airline has no columns {unknown}; it makes {list(COLUMNS)}")
    writer = DatasetWriter(path, block_rows, overwrite)
    tasks = [(min(block_rows, rows - start), seed, block, missing, keep)
             for block, start in enumerate(range(0, rows, block_rows))]  # fmt: skip
    if processes > 1:
        with ProcessPoolExecutor(processes) as pool:
            for data in pool.map(_airline_columns, tasks, chunksize=4):
                writer.append(data)
    else:
        for task in tasks:
            writer.append(_airline_columns(task))
    return writer.close()
