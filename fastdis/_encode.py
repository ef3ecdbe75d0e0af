"""Factor encoding: the levels of each factor and how the kernels find them.

Integer factors whose values span a modest range are read in place by the
kernels through a lookup table (value - min -> level); anything else (floats,
strings, integers spread over a huge range) is encoded once to int32 level
indices with numpy, column by column.
"""
import numpy as np

from . import _kernels

# Largest total lookup-table length (entries over all factors) kept for in-place reads.
_MAX_LUT = 1 << 24
# Values 0 <= v < _SCAN_WINDOW are marked during the min/max scan itself.
_SCAN_WINDOW = 1024


class FactorLevels:
    """The sorted distinct values of each factor column.

    Parameters
    ----------
    values : list of 1-D arrays
        ``values[k]`` are the levels of factor ``k``, sorted and distinct.
    """

    def __init__(self, values):
        self.values = [np.asarray(v) for v in values]
        self.n_levels = np.array([len(v) for v in self.values], dtype=np.int64)
        self._lut = self._build_lut()

    @classmethod
    def from_data(cls, factors, n_threads=0):
        """Levels of validated factors (see ``_validation.check_factors``)."""
        if factors.dtype.kind in "iu" and not _huge_uint(factors):
            mins, maxs, marks = _kernels.int_scan(factors, _SCAN_WINDOW, n_threads)
            if (mins >= 0).all() and (maxs < _SCAN_WINDOW).all():
                # the usual case, labels 0..n-1: the scan has seen every level
                return cls([np.flatnonzero(m).astype(factors.dtype) for m in marks])
            spans = maxs - mins + 1
            if spans.sum() <= _MAX_LUT:
                offsets = np.concatenate([[0], np.cumsum(spans)[:-1]]).astype(np.int64)
                marks = np.zeros(int(spans.sum()), dtype=np.uint8)
                _kernels.mark_values(factors, mins, offsets, spans.astype(np.int64), marks, n_threads)
                values = [np.flatnonzero(marks[o:o + s]) + m
                          for o, s, m in zip(offsets, spans, mins)]
                return cls([v.astype(factors.dtype) for v in values])
        return cls([np.unique(factors[:, k]) for k in range(factors.shape[1])])

    @property
    def n_factors(self):
        return len(self.values)

    def _build_lut(self):
        """(lut, offsets, lengths, mins) for integer levels of modest span, else None."""
        if not all(v.dtype.kind in "iu" for v in self.values) or any(len(v) == 0 for v in self.values):
            return None
        mins = np.array([int(v[0]) for v in self.values], dtype=object)
        maxs = np.array([int(v[-1]) for v in self.values], dtype=object)
        spans = maxs - mins + 1
        if sum(spans) > _MAX_LUT or max(maxs) > np.iinfo(np.int64).max:
            return None
        spans = spans.astype(np.int64)
        offsets = np.concatenate([[0], np.cumsum(spans)[:-1]]).astype(np.int64)
        lut = np.full(int(spans.sum()), -1, dtype=np.int32)
        for v, o, m in zip(self.values, offsets, mins):
            lut[o + (v.astype(np.int64) - m)] = np.arange(len(v), dtype=np.int32)
        return lut, offsets, spans, mins.astype(np.int64)

    def kernel_input(self, factors):
        """(matrix, lut, lut_offset, lut_len, vmin) for the histogram kernel.

        Integer chunks are read in place when a lookup table exists; other chunks
        are encoded to int32 level indices here.  A value that is not a level maps
        to -1 and the kernel reports it.
        """
        if self._lut is not None and factors.dtype.kind in "iu" and not _huge_uint(factors):
            return (factors, *self._lut)
        codes = np.empty(factors.shape, dtype=np.int32)
        for k, levels in enumerate(self.values):
            col = factors[:, k]
            try:
                idx = np.searchsorted(levels, col)
            except TypeError as exc:
                raise TypeError(f"factors column {k} cannot be compared with its levels: {exc}") from exc
            idx = np.minimum(idx, len(levels) - 1)
            found = levels[idx] == col
            codes[:, k] = np.where(found, idx, -1)
        n = np.int64(self.n_factors)
        identity = np.arange(int(self.n_levels.max()), dtype=np.int32)
        lut = np.concatenate([identity[:m] for m in self.n_levels]).astype(np.int32)
        offsets = np.concatenate([[0], np.cumsum(self.n_levels)[:-1]]).astype(np.int64)
        # -1 (unknown) lies below vmin = 0, so the kernel flags it
        return codes, lut, offsets, self.n_levels.copy(), np.zeros(n, dtype=np.int64)


def _huge_uint(factors):
    return factors.dtype == np.uint64 and factors.size and factors.max() > np.iinfo(np.int64).max
