// Optimizers, gradient clipping, EMA and learning-rate schedules on the CPU backend, each
// checked against its formula computed independently here in double precision; errors;
// and the CUDA backend against the CPU backend (skipped, never passed, without a GPU).
#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>

#include "test_util.h"

using namespace dgmtest;

namespace {

struct ParamsDeleter {
    void operator()(dgm_params *p) const { dgm_params_free(p); }
};
using ParamsPtr = std::unique_ptr<dgm_params, ParamsDeleter>;
struct OptimDeleter {
    void operator()(dgm_optim *o) const { dgm_optim_free(o); }
};
using OptimPtr = std::unique_ptr<dgm_optim, OptimDeleter>;
struct EmaDeleter {
    void operator()(dgm_ema *e) const { dgm_ema_free(e); }
};
using EmaPtr = std::unique_ptr<dgm_ema, EmaDeleter>;

// The block of every test: "a" [2, 3], a buffer "running" [3], "b" [4]. Trainable values
// come first: a (6), b (4), then running (3).
constexpr int64_t kTrainable = 10;
constexpr int64_t kTotal = 13;

ParamsPtr make_block(dgm_ctx *ctx, bool alloc = true)
{
    dgm_params *p = nullptr;
    EXPECT_EQ(dgm_params_create(ctx, &p), DGM_STATUS_OK) << dgm_last_error(ctx);
    ParamsPtr out(p);
    if (!p) return out;
    const dgm_init zeros = {DGM_INIT_ZEROS, 0.0f, 0.0f};
    const int64_t sa[2] = {2, 3}, sr[1] = {3}, sb[1] = {4};
    EXPECT_EQ(dgm_params_add(p, "a", 2, sa, zeros), DGM_STATUS_OK) << dgm_last_error(ctx);
    EXPECT_EQ(dgm_params_add_buffer(p, "running", 1, sr, zeros), DGM_STATUS_OK);
    EXPECT_EQ(dgm_params_add(p, "b", 1, sb, zeros), DGM_STATUS_OK) << dgm_last_error(ctx);
    if (alloc) {
        EXPECT_EQ(dgm_params_alloc(p), DGM_STATUS_OK) << dgm_last_error(ctx);
    }
    return out;
}

// Starting values: |w| in [0.6, 1.3], alternating signs; buffers 0.25, 0.5, 0.75.
std::vector<float> initial_values()
{
    std::vector<float> v((size_t)kTotal);
    for (int64_t i = 0; i < kTrainable; i++)
        v[(size_t)i] = (i % 2 ? -1.0f : 1.0f) * (0.6f + 0.07f * (float)i);
    for (int64_t i = kTrainable; i < kTotal; i++) v[(size_t)i] = 0.25f * (float)(i - kTrainable + 1);
    return v;
}

// The gradient of update s: a fixed sign per element, magnitude in [0.1, 0.3].
std::vector<float> gradient_at(int s)
{
    std::vector<float> g((size_t)kTrainable);
    for (int64_t i = 0; i < kTrainable; i++)
        g[(size_t)i] = (i % 3 ? 1.0f : -1.0f) * (0.1f + 0.05f * (float)((i + 3 * s) % 5));
    return g;
}

// CPU only: the block's buffers are host memory.
void set_values(dgm_params *p, const std::vector<float> &v)
{
    std::memcpy(dgm_params_values(p), v.data(), v.size() * sizeof(float));
}
void set_grads(dgm_params *p, const std::vector<float> &g)
{
    std::memcpy(dgm_params_grads(p), g.data(), g.size() * sizeof(float));
}
std::vector<float> host_copy(const float *x, int64_t n) { return std::vector<float>(x, x + n); }

// Relative 1e-6 (plus 1e-12 absolute for exact zeros).
void expect_rel(const std::vector<float> &got, const std::vector<double> &want,
                const std::string &what, double rtol = 1e-6)
{
    ASSERT_EQ(got.size(), want.size()) << what;
    for (size_t i = 0; i < want.size(); i++)
        EXPECT_NEAR(got[i], want[i], rtol * std::fabs(want[i]) + 1e-12)
            << what << " element " << i;
}

// ---- the reference: PyTorch's formulas, in double ----

struct Reference {
    dgm_optim_config c;
    std::vector<double> w, buf, m, v;
    int64_t t = 0;

    Reference(const dgm_optim_config &config, const std::vector<float> &w0) : c(config)
    {
        for (int64_t i = 0; i < kTrainable; i++) w.push_back(w0[(size_t)i]);
        buf.assign(w.size(), 0.0);
        m.assign(w.size(), 0.0);
        v.assign(w.size(), 0.0);
    }

    void step(const std::vector<float> &gf)
    {
        const double lr = c.lr, wd = c.weight_decay;
        if (c.kind == DGM_OPTIM_SGD) {
            const double mom = c.momentum, damp = c.dampening;
            for (size_t i = 0; i < w.size(); i++) {
                double d = gf[i];
                if (wd != 0.0) d += wd * w[i];
                if (mom != 0.0) {
                    buf[i] = t == 0 ? d : mom * buf[i] + (1.0 - damp) * d;
                    d = c.nesterov ? d + mom * buf[i] : buf[i];
                }
                w[i] -= lr * d;
            }
        } else {
            const double b1 = c.beta1, b2 = c.beta2, eps = c.eps;
            const double bc1 = 1.0 - std::pow(b1, (double)(t + 1));
            const double bc2 = 1.0 - std::pow(b2, (double)(t + 1));
            for (size_t i = 0; i < w.size(); i++) {
                double g = gf[i];
                if (c.kind == DGM_OPTIM_ADAMW)
                    w[i] *= 1.0 - lr * wd;
                else
                    g += wd * w[i];
                m[i] = b1 * m[i] + (1.0 - b1) * g;
                v[i] = b2 * v[i] + (1.0 - b2) * g * g;
                const double m_hat = m[i] / bc1, v_hat = v[i] / bc2;
                w[i] -= lr * m_hat / (std::sqrt(v_hat) + eps);
            }
        }
        t++;
    }
};

struct UpdateCase {
    std::string name;
    dgm_optim_config config;
};
void PrintTo(const UpdateCase &c, std::ostream *os) { *os << c.name; }

std::vector<UpdateCase> update_cases()
{
    std::vector<UpdateCase> cases;
    dgm_optim_config c = dgm_optim_config_default(DGM_OPTIM_SGD);
    c.lr = 0.05f;
    cases.push_back({"sgd_plain", c});
    c.momentum = 0.9f;
    cases.push_back({"sgd_momentum", c});
    c.nesterov = true;
    c.weight_decay = 0.01f;
    cases.push_back({"sgd_nesterov_weight_decay", c});
    c.nesterov = false;
    c.weight_decay = 0.0f;
    c.momentum = 0.8f;
    c.dampening = 0.5f;
    cases.push_back({"sgd_dampening", c});
    c = dgm_optim_config_default(DGM_OPTIM_ADAM);
    c.lr = 0.01f;
    cases.push_back({"adam", c});
    c.weight_decay = 0.1f;
    cases.push_back({"adam_weight_decay", c});
    c = dgm_optim_config_default(DGM_OPTIM_ADAMW);
    c.lr = 0.01f;
    c.weight_decay = 0.1f;
    cases.push_back({"adamw", c});
    return cases;
}

// ---- updates against the formulas ----

class OptimUpdate : public ::testing::TestWithParam<UpdateCase> {};

TEST_P(OptimUpdate, FiveStepsMatchFormula)
{
    const UpdateCase &uc = GetParam();
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    ParamsPtr p = make_block(ctx.get());
    ASSERT_TRUE(p);
    const std::vector<float> w0 = initial_values();
    set_values(p.get(), w0);
    dgm_optim *raw = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_optim_create(p.get(), &uc.config, &raw));
    OptimPtr o(raw);
    Reference ref(uc.config, w0);
    for (int s = 0; s < 5; s++) {
        const std::vector<float> g = gradient_at(s);
        set_grads(p.get(), g);
        DGM_ASSERT_OK(ctx.get(), dgm_optim_step(o.get()));
        ref.step(g);
        EXPECT_EQ(host_copy(dgm_params_grads(p.get()), kTrainable), g)
            << "the step changed the gradients";
        expect_rel(host_copy(dgm_params_values(p.get()), kTrainable), ref.w,
                   uc.name + " weights after update " + std::to_string(s + 1));
    }
    EXPECT_EQ(dgm_optim_steps(o.get()), 5);
    // State buffers against the reference's.
    if (uc.config.kind == DGM_OPTIM_SGD && uc.config.momentum != 0.0f) {
        ASSERT_EQ(dgm_optim_state_count(o.get()), 1);
        expect_rel(host_copy(dgm_optim_state_data(o.get(), 0), kTrainable), ref.buf,
                   uc.name + " momentum_buffer");
    } else if (uc.config.kind != DGM_OPTIM_SGD) {
        ASSERT_EQ(dgm_optim_state_count(o.get()), 2);
        expect_rel(host_copy(dgm_optim_state_data(o.get(), 0), kTrainable), ref.m,
                   uc.name + " exp_avg");
        expect_rel(host_copy(dgm_optim_state_data(o.get(), 1), kTrainable), ref.v,
                   uc.name + " exp_avg_sq");
    }
    // Buffers are not optimized.
    const float *values = dgm_params_values(p.get());
    for (int64_t i = kTrainable; i < kTotal; i++)
        EXPECT_EQ(values[i], w0[(size_t)i]) << "buffer element " << i - kTrainable;
}

std::string update_case_name(const ::testing::TestParamInfo<UpdateCase> &info)
{
    return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Optim, OptimUpdate, ::testing::ValuesIn(update_cases()),
                         update_case_name);

// Resuming from saved state (buffers and step count) continues exactly where the first
// optimizer was: SGD's first-update rule and Adam's bias corrections follow the count.
TEST_P(OptimUpdate, ResumeFromStateContinuesExactly)
{
    const UpdateCase &uc = GetParam();
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    ParamsPtr p1 = make_block(ctx.get()), p2 = make_block(ctx.get());
    ASSERT_TRUE(p1 && p2);
    set_values(p1.get(), initial_values());
    dgm_optim *r1 = nullptr, *r2 = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_optim_create(p1.get(), &uc.config, &r1));
    OptimPtr o1(r1);
    for (int s = 0; s < 3; s++) {
        set_grads(p1.get(), gradient_at(s));
        DGM_ASSERT_OK(ctx.get(), dgm_optim_step(o1.get()));
    }
    // The checkpoint: values, state buffers, step count.
    set_values(p2.get(), host_copy(dgm_params_values(p1.get()), kTotal));
    DGM_ASSERT_OK(ctx.get(), dgm_optim_create(p2.get(), &uc.config, &r2));
    OptimPtr o2(r2);
    ASSERT_EQ(dgm_optim_state_count(o2.get()), dgm_optim_state_count(o1.get()));
    for (int i = 0; i < dgm_optim_state_count(o1.get()); i++)
        std::memcpy(dgm_optim_state_data(o2.get(), i), dgm_optim_state_data(o1.get(), i),
                    kTrainable * sizeof(float));
    dgm_optim_set_steps(o2.get(), dgm_optim_steps(o1.get()));
    for (int s = 3; s < 5; s++) {
        set_grads(p1.get(), gradient_at(s));
        set_grads(p2.get(), gradient_at(s));
        DGM_ASSERT_OK(ctx.get(), dgm_optim_step(o1.get()));
        DGM_ASSERT_OK(ctx.get(), dgm_optim_step(o2.get()));
    }
    EXPECT_EQ(host_copy(dgm_params_values(p2.get()), kTotal),
              host_copy(dgm_params_values(p1.get()), kTotal));
    EXPECT_EQ(dgm_optim_steps(o2.get()), 5);
}

// ---- configuration and state ----

TEST(OptimConfig, DefaultsAndNames)
{
    dgm_optim_config c = dgm_optim_config_default(DGM_OPTIM_SGD);
    EXPECT_EQ(c.kind, DGM_OPTIM_SGD);
    EXPECT_FLOAT_EQ(c.lr, 1e-2f);
    EXPECT_EQ(c.momentum, 0.0f);
    EXPECT_EQ(c.dampening, 0.0f);
    EXPECT_FALSE(c.nesterov);
    EXPECT_EQ(c.weight_decay, 0.0f);
    c = dgm_optim_config_default(DGM_OPTIM_ADAM);
    EXPECT_FLOAT_EQ(c.lr, 1e-3f);
    EXPECT_FLOAT_EQ(c.beta1, 0.9f);
    EXPECT_FLOAT_EQ(c.beta2, 0.999f);
    EXPECT_FLOAT_EQ(c.eps, 1e-8f);
    EXPECT_EQ(c.weight_decay, 0.0f);
    c = dgm_optim_config_default(DGM_OPTIM_ADAMW);
    EXPECT_FLOAT_EQ(c.lr, 1e-3f);
    EXPECT_FLOAT_EQ(c.weight_decay, 1e-2f);
    EXPECT_STREQ(dgm_optim_kind_name(DGM_OPTIM_SGD), "sgd");
    EXPECT_STREQ(dgm_optim_kind_name(DGM_OPTIM_ADAM), "adam");
    EXPECT_STREQ(dgm_optim_kind_name(DGM_OPTIM_ADAMW), "adamw");
    EXPECT_EQ(dgm_optim_kind_name(DGM_OPTIM_COUNT), nullptr);
    EXPECT_EQ(dgm_optim_kind_name((dgm_optim_kind)-1), nullptr);
}

TEST(OptimState, NamesCountsAndZeroStart)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    ParamsPtr p = make_block(ctx.get());
    ASSERT_TRUE(p);
    struct Expect {
        dgm_optim_config c;
        std::vector<std::string> names;
    };
    dgm_optim_config sgd = dgm_optim_config_default(DGM_OPTIM_SGD), mom = sgd;
    mom.momentum = 0.9f;
    const Expect expects[] = {
        {sgd, {}},
        {mom, {"momentum_buffer"}},
        {dgm_optim_config_default(DGM_OPTIM_ADAM), {"exp_avg", "exp_avg_sq"}},
        {dgm_optim_config_default(DGM_OPTIM_ADAMW), {"exp_avg", "exp_avg_sq"}},
    };
    for (const Expect &e : expects) {
        dgm_optim *raw = nullptr;
        DGM_ASSERT_OK(ctx.get(), dgm_optim_create(p.get(), &e.c, &raw));
        OptimPtr o(raw);
        const std::string kind = dgm_optim_kind_name(e.c.kind);
        ASSERT_EQ(dgm_optim_state_count(o.get()), (int)e.names.size()) << kind;
        for (int i = 0; i < (int)e.names.size(); i++) {
            EXPECT_STREQ(dgm_optim_state_name(o.get(), i), e.names[(size_t)i].c_str()) << kind;
            const float *d = dgm_optim_state_data(o.get(), i);
            ASSERT_NE(d, nullptr) << kind;
            for (int64_t j = 0; j < kTrainable; j++) EXPECT_EQ(d[j], 0.0f) << kind;
        }
        const int n = (int)e.names.size();
        EXPECT_EQ(dgm_optim_state_name(o.get(), n), nullptr);
        EXPECT_EQ(dgm_optim_state_name(o.get(), -1), nullptr);
        EXPECT_EQ(dgm_optim_state_data(o.get(), n), nullptr);
        EXPECT_EQ(dgm_optim_steps(o.get()), 0);
        EXPECT_FLOAT_EQ(dgm_optim_lr(o.get()), e.c.lr);
        dgm_optim_set_lr(o.get(), 0.125f);
        EXPECT_EQ(dgm_optim_lr(o.get()), 0.125f);
        dgm_optim_set_steps(o.get(), 42);
        EXPECT_EQ(dgm_optim_steps(o.get()), 42);
        dgm_optim_set_steps(o.get(), -3); // ignored
        EXPECT_EQ(dgm_optim_steps(o.get()), 42);
    }
    // NULL handles answer neutrally.
    EXPECT_EQ(dgm_optim_state_count(nullptr), 0);
    EXPECT_EQ(dgm_optim_state_name(nullptr, 0), nullptr);
    EXPECT_EQ(dgm_optim_state_data(nullptr, 0), nullptr);
    EXPECT_EQ(dgm_optim_steps(nullptr), 0);
    dgm_optim_set_lr(nullptr, 1.0f);
    dgm_optim_set_steps(nullptr, 1);
    dgm_optim_free(nullptr);
    dgm_ema_free(nullptr);
    EXPECT_EQ(dgm_ema_data(nullptr), nullptr);
}

// A block of buffers only has nothing to optimize: steps still count.
TEST(OptimState, BlockWithoutTrainableParameters)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    dgm_params *raw = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_params_create(ctx.get(), &raw));
    ParamsPtr p(raw);
    const int64_t shape[1] = {3};
    DGM_ASSERT_OK(ctx.get(),
                  dgm_params_add_buffer(p.get(), "running", 1, shape, {DGM_INIT_ONES, 0, 0}));
    DGM_ASSERT_OK(ctx.get(), dgm_params_alloc(p.get()));
    const dgm_optim_config c = dgm_optim_config_default(DGM_OPTIM_ADAM);
    dgm_optim *o = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_optim_create(p.get(), &c, &o));
    OptimPtr op(o);
    DGM_ASSERT_OK(ctx.get(), dgm_optim_step(o));
    EXPECT_EQ(dgm_optim_steps(o), 1);
    float norm = -1.0f;
    DGM_ASSERT_OK(ctx.get(), dgm_clip_grad_norm(p.get(), 1.0f, &norm));
    EXPECT_EQ(norm, 0.0f);
    dgm_ema *e = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_ema_create(p.get(), 0.9f, &e));
    EmaPtr ep(e);
    DGM_ASSERT_OK(ctx.get(), dgm_ema_update(e));
    DGM_ASSERT_OK(ctx.get(), dgm_ema_swap(e));
    EXPECT_EQ(dgm_params_values(p.get())[0], 1.0f);
}

// ---- gradient clipping ----

double global_norm(const std::vector<float> &g)
{
    double s = 0.0;
    for (float x : g) s += (double)x * (double)x;
    return std::sqrt(s);
}

TEST(OptimClip, ScalesToMaxNormAndReturnsNormBefore)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    ParamsPtr p = make_block(ctx.get());
    ASSERT_TRUE(p);
    const std::vector<float> g = gradient_at(2);
    set_grads(p.get(), g);
    const double norm = global_norm(g);
    const float max_norm = (float)(norm / 3.0);
    float got_norm = -1.0f;
    DGM_ASSERT_OK(ctx.get(), dgm_clip_grad_norm(p.get(), max_norm, &got_norm));
    EXPECT_NEAR(got_norm, norm, 1e-6 * norm);
    const double coef = (double)max_norm / (norm + 1e-6);
    std::vector<double> want;
    for (float x : g) want.push_back(x * coef);
    const std::vector<float> clipped = host_copy(dgm_params_grads(p.get()), kTrainable);
    expect_rel(clipped, want, "clipped gradients");
    EXPECT_NEAR(global_norm(clipped), max_norm, 1e-5 * max_norm);
    // Values are not touched.
    EXPECT_EQ(host_copy(dgm_params_values(p.get()), kTotal), std::vector<float>(kTotal, 0.0f));
}

TEST(OptimClip, UntouchedBelowMaxNorm)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    ParamsPtr p = make_block(ctx.get());
    ASSERT_TRUE(p);
    const std::vector<float> g = gradient_at(4);
    set_grads(p.get(), g);
    const double norm = global_norm(g);
    float got_norm = -1.0f;
    DGM_ASSERT_OK(ctx.get(), dgm_clip_grad_norm(p.get(), (float)(2.0 * norm), &got_norm));
    EXPECT_NEAR(got_norm, norm, 1e-6 * norm);
    EXPECT_EQ(host_copy(dgm_params_grads(p.get()), kTrainable), g);
    // Without norm_out, and with an infinite max_norm (measure only).
    DGM_ASSERT_OK(ctx.get(), dgm_clip_grad_norm(p.get(), (float)(2.0 * norm), nullptr));
    DGM_ASSERT_OK(ctx.get(),
                  dgm_clip_grad_norm(p.get(), std::numeric_limits<float>::infinity(), &got_norm));
    EXPECT_NEAR(got_norm, norm, 1e-6 * norm);
    EXPECT_EQ(host_copy(dgm_params_grads(p.get()), kTrainable), g);
    DGM_ASSERT_OK(ctx.get(), dgm_ctx_step_end(ctx.get()));
}

// As torch.nn.utils.clip_grad_norm_: a NaN gradient makes the norm and every gradient
// NaN rather than being hidden.
TEST(OptimClip, NanGradientPropagates)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    ParamsPtr p = make_block(ctx.get());
    ASSERT_TRUE(p);
    std::vector<float> g = gradient_at(0);
    g[3] = std::numeric_limits<float>::quiet_NaN();
    set_grads(p.get(), g);
    float norm = 0.0f;
    DGM_ASSERT_OK(ctx.get(), dgm_clip_grad_norm(p.get(), 1.0f, &norm));
    EXPECT_TRUE(std::isnan(norm));
    for (float x : host_copy(dgm_params_grads(p.get()), kTrainable)) EXPECT_TRUE(std::isnan(x));
}

// ---- EMA ----

TEST(OptimEma, MatchesClosedFormAfterKUpdates)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    ParamsPtr p = make_block(ctx.get());
    ASSERT_TRUE(p);
    const std::vector<float> w0 = initial_values();
    set_values(p.get(), w0);
    const float decay = 0.9f;
    dgm_ema *raw = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_ema_create(p.get(), decay, &raw));
    EmaPtr e(raw);
    ASSERT_NE(dgm_ema_data(e.get()), nullptr);
    EXPECT_EQ(host_copy(dgm_ema_data(e.get()), kTrainable),
              std::vector<float>(w0.begin(), w0.begin() + kTrainable))
        << "the average starts at the values";
    // Constant weights w1 from now on: ema_k = d^k·w0 + (1 - d^k)·w1.
    std::vector<float> w1 = w0;
    for (int64_t i = 0; i < kTrainable; i++) w1[(size_t)i] = 1.5f * w0[(size_t)i];
    set_values(p.get(), w1);
    const int k = 4;
    for (int i = 0; i < k; i++) DGM_ASSERT_OK(ctx.get(), dgm_ema_update(e.get()));
    const double dk = std::pow((double)decay, k);
    std::vector<double> want;
    for (int64_t i = 0; i < kTrainable; i++)
        want.push_back(dk * w0[(size_t)i] + (1.0 - dk) * w1[(size_t)i]);
    expect_rel(host_copy(dgm_ema_data(e.get()), kTrainable), want, "EMA");
    EXPECT_EQ(host_copy(dgm_params_values(p.get()), kTotal), w1) << "values changed";
}

TEST(OptimEma, SwapExchangesAverageAndValues)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    ParamsPtr p = make_block(ctx.get());
    ASSERT_TRUE(p);
    const std::vector<float> w0 = initial_values();
    set_values(p.get(), w0);
    dgm_ema *raw = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_ema_create(p.get(), 0.5f, &raw));
    EmaPtr e(raw);
    std::vector<float> w1 = w0;
    for (int64_t i = 0; i < kTrainable; i++) w1[(size_t)i] = 3.0f;
    set_values(p.get(), w1);
    DGM_ASSERT_OK(ctx.get(), dgm_ema_update(e.get())); // ema = (w0 + 3) / 2
    const std::vector<float> ema = host_copy(dgm_ema_data(e.get()), kTrainable);
    DGM_ASSERT_OK(ctx.get(), dgm_ema_swap(e.get()));
    const std::vector<float> after = host_copy(dgm_params_values(p.get()), kTotal);
    EXPECT_EQ(std::vector<float>(after.begin(), after.begin() + kTrainable), ema);
    EXPECT_EQ(std::vector<float>(after.begin() + kTrainable, after.end()),
              std::vector<float>(w0.begin() + kTrainable, w0.end()))
        << "buffers are not swapped";
    EXPECT_EQ(host_copy(dgm_ema_data(e.get()), kTrainable),
              std::vector<float>(w1.begin(), w1.begin() + kTrainable));
    DGM_ASSERT_OK(ctx.get(), dgm_ema_swap(e.get()));
    EXPECT_EQ(host_copy(dgm_params_values(p.get()), kTotal), w1);
    EXPECT_EQ(host_copy(dgm_ema_data(e.get()), kTrainable), ema);
}

// ---- learning-rate schedules ----

TEST(OptimLr, WarmupThenConstant)
{
    dgm_lr_schedule s = {DGM_LR_CONSTANT, 0.1f, 4, 0, 0.0f};
    EXPECT_FLOAT_EQ(dgm_lr_at(&s, 0), 0.025f); // base·(step+1)/warmup
    EXPECT_FLOAT_EQ(dgm_lr_at(&s, 1), 0.05f);
    EXPECT_FLOAT_EQ(dgm_lr_at(&s, 3), 0.1f);
    EXPECT_FLOAT_EQ(dgm_lr_at(&s, 4), 0.1f);
    EXPECT_FLOAT_EQ(dgm_lr_at(&s, 1000000), 0.1f);
    EXPECT_FLOAT_EQ(dgm_lr_at(&s, -5), 0.025f); // as step 0
    s.warmup_steps = 0;
    EXPECT_EQ(dgm_lr_at(&s, 0), 0.1f);
    EXPECT_EQ(dgm_lr_at(&s, 77), 0.1f);
}

TEST(OptimLr, CosineEndpointsAndMidpoint)
{
    const double pi = std::acos(-1.0);
    dgm_lr_schedule s = {DGM_LR_COSINE, 1.0f, 10, 110, 0.1f};
    EXPECT_FLOAT_EQ(dgm_lr_at(&s, 0), 0.1f);   // warm-up: 1·1/10
    EXPECT_FLOAT_EQ(dgm_lr_at(&s, 4), 0.5f);
    EXPECT_FLOAT_EQ(dgm_lr_at(&s, 9), 1.0f);   // end of warm-up
    EXPECT_FLOAT_EQ(dgm_lr_at(&s, 10), 1.0f);  // start of the cosine
    EXPECT_FLOAT_EQ(dgm_lr_at(&s, 60), 0.55f); // midpoint: (base + min) / 2
    EXPECT_FLOAT_EQ(dgm_lr_at(&s, 35), (float)(0.1 + 0.45 * (1.0 + std::cos(pi / 4.0))));
    EXPECT_FLOAT_EQ(dgm_lr_at(&s, 110), 0.1f); // min_lr at total_steps
    EXPECT_FLOAT_EQ(dgm_lr_at(&s, 5000), 0.1f); // and after
    // Without warm-up.
    s = {DGM_LR_COSINE, 2.0f, 0, 100, 0.0f};
    EXPECT_FLOAT_EQ(dgm_lr_at(&s, 0), 2.0f);
    EXPECT_FLOAT_EQ(dgm_lr_at(&s, 50), 1.0f);
    EXPECT_FLOAT_EQ(dgm_lr_at(&s, 100), 0.0f);
    // total_steps not after the warm-up: min_lr once it is over.
    s = {DGM_LR_COSINE, 1.0f, 10, 5, 0.25f};
    EXPECT_FLOAT_EQ(dgm_lr_at(&s, 9), 1.0f);
    EXPECT_FLOAT_EQ(dgm_lr_at(&s, 10), 0.25f);
}

TEST(OptimLr, InvalidScheduleGivesNan)
{
    EXPECT_TRUE(std::isnan(dgm_lr_at(nullptr, 0)));
    dgm_lr_schedule s = {(dgm_lr_kind)9, 1.0f, 0, 10, 0.0f};
    EXPECT_TRUE(std::isnan(dgm_lr_at(&s, 0)));
    s = {DGM_LR_CONSTANT, 1.0f, -1, 10, 0.0f};
    EXPECT_TRUE(std::isnan(dgm_lr_at(&s, 0)));
}

// ---- errors ----

void expect_error(dgm_ctx *ctx, dgm_status got, dgm_status want, const char *needle)
{
    EXPECT_EQ(got, want) << dgm_status_name(got);
    const std::string msg = dgm_last_error(ctx);
    EXPECT_NE(msg.find(needle), std::string::npos) << "message: '" << msg << "'";
}

TEST(OptimErrors, BadInputReturnsStatusAndMessage)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    dgm_ctx *c = ctx.get();
    ParamsPtr p = make_block(c);
    ASSERT_TRUE(p);
    dgm_optim_config cfg = dgm_optim_config_default(DGM_OPTIM_ADAM);
    dgm_optim *o = reinterpret_cast<dgm_optim *>(&cfg); // must be cleared on failure

    // NULL arguments (no context to hold a message for a NULL block).
    EXPECT_EQ(dgm_optim_create(nullptr, &cfg, &o), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(o, nullptr);
    expect_error(c, dgm_optim_create(p.get(), nullptr, &o), DGM_STATUS_INVALID_ARGUMENT,
                 "config is NULL");
    expect_error(c, dgm_optim_create(p.get(), &cfg, nullptr), DGM_STATUS_INVALID_ARGUMENT,
                 "out is NULL");
    EXPECT_EQ(dgm_optim_step(nullptr), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_clip_grad_norm(nullptr, 1.0f, nullptr), DGM_STATUS_INVALID_ARGUMENT);
    dgm_ema *e = nullptr;
    EXPECT_EQ(dgm_ema_create(nullptr, 0.9f, &e), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_ema_update(nullptr), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_ema_swap(nullptr), DGM_STATUS_INVALID_ARGUMENT);

    // Parameters not allocated yet.
    ParamsPtr unalloc = make_block(c, false);
    ASSERT_TRUE(unalloc);
    expect_error(c, dgm_optim_create(unalloc.get(), &cfg, &o), DGM_STATUS_STATE_ERROR,
                 "dgm_params_alloc");
    EXPECT_EQ(o, nullptr);
    expect_error(c, dgm_clip_grad_norm(unalloc.get(), 1.0f, nullptr), DGM_STATUS_STATE_ERROR,
                 "dgm_params_alloc");
    expect_error(c, dgm_ema_create(unalloc.get(), 0.9f, &e), DGM_STATUS_STATE_ERROR,
                 "dgm_params_alloc");
    EXPECT_EQ(e, nullptr);

    // Unknown kind (the message lists the valid ones).
    cfg.kind = (dgm_optim_kind)7;
    expect_error(c, dgm_optim_create(p.get(), &cfg, &o), DGM_STATUS_INVALID_ARGUMENT,
                 "unknown optimizer kind 7");
    EXPECT_NE(std::string(dgm_last_error(c)).find("DGM_OPTIM_ADAMW"), std::string::npos);
    cfg = dgm_optim_config_default((dgm_optim_kind)-2);
    expect_error(c, dgm_optim_create(p.get(), &cfg, &o), DGM_STATUS_INVALID_ARGUMENT,
                 "unknown optimizer kind");

    // Bad hyper-parameters.
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    struct Bad {
        dgm_optim_kind kind;
        void (*edit)(dgm_optim_config *);
        const char *needle;
    };
    const Bad bads[] = {
        {DGM_OPTIM_SGD, [](dgm_optim_config *x) { x->lr = std::nanf(""); }, "learning rate"},
        {DGM_OPTIM_ADAM, [](dgm_optim_config *x) { x->lr = -1e-3f; }, "learning rate"},
        {DGM_OPTIM_ADAMW, [](dgm_optim_config *x) { x->lr = INFINITY; }, "learning rate"},
        {DGM_OPTIM_SGD, [](dgm_optim_config *x) { x->momentum = -0.5f; }, "momentum"},
        {DGM_OPTIM_SGD, [](dgm_optim_config *x) { x->nesterov = true; }, "Nesterov"},
        {DGM_OPTIM_SGD,
         [](dgm_optim_config *x) {
             x->nesterov = true;
             x->momentum = 0.9f;
             x->dampening = 0.1f;
         },
         "Nesterov"},
        {DGM_OPTIM_SGD, [](dgm_optim_config *x) { x->weight_decay = -1.0f; }, "weight_decay"},
        {DGM_OPTIM_ADAM, [](dgm_optim_config *x) { x->beta1 = 1.0f; }, "betas"},
        {DGM_OPTIM_ADAM, [](dgm_optim_config *x) { x->beta2 = std::nanf(""); }, "betas"},
        {DGM_OPTIM_ADAMW, [](dgm_optim_config *x) { x->eps = -1.0f; }, "eps"},
    };
    for (const Bad &b : bads) {
        cfg = dgm_optim_config_default(b.kind);
        b.edit(&cfg);
        expect_error(c, dgm_optim_create(p.get(), &cfg, &o), DGM_STATUS_INVALID_ARGUMENT,
                     b.needle);
        EXPECT_EQ(o, nullptr);
    }

    // A NaN learning rate set later is caught by the step, which then changes nothing.
    cfg = dgm_optim_config_default(DGM_OPTIM_ADAM);
    DGM_ASSERT_OK(c, dgm_optim_create(p.get(), &cfg, &o));
    OptimPtr op(o);
    const std::vector<float> before = host_copy(dgm_params_values(p.get()), kTotal);
    dgm_optim_set_lr(o, nan);
    expect_error(c, dgm_optim_step(o), DGM_STATUS_INVALID_ARGUMENT, "learning rate nan");
    dgm_optim_set_lr(o, inf);
    expect_error(c, dgm_optim_step(o), DGM_STATUS_INVALID_ARGUMENT, "dgm_optim_step");
    EXPECT_EQ(dgm_optim_steps(o), 0);
    EXPECT_EQ(host_copy(dgm_params_values(p.get()), kTotal), before);
    // A schedule's NaN (invalid schedule) is rejected the same way.
    dgm_lr_schedule bad_schedule = {(dgm_lr_kind)5, 1.0f, 0, 0, 0.0f};
    dgm_optim_set_lr(o, dgm_lr_at(&bad_schedule, 0));
    EXPECT_EQ(dgm_optim_step(o), DGM_STATUS_INVALID_ARGUMENT);
    dgm_optim_set_lr(o, 1e-3f);
    DGM_ASSERT_OK(c, dgm_optim_step(o));

    // Clip and EMA arguments.
    for (float m : {0.0f, -1.0f, nan})
        expect_error(c, dgm_clip_grad_norm(p.get(), m, nullptr), DGM_STATUS_INVALID_ARGUMENT,
                     "max_norm");
    for (float d : {-0.1f, 1.5f, nan}) {
        expect_error(c, dgm_ema_create(p.get(), d, &e), DGM_STATUS_INVALID_ARGUMENT, "decay");
        EXPECT_EQ(e, nullptr);
    }
    expect_error(c, dgm_ema_create(p.get(), 0.9f, nullptr), DGM_STATUS_INVALID_ARGUMENT,
                 "out is NULL");
}

// Clipping's few KiB of step memory count against the arena limit.
TEST(OptimErrors, ClipOutOfStepMemory)
{
    dgm_ctx_config cfg = dgm_ctx_config_default();
    cfg.device = DGM_DEVICE_CPU;
    cfg.arena_limit = 4096;
    dgm_ctx *raw = nullptr;
    ASSERT_EQ(dgm_ctx_create(&cfg, &raw), DGM_STATUS_OK) << (raw ? dgm_last_error(raw) : "");
    CtxPtr ctx(raw);
    ParamsPtr p = make_block(ctx.get());
    ASSERT_TRUE(p);
    set_grads(p.get(), gradient_at(0));
    expect_error(ctx.get(), dgm_clip_grad_norm(p.get(), 1e-3f, nullptr), DGM_STATUS_OOM,
                 "dgm_clip_grad_norm");
    EXPECT_EQ(host_copy(dgm_params_grads(p.get()), kTrainable), gradient_at(0));
}

// ---- CUDA against CPU ----

// Device-independent access to a block through its views.
void write_values(dgm_ctx *ctx, dgm_params *p, const std::vector<float> &v)
{
    // Views in declaration order: a (values 0..5), running (10..12), b (6..9).
    const size_t offset[3] = {0, (size_t)kTrainable, 6};
    for (int i = 0; i < dgm_params_count(p); i++)
        ASSERT_EQ(dgm_tensor_copy_from_host(ctx, dgm_params_at(p, i), v.data() + offset[i]),
                  DGM_STATUS_OK)
            << dgm_last_error(ctx);
}

std::vector<float> read_values(dgm_ctx *ctx, dgm_params *p)
{
    std::vector<float> a = to_host(ctx, dgm_params_get(p, "a"));
    std::vector<float> b = to_host(ctx, dgm_params_get(p, "b"));
    std::vector<float> r = to_host(ctx, dgm_params_get(p, "running"));
    a.insert(a.end(), b.begin(), b.end());
    a.insert(a.end(), r.begin(), r.end());
    return a;
}

std::vector<float> read_grads(dgm_ctx *ctx, dgm_params *p)
{
    std::vector<float> out;
    for (const char *name : {"a", "b"}) {
        dgm_tensor *g = nullptr;
        EXPECT_EQ(dgm_grad(ctx, dgm_params_get(p, name), &g), DGM_STATUS_OK)
            << dgm_last_error(ctx);
        if (!g) return {};
        std::vector<float> h = to_host(ctx, g);
        out.insert(out.end(), h.begin(), h.end());
    }
    return out;
}

// Gradients g exactly, on any device: the backward of sum(a ⊙ g_a) + sum(b ⊙ g_b) into
// cleared gradients.
void write_grads(dgm_ctx *ctx, dgm_params *p, const std::vector<float> &g)
{
    ASSERT_EQ(dgm_params_zero_grad(p), DGM_STATUS_OK) << dgm_last_error(ctx);
    dgm_tensor *a = dgm_params_get(p, "a"), *b = dgm_params_get(p, "b");
    dgm_tensor *ga = from_host(ctx, {2, 3}, std::vector<float>(g.begin(), g.begin() + 6));
    dgm_tensor *gb = from_host(ctx, {4}, std::vector<float>(g.begin() + 6, g.end()));
    dgm_tensor *pa = nullptr, *pb = nullptr, *sa = nullptr, *sb = nullptr, *loss = nullptr;
    ASSERT_EQ(dgm_mul(ctx, a, ga, &pa), DGM_STATUS_OK) << dgm_last_error(ctx);
    ASSERT_EQ(dgm_mul(ctx, b, gb, &pb), DGM_STATUS_OK) << dgm_last_error(ctx);
    ASSERT_EQ(dgm_sum(ctx, pa, DGM_AXIS_ALL, &sa), DGM_STATUS_OK) << dgm_last_error(ctx);
    ASSERT_EQ(dgm_sum(ctx, pb, DGM_AXIS_ALL, &sb), DGM_STATUS_OK) << dgm_last_error(ctx);
    ASSERT_EQ(dgm_add(ctx, sa, sb, &loss), DGM_STATUS_OK) << dgm_last_error(ctx);
    ASSERT_EQ(dgm_backward(ctx, loss), DGM_STATUS_OK) << dgm_last_error(ctx);
}

struct DeviceRun {
    std::vector<std::vector<float>> values; // after each update
    std::vector<std::vector<float>> grads;  // after each clipping
    std::vector<float> norms, ema;
};

// Five training steps: gradients, clipping (active), the update, the EMA, step end.
void run_steps(dgm_ctx *ctx, const dgm_optim_config &cfg, DeviceRun *out)
{
    ParamsPtr p = make_block(ctx);
    ASSERT_TRUE(p);
    write_values(ctx, p.get(), initial_values());
    dgm_optim *o = nullptr;
    ASSERT_EQ(dgm_optim_create(p.get(), &cfg, &o), DGM_STATUS_OK) << dgm_last_error(ctx);
    OptimPtr op(o);
    dgm_ema *e = nullptr;
    ASSERT_EQ(dgm_ema_create(p.get(), 0.8f, &e), DGM_STATUS_OK) << dgm_last_error(ctx);
    EmaPtr ep(e);
    for (int s = 0; s < 5; s++) {
        const std::vector<float> g = gradient_at(s);
        write_grads(ctx, p.get(), g);
        if (dgm_ctx_device(ctx) == DGM_DEVICE_CPU) {
            ASSERT_EQ(host_copy(dgm_params_grads(p.get()), kTrainable), g);
        }
        float norm = 0.0f;
        ASSERT_EQ(dgm_clip_grad_norm(p.get(), 0.4f, &norm), DGM_STATUS_OK) << dgm_last_error(ctx);
        out->norms.push_back(norm);
        out->grads.push_back(read_grads(ctx, p.get()));
        ASSERT_EQ(dgm_optim_step(o), DGM_STATUS_OK) << dgm_last_error(ctx);
        ASSERT_EQ(dgm_ema_update(e), DGM_STATUS_OK) << dgm_last_error(ctx);
        out->values.push_back(read_values(ctx, p.get()));
        ASSERT_EQ(dgm_ctx_step_end(ctx), DGM_STATUS_OK) << dgm_last_error(ctx);
    }
    ASSERT_EQ(dgm_ema_swap(e), DGM_STATUS_OK) << dgm_last_error(ctx);
    out->ema = read_values(ctx, p.get());
}

void expect_close(const std::vector<float> &cuda, const std::vector<float> &cpu,
                  const std::string &what)
{
    ASSERT_EQ(cuda.size(), cpu.size()) << what;
    for (size_t i = 0; i < cpu.size(); i++)
        EXPECT_NEAR(cuda[i], cpu[i], 1e-6f + 1e-5f * std::fabs(cpu[i])) << what << " element " << i;
}

TEST_P(OptimUpdate, CudaMatchesCpu)
{
    SKIP_WITHOUT_GPU();
    const UpdateCase &uc = GetParam();
    std::string why;
    CtxPtr cpu = make_ctx(DGM_DEVICE_CPU, 3), gpu = make_ctx(DGM_DEVICE_CUDA, 3, &why);
    ASSERT_TRUE(cpu);
    ASSERT_TRUE(gpu) << why;
    DeviceRun rc, rg;
    run_steps(cpu.get(), uc.config, &rc);
    ASSERT_FALSE(HasFatalFailure());
    run_steps(gpu.get(), uc.config, &rg);
    ASSERT_FALSE(HasFatalFailure());
    expect_close(rg.norms, rc.norms, uc.name + " gradient norms");
    for (size_t s = 0; s < rc.values.size(); s++) {
        expect_close(rg.grads[s], rc.grads[s],
                     uc.name + " clipped gradients of update " + std::to_string(s + 1));
        expect_close(rg.values[s], rc.values[s],
                     uc.name + " values after update " + std::to_string(s + 1));
    }
    expect_close(rg.ema, rc.ema, uc.name + " EMA");
}

// Clipping and the sum of squares over a block large enough for many CUDA blocks (and
// more than DGM_SUM_SQUARES_PARTIALS of them).
TEST(OptimCudaParity, ClipLargeBlock)
{
    SKIP_WITHOUT_GPU();
    std::string why;
    CtxPtr cpu = make_ctx(DGM_DEVICE_CPU, 3), gpu = make_ctx(DGM_DEVICE_CUDA, 3, &why);
    ASSERT_TRUE(cpu);
    ASSERT_TRUE(gpu) << why;
    const int64_t n = 1 << 20 | 123;
    std::mt19937 rng(17);
    const std::vector<float> g = random_values(rng, n, -1.0f, 1.0f);
    float norms[2] = {0, 0};
    std::vector<float> clipped[2];
    dgm_ctx *ctxs[2] = {cpu.get(), gpu.get()};
    for (int d = 0; d < 2; d++) {
        dgm_ctx *ctx = ctxs[d];
        dgm_params *raw = nullptr;
        ASSERT_EQ(dgm_params_create(ctx, &raw), DGM_STATUS_OK);
        ParamsPtr p(raw);
        ASSERT_EQ(dgm_params_add(p.get(), "w", 1, &n, {DGM_INIT_ZEROS, 0, 0}), DGM_STATUS_OK);
        ASSERT_EQ(dgm_params_alloc(p.get()), DGM_STATUS_OK) << dgm_last_error(ctx);
        dgm_tensor *w = dgm_params_get(p.get(), "w");
        dgm_tensor *c = from_host(ctx, {n}, g), *prod = nullptr, *loss = nullptr;
        ASSERT_EQ(dgm_mul(ctx, w, c, &prod), DGM_STATUS_OK) << dgm_last_error(ctx);
        ASSERT_EQ(dgm_sum(ctx, prod, DGM_AXIS_ALL, &loss), DGM_STATUS_OK);
        ASSERT_EQ(dgm_backward(ctx, loss), DGM_STATUS_OK) << dgm_last_error(ctx);
        ASSERT_EQ(dgm_clip_grad_norm(p.get(), 1.0f, &norms[d]), DGM_STATUS_OK)
            << dgm_last_error(ctx);
        dgm_tensor *gt = nullptr;
        ASSERT_EQ(dgm_grad(ctx, w, &gt), DGM_STATUS_OK) << dgm_last_error(ctx);
        clipped[d] = to_host(ctx, gt);
        ASSERT_EQ(dgm_ctx_step_end(ctx), DGM_STATUS_OK);
    }
    EXPECT_NEAR(norms[1], norms[0], 1e-5f * norms[0]);
    EXPECT_NEAR(norms[0], global_norm(g), 1e-6 * global_norm(g));
    expect_close(clipped[1], clipped[0], "clipped gradients");
}

} // namespace
