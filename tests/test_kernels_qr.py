"""The TSQR kernel against numpy's Householder QR (tests/naive.py), on hand-made and random rows."""

import numpy as np
import pytest

from rxgrid.kernels.qr import combine_r_factors, r_factor
from tests import naive


def same_r(ours, reference):
    """R factors agree up to the sign of each row (a Householder choice)."""
    signs = np.sign(np.diag(ours)) * np.sign(np.diag(reference))
    signs[signs == 0] = 1.0
    atol = 1e-10 * np.abs(reference).max()
    np.testing.assert_allclose(ours * signs[:, None], reference, rtol=1e-10, atol=atol)


def test_hand_made_rows():
    X = np.array([[1.0, 2.0, 3.0, 4.0], [0.0, 1.0, 0.0, 1.0]])
    factor = r_factor(X)
    same_r(factor.r, naive.r_factor(X)[0])
    assert (factor.weight, factor.rows) == (4.0, 4)
    assert np.allclose(np.tril(factor.r, -1), 0.0)


@pytest.mark.parametrize("center", [False, True])
@pytest.mark.parametrize("cuts", [(), (1,), (300, 301, 700)])
def test_random_blocks_merge_to_the_whole(center, cuts):
    rng = np.random.default_rng(len(cuts) + center)
    scale = [[1e3], [1.0], [1e-3], [5.0], [1.0], [2.0]]
    X = rng.normal(size=(6, 1000)) * scale + [[1e4], [0], [3], [0], [1], [7]]
    w = rng.uniform(0.1, 3.0, 1000)
    edges = (0, *cuts, 1000)
    parts = [r_factor(X[:, a:b], w[a:b], center) for a, b in zip(edges[:-1], edges[1:], strict=False)]
    merged = combine_r_factors(parts)
    reference, mean, weight = naive.r_factor(X, w, center)
    same_r(merged.r, reference)
    np.testing.assert_allclose(merged.mean, mean, rtol=1e-13, atol=1e-13)
    assert merged.weight == pytest.approx(weight, rel=1e-14) and merged.rows == 1000


def test_validation():
    with pytest.raises(ValueError, match="2-d"):
        r_factor(np.ones(3))
    with pytest.raises(ValueError, match="non-negative"):
        r_factor(np.ones((2, 3)), [1.0, -1.0, 1.0])
