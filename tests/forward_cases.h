// The row type of the forward-formula table (test_forward.cpp): an op's output against a
// formula evaluated in double with std:: math only.
#pragma once

#include <functional>

#include "test_util.h"

namespace dgmtest {

using Vec = std::vector<double>;
using Shape = std::vector<int64_t>;

struct FwdInput {
    Shape shape;
    float lo = -1.0f, hi = 1.0f;
};

struct ForwardCase {
    std::string name;
    dgm_op op;
    std::vector<FwdInput> inputs;
    std::function<dgm_status(dgm_ctx *, std::vector<dgm_tensor *> &, dgm_tensor **)> fn;
    Shape out_shape;
    // The expected output from the inputs (as doubles), then, for each index listed in
    // `updated`, the expected value of that input after the op (running statistics).
    std::function<std::vector<Vec>(const std::vector<Vec> &)> expect;
    std::vector<int> updated;
    double rtol = 1e-5, atol = 1e-6;
};

// The rows of the image ops, the batched matrix ops and broadcast (forward_images.cpp).
std::vector<ForwardCase> image_forward_cases();

}  // namespace dgmtest
