/* Convolutions: by the backend's library where it has one (the CPU's oneDNN), else as
 * im2col and one matrix product per group, on tiles of T images: the
 * tile's column buffer [C·KH·KW, T·OH·OW] makes the product wide enough to run near the
 * BLAS's (cuBLAS's) rate at small planes (7×7), and bounds the buffer at large batches
 * (a 64 -> 64 3×3 convolution of 128 images of 28×28 would need 231 MB at once). The
 * product of a tile is channel-major [O, T·OH·OW]; swap_axes moves it to and from NCHW.
 * With one image per tile the product reads and writes the tensors in place, and a 1×1
 * convolution (stride 1, no padding) needs no column buffer at all. */
#include "ops/conv_exec.h"

/* Columns of a tile's product on the CPU: measured on the UNet's shapes
 * (benchmarks/bench_conv, docs/benchmark-notes.md). */
#define CONV_CPU_TILE_COLS 2048
/* Workspace of one call at most (beyond one image's needs). */
#define CONV_CPU_MAX_BYTES ((size_t)64 << 20)
#define CONV_CUDA_MAX_BYTES ((size_t)512 << 20)

static bool pointwise(const dgm_conv_geom *g)
{
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0;
}

/* Rows of the column buffer: C·KH·KW, or C for a 1×1 convolution (x's tile swapped). */
static int64_t col_rows(const dgm_conv_geom *g) { return g->c * g->kh * g->kw; }

/* Images per tile, and the workspace: col [col_rows, T·ohw] then tmp [o, T·ohw] then
 * `extra` floats. */
static dgm_status tile_workspace(dgm_ctx *ctx, const dgm_conv_geom *g, int64_t extra,
                                 int64_t *tile, float **col, float **tmp, float **rest)
{
    const int64_t ohw = g->oh * g->ow, per_image = (col_rows(g) + g->o) * ohw;
    int64_t t = ctx->device == DGM_DEVICE_CUDA ? g->n : (CONV_CPU_TILE_COLS + ohw - 1) / ohw;
    const size_t cap = ctx->device == DGM_DEVICE_CUDA ? CONV_CUDA_MAX_BYTES : CONV_CPU_MAX_BYTES;
    const int64_t fit = (int64_t)(cap / sizeof(float) / (size_t)per_image);
    if (t > fit) t = fit;
    if (t > g->n) t = g->n;
    if (t < 1) t = 1;
    float *ws = NULL;
    DGM_TRY(dgm_workspace(ctx, (size_t)(t * per_image + extra) * sizeof(float), (void **)&ws));
    *tile = t;
    *col = ws;
    *tmp = ws + t * col_rows(g) * ohw;
    if (rest) *rest = *tmp + t * g->o * ohw;
    return DGM_STATUS_OK;
}

/* The tile's input columns: x itself (1×1, one image), x's tile channel-major (1×1), or
 * im2col. */
static dgm_status tile_columns(dgm_ctx *ctx, const dgm_conv_geom *g, int64_t t, const float *x,
                               float *buf, const float **col)
{
    const int64_t hw = g->h * g->w;
    if (pointwise(g) && t == 1) {
        *col = x;
        return DGM_STATUS_OK;
    }
    *col = buf;
    if (pointwise(g)) return ctx->be->swap_axes(ctx, 1, t, g->c, hw, 1.0f, x, 0.0f, buf);
    return ctx->be->im2col(ctx, g, t, x, buf);
}

/* The tile's output gradient channel-major [o, t·ohw]: dy itself for one image. */
static dgm_status tile_dy(dgm_ctx *ctx, const dgm_conv_geom *g, int64_t t, const float *dy,
                          float *buf, const float **out)
{
    if (t == 1) {
        *out = dy;
        return DGM_STATUS_OK;
    }
    *out = buf;
    return ctx->be->swap_axes(ctx, 1, t, g->o, g->oh * g->ow, 1.0f, dy, 0.0f, buf);
}

static dgm_status check_beta(dgm_ctx *ctx, float beta)
{
    if (beta == 0.0f || beta == 1.0f) return DGM_STATUS_OK;
    return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "conv: beta %g is not 0 or 1",
                         (double)beta);
}

dgm_status dgm_conv_exec_forward(dgm_ctx *ctx, const dgm_conv_geom *g, const float *x,
                                 const float *w, const float *bias, float beta, float *y)
{
    DGM_TRY(check_beta(ctx, beta));
    const dgm_backend *be = ctx->be;
    if (be->conv_forward) {
        const dgm_status st = be->conv_forward(ctx, g, x, w, bias, beta, y);
        if (st != DGM_STATUS_UNSUPPORTED) return st;
    }
    const int64_t hw = g->h * g->w, ohw = g->oh * g->ow;
    const int64_t og = g->o / g->groups, kg = col_rows(g) / g->groups;
    int64_t tile = 1;
    float *colbuf = NULL, *tmp = NULL;
    DGM_TRY(tile_workspace(ctx, g, 0, &tile, &colbuf, &tmp, NULL));
    for (int64_t n0 = 0; n0 < g->n; n0 += tile) {
        const int64_t t = g->n - n0 < tile ? g->n - n0 : tile, cols = t * ohw;
        const float *col = NULL;
        DGM_TRY(tile_columns(ctx, g, t, x + n0 * g->c * hw, colbuf, &col));
        /* One image: the product goes straight into y (accumulating for beta 1). */
        float *out = t == 1 ? y + n0 * g->o * ohw : tmp;
        float b = t == 1 ? beta : 0.0f;
        if (bias) {
            DGM_TRY(be->broadcast(ctx, DGM_BCAST_COL, g->o, cols, 1.0f, bias, b, out));
            b = 1.0f;
        }
        for (int64_t gi = 0; gi < g->groups; gi++)
            DGM_TRY(be->gemm(ctx, 0, 0, og, cols, kg, 1.0f, w + gi * og * kg, kg,
                             col + gi * kg * cols, cols, b, out + gi * og * cols, cols));
        if (t > 1)
            DGM_TRY(be->swap_axes(ctx, 1, g->o, t, ohw, 1.0f, tmp, beta, y + n0 * g->o * ohw));
    }
    return DGM_STATUS_OK;
}

dgm_status dgm_conv_exec_data(dgm_ctx *ctx, const dgm_conv_geom *g, const float *dy,
                              const float *w, const float *bias, float beta, float *dx)
{
    DGM_TRY(check_beta(ctx, beta));
    const dgm_backend *be = ctx->be;
    const int64_t hw = g->h * g->w, ohw = g->oh * g->ow, chw = g->c * hw;
    if (be->conv_data) {
        dgm_status st = be->conv_data(ctx, g, dy, w, beta, dx);
        if (st != DGM_STATUS_UNSUPPORTED) {
            if (st != DGM_STATUS_OK || !bias) return st;
            float *plane = NULL; /* the bias of a transposed convolution: one image's plane */
            DGM_TRY(dgm_workspace(ctx, (size_t)chw * sizeof(float), (void **)&plane));
            DGM_TRY(be->broadcast(ctx, DGM_BCAST_COL, g->c, hw, 1.0f, bias, 0.0f, plane));
            return be->broadcast(ctx, DGM_BCAST_ROW, g->n, chw, 1.0f, plane, 1.0f, dx);
        }
    }
    const int64_t og = g->o / g->groups, kg = col_rows(g) / g->groups;
    int64_t tile = 1;
    float *col = NULL, *tmp = NULL, *plane = NULL;
    DGM_TRY(tile_workspace(ctx, g, bias ? chw : 0, &tile, &col, &tmp, &plane));
    /* A bias (the transposed convolution's) as one image's plane [c, h·w], copied into
     * each tile's output first. */
    if (bias) DGM_TRY(be->broadcast(ctx, DGM_BCAST_COL, g->c, hw, 1.0f, bias, 0.0f, plane));
    for (int64_t n0 = 0; n0 < g->n; n0 += tile) {
        const int64_t t = g->n - n0 < tile ? g->n - n0 : tile, cols = t * ohw;
        const float *d = NULL;
        DGM_TRY(tile_dy(ctx, g, t, dy + n0 * g->o * ohw, tmp, &d));
        float *out = dx + n0 * chw, b = beta;
        if (bias) {
            DGM_TRY(be->broadcast(ctx, DGM_BCAST_ROW, t, chw, 1.0f, plane, beta, out));
            b = 1.0f;
        }
        if (pointwise(g)) {
            /* dx's columns are the product itself: into dx for one image, else through
             * the column buffer and a swap. */
            float *dst = t == 1 ? out : col;
            const float bb = t == 1 ? b : 0.0f;
            for (int64_t gi = 0; gi < g->groups; gi++)
                DGM_TRY(be->gemm(ctx, 1, 0, kg, cols, og, 1.0f, w + gi * og * kg, kg,
                                 d + gi * og * cols, cols, bb, dst + gi * kg * cols, cols));
            if (t > 1) DGM_TRY(be->swap_axes(ctx, 1, g->c, t, hw, 1.0f, col, b, out));
            continue;
        }
        for (int64_t gi = 0; gi < g->groups; gi++)
            DGM_TRY(be->gemm(ctx, 1, 0, kg, cols, og, 1.0f, w + gi * og * kg, kg,
                             d + gi * og * cols, cols, 0.0f, col + gi * kg * cols, cols));
        if (b == 0.0f) DGM_TRY(be->fill(ctx, out, (size_t)(t * chw), 0.0f));
        DGM_TRY(be->col2im(ctx, g, t, col, out));
    }
    return DGM_STATUS_OK;
}

dgm_status dgm_conv_exec_weight(dgm_ctx *ctx, const dgm_conv_geom *g, const float *x,
                                const float *dy, float beta, float *dw, float *db)
{
    DGM_TRY(check_beta(ctx, beta));
    if (ctx->be->conv_weight) {
        const dgm_status st = ctx->be->conv_weight(ctx, g, x, dy, beta, dw, db);
        if (st != DGM_STATUS_UNSUPPORTED) return st;
    }
    if (db) DGM_TRY(dgm_channel_sum(ctx, g->n, g->o, g->oh * g->ow, dy, beta, db));
    const int64_t hw = g->h * g->w, ohw = g->oh * g->ow;
    const int64_t og = g->o / g->groups, kg = col_rows(g) / g->groups;
    int64_t tile = 1;
    float *colbuf = NULL, *tmp = NULL;
    DGM_TRY(tile_workspace(ctx, g, 0, &tile, &colbuf, &tmp, NULL));
    for (int64_t n0 = 0; n0 < g->n; n0 += tile) {
        const int64_t t = g->n - n0 < tile ? g->n - n0 : tile, cols = t * ohw;
        const float *col = NULL, *d = NULL;
        DGM_TRY(tile_columns(ctx, g, t, x + n0 * g->c * hw, colbuf, &col));
        DGM_TRY(tile_dy(ctx, g, t, dy + n0 * g->o * ohw, tmp, &d));
        const float b = n0 == 0 ? beta : 1.0f;
        for (int64_t gi = 0; gi < g->groups; gi++)
            DGM_TRY(ctx->be->gemm(ctx, 0, 1, og, kg, cols, 1.0f, d + gi * og * cols, cols,
                                  col + gi * kg * cols, cols, b, dw + gi * og * kg, kg));
    }
    return DGM_STATUS_OK;
}

dgm_status dgm_conv_exec_backward(dgm_ctx *ctx, const dgm_conv_geom *g, const float *x,
                                  const float *w, const float *dy, float beta_x, float *dx,
                                  float beta_w, float *dw, float *db)
{
    if (ctx->be->conv_backward) {
        const dgm_status st = ctx->be->conv_backward(ctx, g, x, w, dy, beta_x, dx, beta_w, dw, db);
        if (st != DGM_STATUS_UNSUPPORTED) return st;
    }
    DGM_TRY(dgm_conv_exec_data(ctx, g, dy, w, NULL, beta_x, dx));
    return dgm_conv_exec_weight(ctx, g, x, dy, beta_w, dw, db);
}

dgm_status dgm_channel_sum(dgm_ctx *ctx, int64_t n, int64_t c, int64_t plane, const float *y,
                           float beta, float *db)
{
    float *rows = NULL;
    DGM_TRY(dgm_workspace(ctx, (size_t)(n * c) * sizeof(float), (void **)&rows));
    DGM_TRY(ctx->be->reduce_sum(ctx, DGM_AXIS_ROWS, n * c, plane, 1.0f, y, 0.0f, rows));
    return ctx->be->reduce_sum(ctx, DGM_AXIS_COLS, n, c, 1.0f, rows, beta, db);
}
