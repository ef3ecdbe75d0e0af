"""The predictor metrics' shared helpers (fastdis.metrics._fitting) that explicitness reads
first, against plain numpy."""
import numpy as np
import pytest

from fastdis.metrics._fitting import value_counts


@pytest.mark.parametrize("factors", [
    np.random.default_rng(0).integers(0, 10, (3000, 4)),                 # counted in a table
    np.random.default_rng(1).integers(-2**62, 2**62, (500, 2)),          # a span too wide
    np.array([[2**64 - 1, 0], [2**64 - 2, 1], [2**64 - 1, 1]], dtype=np.uint64),
    np.array([[-2**63, 5], [2**63 - 1, 5], [-2**63, 6]], dtype=np.int64),
    np.random.default_rng(2).integers(-3, 3, (40, 3)).astype(np.int8),
    np.random.default_rng(3).normal(size=(60, 2)).round(1),
    np.array([["a", "b"], ["a", "c"], ["d", "c"]]),
])
def test_value_counts_is_np_unique(factors):
    for rows in (np.arange(len(factors)), np.arange(len(factors))[::2], np.array([1])):
        want = [len(np.unique(factors[rows, k])) for k in range(factors.shape[1])]
        got = value_counts(factors, rows)
        assert got == want and all(type(c) is int for c in got)
