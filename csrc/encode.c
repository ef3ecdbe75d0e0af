/* Integer factor columns: value range and which values occur, to build level tables. */
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* Fold rows of column c into (lo, hi) and mark values v with 0 <= v < window
 * in marks[v]: for small non-negative labels one pass finds the levels. */
#define FD_DEFINE_SCAN(SUF, T)                                                         \
    static void fd_scan_##SUF(const T *x, int64_t rs, int64_t nr, int64_t *lo,         \
                              int64_t *hi, uint8_t *marks, int64_t window)             \
    {                                                                                  \
        int64_t l = *lo, h = *hi;                                                      \
        for (int64_t r = 0; r < nr; r++) {                                             \
            int64_t v = (int64_t)x[r * rs];                                            \
            l = v < l ? v : l;                                                         \
            h = v > h ? v : h;                                                         \
            if (v >= 0 && v < window) marks[v] = 1;                                    \
        }                                                                              \
        *lo = l; *hi = h;                                                              \
    }
FD_FOR_INT_TYPES(FD_DEFINE_SCAN)

#define FD_DEFINE_MARK(SUF, T)                                                         \
    static int fd_mark_##SUF(const T *x, int64_t rs, int64_t nr, int64_t vmin,          \
                             int64_t len, uint8_t *marks)                              \
    {                                                                                  \
        int bad = 0;                                                                   \
        for (int64_t r = 0; r < nr; r++) {                                             \
            const uint64_t v = fd_rel_##SUF(x[r * rs], vmin);                          \
            if (v >= (uint64_t)len) { bad = 1; continue; }                             \
            marks[v] = 1;                                                              \
        }                                                                              \
        return bad;                                                                    \
    }
FD_FOR_INT_TYPES(FD_DEFINE_MARK)

int fd_int_scan(const fd_array *f, int64_t *mins, int64_t *maxs, uint8_t *marks,
                int64_t window, int n_threads)
{
    const int64_t n = f->n_rows, k = f->n_cols;
    const int64_t n_blocks = (n + FD_BLOCK - 1) / FD_BLOCK;
    const int64_t item = fd_itemsize(f->dtype);
    int nt = fd_team(fd_resolve_threads(n_threads, n), n * k);
    (void)nt; /* used by OpenMP only */
    int nomem = 0;

    if (window < 0) return FD_ERR_ARGUMENT;
    for (int64_t c = 0; c < k; c++) { mins[c] = INT64_MAX; maxs[c] = INT64_MIN; }
    memset(marks, 0, (size_t)(k * window));
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        /* private marks: no shared writes in the hot loop */
        int64_t *lo = (int64_t *)malloc(sizeof(int64_t) * (size_t)(2 * k + 1));
        uint8_t *mk = (uint8_t *)calloc((size_t)(k * window + 1), 1);
        int ok = lo && mk;
        if (ok) for (int64_t c = 0; c < k; c++) { lo[c] = INT64_MAX; lo[k + c] = INT64_MIN; }
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int64_t blk = 0; blk < n_blocks; blk++) {
            const int64_t r0 = blk * FD_BLOCK, nr = fd_min64(FD_BLOCK, n - r0);
            if (!ok) continue;
            for (int64_t c = 0; c < k; c++) {
                const char *x = (const char *)f->data +
                                (r0 * f->row_stride + c * f->col_stride) * item;
                FD_INT_DISPATCH(f->dtype, fd_scan, (const void *)x, f->row_stride, nr,
                                &lo[c], &lo[k + c], mk + c * window, window)
            }
        }
#ifdef _OPENMP
#pragma omp critical(fd_int_scan_merge)
#endif
        {
            if (!ok) nomem = 1;
            else {
                for (int64_t c = 0; c < k; c++) {
                    if (lo[c] < mins[c]) mins[c] = lo[c];
                    if (lo[k + c] > maxs[c]) maxs[c] = lo[k + c];
                }
                for (int64_t i = 0; i < k * window; i++) marks[i] |= mk[i];
            }
        }
        free(lo); free(mk);
    }
    return nomem ? FD_ERR_NOMEM : FD_OK;
}

int fd_mark_values(const fd_array *f, const int64_t *vmin, const int64_t *mark_offset,
                   const int64_t *mark_len, uint8_t *marks, int64_t n_marks, int64_t *err_col,
                   int n_threads)
{
    /* Serial: this pass only runs for labels outside the scan window, which is rare,
     * and a shared mark table written by several threads would be a data race. */
    const int64_t n = f->n_rows, k = f->n_cols;
    const int64_t item = fd_itemsize(f->dtype);
    (void)n_threads;
    for (int64_t c = 0; c < k; c++)
        if (!fd_table_fits(vmin[c], mark_len[c]) || mark_offset[c] < 0 ||
            mark_len[c] > n_marks - mark_offset[c])
            return FD_ERR_ARGUMENT;
    for (int64_t c = 0; c < k; c++) {
        const char *x = (const char *)f->data + c * f->col_stride * item;
        int b = 0;
        FD_INT_DISPATCH(f->dtype, b = fd_mark, (const void *)x, f->row_stride, n, vmin[c],
                        mark_len[c], marks + mark_offset[c])
        if (b) { *err_col = c; return FD_ERR_UNKNOWN_LEVEL; }
    }
    return FD_OK;
}
