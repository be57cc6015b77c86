/* Per-element math shared by the CPU and CUDA backends, written once.
 *
 * Under nvcc DGM_HD marks these __host__ __device__; under a C compiler it is empty, so
 * the CPU tests exercise exactly the code the GPU kernels run. Backends only map threads
 * (or loop indices) to elements and call these functions.
 */
#ifndef DGM_ELEMENTWISE_MATH_H
#define DGM_ELEMENTWISE_MATH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __CUDACC__
#define DGM_HD __host__ __device__
#else
#define DGM_HD
#endif

/* Unary kinds. The first DGM_ACT_COUNT values are the activations of dgm/ops.h in the
 * same order (checked by a static assert in host/ops/ops_unary.c). */
typedef enum dgm_unary_kind {
    DGM_UNARY_IDENTITY = 0,
    DGM_UNARY_RELU,
    DGM_UNARY_LEAKY_RELU, /* a = negative slope */
    DGM_UNARY_ELU,        /* a = alpha */
    DGM_UNARY_SELU,
    DGM_UNARY_GELU,
    DGM_UNARY_SILU,
    DGM_UNARY_TANH,
    DGM_UNARY_SIGMOID,
    DGM_UNARY_SOFTPLUS,
    DGM_UNARY_EXP,
    DGM_UNARY_LOG,
    DGM_UNARY_SQRT,
    DGM_UNARY_SQUARE,
    DGM_UNARY_AFFINE,       /* a·x + b */
    DGM_UNARY_DROPOUT_MASK, /* x uniform in (0, 1]: 1/(1-a) if x > a else 0 */
    DGM_UNARY_SIN,          /* sin x (the sinusoidal time embedding) */
    DGM_UNARY_COS,          /* cos x */
    DGM_UNARY_COUNT
} dgm_unary_kind;

/* Binary kinds, f(a, b). */
typedef enum dgm_binary_kind {
    DGM_BINARY_ADD = 0,
    DGM_BINARY_SUB,
    DGM_BINARY_MUL,
    DGM_BINARY_DIV,
    DGM_BINARY_BCE_LOGITS,  /* a = logit, b = target */
    DGM_BINARY_KL_NORMAL,   /* a = mu, b = logvar: KL(N(mu, e^logvar) || N(0, 1)) */
    DGM_BINARY_GAUSS_LOGPDF, /* a = x - mu, b = logvar: log N(a; 0, e^logvar) */
    DGM_BINARY_LESS,        /* 1 if a < b else 0; no gradient */
    DGM_BINARY_COUNT
} dgm_binary_kind;

/* How an operand of a [R, C] elementwise op is laid out. */
typedef enum dgm_bcast {
    DGM_BCAST_FULL = 0, /* [R, C] */
    DGM_BCAST_ROW,      /* [C], repeated down the rows */
    DGM_BCAST_COL,      /* [R, 1], repeated across the columns */
    DGM_BCAST_SCALAR    /* one element */
} dgm_bcast;

#define DGM_SELU_ALPHA 1.6732632423543772848170429916717f
#define DGM_SELU_SCALE 1.0507009873554804934193349852946f
#define DGM_LOG_2PI 1.8378770664093454835606594728112f

DGM_HD static inline size_t dgm_bcast_index(int mode, size_t r, size_t c, size_t cols)
{
    switch (mode) {
    case DGM_BCAST_ROW: return c;
    case DGM_BCAST_COL: return r;
    case DGM_BCAST_SCALAR: return 0;
    default: return r * cols + c;
    }
}

/* The bits of a float and back (the CUDA intrinsics on the device, a union on the host,
 * which GCC vectorizes). */
DGM_HD static inline uint32_t dgm_float_bits(float x)
{
#ifdef __CUDA_ARCH__
    return __float_as_uint(x);
#else
    union {
        float f;
        uint32_t u;
    } v;
    v.f = x;
    return v.u;
#endif
}

DGM_HD static inline float dgm_bits_float(uint32_t u)
{
#ifdef __CUDA_ARCH__
    return __uint_as_float(u);
#else
    union {
        uint32_t u;
        float f;
    } v;
    v.u = u;
    return v.f;
#endif
}

/* x = n·ln 2 + r with |r| <= ln 2 / 2 (Cody-Waite: ln 2 in two parts, the high one's
 * products with n exact; n rounded by the 1.5·2^23 trick). Returns n, r in *r. */
DGM_HD static inline float dgm_ln2_split(float x, float *r)
{
    const float round_magic = 12582912.0f; /* 1.5·2^23: adding it rounds to an integer */
    const float n = (x * 1.44269504088896341f + round_magic) - round_magic;
    *r = (x - n * 0.693145751953125f) - n * 1.428606765330187045e-06f;
    return n;
}

/* 2^n for an integral n in [-126, 127], through the exponent bits (NaN, whose conversion
 * is undefined, takes 1: the callers' NaN stays NaN through r). */
DGM_HD static inline float dgm_pow2_int(float n)
{
    const int32_t biased = (int32_t)(n == n ? n : 0.0f) + 127;
    return dgm_bits_float((uint32_t)biased << 23);
}

/* e^x for x <= 0, written so CPU loops vectorize (libm's expf is a call per element):
 * x = n·ln 2 + r (dgm_ln2_split), e^r by its Taylor polynomial to r^7 (truncation below
 * 2e-9), times 2^n. Relative error below 3e-7 on [-87, 0] (tests/test_math.cpp); inputs
 * below -87 give e^-87. Used by the sigmoid and softplus family, which only need this
 * range. */
DGM_HD static inline float dgm_exp_nonpos(float x)
{
    x = x < -87.0f ? -87.0f : x;
    float r;
    const float n = dgm_ln2_split(x, &r);
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    return p * dgm_pow2_int(n); /* n in [-126, 0]: a normal power of two */
}

/* e^x − 1 for x <= 0 (larger x are taken as 0; NaN stays NaN), vectorizable (libm's
 * expm1f is a call per element: a third of a flow-matching step in SELU). x = n·ln 2 + r
 * (dgm_ln2_split), then e^x − 1 = 2^n·(e^r − 1) + (2^n − 1): e^r − 1 by its Taylor series
 * to r^9 (no cancellation near 0), and 2^n − 1 exact, so one polynomial serves the whole
 * range (two, the series near 0 and exp − 1 below, cost SELU 1.6x more). Relative error
 * below 3e-7 (tests/test_math.cpp). */
DGM_HD static inline float dgm_expm1_nonpos(float x)
{
    x = x > 0.0f ? 0.0f : x; /* not x < 0 ? x : 0, which took NaN to 0 (ELU(NaN) = 0) */
    /* Below −17.4, e^x − 1 is −1 in float. −30 keeps 2^n·(e^r − 1) normal: at −87 it was
     * subnormal, and a SELU whose positive lanes GCC sent down that clamped path (their
     * value is not used) ran 2.5x slower on the microcode's subnormal assists. */
    x = x < -30.0f ? -30.0f : x;
    float r;
    const float n = dgm_ln2_split(x, &r);
    float p = 1.0f / 362880.0f;
    p = p * r + 1.0f / 40320.0f;
    p = p * r + 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    const float em = r + r * r * p;      /* e^r − 1 */
    const float two_n = dgm_pow2_int(n); /* n in [-44, 0] */
    return two_n * em + (two_n - 1.0f);
}

/* erf(x), written so CPU loops vectorize (libm's erff is a call per element, and GELU's
 * erff was a quarter of a DDPM step): x clamped to [-4, 4] (erf is ±1 in float beyond),
 * then x·P(x²)/Q(x²) with the minimax coefficients of Eigen's and XLA's float erf.
 * Absolute error below 5e-7, relative below 3e-7 near 0 (tests/test_math.cpp). */
DGM_HD static inline float dgm_erff(float x)
{
    x = x > 4.0f ? 4.0f : x < -4.0f ? -4.0f : x;
    const float x2 = x * x;
    float p = -2.72614225801306e-10f;
    p = p * x2 + 2.77068142495902e-08f;
    p = p * x2 - 2.10102402082508e-06f;
    p = p * x2 - 5.69250639462346e-05f;
    p = p * x2 - 7.34990630326855e-04f;
    p = p * x2 - 2.95459980854025e-03f;
    p = p * x2 - 1.60960333262415e-02f;
    float q = -1.45660718464996e-05f;
    q = q * x2 - 2.13374055278905e-04f;
    q = q * x2 - 1.68282697438203e-03f;
    q = q * x2 - 7.37332916720468e-03f;
    q = q * x2 - 1.42647390514189e-02f;
    return x * p / q;
}

/* sin x (want_cos 0) or cos x (1), written so CPU loops vectorize (libm's sinf and cosf are
 * calls per element, an eighth of a DDPM step in its time embedding): x = k·π/2 + r with
 * |r| <= π/4 (k rounded by the 1.5·2^23 trick; π/2 in three parts, the first two of 8 bits
 * so that k·part is exact for |k| < 2^16), Cephes' minimax polynomials for sin and cos on
 * [−π/4, π/4], and the quadrant k mod 4 choosing and signing one of them. Absolute error
 * below 2e-7 for |x| <= 1e5 (tests/test_math.cpp); larger |x| lose accuracy gradually,
 * and past ~1e7 (where float's spacing is 1 already) the answer is only bounded. */
DGM_HD static inline float dgm_sin_or_cos(float x, int want_cos)
{
    const float round_magic = 12582912.0f;
    const float k = (x * 0.636619772367581343f + round_magic) - round_magic;
    float r = x - k * 1.5703125f;
    r = r - k * 4.84466552734375e-4f;
    r = r + k * 6.397578431460715e-7f;
    const float z = r * r;
    const float sin_r = r + r * z * (-1.6666654611e-1f + z * (8.3321608736e-3f + z * -1.9515295891e-4f));
    const float cos_r = 1.0f - 0.5f * z +
                        z * z * (4.166664568298827e-2f + z * (-1.388731625493765e-3f + z * 2.443315711809948e-5f));
    /* k to int only where it fits (a float's integers are exact below 2^24): the
     * conversion of a larger |k|, inf or NaN is undefined; those x give no accurate
     * answer anyway */
    const float k_int = k > -16777216.0f && k < 16777216.0f ? k : 0.0f;
    const int q = (int)k_int + want_cos; /* cos x = sin(x + π/2) */
    const float v = (q & 1) ? cos_r : sin_r;
    return (q & 2) ? -v : v;
}

/* tanh(x), vectorizable (libm's tanhf is a call per element, 2 % of a RealNVP step with
 * the expm1f it calls): with t = e^{-2|x|} − 1 in [−1, 0], tanh|x| = −t / (2 + t), from
 * dgm_expm1_nonpos, so no cancellation near 0. Relative error below 5e-7
 * (tests/test_math.cpp); |x| > 15 gives ±1 (tanh is 1 in float from 9.1). NaN stays NaN. */
DGM_HD static inline float dgm_tanhf(float x)
{
    const float t = dgm_expm1_nonpos(-2.0f * fabsf(x));
    const float a = -t / (2.0f + t);
    return x < 0.0f ? -a : a;
}

/* log(1 + e^-|x|), vectorizable: with e = e^-|x| in (0, 1], log(1 + e) = 2·atanh(s) for
 * s = e / (2 + e) in (0, 1/3], whose odd series to s^15 is below 3e-9 relative. No
 * cancellation for small e (2s ≈ e). */
DGM_HD static inline float dgm_log1p_exp_neg_abs(float x)
{
    const float e = dgm_exp_nonpos(-fabsf(x));
    const float s = e / (2.0f + e), s2 = s * s;
    float p = 1.0f / 15.0f;
    p = p * s2 + 1.0f / 13.0f;
    p = p * s2 + 1.0f / 11.0f;
    p = p * s2 + 1.0f / 9.0f;
    p = p * s2 + 1.0f / 7.0f;
    p = p * s2 + 1.0f / 5.0f;
    p = p * s2 + 1.0f / 3.0f;
    p = p * s2 + 1.0f;
    return 2.0f * s * p;
}

DGM_HD static inline float dgm_sigmoidf(float x)
{
    /* Only e^-|x| is ever computed, so nothing overflows. */
    const float e = dgm_exp_nonpos(-fabsf(x));
    return x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

/* log(1 + e^x) without overflow. */
DGM_HD static inline float dgm_softplusf(float x)
{
    return (x > 0.0f ? x : 0.0f) + dgm_log1p_exp_neg_abs(x); /* not fmaxf: a libm call on x86 */
}

DGM_HD static inline float dgm_unary_forward(int kind, float x, float a, float b)
{
    switch (kind) {
    case DGM_UNARY_IDENTITY: return x;
    case DGM_UNARY_RELU: return x > 0.0f ? x : 0.0f;
    case DGM_UNARY_LEAKY_RELU: return x > 0.0f ? x : a * x;
    case DGM_UNARY_ELU: return x > 0.0f ? x : a * dgm_expm1_nonpos(x);
    case DGM_UNARY_SELU:
        return DGM_SELU_SCALE * (x > 0.0f ? x : DGM_SELU_ALPHA * dgm_expm1_nonpos(x));
    case DGM_UNARY_GELU: return 0.5f * x * (1.0f + dgm_erff(x * 0.70710678118654752f));
    case DGM_UNARY_SILU: return x * dgm_sigmoidf(x);
    case DGM_UNARY_TANH: return dgm_tanhf(x);
    case DGM_UNARY_SIGMOID: return dgm_sigmoidf(x);
    case DGM_UNARY_SOFTPLUS: return dgm_softplusf(x);
    case DGM_UNARY_EXP: return expf(x);
    case DGM_UNARY_LOG: return logf(x);
    case DGM_UNARY_SQRT: return sqrtf(x);
    case DGM_UNARY_SQUARE: return x * x;
    case DGM_UNARY_AFFINE: return a * x + b;
    case DGM_UNARY_DROPOUT_MASK: return x > a ? 1.0f / (1.0f - a) : 0.0f;
    case DGM_UNARY_SIN: return dgm_sin_or_cos(x, 0);
    case DGM_UNARY_COS: return dgm_sin_or_cos(x, 1);
    default: return x;
    }
}

/* dy/dx given the input x and the output y = forward(x). */
DGM_HD static inline float dgm_unary_derivative(int kind, float x, float y, float a, float b)
{
    (void)b;
    switch (kind) {
    case DGM_UNARY_IDENTITY: return 1.0f;
    case DGM_UNARY_RELU: return x > 0.0f ? 1.0f : 0.0f;
    case DGM_UNARY_LEAKY_RELU: return x > 0.0f ? 1.0f : a;
    case DGM_UNARY_ELU: return x > 0.0f ? 1.0f : y + a;
    case DGM_UNARY_SELU: return x > 0.0f ? DGM_SELU_SCALE : y + DGM_SELU_SCALE * DGM_SELU_ALPHA;
    case DGM_UNARY_GELU:
        return 0.5f * (1.0f + dgm_erff(x * 0.70710678118654752f)) +
               x * 0.39894228040143268f * dgm_exp_nonpos(-0.5f * x * x);
    case DGM_UNARY_SILU: {
        float s = dgm_sigmoidf(x);
        return s * (1.0f + x * (1.0f - s));
    }
    case DGM_UNARY_TANH: return 1.0f - y * y;
    case DGM_UNARY_SIGMOID: return y * (1.0f - y);
    case DGM_UNARY_SOFTPLUS: return dgm_sigmoidf(x);
    case DGM_UNARY_EXP: return y;
    case DGM_UNARY_LOG: return 1.0f / x;
    case DGM_UNARY_SQRT: return 0.5f / y;
    case DGM_UNARY_SQUARE: return 2.0f * x;
    case DGM_UNARY_AFFINE: return a;
    case DGM_UNARY_SIN: return dgm_sin_or_cos(x, 1);
    case DGM_UNARY_COS: return -dgm_sin_or_cos(x, 0);
    default: return 0.0f;
    }
}

/* d²y/dx² given x and y = forward(x): the derivative of dgm_unary_derivative, for
 * gradients of gradients (an input-gradient penalty differentiated again). Zero for the
 * piecewise-linear kinds (dgm_unary_has_curvature says which). */
DGM_HD static inline float dgm_unary_second_derivative(int kind, float x, float y, float a,
                                                       float b)
{
    (void)b;
    switch (kind) {
    case DGM_UNARY_ELU: return x > 0.0f ? 0.0f : y + a; /* a·e^x */
    case DGM_UNARY_SELU: return x > 0.0f ? 0.0f : y + DGM_SELU_SCALE * DGM_SELU_ALPHA;
    case DGM_UNARY_GELU: /* φ(x)·(2 - x²) */
        return 0.39894228040143268f * dgm_exp_nonpos(-0.5f * x * x) * (2.0f - x * x);
    case DGM_UNARY_SILU: {
        float s = dgm_sigmoidf(x);
        return s * (1.0f - s) * (2.0f + x * (1.0f - 2.0f * s));
    }
    case DGM_UNARY_TANH: return -2.0f * y * (1.0f - y * y);
    case DGM_UNARY_SIGMOID: return y * (1.0f - y) * (1.0f - 2.0f * y);
    case DGM_UNARY_SOFTPLUS: {
        float s = dgm_sigmoidf(x);
        return s * (1.0f - s);
    }
    case DGM_UNARY_EXP: return y;
    case DGM_UNARY_LOG: return -1.0f / (x * x);
    case DGM_UNARY_SQRT: return -0.25f / (y * y * y);
    case DGM_UNARY_SQUARE: return 2.0f;
    case DGM_UNARY_SIN:
    case DGM_UNARY_COS: return -y;
    default: return 0.0f;
    }
}

/* d³y/dx³ given x and y = forward(x): the derivative of dgm_unary_second_derivative, for a
 * loss of a Hessian (sliced score matching of an energy) differentiated to the weights.
 * Zero for the piecewise-linear kinds and the square. */
DGM_HD static inline float dgm_unary_third_derivative(int kind, float x, float y, float a,
                                                      float b)
{
    (void)b;
    switch (kind) {
    case DGM_UNARY_ELU: return x > 0.0f ? 0.0f : y + a;
    case DGM_UNARY_SELU: return x > 0.0f ? 0.0f : y + DGM_SELU_SCALE * DGM_SELU_ALPHA;
    case DGM_UNARY_GELU: /* φ(x)·(x³ − 4x) */
        return 0.39894228040143268f * dgm_exp_nonpos(-0.5f * x * x) * x * (x * x - 4.0f);
    case DGM_UNARY_SILU: { /* σ(1−σ)·[(1−2σ)(3 + x(1−2σ)) − 2xσ(1−σ)] */
        float s = dgm_sigmoidf(x), v = s * (1.0f - s), w = 1.0f - 2.0f * s;
        return v * (w * (3.0f + x * w) - 2.0f * x * v);
    }
    case DGM_UNARY_TANH: return (1.0f - y * y) * (6.0f * y * y - 2.0f);
    case DGM_UNARY_SIGMOID: return y * (1.0f - y) * (1.0f - 6.0f * y + 6.0f * y * y);
    case DGM_UNARY_SOFTPLUS: {
        float s = dgm_sigmoidf(x);
        return s * (1.0f - s) * (1.0f - 2.0f * s);
    }
    case DGM_UNARY_EXP: return y;
    case DGM_UNARY_LOG: return 2.0f / (x * x * x);
    case DGM_UNARY_SQRT: return 0.375f / (y * y * y * y * y);
    case DGM_UNARY_SIN: return -dgm_sin_or_cos(x, 1);
    case DGM_UNARY_COS: return dgm_sin_or_cos(x, 0);
    default: return 0.0f;
    }
}

/* Whether the kind's second derivative is not identically zero (relu, leaky relu, identity
 * and affine are piecewise linear: their gradient's gradient w.r.t. x vanishes). */
DGM_HD static inline int dgm_unary_has_curvature(int kind)
{
    return !(kind == DGM_UNARY_IDENTITY || kind == DGM_UNARY_RELU ||
             kind == DGM_UNARY_LEAKY_RELU || kind == DGM_UNARY_AFFINE ||
             kind == DGM_UNARY_DROPOUT_MASK);
}

DGM_HD static inline float dgm_binary_forward(int kind, float a, float b)
{
    switch (kind) {
    case DGM_BINARY_ADD: return a + b;
    case DGM_BINARY_SUB: return a - b;
    case DGM_BINARY_MUL: return a * b;
    case DGM_BINARY_DIV: return a / b;
    case DGM_BINARY_BCE_LOGITS: return dgm_softplusf(a) - a * b;
    case DGM_BINARY_KL_NORMAL: return 0.5f * (expf(b) + a * a - 1.0f - b);
    case DGM_BINARY_GAUSS_LOGPDF: return -0.5f * (DGM_LOG_2PI + b + a * a * expf(-b));
    case DGM_BINARY_LESS: return a < b ? 1.0f : 0.0f;
    default: return 0.0f;
    }
}

/* df/da. */
DGM_HD static inline float dgm_binary_derivative_a(int kind, float a, float b)
{
    switch (kind) {
    case DGM_BINARY_ADD: return 1.0f;
    case DGM_BINARY_SUB: return 1.0f;
    case DGM_BINARY_MUL: return b;
    case DGM_BINARY_DIV: return 1.0f / b;
    case DGM_BINARY_BCE_LOGITS: return dgm_sigmoidf(a) - b;
    case DGM_BINARY_KL_NORMAL: return a;
    case DGM_BINARY_GAUSS_LOGPDF: return -a * expf(-b);
    default: return 0.0f;
    }
}

/* df/db. */
DGM_HD static inline float dgm_binary_derivative_b(int kind, float a, float b)
{
    switch (kind) {
    case DGM_BINARY_ADD: return 1.0f;
    case DGM_BINARY_SUB: return -1.0f;
    case DGM_BINARY_MUL: return a;
    case DGM_BINARY_DIV: return -a / (b * b);
    case DGM_BINARY_BCE_LOGITS: return -a;
    case DGM_BINARY_KL_NORMAL: return 0.5f * (expf(b) - 1.0f);
    case DGM_BINARY_GAUSS_LOGPDF: return -0.5f * (1.0f - a * a * expf(-b));
    default: return 0.0f;
    }
}

/* dst = beta·dst + v, never reading dst when beta is 0 (it may hold garbage). */
DGM_HD static inline float dgm_axpby(float beta, float dst, float v)
{
    return beta == 0.0f ? v : beta * dst + v;
}

/* Batch-norm per element: y = gamma·(x - mean)·invstd + beta. */
DGM_HD static inline float dgm_batchnorm_apply(float x, float mean, float invstd, float gamma,
                                               float beta)
{
    return gamma * (x - mean) * invstd + beta;
}

/* Batch-norm input gradient per element, given the column sums sum(dy) and
 * sum(dy·xhat) over the n rows (training mode; eval mode passes n = 0: no batch terms). */
DGM_HD static inline float dgm_batchnorm_dx(float dy, float xhat, float gamma, float invstd,
                                            float sum_dy, float sum_dy_xhat, float n)
{
    if (n == 0.0f) return dy * gamma * invstd;
    return gamma * invstd * (dy - sum_dy / n - xhat * sum_dy_xhat / n);
}

/* Group-norm input gradient per element: dyg = dy·gamma[c], and the group's sums of dyg and
 * dyg·xhat over its L values. */
DGM_HD static inline float dgm_group_norm_dx(float dyg, float xhat, float invstd, float sum_dyg,
                                             float sum_dyg_xhat, float l)
{
    return invstd * (dyg - sum_dyg / l - xhat * sum_dyg_xhat / l);
}

#endif
