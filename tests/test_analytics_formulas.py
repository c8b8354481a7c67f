"""Formulas, weights, statsmodels-shaped results and predictions, against statsmodels' own fits
of its bundled data sets (Fair's affairs, Spector's grades, capital punishment) and
scikit-learn's KMeans.predict."""

import pickle

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from sklearn.cluster import KMeans

from rxgrid.analytics import (
    ModelError,
    glm,
    kmeans,
    lin_mod,
    logit,
    map_sequential,
    read_dataset,
    write_dataset,
)

RTOL = 1e-7


def map_pickled(fn, arguments):
    """Pickles the function and each argument tuple, as sending them as tasks would."""
    fn = pickle.loads(pickle.dumps(fn))
    return [fn(*pickle.loads(pickle.dumps(args))) for args in arguments]


@pytest.fixture(scope="module")
def fair(tmp_path_factory):
    frame = sm.datasets.fair.load_pandas().data
    path = tmp_path_factory.mktemp("data") / "fair"
    write_dataset(path, {c: frame[c].to_numpy() for c in frame.columns}, block_rows=1_000)
    return path, frame


def rename(names, mapping):
    return [mapping.get(n, n) for n in names]


def test_interactions_functions_and_f_match_statsmodels_ols(fair):
    path, frame = fair
    fit = lin_mod("rate_marriage ~ F(occupation)*educ + age + I(age**2) + log(yrs_married)", path,
                  map_blocks=map_pickled, blocks_per_read=2)  # fmt: skip
    reference = smf.ols(
        "rate_marriage ~ C(occupation)*educ + age + I(age**2) + np.log(yrs_married)", frame).fit()
    names = {f"F(occupation)={k}": f"C(occupation)[T.{k}.0]" for k in range(2, 7)}
    names |= {f"F(occupation)={k}:educ": f"C(occupation)[T.{k}.0]:educ" for k in range(2, 7)}
    names |= {"(Intercept)": "Intercept", "log(yrs_married)": "np.log(yrs_married)"}
    order = rename(fit.names, names)
    np.testing.assert_allclose(fit.params, reference.params[order], rtol=RTOL)
    np.testing.assert_allclose(fit.bse, reference.bse[order], rtol=RTOL)
    np.testing.assert_allclose(fit.pvalues, reference.pvalues[order], rtol=1e-6)
    np.testing.assert_allclose(fit.conf_int(0.1), reference.conf_int(0.1).loc[order], rtol=RTOL)
    np.testing.assert_allclose(fit.cov_params(), reference.cov_params().loc[order, order], rtol=1e-6)
    for name in ("rsquared", "rsquared_adj", "fvalue", "llf", "aic", "bic", "nobs", "df_resid", "df_model"):
        assert getattr(fit, name) == pytest.approx(getattr(reference, name), rel=1e-9), name
    assert fit.f_pvalue == pytest.approx(reference.f_pvalue, rel=1e-6, abs=1e-300)
    assert fit.resid_std_err == pytest.approx(np.sqrt(reference.scale), rel=1e-9)
    assert isinstance(fit.params, pd.Series) and fit.params.index[1] == "F(occupation)=2"


def test_categorical_by_categorical_and_a_reference_level(fair):
    path, frame = fair
    fit = lin_mod("affairs ~ C(religious, Treatment(3))*F(rate_marriage)", path)
    reference = smf.ols("affairs ~ C(religious, Treatment(3))*C(rate_marriage)", frame).fit()
    assert fit.names[1] == "religious=1" and "religious=3" not in fit.names
    assert "religious=1:F(rate_marriage)=2" in fit.names and len(fit.names) == len(reference.params)
    np.testing.assert_allclose(np.sort(fit.params), np.sort(reference.params), rtol=1e-7)
    assert fit.rsquared == pytest.approx(reference.rsquared, rel=1e-9)
    assert fit.llf == pytest.approx(reference.llf, rel=1e-10)


def test_no_intercept_and_numeric_by_factor_slopes(fair):
    path, frame = fair
    fit = lin_mod("affairs ~ educ:F(religious) + age - 1", path)
    reference = smf.ols("affairs ~ educ:C(religious) + age - 1", frame).fit()
    assert fit.names == ("age", "educ:F(religious)=1", "educ:F(religious)=2", "educ:F(religious)=3",
                         "educ:F(religious)=4")  # fmt: skip
    order = ["age"] + [f"educ:C(religious)[{k}.0]" for k in range(1, 5)]
    np.testing.assert_allclose(fit.params, reference.params[order], rtol=RTOL)
    np.testing.assert_allclose(fit.bse, reference.bse[order], rtol=RTOL)
    assert fit.rsquared == pytest.approx(reference.rsquared, rel=1e-9)  # uncentred, as statsmodels


def test_row_selection_transforms_and_pweights_match_wls(fair):
    path, frame = fair
    fit = lin_mod("affairs ~ old + educ", path, transforms={"old": "age > 30", "w": "1 + children"},
                  row_selection="yrs_married >= 2", pweights="w")  # fmt: skip
    chosen = frame[frame.yrs_married >= 2].assign(old=lambda d: (d.age > 30).astype(float))
    reference = smf.wls("affairs ~ old + educ", chosen, weights=1 + chosen.children).fit()
    np.testing.assert_allclose(fit.params, reference.params, rtol=RTOL)
    np.testing.assert_allclose(fit.bse, reference.bse, rtol=RTOL)
    assert (fit.nobs, fit.n_used) == (reference.nobs, len(chosen))
    assert fit.llf == pytest.approx(reference.llf, rel=1e-10)
    assert fit.rsquared == pytest.approx(reference.rsquared, rel=1e-9)


@pytest.fixture(scope="module")
def spector(tmp_path_factory):
    frame = sm.datasets.spector.load_pandas().data
    frame["w"] = np.random.default_rng(3).integers(1, 5, len(frame)).astype(float)
    path = tmp_path_factory.mktemp("data") / "spector"
    write_dataset(path, {c: frame[c].to_numpy() for c in frame.columns}, block_rows=10)
    return path, frame


def _compare_pweights_fit(fit, frame, formula, family):
    """A pweights fit against statsmodels' GLM with ``var_weights`` (same coefficients as
    ``freq_weights``, but ``nobs`` and ``df_resid`` count rows, as RevoScaleR's pweights)."""
    reference = smf.glm(formula, frame, family=family, var_weights=frame.w).fit(tol=1e-12)
    by_frequency = smf.glm(formula, frame, family=family, freq_weights=frame.w).fit(tol=1e-12)
    names = rename(fit.names, {"(Intercept)": "Intercept"})
    np.testing.assert_allclose(fit.params, reference.params[names], rtol=1e-8)
    np.testing.assert_allclose(fit.params, by_frequency.params[names], rtol=1e-8)
    np.testing.assert_allclose(fit.bse, reference.bse[names], rtol=1e-6)  # model-based: (X'WX)^-1
    for name in ("deviance", "null_deviance", "llf", "aic", "df_resid", "nobs"):
        assert getattr(fit, name) == pytest.approx(getattr(reference, name), rel=1e-8), name
    assert fit.nobs == fit.n_used == len(frame)


def test_logit_with_pweights_matches_statsmodels_glm_var_weights(spector):
    path, frame = spector
    fit = logit("GRADE ~ GPA + TUCE + PSI", path, pweights="w", tol=1e-12)
    _compare_pweights_fit(fit, frame, "GRADE ~ GPA + TUCE + PSI", sm.families.Binomial())


def test_poisson_with_pweights_matches_statsmodels_glm_var_weights(tmp_path):
    frame = sm.datasets.randhie.load_pandas().data  # RAND health insurance: doctor visits
    frame["w"] = 1.0 / np.random.default_rng(6).uniform(0.2, 1.0, len(frame))  # 1 / inclusion probability
    write_dataset(tmp_path / "r", {c: frame[c].to_numpy() for c in frame.columns}, block_rows=4_000)
    formula = "mdvis ~ lncoins + idp + lpi + fmde + physlm + disea + hlthg + hlthf + hlthp"
    fit = glm(formula, tmp_path / "r", "poisson", pweights="w", tol=1e-12, blocks_per_read=2)
    _compare_pweights_fit(fit, frame, formula, sm.families.Poisson())


def test_logit_with_interaction_and_frequency_weights_matches_statsmodels_glm(spector):
    path, frame = spector
    fit = logit("GRADE ~ GPA*PSI + TUCE", path, weights="w", map_blocks=map_pickled)
    reference = smf.glm("GRADE ~ GPA*PSI + TUCE", frame, family=sm.families.Binomial(),
                        freq_weights=frame.w).fit(tol=1e-12)  # fmt: skip
    names = rename(fit.names, {"(Intercept)": "Intercept"})
    np.testing.assert_allclose(fit.params, reference.params[names], rtol=1e-6)
    np.testing.assert_allclose(fit.bse, reference.bse[names], rtol=1e-6)
    for name in ("deviance", "null_deviance", "llf", "aic", "df_resid", "df_model"):
        assert getattr(fit, name) == pytest.approx(getattr(reference, name), rel=1e-8), name
    assert fit.nobs == reference.model.wnobs == frame.w.sum()  # frequency weights count as rows
    assert fit.bic == pytest.approx(reference.bic_llf, rel=1e-8)
    assert fit.converged and not fit.uses_t
    # predictions: type, standard errors and confidence limits as statsmodels' summary_frame
    new = frame.iloc[::3]
    frame_ours = fit.predict(new, interval="confidence", alpha=0.1)
    expected = reference.get_prediction(new).summary_frame(alpha=0.1)
    for column in ("mean", "mean_se", "mean_ci_lower", "mean_ci_upper"):
        np.testing.assert_allclose(frame_ours[column], expected[column], rtol=1e-6, err_msg=column)
    link = reference.predict(new, which="linear")
    np.testing.assert_allclose(fit.predict(new, type="link"), link, rtol=1e-7)
    assert isinstance(fit.predict(new), pd.Series)


def test_logit_on_the_cell_path_has_glm_results(spector):
    path, frame = spector
    fit = logit("GRADE ~ GPA + TUCE + PSI", path)  # main effects: the cell kernels' IRLS
    reference = smf.glm("GRADE ~ GPA + TUCE + PSI", frame, family=sm.families.Binomial()).fit(tol=1e-12)
    for name in ("deviance", "null_deviance", "llf", "aic"):
        assert getattr(fit, name) == pytest.approx(getattr(reference, name), rel=1e-8), name


def test_poisson_llf_aic_and_null_deviance(tmp_path):
    frame = sm.datasets.cpunish.load_pandas().data
    frame["region"] = np.where(frame.SOUTH > 0, "south", "other")
    columns = {c: frame[c].to_numpy() for c in frame.columns}
    write_dataset(tmp_path / "c", columns, block_rows=5)
    for formula in ("EXECUTIONS ~ log(INCOME) + PERPOVERTY + region", "EXECUTIONS ~ region"):
        fit = glm(formula, tmp_path / "c", "poisson")
        reference = smf.glm(formula.replace("log(", "np.log("), frame, family=sm.families.Poisson()).fit()
        np.testing.assert_allclose(fit.params, reference.params, rtol=1e-6)
        for name in ("deviance", "null_deviance", "llf", "aic"):
            assert getattr(fit, name) == pytest.approx(getattr(reference, name), rel=1e-8), (formula, name)


def test_lin_mod_predictions_with_intervals_and_into_a_dataset(fair, tmp_path):
    path, frame = fair
    formula = "affairs ~ F(occupation) + educ*age"
    fit = lin_mod(formula, path)
    reference = smf.ols(formula.replace("F(", "C("), frame).fit()
    new = frame.iloc[::50]
    ours = fit.predict(new, interval="prediction", alpha=0.05)
    expected = reference.get_prediction(new).summary_frame(alpha=0.05)
    for column in expected.columns:
        np.testing.assert_allclose(ours[column], expected[column], rtol=1e-8, err_msg=column)
    as_arrays = fit.predict({c: frame[c].to_numpy() for c in frame.columns})
    np.testing.assert_allclose(as_arrays, reference.fittedvalues, rtol=1e-9)
    info = fit.predict(path, out=tmp_path / "scored", map_blocks=map_pickled, se_fit=True)
    assert info.names == ["affairs_Pred", "affairs_StdErr", "affairs"] and info.blocks == 7
    scored = read_dataset(tmp_path / "scored")
    np.testing.assert_allclose(scored["affairs_Pred"], reference.fittedvalues, rtol=1e-9)
    np.testing.assert_array_equal(scored["affairs"], frame["affairs"])
    with pytest.raises(ModelError, match="already exists"):
        fit.predict(path, out=tmp_path / "scored")


def test_summary_repr_and_html(spector, fair):
    path, _ = fair
    fit = lin_mod("affairs ~ F(religious) + educ", path)
    text = fit.summary()
    for piece in ("Linear Regression Results for: affairs ~ F(religious) + educ", "F(religious)=1 ",
                  "Dropped", "Residual standard error:", "Multiple R-squared:", "F-statistic:", "p-value:"):
        assert piece in text, piece
    assert repr(fit).startswith("<Linear regression 'affairs ~ F(religious) + educ': 5 coefficients")
    html = fit._repr_html_()
    assert "<table>" in html and "<td>F(religious)=2</td>" in html and "R-squared" in html
    g = logit("GRADE ~ GPA:PSI", spector[0])
    assert "Null deviance:" in g.summary() and "AIC:" in g.summary() and "Number of iterations" in g.summary()


def test_formula_errors_name_the_term(fair):
    path, _ = fair
    cases = [
        ("affairs ~ foo(age)", "unknown function 'foo' in term 'foo\\(age\\)'"),
        ("affairs ~ log(agee)", "unknown column 'agee'"),
        ("affairs ~ C(religious, Sum)", "only Treatment contrasts"),
        ("affairs ~ C(religious, Treatment(9))", "reference level 9"),
        ("affairs ~ age + educ + I(2*age)", r"singular design: \['I\(2 \* age\)'\]"),
    ]
    for formula, message in cases:
        with pytest.raises(ModelError, match=message):
            lin_mod(formula, path)
    with pytest.raises(ModelError, match="weights= .* or pweights=, not both"):
        logit("affairs ~ age", path, weights="educ", pweights="educ")


def test_kmeans_predict_and_labels_match_scikit_learn(tmp_path):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(2_000, 2)) + rng.integers(0, 3, 2_000)[:, None] * 4.0
    write_dataset(tmp_path / "p", {"a": X[:, 0], "b": X[:, 1]}, block_rows=300)
    fit = kmeans("~ a + b", tmp_path / "p", X[:3], max_iter=100, map_blocks=map_sequential)
    reference = KMeans(3, init=X[:3], n_init=1, algorithm="lloyd", tol=0.0, max_iter=100).fit(X)
    np.testing.assert_allclose(fit.cluster_centers_, reference.cluster_centers_, rtol=1e-9)
    assert fit.inertia_ == pytest.approx(reference.inertia_, rel=1e-9)
    new = pd.DataFrame(rng.normal(size=(50, 2)) * 5, columns=["a", "b"])
    np.testing.assert_array_equal(fit.predict(new), reference.predict(new.to_numpy()))
    info = fit.labels(tmp_path / "labels", map_blocks=map_pickled)
    assert info.names == [".rxCluster"]
    np.testing.assert_array_equal(read_dataset(tmp_path / "labels")[".rxCluster"], reference.labels_)
    assert repr(fit).startswith("<KMeansModel: 3 clusters")


def test_categorical_interactions_are_fitted_exactly_from_the_cells(tmp_path):
    frame = sm.datasets.fair.load_pandas().data
    frame = pd.DataFrame({"affairs": frame.affairs, "any": (frame.affairs > 0).astype(float),
                          "religious": frame.religious.astype(int).astype(str),
                          "rating": frame.rate_marriage.astype(int).astype(str)})  # fmt: skip
    write_dataset(tmp_path / "f", {c: frame[c].to_numpy() for c in frame.columns}, block_rows=1_000)
    passes = []

    def counting(fn, arguments):
        passes.append(fn.__name__)
        return map_sequential(fn, arguments)

    for family, response, sm_family, rtol in (("gaussian", "affairs", sm.families.Gaussian(), 1e-9),
                                              ("binomial", "any", sm.families.Binomial(), 1e-6)):  # fmt: skip
        passes.clear()
        formula = f"{response} ~ religious*C(rating, Treatment('5'))"
        fit = glm(formula, tmp_path / "f", family, map_blocks=counting, tol=1e-12)
        reference = smf.glm(formula.replace("religious", "C(religious)"), frame, family=sm_family)
        reference = reference.fit(tol=1e-13)
        assert passes == ["moments_partial"], passes  # one pass over the data: the cell table
        assert "religious=2:rating=1" in fit.names and "rating=5" not in fit.names
        np.testing.assert_allclose(np.sort(fit.params), np.sort(reference.params), rtol=rtol, atol=1e-12)
        np.testing.assert_allclose(np.sort(fit.bse), np.sort(reference.bse), rtol=rtol)
        for name in ("deviance", "null_deviance", "llf"):
            assert getattr(fit, name) == pytest.approx(getattr(reference, name), rel=1e-9), (family, name)
