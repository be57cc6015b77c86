/* For programs (the dgm command, the benchmarks), not the library: libgomp's wait policy.
 *
 * With OpenBLAS's OpenMP build (cmake/blas.cmake) every matrix product and large loop ends
 * at a libgomp barrier, where idle threads spin: 300,000 rounds by default before they
 * sleep. When another busy process shares the cores, a thread that waits for a descheduled
 * team member spins its whole time slice away: two 2-thread trainings on 2 cores ran 9x
 * slower each (21 s against 2.3 s for the pair; with the pthread BLAS 2.9 s). 5,000
 * rounds bound that (4.3 s) and keep a lone training's speed: fewer rounds let threads
 * fall asleep between the regions of one step (RealNVP 2-D: 2.00–2.05 ms a step at 5,000
 * and at the default, 2.15–2.18 at 1,000). libgomp reads the setting from the environment
 * once, when it loads, before any of dgm's code runs; so a program that wants it sets the
 * variable and executes itself again, once. A policy the user set (OMP_WAIT_POLICY or GOMP_SPINCOUNT)
 * is left alone; if the re-execution fails the program goes on with libgomp's default. */
#ifndef DGM_THREAD_POLICY_H
#define DGM_THREAD_POLICY_H

#include <stdlib.h>
#include <unistd.h>

static inline void dgm_exec_with_thread_policy(char **argv)
{
#ifdef __linux__
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    if (setenv("GOMP_SPINCOUNT", "5000", 1) != 0) return;
    execv("/proc/self/exe", argv);
#else
    (void)argv;
#endif
}

#endif
