"""The shortcuts around the intervention samplers give exactly the slow paths' results:
integer factors binned through their levels, and small parallel regions run on one thread."""
import numpy as np
import pytest

import fastdis
from fastdis._grouping import EncodedFactors
from fastdis._information import grouping_labels


def _survey_labels(factors, n_bins):
    """The survey code's factor binning in plain numpy: minmax_scale, then np.digitize on
    np.linspace(0, 1) edges (labels 0 .. n_bins - 1)."""
    x = factors.astype(np.float64)
    lo, hi = x.min(axis=0), x.max(axis=0)
    rng = np.where(hi - lo < 10 * np.finfo(np.float64).eps, 1.0, hi - lo)
    scale = 1.0 / rng
    t = x * scale + (0.0 - lo * scale)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.clip(np.digitize(t, edges[:-1]) - 1, 0, n_bins - 1)


def _groupings(enc, k):
    return [(g.offsets, g.perm) for g in enc._group_each(range(k))]


CASES = [(np.int64, 10, 10), (np.uint8, 3, 10), (np.int32, 37, 10), (np.int8, 11, 10),
         (np.int64, 10, 3), (np.uint64, 200, 20), (np.int16, 2, 300)]


@pytest.mark.parametrize("dtype, n_values, n_bins", CASES)
@pytest.mark.parametrize("n_threads", [1, 2])
def test_grouping_labels_group_as_binned_labels(dtype, n_values, n_bins, n_threads):
    rng = np.random.default_rng(n_values)
    factors = rng.integers(0, n_values, size=(5000, 3)).astype(dtype)
    if np.dtype(dtype).kind == "i":
        factors[:, 1] -= 5  # negative values
    factors[:, 2] = factors[:, 2] * 7  # gaps between levels
    labels, levels = grouping_labels(factors, n_bins, "minmax", n_threads)
    expected = EncodedFactors(_survey_labels(factors, n_bins), 1)
    got = EncodedFactors(labels, n_threads, levels=levels)
    np.testing.assert_array_equal(got.n_levels, expected.n_levels)
    for (o1, p1), (o2, p2) in zip(_groupings(got, 3), _groupings(expected, 3)):
        np.testing.assert_array_equal(o1, o2)
        np.testing.assert_array_equal(p1, p2)
    # injective binning: the factors themselves; bins shared by levels: looked-up labels
    injective = n_values <= n_bins and n_values * 7 <= n_bins  # column 2 spans 7x wider
    if injective:
        assert labels is factors
    if levels is None and labels is not factors:
        np.testing.assert_array_equal(labels, _survey_labels(factors, n_bins))


def test_grouping_labels_uniform_strategy_and_fallbacks():
    rng = np.random.default_rng(3)
    f = rng.integers(0, 25, size=(3000, 2))
    labels, levels = grouping_labels(f, 20, "uniform", 2)
    expected = fastdis.discretize(f.astype(np.float64), n_bins=20)
    np.testing.assert_array_equal(labels, expected)
    wide = np.repeat(rng.integers(-2**62, 2**62, size=(30, 2)), 10, axis=0)  # no lookup table
    labels, levels = grouping_labels(wide, 10, "minmax", 1)
    assert levels is None
    np.testing.assert_array_equal(labels, _survey_labels(wide, 10))
    floats = f.astype(np.float64)  # float factors: the binning pass itself
    np.testing.assert_array_equal(grouping_labels(floats, 10, "minmax", 1)[0],
                                  _survey_labels(floats, 10))


@pytest.mark.parametrize("metric", ["z_diff", "z_min_var", "z_max_var", "irs"])
def test_integer_factors_score_as_float_factors(metric):
    """Float factors take the binning pass over every row; integer ones the level shortcut:
    the same groups, so the same value bit for bit (same random_state)."""
    rng = np.random.default_rng(5)
    factors = rng.integers(0, 6, size=(3000, 3))
    codes = rng.normal(size=(3000, 4))
    codes[:, :3] += factors
    kw = dict(convention="ubisoft", random_state=1, n_threads=2)
    if metric in ("z_diff", "z_min_var", "z_max_var"):
        kw.update(n_train=60, n_eval=40)
    fn = getattr(fastdis, metric)
    assert fn(factors, codes, **kw) == fn(factors.astype(np.float64), codes, **kw)


# Rows on either side of the kernels' one-thread threshold (csrc/common.h FD_TEAM_WORK =
# 2**19 element operations per thread): 4000 rows run on one thread, 300000 rows of 4 factors
# and 10 codes on two.
SIZES = [4000, 300000]


def _team_data(n):
    rng = np.random.default_rng(n)
    factors = rng.integers(0, 7, size=(n, 4))
    codes = rng.normal(size=(n, 10))
    codes[:, :4] += factors
    codes[::97, 5] = 1e300  # extreme values
    codes[:, 9] = 2.5  # a constant column
    return factors, codes


def _naive_grouping(column):
    """Rows by level, in row order within a level: a stable sort."""
    perm = np.argsort(column, kind="stable")
    offsets = np.concatenate([[0], np.cumsum(np.bincount(column))])
    return offsets, perm


@pytest.mark.parametrize("n", SIZES)
def test_range_binning_and_level_kernels_match_numpy_on_1_and_2_threads(n):
    from fastdis._encode import FactorLevels

    factors, codes = _team_data(n)
    for nt in (1, 2):
        expected = np.stack([np.clip(np.digitize(c, np.histogram_bin_edges(c, 20)[:-1]) - 1, 0, 19)
                             for c in codes.T], axis=1)
        np.testing.assert_array_equal(fastdis.discretize(codes, n_bins=20, n_threads=nt), expected)
        levels = FactorLevels.from_data(factors, nt)
        for k in range(factors.shape[1]):
            np.testing.assert_array_equal(levels.values[k], np.unique(factors[:, k]))
        for k, g in enumerate(EncodedFactors(factors, nt)._group_each(range(4))):
            offsets, perm = _naive_grouping(factors[:, k])
            np.testing.assert_array_equal(g.offsets, offsets)
            np.testing.assert_array_equal(g.perm, perm)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("metric, convention", [("z_min_var", "ubisoft"), ("z_min_var", "dlib"),
                                                ("z_diff", "dlib"), ("irs", None)])
def test_intervention_metrics_bit_identical_on_1_and_2_threads(n, metric, convention):
    factors, codes = _team_data(n)
    kw = dict(convention=convention, random_state=3, return_details=True)
    if metric != "irs":
        kw.update(n_train=300, n_eval=100)
    fn = getattr(fastdis, metric)
    one, two = fn(factors, codes, n_threads=1, **kw), fn(factors, codes, n_threads=2, **kw)
    assert one[0] == two[0]
    for key, value in one[1].items():
        np.testing.assert_array_equal(np.asarray(value), np.asarray(two[1][key]), err_msg=key)
