// The Gaussian mixture's score (host/metrics/fisher.c) against closed forms and finite
// differences, and DDPM's Fisher divergence metric on a mixture toy.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli_test.h"
extern "C" {
#include "metrics/fisher.h"
}
#include "test_util.h"

namespace {

using namespace dgmtest;

double mixture_log_density(const std::vector<double> &c, int k, double var, const double *x)
{
    double p = 0.0;
    for (int j = 0; j < k; j++) {
        const double d0 = x[0] - c[2 * j], d1 = x[1] - c[2 * j + 1];
        p += std::exp(-(d0 * d0 + d1 * d1) / (2.0 * var)) / (2.0 * M_PI * var) / k;
    }
    return std::log(p);
}

TEST(MixtureScore, OneComponentIsTheGaussiansScore)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    const double c[2] = {1.0, -2.0}, x[2] = {0.5, 0.5};
    double s[2];
    DGM_ASSERT_OK(ctx.get(), dgm_mixture_score(ctx.get(), 1, 2, c, 0.25, x, s));
    EXPECT_NEAR(s[0], (1.0 - 0.5) / 0.25, 1e-12);
    EXPECT_NEAR(s[1], (-2.0 - 0.5) / 0.25, 1e-12);
}

TEST(MixtureScore, MatchesFiniteDifferencesAndSymmetry)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    const std::vector<double> c = {1.0, 0.0, -1.0, 0.0, 0.0, 2.0};
    const double var = 0.3;
    const double pts[3][2] = {{0.2, 0.7}, {-1.4, 0.1}, {3.0, -2.0}};
    for (const auto &x : pts) {
        double s[2];
        DGM_ASSERT_OK(ctx.get(), dgm_mixture_score(ctx.get(), 3, 2, c.data(), var, x, s));
        for (int i = 0; i < 2; i++) {
            double xp[2] = {x[0], x[1]}, xm[2] = {x[0], x[1]};
            xp[i] += 1e-6;
            xm[i] -= 1e-6;
            const double fd = (mixture_log_density(c, 3, var, xp) - mixture_log_density(c, 3, var, xm)) / 2e-6;
            EXPECT_NEAR(s[i], fd, 1e-5 * (1.0 + std::fabs(fd)));
        }
    }
    // halfway between two equal components the score is 0
    const double mid[2] = {0.0, 0.0};
    double s[2];
    DGM_ASSERT_OK(ctx.get(), dgm_mixture_score(ctx.get(), 2, 2, c.data(), var, mid, s));
    EXPECT_NEAR(s[0], 0.0, 1e-12);
    EXPECT_NEAR(s[1], 0.0, 1e-12);
    // far from every centre (exponents near −1e5) it stays finite: the nearest one's pull
    const double far[2] = {200.0, 0.0};
    DGM_ASSERT_OK(ctx.get(), dgm_mixture_score(ctx.get(), 3, 2, c.data(), var, far, s));
    EXPECT_NEAR(s[0], (1.0 - 200.0) / var, 1e-6);
    EXPECT_EQ(dgm_mixture_score(ctx.get(), 3, 2, c.data(), 0.0, far, s), DGM_STATUS_INVALID_ARGUMENT);
}

struct Fisher : CliTest {};

double metric(const std::string &json, const std::string &name)
{
    const size_t at = json.find("\"" + name + "\":");
    return at == std::string::npos ? NAN : std::strtod(json.c_str() + at + name.size() + 3, nullptr);
}

// Training lowers DDPM's Fisher divergence to gauss8's noised score, from the untrained
// network's (~2 per sample, |ε*|² summed over 2 coordinates) far down.
TEST_F(Fisher, TrainingLowersDdpmsFisherDivergence)
{
    const std::string opts = " --data gauss8 --device cpu --timesteps 100 --hidden 64,64 --embedding 16 --batch 128 --ema 0";
    CliResult r0 = dgm("train ddpm --steps 1" + opts + " --out " + dir + "/a");
    ASSERT_EQ(r0.code, 0) << r0.err;
    CliResult r1 = dgm("train ddpm --steps 2000" + opts + " --out " + dir + "/b");
    ASSERT_EQ(r1.code, 0) << r1.err;
    CliResult e0 = dgm("eval " + dir + "/a/checkpoint.safetensors --data gauss8 --metric fisher");
    CliResult e1 = dgm("eval " + dir + "/b/checkpoint.safetensors --data gauss8 --metric fisher");
    ASSERT_EQ(e0.code, 0) << e0.err;
    ASSERT_EQ(e1.code, 0) << e1.err;
    const double f0 = metric(e0.out, "fisher"), f1 = metric(e1.out, "fisher");
    EXPECT_GT(f0, 0.5) << e0.out;
    EXPECT_LT(f1, 0.25 * f0) << e1.out << " vs untrained " << e0.out;
    CliResult bad = dgm("eval " + dir + "/b/checkpoint.safetensors --data moons --metric fisher");
    EXPECT_NE(bad.code, 0);
    EXPECT_NE(bad.err.find("score is known"), std::string::npos) << bad.err;
}

}  // namespace
