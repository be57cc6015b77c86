/* Parameter blocks: one value buffer (trainable tensors, then buffers) and one gradient
 * buffer, with named views. Views are declared first and pointed into the buffers by
 * dgm_params_alloc, which also initializes them in declaration order. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

#define DGM_PARAM_NAME_MAX 128

typedef struct dgm_param_entry {
    char name[DGM_PARAM_NAME_MAX];
    dgm_tensor view;
    dgm_init init;
    int64_t offset; /* in floats, into the value buffer */
} dgm_param_entry;

struct dgm_params {
    dgm_ctx *ctx;
    dgm_param_entry *entries;
    int count, capacity;
    int64_t numel;       /* trainable floats */
    int64_t total_numel; /* with buffers */
    float *values;
    float *grads;
};

dgm_status dgm_params_create(dgm_ctx *ctx, dgm_params **out)
{
    DGM_TRY(dgm_check_ctx(ctx));
    if (!out) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_params_create: out is NULL");
    dgm_params *p = calloc(1, sizeof *p);
    if (!p) return dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_params_create: out of host memory");
    p->ctx = ctx;
    *out = p;
    return DGM_STATUS_OK;
}

void dgm_params_free(dgm_params *p)
{
    if (!p) return;
    if (p->values) p->ctx->be->free(p->ctx, p->values);
    if (p->grads) p->ctx->be->free(p->ctx, p->grads);
    free(p->entries);
    free(p);
}

static dgm_status add(dgm_params *p, const char *name, int ndim, const int64_t *shape,
                      dgm_init init, bool buffer)
{
    if (!p) return DGM_STATUS_INVALID_ARGUMENT;
    dgm_ctx *ctx = p->ctx;
    if (p->values)
        return dgm_set_error(ctx, DGM_STATUS_STATE_ERROR,
                             "dgm_params_add: '%s' added after dgm_params_alloc", name ? name : "");
    if (!name || !*name || strlen(name) >= DGM_PARAM_NAME_MAX)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_params_add: name must have 1 to %d bytes", DGM_PARAM_NAME_MAX - 1);
    for (int i = 0; i < p->count; i++)
        if (!strcmp(p->entries[i].name, name))
            return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                                 "dgm_params_add: '%s' is declared twice", name);
    if (ndim < 1 || ndim > DGM_MAX_DIMS || !shape)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_params_add: '%s' needs 1 to %d dimensions", name, DGM_MAX_DIMS);
    if ((unsigned)init.kind > DGM_INIT_ORTHOGONAL)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_params_add: '%s' has unknown init kind %d", name, (int)init.kind);
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1 || numel > INT64_MAX / 4 / shape[i])
            return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                                 "dgm_params_add: '%s' dimension %d is %lld", name, i,
                                 (long long)shape[i]);
        numel *= shape[i];
    }
    if (p->count == p->capacity) {
        int cap = p->capacity ? 2 * p->capacity : 16;
        dgm_param_entry *e = realloc(p->entries, (size_t)cap * sizeof *e);
        if (!e) return dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_params_add: out of host memory");
        p->entries = e;
        p->capacity = cap;
    }
    dgm_param_entry *e = &p->entries[p->count++];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    e->init = init;
    dgm_tensor *t = &e->view;
    t->ctx = ctx;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->numel = numel;
    t->kind = DGM_TENSOR_PARAM;
    t->is_buffer = buffer;
    t->requires_grad = !buffer;
    p->total_numel += numel;
    if (!buffer) p->numel += numel;
    return DGM_STATUS_OK;
}

dgm_status dgm_params_add(dgm_params *p, const char *name, int ndim, const int64_t *shape,
                          dgm_init init)
{
    return add(p, name, ndim, shape, init, false);
}

dgm_status dgm_params_add_buffer(dgm_params *p, const char *name, int ndim, const int64_t *shape,
                                 dgm_init init)
{
    return add(p, name, ndim, shape, init, true);
}

static dgm_status add_suffixed(dgm_params *p, const char *prefix, const char *suffix, int ndim,
                               const int64_t *shape, dgm_init init, bool buffer)
{
    char name[2 * DGM_PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%s.%s", prefix ? prefix : "", suffix);
    return add(p, name, ndim, shape, init, buffer);
}

dgm_status dgm_params_add_linear(dgm_params *p, const char *prefix, int64_t in, int64_t out,
                                 bool bias)
{
    if (!p) return DGM_STATUS_INVALID_ARGUMENT;
    if (in < 1 || out < 1)
        return dgm_set_error(p->ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_params_add_linear: '%s' has in %lld, out %lld", prefix ? prefix : "",
                             (long long)in, (long long)out);
    /* PyTorch: kaiming_uniform(a=sqrt(5)) for the weight and U(±1/sqrt(fan_in)) for the
     * bias, both of which come to the bound 1/sqrt(in). */
    const float bound = 1.0f / sqrtf((float)in);
    const dgm_init u = {DGM_INIT_UNIFORM, -bound, bound};
    const int64_t wshape[2] = {out, in};
    DGM_TRY(add_suffixed(p, prefix, "weight", 2, wshape, u, false));
    if (bias) DGM_TRY(add_suffixed(p, prefix, "bias", 1, &out, u, false));
    return DGM_STATUS_OK;
}

dgm_status dgm_params_add_batchnorm(dgm_params *p, const char *prefix, int64_t features)
{
    if (!p) return DGM_STATUS_INVALID_ARGUMENT;
    const dgm_init ones = {DGM_INIT_ONES, 0, 0}, zeros = {DGM_INIT_ZEROS, 0, 0};
    DGM_TRY(add_suffixed(p, prefix, "weight", 1, &features, ones, false));
    DGM_TRY(add_suffixed(p, prefix, "bias", 1, &features, zeros, false));
    DGM_TRY(add_suffixed(p, prefix, "running_mean", 1, &features, zeros, true));
    DGM_TRY(add_suffixed(p, prefix, "running_var", 1, &features, ones, true));
    return DGM_STATUS_OK;
}

/* Modified Gram-Schmidt, in double, on the columns of the tall [r, c] matrix (r >= c) read
 * from m with strides (rs, cs): orthonormal columns, R's diagonal positive, the gain applied. */
static void orthonormalize(float *m, int64_t r, int64_t c, int64_t rs, int64_t cs, double gain, double *col)
{
    for (int64_t j = 0; j < c; j++) {
        for (int64_t i = 0; i < r; i++) col[j * r + i] = m[i * rs + j * cs];
        for (int64_t k = 0; k < j; k++) {
            double dot = 0.0;
            for (int64_t i = 0; i < r; i++) dot += col[k * r + i] * col[j * r + i];
            for (int64_t i = 0; i < r; i++) col[j * r + i] -= dot * col[k * r + i];
        }
        double norm = 0.0;
        for (int64_t i = 0; i < r; i++) norm += col[j * r + i] * col[j * r + i];
        norm = sqrt(norm);
        for (int64_t i = 0; i < r; i++) col[j * r + i] = norm > 0.0 ? col[j * r + i] / norm : 0.0;
    }
    for (int64_t j = 0; j < c; j++)
        for (int64_t i = 0; i < r; i++) m[i * rs + j * cs] = (float)(gain * col[j * r + i]);
}

static dgm_status init_orthogonal(dgm_ctx *ctx, dgm_tensor *t, float gain)
{
    const int64_t rows = t->shape[0], cols = t->numel / rows, n = t->numel;
    DGM_TRY(dgm_rng_draw(ctx, true, t->data, (size_t)n));
    float *m = malloc((size_t)n * sizeof *m);
    double *col = malloc((size_t)n * sizeof *col);
    dgm_status st = m && col ? DGM_STATUS_OK : dgm_set_error(ctx, DGM_STATUS_OOM, "orthogonal init: out of host memory");
    if (st == DGM_STATUS_OK) st = ctx->be->copy(ctx, m, t->data, (size_t)n * sizeof *m, DGM_COPY_DEVICE_TO_HOST);
    if (st == DGM_STATUS_OK) {
        if (rows >= cols) orthonormalize(m, rows, cols, cols, 1, gain, col);
        else orthonormalize(m, cols, rows, 1, cols, gain, col); /* the rows, as the transpose's columns */
        st = ctx->be->copy(ctx, t->data, m, (size_t)n * sizeof *m, DGM_COPY_HOST_TO_DEVICE);
    }
    free(m);
    free(col);
    return st;
}

static dgm_status init_tensor(dgm_ctx *ctx, dgm_tensor *t, dgm_init init)
{
    const size_t n = (size_t)t->numel;
    switch (init.kind) {
    case DGM_INIT_ZEROS: return ctx->be->fill(ctx, t->data, n, 0.0f);
    case DGM_INIT_ONES: return ctx->be->fill(ctx, t->data, n, 1.0f);
    case DGM_INIT_UNIFORM:
        DGM_TRY(dgm_rng_draw(ctx, false, t->data, n));
        return ctx->be->unary(ctx, DGM_UNARY_AFFINE, init.b - init.a, init.a, n, t->data, t->data);
    case DGM_INIT_NORMAL:
        DGM_TRY(dgm_rng_draw(ctx, true, t->data, n));
        return ctx->be->unary(ctx, DGM_UNARY_AFFINE, init.b, init.a, n, t->data, t->data);
    case DGM_INIT_ORTHOGONAL: return init_orthogonal(ctx, t, init.b);
    }
    return DGM_STATUS_INVALID_ARGUMENT;
}

dgm_status dgm_params_alloc(dgm_params *p)
{
    if (!p) return DGM_STATUS_INVALID_ARGUMENT;
    dgm_ctx *ctx = p->ctx;
    if (p->values)
        return dgm_set_error(ctx, DGM_STATUS_STATE_ERROR, "dgm_params_alloc: called twice");
    if (p->count == 0)
        return dgm_set_error(ctx, DGM_STATUS_STATE_ERROR, "dgm_params_alloc: no parameters declared");
    void *v = NULL, *g = NULL;
    dgm_status st = ctx->be->alloc(ctx, (size_t)p->total_numel * sizeof(float), &v);
    if (st == DGM_STATUS_OK && p->numel > 0)
        st = ctx->be->alloc(ctx, (size_t)p->numel * sizeof(float), &g);
    if (st != DGM_STATUS_OK) {
        if (v) ctx->be->free(ctx, v);
        return dgm_set_error(ctx, st, "dgm_params_alloc: cannot allocate %lld parameters",
                             (long long)p->total_numel);
    }
    p->values = v;
    p->grads = g;
    /* Trainable tensors first, in declaration order, then the buffers. */
    int64_t off = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < p->count; i++) {
            dgm_param_entry *e = &p->entries[i];
            if (e->view.is_buffer != (pass == 1)) continue;
            e->offset = off;
            e->view.data = p->values + off;
            e->view.grad = e->view.is_buffer ? NULL : p->grads + off;
            off += e->view.numel;
        }
    for (int i = 0; i < p->count; i++) DGM_TRY(init_tensor(ctx, &p->entries[i].view, p->entries[i].init));
    return dgm_params_zero_grad(p);
}

dgm_tensor *dgm_params_get(dgm_params *p, const char *name)
{
    if (!p || !name) return NULL;
    for (int i = 0; i < p->count; i++)
        if (!strcmp(p->entries[i].name, name)) return &p->entries[i].view;
    dgm_set_error(p->ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_params_get: no parameter '%s'", name);
    return NULL;
}

dgm_ctx *dgm_params_ctx(const dgm_params *p) { return p ? p->ctx : NULL; }
int dgm_params_count(const dgm_params *p) { return p ? p->count : 0; }

const char *dgm_params_name(const dgm_params *p, int i)
{
    return p && i >= 0 && i < p->count ? p->entries[i].name : NULL;
}

dgm_tensor *dgm_params_at(dgm_params *p, int i)
{
    return p && i >= 0 && i < p->count ? &p->entries[i].view : NULL;
}

bool dgm_params_is_buffer(const dgm_params *p, int i)
{
    return p && i >= 0 && i < p->count && p->entries[i].view.is_buffer;
}

int64_t dgm_params_numel(const dgm_params *p) { return p ? p->numel : 0; }

dgm_status dgm_params_prefix_range(dgm_params *p, const char *prefix, int64_t *offset,
                                   int64_t *count)
{
    if (!p) return DGM_STATUS_INVALID_ARGUMENT;
    dgm_ctx *ctx = p->ctx;
    static const char fn[] = "dgm_params_prefix_range";
    if (!prefix || !offset || !count)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: prefix, offset and count "
                             "must not be NULL", fn);
    if (!p->values)
        return dgm_set_error(ctx, DGM_STATUS_STATE_ERROR, "%s: the parameters are not "
                             "allocated (call dgm_params_alloc first)", fn);
    const size_t len = strlen(prefix);
    int64_t lo = INT64_MAX, hi = 0, n = 0;
    for (int i = 0; i < p->count; i++) {
        const dgm_param_entry *e = &p->entries[i];
        if (e->view.is_buffer || strncmp(e->name, prefix, len)) continue;
        if (e->offset < lo) lo = e->offset;
        if (e->offset + e->view.numel > hi) hi = e->offset + e->view.numel;
        n += e->view.numel;
    }
    if (n == 0)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: no trainable parameter's name starts with '%s'", fn, prefix);
    if (hi - lo != n)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: the parameters named '%s...' are not contiguous (declare them "
                             "one after the other)", fn, prefix);
    *offset = lo;
    *count = n;
    return DGM_STATUS_OK;
}
int64_t dgm_params_total_numel(const dgm_params *p) { return p ? p->total_numel : 0; }
float *dgm_params_values(dgm_params *p) { return p ? p->values : NULL; }
float *dgm_params_grads(dgm_params *p) { return p ? p->grads : NULL; }

static dgm_status check_allocated(dgm_params *p, const char *fn)
{
    if (!p) return DGM_STATUS_INVALID_ARGUMENT;
    if (!p->values)
        return dgm_set_error(p->ctx, DGM_STATUS_STATE_ERROR, "%s: before dgm_params_alloc", fn);
    return DGM_STATUS_OK;
}

dgm_status dgm_params_zero_grad(dgm_params *p)
{
    DGM_TRY(check_allocated(p, "dgm_params_zero_grad"));
    if (p->numel == 0) return DGM_STATUS_OK;
    return p->ctx->be->fill(p->ctx, p->grads, (size_t)p->numel, 0.0f);
}

dgm_status dgm_params_sgd_step(dgm_params *p, float lr)
{
    DGM_TRY(check_allocated(p, "dgm_params_sgd_step"));
    if (!isfinite(lr))
        return dgm_set_error(p->ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_params_sgd_step: lr is %g",
                             (double)lr);
    if (p->numel == 0) return DGM_STATUS_OK;
    return p->ctx->be->axpy(p->ctx, (size_t)p->numel, -lr, p->grads, p->values);
}
