"""DCI's predictors: one fit per factor, and the importance of each code read from it.

Every fit runs under :mod:`fastdis._threads`'s budget: ``inner`` is the number of threads
the fit may use. scikit-learn's ``Parallel`` (a user's forest) runs only in the caller's
thread (see :mod:`fastdis._threads`). The Lasso is fitted by :mod:`fastdis.metrics._lasso`,
the survey's forests by :mod:`fastdis.metrics._forest`, gradient boosting by
:mod:`fastdis.metrics._boosting`.
"""
import numpy as np

from .._threads import checkpoint, limit_threads

ESTIMATORS = ("lasso", "random_forest", "gradient_boosting", "hist_gradient_boosting")
CLASSIFIERS = ("gradient_boosting", "hist_gradient_boosting")
_FOREST_GRID = [(depth, features) for depth in (8, 16, 32, 64, 128)
                for features in (0.2, 0.4, 0.8, 1.0)]
# dlib's GradientBoostingClassifier() has 100 depth-3 trees with learning rate 0.1; on
# histograms, 50 such trees with rate 0.2 (the same total step) score the same (accuracy
# within 1e-3 on the benchmark data) in half the time
_HIST_GBT = dict(max_depth=3, max_leaf_nodes=8, learning_rate=0.2, max_iter=50,
                 early_stopping=False)


def _hist_gain(model, n_codes):
    """Total split gain of each code over every tree of a fitted HistGradientBoosting model:
    the histogram counterpart of the impurity importance of gradient boosting."""
    gain = np.zeros(n_codes)
    for stage in model._predictors:
        for tree in stage:
            split = tree.nodes["is_leaf"] == 0
            np.add.at(gain, tree.nodes["feature_idx"][split], tree.nodes["gain"][split])
    total = gain.sum()
    return gain / total if total > 0 else gain


def _cv_folds(s, seed):
    """The survey's 10 unshuffled folds, or 10 shuffled by ``seed`` (fastdis's default)."""
    from sklearn.model_selection import KFold

    return KFold(10, shuffle=True, random_state=seed) if s["shuffle_cv"] else KFold(10)


def _fitted(model, x, y):
    """``model.fit(x, y)``, then predictions on one thread: threaded predictions of a
    forest add up the trees in the order they finish, so their last bits would vary."""
    model.fit(x, y)
    if getattr(model, "n_jobs", None) not in (None, 1):
        model.set_params(n_jobs=1)
    return model


def serial(name):
    """Whether the factors of ``name`` are fitted one after the other, each fit with the
    whole budget (estimators with threads of their own, or that may call scikit-learn's
    Parallel), rather than side by side."""
    return not isinstance(name, str) or name == "hist_gradient_boosting"


def _capped_jobs(model, inner):
    """Cap an estimator's ``n_jobs`` at the budget; returns the joblib workers it will use."""
    params = model.get_params()
    jobs = params.get("n_jobs")
    if jobs is None:
        return 1
    if jobs < 0 or jobs > inner:
        model.set_params(n_jobs=inner)
        return inner
    return jobs


def fit_boosted_factors(x, ys, seeds, n_threads):
    """disentanglement_lib's ``GradientBoostingClassifier()`` for each factor's labels in
    ``ys``, all in one kernel call on ``n_threads`` threads (codes sorted once; a thread
    never waits on one factor's stage while another factor has trees to grow); returns
    [(fitted model, importance of each code)] per factor."""
    from ._boosting import BoostedTrees, fit_boosted

    models = fit_boosted(x, ys, [BoostedTrees(random_state=int(seed), n_threads=n_threads)
                                 for seed in seeds])
    return [(model, model.feature_importances_) for model in models]


def fit_factor(name, x, y, s, seed, inner=1):
    """Fit the predictor of one factor; returns (fitted model, importance of each code).
    ``inner``: threads this fit may use (see :mod:`fastdis._threads`). The Lasso is not
    fitted here: :mod:`fastdis.metrics._lasso` fits it from the rows' moments."""
    from sklearn.base import clone

    if name == "random_forest":
        from ._forest import RegressionForest, select_shape

        splits = list(_cv_folds(s, seed).split(x))  # the folds cross_val_score would use
        shape = select_shape(_FOREST_GRID, x, y, splits, seed, inner)
        checkpoint()
        model = RegressionForest(10, shape[0], shape[1], True, seed, inner).fit(x, y)
        return model, model.feature_importances_
    if name == "gradient_boosting":
        return fit_boosted_factors(x, [y], [seed], inner)[0]
    if name == "hist_gradient_boosting":
        from sklearn.ensemble import HistGradientBoostingClassifier

        # its OpenMP pool: limited to `inner` in this thread by parallel_map
        model = HistGradientBoostingClassifier(random_state=seed, **_HIST_GBT).fit(x, y)
        return model, _hist_gain(model, x.shape[1])
    model = clone(name)
    params = model.get_params()
    if "random_state" in params and params["random_state"] is None:
        model.set_params(random_state=seed)  # never numpy's global RNG
    jobs = _capped_jobs(model, inner) if "n_jobs" in params else 1
    with limit_threads(max(1, inner // jobs)):
        _fitted(model, x, y)
    if hasattr(model, "feature_importances_"):
        return model, np.asarray(model.feature_importances_, dtype=np.float64)
    if hasattr(model, "coef_"):
        coef = np.abs(np.asarray(model.coef_, dtype=np.float64))
        return model, coef.reshape(-1, x.shape[1]).mean(axis=0)
    raise TypeError(f"estimator {type(model).__name__} exposes neither feature_importances_ "
                    "nor coef_ after fitting: dci cannot read code importances from it")
