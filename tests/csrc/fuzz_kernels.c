/* Fuzz the C kernels directly, for AddressSanitizer / UndefinedBehaviorSanitizer / valgrind.
 *
 *   bash tests/csrc/run_sanitizers.sh        (builds with -fsanitize=address,undefined)
 *
 * Random shapes, dtypes, strides (negative included), bins, edges (duplicated included),
 * values (NaN, inf, huge) and level tables (with holes); every call must stay in bounds,
 * and whenever a kernel reports success its output is checked against a naive reference. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastdis.h"

static uint64_t rng_state = 88172645463325252ULL;
static uint64_t rnd(void) { rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17; return rng_state; }
static int64_t rint_(int64_t lo, int64_t hi) { return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1)); }
static double runif(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }

static double special_value(void)
{
    switch (rint_(0, 9)) {
    case 0: return NAN;
    case 1: return INFINITY;
    case 2: return -INFINITY;
    case 3: return 1e308;
    case 4: return -1e-310;
    default: return (runif() - 0.5) * pow(10.0, (double)rint_(-5, 5));
    }
}

/* A strided matrix inside a bigger buffer: row stride may be negative. */
typedef struct { void *buf; fd_array a; } holder;

static holder make_matrix(int64_t n, int64_t d, int dtype, int allow_special)
{
    holder h;
    size_t item = (dtype == FD_FLOAT32 || dtype == FD_INT32 || dtype == FD_UINT32) ? 4 :
                  (dtype == FD_INT16 || dtype == FD_UINT16) ? 2 :
                  (dtype == FD_INT8 || dtype == FD_UINT8) ? 1 : 8;
    int64_t pad = rint_(0, 2), layout = rint_(0, 2);
    int64_t rs, cs, total, first;
    if (layout == 0) { rs = d + pad; cs = 1; }          /* C order, maybe padded */
    else if (layout == 1) { rs = 1; cs = n + pad; }     /* F order */
    else { rs = -(d + pad); cs = 1; }                   /* reversed rows */
    total = (n > 0 ? n : 1) * (d + pad) + (n + pad) * d + 1;
    h.buf = malloc(total * item);
    first = rs < 0 ? (n - 1) * (-rs) : 0;
    for (int64_t i = 0; i < total; i++) {
        double v = allow_special && rint_(0, 50) == 0 ? special_value() : (runif() - 0.3) * 10;
        switch (dtype) {
        case FD_FLOAT32: ((float *)h.buf)[i] = (float)v; break;
        case FD_FLOAT64: ((double *)h.buf)[i] = v; break;
        case FD_INT8: ((int8_t *)h.buf)[i] = (int8_t)rint_(-3, 12); break;
        case FD_UINT8: ((uint8_t *)h.buf)[i] = (uint8_t)rint_(0, 255); break;
        case FD_INT16: ((int16_t *)h.buf)[i] = (int16_t)rint_(-300, 300); break;
        case FD_UINT16: ((uint16_t *)h.buf)[i] = (uint16_t)rint_(0, 2000); break;
        case FD_INT32: ((int32_t *)h.buf)[i] = (int32_t)rint_(-5, 40); break;
        case FD_UINT32: ((uint32_t *)h.buf)[i] = (uint32_t)rint_(0, 40); break;
        default: ((int64_t *)h.buf)[i] = rint_(-2, 1100); break;
        }
    }
    h.a.data = (char *)h.buf + first * (int64_t)item;
    h.a.n_rows = n; h.a.n_cols = d; h.a.row_stride = rs; h.a.col_stride = cs; h.a.dtype = dtype;
    return h;
}

static double load_f(const fd_array *a, int64_t i, int64_t j)
{
    int64_t idx = i * a->row_stride + j * a->col_stride;
    return a->dtype == FD_FLOAT32 ? (double)((const float *)a->data)[idx] : ((const double *)a->data)[idx];
}

static int naive_bin(double t, const double *e, int nb)
{
    int b = 0;
    for (int i = 1; i < nb; i++) if (e[i] <= t) b = i;
    return b;
}

int main(int argc, char **argv)
{
    int iters = argc > 1 ? atoi(argv[1]) : 3000, checked = 0;
    for (int it = 0; it < iters; it++) {
        int64_t n = rint_(0, 700), d = rint_(1, 5), k = rint_(1, 4);
        int nb = (int)rint_(1, 300), nt = (int)rint_(1, 3);
        int cdtype = rint_(0, 1) ? FD_FLOAT64 : FD_FLOAT32;
        int fdtype = (int)rint_(FD_INT8, FD_UINT32) == FD_UINT64 ? FD_INT64 : (int)rint_(FD_INT8, FD_UINT32);
        holder codes = make_matrix(n, d, cdtype, 1), factors = make_matrix(n, k, fdtype, 0);
        double *edges = malloc(sizeof(double) * d * (nb + 1)), *sc = malloc(sizeof(double) * d),
               *tol = malloc(sizeof(double) * d),
               *off = malloc(sizeof(double) * d), *mins = malloc(sizeof(double) * d),
               *maxs = malloc(sizeof(double) * d);
        int64_t err = -1;
        fd_binning bins;
        int uniform = (int)rint_(0, 1);
        for (int64_t j = 0; j < d; j++) {
            double lo = (runif() - 0.5) * pow(10, (double)rint_(-3, 9)), w = pow(10, (double)rint_(-12, 3));
            for (int i = 0; i <= nb; i++)
                edges[j * (nb + 1) + i] = uniform ? lo + i * (w / nb) : lo + w * runif();
            if (uniform && rint_(0, 2) == 0) /* float32 edges: off an exact grid by ~1e-7 */
                for (int i = 0; i <= nb; i++) edges[j * (nb + 1) + i] = (float)edges[j * (nb + 1) + i];
            if (!uniform) { /* sort: random, possibly duplicated edges */
                double *e = edges + j * (nb + 1);
                for (int i = 1; i <= nb; i++) for (int m = i; m > 0 && e[m] < e[m - 1]; m--) { double t = e[m]; e[m] = e[m - 1]; e[m - 1] = t; }
            }
            { /* the tolerance contract of fd_binning, computed as fastdis/_discretize.py does */
                const double *e = edges + j * (nb + 1);
                double w = e[nb] - e[0], iw = nb / w, dev = 0.0, big = fmax(fabs(e[0]), fabs(e[nb]));
                for (int i = 0; i <= nb; i++) dev = fmax(dev, fabs(e[i] - (e[0] + i * (w / nb))) * iw);
                tol[j] = ldexp(big * iw + nb, -40) + 2.0 * dev;
                if (!isfinite(tol[j]) || !(iw > 0)) tol[j] = 1.0;
            }
            sc[j] = rint_(0, 3) ? 1.0 : runif() * 3;
            off[j] = rint_(0, 3) ? 0.0 : runif() - 0.5;
        }
        bins.n_bins = nb; bins.edges = edges; bins.scale = sc; bins.offset = off; bins.tol = tol;
        bins.uniform = uniform; bins.check_range = (int)rint_(0, 1);

        fd_code_minmax(&codes.a, mins, maxs, &err, nt);

        /* discretize, uint16 output; compared with the naive bin when all values finite */
        {
            uint16_t *out = malloc(sizeof(uint16_t) * (n * d + 1));
            int st = fd_discretize(&codes.a, &bins, out, 2, &err, nt);
            if (st == FD_OK) {
                for (int64_t i = 0; i < n; i++) for (int64_t j = 0; j < d; j++) {
                    double t = load_f(&codes.a, i, j) * sc[j];
                    t = t + off[j];
                    if (isfinite(t) && out[i * d + j] != naive_bin(t, edges + j * (nb + 1), nb)) {
                        fprintf(stderr, "iter %d: label mismatch at (%lld, %lld)\n", it, (long long)i, (long long)j);
                        return 1;
                    }
                }
                checked++;
            }
            free(out);
        }

        /* level tables with holes, joint histogram with every table */
        {
            int64_t *vmin = malloc(sizeof(int64_t) * k), *loff = malloc(sizeof(int64_t) * k),
                    *llen = malloc(sizeof(int64_t) * k), *nlev = malloc(sizeof(int64_t) * k),
                    *imin = malloc(sizeof(int64_t) * k), *imax = malloc(sizeof(int64_t) * k);
            int64_t total = 0, L = 0;
            int32_t *lut;
            uint8_t *marks = malloc(k * 64 + 1);
            fd_int_scan(&factors.a, imin, imax, marks, 64, nt);
            for (int64_t c = 0; c < k; c++) {
                vmin[c] = rint_(-5, 5); llen[c] = rint_(1, 60); loff[c] = total; total += llen[c];
            }
            lut = malloc(sizeof(int32_t) * total);
            for (int64_t c = 0; c < k; c++) {
                int32_t next = 0;
                for (int64_t v = 0; v < llen[c]; v++) lut[loff[c] + v] = rint_(0, 4) ? next++ : -1;
                nlev[c] = next > 0 ? next : 1;
                L += nlev[c];
            }
            {
                uint8_t *mk = calloc(total + 1, 1);
                fd_mark_values(&factors.a, vmin, loff, llen, mk, nt);
                free(mk);
            }
            {
                fd_levels lv = {lut, loff, llen, vmin, nlev};
                int64_t fc_n = L * d * nb, cc_n = d * d * nb * nb, ff_n = L * L;
                int want_cc = (int)rint_(0, 1), want_ff = (int)rint_(0, 1);
                int64_t *fc = calloc(fc_n, sizeof(int64_t)), *cc = want_cc ? calloc(cc_n, sizeof(int64_t)) : NULL,
                        *ff = want_ff ? calloc(ff_n, sizeof(int64_t)) : NULL;
                int st = fd_joint_histogram(&factors.a, &lv, &codes.a, &bins, fc, cc, ff, &err, nt);
                if (st == FD_OK) {
                    int64_t s = 0;
                    for (int64_t i = 0; i < fc_n; i++) s += fc[i];
                    if (s != n * k * d) { fprintf(stderr, "iter %d: fc total %lld != %lld\n", it, (long long)s, (long long)(n * k * d)); return 1; }
                    if (cc) { s = 0; for (int64_t i = 0; i < cc_n; i++) s += cc[i];
                              if (s != n * d * (d - 1) / 2) { fprintf(stderr, "iter %d: cc total\n", it); return 1; } }
                    if (ff) { s = 0; for (int64_t i = 0; i < ff_n; i++) s += ff[i];
                              if (s != n * k * (k - 1) / 2) { fprintf(stderr, "iter %d: ff total\n", it); return 1; } }
                    checked++;
                } else if (err < 0 || err >= d + k) {
                    fprintf(stderr, "iter %d: bad error column %lld\n", it, (long long)err); return 1;
                }
                free(fc); free(cc); free(ff);
            }
            free(vmin); free(loff); free(llen); free(nlev); free(imin); free(imax); free(lut); free(marks);
        }
        /* grouping, batch sampling and group deviations (intervention metrics) */
        if (n > 0 && cdtype == FD_FLOAT64 && !bins.check_range) {
            int64_t n_keys = rint_(1, 50), *keys = malloc(sizeof(int64_t) * n),
                    *offsets = malloc(sizeof(int64_t) * (n_keys + 1)), *perm = malloc(sizeof(int64_t) * n);
            int all_finite = 1;
            for (int64_t i = 0; i < n; i++) keys[i] = rint_(0, n_keys - 1);
            for (int64_t i = 0; i < n && all_finite; i++)
                for (int64_t j = 0; j < d; j++) if (!isfinite(load_f(&codes.a, i, j))) { all_finite = 0; break; }
            if (fd_group_rows(keys, n, n_keys, offsets, perm) != FD_OK) { fprintf(stderr, "group_rows\n"); return 1; }
            for (int64_t gk = 0; gk < n_keys; gk++)
                for (int64_t i = offsets[gk]; i < offsets[gk + 1]; i++)
                    if (keys[perm[i]] != gk) { fprintf(stderr, "iter %d: perm\n", it); return 1; }
            {
                int64_t *groups = malloc(sizeof(int64_t) * n_keys), *cum = malloc(sizeof(int64_t) * (n_keys + 1));
                int64_t ng = 0, nbatch = rint_(1, 40), L = rint_(1, 300);
                int64_t *ids = malloc(sizeof(int64_t) * nbatch);
                double *out = malloc(sizeof(double) * nbatch * d), *mean = malloc(sizeof(double) * n_keys * d),
                       *dev = malloc(sizeof(double) * n_keys * d);
                cum[0] = 0;
                for (int64_t gk = 0; gk < n_keys; gk++)
                    if (offsets[gk + 1] - offsets[gk] >= 2) { groups[ng] = gk; cum[ng + 1] = cum[ng] + offsets[gk + 1] - offsets[gk]; ng++; }
                for (int64_t b = 0; b < nbatch; b++) ids[b] = rint_(0, 1000000);
                if (ng > 0) {
                    fd_groups gs = {offsets, perm, groups, cum, ng, (int)rint_(0, 1), (int)rint_(0, 1)};
                    int mode = (int)rint_(0, 1);
                    if (fd_sample_batches(&codes.a, &gs, mode, L, rnd(), ids, nbatch, out, nt) != FD_OK) {
                        fprintf(stderr, "iter %d: sample_batches\n", it); return 1;
                    }
                    for (int64_t i = 0; i < nbatch * d && all_finite; i++)
                        if (!(out[i] >= 0.0)) { fprintf(stderr, "iter %d: negative reduction\n", it); return 1; }
                }
                if (fd_group_deviation(&codes.a, offsets, perm, n_keys, runif() < 0.5 ? 1.0 : runif(), mean, dev, nt) != FD_OK) {
                    fprintf(stderr, "iter %d: group_deviation\n", it); return 1;
                }
                checked++;
                free(groups); free(cum); free(ids); free(out); free(mean); free(dev);
            }
            free(keys); free(offsets); free(perm);
        }
        /* gradient boosting on quantised values (many ties): every row lands in a stored
         * leaf, and replaying the stored trees gives the kernel's running predictions */
        if (n >= 2) {
            int ncls = (int)rint_(2, 5), depth = (int)rint_(1, 5), stages = (int)rint_(0, 4);
            int T = ncls > 2 ? ncls : 1;
            int64_t S = ((int64_t)2 << depth) - 1;
            float *x = malloc(sizeof(float) * n * d), *xs = malloc(sizeof(float) * n * d);
            int32_t *order = malloc(sizeof(int32_t) * n * d), *y = malloc(sizeof(int32_t) * n);
            int32_t *feat = malloc(sizeof(int32_t) * (stages * T * S + 1));
            double *thr = malloc(sizeof(double) * (stages * T * S + 1)), *val = malloc(sizeof(double) * (stages * T * S + 1));
            double *imp = malloc(sizeof(double) * (stages * T * d + 1));
            double *raw = calloc(n * T, sizeof(double)), *replay = calloc(n * T, sizeof(double));
            for (int64_t i = 0; i < n * d; i++) x[i] = (float)(rint_(0, 1) ? rint_(-3, 3) : runif() * 4 - 2);
            for (int64_t i = 0; i < n; i++) y[i] = (int32_t)(i < ncls ? i % ncls : rint_(0, ncls - 1));
            for (int64_t j = 0; j < d; j++) { /* insertion sort of column j: the presorted input */
                int32_t *o = order + j * n;
                for (int64_t i = 0; i < n; i++) {
                    int64_t m = i;
                    for (; m > 0 && x[o[m - 1] * d + j] > x[i * d + j]; m--) o[m] = o[m - 1];
                    o[m] = (int32_t)i;
                }
                for (int64_t i = 0; i < n; i++) xs[j * n + i] = x[o[i] * d + j];
            }
            if (fd_gbt_fit(x, xs, order, y, n, d, ncls, stages, 0.1, depth, rnd(), raw, feat, thr,
                           val, imp, nt) != FD_OK ||
                fd_gbt_predict(x, n, d, stages * T, T, depth, feat, thr, val, 0.1, replay, nt) != FD_OK) {
                fprintf(stderr, "iter %d: gbt\n", it); return 1;
            }
            for (int64_t i = 0; i < n * T; i++)
                if (raw[i] != replay[i] || !isfinite(raw[i])) { fprintf(stderr, "iter %d: gbt replay\n", it); return 1; }
            for (int64_t t = 0; t < stages * T * S; t++)
                if (feat[t] < -2 || feat[t] >= d) { fprintf(stderr, "iter %d: gbt feature\n", it); return 1; }
            for (int64_t t = 0; t < stages * T * d; t++)
                if (!(imp[t] >= -1e-9)) { fprintf(stderr, "iter %d: gbt importance %g\n", it, imp[t]); return 1; }
            checked++;
            free(x); free(xs); free(order); free(y); free(feat); free(thr); free(val); free(imp); free(raw); free(replay);
        }
        free(edges); free(tol); free(sc); free(off); free(mins); free(maxs); free(codes.buf); free(factors.buf);
    }
    printf("fuzz_kernels: %d iterations, %d successful calls checked against the naive reference\n", iters, checked);
    return 0;
}
