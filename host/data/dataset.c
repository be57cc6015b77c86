/* Datasets: n samples of dim floats in one host array [n, dim], optional int32 labels [n],
 * and an informational per-sample shape ({28, 28} for an image). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "data/data_internal.h"
#include "io/atomic_file.h"

struct dgm_dataset {
    int64_t n;
    int64_t dim;
    int sample_ndim;
    int64_t sample_shape[3];
    float *x;        /* [n, dim] */
    int32_t *labels; /* [n] or NULL */
    char toy[16];    /* the built-in toy it was drawn from, or "" */
};

void dgm_dataset_set_toy(dgm_dataset *ds, const char *name)
{
    snprintf(ds->toy, sizeof ds->toy, "%s", name);
}

void dgm_dataset_set_labels(dgm_dataset *ds, int32_t *labels)
{
    free(ds->labels);
    ds->labels = labels;
}

void dgm_dataset_drop_column(dgm_dataset *ds, int64_t column)
{
    const int64_t d = ds->dim;
    float *x = ds->x;
    for (int64_t i = 0, w = 0; i < ds->n; i++)
        for (int64_t j = 0; j < d; j++)
            if (j != column) x[w++] = x[i * d + j]; /* w <= i·d + j: never ahead of the read */
    ds->dim = d - 1;
    ds->sample_shape[0] = d - 1;
}

const char *dgm_dataset_toy_name(const dgm_dataset *ds)
{
    return ds && ds->toy[0] ? ds->toy : NULL;
}

/* Checks n and the sample shape; writes dim. The byte size of x must fit size_t. */
static dgm_status check_layout(dgm_ctx *ctx, const char *op, int64_t n, int sample_ndim,
                               const int64_t *sample_shape, int64_t *dim)
{
    if (n <= 0)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: sample count %lld must be > 0",
                             op, (long long)n);
    if (sample_ndim < 1 || sample_ndim > 3 || !sample_shape)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: sample shape must have 1 to 3 dimensions, got %d", op, sample_ndim);
    int64_t d = 1;
    for (int i = 0; i < sample_ndim; i++) {
        if (sample_shape[i] <= 0)
            return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                                 "%s: sample dimension %d is %lld, must be > 0", op, i,
                                 (long long)sample_shape[i]);
        if (d > INT64_MAX / sample_shape[i])
            return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: sample shape overflows",
                                 op);
        d *= sample_shape[i];
    }
    if (d > (int64_t)(SIZE_MAX / sizeof(float)) / n)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: %lld samples of %lld floats do not fit in memory", op,
                             (long long)n, (long long)d);
    *dim = d;
    return DGM_STATUS_OK;
}

dgm_status dgm_dataset_adopt(dgm_ctx *ctx, int64_t n, int sample_ndim,
                             const int64_t *sample_shape, float *x, int32_t *labels,
                             dgm_dataset **out)
{
    int64_t dim = 0;
    dgm_status st = check_layout(ctx, "dgm_dataset", n, sample_ndim, sample_shape, &dim);
    dgm_dataset *ds = st == DGM_STATUS_OK ? calloc(1, sizeof *ds) : NULL;
    if (st == DGM_STATUS_OK && !ds)
        st = dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_dataset: out of host memory");
    if (st != DGM_STATUS_OK) {
        free(x);
        free(labels);
        return st;
    }
    ds->n = n;
    ds->dim = dim;
    ds->sample_ndim = sample_ndim;
    for (int i = 0; i < sample_ndim; i++) ds->sample_shape[i] = sample_shape[i];
    ds->x = x;
    ds->labels = labels;
    *out = ds;
    return DGM_STATUS_OK;
}

dgm_status dgm_dataset_from_memory(dgm_ctx *ctx, int64_t n, int sample_ndim,
                                   const int64_t *sample_shape, const float *x,
                                   const int32_t *labels, dgm_dataset **out)
{
    dgm_status st = dgm_check_ctx(ctx);
    if (st != DGM_STATUS_OK) return st;
    if (!out || !x)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_dataset_from_memory: %s is NULL",
                             out ? "x" : "out");
    *out = NULL;
    int64_t dim = 0;
    st = check_layout(ctx, "dgm_dataset_from_memory", n, sample_ndim, sample_shape, &dim);
    if (st != DGM_STATUS_OK) return st;
    size_t xbytes = (size_t)n * (size_t)dim * sizeof(float);
    float *xc = malloc(xbytes);
    int32_t *lc = labels ? malloc((size_t)n * sizeof(int32_t)) : NULL;
    if (!xc || (labels && !lc)) {
        free(xc);
        free(lc);
        return dgm_set_error(ctx, DGM_STATUS_OOM,
                             "dgm_dataset_from_memory: out of host memory for %zu bytes", xbytes);
    }
    memcpy(xc, x, xbytes);
    if (labels) memcpy(lc, labels, (size_t)n * sizeof(int32_t));
    return dgm_dataset_adopt(ctx, n, sample_ndim, sample_shape, xc, lc, out);
}

void dgm_dataset_free(dgm_dataset *ds)
{
    if (!ds) return;
    free(ds->x);
    free(ds->labels);
    free(ds);
}

int64_t dgm_dataset_count(const dgm_dataset *ds) { return ds ? ds->n : 0; }

int64_t dgm_dataset_dim(const dgm_dataset *ds) { return ds ? ds->dim : 0; }

int dgm_dataset_sample_shape(const dgm_dataset *ds, int64_t shape[3])
{
    if (!ds) return 0;
    if (shape)
        for (int i = 0; i < ds->sample_ndim; i++) shape[i] = ds->sample_shape[i];
    return ds->sample_ndim;
}

const float *dgm_dataset_data(const dgm_dataset *ds) { return ds ? ds->x : NULL; }

const int32_t *dgm_dataset_labels(const dgm_dataset *ds) { return ds ? ds->labels : NULL; }

dgm_status dgm_dataset_load_with(dgm_ctx *ctx, const char *path, const char *fn,
                                 dgm_head_check head, dgm_dataset_parse_fn parse, dgm_dataset **out)
{
    dgm_status st = dgm_check_ctx(ctx);
    if (st != DGM_STATUS_OK) return st;
    if (!out || !path)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: %s is NULL", fn,
                             out ? "path" : "out");
    *out = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    st = dgm_read_file_checked(ctx, path, DGM_DATA_MAX_BYTES, head, &buf, &len);
    if (st == DGM_STATUS_OK) st = parse(ctx, path, buf, len, out);
    free(buf);
    return st;
}
