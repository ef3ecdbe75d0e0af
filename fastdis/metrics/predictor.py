"""Predictor-based disentanglement metrics (Carbonneau et al. 2023, section 4.2).

SAP, Explicitness and DCI on scikit-learn estimators. The estimators are scikit-learn's;
fastdis adds closed forms where they exist (SAP's regression scores), seeded splits and
subsamples, parallel per-factor fits, and the conventions of the reference codes.
"""
from concurrent.futures import ThreadPoolExecutor  # the fits below release the GIL
from contextlib import ExitStack

import numpy as np

from .._validation import check_choice, check_int, check_n_threads, check_pair
from .._discretize import column_ranges, minmax_affine
from .._information import factor_labels
from .._config import default_threads
from .._progress import progress_bar
from ._conventions import AVAILABLE, resolve
from .information import _top_two

__all__ = ["sap", "explicitness", "dci", "DCIResult"]

# Chunk of rows for the moment sums: bounded temporaries whatever N.
_CHUNK = 1 << 16


def _workers(nt):
    """Threads for parallel fits: n_threads as checked (0 = OpenMP's default)."""
    return nt if nt > 0 else default_threads()


def _thread_map(func, items, nt):
    """[func(item) for item in items], on up to n_threads threads, in order."""
    items = list(items)
    with ThreadPoolExecutor(max_workers=max(1, min(_workers(nt), len(items)))) as pool:
        return list(pool.map(func, items))


def _check_factors_vary(factors, rows, metric):
    """Every factor needs two values on the fitting rows: there is nothing to predict else.
    Returns the number of values of each factor on those rows."""
    counts = [len(np.unique(factors[rows, k])) for k in range(factors.shape[1])]
    for k, count in enumerate(counts):
        if count < 2:
            raise ValueError(f"{metric}: factors column {k} has a single value on the fitting "
                             "rows; drop it (there is nothing to predict)")
    return counts

SAP = {
    # the survey code's default: the regression variant for every factor
    None: dict(mode="regression", train_fraction=None, max_train=10000, max_test=5000),
    "ubisoft": dict(mode="regression", train_fraction=None, max_train=10000, max_test=5000),
    # sap_score.compute_sap(continuous_factors=False): LinearSVC per pair, held-out accuracy,
    # num_train = 10,000 and num_test = 5,000 rows
    "dlib": dict(mode="classification", train_fraction=0.9, max_train=10000, max_test=5000),
}


def squared_correlation(factors, codes):
    """r^2 between every factor and every code, (n_factors, n_codes), from moment sums.

    Equals the R^2 of a least-squares line fitted to one code (sklearn's LinearRegression
    + r2_score, the survey code's procedure). Rows are read in chunks, shifted by the first
    row, so no N x d temporary is made and large offsets lose no precision. A constant code
    or factor gives 0.
    """
    f0, z0 = factors[0].astype(np.float64), codes[0].astype(np.float64)
    n = factors.shape[0]
    sf, sz = np.zeros(factors.shape[1]), np.zeros(codes.shape[1])
    sff, szz = np.zeros(factors.shape[1]), np.zeros(codes.shape[1])
    sfz = np.zeros((factors.shape[1], codes.shape[1]))
    for start in range(0, n, _CHUNK):
        f = factors[start:start + _CHUNK].astype(np.float64) - f0
        z = codes[start:start + _CHUNK].astype(np.float64) - z0
        sf += f.sum(axis=0)
        sz += z.sum(axis=0)
        sff += np.einsum("ij,ij->j", f, f)
        szz += np.einsum("ij,ij->j", z, z)
        sfz += f.T @ z
    cov = sfz - np.outer(sf, sz) / n
    var_f = np.maximum(sff - sf ** 2 / n, 0.0)
    var_z = np.maximum(szz - sz ** 2 / n, 0.0)
    denom = np.outer(var_f, var_z)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(denom > 0, cov ** 2 / denom, 0.0)
    return np.clip(r2, 0.0, 1.0)


def _classification_scores(factors, codes, train, test, n_threads):
    """Held-out accuracy of LinearSVC(C=0.01, class_weight="balanced") on each single code."""
    from sklearn.svm import LinearSVC

    scores = np.zeros((factors.shape[1], codes.shape[1]))
    pairs = [(k, j) for k in range(factors.shape[1]) for j in range(codes.shape[1])]

    def fit(pair):
        k, j = pair
        y = factors[train, k]
        if len(np.unique(y)) < 2:
            return pair, 0.0  # a factor constant on the training rows: nothing to separate
        clf = LinearSVC(C=0.01, class_weight="balanced")
        clf.fit(codes[train, j][:, None], y)
        return pair, float(np.mean(clf.predict(codes[test, j][:, None]) == factors[test, k]))

    for (k, j), value in _thread_map(fit, pairs, n_threads):  # liblinear releases the GIL
        scores[k, j] = value
    return scores


def sap(factors, codes, *, convention=None, random_state=None, n_threads=None, mode=None,
        train_fraction=None, max_train=None, max_test=None, return_details=False):
    """Separated Attribute Predictability (Kumar, Sattigeri & Balakrishnan, ICLR 2018).

    A score :math:`S_{kj}` says how well code :math:`z_j` alone predicts factor
    :math:`v_k`; SAP is the mean over factors of the gap between the two best codes:

    .. math:: \\mathrm{SAP} = \\frac{1}{K} \\sum_k \\left( S_{k j^{(1)}} - S_{k j^{(2)}} \\right)

    Parameters
    ----------
    factors : array-like of shape (n_samples, n_factors)
        Ground-truth factors; numeric for ``mode="regression"``.
    codes : array-like of shape (n_samples, n_codes)
        The representation, real values.
    convention : {None, "ubisoft", "dlib"}, optional
        Reference implementation to reproduce; None is fastdis's default (see Notes).
    random_state : int or None, default=None
        Seed of the train/test split (classification only).
    n_threads : int, optional
        Parallel classifier fits; default all available.
    mode : {"regression", "classification"}, optional
        ``"regression"``: :math:`S_{kj}` is the :math:`R^2` of a line fitted to
        :math:`z_j` (the squared correlation, computed in closed form on all rows).
        ``"classification"``: the held-out accuracy of a linear SVM
        (``LinearSVC(C=0.01, class_weight="balanced")``) trained on :math:`z_j`, for
        discrete factors. Default: regression (the survey code's default).
    train_fraction : float, optional
        Training share of the seeded split (classification); default 0.9.
    max_train, max_test : int or False, optional
        Classification: fit on at most ``max_train`` rows and score on at most ``max_test``
        (random subsets of the split); False uses every row. Default 10,000 and 5,000
        (disentanglement_lib's ``num_train`` / ``num_test``).
    return_details : bool, default=False
        Also return a dict with the ``scores`` matrix (factors x codes) and the
        ``per_factor`` gaps (and ``n_train`` / ``n_test`` for classification).

    Returns
    -------
    score : float
    details : dict, only with ``return_details=True``

    Notes
    -----
    Default and ``convention="ubisoft"``: the survey code's regression variant, applied to
    every factor including discrete ones; the squared correlation is invariant to the scale
    of each code. ``convention="dlib"``: disentanglement_lib's ``_compute_sap`` with
    ``continuous_factors=False`` (its default): the split is ``RandomState(random_state)``'s
    permutation of the rows, the first ``ceil(0.9 N)`` rows train. The SVM acts on raw
    code values with a fixed ``C``, so that variant depends on the scale of the codes
    (disentanglement_lib gives 0.231 / 0.000 / 0.441 for codes x 1 / x 0.01 / x 100 on one
    case): standardise codes yourself if you compare representations of different scales.
    A factor that is constant on the training rows scores 0 for every code.
    """
    s = resolve("sap", convention, SAP, mode=mode, train_fraction=train_fraction,
                max_train=max_train, max_test=max_test)
    check_choice(s["mode"], "mode", ("regression", "classification"))
    factors, codes = check_pair(factors, codes)
    nt = check_n_threads(n_threads)
    column_ranges(codes, nt)  # rejects NaN / inf, naming the column
    details = {}
    if s["mode"] == "regression":
        if factors.dtype.kind not in "iubf":
            raise TypeError(f"sap(mode='regression') needs numeric factors, got dtype {factors.dtype}")
        scores = squared_correlation(factors, codes)
    else:
        fraction = s["train_fraction"] if s["train_fraction"] is not None else 0.9
        if fraction is False or not 0.0 < float(fraction) < 1.0:
            raise ValueError(f"train_fraction must be in (0, 1), got {fraction}")
        train, test = _split_rows(codes.shape[0], fraction, s["max_train"], s["max_test"],
                                  random_state, "sap")
        scores = _classification_scores(factors, codes, train, test, nt)
        details["n_train"], details["n_test"] = len(train), len(test)
    top, second = _top_two(scores, axis=1)
    per_factor = top - second
    value = float(per_factor.mean())
    details.update(scores=scores, per_factor=per_factor)
    return (value, details) if return_details else value


def _split_rows(n, train_fraction, max_train, max_test, random_state, metric):
    """Rows to fit on and rows to score on (sorted index arrays).

    ``train_fraction`` None/False: every row, for both (the survey code). Otherwise
    ``RandomState(random_state)``'s permutation of the rows, whose first ceil(fraction N)
    fit (disentanglement_lib's split), then random subsets of at most ``max_train`` /
    ``max_test`` rows (None/False: no cap), drawn by a second ``RandomState(random_state)``.
    """
    def unset(value):  # identity: 0 is a (bad) value, not False
        return value is None or value is False

    if unset(train_fraction):
        fit_rows = eval_rows = np.arange(n)
    else:
        fraction = float(train_fraction)
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"train_fraction must be in (0, 1) or False, got {train_fraction}")
        rows = np.random.RandomState(random_state).permutation(n)
        n_fit = int(np.ceil(fraction * n))
        fit_rows, eval_rows = rows[:n_fit], rows[n_fit:]
        if len(eval_rows) == 0 or n_fit < 2:
            raise ValueError(f"{metric}: {n} rows are too few for a {fraction:.0%} / "
                             f"{1 - fraction:.0%} train/test split")
    picker = np.random.RandomState(random_state)
    if not unset(max_train):
        cap = check_int(max_train, "max_train", 2)
        if len(fit_rows) > cap:
            fit_rows = np.sort(picker.choice(fit_rows, cap, replace=False))
    if not unset(max_test):
        cap = check_int(max_test, "max_test", 1)
        if len(eval_rows) > cap:
            eval_rows = np.sort(picker.choice(eval_rows, cap, replace=False))
    return fit_rows, eval_rows



EXPLICITNESS = {
    # held-out AUC with factors as labels, subsampled for large N; else the survey's procedure
    None: dict(train_fraction=0.8, factor_bins=None, procedure="ovr", scale=True,
               max_train=10000, max_test=5000, survey_tol=False),
    # explicitness(impl=1): OvR logistic regressions, AUC on the fitting rows, factors binned
    "ubisoft": dict(train_fraction=None, factor_bins=10, procedure="ovr", scale=True,
                    max_train=False, max_test=False, survey_tol=True),
    # explicitness_per_factor on standardised codes, multinomial LogisticRegression()
    "dlib": dict(train_fraction=0.9, factor_bins=None, procedure="multinomial", scale=False,
                 max_train=10000, max_test=5000, survey_tol=False),
}


def _macro_auc(y_true, proba, classes):
    """Mean one-vs-rest ROC-AUC over the classes that have positives and negatives in y_true."""
    from sklearn.metrics import roc_auc_score

    aucs = [roc_auc_score(y_true == c, proba[:, i]) for i, c in enumerate(classes)
            if 0 < np.sum(y_true == c) < len(y_true)]
    return float(np.mean(aucs)) if aucs else float("nan")


def _ovr_proba(x_fit, y_fit, x_eval, classes, survey_tol):
    """LogisticRegression(class_weight="balanced", multi_class="ovr").predict_proba, rebuilt
    from binary fits (scikit-learn >= 1.8 has no multi_class=): each class is fitted
    against the rest with 'balanced' weights of the binary labels, and the sigmoids are
    normalised to sum to 1 (for two classes: [1 - p, p]).

    scikit-learn 0.23 (the survey's) stopped lbfgs on the gradient of the summed loss;
    since 1.1 the loss is averaged over the rows, so the same tol=1e-4 stops n times
    earlier: tol = 1e-4 / n restores the old stopping rule (and the survey's values), at the
    price of many more iterations; ``survey_tol=False`` keeps scikit-learn's default.
    """
    from scipy.special import expit
    from sklearn.linear_model import LogisticRegression

    def model():
        return LogisticRegression(class_weight="balanced",
                                  tol=1e-4 / len(y_fit) if survey_tol else 1e-4)

    if len(classes) == 2:
        p = expit(model().fit(x_fit, y_fit == classes[1]).decision_function(x_eval))
        return np.column_stack([1 - p, p])
    scores = np.column_stack([model().fit(x_fit, y_fit == c).decision_function(x_eval)
                              for c in classes])
    prob = expit(scores)
    return prob / prob.sum(axis=1, keepdims=True)


def explicitness(factors, codes, *, convention=None, random_state=None, n_threads=None,
                 train_fraction=None, factor_bins=None, scale=None, max_train=None,
                 max_test=None, return_details=False):
    """Explicitness (Ridgeway & Mozer, NeurIPS 2018).

    For each factor, a logistic regression predicts its value from all the codes; its
    one-vs-rest ROC-AUC, averaged over the factor's values, says how explicitly the
    representation encodes the factor. The score is the mean over factors, rescaled from
    [0.5, 1] to [0, 1] as the survey does:

    .. math:: \\mathrm{Explicitness} = \\frac{1}{K} \\sum_k 2\\,(\\mathrm{AUC}_k - 0.5)

    Parameters
    ----------
    factors : array-like of shape (n_samples, n_factors)
        Ground-truth factors, discrete labels.
    codes : array-like of shape (n_samples, n_codes)
        The representation, real values.
    convention : {None, "ubisoft", "dlib"}, optional
        Reference implementation to reproduce; None is fastdis's default (see Notes).
    random_state : int or None, default=None
        Seed of the train/test split.
    n_threads : int, optional
        Factors fitted in parallel; default all available.
    train_fraction : float or False, optional
        Share of rows the classifiers are fitted on; the AUC is measured on the others.
        False fits and scores on all rows (the survey code). Default 0.8.
    factor_bins : int or False, optional
        Bin numeric factors into this many equal-width bins first (the survey code's
        default, 10).
    scale : bool, optional
        Rescale the AUC from [0.5, 1] to [0, 1]; default True.
    max_train, max_test : int or False, optional
        Fit on at most ``max_train`` rows and score on at most ``max_test`` (random subsets
        of the split, drawn with ``random_state``); False uses every row. Default 10,000
        and 5,000 (disentanglement_lib's sample sizes): one logistic regression per factor
        value on all of dSprites's 737,280 rows takes minutes. The survey convention uses
        every row; disentanglement_lib's has the same caps (its num_train / num_test).
    return_details : bool, default=False
        Also return a dict with the ``per_factor`` AUCs (unscaled) and the numbers of rows
        fitted and scored (``n_train``, ``n_test``).

    Returns
    -------
    score : float
    details : dict, only with ``return_details=True``

    Notes
    -----
    Default: codes min-max scaled, one-vs-rest logistic regressions with balanced class
    weights (as the survey code), fitted on a seeded 80 % of the rows and scored on the
    other 20 % (the survey code scores on the rows it fitted), with scikit-learn's default
    stopping tolerance (the survey's old scikit-learn stopped later; reproducing that
    costs many more iterations, and is kept for ``"ubisoft"`` only). Values absent from the
    held-out rows are left out of that factor's average (disentanglement_lib crashes).
    ``convention="ubisoft"``: the survey code exactly -- factors min-max binned into 10
    bins, AUC on the fitting rows; its ``multi_class="ovr"`` classifier, which current
    scikit-learn rejects, is rebuilt from binary fits. ``convention="dlib"``:
    ``explicitness_per_factor`` -- codes standardised with the training rows' mean and
    standard deviation, a multinomial ``LogisticRegression()``, the test AUC unscaled, on
    ``RandomState(random_state)``'s permutation split (first ceil(0.9 N) rows train), with
    at most 10,000 train and 5,000 test rows (its num_train / num_test).
    """
    s = resolve("explicitness", convention, EXPLICITNESS, train_fraction=train_fraction,
                factor_bins=factor_bins, scale=scale, max_train=max_train, max_test=max_test)
    factors, codes = check_pair(factors, codes)
    nt = check_n_threads(n_threads)
    mins, maxs = column_ranges(codes, nt)
    factors = factor_labels(factors, s["factor_bins"], "minmax", nt)
    fit_rows, eval_rows = _split_rows(codes.shape[0], s["train_fraction"], s["max_train"],
                                      s["max_test"], random_state, "explicitness")
    # only the selected rows are copied and scaled: no N x d temporary
    x_fit = np.asarray(codes[fit_rows], dtype=np.float64)
    x_eval = x_fit if eval_rows is fit_rows else np.asarray(codes[eval_rows], dtype=np.float64)
    if s["procedure"] == "multinomial":  # standardised with the training rows' statistics
        mean, std = x_fit.mean(axis=0), x_fit.std(axis=0)
        std = np.where(std > 0, std, 1.0)
        x_fit, x_eval = (x_fit - mean) / std, (x_eval - mean) / std
    else:
        x_fit, x_eval = _minmax(x_fit, mins, maxs), _minmax(x_eval, mins, maxs)
    _check_factors_vary(factors, fit_rows, "explicitness")

    def factor_auc(k):
        y_fit, y_eval = factors[fit_rows, k], factors[eval_rows, k]
        classes = np.unique(y_fit)
        if s["procedure"] == "multinomial":
            from sklearn.linear_model import LogisticRegression

            proba = LogisticRegression().fit(x_fit, y_fit).predict_proba(x_eval)
        else:
            proba = _ovr_proba(x_fit, y_fit, x_eval, classes, s["survey_tol"])
        return _macro_auc(y_eval, proba, classes)

    per_factor = np.array(_thread_map(factor_auc, range(factors.shape[1]), nt))
    auc = float(np.nanmean(per_factor))
    value = (auc - 0.5) * 2 if s["scale"] else auc
    details = dict(per_factor=per_factor, n_train=len(fit_rows), n_test=len(eval_rows))
    return (value, details) if return_details else value




class DCIResult:
    """Result of :func:`dci`.

    Attributes
    ----------
    disentanglement, completeness, informativeness : float
        The three scores; informativeness is measured on the held-out rows
        (``n_test`` of them), or on the fitting rows where the convention does so.
    importance : ndarray of shape (n_codes, n_factors)
        :math:`R_{jk}`, the importance of code j for predicting factor k.
    per_factor_informativeness : ndarray of shape (n_factors,)
    informativeness_train : float
        The same score on the fitting rows (disentanglement_lib's ``informativeness_train``).
    estimator : str
        What predicted each factor, and how importance and informativeness were read.
    n_train, n_test : int
        Rows the predictors were fitted on and scored on (after any subsampling).
    """

    def __init__(self, disentanglement, completeness, informativeness, importance,
                 per_factor_informativeness, informativeness_train=float("nan"),
                 estimator="", n_train=0, n_test=0):
        self.disentanglement = float(disentanglement)
        self.completeness = float(completeness)
        self.informativeness = float(informativeness)
        self.importance = importance
        self.per_factor_informativeness = per_factor_informativeness
        self.informativeness_train = float(informativeness_train)
        self.estimator = estimator
        self.n_train = int(n_train)
        self.n_test = int(n_test)

    def to_dict(self):
        """The scalar parts as a plain dict (JSON-ready)."""
        return dict(disentanglement=self.disentanglement, completeness=self.completeness,
                    informativeness=self.informativeness,
                    informativeness_train=self.informativeness_train,
                    estimator=self.estimator, n_train=self.n_train, n_test=self.n_test)

    def __repr__(self):
        return (f"DCIResult(disentanglement={self.disentanglement:.4f}, "
                f"completeness={self.completeness:.4f}, informativeness={self.informativeness:.4f}, "
                f"estimator={self.estimator!r}, n_train={self.n_train}, n_test={self.n_test})")


DCI = {
    # The survey's estimator and aggregation, but scored on held-out rows, on a subsample,
    # with shuffled CV folds and without its `break` bug.
    None: dict(estimator="lasso", train_fraction=0.8, max_train=10000, max_test=5000,
               shuffle_cv=True, aggregate="survey", reference_break=False, refit_max_iter=5000,
               scale_codes=True),
    # dci(model=...): min-max scaled factors and codes, 10-fold unshuffled CV, fit and score on
    # all rows, its `break` on an all-zero code, Lasso's default max_iter in the refit
    "ubisoft": dict(estimator="lasso", train_fraction=False, max_train=False, max_test=False,
                    shuffle_cv=False, aggregate="survey", reference_break=True,
                    refit_max_iter=1000, scale_codes=True),
    # compute_dci: GradientBoostingClassifier() per factor, accuracy, num_train / num_test,
    # entropies of R + 1e-11, completeness weighted by factor importance
    "dlib": dict(estimator="gradient_boosting", train_fraction=0.9, max_train=10000,
                 max_test=5000, shuffle_cv=False, aggregate="dlib", reference_break=False,
                 refit_max_iter=5000, scale_codes=False),
}
AVAILABLE["dlib"] |= {"dci"}
DCI_ESTIMATORS = ("lasso", "random_forest", "gradient_boosting", "hist_gradient_boosting")
_LASSO_ALPHAS = (0.0001, 0.001, 0.01, 0.1, 0.2, 0.4, 0.8, 1.0)
_FOREST_GRID = [(depth, features) for depth in (8, 16, 32, 64, 128)
                for features in (0.2, 0.4, 0.8, 1.0)]
# dlib's GradientBoostingClassifier() has 100 depth-3 trees with learning rate 0.1; on
# histograms, 50 such trees with rate 0.2 (the same total step) score the same (accuracy
# within 1e-3 on the benchmark data) in half the time
_HIST_GBT = dict(max_depth=3, max_leaf_nodes=8, learning_rate=0.2, max_iter=50,
                 early_stopping=False)


def _minmax(x, mins, maxs):
    """sklearn's minmax_scale of x, bit for bit."""
    scale, offset = minmax_affine(mins, maxs)
    return x * scale + offset


def _cv_select(make, candidates, x, y, folds):
    """The candidate with the lowest cross-validated MSE (first one on ties), as the survey
    code picks Lasso alphas and forest shapes."""
    from sklearn.model_selection import cross_val_score

    best, best_mse = candidates[0], np.inf
    for candidate in candidates:
        mse = -cross_val_score(make(candidate), x, y, cv=folds,
                               scoring="neg_mean_squared_error").mean()
        if mse < best_mse:
            best, best_mse = candidate, mse
    return best


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

    return KFold(10, shuffle=True, random_state=seed) if s["shuffle_cv"] else 10


def _fit_factor(name, x, y, s, seed, n_threads=1):
    """Fit the predictor of one factor; returns (fitted model, importance of each code).
    ``n_threads``: threads of fastdis's gradient boosting (the trees of a stage)."""
    from sklearn.base import clone

    if name == "lasso":
        from sklearn.linear_model import Lasso

        alpha = _cv_select(lambda a: Lasso(alpha=a, max_iter=5000), _LASSO_ALPHAS, x, y,
                           _cv_folds(s, seed))
        model = Lasso(alpha=alpha, max_iter=s["refit_max_iter"]).fit(x, y)
        return model, np.abs(np.ravel(model.coef_))
    if name == "random_forest":
        from sklearn.ensemble import RandomForestRegressor

        def forest(shape):
            return RandomForestRegressor(n_estimators=10, max_depth=shape[0],
                                         max_features=shape[1], random_state=seed)

        model = forest(_cv_select(forest, _FOREST_GRID, x, y, _cv_folds(s, seed))).fit(x, y)
        return model, model.feature_importances_
    if name == "gradient_boosting":
        from ._boosting import BoostedTrees

        model = BoostedTrees(random_state=seed, n_threads=n_threads).fit(x, y)
        return model, model.feature_importances_
    if name == "hist_gradient_boosting":
        from sklearn.ensemble import HistGradientBoostingClassifier

        model = HistGradientBoostingClassifier(random_state=seed, **_HIST_GBT).fit(x, y)
        return model, _hist_gain(model, x.shape[1])
    model = clone(name)
    if "random_state" in model.get_params() and model.get_params()["random_state"] is None:
        model.set_params(random_state=seed)  # never numpy's global RNG
    model.fit(x, y)
    if hasattr(model, "feature_importances_"):
        return model, np.asarray(model.feature_importances_, dtype=np.float64)
    if hasattr(model, "coef_"):
        coef = np.abs(np.asarray(model.coef_, dtype=np.float64))
        return model, coef.reshape(-1, x.shape[1]).mean(axis=0)
    raise TypeError(f"estimator {type(model).__name__} exposes neither feature_importances_ "
                    "nor coef_ after fitting: dci cannot read code importances from it")


def _entropy_along(p, axis, base, offset):
    """Entropy of each slice of the non-negative matrix p (normalised along ``axis``), in
    base ``base``; ``offset`` is added first (disentanglement_lib adds 1e-11)."""
    p = p + offset
    total = p.sum(axis=axis, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(total > 0, p / total, 0.0)
        terms = np.where(q > 0, q * np.log(np.where(q > 0, q, 1.0)), 0.0)
    return -terms.sum(axis=axis) / np.log(base)


def _aggregate(importance, aggregate, reference_break):
    """(D, C) from the importance matrix R (codes x factors)."""
    J, K = importance.shape
    if aggregate == "dlib":
        r = importance if importance.sum() > 0 else np.ones_like(importance)
        per_code = 1.0 - _entropy_along(importance, 1, K, 1e-11)
        per_factor = 1.0 - _entropy_along(importance, 0, J, 1e-11)
        return (float(per_code @ (r.sum(axis=1) / r.sum())),
                float(per_factor @ (r.sum(axis=0) / r.sum())))
    rho = importance.sum(axis=1)
    per_code = np.where(rho > 0, 1.0 - _entropy_along(importance, 1, K, 0.0), 0.0)
    if reference_break and np.any(rho == 0):
        # the survey code's bug: the first all-zero code ends its loop, so later codes get
        # neither a score nor a weight
        first = int(np.argmax(rho == 0))
        rho, per_code = rho.copy(), per_code.copy()
        rho[first:] = per_code[first:] = 0.0
    weights = rho / rho.sum() if rho.sum() > 0 else rho * 0.0
    per_factor = 1.0 - _entropy_along(np.where(importance.sum(axis=0) > 0, importance, 1.0),
                                      0, J, 0.0)
    return float(per_code @ weights), float(per_factor.mean())


def dci(factors, codes, *, convention=None, random_state=None, n_threads=None, estimator=None,
        train_fraction=None, max_train=None, max_test=None, progress=None,
        return_details=False):
    """Disentanglement, Completeness and Informativeness (Eastwood & Williams, ICLR 2018).

    One predictor per factor predicts it from all the codes; their importances form the
    matrix :math:`R` (codes x factors). With :math:`P_{jk} = R_{jk} / \\sum_k R_{jk}` and
    :math:`\\tilde P_{jk} = R_{jk} / \\sum_j R_{jk}`:

    .. math:: D = \\sum_j \\rho_j (1 - H_K(P_{j\\cdot})), \\quad
              \\rho_j = \\frac{\\sum_k R_{jk}}{\\sum_{jk} R_{jk}}, \\qquad
              C = \\frac{1}{K} \\sum_k (1 - H_J(\\tilde P_{\\cdot k}))

    (entropies in base K and J). Informativeness is the predictors' score on held-out
    rows: for regressors :math:`\\max(0, 1 - 12\\,\\mathrm{MSE})` on factors min-max scaled
    to [0, 1] (12 MSE = 1 for a uniform guess, the survey's choice), for classifiers the
    accuracy (disentanglement_lib's choice).

    Parameters
    ----------
    factors : array-like of shape (n_samples, n_factors)
        Ground-truth factors: numeric for regressors; any labels for classifiers.
    codes : array-like of shape (n_samples, n_codes)
        The representation, real values.
    convention : {None, "ubisoft", "dlib"}, optional
        Reference implementation to reproduce; None is fastdis's default (see Notes).
    random_state : int or None, default=None
        Seeds the train/test split, the subsamples, the cross-validation folds and every
        estimator (one derived seed per factor, so the result does not depend on
        ``n_threads``). None draws fresh entropy.
    n_threads : int, optional
        Factors fitted in parallel; gradient boosting grows the trees of each boosting stage
        (one per class) on these threads, histogram gradient boosting uses them inside each
        fit. Default all available.
    estimator : str or scikit-learn estimator, optional
        ``"lasso"`` (default): importance :math:`|w|`, alpha among (1e-4, ..., 1) by 10-fold
        CV, as the survey code. ``"random_forest"``: ``RandomForestRegressor`` with 10
        trees, depth (8..128) and max_features (0.2..1) by 10-fold CV, Gini importance, as
        the survey code (20 x 10 forests per factor: slow). ``"gradient_boosting"``:
        disentanglement_lib's ``GradientBoostingClassifier()`` model (100 depth-3 trees,
        learning rate 0.1, impurity importance), fitted by fastdis's C kernel from codes
        sorted once (about 35x scikit-learn's fit on 2 cores): the same trees and
        predictions to rounding, except where several codes split a node equally well,
        which both break by a random code order (scikit-learn's from its ``random_state``;
        disentanglement_lib leaves that unseeded), so values differ as two scikit-learn
        seeds do (importances ~5e-4 apart at N = 10^4). ``"hist_gradient_boosting"``: the fast option,
        ``HistGradientBoostingClassifier`` with trees of the same depth (50 trees of depth
        <= 3, learning rate 0.2: the same total step as 100 trees at 0.1, no early
        stopping); importance = each code's total split gain over all trees, normalised
        (the histogram analogue of the impurity importance).
        Or any scikit-learn estimator: regressors get scaled factors and the MSE score,
        classifiers labels and accuracy; importance is ``feature_importances_`` or the mean
        ``|coef_|`` over classes; an unset ``random_state`` is set from ``random_state``.
    train_fraction : float or False, optional
        Share of rows the predictors are fitted on; the others measure informativeness.
        False fits and scores on all rows (the survey code). Default 0.8 (0.9 for "dlib").
    max_train, max_test : int or False, optional
        Fit on at most ``max_train`` rows and score on at most ``max_test`` (random subsets
        of the split); False uses every row. Default 10,000 and 5,000 (disentanglement_lib's
        ``num_train`` / ``num_test``); the result says how many were used.
    progress : bool, optional
        A progress bar over factors on stderr (needs tqdm); default: when stderr is a
        terminal.
    return_details : bool, default=False
        Accepted for a uniform signature; the result object carries every part.

    Returns
    -------
    DCIResult
        ``disentanglement``, ``completeness``, ``informativeness`` (floats),
        ``importance`` (n_codes x n_factors), ``n_train`` / ``n_test`` and more.

    Notes
    -----
    Codes are min-max scaled for every estimator (trees are invariant to it, up to float32
    rounding), and so are factors for regressors, as the survey code does; the "dlib"
    convention passes raw codes, as disentanglement_lib does. A factor with a single value has
    nothing to predict: dci raises a ``ValueError`` naming it.

    Default (``convention=None``): the survey's Lasso procedure, but the folds are shuffled
    (seeded; the survey's unshuffled folds are blocks of the leading factor on row-sorted
    grids), the refit uses the CV's max_iter, informativeness is measured on the held-out
    20 % (the survey scores on the rows it fitted), a code with zero importance for every
    factor simply gets weight 0, and N is subsampled to 10,000 + 5,000 rows.

    ``convention="ubisoft"`` reproduces the survey code exactly: every row fitted and
    scored, unshuffled folds, and its ``break``: the first all-zero code ends the
    disentanglement loop, so every later code gets neither a score nor a weight (on the
    golden "partial" case D = 0.6935 with it, 0.6839 without). With
    ``estimator="random_forest"`` it is the survey's forest procedure.

    ``convention="dlib"`` is disentanglement_lib's ``compute_dci``: one
    ``GradientBoostingClassifier`` per factor on ``RandomState(random_state)``'s permutation
    split (first ceil(0.9 N) rows, capped at 10,000 train / 5,000 test rows), test accuracy
    as informativeness, entropies of :math:`R + 10^{-11}`, and completeness weighted by
    each factor's share of the total importance (equal shares for normalised importances).
    disentanglement_lib draws its trees' feature order from numpy's global RNG; fastdis
    seeds its own, so D and C agree with its values within that RNG's effect (about 1e-4).
    """
    s = resolve("dci", convention, DCI, estimator=estimator, train_fraction=train_fraction,
                max_train=max_train, max_test=max_test)
    name = s["estimator"]
    if isinstance(name, str):
        check_choice(name, "estimator", DCI_ESTIMATORS)
        classify = name in ("gradient_boosting", "hist_gradient_boosting")
    elif hasattr(name, "fit") and hasattr(name, "get_params"):
        from sklearn.base import is_classifier

        classify = is_classifier(name)
    else:
        raise TypeError("estimator must be one of " + ", ".join(map(repr, DCI_ESTIMATORS)) +
                        f" or a scikit-learn estimator, got {type(name).__name__}")
    factors, codes = check_pair(factors, codes)
    if not classify and factors.dtype.kind not in "iubf":
        raise TypeError(f"dci with a regressor needs numeric factors, got dtype {factors.dtype}")
    nt = check_n_threads(n_threads)
    mins, maxs = column_ranges(codes, nt)
    workers = _workers(nt)
    K, J = factors.shape[1], codes.shape[1]
    if K < 2 or J < 2:
        raise ValueError(f"dci needs at least 2 factors and 2 codes (entropies in base K and J), "
                         f"got {K} and {J}")
    fit_rows, eval_rows = _split_rows(codes.shape[0], s["train_fraction"], s["max_train"],
                                      s["max_test"], random_state, "dci")
    if name in ("lasso", "random_forest") and len(fit_rows) < 10:
        raise ValueError(f"dci(estimator={name!r}) selects its parameters by 10-fold "
                         f"cross-validation: it needs at least 10 fitting rows, got {len(fit_rows)}")
    same_rows = eval_rows is fit_rows
    # only the selected rows are copied (and scaled): no N x d temporary
    prepare = (lambda rows: _minmax(codes[rows], mins, maxs)) if s["scale_codes"] else (
        lambda rows: np.asarray(codes[rows], dtype=np.float64))
    x_fit = prepare(fit_rows)
    x_eval = x_fit if same_rows else prepare(eval_rows)
    if not classify:  # min-max scaling of the factors, applied to the selected rows only
        fmin = factors.min(axis=0).astype(np.float64)
        fmax = factors.max(axis=0).astype(np.float64)
    n_values = _check_factors_vary(factors, fit_rows, "dci")
    seeds = np.random.RandomState(random_state).randint(np.iinfo(np.int32).max, size=K)

    def targets(k, rows):
        if classify:
            return factors[rows, k]
        return _minmax(factors[rows, k].astype(np.float64), fmin[k:k + 1], fmax[k:k + 1])

    def score(model, k, x, rows):
        y, pred = targets(k, rows), model.predict(x)
        if classify:
            return float(np.mean(pred == y))
        return max(1.0 - 12.0 * float(np.mean((np.ravel(pred) - y) ** 2)), 0.0)

    # gradient boosting grows a stage's trees (one per class) in parallel; factors of two
    # classes have one tree per stage, so they run side by side instead
    two_class = name == "gradient_boosting" and max(n_values) <= 2
    inner_threads = 1 if two_class else workers

    def fit(k):
        model, weights = _fit_factor(name, x_fit, targets(k, fit_rows), s, int(seeds[k]),
                                     inner_threads)
        train = score(model, k, x_fit, fit_rows)
        test = train if same_rows else score(model, k, x_eval, eval_rows)
        return k, weights, train, test

    importance = np.zeros((J, K))
    informativeness, informativeness_train = np.zeros(K), np.zeros(K)
    with progress_bar(K, "dci", progress) as bar, ExitStack() as stack:
        if (name in ("gradient_boosting", "hist_gradient_boosting") and not two_class
                or workers == 1):
            from threadpoolctl import threadpool_limits

            stack.enter_context(threadpool_limits(limits=workers, user_api="openmp"))
            mapper = map  # one factor after the other (the boosting has its own threads)
        else:
            mapper = stack.enter_context(ThreadPoolExecutor(max_workers=min(workers, K))).map
        results = []
        for result in mapper(fit, range(K)):
            results.append(result)
            bar.update()
    for k, weights, train, test in results:
        importance[:, k] = weights
        informativeness_train[k], informativeness[k] = train, test
    disentanglement, completeness = _aggregate(importance, s["aggregate"], s["reference_break"])
    label = name if isinstance(name, str) else type(name).__name__
    label += " (accuracy)" if classify else " (1 - 12 MSE)"
    return DCIResult(disentanglement, completeness, informativeness.mean(), importance,
                     informativeness, informativeness_train.mean(), label,
                     len(fit_rows), len(eval_rows))
