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

/* ---- batches ---------------------------------------------------------------------- */

/* fd_below's draw (the same values from the same generator state) without its two 64-bit
 * divisions: the rejection threshold 2**64 mod m is below m, so a draw x >= m is always
 * kept and the threshold is computed only for the rare x < m; and x mod m is Lemire,
 * Kaser & Kurz's exact remainder by multiplication (Software: Practice and Experience
 * 2019) with M = ceil(2**128 / m), where the compiler has 128-bit integers. */
typedef struct {
    uint64_t m;
#ifdef __SIZEOF_INT128__
    unsigned __int128 magic;
#endif
} fd_divisor;

static inline fd_divisor fd_divisor_of(int64_t m)
{
    fd_divisor dv;
    dv.m = (uint64_t)m;
#ifdef __SIZEOF_INT128__
    dv.magic = ~(unsigned __int128)0 / dv.m + 1; /* m = 1: 0, and every remainder is 0 */
#endif
    return dv;
}

static inline uint64_t fd_mod(uint64_t x, const fd_divisor *dv)
{
#ifdef __SIZEOF_INT128__
    const unsigned __int128 low = dv->magic * x;
    const unsigned __int128 top = (unsigned __int128)(uint64_t)(low >> 64) * dv->m;
    return (uint64_t)((top + (((unsigned __int128)(uint64_t)low * dv->m) >> 64)) >> 64);
#else
    return x % dv->m;
#endif
}

static inline int64_t fd_draw_by(fd_rng *r, const fd_divisor *dv)
{
    uint64_t x = fd_next(r);
    if (x < dv->m) {
        const uint64_t threshold = (0 - dv->m) % dv->m;
        while (x < threshold) x = fd_next(r);
    }
    return (int64_t)fd_mod(x, dv);
}

/* fd_below(r, m) for a divisor used once: the same draw, one division (x mod m) */
static inline int64_t fd_draw_below(fd_rng *r, int64_t m)
{
    const uint64_t um = (uint64_t)m;
    uint64_t x = fd_next(r);
    if (x < um) {
        const uint64_t threshold = (0 - um) % um;
        while (x < threshold) x = fd_next(r);
    }
    return (int64_t)(x % um);
}

#if defined(__GNUC__) || defined(__clang__)
#define FD_PREFETCH_AT(p) __builtin_prefetch(p)
#else
#define FD_PREFETCH_AT(p) ((void)(p))
#endif

/* Draw `count` distinct positions in [0, m) (count <= m) into out, prefetching
 * perm[pos] of each (perm: the group's rows).  scratch holds 2 * count int64 (partial
 * Fisher-Yates when m < 2 count); otherwise Floyd's algorithm, its set of picks a bitmap
 * `bits` of m bits or more, all 0 (and left so): no hash set to clear, hash and probe,
 * and only the words picked are touched. */
static void fd_distinct(fd_rng *rng, int64_t m, int64_t count, int64_t *out,
                        int64_t *scratch, uint64_t *bits, const int64_t *perm)
{
    if (m < 2 * count) {
        for (int64_t i = 0; i < m; i++) scratch[i] = i;
        for (int64_t i = 0; i < count; i++) {
            int64_t j = i + fd_draw_below(rng, m - i), t = scratch[i];
            scratch[i] = scratch[j]; scratch[j] = t;
            out[i] = scratch[i];
            FD_PREFETCH_AT(perm + out[i]);
        }
        return;
    }
    /* Floyd: the picks so far lie below j, so j itself is never taken */
    for (int64_t i = 0, j = m - count; i < count; i++, j++) {
        int64_t t = fd_draw_below(rng, j + 1);
        if (bits[t >> 6] >> (t & 63) & 1) t = j;
        bits[t >> 6] |= (uint64_t)1 << (t & 63);
        out[i] = t;
        FD_PREFETCH_AT(perm + t);
    }
    for (int64_t i = 0; i < count; i++) bits[out[i] >> 6] = 0;
}

/* A group for one batch (or one pair), as its index among the eligible groups: in
 * proportion to its size (the group of a random row) with by_size, uniformly otherwise.
 * `pick` divides by the number of eligible rows (by_size) or groups. */
static int64_t fd_pick_group(fd_rng *rng, const fd_groups *g, const fd_divisor *pick)
{
    if (g->by_size) {
        int64_t u = fd_draw_by(rng, pick), a = 0, z = g->n_groups - 1;
        while (a < z) { int64_t mid = (a + z) >> 1; if (g->cum[mid + 1] <= u) a = mid + 1; else z = mid; }
        return a;
    }
    return fd_draw_by(rng, pick);
}

/* Eligible groups up to which FD_BATCH_PAIRS keeps the divisors of every group's size m
 * and m - 1 (a pair draws its group anew each time); beyond, each draw divides. */
#define FD_PAIR_DIVISORS ((int64_t)1 << 16)

/* FD_BATCH_PAIRS: every pair of the batch draws its own group (the value of the fixed
 * factor, as in Higgins et al. 2017), then two rows of it: two different rows, or two
 * independent rows with replace.  Eligible groups hold two rows or more.  Writes the
 * positions in perm of the pairs' rows, pos[i] and pos[L + i], and prefetches them.
 * sizes: divisors m and m - 1 of eligible group e at 2e and 2e + 1, or NULL. */
static int fd_pairs_positions(fd_rng *rng, const fd_groups *g, const fd_divisor *pick,
                              const fd_divisor *sizes, int64_t n_rows, int64_t L, int64_t *pos)
{
    for (int64_t i = 0; i < L; i++) {
        const int64_t e = fd_pick_group(rng, g, pick), grp = g->groups[e], lo = g->offsets[grp];
        const int64_t m = g->offsets[grp + 1] - lo;
        int64_t a, c;
        /* as in the per-batch modes: a group outside the rows is a caller's bug (and a
         * group of one row could not give two different rows) */
        if (lo < 0 || m < 2 || g->offsets[grp + 1] > n_rows) return 1;
        if (sizes) {
            a = fd_draw_by(rng, sizes + 2 * e);
            c = fd_draw_by(rng, sizes + 2 * e + (g->replace ? 0 : 1));
        } else {
            a = fd_draw_below(rng, m);
            c = fd_draw_below(rng, g->replace ? m : m - 1);
        }
        if (!g->replace && c >= a) c++;
        pos[i] = lo + a;
        pos[L + i] = lo + c;
#if defined(__GNUC__) || defined(__clang__)
        __builtin_prefetch(g->perm + pos[i]);
        __builtin_prefetch(g->perm + pos[L + i]);
#endif
    }
    return 0;
}

/* The positions of one batch's rows within its group [0, m): `draws` of them. */
static void fd_batch_positions(fd_rng *rng, int mode, int replace, int64_t m, int64_t L,
                               int64_t draws, int64_t *rows, int64_t *scratch, uint64_t *bits,
                               const int64_t *perm)
{
    if (replace) {
        const fd_divisor dm = fd_divisor_of(m);
        for (int64_t i = 0; i < draws; i++) rows[i] = fd_draw_by(rng, &dm);
    } else if (m >= draws) {
        fd_distinct(rng, m, draws, rows, scratch, bits, perm);
    } else if (mode == FD_BATCH_PAIR_DIFF) { /* small group: pairs of two different rows */
        for (int64_t i = 0; i < L; i++) {
            int64_t a = fd_draw_below(rng, m), c = fd_draw_below(rng, m - 1);
            rows[i] = a; rows[L + i] = c >= a ? c + 1 : c;
        }
    } else { /* small group: with replacement */
        const fd_divisor dm = fd_divisor_of(m);
        for (int64_t i = 0; i < L; i++) rows[i] = fd_draw_by(rng, &dm);
    }
}

/* rows[i] = perm[rows[i]] (positions -> rows), all loads issued before any row of codes
 * is read: the batch's cache misses overlap instead of forming a chain per row.  Returns
 * 1 if perm holds a row outside codes. */
static int fd_resolve_rows(const fd_array *codes, const int64_t *perm, int64_t draws,
                           int64_t *rows)
{
    int bad = 0;
    for (int64_t i = 0; i < draws; i++) {
        const int64_t r = perm[rows[i]];
        if ((uint64_t)r >= (uint64_t)codes->n_rows) { bad = 1; rows[i] = 0; continue; }
        rows[i] = r;
#if defined(__GNUC__) || defined(__clang__)
        {
            const char *p = (const char *)codes->data +
                            r * codes->row_stride * fd_itemsize(codes->dtype);
            __builtin_prefetch(p);
            __builtin_prefetch(p + 64);
        }
#endif
    }
    return bad;
}

/* The batch's reduction into o[d]: the mean over L pairs of |z_a - z_b| (rows[i] and
 * rows[L + i]), or the unbiased variance (ddof = 1, two passes) of L rows.  One summation
 * order for every layout, so float64 C-ordered codes (the fast path) give the same bits. */
static void fd_reduce_batch(const fd_array *codes, int mode, const int64_t *rows, int64_t L,
                            double *acc, double *o)
{
    const int64_t d = codes->n_cols, rs = codes->row_stride, cs = codes->col_stride;
    const int fast = codes->dtype == FD_FLOAT64 && cs == 1;
    const double *x = (const double *)codes->data;
    for (int64_t j = 0; j < d; j++) acc[j] = 0.0;
    if (mode != FD_BATCH_VARIANCE) {
        for (int64_t i = 0; i < L; i++) {
            const int64_t ra = rows[i] * rs, rb = rows[L + i] * rs;
            if (fast) {
                const double *pa = x + ra, *pb = x + rb;
                for (int64_t j = 0; j < d; j++) acc[j] += fabs(pa[j] - pb[j]);
            } else {
                for (int64_t j = 0; j < d; j++)
                    acc[j] += fabs(fd_load_float(codes->data, codes->dtype, ra + j * cs) -
                                   fd_load_float(codes->data, codes->dtype, rb + j * cs));
            }
        }
        for (int64_t j = 0; j < d; j++) o[j] = acc[j] / (double)L;
        return;
    }
    {
        double *mean = acc + d;
        for (int64_t j = 0; j < d; j++) mean[j] = 0.0;
        for (int64_t i = 0; i < L; i++) {
            if (fast) {
                const double *p = x + rows[i] * rs;
                for (int64_t j = 0; j < d; j++) mean[j] += p[j];
            } else {
                for (int64_t j = 0; j < d; j++)
                    mean[j] += fd_load_float(codes->data, codes->dtype, rows[i] * rs + j * cs);
            }
        }
        for (int64_t j = 0; j < d; j++) mean[j] /= (double)L;
        for (int64_t i = 0; i < L; i++) {
            if (fast) {
                const double *p = x + rows[i] * rs;
                for (int64_t j = 0; j < d; j++) { const double t = p[j] - mean[j]; acc[j] += t * t; }
            } else {
                for (int64_t j = 0; j < d; j++) {
                    const double t = fd_load_float(codes->data, codes->dtype,
                                                   rows[i] * rs + j * cs) - mean[j];
                    acc[j] += t * t;
                }
            }
        }
        for (int64_t j = 0; j < d; j++) o[j] = L > 1 ? acc[j] / (double)(L - 1) : 0.0;
    }
}

int fd_sample_batches(const fd_array *codes, const fd_groups *g, int mode, int64_t batch_size,
                      uint64_t seed, const int64_t *batch_ids, int64_t n_batches, double *out,
                      int n_threads)
{
    return fd_sample_batches_sets(codes, g, 1, NULL, mode, batch_size, seed, batch_ids,
                                  n_batches, out, n_threads);
}

/* The per-set constants of the draws: the divisor of the group pick, and (FD_BATCH_PAIRS
 * with few groups) those of every group's size m and m - 1, at sizes[2e], sizes[2e + 1]. */
typedef struct {
    fd_divisor pick;
    fd_divisor *sizes;
} fd_set_draws;

static int fd_set_draws_of(const fd_groups *g, int mode, fd_set_draws *sd)
{
    sd->pick = fd_divisor_of(g->by_size ? g->cum[g->n_groups] : g->n_groups);
    sd->sizes = NULL;
    if (mode == FD_BATCH_PAIRS && g->n_groups <= FD_PAIR_DIVISORS) {
        sd->sizes = (fd_divisor *)malloc(sizeof(fd_divisor) * (size_t)(2 * g->n_groups));
        if (!sd->sizes) return FD_ERR_NOMEM;
        for (int64_t e = 0; e < g->n_groups; e++) {
            /* a bad group is refused when drawn; its divisors only need to be defined */
            const int64_t m = g->offsets[g->groups[e] + 1] - g->offsets[g->groups[e]];
            sd->sizes[2 * e] = fd_divisor_of(m >= 2 ? m : 2);
            sd->sizes[2 * e + 1] = fd_divisor_of(m >= 2 ? m - 1 : 1);
        }
    }
    return FD_OK;
}

int fd_sample_batches_sets(const fd_array *codes, const fd_groups *sets, int64_t n_sets,
                           const int64_t *set_of, int mode, int64_t batch_size, uint64_t seed,
                           const int64_t *batch_ids, int64_t n_batches, double *out,
                           int n_threads)
{
    const int64_t d = codes->n_cols, L = batch_size;
    const int64_t draws = mode == FD_BATCH_VARIANCE ? L : 2 * L;
    int nomem = 0, bad = 0, status = FD_OK;
    fd_set_draws *sd;
    int nt = fd_team(fd_resolve_threads(n_threads, n_batches * L), n_batches * draws * d);
    (void)nt; /* used by OpenMP only */
    if (L < 1 || d < 1 || n_sets < 1) return FD_ERR_ARGUMENT;
    for (int64_t s = 0; s < n_sets; s++)
        if (sets[s].n_groups < 1 || (sets[s].by_size && sets[s].cum[sets[s].n_groups] < 1))
            return FD_ERR_ARGUMENT;
    if (set_of)
        for (int64_t b = 0; b < n_batches; b++)
            if (set_of[b] < 0 || set_of[b] >= n_sets) return FD_ERR_ARGUMENT;
    sd = (fd_set_draws *)calloc((size_t)n_sets, sizeof(fd_set_draws));
    if (!sd) return FD_ERR_NOMEM;
    for (int64_t s = 0; s < n_sets && status == FD_OK; s++)
        status = fd_set_draws_of(sets + s, mode, sd + s);
    if (status != FD_OK) {
        for (int64_t s = 0; s < n_sets; s++) free(sd[s].sizes);
        free(sd);
        return status;
    }

#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        int64_t *rows = (int64_t *)malloc(sizeof(int64_t) * (size_t)(draws + 4 * draws));
        int64_t *scratch = rows ? rows + draws : NULL;
        double *acc = (double *)malloc(sizeof(double) * (size_t)(2 * d));
        /* Floyd's picks within a group (of at most n_rows rows: checked when drawn); n_rows / 8
           bytes, only the words picked ever touched */
        uint64_t *bits = mode == FD_BATCH_PAIRS ? NULL
                         : (uint64_t *)calloc((size_t)(codes->n_rows / 64 + 1), sizeof(uint64_t));
        const int ok = rows && acc && (bits || mode == FD_BATCH_PAIRS);
        int my_bad = 0;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 16)
#endif
        for (int64_t b = 0; b < n_batches; b++) {
            fd_rng rng = fd_rng_for(seed, (uint64_t)batch_ids[b]);
            const int64_t s = set_of ? set_of[b] : 0;
            const fd_groups *g = sets + s;
            if (!ok) continue;
            if (mode == FD_BATCH_PAIRS) {
                if (fd_pairs_positions(&rng, g, &sd[s].pick, sd[s].sizes, codes->n_rows, L,
                                       rows)) {
                    my_bad = 1;
                    continue;
                }
            } else {
                const int64_t grp = g->groups[fd_pick_group(&rng, g, &sd[s].pick)];
                const int64_t lo = g->offsets[grp], m = g->offsets[grp + 1] - lo;
                /* the groups come from fd_group_rows: a group outside the rows is a caller's bug */
                if (lo < 0 || m < 2 || g->offsets[grp + 1] > codes->n_rows) { my_bad = 1; continue; }
                fd_batch_positions(&rng, mode, g->replace, m, L, draws, rows, scratch, bits,
                                   g->perm + lo);
                for (int64_t i = 0; i < draws; i++) rows[i] += lo;
            }
            if (fd_resolve_rows(codes, g->perm, draws, rows)) my_bad = 1;
            fd_reduce_batch(codes, mode, rows, L, acc, out + b * d);
        }
#ifdef _OPENMP
#pragma omp critical(fd_sample_merge)
#endif
        {
            if (!ok) nomem = 1;
            if (my_bad) bad = 1;
        }
        free(rows); free(acc); free(bits);
    }
    for (int64_t s = 0; s < n_sets; s++) free(sd[s].sizes);
    free(sd);
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
