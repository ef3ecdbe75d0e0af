"""The survey's random forests (RandomForestRegressor), fitted by fastdis's C kernel.

The survey's DCI (``dci(model="random_forest")``) picks a forest shape by 10-fold
cross-validation over a grid of 5 depths x 4 ``max_features`` fractions, each forest of
10 trees: 2,000 trees per factor, each sorting its rows at every node.
:class:`RegressionForest` grows the same model (csrc/forest.c): squared-error CART trees on
bootstrap samples (the counts as weights), the best split among ``max(1, int(max_features
* n_codes))`` codes drawn per node, ``min_samples_leaf=1``, from codes sorted once. Its
trees are numbered level by level, so one forest grown to the largest depth also predicts
as the forests of every smaller depth grown from the same draws (:func:`select_shape`):
400 trees per factor instead of 2,000.

How it differs from scikit-learn's: the random draws (the bootstrap rows and the codes
tried at each node) come from fastdis's generator, keyed by the tree, not from
scikit-learn's ``RandomState`` stream; so a forest is the same model as scikit-learn's
with another seed, and its values vary within scikit-learn's own spread over seeds. With
``bootstrap=False`` and ``max_features=1.0`` nothing is random and the trees are
scikit-learn's ``DecisionTreeRegressor`` trees (up to which of equally good splits is
kept). Sums are accumulated in another order, so values agree to rounding.
"""
import numpy as np

from .. import _kernels
from .._threads import checkpoint


def _presorted(x):
    """(order, values) of each column of float32 ``x`` sorted ascending, each (d, n)."""
    order = np.ascontiguousarray(np.argsort(x, axis=0, kind="stable").T, dtype=np.int32)
    return order, np.ascontiguousarray(np.take_along_axis(x, order.T, axis=0).T)


def _as_float32(x):
    with np.errstate(over="ignore"):
        x = np.ascontiguousarray(x, dtype=np.float32)
    if not np.isfinite(x).all():
        raise ValueError("codes hold values beyond float32's range (about 3.4e38): the "
                         "forest's trees compare float32 values, as scikit-learn's do; "
                         "rescale the codes")
    return x


class RegressionForest:
    """``RandomForestRegressor(n_estimators, max_depth, max_features, bootstrap)``'s model.

    Parameters
    ----------
    n_estimators : int, default=10
    max_depth : int or None, default=None
        None: grown until the leaves are pure (or one row).
    max_features : float in (0, 1] or int, default=1.0
        Codes drawn per node: ``max(1, int(max_features * n_codes))`` for a float, as
        scikit-learn.
    bootstrap : bool, default=True
    random_state : int, default=0
        Seeds the bootstrap samples and the codes drawn per node (fastdis's stream).
    n_threads : int, default=0
        Threads for the trees (0: all available). Results do not depend on it.

    Attributes
    ----------
    feature_importances_ : ndarray of shape (n_codes,)
        scikit-learn's: each tree's impurity decrease per code, normalised to sum 1,
        averaged over the trees that split, normalised again.
    """

    def __init__(self, n_estimators=10, max_depth=None, max_features=1.0, bootstrap=True,
                 random_state=0, n_threads=0):
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.max_features = max_features
        self.bootstrap = bootstrap
        self.random_state = random_state
        self.n_threads = n_threads

    def _n_features(self, d):
        f = self.max_features
        if isinstance(f, (int, np.integer)) and not isinstance(f, bool):
            if not 1 <= f <= d:
                raise ValueError(f"max_features must be in [1, {d}], got {f}")
            return int(f)
        if not 0.0 < f <= 1.0:
            raise ValueError(f"max_features must be an int or a float in (0, 1], got {f}")
        return max(1, int(f * d))

    def fit(self, x, y, presorted=None):
        """Fit on codes ``x`` (n_samples, n_codes) and targets ``y`` (n_samples,);
        ``presorted``: ``_presorted(float32 x)`` if the caller has it."""
        x = _as_float32(x)
        y = np.ascontiguousarray(y, dtype=np.float64)
        if y.shape != (x.shape[0],):
            raise ValueError(f"y must have one value per row of x, got shape {y.shape}")
        depth = self.max_depth
        if depth is None:
            depth = np.iinfo(np.int32).max
        elif depth < 1:
            raise ValueError(f"max_depth must be None or >= 1, got {depth}")
        order, xs = _presorted(x) if presorted is None else presorted
        (self.feature_, self.threshold_, self.left_, self.right_, self.value_, self.n_nodes_,
         importance) = _kernels.forest_fit(xs, order, y, self.n_estimators,
                                           self._n_features(x.shape[1]), int(depth),
                                           bool(self.bootstrap), int(self.random_state),
                                           self.n_threads)
        grown = self.n_nodes_ > 1  # scikit-learn averages over the trees that split
        self.feature_importances_ = np.zeros(x.shape[1])
        if grown.any():
            per_tree = importance[grown] / importance[grown].sum(axis=1, keepdims=True)
            mean = per_tree.mean(axis=0)
            self.feature_importances_ = mean / mean.sum()
        return self

    def predict(self, x, max_depth=None):
        """The forest's prediction; ``max_depth``: that of the forest grown no deeper than
        this from the same draws (its trees' first levels)."""
        depth = np.iinfo(np.int32).max if max_depth is None else max_depth
        return self.predict_depths(x, [depth])[0]

    def predict_depths(self, x, depths):
        """(len(depths), n_samples): :meth:`predict` at each depth, in one pass."""
        return _kernels.forest_predict(_as_float32(x), self.feature_, self.threshold_,
                                       self.left_, self.right_, self.value_, depths,
                                       self.n_threads)


def select_shape(grid, x, y, splits, seed, n_threads):
    """The (max_depth, max_features) of ``grid`` with the lowest mean test MSE over the
    folds ``splits`` (the first on ties), as the survey's ``cross_val_score`` loop: per
    fold and features fraction one forest grown to the largest depth of the grid predicts
    for every depth."""
    depths = sorted({depth for depth, _ in grid})
    fractions = sorted({features for _, features in grid})
    x = _as_float32(x)
    mse = {shape: [] for shape in grid}
    for train, test in splits:
        checkpoint()  # between fits: an abandoned call stops here
        presorted = _presorted(x[train])
        for features in fractions:
            forest = RegressionForest(10, max(depths), features, True, seed, n_threads)
            forest.fit(x[train], y[train], presorted)
            for depth, pred in zip(depths, forest.predict_depths(x[test], depths)):
                if (depth, features) in mse:
                    mse[depth, features].append(float(np.mean((y[test] - pred) ** 2)))
    best, best_mse = grid[0], np.inf
    for shape in grid:
        m = float(np.mean(mse[shape]))
        if m < best_mse:
            best, best_mse = shape, m
    return best
