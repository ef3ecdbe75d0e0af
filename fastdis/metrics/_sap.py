"""SAP, Separated Attribute Predictability (Kumar, Sattigeri & Balakrishnan, ICLR 2018)."""
import numpy as np

from .. import _dask, _kernels
from .._discretize import column_ranges
from .._random import check_random_state
from .._validation import check_choice, check_n_threads, check_pair
from ._conventions import resolve
from ._fitting import check_classes, is_numeric, split_rows
from ._scale import column_exponents, to_unit
from .information import _top_two

SAP = {
    # the survey code's default: the regression variant for every factor
    None: dict(mode="regression", train_fraction=None, max_train=10000, max_test=5000),
    "ubisoft": dict(mode="regression", train_fraction=None, max_train=10000, max_test=5000),
    # sap_score.compute_sap(continuous_factors=False): LinearSVC per pair, held-out accuracy,
    # num_train = 10,000 and num_test = 5,000 rows
    "dlib": dict(mode="classification", train_fraction=0.9, max_train=10000, max_test=5000),
}


def squared_correlation(factors, codes, code_ranges=None, n_threads=0):
    """r^2 between every factor and every code, (n_factors, n_codes), from moment sums.

    Equals the R^2 of a least-squares line fitted to one code (sklearn's LinearRegression
    + r2_score, the survey code's procedure). Each column is first divided by a power of
    two that brings it into [-1, 1] (exact; r^2 does not depend on it), so no square
    overflows or underflows whatever the scale of the codes, and shifted by its first
    row, so large offsets lose no precision; the sums are one pass over the rows in C
    (:func:`fastdis._kernels.cross_moments`), no N x d temporary. A constant code or
    factor gives 0. ``code_ranges``: the codes' (mins, maxs), if already known.
    """
    mins, maxs = code_ranges if code_ranges is not None else (codes.min(0), codes.max(0))
    factors = moment_factors(factors)
    ef, ez = moment_exponents(factors, mins, maxs)
    f0, z0 = to_unit(factors[0], ef), to_unit(codes[0], ez)
    sums = _kernels.cross_moments(factors, codes, ef, ez, f0, z0, n_threads)
    return r2_from_moments(sums, factors.shape[0])


def moment_factors(factors):
    """Numeric factors as the moment kernel reads them: booleans as uint8, integers and
    float32/64 as they are, other floats as float64."""
    if factors.dtype.kind == "b":
        return factors.view(np.uint8)
    if factors.dtype.kind not in "iu" and factors.dtype not in (np.float32, np.float64):
        return factors.astype(np.float64)
    return factors


def moment_exponents(factors, code_mins, code_maxs, factor_range=None):
    """(ef, ez): the powers of two each factor and code column is divided by before its
    moments are summed. Integer factors are within 2**64: their squares and sums cannot
    overflow, and dividing them would change no bit of r^2 (ef = 0)."""
    ez = column_exponents(code_mins, code_maxs).astype(np.int64)
    if factors.dtype.kind in "iub":
        return np.zeros(factors.shape[1], dtype=np.int64), ez
    lo, hi = factor_range if factor_range is not None else (factors.min(axis=0),
                                                            factors.max(axis=0))
    return column_exponents(lo, hi).astype(np.int64), ez


def r2_from_moments(sums, n):
    """r^2 of every (factor, code) pair from the shifted moment sums (sf, sff, sz, szz, sfz)
    of n rows."""
    sf, sff, sz, szz, sfz = sums
    cov = sfz - np.outer(sf, sz) / n
    var_f = np.maximum(sff - sf ** 2 / n, 0.0)
    var_z = np.maximum(szz - sz ** 2 / n, 0.0)
    denom = np.outer(var_f, var_z)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(denom > 0, cov ** 2 / denom, 0.0)
    return np.clip(r2, 0.0, 1.0)


def _row_labels(factors, rows):
    """Each factor's values on ``rows`` as labels 0..m-1 in sorted order of the values (the
    classes scikit-learn would see), (n_factors, len(rows)) int64, and m per factor.

    Integers of a small span are counted (a table of the span), other values sorted
    (np.unique): labels scikit-learn refuses (bytes, integers in an object column) work too."""
    sub = factors[rows]
    labels = np.empty((factors.shape[1], len(rows)), dtype=np.int64)
    n_classes = np.empty(factors.shape[1], dtype=np.int64)
    small = sub.dtype.kind in "iu" and len(rows) > 0
    for k in range(factors.shape[1]):
        # per column: numpy's axis-0 reductions of a narrow C-ordered matrix are slow
        lo, hi = (sub[:, k].min(), sub[:, k].max()) if small else (0, 0)
        if small and int(hi) - int(lo) <= 4 * len(rows):
            at = (sub[:, k] - lo).astype(np.int64)  # within the span: no overflow
            present = np.bincount(at, minlength=1) > 0
            code = np.cumsum(present) - 1
            labels[k], n_classes[k] = code[at], code[-1] + 1
        else:
            values, inverse = np.unique(sub[:, k], return_inverse=True)
            labels[k], n_classes[k] = inverse.ravel(), len(values)
    return labels, n_classes


def _classification_scores(x, labels, n_classes, n_train, nt):
    """Held-out accuracy of LinearSVC(C=0.01, class_weight="balanced") on each single code
    (disentanglement_lib's classifier), each fit solved exactly in C
    (:func:`fastdis._kernels.sap_svm`); (n_factors, n_codes). ``x``: the codes of the
    training rows, then of the test rows."""
    x_train = np.ascontiguousarray(x[:n_train].T, dtype=np.float64)
    x_test = np.ascontiguousarray(x[n_train:].T, dtype=np.float64)
    return _kernels.sap_svm(x_train, x_test, np.ascontiguousarray(labels[:, :n_train]),
                            np.ascontiguousarray(labels[:, n_train:]), n_classes, 0.01, nt)


def sap(factors, codes, *, convention=None, random_state=None, n_threads=None, mode=None,
        train_fraction=None, max_train=None, max_test=None, return_details=False):
    """Separated Attribute Predictability (Kumar, Sattigeri & Balakrishnan, ICLR 2018).

    A score :math:`S_{kj}` says how well code :math:`z_j` alone predicts factor
    :math:`v_k`; SAP is the mean over factors of the gap between the two best codes:

    .. math:: \\mathrm{SAP} = \\frac{1}{K} \\sum_k \\left( S_{k j^{(1)}} - S_{k j^{(2)}} \\right)

    Parameters
    ----------
    factors : array-like of shape (n_samples, n_factors)
        Ground-truth factors: numbers, or labels (strings, categories) for
        ``mode="classification"``.
    codes : array-like of shape (n_samples, n_codes)
        The representation, real values.
    convention : {None, "ubisoft", "dlib"}, optional
        Reference implementation to reproduce; None is fastdis's default (see Notes).
    random_state : None, int, numpy Generator or RandomState, default=None
        Seed of the train/test split (classification only): an integer in [0, 2**32), a
        generator (one draw), or None for fresh entropy.
    n_threads : int, optional
        Threads in all (the C passes over rows and the fits); default all available.
    mode : {"regression", "classification"}, optional
        ``"regression"``: :math:`S_{kj}` is the :math:`R^2` of a line fitted to
        :math:`z_j` (the squared correlation, computed in closed form on all rows).
        ``"classification"``: the held-out accuracy of a linear SVM
        (``LinearSVC(C=0.01, class_weight="balanced")``) trained on :math:`z_j`, for
        discrete factors. Default: regression (the survey code's default) for numeric
        factors, classification for labels that are not numbers (with ``convention=None``;
        the details say which ran).
    train_fraction : float, optional
        Training share of the seeded split (classification); default 0.9.
    max_train, max_test : int or False, optional
        Classification: fit on at most ``max_train`` rows and score on at most ``max_test``
        (random subsets of the split); False uses every row. Default 10,000 and 5,000
        (disentanglement_lib's ``num_train`` / ``num_test``). With ``convention=None``
        the split draws only the rows it keeps (a seeded Generator), so its rows differ
        from the conventions' (``RandomState``'s permutation of all rows).
    return_details : bool, default=False
        Also return a dict with the ``mode`` used, the ``scores`` matrix (factors x codes)
        and the ``per_factor`` gaps (and ``n_train`` / ``n_test`` for classification).

    Returns
    -------
    score : float
    details : dict, only with ``return_details=True``

    Raises
    ------
    TypeError
        ``mode="regression"`` (or ``convention="ubisoft"``) on factors that are not numbers.
    ValueError
        Classification of a factor with more distinct values than half the fitting rows (it
        looks continuous: use ``mode="regression"`` or bin it).

    Notes
    -----
    Default and ``convention="ubisoft"``: the survey code's regression variant, applied to
    every numeric factor including discrete ones; the squared correlation is invariant to
    the scale of each code, at any scale float64 holds (codes x 1e-310 or x 1e300 give the
    value of the unscaled codes). ``convention="dlib"``: disentanglement_lib's
    ``_compute_sap`` with ``continuous_factors=False`` (its default): the split is
    ``RandomState(random_state)``'s permutation of the rows, the first ``ceil(0.9 N)`` rows
    train. The SVM acts on raw code values with a fixed ``C``, so that variant depends on
    the scale of the codes (disentanglement_lib gives 0.231 / 0.000 / 0.441 for codes x 1 /
    x 0.01 / x 100 on one case): standardise codes yourself if you compare representations
    of different scales. A factor that is constant on the training rows scores 0 for every
    code. Each SVM (squared hinge, L2 penalty on weight and bias, one-vs-rest for more
    than two classes) is solved exactly in C, where liblinear stops at its tolerance
    (``tol=1e-4``): a test row within that tolerance of a decision boundary may be
    classified differently (rarely; more often on codes of large scale, where
    liblinear's default stopping rule ends far from the optimum), and on a constant code
    exact ties between classes go to the first class.
    Classification reads the codes of the split's rows only (as disentanglement_lib
    does), so NaN or infinity is an error there and ignored in rows it never reads.

    Examples
    --------
    >>> import fastdis
    >>> from fastdis.datasets import make_dsprites_like
    >>> factors, codes = make_dsprites_like("partial", small=True)
    >>> round(fastdis.sap(factors, codes, random_state=0), 3)
    0.393

    References
    ----------
    Kumar, Sattigeri & Balakrishnan, "Variational inference of disentangled latent concepts
    from unlabeled observations", ICLR 2018, arXiv:1711.00848.
    Carbonneau, Zaidi, Boilard & Gagnon, "Measuring disentanglement: a review of metrics",
    IEEE Transactions on Neural Networks and Learning Systems, 2023, arXiv:2012.09276.
    """
    labels_given = mode is None and convention is None
    s = resolve("sap", convention, SAP, mode=mode, train_fraction=train_fraction,
                max_train=max_train, max_test=max_test)
    check_choice(s["mode"], "mode", ("regression", "classification"))
    chunked = _dask.any_dask(factors, codes)
    factors, codes = (_dask.check_pair if chunked else check_pair)(factors, codes)
    nt = check_n_threads(n_threads)
    seed = check_random_state(random_state)
    if not is_numeric(factors):
        if labels_given:  # labels are classes: a line through them means nothing
            s["mode"] = "classification"
        elif s["mode"] == "regression":
            raise TypeError(f"sap(mode='regression') needs numeric factors, got dtype "
                            f"{factors.dtype}; use mode='classification' for labels")
    details = {"mode": s["mode"]}
    if s["mode"] == "regression" and chunked:  # moment sums of the chunks, added
        scores = _dask.squared_correlation(factors, codes)
    elif s["mode"] == "regression":
        ranges = column_ranges(codes, nt)  # rejects NaN / inf, naming the column
        scores = squared_correlation(factors, codes, ranges, nt)
    else:
        fraction = s["train_fraction"] if s["train_fraction"] is not None else 0.9
        if fraction is False or not 0.0 < float(fraction) < 1.0:
            raise ValueError(f"train_fraction must be in (0, 1), got {fraction}")
        train, test = split_rows(codes.shape[0], fraction, s["max_train"], s["max_test"],
                                 seed, "sap", convention, nt)
        rows = np.concatenate([train, test])
        if chunked:  # only these rows, gathered
            factors, codes, (rows,) = _dask.gather(factors, codes, rows)
        # the classifiers read these rows only (disentanglement_lib's too): a pass over
        # every row (10^6 x 10 codes: 13 ms) would check values nothing reads
        x = codes[rows]
        _kernels.code_minmax(x, nt)  # rejects NaN / inf, naming the column
        labels, n_classes = _row_labels(factors, rows)
        seen = [np.count_nonzero(np.bincount(y, minlength=1)) for y in labels[:, :len(train)]]
        check_classes(seen, len(train), "sap",
                      "use mode='regression', or bin it first (fastdis.discretize)")
        scores = _classification_scores(x, labels, n_classes, len(train), nt)
        details["n_train"], details["n_test"] = len(train), len(test)
    top, second = _top_two(scores, axis=1)
    per_factor = top - second
    value = float(per_factor.mean())
    details.update(scores=scores, per_factor=per_factor)
    return (value, details) if return_details else value
