"""The (K x d) mutual-information matrix: fastdis against the procedures people use today.

Each test times one implementation at one N; benchmarks/run.py runs each implementation in
its own process and prints the table for the README.
"""
import numpy as np
import pytest

import fastdis

N_BINS = 20
SIZES = [10**5, 10**6, 10**7]


def dlib_procedure(factors, codes):
    """disentanglement_lib: np.histogram edges + np.digitize per code, sklearn MI per pair."""
    from sklearn.metrics import mutual_info_score

    labels = [np.digitize(c, np.histogram(c, N_BINS)[1][:-1]) for c in codes.T]
    return np.array([[mutual_info_score(f, z) for z in labels] for f in factors.T])


def _mi_from_table(t):
    t = t / t.sum()
    pa, pb = t.sum(1, keepdims=True), t.sum(0, keepdims=True)
    nz = t > 0
    return float((t[nz] * np.log(t[nz] / (pa @ pb)[nz])).sum())


def fast_histogram_procedure(factors, codes):
    """fast-histogram's histogram2d looped over the pairs (upper edge made inclusive)."""
    from fast_histogram import histogram2d

    n_levels = factors.max(axis=0) + 1
    out = np.empty((factors.shape[1], codes.shape[1]))
    for j, z in enumerate(codes.T):
        lo, hi = z.min(), np.nextafter(z.max(), np.inf)
        for k, f in enumerate(factors.T):
            t = histogram2d(f, z, bins=(int(n_levels[k]), N_BINS),
                            range=((-0.5, n_levels[k] - 0.5), (lo, hi)))
            out[k, j] = _mi_from_table(t)
    return out


def _known_range(codes):
    return np.stack([codes.min(axis=0), codes.max(axis=0)], axis=1)


IMPLEMENTATIONS = {
    "fastdis_2threads": lambda f, z: fastdis.mutual_info_matrix(f, z, n_bins=N_BINS, n_threads=2),
    # code ranges known in advance (the min/max pass skipped); the range is computed
    # outside the timed call, see test_mutual_info_matrix
    "fastdis_range_2threads": lambda f, z, r: fastdis.mutual_info_matrix(
        f, z, n_bins=N_BINS, n_threads=2, code_range=r),
    "fastdis_1thread": lambda f, z: fastdis.mutual_info_matrix(f, z, n_bins=N_BINS, n_threads=1),
    "fast_histogram": fast_histogram_procedure,
    "dlib": dlib_procedure,
}
# the disentanglement_lib procedure needs minutes per call at 10^7 rows
SKIP = {("dlib", 10**7)}


@pytest.mark.parametrize("n", SIZES, ids=lambda n: f"N1e{len(str(n)) - 1}")
@pytest.mark.parametrize("impl", list(IMPLEMENTATIONS))
def test_mutual_info_matrix(benchmark, data, impl, n):
    if (impl, n) in SKIP:
        pytest.skip("too slow at this size")
    if impl == "fast_histogram":
        pytest.importorskip("fast_histogram")
    factors, codes = data(n)
    benchmark.extra_info.update(impl=impl, n=n)
    rounds = 3 if impl == "dlib" or n >= 10**7 else 7
    args = (factors, codes) + ((_known_range(codes),) if "range" in impl else ())
    result = benchmark.pedantic(IMPLEMENTATIONS[impl], args=args, rounds=rounds,
                                iterations=1, warmup_rounds=1 if n < 10**7 else 0)
    # every implementation computes the same matrix
    np.testing.assert_allclose(result, fastdis.mutual_info_matrix(factors, codes), atol=1e-9)
