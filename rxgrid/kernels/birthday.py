"""The birthday problem of seed 001 (``pbirthday``) by simulation.

For each group size ``n``, ``n_tests`` groups of ``n`` birthdays are drawn
uniformly from 365 days; the estimate is the fraction of groups in which two
people share a birthday. Trial ``t`` of group size ``n`` draws from sub-stream
``t`` of sub-stream ``n`` of stream (seed, task): the estimate for a size does
not depend on which other sizes are in the same call.
"""

import numpy as np
from numba import njit, prange

from . import _shared_cache
from ._random import integer, substream, task_key

DAYS_IN_YEAR = 365
_WORDS = (DAYS_IN_YEAR + 63) // 64


@njit(cache=True, nogil=True)
def _has_shared_birthday(key, group_size, seen):
    """Draw ``group_size`` birthdays and report whether two coincide.

    Parameters
    ----------
    key : numpy.uint64
        Stream key of this trial; person ``i`` gets draw ``i``.
    group_size : int
        Number of people.
    seen : numpy.ndarray
        Zeroed ``uint64`` bit set of ``_WORDS`` words, one bit per day.

    Returns
    -------
    bool
        True if some day is drawn twice.
    """
    for i in range(group_size):
        day = integer(key, i, DAYS_IN_YEAR)
        word = day >> 6
        bit = np.uint64(1) << np.uint64(day & 63)
        if seen[word] & bit:
            return True
        seen[word] |= bit
    return False


@njit(cache=True, nogil=True, parallel=True)
def _birthday_hits(key, group_sizes, n_tests):
    """Count trials with a shared birthday for each group size.

    Parameters
    ----------
    key : numpy.uint64
        Stream key of the task.
    group_sizes : numpy.ndarray
        int64 group sizes.
    n_tests : int
        Trials per group size.

    Returns
    -------
    numpy.ndarray
        int64 counts, one per group size.
    """
    hits = np.zeros(group_sizes.shape[0], dtype=np.int64)
    for j in range(group_sizes.shape[0]):
        size_key = substream(key, group_sizes[j])
        count = 0
        for t in prange(n_tests):
            seen = np.zeros(_WORDS, dtype=np.uint64)
            if _has_shared_birthday(substream(size_key, t), group_sizes[j], seen):
                count += 1
        hits[j] = count
    return hits


def pbirthday(group_sizes, n_tests: int = 5000, seed: int = 0, task: int = 0) -> np.ndarray:
    """Estimate the probability of a shared birthday for each group size.

    Parameters
    ----------
    group_sizes : int or array_like of int
        Group sizes (non-negative).
    n_tests : int, default 5000
        Number of simulated groups per size.
    seed : int, default 0
        Seed of the random numbers.
    task : int, default 0
        Task index.

    Returns
    -------
    numpy.ndarray
        float64 estimates, one per group size. The exact value for size ``n``
        is ``1 - prod((365 - k) / 365 for k in range(n))``.
    """
    sizes = np.atleast_1d(np.asarray(group_sizes))
    if sizes.ndim != 1 or not np.issubdtype(sizes.dtype, np.integer):
        raise TypeError("group_sizes must be an integer or a 1-d array of integers")
    if (sizes < 0).any() or n_tests < 1 or task < 0:
        raise ValueError("group sizes and task must be >= 0 and n_tests >= 1")
    key = task_key(seed, task)
    hits = _birthday_hits(key, sizes.astype(np.int64), int(n_tests))
    return hits / float(n_tests)


# The first process on this machine to need a kernel compiles it; the others load it.
_shared_cache.share(globals())
