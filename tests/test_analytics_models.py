import pickle

import numpy as np
import pytest
import statsmodels.api as sm
from sklearn.cluster import KMeans

from rxgrid.analytics import (
    Categorical,
    ModelError,
    glm,
    kmeans,
    lin_mod,
    logit,
    make_airline,
    map_sequential,
    parse_formula,
    read_dataset,
    write_dataset,
)

RTOL = 1e-6


def map_reversed(fn, arguments):
    """Runs the calls last to first, as a cluster may, but returns them in order."""
    return [fn(*args) for args in reversed(arguments)][::-1]


def map_pickled(fn, arguments):
    """Pickles the function and each argument tuple, as sending them as tasks would."""
    fn = pickle.loads(pickle.dumps(fn))
    return [fn(*pickle.loads(pickle.dumps(args))) for args in arguments]


MAPS = [
    pytest.param(map_sequential, 1, id="sequential-1-block"),
    pytest.param(map_reversed, 2, id="reversed-2-blocks"),
    pytest.param(map_pickled, 5, id="pickled-5-blocks"),
]


@pytest.fixture(scope="module")
def airline(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "airline"
    make_airline(path, rows=12_000, seed=5, block_rows=2_500)
    return path


@pytest.fixture(scope="module")
def airline_frame(airline):
    return read_dataset(airline)


def dummies(codes, levels, drop_first):
    return [(codes == k).astype(float) for k in range(1 if drop_first else 0, levels)]


def assert_matches(result, reference, names):
    assert list(result.names) == names
    np.testing.assert_allclose(result.params, reference.params, rtol=RTOL)
    np.testing.assert_allclose(result.std_errors, reference.bse, rtol=RTOL)
    np.testing.assert_allclose(result.p_values, reference.pvalues, rtol=1e-4, atol=1e-12)


AIRLINE_NAMES = ["(Intercept)"] + [
    f"DayOfWeek={d}" for d in ("Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
] + ["CRSDepTime", "Distance"]  # fmt: skip


def airline_design(frame):
    keep = ~np.isnan(frame["ArrDelay"])
    X = np.column_stack(
        [np.ones(keep.sum()), *dummies(frame["DayOfWeek"][keep], 7, True)]
        + [frame["CRSDepTime"][keep], frame["Distance"][keep]]
    )
    return keep, X


@pytest.mark.parametrize("map_blocks, blocks_per_read", MAPS)
def test_lin_mod_matches_statsmodels(airline, airline_frame, map_blocks, blocks_per_read):
    keep, X = airline_design(airline_frame)
    reference = sm.OLS(airline_frame["ArrDelay"][keep], X).fit()
    result = lin_mod(
        "ArrDelay ~ DayOfWeek + CRSDepTime + Distance",
        airline,
        map_blocks=map_blocks,
        blocks_per_read=blocks_per_read,
    )
    assert_matches(result, reference, AIRLINE_NAMES)
    assert result.deviance == pytest.approx(reference.ssr, rel=1e-9)
    assert result.df_residual == reference.df_resid
    assert (result.n_used, result.n_skipped) == (keep.sum(), (~keep).sum())


@pytest.mark.parametrize("map_blocks, blocks_per_read", MAPS)
def test_logit_matches_statsmodels(airline, airline_frame, map_blocks, blocks_per_read):
    keep, X = airline_design(airline_frame)
    reference = sm.GLM(airline_frame["Late"][keep], X, family=sm.families.Binomial()).fit(tol=1e-12)
    result = logit(
        "Late ~ DayOfWeek + CRSDepTime + Distance",
        airline,
        map_blocks=map_blocks,
        blocks_per_read=blocks_per_read,
    )
    assert_matches(result, reference, AIRLINE_NAMES)
    assert result.deviance == pytest.approx(reference.deviance, rel=1e-9)
    assert result.converged and 2 <= result.iterations <= 10
    assert "Logistic Regression Results for: Late ~ DayOfWeek" in result.summary()
    assert "DayOfWeek=Monday" in result.summary() and "Dropped" in result.summary()


def test_irls_warm_started_on_a_sample_of_many_block_ranges_matches_statsmodels(tmp_path):
    # 64 block ranges: past the warm-start threshold, so IRLS first converges on the
    # first 1/32 of them (2 ranges), as the big benchmarks do, then on all of them.
    from rxgrid.analytics import models
    path = tmp_path / "airline64"
    make_airline(path, rows=64_000, seed=11, block_rows=1_000)
    assert 64 >= models._WARM_START_TASKS
    passes = []

    def map_counting(fn, arguments):
        passes.append((fn.__name__, len(arguments)))
        return map_sequential(fn, arguments)

    result = logit("Late ~ DayOfWeek + CRSDepTime + Distance", path, map_blocks=map_counting)
    sizes = [n for name, n in passes if name == "cell_stats_partial"]
    assert len(sizes) == len(passes)  # every pass went through the cell kernels
    assert sizes[0] == 2 and sizes[-1] == 64 and sorted(sizes) == sizes, sizes
    frame = read_dataset(path)
    keep = ~np.isnan(frame["Late"]) & ~np.isnan(frame["CRSDepTime"]) & ~np.isnan(frame["Distance"])
    X = np.column_stack([np.ones(keep.sum()), *dummies(frame["DayOfWeek"][keep], 7, True),
                         frame["CRSDepTime"][keep], frame["Distance"][keep]])
    reference = sm.GLM(frame["Late"][keep], X, family=sm.families.Binomial()).fit(tol=1e-12)
    assert_matches(result, reference, AIRLINE_NAMES)
    assert result.deviance == pytest.approx(reference.deviance, rel=1e-9)
    assert (result.n_used, result.n_skipped) == (keep.sum(), (~keep).sum())
    assert result.converged


def test_cube_lin_mod_matches_a_no_intercept_dummy_design(airline, airline_frame):
    keep = ~np.isnan(airline_frame["ArrDelay"])
    X = np.column_stack(dummies(airline_frame["DayOfWeek"][keep], 7, False))
    reference = sm.OLS(airline_frame["ArrDelay"][keep], X).fit()
    result = lin_mod("ArrDelay ~ DayOfWeek", airline, cube=True, blocks_per_read=3)
    names = [f"DayOfWeek={d}" for d in ("Monday", "Tuesday", "Wednesday", "Thursday")]
    assert list(result.names[:4]) == names
    np.testing.assert_allclose(result.params, reference.params, rtol=RTOL)
    np.testing.assert_allclose(result.std_errors, reference.bse, rtol=RTOL)
    assert "Cube Linear Regression Results" in result.summary() and result.dropped == ()
    # cube coefficients are the day means
    day = airline_frame["DayOfWeek"][keep]
    assert result.coefficients["DayOfWeek=Friday"] == pytest.approx(
        airline_frame["ArrDelay"][keep][day == 4].mean(), rel=1e-12
    )


@pytest.fixture(scope="module")
def poisson_data(tmp_path_factory):
    # seed 001's SimulatePoissonData plus a categorical and some missing values
    rng = np.random.default_rng(9)
    n = 6_000
    x1, x2 = np.log(rng.uniform(0.5, 1.5, n)), np.log(rng.uniform(0.5, 1.5, n))
    group = rng.integers(0, 3, n).astype(np.int32)
    count = rng.poisson(np.exp(0.0 + 1.0 * x1 + 2.0 * x2 + 0.3 * (group == 2))).astype(float)
    x1[rng.choice(n, 25, replace=False)] = np.nan
    count[rng.choice(n, 30, replace=False)] = np.nan
    group[rng.choice(n, 20, replace=False)] = -1
    columns = {"count": count, "x1": x1, "x2": x2, "group": Categorical(group, ("a", "b", "c"))}
    path = tmp_path_factory.mktemp("data") / "poisson"
    write_dataset(path, columns, block_rows=1_000)
    return path, columns


@pytest.mark.parametrize("map_blocks, blocks_per_read", MAPS)
def test_poisson_glm_matches_statsmodels_and_counts_missing_rows(poisson_data, map_blocks, blocks_per_read):
    path, c = poisson_data
    keep = ~np.isnan(c["count"]) & ~np.isnan(c["x1"]) & (c["group"].codes >= 0)
    codes = c["group"].codes[keep]
    X = np.column_stack([np.ones(keep.sum()), *dummies(codes, 3, True), c["x1"][keep], c["x2"][keep]])
    reference = sm.GLM(c["count"][keep], X, family=sm.families.Poisson()).fit(tol=1e-12)
    result = glm(
        "count ~ group + x1 + x2",
        path,
        family="poisson",
        map_blocks=map_blocks,
        blocks_per_read=blocks_per_read,
    )
    assert_matches(result, reference, ["(Intercept)", "group=b", "group=c", "x1", "x2"])
    assert (result.n_used, result.n_skipped) == (keep.sum(), (~keep).sum())
    assert result.n_skipped > 50


def test_model_errors_are_clear(airline, tmp_path):
    with pytest.raises(ModelError, match="unknown column 'Delay'"):
        lin_mod("Delay ~ DayOfWeek", airline)
    with pytest.raises(ModelError, match="unknown column 'Weekday'"):
        lin_mod("ArrDelay ~ Weekday", airline)
    with pytest.raises(ModelError, match="categorical; a numeric response"):
        lin_mod("DayOfWeek ~ Distance", airline)
    with pytest.raises(ModelError, match="outside"):
        logit("ArrDelay ~ DayOfWeek", airline)
    with pytest.raises(ModelError, match="cube=True"):
        lin_mod("ArrDelay ~ Distance", airline, cube=True)
    rng = np.random.default_rng(1)
    x = rng.normal(size=300)
    columns = {
        "y": rng.normal(size=300),
        "x": x,
        "x2": 2 * x,
        "g": Categorical(np.zeros(300, np.int32), ("a", "b")),
    }
    write_dataset(tmp_path / "s", columns, block_rows=100)
    with pytest.raises(ModelError, match=r"singular design: \['x2'\]"):
        lin_mod("y ~ x + x2", tmp_path / "s")
    with pytest.raises(ModelError, match=r"singular design: \['g=b'\]"):
        lin_mod("y ~ g + x", tmp_path / "s")
    write_dataset(tmp_path / "e", {"y": np.full(5, np.nan), "x": np.ones(5)})
    with pytest.raises(ModelError, match="no rows left"):
        lin_mod("y ~ x", tmp_path / "e")


def test_formulas():
    f = parse_formula("Late ~ DayOfWeek + CRSDepTime + Distance")
    assert (f.response, f.terms, f.intercept) == ("Late", ("DayOfWeek", "CRSDepTime", "Distance"), True)
    assert parse_formula("y ~ a - 1").intercept is False
    assert parse_formula("y ~ 0 + a").intercept is False
    assert parse_formula("~ a + b").response is None
    assert parse_formula("y ~ a*b").terms == ("a", "b", "a:b")
    assert parse_formula("y ~ a*b").factors == (("a",), ("b",), ("a", "b"))
    assert parse_formula("y ~ log(x) + I(x**2)").term_names == ("log(x)", "I(x ** 2)")
    for bad in ("y ~ a +", "y", "y z ~ a", "y ~ 2", "y ~ a ~ b"):
        with pytest.raises(ModelError):
            parse_formula(bad)


@pytest.fixture(scope="module")
def blobs(tmp_path_factory):
    rng = np.random.default_rng(2)
    centers = rng.normal(scale=5.0, size=(4, 3))
    X = centers[rng.integers(0, 4, 3_000)] + rng.normal(size=(3_000, 3))
    X[[10, 2_000], 1] = np.nan
    path = tmp_path_factory.mktemp("data") / "blobs"
    write_dataset(path, {"a": X[:, 0], "b": X[:, 1], "c": X[:, 2]}, block_rows=700)
    return path, X


@pytest.mark.parametrize("map_blocks, blocks_per_read", MAPS)
def test_kmeans_inertia_matches_scikit_learn(blobs, map_blocks, blocks_per_read):
    path, X = blobs
    complete = X[~np.isnan(X).any(axis=1)]
    start = complete[[0, 1, 2, 3]]
    reference = KMeans(4, init=start, n_init=1, algorithm="lloyd", tol=0.0, max_iter=300).fit(complete)
    result = kmeans(
        "~ a + b + c", path, start, max_iter=300, map_blocks=map_blocks, blocks_per_read=blocks_per_read
    )
    assert result.converged
    assert abs(result.inertia - reference.inertia_) <= 1e-9 * reference.inertia_
    np.testing.assert_allclose(result.centers, reference.cluster_centers_, rtol=1e-9)
    assert (result.n_used, result.n_skipped) == (len(complete), 2)
    assert sorted(result.sizes) == sorted(np.bincount(reference.labels_))


def test_kmeans_seeded_from_the_first_block_and_errors(blobs, airline):
    path, _ = blobs
    first = kmeans(["a", "b", "c"], path, 4, max_iter=50, seed=7)
    again = kmeans(["a", "b", "c"], path, 4, max_iter=50, seed=7)
    np.testing.assert_array_equal(first.centers, again.centers)
    assert "K-means clustering of a, b, c with 4 clusters" in first.summary()
    with pytest.raises(ModelError, match="numeric columns"):
        kmeans("~ DayOfWeek + Distance", airline, 2)
    with pytest.raises(ModelError, match="unknown column"):
        kmeans(["a", "z"], path, 2)


@pytest.fixture(scope="module")
def two_factor_data(tmp_path_factory):
    """Two categoricals (3 x 4 cells, one cell empty), a 0/1, a count and a real response."""
    rng = np.random.default_rng(21)
    n = 9_000
    a = rng.integers(0, 3, n).astype(np.int32)
    b = rng.integers(0, 4, n).astype(np.int32)
    b[(a == 2) & (b == 3)] = 0  # no rows in cell (2, 3): its level combination is never seen
    eta = -0.5 + 0.4 * (a == 1) - 0.3 * (a == 2) + 0.2 * b
    late = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(np.float32)
    count = rng.poisson(np.exp(eta + 1.0)).astype(float)
    delay = 1e4 + 3.0 * eta + rng.normal(0, 2.0, n)  # large mean, small spread: a cancellation test
    late[rng.choice(n, 40, replace=False)] = np.nan
    a[rng.choice(n, 15, replace=False)] = -1
    columns = {
        "a": Categorical(a, ("x", "y", "z")),
        "b": Categorical(b, ("p", "q", "r", "s")),
        "late": late,
        "count": count,
        "delay": delay,
    }
    path = tmp_path_factory.mktemp("data") / "two_factor"
    write_dataset(path, columns, block_rows=2_000)
    return path, columns


@pytest.mark.parametrize("map_blocks, blocks_per_read", MAPS)
@pytest.mark.parametrize(
    "family, response, sm_family",
    [
        ("binomial", "late", sm.families.Binomial()),
        ("poisson", "count", sm.families.Poisson()),
        ("gaussian", "delay", sm.families.Gaussian()),
    ],  # fmt: skip
)
def test_categorical_only_designs_fit_by_cell_means_match_statsmodels(
    two_factor_data, map_blocks, blocks_per_read, family, response, sm_family
):
    path, c = two_factor_data
    y = np.asarray(c[response], dtype=float)
    keep = ~np.isnan(y) & (c["a"].codes >= 0)
    a, b = c["a"].codes[keep], c["b"].codes[keep]
    X = np.column_stack([np.ones(keep.sum()), *dummies(a, 3, True), *dummies(b, 4, True)])
    reference = sm.GLM(y[keep], X, family=sm_family).fit(tol=1e-13)
    result = glm(f"{response} ~ a + b", path, family, map_blocks=map_blocks, blocks_per_read=blocks_per_read)
    names = ["(Intercept)", "a=y", "a=z", "b=q", "b=r", "b=s"]
    assert_matches(result, reference, names)
    expected_deviance = reference.deviance
    assert result.deviance == pytest.approx(expected_deviance, rel=1e-9)
    assert (result.n_used, result.n_skipped) == (keep.sum(), (~keep).sum())
    assert result.converged


def test_the_cell_paths_and_the_row_kernel_give_the_same_fit(two_factor_data, monkeypatch):
    from rxgrid.analytics import partials

    path, _ = two_factor_data
    fits = {}
    for max_cells in (4096, 0):  # 0: every design goes through the per-row kernel
        monkeypatch.setattr(partials, "MAX_CELLS", max_cells)
        for formula, family in [("late ~ a + b", "binomial"), ("count ~ a + b + delay", "poisson"),
                                ("delay ~ b", "gaussian")]:  # fmt: skip
            fits[max_cells, formula] = glm(formula, path, family, blocks_per_read=2)
    for formula in {f for _, f in fits}:
        cells, rows = fits[4096, formula], fits[0, formula]
        np.testing.assert_allclose(cells.params, rows.params, rtol=RTOL)
        np.testing.assert_allclose(cells.std_errors, rows.std_errors, rtol=RTOL)
        assert cells.deviance == pytest.approx(rows.deviance, rel=1e-9)
        assert (cells.n_used, cells.n_skipped) == (rows.n_used, rows.n_skipped)


def test_narrow_storage_reads_back_the_same_values(tmp_path):
    info = make_airline(tmp_path / "air", rows=3_000, seed=2, block_rows=1_000, columns=["DayOfWeek", "Late"])
    assert info.names == ["DayOfWeek", "Late"]
    frame = read_dataset(tmp_path / "air")
    assert frame["DayOfWeek"].dtype == np.int8 and frame["Late"].dtype == np.float32
    full = read_dataset(make_airline(tmp_path / "full", rows=3_000, seed=2, block_rows=1_000).path)
    np.testing.assert_array_equal(frame["DayOfWeek"], full["DayOfWeek"])
    np.testing.assert_array_equal(frame["Late"], full["Late"])
    with pytest.raises(Exception, match="no columns"):
        make_airline(tmp_path / "bad", rows=10, columns=["Weekday"])


def test_make_airline_in_several_processes_writes_the_same_data(tmp_path):
    one = read_dataset(make_airline(tmp_path / "one", rows=2_500, seed=4, block_rows=1_000).path)
    two = read_dataset(make_airline(tmp_path / "two", rows=2_500, seed=4, block_rows=1_000, processes=2).path)
    for name in one:
        np.testing.assert_array_equal(one[name], two[name])
