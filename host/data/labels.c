/* Class labels of datasets (conditional models): the class count, a label column taken out
 * of a dataset of vectors (a CSV's or an .npy's), and labels read from a second file (an
 * .npy or one-column CSV of class indices, or an IDX labels file). A label is a class
 * index: an integer from 0 to DGM_DATASET_MAX_CLASSES - 1; anything else is an error that
 * names the file and the row. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "data/data_internal.h"
#include "io/atomic_file.h"

int64_t dgm_dataset_class_count(const dgm_dataset *ds)
{
    const int32_t *l = dgm_dataset_labels(ds);
    if (!l) return 0;
    int64_t k = 0;
    for (int64_t i = 0; i < dgm_dataset_count(ds); i++)
        if (l[i] >= k) k = (int64_t)l[i] + 1;
    return k;
}

/* values[i·stride] as class indices into malloc'd *out; `what` names them in errors. */
static dgm_status to_labels(dgm_ctx *ctx, const char *what, const float *values, int64_t n,
                            int64_t stride, int32_t **out)
{
    int32_t *l = malloc((size_t)n * sizeof *l);
    if (!l) return dgm_set_error(ctx, DGM_STATUS_OOM, "%s: out of host memory for labels", what);
    for (int64_t i = 0; i < n; i++) {
        const float v = values[i * stride];
        if (!(v >= 0.0f && v < (float)DGM_DATASET_MAX_CLASSES && v == floorf(v))) {
            free(l);
            return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                                 "%s: row %lld holds %g, not a class index (an integer from 0 to %d)",
                                 what, (long long)i + 1, (double)v, DGM_DATASET_MAX_CLASSES - 1);
        }
        l[i] = (int32_t)v;
    }
    *out = l;
    return DGM_STATUS_OK;
}

dgm_status dgm_dataset_take_label_column(dgm_ctx *ctx, dgm_dataset *ds, int64_t column)
{
    static const char fn[] = "dgm_dataset_take_label_column";
    DGM_TRY(dgm_check_ctx(ctx));
    if (!ds) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: ds is NULL", fn);
    int64_t shape[3];
    const int ndim = dgm_dataset_sample_shape(ds, shape);
    const int64_t dim = dgm_dataset_dim(ds);
    if (ndim != 1 || dim < 2)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: the label column must come out of rows of 2 or more columns "
                             "(these samples have %lld value%s%s)",
                             fn, (long long)dim, dim == 1 ? "" : "s", ndim != 1 ? " in more than one dimension" : "");
    const int64_t c = column < 0 ? dim + column : column;
    if (c < 0 || c >= dim)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: column %lld does not exist (the rows have %lld columns: 0 to "
                             "%lld, or -1 for the last)",
                             fn, (long long)column, (long long)dim, (long long)dim - 1);
    char what[64];
    snprintf(what, sizeof what, "label column %lld", (long long)c);
    int32_t *l = NULL;
    DGM_TRY(to_labels(ctx, what, dgm_dataset_data(ds) + c, dgm_dataset_count(ds), dim, &l));
    dgm_dataset_drop_column(ds, c);
    dgm_dataset_set_labels(ds, l);
    return DGM_STATUS_OK;
}

/* A second dataset of one value per row (an .npy or a CSV) as ds's labels. */
static dgm_status labels_of_values(dgm_ctx *ctx, const char *path, const dgm_dataset *values,
                                   int64_t n, int32_t **out)
{
    if (dgm_dataset_dim(values) != 1)
        return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                             "%s: labels must be one value per row, these rows hold %lld", path,
                             (long long)dgm_dataset_dim(values));
    if (dgm_dataset_count(values) != n)
        return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT, "%s: %lld labels for %lld samples", path,
                             (long long)dgm_dataset_count(values), (long long)n);
    return to_labels(ctx, path, dgm_dataset_data(values), n, 1, out);
}

static int has_suffix(const char *s, const char *suffix)
{
    const size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

dgm_status dgm_dataset_load_labels(dgm_ctx *ctx, dgm_dataset *ds, const char *path)
{
    static const char fn[] = "dgm_dataset_load_labels";
    DGM_TRY(dgm_check_ctx(ctx));
    if (!ds || !path)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: %s is NULL", fn, ds ? "path" : "ds");
    const int64_t n = dgm_dataset_count(ds);
    int32_t *l = NULL;
    dgm_dataset *values = NULL;
    dgm_status st = DGM_STATUS_OK;
    if (has_suffix(path, ".npy")) {
        st = dgm_dataset_load_npy(ctx, path, &values);
    } else if (has_suffix(path, ".csv")) {
        st = dgm_dataset_load_csv(ctx, path, &values);
    } else { /* IDX, plain or gzip */
        unsigned char *buf = NULL;
        size_t len = 0;
        st = dgm_read_file_checked(ctx, path, DGM_DATA_MAX_BYTES, NULL, &buf, &len);
        if (st == DGM_STATUS_OK) st = dgm_idx_labels_from_memory(ctx, path, buf, len, n, DGM_DATA_MAX_BYTES, &l);
        free(buf);
        for (int64_t i = 0; st == DGM_STATUS_OK && i < n; i++)
            if (l[i] < 0 || l[i] >= DGM_DATASET_MAX_CLASSES)
                st = dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                                   "%s: row %lld holds %d, not a class index (an integer from 0 to %d)",
                                   path, (long long)i + 1, (int)l[i], DGM_DATASET_MAX_CLASSES - 1);
    }
    if (st == DGM_STATUS_OK && values) st = labels_of_values(ctx, path, values, n, &l);
    dgm_dataset_free(values);
    if (st != DGM_STATUS_OK) {
        free(l);
        return st;
    }
    dgm_dataset_set_labels(ds, l);
    return DGM_STATUS_OK;
}
