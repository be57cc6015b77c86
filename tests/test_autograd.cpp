// dgm_autograd end to end: its contract (errors, zeros, untouched parameter gradients), a
// Hessian-vector product of a small MLP, and WGAN-GP / R1 gradient penalties on an MLP
// critic back-propagated into its parameters — each against finite differences in double.
#include <cstring>

#include "test_util.h"

using namespace dgmtest;

namespace {

std::vector<float> read(dgm_ctx *ctx, dgm_tensor *t) { return to_host(ctx, t); }

double read_scalar(dgm_ctx *ctx, dgm_tensor *t)
{
    float v = 0.0f;
    EXPECT_EQ(dgm_tensor_to_host(ctx, t, &v), DGM_STATUS_OK) << dgm_last_error(ctx);
    return v;
}

TEST(Autograd, RejectsBadArguments)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    dgm_ctx *c = ctx.get();
    dgm_tensor *x = from_host(c, {2, 3}, {1, 2, 3, 4, 5, 6});
    dgm_tensor *k = from_host(c, {2, 3}, {1, 1, 1, 1, 1, 1});
    ASSERT_EQ(dgm_tensor_set_requires_grad(x, true), DGM_STATUS_OK);
    dgm_tensor *y = nullptr, *s = nullptr, *g[2] = {nullptr, nullptr};
    DGM_ASSERT_OK(c, dgm_square(c, x, &y));
    DGM_ASSERT_OK(c, dgm_sum(c, y, DGM_AXIS_ALL, &s));

    EXPECT_EQ(dgm_autograd(c, s, nullptr, 0, &x, false, g), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_autograd(c, s, nullptr, 1, nullptr, false, g), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_autograd(c, s, nullptr, 1, &x, false, nullptr), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_autograd(c, nullptr, nullptr, 1, &x, false, g), DGM_STATUS_INVALID_ARGUMENT);
    // An input that does not require a gradient is named.
    EXPECT_EQ(dgm_autograd(c, s, nullptr, 1, &k, false, g), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_NE(std::strstr(dgm_last_error(c), "inputs[0]"), nullptr) << dgm_last_error(c);
    // A many-element output needs a seed of its size.
    EXPECT_EQ(dgm_autograd(c, y, nullptr, 1, &x, false, g), DGM_STATUS_SHAPE_MISMATCH);
    dgm_tensor *bad_seed = from_host(c, {2}, {1, 1});
    EXPECT_EQ(dgm_autograd(c, y, bad_seed, 1, &x, false, g), DGM_STATUS_SHAPE_MISMATCH);
    EXPECT_NE(std::strstr(dgm_last_error(c), "seed"), nullptr) << dgm_last_error(c);
    DGM_ASSERT_OK(c, dgm_ctx_step_end(c));
}

// Zeros where the output does not depend on an input; the seed where the input is the
// output; a gradient through several paths accumulates.
TEST(Autograd, ZerosSeedAndAccumulation)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    dgm_ctx *c = ctx.get();
    dgm_tensor *x = from_host(c, {1, 3}, {1, 2, 3});
    dgm_tensor *z = from_host(c, {2, 2}, {1, 2, 3, 4});
    dgm_tensor_set_requires_grad(x, true);
    dgm_tensor_set_requires_grad(z, true);
    dgm_tensor *a = nullptr, *b = nullptr, *y = nullptr, *s = nullptr;
    DGM_ASSERT_OK(c, dgm_square(c, x, &a));  // x²
    DGM_ASSERT_OK(c, dgm_exp(c, x, &b));     // e^x
    DGM_ASSERT_OK(c, dgm_add(c, a, b, &y));  // both paths meet
    DGM_ASSERT_OK(c, dgm_sum(c, y, DGM_AXIS_ALL, &s));
    dgm_tensor *in[3] = {x, z, s}, *g[3] = {};
    DGM_ASSERT_OK(c, dgm_autograd(c, s, nullptr, 3, in, false, g));
    auto gx = read(c, g[0]), gz = read(c, g[1]), gs = read(c, g[2]);
    for (int i = 0; i < 3; i++) EXPECT_NEAR(gx[i], 2.0 * (i + 1) + std::exp(i + 1.0), 1e-5);
    EXPECT_EQ(dgm_tensor_dim(g[1], 0), 2);
    for (float v : gz) EXPECT_EQ(v, 0.0f);
    EXPECT_EQ(gs[0], 1.0f);
    // Without create_graph the gradient is a constant.
    EXPECT_FALSE(dgm_tensor_requires_grad(g[0]));
    DGM_ASSERT_OK(c, dgm_ctx_step_end(c));
}

// f(θ) for the small MLP below: mean over the batch of (MLP(x) - t)², with a tanh and a
// softplus layer so that its Hessian involves every kind of term.
struct Mlp {
    std::vector<int64_t> shapes[4] = {{6, 3}, {6}, {1, 6}, {1}};
    std::vector<std::vector<float>> theta;
    std::vector<float> x, t;
    Mlp()
    {
        std::mt19937 rng(5);
        for (auto &s : shapes) theta.push_back(random_values(rng, numel(s), -0.8f, 0.8f));
        x = random_values(rng, 5 * 3, -1.5f, 1.5f);
        t = random_values(rng, 5, -1.0f, 1.0f);
    }
    // Builds the loss on the tape; params[] get the parameter tensors.
    dgm_tensor *loss(dgm_ctx *c, const std::vector<std::vector<float>> &th, dgm_tensor **params)
    {
        for (int i = 0; i < 4; i++) {
            params[i] = from_host(c, shapes[i], th[i]);
            dgm_tensor_set_requires_grad(params[i], true);
        }
        dgm_tensor *xt = from_host(c, {5, 3}, x), *tt = from_host(c, {5, 1}, t);
        dgm_tensor *h = nullptr, *o = nullptr, *l = nullptr;
        EXPECT_EQ(dgm_matmul(c, xt, false, params[0], true, params[1], DGM_ACT_TANH, 0, &h), 0);
        EXPECT_EQ(dgm_matmul(c, h, false, params[2], true, params[3], DGM_ACT_SOFTPLUS, 0, &o), 0);
        EXPECT_EQ(dgm_mse(c, o, tt, DGM_REDUCTION_MEAN, &l), 0) << dgm_last_error(c);
        return l;
    }
    // ∇f(θ) by first-order dgm_autograd.
    std::vector<std::vector<float>> grad(dgm_ctx *c, const std::vector<std::vector<float>> &th)
    {
        dgm_tensor *p[4], *g[4];
        dgm_tensor *l = loss(c, th, p);
        EXPECT_EQ(dgm_autograd(c, l, nullptr, 4, p, false, g), DGM_STATUS_OK) << dgm_last_error(c);
        std::vector<std::vector<float>> out;
        for (auto *gi : g) out.push_back(read(c, gi));
        EXPECT_EQ(dgm_ctx_step_end(c), DGM_STATUS_OK);
        return out;
    }
};

// H·v by differentiating vᵀ∇f (create_graph, then dgm_autograd again) equals central
// differences of the gradient along v: (∇f(θ + hv) - ∇f(θ - hv)) / 2h; and H is symmetric:
// uᵀ(Hv) = vᵀ(Hu).
TEST(Autograd, HessianVectorProductOfAnMlp)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 3);
    ASSERT_TRUE(ctx);
    dgm_ctx *c = ctx.get();
    Mlp mlp;
    std::mt19937 rng(11);
    std::vector<std::vector<float>> v, u;
    for (auto &s : mlp.shapes) v.push_back(random_values(rng, numel(s), -1.0f, 1.0f));
    for (auto &s : mlp.shapes) u.push_back(random_values(rng, numel(s), -1.0f, 1.0f));

    auto hvp = [&](const std::vector<std::vector<float>> &dir) {
        dgm_tensor *p[4], *g[4], *h[4], *f = nullptr;
        dgm_tensor *l = mlp.loss(c, mlp.theta, p);
        EXPECT_EQ(dgm_autograd(c, l, nullptr, 4, p, true, g), DGM_STATUS_OK) << dgm_last_error(c);
        for (int i = 0; i < 4; i++) {
            EXPECT_TRUE(dgm_tensor_requires_grad(g[i]));
            dgm_tensor *d = from_host(c, mlp.shapes[i], dir[i]), *m = nullptr, *s = nullptr;
            EXPECT_EQ(dgm_mul(c, g[i], d, &m), 0);
            EXPECT_EQ(dgm_sum(c, m, DGM_AXIS_ALL, &s), 0);
            if (f) {
                EXPECT_EQ(dgm_add(c, f, s, &s), 0);
            }
            f = s;
        }
        EXPECT_EQ(dgm_autograd(c, f, nullptr, 4, p, false, h), DGM_STATUS_OK) << dgm_last_error(c);
        std::vector<std::vector<float>> out;
        for (auto *hi : h) out.push_back(read(c, hi));
        EXPECT_EQ(dgm_ctx_step_end(c), DGM_STATUS_OK);
        return out;
    };
    auto hv = hvp(v), hu = hvp(u);

    const double step = 1e-2;  // the loss is smooth; float gradients need a wide step
    auto plus = mlp.theta, minus = mlp.theta;
    for (size_t i = 0; i < plus.size(); i++)
        for (size_t j = 0; j < plus[i].size(); j++) {
            plus[i][j] += (float)(step * v[i][j]);
            minus[i][j] -= (float)(step * v[i][j]);
        }
    auto gp = mlp.grad(c, plus), gm = mlp.grad(c, minus);
    double norm = 0.0;
    for (size_t i = 0; i < hv.size(); i++)
        for (size_t j = 0; j < hv[i].size(); j++) {
            const double numeric = ((double)gp[i][j] - gm[i][j]) / (2 * step);
            EXPECT_NEAR(hv[i][j], numeric, 2e-3 + 2e-2 * std::fabs(numeric))
                << "tensor " << i << " element " << j;
            norm += numeric * numeric;
        }
    EXPECT_GT(norm, 1e-4);  // a real curvature, not zeros on both sides
    double uhv = 0, vhu = 0;
    for (size_t i = 0; i < hv.size(); i++)
        for (size_t j = 0; j < hv[i].size(); j++) {
            uhv += (double)u[i][j] * hv[i][j];
            vhu += (double)v[i][j] * hu[i][j];
        }
    EXPECT_NEAR(uhv, vhu, 1e-4 + 1e-4 * std::fabs(uhv));
}

// A WGAN-GP critic step: L = mean D(fake) - mean D(real) + λ·mean((‖∇x̂ D(x̂)‖ - 1)²)
// + γ/2·mean(‖∇x D(x)‖²) at the reals (an R1 term: a second dgm_autograd in the same
// step), then ONE dgm_backward into the critic's parameter block. The parameter gradients
// must equal central differences of L (L evaluated with first-order autograd only).
class GradientPenalty : public ::testing::TestWithParam<dgm_activation> {};

struct Critic {
    dgm_params *p = nullptr;
    dgm_activation act;
    std::vector<float> real, fake, eps;
    static constexpr int64_t B = 4, D = 2, H = 8;
    Critic(dgm_ctx *c, dgm_activation a) : act(a)
    {
        EXPECT_EQ(dgm_params_create(c, &p), DGM_STATUS_OK);
        EXPECT_EQ(dgm_params_add_linear(p, "net.0", D, H, true), DGM_STATUS_OK);
        EXPECT_EQ(dgm_params_add_linear(p, "net.2", H, H, true), DGM_STATUS_OK);
        EXPECT_EQ(dgm_params_add_linear(p, "net.4", H, 1, true), DGM_STATUS_OK);
        EXPECT_EQ(dgm_params_alloc(p), DGM_STATUS_OK) << dgm_last_error(c);
        std::mt19937 rng(21);
        real = random_values(rng, B * D, -2.0f, 2.0f);
        fake = random_values(rng, B * D, -2.0f, 2.0f);
        eps = random_values(rng, B, 0.0f, 1.0f);
    }
    ~Critic() { dgm_params_free(p); }
    dgm_tensor *forward(dgm_ctx *c, dgm_tensor *x)
    {
        auto w = [&](const char *n) { return dgm_params_get(p, n); };
        dgm_tensor *h = nullptr, *h2 = nullptr, *o = nullptr;
        EXPECT_EQ(dgm_matmul(c, x, false, w("net.0.weight"), true, w("net.0.bias"), act, 0.2f, &h), 0);
        EXPECT_EQ(dgm_matmul(c, h, false, w("net.2.weight"), true, w("net.2.bias"), act, 0.2f, &h2), 0);
        EXPECT_EQ(dgm_matmul(c, h2, false, w("net.4.weight"), true, w("net.4.bias"), DGM_ACT_NONE, 0, &o), 0);
        return o;
    }
    // ‖∇x D(x)‖² per row [B, 1], the gradient recorded when create_graph.
    dgm_tensor *grad_norm2(dgm_ctx *c, dgm_tensor *x, bool create_graph)
    {
        dgm_tensor *d = forward(c, x), *s = nullptr, *g = nullptr, *sq = nullptr, *n2 = nullptr;
        EXPECT_EQ(dgm_sum(c, d, DGM_AXIS_ALL, &s), 0);
        EXPECT_EQ(dgm_autograd(c, s, nullptr, 1, &x, create_graph, &g), DGM_STATUS_OK)
            << dgm_last_error(c);
        EXPECT_EQ(dgm_square(c, g, &sq), 0);
        EXPECT_EQ(dgm_sum(c, sq, DGM_AXIS_ROWS, &n2), 0);
        return n2;
    }
    dgm_tensor *loss(dgm_ctx *c, bool create_graph)
    {
        const float lambda = 10.0f, gamma = 2.0f;
        dgm_tensor *xr = from_host(c, {B, D}, real), *xf = from_host(c, {B, D}, fake);
        dgm_tensor *e = from_host(c, {B, 1}, eps);
        // x̂ = e·real + (1 - e)·fake
        dgm_tensor *a = nullptr, *one_minus = nullptr, *bterm = nullptr, *xhat = nullptr;
        EXPECT_EQ(dgm_mul(c, xr, e, &a), 0);
        EXPECT_EQ(dgm_scale(c, e, -1.0f, 1.0f, &one_minus), 0);
        EXPECT_EQ(dgm_mul(c, xf, one_minus, &bterm), 0);
        EXPECT_EQ(dgm_add(c, a, bterm, &xhat), 0);
        dgm_tensor_set_requires_grad(xhat, true);
        dgm_tensor_set_requires_grad(xr, true);
        dgm_tensor *mr = nullptr, *mf = nullptr, *w = nullptr;
        EXPECT_EQ(dgm_mean(c, forward(c, xr), DGM_AXIS_ALL, &mr), 0);
        EXPECT_EQ(dgm_mean(c, forward(c, xf), DGM_AXIS_ALL, &mf), 0);
        EXPECT_EQ(dgm_sub(c, mf, mr, &w), 0);
        // λ·mean((sqrt(‖g‖²) - 1)²)
        dgm_tensor *n2 = grad_norm2(c, xhat, create_graph), *n = nullptr, *gp = nullptr;
        EXPECT_EQ(dgm_sqrt(c, n2, &n), 0);
        EXPECT_EQ(dgm_scale(c, n, 1.0f, -1.0f, &n), 0);
        EXPECT_EQ(dgm_square(c, n, &n), 0);
        EXPECT_EQ(dgm_mean(c, n, DGM_AXIS_ALL, &gp), 0);
        EXPECT_EQ(dgm_scale(c, gp, lambda, 0.0f, &gp), 0);
        // γ/2·mean(‖∇x D(real)‖²)
        dgm_tensor *r1 = nullptr, *total = nullptr;
        EXPECT_EQ(dgm_mean(c, grad_norm2(c, xr, create_graph), DGM_AXIS_ALL, &r1), 0);
        EXPECT_EQ(dgm_scale(c, r1, 0.5f * gamma, 0.0f, &r1), 0);
        EXPECT_EQ(dgm_add(c, w, gp, &total), 0);
        EXPECT_EQ(dgm_add(c, total, r1, &total), 0);
        return total;
    }
};

TEST_P(GradientPenalty, ParameterGradientsMatchFiniteDifferences)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 17);
    ASSERT_TRUE(ctx);
    dgm_ctx *c = ctx.get();
    Critic critic(c, GetParam());
    const int64_t n = dgm_params_numel(critic.p);

    DGM_ASSERT_OK(c, dgm_params_zero_grad(critic.p));
    dgm_tensor *l = critic.loss(c, true);
    ASSERT_FALSE(::testing::Test::HasFailure());
    DGM_ASSERT_OK(c, dgm_backward(c, l));
    std::vector<float> grad((size_t)n), theta((size_t)n);
    DGM_ASSERT_OK(c, dgm_ctx_synchronize(c));
    std::memcpy(grad.data(), dgm_params_grads(critic.p), (size_t)n * sizeof(float));
    std::memcpy(theta.data(), dgm_params_values(critic.p), (size_t)n * sizeof(float));
    DGM_ASSERT_OK(c, dgm_ctx_step_end(c));

    auto eval = [&](const std::vector<float> &th) {
        std::memcpy(dgm_params_values(critic.p), th.data(), (size_t)n * sizeof(float));
        dgm_ctx_set_grad_enabled(c, true);
        double v = read_scalar(c, critic.loss(c, false));
        EXPECT_EQ(dgm_ctx_step_end(c), DGM_STATUS_OK);
        return v;
    };
    const float h = 2e-3f;
    double penalty_part = 0.0;
    for (int64_t i = 0; i < n; i++) {
        auto plus = theta, minus = theta;
        plus[i] += h;
        minus[i] -= h;
        const double numeric = (eval(plus) - eval(minus)) / ((double)plus[i] - minus[i]);
        EXPECT_NEAR(grad[i], numeric, 3e-3 + 1e-2 * std::fabs(numeric)) << "parameter " << i;
        penalty_part += std::fabs(numeric);
    }
    EXPECT_GT(penalty_part, 1e-2);
    std::memcpy(dgm_params_values(critic.p), theta.data(), (size_t)n * sizeof(float));
}

// Leaky ReLU has no curvature (its penalty gradient flows only through the recorded
// products); tanh, softplus and GELU exercise the activations' second derivatives.
std::string activation_name(const ::testing::TestParamInfo<dgm_activation> &i)
{
    static const char *names[] = {"none", "relu",  "leaky_relu", "elu",     "selu",
                                  "gelu", "silu", "tanh",       "sigmoid", "softplus"};
    return names[i.param];
}

INSTANTIATE_TEST_SUITE_P(Activations, GradientPenalty,
                         ::testing::Values(DGM_ACT_LEAKY_RELU, DGM_ACT_TANH, DGM_ACT_SOFTPLUS,
                                           DGM_ACT_GELU),
                         activation_name);

// dgm_autograd never writes the parameter gradient buffer.
TEST(Autograd, LeavesParameterGradientsAlone)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 5);
    ASSERT_TRUE(ctx);
    dgm_ctx *c = ctx.get();
    Critic critic(c, DGM_ACT_TANH);
    DGM_ASSERT_OK(c, dgm_params_zero_grad(critic.p));
    dgm_tensor *l = critic.loss(c, true);
    dgm_tensor *w = dgm_params_get(critic.p, "net.0.weight"), *g = nullptr;
    DGM_ASSERT_OK(c, dgm_autograd(c, l, nullptr, 1, &w, true, &g));
    DGM_ASSERT_OK(c, dgm_ctx_synchronize(c));
    const float *pg = dgm_params_grads(critic.p);
    for (int64_t i = 0; i < dgm_params_numel(critic.p); i++) ASSERT_EQ(pg[i], 0.0f) << i;
    double norm = 0;
    for (float v : read(c, g)) norm += std::fabs(v);
    EXPECT_GT(norm, 0.0);
    DGM_ASSERT_OK(c, dgm_ctx_step_end(c));
}

// A third derivative through dgm_autograd (a recorded backward of activation_grad2) is
// refused, naming the op, not computed wrong. dgm_backward computes it (the fast backward of
// activation_grad2, checked against finite differences in test_score.cpp).
TEST(Autograd, ThirdOrderThroughAutogradIsUnsupportedAndSaysSo)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 5);
    ASSERT_TRUE(ctx);
    dgm_ctx *c = ctx.get();
    dgm_tensor *x = from_host(c, {1, 2}, {0.3f, -0.4f}), *y = nullptr, *s = nullptr;
    dgm_tensor_set_requires_grad(x, true);
    DGM_ASSERT_OK(c, dgm_tanh(c, x, &y));
    DGM_ASSERT_OK(c, dgm_sum(c, y, DGM_AXIS_ALL, &s));
    dgm_tensor *g1 = nullptr, *g2 = nullptr, *g3 = nullptr, *s1 = nullptr, *s2 = nullptr;
    DGM_ASSERT_OK(c, dgm_autograd(c, s, nullptr, 1, &x, true, &g1));
    DGM_ASSERT_OK(c, dgm_sum(c, g1, DGM_AXIS_ALL, &s1));
    DGM_ASSERT_OK(c, dgm_autograd(c, s1, nullptr, 1, &x, true, &g2));  // tanh'' recorded
    auto v2 = read(c, g2);
    for (int i = 0; i < 2; i++) {  // d²/dx² tanh = -2 tanh (1 - tanh²)
        const double t = std::tanh(i ? -0.4 : 0.3);
        EXPECT_NEAR(v2[i], -2 * t * (1 - t * t), 1e-5);
    }
    DGM_ASSERT_OK(c, dgm_sum(c, g2, DGM_AXIS_ALL, &s2));
    EXPECT_EQ(dgm_autograd(c, s2, nullptr, 1, &x, false, &g3), DGM_STATUS_UNSUPPORTED);
    EXPECT_NE(std::strstr(dgm_last_error(c), "activation_grad2"), nullptr) << dgm_last_error(c);
    DGM_ASSERT_OK(c, dgm_ctx_step_end(c));
}

// CUDA against CPU: a whole gradient-penalty step (two autograd passes with create_graph,
// then dgm_backward) gives the same parameter gradients.
TEST(AutogradCuda, GradientPenaltyStepMatchesCpu)
{
    SKIP_WITHOUT_GPU();
    std::vector<float> grads[2];
    const dgm_device devs[2] = {DGM_DEVICE_CPU, DGM_DEVICE_CUDA};
    for (int d = 0; d < 2; d++) {
        CtxPtr ctx = make_ctx(devs[d], 17);
        ASSERT_TRUE(ctx);
        dgm_ctx *c = ctx.get();
        Critic critic(c, DGM_ACT_SOFTPLUS);
        DGM_ASSERT_OK(c, dgm_params_zero_grad(critic.p));
        DGM_ASSERT_OK(c, dgm_backward(c, critic.loss(c, true)));
        const int64_t n = dgm_params_numel(critic.p);
        grads[d].resize((size_t)n);
        // The gradient block is device memory on CUDA: copy each view's gradient out.
        int64_t off = 0;
        for (int i = 0; i < dgm_params_count(critic.p); i++) {
            if (dgm_params_is_buffer(critic.p, i)) continue;
            dgm_tensor *t = dgm_params_at(critic.p, i), *gt = nullptr;
            DGM_ASSERT_OK(c, dgm_grad(c, t, &gt));
            auto v = read(c, gt);
            std::copy(v.begin(), v.end(), grads[d].begin() + off);
            off += (int64_t)v.size();
        }
        DGM_ASSERT_OK(c, dgm_ctx_step_end(c));
    }
    for (size_t i = 0; i < grads[0].size(); i++)
        EXPECT_NEAR(grads[1][i], grads[0][i], 1e-4 + 1e-4 * std::fabs(grads[0][i])) << i;
}

}  // namespace
