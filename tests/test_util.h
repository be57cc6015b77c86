// Helpers shared by the test files: contexts, host <-> tensor conversions, random data.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

extern "C" {
#include "dgm/dgm.h"
}

#define DGM_ASSERT_OK(ctx, expr)                                                              \
    do {                                                                                      \
        dgm_status s_ = (expr);                                                               \
        ASSERT_EQ(s_, DGM_STATUS_OK) << #expr << ": " << dgm_status_name(s_) << ": "          \
                                     << dgm_last_error(ctx);                                  \
    } while (0)

namespace dgmtest {

struct CtxDeleter {
    void operator()(dgm_ctx *c) const { dgm_ctx_free(c); }
};
using CtxPtr = std::unique_ptr<dgm_ctx, CtxDeleter>;

// A context on `device`, or nullptr (with the reason in *why) when it cannot be made.
inline CtxPtr make_ctx(dgm_device device, uint64_t seed = 0, std::string *why = nullptr)
{
    dgm_ctx_config cfg = dgm_ctx_config_default();
    cfg.device = device;
    cfg.seed = seed;
    dgm_ctx *ctx = nullptr;
    dgm_status st = dgm_ctx_create(&cfg, &ctx);
    if (st != DGM_STATUS_OK) {
        if (why) *why = ctx ? dgm_last_error(ctx) : "out of memory";
        dgm_ctx_free(ctx);
        return CtxPtr();
    }
    return CtxPtr(ctx);
}

// The reason CUDA tests must skip, or "" when a GPU is usable.
inline std::string cuda_skip_reason()
{
    char why[256] = "";
    if (dgm_cuda_available(why, sizeof why)) return "";
    return std::string("no usable GPU: ") + why;
}

// DGM_REQUIRE_GPU=1 in the environment (scripts/gpu-check sets it): a GPU must be usable,
// so a CUDA test that would skip fails instead.
inline bool gpu_required()
{
    const char *v = std::getenv("DGM_REQUIRE_GPU");
    return v != nullptr && std::string(v) == "1";
}

// Every test that needs a GPU starts with this: where none is usable it skips (never
// passes) with the reason, or fails with it when DGM_REQUIRE_GPU=1.
#define SKIP_WITHOUT_GPU()                                                                    \
    do {                                                                                      \
        std::string why_ = ::dgmtest::cuda_skip_reason();                                     \
        if (!why_.empty()) {                                                                  \
            if (::dgmtest::gpu_required()) FAIL() << "DGM_REQUIRE_GPU=1 but " << why_;        \
            GTEST_SKIP() << why_;                                                             \
        }                                                                                     \
    } while (0)

inline std::vector<float> to_host(dgm_ctx *ctx, const dgm_tensor *t)
{
    std::vector<float> v((size_t)dgm_tensor_numel(t));
    EXPECT_EQ(dgm_tensor_to_host(ctx, t, v.data()), DGM_STATUS_OK) << dgm_last_error(ctx);
    return v;
}

inline dgm_tensor *from_host(dgm_ctx *ctx, std::vector<int64_t> shape, const std::vector<float> &v)
{
    dgm_tensor *t = nullptr;
    dgm_status st = dgm_tensor_from_host(ctx, (int)shape.size(), shape.data(), v.data(), &t);
    EXPECT_EQ(st, DGM_STATUS_OK) << dgm_last_error(ctx);
    return t;
}

inline int64_t numel(const std::vector<int64_t> &shape)
{
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

// Uniform values in [lo, hi] with |x| >= gap (keeps finite differences off kinks).
inline std::vector<float> random_values(std::mt19937 &rng, int64_t n, float lo, float hi,
                                        float gap = 0.0f)
{
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<float> v((size_t)n);
    for (auto &x : v) {
        do x = u(rng);
        while (std::fabs(x) < gap);
    }
    return v;
}

} // namespace dgmtest
