/* dgm's training loop as `dgm train` runs it (host/cli/cmd_train.c), for the benchmark
 * programs that time it: the setup, the loop (a model's own optimizers or one Adam for
 * all its parameters), timed windows of it, and their options. A program defines
 * BENCH_NAME (its name, for messages) before including this. */
#ifndef DGM_BENCH_TRAIN_H
#define DGM_BENCH_TRAIN_H

#include "bench_common.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "dgm/dgm.h"

#ifndef BENCH_NAME
#error "define BENCH_NAME before including bench_train.h"
#endif

static inline int bench_fail(dgm_ctx *ctx, const char *what)
{
    fprintf(stderr, BENCH_NAME ": %s: %s\n", what, ctx ? dgm_last_error(ctx) : "no context");
    return 1;
}

/* The Linear layers "<prefix><i>.weight" [out, in] in declaration order -> widths w[0]
 * (input) .. w[layers] (output), at most max_layers of them. */
static inline int bench_linear_widths(dgm_params *p, const char *prefix, int max_layers, int *w,
                                      int *layers)
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
        if (n >= max_layers) return 1;
        const int out = (int)dgm_tensor_dim(t, 0), in = (int)dgm_tensor_dim(t, 1);
        if (n == 0) w[0] = in;
        else if (w[n] != in) return 1;
        w[++n] = out;
    }
    *layers = n;
    return n < 1;
}

/* Widths as "2-400-400-2" into buf (len bytes; cut short when full). */
static inline void bench_widths_str(const int *w, int layers, char *buf, size_t len)
{
    size_t used = 0;
    for (int i = 0; i <= layers && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%d", i ? "-" : "", w[i]);
}

/* ---- the run ----------------------------------------------------------------------- */

/* --keep-denormals: the context computes in the caller's floating-point mode, IEEE
 * subnormals included (dgm_ctx_config.keep_denormals), to measure what flushing saves. */
static bool bench_keep_denormals;

typedef struct bench_run {
    dgm_ctx *ctx;
    dgm_dataset *train;
    dgm_model *model;
    dgm_optim *optim; /* NULL: the model steps its own optimizers (a GAN) */
    dgm_loader *loader;
    dgm_train_defaults t;
    const char *unit; /* "step" or "iteration", for messages */
    int64_t step;
    float loss;       /* last loss read back */
    float first_loss; /* of step 1, when read */
    int reads;        /* losses read back */
} bench_run;

static inline void bench_run_free(bench_run *r)
{
    dgm_loader_free(r->loader);
    dgm_optim_free(r->optim);
    dgm_model_free(r->model);
    dgm_dataset_free(r->train);
    dgm_ctx_free(r->ctx);
    memset(r, 0, sizeof *r);
}

/* The setup of `dgm train MODEL --data DATA --device cpu --seed S` (cmd_train.c): context,
 * training data, the model with its default options, the training defaults of its
 * configuration, an optimizer unless the model owns its own, a loader of their batch (no
 * drop_last). `owns`: whether the program expects the model to own its optimizers (else
 * it prints `changed` and fails); `data_what`: the data's name in a failed check. */
static inline int bench_run_setup(bench_run *r, const char *model, const char *data,
                                  const char *data_what, uint64_t seed, bool owns,
                                  const char *changed)
{
    memset(r, 0, sizeof *r);
    r->unit = owns ? "iteration" : "step";
    dgm_ctx_config cfg = dgm_ctx_config_default();
    cfg.device = DGM_DEVICE_CPU;
    cfg.seed = seed;
    cfg.keep_denormals = bench_keep_denormals;
    if (dgm_ctx_create(&cfg, &r->ctx)) return bench_fail(r->ctx, "context");
    if (dgm_dataset_load(r->ctx, data, DGM_SPLIT_TRAIN, seed, &r->train))
        return bench_fail(r->ctx, data);
    int64_t shape[3];
    const int nd = dgm_dataset_sample_shape(r->train, shape);
    if (dgm_model_create(r->ctx, model, "{}", dgm_dataset_dim(r->train), nd, shape, &r->model))
        return bench_fail(r->ctx, "creating the model");
    if (dgm_model_train_defaults_for(model, dgm_model_config(r->model), &r->t))
        return bench_fail(r->ctx, "training defaults");
    if (dgm_model_check_data(r->model, r->train)) return bench_fail(r->ctx, data_what);
    if (dgm_model_prepare(r->model, r->train, true))
        return bench_fail(r->ctx, "preparing the model");
    if (dgm_model_owns_optimizers(r->model) != owns) {
        fprintf(stderr, BENCH_NAME ": %s\n", changed);
        return 1;
    }
    if (!owns && dgm_optim_create(dgm_model_params(r->model), &r->t.optim, &r->optim))
        return bench_fail(r->ctx, "optimizer");
    int64_t batch = r->t.batch;
    if (batch > dgm_dataset_count(r->train)) batch = dgm_dataset_count(r->train);
    if (dgm_loader_create(r->ctx, r->train, batch, seed, false, &r->loader))
        return bench_fail(r->ctx, "data loader");
    return 0;
}

/* `n` steps (iterations) of cmd_train's loop: the schedule's rate, then the model's own
 * iteration (dgm_model_train_iteration) or loader_next, zero_grad, train_step, optim_step;
 * the loss read every log_every steps, as dgm train does, and after the last of the n (a
 * 4-byte copy on the CPU); step_end. */
static inline int bench_run_steps(bench_run *r, int64_t n)
{
    dgm_ctx *ctx = r->ctx;
    dgm_params *params = dgm_model_params(r->model);
    for (int64_t i = 0; i < n; i++) {
        dgm_tensor *loss = NULL;
        if (!r->optim) {
            dgm_optim_config oc = r->t.optim;
            oc.lr = dgm_lr_at(&r->t.schedule, r->step);
            if (dgm_model_train_iteration(r->model, r->loader, &oc, r->step, &loss))
                return bench_fail(ctx, "training iteration");
        } else {
            dgm_tensor *batch = NULL;
            bool epoch_end = false;
            dgm_optim_set_lr(r->optim, dgm_lr_at(&r->t.schedule, r->step));
            if (dgm_loader_next(r->loader, &batch, &epoch_end) || dgm_params_zero_grad(params) ||
                dgm_model_train_step(r->model, batch, r->step, &loss))
                return bench_fail(ctx, "training step");
            if (dgm_optim_step(r->optim)) return bench_fail(ctx, "optimizer step");
        }
        r->step++;
        if (r->step % r->t.log_every == 0 || i == n - 1) {
            float lv = 0;
            if (dgm_tensor_to_host(ctx, loss, &lv)) return bench_fail(ctx, "reading the loss");
            if (!isfinite(lv)) {
                fprintf(stderr, BENCH_NAME ": the loss is not finite at %s %lld\n", r->unit,
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

/* ---- options and timed windows ----------------------------------------------------- */

#define BENCH_PER 1000.0 /* steps (iterations) the times are given for */

typedef struct bench_opts {
    int count, windows, warmup, quick, reps; /* count: steps (iterations) per window */
    const char *data; /* --data's default; NULL: no --data option */
    uint64_t seed;
} bench_opts;

/* --quick, `count_opt` N (per window; default 1000, quick_count with --quick), --windows W,
 * --reps R (default 7; 3 with --quick), --data SPEC (when o->data holds its default),
 * --seed S; warm-up 100 steps (20 with --quick). Returns 0, or 2 after printing `usage` or
 * what is out of range. */
static inline int bench_parse_opts(int argc, char **argv, const char *count_opt, int quick_count,
                                   const char *usage, bench_opts *o)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) o->quick = 1;
        else if (!strcmp(argv[i], count_opt) && i + 1 < argc) o->count = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--windows") && i + 1 < argc) o->windows = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) o->reps = atoi(argv[++i]);
        else if (o->data && !strcmp(argv[i], "--data") && i + 1 < argc) o->data = argv[++i];
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            o->seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--keep-denormals")) bench_keep_denormals = true;
        else {
            fprintf(stderr, "%s\n", usage);
            return 2;
        }
    }
    if (o->count == 0) o->count = o->quick ? quick_count : (int)BENCH_PER;
    if (o->count < 1 || o->count > 1000000 || o->windows < 1 || o->windows > 64) {
        fprintf(stderr, BENCH_NAME ": %s must be 1..1000000 and --windows 1..64\n", count_opt);
        return 2;
    }
    if (o->reps <= 0) o->reps = o->quick ? 3 : 7;
    o->warmup = o->quick ? 20 : 100;
    return 0;
}

typedef struct bench_windows {
    double all[64]; /* seconds per BENCH_PER steps, each window in order */
    int n;
    bench_spread spread; /* of all[0..n): the median is the headline number */
    float last_loss;
    int64_t steps;
} bench_windows;

/* After the windows: their spread into w->spread, printed as a line below them
 * (`unit_name`: "step" or "iteration"). */
static inline void bench_windows_done(bench_windows *w, const char *unit_name)
{
    char unit[48];
    snprintf(unit, sizeof unit, "s per 1k %ss", unit_name);
    w->spread = bench_spread_of(w->all, w->n);
    bench_print_spread(&w->spread, "window", unit);
}

/* On a fresh run r: o->warmup steps, then o->windows timed windows of o->count steps, each
 * reported as a line (the loss as `loss_label`), then their spread (bench_windows_done). */
static inline int bench_time_windows(bench_run *r, const bench_opts *o, const char *loss_label,
                                     bench_windows *w)
{
    memset(w, 0, sizeof *w);
    int rc = bench_run_steps(r, o->warmup);
    for (int t = 0; t < o->windows && !rc; t++) {
        const double start = bench_now();
        rc = bench_run_steps(r, o->count);
        const double sec = (bench_now() - start) * BENCH_PER / o->count;
        if (rc) break;
        w->all[w->n++] = sec;
        printf("  window %d: %.3f s per 1k %ss (%d %ss%s), %s %.4f at %s %lld\n", t + 1, sec,
               r->unit, o->count, r->unit, o->count != (int)BENCH_PER ? ", scaled" : "",
               loss_label, (double)r->loss, r->unit, (long long)r->step);
    }
    if (!rc) bench_windows_done(w, r->unit);
    w->last_loss = r->loss;
    w->steps = r->step;
    return rc;
}

/* The dgm result's label, "dgm train loop (median of N[, quick])", into buf. */
static inline void bench_dgm_label(char *buf, size_t len, int n, int quick)
{
    snprintf(buf, len, "dgm train loop (median of %d%s)", n, quick ? ", quick" : "");
}

/* A result line and its JSON line: seconds per 1,000 steps (`unit`: "steps" or "it"), the
 * GEMM rate, and the ratio to the floor (floor_sec > 0); JSON key "seconds_per_1k_<json_unit>". */
static inline void bench_report(const char *bench, const char *unit, const char *json_unit,
                                const char *key, const char *what, double sec, double floor_sec,
                                double flops, const char *extra_json)
{
    printf("%-40s %9.3f s/1k %s %8.1f GFLOP/s", what, sec, unit, flops * BENCH_PER / sec * 1e-9);
    if (floor_sec > 0) printf("   %.2fx the floor", sec / floor_sec);
    printf("\n");
    printf("json: {\"bench\":\"%s\",\"device\":\"cpu\",\"what\":\"%s\","
           "\"seconds_per_1k_%s\":%.6e,\"gemm_gflops\":%.3f,\"ratio_to_floor\":%.4f%s}\n",
           bench, key, json_unit, sec, flops * BENCH_PER / sec * 1e-9,
           floor_sec > 0 ? sec / floor_sec : 1.0, extra_json ? extra_json : "");
}

/* The floor's two result lines: the sum of the calls' best times, and the calls back to
 * back against it. */
static inline void bench_report_floor(const char *bench, const char *unit, const char *json_unit,
                                      double floor_k, double seq_k, double flops,
                                      const char *extra_json)
{
    bench_report(bench, unit, json_unit, "floor", "gemm floor (sum of best calls)", floor_k, 0,
                 flops, extra_json);
    bench_report(bench, unit, json_unit, "floor_sequence", "gemm calls back to back", seq_k,
                 floor_k, flops, extra_json);
}

/* The last line: dgm (the median window's seconds per 1k) against the floor, and what a
 * full default run of `length` steps would take. */
static inline void bench_verdict(const char *unit, double sec, double floor_k, int64_t length)
{
    printf("dgm / floor = %.2f; dgm spends %.0f%% of its %s outside the floor's GEMMs "
           "(a full default run, %lld %ss: about %.0f s)\n",
           sec / floor_k, 100.0 * (1.0 - floor_k / sec), unit, (long long)length, unit,
           sec * (double)length / BENCH_PER);
}

#endif
