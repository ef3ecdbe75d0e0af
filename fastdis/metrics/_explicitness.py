"""Explicitness (Ridgeway & Mozer, NeurIPS 2018)."""
import numpy as np

from .. import _dask, _kernels
from .._discretize import column_ranges
from .._information import factor_labels
from .._random import check_random_state
from .._threads import checkpoint, parallel_map, total_threads
from .._validation import check_n_threads, check_pair
from ._conventions import resolve
from ._fitting import check_classes, check_factors_vary, minmax_scaled, split_rows, standardised
from ._logistic import Logistic, pyramid, roc_auc, sigmoid

EXPLICITNESS = {
    # held-out AUC with factors as labels, subsampled for large N; else the survey's procedure
    None: dict(train_fraction=0.8, factor_bins=None, procedure="ovr", scale=True,
               max_train=10000, max_test=5000),
    # explicitness(impl=1): OvR logistic regressions, AUC on the fitting rows, factors binned
    "ubisoft": dict(train_fraction=None, factor_bins=10, procedure="ovr", scale=True,
                    max_train=False, max_test=False),
    # explicitness_per_factor on standardised codes, multinomial LogisticRegression()
    "dlib": dict(train_fraction=0.9, factor_bins=None, procedure="multinomial", scale=False,
                 max_train=10000, max_test=5000),
}


def _macro_auc(y_true, proba, classes):
    """Mean one-vs-rest ROC-AUC over the classes that have positives and negatives in
    y_true; proba (n_classes, n_rows), a class per row (contiguous: sorted faster)."""
    aucs = []
    for i, c in enumerate(classes):
        positive = y_true == c
        if 0 < np.count_nonzero(positive) < len(y_true):
            aucs.append(roc_auc(positive, proba[i]))
    return float(np.mean(aucs)) if aucs else float("nan")


def _ovr_tasks(y_fits):
    """(factor, positive class) of every binary fit of the one-vs-rest classifiers: one per
    value of each factor, or one (its second value) for a factor of two values."""
    classes = [np.unique(y) for y in y_fits]
    tasks = [(k, c) for k, cl in enumerate(classes) for c in (cl[1:] if len(cl) == 2 else cl)]
    return classes, tasks


def _ovr_proba(models, x_eval, n_classes):
    """LogisticRegression(class_weight="balanced", multi_class="ovr").predict_proba,
    transposed (n_classes, n_rows), from the features column by column (n_features,
    n_rows) and
    its binary fits (scikit-learn >= 1.8 has no multi_class=): each class fitted against
    the rest with 'balanced' weights of the binary labels, the sigmoids normalised to sum
    to 1 (for two classes: [1 - p, p]).

    Each fit ends at the optimum (:class:`Logistic`): what scikit-learn 0.23, the survey's,
    approached with lbfgs stopped on the gradient of the summed loss (since 1.1 the loss
    is averaged over the rows, so its default tol stops n times earlier, a little off it).
    """
    coef = np.concatenate([c for c, _ in models])
    intercept = np.concatenate([b for _, b in models])
    # every class's scores in one product, a class per row: the sums over classes and
    # the AUCs' sorts then run along contiguous rows
    prob = coef @ x_eval
    prob += intercept[:, None]
    sigmoid(prob, out=prob)  # in place: no more arrays of every row and class
    if n_classes == 2:
        return np.stack([1.0 - prob[0], prob[0]])
    prob /= prob.sum(axis=0)
    return prob


def _proba_rows(model, x_eval):
    """``model.predict_proba`` transposed, (n_classes, n_rows), from the features column
    by column (n_features, n_rows): a class per row, as :func:`_macro_auc` reads them."""
    scores = model.coef_ @ x_eval
    scores += model.intercept_[:, None]
    if len(scores) == 1:  # two classes: [1 - p, p]
        p = sigmoid(scores[0], out=scores[0])
        return np.stack([1.0 - p, p])
    scores -= scores.max(axis=0)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=0)
    return scores


def _used_ranges(codes, fit_rows, eval_rows, nt):
    """The rows fitted and scored on (x_fit, x_eval: None for the same rows) and their
    column (min, max) (NaN / inf there raise, naming the column)."""
    x_fit = codes[fit_rows]
    x_eval = None if eval_rows is fit_rows else codes[eval_rows]
    lo, hi = _kernels.code_minmax(x_fit, nt)
    if x_eval is not None:
        lo2, hi2 = _kernels.code_minmax(x_eval, nt)
        lo, hi = np.minimum(lo, lo2), np.maximum(hi, hi2)
    return x_fit, x_eval, lo, hi


def _dask_rows(factors, codes, fit_rows, eval_rows, factor_bins, multinomial):
    """Dask inputs: the selected rows gathered (renumbered), factors binned with the bins of
    all rows, and the code ranges the scaling reads (all rows' for min-max scaling)."""
    binned, factor_bins = _dask.check_factor_bins(factors, factor_bins)
    stats = None
    if binned or not multinomial:
        stats = _dask.statistics(factors, codes, factor_ranges=binned)
    factors, codes, (fit_rows, eval_rows) = _dask.gather(factors, codes, fit_rows, eval_rows)
    if binned:
        from .._discretize import apply_binning

        binning, _ = _dask.factor_binning(stats["levels"], stats["factor_ranges"], factor_bins,
                                          "minmax")
        factors = apply_binning(np.asarray(factors, dtype=np.float64), binning)
    mins, maxs = (_used_ranges(codes, fit_rows, eval_rows, 0)[2:] if multinomial
                  else stats["code_ranges"])
    return factors, codes, (fit_rows, eval_rows), mins, maxs


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
        Ground-truth factors, discrete labels (numbers or strings).
    codes : array-like of shape (n_samples, n_codes)
        The representation, real values.
    convention : {None, "ubisoft", "dlib"}, optional
        Reference implementation to reproduce; None is fastdis's default (see Notes).
    random_state : None, int, numpy Generator or RandomState, default=None
        Seed of the train/test split: an integer in [0, 2**32), a generator (one draw), or
        None for fresh entropy.
    n_threads : int, optional
        Threads in all: factors are fitted side by side, and the BLAS of each fit gets its
        share. Default all available.
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
        With ``convention=None`` the split draws only the rows it keeps (a seeded
        Generator), so its rows differ from the conventions' (``RandomState``'s
        permutation of all rows).
    return_details : bool, default=False
        Also return a dict with the ``per_factor`` AUCs (unscaled) and the numbers of rows
        fitted and scored (``n_train``, ``n_test``).

    Returns
    -------
    score : float
    details : dict, only with ``return_details=True``

    Raises
    ------
    ValueError
        A factor with a single value on the fitting rows, or with more distinct values than
        half of them (it looks continuous: one model per value would take minutes; bin it
        with ``factor_bins``).

    Notes
    -----
    Default: codes min-max scaled, one-vs-rest logistic regressions with balanced class
    weights (as the survey code), fitted on a seeded 80 % of the rows and scored on the
    other 20 % (the survey code scores on the rows it fitted). Every logistic regression
    is scikit-learn's model fitted to its exact optimum by Newton's method in C
    (:class:`fastdis.metrics._logistic.Logistic`), where scikit-learn's lbfgs stops at its
    tolerance near it. Values absent from the
    held-out rows are left out of that factor's average (disentanglement_lib crashes).
    ``convention="ubisoft"``: the survey code exactly -- factors min-max binned into 10
    bins, AUC on the fitting rows; its ``multi_class="ovr"`` classifier, which current
    scikit-learn rejects, is rebuilt from binary fits. ``convention="dlib"``:
    ``explicitness_per_factor`` -- codes standardised with the training rows' mean and
    standard deviation, a multinomial ``LogisticRegression()``, the test AUC unscaled, on
    ``RandomState(random_state)``'s permutation split (first ceil(0.9 N) rows train), with
    at most 10,000 train and 5,000 test rows (its num_train / num_test); it reads (and
    checks for NaN / infinity) only those rows, as disentanglement_lib does. Both scalings
    hold at any scale float64 holds (codes x 1e-310 or x 1e300 give the value of the
    unscaled codes, up to rounding).

    Examples
    --------
    >>> import fastdis
    >>> from fastdis.datasets import make_dsprites_like
    >>> factors, codes = make_dsprites_like("partial", small=True)
    >>> round(fastdis.explicitness(factors, codes, random_state=0), 3)
    0.947

    References
    ----------
    Ridgeway & Mozer, "Learning deep disentangled embeddings with the F-statistic loss",
    NeurIPS 2018, arXiv:1802.05312.
    Carbonneau, Zaidi, Boilard & Gagnon, "Measuring disentanglement: a review of metrics",
    IEEE Transactions on Neural Networks and Learning Systems, 2023, arXiv:2012.09276.
    """
    s = resolve("explicitness", convention, EXPLICITNESS, train_fraction=train_fraction,
                factor_bins=factor_bins, scale=scale, max_train=max_train, max_test=max_test)
    chunked = _dask.any_dask(factors, codes)
    factors, codes = (_dask.check_pair if chunked else check_pair)(factors, codes)
    nt = check_n_threads(n_threads)
    seed = check_random_state(random_state)
    multinomial = s["procedure"] == "multinomial"
    fit_rows, eval_rows = split_rows(codes.shape[0], s["train_fraction"], s["max_train"],
                                     s["max_test"], seed, "explicitness", convention, nt)
    gathered = None
    if chunked:  # ranges from the chunks, only the selected rows in memory
        factors, codes, (fit_rows, eval_rows), mins, maxs = _dask_rows(
            factors, codes, fit_rows, eval_rows, s["factor_bins"], multinomial)
    else:
        # standardising does not depend on the power of two each column is first divided
        # by (see _fitting): the ranges of the rows it reads do, without a pass over all
        if multinomial:
            *gathered, mins, maxs = _used_ranges(codes, fit_rows, eval_rows, nt)
        else:
            mins, maxs = column_ranges(codes, nt)
        factors = factor_labels(factors, s["factor_bins"], "minmax", nt)
    counts = check_factors_vary(factors, fit_rows, "explicitness")
    check_classes(counts, len(fit_rows), "explicitness",
                  "bin it first (factor_bins=..., or fastdis.discretize)")
    # only the selected rows are copied and scaled: no N x d temporary
    same_rows = eval_rows is fit_rows
    x_fit, x_eval = gathered or (codes[fit_rows], None if same_rows else codes[eval_rows])
    if multinomial:  # standardised with the training rows' statistics
        x_fit, x_eval = standardised(x_fit, x_eval, mins, maxs)
    else:
        x_fit = minmax_scaled(x_fit, mins, maxs)
        x_eval = x_fit if same_rows else minmax_scaled(x_eval, mins, maxs)

    budget, n_factors = total_threads(nt), factors.shape[1]
    y_fits = [factors[fit_rows, k] for k in range(n_factors)]
    # the features in the kernel's layout, prepared once for all fits
    columns = pyramid(np.ascontiguousarray(x_fit.T))
    eval_columns = columns[0] if same_rows else np.ascontiguousarray(x_eval.T)
    if s["procedure"] == "multinomial":
        def factor_auc(k, inner):
            model = Logistic(n_threads=inner).fit_columns(columns, y_fits[k])
            proba = _proba_rows(model, eval_columns)
            return _macro_auc(factors[eval_rows, k], proba, model.classes_)
    else:
        # the binary fits of all factors (each on every fitting row: the same cost) are
        # shared out in equal runs, a few per thread (so threads stay balanced, and the
        # per-task set-up is paid a few times, not per fit)
        classes, tasks = _ovr_tasks(y_fits)

        def fit(run, inner):
            out = []
            for k, c in run:
                checkpoint()  # between fits: an abandoned call stops here
                model = Logistic(class_weight="balanced", n_threads=inner)
                model.fit_columns(columns, y_fits[k] == c)
                out.append((model.coef_, model.intercept_))
            return out

        runs = np.array_split(np.arange(len(tasks)), min(len(tasks), 4 * budget))
        models = [m for run in parallel_map(fit, [[tasks[i] for i in r] for r in runs], budget)
                  for m in run]

        def factor_auc(k, inner):
            mine = [m for (j, _), m in zip(tasks, models) if j == k]
            proba = _ovr_proba(mine, eval_columns, len(classes[k]))
            return _macro_auc(factors[eval_rows, k], proba, classes[k])

    # whole rounds of one fit per thread, then the few fits left with the threads the others
    # leave (5 fits on 2 threads: 2 + 2, then 1 on both, not 2 + 2 + 1 with one idle);
    # a fit's value does not depend on its threads (fixed-order merges)
    whole = n_factors - n_factors % budget if n_factors > budget else n_factors
    per_factor = np.array(parallel_map(factor_auc, range(whole), budget)
                          + parallel_map(factor_auc, range(whole, n_factors), budget))
    auc = float(np.nanmean(per_factor))
    value = (auc - 0.5) * 2 if s["scale"] else auc
    details = dict(per_factor=per_factor, n_train=len(fit_rows), n_test=len(eval_rows))
    return (value, details) if return_details else value
