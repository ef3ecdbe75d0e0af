/* Loops over lanes of rows, and exp / log1p written as plain arithmetic so that such
 * loops vectorise (libm's calls would not).  Private to the kernels. */
#ifndef FASTDIS_LANES_H
#define FASTDIS_LANES_H

#include <stdint.h>
#include <string.h>

/* A loop over lanes: one SIMD operation per statement (elementwise, so exact). */
#ifdef _OPENMP
#define FD_LANES _Pragma("omp simd")
#else
#define FD_LANES
#endif

/* One copy of the row loop per SIMD width, picked at load time (the sums are the same). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define FD_SIMD_CLONES __attribute__((target_clones("default", "avx2", "avx512f")))
#else
#define FD_SIMD_CLONES
#endif

/* Inlined even into the SIMD clones of the kernels' loops (a call would stop the loop's
 * vectorisation). */
#if defined(__GNUC__)
#define FD_LANE_FN static inline __attribute__((always_inline))
#else
#define FD_LANE_FN static inline
#endif

/* exp(t) for t <= 709 (t below -708 counts as -708: a result of 3e-308 instead of less):
 * Cody and Waite's reduction t = k ln2 + r, |r| <= ln2 / 2, then 1 + r + r^2 q(r), q a
 * degree-9 Chebyshev fit of (e^r - 1 - r) / r^2 (error below 1.1e-16 in q: 1.3e-17
 * relative in e^r, under the rounding), times 2^k built in the exponent bits.  Plain
 * arithmetic, so a loop of it vectorises. */
FD_LANE_FN double fd_exp_neg(double t)
{
    const double shift = 0x1.8p52, inv_ln2 = 0x1.71547652b82fep0;
    const double ln2_hi = 0x1.62e42fee00000p-1, ln2_lo = 0x1.a39ef35793c76p-33;
    const uint64_t magic = 0x4338000000000000ULL; /* the bits of shift */
    double kf, r, q, scale;
    uint64_t u, bits;
    t = t > -708.0 ? t : -708.0;
    kf = t * inv_ln2 + shift; /* k rounded to the nearest integer, in the low bits */
    memcpy(&u, &kf, sizeof u);
    kf -= shift;
    r = t - kf * ln2_hi; /* exact: ln2_hi has 32 trailing zero bits, |k| < 2^11 */
    r = r - kf * ln2_lo;
    q = 2.5100375832561234e-08;
    q = 2.7620075879983367e-07 + r * q;
    q = 2.7557268480310024e-06 + r * q;
    q = 2.4801521322368692e-05 + r * q;
    q = 0.00019841269863040545 + r * q;
    q = 0.0013888888917196719 + r * q;
    q = 0.008333333333330065 + r * q;
    q = 0.041666666666624164 + r * q;
    q = 0.16666666666666669 + r * q;
    q = 0.5000000000000001 + r * q;
    q = 1.0 + r * (1.0 + r * q);
    bits = (u - magic + 1023) << 52; /* 2^k, k in [-1022, 1023] */
    memcpy(&scale, &bits, sizeof scale);
    return q * scale;
}

/* log(1 + e) for e in [0, 1]: 2 atanh(s), s = e / (2 + e) <= 1/3, by its series to s^33
 * (truncation below 2e-17 relative). */
static inline double fd_log1p_unit(double e)
{
    const double s = e / (2.0 + e), s2 = s * s;
    double p = 1.0 / 33.0;
    p = 1.0 / 31.0 + s2 * p;
    p = 1.0 / 29.0 + s2 * p;
    p = 1.0 / 27.0 + s2 * p;
    p = 1.0 / 25.0 + s2 * p;
    p = 1.0 / 23.0 + s2 * p;
    p = 1.0 / 21.0 + s2 * p;
    p = 1.0 / 19.0 + s2 * p;
    p = 1.0 / 17.0 + s2 * p;
    p = 1.0 / 15.0 + s2 * p;
    p = 1.0 / 13.0 + s2 * p;
    p = 1.0 / 11.0 + s2 * p;
    p = 1.0 / 9.0 + s2 * p;
    p = 1.0 / 7.0 + s2 * p;
    p = 1.0 / 5.0 + s2 * p;
    p = 1.0 / 3.0 + s2 * p;
    p = 1.0 + s2 * p;
    return 2.0 * s * p;
}

#endif
