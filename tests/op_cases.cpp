// The op case table; see op_cases.h.
#include "op_cases.h"

namespace dgmtest {

namespace {

OpCase unary_case(const std::string &name, dgm_op op, dgm_activation act, float alpha,
                  float lo = -2.0f, float hi = 2.0f, float gap = 0.05f)
{
    OpCase c;
    c.name = name;
    c.op = op;
    c.inputs = {{{3, 5}, lo, hi, gap}};
    c.fn = [act, alpha](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
        return dgm_activate(ctx, in[0], act, alpha, out);
    };
    return c;
}

using Fn1 = dgm_status (*)(dgm_ctx *, dgm_tensor *, dgm_tensor **);
OpCase math_case(const std::string &name, dgm_op op, Fn1 f, float lo, float hi, float gap = 0.0f)
{
    OpCase c;
    c.name = name;
    c.op = op;
    c.inputs = {{{4, 3}, lo, hi, gap}};
    c.fn = [f](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
        return f(ctx, in[0], out);
    };
    return c;
}

using Fn2 = dgm_status (*)(dgm_ctx *, dgm_tensor *, dgm_tensor *, dgm_tensor **);
OpCase binary_case(const std::string &name, dgm_op op, Fn2 f, std::vector<int64_t> sa,
                   std::vector<int64_t> sb, float lo = -1.0f, float hi = 1.0f, float gap = 0.0f)
{
    OpCase c;
    c.name = name;
    c.op = op;
    c.inputs = {{sa, -1.0f, 1.0f}, {sb, lo, hi, gap}};
    c.fn = [f](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
        return f(ctx, in[0], in[1], out);
    };
    return c;
}

OpCase matmul_case(const std::string &name, bool ta, bool tb, bool bias, dgm_activation act)
{
    const int64_t m = 4, k = 5, n = 3;
    OpCase c;
    c.name = name;
    c.op = DGM_OP_MATMUL;
    c.inputs.push_back({ta ? std::vector<int64_t>{k, m} : std::vector<int64_t>{m, k}});
    c.inputs.push_back({tb ? std::vector<int64_t>{n, k} : std::vector<int64_t>{k, n}});
    if (bias) c.inputs.push_back({{n}});
    c.fn = [ta, tb, bias, act](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
        return dgm_matmul(ctx, in[0], ta, in[1], tb, bias ? in[2] : nullptr, act, 0.1f, out);
    };
    return c;
}

using Loss2 = dgm_status (*)(dgm_ctx *, dgm_tensor *, dgm_tensor *, dgm_reduction, dgm_tensor **);
OpCase loss_case(const std::string &name, dgm_op op, Loss2 f, dgm_reduction red, InputSpec a,
                 InputSpec b)
{
    OpCase c;
    c.name = name;
    c.op = op;
    c.inputs = {a, b};
    c.fn = [f, red](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
        return f(ctx, in[0], in[1], red, out);
    };
    return c;
}

// A convolution (transposed or not) of x with weight and an optional bias.
OpCase conv_case(const std::string &name, bool transposed, std::vector<int64_t> x,
                 std::vector<int64_t> w, bool bias, dgm_conv2d_options o)
{
    OpCase c;
    c.name = name;
    c.op = transposed ? DGM_OP_CONV_TRANSPOSE2D : DGM_OP_CONV2D;
    const int64_t out_ch = transposed ? w[1] * (o.groups ? o.groups : 1) : w[0];
    c.inputs = {{x}, {w}};
    if (bias) c.inputs.push_back({{out_ch}});
    c.fn = [transposed, bias, o](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
        dgm_tensor *b = bias ? in[2] : nullptr;
        return transposed ? dgm_conv_transpose2d(ctx, in[0], in[1], b, &o, out)
                          : dgm_conv2d(ctx, in[0], in[1], b, &o, out);
    };
    return c;
}

// A linear map of one input followed by a square, so that its second derivative is not
// identically zero.
OpCase squared_case(const std::string &name, dgm_op op, std::vector<int64_t> x, Fn1 f)
{
    OpCase c;
    c.name = name;
    c.op = op;
    c.inputs = {{x}};
    c.fn = [f](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
        dgm_tensor *t = nullptr;
        dgm_status st = f(ctx, in[0], &t);
        if (st != DGM_STATUS_OK) return st;
        return dgm_square(ctx, t, out);
    };
    return c;
}

dgm_status upsample2(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor **out)
{
    return dgm_upsample_nearest2d(ctx, x, 2, out);
}
dgm_status pool2(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor **out) { return dgm_avg_pool2d(ctx, x, 2, out); }
dgm_status pool3(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor **out) { return dgm_avg_pool2d(ctx, x, 3, out); }

}  // namespace

std::vector<OpCase> all_op_cases()
{
    std::vector<OpCase> v;
    // matmul: every transpose combination, with and without bias, fused activations.
    v.push_back(matmul_case("matmul_nn", false, false, false, DGM_ACT_NONE));
    v.push_back(matmul_case("matmul_nt_bias", false, true, true, DGM_ACT_NONE));
    v.push_back(matmul_case("matmul_tn_bias", true, false, true, DGM_ACT_NONE));
    v.push_back(matmul_case("matmul_tt", true, true, false, DGM_ACT_NONE));
    v.push_back(matmul_case("matmul_nt_bias_tanh", false, true, true, DGM_ACT_TANH));
    v.push_back(matmul_case("matmul_nt_bias_sigmoid", false, true, true, DGM_ACT_SIGMOID));
    v.push_back(matmul_case("matmul_nt_bias_softplus", false, true, true, DGM_ACT_SOFTPLUS));
    v.push_back(matmul_case("matmul_nt_bias_leaky", false, true, true, DGM_ACT_LEAKY_RELU));
    v.push_back(matmul_case("matmul_nt_bias_relu", false, true, true, DGM_ACT_RELU));
    v.push_back(matmul_case("matmul_nt_bias_elu", false, true, true, DGM_ACT_ELU));
    v.push_back(matmul_case("matmul_nt_bias_selu", false, true, true, DGM_ACT_SELU));
    v.push_back(matmul_case("matmul_nt_bias_gelu", false, true, true, DGM_ACT_GELU));
    v.push_back(matmul_case("matmul_nt_bias_silu", false, true, true, DGM_ACT_SILU));

    // elementwise arithmetic with each broadcast layout
    v.push_back(binary_case("add_full", DGM_OP_ADD, dgm_add, {3, 4}, {3, 4}));
    v.push_back(binary_case("add_row", DGM_OP_ADD, dgm_add, {3, 4}, {4}));
    v.push_back(binary_case("add_col", DGM_OP_ADD, dgm_add, {3, 4}, {3, 1}));
    v.push_back(binary_case("add_scalar", DGM_OP_ADD, dgm_add, {3, 4}, {1}));
    v.push_back(binary_case("add_row_first", DGM_OP_ADD, dgm_add, {1, 4}, {3, 4}));
    v.push_back(binary_case("sub_full", DGM_OP_SUB, dgm_sub, {2, 3, 4}, {2, 3, 4}));
    v.push_back(binary_case("sub_col", DGM_OP_SUB, dgm_sub, {3, 4}, {3, 1}));
    v.push_back(binary_case("mul_full", DGM_OP_MUL, dgm_mul, {3, 4}, {3, 4}));
    v.push_back(binary_case("mul_row", DGM_OP_MUL, dgm_mul, {3, 4}, {1, 4}));
    v.push_back(binary_case("mul_scalar", DGM_OP_MUL, dgm_mul, {3, 4}, {1}));
    v.push_back(binary_case("div_full", DGM_OP_DIV, dgm_div, {3, 4}, {3, 4}, 0.5f, 2.0f));
    v.push_back(binary_case("div_col", DGM_OP_DIV, dgm_div, {3, 4}, {3, 1}, 0.5f, 2.0f));
    {
        OpCase c;
        c.name = "scale";
        c.op = DGM_OP_SCALE;
        c.inputs = {{{3, 4}}};
        c.fn = [](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
            return dgm_scale(ctx, in[0], -1.5f, 0.25f, out);
        };
        v.push_back(c);
    }

    // activations
    v.push_back(unary_case("relu", DGM_OP_RELU, DGM_ACT_RELU, 0.0f));
    v.push_back(unary_case("leaky_relu", DGM_OP_LEAKY_RELU, DGM_ACT_LEAKY_RELU, 0.2f));
    v.push_back(unary_case("elu", DGM_OP_ELU, DGM_ACT_ELU, 1.0f));
    v.push_back(unary_case("selu", DGM_OP_SELU, DGM_ACT_SELU, 0.0f));
    v.push_back(unary_case("gelu", DGM_OP_GELU, DGM_ACT_GELU, 0.0f));
    v.push_back(unary_case("silu", DGM_OP_SILU, DGM_ACT_SILU, 0.0f));
    v.push_back(unary_case("tanh", DGM_OP_TANH, DGM_ACT_TANH, 0.0f));
    v.push_back(unary_case("sigmoid", DGM_OP_SIGMOID, DGM_ACT_SIGMOID, 0.0f));
    v.push_back(unary_case("softplus", DGM_OP_SOFTPLUS, DGM_ACT_SOFTPLUS, 0.0f, -4.0f, 4.0f));

    // math
    v.push_back(math_case("exp", DGM_OP_EXP, dgm_exp, -2.0f, 2.0f));
    v.push_back(math_case("log", DGM_OP_LOG, dgm_log, 0.3f, 3.0f));
    v.push_back(math_case("sqrt", DGM_OP_SQRT, dgm_sqrt, 0.3f, 3.0f));
    v.push_back(math_case("square", DGM_OP_SQUARE, dgm_square, -2.0f, 2.0f));

    // reductions
    const dgm_axis axes[] = {DGM_AXIS_ALL, DGM_AXIS_ROWS, DGM_AXIS_COLS};
    const char *axis_names[] = {"all", "rows", "cols"};
    for (int i = 0; i < 3; i++) {
        for (int mean = 0; mean < 2; mean++) {
            OpCase c;
            c.name = std::string(mean ? "mean_" : "sum_") + axis_names[i];
            c.op = mean ? DGM_OP_MEAN : DGM_OP_SUM;
            c.inputs = {{{4, 3}}};
            dgm_axis ax = axes[i];
            c.fn = [ax, mean](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
                return mean ? dgm_mean(ctx, in[0], ax, out) : dgm_sum(ctx, in[0], ax, out);
            };
            v.push_back(c);
        }
    }
    {
        OpCase c;
        c.name = "logsumexp_rows";
        c.op = DGM_OP_LOGSUMEXP;
        c.inputs = {{{3, 6}, -3.0f, 3.0f}};
        c.fn = [](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
            return dgm_logsumexp_rows(ctx, in[0], out);
        };
        v.push_back(c);
    }

    // shapes
    v.push_back(binary_case("concat_cols", DGM_OP_CONCAT, dgm_concat_cols, {3, 2}, {3, 4}));
    {
        OpCase c;
        c.name = "slice_cols";
        c.op = DGM_OP_SLICE;
        c.inputs = {{{3, 6}}};
        c.fn = [](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
            return dgm_slice_cols(ctx, in[0], 2, 3, out);
        };
        v.push_back(c);
    }
    {
        OpCase c;
        c.name = "reshape";
        c.op = DGM_OP_RESHAPE;
        c.inputs = {{{2, 6}}};
        c.fn = [](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
            const int64_t s[3] = {3, 2, 2};
            dgm_tensor *r = nullptr;
            dgm_status st = dgm_reshape(ctx, in[0], 3, s, &r);
            if (st != DGM_STATUS_OK) return st;
            return dgm_square(ctx, r, out);  // a nonlinear use of the reshaped view
        };
        v.push_back(c);
    }

    // broadcast: a row, a column and a scalar repeated to [3, 4], then a nonlinear use
    const std::vector<std::vector<int64_t>> bshapes = {{4}, {3, 1}, {1}};
    const char *bnames[] = {"broadcast_row", "broadcast_col", "broadcast_scalar"};
    for (int i = 0; i < 3; i++) {
        OpCase c;
        c.name = bnames[i];
        c.op = DGM_OP_BROADCAST;
        c.inputs = {{bshapes[i]}};
        c.fn = [](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
            const int64_t s[2] = {3, 4};
            dgm_tensor *b = nullptr;
            dgm_status st = dgm_broadcast_to(ctx, in[0], 2, s, &b);
            if (st != DGM_STATUS_OK) return st;
            return dgm_square(ctx, b, out);
        };
        v.push_back(c);
    }

    // layers
    {
        OpCase c;
        c.name = "maxout_k3";
        c.op = DGM_OP_MAXOUT;
        c.inputs = {{{3, 6}, -2.0f, 2.0f}};
        c.fn = [](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
            return dgm_maxout(ctx, in[0], 3, out);
        };
        v.push_back(c);
    }
    for (int training = 0; training < 2; training++) {
        OpCase c;
        c.name = training ? "batchnorm_train" : "batchnorm_eval";
        c.op = DGM_OP_BATCHNORM;
        c.inputs = {{{6, 3}, -2.0f, 2.0f},
                    {{3}, 0.5f, 1.5f},
                    {{3}, -0.5f, 0.5f},
                    {{3}, -0.5f, 0.5f, 0.0f, false},
                    {{3}, 0.5f, 2.0f, 0.0f, false}};
        c.fn = [training](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
            return dgm_batchnorm(ctx, in[0], in[1], in[2], in[3], in[4], training, 0.1f, 1e-5f, out);
        };
        v.push_back(c);
    }
    {
        OpCase c;
        c.name = "dropout";
        c.op = DGM_OP_DROPOUT;
        c.inputs = {{{4, 5}}};
        c.reseed = 1234;
        c.fn = [](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
            return dgm_dropout(ctx, in[0], 0.3f, true, out);
        };
        v.push_back(c);
    }

    // images (NCHW): convolutions with each option; one image per tile and several
    {
        dgm_conv2d_options pad1 = {};
        pad1.padding[0] = pad1.padding[1] = 1;
        v.push_back(conv_case("conv2d_3x3_pad1_bias", false, {2, 3, 5, 5}, {4, 3, 3, 3}, true, pad1));
        v.push_back(conv_case("conv2d_3x3_one_image", false, {1, 2, 4, 4}, {3, 2, 3, 3}, true, pad1));
        dgm_conv2d_options odd = {};
        odd.stride[0] = 2;
        odd.padding[0] = 1;
        odd.dilation[1] = 2;
        odd.groups = 2;
        v.push_back(conv_case("conv2d_stride_dilation_groups", false, {2, 4, 7, 6}, {6, 2, 3, 2}, false, odd));
        v.push_back(conv_case("conv2d_1x1_bias", false, {3, 4, 3, 3}, {5, 4, 1, 1}, true, {}));
        v.push_back(conv_case("conv2d_1x1_one_image", false, {1, 3, 2, 3}, {2, 3, 1, 1}, false, {}));
        dgm_conv2d_options up = {};
        up.stride[0] = up.stride[1] = 2;
        up.padding[0] = up.padding[1] = 1;
        up.output_padding[0] = up.output_padding[1] = 1;
        v.push_back(conv_case("conv_transpose2d_stride2_bias", true, {2, 4, 3, 3}, {4, 3, 3, 3}, true, up));
        dgm_conv2d_options grouped = {};
        grouped.stride[0] = grouped.stride[1] = 2;
        grouped.groups = 2;
        v.push_back(conv_case("conv_transpose2d_groups", true, {1, 4, 3, 4}, {4, 2, 2, 2}, false, grouped));
        v.push_back(conv_case("conv_transpose2d_1x1", true, {2, 3, 2, 2}, {3, 2, 1, 1}, true, {}));
    }
    v.push_back(squared_case("upsample_nearest_x2", DGM_OP_UPSAMPLE_NEAREST, {2, 3, 3, 4}, upsample2));
    v.push_back(squared_case("avg_pool_2", DGM_OP_AVG_POOL, {2, 3, 4, 6}, pool2));
    v.push_back(squared_case("avg_pool_3", DGM_OP_AVG_POOL, {1, 2, 6, 3}, pool3));
    v.push_back(squared_case("upsample_bilinear_x2", DGM_OP_UPSAMPLE_BILINEAR, {2, 2, 3, 4}, dgm_upsample_bilinear2x));
    v.push_back(squared_case("upsample_bilinear_x2_1x1", DGM_OP_UPSAMPLE_BILINEAR, {1, 2, 1, 1}, dgm_upsample_bilinear2x));
    v.push_back(squared_case("transpose", DGM_OP_TRANSPOSE, {2, 3, 4}, dgm_transpose));
    for (int t = 0; t < 4; t++) {
        const bool ta = t & 1, tb = t & 2;
        OpCase c;
        c.name = std::string("bmm_") + (ta ? "t" : "n") + (tb ? "t" : "n");
        c.op = DGM_OP_BMM;
        c.inputs = {{ta ? std::vector<int64_t>{3, 5, 4} : std::vector<int64_t>{3, 4, 5}},
                    {tb ? std::vector<int64_t>{3, 2, 5} : std::vector<int64_t>{3, 5, 2}}};
        c.fn = [ta, tb](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
            return dgm_bmm(ctx, in[0], ta, in[1], tb, out);
        };
        v.push_back(c);
    }
    {
        OpCase c;
        c.name = "group_norm_affine";
        c.op = DGM_OP_GROUP_NORM;
        c.inputs = {{{2, 4, 3, 3}, -2.0f, 2.0f}, {{4}, 0.5f, 1.5f}, {{4}, -0.5f, 0.5f}};
        c.fn = [](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
            return dgm_group_norm(ctx, in[0], 2, in[1], in[2], 1e-5f, out);
        };
        v.push_back(c);
        c.name = "group_norm_plain_one_group";
        c.inputs = {{{3, 2, 2, 3}, -2.0f, 2.0f}};
        c.fn = [](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
            dgm_tensor *y = nullptr;
            dgm_status st = dgm_group_norm(ctx, in[0], 1, nullptr, nullptr, 1e-5f, &y);
            if (st != DGM_STATUS_OK) return st;
            return dgm_square(ctx, y, out);  // a nonlinear use: x̂'s own curvature stays
        };
        v.push_back(c);
    }
    {
        OpCase c;
        c.name = "batchnorm2d_train";
        c.op = DGM_OP_BATCHNORM;
        c.inputs = {{{3, 2, 2, 3}, -2.0f, 2.0f}, {{2}, 0.5f, 1.5f}, {{2}, -0.5f, 0.5f},
                    {{2}, -0.5f, 0.5f, 0.0f, false}, {{2}, 0.5f, 2.0f, 0.0f, false}};
        c.fn = [](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
            return dgm_batchnorm2d(ctx, in[0], in[1], in[2], in[3], in[4], true, 0.1f, 1e-5f, out);
        };
        v.push_back(c);
    }
    {
        OpCase c;
        c.name = "softmax_rows";
        c.op = DGM_OP_LOGSUMEXP;
        c.inputs = {{{3, 5}, -2.0f, 2.0f}};
        c.fn = [](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
            return dgm_softmax_rows(ctx, in[0], out);
        };
        v.push_back(c);
    }

    // losses
    const dgm_reduction reds[] = {DGM_REDUCTION_NONE, DGM_REDUCTION_PER_ROW, DGM_REDUCTION_SUM,
                                  DGM_REDUCTION_MEAN};
    const char *red_names[] = {"none", "per_row", "sum", "mean"};
    for (int r = 0; r < 4; r++) {
        v.push_back(loss_case(std::string("bce_with_logits_") + red_names[r],
                              DGM_OP_BCE_WITH_LOGITS, dgm_bce_with_logits, reds[r],
                              {{4, 5}, -3.0f, 3.0f}, {{4, 5}, 0.0f, 1.0f}));
        v.push_back(loss_case(std::string("mse_") + red_names[r], DGM_OP_MSE, dgm_mse, reds[r],
                              {{4, 5}}, {{4, 5}}));
        v.push_back(loss_case(std::string("kl_normal_") + red_names[r], DGM_OP_KL_NORMAL,
                              dgm_kl_normal, reds[r], {{4, 5}}, {{4, 5}, -1.5f, 1.5f}));
    }
    for (int r = 0; r < 4; r++) {
        for (int row_logvar = 0; row_logvar < 2; row_logvar++) {
            OpCase c;
            c.name = std::string("gaussian_log_density_") + red_names[r] +
                     (row_logvar ? "_shared_logvar" : "");
            c.op = DGM_OP_GAUSSIAN_LOG_DENSITY;
            c.inputs = {{{4, 3}}, {{4, 3}}, {row_logvar ? std::vector<int64_t>{3} : std::vector<int64_t>{4, 3}, -1.0f, 1.0f}};
            dgm_reduction red = reds[r];
            c.fn = [red](dgm_ctx *ctx, std::vector<dgm_tensor *> &in, dgm_tensor **out) {
                return dgm_gaussian_log_density(ctx, in[0], in[1], in[2], red, out);
            };
            v.push_back(c);
        }
    }
    return v;
}

std::vector<std::vector<float>> case_inputs(const OpCase &c, uint32_t seed)
{
    std::mt19937 rng(seed);
    std::vector<std::vector<float>> v;
    for (const auto &in : c.inputs) v.push_back(random_values(rng, numel(in.shape), in.lo, in.hi, in.gap));
    return v;
}

::testing::AssertionResult run_case(dgm_ctx *ctx, const OpCase &c,
                                    const std::vector<std::vector<float>> &inputs,
                                    const std::vector<float> *seed_grad, CaseResult *result)
{
    auto fail = [&](const char *what, dgm_status st) {
        ::testing::AssertionResult r = ::testing::AssertionFailure()
                                       << c.name << ": " << what << ": " << dgm_status_name(st)
                                       << ": " << dgm_last_error(ctx);
        dgm_ctx_step_end(ctx);
        return r;
    };
    dgm_status st;
    if (c.reseed && (st = dgm_ctx_seed(ctx, c.reseed)) != DGM_STATUS_OK) return fail("seed", st);
    dgm_ctx_set_grad_enabled(ctx, seed_grad != nullptr);
    std::vector<dgm_tensor *> ts;
    for (size_t i = 0; i < c.inputs.size(); i++) {
        const auto &shape = c.inputs[i].shape;
        dgm_tensor *t = nullptr;
        if ((st = dgm_tensor_from_host(ctx, (int)shape.size(), shape.data(), inputs[i].data(), &t)))
            return fail("input", st);
        if (seed_grad && c.inputs[i].grad) dgm_tensor_set_requires_grad(t, true);
        ts.push_back(t);
    }
    dgm_tensor *out = nullptr;
    if ((st = c.fn(ctx, ts, &out)) != DGM_STATUS_OK) return fail("forward", st);
    result->out.assign((size_t)dgm_tensor_numel(out), 0.0f);
    if ((st = dgm_tensor_to_host(ctx, out, result->out.data()))) return fail("read output", st);
    result->grads.assign(c.inputs.size(), {});
    if (seed_grad) {
        if ((int64_t)seed_grad->size() != dgm_tensor_numel(out))
            return ::testing::AssertionFailure() << c.name << ": seed size";
        int64_t one = (int64_t)seed_grad->size();
        dgm_tensor *s = nullptr;
        if ((st = dgm_tensor_from_host(ctx, 1, &one, seed_grad->data(), &s))) return fail("seed", st);
        if ((st = dgm_backward_from(ctx, out, s))) return fail("backward", st);
        for (size_t i = 0; i < c.inputs.size(); i++) {
            if (!c.inputs[i].grad) continue;
            dgm_tensor *g = nullptr;
            if ((st = dgm_grad(ctx, ts[i], &g))) return fail("grad", st);
            result->grads[i].assign((size_t)dgm_tensor_numel(g), 0.0f);
            if ((st = dgm_tensor_to_host(ctx, g, result->grads[i].data()))) return fail("read grad", st);
        }
    }
    dgm_ctx_set_grad_enabled(ctx, true);
    if ((st = dgm_ctx_step_end(ctx))) return fail("step_end", st);
    return ::testing::AssertionSuccess();
}

void expect_values_close(const std::vector<float> &got, const std::vector<float> &want, double rtol,
                         double atol, const std::string &what)
{
    ASSERT_EQ(got.size(), want.size()) << what;
    size_t bad = 0;
    for (size_t i = 0; i < want.size(); i++)
        if (!(std::fabs(got[i] - want[i]) <= atol + rtol * std::fabs(want[i])) && bad++ < 5)
            ADD_FAILURE() << what << " element " << i << ": " << got[i] << " against " << want[i];
    EXPECT_EQ(bad, 0u) << what;
}

void expect_contexts_match(const OpCase &c, dgm_ctx *ref, dgm_ctx *other, double rtol, double atol,
                           double grad_atol)
{
    auto inputs = case_inputs(c, 11);
    CaseResult probe;
    ASSERT_TRUE(run_case(ref, c, inputs, nullptr, &probe));
    std::mt19937 rng(3);
    auto w = random_values(rng, (int64_t)probe.out.size(), -1.0f, 1.0f);
    CaseResult rr, ro;
    ASSERT_TRUE(run_case(ref, c, inputs, &w, &rr));
    ASSERT_TRUE(run_case(other, c, inputs, &w, &ro));
    expect_values_close(ro.out, rr.out, rtol, atol, c.name + " forward");
    for (size_t i = 0; i < rr.grads.size(); i++)
        expect_values_close(ro.grads[i], rr.grads[i], rtol, grad_atol,
                            c.name + " grad of input " + std::to_string(i));
}

void expect_cuda_matches_cpu(const OpCase &c, double rtol, double atol, double grad_atol)
{
    std::string why;
    CtxPtr cpu = make_ctx(DGM_DEVICE_CPU, 5), gpu = make_ctx(DGM_DEVICE_CUDA, 5, &why);
    ASSERT_TRUE(cpu);
    ASSERT_TRUE(gpu) << why;
    expect_contexts_match(c, cpu.get(), gpu.get(), rtol, atol, grad_atol);
}

}  // namespace dgmtest
