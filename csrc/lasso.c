/* Lasso on moments: DCI's cross-validated Lasso (scikit-learn's Lasso, alphas chosen by
 * K-fold CV) from one pass over the rows.
 *
 * A Lasso with an intercept sees its rows only through their centred Gram matrix X^T X,
 * X^T y and y^T y (coordinate descent on the Gram, scikit-learn's precompute=True path), and
 * a fitted model's squared error on any rows only through the same moments of those rows.
 * So one pass computes, per group of rows (a CV fold), the count, the means and the centred
 * comoments of the p = codes + targets variables; the training moments of a fold are the
 * other folds' merged, and every fit costs O(d^2) per sweep whatever the number of rows.
 *
 * Moments are kept centred (Chan, Golub & LeVeque's pairwise update) rather than as raw sums,
 * so that codes far from zero relative to their spread do not cancel: each block of rows of
 * one group is centred on its own mean, then merged.  Blocks are merged into chunks, chunks
 * (fixed size, fd_moment_chunk) in chunk order: the result does not depend on the number of
 * threads, nor on how the rows are split between calls at chunk boundaries.
 *
 * A moments record of p variables is [count, mean[p], comoment[p][p]] (full, symmetric). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static inline int64_t fd_rec(int64_t p) { return 1 + p + p * p; }

int64_t fd_moment_chunk(int64_t n_rows, int64_t n_groups, int64_t p)
{
    /* chunk partial records take at most ~2^22 doubles */
    int64_t chunk = (int64_t)1 << 14;
    while ((n_rows + chunk - 1) / chunk * n_groups * fd_rec(p) > ((int64_t)1 << 22) &&
           chunk < n_rows)
        chunk <<= 1;
    return chunk;
}

/* acc += (nb, mb, cb): the pairwise update of count, means and comoments. */
static void fd_merge(double *FD_RESTRICT acc, const double *FD_RESTRICT b, int64_t p,
                     double *FD_RESTRICT delta)
{
    const double na = acc[0], nb = b[0];
    double n, f, w;
    if (nb == 0.0) return;
    if (na == 0.0) { memcpy(acc, b, sizeof(double) * (size_t)fd_rec(p)); return; }
    n = na + nb; f = nb / n; w = na * f;
    for (int64_t a = 0; a < p; a++) {
        delta[a] = b[1 + a] - acc[1 + a];
        acc[1 + a] += delta[a] * f;
    }
    for (int64_t a = 0; a < p; a++) {
        double *ca = acc + 1 + p + a * p;
        const double *cb = b + 1 + p + a * p, da = delta[a] * w;
        for (int64_t c = 0; c < p; c++) ca[c] += cb[c] + da * delta[c];
    }
    acc[0] = n;
}

void fd_moments_merge(double *acc, const double *b, int64_t p, double *scratch)
{
    fd_merge(acc, b, p, scratch);
}

/* Column j of rows [r0, r0 + nr) of a (rows[] picks them, or NULL), each as
 * ((x * u1) * u2) * scale + offset - c, to out[pos[r]]: u1 u2 a power of two (exact, as
 * np.ldexp), then scikit-learn's min-max affine map, then the caller's shift c (a typical
 * value: differences from it are exact for values near it, so that the block means of
 * codes far from zero relative to their spread keep every digit of that spread). */
#define FD_DEFINE_LOAD(SUF, T)                                                          \
    static void fd_load_##SUF(const fd_array *a, int64_t j, const int64_t *rows,         \
                              int64_t r0, int64_t nr, double u1, double u2, double sc,   \
                              double off, double c, const int32_t *pos, double *out)     \
    {                                                                                   \
        const T *x = (const T *)a->data + j * a->col_stride;                            \
        for (int64_t r = 0; r < nr; r++) {                                              \
            const int64_t i = rows ? rows[r0 + r] : r0 + r;                             \
            double v = (double)x[i * a->row_stride] * u1;                               \
            v = v * u2;                                                                 \
            v = v * sc;                                                                 \
            v = v + off;                                                                \
            out[pos[r]] = v - c;                                                        \
        }                                                                               \
    }
FD_FOR_INT_TYPES(FD_DEFINE_LOAD)
FD_DEFINE_LOAD(f32, float)
FD_DEFINE_LOAD(f64, double)

static void fd_load(const fd_array *a, int64_t j, const int64_t *rows, int64_t r0, int64_t nr,
                    double u1, double u2, double sc, double off, double c, const int32_t *pos,
                    double *out)
{
    switch (a->dtype) {
    case FD_FLOAT32: fd_load_f32(a, j, rows, r0, nr, u1, u2, sc, off, c, pos, out); break;
    case FD_FLOAT64: fd_load_f64(a, j, rows, r0, nr, u1, u2, sc, off, c, pos, out); break;
    default: FD_INT_DISPATCH(a->dtype, fd_load, a, j, rows, r0, nr, u1, u2, sc, off, c, pos, out)
    }
}

/* sum of x[i] y[i], i < m, in four interleaved partial sums (a fixed order) */
static inline double fd_dot(const double *FD_RESTRICT x, const double *FD_RESTRICT y, int64_t m)
{
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    int64_t i = 0;
    for (; i + 4 <= m; i += 4) {
        s0 += x[i] * y[i]; s1 += x[i + 1] * y[i + 1];
        s2 += x[i + 2] * y[i + 2]; s3 += x[i + 3] * y[i + 3];
    }
    for (; i < m; i++) s0 += x[i] * y[i];
    return (s0 + s1) + (s2 + s3);
}

/* Moments of the c rows z[v][0 .. c) (variable-major, stride `ld`) into rec; z is centred
 * in place. */
static void fd_block_moments(double *z, int64_t ld, int64_t c, int64_t p, double *rec)
{
    rec[0] = (double)c;
    for (int64_t v = 0; v < p; v++) {
        double *zv = z + v * ld, s = 0.0, m;
        for (int64_t i = 0; i < c; i++) s += zv[i];
        m = s / (double)c;
        rec[1 + v] = m;
        for (int64_t i = 0; i < c; i++) zv[i] -= m;
    }
    for (int64_t a = 0; a < p; a++)
        for (int64_t b = a; b < p; b++) {
            const double s = fd_dot(z + a * ld, z + b * ld, c);
            rec[1 + p + a * p + b] = s;
            rec[1 + p + b * p + a] = s;
        }
}

int fd_fold_moments(const fd_array *codes, const fd_array *targets, const int64_t *rows,
                    const int32_t *group, int64_t m, int64_t n_groups, const double *u1,
                    const double *u2, const double *scale, const double *offset,
                    const double *shift, int64_t chunk, double *moments, int n_threads)
{
    const int64_t d = codes->n_cols, k = targets->n_cols, p = d + k, R = fd_rec(p);
    const int64_t N = codes->n_rows, G = n_groups;
    int64_t n_chunks;
    double *part;
    int nomem = 0, bad = 0;
    const int nt = fd_resolve_threads(n_threads, m);
    (void)nt; /* used by OpenMP only */

    if (d < 1 || k < 1 || targets->n_rows != N || G < 1 || G > INT32_MAX || m < 0 ||
        chunk < 1 || codes->dtype < FD_FLOAT32)
        return FD_ERR_ARGUMENT;
    if (m == 0) return FD_OK;
    n_chunks = (m + chunk - 1) / chunk;
    part = (double *)calloc((size_t)(n_chunks * G * R), sizeof(double));
    if (!part) return FD_ERR_NOMEM;

#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        double *z = (double *)malloc(sizeof(double) * (size_t)(p * FD_BLOCK));
        double *rec = (double *)malloc(sizeof(double) * (size_t)(R + p));
        int32_t *pos = (int32_t *)malloc(sizeof(int32_t) * (size_t)FD_BLOCK);
        int64_t *start = (int64_t *)malloc(sizeof(int64_t) * (size_t)(G + 1));
        const int ok = z && rec && pos && start;
        int my_bad = 0;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (int64_t ch = 0; ch < n_chunks; ch++) {
            double *acc = part + ch * G * R;
            const int64_t stop = fd_min64(m, (ch + 1) * chunk);
            if (!ok || my_bad) continue;
            for (int64_t r0 = ch * chunk; r0 < stop && !my_bad; r0 += FD_BLOCK) {
                const int64_t nr = fd_min64(FD_BLOCK, stop - r0);
                /* the block's rows grouped: a counting sort by group */
                for (int64_t g = 0; g <= G; g++) start[g] = 0;
                for (int64_t r = 0; r < nr; r++) {
                    const int32_t g = group[r0 + r];
                    const int64_t i = rows ? rows[r0 + r] : r0 + r;
                    if (g < 0 || g >= G || i < 0 || i >= N) { my_bad = 1; break; }
                    start[g + 1]++;
                }
                if (my_bad) break;
                for (int64_t g = 0; g < G; g++) start[g + 1] += start[g];
                for (int64_t r = 0; r < nr; r++) pos[r] = (int32_t)start[group[r0 + r]]++;
                for (int64_t v = 0; v < p; v++) {
                    const int in_codes = v < d;
                    fd_load(in_codes ? codes : targets, in_codes ? v : v - d, rows, r0, nr,
                            u1[v], u2[v], scale[v], offset[v], shift[v], pos, z + v * FD_BLOCK);
                }
                /* start[g] is now the end of group g's rows: each group's block moments */
                for (int64_t g = 0, s = 0; g < G; s = start[g], g++) {
                    const int64_t c = start[g] - s;
                    if (!c) continue;
                    fd_block_moments(z + s, FD_BLOCK, c, p, rec);
                    fd_merge(acc + g * R, rec, p, rec + R);
                }
            }
        }
#ifdef _OPENMP
#pragma omp critical(fd_lasso_flags)
#endif
        {
            if (!ok) nomem = 1;
            if (my_bad) bad = 1;
        }
        free(z); free(rec); free(pos); free(start);
    }
    if (!nomem && !bad) {
        double *delta = (double *)malloc(sizeof(double) * (size_t)p);
        if (!delta) nomem = 1;
        else
            for (int64_t ch = 0; ch < n_chunks; ch++) /* in chunk order */
                for (int64_t g = 0; g < G; g++)
                    fd_merge(moments + g * R, part + (ch * G + g) * R, p, delta);
        free(delta);
    }
    free(part);
    return nomem ? FD_ERR_NOMEM : bad ? FD_ERR_ARGUMENT : FD_OK;
}

/* ---------------------------------------------------------------- coordinate descent */

typedef struct {   /* a Lasso problem: centred Gram of the codes, with one target */
    int64_t d;
    const double *Q;   /* [d][d] */
    const double *q;   /* [d] */
    double yy;
} fd_gram;

static inline double fd_fmax(double x, double y) { return x > y ? x : y; }
static inline double fd_fsign(double f) { return f == 0 ? 0.0 : f > 0 ? 1.0 : -1.0; }

/* scikit-learn's gap_enet_gram with beta = 0, positive = 0: the duality gap of w (XtA and
 * its largest magnitude as by-products). */
static double fd_gap(const fd_gram *g, const double *w, double alpha, const double *Qw,
                     double *XtA, double *dual_norm)
{
    const int64_t d = g->d;
    double q_dot_w = 0.0, wQw = 0.0, r_norm2, ry, l1 = 0.0, dn = 0.0, scale, primal, dual;
    for (int64_t j = 0; j < d; j++) { q_dot_w += w[j] * g->q[j]; wQw += w[j] * Qw[j]; }
    r_norm2 = g->yy + wQw - 2.0 * q_dot_w;
    ry = g->yy - q_dot_w;
    for (int64_t j = 0; j < d; j++) XtA[j] = g->q[j] - Qw[j];
    if (alpha == 0) { /* least squares: the gradient's squared norm */
        for (int64_t j = 0; j < d; j++) dn += XtA[j] * XtA[j];
        *dual_norm = dn;
        return dn;
    }
    for (int64_t j = 0; j < d; j++) { dn = fd_fmax(dn, fabs(XtA[j])); l1 += fabs(w[j]); }
    *dual_norm = dn;
    primal = 0.5 * r_norm2 + alpha * l1;
    scale = dn > alpha ? alpha / dn : 1.0;
    dual = -0.5 * (scale * scale) * r_norm2 + scale * ry;
    return primal - dual;
}

/* Gap safe screening (scikit-learn's rule): codes whose optimal weight is certainly 0 leave
 * the active set (their weight set to 0). */
static int64_t fd_screen(const fd_gram *g, double *w, double alpha, double gap, double *Qw,
                         const double *XtA, double dual_norm, uint8_t *excluded,
                         int64_t *active)
{
    const int64_t d = g->d;
    const double radius = sqrt(2 * gap) / alpha;
    int64_t n_active = 0;
    for (int64_t j = 0; j < d; j++) {
        const double qjj = g->Q[j * d + j];
        double d_j;
        if (excluded[j]) continue;
        if (qjj == 0) { w[j] = 0; excluded[j] = 1; continue; }
        d_j = (1 - fabs(XtA[j] / fd_fmax(alpha, dual_norm))) / sqrt(qjj);
        if (d_j <= radius) { active[n_active++] = j; continue; }
        if (w[j] != 0) {
            for (int64_t c = 0; c < d; c++) Qw[c] -= w[j] * g->Q[j * d + c];
            w[j] = 0;
        }
        excluded[j] = 1;
    }
    return n_active;
}

/* scikit-learn's enet_coordinate_descent (l1 penalty alpha = alpha' n, no l2, cyclic, with
 * screening) on the Gram: minimises 1/2 w^T Q w - q^T w + 1/2 yy + alpha |w|_1 from w.
 * The same steps in the same order; the residual's products come from Q instead of the
 * rows.  Returns the sweeps done; *gap, *tol: the last duality gap and tol * yy (converged
 * when gap <= tol).  Scratch: work [3 d] doubles, excluded [d], active [d]. */
static int fd_enet_gram(const fd_gram *g, double alpha, int max_iter, double tol, double *w,
                        double *gap_out, double *tol_out, double *work, uint8_t *excluded,
                        int64_t *active)
{
    const int64_t d = g->d;
    double *Qw = work, *XtA = work + d, dual_norm, gap;
    const double d_w_tol = tol;
    const int screening = alpha != 0;
    int64_t n_active = d;
    int n_iter = 0;
    for (int64_t j = 0; j < d; j++) {
        double s = 0.0;
        for (int64_t c = 0; c < d; c++) s += g->Q[j * d + c] * w[c];
        Qw[j] = s;
        excluded[j] = 0;
        active[j] = j;
    }
    tol *= g->yy;
    *tol_out = tol;
    gap = fd_gap(g, w, alpha, Qw, XtA, &dual_norm);
    *gap_out = gap;
    if (gap <= tol) return 0;
    if (screening) n_active = fd_screen(g, w, alpha, gap, Qw, XtA, dual_norm, excluded, active);
    for (n_iter = 0; n_iter < max_iter; n_iter++) {
        double w_max = 0.0, d_w_max = 0.0;
        for (int64_t f = 0; f < n_active; f++) {
            const int64_t j = active[f];
            const double qjj = g->Q[j * d + j], w_j = w[j];
            double tmp, d_w_j;
            if (qjj == 0.0) continue;
            tmp = g->q[j] - Qw[j] + w_j * qjj;
            w[j] = fd_fsign(tmp) * fd_fmax(fabs(tmp) - alpha, 0) / qjj;
            if (w[j] != w_j) {
                const double step = w[j] - w_j;
                for (int64_t c = 0; c < d; c++) Qw[c] += step * g->Q[j * d + c];
            }
            d_w_j = fabs(w[j] - w_j);
            d_w_max = fd_fmax(d_w_max, d_w_j);
            w_max = fd_fmax(w_max, fabs(w[j]));
        }
        if (w_max == 0.0 || d_w_max / w_max <= d_w_tol || n_iter == max_iter - 1) {
            gap = fd_gap(g, w, alpha, Qw, XtA, &dual_norm);
            *gap_out = gap;
            if (gap <= tol) break;
            if (screening)
                n_active = fd_screen(g, w, alpha, gap, Qw, XtA, dual_norm, excluded, active);
        }
    }
    return n_iter < max_iter ? n_iter + 1 : max_iter;
}

/* The problem of target column t (>= d: codes are 0 .. d-1) of a moments record. */
static void fd_problem(const double *rec, int64_t p, int64_t d, int64_t t, double *Q, double *q,
                       fd_gram *g)
{
    const double *C = rec + 1 + p;
    for (int64_t a = 0; a < d; a++) {
        for (int64_t b = 0; b < d; b++) Q[a * d + b] = C[a * p + b];
        q[a] = C[a * p + t];
    }
    g->d = d; g->Q = Q; g->q = q; g->yy = C[t * p + t];
}

double fd_lasso_intercept(const double *rec, int64_t p, int64_t d, int64_t t, const double *w)
{
    double s = 0.0;
    for (int64_t j = 0; j < d; j++) s += rec[1 + j] * w[j];
    return rec[1 + t] - s;
}

double fd_lasso_mse(const double *rec, int64_t p, int64_t d, int64_t t, const double *w,
                    double intercept)
{
    /* sum (y - x.w - b)^2 = C_yy - 2 w.C_xy + w^T C_xx w + n (mean_y - mean_x.w - b)^2 */
    const double *C = rec + 1 + p, n = rec[0];
    double sq = C[t * p + t], bias = rec[1 + t] - intercept;
    if (n <= 0) return NAN;
    for (int64_t a = 0; a < d; a++) {
        double s = 0.0;
        if (w[a] == 0.0) continue;
        for (int64_t b = 0; b < d; b++) s += C[a * p + b] * w[b];
        sq += w[a] * (s - 2.0 * C[a * p + t]);
        bias -= rec[1 + a] * w[a];
    }
    sq = sq > 0.0 ? sq : 0.0;
    return sq / n + bias * bias;
}

int fd_lasso_fit(const double *rec, int64_t p, int64_t d, int64_t t, double alpha, int max_iter,
                 double tol, double *w, double *intercept, double *gap, double *gap_tol,
                 int *n_iter)
{
    double *Q, *q, *work;
    int64_t *active;
    uint8_t *excluded;
    fd_gram g;
    if (d < 1 || t < d || t >= p || max_iter < 0 || !(alpha >= 0) || rec[0] < 1)
        return FD_ERR_ARGUMENT;
    Q = (double *)malloc(sizeof(double) * (size_t)(d * d + 4 * d));
    active = (int64_t *)malloc(sizeof(int64_t) * (size_t)d);
    excluded = (uint8_t *)malloc((size_t)d);
    if (!Q || !active || !excluded) { free(Q); free(active); free(excluded); return FD_ERR_NOMEM; }
    q = Q + d * d; work = q + d;
    fd_problem(rec, p, d, t, Q, q, &g);
    /* scikit-learn's objective is per row: the l1 weight of the summed one is alpha n */
    *n_iter = fd_enet_gram(&g, alpha * rec[0], max_iter, tol, w, gap, gap_tol, work, excluded,
                           active);
    *intercept = fd_lasso_intercept(rec, p, d, t, w);
    free(Q); free(active); free(excluded);
    return FD_OK;
}

int fd_lasso_cv(const double *moments, int64_t n_folds, int64_t p, int64_t d, int64_t t,
                const double *alphas, int64_t n_alphas, int max_iter, double tol, double *mse,
                int32_t *n_iter, double *excess, int n_threads)
{
    const int64_t R = fd_rec(p), n_fits = n_alphas * n_folds;
    int nomem = 0, bad = 0;
    /* a fit costs ~d^2 per sweep: threads only where fits are big enough to pay for them
     * (an idle team on a busy machine costs more than d = 10 fits take) */
    int nt = d * d * n_fits >= ((int64_t)1 << 18) ? fd_cap_threads(n_threads) : 1;
    if (nt > n_fits) nt = n_fits > 0 ? (int)n_fits : 1;
#ifndef _OPENMP
    nt = 1;
#endif
    if (d < 1 || t < d || t >= p || n_folds < 2 || n_alphas < 0 || max_iter < 0)
        return FD_ERR_ARGUMENT;
    for (int64_t a = 0; a < n_alphas; a++) if (!(alphas[a] >= 0)) return FD_ERR_ARGUMENT;
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        double *train = (double *)malloc(sizeof(double) * (size_t)(R + p + d * d + 5 * d));
        int64_t *active = (int64_t *)malloc(sizeof(int64_t) * (size_t)d);
        uint8_t *excluded = (uint8_t *)malloc((size_t)d);
        const int ok = train && active && excluded;
        int my_bad = 0;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (int64_t i = 0; i < n_fits; i++) {
            const int64_t a = i / n_folds, f = i % n_folds;
            double *delta = train + R, *Q = delta + p, *q = Q + d * d, *work = q + d,
                   *w = work + 3 * d, gap, gtol;
            fd_gram g;
            int iters;
            if (!ok) continue;
            train[0] = 0.0; /* the other folds' moments, merged in fold order */
            for (int64_t h = 0; h < n_folds; h++)
                if (h != f) fd_merge(train, moments + h * R, p, delta);
            if (train[0] < 1 || moments[f * R] < 1) { my_bad = 1; continue; }
            fd_problem(train, p, d, t, Q, q, &g);
            for (int64_t j = 0; j < d; j++) w[j] = 0.0; /* scikit-learn starts every fit at 0 */
            iters = fd_enet_gram(&g, alphas[a] * train[0], max_iter, tol, w, &gap, &gtol, work,
                                 excluded, active);
            n_iter[i] = iters;
            excess[i] = gap - gtol;
            mse[i] = fd_lasso_mse(moments + f * R, p, d, t, w,
                                  fd_lasso_intercept(train, p, d, t, w));
        }
#ifdef _OPENMP
#pragma omp critical(fd_lasso_cv_flags)
#endif
        {
            if (!ok) nomem = 1;
            if (my_bad) bad = 1;
        }
        free(train); free(active); free(excluded);
    }
    return nomem ? FD_ERR_NOMEM : bad ? FD_ERR_ARGUMENT : FD_OK;
}
