/* Grouping rows by factor values in C, and the per-group deviations of IRS.
 *
 * Intervention metrics compare batches of rows that share the value of one factor
 * (or of all factors but one).  Rows are grouped once with a counting sort
 * (fd_factor_keys + fd_group_rows, or fd_level_counts + fd_group_scatter for each factor
 * alone); sampling_batches.c then draws and reduces the batches from the groups. */
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
    int nt = fd_team(fd_resolve_threads(n_threads, n), n * k);
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

/* Grouping by each factor alone, every wanted factor in the same passes over the rows (a
 * row of factors is read once for all of them): fd_level_counts counts the rows of every
 * level, the caller turns the counts into group offsets, and fd_group_scatter writes each
 * row into each wanted factor's perm, chunk after chunk.  Stable, like fd_group_rows:
 * the groups equal those of fd_factor_keys + fd_group_rows by one factor. */

/* Rows 0 .. nr-1 of a block: each wanted factor c's level counted in cnt (level_off[c] +
 * level) and stored in codes (row r, i-th wanted factor; a byte, or int32 when wide),
 * factor by factor so that its table and bounds stay in registers.  Returns the first
 * column holding a value without a level (k if none); such a value counts as level 0. */
#define FD_DEFINE_GROUP_LEVELS(SUF, T)                                                 \
    static int64_t fd_group_levels_##SUF(const void *xv, int64_t rs, int64_t cs,       \
                                         int64_t nr, int64_t k, const fd_levels *lv,   \
                                         const uint8_t *want, const int64_t *level_off,\
                                         int64_t *cnt, int wide, void *codes, int64_t kw) \
    {                                                                                  \
        const T *x = (const T *)xv;                                                    \
        int64_t bad = k;                                                               \
        for (int64_t c = 0, i = 0; c < k; c++) {                                       \
            const int32_t *lut;                                                        \
            int64_t *mine, vmin;                                                       \
            uint64_t len, nl;                                                          \
            if (!want[c]) continue;                                                    \
            lut = lv->lut + lv->lut_offset[c];                                         \
            mine = cnt + level_off[c];                                                 \
            vmin = lv->vmin[c];                                                        \
            len = (uint64_t)lv->lut_len[c];                                            \
            nl = (uint64_t)lv->n_levels[c];                                            \
            for (int64_t r = 0; r < nr; r++) {                                         \
                const uint64_t v = fd_rel_##SUF(x[r * rs + c * cs], vmin);             \
                int32_t level = v < len ? lut[v] : -1;                                 \
                if ((uint64_t)(uint32_t)level >= nl || level < 0) {                    \
                    bad = c < bad ? c : bad;                                           \
                    level = 0;                                                         \
                }                                                                      \
                mine[level]++;                                                         \
                if (wide) ((int32_t *)codes)[r * kw + i] = level;                      \
                else ((uint8_t *)codes)[r * kw + i] = (uint8_t)level;                  \
            }                                                                          \
            i++;                                                                       \
        }                                                                              \
        return bad;                                                                    \
    }
FD_FOR_INT_TYPES(FD_DEFINE_GROUP_LEVELS)

static int64_t fd_group_levels(const fd_array *f, const fd_levels *lv, const uint8_t *want,
                               const int64_t *level_off, int64_t r0, int64_t nr, int64_t *cnt,
                               int wide, void *codes, int64_t kw)
{
    const char *x = (const char *)f->data + r0 * f->row_stride * fd_itemsize(f->dtype);
    int64_t bad = f->n_cols;
    FD_INT_DISPATCH(f->dtype, bad = fd_group_levels, (const void *)x, f->row_stride,
                    f->col_stride, nr, f->n_cols, lv, want, level_off, cnt, wide, codes, kw)
    return bad;
}

/* The level offsets must number the wanted factors' levels within [0, n_total). */
static int fd_group_args_ok(const fd_array *f, const fd_levels *lv, const uint8_t *want,
                            const int64_t *level_off, int64_t n_total)
{
    if (!fd_levels_ok(lv, f->n_cols) || n_total < 0) return 0;
    for (int64_t c = 0; c < f->n_cols; c++)
        if (want[c] && (level_off[c] < 0 || lv->n_levels[c] > n_total - level_off[c]))
            return 0;
    return 1;
}

/* The level of row r's i-th wanted factor, stored in one byte when every level fits. */
static inline int64_t fd_code_at(const void *codes, int wide, int64_t idx)
{
    return wide ? (int64_t)((const int32_t *)codes)[idx] : (int64_t)((const uint8_t *)codes)[idx];
}

int fd_level_counts(const fd_array *f, const fd_levels *lv, const uint8_t *want,
                    const int64_t *level_off, int64_t n_total, int wide, void *codes,
                    int64_t *counts, int64_t *err_col, int n_threads)
{
    const int64_t n = f->n_rows, k = f->n_cols;
    const int64_t n_blocks = (n + FD_BLOCK - 1) / FD_BLOCK;
    int64_t first_bad = k, kw = 0;
    int nomem = 0;
    int nt = fd_team(fd_resolve_threads(n_threads, n), n * k);
    (void)nt; /* used by OpenMP only */
    if (!fd_group_args_ok(f, lv, want, level_off, n_total)) return FD_ERR_ARGUMENT;
    for (int64_t c = 0; c < k; c++) {
        if (!want[c]) continue;
        kw++;
        if (!wide && lv->n_levels[c] > 256) return FD_ERR_ARGUMENT;
    }
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        int64_t *mine = (int64_t *)calloc((size_t)(n_total > 0 ? n_total : 1), sizeof(int64_t));
        int64_t my_bad = k;
        const int ok = mine != NULL;
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int64_t blk = 0; blk < n_blocks; blk++) {
            const int64_t r0 = blk * FD_BLOCK, nr = fd_min64(FD_BLOCK, n - r0);
            int64_t bad;
            if (!ok) continue;
            bad = fd_group_levels(f, lv, want, level_off, r0, nr, mine, wide,
                                  (char *)codes + r0 * kw * (wide ? 4 : 1), kw);
            if (bad < my_bad) my_bad = bad;
        }
#ifdef _OPENMP
#pragma omp critical(fd_level_counts_merge)
#endif
        {
            if (!ok) nomem = 1;
            else for (int64_t i = 0; i < n_total; i++) counts[i] += mine[i];
            if (my_bad < first_bad) first_bad = my_bad;
        }
        free(mine);
    }
    if (nomem) return FD_ERR_NOMEM;
    if (first_bad < k) { *err_col = first_bad; return FD_ERR_UNKNOWN_LEVEL; }
    return FD_OK;
}

int fd_group_scatter(const void *codes, int wide, int64_t n, int64_t kw,
                     const int64_t *level_off, const int64_t *n_levels, int64_t n_total,
                     int64_t row0, int64_t *next, int64_t *const *perm, int64_t perm_len,
                     int n_threads)
{
    int64_t *start;
    int bad = 0, team;
    int nt = fd_team(fd_resolve_threads(n_threads, n), n * kw);
    if (n < 0 || kw < 0 || n_total < 0) return FD_ERR_ARGUMENT;
    for (int64_t i = 0; i < kw; i++)
        if (level_off[i] < 0 || n_levels[i] < 0 || n_levels[i] > n_total - level_off[i] ||
            (!wide && n_levels[i] > 256))
            return FD_ERR_ARGUMENT;
    if (nt == 1) { /* one part: next already holds its start positions, no count pass */
        for (int64_t r = 0; r < n; r++)
            for (int64_t i = 0; i < kw; i++) {
                const int64_t level = fd_code_at(codes, wide, r * kw + i);
                int64_t at;
                if (level < 0 || level >= n_levels[i]) { bad = 1; continue; }
                at = next[level_off[i] + level]++;
                if (at < 0 || at >= perm_len) { bad = 1; continue; }
                perm[i][at] = row0 + r;
            }
        return bad ? FD_ERR_ARGUMENT : FD_OK;
    }
    /* each thread's part of the rows gets its own start positions, computed from every
       part's counts: the order within a group stays the rows' order, whatever nt */
    start = (int64_t *)calloc((size_t)nt * (size_t)(n_total > 0 ? n_total : 1), sizeof(int64_t));
    if (!start) return FD_ERR_NOMEM;
    team = nt;
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        int t = 0, my_bad = 0;
        int64_t r0, r1, *mine;
#ifdef _OPENMP
        t = omp_get_thread_num();
#pragma omp single
        team = omp_get_num_threads(); /* the team granted, maybe fewer than asked */
#endif
        r0 = n * t / team;
        r1 = n * (t + 1) / team;
        mine = start + (int64_t)t * n_total;
        for (int64_t r = r0; r < r1; r++)
            for (int64_t i = 0; i < kw; i++) {
                const int64_t level = fd_code_at(codes, wide, r * kw + i);
                if (level < 0 || level >= n_levels[i]) { my_bad = 1; continue; }
                mine[level_off[i] + level]++;
            }
#ifdef _OPENMP
#pragma omp barrier
#pragma omp single
#endif
        for (int64_t j = 0; j < n_total; j++) {
            int64_t at = next[j];
            for (int u = 0; u < team; u++) {
                const int64_t c = start[(int64_t)u * n_total + j];
                start[(int64_t)u * n_total + j] = at;
                at += c;
            }
            next[j] = at;
        }
        /* (the single's implicit barrier: every start is ready) */
        for (int64_t r = r0; r < r1; r++)
            for (int64_t i = 0; i < kw; i++) {
                const int64_t level = fd_code_at(codes, wide, r * kw + i);
                int64_t at;
                if (level < 0 || level >= n_levels[i]) continue;
                at = mine[level_off[i] + level]++;
                /* within this factor's perm when next holds the group offsets */
                if (at < 0 || at >= perm_len) { my_bad = 1; continue; }
                perm[i][at] = row0 + r;
            }
#ifdef _OPENMP
#pragma omp critical(fd_group_scatter_merge)
#endif
        if (my_bad) bad = 1;
    }
    free(start);
    return bad ? FD_ERR_ARGUMENT : FD_OK;
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
