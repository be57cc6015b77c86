// The score SDE and what it shares: the adaptive Dormand–Prince solver against closed-form
// solutions (its error under the tolerance, its evaluations counted), the VP, sub-VP and VE
// SDEs' marginals against their ODEs, the likelihood weighting's importance sampler, the
// random Fourier features; with the exact score of Gaussian data plugged in, the
// probability-flow ODE's NLL equals the Gaussian's and the predictor–corrector samplers
// draw the Gaussian; and `dgm train sde` end to end: learning a Gaussian, every sampler,
// NLL, bit-exact resume, fm's NLL on the adaptive solver, every bad option named.
#include <cmath>
#include <fstream>
#include <cstring>

#include "cli_test.h"
#include "models/ode.h"
#include "models/sde.h"

using namespace dgmtest;

namespace {

dgm_tensor *persistent(dgm_ctx *c, int64_t rows, int64_t cols, const std::vector<float> &v)
{
    dgm_tensor *t = nullptr;
    const int64_t shape[2] = {rows, cols};
    EXPECT_EQ(dgm_tensor_create(c, 2, shape, &t), DGM_STATUS_OK);
    EXPECT_EQ(dgm_tensor_copy_from_host(c, t, v.data()), DGM_STATUS_OK);
    return t;
}

// dx/dt = −2t·x: x(t) = x0·exp(−t²). Returns |error| at t1 and the evaluations.
struct Gauss {
    dgm_ctx *ctx;
};
dgm_status gauss_field(void *user, dgm_tensor *x, float t, dgm_tensor **v)
{
    return dgm_scale(static_cast<Gauss *>(user)->ctx, x, -2.0f * t, 0.0f, v);
}

TEST(Dopri5, MeetsItsToleranceCountsEvaluationsAndRunsBackwards)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    dgm_ctx *c = ctx.get();
    Gauss g{c};
    double err[2];
    int64_t nfe[2];
    for (int k = 0; k < 2; k++) {
        dgm_tensor *x = persistent(c, 2, 2, {1.0f, -2.0f, 0.5f, 3.0f});
        dgm_ode_config cfg = {};
        cfg.solver = DGM_ODE_DOPRI5;
        cfg.rtol = cfg.atol = k ? 1e-7 : 1e-4;
        DGM_ASSERT_OK(c, dgm_ode_solve(c, &cfg, gauss_field, &g, x, 0.0, 2.0, &nfe[k]));
        std::vector<float> got = to_host(c, x);
        err[k] = 0.0;
        const float x0[4] = {1.0f, -2.0f, 0.5f, 3.0f};
        for (int i = 0; i < 4; i++) err[k] = std::fmax(err[k], std::fabs(got[i] - x0[i] * std::exp(-4.0)));
        // and back: x(0) again
        DGM_ASSERT_OK(c, dgm_ode_solve(c, &cfg, gauss_field, &g, x, 2.0, 0.0, nullptr));
        got = to_host(c, x);
        for (int i = 0; i < 4; i++) EXPECT_NEAR(got[i], x0[i], k ? 2e-4 : 5e-3);  // the error grows e⁴-fold backwards
        dgm_tensor_free(x);
    }
    EXPECT_LT(err[0], 1e-3);
    EXPECT_LT(err[1], 1e-5);
    EXPECT_GT(nfe[0], 6);
    EXPECT_GT(nfe[1], nfe[0]);  // a tighter tolerance takes more steps
    EXPECT_EQ(nfe[0] % 6, 2);   // the initial evaluation and Hairer's probe, then 6 a step (FSAL)
    EXPECT_EQ(dgm_ode_solver_parse("dopri5"), DGM_ODE_DOPRI5);
    EXPECT_STREQ(dgm_ode_solver_name(DGM_ODE_DOPRI5), "dopri5");
    // bad tolerances are refused
    dgm_tensor *x = persistent(c, 1, 1, {1.0f});
    dgm_ode_config bad = {};
    bad.solver = DGM_ODE_DOPRI5;
    EXPECT_EQ(dgm_ode_solve(c, &bad, gauss_field, &g, x, 0.0, 1.0, nullptr), DGM_STATUS_INVALID_ARGUMENT);
    dgm_tensor_free(x);
}

// A field that is not finite ends the adaptive solve with NOT_FINITE, not a hang.
dgm_status blow_up(void *user, dgm_tensor *x, float t, dgm_tensor **v)
{
    (void)t;
    dgm_tensor *sq = nullptr;
    const dgm_status st = dgm_square(static_cast<Gauss *>(user)->ctx, x, &sq);
    if (st != DGM_STATUS_OK) return st;
    return dgm_scale(static_cast<Gauss *>(user)->ctx, sq, 1e6f, 0.0f, v);
}

TEST(Dopri5, AFieldThatBlowsUpIsNotFinite)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    Gauss g{ctx.get()};
    dgm_tensor *x = persistent(ctx.get(), 1, 1, {1.0f});
    dgm_ode_config cfg = {};
    cfg.solver = DGM_ODE_DOPRI5;
    cfg.rtol = cfg.atol = 1e-5;
    cfg.max_nfe = 5000;
    EXPECT_EQ(dgm_ode_solve(ctx.get(), &cfg, blow_up, &g, x, 0.0, 1.0, nullptr), DGM_STATUS_NOT_FINITE);
    EXPECT_NE(std::strstr(dgm_last_error(ctx.get()), "dopri5"), nullptr) << dgm_last_error(ctx.get());
    dgm_tensor_free(x);
}

dgm_sde make_sde(dgm_sde_kind kind)
{
    dgm_sde s = {};
    s.kind = kind;
    s.beta_min = 0.1;
    s.beta_max = 20.0;
    s.sigma_min = 0.01;
    s.sigma_max = 5.0;
    return s;
}

// The marginals solve the moment ODEs of dx = f·x dt + g dw: d mean/dt = f·mean and
// d var/dt = 2f·var + g², var = std² (started at 0), checked by finite differences.
TEST(Sde, MarginalsSolveTheMomentEquations)
{
    for (dgm_sde_kind kind : {DGM_SDE_VP, DGM_SDE_SUBVP, DGM_SDE_VE}) {
        const dgm_sde s = make_sde(kind);
        for (double t : {0.05, 0.3, 0.7, 0.95}) {
            const double h = 1e-5;
            double m0, s0, m1, s1, m, sd;
            dgm_sde_marginal(&s, t - h, &m0, &s0);
            dgm_sde_marginal(&s, t + h, &m1, &s1);
            dgm_sde_marginal(&s, t, &m, &sd);
            const double f = dgm_sde_drift(&s, t), g2 = dgm_sde_g2(&s, t);
            EXPECT_NEAR((m1 - m0) / (2 * h), f * m, 1e-5 * (1 + std::fabs(f))) << kind << " t " << t;
            const double dvar = (s1 * s1 - s0 * s0) / (2 * h);
            EXPECT_NEAR(dvar, 2 * f * sd * sd + g2, 1e-4 * (1 + g2)) << kind << " t " << t;
        }
    }
    const dgm_sde vp = make_sde(DGM_SDE_VP), ve = make_sde(DGM_SDE_VE);
    double m, sd;
    dgm_sde_marginal(&vp, 1e-5, &m, &sd);
    EXPECT_NEAR(sd * sd, 1e-6, 1e-8);  // β_min·t, not rounded away
    dgm_sde_marginal(&vp, 1.0, &m, &sd);
    EXPECT_LT(m, 0.01);
    EXPECT_EQ(dgm_sde_prior_std(&vp), 1.0);
    EXPECT_EQ(dgm_sde_prior_std(&ve), 5.0);
    EXPECT_EQ(dgm_sde_kind_parse("subvp"), DGM_SDE_SUBVP);
    EXPECT_EQ(dgm_sde_kind_parse("vpsde"), -1);
    EXPECT_EQ(dgm_sde_predictor_parse("reverse-diffusion"), DGM_PREDICTOR_REVERSE_DIFFUSION);
}

// q(t) ∝ w(t) = g²/std²: E_q[1/w] = (1 − eps)/z, and the draws stay in [eps, 1].
TEST(Sde, ImportanceSamplerDrawsInProportionToTheLikelihoodWeight)
{
    for (dgm_sde_kind kind : {DGM_SDE_VP, DGM_SDE_SUBVP, DGM_SDE_VE}) {
        const dgm_sde s = make_sde(kind);
        dgm_sde_importance is;
        ASSERT_TRUE(dgm_sde_importance_init(&s, 1e-5, &is));
        double acc = 0.0;
        const int n = 200000;
        for (int i = 0; i < n; i++) {
            const double t = dgm_sde_importance_draw(&is, (i + 0.5) / n), m = 0, sd = 0;
            ASSERT_GE(t, 1e-5);
            ASSERT_LE(t, 1.0);
            double mm = m, ss = sd;
            dgm_sde_marginal(&s, t, &mm, &ss);
            acc += ss * ss / dgm_sde_g2(&s, t);
        }
        EXPECT_NEAR(acc / n, (1 - 1e-5) / is.z, 2e-3 * (1 - 1e-5) / is.z) << kind;
        dgm_sde_importance_free(&is);
    }
}

TEST(Sde, FourierFeaturesAreFixedBySeedAndScale)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    dgm_ctx *c = ctx.get();
    dgm_time_embedding *a = nullptr, *b = nullptr, *o = nullptr;
    DGM_ASSERT_OK(c, dgm_time_embedding_create_fourier(c, 256, 16.0, 7, &a));
    DGM_ASSERT_OK(c, dgm_time_embedding_create_fourier(c, 256, 16.0, 7, &b));
    DGM_ASSERT_OK(c, dgm_time_embedding_create_fourier(c, 256, 16.0, 8, &o));
    dgm_tensor *t = from_host(c, {1, 1}, {1.0f}), *ea = nullptr, *eb = nullptr, *eo = nullptr;
    DGM_ASSERT_OK(c, dgm_time_embedding_forward(c, a, t, &ea));
    DGM_ASSERT_OK(c, dgm_time_embedding_forward(c, b, t, &eb));
    DGM_ASSERT_OK(c, dgm_time_embedding_forward(c, o, t, &eo));
    const std::vector<float> va = to_host(c, ea), vb = to_host(c, eb), vo = to_host(c, eo);
    EXPECT_EQ(va, vb);
    EXPECT_NE(va, vo);
    // sin² + cos² = 1 per frequency; at t = 0 the sines are 0
    for (int i = 0; i < 128; i++) EXPECT_NEAR(va[i] * va[i] + va[128 + i] * va[128 + i], 1.0, 1e-5);
    // the arguments 2π·16·w at t = 1/(2π·16) are w ~ N(0, 1): their spread
    dgm_tensor *t2 = from_host(c, {1, 1}, {(float)(1.0 / (2 * M_PI * 16.0))}), *e2 = nullptr;
    DGM_ASSERT_OK(c, dgm_time_embedding_forward(c, a, t2, &e2));
    const std::vector<float> v2 = to_host(c, e2);
    double sq = 0;
    for (int i = 0; i < 128; i++) sq += std::pow(std::atan2(v2[i], v2[128 + i]), 2);
    EXPECT_NEAR(sq / 128, 1.0, 0.35);
    dgm_time_embedding *bad = nullptr;
    EXPECT_EQ(dgm_time_embedding_create_fourier(c, 3, 1.0, 0, &bad), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(bad, nullptr);
    dgm_time_embedding_free(a);
    dgm_time_embedding_free(b);
    dgm_time_embedding_free(o);
}

// Gaussian data N(mu, s²·I): under an SDE x_t = mean·x_0 + std·z is N(mean·mu,
// (mean²s² + std²)·I), whose score is known in closed form.
struct GaussianScore {
    dgm_ctx *ctx;
    const dgm_sde *sde;
    double mu, s;
};
dgm_status gaussian_score(void *user, dgm_tensor *x, double t, dgm_tensor **out)
{
    const GaussianScore *g = static_cast<GaussianScore *>(user);
    double m, sd;
    dgm_sde_marginal(g->sde, t, &m, &sd);
    const double var = m * m * g->s * g->s + sd * sd;
    return dgm_scale(g->ctx, x, (float)(-1.0 / var), (float)(m * g->mu / var), out);
}

// The probability-flow ODE of the exact score carries the data's density: its NLL of each
// point is the Gaussian's own, within 1e-3, exact or (on average) by Hutchinson's estimate.
TEST(Sde, ProbabilityFlowNllOfTheExactScoreIsTheGaussians)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 3);
    dgm_ctx *c = ctx.get();
    const int64_t n = 200, d = 2;
    for (dgm_sde_kind kind : {DGM_SDE_VP, DGM_SDE_SUBVP, DGM_SDE_VE}) {
        const dgm_sde sde = make_sde(kind);
        GaussianScore g{c, &sde, 0.5, 0.7};
        dgm_sde_flow flow{c, &sde, gaussian_score, &g};
        for (int probes : {0, 1}) {
            std::vector<float> xv(n * d);
            std::mt19937 rng(4);
            std::normal_distribution<float> normal(0.0f, 1.0f);
            double want = 0.0;
            for (auto &v : xv) {
                v = (float)(g.mu + g.s * normal(rng));
                want += 0.5 * std::log(2 * M_PI * g.s * g.s) + 0.5 * std::pow((v - g.mu) / g.s, 2);
            }
            want /= n;
            dgm_tensor *x = persistent(c, n, d, xv);
            dgm_ode_density cfg = {};
            cfg.ode.solver = DGM_ODE_DOPRI5;
            cfg.ode.rtol = cfg.ode.atol = 1e-5;
            cfg.t_data = 1e-5;
            cfg.t_prior = 1.0;
            cfg.prior_std = dgm_sde_prior_std(&sde);
            cfg.probes = probes;
            std::vector<double> logp(n);
            int64_t nfe = 0;
            DGM_ASSERT_OK(c, dgm_ode_log_density(c, &cfg, dgm_sde_flow_velocity, &flow, x, logp.data(), &nfe));
            double got = 0.0;
            for (double l : logp) got -= l / n;
            // VE's prior N(0, σ_max²) is the marginal only up to the data's spread (0.7 of 5)
            const double tol = probes ? 0.05 : kind == DGM_SDE_VE ? 0.02 : 1e-3;
            EXPECT_NEAR(got, want, tol) << "sde " << kind << " probes " << probes;
            EXPECT_GT(nfe, 20);
            dgm_tensor_free(x);
        }
    }
}

// The predictor–corrector samplers on the exact score draw the Gaussian: mean and standard
// deviation of 4,000 samples, for each predictor with and without the corrector.
TEST(Sde, PredictorCorrectorSamplersDrawTheGaussian)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 5);
    dgm_ctx *c = ctx.get();
    const int64_t n = 4000;
    struct Case {
        dgm_sde_kind kind;
        dgm_sde_predictor p;
        int corrector;
    } cases[] = {{DGM_SDE_VP, DGM_PREDICTOR_REVERSE_DIFFUSION, 1}, {DGM_SDE_VP, DGM_PREDICTOR_EULER_MARUYAMA, 0},
                 {DGM_SDE_SUBVP, DGM_PREDICTOR_REVERSE_DIFFUSION, 1}, {DGM_SDE_VE, DGM_PREDICTOR_REVERSE_DIFFUSION, 1},
                 {DGM_SDE_VE, DGM_PREDICTOR_EULER_MARUYAMA, 0}};
    for (const Case &k : cases) {
        const dgm_sde sde = make_sde(k.kind);
        GaussianScore g{c, &sde, 0.5, 0.7};
        dgm_tensor *x0 = nullptr, *x = nullptr;
        DGM_ASSERT_OK(c, dgm_sde_prior_draw(c, &sde, n, 1, &x0));
        DGM_ASSERT_OK(c, dgm_persist(c, x0, &x));
        const dgm_pc_config cfg = {k.p, k.corrector, 0.16, 500, 1e-3, true};
        DGM_ASSERT_OK(c, dgm_sde_pc_sample(c, &sde, &cfg, gaussian_score, &g, x));
        const std::vector<float> v = to_host(c, x);
        double mean = 0, sq = 0;
        for (float f : v) mean += f / (double)n;
        for (float f : v) sq += (f - mean) * (f - mean) / (double)n;
        EXPECT_NEAR(mean, 0.5, 0.04) << k.kind << " predictor " << k.p;
        EXPECT_NEAR(std::sqrt(sq), 0.7, 0.03) << k.kind << " predictor " << k.p;
        dgm_tensor_free(x);
    }
}

class SdeCli : public CliTest {};

// `dgm train sde` learns a Gaussian (PC samples), the ODE sampler and the NLL work on the
// checkpoint and report their evaluations; the likelihood weighting and VE train too.
TEST_F(SdeCli, LearnsAGaussianAndEverySamplerAndTheNllWork)
{
    learns_gaussian("sde --steps 3000 --hidden 64,64 --sample-steps 200", 0.1, 0.08);
    const std::string ckpt = dir + "/m/checkpoint.safetensors";
    CliResult o = dgm("sample " + ckpt + " -n 500 -o " + dir + "/o.csv --set sampler=ode");
    ASSERT_EQ(o.code, 0) << o.err;
    EXPECT_NE(o.err.find("probability-flow ODE by dopri5"), std::string::npos) << o.err;
    CliResult e = dgm("eval " + ckpt + " --data " + dir + "/data.csv --metric nll,w2 --set sampler=ode");
    ASSERT_EQ(e.code, 0) << e.err;
    // the Gaussian's entropy, log(2π·s0·s1) + 1
    EXPECT_NEAR(json_value(e.out, "nll"), std::log(2 * M_PI * 0.5 * 0.25) + 1.0, 0.1) << e.out;
    EXPECT_LT(json_value(e.out, "w2"), 0.15) << e.out;
    EXPECT_NE(e.err.find("exact divergence"), std::string::npos) << e.err;
    for (const char *opts : {"--sde ve --weighting likelihood", "--sde subvp --weighting likelihood --embedding fourier"}) {
        CliResult t = dgm(std::string("train sde ") + opts + " --data " + dir + "/data.csv --steps 200 --hidden 32 "
                          "--sample-steps 20 --device cpu --out " + dir + "/v");
        ASSERT_EQ(t.code, 0) << opts << ": " << t.err;
        CliResult h = dgm("eval " + dir + "/v/checkpoint.safetensors --data " + dir + "/data.csv --metric loss,nll --set divergence=hutchinson");
        ASSERT_EQ(h.code, 0) << h.err;
        EXPECT_TRUE(std::isfinite(json_value(h.out, "nll"))) << h.out;
        EXPECT_NE(h.err.find("Hutchinson"), std::string::npos) << h.err;
    }
}

// Images (samples of 2 dimensions, values in [0, 1]): trained in [−1, 1], samples back in
// [0, 1], bits/dim of dequantized pixels by the ODE with Hutchinson's estimate, the same
// bound as nll in nats per image.
TEST_F(SdeCli, ImagesGiveSamplesInTheUnitRangeAndBitsPerDimension)
{
    std::mt19937 rng(5);
    const std::vector<float> px = random_values(rng, 40 * 8 * 8, 0.0f, 1.0f);
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    const int64_t shape[3] = {40, 8, 8};
    const std::string data = dir + "/img.npy";
    DGM_ASSERT_OK(ctx.get(), dgm_save_npy(ctx.get(), data.c_str(), px.data(), 3, shape));
    CliResult t = dgm("train sde --data " + data + " --net mlp --steps 20 --hidden 16 --sample-steps 25 --device cpu --out " + dir + "/i");
    ASSERT_EQ(t.code, 0) << t.err;
    const std::string ckpt = dir + "/i/checkpoint.safetensors";
    CliResult s = dgm("sample " + ckpt + " -n 16 -o " + dir + "/s.csv");
    ASSERT_EQ(s.code, 0) << s.err;
    std::ifstream in(dir + "/s.csv");
    std::string line;
    int count = 0;
    while (std::getline(in, line))
        for (const char *p = line.c_str(); *p; count++) {
            char *end = nullptr;
            const double v = std::strtod(p, &end);
            ASSERT_NE(end, p) << line;
            EXPECT_GE(v, 0.0);
            EXPECT_LE(v, 1.0);
            p = *end == ',' ? end + 1 : end;
        }
    EXPECT_EQ(count, 16 * 64);
    CliResult e = dgm("eval " + ckpt + " --data " + data + " --metric bpd,nll --set rtol=1e-3 --set atol=1e-3");
    ASSERT_EQ(e.code, 0) << e.err;
    const double bpd = json_value(e.out, "bpd"), nll = json_value(e.out, "nll");
    EXPECT_GT(bpd, 0.0) << e.out;
    EXPECT_NEAR(bpd * 64 * std::log(2.0), nll, 0.05 * nll) << e.out;
    EXPECT_NE(e.err.find("Hutchinson"), std::string::npos) << e.err;
}

TEST_F(SdeCli, ResumeIsBitExact)
{
    const std::string data = gaussian_csv(1000);
    const std::string run = "train sde --data " + data + " --device cpu --batch 64 --seed 3 ";
    const std::string model = "--hidden 16,16 --sample-steps 25 ";
    ASSERT_EQ(dgm(run + model + "--steps 30 --out " + dir + "/a").code, 0);
    ASSERT_EQ(dgm(run + model + "--steps 11 --out " + dir + "/b").code, 0);
    CliResult b = dgm(run + "--steps 30 --resume --out " + dir + "/b");
    ASSERT_EQ(b.code, 0) << b.err;
    const std::string ta = tensors_of(dir + "/a/checkpoint.safetensors");
    ASSERT_FALSE(ta.empty());
    EXPECT_EQ(ta, tensors_of(dir + "/b/checkpoint.safetensors"));
}

// fm's NLL is the adaptive solve whatever its sampler, and says so.
TEST_F(SdeCli, FlowMatchingNllUsesTheAdaptiveSolver)
{
    CliResult t = dgm("train fm --data moons --steps 200 --hidden 16 --device cpu --out " + dir + "/f");
    ASSERT_EQ(t.code, 0) << t.err;
    const std::string ckpt = dir + "/f/checkpoint.safetensors";
    CliResult a = dgm("eval " + ckpt + " --metric nll");
    ASSERT_EQ(a.code, 0) << a.err;
    EXPECT_NE(a.err.find("dopri5"), std::string::npos) << a.err;
    CliResult b = dgm("eval " + ckpt + " --metric nll --set solver=rk4 --set sample-steps=3");
    ASSERT_EQ(b.code, 0) << b.err;
    EXPECT_DOUBLE_EQ(json_value(a.out, "nll"), json_value(b.out, "nll"));
    CliResult s = dgm("sample " + ckpt + " -n 100 -o " + dir + "/s.csv --set solver=dopri5");
    ASSERT_EQ(s.code, 0) << s.err;
    EXPECT_NE(s.err.find("evaluations"), std::string::npos) << s.err;
}

TEST(SdeOptions, EveryBadOptionIsNamed)
{
    struct Case {
        const char *config, *named;
    } cases[] = {
        {R"({"sde":"vpsde"})", "--sde"},
        {R"({"beta-min":0})", "--beta-min"},
        {R"({"beta-max":0.05})", "--beta-max"},
        {R"({"sigma-min":0})", "--sigma-min"},
        {R"({"sigma-max":"0.001"})", "--sigma-max"},
        {R"({"predict":"x0"})", "--predict"},
        {R"({"embedding":"learned"})", "--embedding"},
        {R"({"embedding-dim":3})", "--embedding-dim"},
        {R"({"fourier-scale":0})", "--fourier-scale"},
        {R"({"hidden":"x"})", "--hidden"},
        {R"({"activation":"swish"})", "--activation"},
        {R"({"weighting":"uniform"})", "--weighting"},
        {R"({"train-eps":0})", "--train-eps"},
        {R"({"ema":1})", "--ema"},
        {R"({"sampler":"ddim"})", "--sampler"},
        {R"({"predictor":"ancestral"})", "--predictor"},
        {R"({"corrector":"ald"})", "--corrector"},
        {R"({"predictor":"none","corrector":"none"})", "--predictor"},
        {R"({"snr":0})", "--snr"},
        {R"({"corrector-steps":-1})", "--corrector-steps"},
        {R"({"sample-steps":0})", "--sample-steps"},
        {R"({"sample-steps":20})", "--sample-steps"},
        {R"({"solver":"rk45"})", "--solver"},
        {R"({"rtol":0})", "--rtol"},
        {R"({"sample-eps":1})", "--sample-eps"},
        {R"({"divergence":"trace"})", "--divergence"},
        {R"({"probes":0})", "--probes"},
    };
    for (const Case &k : cases) {
        CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
        dgm_model *m = nullptr;
        EXPECT_EQ(dgm_model_create(ctx.get(), "sde", k.config, 2, 1, nullptr, &m), DGM_STATUS_INVALID_ARGUMENT)
            << k.config;
        EXPECT_NE(std::strstr(dgm_last_error(ctx.get()), k.named), nullptr) << k.config << ": " << dgm_last_error(ctx.get());
        EXPECT_EQ(m, nullptr);
    }
}

}  // namespace
