/* census_subnormals: where subnormal floats arise in a training run, and what they cost.
 *
 * Trains MODEL on DATA as `dgm train MODEL --data DATA --device cpu` does (bench_train.h)
 * and every WINDOW steps prints the milliseconds a step took over the window and how many
 * values of the parameters, their gradients and each optimizer state buffer (Adam's
 * exp_avg and exp_avg_sq) are subnormal (nonzero, below FLT_MIN in magnitude) or exactly
 * zero. Subnormal operands and results cost Intel cores a microcode assist each; a step
 * time that climbs while a count climbs says which buffer to look at.
 *
 * Usage: census_subnormals [--model vae] [--data fashion-mnist] [--steps 2000]
 *                          [--window 100] [--keep-denormals]
 *   --keep-denormals  dgm_ctx_config.keep_denormals: compute in the caller's mode, IEEE
 *                     subnormals included (the default flushes them to zero)
 */
#define BENCH_NAME "census_subnormals"
#include "bench_train.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

typedef struct census {
    int64_t subnormal, zero, n;
} census;

static census count(const float *x, int64_t n)
{
    census c = {0, 0, n};
    for (int64_t i = 0; i < n; i++) {
        const float a = x[i] < 0 ? -x[i] : x[i];
        if (a == 0.0f) c.zero++;
        else if (a < FLT_MIN) c.subnormal++;
    }
    return c;
}

static void print_census(const char *name, census c)
{
    printf("  %-12s %9lld subnormal (%5.2f%%) %9lld zero of %lld\n", name, (long long)c.subnormal,
           100.0 * (double)c.subnormal / (double)c.n, (long long)c.zero, (long long)c.n);
}

int main(int argc, char **argv)
{
    const char *model = "vae", *data = "fashion-mnist";
    int64_t steps = 2000, window = 100;
    int flush = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--data") && i + 1 < argc) data = argv[++i];
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--window") && i + 1 < argc) window = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--keep-denormals")) flush = 0;
        else {
            fprintf(stderr, "usage: census_subnormals [--model M] [--data D] [--steps N] [--window W] [--keep-denormals]\n");
            return 2;
        }
    }
    if (steps < 1 || window < 1) return 2;
    bench_keep_denormals = !flush;
    bench_run r;
    if (bench_run_setup(&r, model, data, data, 0, false, "a model that owns its optimizers: the census covers the others")) return 1;
    dgm_params *p = dgm_model_params(r.model);
    printf("census_subnormals: %s on %s, subnormals %s, %lld parameters\n", model, data,
           flush ? "flushed to zero (the default)" : "kept (--keep-denormals)", (long long)dgm_params_numel(p));
    for (int64_t done = 0; done < steps;) {
        const double t0 = bench_now();
        if (bench_run_steps(&r, window)) return 1;
        done += window;
        printf("step %lld: %.3f ms a step, loss %.4f\n", (long long)done,
               (bench_now() - t0) * 1e3 / (double)window, (double)r.loss);
        print_census("params", count(dgm_params_values(p), dgm_params_numel(p)));
        print_census("grads", count(dgm_params_grads(p), dgm_params_numel(p)));
        for (int i = 0; r.optim && i < dgm_optim_state_count(r.optim); i++)
            print_census(dgm_optim_state_name(r.optim, i),
                         count(dgm_optim_state_data(r.optim, i), dgm_optim_numel(r.optim)));
        fflush(stdout);
    }
    bench_run_free(&r);
    return 0;
}
