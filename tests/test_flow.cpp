// Flow layers and the realnvp model: every layer inverts (x -> y -> x), its log-determinant
// matches that of a finite-difference Jacobian (determinant in double), a fresh flow's NLL
// is the base density's, a trained flow's density integrates to 1 over the plane, and the
// image path (dequantization + logit) trains to a finite bits/dim with samples in [0, 1].
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>

#include "cli_test.h"
#include "nn/multiscale_flow.h"

using namespace dgmtest;

namespace {

// A block holding one layer of each kind for dim D, with random parameters (so the
// couplings are not the identity they start as).
struct Layers {
    CtxPtr ctx;
    dgm_params *p = nullptr;
    dgm_coupling *c0 = nullptr, *c1 = nullptr;
    dgm_actnorm *a = nullptr;
    dgm_invlinear *lu = nullptr;
    dgm_permutation *perm = nullptr;
    explicit Layers(int64_t d)
    {
        ctx = make_ctx(DGM_DEVICE_CPU, 3);
        const int64_t hidden[2] = {16, 16};
        EXPECT_EQ(dgm_params_create(ctx.get(), &p), DGM_STATUS_OK);
        EXPECT_EQ(dgm_coupling_create(p, "c0", d, false, 2, hidden, DGM_ACT_RELU, &c0), DGM_STATUS_OK);
        EXPECT_EQ(dgm_coupling_create(p, "c1", d, true, 2, hidden, DGM_ACT_TANH, &c1), DGM_STATUS_OK);
        EXPECT_EQ(dgm_actnorm_create(p, "a", d, &a), DGM_STATUS_OK);
        EXPECT_EQ(dgm_invlinear_create(p, "lu", d, 7, &lu), DGM_STATUS_OK);
        EXPECT_EQ(dgm_permutation_create(ctx.get(), d, 67, &perm), DGM_STATUS_OK);
        EXPECT_EQ(dgm_params_alloc(p), DGM_STATUS_OK);
        std::mt19937 rng(11);
        std::normal_distribution<float> n(0.0f, 0.4f);
        float *v = dgm_params_values(p);
        for (int64_t i = 0; i < dgm_params_numel(p); i++) v[i] = n(rng);
    }
    ~Layers()
    {
        dgm_coupling_free(c0);
        dgm_coupling_free(c1);
        dgm_actnorm_free(a);
        dgm_invlinear_free(lu);
        dgm_permutation_free(perm);
        dgm_params_free(p);
    }
    static constexpr int kinds = 5;
    // Layer k (0, 1: couplings; 2: actnorm; 3: LU linear; 4: permutation) forward: y and
    // per-row log|det| (the permutation's: zeros).
    void forward(int k, dgm_tensor *x, dgm_tensor **y, dgm_tensor **ld)
    {
        if (k == 4) {
            ASSERT_EQ(dgm_permutation_forward(ctx.get(), perm, x, y), DGM_STATUS_OK) << dgm_last_error(ctx.get());
            *ld = from_host(ctx.get(), {dgm_tensor_dim(x, 0), 1}, std::vector<float>(dgm_tensor_dim(x, 0), 0.0f));
            return;
        }
        dgm_status st = k == 3   ? dgm_invlinear_forward(ctx.get(), lu, x, y, ld)
                        : k == 2 ? dgm_actnorm_forward(ctx.get(), a, x, y, ld)
                                 : dgm_coupling_forward(ctx.get(), k ? c1 : c0, x, y, ld);
        ASSERT_EQ(st, DGM_STATUS_OK) << dgm_last_error(ctx.get());
    }
    void inverse(int k, dgm_tensor *y, dgm_tensor **x)
    {
        dgm_status st = k == 4   ? dgm_permutation_inverse(ctx.get(), perm, y, x)
                        : k == 3 ? dgm_invlinear_inverse(ctx.get(), lu, y, x)
                        : k == 2 ? dgm_actnorm_inverse(ctx.get(), a, y, x)
                                 : dgm_coupling_inverse(ctx.get(), k ? c1 : c0, y, x);
        ASSERT_EQ(st, DGM_STATUS_OK) << dgm_last_error(ctx.get());
    }
};

double log_abs_det(std::vector<double> a, int n)
{
    double s = 0.0;
    for (int c = 0; c < n; c++) {
        int piv = c;
        for (int r = c + 1; r < n; r++)
            if (std::fabs(a[r * n + c]) > std::fabs(a[piv * n + c])) piv = r;
        if (piv != c)
            for (int j = 0; j < n; j++) std::swap(a[c * n + j], a[piv * n + j]);
        s += std::log(std::fabs(a[c * n + c]));
        for (int r = c + 1; r < n; r++) {
            const double f = a[r * n + c] / a[c * n + c];
            for (int j = c; j < n; j++) a[r * n + j] -= f * a[c * n + j];
        }
    }
    return s;
}

// Checks each row's log|det ∂y/∂x| from `forward` (x [rows, d] -> y, logdet [rows, 1])
// against central differences of its output (step 1e-2; the Jacobian and its determinant
// in double). Row r's Jacobian: column j of every row perturbed at once (rows are
// independent).
void expect_logdet_is_the_jacobians(dgm_ctx *ctx, const std::function<void(dgm_tensor *, dgm_tensor **, dgm_tensor **)> &forward,
                                    const std::vector<float> &xv, int rows, int64_t d, double tol, const std::string &what)
{
    dgm_tensor *y = nullptr, *ld = nullptr;
    forward(from_host(ctx, {rows, d}, xv), &y, &ld);
    const std::vector<float> lds = to_host(ctx, ld);
    ASSERT_EQ(lds.size(), (size_t)rows) << what;
    std::vector<double> jac((size_t)(rows * d * d));
    const float h = 1e-2f;
    for (int64_t j = 0; j < d; j++) {
        std::vector<float> xp = xv, xm = xv;
        for (int r = 0; r < rows; r++) xp[r * d + j] += h, xm[r * d + j] -= h;
        dgm_tensor *yp = nullptr, *ym = nullptr, *unused = nullptr;
        forward(from_host(ctx, {rows, d}, xp), &yp, &unused);
        forward(from_host(ctx, {rows, d}, xm), &ym, &unused);
        const std::vector<float> a = to_host(ctx, yp), b = to_host(ctx, ym);
        for (int r = 0; r < rows; r++)
            for (int64_t i = 0; i < d; i++)
                jac[(size_t)(r * d * d + i * d + j)] = ((double)a[r * d + i] - (double)b[r * d + i]) / (2.0 * h);
    }
    for (int r = 0; r < rows; r++) {
        std::vector<double> jr(jac.begin() + r * d * d, jac.begin() + (r + 1) * d * d);
        EXPECT_NEAR(lds[r], log_abs_det(jr, (int)d), tol) << what << ", row " << r;
    }
}

TEST(FlowLayers, EveryLayerAndTheirStackInvert)
{
    for (int64_t d : {2, 5, 6}) {
        Layers l(d);
        dgm_ctx *ctx = l.ctx.get();
        std::mt19937 rng(d);
        const std::vector<float> xv = random_values(rng, 64 * d, -2.0f, 2.0f);
        dgm_tensor *x = from_host(ctx, {64, d}, xv);
        dgm_tensor *y = nullptr, *ld = nullptr, *back = nullptr;
        for (int k = 0; k < Layers::kinds; k++) {
            l.forward(k, x, &y, &ld);
            l.inverse(k, y, &back);
            const std::vector<float> b = to_host(ctx, back), yv = to_host(ctx, y);
            double moved = 0.0, err = 0.0;
            for (size_t i = 0; i < b.size(); i++) {
                err = std::max(err, (double)std::fabs(b[i] - xv[i]));
                moved = std::max(moved, (double)std::fabs(yv[i] - xv[i]));
            }
            EXPECT_LT(err, 1e-4) << "layer " << k << ", D = " << d;
            EXPECT_GT(moved, 1e-2) << "layer " << k << " is the identity";  // a real test
        }
        // The stack c0 -> actnorm -> LU -> permutation -> c1 and back.
        dgm_tensor *h = x;
        for (int k : {0, 2, 3, 4, 1}) l.forward(k, h, &h, &ld);
        for (int k : {1, 4, 3, 2, 0}) l.inverse(k, h, &h);
        const std::vector<float> b = to_host(ctx, h);
        for (size_t i = 0; i < b.size(); i++) ASSERT_NEAR(b[i], xv[i], 1e-4) << "stack, D = " << d;
        dgm_ctx_step_end(ctx);
    }
}

// log|det ∂y/∂x| of each layer against central differences of its forward pass (float
// outputs, step 1e-2 — the layers are smooth; the Jacobian and its determinant in double;
// seen: within 5e-6).
TEST(FlowLayers, LogDetMatchesAFiniteDifferenceJacobian)
{
    for (int64_t d : {2, 6}) {
        Layers l(d);
        dgm_ctx *ctx = l.ctx.get();
        std::mt19937 rng(40 + d);
        const int rows = 4;
        const std::vector<float> xv = random_values(rng, rows * d, -1.5f, 1.5f);
        for (int k = 0; k < Layers::kinds; k++) {
            expect_logdet_is_the_jacobians(
                ctx, [&](dgm_tensor *x, dgm_tensor **y, dgm_tensor **ld) { l.forward(k, x, y, ld); }, xv, rows, d, 1e-4,
                "layer " + std::to_string(k) + ", D = " + std::to_string(d));
            dgm_ctx_step_end(ctx);
        }
    }
}

// RealNVP's multi-scale flow on small images (checkerboard and channel couplings with
// ResNet conditioners, ActNorm, squeeze, factor-out), its parameters random: it inverts,
// its log-determinant is that of a finite-difference Jacobian, and a checkerboard
// coupling passes its conditioning pixels through unchanged.
TEST(FlowLayers, MultiscaleFlowInvertsWithTheJacobiansLogDet)
{
    const struct {
        int64_t c, h, w;
        int scales;
    } cases[] = {{1, 4, 4, 1}, {1, 8, 8, 2}, {2, 6, 2, 1}};
    for (const auto &k : cases) {
        CtxPtr ctxp = make_ctx(DGM_DEVICE_CPU, 3);
        dgm_ctx *ctx = ctxp.get();
        dgm_params *p = nullptr;
        ASSERT_EQ(dgm_params_create(ctx, &p), DGM_STATUS_OK);
        dgm_multiscale_config cfg = {k.c, k.h, k.w, k.scales, 4, 1, true};
        dgm_multiscale_flow *f = nullptr;
        dgm_conv_coupling *cc = nullptr;
        ASSERT_EQ(dgm_multiscale_flow_create(p, &cfg, &f), DGM_STATUS_OK) << dgm_last_error(ctx);
        ASSERT_EQ(dgm_conv_coupling_create(p, "cc", k.c, k.h, k.w, DGM_COUPLING_CHECKERBOARD, true, 4, 1, &cc), DGM_STATUS_OK);
        ASSERT_EQ(dgm_params_alloc(p), DGM_STATUS_OK);
        std::mt19937 rng(17);
        std::normal_distribution<float> nd(0.0f, 0.1f);
        float *v = dgm_params_values(p);
        for (int64_t i = 0; i < dgm_params_numel(p); i++) v[i] = nd(rng);
        const int64_t d = k.c * k.h * k.w;
        const int rows = 3;
        dgm_tensor *z = nullptr, *ld = nullptr, *back = nullptr;
        // the ActNorms from a batch of 64 (initialization from data)
        ASSERT_EQ(dgm_multiscale_flow_forward(ctx, f, from_host(ctx, {64, d}, random_values(rng, 64 * d, -1.5f, 1.5f)),
                                              true, &z, &ld), DGM_STATUS_OK) << dgm_last_error(ctx);
        ASSERT_EQ(dgm_ctx_step_end(ctx), DGM_STATUS_OK);  // the layers' constants outlive a step
        const std::vector<float> xv = random_values(rng, rows * d, -1.5f, 1.5f);
        ASSERT_EQ(dgm_multiscale_flow_forward(ctx, f, from_host(ctx, {rows, d}, xv), false, &z, &ld), DGM_STATUS_OK);
        ASSERT_EQ(dgm_multiscale_flow_inverse(ctx, f, z, &back), DGM_STATUS_OK) << dgm_last_error(ctx);
        const std::vector<float> b = to_host(ctx, back), zv = to_host(ctx, z);
        double err = 0.0, moved = 0.0;
        for (size_t i = 0; i < b.size(); i++) {
            err = std::max(err, (double)std::fabs(b[i] - xv[i]));
            moved = std::max(moved, (double)std::fabs(zv[i] - xv[i]));
        }
        EXPECT_LT(err, 1e-4) << k.c << "x" << k.h << "x" << k.w;
        EXPECT_GT(moved, 1e-2);
        expect_logdet_is_the_jacobians(
            ctx,
            [&](dgm_tensor *x, dgm_tensor **y, dgm_tensor **l) {
                ASSERT_EQ(dgm_multiscale_flow_forward(ctx, f, x, false, y, l), DGM_STATUS_OK) << dgm_last_error(ctx);
            },
            xv, rows, d, 2e-3, std::to_string(k.c) + "x" + std::to_string(k.h) + "x" + std::to_string(k.w));
        // flip: the odd pixels condition and pass unchanged; the even ones move
        dgm_tensor *y = nullptr, *cld = nullptr;
        ASSERT_EQ(dgm_conv_coupling_forward(ctx, cc, from_host(ctx, {rows, d}, xv), &y, &cld), DGM_STATUS_OK);
        const std::vector<float> yv = to_host(ctx, y);
        double kept = 0.0, changed = 0.0;
        for (int r = 0; r < rows; r++)
            for (int64_t ch = 0, q = 0; ch < k.c; ch++)
                for (int64_t i = 0; i < k.h; i++)
                    for (int64_t j = 0; j < k.w; j++, q++) {
                        const double dv = std::fabs(yv[r * d + q] - xv[r * d + q]);
                        if ((i + j) % 2) kept = std::max(kept, dv);
                        else changed = std::max(changed, dv);
                    }
        EXPECT_EQ(kept, 0.0);
        EXPECT_GT(changed, 1e-2);
        dgm_multiscale_flow_free(f);
        dgm_conv_coupling_free(cc);
        dgm_params_free(p);
    }
}

// A permutation moves whole columns: each output column is one input column, no two the
// same; a seed gives the same shuffle every time, another seed another; bad input is named.
TEST(FlowLayers, PermutationShufflesWholeColumnsBySeed)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    const int64_t d = 12, rows = 3;
    std::vector<float> xv(rows * d);
    for (int r = 0; r < rows; r++)
        for (int64_t j = 0; j < d; j++) xv[r * d + j] = (float)(100 * r + j);
    dgm_tensor *x = from_host(ctx.get(), {rows, d}, xv);
    auto order = [&](uint64_t seed) {
        dgm_permutation *p = nullptr;
        EXPECT_EQ(dgm_permutation_create(ctx.get(), d, seed, &p), DGM_STATUS_OK);
        dgm_tensor *y = nullptr;
        EXPECT_EQ(dgm_permutation_forward(ctx.get(), p, x, &y), DGM_STATUS_OK) << dgm_last_error(ctx.get());
        const std::vector<float> yv = to_host(ctx.get(), y);
        dgm_permutation_free(p);
        std::vector<int> o((size_t)d);
        for (int64_t i = 0; i < d; i++) {
            o[i] = (int)yv[i];
            for (int r = 1; r < rows; r++) EXPECT_EQ(yv[r * d + i], (float)(100 * r + o[i])) << "column " << i;
        }
        return o;
    };
    const std::vector<int> a = order(64), b = order(64), c = order(65);
    std::vector<int> sorted = a;
    std::sort(sorted.begin(), sorted.end());
    for (int64_t i = 0; i < d; i++) EXPECT_EQ(sorted[i], i) << "not a permutation";
    EXPECT_EQ(a, b);
    EXPECT_NE(a, c);
    int fixed = 0;
    for (int64_t i = 0; i < d; i++) fixed += a[i] == i;
    EXPECT_LT(fixed, d / 2) << "barely shuffled";
    dgm_permutation *p = nullptr;
    ASSERT_EQ(dgm_permutation_create(ctx.get(), 5, 1, &p), DGM_STATUS_OK);
    dgm_tensor *y = nullptr;
    EXPECT_EQ(dgm_permutation_forward(ctx.get(), p, x, &y), DGM_STATUS_SHAPE_MISMATCH);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find("[B, 5]"), std::string::npos);
    EXPECT_EQ(dgm_permutation_inverse(ctx.get(), nullptr, x, &y), DGM_STATUS_INVALID_ARGUMENT);
    dgm_permutation_free(p);
    EXPECT_EQ(dgm_permutation_create(ctx.get(), 0, 1, &p), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(p, nullptr);
    dgm_ctx_step_end(ctx.get());
}

TEST(FlowLayers, ActNormStandardizesTheBatchItIsInitializedOn)
{
    Layers l(3);
    dgm_ctx *ctx = l.ctx.get();
    std::mt19937 rng(2);
    std::vector<float> xv(200 * 3);
    std::normal_distribution<float> n;
    for (int i = 0; i < 200; i++)
        for (int j = 0; j < 3; j++) xv[i * 3 + j] = 5.0f + (float)(j + 1) * 3.0f * n(rng);
    dgm_tensor *x = from_host(ctx, {200, 3}, xv), *y = nullptr, *ld = nullptr;
    DGM_ASSERT_OK(ctx, dgm_actnorm_init_data(ctx, l.a, x));
    l.forward(2, x, &y, &ld);
    const std::vector<float> yv = to_host(ctx, y);
    for (int j = 0; j < 3; j++) {
        double m = 0, v = 0;
        for (int i = 0; i < 200; i++) m += yv[i * 3 + j] / 200.0;
        for (int i = 0; i < 200; i++) v += (yv[i * 3 + j] - m) * (yv[i * 3 + j] - m) / 200.0;
        EXPECT_NEAR(m, 0.0, 1e-4);
        EXPECT_NEAR(v, 1.0, 1e-3);
    }
    EXPECT_EQ(dgm_coupling_create(l.p, "late", 1, false, 0, nullptr, DGM_ACT_RELU, &l.c0),
              DGM_STATUS_INVALID_ARGUMENT);  // dim 1 has no halves
}

class RealNvp : public CliTest {};

// With zero last layers every coupling is the identity: the NLL is the base density's.
TEST_F(RealNvp, AFreshFlowHasTheBaseDensity)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    const int64_t shape[1] = {2};
    dgm_model *m = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_model_create(ctx.get(), "realnvp", nullptr, 2, 1, shape, &m));
    std::mt19937 rng(4);
    const std::vector<float> xv = random_values(rng, 500 * 2, -3.0f, 3.0f);
    double want = 0.0;
    for (int i = 0; i < 500; i++)
        want += (0.5 * (xv[2 * i] * xv[2 * i] + xv[2 * i + 1] * xv[2 * i + 1]) + std::log(2.0 * M_PI)) / 500.0;
    dgm_dataset *ds = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_dataset_from_memory(ctx.get(), 500, 1, shape, xv.data(), nullptr, &ds));
    char out[256];
    DGM_ASSERT_OK(ctx.get(), dgm_model_evaluate(m, ds, "nll", out, sizeof out));
    EXPECT_NEAR(std::strtod(std::strchr(out, ':') + 1, nullptr), want, 1e-4) << out;
    dgm_dataset_free(ds);
    dgm_model_free(m);
}

// A flow trained briefly on gauss8: its exact density sums to 1 over a grid covering the
// data (Riemann sum on 300 x 300 cells of [-7, 7]^2; stated tolerance 0.02), and the
// command writes the density picture.
TEST_F(RealNvp, TrainedDensityIntegratesToOne)
{
    CliResult r = dgm("train realnvp --data gauss8 --device cpu --steps 600 --couplings 4 --hidden 32,32 "
                      "--out " + dir + "/f");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(exists(dir + "/f/density.png"));
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    dgm_model *m = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_model_load(ctx.get(), (dir + "/f/checkpoint.safetensors").c_str(), &m));
    const int n = 300;
    const double lo = -7.0, hi = 7.0, cell = (hi - lo) / n;
    std::vector<float> pts;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            pts.push_back((float)(lo + (i + 0.5) * cell));
            pts.push_back((float)(lo + (j + 0.5) * cell));
        }
    dgm_tensor *logp = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_model_log_density(m, from_host(ctx.get(), {n * n, 2}, pts), &logp));
    double mass = 0.0;
    for (float v : to_host(ctx.get(), logp)) mass += std::exp((double)v) * cell * cell;
    EXPECT_NEAR(mass, 1.0, 0.02);
    CliResult e = dgm("eval " + dir + "/f/checkpoint.safetensors --data gauss8");
    ASSERT_EQ(e.code, 0) << e.err;
    const double nll = std::strtod(e.out.c_str() + e.out.find(':') + 1, nullptr);
    EXPECT_LT(nll, 3.6) << e.out;  // a standard normal scores about 5.1 on gauss8
    dgm_tensor *bad = nullptr;
    EXPECT_EQ(dgm_model_log_density(m, from_host(ctx.get(), {2, 3}, std::vector<float>(6)), &bad),
              DGM_STATUS_SHAPE_MISMATCH);
    dgm_model_free(m);
}

// --lu puts an invertible linear layer before each coupling: it trains, and its
// parameters are in the checkpoint under lu.<k>.*.
// Vector data trains with the 2-D peer's setup, images with their own (batch 64, a
// warm-up); --permute and --hidden values are checked.
TEST_F(RealNvp, DefaultsDependOnTheData)
{
    dgm_train_defaults v{}, i{};
    ASSERT_EQ(dgm_model_train_defaults_for_data("realnvp", nullptr, 1, &v), DGM_STATUS_OK);
    ASSERT_EQ(dgm_model_train_defaults_for_data("realnvp", nullptr, 2, &i), DGM_STATUS_OK);
    EXPECT_EQ(v.length, 15000);
    EXPECT_EQ(v.batch, 512);
    EXPECT_EQ(v.schedule.warmup_steps, 0);
    EXPECT_EQ(i.length, 3000);
    EXPECT_EQ(i.batch, 64);
    EXPECT_EQ(i.schedule.warmup_steps, 200);
    EXPECT_FLOAT_EQ(i.optim.lr, 1e-3f);
    CliResult h = dgm("train realnvp --help");
    EXPECT_NE(h.out.find("on images (samples of 2 or more dimensions), instead:"), std::string::npos) << h.out;
    for (const char *opt : {"--permute sideways", "--hidden 64,0", "--hidden 64,,8"}) {
        CliResult r = dgm(std::string("train realnvp --data moons --device cpu --steps 1 ") + opt + " --out " + dir + "/x");
        EXPECT_EQ(r.code, 2) << opt << ": " << r.err;
        EXPECT_NE(r.err.find(std::string(opt).substr(0, 8)), std::string::npos) << r.err;
    }
}

// On 6-D data with random permutations a fresh flow still has the base density: the
// permutations move columns, add no log-determinant, and leave Σz² as it was.
TEST_F(RealNvp, RandomPermutationsOnVectors)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    dgm_model *m = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_model_create(ctx.get(), "realnvp", "{\"permute\": \"random\", \"couplings\": 3}", 6, 1,
                                              nullptr, &m));
    std::mt19937 rng(5);
    const std::vector<float> xv = random_values(rng, 8 * 6, -2.0f, 2.0f);
    dgm_tensor *lp = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_model_log_density(m, from_host(ctx.get(), {8, 6}, xv), &lp));
    const std::vector<float> l = to_host(ctx.get(), lp);
    for (int r = 0; r < 8; r++) {
        double sq = 0.0;
        for (int j = 0; j < 6; j++) sq += (double)xv[r * 6 + j] * xv[r * 6 + j];
        EXPECT_NEAR(l[r], -0.5 * sq - 3.0 * std::log(2.0 * M_PI), 1e-4);
    }
    dgm_ctx_step_end(ctx.get());
    dgm_model_free(m);
}

TEST_F(RealNvp, LuLayersTrainAndAreSaved)
{
    CliResult r = dgm("train realnvp --data moons --device cpu --steps 100 --couplings 2 --hidden 16 --lu true "
                      "--out " + dir + "/l");
    ASSERT_EQ(r.code, 0) << r.err;
    CliResult i = dgm("info " + dir + "/l/checkpoint.safetensors");
    for (const char *name : {"lu.0.lower", "lu.1.upper", "lu.1.log_s"})
        EXPECT_NE(i.out.find(name), std::string::npos) << name << "\n" << i.out;
    CliResult s = dgm("sample " + dir + "/l/checkpoint.safetensors -n 10 -o " + dir + "/s.csv");
    EXPECT_EQ(s.code, 0) << s.err;
}

// Images: 8x8 pictures of 256 levels train to a finite bits/dim below the uniform's 8,
// samples come back in [0, 1], and values outside [0, 1] are refused.
TEST_F(RealNvp, ImagesTrainInBitsPerDimension)
{
    std::mt19937 rng(9);
    std::vector<float> imgs(400 * 64);
    for (int i = 0; i < 400; i++)
        for (int p = 0; p < 64; p++) {
            const float v = (p % 8 < 4 ? 0.2f : 0.7f) + 0.1f * std::uniform_real_distribution<float>(0, 1)(rng);
            imgs[i * 64 + p] = std::round(v * 255.0f) / 255.0f;
        }
    const std::string npy = dir + "/img.npy";
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    const int64_t shape[3] = {400, 8, 8};
    DGM_ASSERT_OK(ctx.get(), dgm_save_npy(ctx.get(), npy.c_str(), imgs.data(), 3, shape));
    // the MLP couplings, and the multi-scale convolutional flow (the default on images)
    for (const std::string net : {"--net mlp --couplings 4 --hidden 64 --steps 300", "--features 8 --res-blocks 0 --steps 100"}) {
        CliResult r = dgm("train realnvp --data " + npy + " --device cpu --batch 64 " + net + " --out " + dir + "/i");
        ASSERT_EQ(r.code, 0) << net << ": " << r.err;
        EXPECT_TRUE(exists(dir + "/i/samples.png"));
        const bool conv = net.find("mlp") == std::string::npos;
        EXPECT_EQ(tensors_of(dir + "/i/checkpoint.safetensors").find("flow.0.in.weight") != std::string::npos, conv) << net;
        CliResult e = dgm("eval " + dir + "/i/checkpoint.safetensors --data " + npy + " --metric bpd,nll");
        ASSERT_EQ(e.code, 0) << e.err;
        const double bpd = std::strtod(e.out.c_str() + e.out.find("\"bpd\":") + 6, nullptr);
        EXPECT_GT(bpd, 0.0) << net << ": " << e.out;
        EXPECT_LT(bpd, 6.0) << net << ": " << e.out;
        CliResult s = dgm("sample " + dir + "/i/checkpoint.safetensors -n 20 -o " + dir + "/s.csv");
        ASSERT_EQ(s.code, 0) << s.err;
        std::ifstream f(dir + "/s.csv");
        std::string cell;
        int count = 0;
        while (std::getline(f, cell, ',')) {
            const double v = std::strtod(cell.c_str(), nullptr);
            EXPECT_GE(v, 0.0);
            EXPECT_LE(v, 1.0);
            count++;
        }
        EXPECT_EQ(count, 20 * 64 - 19) << net;  // commas split all but the line ends
        std::system(("rm -rf " + dir + "/i " + dir + "/s.csv").c_str());
    }
    imgs[5] = 1.5f;
    DGM_ASSERT_OK(ctx.get(), dgm_save_npy(ctx.get(), npy.c_str(), imgs.data(), 3, shape));
    CliResult bad = dgm("train realnvp --data " + npy + " --device cpu --steps 2 --out " + dir + "/b");
    EXPECT_EQ(bad.code, 2) << bad.err;
    EXPECT_NE(bad.err.find("[0, 1]"), std::string::npos) << bad.err;
}

}  // namespace
