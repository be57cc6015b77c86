/* A full-covariance Gaussian fitted by maximum likelihood, i.e. by minimizing
 * KL(p_data || p_model) up to a constant: the mean negative log-likelihood
 *
 *   NLL(x) = ½·D·log 2π − Σ_j log W_jj + ½·‖W (x − μ)‖²,
 *
 * with the whitening matrix W = Σ^{-1/2} lower-triangular (W = L^{-1} for Σ = L Lᵀ),
 * parametrized without constraints as W = tril(whiten_offdiag, −1) + diag(exp(whiten_log_diag)).
 * Parameters: mean [D], whiten_offdiag [D, D], whiten_log_diag [D], all zero at start (the
 * standard normal). Sampling inverts W on the host (forward substitution) and draws
 * x = μ + L ε with cuRAND noise ε. */
#include <math.h>
#include <stdlib.h>

#include "models/model_impl.h"
#include "ops/ops_common.h"

typedef struct gaussian_state {
    dgm_tensor *strict_lower; /* [D, D] mask of the strictly lower triangle */
    dgm_tensor *eye;          /* [D, D] identity */
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

static void destroy(dgm_model *m)
{
    gaussian_state *s = m->state;
    if (!s) return;
    dgm_tensor_free(s->strict_lower);
    dgm_tensor_free(s->eye);
    free(s);
}

/* Per-sample NLL [B, 1]. */
static dgm_status nll_rows(dgm_model *m, dgm_tensor *x, dgm_tensor **out)
{
    dgm_ctx *ctx = m->ctx;
    gaussian_state *s = m->state;
    dgm_tensor *mu = dgm_params_get(m->params, "mean");
    dgm_tensor *off = dgm_params_get(m->params, "whiten_offdiag");
    dgm_tensor *logd = dgm_params_get(m->params, "whiten_log_diag");
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

static dgm_status train_step(dgm_model *m, dgm_tensor *batch, int64_t step, dgm_tensor **loss)
{
    (void)step;
    dgm_tensor *rows;
    DGM_TRY(nll_rows(m, batch, &rows));
    return dgm_mean(m->ctx, rows, DGM_AXIS_ALL, loss);
}

static dgm_status evaluate_batch(dgm_model *m, dgm_tensor *batch, const char *metric, double *sum)
{
    (void)metric; /* "nll" only */
    dgm_tensor *rows, *total;
    DGM_TRY(nll_rows(m, batch, &rows));
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

const dgm_model_ops dgm_gaussian_ops = {
    .kind = "gaussian",
    .summary = "full-covariance Gaussian fitted by maximum likelihood (gradient descent on the NLL)",
    .options = options,
    .option_types = option_types,
    .metrics = "nll",
    .default_metrics = "nll",
    .build = build,
    .ready = NULL,
    .train_step = train_step,
    .sample = sample,
    .evaluate_batch = evaluate_batch,
    .destroy = destroy,
};
