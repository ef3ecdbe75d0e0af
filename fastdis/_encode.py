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
            # Python ints: max - min + 1 of int64 labels can exceed int64 (2**64 - 1 at most)
            spans = [int(hi) - int(lo) + 1 for lo, hi in zip(mins, maxs)]
            if sum(spans) <= _MAX_LUT:
                return cls(_marked_levels(factors, mins, spans, n_threads))
        return cls([_unique_column(factors, k) for k in range(factors.shape[1])])

    @property
    def n_factors(self):
        return len(self.values)

    def _build_lut(self):
        """(lut, offsets, lengths, mins) for integer levels of modest span, else None."""
        if not all(v.dtype.kind in "iu" for v in self.values) or any(len(v) == 0 for v in self.values):
            return None
        mins = [int(v[0]) for v in self.values]  # Python ints: exact spans, no wrap-around
        maxs = [int(v[-1]) for v in self.values]
        spans = [hi - lo + 1 for lo, hi in zip(mins, maxs)]
        if sum(spans) > _MAX_LUT or max(maxs) > _INT64_MAX:
            return None
        spans = np.array(spans, dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(spans)[:-1]]).astype(np.int64)
        lut = np.full(int(spans.sum()), -1, dtype=np.int32)
        for v, o, m in zip(self.values, offsets, mins):
            # v - m lies in [0, span) and v, m in int64: no wrap-around
            lut[o + (v.astype(np.int64) - np.int64(m))] = np.arange(len(v), dtype=np.int32)
        return lut, offsets, spans, np.array(mins, dtype=np.int64)

    def level_indices(self, factors):
        """(n, K) int32: the index of each row's value among its factor's levels, for the
        factors these levels come from (``from_data``): one gather through the lookup
        table where there is one, else the encoding of :meth:`kernel_input`."""
        matrix, lut, lut_off, _, vmin = self.kernel_input(factors)
        out = np.empty(factors.shape, dtype=np.int32)
        for k in range(factors.shape[1]):
            if matrix is factors:  # integers read in place: value -> lookup table -> level
                pos = matrix[:, k].astype(np.int64) - vmin[k] + lut_off[k]
                out[:, k] = lut[pos]
            else:  # already encoded as level indices
                out[:, k] = matrix[:, k]
        return out

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
            codes[:, k] = _level_index(levels, factors[:, k], k)
        n = np.int64(self.n_factors)
        identity = np.arange(int(self.n_levels.max()), dtype=np.int32)
        lut = np.concatenate([identity[:m] for m in self.n_levels]).astype(np.int32)
        offsets = np.concatenate([[0], np.cumsum(self.n_levels)[:-1]]).astype(np.int64)
        # -1 (unknown) lies below vmin = 0, so the kernel flags it
        return codes, lut, offsets, self.n_levels.copy(), np.zeros(n, dtype=np.int64)


def _level_index(levels, col, k):
    """Index of each value of col among the sorted levels, -1 where it is not a level."""
    if (levels.dtype.kind in "iu" and col.dtype.kind in "iu"
            and np.result_type(levels, col).kind == "f"):
        return _level_index_unsigned(levels, col, k)
    if not len(levels):
        return np.full(len(col), -1, dtype=np.int64)
    try:
        idx = np.searchsorted(levels, col)
    except TypeError as exc:
        raise TypeError(f"factors column {k} cannot be compared with its levels: {exc}") from exc
    idx = np.minimum(idx, len(levels) - 1)
    return np.where(levels[idx] == col, idx, -1)


def _level_index_unsigned(levels, col, k):
    """_level_index for int64 against uint64, which numpy compares as float64 (where
    neighbouring labels tie): compare as uint64 instead; a negative value is never a
    uint64 level, a negative level never a uint64 value."""
    if levels.dtype.kind == "i":
        first = int(np.searchsorted(levels, 0))
        idx = _level_index(levels[first:].astype(np.uint64), col, k)
        return np.where(idx >= 0, idx + first, -1)
    negative = col < 0
    idx = _level_index(levels, np.where(negative, 0, col).astype(np.uint64), k)
    return np.where(negative, -1, idx)


def _marked_levels(factors, mins, spans, n_threads):
    """The levels of integer columns whose values span ``spans`` (total <= _MAX_LUT) from
    ``mins``: one marking pass over the rows."""
    offsets = np.concatenate([[0], np.cumsum(spans)[:-1]]).astype(np.int64)
    lengths = np.array(spans, dtype=np.int64)
    marks = np.zeros(int(lengths.sum()), dtype=np.uint8)
    # the binding raises if a value lies outside its column's span (it cannot: the scan
    # just found [min, max], unless another thread changed the factors meanwhile)
    _kernels.mark_values(factors, mins, offsets, lengths, marks, n_threads)
    return [(np.flatnonzero(marks[o:o + s]) + m).astype(factors.dtype)
            for o, s, m in zip(offsets, lengths, mins)]


def _unique_column(factors, k, return_counts=False):
    """Sorted distinct values of factor column k (and their counts), naming the column
    when its values cannot be ordered."""
    try:
        return np.unique(factors[:, k], return_counts=return_counts)
    except TypeError as exc:  # object columns whose values cannot be ordered
        raise TypeError(f"factors column {k} holds labels that cannot be compared with each "
                        f"other ({exc}); use labels of one kind per column") from exc


_INT64_MAX = int(np.iinfo(np.int64).max)


def _huge_uint(factors):
    """True for uint64 factors holding a value above int64's maximum (the kernels read int64)."""
    return bool(factors.dtype == np.uint64 and factors.size and factors.max() > _INT64_MAX)
