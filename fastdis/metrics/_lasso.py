"""DCI's Lasso: the survey's procedure (alpha among :data:`ALPHAS` by 10-fold
cross-validation, scikit-learn's ``Lasso(alpha, max_iter=5000)`` on each fold, the lowest
mean squared error, first on ties; then the refit on every fitting row), computed from
moments instead of rows.

A Lasso with an intercept sees its rows only through their centred moments (X^T X, X^T y,
y^T y and the means), and so does a model's squared error on any rows. One pass over the
rows (:func:`fastdis._kernels.fold_moments`, C) gives the moments of every fold, of the
codes and factors min-max scaled exactly as scikit-learn's ``minmax_scale`` scales them;
each fit is then scikit-learn's coordinate descent (same steps, screening and duality-gap
stop) on the d x d Gram matrix (:func:`fastdis._kernels.lasso_cv`, C), O(d^2) per sweep
instead of O(rows x d), and every score comes from a fold's moments: no prediction touches
a row. Each fit starts from zero, as scikit-learn's do (not warm along the path): the
same iterates, so the same stopping sweep, for the same coefficients up to rounding.
"""
import warnings

import numpy as np

from .. import _kernels
from .._discretize import minmax_affine
from .._threads import checkpoint
from ._scale import column_exponents, to_unit

ALPHAS = (0.0001, 0.001, 0.01, 0.1, 0.2, 0.4, 0.8, 1.0)  # the survey's
N_FOLDS = 10
CV_MAX_ITER = 5000  # the survey's Lasso(alpha=a, max_iter=5000) in its cross-validation
TOL = 1e-4  # scikit-learn's Lasso default


def kfold_groups(n, n_folds, seed=None):
    """The fold of each of ``n`` rows in scikit-learn's ``KFold(n_folds)``, or in
    ``KFold(n_folds, shuffle=True, random_state=seed)`` for an integer ``seed``:
    fold f is the f-th block of sizes n // n_folds (+1 for the first n % n_folds) of the
    rows, in order or in ``RandomState(seed).shuffle``'s order."""
    sizes = np.full(n_folds, n // n_folds)
    sizes[: n % n_folds] += 1
    folds = np.repeat(np.arange(n_folds, dtype=np.int32), sizes)
    if seed is None:
        return folds
    order = np.arange(n)
    np.random.RandomState(seed).shuffle(order)
    groups = np.empty(n, dtype=np.int32)
    groups[order] = folds
    return groups


def minmax_maps(mins, maxs):
    """(u1, u2, scale, offset) with ((x u1) u2) scale + offset bit for bit
    :func:`fastdis.metrics._fitting.minmax_scaled` of columns ranging over [mins, maxs]:
    u1 u2 = 2**-e in two powers of two that float64 holds (2**1073 does not)."""
    mins = np.asarray(mins, dtype=np.float64)
    maxs = np.asarray(maxs, dtype=np.float64)
    e = column_exponents(mins, maxs)
    first = np.clip(-e, -1074, 1000)
    scale, offset = minmax_affine(to_unit(mins, e), to_unit(maxs, e))
    return np.ldexp(1.0, first), np.ldexp(1.0, -e - first), scale, offset


def _as_kernel_dtype(a):
    """The factors as the kernels read them (booleans, float16, float128 as float64)."""
    native = a.dtype.isnative and (a.dtype.kind in "iu" or a.dtype in (np.float32, np.float64))
    return a if native else np.asarray(a, dtype=np.float64)


def column_range(a, n_threads):
    """Per-column (min, max) of validated (finite) numeric factors, in one threaded pass."""
    if a.dtype.kind in "iu" and a.dtype != np.uint64:  # uint64 beyond int64: numpy's
        lo, hi, _ = _kernels.int_scan(a, 0, n_threads)
        return lo, hi
    if a.dtype in (np.float32, np.float64):
        return _kernels.code_minmax(a, n_threads)
    return a.min(axis=0), a.max(axis=0)


def select_alpha(mean_mse):
    """Index of the lowest mean MSE, the first one on ties (the survey's ``mse < best``)."""
    best, best_mse = 0, np.inf
    for i, mse in enumerate(mean_mse):
        if mse < best_mse:
            best, best_mse = i, mse
    return best


def score(record, d, target, coef, intercept):
    """The survey's informativeness, max(0, 1 - 12 MSE), of a fit on a moments record."""
    return max(1.0 - 12.0 * _kernels.lasso_mse(record, d, target, coef, intercept), 0.0)


class LassoScores:
    """Per factor k: ``importance[:, k]`` (|w| of each code), ``alpha[k]`` (the CV's
    choice), ``test[k]`` and ``train[k]`` (informativeness on the scoring and fitting
    rows); ``unconverged``: fits that stopped at max_iter above the tolerance."""

    def __init__(self, n_codes, n_factors):
        self.importance = np.zeros((n_codes, n_factors))
        self.alpha = np.zeros(n_factors)
        self.test = np.zeros(n_factors)
        self.train = np.zeros(n_factors)
        self.unconverged = 0


def lasso_scores(codes, factors, fit_rows, eval_rows, code_range, factor_range, fold_seeds,
                 refit_max_iter, n_threads, callback=None):
    """DCI's Lasso of every factor on the codes.

    Parameters
    ----------
    codes, factors : ndarray of shape (n_samples, d) and (n_samples, K)
        Validated codes (float) and numeric factors; both are min-max scaled with the
        ranges ``code_range`` / ``factor_range`` ((mins, maxs) per column).
    fit_rows, eval_rows : ndarray of int
        Rows fitted (and cross-validated) on and rows scored on; ``eval_rows is fit_rows``
        scores on the fitting rows (the survey code).
    fold_seeds : None or sequence of int
        None: scikit-learn's unshuffled ``KFold(10)`` for every factor (the survey's);
        else factor k's folds shuffled with ``fold_seeds[k]``.
    refit_max_iter : int
        ``max_iter`` of the refit on all the fitting rows.
    n_threads : int
        Threads of the moments pass and of the cross-validation fits.
    callback : callable, optional
        Called after each factor (a progress bar).

    Returns
    -------
    LassoScores
    """
    d, K = codes.shape[1], factors.shape[1]
    factors = _as_kernel_dtype(factors)
    same = eval_rows is fit_rows
    n_fit = len(fit_rows)
    # every row, in order, is read without an index array
    rows = None if same and n_fit == len(codes) and (n_fit == 0 or (
        fit_rows[0] == 0 and fit_rows[-1] == n_fit - 1 and np.all(np.diff(fit_rows) == 1))) \
        else np.ascontiguousarray(fit_rows if same else np.concatenate([fit_rows, eval_rows]),
                                  dtype=np.int64)
    code_maps = minmax_maps(*code_range)
    factor_maps = minmax_maps(*factor_range)
    alphas = np.array(ALPHAS)
    out = LassoScores(d, K)

    def moments(columns, seed):
        groups = kfold_groups(n_fit, N_FOLDS, seed)
        if not same:  # the scoring rows: one more group
            groups = np.concatenate([groups, np.full(len(eval_rows), N_FOLDS, dtype=np.int32)])
        maps = [np.concatenate([c, f[columns]]) for c, f in zip(code_maps, factor_maps)]
        return _kernels.fold_moments(codes, factors[:, columns], rows, groups,
                                     N_FOLDS + (not same), *maps, n_threads)

    shared = moments(slice(None), None) if fold_seeds is None else None
    for k in range(K):
        checkpoint()
        if shared is None:  # factor k's own shuffled folds: its own pass
            m, target = moments(slice(k, k + 1), int(fold_seeds[k])), d
        else:
            m, target = shared, d + k
        folds = m[:N_FOLDS]
        mse, _, excess = _kernels.lasso_cv(folds, d, target, alphas, CV_MAX_ITER, TOL, n_threads)
        best = select_alpha(mse.mean(axis=1))  # cross_val_score's mean over the folds
        everything = _kernels.moments_merge(folds)
        coef, intercept, gap, gap_tol, _ = _kernels.lasso_fit(everything, d, target,
                                                              alphas[best], refit_max_iter, TOL)
        out.importance[:, k] = np.abs(coef)
        out.alpha[k] = alphas[best]
        out.train[k] = score(everything, d, target, coef, intercept)
        out.test[k] = out.train[k] if same else score(m[N_FOLDS], d, target, coef, intercept)
        out.unconverged += int((excess > 0).sum()) + int(gap > gap_tol)
        if callback is not None:
            callback()
    if out.unconverged:
        from sklearn.exceptions import ConvergenceWarning

        warnings.warn(f"dci: {out.unconverged} of the {K * (len(ALPHAS) * N_FOLDS + 1)} Lasso "
                      "fits stopped at max_iter before the duality gap reached the tolerance "
                      "(as scikit-learn's Lasso would: their coefficients are those it returns)",
                      ConvergenceWarning, stacklevel=3)
    return out
