"""scikit-learn's GradientBoostingClassifier() model, fitted by fastdis's C kernel.

disentanglement_lib's DCI fits ``GradientBoostingClassifier()`` per factor: 100 stages of
depth-3 squared-error trees on the log loss's negative gradient, learning rate 0.1, every
feature searched at every node, one Newton step per leaf. :class:`BoostedTrees` fits that
same model (csrc/boosting.c): the codes' sort order is computed once instead of at every
node of every tree, and the trees of a stage (one per class) grow in parallel, those of
several models (dci's factors, :func:`fit_boosted`) in one team of threads. Tests
check it against scikit-learn's fit (same trees, importances and predictions to rounding).

Where several codes offer splits of equal quality (often in small nodes, where several
codes cut off the same rows), both take the first in a random order of the codes:
scikit-learn's drawn from its ``random_state`` (disentanglement_lib leaves it unseeded),
fastdis's from ``random_state``; the two streams differ, so such ties can go to different
codes (the rows each tree separates, and so the predictions, stay the same).
"""
import numpy as np

from .. import _kernels
from .._random import check_random_state


def _sorted_columns(x):
    """(order, values) of each column of float32 ``x`` sorted ascending, each (d, n): the
    kernel's presorted input."""
    order = np.ascontiguousarray(np.argsort(x, axis=0, kind="stable").T, dtype=np.int32)
    return order, np.ascontiguousarray(np.take_along_axis(x, order.T, axis=0).T)


class BoostedTrees:
    """Gradient-boosted classification trees, as ``GradientBoostingClassifier`` with its
    defaults (``n_estimators=100, learning_rate=0.1, max_depth=3``).

    Parameters
    ----------
    n_estimators : int, default=100
        Boosting stages.
    learning_rate : float, default=0.1
        Shrinkage of each tree's leaf values.
    max_depth : int, default=3
        Depth of the trees (1 to 16).
    random_state : None, int, numpy Generator or RandomState, default=0
        Seeds the order in which codes are tried (which of equally good splits is kept):
        an integer in [0, 2**32), a generator (one draw), or None for fresh entropy.
    n_threads : int, default=0
        Threads for the trees of a stage (0: all available). Results do not depend on it.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    feature_importances_ : ndarray of shape (n_features,)
        Impurity importance, as scikit-learn's: each tree's total weighted impurity
        decrease per feature, averaged over the trees that split, normalised to sum 1.
    """

    def __init__(self, n_estimators=100, learning_rate=0.1, max_depth=3, random_state=0,
                 n_threads=0):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.random_state = random_state
        self.n_threads = n_threads

    def _init_raw(self, n_rows):
        return np.tile(self.init_raw_, (n_rows, 1))

    def fit(self, x, y):
        """Fit on codes ``x`` (n_samples, n_features) and labels ``y`` (n_samples,)."""
        return fit_boosted(x, [y], [self])[0]

    def _start(self, labels):
        """Check the settings, set ``classes_`` and scikit-learn's init (the class priors,
        clipped, through the loss's link); returns (integer labels, seed)."""
        if not 1 <= self.max_depth <= 16:
            raise ValueError(f"max_depth must be in [1, 16], got {self.max_depth}")
        seed = check_random_state(self.random_state)
        self.classes_, labels = np.unique(np.asarray(labels), return_inverse=True)
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError("BoostedTrees needs at least two classes")
        eps = np.finfo(np.float64).eps
        prior = np.clip(np.bincount(labels, minlength=n_classes) / len(labels), eps, 1 - eps)
        if n_classes == 2:
            self.init_raw_ = np.log(prior[1:] / (1 - prior[1:]))
        else:
            self.init_raw_ = np.log(prior / np.exp(np.mean(np.log(prior))))
        return labels.astype(np.int32), seed

    def _finish(self, x_in, raw, trees):
        (self.feature_, self.threshold_, self.value_, importance) = trees
        # the fit's own raw predictions of its rows (equal to replaying the trees, tested):
        # scoring the training rows (the same array object, unchanged: dci's use) then
        # needs no second pass through 1,000 trees
        self._fitted_rows = (x_in, raw)
        split = self.feature_[:, 0] >= 0  # scikit-learn averages over trees that split
        if split.any():
            mean = importance[split].mean(axis=0)
            self.feature_importances_ = mean / mean.sum()
        else:
            self.feature_importances_ = np.zeros(importance.shape[1])

    def decision_function(self, x):
        """Raw predictions: (n_samples,) for two classes, else (n_samples, n_classes)."""
        rows, fitted = self._fitted_rows
        if x is rows:
            raw = fitted.copy()
        else:
            x = np.ascontiguousarray(x, dtype=np.float32)
            raw = self._init_raw(x.shape[0])
            _kernels.gbt_predict(x, self.feature_, self.threshold_, self.value_, raw.shape[1],
                                 self.max_depth, float(self.learning_rate), raw, self.n_threads)
        return raw[:, 0] if len(self.classes_) == 2 else raw

    def predict(self, x):
        """The class of largest raw prediction."""
        raw = self.decision_function(x)
        index = (raw >= 0).astype(int) if raw.ndim == 1 else np.argmax(raw, axis=1)
        return self.classes_[index]


def fit_boosted(x, ys, models):
    """Fit each unfitted :class:`BoostedTrees` of ``models`` on codes ``x`` and its labels
    in ``ys``, all in one kernel call: the codes are sorted once, and the trees of every
    model share one team of threads (``models[0].n_threads``), so a thread that finishes
    its piece takes one of any model instead of waiting for the others (dci fits one model
    per factor this way). The models must share ``n_estimators``, ``learning_rate`` and
    ``max_depth``. Returns ``models``, fitted."""
    first = models[0]
    if any((m.n_estimators, m.learning_rate, m.max_depth) !=
           (first.n_estimators, first.learning_rate, first.max_depth) for m in models):
        raise ValueError("fit_boosted's models must share n_estimators, learning_rate and "
                         "max_depth")
    x_in = x
    # the trees see float32 features, as scikit-learn's do
    with np.errstate(over="ignore"):
        x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"x must be a 2-D array, got {x.ndim}-D")
    if not np.isfinite(x).all():
        raise ValueError("codes hold values beyond float32's range (about 3.4e38): "
                         "gradient boosting's trees compare float32 values, as "
                         "scikit-learn's do; rescale the codes")
    starts = [m._start(y) for m, y in zip(models, ys)]
    raws = [m._init_raw(x.shape[0]) for m in models]
    order, sorted_x = _sorted_columns(x)
    trees = _kernels.gbt_fit(sorted_x, order, [labels for labels, _ in starts],
                             [len(m.classes_) for m in models], [seed for _, seed in starts],
                             raws, first.n_estimators, float(first.learning_rate),
                             first.max_depth, first.n_threads)
    for m, raw, t in zip(models, raws, trees):
        m._finish(x_in, raw, t)
    return models

