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
        free(edges); free(tol); free(sc); free(off); free(mins); free(maxs); free(codes.buf); free(factors.buf);
    }
    printf("fuzz_kernels: %d iterations, %d successful calls checked against the naive reference\n", iters, checked);
    return 0;
}
