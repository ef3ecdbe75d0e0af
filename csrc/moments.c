/* Per factor level: the mean of every code and the largest |z - mean| over the rows at
 * that level, for all factors at once in one sequential pass over the rows (IRS).
 *
 * The largest deviation from the mean is reached at the smallest or the largest value,
 * and rounding is monotonic, so max |z - mean| = max(max z - mean, mean - min z) exactly:
 * one pass collects sums, minima and maxima.  Sums are accumulated per chunk of rows
 * whose size depends only on the data shape (fd_level_chunk), and the chunks are added
 * in order: the means do not depend on the number of threads, nor on how the rows are
 * split between calls of fd_level_sums at chunk boundaries (the binding does, to check
 * for Ctrl-C between calls); minima and maxima do not depend on order at all. */
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* t += z, a = min(a, z), b = max(a, z), elementwise: distinct arrays, so it vectorises */
static inline void fd_accumulate(double *FD_RESTRICT t, double *FD_RESTRICT a,
                                 double *FD_RESTRICT b, const double *FD_RESTRICT z, int64_t d)
{
    for (int64_t j = 0; j < d; j++) {
        t[j] += z[j];
        a[j] = z[j] < a[j] ? z[j] : a[j];
        b[j] = z[j] > b[j] ? z[j] : b[j];
    }
}

int64_t fd_level_chunk(int64_t n_rows, int64_t n_level_total, int64_t n_codes)
{
    /* chunk partial sums take at most ~2^25 doubles */
    int64_t chunk = (int64_t)1 << 16;
    while ((n_rows + chunk - 1) / chunk * n_level_total * n_codes > ((int64_t)1 << 25) &&
           chunk < n_rows)
        chunk <<= 1;
    return chunk;
}

int fd_level_sums(const fd_array *factors, const fd_levels *levels, const fd_array *codes,
                  int64_t chunk, double *total, double *lo, double *hi, int64_t *count,
                  int64_t *err_col, int n_threads)
{
    const int64_t n = codes->n_rows, d = codes->n_cols, k = factors->n_cols;
    int64_t L = 0, *level_off, n_chunks, first_bad = k;
    double *sums;
    int64_t *counts;
    int nomem = 0;
    int nt = fd_team(fd_resolve_threads(n_threads, n), n * k * d);
    (void)nt; /* used by OpenMP only */

    if (factors->n_rows != n || d < 1 || k < 1 || chunk < 1 || !fd_levels_ok(levels, k))
        return FD_ERR_ARGUMENT;
    level_off = (int64_t *)malloc(sizeof(int64_t) * (size_t)(k + 1));
    if (!level_off) return FD_ERR_NOMEM;
    for (int64_t c = 0; c < k; c++) { level_off[c] = L; L += levels->n_levels[c]; }
    level_off[k] = L;
    n_chunks = n > 0 ? (n + chunk - 1) / chunk : 0;
    sums = (double *)calloc((size_t)(n_chunks * L * d + 1), sizeof(double));
    counts = (int64_t *)calloc((size_t)(n_chunks * L + 1), sizeof(int64_t));
    if (!sums || !counts) {
        free(level_off); free(sums); free(counts);
        return FD_ERR_NOMEM;
    }

#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        uint32_t *fo = (uint32_t *)malloc(sizeof(uint32_t) * (size_t)(FD_BLOCK * k));
        double *zr = (double *)malloc(sizeof(double) * (size_t)(d + 2 * L * d));
        double *mn = zr ? zr + d : NULL, *mx = zr ? mn + L * d : NULL;
        const int ok = fo && zr;
        int64_t my_bad = k;
        if (ok) for (int64_t i = 0; i < L * d; i++) { mn[i] = INFINITY; mx[i] = -INFINITY; }
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (int64_t ch = 0; ch < n_chunks; ch++) {
            double *s = sums + ch * L * d;
            int64_t *cnt = counts + ch * L;
            const int64_t stop = fd_min64(n, (ch + 1) * chunk);
            if (!ok) continue;
            for (int64_t r0 = ch * chunk; r0 < stop; r0 += FD_BLOCK) {
                const int64_t nr = fd_min64(FD_BLOCK, stop - r0);
                int64_t bad = fd_level_rows(factors, levels, r0, nr, level_off, 1, fo);
                if (bad < my_bad) my_bad = bad;
                for (int64_t r = 0; r < nr; r++) {
                    const int64_t row = (r0 + r) * codes->row_stride;
                    for (int64_t j = 0; j < d; j++) /* the row once, then contiguous updates */
                        zr[j] = fd_load_float(codes->data, codes->dtype, row + j * codes->col_stride);
                    for (int64_t c = 0; c < k; c++) {
                        const int64_t base = (int64_t)fo[r * k + c] * d;
                        cnt[fo[r * k + c]]++;
                        fd_accumulate(s + base, mn + base, mx + base, zr, d);
                    }
                }
            }
        }
#ifdef _OPENMP
#pragma omp critical(fd_moments_merge)
#endif
        {
            if (!ok) nomem = 1;
            else {
                if (my_bad < first_bad) first_bad = my_bad;
                for (int64_t i = 0; i < L * d; i++) {
                    lo[i] = mn[i] < lo[i] ? mn[i] : lo[i];
                    hi[i] = mx[i] > hi[i] ? mx[i] : hi[i];
                }
            }
        }
        free(fo); free(zr);
    }
    if (!nomem && first_bad == k) {
        for (int64_t ch = 0; ch < n_chunks; ch++) { /* in chunk order */
            for (int64_t i = 0; i < L * d; i++) total[i] += sums[ch * L * d + i];
            for (int64_t i = 0; i < L; i++) count[i] += counts[ch * L + i];
        }
    }
    free(level_off); free(sums); free(counts);
    if (nomem) return FD_ERR_NOMEM;
    if (first_bad < k) { *err_col = first_bad; return FD_ERR_UNKNOWN_LEVEL; }
    return FD_OK;
}

void fd_level_finish(int64_t n_level_total, int64_t d, const int64_t *count, double *mean,
                     double *dev, const double *lo, const double *hi)
{
    for (int64_t lv = 0; lv < n_level_total; lv++)
        for (int64_t j = 0; j < d; j++) {
            const int64_t i = lv * d + j;
            if (!count[lv]) { mean[i] = dev[i] = NAN; continue; }
            mean[i] /= (double)count[lv];
            dev[i] = hi[i] - mean[i] > mean[i] - lo[i] ? hi[i] - mean[i] : mean[i] - lo[i];
        }
}

int fd_level_deviation(const fd_array *factors, const fd_levels *levels, const fd_array *codes,
                       double *mean, double *dev, double *lo, double *hi, int64_t *count,
                       int64_t *err_col, int n_threads)
{
    const int64_t d = codes->n_cols, k = factors->n_cols;
    int64_t L = 0;
    int status;
    if (d < 1 || k < 1 || !fd_levels_ok(levels, k)) return FD_ERR_ARGUMENT;
    for (int64_t c = 0; c < k; c++) L += levels->n_levels[c];
    for (int64_t i = 0; i < L * d; i++) { mean[i] = 0.0; lo[i] = INFINITY; hi[i] = -INFINITY; }
    for (int64_t i = 0; i < L; i++) count[i] = 0;
    status = fd_level_sums(factors, levels, codes, fd_level_chunk(codes->n_rows, L, d), mean, lo,
                           hi, count, err_col, n_threads);
    if (status == FD_OK) fd_level_finish(L, d, count, mean, dev, lo, hi);
    return status;
}

/* ---- quantiles of |z - mean| per level, in one pass (IRS with a quantile) ------------- */

#include "select.h"

/* The values kept for one (level, code) cell by one thread. */
typedef struct {
    double *v;
    int64_t n, cap;
} fd_kept;

static int fd_keep(fd_kept *c, double x)
{
    if (c->n == c->cap) {
        const int64_t cap = c->cap ? 2 * c->cap : 64;
        double *v = (double *)realloc(c->v, sizeof(double) * (size_t)cap);
        if (!v) return 0;
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n++] = x;
    return 1;
}

int fd_level_quantile(const fd_array *factors, const fd_levels *levels, const fd_array *codes,
                      const double *mean, const int64_t *count, const double *lo,
                      const double *hi, double q, double *dev, uint8_t *ok, int64_t *err_col,
                      int n_threads)
{
    const int64_t n = codes->n_rows, d = codes->n_cols, k = factors->n_cols;
    int64_t L = 0, *level_off, first_bad = k, cells, team = 1;
    int64_t *above_all = NULL;
    fd_kept *kept_all = NULL;
    int nomem = 0;
    int nt = fd_resolve_threads(n_threads, n);
    (void)nt; /* used by OpenMP only */
    if (factors->n_rows != n || d < 1 || k < 1 || !fd_levels_ok(levels, k) || !(q >= 0.0 && q < 1.0))
        return FD_ERR_ARGUMENT;
    level_off = (int64_t *)malloc(sizeof(int64_t) * (size_t)(k + 1));
    if (!level_off) return FD_ERR_NOMEM;
    for (int64_t c = 0; c < k; c++) { level_off[c] = L; L += levels->n_levels[c]; }
    level_off[k] = L;
    cells = L * d;
#ifdef _OPENMP
    team = nt;
#endif
    /* per thread: counts of values above hi, and the values kept, for every cell */
    above_all = (int64_t *)calloc((size_t)(team * cells + 1), sizeof(int64_t));
    kept_all = (fd_kept *)calloc((size_t)(team * cells + 1), sizeof(fd_kept));
    if (!above_all || !kept_all) { free(level_off); free(above_all); free(kept_all); return FD_ERR_NOMEM; }

#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        int tid = 0;
        uint32_t *fo = (uint32_t *)malloc(sizeof(uint32_t) * (size_t)(FD_BLOCK * k));
        double *zr = (double *)malloc(sizeof(double) * (size_t)d);
        int my_ok = fo && zr;
        int64_t my_bad = k;
        int64_t *above;
        fd_kept *kept;
        const int64_t n_blocks = (n + FD_BLOCK - 1) / FD_BLOCK;
#ifdef _OPENMP
        tid = omp_get_thread_num(); /* < team: OpenMP may grant fewer threads, never more */
#endif
        above = above_all + tid * cells;
        kept = kept_all + tid * cells;
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int64_t blk = 0; blk < n_blocks; blk++) {
            const int64_t r0 = blk * FD_BLOCK, nr = fd_min64(FD_BLOCK, n - r0);
            int64_t bad;
            if (!my_ok) continue;
            bad = fd_level_rows(factors, levels, r0, nr, level_off, (uint32_t)d, fo);
            if (bad < my_bad) my_bad = bad;
            for (int64_t r = 0; r < nr; r++) {
                const int64_t row = (r0 + r) * codes->row_stride;
                for (int64_t j = 0; j < d; j++)
                    zr[j] = fd_load_float(codes->data, codes->dtype, row + j * codes->col_stride);
                for (int64_t c = 0; c < k; c++) {
                    const int64_t base = fo[r * k + c];
                    for (int64_t j = 0; j < d; j++) {
                        /* only the few values from lo up are looked at again: the rows
                           below are counted as those neither kept nor above */
                        const double x = fabs(zr[j] - mean[base + j]);
                        if (x >= lo[base + j]) {
                            if (x > hi[base + j]) above[base + j]++;
                            else if (!fd_keep(kept + base + j, x)) my_ok = 0;
                        }
                    }
                }
            }
        }
#ifdef _OPENMP
#pragma omp critical(fd_quantile_merge)
#endif
        {
            if (!my_ok) nomem = 1;
            if (my_bad < first_bad) first_bad = my_bad;
        }
        free(fo); free(zr);
#ifdef _OPENMP
#pragma omp barrier
#pragma omp for schedule(dynamic, 8)
#endif
        for (int64_t cell = 0; cell < cells; cell++) { /* merge the threads' cells, select */
            int64_t nb, na = 0, nk = 0, m, rank;
            double *v, pos, below_pos, gamma, a, b;
            if (nomem || first_bad < k) continue;
            m = count[cell / d];
            ok[cell] = 1;
            if (m == 0) { dev[cell] = NAN; continue; }
            for (int64_t t = 0; t < team; t++) {
                na += above_all[t * cells + cell];
                nk += kept_all[t * cells + cell].n;
            }
            nb = m - nk - na; /* below lo */
            pos = (double)(m - 1) * q;
            below_pos = floor(pos);
            gamma = pos - below_pos;
            rank = (int64_t)below_pos;
            /* the order statistics rank and rank + 1 (the largest when pos reaches m - 1)
               must lie among the kept values */
            if (nb > rank || nb + nk < (pos >= (double)(m - 1) ? m : rank + 2)) { ok[cell] = 0; continue; }
            v = kept_all[cell].v; /* gather into thread 0's list */
            if (nk > kept_all[cell].cap) {
                double *w = (double *)realloc(v, sizeof(double) * (size_t)nk);
                if (!w) { ok[cell] = 0; continue; }
                kept_all[cell].v = v = w;
                kept_all[cell].cap = nk;
            }
            {
                int64_t at = kept_all[cell].n;
                for (int64_t t = 1; t < team; t++) {
                    const fd_kept *o = kept_all + t * cells + cell;
                    if (o->n) memcpy(v + at, o->v, sizeof(double) * (size_t)o->n);
                    at += o->n;
                }
                kept_all[cell].n = at;
            }
            rank -= nb;
            if (pos >= (double)(m - 1)) { /* numpy takes the largest value */
                a = v[0];
                for (int64_t i = 1; i < nk; i++) a = v[i] > a ? v[i] : a;
                dev[cell] = a;
                continue;
            }
            fd_select(v, 0, nk - 1, rank);
            a = v[rank];
            b = v[rank + 1];
            for (int64_t i = rank + 2; i < nk; i++) b = v[i] < b ? v[i] : b;
            /* fd_quantile's interpolation, the same rounding as numpy's */
            dev[cell] = gamma >= 0.5 ? b - (b - a) * (1.0 - gamma) : a + (b - a) * gamma;
        }
    }
    for (int64_t i = 0; i < team * cells; i++) free(kept_all[i].v);
    free(kept_all); free(above_all); free(level_off);
    if (nomem) return FD_ERR_NOMEM;
    if (first_bad < k) { *err_col = first_bad; return FD_ERR_UNKNOWN_LEVEL; }
    return FD_OK;
}
