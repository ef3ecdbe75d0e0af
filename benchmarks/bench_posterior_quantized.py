"""The quantised posterior estimator at full dSprites size (issue 13, section 5).

N = 737,280 rows, d = 10 codes, K = 5 factors of (3, 6, 40, 32, 32) levels, B = 100 bins on
[-4, 4], posterior std U(0.05, 1): goal under 2 s with the factors on a 2-core machine.
Beside it, a blocked numpy / scipy version of the same exact masses (what one writes
without a kernel), at a tenth of the rows. Not part of the default test run:

    pytest benchmarks/bench_posterior_quantized.py --benchmark-only
"""
import numpy as np
import pytest
from scipy.special import ndtr

from fastdis._posterior import check_posterior
from fastdis._posterior_quantized import quantized_entropies

N_DSPRITES = 737_280
LEVELS = (3, 6, 40, 32, 32)
_CACHE = {}


def dsprites_like(n):
    """Factors with dSprites' level counts, means tied to them, std U(0.05, 1)."""
    if n not in _CACHE:
        rng = np.random.default_rng(2020)
        factors = np.stack([rng.integers(0, m, n) for m in LEVELS], axis=1)
        mu = rng.normal(0.0, 1.0, (n, 10))
        mu[:, :5] += (factors / (np.array(LEVELS) - 1) - 0.5) * 4.0
        std = rng.uniform(0.05, 1.0, (n, 10))
        _CACHE.clear()
        _CACHE[n] = factors, check_posterior(mu, std=std)
    return _CACHE[n]


def numpy_quantized(factors, post, n_bins=100, block=4096):
    """Exact masses with scipy's ndtr, in row blocks (no N x d x B array): H(z_i),
    H(z_i | x) and the (factor level, code, bin) tables."""
    edges = np.linspace(-4.0, 4.0, n_bins + 1)
    edges[0], edges[-1] = -np.inf, np.inf
    n, d = post.mu.shape
    marg = np.zeros((d, n_bins))
    hx = np.zeros(d)
    tables = [np.zeros((m, d, n_bins)) for m in LEVELS]
    for r0 in range(0, n, block):
        mu, sd = post.mu[r0:r0 + block, :, None], post.std[r0:r0 + block, :, None]
        q = np.diff(ndtr((edges - mu) / sd), axis=-1)
        marg += q.sum(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            hx -= np.where(q > 0, q * np.log(q), 0.0).sum((0, 2))
        for k, t in enumerate(tables):
            np.add.at(t, factors[r0:r0 + block, k], q)
    return marg / n, hx / n, tables


@pytest.mark.parametrize("convention", [None, "do_tran"])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_fastdis_quantized_dsprites(benchmark, convention, n_threads):
    factors, post = dsprites_like(N_DSPRITES)
    out = benchmark.pedantic(quantized_entropies, args=(post, factors),
                             kwargs={"convention": convention, "n_threads": n_threads},
                             rounds=3, iterations=1)
    assert out.mutual_info.shape == (5, 10)


def test_numpy_quantized_tenth(benchmark):
    factors, post = dsprites_like(N_DSPRITES // 10)
    benchmark.pedantic(numpy_quantized, args=(factors, post), rounds=1, iterations=1)
