/* bench_diffusion2d: seconds per 1,000 steps of dgm's 2-D DDPM, flow-matching and
 * score-based (ebm, ncsn, sde) training loops against their GEMM floors, and two helpers of benchmarks/run_bench_diffusion2d.sh:
 * the exact W2 of two .npy sample sets, and sampling a checkpoint with other sampler
 * options.
 *
 * The models are dgm's defaults for 2-D data (`dgm train ddpm|fm --data FILE`):
 *   ddpm: T = 1000, linear β; the noise network an MLP "net" of [x, sinusoidal embedding of
 *         the step (128 wide)], 130-128-128-128-2, GELU; AdamW 1e-3 (weight decay 0.01),
 *         batch 256, 30,000 steps; an EMA of the weights (decay 0.999) updated after every
 *         step (dgm_model_after_step, as dgm train calls it);
 *   fm:   I-CFM σ = 0.1; the velocity network an MLP "net" of [x, t], 3-64-64-64-2, SELU;
 *         Adam 1e-3, batch 256, 20,000 steps;
 *   ncsn: the score network an MLP "net" of [x, log σ], 3-128-128-128-2, SiLU; Adam 1e-3,
 *         batch 256, 60,000 steps; an EMA of the weights (0.999);
 *   sde:  the VP score SDE's noise network an MLP "net" of [x, sinusoidal embedding of 999·t
 *         (32 wide)], 34-128-128-128-2, SiLU; Adam 1e-3, batch 256, gradient-norm clip 1,
 *         60,000 steps; an EMA of the weights (0.999); its floor has ddpm's 12 calls;
 *   ebm:  the energy an MLP "net", 2-128-128-128-1, SiLU, contrastive divergence with K = 20
 *         Langevin steps per step; Adam 3e-4, batch 256, 18,000 steps.
 * (The training defaults are read from dgm_model_train_defaults_for, the widths from the
 * model's parameters: the floor follows the model.)
 *
 * Per model it measures
 *   dgm   : the training loop as `dgm train MODEL --data D --device cpu` runs it
 *           (the schedule's rate, loader_next, zero_grad, train_step, optim_step,
 *           dgm_model_after_step (ddpm's EMA update), the loss read every log_every = 500
 *           steps and after a window's last one, step_end), seconds per 1,000 steps, the
 *           median of W windows of one run after a warm-up (every window is printed, then
 *           their median, range and drift: the last window's time over the first's,
 *           flagged when more than 10% off);
 *   floor : the sgemm calls of one step, each distinct shape timed alone with raw
 *           cblas_sgemm (best of several reps), summed per step, ×1000. Per step (B = 256,
 *           widths w_0 .. w_L of the MLP):
 *             ddpm only: the embedding's arguments t[B,1]·f[1,64] (NN B×64×1, beta 0);
 *             forward: per Linear x·W^T (NT B×w_{i+1}×w_i, beta 0);
 *             backward, last layer first: dX = dZ·W (NN B×w_i×w_{i+1}, beta 0; not at
 *             the first layer: its input, [x_t, embedding], needs no gradient), then
 *             dW += dZ^T·X (TN w_{i+1}×w_i×B, beta 1).
 *           ddpm: 1 + 4 + 4 + 3 = 12 calls; fm and ncsn: 11. (Checked by interposing
 *           cblas_sgemm under `dgm train ddpm|fm --data moons --steps 1, 2`: 12 and 11 more
 *           per step, these shapes in this order.)
 *           ebm: K Langevin steps, each a forward pass (L calls) and the input gradient
 *           dX = dZ·W at every layer (L calls, the first included: x is what moves); then
 *           the loss's two forward passes (data and chains, 2L) and their backward passes
 *           (2·(L dW + (L − 1) dX)): with K = 20 and L = 4, 160 + 8 + 14 = 182 calls.
 *   ratio : dgm / floor.
 * With 2-D rows the products are tiny (about 30 MFLOP per ddpm step): the floor is small
 * and everything else (the time embedding, the element-wise ops, AdamW over 35k floats,
 * the EMA) weighs heavily.
 * Results also go to stdout as JSON lines (prefix "json: ").
 *
 * Usage:
 *   bench_diffusion2d [--model ddpm|fm|both|ebm|ncsn|sde] [--steps N] [--windows W] [--quick] [--reps R]
 *                     [--data SPEC] [--seed S]
 *     --model M    the model(s) to time (default both: ddpm and fm)
 *     --steps N    steps per timed window (default 1000; 200 with --quick)
 *     --windows W  timed windows, the median is reported (default 3)
 *     --quick      windows of 200 steps after 20 warm-up ones (else 100), fewer floor reps
 *     --reps R     trials per sgemm shape of the floor (default 7; 3 with --quick)
 *     --data SPEC  training data, as dgm train --data (default moons)
 *     --seed S     the run's seed (default 0)
 *   bench_diffusion2d --w2 A.npy B.npy
 *     the exact 2-Wasserstein distance (dgm_wasserstein2) of the first n rows of each,
 *     n the smaller count; prints it and a JSON line {"what":"w2","w2":...}
 *   bench_diffusion2d --sample CKPT --config JSON [--weights file|raw] -n N --seed S -o OUT.npy
 *     N samples of the checkpoint's model under the config JSON (a full config object
 *     that differs from the checkpoint's only in sampler options: ddpm's sampler,
 *     sample-steps, eta, variance; fm's solver, sample-steps): the checkpoint is loaded
 *     (dgm_model_load) on a context of seed S, a model of that config made, every tensor
 *     of the checkpoint copied into it by name (read with dgm_safetensors_load), the
 *     generator put back where it stood after the load, then dgm_model_sample_into, as
 *     `dgm sample CKPT -n N --seed S` samples: the same samples as `dgm sample CKPT --set
 *     OPTION=VALUE ...` by a route of its own (run_bench_diffusion2d.sh checks it).
 *     --weights file (the default): the tensors as the file holds them, ddpm's moving
 *     average "ema.*" included, which is what samples; raw: the averages replaced by the
 *     weights (what dgm_model_load gave before it kept the saved average, commit baca2ec).
 */
#define BENCH_NAME "bench_diffusion2d"
#include "bench_train.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "dgm/dgm.h"

#define MAX_LAYERS 10
#define MAX_LANGEVIN 64
#define MAX_CALLS ((2 * MAX_LANGEVIN + 6) * MAX_LAYERS + 1)

/* ---- W2 of two .npy files ---------------------------------------------------------- */

static int cmd_w2(const char *a_path, const char *b_path)
{
    dgm_ctx_config cfg = dgm_ctx_config_default();
    cfg.device = DGM_DEVICE_CPU;
    dgm_ctx *ctx = NULL;
    dgm_dataset *a = NULL, *b = NULL;
    int rc = 0;
    if (dgm_ctx_create(&cfg, &ctx)) return bench_fail(ctx, "context");
    if (dgm_dataset_load_npy(ctx, a_path, &a)) rc = bench_fail(ctx, a_path);
    if (!rc && dgm_dataset_load_npy(ctx, b_path, &b)) rc = bench_fail(ctx, b_path);
    if (!rc && dgm_dataset_dim(a) != dgm_dataset_dim(b)) {
        fprintf(stderr, "bench_diffusion2d: %s and %s differ in dimension\n", a_path, b_path);
        rc = 1;
    }
    if (!rc) {
        int64_t n = dgm_dataset_count(a);
        if (dgm_dataset_count(b) < n) n = dgm_dataset_count(b);
        double w2 = 0.0;
        const double t0 = bench_now();
        if (dgm_wasserstein2(ctx, dgm_dataset_data(a), dgm_dataset_data(b), n,
                             (int)dgm_dataset_dim(a), &w2))
            rc = bench_fail(ctx, "wasserstein2");
        else {
            printf("W2 %.6f (%lld rows each, %.2f s)\n", w2, (long long)n, bench_now() - t0);
            printf("json: {\"bench\":\"diffusion2d\",\"what\":\"w2\",\"a\":\"%s\",\"b\":\"%s\","
                   "\"n\":%lld,\"w2\":%.8f}\n", a_path, b_path, (long long)n, w2);
        }
    }
    dgm_dataset_free(a);
    dgm_dataset_free(b);
    dgm_ctx_free(ctx);
    return rc;
}

/* ---- a checkpoint sampled under another config -------------------------------------- */

/* The checkpoint's tensors into m's block by name (shapes must match). `raw`: the EMA
 * buffers "ema.<name>" take the weights "<name>" instead of their own values. */
static int load_tensors(dgm_ctx *ctx, dgm_model *m, const char *ckpt, bool raw)
{
    dgm_safetensors *st = NULL;
    if (dgm_safetensors_load(ctx, ckpt, &st)) return bench_fail(ctx, ckpt);
    dgm_params *p = dgm_model_params(m);
    int rc = 0;
    for (int i = 0; i < dgm_params_count(p) && !rc; i++) {
        const char *name = dgm_params_name(p, i);
        const char *src = raw && !strncmp(name, "ema.", 4) ? name + 4 : name;
        const int k = dgm_safetensors_find(st, src);
        dgm_tensor *t = dgm_params_at(p, i);
        if (k < 0 || dgm_safetensors_numel(st, k) != dgm_tensor_numel(t) ||
            strcmp(dgm_safetensors_dtype(st, k), "F32")) {
            fprintf(stderr, "bench_diffusion2d: %s: no F32 tensor '%s' of %lld values: --config "
                            "may change only the sampler's options\n", ckpt, src,
                    (long long)dgm_tensor_numel(t));
            rc = 1;
        } else if (dgm_tensor_copy_from_host(ctx, t, dgm_safetensors_data(st, k))) {
            rc = bench_fail(ctx, name);
        }
    }
    dgm_safetensors_free(st);
    return rc;
}

static int cmd_sample(const char *ckpt, const char *config, bool raw, int64_t n, uint64_t seed,
                      const char *out)
{
    dgm_ctx_config cfg = dgm_ctx_config_default();
    cfg.device = DGM_DEVICE_CPU;
    cfg.seed = seed;
    dgm_ctx *ctx = NULL;
    dgm_model *src = NULL, *m = NULL;
    float *host = NULL;
    int rc = 0;
    if (dgm_ctx_create(&cfg, &ctx)) return bench_fail(ctx, "context");
    if (dgm_model_load(ctx, ckpt, &src)) rc = bench_fail(ctx, ckpt);
    /* the generator as `dgm sample --seed S` has it after loading (the model's
     * initialization drew from it), restored after this second model's */
    uint64_t rng_seed = 0, rng_offset = 0;
    if (!rc) dgm_ctx_rng_state(ctx, &rng_seed, &rng_offset);
    int64_t shape[3] = {0, 0, 0};
    const int nd = rc ? 0 : dgm_model_sample_shape(src, shape);
    const int64_t dim = rc ? 0 : dgm_model_dim(src);
    if (!rc && dgm_model_create(ctx, dgm_model_kind(src), config, dim, nd, shape, &m))
        rc = bench_fail(ctx, "the model of --config");
    if (!rc) rc = load_tensors(ctx, m, ckpt, raw);
    if (!rc && dgm_ctx_set_rng_state(ctx, rng_seed, rng_offset)) rc = bench_fail(ctx, "rng state");
    if (!rc && !(host = malloc((size_t)(n * dim) * sizeof *host))) {
        fprintf(stderr, "bench_diffusion2d: out of memory\n");
        rc = 1;
    }
    const double t0 = bench_now();
    if (!rc && dgm_model_sample_into(m, n, host, DGM_MEMORY_HOST)) rc = bench_fail(ctx, "sampling");
    const double sec = bench_now() - t0;
    const int64_t oshape[2] = {n, dim};
    if (!rc && dgm_save_npy(ctx, out, host, 2, oshape)) rc = bench_fail(ctx, out);
    if (!rc)
        printf("wrote %lld samples to %s (%lld network passes, %.2f s, weights: %s); config %s\n",
               (long long)n, out, (long long)dgm_model_sampler_passes(m), sec,
               raw ? "raw (EMA := weights)" : "as in the file", dgm_model_config(m));
    free(host);
    dgm_model_free(m);
    dgm_model_free(src);
    dgm_ctx_free(ctx);
    return rc;
}

/* ---- the GEMM floor ---------------------------------------------------------------- */

typedef struct gemm_call {
    int layer;        /* Linear layer index, from 0; -1: the time embedding */
    const char *what; /* emb, fwd, dX, dW */
    bench_gemm g;
} gemm_call;

typedef struct time_net {
    int layers, w[MAX_LAYERS + 1];
    int emb_half; /* 0: t is a raw column (fm, ncsn) */
    int langevin; /* ebm: Langevin steps per training step (0: not an ebm) */
    int batch;
    int64_t params, rows;
} time_net;

static int step_calls(const time_net *f, int b, gemm_call *c)
{
    int n = 0;
    for (int k = 0; k < f->langevin; k++) { /* the ebm's chains: forward, then ∇ₓE */
        for (int i = 0; i < f->layers; i++)
            c[n++] = (gemm_call){i, "fwd", {0, 1, b, f->w[i + 1], f->w[i], 0.0f}};
        for (int i = f->layers - 1; i >= 0; i--)
            c[n++] = (gemm_call){i, "dX", {0, 0, b, f->w[i], f->w[i + 1], 0.0f}};
    }
    for (int pass = 0; f->langevin && pass < 2; pass++) /* E(x+), E(x-) */
        for (int i = 0; i < f->layers; i++)
            c[n++] = (gemm_call){i, "fwd", {0, 1, b, f->w[i + 1], f->w[i], 0.0f}};
    for (int pass = 0; f->langevin && pass < 2; pass++)
        for (int i = f->layers - 1; i >= 0; i--) {
            if (i > 0) c[n++] = (gemm_call){i, "dX", {0, 0, b, f->w[i], f->w[i + 1], 0.0f}};
            c[n++] = (gemm_call){i, "dW", {1, 0, f->w[i + 1], f->w[i], b, 1.0f}};
        }
    if (f->langevin) return n;
    if (f->emb_half) c[n++] = (gemm_call){-1, "emb", {0, 0, b, f->emb_half, 1, 0.0f}};
    for (int i = 0; i < f->layers; i++)
        c[n++] = (gemm_call){i, "fwd", {0, 1, b, f->w[i + 1], f->w[i], 0.0f}};
    for (int i = f->layers - 1; i >= 0; i--) {
        if (i > 0) c[n++] = (gemm_call){i, "dX", {0, 0, b, f->w[i], f->w[i + 1], 0.0f}};
        c[n++] = (gemm_call){i, "dW", {1, 0, f->w[i + 1], f->w[i], b, 1.0f}};
    }
    return n;
}

typedef struct floor_result {
    double sum, sequence, flops;
    int calls, shapes;
} floor_result;

typedef struct shape_table {
    const gemm_call *calls;
    int n;
} shape_table;

static void shape_row(void *arg, int i, double t)
{
    const shape_table *st = arg;
    const gemm_call *c = &st->calls[i];
    int count = 0;
    for (int j = i; j < st->n; j++)
        if (bench_gemm_same(&st->calls[j].g, &c->g)) count++;
    char where[32];
    if (c->layer < 0) snprintf(where, sizeof where, "time embedding");
    else snprintf(where, sizeof where, "net.%d", 2 * c->layer);
    bench_shape_row(c->what, &c->g, count, t, where);
}

static int floor_cpu(const time_net *f, int b, int reps, double min_s, floor_result *r)
{
    static gemm_call calls[MAX_CALLS];
    static bench_gemm_buf bufs[MAX_CALLS + 1];
    static double t[MAX_CALLS];
    const int n = step_calls(f, b, calls);
    memset(bufs, 0, sizeof bufs);
    memset(r, 0, sizeof *r);
    for (int i = 0; i < n; i++) bufs[i].g = &calls[i].g;
    const int rc = bench_gemm_alloc(bufs, n, 10, 2000);
    if (rc) fprintf(stderr, "bench_diffusion2d: out of memory\n");
    r->calls = n;
    if (!rc) {
        bench_shape_header("layer");
        shape_table st = {calls, n};
        r->shapes = bench_gemm_time_shapes(bufs, n, reps, min_s, t, shape_row, &st);
        for (int i = 0; i < n; i++) {
            r->flops += bench_gemm_flops(&calls[i].g);
            r->sum += t[i];
        }
        r->sequence = bench_time(bench_gemm_cpu_sequence, bufs, 2, min_s, reps);
    }
    bench_gemm_free(bufs, n);
    return rc;
}

/* ---- dgm's training loop ----------------------------------------------------------- */

/* bench_run_steps (bench_train.h) with the model's after-step hook (ddpm's EMA update)
 * after each optimizer step, as cmd_train.c calls dgm_model_after_step(m, step + 1). */
static int run_steps(bench_run *r, int64_t n)
{
    dgm_ctx *ctx = r->ctx;
    dgm_params *params = dgm_model_params(r->model);
    for (int64_t i = 0; i < n; i++) {
        dgm_tensor *loss = NULL, *batch = NULL;
        bool epoch_end = false;
        dgm_optim_set_lr(r->optim, dgm_lr_at(&r->t.schedule, r->step));
        if (dgm_loader_next(r->loader, &batch, &epoch_end) || dgm_params_zero_grad(params) ||
            dgm_model_train_step(r->model, batch, r->step, &loss))
            return bench_fail(ctx, "training step");
        if (dgm_optim_step(r->optim)) return bench_fail(ctx, "optimizer step");
        if (dgm_model_after_step(r->model, r->step + 1)) return bench_fail(ctx, "after step");
        r->step++;
        if (r->step % r->t.log_every == 0 || i == n - 1) {
            float lv = 0;
            if (dgm_tensor_to_host(ctx, loss, &lv)) return bench_fail(ctx, "reading the loss");
            if (!isfinite(lv)) {
                fprintf(stderr, BENCH_NAME ": the loss is not finite at step %lld\n",
                        (long long)r->step);
                return 1;
            }
            r->loss = lv;
            if (r->step == 1) r->first_loss = lv;
            r->reads++;
        }
        if (dgm_ctx_step_end(ctx)) return bench_fail(ctx, "step end");
    }
    return dgm_ctx_synchronize(ctx) ? bench_fail(ctx, "synchronize") : 0;
}

/* bench_time_windows (bench_train.h) with this file's run_steps. */
static int time_windows(bench_run *r, const bench_opts *o, bench_windows *w)
{
    memset(w, 0, sizeof *w);
    int rc = run_steps(r, o->warmup);
    for (int t = 0; t < o->windows && !rc; t++) {
        const double start = bench_now();
        rc = run_steps(r, o->count);
        const double sec = (bench_now() - start) * BENCH_PER / o->count;
        if (rc) break;
        w->all[w->n++] = sec;
        printf("  window %d: %.3f s per 1k steps (%d steps%s), loss %.4f at step %lld\n", t + 1,
               sec, o->count, o->count != (int)BENCH_PER ? ", scaled" : "", (double)r->loss,
               (long long)r->step);
    }
    if (!rc) bench_windows_done(w, "step");
    w->last_loss = r->loss;
    w->steps = r->step;
    return rc;
}

static int bench_model(const char *kind, const bench_opts *o)
{
    bench_run r;
    int rc = bench_run_setup(&r, kind, o->data, "--data", o->seed, false,
                             "the model now trains with its own optimizers");
    if (rc) {
        bench_run_free(&r);
        return rc;
    }
    time_net f;
    memset(&f, 0, sizeof f);
    dgm_params *p = dgm_model_params(r.model);
    if (bench_linear_widths(p, "net.", MAX_LAYERS, f.w, &f.layers)) {
        fprintf(stderr, "bench_diffusion2d: unexpected %s layout (net.<i> Linear layers)\n", kind);
        bench_run_free(&r);
        return 1;
    }
    const int64_t dim = dgm_model_dim(r.model);
    f.emb_half = (int)((f.w[0] - dim) / 2); /* ddpm: the embedding's columns; fm, ncsn: t, 0 */
    if (!strcmp(kind, "ebm")) {
        const char *k = strstr(dgm_model_config(r.model), "\"langevin-steps\":");
        f.langevin = k ? atoi(k + strlen("\"langevin-steps\":")) : 0;
        f.emb_half = 0;
        if (f.langevin < 1 || f.langevin > MAX_LANGEVIN) {
            fprintf(stderr, "bench_diffusion2d: ebm: langevin-steps 1 to %d\n", MAX_LANGEVIN);
            bench_run_free(&r);
            return 1;
        }
    }
    f.params = dgm_params_numel(p);
    f.batch = (int)r.t.batch;
    f.rows = dgm_dataset_count(r.train);
    if (f.batch > f.rows) f.batch = (int)f.rows;
    char ws[64] = "";
    bench_widths_str(f.w, f.layers, ws, sizeof ws);
    const char *opt = r.t.optim.kind == DGM_OPTIM_ADAMW ? "AdamW" : "Adam";
    printf("\n== %s on %s (%lld rows): MLP %s, %lld parameters; %s %g (weight decay %g), "
           "batch %d, %lld steps by default; config %s\n",
           kind, o->data, (long long)f.rows, ws, (long long)f.params, opt, (double)r.t.optim.lr,
           (double)r.t.optim.weight_decay, f.batch, (long long)r.t.length,
           dgm_model_config(r.model));
    printf("cpu: dgm's training loop, %d windows of %d steps after %d warm-up ones\n", o->windows,
           o->count, o->warmup);
    bench_windows w;
    float first = NAN;
    rc = run_steps(&r, 1);
    if (!rc) first = r.first_loss;
    if (!rc) rc = time_windows(&r, o, &w);
    const int64_t length = r.t.length;
    bench_run_free(&r);
    if (rc) return 1;
    if (!(w.last_loss < first)) {
        fprintf(stderr, "bench_diffusion2d: %s: the loss did not fall (%.4f at step 1, %.4f "
                        "after %lld)\n", kind, (double)first, (double)w.last_loss,
                (long long)w.steps);
        return 1;
    }
    const int last_batch = (int)(f.rows % f.batch);
    const int64_t per_epoch = f.rows / f.batch + (last_batch ? 1 : 0);
    floor_result fl, fs;
    const double min_s = o->quick ? 0.02 : 0.1;
    printf("cpu: GEMM floor, the sgemm calls of one step (batch %d), each distinct shape timed "
           "alone, best of %d reps:\n", f.batch, o->reps);
    if (floor_cpu(&f, f.batch, o->reps, min_s, &fl)) return 1;
    double avg_sum = fl.sum, avg_seq = fl.sequence, avg_flops = fl.flops;
    if (last_batch) {
        if (floor_cpu(&f, last_batch, o->reps, min_s, &fs)) return 1;
        const double nf = (double)(per_epoch - 1);
        avg_sum = (nf * fl.sum + fs.sum) / (double)per_epoch;
        avg_seq = (nf * fl.sequence + fs.sequence) / (double)per_epoch;
        avg_flops = (nf * fl.flops + fs.flops) / (double)per_epoch;
        printf("  the epoch's last batch (%d rows): sum of calls %.3f ms; the epoch's average "
               "step: %.3f ms\n", last_batch, fs.sum * 1e3, avg_sum * 1e3);
    }
    printf("  per step: %d calls (%d shapes), %.2f MFLOP; sum of calls %.3f ms = %.1f GFLOP/s; "
           "back to back %.3f ms\n", fl.calls, fl.shapes, fl.flops * 1e-6, fl.sum * 1e3,
           fl.flops / fl.sum * 1e-9, fl.sequence * 1e3);
    const double floor_k = avg_sum * BENCH_PER, seq_k = avg_seq * BENCH_PER;
    char bench[32];
    snprintf(bench, sizeof bench, "diffusion2d_%s", kind);
    char extra[1024];
    snprintf(extra, sizeof extra, ",\"model\":\"%s\",\"flops_per_step\":%.0f,\"calls\":%d",
             kind, avg_flops, fl.calls);
    printf("\n%-40s %18s %16s\n", "what", "time", "GEMM rate");
    bench_report_floor(bench, "steps", "steps", floor_k, seq_k, avg_flops, extra);
    char what[64];
    bench_dgm_label(what, sizeof what, w.n, o->quick);
    int k = snprintf(extra, sizeof extra,
                     ",\"model\":\"%s\",\"data\":\"%s\",\"windows\":%d,\"steps_per_window\":%d,"
                     "\"warmup\":%d,\"quick\":%s,\"steps_total\":%lld,\"first_loss\":%.4f,"
                     "\"last_loss\":%.4f,\"seconds_each\":[",
                     kind, o->data, w.n, o->count, o->warmup, o->quick ? "true" : "false",
                     (long long)w.steps, (double)first, (double)w.last_loss);
    k = bench_json_list_end(extra, sizeof extra, k, w.all, w.n);
    bench_json_spread(extra, sizeof extra, k, &w.spread);
    bench_report(bench, "steps", "steps", "dgm", what, w.spread.median, floor_k, avg_flops,
                 extra);
    bench_verdict("step", w.spread.median, floor_k, length);
    return 0;
}

int main(int argc, char **argv)
{
    dgm_exec_with_thread_policy(argv); /* as the dgm command runs */
    if (argc == 4 && !strcmp(argv[1], "--w2")) return cmd_w2(argv[2], argv[3]);
    if (argc > 1 && !strcmp(argv[1], "--sample")) {
        const char *ckpt = argc > 2 ? argv[2] : NULL, *config = NULL, *out = NULL;
        const char *weights = "file";
        int64_t n = 0;
        uint64_t seed = 0;
        int bad = argc % 2 != 1;
        for (int i = 3; i + 1 < argc; i += 2) {
            if (!strcmp(argv[i], "--config")) config = argv[i + 1];
            else if (!strcmp(argv[i], "--weights")) weights = argv[i + 1];
            else if (!strcmp(argv[i], "-n")) n = atoll(argv[i + 1]);
            else if (!strcmp(argv[i], "--seed")) seed = strtoull(argv[i + 1], NULL, 10);
            else if (!strcmp(argv[i], "-o")) out = argv[i + 1];
            else bad = 1;
        }
        if (bad || !ckpt || !config || !out || n < 1 ||
            (strcmp(weights, "file") && strcmp(weights, "raw"))) {
            fprintf(stderr, "usage: bench_diffusion2d --sample CKPT --config JSON "
                            "[--weights file|raw] -n N [--seed S] -o OUT.npy\n");
            return 2;
        }
        return cmd_sample(ckpt, config, !strcmp(weights, "raw"), n, seed, out);
    }
    /* --model is ours; the rest are bench_parse_opts' */
    const char *model = "both";
    char *rest[64];
    int nrest = 0;
    for (int i = 0; i < argc && nrest < 63; i++) {
        if (i > 0 && !strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else rest[nrest++] = argv[i];
    }
    rest[nrest] = NULL;
    if (strcmp(model, "ddpm") && strcmp(model, "fm") && strcmp(model, "both") && strcmp(model, "ebm") &&
        strcmp(model, "ncsn") && strcmp(model, "sde")) {
        fprintf(stderr, "bench_diffusion2d: --model ddpm, fm, both (the two), ebm, ncsn or sde\n");
        return 2;
    }
    bench_opts o = {0, 3, 0, 0, 0, "moons", 0};
    const int arg_rc = bench_parse_opts(
        nrest, rest, "--steps", 200,
        "usage: bench_diffusion2d [--model ddpm|fm|both|ebm|ncsn|sde] [--steps N] [--windows W] [--quick] "
        "[--reps R] [--data SPEC] [--seed S]\n"
        "       bench_diffusion2d --w2 A.npy B.npy\n"
        "       bench_diffusion2d --sample CKPT --config JSON [--weights file|raw] -n N [--seed S] "
        "-o OUT.npy",
        &o);
    if (arg_rc) return arg_rc;
    printf("dgm %s bench_diffusion2d: DDPM and I-CFM training loops on %s\n", dgm_version(),
           o.data);
    bench_print_blas();
    int rc = 0;
    if (!strcmp(model, "ddpm") || !strcmp(model, "both")) rc |= bench_model("ddpm", &o);
    if (!rc && (!strcmp(model, "fm") || !strcmp(model, "both"))) rc |= bench_model("fm", &o);
    if (!strcmp(model, "ebm") || !strcmp(model, "ncsn") || !strcmp(model, "sde")) rc |= bench_model(model, &o);
    return rc;
}
