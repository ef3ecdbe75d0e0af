"""The one entropy / mutual-information path: plug-in estimates from contingency tables.

Every information metric goes through :func:`information_from_histogram`, which
reads the joint histogram of all (factor, code) pairs once and returns
I(v_k; z_j), H(v_k), H(z_j) and H(v_k, z_j) in nats.
"""
import warnings
from dataclasses import dataclass

import numpy as np

from . import _dask
from ._discretize import (STRATEGIES, Binning, apply_binning, make_binning,
                          range_strategy_binning)
from ._encode import FactorLevels, _unique_column
from ._histogram import JointHistogram
from ._shared import shared
from ._warnings import DegenerateWarning
from ._validation import (BIN_HINT, check_base, check_choice, check_factors, check_int,
                          check_n_bins, check_n_threads, check_pair, continuous_looking,
                          label_array)

__all__ = ["entropy", "mutual_info_matrix"]


def _entropy_of_counts(counts, n):
    """Plug-in entropy (nats) of each row of counts summing to n: sum (c / n) log(n / c).

    Term by term rather than log n - sum(c log c) / n: the latter leaves a rounding
    residue (4e-16 for 23 equal labels) where a single nonzero count -- a constant
    variable -- has entropy exactly 0, and a constant factor with entropy 4e-16 scored
    MIG 1.0 instead of being left out."""
    c = np.asarray(counts, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(c > 0, c * np.log(n / np.where(c > 0, c, 1.0)), 0.0)
    return terms.sum(axis=-1) / n


@dataclass
class Information:
    """Plug-in information quantities of every (factor, code) pair, in nats."""

    mutual_info: np.ndarray      # (n_factors, n_codes)  I(v_k; z_j)
    factor_entropy: np.ndarray   # (n_factors,)          H(v_k)
    code_entropy: np.ndarray     # (n_codes,)            H(z_j)
    joint_entropy: np.ndarray    # (n_factors, n_codes)  H(v_k, z_j)
    n_bins: int
    n_samples: int
    # the count tables it came from, per factor (n_levels_k, n_codes, n_bins), or None
    # (a posterior estimator's record): what the bootstrap resamples
    tables: list = None


def information_from_histogram(hist):
    """Mutual information and entropies of every (factor, code) pair of a JointHistogram."""
    n = hist.n_samples
    K, d = hist.n_factors, hist.n_codes
    h_joint = np.empty((K, d))
    h_factor = np.empty(K)
    for k in range(K):
        t = hist.counts[hist.level_offsets[k]:hist.level_offsets[k + 1]]  # (n_k, d, B)
        h_joint[k] = _entropy_of_counts(t.transpose(1, 0, 2).reshape(d, -1), n)
        h_factor[k] = _entropy_of_counts(t[:, 0, :].sum(axis=1), n)
    first = hist.counts[hist.level_offsets[0]:hist.level_offsets[1]]
    h_code = _entropy_of_counts(first.sum(axis=0), n)  # (d,)
    mi = h_factor[:, None] + h_code[None, :] - h_joint
    # I <= min(H(v), H(z)) and >= 0; clip the round-off of the entropy sum
    mi = np.clip(mi, 0.0, np.minimum(h_factor[:, None], h_code[None, :]))
    tables = [hist.counts[hist.level_offsets[k]:hist.level_offsets[k + 1]] for k in range(K)]
    return Information(mi, h_factor, h_code, h_joint, hist.n_bins, n, tables)


def factor_labels(factors, factor_bins, strategy, n_threads):
    """Factors as labels: as given (factor_bins None or False), or binned like codes into
    factor_bins equal-width bins (the survey code's continuous_factors=True)."""
    if factor_bins is None or factor_bins is False:
        return factors
    factor_bins = check_int(factor_bins, "factor_bins", 2, 65535)
    if factors.dtype.kind not in "iuf":
        raise TypeError(f"factor_bins needs numeric factors, got dtype {factors.dtype}")
    as_codes = np.asarray(factors, dtype=np.float64)
    binning = make_binning(as_codes, factor_bins, strategy, None, n_threads)
    return apply_binning(as_codes, binning, n_threads)


def grouping_labels(factors, factor_bins, strategy, n_threads):
    """``(labels, levels)``: labels that group the rows exactly as
    ``factor_labels(factors, factor_bins, strategy, n_threads)`` does, levels in the same
    order, and their :class:`FactorLevels` when already known (else None).

    Binning with ``"uniform"`` or ``"minmax"`` depends on each column's min and max alone,
    so the label of an integer factor value is a function of the value: the factor's few
    levels are binned (the same kernel on the same float64 values) instead of every row.
    When no two levels of a factor share a bin (integer factors with at most factor_bins
    values, the usual case) the binning is a monotone relabelling: the factors themselves
    group the rows identically, without a pass over them; otherwise each row's label is
    looked up from its level's bin (one gather instead of a conversion and a binning)."""
    if factor_bins is None or factor_bins is False:
        return factors, None
    factor_bins = check_int(factor_bins, "factor_bins", 2, 65535)
    if factors.dtype.kind not in "iu" or strategy not in ("uniform", "minmax"):
        return factor_labels(factors, factor_bins, strategy, n_threads), None
    levels = FactorLevels.from_data(factors, n_threads)
    if levels._lut is None or (levels.n_levels == 0).any():  # spans too wide for a table
        return factor_labels(factors, factor_bins, strategy, n_threads), None
    bins = _level_bins(levels.values, factor_bins, strategy)
    if all((np.diff(b.astype(np.int64)) > 0).all() for b in bins):
        return factors, levels
    return _relabelled(factors, levels, bins), None


def _level_bins(values, factor_bins, strategy):
    """The bin of each level of each factor: the binning of the factors' float64 values
    (whose column min and max are those of the levels), applied to the levels."""
    as_float = [np.asarray(v, dtype=np.float64) for v in values]
    mins = np.array([v[0] for v in as_float])
    maxs = np.array([v[-1] for v in as_float])
    binning = range_strategy_binning(mins, maxs, np.dtype(np.float64), factor_bins, strategy)
    table = np.empty((max(len(v) for v in as_float), len(as_float)))
    for k, v in enumerate(as_float):  # short columns padded with their last level
        table[:len(v), k] = v
        table[len(v):, k] = v[-1]
    labels = apply_binning(table, binning, 1)
    return [labels[:len(v), k] for k, v in enumerate(as_float)]


def _relabelled(factors, levels, bins):
    """Each row's label, looked up from its level's bin through the levels' lookup table
    (value - min -> level)."""
    lut, offsets, spans, mins = levels._lut
    out = np.empty(factors.shape, dtype=bins[0].dtype)
    for k, b in enumerate(bins):
        level = lut[offsets[k]:offsets[k] + spans[k]]
        by_value = b[np.maximum(level, 0)]  # -1: a value absent from the data, never read
        out[:, k] = by_value[factors[:, k].astype(np.int64) - mins[k]]
    return out


def _check_level_counts(n_levels, n_rows):
    """Warn about factors that look continuous (the histogram refuses tables too large)."""
    looks = continuous_looking(n_levels, n_rows)
    if looks:
        warnings.warn(f"{looks}, and plug-in mutual information with mostly unique values says "
                      f"little; {BIN_HINT}", DegenerateWarning,
                      stacklevel=_caller_outside_fastdis())


def _caller_outside_fastdis():
    """stacklevel (for a warning raised by our caller) of the first frame outside fastdis."""
    import os
    import sys

    package = os.path.dirname(os.path.abspath(__file__))
    level, frame = 2, sys._getframe(2)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level


# Integer factors of at least this many rows first try the levels of every _STRIDE-th row.
_SAMPLED_LEVELS_ROWS = 1 << 17
_STRIDE = 64


def _count(labels, codes, binning, nt):
    """The filled JointHistogram of labels and codes.

    The factor levels usually come from a full pass over the factors. For large integer
    factors, the levels seen in every 64th row are tried first: the counting pass checks
    every value against them and reports a value without a level, so when it succeeds they
    are exactly the data's levels, and the full level pass was saved (~13 % of the call at
    10^7 rows). When a value is missing from the sample, the full pass and a second
    counting pass follow: same result, one wasted pass.
    """
    if labels.dtype.kind in "iu" and labels.shape[0] >= _SAMPLED_LEVELS_ROWS:
        sample = labels[::_STRIDE]
        levels = FactorLevels.from_data(sample, nt)
        if levels._lut is not None and (2 * levels.n_levels <= sample.shape[0]).all():
            hist = JointHistogram._from_parts(levels, binning, n_threads=nt)
            if hist._add(labels, codes, missing_level_ok=True):
                return hist
    levels = FactorLevels.from_data(labels, nt)
    _check_level_counts(levels.n_levels, codes.shape[0])
    hist = JointHistogram._from_parts(levels, binning, n_threads=nt)
    hist._add(labels, codes)
    return hist


def compute_information(factors, codes, *, n_bins=20, strategy="uniform", code_range=None,
                        factor_bins=None, n_threads=None):
    """Validate, discretise and histogram once; return :class:`Information` (nats).
    Dask arrays: the same record from the chunks' tables (:mod:`fastdis._dask`)."""
    chunked = _dask.any_dask(factors, codes)
    factors, codes = (_dask.check_pair if chunked else check_pair)(factors, codes)
    n_bins = check_n_bins(n_bins)
    if strategy not in STRATEGIES + ("minmax",):
        check_choice(strategy, "strategy", STRATEGIES)
    nt = check_n_threads(n_threads)

    def compute():
        if chunked:
            return _dask.information(factors, codes, n_bins, strategy, code_range, factor_bins)
        labels = factor_labels(factors, factor_bins, strategy, nt)
        binning = make_binning(codes, n_bins, strategy, code_range, nt)
        return information_from_histogram(_count(labels, codes, binning, nt))

    rng = None if code_range is None else np.asarray(code_range, dtype=np.float64).tobytes()
    return shared("information", (factors, codes), (n_bins, strategy, rng, factor_bins), compute)


def _in_base(values, base):
    return values if base is None else values / np.log(base)


def mutual_info_matrix(factors, codes, n_bins=20, base=None, n_threads=None, *,
                       strategy="uniform", code_range=None, factor_bins=None):
    """Mutual information I(v_k; z_j) between every factor and every binned code.

    Codes are discretised (see :func:`fastdis.discretize`); factors are taken as
    labels.  All ``n_factors * n_codes`` contingency tables are counted in one
    parallel pass over the rows, and I is the plug-in estimate

    .. math:: I(v; z) = \\sum_{a,b} p(a, b) \\log \\frac{p(a, b)}{p(a) p(b)},

    equal to ``sklearn.metrics.mutual_info_score`` on the same labels.

    Parameters
    ----------
    factors : array-like of shape (n_samples, n_factors)
        Ground-truth factors, any integer, float or string labels.
    codes : array-like of shape (n_samples, n_codes)
        Real-valued representation.
    n_bins : int, default=20
        Bins per code.
    base : float, optional
        Logarithm base; default natural log (nats); 2 gives bits.
    n_threads : int, optional
        Threads; default all available. The result does not depend on it.
    strategy : {"uniform", "quantile"}, default="uniform"
        Code binning, see :func:`fastdis.discretize`.
    code_range : (low, high) or array-like of shape (n_codes, 2), optional
        Known code range: skips the min/max pass (``"uniform"`` only).
    factor_bins : int, optional
        Bin numeric factors into this many equal-width bins first (for continuous
        factors); default: factors are labels as given.

    Returns
    -------
    ndarray of shape (n_factors, n_codes)

    Examples
    --------
    >>> import numpy as np, fastdis
    >>> f = np.array([[0], [0], [1], [1]])
    >>> z = np.array([[0.0], [0.1], [0.9], [1.0]])
    >>> float(np.round(fastdis.mutual_info_matrix(f, z, n_bins=2, base=2)[0, 0], 6))
    1.0
    """
    base = check_base(base)
    check_choice(strategy, "strategy", STRATEGIES)  # "minmax" is the survey convention's only
    info = compute_information(factors, codes, n_bins=n_bins, strategy=strategy,
                               code_range=code_range, factor_bins=factor_bins, n_threads=n_threads)
    return _in_base(info.mutual_info, base)


def entropy(labels, base=None):
    """Plug-in entropy of discrete labels.

    Parameters
    ----------
    labels : array-like of shape (n_samples,) or (n_samples, n_columns)
        Integer, float or string labels (e.g. factors, or codes after
        :func:`fastdis.discretize`).
    base : float, optional
        Logarithm base; default natural log (nats).

    Returns
    -------
    float or ndarray of shape (n_columns,)
        :math:`H = -\\sum_a p(a) \\log p(a)` of the single column, or of each column.

    Raises
    ------
    ValueError, TypeError
        Missing labels (NaN, None, ``pandas.NA``, masked values) or a column mixing
        kinds of labels, with the column and row named.

    Notes
    -----
    Integer labels are counted in place by the histogram kernel, block by block: the
    memory used is that of the input plus a fixed 16 MiB, whatever the number of rows.
    Other labels are counted after one sort of each column (one copy of a column).

    Examples
    --------
    >>> import fastdis
    >>> float(fastdis.entropy([0, 1, 0, 1], base=2))
    1.0
    """
    base = check_base(base)
    arr = label_array(labels)
    if arr.ndim not in (1, 2):
        raise ValueError(f"labels must be a 1-D or 2-D array-like (one column or one per "
                         f"column), got a {arr.ndim}-D array of shape {arr.shape}")
    one_d = arr.ndim == 1
    cols = check_factors(arr.reshape(-1, 1) if one_d else arr, name="labels", min_samples=1)
    n = cols.shape[0]
    h = np.array([_entropy_of_counts(c, n) for c in _level_counts(cols)])
    h = _in_base(h, base)
    return float(h[0]) if one_d else h


# Rows per counting pass of entropy(): a float32 dummy code of this many rows (16 MiB) is all
# the memory it adds to the input's, whatever the number of rows.
_ENTROPY_CHUNK = 1 << 22


def _level_counts(cols):
    """Rows at each level of each column, with memory near the input's: integer labels
    of modest span through the counting kernel, chunk by chunk, in place; other labels
    through one sort of each column."""
    if cols.dtype.kind in "iu":
        levels = FactorLevels.from_data(cols)
        if levels._lut is not None:  # a lookup table: the kernel reads the labels in place
            one_bin = Binning(np.array([[0.0, 1.0]]), 1.0, 0.0, uniform=True, check_range=True)
            hist = JointHistogram._from_parts(levels, one_bin)
            zeros = np.zeros((min(_ENTROPY_CHUNK, cols.shape[0]), 1), dtype=np.float32)
            for r0 in range(0, cols.shape[0], _ENTROPY_CHUNK):
                chunk = cols[r0:r0 + _ENTROPY_CHUNK]
                hist._add(chunk, zeros[:chunk.shape[0]])
            return [hist.counts[hist.level_offsets[k]:hist.level_offsets[k + 1], 0, 0]
                    for k in range(cols.shape[1])]
    return [_unique_column(cols, k, return_counts=True)[1] for k in range(cols.shape[1])]
