/* Fuzz the C kernels directly, for AddressSanitizer / UndefinedBehaviorSanitizer / valgrind.
 *
 *   bash tests/csrc/run_sanitizers.sh        (builds with -fsanitize=address,undefined)
 *
 * Random shapes, dtypes, strides (negative included), bins, edges (duplicated included),
 * values (NaN, inf, huge, int64/uint64 extremes) and level tables (with holes, and
 * inconsistent ones: extreme vmin, spans past the table, stray entries); every kernel is
 * called, every call must stay in bounds, and whenever a kernel reports success its
 * output is checked against a naive reference.  Some iterations have enough rows for
 * several threads; run it also with OMP_THREAD_LIMIT=1 (a smaller team than asked for). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastdis.h"
#include "lanes.h"

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
        case FD_UINT64: /* values past INT64_MAX, which no level table holds */
            ((uint64_t *)h.buf)[i] = rint_(0, 30) ? (uint64_t)rint_(0, 1100) : rnd(); break;
        default: { /* int64 extremes: x - vmin overflows int64 */
            static const int64_t ext[4] = {INT64_MIN, INT64_MIN + 5, INT64_MAX, INT64_MAX - 3};
            ((int64_t *)h.buf)[i] = rint_(0, 30) ? rint_(-2, 1100) : ext[rint_(0, 3)];
            break;
        }
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

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int same(double a, double b) { return a == b || (a != a && b != b); }

/* fd_group_deviation's naive reference: the mean summed in row order, then numpy's
 * np.quantile(|z - mean|, q) by a full sort (linear interpolation, numpy's _lerp, NaN if
 * any value is NaN); an empty group gives NaN.  1 if mean and dev agree bit for bit. */
static int ref_group_deviation(const fd_array *a, const int64_t *offsets, const int64_t *perm,
                               int64_t n_groups, double q, const double *mean, const double *dev)
{
    const int64_t d = a->n_cols;
    for (int64_t g = 0; g < n_groups; g++) {
        const int64_t lo = offsets[g], m = offsets[g + 1] - lo;
        double *v = malloc(sizeof(double) * (m > 0 ? m : 1));
        for (int64_t j = 0; j < d; j++) {
            double mu = 0.0, want;
            int nan = 0;
            for (int64_t i = 0; i < m; i++) mu += load_f(a, perm[lo + i], j);
            mu = m > 0 ? mu / (double)m : NAN;
            for (int64_t i = 0; i < m; i++) {
                v[i] = fabs(load_f(a, perm[lo + i], j) - mu);
                nan |= v[i] != v[i];
            }
            if (m == 0 || nan) {
                want = NAN;
            } else {
                const double pos = (double)(m - 1) * (q < 1.0 ? q : 1.0), below = floor(pos);
                const double gamma = pos - below;
                qsort(v, (size_t)m, sizeof(double), cmp_double);
                if (pos >= (double)(m - 1)) {
                    want = v[m - 1];
                } else {
                    const double x = v[(int64_t)below], y = v[(int64_t)below + 1], diff = y - x;
                    want = gamma >= 0.5 ? y - diff * (1.0 - gamma) : x + diff * gamma;
                }
            }
            if (!same(mean[g * d + j], mu) || !same(dev[g * d + j], want)) { free(v); return 0; }
        }
        free(v);
    }
    return 1;
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
    /* the lanes' exp and log1p against libm's, over their domains */
    for (int i = 0; i < 200000; i++) {
        const double t = i < 4 ? -(double)i * 354.0 : -runif() * pow(10, (double)rint_(-12, 3));
        const double e = fd_exp_neg(t), want = exp(t > -708.0 ? t : -708.0);
        const double u = runif(), l = fd_log1p_unit(u), lw = log1p(u);
        if (fabs(e - want) > 1e-15 * want || fabs(l - lw) > 1e-15 * lw) { /* a few ulps */
            fprintf(stderr, "fd_exp_neg(%.17g) = %.17g (libm %.17g), fd_log1p_unit(%.17g) = %.17g "
                    "(libm %.17g)\n", t, e, want, u, l, lw);
            return 1;
        }
    }
    for (int it = 0; it < iters; it++) {
        /* now and then enough rows for several threads (one per 16384 rows) */
        const int big = rint_(0, 40) == 0;
        int64_t n = big ? rint_(33000, 70000) : rint_(0, 700), d = rint_(1, 5), k = rint_(1, 4);
        int nb = (int)rint_(1, big ? 20 : 300), nt = (int)rint_(0, 4);
        int cdtype = rint_(0, 1) ? FD_FLOAT64 : FD_FLOAT32;
        int fdtype = (int)rint_(FD_INT8, FD_UINT64);
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
            /* inconsistent tables now and then: they must give an error, never a stray write */
            const int odd = rint_(0, 6) == 0;
            for (int64_t c = 0; c < k; c++) {
                vmin[c] = rint_(-5, 5); llen[c] = rint_(1, 60); loff[c] = total; total += llen[c];
                if (odd) {
                    static const int64_t ext[5] = {INT64_MIN, INT64_MIN + 5, INT64_MAX, INT64_MAX - 3,
                                                   (int64_t)1 << 62};
                    if (rint_(0, 1)) vmin[c] = ext[rint_(0, 4)];
                }
            }
            lut = malloc(sizeof(int32_t) * total);
            for (int64_t c = 0; c < k; c++) {
                int32_t next = 0;
                for (int64_t v = 0; v < llen[c]; v++) lut[loff[c] + v] = rint_(0, 4) ? next++ : -1;
                nlev[c] = next > 0 ? next : 1;
                L += nlev[c];
            }
            if (odd) { /* stray entries, a span past the table or before it */
                lut[rint_(0, total - 1)] = (int32_t)rint_(-7, 1000);
                if (rint_(0, 2) == 0) llen[rint_(0, k - 1)] += rint_(1, 5);
                if (rint_(0, 4) == 0) loff[rint_(0, k - 1)] = -rint_(1, 5);
            }
            {
                uint8_t *mk = calloc(total + 1, 1);
                int64_t mcol = -1;
                int st = fd_mark_values(&factors.a, vmin, loff, llen, mk, total, &mcol, nt);
                if (st == FD_OK) { /* every value marked lies in its span */
                    for (int64_t c = 0; c < k; c++)
                        for (int64_t i = 0; i < n; i++) {
                            const int64_t idx = i * factors.a.row_stride + c * factors.a.col_stride;
                            int64_t v;
                            switch (fdtype) {
                            case FD_INT8: v = ((const int8_t *)factors.a.data)[idx]; break;
                            case FD_UINT8: v = ((const uint8_t *)factors.a.data)[idx]; break;
                            case FD_INT16: v = ((const int16_t *)factors.a.data)[idx]; break;
                            case FD_UINT16: v = ((const uint16_t *)factors.a.data)[idx]; break;
                            case FD_INT32: v = ((const int32_t *)factors.a.data)[idx]; break;
                            case FD_UINT32: v = ((const uint32_t *)factors.a.data)[idx]; break;
                            case FD_UINT64: {
                                const uint64_t u = ((const uint64_t *)factors.a.data)[idx];
                                if (u > (uint64_t)INT64_MAX) { fprintf(stderr, "iter %d: huge uint64 marked\n", it); return 1; }
                                v = (int64_t)u; break;
                            }
                            default: v = ((const int64_t *)factors.a.data)[idx]; break;
                            }
                            if (v < vmin[c] || (uint64_t)v - (uint64_t)vmin[c] >= (uint64_t)llen[c] ||
                                !mk[loff[c] + (v - vmin[c])]) {
                                fprintf(stderr, "iter %d: mark_values\n", it); return 1;
                            }
                        }
                    checked++;
                } else if (st == FD_ERR_UNKNOWN_LEVEL && (mcol < 0 || mcol >= k)) {
                    fprintf(stderr, "iter %d: mark_values column\n", it); return 1;
                }
                free(mk);
            }
            {
                fd_levels lv = {lut, total, loff, llen, vmin, nlev};
                int64_t fc_n = L * d * nb, cc_n = d * d * nb * nb, ff_n = L * L;
                int want_cc = (int)rint_(0, 1), want_ff = (int)rint_(0, 1);
                int64_t *fc = calloc(fc_n, sizeof(int64_t)), *cc = want_cc ? calloc(cc_n, sizeof(int64_t)) : NULL,
                        *ff = want_ff ? calloc(ff_n, sizeof(int64_t)) : NULL;
                int st;
                err = -1;
                st = fd_joint_histogram(&factors.a, &lv, &codes.a, &bins, fc, cc, ff, &err, nt);
                if (st == FD_OK) {
                    int64_t s = 0;
                    for (int64_t i = 0; i < fc_n; i++) s += fc[i];
                    if (s != n * k * d) { fprintf(stderr, "iter %d: fc total %lld != %lld\n", it, (long long)s, (long long)(n * k * d)); return 1; }
                    if (cc) { s = 0; for (int64_t i = 0; i < cc_n; i++) s += cc[i];
                              if (s != n * d * (d - 1) / 2) { fprintf(stderr, "iter %d: cc total\n", it); return 1; } }
                    if (ff) { s = 0; for (int64_t i = 0; i < ff_n; i++) s += ff[i];
                              if (s != n * k * (k - 1) / 2) { fprintf(stderr, "iter %d: ff total\n", it); return 1; } }
                    checked++;
                } else if (st != FD_ERR_ARGUMENT && (err < 0 || err >= d + k)) {
                    fprintf(stderr, "iter %d: bad error column %lld\n", it, (long long)err); return 1;
                }
                free(fc); free(cc); free(ff);
                { /* mixed-radix keys of a random subset of factors */
                    int64_t *w = malloc(sizeof(int64_t) * k), *keys = malloc(sizeof(int64_t) * (n + 1));
                    int64_t radix = 1, kcol = -1;
                    for (int64_t c = k - 1; c >= 0; c--) {
                        w[c] = rint_(0, 2) ? radix : 0;
                        radix *= w[c] ? nlev[c] : 1;
                    }
                    st = fd_factor_keys(&factors.a, &lv, w, keys, &kcol, nt);
                    if (st == FD_OK) {
                        for (int64_t i = 0; i < n; i++)
                            if (keys[i] < 0 || keys[i] >= radix) { fprintf(stderr, "iter %d: key\n", it); return 1; }
                        checked++;
                    } else if (st == FD_ERR_UNKNOWN_LEVEL && (kcol < 0 || kcol >= k)) {
                        fprintf(stderr, "iter %d: factor_keys column\n", it); return 1;
                    }
                    free(w); free(keys);
                }
                { /* every wanted factor grouped at once (fd_level_counts + fd_group_scatter,
                     in two chunks) equals fd_factor_keys + fd_group_rows by that factor */
                    uint8_t *want = malloc((size_t)k + 1);
                    int64_t *loff2 = malloc(sizeof(int64_t) * (k + 1)), *lev2 = malloc(sizeof(int64_t) * (k + 1));
                    int64_t tot = 0, kw = 0, kcol = -1, wide = 0;
                    for (int64_t c = 0; c < k; c++) {
                        want[c] = (uint8_t)rint_(0, 1);
                        if (!want[c]) continue;
                        loff2[c] = tot; tot += nlev[c];
                        lev2[kw] = nlev[c]; kw++;
                        if (nlev[c] > 256) wide = 1;
                    }
                    {
                        int64_t *cnt = calloc((size_t)(tot + 1), sizeof(int64_t)), *next = malloc(sizeof(int64_t) * (tot + 1));
                        void *lcodes = malloc((size_t)(n * kw * (wide ? 4 : 1) + 1));
                        int64_t **perms = malloc(sizeof(int64_t *) * (kw + 1)), *woff = malloc(sizeof(int64_t) * (kw + 1));
                        for (int64_t i = 0; i < kw; i++) perms[i] = malloc(sizeof(int64_t) * (n + 1));
                        st = fd_level_counts(&factors.a, &lv, want, loff2, tot, (int)wide, lcodes, cnt, &kcol, nt);
                        if (st == FD_OK) {
                            const int64_t cut = rint_(0, n), width = kw * (wide ? 4 : 1);
                            int64_t i = 0, *w = malloc(sizeof(int64_t) * k), *keys = malloc(sizeof(int64_t) * (n + 1));
                            for (int64_t c = 0; c < k; c++) {
                                if (!want[c]) continue;
                                int64_t at = 0;
                                for (int64_t l = 0; l < nlev[c]; l++) { next[loff2[c] + l] = at; at += cnt[loff2[c] + l]; }
                                if (at != n) { fprintf(stderr, "iter %d: level counts\n", it); return 1; }
                                woff[i++] = loff2[c];
                            }
                            if (fd_group_scatter(lcodes, (int)wide, cut, kw, woff, lev2, tot, 0, next, perms, n, nt) != FD_OK ||
                                fd_group_scatter((char *)lcodes + cut * width, (int)wide, n - cut, kw, woff, lev2, tot, cut,
                                                 next, perms, n, nt) != FD_OK) {
                                fprintf(stderr, "iter %d: group_scatter\n", it); return 1;
                            }
                            i = 0;
                            for (int64_t c = 0; c < k; c++) {
                                int64_t *off = malloc(sizeof(int64_t) * (nlev[c] + 1)), *pm = malloc(sizeof(int64_t) * (n + 1));
                                if (!want[c]) { free(off); free(pm); continue; }
                                for (int64_t e = 0; e < k; e++) w[e] = e == c;
                                if (fd_factor_keys(&factors.a, &lv, w, keys, &kcol, nt) != FD_OK ||
                                    fd_group_rows(keys, n, nlev[c], off, pm) != FD_OK ||
                                    memcmp(pm, perms[i], sizeof(int64_t) * n)) {
                                    fprintf(stderr, "iter %d: group_each differs from keys + group_rows\n", it); return 1;
                                }
                                free(off); free(pm); i++;
                            }
                            free(w); free(keys);
                            checked++;
                        } else if (st == FD_ERR_UNKNOWN_LEVEL && (kcol < 0 || kcol >= k)) {
                            fprintf(stderr, "iter %d: level_counts column\n", it); return 1;
                        }
                        for (int64_t i = 0; i < kw; i++) free(perms[i]);
                        free(perms); free(woff); free(cnt); free(next); free(lcodes);
                    }
                    free(want); free(loff2); free(lev2);
                }
                { /* per-level moments: one call, and two calls split at a chunk boundary */
                    double *mean = malloc(sizeof(double) * (L * d + 1)), *dv = malloc(sizeof(double) * (L * d + 1)),
                           *lo = malloc(sizeof(double) * (L * d + 1)), *hi = malloc(sizeof(double) * (L * d + 1));
                    double *m2 = calloc(L * d + 1, sizeof(double)), *d2 = malloc(sizeof(double) * (L * d + 1)),
                           *lo2 = malloc(sizeof(double) * (L * d + 1)), *hi2 = malloc(sizeof(double) * (L * d + 1));
                    int64_t *cnt = malloc(sizeof(int64_t) * (L + 1)), *cnt2 = calloc(L + 1, sizeof(int64_t));
                    int64_t mcol = -1, total_rows = 0;
                    st = fd_level_deviation(&factors.a, &lv, &codes.a, mean, dv, lo, hi, cnt, &mcol, nt);
                    if (st == FD_OK) {
                        const int64_t chunk = fd_level_chunk(n, L, d);
                        const int64_t cut = n > chunk ? chunk : n;
                        fd_array f1 = factors.a, f2 = factors.a, c1 = codes.a, c2 = codes.a;
                        const int64_t fi = fdtype == FD_INT8 || fdtype == FD_UINT8 ? 1 : fdtype == FD_INT16 || fdtype == FD_UINT16 ? 2 : fdtype == FD_INT32 || fdtype == FD_UINT32 ? 4 : 8;
                        const int64_t ci = cdtype == FD_FLOAT32 ? 4 : 8;
                        for (int64_t i = 0; i < L * d; i++) { lo2[i] = INFINITY; hi2[i] = -INFINITY; }
                        f1.n_rows = c1.n_rows = cut;
                        f2.n_rows = c2.n_rows = n - cut;
                        f2.data = (const char *)f2.data + cut * f2.row_stride * fi;
                        c2.data = (const char *)c2.data + cut * c2.row_stride * ci;
                        if (fd_level_sums(&f1, &lv, &c1, chunk, m2, lo2, hi2, cnt2, &mcol, nt) != FD_OK ||
                            fd_level_sums(&f2, &lv, &c2, chunk, m2, lo2, hi2, cnt2, &mcol, nt) != FD_OK) {
                            fprintf(stderr, "iter %d: level_sums\n", it); return 1;
                        }
                        fd_level_finish(L, d, cnt2, m2, d2, lo2, hi2);
                        for (int64_t i = 0; i < L; i++) total_rows += cnt[i];
                        if (total_rows != n * k) { fprintf(stderr, "iter %d: level counts\n", it); return 1; }
                        for (int64_t i = 0; i < L * d; i++)
                            if (memcmp(&mean[i], &m2[i], sizeof(double)) || memcmp(&dv[i], &d2[i], sizeof(double))) {
                                fprintf(stderr, "iter %d: split level sums differ\n", it); return 1;
                            }
                        checked++;
                        { /* fd_level_quantile: random thresholds; cells it answers (ok) hold numpy's
                             quantile of |z - mean| over the level's rows, whatever the threads */
                            const double q = runif() * 0.999;
                            double *tl = malloc(sizeof(double) * (L * d + 1)), *th = malloc(sizeof(double) * (L * d + 1));
                            double *q1 = malloc(sizeof(double) * (L * d + 1)), *q2 = malloc(sizeof(double) * (L * d + 1));
                            uint8_t *ok1 = malloc(L * d + 1), *ok2 = malloc(L * d + 1);
                            int finite = 1;
                            for (int64_t i = 0; i < n && finite; i++)
                                for (int64_t j = 0; j < d; j++) finite &= isfinite(load_f(&codes.a, i, j)) != 0;
                            for (int64_t i = 0; i < L * d; i++) {
                                tl[i] = rint_(0, 2) ? -INFINITY : runif() * 5;
                                th[i] = rint_(0, 2) ? INFINITY : tl[i] + runif() * 5;
                            }
                            if (fd_level_quantile(&factors.a, &lv, &codes.a, mean, cnt, tl, th, q, q1, ok1, &mcol, nt) != FD_OK ||
                                fd_level_quantile(&factors.a, &lv, &codes.a, mean, cnt, tl, th, q, q2, ok2, &mcol, 1) != FD_OK) {
                                fprintf(stderr, "iter %d: level_quantile\n", it); return 1;
                            }
                            for (int64_t i = 0; i < L * d; i++)
                                if (ok1[i] != ok2[i] || (ok1[i] && memcmp(&q1[i], &q2[i], sizeof(double)))) {
                                    fprintf(stderr, "iter %d: level_quantile threads\n", it); return 1;
                                }
                            if (finite) {
                                int64_t *w = calloc(k, sizeof(int64_t)), *keys = malloc(sizeof(int64_t) * (n + 1));
                                double *v = malloc(sizeof(double) * (n + 1));
                                for (int64_t c = 0, off = 0; c < k; off += nlev[c], c++) {
                                    memset(w, 0, sizeof(int64_t) * k);
                                    w[c] = 1;
                                    if (fd_factor_keys(&factors.a, &lv, w, keys, &mcol, nt) != FD_OK) { fprintf(stderr, "iter %d: keys\n", it); return 1; }
                                    for (int64_t g = 0; g < nlev[c]; g++)
                                        for (int64_t j = 0; j < d; j++) {
                                            const int64_t cell = (off + g) * d + j;
                                            int64_t m = 0;
                                            double want;
                                            if (!ok1[cell]) continue;
                                            for (int64_t i = 0; i < n; i++)
                                                if (keys[i] == g) v[m++] = fabs(load_f(&codes.a, i, j) - mean[cell]);
                                            if (m == 0) want = NAN;
                                            else {
                                                const double pos = (double)(m - 1) * q, below = floor(pos), gamma = pos - below;
                                                qsort(v, (size_t)m, sizeof(double), cmp_double);
                                                if (pos >= (double)(m - 1)) want = v[m - 1];
                                                else {
                                                    const double x = v[(int64_t)below], y = v[(int64_t)below + 1], diff = y - x;
                                                    want = gamma >= 0.5 ? y - diff * (1.0 - gamma) : x + diff * gamma;
                                                }
                                            }
                                            if (!same(q1[cell], want)) { fprintf(stderr, "iter %d: level_quantile differs (q %g)\n", it, q); return 1; }
                                        }
                                }
                                free(w); free(keys); free(v);
                                checked++;
                            }
                            free(tl); free(th); free(q1); free(q2); free(ok1); free(ok2);
                        }
                    } else if (st == FD_ERR_UNKNOWN_LEVEL && (mcol < 0 || mcol >= k)) {
                        fprintf(stderr, "iter %d: level_deviation column\n", it); return 1;
                    }
                    free(mean); free(dv); free(lo); free(hi); free(m2); free(d2); free(lo2); free(hi2);
                    free(cnt); free(cnt2);
                }
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
                    int mode = (int)rint_(0, 2);
                    if (fd_sample_batches(&codes.a, &gs, mode, L, rnd(), ids, nbatch, out, nt) != FD_OK) {
                        fprintf(stderr, "iter %d: sample_batches\n", it); return 1;
                    }
                    for (int64_t i = 0; i < nbatch * d && all_finite; i++)
                        if (!(out[i] >= 0.0)) { fprintf(stderr, "iter %d: negative reduction\n", it); return 1; }
                    {   /* the same set twice, each batch from either: the same draws */
                        fd_groups two[2] = {gs, gs};
                        int64_t *set_of = malloc(sizeof(int64_t) * nbatch);
                        double *out2 = malloc(sizeof(double) * nbatch * d);
                        for (int64_t b = 0; b < nbatch; b++) set_of[b] = rint_(0, 1);
                        if (fd_sample_batches_sets(&codes.a, two, 2, set_of, mode, L, 7, ids, nbatch, out2, nt) != FD_OK ||
                            fd_sample_batches(&codes.a, &gs, mode, L, 7, ids, nbatch, out, nt) != FD_OK) {
                            fprintf(stderr, "iter %d: sample_batches_sets\n", it); return 1;
                        }
                        if (memcmp(out, out2, sizeof(double) * nbatch * d) != 0) {
                            fprintf(stderr, "iter %d: sample_batches_sets differs\n", it); return 1;
                        }
                        free(set_of); free(out2);
                    }
                }
                {
                    static const double qs[] = {1.0, 0.0, 0.5, 0.99, 0.999};
                    const int64_t qi = rint_(0, 5);
                    const double q = qi < 5 ? qs[qi] : runif();
                    if (fd_group_deviation(&codes.a, offsets, perm, n_keys, q, mean, dev, nt) != FD_OK) {
                        fprintf(stderr, "iter %d: group_deviation\n", it); return 1;
                    }
                    if (!ref_group_deviation(&codes.a, offsets, perm, n_keys, q, mean, dev)) {
                        fprintf(stderr, "iter %d: group_deviation differs from the reference (q = %.17g)\n", it, q);
                        return 1;
                    }
                }
                checked++;
                free(groups); free(cum); free(ids); free(out); free(mean); free(dev);
            }
            free(keys); free(offsets); free(perm);
        }
        /* gradient boosting on quantised values (many ties): every row lands in a stored
         * leaf, and replaying the stored trees gives the kernel's running predictions */
        if (n >= 2 && !big) { /* the harness presorts by insertion: small n only */
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
            const uint64_t seed = rnd();
            fd_gbt_model mo = {y, ncls, seed, raw, feat, thr, val, imp};
            if (fd_gbt_fit(xs, order, n, d, &mo, 1, 0, stages, 0.1, depth, nt) != FD_OK ||
                fd_gbt_predict(x, n, d, stages * T, T, depth, feat, thr, val, 0.1, replay, nt) != FD_OK) {
                fprintf(stderr, "iter %d: gbt\n", it); return 1;
            }
            for (int64_t i = 0; i < n * T; i++)
                if (raw[i] != replay[i] || !isfinite(raw[i])) { fprintf(stderr, "iter %d: gbt replay\n", it); return 1; }
            for (int64_t t = 0; t < stages * T * S; t++)
                if (feat[t] < -2 || feat[t] >= d) { fprintf(stderr, "iter %d: gbt feature\n", it); return 1; }
            if (stages >= 2) { /* the same fit in two calls (first_stage): the same trees */
                const int s1 = (int)rint_(1, stages - 1);
                int32_t *feat2 = malloc(sizeof(int32_t) * stages * T * S);
                double *thr2 = malloc(sizeof(double) * stages * T * S), *val2 = malloc(sizeof(double) * stages * T * S);
                double *imp2 = malloc(sizeof(double) * stages * T * d), *raw2 = calloc(n * T, sizeof(double));
                const int64_t at = (int64_t)s1 * T;
                /* and beside a second model (two classes: one tree per stage) in the same
                 * calls: the first model's trees do not depend on the company */
                int32_t *y2 = malloc(sizeof(int32_t) * n), *feat3 = malloc(sizeof(int32_t) * stages * S);
                double *thr3 = malloc(sizeof(double) * stages * S), *val3 = malloc(sizeof(double) * stages * S);
                double *imp3 = malloc(sizeof(double) * stages * d), *raw3 = calloc(n, sizeof(double));
                fd_gbt_model two[2] = {{y, ncls, seed, raw2, feat2, thr2, val2, imp2},
                                       {y2, 2, seed + 1, raw3, feat3, thr3, val3, imp3}};
                for (int64_t i = 0; i < n; i++) y2[i] = (int32_t)(i < 2 ? i : rint_(0, 1));
                if (fd_gbt_fit(xs, order, n, d, two, 2, 0, s1, 0.1, depth, nt) != FD_OK) {
                    fprintf(stderr, "iter %d: gbt first call\n", it); return 1;
                }
                two[0].feature += at * S; two[0].threshold += at * S; two[0].value += at * S;
                two[0].importance += at * d;
                two[1].feature += s1 * S; two[1].threshold += s1 * S; two[1].value += s1 * S;
                two[1].importance += s1 * d;
                if (fd_gbt_fit(xs, order, n, d, two, 2, s1, stages - s1, 0.1, depth, nt) != FD_OK ||
                    memcmp(raw, raw2, sizeof(double) * n * T) || memcmp(feat, feat2, sizeof(int32_t) * stages * T * S) ||
                    memcmp(val, val2, sizeof(double) * stages * T * S)) {
                    fprintf(stderr, "iter %d: gbt in two calls differs\n", it); return 1;
                }
                for (int64_t t = 0; t < stages * S; t++)
                    if (feat3[t] < -2 || feat3[t] >= d) { fprintf(stderr, "iter %d: gbt feature\n", it); return 1; }
                free(feat2); free(thr2); free(val2); free(imp2); free(raw2);
                free(y2); free(feat3); free(thr3); free(val3); free(imp3); free(raw3);
            }
            for (int64_t t = 0; t < stages * T * d; t++)
                if (!(imp[t] >= -1e-9)) { fprintf(stderr, "iter %d: gbt importance %g\n", it, imp[t]); return 1; }
            checked++;
            { /* a regression forest on the same presorted columns: nodes in range, children
               * after their parent; unrandomised and grown to purity, each row's
               * prediction is the mean target of the rows with its codes (the naive
               * reference: those rows cannot be told apart, all others can) */
                const int trees = (int)rint_(1, 3), mf = (int)rint_(1, (int)d);
                const int boot = (int)rint_(0, 1), deep = (int)rint_(0, 1), depth_f = (int)rint_(0, 6);
                const int64_t cap = 2 * n - 1;
                const int32_t all_levels = 1 << 30;
                double *fy = malloc(sizeof(double) * n), *fth = malloc(sizeof(double) * trees * cap);
                double *fval = malloc(sizeof(double) * trees * cap), *fimp = malloc(sizeof(double) * trees * d);
                double *fout = malloc(sizeof(double) * n);
                int32_t *ff = malloc(sizeof(int32_t) * trees * cap), *fl = malloc(sizeof(int32_t) * trees * cap);
                int32_t *fr = malloc(sizeof(int32_t) * trees * cap);
                int64_t *fn = malloc(sizeof(int64_t) * trees);
                const int pure = !boot && mf == d && deep;
                for (int64_t i = 0; i < n; i++) fy[i] = rint_(0, 3) + (rint_(0, 1) ? runif() : 0.0);
                if (fd_forest_fit(xs, order, fy, n, d, trees, pure ? (int)d : mf, deep ? 1 << 30 : depth_f,
                                  pure ? 0 : boot, seed, ff, fth, fl, fr, fval, fn, fimp, nt) != FD_OK ||
                    fd_forest_predict(x, n, d, trees, cap, ff, fth, fl, fr, fval, &all_levels, 1, fout, nt) != FD_OK) {
                    fprintf(stderr, "iter %d: forest\n", it); return 1;
                }
                for (int t = 0; t < trees; t++) {
                    if (fn[t] < 1 || fn[t] > cap) { fprintf(stderr, "iter %d: forest nodes\n", it); return 1; }
                    for (int64_t s = 0; s < fn[t]; s++) {
                        const int64_t o = t * cap + s;
                        if (fl[o] >= 0 && (fl[o] <= s || fr[o] <= s || fl[o] >= fn[t] || fr[o] >= fn[t] ||
                                           ff[o] < 0 || ff[o] >= d)) {
                            fprintf(stderr, "iter %d: forest tree\n", it); return 1;
                        }
                    }
                }
                if (pure)
                    for (int64_t i = 0; i < n; i++) {
                        double sum = 0.0, cnt = 0.0;
                        for (int64_t k = 0; k < n; k++) {
                            int same = 1;
                            for (int64_t j = 0; j < d; j++) same &= x[k * d + j] == x[i * d + j];
                            if (same) { sum += fy[k]; cnt += 1.0; }
                        }
                        if (fabs(fout[i] - sum / cnt) > 1e-9 * (1.0 + fabs(sum / cnt))) {
                            fprintf(stderr, "iter %d: forest leaf %g, reference %g\n", it, fout[i], sum / cnt);
                            return 1;
                        }
                    }
                checked++;
                free(fy); free(fth); free(fval); free(fimp); free(fout); free(ff); free(fl); free(fr); free(fn);
            }
            free(x); free(xs); free(order); free(y); free(feat); free(thr); free(val); free(imp); free(raw); free(replay);
        }
        /* logistic regression: any sizes, weights (zeros included), values up to 1e6, rows of
         * one class; a fit must decrease the naive objective, and the same fit on one thread
         * or in one-iteration calls must be bit-identical */
        if (n >= 1 && (!big || rint_(0, 3) == 0)) {
            const int64_t n_all = n;
            const int K = (int)rint_(2, 5), multi = K > 2 || rint_(0, 1), T = multi ? K : 1;
            const int64_t D = d + 1, P = T * D, ss = fd_logistic_state_size(d, K, multi);
            n = n > 4500 ? 4500 : n; /* a few chunks of rows: enough for the threads' merge */
            double *x = malloc(sizeof(double) * n * d), *cw = malloc(sizeof(double) * K);
            int32_t *y = malloc(sizeof(int32_t) * n);
            double *c1 = calloc(P, sizeof(double)), *c2 = calloc(P, sizeof(double)), *c3 = calloc(P, sizeof(double));
            double *s1 = calloc(ss, sizeof(double)), *s2 = calloc(ss, sizeof(double)), *s3 = calloc(ss, sizeof(double));
            const double scale = pow(10, (double)rint_(-3, 6));
            const int one_class = rint_(0, 5) == 0;
            int i1 = 0, i2 = 0, i3 = 0, st1 = 0, st2 = 0, st3 = 0, r1, r2, r3 = FD_OK;
            for (int64_t i = 0; i < n * d; i++) x[i] = rint_(0, 9) == 0 ? 0.0 : (runif() - 0.5) * scale;
            for (int64_t i = 0; i < n; i++) y[i] = one_class ? 1 : (int32_t)rint_(0, K - 1);
            for (int c = 0; c < K; c++) cw[c] = rint_(0, 4) == 0 ? 0.0 : runif() * 3;
            r1 = fd_logistic_fit(x, y, cw, n, d, K, multi, 1.0, 1e-8, 20, 1000, c1, s1, &i1, &st1, nt);
            r2 = fd_logistic_fit(x, y, cw, n, d, K, multi, 1.0, 1e-8, 20, 1000, c2, s2, &i2, &st2, 1);
            while (r3 == FD_OK && !st3)
                r3 = fd_logistic_fit(x, y, cw, n, d, K, multi, 1.0, 1e-8, 20, 1, c3, s3, &i3, &st3, nt);
            if (r1 != r2 || r1 != r3 || (r1 != FD_OK && r1 != FD_ERR_ARGUMENT && r1 != FD_ERR_NONFINITE)) {
                fprintf(stderr, "iter %d: logistic status %d %d %d\n", it, r1, r2, r3); return 1;
            }
            if (r1 == FD_OK) {
                double f0 = 0.0, f1 = 0.0, sw = 0.0, pen = 0.0;
                if (memcmp(c1, c2, sizeof(double) * P) || memcmp(c1, c3, sizeof(double) * P) ||
                    i1 != i2 || i1 != i3 || st1 != st2 || st1 != st3) {
                    fprintf(stderr, "iter %d: logistic depends on threads or calls\n", it); return 1;
                }
                for (int64_t i = 0; i < n; i++) { /* naive objectives at 0 and at the fit */
                    const double s = cw[y[i]];
                    double z[5], m = -INFINITY, e = 0.0, loss;
                    for (int t = 0; t < T; t++) {
                        z[t] = c1[t * D + d];
                        for (int64_t a = 0; a < d; a++) z[t] += c1[t * D + a] * x[a * n + i]; /* [d][n] */
                        m = z[t] > m ? z[t] : m;
                    }
                    if (T == 1) loss = (z[0] > 0 ? z[0] : 0.0) + log1p(exp(-fabs(z[0]))) - (y[i] == 1) * z[0];
                    else {
                        for (int t = 0; t < T; t++) e += exp(z[t] - m);
                        loss = m + log(e) - z[y[i]];
                    }
                    f1 += s * loss; f0 += s * (T == 1 ? log(2.0) : log((double)K)); sw += s;
                }
                for (int t = 0; t < T; t++)
                    for (int64_t a = 0; a < d; a++) pen += 0.5 * c1[t * D + a] * c1[t * D + a];
                f1 += pen;
                if (!(f1 <= f0 * (1 + 1e-9) + 1e-9) || st1 < 1 || st1 > 3) {
                    fprintf(stderr, "iter %d: logistic objective %.17g > %.17g at zero\n", it, f1, f0); return 1;
                }
                checked++;
            }
            free(x); free(cw); free(y); free(c1); free(c2); free(c3); free(s1); free(s2); free(s3);
            n = n_all;
        }
        if (rint_(0, 3) == 0) { /* lasso.c: fold moments (any rows, groups, dtypes, strides) and
                                 * the cross-validated Lasso on them */
            const int64_t p = d + k, R = FD_MOMENTS(p), G = rint_(1, 12);
            const int use_rows = n > 0 && rint_(0, 1);
            const int64_t m = use_rows ? rint_(0, 2 * n) : n;
            int64_t *rows = malloc(sizeof(int64_t) * (m + 1)), *count = calloc(G, sizeof(int64_t));
            int32_t *grp = malloc(sizeof(int32_t) * (m + 1));
            double *maps = malloc(sizeof(double) * 5 * p), *mom = calloc(G * R, sizeof(double)),
                   *mom2 = calloc(G * R, sizeof(double));
            const int64_t chunk = fd_moment_chunk(m, G, p);
            for (int64_t v = 0; v < p; v++) {
                maps[v] = rint_(0, 1) ? 1.0 : 0.5; maps[p + v] = 1.0;
                maps[2 * p + v] = runif() * 2; maps[3 * p + v] = runif() - 0.5;
                maps[4 * p + v] = rint_(0, 1) ? 0.0 : runif();
            }
            for (int64_t i = 0; i < m; i++) {
                rows[i] = use_rows ? rint_(0, n - 1) : i;
                grp[i] = (int32_t)rint_(0, G - 1);
                count[grp[i]]++;
            }
            if (fd_fold_moments(&codes.a, &factors.a, use_rows ? rows : NULL, grp, m, G, maps,
                                maps + p, maps + 2 * p, maps + 3 * p, maps + 4 * p, chunk, mom, nt) != FD_OK ||
                fd_fold_moments(&codes.a, &factors.a, use_rows ? rows : NULL, grp, m, G, maps,
                                maps + p, maps + 2 * p, maps + 3 * p, maps + 4 * p, chunk, mom2,
                                (int)rint_(1, 4)) != FD_OK) {
                fprintf(stderr, "iter %d: fold moments\n", it); return 1;
            }
            for (int64_t g = 0; g < G; g++)
                if (mom[g * R] != (double)count[g]) { fprintf(stderr, "iter %d: fold counts\n", it); return 1; }
            if (memcmp(mom, mom2, sizeof(double) * G * R)) {
                fprintf(stderr, "iter %d: fold moments depend on threads\n", it); return 1;
            }
            if (m > 0) { /* a row or a group out of range: refused, nothing written outside */
                const int64_t at = rint_(0, m - 1);
                const int32_t g_was = grp[at];
                const int64_t r_was = rows[at];
                if (use_rows && rint_(0, 1)) rows[at] = rint_(0, 1) ? -1 : n;
                else grp[at] = rint_(0, 1) ? -1 : (int32_t)G;
                if (fd_fold_moments(&codes.a, &factors.a, use_rows ? rows : NULL, grp, m, G, maps,
                                    maps + p, maps + 2 * p, maps + 3 * p, maps + 4 * p, chunk, mom2,
                                    nt) != FD_ERR_ARGUMENT) {
                    fprintf(stderr, "iter %d: fold moments took a bad row or group\n", it); return 1;
                }
                grp[at] = g_was; rows[at] = r_was;
            }
            {
                int all = G >= 2;
                for (int64_t g = 0; g < G; g++) all &= count[g] > 0;
                if (all) {
                    const double alphas[3] = {1e-4, 0.1, 10.0};
                    const int max_iter = (int)rint_(0, 60);
                    const int64_t t = d + rint_(0, k - 1);
                    double mse[3 * 12], excess[3 * 12], w[8] = {0}, b, gap, gtol;
                    int32_t iters[3 * 12];
                    int n_it;
                    if (fd_lasso_cv(mom, G, p, d, t, alphas, 3, max_iter, 1e-4, mse, iters, excess, nt) != FD_OK ||
                        fd_lasso_fit(mom, p, d, t, 1e-3, max_iter, 1e-4, w, &b, &gap, &gtol, &n_it) != FD_OK) {
                        fprintf(stderr, "iter %d: lasso\n", it); return 1;
                    }
                    for (int64_t i = 0; i < 3 * G; i++)
                        if (iters[i] < 0 || iters[i] > max_iter) { fprintf(stderr, "iter %d: lasso iterations\n", it); return 1; }
                    if (n_it < 0 || n_it > max_iter) { fprintf(stderr, "iter %d: lasso fit iterations\n", it); return 1; }
                    (void)fd_lasso_mse(mom + R, p, d, t, w, b);
                }
            }
            checked++;
            free(rows); free(count); free(grp); free(maps); free(mom); free(mom2);
        }
        { /* fd_cross_moments: in bounds for any strides and dtypes; with finite codes, bit for
             bit the naive blocks-of-1024 sums, whatever the thread count */
            int64_t *ef = malloc(sizeof(int64_t) * k), *ez = malloc(sizeof(int64_t) * d);
            double *f0 = malloc(sizeof(double) * k), *z0 = malloc(sizeof(double) * d);
            const int64_t width = 2 * k + 2 * d + k * d;
            double *got = calloc(width, sizeof(double)), *one = calloc(width, sizeof(double));
            double *want = calloc(width, sizeof(double)), *part = malloc(sizeof(double) * width);
            int finite = 1;
            for (int64_t c = 0; c < k; c++) { ef[c] = rint_(-3, 3); f0[c] = runif(); }
            for (int64_t j = 0; j < d; j++) { ez[j] = rint_(-3, 3); z0[j] = runif(); }
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = 0; j < d; j++) finite &= isfinite(load_f(&codes.a, i, j)) != 0;
            if (fd_cross_moments(&factors.a, &codes.a, ef, ez, f0, z0, got, nt) != FD_OK ||
                fd_cross_moments(&factors.a, &codes.a, ef, ez, f0, z0, one, 1) != FD_OK) {
                fprintf(stderr, "iter %d: cross_moments\n", it); return 1;
            }
            for (int64_t i = 0; i < width; i++)
                if (!same(got[i], one[i])) { fprintf(stderr, "iter %d: cross_moments threads\n", it); return 1; }
            if (finite && fdtype != FD_UINT64 && fdtype != FD_INT64) { /* exact conversions */
                /* rows in pairs within each block, as the kernel adds them */
                double *fv = malloc(sizeof(double) * 2 * k), *zv = malloc(sizeof(double) * 2 * d);
                for (int64_t r0 = 0; r0 < n; r0 += 1024) {
                    const int64_t stop = n < r0 + 1024 ? n : r0 + 1024;
                    memset(part, 0, sizeof(double) * width);
                    for (int64_t r = r0; r < stop; r += 2) {
                        const int two = r + 1 < stop;
                        for (int h = 0; h < 1 + two; h++) {
                            const int64_t base = (r + h) * factors.a.row_stride;
                            for (int64_t c = 0; c < k; c++) {
                                const int64_t at = base + c * factors.a.col_stride;
                                double x = 0.0;
                                switch (fdtype) {
                                case FD_INT8: x = ((const int8_t *)factors.a.data)[at]; break;
                                case FD_INT16: x = ((const int16_t *)factors.a.data)[at]; break;
                                case FD_INT32: x = ((const int32_t *)factors.a.data)[at]; break;
                                case FD_UINT8: x = ((const uint8_t *)factors.a.data)[at]; break;
                                case FD_UINT16: x = ((const uint16_t *)factors.a.data)[at]; break;
                                default: x = ((const uint32_t *)factors.a.data)[at]; break;
                                }
                                fv[h * k + c] = ldexp(x, (int)-ef[c]) - f0[c];
                            }
                            for (int64_t j = 0; j < d; j++)
                                zv[h * d + j] = ldexp(load_f(&codes.a, r + h, j), (int)-ez[j]) - z0[j];
                        }
                        for (int64_t c = 0; c < k; c++) {
                            const double x = fv[c], y = two ? fv[k + c] : 0.0;
                            part[c] += two ? x + y : x;
                            part[k + c] += two ? x * x + y * y : x * x;
                            for (int64_t j = 0; j < d; j++)
                                part[2 * k + 2 * d + c * d + j] += two ? x * zv[j] + y * zv[d + j] : x * zv[j];
                        }
                        for (int64_t j = 0; j < d; j++) {
                            const double x = zv[j], y = two ? zv[d + j] : 0.0;
                            part[2 * k + j] += two ? x + y : x;
                            part[2 * k + d + j] += two ? x * x + y * y : x * x;
                        }
                    }
                    for (int64_t i = 0; i < width; i++) want[i] += part[i];
                }
                for (int64_t i = 0; i < width; i++)
                    if (!same(got[i], want[i])) { fprintf(stderr, "iter %d: cross_moments differs from the reference\n", it); return 1; }
                free(fv); free(zv);
                checked++;
            }
            free(ef); free(ez); free(f0); free(z0); free(got); free(one); free(want); free(part);
        }
        if (rint_(0, 3) == 0) { /* fd_sap_svm: in bounds; scores in [0, 1] whatever the thread count */
            const int64_t ntr = rint_(1, big ? 3000 : 200), nte = rint_(1, 60), dd = rint_(1, 3), kk = rint_(1, 3);
            double *xtr = malloc(sizeof(double) * dd * ntr), *xte = malloc(sizeof(double) * dd * nte);
            int64_t *ytr = malloc(sizeof(int64_t) * kk * ntr), *yte = malloc(sizeof(int64_t) * kk * nte);
            int64_t *ncl = malloc(sizeof(int64_t) * kk);
            double *sc1 = malloc(sizeof(double) * kk * dd), *sc2 = malloc(sizeof(double) * kk * dd);
            for (int64_t c = 0; c < kk; c++) ncl[c] = rint_(1, 6);
            for (int64_t j = 0; j < dd; j++) {
                const double scale = pow(2.0, (double)rint_(-1060, 1000) * (rint_(0, 3) == 0)), shift = runif() * 4;
                const int kind = (int)rint_(0, 3); /* 0: constant, 1: ties, else continuous */
                for (int64_t i = 0; i < ntr + nte; i++) {
                    double v = kind == 0 ? 1.5 : kind == 1 ? (double)rint_(-2, 2) : (runif() - 0.5) * 6;
                    v = (v + shift) * scale;
                    if (i < ntr) xtr[j * ntr + i] = v; else xte[j * nte + i - ntr] = v;
                }
            }
            for (int64_t c = 0; c < kk; c++) {
                for (int64_t i = 0; i < ntr; i++) ytr[c * ntr + i] = rint_(0, ncl[c] - 1);
                for (int64_t i = 0; i < nte; i++) yte[c * nte + i] = rint_(0, ncl[c] - 1);
            }
            if (fd_sap_svm(xtr, xte, ytr, yte, ncl, kk, dd, ntr, nte, 0.01, sc1, nt) != FD_OK ||
                fd_sap_svm(xtr, xte, ytr, yte, ncl, kk, dd, ntr, nte, 0.01, sc2, 1) != FD_OK) {
                fprintf(stderr, "iter %d: sap_svm\n", it); return 1;
            }
            for (int64_t i = 0; i < kk * dd; i++)
                if (!(sc1[i] >= 0.0 && sc1[i] <= 1.0) || sc1[i] != sc2[i]) {
                    fprintf(stderr, "iter %d: sap_svm score %g / %g\n", it, sc1[i], sc2[i]); return 1;
                }
            ytr[0] = ncl[0]; /* a label out of range is refused, not read */
            if (fd_sap_svm(xtr, xte, ytr, yte, ncl, kk, dd, ntr, nte, 0.01, sc1, nt) != FD_ERR_ARGUMENT) {
                fprintf(stderr, "iter %d: sap_svm accepted a bad label\n", it); return 1;
            }
            checked++;
            free(xtr); free(xte); free(ytr); free(yte); free(ncl); free(sc1); free(sc2);
        }
        if (rint_(0, 3) == 0) { /* fd_posterior_sample_logs: in bounds, equal to a naive
                                   log-sum-exp, the same for any thread count and path */
            const int64_t pn = big ? rint_(1, 3000) : rint_(1, 300), pd = rint_(1, 6), pk = rint_(0, 3);
            const int64_t pnp = (pn + 7) / 8 * 8, pm = rint_(0, 40), pp = pd * (pd - 1) / 2;
            const int pairs = (int)rint_(0, 1), wide = rint_(0, 5) == 0;
            double *mu_t = malloc(sizeof(double) * pd * pnp), *is_t = malloc(sizeof(double) * pd * pnp);
            double *nl_t = malloc(sizeof(double) * pd * pnp), *gm = malloc(sizeof(double) * pd);
            int32_t *lab = malloc(sizeof(int32_t) * (pk ? pk : 1) * pnp);
            int64_t *prow = malloc(sizeof(int64_t) * (pm ? pm : 1)), slow1 = 0, slow2 = 0;
            double *pz = malloc(sizeof(double) * (pm ? pm : 1) * pd);
            const int64_t width = 2 * pd + 1 + pk * pd + (pairs ? pp : 0);
            double *o1 = malloc(sizeof(double) * (pm ? pm : 1) * width), *o2 = malloc(sizeof(double) * (pm ? pm : 1) * width);
            double *lq = malloc(sizeof(double) * pn * pd), *terms = malloc(sizeof(double) * pn);
            for (int64_t i = 0; i < pd; i++) {
                gm[i] = -INFINITY;
                for (int64_t r = 0; r < pnp; r++) {
                    const double sd = wide ? pow(10.0, (double)rint_(-40, 40)) : 0.05 + runif();
                    mu_t[i * pnp + r] = r < pn ? (runif() - 0.5) * (wide ? 1e6 : 4) : 0.0;
                    is_t[i * pnp + r] = r < pn ? 1.0 / sd : 0.0;
                    nl_t[i * pnp + r] = r < pn ? -log(sd) : -1e300;
                    if (r < pn && -log(sd) > gm[i]) gm[i] = -log(sd);
                }
            }
            for (int64_t c = 0; c < pk; c++)
                for (int64_t r = 0; r < pnp; r++) lab[c * pnp + r] = r < pn ? (int32_t)rint_(0, 3) : -1;
            for (int64_t s = 0; s < pm; s++) {
                prow[s] = rint_(0, pn - 1);
                for (int64_t i = 0; i < pd; i++)
                    pz[s * pd + i] = mu_t[i * pnp + prow[s]] + (runif() - 0.5) * 4 / is_t[i * pnp + prow[s]];
            }
#define FD_PS_OUT(o) o, o + pm * pd, o + pm * (pd + 1), pk ? o + pm * (2 * pd + 1) : NULL, \
                     pairs ? o + pm * (2 * pd + 1 + pk * pd) : NULL
            if (fd_posterior_sample_logs(mu_t, is_t, nl_t, pk ? lab : NULL, pn, pnp, pd, pk, gm, prow, pz, pm,
                                         pairs, 1, FD_PS_OUT(o1), &slow1, nt) != FD_OK ||
                fd_posterior_sample_logs(mu_t, is_t, nl_t, pk ? lab : NULL, pn, pnp, pd, pk, gm, prow, pz, pm,
                                         pairs, (int)rint_(0, 1), FD_PS_OUT(o2), &slow2, 1) != FD_OK) {
                fprintf(stderr, "iter %d: posterior_sample_logs failed\n", it); return 1;
            }
            for (int64_t s = 0; s < pm; s++) {
                /* naive: log (1/N) sum_n q(z_i | x_n) for each code, and the joint */
                for (int64_t r = 0; r < pn; r++)
                    for (int64_t i = 0; i < pd; i++) {
                        const double u = (pz[s * pd + i] - mu_t[i * pnp + r]) * is_t[i * pnp + r];
                        lq[r * pd + i] = nl_t[i * pnp + r] - 0.5 * u * u - 0.9189385332046727;
                    }
                for (int64_t i = 0; i <= pd; i++) {
                    double mx = -INFINITY, sum = 0.0, want, got;
                    for (int64_t r = 0; r < pn; r++) {
                        double t = 0.0;
                        if (i < pd) t = lq[r * pd + i];
                        else for (int64_t j = 0; j < pd; j++) t += lq[r * pd + j];
                        terms[r] = t;
                        if (t > mx) mx = t;
                    }
                    for (int64_t r = 0; r < pn; r++) sum += exp(terms[r] - mx);
                    want = mx + log(sum) - log((double)pn);
                    got = i < pd ? o1[s * pd + i] : o1[pm * pd + s];
                    if (!(fabs(got - want) <= 1e-9 * (1.0 + fabs(want)))) {
                        fprintf(stderr, "iter %d: posterior_sample_logs %g, naive %g\n", it, got, want); return 1;
                    }
                }
            }
            for (int64_t i = 0; i < pm * width; i++)
                if (!(fabs(o1[i] - o2[i]) <= 1e-9 * (1.0 + fabs(o1[i])))) {
                    fprintf(stderr, "iter %d: posterior_sample_logs paths differ: %g / %g at %ld of %ld (m %ld d %ld k %ld pairs %d wide %d slow %ld %ld n %ld)\n", it, o1[i], o2[i], (long)i, (long)(pm * width), (long)pm, (long)pd, (long)pk, pairs, wide, (long)slow1, (long)slow2, (long)pn); return 1;
                }
            if (pm) { /* a row outside [0, n) is refused, not read */
                prow[0] = pn;
                if (fd_posterior_sample_logs(mu_t, is_t, nl_t, pk ? lab : NULL, pn, pnp, pd, pk, gm, prow, pz, pm,
                                             pairs, 1, FD_PS_OUT(o1), &slow1, nt) != FD_ERR_ARGUMENT) {
                    fprintf(stderr, "iter %d: posterior_sample_logs accepted a bad row\n", it); return 1;
                }
            }
#undef FD_PS_OUT
            if (fd_posterior_draw(rnd(), rint_(0, 1000), pm, pn, pd, prow, pz) != FD_OK) {
                fprintf(stderr, "iter %d: posterior_draw\n", it); return 1;
            }
            for (int64_t s = 0; s < pm; s++)
                if (prow[s] < 0 || prow[s] >= pn || !isfinite(pz[s * pd])) {
                    fprintf(stderr, "iter %d: posterior_draw out of range\n", it); return 1;
                }
            checked++;
            free(mu_t); free(is_t); free(nl_t); free(gm); free(lab); free(prow); free(pz);
            free(o1); free(o2); free(lq); free(terms);
        }
        if (rint_(0, 3) == 0) { /* fd_quantized_tables / _pairs: in bounds, masses add up, 1 thread = nt threads */
            const int64_t qn = big ? rint_(16385, 40000) : rint_(0, 300), qd = rint_(1, 4), qk = rint_(0, 3);
            const int64_t qb = rint_(2, big ? 30 : 120), np_ = qd * (qd - 1) / 2;
            const int mode = (int)rint_(0, 1);
            const double lo = (runif() - 0.5) * 10.0, hi = lo + pow(10.0, (double)rint_(-3, 2)) * (0.5 + runif());
            int64_t L = 0, off[3] = {0, 0, 0}, nlev[3] = {0, 0, 0}, fb1[4] = {0}, fb2[4] = {0};
            double *qmu = malloc(sizeof(double) * (size_t)(qn * qd + 1)), *qsd = malloc(sizeof(double) * (size_t)(qn * qd + 1));
            double *qe = malloc(sizeof(double) * (size_t)(qb + 1)), h1[4] = {0}, h2[4] = {0};
            int32_t *lab = malloc(sizeof(int32_t) * (size_t)(qn * qk + 1));
            double *t1, *t2, *p1 = NULL, *p2 = NULL;
            for (int64_t c = 0; c < qk; c++) { off[c] = L; nlev[c] = rint_(1, 50); L += nlev[c]; }
            for (int64_t b = 0; b <= qb; b++) qe[b] = lo + (hi - lo) * (double)b / (double)qb;
            qe[qb] = hi;
            for (int64_t i = 0; i < qn * qd; i++) {
                const int kind = (int)rint_(0, 5);
                qmu[i] = kind == 0 ? (rint_(0, 1) ? 1e6 : -1e6) : lo + (hi - lo) * (runif() * 1.4 - 0.2);
                qsd[i] = kind == 1 ? pow(10.0, (double)rint_(-12, 6)) : (hi - lo) * (0.001 + runif() * 0.3);
            }
            for (int64_t r = 0; r < qn; r++)
                for (int64_t c = 0; c < qk; c++) lab[r * qk + c] = (int32_t)(off[c] + rint_(0, nlev[c] - 1));
            t1 = calloc((size_t)(qd * (1 + L) * qb), sizeof(double));
            t2 = calloc((size_t)(qd * (1 + L) * qb), sizeof(double));
            if (fd_quantized_tables(qmu, qsd, qn, qd, qk ? lab : NULL, qk, L, qe, qb, mode, t1, h1, fb1, nt) != FD_OK ||
                fd_quantized_tables(qmu, qsd, qn, qd, qk ? lab : NULL, qk, L, qe, qb, mode, t2, h2, fb2, 1) != FD_OK) {
                fprintf(stderr, "iter %d: quantized_tables\n", it); return 1;
            }
            for (int64_t i = 0; i < qd; i++) {
                double total = 0.0, gap;
                for (int64_t b = 0; b < qb; b++) total += t1[i * (1 + L) * qb + b];
                /* mode 1's row sums fall short of 1 where the authors' 1e-8 floor binds */
                gap = mode ? total - (double)qn : fabs(total - (double)qn);
                if (!(gap <= 1e-9 * (double)qn + 1e-12) || !(total >= 0.0) || !(h1[i] >= -1e-9 * (double)qn) ||
                    h1[i] != h2[i] || fb1[i] != fb2[i] || fb1[i] < 0 || fb1[i] > qn) {
                    fprintf(stderr, "iter %d: quantized_tables code %lld: total %.17g of %lld rows, h %g\n", it,
                            (long long)i, total, (long long)qn, h1[i]); return 1;
                }
            }
            for (int64_t i = 0; i < qd * (1 + L) * qb; i++)
                if (!(t1[i] >= 0.0) || t1[i] != t2[i]) { fprintf(stderr, "iter %d: quantized_tables cell\n", it); return 1; }
            if (qn > 0 && qk > 0) { /* a label out of range is refused, not written */
                lab[rint_(0, qn * qk - 1)] = rint_(0, 1) ? -1 : (int32_t)L;
                if (fd_quantized_tables(qmu, qsd, qn, qd, lab, qk, L, qe, qb, mode, t1, h1, fb1, nt) != FD_ERR_ARGUMENT) {
                    fprintf(stderr, "iter %d: quantized_tables accepted a bad label\n", it); return 1;
                }
            }
            if (np_ > 0 && !big) {
                p1 = calloc((size_t)(np_ * qb * qb), sizeof(double));
                p2 = calloc((size_t)(np_ * qb * qb), sizeof(double));
                if (fd_quantized_pairs(qmu, qsd, qn, qd, qe, qb, p1, nt) != FD_OK ||
                    fd_quantized_pairs(qmu, qsd, qn, qd, qe, qb, p2, 1) != FD_OK) {
                    fprintf(stderr, "iter %d: quantized_pairs\n", it); return 1;
                }
                for (int64_t p = 0; p < np_; p++) {
                    double total = 0.0;
                    for (int64_t b = 0; b < qb * qb; b++) {
                        const double v = p1[p * qb * qb + b];
                        if (!(v >= 0.0) || v != p2[p * qb * qb + b]) { fprintf(stderr, "iter %d: quantized_pairs cell\n", it); return 1; }
                        total += v;
                    }
                    if (!(fabs(total - (double)qn) <= 1e-9 * (double)qn + 1e-12)) {
                        fprintf(stderr, "iter %d: quantized_pairs total %.17g of %lld\n", it, total, (long long)qn); return 1;
                    }
                }
            }
            checked++;
            free(qmu); free(qsd); free(qe); free(lab); free(t1); free(t2); free(p1); free(p2);
        }
        free(edges); free(tol); free(sc); free(off); free(mins); free(maxs); free(codes.buf); free(factors.buf);
    }
    /* fd_legacy_shuffle: any length and generator state; a shuffle cut into random
     * consecutive calls is the one-call shuffle, and it is a permutation */
    for (int it = 0; it < iters / 10 + 1; it++) {
        const int64_t n = rint_(0, it % 7 == 0 ? 70000 : 3000);
        uint32_t k1[624], k2[624];
        int p1 = (int)rint_(0, 624), p2 = p1;
        int64_t *a = malloc(sizeof(int64_t) * (size_t)(n + 1)), *b = malloc(sizeof(int64_t) * (size_t)(n + 1));
        char *seen = calloc((size_t)n + 1, 1);
        for (int i = 0; i < 624; i++) k1[i] = k2[i] = (uint32_t)rint_(0, 0xffffffffLL);
        for (int64_t i = 0; i < n; i++) a[i] = b[i] = i;
        if (n > 1 && fd_legacy_shuffle(k1, &p1, a, n, 1) != FD_OK) { fprintf(stderr, "legacy_shuffle\n"); return 1; }
        for (int64_t hi = n; hi > 1;) {
            const int64_t lo = hi - rint_(1, hi - 1);
            if (fd_legacy_shuffle(k2, &p2, b, hi, lo) != FD_OK) { fprintf(stderr, "legacy_shuffle cut\n"); return 1; }
            hi = lo;
        }
        if (p1 != p2 || memcmp(k1, k2, sizeof k1) || (n && memcmp(a, b, sizeof(int64_t) * (size_t)n))) {
            fprintf(stderr, "iter %d: legacy_shuffle depends on the cuts\n", it); return 1;
        }
        for (int64_t i = 0; i < n; i++) {
            if (a[i] < 0 || a[i] >= n || seen[a[i]]) { fprintf(stderr, "iter %d: legacy_shuffle not a permutation\n", it); return 1; }
            seen[a[i]] = 1;
        }
        if (fd_legacy_shuffle(k1, &p1, a, 1, 0) != FD_ERR_ARGUMENT || fd_legacy_shuffle(k1, &p1, a, 0, 1) != FD_ERR_ARGUMENT) {
            fprintf(stderr, "legacy_shuffle accepted bad arguments\n"); return 1;
        }
        checked++;
        free(a); free(b); free(seen);
    }
    /* fd_legacy_jobs: two jobs cut into random pieces, on 1 or 2 threads: the heads and
     * the generator states of fd_legacy_shuffle's one-call shuffles */
    for (int it = 0; it < iters / 10 + 1; it++) {
        int64_t n[2], keep[2];
        uint32_t key[2][624], ref_key[2][624];
        int ref_pos[2];
        int32_t *data[2];
        int64_t *ref[2];
        fd_legacy_job job[2];
        for (int t = 0; t < 2; t++) {
            n[t] = rint_(0, it % 7 == 0 ? 200000 : 3000);
            keep[t] = rint_(0, n[t]);
            data[t] = malloc(sizeof(int32_t) * (size_t)(n[t] + 1));
            ref[t] = malloc(sizeof(int64_t) * (size_t)(n[t] + 1));
            for (int i = 0; i < 624; i++) key[t][i] = ref_key[t][i] = (uint32_t)rint_(0, 0xffffffffLL);
            ref_pos[t] = (int)rint_(0, 624);
            for (int64_t i = 0; i < n[t]; i++) { data[t][i] = (int32_t)i; ref[t][i] = i; }
            job[t].key = key[t]; job[t].pos = ref_pos[t]; job[t].data = data[t];
            job[t].n = n[t]; job[t].keep = keep[t]; job[t].top = n[t] - 1;
            if (n[t] > 1 && fd_legacy_shuffle(ref_key[t], &ref_pos[t], ref[t], n[t], 1) != FD_OK) {
                fprintf(stderr, "legacy_shuffle (jobs)\n"); return 1;
            }
        }
        while (job[0].top > 0 || job[1].top > 0) {
            const int64_t steps = it % 3 == 0 ? n[0] + n[1] + 1 : rint_(1, 100000);
            if (fd_legacy_jobs(job[0].top > 0 ? &job[0] : NULL, rint_(0, 1) ? &job[1] : NULL, steps,
                               (int)rint_(1, 2)) != FD_OK) {
                fprintf(stderr, "iter %d: legacy_jobs\n", it); return 1;
            }
        }
        for (int t = 0; t < 2; t++) {
            if (job[t].pos != ref_pos[t] || memcmp(key[t], ref_key[t], sizeof key[t])) {
                fprintf(stderr, "iter %d: legacy_jobs generator state\n", it); return 1;
            }
            for (int64_t i = 0; i < keep[t]; i++)
                if (data[t][i] != ref[t][i]) { fprintf(stderr, "iter %d: legacy_jobs head\n", it); return 1; }
        }
        job[0].keep = n[0] + 1;
        job[1].top = n[1];
        if (fd_legacy_jobs(&job[0], NULL, 1, 1) != FD_ERR_ARGUMENT ||
            fd_legacy_jobs(NULL, &job[1], 1, 1) != FD_ERR_ARGUMENT ||
            fd_legacy_jobs(NULL, NULL, 0, 1) != FD_ERR_ARGUMENT) {
            fprintf(stderr, "legacy_jobs accepted bad arguments\n"); return 1;
        }
        checked++;
        free(data[0]); free(data[1]); free(ref[0]); free(ref[1]);
    }
    /* fd_sample_batches_sets, Z-diff's pairs: the AVX-512 draws (pairs_avx512.c, where the
     * CPU has them) give the scalar draws' bits, any group sizes (2 rows: a divisor of 1),
     * batch size (a tail of fewer than 8 pairs), thread count and sets */
    for (int it = 0; it < iters / 10 + 1; it++) {
        const int64_t n = rint_(2, it % 5 == 0 ? 20000 : 600), d = rint_(1, 11), L = rint_(1, 70);
        const int64_t nbatch = rint_(1, 60), n_keys = rint_(1, 12);
        const int nt = (int)rint_(0, 3), replace = (int)rint_(0, 1);
        double *x = malloc(sizeof(double) * (size_t)(n * d)), *o1 = malloc(sizeof(double) * (size_t)(nbatch * d)),
               *o2 = malloc(sizeof(double) * (size_t)(nbatch * d));
        int64_t *keys = malloc(sizeof(int64_t) * (size_t)n), *perm = malloc(sizeof(int64_t) * (size_t)n),
                *offsets = malloc(sizeof(int64_t) * (size_t)(n_keys + 1)), *groups = malloc(sizeof(int64_t) * (size_t)n_keys),
                *cum = malloc(sizeof(int64_t) * (size_t)(n_keys + 1)), *ids = malloc(sizeof(int64_t) * (size_t)nbatch),
                *set_of = malloc(sizeof(int64_t) * (size_t)nbatch), ng = 0;
        fd_array xa = {x, n, d, d, 1, FD_FLOAT64};
        for (int64_t i = 0; i < n * d; i++) x[i] = runif() * 4.0 - 2.0;
        /* a skewed key distribution: some groups of 2 or 3 rows */
        for (int64_t i = 0; i < n; i++) keys[i] = rint_(0, 1) ? rint_(0, n_keys - 1) : 0;
        if (n_keys > 1) { keys[0] = keys[1] = n_keys - 1; }
        if (fd_group_rows(keys, n, n_keys, offsets, perm) != FD_OK) { fprintf(stderr, "pairs: group_rows\n"); return 1; }
        cum[0] = 0;
        for (int64_t gk = 0; gk < n_keys; gk++)
            if (offsets[gk + 1] - offsets[gk] >= 2) { groups[ng] = gk; cum[ng + 1] = cum[ng] + offsets[gk + 1] - offsets[gk]; ng++; }
        for (int64_t b = 0; b < nbatch; b++) { ids[b] = rint_(0, 1000000); set_of[b] = rint_(0, 1); }
        if (ng > 0) {
            fd_groups gs = {offsets, perm, groups, cum, ng, 0, replace};
            fd_groups two[2] = {gs, gs};
            const uint64_t seed = rnd();
            two[1].n_groups = ng > 1 ? ng - 1 : ng;
            fd_set_simd(1);
            if (fd_sample_batches_sets(&xa, two, 2, set_of, FD_BATCH_PAIRS, L, seed, ids, nbatch, o1, nt) != FD_OK) {
                fprintf(stderr, "iter %d: pairs (vector)\n", it); return 1;
            }
            fd_set_simd(0);
            if (fd_sample_batches_sets(&xa, two, 2, set_of, FD_BATCH_PAIRS, L, seed, ids, nbatch, o2, 1) != FD_OK) {
                fprintf(stderr, "iter %d: pairs (scalar)\n", it); return 1;
            }
            fd_set_simd(1);
            if (memcmp(o1, o2, sizeof(double) * (size_t)(nbatch * d)) != 0) {
                fprintf(stderr, "iter %d: vector pair draws differ from the scalar ones\n", it); return 1;
            }
            checked++;
        }
        free(x); free(o1); free(o2); free(keys); free(perm); free(offsets); free(groups); free(cum);
        free(ids); free(set_of);
    }
    /* fd_twice_mann_whitney: sorted runs of any lengths (empty included), ties within and
     * across them; the naive count over all pairs */
    for (int it = 0; it < iters; it++) {
        const int64_t np_ = rint_(0, 60), nn = rint_(0, 60), levels = rint_(1, 12);
        double *pv = malloc(sizeof(double) * (size_t)(np_ + 1)), *nv = malloc(sizeof(double) * (size_t)(nn + 1));
        int64_t naive = 0, got;
        for (int64_t i = 0; i < np_; i++) pv[i] = (double)rint_(0, levels);
        for (int64_t i = 0; i < nn; i++) nv[i] = (double)rint_(0, levels);
        for (int64_t i = 1; i < np_; i++) /* insertion sorts */
            for (int64_t j = i; j > 0 && pv[j - 1] > pv[j]; j--) { const double t = pv[j]; pv[j] = pv[j - 1]; pv[j - 1] = t; }
        for (int64_t i = 1; i < nn; i++)
            for (int64_t j = i; j > 0 && nv[j - 1] > nv[j]; j--) { const double t = nv[j]; nv[j] = nv[j - 1]; nv[j - 1] = t; }
        for (int64_t i = 0; i < np_; i++)
            for (int64_t j = 0; j < nn; j++) naive += (nv[j] < pv[i]) * 2 + (nv[j] == pv[i]);
        got = fd_twice_mann_whitney(pv, np_, nv, nn);
        if (got != naive) {
            fprintf(stderr, "iter %d: twice_mann_whitney %lld, naive %lld\n", it, (long long)got, (long long)naive); return 1;
        }
        checked++;
        free(pv); free(nv);
    }
    /* fd_sample_batches_ranges / fd_sample_positions / fd_reduce_rows (the Dask path's draws):
     * the reductions of fd_sample_batches_sets, the positions (no perm) resolving to the rows
     * it read, the naive range of those rows (NaN kept), given and gathered rows reduced to the
     * same bits; a row outside the codes refused */
    for (int it = 0; it < iters / 10 + 1; it++) {
        const int64_t n = rint_(2, 400), d = rint_(1, 11), L = rint_(1, 40);
        const int64_t nbatch = rint_(0, 30), n_keys = rint_(1, 9);
        const int mode = (int)rint_(0, 2), nt = (int)rint_(0, 3), by_size = (int)rint_(0, 1);
        const int replace = (int)rint_(0, 1);
        const int64_t draws = mode == FD_BATCH_VARIANCE ? L : 2 * L;
        double *x = malloc(sizeof(double) * (size_t)(n * d)), *o1 = malloc(sizeof(double) * (size_t)(nbatch * d + 1)),
               *o2 = malloc(sizeof(double) * (size_t)(nbatch * d + 1)), *o3 = malloc(sizeof(double) * (size_t)(nbatch * d + 1)),
               *gx = malloc(sizeof(double) * (size_t)(nbatch * draws * d + 1)), r1[22], r2[22], r3[22], naive[22];
        int64_t *keys = malloc(sizeof(int64_t) * (size_t)n), *perm = malloc(sizeof(int64_t) * (size_t)n),
                *offsets = malloc(sizeof(int64_t) * (size_t)(n_keys + 1)), *groups = malloc(sizeof(int64_t) * (size_t)n_keys),
                *cum = malloc(sizeof(int64_t) * (size_t)(n_keys + 1)), *ids = malloc(sizeof(int64_t) * (size_t)(nbatch + 1)),
                *pos = malloc(sizeof(int64_t) * (size_t)(nbatch * draws + 1)), ng = 0;
        fd_array xa = {x, n, d, d, 1, FD_FLOAT64};
        for (int64_t i = 0; i < n * d; i++) x[i] = rint_(0, 200) == 0 ? NAN : runif() * 4.0 - 2.0;
        for (int64_t i = 0; i < n; i++) keys[i] = rint_(0, n_keys - 1);
        if (fd_group_rows(keys, n, n_keys, offsets, perm) != FD_OK) { fprintf(stderr, "rows: group_rows\n"); return 1; }
        cum[0] = 0;
        for (int64_t gk = 0; gk < n_keys; gk++)
            if (offsets[gk + 1] - offsets[gk] >= 2) { groups[ng] = gk; cum[ng + 1] = cum[ng] + offsets[gk + 1] - offsets[gk]; ng++; }
        for (int64_t b = 0; b < nbatch; b++) ids[b] = rint_(0, 1000000);
        if (ng > 0) {
            fd_groups gs = {offsets, perm, groups, cum, ng, by_size, replace}, np_gs = gs;
            const uint64_t seed = rnd();
            int same = 1;
            np_gs.perm = NULL;
            if (fd_sample_batches_sets(&xa, &gs, 1, NULL, mode, L, seed, ids, nbatch, o1, nt) != FD_OK ||
                fd_sample_batches_ranges(&xa, &gs, 1, NULL, mode, L, seed, ids, nbatch, o2, r1, nt) != FD_OK ||
                fd_sample_positions(n, &np_gs, 1, NULL, mode, L, seed, ids, nbatch, pos, nt) != FD_OK) {
                fprintf(stderr, "iter %d: ranges / positions\n", it); return 1;
            }
            for (int64_t j = 0; j < d; j++) { naive[j] = INFINITY; naive[d + j] = -INFINITY; }
            for (int64_t i = 0; i < nbatch * draws; i++) {
                pos[i] = perm[pos[i]];
                for (int64_t j = 0; j < d; j++) {
                    const double v = x[pos[i] * d + j];
                    gx[i * d + j] = v;
                    if (v != v || v < naive[j]) naive[j] = (naive[j] != naive[j]) ? naive[j] : v;
                    if (v != v || v > naive[d + j]) naive[d + j] = (naive[d + j] != naive[d + j]) ? naive[d + j] : v;
                }
            }
            {
                fd_array ga = {gx, nbatch * draws, d, d, 1, FD_FLOAT64};
                if (fd_reduce_rows(&xa, mode, L, pos, nbatch, o3, r2, nt) != FD_OK ||
                    fd_reduce_rows(&ga, mode, L, NULL, nbatch, o1 + 0 * d, r3, nt) != FD_OK) {
                    fprintf(stderr, "iter %d: reduce_rows\n", it); return 1;
                }
            }
            /* o1 now holds the gathered rows' reductions: all three must be o2's bits */
            if (memcmp(o1, o2, sizeof(double) * (size_t)(nbatch * d)) != 0 ||
                memcmp(o3, o2, sizeof(double) * (size_t)(nbatch * d)) != 0) same = 0;
            for (int64_t j = 0; j < 2 * d && nbatch > 0; j++) {
                const int nan = naive[j] != naive[j];
                if (nan != (r1[j] != r1[j]) || nan != (r2[j] != r2[j]) || nan != (r3[j] != r3[j]) ||
                    (!nan && (r1[j] != naive[j] || r2[j] != naive[j] || r3[j] != naive[j]))) same = 0;
            }
            if (!same) { fprintf(stderr, "iter %d: given rows / ranges differ from the draws\n", it); return 1; }
            if (nbatch > 0) {
                pos[nbatch * draws - 1] = n;
                if (fd_reduce_rows(&xa, mode, L, pos, nbatch, o3, NULL, nt) != FD_ERR_ARGUMENT) {
                    fprintf(stderr, "iter %d: reduce_rows accepted a row outside the codes\n", it); return 1;
                }
            }
            checked++;
        }
        free(x); free(o1); free(o2); free(o3); free(gx); free(keys); free(perm); free(offsets);
        free(groups); free(cum); free(ids); free(pos);
    }
    printf("fuzz_kernels: %d iterations, %d successful calls checked against the naive reference\n", iters, checked);
    return 0;
}
