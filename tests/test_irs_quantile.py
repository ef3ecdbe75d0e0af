"""IRS with a quantile (disentanglement_lib's 0.99): the one-pass selection per factor level
(fastdis._kernels.level_quantile, thresholds from a sample of rows) against numpy's
np.quantile, its fallback when the sample misplaces a quantile, and thread invariance."""
import numpy as np
import pytest

import fastdis
from fastdis import _kernels
from fastdis.metrics import _irs


def _numpy_irs(factors, codes, q):
    """IRS from its definition, per-level deviations by np.quantile."""
    dev_max = np.abs(codes - codes.mean(axis=0)).max(axis=0)
    scores = np.zeros((codes.shape[1], factors.shape[1]))
    for k in range(factors.shape[1]):
        per_level = []
        for a in np.unique(factors[:, k]):
            z = codes[factors[:, k] == a]
            per_level.append(np.quantile(np.abs(z - z.mean(axis=0)), q, axis=0))
        scores[:, k] = 1 - np.mean(per_level, axis=0) / dev_max
    return np.average(scores.max(axis=1), weights=dev_max)


def _data(n, seed=0, order=None):
    rng = np.random.default_rng(seed)
    factors = rng.integers(0, 6, size=(n, 3))
    factors[:, 2] = rng.choice(40, size=n, p=np.r_[np.full(39, 0.5 / 39), 0.5])  # small levels
    codes = np.column_stack([factors[:, 0] + rng.standard_t(3, size=n),
                             rng.normal(size=n), np.round(rng.normal(size=n) * 3),
                             factors[:, 1] * 2.0 + rng.exponential(size=n)])
    if order == "sorted":  # rows sorted by a code: the evenly spaced sample sees its order
        idx = np.argsort(codes[:, 1], kind="stable")
        factors, codes = factors[idx], codes[idx]
    return factors, codes


@pytest.mark.parametrize("q", [0.99, 0.9, 0.5, 0.02])
@pytest.mark.parametrize("order", [None, "sorted"])
def test_quantile_pass_equals_numpy(q, order):
    factors, codes = _data(120_000, order=order)
    got = fastdis.irs(factors, codes, diff_quantile=q, n_threads=2)
    assert got == pytest.approx(_numpy_irs(factors, codes, q), rel=1e-12)
    assert fastdis.irs(factors, codes, diff_quantile=q, n_threads=1) == got


def test_missed_thresholds_fall_back_to_grouping(monkeypatch):
    """Thresholds that exclude the quantile (a negative margin) leave cells unanswered; those
    factors are then computed by grouping their rows: the same value."""
    factors, codes = _data(60_000, seed=1)
    expected = fastdis.irs(factors, codes, diff_quantile=0.99)
    calls = []
    original = _kernels.level_quantile

    def spy(*args):
        dev, ok = original(*args)
        calls.append(ok.mean())
        return dev, ok

    monkeypatch.setattr(_irs, "_MARGIN_SD", -6.0)
    monkeypatch.setattr(_kernels, "level_quantile", spy)
    assert fastdis.irs(factors, codes, diff_quantile=0.99) == pytest.approx(expected, rel=1e-12)
    assert calls and calls[0] < 1.0  # the fallback did run


def test_level_quantile_bad_input():
    factors, codes = _data(1000)
    enc_args = fastdis.metrics._sampling.prepare("irs", factors, codes, None, 1, {},
                                                  check_finite=False, min_factors=1)[1]
    L = int(enc_args.n_levels.sum())
    mean = np.zeros((L, 4))
    count = np.ones(L, dtype=np.int64)
    lo, hi = np.full((L, 4), -np.inf), np.full((L, 4), np.inf)
    args = (*enc_args.kernel_input, enc_args.n_levels, codes)
    with pytest.raises(ValueError, match="q must be in"):
        _kernels.level_quantile(*args, mean, count, lo, hi, 1.0, 1)
    with pytest.raises(ValueError, match="mean must have shape"):
        _kernels.level_quantile(*args, mean[1:], count, lo, hi, 0.5, 1)
    with pytest.raises(TypeError, match="count must have dtype"):
        _kernels.level_quantile(*args, mean, count.astype(np.int32), lo, hi, 0.5, 1)
