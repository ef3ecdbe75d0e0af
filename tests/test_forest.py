"""fastdis's random forest kernel (RegressionForest, dci(estimator="random_forest")):
scikit-learn's RandomForestRegressor model with fastdis's random stream."""
import numpy as np
import pytest

import fastdis
from fastdis.metrics._forest import RegressionForest, select_shape


def _regression_case(seed, n, d, quantised=False):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    if quantised:  # many equal values: ties inside every column
        x = np.round(x * 2) / 2
    y = 2 * x[:, 0] + (x[:, -1] > 0.3) + rng.normal(size=n)
    return x, y, rng.normal(size=(300, d))


def _tree(**kw):
    from sklearn.tree import DecisionTreeRegressor

    return DecisionTreeRegressor(random_state=0, **kw)


@pytest.mark.parametrize("seed, n, d, quantised", [(0, 400, 1, False), (1, 3000, 1, True),
                                                   (2, 1500, 1, False)])
def test_unrandomised_tree_of_one_code_is_sklearns(seed, n, d, quantised):
    """bootstrap=False, every code tried: nothing is random, and with one code no two
    codes can tie, so the tree grown to purity is scikit-learn's DecisionTreeRegressor
    (predictions on new rows, importances) to rounding."""
    x, y, x_new = _regression_case(seed, n, d, quantised)
    ours = RegressionForest(1, None, 1.0, False).fit(x, y)
    ref = _tree().fit(x, y)
    assert ours.n_nodes_[0] == ref.tree_.node_count
    np.testing.assert_allclose(ours.predict(x_new), ref.predict(x_new), rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.predict(x), ref.predict(x), rtol=0, atol=1e-12)


@pytest.mark.parametrize("depth", [1, 3, 6])
@pytest.mark.parametrize("seed, n, d", [(3, 2000, 6), (4, 5000, 10)])
def test_tree_truncated_at_a_depth_is_sklearns_tree_of_that_depth(seed, n, d, depth):
    """The first levels of the tree grown to purity are scikit-learn's tree of that
    max_depth, and so is a tree grown with that max_depth: predictions to rounding
    (continuous targets: no tied splits that shallow for these seeds).  Importances to
    rounding down to depth 3; deeper, a node may split off one extreme row that is
    extreme in two codes too, a tie that each implementation gives to another code."""
    x, y, x_new = _regression_case(seed, n, d)
    full = RegressionForest(1, None, 1.0, False).fit(x, y)
    shallow = RegressionForest(1, depth, 1.0, False).fit(x, y)
    ref = _tree(max_depth=depth).fit(x, y)
    np.testing.assert_allclose(full.predict(x_new, depth), ref.predict(x_new), atol=1e-12)
    np.testing.assert_allclose(shallow.predict(x_new), ref.predict(x_new), atol=1e-12)
    np.testing.assert_allclose(full.predict_depths(x_new, [depth])[0], ref.predict(x_new),
                               atol=1e-12)
    np.testing.assert_allclose(shallow.feature_importances_, ref.feature_importances_,
                               atol=1e-12 if depth <= 3 else 2e-3)
    assert shallow.n_nodes_[0] == ref.tree_.node_count


def test_constant_codes_are_drawn_past_as_sklearn():
    """Codes constant in a node count as visited but are no split: drawing goes on until
    a non-constant one is found, so with one informative code among constant ones and
    max_features=1 the tree is the one scikit-learn grows (deterministic here)."""
    rng = np.random.default_rng(5)
    x = np.zeros((600, 5))
    x[:, 3] = rng.normal(size=600)
    y = np.sin(3 * x[:, 3]) + 0.1 * rng.normal(size=600)
    ours = RegressionForest(1, 7, 1, False, random_state=9).fit(x, y)
    ref = _tree(max_depth=7, max_features=1).fit(x, y)
    np.testing.assert_allclose(ours.predict(x), ref.predict(x), atol=1e-12)
    np.testing.assert_array_equal(ours.feature_importances_, [0, 0, 0, 1, 0])


def test_degenerate_targets_and_separable_rows():
    """One target value: a single leaf, zero importances; two separable groups: one split;
    max_features is max(1, int(fraction * codes)), as scikit-learn."""
    x, _, x_new = _regression_case(6, 200, 3)
    one = RegressionForest(3, None, 0.5).fit(x, np.full(200, 2.5))
    assert (one.n_nodes_ == 1).all()
    np.testing.assert_array_equal(one.predict(x_new), 2.5)
    np.testing.assert_array_equal(one.feature_importances_, 0.0)
    y = (x[:, 1] > 0).astype(float)
    two = RegressionForest(1, None, 1.0, False).fit(x, y)
    assert two.n_nodes_[0] == 3
    np.testing.assert_array_equal(two.predict(x), y)
    assert RegressionForest(max_features=0.2)._n_features(3) == 1
    assert RegressionForest(max_features=0.4)._n_features(10) == 4
    with pytest.raises(ValueError, match="max_features"):
        RegressionForest(max_features=1.5).fit(x, y)
    with pytest.raises(ValueError, match="max_depth"):
        RegressionForest(max_depth=0).fit(x, y)
    with pytest.raises(ValueError, match="one value per row"):
        RegressionForest().fit(x, y[:-1])


def test_forest_threads_and_chunks_give_the_same_trees():
    """Each tree has its own generator: any thread count grows the same forest."""
    x, y, x_new = _regression_case(7, 1200, 5, quantised=True)
    fits = [RegressionForest(12, 16, 0.4, True, 3, t).fit(x, y) for t in (1, 2, 3)]
    for other in fits[1:]:
        np.testing.assert_array_equal(other.value_, fits[0].value_)
        np.testing.assert_array_equal(other.predict(x_new), fits[0].predict(x_new))
        np.testing.assert_array_equal(other.feature_importances_, fits[0].feature_importances_)
    assert not np.array_equal(RegressionForest(12, 16, 0.4, True, 4).fit(x, y).value_,
                              fits[0].value_)


def test_forest_is_sklearns_model_within_its_seed_spread():
    """Bootstrap and codes drawn per node from another stream: over seeds, the test error
    and the importances of fastdis's forests lie within scikit-learn's own spread."""
    from sklearn.ensemble import RandomForestRegressor

    x, y, _ = _regression_case(8, 1500, 6)
    x_test, y_test = x[1000:], y[1000:]
    x, y = x[:1000], y[:1000]

    def runs(make):
        mse, imp = [], []
        for seed in range(8):
            model = make(seed).fit(x, y)
            mse.append(np.mean((model.predict(x_test) - y_test) ** 2))
            imp.append(model.feature_importances_)
        return np.array(mse), np.array(imp)

    ref_mse, ref_imp = runs(lambda s: RandomForestRegressor(10, max_depth=16,
                                                            max_features=0.4, random_state=s))
    our_mse, our_imp = runs(lambda s: RegressionForest(10, 16, 0.4, True, s))
    assert abs(our_mse.mean() - ref_mse.mean()) < 3 * ref_mse.std() + 1e-3
    spread = ref_imp.std(axis=0) + our_imp.std(axis=0)
    assert (np.abs(our_imp.mean(axis=0) - ref_imp.mean(axis=0)) < 3 * spread + 1e-3).all()


def test_select_shape_matches_the_survey_loop():
    """select_shape's errors per shape equal those of forests grown at each shape (the
    depth of a shape reached by truncating one deep forest)."""
    from sklearn.model_selection import KFold

    x, y, _ = _regression_case(9, 400, 4)
    grid = [(depth, f) for depth in (2, 4, 64) for f in (0.5, 1.0)]
    splits = list(KFold(5).split(x))
    best = select_shape(grid, x, y, splits, 3, 1)
    mses = []
    for depth, f in grid:
        err = [np.mean((RegressionForest(10, depth, f, True, 3).fit(x[tr], y[tr])
                        .predict(x[te]) - y[te]) ** 2) for tr, te in splits]
        mses.append(np.mean(err))
    assert best == grid[int(np.argmin(mses))]


def test_dci_random_forest_threads_and_values():
    """dci with the forests: any thread count gives the same result, close to the
    factors' structure (codes 0 and 1 carry factors 0 and 1)."""
    rng = np.random.default_rng(10)
    factors = rng.integers(0, 5, size=(300, 2))
    codes = np.column_stack([factors + 0.1 * rng.normal(size=(300, 2)), rng.normal(size=300)])
    runs = [fastdis.dci(factors, codes, convention="ubisoft", estimator="random_forest",
                        random_state=2, n_threads=t) for t in (1, 2)]
    np.testing.assert_array_equal(runs[0].importance, runs[1].importance)
    assert runs[0].disentanglement == runs[1].disentanglement > 0.8
    assert runs[0].informativeness > 0.9


def test_forest_bindings_check_arrays():
    """The kernel bindings refuse wrong arrays and inconsistent trees with errors naming
    them (never a read outside the arrays)."""
    from fastdis import _kernels
    from fastdis.metrics._forest import _presorted

    x, y, _ = _regression_case(11, 50, 3)
    x32 = np.ascontiguousarray(x, dtype=np.float32)
    order, xs = _presorted(x32)
    trees = _kernels.forest_fit(xs, order, y, 2, 2, 5, True, 0, 1)
    feature, threshold, left, right, value = trees[:5]
    with pytest.raises(TypeError, match="y"):
        _kernels.forest_fit(xs, order, y.astype(np.float32), 2, 2, 5, True, 0, 1)
    with pytest.raises(ValueError, match="order"):
        _kernels.forest_fit(xs, order[:, :-1], y, 2, 2, 5, True, 0, 1)
    with pytest.raises(ValueError, match="max_features"):
        _kernels.forest_fit(xs, order, y, 2, 4, 5, True, 0, 1)
    with pytest.raises(ValueError, match="finite"):
        _kernels.forest_fit(xs, order, y * np.nan, 2, 2, 5, True, 0, 1)
    loop = left.copy()
    loop[0, 0] = 0  # a child that is its own parent: a walk that never ends
    with pytest.raises(ValueError, match="later nodes"):
        _kernels.forest_predict(x32, feature, threshold, loop, right, value, [9], 1)
    bad = feature.copy()
    bad[0, 0] = 3
    with pytest.raises(ValueError, match="columns of x"):
        _kernels.forest_predict(x32, bad, threshold, left, right, value, [9], 1)
    with pytest.raises(TypeError, match="value"):
        _kernels.forest_predict(x32, feature, threshold, left, right, value.tolist(), [9], 1)
    with pytest.raises(ValueError, match="depths"):
        _kernels.forest_predict(x32, feature, threshold, left, right, value, [-1], 1)


def test_predictions_at_several_depths_in_one_walk():
    """predict_depths walks each tree once for every cap, in any order of the caps: the
    same values as one prediction per depth (each a sum over the trees in order)."""
    x, y, x_new = _regression_case(12, 700, 4)
    forest = RegressionForest(6, None, 0.5, True, 1).fit(x, y)
    depths = [6, 2, 64, 0, 6]
    both = forest.predict_depths(x_new, depths)
    for row, depth in zip(both, depths):
        np.testing.assert_array_equal(row, forest.predict(x_new, depth))
    np.testing.assert_allclose(both[3], forest.value_[:, 0].mean())  # depth 0: the roots
