"""Model fitting over block data sets: ``lin_mod``, ``logit``, ``glm``, ``kmeans``.

Every fit is a loop of map and combine steps::

    driver (this module)                          map_blocks -> workers
    -------------------------------------------   ---------------------------------
    spec <- formula + get_info(path)
    repeat:                                        for each range of blocks_per_read blocks:
        parts <- map_blocks(glm_partial, args) --->    glm_partial(path, blocks, spec, beta)
        stats <- combine_glm(parts)           <---     (X'WX, X'Wz, deviance, counts)
        beta  <- solve(X'WX, X'Wz)   until the deviance stops changing

``map_blocks(fn, list_of_argument_tuples) -> list of results`` is injected:
``map_sequential`` runs the calls in this process, a cluster runs them as
tasks. The partial functions live in ``partials`` and take only picklable
arguments, so they travel by reference.
"""

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from rxgrid.kernels.glm import _EPS  # binomial means are kept in [eps, 1 - eps], as statsmodels does
from rxgrid.kernels.glm_cells import combine_moments
from rxgrid.kernels.kmeans import kmeans_fit

from .dataset import DatasetInfo, get_info, read_block
from .errors import ModelError
from .formula import Formula, parse_formula
from .partials import (
    GlmPartial,
    GlmSpec,
    cell_design,
    cell_stats_partial,
    combine_cell_stats,
    combine_glm,
    combine_kmeans,
    glm_partial,
    kmeans_partial,
    moments_partial,
    normal_equations,
    uses_cells,
)

MapBlocks = Callable[[Callable, list[tuple]], list]
FAMILY_TITLES = {"gaussian": "Linear", "binomial": "Logistic", "poisson": "Poisson"}
# Relative loss of precision accepted when the residual sum of squares of a
# linear model is taken from y'y - b'X'y instead of a second pass over the data.
_ONE_PASS_RSS_LIMIT = 1e-5  # y'y - b'X'y loses about eps / (rss / y'y) relative
_WARM_START_TASKS = 8  # from this many block ranges on, IRLS first converges on 1/32 of them


def map_sequential(fn: Callable, arguments: list[tuple]) -> list:
    """Run ``fn(*args)`` for each argument tuple here, in order."""
    return [fn(*args) for args in arguments]


def block_ranges(n_blocks: int, blocks_per_read: int) -> list[list[int]]:
    """Block indices cut into consecutive ranges of ``blocks_per_read``."""
    if blocks_per_read < 1:
        raise ModelError(f"blocks_per_read must be >= 1, got {blocks_per_read}")
    return [list(range(b, min(b + blocks_per_read, n_blocks))) for b in range(0, n_blocks, blocks_per_read)]


# --- the model spec -------------------------------------------------------------


def _check_columns(info: DatasetInfo, formula: Formula) -> None:
    for name in ((formula.response,) if formula.response else ()) + formula.terms:
        if name not in info.names:
            raise ModelError(f"unknown column {name!r} in {formula.text!r}; the data set has {info.names}")
    if formula.response and info.variable(formula.response).type == "category":
        raise ModelError(f"the response {formula.response!r} is categorical; a numeric response is needed")


def _glm_spec(info: DatasetInfo, formula: Formula, family: str, cube: bool) -> GlmSpec:
    _check_columns(info, formula)
    if formula.response is None:
        raise ModelError(f"{formula.text!r} has no response")
    categorical = tuple(t for t in formula.terms if info.variable(t).type == "category")
    numeric = tuple(t for t in formula.terms if t not in categorical)
    if cube and (not formula.terms or formula.terms[0] not in categorical):
        raise ModelError("cube=True needs a categorical first term")
    intercept = formula.intercept and not cube
    n_levels = tuple(len(info.variable(c).levels) for c in categorical)
    drop_first = tuple(intercept or v > 0 for v in range(len(categorical)))
    return GlmSpec(formula.response, categorical, n_levels, drop_first, numeric, intercept, family)


def _coefficient_rows(info: DatasetInfo, spec: GlmSpec) -> tuple[list[str], list[str]]:
    """Names of all design rows in order (reference levels included) and of the dropped ones."""
    rows, dropped = ["(Intercept)"] if spec.intercept else [], []
    for name, drop in zip(spec.categorical, spec.drop_first, strict=True):
        levels = [f"{name}={level}" for level in info.variable(name).levels]
        rows += levels
        dropped += levels[:1] if drop else []
    return rows + list(spec.numeric), dropped


# --- solving ----------------------------------------------------------------------


def _aliased(xtwx: np.ndarray) -> list[int]:
    """Columns that are (numerically) linear combinations of earlier columns."""
    scale = np.sqrt(np.diag(xtwx))
    aliased = [j for j in range(len(scale)) if scale[j] == 0.0]
    keep: list[int] = []
    for j in range(len(scale)):
        if j in aliased:
            continue
        corr = xtwx[np.ix_(keep + [j], keep + [j])] / np.outer(scale[keep + [j]], scale[keep + [j]])
        if keep and np.linalg.eigvalsh(corr)[0] < 1e-10 * len(keep):
            aliased.append(j)
        else:
            keep.append(j)
    return sorted(aliased)


def _solve(stats: GlmPartial, names: list[str]) -> np.ndarray:
    aliased = _aliased(stats.xtwx)
    if aliased:
        raise ModelError(
            f"singular design: {[names[j] for j in aliased]} are linear combinations of other "
            "columns (a level without rows, or a redundant column)"
        )
    return np.linalg.solve(stats.xtwx, stats.xtwz)


# --- results ------------------------------------------------------------------------


def _p_values(statistics: np.ndarray, df: int | None) -> np.ndarray:
    try:
        from scipy import stats
    except ImportError:  # normal approximation without scipy
        return np.array([math.erfc(abs(s) / math.sqrt(2)) for s in statistics])
    if df is None:
        return 2 * stats.norm.sf(np.abs(statistics))
    return 2 * stats.t.sf(np.abs(statistics), df)


@dataclass
class ModelResult:
    """A fitted linear or generalized linear model."""

    formula: str
    family: str
    path: str
    cube: bool
    names: tuple[str, ...]
    params: np.ndarray
    cov: np.ndarray
    deviance: float
    n_used: int
    n_skipped: int
    iterations: int
    converged: bool
    dropped: tuple[str, ...] = ()
    rows: tuple[str, ...] = ()
    scale: float = 1.0
    std_errors: np.ndarray = field(init=False)
    statistics: np.ndarray = field(init=False)
    p_values: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.std_errors = np.sqrt(np.diag(self.cov))
        self.statistics = self.params / self.std_errors
        self.p_values = _p_values(self.statistics, self.df_residual if self.uses_t else None)

    @property
    def uses_t(self) -> bool:
        """True for the gaussian family (t statistics), else z statistics."""
        return self.family == "gaussian"

    @property
    def df_residual(self) -> int:
        """Residual degrees of freedom: rows used minus coefficients."""
        return self.n_used - len(self.names)

    @property
    def condition_number(self) -> float:
        """Condition number of the variance-covariance matrix of the coefficients."""
        return float(np.linalg.cond(self.cov))

    def _named(self, values: np.ndarray) -> dict[str, float]:
        return dict(zip(self.names, (float(v) for v in values), strict=True))

    @property
    def coefficients(self) -> dict[str, float]:
        """Coefficient estimates by name."""
        return self._named(self.params)

    @property
    def standard_errors(self) -> dict[str, float]:
        """Standard errors by name."""
        return self._named(self.std_errors)

    @property
    def t_values(self) -> dict[str, float]:
        """Estimate / standard error by name (t for gaussian, z otherwise)."""
        return self._named(self.statistics)

    z_values = t_values

    @property
    def p_value(self) -> dict[str, float]:
        """Two-sided p-values by name."""
        return self._named(self.p_values)

    def summary(self) -> str:
        """A printable summary shaped like RevoScaleR's."""
        return "\n".join(_summary_lines(self))

    __str__ = summary


def _stars(p: float) -> str:
    marks = ((0.001, "***"), (0.01, "**"), (0.05, "*"), (0.1, "."))
    return next((mark for limit, mark in marks if p < limit), "")


def _summary_lines(r: ModelResult) -> list[str]:
    title = ("Cube " if r.cube else "") + FAMILY_TITLES[r.family] + " Regression Results for: " + r.formula
    kind = "t" if r.uses_t else "z"
    width = max(len(n) for n in r.rows or r.names)
    lines = [
        title,
        f"File name: {r.path}",
        f"Dependent variable(s): {r.formula.split('~')[0].strip()}",
        f"Total independent variables: {len(r.rows)} (Including number dropped: {len(r.dropped)})",
        f"Number of valid observations: {r.n_used}",
        f"Number of missing observations: {r.n_skipped}",
        f"{'Residual sum of squares' if r.uses_t else '-2*LogLikelihood'}: {r.deviance:.4f} "
        f"(Residual deviance on {r.df_residual} degrees of freedom)",
        "",
        "Coefficients:",
        f"{'':{width}} {'Estimate':>12} {'Std. Error':>11} {kind + ' value':>9} {f'Pr(>|{kind}|)':>9}",
    ]
    index = {name: i for i, name in enumerate(r.names)}
    for name in r.rows:
        if name not in index:
            lines.append(f"{name:{width}} {'Dropped':>12} {'Dropped':>11} {'Dropped':>9} {'Dropped':>9}")
            continue
        i = index[name]
        lines.append(
            f"{name:{width}} {r.params[i]:12.6g} {r.std_errors[i]:11.6g} {r.statistics[i]:9.2f} "
            f"{max(r.p_values[i], 2.22e-16):9.3g} {_stars(r.p_values[i])}"
        )
    lines += [
        "---",
        "Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1",
        "",
        f"Condition number of final variance-covariance matrix: {r.condition_number:.4f}",
        f"Number of iterations: {r.iterations}" + ("" if r.converged else " (did not converge)"),
    ]
    return lines


# --- fitting ------------------------------------------------------------------------


def _check_response(stats: GlmPartial, spec: GlmSpec) -> None:
    if stats.n_used == 0:
        raise ModelError("no rows left after removing rows with missing values")
    low = {"binomial": 0.0, "poisson": 0.0}.get(spec.family, -np.inf)
    high = 1.0 if spec.family == "binomial" else np.inf
    if stats.y_min < low or stats.y_max > high:
        raise ModelError(
            f"the {spec.family} response {spec.response!r} has values in "
            f"[{stats.y_min}, {stats.y_max}], outside [{low}, {high}]"
        )


def _pass(path: str, tasks: list[list[int]], spec: GlmSpec, beta, map_blocks: MapBlocks) -> GlmPartial:
    """One pass over the data: ``X'WX``, ``X'Wz`` and the deviance at ``beta``."""
    arguments = [(path, blocks, spec, beta) for blocks in tasks]
    if uses_cells(spec):
        return normal_equations(
            combine_cell_stats(map_blocks(cell_stats_partial, arguments)), cell_design(spec)
        )
    return combine_glm(map_blocks(glm_partial, arguments))


def _cell_mean_fit(
    path, tasks, spec, names, map_blocks, max_iter, tol
) -> tuple[np.ndarray, GlmPartial, int, bool]:
    """IRLS over the cell means, for designs whose predictors are all categorical.

    One pass over the data gives each cell's count, mean and spread of ``y``;
    a GLM of such a design is a model of the cell means with the counts as
    prior weights, so IRLS runs on the small cell table (R's ``mustart`` for
    weighted data to start), with the same coefficients, covariance and
    deviance as IRLS over the rows. The gaussian family takes one step.
    """
    parts = map_blocks(moments_partial, [(path, blocks, spec) for blocks in tasks])
    moments = combine_moments(parts)
    design = cell_design(spec)
    seen = moments.count > 0
    X, n, ybar = design[seen], moments.count[seen].astype(np.float64), moments.mean[seen]
    total = int(moments.count.sum())
    y_range = (moments.y_min, moments.y_max) if total else (np.inf, -np.inf)
    _check_response(GlmPartial(np.zeros(0), np.zeros(0), 0.0, total, moments.n_skipped, *y_range), spec)

    def deviance(mu: np.ndarray) -> float:
        if spec.family == "gaussian":
            return float(moments.m2.sum() + (n * (ybar - mu) ** 2).sum())
        s = n * ybar
        if spec.family == "binomial":
            terms = moments.ylogy[seen] + moments.y1logy1[seen] - s * np.log(mu) - (n - s) * np.log1p(-mu)
        else:
            terms = moments.ylogy[seen] - s * np.log(mu) - s + n * mu
        return float(2.0 * terms.sum())

    def stats_at(mu: np.ndarray, eta: np.ndarray) -> GlmPartial:
        variance = {"gaussian": np.ones_like(mu), "binomial": mu * (1.0 - mu), "poisson": mu}[spec.family]
        w = n * variance
        z = eta + (ybar - mu) / variance
        return GlmPartial(X.T @ (w[:, None] * X), X.T @ (w * z), deviance(mu), total, moments.n_skipped,
                          *y_range)  # fmt: skip

    def mean_of(eta: np.ndarray) -> np.ndarray:
        if spec.family == "binomial":
            return np.clip(1.0 / (1.0 + np.exp(-eta)), _EPS, 1.0 - _EPS)
        return np.exp(eta) if spec.family == "poisson" else eta

    def step(beta: np.ndarray | None) -> GlmPartial:
        if beta is not None:
            eta = X @ beta
            return stats_at(mean_of(eta), eta)
        if spec.family == "binomial":
            mu = (n * ybar + 0.5) / (n + 1.0)
            return stats_at(mu, np.log(mu / (1.0 - mu)))
        if spec.family == "poisson":
            return stats_at(ybar + 0.1, np.log(ybar + 0.1))
        return stats_at(ybar, ybar)

    if spec.family == "gaussian":
        beta = _solve(step(None), names)
        return beta, step(beta), 1, True
    return _iterate(step, spec, names, max_iter, tol)


def _linear_fit(path, tasks, spec, names, map_blocks) -> tuple[np.ndarray, GlmPartial, float]:
    """One pass at beta = 0 (its deviance is y'y); a second only if y'y - b'X'y is inexact."""
    stats = _pass(path, tasks, spec, None, map_blocks)
    _check_response(stats, spec)
    beta = _solve(stats, names)
    rss = stats.deviance - beta @ stats.xtwz
    if rss <= _ONE_PASS_RSS_LIMIT * stats.deviance:
        rss = _pass(path, tasks, spec, beta, map_blocks).deviance
    return beta, stats, rss


def _irls(path, tasks, spec, names, map_blocks, max_iter, tol) -> tuple[np.ndarray, GlmPartial, int, bool]:
    """IRLS until the relative change of the deviance is below ``tol`` (R's rule).

    On a large data set (at least ``_WARM_START_TASKS`` ranges of blocks) the
    coefficients first converge on the first 1/32 of the ranges; from
    there two or three passes over all the data converge, instead of a start
    pass and four or five iterations. The result is the same fixed point.
    """
    def over(ranges: list[list[int]]) -> Callable[[np.ndarray | None], GlmPartial]:
        return lambda beta: _pass(path, ranges, spec, beta, map_blocks)

    beta = None
    if uses_cells(spec) and len(tasks) >= _WARM_START_TASKS:
        try:
            beta = _iterate(over(tasks[: max(1, len(tasks) // 32)]), spec, names, max_iter, tol)[0]
        except ModelError:  # e.g. a level missing from the sample: start from the data as usual
            beta = None
    return _iterate(over(tasks), spec, names, max_iter, tol, beta)


def _iterate(step, spec, names, max_iter, tol, beta=None) -> tuple[np.ndarray, GlmPartial, int, bool]:
    """IRLS steps: ``step(beta)`` gives ``X'WX``, ``X'Wz`` and the deviance at ``beta``
    (``step(None)``: the start from ``y``); stop when the deviance changes by less than
    ``tol`` relative. Starts from ``beta`` when given."""
    if beta is None:
        stats = step(None)
        _check_response(stats, spec)
        beta = _solve(stats, names)
    previous = None
    for iteration in range(1, max_iter + 1):
        stats = step(beta)
        if previous is None:
            _check_response(stats, spec)
        elif abs(stats.deviance - previous) / (abs(stats.deviance) + 0.1) < tol:
            return beta, stats, iteration, True
        previous = stats.deviance
        beta = _solve(stats, names)
    return beta, stats, max_iter, False


def glm(
    path: str | os.PathLike,
    formula: str,
    family: str = "gaussian",
    *,
    cube: bool = False,
    map_blocks: MapBlocks = map_sequential,
    blocks_per_read: int = 1,
    max_iter: int = 25,
    tol: float = 1e-8,
) -> ModelResult:
    """Fit a generalized linear model (canonical link) to a block data set.

    ``family`` is ``"gaussian"`` (identity), ``"binomial"`` (logit; 0/1 response)
    or ``"poisson"`` (log). Categorical predictors expand to one column per
    level, the first level being the reference when there is an intercept;
    ``cube=True`` drops the intercept and keeps every level of the first
    (categorical) term. Rows with a missing value in any column of the model
    are skipped and counted. Work is split into ranges of ``blocks_per_read``
    blocks and run through ``map_blocks``. IRLS stops when the deviance changes
    by less than ``tol`` relative (R's ``glm.control(epsilon = 1e-8)`` and
    statsmodels' default); the coefficients returned are those of the last
    step, whose error is about the square of the previous step's.
    """
    if family not in FAMILY_TITLES:
        raise ModelError(f"family must be one of {sorted(FAMILY_TITLES)}, got {family!r}")
    path = os.fspath(path)
    info = get_info(path)
    spec = _glm_spec(info, parse_formula(formula), family, cube)
    rows, dropped = _coefficient_rows(info, spec)
    names = [r for r in rows if r not in dropped]
    tasks = block_ranges(info.blocks, blocks_per_read)
    if not spec.numeric and uses_cells(spec):
        beta, stats, iterations, converged = _cell_mean_fit(
            path, tasks, spec, names, map_blocks, max_iter, tol
        )
        fit = dict(deviance=stats.deviance, iterations=iterations, converged=converged)
        if family == "gaussian":
            fit["scale"] = stats.deviance / max(stats.n_used - len(names), 1)
    elif family == "gaussian":
        beta, stats, rss = _linear_fit(path, tasks, spec, names, map_blocks)
        scale = rss / max(stats.n_used - len(names), 1)
        fit = dict(deviance=rss, iterations=1, converged=True, scale=scale)
    else:
        beta, stats, iterations, converged = _irls(path, tasks, spec, names, map_blocks, max_iter, tol)
        fit = dict(deviance=stats.deviance, iterations=iterations, converged=converged)
    cov = np.linalg.inv(stats.xtwx) * fit.get("scale", 1.0)
    return ModelResult(
        formula.strip(), family, path, cube, tuple(names), beta, cov,
        n_used=stats.n_used, n_skipped=stats.n_skipped, dropped=tuple(dropped), rows=tuple(rows), **fit,
    )  # fmt: skip


def lin_mod(path: str | os.PathLike, formula: str, *, cube: bool = False, **options) -> ModelResult:
    """Linear regression by least squares (RevoScaleR's ``rxLinMod``); see `glm` for options."""
    return glm(path, formula, "gaussian", cube=cube, **options)


def logit(path: str | os.PathLike, formula: str, **options) -> ModelResult:
    """Logistic regression of a 0/1 response (RevoScaleR's ``rxLogit``); see `glm`."""
    return glm(path, formula, "binomial", **options)


# --- k-means ------------------------------------------------------------------------


@dataclass
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


def _kmeans_columns(info: DatasetInfo, columns: str | Sequence[str]) -> tuple[str, ...]:
    names = parse_formula(columns).terms if isinstance(columns, str) else tuple(columns)
    _check_columns(info, Formula(str(columns), None, tuple(names)))
    categorical = [n for n in names if info.variable(n).type == "category"]
    if categorical or not names:
        raise ModelError(f"k-means needs numeric columns; {categorical or 'none'} given")
    return tuple(names)


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
    return KMeansModel(names, current, stats.counts, stats.ss, moves, converged, n_used, stats.n_skipped)
