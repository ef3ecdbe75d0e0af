"""The shared steps of the intervention metrics: validation, exact rescaling of codes at
extreme scales, and drawing the batches in C.

Every batch is drawn and reduced by :func:`fastdis._kernels.sample_batches` with a
generator keyed by (seed, batch index), so the same ``random_state`` gives the same value
whatever the number of threads.
"""
import numbers

import numpy as np

from .. import _kernels
from .._discretize import column_ranges
from .._grouping import EncodedFactors
from .._information import grouping_labels
from .._random import check_random_state
from .._shared import shared
from .._validation import (BIN_HINT, check_finite_rows, check_int, check_n_threads, check_pair,
                           continuous_looking)
from ._conventions import resolve_metric
from ._scale import column_exponents

# Columns whose largest magnitude lies outside [2**-EXTREME, 2**EXTREME] are rescaled by an
# exact power of two before any sum: squares of values beyond 2**511 overflow and those
# below 2**-511 lose bits as subnormals, and sums of N values need headroom on top.
EXTREME = 256


_COMMON = """\
    factors : array-like of shape (n_samples, n_factors)
        Ground-truth factors, discrete labels (integers, floats or strings) with
        repeated values: the metric compares rows that share factor values.
        Continuous factors must be binned first (``factor_bins=``, or
        :func:`fastdis.discretize`).
    codes : array-like of shape (n_samples, n_codes)
        The representation, real values.
    convention : {None, "ubisoft", "dlib"}, optional
        Reference implementation to reproduce; None is fastdis's default (see Notes).
        ``"dlib"`` is available for ``z_diff``, ``z_min_var`` and ``irs``.
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState
        Seed of the batch sampler: an integer in [0, 2**32), a Generator or RandomState
        (one draw of it gives the seed), or None (a fresh seed). The same integer gives
        the same value, whatever the number of threads.
    n_threads : int, optional
        Threads for grouping and sampling; default all available."""


def document(func):
    """Put the parameters every intervention metric shares into its docstring."""
    func.__doc__ = func.__doc__.replace("    {common}", _COMMON)
    return func


def prepare(metric, factors, codes, convention, n_threads, settings_given, check_finite=True,
            min_factors=2, return_ranges=False):
    """Validated settings, encoded factors, codes and thread count of an intervention metric
    (and, with ``return_ranges``, the codes' column (mins, maxs) found checking them).

    ``min_factors``: the vote and classifier metrics tell which factor a batch intervened
    on, which needs two factors at least."""
    s = resolve_metric(metric, convention, **settings_given)
    factors, codes = check_pair(factors, codes)
    nt = check_n_threads(n_threads)
    if factors.shape[1] < min_factors:
        raise ValueError(
            f"{metric}: factors has a single column; the metric scores how well the codes tell "
            f"which factor a batch intervened on, which needs two factors or more (with one "
            f"the answer is always the same)")
    # rejects NaN / inf, naming the column
    ranges = column_ranges(codes, nt) if check_finite or return_ranges else None
    strategy = s.get("factor_strategy", "minmax" if convention == "ubisoft" else "uniform")
    enc = shared("encoded factors", (factors,), (s.get("factor_bins"), strategy),
                 lambda: _encoded(factors, s.get("factor_bins"), strategy, nt))
    check_levels(enc.n_levels, codes.shape[0], metric)
    return (s, enc, codes, nt, ranges) if return_ranges else (s, enc, codes, nt)


def batch_source(metric, factors, codes, convention, n_threads, settings_given):
    """(validated settings, the batches' source) of a batch metric: a :class:`MemoryBatches`,
    or for Dask arrays a :class:`fastdis._dask_intervention.ChunkedBatches` (the rows the
    batches read gathered from the chunks, never the whole codes)."""
    from .. import _dask

    if _dask.any_dask(factors, codes):
        from .._dask_intervention import chunked_batches
        return chunked_batches(metric, factors, codes, convention, n_threads, settings_given)
    # the codes' values are checked on the rows the batches read only (see MemoryBatches)
    s, enc, codes, nt = prepare(metric, factors, codes, convention, n_threads, settings_given,
                                check_finite=False)
    return s, MemoryBatches(codes, enc, nt, metric)


def check_levels(n_levels, n_rows, metric):
    """Every factor has repeated values and two of them at least."""
    looks = continuous_looking(n_levels, n_rows)
    if looks:
        raise ValueError(f"{metric}: {looks}, and the metric needs repeated factor values; "
                         f"{BIN_HINT}")
    single = np.flatnonzero(n_levels < 2)
    if len(single):
        raise ValueError(f"factors column {int(single[0])} has a single value: it cannot be "
                         f"intervened on; drop it before calling {metric}")


def _encoded(factors, factor_bins, strategy, nt):
    labels, levels = grouping_labels(factors, factor_bins, strategy, nt)
    return EncodedFactors(labels, nt, levels=levels)


def extreme_exponents(mins, maxs):
    """Per column, the power of two e that :func:`rescale_extreme` divides it by: that of
    its largest magnitude for columns of extreme magnitude, else 0."""
    e = column_exponents(mins, maxs).astype(np.int64)
    extreme = (np.abs(e) > EXTREME) & (np.maximum(np.abs(mins), np.abs(maxs)) > 0)
    return np.where(extreme, e, 0)


def rescale_extreme(codes, mins, maxs):
    """``(codes, e)``: columns of extreme magnitude multiplied by 2**-e exactly (a float64
    copy; other columns unchanged, their e 0), so that no sum of squares or of differences
    over or underflows. Ratios of variances or deviations of one column do not change."""
    e = extreme_exponents(mins, maxs)
    if not e.any():
        return codes, e
    return scale_columns(codes, e), e


def check_real(value, name, low, high=np.inf, low_open=False):
    """A real-number parameter in [low, high] ((low, high] with low_open), as a float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not (low < value if low_open else low <= value) or not value <= high:  # NaN too
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}]"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return value


def check_batches(s, n_rows):
    L = check_int(s["batch_size"], "batch_size", 2)
    if L > n_rows:
        raise ValueError(f"batch_size={L} exceeds the number of rows ({n_rows})")
    check_int(s["n_train"], "n_train", 1)
    check_int(s["n_eval"], "n_eval", 1)
    return L


def generator(random_state):
    """numpy Generator of a metric's ``random_state`` (fastdis._random's one rule)."""
    return np.random.default_rng(check_random_state(random_state))


def targets_and_seed(rng, n_factors, n_batches):
    """Which factor each batch intervenes on, and the seed of the C sampler."""
    targets = rng.integers(0, n_factors, size=n_batches)
    seed = int(rng.integers(0, 2**63 - 1, dtype=np.int64))
    return targets, seed


def _groups_or_raise(grouping, what, k, metric):
    groups, cum = grouping.eligible()
    if len(groups) == 0:
        raise ValueError(
            f"{metric}: no {what} of factor {k} occurs in two rows or more; the metric needs "
            f"repeated factor values (i.i.d. continuous factors cannot support it): bin the "
            f"factors first with factor_bins=... or fastdis.discretize")
    return groups, cum


# Grouping rows by several factors in one pass keeps N int64 per factor at once: up to
# this many bytes (10**6 rows of 5 factors take 40 MB), else one factor at a time.
_TOGETHER_BYTES = 1 << 28


def draw(codes, enc, targets, seed, mode, batch_size, settings, nt, metric, vary_one,
         ranges=False):
    """Reductions of every batch: (n_batches, n_codes), batch b intervening on targets[b];
    with ``ranges``, also the (2, n_codes) range (min, max) of the values the batches read
    (NaN or infinite in a column where a non-finite value was read)."""
    sample = _kernels.sample_batches_ranges if ranges else _kernels.sample_batches_sets
    used = np.flatnonzero(np.bincount(targets, minlength=enc.n_factors))
    what = "combination of the other factors" if vary_one else "value"
    args = (settings["by_size"], mode, batch_size, seed)
    if not vary_one and len(codes) * len(used) * 8 <= _TOGETHER_BYTES:
        # by one factor: all the factors used grouped in the same passes over the rows
        # (inside evaluate(): every factor, kept for Z-diff, Z-min and IRS), and every batch
        # drawn in one call (one parallel region: small calls would run on one thread)
        sets = []
        for k, grouping in zip(used, enc.group_each(used)):
            groups, cum = _groups_or_raise(grouping, what, k, metric)
            sets.append((grouping.offsets, grouping.perm, groups, cum))
        set_of = np.searchsorted(used, targets).astype(np.int64)
        return sample(codes, sets, set_of, *args, np.arange(len(targets), dtype=np.int64), nt,
                      settings["replace"])
    # one factor at a time: by one factor where the rows of all of them would take more
    # than _TOGETHER_BYTES, or by all factors but one (Z-max only), not kept
    out = np.empty((len(targets), codes.shape[1]))
    span = np.stack([np.full(codes.shape[1], np.inf), np.full(codes.shape[1], -np.inf)])
    for k, ids, grouping in _one_at_a_time(enc, targets, used, vary_one):
        groups, cum = _groups_or_raise(grouping, what, k, metric)
        got = sample(codes, [(grouping.offsets, grouping.perm, groups, cum)], None, *args, ids,
                     nt, settings["replace"])
        out[ids] = got[0] if ranges else got
        if ranges:
            span = np.stack([np.minimum(span[0], got[1][0]), np.maximum(span[1], got[1][1])])
    return (out, span) if ranges else out


def _one_at_a_time(enc, targets, used, vary_one):
    """(factor k, the ids of the batches intervening on it, the grouping they draw from) for
    each factor used, grouped one at a time."""
    order = np.argsort(targets, kind="stable")
    bounds = np.searchsorted(targets[order], np.arange(enc.n_factors + 1))
    for k in used:
        ids = order[bounds[k]:bounds[k + 1]].astype(np.int64)
        grouping = enc.group_by(
            np.arange(enc.n_factors) != k if vary_one else np.arange(enc.n_factors) == k,
            share=not vary_one)
        yield k, ids, grouping


def rows_read(enc, targets, seed, mode, batch_size, settings, nt, metric, vary_one):
    """The rows each batch of :func:`draw` reads: (n_batches, draws) row numbers (the draws
    alone, replayed: only wanted where :func:`draw` read a NaN or infinity)."""
    used = np.flatnonzero(np.bincount(targets, minlength=enc.n_factors))
    what = "combination of the other factors" if vary_one else "value"
    draws = batch_size if mode == _kernels.BATCH_VARIANCE else 2 * batch_size
    rows = np.empty((len(targets), draws), dtype=np.int64)
    for k, ids, grouping in _one_at_a_time(enc, targets, used, vary_one):
        groups, cum = _groups_or_raise(grouping, what, k, metric)
        pos = _kernels.sample_positions(len(grouping.perm),
                                        [(grouping.offsets, None, groups, cum)], None,
                                        settings["by_size"], mode, batch_size, seed, ids, nt,
                                        settings["replace"])
        rows[ids] = grouping.perm[pos]
    return rows


class MemoryBatches:
    """The batches of an intervention metric drawn from codes in memory, checked on the rows
    they read: NaN or infinity there is an error naming its row; rows never read are not
    checked (see :class:`fastdis._dask_intervention.ChunkedBatches` for the Dask arrays)."""

    def __init__(self, codes, enc, nt, metric):
        self.codes, self.enc, self.nt, self.metric = codes, enc, nt, metric
        self.n_rows, self.n_factors = codes.shape[0], enc.n_factors

    def plan(self, *batches):
        """The batches to come (the chunked source gathers their rows in one pass)."""

    def take(self, rows):
        """Codes of these (sorted) rows, checked."""
        values = self.codes[rows]
        check_finite_rows(values, rows)
        return values

    def reduce(self, targets, seed, mode, batch_size, settings, vary_one):
        """The reductions of every batch on the codes as given; a NaN or infinity read (which
        makes a reduction non-finite) is an error naming its column and row."""
        self._draw = (targets, seed, mode, batch_size, settings, vary_one)
        out = draw(self.codes, self.enc, *self._draw[:5], self.nt, self.metric, vary_one)
        if not np.isfinite(out).all():
            self.read_ranges()
        return out

    def read_ranges(self):
        """(mins, maxs) of the rows the batches read (drawn again), checked."""
        targets, seed, mode, batch_size, settings, vary_one = self._draw
        ranges = draw(self.codes, self.enc, targets, seed, mode, batch_size, settings, self.nt,
                      self.metric, vary_one, ranges=True)[1]
        if not np.isfinite(ranges).all():
            rows = np.unique(rows_read(self.enc, targets, seed, mode, batch_size, settings,
                                       self.nt, self.metric, vary_one))
            check_finite_rows(self.codes[rows], rows)
        return ranges

    def rescaled(self, e):
        """The reductions of the same batches on the codes rescaled by 2**-e (exactly)."""
        targets, seed, mode, batch_size, settings, vary_one = self._draw
        return draw(scale_columns(self.codes, e), self.enc, targets, seed, mode, batch_size,
                    settings, self.nt, self.metric, vary_one)


# Reductions below this (or infinite) may have lost bits to subnormal (or overflowing)
# intermediate values: the rows read are then ranged, and rescaled where extreme.
_TINY = 2.0 ** (-2 * EXTREME)


def exact_reductions(source, targets, seed, mode, batch_size, settings, vary_one, sample=None):
    """(reductions of every batch, e): computed on the codes as given where that is exact,
    else on the codes rescaled by 2**-e (exact powers of two, e from the range of the rows
    read and of ``sample``, the variance-estimate rows: see :func:`extreme_exponents`).

    The common case costs no pass over the codes: the batches' reductions are finite and
    none is tiny, and ``sample`` is not extreme (squares and differences of values within
    2**+-256 neither overflow nor leave the normal range)."""
    out = source.reduce(targets, seed, mode, batch_size, settings, vary_one)
    d = out.shape[1]
    lo, hi = (sample.min(axis=0), sample.max(axis=0)) if sample is not None and len(sample) \
        else (np.zeros(d), np.zeros(d))
    e = extreme_exponents(lo, hi)
    if np.isfinite(out).all() and not ((out > 0) & (out < _TINY)).any() and not e.any():
        return out, e
    mins, maxs = source.read_ranges()
    e = extreme_exponents(np.minimum(mins, lo), np.maximum(maxs, hi))
    return (source.rescaled(e) if e.any() else out), e


def scale_columns(x, e):
    """float64 copy of x with the columns where e != 0 multiplied by 2**-e exactly."""
    extreme = e != 0
    out = np.array(x, dtype=np.float64, order="C")
    out[:, extreme] = np.ldexp(out[:, extreme], -e[extreme])
    return out


def rescale_accuracy(accuracy, n_factors, scale):
    """(accuracy - 1/K) / (1 - 1/K): 0 for a random guess, 1 for a perfect one (K >= 2)."""
    if not scale:
        return accuracy
    chance = 1.0 / n_factors
    return (accuracy - chance) / (1.0 - chance)
