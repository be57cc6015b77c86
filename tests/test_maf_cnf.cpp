// The autoregressive flow and the continuous one. MADE: each output depends on exactly
// the inputs before it in the order (a Jacobian by autograd, not the mask values), the
// affine layer inverts in D passes and its log-determinant is the finite-difference
// Jacobian's; the flow batch norm; orthogonal init. The CNF: a linear field's exact
// log-determinant (closed form) through the adaptive and the taped solvers, the taped
// solve's parameter gradients against finite differences, and `dgm train maf|cnf` end to
// end (sampling, NLL, the solver check, dopri5 training, the regularizers, bad options).
#include <algorithm>
#include <cmath>
#include <fstream>

#include "cli_test.h"
#include "models/ode.h"

using namespace dgmtest;

namespace {

void randomize(dgm_params *p, uint32_t seed, float std)
{
    std::mt19937 rng(seed);
    std::normal_distribution<float> n(0.0f, std);
    float *v = dgm_params_values(p);
    for (int64_t i = 0; i < dgm_params_numel(p); i++) v[i] = n(rng);
}

struct Made {
    CtxPtr ctx;
    dgm_params *p = nullptr;
    dgm_made *m = nullptr;
    Made(int64_t d, uint64_t order_seed, float bound = 0.0f)
    {
        ctx = make_ctx(DGM_DEVICE_CPU, 3);
        const int64_t hidden[2] = {12, 12};
        const dgm_made_config c = {2, hidden, DGM_ACT_TANH, order_seed, bound, DGM_NN_INIT_ORTHOGONAL};
        EXPECT_EQ(dgm_params_create(ctx.get(), &p), DGM_STATUS_OK);
        EXPECT_EQ(dgm_made_create(p, "made", d, &c, &m), DGM_STATUS_OK) << dgm_last_error(ctx.get());
        EXPECT_EQ(dgm_params_alloc(p), DGM_STATUS_OK);
        randomize(p, 7, 0.5f);
    }
    ~Made()
    {
        dgm_made_free(m);
        dgm_params_free(p);
    }
};

// ∂ out[:, j] / ∂ x of each row, by autograd (rows are independent: the gradient of the
// column's sum is each row's own).
std::vector<float> column_gradient(dgm_ctx *c, dgm_tensor *x, dgm_tensor *out, int64_t j)
{
    dgm_tensor *col = nullptr, *s = nullptr, *g = nullptr;
    EXPECT_EQ(dgm_slice_cols(c, out, j, 1, &col), DGM_STATUS_OK);
    EXPECT_EQ(dgm_sum(c, col, DGM_AXIS_ALL, &s), DGM_STATUS_OK);
    EXPECT_EQ(dgm_autograd(c, s, nullptr, 1, &x, false, &g), DGM_STATUS_OK) << dgm_last_error(c);
    return to_host(c, g);
}

TEST(Made, EachOutputDependsOnExactlyTheInputsBeforeIt)
{
    for (uint64_t order_seed : {0ull, 5ull}) {
        const int64_t d = 5, rows = 3;
        Made made(d, order_seed, 3.0f);
        dgm_ctx *c = made.ctx.get();
        std::vector<int64_t> order((size_t)d);
        for (int64_t i = 0; i < d; i++) order[i] = dgm_made_order(made.m, i);
        std::vector<int64_t> sorted = order;
        std::sort(sorted.begin(), sorted.end());
        for (int64_t i = 0; i < d; i++) ASSERT_EQ(sorted[i], i) << "not an order";
        if (order_seed) {
            EXPECT_NE(order, sorted) << "the seed did not shuffle the order";
        }
        std::mt19937 rng(1);
        dgm_tensor *x = from_host(c, {rows, d}, random_values(rng, rows * d, -1.0f, 1.0f));
        DGM_ASSERT_OK(c, dgm_tensor_set_requires_grad(x, true));
        dgm_tensor *mu = nullptr, *a = nullptr, *u = nullptr, *ld = nullptr;
        DGM_ASSERT_OK(c, dgm_made_params(c, made.m, x, &mu, &a));
        DGM_ASSERT_OK(c, dgm_made_forward(c, made.m, x, &u, &ld));
        for (dgm_tensor *out : {mu, a, u})
            for (int64_t j = 0; j < d; j++) {
                const std::vector<float> g = column_gradient(c, x, out, j);
                double before = 0.0;
                for (int r = 0; r < rows; r++)
                    for (int64_t i = 0; i < d; i++) {
                        const double gi = std::fabs(g[r * d + i]);
                        const bool self = out == u && i == j; // u_j = (x_j − μ_j)·exp(−α_j)
                        if (order[i] < order[j]) before += gi;
                        else if (!self) EXPECT_EQ(gi, 0.0) << "output " << j << " depends on input " << i;
                        else EXPECT_GT(gi, 0.0);
                    }
                // and on every earlier input: MADE's hidden degrees reach them all
                if (order[j] > 0) {
                    EXPECT_GT(before, 1e-4) << "output " << j << " ignores its inputs";
                }
            }
        dgm_ctx_step_end(c);
    }
}

// The affine layer: D passes give x back; log|det| equals the (triangular) finite-
// difference Jacobian's; the log-scale stays within its bound.
TEST(Made, InvertsInDPassesWithTheJacobiansLogDet)
{
    const int64_t d = 4, rows = 5;
    Made made(d, 3, 2.0f);
    dgm_ctx *c = made.ctx.get();
    std::mt19937 rng(2);
    const std::vector<float> xv = random_values(rng, rows * d, -1.5f, 1.5f);
    dgm_tensor *u = nullptr, *ld = nullptr, *back = nullptr, *mu = nullptr, *a = nullptr;
    DGM_ASSERT_OK(c, dgm_made_forward(c, made.m, from_host(c, {rows, d}, xv), &u, &ld));
    DGM_ASSERT_OK(c, dgm_made_inverse(c, made.m, u, &back));
    const std::vector<float> b = to_host(c, back), lds = to_host(c, ld);
    for (size_t i = 0; i < b.size(); i++) EXPECT_NEAR(b[i], xv[i], 1e-4);
    DGM_ASSERT_OK(c, dgm_made_params(c, made.m, from_host(c, {rows, d}, xv), &mu, &a));
    for (float v : to_host(c, a)) EXPECT_LE(std::fabs(v), 2.0f);
    const float h = 1e-2f;
    for (int r = 0; r < rows; r++) {
        double logdet = 0.0;
        for (int64_t j = 0; j < d; j++) { // the diagonal of a triangular Jacobian
            std::vector<float> xp = xv, xm = xv;
            xp[r * d + j] += h;
            xm[r * d + j] -= h;
            dgm_tensor *up = nullptr, *um = nullptr, *unused = nullptr;
            DGM_ASSERT_OK(c, dgm_made_forward(c, made.m, from_host(c, {rows, d}, xp), &up, &unused));
            DGM_ASSERT_OK(c, dgm_made_forward(c, made.m, from_host(c, {rows, d}, xm), &um, &unused));
            const std::vector<float> pu = to_host(c, up), mu_ = to_host(c, um);
            logdet += std::log(std::fabs(((double)pu[r * d + j] - mu_[r * d + j]) / (2.0 * h)));
        }
        EXPECT_NEAR(lds[r], logdet, 1e-3) << "row " << r;
    }
}

// Training: the batch comes out standardized (times exp(log_gamma), plus beta) and the
// running statistics move by the momentum; evaluation and the inverse use them.
TEST(FlowBatchNorm, TrainsOnTheBatchAndEvaluatesOnRunningStatistics)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 3);
    dgm_ctx *c = ctx.get();
    dgm_params *p = nullptr;
    dgm_flow_batchnorm *bn = nullptr;
    DGM_ASSERT_OK(c, dgm_params_create(c, &p));
    DGM_ASSERT_OK(c, dgm_flow_batchnorm_create(p, "bn", 2, 0.25f, 1e-5f, &bn));
    DGM_ASSERT_OK(c, dgm_params_alloc(p));
    float *v = dgm_params_values(p); // log_gamma, beta, then the buffers
    v[0] = 0.5f, v[1] = -0.25f, v[2] = 1.0f, v[3] = 2.0f;
    std::mt19937 rng(4);
    std::vector<float> xv = random_values(rng, 200 * 2, -1.0f, 1.0f);
    for (size_t i = 0; i < xv.size(); i++) xv[i] = 3.0f * xv[i] + (i % 2 ? 5.0f : -2.0f);
    double mean[2] = {0, 0}, var[2] = {0, 0};
    for (size_t i = 0; i < xv.size(); i++) mean[i % 2] += xv[i] / 200.0;
    for (size_t i = 0; i < xv.size(); i++) var[i % 2] += (xv[i] - mean[i % 2]) * (xv[i] - mean[i % 2]) / 200.0;
    dgm_tensor *y = nullptr, *ld = nullptr;
    DGM_ASSERT_OK(c, dgm_flow_batchnorm_forward(c, bn, from_host(c, {200, 2}, xv), true, &y, &ld));
    const std::vector<float> yv = to_host(c, y), lds = to_host(c, ld);
    const double gamma[2] = {std::exp(0.5), std::exp(-0.25)}, beta[2] = {1.0, 2.0};
    for (size_t i = 0; i < yv.size(); i++)
        EXPECT_NEAR(yv[i], gamma[i % 2] * (xv[i] - mean[i % 2]) / std::sqrt(var[i % 2] + 1e-5) + beta[i % 2], 1e-3);
    const double expect_ld = 0.25 - 0.5 * std::log(var[0] + 1e-5) - 0.5 * std::log(var[1] + 1e-5);
    for (float l : lds) EXPECT_NEAR(l, expect_ld, 1e-4);
    const float *run = dgm_params_values(p) + 4; // the buffers after the 4 trainable values
    for (int k = 0; k < 2; k++) {
        EXPECT_NEAR(run[k], 0.25 * mean[k], 1e-4) << "running mean";
        EXPECT_NEAR(run[2 + k], 0.75 + 0.25 * var[k], 1e-3) << "running var";
    }
    // evaluation: the running statistics, and the inverse undoes it
    dgm_tensor *ye = nullptr, *back = nullptr;
    DGM_ASSERT_OK(c, dgm_flow_batchnorm_forward(c, bn, from_host(c, {200, 2}, xv), false, &ye, &ld));
    DGM_ASSERT_OK(c, dgm_flow_batchnorm_inverse(c, bn, ye, &back));
    const std::vector<float> yev = to_host(c, ye), bv = to_host(c, back);
    for (size_t i = 0; i < yev.size(); i++) {
        EXPECT_NEAR(yev[i], gamma[i % 2] * (xv[i] - run[i % 2]) / std::sqrt(run[2 + i % 2] + 1e-5) + beta[i % 2], 1e-3);
        EXPECT_NEAR(bv[i], xv[i], 1e-4);
    }
    dgm_flow_batchnorm_free(bn);
    dgm_params_free(p);
}

TEST(Params, OrthogonalInitHasOrthonormalRowsOrColumns)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 9);
    dgm_ctx *c = ctx.get();
    dgm_params *p = nullptr;
    DGM_ASSERT_OK(c, dgm_params_create(c, &p));
    const int64_t tall[2] = {7, 3}, wide[2] = {3, 7};
    DGM_ASSERT_OK(c, dgm_params_add(p, "tall", 2, tall, {DGM_INIT_ORTHOGONAL, 0.0f, 1.0f}));
    DGM_ASSERT_OK(c, dgm_params_add(p, "wide", 2, wide, {DGM_INIT_ORTHOGONAL, 0.0f, 2.0f}));
    DGM_ASSERT_OK(c, dgm_params_alloc(p));
    const float *t = dgm_params_values(p), *w = t + 21;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double cols = 0.0, rows = 0.0;
            for (int k = 0; k < 7; k++) cols += (double)t[k * 3 + i] * t[k * 3 + j], rows += (double)w[i * 7 + k] * w[j * 7 + k];
            EXPECT_NEAR(cols, i == j ? 1.0 : 0.0, 1e-5);
            EXPECT_NEAR(rows, i == j ? 4.0 : 0.0, 1e-4); // gain 2
        }
    dgm_params_free(p);
}

// dz/dt = A·z: z(1) = exp(A)·x and log p(x) = log N(exp(A)·x; 0, I) + tr(A), the closed form
// the change of variables must give, adaptive and on the tape.
struct Linear {
    dgm_ctx *ctx;
    dgm_tensor *a; // [2, 2]: v = x·Aᵀ
};
dgm_status linear_field(void *user, dgm_tensor *x, float, dgm_tensor **v)
{
    Linear *l = static_cast<Linear *>(user);
    return dgm_matmul(l->ctx, x, false, l->a, true, nullptr, DGM_ACT_NONE, 0.0f, v);
}

std::vector<double> expm2(const double a[4])
{
    std::vector<double> r = {1, 0, 0, 1}, term = {1, 0, 0, 1};
    for (int k = 1; k < 30; k++) {
        std::vector<double> n(4);
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++) n[i * 2 + j] = (term[i * 2] * a[j] + term[i * 2 + 1] * a[2 + j]) / k;
        term = n;
        for (int i = 0; i < 4; i++) r[i] += term[i];
    }
    return r; // exp(A) with rows... computed as term·A: the same for a power series
}

TEST(Cnf, LinearFieldGivesTheExactLogDeterminant)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    dgm_ctx *c = ctx.get();
    dgm_params *p = nullptr;
    DGM_ASSERT_OK(c, dgm_params_create(c, &p));
    const int64_t shape[2] = {2, 2};
    DGM_ASSERT_OK(c, dgm_params_add(p, "a", 2, shape, {DGM_INIT_ZEROS, 0.0f, 0.0f}));
    DGM_ASSERT_OK(c, dgm_params_alloc(p));
    const double a[4] = {-0.7, 0.4, -0.3, 0.5};
    float *av = dgm_params_values(p);
    for (int i = 0; i < 4; i++) av[i] = (float)a[i];
    Linear l{c, dgm_params_at(p, 0)};
    const std::vector<double> e = expm2(a);
    const std::vector<float> xv = {0.5f, -1.0f, 2.0f, 0.25f, -0.3f, 0.8f};
    std::vector<double> expect(3);
    for (int r = 0; r < 3; r++) {
        const double z0 = e[0] * xv[r * 2] + e[1] * xv[r * 2 + 1], z1 = e[2] * xv[r * 2] + e[3] * xv[r * 2 + 1];
        expect[r] = -std::log(2 * M_PI) - 0.5 * (z0 * z0 + z1 * z1) + (a[0] + a[3]);
    }
    dgm_ode_density cfg = {};
    cfg.ode.solver = DGM_ODE_DOPRI5;
    cfg.ode.rtol = cfg.ode.atol = 1e-7;
    cfg.t_data = 0.0, cfg.t_prior = 1.0, cfg.prior_std = 1.0;
    dgm_tensor *x = nullptr;
    DGM_ASSERT_OK(c, dgm_tensor_create(c, 2, (const int64_t[2]){3, 2}, &x));
    DGM_ASSERT_OK(c, dgm_tensor_copy_from_host(c, x, xv.data()));
    double logp[3];
    int64_t nfe = 0;
    DGM_ASSERT_OK(c, dgm_ode_log_density(c, &cfg, linear_field, &l, x, logp, &nfe));
    for (int r = 0; r < 3; r++) EXPECT_NEAR(logp[r], expect[r], 2e-5) << "adaptive, row " << r;
    EXPECT_GT(nfe, 6);
    dgm_tensor_free(x);
    // on the tape, RK4 in 16 steps (local error ~h⁵), and with the regularizers: the
    // kinetic energy ∫‖A·z‖² and ∫‖A‖_F² = ‖A‖_F² (the Jacobian is A everywhere)
    cfg.ode.solver = DGM_ODE_RK4;
    cfg.ode.steps = 16;
    dgm_tensor *lp = nullptr, *reg = nullptr;
    DGM_ASSERT_OK(c, dgm_ode_log_density_taped(c, &cfg, linear_field, &l, from_host(c, {3, 2}, xv), &lp, &reg, &nfe));
    EXPECT_EQ(nfe, 64);
    const std::vector<float> got = to_host(c, lp), rg = to_host(c, reg);
    for (int r = 0; r < 3; r++) {
        EXPECT_NEAR(got[r], expect[r], 1e-4) << "taped, row " << r;
        EXPECT_NEAR(rg[r * 2 + 1], a[0] * a[0] + a[1] * a[1] + a[2] * a[2] + a[3] * a[3], 1e-4);
        EXPECT_GT(rg[r * 2], 0.0f);
    }
    dgm_ctx_step_end(c);
    dgm_params_free(p);
}

// Discretize-then-optimize: the tape's gradient of −mean log p through RK4 steps and the
// divergence's own autograd passes equals central differences of the same discretized
// loss, for the field's parameters (a tanh layer, so second derivatives are not zero).
struct Tanh {
    dgm_ctx *ctx;
    dgm_tensor *w, *b;
};
dgm_status tanh_field(void *user, dgm_tensor *x, float t, dgm_tensor **v)
{
    Tanh *f = static_cast<Tanh *>(user);
    dgm_tensor *h = nullptr;
    const dgm_status st = dgm_matmul(f->ctx, x, false, f->w, true, f->b, DGM_ACT_TANH, 0.0f, &h);
    return st != DGM_STATUS_OK ? st : dgm_scale(f->ctx, h, 1.0f + t, 0.0f, v);
}

TEST(Cnf, TapedSolveGradientsMatchFiniteDifferences)
{
    for (dgm_ode_solver solver : {DGM_ODE_RK4, DGM_ODE_DOPRI5}) {
        CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 2);
        dgm_ctx *c = ctx.get();
        dgm_params *p = nullptr;
        DGM_ASSERT_OK(c, dgm_params_create(c, &p));
        const int64_t ws[2] = {2, 2}, bs[1] = {2};
        DGM_ASSERT_OK(c, dgm_params_add(p, "w", 2, ws, {DGM_INIT_ZEROS, 0.0f, 0.0f}));
        DGM_ASSERT_OK(c, dgm_params_add(p, "b", 1, bs, {DGM_INIT_ZEROS, 0.0f, 0.0f}));
        DGM_ASSERT_OK(c, dgm_params_alloc(p));
        float *v = dgm_params_values(p);
        const float init[6] = {0.8f, -0.6f, 0.9f, 0.4f, 0.3f, -0.2f};
        for (int i = 0; i < 6; i++) v[i] = init[i];
        Tanh f{c, dgm_params_at(p, 0), dgm_params_at(p, 1)};
        const std::vector<float> xv = {0.5f, -1.0f, 1.2f, 0.7f, -0.4f, 0.9f, 0.1f, -1.3f};
        dgm_ode_density cfg = {};
        cfg.ode.solver = solver;
        cfg.ode.steps = 4;
        cfg.ode.rtol = cfg.ode.atol = 1e-3;
        cfg.t_data = 0.0, cfg.t_prior = 1.0, cfg.prior_std = 1.0;
        auto loss = [&](bool backward) {
            dgm_tensor *lp = nullptr, *m = nullptr;
            EXPECT_EQ(dgm_ode_log_density_taped(c, &cfg, tanh_field, &f, from_host(c, {4, 2}, xv), &lp, nullptr, nullptr),
                      DGM_STATUS_OK) << dgm_last_error(c);
            EXPECT_EQ(dgm_mean(c, lp, DGM_AXIS_ALL, &m), DGM_STATUS_OK);
            EXPECT_EQ(dgm_scale(c, m, -1.0f, 0.0f, &m), DGM_STATUS_OK);
            if (backward) {
                EXPECT_EQ(dgm_backward(c, m), DGM_STATUS_OK) << dgm_last_error(c);
            }
            const double value = to_host(c, m)[0];
            dgm_ctx_step_end(c);
            return value;
        };
        DGM_ASSERT_OK(c, dgm_params_zero_grad(p));
        loss(true);
        const std::vector<float> grad(dgm_params_grads(p), dgm_params_grads(p) + 6);
        // the adaptive solver's steps are constants of the values: perturb less than would
        // change them (and its FD then sees the same steps)
        const float h = solver == DGM_ODE_DOPRI5 ? 2e-3f : 1e-2f;
        for (int i = 0; i < 6; i++) {
            v[i] = init[i] + h;
            const double up = loss(false);
            v[i] = init[i] - h;
            const double down = loss(false);
            v[i] = init[i];
            const double fd = (up - down) / (2.0 * h);
            EXPECT_NEAR(grad[i], fd, 2e-3 + 2e-2 * std::fabs(fd)) << dgm_ode_solver_name(solver) << ", parameter " << i;
        }
        dgm_params_free(p);
    }
}

class MafCnfCli : public CliTest {};

// maf on moons: a short run's NLL, samples near the data, --blocks 1 (a single MADE), a
// checkpoint whose eval is the same number twice (running statistics, not the batch's).
TEST_F(MafCnfCli, MafTrainsSamplesAndEvaluates)
{
    CliResult t = dgm("train maf --data moons --steps 1500 --device cpu --out " + dir + "/m");
    ASSERT_EQ(t.code, 0) << t.err;
    const std::string ckpt = dir + "/m/checkpoint.safetensors";
    CliResult e = dgm("eval " + ckpt + " --data moons --metric nll");
    ASSERT_EQ(e.code, 0) << e.err;
    const double nll = json_value(e.out, "nll");
    // dgm's moons (sklearn's scaled by 2, σ 0.2): the true density's NLL is about 2.39; a
    // Gaussian fit's about 2.85
    EXPECT_LT(nll, 2.65) << e.out;
    EXPECT_GT(nll, 2.2) << e.out;
    CliResult e2 = dgm("eval " + ckpt + " --data moons --metric nll");
    EXPECT_EQ(json_value(e2.out, "nll"), nll);
    const std::vector<double> s = sample_values(ckpt, 500);
    ASSERT_EQ(s.size(), 1000u);
    double mx = 0.0;
    for (double v : s) mx = std::fmax(mx, std::fabs(v));
    EXPECT_LT(mx, 10.0) << "samples far off the moons";
    CliResult one = dgm("train maf --data moons --steps 300 --blocks 1 --norm none --hidden 32 --device cpu --out " + dir + "/o");
    ASSERT_EQ(one.code, 0) << one.err;
    CliResult a = dgm("train maf --data moons --steps 300 --norm actnorm --order random --device cpu --out " + dir + "/a");
    ASSERT_EQ(a.code, 0) << a.err;
    EXPECT_TRUE(exists(dir + "/a/samples.png"));
}

// cnf: a short run learns, logs its NFE and the solver check, evaluates by dopri5 and
// samples; dopri5 training counts its evaluations; the regularizers and Hutchinson's
// trace train; a coarse Euler solver fails the check, is warned about and refined.
TEST_F(MafCnfCli, CnfTrainsChecksItsSolverAndEvaluatesAdaptively)
{
    const std::string data = gaussian_csv(2000);
    CliResult t = dgm("train cnf --data " + data + " --steps 200 --hidden 16,16 --device cpu --out " + dir + "/c");
    ASSERT_EQ(t.code, 0) << t.err;
    std::ifstream m(dir + "/c/metrics.jsonl");
    std::string line, last;
    while (std::getline(m, line)) last = line;
    EXPECT_EQ(json_value(last, "nfe"), 32.0) << last;
    EXPECT_EQ(json_value(last, "solver_steps"), 8.0) << last;
    EXPECT_TRUE(std::isfinite(json_value(last, "step_gap"))) << last;
    EXPECT_GT(json_value(last, "end_time"), 0.0) << last;
    const std::string ckpt = dir + "/c/checkpoint.safetensors";
    CliResult e = dgm("eval " + ckpt + " --data " + data + " --metric nll");
    ASSERT_EQ(e.code, 0) << e.err;
    // the Gaussian's entropy is log(2π·0.5·0.25) + 1 = 0.66; the standard normal's NLL of
    // the data is 4.3 (a fresh model's about that)
    EXPECT_LT(json_value(e.out, "nll"), 2.5) << e.out;
    EXPECT_NE(e.err.find("dopri5"), std::string::npos) << e.err;
    const std::vector<double> s = sample_values(ckpt, 200);
    ASSERT_EQ(s.size(), 400u);
    double mean0 = 0.0;
    for (size_t i = 0; i < s.size(); i += 2) mean0 += s[i] / 200.0;
    EXPECT_NEAR(mean0, 2.0, 0.5);
    for (const char *opts : {"--solver dopri5 --rtol 1e-3 --atol 1e-3", "--kinetic 0.1 --jacobian 0.1",
                             "--divergence hutchinson --probes 2"}) {
        CliResult r = dgm(std::string("train cnf ") + opts + " --data " + data +
                          " --steps 20 --hidden 8 --log-every 10 --device cpu --out " + dir + "/r");
        ASSERT_EQ(r.code, 0) << opts << ": " << r.err;
        std::ifstream mm(dir + "/r/metrics.jsonl");
        std::string l2;
        std::getline(mm, l2);
        EXPECT_GT(json_value(l2, "nfe"), 0.0) << opts << ": " << l2;
    }
    CliResult coarse = dgm("train cnf --data " + data + " --steps 300 --hidden 16,16 --solver euler --solver-steps 1 "
                           "--device cpu --out " + dir + "/e");
    ASSERT_EQ(coarse.code, 0) << coarse.err;
    EXPECT_NE(coarse.err.find("disagree"), std::string::npos) << coarse.err;
    std::ifstream me(dir + "/e/metrics.jsonl");
    double steps = 0.0;
    while (std::getline(me, line)) steps = json_value(line, "solver_steps");
    EXPECT_GT(steps, 1.0) << "the check did not refine the solver";
}

// Images (values in [0, 1]): dequantized and logit-transformed as realnvp's, bits/dim
// consistent with the NLL, samples back in [0, 1].
TEST_F(MafCnfCli, MafOnImagesGivesBitsPerDimensionAndPixelSamples)
{
    std::mt19937 rng(5);
    const std::vector<float> px = random_values(rng, 40 * 6 * 6, 0.0f, 1.0f);
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    const int64_t shape[3] = {40, 6, 6};
    const std::string data = dir + "/img.npy";
    DGM_ASSERT_OK(ctx.get(), dgm_save_npy(ctx.get(), data.c_str(), px.data(), 3, shape));
    CliResult t = dgm("train maf --data " + data + " --steps 30 --hidden 16 --blocks 2 --device cpu --out " + dir + "/i");
    ASSERT_EQ(t.code, 0) << t.err;
    const std::string ckpt = dir + "/i/checkpoint.safetensors";
    const std::vector<double> s = sample_values(ckpt, 8);
    ASSERT_EQ(s.size(), 8u * 36);
    for (double v : s) {
        EXPECT_GE(v, 0.0);
        EXPECT_LE(v, 1.0);
    }
    CliResult e = dgm("eval " + ckpt + " --data " + data + " --metric bpd,nll");
    ASSERT_EQ(e.code, 0) << e.err;
    const double bpd = json_value(e.out, "bpd"), nll = json_value(e.out, "nll");
    EXPECT_GT(bpd, 0.0) << e.out;
    EXPECT_LT(bpd, 12.0) << e.out;
    EXPECT_NEAR(bpd * 36 * std::log(2.0), nll, 0.05 * nll) << e.out;
}

// Resuming continues bit-exactly: the batch norms' running statistics (maf) and the
// refined solver steps (cnf) are buffers in the checkpoint.
TEST_F(MafCnfCli, ResumeIsBitExact)
{
    const std::string data = gaussian_csv(600);
    for (const std::string model : {"maf --blocks 2 --hidden 8", "cnf --hidden 8 --solver euler --solver-steps 1 --log-every 5"}) {
        const std::string run = "train " + model + " --data " + data + " --device cpu --batch 50 --seed 3 ";
        ASSERT_EQ(dgm(run + "--steps 24 --out " + dir + "/a").code, 0) << model;
        ASSERT_EQ(dgm(run + "--steps 10 --out " + dir + "/b").code, 0) << model; // a metrics line: cnf checks its solver there
        CliResult b = dgm("train " + model.substr(0, 3) + " --data " + data + " --device cpu --batch 50 --seed 3 --steps 24 --resume --out " + dir + "/b");
        ASSERT_EQ(b.code, 0) << model << ": " << b.err;
        const std::string ta = tensors_of(dir + "/a/checkpoint.safetensors");
        ASSERT_FALSE(ta.empty());
        EXPECT_EQ(ta, tensors_of(dir + "/b/checkpoint.safetensors")) << model;
        std::system(("rm -rf " + dir + "/a " + dir + "/b").c_str());
    }
}

TEST_F(MafCnfCli, EveryBadOptionIsNamed)
{
    const std::string data = gaussian_csv(50);
    const struct {
        const char *kind, *opts, *names;
    } cases[] = {
        {"maf", "--blocks 0", "--blocks"},         {"maf", "--norm layer", "--norm"},
        {"maf", "--order backwards", "--order"},   {"maf", "--log-scale-bound -1", "--log-scale-bound"},
        {"maf", "--init xavier", "--init"},        {"maf", "--hidden 0", "--hidden"},
        {"cnf", "--solver midpoint", "--solver"},  {"cnf", "--time 0", "--time"},
        {"cnf", "--divergence trace", "--divergence"}, {"cnf", "--rtol 0", "--rtol"},
        {"cnf", "--kinetic -1", "--kinetic"},      {"cnf", "--solver-steps 0", "--solver-steps"},
    };
    for (const auto &k : cases) {
        CliResult r = dgm(std::string("train ") + k.kind + " " + k.opts + " --data " + data + " --steps 2 --device cpu --out " + dir + "/x");
        EXPECT_NE(r.code, 0) << k.kind << " " << k.opts;
        EXPECT_NE(r.err.find(k.names), std::string::npos) << k.kind << " " << k.opts << ": " << r.err;
    }
}

} // namespace
