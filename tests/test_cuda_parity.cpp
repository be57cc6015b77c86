// The CUDA backend against the CPU backend: every op of the case table forward and
// backward, the random draws, and a whole MLP training step. Skipped (never passed) when
// no GPU is usable.
#include <cstring>

#include "op_cases.h"

using namespace dgmtest;

namespace {

class CudaParity : public ::testing::TestWithParam<OpCase> {};

TEST_P(CudaParity, ForwardAndBackwardMatchCpu)
{
    SKIP_WITHOUT_GPU();
    expect_cuda_matches_cpu(GetParam(), 1e-4, 1e-5, 1e-5);
}

std::string case_name(const ::testing::TestParamInfo<OpCase> &info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(AllOps, CudaParity, ::testing::ValuesIn(all_op_cases()), case_name);

// The same seed gives the same numbers on both backends (cuRAND Philox4_32_10 host and
// device generators give the same words; rng_math.h turns them into values on each, equal
// up to the last bits where nvcc fuses a multiply-add), odd sizes included.
TEST(CudaParityRng, SameSeedSameDraws)
{
    SKIP_WITHOUT_GPU();
    std::string why;
    CtxPtr cpu = make_ctx(DGM_DEVICE_CPU, 77), gpu = make_ctx(DGM_DEVICE_CUDA, 77, &why);
    ASSERT_TRUE(gpu) << why;
    for (int64_t n : {1000, 1001, 7}) {
        for (int kind = 0; kind < 3; kind++) {
            std::vector<float> out[2];
            dgm_ctx *ctxs[2] = {cpu.get(), gpu.get()};
            for (int b = 0; b < 2; b++) {
                dgm_tensor *t = nullptr;
                dgm_status st;
                if (kind == 0) st = dgm_rand_normal(ctxs[b], 1, &n, 0.5f, 2.0f, &t);
                else if (kind == 1) st = dgm_rand_uniform(ctxs[b], 1, &n, -1.0f, 3.0f, &t);
                else {
                    std::vector<float> p((size_t)n, 0.4f);
                    dgm_tensor *probs = from_host(ctxs[b], {n}, p);
                    st = dgm_bernoulli(ctxs[b], probs, &t);
                }
                ASSERT_EQ(st, DGM_STATUS_OK) << dgm_last_error(ctxs[b]);
                out[b] = to_host(ctxs[b], t);
                ASSERT_EQ(dgm_ctx_step_end(ctxs[b]), DGM_STATUS_OK);
            }
            expect_values_close(out[1], out[0], 1e-5f, 1e-6f,
                         "draw kind " + std::to_string(kind) + " n " + std::to_string(n));
        }
    }
}

std::vector<float> draw(dgm_ctx *ctx, int kind, int64_t n)
{
    dgm_tensor *t = nullptr;
    dgm_status st;
    if (kind == 0) st = dgm_rand_normal(ctx, 1, &n, 0.0f, 1.0f, &t);
    else st = dgm_rand_uniform(ctx, 1, &n, 0.0f, 1.0f, &t);
    EXPECT_EQ(st, DGM_STATUS_OK) << dgm_last_error(ctx);
    std::vector<float> v = t ? to_host(ctx, t) : std::vector<float>();
    EXPECT_EQ(dgm_ctx_step_end(ctx), DGM_STATUS_OK);
    return v;
}

// What the parity below relies on, checked on the CPU: the context's offset is a position
// in ONE sequence per seed (cuRAND's LEGACY ordering of words, rng_math.h's rule from
// words to values), so draws split anywhere, or started
// at any offset with dgm_ctx_set_rng_state, continue it — odd offsets included.
TEST(RngSequence, OffsetIsAPositionInOneSequence)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 31);
    ASSERT_TRUE(ctx);
    dgm_ctx *c = ctx.get();
    for (int kind = 0; kind < 2; kind++) {
        const char *name = kind == 0 ? "normal" : "uniform";
        ASSERT_EQ(dgm_ctx_seed(c, 31), DGM_STATUS_OK);
        const std::vector<float> whole = draw(c, kind, 64);
        for (uint64_t at : {1u, 7u, 10u, 33u}) {
            ASSERT_EQ(dgm_ctx_set_rng_state(c, 31, at), DGM_STATUS_OK) << dgm_last_error(c);
            const std::vector<float> tail = draw(c, kind, 20);
            EXPECT_EQ(tail, std::vector<float>(whole.begin() + at, whole.begin() + at + 20))
                << name << " from offset " << at;
        }
        // An even split: the second part starts where the first ended.
        ASSERT_EQ(dgm_ctx_seed(c, 31), DGM_STATUS_OK);
        std::vector<float> parts = draw(c, kind, 10), rest = draw(c, kind, 54);
        parts.insert(parts.end(), rest.begin(), rest.end());
        EXPECT_EQ(parts, whole) << name << " drawn in two parts";
    }
}

// The context draws raw words in blocks of 64k: draws that straddle a block's end, draws
// larger than a block, and restores into the middle of one give the same values as one
// draw of the whole run; and each draw of a mixed sequence of kinds, repeated after
// restoring its start offset, gives the same values again.
TEST(RngSequence, PoolBlocksDoNotShowInTheSequence)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 8);
    ASSERT_TRUE(ctx);
    dgm_ctx *c = ctx.get();
    const int64_t total = (1 << 17) + 5;
    for (int kind = 0; kind < 2; kind++) {
        ASSERT_EQ(dgm_ctx_seed(c, 8), DGM_STATUS_OK);
        const std::vector<float> whole = draw(c, kind, total);
        ASSERT_EQ(dgm_ctx_seed(c, 8), DGM_STATUS_OK);
        std::vector<float> parts;
        for (int64_t n : {65535, 3, 1, 65536, 2}) {
            const std::vector<float> v = draw(c, kind, n);
            parts.insert(parts.end(), v.begin(), v.end());
        }
        EXPECT_EQ(parts, whole) << "kind " << kind << " in parts";
        for (uint64_t at : {65535u, 65536u, 70001u}) {
            ASSERT_EQ(dgm_ctx_set_rng_state(c, 8, at), DGM_STATUS_OK) << dgm_last_error(c);
            EXPECT_EQ(draw(c, kind, 1000), std::vector<float>(whole.begin() + at, whole.begin() + at + 1000))
                << "kind " << kind << " from " << at;
        }
    }
    ASSERT_EQ(dgm_ctx_seed(c, 8), DGM_STATUS_OK);
    struct Draw {
        int kind;
        int64_t n;
    };
    const Draw mixed[] = {{0, 7}, {1, 65530}, {0, 9}, {1, 1}, {0, 200000}, {1, 5}};
    std::vector<std::vector<float>> first;
    std::vector<uint64_t> starts;
    for (const Draw &d : mixed) {
        uint64_t seed, offset;
        dgm_ctx_rng_state(c, &seed, &offset);
        starts.push_back(offset);
        first.push_back(draw(c, d.kind, d.n));
    }
    for (size_t i = 0; i < starts.size(); i++) {
        ASSERT_EQ(dgm_ctx_set_rng_state(c, 8, starts[i]), DGM_STATUS_OK);
        EXPECT_EQ(draw(c, mixed[i].kind, mixed[i].n), first[i]) << "mixed draw " << i;
    }
}

// Draws at odd offsets, mixed kinds, sizes larger than one pool block, and draws after dgm_ctx_set_rng_state to odd and even
// offsets: equal on both backends, and both contexts count the same offset.
TEST(CudaParityRng, OddOffsetsAndRestoredStateMatchCpu)
{
    SKIP_WITHOUT_GPU();
    std::string why;
    CtxPtr cpu = make_ctx(DGM_DEVICE_CPU, 2024), gpu = make_ctx(DGM_DEVICE_CUDA, 2024, &why);
    ASSERT_TRUE(cpu);
    ASSERT_TRUE(gpu) << why;
    dgm_ctx *ctxs[2] = {cpu.get(), gpu.get()};
    struct Draw {
        int kind;  // 0 normal, 1 uniform
        int64_t n;
    };
    const Draw draws[] = {{1, 7}, {0, 5}, {0, 1001}, {1, 3}, {0, 2}, {1, 1 << 20 | 5},
                          {0, 1 << 20 | 1}, {1, 1}, {0, 33}};
    auto run_all = [&](const std::string &when) {
        for (const Draw &d : draws) {
            const std::vector<float> want = draw(ctxs[0], d.kind, d.n);
            const std::vector<float> got = draw(ctxs[1], d.kind, d.n);
            expect_values_close(got, want, 1e-5f, 1e-6f,
                         when + (d.kind ? " uniform " : " normal ") + std::to_string(d.n));
            uint64_t s0, o0, s1, o1;
            dgm_ctx_rng_state(ctxs[0], &s0, &o0);
            dgm_ctx_rng_state(ctxs[1], &s1, &o1);
            EXPECT_EQ(o1, o0) << when;
        }
    };
    run_all("from seed");
    for (uint64_t offset : {12345u, 4096u, 1u}) {
        for (dgm_ctx *c : ctxs)
            ASSERT_EQ(dgm_ctx_set_rng_state(c, 99, offset), DGM_STATUS_OK) << dgm_last_error(c);
        run_all("after set_rng_state(99, " + std::to_string(offset) + ")");
    }
}

// One whole training step of a 2-layer MLP (forward, backward, SGD) from the same
// parameters gives the same parameters on both backends.
TEST(CudaParityTraining, MlpStepMatchesCpu)
{
    SKIP_WITHOUT_GPU();
    std::string why;
    CtxPtr cpu = make_ctx(DGM_DEVICE_CPU, 9), gpu = make_ctx(DGM_DEVICE_CUDA, 9, &why);
    ASSERT_TRUE(gpu) << why;
    const int64_t batch = 32, in = 20, hidden = 64, out = 10;
    dgm_ctx *ctxs[2] = {cpu.get(), gpu.get()};
    dgm_params *p[2] = {nullptr, nullptr};
    for (int b = 0; b < 2; b++) {
        DGM_ASSERT_OK(ctxs[b], dgm_params_create(ctxs[b], &p[b]));
        DGM_ASSERT_OK(ctxs[b], dgm_params_add_linear(p[b], "fc1", in, hidden, true));
        DGM_ASSERT_OK(ctxs[b], dgm_params_add_linear(p[b], "fc2", hidden, out, true));
        DGM_ASSERT_OK(ctxs[b], dgm_params_alloc(p[b]));
    }
    // Start both from the CPU's initial values.
    for (int i = 0; i < dgm_params_count(p[0]); i++) {
        dgm_tensor *t0 = dgm_params_at(p[0], i), *t1 = dgm_params_at(p[1], i);
        auto v = to_host(cpu.get(), t0);
        DGM_ASSERT_OK(gpu.get(), dgm_tensor_copy_from_host(gpu.get(), t1, v.data()));
    }
    std::mt19937 rng(1);
    auto x = random_values(rng, batch * in, -1.0f, 1.0f);
    auto y = random_values(rng, batch * out, 0.0f, 1.0f);
    for (int step = 0; step < 3; step++) {
        for (int b = 0; b < 2; b++) {
            dgm_ctx *ctx = ctxs[b];
            dgm_tensor *xt = from_host(ctx, {batch, in}, x), *yt = from_host(ctx, {batch, out}, y);
            dgm_tensor *h = nullptr, *logits = nullptr, *loss = nullptr;
            DGM_ASSERT_OK(ctx, dgm_matmul(ctx, xt, false, dgm_params_get(p[b], "fc1.weight"), true,
                                          dgm_params_get(p[b], "fc1.bias"), DGM_ACT_RELU, 0, &h));
            DGM_ASSERT_OK(ctx, dgm_matmul(ctx, h, false, dgm_params_get(p[b], "fc2.weight"), true,
                                          dgm_params_get(p[b], "fc2.bias"), DGM_ACT_NONE, 0, &logits));
            DGM_ASSERT_OK(ctx, dgm_bce_with_logits(ctx, logits, yt, DGM_REDUCTION_MEAN, &loss));
            DGM_ASSERT_OK(ctx, dgm_params_zero_grad(p[b]));
            DGM_ASSERT_OK(ctx, dgm_backward(ctx, loss));
            DGM_ASSERT_OK(ctx, dgm_params_sgd_step(p[b], 0.5f));
            DGM_ASSERT_OK(ctx, dgm_ctx_step_end(ctx));
        }
    }
    for (int i = 0; i < dgm_params_count(p[0]); i++)
        expect_values_close(to_host(gpu.get(), dgm_params_at(p[1], i)),
                     to_host(cpu.get(), dgm_params_at(p[0], i)), 1e-4f, 1e-5f,
                     dgm_params_name(p[0], i));
    dgm_params_free(p[0]);
    dgm_params_free(p[1]);
}

}  // namespace
