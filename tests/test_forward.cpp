// Forward values of every op against textbook formulas evaluated in double here, with
// std:: math only — independent of host/elementwise_math.h, which both backends share
// (the finite-difference suite checks backward against forward, so a wrong forward
// formula would pass it). One table row per op variant: to cover a new op, add a row.
// Ops whose output is random (dropout, the draws) are checked by statistics below.
#include <set>

#include "forward_cases.h"

using namespace dgmtest;

namespace {

int64_t cols_of(const Shape &s) { return s.empty() ? 1 : s.back(); }

// ---- textbook formulas ----

const double kSeluAlpha = 1.6732632423543772848170429916717;
const double kSeluScale = 1.0507009873554804934193349852946;

double act(dgm_activation a, double x, double alpha)
{
    switch (a) {
    case DGM_ACT_NONE: return x;
    case DGM_ACT_RELU: return x > 0 ? x : 0.0;
    case DGM_ACT_LEAKY_RELU: return x > 0 ? x : alpha * x;
    case DGM_ACT_ELU: return x > 0 ? x : alpha * (std::exp(x) - 1.0);
    case DGM_ACT_SELU: return kSeluScale * (x > 0 ? x : kSeluAlpha * (std::exp(x) - 1.0));
    case DGM_ACT_GELU: return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case DGM_ACT_SILU: return x / (1.0 + std::exp(-x));
    case DGM_ACT_TANH: return std::tanh(x);
    case DGM_ACT_SIGMOID: return 1.0 / (1.0 + std::exp(-x));
    case DGM_ACT_SOFTPLUS: return std::log(1.0 + std::exp(x));
    default: ADD_FAILURE() << "no formula for activation " << (int)a; return NAN;
    }
}

const char *act_name(int a)
{
    static const char *names[] = {"none", "relu",  "leaky_relu", "elu",     "selu",
                                  "gelu", "silu",  "tanh",       "sigmoid", "softplus"};
    return a < (int)(sizeof names / sizeof *names) ? names[a] : "unknown";
}

// Element (r, c) of an operand broadcast to [R, C]: full, row [C]/[1, C], column [R, 1]
// or scalar, told apart by its shape.
double at(const Vec &v, const Shape &s, int64_t r, int64_t c, int64_t C)
{
    if (v.size() == 1) return v[0];
    const bool col = s.size() >= 2 && s.back() == 1;
    if (col) return v[(size_t)r];
    if ((int64_t)v.size() == C) return v[(size_t)c];
    return v[(size_t)(r * C + c)];
}

// Reduces a [R, C] matrix of loss terms as dgm_reduction says.
Vec reduce(const Vec &t, int64_t R, int64_t C, dgm_reduction red)
{
    if (red == DGM_REDUCTION_NONE) return t;
    if (red == DGM_REDUCTION_PER_ROW) {
        Vec s((size_t)R, 0.0);
        for (int64_t r = 0; r < R; r++)
            for (int64_t c = 0; c < C; c++) s[(size_t)r] += t[(size_t)(r * C + c)];
        return s;
    }
    double s = 0.0;
    for (double x : t) s += x;
    return {red == DGM_REDUCTION_MEAN ? s / (double)t.size() : s};
}

Shape reduced_shape(const Shape &s, dgm_reduction red)
{
    if (red == DGM_REDUCTION_NONE) return s;
    if (red == DGM_REDUCTION_PER_ROW) return {numel(s) / cols_of(s), 1};
    return {1};
}

// ---- case builders ----

ForwardCase matmul_case(dgm_activation a, bool ta, bool tb, bool bias, int64_t k = 17)
{
    const int64_t m = 4, n = 3;
    const float alpha = 0.1f;
    ForwardCase c;
    c.name = std::string("matmul_") + (ta ? "t" : "n") + (tb ? "t" : "n") + (bias ? "_bias_" : "_") +
             act_name(a) + "_k" + std::to_string(k);
    c.op = DGM_OP_MATMUL;
    c.inputs = {{ta ? Shape{k, m} : Shape{m, k}, -1.5f, 1.5f}, {tb ? Shape{n, k} : Shape{k, n}, -1.5f, 1.5f}};
    if (bias) c.inputs.push_back({{n}});
    c.out_shape = {m, n};
    c.atol = 1e-5;  // float products of k terms
    c.fn = [=](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
        return dgm_matmul(ctx, in[0], ta, in[1], tb, bias ? in[2] : nullptr, a, alpha, out);
    };
    c.expect = [=](const std::vector<Vec> &x) {
        Vec y((size_t)(m * n));
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = bias ? x[2][(size_t)j] : 0.0;
                for (int64_t p = 0; p < k; p++) {
                    const double av = ta ? x[0][(size_t)(p * m + i)] : x[0][(size_t)(i * k + p)];
                    const double bv = tb ? x[1][(size_t)(j * k + p)] : x[1][(size_t)(p * n + j)];
                    s += av * bv;
                }
                y[(size_t)(i * n + j)] = act(a, s, alpha);
            }
        return std::vector<Vec>{y};
    };
    return c;
}

using Fn2 = dgm_status (*)(dgm_ctx *, dgm_tensor *, dgm_tensor *, dgm_tensor **);

ForwardCase binary_case(const std::string &name, dgm_op op, Fn2 f, Shape sa, Shape sb,
                        std::function<double(double, double)> formula, float blo = -1.0f,
                        float bhi = 1.0f)
{
    ForwardCase c;
    c.name = name;
    c.op = op;
    c.inputs = {{sa}, {sb, blo, bhi}};
    c.out_shape = numel(sa) >= numel(sb) ? sa : sb;
    c.fn = [f](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
        return f(ctx, in[0], in[1], out);
    };
    const Shape os = c.out_shape;
    c.expect = [=](const std::vector<Vec> &x) {
        const int64_t C = cols_of(os), R = numel(os) / C;
        Vec y((size_t)(R * C));
        for (int64_t r = 0; r < R; r++)
            for (int64_t cc = 0; cc < C; cc++)
                y[(size_t)(r * C + cc)] = formula(at(x[0], sa, r, cc, C), at(x[1], sb, r, cc, C));
        return std::vector<Vec>{y};
    };
    return c;
}

ForwardCase unary_case(const std::string &name, dgm_op op,
                       std::function<dgm_status(dgm_ctx *, dgm_tensor *, dgm_tensor **)> f,
                       std::function<double(double)> formula, float lo = -3.0f, float hi = 3.0f)
{
    ForwardCase c;
    c.name = name;
    c.op = op;
    c.inputs = {{{3, 7}, lo, hi}};
    c.out_shape = {3, 7};
    c.fn = [f](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
        return f(ctx, in[0], out);
    };
    c.expect = [formula](const std::vector<Vec> &x) {
        Vec y;
        for (double v : x[0]) y.push_back(formula(v));
        return std::vector<Vec>{y};
    };
    return c;
}

using Loss2 = dgm_status (*)(dgm_ctx *, dgm_tensor *, dgm_tensor *, dgm_reduction, dgm_tensor **);

ForwardCase loss_case(const std::string &name, dgm_op op, Loss2 f, dgm_reduction red, FwdInput a,
                      FwdInput b, std::function<double(double, double)> term)
{
    ForwardCase c;
    c.name = name;
    c.op = op;
    c.inputs = {a, b};
    c.out_shape = reduced_shape(a.shape, red);
    c.fn = [f, red](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
        return f(ctx, in[0], in[1], red, out);
    };
    const Shape s = a.shape;
    c.expect = [=](const std::vector<Vec> &x) {
        const int64_t C = cols_of(s), R = numel(s) / C;
        Vec t((size_t)(R * C));
        for (size_t i = 0; i < t.size(); i++) t[i] = term(x[0][i], x[1][i]);
        return std::vector<Vec>{reduce(t, R, C, red)};
    };
    return c;
}

ForwardCase reduce_case(dgm_axis axis, bool mean)
{
    static const char *names[] = {"all", "rows", "cols"};
    const int64_t R = 5, C = 7;
    ForwardCase c;
    c.name = std::string(mean ? "mean_" : "sum_") + names[axis];
    c.op = mean ? DGM_OP_MEAN : DGM_OP_SUM;
    c.inputs = {{{R, C}}};
    c.out_shape = axis == DGM_AXIS_ALL ? Shape{1} : axis == DGM_AXIS_ROWS ? Shape{R, 1} : Shape{1, C};
    c.fn = [=](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
        return mean ? dgm_mean(ctx, in[0], axis, out) : dgm_sum(ctx, in[0], axis, out);
    };
    c.expect = [=](const std::vector<Vec> &x) {
        Vec y(axis == DGM_AXIS_ALL ? 1 : axis == DGM_AXIS_ROWS ? (size_t)R : (size_t)C, 0.0);
        for (int64_t r = 0; r < R; r++)
            for (int64_t cc = 0; cc < C; cc++) {
                const size_t o = axis == DGM_AXIS_ALL ? 0 : axis == DGM_AXIS_ROWS ? (size_t)r : (size_t)cc;
                y[o] += x[0][(size_t)(r * C + cc)];
            }
        const double count = axis == DGM_AXIS_ALL ? (double)(R * C) : axis == DGM_AXIS_ROWS ? (double)C : (double)R;
        if (mean)
            for (double &v : y) v /= count;
        return std::vector<Vec>{y};
    };
    return c;
}

ForwardCase batchnorm_case(bool training, bool affine)
{
    const int64_t R = 6, C = 3;
    const double momentum = 0.1, eps = 1e-5;
    ForwardCase c;
    c.name = std::string("batchnorm_") + (training ? "train" : "eval") + (affine ? "" : "_no_affine");
    c.op = DGM_OP_BATCHNORM;
    c.inputs = {{{R, C}, -2.0f, 3.0f}, {{C}, 0.5f, 1.5f}, {{C}, -0.5f, 0.5f}, {{C}, -0.5f, 0.5f},
                {{C}, 0.5f, 2.0f}};
    c.out_shape = {R, C};
    c.updated = {3, 4};
    c.fn = [=](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
        return dgm_batchnorm(ctx, in[0], affine ? in[1] : nullptr, affine ? in[2] : nullptr, in[3],
                             in[4], training, (float)momentum, (float)eps, out);
    };
    c.expect = [=](const std::vector<Vec> &x) {
        Vec y((size_t)(R * C)), rm = x[3], rv = x[4];
        for (int64_t j = 0; j < C; j++) {
            double mean = 0.0, ss = 0.0;
            for (int64_t r = 0; r < R; r++) mean += x[0][(size_t)(r * C + j)];
            mean /= (double)R;
            for (int64_t r = 0; r < R; r++) ss += std::pow(x[0][(size_t)(r * C + j)] - mean, 2);
            const double var = ss / (double)R, unbiased = ss / (double)(R - 1);
            const double m = training ? mean : x[3][(size_t)j], v = training ? var : x[4][(size_t)j];
            const double g = affine ? x[1][(size_t)j] : 1.0, b = affine ? x[2][(size_t)j] : 0.0;
            for (int64_t r = 0; r < R; r++)
                y[(size_t)(r * C + j)] = (x[0][(size_t)(r * C + j)] - m) / std::sqrt(v + eps) * g + b;
            if (training) {
                rm[(size_t)j] = (1 - momentum) * x[3][(size_t)j] + momentum * mean;
                rv[(size_t)j] = (1 - momentum) * x[4][(size_t)j] + momentum * unbiased;
            }
        }
        return std::vector<Vec>{y, rm, rv};
    };
    return c;
}

std::vector<ForwardCase> all_forward_cases()
{
    std::vector<ForwardCase> v;
    // matmul: every fused activation, every transpose pair, bias or not. (Tensors have no
    // empty dimensions, so K = 0 reaches only the backend's gemm: test_backend_parity.)
    for (int a = 0; a < DGM_ACT_COUNT; a++) v.push_back(matmul_case((dgm_activation)a, false, true, true));
    v.push_back(matmul_case(DGM_ACT_NONE, false, false, false));
    v.push_back(matmul_case(DGM_ACT_RELU, true, false, true));
    v.push_back(matmul_case(DGM_ACT_TANH, true, true, false));
    v.push_back(matmul_case(DGM_ACT_SIGMOID, false, false, true, 1));

    // arithmetic with every broadcast layout (of b, and of a)
    struct Arith {
        const char *name;
        dgm_op op;
        Fn2 f;
        std::function<double(double, double)> formula;
        float blo, bhi;
    };
    const Arith ariths[] = {
        {"add", DGM_OP_ADD, dgm_add, [](double a, double b) { return a + b; }, -1.0f, 1.0f},
        {"sub", DGM_OP_SUB, dgm_sub, [](double a, double b) { return a - b; }, -1.0f, 1.0f},
        {"mul", DGM_OP_MUL, dgm_mul, [](double a, double b) { return a * b; }, -1.0f, 1.0f},
        {"div", DGM_OP_DIV, dgm_div, [](double a, double b) { return a / b; }, 0.5f, 2.0f}};
    const std::pair<const char *, Shape> layouts[] = {
        {"full", {3, 4}}, {"row", {4}}, {"row2d", {1, 4}}, {"col", {3, 1}}, {"scalar", {1}}};
    for (const Arith &ar : ariths) {
        for (const auto &l : layouts)
            v.push_back(binary_case(std::string(ar.name) + "_" + l.first, ar.op, ar.f, {3, 4}, l.second,
                                    ar.formula, ar.blo, ar.bhi));
        // a broadcast, b full (b keeps the divisor's range).
        v.push_back(binary_case(std::string(ar.name) + "_col_first", ar.op, ar.f, {3, 1}, {3, 4},
                                ar.formula, ar.blo, ar.bhi));
    }
    {
        ForwardCase c = unary_case("scale", DGM_OP_SCALE,
                                   [](dgm_ctx *ctx, dgm_tensor *x, dgm_tensor **out) {
                                       return dgm_scale(ctx, x, -1.5f, 0.25f, out);
                                   },
                                   [](double x) { return -1.5 * x + 0.25; });
        v.push_back(c);
    }

    // activations, through their own entry points
    const double slope = 0.2, elu_alpha = 0.7;
    v.push_back(unary_case("relu", DGM_OP_RELU, dgm_relu, [](double x) { return act(DGM_ACT_RELU, x, 0); }));
    v.push_back(unary_case("leaky_relu", DGM_OP_LEAKY_RELU,
                           [=](dgm_ctx *ctx, dgm_tensor *x, dgm_tensor **o) { return dgm_leaky_relu(ctx, x, (float)slope, o); },
                           [=](double x) { return act(DGM_ACT_LEAKY_RELU, x, slope); }));
    v.push_back(unary_case("elu", DGM_OP_ELU,
                           [=](dgm_ctx *ctx, dgm_tensor *x, dgm_tensor **o) { return dgm_elu(ctx, x, (float)elu_alpha, o); },
                           [=](double x) { return act(DGM_ACT_ELU, x, elu_alpha); }));
    v.push_back(unary_case("selu", DGM_OP_SELU, dgm_selu, [](double x) { return act(DGM_ACT_SELU, x, 0); }));
    v.push_back(unary_case("gelu", DGM_OP_GELU, dgm_gelu, [](double x) { return act(DGM_ACT_GELU, x, 0); }));
    v.push_back(unary_case("silu", DGM_OP_SILU, dgm_silu, [](double x) { return act(DGM_ACT_SILU, x, 0); }));
    v.push_back(unary_case("tanh", DGM_OP_TANH, dgm_tanh, [](double x) { return act(DGM_ACT_TANH, x, 0); }));
    v.push_back(unary_case("sigmoid", DGM_OP_SIGMOID, dgm_sigmoid, [](double x) { return act(DGM_ACT_SIGMOID, x, 0); }, -10.0f, 10.0f));
    v.push_back(unary_case("softplus", DGM_OP_SOFTPLUS, dgm_softplus, [](double x) { return act(DGM_ACT_SOFTPLUS, x, 0); }, -10.0f, 10.0f));
    v.push_back(unary_case("exp", DGM_OP_EXP, dgm_exp, [](double x) { return std::exp(x); }));
    v.push_back(unary_case("log", DGM_OP_LOG, dgm_log, [](double x) { return std::log(x); }, 0.01f, 5.0f));
    v.push_back(unary_case("sqrt", DGM_OP_SQRT, dgm_sqrt, [](double x) { return std::sqrt(x); }, 0.0f, 5.0f));
    v.push_back(unary_case("square", DGM_OP_SQUARE, dgm_square, [](double x) { return x * x; }));

    // reductions on every axis
    for (int axis = DGM_AXIS_ALL; axis <= DGM_AXIS_COLS; axis++)
        for (int mean = 0; mean < 2; mean++) v.push_back(reduce_case((dgm_axis)axis, mean));
    {
        ForwardCase c;
        c.name = "logsumexp_rows";
        c.op = DGM_OP_LOGSUMEXP;
        c.inputs = {{{4, 9}, -20.0f, 20.0f}};
        c.out_shape = {4, 1};
        c.fn = [](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
            return dgm_logsumexp_rows(ctx, in[0], out);
        };
        c.expect = [](const std::vector<Vec> &x) {
            Vec y;
            for (int r = 0; r < 4; r++) {
                double s = 0.0;  // values in [-20, 20]: exp does not overflow in double
                for (int j = 0; j < 9; j++) s += std::exp(x[0][(size_t)(r * 9 + j)]);
                y.push_back(std::log(s));
            }
            return std::vector<Vec>{y};
        };
        v.push_back(c);
    }

    // shapes
    {
        ForwardCase c;
        c.name = "concat_cols";
        c.op = DGM_OP_CONCAT;
        c.inputs = {{{3, 2}}, {{3, 4}}};
        c.out_shape = {3, 6};
        c.fn = [](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
            return dgm_concat_cols(ctx, in[0], in[1], out);
        };
        c.expect = [](const std::vector<Vec> &x) {
            Vec y;
            for (int r = 0; r < 3; r++) {
                y.insert(y.end(), x[0].begin() + r * 2, x[0].begin() + r * 2 + 2);
                y.insert(y.end(), x[1].begin() + r * 4, x[1].begin() + r * 4 + 4);
            }
            return std::vector<Vec>{y};
        };
        c.rtol = c.atol = 0.0;
        v.push_back(c);
    }
    {
        ForwardCase c;
        c.name = "slice_cols";
        c.op = DGM_OP_SLICE;
        c.inputs = {{{3, 6}}};
        c.out_shape = {3, 3};
        c.fn = [](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
            return dgm_slice_cols(ctx, in[0], 2, 3, out);
        };
        c.expect = [](const std::vector<Vec> &x) {
            Vec y;
            for (int r = 0; r < 3; r++) y.insert(y.end(), x[0].begin() + r * 6 + 2, x[0].begin() + r * 6 + 5);
            return std::vector<Vec>{y};
        };
        c.rtol = c.atol = 0.0;
        v.push_back(c);
    }
    {
        ForwardCase c;
        c.name = "reshape";
        c.op = DGM_OP_RESHAPE;
        c.inputs = {{{2, 6}}};
        c.out_shape = {3, 2, 2};
        c.fn = [](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
            const int64_t s[3] = {3, 2, 2};
            return dgm_reshape(ctx, in[0], 3, s, out);
        };
        c.expect = [](const std::vector<Vec> &x) { return std::vector<Vec>{x[0]}; };
        c.rtol = c.atol = 0.0;
        v.push_back(c);
    }

    // layers
    {
        ForwardCase c;
        c.name = "maxout_k3";
        c.op = DGM_OP_MAXOUT;
        c.inputs = {{{3, 6}, -2.0f, 2.0f}};
        c.out_shape = {3, 2};
        c.fn = [](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
            return dgm_maxout(ctx, in[0], 3, out);
        };
        c.expect = [](const std::vector<Vec> &x) {
            Vec y;
            for (int r = 0; r < 3; r++)
                for (int j = 0; j < 2; j++) {
                    const auto b = x[0].begin() + r * 6 + j * 3;
                    y.push_back(*std::max_element(b, b + 3));
                }
            return std::vector<Vec>{y};
        };
        c.rtol = c.atol = 0.0;
        v.push_back(c);
    }
    for (int training = 0; training < 2; training++) {
        v.push_back(batchnorm_case(training, true));
        v.push_back(batchnorm_case(training, false));
    }

    // losses with every reduction
    const dgm_reduction reds[] = {DGM_REDUCTION_NONE, DGM_REDUCTION_PER_ROW, DGM_REDUCTION_SUM,
                                  DGM_REDUCTION_MEAN};
    const char *red_names[] = {"none", "per_row", "sum", "mean"};
    for (int r = 0; r < 4; r++) {
        // log(1 + e^x) - x·t: the textbook binary cross-entropy of sigmoid(x) against t.
        v.push_back(loss_case(std::string("bce_with_logits_") + red_names[r], DGM_OP_BCE_WITH_LOGITS,
                              dgm_bce_with_logits, reds[r], {{4, 5}, -8.0f, 8.0f}, {{4, 5}, 0.0f, 1.0f},
                              [](double x, double t) {
                                  const double p = 1.0 / (1.0 + std::exp(-x));
                                  return -(t * std::log(p) + (1.0 - t) * std::log(1.0 - p));
                              }));
        v.push_back(loss_case(std::string("mse_") + red_names[r], DGM_OP_MSE, dgm_mse, reds[r],
                              {{4, 5}}, {{4, 5}}, [](double a, double b) { return (a - b) * (a - b); }));
        // KL(N(mu, s^2) || N(0, 1)) = log(1/s) + (s^2 + mu^2)/2 - 1/2 with s^2 = e^logvar.
        v.push_back(loss_case(std::string("kl_normal_") + red_names[r], DGM_OP_KL_NORMAL, dgm_kl_normal,
                              reds[r], {{4, 5}, -2.0f, 2.0f}, {{4, 5}, -3.0f, 2.0f},
                              [](double mu, double lv) {
                                  const double s2 = std::exp(lv);
                                  return std::log(1.0 / std::sqrt(s2)) + (s2 + mu * mu) / 2.0 - 0.5;
                              }));
        for (int shared = 0; shared < 2; shared++) {
            ForwardCase c;
            c.name = std::string("gaussian_log_density_") + red_names[r] + (shared ? "_shared_logvar" : "");
            c.op = DGM_OP_GAUSSIAN_LOG_DENSITY;
            const Shape lvs = shared ? Shape{3} : Shape{4, 3};
            c.inputs = {{{4, 3}, -2.0f, 2.0f}, {{4, 3}}, {lvs, -2.0f, 2.0f}};
            const dgm_reduction red = reds[r];
            c.out_shape = reduced_shape({4, 3}, red);
            c.fn = [red](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
                return dgm_gaussian_log_density(ctx, in[0], in[1], in[2], red, out);
            };
            c.expect = [=](const std::vector<Vec> &x) {
                Vec t(12);
                for (int64_t i = 0; i < 4; i++)
                    for (int64_t j = 0; j < 3; j++) {
                        const double sd = std::exp(0.5 * at(x[2], lvs, i, j, 3));
                        const double z = (x[0][(size_t)(i * 3 + j)] - x[1][(size_t)(i * 3 + j)]) / sd;
                        // The normal density, then its log.
                        t[(size_t)(i * 3 + j)] = std::log(std::exp(-0.5 * z * z) / (sd * std::sqrt(2.0 * M_PI)));
                    }
                return std::vector<Vec>{reduce(t, 4, 3, red)};
            };
            v.push_back(c);
        }
    }
    for (ForwardCase &c : image_forward_cases()) v.push_back(std::move(c));
    return v;
}

void check_forward(const ForwardCase &c, dgm_device device)
{
    std::string why;
    CtxPtr ctx = make_ctx(device, 3, &why);
    ASSERT_TRUE(ctx) << why;
    std::mt19937 rng(17);
    std::vector<std::vector<float>> xf;
    std::vector<Vec> xd;
    std::vector<dgm_tensor *> ts;
    for (const auto &in : c.inputs) {
        xf.push_back(random_values(rng, numel(in.shape), in.lo, in.hi));
        xd.emplace_back(xf.back().begin(), xf.back().end());
        ts.push_back(from_host(ctx.get(), in.shape, xf.back()));
        ASSERT_NE(ts.back(), nullptr);
    }
    dgm_tensor *out = nullptr;
    DGM_ASSERT_OK(ctx.get(), c.fn(ctx.get(), ts, &out));
    ASSERT_EQ(dgm_tensor_ndim(out), (int)c.out_shape.size()) << c.name;
    for (size_t d = 0; d < c.out_shape.size(); d++)
        EXPECT_EQ(dgm_tensor_dim(out, (int)d), c.out_shape[d]) << c.name << " dim " << d;

    const std::vector<Vec> want = c.expect(xd);
    ASSERT_EQ(want.size(), 1 + c.updated.size());
    std::vector<std::vector<float>> got = {to_host(ctx.get(), out)};
    for (int i : c.updated) got.push_back(to_host(ctx.get(), ts[(size_t)i]));
    for (size_t k = 0; k < want.size(); k++) {
        const std::string what = k == 0 ? "output" : "input " + std::to_string(c.updated[k - 1]) + " after";
        ASSERT_EQ(got[k].size(), want[k].size()) << c.name << " " << what;
        for (size_t i = 0; i < want[k].size(); i++)
            EXPECT_NEAR(got[k][i], want[k][i], c.atol + c.rtol * std::fabs(want[k][i]))
                << c.name << " " << what << " element " << i;
    }
    EXPECT_EQ(dgm_ctx_step_end(ctx.get()), DGM_STATUS_OK);
}

// One test per op (a process each under ctest), running every row of that op.
class OpForward : public ::testing::TestWithParam<int> {};

TEST_P(OpForward, MatchesTextbookFormulaInDouble)
{
    int ran = 0;
    for (const ForwardCase &c : all_forward_cases()) {
        if (c.op != GetParam()) continue;
        SCOPED_TRACE(c.name);
        check_forward(c, DGM_DEVICE_CPU);
        ran++;
    }
    EXPECT_GT(ran, 0);
}

std::vector<int> forward_ops()
{
    std::set<int> ops;
    for (const auto &c : all_forward_cases()) ops.insert(c.op);
    return std::vector<int>(ops.begin(), ops.end());
}

std::string op_name(const ::testing::TestParamInfo<int> &info) { return dgm_op_name((dgm_op)info.param); }

INSTANTIATE_TEST_SUITE_P(AllOps, OpForward, ::testing::ValuesIn(forward_ops()), op_name);

// Every row on the GPU, with the same formulas and tolerances.
TEST(OpForwardCuda, EveryCaseMatchesTextbookFormulaInDouble)
{
    SKIP_WITHOUT_GPU();
    for (const ForwardCase &c : all_forward_cases()) {
        SCOPED_TRACE(c.name);
        check_forward(c, DGM_DEVICE_CUDA);
    }
}

// ---- random outputs: statistics ----

// Inverted dropout: each element is 0 (with probability p) or x/(1-p); the fraction of
// zeros is p within 5 standard deviations; eval mode returns x unchanged.
TEST(OpForwardStats, DropoutZeroesAboutPAndScalesTheRest)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 8);
    ASSERT_TRUE(ctx);
    const int64_t n = 40000;
    const double p = 0.3;
    std::mt19937 rng(2);
    const std::vector<float> x = random_values(rng, n, 0.5f, 2.0f);  // never 0 itself
    dgm_tensor *xt = from_host(ctx.get(), {n}, x), *y = nullptr, *e = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_dropout(ctx.get(), xt, (float)p, true, &y));
    const std::vector<float> yv = to_host(ctx.get(), y);
    int64_t zeros = 0;
    for (int64_t i = 0; i < n; i++) {
        if (yv[(size_t)i] == 0.0f) {
            zeros++;
            continue;
        }
        EXPECT_NEAR(yv[(size_t)i], x[(size_t)i] / (1.0 - p), 1e-6 * x[(size_t)i]) << i;
    }
    EXPECT_NEAR((double)zeros / n, p, 5.0 * std::sqrt(p * (1 - p) / n));
    DGM_ASSERT_OK(ctx.get(), dgm_dropout(ctx.get(), xt, (float)p, false, &e));
    EXPECT_EQ(to_host(ctx.get(), e), x);
}

// Normal draws: mean and standard deviation; uniform draws: inside [low, high) with the
// mean and variance of the uniform law; Bernoulli: frequencies of each probability.
TEST(OpForwardStats, DrawsFollowTheirLaws)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 9);
    ASSERT_TRUE(ctx);
    const int64_t n = 200000;
    dgm_tensor *t = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_rand_normal(ctx.get(), 1, &n, 2.0f, 3.0f, &t));
    std::vector<float> v = to_host(ctx.get(), t);
    double s = 0, ss = 0;
    for (float x : v) s += x, ss += (double)x * x;
    double mean = s / n, var = ss / n - mean * mean;
    EXPECT_NEAR(mean, 2.0, 5 * 3.0 / std::sqrt((double)n));
    EXPECT_NEAR(std::sqrt(var), 3.0, 0.02 * 3.0);

    DGM_ASSERT_OK(ctx.get(), dgm_rand_uniform(ctx.get(), 1, &n, -1.0f, 3.0f, &t));
    v = to_host(ctx.get(), t);
    s = ss = 0;
    for (float x : v) {
        ASSERT_GE(x, -1.0f);
        ASSERT_LE(x, 3.0f);
        s += x, ss += (double)x * x;
    }
    mean = s / n, var = ss / n - mean * mean;
    EXPECT_NEAR(mean, 1.0, 5 * (4.0 / std::sqrt(12.0)) / std::sqrt((double)n));
    EXPECT_NEAR(var, 16.0 / 12.0, 0.02 * 16.0 / 12.0);

    const std::vector<float> probs = {0.0f, 0.1f, 0.5f, 0.9f, 1.0f};
    const int64_t reps = 20000, m = (int64_t)probs.size() * reps;
    std::vector<float> pv;
    for (int64_t i = 0; i < reps; i++) pv.insert(pv.end(), probs.begin(), probs.end());
    DGM_ASSERT_OK(ctx.get(), dgm_bernoulli(ctx.get(), from_host(ctx.get(), {m}, pv), &t));
    v = to_host(ctx.get(), t);
    for (size_t k = 0; k < probs.size(); k++) {
        double ones = 0;
        for (int64_t i = 0; i < reps; i++) {
            const float b = v[(size_t)i * probs.size() + k];
            ASSERT_TRUE(b == 0.0f || b == 1.0f);
            ones += b;
        }
        const double pk = probs[k];
        EXPECT_NEAR(ones / reps, pk, 5 * std::sqrt(pk * (1 - pk) / reps) + 1e-12) << "p = " << pk;
    }
    EXPECT_EQ(dgm_ctx_step_end(ctx.get()), DGM_STATUS_OK);
}

// Every op has a row above or a statistics test, except the derivative ops, which only
// gradients create (the second-order suite checks them against finite differences).
TEST(OpForwardCoverage, EveryOpHasAForwardCheck)
{
    std::set<int> covered = {DGM_OP_DROPOUT, DGM_OP_RAND_NORMAL, DGM_OP_RAND_UNIFORM, DGM_OP_BERNOULLI};
    for (const auto &c : all_forward_cases()) covered.insert(c.op);
    const std::set<int> derivative = {DGM_OP_ACTIVATION_GRAD, DGM_OP_ACTIVATION_GRAD2,
                                      DGM_OP_CONV2D_WEIGHT_GRAD, DGM_OP_UPSAMPLE_BILINEAR_GRAD};
    for (int op = 0; op < DGM_OP_COUNT; op++)
        EXPECT_TRUE(covered.count(op) || derivative.count(op))
            << "no forward check for op " << dgm_op_name((dgm_op)op);
}

}  // namespace
