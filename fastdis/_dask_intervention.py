"""The intervention metrics (Z-diff, Z-min and Z-max variance) on Dask arrays: only the rows
the batches read travel, and the values are the in-memory ones, bit for bit.

In memory, the rows are grouped by a stable counting sort (:mod:`fastdis._grouping`): group
g of a grouping holds ``perm[offsets[g]:offsets[g + 1]]``, its rows in row order, and a
batch draws positions in ``perm`` with a generator keyed by (seed, batch id). Here:

1. a pass over the factors' chunks: their levels (and ranges, for factors binned first);
2. a pass over the factors' chunks: each chunk's count of rows per key (the level of the
   factor a batch fixes, or the combination of the other factors for Z-max), so that the
   rows of key g in chunk c hold the positions ``offsets[g] + (rows of g in earlier chunks)``
   onwards -- the in-memory perm, never built;
3. the batches' positions drawn by the in-memory generator
   (:func:`fastdis._kernels.sample_positions`: the same seed, the same positions);
4. a pass over the chunks: each resolves the positions that fall in it to its rows (the
   r-th row of key g in the chunk, in row order) and returns those rows of the codes (and
   the variance-estimate rows), with the first NaN / infinity of each column among them;
5. the gathered rows reduced in draw order by :func:`fastdis._kernels.reduce_rows`, the
   in-memory arithmetic in its order.

The caller holds the rows drawn (Z-diff's survey defaults: 15,000 batches x 400 rows), never
the whole codes; no worker holds more than its chunk.
"""
import numpy as np

from . import _dask, _kernels
from ._validation import check_codes, check_factors, check_n_threads, nonfinite_row_message

# Chunks computed per scheduler call while gathering (their rows are then copied into place).
_GATHER_CHUNKS = 16
# Largest mixed-radix key space of Z-max's groupings computed here (keys exact in int64).
_MAX_KEY_SPACE = 1 << 62
# Key spaces up to this size are counting-sorted directly (fastdis._grouping's rule).
_MAX_DIRECT_KEYS = 1 << 24


def chunked_batches(metric, factors, codes, convention, n_threads, given):
    """(settings, :class:`ChunkedBatches`) of dask (factors, codes): the validation and
    encoding of :func:`fastdis.metrics._sampling.prepare`, from passes over the factors."""
    from .metrics._conventions import resolve_metric
    from .metrics._sampling import check_levels

    s = resolve_metric(metric, convention, **given)
    factors, codes = _dask.check_pair(factors, codes)
    nt = check_n_threads(n_threads)
    if factors.shape[1] < 2:
        raise ValueError(
            f"{metric}: factors has a single column; the metric scores how well the codes tell "
            f"which factor a batch intervened on, which needs two factors or more (with one "
            f"the answer is always the same)")
    strategy = s.get("factor_strategy", "minmax" if convention == "ubisoft" else "uniform")
    binned, factor_bins = _dask.check_factor_bins(factors, s.get("factor_bins"))
    stats = _levels(factors, binned)
    levels, fbinning = _dask._factor_levels(stats, factor_bins, strategy)
    check_levels(levels.n_levels, factors.shape[0], metric)
    return s, ChunkedBatches(factors, codes, levels, fbinning, nt, metric)


def _block_levels(f, row0, binned):
    """Pass 1 of one chunk of factors: its levels (and ranges): the statistics pass of
    :mod:`fastdis._dask` without codes."""
    return _dask._block_stats(f, np.zeros((f.shape[0], 1)), row0, False, binned, None,
                              exact_levels=True)


def _levels(factors, binned):
    from dask import delayed

    task = delayed(_block_levels, pure=True)
    parts = _dask._compute(*[task(f, r, binned) for f, r in _dask._blocks(factors)])
    return _dask._merge_stats(parts, factors.shape[1])


def _encoded(f, levels, fbinning):
    """A chunk's factors encoded as in memory, binned first where the metric bins them."""
    from ._grouping import EncodedFactors

    f = check_factors(f, min_samples=1)
    if fbinning is not None:
        from ._discretize import apply_binning
        f = apply_binning(np.asarray(f, dtype=np.float64), fbinning, 1)
    return EncodedFactors(f, 1, levels=levels)


def _check_key_space(n_levels, vary_one):
    """Z-max's keys (the combinations of the other factors) must be one mixed-radix number:
    the same key for the same combination in every chunk."""
    total = int(np.prod([int(m) for m in n_levels], dtype=object))
    if vary_one and any(total // int(m) > _MAX_KEY_SPACE for m in n_levels):
        raise ValueError("z_max_var: the combinations of the other factors exceed 2**62 keys, "
                         "which the chunked grouping does not number; compute it on arrays "
                         "in memory")


def _chunk_groups(enc, used, vary_one):
    """Per factor used, the chunk's rows grouped by key (the counting sort of
    :mod:`fastdis._grouping`, in C): (distinct keys, or None where the group ids are the keys,
    offsets, perm); the rows of key g, in row order, are perm[offsets[j]:offsets[j + 1]]."""
    if not vary_one:
        return [(None, g.offsets, g.perm) for g in enc.group_each(used, share=False)]
    out = []
    for k in used:
        keys, total = enc._keys(np.flatnonzero(np.arange(enc.n_factors) != k))
        if total <= max(_MAX_DIRECT_KEYS, 2 * len(keys)):
            out.append((None, *_kernels.group_rows(keys, total)))
        else:  # sparse combinations: numbered in key order
            distinct, ids = np.unique(keys, return_inverse=True)
            out.append((distinct, *_kernels.group_rows(ids.astype(np.int64).ravel(),
                                                       len(distinct))))
    return out


def _block_counts(f, levels, fbinning, used, vary_one):
    """Pass 2 of one chunk of factors: per factor used, (distinct keys, their counts): the
    keys of :func:`_chunk_groups` counted, no rows sorted."""
    if f.shape[0] == 0:
        return [(np.zeros(0, np.int64), np.zeros(0, np.int64)) for _ in used]
    enc = _encoded(f, levels, fbinning)
    idx = None if vary_one else levels.level_indices(enc.factors)
    out = []
    for k in used:
        if vary_one:
            keys, total = enc._keys(np.flatnonzero(np.arange(enc.n_factors) != k))
        else:
            keys, total = idx[:, k], int(levels.n_levels[k])
        if total <= max(_MAX_DIRECT_KEYS, 2 * len(keys)):
            sizes = np.bincount(keys, minlength=total)
            present = np.flatnonzero(sizes)
            out.append((present, sizes[present].astype(np.int64)))
        else:
            distinct, sizes = np.unique(keys, return_counts=True)
            out.append((distinct, sizes.astype(np.int64)))
    return out


def _pack(sorted_codes):
    """Sorted non-negative integers as (first, gaps in the narrowest unsigned dtype): what
    travels to a chunk's task is 1-2 bytes per draw, not 8."""
    if len(sorted_codes) == 0:
        return 0, np.zeros(0, dtype=np.uint8)
    gaps = np.diff(sorted_codes)
    top = int(gaps.max()) if len(gaps) else 0
    dtype = next(t for t in (np.uint8, np.uint16, np.uint32, np.uint64)
                 if top <= np.iinfo(t).max)
    return int(sorted_codes[0]), gaps.astype(dtype)


def _unpack(packed):
    first, gaps = packed
    out = np.empty(len(gaps) + 1, dtype=np.int64)
    out[0] = first
    np.cumsum(gaps, dtype=np.int64, out=out[1:])
    out[1:] += first
    return out


class _Grouping:
    """One grouping's offsets and eligible groups as the sampler reads them (no perm), and
    the segments (group, chunk) of the in-memory perm: their first positions, keys, chunks."""

    def __init__(self, parts):
        chunk = np.concatenate([np.full(len(keys), c, dtype=np.int64)
                                for c, (keys, _) in enumerate(parts)])
        keys = np.concatenate([keys for keys, _ in parts])
        counts = np.concatenate([counts for _, counts in parts])
        order = np.lexsort((chunk, keys))  # by key, then chunk: the order of perm
        self.key, self.chunk, counts = keys[order], chunk[order], counts[order]
        self.start = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        first = np.flatnonzero(np.concatenate([[True], self.key[1:] != self.key[:-1]]))
        self.offsets = np.append(self.start[first], counts.sum()).astype(np.int64)
        self.sizes = np.diff(self.offsets)

    def eligible(self):
        groups = np.flatnonzero(self.sizes >= 2).astype(np.int64)
        cum = np.concatenate([[0], np.cumsum(self.sizes[groups])]).astype(np.int64)
        return groups, cum

    def locate(self, pos):
        """(segment, rank among the rows of its key in its chunk) of perm positions; an
        empty segment starts where the next one does, so the last one at or before pos
        holds it."""
        seg = np.searchsorted(self.start, pos, side="right") - 1
        return seg, pos - self.start[seg]


class ChunkedBatches:
    """The batches of an intervention metric drawn from dask arrays (see the module): the
    interface of :class:`fastdis.metrics._sampling.MemoryBatches`, and :meth:`plan`."""

    def __init__(self, factors, codes, levels, fbinning, nt, metric):
        self.factors, self.codes, self.levels, self.fbinning = factors, codes, levels, fbinning
        self.nt, self.metric = nt, metric
        self.n_rows, self.n_factors = factors.shape[0], levels.n_factors
        self.blocks = _dask._blocks(factors, codes)
        self._plan = self._draws = None

    def plan(self, targets, seed, mode, batch_size, settings, vary_one):
        """The batches :meth:`reduce` will be asked for: their rows are gathered in the same
        pass as :meth:`take`'s (an error drawing them is raised by :meth:`reduce`)."""
        self._plan = (targets, seed, mode, batch_size, settings, vary_one)
        self._draws = None

    def take(self, rows):
        """Codes of these (sorted) rows, checked; the planned batches' rows gathered too."""
        sample = self._pass(np.asarray(rows, dtype=np.int64))
        _raise_first(sample[1])
        return sample[0]

    def reduce(self, targets, seed, mode, batch_size, settings, vary_one):
        """The reductions of every batch: the in-memory values (and errors)."""
        if self._plan is None or self._plan[0] is not targets:
            self.plan(targets, seed, mode, batch_size, settings, vary_one)
        if self._draws is None:
            self._pass(np.zeros(0, dtype=np.int64))
        if isinstance(self._draws, Exception):
            raise self._draws
        values, index, bad = self._draws
        _raise_first(bad)
        return self._reduced(values)

    def _reduced(self, values):
        targets, _, mode, batch_size, _, _ = self._plan
        rows = self._draws[1].reshape(len(targets), -1)
        return _kernels.reduce_rows(values, mode, batch_size, rows, len(targets), self.nt)[0]

    def read_ranges(self):
        """(mins, maxs) of the rows the batches read (gathered, and checked by reduce)."""
        values = self._draws[0]
        if len(values) == 0:
            return np.zeros(values.shape[1]), np.zeros(values.shape[1])
        return (values.min(axis=0).astype(np.float64), values.max(axis=0).astype(np.float64))

    def rescaled(self, e):
        """The reductions of the same batches on the rows rescaled by 2**-e (exactly)."""
        from .metrics._sampling import scale_columns

        return self._reduced(scale_columns(self._draws[0], e))

    def _requests(self):
        """Per chunk, the planned draws falling in it: (draw slots, factor, key, rank)."""
        from dask import delayed

        from .metrics._sampling import _groups_or_raise

        targets, seed, mode, batch_size, settings, vary_one = self._plan
        used = np.flatnonzero(np.bincount(targets, minlength=self.n_factors))
        _check_key_space(self.levels.n_levels, vary_one)
        task = delayed(_block_counts, pure=True)
        parts = _dask._compute(*[task(f, self.levels, self.fbinning, used, vary_one)
                                 for f, _, _ in self.blocks])
        what = "combination of the other factors" if vary_one else "value"
        groupings, sets = [], []
        for i, k in enumerate(used):
            grouping = _Grouping([p[i] for p in parts])
            groups, cum = _groups_or_raise(grouping, what, k, self.metric)
            groupings.append(grouping)
            sets.append((grouping.offsets, None, groups, cum))
        set_of = np.searchsorted(used, targets).astype(np.int64)
        pos = _kernels.sample_positions(self.n_rows, sets, set_of, settings["by_size"], mode,
                                        batch_size, seed,
                                        np.arange(len(targets), dtype=np.int64), self.nt,
                                        settings["replace"])
        # every (grouping, key, chunk) segment numbered; a draw is (segment, rank)
        seg, rank = np.empty(pos.shape, dtype=np.int64), np.empty(pos.shape, dtype=np.int64)
        base = np.cumsum([0] + [len(g.key) for g in groupings])
        for i, grouping in enumerate(groupings):
            at = set_of == i
            seg[at], rank[at] = grouping.locate(pos[at])
            seg[at] += base[i]
        seg_chunk = np.concatenate([g.chunk for g in groupings])
        seg_key = np.concatenate([g.key for g in groupings])
        seg_factor = np.repeat(used, np.diff(base))
        seg, rank = seg.ravel(), rank.ravel()
        del pos
        chunk_of = seg_chunk[seg]
        if len(self.blocks) <= np.iinfo(np.uint16).max:  # a radix sort: O(draws)
            chunk_of = chunk_of.astype(np.uint16)
        order = np.argsort(chunk_of, kind="stable")
        bounds = np.searchsorted(chunk_of[order], np.arange(len(self.blocks) + 1))
        del chunk_of
        sizes = self.factors.chunks[0]
        requests = []
        for c, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
            slots = order[a:b]
            segs = np.unique(seg[slots])  # this chunk's segments, numbered 0.. here
            code = np.searchsorted(segs, seg[slots]) << _shift(sizes[c]) | rank[slots]
            unique, inverse = np.unique(code, return_inverse=True)
            # sent: each distinct (segment, rank) once, and the segments' factor and key
            requests.append(((_pack(unique), seg_factor[segs], seg_key[segs]), slots,
                             inverse.ravel()))
        return requests, seg.size

    def _pass(self, sample_rows):
        """One pass over the chunks: the codes of the sorted ``sample_rows`` and of the
        planned batches' draws (in draw order), each with the chunks' first non-finite
        values. Returns (sample, its first non-finite values)."""
        from dask import delayed

        requests, n_draws = [(None, None, None)] * len(self.blocks), 0
        if self._plan is not None:
            try:
                requests, n_draws = self._requests()
            except ValueError as exc:  # raised where the in-memory call raises it: reduce()
                self._draws = exc
        vary_one = self._plan[5] if self._plan is not None else False
        ends = [r for _, _, r in self.blocks[1:]] + [self.n_rows]
        task = delayed(_gather_block, pure=True)
        tasks, sizes = [], []
        for (f, z, row0), end, (request, _, _) in zip(self.blocks, ends, requests):
            lo, hi = np.searchsorted(sample_rows, [row0, end])
            tasks.append(task(f, z, row0, sample_rows[lo:hi] - row0, request, self.levels,
                              self.fbinning, vary_one))
            # what travels each way: the requests, then the rows (held until copied into place)
            n_rows = hi - lo + (0 if request is None else len(request[0][1]) + 1)
            sizes.append((8 * (hi - lo) + (0 if request is None else request[0][1].nbytes),
                          n_rows * self.codes.shape[1] * self.codes.dtype.itemsize))
        dtype, d = _dask._code_dtype(self.codes.dtype), self.codes.shape[1]
        sample = np.empty((len(sample_rows), d), dtype=dtype)
        # the distinct rows drawn, chunk after chunk, and where each draw finds its row
        starts = np.cumsum([0] + [0 if r is None else len(r[0][1]) + (len(r[1]) > 0)
                                  for r, _, _ in requests])
        values = np.empty((starts[-1], d), dtype=dtype)
        index = np.empty(n_draws, dtype=np.int64)
        bad_sample, bad_draws, done = [], [], 0
        for c0, c1 in _task_groups(sizes):
            got = _dask._compute(*tasks[c0:c1])
            for c, (s_vals, s_bad, d_vals, d_bad) in enumerate(got, start=c0):
                sample[done:done + len(s_vals)] = s_vals
                done += len(s_vals)
                _, slots, inverse = requests[c]
                if slots is not None:
                    values[starts[c]:starts[c + 1]] = d_vals
                    index[slots] = starts[c] + inverse
                bad_sample.append(s_bad)
                bad_draws.append(d_bad)
        if self._plan is not None and not isinstance(self._draws, Exception):
            self._draws = (values, index, bad_draws)
        return sample, bad_sample


def _shift(n_rows):
    """Bits of a rank within a chunk of n_rows rows (the low bits of a request's code)."""
    return max(1, int(n_rows).bit_length())


# Bytes of requests sent per scheduler call at most (dask.distributed warns past 10 MiB), and
# of rows received (held in the caller beside the gathered rows until copied into place).
_REQUEST_BYTES = 4 << 20
_RESULT_BYTES = 64 << 20


def _task_groups(sizes):
    """(first, end) of consecutive tasks computed together: at most _GATHER_CHUNKS of them,
    their requests and results within _REQUEST_BYTES and _RESULT_BYTES (or a single task)."""
    c0, sent, got = 0, 0, 0
    for c, (request, result) in enumerate(sizes):
        if c > c0 and (c - c0 == _GATHER_CHUNKS or sent + request > _REQUEST_BYTES
                       or got + result > _RESULT_BYTES):
            yield c0, c
            c0, sent, got = c, 0, 0
        sent += request
        got += result
    if sizes:
        yield c0, len(sizes)


def _first_bad(values, rows):
    """(column, row, value) of the first non-finite value of ``values`` (rows numbered
    ``rows``): the first column holding one, its first row; None if all are finite."""
    bad = ~np.isfinite(values)
    if not bad.any():
        return None
    col = int(np.flatnonzero(bad.any(axis=0))[0])
    at = np.flatnonzero(bad[:, col])
    first = at[np.argmin(rows[at])]
    return col, int(rows[first]), values[first, col]


def _gather_block(f, z, row0, sample_local, request, levels, fbinning, vary_one):
    """One chunk's share of a pass: (the codes of its sample rows, their first non-finite
    value, the codes of the distinct draws it serves, their first non-finite). request:
    (segment * n + rank of each distinct draw, packed; each segment's factor and key)."""
    if z.shape[0] == 0:
        return np.zeros((0, z.shape[1])), None, np.zeros((0, z.shape[1])), None
    z = check_codes(z, min_samples=1)
    sample = z[sample_local]
    s_bad = _first_bad(sample, sample_local + row0)
    if request is None or len(request[1]) == 0:  # (no segment: no draw here)
        return sample, s_bad, z[:0], None
    packed, seg_factor, seg_key = request
    code = _unpack(packed)
    seg, rank = code >> _shift(z.shape[0]), code & ((1 << _shift(z.shape[0])) - 1)
    # segments are numbered factor by factor: each factor's draws are one run of codes
    used, first = np.unique(seg_factor, return_index=True)
    bounds = np.append(np.searchsorted(seg, first), len(seg))
    groups = _chunk_groups(_encoded(f, levels, fbinning), used, vary_one)
    rows = np.empty(len(seg), dtype=np.int64)
    for (distinct, offsets, perm), a, b in zip(groups, bounds[:-1], bounds[1:]):
        key = seg_key[seg[a:b]]
        j = key if distinct is None else np.searchsorted(distinct, key)
        rows[a:b] = perm[offsets[j] + rank[a:b]]
    values = z[rows]
    return sample, s_bad, values, _first_bad(values, rows + row0)


def _raise_first(bad):
    """Raise the in-memory error of the first (column, then row) of the chunks' first
    non-finite values (see :func:`fastdis._validation.check_finite_rows`)."""
    found = [b for b in bad if b is not None]
    if not found:
        return
    col = min(b[0] for b in found)
    row, value = min(((b[1], b[2]) for b in found if b[0] == col), key=lambda rv: rv[0])
    raise ValueError(nonfinite_row_message("codes", col, row, value))
