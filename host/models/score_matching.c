/* Score matching pieces (see score_matching.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/ema_weights.h"
#include "models/model_impl.h"
#include "models/score_matching.h"
#include "metrics/fisher.h"

void dgm_sigma_ladder(double sigma_max, double sigma_min, int levels, double *out)
{
    for (int i = 0; i < levels; i++)
        out[i] = levels == 1 ? sigma_max
                             : sigma_max * pow(sigma_min / sigma_max, (double)i / (double)(levels - 1));
}

double dgm_data_max_distance(const dgm_dataset *data, int64_t max_rows)
{
    const int64_t n = dgm_dataset_count(data) < max_rows ? dgm_dataset_count(data) : max_rows;
    const int64_t d = dgm_dataset_dim(data);
    const float *x = dgm_dataset_data(data);
    double best = 0.0;
    for (int64_t a = 0; a < n; a++)
        for (int64_t b = a + 1; b < n; b++) {
            double sq = 0.0;
            for (int64_t j = 0; j < d; j++) {
                const double t = (double)x[a * d + j] - (double)x[b * d + j];
                sq += t * t;
            }
            best = sq > best ? sq : best;
        }
    return sqrt(best);
}

dgm_status dgm_dsm_loss(dgm_ctx *ctx, dgm_tensor *sigma_score, dgm_tensor *z, dgm_tensor **out)
{
    dgm_tensor *r = NULL;
    DGM_TRY(dgm_add(ctx, sigma_score, z, &r));
    DGM_TRY(dgm_square(ctx, r, &r));
    DGM_TRY(dgm_sum(ctx, r, DGM_AXIS_ALL, &r));
    return dgm_scale(ctx, r, 0.5f / (float)dgm_tensor_dim(z, 0), 0.0f, out);
}

dgm_status dgm_ssm_loss(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor *score, dgm_tensor *v,
                        dgm_tensor **out)
{
    dgm_tensor *vs = NULL, *proj = NULL, *total = NULL, *jv = NULL, *vjv = NULL, *sq = NULL;
    DGM_TRY(dgm_mul(ctx, v, score, &vs));
    DGM_TRY(dgm_sum(ctx, vs, DGM_AXIS_ROWS, &proj)); /* vᵀs per row, [B, 1] */
    DGM_TRY(dgm_sum(ctx, proj, DGM_AXIS_ALL, &total));
    /* ∇ₓ Σ_rows vᵀs = (∇ₓs)ᵀv per row (rows are independent), kept on the tape */
    DGM_TRY(dgm_autograd(ctx, total, NULL, 1, &x, true, &jv));
    DGM_TRY(dgm_mul(ctx, jv, v, &vjv));
    DGM_TRY(dgm_sum(ctx, vjv, DGM_AXIS_ALL, &vjv));
    DGM_TRY(dgm_square(ctx, proj, &sq));
    DGM_TRY(dgm_sum(ctx, sq, DGM_AXIS_ALL, &sq));
    DGM_TRY(dgm_scale(ctx, sq, 0.5f, 0.0f, &sq));
    DGM_TRY(dgm_add(ctx, vjv, sq, &vjv));
    return dgm_scale(ctx, vjv, 1.0f / (float)dgm_tensor_dim(x, 0), 0.0f, out);
}

dgm_status dgm_ssm_projections(dgm_ctx *ctx, int64_t n, int64_t d, bool rademacher,
                               dgm_tensor **out)
{
    const int64_t shape[2] = {n, d};
    if (!rademacher) return dgm_rand_normal(ctx, 2, shape, 0.0f, 1.0f, out);
    dgm_tensor *half = NULL, *b = NULL;
    DGM_TRY(dgm_tensor_new(ctx, 2, shape, &half));
    DGM_TRY(dgm_tensor_fill(ctx, half, 0.5f));
    DGM_TRY(dgm_bernoulli(ctx, half, &b));
    return dgm_scale(ctx, b, 2.0f, -1.0f, out);
}

dgm_status dgm_energy_score(dgm_ctx *ctx, dgm_tensor *energy, dgm_tensor *x, bool create_graph,
                            dgm_tensor **out)
{
    dgm_tensor *total = NULL, *g = NULL;
    DGM_TRY(dgm_sum(ctx, energy, DGM_AXIS_ALL, &total));
    DGM_TRY(dgm_autograd(ctx, total, NULL, 1, &x, create_graph, &g));
    return dgm_scale(ctx, g, -1.0f, 0.0f, out);
}

dgm_status dgm_mixture_toy_of(dgm_ctx *ctx, const dgm_dataset *data, int64_t dim, const char *who,
                              dgm_mixture_toy *out)
{
    memset(out, 0, sizeof *out);
    const char *toy = dgm_dataset_toy_name(data);
    double sd = 0.0;
    if (!toy || dim != 2 || dgm_toy_mixture(ctx, toy, 32, out->centres, &out->k, &sd) != DGM_STATUS_OK)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: needs data whose score is known: --data ring8, grid25 or gauss8", who);
    out->var = sd * sd;
    return DGM_STATUS_OK;
}

typedef struct fisher_job {
    dgm_model *m;
    dgm_mixture_toy toy;
    const dgm_dataset *data;
    dgm_noised_output_fn fn;
    double value;
} fisher_job;

static dgm_status fisher_job_run(void *job)
{
    fisher_job *j = job;
    return dgm_mixture_fisher(j->m->ctx, &j->toy, j->data, j->fn, j->m, &j->value);
}

dgm_status dgm_model_fisher(dgm_model *m, const dgm_dataset *data, dgm_noised_output_fn fn, bool ema,
                            double *value)
{
    char who[64];
    snprintf(who, sizeof who, "%s metric fisher", m->ops->kind);
    fisher_job job = {.m = m, .data = data, .fn = fn};
    DGM_TRY(dgm_mixture_toy_of(m->ctx, data, m->dim, who, &job.toy));
    DGM_TRY(dgm_ema_weights_call(m->params, ema, fisher_job_run, &job));
    *value = job.value;
    return DGM_STATUS_OK;
}

dgm_status dgm_mixture_fisher(dgm_ctx *ctx, const dgm_mixture_toy *toy, const dgm_dataset *data,
                              dgm_noised_output_fn fn, void *user, double *value)
{
    const int64_t n = dgm_dataset_count(data) < 2000 ? dgm_dataset_count(data) : 2000;
    const int64_t shape[2] = {n, 2};
    dgm_tensor *x = NULL, *xt = NULL, *out = NULL;
    float *host = malloc((size_t)(4 * n) * sizeof *host);
    double *coef = malloc((size_t)(4 * n) * sizeof *coef);
    dgm_status st = host && coef ? DGM_STATUS_OK : dgm_set_error(ctx, DGM_STATUS_OOM, "out of host memory");
    if (st == DGM_STATUS_OK) st = dgm_tensor_from_host(ctx, 2, shape, dgm_dataset_data(data), &x);
    if (st == DGM_STATUS_OK) st = fn(user, x, &xt, &out, coef);
    if (st == DGM_STATUS_OK) st = dgm_tensor_to_host(ctx, xt, host);
    if (st == DGM_STATUS_OK) st = dgm_tensor_to_host(ctx, out, host + 2 * n);
    double sum = 0.0;
    for (int64_t r = 0; st == DGM_STATUS_OK && r < n; r++) {
        const double *c = coef + 4 * r, p[2] = {host[2 * r], host[2 * r + 1]};
        double centres[2 * 32], score[2];
        for (int j = 0; j < 2 * toy->k; j++) centres[j] = c[0] * toy->centres[j];
        st = dgm_mixture_score(ctx, toy->k, 2, centres, c[0] * c[0] * toy->var + c[1], p, score);
        for (int i = 0; i < 2 && st == DGM_STATUS_OK; i++) {
            const double d = c[2] * host[2 * n + 2 * r + i] - score[i];
            sum += c[3] * d * d;
        }
    }
    free(host);
    free(coef);
    *value = sum / (double)n;
    return st;
}
