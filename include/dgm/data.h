/* dgm data: datasets held in host memory as float matrices [n, dim] (with optional integer
 * labels), loaded from IDX (gzip or plain), CSV and .npy files or drawn from built-in 2-D
 * toy densities; and loaders that put a dataset on the device once and serve shuffled
 * batches from it with no host-device copy per step.
 *
 * The context of each call is used for error messages (and, for loaders, the device). */
#ifndef DGM_DATA_H
#define DGM_DATA_H

#include "dgm/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dgm_dataset dgm_dataset;

typedef enum dgm_split { DGM_SPLIT_TRAIN = 0, DGM_SPLIT_TEST } dgm_split;

/* A dataset of n samples of `dim` floats each (copied), labels optional (NULL). The sample
 * shape (e.g. {28, 28}) is informational: ndim 1..3 whose product is dim. */
DGM_API dgm_status dgm_dataset_from_memory(dgm_ctx *ctx, int64_t n, int sample_ndim,
                                           const int64_t *sample_shape, const float *x,
                                           const int32_t *labels, dgm_dataset **out);
DGM_API void dgm_dataset_free(dgm_dataset *ds);

DGM_API int64_t dgm_dataset_count(const dgm_dataset *ds);
DGM_API int64_t dgm_dataset_dim(const dgm_dataset *ds);
/* Per-sample shape: returns ndim and writes up to 3 sizes into shape. */
DGM_API int dgm_dataset_sample_shape(const dgm_dataset *ds, int64_t shape[3]);
DGM_API const float *dgm_dataset_data(const dgm_dataset *ds);     /* [n, dim], host */
DGM_API const int32_t *dgm_dataset_labels(const dgm_dataset *ds); /* [n] or NULL */

/* ---- class labels (conditional models) ----
 * A label is a class index, an integer from 0 to DGM_DATASET_MAX_CLASSES - 1; a value that
 * is not one is BAD_FORMAT naming the file (or column) and the row (1-based). */
#define DGM_DATASET_MAX_CLASSES 65536
/* The largest label + 1; 0 for a dataset without labels. */
DGM_API int64_t dgm_dataset_class_count(const dgm_dataset *ds);
/* Makes column `column` (0-based; negative counts from the end: -1 is the last) of a
 * dataset of vectors (a CSV's or a 2-D .npy's rows) its labels, and drops it from the
 * samples: [n, d] becomes [n, d - 1] and n labels. */
DGM_API dgm_status dgm_dataset_take_label_column(dgm_ctx *ctx, dgm_dataset *ds, int64_t column);
/* Labels for ds's rows from a second file: an .npy of n values (float or integer dtypes;
 * shape (n,) or (n, 1)), a CSV of one column, or an IDX labels file (plain or gzip; any
 * other name). A count that differs from ds's is BAD_FORMAT naming the file. */
DGM_API dgm_status dgm_dataset_load_labels(dgm_ctx *ctx, dgm_dataset *ds, const char *path);

/* IDX files (LeCun's format, as Fashion-MNIST/MNIST ship), gzip-compressed or plain (told
 * by the gzip magic). Images of unsigned bytes are scaled to [0, 1]. labels_path may be
 * NULL. Magic, dimensions and length are checked: a truncated, wrong-magic, oversize or
 * inconsistent file is BAD_FORMAT with a message naming the file. */
DGM_API dgm_status dgm_dataset_load_idx(dgm_ctx *ctx, const char *images_path,
                                        const char *labels_path, dgm_dataset **out);
/* CSV of floats, one sample a row, every row the same number of columns; a first row
 * that does not parse as numbers is taken as a header and skipped. */
DGM_API dgm_status dgm_dataset_load_csv(dgm_ctx *ctx, const char *path, dgm_dataset **out);
/* .npy (format 1.0/2.0), little-endian float32 or float64, C order, 1-D or 2-D (a 1-D array
 * is n samples of dim 1); more dims are flattened per sample. */
DGM_API dgm_status dgm_dataset_load_npy(dgm_ctx *ctx, const char *path, dgm_dataset **out);

/* Built-in 2-D toy densities, n samples from `seed`: "ring8", "grid25", "gauss8", "moons",
 * "checkerboard", "swissroll", "pinwheel", "2spirals". Unknown names are
 * INVALID_ARGUMENT with a message listing the valid ones. */
DGM_API dgm_status dgm_dataset_toy(dgm_ctx *ctx, const char *name, int64_t n, uint64_t seed,
                                   dgm_dataset **out);
/* The toy a dataset was drawn from ("grid25"), or NULL for any other dataset. */
DGM_API const char *dgm_dataset_toy_name(const dgm_dataset *ds);
/* The NULL-terminated list of toy names. */
DGM_API const char *const *dgm_toy_names(void);
/* The components of a Gaussian-mixture toy ("ring8", "grid25", "gauss8"): the centres
 * (x, y pairs, up to `max` of them) into `centres`, their number into *count, the common
 * standard deviation into *std. INVALID_ARGUMENT for another name or too small a `max`
 * (*count is set then). */
DGM_API dgm_status dgm_toy_mixture(dgm_ctx *ctx, const char *name, int max, double *centres,
                                   int *count, double *std);

/* Resolves a --data argument: "fashion-mnist" or "mnist" (the IDX files of Debian's
 * dataset-fashion-mnist / the directory in DGM_DATA_DIR), a toy name (train: 100000
 * samples, test: 10000 with another seed), or a path to an .npy, .csv or IDX file. */
DGM_API dgm_status dgm_dataset_load(dgm_ctx *ctx, const char *spec, dgm_split split,
                                    uint64_t seed, dgm_dataset **out);

/* ---- loaders ---- */

typedef struct dgm_loader dgm_loader;

/* Copies the dataset to the context's device once. Each epoch is a fresh seeded
 * permutation; batches are gathered on the device. With drop_last, a final partial batch
 * is skipped. The loader does not keep `ds`. */
DGM_API dgm_status dgm_loader_create(dgm_ctx *ctx, const dgm_dataset *ds, int64_t batch,
                                     uint64_t seed, bool drop_last, dgm_loader **out);
/* The same for a conditional model of `classes` classes: ds must have labels, each below
 * `classes` (else INVALID_ARGUMENT naming the first row that is not); the loader keeps
 * them on the device beside the samples and serves them with dgm_loader_next_labeled. */
DGM_API dgm_status dgm_loader_create_labeled(dgm_ctx *ctx, const dgm_dataset *ds, int64_t batch,
                                             uint64_t seed, bool drop_last, int64_t classes,
                                             dgm_loader **out);
DGM_API void dgm_loader_free(dgm_loader *l);
/* The next batch as a step tensor [B, dim] (B = batch except maybe the last of an epoch);
 * crosses into the next epoch by itself. *epoch_ended is set when this batch was the
 * epoch's last (may be NULL). */
DGM_API dgm_status dgm_loader_next(dgm_loader *l, dgm_tensor **batch, bool *epoch_ended);
/* dgm_loader_next with the batch's labels: *labels a step tensor [B, 1] of class indices
 * (as floats, exact below 2^24; dgm_one_hot makes [B, classes] of them), the same rows in
 * the same order. INVALID_ARGUMENT from a loader made without labels. */
DGM_API dgm_status dgm_loader_next_labeled(dgm_loader *l, dgm_tensor **batch, dgm_tensor **labels,
                                           bool *epoch_ended);
/* The class count a labelled loader was made with; 0 for one without labels. */
DGM_API int64_t dgm_loader_classes(const dgm_loader *l);
DGM_API int64_t dgm_loader_batches_per_epoch(const dgm_loader *l);
/* The batch size it was made with (the last batch of an epoch may be shorter). */
DGM_API int64_t dgm_loader_batch_size(const dgm_loader *l);
/* Position, to save in a checkpoint and restore: epochs completed and batches served in
 * the current epoch. */
DGM_API void dgm_loader_position(const dgm_loader *l, int64_t *epoch, int64_t *batch_index);
DGM_API dgm_status dgm_loader_seek(dgm_loader *l, int64_t epoch, int64_t batch_index);

#ifdef __cplusplus
}
#endif
#endif
