/* Timing helpers shared by the benchmark programs, and the pieces of their GEMM floors:
 * one row-major sgemm as dgm's CPU backend issues it, its operands, the timing of a list
 * of such calls (each distinct shape alone, or all back to back) and the lines that report
 * them. */
#ifndef DGM_BENCH_COMMON_H
#define DGM_BENCH_COMMON_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */
#endif

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "thread_policy.h" /* host/: the dgm command's libgomp policy */

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

/* One such product with raw OpenBLAS, as dgm's CPU backend issues it: for beta 0, C is
 * zeroed first and the product accumulated (OpenBLAS's own beta = 0 pass is slower than
 * memset; host/cpu/cpu_blas.c). dgm's forward products with a bias accumulate onto the
 * bias copied into C instead (beta 1): the same one pass over C, counted here as beta 0. */
static inline void bench_sgemm(int ta, int tb, int m, int n, int k, float beta, const float *a,
                               const float *b, float *c)
{
    if (beta == 0.0f) {
        memset(c, 0, (size_t)m * (size_t)n * sizeof *c);
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
                k, 1.0f, a, bench_lda(ta, m, k), b, bench_ldb(tb, k, n), beta, c, n);
}

/* ---- GEMM floors ------------------------------------------------------------------- */

/* One row-major product C[m,n] = op(A)·op(B) + beta·C as dgm's CPU backend calls it. */
typedef struct bench_gemm {
    int ta, tb, m, n, k;
    float beta;
} bench_gemm;

static inline double bench_gemm_flops(const bench_gemm *g)
{
    return 2.0 * g->m * (double)g->n * g->k;
}

static inline int bench_gemm_same(const bench_gemm *a, const bench_gemm *b)
{
    return a->ta == b->ta && a->tb == b->tb && a->m == b->m && a->n == b->n && a->k == b->k &&
           a->beta == b->beta;
}

/* A call with its own operands; an array of them ends with g == NULL. */
typedef struct bench_gemm_buf {
    const bench_gemm *g;
    float *a, *b, *out;
} bench_gemm_buf;

static inline int bench_gemm_cpu(void *p)
{
    const bench_gemm_buf *u = p;
    const bench_gemm *g = u->g;
    bench_sgemm(g->ta, g->tb, g->m, g->n, g->k, g->beta, u->a, u->b, u->out);
    return 0;
}

/* All calls back to back (p: an array of bench_gemm_buf ending with g == NULL). */
static inline int bench_gemm_cpu_sequence(void *p)
{
    for (const bench_gemm_buf *u = p; u->g; u++) bench_gemm_cpu((void *)u);
    return 0;
}

/* Operands of bufs[0..n) (their g set, the rest zeroed): A and B random from seeds
 * seed_a + i and seed_b + i, C zero. Stops at the first that fails: nonzero. */
static inline int bench_gemm_alloc(bench_gemm_buf *bufs, int n, unsigned seed_a, unsigned seed_b)
{
    for (int i = 0; i < n; i++) {
        const bench_gemm *g = bufs[i].g;
        bufs[i].a = bench_random((size_t)g->m * g->k, seed_a + (unsigned)i);
        bufs[i].b = bench_random((size_t)g->k * g->n, seed_b + (unsigned)i);
        bufs[i].out = calloc((size_t)g->m * g->n, sizeof(float));
        if (!bufs[i].a || !bufs[i].b || !bufs[i].out) return 1;
    }
    return 0;
}

static inline void bench_gemm_free(bench_gemm_buf *bufs, int n)
{
    for (int i = 0; i < n; i++) free(bufs[i].a), free(bufs[i].b), free(bufs[i].out);
}

/* Times each distinct shape among bufs[0..n) alone (3 warm-up calls, best of `reps` trials
 * of at least min_s seconds); a call of a shape timed before takes its time. t[i]: call i's
 * seconds. `timed` (when not NULL) is called as each new shape's time is known. Returns the
 * number of distinct shapes. */
typedef void (*bench_shape_fn)(void *arg, int i, double seconds);

static inline int bench_gemm_time_shapes(bench_gemm_buf *bufs, int n, int reps, double min_s,
                                         double *t, bench_shape_fn timed, void *arg)
{
    int shapes = 0;
    for (int i = 0; i < n; i++) {
        int first = i;
        for (int j = 0; j < i; j++)
            if (bench_gemm_same(bufs[j].g, bufs[i].g)) {
                first = j;
                break;
            }
        if (first < i) {
            t[i] = t[first];
            continue;
        }
        t[i] = bench_time(bench_gemm_cpu, &bufs[i], 3, min_s, reps);
        shapes++;
        if (timed) timed(arg, i, t[i]);
    }
    return shapes;
}

/* The table of distinct shapes: a header with `last` as its last column's name, and a row
 * (op, transposes, m n k, beta, calls of the shape, best time, rate, then `tail`). */
static inline void bench_shape_header(const char *last)
{
    printf("  %-3s %-5s %5s %5s %5s %4s  %5s %10s %9s  %s\n", "op", "trans", "m", "n", "k",
           "beta", "calls", "best us", "GFLOP/s", last);
}

static inline void bench_shape_row(const char *what, const bench_gemm *g, int count, double t,
                                   const char *tail)
{
    printf("  %-3s %c%c    %5d %5d %5d %4.0f  %5d %10.2f %9.1f  %s\n", what, g->ta ? 'T' : 'N',
           g->tb ? 'T' : 'N', g->m, g->n, g->k, (double)g->beta, count, t * 1e6,
           bench_gemm_flops(g) / t * 1e-9, tail);
}

/* ---- report lines ------------------------------------------------------------------ */

/* The CPU as /proc/cpuinfo gives it (its first "model name" and "flags" or "Features"
 * line, its "processor" entries): one line, "cpu: MODEL, N logical cores, vector
 * extensions: AVX-512 (avx512f) | AVX2 | SSE2 only", "unknown" for what cannot be read. */
static inline int bench_cpu_flag(const char *flags, const char *flag)
{
    const size_t n = strlen(flag);
    for (const char *p = flags; (p = strstr(p, flag)) != NULL; p += n)
        if ((p == flags || p[-1] == ' ' || p[-1] == '\t') &&
            (p[n] == ' ' || p[n] == '\t' || p[n] == '\n' || p[n] == '\0'))
            return 1;
    return 0;
}

static inline void bench_print_cpu(void)
{
    char model[256] = "unknown", line[8192];
    const char *ext = "unknown";
    int cores = 0, have_flags = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f)) { /* a longer flags line: its first 8 KiB */
        char *colon = strchr(line, ':');
        if (!colon) continue;
        if (!strncmp(line, "processor", 9)) cores++;
        else if (!strncmp(line, "model name", 10) && !strcmp(model, "unknown")) {
            char *v = colon + 1;
            while (*v == ' ' || *v == '\t') v++;
            v[strcspn(v, "\n")] = '\0';
            if (*v) snprintf(model, sizeof model, "%s", v);
        } else if (!have_flags && (!strncmp(line, "flags", 5) || !strncmp(line, "Features", 8))) {
            have_flags = 1;
            ext = bench_cpu_flag(colon + 1, "avx512f") ? "AVX-512 (avx512f)"
                  : bench_cpu_flag(colon + 1, "avx2")  ? "AVX2"
                  : bench_cpu_flag(colon + 1, "sse2")  ? "SSE2 only"
                  : bench_cpu_flag(colon + 1, "asimd") ? "NEON (asimd)"
                                                       : "none of AVX-512, AVX2, SSE2";
        }
    }
    if (f) fclose(f);
    if (cores > 0)
        printf("cpu: %s, %d logical cores, vector extensions: %s\n", model, cores, ext);
    else printf("cpu: %s, unknown logical cores, vector extensions: %s\n", model, ext);
}

/* The OpenBLAS build, its threading (the pthread or the OpenMP build: see
 * cmake/blas.cmake) and its threads (the "cpu BLAS:" line benchmarks/report.py and
 * bench_lib.sh read: keep its format), then the CPU (bench_print_cpu). */
static inline void bench_print_blas(void)
{
    const char *env_ob = getenv("OPENBLAS_NUM_THREADS"), *env_omp = getenv("OMP_NUM_THREADS");
    const int par = openblas_get_parallel();
    printf("cpu BLAS:%s(%s) on %s, %d threads; OPENBLAS_NUM_THREADS=%s OMP_NUM_THREADS=%s\n",
           OPENBLAS_VERSION, openblas_get_corename(),
           par == 2 ? "OpenMP" : par == 1 ? "pthreads" : "one thread",
           openblas_get_num_threads(), env_ob ? env_ob : "(unset)",
           env_omp ? env_omp : "(unset)");
    bench_print_cpu();
}

/* Appends v[0..n) as a JSON list's items and its closing "]" to buf (size bytes, k of them
 * written before: snprintf's count; as it stops when full, the list may be cut short).
 * Returns the new count. */
static inline int bench_json_list_end(char *buf, size_t size, int k, const double *v, int n)
{
    for (int i = 0; i < n && k > 0 && k < (int)size - 32; i++)
        k += snprintf(buf + k, size - (size_t)k, "%s%.4f", i ? "," : "", v[i]);
    if (k > 0 && k < (int)size - 2) k += snprintf(buf + k, size - (size_t)k, "]");
    return k;
}

/* ---- the spread of timed windows --------------------------------------------------- */

/* A run's timed windows (or epochs) v[0..n): their median, range, and drift = the last
 * window's time over the first's; `drifting` when there are two or more and the last is
 * more than BENCH_DRIFT off the first (a run that slows down, or speeds up, as it goes:
 * the median and the range alone do not tell a steady run from one that drifts). */
#define BENCH_DRIFT 1.10

typedef struct bench_spread {
    double median, min, max, drift;
    int n, drifting;
} bench_spread;

/* The k-th smallest of v[0..n) (k from 0), without a copy: the value with fewer than k+1
 * smaller ones and at least k+1 not larger (n is small: quadratic). */
static inline double bench_kth(const double *v, int n, int k)
{
    for (int i = 0; i < n; i++) {
        int less = 0, not_more = 0;
        for (int j = 0; j < n; j++) {
            less += v[j] < v[i];
            not_more += v[j] <= v[i];
        }
        if (less <= k && k < not_more) return v[i];
    }
    return v[0];
}

static inline bench_spread bench_spread_of(const double *v, int n)
{
    bench_spread s;
    memset(&s, 0, sizeof s);
    s.n = n;
    if (n < 1) return s;
    s.median = n % 2 ? bench_kth(v, n, n / 2)
                     : 0.5 * (bench_kth(v, n, n / 2 - 1) + bench_kth(v, n, n / 2));
    s.min = s.max = v[0];
    for (int i = 1; i < n; i++) {
        if (v[i] < s.min) s.min = v[i];
        if (v[i] > s.max) s.max = v[i];
    }
    s.drift = v[0] > 0 ? v[n - 1] / v[0] : 1.0;
    s.drifting = n >= 2 && (s.drift > BENCH_DRIFT || s.drift < 1.0 / BENCH_DRIFT);
    return s;
}

/* The spread as one line: "  windows: median 1.262 s/epoch (min 1.240, max 2.350, spread
 * 88%); last/first 1.87  DRIFT: the last window is more than 10% off the first"; `each`
 * names one ("window", "epoch"), `unit` the times' ("s/epoch"); spread = (max - min) /
 * median. */
static inline void bench_print_spread(const bench_spread *s, const char *each, const char *unit)
{
    if (s->n < 1) return;
    printf("  %ss: median %.3f %s (min %.3f, max %.3f, spread %.0f%%); last/first %.2f", each,
           s->median, unit, s->min, s->max,
           s->median > 0 ? 100.0 * (s->max - s->min) / s->median : 0.0, s->drift);
    if (s->drifting)
        printf("  DRIFT: the last %s is more than %.0f%% off the first", each,
               100.0 * (BENCH_DRIFT - 1.0));
    printf("\n");
}

/* Appends the spread's JSON fields (,"median":..,"min":..,"max":..,"drift_ratio":..,
 * "drift":true|false) to buf (size bytes, k written before, as bench_json_list_end): all
 * of them, or none when they do not fit. Returns the new count. */
static inline int bench_json_spread(char *buf, size_t size, int k, const bench_spread *s)
{
    char f[256];
    const int n = snprintf(f, sizeof f,
                           ",\"median\":%.6e,\"min\":%.6e,\"max\":%.6e,\"drift_ratio\":%.4f,"
                           "\"drift\":%s",
                           s->median, s->min, s->max, s->drift, s->drifting ? "true" : "false");
    if (k < 0 || n < 0 || n >= (int)sizeof f || (size_t)k + (size_t)n >= size) return k;
    memcpy(buf + k, f, (size_t)n + 1);
    return k + n;
}

/* A number from a JSON object such as dgm_model_evaluate writes ({"nll": 2.83}). */
static inline int bench_json_number(const char *json, const char *key, double *v)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(json, pat);
    if (!p || !(p = strchr(p + strlen(pat), ':'))) return 1;
    char *end = NULL;
    *v = strtod(p + 1, &end);
    return end == p + 1;
}

#endif
