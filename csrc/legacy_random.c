/* numpy's legacy RandomState permutation, replayed: the same Mersenne Twister (MT19937)
 * outputs and the same Fisher-Yates shuffle (numpy's _shuffle_raw with random_interval),
 * hence exactly RandomState(seed).permutation(n) -- what disentanglement_lib's split and
 * its capped subsets draw, and the golden tests replay.
 *
 * Why not numpy's own: at 10^6 rows its shuffle waits on a cache miss per swap, and its
 * masked rejection (draw, mask, retry when above the bound) mispredicts a branch on about
 * one draw in four.  Here the draws do not depend on the array, so a block of them is
 * drawn first, by a loop over the generator's outputs that branches on no output's value
 * (an output advances the step only when accepted; groups of outputs are decided against
 * the group's starting bound, eight at a time with AVX2), and the swaps then prefetch
 * their rows FD_PF steps ahead. */
#include <string.h>

#include "common.h"

#define FD_MT_N 624
#define FD_MT_M 397
#define FD_PF 16
#define FD_DRAWS 512 /* draws per block */
#define FD_SURE 32   /* outputs per group decided without the running bound */

static void fd_mt_refill(uint32_t *key)
{
    const uint32_t upper = 0x80000000U, lower = 0x7fffffffU, matrix = 0x9908b0dfU;
    uint32_t y;
    int i;
    for (i = 0; i < FD_MT_N - FD_MT_M; i++) {
        y = (key[i] & upper) | (key[i + 1] & lower);
        key[i] = key[i + FD_MT_M] ^ (y >> 1) ^ ((0U - (y & 1U)) & matrix);
    }
    for (; i < FD_MT_N - 1; i++) {
        y = (key[i] & upper) | (key[i + 1] & lower);
        key[i] = key[i + (FD_MT_M - FD_MT_N)] ^ (y >> 1) ^ ((0U - (y & 1U)) & matrix);
    }
    y = (key[FD_MT_N - 1] & upper) | (key[0] & lower);
    key[FD_MT_N - 1] = key[FD_MT_M - 1] ^ (y >> 1) ^ ((0U - (y & 1U)) & matrix);
}

/* The tempered outputs of the state just refilled: a loop that vectorises. */
static void fd_mt_temper(const uint32_t *key, uint32_t *out)
{
    for (int i = 0; i < FD_MT_N; i++) {
        uint32_t y = key[i];
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c5680U;
        y ^= (y << 15) & 0xefc60000U;
        y ^= y >> 18;
        out[i] = y;
    }
}

/* The generator: numpy's state (key, pos) and the tempered outputs of key (valid when
 * `fresh`: pos entries are consumed in order, as numpy's mt19937_next32). */
typedef struct {
    uint32_t *key;
    int pos, fresh, simd;
    uint32_t out[FD_MT_N];
} fd_mt;

/* Makes out[pos] the next output (pos < FD_MT_N). */
static inline void fd_mt_ready(fd_mt *g)
{
    if (g->pos >= FD_MT_N) { fd_mt_refill(g->key); g->pos = 0; g->fresh = 0; }
    if (!g->fresh) { fd_mt_temper(g->key, g->out); g->fresh = 1; }
}

static inline uint32_t fd_mt_next(fd_mt *g)
{
    fd_mt_ready(g);
    return g->out[g->pos++];
}

/* The smallest 2^b - 1 >= max: numpy's mask. */
static inline uint64_t fd_mt_mask(uint64_t max)
{
    uint64_t mask = max;
    mask |= mask >> 1; mask |= mask >> 2; mask |= mask >> 4;
    mask |= mask >> 8; mask |= mask >> 16; mask |= mask >> 32;
    return mask;
}

/* numpy's random_interval for max > 2^32 - 1: masked rejection of two 32-bit outputs,
 * high word first.  (Tables of 2^32 rows only: not the hot path.) */
static uint64_t fd_mt_interval64(fd_mt *g, uint64_t max)
{
    const uint64_t mask = fd_mt_mask(max);
    uint64_t v;
    do {
        v = (uint64_t)fd_mt_next(g) << 32;
        v |= fd_mt_next(g);
    } while ((v &= mask) > max);
    return v;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(FASTDIS_NO_SIMD)
#define FD_MT_AVX2 1
#include <immintrin.h>

/* Whether fd_mt_group_avx2 may run (fd_set_simd(0) turns it off for tests). */
static int fd_mt_simd(void)
{
    __builtin_cpu_init();
    return fd_avx2_available() && __builtin_cpu_supports("bmi2");
}

/* fd_mt_draws' group of FD_SURE (32) outputs o[] against the bound b0 (64 <= b0 < 2^31,
 * so signed compares are exact), eight at a time: the accepted values packed to the
 * front (a permutation from the accept bits: pdep / pext) and stored at j[kk..] (eight
 * slots, the ones past the accepted overwritten later).  Returns the new kk, or -1 when
 * an output lies within FD_SURE of b0 (the caller then runs the running-bound loop). */
__attribute__((target("avx2,bmi2")))
static int64_t fd_mt_group_avx2(const uint32_t *o, uint32_t mask, uint32_t b0, int64_t *j,
                                int64_t kk)
{
    const __m256i M = _mm256_set1_epi32((int)mask), B = _mm256_set1_epi32((int)b0),
                  L = _mm256_set1_epi32((int)(b0 - FD_SURE));
    __m256i v[FD_SURE / 8];
    int unsure = 0;
    for (int q = 0; q < FD_SURE / 8; q++) {
        v[q] = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(o + 8 * q)), M);
        unsure |= _mm256_movemask_ps(_mm256_castsi256_ps(
            _mm256_andnot_si256(_mm256_cmpgt_epi32(v[q], B), _mm256_cmpgt_epi32(v[q], L))));
    }
    if (unsure) return -1;
    for (int q = 0; q < FD_SURE / 8; q++) {
        const unsigned keep =
            ~(unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(v[q], B))) & 0xffU;
        const uint64_t lanes = _pdep_u64(keep, 0x0101010101010101ULL) * 0xffU;
        const uint64_t idx = _pext_u64(0x0706050403020100ULL, lanes);
        const __m256i packed = _mm256_permutevar8x32_epi32(
            v[q], _mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)idx)));
        _mm256_storeu_si256((__m256i *)(j + kk), _mm256_cvtepu32_epi64(_mm256_castsi256_si128(packed)));
        _mm256_storeu_si256((__m256i *)(j + kk + 4),
                            _mm256_cvtepu32_epi64(_mm256_extracti128_si256(packed, 1)));
        kk += __builtin_popcount(keep);
    }
    return kk;
}
#else
static int fd_mt_simd(void) { return 0; }
#endif

/* j[k] = random_interval(top - k) for k < m (top - m >= 0, so every bound is >= 1): numpy's
 * masked rejection of 32-bit outputs (bounds up to 2^32 - 1), two outputs per draw above.
 * While the mask stays the same (the bound above mask / 2), each output is stored at j[k]
 * and accepted by advancing k and the bound: no branch on the value, a dependency chain of
 * a compare and a subtraction per output. */
static void fd_mt_draws(fd_mt *g, uint64_t top, int64_t m, int64_t *j)
{
    int64_t k = 0;
    for (; k < m && top - (uint64_t)k > 0xffffffffULL; k++)
        j[k] = (int64_t)fd_mt_interval64(g, top - (uint64_t)k);
    while (k < m) {
        const uint32_t t = (uint32_t)(top - (uint64_t)k), mask = (uint32_t)fd_mt_mask(t);
        int64_t len, kk = k;
        uint32_t bound = t;
        const uint32_t *o;
        fd_mt_ready(g);
        o = g->out + g->pos;
        /* outputs to use now: each advances k by at most 1, so none of them can take the
           bound to mask / 2 or below (a new mask) or k past m before the last */
        len = FD_MT_N - g->pos;
        if (len > m - k) len = m - k;
        if (len > (int64_t)(t - (mask >> 1))) len = (int64_t)(t - (mask >> 1));
        for (int64_t i0 = 0; i0 < len; i0 += FD_SURE) {
            const int64_t end = len - i0 < FD_SURE ? len : i0 + FD_SURE, k0 = kk;
            const uint32_t b0 = bound;
            uint32_t unsure = 0;
            /* Up to FD_SURE outputs take the bound down by less than FD_SURE: an output
               at most b0 - FD_SURE is accepted and one above b0 rejected, whatever the
               outputs before it did; so unless one falls in between (rare for large
               bounds), the compare need not wait for the previous outputs. */
#ifdef FD_MT_AVX2
            if (g->simd && end - i0 == FD_SURE && b0 >= 2 * FD_SURE && b0 < 0x80000000U) {
                const int64_t next = fd_mt_group_avx2(o + i0, mask, b0, j, kk);
                if (next >= 0) { bound -= (uint32_t)(next - kk); kk = next; continue; }
            } else
#endif
            if (b0 >= 2 * FD_SURE) {
                for (int64_t i = i0; i < end; i++) {
                    const uint32_t v = o[i] & mask;
                    j[kk] = v; /* overwritten by the next output unless accepted */
                    kk += v <= b0;
                    unsure |= v - (b0 - (FD_SURE - 1)) < FD_SURE;
                }
                if (!unsure) { bound -= (uint32_t)(kk - k0); continue; }
                kk = k0;
            }
            for (int64_t i = i0; i < end; i++) {
                const uint32_t v = o[i] & mask, accept = v <= bound;
                j[kk] = v;
                kk += accept;
                bound -= accept;
            }
        }
        g->pos += (int)len;
        k = kk;
    }
}

int fd_legacy_shuffle(uint32_t *key, int *pos, int64_t *data, int64_t hi, int64_t lo)
{
    int64_t j[FD_DRAWS + 8]; /* + 8: fd_mt_group_avx2 stores eight */
    fd_mt g;
    if (!key || !pos || !data || *pos < 0 || *pos > FD_MT_N || lo < 1 || hi < lo)
        return FD_ERR_ARGUMENT;
    g.key = key; g.pos = *pos; g.fresh = 0; g.simd = fd_mt_simd();
    for (int64_t top = hi - 1; top >= lo; top -= FD_DRAWS) { /* steps top, top - 1, ... */
        const int64_t m = top - lo + 1 < FD_DRAWS ? top - lo + 1 : FD_DRAWS;
        fd_mt_draws(&g, (uint64_t)top, m, j);
        for (int64_t k = 0; k < m; k++) {
            const int64_t i = top - k, t = data[j[k]];
#if defined(__GNUC__)
            if (k + FD_PF < m) __builtin_prefetch(&data[j[k + FD_PF]], 1);
#endif
            data[j[k]] = data[i];
            data[i] = t;
        }
    }
    *pos = g.pos;
    return FD_OK;
}

/* Below this many steps each, two permutations run one after the other: a second thread
 * saves less than it costs to start (~0.1 ms for 2^16 steps). */
#define FD_LEGACY_PAIR ((int64_t)1 << 16)

/* Up to `steps` steps of one permutation in an int32 work array (half the cache
 * footprint of int64 rows).  A step i >= keep only moves data[i] to data[j]: position i
 * is final, and not wanted. */
static void fd_legacy_job_run(fd_legacy_job *jb, int64_t steps)
{
    int64_t j[FD_DRAWS + 8]; /* + 8: fd_mt_group_avx2 stores eight */
    int32_t *FD_RESTRICT data = jb->data;
    const int64_t lo = jb->top - steps + 1 > 1 ? jb->top - steps + 1 : 1, keep = jb->keep;
    fd_mt g;
    g.key = jb->key; g.pos = jb->pos; g.fresh = 0; g.simd = fd_mt_simd();
    for (int64_t top = jb->top; top >= lo; top -= FD_DRAWS) { /* steps top, top - 1, ... */
        const int64_t m = top - lo + 1 < FD_DRAWS ? top - lo + 1 : FD_DRAWS;
        /* steps k < m_move have i = top - k >= keep */
        const int64_t m_move = top - keep + 1 < 0 ? 0 : top - keep + 1 < m ? top - keep + 1 : m;
        int64_t k = 0;
        fd_mt_draws(&g, (uint64_t)top, m, j);
        for (; k < m_move; k++) {
#if defined(__GNUC__)
            if (k + FD_PF < m) __builtin_prefetch(&data[j[k + FD_PF]], 1);
#endif
            data[j[k]] = data[top - k];
        }
        for (; k < m; k++) {
            const int64_t i = top - k;
            const int32_t t = data[j[k]];
#if defined(__GNUC__)
            if (k + FD_PF < m) __builtin_prefetch(&data[j[k + FD_PF]], 1);
#endif
            data[j[k]] = data[i];
            data[i] = t;
        }
    }
    jb->top = lo - 1;
    jb->pos = g.pos;
}

static int fd_legacy_job_ok(const fd_legacy_job *jb)
{
    return jb->key && jb->data && jb->pos >= 0 && jb->pos <= FD_MT_N && jb->n >= 0 &&
           jb->n <= INT32_MAX && jb->keep >= 0 && jb->keep <= jb->n && jb->top < jb->n;
}

int fd_legacy_jobs(fd_legacy_job *a, fd_legacy_job *b, int64_t steps, int n_threads)
{
    fd_legacy_job *job[2];
    int64_t work[2];
    int nt = 1;
    job[0] = a; job[1] = b;
    if (steps < 1) return FD_ERR_ARGUMENT;
    for (int t = 0; t < 2; t++) {
        if (job[t] && !fd_legacy_job_ok(job[t])) return FD_ERR_ARGUMENT;
        work[t] = job[t] && job[t]->top > 0 ? fd_min64(job[t]->top, steps) : 0;
    }
    if (work[0] >= FD_LEGACY_PAIR && work[1] >= FD_LEGACY_PAIR && fd_cap_threads(n_threads) >= 2)
        nt = 2;
    (void)nt; /* used by OpenMP only */
    /* two independent generators: the same steps whichever thread runs each, or both */
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static, 1)
#endif
    for (int t = 0; t < 2; t++)
        if (work[t] > 0) fd_legacy_job_run(job[t], steps);
    return FD_OK;
}
