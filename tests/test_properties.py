"""Properties every information metric must have, whatever the data."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import fastdis
from conftest import grid

METRICS = {
    "mig": fastdis.mig, "rmig": fastdis.rmig, "mig_sup": fastdis.mig_sup,
    "jemmig": fastdis.jemmig, "modularity": fastdis.modularity, "dcimig": fastdis.dcimig,
}


def perfect_codes(factors, seed=0):
    """Each code is one factor plus noise narrower than the gap between its values."""
    rng = np.random.default_rng(seed)
    return factors + rng.uniform(0, 0.3, size=factors.shape)


@pytest.fixture(scope="module")
def grid_data():
    factors = grid((4, 5, 6), repeat=20)  # 2400 rows, independent factors
    return factors, perfect_codes(factors)


@pytest.mark.parametrize("name", sorted(METRICS))
def test_perfect_codes_score_one(name, grid_data):
    factors, codes = grid_data
    # each code is its factor, exactly
    assert METRICS[name](factors, factors.astype(float)) == pytest.approx(1.0, abs=1e-12)
    # each code determines its factor but varies within a value: still ~1, except JEMMIG,
    # which charges the extra entropy H(z | v) of the best code (documented)
    if name != "jemmig":
        assert METRICS[name](factors, codes, n_bins=40) == pytest.approx(1.0, abs=0.02)
    else:
        assert 0.6 < METRICS[name](factors, codes, n_bins=40) < 0.9


@pytest.mark.parametrize("name", ["mig", "rmig", "mig_sup", "dcimig", "jemmig"])
def test_independent_noise_scores_near_zero(name):
    rng = np.random.default_rng(1)
    factors = rng.integers(0, 5, size=(50_000, 3))
    codes = rng.uniform(size=(50_000, 6))  # uniform: every bin used, H(z) = log B
    assert METRICS[name](factors, codes) < 0.02


def test_modularity_of_noise_matches_its_chi2_law():
    """For independent variables 2N * I(v; z) ~ chi2((n_v - 1)(B - 1)): modularity is high.

    The expected modularity of pure noise is computed here from that law alone, by Monte
    Carlo, and fastdis's value over many noise codes must agree with it.
    """
    rng = np.random.default_rng(2)
    n, k, d, levels, n_bins = 20_000, 4, 200, 5, 20
    factors = rng.integers(0, levels, size=(n, k))
    codes = rng.uniform(size=(n, d))
    value = fastdis.modularity(factors, codes, n_bins=n_bins)
    df = (levels - 1) * (n_bins - 1)
    mi = rng.chisquare(df, size=(200_000, k)) / (2 * n)
    sq = mi ** 2
    expected = np.mean(1 - (sq.sum(1) - sq.max(1)) / (sq.max(1) * (k - 1)))
    assert value == pytest.approx(expected, abs=0.02)
    assert value > 0.25  # 0.33 here, far from 0: modularity does not detect noise


@pytest.mark.parametrize("name", sorted(METRICS))
def test_permutations_change_nothing(name):
    rng = np.random.default_rng(3)
    factors = rng.integers(0, 4, size=(3000, 3))
    codes = np.column_stack([factors[:, 0] + rng.normal(0, 0.3, 3000),
                             factors[:, 1] + factors[:, 2] + rng.normal(0, 0.3, 3000),
                             rng.normal(size=3000), factors[:, 2] * 1.0])
    metric = METRICS[name]
    base = metric(factors, codes)
    rows = rng.permutation(3000)
    assert metric(factors[rows], codes[rows]) == base
    assert metric(factors, codes[:, ::-1]) == pytest.approx(base, abs=1e-12)
    assert metric(factors[:, [2, 0, 1]], codes) == pytest.approx(base, abs=1e-12)
    # relabelling factor values changes nothing either
    assert metric(np.where(factors == 0, 99, factors), codes) == pytest.approx(base, abs=1e-12)


@pytest.mark.parametrize("name", sorted(METRICS))
def test_quantile_bins_are_invariant_to_increasing_transforms(name):
    rng = np.random.default_rng(4)
    factors = rng.integers(0, 4, size=(3000, 2))
    codes = np.column_stack([factors[:, 0] + rng.normal(0, 0.5, 3000),
                             factors.sum(1) + rng.normal(0, 0.5, 3000)])
    metric = METRICS[name]
    base = metric(factors, codes, strategy="quantile")
    assert metric(factors, np.exp(codes) * 3 + 1, strategy="quantile") == pytest.approx(base, abs=1e-12)
    # equal-width bins: exact under scaling by a power of two
    assert metric(factors, codes * 8.0) == metric(factors, codes)


@pytest.mark.parametrize("name", sorted(METRICS))
def test_threads_and_dtypes(name):
    rng = np.random.default_rng(5)
    factors = grid((5, 8, 10), repeat=300)  # 120,000 rows: large enough for 2 threads
    codes = perfect_codes(factors, 6) + rng.normal(0, 0.5, size=factors.shape)
    metric = METRICS[name]
    one = metric(factors, codes, n_threads=1)
    assert metric(factors, codes, n_threads=2) == one
    c32 = codes.astype(np.float32)
    assert metric(factors, c32) == pytest.approx(metric(factors, c32.astype(np.float64)), abs=1e-3)


def test_chunked_histogram_gives_the_metrics_inputs():
    rng = np.random.default_rng(6)
    factors = rng.integers(0, 6, size=(30_000, 2))
    codes = rng.uniform(-2, 2, size=(30_000, 3)) + factors[:, :1]
    rng_codes = [[-2, 8]] * 3
    h = fastdis.JointHistogram([range(6)] * 2, code_range=rng_codes, n_bins=20)
    for start in range(0, 30_000, 7000):
        h.update(factors[start:start + 7000], codes[start:start + 7000])
    from fastdis._information import information_from_histogram

    chunked = information_from_histogram(h).mutual_info
    np.testing.assert_array_equal(chunked, fastdis.mutual_info_matrix(factors, codes,
                                                                      code_range=rng_codes))


@settings(max_examples=60, deadline=None)
@given(
    factors=arrays(np.int8, st.tuples(st.integers(2, 60), st.integers(1, 3)),
                   elements=st.integers(-3, 3)),
    seed=st.integers(0, 2**32 - 1),
    n_bins=st.integers(2, 30),
)
def test_any_small_input_gives_bounded_scores(factors, seed, n_bins):
    rng = np.random.default_rng(seed)
    codes = rng.normal(size=(factors.shape[0], int(rng.integers(1, 4))))
    codes[:, 0] = np.round(codes[:, 0])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastdis.DegenerateWarning)
        for name, metric in METRICS.items():
            value = metric(factors, codes, n_bins=n_bins)
            if np.isfinite(value):
                assert -1e-12 <= value <= 1 + 1e-12, name
            else:  # only when every factor (or code) is constant
                assert (factors == factors[0]).all(axis=0).all() or name == "modularity"


@pytest.mark.parametrize("n", [2, 3, 7, 23, 1000, 12345])
@pytest.mark.parametrize("label", [0, "a", 2.5])
def test_a_constant_factor_has_exactly_zero_entropy_and_is_left_out(n, label):
    """log n - sum(c log c) / n left 4e-16 for 23 equal labels, so a constant factor was kept
    and scored MIG 1.0 (0 / 0 turned into 4e-16 / 4e-16)."""
    factors = np.full((n, 1), label, dtype=object if isinstance(label, str) else None)
    if isinstance(label, str):
        factors = factors.astype("<U1")
    codes = np.random.default_rng(n).normal(size=(n, 2))
    assert fastdis.entropy(factors[:, 0]) == 0.0
    with pytest.warns(fastdis.DegenerateWarning):
        score, details = fastdis.mig(factors, codes, return_details=True)
    assert np.isnan(score)
    assert details["factor_entropy"][0] == 0.0 and (details["mutual_info"] == 0).all()
    if n < 7:
        return  # (two values in fewer rows look continuous: another warning)
    # a factor with two values next to it is scored on its own
    two = np.column_stack([factors[:, 0].astype(str), (np.arange(n) % 2).astype(str)])
    with pytest.warns(fastdis.DegenerateWarning, match="factors \\[0\\] are constant"):
        assert np.isfinite(fastdis.mig(two, codes))
