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
