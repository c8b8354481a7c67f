"""The design of a model, built in the driver once and evaluated on each block by the workers.

``build_design`` turns a parsed `Formula` and a data set's info into a frozen,
picklable `Design`: the response, the weights, the transforms and row
selection, and the design columns with their names. Factors are categorical
(a ``category`` column, ``F(x)``: a numeric column as a factor, as RevoScaleR
does, ``C(x, Treatment("ref"))``) or numeric (a column, a transform, or an
expression such as ``log(x)`` or ``I(x**2)``). A term's columns are the
products of its factors' columns; a categorical factor in a term is coded by
contrasts (its reference level has no column) when the term without it is
already in the model (the intercept counts as the empty term), else by one
column per level: R's rule, so ``a*b`` gives ``a``, ``b`` and ``a:b`` by contrasts
and ``x:g`` without ``g`` gives one slope per level.

``evaluate(design, columns)`` computes, for one block's columns, the rows kept
by ``row_selection``, the design ``X`` (one numpy row per design column), the
response and weights of the complete rows, and the number of rows skipped for
a missing value.
"""

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .errors import ModelError
from .formula import FUNCTIONS, Formula, expression_names, read_factor


@dataclass(frozen=True)
class Factor:
    """One factor: numeric (``levels is None``) or categorical, and how to compute it."""

    text: str  # as formulaic prints it: "DayOfWeek", "log(x)", "F(n)", "C(g, Treatment('b'))"
    expression: str | None = None  # a numeric factor's expression (a column name is one)
    column: str | None = None  # a categorical factor's source column
    levels: tuple[str, ...] | None = None
    values: tuple[float, ...] | None = None  # F(x): the number each level stands for
    reference: int = 0
    label: str = ""  # prefix of its coefficient names: "DayOfWeek=Monday", "F(n)=3"


@dataclass(frozen=True)
class Design:
    """Everything a worker needs to build a block's design (see the module docstring)."""

    formula: str
    response: Factor | None
    factors: tuple[Factor, ...]
    terms: tuple[tuple[int, ...], ...]  # factor indices
    coding: tuple[tuple[bool, ...], ...]  # per term, per factor: reduced (contrasts)
    intercept: bool
    names: tuple[str, ...]
    rows: tuple[str, ...]  # names with the reference levels of main effects (printed as dropped)
    columns: tuple[str, ...]  # stored columns to read
    transforms: tuple[tuple[str, str], ...] = ()
    row_selection: str | None = None
    weights: str | None = None
    weights_kind: str = "frequency"

    @property
    def p(self) -> int:
        """Number of design columns (coefficients)."""
        return len(self.names)

    def is_main_effects(self) -> bool:
        """Plain columns only, no weights, transforms or selection: the cell kernels apply."""
        plain = all(len(t) == 1 for t in self.terms) and not (self.transforms or self.row_selection)
        stored = all(
            f.expression in self.columns
            if f.levels is None
            else (f.column == f.text and f.values is None and f.reference == 0)
            for f in self.factors
        )
        response = self.response is not None and self.response.expression in self.columns
        return plain and stored and response and self.weights is None


# --- building -----------------------------------------------------------------------------


def _level_name(value: float) -> str:
    return f"{value:g}" if math.isfinite(value) else str(value)


def _factor(text: str, info, derived: set[str], distinct: Mapping[str, np.ndarray]) -> Factor:
    call = read_factor(text)
    if call.kind == "expression":
        _check_numeric(call.names, info, derived, f"term {text!r}")
        return Factor(text, expression=text, label=text)
    if call.kind == "column" and (call.column in derived or _type(info, call.column, text) != "category"):
        return Factor(text, expression=call.column, label=text)
    column = call.column
    if call.kind == "F" or (
        call.kind == "C" and (column in derived or _type(info, column, text) != "category")
    ):
        if column not in distinct:
            raise ModelError(f"{text!r}: the levels of {column!r} are not known yet")  # caller gathers them
        values = tuple(float(v) for v in distinct[column])
        levels, label = tuple(_level_name(v) for v in values), (text if call.kind == "F" else column)
    else:
        values, levels, label = None, tuple(info.variable(column).levels), column
    reference = 0
    if call.reference is not None:
        wanted = str(call.reference) if values is None else _level_name(float(call.reference))
        if wanted not in levels:
            raise ModelError(
                f"{text!r}: reference level {call.reference!r} is not among the levels {list(levels)}"
            )
        reference = levels.index(wanted)
    return Factor(text, column=column, levels=levels, values=values, reference=reference, label=label)


def _type(info, column: str, where: str) -> str:
    if column not in info.names:
        raise ModelError(f"unknown column {column!r} in {where}; the data set has {info.names}")
    return info.variable(column).type


def _check_numeric(names, info, derived: set[str], where: str) -> None:
    for name in names:
        if name not in derived and _type(info, name, where) == "category":
            raise ModelError(
                f"{where} uses the categorical column {name!r} in an expression; "
                f"use {name!r} as a term, or C({name}) / F(x) for factors"
            )


def factor_columns(formula: Formula, info, transforms: Mapping[str, str]) -> list[str]:
    """Numeric columns that ``F(x)`` or ``C(x)`` turn into factors (their levels need a pass)."""
    derived = set(transforms)
    found = []
    for text in {f for t in formula.factors for f in t}:
        call = read_factor(text)
        numeric = call.column in derived or (
            call.column in info.names and info.variable(call.column).type != "category"
        )
        if call.kind == "F" or (call.kind == "C" and numeric):
            found.append(call.column)
    return sorted(set(found))


def _coding(terms: list[tuple[int, ...]], factors: list[Factor], intercept: bool) -> list[tuple[bool, ...]]:
    """R's rule (see the module docstring); without an intercept the first factor is coded in full."""
    present = {frozenset()} if intercept else set()
    coding = []
    for term in terms:
        flags = tuple(factors[i].levels is not None and frozenset(term) - {i} in present for i in term)
        coding.append(flags)
        if any(factors[i].levels is not None for i in term):
            present.add(frozenset())  # full indicators of a factor span the intercept
        present.add(frozenset(term))
    return coding


def _term_columns(term, coding, factors: list[Factor]) -> list[tuple[str, tuple]]:
    """(name, ((factor, level) or (factor, None) for numeric, ...)) of each column of a term."""
    choices = []
    for i, reduced in zip(term, coding, strict=True):
        f = factors[i]
        if f.levels is None:
            choices.append([(f.label, (i, None))])
        else:
            kept = [k for k in range(len(f.levels)) if not (reduced and k == f.reference)]
            choices.append([(f"{f.label}={f.levels[k]}", (i, k)) for k in kept])
    return [
        (":".join(n for n, _ in combo), tuple(part for _, part in combo))
        for combo in itertools.product(*choices)
    ]


def build_design(formula: Formula, info, *, cube: bool = False, transforms: Mapping[str, str] | None = None,
                 row_selection: str | None = None, weights: str | None = None, pweights: str | None = None,
                 distinct: Mapping[str, np.ndarray] | None = None) -> Design:  # fmt: skip
    """The `Design` of ``formula`` on a data set described by ``info`` (see the module docstring)."""
    transforms = dict(transforms or {})
    derived = set()
    for name, expression in transforms.items():
        _check_numeric(
            expression_names(expression, f"transform {name!r}"), info, derived, f"transform {name!r}"
        )
        derived.add(name)
    if row_selection:
        _check_numeric(expression_names(row_selection, "row_selection"), info, derived, "row_selection")
    if weights and pweights:
        raise ModelError("give weights= (frequency weights) or pweights=, not both")
    weight = weights or pweights
    if weight:
        _check_numeric([weight], info, derived, "weights")
    texts = list(dict.fromkeys(f for t in formula.factors for f in t))
    factors = [_factor(t, info, derived, distinct or {}) for t in texts]
    terms = [tuple(texts.index(f) for f in t) for t in formula.factors]
    # categorical main effects first, as the cell kernels lay them out
    terms.sort(key=lambda t: (len(t), not (len(t) == 1 and factors[t[0]].levels is not None)))
    if cube and (not terms or len(terms[0]) != 1 or factors[terms[0][0]].levels is None):
        raise ModelError("cube=True needs a categorical first term")
    intercept = formula.intercept and not cube
    response = None
    if formula.response is not None:
        response = _factor(formula.response, info, derived, {})
        if response.levels is not None:
            raise ModelError(
                f"the response {formula.response!r} is categorical; a numeric response is needed"
            )
    coding = _coding(terms, factors, intercept)
    names, rows = ["(Intercept)"] if intercept else [], ["(Intercept)"] if intercept else []
    for term, flags in zip(terms, coding, strict=True):
        names += [n for n, _ in _term_columns(term, flags, factors)]
        rows += [n for n, _ in _term_columns(term, (False,) * len(term), factors)] if len(term) == 1 else \
            [n for n, _ in _term_columns(term, flags, factors)]  # fmt: skip
    read = [f.column for f in factors if f.column] + [
        n for f in factors if f.expression for n in expression_names(f.expression, f.text)
    ]
    read += list(expression_names(response.expression, "the response")) if response else []
    read += [n for e in transforms.values() for n in expression_names(e, "a transform")]
    read += list(expression_names(row_selection, "row_selection")) if row_selection else []
    read += [weight] if weight else []
    stored = tuple(dict.fromkeys(n for n in read if n not in derived))
    for name in stored:
        _type(info, name, repr(formula.text))
    return Design(formula.text, response, tuple(factors), tuple(terms), tuple(coding), intercept,
                  tuple(names),
                  tuple(rows), stored, tuple(transforms.items()), row_selection, weight,
                  "frequency" if weights else "probability")  # fmt: skip


# --- evaluating on a block ------------------------------------------------------------------


def _namespace(columns: Mapping[str, np.ndarray]) -> dict:
    space = {name: getattr(np, name) for name in FUNCTIONS if name != "I"}
    space["I"] = lambda x: x
    space.update(columns)
    return space


def _evaluate(expression: str, space: dict, n: int) -> np.ndarray:
    with np.errstate(all="ignore"):
        value = eval(expression, {"__builtins__": {}}, space)  # noqa: S307 - the user's own formula, as in R
    return np.broadcast_to(np.asarray(value, dtype=np.float64), (n,))


def frame(design: Design, columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A block's columns with the transforms added and ``row_selection`` applied."""
    data = {name: np.asarray(columns[name]) for name in design.columns}
    n = len(next(iter(columns.values()))) if columns else 0
    for name, expression in design.transforms:
        data[name] = _evaluate(expression, _namespace(data), n)
    if design.row_selection:
        keep = _evaluate(design.row_selection, _namespace(data), n) != 0  # NaN comparisons are False
        data = {name: values[keep] for name, values in data.items()}
    return data


def codes_of(factor: Factor, data: Mapping[str, np.ndarray]) -> np.ndarray:
    """Level codes of a categorical factor (-1 missing or unknown)."""
    values = data[factor.column]
    if factor.values is None:
        values = np.asarray(values)  # stored codes: int8/16/32, compared as they are
        return values if values.dtype.kind in "iu" else values.astype(np.int64)
    values = np.asarray(values, dtype=np.float64)
    known = np.asarray(factor.values)
    if not len(known):
        return np.full(len(values), -1)
    codes = np.searchsorted(known, values).clip(0, len(known) - 1)
    return np.where(known[codes] == values, codes, -1)


def _factor_values(design: Design, data: Mapping[str, np.ndarray], n: int):
    """Numeric values and level codes of every factor, and which rows have all of them."""
    space = _namespace(data)
    numeric = {i: _evaluate(f.expression, space, n) for i, f in enumerate(design.factors) if f.levels is None}
    codes = {i: codes_of(f, data) for i, f in enumerate(design.factors) if f.levels is not None}
    ok = np.ones(n, dtype=bool)
    for values in numeric.values():
        ok &= ~np.isnan(values)
    for values in codes.values():
        ok &= values >= 0
    return numeric, codes, ok, space


def _fill(design: Design, X: np.ndarray, numeric: dict, codes: dict) -> None:
    """Write the design columns into the first ``p`` rows of ``X``."""
    row = 0
    if design.intercept:
        X[0] = 1.0
        row = 1
    for term, flags in zip(design.terms, design.coding, strict=True):
        for _, parts in _term_columns(term, flags, list(design.factors)):
            for k, (i, level) in enumerate(parts):
                values = numeric[i] if level is None else (codes[i] == level)
                if k == 0:
                    X[row] = values
                else:
                    X[row] *= values
            row += 1


def design_matrix(design: Design, data: Mapping[str, np.ndarray]):
    """``(X (p, n), ok (n,), space)``: the design of every row of a `frame` and which rows are complete."""
    n = len(next(iter(data.values()))) if data else 0
    numeric, codes, ok, space = _factor_values(design, data, n)
    X = np.empty((design.p, n))
    _fill(design, X, numeric, codes)
    return X, ok, space


def evaluate(design: Design, columns: Mapping[str, np.ndarray], spare: int = 0):
    """``(X (p + spare, n), y (n,) or None, w (n,) or None, skipped)`` of a block's complete rows.

    The last ``spare`` rows of ``X`` are left for the caller (a working response).
    """
    data = frame(design, columns)
    n = len(next(iter(data.values()))) if data else 0
    numeric, codes, ok, space = _factor_values(design, data, n)
    y = _evaluate(design.response.expression, space, n) if design.response else None
    w = _evaluate(design.weights, space, n) if design.weights else None
    for values in (y, w):
        if values is not None:
            ok &= ~np.isnan(values)
    used = int(ok.sum())
    if used < n:  # compress each factor once, then build X of the complete rows only
        numeric = {i: v[ok] for i, v in numeric.items()}
        codes = {i: v[ok] for i, v in codes.items()}
        y, w = (None if v is None else np.ascontiguousarray(v[ok]) for v in (y, w))
    X = np.empty((design.p + spare, used))
    _fill(design, X, numeric, codes)
    return X, y, w, n - used
