/* Code columns: min/max with a finiteness check, and binning to integer labels. */
#include <stdlib.h>
#include <string.h>

#include "common.h"

int fd_code_minmax(const fd_array *codes, double *mins, double *maxs,
                   int64_t *err_col, int n_threads)
{
    const int64_t n = codes->n_rows, d = codes->n_cols;
    int64_t first_bad = d; /* lowest column holding a NaN/inf */
    int64_t n_blocks = (n + FD_BLOCK - 1) / FD_BLOCK;
    int nt = fd_resolve_threads(n_threads, n);

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
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
            for (int64_t blk = 0; blk < n_blocks; blk++) {
                int64_t r0 = blk * FD_BLOCK, r1 = r0 + FD_BLOCK < n ? r0 + FD_BLOCK : n;
                for (int64_t j = 0; j < d; j++) {
                    double l = lo[j], h = hi[j];
                    int64_t idx = r0 * codes->row_stride + j * codes->col_stride;
                    int finite = 1;
                    for (int64_t r = r0; r < r1; r++, idx += codes->row_stride) {
                        double x = fd_load_float(codes->data, codes->dtype, idx);
                        finite &= isfinite(x) ? 1 : 0;
                        l = x < l ? x : l;
                        h = x > h ? x : h;
                    }
                    lo[j] = l; hi[j] = h;
                    if (!finite && j < bad) bad = j;
                }
            }
        } else {
            bad = -1; /* out of memory */
        }
#ifdef _OPENMP
#pragma omp critical(fd_minmax_merge)
#endif
        {
            if (bad < first_bad) first_bad = bad;
            if (lo) {
                for (int64_t j = 0; j < d; j++) {
                    if (lo[j] < mins[j]) mins[j] = lo[j];
                    if (hi[j] > maxs[j]) maxs[j] = hi[j];
                }
            }
        }
        free(lo);
    }
    if (first_bad < 0) return FD_ERR_NOMEM;
    if (first_bad < d) { *err_col = first_bad; return FD_ERR_NONFINITE; }
    return FD_OK;
}

int fd_discretize(const fd_array *codes, const fd_binning *bins,
                  void *out, int out_itemsize, int64_t *err_col, int n_threads)
{
    const int64_t n = codes->n_rows, d = codes->n_cols;
    int64_t n_blocks = (n + FD_BLOCK - 1) / FD_BLOCK;
    int nt = fd_resolve_threads(n_threads, n);
    int first_err = 0;
    int64_t first_col = d;

    if (bins->n_bins < 1 || bins->n_bins > 65536 || (out_itemsize == 1 && bins->n_bins > 256))
        return FD_ERR_ARGUMENT;

#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        uint16_t *buf = (uint16_t *)malloc(sizeof(uint16_t) * FD_BLOCK);
        int my_err = buf ? 0 : FD_ERR_NOMEM;
        int64_t my_col = buf ? d : 0;
        if (buf) {
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
            for (int64_t blk = 0; blk < n_blocks; blk++) {
                int64_t r0 = blk * FD_BLOCK, nr = (r0 + FD_BLOCK < n ? r0 + FD_BLOCK : n) - r0;
                for (int64_t j = 0; j < d; j++) {
                    int e = fd_bin_block(codes, bins, j, r0, nr, buf, 1, 0);
                    if (e && (j < my_col || (j == my_col && e < my_err))) { my_err = e; my_col = j; }
                    if (out_itemsize == 1) {
                        uint8_t *o = (uint8_t *)out + r0 * d + j;
                        for (int64_t r = 0; r < nr; r++) o[r * d] = (uint8_t)buf[r];
                    } else {
                        uint16_t *o = (uint16_t *)out + r0 * d + j;
                        for (int64_t r = 0; r < nr; r++) o[r * d] = buf[r];
                    }
                }
            }
        }
#ifdef _OPENMP
#pragma omp critical(fd_discretize_merge)
#endif
        {
            if (my_err && (my_col < first_col || (my_col == first_col && my_err < first_err))) {
                first_err = my_err; first_col = my_col;
            }
        }
        free(buf);
    }
    if (first_err) { *err_col = first_col; return first_err; }
    return FD_OK;
}
