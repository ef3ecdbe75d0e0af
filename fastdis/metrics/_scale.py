"""Exact power-of-two rescaling of code columns, shared by the metrics whose sums, ranges or
fits would over- or underflow on codes near the ends of the float64 range.

Dividing by a power of two changes no bit of the significand (down to subnormals), so a
formula that is invariant to a column's scale gives the value of the unscaled codes.
"""
import numpy as np

__all__ = ["column_exponents", "to_unit"]


def column_exponents(lo, hi):
    """Per column, e such that ``np.ldexp(x, -e)`` lies in [-1, 1] for lo <= x <= hi: the
    largest magnitude is m 2**e with 0.5 <= m < 1 (e = 0 for an all-zero column)."""
    big = np.maximum(np.abs(np.asarray(lo, dtype=np.float64)),
                     np.abs(np.asarray(hi, dtype=np.float64)))
    return np.frexp(big)[1]


def to_unit(x, exponents):
    """float64 ``x`` with column j divided by 2**exponents[j] (exact)."""
    return np.ldexp(np.asarray(x, dtype=np.float64), -exponents)
