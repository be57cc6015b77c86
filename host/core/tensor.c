/* Tensors: creation, checks, host copies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

const char *dgm_shape_str(const dgm_tensor *t, char *buf, size_t len)
{
    if (!t) {
        snprintf(buf, len, "NULL");
        return buf;
    }
    size_t n = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < t->ndim && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, i ? ", %lld" : "%lld", (long long)t->shape[i]);
    if (n < len) snprintf(buf + n, len - n, "]");
    return buf;
}

dgm_status dgm_check_tensor(dgm_ctx *ctx, const dgm_tensor *t, const char *op, const char *arg)
{
    if (!t) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: %s is NULL", op, arg);
    if (t->ctx != ctx)
        return dgm_set_error(ctx, DGM_STATUS_WRONG_DEVICE,
                             "%s: %s belongs to another context (device %s, this one %s)", op,
                             arg, dgm_device_name(t->ctx ? t->ctx->device : DGM_DEVICE_CPU),
                             dgm_device_name(ctx->device));
    if (t->kind == DGM_TENSOR_STEP && t->gen != ctx->gen)
        return dgm_set_error(ctx, DGM_STATUS_STATE_ERROR,
                             "%s: %s is a step tensor used after dgm_ctx_step_end", op, arg);
    return DGM_STATUS_OK;
}

static dgm_status check_shape(dgm_ctx *ctx, int ndim, const int64_t *shape, const char *fn,
                              int64_t *numel)
{
    if (ndim < 1 || ndim > DGM_MAX_DIMS)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: ndim %d is not in 1..%d", fn, ndim, DGM_MAX_DIMS);
    if (!shape) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: shape is NULL", fn);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1)
            return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                                 "%s: dimension %d is %lld (must be >= 1)", fn, i,
                                 (long long)shape[i]);
        if (n > INT64_MAX / 4 / shape[i])
            return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: shape too large", fn);
        n *= shape[i];
    }
    *numel = n;
    return DGM_STATUS_OK;
}

static void set_shape(dgm_tensor *t, dgm_ctx *ctx, int ndim, const int64_t *shape, int64_t numel)
{
    memset(t, 0, sizeof *t);
    t->ctx = ctx;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->numel = numel;
}

/* A step tensor struct with no data yet. */
static dgm_status step_struct(dgm_ctx *ctx, int ndim, const int64_t *shape, int64_t numel,
                              dgm_tensor **out)
{
    void *p = NULL;
    dgm_status st = dgm_arena_alloc(&ctx->host_arena, sizeof(dgm_tensor), &p);
    if (st != DGM_STATUS_OK) return dgm_set_error(ctx, st, "out of host memory for a tensor");
    dgm_tensor *t = p;
    set_shape(t, ctx, ndim, shape, numel);
    t->kind = DGM_TENSOR_STEP;
    t->gen = ctx->gen;
    *out = t;
    return DGM_STATUS_OK;
}

dgm_status dgm_tensor_alloc_step(dgm_ctx *ctx, int ndim, const int64_t *shape, dgm_tensor **out)
{
    int64_t numel = 0;
    dgm_status st = check_shape(ctx, ndim, shape, ctx->op ? ctx->op : "dgm_tensor_new", &numel);
    if (st != DGM_STATUS_OK) return st;
    dgm_tensor *t = NULL;
    st = step_struct(ctx, ndim, shape, numel, &t);
    if (st != DGM_STATUS_OK) return st;
    void *data = NULL;
    st = dgm_scratch(ctx, (size_t)numel * sizeof(float), &data);
    if (st != DGM_STATUS_OK) return st;
    t->data = data;
    *out = t;
    return DGM_STATUS_OK;
}

dgm_status dgm_tensor_wrap_step(dgm_ctx *ctx, int ndim, const int64_t *shape, float *data,
                                dgm_tensor **out)
{
    int64_t numel = 0;
    dgm_status st = check_shape(ctx, ndim, shape, ctx->op ? ctx->op : "dgm_tensor_wrap", &numel);
    if (st != DGM_STATUS_OK) return st;
    if ((st = step_struct(ctx, ndim, shape, numel, out)) != DGM_STATUS_OK) return st;
    (*out)->data = data;
    return DGM_STATUS_OK;
}

dgm_status dgm_tensor_new(dgm_ctx *ctx, int ndim, const int64_t *shape, dgm_tensor **out)
{
    dgm_status st = dgm_check_ctx(ctx);
    if (st != DGM_STATUS_OK) return st;
    ctx->op = "dgm_tensor_new";
    if (!out) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_tensor_new: out is NULL");
    *out = NULL;
    return dgm_tensor_alloc_step(ctx, ndim, shape, out);
}

dgm_status dgm_tensor_from_host(dgm_ctx *ctx, int ndim, const int64_t *shape, const float *data,
                                dgm_tensor **out)
{
    dgm_status st = dgm_check_ctx(ctx);
    if (st != DGM_STATUS_OK) return st;
    ctx->op = "dgm_tensor_from_host";
    if (!out || !data)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_tensor_from_host: %s is NULL", out ? "data" : "out");
    *out = NULL;
    dgm_tensor *t = NULL;
    st = dgm_tensor_alloc_step(ctx, ndim, shape, &t);
    if (st != DGM_STATUS_OK) return st;
    st = ctx->be->copy(ctx, t->data, data, (size_t)t->numel * sizeof(float),
                       DGM_COPY_HOST_TO_DEVICE);
    if (st != DGM_STATUS_OK) return st;
    *out = t;
    return DGM_STATUS_OK;
}

dgm_status dgm_tensor_create(dgm_ctx *ctx, int ndim, const int64_t *shape, dgm_tensor **out)
{
    dgm_status st = dgm_check_ctx(ctx);
    if (st != DGM_STATUS_OK) return st;
    ctx->op = "dgm_tensor_create";
    if (!out) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_tensor_create: out is NULL");
    *out = NULL;
    int64_t numel = 0;
    st = check_shape(ctx, ndim, shape, "dgm_tensor_create", &numel);
    if (st != DGM_STATUS_OK) return st;
    dgm_tensor *t = malloc(sizeof *t);
    if (!t) return dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_tensor_create: out of host memory");
    set_shape(t, ctx, ndim, shape, numel);
    t->kind = DGM_TENSOR_PERSISTENT;
    void *data = NULL;
    size_t bytes = (size_t)numel * sizeof(float);
    st = ctx->be->alloc(ctx, bytes, &data);
    if (st != DGM_STATUS_OK) {
        char buf[96];
        dgm_shape_str(t, buf, sizeof buf);
        free(t);
        return dgm_set_error(ctx, st, "dgm_tensor_create: cannot allocate %zu bytes for %s", bytes,
                             buf);
    }
    t->data = data;
    st = ctx->be->fill(ctx, t->data, (size_t)numel, 0.0f);
    if (st != DGM_STATUS_OK) {
        dgm_tensor_free(t);
        return st;
    }
    *out = t;
    return DGM_STATUS_OK;
}

void dgm_tensor_free(dgm_tensor *t)
{
    if (!t || t->kind != DGM_TENSOR_PERSISTENT) return;
    t->ctx->be->free(t->ctx, t->data); /* its grad, if any, lives in the step arena */
    free(t);
}

int dgm_tensor_ndim(const dgm_tensor *t) { return t ? t->ndim : 0; }

int64_t dgm_tensor_dim(const dgm_tensor *t, int dim)
{
    if (!t) return 0;
    if (dim < 0) dim += t->ndim;
    if (dim < 0 || dim >= t->ndim) return 0;
    return t->shape[dim];
}

int64_t dgm_tensor_numel(const dgm_tensor *t) { return t ? t->numel : 0; }

float *dgm_tensor_data(dgm_tensor *t) { return t ? t->data : NULL; }

dgm_status dgm_tensor_to_host(dgm_ctx *ctx, const dgm_tensor *t, float *dst)
{
    dgm_status st = dgm_check_ctx(ctx);
    if (st != DGM_STATUS_OK) return st;
    ctx->op = "dgm_tensor_to_host";
    st = dgm_check_tensor(ctx, t, "dgm_tensor_to_host", "t");
    if (st != DGM_STATUS_OK) return st;
    if (!dst) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_tensor_to_host: dst is NULL");
    return ctx->be->copy(ctx, dst, t->data, (size_t)t->numel * sizeof(float),
                         DGM_COPY_DEVICE_TO_HOST);
}

dgm_status dgm_tensor_copy_from_host(dgm_ctx *ctx, dgm_tensor *t, const float *src)
{
    dgm_status st = dgm_check_ctx(ctx);
    if (st != DGM_STATUS_OK) return st;
    ctx->op = "dgm_tensor_copy_from_host";
    st = dgm_check_tensor(ctx, t, "dgm_tensor_copy_from_host", "t");
    if (st != DGM_STATUS_OK) return st;
    if (!src) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_tensor_copy_from_host: src is NULL");
    return ctx->be->copy(ctx, t->data, src, (size_t)t->numel * sizeof(float),
                         DGM_COPY_HOST_TO_DEVICE);
}

dgm_status dgm_tensor_copy(dgm_ctx *ctx, dgm_tensor *dst, const dgm_tensor *src)
{
    dgm_status st = dgm_check_ctx(ctx);
    if (st != DGM_STATUS_OK) return st;
    ctx->op = "dgm_tensor_copy";
    if ((st = dgm_check_tensor(ctx, dst, "dgm_tensor_copy", "dst")) != DGM_STATUS_OK) return st;
    if ((st = dgm_check_tensor(ctx, src, "dgm_tensor_copy", "src")) != DGM_STATUS_OK) return st;
    if (dst->numel != src->numel) {
        char a[96], b[96];
        return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH,
                             "dgm_tensor_copy: dst %s and src %s differ in size",
                             dgm_shape_str(dst, a, sizeof a), dgm_shape_str(src, b, sizeof b));
    }
    return ctx->be->copy(ctx, dst->data, src->data, (size_t)src->numel * sizeof(float),
                         DGM_COPY_DEVICE_TO_DEVICE);
}

dgm_status dgm_tensor_fill(dgm_ctx *ctx, dgm_tensor *t, float value)
{
    dgm_status st = dgm_check_ctx(ctx);
    if (st != DGM_STATUS_OK) return st;
    ctx->op = "dgm_tensor_fill";
    if ((st = dgm_check_tensor(ctx, t, "dgm_tensor_fill", "t")) != DGM_STATUS_OK) return st;
    return ctx->be->fill(ctx, t->data, (size_t)t->numel, value);
}

dgm_status dgm_tensor_set_requires_grad(dgm_tensor *t, bool requires_grad)
{
    if (!t) return DGM_STATUS_INVALID_ARGUMENT;
    if (t->kind == DGM_TENSOR_PARAM) {
        if (!requires_grad || t->is_buffer)
            return dgm_set_error(t->ctx, DGM_STATUS_INVALID_ARGUMENT,
                                 "dgm_tensor_set_requires_grad: parameters always require a "
                                 "gradient and buffers never do");
        return DGM_STATUS_OK;
    }
    t->requires_grad = requires_grad;
    return DGM_STATUS_OK;
}

bool dgm_tensor_requires_grad(const dgm_tensor *t) { return t && t->requires_grad; }
