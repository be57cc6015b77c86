/* The index math of the spatial ops, shared by both backends (DGM_HD, as
 * elementwise_math.h): where an im2col column reads its input, and where bilinear
 * upsampling samples. NCHW throughout.
 *
 * im2col of a tile of T images x [T, C, H, W] is col [C·KH·KW, T·OH·OW]: row
 * r = (c·KH + i)·KW + j, column t·OH·OW + oy·OW + ox, value x[t, c, oy·sh − ph + i·dh,
 * ox·sw − pw + j·dw] (0 outside the image). col2im is its adjoint: each column value is
 * added back to the pixel it was read from. */
#ifndef DGM_CONV_MATH_H
#define DGM_CONV_MATH_H

#include <stdint.h>

#include "elementwise_math.h"

/* The shape of one 2-D convolution: x [n, c, h, w] -> y [n, o, oh, ow] through a
 * weight [o, c/groups, kh, kw]. A transposed convolution is the adjoint of the
 * convolution with the roles of x and y exchanged (its input has y's shape). */
typedef struct dgm_conv_geom {
    int64_t n, c, h, w;
    int64_t o, kh, kw;
    int64_t oh, ow;
    int64_t sh, sw, ph, pw, dh, dw;
    int64_t groups;
} dgm_conv_geom;

/* The three linear maps of a convolution (host/ops/conv_exec.h): y = conv(x, w), the
 * gradient with respect to x (the transposed convolution) and with respect to w. */
enum { DGM_CONV_FORWARD = 0, DGM_CONV_DATA, DGM_CONV_WEIGHT };

/* The input offset (within one channel plane of h·w) that column position (oy, ox) reads
 * through kernel tap (i, j), or -1 when it falls in the padding. */
DGM_HD static inline int64_t dgm_conv_source(const dgm_conv_geom *g, int64_t oy, int64_t ox,
                                             int64_t i, int64_t j)
{
    const int64_t y = oy * g->sh - g->ph + i * g->dh, x = ox * g->sw - g->pw + j * g->dw;
    if (y < 0 || y >= g->h || x < 0 || x >= g->w) return -1;
    return y * g->w + x;
}

/* ×2 bilinear upsampling with PyTorch's align_corners=False: output o of 2·n samples the
 * input at s = (o + 0.5)/2 − 0.5, clamped at 0, between i0 = floor(s) and
 * i1 = min(i0 + 1, n − 1) with weight lambda on i1. */
DGM_HD static inline void dgm_bilinear2x_source(int64_t o, int64_t n, int64_t *i0, int64_t *i1,
                                                float *lambda)
{
    float s = 0.5f * (float)o - 0.25f;
    if (s < 0.0f) s = 0.0f;
    int64_t a = (int64_t)s;
    *i0 = a;
    *i1 = a + 1 < n ? a + 1 : n - 1;
    *lambda = s - (float)a;
}

/* The weight with which output o of 2·n takes input i (0 when it does not). */
DGM_HD static inline float dgm_bilinear2x_weight(int64_t o, int64_t n, int64_t i)
{
    int64_t i0, i1;
    float l;
    dgm_bilinear2x_source(o, n, &i0, &i1, &l);
    return (i0 == i ? 1.0f - l : 0.0f) + (i1 == i ? l : 0.0f);
}

/* The kinds of resample2d: each maps planes of h·w (the low resolution) to planes of
 * (h·f)·(w·f) or back. NEAREST_UP and POOL_SUM are each other's adjoints, and so are
 * BILINEAR_UP (f = 2) and BILINEAR_DOWN. */
typedef enum dgm_resample_kind {
    DGM_RESAMPLE_NEAREST_UP = 0, /* y[f·h, f·w] = x[h, w] repeated f×f */
    DGM_RESAMPLE_POOL_SUM,       /* y[h, w] = sum of each f×f block of x[f·h, f·w] */
    DGM_RESAMPLE_BILINEAR_UP,    /* y[2h, 2w] = bilinear samples of x[h, w] */
    DGM_RESAMPLE_BILINEAR_DOWN,  /* y[h, w] = the adjoint of BILINEAR_UP applied to x[2h, 2w] */
    DGM_RESAMPLE_COUNT
} dgm_resample_kind;

/* One output value of resample2d at (oy, ox) of plane x (the input plane; h, w are the
 * low resolution): the formula both backends run per element. */
DGM_HD static inline float dgm_resample_value(int kind, const float *x, int64_t h, int64_t w,
                                              int64_t f, int64_t oy, int64_t ox)
{
    switch (kind) {
    case DGM_RESAMPLE_NEAREST_UP: return x[(oy / f) * w + ox / f];
    case DGM_RESAMPLE_POOL_SUM: {
        float s = 0.0f;
        for (int64_t i = 0; i < f; i++)
            for (int64_t j = 0; j < f; j++) s += x[(oy * f + i) * (w * f) + ox * f + j];
        return s;
    }
    case DGM_RESAMPLE_BILINEAR_UP: {
        int64_t y0, y1, x0, x1;
        float ly, lx;
        dgm_bilinear2x_source(oy, h, &y0, &y1, &ly);
        dgm_bilinear2x_source(ox, w, &x0, &x1, &lx);
        const float top = (1.0f - lx) * x[y0 * w + x0] + lx * x[y0 * w + x1];
        const float bottom = (1.0f - lx) * x[y1 * w + x0] + lx * x[y1 * w + x1];
        return (1.0f - ly) * top + ly * bottom;
    }
    default: { /* BILINEAR_DOWN: the outputs of 2h that sample input oy lie in 2·oy-2..2·oy+3 */
        float s = 0.0f;
        for (int64_t a = 2 * oy - 2; a <= 2 * oy + 3; a++) {
            if (a < 0 || a >= 2 * h) continue;
            const float wy = dgm_bilinear2x_weight(a, h, oy);
            if (wy == 0.0f) continue;
            for (int64_t b = 2 * ox - 2; b <= 2 * ox + 3; b++) {
                if (b < 0 || b >= 2 * w) continue;
                const float wx = dgm_bilinear2x_weight(b, w, ox);
                if (wx != 0.0f) s += wy * wx * x[a * (2 * w) + b];
            }
        }
        return s;
    }
    }
}

#endif
