"""Predictor-based metrics (SAP, Explicitness, DCI): reference values, closed forms,
properties, bad input."""
import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score

import fastdis
from conftest import CASES, grid, load_case
from fastdis.metrics._sap import squared_correlation


@pytest.mark.parametrize("case", CASES)
def test_sap_matches_survey_code(reference, case):
    factors, codes = load_case(case)
    expected = reference[case]["ubisoft"]["sap"]
    assert expected["call"] == "sap(factors, codes)"
    assert fastdis.sap(factors, codes, convention="ubisoft") == pytest.approx(expected["value"], abs=1e-9)
    assert fastdis.sap(factors, codes) == fastdis.sap(factors, codes, convention="ubisoft")


@pytest.mark.parametrize("case", CASES)
def test_sap_matches_dlib_seed_by_seed(reference, case):
    """Same seeded split as disentanglement_lib: the same value for every seed."""
    factors, codes = load_case(case)
    expected = reference[case]["dlib"]["sap_array.SAP_score"]["values"]
    got = [fastdis.sap(factors, codes, convention="dlib", random_state=seed) for seed in range(5)]
    np.testing.assert_allclose(got, expected, atol=1e-9)


def test_closed_form_equals_the_estimator():
    """r^2 from moment sums == LinearRegression + r2_score, the survey code's procedure."""
    rng = np.random.default_rng(0)
    factors = rng.integers(0, 6, size=(5000, 3)).astype(float) + 1e6  # large offset
    codes = np.column_stack([factors[:, 0] * 0.3 + rng.normal(size=5000), rng.normal(size=5000),
                             np.tanh(factors[:, 2] - 1e6), np.full(5000, 2.0)])
    r2 = squared_correlation(factors, codes)
    for k in range(3):
        for j in range(4):
            x = codes[:, j:j + 1]
            pred = LinearRegression().fit(x, factors[:, k]).predict(x)
            assert r2[k, j] == pytest.approx(max(0.0, r2_score(factors[:, k], pred)), abs=1e-9)


def test_sap_properties():
    factors = grid((3, 4, 5), repeat=4)
    rng = np.random.default_rng(1)
    assert fastdis.sap(factors, factors.astype(float)) == pytest.approx(1.0)
    codes = factors + rng.normal(0, 0.5, size=factors.shape)
    base = fastdis.sap(factors, codes)
    assert fastdis.sap(factors, codes * [1e-3, 10.0, 7.0] + 5) == pytest.approx(base, abs=1e-12)
    assert fastdis.sap(factors[:, ::-1], codes[:, ::-1]) == pytest.approx(base, abs=1e-12)
    noise = rng.normal(size=(len(factors), 3))
    assert fastdis.sap(factors, noise) < 0.05
    a = fastdis.sap(factors, codes, convention="dlib", random_state=3, n_threads=1)
    assert fastdis.sap(factors, codes, convention="dlib", random_state=3, n_threads=2) == a


def test_sap_bad_input():
    factors, codes = grid((3, 4), repeat=5), np.random.default_rng(0).normal(size=(60, 2))
    with pytest.raises(ValueError, match="mode must be one of 'regression', 'classification'"):
        fastdis.sap(factors, codes, mode="trees")
    with pytest.raises(ValueError, match=r"train_fraction must be in \(0, 1\)"):
        fastdis.sap(factors, codes, mode="classification", train_fraction=1.0)
    with pytest.raises(TypeError, match="needs numeric factors.*mode='classification'"):
        fastdis.sap(factors.astype(str), codes, mode="regression")
    assert 0 <= fastdis.sap(factors.astype(str), codes, mode="classification", random_state=0) <= 1
    codes[3, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or infinity in column 1"):
        fastdis.sap(factors, codes)
    with pytest.raises(ValueError, match="disent"):
        fastdis.sap(factors, codes, convention="disent")


# --- explicitness ----------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES)
def test_explicitness_matches_survey_code(reference, case):
    factors, codes = load_case(case)
    expected = reference[case]["ubisoft"]["explicitness"]
    assert expected["call"] == "explicitness(factors, codes)"
    assert fastdis.explicitness(factors, codes, convention="ubisoft") == pytest.approx(
        expected["value"], abs=1e-4)


@pytest.mark.parametrize("case", CASES)
def test_explicitness_matches_dlib_seed_by_seed(reference, case):
    factors, codes = load_case(case)
    entry = reference[case]["dlib"]["explicitness_array.explicitness_score_test"]
    expected = entry.get("values", [entry.get("value")] * 5)
    got = [fastdis.explicitness(factors, codes, convention="dlib", random_state=s) for s in range(5)]
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_explicitness_properties():
    factors = grid((3, 4, 5), repeat=6)
    rng = np.random.default_rng(2)
    # one-hot codes make every value linearly separable from the others: AUC 1
    one_hot = np.column_stack([factors[:, k] == v for k in range(3) for v in range(factors[:, k].max() + 1)])
    assert fastdis.explicitness(factors, one_hot + rng.uniform(0, 0.1, size=one_hot.shape),
                                random_state=0) == pytest.approx(1.0, abs=1e-9)
    # a value per code is explicit too, but a linear one-vs-rest model cannot isolate the
    # middle values of a code: high, not 1
    perfect = factors + rng.uniform(0, 0.1, size=factors.shape)
    assert 0.85 < fastdis.explicitness(factors, perfect, random_state=0) < 1
    noise = rng.normal(size=(len(factors), 3))
    assert abs(fastdis.explicitness(factors, noise, random_state=0)) < 0.15
    base = fastdis.explicitness(factors, perfect, random_state=1)
    assert fastdis.explicitness(factors, perfect[:, ::-1], random_state=1) == pytest.approx(base, abs=1e-6)
    assert fastdis.explicitness(factors, perfect, random_state=1) == base  # reproducible


def test_explicitness_survives_values_missing_from_the_test_rows():
    """disentanglement_lib crashes when a factor value is absent from its test split."""
    rng = np.random.default_rng(3)
    factors = np.column_stack([np.r_[np.zeros(300, int), np.ones(300, int), [2, 2]],
                               rng.integers(0, 3, 602)])
    codes = factors + rng.normal(0, 0.3, size=factors.shape)
    value, details = fastdis.explicitness(factors, codes, random_state=0, return_details=True)
    assert np.isfinite(value) and np.isfinite(details["per_factor"]).all()


def test_explicitness_bad_input():
    factors, codes = grid((3, 4), repeat=5), np.random.default_rng(0).normal(size=(60, 2))
    with pytest.raises(ValueError, match=r"train_fraction must be in \(0, 1\) or False"):
        fastdis.explicitness(factors, codes, train_fraction=1.5)
    factors[:, 1] = 7
    with pytest.raises(ValueError, match="factors column 1 has a single value"):
        fastdis.explicitness(factors, codes)


def test_explicitness_subsamples_large_inputs():
    factors = grid((3, 4), repeat=100)
    codes = factors + np.random.default_rng(4).normal(0, 0.3, size=factors.shape)
    value, details = fastdis.explicitness(factors, codes, random_state=0, max_train=200,
                                          max_test=100, return_details=True)
    assert (details["n_train"], details["n_test"]) == (200, 100) and 0 < value <= 1
    _, full = fastdis.explicitness(factors, codes, random_state=0, max_train=False,
                                   max_test=False, return_details=True)
    assert (full["n_train"], full["n_test"]) == (960, 240)


# --- DCI -----------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES)
def test_dci_lasso_matches_survey_code(reference, case):
    factors, codes = load_case(case)
    result = fastdis.dci(factors, codes, convention="ubisoft")
    for part in ("disentanglement", "completeness", "informativeness"):
        expected = reference[case]["ubisoft"][f"dci_lasso.{part}"]
        assert expected["call"] == "dci(factors, codes, model='lasso')"
        assert getattr(result, part) == pytest.approx(expected["value"], abs=1e-6), part
    assert result.importance.shape == (codes.shape[1], factors.shape[1])


def test_dci_break_bug_only_in_the_survey_convention(reference):
    """The survey's `break` on an all-zero code (Lasso zeroes code 3 of "partial")."""
    from fastdis.metrics._dci import _aggregate

    factors, codes = load_case("partial")
    survey = fastdis.dci(factors, codes, convention="ubisoft")
    assert survey.importance[3].sum() == 0 and survey.importance[4].sum() > 0
    d_break, c_break = _aggregate(survey.importance, "survey", reference_break=True)
    d_fixed, c_fixed = _aggregate(survey.importance, "survey", reference_break=False)
    assert d_break == pytest.approx(reference["partial"]["ubisoft"]["dci_lasso.disentanglement"]["value"], abs=1e-9)
    assert d_fixed == pytest.approx(0.683857, abs=1e-6) and c_fixed == c_break
    # without the break, the last code counts: weight 0.05/3.49 and its own D_j
    default = fastdis.dci(factors, codes, train_fraction=False, max_train=False, random_state=0)
    assert default.n_train == default.n_test == len(factors)


@pytest.mark.parametrize("case, seed", [("axis_aligned", 0), ("entangled", 3)])
def test_dci_gradient_boosting_matches_dlib(reference, case, seed):
    """disentanglement_lib's _compute_dci on the same seeded 90/10 split. Its trees draw
    their feature order from numpy's global RNG (it matters: zero-gain splits are ties),
    fastdis's from per-factor seeds, so values agree within the spread over seeds."""
    factors, codes = load_case(case)
    r = fastdis.dci(factors, codes, convention="dlib", random_state=seed)
    ref = reference[case]["dlib"]
    assert r.estimator == "gradient_boosting (accuracy)"
    assert r.n_train == int(np.ceil(0.9 * len(factors)))
    for part, key in (("disentanglement", "disentanglement"), ("completeness", "completeness"),
                      ("informativeness", "informativeness_test"),
                      ("informativeness_train", "informativeness_train")):
        entry = ref[f"dci_array.{key}"]
        assert abs(getattr(r, part) - entry["values"][seed]) <= 3 * entry["std"], part


@pytest.mark.slow
def test_dci_random_forest_within_the_survey_spread(reference):
    """The survey's forests draw from numpy's global RNG (and scikit-learn 0.23): fastdis's
    seeded forests land within the spread of its values over five seeds."""
    factors, codes = load_case("axis_aligned")
    r = fastdis.dci(factors, codes, convention="ubisoft", estimator="random_forest", random_state=0)
    for part in ("disentanglement", "completeness", "informativeness"):
        ref = reference["axis_aligned"]["ubisoft"][f"dci_rf.{part}"]
        assert abs(getattr(r, part) - ref["mean"]) <= 3 * ref["std"] + 1e-3, part


def test_dci_hist_gradient_boosting_close_to_dlib(reference):
    """The fast option: accuracy within 0.02 of disentanglement_lib's gradient boosting on
    the same split, D and C within 0.06 (a gain importance, not the impurity one)."""
    factors, codes = load_case("sampled")
    r = fastdis.dci(factors, codes, convention="dlib", estimator="hist_gradient_boosting",
                    random_state=0)
    ref = reference["sampled"]["dlib"]
    assert r.informativeness == pytest.approx(ref["dci_array.informativeness_test"]["values"][0], abs=0.02)
    assert r.disentanglement == pytest.approx(ref["dci_array.disentanglement"]["values"][0], abs=0.06)
    assert r.completeness == pytest.approx(ref["dci_array.completeness"]["values"][0], abs=0.06)
    assert r.importance.sum(axis=0) == pytest.approx(np.ones(4))


def _aligned(n=600, seed=0):
    """Three factors, each read by one code (plus noise), and one pure-noise code."""
    rng = np.random.default_rng(seed)
    factors = rng.integers(0, 5, size=(n, 3))
    codes = np.column_stack([factors + 0.05 * rng.normal(size=(n, 3)), rng.normal(size=n)])
    return factors, codes


@pytest.mark.parametrize("estimator", ["lasso", "hist_gradient_boosting", "gradient_boosting"])
def test_dci_properties(estimator):
    factors, codes = _aligned()
    r = fastdis.dci(factors, codes, estimator=estimator, random_state=0)
    assert r.disentanglement > 0.9 and r.completeness > 0.9 and r.informativeness > 0.9
    assert r.importance[3].sum() < 0.05 * r.importance.sum()  # the noise code
    q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))
    rotated = fastdis.dci(factors, codes[:, :3] @ q, estimator=estimator, random_state=0)
    assert rotated.disentanglement < 0.6 and rotated.completeness < 0.6
    assert rotated.informativeness > 0.8
    order = [2, 0, 3, 1]
    perm = fastdis.dci(factors, codes[:, order], estimator=estimator, random_state=0)
    assert perm.disentanglement == pytest.approx(r.disentanglement, abs=0.02)
    assert perm.informativeness == pytest.approx(r.informativeness, abs=0.02)


def test_dci_lasso_exact_properties():
    factors = grid((4, 5, 6), repeat=2)
    axis = factors.astype(float)
    r = fastdis.dci(factors, axis, random_state=0)
    assert r.disentanglement == pytest.approx(1.0, abs=1e-6) and r.completeness == pytest.approx(1.0, abs=1e-6)
    assert r.informativeness > 0.9
    perm = fastdis.dci(factors, axis[:, [2, 0, 1]], random_state=0)
    assert perm.disentanglement == pytest.approx(r.disentanglement, abs=1e-9)
    np.testing.assert_allclose(perm.importance, r.importance[[2, 0, 1]], atol=1e-12)
    assert "DCIResult(disentanglement=" in repr(r) and "n_train=192" in repr(r)
    assert r.to_dict()["n_test"] == 48


@pytest.mark.parametrize("estimator", ["lasso", "gradient_boosting", "hist_gradient_boosting"])
def test_dci_is_reproducible_and_thread_invariant(estimator):
    factors, codes = _aligned(300)
    one = fastdis.dci(factors, codes, estimator=estimator, random_state=7, n_threads=1)
    two = fastdis.dci(factors, codes, estimator=estimator, random_state=7, n_threads=2)
    np.testing.assert_array_equal(one.importance, two.importance)
    assert one.informativeness == two.informativeness


def test_dci_user_estimators():
    from sklearn.ensemble import ExtraTreesRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.neighbors import KNeighborsRegressor

    factors, codes = _aligned(300)
    ridge = fastdis.dci(factors, codes, estimator=Ridge(alpha=1e-3), random_state=0)
    assert ridge.estimator == "Ridge (1 - 12 MSE)" and ridge.disentanglement > 0.9
    logistic = fastdis.dci(factors, codes, estimator=LogisticRegression(C=1e3), random_state=0)
    assert logistic.estimator == "LogisticRegression (accuracy)" and logistic.informativeness > 0.9
    assert logistic.importance.shape == (4, 3)
    # an unseeded estimator is seeded from random_state, never from numpy's global RNG
    trees = ExtraTreesRegressor(n_estimators=5)
    np.random.seed(1)
    a = fastdis.dci(factors, codes, estimator=trees, random_state=3)
    np.random.seed(2)
    b = fastdis.dci(factors, codes, estimator=trees, random_state=3)
    np.testing.assert_array_equal(a.importance, b.importance)
    assert trees.get_params()["random_state"] is None  # the user's object is untouched
    with pytest.raises(TypeError, match="neither feature_importances_ nor coef_"):
        fastdis.dci(factors, codes, estimator=KNeighborsRegressor(), random_state=0)


def test_dci_subsamples_large_inputs():
    rng = np.random.default_rng(0)
    factors = rng.integers(0, 3, size=(30000, 2))
    codes = factors + 0.1 * rng.normal(size=(30000, 2))
    r = fastdis.dci(factors, codes, random_state=0)
    assert (r.n_train, r.n_test) == (10000, 5000)
    r = fastdis.dci(factors, codes, random_state=0, max_train=500, max_test=200)
    assert (r.n_train, r.n_test) == (500, 200)


def test_dci_classifiers_take_label_factors():
    factors, codes = _aligned(300)
    labels = np.array(["a", "b", "c", "d", "e"])[factors]
    r = fastdis.dci(labels, codes, estimator="hist_gradient_boosting", random_state=0)
    assert r.informativeness > 0.9


def test_dci_bad_input():
    factors, codes = grid((3, 4), repeat=5), np.random.default_rng(0).normal(size=(60, 2))
    with pytest.raises(ValueError, match="estimator must be one of 'lasso'"):
        fastdis.dci(factors, codes, estimator="svm")
    with pytest.raises(TypeError, match="estimator must be one of .* or a scikit-learn estimator"):
        fastdis.dci(factors, codes, estimator=42)
    with pytest.raises(ValueError, match="at least 2 factors and 2 codes"):
        fastdis.dci(factors[:, :1], codes)
    with pytest.raises(TypeError, match="estimator='lasso'.* needs numeric factors.*"
                                        "estimator='gradient_boosting'"):
        fastdis.dci(factors.astype(str), codes, estimator="lasso")
    constant = factors.copy()
    constant[:, 1] = 7
    with pytest.raises(ValueError, match="factors column 1 has a single value"):
        fastdis.dci(constant, codes)
    with pytest.raises(ValueError, match="needs at least 10 fitting rows"):
        fastdis.dci(factors[:10], codes[:10], random_state=0)
    with pytest.raises(ValueError, match="4 rows are too few for a 90% / 10% train/test split"):
        fastdis.dci(factors[:4], codes[:4], estimator="gradient_boosting", train_fraction=0.9)
    with pytest.raises(ValueError, match="max_train must be"):
        fastdis.dci(factors, codes, max_train=0)
    with pytest.raises(ValueError, match=r"train_fraction must be in \(0, 1\) or False, got 0"):
        fastdis.dci(factors, codes, train_fraction=0)
    with pytest.raises(ValueError, match="convention must be"):
        fastdis.dci(factors, codes, convention="disent")


def test_progress_bar_is_optional(monkeypatch):
    import sys

    from fastdis._progress import progress_bar

    monkeypatch.setitem(sys.modules, "tqdm", None)  # as if tqdm were not installed
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with progress_bar(3, "x", progress=True) as bar:
        bar.update()
    assert type(bar).__name__ == "_Silent"
    assert type(progress_bar(3, "x", progress=None)).__name__ == "_Silent"  # stderr is no tty here
    factors, codes = _aligned(200)
    assert fastdis.dci(factors, codes, random_state=0, progress=True).n_train == 160


@pytest.mark.parametrize("convention", [None, "dlib"])
def test_explicitness_and_sap_are_thread_invariant(convention):
    factors, codes = _aligned(400)
    one = fastdis.explicitness(factors, codes, convention=convention, random_state=3, n_threads=1)
    two = fastdis.explicitness(factors, codes, convention=convention, random_state=3, n_threads=2)
    assert one == two
    kw = dict(mode="classification", random_state=3)
    assert fastdis.sap(factors, codes, n_threads=1, **kw) == fastdis.sap(factors, codes, n_threads=2, **kw)


def test_sap_classification_caps_rows():
    rng = np.random.default_rng(0)
    factors = rng.integers(0, 3, size=(20000, 2))
    codes = factors + 0.3 * rng.normal(size=(20000, 2))
    _, details = fastdis.sap(factors, codes, convention="dlib", random_state=0, return_details=True)
    assert (details["n_train"], details["n_test"]) == (10000, 2000)
    _, details = fastdis.sap(factors, codes, convention="dlib", random_state=0, max_train=300,
                             max_test=100, return_details=True)
    assert (details["n_train"], details["n_test"]) == (300, 100)
