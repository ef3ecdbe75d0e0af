/* Z-diff's pair draws, eight pairs per AVX-512 operation: the same positions as
 * sampling_batches.c's scalar fd_pairs_positions, bit for bit.
 *
 * The generator is counter-based (splitmix64: draw k of a stream is mix64(s0 + k G)), so
 * the three draws of pair i (its group, its first row, its second row) are draws 3i + 1 ..
 * 3i + 3 of the batch's stream as long as none is rejected: eight pairs' draws are computed
 * at once.  fd_draw_by rejects a draw x only when x < m (then only below 2**64 mod m): a
 * lane with x < m, of probability m / 2**64, sends the whole batch back to the scalar code.
 * The remainders x mod m are exact: a floating-point quotient of x / 4096 (exact in a
 * double) by m / 4096, then one more floating-point step on the (small) remainder and an
 * integer correction (see fd_mod_x8).  Scalar draws cost four 64-bit multiplications per
 * remainder and two per mix: eight lanes per instruction is what makes the draws cheaper
 * than the rows' memory traffic. */
#include "pairs_avx512.h"
#include "common.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(FASTDIS_NO_SIMD)
#include <immintrin.h>

#define FD_GOLDEN 0x9e3779b97f4a7c15ULL
#define FD_AVX512DQ __attribute__((target("avx512f,avx512dq")))

int fd_pairs_x8_available(void)
{
    __builtin_cpu_init();
    return fd_avx512_available() && __builtin_cpu_supports("avx512dq");
}

FD_AVX512DQ static inline __m512i fd_mix64_x8(__m512i z)
{
    z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 30)),
                           _mm512_set1_epi64((long long)0xbf58476d1ce4e5b9ULL));
    z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 27)),
                           _mm512_set1_epi64((long long)0x94d049bb133111ebULL));
    return _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
}

/* x mod m for any 64-bit x and 1 <= m < 2**50 (inv4096 = 4096 / m, inv = 1 / m, rounded).
 * x / 4096 is exact in a double, so q = trunc((x >> 12) * (4096 / m)) is within
 * 2**13 / m + 1 of x / m and r = x - q m (mod 2**64) lies within (-2**13, 2**14 + m); then
 * r / m in doubles is within far less than 1 / m of its value, so its truncation misses
 * floor(r / m) by at most one either way, which the last two steps correct. */
FD_AVX512DQ static inline __m512i fd_mod_x8(__m512i x, __m512i m, __m512d inv4096, __m512d inv)
{
    const __m512i q = _mm512_cvttpd_epu64(
        _mm512_mul_pd(_mm512_cvtepi64_pd(_mm512_srli_epi64(x, 12)), inv4096));
    __m512i r = _mm512_sub_epi64(x, _mm512_mullo_epi64(q, m));
    const __m512i q1 = _mm512_cvttpd_epi64(_mm512_mul_pd(_mm512_cvtepi64_pd(r), inv));
    r = _mm512_sub_epi64(r, _mm512_mullo_epi64(q1, m));
    r = _mm512_mask_add_epi64(r, _mm512_cmplt_epi64_mask(r, _mm512_setzero_si512()), r, m);
    return _mm512_mask_sub_epi64(r, _mm512_cmpge_epi64_mask(r, m), r, m);
}

FD_AVX512DQ int64_t fd_pairs_x8(uint64_t s0, const fd_pair_groups *pg, int64_t L, int64_t *pos,
                                const int64_t *perm)
{
    const uint64_t G = FD_GOLDEN;
    /* lane k holds pair i + k: its first draw is 3 k G further along the stream */
    const __m512i lanes = _mm512_set_epi64((long long)(21 * G), (long long)(18 * G),
                                           (long long)(15 * G), (long long)(12 * G),
                                           (long long)(9 * G), (long long)(6 * G),
                                           (long long)(3 * G), 0);
    const __m512i g1 = _mm512_set1_epi64((long long)G), g2 = _mm512_set1_epi64((long long)(2 * G));
    const __m512i n_pick = _mm512_set1_epi64(pg->n_groups), one = _mm512_set1_epi64(1);
    const __m512d pick_inv = _mm512_set1_pd(1.0 / (double)pg->n_groups);
    const __m512d pick_inv4096 = _mm512_set1_pd(4096.0 / (double)pg->n_groups);
    __mmask8 reject = 0;
    int64_t i = 0;
    for (; i + 8 <= L; i += 8) {
        const __m512i s = _mm512_add_epi64(
            _mm512_set1_epi64((long long)(s0 + (uint64_t)(3 * i + 1) * G)), lanes);
        const __m512i xp = fd_mix64_x8(s);
        const __m512i xa = fd_mix64_x8(_mm512_add_epi64(s, g1));
        const __m512i xc = fd_mix64_x8(_mm512_add_epi64(s, g2));
        const __m512i e = fd_mod_x8(xp, n_pick, pick_inv4096, pick_inv);
        const __m512i e4 = _mm512_slli_epi64(e, 2);
        const __m512i m = _mm512_i64gather_epi64(e, (const void *)pg->m, 8);
        const __m512i lo = _mm512_i64gather_epi64(e, (const void *)pg->lo, 8);
        const __m512i m2 = pg->replace ? m : _mm512_sub_epi64(m, one);
        const __m512d ia = _mm512_i64gather_pd(e4, pg->inv, 8);
        const __m512d ia4096 = _mm512_i64gather_pd(_mm512_add_epi64(e4, one), pg->inv, 8);
        const __m512d ic = _mm512_i64gather_pd(_mm512_add_epi64(e4, _mm512_set1_epi64(2)),
                                               pg->inv, 8);
        const __m512d ic4096 = _mm512_i64gather_pd(_mm512_add_epi64(e4, _mm512_set1_epi64(3)),
                                                   pg->inv, 8);
        const __m512i a = fd_mod_x8(xa, m, ia4096, ia);
        __m512i c = fd_mod_x8(xc, m2, ic4096, ic);
        reject |= _mm512_cmplt_epu64_mask(xp, n_pick) | _mm512_cmplt_epu64_mask(xa, m) |
                  _mm512_cmplt_epu64_mask(xc, m2);
        if (!pg->replace) c = _mm512_mask_add_epi64(c, _mm512_cmpge_epi64_mask(c, a), c, one);
        _mm512_storeu_si512((void *)(pos + i), _mm512_add_epi64(lo, a));
        _mm512_storeu_si512((void *)(pos + L + i), _mm512_add_epi64(lo, c));
        for (int k = 0; k < 8; k++) { /* into L2, as sampling_batches.c's fetches */
            __builtin_prefetch(perm + pos[i + k], 0, 1);
            __builtin_prefetch(perm + pos[L + i + k], 0, 1);
        }
    }
    return reject ? -1 : i;
}

#else
int fd_pairs_x8_available(void) { return 0; }

int64_t fd_pairs_x8(uint64_t s0, const fd_pair_groups *pg, int64_t L, int64_t *pos,
                    const int64_t *perm)
{
    (void)s0; (void)pg; (void)L; (void)pos; (void)perm;
    return 0;
}
#endif
