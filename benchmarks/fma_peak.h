/* The CPU's arithmetic ceiling, measured: the FMA peak in GFLOP/s on one thread and on all.
 *
 * Twelve independent chains of 8-wide fused multiply-adds kept in registers (an FMA's
 * latency is 4–5 cycles and a core issues two a cycle, so ten chains or more keep both
 * pipes busy), nothing read from memory: no program does more float work per second on
 * these cores. A GEMM's GFLOP/s over this number is how near the matrix products come to
 * the hardware. x86-64 with AVX2 + FMA only (asked of the CPU at run time); elsewhere 0.
 */
#ifndef DGM_BENCH_FMA_PEAK_H
#define DGM_BENCH_FMA_PEAK_H

#include <omp.h>

#include "bench_common.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define FMA_CHAINS 12

/* flops of one call: iters · chains · 8 lanes · 2 */
__attribute__((target("avx2,fma"))) static float fma_chains(long iters)
{
    __m256 acc[FMA_CHAINS];
    for (int c = 0; c < FMA_CHAINS; c++) acc[c] = _mm256_set1_ps(1.0f + 0.01f * (float)c);
    const __m256 mul = _mm256_set1_ps(0.999999f), add = _mm256_set1_ps(1e-7f);
    for (long i = 0; i < iters; i++)
        for (int c = 0; c < FMA_CHAINS; c++) acc[c] = _mm256_fmadd_ps(acc[c], mul, add);
    __m256 s = acc[0];
    for (int c = 1; c < FMA_CHAINS; c++) s = _mm256_add_ps(s, acc[c]);
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0] + out[7]; /* used, so the chains are not optimized away */
}

/* Best GFLOP/s of `trials` runs of ~0.2 s on `threads` threads (each runs its own chains). */
static inline double bench_fma_peak_gflops(int threads, int trials)
{
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 0.0;
    const long iters = 20L * 1000 * 1000;
    double best = 0.0;
    volatile float sink = 0.0f;
    for (int t = 0; t < trials; t++) {
        const double start = bench_now();
#pragma omp parallel num_threads(threads)
        {
            const float v = fma_chains(iters);
#pragma omp atomic
            sink += v;
        }
        const double sec = bench_now() - start;
        const double gflops = (double)threads * iters * FMA_CHAINS * 8 * 2 / sec * 1e-9;
        if (gflops > best) best = gflops;
    }
    return best;
}
#else
static inline double bench_fma_peak_gflops(int threads, int trials)
{
    (void)threads, (void)trials;
    return 0.0;
}
#endif

/* Prints the peak on one thread and on all the cores OpenMP sees, and their JSON lines. */
static inline void bench_print_fma_peak(int trials)
{
    const int all = omp_get_num_procs();
    const double one = bench_fma_peak_gflops(1, trials), many = bench_fma_peak_gflops(all, trials);
    if (one <= 0.0) {
        printf("cpu FMA peak: not measured (needs x86-64 with AVX2 + FMA)\n");
        return;
    }
    printf("cpu FMA peak (8-wide FMA chains in registers): %.1f GFLOP/s on 1 thread, %.1f on %d\n",
           one, many, all);
    printf("json: {\"bench\":\"matmul\",\"device\":\"cpu\",\"what\":\"fma_peak\",\"threads\":1,"
           "\"gflops\":%.3f}\n", one);
    printf("json: {\"bench\":\"matmul\",\"device\":\"cpu\",\"what\":\"fma_peak\",\"threads\":%d,"
           "\"gflops\":%.3f}\n", all, many);
}

#endif
