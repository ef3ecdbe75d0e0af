"""Information-based disentanglement metrics (Carbonneau et al. 2023, section 4.3).

Every metric here is a formula over one :class:`fastdis._information.Information`
(plug-in I(v_k; z_j), H(v_k), H(z_j), H(v_k, z_j) from a single joint-histogram
pass).  The ``convention`` settings live in :mod:`fastdis.metrics._conventions`.
All values are ratios and so do not depend on the logarithm base; details are
reported in nats.
"""
import warnings

import numpy as np

from .._discretize import STRATEGIES
from .._histogram import JointHistogram
from .._information import (Information, compute_information,
                            information_from_histogram)
from .._random import check_unused_random_state
from .._validation import check_choice
from .._warnings import DegenerateWarning
from ._conventions import INFORMATION, resolve

__all__ = ["mig", "rmig", "mig_sup", "jemmig", "modularity", "dcimig"]

_COMMON_PARAMS = """\
    factors : array-like of shape (n_samples, n_factors), or JointHistogram
        Ground-truth factors of variation, taken as discrete labels (integers,
        floats or strings); numpy arrays or dask arrays (then computed chunk by
        chunk: only the contingency tables travel, and the value is the in-memory
        one, bit for bit). Or a :class:`fastdis.JointHistogram` filled batch by batch
        (``codes`` then None): the metric of the rows it counted, with its bins.
    codes : array-like of shape (n_samples, n_codes)
        The representation (e.g. posterior means), real values; numpy or dask.
    convention : {None, "dlib", "ubisoft", "do_tran"}, optional
        Reference implementation to reproduce exactly; None is fastdis's default
        (see Notes).  Explicit parameters override what a convention sets.
        ``"do_tran"`` (Do & Tran's code) applies to a posterior (``var=`` given), for
        ``rmig`` and ``jemmig``.
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState, optional
        Seeds the posterior sampling estimator (``estimator="sampling"``). Otherwise the
        metric is deterministic: accepted for a uniform signature and checked by the
        rule every metric follows (an integer in [0, 2**32), ...), but not used.
    n_threads : int, optional
        Threads for the histogram pass; default all available. The value does
        not depend on it.
    n_bins : int, optional
        Equal-width bins per code; default 20 (10 under ``"ubisoft"``).
    strategy : {"uniform", "quantile"}, optional
        Code binning (see :func:`fastdis.discretize`). Equal-width bins let one
        outlier row squeeze a code into a single bin; ``"quantile"`` is robust.
    code_range : (low, high) or array-like of shape (n_codes, 2), optional
        Known code range; skips the min/max pass.
    factor_bins : int or False, optional
        Bin numeric factors into this many equal-width bins before use (the
        survey code's ``continuous_factors=True``, its default, with 10 bins);
        False uses factors as labels. Default: labels, or 10 bins under ``"ubisoft"``.
    var, std, logvar : array-like of shape (n_samples, n_codes), optional
        The encoder's posterior spread (exactly one: variances, standard deviations or
        log-variances); ``codes`` are then its means. The information then comes from
        the posterior q(z | x) (Do & Tran 2020; see :func:`fastdis.interpretability`)
        instead of a histogram of the codes: ``n_bins`` (default 100) and ``bin_range``
        (default (-4, 4)) quantise it, or ``estimator="sampling"`` estimates it from
        ``n_samples`` (default 10,000) draws seeded by ``random_state``.
    estimator : {"quantized", "sampling"}, optional
        Posterior estimator (with ``var``/``std``/``logvar``); default ``"quantized"``.
    bin_range : (float, float), optional
        Quantised estimator's range; default (-4.0, 4.0).
    n_samples : int, optional
        Sampling estimator's draws; default 10,000.
    return_details : bool, default=False
        Also return a dict with the per-factor / per-code parts and the
        information matrices (nats)."""


def _doc(func):
    func.__doc__ = func.__doc__.replace("    {params}", _COMMON_PARAMS)
    return func


def _information(metric, factors, codes, convention, n_threads, random_state, posterior,
                 **given):
    """The :class:`Information` record the formulas read, and the settings: from the
    histogram of point codes (computed here, or a filled :class:`JointHistogram`), or (a
    spread given) from a posterior estimator."""
    if isinstance(factors, JointHistogram):
        return _histogram_information(metric, factors, codes, convention, random_state,
                                      posterior, given)
    if isinstance(factors, Information):  # a record computed already (bootstrap replicates)
        return factors, resolve(metric, convention, INFORMATION)
    if codes is None:
        raise TypeError(f"{metric}() needs codes: pass factors and codes, or a filled "
                        "JointHistogram alone")
    if any(posterior[k] is not None for k in ("var", "std", "logvar")):
        return _posterior_information(metric, factors, codes, convention, n_threads,
                                      random_state, posterior, given)
    unused = [k for k in ("estimator", "bin_range", "n_samples") if posterior[k] is not None]
    if unused:
        raise TypeError(f"{metric}: {unused[0]}= applies to a posterior only: give the "
                        "posterior's spread too (var=, std= or logvar=)")
    check_unused_random_state(random_state)
    if given.get("strategy") is not None:
        # "minmax" (the survey code's scaling) is a convention's, not a user's, choice
        check_choice(given["strategy"], "strategy", STRATEGIES)
    if convention == "do_tran":
        raise ValueError(f"{metric}: convention='do_tran' applies to a posterior: give its "
                         "spread too (var=, std= or logvar=)")
    s = resolve(metric, convention, INFORMATION, **given)
    info = compute_information(factors, codes, n_bins=s["n_bins"], strategy=s["strategy"],
                               code_range=s.get("code_range"), factor_bins=s["factor_bins"],
                               n_threads=n_threads)
    return info, s


# keywords that choose how the record is computed (the rest -- convention, normalized --
# are the formula's)
_RECORD_KEYS = ("n_bins", "strategy", "code_range", "factor_bins", "var", "std", "logvar",
                "estimator", "bin_range", "n_samples")


def information_record(metric, factors, codes, kwargs):
    """The :class:`Information` record ``metric(factors, codes, **kwargs)`` computes from
    (shared inside ``evaluate``), and the keywords its formula reads."""
    posterior = {k: kwargs.get(k) for k in ("var", "std", "logvar", "estimator", "bin_range",
                                            "n_samples")}
    given = {k: kwargs.get(k) for k in ("n_bins", "strategy", "code_range", "factor_bins")}
    info, _ = _information(metric, factors, codes, kwargs.get("convention"),
                           kwargs.get("n_threads"), kwargs.get("random_state"), posterior,
                           **given)
    formula = {k: v for k, v in kwargs.items()
               if k not in _RECORD_KEYS + ("random_state", "n_threads", "return_details")}
    return info, formula


def _histogram_information(metric, hist, codes, convention, random_state, posterior, given):
    """Information of the rows a :class:`JointHistogram` has counted (streamed batch by
    batch): the formulas then run unchanged. Its bins and factor levels were fixed when
    it was created, so the options that choose them do not apply."""
    if codes is not None:
        raise TypeError(f"{metric}: a JointHistogram has counted its codes already: pass "
                        "codes=None")
    for k, v in list(given.items()) + list(posterior.items()):
        if v is not None:
            raise TypeError(f"{metric}: {k}= does not apply to a JointHistogram (its bins and "
                            "levels were fixed when it was created)")
    check_unused_random_state(random_state)
    if convention == "do_tran":
        raise ValueError(f"{metric}: convention='do_tran' applies to a posterior, not to a "
                         "JointHistogram of point codes")
    s = resolve(metric, convention, INFORMATION)
    if s["strategy"] != "uniform" or s["factor_bins"] not in (None, False):
        raise ValueError(f"{metric}: convention={convention!r} bins codes and factors its own "
                         "way; a JointHistogram's bins are fixed: use convention=None or "
                         "'dlib'")
    if hist.n_samples == 0:
        raise ValueError(f"{metric}: the JointHistogram has counted no rows yet (update() it)")
    return information_from_histogram(hist), s


def _posterior_information(metric, factors, codes, convention, n_threads, random_state,
                           posterior, given):
    """Information of a posterior (Do & Tran): the same record, from the quantised or the
    sampling estimator; the formulas then run unchanged."""
    from .posterior import _record

    for k in ("strategy", "code_range", "factor_bins"):
        if given.get(k) is not None:
            raise TypeError(f"{metric}: {k}= bins point codes; with a posterior (var=, std= or "
                            "logvar=) the estimator's n_bins= and bin_range= apply")
    if convention in ("dlib", "ubisoft"):
        raise ValueError(f"{metric}: convention={convention!r} computes on point codes; with a "
                         "posterior use convention=None or 'do_tran'")
    rec, post = _record(metric, codes, posterior["var"], posterior["std"], posterior["logvar"],
                     factors, convention=convention, estimator=posterior["estimator"],
                     n_bins=given.get("n_bins"), bin_range=posterior["bin_range"],
                     n_samples=posterior["n_samples"], random_state=random_state,
                     n_threads=n_threads, mu_name="codes")
    info = Information(rec.mutual_info, rec.factor, rec.code, rec.code_factor, rec.n_bins,
                       post.shape[0])
    return info, dict(INFORMATION[None], estimator=rec.estimator, settings=rec.settings)


def _informative_factors(info, settings, metric):
    """Mask of factors kept: all of them, or (default) those with entropy > 0."""
    keep = info.factor_entropy > 0
    if settings["degenerate"] == "skip":
        if not keep.all():
            warnings.warn(f"{metric}: factors {np.flatnonzero(~keep).tolist()} are constant "
                          "(zero entropy) and were left out", DegenerateWarning, stacklevel=3)
        return keep
    return np.ones_like(keep)


def _mean(values, metric):
    if len(values) == 0:
        warnings.warn(f"{metric}: no factor or code carries information; the score is undefined (NaN)",
                      DegenerateWarning, stacklevel=3)
        return float("nan")
    return float(np.mean(values))


def _top_two(matrix, axis):
    """Largest and second-largest values along axis (the second is 0 when there is one value)."""
    s = np.sort(matrix, axis=axis)
    top = np.take(s, -1, axis=axis)
    second = np.take(s, -2, axis=axis) if matrix.shape[axis] > 1 else np.zeros_like(top)
    return top, second


def _normalized_mi(info, settings):
    """I(v_k; z_j) / H(v_k) (Chen et al.) or / H(z_j) (the survey code's helper)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if settings["normalize"] == "factor":
            return info.mutual_info / info.factor_entropy[:, None]
        return info.mutual_info / info.code_entropy[None, :]


def _details(info, **parts):
    out = dict(mutual_info=info.mutual_info, factor_entropy=info.factor_entropy,
               code_entropy=info.code_entropy)
    out.update(parts)
    return out


def _finish(score, return_details, details):
    return (score, details) if return_details else score


@_doc
def mig(factors, codes=None, *, convention=None, random_state=None, n_threads=None, n_bins=None,
        strategy=None, code_range=None, factor_bins=None, var=None, std=None, logvar=None,
        estimator=None, bin_range=None, n_samples=None, return_details=False):
    """Mutual Information Gap (Chen et al., NeurIPS 2018).

    .. math:: \\mathrm{MIG} = \\frac{1}{K} \\sum_k
              \\frac{I(v_k; z_{j^{(1)}}) - I(v_k; z_{j^{(2)}})}{H(v_k)},

    where :math:`z_{j^{(1)}}, z_{j^{(2)}}` are the two codes most informative about factor
    :math:`v_k`. 1 when each factor is captured by exactly one code.

    Parameters
    ----------
    {params}

    Returns
    -------
    score : float
    details : dict, only with ``return_details=True``
        ``per_factor`` (gap of each factor, NaN where left out), ``mutual_info``,
        ``factor_entropy``, ``code_entropy``.

    Notes
    -----
    Default (``convention=None``): 20 equal-width bins per code over its [min, max]
    with ``np.histogram`` edges, factors as labels, gaps normalised by H(v_k): the
    value equals disentanglement_lib's ``_compute_mig`` on the same arrays.
    A constant factor (H = 0) is left out with a :class:`fastdis.DegenerateWarning`
    (disentanglement_lib returns NaN: ``convention="dlib"`` does too). With a single
    code the second-best information is 0.

    ``convention="ubisoft"`` reproduces the survey code: codes min-max scaled and cut
    into 10 bins, factors binned the same way (``continuous_factors=True``), and each
    I(v_k; z_j) divided by the entropy of the binned *code*, H(z_j), not of the
    factor -- lower than Chen et al.'s value whenever codes have more entropy than
    factors; a constant code gives NaN.

    Examples
    --------
    >>> import fastdis
    >>> from fastdis.datasets import make_dsprites_like
    >>> factors, codes = make_dsprites_like("partial", small=True)
    >>> round(fastdis.mig(factors, codes), 3)
    0.52

    References
    ----------
    Chen, Li, Grosse & Duvenaud, "Isolating sources of disentanglement in variational
    autoencoders", NeurIPS 2018, arXiv:1802.04942.
    Carbonneau, Zaidi, Boilard & Gagnon, "Measuring disentanglement: a review of metrics",
    IEEE Transactions on Neural Networks and Learning Systems, 2023, arXiv:2012.09276.
    """
    info, s = _information("mig", factors, codes, convention, n_threads, random_state,
                           n_bins=n_bins, strategy=strategy, code_range=code_range,
                           factor_bins=factor_bins,
                           posterior=dict(var=var, std=std, logvar=logvar, estimator=estimator,
                                          bin_range=bin_range, n_samples=n_samples))
    keep = _informative_factors(info, s, "mig")
    top, second = _top_two(_normalized_mi(info, s), axis=1)
    per_factor = np.where(keep, top - second, np.nan)
    score = _mean(per_factor[keep], "mig")
    return _finish(score, return_details, _details(info, per_factor=per_factor))


@_doc
def rmig(factors, codes=None, *, convention=None, random_state=None, n_threads=None, n_bins=None,
         strategy=None, code_range=None, factor_bins=None, normalized=True,
         var=None, std=None, logvar=None, estimator=None, bin_range=None, n_samples=None,
         return_details=False):
    """Robust MIG (Do & Tran, ICLR 2020) of point codes.

    .. math:: \\mathrm{RMIG} = \\frac{1}{K} \\sum_k
              \\frac{I(v_k; z_{j^{(1)}}) - I(v_k; z_{j^{(2)}})}{H(v_k)}

    Do & Tran estimate I(v_k; z_j) from the quantised *posterior* q(z_j | x) so that
    the estimate does not depend on the sampling of z: give the posterior's spread
    (``var=``, ``std=`` or ``logvar=``, with ``codes`` its means) and this is their RMIG
    (the same value as :func:`fastdis.interpretability`'s ``rmig``). With point codes
    only the posterior is a point mass and their estimator is the histogram estimator:
    RMIG then equals MIG on the same bins.

    Parameters
    ----------
    {params}
    normalized : bool, default=True
        Divide each gap by H(v_k) (Do & Tran's normalised RMIG, in [0, 1]); False
        returns the mean gap in nats.

    Returns
    -------
    score : float
    details : dict, only with ``return_details=True``

    Notes
    -----
    ``convention="ubisoft"``: the survey code has no separate RMIG; its experiments
    report its MIG (normalised by the code's entropy) under "MIG-RMIG", which is what
    this returns. disentanglement_lib has no RMIG. Constant factors are left out with
    a :class:`fastdis.DegenerateWarning` by default.

    Examples
    --------
    >>> import fastdis
    >>> from fastdis.datasets import make_dsprites_like
    >>> factors, codes = make_dsprites_like("partial", small=True)
    >>> round(fastdis.rmig(factors, codes), 3)
    0.52

    References
    ----------
    Do & Tran, "Theory and evaluation metrics for learning disentangled
    representations", ICLR 2020, arXiv:1908.09961.
    Carbonneau, Zaidi, Boilard & Gagnon, "Measuring disentanglement: a review of metrics",
    IEEE Transactions on Neural Networks and Learning Systems, 2023, arXiv:2012.09276.
    """
    info, s = _information("rmig", factors, codes, convention, n_threads, random_state,
                           n_bins=n_bins, strategy=strategy, code_range=code_range,
                           factor_bins=factor_bins,
                           posterior=dict(var=var, std=std, logvar=logvar, estimator=estimator,
                                          bin_range=bin_range, n_samples=n_samples))
    keep = _informative_factors(info, s, "rmig")
    mi = _normalized_mi(info, s) if normalized else info.mutual_info
    top, second = _top_two(mi, axis=1)
    per_factor = np.where(keep, top - second, np.nan)
    score = _mean(per_factor[keep], "rmig")
    return _finish(score, return_details, _details(info, per_factor=per_factor))


@_doc
def mig_sup(factors, codes=None, *, convention=None, random_state=None, n_threads=None, n_bins=None,
            strategy=None, code_range=None, factor_bins=None, var=None, std=None, logvar=None,
        estimator=None, bin_range=None, n_samples=None, return_details=False):
    """MIG-sup (Li, Murkute, Gyawali & Wang, ICLR 2020).

    .. math:: \\mathrm{MIG\\text{-}sup} = \\frac{1}{J} \\sum_j
              \\left( \\tilde I(v_{k^{(1)}}; z_j) - \\tilde I(v_{k^{(2)}}; z_j) \\right),
              \\quad \\tilde I(v_k; z_j) = \\frac{I(v_k; z_j)}{H(v_k)}

    The gap between the two factors a code is most informative about: 1 when each
    code captures one factor only (modularity), where MIG measures compactness.
    A code that carries no information scores 0.

    Parameters
    ----------
    {params}

    Returns
    -------
    score : float
    details : dict, only with ``return_details=True``
        ``per_code`` gaps and the information matrices.

    Notes
    -----
    Default: factor-normalised information as in Li et al.; constant factors are left
    out with a :class:`fastdis.DegenerateWarning`; with one factor the second-best
    value is 0. ``convention="ubisoft"`` reproduces the survey code, which normalises
    by the binned code's entropy H(z_j) instead (so the gap is
    :math:`(I_1 - I_2) / H(z_j)`) and gives NaN for a constant code. disentanglement_lib
    has no MIG-sup.

    Examples
    --------
    >>> import fastdis
    >>> from fastdis.datasets import make_dsprites_like
    >>> factors, codes = make_dsprites_like("partial", small=True)
    >>> round(fastdis.mig_sup(factors, codes), 3)
    0.26

    References
    ----------
    Li, Murkute, Gyawali & Wang, "Progressive learning and disentanglement of
    hierarchical representations", ICLR 2020, arXiv:2002.10549.
    Carbonneau, Zaidi, Boilard & Gagnon, "Measuring disentanglement: a review of metrics",
    IEEE Transactions on Neural Networks and Learning Systems, 2023, arXiv:2012.09276.
    """
    info, s = _information("mig_sup", factors, codes, convention, n_threads, random_state,
                           n_bins=n_bins, strategy=strategy, code_range=code_range,
                           factor_bins=factor_bins,
                           posterior=dict(var=var, std=std, logvar=logvar, estimator=estimator,
                                          bin_range=bin_range, n_samples=n_samples))
    keep = _informative_factors(info, s, "mig_sup")
    if not keep.any():
        return _finish(_mean([], "mig_sup"), return_details, _details(info, per_code=None))
    top, second = _top_two(_normalized_mi(info, s)[keep], axis=0)
    per_code = top - second
    score = _mean(per_code, "mig_sup")
    return _finish(score, return_details, _details(info, per_code=per_code))


@_doc
def jemmig(factors, codes=None, *, convention=None, random_state=None, n_threads=None, n_bins=None,
           strategy=None, code_range=None, factor_bins=None, var=None, std=None, logvar=None,
        estimator=None, bin_range=None, n_samples=None, return_details=False):
    """Normalised JEMMIG (Do & Tran, ICLR 2020).

    .. math:: \\mathrm{JEMMIG} = \\frac{1}{K} \\sum_k \\left( 1 -
              \\frac{H(v_k, z_{j^{(1)}}) - I(v_k; z_{j^{(1)}}) + I(v_k; z_{j^{(2)}})}
                   {H(v_k) + \\log B} \\right)

    with :math:`z_{j^{(1)}}, z_{j^{(2)}}` the two codes most informative about
    :math:`v_k` and B the number of code bins. Unlike MIG it also penalises the
    best code for carrying anything besides its factor (the term
    :math:`H(v_k, z_{j^{(1)}}) - I = H(z_{j^{(1)}} \\mid v_k) + H(v_k \\mid z_{j^{(1)}})`): it
    reaches 1 only when the binned best code takes exactly one value per factor value,
    and a code that varies within a factor value (noise spread over several bins)
    scores lower even if it determines the factor.

    Parameters
    ----------
    {params}

    Returns
    -------
    score : float
    details : dict, only with ``return_details=True``
        ``per_factor`` scores, ``best_code`` per factor, the information matrices and
        ``joint_entropy``.

    Notes
    -----
    Default: constant factors are left out with a :class:`fastdis.DegenerateWarning`;
    the best code is the first one with the largest information. ``convention="ubisoft"``
    reproduces the survey code (10 min-max bins for codes and factors, the best code
    taken as ``np.argsort(I)[-1]``, constant factors kept). disentanglement_lib has no
    JEMMIG.

    Examples
    --------
    >>> import fastdis
    >>> from fastdis.datasets import make_dsprites_like
    >>> factors, codes = make_dsprites_like("partial", small=True)
    >>> round(fastdis.jemmig(factors, codes), 3)
    0.48

    References
    ----------
    Do & Tran, "Theory and evaluation metrics for learning disentangled
    representations", ICLR 2020, arXiv:1908.09961.
    Carbonneau, Zaidi, Boilard & Gagnon, "Measuring disentanglement: a review of metrics",
    IEEE Transactions on Neural Networks and Learning Systems, 2023, arXiv:2012.09276.
    """
    info, s = _information("jemmig", factors, codes, convention, n_threads, random_state,
                           n_bins=n_bins, strategy=strategy, code_range=code_range,
                           factor_bins=factor_bins,
                           posterior=dict(var=var, std=std, logvar=logvar, estimator=estimator,
                                          bin_range=bin_range, n_samples=n_samples))
    keep = _informative_factors(info, s, "jemmig")
    mi = info.mutual_info
    if s["degenerate"] == "reference":
        best = np.array([np.argsort(row)[-1] for row in mi])
    else:
        best = np.argmax(mi, axis=1)
    rows = np.arange(mi.shape[0])
    top, second = _top_two(mi, axis=1)
    if info.n_bins is None:
        raise ValueError("jemmig normalises by H(v_k) + log B, which needs bins: use the "
                         "quantised estimator, or fastdis.interpretability(..., "
                         "estimator='sampling').jemmig for the unnormalised value in nats")
    unnormalized = info.joint_entropy[rows, best] - top + second
    per_factor = 1.0 - unnormalized / (info.factor_entropy + np.log(info.n_bins))
    per_factor = np.where(keep, per_factor, np.nan)
    score = _mean(per_factor[keep], "jemmig")
    return _finish(score, return_details,
                   _details(info, per_factor=per_factor, best_code=best,
                            joint_entropy=info.joint_entropy))


@_doc
def modularity(factors, codes=None, *, convention=None, random_state=None, n_threads=None,
               n_bins=None, strategy=None, code_range=None, factor_bins=None,
               var=None, std=None, logvar=None, estimator=None, bin_range=None, n_samples=None,
               return_details=False):
    """Modularity (Ridgeway & Mozer, NeurIPS 2018).

    .. math:: \\mathrm{Mod} = \\frac{1}{J} \\sum_j \\left( 1 -
              \\frac{\\sum_{k \\neq k^*_j} I(v_k; z_j)^2}{(K - 1)\\, \\theta_j^2} \\right),
              \\quad \\theta_j = \\max_k I(v_k; z_j)

    1 when each code carries information about a single factor. It is not 0 for
    noise: codes that carry a little information about every factor score about
    0.9 (disentanglement_lib's own observation).

    Parameters
    ----------
    {params}

    Returns
    -------
    score : float
    details : dict, only with ``return_details=True``
        ``per_code`` scores (NaN where left out) and the information matrices.

    Notes
    -----
    Default: equals disentanglement_lib's ``modularity`` on the same arrays, except for
    degenerate columns: a code with zero information about every factor (e.g. a
    constant code) has no defined modularity and is left out of the mean with a
    :class:`fastdis.DegenerateWarning`, where disentanglement_lib scores it 0 and so
    pulls the mean down (``convention="dlib"`` does that); constant factors are left
    out too (they would only change K - 1). With one factor every informative code
    scores 1. ``convention="ubisoft"`` reproduces the survey code (10 min-max bins
    for codes and factors, no guard: NaN for an uninformative code).

    Examples
    --------
    >>> import fastdis
    >>> from fastdis.datasets import make_dsprites_like
    >>> factors, codes = make_dsprites_like("partial", small=True)
    >>> round(fastdis.modularity(factors, codes), 3)
    0.735

    References
    ----------
    Ridgeway & Mozer, "Learning deep disentangled embeddings with the F-statistic
    loss", NeurIPS 2018, arXiv:1802.05312.
    Carbonneau, Zaidi, Boilard & Gagnon, "Measuring disentanglement: a review of metrics",
    IEEE Transactions on Neural Networks and Learning Systems, 2023, arXiv:2012.09276.
    """
    info, s = _information("modularity", factors, codes, convention, n_threads, random_state,
                           n_bins=n_bins, strategy=strategy, code_range=code_range,
                           factor_bins=factor_bins,
                           posterior=dict(var=var, std=std, logvar=logvar, estimator=estimator,
                                          bin_range=bin_range, n_samples=n_samples))
    keep_f = _informative_factors(info, s, "modularity")
    sq = info.mutual_info[keep_f] ** 2               # (K', d)
    n_f = sq.shape[0]
    theta2 = sq.max(axis=0) if n_f else np.zeros(sq.shape[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        if s["degenerate"] == "reference" and convention == "ubisoft":
            best = np.argmax(sq, axis=0)
            others = sq.sum(axis=0) - sq[best, np.arange(sq.shape[1])]
            per_code = 1.0 - others / (theta2 * (n_f - 1))
        else:
            per_code = 1.0 - (sq.sum(axis=0) - theta2) / (theta2 * (n_f - 1))
    if s["degenerate"] == "reference":
        if convention != "ubisoft":
            per_code[theta2 == 0] = 0.0  # disentanglement_lib's guard
        score = float(np.mean(per_code))
    else:
        informative = theta2 > 0
        if n_f == 1:
            per_code = np.ones_like(theta2)
        if not informative.all() and informative.any():
            warnings.warn(f"modularity: codes {np.flatnonzero(~informative).tolist()} carry no "
                          "information about any factor and were left out", DegenerateWarning,
                          stacklevel=2)
        per_code = np.where(informative, per_code, np.nan)
        score = _mean(per_code[informative], "modularity")
    return _finish(score, return_details, _details(info, per_code=per_code))


@_doc
def dcimig(factors, codes=None, *, convention=None, random_state=None, n_threads=None, n_bins=None,
           strategy=None, code_range=None, factor_bins=None, var=None, std=None, logvar=None,
        estimator=None, bin_range=None, n_samples=None, return_details=False):
    """DCIMIG (Sepliarskaia, Kiseleva & de Rijke, 2019).

    For each code :math:`z_j`, the gap :math:`G_j = I(v_{k^{(1)}}; z_j) - I(v_{k^{(2)}}; z_j)`
    between its two most informative factors is credited to the best one,
    :math:`k^{(1)}`; each factor keeps the largest gap credited to it, :math:`D_k`:

    .. math:: \\mathrm{DCIMIG} = \\frac{\\sum_k D_k}{\\sum_k H(v_k)}

    Parameters
    ----------
    {params}

    Returns
    -------
    score : float
    details : dict, only with ``return_details=True``
        ``per_factor`` credited gaps :math:`D_k`, ``per_code`` gaps and the
        information matrices.

    Notes
    -----
    Default: constant factors are left out with a :class:`fastdis.DegenerateWarning`
    (they add 0 to both sums, so the value only changes when every factor is
    constant: NaN); ties credit the first best factor. ``convention="ubisoft"``
    reproduces the survey code (10 min-max bins for codes and factors).
    disentanglement_lib has no DCIMIG.

    Examples
    --------
    >>> import fastdis
    >>> from fastdis.datasets import make_dsprites_like
    >>> factors, codes = make_dsprites_like("partial", small=True)
    >>> round(fastdis.dcimig(factors, codes), 3)
    0.462

    References
    ----------
    Sepliarskaia, Kiseleva & de Rijke, "Evaluating disentangled representations",
    arXiv:1910.05587, 2019.
    Carbonneau, Zaidi, Boilard & Gagnon, "Measuring disentanglement: a review of metrics",
    IEEE Transactions on Neural Networks and Learning Systems, 2023, arXiv:2012.09276.
    """
    info, s = _information("dcimig", factors, codes, convention, n_threads, random_state,
                           n_bins=n_bins, strategy=strategy, code_range=code_range,
                           factor_bins=factor_bins,
                           posterior=dict(var=var, std=std, logvar=logvar, estimator=estimator,
                                          bin_range=bin_range, n_samples=n_samples))
    keep = _informative_factors(info, s, "dcimig")
    mi = info.mutual_info[keep]
    if mi.shape[0] == 0:
        return _finish(_mean([], "dcimig"), return_details, _details(info, per_factor=None))
    top, second = _top_two(mi, axis=0)
    gap = top - second                                   # per code
    credited = np.zeros_like(mi)
    credited[np.argmax(mi, axis=0), np.arange(mi.shape[1])] = gap
    per_factor = credited.max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = float(per_factor.sum() / info.factor_entropy[keep].sum())
    return _finish(score, return_details, _details(info, per_factor=per_factor, per_code=gap))
