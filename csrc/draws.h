/* The draws of the batch sampler (sampling_batches.c): which group a batch or a pair takes,
 * and which positions within it, from the counter-based generator of common.h (perm, where
 * given, only fetched ahead: NULL when only the positions are wanted).  These
 * draws define the rows every seed gives (tests/test_intervention_sampler.py replays them
 * in Python); pairs_avx512.c draws the same ones eight at a time.  Private to
 * sampling_batches.c. */
#ifndef FASTDIS_DRAWS_H
#define FASTDIS_DRAWS_H

#include <stdlib.h>

#include "common.h"

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

/* Every fetch ahead goes to L2 (locality 1, prefetcht2), not L1: a batch fetches hundreds
 * of lines at once, more than L1's dozen or so fill buffers hold, and a prefetch into L1
 * waits for a free one; L2 takes many more at a time (measured: Z-diff at 10^6 rows 1.5x
 * faster), and the rows are read soon enough for L2 to keep them. */
#if defined(__GNUC__) || defined(__clang__)
#define FD_PREFETCH_AT(p) __builtin_prefetch(p, 0, 1)
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
            if (perm) FD_PREFETCH_AT(perm + out[i]);
        }
        return;
    }
    /* Floyd: the picks so far lie below j, so j itself is never taken */
    for (int64_t i = 0, j = m - count; i < count; i++, j++) {
        int64_t t = fd_draw_below(rng, j + 1);
        if (bits[t >> 6] >> (t & 63) & 1) t = j;
        bits[t >> 6] |= (uint64_t)1 << (t & 63);
        out[i] = t;
        if (perm) FD_PREFETCH_AT(perm + t);
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
 * positions in perm of the pairs' rows, pos[i] and pos[L + i], and prefetches them, for
 * the pairs i0 .. L - 1 (rng then at pair i0's first draw: pairs_avx512.c drew the first).
 * sizes: divisors m and m - 1 of eligible group e at 2e and 2e + 1, or NULL. */
static int fd_pairs_positions(fd_rng *rng, const fd_groups *g, const fd_divisor *pick,
                              const fd_divisor *sizes, int64_t n_rows, int64_t i0, int64_t L,
                              int64_t *pos)
{
    for (int64_t i = i0; i < L; i++) {
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
        if (g->perm) { /* NULL: positions only (fd_sample_positions) */
            FD_PREFETCH_AT(g->perm + pos[i]);
            FD_PREFETCH_AT(g->perm + pos[L + i]);
        }
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

#endif
