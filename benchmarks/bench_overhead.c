/* bench_overhead: what a training step costs beyond its arithmetic, per layer.
 *
 * An MLP of L Linear layers of width 4 (ReLU between), batch 8, MSE loss, Adam: the
 * matrix products are a few hundred flops each, so the step's time is dgm's own per-op
 * cost: argument checks, arena allocation, tape records, the backward walk, the BLAS call
 * overhead, the optimizer's pass. The step is timed for L = 2, 8 and 32; the slope over L
 * is the cost of one more layer (its forward, activation, backward and share of the
 * optimizer), and the step at L = 2 shows the fixed cost (zero_grad, loss, step_end).
 * The same L sgemm calls per step (three per layer: forward, dX, dW), timed raw, give the
 * part of it that is the BLAS's own call overhead. A tape whose bookkeeping grew faster
 * than linearly would show as a slope that rises with L.
 *
 * Usage: bench_overhead [--quick]
 * Results also go to stdout as JSON lines (prefix "json: ").
 */
#include "bench_common.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "dgm/dgm.h"

#define WIDTH 4
#define BATCH 8

typedef struct step_args {
    dgm_ctx *ctx;
    dgm_params *params;
    dgm_mlp *mlp;
    dgm_optim *optim;
    const float *x, *y;
} step_args;

static int train_step(void *p)
{
    step_args *a = p;
    const int64_t shape[2] = {BATCH, WIDTH};
    dgm_tensor *x = NULL, *y = NULL, *out = NULL, *loss = NULL;
    dgm_status st = dgm_params_zero_grad(a->params);
    if (!st) st = dgm_tensor_from_host(a->ctx, 2, shape, a->x, &x);
    if (!st) st = dgm_tensor_from_host(a->ctx, 2, shape, a->y, &y);
    if (!st) st = dgm_mlp_forward(a->ctx, a->mlp, x, true, &out);
    if (!st) st = dgm_mse(a->ctx, out, y, DGM_REDUCTION_MEAN, &loss);
    if (!st) st = dgm_backward(a->ctx, loss);
    if (!st) st = dgm_optim_step(a->optim);
    if (!st) st = dgm_ctx_step_end(a->ctx);
    return st != DGM_STATUS_OK;
}

/* The current loss (no tape), or NaN on failure. */
static float loss_now(step_args *a)
{
    const int64_t shape[2] = {BATCH, WIDTH};
    dgm_tensor *x = NULL, *y = NULL, *out = NULL, *loss = NULL;
    float v = NAN;
    dgm_ctx_set_grad_enabled(a->ctx, false);
    dgm_status st = dgm_tensor_from_host(a->ctx, 2, shape, a->x, &x);
    if (!st) st = dgm_tensor_from_host(a->ctx, 2, shape, a->y, &y);
    if (!st) st = dgm_mlp_forward(a->ctx, a->mlp, x, false, &out);
    if (!st) st = dgm_mse(a->ctx, out, y, DGM_REDUCTION_MEAN, &loss);
    if (!st) st = dgm_tensor_to_host(a->ctx, loss, &v);
    if (!st) st = dgm_ctx_step_end(a->ctx);
    dgm_ctx_set_grad_enabled(a->ctx, true);
    return st ? NAN : v;
}

typedef struct raw_args {
    int layers;
    float *w, *x, *y, *dx, *dw;
} raw_args;

/* The step's sgemm calls alone, with the shapes and transposes dgm's CPU backend uses. */
static int raw_gemms(void *p)
{
    raw_args *a = p;
    for (int l = 0; l < a->layers; l++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BATCH, WIDTH, WIDTH, 1.0f, a->x,
                    WIDTH, a->w, WIDTH, 0.0f, a->y, WIDTH);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, BATCH, WIDTH, WIDTH, 1.0f, a->y,
                    WIDTH, a->w, WIDTH, 0.0f, a->dx, WIDTH);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, WIDTH, WIDTH, BATCH, 1.0f, a->y,
                    WIDTH, a->x, WIDTH, 1.0f, a->dw, WIDTH);
    }
    return 0;
}

/* Seconds per step of an L-layer MLP, or < 0 on failure (message on stderr). */
static double time_steps(int layers, double min_s, int trials, double *raw_s)
{
    dgm_ctx_config cfg = dgm_ctx_config_default();
    cfg.device = DGM_DEVICE_CPU;
    dgm_ctx *ctx = NULL;
    dgm_params *params = NULL;
    dgm_mlp *mlp = NULL;
    dgm_optim *optim = NULL;
    double sec = -1.0;
    int64_t widths[DGM_MLP_MAX_LAYERS + 1];
    for (int i = 0; i <= layers; i++) widths[i] = WIDTH;
    float x[BATCH * WIDTH], y[BATCH * WIDTH], w[WIDTH * WIDTH], t1[BATCH * WIDTH],
        t2[BATCH * WIDTH], t3[WIDTH * WIDTH];
    for (int i = 0; i < BATCH * WIDTH; i++) x[i] = 0.1f * (float)(i % 7) - 0.3f, y[i] = 0.05f * (float)(i % 5);
    for (int i = 0; i < WIDTH * WIDTH; i++) w[i] = 0.01f * (float)i, t3[i] = 0.0f;
    const dgm_optim_config oc = dgm_optim_config_default(DGM_OPTIM_ADAM);
    dgm_status st = dgm_ctx_create(&cfg, &ctx);
    if (!st) st = dgm_params_create(ctx, &params);
    if (!st) st = dgm_mlp_create(params, "net", layers + 1, widths, NULL, &mlp);
    if (!st) st = dgm_params_alloc(params);
    if (!st) st = dgm_optim_create(params, &oc, &optim);
    if (st) {
        fprintf(stderr, "bench_overhead: setup of %d layers: %s\n", layers, dgm_last_error(ctx));
    } else {
        step_args a = {ctx, params, mlp, optim, x, y};
        /* The steps must train: the loss after the timed ones is below the first. */
        const float before = loss_now(&a);
        sec = bench_time(train_step, &a, 20, min_s, trials);
        const float after = loss_now(&a);
        if (sec < 0) fprintf(stderr, "bench_overhead: step: %s\n", dgm_last_error(ctx));
        else if (!(after < before)) {
            fprintf(stderr, "bench_overhead: %d layers: the loss went from %g to %g\n", layers,
                    (double)before, (double)after);
            sec = -1.0;
        }
        raw_args r = {layers, w, x, t1, t2, t3};
        *raw_s = bench_time(raw_gemms, &r, 20, min_s, trials);
    }
    dgm_optim_free(optim);
    dgm_mlp_free(mlp);
    dgm_params_free(params);
    dgm_ctx_free(ctx);
    return sec;
}

int main(int argc, char **argv)
{
    dgm_exec_with_thread_policy(argv); /* as the dgm command runs */
    int quick = argc > 1 && !strcmp(argv[1], "--quick");
    if (argc > 1 && !quick) {
        fprintf(stderr, "usage: bench_overhead [--quick]\n");
        return 2;
    }
    printf("dgm %s bench_overhead: MLP of L Linear(%d, %d) + ReLU, batch %d, MSE, Adam\n",
           dgm_version(), WIDTH, WIDTH, BATCH);
    bench_print_blas();
    const int ls[] = {2, 8, 32};
    double step[3], raw[3];
    for (int i = 0; i < 3; i++) {
        step[i] = time_steps(ls[i], quick ? 0.05 : 0.3, quick ? 3 : 5, &raw[i]);
        if (step[i] < 0 || raw[i] < 0) return 1;
        printf("L = %2d: %8.1f us a step, %6.2f us of it in the %d raw sgemm calls\n", ls[i],
               step[i] * 1e6, raw[i] * 1e6, 3 * ls[i]);
        printf("json: {\"bench\":\"overhead\",\"device\":\"cpu\",\"layers\":%d,\"seconds_per_step\":%.6e,"
               "\"raw_gemm_seconds\":%.6e}\n", ls[i], step[i], raw[i]);
    }
    const double slope_lo = (step[1] - step[0]) / (ls[1] - ls[0]);
    const double slope_hi = (step[2] - step[1]) / (ls[2] - ls[1]);
    printf("per layer: %.2f us (L 2 -> 8), %.2f us (L 8 -> 32); fixed: %.1f us\n", slope_lo * 1e6,
           slope_hi * 1e6, (step[0] - 2 * slope_lo) * 1e6);
    printf("json: {\"bench\":\"overhead\",\"device\":\"cpu\",\"what\":\"per_layer\","
           "\"seconds_2_8\":%.6e,\"seconds_8_32\":%.6e}\n", slope_lo, slope_hi);
    return 0;
}
