"""Shared data for the benchmarks (not part of the default test run).

Run everything, each implementation in its own process, and print the README table:

    python benchmarks/run.py

or one benchmark file directly:

    pytest benchmarks/bench_mutual_info.py --benchmark-only -k fastdis
"""
import numpy as np
import pytest

_CACHE = {}


def benchmark_data(n, seed=12345):
    """K = 5 factors of 10 values (int64), d = 10 float64 codes, the first 5 codes
    = factor + N(0, 1): the issues' benchmark case. One size kept in memory at a time."""
    if (n, seed) not in _CACHE:
        rng = np.random.default_rng(seed)
        factors = rng.integers(0, 10, size=(n, 5), dtype=np.int64)
        codes = rng.normal(size=(n, 10))
        codes[:, :5] += factors  # some structure, so that MI is not ~0 everywhere
        _CACHE.clear()
        _CACHE[n, seed] = (factors, codes)
    return _CACHE[n, seed]


def mi_data(n):
    return benchmark_data(n, 12345)


@pytest.fixture
def data():
    return mi_data
