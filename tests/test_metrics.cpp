// Mode coverage of mixture samples, and the mixture toys' centres it is measured against.
#include <cstring>

#include "test_util.h"

using namespace dgmtest;

namespace {

struct Mixture {
    std::vector<double> centres = std::vector<double>(2 * 32);
    int count = 0;
    double std = 0;
};

Mixture mixture(dgm_ctx *c, const char *name)
{
    Mixture m;
    EXPECT_EQ(dgm_toy_mixture(c, name, 32, m.centres.data(), &m.count, &m.std), DGM_STATUS_OK)
        << dgm_last_error(c);
    return m;
}

// The centres and std of dgm_toy_mixture are those the toy samplers draw from: the mean of
// each label's samples is its centre, and their spread the std.
TEST(ToyMixture, CentresAndStdMatchTheSamplers)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    for (const char *name : {"ring8", "grid25", "gauss8"}) {
        Mixture m = mixture(ctx.get(), name);
        dgm_dataset *d = nullptr;
        const int64_t n = 50000;
        DGM_ASSERT_OK(ctx.get(), dgm_dataset_toy(ctx.get(), name, n, 3, &d));
        const float *x = dgm_dataset_data(d);
        const int32_t *lab = dgm_dataset_labels(d);
        std::vector<double> sum(2 * m.count, 0.0), sq(m.count, 0.0);
        std::vector<int64_t> cnt(m.count, 0);
        for (int64_t i = 0; i < n; i++) {
            ASSERT_LT(lab[i], m.count);
            sum[2 * lab[i]] += x[2 * i];
            sum[2 * lab[i] + 1] += x[2 * i + 1];
            cnt[lab[i]]++;
        }
        for (int64_t i = 0; i < n; i++)
            for (int c = 0; c < 2; c++) {
                const double dlt = x[2 * i + c] - m.centres[2 * lab[i] + c];
                sq[lab[i]] += dlt * dlt;
            }
        for (int k = 0; k < m.count; k++) {
            ASSERT_GT(cnt[k], 100) << name;
            const double se = 5.0 * m.std / std::sqrt((double)cnt[k]);
            EXPECT_NEAR(sum[2 * k] / cnt[k], m.centres[2 * k], se) << name << " centre " << k;
            EXPECT_NEAR(sum[2 * k + 1] / cnt[k], m.centres[2 * k + 1], se) << name << " " << k;
            EXPECT_NEAR(std::sqrt(sq[k] / (2.0 * cnt[k])), m.std, 0.1 * m.std) << name << " " << k;
        }
        dgm_dataset_free(d);
    }
    dgm_dataset *d = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_dataset_toy(ctx.get(), "gauss8", 10, 1, &d));
    EXPECT_STREQ(dgm_dataset_toy_name(d), "gauss8");
    dgm_dataset_free(d);
    EXPECT_EQ(dgm_dataset_toy_name(nullptr), nullptr);
    int count = 0;
    double std = 0;
    EXPECT_EQ(dgm_toy_mixture(ctx.get(), "moons", 32, nullptr, &count, &std),
              DGM_STATUS_INVALID_ARGUMENT);
    std::vector<double> small(4);
    EXPECT_EQ(dgm_toy_mixture(ctx.get(), "grid25", 2, small.data(), &count, &std),
              DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(count, 25);
}

// Samples of the true mixture: every mode, and the high-quality share of a 2-D Gaussian
// within 3 std, P(χ²₂ ≤ 9) = 1 - e^-4.5 = 0.98889.
TEST(ModeCoverage, TrueSamplesCoverEveryMode)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    for (const char *name : {"ring8", "grid25"}) {
        Mixture m = mixture(ctx.get(), name);
        dgm_dataset *d = nullptr;
        const int64_t n = 20000;
        DGM_ASSERT_OK(ctx.get(), dgm_dataset_toy(ctx.get(), name, n, 9, &d));
        dgm_mode_coverage mc{};
        DGM_ASSERT_OK(ctx.get(), dgm_mode_coverage_compute(ctx.get(), dgm_dataset_data(d), n, 2,
                                                            m.centres.data(), m.count, m.std,
                                                            &mc));
        EXPECT_EQ(mc.modes, m.count) << name;
        EXPECT_EQ(mc.total_modes, m.count);
        EXPECT_NEAR(mc.high_quality, 1.0 - std::exp(-4.5), 0.004) << name;
        // A multinomial histogram of n draws has KL ≈ (K-1)/(2n) from uniform.
        EXPECT_LT(mc.reverse_kl, 0.01) << name;
        EXPECT_GE(mc.reverse_kl, 0.0);
        dgm_dataset_free(d);
    }
}

// Constructed cases with known answers: collapse onto one mode, samples off every mode,
// an even split over two modes.
TEST(ModeCoverage, KnownAnswers)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    Mixture m = mixture(ctx.get(), "grid25");
    std::vector<float> s;
    for (int i = 0; i < 100; i++) {  // 60 at centre 7 (slightly off), 40 halfway between modes
        if (i < 60) {
            s.push_back((float)m.centres[14] + 0.01f);
            s.push_back((float)m.centres[15]);
        } else {
            s.push_back(1.0f);
            s.push_back(1.0f);
        }
    }
    dgm_mode_coverage mc{};
    DGM_ASSERT_OK(ctx.get(), dgm_mode_coverage_compute(ctx.get(), s.data(), 100, 2,
                                                        m.centres.data(), 25, m.std, &mc));
    EXPECT_EQ(mc.modes, 1);
    EXPECT_DOUBLE_EQ(mc.high_quality, 0.6);
    EXPECT_NEAR(mc.reverse_kl, std::log(25.0), 1e-12);
    // Two modes, 30 samples each: KL = log(25/2).
    for (int i = 30; i < 60; i++) {
        s[2 * i] = (float)m.centres[0];
        s[2 * i + 1] = (float)m.centres[1] - 0.14f;  // 2.8 std away: still high quality
    }
    DGM_ASSERT_OK(ctx.get(), dgm_mode_coverage_compute(ctx.get(), s.data(), 60, 2,
                                                        m.centres.data(), 25, m.std, &mc));
    EXPECT_EQ(mc.modes, 2);
    EXPECT_DOUBLE_EQ(mc.high_quality, 1.0);
    EXPECT_NEAR(mc.reverse_kl, std::log(12.5), 1e-12);
    // Nothing of high quality.
    DGM_ASSERT_OK(ctx.get(), dgm_mode_coverage_compute(ctx.get(), s.data() + 120, 40, 2,
                                                        m.centres.data(), 25, m.std, &mc));
    EXPECT_EQ(mc.modes, 0);
    EXPECT_EQ(mc.high_quality, 0.0);
    EXPECT_TRUE(std::isnan(mc.reverse_kl));
    EXPECT_EQ(dgm_mode_coverage_compute(ctx.get(), s.data(), 0, 2, m.centres.data(), 25, m.std, &mc),
              DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_mode_coverage_compute(ctx.get(), s.data(), 10, 2, m.centres.data(), 25, 0.0, &mc),
              DGM_STATUS_INVALID_ARGUMENT);
}

}  // namespace
