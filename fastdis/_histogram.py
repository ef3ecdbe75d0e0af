"""Joint histograms: contingency tables of (factor, code) pairs, accumulated over chunks."""
import numpy as np

from . import _kernels
from ._discretize import range_binning
from ._encode import FactorLevels
from ._validation import (check_codes, check_factors, check_levels, check_n_bins,
                          check_n_threads)

__all__ = ["JointHistogram"]

# Largest memory (bytes) the tables of one histogram may take, every copy included
# (see table_bytes); above it the histogram refuses to start.
_MAX_TABLE_BYTES = 2 << 30


class JointHistogram:
    """Contingency tables of every (factor, code) pair, built in one pass per chunk.

    The tables only grow: :meth:`update` adds the counts of more rows, so data
    that does not fit in memory (a memmap read block by block, a stream of
    batches) gives exactly the tables of one call on all rows.  Bins and factor
    levels are therefore fixed up front.

    Parameters
    ----------
    factor_levels : list of array-like
        The distinct values of each factor, e.g. ``[np.arange(3), np.arange(6)]``: one
        non-empty 1-D array-like per factor, at least one factor, labels as for
        ``factors`` (no missing value).  A row whose factor value is not listed is an
        error.
    code_range : array-like of shape (n_codes, 2)
        (low, high) of every code; ``n_bins`` equal-width bins cover it, the
        upper edge included.  A value outside it is an error.
    n_bins : int, default=20
        Bins per code.
    code_pairs, factor_pairs : bool, default=False
        Also count every (code, code) pair (``n_codes**2 * n_bins**2`` cells) or
        every (factor, factor) pair of levels.
    n_threads : int, optional
        Threads for :meth:`update`; the counts never depend on it.

    Attributes
    ----------
    n_samples : int
        Rows counted so far.
    counts : ndarray of shape (n_levels_total, n_codes, n_bins), int64
        ``counts[offset_k + a, j, b]`` is the number of rows with factor ``k`` at
        its level ``a`` and code ``j`` in bin ``b``; see :meth:`table`.

    Examples
    --------
    >>> import numpy as np, fastdis
    >>> h = fastdis.JointHistogram([np.arange(2)], code_range=[(0.0, 1.0)], n_bins=2)
    >>> _ = h.update(np.array([[0], [1]]), np.array([[0.1], [0.9]]))
    >>> h.table(0, 0).tolist()
    [[1, 0], [0, 1]]
    """

    def __init__(self, factor_levels, code_range, n_bins=20, *, code_pairs=False,
                 factor_pairs=False, n_threads=None):
        levels = FactorLevels(check_levels(factor_levels))
        n_bins = check_n_bins(n_bins)
        rng = np.asarray(code_range, dtype=np.float64)
        n_codes = rng.shape[0] if rng.ndim == 2 else None
        if n_codes is None:
            raise ValueError("code_range must have shape (n_codes, 2) here, so that the "
                             "number of codes is known; got shape " + str(rng.shape))
        self._init(levels, range_binning(rng, n_codes, n_bins), code_pairs, factor_pairs,
                   check_n_threads(n_threads))

    @classmethod
    def _from_parts(cls, levels, binning, code_pairs=False, factor_pairs=False, n_threads=0):
        self = cls.__new__(cls)
        self._init(levels, binning, code_pairs, factor_pairs, n_threads)
        return self

    def _init(self, levels, binning, code_pairs, factor_pairs, n_threads):
        self.levels = levels
        self.binning = binning
        self.n_threads = n_threads
        n_total = int(levels.n_levels.sum())
        d, b = binning.n_codes, binning.n_bins
        need = table_bytes([int(m) for m in levels.n_levels], d, b, code_pairs, factor_pairs,
                           n_threads)
        if need > _MAX_TABLE_BYTES:
            raise ValueError(
                f"the contingency tables would need {need} bytes ({need / 2**30:.1f} GiB, "
                f"thread-private copies included), more than the {_MAX_TABLE_BYTES >> 30} GiB "
                f"allowed: factors have {n_total} distinct values in all and codes {d} x "
                f"{b} bins{' (code pairs counted)' if code_pairs else ''}"
                f"{' (factor pairs counted)' if factor_pairs else ''}. Use fewer bins "
                "(n_bins=...); factors with this many distinct values are probably "
                "continuous: bin them first (factor_bins=..., or fastdis.discretize).")
        self.level_offsets = np.concatenate([[0], np.cumsum(levels.n_levels)]).astype(np.int64)
        self.counts = np.zeros((n_total, d, b), dtype=np.int64)
        self.code_counts = np.zeros((d, d, b, b), dtype=np.int64) if code_pairs else None
        self.factor_counts = np.zeros((n_total, n_total), dtype=np.int64) if factor_pairs else None
        self.n_samples = 0

    @property
    def n_factors(self):
        return self.levels.n_factors

    @property
    def n_codes(self):
        return self.binning.n_codes

    @property
    def n_bins(self):
        return self.binning.n_bins

    def update(self, factors, codes):
        """Add the counts of these rows.

        Parameters
        ----------
        factors : array-like of shape (n_rows, n_factors)
        codes : array-like of shape (n_rows, n_codes)

        Returns
        -------
        self
        """
        factors = check_factors(factors, min_samples=1)
        codes = check_codes(codes, min_samples=1)
        if factors.shape[0] != codes.shape[0]:
            raise ValueError(f"factors and codes must have the same number of rows: "
                             f"{factors.shape[0]} != {codes.shape[0]}")
        if factors.shape[1] != self.n_factors:
            raise ValueError(f"factors must have {self.n_factors} columns, got {factors.shape[1]}")
        if codes.shape[1] != self.n_codes:
            raise ValueError(f"codes must have {self.n_codes} columns, got {codes.shape[1]}")
        self._add(factors, codes)
        return self

    def _add(self, factors, codes, missing_level_ok=False):
        """Count the rows in; with ``missing_level_ok``, a factor value that is not one of
        the levels returns False (nothing counted) instead of raising."""
        matrix, lut, lut_offset, lut_len, vmin = self.levels.kernel_input(factors)
        # A failed update changes nothing: the first one counts straight into the (zero)
        # tables and zeroes them again on failure; later ones count into fresh tables
        # that are added on success.
        first = self.n_samples == 0
        tables = (self.counts, self.code_counts, self.factor_counts)
        if not first:
            tables = tuple(None if t is None else np.zeros_like(t) for t in tables)
        counted = False
        try:
            _kernels.joint_histogram(matrix, lut, lut_offset, lut_len, vmin, self.levels.n_levels,
                                     codes, *self.binning.kernel_args(), *tables, self.n_threads)
            counted = True
        except _kernels.UnknownLevelError:
            if missing_level_ok:
                return False
            raise
        finally:
            if first and not counted:
                for t in tables:
                    if t is not None:
                        t.fill(0)
        if not first:
            for mine, new in zip((self.counts, self.code_counts, self.factor_counts), tables):
                if mine is not None:
                    mine += new
        self.n_samples += codes.shape[0]
        return True

    def table(self, factor, code):
        """Contingency table of factor ``factor`` (rows: its levels) and code ``code`` (columns: bins)."""
        lo, hi = self.level_offsets[factor], self.level_offsets[factor + 1]
        return self.counts[lo:hi, code, :]

    def code_table(self, j, k):
        """Contingency table of codes ``j`` (rows) and ``k`` (columns); needs ``code_pairs=True``."""
        if self.code_counts is None:
            raise ValueError("code pairs were not counted: create the histogram with code_pairs=True")
        if j == k:
            return np.diag(self.counts[self.level_offsets[0]:self.level_offsets[1], j, :].sum(0))
        return self.code_counts[j, k] if j < k else self.code_counts[k, j].T

    def factor_table(self, k, m):
        """Contingency table of factors ``k`` (rows) and ``m`` (columns); needs ``factor_pairs=True``."""
        if self.factor_counts is None:
            raise ValueError("factor pairs were not counted: create the histogram with factor_pairs=True")
        if k == m:
            return np.diag(self.table(k, 0).sum(1))
        a, b = sorted((k, m))
        t = self.factor_counts[self.level_offsets[a]:self.level_offsets[a + 1],
                               self.level_offsets[b]:self.level_offsets[b + 1]]
        return t if k < m else t.T


def table_bytes(n_levels, n_codes, n_bins, code_pairs=False, factor_pairs=False, n_threads=0):
    """Bytes a histogram's tables take while rows are counted.

    The int64 tables themselves (Python ints, exact); as many again for the fresh tables
    one update counts into (a failed update changes nothing); and, per counting thread,
    the kernel's private tables, with the number of threads the kernel itself would use
    (both by csrc/histogram.c's own rule: its pairing of small factors, its cap on the
    private tables of all threads).
    """
    d, b = int(n_codes), int(n_bins)
    total = sum(n_levels)
    extra = (d * d * b * b if code_pairs else 0) + (total * total if factor_pairs else 0)
    tables = 8 * (total * d * b + extra)
    from ._config import default_threads

    private, threads = _kernels.histogram_private_bytes(
        n_levels, d, b, code_pairs, factor_pairs, int(n_threads) or default_threads())
    return 2 * tables + threads * int(private)
