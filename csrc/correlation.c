/* SAP's regression scores: the moment sums behind the squared correlation of every factor
 * with every code, in one pass over the rows.
 *
 * Each value is first multiplied by 2^-e of its column (exact: the caller picks e so that
 * the column lies in [-1, 1]) and shifted by the column's value in the first row, so that
 * no square overflows or underflows and large offsets lose no precision.  Rows are summed
 * in blocks of FD_MOMENT_BLOCK; the blocks' partial sums are then added in block order, so
 * the sums do not depend on the number of threads, nor on how the rows are split between
 * calls at block boundaries (the binding does, to check for Ctrl-C between calls).
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define FD_MOMENT_BLOCK 1024

/* out[i * ncol + c] = x(row i, column c) * sa[c] * sb[c] - shift[c] for nr rows (sb NULL:
 * all 1): one loop per element type, so that the hot loop carries no dispatch. */
#define FD_DEFINE_SCALED(SUF, T)                                                       \
    static void fd_scaled_##SUF(const void *xv, int64_t rs, int64_t cs, int64_t nr,    \
                                int64_t ncol, const double *sa, const double *sb,      \
                                const double *shift, double *out)                      \
    {                                                                                  \
        const T *x = (const T *)xv;                                                    \
        if (!sb) { /* one factor: the common case */                                   \
            for (int64_t i = 0; i < nr; i++)                                           \
                for (int64_t c = 0; c < ncol; c++)                                     \
                    out[i * ncol + c] = (double)x[i * rs + c * cs] * sa[c] - shift[c]; \
            return;                                                                    \
        }                                                                              \
        for (int64_t i = 0; i < nr; i++)                                               \
            for (int64_t c = 0; c < ncol; c++)                                         \
                out[i * ncol + c] = (double)x[i * rs + c * cs] * sa[c] * sb[c] - shift[c]; \
    }
FD_FOR_INT_TYPES(FD_DEFINE_SCALED)
FD_DEFINE_SCALED(f32, float)
FD_DEFINE_SCALED(f64, double)

static void fd_scaled_block(const fd_array *a, int64_t r0, int64_t nr, const double *sa,
                            const double *sb, const double *shift, double *out)
{
    const char *x = (const char *)a->data + r0 * a->row_stride * fd_itemsize(a->dtype);
    const int64_t rs = a->row_stride, cs = a->col_stride, m = a->n_cols;
    switch (a->dtype) {
    case FD_INT8: fd_scaled_i8(x, rs, cs, nr, m, sa, sb, shift, out); break;
    case FD_INT16: fd_scaled_i16(x, rs, cs, nr, m, sa, sb, shift, out); break;
    case FD_INT32: fd_scaled_i32(x, rs, cs, nr, m, sa, sb, shift, out); break;
    case FD_INT64: fd_scaled_i64(x, rs, cs, nr, m, sa, sb, shift, out); break;
    case FD_UINT8: fd_scaled_u8(x, rs, cs, nr, m, sa, sb, shift, out); break;
    case FD_UINT16: fd_scaled_u16(x, rs, cs, nr, m, sa, sb, shift, out); break;
    case FD_UINT32: fd_scaled_u32(x, rs, cs, nr, m, sa, sb, shift, out); break;
    case FD_UINT64: fd_scaled_u64(x, rs, cs, nr, m, sa, sb, shift, out); break;
    case FD_FLOAT32: fd_scaled_f32(x, rs, cs, nr, m, sa, sb, shift, out); break;
    default: fd_scaled_f64(x, rs, cs, nr, m, sa, sb, shift, out); break;
    }
}

/* 2^-e as two factors, each a normal double, whose product with x is x 2^-e (rounded once
 * unless the result is subnormal); b = 1 unless 2^-e itself is not a normal double. */
static void fd_split_scale(int64_t e, double *a, double *b)
{
    const int64_t h = (e >= -1000 && e <= 1000) ? -e : -e / 2;
    *a = ldexp(1.0, (int)h);
    *b = ldexp(1.0, (int)(-e - h));
}

/* NULL if every factor of b is 1 (the common case: one multiplication). */
static const double *fd_second_scale(const double *b, int64_t m)
{
    for (int64_t i = 0; i < m; i++)
        if (b[i] != 1.0) return b;
    return NULL;
}

/* The sums of nr rows of f (nr x k) and z (nr x d) into p = [sf, sff, sz, szz, sfz]:
 * distinct arrays, so the loops over columns vectorise.  Element-wise only (no sum is
 * split across lanes), so every vector width gives the same bits. */
#define FD_DEFINE_BLOCK_SUMS(NAME, ATTR)                                                \
    ATTR static void NAME(const double *FD_RESTRICT f, const double *FD_RESTRICT z,     \
                          int64_t nr, int64_t k, int64_t d, double *FD_RESTRICT p)      \
    {                                                                                   \
        double *FD_RESTRICT sf = p, *FD_RESTRICT sff = p + k, *FD_RESTRICT sz = p + 2 * k; \
        double *FD_RESTRICT szz = sz + d, *FD_RESTRICT sfz = szz + d;                   \
        int64_t r = 0;                                                                  \
        for (; r + 2 <= nr; r += 2) { /* two rows per update of the sums in memory */   \
            const double *FD_RESTRICT fa = f + r * k, *FD_RESTRICT fb = fa + k;         \
            const double *FD_RESTRICT za = z + r * d, *FD_RESTRICT zb = za + d;         \
            for (int64_t c = 0; c < k; c++) {                                           \
                sf[c] += fa[c] + fb[c];                                                 \
                sff[c] += fa[c] * fa[c] + fb[c] * fb[c];                                \
            }                                                                           \
            for (int64_t j = 0; j < d; j++) {                                           \
                sz[j] += za[j] + zb[j];                                                 \
                szz[j] += za[j] * za[j] + zb[j] * zb[j];                                \
            }                                                                           \
            for (int64_t c = 0; c < k; c++) {                                           \
                const double ca = fa[c], cb = fb[c];                                    \
                double *FD_RESTRICT row = sfz + c * d;                                  \
                for (int64_t j = 0; j < d; j++) row[j] += ca * za[j] + cb * zb[j];      \
            }                                                                           \
        }                                                                               \
        for (; r < nr; r++) {                                                           \
            const double *FD_RESTRICT fr = f + r * k, *FD_RESTRICT zr = z + r * d;      \
            for (int64_t c = 0; c < k; c++) { sf[c] += fr[c]; sff[c] += fr[c] * fr[c]; } \
            for (int64_t j = 0; j < d; j++) { sz[j] += zr[j]; szz[j] += zr[j] * zr[j]; } \
            for (int64_t c = 0; c < k; c++) {                                           \
                const double fc = fr[c];                                                \
                double *FD_RESTRICT row = sfz + c * d;                                  \
                for (int64_t j = 0; j < d; j++) row[j] += fc * zr[j];                   \
            }                                                                           \
        }                                                                               \
    }
FD_DEFINE_BLOCK_SUMS(fd_block_sums_base, )
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(FASTDIS_NO_SIMD)
/* the same loops compiled for AVX2 (four doubles a step), used when the CPU has it */
FD_DEFINE_BLOCK_SUMS(fd_block_sums_avx2, __attribute__((target("avx2"))))
#define FD_BLOCK_SUMS(avx2) ((avx2) ? fd_block_sums_avx2 : fd_block_sums_base)
#else
#define FD_BLOCK_SUMS(avx2) fd_block_sums_base
#endif

int fd_cross_moments(const fd_array *factors, const fd_array *codes, const int64_t *ef,
                     const int64_t *ez, const double *f0, const double *z0, double *sums,
                     int n_threads)
{
    const int64_t n = codes->n_rows, d = codes->n_cols, k = factors->n_cols;
    const int64_t width = 2 * k + 2 * d + k * d; /* sf, sff, sz, szz, sfz */
    const int64_t n_blocks = (n + FD_MOMENT_BLOCK - 1) / FD_MOMENT_BLOCK;
    double *partial, *scale;
    int nomem = 0;
    const int avx2 = fd_avx2_available();
    int nt = fd_resolve_threads(n_threads, n);
    (void)nt; /* used by OpenMP only */
    (void)avx2;
    if (factors->n_rows != n || d < 1 || k < 1 || codes->dtype < FD_FLOAT32) return FD_ERR_ARGUMENT;
    if (n == 0) return FD_OK;
    partial = (double *)malloc(sizeof(double) * (size_t)(n_blocks * width));
    scale = (double *)malloc(sizeof(double) * (size_t)(2 * (k + d)));
    if (!partial || !scale) { free(partial); free(scale); return FD_ERR_NOMEM; }
    for (int64_t c = 0; c < k; c++) fd_split_scale(ef[c], scale + c, scale + k + c);
    for (int64_t j = 0; j < d; j++) fd_split_scale(ez[j], scale + 2 * k + j, scale + 2 * k + d + j);

#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        double *f = (double *)malloc(sizeof(double) * (size_t)(FD_MOMENT_BLOCK * (k + d)));
        double *z = f ? f + FD_MOMENT_BLOCK * k : NULL;
        const int ok = f != NULL;
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int64_t blk = 0; blk < n_blocks; blk++) {
            double *p = partial + blk * width;
            const int64_t r0 = blk * FD_MOMENT_BLOCK, nr = fd_min64(FD_MOMENT_BLOCK, n - r0);
            if (!ok) continue;
            memset(p, 0, sizeof(double) * (size_t)width);
            fd_scaled_block(factors, r0, nr, scale, fd_second_scale(scale + k, k), f0, f);
            fd_scaled_block(codes, r0, nr, scale + 2 * k, fd_second_scale(scale + 2 * k + d, d),
                            z0, z);
            FD_BLOCK_SUMS(avx2)(f, z, nr, k, d, p);
        }
#ifdef _OPENMP
#pragma omp critical(fd_moments_merge)
#endif
        if (!ok) nomem = 1;
        free(f);
    }
    if (!nomem)
        for (int64_t blk = 0; blk < n_blocks; blk++)
            for (int64_t i = 0; i < width; i++) sums[i] += partial[blk * width + i];
    free(partial);
    free(scale);
    return nomem ? FD_ERR_NOMEM : FD_OK;
}
