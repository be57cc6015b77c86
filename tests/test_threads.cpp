// Contexts used from different threads do not interfere: each thread's training run gives
// exactly the bits the same run gives alone.
#include <atomic>
#include <cstring>
#include <memory>
#include <thread>

#include "test_util.h"

using namespace dgmtest;

namespace {

struct ParamsDeleter {
    void operator()(dgm_params *p) const { dgm_params_free(p); }
};
using ParamsPtr = std::unique_ptr<dgm_params, ParamsDeleter>;

struct RunResult {
    dgm_status status = DGM_STATUS_OK;
    std::string error;  // what failed, if status is not OK
    std::vector<float> params;
    std::vector<float> losses;
};

#define RUN_TRY(expr)                                                                         \
    do {                                                                                      \
        dgm_status s_ = (expr);                                                               \
        if (s_ != DGM_STATUS_OK) {                                                            \
            r.status = s_;                                                                    \
            r.error = std::string(#expr) + ": " + dgm_last_error(c);                          \
            return r;                                                                         \
        }                                                                                     \
    } while (0)

// A 4-32-32-1 MLP (tanh, dropout, softplus) trained with SGD on minibatches drawn from the
// context's own generator: every source of randomness and every kernel of a training step
// runs in the context. No gtest assertions here: they are not meant for worker threads.
RunResult train(uint64_t seed, int steps)
{
    RunResult r;
    dgm_ctx_config cfg = dgm_ctx_config_default();
    cfg.device = DGM_DEVICE_CPU;
    cfg.seed = seed;
    dgm_ctx *raw = nullptr;
    dgm_status st = dgm_ctx_create(&cfg, &raw);
    CtxPtr ctx(raw);
    if (st != DGM_STATUS_OK) {
        r.status = st;
        r.error = raw ? dgm_last_error(raw) : "no context";
        return r;
    }
    dgm_ctx *c = ctx.get();
    dgm_params *p = nullptr;
    RUN_TRY(dgm_params_create(c, &p));
    ParamsPtr guard(p);
    RUN_TRY(dgm_params_add_linear(p, "fc1", 4, 32, true));
    RUN_TRY(dgm_params_add_linear(p, "fc2", 32, 32, true));
    RUN_TRY(dgm_params_add_linear(p, "fc3", 32, 1, true));
    RUN_TRY(dgm_params_alloc(p));
    dgm_tensor *w1 = dgm_params_get(p, "fc1.weight"), *b1 = dgm_params_get(p, "fc1.bias");
    dgm_tensor *w2 = dgm_params_get(p, "fc2.weight"), *b2 = dgm_params_get(p, "fc2.bias");
    dgm_tensor *w3 = dgm_params_get(p, "fc3.weight"), *b3 = dgm_params_get(p, "fc3.bias");

    const int64_t xshape[2] = {32, 4};
    for (int step = 0; step < steps; step++) {
        dgm_tensor *x = nullptr, *t = nullptr, *h = nullptr, *y = nullptr, *loss = nullptr;
        RUN_TRY(dgm_rand_uniform(c, 2, xshape, -2.0f, 2.0f, &x));
        // target: the row sums of tanh(x)
        dgm_tensor *sx = nullptr;
        RUN_TRY(dgm_tanh(c, x, &sx));
        RUN_TRY(dgm_sum(c, sx, DGM_AXIS_ROWS, &t));
        RUN_TRY(dgm_matmul(c, x, false, w1, true, b1, DGM_ACT_TANH, 0.0f, &h));
        RUN_TRY(dgm_dropout(c, h, 0.1f, true, &h));
        RUN_TRY(dgm_matmul(c, h, false, w2, true, b2, DGM_ACT_SOFTPLUS, 0.0f, &h));
        RUN_TRY(dgm_matmul(c, h, false, w3, true, b3, DGM_ACT_NONE, 0.0f, &y));
        RUN_TRY(dgm_mse(c, y, t, DGM_REDUCTION_MEAN, &loss));
        float lv = 0.0f;
        RUN_TRY(dgm_tensor_to_host(c, loss, &lv));
        r.losses.push_back(lv);
        RUN_TRY(dgm_backward(c, loss));
        RUN_TRY(dgm_params_sgd_step(p, 0.05f));
        RUN_TRY(dgm_params_zero_grad(p));
        RUN_TRY(dgm_ctx_step_end(c));
    }
    const float *v = dgm_params_values(p);
    r.params.assign(v, v + dgm_params_total_numel(p));
    return r;
}

bool bitwise_equal(const std::vector<float> &a, const std::vector<float> &b)
{
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(Threads, ConcurrentContextsMatchSequentialRuns)
{
    const uint64_t seeds[2] = {101, 202};
    const int steps = 300;

    // Reference: one after the other on this thread.
    RunResult ref[2];
    for (int i = 0; i < 2; i++) {
        ref[i] = train(seeds[i], steps);
        ASSERT_EQ(ref[i].status, DGM_STATUS_OK) << ref[i].error;
        ASSERT_EQ(ref[i].losses.size(), (size_t)steps);
    }
    ASSERT_FALSE(bitwise_equal(ref[0].params, ref[1].params))
        << "the two seeds must give different runs, or interference could not show";
    EXPECT_LT(ref[0].losses.back(), ref[0].losses.front()) << "the run should learn something";

    // The same two runs at once, started together, a few times over.
    for (int round = 0; round < 3; round++) {
        RunResult got[2];
        std::atomic<int> ready{0};
        std::vector<std::thread> threads;
        for (int i = 0; i < 2; i++)
            threads.emplace_back([&, i] {
                ready.fetch_add(1);
                while (ready.load() < 2) std::this_thread::yield();
                got[i] = train(seeds[i], steps);
            });
        for (auto &th : threads) th.join();
        for (int i = 0; i < 2; i++) {
            ASSERT_EQ(got[i].status, DGM_STATUS_OK) << got[i].error;
            EXPECT_TRUE(bitwise_equal(got[i].params, ref[i].params))
                << "round " << round << ", seed " << seeds[i] << ": parameters differ";
            EXPECT_TRUE(bitwise_equal(got[i].losses, ref[i].losses))
                << "round " << round << ", seed " << seeds[i] << ": losses differ";
        }
    }
}

// Same seed in both threads: the two concurrent runs agree with each other and with the
// run alone (a shared generator would split the draws between them).
TEST(Threads, SameSeedInTwoThreadsGivesTheSameRun)
{
    const int steps = 100;
    const RunResult alone = train(7, steps);
    ASSERT_EQ(alone.status, DGM_STATUS_OK) << alone.error;
    RunResult got[2];
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; i++)
        threads.emplace_back([&, i] {
            ready.fetch_add(1);
            while (ready.load() < 2) std::this_thread::yield();
            got[i] = train(7, steps);
        });
    for (auto &th : threads) th.join();
    for (int i = 0; i < 2; i++) {
        ASSERT_EQ(got[i].status, DGM_STATUS_OK) << got[i].error;
        EXPECT_TRUE(bitwise_equal(got[i].params, alone.params)) << "thread " << i;
    }
}

// Creating and freeing contexts and asking for CUDA from many threads at once is safe and
// each context keeps its own error message.
TEST(Threads, ErrorsStayInTheirContext)
{
    const int kThreads = 4;
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; i++)
        threads.emplace_back([&, i] {
            for (int rep = 0; rep < 50; rep++) {
                char why[128];
                (void)dgm_cuda_available(why, sizeof why);
                dgm_ctx_config cfg = dgm_ctx_config_default();
                cfg.device = DGM_DEVICE_CPU;
                dgm_ctx *c = nullptr;
                if (dgm_ctx_create(&cfg, &c) != DGM_STATUS_OK) {
                    failures++;
                    dgm_ctx_free(c);
                    continue;
                }
                // A distinct error per thread: a reshape to 100 + i elements.
                const int64_t n = 6, bad = 100 + i;
                dgm_tensor *t = nullptr, *out = nullptr;
                if (dgm_tensor_new(c, 1, &n, &t) != DGM_STATUS_OK) failures++;
                if (dgm_reshape(c, t, 1, &bad, &out) != DGM_STATUS_SHAPE_MISMATCH) failures++;
                const std::string msg = dgm_last_error(c);
                if (msg.find("reshape") == std::string::npos ||
                    msg.find(std::to_string(100 + i)) == std::string::npos)
                    failures++;
                dgm_ctx_free(c);
            }
        });
    for (auto &th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);
}

}  // namespace
