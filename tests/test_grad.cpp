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
            const double tol = c.atol + c.rtol * std::max(std::fabs(numeric), std::fabs(got));
            EXPECT_NEAR(got, numeric, tol) << c.name << ": input " << i << " element " << j;
            checked++;
        }
    }
    EXPECT_GT(checked, 0);
}

std::string case_name(const ::testing::TestParamInfo<OpCase> &info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(AllOps, OpGrad, ::testing::ValuesIn(all_op_cases()), case_name);

// Every op of enum dgm_op is exercised: by the table above, or (the random draws, which
// have no gradient) by the RNG tests, or (the derivative ops, which only gradients
// create) by the second-order suite in test_gradgrad.cpp.
TEST(OpCoverage, EveryOpHasACase)
{
    std::set<int> covered = {DGM_OP_RAND_NORMAL, DGM_OP_RAND_UNIFORM, DGM_OP_BERNOULLI,
                             DGM_OP_ACTIVATION_GRAD, DGM_OP_ACTIVATION_GRAD2};
    for (const auto &c : all_op_cases()) covered.insert(c.op);
    for (int op = 0; op < DGM_OP_COUNT; op++)
        EXPECT_TRUE(covered.count(op)) << "no test case for op " << dgm_op_name((dgm_op)op);
    EXPECT_EQ(dgm_op_name(DGM_OP_COUNT), nullptr);
}

}  // namespace
