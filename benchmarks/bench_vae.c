/* bench_vae: seconds per epoch of dgm's VAE training loop against its GEMM floor.
 *
 * The model is dgm's default VAE (784-400-20, ReLU, Bernoulli decoder, loss = mean over the
 * batch of BCE summed over pixels + KL), Adam lr 1e-3, batch 128, on Fashion-MNIST's 60000
 * training images: 469 steps per epoch (468 of 128 and a last one of 96, as `dgm train`
 * serves them: no drop_last).
 *
 * In one run it measures
 *   dgm   : the training loop exactly as `dgm train` runs it (loader_next, zero_grad,
 *           train_step, optim_step, the loss read back every 100 steps and at the end,
 *           step_end), seconds per epoch, the median of N epochs of one training run
 *           (every epoch is printed, then their median, range and drift: the last
 *           epoch's time over the first's, flagged when more than 10% off);
 *   floor : the 14 sgemm calls one training step performs (forward x·W^T for the 5
 *           layers; backward dW for the 5 and dX for all but fc1, with the shapes,
 *           transposes and beta that dgm passes), each timed alone with raw cblas_sgemm
 *           (best of several reps), summed per step and multiplied up to an epoch. It is
 *           what the step would cost if everything but the matrix products were free;
 *   ratio : dgm / floor.
 * On a GPU build with a GPU present, the same for the CUDA backend against raw cuBLAS.
 * (The plain step loop is timed: capturing the step as a CUDA graph is not implemented.)
 *
 * Before timing, a fresh model takes one step and its loss must be finite and near
 * 784·ln 2 = 543.4 nats (logits near 0 at initialization); the timed run's loss must fall.
 * Results also go to stdout as JSON lines (prefix "json: ").
 *
 * Usage: bench_vae [--epochs N] [--quick] [--device cpu|cuda|all] [--reps R] [--data SPEC]
 *                  [--keep-denormals]
 *   --keep-denormals  IEEE subnormals in dgm's CPU compute (dgm_ctx_config.keep_denormals;
 *               the default flushes them to zero)
 *   --epochs N  timed epochs (windows with --quick), the median is reported (default 2)
 *   --quick     time windows of 100 steps (N of them, after 10 warm-up steps) and
 *               extrapolate to an epoch: a smoke run of a few seconds
 *   --reps R    trials per sgemm call of the floor (default 7; 3 with --quick)
 */
#define BENCH_NAME "bench_vae"
#include "bench_train.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "dgm/dgm.h"

#ifdef DGM_BENCH_CUDA
#include <cublas_v2.h>
#include <cuda_runtime.h>
#endif

#define BATCH 128
#define LOG_EVERY 100 /* dgm train's default --log-every: the loss is read back then */
#define QUICK_STEPS 100
#define QUICK_WARMUP 10

typedef struct opts {
    int epochs, quick, reps;
    const char *device, *data;
    uint64_t seed;
} opts;

/* ---- the GEMM floor ---------------------------------------------------------------- */

/* One row-major sgemm: C[m,n] = op(A)·op(B) + beta·C, as dgm's CPU backend calls it. */
typedef struct gemm_call {
    const char *layer, *what;
    int ta, tb, m, n, k;
    float beta;
} gemm_call;

#define MAX_CALLS 16

/* The calls of one training step of the one-hidden-layer VAE, in dgm's order (checked by
 * interposing cblas_sgemm under `dgm train`): forward fc1, fc21, fc22, fc3, fc4; backward
 * in reverse, dX (d input = dZ·W) then dW (= dZ^T·X, accumulated: beta 1) per layer; fc21's
 * dX adds to fc22's (both read h); the data needs no gradient, so fc1 has no dX. */
static int step_calls(int b, int d, int h, int l, gemm_call *c)
{
    int n = 0;
    /* forward: y[B,out] = x[B,in]·W[out,in]^T */
    c[n++] = (gemm_call){"fc1", "fwd", 0, 1, b, h, d, 0.0f};
    c[n++] = (gemm_call){"fc21", "fwd", 0, 1, b, l, h, 0.0f};
    c[n++] = (gemm_call){"fc22", "fwd", 0, 1, b, l, h, 0.0f};
    c[n++] = (gemm_call){"fc3", "fwd", 0, 1, b, h, l, 0.0f};
    c[n++] = (gemm_call){"fc4", "fwd", 0, 1, b, d, h, 0.0f};
    /* backward: dX[B,in] = dZ[B,out]·W[out,in]; dW[out,in] += dZ^T·X */
    c[n++] = (gemm_call){"fc4", "dX", 0, 0, b, h, d, 0.0f};
    c[n++] = (gemm_call){"fc4", "dW", 1, 0, d, h, b, 1.0f};
    c[n++] = (gemm_call){"fc3", "dX", 0, 0, b, l, h, 0.0f};
    c[n++] = (gemm_call){"fc3", "dW", 1, 0, h, l, b, 1.0f};
    c[n++] = (gemm_call){"fc22", "dX", 0, 0, b, h, l, 0.0f};
    c[n++] = (gemm_call){"fc22", "dW", 1, 0, l, h, b, 1.0f};
    c[n++] = (gemm_call){"fc21", "dX", 0, 0, b, h, l, 1.0f};
    c[n++] = (gemm_call){"fc21", "dW", 1, 0, l, h, b, 1.0f};
    c[n++] = (gemm_call){"fc1", "dW", 1, 0, h, d, b, 1.0f};
    return n;
}

static double call_flops(const gemm_call *c) { return 2.0 * c->m * (double)c->n * c->k; }

static double step_flops(const gemm_call *c, int n)
{
    double f = 0;
    for (int i = 0; i < n; i++) f += call_flops(&c[i]);
    return f;
}

typedef struct gemm_buf {
    const gemm_call *c;
    float *a, *b, *out; /* host or device */
    int inner;          /* GPU: calls per timed call, one synchronize at the end */
#ifdef DGM_BENCH_CUDA
    cublasHandle_t h;
#endif
} gemm_buf;

#ifdef DGM_BENCH_CUDA /* the cuBLAS floor's leading dimensions */
static int lda_of(const gemm_call *c) { return bench_lda(c->ta, c->m, c->k); }
static int ldb_of(const gemm_call *c) { return bench_ldb(c->tb, c->k, c->n); }
#endif

static int gemm_cpu(void *p)
{
    const gemm_buf *g = p;
    const gemm_call *c = g->c;
    bench_sgemm(c->ta, c->tb, c->m, c->n, c->k, c->beta, g->a, g->b, g->out);
    return 0;
}

/* All calls of a step back to back (p: an array of gemm_buf, terminated by c == NULL). */
static int gemm_cpu_sequence(void *p)
{
    for (const gemm_buf *g = p; g->c; g++) gemm_cpu((void *)g);
    return 0;
}

/* Step time of the floor (sum of each call's best) for batch b, and of the calls run back
 * to back; prints the per-call table when `show`. */
typedef struct floor_result {
    double sum, sequence, flops;
    int calls;
} floor_result;

static int floor_cpu(int b, int d, int h, int l, int reps, double min_s, int show,
                     floor_result *r)
{
    gemm_call calls[MAX_CALLS];
    gemm_buf bufs[MAX_CALLS + 1];
    const int n = step_calls(b, d, h, l, calls);
    memset(bufs, 0, sizeof bufs);
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        const gemm_call *c = &calls[i];
        bufs[i].c = c;
        bufs[i].a = bench_random((size_t)c->m * c->k, 10 + i);
        bufs[i].b = bench_random((size_t)c->k * c->n, 40 + i);
        bufs[i].out = calloc((size_t)c->m * c->n, sizeof(float));
        if (!bufs[i].a || !bufs[i].b || !bufs[i].out) rc = 1;
    }
    memset(r, 0, sizeof *r);
    r->calls = n;
    r->flops = step_flops(calls, n);
    if (!rc && show)
        printf("  %-5s %-3s  %-5s %5s %5s %5s  %10s %9s\n", "layer", "op", "trans", "m", "n", "k",
               "best us", "GFLOP/s");
    for (int i = 0; i < n && !rc; i++) {
        const gemm_call *c = &calls[i];
        double t = bench_time(gemm_cpu, &bufs[i], 3, min_s, reps);
        r->sum += t;
        if (show)
            printf("  %-5s %-3s  %c%c    %5d %5d %5d  %10.2f %9.1f\n", c->layer, c->what,
                   c->ta ? 'T' : 'N', c->tb ? 'T' : 'N', c->m, c->n, c->k, t * 1e6,
                   call_flops(c) / t * 1e-9);
    }
    if (!rc) r->sequence = bench_time(gemm_cpu_sequence, bufs, 2, min_s, reps);
    for (int i = 0; i < n; i++) free(bufs[i].a), free(bufs[i].b), free(bufs[i].out);
    return rc;
}

#ifdef DGM_BENCH_CUDA
/* Row-major C = op(A)·op(B) through column-major cuBLAS: C^T = op(B)^T·op(A)^T. */
static int gemm_cublas(void *p)
{
    const gemm_buf *g = p;
    const gemm_call *c = g->c;
    const float one = 1.0f;
    for (int i = 0; i < g->inner; i++)
        if (cublasSgemm(g->h, c->tb ? CUBLAS_OP_T : CUBLAS_OP_N, c->ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                        c->n, c->m, c->k, &one, g->b, ldb_of(c), g->a, lda_of(c), &c->beta, g->out,
                        c->n) != CUBLAS_STATUS_SUCCESS)
            return 1;
    return cudaDeviceSynchronize() != cudaSuccess;
}

static int gemm_cublas_sequence(void *p)
{
    const gemm_buf *g0 = p;
    const float one = 1.0f;
    for (int i = 0; i < g0->inner; i++)
        for (const gemm_buf *g = g0; g->c; g++) {
            const gemm_call *c = g->c;
            if (cublasSgemm(g->h, c->tb ? CUBLAS_OP_T : CUBLAS_OP_N,
                            c->ta ? CUBLAS_OP_T : CUBLAS_OP_N, c->n, c->m, c->k, &one, g->b,
                            ldb_of(c), g->a, lda_of(c), &c->beta, g->out,
                            c->n) != CUBLAS_STATUS_SUCCESS)
                return 1;
        }
    return cudaDeviceSynchronize() != cudaSuccess;
}

static int floor_cuda(cublasHandle_t handle, int b, int d, int h, int l, int reps, double min_s,
                      int show, floor_result *r)
{
    gemm_call calls[MAX_CALLS];
    gemm_buf bufs[MAX_CALLS + 1];
    const int n = step_calls(b, d, h, l, calls);
    const int inner = 50;
    memset(bufs, 0, sizeof bufs);
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        const gemm_call *c = &calls[i];
        const size_t na = (size_t)c->m * c->k, nb = (size_t)c->k * c->n, nc = (size_t)c->m * c->n;
        float *ha = bench_random(na, 10 + i), *hb = bench_random(nb, 40 + i);
        bufs[i].c = c;
        bufs[i].h = handle;
        bufs[i].inner = inner;
        rc = !ha || !hb || cudaMalloc((void **)&bufs[i].a, na * 4) != cudaSuccess ||
             cudaMalloc((void **)&bufs[i].b, nb * 4) != cudaSuccess ||
             cudaMalloc((void **)&bufs[i].out, nc * 4) != cudaSuccess ||
             cudaMemcpy(bufs[i].a, ha, na * 4, cudaMemcpyHostToDevice) != cudaSuccess ||
             cudaMemcpy(bufs[i].b, hb, nb * 4, cudaMemcpyHostToDevice) != cudaSuccess ||
             cudaMemset(bufs[i].out, 0, nc * 4) != cudaSuccess;
        free(ha), free(hb);
    }
    memset(r, 0, sizeof *r);
    r->calls = n;
    r->flops = step_flops(calls, n);
    if (!rc && show)
        printf("  %-5s %-3s  %-5s %5s %5s %5s  %10s %9s\n", "layer", "op", "trans", "m", "n", "k",
               "best us", "GFLOP/s");
    for (int i = 0; i < n && !rc; i++) {
        const gemm_call *c = &calls[i];
        double t = bench_time(gemm_cublas, &bufs[i], 1, min_s, reps) / inner;
        if (t <= 0) rc = 1;
        r->sum += t;
        if (show && !rc)
            printf("  %-5s %-3s  %c%c    %5d %5d %5d  %10.2f %9.1f\n", c->layer, c->what,
                   c->ta ? 'T' : 'N', c->tb ? 'T' : 'N', c->m, c->n, c->k, t * 1e6,
                   call_flops(c) / t * 1e-9);
    }
    if (!rc) {
        r->sequence = bench_time(gemm_cublas_sequence, bufs, 1, min_s, reps) / inner;
        if (r->sequence <= 0) rc = 1;
    }
    for (int i = 0; i < n; i++) cudaFree(bufs[i].a), cudaFree(bufs[i].b), cudaFree(bufs[i].out);
    return rc;
}
#endif

/* ---- dgm's training loop ----------------------------------------------------------- */

typedef struct vae_run {
    dgm_ctx *ctx;
    dgm_model *model;
    dgm_optim *optim;
    dgm_loader *loader;
    dgm_params *params;
    int64_t step, per_epoch;
    float loss;       /* last loss read back */
    float first_loss; /* of step 1 */
} vae_run;

static void run_free(vae_run *r)
{
    dgm_loader_free(r->loader);
    dgm_optim_free(r->optim);
    dgm_model_free(r->model);
    dgm_ctx_free(r->ctx);
    memset(r, 0, sizeof *r);
}

/* The setup of `dgm train vae --data D --seed S` (seed 0: its default). */
static int run_setup(dgm_device device, const dgm_dataset *ds, uint64_t seed, vae_run *r)
{
    memset(r, 0, sizeof *r);
    dgm_ctx_config cfg = dgm_ctx_config_default();
    cfg.device = device;
    cfg.seed = seed;
    cfg.keep_denormals = bench_keep_denormals;
    if (dgm_ctx_create(&cfg, &r->ctx)) return bench_fail(r->ctx, "context");
    int64_t shape[3];
    const int nd = dgm_dataset_sample_shape(ds, shape);
    if (dgm_model_create(r->ctx, "vae", "{}", dgm_dataset_dim(ds), nd, shape, &r->model))
        return bench_fail(r->ctx, "creating the model");
    r->params = dgm_model_params(r->model);
    const dgm_optim_config oc = dgm_optim_config_default(DGM_OPTIM_ADAM); /* lr 1e-3 */
    if (dgm_optim_create(r->params, &oc, &r->optim)) return bench_fail(r->ctx, "optimizer");
    if (dgm_loader_create(r->ctx, ds, BATCH, seed, false, &r->loader))
        return bench_fail(r->ctx, "data loader");
    r->per_epoch = dgm_loader_batches_per_epoch(r->loader);
    return 0;
}

/* `n` steps of cmd_train's loop (n <= 0: to the end of the current epoch). */
static int run_steps(vae_run *r, int64_t n)
{
    dgm_ctx *ctx = r->ctx;
    for (int64_t i = 0; n <= 0 || i < n; i++) {
        dgm_tensor *batch = NULL, *loss = NULL;
        bool epoch_end = false;
        if (dgm_loader_next(r->loader, &batch, &epoch_end) || dgm_params_zero_grad(r->params) ||
            dgm_model_train_step(r->model, batch, r->step, &loss))
            return bench_fail(ctx, "training step");
        if (dgm_optim_step(r->optim)) return bench_fail(ctx, "optimizer step");
        r->step++;
        const bool last = n <= 0 ? epoch_end : i == n - 1;
        if (r->step % LOG_EVERY == 0 || last || r->step == 1) {
            float lv = 0;
            if (dgm_tensor_to_host(ctx, loss, &lv)) return bench_fail(ctx, "reading the loss");
            if (!isfinite(lv)) {
                fprintf(stderr, "bench_vae: the loss is not finite at step %lld\n",
                        (long long)r->step);
                return 1;
            }
            r->loss = lv;
            if (r->step == 1) r->first_loss = lv;
        }
        if (dgm_ctx_step_end(ctx)) return bench_fail(ctx, "step end");
        if (n <= 0 && epoch_end) break;
    }
    return dgm_ctx_synchronize(ctx) ? bench_fail(ctx, "synchronize") : 0;
}

/* A fresh model's first step: finite, and near 784·ln 2 (logits ≈ 0 at initialization). */
static int validate(dgm_device device, const dgm_dataset *ds, uint64_t seed, float *first)
{
    vae_run r;
    int rc = run_setup(device, ds, seed, &r);
    if (!rc) rc = run_steps(&r, 1);
    const double expect = (double)dgm_dataset_dim(ds) * log(2.0);
    if (!rc) {
        *first = r.first_loss;
        const bool ok = fabs(r.first_loss - expect) < 30.0;
        printf("validate: fresh model's first-step loss %.2f nats (expected %.1f +- 30: "
               "dim * ln 2 plus a small KL): %s\n",
               (double)r.first_loss, expect, ok ? "ok" : "FAILED");
        if (!ok) rc = 1;
    }
    run_free(&r);
    return rc;
}

typedef struct epoch_result {
    double all[64]; /* seconds per epoch, each epoch (window) in order */
    int n;
    bench_spread spread; /* of all[0..n): the median is the headline number */
    float first_loss, last_loss;
    int64_t steps;
} epoch_result;

/* Seconds per epoch of o->epochs epochs of one run (or 100-step windows with --quick,
 * extrapolated), each printed, then their spread (median, range, drift). */
static int time_epochs(dgm_device device, const dgm_dataset *ds, const opts *o, epoch_result *e)
{
    vae_run r;
    memset(e, 0, sizeof *e);
    int rc = run_setup(device, ds, o->seed, &r);
    if (!rc && o->quick) rc = run_steps(&r, QUICK_WARMUP);
    for (int t = 0; t < o->epochs && t < 64 && !rc; t++) {
        const int64_t before = r.step;
        const double start = bench_now();
        rc = run_steps(&r, o->quick ? QUICK_STEPS : 0);
        double sec = bench_now() - start;
        if (rc) break;
        if (o->quick) sec *= (double)r.per_epoch / (double)(r.step - before);
        else if (r.step - before != r.per_epoch) {
            fprintf(stderr, "bench_vae: epoch of %lld steps, expected %lld\n",
                    (long long)(r.step - before), (long long)r.per_epoch);
            rc = 1;
            break;
        }
        e->all[e->n++] = sec;
        printf("  %s %s %d: %.3f s/epoch%s, loss %.2f at step %lld\n", dgm_device_name(device),
               o->quick ? "window" : "epoch", t + 1, sec,
               o->quick ? " (100 steps, extrapolated)" : "", (double)r.loss, (long long)r.step);
    }
    if (!rc) {
        e->spread = bench_spread_of(e->all, e->n);
        bench_print_spread(&e->spread, o->quick ? "window" : "epoch", "s/epoch");
    }
    e->first_loss = r.first_loss;
    e->last_loss = r.loss;
    e->steps = r.per_epoch;
    if (!rc && !(e->last_loss < e->first_loss)) {
        fprintf(stderr, "bench_vae: the loss did not fall (%.2f -> %.2f)\n", (double)e->first_loss,
                (double)e->last_loss);
        rc = 1;
    }
    run_free(&r);
    return rc;
}

/* ---- report ------------------------------------------------------------------------ */

typedef struct dims {
    int d, h, l;
    int64_t n, per_epoch, full, last; /* samples, steps, full batches, rows of the last */
} dims;

/* Layer widths from the model's parameters (fc1.weight [H, D], fc21.weight [L, H]); checks
 * that the model is the one-hidden-layer layout the call list describes. */
static int model_dims(dgm_ctx *ctx, const dgm_dataset *ds, dims *dm)
{
    int64_t shape[3];
    const int nd = dgm_dataset_sample_shape(ds, shape);
    dgm_model *m = NULL;
    if (dgm_model_create(ctx, "vae", "{}", dgm_dataset_dim(ds), nd, shape, &m))
        return bench_fail(ctx, "creating the model");
    dgm_params *p = dgm_model_params(m);
    dgm_tensor *w1 = dgm_params_get(p, "fc1.weight"), *w21 = dgm_params_get(p, "fc21.weight");
    int rc = 0;
    if (!w1 || !w21 || dgm_params_count(p) != 10) {
        fprintf(stderr, "bench_vae: unexpected VAE layout\n");
        rc = 1;
    } else {
        dm->d = (int)dgm_tensor_dim(w1, 1);
        dm->h = (int)dgm_tensor_dim(w1, 0);
        dm->l = (int)dgm_tensor_dim(w21, 0);
        dm->n = dgm_dataset_count(ds);
        dm->full = dm->n / BATCH;
        dm->last = dm->n % BATCH;
        dm->per_epoch = dm->full + (dm->last ? 1 : 0); /* no drop_last */
    }
    dgm_model_free(m);
    return rc;
}

static double epoch_flops(const dims *dm)
{
    gemm_call c[MAX_CALLS];
    double f = (double)dm->full * step_flops(c, step_calls(BATCH, dm->d, dm->h, dm->l, c));
    if (dm->last) f += step_flops(c, step_calls((int)dm->last, dm->d, dm->h, dm->l, c));
    return f;
}

static void report(const char *device, const char *key, const char *what, double sec,
                   double floor_sec, double flops, const char *extra_json)
{
    printf("%-5s %-36s %9.3f s/epoch %8.1f GFLOP/s", device, what, sec, flops / sec * 1e-9);
    if (floor_sec > 0) printf("   %.2fx the floor", sec / floor_sec);
    printf("\n");
    printf("json: {\"bench\":\"vae\",\"device\":\"%s\",\"what\":\"%s\",\"seconds_per_epoch\":%.6e,"
           "\"gemm_gflops\":%.3f,\"ratio_to_floor\":%.4f%s}\n",
           device, key, sec, flops / sec * 1e-9, floor_sec > 0 ? sec / floor_sec : 1.0,
           extra_json ? extra_json : "");
}

/* Floor per epoch = full batches x step(128) + the last batch's step. */
typedef int (*floor_fn)(void *h, int b, const dims *dm, int reps, double min_s, int show,
                        floor_result *r);

static int floor_cpu_fn(void *h, int b, const dims *dm, int reps, double min_s, int show,
                        floor_result *r)
{
    (void)h;
    return floor_cpu(b, dm->d, dm->h, dm->l, reps, min_s, show, r);
}

#ifdef DGM_BENCH_CUDA
static int floor_cuda_fn(void *h, int b, const dims *dm, int reps, double min_s, int show,
                         floor_result *r)
{
    return floor_cuda(*(cublasHandle_t *)h, b, dm->d, dm->h, dm->l, reps, min_s, show, r);
}
#endif

static int bench_device(dgm_device device, const dgm_dataset *ds, const dims *dm, const opts *o,
                        floor_fn ffn, void *handle)
{
    const char *dev = dgm_device_name(device);
    float first = 0;
    if (validate(device, ds, o->seed, &first)) return 1;

    /* dgm first, then the floor, then dgm's number is set against it. */
    printf("%s: dgm's training loop, %d %s%s\n", dev, o->epochs,
           o->quick ? "windows of 100 steps" : "epochs", o->quick ? " after 10 warm-up steps" : "");
    epoch_result e;
    if (time_epochs(device, ds, o, &e)) return 1;

    const double min_s = o->quick ? 0.02 : 0.1;
    floor_result full, last = {0};
    printf("%s: GEMM floor, the %d sgemm calls of one step (batch %d), best of %d reps each:\n",
           dev, 14, BATCH, o->reps);
    if (ffn(handle, BATCH, dm, o->reps, min_s, 1, &full)) return 1;
    if (dm->last && ffn(handle, (int)dm->last, dm, o->reps, min_s, 0, &last)) return 1;
    const double floor_epoch = (double)dm->full * full.sum + (dm->last ? last.sum : 0.0);
    const double seq_epoch = (double)dm->full * full.sequence + (dm->last ? last.sequence : 0.0);
    const double fl = epoch_flops(dm);
    printf("  per step (batch %d): %.1f MFLOP, sum of calls %.3f ms (%.1f GFLOP/s), "
           "back to back %.3f ms\n",
           BATCH, full.flops * 1e-6, full.sum * 1e3, full.flops / full.sum * 1e-9,
           full.sequence * 1e3);
    printf("  per epoch: %lld steps (%lld of %d%s), %.1f GFLOP\n", (long long)dm->per_epoch,
           (long long)dm->full, BATCH, dm->last ? " + 1 smaller" : "", fl * 1e-9);
    printf("json: {\"bench\":\"vae\",\"device\":\"%s\",\"what\":\"gemm_step\",\"batch\":%d,"
           "\"calls\":%d,\"flops_per_step\":%.0f,\"seconds_sum\":%.6e,\"seconds_sequence\":%.6e,"
           "\"gflops\":%.3f}\n",
           dev, BATCH, full.calls, full.flops, full.sum, full.sequence,
           full.flops / full.sum * 1e-9);

    printf("\n%-5s %-36s %17s %16s\n", "dev", "what", "time", "GEMM rate");
    char extra[1024];
    snprintf(extra, sizeof extra, ",\"steps_per_epoch\":%lld,\"flops_per_epoch\":%.0f",
             (long long)dm->per_epoch, fl);
    report(dev, "floor", "gemm floor (sum of best calls)", floor_epoch, 0, fl, extra);
    report(dev, "floor_sequence", "gemm calls back to back", seq_epoch, floor_epoch, fl, extra);
    char what[64];
    bench_dgm_label(what, sizeof what, e.n, o->quick);
    int k = snprintf(extra, sizeof extra,
                     ",\"epochs\":%d,\"quick\":%s,\"first_loss\":%.4f,\"last_loss\":%.4f,"
                     "\"validate_loss\":%.4f,\"steps_per_epoch\":%lld,\"seconds_each\":[",
                     e.n, o->quick ? "true" : "false", (double)e.first_loss, (double)e.last_loss,
                     (double)first, (long long)dm->per_epoch);
    k = bench_json_list_end(extra, sizeof extra, k, e.all, e.n);
    bench_json_spread(extra, sizeof extra, k, &e.spread);
    const double med = e.spread.median;
    report(dev, "dgm", what, med, floor_epoch, fl, extra);
    printf("%-5s dgm / floor = %.2f; dgm spends %.0f%% of its epoch outside the floor's GEMMs\n\n",
           dev, med / floor_epoch, 100.0 * (1.0 - floor_epoch / med));
    return 0;
}

int main(int argc, char **argv)
{
    dgm_exec_with_thread_policy(argv); /* as the dgm command runs */
    opts o = {2, 0, 0, "all", "fashion-mnist", 0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) o.quick = 1;
        else if (!strcmp(argv[i], "--epochs") && i + 1 < argc) o.epochs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) o.reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--device") && i + 1 < argc) o.device = argv[++i];
        else if (!strcmp(argv[i], "--data") && i + 1 < argc) o.data = argv[++i];
        else if (!strcmp(argv[i], "--keep-denormals")) bench_keep_denormals = true;
        else {
            fprintf(stderr, "usage: bench_vae [--epochs N] [--quick] [--device cpu|cuda|all] "
                            "[--reps R] [--data SPEC] [--keep-denormals]\n");
            return 2;
        }
    }
    if (o.epochs < 1 || o.epochs > 64) {
        fprintf(stderr, "bench_vae: --epochs must be 1..64\n");
        return 2;
    }
    if (o.reps <= 0) o.reps = o.quick ? 3 : 7;

    dgm_ctx *hctx = NULL; /* for loading the data (host memory) */
    dgm_ctx_config cfg = dgm_ctx_config_default();
    cfg.device = DGM_DEVICE_CPU;
    dgm_dataset *ds = NULL;
    if (dgm_ctx_create(&cfg, &hctx) || dgm_dataset_load(hctx, o.data, DGM_SPLIT_TRAIN, 0, &ds)) {
        bench_fail(hctx, o.data);
        dgm_ctx_free(hctx);
        return 1;
    }
    dims dm;
    if (model_dims(hctx, ds, &dm)) return 1;
    printf("dgm %s bench_vae: VAE %d-%d-%d (Bernoulli decoder), Adam 1e-3, batch %d, on %s "
           "(%lld samples, %lld steps per epoch)\n",
           dgm_version(), dm.d, dm.h, dm.l, BATCH, o.data, (long long)dm.n,
           (long long)dm.per_epoch);
    bench_print_blas();

    int rc = 0;
    if (strcmp(o.device, "cuda")) rc |= bench_device(DGM_DEVICE_CPU, ds, &dm, &o, floor_cpu_fn, NULL);
#ifdef DGM_BENCH_CUDA
    if (strcmp(o.device, "cpu")) {
        char why[256];
        if (!dgm_cuda_available(why, sizeof why)) {
            printf("cuda: skipped (%s)\n", why);
        } else {
            cublasHandle_t h;
            if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) {
                fprintf(stderr, "bench_vae: cublasCreate failed\n");
                rc = 1;
            } else {
                printf("cuda: the plain step loop is timed; capturing the step as a CUDA graph "
                       "is not implemented\n");
                rc |= bench_device(DGM_DEVICE_CUDA, ds, &dm, &o, floor_cuda_fn, &h);
                cublasDestroy(h);
            }
        }
    }
#else
    if (!strcmp(o.device, "cuda")) printf("cuda: this build has no CUDA backend\n");
#endif
    dgm_dataset_free(ds);
    dgm_ctx_free(hctx);
    return rc;
}
