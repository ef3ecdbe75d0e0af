/* Gradient-boosted trees fitted as scikit-learn's GradientBoostingClassifier fits them
 * (log loss, squared-error regression trees on the negative gradient, best splits over
 * every feature, one Newton step per leaf), from columns sorted once.
 *
 * scikit-learn sorts the rows of every node for every feature, for every tree.  The
 * rows' order by each feature never changes while boosting, so here each feature is
 * sorted once; a tree keeps, per feature, its rows in that order grouped by node, and
 * splitting a node splits its groups stably: O(levels * features * rows) per tree, no
 * sorting.  The candidate splits, the split rule (the first best, values within 1e-7 as
 * one value, threshold halfway), the leaf values and the importances follow
 * scikit-learn's formulas; sums are accumulated in another order, so values agree to
 * rounding, not bit for bit.
 *
 * Trees are stored complete-binary ("heap") style: node s has children 2s+1 and 2s+2;
 * feature[s] is the split feature, -1 at a leaf, -2 where no node exists. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* scikit-learn's constants: values closer than this are one value (float32 arithmetic),
 * a node this pure is a leaf, a Newton denominator this small gives a zero step. */
static const float FD_FEATURE_THRESHOLD = 1e-7f;
#define FD_TREE_EPSILON DBL_EPSILON
#define FD_TINY_HESSIAN 1e-150

typedef struct {        /* per node of the tree being grown */
    int64_t n;          /* rows */
    int64_t start;      /* where its rows sit in each code's segment array (this level) */
    double sum, sq;     /* sum of targets and of their squares over its rows */
    double impurity;    /* as scikit-learn records it (for the root: from sum and sq) */
    int open;           /* to be split at this level */
    int feature;        /* best split found so far: code, threshold, proxy improvement */
    double threshold, best;
} fd_node;

/* The best split of one node along one code: its rows in that code's order are
 * idx[0..m), values val[0..m).  A candidate lies between two consecutive values more than
 * FEATURE_THRESHOLD apart (float32 arithmetic, as scikit-learn); the first of equal
 * proxies sl^2/nl + sr^2/nr wins. */
static void fd_best_split(const int32_t *idx, const float *val, int64_t m, const double *g,
                          int64_t f, fd_node *q)
{
    const double total = q->sum;
    double best = q->best, thr = q->threshold, sl = g[idx[0]];
    int feat = q->feature;
    float last = val[0];
    for (int64_t r = 1; r < m; r++) {
        const float v = val[r];
        const float tied = last + FD_FEATURE_THRESHOLD;
        if (v > tied) { /* proxy > best, multiplied out: no division in the loop */
            const double nl = (double)r, nr = (double)(m - r), sr = total - sl;
            const double num = sl * sl * nr + sr * sr * nl, den = nl * nr;
            if (num > best * den) {
                best = sl * sl / nl + sr * sr / nr;
                feat = (int)f; thr = (double)last / 2.0 + (double)v / 2.0;
            }
        }
        sl += g[idx[r]];
        last = v;
    }
    q->best = best; q->feature = feat; q->threshold = thr;
}

/* Grow one tree on targets g (negative gradient of one class) and store it.
 *
 * Every code's rows are kept in that code's sorted order, grouped by node: node s holds
 * positions [start, start + n) of each code's array, so a node's split search is one
 * tight pass, and after a level each group is split stably into its children's (rows of
 * leaves are dropped).  Scratch: node_of [n], nodes [S], idx_buf / val_buf [2][d][n]. */
static void fd_grow_tree(const float *x, const float *xs, const int32_t *order, int64_t n,
                         int64_t d, int max_depth, const double *g, fd_rng rng, int64_t *perm,
                         int32_t *node_of, fd_node *nodes, int32_t *idx_buf, float *val_buf,
                         int32_t *feature, double *threshold, double *importance)
{
    const int64_t S = ((int64_t)2 << max_depth) - 1;
    const int32_t *cur_idx = order; /* the presorted input serves the root's level */
    const float *cur_val = xs;
    int flip = 0;
    for (int64_t s = 0; s < S; s++) { memset(&nodes[s], 0, sizeof(fd_node)); feature[s] = -2; }
    for (int64_t j = 0; j < d; j++) importance[j] = 0.0;
    {
        fd_node *root = &nodes[0];
        for (int64_t i = 0; i < n; i++) { node_of[i] = 0; root->sum += g[i]; root->sq += g[i] * g[i]; }
        root->n = n;
        root->impurity = root->sq / (double)n - (root->sum / (double)n) * (root->sum / (double)n);
        feature[0] = -1;
    }
    for (int depth = 0; depth < max_depth; depth++) {
        const int64_t s0 = ((int64_t)1 << depth) - 1, s1 = 2 * s0 + 1; /* this level's slots */
        int any = 0, any_split = 0;
        for (int64_t s = s0; s < s1; s++) {
            fd_node *q = &nodes[s];
            q->open = feature[s] == -1 && q->n >= 2 && !(q->impurity <= FD_TREE_EPSILON);
            q->best = -INFINITY;
            q->feature = -1;
            any |= q->open;
        }
        if (!any) break;
        /* Codes in a random order: of splits of equal quality (frequent in small nodes,
         * where several codes cut the same rows) the first visited wins, as in
         * scikit-learn, so that no code is favoured. */
        for (int64_t f = 0; f < d; f++) perm[f] = f;
        for (int64_t f = d - 1; f > 0; f--) {
            const int64_t o = fd_below(&rng, f + 1), t = perm[f];
            perm[f] = perm[o]; perm[o] = t;
        }
        for (int64_t fi = 0; fi < d; fi++) {
            const int64_t f = perm[fi];
            for (int64_t s = s0; s < s1; s++) {
                fd_node *q = &nodes[s];
                if (q->open)
                    fd_best_split(cur_idx + f * n + q->start, cur_val + f * n + q->start, q->n,
                                  g, f, q);
            }
        }
        /* rows to the children of their node's best split, with the children's sums; then
         * scikit-learn's children impurities and its check that the split does not
         * increase impurity (a split failing it, which is rare, takes its rows back) */
        for (int64_t i = 0; i < n; i++) {
            const int32_t s = node_of[i];
            const fd_node *q = &nodes[s];
            if (s < s0 || !q->open || q->feature < 0) continue;
            {
                const int32_t child = (double)x[i * d + q->feature] <= q->threshold ? 2 * s + 1 : 2 * s + 2;
                fd_node *c = &nodes[child];
                node_of[i] = child;
                c->n++; c->sum += g[i]; c->sq += g[i] * g[i];
            }
        }
        for (int64_t s = s0; s < s1; s++) {
            fd_node *q = &nodes[s], *l = &nodes[2 * s + 1], *rt = &nodes[2 * s + 2];
            double nl, nr, wq, imp_l, imp_r, improvement;
            if (!q->open || q->feature < 0) continue;
            nl = (double)l->n; nr = (double)rt->n; wq = (double)q->n;
            /* the right child's sums as the parent's minus the left's, as scikit-learn */
            imp_l = l->sq / nl - (l->sum / nl) * (l->sum / nl);
            imp_r = (q->sq - l->sq) / nr - ((q->sum - l->sum) / nr) * ((q->sum - l->sum) / nr);
            improvement = (wq / (double)n) * (q->impurity - nr / wq * imp_r - nl / wq * imp_l);
            if (improvement + FD_TREE_EPSILON < 0.0) { /* a leaf after all: undo the children */
                for (int64_t i = 0; i < n; i++)
                    if (node_of[i] == 2 * s + 1 || node_of[i] == 2 * s + 2) node_of[i] = (int32_t)s;
                memset(l, 0, sizeof(fd_node)); memset(rt, 0, sizeof(fd_node));
                q->feature = -1;
                continue;
            }
            l->impurity = imp_l; rt->impurity = imp_r;
            feature[s] = q->feature; threshold[s] = q->threshold;
            feature[2 * s + 1] = feature[2 * s + 2] = -1;
            importance[q->feature] += wq * q->impurity - nl * imp_l - nr * imp_r;
            any_split = 1;
        }
        if (!any_split) break;
        if (depth + 1 < max_depth) { /* each split node's rows, per code, into its children's */
            int32_t *out_idx = idx_buf + (int64_t)flip * d * n;
            float *out_val = val_buf + (int64_t)flip * d * n;
            int64_t pos = 0;
            for (int64_t s = s0; s < s1; s++) {
                if (feature[s] < 0) continue;
                nodes[2 * s + 1].start = pos; pos += nodes[2 * s + 1].n;
                nodes[2 * s + 2].start = pos; pos += nodes[2 * s + 2].n;
            }
            for (int64_t f = 0; f < d; f++) {
                const int32_t *in_i = cur_idx + f * n;
                const float *in_v = cur_val + f * n;
                int32_t *oi = out_idx + f * n;
                float *ov = out_val + f * n;
                for (int64_t s = s0; s < s1; s++) {
                    int64_t wl, wr;
                    const int32_t left = (int32_t)(2 * s + 1);
                    if (feature[s] < 0) continue;
                    wl = nodes[2 * s + 1].start; wr = nodes[2 * s + 2].start;
                    for (int64_t r = nodes[s].start, e = r + nodes[s].n; r < e; r++) {
                        const int32_t i = in_i[r];
                        const int go_left = node_of[i] == left;
                        const int64_t w = go_left ? wl : wr;
                        oi[w] = i; ov[w] = in_v[r];
                        wl += go_left; wr += !go_left;
                    }
                }
            }
            cur_idx = out_idx; cur_val = out_val; flip ^= 1;
        }
    }
    for (int64_t j = 0; j < d; j++) importance[j] /= (double)n;
}

/* Newton step of every leaf (scikit-learn's _update_terminal_regions for the binomial and
 * multinomial losses): mean(neg_g) * (K-1)/K / mean(p (1 - p)), p = [y == k] - neg_g. */
static void fd_leaf_values(const int32_t *node_of, const double *g, const int32_t *y, int64_t n,
                           int k, int n_classes, int64_t S, const int32_t *feature,
                           double *value, double *scratch)
{
    double *num = scratch, *den = scratch + S, *cnt = scratch + 2 * S;
    for (int64_t s = 0; s < 3 * S; s++) scratch[s] = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const int32_t s = node_of[i];
        const double p = (double)(y[i] == k) - g[i];
        num[s] += g[i];
        den[s] += p * (1.0 - p);
        cnt[s] += 1.0;
    }
    for (int64_t s = 0; s < S; s++) {
        double v = 0.0;
        if (feature[s] == -1 && cnt[s] > 0) {
            double nu = num[s] / cnt[s];
            const double de = den[s] / cnt[s];
            if (n_classes > 2) nu *= (double)(n_classes - 1) / (double)n_classes;
            v = fabs(de) < FD_TINY_HESSIAN ? 0.0 : nu / de;
        }
        value[s] = v;
    }
}

/* Negative gradient of the log loss at row i's raw predictions: [y == k] - softmax(raw)_k,
 * or for two classes (one raw column) y - expit(raw).  g is [T][n]. */
static void fd_neg_gradient(const double *raw, const int32_t *y, int64_t n, int T, int64_t i,
                            double *g)
{
    const double *r = raw + i * T;
    if (T == 1) {
        const double p = r[0] >= 0 ? 1.0 / (1.0 + exp(-r[0])) : exp(r[0]) / (1.0 + exp(r[0]));
        g[i] = (double)y[i] - p;
    } else {
        double m = r[0], z = 0.0;
        for (int k = 1; k < T; k++) m = r[k] > m ? r[k] : m;
        for (int k = 0; k < T; k++) z += exp(r[k] - m);
        for (int k = 0; k < T; k++) g[(int64_t)k * n + i] = (double)(y[i] == k) - exp(r[k] - m) / z;
    }
}

int fd_gbt_fit(const float *x, const float *xs, const int32_t *order, const int32_t *y,
               int64_t n, int64_t d, int n_classes, int first_stage, int n_stages,
               double learning_rate, int max_depth, uint64_t seed, double *raw, int32_t *feature,
               double *threshold, double *value, double *importance, int n_threads)
{
    const int T = n_classes > 2 ? n_classes : 1;
    const int64_t S = ((int64_t)2 << max_depth) - 1;
    double *g;
    int nomem = 0;
    if (n < 2 || d < 1 || n_classes < 2 || first_stage < 0 || n_stages < 0 || max_depth < 1 || max_depth > 16 ||
        n > INT32_MAX)
        return FD_ERR_ARGUMENT;
    g = (double *)malloc(sizeof(double) * (size_t)(n * T));
    if (!g) return FD_ERR_NOMEM;
    n_threads = fd_cap_threads(n_threads);
    if (n_threads > T) n_threads = T;
#ifndef _OPENMP
    n_threads = 1;
#endif
#ifdef _OPENMP
#pragma omp parallel num_threads(n_threads)
#endif
    {
        int32_t *node_of = (int32_t *)malloc(sizeof(int32_t) * (size_t)n);
        fd_node *nodes = (fd_node *)malloc(sizeof(fd_node) * (size_t)S);
        int32_t *idx_buf = (int32_t *)malloc(sizeof(int32_t) * (size_t)(2 * d * n));
        float *val_buf = (float *)malloc(sizeof(float) * (size_t)(2 * d * n));
        double *scratch = (double *)malloc(sizeof(double) * (size_t)(3 * S));
        int64_t *perm = (int64_t *)malloc(sizeof(int64_t) * (size_t)d);
        const int ok = node_of && nodes && scratch && perm && idx_buf && val_buf;
        if (!ok) {
#ifdef _OPENMP
#pragma omp critical(fd_gbt_nomem) /* not `atomic write`: MSVC has OpenMP 2.0 only */
#endif
            nomem = 1;
        }
#ifdef _OPENMP
#pragma omp barrier
#endif
        for (int stage = 0; stage < n_stages && !nomem; stage++) {
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
            for (int64_t i = 0; i < n; i++) fd_neg_gradient(raw, y, n, T, i, g);
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
            for (int k = 0; k < T; k++) { /* the trees of one stage are independent */
                const int64_t t = (int64_t)stage * T + k;
                int32_t *ft = feature + t * S;
                double *th = threshold + t * S, *va = value + t * S;
                const double *gk = g + (int64_t)k * n;
                /* the generator is keyed by the tree's stage in the whole fit, so fitting
                 * stages in several calls (first_stage) grows the same trees */
                const uint64_t key = (uint64_t)((int64_t)(first_stage + stage) * T + k);
                fd_grow_tree(x, xs, order, n, d, max_depth, gk, fd_rng_for(seed, key),
                             perm, node_of, nodes, idx_buf, val_buf, ft, th, importance + t * d);
                fd_leaf_values(node_of, gk, y, n, T == 1 ? 1 : k, n_classes, S, ft, va, scratch);
                for (int64_t i = 0; i < n; i++) raw[i * T + k] += learning_rate * va[node_of[i]];
            }
        }
        free(node_of); free(nodes); free(scratch); free(perm); free(idx_buf); free(val_buf);
    }
    free(g);
    return nomem ? FD_ERR_NOMEM : FD_OK;
}

int fd_gbt_predict(const float *x, int64_t m, int64_t d, int n_trees, int T, int max_depth,
                   const int32_t *feature, const double *threshold, const double *value,
                   double learning_rate, double *raw, int n_threads)
{
    const int64_t S = ((int64_t)2 << max_depth) - 1;
    /* a row walks n_trees trees: weigh rows by that when deciding to go parallel */
    const int nt = fd_resolve_threads(n_threads, m * (1 + n_trees / 16));
    (void)nt; /* used by OpenMP only */
    if (max_depth < 1 || max_depth > 16 || T < 1) return FD_ERR_ARGUMENT;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nt)
#endif
    for (int64_t i = 0; i < m; i++) {
        const float *row = x + i * d;
        for (int64_t t = 0; t < n_trees; t++) { /* tree t belongs to stage t / T, class t % T */
            const int32_t *ft = feature + t * S;
            const double *th = threshold + t * S;
            int64_t s = 0;
            while (ft[s] >= 0) s = (double)row[ft[s]] <= th[s] ? 2 * s + 1 : 2 * s + 2;
            raw[i * T + t % T] += learning_rate * value[t * S + s];
        }
    }
    return FD_OK;
}
