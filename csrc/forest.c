/* Random regression forests as scikit-learn's RandomForestRegressor grows them (squared
 * error, best split among max_features codes drawn per node, bootstrap counts as sample
 * weights, min_samples_leaf = 1), from columns sorted once.
 *
 * A tree is grown level by level: every code's rows are kept in that code's sorted order,
 * grouped by node, and split stably into the children's groups after each level (as in
 * boosting.c), so no node sorts anything.  The split rule follows scikit-learn's
 * BestSplitter: candidates between consecutive values more than FEATURE_THRESHOLD apart
 * (float32), proxy sum_l^2 / w_l + sum_r^2 / w_r, the first best in the order the codes are
 * drawn, threshold halfway; codes are drawn without replacement until max_features are
 * visited and one of them is not constant in the node; rows of zero weight (out of the
 * bootstrap sample) take no part.  Values agree with scikit-learn's to rounding; the random
 * draws (bootstrap rows, codes per node) come from fastdis's generator, keyed by the tree,
 * so the forest is scikit-learn's model with another random stream.
 *
 * A tree is stored as node arrays (children -1 at a leaf), nodes numbered level by level,
 * so the first nodes are the tree grown to any smaller depth: predicting with a depth cap
 * gives the tree scikit-learn's max_depth would grow from the same draws. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const float FD_RF_FEATURE_THRESHOLD = 1e-7f;
#define FD_RF_EPSILON DBL_EPSILON

typedef struct { int32_t i; float v; } fd_rf_row; /* a row and its value of one code */

typedef struct {
    int64_t start, n;    /* its rows: positions [start, start + n) of each code's array */
    double w, sum, sq;   /* weight, weighted sum of y and of y^2 */
    int32_t id;          /* its number in the stored tree */
} fd_rf_open;

/* One node's best split over the drawn codes; returns the code (-1: none) and sets the
 * threshold, the rows left of it and the left weight / sum. */
static int fd_rf_best_split(const fd_rf_row *cur, int64_t n, int64_t d, const fd_rf_open *q,
                            const double *y, const double *wt, int max_features, fd_rng *rng,
                            int64_t *perm, double *thr_out, int64_t *nl_out)
{
    double best = -INFINITY;
    int best_f = -1, visited = 0, evaluated = 0;
    for (int64_t f = 0; f < d; f++) perm[f] = f;
    for (int64_t k = 0; k < d && (visited < max_features || !evaluated); k++) {
        const int64_t o = k + fd_below(rng, d - k), f = perm[o];
        const fd_rf_row *rows = cur + f * n + q->start;
        double sl = 0.0, wl = 0.0;
        perm[o] = perm[k]; perm[k] = f;
        visited++;
        if (rows[q->n - 1].v <= rows[0].v + FD_RF_FEATURE_THRESHOLD) continue; /* constant */
        evaluated = 1;
        for (int64_t r = 0; r + 1 < q->n; r++) {
            const int32_t i = rows[r].i;
            sl += wt[i] * y[i]; wl += wt[i];
            if (rows[r + 1].v > rows[r].v + FD_RF_FEATURE_THRESHOLD) {
                const double sr = q->sum - sl, wr = q->w - wl;
                const double proxy = sl * sl / wl + sr * sr / wr;
                if (proxy > best) {
                    double t = (double)rows[r].v / 2.0 + (double)rows[r + 1].v / 2.0;
                    if (t == (double)rows[r + 1].v || isinf(t)) t = (double)rows[r].v;
                    best = proxy; best_f = (int)f; *thr_out = t; *nl_out = r + 1;
                }
            }
        }
    }
    return best_f;
}

/* Grow tree `tree` of the forest and store it at node slot 0 of its arrays.  Scratch:
 * wt [n], node_of [n], perm [d], open lists [2][n], rows [3][d][n] (root and two levels). */
static int64_t fd_rf_grow(const float *xs, const int32_t *order, const double *y, int64_t n,
                          int64_t d, int max_features, int max_depth, int bootstrap, fd_rng rng,
                          double *wt, int32_t *node_of, int64_t *perm, fd_rf_open *open,
                          fd_rf_open *next, fd_rf_row *root, fd_rf_row *buf, int32_t *feature,
                          double *threshold, int32_t *left, int32_t *right, double *value,
                          double *importance)
{
    const fd_rf_row *cur = root;
    int64_t n_open = 1, n_nodes = 1, m = 0, flip = 0;
    double w_root;
    for (int64_t i = 0; i < n; i++) wt[i] = bootstrap ? 0.0 : 1.0;
    if (bootstrap) /* n draws with replacement: the counts are the weights */
        for (int64_t k = 0; k < n; k++) wt[fd_below(&rng, n)] += 1.0;
    for (int64_t f = 0; f < d; f++) { /* the rows in the sample, in each code's order */
        int64_t w = 0;
        for (int64_t r = 0; r < n; r++) {
            const int32_t i = order[f * n + r];
            if (wt[i] > 0.0) { root[f * n + w].i = i; root[f * n + w].v = xs[f * n + r]; w++; }
        }
        m = w;
    }
    open[0].start = 0; open[0].n = m; open[0].id = 0;
    open[0].w = open[0].sum = open[0].sq = 0.0;
    for (int64_t r = 0; r < m; r++) {
        const int32_t i = root[r].i;
        open[0].w += wt[i]; open[0].sum += wt[i] * y[i]; open[0].sq += wt[i] * y[i] * y[i];
    }
    w_root = open[0].w;
    for (int64_t j = 0; j < d; j++) importance[j] = 0.0;
    for (int depth = 0; n_open > 0; depth++) {
        int64_t n_next = 0, pos = 0;
        for (int64_t k = 0; k < n_open; k++) {
            fd_rf_open *q = &open[k];
            const double imp = q->sq / q->w - (q->sum / q->w) * (q->sum / q->w);
            double thr = 0.0;
            int64_t nl = 0;
            int f = -1;
            value[q->id] = q->sum / q->w;
            left[q->id] = right[q->id] = -1; feature[q->id] = -1; threshold[q->id] = 0.0;
            if (depth < max_depth && q->n >= 2 && !(imp <= FD_RF_EPSILON))
                f = fd_rf_best_split(cur, n, d, q, y, wt, max_features, &rng, perm, &thr, &nl);
            if (f >= 0) {
                const fd_rf_row *rows = cur + (int64_t)f * n + q->start;
                fd_rf_open *l = &next[n_next], *rt = &next[n_next + 1];
                double imp_l, imp_r, improvement;
                l->w = l->sum = l->sq = rt->w = rt->sum = rt->sq = 0.0;
                for (int64_t r = 0; r < q->n; r++) {
                    const int32_t i = rows[r].i;
                    fd_rf_open *c = r < nl ? l : rt;
                    node_of[i] = r < nl ? 0 : 1;
                    c->w += wt[i]; c->sum += wt[i] * y[i]; c->sq += wt[i] * y[i] * y[i];
                }
                imp_l = l->sq / l->w - (l->sum / l->w) * (l->sum / l->w);
                imp_r = rt->sq / rt->w - (rt->sum / rt->w) * (rt->sum / rt->w);
                improvement = (q->w / w_root) *
                              (imp - rt->w / q->w * imp_r - l->w / q->w * imp_l);
                if (!(improvement + FD_RF_EPSILON < 0.0)) {
                    feature[q->id] = f; threshold[q->id] = thr;
                    left[q->id] = (int32_t)n_nodes; right[q->id] = (int32_t)(n_nodes + 1);
                    l->id = (int32_t)n_nodes; rt->id = (int32_t)(n_nodes + 1);
                    n_nodes += 2;
                    l->n = nl; rt->n = q->n - nl;
                    l->start = pos; rt->start = pos + nl; pos += q->n;
                    importance[f] += q->w * imp - l->w * imp_l - rt->w * imp_r;
                    n_next += 2;
                    q->id = -1 - q->id; /* marks a split node for the partition below */
                }
            }
        }
        if (n_next > 0) { /* each split node's rows, per code, into its children's */
            fd_rf_row *out = buf + flip * d * n;
            for (int64_t f = 0; f < d; f++) {
                int64_t c = 0;
                for (int64_t k = 0; k < n_open; k++) {
                    const fd_rf_open *q = &open[k];
                    const fd_rf_row *in = cur + f * n + q->start;
                    int64_t wl, wr;
                    if (q->id >= 0) continue;
                    wl = next[c].start; wr = next[c + 1].start; c += 2;
                    for (int64_t r = 0; r < q->n; r++) {
                        const fd_rf_row e = in[r];
                        const int go_left = node_of[e.i] == 0;
                        /* the slot without a branch: the side is a coin flip per row */
                        out[f * n + (wr ^ ((wl ^ wr) & -(int64_t)go_left))] = e;
                        wl += go_left; wr += !go_left;
                    }
                }
            }
            cur = out; flip ^= 1;
        }
        {
            fd_rf_open *t = open; open = next; next = t;
        }
        n_open = n_next;
    }
    for (int64_t j = 0; j < d; j++) importance[j] /= w_root;
    return n_nodes;
}

int fd_forest_fit(const float *xs, const int32_t *order, const double *y, int64_t n, int64_t d,
                  int n_trees, int max_features, int max_depth, int bootstrap, uint64_t seed,
                  int32_t *feature, double *threshold, int32_t *left, int32_t *right,
                  double *value, int64_t *n_nodes, double *importance, int n_threads)
{
    const int64_t cap = 2 * n - 1; /* nodes per tree at most */
    int nomem = 0;
    if (n < 1 || d < 1 || n_trees < 0 || max_features < 1 || max_features > d || max_depth < 0 ||
        n > INT32_MAX / 2)
        return FD_ERR_ARGUMENT;
    n_threads = fd_cap_threads(n_threads);
    if (n_threads > n_trees) n_threads = n_trees > 0 ? n_trees : 1;
#ifndef _OPENMP
    n_threads = 1;
#endif
#ifdef _OPENMP
#pragma omp parallel num_threads(n_threads)
#endif
    {
        double *wt = (double *)malloc(sizeof(double) * (size_t)n);
        int32_t *node_of = (int32_t *)malloc(sizeof(int32_t) * (size_t)n);
        int64_t *perm = (int64_t *)malloc(sizeof(int64_t) * (size_t)d);
        fd_rf_open *lists = (fd_rf_open *)malloc(sizeof(fd_rf_open) * (size_t)(2 * n + 2));
        fd_rf_row *rows = (fd_rf_row *)malloc(sizeof(fd_rf_row) * (size_t)(3 * d * n));
        const int ok = wt && node_of && perm && lists && rows;
        if (!ok) {
#ifdef _OPENMP
#pragma omp critical(fd_forest_nomem)
#endif
            nomem = 1;
        }
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (int t = 0; t < n_trees; t++) {
            if (!ok) continue;
            n_nodes[t] = fd_rf_grow(xs, order, y, n, d, max_features, max_depth, bootstrap,
                                    fd_rng_for(seed, (uint64_t)t), wt, node_of, perm, lists,
                                    lists + n + 1, rows, rows + d * n, feature + t * cap,
                                    threshold + t * cap, left + t * cap, right + t * cap,
                                    value + t * cap, importance + (int64_t)t * d);
        }
        free(wt); free(node_of); free(perm); free(lists); free(rows);
    }
    return nomem ? FD_ERR_NOMEM : FD_OK;
}

int fd_forest_predict(const float *x, int64_t m, int64_t d, int n_trees, int64_t cap,
                      const int32_t *feature, const double *threshold, const int32_t *left,
                      const int32_t *right, const double *value, const int32_t *depths,
                      int n_depths, double *out, int n_threads)
{
    const int nt = fd_resolve_threads(n_threads, m * (1 + n_trees / 16));
    (void)nt; /* used by OpenMP only */
    if (n_trees < 1 || cap < 1 || d < 1 || n_depths < 1) return FD_ERR_ARGUMENT;
    for (int k = 0; k < n_depths; k++)
        if (depths[k] < 0 || (k > 0 && depths[k] < depths[k - 1])) return FD_ERR_ARGUMENT;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nt)
#endif
    for (int64_t i = 0; i < m; i++) {
        const float *row = x + i * d;
        for (int k = 0; k < n_depths; k++) out[k * m + i] = 0.0;
        for (int64_t t = 0; t < n_trees; t++) { /* in tree order, as scikit-learn adds them */
            const int64_t o = t * cap;
            int64_t s = 0;
            int depth = 0;
            for (int k = 0; k < n_depths; k++) { /* one walk: the node at each depth cap */
                for (; depth < depths[k] && left[o + s] >= 0; depth++)
                    s = (double)row[feature[o + s]] <= threshold[o + s] ? left[o + s] : right[o + s];
                out[k * m + i] += value[o + s];
            }
        }
        for (int k = 0; k < n_depths; k++) out[k * m + i] /= (double)n_trees;
    }
    return FD_OK;
}
