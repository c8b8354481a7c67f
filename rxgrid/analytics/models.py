"""Model fitting over block data sets: ``lin_mod``, ``logit``, ``glm``, ``kmeans``.

Every fit is a loop of map and combine steps::

    driver (this module)                          map_blocks -> workers
    -------------------------------------------   ---------------------------------
    spec <- formula + get_info(path)
    repeat:                                        for each range of blocks_per_read blocks:
        parts <- map_blocks(glm_partial, args) --->    glm_partial(path, blocks, spec, beta)
        stats <- combine_glm(parts)           <---     (X'WX, X'Wz, deviance, counts)
        beta  <- solve(X'WX, X'Wz)   until the deviance stops changing

Main-effect designs of stored columns (the seed's ``Late ~ DayOfWeek + CRSDepTime +
Distance``) go through the cell kernels (``partials``); categorical-only designs are fitted
exactly from per-cell moments in one pass. Every other design (interactions, functions,
weights, transforms, row selection) and every linear model with a numeric predictor goes
through ``dense``: block R factors merged by TSQR, solved by back substitution.

``map_blocks(fn, list_of_argument_tuples) -> list of results`` is injected:
``map_sequential`` runs the calls in this process, a cluster runs them as
tasks. The partial functions live in ``partials`` and take only picklable
arguments, so they travel by reference.
"""

import math
import os
from types import SimpleNamespace

import numpy as np

from rxgrid.kernels.glm import _EPS  # binomial means are kept in [eps, 1 - eps], as statsmodels does
from rxgrid.kernels.glm_cells import combine_moments

from .clustering import KMeansModel, MapBlocks, block_ranges, kmeans, map_sequential
from .dataset import get_info
from .dense import (
    QrPartial,
    ResponseSums,
    combine_qr,
    distinct_partial,
    qr_partial,
    response_partial,
    solve_r,
    unscaled_cov,
)
from .design import Design, build_design, design_matrix, factor_columns
from .errors import ModelError
from .formula import parse_formula
from .partials import (
    GlmPartial,
    GlmSpec,
    cell_design,
    cell_stats_partial,
    combine_cell_stats,
    combine_glm,
    glm_partial,
    moments_partial,
    n_cells,
    normal_equations,
    uses_cells,
)
from .results import FAMILY_TITLES, ModelResult

__all__ = ["KMeansModel", "ModelResult", "block_ranges", "glm", "kmeans", "lin_mod", "logit",
           "map_sequential"]  # fmt: skip

_WARM_START_TASKS = 8  # from this many block ranges on, IRLS first converges on 1/32 of them


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


# --- fitting ---------------------------------------------------------------------------


def _check_response(stats: GlmPartial | QrPartial, spec) -> None:
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


def _cell_mean_fit(path, tasks, spec, names, map_blocks, max_iter, tol, rows=None):
    """IRLS over the cell means, for designs whose predictors are all categorical.

    One pass over the data gives each cell's count, mean and spread of ``y``;
    a GLM of such a design is a model of the cell means with the counts as
    prior weights, so IRLS runs on the small cell table (R's ``mustart`` for
    weighted data to start), with the same coefficients, covariance and
    deviance as IRLS over the rows. The gaussian family takes one step.
    Returns the coefficients, last statistics, iterations, convergence and the
    null deviance (the deviance at the overall mean). ``rows`` are the design
    rows of the cells (default: main effects, `cell_design`).
    """
    parts = map_blocks(moments_partial, [(path, blocks, spec) for blocks in tasks])
    moments = combine_moments(parts)
    design = cell_design(spec) if rows is None else rows
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

    binomial = spec.family == "binomial"
    sylogy = float(moments.ylogy[seen].sum() + (moments.y1logy1[seen].sum() if binomial else 0.0))

    def stats_at(mu: np.ndarray, eta: np.ndarray) -> GlmPartial:
        variance = {"gaussian": np.ones_like(mu), "binomial": mu * (1.0 - mu), "poisson": mu}[spec.family]
        w = n * variance
        z = eta + (ybar - mu) / variance
        return GlmPartial(X.T @ (w[:, None] * X), X.T @ (w * z), deviance(mu), total, moments.n_skipped,
                          *y_range, float(n @ ybar), sylogy)  # fmt: skip

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

    null = deviance(np.full(len(n), float(n @ ybar) / max(total, 1)))
    if spec.family == "gaussian":
        beta = _solve(step(None), names)
        return beta, step(beta), 1, True, null
    return (*_iterate(step, spec, names, max_iter, tol), null)


def _irls(path, tasks, spec, names, map_blocks, max_iter, tol) -> tuple[np.ndarray, GlmPartial, int, bool]:
    """IRLS until the relative change of the deviance is below ``tol`` (R's rule).

    On a large data set (at least ``_WARM_START_TASKS`` ranges of blocks) the
    coefficients first converge on the first 1/32 of the ranges; from
    there two or three passes over all the data converge, instead of a start
    pass and four or five iterations. The result is the same fixed point.
    """
    def over(ranges: list[list[int]]):
        return lambda beta: _pass(path, ranges, spec, beta, map_blocks)

    beta = None
    if uses_cells(spec) and len(tasks) >= _WARM_START_TASKS:
        try:
            beta = _iterate(over(tasks[: max(1, len(tasks) // 32)]), spec, names, max_iter, tol)[0]
        except ModelError:  # e.g. a level missing from the sample: start from the data as usual
            beta = None
    return _iterate(over(tasks), spec, names, max_iter, tol, beta)


def _iterate(step, spec, names, max_iter, tol, beta=None, solve=None):
    """IRLS steps: ``step(beta)`` gives ``X'WX``, ``X'Wz`` and the deviance at ``beta``
    (``step(None)``: the start from ``y``); stop when the deviance changes by less than
    ``tol`` relative. Starts from ``beta`` when given; ``solve(stats, names)`` gives the next."""
    solve = solve or _solve
    if beta is None:
        stats = step(None)
        _check_response(stats, spec)
        beta = solve(stats, names)
    previous = None
    for iteration in range(1, max_iter + 1):
        stats = step(beta)
        if previous is None:
            _check_response(stats, spec)
        elif abs(stats.deviance - previous) / (abs(stats.deviance) + 0.1) < tol:
            return beta, stats, iteration, True
        previous = stats.deviance
        beta = solve(stats, names)
    return beta, stats, max_iter, False



# --- the general path: R factors ------------------------------------------------------------


def _solve_qr(design: Design):
    return lambda stats, names: solve_r(stats, design)[0]


def _dense_fit(path, tasks, design: Design, family: str, map_blocks, max_iter, tol):
    """One pass for a linear model, else IRLS over R factors: ``(beta, stats, iterations, converged)``."""
    def step(beta):
        return combine_qr(map_blocks(qr_partial, [(path, blocks, design, family, beta) for blocks in tasks]))

    check = SimpleNamespace(family=family, response=design.response.text)
    if family == "gaussian":
        stats = step(None)
        _check_response(stats, check)
        return solve_r(stats, design)[0], stats, 1, True
    return _iterate(step, check, list(design.names), max_iter, tol, solve=_solve_qr(design))


def _null_deviance(family: str, sums: ResponseSums) -> float:
    mean = sums.wy / sums.weight if sums.weight else math.nan
    if family == "binomial":
        entropy = sum(p * math.log(p) for p in (mean, 1.0 - mean) if p > 0)
        return 2.0 * (sums.ylogy - sums.weight * entropy)
    return 2.0 * (sums.ylogy - (sums.weight * mean * math.log(mean) if mean > 0 else 0.0))


def _llf(family: str, deviance: float, sums: ResponseSums, nobs: float, weighted_rows: bool) -> float:
    if family == "gaussian":
        value = -nobs / 2.0 * (math.log(2.0 * math.pi * deviance / nobs) + 1.0)
        return value + (0.5 * sums.log_w if weighted_rows else 0.0)
    if family == "binomial":
        return sums.ylogy - deviance / 2.0
    return sums.ylogy - sums.wy - sums.lgamma - deviance / 2.0


def _has_constant(design: Design) -> bool:
    """An intercept, or a full set of indicators that spans one (a cube)."""
    return design.intercept or any(len(t) == 1 and all(not r for r in c) and design.factors[t[0]].levels
                                   for t, c in zip(design.terms, design.coding, strict=True))


def _glm_spec(design: Design, family: str) -> GlmSpec:
    categorical = [t[0] for t in design.terms if design.factors[t[0]].levels is not None]
    return GlmSpec(
        design.response.expression,
        tuple(design.factors[i].column for i in categorical),
        tuple(len(design.factors[i].levels) for i in categorical),
        tuple(design.coding[design.terms.index((i,))][0] for i in categorical),
        tuple(design.factors[t[0]].expression for t in design.terms if design.factors[t[0]].levels is None),
        design.intercept,
        family,
    )


def _cell_table(design: Design, family: str) -> tuple[GlmSpec, np.ndarray] | None:
    """Spec and cell design rows of a design of stored categorical columns only (interactions
    too, any reference level), with few enough cells; else None."""
    if design.transforms or design.row_selection or design.weights or design.response is None:
        return None
    plain = design.response.expression in design.columns and design.factors
    if not plain or any(f.levels is None or f.values is not None for f in design.factors):
        return None
    columns = tuple(dict.fromkeys(f.column for f in design.factors))
    n_levels = tuple(len(next(f.levels for f in design.factors if f.column == c)) for c in columns)
    spec = GlmSpec(design.response.expression, columns, n_levels, (False,) * len(columns), (),
                   design.intercept, family)  # fmt: skip
    if not uses_cells(spec):
        return None
    codes = np.unravel_index(np.arange(n_cells(spec)), n_levels)  # the cell numbering of partials._cells
    return spec, design_matrix(design, dict(zip(columns, codes, strict=True)))[0].T


def _design(path, info, formula, cube, options, tasks, map_blocks) -> Design:
    """Parse, gather the levels ``F(x)`` needs (one pass over those columns) and build the design."""
    parsed = parse_formula(formula)
    if parsed.response is None:
        raise ModelError(f"{formula!r} has no response")
    needed = factor_columns(parsed, info, options.get("transforms") or {})
    distinct = {}
    if needed:
        prep = build_design(parse_formula("~ 1"), info, **{k: v for k, v in options.items() if k != "weights"
                                                           and k != "pweights"})  # fmt: skip
        prep = Design(prep.formula, None, (), (), (), False, (), (),
                      tuple(dict.fromkeys(prep.columns + tuple(n for n in needed if n in info.names))),
                      prep.transforms, prep.row_selection)  # fmt: skip
        for part in map_blocks(distinct_partial, [(path, blocks, prep, tuple(needed)) for blocks in tasks]):
            distinct = {n: np.union1d(distinct.get(n, np.empty(0)), part[n]) for n in needed}
    return build_design(parsed, info, cube=cube, distinct=distinct, **options)


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
    transforms: dict[str, str] | None = None,
    row_selection: str | None = None,
    weights: str | None = None,
    pweights: str | None = None,
) -> ModelResult:
    """Fit a generalized linear model (canonical link) to a block data set.

    ``family`` is ``"gaussian"`` (identity), ``"binomial"`` (logit; 0/1 response)
    or ``"poisson"`` (log). The formula is R's (`rxgrid.analytics.formula`):
    interactions ``a:b`` and ``a*b``, ``log(x)``, ``I(x**2)``, ``F(x)`` (a numeric
    column as a factor), ``C(g, Treatment("ref"))``, ``- 1``. Categorical
    predictors expand to one column per level, the reference level (the first,
    or ``Treatment``'s) dropped when the term's margin is in the model;
    ``cube=True`` drops the intercept and keeps every level of the first
    (categorical) term. ``transforms={"Late": "ArrDelay > 15"}`` derives
    columns per block, ``row_selection="Distance > 500"`` keeps the rows where
    it holds, ``weights="w"`` are frequency weights (``nobs`` is their sum) and
    ``pweights="w"`` probability weights: the same weighted fit (statsmodels' WLS,
    and GLM with ``var_weights``), ``nobs`` the row count, model-based standard
    errors (no sandwich). Rows
    with a missing value in any column of the model are skipped and counted.
    Work is split into ranges of ``blocks_per_read`` blocks and run through
    ``map_blocks``. IRLS stops when the deviance changes by less than ``tol``
    relative (R's ``glm.control(epsilon = 1e-8)`` and statsmodels' default).
    """
    if family not in FAMILY_TITLES:
        raise ModelError(f"family must be one of {sorted(FAMILY_TITLES)}, got {family!r}")
    path = os.fspath(path)
    info = get_info(path)
    tasks = block_ranges(info.blocks, blocks_per_read)
    options = dict(transforms=transforms, row_selection=row_selection, weights=weights, pweights=pweights)
    design = _design(path, info, formula, cube, options, tasks, map_blocks)
    names = list(design.names)
    spec = _glm_spec(design, family) if design.is_main_effects() else None
    table = _cell_table(design, family)
    if table is not None:
        beta, stats, iterations, converged, null = _cell_mean_fit(path, tasks, table[0], names, map_blocks,
                                                                  max_iter, tol, table[1])  # fmt: skip
        fit = _fast_result(stats, family, path, tasks, design, map_blocks)
    elif spec is not None and family != "gaussian":
        beta, stats, iterations, converged = _irls(path, tasks, spec, names, map_blocks, max_iter, tol)
        fit = _fast_result(stats, family, path, tasks, design, map_blocks)
        null = _null_deviance(family, fit["sums"])
    else:
        beta, stats, iterations, converged = _dense_fit(path, tasks, design, family, map_blocks,
                                                        max_iter, tol)  # fmt: skip
        _, r, rss = solve_r(stats, design)
        deviance = rss if family == "gaussian" else stats.deviance
        fit = dict(deviance=deviance, cov=unscaled_cov(r), sums=stats.sums)
        null = float((stats.factor.r[:, -1] ** 2).sum()) if family == "gaussian" else \
            _null_deviance(family, stats.sums)  # fmt: skip
    sums = fit.pop("sums")
    nobs = float(stats.n_used if pweights else sums.weight)
    scale = fit["deviance"] / max(nobs - len(names), 1) if family == "gaussian" else 1.0
    return ModelResult(
        formula.strip(), family, path, cube, tuple(names), beta, fit["cov"] * scale, fit["deviance"],
        stats.n_used, stats.n_skipped, iterations, converged,
        dropped=tuple(r for r in design.rows if r not in names), rows=design.rows, scale=scale, nobs=nobs,
        null_deviance=null, llf=_llf(family, fit["deviance"], sums, nobs, bool(pweights)),
        intercept=_has_constant(design), design=design,
    )  # fmt: skip


def _fast_result(stats: GlmPartial, family, path, tasks, design, map_blocks) -> dict:
    sums = ResponseSums(float(stats.n_used), stats.sy, stats.sylogy, stats.slgamma)
    if family == "poisson" and stats.slgamma == 0.0:  # the cell moments have no log(y!): one more pass
        sums = ResponseSums(*sums.astuple()[:3], sum(p.lgamma for p in map_blocks(
            response_partial, [(path, blocks, design, family) for blocks in tasks])))  # fmt: skip
    return dict(deviance=stats.deviance, cov=np.linalg.inv(stats.xtwx), sums=sums)


def lin_mod(path: str | os.PathLike, formula: str, *, cube: bool = False, **options) -> ModelResult:
    """Linear regression by least squares (RevoScaleR's ``rxLinMod``); see `glm` for options."""
    return glm(path, formula, "gaussian", cube=cube, **options)


def logit(path: str | os.PathLike, formula: str, **options) -> ModelResult:
    """Logistic regression of a 0/1 response (RevoScaleR's ``rxLogit``); see `glm`."""
    return glm(path, formula, "binomial", **options)
