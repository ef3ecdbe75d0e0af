"""fastdis's gradient boosting kernel (BoostedTrees, dci(estimator="gradient_boosting")):
scikit-learn's GradientBoostingClassifier model, any thread count."""
import numpy as np
import pytest

import fastdis


def _boosting_case(seed, n_classes, n=400, d=5):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    x = rng.normal(size=(n, d)) + 0.8 * y[:, None] * rng.normal(size=d)
    x_test = rng.normal(size=(100, d)) + 0.8 * rng.integers(0, n_classes, 100)[:, None]
    return x, y, x_test


# Data seeds whose trees have no tied splits: when several codes cut a node's rows equally
# well (or two cuts tie exactly, as boosting's few distinct gradient values allow),
# scikit-learn keeps the first in its random feature order, fastdis in its own, and the
# models differ as scikit-learn's own fits with two random_states do.
@pytest.mark.parametrize("seed, n_classes", [(0, 2), (4, 2), (5, 3), (2, 5), (6, 5), (3, 10)])
def test_boosted_trees_are_sklearns_gradient_boosting(seed, n_classes):
    """fastdis's presorted boosting fits scikit-learn's GradientBoostingClassifier model:
    the same trees (predictions on new rows) and importances, to rounding."""
    from sklearn.ensemble import GradientBoostingClassifier

    from fastdis.metrics._boosting import BoostedTrees

    x, y, x_test = _boosting_case(seed, n_classes)
    ref = GradientBoostingClassifier(n_estimators=15, max_depth=2, random_state=0).fit(x, y)
    ours = BoostedTrees(n_estimators=15, max_depth=2).fit(x, y)
    for rows in (x, x_test):
        np.testing.assert_allclose(ours.decision_function(rows), ref.decision_function(rows),
                                   rtol=0, atol=1e-12)
        np.testing.assert_array_equal(ours.predict(rows), ref.predict(rows))
    np.testing.assert_allclose(ours.feature_importances_, ref.feature_importances_, atol=1e-12)


def test_boosted_trees_depth_3_on_dlib_sized_data():
    """disentanglement_lib's setting (depth 3, 10 classes, 10 codes): the trees cut the
    training rows as scikit-learn's do, stage after stage."""
    from sklearn.ensemble import GradientBoostingClassifier

    from fastdis.metrics._boosting import BoostedTrees

    x, y, _ = _boosting_case(1, 10, n=2000, d=10)
    ref = GradientBoostingClassifier(n_estimators=8, random_state=0).fit(x, y)
    ours = BoostedTrees(n_estimators=8).fit(x, y)
    np.testing.assert_allclose(ours.decision_function(x), ref.decision_function(x), atol=1e-12)
    np.testing.assert_allclose(ours.feature_importances_, ref.feature_importances_, atol=1e-3)


def test_boosted_trees_threads_and_consistency():
    """The same trees whatever the thread count; the raw predictions kept while fitting equal
    those of the stored trees; labels of any type; clear errors."""
    from fastdis import _kernels
    from fastdis.metrics._boosting import BoostedTrees, _sorted_columns

    x, y, x_test = _boosting_case(7, 4, n=300)
    labels = np.array(["a", "b", "c", "d"])[y]
    fits = [BoostedTrees(n_estimators=12, random_state=3, n_threads=t).fit(x, labels)
            for t in (1, 2, 3)]
    for other in fits[1:]:
        np.testing.assert_array_equal(other.value_, fits[0].value_)
        np.testing.assert_array_equal(other.feature_importances_, fits[0].feature_importances_)
        np.testing.assert_array_equal(other.decision_function(x_test),
                                      fits[0].decision_function(x_test))
    assert set(fits[0].predict(x_test)) <= set(labels)
    # the kernel's own running raw predictions == replaying the stored trees
    model = fits[0]
    x32 = np.ascontiguousarray(x, dtype=np.float32)
    order, sorted_x = _sorted_columns(x32)
    raw = model._init_raw(len(x))
    _kernels.gbt_fit(sorted_x, order, [y.astype(np.int32)], [4], [3], [raw], 12, 0.1, 3, 1)
    np.testing.assert_array_equal(raw, model.decision_function(x.copy()))  # replayed
    np.testing.assert_array_equal(raw, model.decision_function(x))  # kept from the fit
    with pytest.raises(ValueError, match="two classes"):
        BoostedTrees().fit(x, np.zeros(len(x)))
    with pytest.raises(ValueError, match="max_depth"):
        BoostedTrees(max_depth=0).fit(x, y)
    huge = x.copy()
    huge[3, 1] = 1e300
    with pytest.raises(ValueError, match="float32"):
        BoostedTrees().fit(huge, y)


def test_dci_gradient_boosting_two_class_factors_in_parallel():
    """Factors of two classes (one tree per stage) are fitted side by side: the same result
    for any thread count."""
    rng = np.random.default_rng(12)
    factors = rng.integers(0, 2, size=(600, 3))
    codes = factors @ rng.normal(size=(3, 4)) + rng.normal(size=(600, 4))
    runs = [fastdis.dci(factors, codes, convention="dlib", random_state=1, n_threads=t)
            for t in (1, 2)]
    np.testing.assert_array_equal(runs[0].importance, runs[1].importance)
    assert runs[0].informativeness == runs[1].informativeness > 0.6


def test_models_fitted_together_equal_models_fitted_alone():
    """fit_boosted grows several models (dci's factors) in one team of threads, handing out
    whichever tree is ready: each model is bit for bit the model fitted alone, for any
    thread count and whatever its company (two-class models have one tree per stage)."""
    from fastdis.metrics._boosting import BoostedTrees, fit_boosted

    rng = np.random.default_rng(21)
    x = rng.normal(size=(500, 6))
    ys = [rng.integers(0, 4, 500), rng.integers(0, 2, 500), (x[:, 0] > 0) + 2 * (x[:, 1] > 0.5)]

    def model(seed, threads):
        return BoostedTrees(n_estimators=7, random_state=seed, n_threads=threads)

    alone = [model(s, 1).fit(x, y) for s, y in zip((3, 4, 5), ys)]
    for threads in (1, 2, 3):
        together = fit_boosted(x, ys, [model(s, threads) for s in (3, 4, 5)])
        for a, b in zip(alone, together):
            np.testing.assert_array_equal(a.feature_, b.feature_)
            np.testing.assert_array_equal(a.threshold_, b.threshold_)
            np.testing.assert_array_equal(a.value_, b.value_)
            np.testing.assert_array_equal(a.feature_importances_, b.feature_importances_)
            np.testing.assert_array_equal(a.decision_function(x), b.decision_function(x))
    with pytest.raises(ValueError, match="share n_estimators"):
        fit_boosted(x, ys[:2], [model(0, 1), BoostedTrees(n_estimators=3)])


def test_gbt_fit_binding_checks_its_model_lists():
    """The kernel binding of several models: one labels / n_classes / seed / raw per model,
    labels within their classes; errors name what is wrong."""
    from fastdis import _kernels
    from fastdis.metrics._boosting import _sorted_columns

    x, y, _ = _boosting_case(8, 3, n=50)
    order, sorted_x = _sorted_columns(np.ascontiguousarray(x, dtype=np.float32))
    y = y.astype(np.int32)
    with pytest.raises(ValueError, match="one n_classes, seed and raw per model"):
        _kernels.gbt_fit(sorted_x, order, [y, y], [3], [0], [np.zeros((50, 3))], 2, 0.1, 2, 1)
    with pytest.raises(ValueError, match=r"labels in \[0, 2\)"):
        _kernels.gbt_fit(sorted_x, order, [y], [2], [0], [np.zeros((50, 1))], 2, 0.1, 2, 1)
    with pytest.raises(ValueError, match="raw"):
        _kernels.gbt_fit(sorted_x, order, [y], [3], [0], [np.zeros((50, 1))], 2, 0.1, 2, 1)
    with pytest.raises(ValueError, match="n_classes >= 2"):
        _kernels.gbt_fit(sorted_x, order, [y * 0], [1], [0], [np.zeros((50, 1))], 2, 0.1, 2, 1)
