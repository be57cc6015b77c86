/* Loaders: the dataset lives on the device for the loader's whole life; an epoch's order is
 * an int32 permutation on the device; a batch is one gather of rows perm[k·B .. k·B+B-1]
 * into a step tensor. So a step costs one kernel and no host-device copy; an epoch costs
 * one upload of n int32.
 *
 * Epoch e's permutation is a Fisher-Yates shuffle of 0..n-1 drawn from the host generator
 * seeded with (seed, e), computed from scratch each epoch: it depends on (seed, e) alone,
 * which is what lets dgm_loader_seek put a resumed run back on exactly the batches an
 * uninterrupted run would serve.
 *
 * A labelled loader also holds the labels on the device as floats [n, 1] and gathers the
 * batch's with the same rows of the same order. */
#include <stdlib.h>

#include "core/internal.h"
#include "data/data_internal.h"

struct dgm_loader {
    dgm_ctx *ctx;
    int64_t n, dim, batch;
    uint64_t seed;
    bool drop_last;
    int64_t batches_per_epoch;
    float *dev_x;        /* [n, dim], device */
    float *dev_labels;   /* [n, 1], device, or NULL: a loader without labels */
    int64_t classes;     /* with labels: the class count it was made for */
    int32_t *dev_perm;   /* [n], device: the order of epoch perm_epoch */
    int32_t *host_perm;  /* [n], host staging for the upload */
    int64_t perm_epoch;  /* epoch whose order dev_perm holds; -1 for none */
    int64_t epoch;       /* epochs completed */
    int64_t batch_index; /* batches served in the current epoch */
};

/* Every label of ds below `classes`, as floats [n] into malloc'd *out. */
static dgm_status labels_as_floats(dgm_ctx *ctx, const dgm_dataset *ds, int64_t classes, float **out)
{
    *out = NULL;
    const int32_t *l = dgm_dataset_labels(ds);
    const int64_t n = dgm_dataset_count(ds);
    if (!l)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_loader_create_labeled: the data have no labels");
    if (classes < 1 || classes > DGM_DATASET_MAX_CLASSES)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_loader_create_labeled: %lld classes (1 to %d)", (long long)classes,
                             DGM_DATASET_MAX_CLASSES);
    for (int64_t i = 0; i < n; i++)
        if (l[i] < 0 || l[i] >= classes)
            return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                                 "the label of row %lld is %d, out of range for %lld classes (0 to %lld)",
                                 (long long)i + 1, (int)l[i], (long long)classes, (long long)classes - 1);
    float *f = malloc((size_t)n * sizeof *f);
    if (!f) return dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_loader_create: out of host memory");
    for (int64_t i = 0; i < n; i++) f[i] = (float)l[i];
    *out = f;
    return DGM_STATUS_OK;
}

dgm_status dgm_loader_create(dgm_ctx *ctx, const dgm_dataset *ds, int64_t batch, uint64_t seed,
                             bool drop_last, dgm_loader **out)
{
    return dgm_loader_create_labeled(ctx, ds, batch, seed, drop_last, 0, out);
}

/* classes 0: a loader without labels (dgm_loader_create). */
dgm_status dgm_loader_create_labeled(dgm_ctx *ctx, const dgm_dataset *ds, int64_t batch,
                                     uint64_t seed, bool drop_last, int64_t classes,
                                     dgm_loader **out)
{
    dgm_status st = dgm_check_ctx(ctx);
    if (st != DGM_STATUS_OK) return st;
    if (!out || !ds)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_loader_create: %s is NULL",
                             out ? "ds" : "out");
    *out = NULL;
    int64_t n = dgm_dataset_count(ds), dim = dgm_dataset_dim(ds);
    if (batch <= 0)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_loader_create: batch %lld must be > 0", (long long)batch);
    /* The device gather takes int32 row indices. */
    if (n > INT32_MAX)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_loader_create: %lld samples, at most %d supported", (long long)n,
                             INT32_MAX);
    if (drop_last && n < batch)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_loader_create: %lld samples make no full batch of %lld and "
                             "drop_last is set",
                             (long long)n, (long long)batch);
    if (!ctx->be->gather_rows)
        return dgm_set_error(ctx, DGM_STATUS_UNSUPPORTED,
                             "dgm_loader_create: backend %s has no row gather", ctx->be->name);
    float *labels = NULL;
    if (classes) DGM_TRY(labels_as_floats(ctx, ds, classes, &labels));
    dgm_loader *l = calloc(1, sizeof *l);
    if (!l) {
        free(labels);
        return dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_loader_create: out of host memory");
    }
    l->classes = classes;
    l->ctx = ctx;
    l->n = n;
    l->dim = dim;
    l->batch = batch;
    l->seed = seed;
    l->drop_last = drop_last;
    l->batches_per_epoch = drop_last ? n / batch : (n + batch - 1) / batch;
    l->perm_epoch = -1;
    size_t xbytes = (size_t)n * (size_t)dim * sizeof(float);
    l->host_perm = malloc((size_t)n * sizeof(int32_t));
    if (!l->host_perm) {
        free(l);
        free(labels);
        return dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_loader_create: out of host memory");
    }
    st = ctx->be->alloc(ctx, xbytes, (void **)&l->dev_x);
    if (st == DGM_STATUS_OK)
        st = ctx->be->alloc(ctx, (size_t)n * sizeof(int32_t), (void **)&l->dev_perm);
    if (st == DGM_STATUS_OK && labels)
        st = ctx->be->alloc(ctx, (size_t)n * sizeof(float), (void **)&l->dev_labels);
    if (st == DGM_STATUS_OOM)
        dgm_set_error(ctx, st, "dgm_loader_create: out of %s memory for %lld x %lld floats",
                      dgm_device_name(ctx->device), (long long)n, (long long)dim);
    if (st == DGM_STATUS_OK)
        st = ctx->be->copy(ctx, l->dev_x, dgm_dataset_data(ds), xbytes, DGM_COPY_HOST_TO_DEVICE);
    if (st == DGM_STATUS_OK && labels)
        st = ctx->be->copy(ctx, l->dev_labels, labels, (size_t)n * sizeof(float), DGM_COPY_HOST_TO_DEVICE);
    free(labels); /* the copy is queued on the context's stream from pageable memory: done */
    if (st != DGM_STATUS_OK) {
        dgm_loader_free(l);
        return st;
    }
    *out = l;
    return DGM_STATUS_OK;
}

void dgm_loader_free(dgm_loader *l)
{
    if (!l) return;
    if (l->dev_x) l->ctx->be->free(l->ctx, l->dev_x);
    if (l->dev_perm) l->ctx->be->free(l->ctx, l->dev_perm);
    if (l->dev_labels) l->ctx->be->free(l->ctx, l->dev_labels);
    free(l->host_perm);
    free(l);
}

/* Puts epoch `epoch`'s order on the device. */
static dgm_status upload_order(dgm_loader *l, int64_t epoch)
{
    int32_t *p = l->host_perm;
    for (int64_t i = 0; i < l->n; i++) p[i] = (int32_t)i;
    dgm_data_rng r;
    dgm_data_rng_seed(&r, l->seed, (uint64_t)epoch);
    for (int64_t i = l->n - 1; i > 0; i--) {
        int64_t j = (int64_t)dgm_data_rng_below(&r, (uint64_t)i + 1);
        int32_t t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
    /* Earlier gathers may still be queued on the device; they precede this copy on the
     * context's stream, so overwriting the order under them is safe. */
    l->perm_epoch = -1;
    dgm_status st = l->ctx->be->copy(l->ctx, l->dev_perm, p, (size_t)l->n * sizeof(int32_t),
                                     DGM_COPY_HOST_TO_DEVICE);
    if (st == DGM_STATUS_OK) l->perm_epoch = epoch;
    return st;
}

dgm_status dgm_loader_next(dgm_loader *l, dgm_tensor **batch, bool *epoch_ended)
{
    return dgm_loader_next_labeled(l, batch, NULL, epoch_ended);
}

/* labels NULL: dgm_loader_next. */
dgm_status dgm_loader_next_labeled(dgm_loader *l, dgm_tensor **batch, dgm_tensor **labels,
                                   bool *epoch_ended)
{
    if (epoch_ended) *epoch_ended = false;
    if (labels) *labels = NULL;
    if (!l) return DGM_STATUS_INVALID_ARGUMENT;
    dgm_ctx *ctx = l->ctx;
    dgm_status st = dgm_check_ctx(ctx);
    if (st != DGM_STATUS_OK) return st;
    if (!batch)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_loader_next: batch is NULL");
    *batch = NULL;
    if (labels && !l->dev_labels)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_loader_next_labeled: this loader was made without labels "
                             "(dgm_loader_create_labeled makes one with them)");
    if (l->perm_epoch != l->epoch) {
        st = upload_order(l, l->epoch);
        if (st != DGM_STATUS_OK) return st;
    }
    int64_t start = l->batch_index * l->batch;
    int64_t rows = l->n - start < l->batch ? l->n - start : l->batch;
    int64_t shape[2] = {rows, l->dim};
    dgm_tensor *t = NULL;
    st = dgm_tensor_alloc_step(ctx, 2, shape, &t);
    if (st != DGM_STATUS_OK) return st;
    st = ctx->be->gather_rows(ctx, rows, l->dim, l->dev_x, l->dev_perm + start, t->data);
    if (st != DGM_STATUS_OK) return st;
    dgm_tensor *y = NULL;
    if (labels) {
        const int64_t yshape[2] = {rows, 1};
        DGM_TRY(dgm_tensor_alloc_step(ctx, 2, yshape, &y));
        DGM_TRY(ctx->be->gather_rows(ctx, rows, 1, l->dev_labels, l->dev_perm + start, y->data));
    }
    if (++l->batch_index == l->batches_per_epoch) {
        l->batch_index = 0;
        l->epoch++;
        if (epoch_ended) *epoch_ended = true;
    }
    *batch = t;
    if (labels) *labels = y;
    return DGM_STATUS_OK;
}

int64_t dgm_loader_classes(const dgm_loader *l) { return l ? l->classes : 0; }

int64_t dgm_loader_batches_per_epoch(const dgm_loader *l) { return l ? l->batches_per_epoch : 0; }

int64_t dgm_loader_batch_size(const dgm_loader *l) { return l ? l->batch : 0; }

void dgm_loader_position(const dgm_loader *l, int64_t *epoch, int64_t *batch_index)
{
    if (epoch) *epoch = l ? l->epoch : 0;
    if (batch_index) *batch_index = l ? l->batch_index : 0;
}

dgm_status dgm_loader_seek(dgm_loader *l, int64_t epoch, int64_t batch_index)
{
    if (!l) return DGM_STATUS_INVALID_ARGUMENT;
    dgm_status st = dgm_check_ctx(l->ctx);
    if (st != DGM_STATUS_OK) return st;
    /* batch_index == batches_per_epoch (an epoch just finished) means the next one's start. */
    if (epoch < 0 || batch_index < 0 || batch_index > l->batches_per_epoch ||
        (batch_index == l->batches_per_epoch && epoch == INT64_MAX))
        return dgm_set_error(l->ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_loader_seek: position (epoch %lld, batch %lld) out of range "
                             "(%lld batches per epoch)",
                             (long long)epoch, (long long)batch_index,
                             (long long)l->batches_per_epoch);
    if (batch_index == l->batches_per_epoch) {
        epoch++;
        batch_index = 0;
    }
    /* The order is uploaded by the next dgm_loader_next, and only if the epoch changed. */
    l->epoch = epoch;
    l->batch_index = batch_index;
    return DGM_STATUS_OK;
}
