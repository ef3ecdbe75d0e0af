"""Dask arrays in, exact values out: each chunk of rows reduced to small statistics, the
statistics merged, then the in-memory formulas.

The information metrics send only tables between the workers and the caller, never rows,
in two passes over the chunks:

1. per chunk: the codes' column minima and maxima (rejecting NaN / infinity, as the
   in-memory min/max pass does), each factor's distinct values, and, for factors binned
   like codes (``factor_bins``), their minima and maxima; merged in the caller into the
   code ranges, the factor levels (sorted, as in memory) and the bin edges -- computed by
   the very functions the in-memory path uses, from the same (min, max), so the edges
   are identical;
2. per chunk: the joint histogram of every (factor, code) pair with those levels and
   bins (the histogram kernel, one thread per chunk: the scheduler runs the chunks side
   by side), summed by a tree reduction.

The tables are integer counts, so their sum does not depend on the chunking, and the
entropies are computed from them exactly as in memory: the same values, bit for bit.
Errors found in a chunk (NaN in the codes, ...) are carried back as data and the first in
row order is raised, so the message is the one the in-memory call gives.

IRS, SAP's regression and the posterior quantised estimator merge per-chunk sums in the same
way (equal to the in-memory values to rounding); DCI, explicitness and SAP's classification
gather only the rows they fit on (:func:`gather`); Z-diff, Z-min and Z-max variance only the
rows their batches draw (:mod:`fastdis._dask_intervention`, bit for bit). IRS with a
quantile and the posterior sampling estimator read the arrays into memory
(:func:`in_memory`).

``dask`` is imported only by code that has been given a dask array (:func:`is_dask` looks
in ``sys.modules``: a dask array cannot exist without it).
"""
import sys

import numpy as np

from . import _kernels
from ._discretize import apply_binning, range_binning, range_strategy_binning
from ._encode import FactorLevels
from ._validation import check_codes, check_factors, nonfinite_label_message

# Tables merged per task of the tree reduction.
_FAN_IN = 8


def is_dask(x):
    """Whether ``x`` is a dask array."""
    module = sys.modules.get("dask.array")
    return module is not None and isinstance(x, module.Array)


def any_dask(*arrays):
    return any(is_dask(a) for a in arrays)


def _code_dtype(dtype):
    """The dtype :func:`fastdis._validation.check_codes` gives codes of ``dtype``."""
    return check_codes(np.zeros((1, 1), dtype=dtype), min_samples=1).dtype


def _as_dask(x, name):
    """``x`` as a 2-D dask array of known, non-empty shape (an in-memory array: one chunk)."""
    import dask.array as da

    if not is_dask(x):
        from ._validation import _as_2d
        x = _as_2d(x, name)
        return da.from_array(x, chunks=(max(1, x.shape[0]), x.shape[1]))
    if x.ndim != 2:
        hint = f"; use {name}.reshape(-1, 1) for a single column" if x.ndim == 1 else ""
        raise ValueError(f"{name} must be a 2-D array of shape (n_samples, n_columns), "
                         f"got a {x.ndim}-D array of shape {x.shape}{hint}")
    if any(np.isnan(s) for s in x.shape):
        raise ValueError(f"{name} has unknown chunk sizes (shape {x.shape}): call "
                         f"{name}.compute_chunk_sizes() first")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {x.shape}")
    return x


def check_pair(factors, codes, min_samples=2):
    """Validate a (factors, codes) pair of which at least one is a dask array, without
    reading it: both as dask arrays with the same row chunks and one chunk of columns.
    Values (NaN, ...) are checked by the passes that read them."""
    factors, codes = _as_dask(factors, "factors"), _as_dask(codes, "codes")
    # dtypes: the in-memory checks on one (empty-valued) row of each dtype
    check_codes(np.zeros((1, codes.shape[1]), dtype=codes.dtype), min_samples=1)
    if factors.dtype.kind not in "iubfUSO":
        check_factors(np.zeros((1, factors.shape[1]), dtype=factors.dtype), min_samples=1)
    for name, x in (("factors", factors), ("codes", codes)):
        if x.shape[0] < min_samples:
            raise ValueError(f"{name} needs at least {min_samples} samples (rows), "
                             f"got {x.shape[0]}")
    if factors.shape[0] != codes.shape[0]:
        raise ValueError(
            f"factors and codes must have the same number of samples (rows): "
            f"factors has {factors.shape[0]}, codes has {codes.shape[0]}")
    # the finer row chunking of the two (usually the codes', the wider rows): chunks are
    # then split, not grown
    rows = codes.chunks[0] if len(codes.chunks[0]) >= len(factors.chunks[0]) else factors.chunks[0]
    return factors.rechunk((rows, -1)), codes.rechunk((rows, -1))


def _blocks(*arrays):
    """(each array's chunk, ..., first row) of every chunk of rows, as delayed objects, in
    row order; the arrays have the same row chunks and one chunk of columns."""
    starts = np.concatenate([[0], np.cumsum(arrays[0].chunks[0])[:-1]]).astype(np.int64)
    return list(zip(*[a.to_delayed(optimize_graph=False).ravel()
                      for a in _optimized_together(arrays)], (int(s) for s in starts)))


def _optimized_together(arrays):
    """The arrays with their graphs optimised as one. Optimised one by one (as
    ``to_delayed`` does), a chunk read shared by two arrays -- factors and codes read by one
    task, as ``fastdis evaluate`` reads files -- is fused into each array's chunk: read
    twice, by two tasks the scheduler may place on different workers, and one of them then
    shipped to the other for the chunk's task."""
    import dask.array as da
    from dask.highlevelgraph import HighLevelGraph

    graph = HighLevelGraph.merge(*[a.__dask_graph__() for a in arrays])
    keys = [a.__dask_keys__() for a in arrays]
    dsk = arrays[0].__dask_optimize__(graph, keys)
    return [da.Array(dsk, a.name, a.chunks, a.dtype) for a in arrays]


def _as_rows(x, name, chunks):
    """``x`` (dask or in memory) as a 2-D dask array with these row chunks, one column chunk."""
    return _as_dask(x, name).rechunk((chunks, -1))


def _compute(*values):
    import dask

    return dask.compute(*values)


# ---------------------------------------------------------------- pass 1: ranges, levels

def _block_stats(f, c, row0, code_ranges, factor_ranges, sample, exact_levels=False):
    """Statistics of one chunk: a dict; errors are returned, not raised (see the module).
    ``sample``: global row numbers whose rows to return too (those in this chunk);
    ``exact_levels``: the levels of every row (else sampled rows' for large integer chunks,
    flagged ``sampled``)."""
    # large integer chunks: the levels of every _STRIDE-th row, as the in-memory path tries
    from ._information import _SAMPLED_LEVELS_ROWS, _STRIDE

    out = dict(n=f.shape[0])
    if f.shape[0] == 0:
        return out
    if sample is not None:
        mine = sample[(sample >= row0) & (sample < row0 + f.shape[0])] - row0
        out["sample"] = (np.array(f[mine]), np.array(c[mine]))
    if f.dtype.kind == "f":  # where a missing label is: global row, first in each column
        bad = ~np.isfinite(f)
        if bad.any():
            cols = np.flatnonzero(bad.any(axis=0))
            out["bad_labels"] = {int(k): (row0 + int(np.argmax(bad[:, k])),
                                          f[int(np.argmax(bad[:, k])), k]) for k in cols}
            return out
    f = check_factors(f, min_samples=1)
    c = check_codes(c, min_samples=1)
    if code_ranges:
        try:
            out["code_ranges"] = _kernels.code_minmax(c, 1)
        except ValueError as exc:
            out["error"] = exc
            return out
    if f.dtype.kind in "iu" and f.shape[0] >= _SAMPLED_LEVELS_ROWS and not exact_levels:
        # integer levels from every _STRIDE-th row: the histogram pass checks every value
        # against them and reports a missing one (then the levels of all rows are found)
        out["levels"] = FactorLevels.from_data(np.ascontiguousarray(f[::_STRIDE]), 1).values
        out["sampled"] = True
    else:
        out["levels"] = FactorLevels.from_data(f, 1).values
    if factor_ranges:  # in the factors' dtype (float64 of it: what binning reads)
        out["factor_ranges"] = (f.min(axis=0), f.max(axis=0))
    return out


def _merge_stats(parts, n_factors):
    """Fold the chunks' statistics in row order; raise the first chunk's error."""
    bad = {}
    for p in parts:
        for k, (row, value) in p.get("bad_labels", {}).items():
            if k not in bad:
                bad[k] = (row, value)
    if bad:
        col = min(bad)
        row, value = bad[col]
        raise ValueError(nonfinite_label_message("factors", col, row, value))
    for p in parts:
        if "error" in p:
            raise p["error"]
    parts = [p for p in parts if p["n"] > 0]
    merged = dict(n=sum(p["n"] for p in parts), sampled=any(p.get("sampled") for p in parts))
    if "sample" in parts[0]:
        merged["sample"] = tuple(np.concatenate([p["sample"][i] for p in parts])
                                 for i in range(2))
    merged["levels"] = [np.unique(np.concatenate([p["levels"][k] for p in parts]))
                        for k in range(n_factors)]
    for key in ("code_ranges", "factor_ranges"):
        if parts and key in parts[0]:
            merged[key] = (np.minimum.reduce([p[key][0] for p in parts]),
                           np.maximum.reduce([p[key][1] for p in parts]))
    return merged


def sample_rows(n, n_rows):
    """The row numbers of the evenly spaced sample of at most ``n_rows`` of ``n`` rows."""
    return np.linspace(0, n - 1, min(n, n_rows)).astype(np.int64)


def statistics(factors, codes, *, code_ranges=True, factor_ranges=False, sample=None,
               exact_levels=False):
    """Pass 1 over validated dask (factors, codes) (see :func:`check_pair`): a dict with
    ``n``, ``levels`` (sorted distinct values of each factor), ``code_ranges`` (mins,
    maxs), with ``factor_ranges`` the factors' float64 (mins, maxs), and with ``sample``
    (sorted row numbers) those rows of both, in memory (unvalidated)."""
    from dask import delayed

    task = delayed(_block_stats, pure=True)
    parts = _compute(*[task(f, c, r, code_ranges, factor_ranges, sample, exact_levels)
                       for f, c, r in _blocks(factors, codes)])
    return _merge_stats(parts, factors.shape[1])


# ---------------------------------------------------------------- pass 2: joint histograms

def _validated(f, c, factor_binning=None):
    """A chunk's factors and codes as the kernels read them; factors binned (float64 values,
    as ``factor_labels`` bins them in memory) when ``factor_binning`` is given."""
    f, c = check_factors(f, min_samples=1), check_codes(c, min_samples=1)
    if factor_binning is not None:
        f = apply_binning(np.asarray(f, dtype=np.float64), factor_binning, 1)
    return f, c


def _block_counts(f, c, levels, binning, factor_binning):
    """(counts, None) of one chunk's joint histogram, or (None, error)."""
    from ._histogram import JointHistogram

    hist = JointHistogram._from_parts(levels, binning, n_threads=1)
    if f.shape[0] == 0:
        return hist.counts, None
    f, c = _validated(f, c, factor_binning)
    try:
        if not hist._add(f, c, missing_level_ok=True):
            return None, _MISSING
    except ValueError as exc:
        return None, exc
    return hist.counts, None


# A chunk's factor value without a level (the levels came from sampled rows)
_MISSING = "missing level"


def _sum(*parts):
    """Elementwise sum of arrays, or of tuples of arrays, left to right."""
    if isinstance(parts[0], tuple):
        return tuple(_sum(*[p[i] for p in parts]) for i in range(len(parts[0])))
    total = parts[0].copy()
    for p in parts[1:]:
        total += p
    return total


def _sum_or_error(*parts):
    """Sum of (value, error) pairs, keeping the first error (left to right: row order)."""
    for _, error in parts:
        if error is not None:
            return None, error
    return _sum(*[value for value, _ in parts]), None


def tree_sum(tasks, merge):
    """Reduce delayed values with ``merge`` (called on up to _FAN_IN of them, in order)."""
    from dask import delayed

    merge = delayed(merge, pure=True)
    while len(tasks) > 1:
        tasks = [merge(*tasks[i:i + _FAN_IN]) for i in range(0, len(tasks), _FAN_IN)]
    return tasks[0]


def joint_histogram(factors, codes, levels, binning, factor_binning=None):
    """Pass 2: the :class:`JointHistogram` of all rows, from the chunks' tables; None when
    a factor value has no level (levels from sampled rows: find them all, and count again)."""
    from dask import delayed

    from ._histogram import JointHistogram

    task = delayed(_block_counts, pure=True)
    total, error = _compute(tree_sum([task(f, c, levels, binning, factor_binning)
                                      for f, c, _ in _blocks(factors, codes)], _sum_or_error))[0]
    if error == _MISSING:
        return None
    if error is not None:
        raise error
    hist = JointHistogram._from_parts(levels, binning, n_threads=1)
    hist.counts += total
    hist.n_samples = factors.shape[0]
    return hist


# ---------------------------------------------------------------- the information record

def factor_binning(levels, factor_ranges, factor_bins, strategy):
    """For factors binned like codes (``factor_bins``): the binning of their float64
    values from their global (min, max) -- what ``factor_labels`` builds in memory -- and
    the levels of the binned labels (the bins their levels fall in: binning is monotone)."""
    from ._discretize import Binning

    binning = range_strategy_binning(np.asarray(factor_ranges[0], dtype=np.float64),
                                     np.asarray(factor_ranges[1], dtype=np.float64),
                                     np.dtype(np.float64), factor_bins, strategy)
    binned = []
    for k, v in enumerate(levels):
        one = Binning(binning.edges[k:k + 1], binning.scale[k], binning.offset[k],
                      binning.uniform, binning.check_range)
        values = np.asarray(v, dtype=np.float64).reshape(-1, 1)
        binned.append(np.unique(apply_binning(values, one, 1)[:, 0]))
    return binning, binned


def check_factor_bins(factors, factor_bins):
    """(binned, factor_bins checked): whether factors are binned like codes first."""
    from ._validation import check_int

    if factor_bins is None or factor_bins is False:
        return False, factor_bins
    factor_bins = check_int(factor_bins, "factor_bins", 2, 65535)
    if factors.dtype.kind not in "iuf":
        raise TypeError(f"factor_bins needs numeric factors, got dtype {factors.dtype}")
    return True, factor_bins


def _factor_levels(stats, factor_bins, strategy):
    """(FactorLevels of the labels the metric groups or counts, their binning or None) from
    the statistics pass (``factor_bins`` checked, or False)."""
    values, fbinning = stats["levels"], None
    if factor_bins:
        fbinning, values = factor_binning(values, stats["factor_ranges"], factor_bins, strategy)
    return FactorLevels(values), fbinning


def information(factors, codes, n_bins, strategy, code_range, factor_bins):
    """:class:`fastdis._information.Information` of dask (factors, codes), validated by
    :func:`check_pair`: the same record, bit for bit, as the in-memory path on the same
    rows."""
    from ._information import _check_level_counts, information_from_histogram

    if strategy == "quantile":
        raise ValueError("strategy='quantile' needs the exact quantiles of every code, which "
                         "take a sort of all rows: not available for Dask arrays; use "
                         "strategy='uniform' (the default) or give the quantile edges as bins "
                         "yourself")
    binned, factor_bins = check_factor_bins(factors, factor_bins)
    if code_range is None and not binned:
        stats = shared_statistics(factors, codes)
    else:
        stats = statistics(factors, codes, code_ranges=code_range is None, factor_ranges=binned)
    if code_range is not None:
        if strategy != "uniform":
            raise ValueError("code_range is only used with strategy='uniform'")
        binning = range_binning(code_range, codes.shape[1], n_bins)
    else:
        mins, maxs = stats["code_ranges"]
        binning = range_strategy_binning(mins, maxs, _code_dtype(codes.dtype), n_bins, strategy)
    for _ in range(2):
        levels, fbinning = _factor_levels(stats, factor_bins, strategy)
        hist = joint_histogram(factors, codes, levels, binning, fbinning)
        if hist is not None:
            _check_level_counts(levels.n_levels, stats["n"])
            return information_from_histogram(hist)
        # a value the sampled rows missed: the levels of every row, and count again
        stats = statistics(factors, codes, code_ranges=False, factor_ranges=binned,
                           exact_levels=True)
    raise RuntimeError("fastdis: the exact levels missed a value; this is a bug")


# ---------------------------------------------------------------- evaluate()

# Chunks brought to memory per scheduler call by in_memory.
_GATHER_CHUNKS = 8


def in_memory(*arrays):
    """The arrays computed into numpy arrays (dask arrays), chunk by chunk into one array
    allocated here: no worker ever holds a whole array (a cluster's worker would, for the
    concatenation of ``x.compute()``), and memory peaks at the array plus a few chunks."""
    values = list(arrays)
    for i, x in enumerate(arrays):
        if not is_dask(x):
            continue
        x = x.rechunk({k: -1 for k in range(1, x.ndim)})  # whole rows per chunk
        out = np.empty(x.shape, dtype=x.dtype)
        blocks = list(x.to_delayed().ravel())
        starts = np.concatenate([[0], np.cumsum(x.chunks[0])]).astype(np.int64)
        for b0 in range(0, len(blocks), _GATHER_CHUNKS):
            got = _compute(*blocks[b0:b0 + _GATHER_CHUNKS])
            for j, block in enumerate(got, start=b0):
                out[starts[j]:starts[j + 1]] = block
        values[i] = out
    return values


def shared_statistics(factors, codes, sample_size=None):
    """:func:`statistics` (code ranges; with ``sample_size``, an evenly spaced sample of
    at most that many rows too), once per :func:`fastdis._shared.sharing` scope: a later
    call without a sample reuses a pass that took one."""
    from ._shared import scope_store

    store = scope_store()
    key = ("dask statistics", factors.name, codes.name)
    if store is not None and key in store and (sample_size is None or "sample" in store[key][0]):
        return store[key][0]
    sample = None if sample_size is None else sample_rows(factors.shape[0], sample_size)
    stats = statistics(factors, codes, sample=sample)
    if store is not None:
        store[key] = (stats, (factors, codes))
    return stats


def _block_levels(f, c, levels, fbinning, e):
    """One chunk's per-level (sums, minima, maxima, counts) of the codes rescaled by 2**-e."""
    total = int(levels.n_levels.sum())
    d = c.shape[1]
    if f.shape[0] == 0:
        return (np.zeros((total, d)), np.full((total, d), np.inf), np.full((total, d), -np.inf),
                np.zeros(total, dtype=np.int64))
    f, c = _validated(f, c, fbinning)
    if e.any():
        c = np.array(c, dtype=np.float64)
        c[:, e != 0] = np.ldexp(c[:, e != 0], -e[e != 0])
    mean, _, lo, hi, count = _kernels.level_deviation(*levels.kernel_input(f), levels.n_levels,
                                                      c, 1)
    sums = np.where(count[:, None] > 0, mean * count[:, None], 0.0)
    return sums, lo, hi, count


def _merge_levels(*parts):
    sums, lo, hi, count = (p.copy() for p in parts[0])
    for s, a, b, n in parts[1:]:
        sums += s
        np.minimum(lo, a, out=lo)
        np.maximum(hi, b, out=hi)
        count += n
    return sums, lo, hi, count


def grouping(factors, codes, factor_bins, strategy):
    """Pass 1 for the intervention metrics' grouping: (FactorLevels of the labels that group
    the rows, the factor binning or None, the statistics)."""
    binned, factor_bins = check_factor_bins(factors, factor_bins)
    stats = statistics(factors, codes, factor_ranges=binned, exact_levels=True)
    return (*_factor_levels(stats, factor_bins, strategy), stats)


def level_moments(factors, codes, levels, fbinning, e):
    """Pass 2 for IRS: per level of every factor (mean, max |z - mean|, min, max, count) of
    the codes rescaled by 2**-e, as :func:`fastdis._kernels.level_deviation` gives in
    memory (the means to rounding: the chunks' sums are added in another order)."""
    from dask import delayed

    task = delayed(_block_levels, pure=True)
    sums, lo, hi, count = _compute(tree_sum([task(f, c, levels, fbinning, e)
                                             for f, c, _ in _blocks(factors, codes)],
                                            _merge_levels))[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / count[:, None]
    dev = np.where(hi - mean > mean - lo, hi - mean, mean - lo)
    return mean, dev, lo, hi, count


# ---------------------------------------------------------------- posteriors (Do & Tran)

class ChunkedPosterior:
    """A posterior given as dask arrays: the means and the spread as given (``name``: var,
    std or logvar), row-aligned; each chunk is validated by
    :func:`fastdis._posterior.check_posterior` when a pass reads it."""

    def __init__(self, mu, spread, name, mu_name):
        self.mu, self.spread, self.name, self.mu_name = mu, spread, name, mu_name

    @property
    def shape(self):
        return self.mu.shape

    @property
    def key(self):
        return ("dask", self.mu.name, self.spread.name, self.name)

    def in_memory(self):
        """The validated in-memory :class:`fastdis._posterior.Posterior` (computed once per
        sharing scope)."""
        from ._posterior import check_posterior
        from ._shared import scope_store

        store = scope_store()
        key = ("dask posterior in memory",) + self.key
        if store is not None and key in store:
            return store[key][0]
        mu, spread = in_memory(self.mu, self.spread)
        post = check_posterior(mu, **{self.name: spread}, mu_name=self.mu_name)
        if store is not None:
            store[key] = (post, (self.mu, self.spread))
        return post


def check_posterior(mu, spread, name, mu_name, min_samples=2):
    """The lazy counterpart of :func:`fastdis._posterior.check_posterior` (shapes only)."""
    mu = _as_rows(mu, mu_name, mu.chunks[0] if is_dask(mu) else spread.chunks[0])
    spread = _as_rows(spread, name, mu.chunks[0])
    check_codes(np.zeros((1, mu.shape[1]), dtype=mu.dtype), mu_name, min_samples=1)
    check_codes(np.zeros((1, spread.shape[1]), dtype=spread.dtype), name, min_samples=1)
    if mu.shape[0] < min_samples:
        raise ValueError(f"{mu_name} needs at least {min_samples} samples (rows), got "
                         f"{mu.shape[0]}")
    if spread.shape != mu.shape:
        raise ValueError(f"{name} must have the shape of {mu_name}, {mu.shape}; got "
                         f"{spread.shape}")
    return ChunkedPosterior(mu, spread, name, mu_name)


def _block_quantized(mu, spread, f, row0, name, mu_name, levels, edges, do_tran):
    """One chunk's quantised tables, row entropies, fallbacks and level counts, or an error."""
    from ._posterior import check_posterior as check

    d, nb = mu.shape[1], len(edges) - 1
    n_levels = np.zeros(0, dtype=np.int64) if levels is None else levels.n_levels
    n_total = int(n_levels.sum())
    if mu.shape[0] == 0:
        return (np.zeros((d, 1 + n_total, nb)), np.zeros(d), np.zeros(d, dtype=np.int64),
                np.zeros(n_total, dtype=np.int64)), None
    try:
        post = check(mu, **{name: spread}, mu_name=mu_name, min_samples=1, first_row=row0)
    except ValueError as exc:
        return None, exc
    labels, counts = None, np.zeros(0, dtype=np.int64)
    if levels is not None:
        offsets = np.concatenate([[0], np.cumsum(n_levels)[:-1]])
        labels = levels.level_indices(check_factors(f, min_samples=1))
        counts = np.concatenate([np.bincount(labels[:, k], minlength=int(m))
                                 for k, m in enumerate(n_levels)])
        labels += offsets.astype(np.int32)
    tables, row_h, n_fallback = _kernels.quantized_tables(post.mu, post.std, labels, n_total,
                                                          edges, 1 if do_tran else 0, 1)
    return (tables, row_h, np.asarray(n_fallback, dtype=np.int64), counts), None


def quantized_tables(post, factors, edges, do_tran):
    """The quantised estimator's tables over all chunks (summed: equal to the in-memory
    ones to rounding), the rows' entropy sums, the fallback counts, and with factors
    (row-aligned, dask or not) their level counts and :class:`FactorLevels`."""
    from dask import delayed

    levels = None
    arrays = [post.mu, post.spread]
    if factors is not None:
        factors = _as_rows(factors, "factors", post.mu.chunks[0])
        if factors.shape[0] != post.shape[0]:
            raise ValueError(f"factors and {post.mu_name} must have the same number of samples "
                             f"(rows): factors has {factors.shape[0]}, {post.mu_name} has "
                             f"{post.shape[0]}")
        levels = FactorLevels(statistics(factors, post.mu, code_ranges=False,
                                         exact_levels=True)["levels"])
        arrays.append(factors)
    task = delayed(_block_quantized, pure=True)
    blocks = [task(b[0], b[1], b[2] if factors is not None else None, b[-1], post.name,
                   post.mu_name, levels, edges, do_tran) for b in _blocks(*arrays)]
    value, error = _compute(tree_sum(blocks, _sum_or_error))[0]
    if error is not None:
        raise error
    return (*value, levels)


# ---------------------------------------------------------------- rows gathered

def gather(factors, codes, *row_sets):
    """The rows the predictor metrics fit and score on, in memory: ``(factors_u, codes_u,
    local_sets)`` for u the sorted union of ``row_sets`` (global row numbers), each set
    renumbered into u (order kept; a set that is the previous one stays the same object)."""
    union = np.unique(np.concatenate([np.asarray(r, dtype=np.int64) for r in row_sets]))
    f, c = _compute(factors[union], codes[union])
    f, c = check_factors(f, min_samples=1), check_codes(c, min_samples=1)
    local = []
    for i, rows in enumerate(row_sets):
        same = i > 0 and rows is row_sets[i - 1]
        local.append(local[-1] if same else np.searchsorted(union, rows))
    return f, c, local


# ---------------------------------------------------------------- SAP: moment sums

def _block_moments(f, c, ef, ez, f0, z0):
    """One chunk's shifted moment sums (sf, sff, sz, szz, sfz)."""
    if f.shape[0] == 0:
        K, d = f.shape[1], c.shape[1]
        return (np.zeros(K), np.zeros(K), np.zeros(d), np.zeros(d), np.zeros((K, d)))
    from .metrics._sap import moment_factors

    f, c = _validated(f, c)
    return _kernels.cross_moments(moment_factors(f), c, ef, ez, f0, z0, 1)


def squared_correlation(factors, codes):
    """:func:`fastdis.metrics._sap.squared_correlation` of dask arrays: the same shifts
    and scalings (from the first row and the chunks' ranges), each chunk's moment sums
    added (equal to the in-memory r^2 to rounding)."""
    from dask import delayed

    from .metrics._sap import moment_exponents, moment_factors, r2_from_moments
    from .metrics._scale import to_unit

    numeric_float = factors.dtype.kind not in "iub"
    stats = statistics(factors, codes, factor_ranges=numeric_float)
    mins, maxs = stats["code_ranges"]
    frange = None
    if numeric_float:
        frange = tuple(np.asarray(r, dtype=np.float64) for r in stats["factor_ranges"])
    first_f, first_c = _compute(factors[0], codes[0])
    probe = moment_factors(np.asarray(first_f).reshape(1, -1))
    ef, ez = moment_exponents(probe, mins, maxs, frange)
    f0 = to_unit(probe[0], ef)
    z0 = to_unit(check_codes(np.asarray(first_c).reshape(1, -1), min_samples=1)[0], ez)
    task = delayed(_block_moments, pure=True)
    sums = _compute(tree_sum([task(f, c, ef, ez, f0, z0) for f, c, _ in _blocks(factors, codes)],
                             _sum))[0]
    return r2_from_moments(sums, stats["n"])
