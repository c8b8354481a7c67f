"""Craps, as in the dice example of seed 001 (``playDice``).

A game rolls two dice: 7 or 11 on the first roll wins, 2, 3 or 12 loses, any
other total becomes the *point*; the game then rolls until the point comes
again (win) or a 7 (loss). The exact win probability is 244/495.

Game ``g`` of task ``t`` draws from sub-stream ``g`` of stream (seed, t), so a
total over games ``[a, b)`` is the same however the range is cut into calls,
tasks or threads.
"""

import numpy as np
from numba import njit, prange

from . import _shared_cache
from ._random import integer, substream, task_key

WIN_PROBABILITY = 244 / 495


@njit(cache=True, nogil=True)
def _play_craps(key):
    """Play one game of craps on stream ``key``.

    Parameters
    ----------
    key : numpy.uint64
        Stream key of this game; die ``i`` is draw ``i`` of the stream.

    Returns
    -------
    bool
        True if the game is won.
    """
    counter = 0
    point = 0
    while True:
        roll = integer(key, counter, 6) + integer(key, counter + 1, 6) + 2
        counter += 2
        if point == 0:
            if roll == 7 or roll == 11:
                return True
            if roll == 2 or roll == 3 or roll == 12:
                return False
            point = roll
        elif roll == 7:
            return False
        elif roll == point:
            return True


@njit(cache=True, nogil=True, parallel=True)
def _dice_wins(key, first_game, n_games):
    """Count wins of games ``first_game .. first_game + n_games - 1``.

    Parameters
    ----------
    key : numpy.uint64
        Stream key of the task.
    first_game : int
        Index of the first game.
    n_games : int
        Number of games.

    Returns
    -------
    int
        Number of games won.
    """
    wins = 0
    for g in prange(n_games):
        if _play_craps(substream(key, first_game + g)):
            wins += 1
    return wins


@njit(cache=True, nogil=True, parallel=True)
def _dice_games(key, first_game, out):
    """Write the outcome of each game into ``out`` (True = win).

    Parameters
    ----------
    key : numpy.uint64
        Stream key of the task.
    first_game : int
        Index of the game written to ``out[0]``.
    out : numpy.ndarray
        Boolean array, one element per game.
    """
    for g in prange(out.shape[0]):
        out[g] = _play_craps(substream(key, first_game + g))


def _check_games(n_games: int, task: int, first_game: int) -> None:
    for name, value in (("n_games", n_games), ("task", task), ("first_game", first_game)):
        if int(value) != value or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")


def dice_wins(n_games: int, seed: int, task: int = 0, first_game: int = 0) -> int:
    """Play ``n_games`` games of craps and return the number won.

    Parameters
    ----------
    n_games : int
        Number of games to play.
    seed : int
        Seed of the random numbers.
    task : int, default 0
        Task index: tasks under one seed draw independent streams.
    first_game : int, default 0
        Index of the first game, so that ``dice_wins(n, s, t, 0)`` equals
        ``dice_wins(k, s, t, 0) + dice_wins(n - k, s, t, k)``.

    Returns
    -------
    int
        Number of games won; the expected rate is ``WIN_PROBABILITY``.

    See Also
    --------
    play_dice : the outcome of each game.
    """
    _check_games(n_games, task, first_game)
    key = task_key(seed, task)
    return int(_dice_wins(key, first_game, n_games))


def play_dice(n_games: int, seed: int, task: int = 0, first_game: int = 0) -> np.ndarray:
    """Play ``n_games`` games of craps and return each outcome.

    Parameters
    ----------
    n_games : int
        Number of games to play.
    seed : int
        Seed of the random numbers.
    task : int, default 0
        Task index.
    first_game : int, default 0
        Index of the first game.

    Returns
    -------
    numpy.ndarray
        Boolean array of shape ``(n_games,)``, True where the game was won.
    """
    _check_games(n_games, task, first_game)
    out = np.empty(n_games, dtype=np.bool_)
    _dice_games(task_key(seed, task), first_game, out)
    return out


# The first process on this machine to need a kernel compiles it; the others load it.
_shared_cache.share(globals())
