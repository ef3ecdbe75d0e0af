"""DCI: Disentanglement, Completeness and Informativeness (Eastwood & Williams, ICLR 2018)."""
import numpy as np

from .. import _dask
from .._discretize import column_ranges
from .._progress import progress_bar
from .._random import check_random_state
from .._threads import parallel_map, total_threads
from .._validation import check_choice, check_n_threads, check_pair
from ._conventions import AVAILABLE, resolve
from ._dci_fit import CLASSIFIERS, ESTIMATORS, fit_boosted_factors, fit_factor, serial
from ._fitting import check_classes, check_factors_vary, is_numeric, minmax_scaled, split_rows
from ._scale import column_exponents, to_unit

DCI_ESTIMATORS = ESTIMATORS
# the classifier chosen when factors are labels (strings, categories) and no estimator is given
LABEL_ESTIMATOR = "gradient_boosting"

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
        Ground-truth factors: numeric for regressors; any labels (numbers, strings,
        categories) for classifiers. Labels that are not numbers with neither
        ``estimator`` nor ``convention`` given select ``"gradient_boosting"`` (accuracy as
        informativeness); ``DCIResult.estimator`` says which ran.
    codes : array-like of shape (n_samples, n_codes)
        The representation, real values.
    convention : {None, "ubisoft", "dlib"}, optional
        Reference implementation to reproduce; None is fastdis's default (see Notes).
    random_state : None, int, numpy Generator or RandomState, default=None
        Seeds the train/test split, the subsamples, the cross-validation folds and every
        estimator (one derived seed per factor, so the result does not depend on
        ``n_threads``): an integer in [0, 2**32), a generator (one draw), or None for
        fresh entropy.
    n_threads : int, optional
        Threads in all (default: all available). The Lasso reads the rows once on them
        (its fits then take microseconds); gradient boosting grows every factor's trees on
        them, one team taking whichever tree is ready; the random forests fit factors side
        by side; histogram gradient boosting and a user's estimator fit one factor after
        the other with every thread (their ``n_jobs`` capped at ``n_threads``, BLAS and
        OpenMP pools limited).
    estimator : str or scikit-learn estimator, optional
        ``"lasso"`` (default): importance :math:`|w|`, alpha among (1e-4, ..., 1) by 10-fold
        CV, as the survey code; scikit-learn's Lasso (its coordinate descent, screening and
        duality-gap stop) run by fastdis on the Gram matrix of each fold, from one pass over
        the rows: the same coefficients to rounding, at any N in about the time of one read
        of the rows. ``"random_forest"``: the survey's ``RandomForestRegressor``
        model, 10 trees, depth (8..128) and max_features (0.2..1) by 10-fold CV, impurity
        importance, grown by fastdis's C kernel from codes sorted once (one forest per fold
        and max_features serves every depth: 400 trees per factor instead of 2,000); its
        random draws are fastdis's, so values vary as the survey's do over seeds.
        ``"gradient_boosting"``:
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
        ``num_train`` / ``num_test``); the result says how many were used. With
        ``convention=None`` the split draws only the rows it keeps (a seeded Generator), so
        its rows differ from the conventions' (``RandomState``'s permutation of all rows).
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
    convention passes raw codes, as disentanglement_lib does (to its trees divided by a
    power of two per code, which changes no split and keeps codes x 1e-310 or x 1e300 within
    float32). The scalings hold at any scale float64 holds. A factor that looks continuous
    (more distinct values than half the fitting rows) is refused by the classifiers. A factor with a single value has
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

    Examples
    --------
    >>> import fastdis
    >>> from fastdis.datasets import make_dsprites_like
    >>> factors, codes = make_dsprites_like("partial", small=True)
    >>> result = fastdis.dci(factors, codes, random_state=0)
    >>> round(result.disentanglement, 3), round(result.completeness, 3), result.importance.shape
    (0.729, 0.678, (10, 5))

    References
    ----------
    Eastwood & Williams, "A framework for the quantitative evaluation of disentangled
    representations", ICLR 2018 (openreview.net/forum?id=By-7dz-AZ).
    Carbonneau, Zaidi, Boilard & Gagnon, "Measuring disentanglement: a review of metrics",
    IEEE Transactions on Neural Networks and Learning Systems, 2023, arXiv:2012.09276.
    """
    labels_given = estimator is None and convention is None
    s = resolve("dci", convention, DCI, estimator=estimator, train_fraction=train_fraction,
                max_train=max_train, max_test=max_test)
    chunked = _dask.any_dask(factors, codes)
    factors, codes = (_dask.check_pair if chunked else check_pair)(factors, codes)
    if labels_given and not is_numeric(factors):
        s["estimator"] = LABEL_ESTIMATOR  # labels are classes: no regression through them
    name = s["estimator"]
    if isinstance(name, str):
        check_choice(name, "estimator", DCI_ESTIMATORS)
        classify = name in CLASSIFIERS
    elif hasattr(name, "fit") and hasattr(name, "get_params"):
        from sklearn.base import is_classifier

        classify = is_classifier(name)
    else:
        raise TypeError("estimator must be one of " + ", ".join(map(repr, DCI_ESTIMATORS)) +
                        f" or a scikit-learn estimator, got {type(name).__name__}")
    label = name if isinstance(name, str) else type(name).__name__
    if not classify and not is_numeric(factors):
        raise TypeError(f"dci(estimator={label!r}) is a regressor and needs numeric factors, got "
                        f"dtype {factors.dtype}; for labels use a classifier, e.g. "
                        f"estimator={LABEL_ESTIMATOR!r} or 'hist_gradient_boosting'")
    nt = check_n_threads(n_threads)
    seed = check_random_state(random_state)
    K, J = factors.shape[1], codes.shape[1]
    if K < 2 or J < 2:
        raise ValueError(f"dci needs at least 2 factors and 2 codes (entropies in base K and J), "
                         f"got {K} and {J}")
    fit_rows, eval_rows = split_rows(codes.shape[0], s["train_fraction"], s["max_train"],
                                     s["max_test"], seed, "dci", convention, nt)
    if chunked:  # the ranges of all rows from the chunks; the selected rows in memory
        stats = _dask.statistics(factors, codes, factor_ranges=is_numeric(factors))
        (mins, maxs), factor_range = stats["code_ranges"], stats.get("factor_ranges")
        factors, codes, (fit_rows, eval_rows) = _dask.gather(factors, codes, fit_rows,
                                                             eval_rows)
    else:
        mins, maxs = column_ranges(codes, nt)
        factor_range = None
    if name in ("lasso", "random_forest") and len(fit_rows) < 10:
        raise ValueError(f"dci(estimator={name!r}) selects its parameters by 10-fold "
                         f"cross-validation: it needs at least 10 fitting rows, got {len(fit_rows)}")
    seeds = np.random.RandomState(seed).randint(np.iinfo(np.int32).max, size=K)
    if name == "lasso":
        importance, informativeness, informativeness_train = _lasso_dci(
            factors, codes, fit_rows, eval_rows, (mins, maxs), factor_range, s, seeds, nt,
            progress)
        return _result(importance, informativeness, informativeness_train, s, label, False,
                       fit_rows, eval_rows)
    n_values = check_factors_vary(factors, fit_rows, "dci")
    if classify:
        check_classes(n_values, len(fit_rows), f"dci(estimator={label!r})",
                      "use a regressor (estimator='lasso'), or bin it first (fastdis.discretize)")
    same_rows = eval_rows is fit_rows
    # only the selected rows are copied (and scaled): no N x d temporary
    if s["scale_codes"]:
        def prepare(rows):
            return minmax_scaled(codes[rows], mins, maxs)
    elif name in ("random_forest",) + CLASSIFIERS:  # trees: a power of two per code changes
        exponents = column_exponents(mins, maxs)  # no split, and keeps codes in float32 range

        def prepare(rows):
            return to_unit(codes[rows], exponents)
    else:  # a user's estimator on raw codes, as disentanglement_lib passes them
        def prepare(rows):
            return np.asarray(codes[rows], dtype=np.float64)
    x_fit = prepare(fit_rows)
    x_eval = x_fit if same_rows else prepare(eval_rows)
    if not classify:  # min-max scaling of the factors, applied to the selected rows only
        fmin, fmax = factor_range or (factors.min(axis=0), factors.max(axis=0))

    def targets(k, rows):
        if classify:
            return factors[rows, k]
        return minmax_scaled(factors[rows, k:k + 1], fmin[k:k + 1], fmax[k:k + 1])[:, 0]

    def score(model, k, x, rows):
        y, pred = targets(k, rows), model.predict(x)
        if classify:
            return float(np.mean(pred == y))
        return max(1.0 - 12.0 * float(np.mean((np.ravel(pred) - y) ** 2)), 0.0)

    # gradient boosting: every factor's trees in one kernel call, one team of threads
    boosted = (fit_boosted_factors(x_fit, [targets(k, fit_rows) for k in range(K)], seeds,
                                   total_threads(nt)) if name == "gradient_boosting" else None)

    def fit(k, inner):
        model, weights = (boosted[k] if boosted else
                          fit_factor(name, x_fit, targets(k, fit_rows), s, int(seeds[k]), inner))
        train = score(model, k, x_fit, fit_rows)
        test = train if same_rows else score(model, k, x_eval, eval_rows)
        return weights, train, test

    with progress_bar(K, "dci", progress) as bar:
        results = parallel_map(fit, range(K), total_threads(nt),
                               max_parallel=1 if serial(name) else None, callback=bar.update)
    importance = np.zeros((J, K))
    informativeness, informativeness_train = np.zeros(K), np.zeros(K)
    for k, (weights, train, test) in enumerate(results):
        importance[:, k] = weights
        informativeness_train[k], informativeness[k] = train, test
    return _result(importance, informativeness, informativeness_train, s, label, classify,
                   fit_rows, eval_rows)


def _result(importance, informativeness, informativeness_train, s, label, classify, fit_rows,
            eval_rows):
    """The DCIResult of the fitted predictors' importances and scores."""
    disentanglement, completeness = _aggregate(importance, s["aggregate"], s["reference_break"])
    label += " (accuracy)" if classify else " (1 - 12 MSE)"
    return DCIResult(disentanglement, completeness, informativeness.mean(), importance,
                     informativeness, informativeness_train.mean(), label,
                     len(fit_rows), len(eval_rows))


def _lasso_dci(factors, codes, fit_rows, eval_rows, code_range, factor_range, s, seeds, nt,
               progress):
    """The Lasso's importances and scores (test, train) of every factor, from the moments
    of the rows (:mod:`fastdis.metrics._lasso`): no copy of the rows, no prediction.
    ``factor_range``: the factors' (min, max) over all rows when ``factors`` holds only the
    selected ones (dask inputs), else None."""
    from ._lasso import column_range, lasso_scores

    fmin, fmax = factor_range or column_range(factors, total_threads(nt))
    if len(fit_rows) == len(factors):  # every row: the factors' own ranges say it
        lo, hi = fmin, fmax
    else:
        some = factors[fit_rows]
        lo, hi = some.min(axis=0), some.max(axis=0)
    if np.any(lo == hi):
        check_factors_vary(factors, fit_rows, "dci")  # raises, naming the factor
    with progress_bar(factors.shape[1], "dci", progress) as bar:
        scores = lasso_scores(codes, factors, fit_rows, eval_rows, code_range, (fmin, fmax),
                              seeds if s["shuffle_cv"] else None, s["refit_max_iter"],
                              total_threads(nt), bar.update)
    return scores.importance, scores.test, scores.train
