// Second derivatives of every op (a gradgradcheck), on the CPU backend.
//
// For an op case f and fixed random weights w (on the output) and u (on the gradients):
//   G(X) = ∂/∂X Σ w ⊙ f(X)            first order, dgm_autograd without create_graph
//   F(X) = Σ_i Σ u_i ⊙ G_i(X)          a scalar function of the gradient
// dgm_autograd with create_graph gives G as recorded tensors; F is built from them with
// ops, and dgm_autograd again gives ∂F/∂X, which must match central finite differences of
// F (accumulated in double) — the derivative of the gradient, checked element by element.
#include "op_cases.h"

using namespace dgmtest;

namespace {

using Grads = std::vector<std::vector<float>>;

struct SecondOrder {
    std::vector<float> out;
    Grads first;   // G, per input with grad (in order)
    Grads second;  // ∂F/∂X, when u was given
};

// Runs a case forward, the first-order gradients and, with u, the second-order ones.
::testing::AssertionResult run_second(dgm_ctx *ctx, const OpCase &c, const Grads &inputs,
                                      const std::vector<float> &w, const Grads *u,
                                      SecondOrder *r)
{
    auto fail = [&](const char *what, dgm_status st) {
        ::testing::AssertionResult res = ::testing::AssertionFailure()
                                         << c.name << ": " << what << ": " << dgm_status_name(st)
                                         << ": " << dgm_last_error(ctx);
        dgm_ctx_step_end(ctx);
        return res;
    };
    dgm_status st;
    if (c.reseed && (st = dgm_ctx_seed(ctx, c.reseed)) != DGM_STATUS_OK) return fail("seed", st);
    std::vector<dgm_tensor *> ts, with_grad;
    for (size_t i = 0; i < c.inputs.size(); i++) {
        const auto &shape = c.inputs[i].shape;
        dgm_tensor *t = nullptr;
        if ((st = dgm_tensor_from_host(ctx, (int)shape.size(), shape.data(), inputs[i].data(), &t)))
            return fail("input", st);
        if (c.inputs[i].grad) {
            dgm_tensor_set_requires_grad(t, true);
            with_grad.push_back(t);
        }
        ts.push_back(t);
    }
    dgm_tensor *out = nullptr;
    if ((st = c.fn(ctx, ts, &out))) return fail("forward", st);
    r->out.assign((size_t)dgm_tensor_numel(out), 0.0f);
    if ((st = dgm_tensor_to_host(ctx, out, r->out.data()))) return fail("read output", st);
    if ((int64_t)w.size() != dgm_tensor_numel(out))
        return ::testing::AssertionFailure() << c.name << ": seed size";
    int64_t nw = (int64_t)w.size();
    dgm_tensor *seed = nullptr;
    if ((st = dgm_tensor_from_host(ctx, 1, &nw, w.data(), &seed))) return fail("seed", st);
    const int n = (int)with_grad.size();
    std::vector<dgm_tensor *> g((size_t)n, nullptr);
    if ((st = dgm_autograd(ctx, out, seed, n, with_grad.data(), u != nullptr, g.data())))
        return fail("first autograd", st);
    r->first.assign((size_t)n, {});
    for (int i = 0; i < n; i++) {
        if (dgm_tensor_numel(g[i]) != dgm_tensor_numel(with_grad[i]))
            return ::testing::AssertionFailure() << c.name << ": gradient " << i << " size";
        r->first[i].assign((size_t)dgm_tensor_numel(g[i]), 0.0f);
        if ((st = dgm_tensor_to_host(ctx, g[i], r->first[i].data()))) return fail("read G", st);
    }
    if (u) {
        dgm_tensor *f = nullptr;
        for (int i = 0; i < n; i++) {
            int64_t m = (int64_t)(*u)[i].size();
            dgm_tensor *ui = nullptr, *p = nullptr, *q = nullptr;
            if ((st = dgm_tensor_from_host(ctx, 1, &m, (*u)[i].data(), &ui))) return fail("u", st);
            dgm_tensor *gi = nullptr;
            const int64_t flat[1] = {m};
            if ((st = dgm_reshape(ctx, g[i], 1, flat, &gi))) return fail("reshape G", st);
            if ((st = dgm_mul(ctx, gi, ui, &p))) return fail("G·u", st);
            if ((st = dgm_sum(ctx, p, DGM_AXIS_ALL, &q))) return fail("sum", st);
            if (f && (st = dgm_add(ctx, f, q, &q))) return fail("add", st);
            f = q;
        }
        std::vector<dgm_tensor *> h((size_t)n, nullptr);
        if ((st = dgm_autograd(ctx, f, nullptr, n, with_grad.data(), false, h.data())))
            return fail("second autograd", st);
        r->second.assign((size_t)n, {});
        for (int i = 0; i < n; i++) {
            r->second[i].assign((size_t)dgm_tensor_numel(h[i]), 0.0f);
            if ((st = dgm_tensor_to_host(ctx, h[i], r->second[i].data())))
                return fail("read H", st);
        }
    }
    if ((st = dgm_ctx_step_end(ctx))) return fail("step_end", st);
    return ::testing::AssertionSuccess();
}

double dot(const Grads &a, const Grads &b)
{
    double s = 0.0;
    for (size_t i = 0; i < a.size(); i++)
        for (size_t j = 0; j < a[i].size(); j++) s += (double)a[i][j] * (double)b[i][j];
    return s;
}

// A case's inputs and its fixed weights: w on the output, u on each gradient.
struct Weights {
    Grads inputs;
    std::vector<float> w;
    Grads u;
};

::testing::AssertionResult make_weights(dgm_ctx *ctx, const OpCase &c, Weights *out)
{
    out->inputs = case_inputs(c, 7);
    CaseResult probe;
    ::testing::AssertionResult r = run_case(ctx, c, out->inputs, nullptr, &probe);
    if (!r) return r;
    std::mt19937 rng(99);
    out->w = random_values(rng, (int64_t)probe.out.size(), -1.0f, 1.0f);
    for (const auto &in : c.inputs)
        if (in.grad) out->u.push_back(random_values(rng, numel(in.shape), -1.0f, 1.0f));
    return ::testing::AssertionSuccess();
}

class OpGradGrad : public ::testing::TestWithParam<OpCase> {};

const double NOISE_ULPS = 4.0;

// The first-order gradients of dgm_autograd equal those of dgm_backward_from.
TEST_P(OpGradGrad, AutogradMatchesBackward)
{
    const OpCase &c = GetParam();
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 42);
    ASSERT_TRUE(ctx);
    Weights wt;
    ASSERT_TRUE(make_weights(ctx.get(), c, &wt));
    CaseResult backward;
    ASSERT_TRUE(run_case(ctx.get(), c, wt.inputs, &wt.w, &backward));
    SecondOrder ag;
    ASSERT_TRUE(run_second(ctx.get(), c, wt.inputs, wt.w, nullptr, &ag));
    ASSERT_EQ(ag.out, backward.out);
    size_t k = 0;
    for (size_t i = 0; i < c.inputs.size(); i++) {
        if (!c.inputs[i].grad) continue;
        ASSERT_EQ(ag.first[k].size(), backward.grads[i].size());
        for (size_t j = 0; j < ag.first[k].size(); j++) {
            const double want = backward.grads[i][j];
            EXPECT_NEAR(ag.first[k][j], want, 1e-5 + 1e-5 * std::fabs(want))
                << c.name << ": input " << i << " element " << j;
        }
        k++;
    }
}

TEST_P(OpGradGrad, SecondDerivativesMatchFiniteDifferencesOfTheGradient)
{
    const OpCase &c = GetParam();
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 42);
    ASSERT_TRUE(ctx);
    Weights wt;
    ASSERT_TRUE(make_weights(ctx.get(), c, &wt));
    const Grads &inputs = wt.inputs, &u = wt.u;
    const std::vector<float> &w = wt.w;
    SecondOrder analytic;
    ASSERT_TRUE(run_second(ctx.get(), c, inputs, w, &u, &analytic));

    const float h = 1e-3f;
    int checked = 0;
    size_t k = 0;
    for (size_t i = 0; i < c.inputs.size(); i++) {
        if (!c.inputs[i].grad) continue;
        for (size_t j = 0; j < inputs[i].size(); j++) {
            auto plus = inputs, minus = inputs;
            plus[i][j] += h;
            minus[i][j] -= h;
            SecondOrder rp, rm;
            ASSERT_TRUE(run_second(ctx.get(), c, plus, w, nullptr, &rp));
            ASSERT_TRUE(run_second(ctx.get(), c, minus, w, nullptr, &rm));
            const double step = (double)plus[i][j] - (double)minus[i][j];
            const double numeric = (dot(rp.first, u) - dot(rm.first, u)) / step;
            const double got = analytic.second[k][j];
            // As in test_grad.cpp: rtol of the larger magnitude + atol + the rounding noise
            // of this difference quotient, here of the float gradients G± (a few ulps of
            // each element that changed, weighted by u, divided by the step).
            double noise = 0.0;
            for (size_t a = 0; a < rp.first.size(); a++)
                for (size_t b = 0; b < rp.first[a].size(); b++)
                    if (rp.first[a][b] != rm.first[a][b])
                        noise += std::fabs(u[a][b]) *
                                 (std::fabs(rp.first[a][b]) + std::fabs(rm.first[a][b]));
            noise *= NOISE_ULPS * std::ldexp(1.0, -24) / step;
            const double tol =
                c.atol + c.rtol * std::max(std::fabs(numeric), std::fabs(got)) + noise;
            EXPECT_NEAR(got, numeric, tol) << c.name << ": input " << i << " element " << j;
            checked++;
        }
        k++;
    }
    EXPECT_GT(checked, 0);
}

// CUDA against CPU: the recorded gradients and the second derivatives of every case (the
// derivative ops and the unary_backward2 kernel included). Skipped without a GPU.
TEST_P(OpGradGrad, CudaMatchesCpu)
{
    SKIP_WITHOUT_GPU();
    const OpCase &c = GetParam();
    std::string why;
    CtxPtr cpu = make_ctx(DGM_DEVICE_CPU, 42), gpu = make_ctx(DGM_DEVICE_CUDA, 42, &why);
    ASSERT_TRUE(cpu);
    ASSERT_TRUE(gpu) << why;
    Weights wt;
    ASSERT_TRUE(make_weights(cpu.get(), c, &wt));
    SecondOrder rc, rg;
    ASSERT_TRUE(run_second(cpu.get(), c, wt.inputs, wt.w, &wt.u, &rc));
    ASSERT_TRUE(run_second(gpu.get(), c, wt.inputs, wt.w, &wt.u, &rg));
    for (size_t i = 0; i < rc.first.size(); i++)
        for (size_t j = 0; j < rc.first[i].size(); j++) {
            EXPECT_NEAR(rg.first[i][j], rc.first[i][j], 1e-5 + 1e-4 * std::fabs(rc.first[i][j]))
                << c.name << " first order, input " << i << " element " << j;
            EXPECT_NEAR(rg.second[i][j], rc.second[i][j],
                        1e-5 + 1e-4 * std::fabs(rc.second[i][j]))
                << c.name << " second order, input " << i << " element " << j;
        }
}

std::string case_name(const ::testing::TestParamInfo<OpCase> &info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(AllOps, OpGradGrad, ::testing::ValuesIn(all_op_cases()), case_name);

}  // namespace
