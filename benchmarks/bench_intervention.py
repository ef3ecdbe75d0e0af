"""Intervention metrics: fastdis beside the reference procedure written plainly with numpy.

The baselines do what the reference implementations do per batch: a boolean mask over all
rows (np.where) to find the rows with the fixed value(s), a random choice among them, and
the reduction in numpy. Run with benchmarks/run.py, or:

    pytest benchmarks/bench_intervention.py --benchmark-only
"""
import numpy as np
import pytest

import fastdis
from conftest import benchmark_data
from fastdis import _kernels
from fastdis._grouping import EncodedFactors

SIZES = [10**6, 10**7]
SETTINGS = dict(batch_size=200, n_train=800, n_eval=800)


def data(n):
    return benchmark_data(n, 54321)


def _votes_score(winners, targets, n_train, d, K):
    votes = np.zeros((d, K), dtype=np.int64)
    np.add.at(votes, (winners[:n_train], targets[:n_train]), 1)
    classifier = votes.argmax(axis=1)
    ok = classifier[winners[n_train:]] == targets[n_train:]
    return (ok.mean() - 1 / K) / (1 - 1 / K)


def numpy_variance_vote(factors, codes, vary_one, seed=0, batch_size=200, n_train=800,
                        n_eval=800, threshold=0.02):
    rng = np.random.default_rng(seed)
    n, K = factors.shape
    var = codes[rng.choice(n, 10000, replace=False)].var(axis=0, ddof=1)
    active = np.sqrt(var) >= threshold
    targets = rng.integers(0, K, n_train + n_eval)
    winners = np.empty(len(targets), dtype=np.int64)
    for b, k in enumerate(targets):
        if vary_one:  # all factors but k fixed to those of a random row
            others = np.delete(np.arange(K), k)
            combo = factors[rng.integers(n), others]
            idx = np.where((factors[:, others] == combo).all(axis=1))[0]
        else:
            idx = np.where(factors[:, k] == factors[rng.integers(n), k])[0]
        rows = rng.choice(idx, batch_size, replace=len(idx) < batch_size)
        ratio = np.where(active, codes[rows].var(axis=0, ddof=1) / var, np.nan)
        winners[b] = np.nanargmax(ratio) if vary_one else np.nanargmin(ratio)
    return _votes_score(winners, targets, n_train, codes.shape[1], K)


def numpy_z_diff(factors, codes, seed=0, batch_size=200, n_train=10000, n_eval=5000):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    n, K = factors.shape
    targets = rng.integers(0, K, n_train + n_eval)
    features = np.empty((len(targets), codes.shape[1]))
    for b, k in enumerate(targets):
        idx = np.where(factors[:, k] == factors[rng.integers(n), k])[0]
        rows = rng.choice(idx, 2 * batch_size, replace=False)
        features[b] = np.abs(codes[rows[:batch_size]] - codes[rows[batch_size:]]).mean(axis=0)
    model = LogisticRegression(max_iter=10000).fit(features[:n_train], targets[:n_train])
    return (model.score(features[n_train:], targets[n_train:]) - 1 / K) / (1 - 1 / K)


def numpy_irs(factors, codes, q=1.0):
    max_dev = np.abs(codes - codes.mean(axis=0)).max(axis=0)
    cum = np.zeros((codes.shape[1], factors.shape[1]))
    for k in range(factors.shape[1]):
        values = np.unique(factors[:, k])
        for a in values:
            match = factors[:, k] == a
            cum[:, k] += np.percentile(np.abs(codes[match] - codes[match].mean(axis=0)), q * 100, axis=0)
        cum[:, k] /= len(values)
    return np.average((1 - cum / max_dev[:, None]).max(axis=1), weights=max_dev)


IMPLEMENTATIONS = {
    ("fastdis", "z_min_var"): lambda f, z: fastdis.z_min_var(f, z, random_state=0, **SETTINGS),
    ("fastdis", "z_max_var"): lambda f, z: fastdis.z_max_var(f, z, random_state=0, **SETTINGS),
    ("fastdis", "irs"): lambda f, z: fastdis.irs(f, z),
    ("fastdis", "z_diff"): lambda f, z: fastdis.z_diff(f, z, random_state=0),
    ("numpy", "z_diff"): numpy_z_diff,
    ("numpy", "z_min_var"): lambda f, z: numpy_variance_vote(f, z, vary_one=False),
    ("numpy", "z_max_var"): lambda f, z: numpy_variance_vote(f, z, vary_one=True),
    ("numpy", "irs"): numpy_irs,
}
SKIP = {("numpy", "z_max_var", 10**7), ("numpy", "z_min_var", 10**7),  # minutes per call
        ("numpy", "z_diff", 10**7)}


@pytest.mark.parametrize("n", SIZES, ids=lambda n: f"N1e{len(str(n)) - 1}")
@pytest.mark.parametrize("impl,metric", list(IMPLEMENTATIONS), ids=lambda x: str(x))
def test_metric(benchmark, impl, metric, n):
    if (impl, metric, n) in SKIP:
        pytest.skip("too slow at this size")
    factors, codes = data(n)
    benchmark.extra_info.update(impl=impl, metric=metric, n=n)
    rounds = 1 if (impl, metric) == ("numpy", "z_diff") else 3  # ~a minute per call
    value = benchmark.pedantic(IMPLEMENTATIONS[impl, metric], args=(factors, codes), rounds=rounds,
                               iterations=1)
    if metric == "irs":
        assert value == pytest.approx(fastdis.irs(factors, codes), abs=1e-9)
    else:  # different random streams: the same distribution
        assert abs(value - IMPLEMENTATIONS["fastdis", metric](factors, codes)) < 0.1


@pytest.mark.parametrize("n", SIZES, ids=lambda n: f"N1e{len(str(n)) - 1}")
@pytest.mark.parametrize("part", ["group_and_draw", "draw"])
def test_sampler_10000_batches_of_64(benchmark, n, part):
    """10,000 batches of 64 rows drawn and reduced (variances), spread over the 5 factors;
    "group_and_draw" also groups the rows by each factor first (once per call)."""
    factors, codes = data(n)
    benchmark.extra_info.update(impl="fastdis", metric=f"sampler 10k x 64 ({part})", n=n)
    enc = EncodedFactors(factors)
    parts = np.array_split(np.arange(10_000, dtype=np.int64), enc.n_factors)

    def groupings():
        out = []
        for k in range(enc.n_factors):
            g = enc.group_by(np.arange(enc.n_factors) == k)
            out.append((g, *g.eligible()))
        return out

    def draw(grouped):
        return np.concatenate([
            _kernels.sample_batches(codes, g.offsets, g.perm, groups, cum, False,
                                    _kernels.BATCH_VARIANCE, 64, 1, ids, 0)
            for (g, groups, cum), ids in zip(grouped, parts)])

    if part == "draw":
        grouped = groupings()
        result = benchmark.pedantic(draw, args=(grouped,), rounds=5, iterations=1)
    else:
        result = benchmark.pedantic(lambda: draw(groupings()), rounds=3, iterations=1)
    assert result.shape == (10_000, 10) and (result >= 0).all()
