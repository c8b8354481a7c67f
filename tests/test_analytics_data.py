"""Data in every form: DataFrames, Parquet and CSV as ``data=`` and through ``import_data``,
checked against pandas and pyarrow, and fits that agree whatever form the data came in."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

import rxgrid  # noqa: E402
from rxgrid.analytics import (  # noqa: E402
    DatasetError,
    data_source,
    get_info,
    import_data,
    kmeans,
    lin_mod,
    logit,
    make_airline,
    read_block,
    read_dataset,
    write_dataset,
)
from rxgrid.analytics.airline import DAYS  # noqa: E402
from rxgrid.errors import RxgridDeprecationWarning  # noqa: E402

FORMULA = "Late ~ DayOfWeek + CRSDepTime + Distance"


@pytest.fixture(scope="module")
def air(tmp_path_factory):
    """The same 12,000 airline rows as a data set, a DataFrame, Parquet (5 row groups) and CSV."""
    root = tmp_path_factory.mktemp("forms")
    make_airline(root / "air", rows=12_000, seed=5, block_rows=3_000)
    frame = read_dataset(root / "air").to_pandas()
    frame.to_parquet(root / "air.parquet", row_group_size=2_500)
    frame.to_csv(root / "air.csv", index=False)
    return {"dataset": root / "air", "frame": frame, "parquet": root / "air.parquet",
            "csv": root / "air.csv", "root": root}


def _mixed_frame(rows: int = 1_000) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    x = rng.normal(size=rows)
    x[::17] = np.nan
    return pd.DataFrame({
        "x": x,
        "x32": rng.normal(size=rows).astype(np.float32),
        "n": rng.integers(-5, 5, rows),
        "flag": rng.random(rows) < 0.5,
        "day": pd.Categorical(rng.choice(DAYS, rows), categories=DAYS),  # not sorted
        "city": pd.Series(rng.choice(["Oslo", "Lima", "Pune", None], rows)),  # str (pandas 3) or object
    })


def _expected(frame: pd.DataFrame) -> pd.DataFrame:
    """What a data set gives back: strings become categoricals with sorted levels."""
    out = frame.copy()
    out["city"] = out["city"].astype("category")
    return out


def test_write_dataset_takes_a_dataframe_and_to_pandas_gives_it_back(tmp_path):
    frame = _mixed_frame()
    info = write_dataset(tmp_path / "d", frame, block_rows=300)
    assert [v.type for v in info.variables] == ["float64", "float32", "int64", "bool", "category", "category"]
    assert info.variable("day").levels == DAYS
    pd.testing.assert_frame_equal(read_dataset(tmp_path / "d").to_pandas(), _expected(frame))


def test_parquet_round_trip_with_levels_stable_across_row_groups(tmp_path):
    frame = _mixed_frame(2_000)
    # the first row groups see only some cities, a later one brings a new city: one code per city
    frame.loc[:999, "city"] = frame.loc[:999, "city"].where(frame.loc[:999, "city"] != "Pune", "Lima")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, tmp_path / "p.parquet", row_group_size=400)
    assert pq.ParquetFile(tmp_path / "p.parquet").metadata.num_row_groups == 5
    info = import_data(tmp_path / "p.parquet", tmp_path / "d", block_rows=700)
    assert info.variable("city").levels == ("Lima", "Oslo", "Pune")
    assert info.variable("day").levels == DAYS  # a pandas categorical keeps its order
    pd.testing.assert_frame_equal(read_dataset(tmp_path / "d").to_pandas(), _expected(frame))
    # the same file read in place: a view with one block per row group
    with data_source(tmp_path / "p.parquet") as view:
        view_info = get_info(view)
        assert view_info.block_rows == (400,) * 5
        assert view_info.variables == info.variables
        pd.testing.assert_frame_equal(read_dataset(view).to_pandas(), _expected(frame))
        codes = read_block(view, 4, ["city"])["city"]
        expected = pd.Categorical(frame["city"][1600:], categories=["Lima", "Oslo", "Pune"]).codes
        np.testing.assert_array_equal(codes, expected)


def test_a_parquet_directory_is_one_data_set_and_a_view_is_made_once(tmp_path):
    frame = _mixed_frame(900)
    (tmp_path / "parts").mkdir()
    for i in range(3):
        frame.iloc[i * 300:(i + 1) * 300].to_parquet(tmp_path / "parts" / f"part-{i}.parquet",
                                                     row_group_size=150)
    assert rxgrid.get_info(tmp_path / "parts").rows == 900  # rxGetInfo of a Parquet directory
    with data_source(tmp_path / "parts") as first, data_source(tmp_path / "parts") as again:
        assert first == again
        assert get_info(first).block_rows == (150,) * 6
        pd.testing.assert_frame_equal(read_dataset(first).to_pandas(), _expected(frame))


def test_csv_import_equals_pandas_read_csv(air, tmp_path):
    info = import_data(air["csv"], tmp_path / "d", block_rows=5_000, chunk_rows=1_000)
    reference = pd.read_csv(air["csv"], float_precision="round_trip")  # correctly rounded
    ours = read_dataset(tmp_path / "d").to_pandas()
    assert info.block_rows == (5_000, 5_000, 2_000)
    assert list(ours.columns) == list(reference.columns)
    for name in ("ArrDelay", "Late", "CRSDepTime", "Distance"):
        np.testing.assert_array_equal(ours[name].to_numpy(), reference[name].to_numpy(np.float64))
    assert ours["DayOfWeek"].astype(str).tolist() == reference["DayOfWeek"].tolist()
    assert list(ours["DayOfWeek"].cat.categories) == sorted(DAYS)


def test_csv_levels_fixed_and_a_late_bad_value_names_its_line(tmp_path):
    rows = ["g,v"] + [f"{'ab'[i % 2]},{i}" for i in range(50)] + ["c,oops"]
    (tmp_path / "a.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(DatasetError, match="line 52"):
        import_data(tmp_path / "a.csv", tmp_path / "a", chunk_rows=10)
    info = import_data(tmp_path / "a.csv", tmp_path / "b", types={"v": "category"},
                       levels={"g": ["c", "b", "a"]})
    assert info.variable("g").levels == ("c", "b", "a")
    np.testing.assert_array_equal(read_dataset(tmp_path / "b")["g"][:3], [2, 1, 2])


@pytest.mark.parametrize("form", ["frame", "parquet", "csv"])
def test_every_data_form_gives_the_fit_of_the_data_set(air, form):
    reference = logit(FORMULA, air["dataset"])
    fit = logit(FORMULA, air[form])
    if form == "csv":  # CSV levels are sorted (Friday first): compare what does not depend on them
        assert fit.deviance == pytest.approx(reference.deviance, rel=1e-10)
        for name in ("CRSDepTime", "Distance"):
            assert fit.coefficients[name] == pytest.approx(reference.coefficients[name], rel=1e-8)
        return
    np.testing.assert_allclose(fit.params, reference.params, rtol=1e-10)
    assert fit.names == reference.names and fit.n_skipped == reference.n_skipped


def test_a_small_dataframe_is_read_in_place(air, monkeypatch, tmp_path):
    monkeypatch.setenv("RXGRID_SCRATCH", str(tmp_path / "scratch"))
    fit = lin_mod("ArrDelay ~ DayOfWeek", air["frame"], cube=True)
    assert fit.path == "<DataFrame: 12000 rows>"
    assert not (tmp_path / "scratch").exists()  # nothing was written
    means = air["frame"].groupby("DayOfWeek", observed=False)["ArrDelay"].mean()
    np.testing.assert_allclose(fit.params, means.to_numpy(), rtol=1e-10)


# One test per deprecated alias: it still works, and warns (pyproject makes rxgrid's
# deprecations errors everywhere else), naming the caller's line.

def test_the_old_data_formula_order_still_works_with_a_warning(air):
    new = lin_mod("ArrDelay ~ DayOfWeek", air["dataset"])
    with pytest.warns(RxgridDeprecationWarning, match=r"lin_mod\(formula, data\)") as record:
        old = lin_mod(air["dataset"], "ArrDelay ~ DayOfWeek")
    np.testing.assert_array_equal(old.params, new.params)
    assert record[0].filename == __file__
    with pytest.warns(RxgridDeprecationWarning, match=r"kmeans\(formula, data\)"):
        by_names = kmeans(air["dataset"], ["CRSDepTime", "Distance"], 2, seed=3)
    np.testing.assert_array_equal(
        by_names.centers, kmeans(["CRSDepTime", "Distance"], air["dataset"], 2, seed=3).centers)


def test_the_old_name_iter_max_still_works_with_a_warning(air):
    with pytest.warns(RxgridDeprecationWarning, match="iter_max= is deprecated, use max_iter=") as record:
        by_old_name = logit(FORMULA, air["dataset"], iter_max=2)
    assert record[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        by_new_name = logit(FORMULA, air["dataset"], max_iter=2)
    np.testing.assert_array_equal(by_old_name.params, by_new_name.params)
    assert by_new_name.iterations == 2 and not by_new_name.converged
    with pytest.raises(ValueError, match="give max_iter= only"):
        logit(FORMULA, air["dataset"], max_iter=3, iter_max=3)


def test_the_old_name_k_still_works_with_a_warning(air):
    with pytest.warns(RxgridDeprecationWarning, match="k= is deprecated, use centers="):
        by_old_name = kmeans("~ CRSDepTime + Distance", air["dataset"], k=2, seed=3)
    by_new_name = kmeans("~ CRSDepTime + Distance", air["dataset"], centers=2, seed=3)
    np.testing.assert_array_equal(by_old_name.centers, by_new_name.centers)
    with pytest.warns(RxgridDeprecationWarning, match="k= is deprecated, use centers="), \
            pytest.raises(ValueError, match="centers must have shape"):
        kmeans("~ CRSDepTime + Distance", air["dataset"], k=np.zeros((2, 3)))


def test_a_deprecated_call_outside_pytest_warns_is_an_error_in_this_suite(air):
    """pyproject's filterwarnings: rxgrid's deprecations fail a test, other libraries' do not."""
    with pytest.raises(RxgridDeprecationWarning):
        lin_mod(air["dataset"], "ArrDelay ~ DayOfWeek")
    with warnings.catch_warnings(record=True) as record:  # keeps the suite's filters
        warnings.warn("a third-party deprecation", DeprecationWarning, stacklevel=1)
    assert [str(w.message) for w in record] == ["a third-party deprecation"]


def test_rxgrid_lin_mod_runs_on_the_current_context(air):
    with rxgrid.use_context(rxgrid.local_sequential()):
        fit = rxgrid.lin_mod("ArrDelay ~ DayOfWeek", data=air["frame"])
        table = rxgrid.crosstabs("~ DayOfWeek", data=air["parquet"])
    np.testing.assert_allclose(fit.params, lin_mod("ArrDelay ~ DayOfWeek", air["dataset"]).params, rtol=1e-10)
    assert table["count"].sum() == 12_000


def test_dataframe_parquet_and_csv_on_two_workers(cluster2, air, monkeypatch, tmp_path):
    """Issue 17: ``cluster.lin_mod(..., data=df)`` failed with 'File name too long'."""
    monkeypatch.setenv("RXGRID_SCRATCH", str(tmp_path / "scratch"))
    reference = logit(FORMULA, air["dataset"])
    for form in ("frame", "parquet"):
        fit = cluster2.logit(FORMULA, data=air[form])
        np.testing.assert_allclose(fit.params, reference.params, rtol=1e-10)
    fit = cluster2.lin_mod("ArrDelay ~ Distance", data=air["csv"])
    expected = lin_mod("ArrDelay ~ Distance", air["dataset"])
    np.testing.assert_allclose(fit.params, expected.params, rtol=1e-10)
    assert not [p for p in os.listdir(tmp_path / "scratch") if p.startswith("data-")]  # removed


@pytest.mark.parametrize("form", ["parquet", "frame"])
def test_seed_000_flow_on_two_workers(cluster2, air, form, tmp_path):
    """import_data -> summary -> logit -> crosstabs, each step against its reference; the
    rest of seed 000's flow (an interaction, predict, predicted by observed) follows below."""
    frame = air["frame"]
    info = import_data(air[form], tmp_path / "air", block_rows=4_000)
    assert info.blocks == 3 and info.variable("DayOfWeek").levels == DAYS
    described = cluster2.summary("~ ArrDelay + Distance + DayOfWeek", data=tmp_path / "air")
    assert described.loc["ArrDelay", "mean"] == pytest.approx(frame["ArrDelay"].mean(), rel=1e-12)
    assert described.loc["ArrDelay", "missing"] == frame["ArrDelay"].isna().sum()
    fit = cluster2.logit(FORMULA, data=tmp_path / "air")
    np.testing.assert_allclose(fit.params, logit(FORMULA, air["dataset"]).params, rtol=1e-10)
    observed = cluster2.crosstabs("~ DayOfWeek:F(Late)", data=air[form])  # F(): 0/1 as levels
    expected = pd.crosstab(frame["DayOfWeek"], frame["Late"])
    np.testing.assert_array_equal(observed.to_numpy(), expected.to_numpy())


@pytest.mark.parametrize("form", ["parquet", "frame"])
def test_seed_000_flow_scores_a_logit_with_an_interaction_into_a_new_data_set(cluster2, air, form,
                                                                             tmp_path):
    """Seed 000 end to end on two workers: import_data -> logit with an interaction ->
    predict into a new data set (tasks on the cluster) -> crosstabs of predicted against
    observed; the fit and the scores against statsmodels, the table against pandas."""
    import statsmodels.formula.api as smf

    frame = air["frame"]
    import_data(air[form], tmp_path / "air", block_rows=4_000)
    formula = "Late ~ DayOfWeek*Distance + CRSDepTime"
    fit = cluster2.logit(formula, data=tmp_path / "air")
    reference = smf.logit(formula, frame).fit(disp=0, tol=1e-12)
    expected = reference.predict(frame).to_numpy()
    before = {j.id for j in cluster2.jobs()}
    info = fit.predict(tmp_path / "air", out=tmp_path / "scored")
    assert [j.name for j in cluster2.jobs() if j.id not in before] == ["predict_partial"]
    assert info.names[:2] == ["Late_Pred", "Late"] and info.rows == len(frame)
    scored = read_dataset(tmp_path / "scored")
    both = np.isfinite(expected)
    assert both.sum() > 10_000
    np.testing.assert_allclose(scored["Late_Pred"][both], expected[both], rtol=1e-7)
    table = cluster2.crosstabs("Late_Pred ~ F(Late)", data=tmp_path / "scored", values="means")
    by_observed = pd.Series(expected[both]).groupby(frame["Late"].to_numpy()[both]).mean()
    np.testing.assert_allclose(table["Late_Pred"].to_numpy(), by_observed.to_numpy(), rtol=1e-7)


def test_a_non_waiting_fit_of_a_dataframe_keeps_its_scratch_data(cluster2, air, monkeypatch, tmp_path):
    monkeypatch.setenv("RXGRID_SCRATCH", str(tmp_path / "scratch"))
    job = cluster2.lin_mod("ArrDelay ~ DayOfWeek", data=air["frame"], cube=True, wait=False)
    fit = job.result(timeout=300)  # the driver reads the scratch data set after lin_mod returned
    np.testing.assert_allclose(fit.params, lin_mod("ArrDelay ~ DayOfWeek", air["dataset"], cube=True).params,
                               rtol=1e-10)
    assert len([p for p in os.listdir(tmp_path / "scratch") if p.startswith("data-")]) == 1
