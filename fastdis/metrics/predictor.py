"""Predictor-based disentanglement metrics (Carbonneau et al. 2023, section 4.2).

So far: SAP. DCI and Explicitness are still to come (issue #4).
"""
import numpy as np

from .._validation import check_choice, check_n_threads, check_pair
from .._discretize import column_ranges
from ._conventions import resolve

__all__ = ["sap"]

# Chunk of rows for the moment sums: bounded temporaries whatever N.
_CHUNK = 1 << 16

SAP = {
    # the survey code's default: the regression variant for every factor
    None: dict(mode="regression", train_fraction=None),
    "ubisoft": dict(mode="regression", train_fraction=None),
    # sap_score._compute_sap(continuous_factors=False): LinearSVC per pair, held-out accuracy
    "dlib": dict(mode="classification", train_fraction=0.9),
}


def squared_correlation(factors, codes):
    """r^2 between every factor and every code, (n_factors, n_codes), from moment sums.

    Equals the R^2 of a least-squares line fitted to one code (sklearn's LinearRegression
    + r2_score, the survey code's procedure). Rows are read in chunks, shifted by the first
    row, so no N x d temporary is made and large offsets lose no precision. A constant code
    or factor gives 0.
    """
    f0, z0 = factors[0].astype(np.float64), codes[0].astype(np.float64)
    n = factors.shape[0]
    sf, sz = np.zeros(factors.shape[1]), np.zeros(codes.shape[1])
    sff, szz = np.zeros(factors.shape[1]), np.zeros(codes.shape[1])
    sfz = np.zeros((factors.shape[1], codes.shape[1]))
    for start in range(0, n, _CHUNK):
        f = factors[start:start + _CHUNK].astype(np.float64) - f0
        z = codes[start:start + _CHUNK].astype(np.float64) - z0
        sf += f.sum(axis=0)
        sz += z.sum(axis=0)
        sff += np.einsum("ij,ij->j", f, f)
        szz += np.einsum("ij,ij->j", z, z)
        sfz += f.T @ z
    cov = sfz - np.outer(sf, sz) / n
    var_f = np.maximum(sff - sf ** 2 / n, 0.0)
    var_z = np.maximum(szz - sz ** 2 / n, 0.0)
    denom = np.outer(var_f, var_z)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(denom > 0, cov ** 2 / denom, 0.0)
    return np.clip(r2, 0.0, 1.0)


def _classification_scores(factors, codes, train_fraction, random_state, n_threads):
    """Held-out accuracy of LinearSVC(C=0.01, class_weight="balanced") on each single code."""
    from sklearn.svm import LinearSVC

    n = factors.shape[0]
    rows = np.random.RandomState(random_state).permutation(n)
    n_train = int(np.ceil(train_fraction * n))
    train, test = rows[:n_train], rows[n_train:]
    if len(test) == 0 or n_train == 0:
        raise ValueError(f"sap: {n} rows are too few for a {train_fraction:.0%} train/test split")
    scores = np.zeros((factors.shape[1], codes.shape[1]))
    pairs = [(k, j) for k in range(factors.shape[1]) for j in range(codes.shape[1])]

    def fit(pair):
        k, j = pair
        y = factors[train, k]
        if len(np.unique(y)) < 2:
            return pair, 0.0  # a factor constant on the training rows: nothing to separate
        clf = LinearSVC(C=0.01, class_weight="balanced")
        clf.fit(codes[train, j][:, None], y)
        return pair, float(np.mean(clf.predict(codes[test, j][:, None]) == factors[test, k]))

    workers = n_threads if n_threads > 0 else None
    from concurrent.futures import ThreadPoolExecutor  # liblinear releases the GIL

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for (k, j), value in pool.map(fit, pairs):
            scores[k, j] = value
    return scores


def sap(factors, codes, *, convention=None, random_state=None, n_threads=None, mode=None,
        train_fraction=None, return_details=False):
    """Separated Attribute Predictability (Kumar, Sattigeri & Balakrishnan, ICLR 2018).

    A score :math:`S_{kj}` says how well code :math:`z_j` alone predicts factor
    :math:`v_k`; SAP is the mean over factors of the gap between the two best codes:

    .. math:: \\mathrm{SAP} = \\frac{1}{K} \\sum_k \\left( S_{k j^{(1)}} - S_{k j^{(2)}} \\right)

    Parameters
    ----------
    factors : array-like of shape (n_samples, n_factors)
        Ground-truth factors; numeric for ``mode="regression"``.
    codes : array-like of shape (n_samples, n_codes)
        The representation, real values.
    convention : {None, "ubisoft", "dlib"}, optional
        Reference implementation to reproduce; None is fastdis's default (see Notes).
    random_state : int or None, default=None
        Seed of the train/test split (classification only).
    n_threads : int, optional
        Parallel classifier fits; default all available.
    mode : {"regression", "classification"}, optional
        ``"regression"``: :math:`S_{kj}` is the :math:`R^2` of a line fitted to
        :math:`z_j` (the squared correlation, computed in closed form on all rows).
        ``"classification"``: the held-out accuracy of a linear SVM
        (``LinearSVC(C=0.01, class_weight="balanced")``) trained on :math:`z_j`, for
        discrete factors. Default: regression (the survey code's default).
    train_fraction : float, optional
        Training share of the seeded split (classification); default 0.9.
    return_details : bool, default=False
        Also return a dict with the ``scores`` matrix (factors x codes) and the
        ``per_factor`` gaps.

    Returns
    -------
    score : float
    details : dict, only with ``return_details=True``

    Notes
    -----
    Default and ``convention="ubisoft"``: the survey code's regression variant, applied to
    every factor including discrete ones; the squared correlation is invariant to the scale
    of each code. ``convention="dlib"``: disentanglement_lib's ``_compute_sap`` with
    ``continuous_factors=False`` (its default): the split is ``RandomState(random_state)``'s
    permutation of the rows, the first ``ceil(0.9 N)`` rows train. The SVM acts on raw
    code values with a fixed ``C``, so that variant depends on the scale of the codes
    (disentanglement_lib gives 0.231 / 0.000 / 0.441 for codes x 1 / x 0.01 / x 100 on one
    case): standardise codes yourself if you compare representations of different scales.
    A factor that is constant on the training rows scores 0 for every code.
    """
    s = resolve("sap", convention, SAP, mode=mode, train_fraction=train_fraction)
    check_choice(s["mode"], "mode", ("regression", "classification"))
    factors, codes = check_pair(factors, codes)
    nt = check_n_threads(n_threads)
    column_ranges(codes, nt)  # rejects NaN / inf, naming the column
    if s["mode"] == "regression":
        if factors.dtype.kind not in "iubf":
            raise TypeError(f"sap(mode='regression') needs numeric factors, got dtype {factors.dtype}")
        scores = squared_correlation(factors, codes)
    else:
        fraction = float(s["train_fraction"] if s["train_fraction"] is not None else 0.9)
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"train_fraction must be in (0, 1), got {fraction}")
        scores = _classification_scores(factors, codes, fraction, random_state, nt)
    top = np.sort(scores, axis=1)
    second = top[:, -2] if scores.shape[1] > 1 else np.zeros(scores.shape[0])
    per_factor = top[:, -1] - second
    value = float(per_factor.mean())
    return (value, dict(scores=scores, per_factor=per_factor)) if return_details else value
