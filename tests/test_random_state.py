"""One rule for random_state in every metric: None, an integer in [0, 2**32), a numpy
Generator or RandomState; anything else is an error naming random_state."""
import numpy as np
import pytest

import fastdis

CHEAP = dict(z_diff=dict(n_train=200, n_eval=50, batch_size=8),
             z_min_var=dict(n_train=50, n_eval=20, batch_size=8, n_variance_estimate=200),
             z_max_var=dict(n_train=50, n_eval=20, batch_size=8, n_variance_estimate=200))
METRICS = [name for name, _ in fastdis.available_metrics().items()]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    factors = rng.integers(0, 3, size=(600, 2))
    return factors, factors + 0.3 * rng.normal(size=(600, 2))


POSTERIOR = set(fastdis.available_metrics("posterior"))


def _call(name, data, random_state):
    factors, codes = data
    if name in POSTERIOR:  # on a posterior; the sampling estimator is the one that draws
        kwargs = dict(std=np.full(codes.shape, 0.2), estimator="sampling", n_samples=64,
                      random_state=random_state)
        if name == "informativeness":
            return float(fastdis.informativeness(codes, **kwargs).mean())
        if name == "separability":
            return fastdis.separability(codes, **kwargs).wsepin
        return fastdis.interpretability(factors, codes, **kwargs).rmig
    return getattr(fastdis, name)(factors, codes, random_state=random_state,
                                  **CHEAP.get(name, {}))


def test_every_metric_is_listed():
    assert len(METRICS) == 16 and len(POSTERIOR) == 3


@pytest.mark.parametrize("bad", [-1, 2**32, 1.5, True, "7"])
def test_the_deterministic_quantised_estimator_checks_random_state_too(data, bad):
    with pytest.raises((ValueError, TypeError), match="random_state"):
        fastdis.informativeness(data[1], std=np.full(data[1].shape, 0.2), random_state=bad)


@pytest.mark.parametrize("name", METRICS)
@pytest.mark.parametrize("bad, error", [(-1, ValueError), (2**32, ValueError), (1.5, TypeError),
                                        (True, TypeError), ("7", TypeError)])
def test_bad_seeds_are_refused_by_every_metric(name, data, bad, error):
    with pytest.raises(error, match="random_state"):
        _call(name, data, bad)


@pytest.mark.parametrize("name", METRICS)
def test_generators_and_the_largest_seed_are_taken_by_every_metric(name, data):
    for good in (np.random.default_rng(1), np.random.RandomState(1), 2**32 - 1, None):
        value = _call(name, data, good)
        value = getattr(value, "informativeness", value)
        assert np.isfinite(value)
    # the same integer seed gives the same value
    first, second = _call(name, data, 5), _call(name, data, 5)
    assert getattr(first, "informativeness", first) == getattr(second, "informativeness", second)


# ---- the conventions' permutations: numpy's RandomState replayed in C (legacy_random.c) ----

def _numpy_heads(seed, sizes):
    """Naive reference: one RandomState's successive permutations, first `keep` of each."""
    rs = np.random.RandomState(seed)
    return [rs.permutation(n)[:keep] for n, keep in sizes], rs.random()


# lengths around the Mersenne Twister's 624-word refills and around powers of two (the
# rejection mask changes there, mid-permutation)
EDGE_N = [0, 1, 2, 3, 4, 5, 623, 624, 625, 1249, 4095, 4096, 4097, 2**16 + 3, 2**17 - 1, 2**17]


@pytest.mark.parametrize("seed", [0, 7, 2**32 - 1])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("simd", [True, False])
def test_legacy_heads_are_randomstates_permutations(seed, n_threads, simd):
    """Both ways of deciding the draws (AVX2 groups where the CPU has them, scalar)."""
    from fastdis import _kernels
    sizes = [(n, keep) for n in EDGE_N for keep in sorted({0, min(n, 1), n // 3, n})]
    other = [(n + 1, (n + 1) // 2) for n in EDGE_N]  # a second stream, other lengths
    a, b = np.random.RandomState(seed), np.random.RandomState((seed + 1) % 2**32)
    _kernels.set_simd(simd)
    try:
        got = _kernels.legacy_heads([(a, sizes), (b, other)], n_threads)
    finally:
        _kernels.set_simd(True)
    for rs, stream, start in [(a, 0, seed), (b, 1, (seed + 1) % 2**32)]:
        want, following = _numpy_heads(start, [sizes, other][stream])
        assert len(got[stream]) == len(want)
        for g, w in zip(got[stream], want):
            assert g.dtype == np.int32 and np.array_equal(g, w)
        assert rs.random() == following  # the state advanced as numpy's


@pytest.mark.parametrize("n_threads", [1, 2])
def test_legacy_heads_side_by_side_equal_one_at_a_time_at_1e6(n_threads):
    """Two streams of 10**6-row permutations (each past the size that starts a second
    thread), in pieces of 2**18 steps: the same as numpy's, stream by stream."""
    from fastdis import _kernels
    sizes_a, sizes_b = [(10**6, 10**6)], [(900_000, 10_000), (100_000, 5_000)]
    previous = _kernels.set_chunk_cells(2**18)
    try:
        both = _kernels.legacy_heads([(np.random.RandomState(3), sizes_a),
                                      (np.random.RandomState(3), sizes_b)], n_threads)
    finally:
        _kernels.set_chunk_cells(previous)
    for got, sizes in zip(both, (sizes_a, sizes_b)):
        want, _ = _numpy_heads(3, sizes)
        assert all(np.array_equal(g, w) for g, w in zip(got, want))


def test_legacy_heads_bad_input():
    from fastdis import _kernels
    rs = np.random.RandomState(0)
    with pytest.raises(TypeError, match="random_state must be a numpy RandomState"):
        _kernels.legacy_heads([(np.random.default_rng(0), [(5, 5)])], 1)
    with pytest.raises(ValueError, match="sizes"):
        _kernels.legacy_heads([(rs, [(5, 6)])], 1)
    with pytest.raises(ValueError, match="sizes"):
        _kernels.legacy_heads([(rs, [(2**31, 1)])], 1)
    with pytest.raises(ValueError, match="streams"):
        _kernels.legacy_heads([(rs, [])] * 3, 1)


def test_legacy_heads_can_be_interrupted():
    """The shuffle runs in pieces with a signal check between them: a signal handler's
    exception stops it (as Ctrl-C's KeyboardInterrupt would), the generator untouched."""
    import signal

    from fastdis import _kernels

    class Alarm(Exception):
        pass

    def ring(signum, frame):
        raise Alarm

    rs = np.random.RandomState(0)
    before = rs.get_state()[2]
    previous_cells = _kernels.set_chunk_cells(2**14)
    previous = signal.signal(signal.SIGALRM, ring)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.02)
        with pytest.raises(Alarm):  # 200 permutations of 10**6: seconds, if not stopped
            _kernels.legacy_heads([(rs, [(10**6, 1)] * 200)], 1)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        _kernels.set_chunk_cells(previous_cells)
    assert rs.get_state()[2] == before


def _numpy_split(n, fraction, cap_fit, cap_eval, seed):
    """disentanglement_lib's rows, in numpy: the permutation, then choice(replace=False)."""
    n_fit = int(np.ceil(fraction * n))
    rows = np.random.RandomState(seed).permutation(n)
    picker = np.random.RandomState(seed)
    fit, test = rows[:n_fit], rows[n_fit:]
    if len(fit) > cap_fit:
        fit = np.sort(picker.choice(fit, cap_fit, replace=False))
    if len(test) > cap_eval:
        test = np.sort(picker.choice(test, cap_eval, replace=False))
    return fit, test


@pytest.mark.parametrize("n,caps", [(300_000, (10_000, 5_000)), (300_000, (400_000, 5_000)),
                                    (300_000, (10_000, 50_000)), (5_000, (100, 10))])
def test_conventions_split_equals_numpy_for_any_thread_count(n, caps, monkeypatch):
    from fastdis.metrics import _fitting
    want = _numpy_split(n, 0.9, *caps, 21)
    got = [_fitting.split_rows(n, 0.9, *caps, 21, "m", "dlib", nt) for nt in (1, 2)]
    # tables of 2**31 rows and more take the int64 path: the same rows
    monkeypatch.setattr(_fitting, "_WIDE_ROWS", 1000)
    got.append(_fitting.split_rows(n, 0.9, *caps, 21, "m", "dlib", 2))
    for fit, test in got:
        assert fit.dtype == test.dtype == np.int64
        np.testing.assert_array_equal(fit, want[0])
        np.testing.assert_array_equal(test, want[1])


@pytest.mark.parametrize("caps", [(100, 50), (100, None), (None, 50), (None, None)])
@pytest.mark.parametrize("wide", [False, True])
def test_conventions_capped_rows_without_a_split(caps, wide, monkeypatch):
    """train_fraction=False (the survey code's every row, for both), each set capped by
    RandomState(seed).choice, the fit set's draw first."""
    from fastdis.metrics import _fitting
    if wide:
        monkeypatch.setattr(_fitting, "_WIDE_ROWS", 10)
    picker = np.random.RandomState(5)
    want = [np.sort(picker.choice(1000, cap, replace=False)) if cap else np.arange(1000)
            for cap in caps]
    fit, test = _fitting.split_rows(1000, False, *caps, 5, "m", "ubisoft", 2)
    np.testing.assert_array_equal(fit, want[0])
    np.testing.assert_array_equal(test, want[1])
    assert (fit is test) == (caps == (None, None))
