/* bench_gan2d: seconds per 1,000 iterations of dgm's 2-D GAN training loop against its GEMM
 * floor.
 *
 * The model is dgm's default `dgm train gan --data grid25`: generator Linear(2,400) →
 * BatchNorm1d → ReLU ×4 then Linear(400,2), discriminator Linear(2,200) → LeakyReLU(0.2)
 * ×3 then Linear(200,1), the non-saturating loss, one discriminator step then one
 * generator step per iteration, Adam lr 1e-4 betas (0.8, 0.999) per player, batch 100, on
 * the grid25 toy (100,000 training samples: 25 Gaussians at {-4,-2,0,2,4}², std 0.05).
 * The layer widths are read from the model's parameters, so the floor follows the model.
 *
 * In one run it measures
 *   dgm   : the training loop exactly as `dgm train gan --data grid25 --device cpu` runs
 *           it (dgm_model_train_iteration with the model's training defaults and the
 *           schedule's rate — the model ends a step itself after its D step —, the loss
 *           read back every log_every = 500 iterations and after a window's last one (a
 *           4-byte copy on the CPU), then dgm_ctx_step_end), seconds per 1,000
 *           iterations, best of W windows of one training run after a warm-up;
 *   floor : the 42 sgemm calls one iteration performs (checked by interposing cblas_sgemm
 *           under `dgm train gan --data grid25`), with the shapes, transposes and beta that
 *           dgm passes, each timed alone with raw cblas_sgemm (best of several reps),
 *           summed per iteration, ×1000. It is what the loop would cost if everything but
 *           the matrix products were free. Per iteration, in dgm's order:
 *             D step (16): G forward (5, no grad), D forward on the data and the fakes
 *               in one pass of 2B rows (4); backward through it, dX (= dZ·W) and dW
 *               (+= dZ^T·X) per layer, no dX at D's input (neither the data nor the
 *               fakes, made without grad, need one): 3 + 4;
 *             G step (26): G forward (5), D forward on the fakes (4); backward through D
 *               with dX at every layer (the gradient must reach G) and dW (4 + 4: D's
 *               weight gradients are computed although only G's optimizer steps), then
 *               through G, dX but at its input z, and dW (4 + 5);
 *   ratio : dgm / floor.
 * CPU only: the CUDA backend is not timed here (no DGM_BENCH_CUDA path, unlike bench_vae);
 * the program builds the same with or without CUDA.
 *
 * Before timing, a fresh model is checked: its discriminator's loss on the held-out data
 * against as many generated samples (dgm eval's "d_loss") must be near 2·ln 2 = 1.386 (an
 * untrained D's scores are near 0), and its first iteration's generator loss finite and
 * near ln 2 = 0.693; the timed run's losses must stay finite.
 * Results also go to stdout as JSON lines (prefix "json: ").
 *
 * Usage: bench_gan2d [--iters N] [--windows W] [--quick] [--reps R] [--seed S]
 *   --iters N    iterations per timed window (default 1000; 100 with --quick)
 *   --windows W  timed windows, the best is reported (default 3)
 *   --quick      windows of 100 iterations after 20 warm-up ones (else 100), extrapolated
 *                to 1,000, and fewer floor reps: a smoke run of a few seconds
 *   --reps R     trials per sgemm shape of the floor (default 7; 3 with --quick)
 *   --seed S     the run's seed, as dgm train --seed (default 0)
 */
#include "bench_common.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "dgm/dgm.h"

#define DATA "grid25"
#define PER 1000.0 /* iterations the times are given for */
#define MAX_LAYERS 12
#define MAX_CALLS 160
#define LN2 0.69314718055994531

typedef struct opts {
    int iters, windows, warmup, quick, reps;
    uint64_t seed;
} opts;

/* ---- the GEMM floor ---------------------------------------------------------------- */

/* One row-major sgemm: C[m,n] = op(A)·op(B) + beta·C, as dgm's CPU backend calls it. */
typedef struct gemm_call {
    char step, net; /* 'D' or 'G': the step it belongs to, the network it runs through */
    int layer;      /* Linear layer index within its network, from 0 */
    const char *what;        /* fwd, dX, dW */
    int ta, tb, m, n, k;
    float beta;
    int unused; /* a product whose result no optimizer uses */
} gemm_call;

/* Linear-layer widths of both players: w[0] input, w[layers] output. */
typedef struct nets {
    int g_layers, d_layers;
    int gw[MAX_LAYERS + 1], dw[MAX_LAYERS + 1];
    int batch;
    int64_t g_params, d_params, params;
} nets;

/* Forward through a network: y[B,out] = x[B,in]·W[out,in]^T, beta 0. */
static int add_forward(gemm_call *c, int n, char step, char net, int b, const int *w, int layers)
{
    for (int i = 0; i < layers; i++)
        c[n++] = (gemm_call){step, net, i, "fwd", 0, 1, b, w[i + 1], w[i], 0.0f, 0};
    return n;
}

/* Backward through a network, last layer first: dX[B,in] = dZ[B,out]·W[out,in] (a step
 * tensor's first gradient: beta 0), then dW[out,in] += dZ^T·X (parameters accumulate:
 * beta 1). dX of layer 0 only when the network's input needs a gradient. */
static int add_backward(gemm_call *c, int n, char step, char net, int b, const int *w, int layers,
                        int input_grad, int dw_unused)
{
    for (int i = layers - 1; i >= 0; i--) {
        if (i > 0 || input_grad)
            c[n++] = (gemm_call){step, net, i, "dX", 0, 0, b, w[i], w[i + 1], 0.0f, 0};
        c[n++] = (gemm_call){step, net, i, "dW", 1, 0, w[i + 1], w[i], b, 1.0f, dw_unused};
    }
    return n;
}

/* The sgemm calls of one training iteration, in dgm's order (see the header). */
static int iteration_calls(const nets *nt, gemm_call *c)
{
    const int b = nt->batch;
    int n = 0;
    /* D step: fakes made without grad (generator in train mode), D on the data and the
     * fakes in one pass of 2B rows, one backward. */
    n = add_forward(c, n, 'D', 'G', b, nt->gw, nt->g_layers);    /* the fakes, no grad */
    n = add_forward(c, n, 'D', 'D', 2 * b, nt->dw, nt->d_layers);        /* D(data, fakes) */
    n = add_backward(c, n, 'D', 'D', 2 * b, nt->dw, nt->d_layers, 0, 0); /* through it */
    /* G step: fakes with grad, D on them, backward through D (its weight gradients too)
     * into G; z needs no gradient. */
    n = add_forward(c, n, 'G', 'G', b, nt->gw, nt->g_layers);
    n = add_forward(c, n, 'G', 'D', b, nt->dw, nt->d_layers);
    n = add_backward(c, n, 'G', 'D', b, nt->dw, nt->d_layers, 1, 1);
    n = add_backward(c, n, 'G', 'G', b, nt->gw, nt->g_layers, 0, 0);
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


static int gemm_cpu(void *p)
{
    const gemm_buf *g = p;
    const gemm_call *c = g->c;
    bench_sgemm(c->ta, c->tb, c->m, c->n, c->k, c->beta, g->a, g->b, g->out);
    return 0;
}

/* All calls of an iteration back to back (p: an array of gemm_buf ending with c == NULL). */
static int gemm_cpu_sequence(void *p)
{
    for (const gemm_buf *g = p; g->c; g++) gemm_cpu((void *)g);
    return 0;
}

typedef struct floor_result {
    double sum, sequence, flops;   /* per iteration */
    double d_step, g_step, unused; /* parts of sum */
    double unused_flops;
    int calls, unused_calls, shapes;
} floor_result;

/* Times every distinct call shape alone (best of `reps` trials of at least min_s seconds),
 * sums the calls of one iteration and times them back to back; prints the table. */
static int floor_cpu(const nets *nt, int reps, double min_s, floor_result *r)
{
    gemm_call calls[MAX_CALLS];
    gemm_buf bufs[MAX_CALLS + 1];
    double t[MAX_CALLS];
    const int n = iteration_calls(nt, calls);
    memset(bufs, 0, sizeof bufs);
    memset(r, 0, sizeof *r);
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        const gemm_call *c = &calls[i];
        bufs[i].c = c;
        bufs[i].a = bench_random((size_t)c->m * c->k, 10 + i);
        bufs[i].b = bench_random((size_t)c->k * c->n, 200 + i);
        bufs[i].out = calloc((size_t)c->m * c->n, sizeof(float));
        if (!bufs[i].a || !bufs[i].b || !bufs[i].out) rc = 1;
    }
    if (rc) fprintf(stderr, "bench_gan2d: out of memory\n");
    r->calls = n;
    if (!rc)
        printf("  %-3s %-5s %5s %5s %5s %4s  %5s %10s %9s  %s\n", "op", "trans", "m", "n", "k",
               "beta", "calls", "best us", "GFLOP/s", "where");
    for (int i = 0; i < n && !rc; i++) {
        const gemm_call *c = &calls[i];
        r->flops += call_flops(c);
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
            int count = 0;
            char where[160] = "";
            size_t used = 0;
            for (int j = i; j < n; j++) {
                if (!same_shape(&calls[j], c)) continue;
                count++;
                if (used < sizeof where - 40)
                    used += (size_t)snprintf(where + used, sizeof where - used, "%s%c%c%d%s",
                                             used ? " " : "", calls[j].step == 'D' ? 'd' : 'g',
                                             calls[j].net, calls[j].layer,
                                             calls[j].unused ? "*" : "");
            }
            printf("  %-3s %c%c    %5d %5d %5d %4.0f  %5d %10.2f %9.1f  %s\n", c->what,
                   c->ta ? 'T' : 'N', c->tb ? 'T' : 'N', c->m, c->n, c->k, (double)c->beta, count, t[i] * 1e6,
                   call_flops(c) / t[i] * 1e-9, where);
        }
        r->sum += t[i];
        if (c->step == 'D') r->d_step += t[i];
        else r->g_step += t[i];
        if (c->unused) {
            r->unused += t[i];
            r->unused_flops += call_flops(c);
            r->unused_calls++;
        }
    }
    if (!rc) {
        printf("  where: the step (d: D's, g: G's), the network and its Linear layer from 0; "
               "*: D's weight gradients in G's step, unused\n");
        r->sequence = bench_time(gemm_cpu_sequence, bufs, 2, min_s, reps);
    }
    for (int i = 0; i < n; i++) free(bufs[i].a), free(bufs[i].b), free(bufs[i].out);
    return rc;
}

/* ---- dgm's training loop ----------------------------------------------------------- */

typedef struct gan_run {
    dgm_ctx *ctx;
    dgm_dataset *train;
    dgm_model *model;
    dgm_loader *loader;
    dgm_train_defaults t;
    int64_t step;
    float loss;       /* last loss read back (the generator's) */
    float first_loss; /* of iteration 1, when read */
    int reads;        /* losses read back */
} gan_run;

static void run_free(gan_run *r)
{
    dgm_loader_free(r->loader);
    dgm_model_free(r->model);
    dgm_dataset_free(r->train);
    dgm_ctx_free(r->ctx);
    memset(r, 0, sizeof *r);
}

static int fail(dgm_ctx *ctx, const char *what)
{
    fprintf(stderr, "bench_gan2d: %s: %s\n", what, ctx ? dgm_last_error(ctx) : "no context");
    return 1;
}

/* The setup of `dgm train gan --data grid25 --device cpu --seed S` (cmd_train.c): context,
 * training data, model with the default options, the defaults of its configuration, a
 * loader of their batch (no drop_last). */
static int run_setup(uint64_t seed, gan_run *r)
{
    memset(r, 0, sizeof *r);
    dgm_ctx_config cfg = dgm_ctx_config_default();
    cfg.device = DGM_DEVICE_CPU;
    cfg.seed = seed;
    if (dgm_ctx_create(&cfg, &r->ctx)) return fail(r->ctx, "context");
    if (dgm_dataset_load(r->ctx, DATA, DGM_SPLIT_TRAIN, seed, &r->train))
        return fail(r->ctx, DATA);
    int64_t shape[3];
    const int nd = dgm_dataset_sample_shape(r->train, shape);
    if (dgm_model_create(r->ctx, "gan", "{}", dgm_dataset_dim(r->train), nd, shape, &r->model))
        return fail(r->ctx, "creating the model");
    if (dgm_model_train_defaults_for("gan", dgm_model_config(r->model), &r->t))
        return fail(r->ctx, "training defaults");
    if (dgm_model_check_data(r->model, r->train)) return fail(r->ctx, "--data " DATA);
    if (dgm_model_prepare(r->model, r->train, true)) return fail(r->ctx, "preparing the model");
    if (!dgm_model_owns_optimizers(r->model)) {
        fprintf(stderr, "bench_gan2d: the gan no longer trains with its own optimizers\n");
        return 1;
    }
    int64_t batch = r->t.batch;
    if (batch > dgm_dataset_count(r->train)) batch = dgm_dataset_count(r->train);
    if (dgm_loader_create(r->ctx, r->train, batch, seed, false, &r->loader))
        return fail(r->ctx, "data loader");
    return 0;
}

/* `n` iterations of cmd_train's loop. The loss is read every log_every iterations, as
 * dgm train does, and after the last of the n (a 4-byte copy on the CPU). */
static int run_iters(gan_run *r, int64_t n)
{
    dgm_ctx *ctx = r->ctx;
    for (int64_t i = 0; i < n; i++) {
        dgm_tensor *loss = NULL;
        dgm_optim_config oc = r->t.optim;
        oc.lr = dgm_lr_at(&r->t.schedule, r->step);
        if (dgm_model_train_iteration(r->model, r->loader, &oc, r->step, &loss))
            return fail(ctx, "training iteration");
        r->step++;
        if (r->step % r->t.log_every == 0 || i == n - 1) {
            float lv = 0;
            if (dgm_tensor_to_host(ctx, loss, &lv)) return fail(ctx, "reading the loss");
            if (!isfinite(lv)) {
                fprintf(stderr, "bench_gan2d: the loss is not finite at iteration %lld\n",
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

/* A number from a JSON object written by dgm_model_evaluate ({"d_loss": 1.38}). */
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
    double d_loss;
    float g_loss;
} validation;

/* A fresh model: D's loss on the test split near 2 ln 2, its first iteration's generator
 * loss finite and near ln 2. */
static int validate(uint64_t seed, validation *v)
{
    gan_run r;
    int rc = run_setup(seed, &r);
    dgm_dataset *test = NULL;
    char out[256];
    if (!rc && dgm_dataset_load(r.ctx, DATA, DGM_SPLIT_TEST, seed, &test))
        rc = fail(r.ctx, DATA " (test split)");
    if (!rc && dgm_model_evaluate(r.model, test, "d_loss", out, sizeof out))
        rc = fail(r.ctx, "evaluating d_loss");
    if (!rc && json_number(out, "d_loss", &v->d_loss)) {
        fprintf(stderr, "bench_gan2d: no d_loss in %s\n", out);
        rc = 1;
    }
    if (!rc) rc = run_iters(&r, 1);
    if (!rc) {
        v->g_loss = r.first_loss;
        const bool d_ok = isfinite(v->d_loss) && fabs(v->d_loss - 2.0 * LN2) < 0.3;
        const bool g_ok = isfinite(r.first_loss) && fabs(r.first_loss - LN2) < 0.3;
        printf("validate: fresh D's loss on held-out data %.4f (expected 2 ln 2 = %.3f +- 0.3): "
               "%s; first iteration's G loss %.4f (expected ln 2 = %.3f +- 0.3): %s\n",
               v->d_loss, 2.0 * LN2, d_ok ? "ok" : "FAILED", (double)r.first_loss, LN2,
               g_ok ? "ok" : "FAILED");
        if (!d_ok || !g_ok) rc = 1;
    }
    dgm_dataset_free(test);
    run_free(&r);
    return rc;
}

typedef struct window_result {
    double best, all[64]; /* seconds per PER iterations */
    int n;
    float last_loss;
    int64_t iters;
} window_result;

static int time_windows(const opts *o, window_result *w)
{
    gan_run r;
    memset(w, 0, sizeof *w);
    w->best = 1e30;
    int rc = run_setup(o->seed, &r);
    if (!rc) rc = run_iters(&r, o->warmup);
    for (int t = 0; t < o->windows && !rc; t++) {
        const double start = bench_now();
        rc = run_iters(&r, o->iters);
        const double sec = (bench_now() - start) * PER / o->iters;
        if (rc) break;
        w->all[w->n++] = sec;
        if (sec < w->best) w->best = sec;
        printf("  window %d: %.3f s per 1k iterations (%d iterations%s), G loss %.4f at "
               "iteration %lld\n",
               t + 1, sec, o->iters, o->iters != (int)PER ? ", scaled" : "", (double)r.loss,
               (long long)r.step);
    }
    w->last_loss = r.loss;
    w->iters = r.step;
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

static int model_nets(nets *nt)
{
    gan_run r;
    memset(nt, 0, sizeof *nt);
    int rc = run_setup(0, &r);
    if (rc) return rc;
    dgm_params *p = dgm_model_params(r.model);
    int64_t off = 0;
    if (linear_widths(p, "generator.net.", nt->gw, &nt->g_layers) ||
        linear_widths(p, "discriminator.net.", nt->dw, &nt->d_layers) ||
        dgm_params_prefix_range(p, "generator.", &off, &nt->g_params) ||
        dgm_params_prefix_range(p, "discriminator.", &off, &nt->d_params) ||
        nt->gw[nt->g_layers] != nt->dw[0] || nt->dw[nt->d_layers] != 1) {
        fprintf(stderr, "bench_gan2d: unexpected GAN layout (a generator.net.* and a "
                        "discriminator.net.* MLP, one sample per D input)\n");
        rc = 1;
    }
    nt->params = dgm_params_numel(p);
    nt->batch = (int)r.t.batch;
    run_free(&r);
    return rc;
}

static void widths_str(const int *w, int layers, char *buf, size_t len)
{
    size_t used = 0;
    for (int i = 0; i <= layers && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%d", i ? "-" : "", w[i]);
}

/* ---- report ------------------------------------------------------------------------ */

static void report(const char *key, const char *what, double sec, double floor_sec,
                   double flops, const char *extra_json)
{
    printf("%-40s %9.3f s/1k it %8.1f GFLOP/s", what, sec, flops * PER / sec * 1e-9);
    if (floor_sec > 0) printf("   %.2fx the floor", sec / floor_sec);
    printf("\n");
    printf("json: {\"bench\":\"gan2d\",\"device\":\"cpu\",\"what\":\"%s\","
           "\"seconds_per_1k_iters\":%.6e,\"gemm_gflops\":%.3f,\"ratio_to_floor\":%.4f%s}\n",
           key, sec, flops * PER / sec * 1e-9, floor_sec > 0 ? sec / floor_sec : 1.0,
           extra_json ? extra_json : "");
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_gan2d [--iters N] [--windows W] [--quick] [--reps R] "
                    "[--seed S]\n");
    return 2;
}

int main(int argc, char **argv)
{
    opts o = {0, 3, 0, 0, 0, 0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) o.quick = 1;
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc) o.iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--windows") && i + 1 < argc) o.windows = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) o.reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            o.seed = strtoull(argv[++i], NULL, 10);
        else return usage();
    }
    if (o.iters == 0) o.iters = o.quick ? 100 : (int)PER;
    if (o.iters < 1 || o.iters > 1000000 || o.windows < 1 || o.windows > 64) {
        fprintf(stderr, "bench_gan2d: --iters must be 1..1000000 and --windows 1..64\n");
        return 2;
    }
    if (o.reps <= 0) o.reps = o.quick ? 3 : 7;
    o.warmup = o.quick ? 20 : 100;

    nets nt;
    if (model_nets(&nt)) return 1;
    dgm_train_defaults td;
    if (dgm_model_train_defaults_for("gan", "{}", &td)) {
        fprintf(stderr, "bench_gan2d: no training defaults for gan\n");
        return 1;
    }
    char gws[128], dws[128];
    widths_str(nt.gw, nt.g_layers, gws, sizeof gws);
    widths_str(nt.dw, nt.d_layers, dws, sizeof dws);
    const char *env_ob = getenv("OPENBLAS_NUM_THREADS"), *env_omp = getenv("OMP_NUM_THREADS");
    printf("dgm %s bench_gan2d: GAN on %s, G %s (batch norm, ReLU), D %s (LeakyReLU 0.2), "
           "%lld + %lld parameters; Adam %g betas (%g, %g), batch %d, loss read every %lld "
           "iterations\n",
           dgm_version(), DATA, gws, dws, (long long)nt.g_params, (long long)nt.d_params,
           (double)td.optim.lr, (double)td.optim.beta1, (double)td.optim.beta2, nt.batch,
           (long long)td.log_every);
    printf("cpu BLAS:%s(%s), %d threads; OPENBLAS_NUM_THREADS=%s OMP_NUM_THREADS=%s\n",
           OPENBLAS_VERSION, openblas_get_corename(), openblas_get_num_threads(),
           env_ob ? env_ob : "(unset)", env_omp ? env_omp : "(unset)");

    validation v;
    if (validate(o.seed, &v)) return 1;

    /* dgm first, then the floor, then dgm's number is set against it. */
    printf("cpu: dgm's training loop, %d windows of %d iterations after %d warm-up ones\n",
           o.windows, o.iters, o.warmup);
    window_result w;
    if (time_windows(&o, &w)) return 1;

    floor_result fl;
    gemm_call calls[MAX_CALLS];
    const int ncalls = iteration_calls(&nt, calls);
    printf("cpu: GEMM floor, the %d sgemm calls of one iteration (batch %d), each distinct "
           "shape timed alone, best of %d reps:\n",
           ncalls, nt.batch, o.reps);
    if (floor_cpu(&nt, o.reps, o.quick ? 0.02 : 0.1, &fl)) return 1;
    printf("  per iteration: %d calls (%d shapes), %.1f MFLOP; sum of calls %.3f ms "
           "(D step %.3f, G step %.3f) = %.1f GFLOP/s; back to back %.3f ms\n",
           fl.calls, fl.shapes, fl.flops * 1e-6, fl.sum * 1e3, fl.d_step * 1e3, fl.g_step * 1e3,
           fl.flops / fl.sum * 1e-9, fl.sequence * 1e3);
    printf("  of which unused: D's weight gradients in the G step, %d calls, %.1f MFLOP, "
           "%.3f ms (%.1f%% of the floor)\n",
           fl.unused_calls, fl.unused_flops * 1e-6, fl.unused * 1e3, 100.0 * fl.unused / fl.sum);
    printf("json: {\"bench\":\"gan2d\",\"device\":\"cpu\",\"what\":\"gemm_iteration\","
           "\"batch\":%d,\"calls\":%d,\"shapes\":%d,\"flops_per_iter\":%.0f,\"seconds_sum\":%.6e,"
           "\"seconds_d_step\":%.6e,\"seconds_g_step\":%.6e,\"seconds_sequence\":%.6e,"
           "\"unused_calls\":%d,\"unused_flops\":%.0f,\"seconds_unused\":%.6e,\"gflops\":%.3f}\n",
           nt.batch, fl.calls, fl.shapes, fl.flops, fl.sum, fl.d_step, fl.g_step, fl.sequence,
           fl.unused_calls, fl.unused_flops, fl.unused, fl.flops / fl.sum * 1e-9);

    const double floor_k = fl.sum * PER, seq_k = fl.sequence * PER;
    printf("\n%-40s %16s %16s\n", "what", "time", "GEMM rate");
    char extra[1024];
    snprintf(extra, sizeof extra, ",\"flops_per_iter\":%.0f,\"calls\":%d", fl.flops, fl.calls);
    report("floor", "gemm floor (sum of best calls)", floor_k, 0, fl.flops, extra);
    report("floor_sequence", "gemm calls back to back", seq_k, floor_k, fl.flops, extra);
    char what[64];
    snprintf(what, sizeof what, "dgm train loop (best of %d%s)", w.n, o.quick ? ", quick" : "");
    int k = snprintf(extra, sizeof extra,
                     ",\"windows\":%d,\"iters_per_window\":%d,\"warmup\":%d,\"quick\":%s,"
                     "\"iters_total\":%lld,\"last_g_loss\":%.4f,\"validate_d_loss\":%.4f,"
                     "\"validate_g_loss\":%.4f,\"seconds_each\":[",
                     w.n, o.iters, o.warmup, o.quick ? "true" : "false", (long long)w.iters,
                     (double)w.last_loss, v.d_loss, (double)v.g_loss);
    for (int i = 0; i < w.n && k > 0 && k < (int)sizeof extra - 32; i++)
        k += snprintf(extra + k, sizeof extra - (size_t)k, "%s%.4f", i ? "," : "", w.all[i]);
    if (k > 0 && k < (int)sizeof extra - 2) snprintf(extra + k, sizeof extra - (size_t)k, "]");
    report("dgm", what, w.best, floor_k, fl.flops, extra);
    printf("dgm / floor = %.2f; dgm spends %.0f%% of its iteration outside the floor's GEMMs "
           "(a full default run, %lld iterations: about %.0f s)\n",
           w.best / floor_k, 100.0 * (1.0 - floor_k / w.best), (long long)td.length,
           w.best * (double)td.length / PER);
    return 0;
}
