"""Factor labels are labels: any integer values give the result of the relabelled factors.

The expected values come from the same metrics on ``np.unique(col, return_inverse=True)``
(labels 0..n-1), so these tests check invariance to relabelling, at the extremes of every
integer dtype, where a span ``max - min + 1`` or a mixed-radix key does not fit in int64.
"""
import numpy as np
import pytest

import fastdis
from fastdis._grouping import EncodedFactors

INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]


def label_sets(dtype):
    """Sets of distinct labels of ``dtype``, as Python ints (exact)."""
    info = np.iinfo(dtype)
    lo, hi = int(info.min), int(info.max)
    half = (hi + 1) // 2  # 2**62 for int64, 2**63 for uint64
    rng = np.random.default_rng(abs(lo) + hi)
    hashes = set()
    while len(hashes) < 6:  # random values over the whole range ("64-bit hashes")
        hashes.add(int(rng.integers(lo, hi, endpoint=True, dtype=dtype)))
    return {
        "min_max": [lo, hi],                        # {-2**63, 2**63 - 1} for int64
        "min+5_half+3": [lo + 5, half + 3],         # {-2**63 + 5, 2**62 + 3}; 2**63 + 3 for uint64
        "hashes": sorted(hashes),
        "small_and_max": [0, 1, 2, hi],             # scan window plus one far label
    }


CASES = [(dtype, name) for dtype in INT_DTYPES for name in label_sets(dtype)]


def data(dtype, name, n=600, seed=0):
    """(factors with these labels, the same factors relabelled 0..n-1, codes)."""
    labels = np.array(label_sets(dtype)[name], dtype=dtype)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(labels), size=(n, 3))
    idx[:len(labels)] = np.arange(len(labels))[:, None]  # every label occurs in every column
    idx[:, 2] = (idx[:, 2] + idx[:, 0]) % len(labels)     # columns differ
    factors = labels[idx]
    relabelled = np.stack([np.unique(c, return_inverse=True)[1].ravel() for c in factors.T], 1)
    assert (relabelled == idx).all()  # the labels are sorted, so relabelling gives idx back
    codes = np.column_stack([idx[:, 0] + 0.3 * rng.normal(size=n), rng.normal(size=n),
                             idx[:, 1] - idx[:, 2] + 0.3 * rng.normal(size=n)])
    return factors, relabelled, codes


METRICS = {
    "mig": lambda f, z: fastdis.mig(f, z),
    "jemmig": lambda f, z: fastdis.jemmig(f, z),
    "modularity": lambda f, z: fastdis.modularity(f, z),
    "irs": lambda f, z: fastdis.irs(f, z),
    "z_min_var": lambda f, z: fastdis.z_min_var(f, z, random_state=3, n_train=40, n_eval=40,
                                                batch_size=16),
    "mutual_info_matrix": lambda f, z: fastdis.mutual_info_matrix(f, z),
}


@pytest.mark.parametrize("metric", list(METRICS))
@pytest.mark.parametrize("dtype,name", CASES)
def test_extreme_labels_give_the_relabelled_result(dtype, name, metric):
    factors, relabelled, codes = data(dtype, name)
    assert factors.dtype == dtype
    expected = METRICS[metric](relabelled, codes)
    np.testing.assert_array_equal(METRICS[metric](factors, codes), expected)


@pytest.mark.parametrize("n_factors", [1, 2])
@pytest.mark.parametrize("dtype,name", [(d, n) for d, n in CASES if np.dtype(d).itemsize == 8])
def test_extreme_labels_with_one_or_two_factors(dtype, name, n_factors):
    # the spans of all factors are summed: with 1 or 2 factors a wrapped span is small
    factors, relabelled, codes = data(dtype, name)
    f, r = factors[:, :n_factors], relabelled[:, :n_factors]
    np.testing.assert_array_equal(fastdis.mutual_info_matrix(f, codes),
                                  fastdis.mutual_info_matrix(r, codes))
    np.testing.assert_array_equal(fastdis.irs(f, codes), fastdis.irs(r, codes))


@pytest.mark.parametrize("name", ["min_max", "min+5_half+3", "hashes"])
@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
def test_extreme_labels_on_the_sampled_level_path(dtype, name):
    # >= 2**17 rows: the levels of every 64th row are tried first; a level only in row 1
    # is missing from that sample, so the full level pass must follow
    factors, _, codes = data(dtype, name, n=1 << 17, seed=1)
    labels = np.array(label_sets(dtype)[name], dtype=dtype)
    rare = np.array(labels.min(), dtype=dtype)  # a label seen in row 1 only
    factors[:, 0] = np.where(factors[:, 0] == rare, labels.max(), factors[:, 0])
    factors[1, 0] = rare
    relabelled = np.stack([np.unique(c, return_inverse=True)[1].ravel() for c in factors.T], 1)
    np.testing.assert_array_equal(fastdis.mutual_info_matrix(factors, codes),
                                  fastdis.mutual_info_matrix(relabelled, codes))


@pytest.mark.parametrize("name", ["min_max", "min+5_half+3", "hashes"])
@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
def test_joint_histogram_with_extreme_levels(dtype, name):
    factors, relabelled, codes = data(dtype, name)
    levels = [np.array(label_sets(dtype)[name], dtype=dtype)] * 3
    rng = [(codes[:, j].min(), codes[:, j].max()) for j in range(3)]
    h = fastdis.JointHistogram(levels, code_range=rng, n_bins=7, factor_pairs=True)
    h.update(factors[:300], codes[:300]).update(factors[300:], codes[300:])
    ref = fastdis.JointHistogram([np.arange(len(levels[0]))] * 3, code_range=rng, n_bins=7,
                                 factor_pairs=True)
    ref.update(relabelled, codes)
    np.testing.assert_array_equal(h.counts, ref.counts)
    np.testing.assert_array_equal(h.factor_counts, ref.factor_counts)
    # a value that is not a level is an error naming the column, whatever its magnitude
    bad = factors.copy()
    bad[5, 1] = np.iinfo(dtype).max - 1
    with pytest.raises(ValueError, match="factors column 1 has a value that is not one of"):
        h.update(bad, codes)


def numpy_grouping(factors, include):
    """(offsets, perm) of rows grouped by the included columns, groups in lexicographic
    order of their values, rows in order within a group: plain numpy."""
    cols = factors[:, include]
    _, inverse = np.unique(cols, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    perm = np.argsort(inverse, kind="stable")
    offsets = np.concatenate([[0], np.cumsum(np.bincount(inverse))])
    return offsets, perm


@pytest.mark.parametrize("include", [
    [True] * 7 + [False],                 # 600**7 = 2.8e19 combinations: beyond int64
    [False] + [True] * 7,
    [True, False] * 4,
    [True] * 8,                           # 1.7e22
    [True] * 6 + [False] * 2,             # 4.7e16: one exact key pass
])
def test_grouping_key_space_beyond_int64(include):
    rng = np.random.default_rng(5)
    n = 3000
    # 600 levels per factor; rows repeat so that groups have several rows
    base = rng.integers(0, 600, size=(n // 3, 8))
    base[:600] = np.arange(600)[:, None]
    factors = np.repeat(base, 3, axis=0)[rng.permutation(n)]
    enc = EncodedFactors(factors)
    assert (enc.n_levels == 600).all()
    g = enc.group_by(np.array(include), share=False).nonempty()
    offsets, perm = numpy_grouping(factors, np.array(include))
    np.testing.assert_array_equal(g.offsets, offsets)
    np.testing.assert_array_equal(g.perm, perm)


def test_grouping_of_hashed_labels_is_the_relabelled_grouping():
    rng = np.random.default_rng(6)
    hashes = rng.integers(-2**63, 2**63 - 1, size=(5, 600), endpoint=True)
    idx = np.repeat(rng.integers(0, 600, size=(400, 5)), 2, axis=0)
    factors = np.stack([hashes[c][idx[:, c]] for c in range(5)], axis=1)
    include = np.array([True, True, False, True, True])
    g = EncodedFactors(factors).group_by(include, share=False).nonempty()
    ranks = np.stack([np.unique(c, return_inverse=True)[1].ravel() for c in factors.T], 1)
    offsets, perm = numpy_grouping(ranks, include)
    np.testing.assert_array_equal(g.offsets, offsets)
    np.testing.assert_array_equal(g.perm, perm)


# --- memory: entropy through the counting kernel, tables guarded by bytes ----------------

def numpy_entropy(col):
    """-sum p log p of the labels' frequencies, plain numpy."""
    p = np.unique(col, return_counts=True)[1] / len(col)
    return float(-(p * np.log(p)).sum())


def test_entropy_of_a_long_uint8_column_needs_memory_near_the_input():
    import tracemalloc

    n = 1 << 25
    col = np.random.default_rng(7).integers(0, 200, n).astype(np.uint8)
    expected = numpy_entropy(col)
    tracemalloc.start()
    try:
        h = fastdis.entropy(col)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # an int64 index per row would be 8 n bytes; the input itself is n bytes, and the
    # counting pass adds a fixed 16 MiB scratch code
    assert peak < n
    assert h == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("col", [
    np.array([3, -2**63, 2**63 - 1, 3, 3, -2**63]),
    np.array([2**64 - 1, 0, 2**63, 2**63], dtype=np.uint64),
    np.array([0.5, -1.0, 0.5, 1e300]),
    np.array(["b", "a", "b", "b"]),
    np.array([b"x", b"yy", b"x"]),
    np.array([1000, 1001, 1001, 5000, 1001], dtype=np.int16),
])
def test_entropy_equals_numpy(col):
    assert fastdis.entropy(col) == pytest.approx(numpy_entropy(col), rel=1e-12)
    two = np.column_stack([col, col[::-1]])
    np.testing.assert_allclose(fastdis.entropy(two), [numpy_entropy(col)] * 2, rtol=1e-12)


def test_table_guard_counts_bytes_with_the_private_copies():
    # 2**27 cells passed the old 2**28-cell guard; with the int64 tables, the fresh tables
    # of an update and one thread's uint32 + uint16 private tables that is 22 bytes a cell
    levels, codes, bins = 1 << 17, 64, 16
    need = (8 + 8 + 4 + 2) * levels * codes * bins
    with pytest.raises(ValueError, match=rf"would need {need} bytes \(2\.8 GiB, thread-private "
                                         r"copies included\).*fewer bins.*factor_bins="):
        fastdis.JointHistogram([np.arange(levels)], code_range=[(0, 1)] * codes, n_bins=bins,
                               n_threads=1)
    # a quarter of it is accepted
    h = fastdis.JointHistogram([np.arange(levels // 4)], code_range=[(0, 1)] * codes,
                               n_bins=bins, n_threads=1)
    assert h.counts.shape == (levels // 4, codes, bins)


def test_failed_first_update_counts_nothing():
    h = fastdis.JointHistogram([np.arange(3)], code_range=[(0.0, 1.0)], n_bins=4)
    with pytest.raises(ValueError, match="codes column 0 has values outside code_range"):
        h.update(np.array([[0], [1], [2]]), np.array([[0.5], [0.2], [7.0]]))
    assert h.n_samples == 0 and not h.counts.any()
    with pytest.raises(ValueError, match="factors column 0 has a value that is not one of"):
        h.update(np.array([[0], [9]]), np.array([[0.5], [0.2]]))
    assert not h.counts.any()
    h.update(np.array([[0], [2]]), np.array([[0.1], [0.9]]))
    h.update(np.array([[2]]), np.array([[0.9]]))
    np.testing.assert_array_equal(h.table(0, 0), [[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 2]])


# --- labels whose values numpy would round: int64 against uint64, Python-int lists -------

@pytest.mark.parametrize("level_dtype,data_dtype", [(np.int64, np.uint64), (np.uint64, np.int64)])
def test_joint_histogram_levels_and_data_of_int64_and_uint64(level_dtype, data_dtype):
    # 2**62 and 2**62 + 1 are one float64: numpy's mixed int64/uint64 comparison would
    # find the first of them for the second
    values = [3, 2**62, 2**62 + 1, 2**62 + 2]
    levels = np.array(values, dtype=level_dtype)
    idx = np.random.default_rng(8).integers(0, 4, size=(200, 1))
    idx[:4, 0] = np.arange(4)
    factors = np.array(values, dtype=data_dtype)[idx]
    codes = np.random.default_rng(9).random((200, 1))
    h = fastdis.JointHistogram([levels], code_range=[(0.0, 1.0)], n_bins=5).update(factors, codes)
    ref = fastdis.JointHistogram([np.arange(4)], code_range=[(0.0, 1.0)], n_bins=5)
    np.testing.assert_array_equal(h.counts, ref.update(idx, codes).counts)
    # a negative value is no uint64 level; a uint64 value above 2**63 no int64 level
    outside = np.array([[-1]]) if data_dtype == np.int64 else np.array([[2**63 + 3]], np.uint64)
    with pytest.raises(ValueError, match="factors column 0 has a value that is not one of"):
        h.update(outside.astype(data_dtype), codes[:1])


def test_python_int_labels_beyond_float_precision_stay_distinct():
    # numpy makes float64 of [-1, 2**63 + 1, 2**63 + 2]: the two large labels would merge
    labels = [-1, 2**63 + 1, 2**63 + 2, -1, 2**63 + 2, 5]
    expected = numpy_entropy(np.array([0, 2, 3, 0, 3, 1]))
    assert fastdis.entropy(labels) == pytest.approx(expected, rel=1e-12)
    assert fastdis.entropy([[v] for v in labels])[0] == pytest.approx(expected, rel=1e-12)
    codes = np.arange(12.0)[:, None]
    np.testing.assert_array_equal(
        fastdis.mutual_info_matrix([[v] for v in labels * 2], codes, n_bins=3),
        fastdis.mutual_info_matrix([[0], [2], [3], [0], [3], [1]] * 2, codes, n_bins=3))
    h = fastdis.JointHistogram([[-1, 2**63 + 1, 2**63 + 2, 5]], code_range=[(0.0, 6.0)])
    assert h.levels.n_levels.tolist() == [4]


def test_table_guard_uses_the_kernels_pairing_and_thread_cap():
    """The size the guard checks is the kernel's own: two factors of 10 levels are counted
    as one pair of 100 levels (uint32 + uint16 private tables per thread, per thread that
    runs), and a private table too large for two threads under the 512 MiB cap is counted
    once, however many threads were asked for."""
    from fastdis._histogram import table_bytes

    cells = 20 * 5 * 20  # int64 tables: 20 levels in all x 5 codes x 20 bins
    pair = 100 * 5 * 20  # private: the pair's 100 joint levels x 5 codes x 20 bins
    assert table_bytes([10, 10], 5, 20, n_threads=2) == 2 * 8 * cells + 2 * 6 * pair
    assert table_bytes([10, 13], 5, 20, n_threads=2) == 2 * 8 * 23 * 100 + 2 * 6 * 23 * 100
    big = (1 << 17) * 64 * 16  # 6 bytes a cell: 805 MB, one thread's worth under the cap
    assert table_bytes([1 << 17], 64, 16, n_threads=2) == 2 * 8 * big + 6 * big


@pytest.mark.parametrize("make", [
    lambda rng: rng.integers(0, 7, size=(500, 3)),                         # lookup table in place
    lambda rng: rng.integers(-2**62, 2**62, size=(500, 2))[rng.integers(0, 40, 500)],  # wide span
    lambda rng: np.array(["b", "a", "c"])[rng.integers(0, 3, size=(500, 2))],           # strings
])
def test_level_indices_are_each_values_rank_among_its_levels(make):
    from fastdis._encode import FactorLevels

    factors = make(np.random.default_rng(4))
    levels = FactorLevels.from_data(factors)
    got = levels.level_indices(factors)
    assert got.dtype == np.int32 and got.shape == factors.shape
    for k in range(factors.shape[1]):
        np.testing.assert_array_equal(got[:, k], np.searchsorted(np.unique(factors[:, k]), factors[:, k]))
