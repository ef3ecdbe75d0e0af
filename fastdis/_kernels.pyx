# cython: language_level=3, boundscheck=False, wraparound=False
"""Thin Cython bindings of the C kernels in csrc/.

Python validates, Cython computes: every function here trusts its arguments
(dtypes, shapes and contiguity are checked by the callers in fastdis/) and only
turns numpy arrays into the kernels' strided descriptors, releases the GIL and
returns the kernels' status codes.
"""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t

cnp.import_array()

cdef extern from "fastdis.h" nogil:
    ctypedef struct fd_array:
        const void *data
        int64_t n_rows, n_cols, row_stride, col_stride
        int dtype
    ctypedef struct fd_binning:
        int n_bins
        const double *edges
        const double *scale
        const double *offset
        const double *tol
        int uniform
        int check_range
    ctypedef struct fd_levels:
        const int32_t *lut
        const int64_t *lut_offset
        const int64_t *lut_len
        const int64_t *vmin
        const int64_t *n_levels
    ctypedef struct fd_groups:
        const int64_t *offsets
        const int64_t *perm
        const int64_t *groups
        const int64_t *cum
        int64_t n_groups
        int by_size
        int replace
    int fd_factor_keys(const fd_array *factors, const fd_levels *levels, const int64_t *weight,
                       int64_t *keys, int64_t *err_col, int n_threads)
    int fd_group_rows(const int64_t *keys, int64_t n_rows, int64_t n_keys, int64_t *offsets,
                      int64_t *perm)
    int fd_sample_batches(const fd_array *codes, const fd_groups *groups, int mode,
                          int64_t batch_size, uint64_t seed, const int64_t *batch_ids,
                          int64_t n_batches, double *out, int n_threads)
    int fd_group_deviation(const fd_array *codes, const int64_t *offsets, const int64_t *perm,
                           int64_t n_groups, double q, double *mean, double *dev, int n_threads)
    int fd_level_deviation(const fd_array *factors, const fd_levels *levels,
                           const fd_array *codes, double *mean, double *dev, double *lo,
                           double *hi, int64_t *count, int64_t *err_col, int n_threads)
    int fd_openmp_enabled()
    int fd_max_threads()
    int fd_avx2_available()
    void fd_set_simd(int enabled)
    int fd_avx512_available()
    void fd_set_avx512(int enabled)
    void fd_set_pairing(int enabled)
    int fd_code_minmax(const fd_array *codes, double *mins, double *maxs,
                       int64_t *err_col, int n_threads)
    int fd_discretize(const fd_array *codes, const fd_binning *bins, void *out,
                      int out_itemsize, int64_t *err_col, int n_threads)
    int fd_int_scan(const fd_array *factors, int64_t *mins, int64_t *maxs,
                    uint8_t *marks, int64_t window, int n_threads)
    int fd_mark_values(const fd_array *factors, const int64_t *vmin,
                       const int64_t *mark_offset, const int64_t *mark_len,
                       uint8_t *marks, int n_threads)
    int fd_joint_histogram(const fd_array *factors, const fd_levels *levels,
                           const fd_array *codes, const fd_binning *bins,
                           int64_t *fc, int64_t *cc, int64_t *ff,
                           int64_t *err_col, int n_threads)
    int fd_gbt_fit(const float *x, const float *xs, const int32_t *order, const int32_t *y,
                   int64_t n, int64_t d, int n_classes, int n_stages, double learning_rate,
                   int max_depth, uint64_t seed, double *raw, int32_t *feature,
                   double *threshold, double *value, double *importance, int n_threads)
    int fd_gbt_predict(const float *x, int64_t m, int64_t d, int n_trees, int T, int max_depth,
                       const int32_t *feature, const double *threshold, const double *value,
                       double learning_rate, double *raw, int n_threads)

# Status codes of csrc/fastdis.h
OK = 0
ERR_NONFINITE = 1
ERR_OUT_OF_RANGE = 2
ERR_UNKNOWN_LEVEL = 3
ERR_NOMEM = 4
ERR_ARGUMENT = 5

_DTYPES = {
    np.dtype(np.int8): 0, np.dtype(np.int16): 1, np.dtype(np.int32): 2, np.dtype(np.int64): 3,
    np.dtype(np.uint8): 4, np.dtype(np.uint16): 5, np.dtype(np.uint32): 6, np.dtype(np.uint64): 7,
    np.dtype(np.float32): 8, np.dtype(np.float64): 9,
}


cdef fd_array _describe(cnp.ndarray a) except *:
    """Strided view of a 2-D aligned array whose strides are whole elements."""
    cdef fd_array out
    cdef Py_ssize_t item = a.itemsize
    out.data = cnp.PyArray_DATA(a)
    out.n_rows = a.shape[0]
    out.n_cols = a.shape[1]
    out.row_stride = a.strides[0] // item
    out.col_stride = a.strides[1] // item
    out.dtype = _DTYPES[a.dtype.newbyteorder("=")]
    return out


cdef fd_binning _binning(cnp.ndarray edges, cnp.ndarray scale, cnp.ndarray offset,
                         cnp.ndarray tol, bint uniform, bint check_range):
    cdef fd_binning b
    b.n_bins = edges.shape[1] - 1
    b.edges = <const double *>cnp.PyArray_DATA(edges)
    b.scale = <const double *>cnp.PyArray_DATA(scale)
    b.offset = <const double *>cnp.PyArray_DATA(offset)
    b.tol = <const double *>cnp.PyArray_DATA(tol)
    b.uniform = uniform
    b.check_range = check_range
    return b


cdef fd_levels _levels(cnp.ndarray lut, cnp.ndarray lut_offset, cnp.ndarray lut_len,
                       cnp.ndarray vmin, cnp.ndarray n_levels):
    cdef fd_levels lv
    lv.lut = <const int32_t *>cnp.PyArray_DATA(lut)
    lv.lut_offset = <const int64_t *>cnp.PyArray_DATA(lut_offset)
    lv.lut_len = <const int64_t *>cnp.PyArray_DATA(lut_len)
    lv.vmin = <const int64_t *>cnp.PyArray_DATA(vmin)
    lv.n_levels = <const int64_t *>cnp.PyArray_DATA(n_levels)
    return lv


def openmp_enabled():
    return bool(fd_openmp_enabled())


def max_threads():
    return fd_max_threads()


def simd_available():
    """Whether the AVX2 binning path is compiled in, enabled and supported by this CPU."""
    return bool(fd_avx2_available())


def set_simd(bint enabled):
    """Turn the SIMD binning path on or off (for tests and benchmarks)."""
    fd_set_simd(enabled)


def avx512_available():
    """Whether the SIMD binning path uses AVX-512 (eight codes at a time) on this CPU."""
    return bool(fd_avx512_available())


def set_avx512(bint enabled):
    """Allow or forbid AVX-512 in the SIMD path (tests compare it with AVX2)."""
    fd_set_avx512(enabled)


def set_pairing(bint enabled):
    """Count pairs of small factors jointly in the histogram kernel (for tests)."""
    fd_set_pairing(enabled)


def code_minmax(cnp.ndarray codes, int n_threads):
    """Per-column (mins, maxs, status, bad_column) of a float32/float64 matrix."""
    cdef fd_array a = _describe(codes)
    cdef cnp.ndarray mins = np.empty(codes.shape[1], dtype=np.float64)
    cdef cnp.ndarray maxs = np.empty(codes.shape[1], dtype=np.float64)
    cdef int64_t col = -1
    cdef int status
    with nogil:
        status = fd_code_minmax(&a, <double *>cnp.PyArray_DATA(mins),
                                <double *>cnp.PyArray_DATA(maxs), &col, n_threads)
    return mins, maxs, status, col


def discretize(cnp.ndarray codes, cnp.ndarray edges, cnp.ndarray scale, cnp.ndarray offset,
               cnp.ndarray tol, bint uniform, bint check_range, cnp.ndarray out, int n_threads):
    """Bin codes into the C-ordered uint8/uint16 matrix `out`; returns (status, column)."""
    cdef fd_array a = _describe(codes)
    cdef fd_binning b = _binning(edges, scale, offset, tol, uniform, check_range)
    cdef int64_t col = -1
    cdef int status
    cdef int itemsize = out.itemsize
    cdef void *o = cnp.PyArray_DATA(out)
    with nogil:
        status = fd_discretize(&a, &b, o, itemsize, &col, n_threads)
    return status, col


def int_scan(cnp.ndarray factors, int64_t window, int n_threads):
    """Per-column (mins, maxs, marks) of an integer matrix; marks[c, v] = 1 if v occurs, 0 <= v < window."""
    cdef fd_array a = _describe(factors)
    cdef cnp.ndarray mins = np.empty(factors.shape[1], dtype=np.int64)
    cdef cnp.ndarray maxs = np.empty(factors.shape[1], dtype=np.int64)
    cdef cnp.ndarray marks = np.empty((factors.shape[1], window), dtype=np.uint8)
    cdef int status
    with nogil:
        status = fd_int_scan(&a, <int64_t *>cnp.PyArray_DATA(mins),
                             <int64_t *>cnp.PyArray_DATA(maxs),
                             <uint8_t *>cnp.PyArray_DATA(marks), window, n_threads)
    if status != OK:
        raise MemoryError("fastdis: a kernel could not allocate its scratch memory")
    return mins, maxs, marks


def mark_values(cnp.ndarray factors, cnp.ndarray vmin, cnp.ndarray mark_offset,
                cnp.ndarray mark_len, cnp.ndarray marks, int n_threads):
    """Set marks[mark_offset[c] + v - vmin[c]] = 1 for every value v of column c."""
    cdef fd_array a = _describe(factors)
    cdef int status
    with nogil:
        status = fd_mark_values(&a, <const int64_t *>cnp.PyArray_DATA(vmin),
                                <const int64_t *>cnp.PyArray_DATA(mark_offset),
                                <const int64_t *>cnp.PyArray_DATA(mark_len),
                                <uint8_t *>cnp.PyArray_DATA(marks), n_threads)
    return status


def joint_histogram(cnp.ndarray factors, cnp.ndarray lut, cnp.ndarray lut_offset,
                    cnp.ndarray lut_len, cnp.ndarray vmin, cnp.ndarray n_levels,
                    cnp.ndarray codes, cnp.ndarray edges, cnp.ndarray scale,
                    cnp.ndarray offset, cnp.ndarray tol, bint uniform, bint check_range,
                    cnp.ndarray fc, cnp.ndarray cc, cnp.ndarray ff, int n_threads):
    """Add the joint counts of these rows into fc (and cc, ff unless None); returns (status, column)."""
    cdef fd_array fa = _describe(factors)
    cdef fd_array ca = _describe(codes)
    cdef fd_binning b = _binning(edges, scale, offset, tol, uniform, check_range)
    cdef fd_levels lv = _levels(lut, lut_offset, lut_len, vmin, n_levels)
    cdef int64_t col = -1
    cdef int status
    cdef int64_t *pfc = <int64_t *>cnp.PyArray_DATA(fc)
    cdef int64_t *pcc = NULL
    cdef int64_t *pff = NULL
    if cc is not None:
        pcc = <int64_t *>cnp.PyArray_DATA(cc)
    if ff is not None:
        pff = <int64_t *>cnp.PyArray_DATA(ff)
    with nogil:
        status = fd_joint_histogram(&fa, &lv, &ca, &b, pfc, pcc, pff, &col, n_threads)
    return status, col


BATCH_PAIR_DIFF = 0
BATCH_VARIANCE = 1
BATCH_PAIRS = 2


def factor_keys(cnp.ndarray factors, cnp.ndarray lut, cnp.ndarray lut_offset,
                cnp.ndarray lut_len, cnp.ndarray vmin, cnp.ndarray n_levels,
                cnp.ndarray weight, int n_threads):
    """Mixed-radix keys of the factor levels weighted by `weight`; returns (keys, status, column)."""
    cdef fd_array fa = _describe(factors)
    cdef fd_levels lv = _levels(lut, lut_offset, lut_len, vmin, n_levels)
    cdef cnp.ndarray keys = np.empty(factors.shape[0], dtype=np.int64)
    cdef int64_t col = -1
    cdef int status
    with nogil:
        status = fd_factor_keys(&fa, &lv, <const int64_t *>cnp.PyArray_DATA(weight),
                                <int64_t *>cnp.PyArray_DATA(keys), &col, n_threads)
    return keys, status, col


def group_rows(cnp.ndarray keys, int64_t n_keys):
    """Counting sort of rows by key: (offsets [n_keys + 1], perm [n_rows])."""
    cdef cnp.ndarray offsets = np.empty(n_keys + 1, dtype=np.int64)
    cdef cnp.ndarray perm = np.empty(keys.shape[0], dtype=np.int64)
    cdef int status
    cdef int64_t n = keys.shape[0]
    with nogil:
        status = fd_group_rows(<const int64_t *>cnp.PyArray_DATA(keys), n, n_keys,
                               <int64_t *>cnp.PyArray_DATA(offsets),
                               <int64_t *>cnp.PyArray_DATA(perm))
    if status == ERR_NOMEM:
        raise MemoryError("fastdis: out of memory while grouping rows")
    if status != OK:
        raise RuntimeError("fastdis: group key out of range; this is a bug")
    return offsets, perm


def sample_batches(cnp.ndarray codes, cnp.ndarray offsets, cnp.ndarray perm, cnp.ndarray groups,
                   cnp.ndarray cum, bint by_size, int mode, int64_t batch_size, uint64_t seed,
                   cnp.ndarray batch_ids, int n_threads, bint replace=False):
    """Draw and reduce one batch per id; returns the (n_batches, n_codes) reductions."""
    cdef fd_array ca = _describe(codes)
    cdef fd_groups g
    cdef int64_t n_batches = batch_ids.shape[0]
    cdef cnp.ndarray out = np.empty((n_batches, codes.shape[1]), dtype=np.float64)
    cdef int status
    g.offsets = <const int64_t *>cnp.PyArray_DATA(offsets)
    g.perm = <const int64_t *>cnp.PyArray_DATA(perm)
    g.groups = <const int64_t *>cnp.PyArray_DATA(groups)
    g.cum = <const int64_t *>cnp.PyArray_DATA(cum)
    g.n_groups = groups.shape[0]
    g.by_size = by_size
    g.replace = replace
    with nogil:
        status = fd_sample_batches(&ca, &g, mode, batch_size, seed,
                                   <const int64_t *>cnp.PyArray_DATA(batch_ids), n_batches,
                                   <double *>cnp.PyArray_DATA(out), n_threads)
    if status == ERR_NOMEM:
        raise MemoryError("fastdis: out of memory while sampling batches")
    if status != OK:
        raise RuntimeError("fastdis: sample_batches rejected its arguments; this is a bug")
    return out


def group_deviation(cnp.ndarray codes, cnp.ndarray offsets, cnp.ndarray perm, double q,
                    int n_threads):
    """Per group and code: (mean, q-quantile of |z - mean|)."""
    cdef fd_array ca = _describe(codes)
    cdef int64_t n_groups = offsets.shape[0] - 1
    cdef cnp.ndarray mean = np.empty((n_groups, codes.shape[1]), dtype=np.float64)
    cdef cnp.ndarray dev = np.empty((n_groups, codes.shape[1]), dtype=np.float64)
    cdef int status
    with nogil:
        status = fd_group_deviation(&ca, <const int64_t *>cnp.PyArray_DATA(offsets),
                                    <const int64_t *>cnp.PyArray_DATA(perm), n_groups, q,
                                    <double *>cnp.PyArray_DATA(mean),
                                    <double *>cnp.PyArray_DATA(dev), n_threads)
    if status != OK:
        raise MemoryError("fastdis: out of memory in group_deviation")
    return mean, dev


def level_deviation(cnp.ndarray factors, cnp.ndarray lut, cnp.ndarray lut_offset,
                    cnp.ndarray lut_len, cnp.ndarray vmin, cnp.ndarray n_levels,
                    cnp.ndarray codes, int n_threads):
    """Per level of every factor: (mean, max |z - mean|, min, max, count, status, column)."""
    cdef fd_array fa = _describe(factors)
    cdef fd_array ca = _describe(codes)
    cdef fd_levels lv = _levels(lut, lut_offset, lut_len, vmin, n_levels)
    cdef int64_t total = int(n_levels.sum())
    cdef cnp.ndarray mean = np.empty((total, codes.shape[1]), dtype=np.float64)
    cdef cnp.ndarray dev = np.empty((total, codes.shape[1]), dtype=np.float64)
    cdef cnp.ndarray lo = np.empty((total, codes.shape[1]), dtype=np.float64)
    cdef cnp.ndarray hi = np.empty((total, codes.shape[1]), dtype=np.float64)
    cdef cnp.ndarray count = np.empty(total, dtype=np.int64)
    cdef int64_t col = -1
    cdef int status
    with nogil:
        status = fd_level_deviation(&fa, &lv, &ca, <double *>cnp.PyArray_DATA(mean),
                                    <double *>cnp.PyArray_DATA(dev),
                                    <double *>cnp.PyArray_DATA(lo), <double *>cnp.PyArray_DATA(hi),
                                    <int64_t *>cnp.PyArray_DATA(count), &col, n_threads)
    return mean, dev, lo, hi, count, status, col


def gbt_fit(cnp.ndarray x, cnp.ndarray xs, cnp.ndarray order, cnp.ndarray y, int n_classes,
            int n_stages, double learning_rate, int max_depth, uint64_t seed, cnp.ndarray raw,
            int n_threads):
    """Boost n_stages stages (raw is updated in place); returns (feature, threshold, value,
    importance) of the n_stages * T trees."""
    cdef int64_t n = x.shape[0], d = x.shape[1]
    cdef int T = n_classes if n_classes > 2 else 1
    cdef int64_t S = (2 << max_depth) - 1
    cdef cnp.ndarray feature = np.empty((n_stages * T, S), dtype=np.int32)
    cdef cnp.ndarray threshold = np.zeros((n_stages * T, S), dtype=np.float64)
    cdef cnp.ndarray value = np.zeros((n_stages * T, S), dtype=np.float64)
    cdef cnp.ndarray importance = np.empty((n_stages * T, d), dtype=np.float64)
    cdef int status
    with nogil:
        status = fd_gbt_fit(<const float *>cnp.PyArray_DATA(x), <const float *>cnp.PyArray_DATA(xs),
                            <const int32_t *>cnp.PyArray_DATA(order),
                            <const int32_t *>cnp.PyArray_DATA(y), n, d, n_classes, n_stages,
                            learning_rate, max_depth, seed, <double *>cnp.PyArray_DATA(raw),
                            <int32_t *>cnp.PyArray_DATA(feature),
                            <double *>cnp.PyArray_DATA(threshold),
                            <double *>cnp.PyArray_DATA(value),
                            <double *>cnp.PyArray_DATA(importance), n_threads)
    if status == ERR_NOMEM:
        raise MemoryError("fastdis: out of memory in gbt_fit")
    if status != OK:
        raise ValueError("fastdis: invalid arguments to gbt_fit")
    return feature, threshold, value, importance


def gbt_predict(cnp.ndarray x, cnp.ndarray feature, cnp.ndarray threshold, cnp.ndarray value,
                int T, int max_depth, double learning_rate, cnp.ndarray raw, int n_threads):
    """Add learning_rate * (the trees' leaf values) to raw [m][T] in place."""
    cdef int status
    with nogil:
        status = fd_gbt_predict(<const float *>cnp.PyArray_DATA(x), x.shape[0], x.shape[1],
                                feature.shape[0], T, max_depth,
                                <const int32_t *>cnp.PyArray_DATA(feature),
                                <const double *>cnp.PyArray_DATA(threshold),
                                <const double *>cnp.PyArray_DATA(value), learning_rate,
                                <double *>cnp.PyArray_DATA(raw), n_threads)
    if status != OK:
        raise ValueError("fastdis: invalid arguments to gbt_predict")
