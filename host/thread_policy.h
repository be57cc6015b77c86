/* For programs (the dgm command, the benchmarks), not the library: the environment that
 * libgomp and OpenBLAS read once, when they load, before any of dgm's code runs. A program
 * that wants other values sets the variables and executes itself again, once; a value the
 * user set is left alone, and if the re-execution fails the program goes on as it was.
 *
 * libgomp's wait policy. With OpenBLAS's OpenMP build (cmake/blas.cmake) every matrix
 * product and large loop ends at a libgomp barrier, where idle threads spin: 300,000
 * rounds by default before they sleep. When another busy process shares the cores, a
 * thread that waits for a descheduled team member spins its whole time slice away: two
 * 2-thread trainings on 2 cores ran 9x slower each (21 s against 2.3 s for the pair; with
 * the pthread BLAS 2.9 s). 5,000 rounds bound that (4.3 s) and keep a lone training's
 * speed: fewer rounds let threads fall asleep between the regions of one step (RealNVP
 * 2-D: 2.00–2.05 ms a step at 5,000 and at the default, 2.15–2.18 at 1,000). Kept when the
 * user set OMP_WAIT_POLICY or GOMP_SPINCOUNT.
 *
 * OpenBLAS's kernels. Its run-time CPU detection picks kernels by CPU model, and a release
 * older than the CPU does not know it: Debian 12's OpenBLAS 0.3.21 on a Sapphire Rapids
 * Xeon (AVX-512, FP16) took the Prescott (SSE3) kernels, and `dgm train vae --data
 * fashion-mnist` ran 30.5 s instead of 9.7 s with the Skylake-X kernels. When OpenBLAS
 * fell back to such a generic core and the CPU has what a better one needs, the program
 * names that core in OPENBLAS_CORETYPE (SKYLAKEX: AVX-512 F, CD, BW, DQ and VL; HASWELL:
 * AVX2 and FMA). Kept when the user set OPENBLAS_CORETYPE. */
#ifndef DGM_THREAD_POLICY_H
#define DGM_THREAD_POLICY_H

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* The OpenBLAS core to ask for instead of the one detected, or NULL to keep it. */
static inline const char *dgm_openblas_better_core(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (getenv("OPENBLAS_CORETYPE")) return NULL;
    /* OpenBLAS's "the kernels' core" call, looked up in the process (the dgm command gets
     * OpenBLAS through libdgm.so, and must not link a second copy itself) */
    void *self = dlopen(NULL, RTLD_LAZY);
    char *(*corename)(void) = NULL;
    if (self) *(void **)&corename = dlsym(self, "openblas_get_corename");
    const char *core = corename ? corename() : NULL;
    if (self) dlclose(self);
    static const char *const generic[] = {"prescott", "core2", "katmai", "coppermine", "northwood",
                                          "banias", "nehalem", "unknown"};
    int fallback = 0;
    for (size_t i = 0; core && i < sizeof generic / sizeof *generic; i++)
        fallback |= !strcasecmp(core, generic[i]);
    if (!fallback) return NULL;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl"))
        return "SKYLAKEX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "HASWELL";
#endif
    return NULL;
}

static inline void dgm_exec_with_thread_policy(char **argv)
{
#ifdef __linux__
    int changed = 0;
    if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT"))
        changed |= setenv("GOMP_SPINCOUNT", "5000", 1) == 0;
    const char *core = dgm_openblas_better_core();
    if (core) changed |= setenv("OPENBLAS_CORETYPE", core, 1) == 0;
    if (changed) execv("/proc/self/exe", argv);
#else
    (void)argv;
#endif
}

#endif
