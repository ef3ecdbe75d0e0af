"""What SAP, Explicitness and DCI share: rows to fit and score on, checks of the factors
as targets, and scalings of codes and factors that neither overflow nor underflow.

Scalings first divide each column by a power of two, 2**e with e the exponent of its
largest magnitude (``np.ldexp``, exact), so its values lie in [-1, 1]. Min-max scaling,
standardising and correlations are invariant to that factor, and because a power of two
commutes with rounding the results are bit for bit those of the unscaled formulas --
except where those overflow (ranges beyond 1.8e308, squares of values beyond 1.3e154) or
underflow (1 / range of codes below 5.6e-309, squares of values below 1.5e-154), where
the plain formulas give 0, inf or NaN and these give the right value.
"""
import numpy as np

from .._discretize import minmax_affine
from .._validation import check_int, continuous_looking


def is_numeric(factors):
    """Whether the factors are numbers (else labels: strings, objects, categories)."""
    return factors.dtype.kind in "iubf"


def column_exponents(lo, hi):
    """Per column, e such that ``np.ldexp(x, -e)`` lies in [-1, 1] for lo <= x <= hi."""
    big = np.maximum(np.abs(np.asarray(lo, dtype=np.float64)),
                     np.abs(np.asarray(hi, dtype=np.float64)))
    return np.frexp(big)[1]  # big = m 2**e with 0.5 <= m < 1 (e = 0 for 0)


def to_unit(x, exponents):
    """float64 ``x`` with column j divided by 2**exponents[j] (exact)."""
    return np.ldexp(np.asarray(x, dtype=np.float64), -exponents)


def minmax_scaled(x, mins, maxs):
    """scikit-learn's ``minmax_scale`` of x's columns to [0, 1] given their (min, max), bit
    for bit, without overflow (ranges beyond the float64 maximum) or underflow (1 / range
    of tiny codes)."""
    e = column_exponents(mins, maxs)
    scale, offset = minmax_affine(to_unit(mins, e), to_unit(maxs, e))
    return to_unit(x, e) * scale + offset


def standardised(x_fit, x_eval, mins, maxs):
    """Both sets of rows standardised with ``x_fit``'s column means and standard deviations
    (a zero deviation counts as 1); (mins, maxs) bound every column, and fix the power of
    two each is first divided by."""
    e = column_exponents(mins, maxs)
    x_fit = to_unit(x_fit, e)
    x_eval = x_fit if x_eval is None else to_unit(x_eval, e)
    mean, std = x_fit.mean(axis=0), x_fit.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (x_fit - mean) / std, (x_eval - mean) / std


def value_counts(factors, rows):
    """The number of distinct values of each factor on ``rows``."""
    return [len(np.unique(factors[rows, k])) for k in range(factors.shape[1])]


def check_factors_vary(factors, rows, metric):
    """Every factor needs two values on the fitting rows: there is nothing to predict else.
    Returns the number of values of each factor on those rows."""
    counts = value_counts(factors, rows)
    for k, count in enumerate(counts):
        if count < 2:
            raise ValueError(f"{metric}: factors column {k} has a single value on the fitting "
                             "rows; drop it (there is nothing to predict)")
    return counts


def check_classes(counts, n_rows, metric, remedy):
    """Refuse to classify a factor that looks continuous (more distinct values than half the
    fitting rows): one model per value would take minutes and say nothing; ``remedy`` says
    what to do instead."""
    looks = continuous_looking(counts, n_rows)
    if looks:
        raise ValueError(f"{metric}: {looks.replace(' rows', ' fitting rows')}, and a classifier "
                         f"would fit one model per value; {remedy}")


def split_rows(n, train_fraction, max_train, max_test, seed, metric):
    """Rows to fit on and rows to score on (sorted index arrays).

    ``train_fraction`` None/False: every row, for both (the survey code). Otherwise
    ``RandomState(seed)``'s permutation of the rows, whose first ceil(fraction N) fit
    (disentanglement_lib's split), then random subsets of at most ``max_train`` /
    ``max_test`` rows (None/False: no cap), drawn by a second ``RandomState(seed)``.
    ``seed``: an integer from :func:`fastdis._random.check_random_state`.
    """
    def unset(value):  # identity: 0 is a (bad) value, not False
        return value is None or value is False

    if unset(train_fraction):
        fit_rows = eval_rows = np.arange(n)
    else:
        fraction = float(train_fraction)
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"train_fraction must be in (0, 1) or False, got {train_fraction}")
        rows = np.random.RandomState(seed).permutation(n)
        n_fit = int(np.ceil(fraction * n))
        fit_rows, eval_rows = rows[:n_fit], rows[n_fit:]
        if len(eval_rows) == 0 or n_fit < 2:
            raise ValueError(f"{metric}: {n} rows are too few for a {fraction:.0%} / "
                             f"{1 - fraction:.0%} train/test split")
    picker = np.random.RandomState(seed)
    if not unset(max_train):
        cap = check_int(max_train, "max_train", 2)
        if len(fit_rows) > cap:
            fit_rows = np.sort(picker.choice(fit_rows, cap, replace=False))
    if not unset(max_test):
        cap = check_int(max_test, "max_test", 1)
        if len(eval_rows) > cap:
            eval_rows = np.sort(picker.choice(eval_rows, cap, replace=False))
    return fit_rows, eval_rows
