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
