"""The C logistic regression (csrc/logistic.c, fastdis.metrics._logistic) against
scikit-learn's optimum and a numpy gradient of the objective, and ROC-AUC against
roc_auc_score."""
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from fastdis import _kernels
from fastdis.metrics._logistic import Logistic, roc_auc, sigmoid


def sklearn_fit(x, y, C=1.0, class_weight=None, tol=1e-14):
    """scikit-learn's model at its optimum: Newton-Cholesky run to a tight tolerance."""
    return LogisticRegression(C=C, class_weight=class_weight, solver="newton-cholesky",
                              tol=tol, max_iter=1000).fit(x, y)


def objective_gradient(x, y, coef, intercept, C, weights):
    """The gradient of C * sum_i s_i loss_i + |coef|^2 / 2 in plain numpy (binary when coef
    has one row, else softmax over the classes)."""
    classes = np.unique(y)
    s = weights[np.searchsorted(classes, y)]
    scores = x @ coef.T + intercept
    if coef.shape[0] == 1:
        p = 1 / (1 + np.exp(-scores[:, 0]))
        r = (s * (p - (y == classes[1])))[:, None]
    else:
        e = np.exp(scores - scores.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        r = s[:, None] * (p - (y[:, None] == classes[None, :]))
    return C * (r.T @ x) + coef, C * r.sum(axis=0)


def problem(n, d, k, seed, shift=0.5):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    x = rng.normal(size=(n, d))
    x[:, : min(d, 3)] += shift * y[:, None]
    return x, y


CASES = [  # (rows, codes, classes, class_weight, C)
    (300, 4, 2, None, 1.0),
    (500, 5, 2, "balanced", 0.3),
    (700, 3, 3, None, 1.0),
    (2000, 6, 5, None, 10.0),
    (9000, 4, 4, None, 1.0),     # warm-started from every 8th row
    (20000, 3, 2, "balanced", 1.0),
]


@pytest.mark.parametrize("n,d,k,cw,C", CASES)
def test_fit_is_scikit_learns_optimum(n, d, k, cw, C):
    x, y = problem(n, d, k, seed=n)
    if cw == "balanced":
        y = (y == 1).astype(int) if k == 2 else y
        y[: n // 10] = 1  # unbalanced classes: the weights matter
    ours = Logistic(C=C, class_weight=cw).fit(x, y)
    ref = sklearn_fit(x, y, C, cw)
    assert ours.converged_
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-7, atol=1e-9)
    weights = (len(y) / (k * np.bincount(y)) if cw == "balanced" else np.ones(k))
    g_coef, g_b = objective_gradient(x, y, ours.coef_, ours.intercept_, C, weights)
    scale = C * len(y)
    assert np.abs(g_coef).max() < 1e-9 * scale and np.abs(g_b).max() < 1e-9 * scale
    if k > 2:  # the representative of the intercepts scikit-learn's lbfgs reaches
        assert abs(ours.intercept_.sum()) < 1e-9
        ours.intercept_ += 1.0  # probabilities do not see a common shift
    np.testing.assert_allclose(ours.predict_proba(x), ref.predict_proba(x), rtol=1e-6, atol=1e-10)
    assert (ours.predict(x) == ref.predict(x)).mean() > 0.999
    assert ours.score(x, y) == pytest.approx(ref.score(x, y), abs=2 / n)


def test_separable_data_converge_to_the_penalised_optimum():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 2))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)  # separable: only the penalty bounds w
    for C in (1.0, 100.0):
        ours, ref = Logistic(C=C).fit(x, y), sklearn_fit(x, y, C)
        assert ours.converged_
        np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-6)
        np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-6, atol=1e-8)
    y3 = np.digitize(x[:, 0], [-0.5, 0.5])  # three classes, separable along one code
    ours, ref = Logistic(C=10.0).fit(x, y3), sklearn_fit(x, y3, 10.0)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=1e-8)


def test_constant_columns_and_extreme_scales():
    x, y = problem(800, 3, 3, seed=5)
    x = np.column_stack([x, np.full(800, 3.0), np.zeros(800)])
    ours, ref = Logistic().fit(x, y), sklearn_fit(x, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-7, atol=1e-10)
    assert (ours.coef_[:, -1] == 0).all()  # a zero column: only the penalty sees it
    for scale in (1e-4, 1e4):  # the penalty everything / nearly nothing
        xs = x[:, :3] * scale
        ours, ref = Logistic().fit(xs, y), sklearn_fit(xs, y, tol=1e-10)
        np.testing.assert_allclose(ours.predict_proba(xs), ref.predict_proba(xs), atol=1e-7)


def test_all_features_zero_gives_the_class_priors():
    y = np.repeat([0, 1, 2], [10, 30, 60])
    proba = Logistic().fit(np.zeros((100, 2)), y).predict_proba(np.zeros((1, 2)))
    np.testing.assert_allclose(proba[0], [0.1, 0.3, 0.6], rtol=1e-9)


@pytest.mark.parametrize("k", [2, 4])
def test_threads_and_call_cuts_do_not_change_the_fit(k):
    x, y = problem(40000, 5, k, seed=k)  # many chunks of rows
    one = Logistic(n_threads=1).fit(x, y)
    two = Logistic(n_threads=2).fit(x, y)
    assert np.array_equal(one.coef_, two.coef_) and np.array_equal(one.intercept_, two.intercept_)
    previous = _kernels.set_chunk_cells(1)  # one Newton iteration per kernel call
    try:
        cut = Logistic(n_threads=2).fit(x, y)
    finally:
        _kernels.set_chunk_cells(previous)
    assert np.array_equal(one.coef_, cut.coef_) and one.n_iter_ == cut.n_iter_



@pytest.mark.parametrize("k", [2, 5])
def test_a_borrowed_hessian_changes_the_path_not_the_optimum(k):
    """The kernel may start from a given Hessian (a subsample's fit's): good, wildly too
    large, too small or indefinite, it ends at scikit-learn's optimum, converged, and
    returns the last Hessian it computed, symmetric and positive definite."""
    x, y = problem(3000, 4, k, seed=7)
    ref = sklearn_fit(x, y)
    want = np.ascontiguousarray(np.column_stack([ref.coef_, ref.intercept_]))
    if k > 2:
        want[:, -1] -= want[:, -1].mean()  # the representative whose intercepts sum to 0
    cols, labels = np.ascontiguousarray(x.T), y.astype(np.int32)
    P = want.size
    good = np.empty((P, P))
    coef = np.zeros(want.shape)
    _kernels.logistic_fit(cols, labels, np.ones(k), k, k > 2, 1.0, 1e-10, 100, coef, 1, good)
    np.testing.assert_allclose(coef, want, rtol=1e-7, atol=1e-9)
    assert np.allclose(good, good.T) and np.linalg.eigvalsh(good).min() > 0
    rng = np.random.default_rng(0)
    indefinite = rng.normal(size=(P, P))
    for given in (good, good * 1e6, good * 1e-6, indefinite + indefinite.T, np.eye(P)):
        coef = np.zeros(want.shape)
        hessian = given.copy()
        n_iter, status = _kernels.logistic_fit(cols, labels, np.ones(k), k, k > 2, 1.0, 1e-10,
                                               100, coef, 1, hessian, True)
        assert status == 1 and n_iter < 100
        np.testing.assert_allclose(coef, want, rtol=1e-7, atol=1e-9)
    with pytest.raises(ValueError, match="hessian must be finite"):
        _kernels.logistic_fit(cols, labels, np.ones(k), k, k > 2, 1.0, 1e-8, 10,
                              np.zeros(want.shape), 1, np.full((P, P), np.nan), True)
    with pytest.raises(ValueError, match="hessian must have shape"):
        _kernels.logistic_fit(cols, labels, np.ones(k), k, k > 2, 1.0, 1e-8, 10,
                              np.zeros(want.shape), 1, np.eye(P + 1), True)
    with pytest.raises(ValueError, match="borrow needs a hessian"):
        _kernels.logistic_fit(cols, labels, np.ones(k), k, k > 2, 1.0, 1e-8, 10,
                              np.zeros(want.shape), 1, None, True)

def test_max_iter_stops_early():
    x, y = problem(500, 3, 3, seed=2)
    model = Logistic(max_iter=1).fit(x, y)
    assert model.n_iter_ == 1 and not model.converged_
    assert Logistic(max_iter=100).fit(x, y).converged_


def test_bad_input():
    x, y = problem(50, 2, 2, seed=0)
    with pytest.raises(ValueError, match="at least two classes"):
        Logistic().fit(x, np.zeros(50))
    with pytest.raises(ValueError, match="class_weight"):
        Logistic(class_weight="auto").fit(x, y)
    x[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity in x"):
        Logistic().fit(x, y)
    cols, labels = np.zeros((2, 50)), np.zeros(50, dtype=np.int32)
    coef = np.zeros((1, 3))
    with pytest.raises(TypeError, match="y must have dtype int32"):
        _kernels.logistic_fit(cols, labels.astype(np.int64), np.ones(2), 2, False, 1.0, 1e-8,
                              10, coef, 1)
    with pytest.raises(ValueError, match="coef must have shape"):
        _kernels.logistic_fit(cols, labels, np.ones(2), 2, False, 1.0, 1e-8, 10,
                              np.zeros((2, 3)), 1)
    with pytest.raises(ValueError, match=r"labels in \[0, 2\)"):
        _kernels.logistic_fit(cols, labels + 2, np.ones(2), 2, False, 1.0, 1e-8, 10, coef, 1)
    with pytest.raises(ValueError, match="C > 0"):
        _kernels.logistic_fit(cols, labels, np.ones(2), 2, False, 0.0, 1e-8, 10, coef, 1)
    with pytest.raises(ValueError, match="total weight"):
        _kernels.logistic_fit(cols, labels, np.array([0.0, 1.0]), 2, False, 1.0, 1e-8, 10,
                              coef, 1)
    with pytest.raises(ValueError, match="exactly 2 unless multinomial"):
        _kernels.logistic_fit(cols, labels, np.ones(3), 3, False, 1.0, 1e-8, 10, coef, 1)


def test_roc_auc_is_roc_auc_score():
    rng = np.random.default_rng(3)
    for n, levels in [(50, 3), (1000, 10), (5000, 1000), (300, 10**9)]:
        positive = rng.random(n) < 0.3
        score = rng.integers(0, levels, n) / levels + 0.2 * positive  # ties when levels is small
        assert roc_auc(positive, score) == pytest.approx(roc_auc_score(positive, score),
                                                         abs=1e-12)
    positive = np.array([True, False, True, False])
    assert roc_auc(positive, np.array([1.0, 1.0, 1.0, 1.0])) == 0.5
    assert roc_auc(positive, np.array([2.0, 1.0, 3.0, 0.0])) == 1.0


def test_roc_auc_of_columns_single_rows_and_all_ties():
    """A column of a (rows, classes) array (strided), a single positive or negative among
    many, and runs of ties on both sides of every positive: the merge of the sorted
    positives with all rows counts as scikit-learn does."""
    rng = np.random.default_rng(5)
    proba = rng.integers(0, 7, size=(2000, 3)) / 7.0
    labels = rng.integers(0, 3, 2000)
    for c in range(3):
        positive = labels == c
        assert roc_auc(positive, proba[:, c]) == pytest.approx(
            roc_auc_score(positive, proba[:, c]), abs=1e-12)
    score = rng.normal(size=500)
    for one in (np.arange(500) == 17, np.arange(500) != 17):
        assert roc_auc(one, score) == pytest.approx(roc_auc_score(one, score), abs=1e-12)
    twice = _kernels.twice_mann_whitney(np.array([1.0, 2.0, 2.0]), np.array([0.0, 1.0, 2.0, 2.0]))
    assert twice == (1 + 2) + (2 + 4) * 2  # 1: one below, one tied; 2: two below, two tied
    with pytest.raises(TypeError, match="pos"):
        _kernels.twice_mann_whitney(np.array([1, 2]), np.array([0.0]))


def test_labels_of_any_type_are_encoded_as_np_unique():
    from fastdis.metrics._logistic import _encode

    rng = np.random.default_rng(4)
    for y in (rng.integers(-3, 3, 200), rng.integers(0, 2, 200).astype(bool),
              np.full(10, True), rng.integers(0, 2**40, 50, dtype=np.uint64),
              rng.choice(np.array(["a", "b", "c"]), 100), rng.integers(0, 5, 300).astype(np.uint8)):
        classes, labels = _encode(y)
        want_classes, want_labels = np.unique(y, return_inverse=True)
        assert np.array_equal(classes, want_classes) and classes.dtype == want_classes.dtype
        assert np.array_equal(labels, want_labels) and labels.dtype == np.int32


@pytest.mark.slow
def test_fits_converge_where_the_objective_is_flat_at_rounding(monkeypatch):
    """On 800,000 rows the last Newton steps change the objective by less than the rounding
    of its sum over the rows: the Armijo test then failed forever (a fit ran to max_iter,
    40 s, halving its step 40 times per iteration). The gradient decides there instead:
    every fit of this explicitness call (one of them used to stall) converges in a few
    iterations, and its coefficients are scikit-learn's optimum."""
    import fastdis
    from fastdis.metrics import _logistic

    fits, newton = [], _logistic._newton

    def record(levels, labels, weights, n_classes, multinomial, C, tol, max_iter, coef, nt,
               hessian=None):
        result = newton(levels, labels, weights, n_classes, multinomial, C, tol, max_iter,
                        coef, nt, hessian)
        fits.append((result, levels[0], labels, weights, coef.copy()))
        return result

    monkeypatch.setattr(_logistic, "_newton", record)
    rng = np.random.default_rng(0)
    factors = rng.integers(0, 40, size=(1_000_000, 3))
    codes = np.column_stack([factors + rng.normal(size=(1_000_000, 3)),
                             rng.normal(size=(1_000_000, 3))])
    fastdis.explicitness(factors[:, :1], codes, random_state=0, n_threads=2, max_train=False,
                         max_test=False)
    top = [f for f in fits if f[1].shape[1] == 800_000]
    assert len(top) == 40
    assert all(status == 1 and n_iter <= 20 for (n_iter, status), *_ in top)
    # the fit that used to stall (class 11), against scikit-learn's Newton solver
    (_, x, y, w, coef) = top[11]
    ref = LogisticRegression(C=1.0, class_weight={0: w[0], 1: w[1]}, tol=1e-10, max_iter=100,
                             solver="newton-cholesky").fit(x.T, y)
    np.testing.assert_allclose(coef[0], np.append(ref.coef_[0], ref.intercept_), atol=1e-7)


def test_sigmoid_is_accurate_at_every_scale_without_warnings():
    # the naive formula in Python's arbitrary-range arithmetic: math.exp(-t) overflows only
    # past t = -709, where the expected value is 0 to within 1e-308
    import math
    t = np.concatenate([[-1e300, -1000.0, -745.2, -709.9, -700.0, -36.0, -1e-300, 0.0,
                         1e-300, 1.0, 36.0, 40.0, 800.0, 1e300],
                        np.random.default_rng(0).normal(scale=30.0, size=2000)])
    expected = np.array([0.0 if v < -709 else 1.0 / (1.0 + math.exp(-v)) for v in t])
    got = sigmoid(t)  # filterwarnings=error: an overflow warning fails the test
    assert np.allclose(got, expected, rtol=4e-16, atol=1e-307)
    assert sigmoid(-800.0) == 0.0 and sigmoid(0.0) == 0.5 and sigmoid(40.0) == 1.0
    assert sigmoid(t.reshape(2, -1)).shape == (2, len(t) // 2)


def naive_lda(x, y, weights, k):
    """Linear discriminant analysis written out (x: rows): weighted class means, pooled
    within-class covariance, w_k = S^-1 mu_k, b_k = log(prior_k) - mu_k.w_k / 2, both
    shifted to sum to 0 over the classes (the multinomial's representative)."""
    s = weights[y]
    total = s.sum()
    mu = np.array([np.average(x[y == c], axis=0, weights=s[y == c]) for c in range(k)])
    dev = x - mu[y]
    cov = (dev * s[:, None]).T @ dev / total
    w = np.linalg.solve(cov, mu.T).T
    prior = np.array([s[y == c].sum() for c in range(k)]) / total
    b = np.log(prior) - 0.5 * np.einsum("ka,ka->k", mu, w)
    return np.column_stack([w - w.mean(axis=0), b - b.mean()])


@pytest.mark.parametrize("weighted", [False, True])
def test_discriminant_start_is_linear_discriminant_analysis(weighted):
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from fastdis.metrics._logistic import discriminant_start
    x, y = problem(1500, 4, 5, seed=3, shift=1.5)
    x += 100.0  # an offset: the means are centred first
    weights = np.array([1.0, 2.0, 0.5, 1.0, 3.0]) if weighted else np.ones(5)
    coef = np.zeros((5, 5))
    discriminant_start(np.ascontiguousarray(x.T), y.astype(np.int32), weights, 5, 1.0, coef)
    np.testing.assert_allclose(coef, naive_lda(x, y, weights, 5), rtol=1e-6, atol=1e-6)
    if not weighted:  # and scikit-learn's, whose priors are the class frequencies
        lda = LinearDiscriminantAnalysis(solver="lsqr").fit(x, y)
        ref = np.column_stack([lda.coef_, lda.intercept_])
        ref -= ref.mean(axis=0)
        np.testing.assert_allclose(coef, ref, rtol=1e-6, atol=1e-6)


def test_discriminant_start_is_kept_only_when_better_and_the_optimum_does_not_move():
    from fastdis.metrics._logistic import discriminant_start
    x, y = problem(1200, 3, 4, seed=5, shift=2.0)
    cols, labels = np.ascontiguousarray(x.T), y.astype(np.int32)
    # a penalty so strong that the optimum is near zero: the start is refused
    coef = np.zeros((4, 4))
    discriminant_start(cols, labels, np.ones(4), 4, 1e-6, coef)
    assert not coef.any()
    # a class absent from the rows it is computed on (as in a subsample): a finite start,
    # from which the fit on all rows reaches the optimum it reaches from zero
    sub = np.where(labels == 2, 3, labels).astype(np.int32)
    coef = np.zeros((4, 4))
    discriminant_start(cols, sub, np.ones(4), 4, 1.0, coef)
    assert coef.any() and np.isfinite(coef).all()
    zero = np.zeros((4, 4))
    for start in (coef, zero):
        n_iter, status = _kernels.logistic_fit(cols, labels, np.ones(4), 4, True, 1.0, 1e-10,
                                               100, start, 1)
        assert status == 1
    np.testing.assert_allclose(coef, zero, rtol=1e-7, atol=1e-8)
    # non-finite codes: no start, no warning (the kernel reports them)
    cols[1, 5] = np.nan
    coef = np.zeros((4, 4))
    discriminant_start(cols, labels, np.ones(4), 4, 1.0, coef)
    assert not coef.any()
