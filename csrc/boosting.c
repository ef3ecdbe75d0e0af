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
#if defined(_WIN32)
#include <windows.h>
#else
#include <unistd.h>
#if defined(_POSIX_VERSION)
#include <sched.h>
#endif
#endif

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
    int feature;        /* best split found so far: code, threshold, proxy improvement, */
    double threshold, best;
    int64_t n_left;     /* and rows left of it (a prefix of the node's rows in that code's order) */
} fd_node;

/* A row number and its value of one code: the arrays a tree is grown from hold these in
 * each code's order (one load per row where two arrays would need two). */
typedef struct { int32_t i; float v; } fd_row;

#if defined(_MSC_VER)
#define FD_ALWAYS_INLINE static __forceinline
#elif defined(__GNUC__)
#define FD_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define FD_ALWAYS_INLINE static inline
#endif

/* The best split of one node along G codes at once (G <= 4, a constant where it is
 * called): lane l's rows in its code's order are rows[l][0..m).  A
 * candidate lies between two consecutive values more than FEATURE_THRESHOLD apart (float32
 * arithmetic, as scikit-learn); within a code the first of equal proxies sl^2/nl + sr^2/nr
 * wins.  The codes are scanned side by side because each scan is a chain of additions
 * (the left sum): G independent chains keep the core busy where one would wait on each
 * addition's latency.  Per lane: best proxy, threshold, rows left of it. */
FD_ALWAYS_INLINE void fd_best_splits(const fd_row *const *rows, const int G,
                                     int64_t m, const double *g, double total, double *best,
                                     double *thr, int64_t *n_left)
{
    double sl[4], bst[4], th[4];
    float last[4];
    int64_t nl_best[4];
    for (int l = 0; l < G; l++) {
        sl[l] = g[rows[l][0].i]; last[l] = rows[l][0].v;
        bst[l] = -INFINITY; th[l] = 0.0; nl_best[l] = 0;
    }
    for (int64_t r = 1; r < m; r++) {
        const double nl = (double)r, nr = (double)(m - r), den = nl * nr;
        for (int l = 0; l < G; l++) {
            const float v = rows[l][r].v;
            if (v > last[l] + FD_FEATURE_THRESHOLD) { /* proxy > best, multiplied out */
                const double a = sl[l], b = total - a;
                if (a * a * nr + b * b * nl > bst[l] * den) {
                    bst[l] = a * a / nl + b * b / nr;
                    th[l] = (double)last[l] / 2.0 + (double)v / 2.0;
                    nl_best[l] = r;
                }
            }
            sl[l] += g[rows[l][r].i];
            last[l] = v;
        }
    }
    for (int l = 0; l < G; l++) { best[l] = bst[l]; thr[l] = th[l]; n_left[l] = nl_best[l]; }
}

/* The best split of node q over every code, codes visited in the order perm: of equal
 * proxies the first visited wins (each code's best, then a strict comparison in order). */
static void fd_node_split(const fd_row *cur, int64_t n, int64_t d,
                          const int64_t *perm, const double *g, fd_node *q)
{
    for (int64_t f0 = 0; f0 < d; f0 += 4) {
        const fd_row *rows[4];
        double best[4], thr[4];
        int64_t n_left[4];
        const int G = d - f0 >= 4 ? 4 : (int)(d - f0);
        for (int l = 0; l < G; l++) rows[l] = cur + perm[f0 + l] * n + q->start;
        switch (G) {
        case 4: fd_best_splits(rows, 4, q->n, g, q->sum, best, thr, n_left); break;
        case 3: fd_best_splits(rows, 3, q->n, g, q->sum, best, thr, n_left); break;
        case 2: fd_best_splits(rows, 2, q->n, g, q->sum, best, thr, n_left); break;
        default: fd_best_splits(rows, 1, q->n, g, q->sum, best, thr, n_left); break;
        }
        for (int l = 0; l < G; l++)
            if (best[l] > q->best) {
                q->best = best[l]; q->feature = (int)perm[f0 + l];
                q->threshold = thr[l]; q->n_left = n_left[l];
            }
    }
}

/* Grow one tree on targets g (negative gradient of one class) and store it.
 *
 * Every code's rows are kept in that code's sorted order, grouped by node: node s holds
 * positions [start, start + n) of each code's array, so a node's split search is one
 * tight pass, and after a level each group is split stably into its children's (rows of
 * leaves are dropped).  A split's left child is a prefix of its node's rows in the split
 * code's order (the threshold lies between two consecutive values), so rows go to their
 * child by position, not by comparing values.  Scratch: node_of [n], nodes [S],
 * buf [2][d][n]. */
static void fd_grow_tree(const fd_row *sorted, int64_t n,
                         int64_t d, int max_depth, const double *g, fd_rng rng, int64_t *perm,
                         int32_t *node_of, fd_node *nodes, fd_row *buf,
                         int32_t *feature, double *threshold, double *importance)
{
    const int64_t S = ((int64_t)2 << max_depth) - 1;
    const fd_row *cur = sorted; /* the presorted input serves the root's level */
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
        for (int64_t s = s0; s < s1; s++)
            if (nodes[s].open) fd_node_split(cur, n, d, perm, g, &nodes[s]);
        /* each split node's rows to its children (by position in the split code's order),
         * with the children's sums; then scikit-learn's children impurities and its check
         * that the split does not increase impurity (a split failing it, which is rare,
         * takes its rows back) */
        for (int64_t s = s0; s < s1; s++) {
            fd_node *q = &nodes[s], *l = &nodes[2 * s + 1], *rt = &nodes[2 * s + 2];
            const fd_row *rows;
            double nl, nr, wq, imp_l, imp_r, improvement, sum, sq;
            if (!q->open || q->feature < 0) continue;
            rows = cur + (int64_t)q->feature * n + q->start;
            sum = sq = 0.0;
            for (int64_t r = 0; r < q->n_left; r++) {
                const int32_t i = rows[r].i;
                node_of[i] = (int32_t)(2 * s + 1); sum += g[i]; sq += g[i] * g[i];
            }
            l->n = q->n_left; l->sum = sum; l->sq = sq;
            sum = sq = 0.0;
            for (int64_t r = q->n_left; r < q->n; r++) {
                const int32_t i = rows[r].i;
                node_of[i] = (int32_t)(2 * s + 2); sum += g[i]; sq += g[i] * g[i];
            }
            rt->n = q->n - q->n_left; rt->sum = sum; rt->sq = sq;
            nl = (double)l->n; nr = (double)rt->n; wq = (double)q->n;
            /* the right child's sums as the parent's minus the left's, as scikit-learn */
            imp_l = l->sq / nl - (l->sum / nl) * (l->sum / nl);
            imp_r = (q->sq - l->sq) / nr - ((q->sum - l->sum) / nr) * ((q->sum - l->sum) / nr);
            improvement = (wq / (double)n) * (q->impurity - nr / wq * imp_r - nl / wq * imp_l);
            if (improvement + FD_TREE_EPSILON < 0.0) { /* a leaf after all: undo the children */
                for (int64_t r = 0; r < q->n; r++) node_of[rows[r].i] = (int32_t)s;
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
            fd_row *out = buf + (int64_t)flip * d * n;
            int64_t pos = 0;
            for (int64_t s = s0; s < s1; s++) {
                if (feature[s] < 0) continue;
                nodes[2 * s + 1].start = pos; pos += nodes[2 * s + 1].n;
                nodes[2 * s + 2].start = pos; pos += nodes[2 * s + 2].n;
            }
            for (int64_t f = 0; f < d; f++) {
                const fd_row *in = cur + f * n;
                fd_row *o = out + f * n;
                for (int64_t s = s0; s < s1; s++) {
                    int64_t wl, wr;
                    const int32_t left = (int32_t)(2 * s + 1);
                    if (feature[s] < 0) continue;
                    wl = nodes[2 * s + 1].start; wr = nodes[2 * s + 2].start;
                    for (int64_t r = nodes[s].start, e = r + nodes[s].n; r < e; r++) {
                        const fd_row e = in[r];
                        const int go_left = node_of[e.i] == left;
                        /* the slot without a branch: the side is a coin flip per row */
                        o[wr ^ ((wl ^ wr) & -(int64_t)go_left)] = e;
                        wl += go_left; wr += !go_left;
                    }
                }
            }
            cur = out; flip ^= 1;
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
 * or for two classes (one raw column) y - expit(raw).  raw and g are [T][n] (a tree adds
 * to its own column, contiguous, so that trees on other threads write other lines). */
static void fd_neg_gradient(const double *raw, const int32_t *y, int64_t n, int T, int64_t i,
                            double *g)
{
    if (T == 1) {
        const double r = raw[i];
        const double p = r >= 0 ? 1.0 / (1.0 + exp(-r)) : exp(r) / (1.0 + exp(r));
        g[i] = (double)y[i] - p;
    } else {
        double m = raw[i], z = 0.0;
        for (int k = 1; k < T; k++) m = raw[(int64_t)k * n + i] > m ? raw[(int64_t)k * n + i] : m;
        for (int k = 0; k < T; k++) { /* g holds exp(raw - max) until the division */
            const double e = exp(raw[(int64_t)k * n + i] - m);
            g[(int64_t)k * n + i] = e; z += e;
        }
        for (int k = 0; k < T; k++)
            g[(int64_t)k * n + i] = (double)(y[i] == k) - g[(int64_t)k * n + i] / z;
    }
}

static int fd_trees_per_stage(int n_classes) { return n_classes > 2 ? n_classes : 1; }

/* The work of a fit of several models, handed out one piece at a time.  A model's stage
 * needs its gradient, computed from the previous stage's trees; its trees (one per class)
 * are then independent.  A thread takes whatever piece is ready, from the model furthest
 * behind, so threads never wait on each other while another model has work: on a busy
 * machine a thread that loses its core delays only the model it is working on, where a
 * barrier per stage would hold every thread (two threads ran slower than one that way). */
enum { FD_NEEDS_GRADIENT, FD_GRADIENT_RUNNING, FD_GROWING, FD_DONE };

typedef struct {
    int phase;      /* the enum above */
    int stage;      /* of this call, 0 .. n_stages */
    int next;       /* next piece of the phase to hand out: gradient block or tree (class) */
    int finished;   /* pieces of the phase finished */
} fd_model_state;

/* Take a piece of work: returns its model (-1: none ready now, -2: all done) and sets
 * *cls to the tree's class, or -1 - b for block b of the model's gradient (blocks of
 * rows, so that threads share a model's gradient instead of waiting for it).  Caller
 * holds the lock. */
static int fd_take_work(fd_model_state *st, const fd_gbt_model *models, int n_models,
                        int blocks, int *cls)
{
    int pick = -1, all_done = 1;
    for (int k = 0; k < n_models; k++) {
        const fd_model_state *m = &st[k];
        const int ready = (m->phase == FD_NEEDS_GRADIENT && m->next < blocks) ||
                          (m->phase == FD_GROWING && m->next < fd_trees_per_stage(models[k].n_classes));
        all_done &= m->phase == FD_DONE;
        if (ready && (pick < 0 || m->stage < st[pick].stage)) pick = k;
    }
    if (pick < 0) return all_done ? -2 : -1;
    *cls = st[pick].phase == FD_NEEDS_GRADIENT ? -1 - st[pick].next : st[pick].next;
    st[pick].next++;
    return pick;
}

/* Record a finished piece of work.  Caller holds the lock. */
static void fd_work_done(fd_model_state *m, int T, int blocks, int cls, int n_stages)
{
    if (cls < 0 ? ++m->finished < blocks : ++m->finished < T) return;
    m->next = m->finished = 0;
    if (cls < 0) {
        m->phase = FD_GROWING;
    } else {
        m->stage++;
        m->phase = m->stage == n_stages ? FD_DONE : FD_NEEDS_GRADIENT;
    }
}

/* Let another thread run while this one has nothing to take (the machine may be busy,
 * and the thread it waits for may be the one without a core). */
static void fd_yield(void)
{
#if defined(_WIN32)
    SwitchToThread();
#elif defined(_POSIX_VERSION)
    sched_yield();
#endif
}

int fd_gbt_fit(const float *xs, const int32_t *order, int64_t n, int64_t d, fd_gbt_model *models,
               int n_models, int first_stage, int n_stages, double learning_rate, int max_depth,
               int n_threads)
{
    const int64_t S = ((int64_t)2 << max_depth) - 1;
    int64_t n_tasks = 0;
    int64_t *base = NULL; /* model k's columns of g / raw start at column base[k] */
    fd_model_state *state = NULL;
    double *g = NULL, *raw = NULL;
    fd_row *sorted = NULL;
    int nomem = 0, blocks;
    if (n < 2 || d < 1 || n_models < 1 || first_stage < 0 || n_stages < 0 || max_depth < 1 ||
        max_depth > 16 || n > INT32_MAX)
        return FD_ERR_ARGUMENT;
    for (int k = 0; k < n_models; k++) {
        if (models[k].n_classes < 2) return FD_ERR_ARGUMENT;
        n_tasks += fd_trees_per_stage(models[k].n_classes);
    }
    if (n_stages == 0) return FD_OK;
    base = (int64_t *)malloc(sizeof(int64_t) * (size_t)n_models);
    state = (fd_model_state *)malloc(sizeof(fd_model_state) * (size_t)n_models);
    g = (double *)malloc(sizeof(double) * (size_t)(n * n_tasks));
    raw = (double *)malloc(sizeof(double) * (size_t)(n * n_tasks));
    sorted = (fd_row *)malloc(sizeof(fd_row) * (size_t)(n * d));
    if (!base || !state || !g || !raw || !sorted) {
        free(base); free(state); free(g); free(raw); free(sorted);
        return FD_ERR_NOMEM;
    }
    for (int k = 0, t = 0; k < n_models; k++) {
        const int T = fd_trees_per_stage(models[k].n_classes);
        base[k] = t;
        state[k].phase = FD_NEEDS_GRADIENT; state[k].stage = 0;
        state[k].next = state[k].finished = 0;
        for (int c = 0; c < T; c++, t++)
            for (int64_t i = 0; i < n; i++) raw[(int64_t)t * n + i] = models[k].raw[i * T + c];
    }
    for (int64_t j = 0; j < n * d; j++) { sorted[j].i = order[j]; sorted[j].v = xs[j]; }
    n_threads = fd_cap_threads(n_threads);
    if (n_threads > n_tasks) n_threads = (int)n_tasks;
#ifndef _OPENMP
    n_threads = 1;
#endif
    blocks = n_threads; /* gradient blocks per model and stage */
#ifdef _OPENMP
#pragma omp parallel num_threads(n_threads)
#endif
    {
        int32_t *node_of = (int32_t *)malloc(sizeof(int32_t) * (size_t)n);
        fd_node *nodes = (fd_node *)malloc(sizeof(fd_node) * (size_t)S);
        fd_row *buf = (fd_row *)malloc(sizeof(fd_row) * (size_t)(2 * d * n));
        double *scratch = (double *)malloc(sizeof(double) * (size_t)(3 * S));
        int64_t *perm = (int64_t *)malloc(sizeof(int64_t) * (size_t)d);
        int k = -1, cls = 0, stop = 0;
        if (!(node_of && nodes && scratch && perm && buf)) {
#ifdef _OPENMP
#pragma omp critical(fd_gbt_queue)
#endif
            nomem = 1;
        }
        for (;;) {
#ifdef _OPENMP
#pragma omp critical(fd_gbt_queue)
#endif
            {
                if (k >= 0) /* the piece this thread finished */
                    fd_work_done(&state[k], fd_trees_per_stage(models[k].n_classes), blocks, cls,
                                 n_stages);
                k = nomem ? -2 : fd_take_work(state, models, n_models, blocks, &cls);
                stop = k == -2;
            }
            if (stop) break;
            if (k == -1) { /* the other threads' pieces come first: ask again */
                fd_yield();
                continue;
            }
            {
                const fd_gbt_model *mo = &models[k];
                const int T = fd_trees_per_stage(mo->n_classes);
                double *rm = raw + base[k] * n, *gm = g + base[k] * n;
                if (cls < 0) {
                    const int64_t b = -1 - cls, i1 = n * (b + 1) / blocks;
                    for (int64_t i = n * b / blocks; i < i1; i++)
                        fd_neg_gradient(rm, mo->y, n, T, i, gm);
                } else {
                    const int stage = state[k].stage; /* fixed until this tree is recorded */
                    const int64_t t = (int64_t)stage * T + cls;
                    int32_t *ft = mo->feature + t * S;
                    double *th = mo->threshold + t * S, *va = mo->value + t * S;
                    double *rk = rm + (int64_t)cls * n;
                    const double *gk = gm + (int64_t)cls * n;
                    /* the generator is keyed by the tree's stage in the whole fit, so
                     * fitting stages in several calls (first_stage) grows the same trees */
                    const uint64_t key = (uint64_t)((int64_t)(first_stage + stage) * T + cls);
                    fd_grow_tree(sorted, n, d, max_depth, gk, fd_rng_for(mo->seed, key), perm,
                                 node_of, nodes, buf, ft, th, mo->importance + t * d);
                    fd_leaf_values(node_of, gk, mo->y, n, T == 1 ? 1 : cls, mo->n_classes, S,
                                   ft, va, scratch);
                    for (int64_t i = 0; i < n; i++) rk[i] += learning_rate * va[node_of[i]];
                }
            }
        }
        free(node_of); free(nodes); free(scratch); free(perm); free(buf);
    }
    for (int k = 0; k < n_models; k++) {
        const int T = fd_trees_per_stage(models[k].n_classes);
        for (int c = 0; c < T; c++)
            for (int64_t i = 0; i < n; i++)
                models[k].raw[i * T + c] = raw[(base[k] + c) * n + i];
    }
    free(base); free(state); free(g); free(raw); free(sorted);
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
