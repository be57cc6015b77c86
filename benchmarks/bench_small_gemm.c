/* bench_small_gemm: dgm's own loops for products with a side of at most 4
 * (host/cpu/cpu_small_gemm.c) against OpenBLAS at every such shape the 2-D families' default
 * training steps issue (the floor tables of bench_flow2d, bench_diffusion2d, bench_gan2d),
 * and a few larger ones where OpenBLAS keeps the product.
 *
 * Each product is timed alone, best of several trials, both ways on the same operands:
 * OpenBLAS as the benchmarks' GEMM floors time it (bench_sgemm: for beta 0, C zeroed and
 * the product accumulated) and what dgm does: dgm_cpu_small_gemm, or OpenBLAS where it
 * declines (with OpenBLAS's AVX-512 kernels it keeps only k <= 4). Per model, the calls of one step add
 * up to what dgm's loops save against the floor's OpenBLAS time. The largest difference of the two results, relative to the
 * products' scale, is printed beside (the loops add in another order).
 *
 * Usage: bench_small_gemm [--quick]
 * Results also go to stdout as JSON lines (prefix "json: ").
 */
#include "bench_common.h"

#include <math.h>
#include <string.h>

#include "cpu/cpu_internal.h"

typedef struct shape {
    const char *model, *op;
    int ta, tb, m, n, k;
    float beta;
    int calls; /* per training step (iteration for the GAN) of the model's default */
} shape;

/* forward x·W^T is NT (beta 0 in the floors: dgm accumulates onto the bias), dX = dZ·W is
 * NN, dW = dZ^T·X is TN (beta 1: into the gradient); the calls per step are those of the
 * floor tables of bench_flow2d (RealNVP, gauss8), bench_diffusion2d (moons) and bench_gan2d
 * (grid25), "sample" a batch of 20,000 rows through flow matching's first and last layer. */
static const shape SHAPES[] = {
    {"realnvp", "fwd", 0, 1, 512, 64, 1, 0, 8},  {"realnvp", "fwd", 0, 1, 512, 2, 64, 0, 8},
    {"realnvp", "dX", 0, 0, 512, 64, 2, 0, 8},   {"realnvp", "dW", 1, 0, 2, 64, 512, 1, 8},
    {"realnvp", "dX", 0, 0, 512, 1, 64, 1, 7},   {"realnvp", "dW", 1, 0, 64, 1, 512, 1, 8},
    {"fm", "fwd", 0, 1, 256, 64, 3, 0, 1},       {"fm", "fwd", 0, 1, 256, 2, 64, 0, 1},
    {"fm", "dX", 0, 0, 256, 64, 2, 0, 1},        {"fm", "dW", 1, 0, 2, 64, 256, 1, 1},
    {"fm", "dW", 1, 0, 64, 3, 256, 1, 1},        {"ddpm", "emb", 0, 0, 256, 64, 1, 0, 1},
    {"ddpm", "fwd", 0, 1, 256, 2, 128, 0, 1},    {"ddpm", "dX", 0, 0, 256, 128, 2, 0, 1},
    {"ddpm", "dW", 1, 0, 2, 128, 256, 1, 1},     {"gan", "fwd", 0, 1, 100, 400, 2, 0, 2},
    {"gan", "fwd", 0, 1, 100, 2, 400, 0, 2},     {"gan", "fwd", 0, 1, 200, 200, 2, 0, 1},
    {"gan", "fwd", 0, 1, 200, 1, 200, 0, 1},     {"gan", "dX", 0, 0, 200, 200, 1, 0, 1},
    {"gan", "dW", 1, 0, 1, 200, 200, 1, 1},      {"gan", "dW", 1, 0, 200, 2, 200, 1, 1},
    {"gan", "fwd", 0, 1, 100, 200, 2, 0, 1},     {"gan", "fwd", 0, 1, 100, 1, 200, 0, 1},
    {"gan", "dX", 0, 0, 100, 200, 1, 0, 1},      {"gan", "dW", 1, 0, 1, 200, 100, 1, 1},
    {"gan", "dX", 0, 0, 100, 2, 200, 0, 1},      {"gan", "dW", 1, 0, 200, 2, 100, 1, 1},
    {"gan", "dX", 0, 0, 100, 400, 2, 0, 1},      {"gan", "dW", 1, 0, 2, 400, 100, 1, 1},
    {"gan", "dW", 1, 0, 400, 2, 100, 1, 1},      {"sample", "fwd", 0, 1, 20000, 64, 3, 0, 1},
    {"sample", "fwd", 0, 1, 20000, 2, 64, 0, 1},
};

typedef struct call {
    const shape *s;
    const float *a, *b;
    float *c;
    int dgm;
    int deferred; /* dgm left it to OpenBLAS (cpu_small_gemm.c: with its AVX-512 kernels) */
} call;

/* OpenBLAS, or what dgm does: its loops, or OpenBLAS where dgm_cpu_small_gemm declines. */
static int run_call(void *p)
{
    call *u = p;
    const shape *s = u->s;
    if (!u->dgm || !dgm_cpu_small_gemm(s->ta, s->tb, s->m, s->n, s->k, 1.0f, u->a,
                                       bench_lda(s->ta, s->m, s->k), u->b,
                                       bench_ldb(s->tb, s->k, s->n), s->beta, u->c, s->n)) {
        u->deferred = u->dgm;
        bench_sgemm(s->ta, s->tb, s->m, s->n, s->k, s->beta, u->a, u->b, u->c);
    }
    return 0;
}

int main(int argc, char **argv)
{
    dgm_exec_with_thread_policy(argv);
    int quick = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else {
            fprintf(stderr, "usage: bench_small_gemm [--quick]\n");
            return 2;
        }
    }
    const double min_s = quick ? 0.01 : 0.05;
    const int trials = quick ? 3 : 7;
    printf("bench_small_gemm: products with a side <= %d, OpenBLAS as the floors time it "
           "(bench_sgemm) against dgm_cpu_small_gemm, best of %d trials each\n",
           DGM_CPU_SMALL_DIM, trials);
    printf("  model    op  trans     m     n     k beta calls  OpenBLAS us    dgm us   speedup   max rel diff\n");
    const char *models[] = {"realnvp", "fm", "ddpm", "gan", "sample"};
    double model_blas[5] = {0}, model_dgm[5] = {0};
    for (size_t i = 0; i < sizeof SHAPES / sizeof SHAPES[0]; i++) {
        const shape *s = &SHAPES[i];
        const size_t na = (size_t)s->m * s->k, nb = (size_t)s->k * s->n, nc = (size_t)s->m * s->n;
        float *a = bench_random(na, 1u + (unsigned)i), *b = bench_random(nb, 7u + (unsigned)i);
        float *c0 = calloc(nc, sizeof *c0), *c1 = calloc(nc, sizeof *c1);
        if (!a || !b || !c0 || !c1) {
            fprintf(stderr, "bench_small_gemm: out of memory\n");
            return 1;
        }
        call blas = {s, a, b, c0, 0, 0}, own = {s, a, b, c1, 1, 0};
        const double tb = bench_time(run_call, &blas, 3, min_s, trials);
        const double td = bench_time(run_call, &own, 3, min_s, trials);
        if (tb < 0 || td < 0) {
            fprintf(stderr, "bench_small_gemm: %s %s %dx%dx%d: dgm_cpu_small_gemm declined it\n",
                    s->model, s->op, s->m, s->n, s->k);
            return 1;
        }
        /* one more call each on zeroed C (beta 1 accumulated over the timing) to compare */
        memset(c0, 0, nc * sizeof *c0);
        memset(c1, 0, nc * sizeof *c1);
        run_call(&blas);
        run_call(&own);
        double scale = 0.0, diff = 0.0;
        for (size_t j = 0; j < nc; j++) {
            scale = fmax(scale, fabs((double)c0[j]));
            diff = fmax(diff, fabs((double)c0[j] - (double)c1[j]));
        }
        const double rel = scale > 0 ? diff / scale : diff;
        for (int mi = 0; mi < 5; mi++)
            if (!strcmp(models[mi], s->model)) {
                model_blas[mi] += s->calls * tb;
                model_dgm[mi] += s->calls * td;
            }
        printf("  %-7s %-4s %c%c   %6d %5d %5d %4.0f %5d   %10.2f %9.2f   %6.2fx   %.1e%s\n",
               s->model, s->op, s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', s->m, s->n, s->k,
               (double)s->beta, s->calls, tb * 1e6, td * 1e6, tb / td, rel,
               own.deferred ? "   (dgm leaves it to OpenBLAS)" : "");
        printf("json: {\"bench\":\"small_gemm\",\"model\":\"%s\",\"op\":\"%s\",\"ta\":%d,\"tb\":%d,"
               "\"m\":%d,\"n\":%d,\"k\":%d,\"openblas_s\":%.6e,\"dgm_s\":%.6e,\"max_rel_diff\":%.3e,"
               "\"dgm_defers\":%s}\n",
               s->model, s->op, s->ta, s->tb, s->m, s->n, s->k, tb, td, rel,
               own.deferred ? "true" : "false");
        free(a);
        free(b);
        free(c0);
        free(c1);
    }
    printf("per step, the small products of each model's default (times the calls):\n");
    for (int mi = 0; mi < 5; mi++) {
        printf("  %-7s OpenBLAS %8.1f us, dgm %8.1f us: %.1f us less a step\n", models[mi],
               model_blas[mi] * 1e6, model_dgm[mi] * 1e6, (model_blas[mi] - model_dgm[mi]) * 1e6);
        printf("json: {\"bench\":\"small_gemm_step\",\"model\":\"%s\",\"openblas_s\":%.6e,"
               "\"dgm_s\":%.6e}\n",
               models[mi], model_blas[mi], model_dgm[mi]);
    }
    return 0;
}
