/* Private helpers shared by the kernels: typed block loaders and the bin search.
 *
 * Loops over rows are written once per element type (macros below) so that the
 * inner loops carry no dtype dispatch; the dispatch happens once per block. */
#ifndef FASTDIS_COMMON_H
#define FASTDIS_COMMON_H

#include <math.h>
#include <stdint.h>

#include "fastdis.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* Bin labels must equal numpy's: no contraction of x*scale+offset into an FMA. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#if defined(_MSC_VER)
#define FD_RESTRICT __restrict
#else
#define FD_RESTRICT restrict
#endif

/* Rows handled per block: per-thread scratch stays in L1/L2. */
#define FD_BLOCK 256

static inline int64_t fd_min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Elementary operations (an element read and folded) per thread below which a parallel
 * region runs on fewer threads: 2^19 take ~0.3 ms, so a split saves at most that, while
 * a region whose team waits at its barrier for a descheduled thread (a loaded machine)
 * loses a scheduler time slice, milliseconds. */
#define FD_TEAM_WORK ((int64_t)1 << 19)

/* Team size for a parallel region of `work` elementary operations, given the resolved
 * thread count (fd_resolve_threads): one thread per FD_TEAM_WORK, at most n_threads.
 * Kernels' results never depend on the team size (fixed-order merges), only their speed. */
static inline int fd_team(int n_threads, int64_t work)
{
    const int64_t cap = work / FD_TEAM_WORK;
    if (cap <= 1) return 1;
    return cap < (int64_t)n_threads ? (int)cap : n_threads;
}

/* Bytes per element of an fd_array's dtype. */
static inline int64_t fd_itemsize(int dtype)
{
    switch (dtype) {
    case FD_INT8: case FD_UINT8: return 1;
    case FD_INT16: case FD_UINT16: return 2;
    case FD_INT32: case FD_UINT32: case FD_FLOAT32: return 4;
    default: return 8;
    }
}

/* One element of a float32/float64 array, as double (for loops that are not hot enough
 * to be written per type). */
static inline double fd_load_float(const void *base, int dtype, int64_t idx)
{
    return dtype == FD_FLOAT32 ? (double)((const float *)base)[idx] : ((const double *)base)[idx];
}

/* clamp(g, 0, top) without branches, NaN -> 0.  Compilers keep `a > b ? a : b` as
 * a branch (they may not assume no NaN), so x86 uses maxsd/minsd directly: they
 * return the second operand when the first is NaN. */
#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>
static inline double fd_clamp(double g, double top)
{
    __m128d v = _mm_max_sd(_mm_set_sd(g), _mm_setzero_pd());
    return _mm_cvtsd_f64(_mm_min_sd(v, _mm_set_sd(top)));
}
#else
static inline double fd_clamp(double g, double top)
{
    g = g > 0.0 ? g : 0.0;
    return g < top ? g : top;
}
#endif

/* Counter-based random numbers (splitmix64): stream `stream` of generator `seed`, the same
 * whichever thread draws it. */

typedef struct { uint64_t s; } fd_rng;

static inline uint64_t fd_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline fd_rng fd_rng_for(uint64_t seed, uint64_t stream)
{
    fd_rng r;
    r.s = fd_mix64(seed ^ fd_mix64(stream + 0x9e3779b97f4a7c15ULL));
    return r;
}

static inline uint64_t fd_next(fd_rng *r)
{
    r->s += 0x9e3779b97f4a7c15ULL;
    return fd_mix64(r->s);
}

/* Uniform integer in [0, m), m >= 1, without modulo bias. */
static inline int64_t fd_below(fd_rng *r, int64_t m)
{
    const uint64_t um = (uint64_t)m, threshold = (0 - um) % um;
    uint64_t x;
    do x = fd_next(r); while (x < threshold);
    return (int64_t)(x % um);
}

/* Label of t among uniform edges e[0..nb]: np.digitize(t, e[:-1]) - 1, clamped to
 * [0, nb-1].  The position g = (t - e[0]) * inv_w is within `tol` bins of t's
 * true position among the edges (fd_binning.tol), so floor(g) is the label unless
 * g lies within tol of an integer; only then are the exact edges compared.
 * The clamp sends NaN to 0: (int)g is always defined and e[b] always in bounds. */
static inline uint32_t fd_bin_uniform(double t, const double *e, int nb, double inv_w,
                                      double top, double tol)
{
    double g = (t - e[0]) * inv_w;
    int b;
    g = fd_clamp(g, top); /* top = nb - 0.5: the middle of the last bin */
    b = (int)g;
    if (fabs((g - (double)b) - 0.5) > 0.5 - tol) {
        if (b > 0 && t < e[b]) {
            do b--; while (b > 0 && t < e[b]);
        } else if (b < nb - 1 && t >= e[b + 1]) {
            do b++; while (b < nb - 1 && t >= e[b + 1]);
        }
    }
    return (uint32_t)b;
}

/* The same for any sorted edges: the last b in [0, nb-1] with e[b] <= t, 0 if none. */
static inline uint32_t fd_bin_search(double t, const double *e, int nb)
{
    int lo = 0, hi = nb - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) >> 1;
        if (e[mid] <= t) lo = mid; else hi = mid - 1;
    }
    return (uint32_t)lo;
}

static inline double fd_inv_width(const fd_binning *bins, int64_t j)
{
    const double *e = bins->edges + j * (bins->n_bins + 1);
    double w = e[bins->n_bins] - e[0];
    return (bins->uniform && w > 0.0 && isfinite(w)) ? (double)bins->n_bins / w : 0.0;
}

static inline double fd_tolerance(const fd_binning *bins, int64_t j)
{
    return bins->uniform ? bins->tol[j] : 1.0;
}

/* out[r * os] = add + label of rows r0 .. r0+nr-1 of code column j.
 *
 * Without CHECK the caller has already rejected NaN/inf (the min/max pass that
 * made the edges did), so the loop only bins; a NaN that slips through still
 * lands in a valid bin.  With CHECK (caller-given range), values outside the
 * range -- NaN and inf included -- are reported, NaN/inf as FD_ERR_NONFINITE. */
#define FD_DEFINE_BIN_BLOCK(NAME, T, CHECK, UNIFORM)                                   \
    static int NAME(const void *xv, int64_t rs, const double *e, int nb, double sc,    \
                    double off, double inv_w, double tol, int64_t nr, uint32_t *out,   \
                    int64_t os, uint32_t add)                                          \
    {                                                                                  \
        const T *x = (const T *)xv;                                                    \
        const double lo = e[0], hi = e[nb], top = (double)nb - 0.5;                    \
        int outside = 0;                                                               \
        for (int64_t r = 0; r < nr; r++) {                                             \
            double t = (double)x[r * rs] * sc;                                         \
            t = t + off;                                                               \
            if (CHECK) outside |= !(t >= lo && t <= hi);                               \
            out[r * os] = add + (UNIFORM ? fd_bin_uniform(t, e, nb, inv_w, top, tol)   \
                                         : fd_bin_search(t, e, nb));                   \
        }                                                                              \
        if (outside) {                                                                 \
            for (int64_t r = 0; r < nr; r++)                                           \
                if (!isfinite((double)x[r * rs])) return FD_ERR_NONFINITE;             \
            return FD_ERR_OUT_OF_RANGE;                                                \
        }                                                                              \
        return FD_OK;                                                                  \
    }
FD_DEFINE_BIN_BLOCK(fd_bin_f64_u, double, 0, 1)
FD_DEFINE_BIN_BLOCK(fd_bin_f64_uc, double, 1, 1)
FD_DEFINE_BIN_BLOCK(fd_bin_f64_s, double, 0, 0)
FD_DEFINE_BIN_BLOCK(fd_bin_f64_sc, double, 1, 0)
FD_DEFINE_BIN_BLOCK(fd_bin_f32_u, float, 0, 1)
FD_DEFINE_BIN_BLOCK(fd_bin_f32_uc, float, 1, 1)
FD_DEFINE_BIN_BLOCK(fd_bin_f32_s, float, 0, 0)
FD_DEFINE_BIN_BLOCK(fd_bin_f32_sc, float, 1, 0)

typedef int (*fd_bin_fn)(const void *, int64_t, const double *, int, double, double, double,
                         double, int64_t, uint32_t *, int64_t, uint32_t);

static inline int fd_bin_block(const fd_array *codes, const fd_binning *bins, int64_t j,
                               int64_t r0, int64_t nr, uint32_t *out, int64_t os, uint32_t add)
{
    /* [float32?][check?][uniform?] */
    static const fd_bin_fn table[2][2][2] = {
        {{fd_bin_f64_s, fd_bin_f64_u},
         {fd_bin_f64_sc, fd_bin_f64_uc}},
        {{fd_bin_f32_s, fd_bin_f32_u},
         {fd_bin_f32_sc, fd_bin_f32_uc}},
    };
    const int nb = bins->n_bins;
    const int f32 = codes->dtype == FD_FLOAT32;
    const char *x = (const char *)codes->data +
                    (r0 * codes->row_stride + j * codes->col_stride) * fd_itemsize(codes->dtype);
    const double iw = fd_inv_width(bins, j);
    const double tol = fd_tolerance(bins, j);
    const int uniform = iw > 0.0 && tol < 0.25;
    return table[f32][bins->check_range ? 1 : 0][uniform](
        x, codes->row_stride, bins->edges + j * (nb + 1), nb, bins->scale[j], bins->offset[j],
        iw, tol, nr, out, os, add);
}

/* binning_avx2.c: row-wise binning of C-ordered blocks, when the CPU has AVX2 and every
 * column's edges suit it; fd_rowbins_new returns NULL otherwise (use fd_bin_block). */
typedef struct fd_rowbins fd_rowbins;
fd_rowbins *fd_rowbins_new(const fd_array *codes, const fd_binning *bins);
void fd_rowbins_free(fd_rowbins *rb);
/* out[r * n_codes + j] = j * n_bins + label of row r0 + r, code j.  With a checked range,
 * returns 1 when some value lies outside it (NaN included): the caller then re-bins the
 * block with fd_bin_block to find which error and column. */
int fd_bin_rows_avx2(const fd_array *codes, const fd_rowbins *rb, int64_t r0, int64_t nr,
                     uint32_t *out);
/* Fold rows r0 .. r0+nr-1 of a C-ordered block into lo/hi[n_codes] with AVX2 (the caller
 * checks fd_avx2_available); returns 1 if a value is NaN or inf. */
int fd_minmax_rows_avx2(const fd_array *codes, int64_t r0, int64_t nr, double *lo, double *hi);

/* Expand MACRO(suffix, C type) for every integer element type. */
#define FD_FOR_INT_TYPES(MACRO)                                                        \
    MACRO(i8, int8_t) MACRO(i16, int16_t) MACRO(i32, int32_t) MACRO(i64, int64_t)      \
    MACRO(u8, uint8_t) MACRO(u16, uint16_t) MACRO(u32, uint32_t) MACRO(u64, uint64_t)

/* Position of the value x in a table whose first entry is the value vmin: x - vmin,
 * computed in uint64 so that no subtraction overflows.  A value outside the table gives
 * a position >= its length, provided the table's values fit in int64 (fd_table_fits):
 * for x < vmin the wrapped difference is >= 2^63 - vmin >= the length, and uint64
 * values above INT64_MAX, which no table holds, give UINT64_MAX.  Callers compare the
 * result with (uint64_t)length, so data values can never index outside the table. */
#define FD_DEFINE_REL(SUF, T)                                                          \
    static inline uint64_t fd_rel_##SUF(T x, int64_t vmin)                             \
    {                                                                                  \
        return (uint64_t)x - (uint64_t)vmin; /* signed x converts modulo 2^64 */       \
    }
FD_DEFINE_REL(i8, int8_t) FD_DEFINE_REL(i16, int16_t) FD_DEFINE_REL(i32, int32_t)
FD_DEFINE_REL(i64, int64_t) FD_DEFINE_REL(u8, uint8_t) FD_DEFINE_REL(u16, uint16_t)
FD_DEFINE_REL(u32, uint32_t)
static inline uint64_t fd_rel_u64(uint64_t x, int64_t vmin)
{
    return x > (uint64_t)INT64_MAX ? UINT64_MAX : x - (uint64_t)vmin;
}

/* Whether a table of len entries for the values vmin .. vmin + len - 1 is well formed:
 * len >= 0 and its last value fits in int64 (what fd_rel needs to be exact). */
static inline int fd_table_fits(int64_t vmin, int64_t len)
{
    return len >= 0 && (len == 0 || vmin <= INT64_MAX - (len - 1));
}

/* Whether level tables of k factors are well formed: every lookup table fits
 * (fd_table_fits) and lies inside lut[0 .. lut_size), and every level count is in
 * [0, INT32_MAX].  Entries of the table outside [0, n_levels) are treated as "no level"
 * by the lookups, so a bad table can give an error, never an out-of-bounds count. */
static inline int fd_levels_ok(const fd_levels *lv, int64_t k)
{
    for (int64_t c = 0; c < k; c++)
        if (!fd_table_fits(lv->vmin[c], lv->lut_len[c]) || lv->lut_offset[c] < 0 ||
            lv->lut_len[c] > lv->lut_size - lv->lut_offset[c] ||
            lv->n_levels[c] < 0 || lv->n_levels[c] > INT32_MAX)
            return 0;
    return 1;
}

/* Level of value x of factor column c (0 .. n_levels[c] - 1), or -1 for a value that has
 * none -- also for a table entry outside [0, n_levels[c]), so that levels index
 * tables safely whatever the table holds. */
#define FD_DEFINE_LOOKUP(SUF, T)                                                       \
    static inline int32_t fd_lookup_##SUF(T x, const fd_levels *lv, int64_t c)         \
    {                                                                                  \
        const uint64_t v = fd_rel_##SUF(x, lv->vmin[c]);                               \
        const int32_t level = v < (uint64_t)lv->lut_len[c] ? lv->lut[lv->lut_offset[c] + (int64_t)v] : -1; \
        return (uint32_t)level < (uint64_t)lv->n_levels[c] ? level : -1;               \
    }
FD_FOR_INT_TYPES(FD_DEFINE_LOOKUP)

/* The first error of a parallel pass: the lowest column, then the lowest code.  Each
 * thread keeps its own and merges it under a critical section, so the result does not
 * depend on how many threads ran or which rows each got. */
typedef struct {
    int err;
    int64_t col;
} fd_err;

static inline void fd_err_keep_first(fd_err *acc, int err, int64_t col)
{
    if (err && (!acc->err || col < acc->col || (col == acc->col && err < acc->err))) {
        acc->err = err; acc->col = col;
    }
}

/* Call FN_<suffix>(args...) for the integer dtype of an fd_array. */
#define FD_INT_DISPATCH(dtype, FN, ...)                                                \
    switch (dtype) {                                                                   \
    case FD_INT8: FN##_i8(__VA_ARGS__); break;                                         \
    case FD_INT16: FN##_i16(__VA_ARGS__); break;                                       \
    case FD_INT32: FN##_i32(__VA_ARGS__); break;                                       \
    case FD_INT64: FN##_i64(__VA_ARGS__); break;                                       \
    case FD_UINT8: FN##_u8(__VA_ARGS__); break;                                        \
    case FD_UINT16: FN##_u16(__VA_ARGS__); break;                                      \
    case FD_UINT32: FN##_u32(__VA_ARGS__); break;                                      \
    default: FN##_u64(__VA_ARGS__); break;                                             \
    }

/* Row-wise variant for row-major factors: out[r * k + c] = (level_off[c] + level) * mult.
 * Returns the lowest column holding an unknown value, or k. */
#define FD_DEFINE_LEVEL_ROWS(SUF, T)                                                   \
    static inline int64_t fd_level_rows_##SUF(const void *xv, int64_t rs, int64_t cs,  \
                                       int64_t nr, int64_t k, const fd_levels *lv,     \
                                       const int64_t *level_off, uint32_t mult,        \
                                       uint32_t *out)                                  \
    {                                                                                  \
        const T *x = (const T *)xv;                                                    \
        int64_t bad = k;                                                               \
        for (int64_t r = 0; r < nr; r++) {                                             \
            const T *row = x + r * rs;                                                 \
            uint32_t *o = out + r * k;                                                 \
            for (int64_t c = 0; c < k; c++) {                                          \
                int32_t level = fd_lookup_##SUF(row[c * cs], lv, c);                   \
                if (level < 0) { bad = c < bad ? c : bad; level = 0; }                 \
                o[c] = (uint32_t)((level_off[c] + level) * (int64_t)mult);             \
            }                                                                          \
        }                                                                              \
        return bad;                                                                    \
    }
FD_FOR_INT_TYPES(FD_DEFINE_LEVEL_ROWS)

static inline int64_t fd_level_rows(const fd_array *f, const fd_levels *lv, int64_t r0, int64_t nr,
                             const int64_t *level_off, uint32_t mult, uint32_t *out)
{
    const char *x = (const char *)f->data + r0 * f->row_stride * fd_itemsize(f->dtype);
    int64_t bad = f->n_cols;
    FD_INT_DISPATCH(f->dtype, bad = fd_level_rows, (const void *)x, f->row_stride,
                    f->col_stride, nr, f->n_cols, lv, level_off, mult, out)
    return bad;
}

#endif
