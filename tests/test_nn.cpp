// Layers (host/nn/): parameter names and shapes against the numbering PyTorch's
// nn.Sequential gives, forward passes against an independent computation in double,
// initialization statistics, batch norm and dropout modes, the sinusoidal time embedding
// against its formula, and bad configurations.
#include <cstring>
#include <string>
#include <utility>

#include "test_util.h"

extern "C" {
#include "elementwise_math.h"
}

using namespace dgmtest;

namespace {

struct ParamsDeleter {
    void operator()(dgm_params *p) const { dgm_params_free(p); }
};
using ParamsPtr = std::unique_ptr<dgm_params, ParamsDeleter>;
struct MlpDeleter {
    void operator()(dgm_mlp *m) const { dgm_mlp_free(m); }
};
using MlpPtr = std::unique_ptr<dgm_mlp, MlpDeleter>;
struct EmbDeleter {
    void operator()(dgm_time_embedding *e) const { dgm_time_embedding_free(e); }
};
using EmbPtr = std::unique_ptr<dgm_time_embedding, EmbDeleter>;

ParamsPtr make_params(dgm_ctx *ctx)
{
    dgm_params *p = nullptr;
    EXPECT_EQ(dgm_params_create(ctx, &p), DGM_STATUS_OK) << dgm_last_error(ctx);
    return ParamsPtr(p);
}

MlpPtr make_mlp(dgm_ctx *ctx, dgm_params *p, const char *prefix, std::vector<int64_t> widths,
                const dgm_mlp_config &cfg)
{
    dgm_mlp *m = nullptr;
    EXPECT_EQ(dgm_mlp_create(p, prefix, (int)widths.size(), widths.data(), &cfg, &m), DGM_STATUS_OK)
        << dgm_last_error(ctx);
    return MlpPtr(m);
}

struct Expected {
    std::string name;
    std::vector<int64_t> shape;
    bool buffer;
};

// The block holds exactly `want`, in this order (PyTorch's state_dict order).
void expect_params(dgm_params *p, const std::vector<Expected> &want)
{
    ASSERT_EQ(dgm_params_count(p), (int)want.size());
    for (int i = 0; i < (int)want.size(); i++) {
        SCOPED_TRACE(want[i].name);
        EXPECT_STREQ(dgm_params_name(p, i), want[i].name.c_str());
        dgm_tensor *t = dgm_params_at(p, i);
        ASSERT_EQ(dgm_tensor_ndim(t), (int)want[i].shape.size());
        for (int d = 0; d < (int)want[i].shape.size(); d++) EXPECT_EQ(dgm_tensor_dim(t, d), want[i].shape[d]);
        EXPECT_EQ(dgm_params_is_buffer(p, i), want[i].buffer);
    }
}

std::vector<Expected> linear_names(const std::string &m, int64_t in, int64_t out)
{
    return {{m + ".weight", {out, in}, false}, {m + ".bias", {out}, false}};
}

std::vector<Expected> bn_names(const std::string &m, int64_t f)
{
    return {{m + ".weight", {f}, false},
            {m + ".bias", {f}, false},
            {m + ".running_mean", {f}, true},
            {m + ".running_var", {f}, true}};
}

std::vector<Expected> cat(std::vector<std::vector<Expected>> parts)
{
    std::vector<Expected> all;
    for (auto &p : parts) all.insert(all.end(), p.begin(), p.end());
    return all;
}

std::vector<double> values(dgm_ctx *ctx, dgm_params *p, const char *name)
{
    dgm_tensor *t = dgm_params_get(p, name);
    EXPECT_NE(t, nullptr) << name;
    if (!t) return {};
    std::vector<float> v = to_host(ctx, t);
    return std::vector<double>(v.begin(), v.end());
}

// Reference math in double. x is [rows, in] row-major, w [out, in].
using Mat = std::vector<double>;
Mat linear_ref(const Mat &x, int64_t rows, int64_t in, const Mat &w, const Mat &b, int64_t out)
{
    Mat y((size_t)(rows * out));
    for (int64_t r = 0; r < rows; r++)
        for (int64_t o = 0; o < out; o++) {
            double s = b.empty() ? 0.0 : b[(size_t)o];
            for (int64_t i = 0; i < in; i++) s += x[(size_t)(r * in + i)] * w[(size_t)(o * in + i)];
            y[(size_t)(r * out + o)] = s;
        }
    return y;
}

Mat to_double(const std::vector<float> &v) { return Mat(v.begin(), v.end()); }

void expect_close(const std::vector<float> &got, const Mat &want, double tol)
{
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); i++)
        EXPECT_NEAR(got[i], want[i], tol * (1.0 + std::fabs(want[i]))) << "element " << i;
}

// ---- names and shapes: what nn.Sequential would number ----

TEST(NnNames, PlainMlpIsSequentialNumbering)
{
    // nn.Sequential(Linear(2,64), ReLU(), Linear(64,64), ReLU(), Linear(64,1)) as `net`.
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ParamsPtr p = make_params(ctx.get());
    MlpPtr m = make_mlp(ctx.get(), p.get(), "net", {2, 64, 64, 1}, dgm_mlp_config_default());
    ASSERT_TRUE(m);
    expect_params(p.get(), cat({linear_names("net.0", 2, 64), linear_names("net.2", 64, 64),
                                linear_names("net.4", 64, 1)}));
    EXPECT_EQ(dgm_mlp_layer_count(m.get()), 3);
    EXPECT_EQ(dgm_mlp_in_features(m.get()), 2);
    EXPECT_EQ(dgm_mlp_out_features(m.get()), 1);
    EXPECT_EQ(dgm_mlp_layer(m.get(), 1)->in_features, 64);
    EXPECT_EQ(dgm_mlp_layer(m.get(), 3), nullptr);
}

TEST(NnNames, BatchNormTakesAnIndexAndHasBuffers)
{
    // Linear(3,16), BatchNorm1d(16), ReLU(), Linear(16,8), BatchNorm1d(8), ReLU(), Linear(8,2).
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ParamsPtr p = make_params(ctx.get());
    dgm_mlp_config c = dgm_mlp_config_default();
    c.batch_norm = true;
    MlpPtr m = make_mlp(ctx.get(), p.get(), "net", {3, 16, 8, 2}, c);
    ASSERT_TRUE(m);
    expect_params(p.get(), cat({linear_names("net.0", 3, 16), bn_names("net.1", 16),
                                linear_names("net.3", 16, 8), bn_names("net.4", 8),
                                linear_names("net.6", 8, 2)}));
}

TEST(NnNames, MaxoutAndDropoutAsInGoodfellowsDiscriminator)
{
    // Dropout(0.2), Linear(784, 240·5), Maxout(5), Dropout(0.5), Linear(240, 240·5), Maxout(5),
    // Dropout(0.5), Linear(240, 1), Sigmoid().
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ParamsPtr p = make_params(ctx.get());
    dgm_mlp_config c = dgm_mlp_config_default();
    c.maxout_k = 5;
    c.dropout = 0.5f;
    c.input_dropout = 0.2f;
    c.output_activation = DGM_ACT_SIGMOID;
    MlpPtr m = make_mlp(ctx.get(), p.get(), "D", {784, 240, 240, 1}, c);
    ASSERT_TRUE(m);
    expect_params(p.get(), cat({linear_names("D.1", 784, 1200), linear_names("D.4", 240, 1200),
                                linear_names("D.7", 240, 1)}));
}

TEST(NnNames, NoActivationModuleNoPrefixNoBias)
{
    // nn.Sequential(Linear(4,8,bias=False), Dropout(0.1), Linear(8,8,bias=False), Dropout(0.1),
    // Linear(8,2,bias=False), Tanh()) saved bare: "0.weight", "2.weight", "4.weight".
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ParamsPtr p = make_params(ctx.get());
    dgm_mlp_config c = dgm_mlp_config_default();
    c.activation = DGM_ACT_NONE;
    c.dropout = 0.1f;
    c.bias = false;
    c.output_activation = DGM_ACT_TANH;
    MlpPtr m = make_mlp(ctx.get(), p.get(), nullptr, {4, 8, 8, 2}, c);
    ASSERT_TRUE(m);
    expect_params(p.get(), {{"0.weight", {8, 4}, false}, {"2.weight", {8, 8}, false},
                            {"4.weight", {2, 8}, false}});
    EXPECT_EQ(dgm_linear_bias(dgm_mlp_layer(m.get(), 0)), nullptr);
}

TEST(NnNames, ExplicitLinearNames)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ParamsPtr p = make_params(ctx.get());
    dgm_mlp_config c = dgm_mlp_config_default();
    const char *names[] = {"fc1", "fc2"};
    c.linear_names = names;
    c.batch_norm = true;
    MlpPtr m = make_mlp(ctx.get(), p.get(), "ignored", {5, 7, 3}, c);
    ASSERT_TRUE(m);
    expect_params(p.get(), cat({linear_names("fc1", 5, 7), bn_names("fc1_bn", 7),
                                linear_names("fc2", 7, 3)}));
}

TEST(NnNames, TwoMlpsInOneBlockAndLinearDeclare)
{
    // A velocity network and a head side by side in one block, in declaration order.
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ParamsPtr p = make_params(ctx.get());
    MlpPtr a = make_mlp(ctx.get(), p.get(), "net", {3, 4, 2}, dgm_mlp_config_default());
    dgm_linear head;
    DGM_ASSERT_OK(ctx.get(), dgm_linear_declare(p.get(), "head", 2, 6, true, DGM_NN_INIT_PYTORCH, 0, &head));
    expect_params(p.get(), cat({linear_names("net.0", 3, 4), linear_names("net.2", 4, 2),
                                linear_names("head", 2, 6)}));
    EXPECT_EQ(head.weight_index, 4);
    EXPECT_EQ(head.bias_index, 5);
    EXPECT_EQ(head.in_features, 2);
    EXPECT_EQ(head.out_features, 6);
    // Declaring the same names again is refused.
    dgm_mlp *again = nullptr;
    const int64_t w[] = {3, 4, 2};
    EXPECT_EQ(dgm_mlp_create(p.get(), "net", 3, w, nullptr, &again), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_NE(std::strstr(dgm_last_error(ctx.get()), "net.0.weight"), nullptr) << dgm_last_error(ctx.get());
    EXPECT_EQ(again, nullptr);
}

// ---- forward against double ----

TEST(NnForward, PlainMlpMatchesDouble)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 3);
    ParamsPtr p = make_params(ctx.get());
    dgm_mlp_config c = dgm_mlp_config_default();
    c.activation = DGM_ACT_LEAKY_RELU; // alpha 0: PyTorch's 0.01
    c.output_activation = DGM_ACT_SIGMOID;
    MlpPtr m = make_mlp(ctx.get(), p.get(), "net", {5, 7, 6, 3}, c);
    DGM_ASSERT_OK(ctx.get(), dgm_params_alloc(p.get()));
    std::mt19937 rng(1);
    const int64_t B = 9;
    std::vector<float> x = random_values(rng, B * 5, -2.0f, 2.0f);
    dgm_tensor *y = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_mlp_forward(ctx.get(), m.get(), from_host(ctx.get(), {B, 5}, x), true, &y));
    ASSERT_EQ(dgm_tensor_dim(y, 0), B);
    ASSERT_EQ(dgm_tensor_dim(y, 1), 3);

    Mat h = to_double(x);
    const int64_t w[] = {5, 7, 6, 3};
    int negative = 0;
    for (int l = 0; l < 3; l++) {
        const std::string n = "net." + std::to_string(2 * l);
        h = linear_ref(h, B, w[l], values(ctx.get(), p.get(), (n + ".weight").c_str()),
                       values(ctx.get(), p.get(), (n + ".bias").c_str()), w[l + 1]);
        for (double &v : h) {
            if (l < 2) {
                negative += v < 0;
                v = v > 0 ? v : 0.01 * v;
            } else {
                v = 1.0 / (1.0 + std::exp(-v));
            }
        }
    }
    EXPECT_GT(negative, 0); // the leaky slope was exercised
    expect_close(to_host(ctx.get(), y), h, 1e-5);
}

TEST(NnForward, MaxoutMatchesDouble)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 4);
    ParamsPtr p = make_params(ctx.get());
    dgm_mlp_config c = dgm_mlp_config_default();
    c.maxout_k = 3;
    MlpPtr m = make_mlp(ctx.get(), p.get(), "net", {4, 5, 2}, c);
    DGM_ASSERT_OK(ctx.get(), dgm_params_alloc(p.get()));
    std::mt19937 rng(2);
    const int64_t B = 6;
    std::vector<float> x = random_values(rng, B * 4, -1.0f, 1.0f);
    dgm_tensor *y = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_mlp_forward(ctx.get(), m.get(), from_host(ctx.get(), {B, 4}, x), false, &y));
    Mat z = linear_ref(to_double(x), B, 4, values(ctx.get(), p.get(), "net.0.weight"),
                       values(ctx.get(), p.get(), "net.0.bias"), 15);
    Mat h((size_t)(B * 5));
    for (int64_t r = 0; r < B; r++)
        for (int64_t u = 0; u < 5; u++) {
            double mx = z[(size_t)(r * 15 + u * 3)];
            for (int j = 1; j < 3; j++) mx = std::max(mx, z[(size_t)(r * 15 + u * 3 + j)]);
            h[(size_t)(r * 5 + u)] = mx;
        }
    Mat want = linear_ref(h, B, 5, values(ctx.get(), p.get(), "net.2.weight"),
                          values(ctx.get(), p.get(), "net.2.bias"), 2);
    expect_close(to_host(ctx.get(), y), want, 1e-5);
}

// Linear -> BatchNorm1d -> ReLU -> Linear, both modes, and the running statistics.
TEST(NnForward, BatchNormTrainingAndEval)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 5);
    ParamsPtr p = make_params(ctx.get());
    dgm_mlp_config c = dgm_mlp_config_default();
    c.batch_norm = true;
    MlpPtr m = make_mlp(ctx.get(), p.get(), "net", {3, 4, 2}, c);
    DGM_ASSERT_OK(ctx.get(), dgm_params_alloc(p.get()));
    // A non-trivial affine part, so the test sees gamma and beta used.
    const std::vector<float> gamma = {0.5f, 2.0f, -1.0f, 1.5f}, beta = {0.1f, -0.2f, 0.3f, 0.0f};
    DGM_ASSERT_OK(ctx.get(), dgm_tensor_copy_from_host(ctx.get(), dgm_params_get(p.get(), "net.1.weight"), gamma.data()));
    DGM_ASSERT_OK(ctx.get(), dgm_tensor_copy_from_host(ctx.get(), dgm_params_get(p.get(), "net.1.bias"), beta.data()));
    std::mt19937 rng(3);
    const int64_t B = 8;
    std::vector<float> x = random_values(rng, B * 3, -2.0f, 3.0f);
    const Mat z = linear_ref(to_double(x), B, 3, values(ctx.get(), p.get(), "net.0.weight"),
                             values(ctx.get(), p.get(), "net.0.bias"), 4);
    const Mat w2 = values(ctx.get(), p.get(), "net.3.weight"), b2 = values(ctx.get(), p.get(), "net.3.bias");
    auto reference = [&](const Mat &mean, const Mat &var) {
        Mat h((size_t)(B * 4));
        for (int64_t r = 0; r < B; r++)
            for (int f = 0; f < 4; f++) {
                double v = (z[(size_t)(r * 4 + f)] - mean[f]) / std::sqrt(var[f] + 1e-5) * gamma[f] + beta[f];
                h[(size_t)(r * 4 + f)] = v > 0 ? v : 0;
            }
        return linear_ref(h, B, 4, w2, b2, 2);
    };
    Mat mean(4, 0.0), var(4, 0.0), unbiased(4);
    for (int f = 0; f < 4; f++) {
        for (int64_t r = 0; r < B; r++) mean[f] += z[(size_t)(r * 4 + f)] / B;
        for (int64_t r = 0; r < B; r++) var[f] += std::pow(z[(size_t)(r * 4 + f)] - mean[f], 2);
        unbiased[f] = var[f] / (B - 1);
        var[f] /= B;
    }
    // Training: batch statistics (biased variance), running ones moved by momentum 0.1.
    dgm_tensor *y = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_mlp_forward(ctx.get(), m.get(), from_host(ctx.get(), {B, 3}, x), true, &y));
    expect_close(to_host(ctx.get(), y), reference(mean, var), 1e-4);
    Mat rm = values(ctx.get(), p.get(), "net.1.running_mean"), rv = values(ctx.get(), p.get(), "net.1.running_var");
    Mat want_rm(4), want_rv(4);
    for (int f = 0; f < 4; f++) {
        want_rm[f] = 0.1 * mean[f];
        want_rv[f] = 0.9 + 0.1 * unbiased[f];
        EXPECT_NEAR(rm[f], want_rm[f], 1e-5);
        EXPECT_NEAR(rv[f], want_rv[f], 1e-5);
    }
    // Eval: the running statistics, which stay put.
    DGM_ASSERT_OK(ctx.get(), dgm_mlp_forward(ctx.get(), m.get(), from_host(ctx.get(), {B, 3}, x), false, &y));
    expect_close(to_host(ctx.get(), y), reference(want_rm, want_rv), 1e-4);
    rm = values(ctx.get(), p.get(), "net.1.running_mean");
    for (int f = 0; f < 4; f++) EXPECT_NEAR(rm[f], want_rm[f], 1e-6);
}

// Dropout only when training: with an identity Linear, each output is 0 or x/(1-p).
TEST(NnForward, DropoutOnlyWhenTraining)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 6);
    ParamsPtr p = make_params(ctx.get());
    dgm_mlp_config c = dgm_mlp_config_default();
    c.input_dropout = 0.5f;
    MlpPtr m = make_mlp(ctx.get(), p.get(), "net", {8, 8}, c);
    expect_params(p.get(), linear_names("net.1", 8, 8)); // net.0 is the Dropout
    DGM_ASSERT_OK(ctx.get(), dgm_params_alloc(p.get()));
    std::vector<float> eye(64, 0.0f), zero(8, 0.0f);
    for (int i = 0; i < 8; i++) eye[(size_t)(9 * i)] = 1.0f;
    DGM_ASSERT_OK(ctx.get(), dgm_tensor_copy_from_host(ctx.get(), dgm_params_get(p.get(), "net.1.weight"), eye.data()));
    DGM_ASSERT_OK(ctx.get(), dgm_tensor_copy_from_host(ctx.get(), dgm_params_get(p.get(), "net.1.bias"), zero.data()));
    std::mt19937 rng(4);
    const int64_t B = 64;
    std::vector<float> x = random_values(rng, B * 8, 0.5f, 2.0f);
    dgm_tensor *xt = from_host(ctx.get(), {B, 8}, x), *y = nullptr;

    uint64_t seed0, off0, seed1, off1;
    dgm_ctx_rng_state(ctx.get(), &seed0, &off0);
    DGM_ASSERT_OK(ctx.get(), dgm_mlp_forward(ctx.get(), m.get(), xt, false, &y));
    dgm_ctx_rng_state(ctx.get(), &seed1, &off1);
    EXPECT_EQ(off1, off0); // eval draws nothing
    expect_close(to_host(ctx.get(), y), to_double(x), 1e-6);

    DGM_ASSERT_OK(ctx.get(), dgm_mlp_forward(ctx.get(), m.get(), xt, true, &y));
    dgm_ctx_rng_state(ctx.get(), &seed1, &off1);
    EXPECT_GE(off1, off0 + (uint64_t)(B * 8));
    std::vector<float> v = to_host(ctx.get(), y);
    int dropped = 0, kept = 0;
    for (size_t i = 0; i < v.size(); i++) {
        if (v[i] == 0.0f) dropped++;
        else if (std::fabs(v[i] - 2.0f * x[i]) < 1e-5f) kept++;
        else ADD_FAILURE() << "element " << i << " is " << v[i] << ", x is " << x[i];
    }
    EXPECT_GT(dropped, 150); // ~256 of 512
    EXPECT_GT(kept, 150);
}

// dL/d(last bias) of L = sum(y) is the batch size; every layer gets a gradient.
TEST(NnForward, BackwardReachesEveryLayer)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 7);
    ParamsPtr p = make_params(ctx.get());
    dgm_mlp_config c = dgm_mlp_config_default();
    c.batch_norm = true;
    c.activation = DGM_ACT_TANH;
    MlpPtr m = make_mlp(ctx.get(), p.get(), "net", {3, 6, 6, 2}, c);
    DGM_ASSERT_OK(ctx.get(), dgm_params_alloc(p.get()));
    std::mt19937 rng(5);
    const int64_t B = 10;
    dgm_tensor *y = nullptr, *loss = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_mlp_forward(ctx.get(), m.get(),
                                             from_host(ctx.get(), {B, 3}, random_values(rng, B * 3, -1, 1)), true, &y));
    DGM_ASSERT_OK(ctx.get(), dgm_sum(ctx.get(), y, DGM_AXIS_ALL, &loss));
    DGM_ASSERT_OK(ctx.get(), dgm_backward(ctx.get(), loss));
    // The CPU backend's gradient buffer is host memory: trainable tensors in declaration order.
    const float *all = dgm_params_grads(p.get());
    ASSERT_NE(all, nullptr);
    int64_t off = 0;
    for (int i = 0; i < dgm_params_count(p.get()); i++) {
        if (dgm_params_is_buffer(p.get(), i)) continue;
        const int64_t n = dgm_tensor_numel(dgm_params_at(p.get(), i));
        double norm = 0;
        for (int64_t j = 0; j < n; j++) norm += std::fabs(all[off + j]);
        EXPECT_GT(norm, 0.0) << dgm_params_name(p.get(), i);
        if (std::string(dgm_params_name(p.get(), i)) == "net.6.bias") {
            for (int64_t j = 0; j < n; j++) EXPECT_NEAR(all[off + j], (float)B, 1e-4);
        }
        off += n;
    }
    EXPECT_EQ(off, dgm_params_numel(p.get()));
}

TEST(NnForward, LinearForwardFusesTheActivation)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 8);
    ParamsPtr p = make_params(ctx.get());
    dgm_linear l;
    DGM_ASSERT_OK(ctx.get(), dgm_linear_declare(p.get(), "fc", 3, 2, true, DGM_NN_INIT_PYTORCH, 0, &l));
    dgm_tensor *y = nullptr;
    std::vector<float> x = {1, -2, 3, -4, 5, -6};
    dgm_tensor *xt = from_host(ctx.get(), {2, 3}, x);
    EXPECT_EQ(dgm_linear_forward(ctx.get(), &l, xt, DGM_ACT_NONE, 0, &y), DGM_STATUS_STATE_ERROR);
    EXPECT_NE(std::strstr(dgm_last_error(ctx.get()), "dgm_params_alloc"), nullptr);
    DGM_ASSERT_OK(ctx.get(), dgm_params_alloc(p.get()));
    DGM_ASSERT_OK(ctx.get(), dgm_linear_forward(ctx.get(), &l, xt, DGM_ACT_ELU, 0.7f, &y));
    Mat z = linear_ref(to_double(x), 2, 3, values(ctx.get(), p.get(), "fc.weight"),
                       values(ctx.get(), p.get(), "fc.bias"), 2);
    for (double &v : z) v = v > 0 ? v : 0.7 * std::expm1(v);
    expect_close(to_host(ctx.get(), y), z, 1e-5);
    // A wrong input width is a shape error naming both shapes.
    EXPECT_EQ(dgm_linear_forward(ctx.get(), &l, from_host(ctx.get(), {3, 2}, x), DGM_ACT_NONE, 0, &y),
              DGM_STATUS_SHAPE_MISMATCH);
    EXPECT_NE(std::strstr(dgm_last_error(ctx.get()), "[3, 2]"), nullptr) << dgm_last_error(ctx.get());
}

// ---- initialization ----

struct Stats {
    double mean = 0, std = 0, min = 1e30, max = -1e30;
};
Stats stats(const Mat &v)
{
    Stats s;
    for (double x : v) s.mean += x, s.min = std::min(s.min, x), s.max = std::max(s.max, x);
    s.mean /= (double)v.size();
    for (double x : v) s.std += (x - s.mean) * (x - s.mean);
    s.std = std::sqrt(s.std / (double)v.size());
    return s;
}

TEST(NnInit, PytorchDefaultBounds)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 9);
    ParamsPtr p = make_params(ctx.get());
    MlpPtr m = make_mlp(ctx.get(), p.get(), "net", {400, 300, 1000}, dgm_mlp_config_default());
    DGM_ASSERT_OK(ctx.get(), dgm_params_alloc(p.get()));
    const std::pair<const char *, double> cases[] = {
        {"net.0.weight", 400}, {"net.0.bias", 400}, {"net.2.weight", 300}, {"net.2.bias", 300}};
    for (auto [name, fan_in] : cases) {
        SCOPED_TRACE(name);
        const double bound = 1.0 / std::sqrt(fan_in);
        Mat v = values(ctx.get(), p.get(), name);
        Stats s = stats(v);
        EXPECT_GE(s.min, -bound);
        EXPECT_LE(s.max, bound);
        EXPECT_LT(s.min, -0.9 * bound); // fills the interval
        EXPECT_GT(s.max, 0.9 * bound);
        const double n = (double)v.size();
        EXPECT_NEAR(s.mean, 0.0, 5.0 * bound / std::sqrt(3.0 * n));
        EXPECT_NEAR(s.std, bound / std::sqrt(3.0), 0.1 * bound / std::sqrt(3.0) + 4 * bound / std::sqrt(n));
    }
}

TEST(NnInit, NormalWithZeroBiasAndZeroLast)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 10);
    ParamsPtr p = make_params(ctx.get());
    dgm_mlp_config c = dgm_mlp_config_default();
    c.init = DGM_NN_INIT_NORMAL;
    c.init_std = 0.05f;
    c.zero_last = true;
    MlpPtr m = make_mlp(ctx.get(), p.get(), "net", {300, 400, 7}, c);
    DGM_ASSERT_OK(ctx.get(), dgm_params_alloc(p.get()));
    Mat w = values(ctx.get(), p.get(), "net.0.weight");
    Stats s = stats(w);
    const double n = (double)w.size();
    EXPECT_NEAR(s.mean, 0.0, 5 * 0.05 / std::sqrt(n));
    EXPECT_NEAR(s.std, 0.05, 0.05 * 0.02);
    EXPECT_GT(s.max, 3 * 0.05); // a normal's tails, not a uniform's
    for (double b : values(ctx.get(), p.get(), "net.0.bias")) EXPECT_EQ(b, 0.0);
    for (const char *name : {"net.2.weight", "net.2.bias"})
        for (double v : values(ctx.get(), p.get(), name)) ASSERT_EQ(v, 0.0) << name;
}

TEST(NnInit, ZeroLastWithPytorchDefaultAndLinearZeros)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 11);
    ParamsPtr p = make_params(ctx.get());
    dgm_mlp_config c = dgm_mlp_config_default();
    c.zero_last = true;
    MlpPtr m = make_mlp(ctx.get(), p.get(), "s", {4, 16, 16, 4}, c);
    dgm_linear z;
    DGM_ASSERT_OK(ctx.get(), dgm_linear_declare(p.get(), "z", 5, 5, true, DGM_NN_INIT_ZEROS, 0, &z));
    DGM_ASSERT_OK(ctx.get(), dgm_params_alloc(p.get()));
    EXPECT_GT(stats(values(ctx.get(), p.get(), "s.2.weight")).max, 0.0);
    for (const char *name : {"s.4.weight", "s.4.bias", "z.weight", "z.bias"})
        for (double v : values(ctx.get(), p.get(), name)) ASSERT_EQ(v, 0.0) << name;
    // A zero last layer gives exactly zero output (a RealNVP coupling starts as the identity).
    dgm_tensor *y = nullptr;
    std::vector<float> x(12, 0.7f);
    DGM_ASSERT_OK(ctx.get(), dgm_mlp_forward(ctx.get(), m.get(), from_host(ctx.get(), {3, 4}, x), true, &y));
    for (float v : to_host(ctx.get(), y)) EXPECT_EQ(v, 0.0f);
}

// The default PyTorch init declares through dgm_params_add_linear, so a model moved onto
// the layers draws the same initial weights as before.
TEST(NnInit, SameDrawsAsParamsAddLinear)
{
    CtxPtr a = make_ctx(DGM_DEVICE_CPU, 12), b = make_ctx(DGM_DEVICE_CPU, 12);
    ParamsPtr pa = make_params(a.get()), pb = make_params(b.get());
    MlpPtr m = make_mlp(a.get(), pa.get(), "n", {6, 5, 4}, dgm_mlp_config_default());
    DGM_ASSERT_OK(b.get(), dgm_params_add_linear(pb.get(), "n.0", 6, 5, true));
    DGM_ASSERT_OK(b.get(), dgm_params_add_linear(pb.get(), "n.2", 5, 4, true));
    DGM_ASSERT_OK(a.get(), dgm_params_alloc(pa.get()));
    DGM_ASSERT_OK(b.get(), dgm_params_alloc(pb.get()));
    for (const char *name : {"n.0.weight", "n.0.bias", "n.2.weight", "n.2.bias"})
        EXPECT_EQ(values(a.get(), pa.get(), name), values(b.get(), pb.get(), name)) << name;
}

// ---- time embedding ----

// DDPM's get_timestep_embedding in double.
Mat embedding_ref(const std::vector<float> &t, int dim)
{
    const int half = dim / 2;
    Mat out((size_t)t.size() * dim, 0.0);
    for (size_t b = 0; b < t.size(); b++)
        for (int i = 0; i < half; i++) {
            const double f = half > 1 ? std::exp(-std::log(10000.0) * i / (half - 1)) : 1.0;
            out[b * dim + i] = std::sin(t[b] * f);
            out[b * dim + half + i] = std::cos(t[b] * f);
        }
    return out;
}

TEST(NnTimeEmbedding, MatchesTheFormula)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    const std::vector<float> t = {0.0f, 1.0f, 17.0f, 999.0f, 0.25f, 500.0f};
    for (int dim : {2, 3, 8, 9, 128}) {
        SCOPED_TRACE("dim " + std::to_string(dim));
        dgm_time_embedding *raw = nullptr;
        DGM_ASSERT_OK(ctx.get(), dgm_time_embedding_create(ctx.get(), dim, &raw));
        EmbPtr e(raw);
        EXPECT_EQ(dgm_time_embedding_dim(e.get()), dim);
        const Mat want = embedding_ref(t, dim);
        for (std::vector<int64_t> shape : {std::vector<int64_t>{6}, std::vector<int64_t>{6, 1}}) {
            dgm_tensor *y = nullptr;
            DGM_ASSERT_OK(ctx.get(), dgm_time_embedding_forward(ctx.get(), e.get(), from_host(ctx.get(), shape, t), &y));
            ASSERT_EQ(dgm_tensor_ndim(y), 2);
            ASSERT_EQ(dgm_tensor_dim(y, 0), 6);
            ASSERT_EQ(dgm_tensor_dim(y, 1), dim);
            std::vector<float> got = to_host(ctx.get(), y);
            // t·f is a float product: at t = 999 its rounding moves the angle by ~3e-5.
            for (size_t i = 0; i < got.size(); i++) EXPECT_NEAR(got[i], want[i], 2e-4) << "element " << i;
            if (dim % 2) {
                for (int b = 0; b < 6; b++) EXPECT_EQ(got[(size_t)(b * dim + dim - 1)], 0.0f);
            }
        }
        DGM_ASSERT_OK(ctx.get(), dgm_ctx_step_end(ctx.get()));
    }
}

TEST(NnTimeEmbedding, KnownValuesAndNoGradientToT)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    dgm_time_embedding *raw = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_time_embedding_create(ctx.get(), 4, &raw));
    EmbPtr e(raw);
    // dim 4: frequencies 1 and 1/10000.
    dgm_tensor *t = from_host(ctx.get(), {1}, {2.0f}), *y = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_tensor_set_requires_grad(t, true));
    DGM_ASSERT_OK(ctx.get(), dgm_time_embedding_forward(ctx.get(), e.get(), t, &y));
    std::vector<float> v = to_host(ctx.get(), y);
    EXPECT_NEAR(v[0], std::sin(2.0), 1e-6);
    EXPECT_NEAR(v[1], std::sin(2e-4), 1e-9);
    EXPECT_NEAR(v[2], std::cos(2.0), 1e-6);
    EXPECT_NEAR(v[3], std::cos(2e-4), 1e-7);
    EXPECT_FALSE(dgm_tensor_requires_grad(y));
    EXPECT_TRUE(dgm_ctx_grad_enabled(ctx.get())); // restored
}

TEST(NnTimeEmbedding, SinCosKindsAndDerivatives)
{
    for (float x : {-3.0f, -0.5f, 0.0f, 1.25f, 40.0f}) {
        EXPECT_NEAR(dgm_unary_forward(DGM_UNARY_SIN, x, 0, 0), std::sin(x), 1e-6);
        EXPECT_NEAR(dgm_unary_forward(DGM_UNARY_COS, x, 0, 0), std::cos(x), 1e-6);
        EXPECT_NEAR(dgm_unary_derivative(DGM_UNARY_SIN, x, std::sin(x), 0, 0), std::cos(x), 1e-6);
        EXPECT_NEAR(dgm_unary_derivative(DGM_UNARY_COS, x, std::cos(x), 0, 0), -std::sin(x), 1e-6);
    }
}

TEST(NnTimeEmbedding, BadArguments)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    dgm_time_embedding *raw = nullptr;
    EXPECT_EQ(dgm_time_embedding_create(ctx.get(), 1, &raw), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_NE(std::strstr(dgm_last_error(ctx.get()), "dim is 1"), nullptr) << dgm_last_error(ctx.get());
    EXPECT_EQ(raw, nullptr);
    DGM_ASSERT_OK(ctx.get(), dgm_time_embedding_create(ctx.get(), 6, &raw));
    EmbPtr e(raw);
    dgm_tensor *y = nullptr;
    EXPECT_EQ(dgm_time_embedding_forward(ctx.get(), e.get(), from_host(ctx.get(), {3, 2}, {1, 2, 3, 4, 5, 6}), &y),
              DGM_STATUS_SHAPE_MISMATCH);
    EXPECT_NE(std::strstr(dgm_last_error(ctx.get()), "[3, 2]"), nullptr) << dgm_last_error(ctx.get());
    EXPECT_EQ(dgm_time_embedding_forward(ctx.get(), nullptr, from_host(ctx.get(), {1}, {1}), &y),
              DGM_STATUS_INVALID_ARGUMENT);
    dgm_time_embedding_free(nullptr);
}

// ---- bad configurations ----

TEST(NnErrors, BadConfigsAreRefusedWithAMessageAndDeclareNothing)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ParamsPtr p = make_params(ctx.get());
    struct Case {
        const char *what;
        std::vector<int64_t> widths;
        void (*edit)(dgm_mlp_config &);
        const char *message;
    };
    const char *null_names[] = {"a", nullptr};
    static const char *const *names_with_null;
    names_with_null = null_names;
    const Case cases[] = {
        {"zero width", {3, 0, 1}, [](dgm_mlp_config &) {}, "width 1 is 0"},
        {"one width", {3}, [](dgm_mlp_config &) {}, "1 widths"},
        {"maxout 0", {3, 4, 1}, [](dgm_mlp_config &c) { c.maxout_k = 0; }, "maxout_k is 0"},
        {"dropout 1", {3, 4, 1}, [](dgm_mlp_config &c) { c.dropout = 1.0f; }, "dropout"},
        {"input dropout < 0", {3, 4, 1}, [](dgm_mlp_config &c) { c.input_dropout = -0.1f; }, "input_dropout"},
        {"bn eps 0", {3, 4, 1}, [](dgm_mlp_config &c) { c.batch_norm = true, c.bn_eps = 0.0f; }, "bn_eps"},
        {"bn momentum 2", {3, 4, 1}, [](dgm_mlp_config &c) { c.batch_norm = true, c.bn_momentum = 2.0f; }, "bn_momentum"},
        {"std nan", {3, 4, 1}, [](dgm_mlp_config &c) { c.init = DGM_NN_INIT_NORMAL, c.init_std = NAN; }, "init_std"},
        {"activation", {3, 4, 1}, [](dgm_mlp_config &c) { c.activation = (dgm_activation)99; }, "activation 99"},
        {"init", {3, 4, 1}, [](dgm_mlp_config &c) { c.init = (dgm_nn_init)7; }, "init 7"},
        {"null name", {3, 4, 1}, [](dgm_mlp_config &c) { c.linear_names = names_with_null; }, "linear_names[1]"},
    };
    for (const Case &k : cases) {
        SCOPED_TRACE(k.what);
        dgm_mlp_config c = dgm_mlp_config_default();
        k.edit(c);
        dgm_mlp *m = reinterpret_cast<dgm_mlp *>(&c); // must be cleared
        EXPECT_EQ(dgm_mlp_create(p.get(), "net", (int)k.widths.size(), k.widths.data(), &c, &m),
                  DGM_STATUS_INVALID_ARGUMENT);
        EXPECT_EQ(m, nullptr);
        EXPECT_NE(std::strstr(dgm_last_error(ctx.get()), k.message), nullptr) << dgm_last_error(ctx.get());
        EXPECT_EQ(dgm_params_count(p.get()), 0);
    }
    std::vector<int64_t> many(DGM_MLP_MAX_LAYERS + 2, 4);
    dgm_mlp *m = nullptr;
    EXPECT_EQ(dgm_mlp_create(p.get(), "net", (int)many.size(), many.data(), nullptr, &m), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_mlp_create(nullptr, "net", 2, many.data(), nullptr, &m), DGM_STATUS_INVALID_ARGUMENT);
    dgm_linear l;
    EXPECT_EQ(dgm_linear_declare(p.get(), "fc", 0, 3, true, DGM_NN_INIT_PYTORCH, 0, &l), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_NE(std::strstr(dgm_last_error(ctx.get()), "in_features 0"), nullptr) << dgm_last_error(ctx.get());
    EXPECT_EQ(dgm_linear_declare(p.get(), "fc", 2, 3, true, DGM_NN_INIT_NORMAL, -1.0f, &l), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_linear_declare(p.get(), "", 2, 3, true, DGM_NN_INIT_PYTORCH, 0, &l), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_params_count(p.get()), 0);
    dgm_mlp_free(nullptr);
}

TEST(NnErrors, OutOfOrderCalls)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ParamsPtr p = make_params(ctx.get());
    MlpPtr m = make_mlp(ctx.get(), p.get(), "net", {2, 3, 1}, dgm_mlp_config_default());
    dgm_tensor *x = from_host(ctx.get(), {4, 2}, std::vector<float>(8, 1.0f)), *y = nullptr;
    EXPECT_EQ(dgm_mlp_forward(ctx.get(), m.get(), x, true, &y), DGM_STATUS_STATE_ERROR);
    EXPECT_NE(std::strstr(dgm_last_error(ctx.get()), "dgm_params_alloc"), nullptr);
    DGM_ASSERT_OK(ctx.get(), dgm_params_alloc(p.get()));
    dgm_mlp *late = nullptr;
    const int64_t w[] = {2, 1};
    EXPECT_EQ(dgm_mlp_create(p.get(), "other", 2, w, nullptr, &late), DGM_STATUS_STATE_ERROR);
    // Another context's tensors and layers are refused.
    CtxPtr other = make_ctx(DGM_DEVICE_CPU);
    dgm_tensor *xo = from_host(other.get(), {4, 2}, std::vector<float>(8, 1.0f));
    EXPECT_EQ(dgm_mlp_forward(other.get(), m.get(), xo, true, &y), DGM_STATUS_WRONG_DEVICE);
    // Batch norm in training needs two rows.
    ParamsPtr pb = make_params(ctx.get());
    dgm_mlp_config c = dgm_mlp_config_default();
    c.batch_norm = true;
    MlpPtr bn = make_mlp(ctx.get(), pb.get(), "net", {2, 3, 1}, c);
    DGM_ASSERT_OK(ctx.get(), dgm_params_alloc(pb.get()));
    EXPECT_EQ(dgm_mlp_forward(ctx.get(), bn.get(), from_host(ctx.get(), {1, 2}, {1, 2}), true, &y),
              DGM_STATUS_INVALID_ARGUMENT);
    DGM_ASSERT_OK(ctx.get(), dgm_mlp_forward(ctx.get(), bn.get(), from_host(ctx.get(), {1, 2}, {1, 2}), false, &y));
}


// ---- CUDA against CPU (skipped without a GPU) ----

// A training step of an MLP with every module kind, and the time embedding, on both
// backends from the same seed (same initial weights and dropout masks: cuRAND's Philox on
// both). Gradients are compared through the weights after one SGD step of lr 1 (w − g).
TEST(NnCudaParity, MlpStepAndTimeEmbeddingMatchCpu)
{
    SKIP_WITHOUT_GPU();
    std::string why;
    CtxPtr cpu = make_ctx(DGM_DEVICE_CPU, 21), gpu = make_ctx(DGM_DEVICE_CUDA, 21, &why);
    ASSERT_TRUE(cpu);
    ASSERT_TRUE(gpu) << why;
    dgm_mlp_config c = dgm_mlp_config_default();
    c.batch_norm = true;
    c.maxout_k = 2;
    c.dropout = 0.3f;
    c.input_dropout = 0.1f;
    c.output_activation = DGM_ACT_TANH;
    std::mt19937 rng(8);
    const int64_t B = 32;
    const std::vector<float> x = random_values(rng, B * 5, -1.0f, 1.0f);
    std::vector<float> t(B);
    for (int64_t i = 0; i < B; i++) t[(size_t)i] = (float)(i * 31 % 1000);
    std::vector<std::vector<float>> results[2];
    dgm_ctx *ctxs[2] = {cpu.get(), gpu.get()};
    for (int d = 0; d < 2; d++) {
        dgm_ctx *ctx = ctxs[d];
        ParamsPtr p = make_params(ctx);
        MlpPtr m = make_mlp(ctx, p.get(), "net", {5 + 16, 12, 12, 3}, c);
        DGM_ASSERT_OK(ctx, dgm_params_alloc(p.get()));
        dgm_time_embedding *raw = nullptr;
        DGM_ASSERT_OK(ctx, dgm_time_embedding_create(ctx, 16, &raw));
        EmbPtr e(raw);
        dgm_tensor *emb = nullptr, *in = nullptr, *y = nullptr, *loss = nullptr;
        DGM_ASSERT_OK(ctx, dgm_time_embedding_forward(ctx, e.get(), from_host(ctx, {B}, t), &emb));
        DGM_ASSERT_OK(ctx, dgm_concat_cols(ctx, from_host(ctx, {B, 5}, x), emb, &in));
        DGM_ASSERT_OK(ctx, dgm_mlp_forward(ctx, m.get(), in, true, &y));
        DGM_ASSERT_OK(ctx, dgm_sum(ctx, y, DGM_AXIS_ALL, &loss));
        DGM_ASSERT_OK(ctx, dgm_backward(ctx, loss));
        results[d].push_back(to_host(ctx, emb));
        results[d].push_back(to_host(ctx, y));
        DGM_ASSERT_OK(ctx, dgm_params_sgd_step(p.get(), 1.0f));
        for (int i = 0; i < dgm_params_count(p.get()); i++) results[d].push_back(to_host(ctx, dgm_params_at(p.get(), i)));
    }
    ASSERT_EQ(results[0].size(), results[1].size());
    for (size_t k = 0; k < results[0].size(); k++) {
        ASSERT_EQ(results[0][k].size(), results[1][k].size());
        for (size_t i = 0; i < results[0][k].size(); i++)
            EXPECT_NEAR(results[1][k][i], results[0][k][i], 1e-4 + 1e-4 * std::fabs(results[0][k][i]))
                << "result " << k << " element " << i;
    }
}

} // namespace
