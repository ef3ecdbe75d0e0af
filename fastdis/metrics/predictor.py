"""Predictor-based disentanglement metrics (Carbonneau et al. 2023, section 4.2).

So far: SAP, Explicitness and DCI with the Lasso (random forests and gradient boosting are
still to come, issue #4).
"""
import numpy as np

from .._validation import check_choice, check_n_threads, check_pair
from .._discretize import column_ranges, minmax_affine
from .._information import factor_labels
from ._conventions import resolve
from .information import _top_two

__all__ = ["sap", "explicitness", "dci", "DCIResult"]

# Chunk of rows for the moment sums: bounded temporaries whatever N.
_CHUNK = 1 << 16

SAP = {
    # the survey code's default: the regression variant for every factor
    None: dict(mode="regression", train_fraction=None),
    "ubisoft": dict(mode="regression", train_fraction=None),
    # sap_score._compute_sap(continuous_factors=False): LinearSVC per pair, held-out accuracy
    "dlib": dict(mode="classification", train_fraction=0.9),
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


def _classification_scores(factors, codes, train_fraction, random_state, n_threads):
    """Held-out accuracy of LinearSVC(C=0.01, class_weight="balanced") on each single code."""
    from sklearn.svm import LinearSVC

    n = factors.shape[0]
    rows = np.random.RandomState(random_state).permutation(n)
    n_train = int(np.ceil(train_fraction * n))
    train, test = rows[:n_train], rows[n_train:]
    if len(test) == 0 or n_train == 0:
        raise ValueError(f"sap: {n} rows are too few for a {train_fraction:.0%} train/test split")
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

    workers = n_threads if n_threads > 0 else None
    from concurrent.futures import ThreadPoolExecutor  # liblinear releases the GIL

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for (k, j), value in pool.map(fit, pairs):
            scores[k, j] = value
    return scores


def sap(factors, codes, *, convention=None, random_state=None, n_threads=None, mode=None,
        train_fraction=None, return_details=False):
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
    return_details : bool, default=False
        Also return a dict with the ``scores`` matrix (factors x codes) and the
        ``per_factor`` gaps.

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
    s = resolve("sap", convention, SAP, mode=mode, train_fraction=train_fraction)
    check_choice(s["mode"], "mode", ("regression", "classification"))
    factors, codes = check_pair(factors, codes)
    nt = check_n_threads(n_threads)
    column_ranges(codes, nt)  # rejects NaN / inf, naming the column
    if s["mode"] == "regression":
        if factors.dtype.kind not in "iubf":
            raise TypeError(f"sap(mode='regression') needs numeric factors, got dtype {factors.dtype}")
        scores = squared_correlation(factors, codes)
    else:
        fraction = float(s["train_fraction"] if s["train_fraction"] is not None else 0.9)
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"train_fraction must be in (0, 1), got {fraction}")
        scores = _classification_scores(factors, codes, fraction, random_state, nt)
    top, second = _top_two(scores, axis=1)
    per_factor = top - second
    value = float(per_factor.mean())
    return (value, dict(scores=scores, per_factor=per_factor)) if return_details else value


EXPLICITNESS = {
    # held-out AUC with factors as labels, subsampled for large N; else the survey's procedure
    None: dict(train_fraction=0.8, factor_bins=None, procedure="ovr", scale=True,
               max_train=10000, max_test=5000),
    # explicitness(impl=1): OvR logistic regressions, AUC on the fitting rows, factors binned
    "ubisoft": dict(train_fraction=None, factor_bins=10, procedure="ovr", scale=True,
                    max_train=False, max_test=False),
    # explicitness_per_factor on standardised codes, multinomial LogisticRegression()
    "dlib": dict(train_fraction=0.9, factor_bins=None, procedure="multinomial", scale=False,
                 max_train=False, max_test=False),
}


def _macro_auc(y_true, proba, classes):
    """Mean one-vs-rest ROC-AUC over the classes that have positives and negatives in y_true."""
    from sklearn.metrics import roc_auc_score

    aucs = [roc_auc_score(y_true == c, proba[:, i]) for i, c in enumerate(classes)
            if 0 < np.sum(y_true == c) < len(y_true)]
    return float(np.mean(aucs)) if aucs else float("nan")


def _ovr_proba(x_fit, y_fit, x_eval, classes):
    """LogisticRegression(class_weight="balanced", multi_class="ovr").predict_proba, rebuilt
    from binary fits (scikit-learn >= 1.8 has no multi_class=): each class is fitted
    against the rest with 'balanced' weights of the binary labels, and the sigmoids are
    normalised to sum to 1 (for two classes: [1 - p, p]).

    scikit-learn 0.23 (the survey's) stopped lbfgs on the gradient of the summed loss;
    since 1.1 the loss is averaged over the rows, so the same tol=1e-4 stops n times
    earlier: tol = 1e-4 / n restores the old stopping rule (and the survey's values).
    """
    from scipy.special import expit
    from sklearn.linear_model import LogisticRegression

    def model():
        return LogisticRegression(class_weight="balanced", tol=1e-4 / len(y_fit))

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
        Threads for the input checks; the fits are scikit-learn's.
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
        value on all of dSprites's 737,280 rows takes minutes. The conventions use every row.
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
    other 20 % (the survey code scores on the rows it fitted). Values absent from the
    held-out rows are left out of that factor's average (disentanglement_lib crashes).
    ``convention="ubisoft"``: the survey code exactly -- factors min-max binned into 10
    bins, AUC on the fitting rows; its ``multi_class="ovr"`` classifier, which current
    scikit-learn rejects, is rebuilt from binary fits. ``convention="dlib"``:
    ``explicitness_per_factor`` -- codes standardised with the training rows' mean and
    standard deviation, a multinomial ``LogisticRegression()``, the test AUC unscaled, on
    ``RandomState(random_state)``'s permutation split (first ceil(0.9 N) rows train).
    """
    s = resolve("explicitness", convention, EXPLICITNESS, train_fraction=train_fraction,
                factor_bins=factor_bins, scale=scale, max_train=max_train, max_test=max_test)
    factors, codes = check_pair(factors, codes)
    nt = check_n_threads(n_threads)
    mins, maxs = column_ranges(codes, nt)
    factors = factor_labels(factors, s["factor_bins"], "minmax", nt)
    n = codes.shape[0]
    fraction = s["train_fraction"]
    if fraction in (None, False):
        fit_rows = eval_rows = np.arange(n)
    else:
        fraction = float(fraction)
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"train_fraction must be in (0, 1) or False, got {fraction}")
        rows = np.random.RandomState(random_state).permutation(n)
        n_fit = int(np.ceil(fraction * n))
        fit_rows, eval_rows = rows[:n_fit], rows[n_fit:]
        if len(eval_rows) == 0:
            raise ValueError(f"explicitness: {n} rows are too few to hold out {1 - fraction:.0%}")
    picker = np.random.RandomState(random_state)
    for name, cap in (("max_train", s["max_train"]), ("max_test", s["max_test"])):
        if cap in (None, False):
            continue
        from .._validation import check_int

        cap = check_int(cap, name, 2)
        if name == "max_train" and len(fit_rows) > cap:
            fit_rows = np.sort(picker.choice(fit_rows, cap, replace=False))
        elif name == "max_test" and len(eval_rows) > cap:
            eval_rows = np.sort(picker.choice(eval_rows, cap, replace=False))
    if s["procedure"] == "multinomial":  # standardised with the training rows' statistics
        mean = codes[fit_rows].mean(axis=0)
        std = codes[fit_rows].std(axis=0)
        x = (codes - mean) / np.where(std > 0, std, 1.0)
    else:
        x = _minmax(codes, mins, maxs)
    per_factor = np.empty(factors.shape[1])
    for k in range(factors.shape[1]):
        y = factors[:, k]
        classes = np.unique(y[fit_rows])
        if len(classes) < 2:
            raise ValueError(f"explicitness: factors column {k} has a single value on the "
                             "fitting rows; drop it")
        if s["procedure"] == "multinomial":
            from sklearn.linear_model import LogisticRegression

            proba = LogisticRegression().fit(x[fit_rows], y[fit_rows]).predict_proba(x[eval_rows])
        else:
            proba = _ovr_proba(x[fit_rows], y[fit_rows], x[eval_rows], classes)
        per_factor[k] = _macro_auc(y[eval_rows], proba, classes)
    auc = float(np.nanmean(per_factor))
    value = (auc - 0.5) * 2 if s["scale"] else auc
    details = dict(per_factor=per_factor, n_train=len(fit_rows), n_test=len(eval_rows))
    return (value, details) if return_details else value


class DCIResult:
    """Result of :func:`dci`.

    Attributes
    ----------
    disentanglement, completeness, informativeness : float
    importance : ndarray of shape (n_codes, n_factors)
        :math:`R_{jk}`, the importance of code j for predicting factor k.
    per_factor_informativeness : ndarray of shape (n_factors,)
    """

    def __init__(self, disentanglement, completeness, informativeness, importance,
                 per_factor_informativeness):
        self.disentanglement = float(disentanglement)
        self.completeness = float(completeness)
        self.informativeness = float(informativeness)
        self.importance = importance
        self.per_factor_informativeness = per_factor_informativeness

    def __repr__(self):
        return (f"DCIResult(disentanglement={self.disentanglement:.4f}, "
                f"completeness={self.completeness:.4f}, informativeness={self.informativeness:.4f})")


DCI = {
    None: dict(estimator="lasso", reference_break=False),
    # dci(model=...): min-max scaled factors and codes, 10-fold unshuffled CV, fit and score on
    # all rows, and its `break` on an all-zero code
    "ubisoft": dict(estimator="lasso", reference_break=True),
}
_LASSO_ALPHAS = (0.0001, 0.001, 0.01, 0.1, 0.2, 0.4, 0.8, 1.0)


def _minmax(x, mins, maxs):
    """sklearn's minmax_scale of x, bit for bit."""
    scale, offset = minmax_affine(mins, maxs)
    return x * scale + offset


def _fit_lasso_cv(x, y):
    """The survey's model selection: 10-fold unshuffled CV over fixed alphas (max_iter 5000),
    then a refit with the best alpha and Lasso's default max_iter (1000)."""
    from sklearn.linear_model import Lasso
    from sklearn.model_selection import cross_val_score

    best_alpha, best_mse = 0.0, np.inf
    for alpha in _LASSO_ALPHAS:
        mse = -cross_val_score(Lasso(alpha=alpha, max_iter=5000), x, y, cv=10,
                               scoring="neg_mean_squared_error").mean()
        if mse < best_mse:
            best_alpha, best_mse = alpha, mse
    model = Lasso(alpha=best_alpha).fit(x, y)
    return model, np.abs(np.ravel(model.coef_))


def _normalized_entropy(p, base):
    p = p[p > 0]
    return float(-(p * np.log(p)).sum() / np.log(base)) if base > 1 else 0.0


def dci(factors, codes, *, convention=None, random_state=None, n_threads=None, estimator=None,
        return_details=False):
    """Disentanglement, Completeness and Informativeness (Eastwood & Williams, ICLR 2018).

    One regressor per factor predicts it from all the codes; their importances form the
    matrix :math:`R` (codes x factors). With :math:`P_{jk} = R_{jk} / \\sum_k R_{jk}` and
    :math:`\\tilde P_{jk} = R_{jk} / \\sum_j R_{jk}`:

    .. math:: D = \\sum_j \\rho_j (1 - H_K(P_{j\\cdot})), \\quad
              \\rho_j = \\frac{\\sum_k R_{jk}}{\\sum_{jk} R_{jk}}, \\qquad
              C = \\frac{1}{K} \\sum_k (1 - H_J(\\tilde P_{\\cdot k}))

    (entropies in base K and J), and informativeness is the regressors' accuracy,
    :math:`\\max(0, 1 - 12\\,\\mathrm{MSE})` on factors scaled to [0, 1] (12 MSE = 1 for a
    uniform guess).

    Parameters
    ----------
    factors : array-like of shape (n_samples, n_factors)
        Ground-truth factors, numeric.
    codes : array-like of shape (n_samples, n_codes)
        The representation, real values.
    convention : {None, "ubisoft"}, optional
        Reference implementation to reproduce; None is fastdis's default (see Notes).
    random_state : ignored
        The Lasso procedure is deterministic; accepted for a uniform signature.
    n_threads : int, optional
        Threads for the input checks.
    estimator : {"lasso"}, optional
        The regressor: ``"lasso"`` (importance ``|coef|``, alpha chosen by 10-fold CV as
        the survey code does). Random forests and gradient boosting are still to come.
    return_details : bool, default=False
        Accepted for a uniform signature; the result object carries every part.

    Returns
    -------
    DCIResult
        ``disentanglement``, ``completeness``, ``informativeness`` (floats) and
        ``importance`` (n_codes x n_factors).

    Notes
    -----
    Factors and codes are min-max scaled (sklearn's ``minmax_scale``), as in the survey
    code; its cross-validation folds are unshuffled, so on row-sorted data (grids) they are
    blocks of the leading factor, and it scores on the rows it fitted (no held-out set).
    Default: the survey's procedure, except that a code with zero importance for every
    factor is simply given weight 0. ``convention="ubisoft"`` reproduces the survey code
    exactly, including its ``break``: the first all-zero code ends the disentanglement loop,
    so every later code gets neither a score nor a weight (on the golden "partial" case
    D = 0.6835 with it, 0.6839 without).
    """
    s = resolve("dci", convention, DCI, estimator=estimator)
    check_choice(s["estimator"], "estimator", ("lasso",))
    factors, codes = check_pair(factors, codes)
    if factors.dtype.kind not in "iubf":
        raise TypeError(f"dci needs numeric factors, got dtype {factors.dtype}")
    nt = check_n_threads(n_threads)
    mins, maxs = column_ranges(codes, nt)
    K, J = factors.shape[1], codes.shape[1]
    if K < 2 or J < 2:
        raise ValueError(f"dci needs at least 2 factors and 2 codes (entropies in base K and J), "
                         f"got {K} and {J}")
    f = np.asarray(factors, dtype=np.float64)
    f = _minmax(f, f.min(axis=0), f.max(axis=0))
    x = _minmax(codes, mins, maxs)
    importance = np.zeros((J, K))
    informativeness = np.zeros(K)
    for k in range(K):
        y = f[:, k:k + 1]
        model, importance[:, k] = _fit_lasso_cv(x, y)
        mse = float(np.mean((model.predict(x).reshape(-1) - y[:, 0]) ** 2))
        informativeness[k] = max(1.0 - 12.0 * mse, 0.0)
    rho = importance.sum(axis=1)
    per_code = np.zeros(J)
    for j in range(J):
        if rho[j] == 0:
            if s["reference_break"]:
                rho[j + 1:] = 0.0  # the survey code's bug: later codes get neither D_j nor rho_j
                break
            continue
        per_code[j] = 1.0 - _normalized_entropy(importance[j] / rho[j], K)
    weights = rho / rho.sum() if rho.sum() else rho * 0
    disentanglement = float(per_code @ weights)
    completeness = np.empty(K)
    for k in range(K):
        total = importance[:, k].sum()
        p = importance[:, k] / total if total else np.full(J, 1.0 / J)
        completeness[k] = 1.0 - _normalized_entropy(p, J)
    return DCIResult(disentanglement, completeness.mean(), informativeness.mean(), importance,
                     informativeness)
