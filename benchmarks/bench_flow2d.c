/* bench_flow2d: seconds per 1,000 steps of dgm's 2-D RealNVP training loop against its GEMM
 * floor.
 *
 * The model is dgm's default `dgm train realnvp` for 2-D data: 8 affine couplings,
 * coupling k conditioning on column 0 when k is even and on column 1 when odd, each with
 * an MLP Linear(1,64) → ReLU → Linear(64,64) → ReLU → Linear(64,2) giving [h_s, t] for the
 * other column (s = scale·tanh(h_s), y = x·exp(s) + t, log|det| = Σ s), base N(0, I), loss
 * the batch's mean NLL; no ActNorm (images only); Adam lr 1e-3 betas (0.9, 0.999), batch
 * 512, 15,000 steps (the model's training defaults, read from dgm_model_train_defaults_for).
 * The data: the built-in "gauss8" (FFJORD's 8 gaussians, 100,000 training rows), or
 * --data FILE (.npy or .csv, its rows the training set), as `dgm train --data` takes it.
 * The layer widths are read from the model's parameters, so the floor follows the model.
 *
 * In one run it measures
 *   dgm   : the training loop exactly as `dgm train realnvp --data D --device cpu` runs it
 *           (the schedule's rate, loader_next, zero_grad, train_step, optim_step, the loss
 *           read back every log_every = 500 steps and after a window's last one (a 4-byte
 *           copy on the CPU), step_end), seconds per 1,000 steps, best of W windows of one
 *           training run after a warm-up;
 *   floor : the 71 sgemm calls one step performs (checked by interposing cblas_sgemm under
 *           `dgm train realnvp --data FILE --steps 1, 2, 3`: 71 more per step), with the
 *           shapes, transposes and beta that dgm passes, each timed alone with raw
 *           cblas_sgemm (best of several reps), summed per step, ×1000. It is what the loop
 *           would cost if everything but the matrix products were free. Per step, in dgm's
 *           order (B = 512, widths 1-64-64-2 per coupling):
 *             forward (24): per coupling x·W^T for its 3 Linear layers: NT B×64×1,
 *               B×64×64, B×2×64 (m×n×k), beta 0;
 *             backward (47), last coupling first, last layer first: dX = dZ·W (NN B×64×2
 *               and B×64×64, beta 0; B×1×64 into the conditioning column, beta 1: its
 *               gradient already holds the part that passed through the coupling unchanged)
 *               then dW += dZ^T·X (TN 2×64×B, 64×64×B, 64×1×B, beta 1); no dX at the first
 *               coupling's input (the data): 8·6 − 1.
 *           A data set whose row count is not a multiple of 512 ends each epoch with a
 *           smaller batch (no drop_last, as dgm train): the floor used for the ratio is the
 *           epoch's average step (the last batch's calls timed too), the full batch's shown
 *           beside it;
 *   ratio : dgm / floor.
 * Also shown: the calls back to back, each on its own operands (about 13 MB per step at
 * batch 512, like the step's activations and gradients, which do not all stay in cache),
 * which measured 1.9-2.1x the floor on a loaded 2-core Zen: the floor's calls each run
 * with hot operands.
 * CPU only: the CUDA backend is not timed here (no DGM_BENCH_CUDA path, unlike bench_vae);
 * the program builds the same with or without CUDA.
 *
 * Before timing, a fresh model is checked: its last Linear layers start at zero, so the flow
 * is the identity and its NLL on the training data (dgm_model_evaluate's "nll") must equal
 * the base density's, mean(½|x|² + (D/2)·log 2π), computed here from the data; its first
 * step's loss must be finite. The timed run's loss must stay finite and end below the
 * fresh model's NLL.
 * Results also go to stdout as JSON lines (prefix "json: ").
 *
 * Usage: bench_flow2d [--steps N] [--windows W] [--quick] [--reps R] [--data SPEC] [--seed S]
 *   --steps N    steps per timed window (default 1000; 200 with --quick)
 *   --windows W  timed windows, the best is reported (default 3)
 *   --quick      windows of 200 steps after 20 warm-up ones (else 100), extrapolated to
 *                1,000, and fewer floor reps: a smoke run of some 15 seconds
 *   --reps R     trials per sgemm shape of the floor (default 7; 3 with --quick)
 *   --data SPEC  training data, as dgm train --data (default gauss8)
 *   --seed S     the run's seed, as dgm train --seed (default 0)
 */
#include "bench_common.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "dgm/dgm.h"

#define PER 1000.0 /* steps the times are given for */
#define MAX_COUPLINGS 64
#define MAX_LAYERS 10
#define MAX_CALLS (MAX_COUPLINGS * MAX_LAYERS * 3)
#define LOG_2PI 1.8378770664093454836

typedef struct opts {
    int steps, windows, warmup, quick, reps;
    const char *data;
    uint64_t seed;
} opts;

/* ---- the GEMM floor ---------------------------------------------------------------- */

/* One row-major sgemm: C[m,n] = op(A)·op(B) + beta·C, as dgm's CPU backend calls it. */
typedef struct gemm_call {
    int coupling, layer; /* coupling index, Linear layer index within its MLP, from 0 */
    const char *what;    /* fwd, dX, dW */
    int ta, tb, m, n, k;
    float beta;
} gemm_call;

/* The couplings' MLP widths: w[k][0] input (conditioning columns), w[k][layers[k]] output. */
typedef struct flow_nets {
    int couplings;
    int layers[MAX_COUPLINGS];
    int w[MAX_COUPLINGS][MAX_LAYERS + 1];
    int input_grad; /* the first coupling's input needs a gradient (an ActNorm before it) */
    int batch;
    int64_t params, rows; /* trainable floats; training rows */
} flow_nets;

/* The sgemm calls of one training step at batch b, in dgm's order (see the header). */
static int step_calls(const flow_nets *f, int b, gemm_call *c)
{
    int n = 0;
    for (int k = 0; k < f->couplings; k++) /* forward: y[B,out] = x[B,in]·W[out,in]^T */
        for (int i = 0; i < f->layers[k]; i++)
            c[n++] = (gemm_call){k, i, "fwd", 0, 1, b, f->w[k][i + 1], f->w[k][i], 0.0f};
    for (int k = f->couplings - 1; k >= 0; k--) /* backward */
        for (int i = f->layers[k] - 1; i >= 0; i--) {
            /* dX[B,in] = dZ[B,out]·W[out,in]: a fresh gradient (beta 0), but the MLP's
             * input, the conditioning columns, whose gradient the coupling's pass-through
             * (its concat) wrote first: beta 1. */
            if (i > 0 || k > 0 || f->input_grad)
                c[n++] = (gemm_call){k, i, "dX", 0, 0, b, f->w[k][i], f->w[k][i + 1],
                                     i == 0 ? 1.0f : 0.0f};
            /* dW[out,in] += dZ^T·X: parameters accumulate, beta 1 */
            c[n++] = (gemm_call){k, i, "dW", 1, 0, f->w[k][i + 1], f->w[k][i], b, 1.0f};
        }
    return n;
}

static double call_flops(const gemm_call *c) { return 2.0 * c->m * (double)c->n * c->k; }

static int same_shape(const gemm_call *a, const gemm_call *b)
{
    return a->ta == b->ta && a->tb == b->tb && a->m == b->m && a->n == b->n && a->k == b->k &&
           a->beta == b->beta;
}

typedef struct gemm_buf {
    const gemm_call *c;
    float *a, *b, *out;
} gemm_buf;

static int lda_of(const gemm_call *c) { return c->ta ? c->m : c->k; }
static int ldb_of(const gemm_call *c) { return c->tb ? c->k : c->n; }

static int gemm_cpu(void *p)
{
    const gemm_buf *g = p;
    const gemm_call *c = g->c;
    cblas_sgemm(CblasRowMajor, c->ta ? CblasTrans : CblasNoTrans, c->tb ? CblasTrans : CblasNoTrans,
                c->m, c->n, c->k, 1.0f, g->a, lda_of(c), g->b, ldb_of(c), c->beta, g->out, c->n);
    return 0;
}

/* All calls of a step back to back (p: an array of gemm_buf ending with c == NULL). */
static int gemm_cpu_sequence(void *p)
{
    for (const gemm_buf *g = p; g->c; g++) gemm_cpu((void *)g);
    return 0;
}

typedef struct floor_result {
    double sum, sequence, flops; /* per step */
    double fwd, dx, dw;          /* parts of sum */
    double bytes;                /* operands of all calls: A, B and C */
    int calls, shapes;
} floor_result;

/* Times every distinct call shape of a step at batch b alone (best of `reps` trials of at
 * least min_s seconds), sums the calls of one step and times them back to back; prints
 * the table when `table`. */
static int floor_cpu(const flow_nets *f, int b, int reps, double min_s, int table,
                     floor_result *r)
{
    static gemm_call calls[MAX_CALLS];
    static gemm_buf bufs[MAX_CALLS + 1];
    static double t[MAX_CALLS];
    const int n = step_calls(f, b, calls);
    memset(bufs, 0, sizeof bufs);
    memset(r, 0, sizeof *r);
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        const gemm_call *c = &calls[i];
        bufs[i].c = c;
        bufs[i].a = bench_random((size_t)c->m * c->k, 10 + (unsigned)i);
        bufs[i].b = bench_random((size_t)c->k * c->n, 2000 + (unsigned)i);
        bufs[i].out = calloc((size_t)c->m * c->n, sizeof(float));
        if (!bufs[i].a || !bufs[i].b || !bufs[i].out) rc = 1;
    }
    if (rc) fprintf(stderr, "bench_flow2d: out of memory\n");
    r->calls = n;
    if (!rc && table)
        printf("  %-3s %-5s %5s %5s %5s %4s  %5s %10s %9s  %s\n", "op", "trans", "m", "n", "k",
               "beta", "calls", "best us", "GFLOP/s", "layers");
    for (int i = 0; i < n && !rc; i++) {
        const gemm_call *c = &calls[i];
        r->flops += call_flops(c);
        r->bytes += 4.0 * ((double)c->m * c->k + (double)c->k * c->n + (double)c->m * c->n);
        int first = i;
        for (int j = 0; j < i; j++)
            if (same_shape(&calls[j], c)) {
                first = j;
                break;
            }
        if (first < i) {
            t[i] = t[first];
        } else {
            t[i] = bench_time(gemm_cpu, &bufs[i], 3, min_s, reps);
            r->shapes++;
            int count = 0, lmask = 0;
            for (int j = i; j < n; j++)
                if (same_shape(&calls[j], c)) count++, lmask |= 1 << calls[j].layer;
            char layers[64] = "";
            size_t used = 0;
            for (int l = 0; l < MAX_LAYERS && used < sizeof layers - 8; l++)
                if (lmask & (1 << l))
                    used += (size_t)snprintf(layers + used, sizeof layers - used, "%snet.%d",
                                             used ? " " : "", 2 * l);
            if (table)
                printf("  %-3s %c%c    %5d %5d %5d %4.0f  %5d %10.2f %9.1f  %s\n", c->what,
                       c->ta ? 'T' : 'N', c->tb ? 'T' : 'N', c->m, c->n, c->k, (double)c->beta,
                       count, t[i] * 1e6, call_flops(c) / t[i] * 1e-9, layers);
        }
        r->sum += t[i];
        if (!strcmp(c->what, "fwd")) r->fwd += t[i];
        else if (!strcmp(c->what, "dX")) r->dx += t[i];
        else r->dw += t[i];
    }
    if (!rc) r->sequence = bench_time(gemm_cpu_sequence, bufs, 2, min_s, reps);
    for (int i = 0; i < n; i++) free(bufs[i].a), free(bufs[i].b), free(bufs[i].out);
    return rc;
}

/* ---- dgm's training loop ----------------------------------------------------------- */

typedef struct flow_run {
    dgm_ctx *ctx;
    dgm_dataset *train;
    dgm_model *model;
    dgm_optim *optim;
    dgm_loader *loader;
    dgm_train_defaults t;
    int64_t step;
    float loss;       /* last loss read back */
    float first_loss; /* of step 1, when read */
    int reads;        /* losses read back */
} flow_run;

static void run_free(flow_run *r)
{
    dgm_loader_free(r->loader);
    dgm_optim_free(r->optim);
    dgm_model_free(r->model);
    dgm_dataset_free(r->train);
    dgm_ctx_free(r->ctx);
    memset(r, 0, sizeof *r);
}

static int fail(dgm_ctx *ctx, const char *what)
{
    fprintf(stderr, "bench_flow2d: %s: %s\n", what, ctx ? dgm_last_error(ctx) : "no context");
    return 1;
}

/* The setup of `dgm train realnvp --data D --device cpu --seed S` (cmd_train.c): context,
 * training data, model with the default options, the defaults of its configuration,
 * prepare, the optimizer, a loader of the batch (no drop_last). */
static int run_setup(const char *data, uint64_t seed, flow_run *r)
{
    memset(r, 0, sizeof *r);
    dgm_ctx_config cfg = dgm_ctx_config_default();
    cfg.device = DGM_DEVICE_CPU;
    cfg.seed = seed;
    if (dgm_ctx_create(&cfg, &r->ctx)) return fail(r->ctx, "context");
    if (dgm_dataset_load(r->ctx, data, DGM_SPLIT_TRAIN, seed, &r->train)) return fail(r->ctx, data);
    int64_t shape[3];
    const int nd = dgm_dataset_sample_shape(r->train, shape);
    if (dgm_model_create(r->ctx, "realnvp", "{}", dgm_dataset_dim(r->train), nd, shape, &r->model))
        return fail(r->ctx, "creating the model");
    if (dgm_model_train_defaults_for("realnvp", dgm_model_config(r->model), &r->t))
        return fail(r->ctx, "training defaults");
    if (dgm_model_check_data(r->model, r->train)) return fail(r->ctx, "--data");
    if (dgm_model_prepare(r->model, r->train, true)) return fail(r->ctx, "preparing the model");
    if (dgm_model_owns_optimizers(r->model)) {
        fprintf(stderr, "bench_flow2d: realnvp now trains with its own optimizers\n");
        return 1;
    }
    if (dgm_optim_create(dgm_model_params(r->model), &r->t.optim, &r->optim))
        return fail(r->ctx, "optimizer");
    int64_t batch = r->t.batch;
    if (batch > dgm_dataset_count(r->train)) batch = dgm_dataset_count(r->train);
    if (dgm_loader_create(r->ctx, r->train, batch, seed, false, &r->loader))
        return fail(r->ctx, "data loader");
    return 0;
}

/* `n` steps of cmd_train's loop. The loss is read every log_every steps, as dgm train
 * does, and after the last of the n (a 4-byte copy on the CPU). */
static int run_steps(flow_run *r, int64_t n)
{
    dgm_ctx *ctx = r->ctx;
    dgm_params *params = dgm_model_params(r->model);
    for (int64_t i = 0; i < n; i++) {
        dgm_tensor *batch = NULL, *loss = NULL;
        bool epoch_end = false;
        dgm_optim_set_lr(r->optim, dgm_lr_at(&r->t.schedule, r->step));
        if (dgm_loader_next(r->loader, &batch, &epoch_end) || dgm_params_zero_grad(params) ||
            dgm_model_train_step(r->model, batch, r->step, &loss))
            return fail(ctx, "training step");
        if (dgm_optim_step(r->optim)) return fail(ctx, "optimizer step");
        r->step++;
        if (r->step % r->t.log_every == 0 || i == n - 1) {
            float lv = 0;
            if (dgm_tensor_to_host(ctx, loss, &lv)) return fail(ctx, "reading the loss");
            if (!isfinite(lv)) {
                fprintf(stderr, "bench_flow2d: the loss is not finite at step %lld\n",
                        (long long)r->step);
                return 1;
            }
            r->loss = lv;
            if (r->step == 1) r->first_loss = lv;
            r->reads++;
        }
        if (dgm_ctx_step_end(ctx)) return fail(ctx, "step end");
    }
    return dgm_ctx_synchronize(ctx) ? fail(ctx, "synchronize") : 0;
}

/* A number from a JSON object written by dgm_model_evaluate ({"nll": 2.83}). */
static int json_number(const char *json, const char *key, double *v)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(json, pat);
    if (!p || !(p = strchr(p + strlen(pat), ':'))) return 1;
    char *end = NULL;
    *v = strtod(p + 1, &end);
    return end == p + 1;
}

typedef struct validation {
    double nll, base_nll; /* fresh model's NLL on the training data, and the base's */
    float first_loss;
} validation;

/* A fresh model is the identity: its NLL on the training data is the base density's. */
static int validate(const opts *o, validation *v)
{
    flow_run r;
    int rc = run_setup(o->data, o->seed, &r);
    char out[256];
    if (!rc && dgm_model_evaluate(r.model, r.train, "nll", out, sizeof out))
        rc = fail(r.ctx, "evaluating nll");
    if (!rc && json_number(out, "nll", &v->nll)) {
        fprintf(stderr, "bench_flow2d: no nll in %s\n", out);
        rc = 1;
    }
    if (!rc) {
        const float *x = dgm_dataset_data(r.train);
        const int64_t n = dgm_dataset_count(r.train), d = dgm_dataset_dim(r.train);
        double s = 0.0;
        for (int64_t i = 0; i < n * d; i++) s += 0.5 * (double)x[i] * (double)x[i];
        v->base_nll = s / (double)n + 0.5 * (double)d * LOG_2PI;
        rc = run_steps(&r, 1);
    }
    if (!rc) {
        v->first_loss = r.first_loss;
        const double tol = 1e-4 * fmax(1.0, fabs(v->base_nll));
        const bool id_ok = isfinite(v->nll) && fabs(v->nll - v->base_nll) < tol;
        const bool step_ok = isfinite(r.first_loss);
        printf("validate: fresh model's NLL on the training data %.5f, the base density's "
               "%.5f (an identity flow; tolerance %.0e): %s; first step's loss %.4f: %s\n",
               v->nll, v->base_nll, tol, id_ok ? "ok" : "FAILED", (double)r.first_loss,
               step_ok ? "ok" : "FAILED");
        if (!id_ok || !step_ok) rc = 1;
    }
    run_free(&r);
    return rc;
}

typedef struct window_result {
    double best, all[64]; /* seconds per PER steps */
    int n;
    float last_loss;
    int64_t steps;
} window_result;

static int time_windows(const opts *o, window_result *w)
{
    flow_run r;
    memset(w, 0, sizeof *w);
    w->best = 1e30;
    int rc = run_setup(o->data, o->seed, &r);
    if (!rc) rc = run_steps(&r, o->warmup);
    for (int t = 0; t < o->windows && !rc; t++) {
        const double start = bench_now();
        rc = run_steps(&r, o->steps);
        const double sec = (bench_now() - start) * PER / o->steps;
        if (rc) break;
        w->all[w->n++] = sec;
        if (sec < w->best) w->best = sec;
        printf("  window %d: %.3f s per 1k steps (%d steps%s), loss %.4f at step %lld\n", t + 1,
               sec, o->steps, o->steps != (int)PER ? ", scaled" : "", (double)r.loss,
               (long long)r.step);
    }
    w->last_loss = r.loss;
    w->steps = r.step;
    run_free(&r);
    return rc;
}

/* ---- the model's shapes ------------------------------------------------------------ */

/* The Linear layers "<prefix><i>.weight" [out, in] in declaration order -> widths. */
static int linear_widths(dgm_params *p, const char *prefix, int *w, int *layers)
{
    const size_t len = strlen(prefix);
    int n = 0;
    for (int i = 0; i < dgm_params_count(p); i++) {
        const char *name = dgm_params_name(p, i);
        const size_t nl = strlen(name);
        dgm_tensor *t = dgm_params_at(p, i);
        if (strncmp(name, prefix, len) || nl < 7 || strcmp(name + nl - 7, ".weight") ||
            dgm_tensor_ndim(t) != 2)
            continue;
        if (n >= MAX_LAYERS) return 1;
        const int out = (int)dgm_tensor_dim(t, 0), in = (int)dgm_tensor_dim(t, 1);
        if (n == 0) w[0] = in;
        else if (w[n] != in) return 1;
        w[++n] = out;
    }
    *layers = n;
    return n < 1;
}

static int model_nets(const opts *o, flow_nets *f)
{
    flow_run r;
    memset(f, 0, sizeof *f);
    int rc = run_setup(o->data, 0, &r);
    if (rc) return rc;
    dgm_params *p = dgm_model_params(r.model);
    for (int k = 0; k < MAX_COUPLINGS && !rc; k++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "flow.%d.net.", k);
        int64_t off = 0, cnt = 0;
        if (dgm_params_prefix_range(p, prefix, &off, &cnt) != DGM_STATUS_OK || cnt == 0) break;
        if (linear_widths(p, prefix, f->w[k], &f->layers[k])) rc = 1;
        else f->couplings = k + 1;
    }
    int64_t off = 0, cnt = 0;
    f->input_grad = dgm_params_prefix_range(p, "actnorm.", &off, &cnt) == DGM_STATUS_OK && cnt > 0;
    if (rc || f->couplings < 1) {
        fprintf(stderr, "bench_flow2d: unexpected RealNVP layout (flow.<k>.net.* MLPs)\n");
        rc = 1;
    }
    f->params = dgm_params_numel(p);
    f->batch = (int)r.t.batch;
    f->rows = dgm_dataset_count(r.train);
    if (f->batch > f->rows) f->batch = (int)f->rows;
    run_free(&r);
    return rc;
}

/* ---- report ------------------------------------------------------------------------ */

static void report(const char *key, const char *what, double sec, double floor_sec,
                   double flops, const char *extra_json)
{
    printf("%-40s %9.3f s/1k steps %8.1f GFLOP/s", what, sec, flops * PER / sec * 1e-9);
    if (floor_sec > 0) printf("   %.2fx the floor", sec / floor_sec);
    printf("\n");
    printf("json: {\"bench\":\"flow2d\",\"device\":\"cpu\",\"what\":\"%s\","
           "\"seconds_per_1k_steps\":%.6e,\"gemm_gflops\":%.3f,\"ratio_to_floor\":%.4f%s}\n",
           key, sec, flops * PER / sec * 1e-9, floor_sec > 0 ? sec / floor_sec : 1.0,
           extra_json ? extra_json : "");
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_flow2d [--steps N] [--windows W] [--quick] [--reps R] "
                    "[--data SPEC] [--seed S]\n");
    return 2;
}

int main(int argc, char **argv)
{
    opts o = {0, 3, 0, 0, 0, "gauss8", 0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) o.quick = 1;
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) o.steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--windows") && i + 1 < argc) o.windows = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) o.reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--data") && i + 1 < argc) o.data = argv[++i];
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            o.seed = strtoull(argv[++i], NULL, 10);
        else return usage();
    }
    if (o.steps == 0) o.steps = o.quick ? 200 : (int)PER;
    if (o.steps < 1 || o.steps > 1000000 || o.windows < 1 || o.windows > 64) {
        fprintf(stderr, "bench_flow2d: --steps must be 1..1000000 and --windows 1..64\n");
        return 2;
    }
    if (o.reps <= 0) o.reps = o.quick ? 3 : 7;
    o.warmup = o.quick ? 20 : 100;

    flow_nets f;
    if (model_nets(&o, &f)) return 1;
    dgm_train_defaults td;
    if (dgm_model_train_defaults_for("realnvp", "{}", &td)) {
        fprintf(stderr, "bench_flow2d: no training defaults for realnvp\n");
        return 1;
    }
    char ws[64] = "";
    for (int i = 0, used = 0; i <= f.layers[0] && used < (int)sizeof ws - 12; i++)
        used += snprintf(ws + used, sizeof ws - (size_t)used, "%s%d", i ? "-" : "", f.w[0][i]);
    const char *env_ob = getenv("OPENBLAS_NUM_THREADS"), *env_omp = getenv("OMP_NUM_THREADS");
    const int last_batch = (int)(f.rows % f.batch);
    const int64_t per_epoch = f.rows / f.batch + (last_batch ? 1 : 0);
    printf("dgm %s bench_flow2d: RealNVP on %s (%lld training rows: %lld batches of %d per "
           "epoch%s), %d couplings of MLP %s (ReLU), %lld parameters%s; Adam %g betas (%g, %g), "
           "batch %d, loss read every %lld steps\n",
           dgm_version(), o.data, (long long)f.rows, (long long)per_epoch, f.batch,
           last_batch ? ", the last smaller" : "", f.couplings, ws, (long long)f.params,
           f.input_grad ? ", ActNorm" : "", (double)td.optim.lr, (double)td.optim.beta1,
           (double)td.optim.beta2, f.batch, (long long)td.log_every);
    if (last_batch) printf("  (the last batch of an epoch holds %d rows)\n", last_batch);
    printf("cpu BLAS:%s(%s), %d threads; OPENBLAS_NUM_THREADS=%s OMP_NUM_THREADS=%s\n",
           OPENBLAS_VERSION, openblas_get_corename(), openblas_get_num_threads(),
           env_ob ? env_ob : "(unset)", env_omp ? env_omp : "(unset)");

    validation v;
    if (validate(&o, &v)) return 1;

    /* dgm first, then the floor, then dgm's number is set against it. */
    printf("cpu: dgm's training loop, %d windows of %d steps after %d warm-up ones\n",
           o.windows, o.steps, o.warmup);
    window_result w;
    if (time_windows(&o, &w)) return 1;
    if (!(w.last_loss < v.nll)) {
        fprintf(stderr, "bench_flow2d: the loss did not fall (%.4f after %lld steps, %.4f "
                        "fresh)\n", (double)w.last_loss, (long long)w.steps, v.nll);
        return 1;
    }

    floor_result fl, fs;
    const double min_s = o.quick ? 0.02 : 0.1;
    printf("cpu: GEMM floor, the sgemm calls of one step (batch %d), each distinct shape timed "
           "alone, best of %d reps:\n", f.batch, o.reps);
    if (floor_cpu(&f, f.batch, o.reps, min_s, 1, &fl)) return 1;
    printf("  per step: %d calls (%d shapes), %.1f MFLOP; sum of calls %.3f ms (forward %.3f, "
           "dX %.3f, dW %.3f) = %.1f GFLOP/s; back to back, each on its own operands (%.1f MB in "
           "all) %.3f ms\n",
           fl.calls, fl.shapes, fl.flops * 1e-6, fl.sum * 1e3, fl.fwd * 1e3, fl.dx * 1e3,
           fl.dw * 1e3, fl.flops / fl.sum * 1e-9, fl.bytes * 1e-6, fl.sequence * 1e3);
    /* The epoch's average step: (full batches · floor(B) + floor(last)) / batches. */
    double avg_sum = fl.sum, avg_seq = fl.sequence, avg_flops = fl.flops;
    if (last_batch) {
        if (floor_cpu(&f, last_batch, o.reps, min_s, 0, &fs)) return 1;
        const double nf = (double)(per_epoch - 1);
        avg_sum = (nf * fl.sum + fs.sum) / (double)per_epoch;
        avg_seq = (nf * fl.sequence + fs.sequence) / (double)per_epoch;
        avg_flops = (nf * fl.flops + fs.flops) / (double)per_epoch;
        printf("  the epoch's last batch (%d rows): sum of calls %.3f ms; the epoch's average "
               "step: %.3f ms\n", last_batch, fs.sum * 1e3, avg_sum * 1e3);
    }
    printf("json: {\"bench\":\"flow2d\",\"device\":\"cpu\",\"what\":\"gemm_step\","
           "\"batch\":%d,\"calls\":%d,\"shapes\":%d,\"flops_per_step\":%.0f,\"seconds_sum\":%.6e,"
           "\"seconds_forward\":%.6e,\"seconds_dx\":%.6e,\"seconds_dw\":%.6e,"
           "\"seconds_sequence\":%.6e,\"operand_bytes\":%.0f,\"last_batch\":%d,"
           "\"seconds_epoch_avg\":%.6e,\"gflops\":%.3f}\n",
           f.batch, fl.calls, fl.shapes, fl.flops, fl.sum, fl.fwd, fl.dx, fl.dw, fl.sequence,
           fl.bytes, last_batch, avg_sum, fl.flops / fl.sum * 1e-9);

    const double floor_k = avg_sum * PER, seq_k = avg_seq * PER;
    printf("\n%-40s %18s %16s\n", "what", "time", "GEMM rate");
    char extra[1024];
    snprintf(extra, sizeof extra, ",\"flops_per_step\":%.0f,\"calls\":%d,\"full_batch_s\":%.6e",
             avg_flops, fl.calls, fl.sum * PER);
    report("floor", "gemm floor (sum of best calls)", floor_k, 0, avg_flops, extra);
    report("floor_sequence", "gemm calls back to back", seq_k, floor_k, avg_flops, extra);
    char what[64];
    snprintf(what, sizeof what, "dgm train loop (best of %d%s)", w.n, o.quick ? ", quick" : "");
    int k = snprintf(extra, sizeof extra,
                     ",\"data\":\"%s\",\"windows\":%d,\"steps_per_window\":%d,\"warmup\":%d,"
                     "\"quick\":%s,\"steps_total\":%lld,\"last_loss\":%.4f,"
                     "\"validate_nll\":%.5f,\"validate_base_nll\":%.5f,\"seconds_each\":[",
                     o.data, w.n, o.steps, o.warmup, o.quick ? "true" : "false",
                     (long long)w.steps, (double)w.last_loss, v.nll, v.base_nll);
    for (int i = 0; i < w.n && k > 0 && k < (int)sizeof extra - 32; i++)
        k += snprintf(extra + k, sizeof extra - (size_t)k, "%s%.4f", i ? "," : "", w.all[i]);
    if (k > 0 && k < (int)sizeof extra - 2) snprintf(extra + k, sizeof extra - (size_t)k, "]");
    report("dgm", what, w.best, floor_k, avg_flops, extra);
    printf("dgm / floor = %.2f; dgm spends %.0f%% of its step outside the floor's GEMMs "
           "(a full default run, %lld steps: about %.0f s)\n",
           w.best / floor_k, 100.0 * (1.0 - floor_k / w.best), (long long)td.length,
           w.best * (double)td.length / PER);
    return 0;
}
