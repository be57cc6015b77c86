/* Uniform and normal values from raw 32-bit Philox words, shared by the CPU and CUDA
 * backends (DGM_HD code, like elementwise_math.h).
 *
 * Why not cuRAND's own uniform and normal calls: cuRAND's host generator costs 50–130 µs
 * a call whatever its length (measured with CUDA 13 on the 2-core CPU machine: 512
 * normals 120 µs, 64k raw words 450 µs), which was a sixth of a 2-D DDPM training step.
 * So the context draws raw words in large blocks (host/core/rng_draw.c) and both backends
 * turn them into values with the functions below: the same words give the same values on
 * both (up to the last bits where nvcc fuses a multiply-add).
 *
 * Word position p of the stream gives the value at offset p: uniform(word p), or for
 * normals the Box–Muller pair of words (p & ~1, p | 1): its cosine value at even p, its
 * sine value at odd p. So a value depends on its offset alone: draws may be split
 * anywhere, and a restored offset continues the same sequence.
 */
#ifndef DGM_RNG_MATH_H
#define DGM_RNG_MATH_H

#include "elementwise_math.h"

#define DGM_TWO_POW_M23 1.1920928955078125e-07f /* 2^-23 */
#define DGM_TWO_POW_M24 5.9604644775390625e-08f /* 2^-24 */
#define DGM_TWO_POW_M31 4.656612873077392578125e-10f
#define DGM_TWO_POW_M32 2.3283064365386962890625e-10f

/* Uniform in (0, 1): (k + 1/2)·2^-23 for the word's top 23 bits k, exact in float, so
 * both backends give the same bits (dropout and Bernoulli compare it with a threshold). */
DGM_HD static inline float dgm_rng_uniform_from_word(uint32_t w)
{
    return (float)(int32_t)(w >> 9) * DGM_TWO_POW_M23 + DGM_TWO_POW_M24;
}

/* ln x for positive normal floats, vectorizable: x = 2^e·m with m in [√½, √2), and
 * ln m = 2·atanh(s), s = (m − 1)/(m + 1) in [−0.172, 0.172], by its odd series to s^11
 * (truncation below 2e-11). Relative error a few float ulps (tests/test_math.cpp). */
DGM_HD static inline float dgm_log_pos(float x)
{
    const uint32_t bits = dgm_float_bits(x);
    float e = (float)((int32_t)(bits >> 23) - 127);
    float m = dgm_bits_float((bits & 0x007fffffu) | 0x3f800000u); /* [1, 2) */
    const int big = m > 1.41421356237f;
    m = big ? 0.5f * m : m;
    e = big ? e + 1.0f : e;
    const float f = m - 1.0f;
    const float s = f / (2.0f + f), z = s * s;
    float p = 2.0f / 11.0f;
    p = p * z + 2.0f / 9.0f;
    p = p * z + 2.0f / 7.0f;
    p = p * z + 2.0f / 5.0f;
    p = p * z + 2.0f / 3.0f;
    const float log_m = 2.0f * s + s * z * p;
    return e * 0.693145751953125f + (log_m + e * 1.428606765330187045e-06f);
}

/* Box–Muller on one pair of words: radius from the first (u in (0, 1], its 31 top bits),
 * angle from the second. The radius reaches 6.66 (u = 2^-32), like cuRAND's own. */
DGM_HD static inline void dgm_rng_normal_pair(uint32_t w0, uint32_t w1, float *z_cos,
                                              float *z_sin)
{
    const float u = (float)(int32_t)(w0 >> 1) * DGM_TWO_POW_M31 + DGM_TWO_POW_M32;
    const float r = sqrtf(-2.0f * dgm_log_pos(u));
    const float theta = dgm_rng_uniform_from_word(w1) * 6.28318530717958647692f;
    *z_cos = r * dgm_sin_or_cos(theta, 1);
    *z_sin = r * dgm_sin_or_cos(theta, 0);
}

/* The value at stream position `first` + i for i < n, from words[] that start at an even
 * position (words[j] is position j): the whole rule in one place for the backends' loops
 * to call per element (the CPU backend's vectorized loop computes the same per pair). */
DGM_HD static inline float dgm_rng_value(int normal, const uint32_t *words, size_t p)
{
    if (!normal) return dgm_rng_uniform_from_word(words[p]);
    float c, s;
    dgm_rng_normal_pair(words[p & ~(size_t)1], words[p | 1], &c, &s);
    return (p & 1) ? s : c;
}

#endif
