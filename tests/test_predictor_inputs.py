"""Predictor metrics (SAP, Explicitness, DCI) on inputs at the edges: codes at extreme
scales, labels that are not numbers, factors that look continuous, random_state forms."""
import numpy as np
import pytest

import fastdis
from fastdis.metrics._boosting import BoostedTrees

SCALES = [1e-310, 1e-200, 1e155, 1e300]


def _data(n=500, seed=0):
    """Three discrete factors, each read (with noise) by one code, plus a noise code."""
    rng = np.random.default_rng(seed)
    factors = rng.integers(0, 4, size=(n, 3))
    codes = np.column_stack([factors + 0.3 * rng.normal(size=(n, 3)), rng.normal(size=n)])
    return factors, codes


def _sap_reference(factors, codes):
    """SAP (regression) from its definition: S_kj = squared Pearson correlation, the mean
    over factors of the gap between the two largest S_kj."""
    k, j = factors.shape[1], codes.shape[1]
    s = np.array([[np.corrcoef(factors[:, a], codes[:, b])[0, 1] ** 2 for b in range(j)]
                  for a in range(k)])
    top = np.sort(s, axis=1)
    return float(np.mean(top[:, -1] - top[:, -2]))


# --- 2b: scale ------------------------------------------------------------------------

@pytest.mark.parametrize("scale", SCALES)
def test_sap_regression_at_any_scale(scale):
    factors, codes = _data()
    expected = _sap_reference(factors, codes)
    assert expected > 0.5
    assert fastdis.sap(factors, codes * scale) == pytest.approx(expected, abs=1e-9)
    # the factors' own scale does not matter either
    assert fastdis.sap(factors * scale, codes) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("convention", [None, "dlib"])
def test_explicitness_at_any_scale(scale, convention):
    """Both conventions scale the codes first (min-max / standardisation): invariant."""
    factors, codes = _data()
    base = fastdis.explicitness(factors, codes, convention=convention, random_state=0)
    got = fastdis.explicitness(factors, codes * scale, convention=convention, random_state=0)
    assert np.isfinite(got) and got == pytest.approx(base, abs=1e-6)


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("convention", [None, "dlib"])
def test_dci_at_any_scale(scale, convention):
    """Lasso on min-max scaled codes and factors; gradient boosting's trees on raw codes
    (dlib): both invariant to the scale of the codes."""
    factors, codes = _data()
    base = fastdis.dci(factors, codes, convention=convention, random_state=0)
    got = fastdis.dci(factors, codes * scale, convention=convention, random_state=0)
    for part in ("disentanglement", "completeness", "informativeness"):
        assert getattr(got, part) == pytest.approx(getattr(base, part), abs=1e-6), part


@pytest.mark.parametrize("scale", SCALES)
def test_dci_regressor_factors_at_any_scale(scale):
    """Factors are min-max scaled for regressors: their scale does not matter."""
    factors, codes = _data()
    base = fastdis.dci(factors, codes, random_state=0)
    got = fastdis.dci(factors * scale, codes, random_state=0)
    assert got.informativeness == pytest.approx(base.informativeness, abs=1e-6)
    assert got.disentanglement == pytest.approx(base.disentanglement, abs=1e-6)


def test_codes_spanning_the_whole_float64_range():
    """max - min beyond the float64 maximum: the scalings still see two distinct codes."""
    factors, codes = _data()
    centred = codes - codes.mean(axis=0)
    wide = centred / np.abs(centred).max(axis=0) * 1.7e308  # ranges up to 3.4e308
    with np.errstate(over="ignore"):
        assert np.isinf(wide.max(axis=0) - wide.min(axis=0)).all()
    assert fastdis.sap(factors, wide) == pytest.approx(_sap_reference(factors, codes), abs=1e-9)
    base = fastdis.dci(factors, codes, random_state=0)
    assert fastdis.dci(factors, wide, random_state=0).disentanglement == pytest.approx(
        base.disentanglement, abs=1e-6)


# --- 2c: labels that are not numbers ----------------------------------------------------

def _labels(factors):
    """Strings in the same order as the integers (np.unique sorts them alike)."""
    return np.array(["a", "b", "c", "d"])[factors]


def test_sap_labels_choose_classification():
    factors, codes = _data()
    value, details = fastdis.sap(_labels(factors), codes, random_state=3, return_details=True)
    assert details["mode"] == "classification"
    assert value == fastdis.sap(factors, codes, mode="classification", random_state=3)
    assert fastdis.sap(factors, codes, return_details=True)[1]["mode"] == "regression"
    with pytest.raises(TypeError, match="needs numeric factors.*mode='classification'"):
        fastdis.sap(_labels(factors), codes, convention="ubisoft")


def test_dci_labels_choose_a_classifier():
    factors, codes = _data()
    r = fastdis.dci(_labels(factors), codes, random_state=2)
    assert r.estimator == "gradient_boosting (accuracy)"
    same = fastdis.dci(factors, codes, estimator="gradient_boosting", random_state=2)
    np.testing.assert_array_equal(r.importance, same.importance)
    assert r.informativeness == same.informativeness and np.isfinite(r.disentanglement)
    categories = _labels(factors).astype(object)  # pandas categories arrive as objects
    assert fastdis.dci(categories, codes, random_state=2).informativeness == r.informativeness
    with pytest.raises(TypeError, match="estimator='random_forest'.*numeric factors"):
        fastdis.dci(_labels(factors), codes, estimator="random_forest")


def test_explicitness_takes_labels():
    factors, codes = _data()
    assert fastdis.explicitness(_labels(factors), codes, random_state=1) == \
        fastdis.explicitness(factors, codes, random_state=1)


# --- 4a: factors that look continuous ---------------------------------------------------

def test_classifiers_refuse_continuous_factors():
    """A factor with more values than half the fitting rows: one model per value would take
    minutes; the error comes before any fit and names the way out."""
    factors, codes = _data(n=400)
    continuous = factors.astype(float)
    continuous[:, 1] = np.random.default_rng(5).normal(size=400)
    with pytest.raises(ValueError, match="column 1 has 320 distinct values in 320 fitting "
                                         "rows: it looks continuous.*factor_bins"):
        fastdis.explicitness(continuous, codes, random_state=0)
    with pytest.raises(ValueError, match="sap: factors column 1 .* looks continuous.*"
                                         "mode='regression'"):
        fastdis.sap(continuous, codes, mode="classification", random_state=0)
    with pytest.raises(ValueError, match="gradient_boosting.*column 1 .* looks continuous.*"
                                         "estimator='lasso'"):
        fastdis.dci(continuous, codes, estimator="gradient_boosting", random_state=0)
    # binned, or through a regressor, it is fine
    assert np.isfinite(fastdis.explicitness(continuous, codes, factor_bins=5, random_state=0))
    assert np.isfinite(fastdis.dci(continuous, codes, random_state=0).informativeness)
    assert np.isfinite(fastdis.sap(continuous, codes))


# --- 4c: random_state ---------------------------------------------------------------------

CALLS = {
    "sap": lambda f, c, rs: fastdis.sap(f, c, convention="dlib", random_state=rs),
    "explicitness": lambda f, c, rs: fastdis.explicitness(f, c, random_state=rs),
    "dci": lambda f, c, rs: fastdis.dci(f, c, random_state=rs).informativeness,
    "dci_gbt": lambda f, c, rs: fastdis.dci(f, c, estimator="gradient_boosting",
                                            random_state=rs).informativeness,
}


@pytest.mark.parametrize("metric", CALLS)
def test_random_state_forms(metric):
    factors, codes = _data(n=300)
    call = CALLS[metric]
    for make in (np.random.default_rng, np.random.RandomState):
        a, b = call(factors, codes, make(4)), call(factors, codes, make(4))
        assert np.isfinite(a) and a == b  # one draw from equal generators: the same seed
    assert np.isfinite(call(factors, codes, 2**32 - 1))
    for bad in (-1, 2**32):
        with pytest.raises(ValueError, match="random_state must be an integer in"):
            call(factors, codes, bad)
    with pytest.raises(TypeError, match="random_state must be None, an integer"):
        call(factors, codes, 1.5)


def test_boosted_trees_random_state_forms():
    factors, codes = _data(n=200)
    y = factors[:, 0]
    a = BoostedTrees(n_estimators=5, random_state=np.random.default_rng(1)).fit(codes, y)
    b = BoostedTrees(n_estimators=5, random_state=np.random.default_rng(1)).fit(codes, y)
    np.testing.assert_array_equal(a.feature_importances_, b.feature_importances_)
    with pytest.raises(ValueError, match="random_state"):
        BoostedTrees(random_state=-1).fit(codes, y)


@pytest.mark.parametrize("kind", ["bytes", "object ints", "str", "category codes as float"])
def test_sap_classification_takes_every_kind_of_label(kind):
    """scikit-learn refuses bytes labels and integers in an object column; SAP's classes
    are the sorted distinct labels whatever their kind, so every kind gives the value of the
    integer labels."""
    rng = np.random.default_rng(7)
    factors = rng.integers(0, 3, size=(600, 2))
    codes = factors + 0.4 * rng.normal(size=(600, 2))
    labels = {"bytes": factors.astype("S1"), "object ints": factors.astype(object),
              "str": factors.astype(str), "category codes as float": factors * 1.5}[kind]
    expected = fastdis.sap(factors, codes, random_state=0, mode="classification")
    assert fastdis.sap(labels, codes, random_state=0, mode="classification") == expected


@pytest.mark.parametrize("seed", [0, 7, 2**32 - 1])
def test_legacy_permutation_is_randomstates(seed):
    """The C replay of RandomState.permutation (disentanglement_lib's split): the same
    rows for any length (around the Mersenne Twister's 624-word refills too), however the
    binding cuts the shuffle into calls, and the generator left where numpy leaves it."""
    from fastdis import _kernels
    ours, theirs = np.random.RandomState(seed), np.random.RandomState(seed)
    for n in [0, 1, 2, 3, 623, 624, 625, 1249, 5000, 2**16 + 3]:
        got, want = _kernels.legacy_permutation(ours, n), theirs.permutation(n)
        assert got.dtype == want.dtype and np.array_equal(got, want)
    previous = _kernels.set_chunk_cells(100)  # calls of 100 swaps
    try:
        assert np.array_equal(_kernels.legacy_permutation(ours, 12345), theirs.permutation(12345))
    finally:
        _kernels.set_chunk_cells(previous)
    assert ours.random() == theirs.random()
    # split_rows's draw for the conventions: the permutation, then choice(replace=False)
    from fastdis.metrics._fitting import split_rows
    n = 30000
    fit_rows, eval_rows = split_rows(n, 0.9, 10000, 2000, seed, "explicitness", "dlib")
    rows = np.random.RandomState(seed).permutation(n)
    picker = np.random.RandomState(seed)
    assert np.array_equal(fit_rows, np.sort(picker.choice(rows[:27000], 10000, replace=False)))
    assert np.array_equal(eval_rows, np.sort(picker.choice(rows[27000:], 2000, replace=False)))


def test_legacy_permutation_bad_input():
    from fastdis import _kernels
    with pytest.raises(TypeError, match="random_state must be a numpy RandomState"):
        _kernels.legacy_permutation(np.random.default_rng(0), 10)
    with pytest.raises(ValueError, match="n must be >= 0"):
        _kernels.legacy_permutation(np.random.RandomState(0), -1)
