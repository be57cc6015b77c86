// Cases that call the private backend entries (host/backend.h) directly, the same way on
// any backend, so that the CUDA backend can be compared with the CPU reference entry by
// entry: realistic sizes (several blocks per row and column, more blocks than one grid
// launches), the accumulate (beta != 0) path of every entry that has one, and beta 0 with
// a destination full of NaN (beta 0 must never read it).
#pragma once

#include <functional>

#include "test_util.h"

extern "C" {
#include "backend.h"
}

namespace dgmtest {

// Device buffers of one context's backend, freed with it.
class BackendBuffers {
public:
    explicit BackendBuffers(dgm_ctx *ctx);
    ~BackendBuffers();
    BackendBuffers(const BackendBuffers &) = delete;
    BackendBuffers &operator=(const BackendBuffers &) = delete;

    dgm_ctx *ctx() const { return ctx_; }
    const dgm_backend *be() const { return be_; }
    // A device copy of v (nullptr, with a test failure, when it cannot be made).
    float *upload(const std::vector<float> &v);
    int32_t *upload_index(const std::vector<int32_t> &v);
    // n floats, every one `value`.
    float *filled(size_t n, float value);
    std::vector<float> download(const float *p, size_t n);
    std::vector<int32_t> download_index(const int32_t *p, size_t n);

private:
    void *alloc(size_t bytes);
    dgm_ctx *ctx_;
    const dgm_backend *be_;
    std::vector<void *> bufs_;
};

struct BackendOutput {
    std::string what;
    std::vector<float> values;
};

struct BackendCase {
    std::string family;  // the entry (or pair of entries) it exercises: "gemm", "unary", ...
    std::string name;
    // Runs the entry (or entries) on one backend and returns what to compare. Inputs come
    // from a fixed seed, so every backend sees the same ones.
    std::function<std::vector<BackendOutput>(BackendBuffers &)> run;
    double rtol = 1e-5, atol = 1e-6;  // CUDA against CPU, per element: atol + rtol·|cpu|
    bool big = false;                 // more elements than one CUDA grid covers at once
};

std::vector<BackendCase> all_backend_cases();

// The families of all_backend_cases(), in order: tests run one family per process (a test
// per case would cost a process start each under ctest).
std::vector<std::string> backend_case_families();

inline void PrintTo(const BackendCase &c, std::ostream *os) { *os << c.name; }

}  // namespace dgmtest
