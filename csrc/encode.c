/* Integer factor columns: value range and which values occur, to build level tables. */
#include <stdlib.h>

#include "common.h"

int fd_int_minmax(const fd_array *f, int64_t *mins, int64_t *maxs, int n_threads)
{
    const int64_t n = f->n_rows, k = f->n_cols;
    int64_t n_blocks = (n + FD_BLOCK - 1) / FD_BLOCK;
    int nt = fd_resolve_threads(n_threads, n);
    int nomem = 0;

    for (int64_t c = 0; c < k; c++) { mins[c] = INT64_MAX; maxs[c] = INT64_MIN; }
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        int64_t *lo = (int64_t *)malloc(sizeof(int64_t) * (size_t)(2 * k + 1));
        int64_t *hi = lo ? lo + k : NULL;
        if (lo) {
            for (int64_t c = 0; c < k; c++) { lo[c] = INT64_MAX; hi[c] = INT64_MIN; }
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
            for (int64_t blk = 0; blk < n_blocks; blk++) {
                int64_t r0 = blk * FD_BLOCK, r1 = r0 + FD_BLOCK < n ? r0 + FD_BLOCK : n;
                for (int64_t c = 0; c < k; c++) {
                    int64_t l = lo[c], h = hi[c];
                    int64_t idx = r0 * f->row_stride + c * f->col_stride;
                    for (int64_t r = r0; r < r1; r++, idx += f->row_stride) {
                        int64_t v = fd_load_int(f->data, f->dtype, idx);
                        l = v < l ? v : l;
                        h = v > h ? v : h;
                    }
                    lo[c] = l; hi[c] = h;
                }
            }
        }
#ifdef _OPENMP
#pragma omp critical(fd_int_minmax_merge)
#endif
        {
            if (!lo) nomem = 1;
            else for (int64_t c = 0; c < k; c++) {
                if (lo[c] < mins[c]) mins[c] = lo[c];
                if (hi[c] > maxs[c]) maxs[c] = hi[c];
            }
        }
        free(lo);
    }
    return nomem ? FD_ERR_NOMEM : FD_OK;
}

int fd_mark_values(const fd_array *f, const int64_t *vmin, const int64_t *mark_offset,
                   const int64_t *mark_len, uint8_t *marks, int n_threads)
{
    const int64_t n = f->n_rows, k = f->n_cols;
    int64_t n_blocks = (n + FD_BLOCK - 1) / FD_BLOCK;
    int nt = fd_resolve_threads(n_threads, n);
    int bad = 0;

    /* Threads may mark the same value; every write stores 1, and the atomic write
     * keeps that well defined. */
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nt) reduction(|:bad)
#endif
    for (int64_t blk = 0; blk < n_blocks; blk++) {
        int64_t r0 = blk * FD_BLOCK, r1 = r0 + FD_BLOCK < n ? r0 + FD_BLOCK : n;
        for (int64_t c = 0; c < k; c++) {
            uint8_t *m = marks + mark_offset[c];
            int64_t idx = r0 * f->row_stride + c * f->col_stride;
            for (int64_t r = r0; r < r1; r++, idx += f->row_stride) {
                int64_t v = fd_load_int(f->data, f->dtype, idx) - vmin[c];
                if (v < 0 || v >= mark_len[c]) { bad = 1; continue; }
#ifdef _OPENMP
#pragma omp atomic write
#endif
                m[v] = 1;
            }
        }
    }
    return bad ? FD_ERR_UNKNOWN_LEVEL : FD_OK;
}
