// Core behaviour on the CPU backend: version and names, contexts, tensors, the step arena,
// parameter blocks, autodiff semantics, a small training run, random numbers and
// determinism.
#include <algorithm>
#include <cstring>
#include <memory>
#include <set>

#include <omp.h>

#include "test_util.h"

using namespace dgmtest;

namespace {

// For helpers that return an AssertionResult instead of using ASSERT_*.
#define CORE_TRY(ctx, expr)                                                                   \
    do {                                                                                      \
        dgm_status s_ = (expr);                                                               \
        if (s_ != DGM_STATUS_OK)                                                              \
            return ::testing::AssertionFailure() << #expr << ": " << dgm_status_name(s_)      \
                                                 << ": " << dgm_last_error(ctx);              \
    } while (0)

struct ParamsDeleter {
    void operator()(dgm_params *p) const { dgm_params_free(p); }
};
using ParamsPtr = std::unique_ptr<dgm_params, ParamsDeleter>;

struct TensorDeleter {
    void operator()(dgm_tensor *t) const { dgm_tensor_free(t); }
};
using TensorPtr = std::unique_ptr<dgm_tensor, TensorDeleter>;

std::vector<float> params_snapshot(dgm_params *p)
{
    const float *v = dgm_params_values(p);
    return std::vector<float>(v, v + dgm_params_total_numel(p));
}

bool bitwise_equal(const std::vector<float> &a, const std::vector<float> &b)
{
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

double mean_of(const std::vector<float> &v)
{
    double s = 0.0;
    for (float x : v) s += x;
    return s / (double)v.size();
}

double std_of(const std::vector<float> &v)
{
    const double m = mean_of(v);
    double ss = 0.0;
    for (float x : v) ss += ((double)x - m) * ((double)x - m);
    return std::sqrt(ss / (double)v.size());
}

// ---------------------------------------------------------------------------------------
// Version, status and device names
// ---------------------------------------------------------------------------------------

TEST(CoreVersion, MacrosAgreeWithLinkedLibrary)
{
    const std::string from_parts = std::to_string(DGM_VERSION_MAJOR) + "." +
                                   std::to_string(DGM_VERSION_MINOR) + "." +
                                   std::to_string(DGM_VERSION_PATCH);
    EXPECT_EQ(from_parts, DGM_VERSION_STRING);
    ASSERT_NE(dgm_version(), nullptr);
    EXPECT_STREQ(dgm_version(), DGM_VERSION_STRING);
}

TEST(CoreNames, EveryStatusHasADistinctName)
{
    std::set<std::string> seen;
    for (int s = 0; s < DGM_STATUS_COUNT; s++) {
        const char *name = dgm_status_name((dgm_status)s);
        ASSERT_NE(name, nullptr) << "status " << s;
        EXPECT_EQ(std::string(name).rfind("DGM_STATUS_", 0), 0u) << name;
        EXPECT_TRUE(seen.insert(name).second) << "duplicate name " << name;
    }
    EXPECT_EQ(seen.size(), (size_t)DGM_STATUS_COUNT);
    EXPECT_STREQ(dgm_status_name(DGM_STATUS_OK), "DGM_STATUS_OK");
    EXPECT_STREQ(dgm_status_name(DGM_STATUS_OOM), "DGM_STATUS_OOM");
    EXPECT_STREQ(dgm_status_name(DGM_STATUS_STATE_ERROR), "DGM_STATUS_STATE_ERROR");
    // Never NULL, even out of range.
    EXPECT_NE(dgm_status_name(DGM_STATUS_COUNT), nullptr);
    EXPECT_NE(dgm_status_name((dgm_status)-1), nullptr);
}

TEST(CoreNames, DeviceNames)
{
    EXPECT_STREQ(dgm_device_name(DGM_DEVICE_AUTO), "auto");
    EXPECT_STREQ(dgm_device_name(DGM_DEVICE_CPU), "cpu");
    EXPECT_STREQ(dgm_device_name(DGM_DEVICE_CUDA), "cuda");
    EXPECT_NE(dgm_device_name((dgm_device)77), nullptr);
}

// ---------------------------------------------------------------------------------------
// Contexts
// ---------------------------------------------------------------------------------------

TEST(CoreContext, ConfigDefaults)
{
    dgm_ctx_config c = dgm_ctx_config_default();
    EXPECT_EQ(c.device, DGM_DEVICE_AUTO);
    EXPECT_EQ(c.cuda_device, 0);
    EXPECT_EQ(c.seed, 0u);
    EXPECT_EQ(c.arena_limit, 0u);
}

TEST(CoreContext, CpuCreateAndFree)
{
    dgm_ctx_config cfg = dgm_ctx_config_default();
    cfg.device = DGM_DEVICE_CPU;
    cfg.seed = 1234;
    dgm_ctx *ctx = nullptr;
    ASSERT_EQ(dgm_ctx_create(&cfg, &ctx), DGM_STATUS_OK);
    ASSERT_NE(ctx, nullptr);
    EXPECT_EQ(dgm_ctx_device(ctx), DGM_DEVICE_CPU);
    EXPECT_STREQ(dgm_last_error(ctx), "");
    EXPECT_TRUE(dgm_ctx_grad_enabled(ctx));
    uint64_t seed = 0, offset = 99;
    dgm_ctx_rng_state(ctx, &seed, &offset);
    EXPECT_EQ(seed, 1234u);
    EXPECT_EQ(offset, 0u);
    size_t in_use = 1, peak = 1;
    dgm_ctx_arena_usage(ctx, &in_use, &peak);
    EXPECT_EQ(in_use, 0u);
    EXPECT_EQ(peak, 0u);
    EXPECT_EQ(dgm_ctx_synchronize(ctx), DGM_STATUS_OK);
    EXPECT_EQ(dgm_ctx_step_end(ctx), DGM_STATUS_OK);
    dgm_ctx_free(ctx);
}

TEST(CoreContext, AutoFallsBackToCpuWithoutGpu)
{
    char why[256] = "";
    const bool cuda = dgm_cuda_available(why, sizeof why);
    if (!cuda) {
        EXPECT_STRNE(why, "") << "dgm_cuda_available gave no reason";
    }
    // NULL config means the defaults, i.e. DGM_DEVICE_AUTO.
    for (int use_null = 0; use_null < 2; use_null++) {
        dgm_ctx_config cfg = dgm_ctx_config_default();
        dgm_ctx *ctx = nullptr;
        ASSERT_EQ(dgm_ctx_create(use_null ? nullptr : &cfg, &ctx), DGM_STATUS_OK)
            << (ctx ? dgm_last_error(ctx) : "");
        const dgm_device d = dgm_ctx_device(ctx);
        EXPECT_NE(d, DGM_DEVICE_AUTO) << "the context must report the device it chose";
        EXPECT_EQ(d, cuda ? DGM_DEVICE_CUDA : DGM_DEVICE_CPU);
        dgm_ctx_free(ctx);
    }
}

TEST(CoreContext, CudaRequestWithoutGpuFailsWithMessage)
{
    if (dgm_cuda_available(nullptr, 0)) GTEST_SKIP() << "a GPU is usable here";
    dgm_ctx_config cfg = dgm_ctx_config_default();
    cfg.device = DGM_DEVICE_CUDA;
    dgm_ctx *ctx = nullptr;
    const dgm_status st = dgm_ctx_create(&cfg, &ctx);
    // NO_DEVICE from a CUDA build on a machine without a GPU; a build without the CUDA
    // backend at all reports UNSUPPORTED ("not available in this build").
    EXPECT_TRUE(st == DGM_STATUS_NO_DEVICE || st == DGM_STATUS_UNSUPPORTED)
        << dgm_status_name(st);
    ASSERT_NE(ctx, nullptr) << "a failed context must carry the reason";
    const std::string msg = dgm_last_error(ctx);
    EXPECT_FALSE(msg.empty());
    EXPECT_NE(msg.find("cuda"), std::string::npos) << msg;
    // A failed context only supports dgm_last_error and dgm_ctx_free.
    int64_t n = 4;
    dgm_tensor *t = nullptr;
    EXPECT_NE(dgm_tensor_new(ctx, 1, &n, &t), DGM_STATUS_OK);
    EXPECT_EQ(t, nullptr);
    EXPECT_NE(dgm_ctx_step_end(ctx), DGM_STATUS_OK);
    dgm_ctx_free(ctx);
}

TEST(CoreContext, FreeNullIsANoOp)
{
    dgm_ctx_free(nullptr);
    dgm_tensor_free(nullptr);
    dgm_params_free(nullptr);
    // The other NULL-tolerant calls leave their outputs alone and report something sane.
    uint64_t seed = 5, offset = 6;
    dgm_ctx_rng_state(nullptr, &seed, &offset);
    EXPECT_EQ(seed, 5u);
    EXPECT_EQ(offset, 6u);
    size_t in_use = 7, peak = 8;
    dgm_ctx_arena_usage(nullptr, &in_use, &peak);
    EXPECT_EQ(in_use, 7u);
    EXPECT_EQ(peak, 8u);
    EXPECT_FALSE(dgm_ctx_grad_enabled(nullptr));
    dgm_ctx_set_grad_enabled(nullptr, true);
    EXPECT_STRNE(dgm_last_error(nullptr), "");
    EXPECT_EQ(dgm_ctx_seed(nullptr, 1), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_ctx_synchronize(nullptr), DGM_STATUS_INVALID_ARGUMENT);
    // A context made after all that works normally.
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    EXPECT_TRUE(ctx);
}

TEST(CoreContext, GradEnabledToggle)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    EXPECT_TRUE(dgm_ctx_grad_enabled(ctx.get()));
    dgm_ctx_set_grad_enabled(ctx.get(), false);
    EXPECT_FALSE(dgm_ctx_grad_enabled(ctx.get()));
    dgm_ctx_set_grad_enabled(ctx.get(), true);
    EXPECT_TRUE(dgm_ctx_grad_enabled(ctx.get()));
}

// ---------------------------------------------------------------------------------------
// Tensors
// ---------------------------------------------------------------------------------------

TEST(CoreTensor, FromHostToHostRoundTripAndShape)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    std::mt19937 rng(3);
    const std::vector<int64_t> shape = {2, 3, 4};
    const std::vector<float> v = random_values(rng, numel(shape), -5.0f, 5.0f);
    dgm_tensor *t = from_host(ctx.get(), shape, v);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(dgm_tensor_ndim(t), 3);
    EXPECT_EQ(dgm_tensor_numel(t), 24);
    EXPECT_EQ(dgm_tensor_dim(t, 0), 2);
    EXPECT_EQ(dgm_tensor_dim(t, 1), 3);
    EXPECT_EQ(dgm_tensor_dim(t, 2), 4);
    EXPECT_EQ(dgm_tensor_dim(t, -1), 4);
    EXPECT_EQ(dgm_tensor_dim(t, -2), 3);
    EXPECT_EQ(dgm_tensor_dim(t, -3), 2);
    EXPECT_EQ(dgm_tensor_dim(t, 3), 0);
    EXPECT_EQ(dgm_tensor_dim(t, -4), 0);
    EXPECT_FALSE(dgm_tensor_requires_grad(t));
    EXPECT_TRUE(bitwise_equal(to_host(ctx.get(), t), v));
    EXPECT_NE(dgm_tensor_data(t), nullptr);
    // On the CPU backend the data pointer is host memory holding the values.
    EXPECT_EQ(std::memcmp(dgm_tensor_data(t), v.data(), v.size() * sizeof(float)), 0);

    // copy_from_host overwrites in place.
    std::vector<float> w(v.size());
    for (size_t i = 0; i < w.size(); i++) w[i] = (float)i * 0.5f;
    DGM_ASSERT_OK(ctx.get(), dgm_tensor_copy_from_host(ctx.get(), t, w.data()));
    EXPECT_TRUE(bitwise_equal(to_host(ctx.get(), t), w));

    // Null-safe accessors.
    EXPECT_EQ(dgm_tensor_ndim(nullptr), 0);
    EXPECT_EQ(dgm_tensor_numel(nullptr), 0);
    EXPECT_EQ(dgm_tensor_dim(nullptr, 0), 0);
    EXPECT_EQ(dgm_tensor_data(nullptr), nullptr);
}

TEST(CoreTensor, NewHasRequestedShape)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    const int64_t shape[4] = {2, 1, 3, 5};
    dgm_tensor *t = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_tensor_new(ctx.get(), 4, shape, &t));
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(dgm_tensor_ndim(t), 4);
    EXPECT_EQ(dgm_tensor_numel(t), 30);
    EXPECT_EQ(dgm_tensor_dim(t, -1), 5);
    EXPECT_EQ(dgm_tensor_dim(t, 1), 1);
}

TEST(CoreTensor, CreateIsZeroFilledAndFreeable)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    // Dirty the allocator first so zero-filling is not an accident of fresh pages.
    for (int round = 0; round < 3; round++) {
        const int64_t shape[2] = {37, 29};
        dgm_tensor *t = nullptr;
        DGM_ASSERT_OK(ctx.get(), dgm_tensor_create(ctx.get(), 2, shape, &t));
        ASSERT_NE(t, nullptr);
        EXPECT_EQ(dgm_tensor_numel(t), 37 * 29);
        std::vector<float> v = to_host(ctx.get(), t);
        EXPECT_TRUE(std::all_of(v.begin(), v.end(), [](float x) { return x == 0.0f; }))
            << "round " << round;
        DGM_ASSERT_OK(ctx.get(), dgm_tensor_fill(ctx.get(), t, 7.0f));
        // A persistent tensor survives step ends.
        DGM_ASSERT_OK(ctx.get(), dgm_ctx_step_end(ctx.get()));
        v = to_host(ctx.get(), t);
        EXPECT_TRUE(std::all_of(v.begin(), v.end(), [](float x) { return x == 7.0f; }));
        dgm_tensor_free(t);
    }
}

TEST(CoreTensor, FreeOfStepTensorsAndViewsIsANoOp)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    dgm_tensor *s = from_host(ctx.get(), {3}, {1.0f, 2.0f, 3.0f});
    ASSERT_NE(s, nullptr);
    dgm_tensor_free(s);  // a step tensor: nothing happens, it stays usable this step
    EXPECT_EQ(to_host(ctx.get(), s), (std::vector<float>{1.0f, 2.0f, 3.0f}));

    dgm_params *p = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_params_create(ctx.get(), &p));
    ParamsPtr guard(p);
    const int64_t shape[1] = {4};
    DGM_ASSERT_OK(ctx.get(), dgm_params_add(p, "w", 1, shape, {DGM_INIT_ONES, 0, 0}));
    DGM_ASSERT_OK(ctx.get(), dgm_params_alloc(p));
    dgm_tensor *w = dgm_params_get(p, "w");
    ASSERT_NE(w, nullptr);
    dgm_tensor_free(w);  // a parameter view: nothing happens
    EXPECT_EQ(to_host(ctx.get(), w), (std::vector<float>{1.0f, 1.0f, 1.0f, 1.0f}));
}

TEST(CoreTensor, FillAndCopy)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    const int64_t shape[2] = {3, 4};
    dgm_tensor *a = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_tensor_new(ctx.get(), 2, shape, &a));
    DGM_ASSERT_OK(ctx.get(), dgm_tensor_fill(ctx.get(), a, -2.5f));
    EXPECT_EQ(to_host(ctx.get(), a), std::vector<float>(12, -2.5f));

    // copy needs the same numel, not the same shape.
    std::vector<float> v(12);
    for (int i = 0; i < 12; i++) v[(size_t)i] = (float)(i * i) - 3.0f;
    dgm_tensor *src = from_host(ctx.get(), {12}, v);
    DGM_ASSERT_OK(ctx.get(), dgm_tensor_copy(ctx.get(), a, src));
    EXPECT_EQ(to_host(ctx.get(), a), v);

    // Into a persistent tensor, and back.
    dgm_tensor *pt = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_tensor_create(ctx.get(), 2, shape, &pt));
    TensorPtr guard(pt);
    DGM_ASSERT_OK(ctx.get(), dgm_tensor_copy(ctx.get(), pt, a));
    EXPECT_EQ(to_host(ctx.get(), pt), v);
    DGM_ASSERT_OK(ctx.get(), dgm_tensor_fill(ctx.get(), a, 0.0f));
    EXPECT_EQ(to_host(ctx.get(), pt), v) << "copy must not alias";
}

// ---------------------------------------------------------------------------------------
// The step arena
// ---------------------------------------------------------------------------------------

TEST(CoreArena, SamePointersEveryStepAfterConsolidation)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    // 10 tensors of 4 MiB plus an op on each: more than one 16 MiB chunk in step 1.
    const int kTensors = 10;
    const int64_t big = (int64_t)1 << 20;
    const size_t step_bytes = (size_t)kTensors * (size_t)big * sizeof(float);

    auto run_step = [&](std::vector<float *> &ptrs) {
        ptrs.clear();
        for (int i = 0; i < kTensors; i++) {
            dgm_tensor *t = nullptr;
            DGM_ASSERT_OK(ctx.get(), dgm_tensor_new(ctx.get(), 1, &big, &t));
            ptrs.push_back(dgm_tensor_data(t));
            dgm_tensor *small = from_host(ctx.get(), {2, 3}, {1, 2, 3, 4, 5, 6});
            ASSERT_NE(small, nullptr);
            ptrs.push_back(dgm_tensor_data(small));
            dgm_tensor *y = nullptr;
            DGM_ASSERT_OK(ctx.get(), dgm_scale(ctx.get(), small, 2.0f, 1.0f, &y));
            ptrs.push_back(dgm_tensor_data(y));
            EXPECT_EQ(to_host(ctx.get(), y), (std::vector<float>{3, 5, 7, 9, 11, 13}));
        }
        size_t in_use = 0, peak = 0;
        dgm_ctx_arena_usage(ctx.get(), &in_use, &peak);
        EXPECT_GE(in_use, step_bytes);
        DGM_ASSERT_OK(ctx.get(), dgm_ctx_step_end(ctx.get()));
        dgm_ctx_arena_usage(ctx.get(), &in_use, &peak);
        EXPECT_EQ(in_use, 0u);
        EXPECT_GE(peak, step_bytes);
    };

    std::vector<float *> s1, s2, s3;
    ASSERT_NO_FATAL_FAILURE(run_step(s1));
    ASSERT_NO_FATAL_FAILURE(run_step(s2));
    ASSERT_NO_FATAL_FAILURE(run_step(s3));
    ASSERT_EQ(s2.size(), s3.size());
    EXPECT_EQ(s2, s3) << "step 2 and step 3 ran the same allocations but got other addresses";
    // Within a step the blocks do not overlap.
    std::set<float *> distinct(s2.begin(), s2.end());
    EXPECT_EQ(distinct.size(), s2.size());
    // And the arena kept serving the same sequence later.
    std::vector<float *> s4;
    ASSERT_NO_FATAL_FAILURE(run_step(s4));
    EXPECT_EQ(s3, s4);
}

TEST(CoreArena, UsageCountsStepMemory)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    const int64_t n = 1000;
    dgm_tensor *t = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_tensor_new(ctx.get(), 1, &n, &t));
    size_t in_use = 0, peak = 0;
    dgm_ctx_arena_usage(ctx.get(), &in_use, &peak);
    EXPECT_GE(in_use, (size_t)n * sizeof(float));
    EXPECT_GE(peak, in_use);
    DGM_ASSERT_OK(ctx.get(), dgm_ctx_step_end(ctx.get()));
    size_t in_use2 = 1, peak2 = 0;
    dgm_ctx_arena_usage(ctx.get(), &in_use2, &peak2);
    EXPECT_EQ(in_use2, 0u);
    EXPECT_EQ(peak2, peak) << "the peak is the most used in any step so far";
    // A smaller step does not lower the peak.
    const int64_t m = 10;
    DGM_ASSERT_OK(ctx.get(), dgm_tensor_new(ctx.get(), 1, &m, &t));
    DGM_ASSERT_OK(ctx.get(), dgm_ctx_step_end(ctx.get()));
    dgm_ctx_arena_usage(ctx.get(), &in_use2, &peak2);
    EXPECT_EQ(peak2, peak);
}

// ---------------------------------------------------------------------------------------
// Parameter blocks
// ---------------------------------------------------------------------------------------

TEST(CoreParams, LinearLayoutAndInitialization)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 5);
    ASSERT_TRUE(ctx);
    dgm_params *p = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_params_create(ctx.get(), &p));
    ParamsPtr guard(p);
    DGM_ASSERT_OK(ctx.get(), dgm_params_add_linear(p, "fc1", 784, 400, true));
    EXPECT_EQ(dgm_params_values(p), nullptr) << "no values before dgm_params_alloc";
    EXPECT_EQ(dgm_params_grads(p), nullptr);
    DGM_ASSERT_OK(ctx.get(), dgm_params_alloc(p));

    ASSERT_EQ(dgm_params_count(p), 2);
    EXPECT_STREQ(dgm_params_name(p, 0), "fc1.weight");
    EXPECT_STREQ(dgm_params_name(p, 1), "fc1.bias");
    EXPECT_EQ(dgm_params_name(p, 2), nullptr);
    EXPECT_FALSE(dgm_params_is_buffer(p, 0));
    EXPECT_FALSE(dgm_params_is_buffer(p, 1));

    dgm_tensor *w = dgm_params_get(p, "fc1.weight");
    dgm_tensor *b = dgm_params_get(p, "fc1.bias");
    ASSERT_NE(w, nullptr);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(dgm_params_at(p, 0), w);
    EXPECT_EQ(dgm_params_at(p, 1), b);
    ASSERT_EQ(dgm_tensor_ndim(w), 2);
    EXPECT_EQ(dgm_tensor_dim(w, 0), 400);
    EXPECT_EQ(dgm_tensor_dim(w, 1), 784);
    ASSERT_EQ(dgm_tensor_ndim(b), 1);
    EXPECT_EQ(dgm_tensor_dim(b, 0), 400);
    EXPECT_TRUE(dgm_tensor_requires_grad(w));
    EXPECT_TRUE(dgm_tensor_requires_grad(b));

    const int64_t nw = 400 * 784, nb = 400;
    EXPECT_EQ(dgm_params_numel(p), nw + nb);
    EXPECT_EQ(dgm_params_total_numel(p), nw + nb);
    float *values = dgm_params_values(p);
    ASSERT_NE(values, nullptr);
    EXPECT_EQ(dgm_tensor_data(w), values) << "weight at offset 0";
    EXPECT_EQ(dgm_tensor_data(b), values + nw) << "bias right after the weight";

    // Gradients start at zero.
    const float *grads = dgm_params_grads(p);
    ASSERT_NE(grads, nullptr);
    EXPECT_TRUE(std::all_of(grads, grads + nw + nb, [](float g) { return g == 0.0f; }));

    // U(-1/sqrt(784), 1/sqrt(784)) for both, as PyTorch.
    const float bound = 1.0f / std::sqrt(784.0f);
    const std::vector<float> wv = to_host(ctx.get(), w), bv = to_host(ctx.get(), b);
    for (const auto *vec : {&wv, &bv}) {
        const auto mm = std::minmax_element(vec->begin(), vec->end());
        EXPECT_GE(*mm.first, -bound);
        EXPECT_LE(*mm.second, bound);
        EXPECT_LT(*mm.first, *mm.second) << "values are all equal";
    }
    const double expected_std = bound / std::sqrt(3.0);
    EXPECT_NEAR(std_of(wv), expected_std, 0.05 * expected_std);
    EXPECT_NEAR(mean_of(wv), 0.0, 0.02 * bound);
    EXPECT_NEAR(std_of(bv), expected_std, 0.15 * expected_std);  // only 400 values
    // The bias is not a copy of the weight's first values.
    EXPECT_NE(std::memcmp(bv.data(), wv.data(), bv.size() * sizeof(float)), 0);
}

TEST(CoreParams, LinearWithoutBias)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    dgm_params *p = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_params_create(ctx.get(), &p));
    ParamsPtr guard(p);
    DGM_ASSERT_OK(ctx.get(), dgm_params_add_linear(p, "proj", 8, 3, false));
    EXPECT_EQ(dgm_params_count(p), 1);
    EXPECT_EQ(dgm_params_numel(p), 24);
    EXPECT_NE(dgm_params_get(p, "proj.weight"), nullptr);
    EXPECT_EQ(dgm_params_get(p, "proj.bias"), nullptr);
}

TEST(CoreParams, BatchnormBuffersAfterTrainableTensors)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    dgm_params *p = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_params_create(ctx.get(), &p));
    ParamsPtr guard(p);
    DGM_ASSERT_OK(ctx.get(), dgm_params_add_linear(p, "fc1", 3, 4, true));  // 12 + 4
    DGM_ASSERT_OK(ctx.get(), dgm_params_add_batchnorm(p, "bn1", 4));        // 4 + 4 (+ 8)
    DGM_ASSERT_OK(ctx.get(), dgm_params_add_linear(p, "fc2", 4, 2, true));  // 8 + 2
    DGM_ASSERT_OK(ctx.get(), dgm_params_alloc(p));

    const char *names[] = {"fc1.weight",       "fc1.bias",        "bn1.weight", "bn1.bias",
                           "bn1.running_mean", "bn1.running_var", "fc2.weight", "fc2.bias"};
    const bool buffer[] = {false, false, false, false, true, true, false, false};
    ASSERT_EQ(dgm_params_count(p), 8);
    for (int i = 0; i < 8; i++) {
        EXPECT_STREQ(dgm_params_name(p, i), names[i]) << "declaration order, index " << i;
        EXPECT_EQ(dgm_params_is_buffer(p, i), buffer[i]) << names[i];
        EXPECT_EQ(dgm_tensor_requires_grad(dgm_params_at(p, i)), !buffer[i]) << names[i];
    }
    EXPECT_EQ(dgm_params_numel(p), 12 + 4 + 4 + 4 + 8 + 2);
    EXPECT_EQ(dgm_params_total_numel(p), 34 + 8);

    // Value layout: trainable tensors in declaration order, then the buffers.
    float *v = dgm_params_values(p);
    const std::pair<const char *, int64_t> offsets[] = {
        {"fc1.weight", 0},  {"fc1.bias", 12},          {"bn1.weight", 16},
        {"bn1.bias", 20},   {"fc2.weight", 24},        {"fc2.bias", 32},
        {"bn1.running_mean", 34}, {"bn1.running_var", 38}};
    for (const auto &o : offsets) {
        dgm_tensor *t = dgm_params_get(p, o.first);
        ASSERT_NE(t, nullptr) << o.first;
        EXPECT_EQ(dgm_tensor_data(t) - v, o.second) << o.first;
    }

    EXPECT_EQ(to_host(ctx.get(), dgm_params_get(p, "bn1.weight")), std::vector<float>(4, 1.0f));
    EXPECT_EQ(to_host(ctx.get(), dgm_params_get(p, "bn1.bias")), std::vector<float>(4, 0.0f));
    EXPECT_EQ(to_host(ctx.get(), dgm_params_get(p, "bn1.running_mean")),
              std::vector<float>(4, 0.0f));
    EXPECT_EQ(to_host(ctx.get(), dgm_params_get(p, "bn1.running_var")),
              std::vector<float>(4, 1.0f));

    // Buffers have no gradient; parameters cannot be switched off.
    dgm_tensor *g = nullptr;
    EXPECT_EQ(dgm_grad(ctx.get(), dgm_params_get(p, "bn1.running_mean"), &g),
              DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_tensor_set_requires_grad(dgm_params_get(p, "bn1.running_var"), true),
              DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_tensor_set_requires_grad(dgm_params_get(p, "fc1.weight"), false),
              DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_tensor_set_requires_grad(dgm_params_get(p, "fc1.weight"), true),
              DGM_STATUS_OK);
}

TEST(CoreParams, DuplicateNamesRejected)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    dgm_params *p = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_params_create(ctx.get(), &p));
    ParamsPtr guard(p);
    const int64_t shape[1] = {3};
    DGM_ASSERT_OK(ctx.get(), dgm_params_add(p, "enc.weight", 1, shape, {DGM_INIT_ZEROS, 0, 0}));
    EXPECT_EQ(dgm_params_add(p, "enc.weight", 1, shape, {DGM_INIT_ZEROS, 0, 0}),
              DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find("enc.weight"), std::string::npos)
        << dgm_last_error(ctx.get());
    // A buffer cannot share a parameter's name either, nor can a layer's generated names.
    EXPECT_EQ(dgm_params_add_buffer(p, "enc.weight", 1, shape, {DGM_INIT_ZEROS, 0, 0}),
              DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_NE(dgm_params_add_linear(p, "enc", 2, 3, true), DGM_STATUS_OK);
    EXPECT_EQ(dgm_params_count(p), 1) << "rejected declarations must not be added";
}

TEST(CoreParams, AddAfterAllocRejected)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    dgm_params *p = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_params_create(ctx.get(), &p));
    ParamsPtr guard(p);
    DGM_ASSERT_OK(ctx.get(), dgm_params_add_linear(p, "fc1", 4, 2, true));
    DGM_ASSERT_OK(ctx.get(), dgm_params_alloc(p));
    const int64_t shape[1] = {3};
    EXPECT_EQ(dgm_params_add(p, "late", 1, shape, {DGM_INIT_ZEROS, 0, 0}),
              DGM_STATUS_STATE_ERROR);
    EXPECT_EQ(dgm_params_add_linear(p, "fc2", 2, 2, true), DGM_STATUS_STATE_ERROR);
    EXPECT_EQ(dgm_params_add_batchnorm(p, "bn", 2), DGM_STATUS_STATE_ERROR);
    EXPECT_EQ(dgm_params_alloc(p), DGM_STATUS_STATE_ERROR) << "alloc twice";
    EXPECT_EQ(dgm_params_count(p), 2);
    EXPECT_EQ(dgm_params_numel(p), 10);
}

TEST(CoreParams, GetUnknownNameReturnsNullWithMessage)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    dgm_params *p = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_params_create(ctx.get(), &p));
    ParamsPtr guard(p);
    DGM_ASSERT_OK(ctx.get(), dgm_params_add_linear(p, "fc1", 4, 2, true));
    DGM_ASSERT_OK(ctx.get(), dgm_params_alloc(p));
    EXPECT_EQ(dgm_params_get(p, "fc9.weight"), nullptr);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find("fc9.weight"), std::string::npos)
        << dgm_last_error(ctx.get());
    EXPECT_EQ(dgm_params_get(p, "fc1"), nullptr) << "a prefix is not a name";
    EXPECT_NE(dgm_params_get(p, "fc1.bias"), nullptr);
}

TEST(CoreParams, InitKinds)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 77);
    ASSERT_TRUE(ctx);
    dgm_params *p = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_params_create(ctx.get(), &p));
    ParamsPtr guard(p);
    const int64_t shape[2] = {100, 100};
    DGM_ASSERT_OK(ctx.get(), dgm_params_add(p, "u", 2, shape, {DGM_INIT_UNIFORM, 2.0f, 4.0f}));
    DGM_ASSERT_OK(ctx.get(), dgm_params_add(p, "n", 2, shape, {DGM_INIT_NORMAL, -1.0f, 0.5f}));
    DGM_ASSERT_OK(ctx.get(), dgm_params_add(p, "o", 2, shape, {DGM_INIT_ONES, 0, 0}));
    DGM_ASSERT_OK(ctx.get(), dgm_params_alloc(p));
    const auto u = to_host(ctx.get(), dgm_params_get(p, "u"));
    const auto n = to_host(ctx.get(), dgm_params_get(p, "n"));
    const auto o = to_host(ctx.get(), dgm_params_get(p, "o"));
    const auto mm = std::minmax_element(u.begin(), u.end());
    EXPECT_GE(*mm.first, 2.0f);
    EXPECT_LE(*mm.second, 4.0f);
    EXPECT_NEAR(mean_of(u), 3.0, 0.03);
    EXPECT_NEAR(mean_of(n), -1.0, 0.03);
    EXPECT_NEAR(std_of(n), 0.5, 0.025);
    EXPECT_EQ(o, std::vector<float>(10000, 1.0f));
}

// ---------------------------------------------------------------------------------------
// Autodiff semantics
// ---------------------------------------------------------------------------------------

// loss = mean((x·W^T + b - t)^2) over a fixed batch.
::testing::AssertionResult linear_loss(dgm_ctx *ctx, dgm_params *p, dgm_tensor **loss)
{
    dgm_tensor *x = from_host(ctx, {4, 3}, {0.5f, -1.0f, 2.0f, 1.5f, 0.25f, -0.5f, -2.0f, 1.0f,
                                            0.0f, 0.75f, -0.25f, 1.25f});
    dgm_tensor *t = from_host(ctx, {4, 2}, {1.0f, -1.0f, 0.5f, 0.0f, 2.0f, 1.0f, -0.5f, 0.25f});
    if (!x || !t) return ::testing::AssertionFailure() << "inputs";
    dgm_tensor *y = nullptr;
    CORE_TRY(ctx, dgm_matmul(ctx, x, false, dgm_params_get(p, "lin.weight"), true,
                             dgm_params_get(p, "lin.bias"), DGM_ACT_NONE, 0.0f, &y));
    CORE_TRY(ctx, dgm_mse(ctx, y, t, DGM_REDUCTION_MEAN, loss));
    return ::testing::AssertionSuccess();
}

TEST(CoreAutodiff, ParameterGradientsAccumulateUntilZeroGrad)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 9);
    ASSERT_TRUE(ctx);
    dgm_params *p = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_params_create(ctx.get(), &p));
    ParamsPtr guard(p);
    DGM_ASSERT_OK(ctx.get(), dgm_params_add_linear(p, "lin", 3, 2, true));
    DGM_ASSERT_OK(ctx.get(), dgm_params_alloc(p));
    const size_t n = (size_t)dgm_params_numel(p);
    const float *grads = dgm_params_grads(p);

    dgm_tensor *loss = nullptr;
    ASSERT_TRUE(linear_loss(ctx.get(), p, &loss));
    DGM_ASSERT_OK(ctx.get(), dgm_backward(ctx.get(), loss));
    const std::vector<float> g1(grads, grads + n);
    EXPECT_TRUE(std::any_of(g1.begin(), g1.end(), [](float g) { return g != 0.0f; }));
    // dgm_grad of a parameter is its slice of the gradient buffer.
    dgm_tensor *gb = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_grad(ctx.get(), dgm_params_get(p, "lin.bias"), &gb));
    EXPECT_EQ(to_host(ctx.get(), gb), std::vector<float>(g1.begin() + 6, g1.end()));
    DGM_ASSERT_OK(ctx.get(), dgm_ctx_step_end(ctx.get()));

    // Second step, same values, no zero_grad: the gradient doubles.
    ASSERT_TRUE(linear_loss(ctx.get(), p, &loss));
    DGM_ASSERT_OK(ctx.get(), dgm_backward(ctx.get(), loss));
    for (size_t i = 0; i < n; i++) EXPECT_FLOAT_EQ(grads[i], 2.0f * g1[i]) << "element " << i;
    DGM_ASSERT_OK(ctx.get(), dgm_ctx_step_end(ctx.get()));

    DGM_ASSERT_OK(ctx.get(), dgm_params_zero_grad(p));
    EXPECT_TRUE(std::all_of(grads, grads + n, [](float g) { return g == 0.0f; }));
    dgm_tensor *gw = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_grad(ctx.get(), dgm_params_get(p, "lin.weight"), &gw));
    EXPECT_EQ(to_host(ctx.get(), gw), std::vector<float>(6, 0.0f));
    DGM_ASSERT_OK(ctx.get(), dgm_ctx_step_end(ctx.get()));

    // After zero_grad a backward gives the one-step gradient again.
    ASSERT_TRUE(linear_loss(ctx.get(), p, &loss));
    DGM_ASSERT_OK(ctx.get(), dgm_backward(ctx.get(), loss));
    for (size_t i = 0; i < n; i++) EXPECT_FLOAT_EQ(grads[i], g1[i]) << "element " << i;
}

TEST(CoreAutodiff, BackwardTwiceInOneStepIsAStateError)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    dgm_tensor *x = from_host(ctx.get(), {3}, {1.0f, 2.0f, 3.0f});
    DGM_ASSERT_OK(ctx.get(), dgm_tensor_set_requires_grad(x, true));
    dgm_tensor *sq = nullptr, *loss = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_square(ctx.get(), x, &sq));
    DGM_ASSERT_OK(ctx.get(), dgm_sum(ctx.get(), sq, DGM_AXIS_ALL, &loss));
    DGM_ASSERT_OK(ctx.get(), dgm_backward(ctx.get(), loss));
    EXPECT_EQ(dgm_backward(ctx.get(), loss), DGM_STATUS_STATE_ERROR);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find("dgm_backward"), std::string::npos)
        << dgm_last_error(ctx.get());
    // The first backward's gradient is intact.
    dgm_tensor *g = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_grad(ctx.get(), x, &g));
    EXPECT_EQ(to_host(ctx.get(), g), (std::vector<float>{2.0f, 4.0f, 6.0f}));
    // After step end a new step may run backward again.
    DGM_ASSERT_OK(ctx.get(), dgm_ctx_step_end(ctx.get()));
    x = from_host(ctx.get(), {3}, {1.0f, 2.0f, 3.0f});
    DGM_ASSERT_OK(ctx.get(), dgm_tensor_set_requires_grad(x, true));
    DGM_ASSERT_OK(ctx.get(), dgm_sum(ctx.get(), x, DGM_AXIS_ALL, &loss));
    EXPECT_EQ(dgm_backward(ctx.get(), loss), DGM_STATUS_OK) << dgm_last_error(ctx.get());
}

TEST(CoreAutodiff, BackwardOnNonScalarIsAShapeMismatch)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    dgm_tensor *x = from_host(ctx.get(), {2, 3}, {1, 2, 3, 4, 5, 6});
    DGM_ASSERT_OK(ctx.get(), dgm_tensor_set_requires_grad(x, true));
    dgm_tensor *y = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_square(ctx.get(), x, &y));
    EXPECT_EQ(dgm_backward(ctx.get(), y), DGM_STATUS_SHAPE_MISMATCH);
    const std::string msg = dgm_last_error(ctx.get());
    EXPECT_NE(msg.find("dgm_backward"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[2, 3]"), std::string::npos) << msg;
    // The failed call did not use up the step's backward: backward_from still works.
    dgm_tensor *seed = from_host(ctx.get(), {2, 3}, {1, 0, 0, 0, 0, 1});
    DGM_ASSERT_OK(ctx.get(), dgm_backward_from(ctx.get(), y, seed));
    dgm_tensor *g = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_grad(ctx.get(), x, &g));
    EXPECT_EQ(to_host(ctx.get(), g), (std::vector<float>{2, 0, 0, 0, 0, 12}));
}

TEST(CoreAutodiff, GradientWithRespectToAnInput)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    const std::vector<float> xv = {-1.5f, 0.0f, 0.5f, 2.0f, 3.0f, -0.25f};
    dgm_tensor *x = from_host(ctx.get(), {2, 3}, xv);
    EXPECT_FALSE(dgm_tensor_requires_grad(x));
    DGM_ASSERT_OK(ctx.get(), dgm_tensor_set_requires_grad(x, true));
    EXPECT_TRUE(dgm_tensor_requires_grad(x));
    dgm_tensor *sq = nullptr, *loss = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_square(ctx.get(), x, &sq));
    DGM_ASSERT_OK(ctx.get(), dgm_sum(ctx.get(), sq, DGM_AXIS_ALL, &loss));
    EXPECT_EQ(to_host(ctx.get(), loss)[0], 1.5f * 1.5f + 0.25f + 4.0f + 9.0f + 0.0625f);
    DGM_ASSERT_OK(ctx.get(), dgm_backward(ctx.get(), loss));
    dgm_tensor *g = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_grad(ctx.get(), x, &g));
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(dgm_tensor_ndim(g), 2);
    EXPECT_EQ(dgm_tensor_dim(g, 0), 2);
    EXPECT_EQ(dgm_tensor_dim(g, 1), 3);
    const std::vector<float> gv = to_host(ctx.get(), g);
    for (size_t i = 0; i < xv.size(); i++) EXPECT_FLOAT_EQ(gv[i], 2.0f * xv[i]) << i;
}

TEST(CoreAutodiff, TensorThatDoesNotInfluenceTheLossGetsZeros)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    dgm_tensor *x = from_host(ctx.get(), {3}, {1.0f, 2.0f, 3.0f});
    dgm_tensor *unused = from_host(ctx.get(), {2, 2}, {5.0f, 6.0f, 7.0f, 8.0f});
    dgm_tensor *side = from_host(ctx.get(), {3}, {4.0f, 4.0f, 4.0f});
    DGM_ASSERT_OK(ctx.get(), dgm_tensor_set_requires_grad(x, true));
    DGM_ASSERT_OK(ctx.get(), dgm_tensor_set_requires_grad(unused, true));
    DGM_ASSERT_OK(ctx.get(), dgm_tensor_set_requires_grad(side, true));
    // `side` takes part in an op whose result is not part of the loss.
    dgm_tensor *dead = nullptr, *loss = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_mul(ctx.get(), side, x, &dead));
    DGM_ASSERT_OK(ctx.get(), dgm_sum(ctx.get(), x, DGM_AXIS_ALL, &loss));
    DGM_ASSERT_OK(ctx.get(), dgm_backward(ctx.get(), loss));
    dgm_tensor *g = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_grad(ctx.get(), unused, &g));
    EXPECT_EQ(to_host(ctx.get(), g), std::vector<float>(4, 0.0f));
    EXPECT_EQ(dgm_tensor_dim(g, 0), 2);
    DGM_ASSERT_OK(ctx.get(), dgm_grad(ctx.get(), side, &g));
    EXPECT_EQ(to_host(ctx.get(), g), std::vector<float>(3, 0.0f));
    DGM_ASSERT_OK(ctx.get(), dgm_grad(ctx.get(), x, &g));
    EXPECT_EQ(to_host(ctx.get(), g), std::vector<float>(3, 1.0f)) << "dead branch leaked in";
}

TEST(CoreAutodiff, NothingRecordedWithGradDisabled)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    dgm_params *p = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_params_create(ctx.get(), &p));
    ParamsPtr guard(p);
    DGM_ASSERT_OK(ctx.get(), dgm_params_add_linear(p, "lin", 3, 2, true));
    DGM_ASSERT_OK(ctx.get(), dgm_params_alloc(p));

    dgm_ctx_set_grad_enabled(ctx.get(), false);
    dgm_tensor *x = from_host(ctx.get(), {3}, {1.0f, 2.0f, 3.0f});
    DGM_ASSERT_OK(ctx.get(), dgm_tensor_set_requires_grad(x, true));
    dgm_tensor *sq = nullptr, *loss = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_square(ctx.get(), x, &sq));
    DGM_ASSERT_OK(ctx.get(), dgm_sum(ctx.get(), sq, DGM_AXIS_ALL, &loss));
    EXPECT_EQ(to_host(ctx.get(), loss)[0], 14.0f) << "the forward still computes";
    EXPECT_FALSE(dgm_tensor_requires_grad(sq));
    EXPECT_FALSE(dgm_tensor_requires_grad(loss));
    const dgm_status st = dgm_backward(ctx.get(), loss);
    EXPECT_EQ(st, DGM_STATUS_INVALID_ARGUMENT) << dgm_status_name(st);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find("dgm_backward"), std::string::npos)
        << dgm_last_error(ctx.get());

    // Parameters in a no-grad forward: nothing recorded, gradients untouched.
    dgm_tensor *y = nullptr, *ploss = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_matmul(ctx.get(), x, false, dgm_params_get(p, "lin.weight"),
                                        true, dgm_params_get(p, "lin.bias"), DGM_ACT_TANH, 0.0f,
                                        &y));
    DGM_ASSERT_OK(ctx.get(), dgm_sum(ctx.get(), y, DGM_AXIS_ALL, &ploss));
    EXPECT_FALSE(dgm_tensor_requires_grad(ploss));
    EXPECT_NE(dgm_backward(ctx.get(), ploss), DGM_STATUS_OK);
    const float *grads = dgm_params_grads(p);
    EXPECT_TRUE(std::all_of(grads, grads + dgm_params_numel(p), [](float g) { return g == 0.0f; }));

    // Back on: the same forward records again.
    dgm_ctx_set_grad_enabled(ctx.get(), true);
    DGM_ASSERT_OK(ctx.get(), dgm_square(ctx.get(), x, &sq));
    DGM_ASSERT_OK(ctx.get(), dgm_sum(ctx.get(), sq, DGM_AXIS_ALL, &loss));
    EXPECT_TRUE(dgm_tensor_requires_grad(loss));
    DGM_ASSERT_OK(ctx.get(), dgm_backward(ctx.get(), loss));
    dgm_tensor *g = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_grad(ctx.get(), x, &g));
    EXPECT_EQ(to_host(ctx.get(), g), (std::vector<float>{2.0f, 4.0f, 6.0f}));
}

TEST(CoreAutodiff, TensorUsedTwiceGetsTheSumOfBothGradients)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    const std::vector<float> xv = {-2.0f, -0.5f, 1.0f, 3.0f};
    // y = x * x through one op with the same tensor twice: dy/dx = 2x.
    {
        dgm_tensor *x = from_host(ctx.get(), {2, 2}, xv);
        DGM_ASSERT_OK(ctx.get(), dgm_tensor_set_requires_grad(x, true));
        dgm_tensor *y = nullptr, *loss = nullptr;
        DGM_ASSERT_OK(ctx.get(), dgm_mul(ctx.get(), x, x, &y));
        DGM_ASSERT_OK(ctx.get(), dgm_sum(ctx.get(), y, DGM_AXIS_ALL, &loss));
        DGM_ASSERT_OK(ctx.get(), dgm_backward(ctx.get(), loss));
        dgm_tensor *g = nullptr;
        DGM_ASSERT_OK(ctx.get(), dgm_grad(ctx.get(), x, &g));
        const auto gv = to_host(ctx.get(), g);
        for (size_t i = 0; i < xv.size(); i++) EXPECT_FLOAT_EQ(gv[i], 2.0f * xv[i]) << i;
        DGM_ASSERT_OK(ctx.get(), dgm_ctx_step_end(ctx.get()));
    }
    // Two different ops: loss = sum(3x + x^2): d/dx = 3 + 2x.
    {
        dgm_tensor *x = from_host(ctx.get(), {2, 2}, xv);
        DGM_ASSERT_OK(ctx.get(), dgm_tensor_set_requires_grad(x, true));
        dgm_tensor *a = nullptr, *b = nullptr, *s = nullptr, *loss = nullptr;
        DGM_ASSERT_OK(ctx.get(), dgm_scale(ctx.get(), x, 3.0f, 0.0f, &a));
        DGM_ASSERT_OK(ctx.get(), dgm_square(ctx.get(), x, &b));
        DGM_ASSERT_OK(ctx.get(), dgm_add(ctx.get(), a, b, &s));
        DGM_ASSERT_OK(ctx.get(), dgm_sum(ctx.get(), s, DGM_AXIS_ALL, &loss));
        DGM_ASSERT_OK(ctx.get(), dgm_backward(ctx.get(), loss));
        dgm_tensor *g = nullptr;
        DGM_ASSERT_OK(ctx.get(), dgm_grad(ctx.get(), x, &g));
        const auto gv = to_host(ctx.get(), g);
        for (size_t i = 0; i < xv.size(); i++) EXPECT_FLOAT_EQ(gv[i], 3.0f + 2.0f * xv[i]) << i;
        DGM_ASSERT_OK(ctx.get(), dgm_ctx_step_end(ctx.get()));
    }
    // A parameter used by two matmuls accumulates both contributions too.
    {
        dgm_params *p = nullptr;
        DGM_ASSERT_OK(ctx.get(), dgm_params_create(ctx.get(), &p));
        ParamsPtr guard(p);
        const int64_t shape[2] = {1, 2};
        DGM_ASSERT_OK(ctx.get(), dgm_params_add(p, "w", 2, shape, {DGM_INIT_ONES, 0, 0}));
        DGM_ASSERT_OK(ctx.get(), dgm_params_alloc(p));
        dgm_tensor *w = dgm_params_get(p, "w");
        dgm_tensor *x1 = from_host(ctx.get(), {1, 2}, {1.0f, 2.0f});
        dgm_tensor *x2 = from_host(ctx.get(), {1, 2}, {10.0f, 20.0f});
        dgm_tensor *y1 = nullptr, *y2 = nullptr, *s = nullptr, *loss = nullptr;
        DGM_ASSERT_OK(ctx.get(), dgm_matmul(ctx.get(), x1, false, w, true, nullptr, DGM_ACT_NONE, 0, &y1));
        DGM_ASSERT_OK(ctx.get(), dgm_matmul(ctx.get(), x2, false, w, true, nullptr, DGM_ACT_NONE, 0, &y2));
        DGM_ASSERT_OK(ctx.get(), dgm_add(ctx.get(), y1, y2, &s));
        DGM_ASSERT_OK(ctx.get(), dgm_sum(ctx.get(), s, DGM_AXIS_ALL, &loss));
        DGM_ASSERT_OK(ctx.get(), dgm_backward(ctx.get(), loss));
        dgm_tensor *g = nullptr;
        DGM_ASSERT_OK(ctx.get(), dgm_grad(ctx.get(), w, &g));
        EXPECT_EQ(to_host(ctx.get(), g), (std::vector<float>{11.0f, 22.0f}));
        DGM_ASSERT_OK(ctx.get(), dgm_ctx_step_end(ctx.get()));
    }
}

// ---------------------------------------------------------------------------------------
// A small MLP trains
// ---------------------------------------------------------------------------------------

struct MlpRun {
    std::vector<float> losses;
    std::vector<float> params;  // dgm_params_values, buffers included
};

// A 2-16-1 tanh MLP fit by full-batch SGD to y = sin(x) on 64 points in [-pi, pi]; the
// second input is a constant feature. With dropout_p > 0 the hidden layer uses dropout.
::testing::AssertionResult train_sine_mlp(uint64_t seed, int steps, float lr, float dropout_p,
                                          MlpRun *run)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, seed);
    if (!ctx) return ::testing::AssertionFailure() << "no CPU context";
    dgm_ctx *c = ctx.get();
    dgm_params *p = nullptr;
    CORE_TRY(c, dgm_params_create(c, &p));
    ParamsPtr guard(p);
    CORE_TRY(c, dgm_params_add_linear(p, "fc1", 2, 16, true));
    CORE_TRY(c, dgm_params_add_linear(p, "fc2", 16, 1, true));
    CORE_TRY(c, dgm_params_alloc(p));
    dgm_tensor *w1 = dgm_params_get(p, "fc1.weight"), *b1 = dgm_params_get(p, "fc1.bias");
    dgm_tensor *w2 = dgm_params_get(p, "fc2.weight"), *b2 = dgm_params_get(p, "fc2.bias");
    if (!w1 || !b1 || !w2 || !b2) return ::testing::AssertionFailure() << "missing params";

    const int n = 64;
    const float pi = 3.14159265358979f;
    std::vector<float> xs((size_t)n * 2), ys((size_t)n);
    for (int i = 0; i < n; i++) {
        const float x = -pi + 2.0f * pi * (float)i / (float)(n - 1);
        xs[(size_t)i * 2] = x;
        xs[(size_t)i * 2 + 1] = 1.0f;
        ys[(size_t)i] = std::sin(x);
    }
    const int64_t xshape[2] = {n, 2}, yshape[2] = {n, 1};
    run->losses.clear();
    for (int step = 0; step < steps; step++) {
        dgm_tensor *x = nullptr, *t = nullptr, *h = nullptr, *y = nullptr, *loss = nullptr;
        CORE_TRY(c, dgm_tensor_from_host(c, 2, xshape, xs.data(), &x));
        CORE_TRY(c, dgm_tensor_from_host(c, 2, yshape, ys.data(), &t));
        CORE_TRY(c, dgm_matmul(c, x, false, w1, true, b1, DGM_ACT_TANH, 0.0f, &h));
        if (dropout_p > 0.0f) CORE_TRY(c, dgm_dropout(c, h, dropout_p, true, &h));
        CORE_TRY(c, dgm_matmul(c, h, false, w2, true, b2, DGM_ACT_NONE, 0.0f, &y));
        CORE_TRY(c, dgm_mse(c, y, t, DGM_REDUCTION_MEAN, &loss));
        float lv = 0.0f;
        CORE_TRY(c, dgm_tensor_to_host(c, loss, &lv));
        run->losses.push_back(lv);
        CORE_TRY(c, dgm_backward(c, loss));
        CORE_TRY(c, dgm_params_sgd_step(p, lr));
        CORE_TRY(c, dgm_params_zero_grad(p));
        CORE_TRY(c, dgm_ctx_step_end(c));
    }
    run->params = params_snapshot(p);
    return ::testing::AssertionSuccess();
}

TEST(CoreTraining, MlpFitsSine)
{
    MlpRun run;
    ASSERT_TRUE(train_sine_mlp(2024, 400, 0.2f, 0.0f, &run));
    ASSERT_EQ(run.losses.size(), 400u);
    const float first = run.losses.front(), last = run.losses.back();
    for (float l : run.losses) ASSERT_TRUE(std::isfinite(l));
    EXPECT_GT(first, 0.05f) << "the untrained net should not fit sin already";
    EXPECT_LT(last, 0.2f * first) << "initial " << first << ", final " << last;
    EXPECT_LT(last, 0.05f) << "final mean squared error";
}

// ---------------------------------------------------------------------------------------
// Random numbers
// ---------------------------------------------------------------------------------------

std::vector<float> draw_normal(dgm_ctx *ctx, int64_t n, float mean, float std)
{
    dgm_tensor *t = nullptr;
    EXPECT_EQ(dgm_rand_normal(ctx, 1, &n, mean, std, &t), DGM_STATUS_OK) << dgm_last_error(ctx);
    return t ? to_host(ctx, t) : std::vector<float>();
}

std::vector<float> draw_uniform(dgm_ctx *ctx, int64_t n, float low, float high)
{
    dgm_tensor *t = nullptr;
    EXPECT_EQ(dgm_rand_uniform(ctx, 1, &n, low, high, &t), DGM_STATUS_OK) << dgm_last_error(ctx);
    return t ? to_host(ctx, t) : std::vector<float>();
}

TEST(CoreRng, NormalMoments)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 31);
    ASSERT_TRUE(ctx);
    const int64_t shape[2] = {250, 400};
    dgm_tensor *t = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_rand_normal(ctx.get(), 2, shape, 1.5f, 2.0f, &t));
    EXPECT_EQ(dgm_tensor_ndim(t), 2);
    EXPECT_EQ(dgm_tensor_dim(t, 1), 400);
    const auto v = to_host(ctx.get(), t);
    ASSERT_EQ(v.size(), 100000u);
    EXPECT_NEAR(mean_of(v), 1.5, 0.02);
    EXPECT_NEAR(std_of(v), 2.0, 0.02 * 2.0);
    // Standard normal too.
    const auto z = draw_normal(ctx.get(), 100000, 0.0f, 1.0f);
    EXPECT_NEAR(mean_of(z), 0.0, 0.02);
    EXPECT_NEAR(std_of(z), 1.0, 0.02);
    const auto far = std::count_if(z.begin(), z.end(), [](float x) { return std::fabs(x) > 2.0f; });
    EXPECT_NEAR((double)far / 1e5, 0.0455, 0.005) << "tails of N(0, 1)";
}

// The whole distribution, not just moments: a million draws (several refills of the
// context's word pool) against the normal CDF by Kolmogorov–Smirnov (the 1 % critical value
// is 1.63/sqrt(n)), the fourth moment, and the largest |z| that the 32-bit words allow.
TEST(CoreRng, NormalMatchesTheGaussianCdf)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 5);
    ASSERT_TRUE(ctx);
    auto z = draw_normal(ctx.get(), 1000000, 0.0f, 1.0f);
    ASSERT_EQ(z.size(), 1000000u);
    std::sort(z.begin(), z.end());
    const double n = (double)z.size();
    double ks = 0.0, m4 = 0.0;
    for (size_t i = 0; i < z.size(); i++) {
        const double cdf = 0.5 * std::erfc(-(double)z[i] / std::sqrt(2.0));
        ks = std::fmax(ks, std::fmax(std::fabs(cdf - (double)i / n), std::fabs((double)(i + 1) / n - cdf)));
        m4 += std::pow((double)z[i], 4) / n;
    }
    EXPECT_LT(ks, 1.63 / std::sqrt(n));
    EXPECT_NEAR(m4, 3.0, 0.05);
    EXPECT_LT(std::fmax(-z.front(), z.back()), 6.67f);
    EXPECT_GT(std::fmax(-z.front(), z.back()), 4.0f);
}

// The CPU backend splits large loops over its threads (host/cpu/cpu_internal.h, from 4M
// elements at most): every element is computed exactly once, whatever the thread count
// and however the length falls against the 16-float cuts.
TEST(CpuLoops, ParallelLoopsCoverEveryElementOnce)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    const int64_t n = ((int64_t)1 << 22) + 3;
    std::vector<float> x((size_t)n);
    for (int64_t i = 0; i < n; i++) x[(size_t)i] = (float)(i % 1000) * 0.25f - 100.0f;
    const int saved = omp_get_max_threads();
    for (int threads : {1, 2, 3}) {
        omp_set_num_threads(threads);
        dgm_tensor *t = from_host(ctx.get(), {n}, x), *y = nullptr;
        DGM_ASSERT_OK(ctx.get(), dgm_scale(ctx.get(), t, 2.0f, 1.0f, &y));
        const std::vector<float> got = to_host(ctx.get(), y);
        int64_t wrong = 0;
        for (int64_t i = 0; i < n; i++) wrong += got[(size_t)i] != 2.0f * x[(size_t)i] + 1.0f;
        EXPECT_EQ(wrong, 0) << threads << " threads";
        DGM_ASSERT_OK(ctx.get(), dgm_ctx_step_end(ctx.get()));
    }
    omp_set_num_threads(saved);
}

TEST(CoreRng, UniformRangeAndMean)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 32);
    ASSERT_TRUE(ctx);
    const float low = -1.0f, high = 3.0f;
    const auto v = draw_uniform(ctx.get(), 100000, low, high);
    ASSERT_EQ(v.size(), 100000u);
    const auto mm = std::minmax_element(v.begin(), v.end());
    EXPECT_GE(*mm.first, low);
    EXPECT_LE(*mm.second, high);
    EXPECT_NEAR(mean_of(v), 1.0, 0.01);
    EXPECT_NEAR(std_of(v), 4.0 / std::sqrt(12.0), 0.01);
    // Both halves are populated evenly.
    const auto below = std::count_if(v.begin(), v.end(), [](float x) { return x < 1.0f; });
    EXPECT_NEAR((double)below / 1e5, 0.5, 0.01);
}

TEST(CoreRng, BernoulliRate)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 33);
    ASSERT_TRUE(ctx);
    const std::vector<float> probs(100000, 0.3f);
    dgm_tensor *pt = from_host(ctx.get(), {100, 1000}, probs);
    dgm_tensor *b = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_bernoulli(ctx.get(), pt, &b));
    EXPECT_EQ(dgm_tensor_dim(b, 0), 100);
    EXPECT_EQ(dgm_tensor_dim(b, 1), 1000);
    const auto v = to_host(ctx.get(), b);
    size_t ones = 0;
    for (float x : v) {
        ASSERT_TRUE(x == 0.0f || x == 1.0f) << x;
        ones += x == 1.0f;
    }
    EXPECT_NEAR((double)ones / 1e5, 0.3, 0.01);
    // Probabilities 0 and 1 are exact, per element.
    dgm_tensor *edge = from_host(ctx.get(), {4}, {0.0f, 1.0f, 0.0f, 1.0f});
    DGM_ASSERT_OK(ctx.get(), dgm_bernoulli(ctx.get(), edge, &b));
    EXPECT_EQ(to_host(ctx.get(), b), (std::vector<float>{0.0f, 1.0f, 0.0f, 1.0f}));
}

TEST(CoreRng, SameSeedSameDraws)
{
    for (int64_t n : {1000, 1001, 1, 7}) {
        CtxPtr a = make_ctx(DGM_DEVICE_CPU, 1234), b = make_ctx(DGM_DEVICE_CPU, 1234);
        ASSERT_TRUE(a && b);
        const auto na = draw_normal(a.get(), n, 0.0f, 1.0f), nb = draw_normal(b.get(), n, 0.0f, 1.0f);
        EXPECT_TRUE(bitwise_equal(na, nb)) << "normal, n = " << n;
        const auto ua = draw_uniform(a.get(), n, 0.0f, 1.0f), ub = draw_uniform(b.get(), n, 0.0f, 1.0f);
        EXPECT_TRUE(bitwise_equal(ua, ub)) << "uniform, n = " << n;
        // Successive draws differ.
        const auto na2 = draw_normal(a.get(), n, 0.0f, 1.0f);
        EXPECT_FALSE(bitwise_equal(na, na2)) << "n = " << n;
        // Another seed gives other numbers.
        CtxPtr c = make_ctx(DGM_DEVICE_CPU, 1235);
        ASSERT_TRUE(c);
        EXPECT_FALSE(bitwise_equal(draw_normal(c.get(), n, 0.0f, 1.0f), na)) << "n = " << n;
        // Reseeding a used context starts the sequence over.
        DGM_ASSERT_OK(a.get(), dgm_ctx_seed(a.get(), 1234));
        uint64_t seed = 0, offset = 1;
        dgm_ctx_rng_state(a.get(), &seed, &offset);
        EXPECT_EQ(seed, 1234u);
        EXPECT_EQ(offset, 0u);
        EXPECT_TRUE(bitwise_equal(draw_normal(a.get(), n, 0.0f, 1.0f), na)) << "n = " << n;
    }
}

TEST(CoreRng, SavedStateReproducesTheFollowingDraws)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 4242);
    ASSERT_TRUE(ctx);
    dgm_ctx *c = ctx.get();
    // Mixed draws of odd and even sizes before the save point.
    draw_uniform(c, 3, 0.0f, 1.0f);
    draw_normal(c, 5, 0.0f, 1.0f);
    draw_normal(c, 6, 0.0f, 1.0f);
    draw_uniform(c, 10, 0.0f, 1.0f);
    uint64_t seed = 0, offset = 0;
    dgm_ctx_rng_state(c, &seed, &offset);
    EXPECT_EQ(seed, 4242u);
    EXPECT_GE(offset, 3u + 5u + 6u + 10u) << "the offset counts the values drawn";

    auto follow = [](dgm_ctx *cc) {
        std::vector<float> all;
        for (auto part : {draw_normal(cc, 7, 0.0f, 1.0f), draw_uniform(cc, 9, -2.0f, 2.0f),
                          draw_normal(cc, 4, 3.0f, 0.5f)})
            all.insert(all.end(), part.begin(), part.end());
        return all;
    };
    const std::vector<float> expected = follow(c);
    ASSERT_EQ(expected.size(), 20u);

    // Restore on the same context.
    DGM_ASSERT_OK(c, dgm_ctx_set_rng_state(c, seed, offset));
    uint64_t s2 = 0, o2 = 0;
    dgm_ctx_rng_state(c, &s2, &o2);
    EXPECT_EQ(s2, seed);
    EXPECT_EQ(o2, offset);
    EXPECT_TRUE(bitwise_equal(follow(c), expected));

    // Restore on a fresh context with another seed (a checkpoint resumed elsewhere).
    CtxPtr other = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(other);
    draw_uniform(other.get(), 11, 0.0f, 1.0f);
    DGM_ASSERT_OK(other.get(), dgm_ctx_set_rng_state(other.get(), seed, offset));
    EXPECT_TRUE(bitwise_equal(follow(other.get()), expected));
}

// ---------------------------------------------------------------------------------------
// Determinism of a whole training run
// ---------------------------------------------------------------------------------------

TEST(CoreDeterminism, SameSeedSameTrainingRun)
{
    MlpRun a, b, c;
    ASSERT_TRUE(train_sine_mlp(77, 30, 0.1f, 0.25f, &a));
    ASSERT_TRUE(train_sine_mlp(77, 30, 0.1f, 0.25f, &b));
    ASSERT_TRUE(train_sine_mlp(78, 30, 0.1f, 0.25f, &c));
    ASSERT_EQ(a.params.size(), (size_t)(2 * 16 + 16 + 16 + 1));
    EXPECT_TRUE(bitwise_equal(a.params, b.params)) << "same seed, different parameters";
    EXPECT_TRUE(bitwise_equal(a.losses, b.losses)) << "same seed, different losses";
    EXPECT_FALSE(bitwise_equal(a.params, c.params)) << "the seed has no effect";
}

// ---------------------------------------------------------------------------------------
// Step tensors die at step end
// ---------------------------------------------------------------------------------------

TEST(CoreStepLifetime, StepTensorAfterStepEndIsRejected)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    dgm_ctx *c = ctx.get();
    dgm_tensor *t = from_host(c, {2, 2}, {1, 2, 3, 4});
    dgm_tensor *u = nullptr;
    DGM_ASSERT_OK(c, dgm_scale(c, t, 2.0f, 0.0f, &u));
    DGM_ASSERT_OK(c, dgm_ctx_step_end(c));

    float buf[4];
    EXPECT_EQ(dgm_tensor_to_host(c, t, buf), DGM_STATUS_STATE_ERROR);
    EXPECT_NE(std::string(dgm_last_error(c)).find("dgm_ctx_step_end"), std::string::npos)
        << dgm_last_error(c);
    dgm_tensor *out = nullptr;
    EXPECT_EQ(dgm_add(c, u, u, &out), DGM_STATUS_STATE_ERROR);
    EXPECT_EQ(out, nullptr);
    EXPECT_NE(std::string(dgm_last_error(c)).find("add"), std::string::npos) << dgm_last_error(c);
    EXPECT_EQ(dgm_tensor_fill(c, t, 0.0f), DGM_STATUS_STATE_ERROR);
    EXPECT_EQ(dgm_backward(c, u), DGM_STATUS_STATE_ERROR);
    // Persistent tensors are not affected.
    const int64_t shape[1] = {4};
    dgm_tensor *pt = nullptr;
    DGM_ASSERT_OK(c, dgm_tensor_create(c, 1, shape, &pt));
    TensorPtr guard(pt);
    DGM_ASSERT_OK(c, dgm_ctx_step_end(c));
    EXPECT_EQ(dgm_tensor_fill(c, pt, 1.0f), DGM_STATUS_OK);
}

// The same rule after a step large enough that the context's bookkeeping memory grew past
// its first block (thousands of step tensors). Returns the child's exit code: 0 when both
// stale tensors are rejected with STATE_ERROR.
int use_stale_tensors_after_large_step()
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    if (!ctx) return 2;
    dgm_ctx *c = ctx.get();
    const int64_t one = 1;
    const float v = 1.0f;
    dgm_tensor *first = nullptr;
    dgm_tensor *last = nullptr;
    if (dgm_tensor_from_host(c, 1, &one, &v, &first) != DGM_STATUS_OK) return 3;
    for (int i = 0; i < 20000; i++)
        if (dgm_tensor_from_host(c, 1, &one, &v, &last) != DGM_STATUS_OK) return 4;
    if (dgm_ctx_step_end(c) != DGM_STATUS_OK) return 5;
    float out = 0.0f;
    if (dgm_tensor_to_host(c, first, &out) != DGM_STATUS_STATE_ERROR) return 6;
    if (dgm_tensor_to_host(c, last, &out) != DGM_STATUS_STATE_ERROR) return 7;
    return 0;
}

// Run in a child process so that a crash fails this test only.
TEST(CoreStepLifetimeDeathTest, StepTensorAfterLargeStepIsRejected)
{
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(std::exit(use_stale_tensors_after_large_step()), ::testing::ExitedWithCode(0), "");
}

}  // namespace
