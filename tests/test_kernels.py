"""The compiled building blocks against plain numpy / scikit-learn references."""
import numpy as np
import pytest
from sklearn.metrics import mutual_info_score
from sklearn.preprocessing import minmax_scale

import fastdis
from fastdis import _kernels
from fastdis._discretize import apply_binning, make_binning


def naive_histogram_labels(codes, n_bins):
    """disentanglement_lib's _histogram_discretize, minus one (labels 0..n_bins-1)."""
    return np.stack([np.digitize(c, np.histogram(c, n_bins)[1][:-1]) - 1 for c in codes.T], axis=1)


def naive_linspace_labels(codes, n_bins):
    """The same edges as np.histogram's, also where numpy refuses ranges too small for n_bins."""
    out = []
    for c in codes.T:
        lo, hi = c.min(), c.max()
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, n_bins + 1, dtype=np.result_type(lo, hi, c))
        out.append(np.digitize(c, edges[:-1]) - 1)
    return np.stack(out, axis=1)


def naive_ubisoft_labels(codes, n_bins):
    """The survey code's minmax_scale + digitize on linspace(0, 1) edges, minus one."""
    scaled = minmax_scale(codes)
    return np.digitize(scaled, np.linspace(0, 1, n_bins + 1)[:-1]) - 1


def naive_tables(factors, labels, n_bins):
    """Contingency table of every (factor, code) pair with np.add.at."""
    out = []
    for k in range(factors.shape[1]):
        _, f = np.unique(factors[:, k], return_inverse=True)
        for j in range(labels.shape[1]):
            t = np.zeros((f.max() + 1, n_bins), dtype=np.int64)
            np.add.at(t, (f, labels[:, j]), 1)
            out.append(t)
    return out


def random_codes(rng, n, d, dtype=np.float64, order="C"):
    scales = 10.0 ** rng.uniform(-3, 3, d)
    codes = rng.normal(size=(n, d)) * scales + rng.normal(size=d) * scales
    codes[:, 0] = np.round(codes[:, 0])  # ties on bin edges
    return np.asarray(codes, dtype=dtype, order=order)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("n_bins", [2, 7, 20, 256, 300])
def test_uniform_equals_numpy_histogram(dtype, order, n_bins):
    rng = np.random.default_rng(n_bins)
    codes = random_codes(rng, 3000, 5, dtype, order)
    labels = fastdis.discretize(codes, n_bins)
    assert labels.dtype == (np.uint8 if n_bins <= 256 else np.uint16)
    np.testing.assert_array_equal(labels, naive_histogram_labels(codes, n_bins))


def test_uniform_edges_hit_exactly():
    """Values sitting exactly on numpy's edges go where np.digitize puts them."""
    rng = np.random.default_rng(0)
    for _ in range(20):
        lo, hi = rng.normal(size=2) * 10.0 ** rng.integers(-5, 6)
        lo, hi = min(lo, hi), max(lo, hi) + 1e-300
        edges = np.histogram_bin_edges([lo, hi], 20)
        col = np.concatenate([edges, np.nextafter(edges, np.inf), np.nextafter(edges, -np.inf)])
        col = np.clip(col, lo, hi)[:, None]
        np.testing.assert_array_equal(fastdis.discretize(col, 20), naive_histogram_labels(col, 20))


def test_minmax_strategy_equals_survey_code():
    rng = np.random.default_rng(1)
    codes = random_codes(rng, 2000, 6)
    binning = make_binning(codes, 10, "minmax")
    np.testing.assert_array_equal(apply_binning(codes, binning), naive_ubisoft_labels(codes, 10))


def test_quantile_strategy_balances_bins():
    rng = np.random.default_rng(2)
    codes = rng.standard_cauchy(size=(10000, 3))  # heavy tails: uniform bins collapse
    labels = fastdis.discretize(codes, 10, strategy="quantile")
    for j in range(3):
        counts = np.bincount(labels[:, j], minlength=10)
        assert counts.min() >= 900 and counts.max() <= 1100
        expected = np.digitize(codes[:, j], np.quantile(codes[:, j], np.linspace(0, 1, 11))[1:-1])
        np.testing.assert_array_equal(labels[:, j], expected)


def test_code_range():
    codes = np.array([[0.0, -1.0], [0.5, 0.0], [1.0, 1.0]])
    labels = fastdis.discretize(codes, 4, code_range=[[0, 1], [-2, 2]])
    np.testing.assert_array_equal(labels, [[0, 1], [2, 2], [3, 3]])
    with pytest.raises(ValueError, match="column 1 has values outside code_range"):
        fastdis.discretize(codes, 4, code_range=[[0, 1], [0, 2]])


def test_strided_and_noncontiguous_views_are_read_in_place():
    rng = np.random.default_rng(3)
    base = rng.normal(size=(1000, 12))
    view = base[::3, 1::2]
    np.testing.assert_array_equal(fastdis.discretize(view), naive_histogram_labels(view, 20))
    rev = base[::-1]
    np.testing.assert_array_equal(fastdis.discretize(rev), naive_histogram_labels(rev, 20))


@pytest.mark.parametrize("fdtype", [np.int8, np.uint8, np.int16, np.uint16, np.int32,
                                    np.uint32, np.int64, np.uint64, np.float64, "U3"])
def test_mutual_info_matrix_equals_sklearn(fdtype):
    rng = np.random.default_rng(4)
    factors = rng.integers(0, 7, size=(4000, 3))
    factors[:, 1] *= 3  # sparse values
    codes = random_codes(rng, 4000, 4)
    codes[:, 1] += factors[:, 0]
    f = factors.astype(fdtype)
    mi = fastdis.mutual_info_matrix(f, codes)
    labels = naive_histogram_labels(codes, 20)
    expected = np.array([[mutual_info_score(f[:, k], labels[:, j]) for j in range(4)]
                         for k in range(3)])
    np.testing.assert_allclose(mi, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fastdis.mutual_info_matrix(f, codes, base=2), expected / np.log(2),
                               atol=1e-12)


def test_factor_values_far_apart_and_negative():
    rng = np.random.default_rng(5)
    values = np.array([-(2**62), -5, 0, 7, 2**61])
    factors = values[rng.integers(0, 5, size=(2000, 1))]
    codes = rng.normal(size=(2000, 2))
    labels = naive_histogram_labels(codes, 20)
    mi = fastdis.mutual_info_matrix(factors, codes)
    np.testing.assert_allclose(mi[0], [mutual_info_score(factors[:, 0], labels[:, j]) for j in range(2)],
                               atol=1e-12)


def test_joint_histogram_tables_equal_naive():
    rng = np.random.default_rng(6)
    factors = rng.integers(0, 4, size=(5000, 3))
    codes = rng.uniform(0, 1, size=(5000, 4))
    h = fastdis.JointHistogram([np.arange(4)] * 3, code_range=[[0, 1]] * 4, n_bins=8,
                               code_pairs=True, factor_pairs=True)
    h.update(factors, codes)
    labels = fastdis.discretize(codes, 8, code_range=(0, 1))
    expected = naive_tables(factors, labels, 8)
    got = [h.table(k, j) for k in range(3) for j in range(4)]
    for e, g in zip(expected, got):
        np.testing.assert_array_equal(g, e)
    for j in range(4):
        for m in range(4):
            t = np.zeros((8, 8), dtype=np.int64)
            np.add.at(t, (labels[:, j], labels[:, m]), 1)
            np.testing.assert_array_equal(h.code_table(j, m), t)
    for k in range(3):
        for m in range(3):
            t = np.zeros((4, 4), dtype=np.int64)
            np.add.at(t, (factors[:, k], factors[:, m]), 1)
            np.testing.assert_array_equal(h.factor_table(k, m), t)
    assert h.n_samples == 5000 and h.counts.sum() == 5000 * 3 * 4


def test_chunks_give_the_same_tables_as_one_call(tmp_path):
    rng = np.random.default_rng(7)
    factors = rng.integers(0, 5, size=(20000, 2))
    codes = rng.uniform(-1, 1, size=(20000, 3))
    path = tmp_path / "codes.npy"
    np.save(path, codes)
    mm = np.load(path, mmap_mode="r")  # read-only memmap, read block by block
    one = fastdis.JointHistogram([range(5)] * 2, code_range=[[-1, 1]] * 3)
    one.update(factors, codes)
    chunked = fastdis.JointHistogram([range(5)] * 2, code_range=[[-1, 1]] * 3)
    for start in range(0, 20000, 3001):
        chunked.update(factors[start:start + 3001], mm[start:start + 3001])
    np.testing.assert_array_equal(one.counts, chunked.counts)
    assert chunked.n_samples == 20000


def test_failed_update_leaves_tables_unchanged():
    h = fastdis.JointHistogram([[0, 1]], code_range=[[0, 1]])
    h.update([[0], [1]], [[0.2], [0.7]])
    before = h.counts.copy()
    with pytest.raises(ValueError, match="factors column 0 has a value that is not one of"):
        h.update([[0], [2]], [[0.2], [0.7]])
    with pytest.raises(ValueError, match="NaN or infinity in column 0"):
        h.update([[0], [1]], [[np.nan], [0.7]])
    np.testing.assert_array_equal(h.counts, before)
    assert h.n_samples == 2


@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_results_do_not_depend_on_threads(n_threads):
    rng = np.random.default_rng(8)
    factors = rng.integers(0, 10, size=(200_000, 3))
    codes = rng.normal(size=(200_000, 4))
    reference = fastdis.mutual_info_matrix(factors, codes, n_threads=1)
    np.testing.assert_array_equal(fastdis.mutual_info_matrix(factors, codes, n_threads=n_threads),
                                  reference)
    np.testing.assert_array_equal(fastdis.discretize(codes, n_threads=n_threads),
                                  fastdis.discretize(codes, n_threads=1))


def test_threadpoolctl_limit_is_honoured():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from fastdis._config import default_threads

    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert default_threads() == 1


def test_entropy():
    assert fastdis.entropy([0, 1, 0, 1], base=2) == pytest.approx(1.0)
    assert fastdis.entropy(["a", "a", "a"]) == 0.0
    h = fastdis.entropy(np.array([[0, 0], [1, 0], [2, 0], [3, 1]]))
    np.testing.assert_allclose(h, [np.log(4), mutual_info_score([0, 0, 0, 1], [0, 0, 0, 1])])


@pytest.mark.filterwarnings("ignore::fastdis.DegenerateWarning")  # tiny n: "continuous" factors
def test_fuzz_kernels_never_misbehave():
    """Random shapes, dtypes, layouts, bins and values: results equal the naive references."""
    rng = np.random.default_rng(9)
    for trial in range(150):
        n = int(rng.integers(2, 600))
        d = int(rng.integers(1, 6))
        k = int(rng.integers(1, 4))
        n_bins = int(rng.choice([2, 3, 17, 255, 256, 257, 1000]))
        dtype = rng.choice([np.float32, np.float64])
        kind = rng.integers(0, 4)
        if kind == 0:
            codes = rng.normal(size=(n, d))
        elif kind == 1:
            codes = rng.integers(-3, 3, size=(n, d)).astype(float)  # many ties, constant columns
        elif kind == 2:
            codes = rng.standard_cauchy(size=(n, d)) * 1e30
        else:
            codes = 1e8 + rng.uniform(0, 1e-6, size=(n, d))  # huge offset, tiny range
        codes = np.asarray(codes, dtype=dtype, order=rng.choice(["C", "F"]))
        if not np.isfinite(codes).all():
            continue
        factors = rng.integers(-2, int(rng.integers(1, 40)), size=(n, k)).astype(
            rng.choice([np.int8, np.int64, np.uint16]) if rng.random() < 0.5 else np.int32)
        if factors.dtype.kind == "u":
            factors = np.abs(factors.astype(np.int64)).astype(np.uint16)
        labels = fastdis.discretize(codes, n_bins, n_threads=int(rng.integers(1, 3)))
        np.testing.assert_array_equal(labels, naive_linspace_labels(codes, n_bins),
                                      err_msg=f"trial {trial}")
        mi = fastdis.mutual_info_matrix(factors, codes, n_bins=n_bins)
        expected = [[mutual_info_score(factors[:, a], labels[:, b]) for b in range(d)]
                    for a in range(k)]
        np.testing.assert_allclose(mi, expected, atol=1e-12, err_msg=f"trial {trial}")


def test_simd_and_scalar_paths_agree():
    """The AVX2 row-wise binning (used when the CPU has it) gives the scalar path's labels."""
    from fastdis import _kernels

    if not _kernels.simd_available():
        pytest.skip("no SIMD path on this machine")
    rng = np.random.default_rng(10)
    cases = [rng.normal(size=(5000, 7)), rng.normal(size=(5000, 3)).astype(np.float32),
             1e6 + rng.uniform(0, 1e-3, size=(5000, 5)), np.round(rng.normal(size=(5000, 9)) * 4),
             rng.normal(size=(5000, 12))[::-1]]
    factors = rng.integers(0, 6, size=(5000, 3))
    try:
        for codes in cases:
            for n_bins in (2, 20, 255, 1000):
                _kernels.set_simd(False)
                slow = fastdis.discretize(codes, n_bins), fastdis.mutual_info_matrix(factors, codes, n_bins)
                _kernels.set_simd(True)
                for avx512 in (True, False):  # AVX-512 where the CPU has it, and AVX2
                    _kernels.set_avx512(avx512)
                    fast = fastdis.discretize(codes, n_bins), fastdis.mutual_info_matrix(factors, codes, n_bins)
                    np.testing.assert_array_equal(fast[0], slow[0])
                    np.testing.assert_array_equal(fast[1], slow[1])
                    np.testing.assert_array_equal(fast[0], naive_linspace_labels(codes, n_bins))
        # the min/max pass
        for codes in cases:
            codes = np.ascontiguousarray(codes)
            _kernels.set_simd(True)
            fast = _kernels.code_minmax(codes, 2)
            _kernels.set_simd(False)
            slow = _kernels.code_minmax(codes, 2)
            np.testing.assert_array_equal(fast[0], codes.min(axis=0))
            np.testing.assert_array_equal(fast[1], codes.max(axis=0))
            np.testing.assert_array_equal(fast[0], slow[0])
            np.testing.assert_array_equal(fast[1], slow[1])
        # caller-given ranges: the checked path, and its errors
        codes = rng.uniform(-1, 1, size=(3000, 6))
        labels = []
        for simd, avx512 in ((True, True), (True, False), (False, False)):
            _kernels.set_simd(simd)
            _kernels.set_avx512(avx512)
            labels.append(fastdis.discretize(codes, 37, code_range=(-1, 1)))
            bad = codes.copy()
            bad[2500, 4] = 1.5
            with pytest.raises(ValueError, match="codes column 4 has values outside code_range"):
                fastdis.discretize(bad, 37, code_range=(-1, 1))
            bad[2000, 3] = np.nan
            with pytest.raises(ValueError, match="NaN or infinity in column 3"):
                fastdis.discretize(bad, 37, code_range=(-1, 1))
        np.testing.assert_array_equal(labels[0], labels[1])
        np.testing.assert_array_equal(labels[0], labels[2])
    finally:
        _kernels.set_simd(True)
        _kernels.set_avx512(True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_simd_counts_values_on_and_beside_every_edge(dtype):
    """The AVX2 path checks the exact edges only for values its arithmetic guess puts near
    a bin boundary: values exactly on an edge, and one ulp either side, must still land
    in np.digitize's bin, with free and with caller-given ranges."""
    from fastdis import _kernels

    rng = np.random.default_rng(11)
    n_bins, d, lo, hi = 20, 6, -1.7, 2.3
    edges = np.linspace(lo, hi, n_bins + 1).astype(dtype)
    near = np.concatenate([edges, np.nextafter(edges, np.inf), np.nextafter(edges, -np.inf)])
    near = near[(near >= edges[0]) & (near <= edges[-1])]
    codes = rng.choice(near, size=(4000, d)).astype(dtype)
    codes[0], codes[1] = edges[0], edges[-1]  # every column spans [lo, hi] exactly
    factors = rng.integers(0, 4, size=(4000, 2))
    labels = naive_linspace_labels(codes, n_bins)
    # JointHistogram bins on float64 edges over its given range, whatever the codes' dtype
    ranges = np.stack([codes.min(0), codes.max(0)], 1).astype(np.float64)
    labels64 = np.stack([np.digitize(c, np.linspace(a, b, n_bins + 1)[:-1]) - 1
                         for c, (a, b) in zip(codes.astype(np.float64).T, ranges)], 1)
    expected = np.zeros((8, d, n_bins), np.int64)
    for k in range(2):
        for j in range(d):
            np.add.at(expected, (4 * k + factors[:, k], j, labels64[:, j]), 1)
    try:
        for simd, avx512 in ((True, True), (True, False), (False, False)):
            _kernels.set_simd(simd)
            _kernels.set_avx512(avx512)
            for code_range in (None, ranges):
                h = fastdis.JointHistogram([range(4)] * 2, code_range=ranges, n_bins=n_bins)
                h.update(factors, codes)
                np.testing.assert_array_equal(h.counts, expected, err_msg=f"simd={simd}")
                # free ranges: np.histogram's edges in the codes' dtype; given: float64
                mi = fastdis.mutual_info_matrix(factors, codes, n_bins, code_range=code_range)
                want = labels if code_range is None else labels64
                np.testing.assert_allclose(mi, [[mutual_info_score(f, z) for z in want.T]
                                                for f in factors.T], atol=1e-12)
    finally:
        _kernels.set_simd(True)
        _kernels.set_avx512(True)


@pytest.mark.parametrize("d", [1, 7, 16, 17, 40])
def test_any_number_of_codes(d):
    """The counting loop is specialised for up to 16 codes and generic beyond."""
    rng = np.random.default_rng(d)
    factors = rng.integers(0, 5, size=(3000, 2))
    codes = rng.normal(size=(3000, d)) + factors[:, :1]
    labels = naive_histogram_labels(codes, 20)
    expected = [[mutual_info_score(factors[:, k], labels[:, j]) for j in range(d)] for k in range(2)]
    np.testing.assert_allclose(fastdis.mutual_info_matrix(factors, codes), expected, atol=1e-12)


def test_pairing_factors_changes_no_count():
    """Small factors are counted in pairs (one increment serves two): same tables."""
    from fastdis import _kernels

    rng = np.random.default_rng(11)
    factors = np.column_stack([rng.integers(0, 3, 20000), rng.integers(0, 6, 20000),
                               rng.integers(0, 40, 20000), rng.integers(0, 5, 20000),
                               rng.integers(0, 2, 20000)])
    codes = rng.uniform(0, 1, size=(20000, 4))
    tables = []
    try:
        for pairing in (True, False):
            _kernels.set_pairing(pairing)
            h = fastdis.JointHistogram([np.arange(m) for m in (3, 6, 40, 5, 2)],
                                       code_range=[[0, 1]] * 4, n_bins=9, code_pairs=True,
                                       factor_pairs=True, n_threads=2)
            h.update(factors, codes)
            h.update(np.asfortranarray(factors), codes)  # column-wise level reads too
            tables.append((h.counts, h.code_counts, h.factor_counts))
    finally:
        _kernels.set_pairing(True)
    for a, b in zip(*tables):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_counters_past_uint16(n_threads):
    """The hot counters are uint16, flushed before they can overflow: a cell counted
    200,000 times (a constant factor and a near-constant code) is exact."""
    n = 200_000
    factors = np.zeros((n, 2), dtype=np.int64)
    factors[: n // 3, 1] = 1
    codes = np.zeros((n, 3))
    codes[-1] = 1.0  # all but one row in the first bin
    h = fastdis.JointHistogram([[0], [0, 1]], code_range=[[0, 1]] * 3, n_bins=4,
                               n_threads=n_threads)
    h.update(factors, codes)
    assert h.table(0, 0)[0, 0] == n - 1 and h.table(0, 0)[0, 3] == 1
    assert h.table(1, 2)[1, 0] == n // 3 and h.table(1, 2)[0, 0] == n - n // 3 - 1


def test_sampled_levels_fall_back_when_a_value_is_missed():
    """Large integer factors first try the levels of every 64th row; a value seen only
    elsewhere makes the counting pass report it, and the full level pass takes over:
    the same matrix either way, equal to scikit-learn's on the same labels."""
    from fastdis import _information

    rng = np.random.default_rng(3)
    n = _information._SAMPLED_LEVELS_ROWS + 1000
    factors = rng.integers(0, 6, size=(n, 3))
    codes = rng.normal(size=(n, 4)) + factors[:, :1]
    rare = factors.copy()
    rare[65, 2] = 9  # row 65 is not sampled (stride 64)
    labels = fastdis.discretize(codes)
    for f in (factors, rare):
        mi = fastdis.mutual_info_matrix(f, codes)
        np.testing.assert_allclose(mi, [[mutual_info_score(a, b) for b in labels.T] for a in f.T],
                                   atol=1e-12)
    # the sampled levels were used for `factors` (one pass), the fallback for `rare`
    calls = []
    original = fastdis._histogram.JointHistogram._add

    def counting(self, *args, **kwargs):
        calls.append(kwargs.get("missing_level_ok", False))
        return original(self, *args, **kwargs)

    fastdis._histogram.JointHistogram._add = counting
    try:
        fastdis.mutual_info_matrix(factors, codes)
        assert calls == [True]
        calls.clear()
        fastdis.mutual_info_matrix(rare, codes)
        assert calls == [True, False]
    finally:
        fastdis._histogram.JointHistogram._add = original


def test_sampled_levels_skip_continuous_looking_factors():
    """A factor with mostly distinct values is not sampled: the full level pass runs and
    its warning is raised."""
    from fastdis import _information
    from fastdis import DegenerateWarning

    n = _information._SAMPLED_LEVELS_ROWS
    rng = np.random.default_rng(4)
    factors = np.stack([rng.integers(0, 4, n), np.arange(n)], axis=1)
    with pytest.warns(DegenerateWarning, match="distinct values"):
        fastdis.mutual_info_matrix(factors, rng.normal(size=(n, 2)))


# ---- the C boundary: the bindings check every array before its pointer reaches C ----

def _binding_calls():
    """name -> (binding, arguments, {argument index: (name, kind)}) with valid arguments.

    kind "data": a 2-D matrix read through strides (any layout); "side": a C-contiguous
    array of fixed dtype and shape; "free": a C-contiguous array whose length is free."""
    from fastdis import _kernels as K
    from fastdis._discretize import Binning

    rng = np.random.default_rng(0)
    n, d = 60, 3
    codes = rng.normal(size=(n, d))
    factors = rng.integers(0, 3, size=(n, 2))
    lv = (np.array([0, 1, 2, 0, 1, 2], dtype=np.int32), np.array([0, 3]), np.array([3, 3]),
          np.zeros(2, dtype=np.int64), np.array([3, 3]))
    edges, scale, offset, tol, uniform, check = Binning(
        np.tile(np.linspace(-5, 5, 11), (d, 1)), 1.0, 0.0, True, False).kernel_args()
    keys = np.arange(n, dtype=np.int64) % 4
    offsets, perm = K.group_rows(keys, 4)
    groups, cum = np.arange(4, dtype=np.int64), np.arange(0, n + 1, n // 4, dtype=np.int64)
    x = np.ascontiguousarray(codes, dtype=np.float32)
    order = np.ascontiguousarray(np.argsort(x, axis=0, kind="stable").T, dtype=np.int32)
    xs = np.ascontiguousarray(np.take_along_axis(x, order.T, axis=0).T)
    y = (np.arange(n) % 3).astype(np.int32)

    def gbt_fit(xs, order, y, raw):  # one model: its labels and raw predictions
        return K.gbt_fit(xs, order, [y], [3], [0], [raw], 2, 0.1, 2, 1)

    [(feature, threshold, value, _)] = gbt_fit(xs, order, y, np.zeros((n, 3)))
    D, S, F = "data", "side", "free"
    G = F  # x: its rows set the expected shape of the other arrays
    lv_kinds = {1: ("lut", F), 2: ("lut_offset", S), 3: ("lut_len", S), 4: ("vmin", S),
                5: ("n_levels", S)}
    return {
        "code_minmax": (K.code_minmax, [codes, 1], {0: ("codes", D)}),
        "discretize": (K.discretize, [codes, edges, scale, offset, tol, uniform, check,
                                      np.empty((n, d), np.uint8), 1],
                       {0: ("codes", D), 1: ("edges", S), 2: ("scale", S), 3: ("offset", S),
                        4: ("tol", S), 7: ("out", S)}),
        "int_scan": (K.int_scan, [factors, 64, 1], {0: ("factors", D)}),
        "mark_values": (K.mark_values, [factors, np.zeros(2, np.int64), np.array([0, 3]),
                                        np.array([3, 3]), np.zeros(6, np.uint8), 1],
                        {0: ("factors", D), 1: ("vmin", S), 2: ("mark_offset", S),
                         3: ("mark_len", S), 4: ("marks", F)}),
        "joint_histogram": (K.joint_histogram,
                            [factors, *lv, codes, edges, scale, offset, tol, uniform, check,
                             np.zeros((6, d, 10), np.int64), np.zeros((d, d, 10, 10), np.int64),
                             np.zeros((6, 6), np.int64), 1],
                            {0: ("factors", D), **lv_kinds, 6: ("codes", D), 7: ("edges", S),
                             8: ("scale", S), 9: ("offset", S), 10: ("tol", S), 13: ("fc", S),
                             14: ("cc", S), 15: ("ff", S)}),
        "factor_keys": (K.factor_keys, [factors, *lv, np.array([3, 1]), 1],
                        {0: ("factors", D), **lv_kinds, 6: ("weight", S)}),
        "group_rows": (K.group_rows, [keys, 4], {0: ("keys", F)}),
        "group_each": (K.group_each, [factors, *lv, np.array([1, 1], np.uint8), 1],
                       {0: ("factors", D), **lv_kinds}),
        "sample_batches": (K.sample_batches, [codes, offsets, perm, groups, cum, True, 0, 5, 1,
                                              np.arange(7, dtype=np.int64), 1],
                           {0: ("codes", D), 1: ("offsets", F), 2: ("perm", S), 3: ("groups", F),
                            4: ("cum", S), 9: ("batch_ids", F)}),
        "group_deviation": (K.group_deviation, [codes, offsets, perm, 0.5, 1],
                            {0: ("codes", D), 1: ("offsets", F), 2: ("perm", S)}),
        "level_deviation": (K.level_deviation, [factors, *lv, codes, 1],
                            {0: ("factors", D), **lv_kinds, 6: ("codes", D)}),
        "gbt_fit": (gbt_fit, [xs, order, y, np.zeros((n, 3))],
                    {0: ("xs", G), 1: ("order", S), 2: ("y", S), 3: ("raw", S)}),
        "gbt_predict": (K.gbt_predict, [x, feature, threshold, value, 3, 2, 0.1,
                                        np.zeros((n, 3)), 1],
                        {0: ("x", G), 1: ("feature", G), 2: ("threshold", S), 3: ("value", S),
                         7: ("raw", S)}),
    }


_OTHER_DTYPE = {"f": {4: np.float64, 8: np.float32}, "i": {4: np.int64, 8: np.int32},
                "u": {1: np.int64, 2: np.int64, 4: np.int64, 8: np.int64}}


def _bad_variants(a, kind):
    """(what, bad array) for an argument of this kind."""
    yield "a list", a.tolist()
    if a.dtype.itemsize > 1:
        yield "byte-swapped", a.astype(a.dtype.newbyteorder())
    if kind == "data":  # any real dtype of the right kind and any layout are fine
        yield "wrong kind", a.astype(np.int64 if a.dtype.kind == "f" else np.float64)
        yield "1-D", np.ascontiguousarray(a[:, 0])
        return
    yield "wrong dtype", a.astype(_OTHER_DTYPE[a.dtype.kind][a.dtype.itemsize])
    yield "non-contiguous", np.repeat(a, 2, axis=-1)[..., ::2]
    if kind == "side":
        yield "one too short", np.ascontiguousarray(a[:-1])


@pytest.mark.parametrize("name", sorted(_binding_calls()))
def test_bindings_reject_wrong_arrays(name):
    """Every array argument of every binding: a wrong dtype, byte order, length or layout
    raises TypeError/ValueError naming the argument (it used to be read as raw memory)."""
    binding, args, kinds = _binding_calls()[name]
    binding(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])  # valid as given
    for i, (arg, kind) in kinds.items():
        for what, bad in _bad_variants(args[i], kind):
            call = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
            call[i] = bad
            with pytest.raises((TypeError, ValueError)) as info:
                binding(*call)
            if kind != "data" or what != "1-D":
                assert arg in str(info.value) or "rows" in str(info.value), \
                    f"{name}: {arg} {what}: {info.value}"


def test_bindings_reject_read_only_outputs():
    binding, args, _ = _binding_calls()["discretize"]
    out = args[7]
    out.flags.writeable = False
    with pytest.raises(ValueError, match="out must be writable"):
        binding(*args)


def test_bindings_reject_inconsistent_tables():
    """Spans outside their table, values whose span overflows int64, and stray table
    entries: an error, never a read or write outside the arrays."""
    from fastdis import _kernels as K

    binding, args, _ = _binding_calls()["joint_histogram"]
    bad = list(args)
    bad[2] = np.array([0, 4])  # the second span runs past the 6 entries
    with pytest.raises(ValueError, match="lut span of column 1"):
        binding(*bad)
    bad = list(args)
    bad[4] = np.array([0, 2**63 - 2])  # values 2**63 - 2 .. 2**63 overflow int64
    with pytest.raises(ValueError, match="overflows int64"):
        binding(*bad)
    bad = list(args)
    bad[1] = np.array([0, 1, 7, 0, 1, 2], dtype=np.int32)  # level 7 of a 3-level factor
    with pytest.raises(K.UnknownLevelError, match="factors column 0 has a value"):
        binding(*bad)
    f, _, off, length, marks, nt = _binding_calls()["mark_values"][1]
    with pytest.raises(ValueError, match="marks span of column 0"):
        K.mark_values(f, np.zeros(2, np.int64), np.array([-1, 3]), length, marks, nt)
    with pytest.raises(ValueError, match="weight must be non-negative with keys below 2"):
        K.factor_keys(*_binding_calls()["factor_keys"][1][:6], np.array([2**62, 2**61]), 1)


def test_mark_values_at_the_ends_of_int64():
    """x - vmin without signed overflow: the extreme labels are marked where they belong,
    a value outside the span is reported (its status used to be dropped), and nothing is
    written outside the span."""
    from fastdis import _kernels as K

    top, bottom = np.iinfo(np.int64).max, np.iinfo(np.int64).min
    f = np.array([[top, bottom], [top - 2, bottom + 2]], dtype=np.int64)
    marks = np.zeros(8, dtype=np.uint8)
    K.mark_values(f, np.array([top - 2, bottom]), np.array([1, 5]), np.array([3, 3]), marks, 1)
    np.testing.assert_array_equal(marks, [0, 1, 0, 1, 0, 1, 0, 1])
    for vmin in ([top - 2, bottom + 5], [bottom, bottom]):  # -2**63 < vmin; 2**63 - 1 - vmin overflows
        marks[:] = 0
        with pytest.raises(K.UnknownLevelError, match="factors column [01] has a value"):
            K.mark_values(f, np.array(vmin), np.array([1, 5]), np.array([3, 3]), marks, 1)
        assert marks[0] == 0 and marks[4] == 0  # outside both spans: never written
    # uint64 labels past int64: in no span
    u = np.array([[2**64 - 1], [1]], dtype=np.uint64)
    with pytest.raises(K.UnknownLevelError):
        K.mark_values(u, np.array([-1]), np.array([0]), np.array([3]), np.zeros(3, np.uint8), 1)


def test_level_lookups_at_the_ends_of_int64():
    """The histogram, key and moments kernels look levels up without signed overflow:
    factors at the ends of int64 count like their relabelled levels."""
    from fastdis import _kernels as K

    top, bottom = np.iinfo(np.int64).max, np.iinfo(np.int64).min
    f = np.array([[bottom], [top], [bottom], [top], [bottom]], dtype=np.int64)
    lut = np.zeros(2**4, dtype=np.int32) - 1
    lut[0], lut[-1] = 0, 1  # a table of 16 values from the bottom: top is not in it
    keys_args = (f, lut, np.array([0]), np.array([16]), np.array([bottom]), np.array([2]))
    with pytest.raises(K.UnknownLevelError, match="factors column 0"):
        K.factor_keys(*keys_args, np.array([1]), 1)
    # relabelled: levels of {bottom, top} at the top of int64 (vmin = top - 15 .. top)
    g = np.array([[top - 15], [top], [top - 15], [top], [top - 15]], dtype=np.int64)
    keys = K.factor_keys(g, lut, np.array([0]), np.array([16]), np.array([top - 15]),
                         np.array([2]), np.array([1]), 1)
    np.testing.assert_array_equal(keys, [0, 1, 0, 1, 0])
    codes = np.arange(5, dtype=np.float64)[:, None]
    mean, dev, lo, hi, count = K.level_deviation(g, lut, np.array([0]), np.array([16]),
                                                 np.array([top - 15]), np.array([2]), codes, 1)
    np.testing.assert_array_equal(count, [3, 2])
    np.testing.assert_array_equal(mean[:, 0], [(0 + 2 + 4) / 3, (1 + 3) / 2])
    np.testing.assert_array_equal(dev[:, 0], [2.0, 1.0])


@pytest.mark.parametrize("mode", ["BATCH_PAIR_DIFF", "BATCH_VARIANCE", "BATCH_PAIRS"])
@pytest.mark.parametrize("bad", ["row outside codes", "group of one row"])
def test_every_sampler_mode_rejects_groups_outside_the_rows(mode, bad):
    """The per-pair mode once read perm rows unchecked (a crash) and divided by a one-row
    group's size minus one (SIGFPE); every mode must refuse both."""
    codes = np.zeros((10, 1))
    if bad == "row outside codes":
        offsets, perm, cum = np.array([0, 10]), np.full(10, 10**12), np.array([0, 10])
    else:
        offsets, perm, cum = np.array([0, 1]), np.arange(10), np.array([0, 1])
    with pytest.raises(ValueError, match="sample_batches: a group lies outside perm"):
        _kernels.sample_batches(codes, offsets, perm, np.array([0]), cum, True,
                                getattr(_kernels, mode), 4, 1, np.arange(4), 1)
