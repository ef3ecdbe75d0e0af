"""The one discretisation path: how code values become bin labels.

A :class:`Binning` holds, per code column, the exact bin edges and an affine
pre-transform; the C kernels apply it.  Three ways to build one:

* ``uniform``: equal-width bins over each column's [min, max] with numpy's
  ``np.histogram`` edges (disentanglement_lib's ``_histogram_discretize``), or over a
  caller-given ``code_range``;
* ``quantile``: equal-frequency bins, edges at the column's quantiles;
* ``minmax`` (private, the survey code's form): ``x * scale + min_`` as
  ``sklearn.preprocessing.minmax_scale`` computes it, then ``np.linspace(0, 1)`` edges.
"""
import numpy as np

from . import _kernels
from ._shared import shared
from ._validation import check_choice, check_codes, check_n_bins, check_n_threads

__all__ = ["discretize"]

STRATEGIES = ("uniform", "quantile")


class Binning:
    """Per-column bin edges and affine pre-transform, in the layout the kernels read."""

    def __init__(self, edges, scale, offset, uniform, check_range):
        self.edges = np.ascontiguousarray(edges, dtype=np.float64)
        n_codes = self.edges.shape[0]
        self.scale = np.ascontiguousarray(np.broadcast_to(scale, (n_codes,)), dtype=np.float64)
        self.offset = np.ascontiguousarray(np.broadcast_to(offset, (n_codes,)), dtype=np.float64)
        self.uniform = bool(uniform)
        self.check_range = bool(check_range)
        self.tol = self._tolerance() if self.uniform else np.ones(n_codes)

    @property
    def n_bins(self):
        return self.edges.shape[1] - 1

    @property
    def n_codes(self):
        return self.edges.shape[0]

    def _tolerance(self):
        """Per column, a bound (in bins) on how far the kernels' arithmetic guess of a
        value's position can be from its true position among the edges.

        Two parts: the rounding of the guess itself (a few ulps of the largest |edge|
        and of n_bins; 2^-40 leaves a margin of ~2^10), and how far the actual edges
        lie from an exact grid -- tiny for float64 ``np.linspace`` edges, much larger
        for float32 ones.  The kernels check the exact edges whenever a guess is this
        close to a boundary, and search outright when the bound reaches 1/4 bin.
        """
        nb = self.n_bins
        e0, e_last = self.edges[:, 0], self.edges[:, -1]
        with np.errstate(all="ignore"):
            inv_w = nb / (e_last - e0)
            grid = e0[:, None] + np.arange(nb + 1) * ((e_last - e0) / nb)[:, None]
            off_grid = np.abs(self.edges - grid).max(axis=1) * inv_w
            big = np.maximum(np.abs(e0), np.abs(e_last))
            tol = np.ldexp(big * inv_w + nb, -40) + 2.0 * off_grid
        return np.ascontiguousarray(np.where(np.isfinite(tol) & (inv_w > 0), tol, 1.0))

    def kernel_args(self):
        return self.edges, self.scale, self.offset, self.tol, self.uniform, self.check_range


def _linspace(lo, hi, num, dtype):
    """np.linspace(lo, hi, num) in ``dtype``, also when hi - lo overflows the dtype.

    numpy computes the step from hi - lo, which is infinite for finite values more than
    the dtype's maximum apart (codes of magnitude ~1e308, or ~1e38 in float32): every
    edge but the first becomes NaN or infinite.  Such a range is spaced at half scale
    and doubled back; halving and doubling are exact, so the edges are the ones numpy
    would give if the range fitted."""
    lo, hi = dtype.type(lo), dtype.type(hi)
    with np.errstate(over="ignore"):
        fits = bool(np.isfinite(hi - lo))
    if fits:
        return np.linspace(lo, hi, num, endpoint=True, dtype=dtype)
    two = dtype.type(2)
    edges = np.linspace(lo / two, hi / two, num, endpoint=True, dtype=dtype) * two
    edges[0], edges[-1] = lo, hi
    return edges


def _histogram_edges(lo, hi, dtype, n_bins):
    """np.histogram_bin_edges(column, n_bins) from the column's min and max, exactly
    (and equal-width edges where numpy's own would overflow, see :func:`_linspace`)."""
    lo, hi = dtype.type(lo), dtype.type(hi)
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return _linspace(lo, hi, n_bins + 1, np.result_type(lo, hi, dtype))


def _quantiles(column, lo, hi, qs):
    """np.quantile(column, qs); at half scale (exact) when the column's range overflows,
    where numpy's interpolation would compute inf - inf."""
    with np.errstate(over="ignore"):
        fits = bool(np.isfinite(hi - lo))
    if fits:
        return np.quantile(column, qs)
    return np.quantile(column * 0.5, qs) * 2.0


def minmax_affine(mins, maxs):
    """sklearn's MinMaxScaler to [0, 1]: x * scale + offset with scale = 1 / range and
    offset = -min * scale, in that floating-point form.  As in scikit-learn, a range below
    10 machine epsilons counts as 1 (the column is taken as constant: codes of range
    < 2.2e-16 are not spread over [0, 1], exactly as the survey code's minmax_scale
    leaves them; this also keeps 1 / range finite for subnormal ranges)."""
    with np.errstate(over="ignore"):
        data_range = maxs - mins
        data_range = np.where(data_range < 10 * np.finfo(np.float64).eps, 1.0, data_range)
        scale = 1.0 / data_range
    # A range beyond float64's maximum (scikit-learn's scale becomes 0 and every value
    # maps to 0): 0.5 / (the range at half scale) is the same affine map without overflow.
    wide = ~np.isfinite(data_range)
    if wide.any():
        scale = np.where(wide, 0.5 / (maxs * 0.5 - mins * 0.5), scale)
    return scale, 0.0 - mins * scale


def column_ranges(codes, n_threads):
    """Per-column (min, max) of validated codes, rejecting NaN/inf in the same pass."""
    def compute():
        return _kernels.code_minmax(codes, n_threads)

    return shared("ranges", (codes,), (), compute)


def _check_code_range(code_range, n_codes):
    rng = np.asarray(code_range, dtype=np.float64)
    if rng.shape == (2,):
        rng = np.broadcast_to(rng, (n_codes, 2))
    if rng.shape != (n_codes, 2):
        raise ValueError(f"code_range must be (low, high) or an array of shape (n_codes, 2) = "
                         f"({n_codes}, 2), got shape {rng.shape}")
    if not np.isfinite(rng).all() or not (rng[:, 0] < rng[:, 1]).all():
        raise ValueError("code_range must be finite with low < high for every code")
    return rng


def range_binning(code_range, n_codes, n_bins):
    """The :class:`Binning` of a known ``code_range``: equal-width bins, values outside it
    an error (see :func:`_linspace` for ranges beyond float64's maximum)."""
    rng = _check_code_range(code_range, n_codes)
    edges = np.stack([_linspace(lo, hi, n_bins + 1, np.dtype(np.float64)) for lo, hi in rng])
    return Binning(edges, 1.0, 0.0, uniform=True, check_range=True)


def make_binning(codes, n_bins, strategy, code_range=None, n_threads=0):
    """Build the :class:`Binning` of validated codes (see the module docstring)."""
    n_codes = codes.shape[1]
    if code_range is not None:
        if strategy != "uniform":
            raise ValueError("code_range is only used with strategy='uniform'")
        return range_binning(code_range, n_codes, n_bins)
    mins, maxs = column_ranges(codes, n_threads)
    if strategy == "quantile":
        qs = np.linspace(0.0, 1.0, n_bins + 1)
        edges = np.stack([_quantiles(codes[:, j], lo, hi, qs) for j, (lo, hi) in
                          enumerate(zip(mins, maxs))])
        return Binning(edges, 1.0, 0.0, uniform=False, check_range=False)
    return range_strategy_binning(mins, maxs, codes.dtype, n_bins, strategy)


def range_strategy_binning(mins, maxs, dtype, n_bins, strategy):
    """The :class:`Binning` of a strategy that depends on each column's (min, max) alone
    (``"uniform"`` or ``"minmax"``), for columns of ``dtype``."""
    if strategy == "uniform":
        edges = np.stack([_histogram_edges(lo, hi, dtype, n_bins)
                          for lo, hi in zip(mins, maxs)]).astype(np.float64)
        return Binning(edges, 1.0, 0.0, uniform=True, check_range=False)
    if strategy == "minmax":
        scale, offset = minmax_affine(mins, maxs)
        edges = np.tile(np.linspace(0.0, 1.0, n_bins + 1), (len(mins), 1))
        return Binning(edges, scale, offset, uniform=True, check_range=False)
    raise ValueError(f"unknown strategy {strategy!r}")


def apply_binning(codes, binning, n_threads=0):
    """Labels 0..n_bins-1 of validated codes, as a C-ordered uint8/uint16 array."""
    dtype = np.uint8 if binning.n_bins <= 256 else np.uint16
    out = np.empty(codes.shape, dtype=dtype)
    _kernels.discretize(codes, *binning.kernel_args(), out, n_threads)
    return out


def discretize(codes, n_bins=20, strategy="uniform", code_range=None, *, n_threads=None):
    """Bin each code column into integer labels, 0 to n_bins - 1.

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_codes)
        Real-valued representation.  float32 and float64 are read in place (any
        memory order); other real dtypes are converted to float64.
    n_bins : int, default=20
        Number of bins per code, 2 to 65535.
    strategy : {"uniform", "quantile"}, default="uniform"
        ``"uniform"``: equal-width bins between each column's minimum and
        maximum, with the edges of ``np.histogram(column, n_bins)`` and the maximum
        in the last bin -- disentanglement_lib's ``_histogram_discretize``, whose
        labels are these plus one.  One outlier stretches the range and can put
        nearly every other row into one bin (a near-perfect code's MIG fell from
        0.996 to 0.000 with a single outlier): use ``"quantile"`` (equal-frequency
        bins at the column's quantiles) when codes have heavy tails.
    code_range : (low, high) or array-like of shape (n_codes, 2), optional
        Known range of the codes, for ``"uniform"`` only: skips the min/max pass
        and fixes the bins independently of the data (needed when data arrive in
        chunks).  A value outside the range is an error.
    n_threads : int, optional
        Threads to use; default all available (honours ``OMP_NUM_THREADS`` and
        threadpoolctl limits).  The result does not depend on it.

    Returns
    -------
    labels : ndarray of shape (n_samples, n_codes)
        ``uint8`` when ``n_bins <= 256``, else ``uint16``.

    Raises
    ------
    ValueError
        NaN or infinity in ``codes``, a bad shape, fewer than 2 rows, ``n_bins < 2``,
        values outside ``code_range``.
    TypeError
        Complex, object or string ``codes``.

    Examples
    --------
    >>> import numpy as np, fastdis
    >>> fastdis.discretize(np.array([[0.0], [0.5], [1.0]]), n_bins=2).ravel().tolist()
    [0, 1, 1]
    """
    codes = check_codes(codes)
    n_bins = check_n_bins(n_bins)
    check_choice(strategy, "strategy", STRATEGIES)
    nt = check_n_threads(n_threads)
    binning = make_binning(codes, n_bins, strategy, code_range, nt)
    return apply_binning(codes, binning, nt)
