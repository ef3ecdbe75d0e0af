"""Predictor-based metrics (so far SAP): reference values, closed form, bad input."""
import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score

import fastdis
from conftest import CASES, grid, load_case
from fastdis.metrics.predictor import squared_correlation


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
    with pytest.raises(TypeError, match="needs numeric factors"):
        fastdis.sap(factors.astype(str), codes)
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


def test_dci_default_drops_the_break_bug():
    factors, codes = load_case("partial")  # Lasso zeroes a code there
    default, survey = fastdis.dci(factors, codes), fastdis.dci(factors, codes, convention="ubisoft")
    assert (default.importance.sum(axis=1) == 0).any()
    assert default.disentanglement != survey.disentanglement
    assert default.completeness == survey.completeness
    assert default.informativeness == survey.informativeness


def test_dci_properties():
    factors = grid((4, 5, 6), repeat=2)
    axis = factors.astype(float)
    r = fastdis.dci(factors, axis)
    assert r.disentanglement == pytest.approx(1.0, abs=1e-6) and r.completeness == pytest.approx(1.0, abs=1e-6)
    assert r.informativeness > 0.9
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))
    rotated = fastdis.dci(factors, (axis / axis.max(axis=0)) @ q)
    assert rotated.disentanglement < 0.6 and rotated.completeness < 0.6
    assert rotated.informativeness > 0.8
    perm = fastdis.dci(factors, axis[:, [2, 0, 1]])
    assert perm.disentanglement == pytest.approx(r.disentanglement, abs=1e-9)
    np.testing.assert_allclose(perm.importance, r.importance[[2, 0, 1]], atol=1e-12)
    assert "DCIResult(disentanglement=" in repr(r)


def test_dci_bad_input():
    factors, codes = grid((3, 4), repeat=5), np.random.default_rng(0).normal(size=(60, 2))
    with pytest.raises(ValueError, match="estimator must be one of 'lasso'"):
        fastdis.dci(factors, codes, estimator="svm")
    with pytest.raises(ValueError, match="at least 2 factors and 2 codes"):
        fastdis.dci(factors[:, :1], codes)
    with pytest.raises(TypeError, match="dci needs numeric factors"):
        fastdis.dci(factors.astype(str), codes)
