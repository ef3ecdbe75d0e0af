/* One pass over the rows of the L2-regularised logistic regression (see csrc/logistic.c
 * for the objective): its value, gradient and, when asked, Hessian at a point, summed in
 * chunks of rows whose size depends only on the problem's shape, each chunk into its own
 * buffer, the chunks added in order: the sums do not depend on the number of threads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "lanes.h"
#include "logistic.h"

/* Rows are handled FD_LN at a time, one per lane: every loop over lanes is elementwise, so
 * compilers vectorise it (a lane per SIMD slot), and each lane keeps its own partial sums,
 * added in lane order at the end of a chunk.  The order of every operation is fixed by the
 * code, so the sums are the same for any SIMD width.  The Hessian's blocks are updated once
 * per FD_SB groups of lanes, so that they stream through the cache once per FD_SB * FD_LN rows. */
#define FD_LN 8
#define FD_SB 8 /* a multiple of 4: the gradient's sums spell out 4 groups at a time */

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
    return FD_LN * (FD_SB * (pb->D + pb->n_pairs + pb->Q + 5 + pb->K) + 2 * pb->K + 2 + pb->P +
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
    double *FD_RESTRICT rs = ll + FD_LN;              /* [SB][K][LN] multinomial residuals */
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
                for (int k = 0; k < K; k++) { /* residuals; the gradient takes them below */
                    double *FD_RESTRICT pk = p + k * FD_LN, *FD_RESTRICT rk = rs + (g * K + k) * FD_LN;
                    FD_LANES
                    for (int l = 0; l < FD_LN; l++) {
                        pk[l] *= tmp[l];
                        rk[l] = sw[l] * (pk[l] - (double)(yv[l] == (double)k));
                    }
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
            for (int g = 0; g < FD_SB; g++)
                FD_LANES
                for (int l = 0; l < FD_LN; l++) ll[l] += lb[g * FD_LN + l];
        }
        { /* gradient: each lane adds its rows' terms in row order, the FD_SB groups' at
           * once, so that each sum is read and written once per FD_SB * FD_LN rows */
            const double *FD_RESTRICT rr = T == 1 ? rb : rs; /* [SB][T][LN] */
            const int64_t rT = T * FD_LN, xD = D * FD_LN; /* one group to the next */
            for (int k = 0; k < T; k++) {
                const double *FD_RESTRICT r = rr + k * FD_LN;
                for (int64_t a = 0; a < D; a++) {
                    double *FD_RESTRICT ga = gl + (k * D + a) * FD_LN;
                    const double *FD_RESTRICT xa = xt + a * FD_LN;
                    /* (the groups spelt out: a loop over them vectorised across groups) */
                    for (int g = 0; g < FD_SB; g += 4) {
                        const double *FD_RESTRICT rg = r + g * rT, *FD_RESTRICT xg = xa + g * xD;
                        FD_LANES
                        for (int l = 0; l < FD_LN; l++)
                            ga[l] = (((ga[l] + rg[l] * xg[l]) + rg[rT + l] * xg[xD + l]) +
                                     rg[2 * rT + l] * xg[2 * xD + l]) + rg[3 * rT + l] * xg[3 * xD + l];
                    }
                }
            }
        }
        if (!hessian) continue;
        for (int64_t pair = 0; pair < NP; pair++) {
            double *FD_RESTRICT hb = hl + pair * Q * FD_LN;
            double c[FD_SB][FD_LN]; /* this block's weights, held in registers */
            for (int g = 0; g < FD_SB; g++)
                for (int l = 0; l < FD_LN; l++) c[g][l] = cf[(g * NP + pair) * FD_LN + l];
            int64_t q = 0;
            /* four entries at a time: their chains of additions (each in row order)
             * interleaved, so that the processor overlaps them */
            for (; q + 4 <= Q; q += 4) {
                double *FD_RESTRICT hq = hb + q * FD_LN;
                const double *FD_RESTRICT oq = o + q * FD_LN;
                FD_LANES
                for (int l = 0; l < FD_LN; l++) {
                    double v0 = hq[l], v1 = hq[FD_LN + l], v2 = hq[2 * FD_LN + l], v3 = hq[3 * FD_LN + l];
                    for (int g = 0; g < FD_SB; g++) {
                        const double *FD_RESTRICT og = oq + g * Q * FD_LN;
                        v0 += c[g][l] * og[l];
                        v1 += c[g][l] * og[FD_LN + l];
                        v2 += c[g][l] * og[2 * FD_LN + l];
                        v3 += c[g][l] * og[3 * FD_LN + l];
                    }
                    hq[l] = v0; hq[FD_LN + l] = v1; hq[2 * FD_LN + l] = v2; hq[3 * FD_LN + l] = v3;
                }
            }
            for (; q < Q; q++) {
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

/* (logistic.h) */
int fd_logit_pass(const fd_logit *pb, const double *w, int hessian, double *F, double *G,
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
