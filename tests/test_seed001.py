"""Seed 001's rxExec examples: dice and birthday, reproducible with seed=777.

The numbers must be the same for chunk sizes 1, 7 and 2,000 and for one and two
workers, and right by the exact formulas.
"""

from __future__ import annotations

import math
from collections import Counter

import pytest

import rxgrid
from rxgrid import each
from tests import fixtures

GAMES = 10_000
P_WIN = 244 / 495  # exact craps win probability


def exact_birthday(n: int) -> float:
    return 1.0 - math.prod((365 - k) / 365 for k in range(n))


ONE_TASK_CHUNKS = 1_000  # one-task chunks cost a round trip each: the first 1,000 games


@pytest.fixture(scope="module")
def dice_runs(cluster1, cluster2):
    runs = {}
    for name, cluster in (("1 worker", cluster1), ("2 workers", cluster2)):
        for chunk in (2000, 7, 1):
            runs[(name, chunk)] = cluster.exec(fixtures.play_dice, chunk_size=chunk, seed=777,
                                               times=ONE_TASK_CHUNKS if chunk == 1 else GAMES)
    return runs


def test_dice_is_the_same_for_any_chunking_and_worker_count(dice_runs):
    first = next(iter(dice_runs.values()))
    assert len(first) == GAMES
    for key, run in dice_runs.items():
        assert run == first[:len(run)], f"dice differ for {key}"


def test_dice_win_rate_is_within_4_sigma_of_244_over_495(dice_runs):
    wins = Counter(next(iter(dice_runs.values())))["Win"]
    sigma = math.sqrt(GAMES * P_WIN * (1 - P_WIN))
    assert abs(wins - GAMES * P_WIN) < 4 * sigma, wins


def test_dice_matches_the_sequential_context_and_the_documented_streams(dice_runs):
    seq = rxgrid.local_sequential().exec(fixtures.play_dice, times=500, seed=777, chunk_size=7)
    # task i depends on (777, i) only: the clusters' first 500 games are these
    assert seq == dice_runs[("2 workers", 7)][:500] == dice_runs[("1 worker", 2000)][:500]
    assert seq == [_game_by_hand(777, i) for i in range(500)]


def _game_by_hand(seed: int, task: int) -> str:
    """Task ``task``'s game, seeding ``random`` as the docs say: words of SeedSequence(seed, (task, 1))."""
    import random

    import numpy as np
    words = np.random.SeedSequence(seed, spawn_key=(task, 1)).generate_state(4)
    state = random.getstate()
    random.seed(int.from_bytes(words.tobytes(), "little"))
    try:
        return fixtures.play_dice()
    finally:
        random.setstate(state)


@pytest.mark.parametrize("chunk", [1, 7, 20])
def test_birthday_is_reproducible_and_close_to_the_exact_formula(cluster1, cluster2, chunk):
    sizes = list(range(2, 101))
    one = cluster1.exec(fixtures.pbirthday, each(sizes), chunk_size=chunk, seed=777)
    two = cluster2.exec(fixtures.pbirthday, each(sizes), chunk_size=chunk, seed=777)
    assert one == two
    for n, p_hat in zip(sizes, one, strict=True):
        assert _within_sigmas(round(p_hat * 5000), 5000, exact_birthday(n), 4.5), (n, p_hat)


def _within_sigmas(k: int, trials: int, p: float, sigmas: float) -> bool:
    """Is k successes in ``trials`` as likely under p as a normal value within ``sigmas``?

    Uses the exact binomial tails: for p near 0 or 1 the normal approximation of
    "4.5 sigma" fails (one miss in 5,000 at p = 0.999997 is not a 9-sigma event).
    """
    from scipy.stats import binom, norm
    tail = norm.sf(sigmas)
    return binom.cdf(k, trials, p) > tail and binom.sf(k - 1, trials, p) > tail
