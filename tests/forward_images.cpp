// Forward rows of the image ops: convolutions by their definition as sums (the
// transposed one by its scatter definition, as PyTorch documents it), resampling by
// PyTorch's source-index rules, and the batched matrix ops, group norm, softmax and
// broadcast by their formulas.
#include <cmath>

#include "forward_cases.h"

namespace dgmtest {

namespace {

struct ConvShape {
    int64_t n, c, h, w, o, kh, kw;  // conv: x [n, c, h, w], weight [o, c/g, kh, kw]
    int sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1, oph = 0, opw = 0, groups = 1;
};

dgm_conv2d_options options_of(const ConvShape &s)
{
    dgm_conv2d_options o = {};
    o.stride[0] = s.sh;
    o.stride[1] = s.sw;
    o.padding[0] = s.ph;
    o.padding[1] = s.pw;
    o.dilation[0] = s.dh;
    o.dilation[1] = s.dw;
    o.output_padding[0] = s.oph;
    o.output_padding[1] = s.opw;
    o.groups = s.groups;
    return o;
}

ForwardCase conv_row(const std::string &name, const ConvShape &s, bool bias)
{
    ForwardCase c;
    c.name = name;
    c.op = DGM_OP_CONV2D;
    const int64_t cg = s.c / s.groups, og = s.o / s.groups;
    const int64_t oh = (s.h + 2 * s.ph - s.dh * (s.kh - 1) - 1) / s.sh + 1;
    const int64_t ow = (s.w + 2 * s.pw - s.dw * (s.kw - 1) - 1) / s.sw + 1;
    c.inputs = {{{s.n, s.c, s.h, s.w}}, {{s.o, cg, s.kh, s.kw}}};
    if (bias) c.inputs.push_back({{s.o}});
    c.out_shape = {s.n, s.o, oh, ow};
    const dgm_conv2d_options o = options_of(s);
    c.fn = [o, bias](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
        return dgm_conv2d(ctx, in[0], in[1], bias ? in[2] : nullptr, &o, out);
    };
    c.expect = [=](const std::vector<Vec> &x) {
        Vec y((size_t)(s.n * s.o * oh * ow));
        for (int64_t n = 0; n < s.n; n++)
            for (int64_t oc = 0; oc < s.o; oc++)
                for (int64_t yy = 0; yy < oh; yy++)
                    for (int64_t xx = 0; xx < ow; xx++) {
                        double acc = bias ? x[2][(size_t)oc] : 0.0;
                        const int64_t g = oc / og;
                        for (int64_t ci = 0; ci < cg; ci++)
                            for (int64_t i = 0; i < s.kh; i++)
                                for (int64_t j = 0; j < s.kw; j++) {
                                    const int64_t iy = yy * s.sh - s.ph + i * s.dh;
                                    const int64_t ix = xx * s.sw - s.pw + j * s.dw;
                                    if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
                                    acc += x[0][(size_t)(((n * s.c + g * cg + ci) * s.h + iy) * s.w + ix)] *
                                           x[1][(size_t)(((oc * cg + ci) * s.kh + i) * s.kw + j)];
                                }
                        y[(size_t)(((n * s.o + oc) * oh + yy) * ow + xx)] = acc;
                    }
        return std::vector<Vec>{y};
    };
    return c;
}

// Transposed: x [n, c, h, w] -> [n, o, OH, OW], weight [c, o/g, kh, kw]; each input value
// scatters x·w to output (iy·sh - ph + i·dh, ix·sw - pw + j·dw).
ForwardCase conv_transpose_row(const std::string &name, const ConvShape &s, bool bias)
{
    ForwardCase c;
    c.name = name;
    c.op = DGM_OP_CONV_TRANSPOSE2D;
    const int64_t cg = s.c / s.groups, og = s.o / s.groups;
    const int64_t oh = (s.h - 1) * s.sh - 2 * s.ph + s.dh * (s.kh - 1) + s.oph + 1;
    const int64_t ow = (s.w - 1) * s.sw - 2 * s.pw + s.dw * (s.kw - 1) + s.opw + 1;
    c.inputs = {{{s.n, s.c, s.h, s.w}}, {{s.c, og, s.kh, s.kw}}};
    if (bias) c.inputs.push_back({{s.o}});
    c.out_shape = {s.n, s.o, oh, ow};
    const dgm_conv2d_options o = options_of(s);
    c.fn = [o, bias](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
        return dgm_conv_transpose2d(ctx, in[0], in[1], bias ? in[2] : nullptr, &o, out);
    };
    c.expect = [=](const std::vector<Vec> &x) {
        Vec y((size_t)(s.n * s.o * oh * ow), 0.0);
        for (int64_t n = 0; n < s.n; n++)
            for (int64_t oc = 0; oc < s.o; oc++)
                for (int64_t p = 0; p < oh * ow; p++)
                    y[(size_t)((n * s.o + oc) * oh * ow + p)] = bias ? x[2][(size_t)oc] : 0.0;
        for (int64_t n = 0; n < s.n; n++)
            for (int64_t ic = 0; ic < s.c; ic++) {
                const int64_t g = ic / cg;
                for (int64_t iy = 0; iy < s.h; iy++)
                    for (int64_t ix = 0; ix < s.w; ix++) {
                        const double v = x[0][(size_t)(((n * s.c + ic) * s.h + iy) * s.w + ix)];
                        for (int64_t k = 0; k < og; k++)
                            for (int64_t i = 0; i < s.kh; i++)
                                for (int64_t j = 0; j < s.kw; j++) {
                                    const int64_t yy = iy * s.sh - s.ph + i * s.dh;
                                    const int64_t xx = ix * s.sw - s.pw + j * s.dw;
                                    if (yy < 0 || yy >= oh || xx < 0 || xx >= ow) continue;
                                    const int64_t oc = g * og + k;
                                    y[(size_t)(((n * s.o + oc) * oh + yy) * ow + xx)] +=
                                        v * x[1][(size_t)(((ic * og + k) * s.kh + i) * s.kw + j)];
                                }
                    }
            }
        return std::vector<Vec>{y};
    };
    return c;
}

// PyTorch's source coordinate of output o for scale in/out, align_corners=False.
double bilinear_source(int64_t o, int64_t in, int64_t out)
{
    const double s = ((double)o + 0.5) * ((double)in / (double)out) - 0.5;
    return s < 0.0 ? 0.0 : s;
}

ForwardCase plane_row(const std::string &name, dgm_op op, Shape x, Shape out,
                      std::function<dgm_status(dgm_ctx *, dgm_tensor *, dgm_tensor **)> f,
                      std::function<double(const double *plane, int64_t h, int64_t w, int64_t oy, int64_t ox)> value)
{
    ForwardCase c;
    c.name = name;
    c.op = op;
    c.inputs = {{x}};
    c.out_shape = out;
    c.fn = [f](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **o) { return f(ctx, in[0], o); };
    c.expect = [=](const std::vector<Vec> &v) {
        const int64_t planes = x[0] * x[1], h = x[2], w = x[3], oh = out[2], ow = out[3];
        Vec y((size_t)(planes * oh * ow));
        for (int64_t p = 0; p < planes; p++)
            for (int64_t oy = 0; oy < oh; oy++)
                for (int64_t ox = 0; ox < ow; ox++)
                    y[(size_t)((p * oh + oy) * ow + ox)] = value(v[0].data() + p * h * w, h, w, oy, ox);
        return std::vector<Vec>{y};
    };
    return c;
}

}  // namespace

std::vector<ForwardCase> image_forward_cases()
{
    std::vector<ForwardCase> v;
    ConvShape a{2, 3, 6, 5, 4, 3, 3};
    a.ph = a.pw = 1;
    v.push_back(conv_row("conv2d_3x3_pad1_bias", a, true));
    ConvShape b{2, 4, 9, 8, 6, 3, 2};
    b.sh = 2;
    b.ph = 1;
    b.dw = 2;
    b.groups = 2;
    v.push_back(conv_row("conv2d_stride_dilation_groups", b, false));
    ConvShape one{1, 3, 50, 50, 2, 3, 3};  // one image of 2,500 positions: one image per tile
    one.ph = one.pw = 1;
    v.push_back(conv_row("conv2d_one_image_per_tile", one, true));
    v.push_back(conv_row("conv2d_1x1_bias", ConvShape{3, 4, 3, 3, 5, 1, 1}, true));
    v.push_back(conv_row("conv2d_1x1_one_image_per_tile", ConvShape{2, 3, 48, 48, 2, 1, 1}, true));
    ConvShape t{2, 4, 3, 3, 3, 3, 3};
    t.sh = t.sw = 2;
    t.ph = t.pw = 1;
    t.oph = t.opw = 1;
    v.push_back(conv_transpose_row("conv_transpose2d_stride2_bias", t, true));
    ConvShape tg{1, 4, 3, 4, 4, 2, 2};
    tg.sh = tg.sw = 2;
    tg.groups = 2;
    v.push_back(conv_transpose_row("conv_transpose2d_groups", tg, false));
    ConvShape td{2, 3, 4, 3, 2, 3, 2};
    td.dh = 2;
    td.pw = 1;
    v.push_back(conv_transpose_row("conv_transpose2d_dilation", td, true));

    v.push_back(plane_row("upsample_nearest_x3", DGM_OP_UPSAMPLE_NEAREST, {2, 3, 3, 4}, {2, 3, 9, 12},
                          [](dgm_ctx *ctx, dgm_tensor *x, dgm_tensor **o) { return dgm_upsample_nearest2d(ctx, x, 3, o); },
                          [](const double *p, int64_t, int64_t w, int64_t oy, int64_t ox) {
                              // PyTorch's nearest: source floor(o · in/out)
                              return p[(int64_t)std::floor(oy / 3.0) * w + (int64_t)std::floor(ox / 3.0)];
                          }));
    v.push_back(plane_row("avg_pool_2", DGM_OP_AVG_POOL, {2, 3, 4, 6}, {2, 3, 2, 3},
                          [](dgm_ctx *ctx, dgm_tensor *x, dgm_tensor **o) { return dgm_avg_pool2d(ctx, x, 2, o); },
                          [](const double *p, int64_t, int64_t w, int64_t oy, int64_t ox) {
                              double s = 0.0;
                              for (int i = 0; i < 2; i++)
                                  for (int j = 0; j < 2; j++) s += p[(2 * oy + i) * w + 2 * ox + j];
                              return s / 4.0;
                          }));
    for (const Shape &x : {Shape{2, 2, 3, 4}, Shape{1, 1, 1, 2}}) {
        v.push_back(plane_row("upsample_bilinear_x2_" + std::to_string(x[2]) + "x" + std::to_string(x[3]),
                              DGM_OP_UPSAMPLE_BILINEAR, x, {x[0], x[1], 2 * x[2], 2 * x[3]},
                              dgm_upsample_bilinear2x,
                              [](const double *p, int64_t h, int64_t w, int64_t oy, int64_t ox) {
                                  const double sy = bilinear_source(oy, h, 2 * h), sx = bilinear_source(ox, w, 2 * w);
                                  const int64_t y0 = (int64_t)sy, x0 = (int64_t)sx;
                                  const int64_t y1 = std::min(y0 + 1, h - 1), x1 = std::min(x0 + 1, w - 1);
                                  const double ly = sy - y0, lx = sx - x0;
                                  return (1 - ly) * ((1 - lx) * p[y0 * w + x0] + lx * p[y0 * w + x1]) +
                                         ly * ((1 - lx) * p[y1 * w + x0] + lx * p[y1 * w + x1]);
                              }));
    }

    for (int tr = 0; tr < 4; tr++) {
        const bool ta = tr & 1, tb = tr & 2;
        const int64_t B = 3, M = 4, K = 5, N = 2;
        ForwardCase c;
        c.name = std::string("bmm_") + (ta ? "t" : "n") + (tb ? "t" : "n");
        c.op = DGM_OP_BMM;
        c.inputs = {{ta ? Shape{B, K, M} : Shape{B, M, K}}, {tb ? Shape{B, N, K} : Shape{B, K, N}}};
        c.out_shape = {B, M, N};
        c.fn = [ta, tb](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
            return dgm_bmm(ctx, in[0], ta, in[1], tb, out);
        };
        c.expect = [=](const std::vector<Vec> &x) {
            Vec y((size_t)(B * M * N), 0.0);
            for (int64_t b = 0; b < B; b++)
                for (int64_t i = 0; i < M; i++)
                    for (int64_t j = 0; j < N; j++)
                        for (int64_t k = 0; k < K; k++) {
                            const double av = ta ? x[0][(size_t)((b * K + k) * M + i)] : x[0][(size_t)((b * M + i) * K + k)];
                            const double bv = tb ? x[1][(size_t)((b * N + j) * K + k)] : x[1][(size_t)((b * K + k) * N + j)];
                            y[(size_t)((b * M + i) * N + j)] += av * bv;
                        }
            return std::vector<Vec>{y};
        };
        v.push_back(c);
    }
    {
        ForwardCase c;
        c.name = "transpose";
        c.op = DGM_OP_TRANSPOSE;
        c.inputs = {{{2, 3, 4}}};
        c.out_shape = {2, 4, 3};
        c.fn = [](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) { return dgm_transpose(ctx, in[0], out); };
        c.expect = [](const std::vector<Vec> &x) {
            Vec y(24);
            for (int b = 0; b < 2; b++)
                for (int r = 0; r < 3; r++)
                    for (int k = 0; k < 4; k++) y[(size_t)((b * 4 + k) * 3 + r)] = x[0][(size_t)((b * 3 + r) * 4 + k)];
            return std::vector<Vec>{y};
        };
        v.push_back(c);
    }
    {
        ForwardCase c;
        c.name = "broadcast_col";
        c.op = DGM_OP_BROADCAST;
        c.inputs = {{{3, 1}}};
        c.out_shape = {3, 4};
        c.fn = [](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
            const int64_t s[2] = {3, 4};
            return dgm_broadcast_to(ctx, in[0], 2, s, out);
        };
        c.expect = [](const std::vector<Vec> &x) {
            Vec y(12);
            for (int r = 0; r < 3; r++)
                for (int k = 0; k < 4; k++) y[(size_t)(r * 4 + k)] = x[0][(size_t)r];
            return std::vector<Vec>{y};
        };
        v.push_back(c);
    }
    {
        // PyTorch's group_norm: per (image, group) mean and biased variance, then the
        // per-channel affine.
        const int64_t N = 2, C = 6, P = 5, G = 3;
        ForwardCase c;
        c.name = "group_norm_affine";
        c.op = DGM_OP_GROUP_NORM;
        c.inputs = {{{N, C, 1, P}, -2.0f, 3.0f}, {{C}, 0.5f, 1.5f}, {{C}, -0.5f, 0.5f}};
        c.out_shape = {N, C, 1, P};
        c.fn = [](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
            return dgm_group_norm(ctx, in[0], 3, in[1], in[2], 1e-5f, out);
        };
        c.expect = [=](const std::vector<Vec> &x) {
            Vec y((size_t)(N * C * P));
            const int64_t L = C / G * P;
            for (int64_t n = 0; n < N; n++)
                for (int64_t g = 0; g < G; g++) {
                    const double *p = x[0].data() + (n * G + g) * L;
                    double m = 0.0, ss = 0.0;
                    for (int64_t i = 0; i < L; i++) m += p[i];
                    m /= (double)L;
                    for (int64_t i = 0; i < L; i++) ss += (p[i] - m) * (p[i] - m);
                    const double sd = std::sqrt(ss / (double)L + 1e-5);
                    for (int64_t i = 0; i < L; i++) {
                        const int64_t ch = g * (C / G) + i / P;
                        y[(size_t)((n * G + g) * L + i)] = (p[i] - m) / sd * x[1][(size_t)ch] + x[2][(size_t)ch];
                    }
                }
            return std::vector<Vec>{y};
        };
        v.push_back(c);
    }
    {
        ForwardCase c;
        c.name = "softmax_rows";
        c.op = DGM_OP_LOGSUMEXP;
        c.inputs = {{{3, 5}, -3.0f, 3.0f}};
        c.out_shape = {3, 5};
        c.fn = [](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) { return dgm_softmax_rows(ctx, in[0], out); };
        c.expect = [](const std::vector<Vec> &x) {
            Vec y(15);
            for (int r = 0; r < 3; r++) {
                double z = 0.0;
                for (int k = 0; k < 5; k++) z += std::exp(x[0][(size_t)(r * 5 + k)]);
                for (int k = 0; k < 5; k++) y[(size_t)(r * 5 + k)] = std::exp(x[0][(size_t)(r * 5 + k)]) / z;
            }
            return std::vector<Vec>{y};
        };
        v.push_back(c);
    }
    return v;
}

}  // namespace dgmtest
