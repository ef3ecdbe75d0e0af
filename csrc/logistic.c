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
#include "logistic.h"

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
        /* Near the optimum the Hessian barely changes: steps below 1e-2 (relative) keep the
         * last one (each then shrinks the error by about the distance it was computed at;
         * a Hessian pass costs 2.5 (binary) to 8 (10 classes) passes without it),
         * unless that stops paying (a step not halving the previous one).  A borrowed
         * Hessian (a subsample's, near its optimum; state[1] < 0: minus the last step's
         * size) is kept, whatever the steps' size, while each full step decreases F and is
         * at most 1/8 of the previous one (for the multinomial, whose Hessian pass costs
         * eight passes without it, while it shrinks at all: 0.95; the L-BFGS corrections
         * then shrink the steps about fourfold each); else the Hessian is renewed. */
        borrowed = state[1] < 0.0;
        fresh = borrowed ? smax > (pb.T > 1 ? 0.95 : 0.125) * -state[1]
                         : smax > 1e-2 * wmax || (state[1] > 0.0 && smax > 0.5 * state[1]);
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
