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
 * ((d+1) T square: small), then a Cholesky solve.  The pass sums rows in chunks whose size
 * depends only on the problem's shape, each chunk into its own buffer, and adds the chunks
 * in order: the fit does not depend on the number of threads.  A backtracking (Armijo) line
 * search keeps every step a decrease, so separable data, where the weights grow until the
 * penalty stops them, converge too. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* The intercepts' gauge term of the multinomial (any positive weight gives the same fit). */
#define FD_GAUGE 1.0

typedef struct {
    const double *x;        /* [n][d] */
    const int32_t *y;       /* [n] in [0, K) */
    const double *cw;       /* [K] */
    int64_t n, d, D;        /* D = d + 1: the intercept is the last coefficient */
    int K, T;               /* T = 1 (binary) or K */
    double lambda, inv_sw;
    int64_t P;              /* coefficients: T * D */
    int64_t Q;              /* entries of a packed symmetric D x D block: D (D + 1) / 2 */
    int64_t n_pairs;        /* Hessian blocks (k <= l): T (T + 1) / 2 */
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

/* The sums of rows [r0, r1) into acc (zeroed by the caller); z, p: [K], o: [Q]. */
static void fd_logit_rows(const fd_logit *pb, const double *w, int64_t r0, int64_t r1,
                          int hessian, double *FD_RESTRICT acc, double *FD_RESTRICT z,
                          double *FD_RESTRICT o)
{
    const int64_t d = pb->d, D = pb->D, Q = pb->Q;
    double *FD_RESTRICT g = acc + 1, *FD_RESTRICT h = acc + 1 + pb->P;
    double loss = 0.0;
    for (int64_t i = r0; i < r1; i++) {
        const double *FD_RESTRICT xr = pb->x + i * d;
        const int yi = pb->y[i];
        const double s = pb->cw[yi];
        if (pb->T == 1) {
            const double yy = (double)(yi == 1);
            double t = w[d], e, sig, r, c;
            for (int64_t a = 0; a < d; a++) t += w[a] * xr[a];
            e = exp(-fabs(t));
            loss += s * ((t > 0.0 ? t : 0.0) + log1p(e) - yy * t);
            sig = t >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
            r = s * (sig - yy);
            for (int64_t a = 0; a < d; a++) g[a] += r * xr[a];
            g[d] += r;
            if (!hessian) continue;
            c = s * (e / ((1.0 + e) * (1.0 + e)));
            {
                int64_t q = 0;
                for (int64_t a = 0; a < d; a++) {
                    const double ca = c * xr[a];
                    for (int64_t b = a; b < d; b++) h[q + b - a] += ca * xr[b];
                    q += d - a;
                    h[q++] += ca;
                }
                h[q] += c;
            }
        } else {
            const int K = pb->K;
            double m = -INFINITY, sum = 0.0;
            for (int k = 0; k < K; k++) {
                const double *wk = w + (int64_t)k * D;
                double t = wk[d];
                for (int64_t a = 0; a < d; a++) t += wk[a] * xr[a];
                z[k] = t;
                m = t > m ? t : m;
            }
            for (int k = 0; k < K; k++) { z[K + k] = exp(z[k] - m); sum += z[K + k]; }
            loss += s * (m + log(sum) - z[yi]);
            for (int k = 0; k < K; k++) {
                double *gk = g + (int64_t)k * D;
                const double p = z[K + k] / sum;
                const double r = s * (p - (double)(k == yi));
                z[K + k] = p;
                for (int64_t a = 0; a < d; a++) gk[a] += r * xr[a];
                gk[d] += r;
            }
            if (!hessian) continue;
            {
                int64_t q = 0;
                for (int64_t a = 0; a < d; a++) {
                    for (int64_t b = a; b < d; b++) o[q++] = xr[a] * xr[b];
                    o[q++] = xr[a];
                }
                o[q] = 1.0;
            }
            for (int k = 0; k < K; k++) {
                const double pk = s * z[K + k];
                for (int l = k; l < K; l++) {
                    /* pair (k, l), k <= l, is block k * K - k (k - 1) / 2 + (l - k) */
                    double *FD_RESTRICT hb = h + ((int64_t)k * K - (int64_t)k * (k - 1) / 2 + (l - k)) * Q;
                    const double c = (l == k ? pk : 0.0) - pk * z[K + l];
                    for (int64_t q = 0; q < Q; q++) hb[q] += c * o[q];
                }
            }
        }
    }
    acc[0] += loss;
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
        double *z = (double *)malloc(sizeof(double) * (size_t)(2 * pb->K + Q));
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
                          acc, z, z + 2 * pb->K);
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
    for (int64_t k = 0, pair = 0; k < T; k++)
        for (int64_t l = k; l < T; l++, pair++) {
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
    for (int64_t k = 0; k < T; k++) {
        for (int64_t a = 0; a < d; a++) H[(k * D + a) * P + k * D + a] += pb->lambda;
        if (T > 1)
            for (int64_t l = 0; l < T; l++) H[(k * D + d) * P + l * D + d] += FD_GAUGE;
    }
    return FD_OK;
}

/* Solve H step = -G by Cholesky (L in the lower triangle of work [P][P]).  A Hessian that
 * is singular to rounding (rows that no longer weigh: saturated probabilities with a
 * negligible penalty) gets a growing multiple of its largest diagonal entry added. */
static void fd_newton_step(const double *H, const double *G, int64_t P, double *work,
                           double *step)
{
    double top = 0.0, shift = 0.0;
    for (int64_t j = 0; j < P; j++) top = H[j * P + j] > top ? H[j * P + j] : top;
    for (;;) {
        int ok = 1;
        for (int64_t j = 0; j < P && ok; j++) {
            for (int64_t i = j; i < P; i++) {
                double v = H[i * P + j] + (i == j ? shift : 0.0);
                for (int64_t k = 0; k < j; k++) v -= work[i * P + k] * work[j * P + k];
                if (i == j) {
                    if (!(v > top * 1e-14)) { ok = 0; break; }
                    work[j * P + j] = sqrt(v);
                } else {
                    work[i * P + j] = v / work[j * P + j];
                }
            }
        }
        if (ok) break;
        shift = shift > 0.0 ? shift * 100.0 : (top > 0.0 ? top : 1.0) * 1e-12;
    }
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

int64_t fd_logistic_state_size(int64_t d, int n_classes, int multinomial)
{
    const int64_t T = multinomial ? n_classes : 1, P = T * (d + 1);
    return 2 + P + P * P;
}

int fd_logistic_fit(const double *x, const int32_t *y, const double *class_weight, int64_t n,
                    int64_t d, int n_classes, int multinomial, double C, double tol,
                    int max_iter, int max_steps, double *coef, double *state, int *n_iter,
                    int *status, int n_threads)
{
    fd_logit pb;
    double sw = 0.0, *chunks, *Gt, *Ht, *work, *step, *wt;
    double *F = state + 1, *G = state + 2, *H;
    int64_t P;
    int err = FD_OK, nt;
    if (n < 1 || d < 0 || n_classes < 2 || (!multinomial && n_classes != 2) || !(C > 0.0) ||
        !(tol >= 0.0) || max_iter < 0 || max_steps < 1 || !n_iter || !status)
        return FD_ERR_ARGUMENT;
    pb.x = x; pb.y = y; pb.cw = class_weight; pb.n = n; pb.d = d; pb.D = d + 1;
    pb.K = n_classes; pb.T = multinomial ? n_classes : 1;
    P = pb.P = pb.T * pb.D;
    pb.Q = pb.D * (pb.D + 1) / 2;
    pb.n_pairs = (int64_t)pb.T * (pb.T + 1) / 2;
    pb.A = 1 + P + pb.n_pairs * pb.Q;
    pb.chunk = fd_logit_chunk(n, pb.A);
    pb.n_chunks = (n + pb.chunk - 1) / pb.chunk;
    H = G + P;
    for (int64_t i = 0; i < n; i++) {
        if (y[i] < 0 || y[i] >= n_classes) return FD_ERR_ARGUMENT;
        sw += class_weight[y[i]];
    }
    if (!(sw > 0.0) || !isfinite(sw)) return FD_ERR_ARGUMENT;
    pb.inv_sw = 1.0 / sw;
    pb.lambda = 1.0 / C / sw;
    /* a row costs about A / 32 of a histogram row: weigh rows so when going parallel */
    nt = fd_resolve_threads(n_threads, n * (1 + pb.A / 32));
    chunks = (double *)malloc(sizeof(double) * (size_t)(pb.n_chunks * pb.A));
    wt = (double *)malloc(sizeof(double) * (size_t)(3 * P + 2 * P * P));
    if (!chunks || !wt) { free(chunks); free(wt); return FD_ERR_NOMEM; }
    step = wt + P; Gt = step + P; Ht = Gt + P; work = Ht + P * P;
    *status = 0;
    if (state[0] == 0.0) { /* no pass at coef yet */
        err = fd_logit_pass(&pb, coef, 1, F, G, H, chunks, nt);
        state[0] = 1.0;
    }
    for (int s = 0; s < max_steps && !err; s++) {
        double wmax = 0.0, smax = 0.0, decrease = 0.0, alpha = 1.0, Ft = 0.0;
        if (!isfinite(*F)) { err = FD_ERR_NONFINITE; break; }
        if (*n_iter >= max_iter) { *status = 2; break; }
        fd_newton_step(H, G, P, work, step);
        ++*n_iter;
        for (int64_t j = 0; j < P; j++) {
            wmax = fabs(coef[j]) > wmax ? fabs(coef[j]) : wmax;
            smax = fabs(step[j]) > smax ? fabs(step[j]) : smax;
            decrease -= G[j] * step[j];
        }
        if (smax <= tol * (wmax > 1.0 ? wmax : 1.0)) { /* quadratic convergence: w + step is it */
            for (int64_t j = 0; j < P; j++) coef[j] += step[j];
            *status = 1;
            break;
        }
        if (!(decrease > 4.0 * DBL_EPSILON * fabs(*F))) { *status = 1; break; } /* at rounding */
        for (;;) { /* Armijo backtracking; the trial's pass serves the next iteration */
            for (int64_t j = 0; j < P; j++) wt[j] = coef[j] + alpha * step[j];
            err = fd_logit_pass(&pb, wt, 1, &Ft, Gt, Ht, chunks, nt);
            if (err || Ft <= *F - 1e-4 * alpha * decrease) break;
            alpha *= 0.5;
            if (alpha < 1e-12) break;
        }
        if (err) break;
        if (!(Ft <= *F - 1e-4 * alpha * decrease)) { *status = 3; break; } /* no decrease left */
        memcpy(coef, wt, sizeof(double) * (size_t)P);
        *F = Ft;
        memcpy(G, Gt, sizeof(double) * (size_t)P);
        memcpy(H, Ht, sizeof(double) * (size_t)(P * P));
    }
    free(chunks); free(wt);
    return err;
}
