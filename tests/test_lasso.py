"""DCI's Lasso from fold moments (csrc/lasso.c, fastdis/metrics/_lasso.py) against
scikit-learn's Lasso, KFold and cross-validation loop, and numpy's moments."""
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import KFold
from sklearn.preprocessing import minmax_scale

import fastdis
from fastdis import _kernels
from fastdis.metrics import _lasso
from fastdis.metrics._dci import _aggregate
from fastdis.metrics._fitting import minmax_scaled, split_rows


def _moments_naive(z, groups, n_groups):
    """Per group: [count, mean, centred comoment] of the rows of z, two passes in numpy."""
    p = z.shape[1]
    out = np.zeros((n_groups, 1 + p + p * p))
    for g in range(n_groups):
        zg = z[groups == g]
        if len(zg):
            mean = zg.mean(axis=0)
            out[g] = np.concatenate([[len(zg)], mean, ((zg - mean).T @ (zg - mean)).ravel()])
    return out


def _identity_maps(p):
    return np.ones(p), np.ones(p), np.ones(p), np.zeros(p)


def _problem(rng, n, d, kind):
    """Min-max scaled codes and target of a few shapes a Lasso meets."""
    x = rng.normal(size=(n, d))
    y = x[:, 0] - 0.5 * x[:, -1] + 0.3 * rng.normal(size=n)
    if kind == "collinear" and d > 1:
        x[:, 1] = x[:, 0]  # two equal codes
    if kind == "constant":
        x[:, 0] = 3.0
    if kind == "offset":  # far from zero relative to their spread
        x = 1e6 + x
    if kind == "tiny":
        x = x * 1e-300
    return minmax_scale(x), minmax_scale(y)


def _record(x, y):
    p = x.shape[1] + 1
    return _kernels.fold_moments(x, y[:, None].copy(), None, np.zeros(len(x), np.int32), 1,
                                 *_identity_maps(p), 1)[0]


# --- folds and scalings ------------------------------------------------------------------

@pytest.mark.parametrize("n", [10, 23, 1000])
@pytest.mark.parametrize("seed", [None, 0, 12345])
def test_kfold_groups_are_scikit_learns(n, seed):
    kfold = KFold(10) if seed is None else KFold(10, shuffle=True, random_state=seed)
    groups = _lasso.kfold_groups(n, 10, seed)
    for f, (_, test) in enumerate(kfold.split(np.zeros((n, 1)))):
        np.testing.assert_array_equal(np.flatnonzero(groups == f), np.sort(test))


def test_minmax_maps_are_minmax_scaled_bit_for_bit():
    rng = np.random.default_rng(0)
    for x in [rng.normal(size=(50, 3)) * [1.0, 1e6, 1e-3] + [0.0, 1e6, -5.0],
              rng.normal(size=(50, 2)) * 1e-310, rng.normal(size=(50, 2)) * 1e300,
              np.column_stack([np.full(50, 7.0), rng.integers(0, 9, size=50)]),
              np.array([[-1.7e308, 1e-320], [1.7e308, -1e-320]])]:
        u1, u2, scale, offset = _lasso.minmax_maps(x.min(axis=0), x.max(axis=0))
        got = ((x * u1) * u2) * scale + offset
        np.testing.assert_array_equal(got, minmax_scaled(x, x.min(axis=0), x.max(axis=0)))


# --- moments -----------------------------------------------------------------------------

@pytest.mark.parametrize("code_dtype", [np.float64, np.float32])
@pytest.mark.parametrize("target_dtype", [np.int8, np.uint16, np.int64, np.float32, np.float64])
def test_fold_moments_match_numpy(code_dtype, target_dtype):
    rng = np.random.default_rng(1)
    n, d, k, G = 40000, 4, 2, 11  # several chunks of 16384 rows, several blocks per group
    codes = rng.normal(size=(n, 2 * d)).astype(code_dtype)[:, ::2]  # strided columns
    targets = rng.integers(0, 100, size=(n, k)).astype(target_dtype)
    groups = rng.integers(0, G, size=n).astype(np.int32)
    u1, u2 = np.full(d + k, 0.5), np.ones(d + k)
    scale, offset = rng.uniform(0.5, 2.0, d + k), rng.normal(size=d + k)
    got = _kernels.fold_moments(codes, targets, None, groups, G, u1, u2, scale, offset, 2)
    z = (np.column_stack([codes.astype(np.float64), targets.astype(np.float64)]) * 0.5) * scale + offset
    np.testing.assert_allclose(got, _moments_naive(z, groups, G), rtol=1e-11, atol=1e-9)


def test_fold_moments_pick_rows_and_do_not_cancel():
    """Rows chosen by index (repeats allowed), codes at 1e6 + N(0, 1) and at 1e-3 scale:
    the centred moments keep their precision (raw sums would lose ~12 digits)."""
    rng = np.random.default_rng(2)
    n = 30000
    codes = np.column_stack([1e6 + rng.normal(size=n), 1e-3 * rng.normal(size=n),
                             np.full(n, 5.0)])
    targets = rng.integers(0, 3, size=(n, 1))
    rows = rng.integers(0, n, size=50000)
    groups = (np.arange(50000) % 7).astype(np.int32)
    got = _kernels.fold_moments(codes, targets, rows, groups, 7, *_identity_maps(4), 2)
    want = _moments_naive(np.column_stack([codes, targets])[rows], groups, 7)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    assert np.all(got[:, 1 + 4 + 2 * 4 + 2] == 0)  # the constant code: exactly no spread


def test_fold_moments_do_not_depend_on_threads_or_calls():
    rng = np.random.default_rng(3)
    n = 100000
    codes, targets = rng.normal(size=(n, 5)), rng.integers(0, 10, size=(n, 3))
    groups = _lasso.kfold_groups(n, 10, 0)
    args = (codes, targets, None, groups, 10, *_identity_maps(8))
    one = _kernels.fold_moments(*args, 1)
    np.testing.assert_array_equal(_kernels.fold_moments(*args, 2), one)
    np.testing.assert_array_equal(_kernels.fold_moments(*args, 3), one)
    previous = _kernels.set_chunk_cells(1)  # one call per kernel chunk
    try:
        np.testing.assert_array_equal(_kernels.fold_moments(*args, 2), one)
    finally:
        _kernels.set_chunk_cells(previous)
    merged = _kernels.moments_merge(one)
    np.testing.assert_allclose(merged, _moments_naive(np.column_stack([codes, targets]),
                                                      np.zeros(n, int), 1)[0], rtol=1e-10)


# --- one Lasso ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["plain", "collinear", "constant", "offset", "tiny"])
@pytest.mark.parametrize("n, d", [(300, 5), (8, 12), (40, 1)])
def test_lasso_fit_is_scikit_learns(kind, n, d):
    """The same coefficients and intercept as scikit-learn's Lasso, for alphas from 1e-4
    to beyond alpha_max (all zeros), n < d included."""
    rng = np.random.default_rng(n * d)
    x, y = _problem(rng, n, d, kind)
    rec = _record(x, y)
    for alpha in (1e-4, 1e-3, 0.01, 0.1, 1.0, 10.0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ref = Lasso(alpha=alpha, max_iter=5000).fit(x, y)
        coef, intercept, gap, gap_tol, n_iter = _kernels.lasso_fit(rec, d, d, alpha, 5000, 1e-4)
        np.testing.assert_allclose(coef, ref.coef_, atol=1e-9, rtol=1e-7)
        assert intercept == pytest.approx(ref.intercept_, abs=1e-9)
        assert abs(n_iter - ref.n_iter_) <= 1
        if alpha == 10.0:
            assert not coef.any() and n_iter == 0
        pred = x @ ref.coef_ + ref.intercept_
        assert _kernels.lasso_mse(rec, d, d, coef, intercept) == pytest.approx(
            mean_squared_error(y, pred), rel=1e-9, abs=1e-15)


def test_lasso_fit_reports_no_convergence_like_scikit_learn():
    rng = np.random.default_rng(5)
    x, y = _problem(rng, 200, 6, "collinear")
    with pytest.warns(ConvergenceWarning):
        ref = Lasso(alpha=1e-4, max_iter=2).fit(x, y)
    coef, _, gap, gap_tol, n_iter = _kernels.lasso_fit(_record(x, y), 6, 6, 1e-4, 2, 1e-4)
    assert n_iter == 2 and gap > gap_tol
    np.testing.assert_allclose(coef, ref.coef_, atol=1e-12)


# --- cross-validation and DCI ------------------------------------------------------------

def _survey_lasso(x, y, folds):
    """The survey's _fit_lasso with scikit-learn (its loop, scores and refit)."""
    best, best_mse = 0, np.inf
    for a in _lasso.ALPHAS:
        mses = []
        for train, test in folds.split(x):
            model = Lasso(alpha=a, max_iter=5000).fit(x[train], y[train])
            mses.append(mean_squared_error(y[test], model.predict(x[test])))
        if np.mean(mses) < best_mse:
            best, best_mse = a, np.mean(mses)
    return best


@pytest.mark.parametrize("kind", ["plain", "collinear", "offset"])
def test_lasso_cv_scores_are_cross_validations(kind):
    rng = np.random.default_rng(6)
    x, y = _problem(rng, 257, 4, kind)
    groups = _lasso.kfold_groups(len(x), 10, 3)
    folds = _kernels.fold_moments(x, y[:, None].copy(), None, groups, 10, *_identity_maps(5), 2)
    mse, n_iter, excess = _kernels.lasso_cv(folds, 4, 4, np.array(_lasso.ALPHAS), 5000, 1e-4, 2)
    kfold = KFold(10, shuffle=True, random_state=3)
    for a, alpha in enumerate(_lasso.ALPHAS):
        for f, (train, test) in enumerate(kfold.split(x)):
            model = Lasso(alpha=alpha, max_iter=5000).fit(x[train], y[train])
            assert mse[a, f] == pytest.approx(mean_squared_error(y[test], model.predict(x[test])),
                                              rel=1e-9)
    assert (excess <= 0).all() and n_iter.min() >= 0
    assert _lasso.ALPHAS[_lasso.select_alpha(mse.mean(axis=1))] == _survey_lasso(x, y, kfold)
    one = _kernels.lasso_cv(folds, 4, 4, np.array(_lasso.ALPHAS), 5000, 1e-4, 1)
    np.testing.assert_array_equal(one[0], mse)


def test_select_alpha_takes_the_first_of_ties():
    assert _lasso.select_alpha([0.3, 0.1, 0.1, 0.2]) == 1
    assert _lasso.select_alpha([np.nan, 0.5, 0.5]) == 1


def _survey_dci(factors, codes):
    """The survey's dci(model='lasso'): scaled columns, CV per factor, refit, scores on
    every row, its aggregation (with its break). Columns are scaled by minmax_scaled:
    scikit-learn's minmax_scale bit for bit, except that codes of range < 2.2e-15 (x 1e-300)
    are scaled too, not taken as constant (fastdis's documented choice)."""
    f = minmax_scaled(factors, factors.min(axis=0), factors.max(axis=0))
    c = minmax_scaled(codes, codes.min(axis=0), codes.max(axis=0))
    importance, info = np.zeros((codes.shape[1], factors.shape[1])), []
    for k in range(factors.shape[1]):
        model = Lasso(alpha=_survey_lasso(c, f[:, k], KFold(10))).fit(c, f[:, k])
        importance[:, k] = np.abs(model.coef_)
        info.append(max(1 - 12 * mean_squared_error(f[:, k], model.predict(c)), 0))
    return importance, np.mean(info)


def _dci_data(kind, n=600):
    rng = np.random.default_rng(7)
    factors = rng.integers(0, 6, size=(n, 3))
    codes = np.column_stack([factors + 0.5 * rng.normal(size=(n, 3)), rng.normal(size=(n, 2))])
    if kind == "offset":
        codes = 1e6 + codes
    elif kind == "scales":
        codes = codes * [1e-300, 1e300, 1.0, 1e-5, 7.0]
    elif kind == "collinear":
        codes[:, 3] = codes[:, 0]
    elif kind == "constant":
        codes[:, 4] = 2.5
    elif kind == "sorted":  # row-sorted grid: the unshuffled folds are blocks of a factor
        factors = factors[np.lexsort(factors.T[::-1])]
        codes = factors + 0.5 * rng.normal(size=factors.shape)
    return factors, codes


@pytest.mark.parametrize("kind", ["plain", "offset", "scales", "collinear", "constant", "sorted"])
def test_dci_ubisoft_is_the_survey_procedure(kind):
    factors, codes = _dci_data(kind)
    importance, informativeness = _survey_dci(factors, codes)
    r = fastdis.dci(factors, codes, convention="ubisoft")
    np.testing.assert_allclose(r.importance, importance, atol=1e-9)
    assert r.informativeness == pytest.approx(informativeness, abs=1e-9)
    d, c = _aggregate(importance, "survey", True)
    assert (r.disentanglement, r.completeness) == pytest.approx((d, c), abs=1e-9)


def test_dci_default_is_the_survey_procedure_on_its_split():
    """fastdis's default: shuffled folds seeded per factor, held-out scoring rows."""
    factors, codes = _dci_data("plain", 3000)
    seed = 11
    r = fastdis.dci(factors, codes, random_state=seed, max_train=1000, max_test=500)
    fit_rows, eval_rows = split_rows(len(factors), 0.8, 1000, 500, seed, "dci")
    seeds = np.random.RandomState(seed).randint(np.iinfo(np.int32).max, size=3)
    lo, hi = codes.min(axis=0), codes.max(axis=0)
    x_fit, x_eval = minmax_scaled(codes[fit_rows], lo, hi), minmax_scaled(codes[eval_rows], lo, hi)
    test, train = [], []
    for k in range(3):
        y = minmax_scaled(factors[:, k:k + 1], factors[:, k].min(), factors[:, k].max())[:, 0]
        alpha = _survey_lasso(x_fit, y[fit_rows], KFold(10, shuffle=True, random_state=seeds[k]))
        model = Lasso(alpha=alpha, max_iter=5000).fit(x_fit, y[fit_rows])
        np.testing.assert_allclose(r.importance[:, k], np.abs(model.coef_), atol=1e-9)
        test.append(max(0, 1 - 12 * mean_squared_error(y[eval_rows], model.predict(x_eval))))
        train.append(max(0, 1 - 12 * mean_squared_error(y[fit_rows], model.predict(x_fit))))
    assert r.informativeness == pytest.approx(np.mean(test), abs=1e-9)
    assert r.informativeness_train == pytest.approx(np.mean(train), abs=1e-9)


def test_dci_lasso_fits_no_scikit_learn_estimator_and_ignores_threads(monkeypatch):
    factors, codes = _dci_data("plain", 40000)

    def refuse(*args, **kwargs):
        raise AssertionError("scikit-learn's Lasso was fitted")

    monkeypatch.setattr(Lasso, "fit", refuse)
    one = fastdis.dci(factors, codes, convention="ubisoft", n_threads=1)
    two = fastdis.dci(factors, codes, convention="ubisoft", n_threads=2)
    np.testing.assert_array_equal(one.importance, two.importance)
    assert one.informativeness == two.informativeness


def test_dci_lasso_warns_when_a_fit_does_not_converge(monkeypatch):
    factors, codes = _dci_data("collinear")
    monkeypatch.setattr(_lasso, "CV_MAX_ITER", 1)
    with pytest.warns(ConvergenceWarning, match="Lasso fits stopped at max_iter"):
        fastdis.dci(factors, codes, convention="ubisoft")


def test_dci_lasso_label_and_bool_factors():
    factors, codes = _dci_data("plain")
    flags = factors > 2
    r = fastdis.dci(flags, codes, convention="ubisoft")
    np.testing.assert_array_equal(r.importance, fastdis.dci(flags.astype(np.uint8), codes,
                                                            convention="ubisoft").importance)
    assert r.estimator == "lasso (1 - 12 MSE)"


# --- bad input ---------------------------------------------------------------------------

def test_kernel_bindings_refuse_bad_input():
    rng = np.random.default_rng(8)
    codes, targets = rng.normal(size=(50, 3)), rng.integers(0, 3, size=(50, 1))
    groups, maps = np.zeros(50, np.int32), _identity_maps(4)
    with pytest.raises(TypeError, match="group must have dtype int32"):
        _kernels.fold_moments(codes, targets, None, groups.astype(np.int64), 1, *maps, 1)
    with pytest.raises(ValueError, match="group in"):
        _kernels.fold_moments(codes, targets, None, groups + 1, 1, *maps, 1)
    with pytest.raises(ValueError, match="rows must lie in"):
        _kernels.fold_moments(codes, targets, np.full(50, 50), groups, 1, *maps, 1)
    with pytest.raises(ValueError, match="same number of rows"):
        _kernels.fold_moments(codes, targets[:10], None, groups, 1, *maps, 1)
    with pytest.raises(ValueError, match="scale must have shape"):
        _kernels.fold_moments(codes, targets, None, groups, 1, *maps[:2], np.ones(3), maps[3], 1)
    with pytest.raises(TypeError, match="codes must have a float32 or float64"):
        _kernels.fold_moments(targets, targets, None, groups, 1, *_identity_maps(2), 1)
    folds = _kernels.fold_moments(codes, targets, None, _lasso.kfold_groups(50, 10), 10, *maps, 1)
    with pytest.raises(ValueError, match="1 \\+ p \\+ p \\* p"):
        _kernels.lasso_fit(folds[0, :-1], 3, 3, 0.1, 10, 1e-4)
    with pytest.raises(ValueError, match="1 <= d <= target < p"):
        _kernels.lasso_fit(folds[0], 3, 2, 0.1, 10, 1e-4)
    with pytest.raises(ValueError, match="alpha and tol must be >= 0"):
        _kernels.lasso_fit(folds[0], 3, 3, -0.1, 10, 1e-4)
    with pytest.raises(ValueError, match="alphas and tol must be >= 0"):
        _kernels.lasso_cv(folds, 3, 3, np.array([np.nan]), 10, 1e-4, 1)
    with pytest.raises(ValueError, match="at least 2 folds"):
        _kernels.lasso_cv(folds[:1], 3, 3, np.array([0.1]), 10, 1e-4, 1)
    empty = folds.copy()
    empty[4] = 0.0
    with pytest.raises(ValueError, match="at least 2 folds of at least one row"):
        _kernels.lasso_cv(empty, 3, 3, np.array([0.1]), 10, 1e-4, 1)
