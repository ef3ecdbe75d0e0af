/* Z-diff's pair draws eight pairs at a time (AVX-512), for sampling_batches.c. */
#ifndef FASTDIS_PAIRS_AVX512_H
#define FASTDIS_PAIRS_AVX512_H

#include <stdint.h>

/* The eligible groups of one grouping, as the vector draws read them: group e's rows are
 * perm[lo[e] .. lo[e] + m[e]); inv[4e .. 4e + 3] = 1 / m, 4096 / m, 1 / m2, 4096 / m2 with
 * m2 the second row's divisor (m - 1, or m with replacement). */
typedef struct {
    const int64_t *lo, *m;
    const double *inv;
    int64_t n_groups;
    int replace;
} fd_pair_groups;

/* 1 where the CPU (and fd_set_simd / fd_set_avx512) lets fd_pairs_x8 run. */
int fd_pairs_x8_available(void);

/* The first pairs of a batch, eight at a time: the positions fd_pairs_positions draws
 * from the stream whose state is s0 (pair i from the draws 3i + 1 .. 3i + 3), pos[i] and
 * pos[L + i], perm[pos] of each fetched ahead.  Returns how many pairs it drew (a multiple
 * of 8), or -1 if one of those draws fell in fd_draw_by's rejection zone (x < m): the
 * caller then draws the batch the scalar way. */
int64_t fd_pairs_x8(uint64_t s0, const fd_pair_groups *pg, int64_t L, int64_t *pos,
                    const int64_t *perm);

#endif
