/* Do & Tran's probabilistic quantisation of a diagonal-Gaussian posterior.
 *
 * Every (row n, code i) posterior N(mu, std^2) is spread over B equal-width bins (edges
 * e_0 < ... < e_B, numpy.linspace's: the +-8 std window is found by arithmetic): Q_n,i(b).  One pass over the rows adds Q_n,i into the marginal table M[i][b] and into
 * the label-conditional tables C[level][i][b] (one level per factor per row), and adds the
 * row entropy H(Q_n,i) into H[i].  The caller divides by N and takes entropies.
 *
 * Two conventions for Q_n,i:
 *  - exact (mode 0): Phi((e_{b+1} - mu) / std) - Phi((e_b - mu) / std), the two edge bins
 *    extended to -inf / +inf; only the bins within +-8 std of mu (and one more each side)
 *    are computed (beyond them a bin's mass is below Phi(-8) = 6e-16), and a tail beyond
 *    8 sqrt 2 std (below 6.2e-30) counts as 0.  H uses the plug-in p log p (0 log 0 = 0).
 *  - do_tran (mode 1): the authors' density at the bin centres times the width, divided by
 *    its sum (floored at 1e-8); a one-hot on mu's bin (clamped) when the largest centre
 *    density is below 1e-5; H uses log(max(p, 1e-8)).  Their variance floor (1e-8 in the
 *    exponent) and std floor (1e-8 in the normaliser) are kept; only the centres within
 *    +-8 of the floored std are computed (relative density below e^-32 = 1.3e-14 beyond).
 *
 * Determinism: the rows are cut into fixed chunks of FD_QCHUNK rows (whatever the thread
 * count); each task (code, chunk) accumulates its rows in order into a private table, and
 * the private tables are added into the output chunk by chunk in order.  So the result
 * does not depend on the thread count, nor on how calls split the rows at multiples of
 * FD_QCHUNK.  Sums inside a row (fd_sum8) have a fixed order too, the same for every SIMD
 * width; no FMA contraction: the SIMD clones give the same bits.
 *
 * The normal tail and the logs are plain arithmetic (lanes.h style) so that the per-bin
 * loops vectorise; the tail is Cephes' erfc (Moshier's rational approximations, ~1e-16
 * relative), one formula per run of edges, with exp(-t^2 / 2) from t^2 split exactly
 * (Dekker) so that t^2 loses no digits.
 *
 * Speed (the cost is arithmetic: ~10 cycles per bin, most of it the tail and the log): every
 * per-bin loop runs over whole vectors of 8 (inputs padded, extra lanes masked to 0 or
 * overwritten), so no bin takes the scalar remainder path; a row's masses are added into
 * 64-byte aligned table rows over whole vectors too; do_tran's densities use a shorter
 * exponential than lanes.h used to have (fd_exp_neg, now everyone's). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* The lanes select between computed values (a < b ? x : y); GCC if-converts them only when
 * it may assume that comparisons raise no FP exception.  Set before lanes.h, whose helpers
 * must inline under the same options.  Results are unchanged (no exception flag is read). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include "lanes.h"

#define FD_QCHUNK 16384

/* The per-bin helpers must be inlined into the SIMD clones (a call compiled for the
 * default target would not vectorise) */
#if defined(__GNUC__)
#define FD_QINLINE static inline __attribute__((always_inline))
#else
#define FD_QINLINE static inline
#endif

/* log(x) for normal x > 0 (DBL_MIN <= x < inf): x = 2^k f, f in [sqrt(1/2), sqrt(2)),
 * log f = 2 atanh(s), s = (f - 1) / (f + 1), |s| <= 0.1716, series to s^19 (truncation
 * below 3e-17 relative, under the rounding).  Plain arithmetic, vectorisable. */
FD_QINLINE double fd_log_pos(double x)
{
    const double ln2_hi = 0x1.62e42fee00000p-1, ln2_lo = 0x1.a39ef35793c76p-33;
    uint64_t u, mant, kbits;
    double f, s, s2, p, k;
    memcpy(&u, &x, sizeof u);
    /* shift the mantissa into [sqrt(1/2), sqrt(2)): add the bits of 2 - sqrt(2) first */
    u += 0x3ff0000000000000ULL - 0x3fe6a09e667f3bcdULL;
    /* k as a double without an int64 conversion (none in AVX2): 2^52 + e - (2^52 + 1023) */
    kbits = 0x4330000000000000ULL | (u >> 52);
    memcpy(&k, &kbits, sizeof k);
    k -= 4503599627371519.0; /* 2^52 + 1023 */
    mant = (u & 0x000fffffffffffffULL) + 0x3fe6a09e667f3bcdULL;
    memcpy(&f, &mant, sizeof f);
    s = (f - 1.0) / (f + 1.0);
    s2 = s * s;
    p = 1.0 / 19.0;
    p = 1.0 / 17.0 + s2 * p;
    p = 1.0 / 15.0 + s2 * p;
    p = 1.0 / 13.0 + s2 * p;
    p = 1.0 / 11.0 + s2 * p;
    p = 1.0 / 9.0 + s2 * p;
    p = 1.0 / 7.0 + s2 * p;
    p = 1.0 / 5.0 + s2 * p;
    p = 1.0 / 3.0 + s2 * p;
    p = 1.0 + s2 * p;
    return k * ln2_hi + (k * ln2_lo + 2.0 * s * p);
}

/* Counts rounded up to whole lanes of the widest vector: the per-bin loops run over
 * multiples of 8 (no scalar remainder); the extra lanes read padded inputs and give 0
 * or are overwritten. */
#define FD_QPAD 8
static inline int64_t fd_qround(int64_t x) { return (x + FD_QPAD - 1) & ~(int64_t)(FD_QPAD - 1); }

/* Phi(-|t|) = erfc(|t| / sqrt 2) / 2, the smaller tail of the standard normal, to ~1e-15
 * relative for |t| <= 37 (values down to 1e-300; below, a value under 1e-300).  Cephes'
 * erfc (Moshier's rational approximations) in x = |t| / sqrt 2, one function per range:
 * 1 - x T(x^2) / U(x^2) for x < 1, exp(-x^2) P(x) / Q(x) for 1 <= x < 8, exp(-x^2)
 * R(x) / S(x) above.  Each is plain arithmetic: a loop over edges of one range
 * vectorises (fd_tail_class says which). */
#define FD_SQRTH 7.07106781186547524401e-1

/* 0: x < 1, 1: 1 <= x < 8, 2: x >= 8 */
FD_QINLINE int fd_tail_class(double t)
{
    const double x = fabs(t) * FD_SQRTH;
    return x < 1.0 ? 0 : (x < 8.0 ? 1 : 2);
}

FD_QINLINE double fd_tail_small(double t)
{
    const double x = fabs(t) * FD_SQRTH, z = x * x;
    double pt = 9.60497373987051638749e0, ut;
    pt = pt * z + 9.00260197203842689217e1;
    pt = pt * z + 2.23200534594684319226e3;
    pt = pt * z + 7.00332514112805075473e3;
    pt = pt * z + 5.55923013010394962768e4;
    ut = z + 3.35617141647503099647e1;
    ut = ut * z + 5.21357949780152679795e2;
    ut = ut * z + 4.59432382970980127987e3;
    ut = ut * z + 2.26290000613890934246e4;
    ut = ut * z + 4.92673942608635921086e4;
    return 0.5 * (1.0 - x * pt / ut);
}

/* exp(-a^2 / 2) with a^2 = hi + lo exactly (Dekker's product: a split into two 26-bit
 * halves, no FMA needed): exp(-hi / 2) (-hi / 2 exact) times exp(-lo / 2) = 1 - lo / 2 to
 * first order (|lo| < 2e-13), so that rounding a^2 loses no digits. */
FD_QINLINE double fd_exp_half_sq(double a)
{
    const double c = 134217729.0 * a, ah = c - (c - a), al = a - ah;
    const double hi = a * a, lo = ((ah * ah - hi) + 2.0 * ah * al) + al * al;
    return fd_exp_neg(-0.5 * hi) * (1.0 - 0.5 * lo);
}

FD_QINLINE double fd_tail_mid(double t)
{
    const double a = fabs(t), x = a * FD_SQRTH;
    double pp = 2.46196981473530512524e-10, qq;
    pp = pp * x + 5.64189564831068821977e-1;
    pp = pp * x + 7.46321056442269912687e0;
    pp = pp * x + 4.86371970985681366614e1;
    pp = pp * x + 1.96520832956077098242e2;
    pp = pp * x + 5.26445194995477358631e2;
    pp = pp * x + 9.34528527171957607540e2;
    pp = pp * x + 1.02755188689515710272e3;
    pp = pp * x + 5.57535335369399327526e2;
    qq = x + 1.32281951154744992508e1;
    qq = qq * x + 8.67072140885989742329e1;
    qq = qq * x + 3.54937778887819891062e2;
    qq = qq * x + 9.75708501743205489753e2;
    qq = qq * x + 1.82390916687909736289e3;
    qq = qq * x + 2.24633760818710981792e3;
    qq = qq * x + 1.65666309194161350182e3;
    qq = qq * x + 5.57535340817727675546e2;
    return 0.5 * fd_exp_half_sq(a) * (pp / qq);
}

FD_QINLINE double fd_tail_far(double t)
{
    double a = fabs(t), x, pr, qs;
    a = a < 40.0 ? a : 40.0; /* below 1e-300 from here on; also maps inf to a number */
    x = a * FD_SQRTH;
    pr = 5.64189583547755073984e-1;
    pr = pr * x + 1.27536670759978104416e0;
    pr = pr * x + 5.01905042251180477414e0;
    pr = pr * x + 6.16021097993053585195e0;
    pr = pr * x + 7.40974269950448939160e0;
    pr = pr * x + 2.97886665372100240670e0;
    qs = x + 2.26052863220117276590e0;
    qs = qs * x + 9.39603524938001434673e0;
    qs = qs * x + 1.20489539808096656605e1;
    qs = qs * x + 1.70814450747565897222e1;
    qs = qs * x + 9.60896809063285878198e0;
    qs = qs * x + 3.36907645100081516050e0;
    return 0.5 * fd_exp_half_sq(a) * (pr / qs);
}

FD_QINLINE double fd_normal_tail(double t)
{
    const int c = fd_tail_class(t);
    return c == 0 ? fd_tail_small(t) : (c == 1 ? fd_tail_mid(t) : fd_tail_far(t));
}

/* First i in [lo, hi) where PRED (of v = t[i]) is false, PRED true on a prefix: from a
 * guess, stepped to the exact place (a step or two: the guess comes from t's spacing). */
#define FD_FIRST_FALSE(out, t, lo, hi, guess, PRED)                                    \
    do {                                                                               \
        double v;                                                                      \
        int64_t g_ = (guess);                                                          \
        g_ = g_ < (lo) ? (lo) : (g_ > (hi) ? (hi) : g_);                                \
        while (g_ > (lo) && (v = (t)[g_ - 1], !(PRED))) g_--;                           \
        while (g_ < (hi) && (v = (t)[g_], (PRED))) g_++;                                \
        (out) = g_;                                                                    \
    } while (0)

/* Index guess of the first t[i] > tau, t[i] ~ t0 + i h (inv_h = 1 / h > 0), clamped to
 * [0, n]. */
static inline int64_t fd_cross(double tau, double t0, double inv_h, int64_t n)
{
    double g = (tau - t0) * inv_h + 1.0;
    g = g > 0.0 ? g : 0.0;
    g = g < (double)n ? g : (double)n;
    return (int64_t)g;
}

/* u[j] = Phi(-|t[j]|) for increasing t[0 .. nv), t[j] ~ t0 + j h (the first and last may
 * be -inf / +inf).  As t increases the ranges of fd_tail_class run far, mid, small, mid,
 * far (some empty); each run is one loop with one formula, so the values are those
 * fd_normal_tail gives element by element -- except that the far range (|t| >= 8 sqrt 2,
 * tails below 6.2e-30, always beyond the +-8 std window) is set to 0.  Each run is
 * rounded up to whole vectors (no scalar remainder): its extra lanes spill into the next
 * run, which overwrites them, so t and u hold nv + FD_QPAD values (t finite past nv; u
 * 0 from nv to fd_qround(nv)). */
FD_QINLINE void fd_tails_sorted(const double *FD_RESTRICT t, int64_t nv, double t0, double h,
                                double *FD_RESTRICT u)
{
    const double T1 = 1.4142135623730951, T8 = 11.313708498984761;
    const double inv_h = 1.0 / h;
    int64_t e1, e2, e3, e4;
    FD_FIRST_FALSE(e1, t, 0, nv, fd_cross(-T8, t0, inv_h, nv), v < 0.0 && fd_tail_class(v) == 2);
    FD_FIRST_FALSE(e2, t, e1, nv, fd_cross(-T1, t0, inv_h, nv), v < 0.0 && fd_tail_class(v) >= 1);
    FD_FIRST_FALSE(e3, t, e2, nv, fd_cross(T1, t0, inv_h, nv), v < 0.0 || fd_tail_class(v) == 0);
    FD_FIRST_FALSE(e4, t, e3, nv, fd_cross(T8, t0, inv_h, nv), v < 0.0 || fd_tail_class(v) <= 1);
    for (int64_t i = 0; i < e1; i++) u[i] = 0.0;
    FD_LANES
    for (int64_t i = e1; i < e1 + fd_qround(e2 - e1); i++) u[i] = fd_tail_mid(t[i]);
    FD_LANES
    for (int64_t i = e2; i < e2 + fd_qround(e3 - e2); i++) u[i] = fd_tail_small(t[i]);
    FD_LANES
    for (int64_t i = e3; i < e3 + fd_qround(e4 - e3); i++) u[i] = fd_tail_mid(t[i]);
    /* zeros to one past the last whole vector: the masses' padded lanes read that far */
    for (int64_t i = e4; i <= fd_qround(nv); i++) u[i] = 0.0;
}

/* sum of x[0 .. n) in a fixed order that does not depend on the SIMD width: eight
 * interleaved partial sums (one per lane of the widest vector), added pairwise at the end.
 * Eight independent chains also hide the add latency of a plain sequential sum. */
FD_QINLINE double fd_sum8(const double *FD_RESTRICT x, int64_t n)
{
    double acc[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++) acc[l] += x[j + l];
    for (int l = 0; j < n; j++, l++) acc[l] += x[j];
    return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
}

/* Bin of x among B equal-width bins on [e0, eB] by arithmetic, clamped to [0, B - 1]
 * (conservative: the window is widened by one bin each side by the caller). */
static inline int64_t fd_qbin(double x, double e0, double inv_w, int64_t nb)
{
    double g = (x - e0) * inv_w;
    g = g > 0.0 ? g : 0.0;
    g = g < (double)(nb - 1) ? g : (double)(nb - 1);
    return (int64_t)g;
}

/* calloc'ed doubles aligned to 64 bytes (*raw is what to free) */
static double *fd_qcalloc(size_t count, void **raw)
{
    *raw = calloc(count + 8, sizeof(double));
    return *raw ? (double *)(((uintptr_t)*raw + 63) & ~(uintptr_t)63) : NULL;
}

/* The edges with 2 FD_QPAD copies of the last appended (finite: the loops read past the
 * window's last edge into lanes that are masked or overwritten), the centres and the
 * widths with FD_QPAD padding bins: 3 nb + 4 FD_QPAD + 1 doubles. */
static double *fd_qgeometry(const double *edges, int64_t nb)
{
    double *g = (double *)malloc(sizeof(double) * (size_t)(3 * nb + 4 * FD_QPAD + 1));
    double *centre, *width;
    if (!g) return NULL;
    centre = g + nb + 2 * FD_QPAD + 1;
    width = centre + nb + FD_QPAD;
    for (int64_t b = 0; b <= nb; b++) g[b] = edges[b];
    for (int64_t b = 0; b < 2 * FD_QPAD; b++) g[nb + 1 + b] = edges[nb];
    for (int64_t b = 0; b < nb; b++) {
        centre[b] = (edges[b] + edges[b + 1]) / 2.0;
        width[b] = edges[b + 1] - edges[b];
    }
    for (int64_t b = 0; b < FD_QPAD; b++) {
        centre[nb + b] = edges[nb];
        width[nb + b] = 0.0;
    }
    return g;
}

/* Exact masses of bins b0 .. b1 (edge bins open) of N(mu, s^2) into m[0 .. b1 - b0] and
 * zeros up to the next multiple of FD_QPAD; edges padded (fd_qgeometry); u and t scratch
 * of nb + 2 FD_QPAD (read past the window: values masked).  Returns the plug-in entropy part -sum m log m of these bins. */
FD_SIMD_CLONES static double fd_exact_masses(double mu, double s, const double *FD_RESTRICT edges,
                                     int64_t nb, int64_t b0, int64_t b1, double *FD_RESTRICT m,
                                     double *FD_RESTRICT u, double *FD_RESTRICT t)
{
    const int64_t len = b1 - b0 + 1, ne = fd_qround(len + 1) + FD_QPAD, nm = fd_qround(len);
    const double inv_s = 1.0 / s;
    FD_LANES
    for (int64_t j = 0; j < ne; j++) t[j] = (edges[b0 + j] - mu) * inv_s;
    if (b0 == 0) t[0] = -HUGE_VAL;
    if (b1 == nb - 1) t[len] = HUGE_VAL;
    fd_tails_sorted(t, len + 1, (edges[b0] - mu) * inv_s, (edges[b0 + 1] - edges[b0]) * inv_s, u);
    FD_LANES
    for (int64_t j = 0; j < nm; j++) {
        /* Phi(c) - Phi(a) from the smaller tails, without cancellation of large values */
        const double a = t[j], c = t[j + 1], ua = u[j], uc = u[j + 1];
        const double below = uc - ua, above = ua - uc, across = (1.0 - ua) - uc;
        const double v1 = c <= 0.0 ? below : above;
        const double v = a < 0.0 && c > 0.0 ? across : v1;
        const double p = v > 0.0 && j < len ? v : 0.0;
        m[j] = p;
    }
    /* the entropy terms, then their sum in order (the same sum for every SIMD width; the
     * padding adds +0) */
    FD_LANES
    for (int64_t j = 0; j < nm; j++) u[j] = m[j] * fd_log_pos(m[j] > DBL_MIN ? m[j] : DBL_MIN);
    return -fd_sum8(u, nm);
}

/* The authors' masses (see the header) of bins b0 .. b1 into m[0 .. b1 - b0], zeros up to
 * the next multiple of FD_QPAD (centres and widths padded: fd_qgeometry); returns
 * -sum m log max(m, 1e-8).  The caller has ruled out the one-hot fallback. */
FD_SIMD_CLONES static double fd_dotran_masses(double mu, double s, const double *FD_RESTRICT centre,
                                              const double *FD_RESTRICT width, int64_t b0,
                                              int64_t b1, double *FD_RESTRICT m,
                                              double *FD_RESTRICT u)
{
    const int64_t len = b1 - b0 + 1, nm = fd_qround(len);
    const double var = s * s > 1e-8 ? s * s : 1e-8;
    const double half_inv_var = 0.5 / var;
    const double norm = 1.0 / (2.5066282746310002 * (s > 1e-8 ? s : 1e-8));
    double sum, inv;
    FD_LANES
    for (int64_t j = 0; j < nm; j++) {
        const double dx = centre[b0 + j] - mu;
        const double v = fd_exp_neg(-(dx * dx) * half_inv_var) * norm * width[b0 + j];
        m[j] = j < len ? v : 0.0;
    }
    sum = fd_sum8(m, nm);
    inv = 1.0 / (sum > 1e-8 ? sum : 1e-8);
    FD_LANES
    for (int64_t j = 0; j < nm; j++) {
        const double p = m[j] * inv;
        m[j] = p;
        u[j] = p * fd_log_pos(p > 1e-8 ? p : 1e-8);
    }
    return -fd_sum8(u, nm);
}

/* Whether the authors' code falls back to a one-hot: the largest centre density (at the
 * centre nearest mu, the density being monotone in the distance) is below 1e-5. */
static inline int fd_dotran_fallback(double mu, double s, const double *centre, int64_t bmu)
{
    const double var = s * s > 1e-8 ? s * s : 1e-8;
    const double norm = 1.0 / (2.5066282746310002 * (s > 1e-8 ? s : 1e-8));
    const double dx = centre[bmu] - mu;
    return fd_exp_neg(-(dx * dx) / (2.0 * var)) * norm < 1e-5;
}

/* Adds m[a0 .. a1) into dst[a0 .. a1): whole aligned vectors (a0, a1 multiples of FD_QPAD,
 * m zero outside the row's window, so the extra lanes add +0 and change no bit). */
FD_QINLINE void fd_qadd(double *FD_RESTRICT dst, const double *FD_RESTRICT m, int64_t a0, int64_t a1)
{
    FD_LANES
    for (int64_t j = a0; j < a1; j++) dst[j] += m[j];
}

/* One task: rows [r0, r0 + nr) of code i into part (marginal row, then one row per level,
 * rows nbp = fd_qround(nb) apart, 64-byte aligned).  mf: nbp + 2 FD_QPAD zeros, aligned,
 * left zero; u, t: scratch of nb + 2 FD_QPAD. */
FD_SIMD_CLONES static int fd_quantized_task(const double *mu, const double *std, int64_t d, int64_t i,
                             int64_t r0, int64_t nr, const int32_t *labels, int64_t k,
                             int64_t n_levels, const double *edges, const double *centre,
                             const double *width, int64_t nb, int mode, double *part,
                             double *hsum, int64_t *n_fallback, double *FD_RESTRICT mf,
                             double *u, double *t)
{
    const double e0 = edges[0], inv_w = (double)nb / (edges[nb] - edges[0]);
    const int64_t nbp = fd_qround(nb);
    double h = 0.0;
    int64_t fb = 0;
    for (int64_t r = r0; r < r0 + nr; r++) {
        const double x = mu[r * d + i], s = std[r * d + i];
        const double reach = 8.0 * (mode == 1 && s < 1e-4 ? 1e-4 : s);
        int64_t b0, b1, a0, a1;
        if (mode == 1) {
            /* the last bin whose left edge is <= x (fd_bin_search's), from the arithmetic
             * guess: a step at most (a binary search's branches cost more than its masses) */
            int64_t bmu = fd_qbin(x, e0, inv_w, nb);
            while (bmu > 0 && !(edges[bmu] <= x)) bmu--;
            while (bmu < nb - 1 && edges[bmu + 1] <= x) bmu++;
            if (fd_dotran_fallback(x, s, centre, bmu)) {
                b0 = b1 = bmu;
                mf[bmu] = 1.0;
                fb++;
            } else {
                b0 = fd_qbin(x - reach, e0, inv_w, nb);
                b1 = fd_qbin(x + reach, e0, inv_w, nb);
                b0 = b0 > 0 ? b0 - 1 : 0;
                b1 = b1 < nb - 1 ? b1 + 1 : nb - 1;
                h += fd_dotran_masses(x, s, centre, width, b0, b1, mf + b0, u);
            }
        } else {
            b0 = fd_qbin(x - reach, e0, inv_w, nb);
            b1 = fd_qbin(x + reach, e0, inv_w, nb);
            b0 = b0 > 0 ? b0 - 1 : 0;
            b1 = b1 < nb - 1 ? b1 + 1 : nb - 1;
            h += fd_exact_masses(x, s, edges, nb, b0, b1, mf + b0, u, t);
        }
        a0 = b0 & ~(int64_t)(FD_QPAD - 1);
        a1 = fd_qround(b1 + 1);
        fd_qadd(part, mf, a0, a1);
        for (int64_t c = 0; c < k; c++) {
            const int32_t lev = labels[r * k + c];
            if (lev < 0 || (int64_t)lev >= n_levels) return FD_ERR_ARGUMENT;
            fd_qadd(part + (1 + (int64_t)lev) * nbp, mf, a0, a1);
        }
        /* back to zeros (the masses' padding past b1 was written as zeros) */
        FD_LANES
        for (int64_t j = a0; j < a1; j++) mf[j] = 0.0;
    }
    *hsum = h;
    *n_fallback = fb;
    return FD_OK;
}

int fd_quantized_tables(const double *mu, const double *std, int64_t n, int64_t d,
                        const int32_t *labels, int64_t k, int64_t n_levels,
                        const double *edges, int64_t nb, int mode, double *tables,
                        double *row_entropy, int64_t *n_fallback, int n_threads)
{
    const int64_t nbp = fd_qround(nb), width_p = (1 + n_levels) * nbp; /* one private table */
    const int64_t n_chunks = (n + FD_QCHUNK - 1) / FD_QCHUNK, n_tasks = n_chunks * d;
    double *part, *hpart, *geo, *centre, *width;
    void *part_raw;
    int64_t *fpart;
    int status = FD_OK, nomem = 0;
    /* a (row, code) costs as much as several rows of the light kernels that
     * fd_resolve_threads's row count is sized for: count those pairs */
    const int nt = fd_team(fd_resolve_threads(n_threads, n * d), n * d * nb);
    (void)nt;

    if (n < 0 || d < 1 || nb < 2 || nb > 1000000 || k < 0 || n_levels < 0 ||
        (k > 0 && n_levels < 1) || (k > 0 && !labels) || (mode != 0 && mode != 1) ||
        !(edges[0] < edges[nb]) || !isfinite(edges[0]) || !isfinite(edges[nb]))
        return FD_ERR_ARGUMENT;
    for (int64_t b = 0; b < nb; b++)
        if (!(edges[b] < edges[b + 1])) return FD_ERR_ARGUMENT;
    if (n == 0) return FD_OK;
    part = fd_qcalloc((size_t)(n_tasks * width_p), &part_raw);
    hpart = (double *)calloc((size_t)n_tasks, sizeof(double));
    fpart = (int64_t *)calloc((size_t)n_tasks, sizeof(int64_t));
    geo = fd_qgeometry(edges, nb);
    if (!part || !hpart || !fpart || !geo) {
        free(part_raw); free(hpart); free(fpart); free(geo);
        return FD_ERR_NOMEM;
    }
    centre = geo + nb + 2 * FD_QPAD + 1;
    width = centre + nb + FD_QPAD;

#pragma omp parallel num_threads(nt)
    {
        void *raw;
        double *mf = fd_qcalloc((size_t)(nbp + 2 * nb + 6 * FD_QPAD), &raw);
        double *u = mf + nbp + 2 * FD_QPAD, *t = u + nb + 2 * FD_QPAD;
        int local = FD_OK;
        if (!mf) {
#pragma omp atomic write
            nomem = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t task = 0; task < n_tasks; task++) {
            const int64_t c = task / d, i = task % d, r0 = c * FD_QCHUNK;
            const int64_t nr = fd_min64(FD_QCHUNK, n - r0);
            int st;
            if (!mf) continue;
            st = fd_quantized_task(mu, std, d, i, r0, nr, labels, k, n_levels, geo, centre,
                                   width, nb, mode, part + task * width_p, hpart + task,
                                   fpart + task, mf, u, t);
            if (st != FD_OK) local = st;
        }
        if (local != FD_OK) {
#pragma omp critical(fd_quantized_status)
            status = local;
        }
        free(raw);
    }
    if (nomem) status = FD_ERR_NOMEM;
    if (status == FD_OK) {
        /* the fixed-order merge: chunk by chunk, in order, per code */
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int64_t i = 0; i < d; i++) {
            double *out = tables + i * (1 + n_levels) * nb;
            for (int64_t c = 0; c < n_chunks; c++) {
                const double *src = part + (c * d + i) * width_p;
                for (int64_t l = 0; l <= n_levels; l++) {
                    FD_LANES
                    for (int64_t b = 0; b < nb; b++) out[l * nb + b] += src[l * nbp + b];
                }
                row_entropy[i] += hpart[c * d + i];
                n_fallback[i] += fpart[c * d + i];
            }
        }
    }
    free(part_raw); free(hpart); free(fpart); free(geo);
    return status;
}

/* Exact masses of one (row, code) into m (bins b0 .. b1, returned through *pb0, *plen;
 * zeros after them up to a multiple of FD_QPAD). */
static inline void fd_exact_window(double x, double s, const double *edges, int64_t nb,
                                   double *m, double *u, double *t, int64_t *pb0, int64_t *plen)
{
    const double e0 = edges[0], inv_w = (double)nb / (edges[nb] - edges[0]);
    int64_t b0 = fd_qbin(x - 8.0 * s, e0, inv_w, nb), b1 = fd_qbin(x + 8.0 * s, e0, inv_w, nb);
    b0 = b0 > 0 ? b0 - 1 : 0;
    b1 = b1 < nb - 1 ? b1 + 1 : nb - 1;
    (void)fd_exact_masses(x, s, edges, nb, b0, b1, m, u, t);
    *pb0 = b0;
    *plen = b1 - b0 + 1;
}

FD_SIMD_CLONES static void fd_pair_rows(const double *m, const int64_t *b0, const int64_t *len,
                                        int64_t nr, int64_t d, int64_t i, int64_t j,
                                        int64_t stride, int64_t nb, double *out)
{
    for (int64_t r = 0; r < nr; r++) {
        const double *mi = m + (r * d + i) * stride, *mj = m + (r * d + j) * stride;
        const int64_t ai = b0[r * d + i], li = len[r * d + i];
        const int64_t aj = b0[r * d + j], lj = len[r * d + j];
        for (int64_t a = 0; a < li; a++) {
            double *dst = out + (ai + a) * nb + aj;
            const double w = mi[a];
            FD_LANES
            for (int64_t b = 0; b < lj; b++) dst[b] += w * mj[b];
        }
    }
}

int fd_quantized_pairs(const double *mu, const double *std, int64_t n, int64_t d,
                       const double *edges, int64_t nb, double *out, int n_threads)
{
    const int64_t stride = nb + 2 * FD_QPAD, n_pairs = d * (d - 1) / 2;
    int64_t block, *b0, *len, *pi;
    double *m, *geo;
    int nomem = 0;
    const int nt = fd_team(fd_resolve_threads(n_threads, n * d), n * n_pairs * nb);
    (void)nt;

    if (n < 0 || d < 2 || nb < 2 || nb > 1000000 || !(edges[0] < edges[nb]) ||
        !isfinite(edges[0]) || !isfinite(edges[nb]))
        return FD_ERR_ARGUMENT;
    for (int64_t b = 0; b < nb; b++)
        if (!(edges[b] < edges[b + 1])) return FD_ERR_ARGUMENT;
    if (n == 0) return FD_OK;
    /* rows whose masses are held at once: ~16 MiB of them (the result does not depend on it) */
    block = ((int64_t)1 << 21) / (d * stride);
    block = block < 1 ? 1 : (block > 1024 ? 1024 : block);
    m = (double *)malloc(sizeof(double) * (size_t)(block * d * stride));
    b0 = (int64_t *)malloc(sizeof(int64_t) * (size_t)(2 * block * d + 2 * n_pairs));
    geo = fd_qgeometry(edges, nb);
    if (!m || !b0 || !geo) { free(m); free(b0); free(geo); return FD_ERR_NOMEM; }
    len = b0 + block * d;
    pi = len + block * d;
    for (int64_t i = 0, p = 0; i < d; i++)
        for (int64_t j = i + 1; j < d; j++, p++) { pi[2 * p] = i; pi[2 * p + 1] = j; }

#pragma omp parallel num_threads(nt)
    {
        double *ut = (double *)malloc(sizeof(double) * (size_t)(2 * stride));
        if (!ut) {
#pragma omp atomic write
            nomem = 1;
        }
#pragma omp barrier
        for (int64_t r0 = 0; r0 < n && !nomem; r0 += block) {
            const int64_t nr = fd_min64(block, n - r0);
#pragma omp for schedule(static)
            for (int64_t c = 0; c < nr * d; c++)
                fd_exact_window(mu[r0 * d + c], std[r0 * d + c], geo, nb, m + c * stride, ut,
                                ut + stride, b0 + c, len + c);
            /* each pair's table is added to by one thread, its rows in order */
#pragma omp for schedule(dynamic, 1)
            for (int64_t p = 0; p < n_pairs; p++)
                fd_pair_rows(m, b0, len, nr, d, pi[2 * p], pi[2 * p + 1], stride, nb,
                             out + p * nb * nb);
        }
        free(ut);
    }
    free(m); free(b0); free(geo);
    return nomem ? FD_ERR_NOMEM : FD_OK;
}

/* Tails for tests: out[j] = Phi(-|t[j]|). */
void fd_normal_tails(const double *t, int64_t n, double *out)
{
    for (int64_t j = 0; j < n; j++) out[j] = fd_normal_tail(t[j]);
}

/* log(x) for x > 0 (tests). */
void fd_logs(const double *x, int64_t n, double *out)
{
    for (int64_t j = 0; j < n; j++) out[j] = fd_log_pos(x[j] > DBL_MIN ? x[j] : DBL_MIN);
}
