/* SAP's classification scores: the held-out accuracy of a linear SVM trained on one code.
 *
 * disentanglement_lib fits scikit-learn's LinearSVC(C, class_weight="balanced") on each
 * (code, factor) pair.  With one feature that is liblinear's L2-regularised squared-hinge
 * problem in two parameters (the bias is a feature of value 1, inside the penalty):
 *
 *     min_{w,b}  (w^2 + b^2) / 2 + sum_i C_i max(0, 1 - y_i (w x_i + b))^2,
 *
 * y_i = +-1.  Two classes: one problem, C_i = C * weight[class of i], the larger label
 * positive.  More classes: one-vs-rest, class c positive with C_i = C * weight[c], every
 * other row C_i = C (liblinear's train() weights only the positive side); prediction is
 * the first class of largest w_c x + b_c.  'balanced' weights: n / (n_classes * count).
 *
 * Each problem is solved exactly.  Sorting the code's training values once makes the
 * active set at any (w, b) -- rows with margin below 1 -- a prefix or suffix of each
 * class's sorted values, so prefix sums give the gradient and Hessian in O(log n).
 * Newton's method on the active set, with an exact line search when the active set
 * changes (Keerthi & DeCoste's finite Newton method), ends when the Newton point keeps
 * the active set it was computed from: the gradient there is zero.  Work per code:
 * one sort, O(n) prefix sums per factor, then O(log n) per Newton or line-search step.
 *
 * Each code column is divided by the power of two 2^e of its largest magnitude first
 * (x' = x 2^-e, w' = w 2^e, penalty w'^2 2^-2e / 2): exact, so the arithmetic is that of
 * the unscaled problem, without overflow of x^2 at extreme scales.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* A sorted list of values with prefix sums: s1[i] = x[0] + ... + x[i-1], s2 of squares. */
typedef struct {
    const double *x, *s1, *s2;
    int64_t n;
} fd_sorted;

/* The rows of L with u x + b < 1: [*lo, *hi) (a prefix for u > 0, a suffix for u < 0).
 * fl(u x + b) is monotonic in x, so the binary search agrees with testing every row. */
static void fd_below_one(const fd_sorted *L, double u, double b, int64_t *lo, int64_t *hi)
{
    int64_t a = 0, z = L->n;
    if (u == 0.0) {
        *lo = 0;
        *hi = b < 1.0 ? L->n : 0;
        return;
    }
    while (a < z) {  /* first index where the test flips */
        const int64_t mid = a + ((z - a) >> 1);
        const int below = u * L->x[mid] + b < 1.0;
        if (u > 0.0 ? below : !below) a = mid + 1; else z = mid;
    }
    if (u > 0.0) { *lo = 0; *hi = a; } else { *lo = a; *hi = L->n; }
}

/* Where one problem stands: the active ranges (they identify the active set) and the
 * weighted sums over it. */
typedef struct {
    int64_t r[6];
    double s, sx, sxx, sy, syx;
} fd_active;

/* One problem: positives P (weight cp), negatives the rows of A not in P (weight cn), or
 * the list N when it is given (two classes). */
typedef struct {
    const fd_sorted *P, *A, *N;
    double cp, cn, reg;
} fd_svm_problem;

static double fd_range_sum(const double *s, int64_t lo, int64_t hi) { return s[hi] - s[lo]; }

static void fd_active_at(const fd_svm_problem *p, double u, double b, fd_active *a)
{
    double n0, n1, n2;
    /* positives: u x + b < 1; negatives: -(u x + b) < 1 */
    fd_below_one(p->P, u, b, &a->r[0], &a->r[1]);
    if (p->N) {
        fd_below_one(p->N, -u, -b, &a->r[2], &a->r[3]);
        a->r[4] = a->r[5] = 0;
        n0 = (double)(a->r[3] - a->r[2]);
        n1 = fd_range_sum(p->N->s1, a->r[2], a->r[3]);
        n2 = fd_range_sum(p->N->s2, a->r[2], a->r[3]);
    } else {
        fd_below_one(p->A, -u, -b, &a->r[2], &a->r[3]);
        fd_below_one(p->P, -u, -b, &a->r[4], &a->r[5]);
        n0 = (double)((a->r[3] - a->r[2]) - (a->r[5] - a->r[4]));
        n1 = fd_range_sum(p->A->s1, a->r[2], a->r[3]) - fd_range_sum(p->P->s1, a->r[4], a->r[5]);
        n2 = fd_range_sum(p->A->s2, a->r[2], a->r[3]) - fd_range_sum(p->P->s2, a->r[4], a->r[5]);
    }
    {
        const double c0 = (double)(a->r[1] - a->r[0]);
        const double c1 = fd_range_sum(p->P->s1, a->r[0], a->r[1]);
        const double c2 = fd_range_sum(p->P->s2, a->r[0], a->r[1]);
        a->s = p->cp * c0 + p->cn * n0;
        a->sx = p->cp * c1 + p->cn * n1;
        a->sxx = p->cp * c2 + p->cn * n2;
        a->sy = p->cp * c0 - p->cn * n0;
        a->syx = p->cp * c1 - p->cn * n1;
    }
}

static int fd_same_active(const fd_active *a, const fd_active *b)
{
    return memcmp(a->r, b->r, sizeof(a->r)) == 0;
}

/* Hessian on a's active set: [[h11, h12], [h12, h22]]; the gradient at (u, b) is
 * H (u, b) - (2 syx, 2 sy). */
static void fd_hessian(const fd_svm_problem *p, const fd_active *a, double *h11, double *h12,
                       double *h22)
{
    *h11 = p->reg + 2.0 * a->sxx;
    *h12 = 2.0 * a->sx;
    *h22 = 1.0 + 2.0 * a->s;
}

/* The minimiser of the quadratic that equals the objective on a's active set. */
static void fd_newton_point(const fd_svm_problem *p, const fd_active *a, double *u, double *b)
{
    double h11, h12, h22, det;
    const double r1 = 2.0 * a->syx, r2 = 2.0 * a->sy;
    fd_hessian(p, a, &h11, &h12, &h22);
    det = h11 * h22 - h12 * h12;
    if (!(det > 0.0)) det = h11 * h22; /* rounding made a positive-definite H look singular */
    *u = (r1 * h22 - h12 * r2) / det;
    *b = (h11 * r2 - h12 * r1) / det;
}

/* d . gradient at (u, b), with the sums of a. */
static double fd_slope(const fd_svm_problem *p, const fd_active *a, double u, double b,
                       double du, double db)
{
    double h11, h12, h22;
    fd_hessian(p, a, &h11, &h12, &h22);
    return du * (h11 * u + h12 * b - 2.0 * a->syx) + db * (h12 * u + h22 * b - 2.0 * a->sy);
}

#define FD_SVM_MAX_NEWTON 100
#define FD_SVM_MAX_SEARCH 200

/* Exact minimiser (u, b) of one problem. */
static void fd_svm_solve(const fd_svm_problem *p, double *u_out, double *b_out)
{
    double u = 0.0, b = 0.0;
    fd_active cur, nxt;
    fd_active_at(p, u, b, &cur);
    for (int it = 0; it < FD_SVM_MAX_NEWTON; it++) {
        double un, bn, du, db, lo = 0.0, hi = INFINITY, t = 1.0;
        fd_newton_point(p, &cur, &un, &bn);
        fd_active_at(p, un, bn, &nxt);
        if (fd_same_active(&cur, &nxt) || (un == u && bn == b)) { u = un; b = bn; break; }
        /* the active set changed: minimise along the segment's line.  The slope is
         * piecewise linear and increasing in t; on the piece of t, its root is exact. */
        du = un - u;
        db = bn - b;
        for (int s = 0; s < FD_SVM_MAX_SEARCH; s++) {
            fd_active at, root;
            double h11, h12, h22, curv, tr, g;
            const double ut = u + t * du, bt = b + t * db;
            fd_active_at(p, ut, bt, &at);
            g = fd_slope(p, &at, ut, bt, du, db);
            if (g == 0.0) break;
            if (g > 0.0) hi = t; else lo = t;
            fd_hessian(p, &at, &h11, &h12, &h22);
            curv = du * (h11 * du + h12 * db) + db * (h12 * du + h22 * db);
            tr = t - g / curv;
            if (tr > lo && tr < hi) {
                fd_active_at(p, u + tr * du, b + tr * db, &root);
                if (fd_same_active(&at, &root)) { t = tr; break; }
                t = tr;
            } else {
                t = isfinite(hi) ? 0.5 * (lo + hi) : 2.0 * t;
            }
            if (!(hi - lo > 0.0)) break;
        }
        u += t * du;
        b += t * db;
        fd_active_at(p, u, b, &cur);
    }
    *u_out = u;
    *b_out = b;
}

/* Stable LSD radix sort of v[0..n) (no NaN) by value, carrying the row ids (id: the sorted
 * row ids); k, k2: scratch of n uint64, id2: scratch of n int32.  Digits of 11 bits (6
 * passes), every digit's counts in one pass first, passes where all keys share the digit
 * skipped, the two buffers used in turn (no copy back per pass). */
#define FD_RADIX_BITS 11
#define FD_RADIX_PASSES 6
static void fd_sort_values(const double *v, int64_t n, int32_t *id, uint64_t *k, uint64_t *k2,
                           int32_t *id2)
{
    static const int64_t R = (int64_t)1 << FD_RADIX_BITS;
    int32_t count[FD_RADIX_PASSES][(size_t)1 << FD_RADIX_BITS];
    uint64_t *src = k, *dst = k2;
    int32_t *isrc = id, *idst = id2;
    memset(count, 0, sizeof(count));
    for (int64_t i = 0; i < n; i++) {
        uint64_t bits;
        memcpy(&bits, v + i, sizeof(bits));
        bits = bits >> 63 ? ~bits : bits | ((uint64_t)1 << 63); /* order-preserving */
        k[i] = bits;
        id[i] = (int32_t)i;
        for (int p = 0; p < FD_RADIX_PASSES; p++)
            count[p][(bits >> (p * FD_RADIX_BITS)) & (uint64_t)(R - 1)]++;
    }
    for (int p = 0; p < FD_RADIX_PASSES && n > 0; p++) {
        const int shift = p * FD_RADIX_BITS;
        int32_t sum = 0, *c = count[p];
        if (c[(src[0] >> shift) & (uint64_t)(R - 1)] == n) continue; /* one digit: no move */
        for (int64_t d = 0; d < R; d++) { const int32_t t = c[d]; c[d] = sum; sum += t; }
        for (int64_t i = 0; i < n; i++) {
            const int32_t at = c[(src[i] >> shift) & (uint64_t)(R - 1)]++;
            dst[at] = src[i];
            idst[at] = isrc[i];
        }
        { uint64_t *t = src; src = dst; dst = t; }
        { int32_t *t = isrc; isrc = idst; idst = t; }
    }
    if (isrc != id) memcpy(id, isrc, sizeof(int32_t) * (size_t)n);
}

/* x[0..n) in the given order, scaled by 2^-e, with its prefix sums. */
static void fd_prefix(const double *x, const int32_t *order, int64_t n, int e, double *xs,
                      double *s1, double *s2)
{
    s1[0] = s2[0] = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const double v = ldexp(x[order[i]], -e);
        xs[i] = v;
        s1[i + 1] = s1[i] + v;
        s2[i + 1] = s2[i] + v * v;
    }
}

/* Scratch of one thread: sized for n_train rows and at most max_classes classes. */
typedef struct {
    int32_t *order, *id2;
    uint64_t *k, *k2;
    double *xs, *s1, *s2, *cx, *c1, *c2, *xt, *uc, *bc, *cls;
    int64_t *start, *count;
} fd_svm_scratch;

static int fd_scratch_new(fd_svm_scratch *s, int64_t n, int64_t m_max, int64_t n_test)
{
    const size_t N = (size_t)(n > 0 ? n : 1), M = (size_t)(m_max > 0 ? m_max : 1);
    memset(s, 0, sizeof(*s));
    s->order = (int32_t *)malloc(sizeof(int32_t) * N);
    s->id2 = (int32_t *)malloc(sizeof(int32_t) * N);
    s->uc = (double *)malloc(sizeof(double) * M);
    s->bc = (double *)malloc(sizeof(double) * M);
    s->k = (uint64_t *)malloc(sizeof(uint64_t) * N);
    s->k2 = (uint64_t *)malloc(sizeof(uint64_t) * N);
    s->xs = (double *)malloc(sizeof(double) * N);
    s->s1 = (double *)malloc(sizeof(double) * (N + 1));
    s->s2 = (double *)malloc(sizeof(double) * (N + 1));
    s->cx = (double *)malloc(sizeof(double) * N);
    s->c1 = (double *)malloc(sizeof(double) * (N + M));
    s->c2 = (double *)malloc(sizeof(double) * (N + M));
    s->xt = (double *)malloc(sizeof(double) * (size_t)(n_test > 0 ? n_test : 1));
    s->cls = (double *)malloc(sizeof(double) * M);
    s->start = (int64_t *)malloc(sizeof(int64_t) * (M + 1));
    s->count = (int64_t *)malloc(sizeof(int64_t) * M);
    return s->order && s->id2 && s->uc && s->bc && s->cls && s->k && s->k2 && s->xs && s->s1 &&
           s->s2 && s->cx && s->c1 && s->c2 && s->xt && s->start &&
           s->count;
}

static void fd_scratch_free(fd_svm_scratch *s)
{
    free(s->order); free(s->id2); free(s->uc); free(s->bc); free(s->cls); free(s->k); free(s->k2);
    free(s->xs); free(s->s1); free(s->s2); free(s->cx); free(s->c1); free(s->c2);
    free(s->xt); free(s->start); free(s->count);
}

/* Test rows whose label yt equals the prediction: the first class of largest score
 * u[c] x + b[c] (numpy's argmax), over the nc classes cls[] (ascending).  Two rows at a
 * time through every class, in registers and without branches (compilers keep the scalar
 * loop's select as a branch, mispredicted half the time). */
static int64_t fd_vote_correct(const double *FD_RESTRICT x, const int64_t *FD_RESTRICT yt,
                               int64_t n, const double *u, const double *b, const double *cls,
                               int64_t nc)
{
    int64_t i = 0, correct = 0;
#if defined(__SSE2__) || defined(_M_X64)
    /* eight rows per pass: four independent compare-select chains */
    for (; i + 8 <= n; i += 8) {
        __m128d xv[4], best[4], pred[4];
        double p[8];
        for (int r = 0; r < 4; r++) {
            xv[r] = _mm_loadu_pd(x + i + 2 * r);
            best[r] = _mm_set1_pd(-INFINITY);
            pred[r] = _mm_set1_pd(-1.0);
        }
        for (int64_t c = 0; c < nc; c++) {
            const __m128d U = _mm_set1_pd(u[c]), B = _mm_set1_pd(b[c]), K = _mm_set1_pd(cls[c]);
            for (int r = 0; r < 4; r++) {
                const __m128d v = _mm_add_pd(_mm_mul_pd(xv[r], U), B);
                const __m128d gt = _mm_cmpgt_pd(v, best[r]);
                best[r] = _mm_or_pd(_mm_and_pd(gt, v), _mm_andnot_pd(gt, best[r]));
                pred[r] = _mm_or_pd(_mm_and_pd(gt, K), _mm_andnot_pd(gt, pred[r]));
            }
        }
        for (int r = 0; r < 4; r++) _mm_storeu_pd(p + 2 * r, pred[r]);
        for (int r = 0; r < 8; r++) correct += p[r] == (double)yt[i + r];
    }
#endif
    for (; i < n; i++) {
        double best = -INFINITY, pred = -1.0;
        for (int64_t c = 0; c < nc; c++) {
            const double v = u[c] * x[i] + b[c];
            if (v > best) { best = v; pred = cls[c]; }
        }
        correct += pred == (double)yt[i];
    }
    return correct;
}

/* Accuracy on the test rows of the classifier of one (code, factor): training labels y
 * (in row order; s->order sorts the code), test labels yt, both in [0, m); the code's
 * sorted training values and its test values s->xt are scaled alike. */
static double fd_svm_pair(fd_svm_scratch *s, const fd_sorted *all, const int64_t *y,
                          const int64_t *yt, int64_t n, int64_t n_test, int64_t m, double C,
                          double reg)
{
    int64_t present = 0, correct = 0, first = -1, second = -1;
    /* the classes' sorted values (a stable split of the sorted order) and prefix sums */
    for (int64_t c = 0; c < m; c++) s->count[c] = 0;
    for (int64_t i = 0; i < n; i++) s->count[y[i]]++;
    s->start[0] = 0;
    for (int64_t c = 0; c < m; c++) {
        s->start[c + 1] = s->start[c] + s->count[c];
        if (s->count[c] > 0) {
            present++;
            if (first < 0) first = c; else if (second < 0) second = c;
        }
    }
    if (present < 2) return 0.0; /* constant on the training rows: nothing to separate */
    {
        int64_t *FD_RESTRICT next = s->start; /* filled in place, then restored */
        double *FD_RESTRICT cx = s->cx;
        const int32_t *FD_RESTRICT order = s->order;
        const double *FD_RESTRICT xs = all->x;
        for (int64_t i = 0; i < n; i++) cx[next[y[order[i]]]++] = xs[i];
        for (int64_t c = m; c > 0; c--) s->start[c] = s->start[c - 1];
        s->start[0] = 0;
    }
    for (int64_t c = 0; c < m; c++) { /* prefix sums of class c at c1[start[c] + c ..] */
        double *p1 = s->c1 + s->start[c] + c, *p2 = s->c2 + s->start[c] + c;
        const double *v = s->cx + s->start[c];
        p1[0] = p2[0] = 0.0;
        for (int64_t i = 0; i < s->count[c]; i++) {
            p1[i + 1] = p1[i] + v[i];
            p2[i + 1] = p2[i] + v[i] * v[i];
        }
    }
#define FD_CLASS_LIST(L, c) \
    fd_sorted L = {s->cx + s->start[c], s->c1 + s->start[c] + (c), s->c2 + s->start[c] + (c), s->count[c]}
    if (present == 2) {
        /* 'balanced': n / (2 count); the larger label is the positive class */
        FD_CLASS_LIST(neg, first);
        FD_CLASS_LIST(pos, second);
        fd_svm_problem p;
        double u, b;
        p.P = &pos; p.A = all; p.N = &neg; p.reg = reg;
        p.cp = C * ((double)n / (2.0 * (double)s->count[second]));
        p.cn = C * ((double)n / (2.0 * (double)s->count[first]));
        fd_svm_solve(&p, &u, &b);
        for (int64_t i = 0; i < n_test; i++)
            correct += (u * s->xt[i] + b > 0.0 ? second : first) == yt[i];
        return (double)correct / (double)n_test;
    }
    for (int64_t c = 0, nc = 0; c < m; c++) {
        fd_svm_problem p;
        FD_CLASS_LIST(pos, c);
        if (s->count[c] == 0) continue;
        p.P = &pos; p.A = all; p.N = NULL; p.reg = reg;
        p.cp = C * ((double)n / ((double)present * (double)s->count[c]));
        p.cn = C;
        fd_svm_solve(&p, &s->uc[nc], &s->bc[nc]);
        s->cls[nc++] = (double)c;
    }
#undef FD_CLASS_LIST
    correct = fd_vote_correct(s->xt, yt, n_test, s->uc, s->bc, s->cls, present);
    return (double)correct / (double)n_test;
}

int fd_sap_svm(const double *x_train, const double *x_test, const int64_t *y_train,
               const int64_t *y_test, const int64_t *n_classes, int64_t n_factors,
               int64_t n_codes, int64_t n_train, int64_t n_test, double C, double *scores,
               int n_threads)
{
    int64_t m_max = 1;
    int nomem = 0;
    int nt = fd_resolve_threads(n_threads, n_train * n_codes * (n_factors > 0 ? n_factors : 1));
    (void)nt; /* used by OpenMP only */
    if (n_factors < 0 || n_codes < 0 || n_train < 1 || n_train > INT32_MAX || n_test < 1 ||
        !(C > 0.0))
        return FD_ERR_ARGUMENT;
    for (int64_t k = 0; k < n_factors; k++) {
        if (n_classes[k] < 1) return FD_ERR_ARGUMENT;
        m_max = n_classes[k] > m_max ? n_classes[k] : m_max;
    }
    for (int64_t k = 0; k < n_factors; k++) {
        int bad = 0; /* one test per row, no early exit: the loops vectorise */
        for (int64_t i = 0; i < n_train; i++)
            bad |= y_train[k * n_train + i] < 0 || y_train[k * n_train + i] >= n_classes[k];
        for (int64_t i = 0; i < n_test; i++)
            bad |= y_test[k * n_test + i] < 0 || y_test[k * n_test + i] >= n_classes[k];
        if (bad) return FD_ERR_ARGUMENT;
    }

#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        fd_svm_scratch s;
        const int ok = fd_scratch_new(&s, n_train, m_max, n_test);
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (int64_t j = 0; j < n_codes; j++) {
            const double *x = x_train + j * n_train;
            double big = 0.0, reg;
            int e = 0;
            fd_sorted all;
            if (!ok) continue;
            for (int64_t i = 0; i < n_train; i++) big = fabs(x[i]) > big ? fabs(x[i]) : big;
            if (big > 0.0) frexp(big, &e);
            /* the penalty of w' = w 2^e; clamped where 2^-2e leaves the float64 range
               (codes beyond 2^+-500, where liblinear's own sums overflow) */
            reg = ldexp(1.0, -2 * (e > 500 ? 500 : e < -500 ? -500 : e));
            fd_sort_values(x, n_train, s.order, s.k, s.k2, s.id2);
            fd_prefix(x, s.order, n_train, e, s.xs, s.s1, s.s2);
            for (int64_t i = 0; i < n_test; i++) s.xt[i] = ldexp(x_test[j * n_test + i], -e);
            all.x = s.xs; all.s1 = s.s1; all.s2 = s.s2; all.n = n_train;
            for (int64_t k = 0; k < n_factors; k++)
                scores[k * n_codes + j] = fd_svm_pair(&s, &all, y_train + k * n_train,
                                                      y_test + k * n_test, n_train, n_test,
                                                      n_classes[k], C, reg);
        }
#ifdef _OPENMP
#pragma omp critical(fd_svm_merge)
#endif
        if (!ok) nomem = 1;
        fd_scratch_free(&s);
    }
    return nomem ? FD_ERR_NOMEM : FD_OK;
}
