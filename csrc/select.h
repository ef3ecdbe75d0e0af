/* Exact quantiles by selection: numpy's default np.quantile of an array of doubles in
 * O(n) average time (no sort), for the per-group deviations of IRS. */
#ifndef FASTDIS_SELECT_H
#define FASTDIS_SELECT_H

#include <stdlib.h>

/* common.h turns floating-point contraction off: the interpolation below must round as
 * numpy's (no FMA) */
#include "common.h"

/* Ranges longer than this pick their pivot by selecting within a slice first. */
#define FD_SELECT_SAMPLE 600

static int fd_cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static inline void fd_swap(double *a, double *b) { const double t = *a; *a = *b; *b = t; }

/* Reorder v[left..right] (no NaN) so that v[k] is the value it would hold sorted, with
 * v[i] <= v[k] before it and v[i] >= v[k] after it: Floyd & Rivest's SELECT (CACM 1975,
 * algorithm 489).  Each round first selects within a slice of about n^(2/3) values around
 * k, so that the pivot lands next to the wanted rank and one partition leaves few values;
 * after 2 log2(n) + 4 rounds the rest is sorted instead (introselect's guard), so the
 * work is O(n) on average and O(n log n) at worst.  Deterministic: no random pivots. */
static void fd_select(double *v, int64_t left, int64_t right, int64_t k)
{
    int budget = 4;
    for (int64_t s = right - left + 1; s > 1; s >>= 1) budget += 2;
    while (right > left) {
        int64_t i = left, j = right;
        double t;
        if (budget-- == 0) {
            qsort(v + left, (size_t)(right - left + 1), sizeof(double), fd_cmp_double);
            return;
        }
        if (right - left > FD_SELECT_SAMPLE) {
            const double n = (double)(right - left + 1), r = (double)(k - left + 1);
            const double z = log(n), s = 0.5 * exp(2.0 * z / 3.0);
            const double sd = 0.5 * sqrt(z * s * (n - s) / n) * (r < n / 2 ? -1.0 : 1.0);
            const int64_t lo = (int64_t)floor((double)k - r * s / n + sd);
            const int64_t hi = (int64_t)floor((double)k + (n - r) * s / n + sd);
            fd_select(v, lo > left ? lo : left, hi < right ? hi : right, k);
        }
        /* partition around t = v[k]; v[left] <= t <= v[right] stop both scans */
        t = v[k];
        fd_swap(v + left, v + k);
        if (v[right] > t) fd_swap(v + right, v + left);
        while (i < j) {
            fd_swap(v + i, v + j);
            i++; j--;
            while (v[i] < t) i++;
            while (v[j] > t) j--;
        }
        if (v[left] == t) fd_swap(v + left, v + j);
        else { j++; fd_swap(v + j, v + right); }
        /* v[left..j-1] <= t = v[j] <= v[j+1..right] */
        if (j <= k) left = j + 1;
        if (k <= j) right = j - 1;
    }
}

/* numpy's default np.quantile(v[0..m), q), 0 <= q < 1, m >= 1, exactly: the order
 * statistics at floor((m - 1) q) and the next, and its _lerp (from the upper one when the
 * weight is >= 0.5); any NaN gives NaN, as numpy's.  v is reordered. */
static inline double fd_quantile(double *v, int64_t m, double q)
{
    const double pos = (double)(m - 1) * q, below = floor(pos), gamma = pos - below;
    int64_t k;
    double a, b, diff;
    for (int64_t i = 0; i < m; i++)
        if (v[i] != v[i]) return NAN;
    if (pos >= (double)(m - 1)) { /* numpy takes the largest value */
        double top = v[0];
        for (int64_t i = 1; i < m; i++) top = v[i] > top ? v[i] : top;
        return top;
    }
    k = (int64_t)below;
    fd_select(v, 0, m - 1, k);
    a = v[k];
    b = v[k + 1]; /* the next order statistic: the smallest value above position k */
    for (int64_t i = k + 2; i < m; i++) b = v[i] < b ? v[i] : b;
    diff = b - a;
    return gamma >= 0.5 ? b - diff * (1.0 - gamma) : a + diff * gamma;
}

#endif
