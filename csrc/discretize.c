/* Code columns: min/max with a finiteness check, and binning to integer labels. */
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* Fold rows r0..r1-1 into lo/hi[d]; returns 1 if a value is NaN or inf.
 * Row-major when columns are contiguous (the common C-ordered case). */
#define FD_DEFINE_MINMAX_BLOCK(NAME, T)                                                \
    static int NAME(const T *x, int64_t rs, int64_t cs, int64_t d, int64_t nr,         \
                    double *lo, double *hi, int64_t *bad_col)                          \
    {                                                                                  \
        int bad = 0;                                                                   \
        if (cs == 1) {                                                                 \
            for (int64_t r = 0; r < nr; r++) {                                         \
                const T *row = x + r * rs;                                             \
                for (int64_t j = 0; j < d; j++) {                                      \
                    double v = (double)row[j];                                         \
                    lo[j] = v < lo[j] ? v : lo[j];                                     \
                    hi[j] = v > hi[j] ? v : hi[j];                                     \
                    bad |= !isfinite(v);                                               \
                }                                                                      \
            }                                                                          \
        } else {                                                                       \
            for (int64_t j = 0; j < d; j++) {                                          \
                const T *col = x + j * cs;                                             \
                double l = lo[j], h = hi[j];                                           \
                int b = 0;                                                             \
                for (int64_t r = 0; r < nr; r++) {                                     \
                    double v = (double)col[r * rs];                                    \
                    l = v < l ? v : l;                                                 \
                    h = v > h ? v : h;                                                 \
                    b |= !isfinite(v);                                                 \
                }                                                                      \
                lo[j] = l; hi[j] = h;                                                  \
                bad |= b;                                                              \
            }                                                                          \
        }                                                                              \
        if (bad) { /* rare: find the lowest offending column */                       \
            for (int64_t j = 0; j < d && j < *bad_col; j++)                            \
                for (int64_t r = 0; r < nr; r++)                                       \
                    if (!isfinite((double)x[r * rs + j * cs])) { *bad_col = j; break; } \
        }                                                                              \
        return bad;                                                                    \
    }
FD_DEFINE_MINMAX_BLOCK(fd_minmax_block_f64, double)
FD_DEFINE_MINMAX_BLOCK(fd_minmax_block_f32, float)

int fd_code_minmax(const fd_array *codes, double *mins, double *maxs,
                   int64_t *err_col, int n_threads)
{
    const int64_t n = codes->n_rows, d = codes->n_cols;
    const int64_t n_blocks = (n + FD_BLOCK - 1) / FD_BLOCK;
    int64_t first_bad = d; /* lowest column holding a NaN/inf */
    int nomem = 0;
    int nt = fd_team(fd_resolve_threads(n_threads, n), n * d);
    (void)nt; /* used by OpenMP only */
    const int simd = codes->col_stride == 1 && fd_avx2_available();

    for (int64_t j = 0; j < d; j++) { mins[j] = INFINITY; maxs[j] = -INFINITY; }

#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        double *lo = (double *)malloc(sizeof(double) * (size_t)(2 * d + 1));
        double *hi = lo ? lo + d : NULL;
        int64_t bad = d;
        if (lo) {
            for (int64_t j = 0; j < d; j++) { lo[j] = INFINITY; hi[j] = -INFINITY; }
        }
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int64_t blk = 0; blk < n_blocks; blk++) {
            const int64_t r0 = blk * FD_BLOCK, nr = fd_min64(FD_BLOCK, n - r0);
            const int64_t at = r0 * codes->row_stride;
            if (!lo) continue;
            if (simd) {
                if (fd_minmax_rows_avx2(codes, r0, nr, lo, hi)) /* rare: name the column */
                    for (int64_t j = 0; j < d && j < bad; j++)
                        for (int64_t r = 0; r < nr; r++)
                            if (!isfinite(fd_load_float(codes->data, codes->dtype,
                                                        (r0 + r) * codes->row_stride + j))) {
                                bad = j;
                                break;
                            }
            } else if (codes->dtype == FD_FLOAT32)
                fd_minmax_block_f32((const float *)codes->data + at, codes->row_stride,
                                    codes->col_stride, d, nr, lo, hi, &bad);
            else
                fd_minmax_block_f64((const double *)codes->data + at, codes->row_stride,
                                    codes->col_stride, d, nr, lo, hi, &bad);
        }
#ifdef _OPENMP
#pragma omp critical(fd_minmax_merge)
#endif
        {
            if (!lo) nomem = 1;
            else {
                if (bad < first_bad) first_bad = bad;
                for (int64_t j = 0; j < d; j++) {
                    if (lo[j] < mins[j]) mins[j] = lo[j];
                    if (hi[j] > maxs[j]) maxs[j] = hi[j];
                }
            }
        }
        free(lo);
    }
    if (nomem) return FD_ERR_NOMEM;
    if (first_bad < d) { *err_col = first_bad; return FD_ERR_NONFINITE; }
    return FD_OK;
}

int fd_discretize(const fd_array *codes, const fd_binning *bins,
                  void *out, int out_itemsize, int64_t *err_col, int n_threads)
{
    const int64_t n = codes->n_rows, d = codes->n_cols;
    const int64_t n_blocks = (n + FD_BLOCK - 1) / FD_BLOCK;
    int nt = fd_team(fd_resolve_threads(n_threads, n), n * d);
    (void)nt; /* used by OpenMP only */
    const int64_t nb = bins->n_bins;
    int nomem = 0;
    fd_err first = {0, 0};
    fd_rowbins *rowbins;

    if (bins->n_bins < 1 || bins->n_bins > 65536 || (out_itemsize == 1 && bins->n_bins > 256))
        return FD_ERR_ARGUMENT;

    rowbins = fd_rowbins_new(codes, bins);
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        uint32_t *buf = (uint32_t *)malloc(sizeof(uint32_t) * FD_BLOCK * (size_t)d);
        fd_err my = {0, 0};
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int64_t blk = 0; blk < n_blocks; blk++) {
            const int64_t r0 = blk * FD_BLOCK, nr = fd_min64(FD_BLOCK, n - r0);
            if (!buf) continue;
            /* buf[r * d + j] = j*nb + label; scalar for a block with an out-of-range value */
            if (!rowbins || fd_bin_rows_avx2(codes, rowbins, r0, nr, buf)) {
                for (int64_t j = 0; j < d; j++) {
                    fd_err_keep_first(&my, fd_bin_block(codes, bins, j, r0, nr, buf + j, d,
                                                        (uint32_t)(j * nb)), j);
                }
            }
            for (int64_t r = 0; r < nr; r++) {
                const uint32_t *b = buf + r * d;
                if (out_itemsize == 1) {
                    uint8_t *o = (uint8_t *)out + (r0 + r) * d;
                    for (int64_t j = 0; j < d; j++) o[j] = (uint8_t)(b[j] - j * nb);
                } else {
                    uint16_t *o = (uint16_t *)out + (r0 + r) * d;
                    for (int64_t j = 0; j < d; j++) o[j] = (uint16_t)(b[j] - j * nb);
                }
            }
        }
#ifdef _OPENMP
#pragma omp critical(fd_discretize_merge)
#endif
        {
            if (!buf) nomem = 1;
            fd_err_keep_first(&first, my.err, my.col);
        }
        free(buf);
    }
    fd_rowbins_free(rowbins);
    if (nomem) return FD_ERR_NOMEM;
    if (first.err) { *err_col = first.col; return first.err; }
    return FD_OK;
}
