// The GAN objectives against the f-GAN paper's table computed in double (Nowozin et al.
// 2016, Table 2: output activation g_f and conjugate f*, unsimplified), their gradients
// against finite differences, and the gradient penalties' gradients into a critic.
#include <cstring>
#include <functional>
#include <random>

extern "C" {
#include "models/gan_loss.h"
}
#include "test_util.h"

using namespace dgmtest;

namespace {

// T = g_f(v) and f*(t), as the paper writes them.
double table_t(int loss, double v)
{
    switch (loss) {
    case DGM_GAN_F_KL: case DGM_GAN_F_PEARSON: case DGM_GAN_WGAN_GP: return v;
    case DGM_GAN_F_RKL: return -std::exp(-v);
    case DGM_GAN_F_JS: return std::log(2.0) - std::log(1.0 + std::exp(-v));
    case DGM_GAN_F_TV: return 0.5 * std::tanh(v);
    case DGM_GAN_F_HELLINGER: return 1.0 - std::exp(-v);
    default: return -std::log(1.0 + std::exp(-v));  // GAN: log D, D = σ(v)
    }
}

double table_conj(int loss, double t)
{
    switch (loss) {
    case DGM_GAN_F_KL: return std::exp(t - 1.0);
    case DGM_GAN_F_RKL: return -1.0 - std::log(-t);
    case DGM_GAN_F_JS: return -std::log(2.0 - std::exp(t));
    case DGM_GAN_F_TV: case DGM_GAN_WGAN_GP: return t;
    case DGM_GAN_F_PEARSON: return 0.25 * t * t + t;
    case DGM_GAN_F_HELLINGER: return t / (1.0 - t);
    default: return -std::log(1.0 - std::exp(t));
    }
}

struct Losses {
    double d, g;
    std::vector<float> dd_real, dd_fake, dg_fake;
};

Losses run(dgm_ctx *c, int loss, const std::vector<float> &vr, const std::vector<float> &vf,
           bool grads)
{
    Losses out{};
    dgm_tensor *r = from_host(c, {(int64_t)vr.size(), 1}, vr);
    dgm_tensor *f = from_host(c, {(int64_t)vf.size(), 1}, vf);
    dgm_tensor_set_requires_grad(r, true);
    dgm_tensor_set_requires_grad(f, true);
    dgm_tensor *d = nullptr, *g = nullptr;
    EXPECT_EQ(dgm_gan_d_loss(c, loss, r, f, &d), DGM_STATUS_OK) << dgm_last_error(c);
    EXPECT_EQ(dgm_gan_g_loss(c, loss, f, &g), DGM_STATUS_OK) << dgm_last_error(c);
    out.d = to_host(c, d)[0];
    out.g = to_host(c, g)[0];
    if (grads) {
        dgm_tensor *in[2] = {r, f}, *gd[2], *gg = nullptr;
        EXPECT_EQ(dgm_autograd(c, d, nullptr, 2, in, false, gd), DGM_STATUS_OK);
        EXPECT_EQ(dgm_autograd(c, g, nullptr, 1, &f, false, &gg), DGM_STATUS_OK);
        out.dd_real = to_host(c, gd[0]);
        out.dd_fake = to_host(c, gd[1]);
        out.dg_fake = to_host(c, gg);
    }
    EXPECT_EQ(dgm_ctx_step_end(c), DGM_STATUS_OK);
    return out;
}

class GanLoss : public ::testing::TestWithParam<int> {};

TEST_P(GanLoss, ValuesMatchThePapersTableAndGradientsMatchFiniteDifferences)
{
    const int loss = GetParam();
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    dgm_ctx *c = ctx.get();
    std::mt19937 rng(4);
    // Hellinger's f* has a pole at T = 1 (v → ∞) and KL's grows as e^v: moderate v.
    auto vr = random_values(rng, 6, -1.5f, 1.5f), vf = random_values(rng, 5, -1.5f, 1.5f);
    Losses got = run(c, loss, vr, vf, true);

    double mt = 0, mc = 0, mg = 0;
    for (float v : vr) mt += table_t(loss, v) / vr.size();
    for (float v : vf) mc += table_conj(loss, table_t(loss, v)) / vf.size();
    for (float v : vf)
        mg += (loss == DGM_GAN_MINIMAX ? std::log(1.0 - 1.0 / (1.0 + std::exp(-(double)v)))
                                       : -table_t(loss, v)) / vf.size();
    EXPECT_NEAR(got.d, mc - mt, 1e-5 * (1 + std::fabs(mc - mt))) << dgm_gan_loss_name(loss);
    EXPECT_NEAR(got.g, mg, 1e-5 * (1 + std::fabs(mg))) << dgm_gan_loss_name(loss);

    const float h = 1e-3f;
    auto fd = [&](std::vector<float> &v, size_t j, bool d) {
        const float keep = v[j];
        v[j] = keep + h;
        Losses p = run(c, loss, vr, vf, false);
        v[j] = keep - h;
        Losses m = run(c, loss, vr, vf, false);
        v[j] = keep;
        return ((d ? p.d : p.g) - (d ? m.d : m.g)) / (2.0 * h);
    };
    for (size_t j = 0; j < vr.size(); j++) {
        double n = fd(vr, j, true);
        EXPECT_NEAR(got.dd_real[j], n, 2e-3 * (1 + std::fabs(n))) << "real " << j;
    }
    for (size_t j = 0; j < vf.size(); j++) {
        double n = fd(vf, j, true), ng = fd(vf, j, false);
        EXPECT_NEAR(got.dd_fake[j], n, 2e-3 * (1 + std::fabs(n))) << "fake " << j;
        EXPECT_NEAR(got.dg_fake[j], ng, 2e-3 * (1 + std::fabs(ng))) << "generator " << j;
    }
}

INSTANTIATE_TEST_SUITE_P(AllLosses, GanLoss, ::testing::Range(0, (int)DGM_GAN_LOSS_COUNT),
                         [](const ::testing::TestParamInfo<int> &i) {
                             std::string n = dgm_gan_loss_name(i.param);
                             for (auto &ch : n)
                                 if (!isalnum((unsigned char)ch)) ch = '_';
                             return n;
                         });

TEST(GanLossNames, ParseAndName)
{
    for (int i = 0; i < DGM_GAN_LOSS_COUNT; i++)
        EXPECT_EQ(dgm_gan_loss_parse(dgm_gan_loss_name(i)), i);
    EXPECT_EQ(dgm_gan_loss_parse("f:nope"), -1);
    EXPECT_EQ(dgm_gan_loss_name(DGM_GAN_LOSS_COUNT), nullptr);
}

// The penalties through a small tanh critic D(x) = w2ᵀ tanh(W1 x + b1): their values
// against a direct computation of ∇x D in double, their gradients in W1 against finite
// differences.
TEST(GanPenalty, ValuesAndParameterGradients)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    dgm_ctx *c = ctx.get();
    const int64_t B = 3, D = 2, H = 4;
    std::mt19937 rng(8);
    auto w1 = random_values(rng, H * D, -1, 1), b1 = random_values(rng, H, -1, 1);
    auto w2 = random_values(rng, H, -1, 1), x = random_values(rng, B * D, -1, 1);
    auto penalty = [&](const std::vector<float> &W1, bool r1, std::vector<float> *grad) {
        dgm_tensor *tw1 = from_host(c, {H, D}, W1), *tb1 = from_host(c, {H}, b1);
        dgm_tensor *tw2 = from_host(c, {1, H}, w2), *tx = from_host(c, {B, D}, x);
        dgm_tensor_set_requires_grad(tw1, true);
        dgm_tensor_set_requires_grad(tx, true);
        dgm_tensor *h = nullptr, *o = nullptr, *p = nullptr;
        EXPECT_EQ(dgm_matmul(c, tx, false, tw1, true, tb1, DGM_ACT_TANH, 0, &h), 0);
        EXPECT_EQ(dgm_matmul(c, h, false, tw2, true, nullptr, DGM_ACT_NONE, 0, &o), 0);
        EXPECT_EQ(r1 ? dgm_gan_r1_penalty(c, o, tx, &p) : dgm_gan_gradient_penalty(c, o, tx, &p),
                  DGM_STATUS_OK) << dgm_last_error(c);
        double v = to_host(c, p)[0];
        if (grad) {
            dgm_tensor *g = nullptr;
            EXPECT_EQ(dgm_autograd(c, p, nullptr, 1, &tw1, false, &g), DGM_STATUS_OK);
            *grad = to_host(c, g);
        }
        EXPECT_EQ(dgm_ctx_step_end(c), DGM_STATUS_OK);
        return v;
    };
    for (int r1 = 0; r1 < 2; r1++) {
        // ∇x D = W1ᵀ (w2 ⊙ (1 - tanh²(W1 x + b1))), per sample.
        double want = 0;
        for (int64_t b = 0; b < B; b++) {
            double g[2] = {0, 0};
            for (int64_t j = 0; j < H; j++) {
                double z = b1[j];
                for (int64_t d = 0; d < D; d++) z += (double)w1[j * D + d] * x[b * D + d];
                const double t = std::tanh(z), s = w2[j] * (1 - t * t);
                for (int64_t d = 0; d < D; d++) g[d] += s * w1[j * D + d];
            }
            const double n2 = g[0] * g[0] + g[1] * g[1];
            want += (r1 ? n2 : (std::sqrt(n2) - 1) * (std::sqrt(n2) - 1)) / B;
        }
        std::vector<float> grad;
        EXPECT_NEAR(penalty(w1, r1, &grad), want, 1e-5) << (r1 ? "r1" : "gp");
        for (size_t i = 0; i < w1.size(); i++) {
            auto p = w1, m = w1;
            p[i] += 1e-3f;
            m[i] -= 1e-3f;
            const double n = (penalty(p, r1, nullptr) - penalty(m, r1, nullptr)) / ((double)p[i] - m[i]);
            EXPECT_NEAR(grad[i], n, 2e-3 * (1 + std::fabs(n))) << (r1 ? "r1 " : "gp ") << i;
        }
    }
}

// The WGAN-GP penalty, and the critic's whole loss (three passes of the critic: data,
// fakes, interpolates), through a ReLU critic of three hidden layers (dgm_mlp, as the GAN
// builds it): every parameter's gradient, by dgm_backward into the block, against
// central differences of the penalty (a ReLU net is piecewise linear in its input; the
// penalty is smooth in the weights away from the kinks, which a step of 1e-3 rarely
// crosses on these draws).
TEST(GanPenalty, ThroughAReluMlpMatchesFiniteDifferences)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    dgm_ctx *c = ctx.get();
    dgm_params *p = nullptr;
    ASSERT_EQ(dgm_params_create(c, &p), DGM_STATUS_OK);
    dgm_mlp_config cfg = dgm_mlp_config_default();
    const int64_t widths[5] = {2, 8, 8, 8, 1};
    dgm_mlp *mlp = nullptr;
    ASSERT_EQ(dgm_mlp_create(p, "d", 5, widths, &cfg, &mlp), DGM_STATUS_OK);
    ASSERT_EQ(dgm_params_alloc(p), DGM_STATUS_OK) << dgm_last_error(c);
    std::mt19937 rng(11);
    const int64_t B = 6;
    const std::vector<float> x = random_values(rng, B * 2, -2, 2);
    float *w = dgm_params_values(p);
    const int64_t n = dgm_params_numel(p);
    const std::vector<float> real = random_values(rng, B * 2, -2, 2), fake = random_values(rng, B * 2, -2, 2);
    bool whole = false;  // the critic's whole loss: D(fake) - D(real) + 10 GP, three passes of D
    auto penalty = [&](bool grads) {
        dgm_tensor *tx = from_host(c, {B, 2}, x), *o = nullptr, *gp = nullptr;
        dgm_tensor_set_requires_grad(tx, true);
        EXPECT_EQ(dgm_mlp_forward(c, mlp, tx, true, &o), DGM_STATUS_OK);
        EXPECT_EQ(dgm_gan_gradient_penalty(c, o, tx, &gp), DGM_STATUS_OK) << dgm_last_error(c);
        if (whole) {
            dgm_tensor *vr = nullptr, *vf = nullptr, *l = nullptr;
            EXPECT_EQ(dgm_mlp_forward(c, mlp, from_host(c, {B, 2}, real), true, &vr), DGM_STATUS_OK);
            EXPECT_EQ(dgm_mlp_forward(c, mlp, from_host(c, {B, 2}, fake), true, &vf), DGM_STATUS_OK);
            EXPECT_EQ(dgm_gan_d_loss(c, DGM_GAN_WGAN_GP, vr, vf, &l), DGM_STATUS_OK);
            EXPECT_EQ(dgm_scale(c, gp, 10.0f, 0.0f, &gp), DGM_STATUS_OK);
            EXPECT_EQ(dgm_add(c, l, gp, &gp), DGM_STATUS_OK);
        }
        const double v = to_host(c, gp)[0];
        if (grads) {
            EXPECT_EQ(dgm_params_zero_grad(p), DGM_STATUS_OK);
            EXPECT_EQ(dgm_backward(c, gp), DGM_STATUS_OK) << dgm_last_error(c);
        }
        EXPECT_EQ(dgm_ctx_step_end(c), DGM_STATUS_OK);
        return v;
    };
    for (int part = 0; part < 2; part++) {
        whole = part == 1;
        penalty(true);
        const std::vector<float> g(dgm_params_grads(p), dgm_params_grads(p) + n);
        int checked = 0;
        for (int64_t i = 0; i < n; i++) {
            const float keep = w[i];
            w[i] = keep + 1e-3f;
            const double up = penalty(false);
            w[i] = keep - 1e-3f;
            const double down = penalty(false);
            w[i] = keep;
            const double fd = (up - down) / 2e-3;
            EXPECT_NEAR(g[(size_t)i], fd, 5e-3 * (1 + std::fabs(fd))) << (whole ? "whole loss" : "penalty")
                                                                        << ", element " << i;
            checked += fd != 0.0;
        }
        EXPECT_GT(checked, n / 2);  // most weights move it
    }
    dgm_mlp_free(mlp);
    dgm_params_free(p);
}

}  // namespace
