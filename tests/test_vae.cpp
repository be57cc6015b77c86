// The VAE: its ELBO against an independent computation, the IWAE bound's behaviour in K,
// and a 2-D toy VAE that trains in seconds to a stated ELBO.
#include <cstring>
#include <string>

#include "test_util.h"

using namespace dgmtest;

namespace {

struct ModelDeleter {
    void operator()(dgm_model *m) const { dgm_model_free(m); }
};
using ModelPtr = std::unique_ptr<dgm_model, ModelDeleter>;

// Trains `m` with Adam on `data` for `steps` steps of `batch`.
void train(dgm_ctx *ctx, dgm_model *m, const dgm_dataset *data, int steps, int batch, float lr)
{
    dgm_optim_config oc = dgm_optim_config_default(DGM_OPTIM_ADAM);
    oc.lr = lr;
    dgm_optim *opt = nullptr;
    dgm_loader *loader = nullptr;
    ASSERT_EQ(dgm_optim_create(dgm_model_params(m), &oc, &opt), DGM_STATUS_OK) << dgm_last_error(ctx);
    ASSERT_EQ(dgm_loader_create(ctx, data, batch, 1, true, &loader), DGM_STATUS_OK) << dgm_last_error(ctx);
    for (int s = 0; s < steps; s++) {
        dgm_tensor *b = nullptr, *loss = nullptr;
        DGM_ASSERT_OK(ctx, dgm_loader_next(loader, &b, nullptr));
        DGM_ASSERT_OK(ctx, dgm_params_zero_grad(dgm_model_params(m)));
        DGM_ASSERT_OK(ctx, dgm_model_train_step(m, b, s, &loss));
        DGM_ASSERT_OK(ctx, dgm_optim_step(opt));
        DGM_ASSERT_OK(ctx, dgm_ctx_step_end(ctx));
    }
    dgm_loader_free(loader);
    dgm_optim_free(opt);
}

double metric(dgm_ctx *ctx, dgm_model *m, const dgm_dataset *data, const char *name)
{
    char out[256];
    EXPECT_EQ(dgm_model_evaluate(m, data, name, out, sizeof out), DGM_STATUS_OK) << dgm_last_error(ctx);
    const char *p = std::strchr(out, ':');
    return p ? std::strtod(p + 1, nullptr) : NAN;
}

TEST(Vae, DefaultLayersArePytorchExamples)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    const int64_t shape[2] = {28, 28};
    dgm_model *raw = nullptr;
    ASSERT_EQ(dgm_model_create(ctx.get(), "vae", nullptr, 784, 2, shape, &raw), DGM_STATUS_OK)
        << dgm_last_error(ctx.get());
    ModelPtr m(raw);
    dgm_params *p = dgm_model_params(m.get());
    const char *names[] = {"fc1.weight", "fc1.bias", "fc21.weight", "fc21.bias", "fc22.weight",
                           "fc22.bias", "fc3.weight", "fc3.bias", "fc4.weight", "fc4.bias"};
    const int64_t dims[][2] = {{400, 784}, {400, 0}, {20, 400}, {20, 0}, {20, 400},
                               {20, 0},    {400, 20}, {400, 0}, {784, 400}, {784, 0}};
    ASSERT_EQ(dgm_params_count(p), 10);
    for (int i = 0; i < 10; i++) {
        EXPECT_STREQ(dgm_params_name(p, i), names[i]);
        EXPECT_EQ(dgm_tensor_dim(dgm_params_at(p, i), 0), dims[i][0]);
        if (dims[i][1]) {
            EXPECT_EQ(dgm_tensor_dim(dgm_params_at(p, i), 1), dims[i][1]);
        }
    }
    EXPECT_EQ(dgm_params_numel(p), 784 * 400 + 400 + 2 * (400 * 20 + 20) + 20 * 400 + 400 + 400 * 784 + 784);
}

// Deeper VAEs keep pytorch/examples' names with _1, _2 suffixes, in module order (which is
// also the order of the initialization draws and of the checkpoint's tensors).
TEST(Vae, HiddenLayersNamesAndOrder)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    dgm_model *raw = nullptr;
    ASSERT_EQ(dgm_model_create(ctx.get(), "vae", "{\"hidden\": \"8,5,4\", \"latent\": 3}", 6, 0, nullptr, &raw),
              DGM_STATUS_OK) << dgm_last_error(ctx.get());
    ModelPtr m(raw);
    dgm_params *p = dgm_model_params(m.get());
    const char *layers[] = {"fc1", "fc1_1", "fc1_2", "fc21", "fc22", "fc3", "fc3_1", "fc3_2", "fc4"};
    const int64_t shapes[][2] = {{8, 6}, {5, 8}, {4, 5}, {3, 4}, {3, 4}, {4, 3}, {5, 4}, {8, 5}, {6, 8}};
    ASSERT_EQ(dgm_params_count(p), 18);
    for (int i = 0; i < 9; i++) {
        const std::string w = std::string(layers[i]) + ".weight", b = std::string(layers[i]) + ".bias";
        EXPECT_EQ(dgm_params_name(p, 2 * i), w);
        EXPECT_EQ(dgm_params_name(p, 2 * i + 1), b);
        EXPECT_EQ(dgm_tensor_dim(dgm_params_at(p, 2 * i), 0), shapes[i][0]) << w;
        EXPECT_EQ(dgm_tensor_dim(dgm_params_at(p, 2 * i), 1), shapes[i][1]) << w;
        EXPECT_EQ(dgm_tensor_dim(dgm_params_at(p, 2 * i + 1), 0), shapes[i][0]) << b;
    }
}

TEST(Vae, UnknownOptionListsTheValidOnes)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    dgm_model *m = nullptr;
    EXPECT_EQ(dgm_model_create(ctx.get(), "vae", "{\"latnet\": 3}", 4, 0, nullptr, &m),
              DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_NE(std::strstr(dgm_last_error(ctx.get()), "latnet"), nullptr);
    EXPECT_NE(std::strstr(dgm_last_error(ctx.get()), "latent"), nullptr);
    EXPECT_EQ(dgm_model_create(ctx.get(), "vae", "{\"decoder\": \"poisson\"}", 4, 0, nullptr, &m),
              DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_model_create(ctx.get(), "vae", "{\"hidden\": \"4,x\"}", 4, 0, nullptr, &m),
              DGM_STATUS_INVALID_ARGUMENT);
}

// The ELBO of a tiny model with set weights, computed here in double with the same cuRAND
// noise (drawn from a context seeded alike), matches dgm's "elbo" metric.
TEST(Vae, ElboOfATinyModelMatchesAnIndependentComputation)
{
    const int D = 3, H = 2, L = 2, N = 5;
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 0);
    dgm_model *raw = nullptr;
    ASSERT_EQ(dgm_model_create(ctx.get(), "vae", "{\"hidden\": \"2\", \"latent\": 2}", D, 0, nullptr, &raw),
              DGM_STATUS_OK) << dgm_last_error(ctx.get());
    ModelPtr m(raw);
    dgm_params *p = dgm_model_params(m.get());
    // Weights: fixed values spread over [-0.8, 0.8].
    std::vector<std::vector<float>> w(dgm_params_count(p));
    for (int i = 0; i < dgm_params_count(p); i++) {
        dgm_tensor *t = dgm_params_at(p, i);
        w[i].resize((size_t)dgm_tensor_numel(t));
        for (size_t j = 0; j < w[i].size(); j++) w[i][j] = 0.8f * std::sin(1.7f * (float)(i * 7 + j) + 0.3f);
        DGM_ASSERT_OK(ctx.get(), dgm_tensor_copy_from_host(ctx.get(), t, w[i].data()));
    }
    std::vector<float> x = {0.0f, 0.5f, 1.0f, 0.2f, 0.9f, 0.1f, 1.0f, 1.0f, 0.0f,
                            0.3f, 0.3f, 0.7f, 0.6f, 0.0f, 0.4f};
    const int64_t s[1] = {D};
    dgm_dataset *ds = nullptr;
    ASSERT_EQ(dgm_dataset_from_memory(ctx.get(), N, 1, s, x.data(), nullptr, &ds), DGM_STATUS_OK);
    DGM_ASSERT_OK(ctx.get(), dgm_ctx_seed(ctx.get(), 123));
    const double got = metric(ctx.get(), m.get(), ds, "elbo");

    // The noise the model drew: one N(0, 1) draw of [N, L] from seed 123.
    CtxPtr ref = make_ctx(DGM_DEVICE_CPU, 123);
    const int64_t es[2] = {N, L};
    dgm_tensor *e = nullptr;
    ASSERT_EQ(dgm_rand_normal(ref.get(), 2, es, 0.0f, 1.0f, &e), DGM_STATUS_OK);
    std::vector<float> eps = to_host(ref.get(), e);

    // w: fc1.weight [H,D], fc1.bias, fc21.weight [L,H], fc21.bias, fc22.weight, fc22.bias,
    // fc3.weight [H,L], fc3.bias, fc4.weight [D,H], fc4.bias.
    auto lin = [](const std::vector<float> &W, const std::vector<float> &b, const std::vector<double> &in,
                  int out, bool relu) {
        std::vector<double> y((size_t)out);
        for (int o = 0; o < out; o++) {
            double acc = b[(size_t)o];
            for (size_t i = 0; i < in.size(); i++) acc += (double)W[(size_t)o * in.size() + i] * in[i];
            y[(size_t)o] = relu && acc < 0 ? 0.0 : acc;
        }
        return y;
    };
    double total = 0.0;
    for (int n = 0; n < N; n++) {
        std::vector<double> xn(x.begin() + n * D, x.begin() + (n + 1) * D);
        auto h = lin(w[0], w[1], xn, H, true);
        auto mu = lin(w[2], w[3], h, L, false), lv = lin(w[4], w[5], h, L, false);
        std::vector<double> z((size_t)L);
        double kl = 0.0;
        for (int l = 0; l < L; l++) {
            z[(size_t)l] = mu[(size_t)l] + std::exp(0.5 * lv[(size_t)l]) * eps[(size_t)(n * L + l)];
            kl += 0.5 * (std::exp(lv[(size_t)l]) + mu[(size_t)l] * mu[(size_t)l] - 1.0 - lv[(size_t)l]);
        }
        auto h3 = lin(w[6], w[7], z, H, true);
        auto logits = lin(w[8], w[9], h3, D, false);
        double bce = 0.0;
        for (int d = 0; d < D; d++) {
            double a = logits[(size_t)d], t = xn[(size_t)d];
            bce += std::log1p(std::exp(-std::fabs(a))) + std::max(a, 0.0) - a * t;
        }
        total += bce + kl;
    }
    EXPECT_NEAR(got, total / N, 1e-4 * std::fabs(total / N));
    dgm_dataset_free(ds);
}

class VaeToy : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        ctx_ = make_ctx(DGM_DEVICE_CPU, 5).release();
        ASSERT_EQ(dgm_dataset_load(ctx_, "moons", DGM_SPLIT_TRAIN, 0, &train_), DGM_STATUS_OK);
        ASSERT_EQ(dgm_dataset_load(ctx_, "moons", DGM_SPLIT_TEST, 0, &test_), DGM_STATUS_OK);
        ASSERT_EQ(dgm_model_create(ctx_, "vae",
                                   "{\"hidden\": \"128\", \"latent\": 2, \"decoder\": \"gaussian\"}",
                                   2, 0, nullptr, &model_),
                  DGM_STATUS_OK) << dgm_last_error(ctx_);
        train(ctx_, model_, train_, 3000, 256, 3e-3f);
    }
    static void TearDownTestSuite()
    {
        dgm_model_free(model_);
        dgm_dataset_free(train_);
        dgm_dataset_free(test_);
        dgm_ctx_free(ctx_);
    }
    static dgm_ctx *ctx_;
    static dgm_dataset *train_, *test_;
    static dgm_model *model_;
};
dgm_ctx *VaeToy::ctx_ = nullptr;
dgm_dataset *VaeToy::train_ = nullptr;
dgm_dataset *VaeToy::test_ = nullptr;
dgm_model *VaeToy::model_ = nullptr;

// A 2-D VAE on moons beats the best single Gaussian: its test negative ELBO is below
// 3.0 nats (the closed-form full-covariance Gaussian's test NLL on moons is 3.30).
TEST_F(VaeToy, TrainsToAStatedElbo)
{
    const double elbo = metric(ctx_, model_, test_, "elbo");
    EXPECT_LT(elbo, 3.0);
    EXPECT_GT(elbo, 1.0);  // and not absurdly low (a broken bound)
}

// −IWAE_K estimates the NLL from above and does not increase with K. Monte Carlo noise
// over 10000 test points: the standard error of each estimate is below 0.01 nats, so
// allow 0.02 between consecutive K.
TEST_F(VaeToy, IwaeBoundTightensAsKGrows)
{
    double prev = 1e30;
    for (int64_t k : {1, 5, 25, 100}) {
        DGM_ASSERT_OK(ctx_, dgm_model_set_eval_samples(model_, k));
        DGM_ASSERT_OK(ctx_, dgm_ctx_seed(ctx_, 77));
        const double v = metric(ctx_, model_, test_, "iwae");
        EXPECT_LE(v, prev + 0.02) << "K = " << k;
        prev = v;
    }
    // K = 1 is the ELBO in expectation.
    DGM_ASSERT_OK(ctx_, dgm_model_set_eval_samples(model_, 1));
    const double iwae1 = metric(ctx_, model_, test_, "iwae"), elbo = metric(ctx_, model_, test_, "elbo");
    EXPECT_NEAR(iwae1, elbo, 0.03);
    // And K = 100 is strictly tighter than the ELBO for this model.
    EXPECT_LT(prev, elbo - 0.02);
}

TEST_F(VaeToy, SamplesLookLikeMoons)
{
    dgm_tensor *x = nullptr;
    DGM_ASSERT_OK(ctx_, dgm_model_sample(model_, 2000, &x));
    std::vector<float> v = to_host(ctx_, x);
    DGM_ASSERT_OK(ctx_, dgm_ctx_step_end(ctx_));
    // Same mean and spread as the data, to within 15% of the data's std.
    const float *d = dgm_dataset_data(test_);
    for (int c = 0; c < 2; c++) {
        double ms = 0, md = 0, vs = 0, vd = 0;
        for (int i = 0; i < 2000; i++) ms += v[(size_t)(2 * i + c)], md += d[2 * i + c];
        ms /= 2000, md /= 2000;
        for (int i = 0; i < 2000; i++)
            vs += std::pow(v[(size_t)(2 * i + c)] - ms, 2), vd += std::pow(d[2 * i + c] - md, 2);
        const double sd = std::sqrt(vd / 2000);
        EXPECT_NEAR(ms, md, 0.15 * sd) << "coordinate " << c;
        EXPECT_NEAR(std::sqrt(vs / 2000), sd, 0.15 * sd) << "coordinate " << c;
    }
}

TEST(Vae, EncodeAndReconstructShapes)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    dgm_model *raw = nullptr;
    ASSERT_EQ(dgm_model_create(ctx.get(), "vae", "{\"hidden\": \"8,4\", \"latent\": 3}", 6, 0, nullptr, &raw),
              DGM_STATUS_OK) << dgm_last_error(ctx.get());
    ModelPtr m(raw);
    EXPECT_NE(dgm_params_get(dgm_model_params(m.get()), "fc1_1.weight"), nullptr);
    EXPECT_NE(dgm_params_get(dgm_model_params(m.get()), "fc3_1.weight"), nullptr);
    std::vector<float> x(4 * 6, 0.5f);
    dgm_tensor *xt = from_host(ctx.get(), {4, 6}, x), *z = nullptr, *r = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_model_encode(m.get(), xt, &z));
    DGM_ASSERT_OK(ctx.get(), dgm_model_reconstruct(m.get(), xt, &r));
    EXPECT_EQ(dgm_tensor_dim(z, 1), 3);
    EXPECT_EQ(dgm_tensor_dim(r, 1), 6);
    for (float v : to_host(ctx.get(), r)) EXPECT_TRUE(v >= 0.0f && v <= 1.0f);  // Bernoulli means
}

}  // namespace

namespace {

// A Gaussian decoder with a fixed variance has no dec_logvar parameter and its loss is
// the fixed-variance Gaussian NLL (finite, and falling as it trains).
TEST(Vae, FixedDecoderVarianceTrains)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 2);
    dgm_dataset *data = nullptr;
    ASSERT_EQ(dgm_dataset_load(ctx.get(), "moons", DGM_SPLIT_TEST, 0, &data), DGM_STATUS_OK);
    dgm_model *raw = nullptr;
    ASSERT_EQ(dgm_model_create(ctx.get(), "vae",
                               "{\"hidden\": \"32\", \"latent\": 2, \"decoder\": \"gaussian\", "
                               "\"decoder-var\": \"0.05\"}", 2, 0, nullptr, &raw),
              DGM_STATUS_OK) << dgm_last_error(ctx.get());
    ModelPtr m(raw);
    EXPECT_EQ(dgm_params_get(dgm_model_params(m.get()), "dec_logvar"), nullptr);
    const double before = metric(ctx.get(), m.get(), data, "elbo");
    train(ctx.get(), m.get(), data, 300, 256, 3e-3f);
    const double after = metric(ctx.get(), m.get(), data, "elbo");
    EXPECT_TRUE(std::isfinite(before) && std::isfinite(after));
    EXPECT_LT(after, before - 1.0);
    dgm_dataset_free(data);
}

}  // namespace
