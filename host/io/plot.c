/* 2-D plots as size×size RGB PNGs: scatter plots of points [n, 2] and density plots (2-D
 * histograms). Both share one layout:
 *
 *   white background; a plot area inset by a margin of max(2, size/32) pixels, framed by a
 *   1-pixel dark-grey rectangle with tick marks at 0, 1/4, 1/2, 3/4, 1 of each axis; light
 *   grey lines at x = 0 and y = 0 when they fall inside the extent; y grows upwards.
 *
 * Scatter: each point is a 3×3 dot in colour dgm_tab10[label mod 10] (matplotlib's "tab10";
 * label 0 when labels is NULL), drawn in index order (later points on top). Density:
 * counts in bins×bins cells over the extent (a point on the upper edge goes into the last
 * cell, like numpy.histogram2d), each cell a block of the plot area (nearest neighbour),
 * empty cells white, others viridis(count / max count).
 *
 * Points with a NaN or infinite coordinate, and points outside an explicit extent, are
 * skipped. n == 0 gives the empty frame. size must be in [16, 8192]; bins in [1, the plot
 * area's width]; an explicit extent finite with min < max.
 *
 * dgm_extent_of: min and max of the finite points, 5% of the range added on each side; a
 * single value v (zero range) becomes v ± max(0.5, 5% of |v|); no finite point (or n == 0)
 * gives [-1, 1] × [-1, 1]; clamped to the float range. */
#define _POSIX_C_SOURCE 200809L

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "dgm/io.h"
#include "io/io_util.h"
#include "io/raster.h"

#define PLOT_MIN_SIZE 16
#define PLOT_MAX_SIZE 8192

/* matplotlib's viridis at 0, 1/9, ..., 1; interpolated linearly in between. */
static const uint8_t VIRIDIS[10][3] = {
    {0x44, 0x01, 0x54}, {0x48, 0x28, 0x78}, {0x3e, 0x4a, 0x89}, {0x31, 0x68, 0x8e},
    {0x26, 0x82, 0x8e}, {0x1f, 0x9e, 0x89}, {0x35, 0xb7, 0x79}, {0x6d, 0xcd, 0x59},
    {0xb4, 0xde, 0x2c}, {0xfd, 0xe7, 0x25},
};

static const uint8_t FRAME_RGB[3] = {0x40, 0x40, 0x40};
static const uint8_t ZERO_RGB[3] = {0xd8, 0xd8, 0xd8};

typedef struct canvas {
    dgm_raster img; /* size×size */
    int size;
    int x0, y0, w; /* plot area: columns x0 .. x0+w-1, rows y0 .. y0+w-1 */
    double xmin, xmax, ymin, ymax;
} canvas;

static void put(canvas *c, int x, int y, const uint8_t rgb[3]) { dgm_raster_put(&c->img, x, y, rgb); }

static int finite_point(const float *p) { return isfinite(p[0]) && isfinite(p[1]); }

/* Column / row of a coordinate inside the plot area; 0 when outside the extent. */
static int to_col(const canvas *c, double x, int *col)
{
    if (!(x >= c->xmin && x <= c->xmax)) return 0;
    double t = (x - c->xmin) / (c->xmax - c->xmin);
    *col = c->x0 + (int)lround(t * (c->w - 1));
    return 1;
}

static int to_row(const canvas *c, double y, int *row)
{
    if (!(y >= c->ymin && y <= c->ymax)) return 0;
    double t = (c->ymax - y) / (c->ymax - c->ymin);
    *row = c->y0 + (int)lround(t * (c->w - 1));
    return 1;
}

static void draw_zero_lines(canvas *c)
{
    int col, row;
    if (to_col(c, 0.0, &col))
        for (int y = c->y0; y < c->y0 + c->w; y++) put(c, col, y, ZERO_RGB);
    if (to_row(c, 0.0, &row))
        for (int x = c->x0; x < c->x0 + c->w; x++) put(c, x, row, ZERO_RGB);
}

static void draw_frame(canvas *c)
{
    const int lo = c->x0 - 1, hi = c->x0 + c->w; /* x0 == y0 */
    for (int i = lo; i <= hi; i++) {
        put(c, i, lo, FRAME_RGB);
        put(c, i, hi, FRAME_RGB);
        put(c, lo, i, FRAME_RGB);
        put(c, hi, i, FRAME_RGB);
    }
    const int tick = c->x0 / 2 > 1 ? c->x0 / 2 : 1;
    for (int q = 0; q <= 4; q++) {
        const int at = c->x0 + (int)lround((double)q * (c->w - 1) / 4.0);
        for (int k = 1; k <= tick; k++) {
            put(c, at, hi + k, FRAME_RGB); /* below the x axis */
            put(c, lo - k, at, FRAME_RGB); /* left of the y axis */
        }
    }
}

/* Validates the common arguments, the extent, and sets up a white canvas. */
static dgm_status canvas_init(dgm_ctx *ctx, const char *fn, const char *path, const float *points,
                              int64_t n, const dgm_extent *extent, int size, canvas *c)
{
    memset(c, 0, sizeof *c);
    if (!path || !*path)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: path is NULL or empty", fn);
    if (n < 0 || (n > 0 && !points))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: %s: points [%lld, 2] must be non-NULL with n >= 0", fn, path,
                             (long long)n);
    if (size < PLOT_MIN_SIZE || size > PLOT_MAX_SIZE)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: %s: size %d is outside [%d, %d]", fn, path, size, PLOT_MIN_SIZE,
                             PLOT_MAX_SIZE);
    dgm_extent e = extent ? *extent : dgm_extent_of(points, n);
    if (!isfinite(e.xmin) || !isfinite(e.xmax) || !isfinite(e.ymin) || !isfinite(e.ymax) ||
        !(e.xmin < e.xmax) || !(e.ymin < e.ymax))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: %s: extent x [%g, %g], y [%g, %g] must be finite with "
                             "min < max",
                             fn, path, (double)e.xmin, (double)e.xmax, (double)e.ymin,
                             (double)e.ymax);
    c->size = size;
    const int margin = size / 32 > 2 ? size / 32 : 2;
    c->x0 = c->y0 = margin;
    c->w = size - 2 * margin;
    c->xmin = e.xmin;
    c->xmax = e.xmax;
    c->ymin = e.ymin;
    c->ymax = e.ymax;
    const size_t bytes = (size_t)size * (size_t)size * 3;
    c->img.rgb = malloc(bytes);
    c->img.width = c->img.height = size;
    if (!c->img.rgb)
        return dgm_set_error(ctx, DGM_STATUS_OOM, "%s: %s: out of host memory for %dx%d pixels",
                             fn, path, size, size);
    memset(c->img.rgb, 0xff, bytes);
    return DGM_STATUS_OK;
}

dgm_extent dgm_extent_of(const float *points, int64_t n)
{
    double lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
    for (int64_t i = 0; points && i < n; i++) {
        const float *p = points + 2 * i;
        if (!finite_point(p)) continue;
        for (int d = 0; d < 2; d++) {
            if (p[d] < lo[d]) lo[d] = p[d];
            if (p[d] > hi[d]) hi[d] = p[d];
        }
    }
    float out[2][2];
    for (int d = 0; d < 2; d++) {
        double a, b;
        if (!(lo[d] <= hi[d])) { /* no finite point */
            a = -1.0;
            b = 1.0;
        } else {
            const double pad = 0.05 * (hi[d] - lo[d]);
            a = lo[d] - pad;
            b = hi[d] + pad;
        }
        if (a < -FLT_MAX) a = -FLT_MAX;
        if (b > FLT_MAX) b = FLT_MAX;
        float fa = (float)a, fb = (float)b;
        if (!(fa < fb)) { /* one value (or a range below float resolution): widen it */
            const double mid = 0.5 * (lo[d] + hi[d]);
            const double half = fabs(mid) * 0.05 > 0.5 ? fabs(mid) * 0.05 : 0.5;
            a = mid - half;
            b = mid + half;
            fa = a < -FLT_MAX ? -FLT_MAX : (float)a;
            fb = b > FLT_MAX ? FLT_MAX : (float)b;
        }
        out[d][0] = fa;
        out[d][1] = fb;
    }
    dgm_extent e = {out[0][0], out[0][1], out[1][0], out[1][1]};
    return e;
}

dgm_status dgm_save_scatter_png(dgm_ctx *ctx, const char *path, const float *points, int64_t n,
                                const int32_t *labels, const dgm_extent *extent, int size)
{
    static const char *fn = "dgm_save_scatter_png";
    dgm_status ctx_st = dgm_check_ctx(ctx);
    if (ctx_st != DGM_STATUS_OK) return ctx_st;
    canvas c;
    dgm_status st = canvas_init(ctx, fn, path, points, n, extent, size, &c);
    if (st != DGM_STATUS_OK) return st;
    draw_zero_lines(&c);
    draw_frame(&c);
    for (int64_t i = 0; i < n; i++) {
        const float *p = points + 2 * i; /* [2] */
        int col, row;
        if (!finite_point(p) || !to_col(&c, p[0], &col) || !to_row(&c, p[1], &row)) continue;
        int k = labels ? (int)(labels[i] % DGM_TAB10_SIZE) : 0;
        if (k < 0) k += DGM_TAB10_SIZE;
        for (int dy = -1; dy <= 1; dy++) {
            for (int dx = -1; dx <= 1; dx++) {
                const int x = col + dx, y = row + dy;
                if (x >= c.x0 && x < c.x0 + c.w && y >= c.y0 && y < c.y0 + c.w)
                    put(&c, x, y, dgm_tab10[k]);
            }
        }
    }
    st = dgm_io_write_png(ctx, fn, path, c.img.rgb, size, size, 3);
    free(c.img.rgb);
    return st;
}

static void viridis(double t, uint8_t rgb[3])
{
    if (!(t > 0.0)) t = 0.0;
    if (t > 1.0) t = 1.0;
    const double s = t * 9.0;
    int i = (int)s;
    if (i > 8) i = 8;
    const double f = s - i;
    for (int k = 0; k < 3; k++)
        rgb[k] = (uint8_t)lround(VIRIDIS[i][k] + f * (VIRIDIS[i + 1][k] - VIRIDIS[i][k]));
}

/* Bin of coordinate v in [lo, hi] among `bins`; -1 when outside. */
static int bin_of(double v, double lo, double hi, int bins)
{
    if (!(v >= lo && v <= hi)) return -1;
    int b = (int)((v - lo) / (hi - lo) * bins);
    return b >= bins ? bins - 1 : (b < 0 ? 0 : b);
}

/* Each pixel of the plot area coloured by its cell's value over `max` (count or value,
 * [bins(y), bins(x)], row 0 at ymin); cells of value 0 (or not above 0) stay blank. */
static void paint_cells(canvas *c, int bins, double max, const uint32_t *count, const float *value)
{
    if (!(max > 0.0)) return;
    for (int i = 0; i < c->w; i++) {
        const int by = bins - 1 - (int)((int64_t)i * bins / c->w); /* row 0 is the top */
        for (int j = 0; j < c->w; j++) {
            const int bx = (int)((int64_t)j * bins / c->w);
            const size_t cell = (size_t)by * (size_t)bins + (size_t)bx;
            const double k = count ? (double)count[cell] : (double)value[cell];
            if (!(k > 0.0)) continue;
            uint8_t rgb[3];
            viridis(k > max ? 1.0 : k / max, rgb);
            put(c, c->x0 + j, c->y0 + i, rgb);
        }
    }
}

dgm_status dgm_save_density_png(dgm_ctx *ctx, const char *path, const float *points, int64_t n,
                                const dgm_extent *extent, int bins, int size)
{
    static const char *fn = "dgm_save_density_png";
    dgm_status ctx_st = dgm_check_ctx(ctx);
    if (ctx_st != DGM_STATUS_OK) return ctx_st;
    canvas c;
    dgm_status st = canvas_init(ctx, fn, path, points, n, extent, size, &c);
    if (st != DGM_STATUS_OK) return st;
    if (bins < 1 || bins > c.w) {
        free(c.img.rgb);
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: %s: bins %d is outside [1, %d] (the plot area of a %d-pixel "
                             "picture)",
                             fn, path, bins, c.w, size);
    }
    uint32_t *count = calloc((size_t)bins * (size_t)bins, sizeof *count); /* [bins(y), bins(x)] */
    if (!count) {
        free(c.img.rgb);
        return dgm_set_error(ctx, DGM_STATUS_OOM, "%s: %s: out of host memory for %dx%d bins",
                             fn, path, bins, bins);
    }
    draw_zero_lines(&c); /* seen through the empty cells only */
    uint32_t max_count = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *p = points + 2 * i; /* [2] */
        if (!finite_point(p)) continue;
        const int bx = bin_of(p[0], c.xmin, c.xmax, bins), by = bin_of(p[1], c.ymin, c.ymax, bins);
        if (bx < 0 || by < 0) continue;
        uint32_t *cell = &count[(size_t)by * (size_t)bins + (size_t)bx];
        if (*cell < UINT32_MAX) (*cell)++;
        if (*cell > max_count) max_count = *cell;
    }
    paint_cells(&c, bins, max_count, count, NULL);
    free(count);
    draw_frame(&c);
    st = dgm_io_write_png(ctx, fn, path, c.img.rgb, size, size, 3);
    free(c.img.rgb);
    return st;
}

dgm_status dgm_save_heatmap_png(dgm_ctx *ctx, const char *path, const float *values, int bins,
                                const dgm_extent *extent, int size)
{
    static const char *fn = "dgm_save_heatmap_png";
    dgm_status st = dgm_check_ctx(ctx);
    if (st != DGM_STATUS_OK) return st;
    if (!values || !extent)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: values and extent must not be NULL", fn);
    canvas c;
    if ((st = canvas_init(ctx, fn, path, NULL, 0, extent, size, &c)) != DGM_STATUS_OK) return st;
    if (bins < 1 || bins > c.w) {
        free(c.img.rgb);
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: %s: bins %d is outside [1, %d] (the plot area of a %d-pixel "
                             "picture)", fn, path, bins, c.w, size);
    }
    draw_zero_lines(&c);
    double max = 0.0;
    for (size_t i = 0; i < (size_t)bins * (size_t)bins; i++)
        if (isfinite(values[i]) && values[i] > max) max = values[i];
    paint_cells(&c, bins, max, NULL, values);
    draw_frame(&c);
    st = dgm_io_write_png(ctx, fn, path, c.img.rgb, size, size, 3);
    free(c.img.rgb);
    return st;
}
