"""Model formulas as R and statsmodels users write them, read by formulaic into terms.

``y ~ a*b + log(x) + I(x**2) + F(n) + C(g, Treatment("ref")) - 1``: formulaic
parses the text into terms (``a``, ``b``, ``a:b``, ...), each a tuple of
factors, without looking at data; `rxgrid.analytics.design` then decides which
factor is categorical (a ``category`` column, ``F(x)``, ``C(x, ...)``) and builds
the design block by block. This module only turns the text into terms and the
factors' kinds of expression, and refuses what it cannot read with a
``ModelError`` that names the term and says what to write instead.
"""

import ast
import re
from dataclasses import dataclass

from .errors import ModelError

# Functions a numeric factor, a transform or a row selection may call (numpy's, elementwise).
FUNCTIONS = ("log", "log10", "log2", "log1p", "exp", "expm1", "sqrt", "abs", "sin", "cos", "tan",
             "floor", "ceil", "round", "minimum", "maximum", "where", "isnan", "I")  # fmt: skip
_ANSI = re.compile(r"\x1b\[[0-9;]*m|[\u29da\u29db]")


@dataclass(frozen=True)
class Formula:
    """A parsed formula: response (or None), terms as written, their factors, intercept flag.

    ``terms`` are R's term names (``"a"``, ``"a:b"``, ``"log(x)"``): for a formula of
    main effects, the column names, as before interactions were read.
    """

    text: str
    response: str | None
    factors: tuple[tuple[str, ...], ...]
    intercept: bool = True

    @property
    def terms(self) -> tuple[str, ...]:
        """Terms as written in R: ``"a"``, ``"a:b"``, ``"log(x)"``."""
        return tuple(":".join(t) for t in self.factors)

    term_names = terms


def _term_factors(term) -> tuple[str, ...]:
    factors = []
    for factor in term.factors:
        method = factor.eval_method.name
        if method == "LITERAL" and str(factor) != "1":
            raise ModelError(f"a number ({factor}) cannot be a term; only 0 or 1 (the intercept) may appear")
        factors.append(str(factor))
    return tuple(factors)


def parse_formula(text: str) -> Formula:
    """Parse ``"response ~ terms"`` (or ``"~ terms"``) into a `Formula`, with formulaic."""
    if not isinstance(text, str) or text.count("~") != 1:
        raise ModelError(f"a formula needs exactly one '~', got {text!r}")
    try:
        from formulaic import Formula as Parsed
        from formulaic.errors import FormulaicError
    except ImportError:
        raise ModelError("reading a formula needs formulaic: pip install 'rxgrid[analytics]'") from None

    try:
        parsed = Parsed(text)
    except (FormulaicError, SyntaxError, ValueError) as error:
        message = _ANSI.sub("", str(error)).strip()
        raise ModelError(f"cannot read the formula {text!r}: {message}") from None
    lhs, rhs = (parsed.lhs, parsed.rhs) if hasattr(parsed, "rhs") else ([], parsed)
    if len(lhs) > 1 or any(len(t.factors) != 1 for t in lhs):
        raise ModelError(f"the left-hand side must be one column or expression, got {text.split('~')[0]!r}")
    terms = [_term_factors(t) for t in rhs]
    intercept = ("1",) in terms
    terms = [t for t in terms if t != ("1",)]
    if not terms and not intercept:
        raise ModelError(f"the formula {text!r} has no terms")
    response = str(lhs[0].factors[0]) if lhs else None
    return Formula(text.strip(), response, tuple(terms), intercept)


# --- reading one factor -------------------------------------------------------------------


@dataclass(frozen=True)
class FactorCall:
    """What a factor's text asks for: a column, ``F(col)``, ``C(col, ref)`` or an expression."""

    kind: str  # "column", "F", "C" or "expression"
    column: str | None = None
    reference: str | float | None = None
    names: tuple[str, ...] = ()  # columns an expression reads


def _constant(node, term: str):
    if isinstance(node, ast.Constant) and isinstance(node.value, str | int | float):
        return node.value
    raise ModelError(f"in {term!r}: the reference level must be a quoted level or a number")


def _reference(node, term: str):
    """``Treatment("b")``, ``Treatment(reference="b")`` or a bare level."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Treatment":
        args = list(node.args) + [k.value for k in node.keywords if k.arg in ("reference", "base")]
        if len(args) != 1:
            raise ModelError(f"in {term!r}: write Treatment('level') with one reference level")
        return _constant(args[0], term)
    if isinstance(node, ast.Call | ast.Name):
        raise ModelError(
            f"in {term!r}: only Treatment contrasts are supported; write C(x, Treatment('level'))"
        )
    return _constant(node, term)


def read_factor(text: str) -> FactorCall:
    """Classify one factor's text; ``ModelError`` names it when it cannot be evaluated."""
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        return FactorCall("column", column=text)  # a backquoted name with other characters
    if isinstance(node, ast.Name):
        return FactorCall("column", column=node.id)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("F", "C"):
        if not node.args or not isinstance(node.args[0], ast.Name) or len(node.args) > 2 or node.keywords:
            raise ModelError(
                f"{text!r}: write {node.func.id}(column)"
                + (" or C(column, Treatment('level'))" if node.func.id == "C" else "")
            )
        reference = _reference(node.args[1], text) if len(node.args) == 2 else None
        return FactorCall(node.func.id, column=node.args[0].id, reference=reference)
    return FactorCall("expression", names=expression_names(text, f"term {text!r}"))


def expression_names(text: str, where: str) -> tuple[str, ...]:
    """Column names an expression reads; ``ModelError`` for calls that are not allowed."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as error:
        raise ModelError(f"cannot read {where}: {error.msg}") from None
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            if name not in FUNCTIONS:
                raise ModelError(
                    f"unknown function {name!r} in {where}; use {', '.join(FUNCTIONS)}, "
                    "F(x) for a numeric column as a factor or C(x, Treatment('level'))"
                )
        elif isinstance(node, ast.Attribute | ast.Lambda | ast.ListComp | ast.GeneratorExp):
            raise ModelError(
                f"{where}: only column names, numbers, operators and {', '.join(FUNCTIONS[:6])}, ... "
                "may appear"
            )
        elif isinstance(node, ast.Name) and node.id not in FUNCTIONS and node.id not in names:
            names.append(node.id)
    return tuple(names)
