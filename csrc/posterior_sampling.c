/* Monte-Carlo entropies of an aggregate posterior q(z) = (1/N) sum_n N(z; mu_n, diag std_n^2)
 * (Do & Tran's sampling estimator): for each sample point z^s, the log mixture densities
 *   code[i]      = log (1/N) sum_n q(z_i | x_n)
 *   joint        = log (1/N) sum_n prod_i q(z_i | x_n)
 *   others[i]    = log (1/N) sum_n prod_{j != i} q(z_j | x_n)
 *   pairs[i,j]   = log (1/N) sum_n q(z_i | x_n) q(z_j | x_n)             (i < j, optional)
 *   factor[c,i]  = log (1/N) sum_{n: v_nc = v_{n_s}c} q(z_i | x_n)
 * in one pass over the rows per sample, O(N d) per sample (O(N d^2 / 2) with pairs).
 *
 * Why it is fast and safe: each code's log-density is shifted by that of the sample's own
 * row n_s, t_ni = log q(z_i | x_n) - log q(z_i | x_{n_s}), and worked with as e_ni = exp(t_ni).
 * Every sum then holds the own row's term 1 (products of ones), so no sum underflows, and
 * the products over codes (joint, leave-one-out from prefix and suffix products, pairs)
 * are plain multiplies: d exponentials per (sample, row) feed all accumulators.  A term
 * can only be large where another row's density exceeds the own row's; t_ni <= g_i - o_i
 * with g_i = max_n -log std_ni, so when B = sum_i max(0, g_i - o_i) <= FD_PS_BOUND no
 * product overflows, and a product that underflows is below exp(-60) of the own term.
 * Samples with a larger B (posteriors whose std spans ~e^64 within a code) take an exact
 * log-domain path (online log-sum-exp, one exp per accumulator and row: slow, rare).
 *
 * Determinism: every accumulator is 8 lanes, row n adding to lane n % 8, the lanes summed
 * in order at the end; a sample's sums never depend on which thread ran it or on the SIMD
 * width of the loop.  Rows come codes-major and padded to a multiple of 8 (padded rows:
 * mu 0, 1/std 0, -log std -1e300, label -1: terms exp(-708) or 0, nothing in the sums). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* Unlike the binning kernels (common.h turns contraction off so that bin labels equal
 * numpy's), these sums gain from fused multiply-adds where the CPU has them; lanes.h comes
 * after, so that its exp is compiled (and inlined) with the same setting. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")
#endif
#ifdef __clang__
#pragma STDC FP_CONTRACT ON
#endif
#include "lanes.h"

/* One copy of the hot loop per instruction set, with FMA in the AVX2 and AVX-512 ones. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define FD_PS_CLONES __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define FD_PS_CLONES
#endif

#if defined(__SSE__) || defined(_M_X64)
#include <xmmintrin.h>
#define FD_PS_MXCSR 1
#endif

#define FD_PS_W 8         /* lanes per accumulator */
#define FD_PS_TILE 16     /* samples sharing one pass over a block of rows (at most) */
#define FD_PS_ACC_CELLS ((int64_t)1 << 20) /* a tile's accumulators: 8 MiB at most */
#define FD_PS_BOUND 640.0 /* largest sum of positive shifts for the exp-domain path */

typedef struct {
    const double *mu, *istd, *nlog; /* [d][np] */
    const int32_t *labels;          /* [k][np] */
    int64_t n, np, d, k, n_pairs, n_acc;
    int pairs;
} fd_ps_data;

/* Offsets of the accumulator groups in one sample's [n_acc][FD_PS_W] block. */
#define FD_PS_CODE(p) 0
#define FD_PS_JOINT(p) ((p)->d)
#define FD_PS_OTHERS(p) ((p)->d + 1)
#define FD_PS_FACTOR(p) (2 * (p)->d + 1)
#define FD_PS_PAIRS(p) (2 * (p)->d + 1 + (p)->k * (p)->d)

/* acc[l] += x[r + l] over rows r = 0, 8, .. nr - 8 (nr a multiple of 8). */
static inline void fd_ps_add(double *FD_RESTRICT acc, const double *FD_RESTRICT x, int64_t nr)
{
    double a[FD_PS_W];
    memcpy(a, acc, sizeof a);
    for (int64_t r = 0; r < nr; r += FD_PS_W) {
        FD_LANES
        for (int l = 0; l < FD_PS_W; l++) a[l] += x[r + l];
    }
    memcpy(acc, a, sizeof a);
}

/* acc[i][l] += mask[r + l] e[i][r + l] for codes i < d: four codes per pass over the mask,
 * so that each fused multiply-add loads one value instead of two. */
static inline void fd_ps_masked(double *FD_RESTRICT acc, const double *FD_RESTRICT mask,
                                const double *FD_RESTRICT e, int64_t d, int64_t nr, int64_t R)
{
    int64_t i = 0;
    for (; i + 4 <= d; i += 4) {
        const double *FD_RESTRICT e0 = e + i * R, *FD_RESTRICT e1 = e0 + R;
        const double *FD_RESTRICT e2 = e1 + R, *FD_RESTRICT e3 = e2 + R;
        double a0[FD_PS_W], a1[FD_PS_W], a2[FD_PS_W], a3[FD_PS_W];
        memcpy(a0, acc + i * FD_PS_W, sizeof a0);
        memcpy(a1, acc + (i + 1) * FD_PS_W, sizeof a1);
        memcpy(a2, acc + (i + 2) * FD_PS_W, sizeof a2);
        memcpy(a3, acc + (i + 3) * FD_PS_W, sizeof a3);
        for (int64_t r = 0; r < nr; r += FD_PS_W) {
            FD_LANES
            for (int l = 0; l < FD_PS_W; l++) {
                const double mk = mask[r + l];
                a0[l] += mk * e0[r + l];
                a1[l] += mk * e1[r + l];
                a2[l] += mk * e2[r + l];
                a3[l] += mk * e3[r + l];
            }
        }
        memcpy(acc + i * FD_PS_W, a0, sizeof a0);
        memcpy(acc + (i + 1) * FD_PS_W, a1, sizeof a1);
        memcpy(acc + (i + 2) * FD_PS_W, a2, sizeof a2);
        memcpy(acc + (i + 3) * FD_PS_W, a3, sizeof a3);
    }
    for (; i < d; i++) {
        const double *FD_RESTRICT ei = e + i * R;
        double a[FD_PS_W];
        memcpy(a, acc + i * FD_PS_W, sizeof a);
        for (int64_t r = 0; r < nr; r += FD_PS_W) {
            FD_LANES
            for (int l = 0; l < FD_PS_W; l++) a[l] += mask[r + l] * ei[r + l];
        }
        memcpy(acc + i * FD_PS_W, a, sizeof a);
    }
}

/* fd_ps_masked for two factors at once (acc0 with mask0, acc1 with mask1): each e loaded
 * feeds two fused multiply-adds. */
static inline void fd_ps_masked2(double *FD_RESTRICT acc0, double *FD_RESTRICT acc1,
                                 const double *FD_RESTRICT mask0, const double *FD_RESTRICT mask1,
                                 const double *FD_RESTRICT e, int64_t d, int64_t nr, int64_t R)
{
    int64_t i = 0;
    for (; i + 4 <= d; i += 4) {
        const double *FD_RESTRICT e0 = e + i * R, *FD_RESTRICT e1 = e0 + R;
        const double *FD_RESTRICT e2 = e1 + R, *FD_RESTRICT e3 = e2 + R;
        double a[8][FD_PS_W];
        for (int j = 0; j < 4; j++) {
            memcpy(a[j], acc0 + (i + j) * FD_PS_W, sizeof a[j]);
            memcpy(a[4 + j], acc1 + (i + j) * FD_PS_W, sizeof a[j]);
        }
        for (int64_t r = 0; r < nr; r += FD_PS_W) {
            FD_LANES
            for (int l = 0; l < FD_PS_W; l++) {
                const double m0 = mask0[r + l], m1 = mask1[r + l];
                const double v0 = e0[r + l], v1 = e1[r + l], v2 = e2[r + l], v3 = e3[r + l];
                a[0][l] += m0 * v0; a[1][l] += m0 * v1; a[2][l] += m0 * v2; a[3][l] += m0 * v3;
                a[4][l] += m1 * v0; a[5][l] += m1 * v1; a[6][l] += m1 * v2; a[7][l] += m1 * v3;
            }
        }
        for (int j = 0; j < 4; j++) {
            memcpy(acc0 + (i + j) * FD_PS_W, a[j], sizeof a[j]);
            memcpy(acc1 + (i + j) * FD_PS_W, a[4 + j], sizeof a[j]);
        }
    }
    if (i < d) {
        fd_ps_masked(acc0 + i * FD_PS_W, mask0, e + i * R, d - i, nr, R);
        fd_ps_masked(acc1 + i * FD_PS_W, mask1, e + i * R, d - i, nr, R);
    }
}

/* One sample on one block of rows [b0, b0 + nr): e[i][r] = exp(t_ir), then every sum. */
FD_PS_CLONES
static void fd_ps_block(const fd_ps_data *p, int64_t b0, int64_t nr, const double *z,
                        const double *own, const int32_t *own_lab, double *FD_RESTRICT acc,
                        double *FD_RESTRICT e, double *FD_RESTRICT suf, double *FD_RESTRICT pre,
                        int64_t R)
{
    const int64_t d = p->d, np = p->np, valid = p->n - b0;
    /* pre = the empty product: 1 on real rows, 0 on the padding (so that with d = 1 the
       padded rows' leave-one-out products vanish too) */
    FD_LANES
    for (int64_t r = 0; r < nr; r++) pre[r] = r < valid ? 1.0 : 0.0;
    /* codes last to first: e_i, and suf[i] = prod_{j > i} e_j from the running product */
    for (int64_t i = d - 1; i >= 0; i--) {
        const double zi = z[i], oi = own[i];
        const double *FD_RESTRICT m = p->mu + i * np + b0;
        const double *FD_RESTRICT is = p->istd + i * np + b0;
        const double *FD_RESTRICT nl = p->nlog + i * np + b0;
        double *FD_RESTRICT ei = e + i * R, *FD_RESTRICT si = suf + i * R;
        double a[FD_PS_W];
        memcpy(a, acc + (FD_PS_CODE(p) + i) * FD_PS_W, sizeof a);
        for (int64_t r = 0; r < nr; r += FD_PS_W) {
            FD_LANES
            for (int l = 0; l < FD_PS_W; l++) {
                const double u = (zi - m[r + l]) * is[r + l];
                const double v = fd_exp_neg((nl[r + l] - oi) - 0.5 * u * u);
                ei[r + l] = v;
                a[l] += v;
                si[r + l] = pre[r + l];
                pre[r + l] *= v;
            }
        }
        memcpy(acc + (FD_PS_CODE(p) + i) * FD_PS_W, a, sizeof a);
    }
    fd_ps_add(acc + FD_PS_JOINT(p) * FD_PS_W, pre, nr);
    /* codes first to last: the prefix products times the suffixes, summed */
    FD_LANES
    for (int64_t r = 0; r < nr; r++) pre[r] = r < valid ? 1.0 : 0.0;
    for (int64_t i = 0; i < d; i++) {
        const double *FD_RESTRICT ei = e + i * R, *FD_RESTRICT si = suf + i * R;
        double a[FD_PS_W];
        memcpy(a, acc + (FD_PS_OTHERS(p) + i) * FD_PS_W, sizeof a);
        for (int64_t r = 0; r < nr; r += FD_PS_W) {
            FD_LANES
            for (int l = 0; l < FD_PS_W; l++) {
                a[l] += pre[r + l] * si[r + l];
                pre[r + l] *= ei[r + l];
            }
        }
        memcpy(acc + (FD_PS_OTHERS(p) + i) * FD_PS_W, a, sizeof a);
    }
    /* per factor, the rows sharing the sample's level: 0/1 masks, two factors at a time */
    for (int64_t c = 0; c < p->k; c++) {
        const int32_t *FD_RESTRICT lab = p->labels + c * np + b0, want = own_lab[c];
        double *FD_RESTRICT mask = pre + (1 + (c & 1)) * R;
        FD_LANES
        for (int64_t r = 0; r < nr; r++) mask[r] = lab[r] == want ? 1.0 : 0.0;
        if (c & 1)
            fd_ps_masked2(acc + (FD_PS_FACTOR(p) + (c - 1) * d) * FD_PS_W,
                          acc + (FD_PS_FACTOR(p) + c * d) * FD_PS_W, pre + R, pre + 2 * R, e, d,
                          nr, R);
        else if (c == p->k - 1)
            fd_ps_masked(acc + (FD_PS_FACTOR(p) + c * d) * FD_PS_W, mask, e, d, nr, R);
    }
    if (p->pairs) {
        int64_t q = FD_PS_PAIRS(p);
        for (int64_t i = 0; i < d; i++)
            for (int64_t j = i + 1; j < d; j++, q++) {
                const double *FD_RESTRICT ei = e + i * R, *FD_RESTRICT ej = e + j * R;
                double a[FD_PS_W];
                memcpy(a, acc + q * FD_PS_W, sizeof a);
                for (int64_t r = 0; r < nr; r += FD_PS_W) {
                    FD_LANES
                    for (int l = 0; l < FD_PS_W; l++) a[l] += ei[r + l] * ej[r + l];
                }
                memcpy(acc + q * FD_PS_W, a, sizeof a);
            }
    }
}

/* Online log-sum-exp: (m, s) holds log(sum) = m + log(s). */
static inline void fd_lse_add(double *m, double *s, double x)
{
    if (x == -INFINITY) return;
    if (x > *m) {
        *s = *s * exp(*m - x) + 1.0;
        *m = x;
    } else {
        *s += exp(x - *m);
    }
}

/* The exact log-domain path for one sample: out_acc[a] = log of accumulator a (relative
 * to the own row's shifts, like the exp-domain path gives), rows in order.  scratch: 3d + 2. */
static void fd_ps_slow(const fd_ps_data *p, const double *z, const double *own,
                       const int32_t *own_lab, double *out_acc, double *mx, double *sm,
                       double *scratch)
{
    const int64_t d = p->d, np = p->np;
    double *t = scratch, *pre = t + d, *suf = pre + d + 1;
    for (int64_t a = 0; a < p->n_acc; a++) { mx[a] = -INFINITY; sm[a] = 0.0; }
    for (int64_t n = 0; n < p->n; n++) {
        for (int64_t i = 0; i < d; i++) {
            const double u = (z[i] - p->mu[i * np + n]) * p->istd[i * np + n];
            t[i] = (p->nlog[i * np + n] - own[i]) - 0.5 * u * u;
        }
        pre[0] = 0.0;
        for (int64_t i = 0; i < d; i++) pre[i + 1] = pre[i] + t[i];
        suf[d - 1] = 0.0;
        for (int64_t i = d - 1; i > 0; i--) suf[i - 1] = suf[i] + t[i];
        for (int64_t i = 0; i < d; i++) {
            fd_lse_add(mx + FD_PS_CODE(p) + i, sm + FD_PS_CODE(p) + i, t[i]);
            fd_lse_add(mx + FD_PS_OTHERS(p) + i, sm + FD_PS_OTHERS(p) + i, pre[i] + suf[i]);
        }
        fd_lse_add(mx + FD_PS_JOINT(p), sm + FD_PS_JOINT(p), pre[d]);
        for (int64_t c = 0; c < p->k; c++)
            if (p->labels[c * np + n] == own_lab[c])
                for (int64_t i = 0; i < d; i++)
                    fd_lse_add(mx + FD_PS_FACTOR(p) + c * d + i, sm + FD_PS_FACTOR(p) + c * d + i, t[i]);
        if (p->pairs) {
            int64_t q = FD_PS_PAIRS(p);
            for (int64_t i = 0; i < d; i++)
                for (int64_t j = i + 1; j < d; j++, q++) fd_lse_add(mx + q, sm + q, t[i] + t[j]);
        }
    }
    for (int64_t a = 0; a < p->n_acc; a++) out_acc[a] = mx[a] + log(sm[a]);
}

int fd_posterior_sample_logs(const double *mu_t, const double *istd_t, const double *nlog_t,
                             const int32_t *labels_t, int64_t n, int64_t np, int64_t d, int64_t k,
                             const double *gmax, const int64_t *rows, const double *z, int64_t m,
                             int pairs, int fast, double *out_code, double *out_joint,
                             double *out_others, double *out_factor, double *out_pairs,
                             int64_t *n_slow, int n_threads)
{
    fd_ps_data p;
    const double log_n = log((double)n), half_log_2pi = 0.91893853320467274178;
    int64_t R, T, n_tiles, slow = 0;
    int nomem = 0, nt;
    if (n < 1 || d < 1 || k < 0 || m < 0 || np < n || np % FD_PS_W || (k > 0 && !labels_t) ||
        (pairs && !out_pairs) || (k > 0 && !out_factor) || d > ((int64_t)1 << 24) ||
        k > ((int64_t)1 << 24))
        return FD_ERR_ARGUMENT;
    for (int64_t s = 0; s < m; s++)
        if (rows[s] < 0 || rows[s] >= n) return FD_ERR_ARGUMENT;
    p.mu = mu_t; p.istd = istd_t; p.nlog = nlog_t; p.labels = labels_t;
    p.n = n; p.np = np; p.d = d; p.k = k; p.pairs = pairs;
    p.n_pairs = pairs ? d * (d - 1) / 2 : 0;
    p.n_acc = 2 * d + 1 + k * d + p.n_pairs;
    /* a block of rows: its inputs, e and suffix buffers (5 d R doubles) within ~80 KiB (L1 / L2) */
    R = (2000 / d) / FD_PS_W * FD_PS_W;
    R = R < 4 * FD_PS_W ? 4 * FD_PS_W : R > 512 ? 512 : R;
    /* fewer samples per tile when there are many accumulators (pairs of many codes) */
    T = FD_PS_ACC_CELLS / (p.n_acc * FD_PS_W);
    T = T < 1 ? 1 : T > FD_PS_TILE ? FD_PS_TILE : T;
    n_tiles = (m + T - 1) / T;
    nt = fd_team(fd_resolve_threads(n_threads, INT64_MAX), m * n * d);
    if (nt > n_tiles) nt = n_tiles > 0 ? (int)n_tiles : 1;
    (void)nt;

#ifdef _OPENMP
#pragma omp parallel num_threads(nt) reduction(+ : slow)
#endif
    {
        const int64_t A = p.n_acc;
        double *acc = (double *)malloc(sizeof(double) * (size_t)(T * A * FD_PS_W));
        /* e [d][R], suffix products [d][R], prefix products [R], two factor masks [2][R] */
        double *e = (double *)malloc(sizeof(double) * (size_t)(2 * d * R + 3 * R));
        double *own = (double *)malloc(sizeof(double) * (size_t)(FD_PS_TILE * (d + 1) + 3 * A + 3 * d + 2));
        int32_t *own_lab = (int32_t *)malloc(sizeof(int32_t) * (size_t)(FD_PS_TILE * (k + 1)));
        const int ok = acc && e && own && own_lab;
#ifdef FD_PS_MXCSR
        /* flush denormal products to zero: they are below exp(-700) of every sum, and
           denormal arithmetic costs a microcode assist per operation */
        const unsigned int csr = _mm_getcsr();
        _mm_setcsr(csr | 0x8040);
#endif
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (int64_t tile = 0; tile < n_tiles; tile++) {
            const int64_t s0 = tile * T;
            const int64_t ts = m - s0 < T ? m - s0 : T;
            double *bound = own + FD_PS_TILE * d, *res = bound + FD_PS_TILE;
            int quick[FD_PS_TILE];
            if (!ok) continue;
            memset(acc, 0, sizeof(double) * (size_t)(ts * A * FD_PS_W));
            for (int64_t s = 0; s < ts; s++) {
                const int64_t row = rows[s0 + s];
                const double *zs = z + (s0 + s) * d;
                double b = 0.0;
                for (int64_t i = 0; i < d; i++) {
                    const double u = (zs[i] - mu_t[i * np + row]) * istd_t[i * np + row];
                    own[s * d + i] = nlog_t[i * np + row] - 0.5 * u * u;
                    b += gmax[i] - own[s * d + i] > 0.0 ? gmax[i] - own[s * d + i] : 0.0;
                }
                for (int64_t c = 0; c < k; c++) own_lab[s * k + c] = labels_t[c * np + row];
                bound[s] = b;
                quick[s] = fast && b <= FD_PS_BOUND;
            }
            for (int64_t b0 = 0; b0 < np; b0 += R) {
                const int64_t nr = np - b0 < R ? np - b0 : R;
                for (int64_t s = 0; s < ts; s++)
                    if (quick[s])
                        fd_ps_block(&p, b0, nr, z + (s0 + s) * d, own + s * d, own_lab + s * k,
                                    acc + s * A * FD_PS_W, e, e + d * R, e + 2 * d * R, R);
            }
            for (int64_t s = 0; s < ts; s++) {
                const int64_t g = s0 + s;
                const double *o = own + s * d;
                double osum = 0.0;
                if (quick[s]) {
                    for (int64_t a = 0; a < A; a++) {
                        const double *v = acc + (s * A + a) * FD_PS_W;
                        double sum = 0.0;
                        for (int l = 0; l < FD_PS_W; l++) sum += v[l];
                        res[a] = log(sum);
                    }
                } else {
                    slow++;
                    fd_ps_slow(&p, z + g * d, o, own_lab + s * k, res, res + A, res + 2 * A,
                               res + 3 * A);
                }
                for (int64_t i = 0; i < d; i++) osum += o[i] - half_log_2pi;
                for (int64_t i = 0; i < d; i++) {
                    const double oi = o[i] - half_log_2pi;
                    out_code[g * d + i] = res[FD_PS_CODE(&p) + i] + oi - log_n;
                    out_others[g * d + i] = res[FD_PS_OTHERS(&p) + i] + (osum - oi) - log_n;
                    for (int64_t c = 0; c < k; c++)
                        out_factor[(g * k + c) * d + i] = res[FD_PS_FACTOR(&p) + c * d + i] + oi - log_n;
                }
                out_joint[g] = res[FD_PS_JOINT(&p)] + osum - log_n;
                if (pairs) {
                    int64_t q = 0;
                    for (int64_t i = 0; i < d; i++)
                        for (int64_t j = i + 1; j < d; j++, q++)
                            out_pairs[g * p.n_pairs + q] = res[FD_PS_PAIRS(&p) + q] +
                                (o[i] - half_log_2pi) + (o[j] - half_log_2pi) - log_n;
                }
            }
        }
#ifdef FD_PS_MXCSR
        _mm_setcsr(csr);
#endif
#ifdef _OPENMP
#pragma omp critical(fd_ps_merge)
#endif
        if (!ok) nomem = 1;
        free(acc); free(e); free(own); free(own_lab);
    }
    if (n_slow) *n_slow = slow;
    return nomem ? FD_ERR_NOMEM : FD_OK;
}

/* Sample s (s0 <= s < s0 + m) of generator `seed`: rows[s] uniform in [0, n), eps[s][0..d)
 * standard normal (Box-Muller), from stream s alone: the same draws for any chunking. */
int fd_posterior_draw(uint64_t seed, int64_t s0, int64_t m, int64_t n, int64_t d, int64_t *rows,
                      double *eps)
{
    if (n < 1 || d < 1 || m < 0 || s0 < 0) return FD_ERR_ARGUMENT;
    for (int64_t s = 0; s < m; s++) {
        fd_rng rng = fd_rng_for(seed, (uint64_t)(s0 + s));
        double *out = eps + s * d;
        rows[s] = fd_below(&rng, n);
        for (int64_t i = 0; i < d; i += 2) {
            /* u1 in (0, 1], u2 in [0, 1): 53-bit uniforms */
            const double u1 = ((double)(fd_next(&rng) >> 11) + 1.0) * 0x1p-53;
            const double u2 = (double)(fd_next(&rng) >> 11) * 0x1p-53;
            const double r = sqrt(-2.0 * log(u1)), th = 6.28318530717958647693 * u2;
            out[i] = r * cos(th);
            if (i + 1 < d) out[i + 1] = r * sin(th);
        }
    }
    return FD_OK;
}
