"""Intervention metrics against plain-numpy implementations written from their papers.

The samplers of fastdis and of these references use different random streams, so the
comparison is in distribution: the means over seeds agree within three standard errors
of their difference. The codes interact (z = [v0 v1, v1, v2 v0]): with such codes, where
the fixed value is drawn once per batch instead of once per pair changes Z-diff by 0.2.
"""
import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import fastdis
from conftest import grid


def interacting_codes(noise, seed=0, levels=(3, 3, 3), repeat=10, offset=0.0):
    factors = grid(levels, repeat=repeat)
    v = factors.astype(np.float64) + offset
    codes = np.column_stack([v[:, 0] * v[:, 1], v[:, 1], v[:, 2] * v[:, 0]])
    return factors, codes + np.random.default_rng(seed).normal(0, noise, size=codes.shape)


def value_groups(factors, keep):
    """Rows grouped by the joint value of the factor columns ``keep``: (sorted rows, start
    and size of each group with two rows or more)."""
    _, inv, counts = np.unique(factors[:, keep], axis=0, return_inverse=True,
                               return_counts=True)
    order = np.argsort(inv.ravel(), kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    ok = counts >= 2
    return order, starts[ok], counts[ok]


def numpy_z_diff_features(factors, codes, y, L, rng, by_row, replace):
    """Higgins et al. (2017): for batch b, L pairs of rows sharing the value of factor
    y[b], each pair drawing its own value; feature = mean over pairs of |z_a - z_b|."""
    groups = [value_groups(factors, [k]) for k in range(factors.shape[1])]
    features = np.empty((len(y), codes.shape[1]))
    for b, k in enumerate(y):
        order, starts, sizes = groups[k]
        # the value of the pair: uniform over the values (the survey code), or that of a
        # random row (disentanglement_lib samples the first row of the pair)
        g = rng.choice(len(sizes), size=L, p=sizes / sizes.sum() if by_row else None)
        a = rng.integers(0, sizes[g])
        if replace:
            c = rng.integers(0, sizes[g])
        else:  # two different rows
            c = rng.integers(0, sizes[g] - 1)
            c += c >= a
        ra, rc = order[starts[g] + a], order[starts[g] + c]
        features[b] = np.abs(codes[ra] - codes[rc]).mean(axis=0)
    return features


def numpy_z_diff(factors, codes, seed, L, n_train, n_eval, by_row, replace, max_iter, scale,
                 C=1.0):
    rng = np.random.default_rng(seed)
    K = factors.shape[1]
    y = rng.integers(0, K, size=n_train + n_eval)
    x = numpy_z_diff_features(factors, codes, y, L, rng, by_row, replace)
    if C == 0:  # the limit of a vanishing C: the unpenalised intercept, the majority class
        acc = np.mean(y[n_train:] == np.bincount(y[:n_train]).argmax())
    else:
        model = LogisticRegression(max_iter=max_iter, C=C).fit(x[:n_train], y[:n_train])
        acc = model.score(x[n_train:], y[n_train:])
    return (acc - 1 / K) / (1 - 1 / K) if scale else acc


def assert_same_distribution(ours, theirs, slack=0.01):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    se = np.sqrt(ours.var(ddof=1) / len(ours) + theirs.var(ddof=1) / len(theirs))
    assert abs(ours.mean() - theirs.mean()) <= 3 * se + slack, (ours, theirs)


# convention -> the reference's sampling: value by row?, rows with replacement?,
# LogisticRegression max_iter, chance-rescaled?
Z_DIFF_CONVENTIONS = {
    None: (False, False, 10000, True),
    "ubisoft": (False, False, 10000, True),
    "dlib": (True, True, 100, False),
}


@pytest.mark.parametrize("convention", [None, "ubisoft", "dlib"])
def test_z_diff_draws_the_fixed_value_per_pair(convention):
    factors, codes = interacting_codes(noise=0.3)
    by_row, replace, max_iter, scale = Z_DIFF_CONVENTIONS[convention]
    seeds = range(6)
    ours = [fastdis.z_diff(factors, codes, convention=convention, random_state=s, batch_size=64,
                           n_train=200, n_eval=200) for s in seeds]
    theirs = [numpy_z_diff(factors, codes, 100 + s, 64, 200, 200, by_row, replace, max_iter,
                           scale) for s in seeds]
    assert_same_distribution(ours, theirs)


@pytest.mark.parametrize("scale_by,C", [(1e306, np.inf), (1e-300, 0.0), (1e-310, 0.0)])
def test_z_diff_at_extreme_scales(scale_by, C):
    """Z-diff is not scale invariant: multiplying the features by s is multiplying the
    logistic regression's C by s**2. At 1e306 the L2 penalty vanishes (C = inf, no
    penalty); at 1e-300 it is everything (C -> 0: the majority class)."""
    factors, codes = interacting_codes(noise=1.0)
    seeds = range(6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # subnormal products in the fixture
        scaled = codes * scale_by
    ours = [fastdis.z_diff(factors, scaled, random_state=s, batch_size=8, n_train=200,
                           n_eval=200) for s in seeds]
    theirs = [numpy_z_diff(factors, codes, 100 + s, 8, 200, 200, False, False, 10000, True,
                           C=C) for s in seeds]
    assert_same_distribution(ours, theirs)


@pytest.mark.parametrize("exponents", [(700, 1024), (-700, -1060)])
def test_z_diff_scaled_by_powers_of_two_beyond_the_penalty(exponents):
    """Far beyond the scale where C = 1 matters, the value no longer depends on the scale
    (the penalty is negligible, or the whole objective), to the last bit: also for codes
    whose largest magnitude is 2**1023, where a difference of two codes overflows."""
    factors, codes = interacting_codes(noise=1.0)
    codes = codes - codes.mean(axis=0)  # both signs: |z_a - z_b| reaches twice max |z|
    top = np.frexp(np.abs(codes).max())[1]
    a, b = (fastdis.z_diff(factors, np.ldexp(codes, p - top), random_state=3, batch_size=8,
                           n_train=200, n_eval=200) for p in exponents)
    assert a == b


def numpy_variance_vote(factors, codes, seed, L, n_train, n_eval, n_var, threshold, by_row,
                        replace, vary_one):
    """Kim & Mnih (2018) Z-min variance, or with vary_one Kim et al. (2019) Z-max variance:
    batch b holds L rows sharing ONE value of factor y[b] (Z-min) or ONE combination of the
    other factors (Z-max), drawn once for the whole batch; the code with the smallest
    (largest) variance relative to its global variance votes for y[b]; each code is
    assigned its majority factor; the score is that classifier's accuracy."""
    rng = np.random.default_rng(seed)
    n, K = factors.shape
    rows = rng.integers(0, n, n_var) if replace else rng.choice(n, min(n_var, n), replace=False)
    global_var = codes[rows].var(axis=0, ddof=1)
    active = (np.sqrt(global_var) >= threshold) & (global_var > 0)
    y = rng.integers(0, K, size=n_train + n_eval)
    groups = [value_groups(factors, [c for c in range(K) if c != k] if vary_one else [k])
              for k in range(K)]
    votes = np.empty(len(y), dtype=np.int64)
    for b, k in enumerate(y):
        order, starts, sizes = groups[k]
        g = rng.choice(len(sizes), p=sizes / sizes.sum() if by_row else None)
        members = order[starts[g]:starts[g] + sizes[g]]
        batch = rng.choice(members, size=L, replace=replace or len(members) < L)
        ratio = codes[batch].var(axis=0, ddof=1) / global_var
        ratio[~active] = np.nan
        votes[b] = np.nanargmax(ratio) if vary_one else np.nanargmin(ratio)
    table = np.zeros((codes.shape[1], K), dtype=np.int64)
    np.add.at(table, (votes[:n_train], y[:n_train]), 1)
    return np.mean(table.argmax(axis=1)[votes[n_train:]] == y[n_train:])


@pytest.mark.parametrize("metric,convention,by_row,replace", [
    ("z_min_var", None, False, False),
    ("z_min_var", "dlib", True, True),
    ("z_max_var", None, False, False),
])
def test_variance_metrics_fix_the_value_per_batch(metric, convention, by_row, replace):
    """Z-min and Z-max draw one value (combination) per batch, as their papers do: a
    variance over a batch is only small for the fixed factor if the whole batch shares
    its value."""
    factors, codes = interacting_codes(noise=0.3, offset=1.0)
    seeds = range(12)
    ours = [getattr(fastdis, metric)(factors, codes, convention=convention, random_state=s,
                                     batch_size=16, n_train=200, n_eval=200, scale=False,
                                     std_threshold=0.02) for s in seeds]
    theirs = [numpy_variance_vote(factors, codes, 100 + s, 16, 200, 200, 10000, 0.02, by_row,
                                  replace, vary_one=metric == "z_max_var") for s in seeds]
    assert_same_distribution(ours, theirs)
