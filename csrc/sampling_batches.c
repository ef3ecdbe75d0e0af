/* Drawing + reducing batches of rows in C, for the intervention metrics (Z-diff, Z-min and
 * Z-max variance): every batch is drawn from its group with a counter-based generator keyed
 * by (seed, batch id) and reduced on the spot, so results do not depend on the number of
 * threads and no batch x rows x codes array ever exists.  The groups come from
 * sampling.c's grouping (fd_group_rows / fd_group_scatter). */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "draws.h"
#include "pairs_avx512.h"
#include "batch_reduce.h"

/* ---- batches ---------------------------------------------------------------------- */

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
            FD_PREFETCH_AT(p);
            FD_PREFETCH_AT(p + 64);
        }
#endif
    }
    return bad;
}

int fd_sample_batches(const fd_array *codes, const fd_groups *g, int mode, int64_t batch_size,
                      uint64_t seed, const int64_t *batch_ids, int64_t n_batches, double *out,
                      int n_threads)
{
    return fd_sample_batches_sets(codes, g, 1, NULL, mode, batch_size, seed, batch_ids,
                                  n_batches, out, n_threads);
}

/* The per-set constants of the draws: the divisor of the group pick, and (FD_BATCH_PAIRS
 * with few groups) those of every group's size m and m - 1, at sizes[2e], sizes[2e + 1];
 * and where pairs_avx512.c can draw the pairs (uniform picks, every group within the rows),
 * the groups as it reads them (x8 set, their arrays in one block at lo). */
typedef struct {
    fd_divisor pick;
    fd_divisor *sizes;
    fd_pair_groups pg;
    int64_t *lo;
    int x8;
} fd_set_draws;

static void fd_set_draws_free(fd_set_draws *sd) { free(sd->sizes); free(sd->lo); }

/* The vector draws' tables of a set (sd->x8 left 0 where it cannot use them). */
static int fd_set_pairs_x8(const fd_groups *g, int64_t n_rows, fd_set_draws *sd)
{
    const int64_t n = g->n_groups;
    double *inv;
    int64_t *m;
    /* the remainders are exact below 2**50 (pairs_avx512.c) */
    if (g->by_size || n >= ((int64_t)1 << 50)) return FD_OK;
    for (int64_t e = 0; e < n; e++) {
        const int64_t grp = g->groups[e], lo = g->offsets[grp], hi = g->offsets[grp + 1];
        if (lo < 0 || hi - lo < 2 || hi > n_rows) return FD_OK; /* the scalar draws refuse it */
    }
    sd->lo = (int64_t *)malloc(sizeof(int64_t) * (size_t)(6 * n));
    if (!sd->lo) return FD_ERR_NOMEM;
    m = sd->lo + n;
    inv = (double *)(sd->lo + 2 * n);
    for (int64_t e = 0; e < n; e++) {
        const int64_t grp = g->groups[e];
        const int64_t m2 = g->offsets[grp + 1] - g->offsets[grp] - (g->replace ? 0 : 1);
        sd->lo[e] = g->offsets[grp];
        m[e] = g->offsets[grp + 1] - g->offsets[grp];
        inv[4 * e] = 1.0 / (double)m[e];
        inv[4 * e + 1] = 4096.0 / (double)m[e];
        inv[4 * e + 2] = 1.0 / (double)m2;
        inv[4 * e + 3] = 4096.0 / (double)m2;
    }
    sd->pg.lo = sd->lo;
    sd->pg.m = m;
    sd->pg.inv = inv;
    sd->pg.n_groups = n;
    sd->pg.replace = g->replace;
    sd->x8 = 1;
    return FD_OK;
}

static int fd_set_draws_of(const fd_groups *g, int mode, int64_t n_rows, int x8,
                           fd_set_draws *sd)
{
    sd->pick = fd_divisor_of(g->by_size ? g->cum[g->n_groups] : g->n_groups);
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
    if (mode == FD_BATCH_PAIRS && x8) return fd_set_pairs_x8(g, n_rows, sd);
    return FD_OK;
}

/* Batches one thread takes at a time (consecutive in set order): the pipeline of
 * fd_sample_batches_sets runs within them. */
#define FD_BATCH_CHUNK 16

/* order: the batches 0 .. n_batches - 1 sorted by set_of (stable; identity without sets). */
static int fd_order_by_set(const int64_t *set_of, int64_t n_sets, int64_t n_batches,
                           int64_t *order)
{
    int64_t *next;
    if (!set_of || n_sets == 1) {
        for (int64_t b = 0; b < n_batches; b++) order[b] = b;
        return FD_OK;
    }
    next = (int64_t *)calloc((size_t)n_sets + 1, sizeof(int64_t));
    if (!next) return FD_ERR_NOMEM;
    for (int64_t b = 0; b < n_batches; b++) next[set_of[b] + 1]++;
    for (int64_t s = 0; s < n_sets; s++) next[s + 1] += next[s];
    for (int64_t b = 0; b < n_batches; b++) order[next[set_of[b]]++] = b;
    free(next);
    return FD_OK;
}

/* Batch b drawn: the positions in perm of the rows it reduces, into rows (their perm
 * entries fetched ahead where perm is given).  Returns the batch's set, or NULL (and sets
 * *bad) where its group lies outside the n_rows rows: the batch is then not reduced. */
static const fd_groups *fd_draw_batch(int64_t n_rows, const fd_groups *sets,
                                      const fd_set_draws *sd, const int64_t *set_of, int mode,
                                      uint64_t seed, const int64_t *batch_ids, int64_t b,
                                      int64_t L, int64_t draws, int64_t *rows, int64_t *scratch,
                                      uint64_t *bits, int *bad)
{
    fd_rng rng = fd_rng_for(seed, (uint64_t)batch_ids[b]);
    const int64_t s = set_of ? set_of[b] : 0;
    const fd_groups *g = sets + s;
    if (mode == FD_BATCH_PAIRS) {
        int64_t i0 = sd[s].x8 ? fd_pairs_x8(rng.s, &sd[s].pg, L, rows, g->perm) : 0;
        if (i0 < 0) i0 = 0; /* a draw to reject among them: all drawn again, one by one */
        rng.s += 3 * (uint64_t)i0 * 0x9e3779b97f4a7c15ULL; /* the 3 i0 draws taken */
        if (fd_pairs_positions(&rng, g, &sd[s].pick, sd[s].sizes, n_rows, i0, L, rows)) {
            *bad = 1;
            return NULL;
        }
    } else {
        const int64_t grp = g->groups[fd_pick_group(&rng, g, &sd[s].pick)];
        const int64_t lo = g->offsets[grp], m = g->offsets[grp + 1] - lo;
        /* the groups come from fd_group_rows: a group outside the rows is a caller's bug */
        if (lo < 0 || m < 2 || g->offsets[grp + 1] > n_rows) { *bad = 1; return NULL; }
        fd_batch_positions(&rng, mode, g->replace, m, L, draws, rows, scratch, bits,
                           g->perm ? g->perm + lo : NULL);
        for (int64_t i = 0; i < draws; i++) rows[i] += lo;
    }
    return g;
}

/* The one driver of the draws: with codes, every batch reduced into out (and, with
 * ranges, the range of the values read merged into it); without (codes NULL), each batch's
 * positions in its set's perm written to pos[b * draws ..] instead (perm may then be NULL:
 * the rows need not be in memory). */
static int fd_run_batches(const fd_array *codes, int64_t n_rows, const fd_groups *sets,
                          int64_t n_sets, const int64_t *set_of, int mode, int64_t batch_size,
                          uint64_t seed, const int64_t *batch_ids, int64_t n_batches,
                          double *out, double *ranges, int64_t *pos, int n_threads)
{
    const int64_t d = codes ? codes->n_cols : 1, L = batch_size;
    const int64_t draws = mode == FD_BATCH_VARIANCE ? L : 2 * L;
    int nomem = 0, bad = 0, status = FD_OK, x8;
    int64_t *order, n_chunks;
    fd_set_draws *sd;
    int nt = fd_team(fd_resolve_threads(n_threads, n_batches * L), n_batches * draws * d);
    (void)nt; /* used by OpenMP only */
    if (L < 1 || d < 1 || n_sets < 1 || n_rows < 0) return FD_ERR_ARGUMENT;
    for (int64_t s = 0; s < n_sets; s++)
        if (sets[s].n_groups < 1 || (sets[s].by_size && sets[s].cum[sets[s].n_groups] < 1))
            return FD_ERR_ARGUMENT;
    if (set_of)
        for (int64_t b = 0; b < n_batches; b++)
            if (set_of[b] < 0 || set_of[b] >= n_sets) return FD_ERR_ARGUMENT;
    sd = (fd_set_draws *)calloc((size_t)n_sets, sizeof(fd_set_draws));
    if (!sd) return FD_ERR_NOMEM;
    /* the vector draws prefetch perm: positions alone take the scalar ones (the same) */
    x8 = mode == FD_BATCH_PAIRS && codes && fd_pairs_x8_available();
    for (int64_t s = 0; s < n_sets && status == FD_OK; s++)
        status = fd_set_draws_of(sets + s, mode, n_rows, x8, sd + s);
    if (status != FD_OK) {
        for (int64_t s = 0; s < n_sets; s++) fd_set_draws_free(sd + s);
        free(sd);
        return status;
    }

    /* batches taken set by set (factor by factor): the groups and perm of one set are
       reused while they are in cache; each batch still has its own stream and output row */
    order = (int64_t *)malloc(sizeof(int64_t) * (size_t)(n_batches > 0 ? n_batches : 1));
    if (!order || fd_order_by_set(set_of, n_sets, n_batches, order) != FD_OK) {
        free(order);
        for (int64_t s = 0; s < n_sets; s++) fd_set_draws_free(sd + s);
        free(sd);
        return FD_ERR_NOMEM;
    }
    if (ranges)
        for (int64_t j = 0; j < d; j++) { ranges[j] = INFINITY; ranges[d + j] = -INFINITY; }
    n_chunks = (n_batches + FD_BATCH_CHUNK - 1) / FD_BATCH_CHUNK;
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        /* the rows of two batches (the one being reduced, the next one drawn) and the
           partial Fisher-Yates scratch */
        int64_t *buf = (int64_t *)malloc(sizeof(int64_t) * (size_t)(2 * draws + 4 * draws));
        int64_t *scratch = buf ? buf + 2 * draws : NULL;
        /* the generic reduction's sums and means, then this thread's range (lo, hi) */
        double *acc = (double *)malloc(sizeof(double) * (size_t)(4 * d));
        double *lo = ranges && acc ? acc + 2 * d : NULL, *hi = lo ? lo + d : NULL;
        /* Floyd's picks within a group (of at most n_rows rows: checked when drawn); n_rows / 8
           bytes, only the words picked ever touched */
        uint64_t *bits = mode == FD_BATCH_PAIRS ? NULL
                         : (uint64_t *)calloc((size_t)(n_rows / 64 + 1), sizeof(uint64_t));
        const int ok = buf && acc && (bits || mode == FD_BATCH_PAIRS);
        int my_bad = 0;
        if (lo)
            for (int64_t j = 0; j < d; j++) { lo[j] = INFINITY; hi[j] = -INFINITY; }
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (int64_t c = 0; c < n_chunks; c++) {
            const int64_t t0 = c * FD_BATCH_CHUNK, t1 = fd_min64(t0 + FD_BATCH_CHUNK, n_batches);
            int64_t *cur = buf, *next = buf ? buf + draws : NULL;
            const fd_groups *g;
            int cur_ok;
            if (!ok) continue;
            if (!codes) { /* positions only: no rows to fetch, nothing to overlap */
                for (int64_t t = t0; t < t1; t++)
                    fd_draw_batch(n_rows, sets, sd, set_of, mode, seed, batch_ids, order[t], L,
                                  draws, pos + order[t] * draws, scratch, bits, &my_bad);
                continue;
            }
            /* software pipeline: batch t + 1 is drawn (its perm entries fetched) while batch
               t's rows come from memory, then batch t is reduced, then batch t + 1's rows
               looked up in perm (their loads issued): the draws' arithmetic overlaps the
               memory latency instead of waiting for it */
            g = fd_draw_batch(n_rows, sets, sd, set_of, mode, seed, batch_ids, order[t0], L,
                              draws, cur, scratch, bits, &my_bad);
            if (g && fd_resolve_rows(codes, g->perm, draws, cur)) my_bad = 1;
            cur_ok = g != NULL;
            for (int64_t t = t0; t < t1; t++) {
                int64_t *swap;
                g = t + 1 < t1 ? fd_draw_batch(n_rows, sets, sd, set_of, mode, seed, batch_ids,
                                               order[t + 1], L, draws, next, scratch, bits,
                                               &my_bad)
                               : NULL;
                if (cur_ok) fd_reduce_batch(codes, mode, cur, L, acc, out + order[t] * d, lo, hi);
                if (g && fd_resolve_rows(codes, g->perm, draws, next)) my_bad = 1;
                swap = cur; cur = next; next = swap;
                cur_ok = g != NULL;
            }
        }
#ifdef _OPENMP
#pragma omp critical(fd_sample_merge)
#endif
        {
            if (!ok) nomem = 1;
            if (my_bad) bad = 1;
            if (lo) fd_merge_range(ranges, lo, hi, d);
        }
        free(buf); free(acc); free(bits);
    }
    free(order);
    for (int64_t s = 0; s < n_sets; s++) fd_set_draws_free(sd + s);
    free(sd);
    return nomem ? FD_ERR_NOMEM : bad ? FD_ERR_ARGUMENT : FD_OK;
}

int fd_sample_batches_sets(const fd_array *codes, const fd_groups *sets, int64_t n_sets,
                           const int64_t *set_of, int mode, int64_t batch_size, uint64_t seed,
                           const int64_t *batch_ids, int64_t n_batches, double *out,
                           int n_threads)
{
    return fd_run_batches(codes, codes->n_rows, sets, n_sets, set_of, mode, batch_size, seed,
                          batch_ids, n_batches, out, NULL, NULL, n_threads);
}

int fd_sample_batches_ranges(const fd_array *codes, const fd_groups *sets, int64_t n_sets,
                             const int64_t *set_of, int mode, int64_t batch_size,
                             uint64_t seed, const int64_t *batch_ids, int64_t n_batches,
                             double *out, double *ranges, int n_threads)
{
    return fd_run_batches(codes, codes->n_rows, sets, n_sets, set_of, mode, batch_size, seed,
                          batch_ids, n_batches, out, ranges, NULL, n_threads);
}

int fd_sample_positions(int64_t n_rows, const fd_groups *sets, int64_t n_sets,
                        const int64_t *set_of, int mode, int64_t batch_size, uint64_t seed,
                        const int64_t *batch_ids, int64_t n_batches, int64_t *pos,
                        int n_threads)
{
    return fd_run_batches(NULL, n_rows, sets, n_sets, set_of, mode, batch_size, seed,
                          batch_ids, n_batches, NULL, NULL, pos, n_threads);
}
