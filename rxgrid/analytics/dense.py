"""The general path: designs built block by block and reduced to R factors (TSQR).

Any formula (interactions, ``log(x)``, ``F(x)``, weights, transforms, row
selection) goes through here, and so does every linear model with a numeric
predictor, for accuracy: each block's design rows, weighted and centred, are
reduced to their R factor (`rxgrid.kernels.qr`), the factors of the blocks
are merged in order, and the coefficients come from a triangular solve, so the
error grows with cond(X), not cond(X)**2 as with the normal equations. One
pass fits a linear model; each IRLS step of a GLM is one pass at the current
coefficients. The map functions take only picklable arguments (path, block
indices, the frozen `Design`, coefficients), so a cluster runs them as tasks.
"""

import math
import os
from dataclasses import dataclass

import numpy as np

from rxgrid.kernels.glm import _EPS
from rxgrid.kernels.qr import RFactor, combine_r_factors, r_factor

from .dataset import get_info, read_block
from .design import Design, evaluate, frame
from .errors import ModelError

# A column is aliased when the sine of its angle to the span of the columns before it is below this.
ALIASED_SINE = 1e-10


@dataclass(frozen=True)
class ResponseSums:
    """Weighted sums of the response over the rows used (for null deviance and log-likelihood)."""

    weight: float = 0.0  # sum of the prior weights: nobs with frequency weights
    wy: float = 0.0
    ylogy: float = 0.0  # binomial: y log y + (1 - y) log(1 - y); poisson: y log y
    lgamma: float = 0.0  # poisson: log(y!)
    log_w: float = 0.0  # sum of log weights (the WLS log-likelihood)

    def __add__(self, other: "ResponseSums") -> "ResponseSums":
        return ResponseSums(*(a + b for a, b in zip(self.astuple(), other.astuple(), strict=True)))

    def astuple(self) -> tuple[float, ...]:
        """The five sums in order."""
        return (self.weight, self.wy, self.ylogy, self.lgamma, self.log_w)


def response_sums(y: np.ndarray, w: np.ndarray | None, family: str) -> ResponseSums:
    """`ResponseSums` of complete rows."""
    if family == "gaussian" and w is None:
        return ResponseSums(float(len(y)), float(y.sum()))
    w1 = np.ones_like(y) if w is None else w
    log_w = float(np.log(w[w > 0]).sum()) if w is not None else 0.0
    if family == "gaussian":
        return ResponseSums(float(w1.sum()), float(w1 @ y), 0.0, 0.0, log_w)
    with np.errstate(divide="ignore", invalid="ignore"):
        ylogy = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0)), 0.0)
        if family == "binomial":
            ylogy = ylogy + np.where(y < 1, (1 - y) * np.log(np.where(y < 1, 1 - y, 1.0)), 0.0)
    from scipy.special import gammaln

    lgamma = float(w1 @ gammaln(y + 1)) if family == "poisson" else 0.0
    return ResponseSums(float(w1.sum()), float(w1 @ y), float(w1 @ ylogy), lgamma, log_w)


@dataclass(frozen=True)
class QrPartial:
    """An IRLS step's R factor of ``sqrt(w) [X z]`` over some blocks, with the deviance and counts."""

    factor: RFactor | None
    deviance: float
    n_used: int
    n_skipped: int
    y_min: float
    y_max: float
    sums: ResponseSums


def _working(y, eta, family: str, start: bool):
    """Mean, working weight, working response and deviance terms (canonical links)."""
    if family == "gaussian":  # one pass from the start: no weights and no deviance needed
        return None, y, np.zeros(1) if start else (y - eta) ** 2
    if family == "binomial":
        mu = (y + 0.5) / 2.0 if start else np.clip(1.0 / (1.0 + np.exp(-eta)), _EPS, 1.0 - _EPS)
        eta = np.log(mu / (1.0 - mu)) if start else eta
        variance = mu * (1.0 - mu)
        with np.errstate(divide="ignore", invalid="ignore"):
            dev = 2.0 * (np.where(y > 0, y * np.log(y / mu), 0.0)
                         + np.where(y < 1, (1 - y) * np.log((1 - y) / (1 - mu)), 0.0))  # fmt: skip
    else:
        mu = y + 0.1 if start else np.exp(eta)
        eta = np.log(mu) if start else eta
        variance = mu
        with np.errstate(divide="ignore", invalid="ignore"):
            dev = 2.0 * (np.where(y > 0, y * np.log(y / mu), 0.0) - (y - mu))
    return variance, eta + (y - mu) / variance, dev


def qr_partial(path: str | os.PathLike, blocks: list[int], design: Design, family: str,
               beta: np.ndarray | None) -> QrPartial:  # fmt: skip
    """One IRLS step (``beta=None``: the start, from ``y``) over ``blocks``; a linear model's fit."""
    info = get_info(path)
    parts = []
    for block in blocks:
        X, y, w, skipped = evaluate(design, read_block(path, block, design.columns, info=info), spare=1)
        eta = None if beta is None else beta @ X[:-1]
        working, z, dev = _working(y, eta, family, beta is None)
        weight = working if w is None else (w if working is None else working * w)
        X[-1] = z
        rows = X[1:] if design.intercept else X  # a view: the intercept is rebuilt from the means
        factor = r_factor(rows, weight, center=design.intercept)
        y_range = (float(y.min()), float(y.max())) if len(y) else (np.inf, -np.inf)
        deviance = float(dev.sum() if w is None or len(dev) != len(w) else dev @ w)
        parts.append(QrPartial(factor, deviance, len(y), skipped, *y_range, response_sums(y, w, family)))
    return combine_qr(parts) if parts else QrPartial(None, 0.0, 0, 0, np.inf, -np.inf, ResponseSums())


def combine_qr(parts: list[QrPartial]) -> QrPartial:
    """Merge partial R factors and add the rest, in list order."""
    factors = [p.factor for p in parts if p.factor is not None]
    sums = ResponseSums()
    for p in parts:
        sums = sums + p.sums
    return QrPartial(
        combine_r_factors(factors) if factors else None,
        float(sum(p.deviance for p in parts)),
        sum(p.n_used for p in parts),
        sum(p.n_skipped for p in parts),
        min(p.y_min for p in parts),
        max(p.y_max for p in parts),
        sums,
    )


def full_r(stats: QrPartial, design: Design) -> np.ndarray:
    """``(p + 1, p + 1)`` R factor of ``sqrt(w) [X z]``, the intercept column rebuilt from the means."""
    factor = stats.factor
    if not design.intercept:
        return factor.r
    q = factor.r.shape[0]
    r = np.zeros((q + 1, q + 1))
    root = math.sqrt(factor.weight)
    r[0, 0], r[0, 1:], r[1:, 1:] = root, root * factor.mean, factor.r
    return r


def aliased_columns(r: np.ndarray, p: int) -> list[int]:
    """Columns whose sine to the span of the columns before them is below `ALIASED_SINE`."""
    norms = np.sqrt((r[:, :p] ** 2).sum(axis=0))
    return [j for j in range(p) if norms[j] == 0.0 or abs(r[j, j]) <= ALIASED_SINE * norms[j]]


def solve_r(stats: QrPartial, design: Design) -> tuple[np.ndarray, np.ndarray, float]:
    """Coefficients, ``R`` of the design (``cov = scale R^-1 R^-T``) and the weighted RSS of ``z``."""
    from scipy.linalg import solve_triangular

    if stats.factor is None or stats.n_used == 0:
        raise ModelError("no rows left after removing rows with missing values")
    r = full_r(stats, design)
    p = design.p
    aliased = aliased_columns(r, p)
    if aliased:
        raise ModelError(
            f"singular design: {[design.names[j] for j in aliased]} are linear combinations of other "
            "columns (a level without rows, or a redundant column)"
        )
    beta = solve_triangular(r[:p, :p], r[:p, p])
    return beta, r[:p, :p], float(r[p, p] ** 2)


def unscaled_cov(r: np.ndarray) -> np.ndarray:
    """``(R'R)^-1`` from the triangular ``R``."""
    from scipy.linalg import solve_triangular

    inverse = solve_triangular(r, np.eye(len(r)))
    return inverse @ inverse.T


def distinct_partial(
    path: str | os.PathLike, blocks: list[int], design: Design, names: tuple[str, ...]
) -> dict:
    """Distinct non-missing values of the numeric columns ``F(x)`` makes factors of."""
    info = get_info(path)
    found = {name: np.empty(0) for name in names}
    for block in blocks:
        data = frame(design, read_block(path, block, design.columns, info=info))
        for name in names:
            values = np.asarray(data[name], dtype=np.float64)
            found[name] = np.union1d(found[name], np.unique(values[~np.isnan(values)]))
    return found


def response_partial(path: str | os.PathLike, blocks: list[int], design: Design, family: str) -> ResponseSums:
    """`ResponseSums` of the complete rows of ``blocks``."""
    info = get_info(path)
    total = ResponseSums()
    for block in blocks:
        _, y, w, _ = evaluate(design, read_block(path, block, design.columns, info=info))
        total = total + response_sums(y, w, family)
    return total
