// The score-based families (ebm, ncsn) and what they share: the denoising and sliced
// score-matching losses against closed forms and finite differences (third derivatives of
// the activations included), Langevin and annealed Langevin on exact mixture scores, the
// grid normalizer on a density with a known Z, and both families through the dgm command:
// learning a Gaussian, the EBM's likelihood, the divergence stop, bit-exact resume, the
// embedding API and every bad option named.
#include <cmath>
#include <algorithm>
#include <cstring>

#include "cli_test.h"
#include "metrics/fisher.h"
#include "metrics/grid_logz.h"
#include "models/langevin.h"
#include "models/ode.h"
#include "models/score_matching.h"

using namespace dgmtest;

namespace {

dgm_tensor *persistent(dgm_ctx *c, std::vector<int64_t> shape, const std::vector<float> &v)
{
    dgm_tensor *t = nullptr;
    EXPECT_EQ(dgm_tensor_create(c, (int)shape.size(), shape.data(), &t), DGM_STATUS_OK);
    EXPECT_EQ(dgm_tensor_copy_from_host(c, t, v.data()), DGM_STATUS_OK);
    return t;
}

double scalar(dgm_ctx *c, dgm_tensor *t) { return to_host(c, t)[0]; }

// DSM's σ-weighted loss is its formula, and for N(0, s²) data noised at σ its expectation
// over a linear score −c·x̃ is ½(σ²c²(s² + σ²) − 2σ²c + 1), least at the noised density's
// score, c = 1/(s² + σ²).
TEST(ScoreMatching, DsmLossIsItsFormulaAndLeastAtTheNoisedScore)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    dgm_ctx *c = ctx.get();
    dgm_tensor *ss = from_host(c, {2, 2}, {0.5f, -1.0f, 2.0f, 0.25f}), *z = from_host(c, {2, 2}, {1.0f, 0.5f, -1.0f, 0.0f});
    dgm_tensor *l = nullptr;
    DGM_ASSERT_OK(c, dgm_dsm_loss(c, ss, z, &l));
    EXPECT_NEAR(scalar(c, l), 0.5 * ((1.5 * 1.5 + 0.5 * 0.5) + (1.0 + 0.0625)) / 2.0, 1e-6);

    const int64_t n = 200000, shape[2] = {n, 1};
    const double s = 0.7, sigma = 0.3, best = 1.0 / (s * s + sigma * sigma);
    dgm_tensor *x = nullptr, *e = nullptr, *xt = nullptr;
    DGM_ASSERT_OK(c, dgm_rand_normal(c, 2, shape, 0.0f, (float)s, &x));
    DGM_ASSERT_OK(c, dgm_rand_normal(c, 2, shape, 0.0f, 1.0f, &e));
    DGM_ASSERT_OK(c, dgm_scale(c, e, (float)sigma, 0.0f, &xt));
    DGM_ASSERT_OK(c, dgm_add(c, x, xt, &xt));
    double at[3];
    const double cs[3] = {best, 0.8 * best, 1.25 * best};
    for (int k = 0; k < 3; k++) {
        dgm_tensor *sc = nullptr, *loss = nullptr;
        DGM_ASSERT_OK(c, dgm_scale(c, xt, (float)(-sigma * cs[k]), 0.0f, &sc));
        DGM_ASSERT_OK(c, dgm_dsm_loss(c, sc, e, &loss));
        at[k] = scalar(c, loss);
        const double want = 0.5 * (sigma * sigma * cs[k] * cs[k] * (s * s + sigma * sigma) - 2 * sigma * sigma * cs[k] + 1);
        EXPECT_NEAR(at[k], want, 0.01) << "c = " << cs[k];
    }
    EXPECT_LT(at[0], at[1]);
    EXPECT_LT(at[0], at[2]);
    DGM_ASSERT_OK(c, dgm_ctx_step_end(c));
}

// SSM of a linear score s(x) = W·x + b is mean_r vᵀWv + ½(vᵀ(Wx + b))²; −∇ₓ of an energy
// ½·a·|x|² is −a·x.
TEST(ScoreMatching, SlicedLossOfALinearScoreAndTheEnergyScoreAreTheClosedForms)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 2);
    dgm_ctx *c = ctx.get();
    const std::vector<float> xv = {0.3f, -1.2f, 2.0f, 0.5f, -0.7f, 0.1f}, wv = {0.5f, -0.3f, 0.8f, 1.1f},
                             bv = {0.2f, -0.4f}, vv = {1, -1, -1, -1, 1, 1};
    dgm_tensor *x = from_host(c, {3, 2}, xv), *w = from_host(c, {2, 2}, wv), *b = from_host(c, {1, 2}, bv);
    dgm_tensor *v = from_host(c, {3, 2}, vv), *s = nullptr, *loss = nullptr;
    DGM_ASSERT_OK(c, dgm_tensor_set_requires_grad(x, true));
    DGM_ASSERT_OK(c, dgm_matmul(c, x, false, w, true, nullptr, DGM_ACT_NONE, 0.0f, &s));  // s = x·Wᵀ: row r is W·x_r
    DGM_ASSERT_OK(c, dgm_add(c, s, b, &s));
    DGM_ASSERT_OK(c, dgm_ssm_loss(c, x, s, v, &loss));
    double want = 0;
    for (int r = 0; r < 3; r++) {
        double vwv = 0, vs = 0;
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++) vwv += vv[r * 2 + i] * wv[i * 2 + j] * vv[r * 2 + j];
        for (int i = 0; i < 2; i++)
            vs += vv[r * 2 + i] * (wv[i * 2] * xv[r * 2] + wv[i * 2 + 1] * xv[r * 2 + 1] + bv[i]);
        want += (vwv + 0.5 * vs * vs) / 3.0;
    }
    EXPECT_NEAR(scalar(c, loss), want, 1e-5);

    dgm_tensor *sq = nullptr, *energy = nullptr, *score = nullptr;
    DGM_ASSERT_OK(c, dgm_square(c, x, &sq));
    DGM_ASSERT_OK(c, dgm_sum(c, sq, DGM_AXIS_ROWS, &energy));
    DGM_ASSERT_OK(c, dgm_scale(c, energy, 0.5f * 3.0f, 0.0f, &energy));  // a = 3
    DGM_ASSERT_OK(c, dgm_energy_score(c, energy, x, false, &score));
    const auto got = to_host(c, score);
    for (int k = 0; k < 6; k++) EXPECT_NEAR(got[k], -3.0f * xv[k], 1e-6);
    // Projections: Rademacher values are ±1, about half each.
    dgm_tensor *p = nullptr;
    DGM_ASSERT_OK(c, dgm_ssm_projections(c, 1000, 4, true, &p));
    int plus = 0;
    for (float q : to_host(c, p)) {
        ASSERT_TRUE(q == 1.0f || q == -1.0f) << q;
        plus += q > 0;
    }
    EXPECT_NEAR(plus, 2000, 150);
    DGM_ASSERT_OK(c, dgm_ctx_step_end(c));
}

// The sliced score-matching loss of an energy's score, −∇ₓE with E = Σ u·f(x·Wᵀ + b), has
// parameter gradients (through a third derivative of f) equal to finite differences.
TEST(ScoreMatching, SlicedLossOfAnEnergyHasTheFiniteDifferenceGradient)
{
    for (dgm_activation act : {DGM_ACT_SILU, DGM_ACT_TANH, DGM_ACT_GELU, DGM_ACT_SIGMOID, DGM_ACT_ELU}) {
        CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 3);
        dgm_ctx *c = ctx.get();
        std::mt19937 rng(4);
        const std::vector<float> xv = random_values(rng, 8, -1.5f, 1.5f), vv = {1, -1, 1, 1, -1, -1, 1, -1};
        std::vector<float> wv = random_values(rng, 6, -1.0f, 1.0f);
        const std::vector<float> bv = random_values(rng, 3, -0.5f, 0.5f), uv = random_values(rng, 3, -1.0f, 1.0f);
        // The loss at weights wv (and its gradient w.r.t. them when grad_out).
        auto loss_at = [&](const std::vector<float> &wvals, std::vector<float> *grad_out) {
            dgm_tensor *x = from_host(c, {4, 2}, xv), *w = from_host(c, {3, 2}, wvals), *b = from_host(c, {1, 3}, bv);
            dgm_tensor *u = from_host(c, {3, 1}, uv), *v = from_host(c, {4, 2}, vv);
            dgm_tensor *h = nullptr, *e = nullptr, *s = nullptr, *loss = nullptr;
            EXPECT_EQ(dgm_tensor_set_requires_grad(x, true), DGM_STATUS_OK);
            EXPECT_EQ(dgm_tensor_set_requires_grad(w, true), DGM_STATUS_OK);
            EXPECT_EQ(dgm_matmul(c, x, false, w, true, nullptr, DGM_ACT_NONE, 0.0f, &h), DGM_STATUS_OK);
            EXPECT_EQ(dgm_add(c, h, b, &h), DGM_STATUS_OK);
            EXPECT_EQ(dgm_activate(c, h, act, 0.0f, &h), DGM_STATUS_OK);
            EXPECT_EQ(dgm_matmul(c, h, false, u, false, nullptr, DGM_ACT_NONE, 0.0f, &e), DGM_STATUS_OK);
            EXPECT_EQ(dgm_energy_score(c, e, x, true, &s), DGM_STATUS_OK) << dgm_last_error(c);
            EXPECT_EQ(dgm_ssm_loss(c, x, s, v, &loss), DGM_STATUS_OK) << dgm_last_error(c);
            const double value = scalar(c, loss);
            if (grad_out) {
                EXPECT_EQ(dgm_backward(c, loss), DGM_STATUS_OK) << dgm_last_error(c);
                dgm_tensor *g = nullptr;
                EXPECT_EQ(dgm_grad(c, w, &g), DGM_STATUS_OK) << dgm_last_error(c);
                *grad_out = to_host(c, g);
            }
            EXPECT_EQ(dgm_ctx_step_end(c), DGM_STATUS_OK);
            return value;
        };
        std::vector<float> grad;
        loss_at(wv, &grad);
        ASSERT_EQ(grad.size(), 6u);
        for (int k = 0; k < 6; k++) {
            const float h = 1e-2f, keep = wv[k];
            wv[k] = keep + h;
            const double up = loss_at(wv, nullptr);
            wv[k] = keep - h;
            const double down = loss_at(wv, nullptr);
            wv[k] = keep;
            const double fd = (up - down) / (2.0 * h);
            EXPECT_NEAR(grad[k], fd, 3e-3 * std::max(1.0, std::fabs(fd))) << "activation " << act << ", weight " << k;
        }
    }
}

// Mixture scores for the Langevin tests: two Gaussians at (±1.5, 0), variance 0.25 plus
// the level's σ² (sigmas NULL: none).
struct MixtureScore {
    dgm_ctx *ctx;
    const double *sigmas;
};

const double kCentres[4] = {-1.5, 0.0, 1.5, 0.0};

dgm_status mixture_score(void *user, dgm_tensor *x, int level, dgm_tensor **out)
{
    MixtureScore *m = static_cast<MixtureScore *>(user);
    const int64_t n = dgm_tensor_dim(x, 0), shape[2] = {n, 2};
    std::vector<float> h(2 * n);
    dgm_status st = dgm_tensor_to_host(m->ctx, x, h.data());
    if (st != DGM_STATUS_OK) return st;
    const double var = 0.25 + (m->sigmas ? m->sigmas[level] * m->sigmas[level] : 0.0);
    for (int64_t r = 0; r < n; r++) {
        double p[2] = {h[2 * r], h[2 * r + 1]}, s[2];
        st = dgm_mixture_score(m->ctx, 2, 2, kCentres, var, p, s);
        if (st != DGM_STATUS_OK) return st;
        h[2 * r] = (float)s[0];
        h[2 * r + 1] = (float)s[1];
    }
    return dgm_tensor_from_host(m->ctx, 2, shape, h.data(), out);
}

std::vector<float> mixture_samples(int n, uint32_t seed)
{
    std::mt19937 rng(seed);
    std::normal_distribution<double> z;
    std::vector<float> v(2 * n);
    for (int r = 0; r < n; r++) {
        const double cx = (r % 2) ? 1.5 : -1.5;
        v[2 * r] = (float)(cx + 0.5 * z(rng));
        v[2 * r + 1] = (float)(0.5 * z(rng));
    }
    return v;
}

// n chains uniform on box, as a persistent tensor.
dgm_tensor *uniform_chains(dgm_ctx *c, dgm_tensor *box, int64_t n)
{
    dgm_tensor *x0 = nullptr, *x = nullptr;
    EXPECT_EQ(dgm_box_uniform(c, box, n, &x0), DGM_STATUS_OK);
    EXPECT_EQ(dgm_persist(c, x0, &x), DGM_STATUS_OK);
    return x;
}

double w2_of(dgm_ctx *c, const std::vector<float> &a, const std::vector<float> &b)
{
    double w = 0;
    EXPECT_EQ(dgm_wasserstein2(c, a.data(), b.data(), (int64_t)(a.size() / 2), 2, &w), DGM_STATUS_OK);
    return w;
}

// Langevin on the exact score, from uniform noise on a box, ends at the mixture: its W2 to
// exact samples is that of two exact sample sets (plus a little), far below the start's.
TEST(Langevin, ExactScoreOfAMixtureConvergesToIt)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 5);
    dgm_ctx *c = ctx.get();
    const int n = 1000;
    const std::vector<float> ref = mixture_samples(n, 1), other = mixture_samples(n, 2);
    dgm_tensor *box = persistent(c, {2, 2}, {-4.0f, -3.0f, 4.0f, 3.0f}), *x = uniform_chains(c, box, n);
    std::vector<float> start(2 * n);
    DGM_ASSERT_OK(c, dgm_tensor_to_host(c, x, start.data()));
    for (int k = 0; k < 2 * n; k++) ASSERT_TRUE(std::fabs(start[k]) <= (k % 2 ? 3.0f : 4.0f)) << start[k];
    MixtureScore ms = {c, nullptr};
    const dgm_langevin cfg = {0.005f, std::sqrt(0.01f), 0.0f, box};
    DGM_ASSERT_OK(c, dgm_langevin_run(c, &cfg, mixture_score, &ms, -1, x, 1500));
    std::vector<float> end(2 * n);
    DGM_ASSERT_OK(c, dgm_tensor_to_host(c, x, end.data()));
    const double floor = w2_of(c, ref, other), begin = w2_of(c, ref, start), got = w2_of(c, ref, end);
    EXPECT_GT(begin, 0.8);
    EXPECT_LT(got, floor + 0.05) << "floor " << floor << ", start " << begin;
    dgm_tensor_free(x);
    dgm_tensor_free(box);
}

// Annealed Langevin over a ladder of levels, on the noised mixtures' exact scores, ends at
// the mixture too; the ladder is geometric from σ_max to σ_min.
TEST(Langevin, AnnealedOnKnownScoresConvergesAndTheLadderIsGeometric)
{
    double sigmas[8];
    dgm_sigma_ladder(3.0, 0.03, 8, sigmas);
    EXPECT_DOUBLE_EQ(sigmas[0], 3.0);
    EXPECT_NEAR(sigmas[7], 0.03, 1e-12);
    for (int i = 1; i < 8; i++) EXPECT_NEAR(sigmas[i] / sigmas[i - 1], std::pow(0.01, 1.0 / 7.0), 1e-12);
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 6);
    dgm_ctx *c = ctx.get();
    const int n = 1000;
    const std::vector<float> ref = mixture_samples(n, 3), other = mixture_samples(n, 4);
    dgm_tensor *box = persistent(c, {2, 2}, {-4.0f, -3.0f, 4.0f, 3.0f}), *x = uniform_chains(c, box, n);
    MixtureScore ms = {c, sigmas};
    DGM_ASSERT_OK(c, dgm_langevin_annealed(c, mixture_score, &ms, sigmas, 8, 100, 2e-4, true, box, x));
    std::vector<float> end(2 * n);
    DGM_ASSERT_OK(c, dgm_tensor_to_host(c, x, end.data()));
    const double floor = w2_of(c, ref, other), got = w2_of(c, ref, end);
    EXPECT_LT(got, floor + 0.05) << "floor " << floor;
    dgm_tensor_free(x);
    dgm_tensor_free(box);
}

// log q = 0.3 − |p − m|²/(2s²): Z = e^0.3·2πs² over a box of ±8s.
dgm_status gaussian_log_q(void *user, const float *pts, int64_t n, double *out)
{
    (void)user;
    for (int64_t k = 0; k < n; k++) {
        const double dx = pts[2 * k] - 0.5, dy = pts[2 * k + 1] + 0.25;
        out[k] = 0.3 - (dx * dx + dy * dy) / (2 * 0.2 * 0.2);
    }
    return DGM_STATUS_OK;
}

dgm_status nan_log_q(void *user, const float *pts, int64_t n, double *out)
{
    (void)user;
    (void)pts;
    for (int64_t k = 0; k < n; k++) out[k] = k == 7 ? NAN : 0.0;
    return DGM_STATUS_OK;
}

TEST(GridLogZ, GaussianNormalizerIsTheClosedFormAndBadInputIsNamed)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    dgm_ctx *c = ctx.get();
    const double lo[2] = {0.5 - 1.6, -0.25 - 1.6}, hi[2] = {0.5 + 1.6, -0.25 + 1.6};
    dgm_grid_logz z;
    DGM_ASSERT_OK(c, dgm_grid_log_partition(c, gaussian_log_q, nullptr, lo, hi, 0.005, 16, 2048, &z));
    EXPECT_NEAR(z.logz, 0.3 + std::log(2 * M_PI * 0.04), 0.005);
    EXPECT_LT(z.change, 0.005);
    EXPECT_GE(z.grid, 32);
    // A cap below convergence is reported by the change, not hidden.
    DGM_ASSERT_OK(c, dgm_grid_log_partition(c, gaussian_log_q, nullptr, lo, hi, 1e-12, 4, 8, &z));
    EXPECT_EQ(z.grid, 8);
    EXPECT_GE(z.change, 1e-12);
    EXPECT_EQ(dgm_grid_log_partition(c, nan_log_q, nullptr, lo, hi, 0.005, 16, 64, &z), DGM_STATUS_NOT_FINITE);
    EXPECT_NE(std::strstr(dgm_last_error(c), "cannot be normalized"), nullptr) << dgm_last_error(c);
    const double flat[2] = {hi[0], lo[1]};  // no height
    EXPECT_EQ(dgm_grid_log_partition(c, gaussian_log_q, nullptr, lo, flat, 0.005, 16, 64, &z),
              DGM_STATUS_INVALID_ARGUMENT);
}

class Score : public CliTest {
protected:
    // An EBM trained on the Gaussian CSV (DIR/m): its samples' medians and spreads from the
    // quartiles (IQR/1.349) match the data's, and at least `inside` of them lie within 4
    // standard deviations. Robust statistics, because some Langevin chains started on the
    // box stay near its edges, where the energy is flat (the README says so).
    void ebm_learns_gaussian(const std::string &options, double inside)
    {
        const std::string data = gaussian_csv(4000);
        CliResult r = dgm("train ebm " + options + " --data " + data + " --device cpu --out " + dir + "/m");
        ASSERT_EQ(r.code, 0) << r.err;
        const std::vector<double> v = sample_values(dir + "/m/checkpoint.safetensors", 2000);
        ASSERT_EQ(v.size(), 4000u);
        const double mean[2] = {2.0, -1.0}, sd[2] = {0.5, 0.25};
        int near = 0;
        for (size_t r2 = 0; r2 < 2000; r2++)
            near += std::fabs(v[2 * r2] - mean[0]) < 4 * sd[0] && std::fabs(v[2 * r2 + 1] - mean[1]) < 4 * sd[1];
        EXPECT_GE(near / 2000.0, inside) << options;
        for (int col = 0; col < 2; col++) {
            std::vector<double> c;
            for (size_t r2 = 0; r2 < 2000; r2++) c.push_back(v[2 * r2 + col]);
            std::sort(c.begin(), c.end());
            EXPECT_NEAR(c[1000], mean[col], 0.1) << options << ", column " << col;
            EXPECT_NEAR((c[1500] - c[500]) / 1.349, sd[col], 0.25 * sd[col]) << options << ", column " << col;
        }
    }
};


// The EBM by contrastive divergence learns a shifted, scaled Gaussian: its Langevin
// samples, and its grid-normalized NLL near the Gaussian's entropy, log(2π·s0·s1) + 1;
// eval says how log Z was found.
TEST_F(Score, EbmLearnsAGaussianAndItsLikelihoodIsNormalized)
{
    ebm_learns_gaussian("--steps 1500 --hidden 64,64 --buffer 1000 --sample-steps 2000", 0.85);
    const std::string ckpt = dir + "/m/checkpoint.safetensors";
    EXPECT_TRUE(exists(dir + "/m/density.png"));
    CliResult e = dgm("eval " + ckpt + " --data " + dir + "/data.csv --metric nll");
    ASSERT_EQ(e.code, 0) << e.err;
    EXPECT_NEAR(json_value(e.out, "nll"), std::log(2 * M_PI * 0.5 * 0.25) + 1.0, 0.1) << e.out;
    EXPECT_NE(e.err.find("log Z = "), std::string::npos) << e.err;
    EXPECT_NE(e.err.find(" grid over ["), std::string::npos) << e.err;
    // The buffer's chains are samples too (finite, inside the box).
    CliResult b = dgm("eval " + ckpt + " --data " + dir + "/data.csv --metric w2 --set sampler=buffer");
    ASSERT_EQ(b.code, 0) << b.err;
    EXPECT_TRUE(std::isfinite(json_value(b.out, "w2"))) << b.out;
}

TEST_F(Score, EbmByDenoisingAndSlicedScoreMatchingLearnsAGaussian)
{
    ebm_learns_gaussian("--objective dsm --steps 1500 --hidden 64,64 --sample-steps 2000", 0.85);
    ebm_learns_gaussian("--objective ssm --steps 1500 --hidden 64,64 --sample-steps 2000", 0.85);
}

TEST_F(Score, NcsnLearnsAGaussianAndReportsTheFisherDivergenceOnAMixture)
{
    learns_gaussian("ncsn --steps 3000 --hidden 64,64 --levels 8", 0.1, 0.08);
    CliResult t = dgm("train ncsn --data ring8 --steps 300 --hidden 32,32 --levels 4 --sample-steps 10 --device cpu --out " + dir + "/r");
    ASSERT_EQ(t.code, 0) << t.err;
    CliResult e = dgm("eval " + dir + "/r/checkpoint.safetensors --data ring8 --metric fisher,modes,w2");
    ASSERT_EQ(e.code, 0) << e.err;
    for (const char *k : {"fisher", "modes", "w2"}) EXPECT_TRUE(std::isfinite(json_value(e.out, k))) << k << ": " << e.out;
    CliResult f = dgm("eval " + dir + "/r/checkpoint.safetensors --data moons --metric fisher");
    EXPECT_EQ(f.code, 2) << f.err;
    EXPECT_NE(f.err.find("ring8, grid25 or gauss8"), std::string::npos) << f.err;
}

// A run whose energies blow up stops naming the step and the last finite energies, and
// the checkpoint written before is intact.
TEST_F(Score, DivergingEbmStopsWithTheLastFiniteEnergiesAndKeepsTheCheckpoint)
{
    const std::string data = gaussian_csv(2000);
    CliResult r = dgm("train ebm --data " + data + " --alpha 0 --lr 5 --hidden 32,32 --langevin-steps 2 "
                      "--steps 2000 --save-every 5 --device cpu --out " + dir + "/d");
    ASSERT_EQ(r.code, 1) << r.err;
    EXPECT_NE(r.err.find("energies diverged"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("last finite: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(" at step "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("is intact"), std::string::npos) << r.err;
    CliResult i = dgm("info " + dir + "/d/checkpoint.safetensors");
    EXPECT_EQ(i.code, 0) << i.err;
}

// --resume continues bit for bit: the EBM's replay buffer and the RNG are in the checkpoint,
// as NCSN's moving average.
TEST_F(Score, ResumeIsBitExactForBothFamilies)
{
    const std::string data = gaussian_csv(1000);
    const char *models[2][2] = {{"ebm", " --hidden 16,16 --buffer 500 --langevin-steps 3"},
                                {"ncsn", " --hidden 16,16 --levels 4"}};
    for (const auto &model : models) {
        const std::string run = std::string("train ") + model[0] + " --data " + data + " --device cpu --batch 64 --seed 3 ";
        CliResult a = dgm(run + model[1] + " --steps 30 --out " + dir + "/a");
        ASSERT_EQ(a.code, 0) << a.err;
        CliResult b1 = dgm(run + model[1] + " --steps 11 --out " + dir + "/b");
        ASSERT_EQ(b1.code, 0) << b1.err;
        CliResult b2 = dgm(run + "--steps 30 --resume --out " + dir + "/b");
        ASSERT_EQ(b2.code, 0) << b2.err;
        const std::string ta = tensors_of(dir + "/a/checkpoint.safetensors");
        ASSERT_FALSE(ta.empty());
        EXPECT_EQ(ta, tensors_of(dir + "/b/checkpoint.safetensors")) << model[0];
        std::system(("rm -rf " + dir + "/a " + dir + "/b").c_str());
    }
}

// A checkpoint of each family loads through the embedding API and samples into host memory.
TEST_F(Score, EmbeddingApiLoadsAndSamplesBoth)
{
    for (const char *model : {"ebm --hidden 16 --sample-steps 20", "ncsn --hidden 16 --levels 3 --sample-steps 5"}) {
        CliResult t = dgm(std::string("train ") + model + " --data moons --steps 20 --device cpu --out " + dir + "/e");
        ASSERT_EQ(t.code, 0) << t.err;
        CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 9);
        dgm_model *m = nullptr;
        DGM_ASSERT_OK(ctx.get(), dgm_model_load(ctx.get(), (dir + "/e/checkpoint.safetensors").c_str(), &m));
        std::vector<float> out(2 * 50);
        DGM_ASSERT_OK(ctx.get(), dgm_model_sample_into(m, 50, out.data(), DGM_MEMORY_HOST));
        for (float v : out) ASSERT_TRUE(std::isfinite(v)) << model;
        dgm_model_free(m);
        std::system(("rm -rf " + dir + "/e").c_str());
    }
}

// Every bad option is refused, naming it.
TEST(ScoreOptions, EveryBadOptionIsNamed)
{
    struct Case {
        const char *kind, *config, *named;
    } cases[] = {
        {"ebm", R"({"objective":"ml"})", "--objective"},
        {"ebm", R"({"alpha":-1})", "--alpha"},
        {"ebm", R"({"buffer":0})", "--buffer"},
        {"ebm", R"({"reinit":2})", "--reinit"},
        {"ebm", R"({"langevin-steps":0})", "--langevin-steps"},
        {"ebm", R"({"noise":"-1"})", "--noise"},
        {"ebm", R"({"langevin":"mala"})", "--langevin"},
        {"ebm", R"({"step-size":1})", "--step-size"},
        {"ebm", R"({"langevin":"decoupled"})", "--step-size"},
        {"ebm", R"({"grad-clip":-1})", "--grad-clip"},
        {"ebm", R"({"box-margin":-0.5})", "--box-margin"},
        {"ebm", R"({"dsm-sigma":"0"})", "--dsm-sigma"},
        {"ebm", R"({"projection":"sphere"})", "--projection"},
        {"ebm", R"({"sampler":"gibbs"})", "--sampler"},
        {"ebm", R"({"sampler":"buffer","objective":"dsm"})", "--sampler"},
        {"ebm", R"({"sample-steps":0})", "--sample-steps"},
        {"ebm", R"({"sample-noise":"x"})", "--sample-noise"},
        {"ebm", R"({"hidden":"0"})", "--hidden"},
        {"ebm", R"({"activation":"swish"})", "--activation"},
        {"ncsn", R"({"hidden":"x"})", "--hidden"},
        {"ncsn", R"({"activation":"swish"})", "--activation"},
        {"ncsn", R"({"embedding":"1"})", "--embedding"},
        {"ncsn", R"({"levels":"0"})", "--levels"},
        {"ncsn", R"({"levels":"2.5"})", "--levels"},
        {"ncsn", R"({"sigma-max":"-1"})", "--sigma-max"},
        {"ncsn", R"({"sigma-min":"0"})", "--sigma-min"},
        {"ncsn", R"({"sigma-max":"0.001"})", "--sigma-max"},
        {"ncsn", R"({"ema":1})", "--ema"},
        {"ncsn", R"({"sample-steps":"0"})", "--sample-steps"},
        {"ncsn", R"({"step-lr":"2"})", "--step-lr"},
    };
    for (const Case &k : cases) {
        CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
        dgm_model *m = nullptr;
        EXPECT_EQ(dgm_model_create(ctx.get(), k.kind, k.config, 2, 1, nullptr, &m), DGM_STATUS_INVALID_ARGUMENT)
            << k.kind << " " << k.config;
        EXPECT_NE(std::strstr(dgm_last_error(ctx.get()), k.named), nullptr)
            << k.kind << " " << k.config << ": " << dgm_last_error(ctx.get());
        EXPECT_EQ(m, nullptr);
    }
}

}  // namespace
