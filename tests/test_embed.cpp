// The embedding calls (dgm/model.h): dgm_model_sample_into gives what dgm_model_sample
// gives, for any n (chunks included) and into device memory on CUDA; dgm_model_score gives
// what dgm_model_evaluate gives; bad arguments are named; two threads, each with its own
// context and model, sample exactly what each samples alone.
#include <cmath>
#include <cstring>
#include <thread>

#include "test_files.h"
#include "test_util.h"

using namespace dgmtest;

namespace {

struct ModelDeleter {
    void operator()(dgm_model *m) const { dgm_model_free(m); }
};
using ModelPtr = std::unique_ptr<dgm_model, ModelDeleter>;

// A small RealNVP on 2-D data with random (not identity) couplings, saved to `path`.
void save_flow(const std::string &path)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 4);
    dgm_model *m = nullptr;
    ASSERT_EQ(dgm_model_create(ctx.get(), "realnvp", "{\"couplings\": 3, \"hidden\": \"16\"}", 2, 1,
                               nullptr, &m),
              DGM_STATUS_OK)
        << dgm_last_error(ctx.get());
    ModelPtr owner(m);
    dgm_params *p = dgm_model_params(m);
    std::vector<float> v((size_t)dgm_params_numel(p));
    std::mt19937 rng(3);
    std::normal_distribution<float> nd(0.0f, 0.3f);
    for (float &x : v) x = nd(rng);
    std::memcpy(dgm_params_values(p), v.data(), v.size() * sizeof(float));
    ASSERT_EQ(dgm_model_save(m, path.c_str(), nullptr), DGM_STATUS_OK) << dgm_last_error(ctx.get());
}

// n samples of the checkpoint on a fresh context of `seed`, through dgm_model_sample_into.
std::vector<float> sample_into(const std::string &path, uint64_t seed, int64_t n, dgm_status *st)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, seed);
    dgm_model *m = nullptr;
    std::vector<float> out((size_t)(2 * n));
    *st = dgm_model_load(ctx.get(), path.c_str(), &m);
    ModelPtr owner(m);
    if (*st == DGM_STATUS_OK) *st = dgm_model_sample_into(m, n, out.data(), DGM_MEMORY_HOST);
    return out;
}

TEST(Embed, SampleIntoEqualsModelSampleInChunks)
{
    TempDir dir;
    const std::string path = dir.file("flow.safetensors");
    save_flow(path);
    // One call of dgm_model_sample of n <= 4096 rows draws what sample_into draws.
    dgm_status st = DGM_STATUS_OK;
    const std::vector<float> a = sample_into(path, 9, 1000, &st);
    ASSERT_EQ(st, DGM_STATUS_OK);
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 9);
    dgm_model *m = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_model_load(ctx.get(), path.c_str(), &m));
    ModelPtr owner(m);
    dgm_tensor *x = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_model_sample(m, 1000, &x));
    EXPECT_EQ(to_host(ctx.get(), x), a);
    // More than one chunk: the first 4096 rows are one chunk's, the rest the next's.
    const std::vector<float> b = sample_into(path, 9, 5000, &st);
    ASSERT_EQ(st, DGM_STATUS_OK);
    EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin())) << "the first rows differ";
    for (float v : b) ASSERT_TRUE(std::isfinite(v));
    EXPECT_NE(b[2 * 4096], b[0]);
    // Another seed, other samples.
    const std::vector<float> c = sample_into(path, 10, 1000, &st);
    EXPECT_NE(c, a);
    // Bad arguments are named.
    float buf[4];
    EXPECT_EQ(dgm_model_sample_into(m, 0, buf, DGM_MEMORY_HOST), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_model_sample_into(m, 2, nullptr, DGM_MEMORY_HOST), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find("NULL"), std::string::npos);
    EXPECT_EQ(dgm_model_sample_into(m, 2, buf, DGM_MEMORY_DEVICE), DGM_STATUS_UNSUPPORTED);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find("CUDA"), std::string::npos);
    EXPECT_EQ(dgm_model_sample_into(nullptr, 2, buf, DGM_MEMORY_HOST), DGM_STATUS_INVALID_ARGUMENT);
}

TEST(Embed, ScoreEqualsEvaluate)
{
    TempDir dir;
    const std::string path = dir.file("flow.safetensors");
    save_flow(path);
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    dgm_model *m = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_model_load(ctx.get(), path.c_str(), &m));
    ModelPtr owner(m);
    std::mt19937 rng(8);
    const int64_t n = 2500;  // more than one batch of 1,000
    const std::vector<float> x = random_values(rng, (size_t)(2 * n), -2.0f, 2.0f);
    double score = 0.0;
    DGM_ASSERT_OK(ctx.get(), dgm_model_score(m, x.data(), n, nullptr, &score));
    dgm_dataset *ds = nullptr;
    const int64_t shape[1] = {2};
    DGM_ASSERT_OK(ctx.get(), dgm_dataset_from_memory(ctx.get(), n, 1, shape, x.data(), nullptr, &ds));
    char out[256];
    DGM_ASSERT_OK(ctx.get(), dgm_model_evaluate(m, ds, "nll", out, sizeof out));
    dgm_dataset_free(ds);
    const double nll = std::strtod(std::strstr(out, "\"nll\":") + 6, nullptr);
    EXPECT_NEAR(score, nll, 1e-6 * std::fabs(nll)) << out;
    // The exact NLL of rows, by hand from dgm_model_log_density, agrees too.
    dgm_tensor *lp = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_model_log_density(m, from_host(ctx.get(), {n, 2}, x), &lp));
    double sum = 0.0;
    for (float v : to_host(ctx.get(), lp)) sum -= v;
    EXPECT_NEAR(score, sum / (double)n, 1e-4);
    dgm_ctx_step_end(ctx.get());
    // Errors: an unknown metric, two at once, n < 1, NULL.
    EXPECT_EQ(dgm_model_score(m, x.data(), n, "fid", &score), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find("valid: nll,bpd"), std::string::npos)
        << dgm_last_error(ctx.get());
    EXPECT_EQ(dgm_model_score(m, x.data(), n, "nll,bpd", &score), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_model_score(m, x.data(), 0, nullptr, &score), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_model_score(m, nullptr, n, nullptr, &score), DGM_STATUS_INVALID_ARGUMENT);
}

// A GAN's default metric (the discriminator's loss) takes the caller's rows; its mode
// coverage comes from samples, not from rows: UNSUPPORTED, saying where to go instead.
TEST(Embed, ScoreRefusesSampleMetrics)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    dgm_model *m = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_model_create(ctx.get(), "gan", nullptr, 2, 1, nullptr, &m));
    ModelPtr owner(m);
    const std::vector<float> x(20, 0.5f);
    double v = NAN;
    DGM_ASSERT_OK(ctx.get(), dgm_model_score(m, x.data(), 10, nullptr, &v));
    EXPECT_TRUE(std::isfinite(v));
    EXPECT_GT(v, 0.0);  // a fresh discriminator's loss, about 2·log 2
    EXPECT_EQ(dgm_model_score(m, x.data(), 10, "modes", &v), DGM_STATUS_UNSUPPORTED);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find("dgm_model_evaluate"), std::string::npos);
}

TEST(Embed, TwoThreadsSampleWhatEachSamplesAlone)
{
    TempDir dir;
    const std::string path = dir.file("flow.safetensors");
    save_flow(path);
    dgm_status s1 = DGM_STATUS_OK, s2 = DGM_STATUS_OK, t1 = DGM_STATUS_OK, t2 = DGM_STATUS_OK;
    const std::vector<float> alone1 = sample_into(path, 21, 3000, &s1);
    const std::vector<float> alone2 = sample_into(path, 22, 3000, &s2);
    ASSERT_EQ(s1, DGM_STATUS_OK);
    ASSERT_EQ(s2, DGM_STATUS_OK);
    std::vector<float> together1, together2;
    std::thread a([&] { together1 = sample_into(path, 21, 3000, &t1); });
    std::thread b([&] { together2 = sample_into(path, 22, 3000, &t2); });
    a.join();
    b.join();
    ASSERT_EQ(t1, DGM_STATUS_OK);
    ASSERT_EQ(t2, DGM_STATUS_OK);
    EXPECT_EQ(together1, alone1);
    EXPECT_EQ(together2, alone2);
    EXPECT_NE(alone1, alone2);
}

// On CUDA, samples written into device memory (a dgm tensor's buffer) equal the host path's.
TEST(Embed, SampleIntoDeviceMemoryOnCuda)
{
    SKIP_WITHOUT_GPU();
    TempDir dir;
    const std::string path = dir.file("flow.safetensors");
    save_flow(path);
    std::vector<float> host((size_t)(2 * 5000)), dev;
    for (int pass = 0; pass < 2; pass++) {
        CtxPtr ctx = make_ctx(DGM_DEVICE_CUDA, 5);
        ASSERT_TRUE(ctx);
        dgm_model *m = nullptr;
        DGM_ASSERT_OK(ctx.get(), dgm_model_load(ctx.get(), path.c_str(), &m));
        ModelPtr owner(m);
        if (pass == 0) {
            DGM_ASSERT_OK(ctx.get(), dgm_model_sample_into(m, 5000, host.data(), DGM_MEMORY_HOST));
        } else {
            dgm_tensor *t = nullptr;
            const int64_t shape[2] = {5000, 2};
            DGM_ASSERT_OK(ctx.get(), dgm_tensor_create(ctx.get(), 2, shape, &t));
            DGM_ASSERT_OK(ctx.get(), dgm_model_sample_into(m, 5000, dgm_tensor_data(t), DGM_MEMORY_DEVICE));
            dev = to_host(ctx.get(), t);
            dgm_tensor_free(t);
        }
    }
    EXPECT_EQ(dev, host);
}

}  // namespace
