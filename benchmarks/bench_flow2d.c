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
 *           copy on the CPU), step_end), seconds per 1,000 steps, the median of W windows
 *           of one training run after a warm-up (every window is printed, then their
 *           median, range and drift: the last window's time over the first's, flagged
 *           when more than 10% off);
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
 *   --windows W  timed windows, the median is reported (default 3)
 *   --quick      windows of 200 steps after 20 warm-up ones (else 100), extrapolated to
 *                1,000, and fewer floor reps: a smoke run of some 15 seconds
 *   --reps R     trials per sgemm shape of the floor (default 7; 3 with --quick)
 *   --data SPEC  training data, as dgm train --data (default gauss8)
 *   --seed S     the run's seed, as dgm train --seed (default 0)
 */
#define BENCH_NAME "bench_flow2d"
#include "bench_train.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "dgm/dgm.h"

#define MAX_COUPLINGS 64
#define MAX_LAYERS 10
#define MAX_CALLS (MAX_COUPLINGS * MAX_LAYERS * 3)
#define LOG_2PI 1.8378770664093454836

/* ---- the GEMM floor ---------------------------------------------------------------- */

/* One row-major sgemm (bench_gemm: C[m,n] = op(A)·op(B) + beta·C, as dgm's CPU backend
 * calls it) and where it stands. */
typedef struct gemm_call {
    int coupling, layer; /* coupling index, Linear layer index within its MLP, from 0 */
    const char *what;    /* fwd, dX, dW */
    bench_gemm g;
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
            c[n++] = (gemm_call){k, i, "fwd", {0, 1, b, f->w[k][i + 1], f->w[k][i], 0.0f}};
    for (int k = f->couplings - 1; k >= 0; k--) /* backward */
        for (int i = f->layers[k] - 1; i >= 0; i--) {
            /* dX[B,in] = dZ[B,out]·W[out,in]: a fresh gradient (beta 0), but the MLP's
             * input, the conditioning columns, whose gradient the coupling's pass-through
             * (its concat) wrote first: beta 1. */
            if (i > 0 || k > 0 || f->input_grad)
                c[n++] = (gemm_call){k, i, "dX", {0, 0, b, f->w[k][i], f->w[k][i + 1],
                                                  i == 0 ? 1.0f : 0.0f}};
            /* dW[out,in] += dZ^T·X: parameters accumulate, beta 1 */
            c[n++] = (gemm_call){k, i, "dW", {1, 0, f->w[k][i + 1], f->w[k][i], b, 1.0f}};
        }
    return n;
}

typedef struct floor_result {
    double sum, sequence, flops; /* per step */
    double fwd, dx, dw;          /* parts of sum */
    double bytes;                /* operands of all calls: A, B and C */
    int calls, shapes;
} floor_result;

typedef struct shape_table {
    const gemm_call *calls;
    int n;
} shape_table;

/* A row of the table: the shape of call i, its calls and their layers. */
static void shape_row(void *arg, int i, double t)
{
    const shape_table *st = arg;
    const gemm_call *calls = st->calls, *c = &calls[i];
    int count = 0, lmask = 0;
    for (int j = i; j < st->n; j++)
        if (bench_gemm_same(&calls[j].g, &c->g)) count++, lmask |= 1 << calls[j].layer;
    char layers[64] = "";
    size_t used = 0;
    for (int l = 0; l < MAX_LAYERS && used < sizeof layers - 8; l++)
        if (lmask & (1 << l))
            used += (size_t)snprintf(layers + used, sizeof layers - used, "%snet.%d",
                                     used ? " " : "", 2 * l);
    bench_shape_row(c->what, &c->g, count, t, layers);
}

/* Times every distinct call shape of a step at batch b alone (best of `reps` trials of at
 * least min_s seconds), sums the calls of one step and times them back to back; prints
 * the table when `table`. */
static int floor_cpu(const flow_nets *f, int b, int reps, double min_s, int table,
                     floor_result *r)
{
    static gemm_call calls[MAX_CALLS];
    static bench_gemm_buf bufs[MAX_CALLS + 1];
    static double t[MAX_CALLS];
    const int n = step_calls(f, b, calls);
    memset(bufs, 0, sizeof bufs);
    memset(r, 0, sizeof *r);
    for (int i = 0; i < n; i++) bufs[i].g = &calls[i].g;
    const int rc = bench_gemm_alloc(bufs, n, 10, 2000);
    if (rc) fprintf(stderr, "bench_flow2d: out of memory\n");
    r->calls = n;
    if (!rc) {
        if (table) bench_shape_header("layers");
        shape_table st = {calls, n};
        r->shapes = bench_gemm_time_shapes(bufs, n, reps, min_s, t, table ? shape_row : NULL, &st);
        for (int i = 0; i < n; i++) {
            const bench_gemm *g = &calls[i].g;
            r->flops += bench_gemm_flops(g);
            r->bytes += 4.0 * ((double)g->m * g->k + (double)g->k * g->n + (double)g->m * g->n);
            r->sum += t[i];
            if (!strcmp(calls[i].what, "fwd")) r->fwd += t[i];
            else if (!strcmp(calls[i].what, "dX")) r->dx += t[i];
            else r->dw += t[i];
        }
        r->sequence = bench_time(bench_gemm_cpu_sequence, bufs, 2, min_s, reps);
    }
    bench_gemm_free(bufs, n);
    return rc;
}

/* ---- dgm's training loop ----------------------------------------------------------- */

/* The setup of `dgm train realnvp --data D --device cpu --seed S` (bench_run_setup): one
 * Adam for all the parameters. */
static int run_setup(const char *data, uint64_t seed, bench_run *r)
{
    return bench_run_setup(r, "realnvp", data, "--data", seed, false,
                           "realnvp now trains with its own optimizers");
}

typedef struct validation {
    double nll, base_nll; /* fresh model's NLL on the training data, and the base's */
    float first_loss;
} validation;

/* A fresh model is the identity: its NLL on the training data is the base density's. */
static int validate(const bench_opts *o, validation *v)
{
    bench_run r;
    int rc = run_setup(o->data, o->seed, &r);
    char out[256];
    if (!rc && dgm_model_evaluate(r.model, r.train, "nll", out, sizeof out))
        rc = bench_fail(r.ctx, "evaluating nll");
    if (!rc && bench_json_number(out, "nll", &v->nll)) {
        fprintf(stderr, "bench_flow2d: no nll in %s\n", out);
        rc = 1;
    }
    if (!rc) {
        const float *x = dgm_dataset_data(r.train);
        const int64_t n = dgm_dataset_count(r.train), d = dgm_dataset_dim(r.train);
        double s = 0.0;
        for (int64_t i = 0; i < n * d; i++) s += 0.5 * (double)x[i] * (double)x[i];
        v->base_nll = s / (double)n + 0.5 * (double)d * LOG_2PI;
        rc = bench_run_steps(&r, 1);
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
    bench_run_free(&r);
    return rc;
}

/* ---- the model's shapes ------------------------------------------------------------ */

static int model_nets(const bench_opts *o, flow_nets *f)
{
    bench_run r;
    memset(f, 0, sizeof *f);
    int rc = run_setup(o->data, 0, &r);
    if (rc) return rc;
    dgm_params *p = dgm_model_params(r.model);
    for (int k = 0; k < MAX_COUPLINGS && !rc; k++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "flow.%d.net.", k);
        int64_t off = 0, cnt = 0;
        if (dgm_params_prefix_range(p, prefix, &off, &cnt) != DGM_STATUS_OK || cnt == 0) break;
        if (bench_linear_widths(p, prefix, MAX_LAYERS, f->w[k], &f->layers[k])) rc = 1;
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
    bench_run_free(&r);
    return rc;
}

int main(int argc, char **argv)
{
    dgm_exec_with_thread_policy(argv); /* as the dgm command runs */
    bench_opts o = {0, 3, 0, 0, 0, "gauss8", 0};
    const int arg_rc = bench_parse_opts(argc, argv, "--steps", 200,
                                        "usage: bench_flow2d [--steps N] [--windows W] [--quick] "
                                        "[--reps R] [--data SPEC] [--seed S]",
                                        &o);
    if (arg_rc) return arg_rc;

    flow_nets f;
    if (model_nets(&o, &f)) return 1;
    dgm_train_defaults td;
    if (dgm_model_train_defaults_for("realnvp", "{}", &td)) {
        fprintf(stderr, "bench_flow2d: no training defaults for realnvp\n");
        return 1;
    }
    char ws[64] = "";
    bench_widths_str(f.w[0], f.layers[0], ws, sizeof ws);
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
    bench_print_blas();

    validation v;
    if (validate(&o, &v)) return 1;

    /* dgm first, then the floor, then dgm's number is set against it. */
    printf("cpu: dgm's training loop, %d windows of %d steps after %d warm-up ones\n",
           o.windows, o.count, o.warmup);
    bench_windows w;
    bench_run r;
    int rc = run_setup(o.data, o.seed, &r);
    if (!rc) rc = bench_time_windows(&r, &o, "loss", &w);
    bench_run_free(&r);
    if (rc) return 1;
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

    const double floor_k = avg_sum * BENCH_PER, seq_k = avg_seq * BENCH_PER;
    printf("\n%-40s %18s %16s\n", "what", "time", "GEMM rate");
    char extra[1024];
    snprintf(extra, sizeof extra, ",\"flops_per_step\":%.0f,\"calls\":%d,\"full_batch_s\":%.6e",
             avg_flops, fl.calls, fl.sum * BENCH_PER);
    bench_report_floor("flow2d", "steps", "steps", floor_k, seq_k, avg_flops, extra);
    char what[64];
    bench_dgm_label(what, sizeof what, w.n, o.quick);
    int k = snprintf(extra, sizeof extra,
                     ",\"data\":\"%s\",\"windows\":%d,\"steps_per_window\":%d,\"warmup\":%d,"
                     "\"quick\":%s,\"steps_total\":%lld,\"last_loss\":%.4f,"
                     "\"validate_nll\":%.5f,\"validate_base_nll\":%.5f,\"seconds_each\":[",
                     o.data, w.n, o.count, o.warmup, o.quick ? "true" : "false",
                     (long long)w.steps, (double)w.last_loss, v.nll, v.base_nll);
    k = bench_json_list_end(extra, sizeof extra, k, w.all, w.n);
    bench_json_spread(extra, sizeof extra, k, &w.spread);
    bench_report("flow2d", "steps", "steps", "dgm", what, w.spread.median, floor_k, avg_flops,
                 extra);
    bench_verdict("step", w.spread.median, floor_k, td.length);
    return 0;
}
