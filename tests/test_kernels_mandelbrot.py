import numpy as np
import pytest

from rxgrid.kernels import mandelbrot_grid, mandelbrot_row
from tests import naive


@pytest.mark.parametrize(
    "xvec, yvec, lim",
    [
        ([0.0], [0.0], 100),  # inside: reaches the cap
        ([2.0], [2.0], 100),  # outside from the start: 0
        ([-2.0, 0.25, 0.26, -0.75], [0.0, 0.1], 500),  # edge of the set
        (np.linspace(-2.0, 0.6, 24), np.linspace(-1.3, 1.3, 24), 100),
        ([0.0, 0.1], [0.0], 0),
    ],
)
def test_grid_equals_reference(xvec, yvec, lim):
    expected = naive.naive_mandelbrot(xvec, yvec, lim)
    np.testing.assert_array_equal(mandelbrot_grid(xvec, yvec, lim), expected)


def test_random_points_equal_reference():
    rng = np.random.default_rng(0)
    xvec, yvec = rng.uniform(-2.2, 0.8, 30), rng.uniform(-1.5, 1.5, 20)
    np.testing.assert_array_equal(mandelbrot_grid(xvec, yvec, 200), naive.naive_mandelbrot(xvec, yvec, 200))


def test_rows_and_bands_equal_the_grid():
    xvec, yvec = np.linspace(-2.0, 0.6, 50), np.linspace(-1.3, 1.3, 40)
    grid = mandelbrot_grid(xvec, yvec, 80)
    np.testing.assert_array_equal(mandelbrot_grid(xvec, yvec[10:25], 80), grid[10:25])
    for r in (0, 17, 39):
        np.testing.assert_array_equal(mandelbrot_row(xvec, yvec[r], 80), grid[r])
    assert grid.dtype == np.int32 and grid.shape == (40, 50)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        mandelbrot_grid([0.0], [0.0], -1)
    with pytest.raises(ValueError):
        mandelbrot_grid([[0.0]], [0.0], 5)
