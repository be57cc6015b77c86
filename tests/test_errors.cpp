// Bad input, one test per class: each checks the status and that dgm_last_error names the
// operation (and, for shape errors, the shapes). Nothing here may crash.
#include <cmath>
#include <initializer_list>
#include <limits>
#include <memory>

#include "test_util.h"

using namespace dgmtest;

namespace {

struct ParamsDeleter {
    void operator()(dgm_params *p) const { dgm_params_free(p); }
};
using ParamsPtr = std::unique_ptr<dgm_params, ParamsDeleter>;

// `got` is `want` and the context's message contains every needle.
::testing::AssertionResult failed_with(dgm_ctx *ctx, dgm_status got, dgm_status want,
                                       std::initializer_list<const char *> needles)
{
    const std::string msg = ctx ? dgm_last_error(ctx) : "";
    if (got != want)
        return ::testing::AssertionFailure() << "status " << dgm_status_name(got) << ", expected "
                                             << dgm_status_name(want) << " (message: \"" << msg
                                             << "\")";
    for (const char *n : needles)
        if (msg.find(n) == std::string::npos)
            return ::testing::AssertionFailure() << "message \"" << msg << "\" lacks \"" << n << "\"";
    return ::testing::AssertionSuccess();
}

#define EXPECT_FAILS(ctx, expr, want, ...) \
    EXPECT_TRUE(failed_with((ctx), (expr), (want), {__VA_ARGS__})) << #expr

class Errors : public ::testing::Test {
protected:
    void SetUp() override
    {
        ctx_ = make_ctx(DGM_DEVICE_CPU, 3);
        ASSERT_TRUE(ctx_);
        c = ctx_.get();
    }
    dgm_tensor *T(std::vector<int64_t> shape, float value = 0.5f)
    {
        std::vector<float> v((size_t)numel(shape), value);
        return from_host(c, shape, v);
    }
    CtxPtr ctx_;
    dgm_ctx *c = nullptr;
};

TEST_F(Errors, NullTensorsAndOutPointers)
{
    dgm_tensor *a = T({4, 5}), *b = T({5, 3}), *out = nullptr;
    EXPECT_FAILS(c, dgm_matmul(c, nullptr, false, b, false, nullptr, DGM_ACT_NONE, 0, &out),
                 DGM_STATUS_INVALID_ARGUMENT, "matmul", "a is NULL");
    EXPECT_FAILS(c, dgm_matmul(c, a, false, nullptr, false, nullptr, DGM_ACT_NONE, 0, &out),
                 DGM_STATUS_INVALID_ARGUMENT, "matmul", "b is NULL");
    EXPECT_FAILS(c, dgm_matmul(c, a, false, b, false, nullptr, DGM_ACT_NONE, 0, nullptr),
                 DGM_STATUS_INVALID_ARGUMENT, "matmul", "out");
    EXPECT_FAILS(c, dgm_add(c, a, nullptr, &out), DGM_STATUS_INVALID_ARGUMENT, "add", "NULL");
    EXPECT_FAILS(c, dgm_mul(c, nullptr, a, &out), DGM_STATUS_INVALID_ARGUMENT, "mul", "NULL");
    EXPECT_FAILS(c, dgm_sum(c, nullptr, DGM_AXIS_ALL, &out), DGM_STATUS_INVALID_ARGUMENT, "sum");
    EXPECT_FAILS(c, dgm_tanh(c, nullptr, &out), DGM_STATUS_INVALID_ARGUMENT, "tanh");
    EXPECT_FAILS(c, dgm_exp(c, a, nullptr), DGM_STATUS_INVALID_ARGUMENT, "exp", "out");
    EXPECT_FAILS(c, dgm_concat_cols(c, a, nullptr, &out), DGM_STATUS_INVALID_ARGUMENT, "concat");
    EXPECT_FAILS(c, dgm_slice_cols(c, nullptr, 0, 1, &out), DGM_STATUS_INVALID_ARGUMENT, "slice");
    EXPECT_FAILS(c, dgm_maxout(c, nullptr, 2, &out), DGM_STATUS_INVALID_ARGUMENT, "maxout");
    EXPECT_FAILS(c, dgm_dropout(c, a, 0.5f, true, nullptr), DGM_STATUS_INVALID_ARGUMENT,
                 "dropout", "out");
    EXPECT_FAILS(c, dgm_batchnorm(c, nullptr, nullptr, nullptr, nullptr, nullptr, true, 0.1f,
                                  1e-5f, &out),
                 DGM_STATUS_INVALID_ARGUMENT, "batchnorm", "x");
    EXPECT_FAILS(c, dgm_mse(c, nullptr, a, DGM_REDUCTION_MEAN, &out), DGM_STATUS_INVALID_ARGUMENT,
                 "mse");
    EXPECT_FAILS(c, dgm_bce_with_logits(c, a, nullptr, DGM_REDUCTION_SUM, &out),
                 DGM_STATUS_INVALID_ARGUMENT, "bce_with_logits");
    EXPECT_FAILS(c, dgm_bernoulli(c, nullptr, &out), DGM_STATUS_INVALID_ARGUMENT, "bernoulli");
    EXPECT_FAILS(c, dgm_reshape(c, nullptr, 1, nullptr, &out), DGM_STATUS_INVALID_ARGUMENT,
                 "reshape");
    EXPECT_FAILS(c, dgm_backward(c, nullptr), DGM_STATUS_INVALID_ARGUMENT, "dgm_backward");
    EXPECT_FAILS(c, dgm_grad(c, nullptr, &out), DGM_STATUS_INVALID_ARGUMENT, "dgm_grad");
    EXPECT_FAILS(c, dgm_tensor_to_host(c, a, nullptr), DGM_STATUS_INVALID_ARGUMENT,
                 "dgm_tensor_to_host", "dst");
    EXPECT_FAILS(c, dgm_tensor_to_host(c, nullptr, nullptr), DGM_STATUS_INVALID_ARGUMENT,
                 "dgm_tensor_to_host");
    EXPECT_FAILS(c, dgm_tensor_copy(c, a, nullptr), DGM_STATUS_INVALID_ARGUMENT,
                 "dgm_tensor_copy", "src");
    EXPECT_FAILS(c, dgm_tensor_fill(c, nullptr, 1.0f), DGM_STATUS_INVALID_ARGUMENT,
                 "dgm_tensor_fill");
    const int64_t shape[1] = {3};
    EXPECT_FAILS(c, dgm_tensor_from_host(c, 1, shape, nullptr, &out), DGM_STATUS_INVALID_ARGUMENT,
                 "dgm_tensor_from_host", "data");
    EXPECT_FAILS(c, dgm_tensor_new(c, 1, shape, nullptr), DGM_STATUS_INVALID_ARGUMENT,
                 "dgm_tensor_new", "out");
    EXPECT_FAILS(c, dgm_tensor_create(c, 1, shape, nullptr), DGM_STATUS_INVALID_ARGUMENT,
                 "dgm_tensor_create", "out");
    EXPECT_FAILS(c, dgm_params_create(c, nullptr), DGM_STATUS_INVALID_ARGUMENT,
                 "dgm_params_create");
    EXPECT_EQ(out, nullptr);

    // A NULL context is refused, not dereferenced.
    EXPECT_EQ(dgm_add(nullptr, a, a, &out), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_tensor_new(nullptr, 1, shape, &out), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_ctx_step_end(nullptr), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_backward(nullptr, a), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_ctx_create(nullptr, nullptr), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_NE(dgm_last_error(nullptr), nullptr);

    // A NULL parameter block.
    EXPECT_EQ(dgm_params_add_linear(nullptr, "fc", 2, 2, true), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_params_alloc(nullptr), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_params_zero_grad(nullptr), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_params_sgd_step(nullptr, 0.1f), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_params_get(nullptr, "x"), nullptr);
}

TEST_F(Errors, MatmulInnerDimensions)
{
    dgm_tensor *a = T({4, 5}), *b = T({4, 3}), *out = nullptr;
    EXPECT_FAILS(c, dgm_matmul(c, a, false, b, false, nullptr, DGM_ACT_NONE, 0, &out),
                 DGM_STATUS_SHAPE_MISMATCH, "matmul", "[4, 5]", "[4, 3]");
    EXPECT_EQ(out, nullptr);
    // Transposes change which dimension is inner: a^T [5, 4] · b [4, 3] is fine ...
    EXPECT_EQ(dgm_matmul(c, a, true, b, false, nullptr, DGM_ACT_NONE, 0, &out), DGM_STATUS_OK)
        << dgm_last_error(c);
    EXPECT_EQ(dgm_tensor_dim(out, 0), 5);
    EXPECT_EQ(dgm_tensor_dim(out, 1), 3);
    // ... and a · b^T [5 vs 3] is not.
    EXPECT_FAILS(c, dgm_matmul(c, a, false, b, true, nullptr, DGM_ACT_NONE, 0, &out),
                 DGM_STATUS_SHAPE_MISMATCH, "matmul", "[4, 5]", "[4, 3]");
}

TEST_F(Errors, MatmulBias)
{
    dgm_tensor *a = T({4, 5}), *b = T({5, 3}), *bias = T({4}), *out = nullptr;
    EXPECT_FAILS(c, dgm_matmul(c, a, false, b, false, bias, DGM_ACT_RELU, 0, &out),
                 DGM_STATUS_SHAPE_MISMATCH, "matmul", "bias", "[4]", "[4, 5]", "[5, 3]");
    EXPECT_EQ(out, nullptr);
}

TEST_F(Errors, ElementwiseNotBroadcastable)
{
    dgm_tensor *a = T({3, 4}), *out = nullptr;
    EXPECT_FAILS(c, dgm_add(c, a, T({5}), &out), DGM_STATUS_SHAPE_MISMATCH, "add", "[3, 4]",
                 "[5]");
    EXPECT_FAILS(c, dgm_sub(c, a, T({4, 3}), &out), DGM_STATUS_SHAPE_MISMATCH, "sub", "[3, 4]",
                 "[4, 3]");
    EXPECT_FAILS(c, dgm_mul(c, T({2, 1}), a, &out), DGM_STATUS_SHAPE_MISMATCH, "mul", "[2, 1]",
                 "[3, 4]");
    EXPECT_FAILS(c, dgm_div(c, a, T({1, 3}), &out), DGM_STATUS_SHAPE_MISMATCH, "div", "[3, 4]",
                 "[1, 3]");
    EXPECT_FAILS(c, dgm_mse(c, a, T({2, 6}), DGM_REDUCTION_MEAN, &out), DGM_STATUS_SHAPE_MISMATCH,
                 "mse", "[3, 4]", "[2, 6]");
    EXPECT_FAILS(c, dgm_kl_normal(c, a, T({3, 5}), DGM_REDUCTION_SUM, &out),
                 DGM_STATUS_SHAPE_MISMATCH, "kl_normal", "[3, 4]", "[3, 5]");
    EXPECT_EQ(out, nullptr);
    // The documented layouts do broadcast.
    for (std::vector<int64_t> s : {std::vector<int64_t>{3, 4}, {4}, {1, 4}, {3, 1}, {1}}) {
        EXPECT_EQ(dgm_add(c, a, T(s), &out), DGM_STATUS_OK) << dgm_last_error(c);
        EXPECT_EQ(dgm_tensor_numel(out), 12);
    }
}

TEST_F(Errors, ConcatRows)
{
    dgm_tensor *out = nullptr;
    EXPECT_FAILS(c, dgm_concat_cols(c, T({3, 2}), T({4, 2}), &out), DGM_STATUS_SHAPE_MISMATCH,
                 "concat", "[3, 2]", "[4, 2]");
    EXPECT_EQ(out, nullptr);
}

TEST_F(Errors, BatchnormVectorSizes)
{
    dgm_tensor *x = T({6, 3}), *out = nullptr;
    EXPECT_FAILS(c, dgm_batchnorm(c, x, T({4}), T({3}), nullptr, nullptr, true, 0.1f, 1e-5f, &out),
                 DGM_STATUS_SHAPE_MISMATCH, "batchnorm", "weight", "[4]", "[6, 3]");
    EXPECT_FAILS(c, dgm_batchnorm(c, x, T({3}), T({1, 2}), nullptr, nullptr, true, 0.1f, 1e-5f,
                                  &out),
                 DGM_STATUS_SHAPE_MISMATCH, "batchnorm", "bias", "[1, 2]", "[6, 3]");
    EXPECT_FAILS(c, dgm_batchnorm(c, x, nullptr, nullptr, T({3}), T({2}), false, 0.1f, 1e-5f,
                                  &out),
                 DGM_STATUS_SHAPE_MISMATCH, "batchnorm", "running_var", "[2]", "[6, 3]");
    EXPECT_EQ(out, nullptr);
    // Invalid eps / momentum.
    EXPECT_FAILS(c, dgm_batchnorm(c, x, nullptr, nullptr, nullptr, nullptr, true, 0.1f, 0.0f, &out),
                 DGM_STATUS_INVALID_ARGUMENT, "batchnorm", "eps");
    EXPECT_FAILS(c, dgm_batchnorm(c, x, nullptr, nullptr, nullptr, nullptr, true, 1.5f, 1e-5f, &out),
                 DGM_STATUS_INVALID_ARGUMENT, "batchnorm", "momentum");
}

TEST_F(Errors, ReshapeNumel)
{
    dgm_tensor *x = T({2, 6}), *out = nullptr;
    const int64_t bad[2] = {5, 2};
    EXPECT_FAILS(c, dgm_reshape(c, x, 2, bad, &out), DGM_STATUS_SHAPE_MISMATCH, "reshape",
                 "[2, 6]", "12", "10");
    EXPECT_EQ(out, nullptr);
    const int64_t good[3] = {3, 2, 2};
    EXPECT_EQ(dgm_reshape(c, x, 3, good, &out), DGM_STATUS_OK) << dgm_last_error(c);
    const int64_t zero[2] = {0, 12};
    EXPECT_FAILS(c, dgm_reshape(c, x, 2, zero, &out), DGM_STATUS_INVALID_ARGUMENT, "reshape");
}

TEST_F(Errors, BackwardFromSeedSize)
{
    dgm_tensor *x = T({2, 3}), *y = nullptr;
    ASSERT_EQ(dgm_tensor_set_requires_grad(x, true), DGM_STATUS_OK);
    ASSERT_EQ(dgm_tanh(c, x, &y), DGM_STATUS_OK) << dgm_last_error(c);
    EXPECT_FAILS(c, dgm_backward_from(c, y, T({4})), DGM_STATUS_SHAPE_MISMATCH,
                 "dgm_backward_from", "[4]", "[2, 3]");
    EXPECT_FAILS(c, dgm_backward_from(c, y, nullptr), DGM_STATUS_INVALID_ARGUMENT,
                 "dgm_backward_from", "seed");
    // The failures did not count as this step's backward.
    EXPECT_EQ(dgm_backward_from(c, y, T({2, 3}, 1.0f)), DGM_STATUS_OK) << dgm_last_error(c);
}

TEST_F(Errors, BackwardWithoutAnythingToDifferentiate)
{
    dgm_tensor *x = T({3}), *s = nullptr;
    ASSERT_EQ(dgm_sum(c, x, DGM_AXIS_ALL, &s), DGM_STATUS_OK);
    EXPECT_FAILS(c, dgm_backward(c, s), DGM_STATUS_INVALID_ARGUMENT, "dgm_backward");
    dgm_tensor *g = nullptr;
    EXPECT_FAILS(c, dgm_grad(c, x, &g), DGM_STATUS_INVALID_ARGUMENT, "dgm_grad");
    EXPECT_EQ(g, nullptr);
}

TEST_F(Errors, TensorOfAnotherContext)
{
    CtxPtr other = make_ctx(DGM_DEVICE_CPU, 4);
    ASSERT_TRUE(other);
    const std::vector<float> v(12, 1.0f);
    dgm_tensor *mine = T({3, 4}), *theirs = from_host(other.get(), {3, 4}, v), *out = nullptr;
    ASSERT_NE(theirs, nullptr);
    EXPECT_FAILS(c, dgm_add(c, mine, theirs, &out), DGM_STATUS_WRONG_DEVICE, "add", "b",
                 "another context");
    EXPECT_FAILS(c, dgm_matmul(c, theirs, false, mine, true, nullptr, DGM_ACT_NONE, 0, &out),
                 DGM_STATUS_WRONG_DEVICE, "matmul", "a", "another context");
    EXPECT_FAILS(c, dgm_tanh(c, theirs, &out), DGM_STATUS_WRONG_DEVICE, "tanh");
    float buf[12];
    EXPECT_FAILS(c, dgm_tensor_to_host(c, theirs, buf), DGM_STATUS_WRONG_DEVICE,
                 "dgm_tensor_to_host");
    EXPECT_FAILS(c, dgm_tensor_copy(c, mine, theirs), DGM_STATUS_WRONG_DEVICE, "dgm_tensor_copy");
    EXPECT_EQ(out, nullptr);

    // A parameter of another context's block.
    dgm_params *p = nullptr;
    ASSERT_EQ(dgm_params_create(other.get(), &p), DGM_STATUS_OK);
    ParamsPtr guard(p);
    ASSERT_EQ(dgm_params_add_linear(p, "fc", 4, 2, true), DGM_STATUS_OK);
    ASSERT_EQ(dgm_params_alloc(p), DGM_STATUS_OK);
    EXPECT_FAILS(c, dgm_matmul(c, mine, false, dgm_params_get(p, "fc.weight"), true,
                               dgm_params_get(p, "fc.bias"), DGM_ACT_NONE, 0, &out),
                 DGM_STATUS_WRONG_DEVICE, "matmul", "another context");
    // The other context was not disturbed.
    EXPECT_STREQ(dgm_last_error(other.get()), "");
    EXPECT_EQ(to_host(other.get(), theirs), v);
}

TEST_F(Errors, OutOfMemoryIsRecoverable)
{
    dgm_ctx_config cfg = dgm_ctx_config_default();
    cfg.device = DGM_DEVICE_CPU;
    cfg.arena_limit = (size_t)1 << 20;
    dgm_ctx *raw = nullptr;
    ASSERT_EQ(dgm_ctx_create(&cfg, &raw), DGM_STATUS_OK);
    CtxPtr limited(raw);
    dgm_ctx *l = limited.get();

    const int64_t big = (int64_t)2 << 20;  // 8 MiB of floats
    dgm_tensor *t = nullptr;
    EXPECT_EQ(dgm_tensor_new(l, 1, &big, &t), DGM_STATUS_OOM) << dgm_last_error(l);
    EXPECT_EQ(t, nullptr);
    EXPECT_STRNE(dgm_last_error(l), "");
    std::vector<float> host((size_t)big, 1.0f);
    EXPECT_EQ(dgm_tensor_from_host(l, 1, &big, host.data(), &t), DGM_STATUS_OOM);
    EXPECT_EQ(t, nullptr);
    // An op whose output does not fit: [1024, 1024] floats is 4 MiB.
    const std::vector<float> col(1024, 1.0f);
    dgm_tensor *u = from_host(l, {1024, 1}, col), *w = from_host(l, {1, 1024}, col);
    ASSERT_NE(u, nullptr);
    ASSERT_NE(w, nullptr);
    EXPECT_EQ(dgm_matmul(l, u, false, w, false, nullptr, DGM_ACT_NONE, 0, &t), DGM_STATUS_OOM);
    EXPECT_EQ(t, nullptr);

    // The context still works after the step ends, for tensors that fit.
    ASSERT_EQ(dgm_ctx_step_end(l), DGM_STATUS_OK) << dgm_last_error(l);
    size_t in_use = 1, peak = 0;
    dgm_ctx_arena_usage(l, &in_use, &peak);
    EXPECT_EQ(in_use, 0u);
    EXPECT_LE(peak, cfg.arena_limit);
    for (int step = 0; step < 3; step++) {
        dgm_tensor *x = from_host(l, {2, 2}, {1.0f, 2.0f, 3.0f, 4.0f}), *y = nullptr;
        ASSERT_NE(x, nullptr);
        ASSERT_EQ(dgm_mul(l, x, x, &y), DGM_STATUS_OK) << dgm_last_error(l);
        EXPECT_EQ(to_host(l, y), (std::vector<float>{1.0f, 4.0f, 9.0f, 16.0f}));
        // Up to the limit in one step.
        const int64_t most = (int64_t)200 << 10;  // 800 KiB
        EXPECT_EQ(dgm_tensor_new(l, 1, &most, &t), DGM_STATUS_OK) << dgm_last_error(l);
        ASSERT_EQ(dgm_ctx_step_end(l), DGM_STATUS_OK) << dgm_last_error(l);
    }
    // A persistent tensor is not step memory and is not bound by the arena limit.
    dgm_tensor *pt = nullptr;
    EXPECT_EQ(dgm_tensor_create(l, 1, &big, &pt), DGM_STATUS_OK) << dgm_last_error(l);
    dgm_tensor_free(pt);
}

// The message of an out-of-memory failure names the operation that failed, as every
// failure's message must (core.h).
TEST_F(Errors, OutOfMemoryMessageNamesTheOperation)
{
    dgm_ctx_config cfg = dgm_ctx_config_default();
    cfg.device = DGM_DEVICE_CPU;
    cfg.arena_limit = (size_t)1 << 20;
    dgm_ctx *raw = nullptr;
    ASSERT_EQ(dgm_ctx_create(&cfg, &raw), DGM_STATUS_OK);
    CtxPtr limited(raw);
    dgm_ctx *l = limited.get();
    const int64_t big = (int64_t)2 << 20;
    dgm_tensor *t = nullptr;
    EXPECT_FAILS(l, dgm_tensor_new(l, 1, &big, &t), DGM_STATUS_OOM, "tensor_new");
    const std::vector<float> col(1024, 1.0f);
    dgm_tensor *u = from_host(l, {1024, 1}, col), *w = from_host(l, {1, 1024}, col);
    EXPECT_FAILS(l, dgm_matmul(l, u, false, w, false, nullptr, DGM_ACT_NONE, 0, &t),
                 DGM_STATUS_OOM, "matmul");
}

TEST_F(Errors, DropoutProbability)
{
    dgm_tensor *x = T({4, 4}), *out = nullptr;
    EXPECT_FAILS(c, dgm_dropout(c, x, 1.0f, true, &out), DGM_STATUS_INVALID_ARGUMENT, "dropout",
                 "p");
    EXPECT_FAILS(c, dgm_dropout(c, x, -0.1f, true, &out), DGM_STATUS_INVALID_ARGUMENT, "dropout",
                 "-0.1");
    EXPECT_FAILS(c, dgm_dropout(c, x, std::numeric_limits<float>::quiet_NaN(), true, &out),
                 DGM_STATUS_INVALID_ARGUMENT, "dropout");
    // Checked in eval mode too.
    EXPECT_FAILS(c, dgm_dropout(c, x, 1.0f, false, &out), DGM_STATUS_INVALID_ARGUMENT, "dropout");
    EXPECT_EQ(out, nullptr);
    EXPECT_EQ(dgm_dropout(c, x, 0.0f, true, &out), DGM_STATUS_OK);
    EXPECT_EQ(dgm_dropout(c, x, 0.99f, true, &out), DGM_STATUS_OK);
}

TEST_F(Errors, MaxoutGroupSize)
{
    dgm_tensor *x = T({2, 6}), *out = nullptr;
    EXPECT_FAILS(c, dgm_maxout(c, x, 4, &out), DGM_STATUS_INVALID_ARGUMENT, "maxout", "[2, 6]",
                 "k = 4");
    EXPECT_FAILS(c, dgm_maxout(c, x, 0, &out), DGM_STATUS_INVALID_ARGUMENT, "maxout");
    EXPECT_FAILS(c, dgm_maxout(c, x, -3, &out), DGM_STATUS_INVALID_ARGUMENT, "maxout");
    EXPECT_EQ(out, nullptr);
    EXPECT_EQ(dgm_maxout(c, x, 3, &out), DGM_STATUS_OK);
    EXPECT_EQ(dgm_tensor_dim(out, 1), 2);
}

TEST_F(Errors, SliceOutOfRange)
{
    dgm_tensor *x = T({3, 6}), *out = nullptr;
    EXPECT_FAILS(c, dgm_slice_cols(c, x, 4, 3, &out), DGM_STATUS_INVALID_ARGUMENT, "slice",
                 "[3, 6]");
    EXPECT_FAILS(c, dgm_slice_cols(c, x, -1, 2, &out), DGM_STATUS_INVALID_ARGUMENT, "slice");
    EXPECT_FAILS(c, dgm_slice_cols(c, x, 2, 0, &out), DGM_STATUS_INVALID_ARGUMENT, "slice");
    EXPECT_FAILS(c, dgm_slice_cols(c, x, 6, 1, &out), DGM_STATUS_INVALID_ARGUMENT, "slice");
    EXPECT_EQ(out, nullptr);
    EXPECT_EQ(dgm_slice_cols(c, x, 5, 1, &out), DGM_STATUS_OK);
}

// start + count past INT64_MAX must not wrap around into "inside x".
TEST_F(Errors, SliceHugeStartOrCountIsOutOfRange)
{
    dgm_tensor *pad = T({64});  // so that x's data does not start its arena block
    ASSERT_NE(pad, nullptr);
    dgm_tensor *x = T({3, 6}), *out = nullptr;
    EXPECT_FAILS(c, dgm_slice_cols(c, x, INT64_MAX - 2, 5, &out), DGM_STATUS_INVALID_ARGUMENT,
                 "slice", "[3, 6]");
    EXPECT_EQ(out, nullptr);
    out = nullptr;
    EXPECT_FAILS(c, dgm_slice_cols(c, x, 1, INT64_MAX, &out), DGM_STATUS_INVALID_ARGUMENT,
                 "slice", "[3, 6]");
    EXPECT_EQ(out, nullptr);
}

TEST_F(Errors, BatchnormEvalWithoutRunningStatistics)
{
    dgm_tensor *x = T({6, 3}), *out = nullptr;
    EXPECT_FAILS(c, dgm_batchnorm(c, x, nullptr, nullptr, nullptr, nullptr, false, 0.1f, 1e-5f,
                                  &out),
                 DGM_STATUS_INVALID_ARGUMENT, "batchnorm", "running");
    EXPECT_FAILS(c, dgm_batchnorm(c, x, nullptr, nullptr, T({3}), nullptr, false, 0.1f, 1e-5f,
                                  &out),
                 DGM_STATUS_INVALID_ARGUMENT, "batchnorm", "running");
    EXPECT_EQ(out, nullptr);
}

TEST_F(Errors, BatchnormTrainingWithOneRow)
{
    dgm_tensor *out = nullptr;
    EXPECT_FAILS(c, dgm_batchnorm(c, T({1, 3}), nullptr, nullptr, T({3}), T({3}), true, 0.1f,
                                  1e-5f, &out),
                 DGM_STATUS_INVALID_ARGUMENT, "batchnorm", "row");
    EXPECT_EQ(out, nullptr);
    // One row is fine in eval mode.
    EXPECT_EQ(dgm_batchnorm(c, T({1, 3}), nullptr, nullptr, T({3}), T({3}, 1.0f), false, 0.1f,
                            1e-5f, &out),
              DGM_STATUS_OK)
        << dgm_last_error(c);
}

TEST_F(Errors, UnknownEnumValues)
{
    dgm_tensor *a = T({4, 5}), *b = T({5, 3}), *out = nullptr;
    EXPECT_FAILS(c, dgm_matmul(c, a, false, b, false, nullptr, (dgm_activation)99, 0, &out),
                 DGM_STATUS_INVALID_ARGUMENT, "matmul", "activation");
    EXPECT_FAILS(c, dgm_matmul(c, a, false, b, false, nullptr, DGM_ACT_COUNT, 0, &out),
                 DGM_STATUS_INVALID_ARGUMENT, "matmul", "activation");
    EXPECT_FAILS(c, dgm_activate(c, a, (dgm_activation)-1, 0, &out), DGM_STATUS_INVALID_ARGUMENT,
                 "activate", "activation");
    EXPECT_FAILS(c, dgm_activate(c, a, DGM_ACT_COUNT, 0, &out), DGM_STATUS_INVALID_ARGUMENT,
                 "activate");
    EXPECT_FAILS(c, dgm_sum(c, a, (dgm_axis)3, &out), DGM_STATUS_INVALID_ARGUMENT, "sum", "axis");
    EXPECT_FAILS(c, dgm_mean(c, a, (dgm_axis)-2, &out), DGM_STATUS_INVALID_ARGUMENT, "mean",
                 "axis");
    const dgm_reduction bad = (dgm_reduction)9;
    EXPECT_FAILS(c, dgm_bce_with_logits(c, a, a, bad, &out), DGM_STATUS_INVALID_ARGUMENT,
                 "bce_with_logits", "reduction");
    EXPECT_FAILS(c, dgm_mse(c, a, a, bad, &out), DGM_STATUS_INVALID_ARGUMENT, "mse", "reduction");
    EXPECT_FAILS(c, dgm_kl_normal(c, a, a, (dgm_reduction)-1, &out), DGM_STATUS_INVALID_ARGUMENT,
                 "kl_normal", "reduction");
    EXPECT_FAILS(c, dgm_gaussian_log_density(c, a, a, a, bad, &out), DGM_STATUS_INVALID_ARGUMENT,
                 "gaussian_log_density", "reduction");
    EXPECT_EQ(out, nullptr);
    // Parameter init kinds and devices too.
    dgm_params *p = nullptr;
    ASSERT_EQ(dgm_params_create(c, &p), DGM_STATUS_OK);
    ParamsPtr guard(p);
    const int64_t shape[1] = {2};
    EXPECT_FAILS(c, dgm_params_add(p, "w", 1, shape, {(dgm_init_kind)17, 0, 0}),
                 DGM_STATUS_INVALID_ARGUMENT, "dgm_params_add", "init");
    dgm_ctx_config cfg = dgm_ctx_config_default();
    cfg.device = (dgm_device)42;
    dgm_ctx *bad_ctx = nullptr;
    EXPECT_EQ(dgm_ctx_create(&cfg, &bad_ctx), DGM_STATUS_INVALID_ARGUMENT);
    ASSERT_NE(bad_ctx, nullptr);
    EXPECT_NE(std::string(dgm_last_error(bad_ctx)).find("device"), std::string::npos)
        << dgm_last_error(bad_ctx);
    EXPECT_EQ(dgm_tensor_new(bad_ctx, 1, shape, &out), DGM_STATUS_STATE_ERROR)
        << "a failed context only supports dgm_last_error and dgm_ctx_free";
    dgm_ctx_free(bad_ctx);
}

TEST_F(Errors, BadShapes)
{
    const int64_t shape5[5] = {1, 2, 3, 4, 5};
    const int64_t zero[2] = {3, 0};
    const int64_t negative[2] = {-2, 3};
    dgm_tensor *out = nullptr;
    EXPECT_FAILS(c, dgm_tensor_new(c, 0, shape5, &out), DGM_STATUS_INVALID_ARGUMENT,
                 "dgm_tensor_new", "ndim 0");
    EXPECT_FAILS(c, dgm_tensor_new(c, 5, shape5, &out), DGM_STATUS_INVALID_ARGUMENT,
                 "dgm_tensor_new", "ndim 5");
    EXPECT_FAILS(c, dgm_tensor_new(c, -1, shape5, &out), DGM_STATUS_INVALID_ARGUMENT,
                 "dgm_tensor_new", "ndim");
    EXPECT_FAILS(c, dgm_tensor_new(c, 2, nullptr, &out), DGM_STATUS_INVALID_ARGUMENT,
                 "dgm_tensor_new", "shape");
    EXPECT_FAILS(c, dgm_tensor_new(c, 2, zero, &out), DGM_STATUS_INVALID_ARGUMENT,
                 "dgm_tensor_new", "dimension 1 is 0");
    EXPECT_FAILS(c, dgm_tensor_new(c, 2, negative, &out), DGM_STATUS_INVALID_ARGUMENT,
                 "dgm_tensor_new", "-2");
    EXPECT_FAILS(c, dgm_tensor_create(c, 5, shape5, &out), DGM_STATUS_INVALID_ARGUMENT,
                 "dgm_tensor_create", "ndim 5");
    EXPECT_FAILS(c, dgm_tensor_create(c, 2, zero, &out), DGM_STATUS_INVALID_ARGUMENT,
                 "dgm_tensor_create", "dimension 1 is 0");
    const int64_t huge[4] = {INT64_MAX / 2, 4, 4, 4};
    EXPECT_FAILS(c, dgm_tensor_create(c, 4, huge, &out), DGM_STATUS_INVALID_ARGUMENT,
                 "dgm_tensor_create");
    EXPECT_EQ(out, nullptr);
    // Parameters, too.
    dgm_params *p = nullptr;
    ASSERT_EQ(dgm_params_create(c, &p), DGM_STATUS_OK);
    ParamsPtr guard(p);
    EXPECT_FAILS(c, dgm_params_add(p, "w", 5, shape5, {DGM_INIT_ZEROS, 0, 0}),
                 DGM_STATUS_INVALID_ARGUMENT, "dgm_params_add", "'w'");
    EXPECT_FAILS(c, dgm_params_add(p, "w", 2, zero, {DGM_INIT_ZEROS, 0, 0}),
                 DGM_STATUS_INVALID_ARGUMENT, "dgm_params_add", "'w'");
    EXPECT_FAILS(c, dgm_params_add_linear(p, "fc", 0, 3, true), DGM_STATUS_INVALID_ARGUMENT,
                 "dgm_params_add_linear", "fc");
    EXPECT_EQ(dgm_params_count(p), 0);
}

// A shape error of dgm_tensor_from_host or of a random draw names that call, not an
// internal helper.
TEST_F(Errors, BadShapeMessageNamesTheCalledFunction)
{
    const int64_t shape5[5] = {1, 2, 3, 4, 5};
    const int64_t zero[2] = {3, 0};
    const float data[8] = {0};
    dgm_tensor *out = nullptr;
    EXPECT_FAILS(c, dgm_tensor_from_host(c, 5, shape5, data, &out), DGM_STATUS_INVALID_ARGUMENT,
                 "dgm_tensor_from_host", "ndim 5");
    EXPECT_FAILS(c, dgm_rand_normal(c, 0, shape5, 0.0f, 1.0f, &out), DGM_STATUS_INVALID_ARGUMENT,
                 "rand_normal", "ndim 0");
    EXPECT_FAILS(c, dgm_rand_uniform(c, 2, zero, 0.0f, 1.0f, &out), DGM_STATUS_INVALID_ARGUMENT,
                 "rand_uniform", "dimension 1 is 0");
    EXPECT_EQ(out, nullptr);
}

TEST_F(Errors, SetRequiresGradOnNull)
{
    EXPECT_EQ(dgm_tensor_set_requires_grad(nullptr, true), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_tensor_set_requires_grad(nullptr, false), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_FALSE(dgm_tensor_requires_grad(nullptr));
}

TEST_F(Errors, ParameterBlockMisuse)
{
    dgm_params *p = nullptr;
    ASSERT_EQ(dgm_params_create(c, &p), DGM_STATUS_OK);
    ParamsPtr guard(p);
    EXPECT_FAILS(c, dgm_params_alloc(p), DGM_STATUS_STATE_ERROR, "dgm_params_alloc");
    EXPECT_FAILS(c, dgm_params_sgd_step(p, 0.1f), DGM_STATUS_STATE_ERROR, "dgm_params_sgd_step");
    EXPECT_FAILS(c, dgm_params_zero_grad(p), DGM_STATUS_STATE_ERROR, "dgm_params_zero_grad");
    const int64_t shape[1] = {2};
    const std::string long_name(200, 'x');
    EXPECT_FAILS(c, dgm_params_add(p, long_name.c_str(), 1, shape, {DGM_INIT_ZEROS, 0, 0}),
                 DGM_STATUS_INVALID_ARGUMENT, "dgm_params_add", "name");
    EXPECT_FAILS(c, dgm_params_add(p, "", 1, shape, {DGM_INIT_ZEROS, 0, 0}),
                 DGM_STATUS_INVALID_ARGUMENT, "dgm_params_add", "name");
    EXPECT_FAILS(c, dgm_params_add(p, nullptr, 1, shape, {DGM_INIT_ZEROS, 0, 0}),
                 DGM_STATUS_INVALID_ARGUMENT, "dgm_params_add", "name");
    ASSERT_EQ(dgm_params_add(p, "w", 1, shape, {DGM_INIT_ONES, 0, 0}), DGM_STATUS_OK);
    ASSERT_EQ(dgm_params_alloc(p), DGM_STATUS_OK);
    EXPECT_FAILS(c, dgm_params_sgd_step(p, std::numeric_limits<float>::quiet_NaN()),
                 DGM_STATUS_INVALID_ARGUMENT, "dgm_params_sgd_step", "lr");
    EXPECT_FAILS(c, dgm_params_sgd_step(p, std::numeric_limits<float>::infinity()),
                 DGM_STATUS_INVALID_ARGUMENT, "dgm_params_sgd_step", "lr");
    EXPECT_EQ(to_host(c, dgm_params_get(p, "w")), std::vector<float>(2, 1.0f))
        << "a rejected step must not touch the values";
    // A parameter cannot be the output of backward.
    EXPECT_FAILS(c, dgm_backward(c, dgm_params_get(p, "w")), DGM_STATUS_INVALID_ARGUMENT,
                 "dgm_backward");
}

}  // namespace
