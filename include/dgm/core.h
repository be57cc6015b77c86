/* dgm core: version, status codes, devices and the context.
 *
 * A dgm_ctx owns everything one training or inference job needs: the backend (CPU or
 * CUDA), its stream and library handles, the random generator, the per-step arena that
 * step tensors come from, and the autodiff tape. There is no global state: two contexts
 * used from two threads never interfere. One context must not be used from two threads
 * at once.
 *
 * Every fallible call returns a dgm_status. On failure, dgm_last_error(ctx) gives a
 * message naming the operation and the shapes involved. The library never exits, aborts
 * or prints.
 */
#ifndef DGM_CORE_H
#define DGM_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(DGM_BUILDING_SHARED)
#define DGM_API __declspec(dllexport)
#elif defined(__GNUC__)
#define DGM_API __attribute__((visibility("default")))
#else
#define DGM_API
#endif

#define DGM_VERSION_MAJOR 0
#define DGM_VERSION_MINOR 1
#define DGM_VERSION_PATCH 0
#define DGM_VERSION_STRING "0.1.0"

/* "MAJOR.MINOR.PATCH" of the library actually linked. */
DGM_API const char *dgm_version(void);

typedef enum dgm_status {
    DGM_STATUS_OK = 0,
    DGM_STATUS_INVALID_ARGUMENT, /* NULL, bad value, wrong shape */
    DGM_STATUS_SHAPE_MISMATCH,   /* operands whose shapes do not fit together */
    DGM_STATUS_WRONG_DEVICE,     /* a tensor of another context or device */
    DGM_STATUS_OOM,              /* host or device memory exhausted, or arena limit hit */
    DGM_STATUS_UNSUPPORTED,      /* not available in this build or on this backend */
    DGM_STATUS_NO_DEVICE,        /* CUDA asked for but no usable GPU */
    DGM_STATUS_BACKEND_ERROR,    /* a CUDA, cuBLAS, cuRAND or BLAS call failed */
    DGM_STATUS_IO_ERROR,         /* reading or writing a file failed */
    DGM_STATUS_BAD_FORMAT,       /* a file is corrupt, truncated or of the wrong kind */
    DGM_STATUS_NOT_FINITE,       /* a loss or value is NaN or infinite */
    DGM_STATUS_STATE_ERROR,      /* call out of order (e.g. backward twice in one step) */
    DGM_STATUS_COUNT
} dgm_status;

/* Short constant name of a status ("DGM_STATUS_OOM"); never NULL. */
DGM_API const char *dgm_status_name(dgm_status status);

typedef enum dgm_device {
    DGM_DEVICE_AUTO = 0, /* CUDA when a GPU is usable, else CPU */
    DGM_DEVICE_CPU,
    DGM_DEVICE_CUDA
} dgm_device;

/* Name of a device ("auto", "cpu", "cuda"); never NULL. */
DGM_API const char *dgm_device_name(dgm_device device);

/* True when this build has the CUDA backend and a GPU is usable. When false and `why` is
 * not NULL, writes the reason (at most why_len bytes, NUL-terminated). Thread-safe. */
DGM_API bool dgm_cuda_available(char *why, size_t why_len);

typedef struct dgm_ctx dgm_ctx;

typedef struct dgm_ctx_config {
    dgm_device device;   /* default DGM_DEVICE_AUTO */
    int cuda_device;     /* GPU ordinal, default 0 */
    uint64_t seed;       /* seed of the context's Philox generator, default 0 */
    size_t arena_limit;  /* most bytes of step memory on the device; 0 = no limit (default) */
    /* false (default): the CPU backend computes with subnormal floats flushed to zero
     * (flush-to-zero and denormals-are-zero, set for the duration of each of its calls and
     * then put back: the caller's own floating-point mode is never changed). Intel cores
     * take about a hundred cycles on each subnormal operand, and Adam's moments of
     * parameters that stop receiving gradient sink into that range (a VAE's steps ran 1.9x
     * slower). true: compute in the calling thread's mode, IEEE subnormals included
     * (PyTorch's default; its torch.set_flush_denormal(True) is this option's false). */
    bool keep_denormals;
} dgm_ctx_config;

/* The defaults above. */
DGM_API dgm_ctx_config dgm_ctx_config_default(void);

/* Creates a context. `config` may be NULL for the defaults. On success *out owns the
 * context (free with dgm_ctx_free). On failure returns the status and, unless even the
 * context's own memory could not be had (then *out is NULL), sets *out to a failed
 * context whose dgm_last_error says why; such a context only supports dgm_last_error and
 * dgm_ctx_free. */
DGM_API dgm_status dgm_ctx_create(const dgm_ctx_config *config, dgm_ctx **out);

/* Frees the context and everything it owns; persistent tensors and parameter blocks made
 * from it must be freed before. NULL is a no-op. */
DGM_API void dgm_ctx_free(dgm_ctx *ctx);

/* The device this context computes on (never DGM_DEVICE_AUTO). */
DGM_API dgm_device dgm_ctx_device(const dgm_ctx *ctx);

/* Message of the last failed call on this context ("" if none). Valid until the next
 * call on the context. */
DGM_API const char *dgm_last_error(const dgm_ctx *ctx);

/* Ends a step: the tape is cleared and every step tensor (made by an op, by
 * dgm_tensor_new or dgm_tensor_from_host) dies; their memory is reused by the next step
 * in the same order, so a step's kernels see the same pointers every step. */
DGM_API dgm_status dgm_ctx_step_end(dgm_ctx *ctx);

/* Reseeds the context's generator and resets its offset. */
DGM_API dgm_status dgm_ctx_seed(dgm_ctx *ctx, uint64_t seed);

/* Random-number state, to save in a checkpoint and restore: the seed and the offset, the
 * position in the seed's one sequence of values (each value drawn, uniform or normal,
 * advances it by one). Restoring both continues the sequence exactly, on either backend. */
DGM_API void dgm_ctx_rng_state(const dgm_ctx *ctx, uint64_t *seed, uint64_t *offset);
DGM_API dgm_status dgm_ctx_set_rng_state(dgm_ctx *ctx, uint64_t seed, uint64_t offset);

/* While disabled, ops record nothing on the tape (inference, evaluation). Default on. */
DGM_API void dgm_ctx_set_grad_enabled(dgm_ctx *ctx, bool enabled);
DGM_API bool dgm_ctx_grad_enabled(const dgm_ctx *ctx);

/* Waits until all work queued on the context's device is done. */
DGM_API dgm_status dgm_ctx_synchronize(dgm_ctx *ctx);

/* Bytes of step memory in use now and the most used in any step so far. */
DGM_API void dgm_ctx_arena_usage(const dgm_ctx *ctx, size_t *in_use, size_t *peak);

#ifdef __cplusplus
}
#endif
#endif
