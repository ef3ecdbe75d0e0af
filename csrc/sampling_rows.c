/* Batches whose rows are already known, reduced as the sampler reduces the rows it draws:
 * the Dask path draws positions (fd_sample_positions), gathers those rows from the chunks in
 * draw order, and reduces them here -- the in-memory arithmetic in its order, the same bits. */
#include <stdlib.h>

#include "common.h"
#include "batch_reduce.h"

/* Batches taken by a thread at a time */
#define FD_ROWS_CHUNK 16

/* Batches whose rows are given (rows NULL: batch b's are rows b * draws .. (b + 1) * draws - 1,
 * the draws gathered in order) reduced as fd_sample_batches reduces the rows it draws: the
 * same sums in the same order, so the same bits. */
int fd_reduce_rows(const fd_array *codes, int mode, int64_t batch_size, const int64_t *rows,
                   int64_t n_batches, double *out, double *ranges, int n_threads)
{
    const int64_t d = codes->n_cols, L = batch_size;
    const int64_t draws = mode == FD_BATCH_VARIANCE ? L : 2 * L;
    int nomem = 0, bad = 0;
    int nt = fd_team(fd_resolve_threads(n_threads, n_batches * L), n_batches * draws * d);
    (void)nt;
    if (L < 1 || d < 1 || n_batches < 0) return FD_ERR_ARGUMENT;
    if (ranges)
        for (int64_t j = 0; j < d; j++) { ranges[j] = INFINITY; ranges[d + j] = -INFINITY; }
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        int64_t *mine = (int64_t *)malloc(sizeof(int64_t) * (size_t)draws);
        double *acc = (double *)malloc(sizeof(double) * (size_t)(4 * d));
        double *lo = ranges && acc ? acc + 2 * d : NULL, *hi = lo ? lo + d : NULL;
        const int ok = mine && acc;
        int my_bad = 0;
        if (lo)
            for (int64_t j = 0; j < d; j++) { lo[j] = INFINITY; hi[j] = -INFINITY; }
#ifdef _OPENMP
#pragma omp for schedule(dynamic, FD_ROWS_CHUNK)
#endif
        for (int64_t b = 0; b < n_batches; b++) {
            int in = 1;
            if (!ok) continue;
            for (int64_t i = 0; i < draws; i++) {
                const int64_t r = rows ? rows[b * draws + i] : b * draws + i;
                if ((uint64_t)r >= (uint64_t)codes->n_rows) in = 0;
                mine[i] = r;
            }
            if (!in) { my_bad = 1; continue; }
#if defined(__GNUC__) || defined(__clang__)
            if (rows && b + 1 < n_batches) /* the next batch's rows fetched while this one sums */
                for (int64_t i = 0; i < draws; i++) {
                    const int64_t r = rows[(b + 1) * draws + i];
                    if ((uint64_t)r < (uint64_t)codes->n_rows)
                        __builtin_prefetch((const char *)codes->data +
                                           r * codes->row_stride * fd_itemsize(codes->dtype), 0, 1);
                }
#endif
            fd_reduce_batch(codes, mode, mine, L, acc, out + b * d, lo, hi);
        }
#ifdef _OPENMP
#pragma omp critical(fd_reduce_rows_merge)
#endif
        {
            if (!ok) nomem = 1;
            if (my_bad) bad = 1;
            if (lo) fd_merge_range(ranges, lo, hi, d);
        }
        free(mine); free(acc);
    }
    return nomem ? FD_ERR_NOMEM : bad ? FD_ERR_ARGUMENT : FD_OK;
}
