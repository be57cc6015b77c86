/* The embedding calls (dgm/model.h): samples into a caller's buffer, a metric of a
 * caller's rows. Each works on any kind through the family's hooks and ends the step. */
#include <math.h>
#include <string.h>

#include "models/model_impl.h"
#include "ops/ops_common.h"

#define SAMPLE_CHUNK 4096

dgm_status dgm_model_sample_into(dgm_model *m, int64_t n, float *dst, dgm_memory where)
{
    if (!m) return DGM_STATUS_INVALID_ARGUMENT;
    dgm_ctx *ctx = m->ctx;
    if (!dst || n < 1)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_model_sample_into: n = %lld, dst %s", (long long)n,
                             dst ? "given" : "NULL");
    if (where != DGM_MEMORY_HOST && where != DGM_MEMORY_DEVICE)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_model_sample_into: unknown memory kind %d", (int)where);
    if (where == DGM_MEMORY_DEVICE && dgm_ctx_device(ctx) != DGM_DEVICE_CUDA)
        return dgm_set_error(ctx, DGM_STATUS_UNSUPPORTED,
                             "dgm_model_sample_into: device memory needs a CUDA context");
    const int64_t chunk = m->sample_chunk > 0 ? m->sample_chunk : SAMPLE_CHUNK;
    for (int64_t done = 0; done < n;) {
        const int64_t rows = n - done < chunk ? n - done : chunk;
        float *out = dst + done * m->dim;
        dgm_tensor *x = NULL;
        dgm_status st = dgm_model_sample(m, rows, &x);
        /* A sample with a NaN or infinite value is an error, not data: its sum says so in
         * one pass (a checkpoint whose parameters went NaN samples nothing but NaN). */
        dgm_tensor *sum = NULL;
        double total = 0.0;
        if (st == DGM_STATUS_OK) st = dgm_sum(ctx, x, DGM_AXIS_ALL, &sum);
        if (st == DGM_STATUS_OK) st = dgm_read_scalar(ctx, sum, &total);
        if (st == DGM_STATUS_OK && !isfinite(total))
            st = dgm_set_error(ctx, DGM_STATUS_NOT_FINITE,
                               "the %s model's samples hold NaN or infinite values (are its parameters finite?)",
                               m->ops->kind);
        if (st == DGM_STATUS_OK) {
            const size_t bytes = (size_t)(rows * m->dim) * sizeof(float);
            st = where == DGM_MEMORY_HOST
                     ? dgm_tensor_to_host(ctx, x, out)
                     : ctx->be->copy(ctx, out, x->data, bytes, DGM_COPY_DEVICE_TO_DEVICE);
            if (st == DGM_STATUS_OK && where == DGM_MEMORY_DEVICE) st = ctx->be->synchronize(ctx);
        }
        const dgm_status end = dgm_ctx_step_end(ctx);
        DGM_TRY(st);
        DGM_TRY(end);
        done += rows;
    }
    return DGM_STATUS_OK;
}

dgm_status dgm_model_score(dgm_model *m, const float *x, int64_t n, const char *metric,
                           double *value)
{
    if (!m) return DGM_STATUS_INVALID_ARGUMENT;
    dgm_ctx *ctx = m->ctx;
    if (!x || !value || n < 1)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_model_score: n = %lld, x and value must not be NULL", (long long)n);
    *value = NAN;
    const dgm_model_ops *ops = m->ops;
    if (!metric || !*metric) metric = ops->default_metrics;
    const size_t len = strlen(metric);
    if (strchr(metric, ',') || !dgm_model_in_list(ops->metrics, metric, len))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_model_score: unknown metric '%s' for %s (valid: %s; one at a time)",
                             metric, ops->kind, ops->metrics);
    if (!ops->evaluate_batch ||
        (ops->evaluate_samples && dgm_model_in_list(ops->sample_metrics, metric, len)))
        return dgm_set_error(ctx, DGM_STATUS_UNSUPPORTED,
                             "dgm_model_score: %s's metric '%s' is computed from samples, not "
                             "data: use dgm_model_evaluate", ops->kind, metric);
    const bool grad = dgm_ctx_grad_enabled(ctx);
    dgm_ctx_set_grad_enabled(ctx, false);
    const dgm_status st = dgm_model_mean_metric(m, x, n, metric, value);
    dgm_ctx_set_grad_enabled(ctx, grad);
    return st;
}
