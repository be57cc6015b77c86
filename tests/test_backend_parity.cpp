// The backend entries called directly: every case of backend_cases.cpp on CUDA against
// the CPU reference (skipped, never passed, without a GPU), the same cases on the CPU
// alone (they run, and beta 0 never reads its NaN-filled destination), and unknown kinds,
// axes and broadcast layouts rejected by both backends alike.
#include "backend_cases.h"

using namespace dgmtest;

namespace {

// atol + rtol·|want| per element; NaN only where the reference has NaN too. Reports the
// first few differences and how many there are.
void expect_close(const std::vector<float> &got, const std::vector<float> &want, double rtol,
                  double atol, const std::string &what)
{
    ASSERT_EQ(got.size(), want.size()) << what;
    size_t bad = 0;
    for (size_t i = 0; i < want.size(); i++) {
        const double g = got[i], w = want[i];
        if (std::isnan(w) && std::isnan(g)) continue;
        if (std::isinf(w) && g == w) continue;
        if (std::fabs(g - w) <= atol + rtol * std::fabs(w)) continue;
        if (bad++ < 5)
            ADD_FAILURE() << what << " element " << i << ": cuda " << g << ", cpu " << w
                          << " (tolerance " << atol + rtol * std::fabs(w) << ")";
    }
    EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << want.size() << " elements differ";
}

// Compares every case of one family (one entry, or an entry and its backward).
class CudaBackendParity : public ::testing::TestWithParam<std::string> {};

TEST_P(CudaBackendParity, MatchesCpu)
{
    SKIP_WITHOUT_GPU();
    std::string why;
    CtxPtr cpu = make_ctx(DGM_DEVICE_CPU, 5), gpu = make_ctx(DGM_DEVICE_CUDA, 5, &why);
    ASSERT_TRUE(cpu);
    ASSERT_TRUE(gpu) << why;
    int ran = 0;
    for (const BackendCase &c : all_backend_cases()) {
        if (c.family != GetParam()) continue;
        SCOPED_TRACE(c.name);
        std::vector<BackendOutput> want, got;
        const bool failed_before = HasFailure();
        {
            BackendBuffers d(cpu.get());
            want = c.run(d);
        }
        ASSERT_TRUE(failed_before || !HasFailure()) << c.name << ": the CPU reference failed";
        {
            BackendBuffers d(gpu.get());
            got = c.run(d);
        }
        ASSERT_EQ(got.size(), want.size());
        for (size_t i = 0; i < want.size(); i++)
            expect_close(got[i].values, want[i].values, c.rtol, c.atol, c.name + " " + want[i].what);
        ran++;
    }
    EXPECT_GT(ran, 0);
}

std::string family_name(const ::testing::TestParamInfo<std::string> &info) { return info.param; }

INSTANTIATE_TEST_SUITE_P(Entries, CudaBackendParity, ::testing::ValuesIn(backend_case_families()),
                         family_name);

// On the CPU alone: every case small enough runs, and every output is finite — a NaN would
// mean an entry read a beta-0 destination (filled with NaN) or an input it should not have.
class BackendCpu : public ::testing::TestWithParam<std::string> {};

TEST_P(BackendCpu, RunsAndNeverReadsABetaZeroDestination)
{
    CtxPtr cpu = make_ctx(DGM_DEVICE_CPU, 5);
    ASSERT_TRUE(cpu);
    int ran = 0;
    for (const BackendCase &c : all_backend_cases()) {
        if (c.family != GetParam() || c.big) continue;
        BackendBuffers d(cpu.get());
        const std::vector<BackendOutput> out = c.run(d);
        ASSERT_FALSE(out.empty()) << c.name;
        for (const auto &o : out) {
            ASSERT_FALSE(o.values.empty()) << c.name << " " << o.what;
            size_t bad = 0;
            for (float x : o.values) bad += !std::isfinite(x);
            EXPECT_EQ(bad, 0u) << c.name << " " << o.what << ": " << bad << " non-finite values";
        }
        ran++;
    }
    EXPECT_GT(ran, 0);
}

INSTANTIATE_TEST_SUITE_P(Entries, BackendCpu, ::testing::ValuesIn(backend_case_families()),
                         family_name);

// Each entry that takes a kind, axis or layout rejects values outside its enum with
// INVALID_ARGUMENT and a message, leaving its output alone.
void expect_unknown_kinds_rejected(dgm_ctx *ctx)
{
    BackendBuffers d(ctx);
    const dgm_backend *be = d.be();
    float *x = d.upload({0.5f, 1.0f, 1.5f, 2.0f});
    float *y = d.upload({7.0f, 7.0f, 7.0f, 7.0f});
    auto rejected = [&](dgm_status st, const std::string &what) {
        EXPECT_EQ(st, DGM_STATUS_INVALID_ARGUMENT) << be->name << " " << what;
        EXPECT_NE(std::string(dgm_last_error(ctx)).find("unknown"), std::string::npos)
            << be->name << " " << what << ": " << dgm_last_error(ctx);
    };
    for (int bad : {-1, (int)DGM_UNARY_COUNT, 1000}) {
        rejected(be->unary(ctx, bad, 0, 0, 4, x, y), "unary kind " + std::to_string(bad));
        rejected(be->unary_backward(ctx, bad, 0, 0, 4, x, x, x, 0.0f, y),
                 "unary_backward kind " + std::to_string(bad));
        rejected(be->unary_backward2(ctx, bad, 0, 0, 4, x, x, x, x, 0.0f, y),
                 "unary_backward2 kind " + std::to_string(bad));
        rejected(be->unary_backward3(ctx, bad, 0, 0, 4, x, x, x, x, 0.0f, y),
                 "unary_backward3 kind " + std::to_string(bad));
    }
    for (int bad : {-1, (int)DGM_BINARY_COUNT, 1000}) {
        rejected(be->binary(ctx, bad, 2, 2, x, DGM_BCAST_FULL, x, DGM_BCAST_FULL, y),
                 "binary kind " + std::to_string(bad));
        rejected(be->binary_backward(ctx, bad, 2, 2, x, DGM_BCAST_FULL, x, DGM_BCAST_FULL, x,
                                     0.0f, y, 0.0f, nullptr),
                 "binary_backward kind " + std::to_string(bad));
    }
    for (int bad : {-1, (int)DGM_BCAST_SCALAR + 1, 1000}) {
        rejected(be->binary(ctx, DGM_BINARY_ADD, 2, 2, x, bad, x, DGM_BCAST_FULL, y),
                 "binary layout of a " + std::to_string(bad));
        rejected(be->binary(ctx, DGM_BINARY_ADD, 2, 2, x, DGM_BCAST_FULL, x, bad, y),
                 "binary layout of b " + std::to_string(bad));
        rejected(be->binary_backward(ctx, DGM_BINARY_ADD, 2, 2, x, DGM_BCAST_FULL, x, bad, x,
                                     0.0f, y, 0.0f, nullptr),
                 "binary_backward layout " + std::to_string(bad));
        rejected(be->broadcast(ctx, bad, 2, 2, 1.0f, x, 0.0f, y),
                 "broadcast layout " + std::to_string(bad));
    }
    for (int bad : {-1, (int)DGM_AXIS_COLS + 1, 1000})
        rejected(be->reduce_sum(ctx, bad, 2, 2, 1.0f, x, 0.0f, y), "reduce_sum axis " + std::to_string(bad));
    EXPECT_EQ(d.download(y, 4), std::vector<float>(4, 7.0f)) << be->name << ": output was written";
}

TEST(BackendKinds, CpuRejectsUnknownKinds)
{
    CtxPtr cpu = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(cpu);
    expect_unknown_kinds_rejected(cpu.get());
}

TEST(BackendKinds, CudaRejectsUnknownKindsAsCpuDoes)
{
    SKIP_WITHOUT_GPU();
    std::string why;
    CtxPtr gpu = make_ctx(DGM_DEVICE_CUDA, 0, &why);
    ASSERT_TRUE(gpu) << why;
    expect_unknown_kinds_rejected(gpu.get());
    // The context still works afterwards: no error was left behind for the next launch.
    BackendBuffers d(gpu.get());
    float *y = d.filled(3, 0.0f);
    EXPECT_EQ(d.be()->fill(gpu.get(), y, 3, 2.0f), DGM_STATUS_OK) << dgm_last_error(gpu.get());
    EXPECT_EQ(d.download(y, 3), std::vector<float>(3, 2.0f));
}

}  // namespace

namespace {

// A cuBLAS call that fails (an invalid leading dimension: cuBLAS refuses it before any
// launch) returns a status with cuBLAS's message, and leaves no CUDA error behind that the
// next kernel's launch check would report as its own.
TEST(CudaErrors, CublasFailureLeavesNoStaleError)
{
    SKIP_WITHOUT_GPU();
    std::string why;
    CtxPtr gpu = make_ctx(DGM_DEVICE_CUDA, 0, &why);
    ASSERT_TRUE(gpu) << why;
    BackendBuffers d(gpu.get());
    const dgm_backend *be = d.be();
    float *a = d.filled(16, 1.0f), *b = d.filled(16, 1.0f), *c = d.filled(16, 0.0f);
    // Row-major A [4, 4] with lda 1 < 4.
    const dgm_status st = be->gemm(gpu.get(), 0, 0, 4, 4, 4, 1.0f, a, 1, b, 4, 0.0f, c, 4);
    EXPECT_NE(st, DGM_STATUS_OK);
    EXPECT_NE(std::string(dgm_last_error(gpu.get())).find("cuBLAS"), std::string::npos)
        << dgm_last_error(gpu.get());
    // The next launches, a kernel of ours and a valid gemm, succeed.
    EXPECT_EQ(be->fill(gpu.get(), c, 16, 3.0f), DGM_STATUS_OK) << dgm_last_error(gpu.get());
    EXPECT_EQ(d.download(c, 16), std::vector<float>(16, 3.0f));
    EXPECT_EQ(be->gemm(gpu.get(), 0, 0, 4, 4, 4, 1.0f, a, 4, b, 4, 0.0f, c, 4), DGM_STATUS_OK)
        << dgm_last_error(gpu.get());
    EXPECT_EQ(d.download(c, 16), std::vector<float>(16, 4.0f));
}

}  // namespace
