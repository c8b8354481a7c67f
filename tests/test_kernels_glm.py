import numpy as np
import pytest

from rxgrid.kernels import design_layout, glm_block_stats
from tests import naive


def block(n, seed, n_levels=(3, 4), n_num=2, family="gaussian", nan_rows=0):
    rng = np.random.default_rng(seed)
    codes = np.array([rng.integers(0, k, n) for k in n_levels], dtype=np.int32).reshape(len(n_levels), n)
    numeric = rng.normal(size=(n_num, n))
    if family == "binomial":
        y = rng.integers(0, 2, n).astype(float)
    elif family == "poisson":
        y = rng.poisson(2.0, n).astype(float)
    else:
        y = rng.normal(size=n)
    for r in rng.choice(n, nan_rows, replace=False):
        target = rng.integers(0, 3)
        if target == 0:
            y[r] = np.nan
        elif target == 1 and n_num:
            numeric[rng.integers(0, n_num), r] = np.nan
        elif len(n_levels):
            codes[rng.integers(0, len(n_levels)), r] = -1
        else:
            y[r] = np.nan
    return y, codes, numeric


def assert_stats_equal_reference(y, codes, numeric, beta, family, n_levels, intercept, drop_first):
    stats = glm_block_stats(
        y, codes, numeric, beta, family, n_levels, intercept=intercept, drop_first=drop_first
    )
    xtwx, xtwz, dev, used, skipped = naive.naive_glm_stats(
        y, codes, numeric, beta, family, n_levels, intercept, drop_first
    )
    np.testing.assert_allclose(stats.xtwx, xtwx, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(stats.xtwz, xtwz, rtol=1e-10, atol=1e-9)
    assert stats.deviance == pytest.approx(dev, rel=1e-10)
    assert (stats.n_used, stats.n_skipped) == (used, skipped)


def test_hand_made_gaussian_block():
    y = np.array([1.0, 2.0, np.nan, 4.0])
    codes = np.array([[0, 1, 1, -1]], dtype=np.int32)
    numeric = np.array([[0.5, 1.5, 2.5, 3.5]])
    stats = glm_block_stats(y, codes, numeric, np.zeros(3), "gaussian", [2])
    # rows 0 and 1 are used: design rows [1, 0, 0.5] and [1, 1, 1.5]
    np.testing.assert_allclose(stats.xtwx, [[2, 1, 2], [1, 1, 1.5], [2, 1.5, 2.5]])
    np.testing.assert_allclose(stats.xtwz, [3, 2, 3.5])
    assert (stats.deviance, stats.n_used, stats.n_skipped) == (5.0, 2, 2)


@pytest.mark.parametrize("family", ["gaussian", "binomial", "poisson"])
@pytest.mark.parametrize(
    "n_levels, n_num, intercept, drop_first",
    [
        ((3, 4), 2, True, (True, True)),
        ((5,), 0, False, (False,)),
        ((), 3, True, ()),
        ((2, 3), 1, False, (False, True)),
    ],
)
def test_block_equals_reference(family, n_levels, n_num, intercept, drop_first):
    y, codes, numeric = block(20_000, 1, n_levels, n_num, family, nan_rows=40)
    p = design_layout(n_levels, intercept, drop_first, n_num)[3]
    beta = np.random.default_rng(2).normal(scale=0.2, size=p)
    assert_stats_equal_reference(y, codes, numeric, beta, family, n_levels, intercept, drop_first)


def test_blocks_add_up_and_thread_count_does_not_matter():
    y, codes, numeric = block(30_000, 3, nan_rows=10)
    beta = np.zeros(1 + 2 + 3 + 2)
    whole = glm_block_stats(y, codes, numeric, beta, "gaussian", (3, 4))
    again = glm_block_stats(y, codes, numeric, beta, "gaussian", (3, 4))
    np.testing.assert_array_equal(whole.xtwx, again.xtwx)
    parts = [
        glm_block_stats(y[s], codes[:, s], numeric[:, s], beta, "gaussian", (3, 4))
        for s in (slice(0, 10_000), slice(10_000, 30_000))
    ]
    np.testing.assert_allclose(sum(p.xtwx for p in parts), whole.xtwx, rtol=1e-12)
    assert sum(p.n_used for p in parts) == whole.n_used
    assert sum(p.n_skipped for p in parts) == whole.n_skipped == 10


def test_start_step_uses_mu_from_y():
    y = np.array([0.0, 1.0, 3.0])
    stats = glm_block_stats(y, None, None, np.zeros(1), "poisson", start=True)
    mu = y + 0.1
    assert stats.xtwx[0, 0] == pytest.approx(mu.sum())
    assert stats.xtwz[0] == pytest.approx((mu * (np.log(mu) + (y - mu) / mu)).sum())


def test_bad_arguments_are_refused():
    y, codes, numeric = block(10, 4)
    with pytest.raises(ValueError, match="family"):
        glm_block_stats(y, codes, numeric, np.zeros(8), "gamma", (3, 4))
    with pytest.raises(ValueError, match="columns"):
        glm_block_stats(y, codes, numeric, np.zeros(5), "gaussian", (3, 4))
    with pytest.raises(ValueError, match="level code"):
        glm_block_stats(y, codes, numeric, np.zeros(7), "gaussian", (2, 4))
