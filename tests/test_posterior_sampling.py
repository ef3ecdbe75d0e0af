"""The sampling estimator (fastdis._posterior_sampling) against a naive numpy reference on
the same draws, the authors' own values (tests/data/dotran), and properties that need no
reference."""
import json
import pathlib
import sys

import numpy as np
import pytest
from conftest import child_env, interrupt_when_ready

from fastdis import _kernels
from fastdis import _posterior_sampling as ps
from fastdis._posterior import check_posterior
from fastdis._posterior_sampling import sample_draws, sampling_entropies

DOTRAN = pathlib.Path(__file__).parent / "data" / "dotran"
LOG_2PI = np.log(2.0 * np.pi)


# ---- the naive reference: plain numpy, from the definitions --------------------------------

def _lse(a, axis):
    m = a.max(axis=axis, keepdims=True)
    return np.squeeze(m, axis) + np.log(np.exp(a - m).sum(axis=axis))


def naive(mu, std, factors, rows, eps, floor=None, weight=None):
    """Every entropy of the sampling estimator from its definition, on given draws:
    log q(z^s_i | x_n) for all (s, n, i), log-sum-exp over n, minus log N (or plus log of
    the mixture weight), optionally floored; -mean over s."""
    n, d = mu.shape
    z = mu[rows] + eps * std[rows]
    with np.errstate(over="ignore"):  # far from a tiny spread: log q = -inf
        lq = -0.5 * ((z[:, None, :] - mu[None]) / std[None]) ** 2 - np.log(std)[None] - 0.5 * LOG_2PI
    lw = -np.log(n) if weight is None else np.log(np.float64(weight))
    fl = (lambda a: a) if floor is None else (lambda a: np.maximum(a, np.log(floor)))
    out = {"code": -fl(_lse(lq, 1) + lw).mean(0),
           "all_codes": -fl(_lse(lq.sum(2), 1) + lw).mean(),
           "others": np.array([-fl(_lse(lq[:, :, np.arange(d) != i].sum(2), 1) + lw).mean()
                               for i in range(d)])}
    pairs = np.empty((d, d))
    for i in range(d):
        for j in range(d):
            pairs[i, j] = -fl(_lse(lq[:, :, i] + lq[:, :, j], 1) + lw).mean() if i != j \
                else out["code"][i]
    out["pairs"] = pairs
    if factors is not None:
        k = factors.shape[1]
        cf = np.empty((k, d))
        hv = np.empty(k)
        for c in range(k):
            same = factors[:, c][None, :] == factors[rows, c][:, None]  # (S, N)
            masked = np.where(same[:, :, None], lq, -np.inf)
            cf[c] = -fl(_lse(masked, 1) + lw).mean(0)
            _, counts = np.unique(factors[:, c], return_counts=True)
            p = counts / n
            hv[c] = -(p * np.log(p)).sum()
        out["code_factor"], out["factor"] = cf, hv
        out["mutual_info"] = out["code"][None] + hv[:, None] - cf
    return out


def _case(n, d, seed=0, k=2, levels=(3, 7)):
    rng = np.random.default_rng(seed)
    factors = np.stack([rng.integers(0, levels[c % len(levels)], n) for c in range(k)], 1)
    mu = rng.normal(size=(n, d)) * 2
    mu[:, 0] += factors[:, 0]
    std = rng.uniform(0.05, 1.5, size=(n, d))
    return factors, mu, std


def _check_against_naive(mu, std, factors, n_samples, seed, pairs=True, rtol=1e-10, atol=1e-10,
                         **kw):
    post = check_posterior(mu, std=std, min_samples=1)
    rec = sampling_entropies(post, factors, n_samples=n_samples, random_state=seed, pairs=pairs,
                             **kw)
    rows, eps = sample_draws(*mu.shape, n_samples, seed)
    want = naive(mu, std, factors, rows, eps)
    for key in ("code", "all_codes", "others") + (("pairs",) if pairs else ()) + \
            (("code_factor", "factor", "mutual_info") if factors is not None else ()):
        np.testing.assert_allclose(getattr(rec, key), want[key], rtol=rtol, atol=atol,
                                   err_msg=key)
    return rec


@pytest.mark.parametrize("n,d,k", [(1, 1, 0), (2, 3, 1), (37, 4, 2), (203, 1, 1), (1001, 5, 3)])
def test_kernel_matches_naive_logsumexp(n, d, k):
    factors, mu, std = _case(n, d, seed=n, k=max(k, 1))
    _check_against_naive(mu, std, factors if k else None, 40, seed=n)


def test_the_kernels_exp_costs_no_visible_accuracy():
    """The kernels' exp (lanes.h, 1.3e-17 relative) against numpy's exp and log-sum-exp: entropies
    agree to 1e-13 on rows whose shifted log-densities span [-708, +60]."""
    factors, mu, std = _case(1001, 5, seed=7)
    _check_against_naive(mu, std, factors, 40, seed=7, rtol=1e-13, atol=1e-13)


def test_many_codes_with_pairs_use_smaller_tiles():
    """d = 130 with pairs: 8,516 accumulators a sample, so the kernel's tiles shrink."""
    factors, mu, std = _case(30, 130, seed=19)
    _check_against_naive(mu, std, factors, 9, seed=3)


def test_many_levels_and_constant_factor():
    n, d = 150, 3
    _, mu, std = _case(n, d, seed=5)
    factors = np.stack([np.arange(n), np.zeros(n, dtype=int), np.arange(n) % 2], 1)
    rec = _check_against_naive(mu, std, factors, 30, seed=1)
    # a constant factor: H(v) = 0, H(z_i, v) = H(z_i) sample by sample, so I = 0 exactly
    assert rec.factor[1] == 0.0
    np.testing.assert_allclose(rec.mutual_info[1], 0.0, atol=1e-12)
    # one level per row: q(z_i, v) = q(z_i | x_own) / N
    assert rec.factor[0] == pytest.approx(np.log(n))


def test_closed_form_given_x():
    _, mu, std = _case(64, 3, seed=2)
    rec = sampling_entropies(check_posterior(mu, std=std), n_samples=5, random_state=0)
    per_code = np.mean(0.5 * np.log(2 * np.pi * np.e * std ** 2), axis=0)
    np.testing.assert_allclose(rec.code_given_x, per_code, rtol=1e-13)
    assert rec.all_codes_given_x == pytest.approx(per_code.sum(), rel=1e-13)
    np.testing.assert_allclose(rec.others_given_x, per_code.sum() - per_code, rtol=1e-12)
    assert (rec.standard_error["code_given_x"] == 0).all()


def test_extreme_spreads_and_far_means():
    """std 1e-6 next to 1e3 in one code, means around 1e6: the exp-domain path stays exact."""
    rng = np.random.default_rng(3)
    n, d = 64, 3
    mu = 1e6 + rng.normal(size=(n, d)) * np.array([1e-5, 1.0, 1e3])
    std = np.where(rng.random((n, d)) < 0.5, 1e-6, 1e3)
    rec = _check_against_naive(mu, std, rng.integers(0, 3, (n, 1)), 60, seed=4, rtol=1e-9)
    assert rec.settings["n_slow"] == 0


def test_log_domain_path_for_huge_spread_ratios():
    """Spreads e^322 apart within a code exceed the exp-domain bound: those samples take the
    exact log-domain path, still equal to the naive reference."""
    rng = np.random.default_rng(4)
    n, d = 40, 3
    mu = rng.normal(size=(n, d))
    std = np.where(rng.random((n, d)) < 0.5, 1e-140, 1.0)
    rec = _check_against_naive(mu, std, rng.integers(0, 2, (n, 1)), 50, seed=5, rtol=1e-9)
    assert 0 < rec.settings["n_slow"] <= 50


def _layout_and_draws(n, d, k, m, seed):
    factors, mu, std = _case(n, d, seed=seed, k=k)
    post = check_posterior(mu, std=std)
    labels, _ = ps._factor_labels(factors, n, None, 0)
    lay = ps._Layout(post, labels)
    rows, eps = sample_draws(n, d, m, seed)
    z = np.ascontiguousarray(mu[rows] + eps * std[rows])
    return lay, rows, z


def test_fast_and_log_domain_paths_agree():
    n, d, m = 300, 4, 33
    lay, rows, z = _layout_and_draws(n, d, 2, m, 6)
    args = (lay.mu_t, lay.istd_t, lay.nlog_t, lay.labels_t, n, lay.gmax, rows, z, True)
    fast = _kernels.posterior_sample_logs(*args, True, 2)
    slow = _kernels.posterior_sample_logs(*args, False, 2)
    assert fast[-1] == 0 and slow[-1] == m
    for a, b in zip(fast[:-1], slow[:-1]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("pairs", [False, True])
def test_thread_count_bit_identical(pairs):
    factors, mu, std = _case(2000, 5, seed=7, k=3)
    post = check_posterior(mu, std=std)
    one = sampling_entropies(post, factors, n_samples=70, random_state=3, pairs=pairs, n_threads=1)
    two = sampling_entropies(post, factors, n_samples=70, random_state=3, pairs=pairs, n_threads=2)
    for key in ("code", "all_codes", "others", "pairs", "code_factor", "mutual_info"):
        np.testing.assert_array_equal(getattr(one, key), getattr(two, key), err_msg=key)
    for key in one.standard_error:
        np.testing.assert_array_equal(one.standard_error[key], two.standard_error[key])


def test_chunking_does_not_change_results(monkeypatch):
    factors, mu, std = _case(500, 3, seed=8)
    post = check_posterior(mu, std=std)
    whole = sampling_entropies(post, factors, n_samples=100, random_state=9)
    monkeypatch.setattr(ps, "_CHUNK_WORK", 1)  # 16 samples per kernel call
    parts = sampling_entropies(post, factors, n_samples=100, random_state=9)
    for key in ("code", "all_codes", "others", "code_factor"):
        np.testing.assert_allclose(getattr(parts, key), getattr(whole, key), rtol=1e-13)
    np.testing.assert_allclose(parts.standard_error["code"], whole.standard_error["code"],
                               rtol=1e-9)


def test_draws_are_counter_based_and_standard():
    rows, eps = sample_draws(1000, 3, 20000, 11)
    r2, e2 = _kernels.posterior_draw(11, 5000, 100, 1000, 3)
    np.testing.assert_array_equal(r2, rows[5000:5100])
    np.testing.assert_array_equal(e2, eps[5000:5100])
    assert rows.min() >= 0 and rows.max() < 1000
    assert abs(np.bincount(rows, minlength=1000).std() - np.sqrt(20)) < 1.0
    assert np.abs(eps.mean(0)).max() < 0.03 and np.abs(eps.std(0) - 1).max() < 0.02
    assert abs(np.corrcoef(eps[:, 0], eps[:, 1])[0, 1]) < 0.03


def test_standard_error_from_per_sample_terms():
    factors, mu, std = _case(80, 2, seed=12)
    rows, eps = sample_draws(80, 2, 64, 13)
    rec = sampling_entropies(check_posterior(mu, std=std), n_samples=64, random_state=13)
    z = mu[rows] + eps * std[rows]
    lq = -0.5 * ((z[:, None, :] - mu[None]) / std[None]) ** 2 - np.log(std)[None] - 0.5 * LOG_2PI
    terms = -(_lse(lq, 1) - np.log(80))
    np.testing.assert_allclose(rec.standard_error["code"], terms.std(0, ddof=1) / 8, rtol=1e-9)
    tc = terms.sum(1) + (_lse(lq.sum(2), 1) - np.log(80))
    assert rec.standard_error["total_correlation"] == pytest.approx(tc.std(ddof=1) / 8, rel=1e-9)


# ---- properties without a reference ---------------------------------------------------------

def test_dead_code_has_no_information():
    rng = np.random.default_rng(14)
    mu = np.column_stack([rng.normal(size=3000) * 3, np.zeros(3000)])
    std = np.column_stack([np.full(3000, 0.3), np.ones(3000)])
    rec = sampling_entropies(check_posterior(mu, std=std), n_samples=2000, random_state=0)
    info = rec.code - rec.code_given_x
    # every row's posterior is the prior, q(z_1) = q(z_1 | x): with the closed-form
    # H(z_1 | x) only H(z_1)'s Monte-Carlo error is left; the paired per-draw estimate
    # log q(z | x) - log q(z) is 0 draw by draw
    assert abs(info[1]) < 4 * rec.standard_error["code"][1] and rec.standard_error["code"][1] < 0.03
    assert abs(rec.mutual_info_x[1]) < 1e-12 and rec.standard_error["mutual_info_x"][1] < 1e-12
    assert info[0] > 1.5 and abs(rec.mutual_info_x[0] - info[0]) < 4 * rec.standard_error["code"][0]


def test_independent_codes_have_zero_total_correlation():
    """Rows on a full grid of per-code means with per-code spreads: q(z) = prod_i q(z_i)
    exactly, so TC and SEP vanish sample by sample (not only in expectation)."""
    a, b = np.linspace(-3, 3, 13), np.linspace(-1, 2, 9)
    mu = np.array([(x, y) for x in a for y in b])
    std = np.column_stack([np.full(len(mu), 0.4), np.full(len(mu), 0.2)])
    rec = sampling_entropies(check_posterior(mu, std=std), n_samples=500, random_state=1,
                             pairs=True)
    tc = rec.code.sum() - rec.all_codes
    assert abs(tc) < 1e-12 and rec.standard_error["total_correlation"] < 1e-12
    sep = rec.code + rec.others - rec.all_codes
    np.testing.assert_allclose(sep, 0.0, atol=1e-12)
    assert abs(rec.code[0] + rec.code[1] - rec.pairs[0, 1]) < 1e-12


def test_duplicated_code_information_equals_its_informativeness():
    """z_1 a copy of z_0 (same means and spreads): with well separated posteriors
    I(z_0; z_1) = I(x; z_0) (both ~ log N), within the Monte-Carlo error."""
    rng = np.random.default_rng(15)
    n = 400
    m = rng.permutation(n).astype(float)
    mu = np.column_stack([m, m, rng.normal(size=n)])
    std = np.column_stack([np.full(n, 0.05), np.full(n, 0.05), np.ones(n)])
    rec = sampling_entropies(check_posterior(mu, std=std), n_samples=400, random_state=2,
                             pairs=True)
    mi_01 = rec.code[0] + rec.code[1] - rec.pairs[0, 1]
    info_0 = rec.mutual_info_x[0]  # the paired per-draw estimate
    se = rec.standard_error["pair_mutual_info"][0, 1] + rec.standard_error["mutual_info_x"][0]
    assert abs(mi_01 - info_0) < 4 * se + 1e-6
    assert mi_01 == pytest.approx(np.log(n), abs=0.01)


def test_one_sample_and_one_row():
    factors, mu, std = _case(10, 2, seed=16)
    rec = sampling_entropies(check_posterior(mu, std=std), factors, n_samples=1, random_state=0)
    assert np.isfinite(rec.code).all() and np.isinf(rec.standard_error["code"]).all()
    one = check_posterior(mu[:1], std=std[:1], min_samples=1)
    rec = sampling_entropies(one, factors[:1], n_samples=50, random_state=0, pairs=True)
    # one row: the mixture is the row's own posterior
    rows, eps = sample_draws(1, 2, 50, 0)
    own = -(-0.5 * eps ** 2 - np.log(std[0]) - 0.5 * LOG_2PI).mean(0)
    np.testing.assert_allclose(rec.code, own, rtol=1e-12)
    np.testing.assert_allclose(rec.mutual_info, 0.0, atol=1e-12)


@pytest.mark.parametrize("kw,exc,word", [
    ({"n_samples": 0}, ValueError, "n_samples"), ({"n_samples": 2.5}, TypeError, "n_samples"),
    ({"n_samples": True}, TypeError, "n_samples"), ({"n_samples": 10**9}, ValueError, "n_samples"),
    ({"convention": "paper"}, ValueError, "convention"), ({"pairs": "yes"}, TypeError, "pairs"),
    ({"random_state": -1}, ValueError, "random_state"), ({"n_threads": 0}, ValueError, "n_threads"),
])
def test_bad_arguments_are_named(kw, exc, word):
    _, mu, std = _case(10, 2)
    with pytest.raises(exc, match=word):
        sampling_entropies(check_posterior(mu, std=std), **kw)


def test_factor_rows_must_match():
    factors, mu, std = _case(10, 2)
    with pytest.raises(ValueError, match="factors"):
        sampling_entropies(check_posterior(mu, std=std), factors[:5])


def test_binding_refuses_bad_rows():
    lay, rows, z = _layout_and_draws(20, 2, 1, 3, 0)
    bad = rows.copy()
    bad[0] = 20
    with pytest.raises(ValueError, match="rows"):
        _kernels.posterior_sample_logs(lay.mu_t, lay.istd_t, lay.nlog_t, lay.labels_t, 20,
                                       lay.gmax, bad, z, False, True, 1)


# ---- convention="do_tran": the authors' values, seed by seed -------------------------------

def test_do_tran_draws_replay_randomstate():
    rows, eps = sample_draws(50, 3, 20, 7, convention="do_tran")
    rs = np.random.RandomState(7)
    want_rows = rs.choice(50, size=20, replace=True, p=np.full(50, 1 / 50, dtype=np.float32))
    np.testing.assert_array_equal(rows, want_rows)
    np.testing.assert_array_equal(eps, rs.randn(20, 3))


def test_do_tran_matches_naive_with_floors():
    factors, mu, std = _case(120, 3, seed=17)
    std[:, 2] *= 30  # wide posteriors: joint densities below the 1e-8 floor
    post = check_posterior(mu, std=std)
    rec = sampling_entropies(post, factors, n_samples=80, random_state=4, pairs=True,
                             convention="do_tran")
    rows, eps = sample_draws(120, 3, 80, 4, convention="do_tran")
    want = naive(mu, std, factors, rows, eps, floor=1e-8, weight=np.float32(1 / 120))
    for key in ("code", "all_codes", "others", "pairs", "code_factor"):
        np.testing.assert_allclose(getattr(rec, key), want[key], rtol=1e-10, err_msg=key)
    lq = np.maximum(-0.5 * eps ** 2 - np.log(std[rows]) - 0.5 * LOG_2PI, np.log(1e-8))
    np.testing.assert_allclose(rec.code_given_x, -lq.mean(0), rtol=1e-12)


@pytest.fixture(scope="module")
def dotran_reference():
    with open(DOTRAN / "reference.json") as f:
        return json.load(f)


@pytest.mark.parametrize("case", ["mixed_grid", "near_deterministic", "redundant"])
@pytest.mark.parametrize("seed", [0, 2, 4])
def test_do_tran_reference_per_seed(dotran_reference, case, seed):
    with np.load(DOTRAN / f"{case}.npz") as z:
        factors, mu, std = z["factors"], z["mu"], z["std"]
    ref = dotran_reference[case]["sampling"]
    tol = 2e-5  # reference.json _meta.tolerance: per-seed replay
    rec = sampling_entropies(check_posterior(mu, std=std), factors, n_samples=10000,
                             random_state=seed, pairs=True, convention="do_tran")
    d = mu.shape[1]

    def value(fn, q):
        return np.asarray(ref[fn]["quantities"][q]["values"][seed], dtype=float)

    mi_pairs = rec.code[:, None] + rec.code[None] - rec.pairs
    mi_pairs[np.diag_indices(d)] = 2 * rec.code  # their diagonal: H_zi_zj never filled
    got = {("SEPIN", "H_zi"): rec.code, ("SEPIN", "H_zi_cond_x"): rec.code_given_x,
           ("SEPIN", "H_z"): [rec.all_codes], ("SEPIN", "H_z_cond_x"): [rec.all_codes_given_x],
           ("SEPIN", "H_z_not_i"): rec.others, ("SEPIN", "H_z_not_i_cond_x"): rec.others_given_x,
           ("SEPIN", "MI_zi_x"): np.maximum(rec.code - rec.code_given_x, 0),
           ("SEP", "SEP_zi"): rec.code + rec.others - rec.all_codes,
           ("SEP", "MI_zi_zj"): mi_pairs,
           ("JEMMIG", "H_yk"): rec.factor, ("JEMMIG", "H_zi_yk"): rec.code_factor.T,
           ("JEMMIG", "MI_zi_yk"): rec.mutual_info.T}
    for (fn, q), v in got.items():
        np.testing.assert_allclose(v, value(fn, q), rtol=0, atol=tol, err_msg=f"{fn}.{q}")


CTRL_C = """\
import sys, time
import numpy as np
from fastdis._posterior import check_posterior
from fastdis._posterior_sampling import sampling_entropies
rng = np.random.default_rng(0)
post = check_posterior(rng.normal(size=(200_000, 8)), std=rng.uniform(0.1, 1, (200_000, 8)))
print("ready", flush=True)
start = time.perf_counter()
try:
    sampling_entropies(post, n_samples=10**6, random_state=0, n_threads=2)  # ~20 minutes
except KeyboardInterrupt:
    print("interrupted", time.perf_counter() - start, flush=True)
    sys.exit(0)
print("finished", time.perf_counter() - start, flush=True)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_ctrl_c_interrupts_within_a_second():
    out, err, _, waited = interrupt_when_ready([sys.executable, "-c", CTRL_C], 1.0, 60,
                                               env=child_env(), cwd=pathlib.Path(__file__).parent)
    assert out.startswith("interrupted"), f"not interrupted: {out!r} {err[-2000:]}"
    assert waited < 1.5, f"KeyboardInterrupt came {waited:.2f} s after SIGINT"


def test_any_labels_give_the_same_estimates():
    factors, mu, std = _case(90, 2, seed=18)
    post = check_posterior(mu, std=std)
    ints = sampling_entropies(post, factors, n_samples=20, random_state=0)
    names = np.array(["low", "mid", "high", "x", "y", "z", "w"], dtype=object)[factors]
    strs = sampling_entropies(post, names, n_samples=20, random_state=0)
    floats = sampling_entropies(post, factors * 0.5 - 7.25, n_samples=20, random_state=0)
    for other in (strs, floats):
        np.testing.assert_array_equal(other.code_factor, ints.code_factor)
        np.testing.assert_array_equal(other.factor, ints.factor)
