/* Line charts as RGB PNGs: y against x for one or more series overlaid (loss curves, what
 * `dgm plot` draws from metrics.jsonl). The layout, with s = clamp(min(width, height) /
 * 250, 1, 4) the size of one dot of the 5×7 font (host/io/font5x7.c):
 *
 *   white background; the plot area framed by a 1-pixel dark-grey rectangle with tick
 *   marks outside it and light-grey grid lines inside at the ticks; tick labels left of
 *   the y axis (right-aligned) and under the x axis (centred, kept inside the picture);
 *   x_label centred under the x tick labels, y_label above the plot area at the left.
 *   Series i is drawn s pixels thick in dgm_tab10[i mod 10], in order (later on top),
 *   clipped to the plot area; a lone finite point (no finite neighbour) is a dot. The
 *   legend (labelled series only; labels cut to 40 characters; as many rows as fit) is a
 *   white box in the corner of the plot area whose box covers the fewest curve pixels,
 *   top right first on ties, then top left, bottom right, bottom left.
 *
 * Ranges: x from the smallest to the largest finite x; y the finite values' range plus 5%
 * on each side, in log10 units on a log axis. A single value v is widened to v ± 0.5 (x),
 * v ± 5%|v| (y; ± 0.5 for 0) or ± 0.1 decade (log y). No finite point: [0, 1] (log y:
 * [1, 10]). Only points whose x and y are both finite count.
 *
 * Ticks: steps of 1, 2 or 5 × 10^k, the most (up to 11) whose labels keep 3 character
 * widths apart (x) or whose ticks are 2.5 text heights apart (y). A log axis ticks the
 * powers of ten (10^k for k a multiple of 2, 5, 10, ... when they are too many; labelled
 * "1e-5" when the axis goes past 0.001 or 1e5); with fewer than two in range,
 * 1, 2, 5 × 10^k; with fewer than two of those, linear steps. Labels: fixed decimals
 * enough for the step ("0.05", "1500"), exponent form past 1e6 or below 1e-4 ("2.5e-5",
 * "1e6"). */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "dgm/io.h"
#include "io/io_util.h"
#include "io/raster.h"

#define LP_MIN_WIDTH 160
#define LP_MIN_HEIGHT 120
#define LP_MAX_SIDE 8192
#define LP_MAX_SERIES 64
#define LP_MIN_AREA 40   /* pixels of plot area left after the labels, per side */
#define MAX_TICKS 24
#define LEGEND_CHARS 40

static const uint8_t WHITE[3] = {0xff, 0xff, 0xff};
static const uint8_t GRID[3] = {0xe6, 0xe6, 0xe6};
static const uint8_t FRAME[3] = {0x40, 0x40, 0x40};
static const uint8_t TEXT[3] = {0x20, 0x20, 0x20};
static const uint8_t LEGEND_EDGE[3] = {0xb0, 0xb0, 0xb0};

typedef struct axis {
    double lo, hi; /* the range in axis units: values, or log10 of them */
    bool log;
    int nticks;
    double tick[MAX_TICKS];    /* values (not log10) */
    char label[MAX_TICKS][32];
} axis;

typedef struct chart {
    dgm_raster img;
    int s;                  /* text scale: one font dot is s×s pixels */
    int px0, px1, py0, py1; /* the plot area, inclusive, inside the frame */
    axis x, y;
} chart;

static double unit(const axis *a, double v) { return a->log ? log10(v) : v; }

static double col_of(const chart *c, double x)
{
    return c->px0 + (unit(&c->x, x) - c->x.lo) / (c->x.hi - c->x.lo) * (c->px1 - c->px0);
}

static double row_of(const chart *c, double y)
{
    return c->py1 - (unit(&c->y, y) - c->y.lo) / (c->y.hi - c->y.lo) * (c->py1 - c->py0);
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* A pixel position as an int, far-off values pinned (they are clipped anyway). */
static int pix(double v)
{
    if (!(v > -1e6)) return -1000000;
    if (v > 1e6) return 1000000;
    return (int)lround(v);
}

/* "1.5e+06" -> "1.5e6", "2e-05" -> "2e-5". */
static void compact_exponent(char *buf)
{
    char *e = strchr(buf, 'e');
    if (!e) return;
    char *src = e + 1, *dst = e + 1;
    if (*src == '+') src++;
    else if (*src == '-') *dst++ = *src++;
    while (*src == '0' && src[1]) src++;
    memmove(dst, src, strlen(src) + 1);
}

/* A tick value's label for ticks `step` apart whose largest magnitude is maxabs. */
static void format_tick(double v, double step, double maxabs, char *buf, size_t len)
{
    if (v == 0.0) {
        snprintf(buf, len, "0");
    } else if (maxabs < 1e6 && step >= 1e-4) {
        const int d = step >= 1.0 ? 0 : (int)ceil(-log10(step) - 1e-9);
        snprintf(buf, len, "%.*f", d, v);
    } else {
        const int p = clampi((int)floor(log10(maxabs)) - (int)floor(log10(step) + 1e-9) + 1, 1, 15);
        snprintf(buf, len, "%.*g", p, v);
        compact_exponent(buf);
    }
}

/* A label for a tick of the form m × 10^k (log axes): plain decimals from 0.001 to 1e5
 * ("0.02", "500"), else "2e-5"; `exp_form` forces the latter (the powers of an axis that
 * goes past that span, all alike). */
static void format_decade(double v, bool exp_form, char *buf, size_t len)
{
    if (!exp_form && v >= 1e-3 && v < 1e6) {
        const int d = clampi(-(int)floor(log10(v) + 1e-9), 0, 3);
        snprintf(buf, len, "%.*f", d, v);
    } else {
        snprintf(buf, len, "%.0e", v);
        compact_exponent(buf);
    }
}

static double nice_step(double span, int target)
{
    const double raw = span / target;
    const double mag = pow(10.0, floor(log10(raw)));
    const double f = raw / mag;
    return (f <= 1.0 ? 1.0 : f <= 2.0 ? 2.0 : f <= 5.0 ? 5.0 : 10.0) * mag;
}

/* Ticks k·step within the values [lo, hi] (positive ones only when `positive`). */
static void linear_ticks(axis *a, double lo, double hi, int target, bool positive)
{
    a->nticks = 0;
    const double step = nice_step(hi - lo, target);
    if (!(step > 0.0) || !isfinite(step)) return;
    const double k0 = ceil(lo / step - 1e-9), k1 = floor(hi / step + 1e-9);
    double maxabs = 0.0;
    for (double k = k0; k <= k1 && a->nticks < MAX_TICKS; k++) {
        double v = k * step;
        if (fabs(v) < step * 1e-9) v = 0.0;
        if (positive && !(v > 0.0)) continue;
        a->tick[a->nticks++] = v;
        if (fabs(v) > maxabs) maxabs = fabs(v);
    }
    for (int i = 0; i < a->nticks; i++)
        format_tick(a->tick[i], step, maxabs, a->label[i], sizeof a->label[i]);
}

static void push_decade(axis *a, double v, bool exp_form)
{
    if (a->nticks == MAX_TICKS || !(v > 0.0) || !isfinite(v)) return; /* past the double range */
    a->tick[a->nticks] = v;
    format_decade(v, exp_form, a->label[a->nticks], sizeof a->label[a->nticks]);
    a->nticks++;
}

/* Ticks of a log axis over log10 units [lo, hi]: the powers 10^k with k a multiple of a
 * stride of 1, 2 or 5 × 10^j, the smallest that keeps them to `target`. */
static void log_ticks(axis *a, int target)
{
    a->nticks = 0;
    const int k0 = (int)ceil(a->lo - 1e-9), k1 = (int)floor(a->hi + 1e-9);
    if (k1 - k0 + 1 >= 2) {
        static const int strides[] = {1, 2, 5, 10, 20, 50, 100, 200, 500};
        int stride = 500;
        for (size_t j = 0; j < sizeof strides / sizeof strides[0]; j++) {
            if ((k1 - k0) / strides[j] + 1 <= target) {
                stride = strides[j];
                break;
            }
        }
        const bool exp_form = k0 < -3 || k1 > 5;
        const int first = (int)ceil((double)k0 / stride) * stride;
        for (int k = first; k <= k1; k += stride) push_decade(a, pow(10.0, k), exp_form);
        if (a->nticks >= 2) return;
        a->nticks = 0;
    }
    static const double m[3] = {1.0, 2.0, 5.0};
    for (int k = (int)floor(a->lo) - 1; k <= (int)ceil(a->hi); k++) {
        for (int j = 0; j < 3; j++) {
            const double v = m[j] * pow(10.0, k), lv = log10(v);
            if (lv >= a->lo - 1e-9 && lv <= a->hi + 1e-9) push_decade(a, v, false);
        }
    }
    if (a->nticks >= 2 && a->nticks <= target) return;
    linear_ticks(a, pow(10.0, a->lo), pow(10.0, a->hi), target, true);
}

static void make_ticks(axis *a, int target)
{
    if (a->log) log_ticks(a, target);
    else linear_ticks(a, a->lo, a->hi, target, false);
}

/* The range of the finite points' x (want_y false) or y, in axis units, widened as the
 * file's comment says. */
static void data_range(const dgm_line_series *series, int nseries, bool want_y, axis *a)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < nseries; i++) {
        for (int64_t j = 0; j < series[i].n; j++) {
            const double x = series[i].x[j], y = series[i].y[j];
            if (!isfinite(x) || !isfinite(y)) continue;
            const double u = unit(a, want_y ? y : x);
            if (u < lo) lo = u;
            if (u > hi) hi = u;
        }
    }
    if (!(lo <= hi)) {
        lo = 0.0;
        hi = 1.0;
    } else if (lo == hi) {
        const double half = !want_y ? 0.5 : a->log ? 0.1 : lo != 0.0 ? 0.05 * fabs(lo) : 0.5;
        lo -= half;
        hi += half;
    } else if (want_y) {
        const double pad = 0.05 * (hi - lo);
        lo -= pad;
        hi += pad;
    }
    a->lo = lo;
    a->hi = hi;
}

/* Fills a th×th square centred on (x, y), clipped to the plot area. */
static void stamp(chart *c, int x, int y, int th, const uint8_t rgb[3])
{
    const int x0 = x - (th - 1) / 2, y0 = y - (th - 1) / 2;
    const int x1 = x0 + th - 1, y1 = y0 + th - 1;
    if (x1 < c->px0 || x0 > c->px1 || y1 < c->py0 || y0 > c->py1) return;
    dgm_raster_fill(&c->img, clampi(x0, c->px0, c->px1), clampi(y0, c->py0, c->py1),
                    clampi(x1, c->px0, c->px1), clampi(y1, c->py0, c->py1), rgb);
}

/* Bresenham from (x0, y0) to (x1, y1), a th-pixel square at each step. */
static void segment(chart *c, int x0, int y0, int x1, int y1, int th, const uint8_t rgb[3])
{
    const int dx = abs(x1 - x0), dy = -abs(y1 - y0);
    const int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (;;) {
        stamp(c, x0, y0, th, rgb);
        if (x0 == x1 && y0 == y1) break;
        const int e2 = 2 * err;
        if (e2 >= dy) {
            err += dy;
            x0 += sx;
        }
        if (e2 <= dx) {
            err += dx;
            y0 += sy;
        }
    }
}

static void draw_series(chart *c, const dgm_line_series *sr, const uint8_t rgb[3])
{
    const int th = c->s;
    bool have_prev = false;
    int px = 0, py = 0;
    for (int64_t j = 0; j < sr->n; j++) {
        const double x = sr->x[j], y = sr->y[j];
        if (!isfinite(x) || !isfinite(y)) {
            have_prev = false;
            continue;
        }
        const int cx = pix(col_of(c, x)), cy = pix(row_of(c, y));
        if (have_prev) {
            segment(c, px, py, cx, cy, th, rgb);
        } else {
            const bool next_ok = j + 1 < sr->n && isfinite(sr->x[j + 1]) && isfinite(sr->y[j + 1]);
            if (!next_ok) stamp(c, cx, cy, th + 2, rgb); /* a lone point */
        }
        px = cx;
        py = cy;
        have_prev = true;
    }
}

/* Pixels of the box [x0, x1] × [y0, y1] that a curve covers (neither white nor grid). */
static int64_t covered(const chart *c, int x0, int y0, int x1, int y1)
{
    int64_t n = 0;
    for (int y = y0; y <= y1; y++) {
        for (int x = x0; x <= x1; x++) {
            const uint8_t *p = dgm_raster_at(&c->img, x, y);
            if (memcmp(p, WHITE, 3) && memcmp(p, GRID, 3)) n++;
        }
    }
    return n;
}

static void draw_legend(chart *c, const dgm_line_series *series, int nseries)
{
    const int s = c->s, pad = 4 * s, row_h = DGM_FONT_H * s, gap = 4 * s, sample = 15 * s;
    const int inset = 2 * pad;
    char text[LP_MAX_SERIES][LEGEND_CHARS + 4];
    int idx[LP_MAX_SERIES], rows = 0, textw = 0;
    for (int i = 0; i < nseries; i++) {
        const char *l = series[i].label;
        if (!l || !*l) continue;
        if (strlen(l) > LEGEND_CHARS) snprintf(text[rows], sizeof text[rows], "%.*s...", LEGEND_CHARS - 3, l);
        else snprintf(text[rows], sizeof text[rows], "%s", l);
        const int w = dgm_raster_text_width(text[rows], s);
        if (w > textw) textw = w;
        idx[rows++] = i;
    }
    const int pw = c->px1 - c->px0 + 1, ph = c->py1 - c->py0 + 1;
    while (rows > 0 && pad * 2 + rows * row_h + (rows - 1) * gap > ph - 2 * inset) rows--;
    const int bw = pad + sample + pad + textw + pad, bh = pad * 2 + rows * row_h + (rows - 1) * gap;
    if (rows == 0 || bw > pw - 2 * inset) return;
    const int left[2] = {c->px1 - inset - bw + 1, c->px0 + inset};
    const int top[2] = {c->py0 + inset, c->py1 - inset - bh + 1};
    static const int order[4][2] = {{0, 0}, {1, 0}, {0, 1}, {1, 1}}; /* TR, TL, BR, BL */
    int bx = 0, by = 0;
    int64_t best = -1;
    for (int k = 0; k < 4; k++) {
        const int x0 = left[order[k][0]], y0 = top[order[k][1]];
        const int64_t n = covered(c, x0, y0, x0 + bw - 1, y0 + bh - 1);
        if (best < 0 || n < best) {
            best = n;
            bx = x0;
            by = y0;
        }
    }
    dgm_raster_fill(&c->img, bx, by, bx + bw - 1, by + bh - 1, WHITE);
    dgm_raster_fill(&c->img, bx, by, bx + bw - 1, by, LEGEND_EDGE);
    dgm_raster_fill(&c->img, bx, by + bh - 1, bx + bw - 1, by + bh - 1, LEGEND_EDGE);
    dgm_raster_fill(&c->img, bx, by, bx, by + bh - 1, LEGEND_EDGE);
    dgm_raster_fill(&c->img, bx + bw - 1, by, bx + bw - 1, by + bh - 1, LEGEND_EDGE);
    for (int r = 0; r < rows; r++) {
        const int y = by + pad + r * (row_h + gap);
        const int mid = y + row_h / 2, th = s + 1;
        dgm_raster_fill(&c->img, bx + pad, mid - th / 2, bx + pad + sample - 1, mid - th / 2 + th - 1,
                        dgm_tab10[idx[r] % DGM_TAB10_SIZE]);
        dgm_raster_text(&c->img, bx + pad + sample + pad, y, text[r], s, TEXT);
    }
}

/* Smallest pixel distance between consecutive y ticks (1e9 for fewer than two). */
static double y_tick_spacing(const chart *c)
{
    double best = 1e9;
    for (int i = 1; i < c->y.nticks; i++) {
        const double d = fabs(row_of(c, c->y.tick[i]) - row_of(c, c->y.tick[i - 1]));
        if (d < best) best = d;
    }
    return best;
}

/* Whether the x tick labels keep 3 character widths apart. */
static bool x_labels_fit(const chart *c)
{
    const int s = c->s, sep = 3 * DGM_FONT_ADVANCE * s;
    for (int i = 1; i < c->x.nticks; i++) {
        const double d = col_of(c, c->x.tick[i]) - col_of(c, c->x.tick[i - 1]);
        const int half = (dgm_raster_text_width(c->x.label[i], s) +
                          dgm_raster_text_width(c->x.label[i - 1], s)) / 2;
        if (d < half + sep) return false;
    }
    return true;
}

static dgm_status check_args(dgm_ctx *ctx, const char *fn, const char *path,
                             const dgm_line_series *series, int nseries,
                             const dgm_line_plot_config *cfg)
{
    if (!path || !*path)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: path is NULL or empty", fn);
    if (!series || nseries < 1 || nseries > LP_MAX_SERIES)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: %s: %d series (series %s): expected 1..%d", fn, path, nseries,
                             series ? "given" : "NULL", LP_MAX_SERIES);
    if (cfg->width < LP_MIN_WIDTH || cfg->width > LP_MAX_SIDE || cfg->height < LP_MIN_HEIGHT ||
        cfg->height > LP_MAX_SIDE)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: %s: size %dx%d is outside [%d, %d] x [%d, %d]", fn, path,
                             cfg->width, cfg->height, LP_MIN_WIDTH, LP_MAX_SIDE, LP_MIN_HEIGHT,
                             LP_MAX_SIDE);
    for (int i = 0; i < nseries; i++) {
        const dgm_line_series *sr = &series[i];
        const char *name = sr->label ? sr->label : "";
        if (sr->n < 0 || (sr->n > 0 && (!sr->x || !sr->y)))
            return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                                 "%s: %s: series %d \"%s\": x and y [%lld] must be non-NULL with "
                                 "n >= 0",
                                 fn, path, i, name, (long long)sr->n);
        for (int64_t j = 0; cfg->log_y && j < sr->n; j++)
            if (isfinite(sr->x[j]) && isfinite(sr->y[j]) && !(sr->y[j] > 0.0))
                return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                                     "%s: %s: series %d \"%s\" point %lld: y = %g is not positive, "
                                     "which a log axis cannot show",
                                     fn, path, i, name, (long long)j, sr->y[j]);
    }
    return DGM_STATUS_OK;
}

dgm_line_plot_config dgm_line_plot_config_default(void)
{
    dgm_line_plot_config cfg = {800, 500, false, "step", "loss"};
    return cfg;
}

/* Lays out the margins and ticks; INVALID_ARGUMENT when the labels leave no room. */
static dgm_status lay_out(dgm_ctx *ctx, const char *fn, const char *path, const char *x_label,
                          chart *c)
{
    const int W = c->img.width, H = c->img.height, s = c->s;
    const int pad = 4 * s, tick = 3 * s, th = DGM_FONT_H * s;
    c->py0 = pad + th + pad + 1;
    c->py1 = H - 1 - (1 + tick + pad + th + (x_label && *x_label ? pad + th : 0) + pad);
    c->px0 = 1; /* provisional, for the y ticks (which need rows only) */
    c->px1 = W - 1;
    if (c->py1 - c->py0 + 1 < LP_MIN_AREA)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: %s: a %dx%d picture leaves no room for the plot", fn, path, W, H);
    for (int target = 10; target >= 2; target--) {
        make_ticks(&c->y, target);
        if (y_tick_spacing(c) >= 2.5 * th) break;
    }
    int labelw = 0;
    for (int i = 0; i < c->y.nticks; i++) {
        const int w = dgm_raster_text_width(c->y.label[i], s);
        if (w > labelw) labelw = w;
    }
    c->px0 = pad + labelw + pad + tick + 1;
    c->px1 = W - 1 - 3 * pad - 1;
    if (c->px1 - c->px0 + 1 < LP_MIN_AREA)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: %s: a %dx%d picture leaves no room for the plot beside the tick "
                             "labels",
                             fn, path, W, H);
    for (int target = 10; target >= 2; target--) {
        make_ticks(&c->x, target);
        if (x_labels_fit(c)) break;
    }
    return DGM_STATUS_OK;
}

static void draw_axes(chart *c, const char *x_label, const char *y_label)
{
    const int W = c->img.width, H = c->img.height, s = c->s;
    const int pad = 4 * s, tick = 3 * s, th = DGM_FONT_H * s;
    const int fx0 = c->px0 - 1, fx1 = c->px1 + 1, fy0 = c->py0 - 1, fy1 = c->py1 + 1;
    dgm_raster_fill(&c->img, fx0, fy0, fx1, fy0, FRAME);
    dgm_raster_fill(&c->img, fx0, fy1, fx1, fy1, FRAME);
    dgm_raster_fill(&c->img, fx0, fy0, fx0, fy1, FRAME);
    dgm_raster_fill(&c->img, fx1, fy0, fx1, fy1, FRAME);
    for (int i = 0; i < c->y.nticks; i++) {
        const int row = clampi(pix(row_of(c, c->y.tick[i])), c->py0, c->py1);
        dgm_raster_fill(&c->img, fx0 - tick, row, fx0 - 1, row, FRAME);
        const int w = dgm_raster_text_width(c->y.label[i], s);
        dgm_raster_text(&c->img, fx0 - tick - pad - w, clampi(row - th / 2, 0, H - th),
                        c->y.label[i], s, TEXT);
    }
    for (int i = 0; i < c->x.nticks; i++) {
        const int col = clampi(pix(col_of(c, c->x.tick[i])), c->px0, c->px1);
        dgm_raster_fill(&c->img, col, fy1 + 1, col, fy1 + tick, FRAME);
        const int w = dgm_raster_text_width(c->x.label[i], s);
        dgm_raster_text(&c->img, clampi(col - w / 2, 0, W - w), fy1 + tick + pad, c->x.label[i], s,
                        TEXT);
    }
    if (x_label && *x_label) {
        const int w = dgm_raster_text_width(x_label, s);
        dgm_raster_text(&c->img, clampi((c->px0 + c->px1 - w) / 2, 0, W - w),
                        fy1 + tick + pad + th + pad, x_label, s, TEXT);
    }
    if (y_label && *y_label) dgm_raster_text(&c->img, pad, pad, y_label, s, TEXT);
}

static void draw_grid(chart *c)
{
    for (int i = 0; i < c->y.nticks; i++) {
        const int row = clampi(pix(row_of(c, c->y.tick[i])), c->py0, c->py1);
        dgm_raster_fill(&c->img, c->px0, row, c->px1, row, GRID);
    }
    for (int i = 0; i < c->x.nticks; i++) {
        const int col = clampi(pix(col_of(c, c->x.tick[i])), c->px0, c->px1);
        dgm_raster_fill(&c->img, col, c->py0, col, c->py1, GRID);
    }
}

dgm_status dgm_save_line_plot_png(dgm_ctx *ctx, const char *path, const dgm_line_series *series,
                                  int nseries, const dgm_line_plot_config *config)
{
    static const char *fn = "dgm_save_line_plot_png";
    dgm_status st = dgm_check_ctx(ctx);
    if (st != DGM_STATUS_OK) return st;
    const dgm_line_plot_config cfg = config ? *config : dgm_line_plot_config_default();
    if ((st = check_args(ctx, fn, path, series, nseries, &cfg)) != DGM_STATUS_OK) return st;

    chart c;
    memset(&c, 0, sizeof c);
    c.img.width = cfg.width;
    c.img.height = cfg.height;
    c.s = clampi((cfg.width < cfg.height ? cfg.width : cfg.height) / 250, 1, 4);
    c.y.log = cfg.log_y;
    data_range(series, nseries, false, &c.x);
    data_range(series, nseries, true, &c.y);
    if (!isfinite(c.x.hi - c.x.lo) || !isfinite(c.y.hi - c.y.lo))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: %s: the values span more than the double range", fn, path);
    if ((st = lay_out(ctx, fn, path, cfg.x_label, &c)) != DGM_STATUS_OK) return st;

    const size_t bytes = (size_t)cfg.width * (size_t)cfg.height * 3;
    c.img.rgb = malloc(bytes);
    if (!c.img.rgb)
        return dgm_set_error(ctx, DGM_STATUS_OOM, "%s: %s: out of host memory for %dx%d pixels",
                             fn, path, cfg.width, cfg.height);
    memset(c.img.rgb, 0xff, bytes);
    draw_grid(&c);
    for (int i = 0; i < nseries; i++) draw_series(&c, &series[i], dgm_tab10[i % DGM_TAB10_SIZE]);
    draw_axes(&c, cfg.x_label, cfg.y_label);
    draw_legend(&c, series, nseries);
    st = dgm_io_write_png(ctx, fn, path, c.img.rgb, cfg.width, cfg.height, 3);
    free(c.img.rgb);
    return st;
}
