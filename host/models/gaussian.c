/* A full-covariance Gaussian fitted by maximum likelihood, i.e. by minimizing
 * KL(p_data || p_model) up to a constant: the mean negative log-likelihood
 *
 *   NLL(x) = ½·D·log 2π − Σ_j log W_jj + ½·‖W (x − μ)‖²,
 *
 * with the whitening matrix W = Σ^{-1/2} lower-triangular (W = L^{-1} for Σ = L Lᵀ),
 * parametrized without constraints as W = tril(whiten_offdiag, −1) + diag(exp(whiten_log_diag)).
 * Parameters: mean [D], whiten_offdiag [D, D], whiten_log_diag [D], all zero at start (the
 * standard normal; dgm_model_prepare starts them at the data instead: μ the column means,
 * W = diag(1/s) with s the column standard deviations). Sampling inverts W on the host
 * (forward substitution) and draws x = μ + L ε with cuRAND noise ε.
 *
 * Preconditioning (after dgm_model_prepare): the gradients are those of the parameters in
 * standardized units u = (x − x̄)/s mapped back — μ's by the data covariance C (the
 * inverse of its Hessian at the optimum), whiten_offdiag[i, j]'s by 1/s_j², and
 * whiten_log_diag[i]'s by 1/(1 + (s_i·W_ii)²), the inverse of its curvature near the
 * optimum (W_ii·s_i grows as 1/sqrt(1 − R²) when column i is predictable from the earlier
 * ones: without this, strongly correlated data diverge at a learning rate that suits
 * others). So SGD takes the same steps on any shifted or rescaled copy of the data, and one
 * default learning rate suits every CSV.
 * Each preconditioned parameter enters the loss as p_d + (p − p_d)·k with p_d a copy of p
 * made with grad mode off: the value is exactly p, the gradient k times the true one.
 * Adam and AdamW are invariant to such per-parameter gradient scales (up to eps). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/model_impl.h"
#include "ops/ops_common.h"

typedef struct gaussian_state {
    dgm_tensor *strict_lower; /* [D, D] mask of the strictly lower triangle */
    dgm_tensor *eye;          /* [D, D] identity */
    dgm_tensor *pre_mean;     /* [D, D] the data covariance; NULL: no preconditioning */
    dgm_tensor *pre_off;      /* [D, D] 1/s_j² in column j */
    dgm_tensor *log_var;      /* [D] log s_j² */
} gaussian_state;

static const dgm_model_option options[] = {{NULL, NULL, NULL}};
static const dgm_opt_type option_types[] = {DGM_OPT_INT};

static dgm_status build(dgm_model *m)
{
    const int64_t d = m->dim, dd[2] = {d, d};
    const dgm_init zeros = {DGM_INIT_ZEROS, 0, 0};
    DGM_TRY(dgm_params_add(m->params, "mean", 1, &d, zeros));
    DGM_TRY(dgm_params_add(m->params, "whiten_offdiag", 2, dd, zeros));
    DGM_TRY(dgm_params_add(m->params, "whiten_log_diag", 1, &d, zeros));
    gaussian_state *s = calloc(1, sizeof *s);
    if (!s) return dgm_set_error(m->ctx, DGM_STATUS_OOM, "out of host memory");
    m->state = s;
    return DGM_STATUS_OK;
}

/* The masks, made once the parameters exist: a checkpoint's declared shapes are checked
 * against the file before anything of size D² is allocated. */
static dgm_status ready(dgm_model *m)
{
    gaussian_state *s = m->state;
    if (s->eye) return DGM_STATUS_OK;
    const int64_t d = m->dim, dd[2] = {d, d};
    DGM_TRY(dgm_tensor_create(m->ctx, 2, dd, &s->strict_lower));
    DGM_TRY(dgm_tensor_create(m->ctx, 2, dd, &s->eye));
    float *mask = malloc((size_t)(d * d) * sizeof *mask), *eye = malloc((size_t)(d * d) * sizeof *eye);
    dgm_status st = mask && eye ? DGM_STATUS_OK : dgm_set_error(m->ctx, DGM_STATUS_OOM, "out of host memory");
    for (int64_t i = 0; st == DGM_STATUS_OK && i < d; i++)
        for (int64_t j = 0; j < d; j++) {
            mask[i * d + j] = j < i ? 1.0f : 0.0f;
            eye[i * d + j] = j == i ? 1.0f : 0.0f;
        }
    if (st == DGM_STATUS_OK) st = dgm_tensor_copy_from_host(m->ctx, s->strict_lower, mask);
    if (st == DGM_STATUS_OK) st = dgm_tensor_copy_from_host(m->ctx, s->eye, eye);
    free(mask);
    free(eye);
    return st;
}

static void free_preconditioners(gaussian_state *s)
{
    dgm_tensor_free(s->pre_mean), dgm_tensor_free(s->pre_off), dgm_tensor_free(s->log_var);
    s->pre_mean = s->pre_off = s->log_var = NULL;
}

static void destroy(dgm_model *m)
{
    gaussian_state *s = m->state;
    if (!s) return;
    dgm_tensor_free(s->strict_lower);
    dgm_tensor_free(s->eye);
    free_preconditioners(s);
    free(s);
}

/* Per-sample NLL [B, 1] of x [B, D] under mu [D] (or [1, D]), off [D, D], logd [D]. */
static dgm_status nll_rows(dgm_model *m, dgm_tensor *x, dgm_tensor *mu, dgm_tensor *off,
                           dgm_tensor *logd, dgm_tensor **out)
{
    dgm_ctx *ctx = m->ctx;
    gaussian_state *s = m->state;
    dgm_tensor *lower, *diag, *expd, *w, *centered, *z, *sq, *half, *logdet;
    DGM_TRY(dgm_mul(ctx, off, s->strict_lower, &lower));
    DGM_TRY(dgm_exp(ctx, logd, &expd));
    DGM_TRY(dgm_mul(ctx, s->eye, expd, &diag)); /* exp(d_j) on the diagonal (row broadcast) */
    DGM_TRY(dgm_add(ctx, lower, diag, &w));
    DGM_TRY(dgm_sub(ctx, x, mu, &centered));
    DGM_TRY(dgm_matmul(ctx, centered, false, w, true, NULL, DGM_ACT_NONE, 0.0f, &z)); /* (W(x-μ))ᵀ */
    DGM_TRY(dgm_square(ctx, z, &sq));
    DGM_TRY(dgm_sum(ctx, sq, DGM_AXIS_ROWS, &half));
    DGM_TRY(dgm_scale(ctx, half, 0.5f, 0.5f * (float)m->dim * DGM_LOG_2PI, &half));
    DGM_TRY(dgm_sum(ctx, logd, DGM_AXIS_ALL, &logdet));
    return dgm_sub(ctx, half, logdet, out);
}

static dgm_status nll_rows_of_params(dgm_model *m, dgm_tensor *x, dgm_tensor **out)
{
    return nll_rows(m, x, dgm_params_get(m->params, "mean"), dgm_params_get(m->params, "whiten_offdiag"),
                    dgm_params_get(m->params, "whiten_log_diag"), out);
}

/* p_d + (p − p_d)·k: the value of p, the gradient k ⊙ ∂L/∂p (k elementwise), or for the mean
 * (k NULL) (∂L/∂μ)·C with C = s->pre_mean. */
static dgm_status preconditioned(dgm_model *m, dgm_tensor *p, dgm_tensor *k, dgm_tensor **out)
{
    dgm_ctx *ctx = m->ctx;
    gaussian_state *s = m->state;
    dgm_tensor *copy, *diff, *scaled;
    const bool grad = dgm_ctx_grad_enabled(ctx);
    dgm_ctx_set_grad_enabled(ctx, false);
    dgm_status st = dgm_scale(ctx, p, 1.0f, 0.0f, &copy); /* not on the tape */
    dgm_ctx_set_grad_enabled(ctx, grad);
    DGM_TRY(st);
    DGM_TRY(dgm_sub(ctx, p, copy, &diff)); /* exactly zero */
    if (!k) return dgm_matmul(ctx, diff, false, s->pre_mean, false, copy, DGM_ACT_NONE, 0.0f, out);
    DGM_TRY(dgm_mul(ctx, diff, k, &scaled));
    return dgm_add(ctx, copy, scaled, out);
}

static dgm_status train_step(dgm_model *m, dgm_tensor *batch, int64_t step, dgm_tensor **loss)
{
    (void)step;
    gaussian_state *s = m->state;
    dgm_tensor *rows;
    if (!s->pre_mean) DGM_TRY(nll_rows_of_params(m, batch, &rows));
    else {
        dgm_ctx *ctx = m->ctx;
        dgm_tensor *logd = dgm_params_get(m->params, "whiten_log_diag");
        dgm_tensor *mu, *off, *logd_eff, *y, *k_logd;
        /* k = 1/(1 + exp(2·logd + log s²)) = sigmoid(−2·logd − log s²), a constant. */
        const bool grad = dgm_ctx_grad_enabled(ctx);
        dgm_ctx_set_grad_enabled(ctx, false);
        dgm_status st = dgm_scale(ctx, logd, -2.0f, 0.0f, &y);
        if (st == DGM_STATUS_OK) st = dgm_sub(ctx, y, s->log_var, &y);
        if (st == DGM_STATUS_OK) st = dgm_sigmoid(ctx, y, &k_logd);
        dgm_ctx_set_grad_enabled(ctx, grad);
        DGM_TRY(st);
        DGM_TRY(preconditioned(m, dgm_params_get(m->params, "mean"), NULL, &mu));
        DGM_TRY(preconditioned(m, dgm_params_get(m->params, "whiten_offdiag"), s->pre_off, &off));
        DGM_TRY(preconditioned(m, logd, k_logd, &logd_eff));
        DGM_TRY(nll_rows(m, batch, mu, off, logd_eff, &rows));
    }
    return dgm_mean(m->ctx, rows, DGM_AXIS_ALL, loss);
}

static dgm_status evaluate_batch(dgm_model *m, dgm_tensor *batch, const char *metric, double *sum)
{
    (void)metric; /* "nll" only */
    dgm_tensor *rows, *total;
    DGM_TRY(nll_rows_of_params(m, batch, &rows));
    DGM_TRY(dgm_sum(m->ctx, rows, DGM_AXIS_ALL, &total));
    return dgm_read_scalar(m->ctx, total, sum);
}

static dgm_status sample(dgm_model *m, int64_t n, dgm_tensor **out)
{
    dgm_ctx *ctx = m->ctx;
    const int64_t d = m->dim, dd[2] = {d, d}, shape[2] = {n, d};
    float *off = malloc((size_t)(d * d) * sizeof *off), *logd = malloc((size_t)d * sizeof *logd);
    double *w = malloc((size_t)(d * d) * sizeof *w), *l = calloc((size_t)(d * d), sizeof *l);
    float *lf = malloc((size_t)(d * d) * sizeof *lf);
    dgm_status st = off && logd && w && l && lf ? DGM_STATUS_OK
                                                : dgm_set_error(ctx, DGM_STATUS_OOM, "out of host memory");
    if (st == DGM_STATUS_OK) st = dgm_tensor_to_host(ctx, dgm_params_get(m->params, "whiten_offdiag"), off);
    if (st == DGM_STATUS_OK) st = dgm_tensor_to_host(ctx, dgm_params_get(m->params, "whiten_log_diag"), logd);
    if (st == DGM_STATUS_OK) {
        for (int64_t i = 0; i < d; i++)
            for (int64_t j = 0; j < d; j++)
                w[i * d + j] = j < i ? off[i * d + j] : j == i ? exp((double)logd[i]) : 0.0;
        /* L = W^{-1}, column by column: W L = I by forward substitution. */
        for (int64_t c = 0; c < d; c++)
            for (int64_t i = c; i < d; i++) {
                double acc = i == c ? 1.0 : 0.0;
                for (int64_t k = c; k < i; k++) acc -= w[i * d + k] * l[k * d + c];
                l[i * d + c] = acc / w[i * d + i];
            }
        for (int64_t i = 0; i < d * d; i++) lf[i] = (float)l[i];
    }
    dgm_tensor *lt = NULL, *eps = NULL;
    if (st == DGM_STATUS_OK) st = dgm_tensor_from_host(ctx, 2, dd, lf, &lt);
    free(off), free(logd), free(w), free(l), free(lf);
    DGM_TRY(st);
    DGM_TRY(dgm_rand_normal(ctx, 2, shape, 0.0f, 1.0f, &eps));
    return dgm_matmul(ctx, eps, false, lt, true, dgm_params_get(m->params, "mean"), DGM_ACT_NONE,
                      0.0f, out);
}

/* Column means, covariance C (population, in double) and scales s = sqrt(diag C) of the
 * training set; the parameters start there (init_params) and C, 1/s² become the
 * preconditioners. */
static dgm_status prepare(dgm_model *m, const dgm_dataset *data, bool init_params)
{
    dgm_ctx *ctx = m->ctx;
    gaussian_state *s = m->state;
    const int64_t d = m->dim, n = dgm_dataset_count(data), dd[2] = {d, d};
    const float *x = dgm_dataset_data(data);
    if (n < 2)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "a gaussian needs at least 2 samples to fit, the data have %lld",
                             (long long)n);
    double *mean = calloc((size_t)d, sizeof *mean), *cov = calloc((size_t)(d * d), sizeof *cov);
    float *fm = malloc((size_t)(d * d) * sizeof *fm), *fo = malloc((size_t)(d * d) * sizeof *fo);
    float *fl = malloc((size_t)d * sizeof *fl);
    dgm_status st = mean && cov && fm && fo && fl ? DGM_STATUS_OK
                                                  : dgm_set_error(ctx, DGM_STATUS_OOM, "out of host memory");
    for (int64_t r = 0; st == DGM_STATUS_OK && r < n; r++)
        for (int64_t j = 0; j < d; j++) mean[j] += x[r * d + j];
    for (int64_t j = 0; st == DGM_STATUS_OK && j < d; j++) mean[j] /= (double)n;
    for (int64_t r = 0; st == DGM_STATUS_OK && r < n; r++)
        for (int64_t i = 0; i < d; i++) {
            const double ci = x[r * d + i] - mean[i];
            for (int64_t j = 0; j <= i; j++) cov[i * d + j] += ci * (x[r * d + j] - mean[j]);
        }
    for (int64_t i = 0; st == DGM_STATUS_OK && i < d; i++) {
        const double var = cov[i * d + i] / (double)n;
        if (!(var > 0.0) || !isfinite(var) || !(sqrt(var) > 1e-6 * (fabs(mean[i]) + 1e-30)))
            st = dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                               "column %lld of the data is constant (or not finite): a gaussian "
                               "has no maximum-likelihood fit", (long long)i);
    }
    if (st == DGM_STATUS_OK) {
        for (int64_t i = 0; i < d; i++)
            for (int64_t j = 0; j <= i; j++)
                fm[i * d + j] = fm[j * d + i] = (float)(cov[i * d + j] / (double)n);
        for (int64_t i = 0; i < d; i++)
            for (int64_t j = 0; j < d; j++) fo[i * d + j] = 1.0f / fm[j * d + j];
        free_preconditioners(s);
        st = dgm_tensor_create(ctx, 2, dd, &s->pre_mean);
    }
    if (st == DGM_STATUS_OK) st = dgm_tensor_create(ctx, 2, dd, &s->pre_off);
    if (st == DGM_STATUS_OK) st = dgm_tensor_create(ctx, 1, &d, &s->log_var);
    if (st == DGM_STATUS_OK) st = dgm_tensor_copy_from_host(ctx, s->pre_mean, fm);
    if (st == DGM_STATUS_OK) st = dgm_tensor_copy_from_host(ctx, s->pre_off, fo);
    if (st == DGM_STATUS_OK) {
        for (int64_t j = 0; j < d; j++) fl[j] = (float)log(cov[j * d + j] / (double)n);
        st = dgm_tensor_copy_from_host(ctx, s->log_var, fl);
        for (int64_t j = 0; j < d; j++) fl[j] *= -0.5f; /* −log s_j: the init of whiten_log_diag */
    }
    if (st == DGM_STATUS_OK && init_params) {
        float *fmean = fm; /* reused: the covariance is on the device now */
        for (int64_t j = 0; j < d; j++) fmean[j] = (float)mean[j];
        st = dgm_tensor_copy_from_host(ctx, dgm_params_get(m->params, "mean"), fmean);
        if (st == DGM_STATUS_OK) st = dgm_tensor_copy_from_host(ctx, dgm_params_get(m->params, "whiten_log_diag"), fl);
        /* whiten_offdiag stays zero: the correlations are what gradient descent fits. */
    }
    if (st != DGM_STATUS_OK) free_preconditioners(s);
    free(mean), free(cov), free(fm), free(fo), free(fl);
    return st;
}

/* Full-batch SGD with Nesterov momentum on the preconditioned NLL (see the top of the
 * file) until the plateau rule stops it: deterministic steps, so the rule sees the true
 * training NLL, and ~1 ms a step on 100k rows of a few columns. */
static void train_defaults(const json_t *given, int sample_ndim, dgm_train_defaults *t)
{
    (void)sample_ndim;
    (void)given;
    memset(t, 0, sizeof *t);
    t->run = DGM_RUN_CONVERGED;
    t->length = 20000;
    t->converge = (dgm_plateau_rule){.window = 20, .tol = 2e-5, .patience = 2, .lr_factor = 0.1f,
                                      .max_decays = 1};
    t->batch = 100000;
    t->optim = dgm_optim_config_default(DGM_OPTIM_SGD);
    t->optim.lr = 0.2f;
    t->optim.momentum = 0.9f;
    t->optim.nesterov = true;
    t->schedule = (dgm_lr_schedule){.kind = DGM_LR_CONSTANT, .base_lr = t->optim.lr};
    t->log_every = 100;
}

const dgm_model_ops dgm_gaussian_ops = {
    .kind = "gaussian",
    .summary = "full-covariance Gaussian fitted by maximum likelihood (gradient descent on the NLL)",
    .options = options,
    .option_types = option_types,
    .metrics = "nll",
    .default_metrics = "nll",
    .build = build,
    .ready = ready,
    .prepare = prepare,
    .train_defaults = train_defaults,
    .train_step = train_step,
    .sample = sample,
    .evaluate_batch = evaluate_batch,
    .destroy = destroy,
};
