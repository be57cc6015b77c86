// Training defaults: each model kind's dgm_train_defaults, `dgm train MODEL --help` showing
// them, `dgm train gaussian --data FILE.csv` with no training option matching the
// closed-form MLE, the gaussian's data init and scale-invariant preconditioning, the
// plateau rule, and --betas.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <vector>

#include "cli_test.h"

using namespace dgmtest;

namespace {

using Outcome = CliResult;
class Defaults : public CliTest {};

double json_number(const std::string &json, const std::string &key)
{
    size_t p = json.find("\"" + key + "\"");
    if (p == std::string::npos) return NAN;
    p = json.find(':', p);
    return std::strtod(json.c_str() + p + 1, nullptr);
}

// n rows of d correlated columns x = shift + scale ⊙ (A e), A lower-triangular with
// random signs, shifts up to ±500·mag and scales spread over two decades; as floats.
std::vector<float> correlated_rows(int64_t n, int d, uint64_t seed, double mag)
{
    std::mt19937_64 gen(seed);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    std::normal_distribution<double> normal;
    std::vector<double> a(d * d, 0.0), shift(d), scale(d);
    for (int i = 0; i < d; i++) {
        for (int j = 0; j < i; j++) a[i * d + j] = u(gen);
        a[i * d + i] = 0.3 + std::fabs(u(gen));
        shift[i] = 500.0 * mag * u(gen);
        scale[i] = mag * std::pow(10.0, u(gen));
    }
    std::vector<float> x(n * d);
    std::vector<double> e(d);
    for (int64_t r = 0; r < n; r++) {
        for (int j = 0; j < d; j++) e[j] = normal(gen);
        for (int i = 0; i < d; i++) {
            double v = 0;
            for (int j = 0; j <= i; j++) v += a[i * d + j] * e[j];
            x[r * d + i] = (float)(shift[i] + scale[i] * v);
        }
    }
    return x;
}

void write_csv(const std::string &path, const std::vector<float> &x, int d)
{
    FILE *f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    for (size_t r = 0; r < x.size() / d; r++)
        for (int j = 0; j < d; j++) std::fprintf(f, "%.9g%c", (double)x[r * d + j], j + 1 < d ? ',' : '\n');
    std::fclose(f);
}

// Mean NLL of the rows under their own MLE Gaussian: ½·D·log 2π + ½·log det Σ + ½·D
// (the quadratic term averages to D at the MLE), Σ by Cholesky, all in double.
double closed_form_nll(const std::vector<float> &x, int d)
{
    const size_t n = x.size() / d;
    std::vector<double> mean(d, 0.0), cov(d * d, 0.0);
    for (size_t r = 0; r < n; r++)
        for (int j = 0; j < d; j++) mean[j] += x[r * d + j];
    for (int j = 0; j < d; j++) mean[j] /= (double)n;
    for (size_t r = 0; r < n; r++)
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) cov[i * d + j] += (x[r * d + i] - mean[i]) * (x[r * d + j] - mean[j]);
    for (double &c : cov) c /= (double)n;
    double logdet = 0;
    std::vector<double> l(d * d, 0.0);
    for (int i = 0; i < d; i++)
        for (int j = 0; j <= i; j++) {
            double s = cov[i * d + j];
            for (int k = 0; k < j; k++) s -= l[i * d + k] * l[j * d + k];
            l[i * d + j] = i == j ? std::sqrt(s) : s / l[j * d + j];
        }
    for (int i = 0; i < d; i++) logdet += 2.0 * std::log(l[i * d + i]);
    return 0.5 * d * std::log(2.0 * M_PI) + 0.5 * logdet + 0.5 * d;
}

TEST(TrainDefaults, EveryKindDeclaresUsableDefaults)
{
    for (const char *const *k = dgm_model_kinds(); *k; k++) {
        dgm_train_defaults t;
        ASSERT_EQ(dgm_model_train_defaults(*k, &t), DGM_STATUS_OK) << *k;
        EXPECT_GT(t.length, 0) << *k;
        EXPECT_GT(t.batch, 0) << *k;
        EXPECT_GT(t.optim.lr, 0.0f) << *k;
        EXPECT_GT(t.log_every, 0) << *k;
        EXPECT_EQ(t.schedule.base_lr, t.optim.lr) << *k;
        if (t.run == DGM_RUN_CONVERGED) {
            EXPECT_GT(t.converge.window, 0) << *k;
            EXPECT_GT(t.converge.tol, 0.0) << *k;
        }
    }
    dgm_train_defaults t;
    EXPECT_EQ(dgm_model_train_defaults("nosuchmodel", &t), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_model_train_defaults("vae", nullptr), DGM_STATUS_INVALID_ARGUMENT);
}

TEST(TrainDefaults, VaeTrainsTenEpochsOfAdamAndGaussianUntilConverged)
{
    dgm_train_defaults v, g;
    ASSERT_EQ(dgm_model_train_defaults("vae", &v), DGM_STATUS_OK);
    EXPECT_EQ(v.run, DGM_RUN_EPOCHS);
    EXPECT_EQ(v.length, 10);
    EXPECT_EQ(v.batch, 128);
    EXPECT_EQ(v.optim.kind, DGM_OPTIM_ADAM);
    EXPECT_FLOAT_EQ(v.optim.lr, 1e-3f);
    EXPECT_FLOAT_EQ(v.optim.beta1, 0.9f);
    EXPECT_FLOAT_EQ(v.optim.beta2, 0.999f);
    ASSERT_EQ(dgm_model_train_defaults("gaussian", &g), DGM_STATUS_OK);
    EXPECT_EQ(g.run, DGM_RUN_CONVERGED);
    EXPECT_EQ(g.optim.kind, DGM_OPTIM_SGD);
    EXPECT_GE(g.batch, 100000);  // full batch up to 100k rows: the rule sees the exact NLL
}

TEST(Plateau, DecaysThenStopsOnAFlatLossAndNeverOnAFallingOne)
{
    const dgm_plateau_rule rule = {2, 1e-3, 2, 0.5f, 1};
    dgm_plateau p;
    dgm_plateau_init(&p, &rule);
    std::vector<int> events;
    for (int step = 1; step <= 12; step++) events.push_back(dgm_plateau_update(&p, 1.0));
    // Window means at steps 2, 4, 6, ...: the first sets the best, two more without a gain
    // decay (step 6, and the best starts afresh), step 8 sets it again, step 12 stops.
    for (int step = 1; step <= 12; step++) {
        const int want = step == 6 ? DGM_PLATEAU_DECAY : step == 12 ? DGM_PLATEAU_STOP : DGM_PLATEAU_CONTINUE;
        EXPECT_EQ(events[step - 1], want) << "step " << step;
    }
    dgm_plateau_init(&p, &rule);
    for (int step = 1; step <= 1000; step++) ASSERT_EQ(dgm_plateau_update(&p, -0.01 * step), DGM_PLATEAU_CONTINUE);
    dgm_plateau_init(&p, &rule);
    for (int step = 1; step <= 4; step++) dgm_plateau_update(&p, NAN);  // never an improvement
    EXPECT_EQ(p.decays, 1);
}

TEST_F(Defaults, HelpShowsEachModelsDefaults)
{
    Outcome v = dgm("train vae --help");
    ASSERT_EQ(v.code, 0);
    EXPECT_NE(v.out.find("10 epochs"), std::string::npos) << v.out;
    EXPECT_NE(v.out.find("batch       128 ("), std::string::npos) << v.out;
    EXPECT_NE(v.out.find("adam, lr 0.001, betas 0.9,0.999, eps 1e-08"), std::string::npos) << v.out;
    EXPECT_NE(v.out.find("--latent"), std::string::npos) << v.out;  // and its model options
    EXPECT_EQ(v.out.find("model gaussian"), std::string::npos) << v.out;
    Outcome g = dgm("train gaussian --help");
    ASSERT_EQ(g.code, 0);
    EXPECT_NE(g.out.find("until converged"), std::string::npos) << g.out;
    EXPECT_NE(g.out.find("at most 20000 steps"), std::string::npos) << g.out;
    EXPECT_NE(g.out.find("sgd, lr 0.2, momentum 0.9, nesterov"), std::string::npos) << g.out;
    EXPECT_NE(g.out.find("--betas"), std::string::npos) << g.out;
}

// The case: a new user's `dgm train gaussian --data FILE.csv`, then `dgm eval`.
TEST_F(Defaults, GaussianWithNoOptionsMatchesTheClosedFormOnCsvs)
{
    struct Case {
        int64_t n;
        int d;
        double mag;
    } cases[] = {{1000, 2, 1.0}, {5000, 5, 1.0}, {5000, 2, 1e3}, {100000, 5, 1e-2}};
    for (const Case &c : cases) {
        const std::string tag = std::to_string(c.n) + "x" + std::to_string(c.d);
        const std::string csv = dir + "/data" + tag + ".csv", out = dir + "/g" + tag;
        std::vector<float> x = correlated_rows(c.n, c.d, 100 + c.n + c.d, c.mag);
        write_csv(csv, x, c.d);
        const auto t0 = std::chrono::steady_clock::now();
        Outcome t = dgm("train gaussian --data " + csv + " --out " + out);
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        ASSERT_EQ(t.code, 0) << tag << ": " << t.err;
        EXPECT_NE(t.out.find("converged"), std::string::npos) << t.out;
        EXPECT_EQ(t.out.find("not converged"), std::string::npos) << t.out;
        Outcome e = dgm("eval " + out + "/checkpoint.safetensors");
        ASSERT_EQ(e.code, 0) << e.err;
        const double got = json_number(e.out, "nll"), want = closed_form_nll(x, c.d);
        EXPECT_NEAR(got, want, 0.01) << tag << ": " << e.out;
        std::printf("[ defaults ] gaussian %s (scale %g): nll %.6f, closed form %.6f, %.2f s\n", tag.c_str(),
                    c.mag, got, want, secs);
        if (c.d != 2) {
            EXPECT_TRUE(access((out + "/samples.npy").c_str(), F_OK) == 0) << tag;
        }
    }
}

// The gaussian starts at the data and preconditions in standardized units, so SGD takes
// the same steps on a shifted, rescaled copy of the data: its NLL after a fixed number of
// steps differs by exactly Σ log s_j.
TEST_F(Defaults, GaussianStepsDoNotDependOnTheDataScale)
{
    std::vector<float> x = correlated_rows(2000, 3, 7, 1.0), y(x.size());
    const double s[3] = {1e3, 1e-2, 7.0}, a[3] = {-4e4, 3.0, 1e2};
    for (size_t i = 0; i < x.size(); i++) y[i] = (float)(a[i % 3] + s[i % 3] * (double)x[i]);
    write_csv(dir + "/x.csv", x, 3);
    write_csv(dir + "/y.csv", y, 3);
    for (const char *name : {"x", "y"}) {
        Outcome t = dgm(std::string("train gaussian --steps 10 --data ") + dir + "/" + name + ".csv --out " + dir + "/o" + name);
        ASSERT_EQ(t.code, 0) << t.err;
    }
    Outcome ex = dgm("eval " + dir + "/ox/checkpoint.safetensors"), ey = dgm("eval " + dir + "/oy/checkpoint.safetensors");
    ASSERT_EQ(ex.code, 0) << ex.err;
    ASSERT_EQ(ey.code, 0) << ey.err;
    const double nx = json_number(ex.out, "nll"), ny = json_number(ey.out, "nll");
    const double shift = std::log(s[0]) + std::log(s[1]) + std::log(s[2]);
    EXPECT_GT(nx - closed_form_nll(x, 3), 1e-3);  // 10 steps: not yet converged ...
    EXPECT_NEAR(ny - shift, nx, 1e-4);           // ... but the same distance from it
    std::printf("[ defaults ] after 10 steps: %.6f above the closed form; rescaled data: %.2e apart\n",
                nx - closed_form_nll(x, 3), ny - shift - nx);
}

// A run until convergence records its rule's state, and a converged run refuses --resume
// (one more step would not be the run the rule ended).
TEST_F(Defaults, AConvergedRunRecordsItAndRefusesToResume)
{
    std::vector<float> x = correlated_rows(1000, 2, 5, 1.0);
    write_csv(dir + "/x.csv", x, 2);
    const std::string args = "train gaussian --data " + dir + "/x.csv --out " + dir + "/o";
    Outcome t = dgm(args);
    ASSERT_EQ(t.code, 0) << t.err;
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    char *extra = nullptr;
    ASSERT_EQ(dgm_checkpoint_meta(ctx.get(), (dir + "/o/checkpoint.safetensors").c_str(), "extra", &extra), DGM_STATUS_OK);
    const std::string meta = extra;
    std::free(extra);
    EXPECT_NE(meta.find("\"converged\":\"true\""), std::string::npos) << meta;
    EXPECT_NE(meta.find("\"lr_scale\":\"0.1"), std::string::npos) << meta;  // after its one decay
    EXPECT_EQ(meta.find("betas"), std::string::npos) << meta;                  // sgd has none
    Outcome r = dgm(args + " --resume");
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_NE(r.err.find("already converged"), std::string::npos) << r.err;
}

TEST(GaussianPrepare, StartsAtTheDataAndRefusesAConstantColumn)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    const float rows[8] = {1, 10, 3, 10, 5, 10, 7, 10};  // column 1 is constant
    const float good[8] = {1, 10, 3, 14, 5, 10, 7, 14};
    const int64_t shape[1] = {2};
    dgm_dataset *bad = nullptr, *ok = nullptr;
    ASSERT_EQ(dgm_dataset_from_memory(ctx.get(), 4, 1, shape, rows, nullptr, &bad), DGM_STATUS_OK);
    ASSERT_EQ(dgm_dataset_from_memory(ctx.get(), 4, 1, shape, good, nullptr, &ok), DGM_STATUS_OK);
    dgm_model *m = nullptr;
    ASSERT_EQ(dgm_model_create(ctx.get(), "gaussian", nullptr, 2, 1, shape, &m), DGM_STATUS_OK);
    EXPECT_EQ(dgm_model_prepare(m, bad, true), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find("column 1"), std::string::npos) << dgm_last_error(ctx.get());
    ASSERT_EQ(dgm_model_prepare(m, ok, true), DGM_STATUS_OK) << dgm_last_error(ctx.get());
    float mean[2], logd[2];
    ASSERT_EQ(dgm_tensor_to_host(ctx.get(), dgm_params_get(dgm_model_params(m), "mean"), mean), DGM_STATUS_OK);
    ASSERT_EQ(dgm_tensor_to_host(ctx.get(), dgm_params_get(dgm_model_params(m), "whiten_log_diag"), logd), DGM_STATUS_OK);
    EXPECT_FLOAT_EQ(mean[0], 4.0f);
    EXPECT_FLOAT_EQ(mean[1], 12.0f);
    EXPECT_NEAR(logd[0], -0.5 * std::log(5.0), 1e-6);  // population variance 5
    EXPECT_NEAR(logd[1], -0.5 * std::log(4.0), 1e-6);
    dgm_model_free(m);
    dgm_dataset_free(bad);
    dgm_dataset_free(ok);
}

TEST_F(Defaults, BetasAreAppliedAndRecorded)
{
    const std::string common = "train gaussian --data moons --optimizer adam --steps 30 --out ";
    Outcome a = dgm(common + dir + "/a");
    Outcome b = dgm(common + dir + "/b --betas 0.5,0.9");
    ASSERT_EQ(a.code, 0) << a.err;
    ASSERT_EQ(b.code, 0) << b.err;
    Outcome ea = dgm("eval " + dir + "/a/checkpoint.safetensors"), eb = dgm("eval " + dir + "/b/checkpoint.safetensors");
    EXPECT_NE(json_number(ea.out, "nll"), json_number(eb.out, "nll"));
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    char *extra = nullptr;
    ASSERT_EQ(dgm_checkpoint_meta(ctx.get(), (dir + "/b/checkpoint.safetensors").c_str(), "extra", &extra), DGM_STATUS_OK);
    const std::string meta = extra;
    std::free(extra);
    EXPECT_NE(meta.find("\"betas\":\"0.5,0.9\""), std::string::npos) << meta;
    EXPECT_NE(meta.find("adam, lr 0.001"), std::string::npos) << meta;  // adam's own lr, not the gaussian's
}

TEST_F(Defaults, BadBetasAreUsageErrorsNamingTheValue)
{
    for (const char *v : {"1,0.9", "0.9,1", "-0.1,0.9", "0.9", "x,y", "0.9,0.99,0.9", "0.9,"}) {
        Outcome r = dgm(std::string("train vae --data moons --decoder gaussian --steps 1 --out ") + dir + "/o --betas " + v);
        EXPECT_EQ(r.code, 2) << v << ": " << r.err;
        EXPECT_NE(r.err.find(std::string("--betas ") + v), std::string::npos) << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    }
    // The gaussian's own optimizer is SGD, which has no betas; so is an explicit --optimizer sgd.
    for (const char *args : {"train gaussian --data moons --betas 0.9,0.99",
                             "train vae --data moons --optimizer sgd --betas 0.9,0.99"}) {
        Outcome r = dgm(args);
        EXPECT_EQ(r.code, 2) << args << ": " << r.err;
        EXPECT_NE(r.err.find("--betas 0.9,0.99"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("sgd"), std::string::npos) << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    }
}

}  // namespace
