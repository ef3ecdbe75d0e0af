/* L2-regularised logistic regression by Newton's method: scikit-learn's LogisticRegression
 * model (binary, or multinomial in its symmetric parametrisation), fitted to the exact optimum.
 *
 * The objective, divided by C * sum(s) (the minimiser is the same; gradients stay O(1)
 * whatever C and the number of rows), is
 *     F(W) = sum_i s_i loss_i(W) / sum(s) + lambda / 2 * sum_k |w_k|^2,
 *     lambda = 1 / (C * sum(s)),  s_i = class_weight[y_i],
 * with the intercepts unpenalised.  Binary: one vector, class 1 positive,
 * loss = log(1 + exp(z)) - [y = 1] z.  Multinomial: one vector per class,
 * loss = logsumexp(z) - z_y.  Its intercepts are defined up to a common shift only; the
 * term (sum_k b_k)^2 / 2 picks the representative with sum_k b_k = 0 -- the one
 * scikit-learn's lbfgs reaches from zero, whose gradients keep that sum -- without moving
 * anything else (the loss's gradient in b always sums to 0 over the classes).
 *
 * Each Newton iteration is one pass over the rows computing F, its gradient and Hessian
 * ((d+1) T square: small), then a Cholesky solve; near the optimum, where the Hessian no
 * longer changes, passes skip it and the last factor is reused, corrected by BFGS updates
 * from the steps taken since (fd_logit_direction).  The pass sums rows in chunks whose size
 * depends only on the problem's shape, each chunk into its own buffer, and adds the chunks
 * in order: the fit does not depend on the number of threads.  A backtracking (Armijo) line
 * search keeps every step a decrease, so separable data, where the weights grow until the
 * penalty stops them, converge too. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "lanes.h"

/* The intercepts' gauge term of the multinomial (any positive weight gives the same fit). */
#define FD_GAUGE 1.0

typedef struct {
    const double *x;        /* [d][n]: column after column */
    const int32_t *y;       /* [n] in [0, K) */
    const double *cw;       /* [K] */
    int64_t n, d, D;        /* D = d + 1: the intercept is the last coefficient */
    int K, T;               /* T = 1 (binary) or K */
    double lambda, inv_sw;
    int64_t P;              /* coefficients: T * D */
    int64_t Q;              /* entries of a packed symmetric D x D block: D (D + 1) / 2 */
    int64_t n_pairs;        /* Hessian blocks summed over rows: 1 (binary) or the K (K - 1) / 2
                             * blocks k < l (multinomial: each diagonal block is minus the sum
                             * of its row's others, the probabilities summing to 1) */
    int64_t A;              /* a chunk's sums: loss, gradient [P], blocks [n_pairs][Q] */
    int64_t chunk, n_chunks;
} fd_logit;

/* Rows per chunk: 1024, doubled until all chunks' sums take at most 2^21 doubles. */
static int64_t fd_logit_chunk(int64_t n, int64_t A)
{
    int64_t chunk = 1024;
    while ((n + chunk - 1) / chunk * A > ((int64_t)1 << 21) && chunk < n) chunk <<= 1;
    return chunk;
}

/* Rows are handled FD_LN at a time, one per lane: every loop over lanes is elementwise, so
 * compilers vectorise it (a lane per SIMD slot), and each lane keeps its own partial sums,
 * added in lane order at the end of a chunk.  The order of every operation is fixed by the
 * code, so the sums are the same for any SIMD width.  The Hessian's blocks are updated once
 * per FD_SB groups of lanes, so that they stream through the cache once per FD_SB * FD_LN rows. */
#define FD_LN 8
#define FD_SB 4

/* log(1 + e) for e in [0, 1]: lanes.h's fd_log1p_unit (2 atanh(s), s = e / (2 + e), the
 * series to s^33), its polynomial in s^2 evaluated by Estrin's scheme: the same terms in
 * a tree of depth 5 rather than a chain of 16 multiply-adds, so that the processor
 * overlaps them (the chain's latency was half of a binary fit's pass). */
FD_LANE_FN double fd_logit_log1p(double e)
{
    const double s = e / (2.0 + e), t1 = s * s, t2 = t1 * t1, t4 = t2 * t2, t8 = t4 * t4;
    const double a0 = 1.0 + 1.0 / 3.0 * t1, a1 = 1.0 / 5.0 + 1.0 / 7.0 * t1;
    const double a2 = 1.0 / 9.0 + 1.0 / 11.0 * t1, a3 = 1.0 / 13.0 + 1.0 / 15.0 * t1;
    const double a4 = 1.0 / 17.0 + 1.0 / 19.0 * t1, a5 = 1.0 / 21.0 + 1.0 / 23.0 * t1;
    const double a6 = 1.0 / 25.0 + 1.0 / 27.0 * t1, a7 = 1.0 / 29.0 + 1.0 / 31.0 * t1;
    const double b0 = a0 + a1 * t2, b1 = a2 + a3 * t2, b2 = a4 + a5 * t2, b3 = a6 + a7 * t2;
    const double d0 = b0 + b1 * t4, d1 = b2 + b3 * t4;
    return 2.0 * s * (d0 + t8 * (d1 + 1.0 / 33.0 * t8));
}

/* Per-thread scratch of fd_logit_rows, in doubles. */
static int64_t fd_logit_scratch(const fd_logit *pb)
{
    return FD_LN * (FD_SB * (pb->D + pb->n_pairs + pb->Q + 5) + 2 * pb->K + 2 + pb->P +
                    pb->n_pairs * pb->Q + 1);
}

/* The sums of rows [r0, r1) into acc (zeroed by the caller); sc: fd_logit_scratch doubles. */
FD_SIMD_CLONES static void fd_logit_rows(const fd_logit *pb, const double *w, int64_t r0, int64_t r1,
                          int hessian, double *FD_RESTRICT acc, double *FD_RESTRICT sc)
{
    const int64_t d = pb->d, D = pb->D, Q = pb->Q, P = pb->P, NP = pb->n_pairs;
    const int K = pb->K, T = pb->T;
    double *FD_RESTRICT xt = sc;                    /* [SB][D][LN]: rows across lanes, 1 last */
    double *FD_RESTRICT cf = xt + FD_SB * D * FD_LN;  /* [SB][NP][LN]: Hessian weight of each block */
    double *FD_RESTRICT o = cf + FD_SB * NP * FD_LN;  /* [SB][Q][LN]: packed x x^T */
    double *FD_RESTRICT z = o + FD_SB * Q * FD_LN;    /* [2K][LN]: scores, then probabilities */
    double *FD_RESTRICT sw0 = z + 2 * K * FD_LN;       /* [SB][LN] row weights */
    double *FD_RESTRICT yv0 = sw0 + FD_SB * FD_LN;    /* [SB][LN] label (binary: is it 1) */
    double *FD_RESTRICT zb = yv0 + FD_SB * FD_LN;      /* [SB][LN] binary: scores, */
    double *FD_RESTRICT rb = zb + FD_SB * FD_LN;      /* residuals */
    double *FD_RESTRICT lb = rb + FD_SB * FD_LN;      /* and losses */
    double *FD_RESTRICT mx = lb + FD_SB * FD_LN;      /* [LN] */
    double *FD_RESTRICT tmp = mx + FD_LN;             /* [LN] */
    double *FD_RESTRICT gl = tmp + FD_LN;             /* [P][LN] gradient sums */
    double *FD_RESTRICT hl = gl + P * FD_LN;          /* [NP][Q][LN] Hessian block sums */
    double *FD_RESTRICT ll = hl + NP * Q * FD_LN;     /* [LN] loss sums */
    memset(gl, 0, sizeof(double) * (size_t)(P * FD_LN));
    memset(ll, 0, sizeof(double) * FD_LN);
    if (hessian) memset(hl, 0, sizeof(double) * (size_t)(NP * Q * FD_LN));
    for (int64_t i0 = r0; i0 < r1; i0 += FD_SB * FD_LN) {
        for (int g = 0; g < FD_SB; g++) {
            double *FD_RESTRICT xg = xt + g * D * FD_LN, *FD_RESTRICT cg = cf + g * NP * FD_LN;
            double *FD_RESTRICT sw = sw0 + g * FD_LN, *FD_RESTRICT yv = yv0 + g * FD_LN;
            const int64_t ig = i0 + g * FD_LN;
            if (ig + FD_LN <= r1) { /* a full group: contiguous loads of each column */
                for (int l = 0; l < FD_LN; l++) {
                    const int yi = pb->y[ig + l];
                    sw[l] = pb->cw[yi];
                    yv[l] = T == 1 ? (double)(yi == 1) : (double)yi;
                }
                for (int64_t a = 0; a < d; a++) {
                    const double *FD_RESTRICT xa = pb->x + a * pb->n + ig;
                    FD_LANES
                    for (int l = 0; l < FD_LN; l++) xg[a * FD_LN + l] = xa[l];
                }
            } else {
                for (int l = 0; l < FD_LN; l++) { /* rows past r1 weigh 0 */
                    const int64_t i = ig + l;
                    const int ok = i < r1;
                    const int yi = ok ? pb->y[i] : 0;
                    sw[l] = ok ? pb->cw[yi] : 0.0;
                    yv[l] = T == 1 ? (double)(yi == 1) : (double)yi;
                    for (int64_t a = 0; a < d; a++) xg[a * FD_LN + l] = ok ? pb->x[a * pb->n + i] : 0.0;
                }
            }
            FD_LANES
            for (int l = 0; l < FD_LN; l++) xg[d * FD_LN + l] = 1.0;
            for (int k = 0; k < T; k++) { /* scores */
                const double *wk = w + (int64_t)k * D;
                double *FD_RESTRICT zk = T == 1 ? zb + g * FD_LN : z + k * FD_LN;
                FD_LANES
                for (int l = 0; l < FD_LN; l++) zk[l] = wk[d];
                for (int64_t a = 0; a < d; a++)
                    FD_LANES
                    for (int l = 0; l < FD_LN; l++) zk[l] += wk[a] * xg[a * FD_LN + l];
            }
            if (T > 1) {
                double *FD_RESTRICT p = z + K * FD_LN;
                FD_LANES
                for (int l = 0; l < FD_LN; l++) mx[l] = z[l];
                for (int k = 1; k < K; k++)
                    FD_LANES
                    for (int l = 0; l < FD_LN; l++) mx[l] = z[k * FD_LN + l] > mx[l] ? z[k * FD_LN + l] : mx[l];
                FD_LANES
                for (int l = 0; l < FD_LN; l++) tmp[l] = 0.0;
                for (int k = 0; k < K; k++) { /* (two loops: one would not vectorise) */
                    const double *FD_RESTRICT zk = z + k * FD_LN;
                    double *FD_RESTRICT pk = p + k * FD_LN;
                    FD_LANES
                    for (int l = 0; l < FD_LN; l++) pk[l] = fd_exp_neg(zk[l] - mx[l]);
                    FD_LANES
                    for (int l = 0; l < FD_LN; l++) tmp[l] += pk[l];
                }
                for (int l = 0; l < FD_LN; l++) { /* loss: logsumexp - score of the label */
                    const int yi = (int)yv[l];
                    ll[l] += sw[l] * (mx[l] + log(tmp[l]) - z[yi * FD_LN + l]);
                    tmp[l] = 1.0 / tmp[l];
                }
                for (int k = 0; k < K; k++) {
                    double *FD_RESTRICT pk = p + k * FD_LN, *FD_RESTRICT gk = gl + k * D * FD_LN;
                    FD_LANES
                    for (int l = 0; l < FD_LN; l++) {
                        pk[l] *= tmp[l];
                        mx[l] = sw[l] * (pk[l] - (double)(yv[l] == (double)k)); /* residual */
                    }
                    for (int64_t a = 0; a < D; a++)
                        FD_LANES
                        for (int l = 0; l < FD_LN; l++) gk[a * FD_LN + l] += mx[l] * xg[a * FD_LN + l];
                }
                if (hessian)
                    for (int k = 0, pair = 0; k < K; k++) { /* block (k, m), k < m: -s p_k p_m */
                        const double *FD_RESTRICT pk = p + k * FD_LN;
                        for (int m = k + 1; m < K; m++, pair++) {
                            const double *FD_RESTRICT pm = p + m * FD_LN;
                            double *FD_RESTRICT cp = cg + pair * FD_LN;
                            FD_LANES
                            for (int l = 0; l < FD_LN; l++) cp[l] = -(sw[l] * pk[l]) * pm[l];
                        }
                    }
            }
            if (hessian) {
                double *FD_RESTRICT og = o + g * Q * FD_LN;
                int64_t q = 0;
                for (int64_t a = 0; a < D; a++)
                    for (int64_t b = a; b < D; b++, q++)
                        FD_LANES
                        for (int l = 0; l < FD_LN; l++)
                            og[q * FD_LN + l] = xg[a * FD_LN + l] * xg[b * FD_LN + l];
            }
        }
        if (T == 1) {
            /* the group's rows in one loop: their exponentials and divisions, long chains
             * of dependent operations, overlap (a loop per FD_LN rows left them waiting
             * for each other); the sums are then taken in the order of the rows as above */
            FD_LANES
            for (int r = 0; r < FD_SB * FD_LN; r++) {
                const double t = zb[r], e = fd_exp_neg(-fabs(t)), inv = 1.0 / (1.0 + e);
                const double sig = t >= 0.0 ? inv : e * inv;
                lb[r] = sw0[r] * ((t > 0.0 ? t : 0.0) + fd_logit_log1p(e) - yv0[r] * t);
                rb[r] = sw0[r] * (sig - yv0[r]);
                cf[r] = sw0[r] * (e * inv * inv); /* n_pairs = 1: cf is [SB][LN] */
            }
            for (int g = 0; g < FD_SB; g++) {
                const double *FD_RESTRICT xg = xt + g * D * FD_LN, *FD_RESTRICT rg = rb + g * FD_LN;
                FD_LANES
                for (int l = 0; l < FD_LN; l++) ll[l] += lb[g * FD_LN + l];
                for (int64_t a = 0; a < D; a++)
                    FD_LANES
                    for (int l = 0; l < FD_LN; l++) gl[a * FD_LN + l] += rg[l] * xg[a * FD_LN + l];
            }
        }
        if (!hessian) continue;
        for (int64_t pair = 0; pair < NP; pair++) {
            double *FD_RESTRICT hb = hl + pair * Q * FD_LN;
            double c[FD_SB][FD_LN]; /* this block's weights, held in registers */
            for (int g = 0; g < FD_SB; g++)
                for (int l = 0; l < FD_LN; l++) c[g][l] = cf[(g * NP + pair) * FD_LN + l];
            for (int64_t q = 0; q < Q; q++) {
                double *FD_RESTRICT hq = hb + q * FD_LN;
                FD_LANES
                for (int l = 0; l < FD_LN; l++) {
                    double v = hq[l];
                    for (int g = 0; g < FD_SB; g++) v += c[g][l] * o[(g * Q + q) * FD_LN + l];
                    hq[l] = v;
                }
            }
        }
    }
    for (int l = 0; l < FD_LN; l++) acc[0] += ll[l];
    for (int64_t j = 0; j < P; j++)
        for (int l = 0; l < FD_LN; l++) acc[1 + j] += gl[j * FD_LN + l];
    if (hessian)
        for (int64_t j = 0; j < NP * Q; j++)
            for (int l = 0; l < FD_LN; l++) acc[1 + P + j] += hl[j * FD_LN + l];
}

/* F, gradient G [P] and (with `hessian`) the full symmetric Hessian H [P][P] at w. */
static int fd_logit_pass(const fd_logit *pb, const double *w, int hessian, double *F, double *G,
                         double *H, double *chunks, int nt)
{
    const int64_t P = pb->P, D = pb->D, d = pb->d, Q = pb->Q, T = pb->T;
    const int64_t A = hessian ? pb->A : 1 + P;
    int nomem = 0;
    (void)nt; /* used by OpenMP only */
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        double *z = (double *)malloc(sizeof(double) * (size_t)fd_logit_scratch(pb));
        if (!z) {
#ifdef _OPENMP
#pragma omp critical(fd_logit_nomem)
#endif
            nomem = 1;
        }
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (int64_t ch = 0; ch < pb->n_chunks; ch++) {
            double *acc = chunks + ch * A;
            if (!z) continue;
            memset(acc, 0, sizeof(double) * (size_t)A);
            fd_logit_rows(pb, w, ch * pb->chunk, fd_min64(pb->n, (ch + 1) * pb->chunk), hessian,
                          acc, z);
        }
        free(z);
    }
    if (nomem) return FD_ERR_NOMEM;
    for (int64_t ch = 1; ch < pb->n_chunks; ch++) /* in chunk order */
        for (int64_t j = 0; j < A; j++) chunks[j] += chunks[ch * A + j];
    {
        double pen = 0.0, bsum = 0.0;
        for (int64_t k = 0; k < T; k++) {
            for (int64_t a = 0; a < d; a++) pen += w[k * D + a] * w[k * D + a];
            bsum += w[k * D + d];
        }
        *F = chunks[0] * pb->inv_sw + 0.5 * pb->lambda * pen;
        if (T > 1) *F += 0.5 * FD_GAUGE * bsum * bsum;
        for (int64_t j = 0; j < P; j++) {
            const int64_t a = j % D;
            G[j] = chunks[1 + j] * pb->inv_sw + (a < d ? pb->lambda * w[j] : T > 1 ? FD_GAUGE * bsum : 0.0);
        }
    }
    if (!hessian) return FD_OK;
    if (T > 1) /* diagonal blocks: minus the sum of the others in their row, in class order */
        for (int64_t k = 0; k < T; k++) {
            double *hd = chunks + 1 + P + pb->n_pairs * Q; /* scratch past the summed blocks */
            for (int64_t q = 0; q < Q; q++) hd[k * Q + q] = 0.0;
            for (int64_t l = 0; l < T; l++) {
                const int64_t i = k < l ? k : l, j = k < l ? l : k;
                const double *hb;
                if (l == k) continue;
                hb = chunks + 1 + P + (i * T - i * (i + 1) / 2 + (j - i - 1)) * Q;
                for (int64_t q = 0; q < Q; q++) hd[k * Q + q] -= hb[q];
            }
        }
    for (int64_t k = 0, pair = 0; k < T; k++)
        for (int64_t l = T > 1 ? k + 1 : k; l < T; l++, pair++) {
            const double *hb = chunks + 1 + P + pair * Q;
            int64_t q = 0;
            for (int64_t a = 0; a < D; a++)
                for (int64_t b = a; b < D; b++, q++) {
                    const double v = hb[q] * pb->inv_sw;
                    H[(k * D + a) * P + l * D + b] = v;
                    H[(k * D + b) * P + l * D + a] = v;
                    H[(l * D + a) * P + k * D + b] = v;
                    H[(l * D + b) * P + k * D + a] = v;
                }
        }
    if (T > 1)
        for (int64_t k = 0; k < T; k++) {
            const double *hd = chunks + 1 + P + pb->n_pairs * Q + k * Q;
            int64_t q = 0;
            for (int64_t a = 0; a < D; a++)
                for (int64_t b = a; b < D; b++, q++)
                    H[(k * D + a) * P + k * D + b] = H[(k * D + b) * P + k * D + a] = hd[q] * pb->inv_sw;
        }
    for (int64_t k = 0; k < T; k++) {
        for (int64_t a = 0; a < d; a++) H[(k * D + a) * P + k * D + a] += pb->lambda;
        if (T > 1)
            for (int64_t l = 0; l < T; l++) H[(k * D + d) * P + l * D + d] += FD_GAUGE;
    }
    return FD_OK;
}

/* Cholesky factor of H (L in the lower triangle of work [P][P]; col: [P] scratch).  A
 * Hessian that is singular to rounding (rows that no longer weigh: saturated probabilities
 * with a negligible penalty) gets a growing multiple of its largest diagonal entry added.
 * Column by column, each updating the rows below it (rather than each entry taking a dot
 * product of two rows): the updates run along rows, elementwise, so they vectorise, and
 * every entry still subtracts the products of columns 0, 1, ... in that order. */
FD_SIMD_CLONES static void fd_cholesky(const double *H, int64_t P, double *work, double *col)
{
    double top = 0.0, shift = 0.0;
    for (int64_t j = 0; j < P; j++) top = H[j * P + j] > top ? H[j * P + j] : top;
    for (;;) {
        int ok = 1;
        for (int64_t i = 0; i < P; i++) {
            for (int64_t k = 0; k <= i; k++) work[i * P + k] = H[i * P + k];
            work[i * P + i] += shift;
        }
        for (int64_t j = 0; j < P; j++) {
            const double v = work[j * P + j];
            double djj;
            if (!(v > top * 1e-14)) { ok = 0; break; }
            djj = sqrt(v);
            work[j * P + j] = djj;
            for (int64_t i = j + 1; i < P; i++) col[i] = work[i * P + j] = work[i * P + j] / djj;
            for (int64_t i = j + 1; i < P; i++) {
                const double lij = col[i];
                double *FD_RESTRICT wi = work + i * P;
                const double *FD_RESTRICT c = col;
                FD_LANES
                for (int64_t k = j + 1; k <= i; k++) wi[k] -= lij * c[k];
            }
        }
        if (ok) break;
        shift = shift > 0.0 ? shift * 100.0 : (top > 0.0 ? top : 1.0) * 1e-12;
    }
}

/* step = -(L L^T)^-1 G, L from fd_cholesky. */
static void fd_cholesky_solve(const double *work, const double *G, int64_t P, double *step)
{
    for (int64_t i = 0; i < P; i++) { /* L u = -G */
        double v = -G[i];
        for (int64_t k = 0; k < i; k++) v -= work[i * P + k] * step[k];
        step[i] = v / work[i * P + i];
    }
    for (int64_t i = P - 1; i >= 0; i--) { /* L^T step = u */
        double v = step[i];
        for (int64_t k = i + 1; k < P; k++) v -= work[k * P + i] * step[k];
        step[i] = v / work[i * P + i];
    }
}

/* Secant pairs kept for the steps taken from an old Hessian (see fd_logit_direction). */
#define FD_PAIRS 16

int64_t fd_logistic_state_size(int64_t d, int n_classes, int multinomial)
{
    const int64_t T = multinomial ? n_classes : 1, P = T * (d + 1);
    return 3 + P + P * P + 1 + FD_PAIRS * (2 * P + 1);
}

/* The step -B^-1 G, B the old Hessian H (Cholesky factor in work) corrected by BFGS updates
 * for the m steps taken since it was computed (pairs: m, then s [FD_PAIRS][P], y
 * [FD_PAIRS][P] = change of G along s, rho [FD_PAIRS] = 1 / y.s), by the two-loop recursion
 * started from H^-1 (limited-memory BFGS).  H is a good estimate (a subsample's Hessian, or
 * this level's a few steps back): the plain steps B = H shrink the error by a constant
 * factor each (up to 1/2 with a subsample's Hessian of the multinomial), the updated ones
 * faster and faster, so fewer passes over the rows reach the optimum.  q: [P] and a: [FD_PAIRS] scratch. */
static void fd_logit_direction(const double *work, const double *G, int64_t P,
                               const double *pairs, double *q, double *step, double *a)
{
    const int m = (int)pairs[0];
    const double *S = pairs + 1, *Y = S + FD_PAIRS * P, *rho = Y + FD_PAIRS * P;
    if (m == 0) { fd_cholesky_solve(work, G, P, step); return; }
    for (int64_t j = 0; j < P; j++) q[j] = G[j];
    for (int i = m - 1; i >= 0; i--) {
        double v = 0.0;
        for (int64_t j = 0; j < P; j++) v += S[i * P + j] * q[j];
        a[i] = rho[i] * v;
        for (int64_t j = 0; j < P; j++) q[j] -= a[i] * Y[i * P + j];
    }
    fd_cholesky_solve(work, q, P, step); /* step = -H^-1 q */
    for (int i = 0; i < m; i++) {
        double v = 0.0;
        for (int64_t j = 0; j < P; j++) v += Y[i * P + j] * step[j];
        v = rho[i] * v; /* the recursion's b_i, on -step */
        for (int64_t j = 0; j < P; j++) step[j] -= S[i * P + j] * (a[i] + v);
    }
}

/* Keep the pair (s, y) of a step taken (the oldest leaves when FD_PAIRS are kept), if y.s
 * is positive (the objective is convex: else rounding dominates it, and it carries nothing). */
static void fd_logit_push(double *pairs, int64_t P, const double *s, const double *g1,
                          const double *g0)
{
    int m = (int)pairs[0];
    double *S = pairs + 1, *Y = S + FD_PAIRS * P, *rho = Y + FD_PAIRS * P;
    double ys = 0.0, yy = 0.0, ss = 0.0;
    for (int64_t j = 0; j < P; j++) {
        const double y = g1[j] - g0[j];
        ys += y * s[j];
        yy += y * y;
        ss += s[j] * s[j];
    }
    if (!(ys > 1e-10 * sqrt(yy * ss))) return;
    if (m == FD_PAIRS) { /* drop the oldest */
        memmove(S, S + P, sizeof(double) * (size_t)((FD_PAIRS - 1) * P));
        memmove(Y, Y + P, sizeof(double) * (size_t)((FD_PAIRS - 1) * P));
        memmove(rho, rho + 1, sizeof(double) * (FD_PAIRS - 1));
        m--;
    }
    for (int64_t j = 0; j < P; j++) {
        S[m * P + j] = s[j];
        Y[m * P + j] = g1[j] - g0[j];
    }
    rho[m] = 1.0 / ys;
    pairs[0] = m + 1;
}

/* Sum of squares of v[0 .. n - 1]. */
static double fd_sumsq(const double *v, int64_t n) {
    double s = 0.0;
    for (int64_t j = 0; j < n; j++) s += v[j] * v[j];
    return s;
}

int fd_logistic_fit(const double *x, const int32_t *y, const double *class_weight, int64_t n,
                    int64_t d, int n_classes, int multinomial, double C, double tol,
                    int max_iter, int max_steps, double *coef, double *state, int *n_iter,
                    int *status, int n_threads)
{
    fd_logit pb;
    double sw = 0.0, *chunks, *Gt, *Ht, *work, *col, *step, *wt;
    double *F = state + 2, *G = state + 3, *H, *pairs, a[FD_PAIRS];
    int64_t P;
    int err = FD_OK, nt, factored = 0, borrowed;
    if (n < 1 || d < 0 || n_classes < 2 || (!multinomial && n_classes != 2) || !(C > 0.0) ||
        !(tol >= 0.0) || max_iter < 0 || max_steps < 1 || !n_iter || !status)
        return FD_ERR_ARGUMENT;
    pb.x = x; pb.y = y; pb.cw = class_weight; pb.n = n; pb.d = d; pb.D = d + 1;
    pb.K = n_classes; pb.T = multinomial ? n_classes : 1;
    P = pb.P = pb.T * pb.D;
    pb.Q = pb.D * (pb.D + 1) / 2;
    pb.n_pairs = pb.T > 1 ? (int64_t)pb.T * (pb.T - 1) / 2 : 1;
    pb.A = 1 + P + pb.n_pairs * pb.Q;
    pb.chunk = fd_logit_chunk(n, pb.A);
    pb.n_chunks = (n + pb.chunk - 1) / pb.chunk;
    H = G + P;
    pairs = H + P * P;
    for (int64_t i = 0; i < n; i++) {
        if (y[i] < 0 || y[i] >= n_classes) return FD_ERR_ARGUMENT;
        sw += class_weight[y[i]];
    }
    if (!(sw > 0.0) || !isfinite(sw)) return FD_ERR_ARGUMENT;
    pb.inv_sw = 1.0 / sw;
    pb.lambda = 1.0 / C / sw;
    /* a row costs about A / 32 of a histogram row: weigh rows so when going parallel */
    nt = fd_resolve_threads(n_threads, n * (1 + pb.A / 32));
    /* + T Q: the diagonal blocks of the multinomial, once the chunks are added */
    chunks = (double *)malloc(sizeof(double) * (size_t)(pb.n_chunks * pb.A + pb.T * pb.Q));
    wt = (double *)malloc(sizeof(double) * (size_t)(4 * P + 2 * P * P));
    if (!chunks || !wt) { free(chunks); free(wt); return FD_ERR_NOMEM; }
    step = wt + P; Gt = step + P; Ht = Gt + P; work = Ht + P * P; col = work + P * P;
    *status = 0;
    if (state[0] == 0.0) { /* no pass at coef yet */
        err = fd_logit_pass(&pb, coef, 1, F, G, H, chunks, nt);
        state[0] = 1.0;
    } else if (state[0] == 2.0) { /* H borrowed (a subsample's fit): F and G at coef only */
        err = fd_logit_pass(&pb, coef, 0, F, G, H, chunks, nt);
        state[0] = 1.0;
        state[1] = -DBL_MAX;
    }
    for (int s = 0; s < max_steps && !err; s++) {
        double wmax = 0.0, smax = 0.0, decrease = 0.0, alpha = 1.0, Ft = 0.0;
        int fresh, small, accept;
        if (!isfinite(*F)) { err = FD_ERR_NONFINITE; break; }
        if (*n_iter >= max_iter) { *status = 2; break; }
        if (!factored) { fd_cholesky(H, P, work, col); factored = 1; }
        fd_logit_direction(work, G, P, pairs, Gt, step, a); /* (Gt: free until the trial) */
        ++*n_iter;
        for (int64_t j = 0; j < P; j++) {
            wmax = fabs(coef[j]) > wmax ? fabs(coef[j]) : wmax;
            smax = fabs(step[j]) > smax ? fabs(step[j]) : smax;
            decrease -= G[j] * step[j];
        }
        wmax = wmax > 1.0 ? wmax : 1.0;
        if (smax <= tol * wmax) { /* what is left is of the order of this step's square */
            for (int64_t j = 0; j < P; j++) coef[j] += step[j];
            *status = 1;
            break;
        }
        /* at rounding (with an old or borrowed Hessian, the gradient still decides) */
        if (!(decrease > 4.0 * DBL_EPSILON * fabs(*F)) && state[1] == 0.0) { *status = 1; break; }
        if (!(decrease > 0.0)) { /* not a descent direction: renew the old Hessian */
            err = fd_logit_pass(&pb, coef, 1, F, G, H, chunks, nt);
            factored = 0;
            state[1] = 0.0;
            pairs[0] = 0.0;
            continue;
        }
        /* Near the optimum the Hessian barely changes: steps below 1e-3 (relative) keep the
         * last one (each then shrinks the error by about the distance it was computed at),
         * unless that stops paying (a step not halving the previous one).  A borrowed
         * Hessian (a subsample's, near its optimum; state[1] < 0: minus the last step's
         * size) is kept, whatever the steps' size, while each full step decreases F and is
         * at most 1/8 of the previous one (1/2 for the multinomial, whose Hessian pass costs
         * several passes without it); else the Hessian is renewed. */
        borrowed = state[1] < 0.0;
        fresh = borrowed ? smax > (pb.T > 1 ? 0.5 : 0.125) * -state[1]
                         : smax > 1e-3 * wmax || (state[1] > 0.0 && smax > 0.5 * state[1]);
        small = smax <= 1e-3 * wmax;
        accept = 0;
        for (;;) { /* Armijo backtracking; the trial's pass serves the next iteration */
            for (int64_t j = 0; j < P; j++) wt[j] = coef[j] + alpha * step[j];
            err = fd_logit_pass(&pb, wt, fresh || alpha < 1.0, &Ft, Gt, Ht, chunks, nt);
            if (err || Ft <= *F - 1e-4 * alpha * decrease) { accept = !err; break; }
            if (small) {
                /* Close to the optimum the objective's change falls below the rounding of
                 * its sum over the rows, while the gradient (terms of both signs, summed
                 * to an absolute precision far below the step) still sees it: a full step
                 * that shrinks the gradient is taken; halving the step would not help. */
                accept = fd_sumsq(Gt, P) < fd_sumsq(G, P);
                break;
            }
            if (borrowed && !fresh) break; /* renew the Hessian rather than shorten the step */
            alpha *= 0.5;
            if (alpha < 1e-12) break;
        }
        if (err) break;
        if (!accept) {
            if ((small || borrowed) && state[1] != 0.0) { /* from an old Hessian: renew it */
                err = fd_logit_pass(&pb, coef, 1, F, G, H, chunks, nt);
                factored = 0;
                state[1] = 0.0;
                pairs[0] = 0.0;
                continue;
            }
            /* near the optimum: neither the objective nor the gradient can improve */
            *status = small ? 1 : 3;
            break;
        }
        if (fresh || alpha < 1.0) {
            memcpy(H, Ht, sizeof(double) * (size_t)(P * P));
            factored = 0;
            state[1] = 0.0; /* the last step's size, while the Hessian is an old one */
            pairs[0] = 0.0;
        } else {
            state[1] = borrowed ? -smax : smax;
            fd_logit_push(pairs, P, step, Gt, G);
        }
        memcpy(coef, wt, sizeof(double) * (size_t)P);
        *F = Ft;
        memcpy(G, Gt, sizeof(double) * (size_t)P);
    }
    free(chunks); free(wt);
    return err;
}

/* Twice the Mann-Whitney U of the positives' scores over the negatives' (both sorted
 * ascending, finite): for each positive, the negatives below it plus those at or below it
 * (ties count one half).  One merge of the two runs: the binary searches it replaces cost
 * a cache miss per step. */
int64_t fd_twice_mann_whitney(const double *pos, int64_t n_pos, const double *neg, int64_t n_neg)
{
    int64_t below = 0, upto = 0, twice = 0;
    for (int64_t i = 0; i < n_pos; i++) {
        const double p = pos[i];
        while (below < n_neg && neg[below] < p) below++;
        if (upto < below) upto = below;
        while (upto < n_neg && neg[upto] <= p) upto++;
        twice += below + upto;
    }
    return twice;
}
