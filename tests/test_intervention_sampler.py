"""The batch sampler's exact draws, replayed in plain Python.

fastdis._kernels.sample_batches draws every batch with a counter-based generator keyed
by (seed, batch id) (csrc/common.h: splitmix64 steps, ``fd_below``'s rejection rule);
the C kernel computes remainders by multiplication and reorders its loads for speed.
These tests replay the documented draws in Python integers and compare the reductions
bit for bit, so the same seed keeps giving the same rows (and values)."""
import numpy as np
import pytest

from fastdis import _kernels
from fastdis._grouping import EncodedFactors

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


class Stream:
    """fd_rng_for(seed, stream) and fd_below."""

    def __init__(self, seed, stream):
        self.s = mix64(seed ^ mix64((stream + GOLDEN) & M64))

    def below(self, m):
        m = int(m)
        threshold = (1 << 64) % m  # (0 - m) % m in uint64
        while True:
            self.s = (self.s + GOLDEN) & M64
            x = mix64(self.s)
            if x >= threshold:
                return x % m


def pick_group(rng, groups, cum, by_size):
    if by_size:  # the group of a random row
        return int(np.searchsorted(cum[1:], rng.below(int(cum[-1])), side="right"))
    return rng.below(len(groups))


def distinct(rng, m, count):
    """fd_distinct: partial Fisher-Yates when m < 2 count, Floyd's algorithm otherwise."""
    if m < 2 * count:
        scratch = list(range(m))
        for i in range(count):
            j = i + rng.below(m - i)
            scratch[i], scratch[j] = scratch[j], scratch[i]
        return scratch[:count]
    out, seen = [], set()
    for j in range(m - count, m):
        t = rng.below(j + 1)
        out.append(j if t in seen else t)
        seen.add(out[-1])
    return out


def batch_rows(rng, mode, offsets, perm, groups, cum, by_size, replace, L):
    """The rows of one batch: (first rows, second rows) of its pairs, or (rows, None)."""
    if mode == _kernels.BATCH_PAIRS:
        a_rows, c_rows = [], []
        for _ in range(L):
            g = groups[pick_group(rng, groups, cum, by_size)]
            lo, m = offsets[g], offsets[g + 1] - offsets[g]
            a = rng.below(m)
            c = rng.below(m if replace else m - 1)
            c += 1 if not replace and c >= a else 0
            a_rows.append(perm[lo + a])
            c_rows.append(perm[lo + c])
        return a_rows, c_rows
    g = groups[pick_group(rng, groups, cum, by_size)]
    lo, m = offsets[g], offsets[g + 1] - offsets[g]
    draws = L if mode == _kernels.BATCH_VARIANCE else 2 * L
    if replace:
        pos = [rng.below(m) for _ in range(draws)]
    elif m >= draws:
        pos = distinct(rng, m, draws)
    elif mode == _kernels.BATCH_PAIR_DIFF:  # small group: pairs of two different rows
        pos = [0] * draws
        for i in range(L):
            a, c = rng.below(m), rng.below(m - 1)
            pos[i], pos[L + i] = a, c + (c >= a)
    else:  # small group: with replacement
        pos = [rng.below(m) for _ in range(L)]
    rows = [perm[lo + p] for p in pos]
    return (rows, None) if mode == _kernels.BATCH_VARIANCE else (rows[:L], rows[L:])


def replay(codes, mode, offsets, perm, groups, cum, by_size, replace, L, seed, ids):
    """The reductions, summed in the kernel's order (row by row, then divided)."""
    out = np.empty((len(ids), codes.shape[1]))
    for b, bid in enumerate(ids):
        first, second = batch_rows(Stream(seed, int(bid)), mode, offsets, perm, groups, cum,
                                   by_size, replace, L)
        out[b] = reduce_one(codes, first, second, L)
    return out


def reduce_one(codes, first, second, L):
    """One batch's reduction: mean |difference| over the pairs (first[i], second[i]), or the
    variance (ddof 1, two passes) of the rows first (second None)."""
    out = np.empty(codes.shape[1])
    for j in range(codes.shape[1]):
        if second is not None:
            acc = 0.0
            for ra, rc in zip(first, second):
                acc += abs(codes[ra, j] - codes[rc, j])
            out[j] = acc / L
        else:
            mean = 0.0
            for r in first:
                mean += codes[r, j]
            mean /= L
            acc = 0.0
            for r in first:
                acc += (codes[r, j] - mean) * (codes[r, j] - mean)
            out[j] = acc / (L - 1)
    return out


def in_order(x, mode, L):
    """The reductions of batches of consecutive rows of x (the rows gathered in draw order)."""
    draws = L if mode == _kernels.BATCH_VARIANCE else 2 * L
    out = np.empty((len(x) // draws, x.shape[1]))
    for b in range(len(out)):
        rows = list(range(b * draws, (b + 1) * draws))
        out[b] = reduce_one(x, rows, None, L) if mode == _kernels.BATCH_VARIANCE \
            else reduce_one(x, rows[:L], rows[L:], L)
    return out


@pytest.mark.parametrize("mode", [_kernels.BATCH_PAIRS, _kernels.BATCH_VARIANCE,
                                  _kernels.BATCH_PAIR_DIFF])
@pytest.mark.parametrize("by_size", [False, True])
@pytest.mark.parametrize("replace", [False, True])
def test_batches_are_the_documented_draws(mode, by_size, replace):
    # groups of 2, 3, 7, 30 and 400 rows (and one of 1, never drawn): small groups take
    # the small-group paths, 30 rows Fisher-Yates, 400 rows Floyd's algorithm
    sizes = [2, 3, 1, 7, 30, 400]
    factors = np.repeat(np.arange(len(sizes)), sizes)[:, None]
    factors = np.column_stack([factors, np.arange(len(factors)) % 3])
    rng = np.random.default_rng(3)
    order = rng.permutation(len(factors))
    factors = factors[order]
    codes = rng.normal(size=(len(factors), 3)) * [1.0, 1e-3, 1e6]
    grouping = EncodedFactors(factors).group_by([True, False], share=False)
    groups, cum = grouping.eligible()
    seed, ids = 2**62 + 12345, np.array([0, 1, 7, 2**40, 99], dtype=np.int64)
    for L in (2, 12):
        expected = replay(codes, mode, grouping.offsets, grouping.perm, groups, cum, by_size,
                          replace, L, seed, ids)
        for nt in (1, 2):
            got = _kernels.sample_batches(codes, grouping.offsets, grouping.perm, groups, cum,
                                          by_size, mode, L, seed, ids, nt, replace)
            np.testing.assert_array_equal(got, expected)
            # the strided path (any layout, float32) reads the same rows in the same order
            fortran = _kernels.sample_batches(np.asfortranarray(codes), grouping.offsets,
                                              grouping.perm, groups, cum, by_size, mode, L,
                                              seed, ids, nt, replace)
            np.testing.assert_array_equal(fortran, expected)


def _sets_by_each_factor(factors):
    """The (offsets, perm, groups, cum) set of each of two factors, as the metrics pass them."""
    enc = EncodedFactors(factors)
    return [(g.offsets, g.perm, *g.eligible())
            for g in (enc.group_by(np.arange(2) == k, share=False) for k in range(2))]


@pytest.mark.parametrize("mode", [_kernels.BATCH_PAIRS, _kernels.BATCH_VARIANCE,
                                  _kernels.BATCH_PAIR_DIFF])
def test_batches_from_several_group_sets_are_each_sets_draws(mode):
    """sample_batches_sets (every batch of Z-diff / Z-min in one call, batch b from the
    grouping of its factor): each batch is the documented draw from its own set, whatever
    the thread count."""
    rng = np.random.default_rng(5)
    # factor 0: groups of 1, 3, 40 and 600 rows (Floyd's algorithm at 600); factor 1: 3 values
    factors = np.column_stack([np.repeat(np.arange(4), [1, 3, 40, 600]),
                               rng.integers(0, 3, size=644)])
    factors = factors[rng.permutation(len(factors))]
    codes = rng.normal(size=(len(factors), 4)) * [1.0, 1e-3, 1e6, 3.0]
    sets = _sets_by_each_factor(factors)
    seed, L = 987654321, 25
    ids = np.array([3, 0, 2**40, 17, 5, 8, 1, 99], dtype=np.int64)
    set_of = np.array([0, 1, 1, 0, 0, 1, 0, 1], dtype=np.int64)
    expected = np.empty((len(ids), codes.shape[1]))
    for s in (0, 1):
        at = set_of == s
        expected[at] = replay(codes, mode, *sets[s], False, False, L, seed, ids[at])
    for nt in (1, 2):
        got = _kernels.sample_batches_sets(codes, sets, set_of, False, mode, L, seed, ids, nt)
        np.testing.assert_array_equal(got, expected)


def test_batches_from_several_group_sets_check_their_arguments():
    codes = np.zeros((10, 2))
    one = (np.array([0, 10]), np.arange(10), np.array([0]), np.array([0, 10]))
    ids = np.arange(3, dtype=np.int64)
    call = _kernels.sample_batches_sets
    with pytest.raises(ValueError, match=r"set_of must lie in \[0, 2\)"):
        call(codes, [one, one], np.array([0, 2, 1]), False, _kernels.BATCH_VARIANCE, 2, 1, ids, 1)
    with pytest.raises(ValueError, match="set_of must lie"):
        call(codes, [one, one], np.array([0, -1, 1]), False, _kernels.BATCH_VARIANCE, 2, 1, ids, 1)
    with pytest.raises(TypeError, match="set_of must have dtype int64"):
        call(codes, [one], np.zeros(3, np.int32), False, _kernels.BATCH_VARIANCE, 2, 1, ids, 1)
    with pytest.raises(ValueError, match=r"set_of must have shape \(3,\)"):
        call(codes, [one], np.zeros(4, np.int64), False, _kernels.BATCH_VARIANCE, 2, 1, ids, 1)
    with pytest.raises(ValueError, match="needs at least one set of groups"):
        call(codes, [], None, False, _kernels.BATCH_VARIANCE, 2, 1, ids, 1)
    with pytest.raises(ValueError, match="perm must have shape"):
        call(codes, [one, (one[0], np.arange(9), one[2], one[3])], None, False,
             _kernels.BATCH_VARIANCE, 2, 1, ids, 1)


@pytest.mark.parametrize("replace", [False, True])
def test_vector_pair_draws_are_the_documented_draws(replace):
    """Z-diff's pairs are drawn eight at a time with AVX-512 where the CPU has it
    (csrc/pairs_avx512.c): the same draws as the scalar code and as the replay, for batches
    of whole vectors and with a tail (L = 203), groups of 2 rows (a divisor of 1) to
    thousands, several sets and threads."""
    rng = np.random.default_rng(11)
    sizes = [2, 3, 9, 40, 2500, 7000]
    factors = np.column_stack([np.repeat(np.arange(len(sizes)), sizes),
                               rng.integers(0, 4, size=sum(sizes))])
    factors = factors[rng.permutation(len(factors))]
    codes = rng.normal(size=(len(factors), 10)) * np.logspace(-3, 3, 10)
    sets = _sets_by_each_factor(factors)
    seed, L = 2**63 + 977, 203
    ids = np.array([5, 0, 2**33, 71, 6, 12], dtype=np.int64)
    set_of = np.array([0, 1, 0, 0, 1, 0], dtype=np.int64)
    expected = np.empty((len(ids), codes.shape[1]))
    for s in (0, 1):
        at = set_of == s
        expected[at] = replay(codes, _kernels.BATCH_PAIRS, *sets[s], False, replace, L, seed,
                              ids[at])
    try:
        for simd in (True, False):
            _kernels.set_simd(simd)
            for nt in (1, 2):
                got = _kernels.sample_batches_sets(codes, sets, set_of, False,
                                                   _kernels.BATCH_PAIRS, L, seed, ids, nt,
                                                   replace)
                np.testing.assert_array_equal(got, expected)
    finally:
        _kernels.set_simd(True)


@pytest.mark.parametrize("mode", [_kernels.BATCH_PAIRS, _kernels.BATCH_VARIANCE,
                                  _kernels.BATCH_PAIR_DIFF])
@pytest.mark.parametrize("by_size,replace", [(False, False), (True, True)])
def test_positions_ranges_and_given_rows_are_the_documented_draws(mode, by_size, replace):
    """The Dask path's pieces: sample_positions gives the replayed draws' positions (no perm
    needed), reduce_rows reduces given rows (or rows gathered in draw order, any layout,
    float32) to the replay's bits, and sample_batches_ranges's range is numpy's min / max of
    the rows read -- NaN where one of them holds a NaN."""
    rng = np.random.default_rng(21)
    factors = np.column_stack([np.repeat(np.arange(5), [1, 2, 9, 60, 700]),
                               rng.integers(0, 3, size=772)])
    factors = factors[rng.permutation(len(factors))]
    codes = rng.normal(size=(len(factors), 5)) * np.logspace(-3, 3, 5)
    sets = _sets_by_each_factor(factors)
    seed, L = 4242, 17
    ids = np.array([9, 0, 2**35, 3, 4, 11, 2], dtype=np.int64)
    set_of = np.array([0, 1, 0, 1, 1, 0, 0], dtype=np.int64)
    expected = np.empty((len(ids), codes.shape[1]))
    rows = []
    for b, (bid, s) in enumerate(zip(ids, set_of)):
        first, second = batch_rows(Stream(seed, int(bid)), mode, *sets[s], by_size, replace, L)
        rows.append(first + (second or []))
        expected[b] = replay(codes, mode, *sets[s], by_size, replace, L, seed, ids[b:b + 1])[0]
    rows = np.array(rows, dtype=np.int64)
    no_perm = [(o, None, g, c) for o, _, g, c in sets]
    for nt in (1, 2):
        pos = _kernels.sample_positions(len(codes), no_perm, set_of, by_size, mode, L, seed, ids,
                                        nt, replace)
        got_rows = np.stack([sets[s][1][p] for s, p in zip(set_of, pos)])
        np.testing.assert_array_equal(got_rows, rows)
        out, ranges = _kernels.reduce_rows(codes, mode, L, rows, len(ids), nt)
        np.testing.assert_array_equal(out, expected)
        read = codes[np.unique(rows)]
        np.testing.assert_array_equal(ranges, [read.min(axis=0), read.max(axis=0)])
        gathered = codes[rows.ravel()]
        for layout in (gathered, np.asfortranarray(gathered)):
            np.testing.assert_array_equal(_kernels.reduce_rows(layout, mode, L, None, len(ids),
                                                               nt)[0], expected)
        small = gathered.astype(np.float32)  # read as float64, summed in the replay's order
        np.testing.assert_array_equal(_kernels.reduce_rows(small, mode, L, None, len(ids), nt)[0],
                                      in_order(small.astype(np.float64), mode, L))
        out, ranges = _kernels.sample_batches_ranges(codes, sets, set_of, by_size, mode, L, seed,
                                                     ids, nt, replace)
        np.testing.assert_array_equal(out, expected)
        np.testing.assert_array_equal(ranges, [read.min(axis=0), read.max(axis=0)])
    bad = codes.copy()
    bad[rows[3, 1], 2] = np.nan
    _, ranges = _kernels.sample_batches_ranges(bad, sets, set_of, by_size, mode, L, seed, ids, 2,
                                               replace)
    assert np.isnan(ranges[:, 2]).all() and np.isfinite(np.delete(ranges, 2, axis=1)).all()
    with pytest.raises(ValueError, match="a row lies outside codes"):
        _kernels.reduce_rows(codes, mode, L, rows + len(codes), len(ids), 1)
    with pytest.raises(ValueError, match="fewer than"):
        _kernels.reduce_rows(codes[:3], mode, L, None, len(ids), 1)
