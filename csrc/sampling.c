/* Grouping rows by factor values, and drawing + reducing batches of rows in C.
 *
 * Intervention metrics compare batches of rows that share the value of one factor
 * (or of all factors but one).  Rows are grouped once with a counting sort
 * (fd_factor_keys + fd_group_rows); then every batch is drawn from its group with
 * a counter-based generator keyed by (seed, batch id) and reduced on the spot, so
 * results do not depend on the number of threads and no batch x rows x codes array
 * ever exists. */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "select.h"

/* ---- grouping --------------------------------------------------------------------- */

/* keys[r] = sum over factors c of level_c(r) * weight[c]; weight 0 leaves a factor out. */
#define FD_DEFINE_KEYS(SUF, T)                                                         \
    static int64_t fd_keys_##SUF(const void *xv, int64_t rs, int64_t cs, int64_t nr,   \
                                 int64_t k, const fd_levels *lv, const int64_t *weight,\
                                 int64_t *keys)                                        \
    {                                                                                  \
        const T *x = (const T *)xv;                                                    \
        int64_t bad = k;                                                               \
        for (int64_t r = 0; r < nr; r++) {                                             \
            int64_t key = 0;                                                           \
            for (int64_t c = 0; c < k; c++) {                                          \
                int32_t level;                                                         \
                if (!weight[c]) continue;                                              \
                level = fd_lookup_##SUF(x[r * rs + c * cs], lv, c);                    \
                if (level < 0) { bad = c < bad ? c : bad; level = 0; }                 \
                key += level * weight[c];                                              \
            }                                                                          \
            keys[r] = key;                                                             \
        }                                                                              \
        return bad;                                                                    \
    }
FD_FOR_INT_TYPES(FD_DEFINE_KEYS)

int fd_factor_keys(const fd_array *f, const fd_levels *lv, const int64_t *weight,
                   int64_t *keys, int64_t *err_col, int n_threads)
{
    const int64_t n = f->n_rows, k = f->n_cols;
    const int64_t n_blocks = (n + FD_BLOCK - 1) / FD_BLOCK;
    int64_t first_bad = k;
    int nt = fd_resolve_threads(n_threads, n);
    (void)nt; /* used by OpenMP only */
    if (!fd_levels_ok(lv, k)) return FD_ERR_ARGUMENT;
    /* a private minimum merged under a critical section: MSVC's OpenMP 2.0 has no
       reduction(min:) */
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        int64_t my_bad = k;
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int64_t blk = 0; blk < n_blocks; blk++) {
            const int64_t r0 = blk * FD_BLOCK, nr = fd_min64(FD_BLOCK, n - r0);
            const char *x = (const char *)f->data + r0 * f->row_stride * fd_itemsize(f->dtype);
            int64_t bad = k;
            FD_INT_DISPATCH(f->dtype, bad = fd_keys, (const void *)x, f->row_stride,
                            f->col_stride, nr, k, lv, weight, keys + r0)
            if (bad < my_bad) my_bad = bad;
        }
#ifdef _OPENMP
#pragma omp critical(fd_keys_bad)
#endif
        if (my_bad < first_bad) first_bad = my_bad;
    }
    if (first_bad < k) { *err_col = first_bad; return FD_ERR_UNKNOWN_LEVEL; }
    return FD_OK;
}

int fd_group_rows(const int64_t *keys, int64_t n, int64_t n_keys, int64_t *offsets,
                  int64_t *perm)
{
    /* stable counting sort: rows of a group keep their order */
    memset(offsets, 0, sizeof(int64_t) * (size_t)(n_keys + 1));
    for (int64_t r = 0; r < n; r++) {
        if (keys[r] < 0 || keys[r] >= n_keys) return FD_ERR_ARGUMENT;
        offsets[keys[r] + 1]++;
    }
    for (int64_t g = 0; g < n_keys; g++) offsets[g + 1] += offsets[g];
    {
        int64_t *next = (int64_t *)malloc(sizeof(int64_t) * (size_t)(n_keys > 0 ? n_keys : 1));
        if (!next) return FD_ERR_NOMEM;
        memcpy(next, offsets, sizeof(int64_t) * (size_t)n_keys);
        for (int64_t r = 0; r < n; r++) perm[next[keys[r]]++] = r;
        free(next);
    }
    return FD_OK;
}

/* ---- batches ---------------------------------------------------------------------- */

/* Draw `count` distinct positions in [0, m) (count <= m) into out.
 * scratch holds 2 * count int64 (partial Fisher-Yates when m < 2 count) or a hash set
 * of hsize >= 2 count slots (Floyd's algorithm otherwise). */
static void fd_distinct(fd_rng *rng, int64_t m, int64_t count, int64_t *out,
                        int64_t *scratch, int64_t *hash, int64_t hsize)
{
    if (m < 2 * count) {
        for (int64_t i = 0; i < m; i++) scratch[i] = i;
        for (int64_t i = 0; i < count; i++) {
            int64_t j = i + fd_below(rng, m - i), t = scratch[i];
            scratch[i] = scratch[j]; scratch[j] = t;
            out[i] = scratch[i];
        }
        return;
    }
    for (int64_t i = 0; i < hsize; i++) hash[i] = -1;
    for (int64_t i = 0, j = m - count; i < count; i++, j++) { /* Floyd */
        int64_t t = fd_below(rng, j + 1), pick = t;
        uint64_t h = fd_mix64((uint64_t)t) & (uint64_t)(hsize - 1);
        int seen = 0;
        while (hash[h] != -1) {
            if (hash[h] == t) { seen = 1; break; }
            h = (h + 1) & (uint64_t)(hsize - 1);
        }
        if (seen) {
            pick = j;
            h = fd_mix64((uint64_t)j) & (uint64_t)(hsize - 1);
            while (hash[h] != -1) h = (h + 1) & (uint64_t)(hsize - 1);
        }
        hash[h] = pick;
        out[i] = pick;
    }
}

/* A group for one batch (or one pair): in proportion to its size (the group of a random
 * row) with by_size, uniformly over the eligible groups otherwise. */
static int64_t fd_pick_group(fd_rng *rng, const fd_groups *g)
{
    if (g->by_size) {
        int64_t u = fd_below(rng, g->cum[g->n_groups]), a = 0, z = g->n_groups - 1;
        while (a < z) { int64_t mid = (a + z) >> 1; if (g->cum[mid + 1] <= u) a = mid + 1; else z = mid; }
        return g->groups[a];
    }
    return g->groups[fd_below(rng, g->n_groups)];
}

/* FD_BATCH_PAIRS: every pair of the batch draws its own group (the value of the fixed
 * factor, as in Higgins et al. 2017), then two rows of it: two different rows, or two
 * independent rows with replace.  Eligible groups hold two rows or more. */
static int fd_pairs_batch(fd_rng *rng, const fd_array *codes, const fd_groups *g,
                          int64_t L, double *acc, double *o)
{
    const int64_t d = codes->n_cols;
    for (int64_t j = 0; j < d; j++) acc[j] = 0.0;
    for (int64_t i = 0; i < L; i++) {
        const int64_t grp = fd_pick_group(rng, g), lo = g->offsets[grp];
        const int64_t m = g->offsets[grp + 1] - lo;
        int64_t a, c;
        /* as in the per-batch modes: a group outside the rows is a caller's bug (and a
         * group of one row would divide by zero below) */
        if (lo < 0 || m < 2 || g->offsets[grp + 1] > codes->n_rows) return 1;
        a = fd_below(rng, m);
        if (g->replace) {
            c = fd_below(rng, m);
        } else {
            c = fd_below(rng, m - 1);
            if (c >= a) c++;
        }
        a = g->perm[lo + a];
        c = g->perm[lo + c];
        if ((uint64_t)a >= (uint64_t)codes->n_rows || (uint64_t)c >= (uint64_t)codes->n_rows)
            return 1;
        a *= codes->row_stride;
        c *= codes->row_stride;
        for (int64_t j = 0; j < d; j++) {
            const int64_t cj = j * codes->col_stride;
            acc[j] += fabs(fd_load_float(codes->data, codes->dtype, a + cj) -
                           fd_load_float(codes->data, codes->dtype, c + cj));
        }
    }
    for (int64_t j = 0; j < d; j++) o[j] = acc[j] / (double)L;
    return 0;
}

int fd_sample_batches(const fd_array *codes, const fd_groups *g, int mode, int64_t batch_size,
                      uint64_t seed, const int64_t *batch_ids, int64_t n_batches, double *out,
                      int n_threads)
{
    const int64_t d = codes->n_cols, L = batch_size;
    const int64_t draws = mode == FD_BATCH_VARIANCE ? L : 2 * L;
    int64_t hsize = 1;
    int nomem = 0, bad = 0;
    int nt = fd_resolve_threads(n_threads, n_batches * L);
    (void)nt; /* used by OpenMP only */
    if (L < 1 || g->n_groups < 1 || d < 1 || (g->by_size && g->cum[g->n_groups] < 1))
        return FD_ERR_ARGUMENT;
    while (hsize < 2 * draws) hsize <<= 1;

#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        int64_t *rows = (int64_t *)malloc(sizeof(int64_t) * (size_t)(draws + 4 * draws + hsize));
        int64_t *scratch = rows ? rows + draws : NULL, *hash = rows ? scratch + 4 * draws : NULL;
        double *acc = (double *)malloc(sizeof(double) * (size_t)(2 * d));
        const int ok = rows && acc;
        int my_bad = 0;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 16)
#endif
        for (int64_t b = 0; b < n_batches; b++) {
            fd_rng rng = fd_rng_for(seed, (uint64_t)batch_ids[b]);
            int64_t grp, lo, m;
            double *o = out + b * d;
            if (!ok) continue;
            if (mode == FD_BATCH_PAIRS) {
                if (fd_pairs_batch(&rng, codes, g, L, acc, o)) my_bad = 1;
                continue;
            }
            grp = fd_pick_group(&rng, g);
            lo = g->offsets[grp];
            m = g->offsets[grp + 1] - lo;
            /* the groups come from fd_group_rows: a group outside the rows is a caller's bug */
            if (lo < 0 || m < 2 || g->offsets[grp + 1] > codes->n_rows) { my_bad = 1; continue; }
            if (g->replace) {
                for (int64_t i = 0; i < draws; i++) rows[i] = fd_below(&rng, m);
            } else if (m >= draws) {
                fd_distinct(&rng, m, draws, rows, scratch, hash, hsize);
            } else if (mode == FD_BATCH_PAIR_DIFF) { /* small group: pairs of two different rows */
                for (int64_t i = 0; i < L; i++) {
                    int64_t a = fd_below(&rng, m), c = fd_below(&rng, m - 1);
                    rows[i] = a; rows[L + i] = c >= a ? c + 1 : c;
                }
            } else { /* small group: with replacement */
                for (int64_t i = 0; i < L; i++) rows[i] = fd_below(&rng, m);
            }
            for (int64_t i = 0; i < draws; i++) {
                rows[i] = g->perm[lo + rows[i]];
                if ((uint64_t)rows[i] >= (uint64_t)codes->n_rows) { my_bad = 1; rows[i] = 0; }
            }

            for (int64_t j = 0; j < d; j++) acc[j] = 0.0;
            if (mode == FD_BATCH_PAIR_DIFF) {
                for (int64_t i = 0; i < L; i++) {
                    const int64_t ra = rows[i] * codes->row_stride, rb = rows[L + i] * codes->row_stride;
                    for (int64_t j = 0; j < d; j++) {
                        const int64_t cj = j * codes->col_stride;
                        acc[j] += fabs(fd_load_float(codes->data, codes->dtype, ra + cj) -
                                       fd_load_float(codes->data, codes->dtype, rb + cj));
                    }
                }
                for (int64_t j = 0; j < d; j++) o[j] = acc[j] / (double)L;
            } else { /* unbiased variance (ddof = 1), two passes over the batch */
                double *mean = acc + d;
                for (int64_t j = 0; j < d; j++) mean[j] = 0.0;
                for (int64_t i = 0; i < L; i++)
                    for (int64_t j = 0; j < d; j++)
                        mean[j] += fd_load_float(codes->data, codes->dtype,
                                                 rows[i] * codes->row_stride + j * codes->col_stride);
                for (int64_t j = 0; j < d; j++) mean[j] /= (double)L;
                for (int64_t i = 0; i < L; i++)
                    for (int64_t j = 0; j < d; j++) {
                        double t = fd_load_float(codes->data, codes->dtype,
                                                 rows[i] * codes->row_stride + j * codes->col_stride) - mean[j];
                        acc[j] += t * t;
                    }
                for (int64_t j = 0; j < d; j++) o[j] = L > 1 ? acc[j] / (double)(L - 1) : 0.0;
            }
        }
#ifdef _OPENMP
#pragma omp critical(fd_sample_merge)
#endif
        {
            if (!ok) nomem = 1;
            if (my_bad) bad = 1;
        }
        free(rows); free(acc);
    }
    return nomem ? FD_ERR_NOMEM : bad ? FD_ERR_ARGUMENT : FD_OK;
}

/* ---- per-group deviations (IRS) ----------------------------------------------------- */

/* Doubles of per-thread scratch for the values of a group's codes: a group of m rows is
 * gathered in one pass for as many codes as fit (all of them at moderate m). */
#define FD_DEV_CELLS ((int64_t)1 << 21)
/* Rows fetched ahead of the one being read (memory latency / time per row). */
#define FD_DEV_AHEAD 48
#if defined(__GNUC__) || defined(__clang__)
#define FD_PREFETCH(p) __builtin_prefetch(p)
#else
#define FD_PREFETCH(p) ((void)(p))
#endif
int fd_group_deviation(const fd_array *codes, const int64_t *offsets, const int64_t *perm,
                       int64_t n_groups, double q, double *mean, double *dev, int n_threads)
{
    const int64_t d = codes->n_cols, rs = codes->row_stride, cs = codes->col_stride;
    const int64_t item = fd_itemsize(codes->dtype);
    const int quantile = q < 1.0;
    int64_t biggest = 1, block, n_blocks, n_tasks;
    int nomem = 0;
    int nt = fd_resolve_threads(n_threads, codes->n_rows);
    /* perm holds codes->n_rows rows; groups must lie within it, in order, and hold rows
       of codes */
    if (!(q >= 0.0) || n_groups < 0 || offsets[0] < 0 || offsets[n_groups] > codes->n_rows)
        return FD_ERR_ARGUMENT;
    for (int64_t g = 0; g < n_groups; g++) {
        if (offsets[g + 1] < offsets[g]) return FD_ERR_ARGUMENT;
        if (offsets[g + 1] - offsets[g] > biggest) biggest = offsets[g + 1] - offsets[g];
    }
    for (int64_t i = offsets[0]; i < offsets[n_groups]; i++)
        if ((uint64_t)perm[i] >= (uint64_t)codes->n_rows) return FD_ERR_ARGUMENT;
    if (d < 1 || n_groups == 0) return FD_OK;
    /* a task is (group, block of codes): as many codes as the scratch holds, fewer when
       there are too few groups to keep every thread busy */
    block = quantile ? fd_min64(d, FD_DEV_CELLS / biggest > 1 ? FD_DEV_CELLS / biggest : 1) : d;
    if (n_groups * ((d + block - 1) / block) < 2 * (int64_t)nt) {
        const int64_t want = (2 * (int64_t)nt + n_groups - 1) / n_groups; /* blocks per group */
        block = fd_min64(block, (d + want - 1) / want);
    }
    n_blocks = (d + block - 1) / block;
    n_tasks = n_groups * n_blocks;
    (void)nt; /* used by OpenMP only */
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        double *vals = quantile ? (double *)malloc(sizeof(double) * (size_t)(block * biggest)) : NULL;
        const int ok = !quantile || vals;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (int64_t t = 0; t < n_tasks; t++) {
            const int64_t g = t / n_blocks, j0 = (t % n_blocks) * block, nj = fd_min64(block, d - j0);
            const int64_t lo = offsets[g], m = offsets[g + 1] - lo;
            double *mu = mean + g * d + j0, *dv = dev + g * d + j0;
            if (!ok) continue;
            if (m == 0) {
                for (int64_t j = 0; j < nj; j++) mu[j] = dv[j] = NAN;
                continue;
            }
            /* one pass over the group's rows, each read whole: the sums (in row order) and,
               for a quantile, the values, code by code */
            for (int64_t j = 0; j < nj; j++) mu[j] = 0.0;
            for (int64_t i = 0; i < m; i++) {
                const int64_t row = perm[lo + i] * rs + j0 * cs;
                /* the group's rows are scattered over the array: fetch ahead, so that the
                   loads do not wait for memory one row at a time */
                if (i + FD_DEV_AHEAD < m) {
                    const int64_t ahead = perm[lo + i + FD_DEV_AHEAD] * rs + j0 * cs;
                    FD_PREFETCH((const char *)codes->data + ahead * item);
                    FD_PREFETCH((const char *)codes->data + (ahead + (nj - 1) * cs) * item);
                }
                for (int64_t j = 0; j < nj; j++) {
                    const double x = fd_load_float(codes->data, codes->dtype, row + j * cs);
                    mu[j] += x;
                    if (quantile) vals[j * m + i] = x;
                }
            }
            for (int64_t j = 0; j < nj; j++) mu[j] /= (double)m;
            if (quantile) {
                for (int64_t j = 0; j < nj; j++) {
                    double *v = vals + j * m;
                    for (int64_t i = 0; i < m; i++) v[i] = fabs(v[i] - mu[j]);
                    dv[j] = fd_quantile(v, m, q);
                }
                continue;
            }
            /* the maximum */
            for (int64_t j = 0; j < nj; j++) dv[j] = 0.0;
            for (int64_t i = 0; i < m; i++) {
                const int64_t row = perm[lo + i] * rs + j0 * cs;
                for (int64_t j = 0; j < nj; j++) {
                    const double x = fabs(fd_load_float(codes->data, codes->dtype, row + j * cs) - mu[j]);
                    dv[j] = x > dv[j] ? x : dv[j];
                }
            }
            /* a NaN among the values (only possible with a non-finite mean) gives NaN, as
               numpy's quantile at 1 */
            for (int64_t j = 0; j < nj; j++)
                for (int64_t i = 0; i < m && !isfinite(mu[j]); i++) {
                    const double x = fd_load_float(codes->data, codes->dtype,
                                                   perm[lo + i] * rs + (j0 + j) * cs) - mu[j];
                    if (x != x) { dv[j] = NAN; break; }
                }
        }
#ifdef _OPENMP
#pragma omp critical(fd_deviation_merge)
#endif
        if (!ok) nomem = 1;
        free(vals);
    }
    return nomem ? FD_ERR_NOMEM : FD_OK;
}
