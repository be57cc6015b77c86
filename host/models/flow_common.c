/* Shared by the likelihood flows (see flow_common.h). */
#include <math.h>
#include <string.h>

#include "models/flow_common.h"

#define LOGIT_ALPHA 0.05f

dgm_status dgm_flow_to_logit(dgm_ctx *ctx, dgm_tensor *x, bool dequantize, dgm_tensor **w, dgm_tensor **logdet)
{
    dgm_tensor *y = NULL, *u = NULL, *p = NULL, *lp = NULL, *l1p = NULL, *t = NULL;
    if (dequantize) {
        const int64_t shape[2] = {dgm_tensor_dim(x, 0), dgm_tensor_dim(x, 1)};
        DGM_TRY(dgm_rand_uniform(ctx, 2, shape, 0.0f, 1.0f, &u));
        DGM_TRY(dgm_scale(ctx, x, 255.0f, 0.0f, &y));
        DGM_TRY(dgm_add(ctx, y, u, &y));
        DGM_TRY(dgm_scale(ctx, y, 1.0f / 256.0f, 0.0f, &y));
    } else {
        DGM_TRY(dgm_scale(ctx, x, 255.0f / 256.0f, 0.5f / 256.0f, &y));
    }
    DGM_TRY(dgm_scale(ctx, y, 1.0f - 2.0f * LOGIT_ALPHA, LOGIT_ALPHA, &p));
    DGM_TRY(dgm_log(ctx, p, &lp));
    DGM_TRY(dgm_scale(ctx, p, -1.0f, 1.0f, &t));
    DGM_TRY(dgm_log(ctx, t, &l1p));
    DGM_TRY(dgm_sub(ctx, lp, l1p, w));
    /* dw/dy = (1 − 2α) / (p·(1 − p)) */
    DGM_TRY(dgm_add(ctx, lp, l1p, &t));
    DGM_TRY(dgm_scale(ctx, t, -1.0f, logf(1.0f - 2.0f * LOGIT_ALPHA), &t));
    return dgm_sum(ctx, t, DGM_AXIS_ROWS, logdet);
}

dgm_status dgm_flow_from_logit(dgm_ctx *ctx, dgm_tensor *w, dgm_tensor **x)
{
    dgm_tensor *h = NULL;
    DGM_TRY(dgm_sigmoid(ctx, w, &h));
    DGM_TRY(dgm_scale(ctx, h, 1.0f / (1.0f - 2.0f * LOGIT_ALPHA), -LOGIT_ALPHA / (1.0f - 2.0f * LOGIT_ALPHA), &h));
    return dgm_clamp_values(ctx, h, 0.0f, 1.0f, x);
}

dgm_status dgm_flow_nll_from_base(dgm_ctx *ctx, dgm_tensor *z, dgm_tensor *logdet, bool image, dgm_tensor **out)
{
    const double d = (double)dgm_tensor_dim(z, 1);
    dgm_tensor *sq = NULL;
    DGM_TRY(dgm_square(ctx, z, &sq));
    DGM_TRY(dgm_sum(ctx, sq, DGM_AXIS_ROWS, &sq));
    const double shift = 0.5 * d * 1.8378770664093454836 /* log 2π */ + (image ? d * log(256.0) : 0.0);
    DGM_TRY(dgm_scale(ctx, sq, 0.5f, (float)shift, &sq));
    return logdet ? dgm_sub(ctx, sq, logdet, out) : (*out = sq, DGM_STATUS_OK);
}

dgm_status dgm_flow_metric_sum(dgm_model *m, dgm_tensor *rows, const char *metric, double *sum)
{
    dgm_tensor *total = NULL;
    DGM_TRY(dgm_sum(m->ctx, rows, DGM_AXIS_ALL, &total));
    DGM_TRY(dgm_read_scalar(m->ctx, total, sum));
    if (!strcmp(metric, "bpd")) *sum /= (double)m->dim * log(2.0);
    return DGM_STATUS_OK;
}

dgm_status dgm_flow_check_pixels(dgm_model *m, const dgm_dataset *data, const char *kind)
{
    const float *x = dgm_dataset_data(data);
    const int64_t n = dgm_dataset_count(data) * m->dim;
    for (int64_t i = 0; i < n; i++)
        if (!(x[i] >= 0.0f && x[i] <= 1.0f))
            return dgm_set_error(m->ctx, DGM_STATUS_INVALID_ARGUMENT,
                                 "%s models images as 256-level pixels in [0, 1]; value %lld is %g", kind,
                                 (long long)i, (double)x[i]);
    return DGM_STATUS_OK;
}
