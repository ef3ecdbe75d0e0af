"""Shared data for the benchmarks (not part of the default test run).

Run everything, each implementation in its own process, and print the README table:

    python benchmarks/run.py

or one benchmark file directly:

    pytest benchmarks/bench_mutual_info.py --benchmark-only -k fastdis
"""
import numpy as np
import pytest

_CACHE = {}


def mi_data(n):
    """K = 5 factors of 10 values (int64), d = 10 float64 codes: the issue's benchmark case."""
    if n not in _CACHE:
        rng = np.random.default_rng(12345)
        factors = rng.integers(0, 10, size=(n, 5), dtype=np.int64)
        codes = rng.normal(size=(n, 10))
        codes[:, :5] += factors  # some structure, so that MI is not ~0 everywhere
        _CACHE.clear()  # keep one size in memory at a time
        _CACHE[n] = (factors, codes)
    return _CACHE[n]


@pytest.fixture
def data():
    return mi_data
