/*
 * fastdis C kernels: discretisation, factor encoding and joint histograms.
 *
 * The kernels know nothing of Python.  Arrays arrive as (pointer, strides in
 * elements); every output is preallocated by the caller.  All functions return
 * 0 on success or one of the FD_ERR_* codes, and report the offending column
 * in *err_col so that the caller can name it in an error message.
 */
#ifndef FASTDIS_H
#define FASTDIS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum fd_dtype {
    FD_INT8, FD_INT16, FD_INT32, FD_INT64,
    FD_UINT8, FD_UINT16, FD_UINT32, FD_UINT64,
    FD_FLOAT32, FD_FLOAT64
};

enum fd_error {
    FD_OK = 0,
    FD_ERR_NONFINITE = 1,    /* NaN or inf in a code column */
    FD_ERR_OUT_OF_RANGE = 2, /* code value outside the caller's code_range */
    FD_ERR_UNKNOWN_LEVEL = 3,/* factor value absent from the level table */
    FD_ERR_NOMEM = 4,
    FD_ERR_ARGUMENT = 5      /* inconsistent sizes: a bug in the caller */
};

/* A strided 2-D array; element (i, j) lives at
 * data + (i * row_stride + j * col_stride) * itemsize(dtype). */
typedef struct {
    const void *data;
    int64_t n_rows, n_cols;
    int64_t row_stride, col_stride;
    int dtype;
} fd_array;

/* How each code column is binned.  With t = x * scale[j] + offset[j]
 * (IEEE, no fused multiply-add) the label is the number of interior edges
 * edges[j][1 .. n_bins-1] that are <= t, i.e. np.digitize(t, edges[:-1]) - 1.
 * `uniform` says the edges are nearly equally spaced, so that a first guess
 * g = (t - edges[0]) * n_bins / (edges[n_bins] - edges[0]) can be computed
 * arithmetically; tol[j] bounds |g - true position| in bins (rounding of g and
 * the edges' own distance from an exact grid), and the kernels compare against
 * the exact edges whenever g is within tol[j] of a boundary (binary search when
 * tol[j] >= 0.25).
 * With `check_range`, t outside [edges[0], edges[n_bins]] (NaN and inf
 * included) is an error; without, it is clamped into the first / last bin,
 * and the caller must have rejected NaN/inf already (fd_code_minmax does):
 * a NaN is then binned somewhere, never out of bounds. */
typedef struct {
    int n_bins;
    const double *edges;   /* [n_codes * (n_bins + 1)] */
    const double *scale;   /* [n_codes] */
    const double *offset;  /* [n_codes] */
    const double *tol;     /* [n_codes], used when uniform */
    int uniform;
    int check_range;
} fd_binning;

/* Maps the value v of factor column k to its level
 * lut[lut_offset[k] + (v - vmin[k])], for 0 <= v - vmin[k] < lut_len[k];
 * -1 in the table marks a value that has no level, and so does any entry outside
 * [0, n_levels[k]).  Kernels reject tables that do not lie inside lut[0 .. lut_size)
 * or whose values vmin[k] .. vmin[k] + lut_len[k] - 1 overflow int64 (FD_ERR_ARGUMENT). */
typedef struct {
    const int32_t *lut;
    int64_t lut_size;           /* entries in lut */
    const int64_t *lut_offset;  /* [n_factors] */
    const int64_t *lut_len;     /* [n_factors] */
    const int64_t *vmin;        /* [n_factors] */
    const int64_t *n_levels;    /* [n_factors] */
} fd_levels;

/* Threads a kernel asks for: n_threads <= 0 means fd_max_threads(); never more than the
 * processors available to the process (results do not depend on it), and fewer for few
 * rows.  OpenMP may grant fewer still: kernels never assume the team they asked for. */
int fd_resolve_threads(int n_threads, int64_t n_rows);
/* n_threads capped by the processors available (<= 0: fd_max_threads()). */
int fd_cap_threads(int n_threads);
int fd_openmp_enabled(void);
/* OpenMP's limit (OMP_NUM_THREADS, omp_set_num_threads) capped by the processors. */
int fd_max_threads(void);
/* Whether the AVX2 binning path is compiled in and usable on this CPU; tests turn it off. */
int fd_avx2_available(void);
void fd_set_simd(int enabled);
/* Whether row binning uses AVX-512 (eight codes at a time) where the CPU has it; tests turn it off. */
int fd_avx512_available(void);
void fd_set_avx512(int enabled);
/* Whether fd_joint_histogram counts pairs of small factors jointly (default on). */
void fd_set_pairing(int enabled);

/* discretize.c */
int fd_code_minmax(const fd_array *codes,
                   double *mins, double *maxs,   /* OUT [n_cols] */
                   int64_t *err_col, int n_threads);
int fd_discretize(const fd_array *codes, const fd_binning *bins,
                  void *out, int out_itemsize,  /* OUT C-ordered [n_rows * n_cols], uint8 or uint16 */
                  int64_t *err_col, int n_threads);

/* encode.c: integer factor columns only */
int fd_int_scan(const fd_array *factors,
                int64_t *mins, int64_t *maxs,    /* OUT [n_cols] */
                uint8_t *marks, int64_t window,  /* OUT [n_cols * window]: value v in [0, window) occurs */
                int n_threads);
/* marks[mark_offset[c] + v - vmin[c]] = 1 for every value v of column c; spans outside
 * marks[0 .. n_marks) or overflowing int64 are FD_ERR_ARGUMENT, a value outside its span
 * FD_ERR_UNKNOWN_LEVEL (nothing is ever written outside the span). */
int fd_mark_values(const fd_array *factors, const int64_t *vmin,
                   const int64_t *mark_offset, const int64_t *mark_len,
                   uint8_t *marks, int64_t n_marks, /* OUT, set to 1 where a value occurs */
                   int64_t *err_col,             /* the first column with a value outside its span */
                   int n_threads);

/* histogram.c */
/* Bytes of one counting thread's private tables in fd_joint_histogram for factors of
 * n_levels[k] levels (the pass's factor pairing), d codes of nb bins, with or without the
 * code and factor pair tables; and the threads a pass asked for n_threads uses (fewer while
 * their private tables would pass its 512 MiB cap, never fewer than one). */
double fd_histogram_private_bytes(const int64_t *n_levels, int64_t k, int64_t d, int64_t nb,
                                  int code_pairs, int factor_pairs);
int fd_histogram_threads(int n_threads, double private_bytes);
int fd_joint_histogram(const fd_array *factors, const fd_levels *levels,
                       const fd_array *codes, const fd_binning *bins,
                       int64_t *fc,   /* IN/OUT [L][n_codes][n_bins], L = sum of n_levels */
                       int64_t *cc,   /* IN/OUT [n_codes][n_codes][n_bins][n_bins] (j < l filled) or NULL */
                       int64_t *ff,   /* IN/OUT [L][L] (pairs of levels of factors k < l filled) or NULL */
                       int64_t *err_col, int n_threads);

/* sampling.c */
enum fd_batch_mode {
    FD_BATCH_PAIR_DIFF = 0, /* out[b][j] = mean over L pairs of |z_a - z_b| */
    FD_BATCH_VARIANCE = 1,  /* out[b][j] = variance (ddof = 1) over L rows */
    FD_BATCH_PAIRS = 2      /* as PAIR_DIFF, each pair drawing its own group */
};

/* Groups of rows after fd_group_rows, and which of them batches may be drawn from. */
typedef struct {
    const int64_t *offsets;  /* [n_keys + 1]: rows of group g are perm[offsets[g] .. offsets[g+1]) */
    const int64_t *perm;     /* [n_rows] */
    const int64_t *groups;   /* [n_groups]: eligible group ids (at least 2 rows each) */
    const int64_t *cum;      /* [n_groups + 1]: cumulative sizes of the eligible groups */
    int64_t n_groups;
    int by_size;             /* 1: pick a group with probability proportional to its size */
    int replace;             /* 1: rows with replacement always (disentanglement_lib's sampling) */
} fd_groups;

int fd_factor_keys(const fd_array *factors, const fd_levels *levels,
                   const int64_t *weight,        /* [n_factors]: mixed-radix weights, 0 = left out */
                   int64_t *keys,                /* OUT [n_rows] */
                   int64_t *err_col, int n_threads);
int fd_group_rows(const int64_t *keys, int64_t n_rows, int64_t n_keys,
                  int64_t *offsets,              /* OUT [n_keys + 1] */
                  int64_t *perm);                /* OUT [n_rows] */
/* Batch b is drawn with a generator keyed by (seed, batch_ids[b]): a group, then
 * batch_size rows (2 * batch_size for pairs) without replacement when the group is
 * large enough, with replacement otherwise (pairs then of two different rows); with
 * groups->replace, always with replacement (pairs may repeat a row).  FD_BATCH_PAIRS
 * draws a group for every pair instead, then two different rows of it (two rows with
 * replacement with groups->replace). */
int fd_sample_batches(const fd_array *codes, const fd_groups *groups, int mode,
                      int64_t batch_size, uint64_t seed, const int64_t *batch_ids,
                      int64_t n_batches,
                      double *out,                 /* OUT [n_batches * n_codes] */
                      int n_threads);
/* fd_sample_batches with one group set per batch: batch b draws from sets[set_of[b]]
 * (set_of NULL: every batch from sets[0]), the same draws as a call on that set alone
 * (batches drawn from several groupings, e.g. one per factor, in one parallel region). */
int fd_sample_batches_sets(const fd_array *codes, const fd_groups *sets, int64_t n_sets,
                           const int64_t *set_of, int mode, int64_t batch_size, uint64_t seed,
                           const int64_t *batch_ids, int64_t n_batches,
                           double *out,            /* OUT [n_batches * n_codes] */
                           int n_threads);
/* Per group: mean of each code and the q-quantile (numpy's linear interpolation;
 * q >= 1: the maximum) of |z - mean|. */
int fd_group_deviation(const fd_array *codes, const int64_t *offsets, const int64_t *perm,
                       int64_t n_groups, double q,
                       double *mean, double *dev,  /* OUT [n_groups * n_codes] */
                       int n_threads);

/* moments.c: for every level of every factor (L = sum of n_levels), the mean, the
 * smallest and largest value of each code over the rows at that level, and the largest
 * |z - that mean|, in one pass.  NaN/inf are not checked: they make the means non-finite. */
int fd_level_deviation(const fd_array *factors, const fd_levels *levels, const fd_array *codes,
                       double *mean,    /* OUT [L * n_codes] */
                       double *dev,     /* OUT [L * n_codes] */
                       double *lo,      /* OUT [L * n_codes] */
                       double *hi,      /* OUT [L * n_codes] */
                       int64_t *count,  /* OUT [L] rows per level */
                       int64_t *err_col, int n_threads);
/* The same in steps: fd_level_sums adds the rows' per-level sums into total (in chunks of
 * `chunk` rows, added in order), folds minima/maxima into lo/hi and adds the rows per level
 * into count; fd_level_finish turns the totals into means (in place) and deviations.
 * Calls over consecutive row ranges that start at multiples of fd_level_chunk(all rows)
 * give the bit-identical result of fd_level_deviation on all rows. */
int64_t fd_level_chunk(int64_t n_rows, int64_t n_level_total, int64_t n_codes);
int fd_level_sums(const fd_array *factors, const fd_levels *levels, const fd_array *codes,
                  int64_t chunk,
                  double *total,   /* IN/OUT [L * n_codes] */
                  double *lo,      /* IN/OUT [L * n_codes] */
                  double *hi,      /* IN/OUT [L * n_codes] */
                  int64_t *count,  /* IN/OUT [L] */
                  int64_t *err_col, int n_threads);
void fd_level_finish(int64_t n_level_total, int64_t n_codes, const int64_t *count,
                     double *mean,     /* IN: totals, OUT: means */
                     double *dev,      /* OUT */
                     const double *lo, const double *hi);

/* boosting.c: scikit-learn's GradientBoostingClassifier (log loss, squared-error trees of
 * depth max_depth on the negative gradient, Newton leaf values) from presorted columns.
 * T = n_classes trees per stage (1 for two classes); S = 2^(max_depth+1) - 1 node slots
 * per tree, heap order (children of s: 2s+1, 2s+2).  A fit may be made in several calls
 * (first_stage = the stages done so far, raw carried over): the trees are the same. */
typedef struct {               /* one boosted model of fd_gbt_fit */
    const int32_t *y;          /* IN [n] labels 0 .. n_classes-1 */
    int n_classes;
    uint64_t seed;             /* order in which features are tried (ties) */
    double *raw;               /* IN/OUT [n][T]: initial raw predictions in, final out */
    int32_t *feature;          /* OUT [n_stages * T][S]: split feature, -1 leaf, -2 none */
    double *threshold;         /* OUT [n_stages * T][S] */
    double *value;             /* OUT [n_stages * T][S]: leaf values */
    double *importance;        /* OUT [n_stages * T][d]: impurity decrease / n */
} fd_gbt_model;
int fd_gbt_fit(const float *xs,          /* IN [d][n]: each column sorted ascending */
               const int32_t *order,     /* IN [d][n]: the rows in that order */
               int64_t n, int64_t d,
               fd_gbt_model *models,     /* the models fitted on these rows, side by side */
               int n_models,
               int first_stage,          /* stages first_stage .. + n_stages - 1 of a fit */
               int n_stages, double learning_rate, int max_depth, int n_threads);
int fd_gbt_predict(const float *x,       /* IN [m][d] */
                   int64_t m, int64_t d, int n_trees, int T, int max_depth,
                   const int32_t *feature, const double *threshold, const double *value,
                   double learning_rate,
                   double *raw,          /* IN/OUT [m][T]: initial raw predictions in */
                   int n_threads);

/* sampling.c: rows grouped by each wanted factor alone, all of them in the same passes.
 * fd_level_counts adds to counts[level_off[c] + level] the rows of each level of each
 * wanted factor c (levels of different factors must not share an entry) and writes the
 * levels to codes [n_rows][wanted factors] (uint8, or int32 with wide).  The caller turns
 * the counts into group offsets (next = each group's first position in its perm);
 * fd_group_scatter then writes rows row0 .. row0 + n - 1 (a chunk of the rows, chunks
 * in order; codes, level_off and n_levels of that chunk and of the wanted factors) to
 * perm[i][next[...]++]: stable counting sorts, the same groups as
 * fd_factor_keys + fd_group_rows by one factor, whatever n_threads. */
int fd_level_counts(const fd_array *factors, const fd_levels *levels,
                    const uint8_t *want,          /* [n_factors]: 1 = group by it */
                    const int64_t *level_off,     /* [n_factors] */
                    int64_t n_total,              /* entries of counts */
                    int wide, void *codes,        /* OUT [n_rows][wanted] */
                    int64_t *counts,              /* IN/OUT [n_total] */
                    int64_t *err_col, int n_threads);
int fd_group_scatter(const void *codes, int wide, int64_t n, int64_t n_wanted,
                     const int64_t *level_off,     /* [n_wanted] */
                     const int64_t *n_levels,      /* [n_wanted] */
                     int64_t n_total,
                     int64_t row0,                 /* index of the chunk's first row */
                     int64_t *next,                /* IN/OUT [n_total] */
                     int64_t *const *perm,         /* OUT [n_wanted] arrays of perm_len */
                     int64_t perm_len, int n_threads);
/* logistic.c: scikit-learn's LogisticRegression model (L2 penalty C, intercept unpenalised,
 * row weights class_weight[y]) fitted to the exact optimum by Newton's method: binary (T = 1,
 * labels 0/1, class 1 positive) or multinomial (T = n_classes, symmetric parametrisation,
 * intercepts summing to 0).  coef [T][d + 1] (intercept last) is the start and the result.
 * A fit may take several calls of at most max_steps Newton iterations each: state
 * [fd_logistic_state_size] carries the pass at coef from one call to the next (state[0] = 0
 * before the first; or 2 with state[3 + P ..] holding a [P][P] Hessian to start from, P =
 * T (d + 1), e.g. a subsample's fit's: the first steps use it while they shrink fast), so the iterates do not depend on how the calls were cut, nor on the
 * number of threads.  *n_iter counts the iterations (start it at 0); *status is 0 (call
 * again), 1 (converged: a Newton step below tol * max(1, max |coef|), or a decrease at
 * rounding level), 2 (max_iter reached) or 3 (no decrease found along the Newton step). */
int64_t fd_logistic_state_size(int64_t d, int n_classes, int multinomial);
int fd_logistic_fit(const double *x,            /* IN [d][n]: the features column by column */
                    const int32_t *y,           /* IN [n] labels 0 .. n_classes - 1 */
                    const double *class_weight, /* IN [n_classes] */
                    int64_t n, int64_t d, int n_classes, int multinomial, double C,
                    double tol, int max_iter, int max_steps,
                    double *coef,               /* IN/OUT [T][d + 1] */
                    double *state,              /* IN/OUT */
                    int *n_iter, int *status, int n_threads);
/* logistic.c: twice the Mann-Whitney U (ROC-AUC times n_pos n_neg, ties one half) of the
 * sorted finite scores of positives pos [n_pos] over negatives neg [n_neg]. */
int64_t fd_twice_mann_whitney(const double *pos, int64_t n_pos, const double *neg, int64_t n_neg);

/* lasso.c: DCI's cross-validated Lasso from moments.  A moments record of p variables is
 * [count, mean[p], comoment[p][p]] (centred, full, symmetric): FD_MOMENTS(p) doubles. */
#define FD_MOMENTS(p) (1 + (p) + (p) * (p))
/* Rows per chunk for fd_fold_moments on m rows (calls must start at multiples of it). */
int64_t fd_moment_chunk(int64_t m, int64_t n_groups, int64_t p);
/* Per group, the moments of the p = d + k variables (codes' d columns, then targets' k) of
 * rows rows[0 .. m) (NULL: 0 .. m-1), row r in group group[r]; each value is
 * ((x * u1[v]) * u2[v]) * scale[v] + offset[v] - shift[v] (the means are of those: add
 * shift back; a typical value as shift keeps the precision of far-off columns).  Merged into moments chunk by chunk in
 * order, so calls over consecutive ranges starting at multiples of `chunk` (from
 * fd_moment_chunk of all rows) give the result of one call on all rows, for any n_threads.
 * A row or group out of range is FD_ERR_ARGUMENT. */
int fd_fold_moments(const fd_array *codes,      /* float32 / float64 */
                    const fd_array *targets,    /* any dtype, same rows */
                    const int64_t *rows, const int32_t *group, int64_t m, int64_t n_groups,
                    const double *u1, const double *u2, const double *scale,
                    const double *offset, const double *shift, /* [p] */
                    int64_t chunk,
                    double *moments,            /* IN/OUT [n_groups][FD_MOMENTS(p)] */
                    int n_threads);
/* acc = acc merged with b (pairwise update); scratch [p]. */
void fd_moments_merge(double *acc, const double *b, int64_t p, double *scratch);
/* scikit-learn's Lasso (objective 1/(2n) |y - Xw - b|^2 + alpha |w|_1, its coordinate
 * descent, screening and duality-gap stop with tol * |y - mean y|^2) of target variable t
 * (d <= t < p) on codes 0 .. d-1, from the record's moments; w holds the start (zeros for
 * scikit-learn's) and the result.  Converged when *gap <= *gap_tol. */
int fd_lasso_fit(const double *rec, int64_t p, int64_t d, int64_t t, double alpha,
                 int max_iter, double tol,
                 double *w,             /* IN/OUT [d] */
                 double *intercept, double *gap, double *gap_tol, int *n_iter);
/* The intercept mean_t - mean_x . w, and the mean squared error of (w, intercept) on the
 * rows of a record. */
double fd_lasso_intercept(const double *rec, int64_t p, int64_t d, int64_t t, const double *w);
double fd_lasso_mse(const double *rec, int64_t p, int64_t d, int64_t t, const double *w,
                    double intercept);
/* Cross-validation: for each alpha a and fold f, the Lasso fitted from zero on the other
 * folds' moments (merged in fold order), scored on fold f. */
int fd_lasso_cv(const double *moments,  /* [n_folds][FD_MOMENTS(p)] */
                int64_t n_folds, int64_t p, int64_t d, int64_t t, const double *alphas,
                int64_t n_alphas, int max_iter, double tol,
                double *mse,            /* OUT [n_alphas][n_folds] */
                int32_t *n_iter,        /* OUT [n_alphas][n_folds] */
                double *excess,         /* OUT [n_alphas][n_folds]: gap - tolerance (> 0: not converged) */
                int n_threads);

/* svm.c: SAP's classification scores, scores[k][j] = held-out accuracy of
 * LinearSVC(C, class_weight="balanced") (squared hinge, L2 penalty on weight and bias) fitted
 * on code j alone to predict factor k, each problem solved exactly.  Labels in
 * [0, n_classes[k]); a factor with one class on the training rows scores 0. */
int fd_sap_svm(const double *x_train,   /* IN [n_codes][n_train], finite */
               const double *x_test,    /* IN [n_codes][n_test] */
               const int64_t *y_train,  /* IN [n_factors][n_train] */
               const int64_t *y_test,   /* IN [n_factors][n_test] */
               const int64_t *n_classes,/* IN [n_factors] */
               int64_t n_factors, int64_t n_codes, int64_t n_train, int64_t n_test,
               double C,
               double *scores,          /* OUT [n_factors][n_codes] */
               int n_threads);
/* correlation.c: SAP's regression moments.  With f = x 2^-ef[c] - f0[c] for factor column c
 * and z = x 2^-ez[j] - z0[j] for code j, adds to sums (IN/OUT) the row sums
 * [sf (k), sff (k), sz (d), szz (d), sfz (k x d)] of f, f^2, z, z^2 and f z, summed in
 * blocks of 1024 rows added in order: calls over consecutive row ranges starting at
 * multiples of 1024 give the sums of one call.  Factors of any integer or float dtype. */
int fd_cross_moments(const fd_array *factors, const fd_array *codes,
                     const int64_t *ef,   /* [k] */
                     const int64_t *ez,   /* [d] */
                     const double *f0,    /* [k] */
                     const double *z0,    /* [d] */
                     double *sums,        /* IN/OUT [2k + 2d + k d] */
                     int n_threads);
/* moments.c: per level of every factor and code (cell = level * n_codes + code), numpy's
 * q-quantile (0 <= q < 1) of |z - mean[cell]| over the rows at that level, in one pass:
 * values below lo[cell] are counted, values in [lo, hi] kept, and the order statistics
 * selected among those kept.  ok[cell] = 0 where the thresholds left them out (dev not
 * written: compute it another way); a level without rows gives NaN.  count: rows per level. */
int fd_level_quantile(const fd_array *factors, const fd_levels *levels, const fd_array *codes,
                      const double *mean,     /* [L * n_codes] */
                      const int64_t *count,   /* [L] */
                      const double *lo, const double *hi,  /* [L * n_codes] */
                      double q,
                      double *dev,            /* OUT [L * n_codes] */
                      uint8_t *ok,            /* OUT [L * n_codes] */
                      int64_t *err_col, int n_threads);
/* forest.c: scikit-learn's RandomForestRegressor trees (squared error, max_features codes
 * drawn per node, bootstrap counts as weights, min_samples_leaf 1) from presorted columns,
 * with fastdis's random stream (keyed by tree).  Tree t's nodes sit at [t * cap, t * cap +
 * n_nodes[t]), cap = 2n - 1, numbered level by level (children -1 at a leaf); a depth cap
 * at prediction gives the tree max_depth would grow from the same draws. */
int fd_forest_fit(const float *xs,        /* IN [d][n]: each column sorted ascending */
                  const int32_t *order,   /* IN [d][n]: the rows in that order */
                  const double *y,        /* IN [n] */
                  int64_t n, int64_t d, int n_trees, int max_features, int max_depth,
                  int bootstrap, uint64_t seed,
                  int32_t *feature,       /* OUT [n_trees][cap]: split code, -1 at a leaf */
                  double *threshold,      /* OUT [n_trees][cap] */
                  int32_t *left, int32_t *right, /* OUT [n_trees][cap]: children, -1 at a leaf */
                  double *value,          /* OUT [n_trees][cap]: weighted mean of y */
                  int64_t *n_nodes,       /* OUT [n_trees] */
                  double *importance,     /* OUT [n_trees][d]: impurity decrease / weight */
                  int n_threads);
int fd_forest_predict(const float *x,     /* IN [m][d] */
                      int64_t m, int64_t d, int n_trees, int64_t cap,
                      const int32_t *feature, const double *threshold, const int32_t *left,
                      const int32_t *right, const double *value,
                      const int32_t *depths, /* IN [n_depths], ascending: walks this deep */
                      int n_depths,
                      double *out,        /* OUT [n_depths][m]: the means over the trees */
                      int n_threads);

/* posterior_sampling.c: Do & Tran's Monte-Carlo estimator over an aggregate posterior
 * q(z) = (1/N) sum_n N(mu_n, diag std_n^2).  Rows come codes-major and padded to np (a
 * multiple of 8) rows: mu_t, istd_t (1/std), nlog_t (-log std) [d][np], labels_t [k][np]
 * (dense levels, -1 in padded rows); gmax[i] = max over the n real rows of nlog_t[i].  For
 * sample s (row rows[s], point z[s][d]) writes the log mixture densities (see the file):
 * out_code [m][d], out_joint [m], out_others [m][d], out_factor [m][k][d] and, with pairs,
 * out_pairs [m][d (d - 1) / 2] (i < j, row-major).  fast = 0 forces the exact log-domain
 * path for every sample; *n_slow counts the samples that took it.  Results do not depend
 * on n_threads. */
int fd_posterior_sample_logs(const double *mu_t, const double *istd_t, const double *nlog_t,
                             const int32_t *labels_t, int64_t n, int64_t np, int64_t d, int64_t k,
                             const double *gmax, const int64_t *rows, const double *z, int64_t m,
                             int pairs, int fast, double *out_code, double *out_joint,
                             double *out_others, double *out_factor, double *out_pairs,
                             int64_t *n_slow, int n_threads);
/* Draws s0 .. s0 + m - 1 of generator seed: rows[s] uniform in [0, n), eps [m][d] standard
 * normal; draw s depends on (seed, s) only. */
int fd_posterior_draw(uint64_t seed, int64_t s0, int64_t m, int64_t n, int64_t d, int64_t *rows,
                      double *eps);
/* posterior_quantized.c: Do & Tran's probabilistic quantisation of the posteriors
 * N(mu[r][i], std[r][i]^2) (row-major n x d) on equal-width bins edges[0 .. nb]
 * (numpy.linspace's; other increasing edges give wrong windows, never out-of-bounds).
 * mode 0: exact normal masses (edge bins open-ended, +-8 std window), plug-in row entropy;
 * mode 1: the authors' centre density x width, renormalised, one-hot fallback, log(max(p,
 * 1e-8)).  Adds into tables [d][1 + n_levels][nb] (row 0: sum over rows of the masses; row
 * 1 + l: over the rows whose labels[r][c] == l for some factor c; labels row-major n x k,
 * global level indices in [0, n_levels)), row_entropy [d] (sum of the row entropies) and
 * n_fallback [d].  Fixed chunks of rows merged in order: the same for any thread count,
 * and for calls splitting the rows at multiples of 16384. */
int fd_quantized_tables(const double *mu, const double *std, int64_t n, int64_t d,
                        const int32_t *labels, int64_t k, int64_t n_levels,
                        const double *edges, int64_t nb, int mode,
                        double *tables,          /* IN/OUT [d][1 + n_levels][nb] */
                        double *row_entropy,     /* IN/OUT [d] */
                        int64_t *n_fallback,     /* IN/OUT [d] */
                        int n_threads);
/* Adds sum_r Q_r,i (outer) Q_r,j (exact masses, mode 0) into out [d (d - 1) / 2][nb][nb],
 * pairs i < j in row-major order; each pair's rows in order (thread-count independent). */
int fd_quantized_pairs(const double *mu, const double *std, int64_t n, int64_t d,
                       const double *edges, int64_t nb, double *out, int n_threads);
/* Tests: out[j] = Phi(-|t[j]|) and log(x[j]) by the kernel's vectorisable formulas. */
void fd_normal_tails(const double *t, int64_t n, double *out);
void fd_logs(const double *x, int64_t n, double *out);

/* legacy_random.c: steps i = hi - 1 down to lo (lo >= 1) of numpy's legacy shuffle of data
 * (RandomState.shuffle / permutation: swap data[i] with data[random_interval(i)]), from and
 * into the MT19937 state key [624] and pos (RandomState.get_state()'s); calls over
 * consecutive ranges make one shuffle. */
int fd_legacy_shuffle(uint32_t *key, int *pos, int64_t *data, int64_t hi, int64_t lo);

/* legacy_random.c: permutations by numpy's legacy shuffle (RandomState.permutation), run in
 * pieces.  A job permutes 0..n-1 in data [n] (0..n-1 before its first step), steps
 * top, top - 1, ..., 1 (top = n - 1 at the start; done when top < 1), from and into the
 * MT19937 state key [624] and pos (RandomState.get_state()'s); only data[0..keep) are
 * exact at the end (the entries above are not kept: steps past keep only move rows down). */
typedef struct {
    uint32_t *key;
    int pos;
    int32_t *data;
    int64_t n, keep, top;
} fd_legacy_job;
/* Up to `steps` steps of each job (a or b may be NULL or done), side by side on two threads
 * when n_threads allows (the jobs must not share key or data). */
int fd_legacy_jobs(fd_legacy_job *a, fd_legacy_job *b, int64_t steps, int n_threads);

/* sampling_batches.c: fd_sample_batches_sets, and the range of the values it read: ranges[j]
 * and ranges[d + j] the smallest and largest value of column j in the rows of every batch
 * (NaN where a batch's reduction of column j is NaN: a NaN, or infinities, read). */
int fd_sample_batches_ranges(const fd_array *codes, const fd_groups *sets, int64_t n_sets,
                             const int64_t *set_of, int mode, int64_t batch_size,
                             uint64_t seed, const int64_t *batch_ids, int64_t n_batches,
                             double *out,           /* OUT [n_batches * n_codes] */
                             double *ranges,        /* OUT [2 * n_codes] */
                             int n_threads);
/* The draws of fd_sample_batches_sets alone: each batch's positions in its set's perm
 * (perm may be NULL), into pos[b * draws ..], draws = batch_size (FD_BATCH_VARIANCE) or
 * 2 * batch_size (pairs: first rows, then second rows); positions below n_rows. */
int fd_sample_positions(int64_t n_rows, const fd_groups *sets, int64_t n_sets,
                        const int64_t *set_of, int mode, int64_t batch_size, uint64_t seed,
                        const int64_t *batch_ids, int64_t n_batches,
                        int64_t *pos,               /* OUT [n_batches * draws] */
                        int n_threads);
/* sampling_rows.c: batches of given rows (rows NULL: batch b's rows are b * draws ..)
 * reduced as fd_sample_batches reduces them; ranges as fd_sample_batches_ranges, or NULL. */
int fd_reduce_rows(const fd_array *codes, int mode, int64_t batch_size, const int64_t *rows,
                   int64_t n_batches, double *out, double *ranges, int n_threads);

#ifdef __cplusplus
}
#endif

#endif
