/* Contingency tables of every (factor, code) pair -- and on request every
 * (code, code) and (factor, factor) pair -- in one pass over the rows.
 *
 * Each thread bins a block of rows into L1-sized scratch (code labels and
 * factor levels), then increments its private uint32 tables row by row; the
 * private tables are added into the caller's int64 tables at the end, so the
 * counts do not depend on the number of threads. */
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* uint32 private counters cannot overflow within one pass of this many rows. */
#define FD_MAX_PASS_ROWS ((int64_t)1 << 31)

typedef struct {
    int err;
    int64_t col;   /* code column for code errors; n_codes + factor column for factor errors */
} fd_err;

static void fd_err_keep_first(fd_err *acc, int err, int64_t col)
{
    if (err && (!acc->err || col < acc->col || (col == acc->col && err < acc->err))) {
        acc->err = err; acc->col = col;
    }
}

/* Levels of factor column c for one block, as offsets into the fc table. */
static int fd_levels_block(const fd_array *f, const fd_levels *lv, int64_t c,
                           int64_t r0, int64_t nr, uint32_t *out, int64_t out_stride,
                           int64_t level_off, int64_t mult)
{
    const int32_t *lut = lv->lut + lv->lut_offset[c];
    const int64_t len = lv->lut_len[c], vmin = lv->vmin[c];
    int64_t idx = r0 * f->row_stride + c * f->col_stride;
    int err = FD_OK;
    for (int64_t r = 0; r < nr; r++, idx += f->row_stride) {
        int64_t v = fd_load_int(f->data, f->dtype, idx) - vmin;
        int32_t level = (v >= 0 && v < len) ? lut[v] : -1;
        if (level < 0) { err = FD_ERR_UNKNOWN_LEVEL; level = 0; }
        out[r * out_stride] = (uint32_t)((level_off + level) * mult);
    }
    return err;
}

static void fd_add_table(int64_t *dst, const uint32_t *src, int64_t n)
{
    for (int64_t i = 0; i < n; i++) dst[i] += src[i];
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

    if (factors->n_rows != n || nb < 1 || nb > 65536) return FD_ERR_ARGUMENT;
    level_off = (int64_t *)malloc(sizeof(int64_t) * (size_t)(k + 1));
    if (!level_off) return FD_ERR_NOMEM;
    for (int64_t c = 0; c < k; c++) { level_off[c] = L; L += levels->n_levels[c]; }
    level_off[k] = L;
    fc_size = L * d * nb;
    cc_size = cc ? d * d * nb * nb : 0;
    ff_size = ff ? L * L : 0;
    tab_size = fc_size + cc_size + ff_size;
    /* uint32 table indices: the caller keeps tables far below this */
    if (tab_size >= ((int64_t)1 << 32)) { free(level_off); return FD_ERR_ARGUMENT; }

    for (int64_t pass0 = 0; pass0 < n && !first.err; pass0 += FD_MAX_PASS_ROWS) {
        const int64_t pass_n = n - pass0 < FD_MAX_PASS_ROWS ? n - pass0 : FD_MAX_PASS_ROWS;
        const int64_t n_blocks = (pass_n + FD_BLOCK - 1) / FD_BLOCK;
        int nt = fd_resolve_threads(n_threads, pass_n);
        /* Private tables for all threads: keep them within a sane memory budget. */
        while (nt > 1 && (double)nt * (double)tab_size * 4.0 > 512.0 * 1024 * 1024) nt--;
        uint32_t **priv = (uint32_t **)calloc((size_t)nt, sizeof(uint32_t *));
        fd_err pass_err = {0, 0};
        int nomem = priv ? 0 : 1;

#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
        {
#ifdef _OPENMP
            int tid = omp_get_thread_num();
#else
            int tid = 0;
#endif
            uint32_t *tab = priv ? (uint32_t *)calloc((size_t)tab_size + 1, sizeof(uint32_t)) : NULL;
            uint32_t *fbase = (uint32_t *)malloc(sizeof(uint32_t) * (size_t)(FD_BLOCK * (k + 1)));
            uint16_t *cbin = (uint16_t *)malloc(sizeof(uint16_t) * (size_t)(FD_BLOCK * (d + 1)));
            uint32_t *cbase = (uint32_t *)malloc(sizeof(uint32_t) * (size_t)(FD_BLOCK * (d + 1)));
            fd_err my = {0, 0};
            int ok = tab && fbase && cbin && cbase;
            if (priv) priv[tid] = tab;
            if (ok) {
                uint32_t *tfc = tab, *tcc = tab + fc_size, *tff = tab + fc_size + cc_size;
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
                for (int64_t blk = 0; blk < n_blocks; blk++) {
                    const int64_t r0 = pass0 + blk * FD_BLOCK;
                    const int64_t nr = (blk + 1) * FD_BLOCK <= pass_n ? FD_BLOCK : pass_n - blk * FD_BLOCK;
                    /* scratch is row-major: row r of the block at [r * d] / [r * k] */
                    for (int64_t j = 0; j < d; j++)
                        fd_err_keep_first(&my, fd_bin_block(codes, bins, j, r0, nr, cbin + j, d, 0), j);
                    for (int64_t c = 0; c < k; c++)
                        fd_err_keep_first(&my, fd_levels_block(factors, levels, c, r0, nr, fbase + c, k,
                                                               level_off[c], d * nb), d + c);
                    for (int64_t r = 0; r < nr; r++) {
                        const uint16_t *b = cbin + r * d;
                        const uint32_t *fb = fbase + r * k;
                        uint32_t *cb = cbase + r * d;
                        for (int64_t j = 0; j < d; j++) cb[j] = (uint32_t)(j * nb + b[j]);
                        for (int64_t c = 0; c < k; c++) {
                            uint32_t *t = tfc + fb[c];
                            for (int64_t j = 0; j < d; j++) t[cb[j]]++;
                        }
                    }
                    if (cc) {
                        for (int64_t r = 0; r < nr; r++) {
                            const uint16_t *b = cbin + r * d;
                            for (int64_t j = 0; j < d; j++) {
                                uint32_t *t = tcc + ((j * d) * nb + b[j]) * nb;
                                for (int64_t l = j + 1; l < d; l++) t[l * nb * nb + b[l]]++;
                            }
                        }
                    }
                    if (ff) {
                        for (int64_t r = 0; r < nr; r++) {
                            const uint32_t *fb = fbase + r * k;
                            for (int64_t c = 0; c < k; c++) {
                                uint32_t *t = tff + (fb[c] / (uint32_t)(d * nb)) * L;
                                for (int64_t e = c + 1; e < k; e++) t[fb[e] / (uint32_t)(d * nb)]++;
                            }
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
            free(fbase); free(cbin); free(cbase);
        }
        if (!nomem && !pass_err.err) {
            /* merge in thread order: integer sums, so the result is exact anyway */
            for (int t = 0; t < nt; t++) {
                fd_add_table(fc, priv[t], fc_size);
                if (cc) fd_add_table(cc, priv[t] + fc_size, cc_size);
                if (ff) fd_add_table(ff, priv[t] + fc_size + cc_size, ff_size);
            }
        }
        if (priv) for (int t = 0; t < nt; t++) free(priv[t]);
        free(priv);
        if (nomem) { free(level_off); return FD_ERR_NOMEM; }
        first = pass_err;
    }
    free(level_off);
    if (first.err) { *err_col = first.col; return first.err; }
    return FD_OK;
}
