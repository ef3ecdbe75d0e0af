"""The sampling estimator at dSprites size, and the authors' own sampling code beside it.

Not part of the default test run (testpaths = tests). Run:

    pytest benchmarks/bench_posterior_sampling.py --benchmark-only -p no:cacheprovider

Issue 13's goal: N = 737,280 rows, d = 10 codes, K = 5 factors (3, 6, 40, 32, 32 levels),
S = 10,000 samples, every entropy (pairs=False) in under 60 s on 2 cores: 7.4e10
log-densities, >= 1.2e9 per second. Each benchmark prints its rate (rows x samples x codes
per second) in ``extra_info``.

The authors' functions (clarken92/DisentanglementMetrics, utils/metrics/sampling.py) run
beside it when FASTDIS_DOTRAN_REPO names a checkout of that repository (never copied here):
their CuPy calls go to numpy through a stand-in module, as tests/data/dotran/REFERENCE_NOTES.md
describes, at a size where they finish (N = 10,000, S = 1,000).
"""
import importlib
import os
import sys
import time
import types

import numpy as np
import pytest

from fastdis._posterior import check_posterior
from fastdis._posterior_sampling import sampling_entropies

LEVELS = (3, 6, 40, 32, 32)


def dsprites_like(n, d=10, seed=0):
    """Factors on dSprites' level counts and a posterior whose first codes follow them."""
    rng = np.random.default_rng(seed)
    factors = np.stack([rng.integers(0, v, n) for v in LEVELS], axis=1)
    mu = rng.normal(size=(n, d))
    mu[:, :5] += 4 * factors / np.array(LEVELS)
    std = rng.uniform(0.05, 1.0, size=(n, d))
    return factors, check_posterior(mu, std=std)


def _run(benchmark, n, n_samples, pairs):
    factors, post = dsprites_like(n)
    rec = benchmark.pedantic(sampling_entropies, args=(post, factors),
                             kwargs=dict(n_samples=n_samples, random_state=0, pairs=pairs),
                             rounds=1, iterations=1)
    seconds = benchmark.stats.stats.mean
    benchmark.extra_info["log_densities_per_s"] = n * n_samples * post.shape[1] / seconds
    benchmark.extra_info["load_average"] = os.getloadavg()[0]
    assert np.isfinite(rec.code).all() and np.isfinite(rec.mutual_info).all()


@pytest.mark.parametrize("pairs", [False, True])
def test_fastdis_dsprites_size(benchmark, pairs):
    _run(benchmark, 737_280, 10_000, pairs)


def test_fastdis_small(benchmark):
    _run(benchmark, 10_000, 1_000, False)


def _authors_sampling():
    """The authors' utils.metrics.sampling with a numpy stand-in for cupy, or None."""
    repo = os.environ.get("FASTDIS_DOTRAN_REPO")
    if not repo or not os.path.isdir(repo):
        return None
    fake = types.ModuleType("cupy")
    fake.__getattr__ = lambda name: getattr(np, name)
    fake.asnumpy = np.asarray

    class _Device:
        def __init__(self, *args):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    fake.cuda = types.SimpleNamespace(Device=_Device)
    sys.modules.setdefault("cupy", fake)
    sys.path.insert(0, repo)
    try:
        return importlib.import_module("utils.metrics.sampling")
    except ImportError:
        return None


def test_authors_code_small(benchmark):
    """estimate_SEPIN_cupy + estimate_JEMMIG_cupy at N = 10,000, S = 1,000 (their run
    configs' batch sizes), against test_fastdis_small: fastdis should be >= 100x faster."""
    sampling = _authors_sampling()
    if sampling is None:
        pytest.skip("set FASTDIS_DOTRAN_REPO to a checkout of clarken92/DisentanglementMetrics")
    factors, post = dsprites_like(10_000)

    def both():
        sampling.estimate_SEPIN_cupy(post.mu, post.std, num_samples=1000, seed=0, batch_size=20)
        sampling.estimate_JEMMIG_cupy(post.mu, post.std, factors, num_samples=1000, seed=0,
                                      batch_size=10)

    start = time.perf_counter()
    benchmark.pedantic(both, rounds=1, iterations=1)
    benchmark.extra_info["seconds"] = time.perf_counter() - start
