"""Counter-based random numbers for Numba kernels.

A draw is a pure function of a 64-bit stream key and a counter:
``bits = mix64(key + counter * GOLDEN)``, the output function of SplitMix64
(Steele, Lea & Flood 2014), which passes BigCrush as a counter hash. Nothing is
carried between draws, so a kernel can hand any sub-stream to any thread and
still get the same numbers: the draws depend only on (seed, task, index), never
on which thread, chunk or worker computed them.

Keys are derived by hashing, never by adding offsets, so neighbouring streams
are unrelated::

    key  = stream_key(seed, task)        # one stream per task
    sub  = substream(key, game)          # one sub-stream per game inside a task
    u    = uniform(sub, counter)         # counter = 0, 1, 2, ... within sub

All arithmetic is on ``uint64`` so it wraps; mixing ``uint64`` with ``int64``
in Numba would silently promote to ``float64``, hence the explicit casts.
"""

import math

import numpy as np
from numba import njit

from . import _shared_cache

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)
# Salts the key of the second uniform of a Box-Muller pair, so each counter
# value gives exactly one normal and the caller advances the counter by one.
_NORMAL_SALT = np.uint64(0xD1B54A32D192ED03)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_S32 = np.uint64(32)
_TWO_POW_M53 = 1.0 / 9007199254740992.0


@njit(cache=True, nogil=True, inline="always")
def mix64(z):
    """SplitMix64 finaliser: a bijective avalanche hash of a ``uint64``.

    Parameters
    ----------
    z : numpy.uint64
        Value to hash.

    Returns
    -------
    numpy.uint64
        Hashed value.
    """
    z = (z ^ (z >> _S30)) * _MUL1
    z = (z ^ (z >> _S27)) * _MUL2
    return z ^ (z >> _S31)


@njit(cache=True, nogil=True, inline="always")
def substream(key, index):
    """Key of sub-stream ``index`` of the stream ``key``.

    Parameters
    ----------
    key : numpy.uint64
        Parent stream key.
    index : int
        Non-negative sub-stream index (a game, a trial, a k-means start).

    Returns
    -------
    numpy.uint64
        Child stream key.
    """
    return mix64(key ^ mix64(np.uint64(index) * GOLDEN + GOLDEN))


@njit(cache=True, nogil=True)
def stream_key(seed, task):
    """Key of the stream of task ``task`` under ``seed``.

    Parameters
    ----------
    seed : numpy.uint64
        User seed (already reduced to 64 bits by the caller).
    task : int
        Non-negative task index.

    Returns
    -------
    numpy.uint64
        Stream key.
    """
    return substream(mix64(np.uint64(seed) + GOLDEN), task)


@njit(cache=True, nogil=True, inline="always")
def random_bits(key, counter):
    """64 random bits: draw number ``counter`` of stream ``key``.

    Parameters
    ----------
    key : numpy.uint64
        Stream key.
    counter : int
        Non-negative draw index within the stream.

    Returns
    -------
    numpy.uint64
        Uniformly distributed 64-bit word.
    """
    return mix64(key + np.uint64(counter) * GOLDEN)


@njit(cache=True, nogil=True, inline="always")
def uniform(key, counter):
    """Uniform float64 in [0, 1) with 53 random bits.

    Parameters
    ----------
    key : numpy.uint64
        Stream key.
    counter : int
        Non-negative draw index within the stream.

    Returns
    -------
    float
        A draw from U[0, 1).
    """
    return float(random_bits(key, counter) >> _S11) * _TWO_POW_M53


@njit(cache=True, nogil=True, inline="always")
def integer(key, counter, n):
    """Uniform integer in [0, n) for ``1 <= n < 2**32``.

    Uses the top 32 bits and a multiply-shift (Lemire) instead of a modulo;
    the bias is at most ``n / 2**32``.

    Parameters
    ----------
    key : numpy.uint64
        Stream key.
    counter : int
        Non-negative draw index within the stream.
    n : int
        Number of possible values.

    Returns
    -------
    int
        A draw from {0, ..., n - 1}.
    """
    high = random_bits(key, counter) >> _S32
    return np.int64((high * np.uint64(n)) >> _S32)


@njit(cache=True, nogil=True)
def normal(key, counter):
    """Standard normal draw by the Box-Muller transform.

    Parameters
    ----------
    key : numpy.uint64
        Stream key.
    counter : int
        Non-negative draw index within the stream; one normal per counter.

    Returns
    -------
    float
        A draw from N(0, 1).
    """
    # 1 - u lies in (0, 1], so the logarithm is finite.
    u1 = 1.0 - uniform(key, counter)
    u2 = uniform(key ^ _NORMAL_SALT, counter)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def seed_to_uint64(seed: int) -> np.uint64:
    """Reduce a Python integer seed to the ``uint64`` the kernels take."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
    return np.uint64(int(seed) & 0xFFFFFFFFFFFFFFFF)


def task_key(seed: int, task: int) -> np.uint64:
    """Stream key of (seed, task) as the ``uint64`` the jitted drivers take.

    Numba returns a ``uint64`` to Python as a plain int, which it would read
    back as ``int64`` (and overflow); re-wrapping keeps the type.
    """
    if isinstance(task, bool) or int(task) != task or task < 0:
        raise ValueError(f"task must be a non-negative integer, got {task!r}")
    return np.uint64(stream_key(seed_to_uint64(seed), int(task)))


@njit(cache=True, nogil=True)
def _fill_uniform(key, first, out):
    for i in range(out.shape[0]):
        out[i] = uniform(key, first + i)


@njit(cache=True, nogil=True)
def _fill_integer(key, first, n, out):
    for i in range(out.shape[0]):
        out[i] = integer(key, first + i, n)


@njit(cache=True, nogil=True)
def _fill_normal(key, first, out):
    for i in range(out.shape[0]):
        out[i] = normal(key, first + i)


def _check_count(size: int, first: int) -> None:
    if size < 0 or first < 0:
        raise ValueError(f"size and first must be >= 0, got {size} and {first}")


def random_uniform(seed: int, task: int, size: int, first: int = 0) -> np.ndarray:
    """Uniform [0, 1) draws ``first .. first + size - 1`` of stream (seed, task).

    Parameters
    ----------
    seed : int
        User seed.
    task : int
        Task index (non-negative).
    size : int
        Number of draws.
    first : int, default 0
        Counter of the first draw, so a long stream can be produced in pieces.

    Returns
    -------
    numpy.ndarray
        float64 array of shape ``(size,)``.
    """
    _check_count(size, first)
    out = np.empty(size, dtype=np.float64)
    _fill_uniform(task_key(seed, task), first, out)
    return out


def random_integers(seed: int, task: int, n: int, size: int, first: int = 0) -> np.ndarray:
    """Uniform integers in [0, n) from stream (seed, task).

    Parameters
    ----------
    seed : int
        User seed.
    task : int
        Task index (non-negative).
    n : int
        Number of possible values, ``1 <= n < 2**32``.
    size : int
        Number of draws.
    first : int, default 0
        Counter of the first draw.

    Returns
    -------
    numpy.ndarray
        int64 array of shape ``(size,)``.
    """
    _check_count(size, first)
    if not 1 <= n < 2**32:
        raise ValueError(f"n must be in [1, 2**32), got {n}")
    out = np.empty(size, dtype=np.int64)
    _fill_integer(task_key(seed, task), first, n, out)
    return out


def random_normal(seed: int, task: int, size: int, first: int = 0) -> np.ndarray:
    """Standard normal draws from stream (seed, task).

    Parameters
    ----------
    seed : int
        User seed.
    task : int
        Task index (non-negative).
    size : int
        Number of draws.
    first : int, default 0
        Counter of the first draw.

    Returns
    -------
    numpy.ndarray
        float64 array of shape ``(size,)``.
    """
    _check_count(size, first)
    out = np.empty(size, dtype=np.float64)
    _fill_normal(task_key(seed, task), first, out)
    return out


# The first process on this machine to need a kernel compiles it; the others load it.
_shared_cache.share(globals())
