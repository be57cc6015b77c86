/* Private pieces of the data module: datasets built from buffers the module already owns,
 * the parsers of IDX, CSV and .npy working on bytes in memory (the file loaders and the
 * fuzzers share them), gzip inflation with a size cap, and the small host generator that
 * toy densities and loader permutations draw from. */
#ifndef DGM_DATA_INTERNAL_H
#define DGM_DATA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "dgm/data.h"
#include "io/atomic_file.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest file the loaders read, and largest size a gzip file may inflate to: 2 GiB.
 * Fashion-MNIST's biggest file inflates to 47 MB; the cap turns a gzip bomb into
 * BAD_FORMAT instead of exhausting memory. */
#define DGM_DATA_MAX_BYTES ((size_t)1 << 31)

/* ---- datasets ---- */

/* A dataset that takes ownership of x [n, dim] and labels [n] (NULL for none), both from
 * malloc; they are freed on failure too. dim is the product of sample_shape. */
dgm_status dgm_dataset_adopt(dgm_ctx *ctx, int64_t n, int sample_ndim,
                             const int64_t *sample_shape, float *x, int32_t *labels,
                             dgm_dataset **out);

/* Where Debian's dataset packages put their files (dataset-fashion-mnist:
 * /usr/share/datasets/fashion-mnist). */
#define DGM_DATA_SYSTEM_ROOT "/usr/share/datasets"

/* dgm_dataset_load of "fashion-mnist" or "mnist" with the system folder given (tests point
 * it elsewhere): looks in $DGM_DATA_DIR/<name>, $DGM_DATA_DIR, <system_root>/<name>. */
dgm_status dgm_dataset_load_named(dgm_ctx *ctx, const char *name, dgm_split split,
                                  const char *system_root, dgm_dataset **out);

/* ---- gzip ---- */

/* True when buf starts with the gzip magic 1f 8b. */
int dgm_gzip_detect(const unsigned char *buf, size_t len);

/* Inflates a whole gzip stream (one or more members) into malloc'd *out, *out_len.
 * BAD_FORMAT naming `name` when it is corrupt, truncated, followed by garbage or inflates
 * to more than max_out bytes; OOM when memory runs out. */
dgm_status dgm_gzip_inflate(dgm_ctx *ctx, const char *name, const unsigned char *in, size_t len,
                            size_t max_out, unsigned char **out, size_t *out_len);

/* ---- IDX ---- */

enum {
    DGM_IDX_UBYTE = 0x08,
    DGM_IDX_SBYTE = 0x09,
    DGM_IDX_SHORT = 0x0B,
    DGM_IDX_INT = 0x0C,
    DGM_IDX_FLOAT = 0x0D,
    DGM_IDX_DOUBLE = 0x0E
};

/* One parsed IDX array; data points into the parsed buffer (big-endian elements). */
typedef struct dgm_idx_array {
    int type;                 /* DGM_IDX_* */
    int ndim;                 /* 1..4 */
    int64_t dims[4];
    int64_t count;            /* product of dims */
    const unsigned char *data;
} dgm_idx_array;

/* Parses an uncompressed IDX buffer: magic, type, dimensions and exact length. */
dgm_status dgm_idx_parse(dgm_ctx *ctx, const char *name, const unsigned char *buf, size_t len,
                         dgm_idx_array *out);

/* A dataset from IDX images (and labels; labels_buf may be NULL) held in memory, each
 * plain or gzip-compressed; gzip may inflate to at most max_inflated bytes. `images_name`
 * and `labels_name` name the buffers in error messages. */
dgm_status dgm_idx_dataset_from_memory(dgm_ctx *ctx, const char *images_name,
                                       const unsigned char *images_buf, size_t images_len,
                                       const char *labels_name, const unsigned char *labels_buf,
                                       size_t labels_len, size_t max_inflated,
                                       dgm_dataset **out);

/* The labels of an IDX labels file (1-D, integer elements; plain or gzip) for n samples:
 * malloc'd int32 [n] into *out. BAD_FORMAT naming `name` otherwise. */
dgm_status dgm_idx_labels_from_memory(dgm_ctx *ctx, const char *name, const unsigned char *buf,
                                      size_t len, int64_t n, size_t max_inflated, int32_t **out);

/* ---- CSV and .npy ---- */

dgm_status dgm_csv_dataset_from_memory(dgm_ctx *ctx, const char *name, const unsigned char *buf,
                                       size_t len, dgm_dataset **out);
dgm_status dgm_npy_dataset_from_memory(dgm_ctx *ctx, const char *name, const unsigned char *buf,
                                       size_t len, dgm_dataset **out);

/* Reads `path` whole (capped at DGM_DATA_MAX_BYTES; refused at its first bytes when `head`,
 * if not NULL, refuses them) and parses it with `parse`; `fn` names the public call in
 * messages. */
typedef dgm_status (*dgm_dataset_parse_fn)(dgm_ctx *ctx, const char *name,
                                           const unsigned char *buf, size_t len,
                                           dgm_dataset **out);
dgm_status dgm_dataset_load_with(dgm_ctx *ctx, const char *path, const char *fn,
                                 dgm_head_check head, dgm_dataset_parse_fn parse, dgm_dataset **out);

/* ---- host random numbers ----
 * xoshiro256** seeded through splitmix64: small, fast, identical on every platform, so a
 * toy dataset or an epoch order depends on its seed alone. Not the context's Philox
 * generator, which lives on the device and must not be disturbed by data loading. */
typedef struct dgm_data_rng {
    uint64_t s[4];
} dgm_data_rng;

/* Seeds from two words (a seed and a stream: toy seed and 0, loader seed and epoch). */
void dgm_data_rng_seed(dgm_data_rng *r, uint64_t seed, uint64_t stream);
uint64_t dgm_data_rng_next(dgm_data_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double dgm_data_rng_uniform(dgm_data_rng *r);
/* Uniform integer in [0, bound), unbiased; bound > 0. */
uint64_t dgm_data_rng_below(dgm_data_rng *r, uint64_t bound);
/* Standard normal (Box-Muller; one draw of two uniforms per value, no cached pair, so
 * the sequence does not depend on how calls interleave). */
double dgm_data_rng_normal(dgm_data_rng *r);

/* One splitmix64 step: a well-mixed 64-bit function of x (used to derive seeds). */
uint64_t dgm_data_mix64(uint64_t x);

/* Replaces ds's labels with `labels` ([n], from malloc; NULL: none), freeing the old. */
void dgm_dataset_set_labels(dgm_dataset *ds, int32_t *labels);
/* Drops column `column` of a dataset of vectors (sample shape {dim}, dim >= 2) in place. */
void dgm_dataset_drop_column(dgm_dataset *ds, int64_t column);

/* Records that ds was drawn from the built-in toy `name` (dgm_dataset_toy_name). */
void dgm_dataset_set_toy(dgm_dataset *ds, const char *name);

#ifdef __cplusplus
}
#endif
#endif
