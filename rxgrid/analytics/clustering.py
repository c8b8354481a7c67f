"""k-means over a data set (RevoScaleR's ``rxKmeans``): Lloyd's iterations as map and combine steps.

Each iteration is one pass: the blocks' per-cluster sums and counts
(``partials.kmeans_partial``) give the next centers. `KMeansModel` has
scikit-learn's names (``cluster_centers_``, ``inertia_``), ``predict`` for new
data and ``labels`` to write each row's cluster as a data set column.
"""

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rxgrid.kernels.kmeans import kmeans_fit

from .dataset import DatasetInfo, get_info, read_block
from .errors import ModelError
from .formula import parse_formula
from .partials import combine_kmeans, kmeans_partial

MapBlocks = Callable[[Callable, list[tuple]], list]


def map_sequential(fn: Callable, arguments: list[tuple]) -> list:
    """Run ``fn(*args)`` for each argument tuple here, in order."""
    return [fn(*args) for args in arguments]


def block_ranges(n_blocks: int, blocks_per_read: int) -> list[list[int]]:
    """Block indices cut into consecutive ranges of ``blocks_per_read``."""
    if blocks_per_read < 1:
        raise ModelError(f"blocks_per_read must be >= 1, got {blocks_per_read}")
    return [list(range(b, min(b + blocks_per_read, n_blocks))) for b in range(0, n_blocks, blocks_per_read)]


@dataclass(repr=False)
class KMeansModel:
    """A k-means fit over a data set."""

    columns: tuple[str, ...]
    centers: np.ndarray
    sizes: np.ndarray
    inertia: float
    iterations: int
    converged: bool
    n_used: int
    n_skipped: int
    path: str = ""

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("map_blocks", None)  # a cluster's map stays with the client that fitted
        return state

    @property
    def cluster_centers_(self) -> np.ndarray:
        """``(k, p)`` cluster centers (scikit-learn's name)."""
        return self.centers

    @property
    def inertia_(self) -> float:
        """Total within-cluster sum of squares (scikit-learn's name)."""
        return self.inertia

    def predict(self, data, **options):
        """Nearest center of each row (0-based); see `rxgrid.analytics.predict.predict`."""
        from .predict import predict

        return predict(self, data, **options)

    def labels(self, out: str | os.PathLike | None = None, **options) -> DatasetInfo:
        """Write each fitted row's cluster (``.rxCluster``, RevoScaleR's name) as a data set."""
        return self.predict(self.path, out=out, **options)

    def summary(self) -> str:
        """A printable summary."""
        head = [
            f"K-means clustering of {', '.join(self.columns)} with {len(self.centers)} clusters",
            f"Number of valid observations: {self.n_used}",
            f"Number of missing observations: {self.n_skipped}",
            f"Total within-cluster sum of squares: {self.inertia:.6g}",
            f"Number of iterations: {self.iterations}" + ("" if self.converged else " (did not converge)"),
            "Cluster sizes: " + " ".join(str(int(s)) for s in self.sizes),
            "Cluster centers:",
        ]
        return "\n".join(head + [" ".join(f"{v:10.4g}" for v in row) for row in self.centers])

    __str__ = summary

    def __repr__(self) -> str:
        return f"<KMeansModel: {len(self.centers)} clusters of {', '.join(self.columns)}, {self.n_used} rows>"

    def _repr_html_(self) -> str:
        import html

        return f"<pre>{html.escape(self.summary())}</pre>"


def _kmeans_columns(info: DatasetInfo, columns: str | Sequence[str]) -> tuple[str, ...]:
    names = (
        parse_formula(columns).terms
        if isinstance(columns, str)
        else tuple(columns)
    )
    for name in names:
        if name not in info.names:
            raise ModelError(f"unknown column {name!r} in {columns!r}; the data set has {info.names}")
    categorical = [n for n in names if info.variable(n).type == "category"]
    if categorical or not names:
        raise ModelError(f"k-means needs numeric columns; {categorical or 'none'} given")
    return names


def _first_centers(path: str, info: DatasetInfo, columns, k: int, seed: int) -> np.ndarray:
    """k-means++ seeding on the complete rows of the first block."""
    data = read_block(path, 0, columns, info=info) if info.blocks else {c: np.empty(0) for c in columns}
    X = np.column_stack([np.asarray(data[c], dtype=np.float64) for c in columns])
    X = X[~np.isnan(X).any(axis=1)]
    if len(X) < k:
        raise ModelError(f"the first block has {len(X)} complete rows, fewer than k = {k}")
    return kmeans_fit(X, k, iter_max=0, nstart=1, seed=seed).centers


def kmeans(
    path: str | os.PathLike,
    columns: str | Sequence[str],
    centers: int | np.ndarray,
    *,
    map_blocks: MapBlocks = map_sequential,
    blocks_per_read: int = 1,
    iter_max: int = 10,
    tol: float = 0.0,
    seed: int = 0,
) -> KMeansModel:
    """Lloyd's k-means over a data set (RevoScaleR's ``rxKmeans``).

    ``columns`` is a formula (``"~ x + y"``) or a list of numeric columns;
    ``centers`` a number of clusters (seeded by k-means++ on the first block)
    or a ``(k, p)`` array of starting centers. Each iteration is one pass: the
    blocks' per-cluster sums and counts give the next centers. It stops when
    no center moves, when the sum of squared moves is at most ``tol``
    (absolute) or after ``iter_max`` moves. Rows with NaN are skipped.
    """
    path = os.fspath(path)
    info = get_info(path)
    names = _kmeans_columns(info, columns)
    if np.ndim(centers) == 0:
        current = _first_centers(path, info, names, int(centers), seed)
    else:
        current = np.array(centers, dtype=np.float64)
        if current.ndim != 2 or current.shape[1] != len(names):
            raise ModelError(f"centers must have shape (k, {len(names)}), got {current.shape}")
    tasks = block_ranges(info.blocks, blocks_per_read)
    moves, by_tol = 0, False
    while True:
        parts = map_blocks(kmeans_partial, [(path, blocks, names, current) for blocks in tasks])
        stats = combine_kmeans(parts)
        nonempty = stats.counts > 0
        moved = current.copy()
        moved[nonempty] = stats.sums[nonempty] / stats.counts[nonempty, None]
        shift = float(((moved - current) ** 2).sum())
        # After a move within tol, this pass gave the sum of squares of the final centers.
        if shift == 0.0 or by_tol or moves == iter_max:
            break
        current, moves, by_tol = moved, moves + 1, shift <= tol
    converged = shift == 0.0 or by_tol
    n_used = int(stats.counts.sum())
    return KMeansModel(
        names, current, stats.counts, stats.ss, moves, converged, n_used, stats.n_skipped, path
    )
