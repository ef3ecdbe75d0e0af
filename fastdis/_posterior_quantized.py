"""The quantised estimator: Do & Tran's "probabilistic quantisation" of the posterior.

Each row's Gaussian q(z_i | x_n) = N(mu_ni, std_ni^2) is spread over B bins of a fixed range,
Q_n,i(b); the aggregate posterior of code i is Q_i = mean_n Q_n,i, and with factor labels
the (factor level, code, bin) tables give the joint of z_i and v_k. One pass over the rows
(csrc/posterior_quantized.c) builds every table; the entropies are read from them here.
"""
import numbers

import numpy as np

from . import _kernels
from ._encode import FactorLevels
from ._posterior import Posterior, PosteriorEntropies
from ._validation import check_choice, check_int, check_n_threads

__all__ = ["quantized_entropies"]

# The kernel's tables (d x (levels + 1) x B doubles) and the pair tables (d (d - 1) / 2 x
# B^2) are outputs: refuse sizes that cannot be meant.
_MAX_TABLE_BYTES = 2 << 30
_MAX_BINS = 65535
# log(clip(p, 1e-8, 1 - 1e-8)) of the authors' code: 1 - 1e-8 is 1 in their float32, so
# only the lower clip acts (a constant factor then has H(y) = 0, not 1e-8 * log 1e8)
_EPS = 1e-8


def quantized_entropies(post, factors=None, *, n_bins=100, bin_range=(-4.0, 4.0),
                        pairs=False, convention=None, n_threads=None):
    """Entropies of the quantised aggregate posterior (Do & Tran, ICLR 2020), in nats.

    Parameters
    ----------
    post : fastdis._posterior.Posterior
        Validated posterior means and standard deviations (see ``check_posterior``).
    factors : ndarray of shape (n_samples, n_factors), optional
        Validated factor labels (``check_factors``); each distinct value is a level.
    n_bins : int, default=100
        B, the number of equal-width bins on ``bin_range`` (2 to 65535).
    bin_range : (low, high), default=(-4.0, 4.0)
        Finite, low < high. The edges are ``numpy.linspace(low, high, n_bins + 1)``.
    pairs : bool, default=False
        Also compute the (d, d) matrix of H(z_i, z_j) (diagonal H(z_i)).
    convention : {None, "do_tran"}
        None: the paper's definitions with exact masses (below). ``"do_tran"``: what the
        authors' scripts compute (below), to reproduce their numbers.
    n_threads : int, optional
        Threads; default all available. The result does not depend on it (bit for bit).

    Returns
    -------
    PosteriorEntropies
        ``estimator="quantized"``; ``code`` H(z_i); ``code_given_x`` H(z_i | x) =
        mean_n H(Q_n,i); with factors ``factor`` H(v_k), ``code_factor`` (K, d)
        H(z_i, v_k), ``mutual_info`` (K, d) I(z_i; v_k); ``pairs`` when asked;
        ``n_bins`` B; ``settings`` {n_bins, bin_range, masses ("exact" or "do_tran"),
        n_fallback (rows per code that took the one-hot fallback, "do_tran" only)}.

    Notes
    -----
    **Default (convention=None).** Bin b's mass is
    Phi((e_{b+1} - mu) / std) - Phi((e_b - mu) / std), the first bin extended to -inf
    and the last to +inf, so every row's masses sum to 1 (mass outside the range lands in
    the edge bins). Masses are computed within +-8 std of the mean only (a bin beyond
    has less than Phi(-8) = 6e-16). Entropies are plug-in, 0 log 0 = 0, with no floors:
    H(z_i) of Q_i = mean_n Q_n,i; H(z_i | x) = mean_n H(Q_n,i); H(v_k) of the label
    frequencies; H(z_i, v_k) of the table p(l, b) = (1/N) sum_{n: v_nk = l} Q_n,i(b);
    I(z_i; v_k) = sum p(l, b) log(p(l, b) / (p(l) Q_i(b))). ``pairs[i, j]`` = H of the
    exact 2-D aggregate (1/N) sum_n Q_n,i (outer) Q_n,j (costs d (d - 1) / 2 outer
    products of the rows' windows per row: slow for wide posteriors on many rows).

    **convention="do_tran"** (tests/data/dotran/REFERENCE_NOTES.md 3.1, 3.2, 5; quirks
    Q1-Q8, Q13), differences from the default:

    * masses = Gaussian density at the bin centres x bin width, divided by their sum
      (floored at 1e-8); the density floors the variance at 1e-8 in the exponent and the
      std at 1e-8 in the normaliser (Q3); a row whose largest centre density is below
      1e-5 becomes a one-hot on the bin holding its mean, clamped to the edge bins (Q2);
      centres beyond +-8 (floored) std are left at 0 (relative density < 1.3e-14);
    * ``code`` and ``code_given_x`` as the authors' informativeness script (6a): H(z_i)
      of the renormalised Q_i, every log as log(max(p, 1e-8));
    * ``factor``, ``code_factor``, ``mutual_info`` as their interpretability script (7a):
      the unrenormalised Q_i, the joint table divided by its own total, the stand-alone
      marginals in I, logs as log(max(p, 1e-8)) (their upper clip 1 - 1e-8 is 1 in their
      float32). All in float64, where they use float32 (Q6: differences ~1e-6);
    * ``pairs[i, j]`` = the plug-in entropy of a hard 2-D histogram of the *means* (same
      bins, edges clamped), so that ``code[i] + code[j] - pairs[i, j]`` is their
      independence script's (9a) pairwise value. That mixes a posterior-smoothed marginal
      with a point-mass joint: it is **not** a mutual information (Q13; large and positive
      for independent codes).

    **Cost.** One parallel pass over the rows (csrc/posterior_quantized.c) computes every
    table: O(N d w) for w bins within +-8 std per row; memory beyond the inputs: the
    (code, factor level, bin) tables, (N, K) int32 level indices and at most ~32 MiB of
    per-chunk private tables (merged in a fixed order, so the result does not depend on
    the thread count). ``pairs=True`` adds the d (d - 1) / 2 x B^2 pair tables (default;
    O(N d^2 w^2) work) or an (N, d) array of bin indices ("do_tran").

    RMIG_k and JEMMIG_k follow from the record: with the codes sorted by decreasing
    ``mutual_info[k]`` (I1, I2; z* the first), RMIG_k = (I1 - I2) / H(v_k) and
    JEMMIG_k = (H(z*, v_k) - I1 + I2) / (H(v_k) + log B).
    """
    from ._dask import ChunkedPosterior, quantized_tables

    chunked = isinstance(post, ChunkedPosterior)
    if not isinstance(post, Posterior) and not chunked:
        raise TypeError(f"post must be a Posterior (see check_posterior), got {type(post).__name__}")
    nb = check_int(n_bins, "n_bins", 2, _MAX_BINS)
    low, high = _check_bin_range(bin_range)
    check_choice(convention, "convention", (None, "do_tran"))
    if not isinstance(pairs, (bool, np.bool_)):
        raise TypeError(f"pairs must be True or False, got {pairs!r}")
    nt = check_n_threads(n_threads)
    n, d = post.shape
    edges = np.linspace(low, high, nb + 1)
    if not (np.diff(edges) > 0).all():
        raise ValueError(f"bin_range ({low!r}, {high!r}) is too narrow for n_bins={nb}: "
                         "its edges are not distinct in float64")
    do_tran = convention == "do_tran"
    if chunked:  # each chunk's tables, summed (equal to the in-memory ones to rounding)
        if pairs:
            raise ValueError("pairs=True reads the rows in memory: pass a Posterior")
        tables, row_h, n_fallback, level_counts, levels = quantized_tables(
            post, factors, edges, do_tran)
        n_levels = None if levels is None else levels.n_levels
    else:
        labels, level_off, n_levels = _dense_labels(factors, n, nt)
        n_total = int(n_levels.sum())
        _check_size(d * (1 + n_total) * nb * 8, "the (code, factor level, bin) tables", nb)
        if pairs and convention is None:
            _check_size(d * (d - 1) // 2 * nb * nb * 8, "the pairwise tables (pairs=True)", nb)
        tables, row_h, n_fallback = _kernels.quantized_tables(post.mu, post.std, labels,
                                                              n_total, edges,
                                                              1 if do_tran else 0, nt)
        level_counts = None if labels is None else np.concatenate(
            [np.bincount(labels[:, k] - level_off[k], minlength=int(m))
             for k, m in enumerate(n_levels)])
        if labels is None:
            n_levels = None
    marginal = tables[:, 0, :] / n
    if do_tran:
        code = _entropy(marginal / marginal.sum(axis=1, keepdims=True), floor=True)
    else:
        code = _entropy(marginal)
    out = PosteriorEntropies(
        estimator="quantized", code=code, code_given_x=row_h / n, n_bins=nb,
        settings={"n_bins": nb, "bin_range": (low, high),
                  "masses": "do_tran" if do_tran else "exact",
                  "n_fallback": n_fallback if do_tran else None})
    if n_levels is not None:
        _factor_terms(out, tables, level_counts, n_levels, marginal, n, do_tran)
    if pairs:
        out.pairs = (_hard_pairs(post.mu, edges, code) if do_tran
                     else _soft_pairs(post, edges, code, nt))
    return out


def _check_bin_range(bin_range):
    try:
        low, high = bin_range
    except (TypeError, ValueError):
        raise TypeError(f"bin_range must be a pair (low, high), got {bin_range!r}") from None
    for v in (low, high):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
            raise TypeError(f"bin_range must hold two real numbers, got {bin_range!r}")
    low, high = float(low), float(high)
    if not (np.isfinite(low) and np.isfinite(high) and low < high and np.isfinite(high - low)):
        raise ValueError(f"bin_range must be finite with low < high (and high - low finite), "
                         f"got ({low!r}, {high!r})")
    return low, high


def _check_size(nbytes, what, nb):
    if nbytes > _MAX_TABLE_BYTES:
        raise ValueError(f"{what} would take {nbytes / 2**30:.1f} GiB with n_bins={nb}; "
                         "use fewer bins (or fewer codes / factor levels)")


def _dense_labels(factors, n, n_threads):
    """(labels (n, K) int32: level index + the factor's offset, offsets (K,), levels (K,))."""
    if factors is None:
        return None, None, np.zeros(0, dtype=np.int64)
    if not isinstance(factors, np.ndarray) or factors.ndim != 2:
        raise TypeError("factors must be a validated 2-D array (see check_factors)")
    if factors.shape[0] != n:
        raise ValueError(f"factors must have the posterior's {n} rows, got {factors.shape[0]}")
    levels = FactorLevels.from_data(factors, n_threads)
    level_off = np.concatenate([[0], np.cumsum(levels.n_levels)[:-1]]).astype(np.int64)
    labels = levels.level_indices(factors)
    labels += level_off.astype(np.int32)
    return labels, level_off, levels.n_levels


def _xlogx(p, floor):
    """p log p elementwise, 0 log 0 = 0; with floor, p log max(p, 1e-8)."""
    if floor:
        return p * np.log(np.maximum(p, _EPS))
    out = np.zeros_like(p)
    pos = p > 0
    out[pos] = p[pos] * np.log(p[pos])
    return out


def _entropy(p, floor=False, axis=-1):
    return -_xlogx(p, floor).sum(axis=axis)


def _factor_terms(out, tables, level_counts, n_levels, marginal, n, do_tran):
    """H(v_k), H(z_i, v_k) and I(z_i; v_k) from the label-conditional tables and the rows
    at each level (``level_counts``, every factor's levels one after the other)."""
    k_count, d = len(n_levels), tables.shape[0]
    level_off = np.concatenate([[0], np.cumsum(n_levels)[:-1]]).astype(np.int64)
    out.factor = np.empty(k_count)
    out.code_factor = np.empty((k_count, d))
    out.mutual_info = np.empty((k_count, d))
    log_z = _log(marginal, do_tran)                                   # (d, B)
    for k in range(k_count):
        lo, nk = int(level_off[k]), int(n_levels[k])
        p_v = level_counts[lo:lo + nk] / n                            # (nk,)
        joint = tables[:, 1 + lo:1 + lo + nk, :] / n                  # (d, nk, B)
        if do_tran:
            joint = joint / joint.sum(axis=(1, 2), keepdims=True)
        out.factor[k] = _entropy(p_v, do_tran)
        out.code_factor[k] = _entropy(joint.reshape(d, -1), do_tran)
        ratio = _log(joint, do_tran) - _log(p_v, do_tran)[None, :, None] - log_z[:, None, :]
        out.mutual_info[k] = np.where(joint > 0, joint * ratio, 0.0).sum(axis=(1, 2))


def _log(p, floor):
    """log p (where p > 0; 0 elsewhere, masked by the callers), or log max(p, 1e-8)."""
    if floor:
        return np.log(np.maximum(p, _EPS))
    return np.log(np.where(p > 0, p, 1.0))


def _soft_pairs(post, edges, code, nt):
    """H(z_i, z_j) of the exact 2-D aggregate quantised posterior."""
    n, d = post.mu.shape
    out = np.diag(code).astype(np.float64)
    if d < 2:
        return out
    tables = _kernels.quantized_pairs(post.mu, post.std, edges, nt) / n
    iu = np.triu_indices(d, 1)
    h = _entropy(tables.reshape(len(iu[0]), -1))
    out[iu] = h
    out[iu[1], iu[0]] = h
    return out


def _hard_pairs(mu, edges, code):
    """The authors' 9a joint: plug-in entropy of a hard 2-D histogram of the means."""
    n, d = mu.shape
    nb = len(edges) - 1
    bins = np.searchsorted(edges, mu, side="right")  # (n, d) int64: O(n d), in place below
    bins -= 1
    np.clip(bins, 0, nb - 1, out=bins)
    out = np.diag(code).astype(np.float64)
    for i in range(d):
        for j in range(i + 1, d):
            counts = np.bincount(bins[:, i] * nb + bins[:, j], minlength=nb * nb)
            h = _entropy(counts[counts > 0] / n)
            out[i, j] = out[j, i] = h
    return out
