"""Bad input gets a clear error naming the argument; degenerate input a documented answer."""
import numpy as np
import pytest

import fastdis
from fastdis import DegenerateWarning

METRICS = [fastdis.mig, fastdis.rmig, fastdis.mig_sup, fastdis.jemmig, fastdis.modularity,
           fastdis.dcimig]
RNG = np.random.default_rng(0)
F = RNG.integers(0, 3, size=(50, 2))
Z = RNG.normal(size=(50, 3))


@pytest.mark.parametrize("metric", METRICS + [fastdis.mutual_info_matrix])
@pytest.mark.parametrize("factors,codes,error,match", [
    (F, Z[:, 0], ValueError, r"codes must be a 2-D array .* got a 1-D array .*reshape\(-1, 1\)"),
    (F, Z[None], ValueError, r"codes must be a 2-D array .* got a 3-D array"),
    (F[:, 0], Z, ValueError, r"factors must be a 2-D array .* got a 1-D array"),
    (F[:40], Z, ValueError, r"same number of samples .* factors has 40, codes has 50"),
    (F[:1], Z[:1], ValueError, r"factors needs at least 2 samples"),
    (F[:0], Z[:0], ValueError, r"factors is empty"),
    (F, Z[:, :0], ValueError, r"codes is empty"),
    (F, Z.astype(complex), TypeError, r"codes must be real, got complex"),
    (F, Z.astype(object), TypeError, r"codes must have a real numeric dtype, got object"),
    (F, np.full((50, 3), "a"), TypeError, r"codes must have a real numeric dtype"),
    (F.astype(complex), Z, TypeError, r"factors must hold real or string labels"),
    (np.where(F == 0, np.nan, F), Z, ValueError, r"factors contains NaN or infinity in column 0"),
    ("abc", Z, TypeError, r"factors must be a 2-D array-like"),
])
def test_bad_arrays(metric, factors, codes, error, match):
    with pytest.raises(error, match=match):
        metric(factors, codes)


@pytest.mark.parametrize("metric", METRICS + [fastdis.mutual_info_matrix])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nonfinite_codes_name_the_column(metric, bad, dtype):
    z = Z.astype(dtype)
    z[17, 2] = bad
    with pytest.raises(ValueError, match="codes contains NaN or infinity in column 2"):
        metric(F, z)


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(n_bins=1), ValueError, "n_bins must be >= 2"),
    (dict(n_bins=2.5), TypeError, "n_bins must be an integer"),
    (dict(n_bins=True), TypeError, "n_bins must be an integer"),
    (dict(n_bins=70000), ValueError, "n_bins must be >= 2 and <= 65535"),
    (dict(strategy="kmeans"), ValueError, "strategy must be one of 'uniform', 'quantile'"),
    (dict(n_threads=0), ValueError, "n_threads must be >= 1"),
    (dict(convention="disent"), ValueError, "convention must be None, 'dlib' or 'ubisoft'"),
    (dict(code_range=(1, 0)), ValueError, "code_range must be finite with low < high"),
    (dict(code_range=[[0, 1]] * 2), ValueError, r"code_range must be .* \(3, 2\), got shape \(2, 2\)"),
    (dict(factor_bins=1), ValueError, "factor_bins must be >= 2"),
])
def test_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        fastdis.mig(F, Z, **kwargs)


def test_code_range_too_narrow():
    with pytest.raises(ValueError, match="codes column 0 has values outside code_range"):
        fastdis.mig(F, Z, code_range=(-0.1, 0.1))


@pytest.mark.parametrize("metric", [fastdis.rmig, fastdis.mig_sup, fastdis.jemmig, fastdis.dcimig])
def test_dlib_has_no_such_metric(metric):
    with pytest.raises(ValueError, match="disentanglement_lib has no"):
        metric(F, Z, convention="dlib")


def test_bad_base():
    with pytest.raises(ValueError, match="base must be positive"):
        fastdis.mutual_info_matrix(F, Z, base=1)
    with pytest.raises(TypeError, match="base must be a positive number"):
        fastdis.entropy([1, 2], base="2")


def test_high_cardinality_factor_is_refused_with_advice():
    f = np.arange(2_000_000)[:, None]
    z = np.zeros((2_000_000, 1)) + np.arange(2_000_000)[:, None] * 1e-6
    with pytest.raises(ValueError, match="probably continuous: bin them first"), \
            pytest.warns(fastdis.DegenerateWarning, match="looks continuous"):
        fastdis.mutual_info_matrix(f, z, n_bins=300)


def test_continuous_looking_factor_warns_where_the_user_called():
    rng = np.random.default_rng(0)
    with pytest.warns(fastdis.DegenerateWarning, match="column 1 has 3000 distinct values") as w:
        fastdis.mig(np.column_stack([rng.integers(0, 3, 3000), rng.random(3000)]),
                    rng.normal(size=(3000, 2)))
    assert w[0].filename == __file__


def test_factor_bins_needs_numeric_factors():
    with pytest.raises(TypeError, match="factor_bins needs numeric factors"):
        fastdis.mig(F.astype(str), Z, factor_bins=5)


# --- degenerate but valid data --------------------------------------------------------

def perfect(n=600, seed=1):
    rng = np.random.default_rng(seed)
    f = rng.integers(0, 4, size=(n, 3))
    return f, f + rng.uniform(0, 0.5, size=f.shape)


def test_constant_factor_is_skipped_with_warning_by_default():
    f, z = perfect()
    f = np.column_stack([f, np.full(len(f), 7)])
    z = np.column_stack([z, np.random.default_rng(0).normal(size=len(f))])
    for metric in (fastdis.mig, fastdis.rmig, fastdis.mig_sup, fastdis.jemmig, fastdis.dcimig,
                   fastdis.modularity):
        with pytest.warns(DegenerateWarning, match=r"factors \[3\] are constant"):
            value = metric(f, z)
        assert np.isfinite(value), metric.__name__
    with pytest.warns(DegenerateWarning):
        assert fastdis.mig(f, z) == pytest.approx(fastdis.mig(f[:, :3], z))


def test_constant_factor_reproduces_dlib_nan():
    f, z = perfect()
    f[:, 1] = 0
    with np.errstate(all="ignore"):
        assert np.isnan(fastdis.mig(f, z, convention="dlib"))


def test_all_factors_constant_gives_nan_with_warning():
    z = np.random.default_rng(0).normal(size=(100, 2))
    f = np.zeros((100, 2), dtype=int)
    with pytest.warns(DegenerateWarning) as record:
        assert np.isnan(fastdis.mig(f, z))
    messages = [str(w.message) for w in record]
    assert any("are constant" in m for m in messages) and any("undefined" in m for m in messages)


def test_constant_code_in_modularity():
    f, z = perfect()
    z = np.column_stack([z, np.full(len(z), 3.0)])
    with pytest.warns(DegenerateWarning, match=r"codes \[3\] carry no information"):
        mod, details = fastdis.modularity(f, z, return_details=True)
    assert np.isnan(details["per_code"][3])
    assert mod == pytest.approx(np.mean(details["per_code"][:3]))
    # disentanglement_lib scores the dead code 0, pulling the mean down by a quarter
    assert fastdis.modularity(f, z, convention="dlib") == pytest.approx(0.75 * mod)
    with np.errstate(all="ignore"):
        assert np.isnan(fastdis.modularity(f, z, convention="ubisoft"))


def test_constant_code_gives_nan_under_ubisoft_mig():
    f, z = perfect()
    z[:, 2] = 1.0
    with np.errstate(all="ignore"):
        assert np.isnan(fastdis.mig(f, z, convention="ubisoft"))
    assert np.isfinite(fastdis.mig(f, z))  # default normalises by H(factor): defined


def test_single_code_and_single_factor():
    f, z = perfect()
    assert fastdis.mig(f[:, :1], z[:, :1]) == pytest.approx(fastdis.mutual_info_matrix(
        f[:, :1], z[:, :1])[0, 0] / fastdis.entropy(f[:, 0]))
    assert fastdis.modularity(f[:, :1], z) == 1.0
    assert 0.0 <= fastdis.dcimig(f[:, :1], z) <= 1.0
    assert 0.0 <= fastdis.mig_sup(f[:, :1], z) <= 1.0
