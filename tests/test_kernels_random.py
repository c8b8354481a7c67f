import numpy as np
import pytest

from rxgrid.kernels import random_integers, random_normal, random_uniform
from tests import naive


@pytest.mark.parametrize("seed, task", [(0, 0), (1, 0), (1, 1), (2**64 - 1, 7), (-3, 2)])
def test_uniform_equals_reference(seed, task):
    key = naive.stream_key(seed, task)
    expected = [naive.uniform(key, c) for c in range(50)]
    np.testing.assert_array_equal(random_uniform(seed, task, 50), expected)


def test_integers_and_normals_equal_reference():
    key = naive.stream_key(11, 3)
    np.testing.assert_array_equal(
        random_integers(11, 3, 365, 40), [naive.integer(key, c, 365) for c in range(40)]
    )
    np.testing.assert_allclose(
        random_normal(11, 3, 40), [naive.normal(key, c) for c in range(40)], rtol=1e-14
    )


def test_stream_pieces_join_into_the_whole():
    whole = random_uniform(5, 1, 100)
    pieces = np.concatenate([random_uniform(5, 1, 30), random_uniform(5, 1, 70, first=30)])
    np.testing.assert_array_equal(whole, pieces)


def test_streams_of_tasks_and_seeds_differ_and_look_uniform():
    a, b, c = random_uniform(1, 0, 20000), random_uniform(1, 1, 20000), random_uniform(2, 0, 20000)
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.05 and abs(np.corrcoef(a, c)[0, 1]) < 0.05
    assert a.min() >= 0.0 and a.max() < 1.0
    assert abs(a.mean() - 0.5) < 4 * np.sqrt(1 / 12 / a.size)
    counts = np.bincount(random_integers(1, 0, 6, 60000), minlength=6)
    chi2 = ((counts - 10000) ** 2 / 10000).sum()
    assert chi2 < 25  # 5 degrees of freedom: p < 0.0002
    z = random_normal(1, 0, 20000)
    assert abs(z.mean()) < 0.04 and abs(z.std() - 1) < 0.03


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        random_uniform(1, -1, 3)
    with pytest.raises(ValueError):
        random_integers(1, 0, 0, 3)
    with pytest.raises(TypeError):
        random_uniform(1.5, 0, 3)
