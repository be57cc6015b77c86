/* bench_matmul: dgm's matmul forward + backward (a Linear layer: y = x·W^T, then dx and dW)
 * against the raw BLAS calls that compute the same three products, measured side by side.
 *
 * For each shape M×K×N (batch M, in K, out N) it times
 *   raw   : sgemm NT (y = x W^T), NN (dx = dy W), TN (dW = dy^T x) called directly
 *   dgm   : dgm_matmul + dgm_backward_from + dgm_ctx_step_end (no bias, no activation)
 *   dgm+b : the same with bias and fused ReLU (a real layer; adds elementwise work)
 * and prints GFLOP/s (6·M·N·K flops per forward + backward) and dgm/raw; first the CPU's
 * FMA peak, the ceiling of all of them (fma_peak.h). On a GPU build
 * with a GPU present, the same is measured for the CUDA backend against raw cuBLAS.
 * Results also go to stdout as JSON lines (prefix "json: ").
 *
 * Usage: bench_matmul [--quick] [--device cpu|cuda|all]
 */
#include "bench_common.h"
#include "fma_peak.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "dgm/dgm.h"

#ifdef DGM_BENCH_CUDA
#include <cublas_v2.h>
#include <cuda_runtime.h>
#endif

typedef struct shape {
    int m, k, n;
} shape;

static const shape shapes[] = {{128, 784, 400}, {128, 400, 20}, {512, 64, 64}, {2048, 2048, 2048}};

typedef struct raw_args {
    int m, k, n;
    const float *x, *w, *dy;
    float *y, *dx, *dw;
} raw_args;

static int raw_cpu(void *p)
{
    raw_args *a = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, a->m, a->n, a->k, 1.0f, a->x, a->k,
                a->w, a->k, 0.0f, a->y, a->n);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, a->m, a->k, a->n, 1.0f, a->dy, a->n,
                a->w, a->k, 0.0f, a->dx, a->k);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, a->n, a->k, a->m, 1.0f, a->dy, a->n,
                a->x, a->k, 1.0f, a->dw, a->k);
    return 0;
}

typedef struct dgm_args {
    dgm_ctx *ctx;
    dgm_tensor *x, *w, *b, *dy;
    int fused;
    int inner; /* iterations per call (GPU: amortize the final synchronize) */
} dgm_args;

static int dgm_layer(void *p)
{
    dgm_args *a = p;
    for (int i = 0; i < a->inner; i++) {
        dgm_tensor *y = NULL;
        if (dgm_matmul(a->ctx, a->x, false, a->w, true, a->fused ? a->b : NULL,
                       a->fused ? DGM_ACT_RELU : DGM_ACT_NONE, 0.0f, &y) ||
            dgm_backward_from(a->ctx, y, a->dy) || dgm_ctx_step_end(a->ctx)) {
            fprintf(stderr, "dgm: %s\n", dgm_last_error(a->ctx));
            return 1;
        }
    }
    if (a->inner > 1 && dgm_ctx_synchronize(a->ctx)) return 1;
    return 0;
}

/* Checks dgm's forward against raw sgemm before timing anything. */
static int validate(dgm_ctx *ctx, const shape *s, const float *x, const float *w)
{
    const int64_t xs[2] = {s->m, s->k}, ws[2] = {s->n, s->k};
    dgm_tensor *xt = NULL, *wt = NULL, *y = NULL;
    size_t ny = (size_t)s->m * s->n;
    float *ref = malloc(ny * sizeof *ref), *got = malloc(ny * sizeof *got);
    int bad = !ref || !got;
    if (!bad) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->m, s->n, s->k, 1.0f, x, s->k, w,
                    s->k, 0.0f, ref, s->n);
        bad = dgm_tensor_from_host(ctx, 2, xs, x, &xt) || dgm_tensor_from_host(ctx, 2, ws, w, &wt) ||
              dgm_matmul(ctx, xt, false, wt, true, NULL, DGM_ACT_NONE, 0.0f, &y) ||
              dgm_tensor_to_host(ctx, y, got);
    }
    double worst = 0.0;
    for (size_t i = 0; !bad && i < ny; i++) {
        double e = fabs((double)got[i] - ref[i]) / (1e-3 + fabs((double)ref[i]));
        if (e > worst) worst = e;
    }
    if (!bad && worst > 1e-3) {
        fprintf(stderr, "validation failed at %dx%dx%d: relative error %g\n", s->m, s->k, s->n, worst);
        bad = 1;
    }
    dgm_ctx_step_end(ctx);
    free(ref);
    free(got);
    return bad;
}

static int setup_dgm(dgm_ctx *ctx, const shape *s, const float *x, const float *w,
                     const float *dy, dgm_params **params, dgm_args *a)
{
    const int64_t xs[2] = {s->m, s->k}, ys[2] = {s->m, s->n};
    memset(a, 0, sizeof *a);
    a->ctx = ctx;
    if (dgm_params_create(ctx, params) || dgm_params_add_linear(*params, "fc", s->k, s->n, true) ||
        dgm_params_alloc(*params))
        return 1;
    a->w = dgm_params_get(*params, "fc.weight");
    a->b = dgm_params_get(*params, "fc.bias");
    if (dgm_tensor_copy_from_host(ctx, a->w, w) || dgm_tensor_create(ctx, 2, xs, &a->x) ||
        dgm_tensor_copy_from_host(ctx, a->x, x) || dgm_tensor_create(ctx, 2, ys, &a->dy) ||
        dgm_tensor_copy_from_host(ctx, a->dy, dy))
        return 1;
    /* dx is computed too, as the raw baseline does. */
    dgm_tensor_set_requires_grad(a->x, true);
    a->inner = 1;
    return 0;
}

static void report(const char *device, const shape *s, const char *what, double sec,
                   double raw_sec)
{
    double gflops = 6.0 * s->m * s->n * (double)s->k / sec * 1e-9;
    printf("%-5s %5dx%-5dx%-5d %-8s %9.3f ms %9.1f GFLOP/s", device, s->m, s->k, s->n, what,
           sec * 1e3, gflops);
    if (raw_sec > 0) printf("   ratio to raw %.3f", raw_sec / sec);
    printf("\n");
    printf("json: {\"bench\":\"matmul\",\"device\":\"%s\",\"m\":%d,\"k\":%d,\"n\":%d,"
           "\"variant\":\"%s\",\"seconds\":%.6e,\"gflops\":%.2f,\"ratio_to_raw\":%.4f}\n",
           device, s->m, s->k, s->n, what, sec, gflops, raw_sec > 0 ? raw_sec / sec : 1.0);
}

static int bench_cpu(int quick)
{
    dgm_ctx_config cfg = dgm_ctx_config_default();
    cfg.device = DGM_DEVICE_CPU;
    dgm_ctx *ctx = NULL;
    if (dgm_ctx_create(&cfg, &ctx)) {
        fprintf(stderr, "cpu context: %s\n", dgm_last_error(ctx));
        dgm_ctx_free(ctx);
        return 1;
    }
    int rc = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0] && !rc; i++) {
        const shape *s = &shapes[i];
        if (quick && s->m == 2048) continue;
        size_t nx = (size_t)s->m * s->k, nw = (size_t)s->n * s->k, ny = (size_t)s->m * s->n;
        float *x = bench_random(nx, 1), *w = bench_random(nw, 2), *dy = bench_random(ny, 3);
        float *y = calloc(ny, 4), *dx = calloc(nx, 4), *dw = calloc(nw, 4);
        dgm_params *params = NULL;
        dgm_args a;
        if (!x || !w || !dy || !y || !dx || !dw || validate(ctx, s, x, w) ||
            setup_dgm(ctx, s, x, w, dy, &params, &a)) {
            fprintf(stderr, "setup failed: %s\n", dgm_last_error(ctx));
            rc = 1;
        } else {
            raw_args r = {s->m, s->k, s->n, x, w, dy, y, dx, dw};
            double min_s = quick ? 0.05 : 0.3;
            int trials = quick ? 3 : 5;
            /* Interleave raw and dgm trials so drifting clocks hit both alike. */
            double raw = 1e30, plain = 1e30, fused = 1e30;
            for (int t = 0; t < trials; t++) {
                double v = bench_time(raw_cpu, &r, 2, min_s, 1);
                if (v < raw) raw = v;
                a.fused = 0;
                v = bench_time(dgm_layer, &a, 2, min_s, 1);
                if (v < 0) rc = 1;
                else if (v < plain) plain = v;
                a.fused = 1;
                v = bench_time(dgm_layer, &a, 2, min_s, 1);
                if (v < 0) rc = 1;
                else if (v < fused) fused = v;
            }
            if (!rc) {
                report("cpu", s, "raw", raw, 0);
                report("cpu", s, "dgm", plain, raw);
                report("cpu", s, "dgm+b", fused, raw);
            }
            dgm_tensor_free(a.x);
            dgm_tensor_free(a.dy);
        }
        dgm_params_free(params);
        free(x), free(w), free(dy), free(y), free(dx), free(dw);
    }
    dgm_ctx_free(ctx);
    return rc;
}

#ifdef DGM_BENCH_CUDA
typedef struct cublas_args {
    cublasHandle_t h;
    int m, k, n;
    const float *x, *w, *dy;
    float *y, *dx, *dw;
    int inner;
} cublas_args;

static int raw_cublas(void *p)
{
    cublas_args *a = p;
    const float one = 1.0f, zero = 0.0f;
    for (int i = 0; i < a->inner; i++) {
        /* Row-major products through column-major cuBLAS: C^T = op(B)^T op(A)^T. */
        if (cublasSgemm(a->h, CUBLAS_OP_T, CUBLAS_OP_N, a->n, a->m, a->k, &one, a->w, a->k, a->x,
                        a->k, &zero, a->y, a->n) ||
            cublasSgemm(a->h, CUBLAS_OP_N, CUBLAS_OP_N, a->k, a->m, a->n, &one, a->w, a->k, a->dy,
                        a->n, &zero, a->dx, a->k) ||
            cublasSgemm(a->h, CUBLAS_OP_N, CUBLAS_OP_T, a->k, a->n, a->m, &one, a->x, a->k, a->dy,
                        a->n, &one, a->dw, a->k))
            return 1;
    }
    return cudaDeviceSynchronize() != cudaSuccess;
}

static int bench_cuda(int quick)
{
    char why[256];
    if (!dgm_cuda_available(why, sizeof why)) {
        printf("cuda: skipped (%s)\n", why);
        return 0;
    }
    dgm_ctx_config cfg = dgm_ctx_config_default();
    cfg.device = DGM_DEVICE_CUDA;
    dgm_ctx *ctx = NULL;
    if (dgm_ctx_create(&cfg, &ctx)) {
        fprintf(stderr, "cuda context: %s\n", dgm_last_error(ctx));
        dgm_ctx_free(ctx);
        return 1;
    }
    cublasHandle_t h;
    if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) return 1;
    int rc = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0] && !rc; i++) {
        const shape *s = &shapes[i];
        size_t nx = (size_t)s->m * s->k, nw = (size_t)s->n * s->k, ny = (size_t)s->m * s->n;
        float *x = bench_random(nx, 1), *w = bench_random(nw, 2), *dy = bench_random(ny, 3);
        float *d[6] = {0};
        size_t sz[6] = {nx, nw, ny, ny, nx, nw};
        for (int j = 0; j < 6; j++)
            if (cudaMalloc((void **)&d[j], sz[j] * 4) != cudaSuccess) rc = 1;
        if (!rc) {
            cudaMemcpy(d[0], x, nx * 4, cudaMemcpyHostToDevice);
            cudaMemcpy(d[1], w, nw * 4, cudaMemcpyHostToDevice);
            cudaMemcpy(d[2], dy, ny * 4, cudaMemcpyHostToDevice);
        }
        dgm_params *params = NULL;
        dgm_args a;
        if (rc || validate(ctx, s, x, w) || setup_dgm(ctx, s, x, w, dy, &params, &a)) {
            fprintf(stderr, "cuda setup failed: %s\n", dgm_last_error(ctx));
            rc = 1;
        } else {
            int inner = s->m == 2048 ? 5 : 50;
            cublas_args r = {h, s->m, s->k, s->n, d[0], d[1], d[2], d[3], d[4], d[5], inner};
            a.inner = inner;
            double min_s = quick ? 0.05 : 0.3;
            double raw = bench_time(raw_cublas, &r, 1, min_s, 3) / inner;
            a.fused = 0;
            double plain = bench_time(dgm_layer, &a, 1, min_s, 3) / inner;
            a.fused = 1;
            double fused = bench_time(dgm_layer, &a, 1, min_s, 3) / inner;
            if (raw <= 0 || plain <= 0 || fused <= 0) rc = 1;
            else {
                report("cuda", s, "raw", raw, 0);
                report("cuda", s, "dgm", plain, raw);
                report("cuda", s, "dgm+b", fused, raw);
            }
            dgm_tensor_free(a.x);
            dgm_tensor_free(a.dy);
        }
        dgm_params_free(params);
        for (int j = 0; j < 6; j++) cudaFree(d[j]);
        free(x), free(w), free(dy);
    }
    cublasDestroy(h);
    dgm_ctx_free(ctx);
    return rc;
}
#endif

int main(int argc, char **argv)
{
    dgm_exec_with_thread_policy(argv); /* as the dgm command runs */
    int quick = 0;
    const char *device = "all";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--device") && i + 1 < argc) device = argv[++i];
        else {
            fprintf(stderr, "usage: bench_matmul [--quick] [--device cpu|cuda|all]\n");
            return 2;
        }
    }
    printf("dgm %s bench_matmul: forward + backward of y = x W^T (6 M N K flops)\n", dgm_version());
    int rc = 0;
    if (strcmp(device, "cuda")) {
        bench_print_fma_peak(quick ? 2 : 5);
        rc |= bench_cpu(quick);
    }
#ifdef DGM_BENCH_CUDA
    if (strcmp(device, "cpu")) rc |= bench_cuda(quick);
#else
    if (!strcmp(device, "cuda")) printf("cuda: this build has no CUDA backend\n");
#endif
    return rc;
}
