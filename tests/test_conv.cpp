// Convolutions at the sizes the UNet and DCGAN use: the tiled path (several images per
// product, a short last tile) against one image at a time, the CUDA backend against the
// CPU, and the errors of bad shapes.
#include <cstdlib>

#include "op_cases.h"

using namespace dgmtest;

namespace {

dgm_conv2d_options opts(int stride, int pad, int out_pad = 0, int groups = 1)
{
    dgm_conv2d_options o = {};
    o.stride[0] = o.stride[1] = stride;
    o.padding[0] = o.padding[1] = pad;
    o.output_padding[0] = o.output_padding[1] = out_pad;
    o.groups = groups;
    return o;
}

OpCase conv(const std::string &name, bool transposed, std::vector<int64_t> x,
            std::vector<int64_t> w, dgm_conv2d_options o)
{
    OpCase c;
    c.name = name;
    c.op = transposed ? DGM_OP_CONV_TRANSPOSE2D : DGM_OP_CONV2D;
    c.inputs = {{x}, {w}, {{transposed ? w[1] * o.groups : w[0]}}};
    c.fn = [transposed, o](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
        return transposed ? dgm_conv_transpose2d(ctx, in[0], in[1], in[2], &o, out)
                          : dgm_conv2d(ctx, in[0], in[1], in[2], &o, out);
    };
    return c;
}

// DGM_CPU_CONV=im2col for the contexts made while it lives: the CPU backend's im2col
// method (the CUDA backend's too) instead of oneDNN.
struct Im2colOnly {
    Im2colOnly() { setenv("DGM_CPU_CONV", "im2col", 1); }
    ~Im2colOnly() { unsetenv("DGM_CPU_CONV"); }
};

// A batch whose images span several tiles (28×28: 3 images per tile on the CPU, 8 images
// -> 3 + 3 + 2) gives what each image gives alone (one image per product, in place).
void check_tiles_match_single_images(const OpCase &batch)
{
    Im2colOnly method;
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    auto inputs = case_inputs(batch, 5);
    CaseResult probe;
    ASSERT_TRUE(run_case(ctx.get(), batch, inputs, nullptr, &probe));
    std::mt19937 rng(2);
    auto w = random_values(rng, (int64_t)probe.out.size(), -1.0f, 1.0f);
    CaseResult all;
    ASSERT_TRUE(run_case(ctx.get(), batch, inputs, &w, &all));

    const int64_t n = batch.inputs[0].shape[0];
    const size_t xper = inputs[0].size() / (size_t)n, yper = probe.out.size() / (size_t)n;
    std::vector<float> dw(inputs[1].size(), 0.0f), db(inputs[2].size(), 0.0f);
    OpCase one = batch;
    one.inputs[0].shape[0] = 1;
    for (int64_t i = 0; i < n; i++) {
        auto in1 = inputs;
        in1[0].assign(inputs[0].begin() + (long)(i * xper), inputs[0].begin() + (long)((i + 1) * xper));
        std::vector<float> w1(w.begin() + (long)(i * yper), w.begin() + (long)((i + 1) * yper));
        CaseResult r;
        ASSERT_TRUE(run_case(ctx.get(), one, in1, &w1, &r));
        const std::string at = batch.name + " image " + std::to_string(i);
        expect_values_close(r.out, std::vector<float>(all.out.begin() + (long)(i * yper), all.out.begin() + (long)((i + 1) * yper)), 1e-5, 1e-5, at + " output");
        expect_values_close(r.grads[0], std::vector<float>(all.grads[0].begin() + (long)(i * xper), all.grads[0].begin() + (long)((i + 1) * xper)), 1e-5, 1e-5, at + " dx");
        for (size_t k = 0; k < dw.size(); k++) dw[k] += r.grads[1][k];
        for (size_t k = 0; k < db.size(); k++) db[k] += r.grads[2][k];
    }
    expect_values_close(all.grads[1], dw, 1e-4, 1e-4, batch.name + " dw");
    expect_values_close(all.grads[2], db, 1e-4, 1e-4, batch.name + " db");
}

TEST(ConvTiles, ManyImagesPerProductMatchOneImageAtATime)
{
    check_tiles_match_single_images(conv("conv3x3", false, {8, 8, 28, 28}, {16, 8, 3, 3}, opts(1, 1)));
    check_tiles_match_single_images(conv("conv1x1", false, {7, 16, 28, 28}, {8, 16, 1, 1}, opts(1, 0)));
    check_tiles_match_single_images(conv("conv4x4_stride2", false, {9, 4, 28, 28}, {8, 4, 4, 4}, opts(2, 1)));
    check_tiles_match_single_images(conv("conv_transpose4x4_stride2", true, {9, 8, 14, 14}, {8, 4, 4, 4}, opts(2, 1)));
}

// The realistic sizes of the UNet (28×28, 14×14, 7×7 levels, 32–128 channels) and the
// DCGAN, forward and backward, CUDA against CPU.
std::vector<OpCase> realistic_cases()
{
    std::vector<OpCase> v;
    v.push_back(conv("unet_conv3x3_28", false, {16, 32, 28, 28}, {64, 32, 3, 3}, opts(1, 1)));
    v.push_back(conv("unet_conv3x3_7", false, {16, 64, 7, 7}, {64, 64, 3, 3}, opts(1, 1)));
    v.push_back(conv("unet_conv1x1_14", false, {16, 128, 14, 14}, {64, 128, 1, 1}, opts(1, 0)));
    v.push_back(conv("dcgan_conv4x4_stride2", false, {16, 64, 28, 28}, {128, 64, 4, 4}, opts(2, 1)));
    v.push_back(conv("dcgan_deconv4x4_stride2", true, {16, 128, 7, 7}, {128, 64, 4, 4}, opts(2, 1)));
    v.push_back(conv("grouped_conv3x3", false, {8, 32, 14, 14}, {32, 8, 3, 3}, opts(1, 1, 0, 4)));
    OpCase up;
    up.name = "upsample_nearest_7";
    up.op = DGM_OP_UPSAMPLE_NEAREST;
    up.inputs = {{{16, 64, 7, 7}}};
    up.fn = [](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
        return dgm_upsample_nearest2d(ctx, in[0], 2, out);
    };
    v.push_back(up);
    OpCase bil = up;
    bil.name = "upsample_bilinear_14";
    bil.op = DGM_OP_UPSAMPLE_BILINEAR;
    bil.inputs = {{{16, 32, 14, 14}}};
    bil.fn = [](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
        return dgm_upsample_bilinear2x(ctx, in[0], out);
    };
    v.push_back(bil);
    OpCase pool = up;
    pool.name = "avg_pool_28";
    pool.op = DGM_OP_AVG_POOL;
    pool.inputs = {{{16, 32, 28, 28}}};
    pool.fn = [](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
        return dgm_avg_pool2d(ctx, in[0], 2, out);
    };
    v.push_back(pool);
    OpCase gn;
    gn.name = "group_norm_14";
    gn.op = DGM_OP_GROUP_NORM;
    gn.inputs = {{{16, 64, 14, 14}, -2.0f, 2.0f}, {{64}, 0.5f, 1.5f}, {{64}}};
    gn.fn = [](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
        return dgm_group_norm(ctx, in[0], 32, in[1], in[2], 1e-5f, out);
    };
    v.push_back(gn);
    OpCase att;
    att.name = "attention_scores_7";
    att.op = DGM_OP_BMM;
    att.inputs = {{{16, 64, 49}}, {{16, 64, 49}}};
    att.fn = [](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
        dgm_tensor *s = nullptr;
        dgm_status st = dgm_bmm(ctx, in[0], true, in[1], false, &s);
        if (st != DGM_STATUS_OK) return st;
        return dgm_softmax_rows(ctx, s, out);
    };
    v.push_back(att);
    return v;
}

// The two CPU methods, oneDNN (when built with it) and im2col + OpenBLAS, agree on every
// convolution of the op table and at the realistic sizes, forward and backward.
TEST(ConvMethods, OneDnnMatchesIm2col)
{
    std::vector<OpCase> cases = realistic_cases();
    for (const OpCase &c : all_op_cases())
        if (c.op == DGM_OP_CONV2D || c.op == DGM_OP_CONV_TRANSPOSE2D) cases.push_back(c);
    int compared = 0;
    for (const OpCase &c : cases) {
        if (c.op != DGM_OP_CONV2D && c.op != DGM_OP_CONV_TRANSPOSE2D) continue;
        CtxPtr lib = make_ctx(DGM_DEVICE_CPU, 5);
        ASSERT_TRUE(lib);
        CtxPtr own;
        {
            Im2colOnly method;
            own = make_ctx(DGM_DEVICE_CPU, 5);
        }
        ASSERT_TRUE(own);
        expect_contexts_match(c, own.get(), lib.get(), 1e-4, 1e-4, 1e-3);
        compared++;
    }
    EXPECT_GE(compared, 12);
}

class ConvCudaParity : public ::testing::TestWithParam<OpCase> {};

TEST_P(ConvCudaParity, RealisticSizesMatchCpu)
{
    SKIP_WITHOUT_GPU();
    // Sums of up to 16·28·28 products in another order: relative 1e-4 of the value, and
    // absolute 1e-4 (outputs) and 1e-3 (gradients) of the sums' scale.
    expect_cuda_matches_cpu(GetParam(), 1e-4, 1e-4, 1e-3);
}

std::string case_name(const ::testing::TestParamInfo<OpCase> &info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(Realistic, ConvCudaParity, ::testing::ValuesIn(realistic_cases()), case_name);

// Bad shapes and options: a clear error naming the problem, no output.
TEST(ConvErrors, BadShapesAndOptionsAreNamed)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    dgm_ctx *c = ctx.get();
    auto t = [&](std::vector<int64_t> s) { return from_host(c, s, std::vector<float>((size_t)numel(s), 0.5f)); };
    dgm_tensor *x = t({2, 3, 8, 8}), *out = nullptr;
    struct Bad {
        const char *what;
        std::function<dgm_status()> call;
        const char *message;
    };
    dgm_conv2d_options g2 = opts(1, 0, 0, 2), neg = opts(1, 0), op2 = opts(1, 0, 2);
    neg.padding[0] = -1;
    const Bad bad[] = {
        {"weight channels", [&] { return dgm_conv2d(c, x, t({4, 2, 3, 3}), nullptr, nullptr, &out); }, "does not fit"},
        {"groups", [&] { return dgm_conv2d(c, x, t({4, 1, 3, 3}), nullptr, &g2, &out); }, "groups"},
        {"3-D x", [&] { return dgm_conv2d(c, t({3, 8, 8}), t({4, 3, 3, 3}), nullptr, nullptr, &out); }, "not 4-D"},
        {"kernel larger than the image", [&] { return dgm_conv2d(c, x, t({4, 3, 9, 9}), nullptr, nullptr, &out); }, "empty output"},
        {"bias", [&] { return dgm_conv2d(c, x, t({4, 3, 3, 3}), t({3}), nullptr, &out); }, "bias"},
        {"negative padding", [&] { return dgm_conv2d(c, x, t({4, 3, 3, 3}), nullptr, &neg, &out); }, "negative"},
        {"output padding", [&] { return dgm_conv_transpose2d(c, x, t({3, 4, 3, 3}), nullptr, &op2, &out); }, "output padding"},
        {"transposed weight", [&] { return dgm_conv_transpose2d(c, x, t({4, 4, 3, 3}), nullptr, nullptr, &out); }, "channels of x"},
        {"pool blocks", [&] { return dgm_avg_pool2d(c, x, 3, &out); }, "blocks"},
        {"upsample factor", [&] { return dgm_upsample_nearest2d(c, x, 0, &out); }, "factor"},
        {"group count", [&] { return dgm_group_norm(c, x, 2, nullptr, nullptr, 1e-5f, &out); }, "groups"},
        {"bmm inner", [&] { return dgm_bmm(c, t({2, 3, 4}), false, t({2, 3, 4}), false, &out); }, "inner"},
    };
    for (const Bad &b : bad) {
        out = reinterpret_cast<dgm_tensor *>(1);
        const dgm_status st = b.call();
        EXPECT_NE(st, DGM_STATUS_OK) << b.what;
        EXPECT_EQ(out, nullptr) << b.what;
        EXPECT_NE(std::string(dgm_last_error(c)).find(b.message), std::string::npos)
            << b.what << ": " << dgm_last_error(c);
    }
    EXPECT_EQ(dgm_ctx_step_end(c), DGM_STATUS_OK);
}

}  // namespace
