/* Subnormal floats in the CPU backend's own compute.
 *
 * An operand or result below FLT_MIN costs Intel cores a microcode assist each (about a
 * hundred cycles); Adam's first moments of parameters whose gradient is exactly zero decay
 * through that range, and a VAE's steps ran 1.9x slower for it (benchmarks/
 * census_subnormals). With the context's flush_denormals (the default), every CPU backend
 * entry runs with flush-to-zero and denormals-are-zero set and puts the caller's mode back
 * when it returns (DGM_CPU_FP_SCOPE): a program that embeds dgm keeps its own
 * floating-point state, and dgm_ctx_config.flush_denormals = false computes in the
 * caller's mode (PyTorch's torch.set_flush_denormal is the same switch, process-wide).
 *
 * The mode is per thread: OpenMP's pool threads keep theirs from region to region, so
 * every parallel region of the backend takes the calling thread's mode for its duration
 * and restores the thread's own after (DGM_CPU_FP_ADOPT / DGM_CPU_FP_RESTORE). */
#ifndef DGM_CPU_FPENV_H
#define DGM_CPU_FPENV_H

#include <stdbool.h>
#include <stdint.h>

#include "dgm/core.h"

#if defined(__x86_64__) || (defined(__i386__) && defined(__SSE2__))
#include <xmmintrin.h>
typedef unsigned int dgm_fp_mode;
#define DGM_FP_FLUSH_BITS 0x8040u /* MXCSR: FTZ (bit 15) and DAZ (bit 6) */
#define DGM_FP_FLAG_BITS 0x003fu  /* the sticky exception flags */
static inline dgm_fp_mode dgm_fp_get(void) { return _mm_getcsr(); }
static inline void dgm_fp_set(dgm_fp_mode m) { _mm_setcsr(m); }
#elif defined(__aarch64__)
typedef uint64_t dgm_fp_mode;
#define DGM_FP_FLUSH_BITS ((uint64_t)1 << 24) /* FPCR.FZ */
#define DGM_FP_FLAG_BITS ((uint64_t)0)        /* (the flags live in FPSR) */
static inline dgm_fp_mode dgm_fp_get(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, fpcr" : "=r"(v));
    return v;
}
static inline void dgm_fp_set(dgm_fp_mode m) { __asm__ volatile("msr fpcr, %0" : : "r"(m)); }
#else /* elsewhere: the caller's mode, untouched */
typedef unsigned int dgm_fp_mode;
#define DGM_FP_FLUSH_BITS 0u
#define DGM_FP_FLAG_BITS 0u
static inline dgm_fp_mode dgm_fp_get(void) { return 0; }
static inline void dgm_fp_set(dgm_fp_mode m) { (void)m; }
#endif

/* Enters the flushing mode when the context asks for it; returns the mode to restore. */
static inline dgm_fp_mode dgm_fp_enter(const dgm_ctx *ctx)
{
    const dgm_fp_mode saved = dgm_fp_get();
    if (DGM_FP_FLUSH_BITS && (saved & DGM_FP_FLUSH_BITS) != DGM_FP_FLUSH_BITS && dgm_ctx_flush_denormals(ctx))
        dgm_fp_set(saved | DGM_FP_FLUSH_BITS);
    return saved;
}

/* Puts back the mode saved by dgm_fp_enter, keeping the exception flags raised since (as
 * a computation in the caller's own mode would have). */
static inline void dgm_fp_leave(const dgm_fp_mode *saved)
{
    const dgm_fp_mode now = dgm_fp_get();
    if ((now & ~DGM_FP_FLAG_BITS) != (*saved & ~DGM_FP_FLAG_BITS))
        dgm_fp_set((*saved & ~DGM_FP_FLAG_BITS) | (now & DGM_FP_FLAG_BITS));
}

/* The first statement of a backend entry: flushing on (per the context) until it returns,
 * whichever return that is. */
#define DGM_CPU_FP_SCOPE(ctx)                                                                 \
    const dgm_fp_mode dgm_fp_scope_ __attribute__((cleanup(dgm_fp_leave), unused)) = dgm_fp_enter(ctx)

/* Inside a parallel region: this thread computes in `mode` (the calling thread's, read
 * before the region) and gets its own back at the region's end. */
#define DGM_CPU_FP_ADOPT(mode)                                                                \
    const dgm_fp_mode dgm_fp_own_ = dgm_fp_get();                                             \
    if ((dgm_fp_own_ ^ (mode)) & ~DGM_FP_FLAG_BITS) dgm_fp_set(mode)
#define DGM_CPU_FP_RESTORE()                                                                  \
    do {                                                                                      \
        dgm_fp_leave(&dgm_fp_own_);                                                           \
    } while (0)

#endif
