// Optimizers and averages over one part of a parameter block (a GAN's two players share
// one block): dgm_params_prefix_range finds the part, and a range optimizer or EMA changes
// exactly that part — as the same optimizer over a block holding only that part would.
#include <cmath>
#include <cstring>

#include "test_util.h"

using namespace dgmtest;

namespace {

// generator.* (9 floats) then discriminator.* (4 floats), and a buffer.
dgm_params *two_players(dgm_ctx *c)
{
    dgm_params *p = nullptr;
    EXPECT_EQ(dgm_params_create(c, &p), DGM_STATUS_OK);
    EXPECT_EQ(dgm_params_add_linear(p, "generator.0", 2, 3, true), DGM_STATUS_OK);
    EXPECT_EQ(dgm_params_add_batchnorm(p, "generator.1", 3), DGM_STATUS_OK);  // +6 floats, 2 buffers
    EXPECT_EQ(dgm_params_add_linear(p, "discriminator.0", 3, 1, true), DGM_STATUS_OK);
    EXPECT_EQ(dgm_params_alloc(p), DGM_STATUS_OK) << dgm_last_error(c);
    return p;
}

TEST(ParamsRange, FindsEachPlayersContiguousPart)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    dgm_params *p = two_players(ctx.get());
    int64_t off = -1, n = -1;
    DGM_ASSERT_OK(ctx.get(), dgm_params_prefix_range(p, "generator.", &off, &n));
    EXPECT_EQ(off, 0);
    EXPECT_EQ(n, 6 + 3 + 6);  // weight, bias, batch-norm weight and bias (not its buffers)
    DGM_ASSERT_OK(ctx.get(), dgm_params_prefix_range(p, "discriminator.", &off, &n));
    EXPECT_EQ(off, 15);
    EXPECT_EQ(n, 4);
    EXPECT_EQ(off + n, dgm_params_numel(p));
    EXPECT_EQ(dgm_params_prefix_range(p, "critic.", &off, &n), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_NE(std::strstr(dgm_last_error(ctx.get()), "critic."), nullptr);
    dgm_params_free(p);

    // Interleaved declarations are refused, not silently covered.
    DGM_ASSERT_OK(ctx.get(), dgm_params_create(ctx.get(), &p));
    const int64_t s[1] = {2};
    dgm_init z = {DGM_INIT_ZEROS, 0, 0};
    DGM_ASSERT_OK(ctx.get(), dgm_params_add(p, "a.x", 1, s, z));
    DGM_ASSERT_OK(ctx.get(), dgm_params_add(p, "b.x", 1, s, z));
    DGM_ASSERT_OK(ctx.get(), dgm_params_add(p, "a.y", 1, s, z));
    EXPECT_EQ(dgm_params_prefix_range(p, "a.", &off, &n), DGM_STATUS_STATE_ERROR);  // not allocated
    DGM_ASSERT_OK(ctx.get(), dgm_params_alloc(p));
    EXPECT_EQ(dgm_params_prefix_range(p, "a.", &off, &n), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_NE(std::strstr(dgm_last_error(ctx.get()), "contiguous"), nullptr);
    dgm_params_free(p);
}

// Three Adam steps of the discriminator's range leave the generator bitwise alone and give
// the discriminator bitwise what Adam over a block of just its tensors gives.
TEST(OptimRange, UpdatesItsRangeExactlyAsAWholeBlockOfItWould)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    dgm_ctx *c = ctx.get();
    dgm_params *p = two_players(c), *alone = nullptr;
    DGM_ASSERT_OK(c, dgm_params_create(c, &alone));
    DGM_ASSERT_OK(c, dgm_params_add_linear(alone, "discriminator.0", 3, 1, true));
    DGM_ASSERT_OK(c, dgm_params_alloc(alone));
    int64_t off = 0, n = 0;
    DGM_ASSERT_OK(c, dgm_params_prefix_range(p, "discriminator.", &off, &n));
    std::memcpy(dgm_params_values(alone), dgm_params_values(p) + off, (size_t)n * sizeof(float));
    const std::vector<float> before(dgm_params_values(p), dgm_params_values(p) + dgm_params_total_numel(p));

    dgm_optim_config cfg = dgm_optim_config_default(DGM_OPTIM_ADAM);
    cfg.lr = 0.01f;
    cfg.beta1 = 0.5f;
    dgm_optim *part = nullptr, *whole = nullptr;
    DGM_ASSERT_OK(c, dgm_optim_create_range(p, off, n, &cfg, &part));
    DGM_ASSERT_OK(c, dgm_optim_create(alone, &cfg, &whole));
    EXPECT_EQ(dgm_optim_numel(part), n);
    std::mt19937 rng(3);
    for (int step = 0; step < 3; step++) {
        auto g = random_values(rng, dgm_params_numel(p), -1, 1);
        std::memcpy(dgm_params_grads(p), g.data(), g.size() * sizeof(float));
        std::memcpy(dgm_params_grads(alone), g.data() + off, (size_t)n * sizeof(float));
        DGM_ASSERT_OK(c, dgm_optim_step(part));
        DGM_ASSERT_OK(c, dgm_optim_step(whole));
    }
    const float *v = dgm_params_values(p);
    for (int64_t i = 0; i < off; i++) EXPECT_EQ(v[i], before[(size_t)i]) << "generator " << i;
    for (int64_t i = off + n; i < dgm_params_total_numel(p); i++)
        EXPECT_EQ(v[i], before[(size_t)i]) << "buffer " << i;
    for (int64_t i = 0; i < n; i++) {
        EXPECT_EQ(v[off + i], dgm_params_values(alone)[i]) << "discriminator " << i;
        EXPECT_NE(v[off + i], before[(size_t)(off + i)]) << "discriminator " << i << " moved";
    }
    dgm_optim *bad = nullptr;
    EXPECT_EQ(dgm_optim_create_range(p, off, n + 1, &cfg, &bad), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(bad, nullptr);
    dgm_optim_free(part);
    dgm_optim_free(whole);
    dgm_params_free(alone);
    dgm_params_free(p);
}

// An EMA of the generator's range averages and swaps that range alone.
TEST(EmaRange, AveragesAndSwapsItsRangeOnly)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    dgm_ctx *c = ctx.get();
    dgm_params *p = two_players(c);
    int64_t off = 0, n = 0;
    DGM_ASSERT_OK(c, dgm_params_prefix_range(p, "generator.", &off, &n));
    dgm_ema *e = nullptr;
    DGM_ASSERT_OK(c, dgm_ema_create_range(p, off, n, 0.75f, &e));
    float *v = dgm_params_values(p);
    const int64_t total = dgm_params_numel(p);
    std::vector<float> start(v, v + total);
    for (int64_t i = 0; i < total; i++) v[i] += 1.0f;  // every weight moves by 1
    DGM_ASSERT_OK(c, dgm_ema_update(e));
    const float *avg = dgm_ema_data(e);
    for (int64_t i = 0; i < n; i++) EXPECT_FLOAT_EQ(avg[i], start[(size_t)(off + i)] + 0.25f);
    std::vector<float> moved(v, v + total);
    DGM_ASSERT_OK(c, dgm_ema_swap(e));
    for (int64_t i = 0; i < total; i++) {
        if (i >= off && i < off + n) EXPECT_FLOAT_EQ(v[i], start[(size_t)i] + 0.25f) << i;
        else EXPECT_EQ(v[i], moved[(size_t)i]) << "outside the range " << i;
    }
    dgm_ema_free(e);
    dgm_params_free(p);
}

// A clip over the discriminator's range measures that range's norm, scales that range to
// max_norm and leaves every other gradient bitwise alone; a range under the bound is kept.
TEST(ClipRange, ScalesItsRangeToTheNormOnly)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    dgm_ctx *c = ctx.get();
    dgm_params *p = two_players(c);
    int64_t off = 0, n = 0;
    DGM_ASSERT_OK(c, dgm_params_prefix_range(p, "discriminator.", &off, &n));
    const int64_t total = dgm_params_numel(p);
    float *g = dgm_params_grads(p);
    for (int64_t i = 0; i < total; i++) g[i] = (float)(i + 1);  // D's 16..19: norm sqrt(1230)
    const std::vector<float> before(g, g + total);
    double sq = 0.0;
    for (int64_t i = off; i < off + n; i++) sq += (double)g[i] * g[i];
    float norm = 0.0f;
    DGM_ASSERT_OK(c, dgm_clip_grad_norm_range(p, off, n, 2.0f, &norm));
    EXPECT_NEAR(norm, std::sqrt(sq), 1e-3);
    double after = 0.0;
    for (int64_t i = off; i < off + n; i++) {
        after += (double)g[i] * g[i];
        EXPECT_NEAR(g[i], before[(size_t)i] * 2.0 / std::sqrt(sq), 1e-5) << i;
    }
    EXPECT_NEAR(std::sqrt(after), 2.0, 1e-5);
    for (int64_t i = 0; i < off; i++) EXPECT_EQ(g[i], before[(size_t)i]) << "generator " << i;
    // Under the bound: unchanged, and the norm is still measured.
    const std::vector<float> small(g, g + total);
    DGM_ASSERT_OK(c, dgm_clip_grad_norm_range(p, off, n, 100.0f, &norm));
    EXPECT_NEAR(norm, 2.0f, 1e-5);
    for (int64_t i = 0; i < total; i++) EXPECT_EQ(g[i], small[(size_t)i]) << i;
    EXPECT_EQ(dgm_clip_grad_norm_range(p, off, n + 1, 1.0f, nullptr), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_clip_grad_norm_range(p, off, n, 0.0f, nullptr), DGM_STATUS_INVALID_ARGUMENT);
    dgm_params_free(p);
}

}  // namespace
