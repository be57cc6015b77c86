// Every op's backward against central finite differences, accumulated in double
// precision, on the CPU backend. The objective is L = sum(w ⊙ f(inputs)) with fixed random
// weights w, so dL/dx = J^T w is what dgm_backward_from(out, w) must produce.
#include <set>

#include "op_cases.h"

using namespace dgmtest;

namespace {

class OpGrad : public ::testing::TestWithParam<OpCase> {};

double objective(const std::vector<float> &out, const std::vector<float> &w)
{
    double s = 0.0;
    for (size_t i = 0; i < out.size(); i++) s += (double)out[i] * (double)w[i];
    return s;
}

TEST_P(OpGrad, BackwardMatchesFiniteDifferences)
{
    const OpCase &c = GetParam();
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 42);
    ASSERT_TRUE(ctx);
    auto inputs = case_inputs(c, 7);

    CaseResult probe;
    ASSERT_TRUE(run_case(ctx.get(), c, inputs, nullptr, &probe));
    std::mt19937 rng(99);
    std::vector<float> w = random_values(rng, (int64_t)probe.out.size(), -1.0f, 1.0f);

    CaseResult analytic;
    ASSERT_TRUE(run_case(ctx.get(), c, inputs, &w, &analytic));
    ASSERT_EQ(analytic.out, probe.out) << "forward differs between grad and no-grad mode";

    // Tolerance: rtol (2e-3) of the larger magnitude + atol (2e-5) + the rounding noise
    // of this very difference quotient. With h = 1e-3 the truncation error of the central
    // difference, h^2 f'''/6, is below 1e-6 for these smooth inputs (InputSpec::gap keeps
    // kinks more than h away), so what is left is the float rounding of the forward
    // values: outputs that do not depend on the perturbed input come out bitwise equal
    // and cancel; each one that does carries a few ulps (4·2^-24 relative, bounded here)
    // of its value, divided by the step 2h. That noise is 3e-5·|out| per output — large
    // only for big outputs (sums of 20 losses), so it is computed rather than folded into
    // a loose atol for every case. Measured: the whole table still passes at a quarter of
    // rtol and atol, so this is not tuned to the edge.
    const float h = 1e-3f;
    int checked = 0;
    for (size_t i = 0; i < c.inputs.size(); i++) {
        if (!c.inputs[i].grad) continue;
        ASSERT_EQ(analytic.grads[i].size(), inputs[i].size());
        for (size_t j = 0; j < inputs[i].size(); j++) {
            auto plus = inputs, minus = inputs;
            plus[i][j] += h;
            minus[i][j] -= h;
            CaseResult rp, rm;
            ASSERT_TRUE(run_case(ctx.get(), c, plus, nullptr, &rp));
            ASSERT_TRUE(run_case(ctx.get(), c, minus, nullptr, &rm));
            // The perturbation actually applied, in float, divides the difference.
            const double step = (double)plus[i][j] - (double)minus[i][j];
            const double numeric = (objective(rp.out, w) - objective(rm.out, w)) / step;
            const double got = analytic.grads[i][j];
            double noise = 0.0;
            for (size_t k = 0; k < rp.out.size(); k++)
                if (rp.out[k] != rm.out[k])
                    noise += std::fabs(w[k]) * (std::fabs(rp.out[k]) + std::fabs(rm.out[k]));
            noise *= 4.0 * std::ldexp(1.0, -24) / step;
            const double tol =
                c.atol + c.rtol * std::max(std::fabs(numeric), std::fabs(got)) + noise;
            EXPECT_NEAR(got, numeric, tol) << c.name << ": input " << i << " element " << j;
            checked++;
        }
    }
    EXPECT_GT(checked, 0);
}

std::string case_name(const ::testing::TestParamInfo<OpCase> &info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(AllOps, OpGrad, ::testing::ValuesIn(all_op_cases()), case_name);

// Every fused activation of dgm_matmul has a finite-difference case (by its name).
TEST(OpCoverage, EveryFusedActivationHasAMatmulCase)
{
    const char *suffix[] = {nullptr, "_relu", "_leaky", "_elu", "_selu", "_gelu",
                            "_silu", "_tanh", "_sigmoid", "_softplus"};
    static_assert(sizeof suffix / sizeof *suffix == DGM_ACT_COUNT, "an activation was added: name it here");
    for (int a = 1; a < DGM_ACT_COUNT; a++) {
        const std::string s = suffix[a];
        bool found = false;
        for (const auto &c : all_op_cases())
            found |= c.op == DGM_OP_MATMUL && c.name.size() > s.size() &&
                     c.name.compare(c.name.size() - s.size(), s.size(), s) == 0;
        EXPECT_TRUE(found) << "no matmul case with the fused activation " << s.substr(1);
    }
}

// Every op of enum dgm_op is exercised: by the table above, or (the random draws, which
// have no gradient) by the RNG tests, or (the derivative ops, which only gradients
// create) by the second-order suite in test_gradgrad.cpp.
TEST(OpCoverage, EveryOpHasACase)
{
    std::set<int> covered = {DGM_OP_RAND_NORMAL, DGM_OP_RAND_UNIFORM, DGM_OP_BERNOULLI,
                             DGM_OP_ACTIVATION_GRAD, DGM_OP_ACTIVATION_GRAD2,
                             DGM_OP_CONV2D_WEIGHT_GRAD, DGM_OP_UPSAMPLE_BILINEAR_GRAD};
    for (const auto &c : all_op_cases()) covered.insert(c.op);
    for (int op = 0; op < DGM_OP_COUNT; op++)
        EXPECT_TRUE(covered.count(op)) << "no test case for op " << dgm_op_name((dgm_op)op);
    EXPECT_EQ(dgm_op_name(DGM_OP_COUNT), nullptr);
}

}  // namespace
