"""The HPA functions on real clusters: blocks spread over 2 workers, results equal to
statsmodels / scikit-learn, and a non-waiting fit that outlives its client."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from sklearn.cluster import KMeans

import rxgrid
from rxgrid.analytics import make_airline, read_dataset, write_dataset
from tests.conftest import run_python

RTOL = 1e-6


@pytest.fixture(scope="module")
def airline(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "airline"
    make_airline(path, rows=20_000, seed=3, block_rows=2_000)
    return path


def _design(frame):
    keep = ~np.isnan(frame["Late"]) & ~np.isnan(frame["CRSDepTime"]) & ~np.isnan(frame["Distance"])
    day = frame["DayOfWeek"][keep]
    X = np.column_stack(
        [np.ones(keep.sum())]
        + [(day == k).astype(float) for k in range(1, 7)]
        + [frame["CRSDepTime"][keep], frame["Distance"][keep]]
    )
    return keep, X


def test_logit_over_two_workers_matches_statsmodels(cluster2, airline):
    frame = read_dataset(airline)
    keep, X = _design(frame)
    reference = sm.GLM(frame["Late"][keep], X, family=sm.families.Binomial()).fit(tol=1e-12)
    result = cluster2.logit("Late ~ DayOfWeek + CRSDepTime + Distance", data=airline, blocks_per_read=2)
    np.testing.assert_allclose(result.params, reference.params, rtol=RTOL)
    np.testing.assert_allclose(result.std_errors, reference.bse, rtol=RTOL)
    assert result.n_skipped == (~keep).sum()
    jobs = cluster2.jobs()
    assert len({j.id for j in jobs if j.name == "cell_stats_partial"}) >= result.iterations


def test_cube_lin_mod_and_poisson_glm_over_two_workers(cluster2, airline):
    frame = read_dataset(airline)
    keep = ~np.isnan(frame["ArrDelay"])
    day = frame["DayOfWeek"][keep]
    before = {j.id for j in cluster2.jobs()}
    cube = cluster2.lin_mod("ArrDelay ~ DayOfWeek", data=airline, cube=True)
    # a design of categoricals only reads the data once: one job of per-day moments
    assert [j.name for j in cluster2.jobs() if j.id not in before] == ["moments_partial"]
    means = [frame["ArrDelay"][keep][day == k].mean() for k in range(7)]
    np.testing.assert_allclose(cube.params, means, rtol=1e-9)
    counts = np.rint(np.abs(np.nan_to_num(frame["ArrDelay"])) / 10)
    path = airline.parent / "counts"
    write_dataset(path, {"count": counts, "CRSDepTime": np.nan_to_num(frame["CRSDepTime"])}, block_rows=3_000)
    reference = sm.GLM(
        counts,
        np.column_stack([np.ones(len(counts)), np.nan_to_num(frame["CRSDepTime"])]),
        family=sm.families.Poisson(),
    ).fit(tol=1e-12)
    result = cluster2.glm("count ~ CRSDepTime", data=path, family="poisson")
    np.testing.assert_allclose(result.params, reference.params, rtol=RTOL)
    np.testing.assert_allclose(result.std_errors, reference.bse, rtol=RTOL)


def test_kmeans_over_two_workers_matches_scikit_learn(cluster2, tmp_path):
    rng = np.random.default_rng(4)
    x = np.vstack([rng.normal(c, 0.5, size=(400, 2)) for c in ((0, 0), (4, 4), (0, 5))])
    path = tmp_path / "points"
    write_dataset(path, {"a": x[:, 0], "b": x[:, 1]}, block_rows=300)
    start = x[[0, 500, 1000]]
    result = cluster2.kmeans("~ a + b", data=path, centers=start, max_iter=100)
    reference = KMeans(3, init=start, n_init=1, algorithm="lloyd", tol=0, max_iter=100).fit(x)
    assert result.inertia == pytest.approx(reference.inertia_, rel=1e-9, abs=1e-9)


def test_a_non_waiting_fit_survives_its_client(cluster2, airline):
    submit = run_python(f"""
import rxgrid
cluster = rxgrid.connect({cluster2.address!r})
job = cluster.logit("Late ~ DayOfWeek", data={str(airline)!r}, wait=False)
print(job.id)
""")
    assert submit.returncode == 0, submit.stderr
    model = cluster2.job(submit.stdout.strip()).result(timeout=120)
    direct = cluster2.logit("Late ~ DayOfWeek", data=airline)
    np.testing.assert_allclose(model.params, direct.params, rtol=1e-12)
    assert "Logistic Regression Results" in model.summary()


def test_the_sequential_context_fits_the_same_model(cluster2, airline):
    formula = "ArrDelay ~ DayOfWeek + CRSDepTime"
    seq = rxgrid.local_sequential().lin_mod(formula, data=airline)
    info = rxgrid.get_info(airline)
    assert info.rows == 20_000 and info.blocks == 10
    frame = read_dataset(airline)
    keep = ~np.isnan(frame["ArrDelay"]) & ~np.isnan(frame["CRSDepTime"])
    day = frame["DayOfWeek"][keep]
    X = np.column_stack([np.ones(keep.sum())] + [(day == k).astype(float) for k in range(1, 7)]
                        + [frame["CRSDepTime"][keep]])
    reference = sm.OLS(frame["ArrDelay"][keep], X).fit()
    np.testing.assert_allclose(seq.params, reference.params, rtol=RTOL)
    np.testing.assert_allclose(seq.std_errors, reference.bse, rtol=RTOL)
    assert (seq.n_used, seq.n_skipped) == (keep.sum(), (~keep).sum())
    spread = cluster2.lin_mod(formula, data=airline, blocks_per_read=3)
    np.testing.assert_allclose(spread.params, seq.params, rtol=1e-9)
    np.testing.assert_allclose(spread.std_errors, seq.std_errors, rtol=1e-9)
    assert (spread.n_used, spread.n_skipped) == (seq.n_used, seq.n_skipped)


def test_logit_with_an_interaction_scored_into_a_new_dataset_as_tasks(cluster2, airline, tmp_path):
    formula = "Late ~ DayOfWeek*Far + log(CRSDepTime + 1)"
    options = dict(transforms={"Far": "Distance > 1000"}, row_selection="Distance > 100")
    fit = cluster2.logit(formula, data=airline, blocks_per_read=2, **options)
    local = rxgrid.analytics.logit(formula, airline, **options)
    np.testing.assert_allclose(fit.params, local.params, rtol=1e-9)
    assert "DayOfWeek=Tuesday:Far" in fit.names
    before = {j.id for j in cluster2.jobs()}
    info = fit.predict(airline, out=tmp_path / "scored", blocks_per_read=3)
    assert [j.name for j in cluster2.jobs() if j.id not in before] == ["predict_partial"]
    assert info.names == ["Late_Pred", "Late"] and info.rows == 20_000
    frame = read_dataset(airline)
    expected = local.predict(frame)
    np.testing.assert_allclose(read_dataset(tmp_path / "scored")["Late_Pred"], expected, rtol=1e-12)
    again = cluster2.predict(local, airline, out=tmp_path / "again", type="link")
    assert again.names == ["Late_Pred", "Late"]
