/* Timing helpers shared by the benchmark programs. */
#ifndef DGM_BENCH_COMMON_H
#define DGM_BENCH_COMMON_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */
#endif

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Runs fn(arg) `warmup` times, then in batches until min_seconds have passed, `trials`
 * times; returns the best (lowest) seconds per call over the trials. fn returns nonzero on
 * failure, which aborts the measurement with a negative result. */
typedef int (*bench_fn)(void *arg);

static inline double bench_time(bench_fn fn, void *arg, int warmup, double min_seconds, int trials)
{
    for (int i = 0; i < warmup; i++)
        if (fn(arg)) return -1.0;
    double best = 1e30;
    for (int t = 0; t < trials; t++) {
        long iters = 0;
        double start = bench_now(), elapsed = 0.0;
        do {
            if (fn(arg)) return -1.0;
            iters++;
            elapsed = bench_now() - start;
        } while (elapsed < min_seconds);
        double per = elapsed / (double)iters;
        if (per < best) best = per;
    }
    return best;
}

static inline float *bench_random(size_t n, unsigned seed)
{
    float *v = malloc(n * sizeof *v);
    if (!v) return NULL;
    srand(seed);
    for (size_t i = 0; i < n; i++) v[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    return v;
}

/* Leading dimensions of dgm's row-major products C[m,n] = op(A)·op(B) + beta·C: A is [m,k]
 * (transposed: [k,m]) and B [k,n] (transposed: [n,k]). */
static inline int bench_lda(int ta, int m, int k) { return ta ? m : k; }
static inline int bench_ldb(int tb, int k, int n) { return tb ? k : n; }

/* One such product with raw OpenBLAS, as dgm's CPU backend issues it. */
static inline void bench_sgemm(int ta, int tb, int m, int n, int k, float beta, const float *a,
                               const float *b, float *c)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
                k, 1.0f, a, bench_lda(ta, m, k), b, bench_ldb(tb, k, n), beta, c, n);
}

#endif
