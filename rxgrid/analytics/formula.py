"""R-style model formulas: ``"ArrDelay ~ DayOfWeek"``, ``"Late ~ DayOfWeek + Distance - 1"``.

Only main effects are supported: a response (optional, for k-means), ``+``
separated column names, and ``- 1`` / ``+ 0`` to drop the intercept (``+ 1``
keeps it). Names may be written in backquotes to hold other characters.
Interactions (``:``, ``*``) and transformations are refused with a
``ModelError`` rather than silently misread.
"""

import re
from dataclasses import dataclass

from .errors import ModelError

_TOKEN = re.compile(r"\s*(?:(?P<sign>[+-])|`(?P<quoted>[^`]+)`|(?P<name>[A-Za-z_.][\w.]*)|(?P<number>\d+))")


@dataclass(frozen=True)
class Formula:
    """A parsed formula: response (or None), predictor names in order, intercept flag."""

    text: str
    response: str | None
    terms: tuple[str, ...]
    intercept: bool = True


def _tokens(text: str, side: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ModelError(f"cannot read the {side} of the formula at {text[position:].strip()!r}")
        kind = match.lastgroup
        tokens.append((kind if kind != "quoted" else "name", match.group(kind)))
        position = match.end()
    return tokens


def _read_terms(rhs: str) -> tuple[list[str], bool]:
    terms: list[str] = []
    intercept, sign = True, "+"
    for kind, value in _tokens(rhs, "right-hand side"):
        if kind == "sign":
            sign = value
            continue
        if kind == "number":
            if value not in ("0", "1"):
                raise ModelError(f"only 0 or 1 may appear as a number in a formula, not {value}")
            intercept = (value == "1") == (sign == "+")
        elif sign == "-":
            raise ModelError(f"removing a term ({value!r}) is not supported")
        elif value in terms:
            raise ModelError(f"term {value!r} appears twice")
        else:
            terms.append(value)
        sign = "+"
    return terms, intercept


def parse_formula(text: str) -> Formula:
    """Parse ``"response ~ a + b"`` (or ``"~ a + b"``) into a `Formula`."""
    if not isinstance(text, str) or text.count("~") != 1:
        raise ModelError(f"a formula needs exactly one '~', got {text!r}")
    if any(op in text for op in (":", "*", "^", "(", "|", "/")):
        raise ModelError(f"only main effects are supported (no interactions or functions): {text!r}")
    lhs, rhs = text.split("~")
    response = _tokens(lhs, "left-hand side")
    if len(response) > 1 or (response and response[0][0] != "name"):
        raise ModelError(f"the left-hand side must be one column name, got {lhs.strip()!r}")
    terms, intercept = _read_terms(rhs)
    if not terms and not intercept:
        raise ModelError(f"the formula {text!r} has no terms")
    return Formula(text.strip(), response[0][1] if response else None, tuple(terms), intercept)
