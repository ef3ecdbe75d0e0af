"""Property-based test of the public API against plain-numpy references.

Random shapes, dtypes, byte orders, memory layouts, label values (extreme int64 / uint64
values, 64-bit hashes, floats, strings), NaN positions and thread counts.  Each call either
raises the documented exception naming the argument, or returns a value equal to a
plain-numpy implementation written here from the papers (MIG: Chen et al. 2018 with
disentanglement_lib's binning; IRS: Suter et al. 2019 with the maximum deviation).
"""
import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastdis

I64, U64 = np.iinfo(np.int64), np.iinfo(np.uint64)
LABEL_POOLS = {
    "int8": [-128, -1, 0, 5, 127],
    "int16": [-32768, 0, 7, 32767],
    "int32": [-2**31, -5, 0, 3, 2**31 - 1],
    "int64": [I64.min, I64.min + 5, -1, 0, 2**62 + 3, I64.max,
              -0x5A5A5A5A5A5A5A5A, 0x1234_5678_9ABC_DEF0],          # 64-bit hashes
    "uint8": [0, 1, 200, 255],
    "uint16": [0, 9, 65535],
    "uint32": [0, 3, 2**32 - 1],
    "uint64": [0, 7, 2**63 - 1, 2**63, 2**63 + 12345, U64.max, 0xDEAD_BEEF_DEAD_BEEF],
    "float32": [-1e30, -2.5, 0.0, 0.5, 3e38],
    "float64": [-1.7e308, -0.0, 1e-300, 2.5, 1e308],
    "<U3": ["a", "bb", "ccc", "b", ""],
}


def _as_layout(a, layout):
    """The same values in another memory layout or byte order."""
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "strided":
        big = np.empty((a.shape[0] * 2, a.shape[1] + 1), dtype=a.dtype)
        big[::2, 1:] = a
        return big[::2, 1:]
    if layout == "swapped" and a.dtype.kind in "iuf" and a.dtype.itemsize > 1:
        return a.astype(a.dtype.newbyteorder())
    return a


@st.composite
def cases(draw):
    n = draw(st.integers(2, 200))
    k = draw(st.integers(1, 3))
    d = draw(st.integers(1, 4))
    dtype = draw(st.sampled_from(sorted(LABEL_POOLS)))
    pool = LABEL_POOLS[dtype]
    picks = draw(st.lists(st.lists(st.integers(0, len(pool) - 1), min_size=n, max_size=n),
                          min_size=k, max_size=k))
    factors = np.array([[pool[i] for i in col] for col in picks], dtype=dtype).T
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    codes = rng.normal(size=(n, d)) + factors_numeric_hint(factors)[:, :1]
    # whole float64 range: subnormal-adjacent, huge, and ranges beyond float64's maximum
    with np.errstate(over="ignore"):
        codes = np.clip(codes * draw(st.sampled_from([1.0, 1e-300, 1e300, 3e307])), -1.7e308, 1.7e308)
    if draw(st.booleans()):  # float32 codes, within float32's range
        codes = np.clip(codes, -3e38, 3e38).astype(np.float32)
    nan_at = draw(st.none() | st.tuples(st.integers(0, n - 1), st.integers(0, d - 1)))
    if nan_at is not None:
        codes[nan_at] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    factors = _as_layout(factors, draw(st.sampled_from(["C", "F", "strided", "swapped"])))
    codes = _as_layout(codes, draw(st.sampled_from(["C", "F", "strided", "swapped"])))
    threads = draw(st.sampled_from([None, 1, 2, 3]))
    return factors, codes, threads, nan_at


def factors_numeric_hint(factors):
    """A numeric column that follows the first factor (so codes carry some information)."""
    _, inv = np.unique(factors[:, 0], return_inverse=True)
    return np.asarray(inv, dtype=np.float64).reshape(-1, 1)


# ---- plain-numpy references ---------------------------------------------------------------

def _labels(column):
    return np.unique(column, return_inverse=True)[1].ravel()


def _code_bins(column, n_bins=20):
    """disentanglement_lib's _histogram_discretize: np.histogram edges, maximum in the last bin.
    The column is halved first (exact) so that numpy's edge arithmetic cannot overflow."""
    c = np.asarray(column) / column.dtype.type(2)
    if c.min() == c.max():
        return np.zeros(len(c), dtype=np.int64)  # constant (numpy refuses +-0.5 at 1e38)
    edges = np.histogram_bin_edges(c, n_bins)
    return np.clip(np.searchsorted(edges, c, side="right") - 1, 0, n_bins - 1)


def _entropy(labels):
    p = np.bincount(labels) / len(labels)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def _mutual_info(a, b):
    joint = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(joint, (a, b), 1.0)
    joint /= len(a)
    pa, pb = joint.sum(1, keepdims=True), joint.sum(0, keepdims=True)
    nz = joint > 0
    return float((joint[nz] * np.log(joint[nz] / (pa @ pb)[nz])).sum())


def reference_mig(factors, codes):
    v = [_labels(factors[:, k]) for k in range(factors.shape[1])]
    z = [_code_bins(codes[:, j]) for j in range(codes.shape[1])]
    gaps = []
    for vk in v:
        h = _entropy(vk)
        if h == 0:
            continue  # constant factor: left out (fastdis's default, with a warning)
        mi = sorted((_mutual_info(vk, zj) for zj in z), reverse=True) + [0.0]
        gaps.append((mi[0] - mi[1]) / h)
    return float(np.mean(gaps)) if gaps else float("nan")


def reference_irs(factors, codes):
    codes = np.asarray(codes, dtype=np.float64)
    if np.abs(codes).max() > 1e300:  # IRS is invariant to one common scale: sum without overflow
        codes = np.ldexp(codes, -16)
    scores, weights = [], []
    for j in range(codes.shape[1]):
        z = codes[:, j]
        max_dev = np.abs(z - z.mean()).max()
        if z.max() == z.min():
            continue  # constant code: left out
        best = -np.inf
        for k in range(factors.shape[1]):
            lab = _labels(factors[:, k])
            dev = [np.abs(z[lab == a] - z[lab == a].mean()).max() for a in np.unique(lab)]
            best = max(best, 1.0 - np.mean(dev) / max_dev)
        scores.append(best)
        weights.append(max_dev)
    return float(np.average(scores, weights=weights)) if scores else 0.0


# ---- the property -------------------------------------------------------------------------

@settings(max_examples=400, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_information_and_irs_equal_plain_numpy_or_raise_naming_the_argument(case):
    factors, codes, threads, nan_at = case
    nan_message = rf"codes contains NaN or infinity in column {nan_at[1]}" if nan_at else None
    n_levels = [len(np.unique(factors[:, k])) for k in range(factors.shape[1])]
    # documented: IRS cannot intervene on a factor with one value, nor on one that looks
    # continuous (more distinct values than half the rows); the first such column is named
    single = [k for k, m in enumerate(n_levels) if m == 1 or m > factors.shape[0] // 2]
    if single:
        with pytest.raises(ValueError, match=r"factors column (\d+) has ") as err:
            fastdis.irs(factors, codes, n_threads=threads)
        assert int(re.search(r"factors column (\d+)", str(err.value)).group(1)) in single
    if nan_at is not None:
        for metric in (fastdis.mig, fastdis.mutual_info_matrix) + (() if single else (fastdis.irs,)):
            with pytest.raises(ValueError, match=nan_message):
                metric(factors, codes, n_threads=threads)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastdis.DegenerateWarning)
        got = fastdis.mig(factors, codes, n_threads=threads)
        got_irs = None if single else fastdis.irs(factors, codes, n_threads=threads)
    expected = reference_mig(factors, codes)
    if np.isnan(expected):
        assert np.isnan(got)
    else:
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)
    if single:
        return
    # IRS in float64 arithmetic: a relative tolerance covers float32 codes' means
    assert got_irs == pytest.approx(reference_irs(factors, codes), rel=1e-6, abs=1e-9)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.sampled_from(["int64", "uint64"]), st.integers(2, 300), st.integers(0, 2**32 - 1))
def test_random_64bit_labels_equal_their_relabelling(dtype, n, seed):
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype)
    levels = rng.integers(info.min, info.max, size=int(rng.integers(1, 6)), dtype=dtype,
                          endpoint=True)
    factors = levels[rng.integers(0, len(levels), size=(n, 2))]
    codes = rng.normal(size=(n, 3))
    relabelled = np.column_stack([_labels(factors[:, k]) for k in range(2)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastdis.DegenerateWarning)
        np.testing.assert_array_equal(fastdis.mutual_info_matrix(factors, codes),
                                      fastdis.mutual_info_matrix(relabelled, codes))
        np.testing.assert_equal(fastdis.mig(factors, codes), fastdis.mig(relabelled, codes))
