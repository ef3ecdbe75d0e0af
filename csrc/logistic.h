/* The pass over the rows of the logistic regression (csrc/logistic_pass.c), which the
 * Newton iterations of csrc/logistic.c call: the problem, and F, G and H at a point. */
#ifndef FD_LOGISTIC_H
#define FD_LOGISTIC_H

#include <stdint.h>

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
static inline int64_t fd_logit_chunk(int64_t n, int64_t A)
{
    int64_t chunk = 1024;
    while ((n + chunk - 1) / chunk * A > ((int64_t)1 << 21) && chunk < n) chunk <<= 1;
    return chunk;
}

/* F, gradient G [P] and (with `hessian`) the full symmetric Hessian H [P][P] at w; chunks:
 * n_chunks * A + T * Q doubles of scratch; nt threads.  FD_OK or FD_ERR_NOMEM. */
int fd_logit_pass(const fd_logit *pb, const double *w, int hessian, double *F, double *G,
                  double *H, double *chunks, int nt);

#endif
