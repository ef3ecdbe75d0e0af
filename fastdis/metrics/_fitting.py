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
from .._kernels import legacy_heads, legacy_permutation
from .._validation import check_int, continuous_looking
from ._scale import column_exponents, to_unit


def is_numeric(factors):
    """Whether the factors are numbers (else labels: strings, objects, categories)."""
    return factors.dtype.kind in "iubf"


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
    """The number of distinct values of each factor on ``rows``: integers of a small span
    counted in a table (no sort), other values through np.unique."""
    sub = factors[rows]
    counts = []
    for k in range(sub.shape[1]):
        col = sub[:, k]
        if col.dtype.kind in "iu" and len(col):
            lo, hi = int(col.min()), int(col.max())
            # a table of at most 4 per row (and 32 MiB); col - lo then cannot overflow
            if hi - lo <= min(4 * len(col), 1 << 22) + 1024:
                counts.append(int(np.count_nonzero(np.bincount((col - lo).astype(np.intp)))))
                continue
        counts.append(len(np.unique(col)))
    return counts


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


def _unset(value):
    """None/False: the option is off (identity test: 0 is a (bad) value, not False)."""
    return value is None or value is False


def _caps(max_train, max_test):
    """The checked row caps (None: no cap)."""
    return (None if _unset(max_train) else check_int(max_train, "max_train", 2),
            None if _unset(max_test) else check_int(max_test, "max_test", 1))


def _split_sizes(n, train_fraction, metric):
    """The number of rows to fit on for a ``train_fraction`` split of ``n`` rows, checked."""
    fraction = float(train_fraction)
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"train_fraction must be in (0, 1) or False, got {train_fraction}")
    n_fit = int(np.ceil(fraction * n))
    if n - n_fit == 0 or n_fit < 2:
        raise ValueError(f"{metric}: {n} rows are too few for a {fraction:.0%} / "
                         f"{1 - fraction:.0%} train/test split")
    return n_fit


def split_rows(n, train_fraction, max_train, max_test, seed, metric, convention=None,
               n_threads=1):
    """Rows to fit on and rows to score on (index arrays; sorted, except a conventions'
    split that is not capped, which keeps ``RandomState``'s order as the references do).

    ``train_fraction`` None/False: every row, for both (the survey code), each then capped
    to a random subset of at most ``max_train`` / ``max_test`` rows (None/False: no cap).
    Otherwise a random split, ceil(fraction N) rows to fit on and the rest to score on,
    each capped the same way; the two sets are disjoint.

    ``convention`` "dlib" or "ubisoft" reproduces the references' draws exactly:
    ``RandomState(seed)``'s permutation of all N rows, whose first ceil(fraction N) fit
    (disentanglement_lib's split), then the capped subsets drawn by a second
    ``RandomState(seed)``; both shuffle all N rows. ``convention`` None draws only the
    rows it keeps, with a ``numpy.random.Generator`` seeded with ``seed``: a uniform
    sample of (capped fit + capped score) distinct rows, split in two. That is the same
    distribution of splits, in time and memory proportional to the rows kept (under 1 ms
    instead of 0.6 s at 10**7 rows) -- but not the same rows as the conventions' draw.
    ``seed``: an integer from :func:`fastdis._random.check_random_state`; ``n_threads``
    (checked): the conventions' two generators run side by side when it allows.
    """
    if _unset(train_fraction):
        cap_fit, cap_eval = _caps(max_train, max_test)
        if convention is None:
            rng = np.random.default_rng(seed)
            fit_rows = eval_rows = np.arange(n)
            if cap_fit is not None and n > cap_fit:
                fit_rows = np.sort(rng.choice(n, cap_fit, replace=False))
            if cap_eval is not None and n > cap_eval:
                eval_rows = np.sort(rng.choice(n, cap_eval, replace=False))
            return fit_rows, eval_rows
        return _legacy_rows(n, None, cap_fit, cap_eval, seed, n_threads)
    n_fit = _split_sizes(n, train_fraction, metric)
    cap_fit, cap_eval = _caps(max_train, max_test)
    if convention is None:
        k_fit = n_fit if cap_fit is None else min(n_fit, cap_fit)
        k_eval = n - n_fit if cap_eval is None else min(n - n_fit, cap_eval)
        rows = np.random.default_rng(seed).choice(n, k_fit + k_eval, replace=False)
        return np.sort(rows[:k_fit]), np.sort(rows[k_fit:])
    return _legacy_rows(n, n_fit, cap_fit, cap_eval, seed, n_threads)


# Tables of this many rows or more shuffle int64 rows (legacy_permutation), sequentially;
# below, the int32 jobs of legacy_heads.
_WIDE_ROWS = 2**31


def _legacy_rows(n, n_fit, cap_fit, cap_eval, seed, n_threads):
    """The conventions' rows (int64): ``RandomState(seed)``'s permutation of the ``n`` rows,
    the first ``n_fit`` to fit on and the rest to score on (``n_fit`` None: every row for
    both, nothing permuted), then each set over its cap replaced by the subset a second
    ``RandomState(seed)`` draws, the fit set's first: ``choice(rows, cap, replace=False)``,
    which is ``rows[permutation(len(rows))[:cap]]``, sorted.

    Only the first ``cap`` entries of the picker's permutations are needed, so its jobs
    skip the rest (:func:`fastdis._kernels.legacy_heads`); the split's generator and the
    picker's are independent (the same start, separate states), so they run side by side.
    """
    n_rows = (n, n) if n_fit is None else (n_fit, n - n_fit)
    caps = (cap_fit, cap_eval)
    cut = [caps[i] is not None and n_rows[i] > caps[i] for i in range(2)]
    picks = [(n_rows[i], caps[i]) for i in range(2) if cut[i]]
    streams = [] if n_fit is None else [(np.random.RandomState(seed), [(n, n)])]
    if picks:
        streams.append((np.random.RandomState(seed), picks))
    if n >= _WIDE_ROWS:  # 16 GB per code column: not worth a second kernel
        heads = [[legacy_permutation(rs, m)[:keep] for m, keep in sizes] for rs, sizes in streams]
    else:
        heads = legacy_heads(streams, n_threads)
    rows = None if n_fit is None else heads.pop(0)[0]
    picked = iter(heads[0] if picks else [])
    if rows is None and not any(cut):
        everything = np.arange(n)
        return everything, everything
    out = []
    for i, offset in enumerate((0, 0 if n_fit is None else n_fit)):
        if cut[i]:
            at = next(picked).astype(np.int64) + offset
            out.append(np.sort(at if rows is None else rows[at]).astype(np.int64))
        elif rows is None:
            out.append(np.arange(n))
        else:
            out.append(rows[offset:offset + n_rows[i]].astype(np.int64))
    return tuple(out)
