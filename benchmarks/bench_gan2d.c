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
 *           iterations, the median of W windows of one training run after a warm-up
 *           (every window is printed, then their median, range and drift: the last
 *           window's time over the first's, flagged when more than 10% off);
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
 *   --windows W  timed windows, the median is reported (default 3)
 *   --quick      windows of 100 iterations after 20 warm-up ones (else 100), extrapolated
 *                to 1,000, and fewer floor reps: a smoke run of a few seconds
 *   --reps R     trials per sgemm shape of the floor (default 7; 3 with --quick)
 *   --seed S     the run's seed, as dgm train --seed (default 0)
 */
#define BENCH_NAME "bench_gan2d"
#include "bench_train.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "dgm/dgm.h"

#define DATA "grid25"
#define MAX_LAYERS 12
#define MAX_CALLS 160
#define LN2 0.69314718055994531

/* ---- the GEMM floor ---------------------------------------------------------------- */

/* One row-major sgemm (bench_gemm: C[m,n] = op(A)·op(B) + beta·C, as dgm's CPU backend
 * calls it) and where it stands. */
typedef struct gemm_call {
    char step, net; /* 'D' or 'G': the step it belongs to, the network it runs through */
    int layer;      /* Linear layer index within its network, from 0 */
    const char *what;        /* fwd, dX, dW */
    bench_gemm g;
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
        c[n++] = (gemm_call){step, net, i, "fwd", {0, 1, b, w[i + 1], w[i], 0.0f}, 0};
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
            c[n++] = (gemm_call){step, net, i, "dX", {0, 0, b, w[i], w[i + 1], 0.0f}, 0};
        c[n++] = (gemm_call){step, net, i, "dW", {1, 0, w[i + 1], w[i], b, 1.0f}, dw_unused};
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

typedef struct floor_result {
    double sum, sequence, flops;   /* per iteration */
    double d_step, g_step, unused; /* parts of sum */
    double unused_flops;
    int calls, unused_calls, shapes;
} floor_result;

typedef struct shape_table {
    const gemm_call *calls;
    int n;
} shape_table;

/* A row of the table: the shape of call i, its calls and where they stand. */
static void shape_row(void *arg, int i, double t)
{
    const shape_table *st = arg;
    const gemm_call *calls = st->calls, *c = &calls[i];
    int count = 0;
    char where[160] = "";
    size_t used = 0;
    for (int j = i; j < st->n; j++) {
        if (!bench_gemm_same(&calls[j].g, &c->g)) continue;
        count++;
        if (used < sizeof where - 40)
            used += (size_t)snprintf(where + used, sizeof where - used, "%s%c%c%d%s",
                                     used ? " " : "", calls[j].step == 'D' ? 'd' : 'g',
                                     calls[j].net, calls[j].layer, calls[j].unused ? "*" : "");
    }
    bench_shape_row(c->what, &c->g, count, t, where);
}

/* Times every distinct call shape alone (best of `reps` trials of at least min_s seconds),
 * sums the calls of one iteration and times them back to back; prints the table. */
static int floor_cpu(const nets *nt, int reps, double min_s, floor_result *r)
{
    gemm_call calls[MAX_CALLS];
    bench_gemm_buf bufs[MAX_CALLS + 1];
    double t[MAX_CALLS];
    const int n = iteration_calls(nt, calls);
    memset(bufs, 0, sizeof bufs);
    memset(r, 0, sizeof *r);
    for (int i = 0; i < n; i++) bufs[i].g = &calls[i].g;
    const int rc = bench_gemm_alloc(bufs, n, 10, 200);
    if (rc) fprintf(stderr, "bench_gan2d: out of memory\n");
    r->calls = n;
    if (!rc) {
        bench_shape_header("where");
        shape_table st = {calls, n};
        r->shapes = bench_gemm_time_shapes(bufs, n, reps, min_s, t, shape_row, &st);
        for (int i = 0; i < n; i++) {
            const gemm_call *c = &calls[i];
            r->flops += bench_gemm_flops(&c->g);
            r->sum += t[i];
            if (c->step == 'D') r->d_step += t[i];
            else r->g_step += t[i];
            if (c->unused) {
                r->unused += t[i];
                r->unused_flops += bench_gemm_flops(&c->g);
                r->unused_calls++;
            }
        }
        printf("  where: the step (d: D's, g: G's), the network and its Linear layer from 0; "
               "*: D's weight gradients in G's step, unused\n");
        r->sequence = bench_time(bench_gemm_cpu_sequence, bufs, 2, min_s, reps);
    }
    bench_gemm_free(bufs, n);
    return rc;
}

/* ---- dgm's training loop ----------------------------------------------------------- */

/* The setup of `dgm train gan --data grid25 --device cpu --seed S` (bench_run_setup): the
 * gan steps its own optimizers. */
static int run_setup(uint64_t seed, bench_run *r)
{
    return bench_run_setup(r, "gan", DATA, "--data " DATA, seed, true,
                           "the gan no longer trains with its own optimizers");
}

typedef struct validation {
    double d_loss;
    float g_loss;
} validation;

/* A fresh model: D's loss on the test split near 2 ln 2, its first iteration's generator
 * loss finite and near ln 2. */
static int validate(uint64_t seed, validation *v)
{
    bench_run r;
    int rc = run_setup(seed, &r);
    dgm_dataset *test = NULL;
    char out[256];
    if (!rc && dgm_dataset_load(r.ctx, DATA, DGM_SPLIT_TEST, seed, &test))
        rc = bench_fail(r.ctx, DATA " (test split)");
    if (!rc && dgm_model_evaluate(r.model, test, "d_loss", out, sizeof out))
        rc = bench_fail(r.ctx, "evaluating d_loss");
    if (!rc && bench_json_number(out, "d_loss", &v->d_loss)) {
        fprintf(stderr, "bench_gan2d: no d_loss in %s\n", out);
        rc = 1;
    }
    if (!rc) rc = bench_run_steps(&r, 1);
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
    bench_run_free(&r);
    return rc;
}

/* ---- the model's shapes ------------------------------------------------------------ */

static int model_nets(nets *nt)
{
    bench_run r;
    memset(nt, 0, sizeof *nt);
    int rc = run_setup(0, &r);
    if (rc) return rc;
    dgm_params *p = dgm_model_params(r.model);
    int64_t off = 0;
    if (bench_linear_widths(p, "generator.net.", MAX_LAYERS, nt->gw, &nt->g_layers) ||
        bench_linear_widths(p, "discriminator.net.", MAX_LAYERS, nt->dw, &nt->d_layers) ||
        dgm_params_prefix_range(p, "generator.", &off, &nt->g_params) ||
        dgm_params_prefix_range(p, "discriminator.", &off, &nt->d_params) ||
        nt->gw[nt->g_layers] != nt->dw[0] || nt->dw[nt->d_layers] != 1) {
        fprintf(stderr, "bench_gan2d: unexpected GAN layout (a generator.net.* and a "
                        "discriminator.net.* MLP, one sample per D input)\n");
        rc = 1;
    }
    nt->params = dgm_params_numel(p);
    nt->batch = (int)r.t.batch;
    bench_run_free(&r);
    return rc;
}

int main(int argc, char **argv)
{
    dgm_exec_with_thread_policy(argv); /* as the dgm command runs */
    bench_opts o = {0, 3, 0, 0, 0, NULL, 0};
    const int arg_rc = bench_parse_opts(argc, argv, "--iters", 100,
                                        "usage: bench_gan2d [--iters N] [--windows W] [--quick] "
                                        "[--reps R] [--seed S]",
                                        &o);
    if (arg_rc) return arg_rc;

    nets nt;
    if (model_nets(&nt)) return 1;
    dgm_train_defaults td;
    if (dgm_model_train_defaults_for("gan", "{}", &td)) {
        fprintf(stderr, "bench_gan2d: no training defaults for gan\n");
        return 1;
    }
    char gws[128], dws[128];
    bench_widths_str(nt.gw, nt.g_layers, gws, sizeof gws);
    bench_widths_str(nt.dw, nt.d_layers, dws, sizeof dws);
    printf("dgm %s bench_gan2d: GAN on %s, G %s (batch norm, ReLU), D %s (LeakyReLU 0.2), "
           "%lld + %lld parameters; Adam %g betas (%g, %g), batch %d, loss read every %lld "
           "iterations\n",
           dgm_version(), DATA, gws, dws, (long long)nt.g_params, (long long)nt.d_params,
           (double)td.optim.lr, (double)td.optim.beta1, (double)td.optim.beta2, nt.batch,
           (long long)td.log_every);
    bench_print_blas();

    validation v;
    if (validate(o.seed, &v)) return 1;

    /* dgm first, then the floor, then dgm's number is set against it. */
    printf("cpu: dgm's training loop, %d windows of %d iterations after %d warm-up ones\n",
           o.windows, o.count, o.warmup);
    bench_windows w;
    bench_run r;
    int rc = run_setup(o.seed, &r);
    if (!rc) rc = bench_time_windows(&r, &o, "G loss", &w);
    bench_run_free(&r);
    if (rc) return 1;

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

    const double floor_k = fl.sum * BENCH_PER, seq_k = fl.sequence * BENCH_PER;
    printf("\n%-40s %16s %16s\n", "what", "time", "GEMM rate");
    char extra[1024];
    snprintf(extra, sizeof extra, ",\"flops_per_iter\":%.0f,\"calls\":%d", fl.flops, fl.calls);
    bench_report_floor("gan2d", "it", "iters", floor_k, seq_k, fl.flops, extra);
    char what[64];
    bench_dgm_label(what, sizeof what, w.n, o.quick);
    int k = snprintf(extra, sizeof extra,
                     ",\"windows\":%d,\"iters_per_window\":%d,\"warmup\":%d,\"quick\":%s,"
                     "\"iters_total\":%lld,\"last_g_loss\":%.4f,\"validate_d_loss\":%.4f,"
                     "\"validate_g_loss\":%.4f,\"seconds_each\":[",
                     w.n, o.count, o.warmup, o.quick ? "true" : "false", (long long)w.steps,
                     (double)w.last_loss, v.d_loss, (double)v.g_loss);
    k = bench_json_list_end(extra, sizeof extra, k, w.all, w.n);
    bench_json_spread(extra, sizeof extra, k, &w.spread);
    bench_report("gan2d", "it", "iters", "dgm", what, w.spread.median, floor_k, fl.flops, extra);
    bench_verdict("iteration", w.spread.median, floor_k, td.length);
    return 0;
}
