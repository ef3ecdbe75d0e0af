/* Contingency tables of every (factor, code) pair -- and on request every
 * (code, code) and (factor, factor) pair -- in one pass over the rows.
 *
 * Each thread bins a block of rows into L1-sized scratch (code labels and
 * factor levels, already turned into table offsets), then increments its
 * private uint32 tables row by row; the private tables are added into the
 * caller's int64 tables at the end, so counts never depend on the thread count. */
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* uint32 private counters cannot overflow within one pass of this many rows. */
#define FD_MAX_PASS_ROWS ((int64_t)1 << 31)
/* Private tables of all threads together stay below this many bytes. */
#define FD_MAX_PRIVATE_BYTES (512.0 * 1024 * 1024)

/* Tests switch factor pairing off to compare both ways of counting. */
static int fd_pairing_enabled = 1;

void fd_set_pairing(int enabled) { fd_pairing_enabled = enabled ? 1 : 0; }

/* Largest joint level count of two factors counted as a pair: the pair's table
 * (joint levels x codes x bins) stays near L2-sized. */
#define FD_MAX_PAIR_LEVELS 128

/* out[r * os] = (first + level of row r) * mult, for one block of factor column c. */
#define FD_DEFINE_LEVEL_BLOCK(SUF, T)                                                  \
    static int fd_level_block_##SUF(const T *x, int64_t rs, int64_t nr,                \
                                    const fd_levels *lv, int64_t c,                    \
                                    uint32_t first, uint32_t mult, uint32_t *out,      \
                                    int64_t os)                                        \
    {                                                                                  \
        int bad = 0;                                                                   \
        for (int64_t r = 0; r < nr; r++) {                                             \
            const int32_t level = fd_lookup_##SUF(x[r * rs], lv, c);                   \
            bad |= level < 0;                                                          \
            out[r * os] = (first + (uint32_t)(level < 0 ? 0 : level)) * mult;          \
        }                                                                              \
        return bad;                                                                    \
    }
FD_FOR_INT_TYPES(FD_DEFINE_LEVEL_BLOCK)

static int fd_level_block(const fd_array *f, const fd_levels *lv, int64_t c, int64_t r0,
                          int64_t nr, uint32_t first, uint32_t mult, uint32_t *out, int64_t os)
{
    const char *x = (const char *)f->data +
                    (r0 * f->row_stride + c * f->col_stride) * fd_itemsize(f->dtype);
    int bad = 0;
    FD_INT_DISPATCH(f->dtype, bad = fd_level_block, (const void *)x, f->row_stride, nr, lv, c,
                    first, mult, out, os)
    return bad ? FD_ERR_UNKNOWN_LEVEL : FD_OK;
}

/* Factors counted together: group g holds factor a[g] and, for a pair, b[g] (-1 if none);
 * a row's offset in the private tables is base[g] + level_a * ma[g] + level_b * mb. */
typedef struct {
    int64_t n, *a, *b;
    uint32_t *base, *ma, mb;
} fd_pairing;

/* fo[r * G + g] = the table offset of row r0 + r in group g, for one block of rows.
 * Returns the lowest factor column holding a value without a level, or k. */
#define FD_DEFINE_GROUP_OFFSETS(SUF, T)                                                \
    static int64_t fd_group_offsets_##SUF(const void *xv, int64_t rs, int64_t cs,      \
                                          int64_t nr, int64_t k, const fd_levels *lv,  \
                                          const fd_pairing *gr, uint32_t *FD_RESTRICT fo) \
    {                                                                                  \
        const int64_t G = gr->n;                                                       \
        int64_t bad = k;                                                               \
        for (int64_t g = 0; g < G; g++) {                                              \
            const int64_t a = gr->a[g], b = gr->b[g];                                  \
            const T *xa = (const T *)xv + a * cs;                                      \
            const int32_t *luta = lv->lut + lv->lut_offset[a];                         \
            const uint64_t lena = (uint64_t)lv->lut_len[a];                            \
            const uint32_t nla = (uint32_t)lv->n_levels[a];                            \
            const int64_t mina = lv->vmin[a];                                          \
            const uint32_t base = gr->base[g], ma = gr->ma[g], mb = gr->mb;            \
            int bad_a = 0, bad_b = 0;                                                  \
            if (b < 0) {                                                               \
                for (int64_t r = 0; r < nr; r++) {                                     \
                    const uint64_t va = fd_rel_##SUF(xa[r * rs], mina);                \
                    const uint32_t la = va < lena ? (uint32_t)luta[va] : UINT32_MAX;   \
                    const int oka = la < nla; /* -1 and stray entries alike */         \
                    bad_a |= !oka;                                                     \
                    fo[r * G + g] = base + (oka ? la : 0) * ma;                        \
                }                                                                      \
            } else {                                                                   \
                const T *xb = (const T *)xv + b * cs;                                  \
                const int32_t *lutb = lv->lut + lv->lut_offset[b];                     \
                const uint64_t lenb = (uint64_t)lv->lut_len[b];                        \
                const uint32_t nlb = (uint32_t)lv->n_levels[b];                        \
                const int64_t minb = lv->vmin[b];                                      \
                for (int64_t r = 0; r < nr; r++) {                                     \
                    const uint64_t va = fd_rel_##SUF(xa[r * rs], mina);                \
                    const uint64_t vb = fd_rel_##SUF(xb[r * rs], minb);                \
                    const uint32_t la = va < lena ? (uint32_t)luta[va] : UINT32_MAX;   \
                    const uint32_t lb = vb < lenb ? (uint32_t)lutb[vb] : UINT32_MAX;   \
                    const int oka = la < nla, okb = lb < nlb;                          \
                    bad_a |= !oka;                                                     \
                    bad_b |= !okb;                                                     \
                    fo[r * G + g] = base + (oka ? la : 0) * ma + (okb ? lb : 0) * mb;  \
                }                                                                      \
            }                                                                          \
            if (bad_a && a < bad) bad = a;                                             \
            if (bad_b && b < bad) bad = b;                                             \
        }                                                                              \
        return bad;                                                                    \
    }
FD_FOR_INT_TYPES(FD_DEFINE_GROUP_OFFSETS)

static int64_t fd_group_offsets(const fd_array *f, const fd_levels *lv, const fd_pairing *gr,
                                int64_t r0, int64_t nr, uint32_t *fo)
{
    const char *x = (const char *)f->data + r0 * f->row_stride * fd_itemsize(f->dtype);
    int64_t bad = f->n_cols;
    FD_INT_DISPATCH(f->dtype, bad = fd_group_offsets, (const void *)x, f->row_stride,
                    f->col_stride, nr, f->n_cols, lv, gr, fo)
    return bad;
}

static void fd_add_table(int64_t *dst, const uint32_t *src, int64_t n)
{
    for (int64_t i = 0; i < n; i++) dst[i] += src[i];
}

/* The hot loop: for each factor group, for each row, d increments in the group's table.
 * fo[r*k + c] is the row's offset of group c's level; co[r*d + j] = j*nb + label.
 * Counters are uint16, flushed into uint32 before they can overflow, and groups go one at
 * a time, so the table being incremented (levels x d x nb, ~28 KiB for a pair of 10-level
 * factors, 10 codes, 20 bins) stays in L1.  Written once per small d (unrolled). */
#define FD_DEFINE_COUNT(D)                                                             \
    static void fd_count_fc_##D(uint16_t *tab, const uint32_t *fo, const uint32_t *co,   \
                                int64_t nr, int64_t k)                                 \
    {                                                                                  \
        for (int64_t c = 0; c < k; c++) {                                              \
            for (int64_t r = 0; r < nr; r++) {                                         \
                uint16_t *t = tab + fo[r * k + c];                                     \
                for (int j = 0; j < D; j++) t[co[r * D + j]]++;                        \
            }                                                                          \
        }                                                                              \
    }
FD_DEFINE_COUNT(1) FD_DEFINE_COUNT(2) FD_DEFINE_COUNT(3) FD_DEFINE_COUNT(4)
FD_DEFINE_COUNT(5) FD_DEFINE_COUNT(6) FD_DEFINE_COUNT(7) FD_DEFINE_COUNT(8)
FD_DEFINE_COUNT(9) FD_DEFINE_COUNT(10) FD_DEFINE_COUNT(11) FD_DEFINE_COUNT(12)
FD_DEFINE_COUNT(13) FD_DEFINE_COUNT(14) FD_DEFINE_COUNT(15) FD_DEFINE_COUNT(16)

static void fd_count_fc(uint16_t *tab, const uint32_t *fo, const uint32_t *co,
                        int64_t nr, int64_t k, int64_t d)
{
    typedef void (*count_fn)(uint16_t *, const uint32_t *, const uint32_t *, int64_t, int64_t);
    static const count_fn fixed[17] = {
        NULL, fd_count_fc_1, fd_count_fc_2, fd_count_fc_3, fd_count_fc_4, fd_count_fc_5,
        fd_count_fc_6, fd_count_fc_7, fd_count_fc_8, fd_count_fc_9, fd_count_fc_10,
        fd_count_fc_11, fd_count_fc_12, fd_count_fc_13, fd_count_fc_14, fd_count_fc_15,
        fd_count_fc_16};
    if (d <= 16) {
        fixed[d](tab, fo, co, nr, k);
        return;
    }
    for (int64_t c = 0; c < k; c++) {
        for (int64_t r = 0; r < nr; r++) {
            const uint32_t *cr = co + r * d;
            uint16_t *t = tab + fo[r * k + c];
            for (int64_t j = 0; j < d; j++) t[cr[j]]++;
        }
    }
}

/* Rows counted into uint16 tables between flushes: one row adds at most 1 to a counter. */
#define FD_FLUSH_ROWS 65535

static void fd_flush16(uint32_t *dst, uint16_t *src, int64_t n)
{
    for (int64_t i = 0; i < n; i++) dst[i] += src[i];
    memset(src, 0, sizeof(uint16_t) * (size_t)n);
}

/* The factor groups of the pass: consecutive factors c, c + 1 are counted as a pair when
 * their joint levels are at most FD_MAX_PAIR_LEVELS (and pairing is on).  Fills g_a, g_b
 * (-1: no pair), g_nb (levels of b, 1 without) and g_off (the group's first level) when
 * they are not NULL; returns the number of groups, and the levels of all groups in *Lg. */
static int64_t fd_factor_groups(const int64_t *n_levels, int64_t k, int pairs, int64_t *g_a,
                                int64_t *g_b, int64_t *g_nb, int64_t *g_off, double *Lg)
{
    int64_t G = 0;
    *Lg = 0.0;
    for (int64_t c = 0; c < k; c++, G++) {
        const int64_t na = n_levels[c];
        const int pair = pairs && c + 1 < k && (double)na * (double)n_levels[c + 1] <= FD_MAX_PAIR_LEVELS;
        const int64_t mb = pair ? n_levels[c + 1] : 1;
        if (g_a) { g_a[G] = c; g_b[G] = pair ? c + 1 : -1; g_nb[G] = mb; g_off[G] = (int64_t)*Lg; }
        *Lg += (double)na * (double)mb;
        c += pair;
    }
    return G;
}

/* Bytes of one counting thread's private tables: uint32 counts of the factor groups (and of
 * the code and factor pairs asked for) plus the uint16 tables of the hot loop.  In double:
 * exact below 2^53 bytes, and no overflow for the absurd sizes callers must refuse. */
static double fd_private_bytes(double Lg, double L, int64_t d, int64_t nb, int cc, int ff)
{
    const double gc = Lg * (double)d * (double)nb;
    const double extra = (cc ? (double)d * d * (double)nb * nb : 0.0) + (ff ? L * L : 0.0);
    return 4.0 * (gc + extra) + 2.0 * gc;
}

double fd_histogram_private_bytes(const int64_t *n_levels, int64_t k, int64_t d, int64_t nb,
                                  int code_pairs, int factor_pairs)
{
    double Lg, L = 0.0;
    for (int64_t c = 0; c < k; c++) L += (double)n_levels[c];
    fd_factor_groups(n_levels, k, fd_pairing_enabled, NULL, NULL, NULL, NULL, &Lg);
    return fd_private_bytes(Lg, L, d, nb, code_pairs, factor_pairs);
}

/* Threads a pass uses: n_threads, fewer while their private tables together would pass
 * FD_MAX_PRIVATE_BYTES, never fewer than one. */
int fd_histogram_threads(int n_threads, double private_bytes)
{
    int nt = n_threads < 1 ? 1 : n_threads;
    while (nt > 1 && (double)nt * private_bytes > FD_MAX_PRIVATE_BYTES) nt--;
    return nt;
}

int fd_joint_histogram(const fd_array *factors, const fd_levels *levels,
                       const fd_array *codes, const fd_binning *bins,
                       int64_t *fc, int64_t *cc, int64_t *ff,
                       int64_t *err_col, int n_threads)
{
    const int64_t n = codes->n_rows, d = codes->n_cols, k = factors->n_cols;
    const int64_t nb = bins->n_bins;
    int64_t L = 0, *level_off;
    int64_t fc_size, cc_size, ff_size, tab_size;
    fd_err first = {0, 0};

    if (factors->n_rows != n || nb < 1 || nb > 65536 || d < 1 || k < 1 || !fd_levels_ok(levels, k))
        return FD_ERR_ARGUMENT;
    level_off = (int64_t *)malloc(sizeof(int64_t) * (size_t)(k + 1));
    if (!level_off) return FD_ERR_NOMEM;
    for (int64_t c = 0; c < k; c++) { level_off[c] = L; L += levels->n_levels[c]; }
    level_off[k] = L;
    fc_size = L * d * nb;
    cc_size = cc ? d * d * nb * nb : 0;
    ff_size = ff ? L * L : 0;
    tab_size = fc_size + cc_size + ff_size;
    /* table offsets are uint32: the caller keeps tables far below this */
    if (tab_size >= ((int64_t)1 << 32)) { free(level_off); return FD_ERR_ARGUMENT; }

    fd_rowbins *rowbins = fd_rowbins_new(codes, bins); /* NULL: per-column scalar binning */

    /* Factors are counted in pairs when their joint levels are few: one increment then
     * serves two factors, and the pair's table is summed into both at the end. */
    int64_t G = 0, Lg = 0;
    int64_t *g_a = (int64_t *)malloc(sizeof(int64_t) * (size_t)(4 * k + 1));
    int64_t *g_b = g_a ? g_a + k : NULL, *g_nb = g_a ? g_b + k : NULL;
    int64_t *g_off = g_a ? g_nb + k : NULL;
    uint32_t *g_u32 = (uint32_t *)malloc(sizeof(uint32_t) * (size_t)(2 * k + 1));
    const int pairs = fd_pairing_enabled;
    fd_pairing groups;
    if (!g_a || !g_u32) { free(level_off); free(g_a); free(g_u32); fd_rowbins_free(rowbins); return FD_ERR_NOMEM; }
    double Lg_d;
    G = fd_factor_groups(levels->n_levels, k, pairs, g_a, g_b, g_nb, g_off, &Lg_d);
    Lg = (int64_t)Lg_d; /* a pair has at most FD_MAX_PAIR_LEVELS levels: Lg <= L + 128 k */
    groups.n = G; groups.a = g_a; groups.b = g_b;
    groups.base = g_u32; groups.ma = g_u32 + k; groups.mb = (uint32_t)(d * nb);
    for (int64_t g = 0; g < G; g++) { /* below 2^32: checked with ptab_size next */
        groups.base[g] = (uint32_t)(g_off[g] * d * nb);
        groups.ma[g] = (uint32_t)(g_nb[g] * d * nb);
    }
    const int64_t gc_size = Lg * d * nb; /* private tables: pairs instead of fc */
    const int64_t ptab_size = gc_size + cc_size + ff_size;
    if (ptab_size >= ((int64_t)1 << 32)) { free(level_off); free(g_a); free(g_u32); fd_rowbins_free(rowbins); return FD_ERR_ARGUMENT; }

    for (int64_t pass0 = 0; pass0 < n && !first.err; pass0 += FD_MAX_PASS_ROWS) {
        const int64_t pass_n = fd_min64(n - pass0, FD_MAX_PASS_ROWS);
        const int64_t n_blocks = (pass_n + FD_BLOCK - 1) / FD_BLOCK;
        int nt = fd_resolve_threads(n_threads, pass_n);
        uint32_t **priv;
        fd_err pass_err = {0, 0};
        int nomem = 0;

        nt = fd_histogram_threads(nt, fd_private_bytes(Lg_d, (double)L, d, nb, cc != NULL, ff != NULL));
        /* calloc: every slot starts NULL and stays NULL for a thread that never ran --
         * OpenMP may grant a smaller team than nt (OMP_THREAD_LIMIT, OMP_DYNAMIC, nested
         * regions) -- and the merge below skips NULL slots */
        priv = (uint32_t **)calloc((size_t)nt, sizeof(uint32_t *));
        if (!priv) { free(level_off); free(g_a); free(g_u32); fd_rowbins_free(rowbins); return FD_ERR_NOMEM; }

#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
        {
#ifdef _OPENMP
            const int tid = omp_get_thread_num();
#else
            const int tid = 0;
#endif
            uint32_t *tab = (uint32_t *)calloc((size_t)ptab_size + 1, sizeof(uint32_t));
            uint16_t *hot = (uint16_t *)calloc((size_t)gc_size + 1, sizeof(uint16_t));
            int64_t unflushed = 0;
            uint32_t *fo = (uint32_t *)malloc(sizeof(uint32_t) * (size_t)(FD_BLOCK * G));
            uint32_t *co = (uint32_t *)malloc(sizeof(uint32_t) * (size_t)(FD_BLOCK * d));
            uint32_t *lv = ff ? (uint32_t *)malloc(sizeof(uint32_t) * (size_t)(FD_BLOCK * k)) : NULL;
            const int ok = tab && hot && fo && co && (!ff || lv);
            fd_err my = {0, 0};
            priv[tid] = tab;
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
            for (int64_t blk = 0; blk < n_blocks; blk++) {
                const int64_t r0 = pass0 + blk * FD_BLOCK;
                const int64_t nr = fd_min64(FD_BLOCK, pass_n - blk * FD_BLOCK);
                if (!ok) continue;
                if (!rowbins || fd_bin_rows_avx2(codes, rowbins, r0, nr, co))
                    for (int64_t j = 0; j < d; j++) /* scalar, or the exact error of a bad block */
                        fd_err_keep_first(&my, fd_bin_block(codes, bins, j, r0, nr, co + j, d,
                                                            (uint32_t)(j * nb)), j);
                {
                    const int64_t bad = fd_group_offsets(factors, levels, &groups, r0, nr, fo);
                    if (bad < k) fd_err_keep_first(&my, FD_ERR_UNKNOWN_LEVEL, d + bad);
                }
                if (unflushed + nr > FD_FLUSH_ROWS) { fd_flush16(tab, hot, gc_size); unflushed = 0; }
                fd_count_fc(hot, fo, co, nr, G, d);
                unflushed += nr;
                if (cc) {
                    uint32_t *tcc = tab + gc_size;
                    for (int64_t r = 0; r < nr; r++) {
                        const uint32_t *cr = co + r * d; /* j*nb + label */
                        for (int64_t j = 0; j < d; j++) {
                            uint32_t *t = tcc + (j * d * nb + (cr[j] - j * nb)) * nb;
                            for (int64_t l = j + 1; l < d; l++)
                                t[l * nb * nb + (cr[l] - l * nb)]++;
                        }
                    }
                }
                if (ff) {
                    uint32_t *tff = tab + gc_size + cc_size;
                    for (int64_t c = 0; c < k; c++)
                        fd_level_block(factors, levels, c, r0, nr, (uint32_t)level_off[c], 1,
                                       lv + c, k);
                    for (int64_t r = 0; r < nr; r++) {
                        const uint32_t *lr = lv + r * k;
                        for (int64_t c = 0; c < k; c++) {
                            uint32_t *t = tff + (int64_t)lr[c] * L;
                            for (int64_t e = c + 1; e < k; e++) t[lr[e]]++;
                        }
                    }
                }
            }
#ifdef _OPENMP
#pragma omp critical(fd_hist_err)
#endif
            {
                if (!ok) nomem = 1;
                fd_err_keep_first(&pass_err, my.err, my.col);
            }
            if (ok) fd_flush16(tab, hot, gc_size);
            free(hot); free(fo); free(co); free(lv);
        }
        if (!nomem && !pass_err.err) {
            /* thread order is fixed, and integer sums are exact anyway */
            const int64_t row = d * nb;
            for (int t = 0; t < nt; t++) {
                if (!priv[t]) continue;
                for (int64_t g = 0; g < G; g++) { /* marginals of each pair into fc */
                    const int64_t a = g_a[g], b = g_b[g], na = levels->n_levels[a];
                    for (int64_t la = 0; la < na; la++)
                        for (int64_t lb = 0; lb < g_nb[g]; lb++) {
                            const uint32_t *src = priv[t] + (g_off[g] + la * g_nb[g] + lb) * row;
                            fd_add_table(fc + (level_off[a] + la) * row, src, row);
                            if (b >= 0) fd_add_table(fc + (level_off[b] + lb) * row, src, row);
                        }
                }
                if (cc) fd_add_table(cc, priv[t] + gc_size, cc_size);
                if (ff) fd_add_table(ff, priv[t] + gc_size + cc_size, ff_size);
            }
        }
        for (int t = 0; t < nt; t++) free(priv[t]);
        free(priv);
        if (nomem) { free(level_off); free(g_a); free(g_u32); fd_rowbins_free(rowbins); return FD_ERR_NOMEM; }
        first = pass_err;
    }
    free(level_off);
    free(g_a);
    free(g_u32);
    fd_rowbins_free(rowbins);
    if (first.err) { *err_col = first.col; return first.err; }
    return FD_OK;
}
