import math

import numpy as np
import pytest

from rxgrid.kernels import dice_wins, pbirthday, play_dice
from rxgrid.kernels.dice import WIN_PROBABILITY
from tests import naive


@pytest.mark.parametrize(
    "n_games, seed, task, first_game", [(0, 1, 0, 0), (1, 1, 0, 0), (300, 7, 2, 0), (200, 7, 2, 1000)]
)
def test_games_equal_reference(n_games, seed, task, first_game):
    expected = naive.naive_play_dice(n_games, seed, task, first_game)
    np.testing.assert_array_equal(play_dice(n_games, seed, task, first_game), expected)
    assert dice_wins(n_games, seed, task, first_game) == expected.sum()


def test_win_rate_is_244_over_495():
    n = 200_000
    wins = dice_wins(n, seed=2024)
    sigma = math.sqrt(n * WIN_PROBABILITY * (1 - WIN_PROBABILITY))
    assert abs(wins - n * WIN_PROBABILITY) < 4 * sigma


def test_same_seed_same_wins_however_split():
    whole = dice_wins(10_000, seed=777)
    assert whole == dice_wins(10_000, seed=777)
    ranges = [dice_wins(2000, 777, 0, first) for first in range(0, 10_000, 2000)]
    assert sum(ranges) == whole
    uneven = dice_wins(1, 777) + dice_wins(6_999, 777, 0, 1) + dice_wins(3000, 777, 0, 7000)
    assert uneven == whole
    assert dice_wins(10_000, seed=778) != whole or dice_wins(10_000, 777, task=1) != whole


@pytest.mark.parametrize(
    "sizes, n_tests, seed", [([0, 1, 2], 50, 1), ([3, 23, 50], 200, 5), ([366, 400], 3, 9)]
)
def test_birthday_equals_reference(sizes, n_tests, seed):
    np.testing.assert_array_equal(
        pbirthday(sizes, n_tests, seed), naive.naive_pbirthday(sizes, n_tests, seed)
    )


def test_birthday_matches_exact_formula():
    sizes = np.arange(2, 101, 7)
    n_tests = 5000
    estimates = pbirthday(sizes, n_tests, seed=3)
    for n, p_hat in zip(sizes, estimates, strict=True):
        p = naive.exact_pbirthday(n)
        sigma = math.sqrt(max(p * (1 - p), 1e-12) / n_tests)
        assert abs(p_hat - p) < 4.5 * sigma + 1e-12, n


def test_birthday_estimate_of_a_size_does_not_depend_on_the_others():
    together = pbirthday([10, 20, 30], 500, seed=4)
    alone = [pbirthday([n], 500, seed=4)[0] for n in (10, 20, 30)]
    np.testing.assert_array_equal(together, alone)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        dice_wins(-1, 0)
    with pytest.raises(TypeError):
        pbirthday([2.5], 10)
    with pytest.raises(ValueError):
        pbirthday([3], 0)
