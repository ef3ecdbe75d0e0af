"""Rows grouped by factor values: the shared first step of the intervention metrics.

Factors are encoded once (:class:`FactorLevels`); a grouping by any subset of factors
is then one pass computing mixed-radix keys and a counting sort, both in C.
"""
import numpy as np

from . import _kernels
from ._encode import FactorLevels
from ._shared import active, shared

# Key spaces up to this size are counting-sorted directly; larger ones are compacted first.
_MAX_DIRECT_KEYS = 1 << 24
# Largest mixed-radix key space computed in one kernel pass: keys stay exact in int64.
_MAX_KEY_SPACE = 1 << 62


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

    def __init__(self, factors, n_threads=0, *, levels=None):
        self.factors = factors
        self.levels = FactorLevels.from_data(factors, n_threads) if levels is None else levels
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
        if include.sum() == 1:
            return self.group_each([int(np.flatnonzero(include)[0])], share)[0]
        if not share:
            return self._group_by(include)
        return shared("grouping", (self.factors,), (include.tobytes(),),
                      lambda: self._group_by(include))

    def group_each(self, columns, share=True):
        """Rows grouped by each factor of ``columns`` alone: a list of :class:`Grouping`,
        all computed in the same two passes over the rows (a row of factors is read once
        for all of them). The same groups as :meth:`group_by` with that factor alone.

        Inside an ``evaluate()`` call (with ``share``) every factor is grouped on the
        first request and each grouping kept for the other metrics: N int64 per factor."""
        columns = [int(c) for c in columns]
        if not (share and active()):
            return self._group_each(columns)

        def every():  # the first factor asked for: group them all in one go
            return shared("grouping of each factor", (self.factors,), (),
                          lambda: self._group_each(range(self.n_factors)))

        return [shared("grouping", (self.factors,), (_alone(c, self.n_factors).tobytes(),),
                       lambda c=c: every()[c]) for c in columns]

    def _group_each(self, columns):
        want = np.zeros(self.n_factors, dtype=np.uint8)
        want[list(columns)] = 1
        matrix, lut, lut_offset, lut_len, vmin = self.kernel_input
        offsets, perm = _kernels.group_each(matrix, lut, lut_offset, lut_len, vmin,
                                            self.n_levels, want, self.n_threads)
        index = {c: i for i, c in enumerate(np.flatnonzero(want))}
        return [Grouping(offsets[index[c]], perm[index[c]]) for c in columns]

    def _group_by(self, include):
        keys, total = self._keys(np.flatnonzero(include))
        if total > max(_MAX_DIRECT_KEYS, 2 * len(keys)):
            keys, total = _compact(keys)  # sparse combinations: number the ones that occur
        offsets, perm = _kernels.group_rows(keys, total)
        return Grouping(offsets, perm)

    def _keys(self, columns):
        """(keys, key-space size) of the rows for the factors ``columns``: keys in
        [0, size), ordered as the factors' levels are, lexicographically.

        Factors are taken in runs whose mixed-radix key space stays below _MAX_KEY_SPACE
        (exact Python-int products); the keys of consecutive runs, each numbered densely
        by the combinations that occur (at most n_rows), are then combined pairwise."""
        runs, run, space = [], [], 1
        for c in columns:
            levels = int(self.n_levels[c])
            if run and space * levels > _MAX_KEY_SPACE:
                runs.append(run)
                run, space = [], 1
            run.append(c)
            space *= levels
        runs.append(run)
        keys, total = self._mixed_radix(runs[0])
        for run in runs[1:]:
            keys, total = _compact(keys)
            more, more_total = _compact(self._mixed_radix(run)[0])
            if total * more_total <= _MAX_KEY_SPACE:
                keys, total = keys * more_total + more, total * more_total
            else:  # more than 2**31 rows: number the pairs that occur instead
                _, keys = np.unique(np.stack([keys, more], axis=1), axis=0, return_inverse=True)
                keys = keys.astype(np.int64).ravel()
                total = int(keys.max()) + 1
        return keys, total

    def _mixed_radix(self, columns):
        """Keys sum(level_c * weight_c) of one run of factors (key space <= _MAX_KEY_SPACE)."""
        weight = np.zeros(self.n_factors, dtype=np.int64)
        total = 1
        for c in reversed(columns):  # the last factor varies fastest
            weight[c] = total
            total *= int(self.n_levels[c])
        matrix, lut, lut_offset, lut_len, vmin = self.kernel_input
        keys = _kernels.factor_keys(matrix, lut, lut_offset, lut_len, vmin, self.n_levels,
                                    weight, self.n_threads)
        return keys, total


def _alone(c, n_factors):
    """The ``include`` mask of factor c alone."""
    include = np.zeros(n_factors, dtype=bool)
    include[c] = True
    return include


def _compact(keys):
    """Keys renumbered 0..m-1 in their order, m the number of distinct keys."""
    distinct, keys = np.unique(keys, return_inverse=True)
    return keys.astype(np.int64).ravel(), len(distinct)
