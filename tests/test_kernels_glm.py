import numpy as np
import pytest

from rxgrid.kernels import design_layout, glm_block_stats
from rxgrid.kernels.glm_cells import combine_moments, glm_cell_moments, glm_cell_stats
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


# --- the cell kernels (glm_cells) against the same explicit-design reference ----------


def cell_normal_equations(y, codes, numeric, beta, family, n_levels, intercept, drop_first, start=False):
    """X'WX, X'Wz, deviance, used, skipped computed by glm_cell_stats + the cell design."""
    from rxgrid.analytics.partials import GlmSpec, cell_design, normal_equations

    spec = GlmSpec("y", tuple(f"c{v}" for v in range(len(n_levels))), tuple(n_levels), tuple(drop_first),
                   tuple(f"x{j}" for j in range(len(numeric))), intercept, family)  # fmt: skip
    design = cell_design(spec)
    cells = None
    if len(n_levels):
        cells = np.ravel_multi_index(np.maximum(codes, 0), n_levels).astype(np.int32)
        cells[(codes < 0).any(axis=0)] = -1
    p_cat = design.shape[1]
    stats = glm_cell_stats(y, cells, len(design), tuple(numeric), design @ beta[:p_cat], beta[p_cat:],
                           family, start)  # fmt: skip
    return normal_equations(stats, design)


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
def test_cell_stats_equal_reference(family, n_levels, n_num, intercept, drop_first):
    y, codes, numeric = block(20_000, 1, n_levels, n_num, family, nan_rows=40)
    p = design_layout(n_levels, intercept, drop_first, n_num)[3]
    beta = np.random.default_rng(2).normal(scale=0.2, size=p)
    got = cell_normal_equations(y, codes, numeric, beta, family, n_levels, intercept, drop_first)
    xtwx, xtwz, dev, used, skipped = naive.naive_glm_stats(y, codes, numeric, beta, family, n_levels,
                                                           intercept, drop_first)  # fmt: skip
    np.testing.assert_allclose(got.xtwx, xtwx, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(got.xtwz, xtwz, rtol=1e-10, atol=1e-9)
    assert got.deviance == pytest.approx(dev, rel=1e-10)
    assert (got.n_used, got.n_skipped) == (used, skipped)
    # the start step agrees with the per-row kernel's start step
    start = cell_normal_equations(y, codes, numeric, beta, family, n_levels, intercept, drop_first, True)
    row = glm_block_stats(y, codes, numeric, beta, family, n_levels, intercept=intercept,
                          drop_first=drop_first, start=True)  # fmt: skip
    np.testing.assert_allclose(start.xtwx, row.xtwx, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(start.xtwz, row.xtwz, rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cell_moments_equal_numpy_and_do_not_depend_on_block_cuts(dtype):
    rng = np.random.default_rng(4)
    n = 100_000
    cells = rng.integers(0, 6, n).astype(np.int8)
    y = (1e6 + rng.normal(size=n)).astype(dtype)  # a large mean: sum-of-squares cancellation would show
    y[rng.choice(n, 50, replace=False)] = np.nan
    cells[rng.choice(n, 30, replace=False)] = -1
    whole = glm_cell_moments(y, cells, 6)
    keep = ~np.isnan(y) & (cells >= 0)
    for c in range(6):
        values = y[keep & (cells == c)].astype(np.float64)
        assert whole.count[c] == len(values)
        assert whole.mean[c] == pytest.approx(values.mean(), rel=1e-14)
        assert whole.m2[c] == pytest.approx(((values - values.mean()) ** 2).sum(), rel=1e-9)
    assert whole.n_skipped == (~keep).sum()
    cuts = [0, 1, 777, 40_000, n]
    pieces = zip(cuts, cuts[1:], strict=False)
    parts = combine_moments([glm_cell_moments(y[a:b], cells[a:b], 6) for a, b in pieces])
    np.testing.assert_array_equal(parts.count, whole.count)
    np.testing.assert_allclose(parts.mean, whole.mean, rtol=1e-14)
    np.testing.assert_allclose(parts.m2, whole.m2, rtol=1e-9)


def test_cell_kernels_refuse_codes_beyond_the_cell_count():
    y = np.ones(4)
    with pytest.raises(ValueError, match="n_cells"):
        glm_cell_moments(y, np.array([0, 1, 5, 1], dtype=np.int32), 3)
    with pytest.raises(ValueError, match="n_cells"):
        glm_cell_stats(y, np.array([0, 1, 5, 1], dtype=np.int32), 3, (), np.zeros(3), np.zeros(0), "gaussian")
    with pytest.raises(ValueError, match="family"):
        glm_cell_stats(y, None, 1, (), np.zeros(1), np.zeros(0), "gamma")
