"""Posterior inputs and the entropy records the posterior estimators produce.

A VAE encoder gives, for every row x_n, a diagonal Gaussian q(z | x_n) = N(mu_n, diag(var_n)).
:func:`check_posterior` is the one validation path for it (``mu`` and exactly one of
``var``, ``std``, ``logvar``); the estimators (:mod:`fastdis._posterior_quantized`,
:mod:`fastdis._posterior_sampling`) read the :class:`Posterior` it returns and produce a
:class:`PosteriorEntropies` record, in nats, which the metric formulas of
:mod:`fastdis.metrics.posterior` read. Nothing here computes.
"""
from dataclasses import dataclass, field

import numpy as np

from ._validation import check_codes, check_factors

ESTIMATORS = ("quantized", "sampling")


@dataclass(frozen=True)
class Posterior:
    """A validated diagonal-Gaussian posterior: ``mu`` and ``std``, both (n, d) float64,
    C-contiguous, finite, ``std > 0``."""

    mu: np.ndarray
    std: np.ndarray

    @property
    def shape(self):
        return self.mu.shape


def _spread_name(var, std, logvar):
    given = [(n, v) for n, v in (("var", var), ("std", std), ("logvar", logvar)) if v is not None]
    if len(given) != 1:
        names = ", ".join(n for n, _ in given) or "none"
        raise TypeError("the posterior's spread is given by exactly one of var= (variances), "
                        f"std= (standard deviations) or logvar= (log-variances); got {names}")
    return given[0]


def check_posterior(mu, var=None, *, std=None, logvar=None, mu_name="mu", min_samples=2,
                    first_row=0):
    """Validate a diagonal-Gaussian posterior and return it as :class:`Posterior`.

    Parameters
    ----------
    mu : array-like of shape (n_samples, n_codes)
        Posterior means.
    var, std, logvar : array-like of shape (n_samples, n_codes)
        Exactly one: variances, standard deviations or log-variances (natural log). Which
        one is meant cannot be detected from the values, so it is always named.
    mu_name : str
        The means' argument name in error messages (``codes`` in the metrics that also
        take point codes).

    Raises
    ------
    TypeError
        None or more than one of var / std / logvar, or non-numeric arrays.
    ValueError
        Shapes that differ, NaN or infinite values, non-positive variances or standard
        deviations, or standard deviations so small (or log-variances so low) that the
        densities overflow float64 (std below 1e-150).

    Dask arrays give a :class:`fastdis._dask.ChunkedPosterior` (shapes checked now, values
    chunk by chunk when read; ``first_row``: the chunk's first row, for the messages).
    """
    name, spread = _spread_name(var, std, logvar)
    from . import _dask

    if _dask.any_dask(mu, spread):
        return _dask.check_posterior(mu, spread, name, mu_name, min_samples)
    mu = np.ascontiguousarray(check_codes(mu, mu_name, min_samples), dtype=np.float64)
    spread = np.ascontiguousarray(check_codes(spread, name, min_samples), dtype=np.float64)
    if spread.shape != mu.shape:
        raise ValueError(f"{name} must have the shape of {mu_name}, {mu.shape}; got {spread.shape}")
    _check_finite(mu, mu_name, first_row)
    _check_finite(spread, name, first_row)
    if name == "logvar":
        std = np.exp(0.5 * spread)
    else:
        bad = spread <= 0
        if bad.any():
            r, c = (int(i) for i in np.argwhere(bad)[0])
            r += first_row
            raise ValueError(f"{name} must be positive (a {'variance' if name == 'var' else 'standard deviation'} "
                             f"per row and code), got {float(spread[r - first_row, c])!r} at row {r}, column {c}"
                             + ("; pass logvar= if these are log-variances"
                                if spread[r - first_row, c] < 0 else ""))
        std = np.sqrt(spread) if name == "var" else spread
    tiny = std < 1e-150
    if tiny.any():
        r, c = (int(i) for i in np.argwhere(tiny)[0])
        raise ValueError(f"{name} gives a standard deviation of {std[r, c]:.3g} at row "
                         f"{r + first_row}, column {c}: "
                         "below 1e-150 the Gaussian densities overflow float64; a point mass is "
                         "better passed as point codes (without a spread)")
    return Posterior(mu, np.ascontiguousarray(std))


def _check_finite(arr, name, first_row=0):
    bad = ~np.isfinite(arr)
    if bad.any():
        r, c = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} must be finite, got {float(arr[r, c])!r} at row "
                         f"{r + first_row}, column {c}")


@dataclass
class PosteriorEntropies:
    """Entropies (nats) of the aggregate posterior q(z) = mean_n q(z | x_n), as one estimator
    gives them. Fields an estimator cannot give are None.

    Attributes
    ----------
    estimator : {"quantized", "sampling"}
    code : (d,) H(z_i)
    code_given_x : (d,) H(z_i | x)
    all_codes, all_codes_given_x : float, H(z) and H(z | x) (sampling only)
    others, others_given_x : (d,) H(z_{!=i}) and H(z_{!=i} | x) (sampling only)
    pairs : (d, d) H(z_i, z_j), diagonal H(z_i) (when asked for)
    factor : (K,) H(v_k) (when factors are given)
    code_factor : (K, d) H(z_i, v_k) (when factors are given)
    mutual_info : (K, d) I(z_i; v_k) (when factors are given)
    mutual_info_x : (d,) I(x; z_i), when the estimator has a better estimate than
        ``code - code_given_x`` (sampling: the mean of the paired per-draw terms
        log q(z^s_i | x_{n_s}) - log q(z^s_i), whose noise largely cancels)
    all_mutual_info_x, others_mutual_info_x : float and (d,), I(x; z) and I(x; z_{!=i}) alike
    n_bins : int or None (quantized only; JEMMIG's log B)
    settings : dict, the estimator's effective settings (n_bins, bin_range, n_samples, seed, ...)
    standard_error : dict, Monte-Carlo standard errors of the sampling estimates (same keys)
    """

    estimator: str
    code: np.ndarray
    code_given_x: np.ndarray
    all_codes: float = None
    all_codes_given_x: float = None
    others: np.ndarray = None
    others_given_x: np.ndarray = None
    pairs: np.ndarray = None
    factor: np.ndarray = None
    code_factor: np.ndarray = None
    mutual_info: np.ndarray = None
    mutual_info_x: np.ndarray = None
    all_mutual_info_x: float = None
    others_mutual_info_x: np.ndarray = None
    n_bins: int = None
    settings: dict = field(default_factory=dict)
    standard_error: dict = field(default_factory=dict)

    def information_x(self):
        """``(I(x; z_i), I(x; z), I(x; z_{!=i}))``: the estimator's own estimates where it
        has them, else differences of the entropies (None where those are missing)."""
        def pick(own, h, h_given):
            if own is not None:
                return own
            return None if h is None or h_given is None else h - h_given

        return (pick(self.mutual_info_x, self.code, self.code_given_x),
                pick(self.all_mutual_info_x, self.all_codes, self.all_codes_given_x),
                pick(self.others_mutual_info_x, self.others, self.others_given_x))


def posterior_entropies(post, factors=None, *, estimator="quantized", n_bins=100,
                        bin_range=(-4.0, 4.0), n_samples=10_000, random_state=None, pairs=False,
                        convention=None, n_threads=None):
    """The one door to the posterior estimators: a :class:`PosteriorEntropies` for ``post``
    (and ``factors``, validated, same rows) from the estimator named.

    Inside :func:`fastdis._shared.sharing` (``evaluate``) a record is computed once and
    reused by every later request for the same posterior arrays, estimator and settings
    that it can serve: one with pair entropies serves a request without, one with factor
    tables (for the same factors array) a request without factors.
    """
    from ._dask import ChunkedPosterior
    from ._shared import memory_key, scope_store

    chunked = isinstance(post, ChunkedPosterior)
    if chunked and (estimator != "quantized" or pairs):
        # the sampling estimator and the pair tables read the rows in memory (for now)
        from ._dask import in_memory

        post = post.in_memory()
        if factors is not None:
            factors = check_factors(in_memory(factors)[0])
        chunked = False
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be 'quantized' or 'sampling', got {estimator!r}")
    if estimator == "quantized":
        from ._posterior_quantized import quantized_entropies as estimate
        from ._random import check_unused_random_state

        check_unused_random_state(random_state)  # deterministic: checked, not used
        settings = dict(n_bins=n_bins, bin_range=bin_range)
        key = (n_bins, None if bin_range is None else tuple(np.ravel(bin_range).tolist()))
    else:
        from ._posterior_sampling import sampling_entropies as estimate
        from ._random import check_random_state

        seed = check_random_state(random_state)
        settings = dict(n_samples=n_samples, random_state=seed)
        key = (n_samples, seed)
    store = scope_store()
    if store is None:
        return estimate(post, factors, pairs=pairs, convention=convention, n_threads=n_threads,
                        **settings)
    post_key = post.key if chunked else (memory_key(post.mu), memory_key(post.std))
    entries = store.setdefault(("posterior", post_key, estimator, key, convention), [])
    want_f = None if factors is None else memory_key(factors)
    for record, has_f, has_pairs, _ in entries:
        if (has_pairs or not pairs) and (want_f is None or has_f == want_f):
            return record
    record = estimate(post, factors, pairs=pairs, convention=convention, n_threads=n_threads,
                      **settings)
    entries.append((record, want_f, pairs, (post, factors)))  # keeps the keyed arrays alive
    return record
