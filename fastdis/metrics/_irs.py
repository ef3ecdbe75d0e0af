"""Interventional Robustness Score (Suter et al. 2019): deterministic; one pass over the rows
gives every factor level's means and extremes in C (:func:`fastdis._kernels.level_deviation`),
and with a quantile a second pass selects it within every level of every factor
(:func:`fastdis._kernels.level_quantile`)."""
import warnings

import numpy as np

from .. import _dask, _kernels
from .._random import check_unused_random_state
from .._validation import raise_kernel_error
from .._warnings import DegenerateWarning
from ._conventions import resolve_metric
from ._sampling import (check_levels, check_real, document, extreme_exponents, prepare,
                        rescale_extreme)

__all__ = ["irs"]


def _level_pass(enc, codes, nt):
    """One pass: per level of every factor, means, max deviations, minima, maxima, counts."""
    return _kernels.level_deviation(*enc.kernel_input, enc.n_levels, codes, nt)


def _within_level_deviation(enc, codes, q, nt):
    """For IRS: the (codes x factors) mean over each factor's values of the q-quantile of
    |z - E[z | value]| (E from the level pass), each code's global mean, minimum and
    maximum, all on codes rescaled by 2**-e (exactly), and e.

    Columns of extreme magnitude (their sums would overflow, or lose bits as subnormals)
    are rescaled and the pass redone: every IRS ratio is one column's deviation over
    another of the same column, so the rescaling leaves it unchanged."""
    offsets = np.concatenate([[0], np.cumsum(enc.n_levels)])
    first = slice(offsets[0], offsets[1])  # the levels of factor 0 cover every row once
    stat = _level_pass(enc, codes, nt)
    codes, e = rescale_extreme(codes, stat[2][first].min(axis=0), stat[3][first].max(axis=0))
    if e.any():
        stat = _level_pass(enc, codes, nt)
    with np.errstate(over="ignore", invalid="ignore"):  # NaN/inf columns: refused just below
        cum, global_mean, mins, maxs = _max_form(enc.levels, *stat)
    if not np.isfinite(global_mean).all():  # NaN or inf anywhere in a column
        bad = int(np.flatnonzero(~np.isfinite(global_mean))[0])
        raise_kernel_error(_kernels.ERR_NONFINITE, bad, codes.shape[1])
    if q < 1.0:  # quantiles: order statistics within each level
        mean, count = stat[0], stat[4]
        qdev = _level_quantiles(enc, codes, mean, count, offsets, q, nt)
        for k in range(enc.n_factors):
            levels = slice(offsets[k], offsets[k + 1])
            cum[:, k] = qdev[levels][count[levels] > 0].mean(axis=0)
    return cum, global_mean, mins, maxs, e


# Rows sampled (evenly spaced) to place each level's quantile before the pass over all rows,
# and how far below and above it (in standard deviations of a sample quantile's rank) the
# pass keeps values: the selection then works on a few percent of them.
_SAMPLE_ROWS = 1 << 14
_MARGIN_SD = 4.0


def _thresholds(enc, codes, mean, offsets, q, nt):
    """Per (level, code): deviations below ``lo`` are only counted, those in [lo, hi] kept,
    bracketing the q-quantile with high probability (from a sample of rows); levels with
    few sampled rows keep everything."""
    n = codes.shape[0]
    rows = slice(0, n, max(1, n // _SAMPLE_ROWS))
    matrix, lut, lut_offset, lut_len, vmin = enc.kernel_input
    sample_codes = np.asarray(codes[rows], dtype=np.float64)
    lo = np.full(mean.shape, -np.inf)
    hi = np.full(mean.shape, np.inf)
    for k in range(enc.n_factors):
        weight = (np.arange(enc.n_factors) == k).astype(np.int64)
        level = offsets[k] + _kernels.factor_keys(matrix[rows], lut, lut_offset, lut_len, vmin,
                                                  enc.n_levels, weight, nt)
        order = np.argsort(level, kind="stable")
        level = level[order]
        dev = np.abs(sample_codes[order] - mean[level])
        bounds = np.flatnonzero(np.diff(level)) + 1
        for part, at in zip(np.split(dev, bounds), np.split(level, bounds)):
            m = len(part)
            if m < 64:
                continue
            spread = _MARGIN_SD * np.sqrt(m * q * (1.0 - q)) + 2.0
            r_lo = min(int(np.floor(q * m - spread)), m - 1)
            r_hi = max(int(np.ceil(q * m + spread)), 0)
            part = np.sort(part, axis=0)
            if r_lo >= 0:
                lo[at[0]] = part[r_lo]
            if r_hi < m:
                hi[at[0]] = part[r_hi]
    return lo, hi


def _level_quantiles(enc, codes, mean, count, offsets, q, nt):
    """(levels x codes) q-quantile of |z - E[z | level]| within each level of every factor:
    one pass over the rows (:func:`fastdis._kernels.level_quantile`) keeping the deviations
    near the quantile; a factor where the sample misplaced it is redone by grouping its rows
    and selecting among all of them."""
    lo, hi = _thresholds(enc, codes, mean, offsets, q, nt)
    dev, ok = _kernels.level_quantile(*enc.kernel_input, enc.n_levels, codes, mean, count,
                                      lo, hi, q, nt)
    for k in range(enc.n_factors):
        levels = slice(offsets[k], offsets[k + 1])
        if ok[levels].all():
            continue
        grouping = enc.group_by(np.arange(enc.n_factors) == k)
        _, dev[levels] = _kernels.group_deviation(codes, grouping.offsets, grouping.perm, q, nt)
    return dev


@document
def irs(factors, codes, *, convention=None, random_state=None, n_threads=None,
        diff_quantile=None, factor_bins=None, return_details=False):
    """Interventional Robustness Score (Suter, Miladinovic, Schölkopf & Bauer, ICML 2019).

    For code :math:`z_j` and factor :math:`v_k`, the deviation of :math:`z_j` from its
    mean within each value of :math:`v_k` (its maximum, or ``diff_quantile``), averaged
    over the values, relative to the code's largest deviation from its global mean:

    .. math:: \\mathrm{IRS}_{jk} = 1 - \\frac{\\frac{1}{|V_k|}\\sum_{a}
              Q_q\\left(|z_j - E[z_j \\mid v_k = a]|\\right)}{\\max |z_j - E[z_j]|},
              \\qquad \\mathrm{IRS} = \\frac{\\sum_j w_j \\max_k \\mathrm{IRS}_{jk}}{\\sum_j w_j}

    with weights :math:`w_j = \\max |z_j - E[z_j]|`. Deterministic: ``random_state`` is
    checked but not used.

    Parameters
    ----------
    {common}
    diff_quantile : float, optional
        Quantile of the within-value deviations, in (0, 1]; default 1.0 (the maximum,
        as in the paper and the survey code); disentanglement_lib uses 0.99.
    factor_bins : int or False, optional
        Bin numeric factors into this many equal-width bins first.
    return_details : bool, default=False
        Also return a dict with ``irs_matrix`` (codes x factors), ``per_code`` scores,
        ``parents`` (best factor of each code), ``max_deviations`` and ``active_codes``.

    Returns
    -------
    score : float
    details : dict, only with ``return_details=True``

    Notes
    -----
    Constant codes are left out (as both references do). If every code is constant the
    score is 0, with a :class:`fastdis.DegenerateWarning` (the details then hold empty
    ``irs_matrix``, ``per_code`` and ``parents``). One factor is allowed. Every ratio is
    within one column, so codes of any finite magnitude give the value of the same codes
    rescaled (columns of extreme magnitude are rescaled by exact powers of two first);
    ``max_deviations`` are on the codes' own scale, inf where they exceed the float64
    range. The weights make IRS depend on the relative scale of the codes:
    multiplying a noise code by 10 raises its weight tenfold. ``convention="ubisoft"``
    bins the factors into 10 min-max bins first (its ``continuous_factors=True``);
    ``convention="dlib"`` bins them into 20 equal-width bins (merging values of factors
    with more than 20) and uses the 0.99 quantile.

    Examples
    --------
    >>> import fastdis
    >>> from fastdis.datasets import make_dsprites_like
    >>> factors, codes = make_dsprites_like("partial", small=True)
    >>> round(fastdis.irs(factors, codes), 3)
    0.241

    References
    ----------
    Suter, Miladinovic, Schoelkopf & Bauer, "Robustly disentangled causal mechanisms:
    validating deep representations for interventional robustness", ICML 2019,
    arXiv:1811.00007.
    Carbonneau, Zaidi, Boilard & Gagnon, "Measuring disentanglement: a review of metrics",
    IEEE Transactions on Neural Networks and Learning Systems, 2023, arXiv:2012.09276.
    """
    given = dict(diff_quantile=diff_quantile, factor_bins=factor_bins)
    if _dask.any_dask(factors, codes):
        s = resolve_metric("irs", convention, **given)
        check_unused_random_state(random_state)
        q = check_real(s["diff_quantile"], "diff_quantile", 0.0, 1.0, low_open=True)
        if q >= 1.0:
            return _score(*_chunked_max_deviation(factors, codes, s, convention),
                          return_details)
        factors, codes = _dask.in_memory(factors, codes)  # quantiles: rows in memory
    s, enc, codes, nt = prepare("irs", factors, codes, convention, n_threads, given,
                                check_finite=False, min_factors=1)
    check_unused_random_state(random_state)
    q = check_real(s["diff_quantile"], "diff_quantile", 0.0, 1.0, low_open=True)
    return _score(*_within_level_deviation(enc, codes, q, nt), return_details)


def _chunked_max_deviation(factors, codes, s, convention):
    """:func:`_within_level_deviation` (the maximum form) of dask arrays: the chunks'
    per-level sums, minima, maxima and counts merged (:func:`fastdis._dask.level_moments`);
    only tables travel. The means are those of memory to rounding (summed in another order)."""
    factors, codes = _dask.check_pair(factors, codes)
    strategy = s.get("factor_strategy", "minmax" if convention == "ubisoft" else "uniform")
    levels, fbinning, stats = _dask.grouping(factors, codes, s.get("factor_bins"), strategy)
    check_levels(levels.n_levels, stats["n"], "irs")
    mins, maxs = stats["code_ranges"]
    e = extreme_exponents(mins, maxs)
    stat = _dask.level_moments(factors, codes, levels, fbinning, e)
    return (*_max_form(levels, *stat), e)


def _max_form(levels, mean, dev, lo, hi, count):
    """(cum, global mean, mins, maxs) of the maximum form from the level pass: each
    factor's mean over its levels of the largest within-level deviation."""
    offsets = np.concatenate([[0], np.cumsum(levels.n_levels)])
    first = slice(offsets[0], offsets[1])  # the levels of factor 0 cover every row once
    global_mean = (mean[first] * count[first, None]).sum(axis=0) / count[first].sum()
    cum = np.stack([dev[offsets[k]:offsets[k + 1]].mean(axis=0)
                    for k in range(levels.n_factors)], axis=1)
    return cum, global_mean, lo[first].min(axis=0), hi[first].max(axis=0)


def _score(cum, mean, mins, maxs, e, return_details):
    """IRS and its details from the (codes x factors) within-level deviations, each code's
    global mean, minimum and maximum (all on codes rescaled by 2**-e) and e."""
    active = maxs > mins
    # max |z - mean| is reached at the smallest or the largest value
    max_dev = np.maximum(maxs - mean, mean - mins)
    with np.errstate(over="ignore", under="ignore"):  # beyond float64: inf, documented
        raw_max_dev = np.ldexp(max_dev, e)
    details = dict(irs_matrix=np.zeros((0, cum.shape[1])), per_code=np.zeros(0),
                   parents=np.zeros(0, dtype=np.int64), max_deviations=raw_max_dev,
                   active_codes=np.flatnonzero(active))
    if not active.any():
        warnings.warn("irs: every code is constant: score 0", DegenerateWarning, stacklevel=3)
        return (0.0, details) if return_details else 0.0
    irs_matrix = 1.0 - cum[active] / max_dev[active, None]
    per_code = irs_matrix.max(axis=1)
    # weights relative to the largest exponent: the same ratios as the raw deviations,
    # without their overflow
    with np.errstate(under="ignore"):
        weights = np.ldexp(max_dev[active], e[active] - e[active].max())
    score = float(np.average(per_code, weights=weights))
    details.update(irs_matrix=irs_matrix, per_code=per_code, parents=irs_matrix.argmax(axis=1))
    return (score, details) if return_details else score
