"""Errors of the analytics layer.

Both are ``ValueError`` subclasses: they report bad input (a data set that is
not there or not well formed, a formula that names an unknown column, a
design that cannot be fitted), and callers that catch ``ValueError`` keep
working.
"""


class AnalyticsError(ValueError):
    """Root of the errors raised by ``rxgrid.analytics``."""


class DatasetError(AnalyticsError):
    """A data set is missing, malformed, or cannot hold the values given."""


class ModelError(AnalyticsError):
    """A model cannot be fitted as asked: unknown column, wrong type, singular design."""
