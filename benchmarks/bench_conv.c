/* bench_conv: forward + backward (dx, dW, db) of each convolution of the default UNet and
 * of the DCGAN (conv_shapes.h), dgm's CPU backend against the ceiling its method can
 * reach, measured in the same run:
 *   gemm : the three matrix products of the whole batch as single sgemm calls (y = W·col,
 *          dcol = W^T·dy, dW = dy·col^T), the floor of any im2col method on this BLAS
 *   dgm  : dgm_conv2d (or dgm_conv_transpose2d) with bias, dgm_backward_from, step end
 * GFLOP/s count 6·N·O·OH·OW·C·KH·KW per forward + backward (the three products).
 * Results go to stdout as JSON lines (prefix "json: "); run_bench_conv.sh puts them
 * beside the PyTorch peer's.
 *
 * Usage: bench_conv [--quick] [--only NAME]
 */
#include "bench_common.h"
#include "conv_shapes.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "dgm/dgm.h"

typedef struct conv_run {
    dgm_ctx *ctx;
    const conv_shape *s;
    dgm_tensor *x, *w, *b, *dy;
    dgm_conv2d_options opt;
} conv_run;

/* The convolution this shape computes (a transposed one is the adjoint of a convolution
 * from its output to its input): its output size. */
static int out_size(const conv_shape *s, int in)
{
    return s->transposed ? (in - 1) * s->stride - 2 * s->pad + s->k
                         : (in + 2 * s->pad - s->k) / s->stride + 1;
}

static int dgm_step(void *p)
{
    conv_run *r = p;
    dgm_tensor *y = NULL;
    dgm_status st = r->s->transposed ? dgm_conv_transpose2d(r->ctx, r->x, r->w, r->b, &r->opt, &y)
                                     : dgm_conv2d(r->ctx, r->x, r->w, r->b, &r->opt, &y);
    if (st == DGM_STATUS_OK) st = dgm_backward_from(r->ctx, y, r->dy);
    if (st == DGM_STATUS_OK) st = dgm_ctx_step_end(r->ctx);
    if (st != DGM_STATUS_OK) fprintf(stderr, "dgm: %s\n", dgm_last_error(r->ctx));
    return st != DGM_STATUS_OK;
}

/* The three products of the convolution's im2col method over the whole batch at once:
 * y[O, cols] = W[O, CKK]·col[CKK, cols], dcol = W^T·dy, dW = dy·col^T (cols = N·OH·OW of
 * the convolution's output side; for a transposed one, its input side). */
typedef struct gemm_run {
    int o, ckk, cols;
    float *wt, *col, *y, *dcol, *dw;
} gemm_run;

static int gemm_step(void *p)
{
    gemm_run *g = p;
    bench_sgemm(0, 0, g->o, g->cols, g->ckk, 0.0f, g->wt, g->col, g->y);
    bench_sgemm(1, 0, g->ckk, g->cols, g->o, 0.0f, g->wt, g->y, g->dcol);
    bench_sgemm(0, 1, g->o, g->ckk, g->cols, 0.0f, g->y, g->col, g->dw);
    return 0;
}

static dgm_tensor *tensor(dgm_ctx *ctx, int ndim, const int64_t *shape, unsigned seed, bool grad)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    float *v = bench_random((size_t)n, seed);
    dgm_tensor *t = NULL;
    if (!v || dgm_tensor_create(ctx, ndim, shape, &t) != DGM_STATUS_OK ||
        dgm_tensor_copy_from_host(ctx, t, v) != DGM_STATUS_OK) {
        free(v);
        return NULL;
    }
    free(v);
    if (grad) dgm_tensor_set_requires_grad(t, true);
    return t;
}

int main(int argc, char **argv)
{
    dgm_exec_with_thread_policy(argv); /* as the dgm command runs */
    int quick = 0;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else {
            fprintf(stderr, "usage: bench_conv [--quick] [--only NAME]\n");
            return 2;
        }
    }
    const double min_s = quick ? 0.2 : 1.0;
    const int trials = quick ? 1 : 3;
    dgm_ctx *ctx = NULL;
    if (dgm_ctx_create(NULL, &ctx) != DGM_STATUS_OK) {
        fprintf(stderr, "cpu context: %s\n", dgm_last_error(ctx));
        return 1;
    }
    printf("%-24s %9s %9s %9s %9s %8s\n", "shape", "dgm ms", "GFLOP/s", "gemm ms", "GFLOP/s",
           "dgm/gemm");
    for (int i = 0; i < CONV_SHAPE_COUNT; i++) {
        const conv_shape *s = &conv_shapes[i];
        if (only && strcmp(only, s->name)) continue;
        const int oh = out_size(s, s->h), ow = out_size(s, s->w);
        /* the underlying convolution: small side (o channels) <- large side */
        const int64_t conv_in = s->transposed ? s->o : s->c, conv_out = s->transposed ? s->c : s->o;
        const int64_t small_hw = s->transposed ? (int64_t)s->h * s->w : (int64_t)oh * ow;
        const double flops = 6.0 * s->n * conv_out * small_hw * conv_in * s->k * s->k;

        conv_run r;
        memset(&r, 0, sizeof r);
        r.ctx = ctx;
        r.s = s;
        r.opt.stride[0] = r.opt.stride[1] = s->stride;
        r.opt.padding[0] = r.opt.padding[1] = s->pad;
        const int64_t xs[4] = {s->n, s->c, s->h, s->w}, ys[4] = {s->n, s->o, oh, ow};
        const int64_t ws[4] = {s->transposed ? s->c : s->o, s->transposed ? s->o : s->c, s->k, s->k};
        const int64_t bs[1] = {s->o};
        r.x = tensor(ctx, 4, xs, 1, true);
        r.w = tensor(ctx, 4, ws, 2, true);
        r.b = tensor(ctx, 1, bs, 3, true);
        r.dy = tensor(ctx, 4, ys, 4, false);
        if (!r.x || !r.w || !r.b || !r.dy) {
            fprintf(stderr, "setup failed: %s\n", dgm_last_error(ctx));
            return 1;
        }
        const double dgm_s = bench_time(dgm_step, &r, 2, min_s, trials);

        gemm_run g = {(int)conv_out, (int)(conv_in * s->k * s->k), (int)(s->n * small_hw),
                      NULL, NULL, NULL, NULL, NULL};
        g.wt = bench_random((size_t)g.o * g.ckk, 5);
        g.col = bench_random((size_t)g.ckk * g.cols, 6);
        g.y = bench_random((size_t)g.o * g.cols, 7);
        g.dcol = bench_random((size_t)g.ckk * g.cols, 8);
        g.dw = bench_random((size_t)g.o * g.ckk, 9);
        double gemm_s = -1.0;
        if (g.wt && g.col && g.y && g.dcol && g.dw) gemm_s = bench_time(gemm_step, &g, 1, min_s, trials);
        free(g.wt);
        free(g.col);
        free(g.y);
        free(g.dcol);
        free(g.dw);
        dgm_tensor_free(r.x);
        dgm_tensor_free(r.w);
        dgm_tensor_free(r.b);
        dgm_tensor_free(r.dy);
        if (dgm_s < 0 || gemm_s < 0) return 1;
        printf("%-24s %9.3f %9.1f %9.3f %9.1f %8.2f\n", s->name, dgm_s * 1e3, flops / dgm_s * 1e-9,
               gemm_s * 1e3, flops / gemm_s * 1e-9, dgm_s / gemm_s);
        printf("json: {\"bench\":\"conv\",\"shape\":\"%s\",\"what\":\"dgm\",\"seconds\":%.6g,"
               "\"gflops\":%.4g}\n",
               s->name, dgm_s, flops / dgm_s * 1e-9);
        printf("json: {\"bench\":\"conv\",\"shape\":\"%s\",\"what\":\"gemm\",\"seconds\":%.6g,"
               "\"gflops\":%.4g}\n",
               s->name, gemm_s, flops / gemm_s * 1e-9);
        fflush(stdout);
    }
    dgm_ctx_free(ctx);
    return 0;
}
