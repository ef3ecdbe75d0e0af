"""SAP's compiled scores: the exact LinearSVC fits of the classification variant
(csrc/svm.c) against scikit-learn and a plain numpy/scipy solver, and the regression
variant's one-pass moment sums (csrc/correlation.c) against numpy."""
import warnings

import numpy as np
import pytest
from scipy.optimize import minimize
from sklearn.svm import LinearSVC

import fastdis
from fastdis import _kernels
from fastdis.metrics._sap import squared_correlation


def _svm_data(seed, m, n=1500, n_test=600, kind="noisy", scale=1.0):
    """One factor of m classes and four codes: informative, rounded (ties), constant, and
    ``kind`` for the first: "noisy", "separable" or "imbalanced" labels."""
    rng = np.random.default_rng(seed)
    p = None
    if kind == "imbalanced":
        p = np.arange(1, m + 1) ** 2.0
        p /= p.sum()
    y = rng.choice(m, size=n + n_test, p=p)
    x = np.empty((4, n + n_test))
    x[0] = y * (5.0 if kind == "separable" else 1.0) + rng.normal(size=n + n_test) * (
        0.1 if kind == "separable" else 1.0)
    x[1] = np.round(y * 0.7 + rng.normal(size=n + n_test))
    x[2] = 2.5
    x[3] = rng.normal(size=n + n_test) - 3.0
    x *= scale
    return (np.ascontiguousarray(x[:, :n]), np.ascontiguousarray(x[:, n:]), y[None, :n].copy(),
            y[None, n:].copy(), np.array([m]))


def _sklearn_accuracy(x, xt, y, yt, tol):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings at tight tolerances
        clf = LinearSVC(C=0.01, class_weight="balanced", tol=tol, max_iter=100000)
        clf.fit(x[:, None], y)
    return np.mean(clf.predict(xt[:, None]) == yt)


@pytest.mark.parametrize("m", [2, 3, 7])
@pytest.mark.parametrize("kind", ["noisy", "separable", "imbalanced"])
def test_svm_accuracy_equals_linearsvc(m, kind):
    """Each fit is LinearSVC's optimum: the same held-out accuracy as scikit-learn solved to
    a tight tolerance, for every non-constant code (ties included)."""
    x, xt, y, yt, ncl = _svm_data(m * 10 + len(kind), m, kind=kind)
    got = _kernels.sap_svm(x, xt, y, yt, ncl, 0.01, 1)
    for j in (0, 1, 3):
        assert got[0, j] == _sklearn_accuracy(x[j], xt[j], y[0], yt[0], 1e-10), j


def test_svm_default_tolerance_flips_are_rare():
    """At its default tol=1e-4 liblinear stops short of the optimum; predictions near the
    boundary may differ (here at most 2 of 600 rows per fit)."""
    for seed in range(3):
        x, xt, y, yt, ncl = _svm_data(seed, 4)
        got = _kernels.sap_svm(x, xt, y, yt, ncl, 0.01, 1)
        for j in (0, 1, 3):
            assert abs(got[0, j] - _sklearn_accuracy(x[j], xt[j], y[0], yt[0], 1e-4)) * 600 <= 2


def test_svm_constant_code_predicts_one_class():
    """A constant code: every test row gets the same class (the one scikit-learn's rounding
    would pick among exact ties is arbitrary), so the accuracy is one class's frequency."""
    for m in (2, 5):
        x, xt, y, yt, ncl = _svm_data(m, m)
        got = _kernels.sap_svm(x, xt, y, yt, ncl, 0.01, 1)[0, 2]
        assert got in set(np.bincount(yt[0], minlength=m) / yt.shape[1])


def _naive_accuracy(x, xt, y, yt, C=0.01):
    """LinearSVC's problem from its definition, on codes scaled by 2**-e (e the exponent of the
    largest |x|; the penalty on w' = w 2**e is w'**2 2**-2e, clamped to 2**+-1000), minimised
    by scipy; one-vs-rest (negatives weighted C) for more than two classes."""
    e = np.frexp(np.abs(x).max())[1]
    reg = 2.0 ** (-2 * int(np.clip(e, -500, 500)))
    xs, xts = np.ldexp(x, -e), np.ldexp(xt, -e)
    classes, counts = np.unique(y, return_counts=True)
    weight = len(y) / (len(classes) * counts)

    def fit(sign, c_i):
        def f(p):
            r = np.maximum(0.0, 1.0 - sign * (p[0] * xs + p[1]))
            grad = -2.0 * np.array([np.sum(c_i * r * sign * xs), np.sum(c_i * r * sign)])
            return 0.5 * (reg * p[0] ** 2 + p[1] ** 2) + np.sum(c_i * r * r), grad + [reg * p[0], p[1]]
        return minimize(f, [0.0, 0.0], jac=True, method="BFGS", options=dict(gtol=1e-13)).x

    if len(classes) == 2:
        sign = np.where(y == classes[1], 1.0, -1.0)
        u, b = fit(sign, C * weight[np.searchsorted(classes, y)])
        pred = np.where(u * xts + b > 0, classes[1], classes[0])
    else:
        scores = []
        for c, w in zip(classes, weight):
            sign = np.where(y == c, 1.0, -1.0)
            u, b = fit(sign, np.where(y == c, C * w, C))
            scores.append(u * xts + b)
        pred = classes[np.argmax(scores, axis=0)]
    return np.mean(pred == yt)


@pytest.mark.parametrize("scale", [2.0 ** -1030, 1e-200, 1e-5, 1e5, 1e155, 1e300])
def test_svm_at_extreme_scales_matches_the_naive_solver(scale):
    """The fits work on codes divided by a power of two: no square overflows at 1e300 and
    no value is lost at 1e-310 (liblinear's own sums overflow there, and at 1e5 its default
    tolerance stops far from the optimum)."""
    x, xt, y, yt, ncl = _svm_data(5, 3, n=400, n_test=200, scale=scale)
    got = _kernels.sap_svm(x, xt, y, yt, ncl, 0.01, 1)
    for j in (0, 1, 3):
        assert abs(got[0, j] - _naive_accuracy(x[j], xt[j], y[0], yt[0])) * 200 <= 1, j


def test_svm_threads_and_degenerate_labels():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5, 20000))
    xt = rng.normal(size=(5, 3000))
    y = rng.integers(0, 6, size=(3, 20000))
    yt = rng.integers(0, 6, size=(3, 3000))
    y[1] = 4  # one class on the training rows: nothing to separate, score 0
    y[2] = np.where(y[2] == 5, 0, y[2])  # class 5 only in the test rows: never predicted
    x += y[0] * 0.5
    xt += yt[0] * 0.5
    ncl = np.array([6, 6, 6])
    one = _kernels.sap_svm(x, xt, y, yt, ncl, 0.01, 1)
    np.testing.assert_array_equal(one, _kernels.sap_svm(x, xt, y, yt, ncl, 0.01, 2))
    np.testing.assert_array_equal(one, _kernels.sap_svm(x, xt, y, yt, ncl, 0.01, 4))
    assert (one[1] == 0).all() and (one[0] > 0.2).all()
    assert (one[2] <= np.mean(yt[2] != 5)).all()


def test_svm_bad_input():
    x, xt = np.zeros((2, 10)), np.zeros((2, 4))
    y, yt, ncl = np.zeros((1, 10), dtype=np.int64), np.zeros((1, 4), dtype=np.int64), np.array([2])
    with pytest.raises(TypeError, match="x_train"):
        _kernels.sap_svm(x.astype(np.float32), xt, y, yt, ncl, 0.01, 1)
    with pytest.raises(ValueError, match="x_test must have shape"):
        _kernels.sap_svm(x, xt[:1], y, yt, ncl, 0.01, 1)
    with pytest.raises(ValueError, match="labels must lie"):
        _kernels.sap_svm(x, xt, y + 2, yt, ncl, 0.01, 1)
    with pytest.raises(ValueError, match="finite"):
        _kernels.sap_svm(x, xt * np.nan, y, yt, ncl, 0.01, 1)
    with pytest.raises(ValueError, match="C > 0"):
        _kernels.sap_svm(x, xt, y, yt, ncl, 0.0, 1)
    with pytest.raises(TypeError, match="numpy array"):
        _kernels.sap_svm(x.tolist(), xt, y, yt, ncl, 0.01, 1)


def test_sap_dlib_equals_linearsvc_on_the_same_split():
    """sap(convention="dlib") is disentanglement_lib's computation: LinearSVC per (code,
    factor) on the seeded split, here with labels that are strings and a factor with a value
    that only the test rows hold."""
    from fastdis.metrics._fitting import split_rows

    rng = np.random.default_rng(7)
    factors = rng.integers(0, 4, size=(3000, 2))
    factors[:5, 1] = 9
    codes = np.column_stack([factors + rng.normal(size=(3000, 2)), rng.normal(size=3000)])
    value, details = fastdis.sap(factors, codes, convention="dlib", random_state=11,
                                 return_details=True)
    train, test = split_rows(3000, 0.9, 10000, 5000, 11, "sap", "dlib")
    for k in range(2):
        for j in range(3):
            y, yt = factors[train, k], factors[test, k]
            want = _sklearn_accuracy(codes[train, j], codes[test, j], y, yt, 1e-10)
            assert details["scores"][k, j] == want
    labels = np.array(list("abcdefghij"))[factors]
    assert fastdis.sap(labels, codes, convention="dlib", random_state=11,
                       mode="classification") == value


@pytest.mark.parametrize("dtype", [np.int8, np.uint16, np.int64, np.uint64, np.float32,
                                   np.float64, bool])
def test_moments_equal_numpy_correlation(dtype):
    rng = np.random.default_rng(1)
    factors = rng.integers(0, 5, size=(5000, 3)).astype(dtype)
    if dtype == np.uint64:
        factors = factors * np.uint64(2**40) + np.uint64(2**63)  # past int64, exact in float64
    codes = np.column_stack([factors[:, 0] * 0.3 + rng.normal(size=5000), rng.normal(size=5000),
                             np.full(5000, 7.0)]).astype(np.float32 if dtype == np.float32 else np.float64)
    got = squared_correlation(factors, codes)
    f = factors.astype(np.float64)
    for k in range(3):
        for j in range(2):
            want = np.corrcoef(f[:, k], codes[:, j].astype(np.float64))[0, 1] ** 2
            assert got[k, j] == pytest.approx(want, abs=1e-6 if dtype == np.float32 else 1e-12)
    assert (got[:, 2] == 0).all()  # a constant code


def test_moments_thread_and_chunk_invariant():
    """Blocks of rows added in a fixed order: the same bits for any thread count, and when
    the binding splits the rows into calls (to answer Ctrl-C)."""
    rng = np.random.default_rng(2)
    factors = rng.integers(-3, 9, size=(70001, 4))
    codes = rng.normal(size=(70001, 6)) * 1e3 + 5e6
    args = (np.zeros(4, np.int64), np.full(6, 23, np.int64), factors[0].astype(float),
            np.ldexp(codes[0], -23))
    whole = _kernels.cross_moments(factors, codes, *args, 1)
    for nt in (2, 3):
        for a, b in zip(whole, _kernels.cross_moments(factors, codes, *args, nt)):
            np.testing.assert_array_equal(a, b)
    previous = _kernels.set_chunk_cells(5000)
    try:
        for a, b in zip(whole, _kernels.cross_moments(factors, codes, *args, 2)):
            np.testing.assert_array_equal(a, b)
    finally:
        _kernels.set_chunk_cells(previous)
    # strided (non-contiguous) inputs read the same values
    strided = _kernels.cross_moments(np.asfortranarray(factors), codes[:, :], *args, 2)
    for a, b in zip(whole, strided):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("convention", [None, "dlib"])
def test_classification_checks_the_rows_it_reads(convention):
    """SAP's classifiers read the split's rows only (as disentanglement_lib's): NaN or inf
    there is an error naming the column; in a row no classifier reads, it changes nothing."""
    from fastdis.metrics._fitting import split_rows

    rng = np.random.default_rng(3)
    factors = rng.integers(0, 3, size=(20000, 2))
    codes = np.column_stack([factors + rng.normal(size=(20000, 2)), rng.normal(size=20000)])
    kwargs = dict(convention=convention, mode="classification", random_state=4)
    value = fastdis.sap(factors, codes, **kwargs)
    train, test = split_rows(20000, 0.9, 10000, 5000, 4, "sap", convention)
    unread = np.setdiff1d(np.arange(20000), np.concatenate([train, test]))[0]
    for row, bad in [(train[7], np.nan), (test[3], -np.inf), (unread, np.nan)]:
        z = codes.copy()
        z[row, 1] = bad
        if row == unread:
            assert fastdis.sap(factors, z, **kwargs) == value
        else:
            with pytest.raises(ValueError, match="codes contains NaN or infinity in column 1"):
                fastdis.sap(factors, z, **kwargs)
