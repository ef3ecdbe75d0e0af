"""Rows grouped by factor values: the shared first step of the intervention metrics.

Factors are encoded once (:class:`FactorLevels`); a grouping by any subset of factors
is then one pass computing mixed-radix keys and a counting sort, both in C.
"""
import numpy as np

from . import _kernels
from ._encode import FactorLevels
from ._shared import shared

# Key spaces up to this size are counting-sorted directly; larger ones are compacted first.
_MAX_DIRECT_KEYS = 1 << 24


class Grouping:
    """Rows grouped by the joint value of some factors.

    Attributes
    ----------
    offsets : ndarray (n_groups + 1,)
        Rows of group g are ``perm[offsets[g]:offsets[g + 1]]``.
    perm : ndarray (n_rows,)
    """

    def __init__(self, offsets, perm):
        self.offsets = offsets
        self.perm = perm
        self.sizes = np.diff(offsets)

    @property
    def n_groups(self):
        return len(self.sizes)

    def eligible(self):
        """(group ids with at least 2 rows, cumulative sizes) for the batch sampler."""
        groups = np.flatnonzero(self.sizes >= 2).astype(np.int64)
        cum = np.concatenate([[0], np.cumsum(self.sizes[groups])]).astype(np.int64)
        return groups, cum

    def nonempty(self):
        """The same grouping without empty groups (offsets only)."""
        keep = np.concatenate([[0], np.cumsum(self.sizes[self.sizes > 0])]).astype(np.int64)
        return Grouping(keep, self.perm)


class EncodedFactors:
    """Validated factors and their levels, ready to be grouped any number of times."""

    def __init__(self, factors, n_threads=0):
        self.factors = factors
        self.levels = FactorLevels.from_data(factors, n_threads)
        self.n_threads = n_threads
        self.kernel_input = self.levels.kernel_input(factors)

    @property
    def n_factors(self):
        return self.levels.n_factors

    @property
    def n_levels(self):
        return self.levels.n_levels

    def group_by(self, include, share=True):
        """Group rows by the joint value of the factors where ``include`` is True.

        ``share``: keep the grouping for the other metrics of an ``evaluate()`` call (N
        int64 each: only worth it for groupings that another metric asks for too)."""
        include = np.asarray(include, dtype=bool)
        if not share:
            return self._group_by(include)
        return shared("grouping", (self.factors,), (include.tobytes(),),
                      lambda: self._group_by(include))

    def _group_by(self, include):
        sizes = self.n_levels.astype(object)  # exact products, no overflow
        total = 1
        weight = np.zeros(self.n_factors, dtype=np.int64)
        for c in reversed(range(self.n_factors)):
            if include[c]:
                if total >= 2**62:
                    raise ValueError("too many combinations of factor values to group rows by; "
                                     "bin continuous factors first (fastdis.discretize)")
                weight[c] = total
                total *= int(sizes[c])
        matrix, lut, lut_offset, lut_len, vmin = self.kernel_input
        keys = _kernels.factor_keys(matrix, lut, lut_offset, lut_len, vmin, self.n_levels,
                                    weight, self.n_threads)
        if total > max(_MAX_DIRECT_KEYS, 2 * len(keys)):
            _, keys = np.unique(keys, return_inverse=True)  # compact sparse combinations
            keys = keys.astype(np.int64).ravel()
            total = int(keys.max()) + 1
        offsets, perm = _kernels.group_rows(keys, total)
        return Grouping(offsets, perm)
