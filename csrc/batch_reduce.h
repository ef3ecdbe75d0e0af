/* The reductions of one batch of rows for the intervention metrics (the mean absolute
 * difference over pairs, the variance of rows), and the range of the values they read:
 * shared by sampling_batches.c (rows drawn there) and sampling_rows.c (rows given) so that
 * both sum in one order and give the same bits.  Private to those two files. */
#ifndef FASTDIS_BATCH_REDUCE_H
#define FASTDIS_BATCH_REDUCE_H

#include <math.h>

#include "common.h"

/* The smaller / larger of a and b, NaN sticking once seen (the merges of the ranges). */
#define FD_MIN_NAN(a, b) (((a) < (b) || (a) != (a)) ? (a) : (b))
#define FD_MAX_NAN(a, b) (((a) > (b) || (a) != (a)) ? (a) : (b))
/* The range of the values read, one minpd / maxpd each: a NaN read is not seen here but in
 * the batch's reduction, NaN whenever a NaN or an infinity minus itself entered it (every
 * reduction sums a difference of each value read), which marks the range NaN after it. */
#define FD_TRACK(v, lo, hi)                                  \
    do {                                                     \
        const double v_ = (v);                               \
        (lo) = v_ < (lo) ? v_ : (lo);                        \
        (hi) = v_ > (hi) ? v_ : (hi);                        \
    } while (0)

/* Merge a thread's range (lo, hi) into ranges (mins, then maxs): min / max with NaN kept,
 * the same whatever the order of the threads. */
static void fd_merge_range(double *ranges, const double *lo, const double *hi, int64_t d)
{
    for (int64_t j = 0; j < d; j++) {
        ranges[j] = FD_MIN_NAN(lo[j], ranges[j]);
        ranges[d + j] = FD_MAX_NAN(hi[j], ranges[d + j]);
    }
}

/* Columns j0 .. j0 + W - 1 of the reductions of the fast path (float64, C-ordered),
 * W a constant where inlined: the W sums stay in registers across the batch's rows
 * instead of being stored and reloaded per row (a store-forwarding chain per column).
 * Each column is still summed row after row, in the order of every other layout.
 * track (a constant where inlined): also the range of the values read, into lo / hi. */
static inline void fd_reduce_cols(const double *x, int64_t rs, int mode, const int64_t *rows,
                                  int64_t L, int64_t j0, const int64_t W, double *o,
                                  const int track, double *lo, double *hi)
{
    double acc[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
    double mn[8], mx[8];
    for (int64_t j = 0; j < W; j++) {
        mn[j] = track ? lo[j0 + j] : 0.0;
        mx[j] = track ? hi[j0 + j] : 0.0;
    }
    if (mode != FD_BATCH_VARIANCE) {
        for (int64_t i = 0; i < L; i++) {
            const double *pa = x + rows[i] * rs + j0, *pb = x + rows[L + i] * rs + j0;
            for (int64_t j = 0; j < W; j++) {
                acc[j] += fabs(pa[j] - pb[j]);
                if (track) { FD_TRACK(pa[j], mn[j], mx[j]); FD_TRACK(pb[j], mn[j], mx[j]); }
            }
        }
        for (int64_t j = 0; j < W; j++) o[j] = acc[j] / (double)L;
    } else {
        double mean[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
        for (int64_t i = 0; i < L; i++) {
            const double *p = x + rows[i] * rs + j0;
            for (int64_t j = 0; j < W; j++) {
                mean[j] += p[j];
                if (track) FD_TRACK(p[j], mn[j], mx[j]);
            }
        }
        for (int64_t j = 0; j < W; j++) mean[j] /= (double)L;
        for (int64_t i = 0; i < L; i++) {
            const double *p = x + rows[i] * rs + j0;
            for (int64_t j = 0; j < W; j++) { const double t = p[j] - mean[j]; acc[j] += t * t; }
        }
        for (int64_t j = 0; j < W; j++) o[j] = L > 1 ? acc[j] / (double)(L - 1) : 0.0;
        for (int64_t j = 0; j < W; j++) acc[j] = mean[j]; /* NaN with a non-finite row, any L */
    }
    if (track)
        for (int64_t j = 0; j < W; j++) {
            const int nan = o[j] != o[j] || acc[j] != acc[j];
            lo[j0 + j] = nan ? NAN : mn[j];
            hi[j0 + j] = nan ? NAN : mx[j];
        }
}

/* All columns of the fast path, W columns at a time */
static inline void fd_reduce_fast(const double *x, int64_t rs, int64_t d, int mode,
                                  const int64_t *rows, int64_t L, double *o, const int track,
                                  double *lo, double *hi)
{
    int64_t j0 = 0;
    for (; j0 + 8 <= d; j0 += 8) fd_reduce_cols(x, rs, mode, rows, L, j0, 8, o + j0, track, lo, hi);
    if (j0 + 4 <= d) { fd_reduce_cols(x, rs, mode, rows, L, j0, 4, o + j0, track, lo, hi); j0 += 4; }
    if (j0 + 2 <= d) { fd_reduce_cols(x, rs, mode, rows, L, j0, 2, o + j0, track, lo, hi); j0 += 2; }
    if (j0 < d) fd_reduce_cols(x, rs, mode, rows, L, j0, 1, o + j0, track, lo, hi);
}

/* The batch's reduction into o[d]: the mean over L pairs of |z_a - z_b| (rows[i] and
 * rows[L + i]), or the unbiased variance (ddof = 1, two passes) of L rows.  One summation
 * order for every layout, so float64 C-ordered codes (the fast path) give the same bits. */
static void fd_reduce_batch(const fd_array *codes, int mode, const int64_t *rows, int64_t L,
                            double *acc, double *o, double *lo, double *hi)
{
    const int64_t d = codes->n_cols, rs = codes->row_stride, cs = codes->col_stride;
    if (codes->dtype == FD_FLOAT64 && cs == 1) {
        const double *x = (const double *)codes->data;
        if (lo) fd_reduce_fast(x, rs, d, mode, rows, L, o, 1, lo, hi);
        else fd_reduce_fast(x, rs, d, mode, rows, L, o, 0, NULL, NULL);
        return;
    }
    if (lo) /* the rows' range: a pass of its own, off the fast path */
        for (int64_t i = 0; i < (mode == FD_BATCH_VARIANCE ? L : 2 * L); i++)
            for (int64_t j = 0; j < d; j++)
                FD_TRACK(fd_load_float(codes->data, codes->dtype, rows[i] * rs + j * cs), lo[j],
                         hi[j]);
    for (int64_t j = 0; j < d; j++) acc[j] = 0.0;
    if (mode != FD_BATCH_VARIANCE) {
        for (int64_t i = 0; i < L; i++) {
            const int64_t ra = rows[i] * rs, rb = rows[L + i] * rs;
            for (int64_t j = 0; j < d; j++)
                acc[j] += fabs(fd_load_float(codes->data, codes->dtype, ra + j * cs) -
                               fd_load_float(codes->data, codes->dtype, rb + j * cs));
        }
        for (int64_t j = 0; j < d; j++) o[j] = acc[j] / (double)L;
    } else {
        double *mean = acc + d;
        for (int64_t j = 0; j < d; j++) mean[j] = 0.0;
        for (int64_t i = 0; i < L; i++)
            for (int64_t j = 0; j < d; j++)
                mean[j] += fd_load_float(codes->data, codes->dtype, rows[i] * rs + j * cs);
        for (int64_t j = 0; j < d; j++) mean[j] /= (double)L;
        for (int64_t i = 0; i < L; i++)
            for (int64_t j = 0; j < d; j++) {
                const double t = fd_load_float(codes->data, codes->dtype,
                                               rows[i] * rs + j * cs) - mean[j];
                acc[j] += t * t;
            }
        for (int64_t j = 0; j < d; j++) o[j] = L > 1 ? acc[j] / (double)(L - 1) : 0.0;
        for (int64_t j = 0; j < d; j++) acc[j] = mean[j];
    }
    if (lo) /* as in fd_reduce_cols: NaN in the sums marks the range */
        for (int64_t j = 0; j < d; j++)
            if (o[j] != o[j] || acc[j] != acc[j]) lo[j] = hi[j] = NAN;
}

#endif
