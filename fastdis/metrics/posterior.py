"""Do & Tran's posterior-based properties of a representation (ICLR 2020).

Each function is a formula over one :class:`fastdis._posterior.PosteriorEntropies` record
(entropies of the aggregate posterior q(z) = mean_n q(z | x_n), in nats), produced by the
quantised or the sampling estimator through :func:`fastdis._posterior.posterior_entropies`.

References
----------
.. [1] Do, K. & Tran, T. (2020). Theory and Evaluation Metrics for Learning Disentangled
   Representations. ICLR 2020. arXiv:1908.09961.
"""
import warnings
import numpy as np

from .._dask import ChunkedPosterior, in_memory, is_dask
from .._posterior import check_posterior, posterior_entropies
from .._validation import check_base, check_factors
from .._warnings import DegenerateWarning
from ._conventions import POSTERIOR, resolve
from ._posterior_results import InterpretabilityResult, SeparabilityResult

__all__ = ["informativeness", "separability", "interpretability", "SeparabilityResult",
           "InterpretabilityResult"]

_POSTERIOR_PARAMS = """\
    var : array-like of shape (n_samples, n_codes), optional
        Posterior variances (the encoder's q(z_i | x) = N(mu_i, var_i)). Exactly one of
        ``var``, ``std`` and ``logvar`` is given: they cannot be told apart from their
        values, so the argument names which one it is.
    std : array-like of shape (n_samples, n_codes), optional
        Posterior standard deviations, instead of ``var``.
    logvar : array-like of shape (n_samples, n_codes), optional
        Posterior log-variances (natural log), instead of ``var``."""

_ESTIMATOR_PARAMS = """\
    n_bins : int, default=100
        Quantised estimator: equal-width bins on ``bin_range``.
    bin_range : (float, float), default=(-4.0, 4.0)
        Quantised estimator: the range the bins cover. The two edge bins take the
        posterior mass beyond it (default), so shift and scale codes whose posteriors
        lie far outside it (VAE codes near the N(0, 1) prior fit the default).
    n_samples : int, default=10_000
        Sampling estimator: Monte-Carlo draws from the aggregate posterior.
    convention : {None, "do_tran"}, optional
        None follows the paper's definitions; ``"do_tran"`` reproduces the authors' code
        (clarken92/DisentanglementMetrics), see Notes.
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState, optional
        Sampling estimator: the seed of the draws (fastdis's counter-based generator; under
        ``"do_tran"`` numpy's legacy ``RandomState(seed)``, as the authors' code draws).
        The quantised estimator is deterministic: it checks the value and uses nothing.
    n_threads : int, optional
        Threads; default all available. Results do not depend on it.
    base : float, optional
        Logarithm base of the returned information values; default natural log (nats)."""


_REFERENCES = """\
    References
    ----------
    .. [1] Do, K. & Tran, T. (2020). Theory and Evaluation Metrics for Learning Disentangled
       Representations. ICLR 2020. arXiv:1908.09961."""


def _doc(func):
    func.__doc__ = (func.__doc__.replace("    {posterior}", _POSTERIOR_PARAMS)
                    .replace("    {estimator}", _ESTIMATOR_PARAMS)
                    .replace("    {references}", _REFERENCES))
    return func


def _record(metric, mu, var, std, logvar, factors, *, convention, estimator, n_bins, bin_range,
            n_samples, random_state, n_threads, pairs=False, mu_name="mu"):
    """Validate the posterior (and factors); return the estimator's record and the validated
    posterior. The estimator validates its own settings (n_bins, bin_range, n_samples)."""
    s = resolve(metric, convention, POSTERIOR, estimator=estimator, n_bins=n_bins,
                bin_range=bin_range, n_samples=n_samples)
    post = check_posterior(mu, var, std=std, logvar=logvar, mu_name=mu_name)
    if factors is not None and isinstance(post, ChunkedPosterior):
        if not is_dask(factors):
            factors = check_factors(factors)
    elif factors is not None:
        factors = check_factors(in_memory(factors)[0] if is_dask(factors) else factors)
        if factors.shape[0] != post.shape[0]:
            raise ValueError(f"factors and {mu_name} must have the same number of samples "
                             f"(rows): factors has {factors.shape[0]}, {mu_name} has "
                             f"{post.shape[0]}")
    record = posterior_entropies(post, factors, estimator=s["estimator"], n_bins=s["n_bins"],
                                 bin_range=s["bin_range"], n_samples=s["n_samples"],
                                 random_state=random_state, pairs=pairs, convention=convention,
                                 n_threads=n_threads)
    return record, post


def _in_base(values, base):
    return values if base is None else values / np.log(base)


@_doc
def informativeness(mu, var=None, *, std=None, logvar=None, estimator=None, n_bins=None,
                    bin_range=None, n_samples=None, convention=None, random_state=None,
                    n_threads=None, base=None, return_details=False):
    """Informativeness of each code, I(x; z_i) = H(z_i) - H(z_i | x) (Do & Tran 2020).

    How much the code says about the input: the entropy of the aggregate posterior
    :math:`q(z_i) = \\frac{1}{N} \\sum_n q(z_i \\mid x_n)` minus the mean entropy of the
    per-input posteriors. A code that ignores its input (every posterior equal to the
    prior) has informativeness 0.

    Parameters
    ----------
    mu : array-like of shape (n_samples, n_codes)
        Posterior means.
    {posterior}
    estimator : {"quantized", "sampling"}, default="quantized"
        ``"quantized"``: each posterior's mass in B bins, plug-in entropies (Do & Tran's
        probabilistic quantisation; bounded by log B). ``"sampling"``: Monte-Carlo
        estimate over draws from the aggregate posterior (unbounded; see
        ``standard_error``): I is the mean over draws of log q(z_i | x) - log q(z_i),
        whose two terms' noise largely cancels (a dead code gets ~0 with a tiny error);
        the details' H(z_i | x) is in closed form, so H(z_i) - H(z_i | x) differs from I
        by the Monte-Carlo error of H(z_i).
    {estimator}
    return_details : bool, default=False
        Also return a dict: ``code_entropy`` H(z_i), ``code_entropy_given_x`` H(z_i | x),
        ``normalized`` I / H(z_i) (quantised only: a differential entropy can be
        negative), ``standard_error`` (sampling: of each I), ``estimator``, ``settings``.

    Returns
    -------
    ndarray of shape (n_codes,)
        I(x; z_i), in nats unless ``base`` is given.

    Notes
    -----
    Default quantisation uses each posterior's exact mass per bin (normal CDF
    differences). ``convention="do_tran"`` reproduces the authors' script
    (``6a_informativeness_metrics_v3.py``): the density at each bin centre times the bin
    width, renormalised per row, a one-hot on the mean's bin when every centre density is
    below 1e-5, and ``log(max(p, 1e-8))``; the normalised value divides by H(z_i) + 1e-8.
    These masses differ from the exact ones by 1-7 % in I, and much more in H(z_i | x) for
    narrow posteriors. With the sampling estimator, ``"do_tran"`` replays the authors'
    draws, floors mixture densities at 1e-8, estimates H(z_i | x) by Monte Carlo and
    clips I at 0.

    {references}

    Examples
    --------
    >>> import numpy as np, fastdis
    >>> rng = np.random.default_rng(0)
    >>> mu = np.column_stack([rng.uniform(-2, 2, 1000), np.zeros(1000)])
    >>> std = np.column_stack([np.full(1000, 0.1), np.ones(1000)])
    >>> info = fastdis.informativeness(mu, std=std)
    >>> bool(info[0] > 1.5), bool(info[1] < 1e-9)
    (True, True)
    """
    base = check_base(base)
    rec, _ = _record("informativeness", mu, var, std, logvar, None, convention=convention,
                     estimator=estimator, n_bins=n_bins, bin_range=bin_range,
                     n_samples=n_samples, random_state=random_state, n_threads=n_threads)
    info = rec.information_x()[0]
    if convention == "do_tran" and rec.estimator == "sampling":
        info = np.maximum(info, 0.0)
    if not return_details:
        return _in_base(info, base)
    normalized = None
    if rec.estimator == "quantized":
        eps = 1e-8 if convention == "do_tran" else 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            normalized = np.where(rec.code + eps > 0, info / (rec.code + eps), 0.0)
    details = dict(code_entropy=_in_base(rec.code, base),
                   code_entropy_given_x=_in_base(rec.code_given_x, base),
                   normalized=normalized, estimator=rec.estimator, settings=dict(rec.settings),
                   standard_error=_in_base(rec.standard_error.get("mutual_info_x"), base)
                   if rec.standard_error.get("mutual_info_x") is not None else None)
    return _in_base(info, base), details


@_doc
def separability(mu, var=None, *, std=None, logvar=None, pairwise=True, estimator=None,
                 n_bins=None, bin_range=None, n_samples=None, convention=None,
                 random_state=None, n_threads=None, base=None):
    """Separability and independence of the codes, SEP / SEPIN / INDIN (Do & Tran 2020).

    Codes are *separable* when they share no information: :math:`I(z_i; z_{\\neq i}) = 0`
    for every code (then the total correlation is 0 too). SEPIN_i is what code i tells
    about the input that the other codes do not; INDIN_i is its information about the
    input minus what it shares with the others. Both are weighted by each code's share
    of informativeness (WSEPIN, WINDIN), or averaged over the k most informative codes
    (:meth:`SeparabilityResult.sepin_at`).

    Parameters
    ----------
    mu : array-like of shape (n_samples, n_codes)
        Posterior means.
    {posterior}
    pairwise : bool, default=True
        Also estimate every I(z_i; z_j) (costs about as much again as the rest for 10
        codes: O(n_codes^2) per draw and row).
    estimator : {"sampling", "quantized"}, default="sampling"
        SEP, SEPIN, INDIN and TC need H(z) and H(z_{!=i}), the joint of all codes, which
        only sampling gives. ``"quantized"`` gives ``pairwise`` alone (deterministic, from
        the 2-D quantised posteriors of each pair of codes) and leaves those fields None;
        it costs O(N d^2 w^2) for w bins within +-8 std of a mean: quick for narrow
        posteriors, minutes for wide ones at dSprites size (sampling is then faster).
    {estimator}

    Returns
    -------
    SeparabilityResult

    Notes
    -----
    The sampling estimator draws ``n_samples`` points from the aggregate posterior and
    estimates each entropy as the mean negative log-density of the draws under the N-row
    mixture, in the log domain; each I(x; .) is the mean of the paired per-draw terms
    log q(. | x) - log q(.) (lower variance than a difference of separate estimates).
    For a diagonal Gaussian encoder SEPIN_i and INDIN_i are the same quantity (Do & Tran's
    code shows it too: REFERENCE_NOTES Q14); both are given.
    ``convention="do_tran"`` reproduces ``estimate_SEPIN_cupy``: its draws, its 1e-8 floor
    on mixture densities, Monte-Carlo H(. | x), and its clips of I(x; z_i), I(x; z_{!=i}),
    I(x; z) and SEP_i at 0; ``pairwise`` and ``sep_mean`` then follow ``estimate_SEP_cupy``
    (unclipped; it leaves 2 H(z_i) on the diagonal).

    {references}

    Examples
    --------
    >>> import numpy as np, fastdis
    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=2000)
    >>> mu = np.column_stack([a, a, rng.normal(size=2000)])      # codes 0 and 1 are copies
    >>> r = fastdis.separability(mu, std=np.full(mu.shape, 0.2), n_samples=2000, random_state=0)
    >>> bool(r.pairwise[0, 1] > 1.0), bool(abs(r.pairwise[0, 2]) < 0.1)
    (True, True)
    """
    base = check_base(base)
    if not isinstance(pairwise, (bool, np.bool_)):
        raise TypeError(f"pairwise must be True or False, got {pairwise!r}")
    if estimator is None:
        estimator = "sampling"
    rec, _ = _record("separability", mu, var, std, logvar, None, convention=convention,
                     estimator=estimator, n_bins=n_bins, bin_range=bin_range,
                     n_samples=n_samples, random_state=random_state, n_threads=n_threads,
                     pairs=bool(pairwise) or estimator == "quantized")
    if rec.estimator == "quantized":
        return _quantized_separability(rec, convention, base)
    clip = (lambda v: np.maximum(v, 0.0)) if convention == "do_tran" else (lambda v: v)
    info, info_x, info_others = (clip(v) for v in rec.information_x())
    sep_raw = rec.code + rec.others - rec.all_codes
    sep = clip(sep_raw)
    sepin = info_x - info_others
    indin = info - sep
    positive = np.maximum(info, 0.0)
    total = positive.sum()
    weights = positive / total if total > 0 else np.zeros_like(positive)
    if total <= 0:
        warnings.warn("separability: no code carries information about the input "
                      "(every I(x; z_i) <= 0): the weighted scores are 0", DegenerateWarning,
                      stacklevel=2)
    pair = _pairwise(rec, convention, base) if pairwise else None
    tc = float(rec.code.sum() - rec.all_codes)
    return SeparabilityResult(
        informativeness=_in_base(info, base), weights=weights, sep=_in_base(sep, base),
        sepin=_in_base(sepin, base), indin=_in_base(indin, base),
        wsep=float(_in_base(weights @ sep, base)), wsepin=float(_in_base(weights @ sepin, base)),
        windin=float(_in_base(weights @ indin, base)),
        sep_mean=float(_in_base((sep_raw if convention == "do_tran" else sep).mean(), base)),
        total_correlation=float(_in_base(tc, base)),
        mutual_info_x=float(_in_base(info_x, base)), pairwise=pair,
        standard_error={k: _in_base(v, base) for k, v in rec.standard_error.items()},
        settings=dict(rec.settings))


def _pairwise(rec, convention, base):
    """I(z_i; z_j) = H(z_i) + H(z_j) - H(z_i, z_j); the diagonal as the convention has it."""
    pair = rec.code[:, None] + rec.code[None, :] - rec.pairs
    if convention == "do_tran" and rec.estimator == "sampling":
        pair[np.diag_indices_from(pair)] = 2 * rec.code  # estimate_SEP_cupy never fills it
    else:
        pair[np.diag_indices_from(pair)] = np.nan
    return _in_base(pair, base)


def _quantized_separability(rec, convention, base):
    """The pairwise part of separability from the quantised estimator; the parts that need
    the joint of all codes are None. Under "do_tran" the pairs are those of the authors'
    ``9a_independence_metrics.py`` (a hard histogram of the means for the joint: not a
    mutual information, REFERENCE_NOTES Q13)."""
    info = rec.information_x()[0]
    positive = np.maximum(info, 0.0)
    weights = positive / positive.sum() if positive.sum() > 0 else np.zeros_like(positive)
    return SeparabilityResult(
        informativeness=_in_base(info, base), weights=weights, sep=None, sepin=None,
        indin=None, wsep=None, wsepin=None, windin=None, sep_mean=None,
        total_correlation=None, mutual_info_x=None, pairwise=_pairwise(rec, convention, base),
        standard_error={}, settings=dict(rec.settings))


def _ranked(mi):
    """Best and second-best code per factor row (ties: the lower index first)."""
    order = np.argsort(-mi, axis=1, kind="stable")
    second = order[:, 1] if mi.shape[1] > 1 else np.full(mi.shape[0], -1)
    return order[:, 0], second


@_doc
def interpretability(factors, mu, var=None, *, std=None, logvar=None, estimator=None,
                     n_bins=None, bin_range=None, n_samples=None, convention=None,
                     random_state=None, n_threads=None, base=None):
    """Interpretability of the codes w.r.t. the factors: RMIG and JEMMIG (Do & Tran 2020).

    A code :math:`z_i` is interpretable w.r.t. factor :math:`v_k` when
    :math:`I(z_i; v_k) = H(z_i) = H(v_k)`: it captures the factor and nothing else.
    RMIG (robust MIG) is MIG computed on the posterior, so it does not depend on how
    the codes were sampled; JEMMIG also penalises the best code for carrying anything
    besides its factor.

    Parameters
    ----------
    factors : array-like of shape (n_samples, n_factors)
        Ground-truth factors, taken as labels.
    mu : array-like of shape (n_samples, n_codes)
        Posterior means.
    {posterior}
    estimator : {"quantized", "sampling"}, default="quantized"
    {estimator}

    Returns
    -------
    InterpretabilityResult

    Notes
    -----
    A constant factor (H(v_k) = 0) has no interpretable code: it is left out of the means
    with a :class:`fastdis.DegenerateWarning` (the authors' quantised script gives -inf and
    their sampling code NaN for it). Ties between codes go to the lower index.
    ``convention="do_tran"`` reproduces ``7a_interpretability_metrics_v2.py`` (quantised:
    density-times-width masses, an unnormalised marginal, ``clip(p, 1e-8, 1 - 1e-8)`` logs;
    the paper's tables used ``n_bins=200``) or ``estimate_JEMMIG_cupy`` (sampling: its draws
    and floors; JEMMIG unnormalised).

    {references}

    Examples
    --------
    >>> import numpy as np, fastdis
    >>> rng = np.random.default_rng(0)
    >>> v = rng.integers(0, 4, size=(4000, 2))
    >>> mu = np.column_stack([v[:, 0] - 1.5, v[:, 1] - 1.5, rng.normal(size=4000)])
    >>> r = fastdis.interpretability(v, mu, std=np.full(mu.shape, 0.05))
    >>> bool(r.rmig > 0.9), r.best_code.tolist()
    (True, [0, 1])
    """
    base = check_base(base)
    rec, _ = _record("interpretability", mu, var, std, logvar, factors, convention=convention,
                     estimator=estimator, n_bins=n_bins, bin_range=bin_range,
                     n_samples=n_samples, random_state=random_state, n_threads=n_threads)
    mi = rec.mutual_info
    best, second = _ranked(mi)
    rows = np.arange(mi.shape[0])
    top = mi[rows, best]
    runner = mi[rows, second] if mi.shape[1] > 1 else np.zeros_like(top)
    keep = rec.factor > 0
    if not keep.all():
        warnings.warn(f"interpretability: factors {np.flatnonzero(~keep).tolist()} are constant "
                      "(zero entropy) and were left out", DegenerateWarning, stacklevel=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        rmig_k = np.where(keep, (top - runner) / rec.factor, np.nan)
        jem = rec.code_factor[rows, best] - top + runner
        if rec.estimator == "quantized":
            jem = jem / (rec.factor + np.log(rec.n_bins))
        else:
            jem = _in_base(jem, base)
    jem = np.where(keep, jem, np.nan)
    if keep.any():
        rmig, jemmig = float(np.mean(rmig_k[keep])), float(np.mean(jem[keep]))
    else:
        warnings.warn("interpretability: every factor is constant; RMIG and JEMMIG are "
                      "undefined (NaN)", DegenerateWarning, stacklevel=2)
        rmig = jemmig = float("nan")
    return InterpretabilityResult(
        rmig=rmig, jemmig=jemmig, rmig_per_factor=rmig_k, jemmig_per_factor=jem,
        best_code=best, second_code=second, mutual_info=_in_base(mi, base),
        joint_entropy=_in_base(rec.code_factor, base), code_entropy=_in_base(rec.code, base),
        factor_entropy=_in_base(rec.factor, base), estimator=rec.estimator,
        settings=dict(rec.settings))
