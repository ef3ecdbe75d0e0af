"""The quantised posterior estimator (fastdis._posterior_quantized.quantized_entropies).

The references below are plain numpy / scipy written from the definitions (the paper's for
the default, REFERENCE_NOTES.md 3.1 / 3.2 for convention="do_tran"), never from fastdis.
"""
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.special import ndtr
from scipy.stats import norm

import fastdis
from fastdis import _kernels
from fastdis._posterior import Posterior, check_posterior
from fastdis._posterior_quantized import quantized_entropies

DATA = Path(__file__).parent / "data" / "dotran"
CASES = ["mixed_grid", "near_deterministic", "redundant"]


# ----------------------------------------------------------------- naive references

def _xlogx(p):
    return np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)


def naive_exact(mu, std, factors=None, n_bins=100, bin_range=(-4.0, 4.0)):
    """The paper's quantisation with exact masses: Phi differences on the edges, the two
    edge bins open-ended; plug-in entropies. Dense (n, d, B): small inputs only."""
    edges = np.linspace(*bin_range, n_bins + 1)
    e = edges.copy()
    e[0], e[-1] = -np.inf, np.inf
    z = (e[None, None, :] - mu[..., None]) / std[..., None]
    lo, hi = z[..., :-1], z[..., 1:]
    # upper-tail differences where both edges are above the mean: no cancellation near 1
    q = np.where(lo > 0, norm.sf(lo) - norm.sf(hi), norm.cdf(hi) - norm.cdf(lo))
    n = len(mu)
    marg = q.mean(axis=0)
    out = {"code": -_xlogx(marg).sum(-1), "code_given_x": -_xlogx(q).sum(-1).mean(0), "q": q}
    if factors is not None:
        k_count = factors.shape[1]
        out["factor"] = np.empty(k_count)
        out["code_factor"] = np.empty((k_count, mu.shape[1]))
        out["mutual_info"] = np.empty((k_count, mu.shape[1]))
        for k in range(k_count):
            values, inv = np.unique(factors[:, k], return_inverse=True)
            pv = np.bincount(inv) / n
            joint = np.stack([q[inv == l].sum(0) for l in range(len(values))], 1) / n  # d, L, B
            out["factor"][k] = -_xlogx(pv).sum()
            out["code_factor"][k] = -_xlogx(joint).sum((1, 2))
            prod = pv[None, :, None] * marg[:, None, :]
            ratio = np.where(joint > 0, joint, 1.0) / np.where(joint > 0, prod, 1.0)
            out["mutual_info"][k] = np.where(joint > 0, joint * np.log(ratio), 0).sum((1, 2))
    d = mu.shape[1]
    pairs = np.diag(out["code"])
    for i in range(d):
        for j in range(i + 1, d):
            pairs[i, j] = pairs[j, i] = -_xlogx(np.einsum("na,nb->ab", q[:, i], q[:, j]) / n).sum()
    out["pairs"] = pairs
    return out


def naive_do_tran(mu, std, factors, n_bins):
    """What the authors' scripts compute (REFERENCE_NOTES.md 3.1, 3.2), in float64."""
    edges = np.linspace(-4.0, 4.0, n_bins + 1)
    centres, widths = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    var = np.maximum(std ** 2, 1e-8)[..., None]
    dens = np.exp(-(centres - mu[..., None]) ** 2 / (2 * var)) / (np.sqrt(2 * np.pi) * np.maximum(std, 1e-8)[..., None])
    q = dens * widths
    q = q / np.maximum(q.sum(-1, keepdims=True), 1e-8)
    fallback = dens.max(-1) < 1e-5
    holder = np.clip(np.searchsorted(edges, mu, side="right") - 1, 0, n_bins - 1)
    q[fallback] = np.eye(n_bins)[holder[fallback]]
    n = len(mu)
    # 6a: renormalised marginal, log(max(p, 1e-8))
    marg = q.mean(0)
    p6 = marg / marg.sum(-1, keepdims=True)
    h6 = -(p6 * np.log(np.maximum(p6, 1e-8))).sum(-1)
    hx6 = -(q * np.log(np.maximum(q, 1e-8))).sum(-1).mean(0)
    # 7a: unrenormalised marginal, renormalised joint, clipped logs, stand-alone marginals
    clog = lambda p: np.log(np.clip(p, 1e-8, 1.0))  # 1 - 1e-8 is 1 in their float32
    out = {"code": h6, "code_given_x": hx6, "fallback": fallback.sum(0), "q": q}
    k_count = factors.shape[1]
    out["factor"], out["code_factor"], out["mutual_info"] = (np.empty(k_count), np.empty((k_count, mu.shape[1])),
                                                              np.empty((k_count, mu.shape[1])))
    for k in range(k_count):
        values, inv = np.unique(factors[:, k], return_inverse=True)
        onehot = np.eye(len(values))[inv]
        py = onehot.mean(0)
        for i in range(mu.shape[1]):
            joint = q[:, i].T @ onehot / n  # B, L
            joint = joint / joint.sum()
            out["mutual_info"][k, i] = (joint * (clog(joint) - clog(marg[i])[:, None] - clog(py)[None, :])).sum()
            out["code_factor"][k, i] = -(joint * clog(joint)).sum()
        out["factor"][k] = -(py * clog(py)).sum()
    # 9a: hard 2-D histogram of the means
    d = mu.shape[1]
    hard = np.diag(h6)
    for i in range(d):
        for j in range(i + 1, d):
            t = np.histogram2d(holder[:, i], holder[:, j], bins=n_bins, range=[[-0.5, n_bins - 0.5]] * 2)[0] / n
            hard[i, j] = hard[j, i] = -_xlogx(t).sum()
    out["pairs"] = hard
    return out


def _case(name):
    z = np.load(DATA / f"{name}.npz")
    return z["factors"], z["mu"], z["std"]


def _random(n, d=4, seed=0, std_range=(0.05, 1.0), mu_scale=1.5):
    rng = np.random.default_rng(seed)
    factors = np.stack([rng.integers(0, 3, n), rng.integers(0, 7, n), rng.integers(0, 2, n)], 1)
    mu = rng.normal(0, mu_scale, (n, d))
    mu[:, 0] += factors[:, 1] - 3
    std = rng.uniform(*std_range, (n, d))
    return factors, mu, std


def _check_against(r, ref, rtol, atol, keys=("code", "code_given_x", "factor", "code_factor", "mutual_info")):
    for key in keys:
        np.testing.assert_allclose(getattr(r, key), ref[key], rtol=rtol, atol=atol, err_msg=key)


# ----------------------------------------------------------------- default convention

@pytest.mark.parametrize("n_bins,bin_range", [(100, (-4.0, 4.0)), (7, (-1.0, 2.5)), (2, (0.0, 1.0))])
def test_exact_matches_naive(n_bins, bin_range):
    factors, mu, std = _random(300, seed=n_bins)
    r = quantized_entropies(check_posterior(mu, std=std), factors, n_bins=n_bins, bin_range=bin_range, pairs=True)
    ref = naive_exact(mu, std, factors, n_bins, bin_range)
    _check_against(r, ref, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(r.pairs, ref["pairs"], rtol=1e-11, atol=1e-12)
    assert r.estimator == "quantized" and r.n_bins == n_bins
    assert r.settings["masses"] == "exact" and r.settings["bin_range"] == bin_range


def test_exact_row_masses_sum_to_one_and_tables_are_consistent():
    factors, mu, std = _random(500, seed=3)
    edges = np.linspace(-4, 4, 101)
    labels = (factors + np.array([0, 3, 10])).astype(np.int32)
    tables, _, _ = _kernels.quantized_tables(mu, std, labels, 12, edges, 0, 1)
    # every row's masses sum to 1 (edge bins open-ended) up to the +-8 std truncation
    np.testing.assert_allclose(tables[:, 0].sum(-1), 500, rtol=1e-13)
    # each factor's level tables add up to the marginal
    for lo, hi in [(0, 3), (3, 10), (10, 12)]:
        np.testing.assert_allclose(tables[:, 1 + lo:1 + hi].sum(1), tables[:, 0], rtol=1e-12, atol=1e-15)


def test_extreme_values_match_naive():
    rng = np.random.default_rng(7)
    n = 64
    mu = rng.normal(0, 2, (n, 6))
    std = rng.uniform(0.1, 1, (n, 6))
    std[:, 0] = 1e-12                 # point masses
    std[:, 1] = 1e6                   # everything in the two open edge bins
    mu[:, 2] = rng.choice([-1e6, 1e6], n)   # far outside the range
    mu[:, 3] = rng.uniform(-4.3, 4.3, n)    # around the range's ends
    std[:, 3] = 0.01
    mu[:, 4], std[:, 4] = 3.9999, 1e-3      # at an end
    mu[:, 5] = rng.choice([1e308, -1e308, 0.0], n)      # float64's ends; 0 is an inner edge
    std[:, 5] = rng.choice([1e308, 1.7e308, 1e-150], n)
    factors = np.stack([np.zeros(n, dtype=int), rng.integers(0, 40, n)], 1)  # a constant factor
    r = quantized_entropies(check_posterior(mu, std=std), factors, pairs=True)
    with np.errstate(over="ignore"):
        ref = naive_exact(mu, std, factors)
    _check_against(r, ref, rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(r.pairs, ref["pairs"], rtol=1e-10, atol=1e-11)
    for out in (r.code, r.code_given_x, r.mutual_info, r.code_factor, r.pairs):
        assert np.isfinite(out).all()
    # the constant factor: H(v) = 0, I(z; v) = 0, H(z, v) = H(z)
    assert r.factor[0] == 0 and np.all(np.abs(r.mutual_info[0]) < 1e-13)
    np.testing.assert_allclose(r.code_factor[0], r.code, rtol=1e-13)
    # std 1e6: half the mass in each edge bin, ~3e-8 in each inner bin (5.5e-5 nats more)
    assert 0 < r.code[1] - math.log(2) < 1e-4


def test_one_row():
    mu, std = np.array([[0.3, -7.0]]), np.array([[0.2, 1e-3]])
    r = quantized_entropies(Posterior(mu, std), np.array([[4, 1]]), pairs=True)
    ref = naive_exact(mu, std, np.array([[4, 1]]))
    _check_against(r, ref, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(r.code, r.code_given_x, rtol=1e-13)  # one row: I(x; z) = 0
    assert np.all(r.factor == 0) and np.all(r.mutual_info == 0)


def test_many_levels_and_multi_chunk():
    # > 2 chunks of the kernel's 16384 rows, a factor with 1000 levels
    rng = np.random.default_rng(11)
    n = 40000
    factors = np.stack([rng.integers(0, 1000, n), rng.integers(-5, 5, n)], 1)
    mu = rng.normal(0, 1, (n, 3)) + 0.002 * factors[:, :1]
    std = rng.uniform(0.05, 0.5, (n, 3))
    r = quantized_entropies(check_posterior(mu, std=std), factors, n_bins=20)
    ref = naive_exact(mu, std, factors, 20)
    _check_against(r, ref, rtol=1e-10, atol=1e-12)


def test_dead_code_has_no_informativeness():
    n = 5000
    mu, std = np.zeros((n, 2)), np.ones((n, 2))
    for convention in (None, "do_tran"):
        r = quantized_entropies(check_posterior(mu, std=std), convention=convention)
        # identical rows: Q_i equals every Q_n,i, so I(x; z_i) is 0 up to the rounding of a mean
        assert np.all(np.abs(r.code - r.code_given_x) < 1e-12)
    # the cases' dead codes (mu ~ N(0, 0.02^2), std ~ U(0.95, 1)): ~4e-4 nats, bounded by 1e-3
    factors, mu, std = _case("mixed_grid")
    r = quantized_entropies(check_posterior(mu, std=std))
    assert 0 <= r.code[5] - r.code_given_x[5] < 1e-3


def test_tiny_std_tends_to_the_point_code_histogram_mi():
    # fastdis.mutual_info_matrix with code_range=bin_range bins [low, high] into the same
    # n_bins equal-width bins (a value on an inner edge goes up, as the CDF masses of a
    # point mass would); means kept off the edges and inside the range, which it requires
    rng = np.random.default_rng(5)
    n, nb = 3000, 50
    factors = np.stack([rng.integers(0, 4, n), rng.integers(0, 9, n)], 1)
    bins = np.clip(factors[:, :1] * 12 + rng.integers(-6, 7, (n, 3)), 0, nb - 1)
    mu = -4 + (bins + rng.uniform(0.1, 0.9, bins.shape)) * (8 / nb)
    std = np.full(mu.shape, 1e-9)
    r = quantized_entropies(check_posterior(mu, std=std), factors, n_bins=nb)
    point = fastdis.mutual_info_matrix(factors, mu, n_bins=nb, code_range=(-4.0, 4.0))
    np.testing.assert_allclose(r.mutual_info, point, atol=1e-9)
    assert np.all(np.abs(r.code_given_x) < 1e-9)


def test_threads_and_chunks_do_not_change_the_result():
    factors, mu, std = _random(40000, d=5, seed=2)
    post = check_posterior(mu, std=std)
    for convention in (None, "do_tran"):
        one = quantized_entropies(post, factors, convention=convention, n_threads=1)
        two = quantized_entropies(post, factors, convention=convention, n_threads=2)
        old = _kernels.set_chunk_cells(1)  # one kernel call per 16384-row chunk
        try:
            chunked = quantized_entropies(post, factors, convention=convention, n_threads=2)
        finally:
            _kernels.set_chunk_cells(old)
        for other in (two, chunked):
            for key in ("code", "code_given_x", "factor", "code_factor", "mutual_info"):
                assert np.array_equal(getattr(one, key), getattr(other, key)), key
    small = check_posterior(mu[:3000], std=std[:3000])
    p1 = quantized_entropies(small, pairs=True, n_threads=1).pairs
    old = _kernels.set_chunk_cells(1)
    try:
        p2 = quantized_entropies(small, pairs=True, n_threads=2).pairs
    finally:
        _kernels.set_chunk_cells(old)
    assert np.array_equal(p1, p2)


@pytest.mark.parametrize("n_bins", [2, 3, 7, 8, 9, 15, 16, 17, 61, 100])
def test_row_masses_at_every_window_alignment(n_bins):
    """Each row's masses alone (one level per row): windows starting at every bin (the
    kernel pads them to whole vectors), clipped at either end or both, any B mod 8; the
    exact masses against scipy, do_tran's against the naive formula; rows' entropies."""
    b = np.arange(n_bins)
    centres = -4.0 + 8.0 * (b + 0.5) / n_bins
    mu = np.concatenate([centres, centres + 0.3 * 8.0 / n_bins, [-4.5, 4.5, 0.0, -3.99, 3.99]])
    std = np.concatenate([np.full(n_bins, 0.02), np.full(n_bins, 0.2), [0.3, 0.3, 50.0, 1.0, 1.0]])
    mu = np.stack([mu, mu[::-1]], 1)
    std = np.stack([std, np.geomspace(1e-3, 3.0, len(std))], 1)
    n = len(mu)
    labels = np.arange(n, dtype=np.int32)[:, None]
    edges = np.linspace(-4.0, 4.0, n_bins + 1)
    exact = naive_exact(mu, std, n_bins=n_bins)
    dotran = naive_do_tran(mu, std, np.zeros((n, 1), dtype=int), n_bins)
    for mode in (0, 1):
        tables, h, _ = _kernels.quantized_tables(mu, std, labels, n, edges, mode, 2)
        rows = tables[:, 1:, :].transpose(1, 0, 2)  # (n, d, B): row r's masses alone
        if mode == 0:
            # beyond +-8 std the kernel leaves 0 (below Phi(-8) = 6.2e-16 per bin)
            np.testing.assert_allclose(rows, exact["q"], rtol=1e-13, atol=1.5e-15)
            np.testing.assert_allclose(h / n, exact["code_given_x"], rtol=1e-13, atol=1e-14)
        else:
            np.testing.assert_allclose(rows, dotran["q"], rtol=1e-13, atol=1e-15)
            np.testing.assert_allclose(h / n, dotran["code_given_x"], rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(tables[:, 0], rows.sum(0), rtol=1e-14, atol=1e-16)
        one, h1, _ = _kernels.quantized_tables(mu, std, labels, n, edges, mode, 1)
        assert np.array_equal(one, tables) and np.array_equal(h1, h)


# ----------------------------------------------------------------- convention="do_tran"

@pytest.mark.parametrize("case", CASES)
def test_do_tran_matches_naive(case):
    factors, mu, std = _case(case)
    for nb in (100, 200):
        r = quantized_entropies(check_posterior(mu, std=std), factors, n_bins=nb, convention="do_tran", pairs=True)
        ref = naive_do_tran(mu, std, factors, nb)
        _check_against(r, ref, rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(r.pairs, ref["pairs"], rtol=1e-11, atol=1e-12)
        assert np.array_equal(r.settings["n_fallback"], ref["fallback"])


def test_do_tran_extremes_match_naive():
    rng = np.random.default_rng(9)
    n = 200
    mu = rng.uniform(-4.2, 4.2, (n, 4))
    std = rng.uniform(0.01, 1, (n, 4))
    std[:, 0] = rng.choice([1e-12, 1e-6, 5e-5, 2e-4], n)  # the variance / std floors (Q3)
    mu[:, 1] = rng.choice([-1e6, 1e6, -4.01, 4.01, 4.0, -4.0], n)  # fallbacks, clamping (Q2)
    std[:, 2] = 1e6
    factors = np.stack([np.zeros(n, dtype=int), rng.integers(0, 5, n)], 1)
    r = quantized_entropies(check_posterior(mu, std=std), factors, convention="do_tran", pairs=True)
    ref = naive_do_tran(mu, std, factors, 100)
    _check_against(r, ref, rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(r.pairs, ref["pairs"], rtol=1e-11, atol=1e-12)
    assert np.array_equal(r.settings["n_fallback"], ref["fallback"])
    assert r.factor[0] == 0  # a constant factor: H(y) = 0 as in their float32 (Q4)


def _reference():
    return json.loads((DATA / "reference.json").read_text())


@pytest.mark.parametrize("case", CASES)
def test_do_tran_reproduces_the_authors_values(case):
    """reference.json, to REFERENCE_NOTES.md's tolerances (no looser)."""
    factors, mu, std = _case(case)
    ref = _reference()[case]["quantised"]
    post = check_posterior(mu, std=std)
    # 6a informativeness: 1e-6 relative + 1e-7 absolute
    r = quantized_entropies(post, factors, n_bins=100, convention="do_tran", pairs=True)
    q = {k: np.array(v["value"]) for k, v in ref["informativeness"]["quantities"].items()}
    info = r.code - r.code_given_x
    np.testing.assert_allclose(r.code, q["H_zi"], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(r.code_given_x, q["H_zi_cond_x"], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(info, q["I_x_zi"], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(info / (r.code + 1e-8), q["I_x_zi_normalised"], rtol=1e-6, atol=1e-7)
    # 7a interpretability, 200 (the paper) and 100 bins: 1e-5 absolute + 1e-5 relative
    for nb in (200, 100):
        rr = r if nb == 100 else quantized_entropies(post, factors, n_bins=nb, convention="do_tran")
        q = {k: np.array(v["value"]) for k, v in ref[f"interpretability_bins{nb}"]["quantities"].items()}
        np.testing.assert_allclose(rr.mutual_info, q["I_zi_yk"].T, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(rr.code_factor, q["H_zi_yk"].T, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(rr.factor, q["H_yk"], rtol=1e-5, atol=1e-5)
        # REFERENCE_NOTES.md 3.1, per factor k: codes sorted by decreasing I(z_i; y_k),
        # I1 >= I2 the top two, z* the top code;
        #   RMIG_k = (I1 - I2) / H(y_k)
        #   JEMMIG_k = (H(z*, y_k) - I1 + I2) / (H(y_k) + log B)
        order = np.argsort(-rr.mutual_info, axis=1, kind="stable")
        i1 = np.take_along_axis(rr.mutual_info, order[:, :1], 1)[:, 0]
        i2 = np.take_along_axis(rr.mutual_info, order[:, 1:2], 1)[:, 0]
        h_star = np.take_along_axis(rr.code_factor, order[:, :1], 1)[:, 0]
        rmig = (i1 - i2) / rr.factor
        jemmig = (h_star - i1 + i2) / (rr.factor + np.log(nb))
        assert np.array_equal(order[:, 0], q["ids_sorted"][0])
        np.testing.assert_allclose(rmig, q["RMIG_yk"], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(jemmig, q["JEMMIG_norm_yk"], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(rmig.mean(), q["RMIG"], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(jemmig.mean(), q["JEMMIG_norm"], rtol=1e-5, atol=1e-5)
    # 9a pairwise "independence" (not a mutual information, Q13): 1e-5 relative
    got = r.code[:, None] + r.code[None, :] - r.pairs
    want = np.array([[np.nan if v is None else v for v in row]
                     for row in ref["independence"]["quantities"]["MI_pair_by_code"]["value"]])
    off = ~np.eye(len(want), dtype=bool)
    np.testing.assert_allclose(got[off], want[off], rtol=1e-5)


def test_do_tran_fallback_rows_as_documented():
    factors, mu, std = _case("near_deterministic")
    r = quantized_entropies(check_posterior(mu, std=std), factors, convention="do_tran")
    assert r.settings["n_fallback"].tolist() == [0, 676, 0, 0, 0, 0]  # REFERENCE_NOTES Q2


# ----------------------------------------------------------------- the vectorised formulas

def test_normal_tail_against_scipy_and_math():
    t = np.concatenate([np.linspace(-40, 40, 40001), np.geomspace(1e-300, 37, 2000),
                        -np.geomspace(1e-300, 37, 2000), [0.0, math.sqrt(2), 8 * math.sqrt(2)]])
    got = _kernels.normal_tails(t)
    want = ndtr(-np.abs(t))
    # scipy's ndtr squares t without splitting it: its own error grows as ~t^2 ulp
    ok = want > 1e-300
    assert np.all(np.abs(got[ok] - want[ok]) <= (3e-15 + 2.3e-16 * t[ok] ** 2) * want[ok])
    assert np.all((got[want <= 1e-300] >= 0) & (got[want <= 1e-300] < 1e-299))
    # libm's erfc of the rounded x = |t| / sqrt 2: that rounding costs up to ~2 x^2 ulp
    x = np.abs(t) / math.sqrt(2)
    erfc = np.array([0.5 * math.erfc(v) for v in x])
    ok = erfc > 1e-300
    assert np.all(np.abs(got[ok] - erfc[ok]) <= (3e-15 + 4.6e-16 * x[ok] ** 2) * erfc[ok])
    assert _kernels.normal_tails(np.array([np.inf, -np.inf])).max() < 1e-300


def test_normal_tail_against_mpmath():
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 40
    t = np.concatenate([np.linspace(0, 37, 1481), [1e-300, 1e-8, math.sqrt(2), 8 * math.sqrt(2)]])
    got = _kernels.normal_tails(t)
    want = np.array([float(mp.ncdf(-mp.mpf(float(v)))) for v in t])
    assert np.all(np.abs(got - want) <= 1.5e-15 * want)


def test_kernel_log_against_numpy():
    x = np.concatenate([np.geomspace(np.finfo(float).tiny, 1.0, 100001), [0.5, 1.0, 2.0, 1e300]])
    got = _kernels.kernel_logs(x)
    np.testing.assert_allclose(got, np.log(x), rtol=4e-16, atol=0)


# ----------------------------------------------------------------- bad input

@pytest.mark.parametrize("n_bins,exc", [(1, ValueError), (0, ValueError), (-3, ValueError), (65536, ValueError),
                                        (2.5, TypeError), (True, TypeError), ("100", TypeError)])
def test_bad_n_bins(n_bins, exc):
    post = check_posterior(np.zeros((3, 2)), std=np.ones((3, 2)))
    with pytest.raises(exc, match="n_bins"):
        quantized_entropies(post, n_bins=n_bins)


@pytest.mark.parametrize("bin_range,exc", [((4.0, -4.0), ValueError), ((1.0, 1.0), ValueError),
                                           ((np.nan, 1.0), ValueError), ((0.0, np.inf), ValueError),
                                           ((1.0,), TypeError), (3.0, TypeError), (("a", "b"), TypeError),
                                           ((1.0, 1.0 + 1e-15), ValueError), ((-1e308, 1e308), ValueError)])
def test_bad_bin_range(bin_range, exc):
    post = check_posterior(np.zeros((3, 2)), std=np.ones((3, 2)))
    with pytest.raises(exc, match="bin_range"):
        quantized_entropies(post, bin_range=bin_range)


def test_bad_arguments():
    post = check_posterior(np.zeros((3, 2)), std=np.ones((3, 2)))
    with pytest.raises(TypeError, match="post"):
        quantized_entropies((np.zeros((3, 2)), np.ones((3, 2))))
    with pytest.raises(ValueError, match="factors"):
        quantized_entropies(post, np.zeros((4, 1), dtype=int))
    with pytest.raises(ValueError, match="convention"):
        quantized_entropies(post, convention="paper")
    with pytest.raises(TypeError, match="pairs"):
        quantized_entropies(post, pairs="yes")
    with pytest.raises(ValueError, match="n_threads"):
        quantized_entropies(post, n_threads=0)
    with pytest.raises(ValueError, match="n_bins"):  # pair tables beyond 2 GiB
        quantized_entropies(check_posterior(np.zeros((3, 40)), std=np.ones((3, 40))), n_bins=20000, pairs=True)
    with pytest.raises(ValueError, match="label"):
        _kernels.quantized_tables(post.mu, post.std, np.full((3, 1), 5, dtype=np.int32), 5,
                                  np.linspace(-1, 1, 5), 0, 1)
    with pytest.raises(ValueError, match="edges"):
        _kernels.quantized_tables(post.mu, post.std, None, 0, np.array([0.0, 1.0, 1.0]), 0, 1)
