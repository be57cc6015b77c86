/* The CPU backend: host memory, cuRAND's host Philox generator (runs without a GPU), and
 * the table of compute entries from the other files of host/cpu/. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu_internal.h"
#include "rng_math.h"

#ifdef DGM_HAVE_CURAND
#include <curand.h>
#endif

typedef struct cpu_state {
#ifdef DGM_HAVE_CURAND
    curandGenerator_t gen;
#endif
    struct dgm_dnnl_state *dnnl; /* cpu_dnnl.c's, made at the first convolution */
    bool im2col_only;            /* DGM_CPU_CONV=im2col when the context was made */
} cpu_state;

struct dgm_dnnl_state **dgm_cpu_dnnl_slot(dgm_ctx *ctx)
{
    cpu_state *s = dgm_ctx_backend_state(ctx);
    return s->im2col_only ? NULL : &s->dnnl;
}

#ifdef DGM_HAVE_CURAND
#define CURAND_CHECK(ctx, call)                                                               \
    do {                                                                                      \
        curandStatus_t s_ = (call);                                                           \
        if (s_ != CURAND_STATUS_SUCCESS)                                                      \
            return dgm_set_error(ctx, DGM_STATUS_BACKEND_ERROR, "cpu: %s failed (curandStatus %d)", \
                                 #call, (int)s_);                                             \
    } while (0)
#endif

static dgm_status cpu_rng_seed(dgm_ctx *ctx, uint64_t seed, uint64_t offset)
{
#ifdef DGM_HAVE_CURAND
    cpu_state *s = dgm_ctx_backend_state(ctx);
    CURAND_CHECK(ctx, curandSetPseudoRandomGeneratorSeed(s->gen, seed));
    CURAND_CHECK(ctx, curandSetGeneratorOffset(s->gen, offset));
    return DGM_STATUS_OK;
#else
    (void)seed;
    (void)offset;
    return dgm_set_error(ctx, DGM_STATUS_UNSUPPORTED, "cpu: built without cuRAND");
#endif
}

static dgm_status cpu_init(dgm_ctx *ctx, int device_index, uint64_t seed, void **state)
{
    (void)device_index;
    cpu_state *s = calloc(1, sizeof *s);
    if (!s) return dgm_set_error(ctx, DGM_STATUS_OOM, "cpu: out of host memory");
    /* For comparisons and benchmarks: convolutions by im2col + OpenBLAS, not oneDNN. */
    const char *conv = getenv("DGM_CPU_CONV");
    s->im2col_only = conv && !strcmp(conv, "im2col");
#ifdef DGM_HAVE_CURAND
    curandStatus_t cs = curandCreateGeneratorHost(&s->gen, CURAND_RNG_PSEUDO_PHILOX4_32_10);
    if (cs != CURAND_STATUS_SUCCESS) {
        free(s);
        return dgm_set_error(ctx, DGM_STATUS_BACKEND_ERROR,
                             "cpu: curandCreateGeneratorHost failed (curandStatus %d)", (int)cs);
    }
    /* The same ordering as the CUDA backend's device generator (cuda_backend.cu says why
     * LEGACY): the host generator accepts DEFAULT, BEST and LEGACY only. */
    cs = curandSetGeneratorOrdering(s->gen, CURAND_ORDERING_PSEUDO_LEGACY);
    if (cs != CURAND_STATUS_SUCCESS) {
        curandDestroyGenerator(s->gen);
        free(s);
        return dgm_set_error(ctx, DGM_STATUS_BACKEND_ERROR,
                             "cpu: curandSetGeneratorOrdering failed (curandStatus %d)", (int)cs);
    }
#endif
    *state = s;
    /* OpenMP's pool threads take the floating-point mode of the thread that starts them:
     * started here, outside any call that flushes subnormals, they keep the program's. */
#pragma omp parallel
    {
        (void)omp_get_thread_num();
    }
    return cpu_rng_seed(ctx, seed, 0);
}

static void cpu_shutdown(void *state)
{
    cpu_state *s = state;
    if (!s) return;
    dgm_dnnl_release(s->dnnl);
#ifdef DGM_HAVE_CURAND
    curandDestroyGenerator(s->gen);
#endif
    free(s);
}

static dgm_status cpu_alloc(dgm_ctx *ctx, size_t bytes, void **ptr)
{
    /* 64-byte alignment for vector loads; aligned_alloc needs a multiple of it. */
    size_t size = (bytes + 63) / 64 * 64;
    *ptr = aligned_alloc(64, size ? size : 64);
    if (!*ptr) return dgm_set_error(ctx, DGM_STATUS_OOM, "cpu: cannot allocate %zu bytes", bytes);
    return DGM_STATUS_OK;
}

static void cpu_free(dgm_ctx *ctx, void *ptr)
{
    (void)ctx;
    free(ptr);
}

static dgm_status cpu_copy(dgm_ctx *ctx, void *dst, const void *src, size_t bytes,
                           dgm_copy_kind kind)
{
    (void)ctx;
    (void)kind;
    if (bytes && dst != src) memmove(dst, src, bytes);
    return DGM_STATUS_OK;
}

static dgm_status cpu_fill(dgm_ctx *ctx, float *dst, size_t n, float value)
{
    (void)ctx;
    /* Zeros (gradients every step) through libc's memset, which picks the widest stores
     * the CPU has; the loop below is built for the baseline x86-64. */
    if (value == 0.0f && !signbit(value)) {
        memset(dst, 0, n * sizeof *dst);
        return DGM_STATUS_OK;
    }
    for (size_t i = 0; i < n; i++) dst[i] = value;
    return DGM_STATUS_OK;
}

static dgm_status cpu_synchronize(dgm_ctx *ctx)
{
    (void)ctx;
    return DGM_STATUS_OK;
}

static dgm_status cpu_rng_words(dgm_ctx *ctx, uint32_t *dst, size_t n)
{
#ifdef DGM_HAVE_CURAND
    cpu_state *s = dgm_ctx_backend_state(ctx);
    CURAND_CHECK(ctx, curandGenerate(s->gen, dst, n));
    return DGM_STATUS_OK;
#else
    (void)dst;
    (void)n;
    return dgm_set_error(ctx, DGM_STATUS_UNSUPPORTED, "cpu: built without cuRAND");
#endif
}

/* rng_math.h's rule, the normals a pair at a time (both values of each Box–Muller pair
 * used, and the loop vectorizes); an odd first position or an even last one takes half a
 * pair. */
DGM_CPU_CLONES static dgm_status cpu_rng_transform(dgm_ctx *ctx, int normal,
                                                   const uint32_t *words, size_t first,
                                                   size_t n, float *dst)
{
    DGM_CPU_FP_SCOPE(ctx);
    if (!normal) {
        for (size_t i = 0; i < n; i++) dst[i] = dgm_rng_uniform_from_word(words[first + i]);
        return DGM_STATUS_OK;
    }
    size_t i = 0;
    if (n > 0 && (first & 1)) dst[i++] = dgm_rng_value(1, words, first);
    const uint32_t *w = words + first + i; /* an even position */
    float *out = dst + i;
    const size_t pairs = (n - i) / 2;
    for (size_t k = 0; k < pairs; k++)
        dgm_rng_normal_pair(w[2 * k], w[2 * k + 1], &out[2 * k], &out[2 * k + 1]);
    i += 2 * pairs;
    if (i < n) dst[i] = dgm_rng_value(1, words, first + i);
    return DGM_STATUS_OK;
}

static const dgm_backend cpu_backend = {
    .name = "cpu",
    .device = DGM_DEVICE_CPU,
    .init = cpu_init,
    .shutdown = cpu_shutdown,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .copy = cpu_copy,
    .fill = cpu_fill,
    .synchronize = cpu_synchronize,
    .rng_seed = cpu_rng_seed,
    .rng_words = cpu_rng_words,
    .rng_transform = cpu_rng_transform,
    .gemm = dgm_cpu_gemm,
    .unary = dgm_cpu_unary,
    .unary_backward = dgm_cpu_unary_backward,
    .binary = dgm_cpu_binary,
    .binary_backward = dgm_cpu_binary_backward,
    .reduce_sum = dgm_cpu_reduce_sum,
    .broadcast = dgm_cpu_broadcast,
    .logsumexp_rows = dgm_cpu_logsumexp_rows,
    .logsumexp_rows_backward = dgm_cpu_logsumexp_rows_backward,
    .copy_cols = dgm_cpu_copy_cols,
    .maxout = dgm_cpu_maxout,
    .maxout_backward = dgm_cpu_maxout_backward,
    .batchnorm_forward = dgm_cpu_batchnorm_forward,
    .batchnorm_backward = dgm_cpu_batchnorm_backward,
    .group_norm_forward = dgm_cpu_group_norm_forward,
    .group_norm_backward = dgm_cpu_group_norm_backward,
    .axpy = dgm_cpu_axpy,
    .gather_rows = dgm_cpu_gather_rows,
    .sgd_step = dgm_cpu_sgd_step,
    .adam_step = dgm_cpu_adam_step,
    .sum_squares = dgm_cpu_sum_squares,
    .clip_scale = dgm_cpu_clip_scale,
    .ema_update = dgm_cpu_ema_update,
    .swap = dgm_cpu_swap,
    .im2col = dgm_cpu_im2col,
    .col2im = dgm_cpu_col2im,
    .swap_axes = dgm_cpu_swap_axes,
    .resample2d = dgm_cpu_resample2d,
    .gemm_batched = dgm_cpu_gemm_batched,
#ifdef DGM_HAVE_DNNL
    .conv_forward = dgm_cpu_conv_forward,
    .conv_data = dgm_cpu_conv_data,
    .conv_weight = dgm_cpu_conv_weight,
    .conv_backward = dgm_cpu_conv_backward,
#endif
    .unary_backward2 = dgm_cpu_unary_backward2,
    .unary_backward3 = dgm_cpu_unary_backward3,
};

const dgm_backend *dgm_cpu_backend(void) { return &cpu_backend; }
