/* bench_elementwise: dgm's own CPU loops, one op at a time, at the sizes the training
 * loops run them: nanoseconds per element (best of trials) of the activations and their
 * backward passes, a broadcast add, a row sum and Adam's update. Built twice (once with
 * -DDGM_NO_AVX512_CLONES) it tells where the AVX-512 (x86-64-v4) clones of
 * `DGM_CPU_CLONES` pay over the AVX2 ones (benchmark-notes.md, 2026-12-07).
 *
 * Usage: bench_elementwise [--rows R] [--cols C] [--params N]
 *   defaults: a [256, 128] activation (the 2-D models' hidden layers at batch 256) and
 *   652,824 parameters (the Fashion-MNIST VAE) for Adam.
 * Results also go to stdout as JSON lines (prefix "json: ").
 */
#include "bench_common.h"

#include <string.h>

#include "dgm/dgm.h"

typedef struct op_args {
    dgm_ctx *ctx;
    dgm_tensor *x, *bias;
    dgm_params *params;
    dgm_optim *optim;
    int op;
} op_args;

enum { OP_RELU, OP_GELU, OP_SILU, OP_TANH, OP_SIGMOID, OP_SOFTPLUS, OP_EXP, OP_GELU_GRAD,
       OP_SILU_GRAD, OP_ADD_ROW, OP_MUL, OP_SUM_ROWS, OP_ADAM, N_OPS };
static const char *const op_names[N_OPS] = {"relu", "gelu", "silu", "tanh", "sigmoid", "softplus",
                                            "exp", "gelu fwd+bwd", "silu fwd+bwd", "add row bias",
                                            "mul", "sum rows", "adam step"};

static int run_op(void *p)
{
    op_args *a = p;
    dgm_ctx *ctx = a->ctx;
    dgm_tensor *y = NULL;
    dgm_status st = DGM_STATUS_OK;
    switch (a->op) {
    case OP_RELU: st = dgm_relu(ctx, a->x, &y); break;
    case OP_GELU: st = dgm_gelu(ctx, a->x, &y); break;
    case OP_SILU: st = dgm_silu(ctx, a->x, &y); break;
    case OP_TANH: st = dgm_tanh(ctx, a->x, &y); break;
    case OP_SIGMOID: st = dgm_sigmoid(ctx, a->x, &y); break;
    case OP_SOFTPLUS: st = dgm_softplus(ctx, a->x, &y); break;
    case OP_EXP: st = dgm_exp(ctx, a->x, &y); break;
    case OP_GELU_GRAD:
    case OP_SILU_GRAD: {
        dgm_tensor *w = dgm_params_at(a->params, 0), *s = NULL;
        st = dgm_mul(ctx, a->x, w, &y);
        if (!st) st = a->op == OP_GELU_GRAD ? dgm_gelu(ctx, y, &y) : dgm_silu(ctx, y, &y);
        if (!st) st = dgm_sum(ctx, y, DGM_AXIS_ALL, &s);
        if (!st) st = dgm_backward(ctx, s);
        break;
    }
    case OP_ADD_ROW: st = dgm_add(ctx, a->x, a->bias, &y); break;
    case OP_MUL: st = dgm_mul(ctx, a->x, a->x, &y); break;
    case OP_SUM_ROWS: st = dgm_sum(ctx, a->x, DGM_AXIS_ROWS, &y); break;
    case OP_ADAM: st = dgm_optim_step(a->optim); break;
    }
    if (!st) st = dgm_ctx_step_end(ctx);
    return st != DGM_STATUS_OK;
}

int main(int argc, char **argv)
{
    dgm_exec_with_thread_policy(argv); /* as the dgm command runs */
    int64_t rows = 256, cols = 128, nparams = 652824;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rows") && i + 1 < argc) rows = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--cols") && i + 1 < argc) cols = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--params") && i + 1 < argc) nparams = atoll(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_elementwise [--rows R] [--cols C] [--params N]\n");
            return 2;
        }
    }
    if (rows < 1 || cols < 1 || nparams < 1) return 2;
    dgm_ctx_config cfg = dgm_ctx_config_default();
    cfg.device = DGM_DEVICE_CPU;
    dgm_ctx *ctx = NULL;
    if (dgm_ctx_create(&cfg, &ctx)) {
        fprintf(stderr, "bench_elementwise: %s\n", ctx ? dgm_last_error(ctx) : "no context");
        return 1;
    }
    const int64_t shape[2] = {rows, cols}, bshape[2] = {1, cols}, pshape[1] = {nparams};
    float *xh = bench_random((size_t)(rows * cols), 1), *bh = bench_random((size_t)cols, 2);
    op_args a = {ctx, NULL, NULL, NULL, NULL, 0};
    dgm_params *grad_params = NULL;
    int rc = !xh || !bh;
    /* persistent inputs (not step tensors): they outlive each timed call's step_end */
    if (!rc) rc = dgm_tensor_create(ctx, 2, shape, &a.x) || dgm_tensor_copy_from_host(ctx, a.x, xh) ||
                  dgm_tensor_create(ctx, 2, bshape, &a.bias) || dgm_tensor_copy_from_host(ctx, a.bias, bh);
    /* Adam over nparams values with random gradients; a [rows, cols] weight for the
     * backward passes */
    if (!rc) rc = dgm_params_create(ctx, &a.params) ||
                  dgm_params_add(a.params, "w", 2, shape, (dgm_init){DGM_INIT_NORMAL, 0, 1}) ||
                  dgm_params_alloc(a.params);
    if (!rc) rc = dgm_params_create(ctx, &grad_params) ||
                  dgm_params_add(grad_params, "p", 1, pshape, (dgm_init){DGM_INIT_NORMAL, 0, 1}) ||
                  dgm_params_alloc(grad_params);
    dgm_optim_config oc = dgm_optim_config_default(DGM_OPTIM_ADAM);
    if (!rc) rc = dgm_optim_create(grad_params, &oc, &a.optim);
    if (!rc) {
        float *g = dgm_params_grads(grad_params), *r = bench_random((size_t)nparams, 3);
        if (r) memcpy(g, r, (size_t)nparams * sizeof *g);
        rc = !r;
        free(r);
    }
    if (rc) {
        fprintf(stderr, "bench_elementwise: setup failed: %s\n", dgm_last_error(ctx));
        return 1;
    }
    bench_print_blas();
    printf("bench_elementwise: [%lld, %lld] activations, Adam over %lld values; ns per element, "
           "best of 7 trials\n", (long long)rows, (long long)cols, (long long)nparams);
    for (int op = 0; op < N_OPS; op++) {
        a.op = op;
        const double sec = bench_time(run_op, &a, 3, 0.05, 7);
        const double n = op == OP_ADAM ? (double)nparams : (double)(rows * cols);
        if (sec < 0) {
            fprintf(stderr, "bench_elementwise: %s failed: %s\n", op_names[op], dgm_last_error(ctx));
            return 1;
        }
        printf("  %-14s %8.3f ns/element  (%.1f us a call)\n", op_names[op], sec / n * 1e9, sec * 1e6);
        printf("json: {\"bench\":\"elementwise\",\"op\":\"%s\",\"ns_per_element\":%.4f,\"elements\":%.0f}\n",
               op_names[op], sec / n * 1e9, n);
    }
    dgm_optim_free(a.optim);
    dgm_params_free(grad_params);
    dgm_params_free(a.params);
    dgm_tensor_free(a.x);
    dgm_tensor_free(a.bias);
    free(xh);
    free(bh);
    dgm_ctx_free(ctx);
    return 0;
}
