"""Scores without ground-truth factors: disentanglement_lib's unsupervised scores of one
representation, and UDR (Duan et al., ICLR 2020), the agreement between models trained
with different seeds."""
from dataclasses import dataclass

import numpy as np

from .._information import mutual_info_matrix
from .._random import check_random_state
from .._validation import check_choice, check_codes, check_n_bins

__all__ = ["gaussian_total_correlation", "gaussian_wasserstein_correlation",
           "mutual_info_score", "unsupervised_scores", "udr", "UDRResult"]


def _covariance(codes):
    """np.cov of the codes' columns (ddof=1), as disentanglement_lib's ``np.cov(mus)``."""
    codes = check_codes(codes, min_samples=2)
    return np.atleast_2d(np.cov(np.asarray(codes, dtype=np.float64), rowvar=False))


def gaussian_total_correlation(codes):
    """Total correlation of a Gaussian fitted to the codes (disentanglement_lib).

    .. math:: \\mathrm{TC} = \\tfrac12 \\Big(\\sum_j \\log \\Sigma_{jj} - \\log\\det\\Sigma\\Big),

    the KL divergence between N(0, Sigma) and the product of its marginals, Sigma the codes'
    covariance (``np.cov``, ddof=1). 0 for uncorrelated codes, in nats.

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_codes)

    Returns
    -------
    float
        +inf when the covariance is singular (a constant code, or codes that are linear
        combinations of others).

    References
    ----------
    Locatello et al., "Challenging common assumptions in the unsupervised learning of
    disentangled representations", ICML 2019 (disentanglement_lib's
    ``unsupervised_metrics.gaussian_total_correlation``).

    Examples
    --------
    >>> import numpy as np, fastdis
    >>> z = np.random.default_rng(0).normal(size=(100_000, 3))
    >>> round(fastdis.gaussian_total_correlation(z), 3)
    0.0
    """
    cov = _covariance(codes)
    diag = np.diag(cov)
    if not (diag > 0).all():
        return float("inf")
    # on the correlation matrix (the same value): a singular one -- whose smallest eigenvalue
    # is rounding noise -- would give a large finite number from slogdet, not +inf
    root = np.sqrt(diag)
    corr = cov / np.outer(root, root)
    if np.linalg.eigvalsh(corr).min() <= 64 * len(diag) * np.finfo(np.float64).eps:
        return float("inf")
    return float(-0.5 * np.linalg.slogdet(corr)[1])


def gaussian_wasserstein_correlation(codes, normalized=False):
    """2-Wasserstein distance between a Gaussian fitted to the codes and the product of its
    marginals (disentanglement_lib).

    .. math:: W = 2\\,\\mathrm{tr}\\,\\Sigma - 2\\,\\mathrm{tr}\\big((D \\Sigma)^{1/2}\\big),
              \\qquad D = \\mathrm{diag}(\\Sigma),

    computed as :math:`2 \\sum_j \\Sigma_{jj} - 2 \\sum_i \\sqrt{\\lambda_i}` with
    :math:`\\lambda_i` the eigenvalues of the symmetric :math:`D^{1/2} \\Sigma D^{1/2}`
    (similar to :math:`D \\Sigma`, so the same trace of the square root, without a general
    matrix square root). ``normalized`` divides by :math:`\\mathrm{tr}\\,\\Sigma`.

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_codes)
    normalized : bool, default=False
        disentanglement_lib's ``gaussian_wasserstein_correlation_norm``.

    Returns
    -------
    float

    References
    ----------
    Locatello et al., ICML 2019 (disentanglement_lib's
    ``unsupervised_metrics.gaussian_wasserstein_correlation``).

    Examples
    --------
    >>> import numpy as np, fastdis
    >>> z = np.random.default_rng(0).normal(size=(1000, 1)) * [1.0, 1.0]
    >>> round(fastdis.gaussian_wasserstein_correlation(z, normalized=True), 6)  # 2 - sqrt(2)
    0.585786
    """
    cov = _covariance(codes)
    root = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    eig = np.linalg.eigvalsh(cov * root[:, None] * root[None, :])
    value = 2.0 * np.trace(cov) - 2.0 * np.sqrt(np.clip(eig, 0.0, None)).sum()
    return float(value / np.trace(cov)) if normalized else float(value)


def mutual_info_score(codes, n_bins=20, n_threads=None):
    """Mean mutual information between two distinct codes (disentanglement_lib's
    ``mutual_info_score``): each code binned into ``n_bins`` equal-width bins over its
    range (``np.histogram``'s edges), the plug-in I(z_i; z_j) of every pair i != j, in nats.

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_codes)
        At least two codes.
    n_bins : int, default=20
    n_threads : int, optional

    Returns
    -------
    float

    References
    ----------
    Locatello et al., ICML 2019 (disentanglement_lib's ``compute_unsupervised_metrics``).

    Examples
    --------
    >>> import numpy as np, fastdis
    >>> z = np.random.default_rng(0).normal(size=(10_000, 2))
    >>> fastdis.mutual_info_score(np.c_[z[:, 0], z[:, 0]]) > 1.0 > fastdis.mutual_info_score(z)
    True
    """
    from .._discretize import discretize

    codes = check_codes(codes, min_samples=2)
    n_bins = check_n_bins(n_bins)
    d = codes.shape[1]
    if d < 2:
        raise ValueError(f"mutual_info_score needs at least 2 codes, got {d}")
    labels = discretize(codes, n_bins, n_threads=n_threads)
    mi = mutual_info_matrix(labels, codes, n_bins=n_bins, n_threads=n_threads)  # (d, d)
    np.fill_diagonal(mi, 0.0)
    return float(mi.sum() / (d * d - d))


def unsupervised_scores(codes, n_bins=20, n_threads=None):
    """disentanglement_lib's ``compute_unsupervised_metrics`` on the codes: a dict with
    ``gaussian_total_correlation``, ``gaussian_wasserstein_correlation``,
    ``gaussian_wasserstein_correlation_norm`` and ``mutual_info_score``.

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_codes)
    n_bins : int, default=20
        Bins of :func:`mutual_info_score`.
    n_threads : int, optional

    Returns
    -------
    dict

    Examples
    --------
    >>> import numpy as np, fastdis
    >>> sorted(fastdis.unsupervised_scores(np.random.default_rng(0).normal(size=(500, 3))))
    ['gaussian_total_correlation', 'gaussian_wasserstein_correlation', \
'gaussian_wasserstein_correlation_norm', 'mutual_info_score']
    """
    return dict(gaussian_total_correlation=gaussian_total_correlation(codes),
                gaussian_wasserstein_correlation=gaussian_wasserstein_correlation(codes),
                gaussian_wasserstein_correlation_norm=gaussian_wasserstein_correlation(
                    codes, normalized=True),
                mutual_info_score=mutual_info_score(codes, n_bins, n_threads))


@dataclass
class UDRResult:
    """Result of :func:`udr`.

    Attributes
    ----------
    model_scores : ndarray of shape (n_models,)
        UDR of each model: the median of its pairwise scores with the other models.
    pairwise : ndarray of shape (n_models, n_models)
        ``pairwise[i, j]``: the relative-strength score of the similarity matrix of model
        i's codes (rows) against model j's (columns); NaN on the diagonal.
    similarity : list of list of ndarray
        ``similarity[i][j]``: that (n_codes_i, n_codes_j) matrix of absolute Spearman
        correlations or Lasso weights, before the KL filter (None on the diagonal).
    """

    model_scores: np.ndarray
    pairwise: np.ndarray
    similarity: list


def _relative_strength(r):
    """disentanglement_lib's ``relative_strength_disentanglement``: for each column and each
    row of r, max^2 / sum, averaged, the two averages averaged. Its ``np.nan_to_num(x, 0)``
    passes 0 as ``copy``, not as the NaN replacement: NaN (an all-zero row) counts as 0."""
    if r.size == 0:  # every code of a model left out by the KL filter
        return float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        cols = np.nanmean(np.nan_to_num(np.max(r, axis=0) ** 2 / np.sum(r, axis=0)))
        rows = np.nanmean(np.nan_to_num(np.max(r, axis=1) ** 2 / np.sum(r, axis=1)))
    return (cols + rows) / 2


def _spearman(a, b):
    """|Spearman correlation| of every column of a (rows) with every column of b."""
    from scipy.stats import rankdata

    ra, rb = rankdata(a, axis=0), rankdata(b, axis=0)
    ra -= ra.mean(axis=0)
    rb -= rb.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = (ra.T @ rb) / np.outer(np.sqrt((ra ** 2).sum(0)), np.sqrt((rb ** 2).sum(0)))
    return np.abs(corr)


def _lasso(a, b, alpha, seed):
    """|weights| (columns of a -> rows, columns of b -> columns) of scikit-learn's Lasso
    predicting every column of b from a, as disentanglement_lib fits it."""
    from sklearn.linear_model import Lasso

    model = Lasso(alpha=alpha, random_state=seed).fit(a, b)
    return np.abs(np.atleast_2d(model.coef_)).T


def udr(codes, *, method="lasso", kl=None, kl_threshold=0.01, alpha=0.1, random_state=None):
    """Unsupervised Disentanglement Ranking (Duan et al., ICLR 2020).

    Models trained with different seeds that disentangle agree with each other up to a
    permutation and sign of their codes; models that entangle do so differently each time.
    For every ordered pair of models (i, j), a similarity matrix between model i's codes and
    model j's (absolute Spearman correlations, or the absolute weights of a Lasso predicting
    j's codes from i's) is scored by its relative strength

    .. math:: \\frac12 \\Big(\\operatorname{mean}_b \\frac{\\max_a R_{ab}^2}{\\sum_a R_{ab}}
              + \\operatorname{mean}_a \\frac{\\max_b R_{ab}^2}{\\sum_b R_{ab}}\\Big),

    and a model's UDR is the median of its scores against the others (as disentanglement_lib:
    the pairs where it is the second model).

    Parameters
    ----------
    codes : list of array-like of shape (n_samples, n_codes_i)
        Each model's codes (means) on the same inputs, row for row; at least two models.
    method : {"lasso", "spearman"}, default="lasso"
    kl : list of array-like of shape (n_codes_i,), optional
        Each model's average KL divergence per code (posterior against the prior). Codes
        are standardised and, as disentanglement_lib does, multiplied by ``kl > 0.01``;
        codes with ``kl <= kl_threshold`` are left out of the scores. Default: every code
        is kept.
    kl_threshold : float, default=0.01
    alpha : float, default=0.1
        The Lasso's penalty.
    random_state : None, int, Generator or RandomState
        Seed of the Lasso fits (scikit-learn's ``random_state``; coordinate descent in
        cyclic order does not use it, kept for disentanglement_lib's signature).

    Returns
    -------
    UDRResult

    References
    ----------
    Duan et al., "Unsupervised model selection for variational disentangled representation
    learning", ICLR 2020 (arXiv:1905.12614); disentanglement_lib's
    ``udr.compute_udr_sklearn``.

    Examples
    --------
    >>> import numpy as np, fastdis
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(2000, 3))
    >>> same = [z, z[:, [2, 0, 1]] * [1.0, -2.0, 0.5], z[:, [1, 2, 0]]]   # permuted, rescaled
    >>> fastdis.udr(same, method="spearman").model_scores.round(2)   # independent codes: ~0.3
    array([0.96, 0.96, 0.96])
    """
    check_choice(method, "method", ("lasso", "spearman"))
    if not isinstance(codes, (list, tuple)) or len(codes) < 2:
        raise TypeError("codes must be a list of at least two models' codes (n_samples, "
                        "n_codes) on the same inputs")
    models = [np.asarray(check_codes(c, f"codes[{i}]"), dtype=np.float64)
              for i, c in enumerate(codes)]
    n = models[0].shape[0]
    for i, m in enumerate(models):
        if m.shape[0] != n:
            raise ValueError(f"codes[{i}] has {m.shape[0]} rows, codes[0] {n}: every model's "
                             "codes must be on the same inputs")
    seed = check_random_state(random_state)
    if kl is None:
        kl = [np.ones(m.shape[1]) for m in models]
    elif len(kl) != len(models):
        raise ValueError(f"kl must give one array per model: {len(kl)} for {len(models)}")
    kl = [np.asarray(k, dtype=np.float64).reshape(-1) for k in kl]
    for i, (k, m) in enumerate(zip(kl, models)):
        if k.shape != (m.shape[1],):
            raise ValueError(f"kl[{i}] must have one value per code of codes[{i}] "
                             f"({m.shape[1]}), got shape {k.shape}")
    scaled = []
    for m, k in zip(models, kl):
        std = m.std(axis=0)
        scaled.append((m - m.mean(axis=0)) / np.where(std > 0, std, 1.0) * (k > 0.01))
    keep = [k > kl_threshold for k in kl]
    count = len(models)
    pairwise = np.full((count, count), np.nan)
    similarity = [[None] * count for _ in range(count)]
    for i in range(count):
        for j in range(count):
            if i == j:
                continue
            r = (_lasso(scaled[i], scaled[j], alpha, seed) if method == "lasso"
                 else _spearman(scaled[i], scaled[j]))
            similarity[i][j] = r
            pairwise[i, j] = _relative_strength(r[keep[i]][:, keep[j]])
    model_scores = np.array([np.median(np.delete(pairwise[:, i], i)) for i in range(count)])
    return UDRResult(model_scores, pairwise, similarity)
