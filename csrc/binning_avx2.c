/* Row-wise binning of C-ordered code blocks with AVX2, four codes of a row at a time.
 *
 * Same labels as fd_bin_uniform: the guess floor((t - e0) * inv_w), clamped, is the
 * label unless it lies within fd_tolerance of a bin boundary; only such (rare) groups
 * of four are corrected by one step against the exact edges (gathered), which is exact
 * because the guess is off by less than one bin (the caller checks tolerance < 0.25).
 * Compiled for AVX2 through a function attribute and used only when the CPU has it,
 * so the rest of the library keeps the baseline instruction set. */
#include <stdlib.h>

#include "common.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(FASTDIS_NO_SIMD)
#define FD_HAVE_AVX2_PATH 1
#include <immintrin.h>
#endif

struct fd_rowbins {
    int64_t d, dpad;    /* codes, rounded up to a multiple of 8 */
    int nb;
    double *ep;         /* [dpad * (nb + 1)]: -inf, e[1], ..., e[nb-1], +inf */
    double *e0, *inv_w, *sc, *off;  /* [dpad] */
    double *elast;      /* [dpad]: e[nb], the upper edge (range checks) */
    double *near;       /* [dpad]: 0.5 - tol: a guess this far from a bin's middle is checked */
    int check;          /* values outside [e0, elast] are reported (bins->check_range) */
    int32_t *base;      /* [dpad]: j * (nb + 1), offset of column j in ep */
    int32_t *add;       /* [dpad]: j * nb, the label offset the histogram wants */
    int avx512;         /* bin eight codes at a time */
};

/* Tests switch the SIMD path off to compare it with the scalar one. */
static int fd_simd_enabled = 1;

void fd_set_simd(int enabled) { fd_simd_enabled = enabled ? 1 : 0; }

int fd_avx2_available(void)
{
#ifdef FD_HAVE_AVX2_PATH
    __builtin_cpu_init();
    return fd_simd_enabled && __builtin_cpu_supports("avx2") ? 1 : 0;
#else
    return 0;
#endif
}

void fd_rowbins_free(fd_rowbins *rb)
{
    if (!rb) return;
    free(rb->ep); free(rb->e0); free(rb->base);
    free(rb);
}

fd_rowbins *fd_rowbins_new(const fd_array *codes, const fd_binning *bins)
{
    fd_rowbins *rb;
    const int64_t d = codes->n_cols;
    const int nb = bins->n_bins;
    if (!fd_avx2_available() || codes->col_stride != 1 || nb < 1 ||
        (codes->dtype != FD_FLOAT32 && codes->dtype != FD_FLOAT64))
        return NULL;
    for (int64_t j = 0; j < d; j++) {
        double iw = fd_inv_width(bins, j);
        if (!(iw > 0.0) || fd_tolerance(bins, j) >= 0.25) return NULL;
    }
    rb = (fd_rowbins *)calloc(1, sizeof(fd_rowbins));
    if (!rb) return NULL;
    rb->d = d; rb->dpad = (d + 7) & ~(int64_t)7; rb->nb = nb;
    rb->ep = (double *)malloc(sizeof(double) * (size_t)(rb->dpad * (nb + 1)));
    rb->e0 = (double *)malloc(sizeof(double) * (size_t)(6 * rb->dpad));
    rb->base = (int32_t *)malloc(sizeof(int32_t) * (size_t)(2 * rb->dpad));
    if (!rb->ep || !rb->e0 || !rb->base || rb->dpad * (nb + 1) > INT32_MAX) {
        fd_rowbins_free(rb);
        return NULL;
    }
    rb->inv_w = rb->e0 + rb->dpad; rb->sc = rb->inv_w + rb->dpad; rb->off = rb->sc + rb->dpad;
    rb->elast = rb->off + rb->dpad;
    rb->near = rb->elast + rb->dpad;
    rb->check = bins->check_range;
    rb->avx512 = fd_avx512_available();
    rb->add = rb->base + rb->dpad;
    for (int64_t j = 0; j < rb->dpad; j++) {
        const int64_t src = j < d ? j : 0; /* padding lanes repeat column 0 and are never stored */
        const double *e = bins->edges + src * (nb + 1);
        double *ep = rb->ep + j * (nb + 1);
        ep[0] = -INFINITY;
        for (int i = 1; i < nb; i++) ep[i] = e[i];
        ep[nb] = INFINITY;
        rb->e0[j] = e[0];
        rb->elast[j] = e[nb];
        rb->inv_w[j] = fd_inv_width(bins, src);
        rb->sc[j] = bins->scale[src];
        rb->off[j] = bins->offset[src];
        rb->near[j] = 0.5 - fd_tolerance(bins, src);
        rb->base[j] = (int32_t)(j * (nb + 1));
        rb->add[j] = (int32_t)(j * nb);
    }
    return rb;
}

#ifdef FD_HAVE_AVX2_PATH
/* Rows ahead whose codes are requested while binning the first group of codes: the
 * hardware prefetcher alone leaves the loads waiting. */
#define FD_PREFETCH_ROWS 64

static inline void fd_prefetch_ahead(const fd_array *codes, int64_t row)
{
    if (row + FD_PREFETCH_ROWS < codes->n_rows)
        _mm_prefetch((const char *)codes->data +
                         (row + FD_PREFETCH_ROWS) * codes->row_stride * fd_itemsize(codes->dtype),
                     _MM_HINT_T0);
}

/* fd_lane_mask32 + 4 - lanes: the first `lanes` of 4 int32 lanes set */
static const int32_t fd_lane_mask32[8] = {-1, -1, -1, -1, 0, 0, 0, 0};

__attribute__((target("avx2")))
static int fd_bin_rows_avx2_impl(const fd_array *codes, const fd_rowbins *rb, int64_t r0,
                                 int64_t nr, uint32_t *out)
{
    __m256d inside = _mm256_castsi256_pd(_mm256_set1_epi64x(-1));
    const int64_t d = rb->d, rs = codes->row_stride;
    const __m256d zero = _mm256_setzero_pd(), one = _mm256_set1_pd(1.0), half = _mm256_set1_pd(0.5);
    const __m256d top = _mm256_set1_pd((double)rb->nb - 0.5);
    const __m256d abs_mask = _mm256_castsi256_pd(_mm256_set1_epi64x(INT64_MAX));
    const int f32 = codes->dtype == FD_FLOAT32;
    /* four codes outer, rows inner: the block is in cache, the column constants in registers */
    for (int64_t j = 0; j < d; j += 4) {
        const int64_t lanes = d - j < 4 ? d - j : 4;
        const __m256d e0 = _mm256_loadu_pd(rb->e0 + j), iw = _mm256_loadu_pd(rb->inv_w + j);
        const __m256d sc = _mm256_loadu_pd(rb->sc + j), off = _mm256_loadu_pd(rb->off + j);
        const __m256d elast = _mm256_loadu_pd(rb->elast + j), near = _mm256_loadu_pd(rb->near + j);
        const __m128i base = _mm_loadu_si128((const __m128i *)(rb->base + j));
        const __m128i add = _mm_loadu_si128((const __m128i *)(rb->add + j));
        const __m128i mask32 = _mm_loadu_si128((const __m128i *)(fd_lane_mask32 + 4 - lanes));
        const __m256i mask64 = _mm256_cvtepi32_epi64(mask32);
        const __m256d unused = _mm256_castsi256_pd(_mm256_xor_si256(mask64, _mm256_set1_epi64x(-1)));
        for (int64_t r = 0; r < nr; r++) {
            __m256d t, g, dev;
            __m128i bi;
            if (j == 0) fd_prefetch_ahead(codes, r0 + r);
            if (f32) {
                const float *x = (const float *)codes->data + (r0 + r) * rs + j;
                t = _mm256_cvtps_pd(_mm_maskload_ps(x, mask32));
            } else {
                const double *x = (const double *)codes->data + (r0 + r) * rs + j;
                t = _mm256_maskload_pd(x, mask64);
            }
            t = _mm256_mul_pd(t, sc);
            t = _mm256_add_pd(t, off);
            if (rb->check) { /* NaN fails both comparisons too */
                const __m256d ok = _mm256_and_pd(_mm256_cmp_pd(t, e0, _CMP_GE_OQ),
                                                 _mm256_cmp_pd(t, elast, _CMP_LE_OQ));
                inside = _mm256_and_pd(inside, _mm256_or_pd(ok, unused));
            }
            g = _mm256_mul_pd(_mm256_sub_pd(t, e0), iw);
            g = _mm256_max_pd(g, zero); /* NaN -> 0 */
            g = _mm256_min_pd(g, top);
            bi = _mm256_cvttpd_epi32(g);
            /* floor(g) is the label unless g lies within tol of a bin boundary (rare):
             * only then compare t with the exact edges */
            dev = _mm256_and_pd(_mm256_sub_pd(_mm256_sub_pd(g, _mm256_cvtepi32_pd(bi)), half), abs_mask);
            if (_mm256_movemask_pd(_mm256_andnot_pd(unused, _mm256_cmp_pd(dev, near, _CMP_GT_OQ)))) {
                const __m128i idx = _mm_add_epi32(base, bi);
                const __m256d lo = _mm256_i32gather_pd(rb->ep, idx, 8);
                const __m256d hi = _mm256_i32gather_pd(rb->ep + 1, idx, 8);
                __m256d b = _mm256_cvtepi32_pd(bi);
                b = _mm256_add_pd(b, _mm256_and_pd(_mm256_cmp_pd(t, hi, _CMP_GE_OQ), one));
                b = _mm256_sub_pd(b, _mm256_and_pd(_mm256_cmp_pd(t, lo, _CMP_LT_OQ), one));
                bi = _mm256_cvttpd_epi32(b);
            }
            _mm_maskstore_epi32((int *)(out + r * d + j), mask32, _mm_add_epi32(bi, add));
        }
    }
    return _mm256_movemask_pd(inside) != 0xF;
}
#endif

#ifdef FD_HAVE_AVX2_PATH
/* Row-wise min/max of a C-ordered block, four codes at a time; lo/hi hold d values. */
__attribute__((target("avx2")))
static int fd_minmax_rows_avx2_impl(const fd_array *codes, int64_t r0, int64_t nr, double *lo,
                                    double *hi)
{
    const int64_t d = codes->n_cols, rs = codes->row_stride;
    const int f32 = codes->dtype == FD_FLOAT32;
    __m256d bad = _mm256_setzero_pd();
    for (int64_t j = 0; j < d; j += 4) {
        const int64_t lanes = d - j < 4 ? d - j : 4;
        const __m128i mask32 = _mm_loadu_si128((const __m128i *)(fd_lane_mask32 + 4 - lanes));
        const __m256i mask64 = _mm256_cvtepi32_epi64(mask32);
        /* masked-off lanes load 0.0: harmless for the min/max of the lanes that are stored */
        __m256d l = _mm256_set1_pd(INFINITY), h = _mm256_set1_pd(-INFINITY);
        for (int64_t r = 0; r < nr; r++) {
            __m256d v;
            if (f32) v = _mm256_cvtps_pd(_mm_maskload_ps((const float *)codes->data + (r0 + r) * rs + j, mask32));
            else v = _mm256_maskload_pd((const double *)codes->data + (r0 + r) * rs + j, mask64);
            l = _mm256_min_pd(v, l); /* NaN in v: keeps l (second operand) */
            h = _mm256_max_pd(v, h);
            bad = _mm256_or_pd(bad, _mm256_cmp_pd(_mm256_sub_pd(v, v), _mm256_setzero_pd(), _CMP_NEQ_UQ));
        }
        {
            double lv[4], hv[4];
            _mm256_storeu_pd(lv, l);
            _mm256_storeu_pd(hv, h);
            for (int64_t q = 0; q < lanes; q++) {
                lo[j + q] = lv[q] < lo[j + q] ? lv[q] : lo[j + q];
                hi[j + q] = hv[q] > hi[j + q] ? hv[q] : hi[j + q];
            }
        }
    }
    return _mm256_movemask_pd(bad) != 0;
}
#endif

int fd_minmax_rows_avx2(const fd_array *codes, int64_t r0, int64_t nr, double *lo, double *hi)
{
#ifdef FD_HAVE_AVX2_PATH
    return fd_minmax_rows_avx2_impl(codes, r0, nr, lo, hi);
#else
    (void)codes; (void)r0; (void)nr; (void)lo; (void)hi;
    return 0;
#endif
}

#ifdef FD_HAVE_AVX2_PATH
/* The same with AVX-512, eight codes of a row at a time. */
__attribute__((target("avx512f,avx512vl")))
static int fd_bin_rows_avx512_impl(const fd_array *codes, const fd_rowbins *rb, int64_t r0,
                                   int64_t nr, uint32_t *out)
{
    __mmask8 outside = 0;
    const int64_t d = rb->d, rs = codes->row_stride;
    const __m512d zero = _mm512_setzero_pd(), one = _mm512_set1_pd(1.0), half = _mm512_set1_pd(0.5);
    const __m512d top = _mm512_set1_pd((double)rb->nb - 0.5);
    const int f32 = codes->dtype == FD_FLOAT32;
    for (int64_t j = 0; j < d; j += 8) {
        const int64_t lanes = d - j < 8 ? d - j : 8;
        const __mmask8 m = (__mmask8)((1u << lanes) - 1u);
        const __m512d e0 = _mm512_loadu_pd(rb->e0 + j), iw = _mm512_loadu_pd(rb->inv_w + j);
        const __m512d sc = _mm512_loadu_pd(rb->sc + j), off = _mm512_loadu_pd(rb->off + j);
        const __m512d elast = _mm512_loadu_pd(rb->elast + j), near = _mm512_loadu_pd(rb->near + j);
        const __m256i base = _mm256_loadu_si256((const __m256i *)(rb->base + j));
        const __m256i add = _mm256_loadu_si256((const __m256i *)(rb->add + j));
        for (int64_t r = 0; r < nr; r++) {
            __m512d t, g, dev;
            __m256i bi;
            if (j == 0) fd_prefetch_ahead(codes, r0 + r);
            if (f32) {
                const float *x = (const float *)codes->data + (r0 + r) * rs + j;
                t = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, x));
            } else {
                const double *x = (const double *)codes->data + (r0 + r) * rs + j;
                t = _mm512_maskz_loadu_pd(m, x);
            }
            t = _mm512_mul_pd(t, sc);
            t = _mm512_add_pd(t, off);
            if (rb->check) /* NaN fails both comparisons too */
                outside |= (__mmask8)(m & ~(_mm512_cmp_pd_mask(t, e0, _CMP_GE_OQ) &
                                            _mm512_cmp_pd_mask(t, elast, _CMP_LE_OQ)));
            g = _mm512_mul_pd(_mm512_sub_pd(t, e0), iw);
            g = _mm512_max_pd(g, zero); /* NaN -> 0 */
            g = _mm512_min_pd(g, top);
            bi = _mm512_cvttpd_epi32(g);
            dev = _mm512_abs_pd(_mm512_sub_pd(_mm512_sub_pd(g, _mm512_cvtepi32_pd(bi)), half));
            if (_mm512_mask_cmp_pd_mask(m, dev, near, _CMP_GT_OQ)) {
                const __m256i idx = _mm256_add_epi32(base, bi);
                const __m512d lo = _mm512_i32gather_pd(idx, rb->ep, 8);
                const __m512d hi = _mm512_i32gather_pd(idx, rb->ep + 1, 8);
                __m512d b = _mm512_cvtepi32_pd(bi);
                b = _mm512_mask_add_pd(b, _mm512_cmp_pd_mask(t, hi, _CMP_GE_OQ), b, one);
                b = _mm512_mask_sub_pd(b, _mm512_cmp_pd_mask(t, lo, _CMP_LT_OQ), b, one);
                bi = _mm512_cvttpd_epi32(b);
            }
            _mm256_mask_storeu_epi32(out + r * d + j, m, _mm256_add_epi32(bi, add));
        }
    }
    return outside != 0;
}

/* Tests switch the AVX-512 path off to compare it with the AVX2 one. */
static int fd_avx512_enabled = 1;

void fd_set_avx512(int enabled) { fd_avx512_enabled = enabled ? 1 : 0; }

int fd_avx512_available(void)
{
    __builtin_cpu_init();
    return fd_simd_enabled && fd_avx512_enabled && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512vl");
}
#else
void fd_set_avx512(int enabled) { (void)enabled; }
int fd_avx512_available(void) { return 0; }
#endif

int fd_bin_rows_avx2(const fd_array *codes, const fd_rowbins *rb, int64_t r0, int64_t nr,
                     uint32_t *out)
{
#ifdef FD_HAVE_AVX2_PATH
    if (rb->avx512) return fd_bin_rows_avx512_impl(codes, rb, r0, nr, out);
    return fd_bin_rows_avx2_impl(codes, rb, r0, nr, out);
#else
    (void)codes; (void)rb; (void)r0; (void)nr; (void)out;
    return 0;
#endif
}
