"""Paths whose work must not grow needlessly: IRS's quantile by selection (not a sort) and
the predictor metrics' seeded split (drawing only the rows kept, not permuting all N).

Expected values come from plain numpy: ``np.quantile`` of |z - mean| on dyadic data (every
sum is exact in any order, so the mean is the same whatever the summation order), and
the split's definition (disjoint uniform subsets of the right sizes; the conventions'
``RandomState`` permutation written out here)."""
import tracemalloc

import numpy as np
import pytest

import fastdis
from fastdis import _kernels
from fastdis.metrics import _explicitness
from fastdis.metrics._fitting import split_rows

QUANTILES = (0.0, 0.5, 0.9, 0.99, 0.999, 1.0, 0.37)


def _dyadic(rng, shape, step=2.0**-10):
    """Normal values on a grid of ``step`` (|x| < 8): sums of up to 2**20 of them are exact."""
    return np.clip(np.round(rng.normal(size=shape) / step) * step, -7.5, 7.5)


def _grouped(keys, n_groups):
    perm = np.argsort(keys, kind="stable").astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(np.bincount(keys, minlength=n_groups))])
    return offsets.astype(np.int64), perm


def _expected(z, offsets, perm, q):
    """Per group and code: np.mean and np.quantile(|z - mean|, q) (numpy's default method)."""
    n_groups, d = len(offsets) - 1, z.shape[1]
    mean, dev = np.full((n_groups, d), np.nan), np.full((n_groups, d), np.nan)
    for g in range(n_groups):
        rows = perm[offsets[g]:offsets[g + 1]]
        if len(rows):
            mean[g] = z[rows].mean(axis=0)
            dev[g] = np.quantile(np.abs(z[rows] - mean[g]), q, axis=0)
    return mean, dev


@pytest.mark.parametrize("q", QUANTILES)
@pytest.mark.parametrize("data", ["random", "ties"])
def test_group_quantile_is_numpys(q, data):
    """Groups of 0, 1, 2, 3 rows up to thousands (the selection's sampled pivots), random
    values and heavy ties: the very float np.quantile gives (its interpolation from the
    upper order statistic when the weight is >= 0.5 included)."""
    rng = np.random.default_rng(7)
    sizes = np.array([0, 1, 2, 3, 5, 17, 40, 601, 1000, 4999])
    keys = rng.permutation(np.repeat(np.arange(len(sizes)), sizes))
    z = _dyadic(rng, (len(keys), 4), step=0.25 if data == "ties" else 2.0**-10)
    offsets, perm = _grouped(keys, len(sizes))
    mean, dev = _kernels.group_deviation(z, offsets, perm, q, 1)
    want_mean, want_dev = _expected(z, offsets, perm, q)
    np.testing.assert_array_equal(mean, want_mean)
    np.testing.assert_array_equal(dev, want_dev)


@pytest.mark.parametrize("order", ["sorted", "reversed", "equal", "sawtooth", "organ_pipe",
                                   "two_values"])
def test_group_quantile_adversarial_orders(order):
    """Orders that defeat naive pivots (sorted, reversed, all equal, periodic, organ pipe,
    two values) give numpy's quantile too."""
    m = 6000
    x = {"sorted": np.arange(m), "reversed": -np.arange(m), "equal": np.ones(m),
         "sawtooth": np.arange(m) % 97,
         "organ_pipe": np.concatenate([np.arange(m // 2), np.arange(m // 2)[::-1]]),
         "two_values": np.arange(m) % 2}[order].astype(np.float64) / 4
    z = np.stack([x, x[::-1]], axis=1)
    offsets, perm = np.array([0, m], dtype=np.int64), np.arange(m, dtype=np.int64)
    for q in QUANTILES:
        mean, dev = _kernels.group_deviation(z, offsets, perm, q, 1)
        np.testing.assert_array_equal(dev, _expected(z, offsets, perm, q)[1])


@pytest.mark.parametrize("q", [0.5, 0.99, 1.0])
def test_group_quantile_nan_is_nan(q):
    """A NaN in a group makes that group's value NaN (as np.quantile), only that one."""
    rng = np.random.default_rng(3)
    keys = np.repeat(np.arange(3), 50)
    z = _dyadic(rng, (150, 2))
    z[60, 0] = np.nan  # group 1, code 0
    offsets, perm = _grouped(keys, 3)
    with np.errstate(invalid="ignore"):
        _, dev = _kernels.group_deviation(z, offsets, perm, q, 1)
        want = _expected(z, offsets, perm, q)[1]
    assert np.isnan(dev[1, 0])
    np.testing.assert_array_equal(dev, want)


def test_group_quantile_thread_invariant():
    """Every thread count gives the same bits (few groups: codes are split across threads)."""
    rng = np.random.default_rng(11)
    keys = rng.integers(0, 3, 20000)
    z = rng.normal(size=(20000, 7))
    offsets, perm = _grouped(keys, 3)
    runs = [_kernels.group_deviation(z, offsets, perm, 0.99, nt) for nt in (1, 2, 3, 5)]
    for mean, dev in runs[1:]:
        np.testing.assert_array_equal(mean, runs[0][0])
        np.testing.assert_array_equal(dev, runs[0][1])


def test_irs_dlib_quantile_thread_invariant_and_numpy():
    """irs(convention="dlib") (0.99 quantile) is the same for any n_threads, and equals IRS
    written in numpy from the definition with np.quantile."""
    rng = np.random.default_rng(5)
    f = rng.integers(0, 4, size=(3000, 2))
    z = _dyadic(rng, (3000, 3)) + np.c_[f, np.zeros(3000)]
    got = [fastdis.irs(f, z, convention="dlib", n_threads=nt) for nt in (1, 2, 3)]
    assert got[0] == got[1] == got[2]
    dev_max = np.abs(z - z.mean(axis=0)).max(axis=0)
    scores = np.zeros((3, 2))
    for k in range(2):
        q = [np.quantile(np.abs(z[f[:, k] == a] - z[f[:, k] == a].mean(axis=0)), 0.99, axis=0)
             for a in np.unique(f[:, k])]
        scores[:, k] = 1 - np.mean(q, axis=0) / dev_max
    assert got[0] == pytest.approx(np.average(scores.max(axis=1), weights=dev_max), rel=1e-12)


# ---- the predictor metrics' split -------------------------------------------------------

def _check_split(fit, test, n, n_fit, n_test):
    assert len(fit) == n_fit and len(test) == n_test
    for rows in (fit, test):
        assert rows.min() >= 0 and rows.max() < n
        assert (np.diff(rows) > 0).all()  # sorted, distinct
    assert len(np.intersect1d(fit, test)) == 0


@pytest.mark.parametrize("n, fraction, max_train, max_test, n_fit, n_test", [
    (1000, 0.8, 10000, 5000, 800, 200),        # nothing capped: a partition of the rows
    (100_000, 0.8, 10000, 5000, 10000, 5000),  # both capped
    (20_000, 0.9, 10000, False, 10000, 2000),  # fit capped, no test cap
    (11, 0.5, 2, 1, 2, 1),
])
def test_default_split_sizes_disjoint(n, fraction, max_train, max_test, n_fit, n_test):
    fit, test = split_rows(n, fraction, max_train, max_test, 4, "m")
    _check_split(fit, test, n, n_fit, n_test)
    if n_fit + n_test == n:
        np.testing.assert_array_equal(np.union1d(fit, test), np.arange(n))


def test_default_split_reproducible_and_seeded():
    a = split_rows(50_000, 0.8, 1000, 500, 9, "m")
    b = split_rows(50_000, 0.8, 1000, 500, 9, "m")
    c = split_rows(50_000, 0.8, 1000, 500, 10, "m")
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_default_split_is_uniform():
    """Every row is as likely to be drawn (to fit, to test): counts over seeds stay within
    a few binomial standard deviations of the mean."""
    n, hits_fit, hits_test = 50, np.zeros(50), np.zeros(50)
    for seed in range(2000):
        fit, test = split_rows(n, 0.8, 10, 5, seed, "m")
        hits_fit[fit] += 1
        hits_test[test] += 1
    for hits, k in ((hits_fit, 10), (hits_test, 5)):
        p = k / n
        sd = np.sqrt(2000 * p * (1 - p))
        assert np.abs(hits - 2000 * p).max() < 5 * sd


def test_default_split_does_not_touch_all_rows():
    """Drawing 15,000 of 10**7 rows allocates about what it keeps, not an N-row permutation
    (80 MB)."""
    tracemalloc.start()
    try:
        fit, test = split_rows(10**7, 0.8, 10000, 5000, 1, "m")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    _check_split(fit, test, 10**7, 10000, 5000)
    assert peak < 8e6


def test_default_split_all_rows_caps():
    """train_fraction False: fit and test are each a random subset of all rows (they may
    overlap); uncapped, one array for both."""
    fit, test = split_rows(1000, False, 100, 50, 2, "m")
    assert len(np.unique(fit)) == 100 and len(np.unique(test)) == 50
    assert (np.diff(fit) > 0).all() and (np.diff(test) > 0).all()
    fit, test = split_rows(1000, False, False, None, 2, "m")
    assert fit is test
    np.testing.assert_array_equal(fit, np.arange(1000))


@pytest.mark.parametrize("convention", ["dlib", "ubisoft"])
def test_convention_split_is_randomstate_permutation(convention):
    """The conventions keep disentanglement_lib's draw: RandomState(seed).permutation, its
    first ceil(fraction N) rows fit, then RandomState(seed).choice subsets."""
    n, seed = 30_000, 12
    rows = np.random.RandomState(seed).permutation(n)
    n_fit = int(np.ceil(0.9 * n))
    picker = np.random.RandomState(seed)
    want_fit = np.sort(picker.choice(rows[:n_fit], 10000, replace=False))
    want_test = rows[n_fit:]  # 3,000 rows: under the cap, RandomState's order kept
    fit, test = split_rows(n, 0.9, 10000, 5000, seed, "m", convention)
    np.testing.assert_array_equal(fit, want_fit)
    np.testing.assert_array_equal(test, want_test)


@pytest.mark.parametrize("convention", [None, "dlib"])
def test_split_errors_name_the_argument(convention):
    with pytest.raises(ValueError, match="max_train"):
        split_rows(1000, 0.8, 1, 5, 0, "m", convention)
    with pytest.raises(ValueError, match="max_test"):
        split_rows(1000, False, 5, 0, 0, "m", convention)
    with pytest.raises(ValueError, match="train_fraction"):
        split_rows(1000, 1.5, 5, 5, 0, "m", convention)
    with pytest.raises(ValueError, match="too few"):
        split_rows(2, 0.5, 5, 5, 0, "m", convention)


def test_default_split_independent_of_threads(monkeypatch):
    """explicitness (default convention) fits and scores on the same rows for any n_threads."""
    seen = []

    def spy(*args, **kwargs):
        seen.append(split_rows(*args, **kwargs))
        return seen[-1]

    monkeypatch.setattr(_explicitness, "split_rows", spy)
    rng = np.random.default_rng(0)
    f = rng.integers(0, 3, size=(4000, 2))
    z = f + 0.3 * rng.normal(size=(4000, 2))
    for nt in (1, 2):
        fastdis.explicitness(f, z, random_state=3, n_threads=nt, max_train=500, max_test=300)
    _check_split(*seen[0], 4000, 500, 300)
    np.testing.assert_array_equal(seen[0][0], seen[1][0])
    np.testing.assert_array_equal(seen[0][1], seen[1][1])
