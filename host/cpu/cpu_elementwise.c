/* CPU elementwise loops: each maps indices to elements and calls the shared math of
 * elementwise_math.h.
 *
 * The kind is switched on once, outside the loop: each case instantiates the loop with a
 * constant kind, so the compiler folds the math's own switch away and vectorizes (a
 * switch per element ran 10x slower). Binary loops walk rows and columns rather than
 * dividing a flat index per element, for the same reason. */
#include <string.h>

#include "cpu/cpu_internal.h"


/* Expands CASE(kind) for every unary kind. */
#define DGM_FOR_EACH_UNARY(CASE)                                                              \
    CASE(DGM_UNARY_IDENTITY) CASE(DGM_UNARY_RELU) CASE(DGM_UNARY_LEAKY_RELU)                  \
    CASE(DGM_UNARY_ELU) CASE(DGM_UNARY_SELU) CASE(DGM_UNARY_GELU) CASE(DGM_UNARY_SILU)        \
    CASE(DGM_UNARY_TANH) CASE(DGM_UNARY_SIGMOID) CASE(DGM_UNARY_SOFTPLUS)                     \
    CASE(DGM_UNARY_EXP) CASE(DGM_UNARY_LOG) CASE(DGM_UNARY_SQRT) CASE(DGM_UNARY_SQUARE)       \
    CASE(DGM_UNARY_AFFINE) CASE(DGM_UNARY_DROPOUT_MASK) CASE(DGM_UNARY_SIN) CASE(DGM_UNARY_COS)

#define DGM_FOR_EACH_BINARY(CASE)                                                             \
    CASE(DGM_BINARY_ADD) CASE(DGM_BINARY_SUB) CASE(DGM_BINARY_MUL) CASE(DGM_BINARY_DIV)       \
    CASE(DGM_BINARY_BCE_LOGITS) CASE(DGM_BINARY_KL_NORMAL) CASE(DGM_BINARY_GAUSS_LOGPDF)      \
    CASE(DGM_BINARY_LESS)

_Static_assert(DGM_UNARY_COUNT == 18 && DGM_BINARY_COUNT == 8,
               "a kind was added: list it in DGM_FOR_EACH_UNARY / DGM_FOR_EACH_BINARY");

DGM_CPU_CLONES_WIDE dgm_status dgm_cpu_unary(dgm_ctx *ctx, int kind, float pa, float pb, size_t n, const float *x,
                         float *y)
{
    DGM_CPU_FP_SCOPE(ctx);
#define CASE(K)                                                                               \
    case K: {                                                                                 \
        DGM_CPU_LOOP(n, i, n, y[i] = dgm_unary_forward(K, x[i], pa, pb));                     \
        return DGM_STATUS_OK;                                                                 \
    }
    switch (kind) { DGM_FOR_EACH_UNARY(CASE) }
#undef CASE
    return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "cpu unary: unknown kind %d", kind);
}

DGM_CPU_CLONES_WIDE dgm_status dgm_cpu_unary_backward(dgm_ctx *ctx, int kind, float pa, float pb, size_t n,
                                  const float *x, const float *y, const float *dy, float beta,
                                  float *dx)
{
    DGM_CPU_FP_SCOPE(ctx);
#define CASE(K)                                                                               \
    case K: {                                                                                 \
        if (beta == 0.0f)                                                                     \
            DGM_CPU_LOOP(n, i, n, dx[i] = dgm_unary_derivative(K, x[i], y[i], pa, pb) * dy[i]); \
        else                                                                                  \
            DGM_CPU_LOOP(n, i, n,                                                             \
                         dx[i] = beta * dx[i] +                                               \
                                 dgm_unary_derivative(K, x[i], y[i], pa, pb) * dy[i]);        \
        return DGM_STATUS_OK;                                                                 \
    }
    switch (kind) { DGM_FOR_EACH_UNARY(CASE) }
#undef CASE
    return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "cpu unary backward: unknown kind %d",
                         kind);
}

/* dx = beta·dx + f⁽ᵏ⁾(x)·g·dy for the derivative DERIV (the second or the third). */
#define HIGHER_DERIVATIVE_LOOP(DERIV, what)                                                   \
    DGM_CPU_FP_SCOPE(ctx);                                                                    \
    switch (kind) { DGM_FOR_EACH_UNARY(HIGHER_CASE_##DERIV) }                                  \
    return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "cpu unary " what ": unknown kind %d", \
                         kind)
#define HIGHER_CASE(K, DERIV)                                                                 \
    case K: {                                                                                 \
        DGM_CPU_LOOP(n, i, n,                                                                 \
                     dx[i] = dgm_axpby(beta, dx[i], DERIV(K, x[i], y[i], pa, pb) * g[i] * dy[i])); \
        return DGM_STATUS_OK;                                                                 \
    }
#define HIGHER_CASE_2(K) HIGHER_CASE(K, dgm_unary_second_derivative)
#define HIGHER_CASE_3(K) HIGHER_CASE(K, dgm_unary_third_derivative)

DGM_CPU_CLONES_WIDE dgm_status dgm_cpu_unary_backward2(dgm_ctx *ctx, int kind, float pa, float pb, size_t n,
                                   const float *x, const float *y, const float *g,
                                   const float *dy, float beta, float *dx)
{
    HIGHER_DERIVATIVE_LOOP(2, "second derivative");
}

DGM_CPU_CLONES_WIDE dgm_status dgm_cpu_unary_backward3(dgm_ctx *ctx, int kind, float pa, float pb, size_t n,
                                   const float *x, const float *y, const float *g,
                                   const float *dy, float beta, float *dx)
{
    HIGHER_DERIVATIVE_LOOP(3, "third derivative");
}
#undef HIGHER_DERIVATIVE_LOOP
#undef HIGHER_CASE
#undef HIGHER_CASE_2
#undef HIGHER_CASE_3

/* Unknown broadcast layouts are rejected like unknown kinds (dgm_bcast_index would read
 * them as FULL). */
static dgm_status check_bcast(dgm_ctx *ctx, const char *entry, int mode)
{
    if (mode >= DGM_BCAST_FULL && mode <= DGM_BCAST_SCALAR) return DGM_STATUS_OK;
    return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "cpu %s: unknown broadcast layout %d",
                         entry, mode);
}

/* Row r of a broadcast operand: its base pointer and column stride (0 when repeated). */
static inline const float *operand_row(const float *p, int mode, size_t r, size_t cols,
                                       size_t *stride)
{
    *stride = (mode == DGM_BCAST_FULL || mode == DGM_BCAST_ROW) ? 1 : 0;
    return p + dgm_bcast_index(mode, r, 0, cols);
}

DGM_CPU_CLONES dgm_status dgm_cpu_binary(dgm_ctx *ctx, int kind, int64_t rows, int64_t cols, const float *a,
                          int bcast_a, const float *b, int bcast_b, float *out)
{
    DGM_CPU_FP_SCOPE(ctx);
    if (check_bcast(ctx, "binary", bcast_a) || check_bcast(ctx, "binary", bcast_b))
        return DGM_STATUS_INVALID_ARGUMENT;
    const size_t R = (size_t)rows, C = (size_t)cols, n = R * C;
    (void)n;
#define CASE(K)                                                                               \
    case K: {                                                                                 \
        DGM_CPU_LOOP(n, r, R, {                                                               \
            size_t sa, sb;                                                                    \
            const float *ar = operand_row(a, bcast_a, r, C, &sa);                            \
            const float *br = operand_row(b, bcast_b, r, C, &sb);                            \
            float *o = out + r * C;                                                           \
            if (sa && sb)                                                                     \
                for (size_t c = 0; c < C; c++) o[c] = dgm_binary_forward(K, ar[c], br[c]);    \
            else                                                                              \
                for (size_t c = 0; c < C; c++)                                                \
                    o[c] = dgm_binary_forward(K, ar[c * sa], br[c * sb]);                     \
        });                                                                                   \
        return DGM_STATUS_OK;                                                                 \
    }
    switch (kind) { DGM_FOR_EACH_BINARY(CASE) }
#undef CASE
    return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "cpu binary: unknown kind %d", kind);
}

DGM_CPU_CLONES dgm_status dgm_cpu_binary_backward(dgm_ctx *ctx, int kind, int64_t rows, int64_t cols,
                                   const float *a, int bcast_a, const float *b, int bcast_b,
                                   const float *dy, float beta_a, float *da, float beta_b,
                                   float *db)
{
    DGM_CPU_FP_SCOPE(ctx);
    if (check_bcast(ctx, "binary backward", bcast_a) || check_bcast(ctx, "binary backward", bcast_b))
        return DGM_STATUS_INVALID_ARGUMENT;
    const size_t R = (size_t)rows, C = (size_t)cols, n = R * C;
    (void)n;
#define CASE(K)                                                                               \
    case K: {                                                                                 \
        DGM_CPU_LOOP(n, r, R, {                                                               \
            size_t sa, sb;                                                                    \
            const float *ar = operand_row(a, bcast_a, r, C, &sa);                            \
            const float *br = operand_row(b, bcast_b, r, C, &sb);                            \
            const float *g = dy + r * C;                                                      \
            if (da) {                                                                         \
                float *d = da + r * C;                                                        \
                for (size_t c = 0; c < C; c++)                                                \
                    d[c] = dgm_axpby(beta_a, d[c],                                            \
                                     dgm_binary_derivative_a(K, ar[c * sa], br[c * sb]) * g[c]); \
            }                                                                                 \
            if (db) {                                                                         \
                float *d = db + r * C;                                                        \
                for (size_t c = 0; c < C; c++)                                                \
                    d[c] = dgm_axpby(beta_b, d[c],                                            \
                                     dgm_binary_derivative_b(K, ar[c * sa], br[c * sb]) * g[c]); \
            }                                                                                 \
        });                                                                                   \
        return DGM_STATUS_OK;                                                                 \
    }
    switch (kind) { DGM_FOR_EACH_BINARY(CASE) }
#undef CASE
    return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "cpu binary backward: unknown kind %d",
                         kind);
}

DGM_CPU_CLONES dgm_status dgm_cpu_broadcast(dgm_ctx *ctx, int bcast, int64_t rows, int64_t cols, float alpha,
                             const float *src, float beta, float *dst)
{
    DGM_CPU_FP_SCOPE(ctx);
    if (check_bcast(ctx, "broadcast", bcast)) return DGM_STATUS_INVALID_ARGUMENT;
    const size_t R = (size_t)rows, C = (size_t)cols;
    for (size_t r = 0; r < R; r++) {
        size_t s;
        const float *sr = operand_row(src, bcast, r, C, &s);
        float *d = dst + r * C;
        if (beta == 0.0f && alpha == 1.0f && s == 1) /* a row copied: a matmul's bias */
            memcpy(d, sr, C * sizeof *d);
        else if (beta == 0.0f)
            for (size_t c = 0; c < C; c++) d[c] = alpha * sr[c * s];
        else
            for (size_t c = 0; c < C; c++) d[c] = beta * d[c] + alpha * sr[c * s];
    }
    return DGM_STATUS_OK;
}

DGM_CPU_CLONES dgm_status dgm_cpu_copy_cols(dgm_ctx *ctx, int64_t rows, int64_t cols, const float *src,
                             int64_t src_ld, float beta, float *dst, int64_t dst_ld)
{
    DGM_CPU_FP_SCOPE(ctx);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            dst[r * dst_ld + c] = dgm_axpby(beta, dst[r * dst_ld + c], src[r * src_ld + c]);
    return DGM_STATUS_OK;
}

dgm_status dgm_cpu_gather_rows(dgm_ctx *ctx, int64_t rows, int64_t cols, const float *src,
                               const int32_t *idx, float *dst)
{
    DGM_CPU_FP_SCOPE(ctx);
    for (int64_t r = 0; r < rows; r++)
        memcpy(dst + r * cols, src + (int64_t)idx[r] * cols, (size_t)cols * sizeof(float));
    return DGM_STATUS_OK;
}

DGM_CPU_CLONES dgm_status dgm_cpu_axpy(dgm_ctx *ctx, size_t n, float alpha, const float *x, float *y)
{
    DGM_CPU_FP_SCOPE(ctx);
    DGM_CPU_LOOP(n, i, n, y[i] += alpha * x[i]);
    return DGM_STATUS_OK;
}
