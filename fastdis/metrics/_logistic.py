"""scikit-learn's ``LogisticRegression`` model fitted to its exact optimum in C, and ROC-AUC.

:class:`Logistic` minimises scikit-learn's objective, ``C * sum_i s_i loss_i + |w|^2 / 2``
(intercept unpenalised, ``s_i`` the weight of row i's class: 1, or ``"balanced"``), by
Newton's method in csrc/logistic.c: binary for two classes, multinomial (softmax, one
vector per class, intercepts summing to 0) for more, as ``LogisticRegression()`` does since
scikit-learn 1.5. Each iteration is one pass over the rows and a Cholesky solve of the
small ``(d + 1) x classes`` system, so a fit takes a handful of passes and ends at the
optimum (Newton steps below ``tol``), where scikit-learn's lbfgs stops at its tolerance
somewhere near it: the two agree to that tolerance, whichever tolerance it was. The fit does
not depend on the number of threads.

:func:`roc_auc` is scikit-learn's ``roc_auc_score`` for one class (tied scores count one
half: the trapezoids of its curve), from two sorts and a merge.
"""
import numpy as np

from .. import _kernels


def balanced_weights(labels, n_classes):
    """scikit-learn's ``class_weight="balanced"``: n / (classes * rows of the class)."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    with np.errstate(divide="ignore"):
        return np.where(counts > 0, len(labels) / (n_classes * counts), 0.0)


class Logistic:
    """L2-regularised logistic regression, as ``LogisticRegression(C=C, class_weight=...)``
    with its lbfgs solver run to convergence.

    Parameters
    ----------
    C : float, default=1.0
        Inverse strength of the L2 penalty (> 0).
    class_weight : None or "balanced", default=None
        Weights of the rows of each class.
    tol : float, default=1e-8
        Stop when a Newton step is below ``tol * max(1, max |coef|)`` (the step is then
        taken: the error left is of the order of its square).
    max_iter : int, default=100
        Newton iterations at most.
    n_threads : int, default=1
        Threads of the passes over the rows (0: all available). The fit does not depend on it.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) for two classes, else (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)
    n_iter_ : int
    converged_ : bool
        False when max_iter was reached, or when no step along Newton's direction decreased
        the objective (the coefficients are then the last iterate).
    """

    def __init__(self, C=1.0, class_weight=None, tol=1e-8, max_iter=100, n_threads=1):
        self.C = C
        self.class_weight = class_weight
        self.tol = tol
        self.max_iter = max_iter
        self.n_threads = n_threads

    def fit(self, x, y):
        """Fit on features ``x`` (n_samples, n_features), finite, and labels ``y``."""
        return self.fit_columns(np.ascontiguousarray(np.asarray(x, dtype=np.float64).T), y)

    def fit_columns(self, columns, y):
        """:meth:`fit` on the features given column by column, C-contiguous
        (n_features, n_samples), or on their :func:`pyramid`: what the kernel reads, so
        that several fits on the same features prepare them once."""
        if self.class_weight not in (None, "balanced"):
            raise ValueError(f"class_weight must be None or 'balanced', got {self.class_weight!r}")
        levels = columns if isinstance(columns, list) else pyramid(columns)
        x = levels[0]
        self.classes_, labels = _encode(np.asarray(y).reshape(-1))
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError("Logistic needs at least two classes in y, got "
                             f"{n_classes}")
        weights = (balanced_weights(labels, n_classes) if self.class_weight == "balanced"
                   else np.ones(n_classes))
        multinomial = n_classes > 2
        coef = np.zeros((n_classes if multinomial else 1, x.shape[0] + 1))
        self.n_iter_, status = _newton(levels, labels, weights, n_classes, multinomial,
                                       float(self.C), float(self.tol), int(self.max_iter),
                                       coef, int(self.n_threads))
        self.converged_ = status == 1
        self.coef_, self.intercept_ = coef[:, :-1].copy(), coef[:, -1].copy()
        return self

    def decision_function(self, x):
        """Raw scores: (n_samples,) for two classes, else (n_samples, n_classes)."""
        scores = np.asarray(x, dtype=np.float64) @ self.coef_.T + self.intercept_
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict_proba(self, x):
        """Class probabilities, (n_samples, n_classes): the sigmoid for two classes
        ([1 - p, p]), the softmax otherwise."""
        scores = self.decision_function(x)
        if scores.ndim == 1:
            p = sigmoid(scores)
            return np.column_stack([1.0 - p, p])
        scores = scores - scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1, keepdims=True)
        return scores

    def predict(self, x):
        """The class of the largest score (the first of equal ones, as scikit-learn)."""
        scores = self.decision_function(x)
        index = (scores > 0).astype(int) if scores.ndim == 1 else np.argmax(scores, axis=1)
        return self.classes_[index]

    def score(self, x, y):
        """Accuracy of :meth:`predict` on (x, y)."""
        return float(np.mean(self.predict(x) == np.asarray(y)))


# Fits on more rows start from the fit on every _STRIDE-th row (the same problem: C scaled by
# the rows' total weight), so that most Newton iterations run on the subsample and a couple
# finish on all rows; a subsample of fewer than _MIN_ROWS rows is not worth it.
_STRIDE = 8
_MIN_ROWS = 1024


def pyramid(columns):
    """The features (n_features, n_samples) and their every 8th, 64th, ... sample, while a
    level has enough rows to warm-start the one above it."""
    levels = [columns]
    while levels[-1].shape[1] >= _STRIDE * _MIN_ROWS:
        levels.append(np.ascontiguousarray(levels[-1][:, ::_STRIDE]))
    return levels


def _encode(y):
    """(classes, labels as int32 0 .. classes - 1) of a 1-D array, as np.unique's inverse;
    booleans and integers without a sort."""
    if y.dtype == bool:
        present = [v for v in (False, True) if (y == v).any()]
        return np.array(present), (y.astype(np.int32) if len(present) == 2
                                   else np.zeros(len(y), np.int32))
    if y.dtype.kind in "iu" and len(y) and int(y.max()) - int(y.min()) < 4 * len(y) + 1024:
        low = y.min()
        counts = np.bincount((y - low).astype(np.intp))
        lut = (np.cumsum(counts > 0) - 1).astype(np.int32)
        return np.flatnonzero(counts).astype(y.dtype) + low, lut[y - low]
    classes, labels = np.unique(y, return_inverse=True)
    return classes, labels.astype(np.int32).reshape(-1)


def _newton(levels, labels, weights, n_classes, multinomial, C, tol, max_iter, coef,
            n_threads, hessian=None):
    """Fit coef in place (the kernel) on levels[0], warm-started on levels[1:] (every
    8th row: the same problem, C scaled by the rows' total weight); (iterations, status).

    The kernel's objective is divided by C times the rows' total weight, so the
    subsample's last Hessian, near its optimum, estimates this level's near its own: the
    first steps here borrow it (passes without the Hessian, which for the multinomial
    costs K (K - 1) / 2 blocks per row) while they shrink fast. ``hessian``: (P, P)
    scratch that receives the last Hessian, for the level above."""
    borrow = len(levels) > 1
    if hessian is None:
        hessian = np.empty((coef.size, coef.size))
    if multinomial and not borrow and not coef.any():
        discriminant_start(levels[0], labels, weights, n_classes, C, coef)
    if borrow:
        sub = np.ascontiguousarray(labels[::_STRIDE])
        ratio = weights[labels].sum() / weights[sub].sum()
        _newton(levels[1:], sub, weights, n_classes, multinomial, C * ratio, 1e-2, max_iter,
                coef, n_threads, hessian)
    return _kernels.logistic_fit(levels[0], labels, weights, n_classes, multinomial, C, tol,
                                 max_iter, coef, n_threads, hessian, borrow)


def discriminant_start(x, labels, weights, n_classes, C, coef):
    """Set coef (zeros) to linear discriminant analysis's classifier when its objective is
    lower than at zero: from the weighted class means m_k (centred on all rows' mean c)
    and the pooled within-class covariance S of x (d, n), w_k = S^-1 m_k and
    b_k = log(prior_k) - m_k.w_k / 2 - c.w_k, shifted to sum to 0 over the classes.

    Where the classes are Gaussian with a shared covariance (codes = factor + noise) this
    is close to the multinomial optimum, and Newton's method from it takes half the
    iterations it takes from zero (each a pass over the rows with a Hessian of
    K (K - 1) / 2 blocks). The optimum does not depend on where the fit starts. Not for
    the binary fits: their Hessian passes cost less than this."""
    d, n = x.shape
    s = weights[labels]
    mass = np.bincount(labels, weights=s, minlength=n_classes)
    present = mass > 0
    if d == 0 or np.count_nonzero(present) < 2:
        return
    with np.errstate(all="ignore"):  # non-finite x: the kernel reports it
        total = mass.sum()
        centre = (x * s).sum(axis=1) / total
        xc = x - centre[:, None]
        xs = xc * s
        # each column's sums per class at once: one count over (column, class) cells
        cells = (np.arange(d)[:, None] * n_classes + labels).ravel()
        sums = np.bincount(cells, weights=xs.ravel(), minlength=d * n_classes)
        means = np.zeros((n_classes, d))
        means[present] = sums.reshape(d, n_classes).T[present] / mass[present, None]
        # (einsum: no BLAS, whose threads would escape the caller's budget)
        cov = (np.einsum("ai,bi->ab", xs, xc) - np.einsum("k,ka,kb->ab", mass, means, means)) / total
        cov[np.diag_indices(d)] += 1e-9 * max(np.trace(cov) / d, np.finfo(float).tiny)
        try:
            w = np.linalg.solve(cov, means.T).T
        except np.linalg.LinAlgError:
            return
        prior = np.where(present, mass, 0.5 * mass[present].min()) / total
        b = np.log(prior) - 0.5 * np.einsum("ka,ka->k", means, w) - np.einsum("ka,a->k", w, centre)
        w[~present] = 0.0
        start = np.column_stack([w - w.mean(axis=0), b - b.mean()])
        if not np.isfinite(start).all():
            return
        # the kernel's objective (divided by C sum(s)); at zero every row's loss is log K
        z = np.einsum("ka,ai->ki", start[:, :-1], x) + start[:, -1:]
        top = z.max(axis=0)
        loss = top + np.log(np.exp(z - top).sum(axis=0)) - z[labels, np.arange(n)]
        value = (s * loss).sum() / total + 0.5 / (C * total) * np.sum(start[:, :-1] ** 2)
        better = value < np.log(n_classes)
    if better:
        coef[:] = start


def sigmoid(t, out=None):
    """1 / (1 + exp(-t)), in numpy (scipy's expit would load scipy's own BLAS in the middle
    of a call, outside its thread limit): exp(-t) overflows to infinity for t < -709, where
    the result, 0, is the sigmoid to within 1e-308; one exponential per value. ``out``: a
    float64 array of t's shape to write into (t itself: in place, no temporaries)."""
    t = np.asarray(t, dtype=np.float64)
    if out is None and t.ndim == 0:
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(-float(t)))
    e = np.negative(t, out=out)
    with np.errstate(over="ignore"):
        np.exp(e, out=e)
    e += 1.0
    return np.reciprocal(e, out=e)


def roc_auc(positive, score):
    """``roc_auc_score(positive, score)``: the probability that a positive row scores above a
    negative one, ties counting one half (the area under scikit-learn's ROC curve).

    Parameters
    ----------
    positive : ndarray of bool, shape (n,)
        Needs positive and negative rows.
    score : ndarray of float, shape (n,)

    Returns
    -------
    float
    """
    score = np.asarray(score, dtype=np.float64)
    pos = np.sort(score.take(np.flatnonzero(positive)))
    n_pos, n_neg = len(pos), len(score) - len(pos)
    # twice the Mann-Whitney U, an exact integer, from one merge of the positives with all
    # rows (a sort of all rows costs less than picking out the negatives): against all
    # rows, the positives count each other's pairs once each way and themselves twice,
    # n_pos^2 in all
    twice_u = _kernels.twice_mann_whitney(pos, np.sort(score)) - n_pos * n_pos
    return twice_u / (2.0 * n_pos * n_neg)
