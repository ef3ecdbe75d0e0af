"""scikit-learn's GradientBoostingClassifier, with the trees of each stage fitted in parallel.

Within one boosting stage the trees of the classes are independent: each fits its
class's column of the stage's negative gradient and then updates only that column of the
raw predictions. scikit-learn fits them one after the other; here they go to a shared
thread pool (tree building releases the GIL), so the trees of several factors and classes
keep every core busy. Each tree draws exactly one integer from the estimator's
RandomState when it is built; giving tree k a copy of that RandomState advanced by k
draws reproduces the sequential fit bit for bit. A self-check against scikit-learn's own
fit, run once, guards that assumption: if it fails (a future scikit-learn), the plain
sequential classifier is used.
"""
import threading

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier

_RAND_R_MAX = 0x7FFFFFFF  # the tree splitter's randint(0, RAND_R_MAX)
_CHECKED = {}
_LOCK = threading.Lock()


class StageParallelGBC(GradientBoostingClassifier):
    """GradientBoostingClassifier whose per-stage trees run on ``executor``."""

    executor = None  # a concurrent.futures executor, set by the caller

    def _fit_stage(self, i, X, y, raw_predictions, sample_weight, sample_mask, random_state,
                   X_csc=None, X_csr=None):
        if (self.executor is None or X_csc is not None or X_csr is not None
                or self.subsample < 1.0 or not self._loss.is_multiclass):
            return super()._fit_stage(i, X, y, raw_predictions, sample_weight, sample_mask,
                                      random_state, X_csc, X_csr)
        from sklearn.ensemble._gb import _update_terminal_regions
        from sklearn.tree import DecisionTreeRegressor

        neg_gradient = -self._loss.gradient(y_true=y, raw_prediction=raw_predictions,
                                            sample_weight=None)
        streams = []
        for _ in range(self.n_trees_per_iteration_):
            stream = np.random.RandomState()
            stream.set_state(random_state.get_state())
            streams.append(stream)
            random_state.randint(0, _RAND_R_MAX)  # the draw this tree makes

        def fit_tree(k):
            tree = DecisionTreeRegressor(
                criterion="squared_error", splitter="best", max_depth=self.max_depth,
                min_samples_split=self.min_samples_split, min_samples_leaf=self.min_samples_leaf,
                min_weight_fraction_leaf=self.min_weight_fraction_leaf,
                min_impurity_decrease=self.min_impurity_decrease, max_features=self.max_features,
                max_leaf_nodes=self.max_leaf_nodes, random_state=streams[k],
                ccp_alpha=self.ccp_alpha)
            tree.fit(X, neg_gradient[:, k], sample_weight=sample_weight, check_input=False)
            # writes column k of raw_predictions only
            _update_terminal_regions(self._loss, tree.tree_, X, np.array(y == k, dtype=np.float64),
                                     neg_gradient[:, k], raw_predictions, sample_weight,
                                     sample_mask, learning_rate=self.learning_rate, k=k)
            return tree

        for k, tree in enumerate(self.executor.map(fit_tree, range(self.n_trees_per_iteration_))):
            self.estimators_[i, k] = tree
        return raw_predictions


def _self_check(executor):
    """True when the stage-parallel fit equals scikit-learn's on a small problem."""
    rng = np.random.RandomState(0)
    x = rng.normal(size=(120, 4))
    x[:, 1] = x[:, 0]  # exact ties between two features: the trees' RNG decides, visibly
    y = (x[:, 0] * 3 + rng.normal(size=120)).round().clip(-2, 2).astype(int)
    kw = dict(n_estimators=4, random_state=1)
    try:
        model = StageParallelGBC(**kw)
        model.executor = executor
        model.fit(x, y)
        reference = GradientBoostingClassifier(**kw).fit(x, y)
    except Exception:  # noqa: BLE001 - any change of scikit-learn's internals
        return False
    return bool(np.array_equal(model.feature_importances_, reference.feature_importances_)
                and np.array_equal(model.decision_function(x), reference.decision_function(x)))


def gradient_boosting(random_state, executor):
    """disentanglement_lib's ``GradientBoostingClassifier()`` (seeded), whose trees run on
    ``executor`` when that gives the same model as scikit-learn's sequential fit."""
    import sklearn

    if executor is None:
        return GradientBoostingClassifier(random_state=random_state)
    with _LOCK:  # the check must run with a real pool: without one it proves nothing
        if sklearn.__version__ not in _CHECKED:
            _CHECKED[sklearn.__version__] = _self_check(executor)
        parallel = _CHECKED[sklearn.__version__]
    if not parallel:
        return GradientBoostingClassifier(random_state=random_state)
    model = StageParallelGBC(random_state=random_state)
    model.executor = executor
    return model
