"""Summaries over big data against references nobody here wrote: pandas' ``describe``,
``groupby`` and ``crosstab``, scipy's ``chi2_contingency`` and ``numpy.quantile``; the
same answers in this process and on two workers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency

import rxgrid
from rxgrid.analytics import crosstabs, cube, quantile, summary, write_dataset

ROWS = 6_000


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(11)
    out = pd.DataFrame({
        "y": rng.normal(1e9, 2.0, ROWS),  # a large mean: a naive sum of squares loses the variance
        "x": rng.integers(0, 40, ROWS).astype(float),  # many ties
        "g": pd.Categorical(rng.choice(["a", "b", "c", "d"], ROWS), categories=["d", "c", "b", "a"]),
        "h": pd.Categorical(rng.choice(["u", "v", "w"], ROWS)),
        "k": pd.Categorical(rng.choice(["p", "q"], ROWS)),
    })
    out.loc[::9, "y"] = np.nan
    out.loc[::13, "g"] = np.nan
    return out


@pytest.fixture(scope="module")
def data(frame, tmp_path_factory):
    path = tmp_path_factory.mktemp("summaries") / "d"
    write_dataset(path, frame, block_rows=700)  # 9 blocks, the last a short one
    return path


@pytest.fixture(params=["here", "sequential", "workers"])
def run(request, data):
    """Call a summary in this process, on local_sequential() or on two workers."""
    if request.param == "here":
        return lambda name, first, **kw: getattr(rxgrid.analytics, name)(first, data, **kw)
    context = rxgrid.local_sequential() if request.param == "sequential" else \
        request.getfixturevalue("cluster2")
    return lambda name, first, **kw: getattr(context, name)(first, data, blocks_per_read=2, **kw)


def test_summary_matches_pandas_describe(run, frame):
    result = run("summary", "~ .")
    described = frame.describe()
    for name in ("y", "x"):
        row = result.loc[name]
        assert row["count"] == described.loc["count", name]
        assert row["missing"] == frame[name].isna().sum()
        for stat in ("mean", "std", "min", "max"):
            assert row[stat] == pytest.approx(described.loc[stat, name], rel=1e-12)
    for name in ("g", "h", "k"):
        pd.testing.assert_series_equal(result.attrs["levels"][name], frame[name].value_counts(sort=False),
                                       check_index_type=False, check_names=False)
        assert result.loc[name, "missing"] == frame[name].isna().sum()


def test_summary_by_group_matches_groupby_describe(run, frame):
    result = run("summary", "y + x ~ g")
    assert list(result.columns) == ["count", "missing", "mean", "std", "min", "max"]
    for name in ("y", "x"):
        reference = frame.groupby("g", observed=False)[name].describe()
        ours = result.loc[name]
        assert list(ours.index) == ["d", "c", "b", "a"]
        np.testing.assert_array_equal(ours["count"], reference["count"])
        for stat in ("mean", "std", "min", "max"):
            np.testing.assert_allclose(ours[stat], reference[stat], rtol=1e-12)
        missing = frame[frame["g"].notna()].groupby("g", observed=False)[name].apply(lambda s: s.isna().sum())
        np.testing.assert_array_equal(ours["missing"], missing)


def test_crosstabs_match_pandas_crosstab_and_scipy_chi2(run, frame):
    counts = run("crosstabs", "~ g:h")
    reference = pd.crosstab(frame["g"], frame["h"])
    np.testing.assert_array_equal(counts.to_numpy(), reference.to_numpy())
    assert list(counts.index) == list(reference.index) and list(counts.columns) == list(reference.columns)
    chi2, p, dof, _ = chi2_contingency(reference.to_numpy(), correction=False)
    test = counts.attrs["chi_squared"]
    assert test["statistic"] == pytest.approx(chi2, rel=1e-12) and test["df"] == dof
    assert test["p_value"] == pytest.approx(p, rel=1e-9)
    for values, aggfunc in (("sums", "sum"), ("means", "mean")):
        ours = run("crosstabs", "y ~ g:h", values=values)
        expected = pd.crosstab(frame["g"], frame["h"], values=frame["y"], aggfunc=aggfunc)
        np.testing.assert_allclose(ours.to_numpy(), expected.to_numpy(), rtol=1e-12)


def test_three_factor_crosstabs_and_the_cube(run, frame):
    ours = run("crosstabs", "~ g:h:k")
    reference = pd.crosstab([frame["g"], frame["h"]], frame["k"], dropna=False)
    np.testing.assert_array_equal(ours.to_numpy(), reference.to_numpy())
    assert list(ours.index) == list(reference.index)
    cells = run("cube", "y ~ g:h")
    grouped = frame.groupby(["g", "h"], observed=False)["y"]
    np.testing.assert_allclose(cells["y"], grouped.mean().to_numpy(), rtol=1e-12)
    np.testing.assert_array_equal(cells["Counts"], grouped.count().to_numpy())
    assert list(cells.columns) == ["g", "h", "y", "Counts"]


def test_exact_quantiles_equal_numpy_after_refining(run, frame):
    probs = [0.0, 0.01, 0.25, 0.5, 0.9, 0.999, 1.0]
    for column in ("y", "x"):  # x: integers with many ties
        # 16 bins and at most 50 values gathered: several refining passes
        ours = run("quantile", column, probs=probs, bins=16, gather=50)
        expected = np.quantile(frame[column].dropna(), probs)
        np.testing.assert_array_equal(ours[column].to_numpy(), expected)
        assert (ours["error_bound"] == 0).all()


def test_binned_quantiles_are_within_their_stated_bound(run, frame):
    probs = [0.05, 0.5, 0.95]
    ours = run("quantile", "y", probs=probs, exact=False, bins=200)
    expected = np.quantile(frame["y"].dropna(), probs)
    span = frame["y"].max() - frame["y"].min()
    assert (ours["error_bound"] <= 2 * span / 200 + 1e-6).all()
    assert (np.abs(ours["y"].to_numpy() - expected) <= ours["error_bound"].to_numpy()).all()


def test_summaries_take_dataframes_and_parquet(frame, tmp_path):
    pytest.importorskip("pyarrow")
    frame.to_parquet(tmp_path / "f.parquet", row_group_size=1_000)
    from_frame = summary("~ y + x + g", frame)
    from_parquet = summary("~ y + x + g", tmp_path / "f.parquet")
    pd.testing.assert_frame_equal(from_frame, from_parquet, rtol=1e-12)
    pd.testing.assert_frame_equal(crosstabs("~ g:h", frame), crosstabs("~ g:h", tmp_path / "f.parquet"))
    pd.testing.assert_frame_equal(cube("~ h:k", frame), cube("~ h:k", tmp_path / "f.parquet"))
    np.testing.assert_array_equal(quantile("x", frame)["x"], quantile("x", tmp_path / "f.parquet")["x"])
    frame.to_csv(tmp_path / "f.tsv", sep="\t", index=False)
    from_tsv = summary("~ y + x", tmp_path / "f.tsv")  # tab-separated by its suffix
    pd.testing.assert_frame_equal(from_tsv, summary("~ y + x", frame), rtol=1e-12)


def test_bad_summary_formulas_are_refused(data):
    with pytest.raises(ValueError, match="categorical column"):
        crosstabs("~ g:x", data)
    with pytest.raises(ValueError, match="no column"):
        summary("~ nothere", data)
    with pytest.raises(ValueError, match="'y ~ g'"):
        summary("~ y:g", data)
    with pytest.raises(ValueError, match="quantiles need a numeric column"):
        quantile("g", data)


def test_f_makes_a_numeric_column_a_factor_of_its_integer_values(run, frame):
    table = run("crosstabs", "~ F(x):h")
    expected = pd.crosstab(np.floor(frame["x"]).astype(int), frame["h"])
    assert list(table.index) == [str(v) for v in range(40)]
    np.testing.assert_array_equal(table.to_numpy(), expected.to_numpy())
    by_value = run("summary", "y ~ F(x)")
    reference = frame.groupby(np.floor(frame["x"]).astype(int))["y"].mean()
    np.testing.assert_allclose(by_value.loc["y"]["mean"], reference, rtol=1e-12)
