/* Convolution ops. A convolution y = conv(x, w) is one of three linear maps, each linear
 * in both arguments, whose gradients are the other two:
 *
 *   forward    y  = conv(x, w)        dx = data(dy, w)     dw = weight(x, dy)
 *   data       x' = data(d, w)        dd = conv(dx', w)    dw = weight(dx', d)
 *   weight     w' = weight(x, d)      dx = data(d, dw')    dd = conv(x, dw')
 *
 * "data" is the transposed convolution. So the three ops recorded here differentiate to
 * one another: the double backward that a WGAN-GP or R1 penalty of a convolutional critic
 * needs comes without further code. Each op records the geometry of the convolution it
 * belongs to (x -> y), whichever of the three it computes. */
#include <string.h>

#include "ops/conv_exec.h"
#include "ops/ops_common.h"

typedef enum conv_kind { CONV_FORWARD = 0, CONV_DATA, CONV_WEIGHT } conv_kind;

static const dgm_op op_of_kind[] = {DGM_OP_CONV2D, DGM_OP_CONV_TRANSPOSE2D,
                                    DGM_OP_CONV2D_WEIGHT_GRAD};

static dgm_status conv_record(dgm_ctx *ctx, conv_kind kind, const dgm_conv_geom *g,
                              dgm_tensor *a, dgm_tensor *b, dgm_tensor *bias, dgm_tensor **out);

static dgm_status conv_backward(dgm_ctx *ctx, dgm_node *n)
{
    const dgm_conv_geom *g = n->saved[0];
    const conv_kind kind = (conv_kind)n->i[0];
    dgm_tensor *a = n->in[0], *b = n->in[1], *bias = n->in[2];
    const float *gy = n->out->grad;
    float *t = NULL, beta = 0;
    if (kind == CONV_FORWARD) { /* a = x, b = w */
        float *tx = NULL, *tb = NULL, bx = 0, bb = 0;
        DGM_TRY(dgm_grad_target(ctx, a, &tx, &bx));
        DGM_TRY(dgm_grad_target(ctx, b, &t, &beta));
        DGM_TRY(dgm_grad_target(ctx, bias, &tb, &bb));
        /* The bias's gradient with the weight's, in one pass, when they accumulate alike. */
        const bool together = t && tb && bb == beta;
        if (tx && t)
            DGM_TRY(dgm_conv_exec_backward(ctx, g, a->data, b->data, gy, bx, tx, beta, t,
                                           together ? tb : NULL));
        else if (tx)
            DGM_TRY(dgm_conv_exec_data(ctx, g, gy, b->data, NULL, bx, tx));
        else if (t)
            DGM_TRY(dgm_conv_exec_weight(ctx, g, a->data, gy, beta, t, together ? tb : NULL));
        if (tb && !together) DGM_TRY(dgm_channel_sum(ctx, g->n, g->o, g->oh * g->ow, gy, bb, tb));
    } else if (kind == CONV_DATA) { /* a = d (y-shaped), b = w; out is x-shaped */
        DGM_TRY(dgm_grad_target(ctx, a, &t, &beta));
        if (t) DGM_TRY(dgm_conv_exec_forward(ctx, g, gy, b->data, NULL, beta, t));
        DGM_TRY(dgm_grad_target(ctx, b, &t, &beta));
        if (t) DGM_TRY(dgm_conv_exec_weight(ctx, g, gy, a->data, beta, t, NULL));
        DGM_TRY(dgm_grad_target(ctx, bias, &t, &beta));
        if (t) DGM_TRY(dgm_channel_sum(ctx, g->n, g->c, g->h * g->w, gy, beta, t));
    } else { /* a = x, b = d; out is w-shaped */
        DGM_TRY(dgm_grad_target(ctx, a, &t, &beta));
        if (t) DGM_TRY(dgm_conv_exec_data(ctx, g, b->data, gy, NULL, beta, t));
        DGM_TRY(dgm_grad_target(ctx, b, &t, &beta));
        if (t) DGM_TRY(dgm_conv_exec_forward(ctx, g, a->data, gy, NULL, beta, t));
    }
    return DGM_STATUS_OK;
}

static dgm_status accumulate_conv(dgm_ctx *ctx, dgm_tensor *target, conv_kind kind,
                                  const dgm_conv_geom *g, dgm_tensor *a, dgm_tensor *b)
{
    if (!dgm_autograd_wants(ctx, target)) return DGM_STATUS_OK;
    dgm_tensor *r = NULL;
    DGM_TRY(conv_record(ctx, kind, g, a, b, NULL, &r));
    return dgm_autograd_accumulate(ctx, target, r);
}

static dgm_status conv_graph_backward(dgm_ctx *ctx, dgm_node *n, dgm_tensor *gy)
{
    const dgm_conv_geom *g = n->saved[0];
    const conv_kind kind = (conv_kind)n->i[0];
    dgm_tensor *a = n->in[0], *b = n->in[1], *bias = n->in[2];
    if (kind == CONV_FORWARD) {
        DGM_TRY(accumulate_conv(ctx, a, CONV_DATA, g, gy, b));
        DGM_TRY(accumulate_conv(ctx, b, CONV_WEIGHT, g, a, gy));
    } else if (kind == CONV_DATA) {
        DGM_TRY(accumulate_conv(ctx, a, CONV_FORWARD, g, gy, b));
        DGM_TRY(accumulate_conv(ctx, b, CONV_WEIGHT, g, gy, a));
    } else {
        DGM_TRY(accumulate_conv(ctx, a, CONV_DATA, g, b, gy));
        DGM_TRY(accumulate_conv(ctx, b, CONV_FORWARD, g, a, gy));
    }
    if (!dgm_autograd_wants(ctx, bias)) return DGM_STATUS_OK;
    dgm_tensor *db = NULL;
    DGM_TRY(dgm_channel_sum_op(ctx, gy, g->n, kind == CONV_FORWARD ? g->o : g->c, &db));
    return dgm_autograd_accumulate(ctx, bias, db);
}

/* Computes one of the three maps into a new step tensor and records it. */
static dgm_status conv_record(dgm_ctx *ctx, conv_kind kind, const dgm_conv_geom *g,
                              dgm_tensor *a, dgm_tensor *b, dgm_tensor *bias, dgm_tensor **out)
{
    int64_t shape[4];
    if (kind == CONV_FORWARD) {
        const int64_t s[4] = {g->n, g->o, g->oh, g->ow};
        memcpy(shape, s, sizeof s);
    } else if (kind == CONV_DATA) {
        const int64_t s[4] = {g->n, g->c, g->h, g->w};
        memcpy(shape, s, sizeof s);
    } else {
        const int64_t s[4] = {g->o, g->c / g->groups, g->kh, g->kw};
        memcpy(shape, s, sizeof s);
    }
    dgm_tensor *y = NULL;
    DGM_TRY(dgm_tensor_alloc_step(ctx, 4, shape, &y));
    const float *bd = bias ? bias->data : NULL;
    if (kind == CONV_FORWARD)
        DGM_TRY(dgm_conv_exec_forward(ctx, g, a->data, b->data, bd, 0.0f, y->data));
    else if (kind == CONV_DATA)
        DGM_TRY(dgm_conv_exec_data(ctx, g, a->data, b->data, bd, 0.0f, y->data));
    else
        DGM_TRY(dgm_conv_exec_weight(ctx, g, a->data, b->data, 0.0f, y->data, NULL));
    dgm_tensor *in[3] = {a, b, bias};
    if (dgm_tape_needed(ctx, in, 3)) {
        void *keep = NULL;
        DGM_TRY(dgm_arena_alloc(&ctx->host_arena, sizeof *g, &keep));
        memcpy(keep, g, sizeof *g);
        dgm_node *node = NULL;
        DGM_TRY(dgm_tape_record(ctx, op_of_kind[kind], conv_backward, conv_graph_backward, y, in,
                                3, &node));
        node->i[0] = kind;
        node->saved[0] = keep;
    }
    *out = y;
    return DGM_STATUS_OK;
}

/* ---- the public ops: arguments checked, geometry made ---- */

static int opt_or(int v, int dflt) { return v > 0 ? v : dflt; }

static dgm_status check4(dgm_ctx *ctx, const char *op, const char *arg, dgm_tensor *t)
{
    DGM_TRY(dgm_check_tensor(ctx, t, op, arg));
    if (t->ndim == 4) return DGM_STATUS_OK;
    char s[96];
    return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH, "%s: %s %s is not 4-D (N, C, H, W)", op,
                         arg, dgm_shape_str(t, s, sizeof s));
}

/* The checks both public convolutions start with (context, out, 4-D x and weight), and
 * the strides, paddings, dilations and groups of the geometry from the options; the sizes
 * are left to the caller. */
static dgm_status options_geom(dgm_ctx *ctx, const char *op, dgm_tensor *x, dgm_tensor *weight,
                               const dgm_conv2d_options *opt, dgm_conv_geom *g, dgm_tensor **out)
{
    DGM_TRY(dgm_op_begin(ctx, op, out));
    DGM_TRY(check4(ctx, op, "x", x));
    DGM_TRY(check4(ctx, op, "weight", weight));
    static const dgm_conv2d_options none;
    if (!opt) opt = &none;
    g->sh = opt_or(opt->stride[0], 1);
    g->sw = opt_or(opt->stride[1], 1);
    g->dh = opt_or(opt->dilation[0], 1);
    g->dw = opt_or(opt->dilation[1], 1);
    g->ph = opt->padding[0];
    g->pw = opt->padding[1];
    g->groups = opt_or(opt->groups, 1);
    if (opt->stride[0] < 0 || opt->stride[1] < 0 || opt->dilation[0] < 0 ||
        opt->dilation[1] < 0 || opt->padding[0] < 0 || opt->padding[1] < 0 || opt->groups < 0 ||
        opt->output_padding[0] < 0 || opt->output_padding[1] < 0)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: negative stride, padding, dilation, groups or output padding",
                             op);
    return DGM_STATUS_OK;
}

static dgm_status check_weight(dgm_ctx *ctx, const char *op, dgm_tensor *x, dgm_tensor *w,
                               int64_t in_ch, int64_t groups, int64_t out_ch)
{
    char sx[96], sw[96];
    if (in_ch % groups != 0 || out_ch % groups != 0 || w->shape[1] * groups != in_ch)
        return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH,
                             "%s: weight %s does not fit x %s in %lld groups", op,
                             dgm_shape_str(w, sw, sizeof sw), dgm_shape_str(x, sx, sizeof sx),
                             (long long)groups);
    return DGM_STATUS_OK;
}

static dgm_status check_bias(dgm_ctx *ctx, const char *op, dgm_tensor *bias, int64_t ch)
{
    if (!bias) return DGM_STATUS_OK;
    DGM_TRY(dgm_check_tensor(ctx, bias, op, "bias"));
    if (bias->numel == ch) return DGM_STATUS_OK;
    char s[96];
    return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH,
                         "%s: bias %s does not match the %lld output channels", op,
                         dgm_shape_str(bias, s, sizeof s), (long long)ch);
}

static dgm_status check_extent(dgm_ctx *ctx, const char *op, const dgm_conv_geom *g,
                               dgm_tensor *x)
{
    if (g->oh >= 1 && g->ow >= 1 && g->h >= 1 && g->w >= 1) return DGM_STATUS_OK;
    char s[96];
    return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH,
                         "%s: x %s gives an empty output with kernel %lldx%lld, stride %lld, "
                         "padding %lld, dilation %lld",
                         op, dgm_shape_str(x, s, sizeof s), (long long)g->kh, (long long)g->kw,
                         (long long)g->sh, (long long)g->ph, (long long)g->dh);
}

dgm_status dgm_conv2d(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor *weight, dgm_tensor *bias,
                      const dgm_conv2d_options *options, dgm_tensor **out)
{
    const char *op = "conv2d";
    dgm_conv_geom g;
    DGM_TRY(options_geom(ctx, op, x, weight, options, &g, out));
    g.n = x->shape[0];
    g.c = x->shape[1];
    g.h = x->shape[2];
    g.w = x->shape[3];
    g.o = weight->shape[0];
    g.kh = weight->shape[2];
    g.kw = weight->shape[3];
    DGM_TRY(check_weight(ctx, op, x, weight, g.c, g.groups, g.o));
    DGM_TRY(check_bias(ctx, op, bias, g.o));
    g.oh = (g.h + 2 * g.ph - g.dh * (g.kh - 1) - 1) / g.sh + 1;
    g.ow = (g.w + 2 * g.pw - g.dw * (g.kw - 1) - 1) / g.sw + 1;
    if (g.h + 2 * g.ph < g.dh * (g.kh - 1) + 1 || g.w + 2 * g.pw < g.dw * (g.kw - 1) + 1) g.oh = 0;
    DGM_TRY(check_extent(ctx, op, &g, x));
    return conv_record(ctx, CONV_FORWARD, &g, x, weight, bias, out);
}

dgm_status dgm_conv_transpose2d(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor *weight,
                                dgm_tensor *bias, const dgm_conv2d_options *options,
                                dgm_tensor **out)
{
    const char *op = "conv_transpose2d";
    dgm_conv_geom g;
    DGM_TRY(options_geom(ctx, op, x, weight, options, &g, out));
    const int oph = options ? options->output_padding[0] : 0;
    const int opw = options ? options->output_padding[1] : 0;
    if (oph >= g.sh && oph >= g.dh)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: output padding %d must be smaller than the stride or the "
                             "dilation", op, oph);
    if (opw >= g.sw && opw >= g.dw)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: output padding %d must be smaller than the stride or the "
                             "dilation", op, opw);
    /* The convolution this is the adjoint of maps [n, c_out, h_out, w_out] to x. */
    g.n = x->shape[0];
    g.o = x->shape[1];
    g.oh = x->shape[2];
    g.ow = x->shape[3];
    g.kh = weight->shape[2];
    g.kw = weight->shape[3];
    if (weight->shape[0] != g.o) {
        char sx[96], sw[96];
        return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH,
                             "%s: weight %s does not take the %lld channels of x %s", op,
                             dgm_shape_str(weight, sw, sizeof sw), (long long)g.o,
                             dgm_shape_str(x, sx, sizeof sx));
    }
    g.c = weight->shape[1] * g.groups;
    if (g.o % g.groups != 0) return check_weight(ctx, op, x, weight, g.c, g.groups, g.o);
    DGM_TRY(check_bias(ctx, op, bias, g.c));
    g.h = (g.oh - 1) * g.sh - 2 * g.ph + g.dh * (g.kh - 1) + oph + 1;
    g.w = (g.ow - 1) * g.sw - 2 * g.pw + g.dw * (g.kw - 1) + opw + 1;
    DGM_TRY(check_extent(ctx, op, &g, x));
    return conv_record(ctx, CONV_DATA, &g, x, weight, bias, out);
}
