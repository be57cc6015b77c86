// The table of op cases shared by the finite-difference suite and the CUDA parity suite:
// every differentiable op, with shapes, input ranges and broadcast variants.
#pragma once

#include <functional>

#include "test_util.h"

namespace dgmtest {

struct InputSpec {
    std::vector<int64_t> shape;
    float lo = -1.0f, hi = 1.0f;
    float gap = 0.0f;  // keep |x| >= gap (away from kinks)
    bool grad = true;  // check the gradient with respect to this input
};

using OpFn = std::function<dgm_status(dgm_ctx *, std::vector<dgm_tensor *> &, dgm_tensor **)>;

struct OpCase {
    std::string name;
    dgm_op op;
    std::vector<InputSpec> inputs;
    OpFn fn;
    // Finite differences (test_grad.cpp) and CUDA parity: see test_grad.cpp for why.
    float rtol = 2e-3f, atol = 2e-5f;
    uint64_t reseed = 0;  // nonzero: reseed the context before each forward (dropout)
};

std::vector<OpCase> all_op_cases();

// gtest prints a case by its name, not its bytes.
inline void PrintTo(const OpCase &c, std::ostream *os) { *os << c.name; }

struct CaseResult {
    std::vector<float> out;
    std::vector<std::vector<float>> grads;  // per input; empty where grad is false
};

// Deterministic input values of a case.
std::vector<std::vector<float>> case_inputs(const OpCase &c, uint32_t seed);

// Runs a case forward; when `seed_grad` is given, also backward from it. Ends the step.
::testing::AssertionResult run_case(dgm_ctx *ctx, const OpCase &c,
                                    const std::vector<std::vector<float>> &inputs,
                                    const std::vector<float> *seed_grad, CaseResult *result);

// got against want element by element within atol + rtol·|want| (the first five misses
// reported, then their count).
void expect_values_close(const std::vector<float> &got, const std::vector<float> &want, double rtol,
                         double atol, const std::string &what);

// The case forward and backward (one fixed seed gradient) on two contexts: `other`'s
// outputs within (rtol, atol) of `ref`'s, its gradients within (rtol, grad_atol).
void expect_contexts_match(const OpCase &c, dgm_ctx *ref, dgm_ctx *other, double rtol, double atol,
                           double grad_atol);
// The same with a CPU and a CUDA context. The caller skips without a GPU.
void expect_cuda_matches_cpu(const OpCase &c, double rtol, double atol, double grad_atol);

}  // namespace dgmtest
