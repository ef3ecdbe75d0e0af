# cython: language_level=3, boundscheck=False, wraparound=False
"""Thin Cython bindings of the C kernels in csrc/.

Python validates user input (fastdis/_validation.py); these bindings guard the C
boundary: every array argument is checked for type, dtype (native byte order),
dimensions, shape against the others, alignment and contiguity before its pointer
reaches C, so that a mistake in the Python layer raises TypeError/ValueError instead of
corrupting memory.  Every kernel status is raised here (the messages of
fastdis._validation.raise_kernel_error), so no caller can drop one.  Long kernels run in
chunks of rows (or batches, or groups) with the GIL released, and check for Ctrl-C
between chunks; the chunks are cut where the result cannot change (tests compare).
"""
import numpy as np
cimport numpy as cnp
from cpython.exc cimport PyErr_CheckSignals
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t, INT64_MAX
from libc.stdlib cimport malloc, free

from ._validation import raise_kernel_error

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
        int64_t lut_size
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
    int fd_sample_batches_sets(const fd_array *codes, const fd_groups *sets, int64_t n_sets,
                               const int64_t *set_of, int mode, int64_t batch_size,
                               uint64_t seed, const int64_t *batch_ids, int64_t n_batches,
                               double *out, int n_threads)
    int64_t fd_level_chunk(int64_t n_rows, int64_t n_level_total, int64_t n_codes)
    int fd_level_sums(const fd_array *factors, const fd_levels *levels, const fd_array *codes,
                      int64_t chunk, double *total, double *lo, double *hi, int64_t *count,
                      int64_t *err_col, int n_threads)
    void fd_level_finish(int64_t n_level_total, int64_t n_codes, const int64_t *count,
                         double *mean, double *dev, const double *lo, const double *hi)
    int fd_openmp_enabled()
    int fd_max_threads()
    int fd_cap_threads(int n_threads)
    int fd_avx2_available()
    void fd_set_simd(int enabled)
    int fd_avx512_available()
    void fd_set_avx512(int enabled)
    void fd_set_pairing(int enabled)
    double fd_histogram_private_bytes(const int64_t *n_levels, int64_t k, int64_t d,
                                      int64_t nb, int code_pairs, int factor_pairs)
    int fd_histogram_threads(int n_threads, double private_bytes)
    int fd_code_minmax(const fd_array *codes, double *mins, double *maxs,
                       int64_t *err_col, int n_threads)
    int fd_discretize(const fd_array *codes, const fd_binning *bins, void *out,
                      int out_itemsize, int64_t *err_col, int n_threads)
    int fd_int_scan(const fd_array *factors, int64_t *mins, int64_t *maxs,
                    uint8_t *marks, int64_t window, int n_threads)
    int fd_mark_values(const fd_array *factors, const int64_t *vmin,
                       const int64_t *mark_offset, const int64_t *mark_len,
                       uint8_t *marks, int64_t n_marks, int64_t *err_col, int n_threads)
    int fd_joint_histogram(const fd_array *factors, const fd_levels *levels,
                           const fd_array *codes, const fd_binning *bins,
                           int64_t *fc, int64_t *cc, int64_t *ff,
                           int64_t *err_col, int n_threads)
    ctypedef struct fd_gbt_model:
        const int32_t *y
        int n_classes
        uint64_t seed
        double *raw
        int32_t *feature
        double *threshold
        double *value
        double *importance
    int fd_gbt_fit(const float *xs, const int32_t *order, int64_t n, int64_t d,
                   fd_gbt_model *models, int n_models, int first_stage, int n_stages,
                   double learning_rate, int max_depth, int n_threads)
    int fd_forest_fit(const float *xs, const int32_t *order, const double *y, int64_t n,
                      int64_t d, int n_trees, int max_features, int max_depth, int bootstrap,
                      uint64_t seed, int32_t *feature, double *threshold, int32_t *left,
                      int32_t *right, double *value, int64_t *n_nodes, double *importance,
                      int n_threads)
    int fd_forest_predict(const float *x, int64_t m, int64_t d, int n_trees, int64_t cap,
                          const int32_t *feature, const double *threshold, const int32_t *left,
                          const int32_t *right, const double *value, const int32_t *depths,
                          int n_depths, double *out, int n_threads)
    int fd_gbt_predict(const float *x, int64_t m, int64_t d, int n_trees, int T, int max_depth,
                       const int32_t *feature, const double *threshold, const double *value,
                       double learning_rate, double *raw, int n_threads)
    int fd_level_counts(const fd_array *factors, const fd_levels *levels, const uint8_t *want,
                        const int64_t *level_off, int64_t n_total, int wide, void *codes,
                        int64_t *counts, int64_t *err_col, int n_threads)
    int fd_group_scatter(const void *codes, int wide, int64_t n, int64_t n_wanted,
                         const int64_t *level_off, const int64_t *n_levels, int64_t n_total,
                         int64_t row0, int64_t *next, int64_t *const *perm, int64_t perm_len,
                         int n_threads)

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
cdef int64_t[10] _ITEMSIZE = [1, 2, 4, 8, 1, 2, 4, 8, 4, 8]

# Kinds of the 2-D data arrays each kernel reads.
_INTS = "iu"
_FLOATS = "f"

# Elements (rows x columns) a kernel handles between two checks for Ctrl-C: a few tens of
# milliseconds of work on one core, so that KeyboardInterrupt arrives well within 1 s.
cdef int64_t _chunk_cells = 1 << 24


class UnknownLevelError(ValueError):
    """A factor value that is not one of the levels given (the kernels' ERR_UNKNOWN_LEVEL)."""


def set_chunk_cells(int64_t cells):
    """Elements per chunk between checks for Ctrl-C (tests shrink it to compare chunked
    calls with whole ones); returns the previous value."""
    global _chunk_cells
    if cells < 1:
        raise ValueError(f"cells must be >= 1, got {cells}")
    previous = _chunk_cells
    _chunk_cells = cells
    return previous


cdef int _raise(int status, int64_t col, int64_t n_codes, what="codes") except -1:
    """Raise the user-facing exception of a kernel status (see raise_kernel_error)."""
    if status == OK:
        return 0
    try:
        raise_kernel_error(status, col, n_codes, what)
    except ValueError as exc:
        if status == ERR_UNKNOWN_LEVEL:
            raise UnknownLevelError(str(exc)) from None
        raise
    raise RuntimeError(f"fastdis: kernel status {status} was not raised; this is a bug")


cdef inline void _keep_first(int *err, int64_t *col, int e, int64_t c) noexcept:
    """The kernels' order of errors: lowest column first, then lowest status."""
    if e and (not err[0] or c < col[0] or (c == col[0] and e < err[0])):
        err[0] = e
        col[0] = c


cdef int64_t _rows_per_chunk(int64_t n_cols, int64_t at_least=1):
    """Rows per chunk for a kernel reading n_cols elements a row: a multiple of 256 (the
    kernels' block of rows), so that a chunk boundary is also a block boundary."""
    cdef int64_t rows = _chunk_cells // (n_cols if n_cols > 0 else 1)
    if rows < at_least:
        rows = at_least
    return ((rows + 255) // 256) * 256


cdef object _array(object a, str name):
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(a).__name__}")
    return a


cdef fd_array _describe(object a, str name, str kinds) except *:
    """Strided view of a 2-D aligned array of one of the kernels' dtypes (kinds: "iu" or "f")
    whose strides are whole elements."""
    cdef fd_array out
    cdef Py_ssize_t item
    _array(a, name)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array, got {a.ndim}-D")
    dt = a.dtype
    if dt.kind not in kinds or not dt.isnative or dt not in _DTYPES:
        allowed = "an integer" if kinds == _INTS else "a float32 or float64"
        raise TypeError(f"{name} must have {allowed} dtype in native byte order, got {dt}")
    item = dt.itemsize
    if (not a.flags.aligned or a.strides[0] % item != 0 or a.strides[1] % item != 0):
        raise ValueError(f"{name} must be aligned with strides that are whole elements, "
                         f"got strides {a.strides} for itemsize {item}")
    out.data = cnp.PyArray_DATA(<cnp.ndarray>a)
    out.n_rows = a.shape[0]
    out.n_cols = a.shape[1]
    out.row_stride = a.strides[0] // item
    out.col_stride = a.strides[1] // item
    out.dtype = _DTYPES[dt]
    return out


cdef int _check_pair(const fd_array *fa, const fd_array *ca) except -1:
    """factors and codes of the same rows, at least one column each."""
    if fa.n_rows != ca.n_rows:
        raise ValueError(f"factors and codes must have the same number of rows, got "
                         f"{fa.n_rows} and {ca.n_rows}")
    if fa.n_cols < 1 or ca.n_cols < 1:
        raise ValueError("factors and codes need at least one column each")
    return 0


cdef inline fd_array _rows(fd_array a, int64_t r0, int64_t nr) noexcept nogil:
    """Rows r0 .. r0 + nr - 1 of a."""
    cdef fd_array out = a
    out.data = <const char *>a.data + r0 * a.row_stride * _ITEMSIZE[a.dtype]
    out.n_rows = nr
    return out


cdef inline fd_array _cols(fd_array a, int64_t c0, int64_t nc) noexcept nogil:
    """Columns c0 .. c0 + nc - 1 of a."""
    cdef fd_array out = a
    out.data = <const char *>a.data + c0 * a.col_stride * _ITEMSIZE[a.dtype]
    out.n_cols = nc
    return out


cdef void *_data(object a, str name, object dtype, tuple shape, bint writable=False) except? NULL:
    """Pointer to a C-contiguous array of exactly this dtype and shape (-1: any length)."""
    _array(a, name)
    if a.dtype != dtype or not a.dtype.isnative:
        raise TypeError(f"{name} must have dtype {np.dtype(dtype)} in native byte order, "
                        f"got {a.dtype}")
    if a.ndim != len(shape) or any(want >= 0 and got != want for got, want in zip(a.shape, shape)):
        want = tuple("any" if w < 0 else w for w in shape)
        raise ValueError(f"{name} must have shape {want}, got {a.shape}")
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous")
    if writable and not a.flags.writeable:
        raise ValueError(f"{name} must be writable")
    return cnp.PyArray_DATA(<cnp.ndarray>a)


cdef int _binning(fd_binning *b, object edges, object scale, object offset, object tol,
                  bint uniform, bint check_range, int64_t n_codes) except -1:
    _array(edges, "edges")
    if edges.ndim != 2 or edges.shape[0] != n_codes or not 2 <= edges.shape[1] <= 65537:
        raise ValueError(f"edges must have shape ({n_codes}, n_bins + 1) with 1 <= n_bins <= "
                         f"65536, got {edges.shape}")
    b.n_bins = edges.shape[1] - 1
    b.edges = <const double *>_data(edges, "edges", np.float64, (n_codes, -1))
    b.scale = <const double *>_data(scale, "scale", np.float64, (n_codes,))
    b.offset = <const double *>_data(offset, "offset", np.float64, (n_codes,))
    b.tol = <const double *>_data(tol, "tol", np.float64, (n_codes,))
    b.uniform = uniform
    b.check_range = check_range
    return 0


cdef int _levels(fd_levels *lv, object lut, object lut_offset, object lut_len, object vmin,
                 object n_levels, int64_t k) except -1:
    """Level tables of k factors; every table must lie inside lut and hold values that fit
    in int64 (the kernels check the same, and map stray entries to "no level")."""
    lv.lut = <const int32_t *>_data(lut, "lut", np.int32, (-1,))
    lv.lut_size = lut.shape[0]
    lv.lut_offset = <const int64_t *>_data(lut_offset, "lut_offset", np.int64, (k,))
    lv.lut_len = <const int64_t *>_data(lut_len, "lut_len", np.int64, (k,))
    lv.vmin = <const int64_t *>_data(vmin, "vmin", np.int64, (k,))
    lv.n_levels = <const int64_t *>_data(n_levels, "n_levels", np.int64, (k,))
    _check_spans(lut_offset, lut_len, vmin, lut.shape[0], "lut")
    if (n_levels < 0).any() or (n_levels > np.iinfo(np.int32).max).any():
        raise ValueError("n_levels must lie in [0, 2**31 - 1]")
    return 0


cdef int _check_spans(object offset, object length, object vmin, int64_t size, str table) except -1:
    """offset[c] .. offset[c] + length[c] inside a table of `size` entries, and the values
    vmin[c] .. vmin[c] + length[c] - 1 representable in int64 (exact Python integers)."""
    for c in range(offset.shape[0]):
        o, n, v = int(offset[c]), int(length[c]), int(vmin[c])
        if o < 0 or n < 0 or o + n > size:
            raise ValueError(f"{table} span of column {c} ({o}, length {n}) lies outside "
                             f"its {size} entries")
        if n and v + n - 1 > INT64_MAX:
            raise ValueError(f"{table} span of column {c} (from {v}, length {n}) overflows int64")
    return 0


def openmp_enabled():
    return bool(fd_openmp_enabled())


def max_threads():
    """Threads a kernel uses for n_threads <= 0: OpenMP's limit capped by the processors."""
    return fd_max_threads()


def cap_threads(int n_threads):
    """The threads a kernel asks OpenMP for when given n_threads (<= 0: max_threads())."""
    return fd_cap_threads(n_threads)


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


def histogram_private_bytes(n_levels, int64_t n_codes, int64_t n_bins, bint code_pairs,
                            bint factor_pairs, int n_threads):
    """(bytes of one counting thread's private tables, threads the counting pass uses) in
    joint_histogram for factors with these level counts: the kernel's own rule."""
    levels = np.ascontiguousarray(n_levels, dtype=np.int64)
    if levels.ndim != 1 or len(levels) < 1 or (levels < 1).any() or n_codes < 1 or n_bins < 1:
        raise ValueError("histogram_private_bytes needs level counts >= 1 and n_codes, "
                         "n_bins >= 1")
    cdef const int64_t *pl = <const int64_t *>cnp.PyArray_DATA(levels)
    cdef double private = fd_histogram_private_bytes(pl, len(levels), n_codes, n_bins,
                                                     code_pairs, factor_pairs)
    return private, fd_histogram_threads(n_threads, private)


def set_pairing(bint enabled):
    """Count pairs of small factors jointly in the histogram kernel (for tests)."""
    fd_set_pairing(enabled)


def code_minmax(codes, int n_threads):
    """Per-column (mins, maxs) of a float32/float64 matrix; NaN/inf raise ValueError."""
    cdef fd_array a = _describe(codes, "codes", _FLOATS), part
    cdef int64_t n = a.n_rows, d = a.n_cols, step = _rows_per_chunk(a.n_cols), r0, col = -1
    cdef int status, err = 0
    cdef int64_t err_col = 0
    mins = np.full(d, np.inf)
    maxs = np.full(d, -np.inf)
    part_lo = np.empty(d)
    part_hi = np.empty(d)
    cdef double *plo = <double *>cnp.PyArray_DATA(part_lo)
    cdef double *phi = <double *>cnp.PyArray_DATA(part_hi)
    for r0 in range(0, n, step):
        part = _rows(a, r0, min(step, n - r0))
        with nogil:
            status = fd_code_minmax(&part, plo, phi, &col, n_threads)
        if status == ERR_NOMEM or status == ERR_ARGUMENT:
            _raise(status, col, d)
        _keep_first(&err, &err_col, status, col)
        np.minimum(mins, part_lo, out=mins)
        np.maximum(maxs, part_hi, out=maxs)
        PyErr_CheckSignals()
    _raise(err, err_col, d)
    return mins, maxs


def discretize(codes, edges, scale, offset, tol, bint uniform, bint check_range, out,
               int n_threads):
    """Bin codes into the C-ordered uint8/uint16 matrix `out` (n_rows, n_codes)."""
    cdef fd_array a = _describe(codes, "codes", _FLOATS), part
    cdef fd_binning b
    _binning(&b, edges, scale, offset, tol, uniform, check_range, a.n_cols)
    _array(out, "out")
    if out.dtype not in (np.uint8, np.uint16) or (out.dtype == np.uint8 and b.n_bins > 256):
        raise TypeError(f"out must be uint8 (up to 256 bins) or uint16, got {out.dtype} for "
                        f"{b.n_bins} bins")
    cdef char *o = <char *>_data(out, "out", out.dtype, (a.n_rows, a.n_cols), True)
    cdef int itemsize = out.itemsize
    cdef int64_t n = a.n_rows, step = _rows_per_chunk(a.n_cols), r0, col = -1, err_col = 0
    cdef int status, err = 0
    for r0 in range(0, n, step):
        part = _rows(a, r0, min(step, n - r0))
        with nogil:
            status = fd_discretize(&part, &b, o + r0 * a.n_cols * itemsize, itemsize, &col,
                                   n_threads)
        if status == ERR_NOMEM or status == ERR_ARGUMENT:
            _raise(status, col, a.n_cols)
        _keep_first(&err, &err_col, status, col)
        PyErr_CheckSignals()
    _raise(err, err_col, a.n_cols)


def int_scan(factors, int64_t window, int n_threads):
    """Per-column (mins, maxs, marks) of an integer matrix; marks[c, v] = 1 if v occurs, 0 <= v < window."""
    cdef fd_array a = _describe(factors, "factors", _INTS), part
    if not 0 <= window <= 1 << 20:
        raise ValueError(f"window must be in [0, 2**20], got {window}")
    cdef int64_t k = a.n_cols, n = a.n_rows, step = _rows_per_chunk(a.n_cols), r0
    mins = np.full(k, np.iinfo(np.int64).max, dtype=np.int64)
    maxs = np.full(k, np.iinfo(np.int64).min, dtype=np.int64)
    marks = np.zeros((k, window), dtype=np.uint8)
    part_lo = np.empty(k, dtype=np.int64)
    part_hi = np.empty(k, dtype=np.int64)
    part_marks = np.empty((k, window), dtype=np.uint8)
    cdef int64_t *plo = <int64_t *>cnp.PyArray_DATA(part_lo)
    cdef int64_t *phi = <int64_t *>cnp.PyArray_DATA(part_hi)
    cdef uint8_t *pmk = <uint8_t *>cnp.PyArray_DATA(part_marks)
    cdef int status
    for r0 in range(0, n, step):
        part = _rows(a, r0, min(step, n - r0))
        with nogil:
            status = fd_int_scan(&part, plo, phi, pmk, window, n_threads)
        _raise(status, -1, 0)
        np.minimum(mins, part_lo, out=mins)
        np.maximum(maxs, part_hi, out=maxs)
        np.bitwise_or(marks, part_marks, out=marks)
        PyErr_CheckSignals()
    return mins, maxs, marks


def mark_values(factors, vmin, mark_offset, mark_len, marks, int n_threads):
    """Set marks[mark_offset[c] + v - vmin[c]] = 1 for every value v of column c; a value
    outside its span raises UnknownLevelError naming the column."""
    cdef fd_array a = _describe(factors, "factors", _INTS), part
    cdef int64_t k = a.n_cols, n = a.n_rows, step = _rows_per_chunk(a.n_cols), r0, col = -1
    cdef const int64_t *pv = <const int64_t *>_data(vmin, "vmin", np.int64, (k,))
    cdef const int64_t *po = <const int64_t *>_data(mark_offset, "mark_offset", np.int64, (k,))
    cdef const int64_t *pl = <const int64_t *>_data(mark_len, "mark_len", np.int64, (k,))
    cdef uint8_t *pm = <uint8_t *>_data(marks, "marks", np.uint8, (-1,), True)
    cdef int64_t n_marks = marks.shape[0]
    cdef int status
    _check_spans(mark_offset, mark_len, vmin, marks.shape[0], "marks")
    for r0 in range(0, n, step):
        part = _rows(a, r0, min(step, n - r0))
        with nogil:
            status = fd_mark_values(&part, pv, po, pl, pm, n_marks, &col, n_threads)
        _raise(status, col, 0)
        PyErr_CheckSignals()


def joint_histogram(factors, lut, lut_offset, lut_len, vmin, n_levels, codes, edges, scale,
                    offset, tol, bint uniform, bint check_range, fc, cc, ff, int n_threads):
    """Add the joint counts of these rows into fc (and cc, ff unless None).

    A value outside code_range or non-finite raises ValueError, a factor value without a
    level UnknownLevelError (a ValueError); the tables may then hold part of the counts.
    """
    cdef fd_array fa = _describe(factors, "factors", _INTS)
    cdef fd_array ca = _describe(codes, "codes", _FLOATS)
    cdef fd_array fpart, cpart
    cdef fd_binning b
    cdef fd_levels lv
    _check_pair(&fa, &ca)
    _binning(&b, edges, scale, offset, tol, uniform, check_range, ca.n_cols)
    _levels(&lv, lut, lut_offset, lut_len, vmin, n_levels, fa.n_cols)
    cdef int64_t L = int(n_levels.sum()), d = ca.n_cols, nb = b.n_bins
    cdef int64_t *pfc = <int64_t *>_data(fc, "fc", np.int64, (L, d, nb), True)
    cdef int64_t *pcc = NULL
    cdef int64_t *pff = NULL
    if cc is not None:
        pcc = <int64_t *>_data(cc, "cc", np.int64, (d, d, nb, nb), True)
    if ff is not None:
        pff = <int64_t *>_data(ff, "ff", np.int64, (L, L), True)
    # a chunk also spans at least as many rows as the tables have cells per code: the
    # kernel adds its private tables into the caller's once per call
    cdef int64_t cells = fc.size + (cc.size if cc is not None else 0) + (ff.size if ff is not None else 0)
    cdef int64_t n = ca.n_rows, step = _rows_per_chunk(fa.n_cols + d, cells // d), r0
    cdef int64_t col = -1, err_col = 0
    cdef int status, err = 0
    for r0 in range(0, n, step):
        fpart = _rows(fa, r0, min(step, n - r0))
        cpart = _rows(ca, r0, min(step, n - r0))
        with nogil:
            status = fd_joint_histogram(&fpart, &lv, &cpart, &b, pfc, pcc, pff, &col, n_threads)
        if status == ERR_NOMEM or status == ERR_ARGUMENT:
            _raise(status, col, d)
        _keep_first(&err, &err_col, status, col)
        PyErr_CheckSignals()
    _raise(err, err_col, d)


BATCH_PAIR_DIFF = 0
BATCH_VARIANCE = 1
BATCH_PAIRS = 2


def factor_keys(factors, lut, lut_offset, lut_len, vmin, n_levels, weight, int n_threads):
    """Mixed-radix keys sum_c level_c * weight[c] of every row (int64); a factor value
    without a level raises UnknownLevelError naming the column."""
    cdef fd_array fa = _describe(factors, "factors", _INTS), part
    cdef fd_levels lv
    cdef int64_t k = fa.n_cols
    _levels(&lv, lut, lut_offset, lut_len, vmin, n_levels, k)
    cdef const int64_t *pw = <const int64_t *>_data(weight, "weight", np.int64, (k,))
    # the largest key must fit in int64 (exact Python integers)
    top = sum(max(int(n_levels[c]) - 1, 0) * int(weight[c]) for c in range(k))
    if (weight < 0).any() or top > INT64_MAX:
        raise ValueError(f"weight must be non-negative with keys below 2**63, got a largest "
                         f"key of {top}")
    keys = np.empty(fa.n_rows, dtype=np.int64)
    cdef int64_t *pk = <int64_t *>cnp.PyArray_DATA(keys)
    cdef int64_t n = fa.n_rows, step = _rows_per_chunk(k), r0, col = -1, err_col = 0
    cdef int status, err = 0
    for r0 in range(0, n, step):
        part = _rows(fa, r0, min(step, n - r0))
        with nogil:
            status = fd_factor_keys(&part, &lv, pw, pk + r0, &col, n_threads)
        if status == ERR_ARGUMENT:
            _raise(status, col, 0)
        _keep_first(&err, &err_col, status, col)
        PyErr_CheckSignals()
    _raise(err, err_col, 0)
    return keys


def group_rows(keys, int64_t n_keys):
    """Counting sort of rows by key: (offsets [n_keys + 1], perm [n_rows])."""
    cdef const int64_t *pk = <const int64_t *>_data(keys, "keys", np.int64, (-1,))
    if n_keys < 0:
        raise ValueError(f"n_keys must be >= 0, got {n_keys}")
    offsets = np.empty(n_keys + 1, dtype=np.int64)
    perm = np.empty(keys.shape[0], dtype=np.int64)
    cdef int status
    cdef int64_t n = keys.shape[0]
    cdef int64_t *po = <int64_t *>cnp.PyArray_DATA(offsets)
    cdef int64_t *pp = <int64_t *>cnp.PyArray_DATA(perm)
    with nogil:
        status = fd_group_rows(pk, n, n_keys, po, pp)
    if status == ERR_NOMEM:
        raise MemoryError("fastdis: out of memory while grouping rows")
    if status != OK:
        raise ValueError(f"keys must lie in [0, n_keys = {n_keys})")
    return offsets, perm


def sample_batches(codes, offsets, perm, groups, cum, bint by_size, int mode, int64_t batch_size,
                   uint64_t seed, batch_ids, int n_threads, bint replace=False):
    """Draw and reduce one batch per id; returns the (n_batches, n_codes) reductions."""
    return sample_batches_sets(codes, [(offsets, perm, groups, cum)], None, by_size, mode,
                               batch_size, seed, batch_ids, n_threads, replace)


def group_deviation(codes, offsets, perm, double q, int n_threads):
    """Per group and code: (mean, q-quantile of |z - mean|; q >= 1: the maximum)."""
    cdef fd_array ca = _describe(codes, "codes", _FLOATS)
    if not q >= 0.0:
        raise ValueError(f"q must be >= 0, got {q}")
    cdef const int64_t *po = <const int64_t *>_data(offsets, "offsets", np.int64, (-1,))
    cdef const int64_t *pp = <const int64_t *>_data(perm, "perm", np.int64, (ca.n_rows,))
    if offsets.shape[0] < 1:
        raise ValueError("offsets must hold at least one entry")
    cdef int64_t n_groups = offsets.shape[0] - 1, d = ca.n_cols
    mean = np.empty((n_groups, d), dtype=np.float64)
    dev = np.empty((n_groups, d), dtype=np.float64)
    cdef double *pm = <double *>cnp.PyArray_DATA(mean)
    cdef double *pd = <double *>cnp.PyArray_DATA(dev)
    # groups in chunks of about _chunk_cells elements; one group is never split
    sizes = np.diff(offsets)
    ends = np.searchsorted(np.cumsum(sizes * d), np.arange(1, sizes.sum() * d // _chunk_cells + 1)
                           * _chunk_cells, side="right")
    bounds = np.unique(np.concatenate([[0], np.minimum(ends + 1, n_groups), [n_groups]]))
    cdef int64_t g0, g1, j0, step
    cdef fd_array part
    for i in range(len(bounds) - 1):
        g0, g1 = bounds[i], bounds[i + 1]
        if (offsets[g1] - offsets[g0]) * d <= _chunk_cells or d == 1:
            _group_deviation_part(&ca, po + g0, pp, g1 - g0, q, pm + g0 * d, pd + g0 * d,
                                  n_threads)
            continue
        # a group too large for one chunk: one code at a time, so Ctrl-C is still answered
        part_mean = np.empty(g1 - g0, dtype=np.float64)
        part_dev = np.empty(g1 - g0, dtype=np.float64)
        for j0 in range(d):
            part = _cols(ca, j0, 1)
            _group_deviation_part(&part, po + g0, pp, g1 - g0, q,
                                  <double *>cnp.PyArray_DATA(part_mean),
                                  <double *>cnp.PyArray_DATA(part_dev), n_threads)
            mean[g0:g1, j0] = part_mean
            dev[g0:g1, j0] = part_dev
    return mean, dev


cdef int _group_deviation_part(const fd_array *codes, const int64_t *offsets,
                               const int64_t *perm, int64_t n_groups, double q, double *mean,
                               double *dev, int n_threads) except -1:
    """One call of fd_group_deviation, its status raised, then a check for Ctrl-C."""
    cdef int status
    with nogil:
        status = fd_group_deviation(codes, offsets, perm, n_groups, q, mean, dev, n_threads)
    if status == ERR_NOMEM:
        raise MemoryError("fastdis: out of memory in group_deviation")
    if status != OK:
        raise ValueError("offsets must be non-decreasing within [0, n_rows] and perm must "
                         "hold rows of codes")
    PyErr_CheckSignals()
    return 0


def level_deviation(factors, lut, lut_offset, lut_len, vmin, n_levels, codes, int n_threads):
    """Per level of every factor: (mean, max |z - mean|, min, max, count); a factor value
    without a level raises UnknownLevelError naming the column."""
    cdef fd_array fa = _describe(factors, "factors", _INTS)
    cdef fd_array ca = _describe(codes, "codes", _FLOATS)
    cdef fd_array fpart, cpart
    cdef fd_levels lv
    _check_pair(&fa, &ca)
    _levels(&lv, lut, lut_offset, lut_len, vmin, n_levels, fa.n_cols)
    cdef int64_t total = int(n_levels.sum()), d = ca.n_cols, n = ca.n_rows, k = fa.n_cols
    mean = np.zeros((total, d), dtype=np.float64)  # the running totals, then the means
    dev = np.empty((total, d), dtype=np.float64)
    lo = np.full((total, d), np.inf)
    hi = np.full((total, d), -np.inf)
    count = np.zeros(total, dtype=np.int64)
    cdef double *pm = <double *>cnp.PyArray_DATA(mean)
    cdef double *pd = <double *>cnp.PyArray_DATA(dev)
    cdef double *plo = <double *>cnp.PyArray_DATA(lo)
    cdef double *phi = <double *>cnp.PyArray_DATA(hi)
    cdef int64_t *pc = <int64_t *>cnp.PyArray_DATA(count)
    # calls start at multiples of the kernel's chunk of rows: the sums are then added in
    # the same order as in one call, and the means are bit-identical
    cdef int64_t chunk = fd_level_chunk(n, total, d)
    cdef int64_t step = chunk * max(1, _chunk_cells // (chunk * (k * d + d))), r0
    cdef int64_t col = -1, err_col = 0
    cdef int status, err = 0
    for r0 in range(0, n, step):
        fpart = _rows(fa, r0, min(step, n - r0))
        cpart = _rows(ca, r0, min(step, n - r0))
        with nogil:
            status = fd_level_sums(&fpart, &lv, &cpart, chunk, pm, plo, phi, pc, &col, n_threads)
        if status == ERR_NOMEM or status == ERR_ARGUMENT:
            _raise(status, col, 0)
        _keep_first(&err, &err_col, status, col)
        PyErr_CheckSignals()
    _raise(err, err_col, 0)
    fd_level_finish(total, d, pc, pm, pd, plo, phi)
    return mean, dev, lo, hi, count


def gbt_fit(xs, order, ys, n_classes, seeds, raws, int n_stages, double learning_rate,
            int max_depth, int n_threads):
    """Boost n_stages stages of len(ys) models on the same rows (model k: labels ys[k] of
    n_classes[k] classes, seed seeds[k], raw predictions raws[k] updated in place); returns
    one (feature, threshold, value, importance) per model, of its n_stages * T trees."""
    cdef Py_ssize_t K = len(ys), k
    if not (len(n_classes) == len(seeds) == len(raws) == K) or K < 1:
        raise ValueError("gbt_fit needs one n_classes, seed and raw per model, and a model")
    if n_stages < 0 or not 1 <= max_depth <= 16:
        raise ValueError(f"gbt_fit needs n_stages >= 0 and max_depth in [1, 16], got "
                         f"{n_stages}, {max_depth}")
    _array(xs, "xs")
    if xs.ndim != 2:
        raise ValueError(f"xs must be a 2-D array, got {xs.ndim}-D")
    cdef int64_t d = xs.shape[0], n = xs.shape[1]
    cdef int64_t S = (2 << max_depth) - 1
    cdef const float *pxs = <const float *>_data(xs, "xs", np.float32, (d, n))
    cdef const int32_t *por = <const int32_t *>_data(order, "order", np.int32, (d, n))
    if n < 2 or d < 1 or n > np.iinfo(np.int32).max:
        raise ValueError(f"xs must have a column and 2 to 2**31 - 1 rows, got shape {xs.shape}")
    if order.min() < 0 or order.max() >= n:
        raise ValueError(f"order must hold row numbers in [0, {n})")
    cdef fd_gbt_model *models = <fd_gbt_model *>PyMem_Malloc(K * sizeof(fd_gbt_model))
    if models == NULL:
        raise MemoryError("fastdis: out of memory in gbt_fit")
    out, keep = [], []
    cdef int64_t total_T = 0
    cdef int T
    try:
        for k in range(K):
            c, y, raw = int(n_classes[k]), ys[k], raws[k]
            if c < 2:
                raise ValueError(f"gbt_fit needs n_classes >= 2, got {c} for model {k}")
            T = c if c > 2 else 1
            total_T += T
            models[k].y = <const int32_t *>_data(y, "y", np.int32, (n,))
            if y.min() < 0 or y.max() >= c:
                raise ValueError(f"y must hold labels in [0, {c}), model {k}")
            models[k].n_classes = c
            models[k].seed = <uint64_t>seeds[k]
            models[k].raw = <double *>_data(raw, "raw", np.float64, (n, T), True)
            arrays = (np.empty((n_stages * T, S), dtype=np.int32),
                      np.zeros((n_stages * T, S), dtype=np.float64),
                      np.zeros((n_stages * T, S), dtype=np.float64),
                      np.empty((n_stages * T, d), dtype=np.float64))
            out.append(arrays)
            models[k].feature = <int32_t *>cnp.PyArray_DATA(arrays[0])
            models[k].threshold = <double *>cnp.PyArray_DATA(arrays[1])
            models[k].value = <double *>cnp.PyArray_DATA(arrays[2])
            models[k].importance = <double *>cnp.PyArray_DATA(arrays[3])
        # stages in chunks: the trees of stage s are keyed by s itself, so this is bit-identical.
        # A chunk ends with threads waiting for its last trees: 8x the other kernels' cells
        # per call (a presorted scan step is cheap) keeps those waits rare
        _gbt_chunks(pxs, por, n, d, models, <int>K, n_stages, learning_rate, max_depth,
                    max(1, 8 * _chunk_cells // max(1, n * d * total_T * max_depth)), n_threads)
    finally:
        PyMem_Free(models)
    return out


cdef int _gbt_chunks(const float *pxs, const int32_t *por, int64_t n, int64_t d,
                     fd_gbt_model *models, int K, int n_stages, double learning_rate,
                     int max_depth, int64_t step, int n_threads) except -1:
    """fd_gbt_fit over the stages, step stages per call, the output pointers moved on."""
    cdef int s0, ns, k, status, T
    cdef int64_t S = (2 << max_depth) - 1
    cdef int64_t at
    for s0 in range(0, n_stages, step):
        ns = min(step, n_stages - s0)
        with nogil:
            status = fd_gbt_fit(pxs, por, n, d, models, K, s0, ns, learning_rate, max_depth,
                                n_threads)
        if status == ERR_NOMEM:
            raise MemoryError("fastdis: out of memory in gbt_fit")
        if status != OK:
            raise ValueError("fastdis: invalid arguments to gbt_fit")
        for k in range(K):  # the next chunk's trees follow these
            T = models[k].n_classes if models[k].n_classes > 2 else 1
            at = <int64_t>ns * T
            models[k].feature += at * S
            models[k].threshold += at * S
            models[k].value += at * S
            models[k].importance += at * d
        PyErr_CheckSignals()
    return 0


def gbt_predict(x, feature, threshold, value, int T, int max_depth, double learning_rate, raw,
                int n_threads):
    """Add learning_rate * (the trees' leaf values) to raw [m][T] in place."""
    if T < 1 or not 1 <= max_depth <= 16:
        raise ValueError(f"gbt_predict needs T >= 1 and max_depth in [1, 16], got {T}, {max_depth}")
    _array(x, "x")
    _array(feature, "feature")
    if x.ndim != 2 or feature.ndim != 2:
        raise ValueError("x and feature must be 2-D arrays")
    cdef int64_t m = x.shape[0], d = x.shape[1], S = (2 << max_depth) - 1
    cdef int64_t n_trees = feature.shape[0]
    cdef const float *px = <const float *>_data(x, "x", np.float32, (m, d))
    cdef const int32_t *pf = <const int32_t *>_data(feature, "feature", np.int32, (n_trees, S))
    cdef const double *pt = <const double *>_data(threshold, "threshold", np.float64, (n_trees, S))
    cdef const double *pv = <const double *>_data(value, "value", np.float64, (n_trees, S))
    cdef double *praw = <double *>_data(raw, "raw", np.float64, (m, T), True)
    # a walk down a tree reads row[feature] and goes to child 2s + 1 or 2s + 2: features
    # must be columns of x, and the last level must hold no split
    if n_trees and (feature.max() >= d or (feature[:, (S - 1) // 2:] >= 0).any()):
        raise ValueError(f"feature must hold columns of x (< {d}) and no split at depth "
                         f"{max_depth}")
    if n_trees > np.iinfo(np.int32).max:
        raise ValueError("too many trees")
    cdef int64_t step = _rows_per_chunk(d + n_trees), r0, nr
    cdef int status
    for r0 in range(0, m, step):
        nr = min(step, m - r0)
        with nogil:
            status = fd_gbt_predict(px + r0 * d, nr, d, <int>n_trees, T, max_depth, pf, pt, pv,
                                    learning_rate, praw + r0 * T, n_threads)
        if status != OK:
            raise ValueError("fastdis: invalid arguments to gbt_predict")
        PyErr_CheckSignals()


def group_each(factors, lut, lut_offset, lut_len, vmin, n_levels, want, int n_threads):
    """Rows grouped by each factor c with want[c] alone (stable counting sorts, all wanted
    factors in the same passes over the rows): (offsets, perm), offsets a list with one
    array of n_levels[c] + 1 group offsets per wanted factor, and perm a list with the rows
    of its groups (n_rows int64) per wanted factor. The groups equal
    group_rows(factor_keys(...)) by that factor alone; a factor value without a level
    raises UnknownLevelError naming the column. Transient memory: one byte per row and
    wanted factor (4 beyond 256 levels)."""
    cdef fd_array fa = _describe(factors, "factors", _INTS), part
    cdef fd_levels lv
    cdef int64_t k = fa.n_cols, n = fa.n_rows
    _levels(&lv, lut, lut_offset, lut_len, vmin, n_levels, k)
    want = np.ascontiguousarray(want, dtype=np.uint8)
    cdef const uint8_t *pw = <const uint8_t *>_data(want, "want", np.uint8, (k,))
    cols = np.flatnonzero(want)
    cdef int64_t kw = len(cols)
    sizes = np.where(want != 0, np.asarray(n_levels, dtype=np.int64), 0)
    level_off = (np.cumsum(sizes) - sizes).astype(np.int64)
    cdef int64_t n_total = int(sizes.sum())
    cdef const int64_t *plo = <const int64_t *>cnp.PyArray_DATA(level_off)
    cdef int wide = bool(kw) and int(sizes.max()) > 256
    codes = np.empty((n, kw), dtype=np.int32 if wide else np.uint8)
    cdef char *pcodes = <char *>cnp.PyArray_DATA(codes)
    counts = np.zeros(max(n_total, 1), dtype=np.int64)
    cdef int64_t *pc = <int64_t *>cnp.PyArray_DATA(counts)
    cdef int64_t step = _rows_per_chunk(k), r0, col = -1, err_col = 0
    cdef int64_t width = kw * codes.itemsize
    cdef int status, err = 0
    for r0 in range(0, n, step):
        part = _rows(fa, r0, min(step, n - r0))
        with nogil:
            status = fd_level_counts(&part, &lv, pw, plo, n_total, wide,
                                     pcodes + r0 * width, pc, &col, n_threads)
        if status == ERR_NOMEM:
            raise MemoryError("fastdis: out of memory while grouping rows")
        if status == ERR_ARGUMENT:
            raise ValueError("group_each: n_levels exceed the level tables")
        _keep_first(&err, &err_col, status, col)
        PyErr_CheckSignals()
    _raise(err, err_col, 0)
    # each factor's groups start at 0 in its own perm
    nxt = np.empty(max(n_total, 1), dtype=np.int64)
    offsets = []
    for c in cols:
        off = np.zeros(sizes[c] + 1, dtype=np.int64)
        np.cumsum(counts[level_off[c]:level_off[c] + sizes[c]], out=off[1:])
        nxt[level_off[c]:level_off[c] + sizes[c]] = off[:sizes[c]]
        offsets.append(off)
    wanted_off = np.ascontiguousarray(level_off[cols], dtype=np.int64)
    wanted_levels = np.ascontiguousarray(sizes[cols], dtype=np.int64)
    cdef const int64_t *pwo = <const int64_t *>cnp.PyArray_DATA(wanted_off)
    cdef const int64_t *pwl = <const int64_t *>cnp.PyArray_DATA(wanted_levels)
    cdef int64_t *pn = <int64_t *>cnp.PyArray_DATA(nxt)
    # one array per factor (not one block): each is freed with its grouping
    perm = [np.empty(n, dtype=np.int64) for _ in range(kw)]
    cdef int64_t **pp = <int64_t **>malloc(sizeof(int64_t *) * max(kw, 1))
    if pp == NULL:
        raise MemoryError("fastdis: out of memory while grouping rows")
    cdef int64_t nr, i
    try:
        for i in range(kw):
            pp[i] = <int64_t *>cnp.PyArray_DATA(perm[i])
        for r0 in range(0, n, step):
            nr = min(step, n - r0)
            with nogil:
                status = fd_group_scatter(pcodes + r0 * width, wide, nr, kw, pwo, pwl, n_total,
                                          r0, pn, pp, n, n_threads)
            if status == ERR_NOMEM:
                raise MemoryError("fastdis: out of memory while grouping rows")
            if status != OK:
                raise ValueError("group_each: a row fell outside its factor's perm")
            PyErr_CheckSignals()
    finally:
        free(pp)
    return offsets, perm


cdef extern from "fastdis.h" nogil:
    int64_t fd_logistic_state_size(int64_t d, int n_classes, int multinomial)
    int fd_logistic_fit(const double *x, const int32_t *y, const double *class_weight,
                        int64_t n, int64_t d, int n_classes, int multinomial, double C,
                        double tol, int max_iter, int max_steps, double *coef, double *state,
                        int *n_iter, int *status, int n_threads)


def logistic_fit(x, y, class_weight, int n_classes, bint multinomial, double C, double tol,
                 int max_iter, coef, int n_threads, hessian=None, bint borrow=False):
    """Fit L2-regularised logistic regression (csrc/logistic.c) from coef, in place, on the
    features x given column by column (d, n); returns (iterations, status: 1 converged,
    2 max_iter reached, 3 no decrease found). hessian, float64 C-contiguous (P, P) with
    P = coef.size, or None: receives the last Hessian computed (of the objective divided
    by C times the rows' total weight); with borrow, what it holds is the first steps'
    Hessian (a subsample's fit's), kept while the steps shrink fast."""
    if n_classes < 2 or (not multinomial and n_classes != 2):
        raise ValueError(f"logistic_fit needs n_classes >= 2 (exactly 2 unless multinomial), "
                         f"got {n_classes}")
    if not C > 0 or not tol >= 0 or max_iter < 0:
        raise ValueError(f"logistic_fit needs C > 0, tol >= 0 and max_iter >= 0, got {C}, "
                         f"{tol}, {max_iter}")
    _array(x, "x")
    if x.ndim != 2:
        raise ValueError(f"x must be a 2-D array, got {x.ndim}-D")
    cdef int64_t d = x.shape[0], n = x.shape[1]
    cdef int T = n_classes if multinomial else 1
    cdef const double *px = <const double *>_data(x, "x", np.float64, (d, n))
    cdef const int32_t *py = <const int32_t *>_data(y, "y", np.int32, (n,))
    cdef const double *pw = <const double *>_data(class_weight, "class_weight", np.float64,
                                                  (n_classes,))
    cdef double *pc = <double *>_data(coef, "coef", np.float64, (T, d + 1), True)
    if n < 1:
        raise ValueError("x must have at least one row")
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"y must hold labels in [0, {n_classes})")
    # NaN or inf in x make the objective non-finite, which the kernel reports
    if not (np.isfinite(class_weight).all() and (class_weight >= 0).all()):
        raise ValueError("class_weight must be finite and >= 0")
    if not np.isfinite(coef).all():
        raise ValueError("coef must be finite")
    state = np.zeros(fd_logistic_state_size(d, n_classes, multinomial), dtype=np.float64)
    cdef int64_t P = T * (d + 1)
    if hessian is not None:
        _data(hessian, "hessian", np.float64, (P, P), True)
        if borrow:
            if not np.isfinite(hessian).all():
                raise ValueError("hessian must be finite")
            state[0] = 2.0  # the kernel's mark: H given, F and G not computed yet
            state[3 + P:3 + P + P * P] = hessian.reshape(-1)
    elif borrow:
        raise ValueError("borrow needs a hessian")
    cdef double *ps = <double *>cnp.PyArray_DATA(state)
    # Newton iterations per call: most are a pass over the rows without the Hessian (each
    # call factors the Hessian afresh: a call per iteration would redo it every time)
    cdef int64_t cost = n * 3 * T * (d + 1)
    cdef int steps = <int>max(1, min(1 << 20, _chunk_cells // max(1, cost)))
    cdef int n_iter = 0, status = 0, rc
    while True:
        with nogil:
            rc = fd_logistic_fit(px, py, pw, n, d, n_classes, multinomial, C, tol, max_iter,
                                 steps, pc, ps, &n_iter, &status, n_threads)
        if rc == ERR_NOMEM:
            raise MemoryError("fastdis: out of memory in logistic_fit")
        if rc == ERR_NONFINITE:
            raise ValueError("logistic_fit: the objective is not finite (NaN or infinity in x)")
        if rc != OK:
            raise ValueError("fastdis: invalid arguments to logistic_fit (the rows' total "
                             "weight must be positive and finite)")
        if status:
            if hessian is not None:
                hessian.reshape(-1)[:] = state[3 + P:3 + P + P * P]
            return n_iter, status
        PyErr_CheckSignals()

cdef extern from "fastdis.h" nogil:
    int64_t fd_twice_mann_whitney(const double *pos, int64_t n_pos, const double *neg,
                                  int64_t n_neg)


def twice_mann_whitney(pos, neg):
    """Twice the Mann-Whitney U of pos over neg, float64 1-D, sorted ascending, finite: for
    each positive, the negatives below it plus those at or below it."""
    cdef const double *pp = <const double *>_data(pos, "pos", np.float64, (-1,))
    cdef const double *pn = <const double *>_data(neg, "neg", np.float64, (-1,))
    cdef int64_t n_pos = pos.shape[0], n_neg = neg.shape[0], twice
    with nogil:
        twice = fd_twice_mann_whitney(pp, n_pos, pn, n_neg)
    return twice


# ----------------------------------------------------------------------------- Lasso (lasso.c)

from libc.math cimport sqrt

cdef extern from "fastdis.h" nogil:
    int64_t fd_moment_chunk(int64_t m, int64_t n_groups, int64_t p)
    int fd_fold_moments(const fd_array *codes, const fd_array *targets, const int64_t *rows,
                        const int32_t *group, int64_t m, int64_t n_groups, const double *u1,
                        const double *u2, const double *scale, const double *offset,
                        const double *shift, int64_t chunk, double *moments, int n_threads)
    void fd_moments_merge(double *acc, const double *b, int64_t p, double *scratch)
    int fd_lasso_fit(const double *rec, int64_t p, int64_t d, int64_t t, double alpha,
                     int max_iter, double tol, double *w, double *intercept, double *gap,
                     double *gap_tol, int *n_iter)
    double fd_lasso_mse(const double *rec, int64_t p, int64_t d, int64_t t, const double *w,
                        double intercept)
    int fd_lasso_cv(const double *moments, int64_t n_folds, int64_t p, int64_t d, int64_t t,
                    const double *alphas, int64_t n_alphas, int max_iter, double tol,
                    double *mse, int32_t *n_iter, double *excess, int n_threads)


cdef int64_t _moment_vars(object records, str name) except -1:
    """p of moments records [..., 1 + p + p * p] (float64, C-contiguous, last axis)."""
    _array(records, name)
    if records.ndim < 1:
        raise ValueError(f"{name} must be an array of moments records")
    cdef int64_t size = records.shape[records.ndim - 1]
    cdef int64_t p = <int64_t>((sqrt(<double>(4 * size - 3)) - 1) / 2) if size >= 3 else 0
    if p < 1 or 1 + p + p * p != size:
        raise ValueError(f"{name} records must hold 1 + p + p * p values, got {size}")
    _data(records, name, np.float64, tuple(records.shape))
    return p


cdef int _lasso_status(int status, str what) except -1:
    if status == ERR_NOMEM:
        raise MemoryError(f"fastdis: out of memory in {what}")
    if status != OK:
        raise ValueError(f"fastdis: invalid arguments to {what}")
    return 0


def fold_moments(codes, targets, rows, group, int64_t n_groups, u1, u2, scale, offset,
                 int n_threads):
    """Moments [count, mean[p], comoment[p][p]] of each of n_groups groups of rows, over the
    p = d + k columns of codes (float) and targets (any numeric dtype): row rows[i] (rows
    None: row i) is in group group[i]; each value is mapped to ((x u1) u2) scale + offset
    first.  Returns an (n_groups, 1 + p + p * p) array; the same for any n_threads."""
    cdef fd_array ca = _describe(codes, "codes", _FLOATS)
    cdef fd_array ta = _describe(targets, "targets", _INTS + _FLOATS)
    _check_pair(&ta, &ca)
    _array(group, "group")
    if group.ndim != 1:
        raise ValueError(f"group must be a 1-D array, got {group.ndim}-D")
    cdef int64_t m = group.shape[0], p = ca.n_cols + ta.n_cols
    cdef const int32_t *pg = <const int32_t *>_data(group, "group", np.int32, (m,))
    cdef const int64_t *pr = NULL
    if rows is not None:
        pr = <const int64_t *>_data(rows, "rows", np.int64, (m,))
    if n_groups < 1 or n_groups > np.iinfo(np.int32).max:
        raise ValueError(f"n_groups must be in [1, 2**31 - 1], got {n_groups}")
    cdef const double *a1 = <const double *>_data(u1, "u1", np.float64, (p,))
    cdef const double *a2 = <const double *>_data(u2, "u2", np.float64, (p,))
    cdef const double *sc = <const double *>_data(scale, "scale", np.float64, (p,))
    cdef const double *of = <const double *>_data(offset, "offset", np.float64, (p,))
    out = np.zeros((n_groups, 1 + p + p * p), dtype=np.float64)
    cdef double *po = <double *>cnp.PyArray_DATA(out)
    # moments about the first row's values: exact differences for rows near it, so that
    # columns far from zero relative to their spread keep their precision
    shift = np.zeros(p)
    if m:
        first = rows[0] if rows is not None else 0
        if 0 <= first < ca.n_rows:
            shift = np.concatenate([codes[first], targets[first]]).astype(np.float64)
            shift = ((shift * u1) * u2) * scale + offset
    cdef const double *sh = <const double *>cnp.PyArray_DATA(shift)
    cdef int64_t chunk = fd_moment_chunk(m, n_groups, p)
    # calls start at multiples of the kernel's chunk: the same result as one call
    cdef int64_t step = max(chunk, _rows_per_chunk(p) // chunk * chunk), r0, nr
    cdef int status
    cdef fd_array cpart = ca, tpart = ta
    if pr == NULL and m > ca.n_rows:
        raise ValueError(f"rows must lie in [0, {ca.n_rows}) and group in [0, {n_groups})")
    for r0 in range(0, m, step):
        nr = min(step, m - r0)
        if pr == NULL:  # rows r0 .. r0 + nr - 1 themselves
            cpart = _rows(ca, r0, nr)
            tpart = _rows(ta, r0, nr)
        with nogil:
            status = fd_fold_moments(&cpart, &tpart, pr + r0 if pr != NULL else NULL, pg + r0,
                                     nr, n_groups, a1, a2, sc, of, sh, chunk, po, n_threads)
        if status == ERR_ARGUMENT:
            raise ValueError(f"rows must lie in [0, {ca.n_rows}) and group in [0, {n_groups})")
        _lasso_status(status, "fold_moments")
        PyErr_CheckSignals()
    out[:, 1:1 + p] += np.where(out[:, :1] > 0, shift, 0.0)
    return out


def moments_merge(records):
    """The moments of the union of the rows of records [n][1 + p + p * p], merged in order."""
    cdef int64_t p = _moment_vars(records, "records")
    if records.ndim != 2:
        raise ValueError(f"records must be a 2-D array, got {records.ndim}-D")
    out = np.zeros(records.shape[1], dtype=np.float64)
    scratch = np.empty(p, dtype=np.float64)
    cdef double *po = <double *>cnp.PyArray_DATA(out)
    cdef const double *pr = <const double *>cnp.PyArray_DATA(records)
    cdef double *ps = <double *>cnp.PyArray_DATA(scratch)
    cdef int64_t i, size = records.shape[1]
    for i in range(records.shape[0]):
        fd_moments_merge(po, pr + i * size, p, ps)
    return out


cdef int _lasso_target(int64_t p, int64_t d, int64_t t) except -1:
    if d < 1 or not d <= t < p:
        raise ValueError(f"a Lasso needs 1 <= d <= target < p, got d={d}, target={t}, p={p}")
    return 0


def lasso_fit(record, int64_t d, int64_t target, double alpha, int max_iter, double tol,
              w=None):
    """scikit-learn's Lasso of variable `target` on variables 0 .. d-1 from a moments record,
    started from w (None: zeros). Returns (coef, intercept, gap, gap_tol, n_iter)."""
    cdef int64_t p = _moment_vars(record, "record")
    _lasso_target(p, d, target)
    if record.ndim != 1 or not record[0] >= 1:
        raise ValueError("record must be one moments record of at least one row")
    if not alpha >= 0 or max_iter < 0 or not tol >= 0:
        raise ValueError(f"alpha and tol must be >= 0 and max_iter >= 0, got {alpha}, {tol}, "
                         f"{max_iter}")
    coef = np.zeros(d, dtype=np.float64) if w is None else np.array(w, dtype=np.float64)
    cdef double *pw = <double *>_data(coef, "w", np.float64, (d,), True)
    cdef const double *pr = <const double *>cnp.PyArray_DATA(record)
    cdef double intercept = 0.0, gap = 0.0, gap_tol = 0.0
    cdef int n_iter = 0, status
    with nogil:
        status = fd_lasso_fit(pr, p, d, target, alpha, max_iter, tol, pw, &intercept, &gap,
                              &gap_tol, &n_iter)
    _lasso_status(status, "lasso_fit")
    return coef, intercept, gap, gap_tol, n_iter


def lasso_mse(record, int64_t d, int64_t target, w, double intercept):
    """Mean squared error of the linear model (w, intercept) on the rows of a moments record."""
    cdef int64_t p = _moment_vars(record, "record")
    _lasso_target(p, d, target)
    if record.ndim != 1:
        raise ValueError("record must be one moments record")
    cdef const double *pw = <const double *>_data(w, "w", np.float64, (d,))
    return fd_lasso_mse(<const double *>cnp.PyArray_DATA(record), p, d, target, pw, intercept)


def lasso_cv(moments, int64_t d, int64_t target, alphas, int max_iter, double tol,
             int n_threads):
    """For each alpha and fold f of moments [n_folds][record]: the Lasso fitted from zero on
    the other folds, scored on fold f. Returns (mse, n_iter, gap - tolerance), each
    [n_alphas][n_folds]."""
    cdef int64_t p = _moment_vars(moments, "moments")
    _lasso_target(p, d, target)
    if moments.ndim != 2 or moments.shape[0] < 2 or (moments[:, 0] < 1).any():
        raise ValueError("moments must hold at least 2 folds of at least one row each")
    _array(alphas, "alphas")
    cdef int64_t A = alphas.shape[0] if alphas.ndim == 1 else -1, F = moments.shape[0]
    cdef const double *pa = <const double *>_data(alphas, "alphas", np.float64, (A,))
    if (alphas < 0).any() or np.isnan(alphas).any() or max_iter < 0 or not tol >= 0:
        raise ValueError("alphas and tol must be >= 0 and max_iter >= 0")
    mse = np.empty((A, F), dtype=np.float64)
    n_iter = np.empty((A, F), dtype=np.int32)
    excess = np.empty((A, F), dtype=np.float64)
    cdef double *pm = <double *>cnp.PyArray_DATA(mse)
    cdef int32_t *pn = <int32_t *>cnp.PyArray_DATA(n_iter)
    cdef double *pe = <double *>cnp.PyArray_DATA(excess)
    cdef const double *pmo = <const double *>cnp.PyArray_DATA(moments)
    cdef int status
    with nogil:
        status = fd_lasso_cv(pmo, F, p, d, target, pa, A, max_iter, tol, pm, pn, pe, n_threads)
    _lasso_status(status, "lasso_cv")
    return mse, n_iter, excess

cdef extern from "fastdis.h" nogil:
    int fd_sap_svm(const double *x_train, const double *x_test, const int64_t *y_train,
                   const int64_t *y_test, const int64_t *n_classes, int64_t n_factors,
                   int64_t n_codes, int64_t n_train, int64_t n_test, double C, double *scores,
                   int n_threads)


def sap_svm(x_train, x_test, y_train, y_test, n_classes, double C, int n_threads):
    """scores[k, j]: held-out accuracy of LinearSVC(C, class_weight="balanced") fitted on code
    j (row j of x_train, finite) to predict factor k (labels in [0, n_classes[k]))."""
    _array(x_train, "x_train")
    _array(x_test, "x_test")
    _array(n_classes, "n_classes")
    if x_train.ndim != 2 or x_test.ndim != 2 or n_classes.ndim != 1:
        raise ValueError("x_train and x_test must be 2-D, n_classes 1-D")
    cdef int64_t d = x_train.shape[0], n = x_train.shape[1], nt = x_test.shape[1]
    cdef int64_t K = n_classes.shape[0]
    if n < 1 or nt < 1 or n > np.iinfo(np.int32).max or not C > 0.0:
        raise ValueError(f"sap_svm needs training and test rows (fewer than 2**31) and C > 0, "
                         f"got {n}, {nt}, C={C}")
    cdef const double *pxr = <const double *>_data(x_train, "x_train", np.float64, (d, n))
    cdef const double *pxe = <const double *>_data(x_test, "x_test", np.float64, (d, nt))
    cdef const int64_t *pyr = <const int64_t *>_data(y_train, "y_train", np.int64, (K, n))
    cdef const int64_t *pye = <const int64_t *>_data(y_test, "y_test", np.int64, (K, nt))
    cdef const int64_t *pm = <const int64_t *>_data(n_classes, "n_classes", np.int64, (K,))
    if K and ((n_classes < 1).any() or (y_train < 0).any() or (y_test < 0).any()
              or (y_train >= n_classes[:, None]).any() or (y_test >= n_classes[:, None]).any()):
        raise ValueError("labels must lie in [0, n_classes[k]) for every factor k")
    if not (np.isfinite(x_train).all() and np.isfinite(x_test).all()):
        raise ValueError("x_train and x_test must be finite")
    scores = np.zeros((K, d), dtype=np.float64)
    part = np.empty((K, 0), dtype=np.float64)
    cdef double *ps
    # codes in blocks, with a check for Ctrl-C between blocks
    cdef int64_t step = max(1, _chunk_cells // max(1, (n + nt) * max(K, 1) * int(n_classes.max(initial=1))))
    cdef int64_t j0, nj
    cdef int status
    for j0 in range(0, d, step):
        nj = min(step, d - j0)
        part = np.empty((K, nj), dtype=np.float64)
        ps = <double *>cnp.PyArray_DATA(part)
        with nogil:
            status = fd_sap_svm(pxr + j0 * n, pxe + j0 * nt, pyr, pye, pm, K, nj, n, nt, C, ps,
                                n_threads)
        if status == ERR_NOMEM:
            raise MemoryError("fastdis: out of memory in sap_svm")
        if status != OK:
            raise ValueError("fastdis: invalid arguments to sap_svm")
        scores[:, j0:j0 + nj] = part
        PyErr_CheckSignals()
    return scores


cdef extern from "fastdis.h" nogil:
    int fd_cross_moments(const fd_array *factors, const fd_array *codes, const int64_t *ef,
                         const int64_t *ez, const double *f0, const double *z0, double *sums,
                         int n_threads)


def cross_moments(factors, codes, ef, ez, f0, z0, int n_threads):
    """Row sums (sf, sff, sz, szz, sfz) of f = factors 2**-ef - f0 and z = codes 2**-ez - z0:
    (k,), (k,), (d,), (d,), (k, d) arrays."""
    cdef fd_array fa = _describe(factors, "factors", _INTS + _FLOATS)
    cdef fd_array ca = _describe(codes, "codes", _FLOATS)
    _check_pair(&fa, &ca)
    cdef int64_t k = fa.n_cols, d = ca.n_cols, n = ca.n_rows
    cdef const int64_t *pef = <const int64_t *>_data(ef, "ef", np.int64, (k,))
    cdef const int64_t *pez = <const int64_t *>_data(ez, "ez", np.int64, (d,))
    cdef const double *pf0 = <const double *>_data(f0, "f0", np.float64, (k,))
    cdef const double *pz0 = <const double *>_data(z0, "z0", np.float64, (d,))
    if (np.abs(ef) > 1100).any() or (np.abs(ez) > 1100).any():
        raise ValueError("ef and ez must be exponents of float64 values")
    sums = np.zeros(2 * k + 2 * d + k * d, dtype=np.float64)
    cdef double *ps = <double *>cnp.PyArray_DATA(sums)
    # calls start at multiples of the kernel's block of 1024 rows: the same sums as one call
    cdef int64_t step = max(1, _chunk_cells // (k * d + k + d)), r0
    step = (step + 4095) // 4096 * 4096
    cdef fd_array fpart, cpart
    cdef int status
    for r0 in range(0, n, step):
        fpart = _rows(fa, r0, min(step, n - r0))
        cpart = _rows(ca, r0, min(step, n - r0))
        with nogil:
            status = fd_cross_moments(&fpart, &cpart, pef, pez, pf0, pz0, ps, n_threads)
        if status == ERR_NOMEM:
            raise MemoryError("fastdis: out of memory in cross_moments")
        if status != OK:
            raise ValueError("fastdis: invalid arguments to cross_moments")
        PyErr_CheckSignals()
    return (sums[:k], sums[k:2 * k], sums[2 * k:2 * k + d], sums[2 * k + d:2 * k + 2 * d],
            sums[2 * k + 2 * d:].reshape(k, d))


cdef extern from "fastdis.h" nogil:
    int fd_level_quantile(const fd_array *factors, const fd_levels *levels, const fd_array *codes,
                          const double *mean, const int64_t *count, const double *lo,
                          const double *hi, double q, double *dev, uint8_t *ok,
                          int64_t *err_col, int n_threads)


def level_quantile(factors, lut, lut_offset, lut_len, vmin, n_levels, codes, mean, count, lo,
                   hi, double q, int n_threads):
    """Per level of every factor and code: (numpy's q-quantile of |z - mean|, ok), counting
    values below lo and keeping those in [lo, hi]; ok False where the thresholds missed the
    quantile.  One call: the pass is one read of the rows, a few tens of ms per 10**6."""
    cdef fd_array fa = _describe(factors, "factors", _INTS)
    cdef fd_array ca = _describe(codes, "codes", _FLOATS)
    cdef fd_levels lv
    _check_pair(&fa, &ca)
    _levels(&lv, lut, lut_offset, lut_len, vmin, n_levels, fa.n_cols)
    if not 0.0 <= q < 1.0:
        raise ValueError(f"q must be in [0, 1), got {q}")
    cdef int64_t L = int(n_levels.sum()), d = ca.n_cols
    cdef const double *pm = <const double *>_data(mean, "mean", np.float64, (L, d))
    cdef const int64_t *pc = <const int64_t *>_data(count, "count", np.int64, (L,))
    cdef const double *plo = <const double *>_data(lo, "lo", np.float64, (L, d))
    cdef const double *phi = <const double *>_data(hi, "hi", np.float64, (L, d))
    dev = np.full((L, d), np.nan)
    ok = np.zeros((L, d), dtype=np.uint8)
    cdef double *pd = <double *>cnp.PyArray_DATA(dev)
    cdef uint8_t *pok = <uint8_t *>cnp.PyArray_DATA(ok)
    cdef int64_t col = -1
    cdef int status
    with nogil:
        status = fd_level_quantile(&fa, &lv, &ca, pm, pc, plo, phi, q, pd, pok, &col, n_threads)
    _raise(status, col, 0)
    PyErr_CheckSignals()
    return dev, ok.astype(bool)

def forest_fit(xs, order, y, int n_trees, int max_features, int max_depth, bint bootstrap,
               uint64_t seed, int n_threads):
    """Grow n_trees regression trees on presorted columns; returns (feature, threshold,
    left, right, value, n_nodes, importance), node arrays of shape (n_trees, 2n - 1)."""
    _array(xs, "xs")
    if xs.ndim != 2:
        raise ValueError(f"xs must be a 2-D array, got {xs.ndim}-D")
    cdef int64_t d = xs.shape[0], n = xs.shape[1]
    if n < 1 or d < 1 or n > np.iinfo(np.int32).max // 2:
        raise ValueError(f"xs must have a column and 1 to 2**30 - 1 rows, got shape {xs.shape}")
    if n_trees < 0 or not 1 <= max_features <= d or max_depth < 0:
        raise ValueError(f"forest_fit needs n_trees >= 0, max_features in [1, {d}] and "
                         f"max_depth >= 0, got {n_trees}, {max_features}, {max_depth}")
    cdef const float *pxs = <const float *>_data(xs, "xs", np.float32, (d, n))
    cdef const int32_t *por = <const int32_t *>_data(order, "order", np.int32, (d, n))
    cdef const double *py = <const double *>_data(y, "y", np.float64, (n,))
    if order.min() < 0 or order.max() >= n:
        raise ValueError(f"order must hold row numbers in [0, {n})")
    if not np.isfinite(y).all():
        raise ValueError("y must be finite")
    cdef int64_t cap = 2 * n - 1
    feature = np.full((n_trees, cap), -1, dtype=np.int32)
    threshold = np.zeros((n_trees, cap), dtype=np.float64)
    left = np.full((n_trees, cap), -1, dtype=np.int32)  # slots past a tree's nodes: leaves
    right = np.full((n_trees, cap), -1, dtype=np.int32)
    value = np.zeros((n_trees, cap), dtype=np.float64)
    n_nodes = np.zeros(n_trees, dtype=np.int64)
    importance = np.zeros((n_trees, d), dtype=np.float64)
    cdef int32_t *pf = <int32_t *>cnp.PyArray_DATA(feature)
    cdef double *pt = <double *>cnp.PyArray_DATA(threshold)
    cdef int32_t *pl = <int32_t *>cnp.PyArray_DATA(left)
    cdef int32_t *pr = <int32_t *>cnp.PyArray_DATA(right)
    cdef double *pv = <double *>cnp.PyArray_DATA(value)
    cdef int64_t *pn = <int64_t *>cnp.PyArray_DATA(n_nodes)
    cdef double *pi = <double *>cnp.PyArray_DATA(importance)
    cdef int status, t0, nt
    # trees in chunks (each tree has its own generator: the same trees), Ctrl-C between
    cdef int step = <int>max(1, _chunk_cells // max(1, n * d * 16))
    for t0 in range(0, n_trees, step):
        nt = min(step, n_trees - t0)
        with nogil:
            status = fd_forest_fit(pxs, por, py, n, d, nt, max_features, max_depth, bootstrap,
                                   seed, pf + t0 * cap, pt + t0 * cap, pl + t0 * cap,
                                   pr + t0 * cap, pv + t0 * cap, pn + t0, pi + t0 * d,
                                   n_threads)
        if status == ERR_NOMEM:
            raise MemoryError("fastdis: out of memory in forest_fit")
        if status != OK:
            raise ValueError("fastdis: invalid arguments to forest_fit")
        PyErr_CheckSignals()
    return feature, threshold, left, right, value, n_nodes, importance


def forest_predict(x, feature, threshold, left, right, value, depths, int n_threads):
    """(len(depths), m): per depth cap, the mean over the trees of the value each reaches
    walking at most that deep."""
    _array(x, "x")
    _array(feature, "feature")
    if x.ndim != 2 or feature.ndim != 2:
        raise ValueError("x and feature must be 2-D arrays")
    cdef int64_t m = x.shape[0], d = x.shape[1], n_trees = feature.shape[0]
    cdef int64_t cap = feature.shape[1]
    depths = [int(depth) for depth in depths]
    if n_trees < 1 or cap < 1 or n_trees > np.iinfo(np.int32).max or \
            any(not 0 <= depth <= np.iinfo(np.int32).max for depth in depths):
        raise ValueError("forest_predict needs a tree and depths in [0, 2**31 - 1]")
    cdef const float *px = <const float *>_data(x, "x", np.float32, (m, d))
    cdef const int32_t *pf = <const int32_t *>_data(feature, "feature", np.int32, (n_trees, cap))
    cdef const double *pt = <const double *>_data(threshold, "threshold", np.float64, (n_trees, cap))
    cdef const int32_t *pl = <const int32_t *>_data(left, "left", np.int32, (n_trees, cap))
    cdef const int32_t *pr = <const int32_t *>_data(right, "right", np.int32, (n_trees, cap))
    cdef const double *pv = <const double *>_data(value, "value", np.float64, (n_trees, cap))
    # a walk reads row[feature] at split nodes and goes to a later node of the tree: the
    # features must be columns of x, the children in range and after their parent
    split, nodes = left >= 0, np.arange(cap)
    if (split != (right >= 0)).any() or (split & ((feature < 0) | (feature >= d))).any() or \
            (split & ((left <= nodes) | (right <= nodes))).any() or left.max() >= cap or \
            right.max() >= cap:
        raise ValueError(f"feature must hold columns of x (< {d}) at split nodes and the "
                         f"children must be later nodes of their tree (< {cap})")
    caps = np.array(depths, dtype=np.int32)
    ranks = np.argsort(caps, kind="stable")  # the kernel walks to ascending caps
    sorted_caps = np.ascontiguousarray(caps[ranks])
    cdef const int32_t *pd = <const int32_t *>cnp.PyArray_DATA(sorted_caps)
    cdef int n_depths = len(depths)
    if n_depths < 1:
        raise ValueError("forest_predict needs depths")
    sorted_out = np.empty((n_depths, m), dtype=np.float64)
    cdef int64_t step = min(_rows_per_chunk(d + n_trees * n_depths), max(m, 1)), r0, nr, k
    cdef int status
    chunk = np.empty((n_depths, step), dtype=np.float64)
    cdef double *pc = <double *>cnp.PyArray_DATA(chunk)
    for r0 in range(0, m, step):
        nr = min(step, m - r0)
        with nogil:
            status = fd_forest_predict(px + r0 * d, nr, d, <int>n_trees, cap, pf, pt, pl, pr,
                                       pv, pd, n_depths, pc, n_threads)
        if status != OK:
            raise ValueError("fastdis: invalid arguments to forest_predict")
        for k in range(n_depths):  # the chunk's [n_depths][nr] into each depth's row
            sorted_out[k, r0:r0 + nr] = chunk.ravel()[k * nr:(k + 1) * nr]
        PyErr_CheckSignals()
    out = np.empty_like(sorted_out)
    out[ranks] = sorted_out
    return out


def sample_batches_sets(codes, sets, set_of, bint by_size, int mode, int64_t batch_size,
                        uint64_t seed, batch_ids, int n_threads, bint replace=False):
    """Draw and reduce one batch per id, batch b from the groups of sets[set_of[b]] (each set
    an (offsets, perm, groups, cum) tuple; set_of None: every batch from sets[0]); returns the
    (n_batches, n_codes) reductions, those of sample_batches on each batch's set."""
    cdef fd_array ca = _describe(codes, "codes", _FLOATS)
    _batch_draws(mode, batch_size)
    cdef const int64_t *pid = <const int64_t *>_data(batch_ids, "batch_ids", np.int64, (-1,))
    cdef int64_t n_batches = batch_ids.shape[0]
    sets = _sets_checked(sets, set_of, n_batches)
    cdef int64_t n_sets = len(sets)
    cdef const int64_t *pset = NULL if set_of is None else \
        <const int64_t *>_data(set_of, "set_of", np.int64, (n_batches,))
    cdef fd_groups *gs = _groups_array(sets, ca.n_rows, by_size, replace)
    try:
        out = np.empty((n_batches, ca.n_cols), dtype=np.float64)
        _sample_into(&ca, gs, n_sets, pset, mode, batch_size, seed, pid, n_batches, out,
                     n_threads)
    finally:
        free(gs)
    return out


cdef fd_groups *_groups_array(list sets, int64_t n_rows, bint by_size,
                               bint replace) except NULL:
    """The sets checked into a malloc'ed array (free it), one fd_groups per set."""
    cdef fd_groups *gs = <fd_groups *>malloc(sizeof(fd_groups) * max(1, len(sets)))
    cdef Py_ssize_t s
    if gs == NULL:
        raise MemoryError("fastdis: out of memory while sampling batches")
    try:
        for s in range(len(sets)):
            _groups_of(&gs[s], sets[s], n_rows, by_size, replace)
    except BaseException:
        free(gs)
        raise
    return gs


cdef int _groups_of(fd_groups *g, object groups_set, int64_t n_rows, bint by_size,
                    bint replace) except -1:
    """One (offsets, perm, groups, cum) set checked into g; the kernel checks each drawn
    group's rows against perm, the group ids and their cumulative sizes are checked here
    (both are short)."""
    offsets, perm, groups, cum = groups_set
    g.offsets = <const int64_t *>_data(offsets, "offsets", np.int64, (-1,))
    # no perm: positions only (sample_positions)
    g.perm = NULL if perm is None else <const int64_t *>_data(perm, "perm", np.int64, (n_rows,))
    g.groups = <const int64_t *>_data(groups, "groups", np.int64, (-1,))
    g.n_groups = groups.shape[0]
    g.cum = <const int64_t *>_data(cum, "cum", np.int64, (g.n_groups + 1,))
    if g.n_groups < 1 or offsets.shape[0] < 2:
        raise ValueError("sample_batches needs at least one group")
    if groups.min() < 0 or groups.max() >= offsets.shape[0] - 1:
        raise ValueError(f"groups must lie in [0, {offsets.shape[0] - 1})")
    if cum[0] != 0 or (np.diff(cum) < 0).any() or (by_size and cum[g.n_groups] < 1):
        raise ValueError("cum must start at 0 and be non-decreasing (and end >= 1 with by_size)")
    g.by_size = by_size
    g.replace = replace
    return 0


cdef int _sample_into(const fd_array *ca, const fd_groups *gs, int64_t n_sets,
                      const int64_t *pset, int mode, int64_t batch_size, uint64_t seed,
                      const int64_t *pid, int64_t n_batches, object out,
                      int n_threads) except -1:
    """fd_sample_batches_sets in chunks of about _chunk_cells elements (interruptible)."""
    cdef double *po = <double *>cnp.PyArray_DATA(out)
    cdef int64_t draws = batch_size * (2 if mode == BATCH_PAIR_DIFF else 1)
    cdef int64_t step = max(16, _chunk_cells // max(1, draws * ca.n_cols)), b0, nb
    cdef int status
    for b0 in range(0, n_batches, step):
        nb = min(step, n_batches - b0)
        with nogil:
            status = fd_sample_batches_sets(ca, gs, n_sets, pset + b0 if pset != NULL else NULL,
                                            mode, batch_size, seed, pid + b0, nb,
                                            po + b0 * ca.n_cols, n_threads)
        if status == ERR_NOMEM:
            raise MemoryError("fastdis: out of memory while sampling batches")
        if status != OK:
            raise ValueError("sample_batches: a group lies outside perm or has fewer than "
                             "2 rows, or perm holds a row outside codes")
        PyErr_CheckSignals()
    return 0


# ---- posterior sampling (csrc/posterior_sampling.c) -------------------------------------

cdef extern from "fastdis.h" nogil:
    int fd_posterior_sample_logs(const double *mu_t, const double *istd_t, const double *nlog_t,
                                 const int32_t *labels_t, int64_t n, int64_t n_pad, int64_t d,
                                 int64_t k, const double *gmax, const int64_t *rows,
                                 const double *z, int64_t m, int pairs, int fast,
                                 double *out_code, double *out_joint, double *out_others,
                                 double *out_factor, double *out_pairs, int64_t *n_slow,
                                 int n_threads)
    int fd_posterior_draw(uint64_t seed, int64_t s0, int64_t m, int64_t n, int64_t d,
                          int64_t *rows, double *eps)


def posterior_draw(uint64_t seed, int64_t s0, int64_t m, int64_t n, int64_t d):
    """Draws s0 .. s0 + m - 1 of the sampling estimator: (rows [m] int64, eps [m, d])."""
    if n < 1 or d < 1 or m < 0 or s0 < 0:
        raise ValueError(f"posterior_draw needs n >= 1, d >= 1, m >= 0, s0 >= 0; got "
                         f"n={n}, d={d}, m={m}, s0={s0}")
    rows = np.empty(m, dtype=np.int64)
    eps = np.empty((m, d), dtype=np.float64)
    cdef int64_t *pr = <int64_t *>cnp.PyArray_DATA(rows)
    cdef double *pe = <double *>cnp.PyArray_DATA(eps)
    cdef int status
    with nogil:
        status = fd_posterior_draw(seed, s0, m, n, d, pr, pe)
    _raise(status, -1, 0)
    return rows, eps


def posterior_sample_logs(mu_t, istd_t, nlog_t, labels_t, int64_t n, gmax, rows, z,
                          bint pairs, bint fast, int n_threads):
    """Per sample, the log mixture densities of fd_posterior_sample_logs:
    (code [m, d], joint [m], others [m, d], factor [m, k, d], pairs [m, d(d-1)/2] or None,
    n_slow). One call, GIL released: the caller chunks the samples (Ctrl-C between calls)."""
    _array(mu_t, "mu_t")
    if mu_t.ndim != 2:
        raise ValueError(f"mu_t must be 2-D, got {mu_t.ndim}-D")
    cdef int64_t d = mu_t.shape[0], np_ = mu_t.shape[1]
    if d < 1 or n < 1 or np_ < n or np_ % 8:
        raise ValueError(f"mu_t must have shape (d >= 1, np) with np >= n = {n} a multiple of 8, "
                         f"got {mu_t.shape}")
    cdef const double *pmu = <const double *>_data(mu_t, "mu_t", np.float64, (d, np_))
    cdef const double *pis = <const double *>_data(istd_t, "istd_t", np.float64, (d, np_))
    cdef const double *pnl = <const double *>_data(nlog_t, "nlog_t", np.float64, (d, np_))
    cdef const double *pg = <const double *>_data(gmax, "gmax", np.float64, (d,))
    _array(labels_t, "labels_t")
    cdef int64_t k = labels_t.shape[0] if labels_t.ndim == 2 else -1
    cdef const int32_t *pl = <const int32_t *>_data(labels_t, "labels_t", np.int32, (k, np_))
    cdef const int64_t *pr = <const int64_t *>_data(rows, "rows", np.int64, (-1,))
    cdef int64_t m = rows.shape[0]
    cdef const double *pz = <const double *>_data(z, "z", np.float64, (m, d))
    if m and (rows.min() < 0 or rows.max() >= n):
        raise ValueError(f"rows must lie in [0, {n})")
    cdef int64_t n_pairs = d * (d - 1) // 2 if pairs else 0
    code = np.empty((m, d), dtype=np.float64)
    joint = np.empty(m, dtype=np.float64)
    others = np.empty((m, d), dtype=np.float64)
    factor = np.empty((m, k, d), dtype=np.float64)
    pair = np.empty((m, n_pairs), dtype=np.float64) if pairs else None
    cdef double *pc = <double *>cnp.PyArray_DATA(code)
    cdef double *pj = <double *>cnp.PyArray_DATA(joint)
    cdef double *po = <double *>cnp.PyArray_DATA(others)
    cdef double *pf = <double *>cnp.PyArray_DATA(factor)
    cdef double *pp = <double *>cnp.PyArray_DATA(pair) if pairs else NULL
    cdef int64_t n_slow = 0
    cdef int status
    with nogil:
        status = fd_posterior_sample_logs(pmu, pis, pnl, pl if k > 0 else NULL, n, np_, d, k,
                                          pg, pr, pz, m, pairs, fast, pc, pj, po,
                                          pf if k > 0 else NULL, pp, &n_slow, n_threads)
    if status == ERR_NOMEM:
        raise MemoryError("fastdis: out of memory in the posterior sampling kernel")
    _raise(status, -1, 0)
    return code, joint, others, factor, pair, n_slow

# ------------------------------------------------ quantised posterior (posterior_quantized.c)

cdef extern from "fastdis.h" nogil:
    int fd_quantized_tables(const double *mu, const double *std, int64_t n, int64_t d,
                            const int32_t *labels, int64_t k, int64_t n_levels,
                            const double *edges, int64_t nb, int mode, double *tables,
                            double *row_entropy, int64_t *n_fallback, int n_threads)
    int fd_quantized_pairs(const double *mu, const double *std, int64_t n, int64_t d,
                           const double *edges, int64_t nb, double *out, int n_threads)
    void fd_normal_tails(const double *t, int64_t n, double *out)
    void fd_logs(const double *x, int64_t n, double *out)

# the kernel's fixed chunk of rows (FD_QCHUNK): calls split the rows at its multiples
cdef int64_t _QCHUNK = 16384


cdef int _posterior_pair(object mu, object std) except -1:
    _data(mu, "mu", np.float64, (-1, -1))
    _data(std, "std", np.float64, tuple(mu.shape))
    if mu.shape[1] < 1:
        raise ValueError("mu must have at least one column")
    return 0


cdef const double *_quantized_edges(object edges) except NULL:
    cdef const double *pe = <const double *>_data(edges, "edges", np.float64, (-1,))
    if not 3 <= edges.shape[0] <= 1000001:
        raise ValueError(f"edges must hold n_bins + 1 values, 2 <= n_bins <= 1000000, got "
                         f"{edges.shape[0]}")
    if not np.isfinite(edges).all() or not (np.diff(edges) > 0).all():
        raise ValueError("edges must be finite and increasing")
    return pe


cdef int _quantized_status(int status, str what) except -1:
    if status == ERR_NOMEM:
        raise MemoryError(f"fastdis: out of memory in {what}")
    if status != OK:
        raise ValueError(f"fastdis: invalid arguments to {what} (a label outside "
                         f"[0, n_levels) or bad edges)")
    return 0


def quantized_tables(mu, std, labels, int64_t n_levels, edges, int mode, int n_threads):
    """Do & Tran's quantised posterior tables (csrc/posterior_quantized.c).

    mu, std: (n, d) float64 C-contiguous; labels: None or (n, k) int32 C-contiguous global
    level indices in [0, n_levels); edges: (B + 1,) increasing; mode 0 exact masses, 1 the
    authors' convention.  Returns (tables (d, 1 + n_levels, B): row 0 the summed masses, row
    1 + l those of the rows at level l; row_entropy (d,): summed row entropies; n_fallback
    (d,)).  The same for any n_threads."""
    _posterior_pair(mu, std)
    cdef const double *pe = _quantized_edges(edges)
    cdef int64_t n = mu.shape[0], d = mu.shape[1], nb = edges.shape[0] - 1, k = 0
    cdef const int32_t *pl = NULL
    if labels is not None:
        _array(labels, "labels")
        if labels.ndim != 2:
            raise ValueError(f"labels must be a 2-D array, got {labels.ndim}-D")
        k = labels.shape[1]
        pl = <const int32_t *>_data(labels, "labels", np.int32, (n, k))
    if mode not in (0, 1):
        raise ValueError(f"mode must be 0 or 1, got {mode}")
    if n_levels < 0 or (k > 0 and n_levels < 1) or n_levels > np.iinfo(np.int32).max:
        raise ValueError(f"n_levels must lie in [1, 2**31 - 1] with labels, got {n_levels}")
    if k == 0:
        n_levels = 0
    tables = np.zeros((d, 1 + n_levels, nb), dtype=np.float64)
    row_entropy = np.zeros(d, dtype=np.float64)
    n_fallback = np.zeros(d, dtype=np.int64)
    cdef double *pt = <double *>cnp.PyArray_DATA(tables)
    cdef double *ph = <double *>cnp.PyArray_DATA(row_entropy)
    cdef int64_t *pf = <int64_t *>cnp.PyArray_DATA(n_fallback)
    cdef const double *pm = <const double *>cnp.PyArray_DATA(mu)
    cdef const double *ps = <const double *>cnp.PyArray_DATA(std)
    # rows per call: whole chunks; the private tables (chunks x d x table) within ~32 MiB,
    # and a few tens of milliseconds of work between checks for Ctrl-C
    cdef int64_t table_bytes = d * (1 + n_levels) * ((nb + 7) // 8 * 8) * 8  # rows padded to 8
    cdef int64_t chunks = min((<int64_t>1 << 25) // max(table_bytes, 1),
                              _chunk_cells // (_QCHUNK * d * 16))
    cdef int64_t step = max(chunks, 1) * _QCHUNK, r0, nr
    cdef int status
    for r0 in range(0, n, step):
        nr = min(step, n - r0)
        with nogil:
            status = fd_quantized_tables(pm + r0 * d, ps + r0 * d, nr, d,
                                         pl + r0 * k if pl != NULL else NULL, k, n_levels,
                                         pe, nb, mode, pt, ph, pf, n_threads)
        _quantized_status(status, "quantized_tables")
        PyErr_CheckSignals()
    return tables, row_entropy, n_fallback


def quantized_pairs(mu, std, edges, int n_threads):
    """sum over rows of Q_r,i (outer) Q_r,j (exact masses) for every pair i < j: an array
    (d (d - 1) / 2, B, B), pairs in row-major order.  The same for any n_threads."""
    _posterior_pair(mu, std)
    cdef const double *pe = _quantized_edges(edges)
    cdef int64_t n = mu.shape[0], d = mu.shape[1], nb = edges.shape[0] - 1
    if d < 2:
        raise ValueError("quantized_pairs needs at least two codes")
    cdef int64_t n_pairs = d * (d - 1) // 2
    out = np.zeros((n_pairs, nb, nb), dtype=np.float64)
    cdef double *po = <double *>cnp.PyArray_DATA(out)
    cdef const double *pm = <const double *>cnp.PyArray_DATA(mu)
    cdef const double *ps = <const double *>cnp.PyArray_DATA(std)
    cdef int64_t step = max(256, _chunk_cells // (n_pairs * nb)), r0, nr
    cdef int status
    for r0 in range(0, n, step):
        nr = min(step, n - r0)
        with nogil:
            status = fd_quantized_pairs(pm + r0 * d, ps + r0 * d, nr, d, pe, nb, po, n_threads)
        _quantized_status(status, "quantized_pairs")
        PyErr_CheckSignals()
    return out


def normal_tails(t):
    """Phi(-|t|) by the quantised kernel's own formula (tests)."""
    cdef const double *pt = <const double *>_data(t, "t", np.float64, (-1,))
    out = np.empty(t.shape[0], dtype=np.float64)
    fd_normal_tails(pt, t.shape[0], <double *>cnp.PyArray_DATA(out))
    return out


def kernel_logs(x):
    """log(x), x > 0, by the quantised kernel's own formula (tests)."""
    cdef const double *px = <const double *>_data(x, "x", np.float64, (-1,))
    out = np.empty(x.shape[0], dtype=np.float64)
    fd_logs(px, x.shape[0], <double *>cnp.PyArray_DATA(out))
    return out

# ------------------------------------------------------------------ legacy permutation (legacy_random.c)

from libc.stdint cimport uint32_t

cdef extern from "fastdis.h" nogil:
    int fd_legacy_shuffle(uint32_t *key, int *pos, int64_t *data, int64_t hi, int64_t lo)


def legacy_permutation(random_state, int64_t n):
    """``random_state.permutation(n)`` for a ``numpy.random.RandomState``, exactly (its
    Mersenne Twister and shuffle replayed in C, swaps prefetched), advancing its state as
    numpy's does. int64 array of length n."""
    if not isinstance(random_state, np.random.RandomState):
        raise TypeError(f"random_state must be a numpy RandomState, got {type(random_state).__name__}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    name, key, pos, has_gauss, gauss = random_state.get_state()
    key = np.array(key, dtype=np.uint32)  # a copy: numpy's own is left alone until the end
    cdef uint32_t *pk = <uint32_t *>_data(key, "key", np.uint32, (624,), True)
    cdef int cpos = pos
    out = np.arange(n, dtype=np.int64)
    cdef int64_t *po = <int64_t *>cnp.PyArray_DATA(out)
    cdef int64_t hi = n, lo, step = max(<int64_t>1, _chunk_cells)
    cdef int rc = OK
    while hi > 1:
        lo = max(<int64_t>1, hi - step)
        with nogil:
            rc = fd_legacy_shuffle(pk, &cpos, po, hi, lo)
        if rc != OK:
            raise ValueError("fastdis: invalid arguments to legacy_permutation")
        hi = lo
        PyErr_CheckSignals()
    random_state.set_state((name, key, cpos, has_gauss, gauss))
    return out


cdef extern from "fastdis.h" nogil:
    ctypedef struct fd_legacy_job:
        uint32_t *key
        int pos
        int32_t *data
        int64_t n, keep, top
    int fd_legacy_jobs(fd_legacy_job *a, fd_legacy_job *b, int64_t steps, int n_threads)


def legacy_heads(streams, int n_threads):
    """The first entries of successive ``RandomState.permutation``s, exactly.

    ``streams``: at most two ``(random_state, [(n, keep), ...])``: each RandomState draws its
    permutations of ``n`` one after the other, as numpy's would, and is left where numpy
    leaves it; of each, the first ``keep`` entries are returned (int32; n < 2**31). The two
    streams (independent generators) run side by side on two threads when ``n_threads``
    allows, in pieces between which Ctrl-C is seen. Returns one list of arrays per stream."""
    cdef fd_legacy_job jobs[2]
    cdef fd_legacy_job *pj[2]
    cdef int64_t n, keep, step = max(<int64_t>1, _chunk_cells)
    cdef int s, rc, ns = len(streams)
    if ns > 2:
        raise ValueError(f"streams: at most 2, got {ns}")
    states, tasks, outs, keys, datas, nexts = [], [], [], [], [], [0, 0]
    for s in range(ns):
        random_state, sizes = streams[s]
        if not isinstance(random_state, np.random.RandomState):
            raise TypeError(f"random_state must be a numpy RandomState, got "
                            f"{type(random_state).__name__}")
        sizes = [(int(n), int(keep)) for n, keep in sizes]
        for n, keep in sizes:
            if not 0 <= keep <= n < 2**31:
                raise ValueError(f"sizes: need 0 <= keep <= n < 2**31, got ({n}, {keep})")
        name, key, pos, has_gauss, gauss = random_state.get_state()
        key = np.array(key, dtype=np.uint32)  # a copy: numpy's own is left alone until the end
        states.append([name, key, pos, has_gauss, gauss])
        tasks.append(sizes)
        outs.append([])
        keys.append(key)
        datas.append(None)
        jobs[s].key = <uint32_t *>_data(key, "key", np.uint32, (624,), True)
        jobs[s].pos = pos
        jobs[s].top = 0  # no job yet: the loop below starts the first
    while True:
        pj[0] = pj[1] = NULL
        for s in range(ns):
            while jobs[s].top < 1:  # done: keep its head, start the stream's next
                if datas[s] is not None:
                    outs[s].append(datas[s][:jobs[s].keep].copy() if jobs[s].keep < jobs[s].n
                                   else datas[s])
                    datas[s] = None
                if nexts[s] == len(tasks[s]):
                    break
                n, keep = tasks[s][nexts[s]]
                nexts[s] += 1
                datas[s] = np.arange(n, dtype=np.int32)
                jobs[s].data = <int32_t *>cnp.PyArray_DATA(datas[s])
                jobs[s].n, jobs[s].keep, jobs[s].top = n, keep, n - 1
            if jobs[s].top >= 1:
                pj[s] = &jobs[s]
        if pj[0] == NULL and (ns < 2 or pj[1] == NULL):
            break
        with nogil:
            rc = fd_legacy_jobs(pj[0], pj[1] if ns == 2 else NULL, step, n_threads)
        if rc != OK:
            raise ValueError("fastdis: invalid arguments to legacy_heads")
        PyErr_CheckSignals()
    for s in range(ns):
        states[s][2] = jobs[s].pos
        streams[s][0].set_state(tuple(states[s]))
    return outs


# ---- batches: their ranges, positions alone, given rows (csrc/sampling_batches.c, sampling_rows.c)

cdef extern from "fastdis.h" nogil:
    int fd_sample_batches_ranges(const fd_array *codes, const fd_groups *sets, int64_t n_sets,
                                 const int64_t *set_of, int mode, int64_t batch_size,
                                 uint64_t seed, const int64_t *batch_ids, int64_t n_batches,
                                 double *out, double *ranges, int n_threads)
    int fd_sample_positions(int64_t n_rows, const fd_groups *sets, int64_t n_sets,
                            const int64_t *set_of, int mode, int64_t batch_size, uint64_t seed,
                            const int64_t *batch_ids, int64_t n_batches, int64_t *pos,
                            int n_threads)
    int fd_reduce_rows(const fd_array *codes, int mode, int64_t batch_size, const int64_t *rows,
                       int64_t n_batches, double *out, double *ranges, int n_threads)


def _batch_draws(int mode, int64_t batch_size):
    """Rows per batch: batch_size for BATCH_VARIANCE, 2 * batch_size for the pairs."""
    if mode not in (BATCH_PAIR_DIFF, BATCH_VARIANCE, BATCH_PAIRS):
        raise ValueError(f"mode must be BATCH_PAIR_DIFF, BATCH_VARIANCE or BATCH_PAIRS, got {mode}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    return batch_size if mode == BATCH_VARIANCE else 2 * batch_size


def _merge_ranges(total, part):
    """Column (min, max) of two ranges, NaN kept (the kernels' rule)."""
    d = total.shape[0] // 2
    lo = np.where(np.isnan(part[:d]) | (part[:d] < total[:d]), part[:d], total[:d])
    hi = np.where(np.isnan(part[d:]) | (part[d:] > total[d:]), part[d:], total[d:])
    return np.concatenate([lo, hi])


cdef list _sets_checked(object sets, object set_of, int64_t n_batches):
    """The group sets of sample_batches_ranges / sample_positions as a list, and set_of
    checked against them (each set is checked by _groups_of)."""
    sets = list(sets)
    if len(sets) < 1:
        raise ValueError("sample_batches needs at least one set of groups")
    if set_of is not None:
        _data(set_of, "set_of", np.int64, (n_batches,))
        if n_batches and (set_of.min() < 0 or set_of.max() >= len(sets)):
            raise ValueError(f"set_of must lie in [0, {len(sets)})")
    return sets


def sample_batches_ranges(codes, sets, set_of, bint by_size, int mode, int64_t batch_size,
                          uint64_t seed, batch_ids, int n_threads, bint replace=False):
    """sample_batches_sets, and the (2, n_codes) range (min, max) of the values the batches
    read (NaN in a column where a batch's reduction is NaN: a NaN, or infinities, read)."""
    cdef fd_array ca = _describe(codes, "codes", _FLOATS)
    cdef int64_t draws = _batch_draws(mode, batch_size)
    cdef const int64_t *pid = <const int64_t *>_data(batch_ids, "batch_ids", np.int64, (-1,))
    cdef int64_t n_batches = batch_ids.shape[0], b0, nb
    sets = _sets_checked(sets, set_of, n_batches)
    cdef int64_t n_sets = len(sets)
    cdef const int64_t *pset = NULL if set_of is None else \
        <const int64_t *>_data(set_of, "set_of", np.int64, (n_batches,))
    cdef int64_t step = max(16, _chunk_cells // max(1, draws * ca.n_cols))
    cdef int status
    out = np.empty((n_batches, ca.n_cols), dtype=np.float64)
    total = np.concatenate([np.full(ca.n_cols, np.inf), np.full(ca.n_cols, -np.inf)])
    part = np.empty(2 * ca.n_cols, dtype=np.float64)
    cdef double *po = <double *>cnp.PyArray_DATA(out)
    cdef double *pr = <double *>cnp.PyArray_DATA(part)
    cdef fd_groups *gs = _groups_array(sets, ca.n_rows, by_size, replace)
    try:
        for b0 in range(0, n_batches, step):
            nb = min(step, n_batches - b0)
            with nogil:
                status = fd_sample_batches_ranges(&ca, gs, n_sets,
                                                  pset + b0 if pset != NULL else NULL, mode,
                                                  batch_size, seed, pid + b0, nb,
                                                  po + b0 * ca.n_cols, pr, n_threads)
            if status == ERR_NOMEM:
                raise MemoryError("fastdis: out of memory while sampling batches")
            if status != OK:
                raise ValueError("sample_batches: a group lies outside perm or has fewer than "
                                 "2 rows, or perm holds a row outside codes")
            total = _merge_ranges(total, part)
            PyErr_CheckSignals()
    finally:
        free(gs)
    return out, total.reshape(2, ca.n_cols)


def sample_positions(int64_t n_rows, sets, set_of, bint by_size, int mode, int64_t batch_size,
                     uint64_t seed, batch_ids, int n_threads, bint replace=False):
    """The draws of sample_batches_sets without the rows: (n_batches, draws) positions of
    each batch's rows in its set's perm (sets: (offsets, perm or None, groups, cum)), the
    pairs' first rows then their second rows."""
    cdef int64_t draws = _batch_draws(mode, batch_size)
    cdef const int64_t *pid = <const int64_t *>_data(batch_ids, "batch_ids", np.int64, (-1,))
    cdef int64_t n_batches = batch_ids.shape[0], b0, nb
    if n_rows < 0:
        raise ValueError(f"n_rows must be >= 0, got {n_rows}")
    sets = _sets_checked(sets, set_of, n_batches)
    cdef int64_t n_sets = len(sets)
    cdef const int64_t *pset = NULL if set_of is None else \
        <const int64_t *>_data(set_of, "set_of", np.int64, (n_batches,))
    cdef int64_t step = max(16, _chunk_cells // max(1, draws))
    cdef int status
    pos = np.empty((n_batches, draws), dtype=np.int64)
    cdef int64_t *pp = <int64_t *>cnp.PyArray_DATA(pos)
    cdef fd_groups *gs = _groups_array(sets, n_rows, by_size, replace)
    try:
        for b0 in range(0, n_batches, step):
            nb = min(step, n_batches - b0)
            with nogil:
                status = fd_sample_positions(n_rows, gs, n_sets,
                                             pset + b0 if pset != NULL else NULL, mode,
                                             batch_size, seed, pid + b0, nb, pp + b0 * draws,
                                             n_threads)
            if status == ERR_NOMEM:
                raise MemoryError("fastdis: out of memory while sampling batches")
            if status != OK:
                raise ValueError("sample_positions: a group lies outside the rows or has "
                                 "fewer than 2 rows")
            PyErr_CheckSignals()
    finally:
        free(gs)
    return pos


def reduce_rows(codes, int mode, int64_t batch_size, rows, int64_t n_batches, int n_threads):
    """Batches of given rows reduced as sample_batches reduces the rows it draws: rows
    (n_batches, draws) row numbers, or None for codes' rows in order (batch b: rows
    b * draws ..). Returns ((n_batches, n_codes) reductions, (2, n_codes) range read)."""
    cdef fd_array ca = _describe(codes, "codes", _FLOATS)
    cdef int64_t draws = _batch_draws(mode, batch_size)
    cdef const int64_t *prow = NULL
    if n_batches < 0:
        raise ValueError(f"n_batches must be >= 0, got {n_batches}")
    if rows is not None:
        prow = <const int64_t *>_data(rows, "rows", np.int64, (n_batches, draws))
    elif ca.n_rows < n_batches * draws:
        raise ValueError(f"codes has {ca.n_rows} rows, fewer than the {n_batches * draws} "
                         f"the batches read")
    out = np.empty((n_batches, ca.n_cols), dtype=np.float64)
    ranges = np.empty(2 * ca.n_cols, dtype=np.float64)
    cdef double *po = <double *>cnp.PyArray_DATA(out)
    cdef double *pr = <double *>cnp.PyArray_DATA(ranges)
    cdef int status
    with nogil:
        status = fd_reduce_rows(&ca, mode, batch_size, prow, n_batches, po, pr, n_threads)
    if status == ERR_NOMEM:
        raise MemoryError("fastdis: out of memory while reducing batches")
    if status != OK:
        raise ValueError("reduce_rows: a row lies outside codes")
    return out, ranges.reshape(2, ca.n_cols)
