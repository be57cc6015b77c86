// The vectorizable exp/log1p/sigmoid/softplus of elementwise_math.h and the log and value
// transforms of rng_math.h against libm in double.
#include <cfloat>
#include <cmath>

#include "test_util.h"

extern "C" {
#include "elementwise_math.h"
#include "rng_math.h"
}

namespace {

double rel(double got, double want) { return std::fabs(got - want) / std::fmax(std::fabs(want), 1e-300); }

TEST(Math, ExpNonPositiveIsAccurateOnItsRange)
{
    double worst = 0.0;
    for (double x = -87.0; x <= 0.0; x += 1.0 / 4096) worst = std::fmax(worst, rel(dgm_exp_nonpos((float)x), std::exp((double)(float)x)));
    EXPECT_LT(worst, 3e-7);
    EXPECT_EQ(dgm_exp_nonpos(0.0f), 1.0f);
    EXPECT_GT(dgm_exp_nonpos(-200.0f), 0.0f);  // clamped at e^-87, never a denormal or NaN
    EXPECT_LT(dgm_exp_nonpos(-200.0f), 2e-38f);
}

TEST(Math, Expm1NonPositiveIsAccurate)
{
    double worst = 0.0;
    for (double x = -90.0; x < 0.0; x += 1.0 / 8192) {
        const float xf = (float)x;
        worst = std::fmax(worst, rel(dgm_expm1_nonpos(xf), std::expm1((double)xf)));
    }
    for (double x = -1e-3; x < 0.0; x += 1e-7) worst = std::fmax(worst, rel(dgm_expm1_nonpos((float)x), std::expm1((double)(float)x)));
    EXPECT_LT(worst, 3e-7);
    EXPECT_EQ(dgm_expm1_nonpos(0.0f), 0.0f);
    EXPECT_EQ(dgm_expm1_nonpos(5.0f), 0.0f);  // the positive side is the caller's
}

TEST(Math, TanhIsAccurateEverywhere)
{
    double worst = 0.0;
    for (double x = -20.0; x <= 20.0; x += 1.0 / 8192) {
        const float xf = (float)x;
        if (xf != 0.0f) worst = std::fmax(worst, rel(dgm_tanhf(xf), std::tanh((double)xf)));
    }
    for (double x = 1e-7; x < 1e-3; x *= 1.01)  // near 0: tanh(x) ≈ x keeps its digits
        worst = std::fmax(worst, rel(dgm_tanhf((float)x), std::tanh((double)(float)x)));
    EXPECT_LT(worst, 5e-7);
    EXPECT_EQ(dgm_tanhf(0.0f), 0.0f);
    EXPECT_EQ(dgm_tanhf(1e30f), 1.0f);
    EXPECT_EQ(dgm_tanhf(-1e30f), -1.0f);
    EXPECT_EQ(dgm_tanhf(-3.0f), -dgm_tanhf(3.0f));
    EXPECT_TRUE(std::isnan(dgm_tanhf(NAN)));
}

TEST(Math, ErfIsAccurateEverywhere)
{
    double worst_abs = 0.0, worst_rel_small = 0.0;
    for (double x = -8.0; x <= 8.0; x += 1.0 / 8192) {
        const float xf = (float)x;
        const double want = std::erf((double)xf), got = dgm_erff(xf);
        worst_abs = std::fmax(worst_abs, std::fabs(got - want));
        if (std::fabs(xf) < 0.5f && xf != 0.0f) worst_rel_small = std::fmax(worst_rel_small, rel(got, want));
    }
    EXPECT_LT(worst_abs, 5e-7);
    EXPECT_LT(worst_rel_small, 3e-7);  // no cancellation near 0: erf(x) ≈ 1.128·x keeps its digits
    EXPECT_EQ(dgm_erff(0.0f), 0.0f);
    EXPECT_EQ(dgm_erff(-1e30f), -dgm_erff(1e30f));
}

TEST(Math, SinAndCosAreAccurateUpToLargeArguments)
{
    double worst = 0.0;
    for (double lim : {4.0, 1000.0, 1e5}) {
        for (int i = -200000; i <= 200000; i++) {
            const float xf = (float)(lim * i / 200000.0);
            worst = std::fmax(worst, std::fabs(dgm_sin_or_cos(xf, 0) - std::sin((double)xf)));
            worst = std::fmax(worst, std::fabs(dgm_sin_or_cos(xf, 1) - std::cos((double)xf)));
        }
    }
    EXPECT_LT(worst, 2e-7);
    EXPECT_EQ(dgm_sin_or_cos(0.0f, 0), 0.0f);
    EXPECT_EQ(dgm_sin_or_cos(0.0f, 1), 1.0f);
    // Arguments whose quadrant does not fit an int, and non-finite ones: no undefined
    // float-to-int conversion (the sanitizer build traps on one), NaN for inf and NaN.
    for (float x : {3e9f, -3e9f, 1e30f, -FLT_MAX, FLT_MAX}) {
        volatile float s = dgm_sin_or_cos(x, 0), c = dgm_sin_or_cos(x, 1);
        (void)s;
        (void)c;
    }
    for (float x : {INFINITY, -INFINITY, NAN}) {
        EXPECT_TRUE(std::isnan(dgm_sin_or_cos(x, 0))) << x;
        EXPECT_TRUE(std::isnan(dgm_sin_or_cos(x, 1))) << x;
    }
}

// NaN in, NaN out, as libm's expm1f/erff/expf gave: a NaN activation must not turn into
// a finite one that hides it.
TEST(Math, NanPropagatesThroughTheVectorizableActivations)
{
    EXPECT_TRUE(std::isnan(dgm_expm1_nonpos(NAN)));
    EXPECT_TRUE(std::isnan(dgm_exp_nonpos(NAN)));
    for (int kind : {DGM_UNARY_ELU, DGM_UNARY_SELU, DGM_UNARY_GELU}) {
        EXPECT_TRUE(std::isnan(dgm_unary_forward(kind, NAN, 1.0f, 0.0f))) << kind;
        EXPECT_TRUE(std::isnan(dgm_unary_derivative(kind, NAN, NAN, 1.0f, 0.0f))) << kind;
    }
}

TEST(Math, SoftplusFamilyMatchesLibm)
{
    double worst_l = 0.0, worst_s = 0.0, worst_sp = 0.0;
    for (double x = -60.0; x <= 60.0; x += 1.0 / 512) {
        const float xf = (float)x;
        const double xd = xf;
        worst_l = std::fmax(worst_l, rel(dgm_log1p_exp_neg_abs(xf), std::log1p(std::exp(-std::fabs(xd)))));
        worst_s = std::fmax(worst_s, rel(dgm_sigmoidf(xf), 1.0 / (1.0 + std::exp(-xd))));
        worst_sp = std::fmax(worst_sp, rel(dgm_softplusf(xf), std::fmax(xd, 0.0) + std::log1p(std::exp(-std::fabs(xd)))));
    }
    EXPECT_LT(worst_l, 5e-7);
    EXPECT_LT(worst_s, 5e-7);
    EXPECT_LT(worst_sp, 5e-7);
    EXPECT_EQ(dgm_sigmoidf(100.0f), 1.0f);
    EXPECT_GT(dgm_sigmoidf(-100.0f), 0.0f);
}

TEST(Math, BceWithLogitsStaysFiniteAtExtremes)
{
    for (float a : {-1e4f, -80.0f, 0.0f, 80.0f, 1e4f})
        for (float t : {0.0f, 0.5f, 1.0f}) {
            const float v = dgm_binary_forward(DGM_BINARY_BCE_LOGITS, a, t);
            EXPECT_TRUE(std::isfinite(v)) << a << " " << t;
            EXPECT_GE(v, -1e-3f * std::fabs(a)) << a << " " << t;  // >= 0 up to rounding
        }
}

TEST(Math, LogIsAccurateOnPositiveNormals)
{
    double worst = 0.0;
    for (double e = -126.0; e < 127.0; e += 1.0 / 1024) {
        const float x = (float)std::exp2(e);
        const double want = std::log((double)x);
        // Near 1 the log vanishes: there the absolute error is what a float ulp of x allows.
        const double err = std::fabs(dgm_log_pos(x) - want) / std::fmax(std::fabs(want), 1e-7);
        worst = std::fmax(worst, err);
    }
    EXPECT_LT(worst, 3e-7);
    EXPECT_EQ(dgm_log_pos(1.0f), 0.0f);
}

// The uniform rule is exact: (k + 1/2)·2^-23 for the word's top 23 bits, strictly inside
// (0, 1); the normal pair's radius is bounded by sqrt(2·32·ln 2) (u = 2^-32).
TEST(Math, RngTransformsKeepTheirRanges)
{
    EXPECT_EQ(dgm_rng_uniform_from_word(0u), std::ldexp(1.0f, -24));
    EXPECT_EQ(dgm_rng_uniform_from_word(0xffffffffu), 1.0f - std::ldexp(1.0f, -24));
    EXPECT_EQ(dgm_rng_uniform_from_word(0x80000000u), 0.5f + std::ldexp(1.0f, -24));
    float c, s;
    dgm_rng_normal_pair(0u, 0u, &c, &s);  // smallest u, angle 2π·2^-24
    EXPECT_NEAR(c, std::sqrt(64.0 * std::log(2.0)), 1e-5);
    EXPECT_NEAR(s, 0.0, 1e-5);
    dgm_rng_normal_pair(0xffffffffu, 0x40000000u, &c, &s);  // u rounds to 1: radius 0
    EXPECT_EQ(c, 0.0f);
    EXPECT_EQ(s, 0.0f);
    const uint32_t words[4] = {12345u, 0x40000000u, 777u, 0xc0000000u};
    dgm_rng_normal_pair(words[0], words[1], &c, &s);
    EXPECT_EQ(dgm_rng_value(1, words, 0), c);
    EXPECT_EQ(dgm_rng_value(1, words, 1), s);
    EXPECT_EQ(dgm_rng_value(0, words, 3), dgm_rng_uniform_from_word(words[3]));
}

}  // namespace
