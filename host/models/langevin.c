/* Langevin samplers and their box (see langevin.h). */
#include <math.h>
#include <stdlib.h>

#include "models/langevin.h"
#include "models/ode.h"
#include "core/internal.h"

/* Rows 0 (lows) and 1 (highs) of box [2, d] as [1, d] views. */
static dgm_status box_rows(dgm_ctx *ctx, dgm_tensor *box, dgm_tensor **lo, dgm_tensor **hi)
{
    const int64_t d = dgm_tensor_dim(box, 1), shape[2] = {1, d};
    DGM_TRY(dgm_tensor_wrap_step(ctx, 2, shape, dgm_tensor_data(box), lo));
    return dgm_tensor_wrap_step(ctx, 2, shape, dgm_tensor_data(box) + d, hi);
}

/* clamp(v, lo, hi) = lo + relu(v − lo) − relu(v − hi), lo <= hi, broadcasting [1, d]. */
static dgm_status clamp_between(dgm_ctx *ctx, dgm_tensor *v, dgm_tensor *lo, dgm_tensor *hi,
                                dgm_tensor **out)
{
    dgm_tensor *a = NULL, *b = NULL;
    DGM_TRY(dgm_sub(ctx, v, lo, &a));
    DGM_TRY(dgm_relu(ctx, a, &a));
    DGM_TRY(dgm_sub(ctx, v, hi, &b));
    DGM_TRY(dgm_relu(ctx, b, &b));
    DGM_TRY(dgm_sub(ctx, a, b, &a));
    return dgm_add(ctx, a, lo, out);
}

dgm_status dgm_box_clamp(dgm_ctx *ctx, dgm_tensor *box, dgm_tensor *x, dgm_tensor **out)
{
    dgm_tensor *lo = NULL, *hi = NULL;
    DGM_TRY(box_rows(ctx, box, &lo, &hi));
    return clamp_between(ctx, x, lo, hi, out);
}

dgm_status dgm_box_uniform(dgm_ctx *ctx, dgm_tensor *box, int64_t n, dgm_tensor **out)
{
    const int64_t shape[2] = {n, dgm_tensor_dim(box, 1)};
    dgm_tensor *lo = NULL, *hi = NULL, *w = NULL, *u = NULL;
    DGM_TRY(box_rows(ctx, box, &lo, &hi));
    DGM_TRY(dgm_sub(ctx, hi, lo, &w));
    DGM_TRY(dgm_rand_uniform(ctx, 2, shape, 0.0f, 1.0f, &u));
    DGM_TRY(dgm_mul(ctx, u, w, &u));
    return dgm_add(ctx, u, lo, out);
}

dgm_status dgm_langevin_step(dgm_ctx *ctx, const dgm_langevin *cfg, dgm_tensor *x,
                             dgm_tensor *score, dgm_tensor **out)
{
    dgm_tensor *s = score, *y = NULL, *xi = NULL;
    if (cfg->grad_clip > 0.0f) {
        const int64_t one[2] = {1, 1};
        dgm_tensor *lo = NULL, *hi = NULL;
        DGM_TRY(dgm_tensor_new(ctx, 2, one, &lo));
        DGM_TRY(dgm_tensor_fill(ctx, lo, -cfg->grad_clip));
        DGM_TRY(dgm_tensor_new(ctx, 2, one, &hi));
        DGM_TRY(dgm_tensor_fill(ctx, hi, cfg->grad_clip));
        DGM_TRY(clamp_between(ctx, score, lo, hi, &s));
    }
    const int64_t shape[2] = {dgm_tensor_dim(x, 0), dgm_tensor_dim(x, 1)};
    DGM_TRY(dgm_scale(ctx, s, cfg->step, 0.0f, &y));
    DGM_TRY(dgm_add(ctx, x, y, &y));
    if (cfg->noise > 0.0f) {
        DGM_TRY(dgm_rand_normal(ctx, 2, shape, 0.0f, cfg->noise, &xi));
        DGM_TRY(dgm_add(ctx, y, xi, &y));
    }
    if (cfg->box) return dgm_box_clamp(ctx, cfg->box, y, out);
    return (*out = y, DGM_STATUS_OK);
}

dgm_status dgm_langevin_run(dgm_ctx *ctx, const dgm_langevin *cfg, dgm_score_fn score,
                            void *user, int level, dgm_tensor *x, int64_t steps)
{
    for (int64_t k = 0; k < steps; k++) {
        dgm_tensor *s = NULL, *next = NULL;
        dgm_status st = score(user, x, level, &s);
        if (st == DGM_STATUS_OK) st = dgm_langevin_step(ctx, cfg, x, s, &next);
        if (st == DGM_STATUS_OK) st = dgm_tensor_copy(ctx, x, next);
        const dgm_status end = dgm_ctx_step_end(ctx);
        DGM_TRY(st);
        DGM_TRY(end);
    }
    return DGM_STATUS_OK;
}

dgm_status dgm_langevin_annealed(dgm_ctx *ctx, dgm_score_fn score, void *user,
                                 const double *sigmas, int n_levels, int64_t steps_per_level,
                                 double eps, bool denoise, dgm_tensor *box, dgm_tensor *x)
{
    const double last = sigmas[n_levels - 1];
    for (int i = 0; i < n_levels; i++) {
        const double alpha = eps * (sigmas[i] / last) * (sigmas[i] / last);
        const dgm_langevin cfg = {(float)alpha, (float)sqrt(2.0 * alpha), 0.0f, box};
        DGM_TRY(dgm_langevin_run(ctx, &cfg, score, user, i, x, steps_per_level));
    }
    if (!denoise) return DGM_STATUS_OK;
    const dgm_langevin final = {(float)(last * last), 0.0f, 0.0f, NULL};
    return dgm_langevin_run(ctx, &final, score, user, n_levels - 1, x, 1);
}

dgm_status dgm_data_box(dgm_ctx *ctx, const dgm_dataset *data, double margin, float *lo,
                        float *hi)
{
    const int64_t n = dgm_dataset_count(data), d = dgm_dataset_dim(data);
    const float *x = dgm_dataset_data(data);
    if (n < 1) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "the data has no rows");
    for (int64_t j = 0; j < d; j++) lo[j] = hi[j] = x[j];
    for (int64_t r = 1; r < n; r++)
        for (int64_t j = 0; j < d; j++) {
            const float v = x[r * d + j];
            lo[j] = v < lo[j] ? v : lo[j];
            hi[j] = v > hi[j] ? v : hi[j];
        }
    for (int64_t j = 0; j < d; j++) {
        const double w = (double)hi[j] - (double)lo[j];
        lo[j] = (float)((double)lo[j] - margin * w);
        hi[j] = (float)((double)hi[j] + margin * w);
    }
    return DGM_STATUS_OK;
}

double dgm_data_rms_std(const dgm_dataset *data)
{
    const int64_t n = dgm_dataset_count(data), d = dgm_dataset_dim(data);
    const float *x = dgm_dataset_data(data);
    if (n < 2) return 1.0;
    double var = 0.0;
    for (int64_t j = 0; j < d; j++) {
        double mean = 0.0, sq = 0.0;
        for (int64_t r = 0; r < n; r++) mean += x[r * d + j];
        mean /= (double)n;
        for (int64_t r = 0; r < n; r++) sq += (x[r * d + j] - mean) * (x[r * d + j] - mean);
        var += sq / (double)(n - 1);
    }
    return sqrt(var / (double)d);
}
