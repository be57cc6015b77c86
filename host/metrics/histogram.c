/* Divergences between two sample sets in 1 to 3 dimensions through their histograms on a
 * common grid: KL, Jensen-Shannon, total variation, squared Hellinger, Pearson chi^2. */
#include <math.h>
#include <stdlib.h>

#include "core/internal.h"
#include "dgm/metrics.h"
#include "metrics/metrics_internal.h"

/* Grids beyond this many cells are refused: two arrays of doubles of this size are 256 MiB. */
#define MAX_CELLS (1 << 24)

static const int default_bins[4] = {0, 64, 32, 16};

dgm_histogram_options dgm_histogram_options_default(void)
{
    dgm_histogram_options o = {0, NULL, 0.5};
    return o;
}

/* The union bounding box of both sets, each side moved out by 1% of the range (0.5 for a
 * flat axis) so the extreme points fall inside rather than on the last edge. */
static void default_extent(const float *a, int64_t na, const float *b, int64_t nb, int dim,
                           double *lo, double *hi)
{
    for (int c = 0; c < dim; c++) {
        lo[c] = INFINITY;
        hi[c] = -INFINITY;
    }
    for (int s = 0; s < 2; s++) {
        const float *x = s ? b : a;
        const int64_t n = s ? nb : na;
        for (int64_t i = 0; i < n; i++)
            for (int c = 0; c < dim; c++) {
                const double v = x[i * dim + c];
                if (v < lo[c]) lo[c] = v;
                if (v > hi[c]) hi[c] = v;
            }
    }
    for (int c = 0; c < dim; c++) {
        const double pad = hi[c] > lo[c] ? 0.01 * (hi[c] - lo[c]) : 0.5;
        lo[c] -= pad;
        hi[c] += pad;
    }
}

/* Counts x's points per cell (row-major over the axes); returns how many fell outside. */
static int64_t count_cells(const float *x, int64_t n, int dim, int bins, const double *lo,
                           const double *hi, double *counts)
{
    int64_t outside = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t cell = 0;
        bool in = true;
        for (int c = 0; c < dim; c++) {
            const double v = x[i * dim + c];
            if (v < lo[c] || v > hi[c]) {
                in = false;
                break;
            }
            int64_t k = (int64_t)floor((v - lo[c]) / (hi[c] - lo[c]) * bins);
            if (k >= bins) k = bins - 1; /* v == hi */
            if (k < 0) k = 0;
            cell = cell * bins + k;
        }
        if (in)
            counts[cell] += 1.0;
        else
            outside++;
    }
    return outside;
}

/* The five divergences from the counts: raw frequencies for JS, TV and Hellinger; for KL
 * and chi^2 each cell's count plus alpha, normalised. */
static void divergences(const double *ca, double na, const double *cb, double nb,
                        int64_t cells, double alpha, dgm_divergences *out)
{
    const double za = na + alpha * (double)cells, zb = nb + alpha * (double)cells;
    double kl = 0.0, js = 0.0, tv = 0.0, bc = 0.0, chi2 = 0.0;
    for (int64_t k = 0; k < cells; k++) {
        const double p = ca[k] / na, q = cb[k] / nb, m = 0.5 * (p + q);
        if (p > 0.0) js += 0.5 * p * log(p / m);
        if (q > 0.0) js += 0.5 * q * log(q / m);
        tv += 0.5 * fabs(p - q);
        bc += sqrt(p * q);
        const double ps = (ca[k] + alpha) / za, qs = (cb[k] + alpha) / zb;
        if (ps > 0.0) kl += qs > 0.0 ? ps * log(ps / qs) : INFINITY;
        if (ps != qs) chi2 += qs > 0.0 ? (ps - qs) * (ps - qs) / qs : INFINITY;
    }
    out->kl = kl;
    out->js = js;
    out->tv = tv;
    out->hellinger2 = bc < 1.0 ? 1.0 - bc : 0.0; /* rounding can put bc a hair above 1 */
    out->chi2 = chi2;
}

/* Checks o for sets of dimension dim; *bins gets the bins per axis (o's or the default),
 * *cells their product. */
static dgm_status check_options(dgm_ctx *ctx, const char *fn, const dgm_histogram_options *o,
                                int dim, int *bins, int64_t *cells)
{
    if (dim > 3)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: histograms need dim 1..3 (got %d); use the sliced "
                             "Wasserstein distance, MMD or the energy distance",
                             fn, dim);
    if (o->bins < 0 || !(o->pseudo_count >= 0.0) || isinf(o->pseudo_count))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: bins >= 0 (%d), pseudo_count >= 0 and finite (%g)", fn,
                             o->bins, o->pseudo_count);
    *bins = o->bins ? o->bins : default_bins[dim];
    int64_t k = 1;
    for (int c = 0; c < dim; c++) {
        k *= *bins;
        if (k > MAX_CELLS)
            return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                                 "%s: %d bins per axis in %d dimensions is over %d cells", fn,
                                 *bins, dim, MAX_CELLS);
    }
    for (int c = 0; o->extent && c < dim; c++)
        if (!(o->extent[2 * c] < o->extent[2 * c + 1]) || isinf(o->extent[2 * c]) ||
            isinf(o->extent[2 * c + 1]))
            return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                                 "%s: extent of axis %d is [%g, %g]: needs finite lo < hi", fn,
                                 c, o->extent[2 * c], o->extent[2 * c + 1]);
    *cells = k;
    return DGM_STATUS_OK;
}

dgm_status dgm_histogram_divergences(dgm_ctx *ctx, const float *a, int64_t na, const float *b,
                                     int64_t nb, int dim, const dgm_histogram_options *options,
                                     dgm_divergences *out)
{
    static const char fn[] = "dgm_histogram_divergences";
    DGM_TRY(dgm_metrics_check_sets(ctx, fn, a, na, b, nb, dim, out, 1, false));
    const dgm_histogram_options o = options ? *options : dgm_histogram_options_default();
    int bins = 0;
    int64_t cells = 0;
    DGM_TRY(check_options(ctx, fn, &o, dim, &bins, &cells));
    double lo[3], hi[3];
    if (o.extent)
        for (int c = 0; c < dim; c++) {
            lo[c] = o.extent[2 * c];
            hi[c] = o.extent[2 * c + 1];
        }
    else
        default_extent(a, na, b, nb, dim, lo, hi);
    double *ca = calloc((size_t)cells, sizeof *ca), *cb = calloc((size_t)cells, sizeof *cb);
    if (!ca || !cb) {
        free(ca);
        free(cb);
        return dgm_set_error(ctx, DGM_STATUS_OOM, "%s: out of memory for %lld cells", fn,
                             (long long)cells);
    }
    dgm_status st = DGM_STATUS_OK;
    const int64_t outa = count_cells(a, na, dim, bins, lo, hi, ca);
    const int64_t outb = count_cells(b, nb, dim, bins, lo, hi, cb);
    if (outa == na || outb == nb) {
        st = dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                           "%s: no point of %s lies within the extent", fn,
                           outa == na ? "a" : "b");
    } else {
        divergences(ca, (double)(na - outa), cb, (double)(nb - outb), cells, o.pseudo_count,
                    out);
        out->outside_a = outa;
        out->outside_b = outb;
    }
    free(ca);
    free(cb);
    return st;
}
