"""Codes at the edges of the floating-point range: the binning path.

A column whose range exceeds the dtype's maximum (|values| ~ 1e308, or ~1e38 in float32)
makes numpy's own edge arithmetic overflow; subnormal columns make 1 / range overflow.
The expected labels come from numpy on the same data at a scale where nothing overflows
(halving and doubling are exact), never from fastdis.
"""
import numpy as np
import pytest
from sklearn.preprocessing import minmax_scale

import fastdis
from fastdis._discretize import minmax_affine


def _data(dtype=np.float64, n=3000, seed=0):
    rng = np.random.default_rng(seed)
    f = rng.integers(0, 5, (n, 2))
    z = (f - 2.0 + rng.normal(0, 0.02, f.shape)) / 2.1      # within (-1, 1)
    return f, z.astype(dtype)


def _numpy_labels(z, n_bins=20):
    """np.histogram's equal-width bins (the last bin closed), computed in float64 numpy."""
    out = np.empty(z.shape, dtype=np.int64)
    for j in range(z.shape[1]):
        edges = np.histogram_bin_edges(z[:, j], n_bins)
        out[:, j] = np.clip(np.searchsorted(edges, z[:, j], side="right") - 1, 0, n_bins - 1)
    return out


@pytest.mark.parametrize("dtype, big", [(np.float64, 1.5e308), (np.float32, 3.0e38)])
@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_range_beyond_dtype_max_bins_like_numpy_at_half_scale(dtype, big, strategy):
    _, z = _data(dtype)
    wide = (z * dtype(big)).astype(dtype)
    assert np.isfinite(wide).all()
    with np.errstate(over="ignore"):
        assert not np.isfinite(wide.max(axis=0) - wide.min(axis=0)).all()  # numpy would overflow
    half = wide / dtype(2)                                                  # exact
    if strategy == "uniform":
        expected = _numpy_labels(half)
    else:
        expected = fastdis.discretize(half, strategy="quantile")
    assert np.array_equal(fastdis.discretize(wide, strategy=strategy), expected)


@pytest.mark.parametrize("scale", [1.5e308 / 1.1, 1e-300, 1e-310, 1e-320])
def test_mig_is_scale_invariant_over_the_whole_float64_range(scale):
    f, z = _data()
    base = fastdis.mig(f, z)
    assert base > 0.9
    assert fastdis.mig(f, z * scale) == pytest.approx(base, abs=2e-3)
    if scale < 1:  # (numpy's own edges overflow above; see the test before)
        assert np.array_equal(fastdis.discretize(z * scale), _numpy_labels(z * scale))


def test_code_range_beyond_dtype_max_accepts_data_inside_it():
    f, z = _data()
    wide = z * 1.5e308
    value = fastdis.mig(f, wide, code_range=(-1.7e308, 1.7e308))
    expected = fastdis.mig(f, wide / 2, code_range=(-0.85e308, 0.85e308))
    assert value == expected
    assert value > 0.9


def test_ubisoft_minmax_scaling_equals_scikit_learn_at_every_scale():
    rng = np.random.default_rng(1)
    for scale in (1.0, 1e-14, 1e-15, 1e-300, 1e-310, 1e300, 1.5e308 / 4):
        z = rng.normal(size=(64, 3)) * scale
        mult, add = minmax_affine(z.min(axis=0), z.max(axis=0))
        if scale < 1e307:
            assert np.array_equal(z * mult + add, minmax_scale(z)), scale
        scaled = z * mult + add
        assert np.isfinite(scaled).all()
        assert scaled.min() >= 0 and scaled.max() <= 1 + 1e-15


def test_ubisoft_mig_on_a_range_beyond_float64_max():
    f, z = _data()
    assert fastdis.mig(f, z * 1.5e308, convention="ubisoft") == pytest.approx(
        fastdis.mig(f, z, convention="ubisoft"), abs=1e-12)


@pytest.mark.parametrize("metric", [fastdis.mig, fastdis.jemmig, fastdis.modularity,
                                    fastdis.mutual_info_matrix,
                                    lambda f, z, **kw: fastdis.discretize(z, **kw)])
def test_private_minmax_strategy_is_refused(metric):
    f, z = _data()
    with pytest.raises(ValueError, match="strategy must be one of 'uniform', 'quantile'"):
        metric(f, z, strategy="minmax")


def test_joint_histogram_code_range_beyond_float64_max_counts_data_inside_it():
    f, z = _data()
    wide = z * 1.5e308
    h = fastdis.JointHistogram([np.arange(5)] * 2, code_range=[(-1.7e308, 1.7e308)] * 2)
    h.update(f, wide)
    np.testing.assert_array_equal(
        fastdis.mutual_info_matrix(f, wide, code_range=(-1.7e308, 1.7e308)),
        fastdis.mutual_info_matrix(f, wide / 2, code_range=(-0.85e308, 0.85e308)))
    from fastdis._information import information_from_histogram

    np.testing.assert_array_equal(information_from_histogram(h).mutual_info,
                                  fastdis.mutual_info_matrix(f, wide / 2,
                                                             code_range=(-0.85e308, 0.85e308)))
