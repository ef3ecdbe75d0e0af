"""The sampling estimator: Monte-Carlo entropies of the aggregate posterior (Do & Tran).

q(z) = (1/N) sum_n N(z; mu_n, diag std_n^2) is the mixture of the encoder's posteriors.
Sample s draws a row n_s uniformly and z^s ~ q(z | x_{n_s}); then, for instance,
H(z_i) = -mean_s log q(z^s_i) with q(z^s_i) = (1/N) sum_n q(z^s_i | x_n) over all N rows.
The C kernel (csrc/posterior_sampling.c) gives every sample's log mixture densities (per
code, joint, leave-one-out, optional pairs, per factor level) in one pass over the rows;
this module draws the samples, drives the kernel in interruptible chunks, and turns the
per-sample values into entropies and their Monte-Carlo standard errors.
"""
import numpy as np

from . import _kernels
from ._encode import FactorLevels
from ._posterior import PosteriorEntropies
from ._random import check_random_state
from ._threads import checkpoint
from ._validation import check_choice, check_int, check_n_threads

CONVENTIONS = (None, "do_tran")
# Do & Tran's floor on densities (their eps) under convention="do_tran".
DO_TRAN_EPS = 1e-8
# More samples than this are refused: the draws alone would take gigabytes.
MAX_SAMPLES = 10**8
# Log-densities (samples x rows x codes) of one kernel call: ~0.2-0.5 s, so Ctrl-C is
# answered quickly while the per-call cost stays negligible.
_CHUNK_WORK = 1 << 28
# Per-sample outputs of one call at most (doubles): 16 MiB.
_CHUNK_OUT = 1 << 21
_TILE = 16  # the kernel's samples per tile (FD_PS_TILE)
_HALF_LOG_2PI_E = 0.5 * np.log(2.0 * np.pi * np.e)


def sampling_entropies(post, factors=None, *, n_samples=10_000, random_state=None,
                       pairs=False, convention=None, n_threads=None):
    """Entropies of the aggregate posterior by Monte-Carlo sampling (Do & Tran, ICLR 2020).

    Parameters
    ----------
    post : fastdis._posterior.Posterior
        The validated posterior (``mu`` and ``std``, N x d float64).
    factors : None or array of shape (N, K)
        Validated factor labels (any labels ``check_factors`` accepts); adds H(v_k),
        H(z_i, v_k) and I(z_i; v_k).
    n_samples : int, default 10000
        Monte-Carlo samples S (>= 1, at most 1e8). Each costs N x d log-densities
        (N x d x (d + 1) / 2 with ``pairs``); there is no upper limit relative to N: every
        sample draws fresh noise, so S > N still lowers the error.
    random_state : None, int, Generator or RandomState
        Seed (see :func:`fastdis._random.check_random_state`). Under ``convention="do_tran"``
        the seed is the integer given to ``numpy.random.RandomState``.
    pairs : bool, default False
        Also H(z_i, z_j) for every pair (O(S N d^2 / 2)).
    convention : None or "do_tran"
        None: the paper's definitions (see Notes). "do_tran": the authors' code
        (``estimate_*_cupy``): their draws, 1e-8 floors, Monte-Carlo H(. | x).
    n_threads : None or int
        Threads (None: all available cores); results do not depend on it.

    Returns
    -------
    PosteriorEntropies
        ``estimator="sampling"``; ``code`` H(z_i), ``code_given_x`` H(z_i | x),
        ``all_codes`` H(z), ``all_codes_given_x`` H(z | x), ``others`` H(z_{!=i}),
        ``others_given_x`` H(z_{!=i} | x), ``pairs`` (d, d) H(z_i, z_j) with H(z_i) on the
        diagonal (None without ``pairs``), ``factor`` (K,) plug-in H(v_k), ``code_factor``
        (K, d) H(z_i, v_k) (mixed discrete / differential), ``mutual_info`` (K, d)
        I(z_i; v_k) = H(z_i) + H(v_k) - H(z_i, v_k); ``settings`` {"n_samples", "seed",
        "convention", "n_slow"} and ``standard_error``: the Monte-Carlo standard error of
        each estimate (same keys as the fields; 0 for closed forms; inf when S = 1), plus
        "mutual_info_x" (I(x; z_i)), "separability" (H(z_i) + H(z_{!=i}) - H(z)),
        "sepin" (I(x; z) - I(x; z_{!=i})), "total_correlation" (sum_i H(z_i) - H(z)) and,
        with pairs, "pair_mutual_info" (I(z_i; z_j)), from the per-sample terms of each
        difference (their correlation included).

    Raises
    ------
    TypeError, ValueError
        ``n_samples`` not an integer in [1, 1e8], a bad ``random_state``, ``convention``
        or ``n_threads``, or ``factors`` whose rows differ from ``post``'s.

    Notes
    -----
    Default (``convention=None``), the paper's definitions: sample s uses fastdis's
    counter-based generator keyed by (seed, s) (the same draws for any thread count or
    chunking): a row uniform in [0, N) and z^s = mu + eps * std with eps ~ N(0, I) (Box-Muller).
    H(z_i | x), H(z | x) and H(z_{!=i} | x) are exact: mean_n sum 0.5 log(2 pi e std^2).
    Mixture densities are summed in float64 relative to the sample's own component (no
    floor, no underflow: see csrc/posterior_sampling.c).

    ``convention="do_tran"`` differs in exactly these points: the draws replay
    ``RandomState(seed).choice(N, S, p=float32 uniform weights)`` then ``.randn(S, d)``;
    the weights are float32(1/N); every mixture density (marginal, joint, leave-one-out,
    pair, factor-conditional) is floored at 1e-8 before its log; H(. | x) are their
    Monte-Carlo estimates -mean_s log max(q(z^s | x_{n_s}), 1e-8) (per code, then the
    product of the floored codes, floored again, as their "robust" product); H(v_k) uses
    log(max(p, 1e-8)). Their float32 accumulators and the per-dimension floor inside the
    mixtures' products (effects below 2e-6 on their cases) are not reproduced.

    Cost and memory: S x N x d log-densities (about 6e8 per core-second with AVX-512), one
    exponential each; three codes-major copies of the posterior (3 N d doubles), the factor
    levels (N K int32) and at most ~16 MiB of per-sample values at a time; no S x N array.
    ``convention="do_tran"`` draws its S rows and noise up front, as the authors' code does
    (S (d + 1) doubles).
    """
    n, d = post.shape
    n_samples = check_int(n_samples, "n_samples", 1, MAX_SAMPLES)
    convention = check_choice(convention, "convention", CONVENTIONS)
    if not isinstance(pairs, (bool, np.bool_)):
        raise TypeError(f"pairs must be True or False, got {pairs!r}")
    n_threads = check_n_threads(n_threads)
    seed = check_random_state(random_state)
    labels, factor_h = _factor_labels(factors, n, convention, n_threads)
    k = 0 if labels is None else labels.shape[0]
    layout = _Layout(post, labels)
    draws = _draws(post, n_samples, seed, convention)
    acc = _Moments()
    n_slow = 0
    eps_log = np.log(DO_TRAN_EPS)
    # float32(1/N) weights: their mixtures are sums of q times that, not times 1/N
    weight_shift = float(np.log(np.float32(1.0 / n) * np.float64(n))) if convention else 0.0
    width = 2 * d + 1 + k * d + (d * (d - 1) // 2 if pairs else 0)
    chunk = max(1, min(_CHUNK_WORK // max(1, n * d), _CHUNK_OUT // width) // _TILE * _TILE)
    for s0 in range(0, n_samples, chunk):
        m = min(chunk, n_samples - s0)
        rows, eps = draws(s0, m)
        z = post.mu[rows] + eps * post.std[rows]
        code, joint, others, fac, pair, slow = _kernels.posterior_sample_logs(
            layout.mu_t, layout.istd_t, layout.nlog_t, layout.labels_t, n, layout.gmax, rows,
            np.ascontiguousarray(z), bool(pairs), True, n_threads)
        n_slow += slow
        logs = [code, joint[:, None], others, fac.reshape(m, k * d)]
        if pairs:
            logs.append(pair)
        logs = np.concatenate(logs, axis=1)
        if convention:
            logs = np.maximum(logs + weight_shift, eps_log)
        # each draw's own-component terms: do_tran's H(. | x), and everywhere the paired
        # half of the I(x; .) estimates
        own = _own_terms(post, rows, eps, eps_log if convention else -np.inf)
        acc.add(_terms(-logs, own, d, k, pairs))
        checkpoint()
    return _record(acc, post, layout, factor_h, n_samples, seed, convention, pairs, n_slow)


class _Layout:
    """The kernel's codes-major copies, padded to a multiple of 8 rows: mu, 1/std, -log std
    (padded rows: 0, 0, -1e300: their terms vanish), the dense factor levels (-1 padded)
    and the largest -log std of each code."""

    def __init__(self, post, labels):
        n, d = post.shape
        n_pad = -(-n // 8) * 8
        self.mu_t = np.zeros((d, n_pad))
        self.mu_t[:, :n] = post.mu.T  # one blocked transposition each, not d strided reads
        self.istd_t = np.zeros((d, n_pad))
        self.istd_t[:, :n] = post.std.T
        self.nlog_t = np.full((d, n_pad), -1e300)
        for i in range(d):  # contiguous rows now; temporaries of N values
            self.nlog_t[i, :n] = -np.log(self.istd_t[i, :n])
            self.istd_t[i, :n] = 1.0 / self.istd_t[i, :n]
        self.gmax = np.ascontiguousarray(self.nlog_t[:, :n].max(axis=1))
        # H(z_i | x) in closed form, mean_n log std_ni + log(2 pi e) / 2, from the same logs
        self.mean_log_std = -self.nlog_t[:, :n].mean(axis=1)
        k = 0 if labels is None else labels.shape[0]
        self.labels_t = np.full((k, n_pad), -1, dtype=np.int32)
        if k:
            self.labels_t[:, :n] = labels


def _factor_labels(factors, n, convention, n_threads):
    """Dense levels (K, N) int32 of validated factors and their plug-in entropies."""
    if factors is None:
        return None, None
    factors = np.asarray(factors)
    if factors.ndim != 2 or factors.shape[0] != n:
        raise ValueError(f"factors must have the posterior's {n} rows, got shape {factors.shape}")
    levels = FactorLevels.from_data(factors, n_threads)
    labels = np.ascontiguousarray(levels.level_indices(factors).T)  # (K, N): the kernel's layout
    h = np.empty(factors.shape[1])
    for c in range(factors.shape[1]):
        p = np.bincount(labels[c], minlength=len(levels.values[c])) / n
        p = p[p > 0]
        h[c] = -np.sum(p * np.log(np.maximum(p, DO_TRAN_EPS) if convention else p))
    return labels, h


def _draws(post, n_samples, seed, convention):
    """draw(s0, m) -> (rows [m], eps [m, d]) of samples s0 .. s0 + m - 1."""
    n, d = post.shape
    if convention == "do_tran":
        rows, eps = _do_tran_draws(n, d, n_samples, seed)
        return lambda s0, m: (rows[s0:s0 + m], eps[s0:s0 + m])
    return lambda s0, m: _kernels.posterior_draw(seed, s0, m, n, d)


def _do_tran_draws(n, d, n_samples, seed):
    """The authors' draws: RandomState(seed).choice with float32 uniform weights, then randn."""
    rs = np.random.RandomState(seed)
    weights = np.full(n, 1.0 / n, dtype=np.float32)
    rows = rs.choice(n, size=n_samples, replace=True, p=weights).astype(np.int64)
    return rows, rs.randn(n_samples, d)


def sample_draws(n, d, n_samples, random_state=None, convention=None):
    """The (rows [S] int64, eps [S, d]) the estimator uses for this seed: sample s is
    z^s = mu[rows[s]] + eps[s] * std[rows[s]]. For tests and for checking by hand."""
    seed = check_random_state(random_state)
    if check_choice(convention, "convention", CONVENTIONS) == "do_tran":
        return _do_tran_draws(n, d, n_samples, seed)
    return _kernels.posterior_draw(seed, 0, n_samples, n, d)


def _own_terms(post, rows, eps, eps_log):
    """Per sample, -log of the own component's densities, floored at eps_log (do_tran's
    Monte-Carlo H(. | x); -inf: no floor): [per code (d), joint (1), leave-one-out (d)],
    their robust products."""
    logq = -0.5 * eps * eps - np.log(post.std[rows]) - 0.5 * np.log(2.0 * np.pi)
    logq = np.maximum(logq, eps_log)
    total = logq.sum(axis=1, keepdims=True)
    loo = np.maximum(total - logq, eps_log)
    return -np.concatenate([logq, np.maximum(total, eps_log), loo], axis=1)


def _terms(neg, own, d, k, pairs):
    """Per-sample terms (m, ...) whose means are the estimates: the entropies, then the
    differences whose standard errors are reported."""
    code, joint, others = neg[:, :d], neg[:, d], neg[:, d + 1:2 * d + 1]
    fac = neg[:, 2 * d + 1:2 * d + 1 + k * d]
    out = {"code": code, "all_codes": joint[:, None], "others": others, "code_factor": fac,
           "code_given_x": own[:, :d], "all_codes_given_x": own[:, d:d + 1],
           "others_given_x": own[:, d + 1:]}
    out["mutual_info"] = np.tile(code, (1, k)) - fac  # + H(v_k), exact
    out["mutual_info_x"] = code - own[:, :d]
    out["all_mutual_info_x"] = joint[:, None] - own[:, d:d + 1]
    out["others_mutual_info_x"] = others - own[:, d + 1:]
    out["separability"] = code + others - joint[:, None]
    out["sepin"] = (joint[:, None] - own[:, d:d + 1]) - (others - own[:, d + 1:])
    out["total_correlation"] = code.sum(axis=1, keepdims=True) - joint[:, None]
    if pairs:
        h2 = neg[:, 2 * d + 1 + k * d:]
        i, j = np.triu_indices(d, 1)
        out["pairs"] = h2
        out["pair_mutual_info"] = code[:, i] + code[:, j] - h2
    return out


class _Moments:
    """Running sums of per-sample terms, shifted by the first chunk's means (so that the
    variance does not cancel), merged chunk by chunk in order."""

    def __init__(self):
        self.count = 0
        self.shift = self.sum = self.sumsq = None

    def add(self, terms):
        if self.shift is None:
            self.shift = {key: v.mean(axis=0) for key, v in terms.items()}
            self.sum = {key: 0.0 for key in terms}
            self.sumsq = {key: 0.0 for key in terms}
        for key, v in terms.items():
            c = v - self.shift[key]
            self.sum[key] = self.sum[key] + c.sum(axis=0)
            self.sumsq[key] = self.sumsq[key] + (c * c).sum(axis=0)
        self.count += len(next(iter(terms.values())))

    def mean(self, key):
        return self.shift[key] + self.sum[key] / self.count

    def standard_error(self, key):
        s = self.count
        if s < 2:
            return np.full(np.shape(self.shift[key]), np.inf)
        var = (self.sumsq[key] - self.sum[key] ** 2 / s) / (s - 1)
        return np.sqrt(np.maximum(var, 0.0) / s)


def _record(acc, post, layout, factor_h, n_samples, seed, convention, pairs, n_slow):
    d = post.shape[1]
    se = {key: acc.standard_error(key) for key in acc.shift}
    code = acc.mean("code")
    if convention:
        given = acc.mean("code_given_x")
        given_all = float(acc.mean("all_codes_given_x")[0])
        given_others = acc.mean("others_given_x")
    else:  # closed form: exact, no Monte-Carlo error
        given = layout.mean_log_std + _HALF_LOG_2PI_E
        given_all = float(given.sum())
        given_others = given_all - given
        for key in ("code_given_x", "all_codes_given_x", "others_given_x"):
            se[key] = np.zeros_like(se[key])
    for key in ("all_codes", "all_codes_given_x", "total_correlation", "all_mutual_info_x"):
        se[key] = float(se[key][0])
    rec = PosteriorEntropies(
        estimator="sampling", code=code, code_given_x=given,
        all_codes=float(acc.mean("all_codes")[0]), all_codes_given_x=given_all,
        others=acc.mean("others"), others_given_x=given_others,
        # I(x; .) as the mean of paired per-draw terms: their noise largely cancels
        mutual_info_x=acc.mean("mutual_info_x"),
        all_mutual_info_x=float(acc.mean("all_mutual_info_x")[0]),
        others_mutual_info_x=acc.mean("others_mutual_info_x"),
        settings={"n_samples": n_samples, "seed": seed, "convention": convention,
                  "n_slow": int(n_slow)},
        standard_error=se)
    if pairs:
        h = np.empty((d, d))
        i, j = np.triu_indices(d, 1)
        h[i, j] = h[j, i] = acc.mean("pairs")
        h[np.arange(d), np.arange(d)] = code
        rec.pairs = h
        se_p = np.zeros((d, d))
        se_p[i, j] = se_p[j, i] = se["pairs"]
        se_p[np.arange(d), np.arange(d)] = se["code"]
        se["pairs"] = se_p
        mi = np.zeros((d, d))
        mi[i, j] = mi[j, i] = se["pair_mutual_info"]
        se["pair_mutual_info"] = mi
    else:
        se.pop("pairs", None)
    k = 0 if factor_h is None else len(factor_h)
    if k:
        rec.factor = factor_h
        rec.code_factor = acc.mean("code_factor").reshape(k, d)
        rec.mutual_info = acc.mean("mutual_info").reshape(k, d) + factor_h[:, None]
        se["code_factor"] = se["code_factor"].reshape(k, d)
        se["mutual_info"] = se["mutual_info"].reshape(k, d)
        se["factor"] = np.zeros(k)
    else:
        for key in ("code_factor", "mutual_info"):
            se.pop(key, None)
    return rec
