/* Private helpers shared by the kernels: element loads and the bin search. */
#ifndef FASTDIS_COMMON_H
#define FASTDIS_COMMON_H

#include <math.h>
#include <stdint.h>

#include "fastdis.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* Bin labels must equal numpy's: no contraction of x*scale+offset into an FMA. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

/* Rows handled per block: per-thread scratch stays in L1/L2. */
#define FD_BLOCK 256

static inline double fd_load_float(const void *base, int dtype, int64_t idx)
{
    return dtype == FD_FLOAT32 ? (double)((const float *)base)[idx]
                               : ((const double *)base)[idx];
}

static inline int64_t fd_load_int(const void *base, int dtype, int64_t idx)
{
    switch (dtype) {
    case FD_INT8: return ((const int8_t *)base)[idx];
    case FD_INT16: return ((const int16_t *)base)[idx];
    case FD_INT32: return ((const int32_t *)base)[idx];
    case FD_INT64: return ((const int64_t *)base)[idx];
    case FD_UINT8: return ((const uint8_t *)base)[idx];
    case FD_UINT16: return ((const uint16_t *)base)[idx];
    case FD_UINT32: return ((const uint32_t *)base)[idx];
    default: return (int64_t)((const uint64_t *)base)[idx]; /* caller guarantees < 2^63 */
    }
}

/* Label of t among edges e[0..nb] (np.digitize(t, e[:-1]) - 1, clamped to [0, nb-1]).
 * `inv_w` = nb / (e[nb] - e[0]) when the edges are uniform, else 0 (binary search). */
static inline int fd_bin(double t, const double *e, int nb, double inv_w)
{
    int b;
    if (inv_w > 0.0) {
        double g = (t - e[0]) * inv_w;
        b = g <= 0.0 ? 0 : (g >= (double)(nb - 1) ? nb - 1 : (int)g);
        /* the guess is off by at most one ulp-induced step: fix it on the exact edges */
        while (b > 0 && t < e[b]) b--;
        while (b < nb - 1 && t >= e[b + 1]) b++;
        return b;
    } else {
        int lo = 0, hi = nb - 1; /* find the last b in [0, nb-1] with e[b] <= t (b = 0 if none) */
        while (lo < hi) {
            int mid = (lo + hi + 1) >> 1;
            if (e[mid] <= t) lo = mid; else hi = mid - 1;
        }
        return lo;
    }
}

static inline double fd_inv_width(const fd_binning *bins, int64_t j)
{
    const double *e = bins->edges + j * (bins->n_bins + 1);
    double w = e[bins->n_bins] - e[0];
    return (bins->uniform && w > 0.0) ? (double)bins->n_bins / w : 0.0;
}

/* Bin one block of rows of code column j into out[r * out_stride].
 * Returns FD_OK or the error found first. */
static inline int fd_bin_block(const fd_array *codes, const fd_binning *bins, int64_t j,
                               int64_t r0, int64_t nr, uint16_t *out, int64_t out_stride,
                               uint16_t add)
{
    const int nb = bins->n_bins;
    const double *e = bins->edges + j * (nb + 1);
    const double sc = bins->scale[j], off = bins->offset[j];
    const double inv_w = fd_inv_width(bins, j);
    const double lo = e[0], hi = e[nb];
    int64_t base = r0 * codes->row_stride + j * codes->col_stride;
    int err = FD_OK;
    for (int64_t r = 0; r < nr; r++, base += codes->row_stride) {
        double x = fd_load_float(codes->data, codes->dtype, base);
        double t;
        if (!isfinite(x)) { err = FD_ERR_NONFINITE; x = 0.0; }
        t = x * sc;
        t = t + off;
        if (bins->check_range && !(t >= lo && t <= hi)) err = err ? err : FD_ERR_OUT_OF_RANGE;
        out[r * out_stride] = (uint16_t)(add + fd_bin(t, e, nb, inv_w));
    }
    return err;
}

#endif
