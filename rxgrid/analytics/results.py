"""Fitted models shaped like statsmodels' results, printed as RevoScaleR prints them.

`ModelResult` names everything by term (a pandas Series or DataFrame when
pandas is installed, else numpy arrays): ``params``, ``bse``, ``tvalues``,
``pvalues``, ``conf_int(alpha)``, ``cov_params()``, ``nobs``, ``df_resid``,
``df_model``; for linear models ``rsquared``, ``rsquared_adj``, ``fvalue``,
``f_pvalue`` and ``resid_std_err``; for GLMs ``llf``, ``aic``, ``bic``,
``deviance`` and ``null_deviance``. ``summary()`` is RevoScaleR's printout,
``_repr_html_`` the same as an HTML table for Jupyter. ``predict`` scores new
data (`rxgrid.analytics.predict`).
"""

import html
import math
from dataclasses import dataclass, field

import numpy as np

FAMILY_TITLES = {"gaussian": "Linear", "binomial": "Logistic", "poisson": "Poisson"}


def _distribution():
    try:
        from scipy import stats
    except ImportError:  # pragma: no cover - scipy comes with statsmodels and scikit-learn
        return None
    return stats


def _p_values(statistics: np.ndarray, df: float | None) -> np.ndarray:
    stats = _distribution()
    if stats is None:
        return np.array([math.erfc(abs(s) / math.sqrt(2)) for s in statistics])
    if df is None:
        return 2 * stats.norm.sf(np.abs(statistics))
    return 2 * stats.t.sf(np.abs(statistics), df)


def _series(values, names):
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        return np.asarray(values)
    return pd.Series(np.asarray(values), index=list(names))


def _frame(values, index, columns):
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        return np.asarray(values)
    return pd.DataFrame(np.asarray(values), index=list(index), columns=list(columns))


@dataclass(repr=False)
class ModelResult:
    """A fitted linear or generalized linear model (see the module docstring)."""

    formula: str
    family: str
    path: str
    cube: bool
    names: tuple[str, ...]
    estimates: np.ndarray
    cov: np.ndarray
    deviance: float
    n_used: int
    n_skipped: int
    iterations: int
    converged: bool
    dropped: tuple[str, ...] = ()
    rows: tuple[str, ...] = ()
    scale: float = 1.0
    nobs: float = 0.0
    null_deviance: float = math.nan
    llf: float = math.nan
    intercept: bool = True
    design: object = None
    std_errors: np.ndarray = field(init=False)
    statistics: np.ndarray = field(init=False)
    p_values: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.nobs = self.nobs or float(self.n_used)
        self.std_errors = np.sqrt(np.diag(self.cov))
        with np.errstate(divide="ignore", invalid="ignore"):
            self.statistics = self.estimates / self.std_errors
        self.p_values = _p_values(self.statistics, self.df_resid if self.uses_t else None)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("map_blocks", None)  # a cluster's map stays with the client that fitted
        return state

    # --- statsmodels' names ---------------------------------------------------------------

    @property
    def params(self):
        """Coefficients by term."""
        return _series(self.estimates, self.names)

    @property
    def bse(self):
        """Standard errors by term."""
        return _series(self.std_errors, self.names)

    @property
    def tvalues(self):
        """Estimate / standard error (t for the gaussian family, z otherwise)."""
        return _series(self.statistics, self.names)

    @property
    def pvalues(self):
        """Two-sided p-values (t or normal distribution)."""
        return _series(self.p_values, self.names)

    def conf_int(self, alpha: float = 0.05):
        """``(lower, upper)`` confidence limits of the coefficients, columns 0 and 1 as statsmodels'."""
        stats = _distribution()
        q = stats.t.ppf(1 - alpha / 2, self.df_resid) if self.uses_t else stats.norm.ppf(1 - alpha / 2)
        limits = np.column_stack([self.estimates - q * self.std_errors, self.estimates + q * self.std_errors])
        return _frame(limits, self.names, [0, 1])

    def cov_params(self):
        """Covariance matrix of the coefficients."""
        return _frame(self.cov, self.names, self.names)

    @property
    def uses_t(self) -> bool:
        """True for the gaussian family (t statistics), else z statistics."""
        return self.family == "gaussian"

    @property
    def df_resid(self) -> float:
        """Residual degrees of freedom: observations minus coefficients."""
        return self.nobs - len(self.names)

    df_residual = df_resid

    @property
    def df_model(self) -> int:
        """Coefficients besides the intercept."""
        return len(self.names) - int(self.intercept)

    @property
    def resid_std_err(self) -> float:
        """Residual standard error (linear models): ``sqrt(RSS / df_resid)``."""
        return math.sqrt(self.scale)

    @property
    def rsquared(self) -> float:
        """``1 - RSS / TSS`` (TSS about the mean with an intercept, about 0 without)."""
        return 1.0 - self.deviance / self.null_deviance

    @property
    def rsquared_adj(self) -> float:
        """R-squared adjusted for the degrees of freedom."""
        return 1.0 - (self.nobs - int(self.intercept)) / self.df_resid * (1.0 - self.rsquared)

    @property
    def fvalue(self) -> float:
        """F statistic of the model against the intercept-only model."""
        return (self.null_deviance - self.deviance) / max(self.df_model, 1) / self.scale

    @property
    def f_pvalue(self) -> float:
        """p-value of `fvalue`."""
        return float(_distribution().f.sf(self.fvalue, self.df_model, self.df_resid))

    @property
    def aic(self) -> float:
        """Akaike's information criterion, ``-2 llf + 2 p``."""
        return -2.0 * self.llf + 2.0 * len(self.names)

    @property
    def bic(self) -> float:
        """Schwarz's criterion, ``-2 llf + log(nobs) p`` (statsmodels' ``bic_llf``)."""
        return -2.0 * self.llf + math.log(self.nobs) * len(self.names)

    @property
    def condition_number(self) -> float:
        """Condition number of the variance-covariance matrix of the coefficients."""
        return float(np.linalg.cond(self.cov))

    # --- older names, kept --------------------------------------------------------------

    def _named(self, values: np.ndarray) -> dict[str, float]:
        return dict(zip(self.names, (float(v) for v in values), strict=True))

    @property
    def coefficients(self) -> dict[str, float]:
        """Coefficient estimates by name, as a dict."""
        return self._named(self.estimates)

    @property
    def standard_errors(self) -> dict[str, float]:
        """Standard errors by name, as a dict."""
        return self._named(self.std_errors)

    @property
    def t_values(self) -> dict[str, float]:
        """Estimate / standard error by name, as a dict."""
        return self._named(self.statistics)

    z_values = t_values

    @property
    def p_value(self) -> dict[str, float]:
        """Two-sided p-values by name, as a dict."""
        return self._named(self.p_values)

    # --- printing -------------------------------------------------------------------------

    def predict(self, data, **options):
        """Score ``data``: see `rxgrid.analytics.predict.predict`."""
        from .predict import predict

        return predict(self, data, **options)

    def summary(self) -> str:
        """A printable summary shaped like RevoScaleR's."""
        return "\n".join(_summary_lines(self))

    __str__ = summary

    def __repr__(self) -> str:
        kind = ("Cube " if self.cube else "") + FAMILY_TITLES[self.family]
        return f"<{kind} regression {self.formula!r}: {len(self.names)} coefficients, {self.n_used} rows>"

    def _repr_html_(self) -> str:
        head, table, tail = _summary_parts(self)
        cells = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in table[1:]
        )
        header = "".join(f"<th>{html.escape(c)}</th>" for c in table[0])
        lines = "<br>".join(html.escape(line) for line in head)
        return (
            f"<div><p>{lines}</p><table><thead><tr>{header}</tr></thead><tbody>{cells}</tbody></table>"
            f"<p>{'<br>'.join(html.escape(line) for line in tail)}</p></div>"
        )


def _stars(p: float) -> str:
    marks = ((0.001, "***"), (0.01, "**"), (0.05, "*"), (0.1, "."))
    return next((mark for limit, mark in marks if p < limit), "")


def _summary_parts(r: ModelResult) -> tuple[list[str], list[list[str]], list[str]]:
    title = ("Cube " if r.cube else "") + FAMILY_TITLES[r.family] + " Regression Results for: " + r.formula
    kind = "t" if r.uses_t else "z"
    rows = r.rows or r.names
    head = [
        title,
        f"File name: {r.path}",
        f"Dependent variable(s): {r.formula.split('~')[0].strip()}",
        f"Total independent variables: {len(rows)} (Including number dropped: {len(r.dropped)})",
        f"Number of valid observations: {r.n_used}",
        f"Number of missing observations: {r.n_skipped}",
    ]
    if not r.uses_t:
        head.append(
            f"-2*LogLikelihood: {r.deviance:.4f} (Residual deviance on {r.df_resid:g} degrees of freedom)"
        )
    table = [["", "Estimate", "Std. Error", f"{kind} value", f"Pr(>|{kind}|)", ""]]
    index = {name: i for i, name in enumerate(r.names)}
    for name in rows:
        if name not in index:
            table.append([name] + ["Dropped"] * 4 + [""])
            continue
        i = index[name]
        table.append([name, f"{r.estimates[i]:.6g}", f"{r.std_errors[i]:.6g}", f"{r.statistics[i]:.2f}",
                      f"{max(r.p_values[i], 2.22e-16):.3g}", _stars(r.p_values[i])])  # fmt: skip
    tail = ["---", "Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1", ""]
    if r.uses_t:
        tail += [f"Residual standard error: {r.resid_std_err:.6g} on {r.df_resid:g} degrees of freedom"]
        if r.df_model > 0 and math.isfinite(r.null_deviance) and r.null_deviance > 0:
            tail += [f"Multiple R-squared: {r.rsquared:.6g}",
                     f"Adjusted R-squared: {r.rsquared_adj:.6g}",
                     f"F-statistic: {r.fvalue:.6g} on {r.df_model} and {r.df_resid:g} DF,  "
                     f"p-value: {max(r.f_pvalue, 2.22e-16):.4g}"]  # fmt: skip
    else:
        tail += [f"Residual deviance: {r.deviance:.6g} on {r.df_resid:g} degrees of freedom",
                 f"Null deviance: {r.null_deviance:.6g} on {r.nobs - int(r.intercept):g} degrees of freedom",
                 f"AIC: {r.aic:.6g}"]  # fmt: skip
    tail += [
        f"Condition number of final variance-covariance matrix: {r.condition_number:.4f}",
        f"Number of iterations: {r.iterations}" + ("" if r.converged else " (did not converge)"),
    ]
    return head, table, tail


def _summary_lines(r: ModelResult) -> list[str]:
    head, table, tail = _summary_parts(r)
    width = max(len(row[0]) for row in table)
    lines = head + ["", "Coefficients:"]
    widths = (width, 12, 11, 9, 9)
    for row in table:
        cells = [f"{row[0]:{width}}"] + [f"{c:>{w}}" for c, w in zip(row[1:5], widths[1:], strict=True)]
        lines.append((" ".join(cells) + (" " + row[5] if row[5] else "")).rstrip())
    return lines + tail
