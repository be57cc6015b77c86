/* IDX files, LeCun's format for MNIST and Fashion-MNIST: two zero bytes, a type byte, the
 * number of dimensions, that many big-endian uint32 sizes, then the elements, big-endian,
 * row-major. Every size is checked against the bytes actually present before anything is
 * allocated, so a lying header costs nothing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "data/data_internal.h"
#include "io/atomic_file.h"

static int type_size(int type)
{
    switch (type) {
    case DGM_IDX_UBYTE:
    case DGM_IDX_SBYTE: return 1;
    case DGM_IDX_SHORT: return 2;
    case DGM_IDX_INT:
    case DGM_IDX_FLOAT: return 4;
    case DGM_IDX_DOUBLE: return 8;
    default: return 0;
    }
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t be64(const unsigned char *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }

dgm_status dgm_idx_parse(dgm_ctx *ctx, const char *name, const unsigned char *buf, size_t len,
                         dgm_idx_array *out)
{
    memset(out, 0, sizeof *out);
    if (len < 4)
        return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                             "%s: not an IDX file (%zu bytes, shorter than the 4-byte magic)",
                             name, len);
    if (buf[0] != 0 || buf[1] != 0)
        return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                             "%s: not an IDX file (magic starts %02x %02x, expected 00 00)", name,
                             buf[0], buf[1]);
    int type = buf[2], ndim = buf[3], size = type_size(type);
    if (!size)
        return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                             "%s: unknown IDX element type 0x%02x (expected 08, 09, 0B, 0C, 0D "
                             "or 0E)",
                             name, type);
    if (ndim < 1 || ndim > 4)
        return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                             "%s: IDX file with %d dimensions (1 to 4 supported)", name, ndim);
    size_t header = 4 + 4 * (size_t)ndim;
    if (len < header)
        return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                             "%s: truncated IDX header (%zu bytes, %zu needed)", name, len, header);
    /* Largest element count whose bytes fit in size_t and in int64. */
    uint64_t limit = (uint64_t)(SIZE_MAX < INT64_MAX ? SIZE_MAX : INT64_MAX) / (uint64_t)size;
    uint64_t count = 1;
    for (int i = 0; i < ndim; i++) {
        uint32_t d = be32(buf + 4 + 4 * i);
        if (d == 0)
            return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT, "%s: IDX dimension %d is 0", name, i);
        if (count > limit / d)
            return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                                 "%s: IDX dimensions overflow the addressable size", name);
        count *= d;
        out->dims[i] = d;
    }
    size_t want = (size_t)count * (size_t)size, have = len - header;
    if (have < want)
        return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                             "%s: truncated IDX data (%zu bytes of %zu the header promises)", name,
                             have, want);
    if (have > want)
        return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                             "%s: %zu bytes of trailing garbage after the IDX data", name,
                             have - want);
    out->type = type;
    out->ndim = ndim;
    out->count = (int64_t)count;
    out->data = buf + header;
    return DGM_STATUS_OK;
}

/* Element i as a double (exact for every IDX type). */
static double element(const dgm_idx_array *a, int64_t i)
{
    const unsigned char *p = a->data;
    switch (a->type) {
    case DGM_IDX_UBYTE: return p[i];
    case DGM_IDX_SBYTE: return (int8_t)p[i];
    case DGM_IDX_SHORT: return (int16_t)(uint16_t)(p[2 * i] << 8 | p[2 * i + 1]);
    case DGM_IDX_INT: return (int32_t)be32(p + 4 * i);
    case DGM_IDX_FLOAT: {
        uint32_t u = be32(p + 4 * i);
        float f;
        memcpy(&f, &u, sizeof f);
        return f;
    }
    default: {
        uint64_t u = be64(p + 8 * i);
        double d;
        memcpy(&d, &u, sizeof d);
        return d;
    }
    }
}

/* The images as floats [count]; unsigned bytes (pixels) scaled to [0, 1]. Non-finite values
 * (or doubles beyond float range) are BAD_FORMAT: they would poison every loss. */
static dgm_status images_to_float(dgm_ctx *ctx, const char *name, const dgm_idx_array *a,
                                  float **out)
{
    float *x = malloc((size_t)a->count * sizeof(float));
    if (!x)
        return dgm_set_error(ctx, DGM_STATUS_OOM, "%s: out of host memory for %lld floats", name,
                             (long long)a->count);
    if (a->type == DGM_IDX_UBYTE) {
        for (int64_t i = 0; i < a->count; i++) x[i] = (float)a->data[i] * (1.0f / 255.0f);
    } else {
        for (int64_t i = 0; i < a->count; i++) {
            x[i] = (float)element(a, i);
            if (!isfinite(x[i])) {
                free(x);
                return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                                     "%s: element %lld is not a finite float (%g)", name,
                                     (long long)i, element(a, i));
            }
        }
    }
    *out = x;
    return DGM_STATUS_OK;
}

static dgm_status labels_to_int(dgm_ctx *ctx, const char *name, const dgm_idx_array *a,
                                int64_t n, int32_t **out)
{
    if (a->type == DGM_IDX_FLOAT || a->type == DGM_IDX_DOUBLE)
        return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                             "%s: labels must be integers, this IDX file holds %s", name,
                             a->type == DGM_IDX_FLOAT ? "floats" : "doubles");
    if (a->ndim != 1)
        return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                             "%s: a labels file must be 1-D, this one has %d dimensions", name,
                             a->ndim);
    if (a->count != n)
        return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                             "%s: %lld labels for %lld images", name, (long long)a->count,
                             (long long)n);
    int32_t *l = malloc((size_t)n * sizeof(int32_t));
    if (!l) return dgm_set_error(ctx, DGM_STATUS_OOM, "%s: out of host memory for labels", name);
    for (int64_t i = 0; i < n; i++) l[i] = (int32_t)element(a, i);
    *out = l;
    return DGM_STATUS_OK;
}

/* Points *data and *len at the IDX bytes of buf: buf itself, or its inflation (then *owned
 * holds it and the caller frees it). */
static dgm_status idx_bytes(dgm_ctx *ctx, const char *name, const unsigned char *buf, size_t len,
                            size_t max_inflated, const unsigned char **data, size_t *dlen,
                            unsigned char **owned)
{
    *owned = NULL;
    *data = buf;
    *dlen = len;
    if (!dgm_gzip_detect(buf, len)) return DGM_STATUS_OK;
    dgm_status st = dgm_gzip_inflate(ctx, name, buf, len, max_inflated, owned, dlen);
    *data = *owned;
    return st;
}

dgm_status dgm_idx_dataset_from_memory(dgm_ctx *ctx, const char *images_name,
                                       const unsigned char *images_buf, size_t images_len,
                                       const char *labels_name, const unsigned char *labels_buf,
                                       size_t labels_len, size_t max_inflated,
                                       dgm_dataset **out)
{
    *out = NULL;
    const unsigned char *img = NULL, *lab = NULL;
    size_t img_len = 0, lab_len = 0;
    unsigned char *img_owned = NULL, *lab_owned = NULL;
    float *x = NULL;
    int32_t *labels = NULL;
    dgm_idx_array a, b;
    dgm_status st = idx_bytes(ctx, images_name, images_buf, images_len, max_inflated, &img,
                              &img_len, &img_owned);
    if (st == DGM_STATUS_OK) st = dgm_idx_parse(ctx, images_name, img, img_len, &a);
    if (st == DGM_STATUS_OK && labels_buf) {
        st = idx_bytes(ctx, labels_name, labels_buf, labels_len, max_inflated, &lab, &lab_len,
                       &lab_owned);
        if (st == DGM_STATUS_OK) st = dgm_idx_parse(ctx, labels_name, lab, lab_len, &b);
        if (st == DGM_STATUS_OK) st = labels_to_int(ctx, labels_name, &b, a.dims[0], &labels);
    }
    free(lab_owned);
    if (st == DGM_STATUS_OK) st = images_to_float(ctx, images_name, &a, &x);
    free(img_owned);
    if (st != DGM_STATUS_OK) {
        free(labels);
        return st;
    }
    /* [n, ...] images: the trailing dimensions are the sample shape; a 1-D file is n
     * scalars. */
    int64_t one = 1;
    const int64_t *shape = a.ndim > 1 ? a.dims + 1 : &one;
    return dgm_dataset_adopt(ctx, a.dims[0], a.ndim > 1 ? a.ndim - 1 : 1, shape, x, labels, out);
}

dgm_status dgm_idx_labels_from_memory(dgm_ctx *ctx, const char *name, const unsigned char *buf,
                                      size_t len, int64_t n, size_t max_inflated, int32_t **out)
{
    *out = NULL;
    const unsigned char *lab = NULL;
    size_t lab_len = 0;
    unsigned char *owned = NULL;
    dgm_idx_array b;
    dgm_status st = idx_bytes(ctx, name, buf, len, max_inflated, &lab, &lab_len, &owned);
    if (st == DGM_STATUS_OK) st = dgm_idx_parse(ctx, name, lab, lab_len, &b);
    if (st == DGM_STATUS_OK) st = labels_to_int(ctx, name, &b, n, out);
    free(owned);
    return st;
}

/* IDX's magic (00 00) or gzip's (1f 8b), before the rest of the file is read. */
static dgm_status idx_head(dgm_ctx *ctx, const char *path, const unsigned char *head, size_t n)
{
    if (n >= 2 && !(head[0] == 0 && head[1] == 0) && !(head[0] == 0x1f && head[1] == 0x8b))
        return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                             "%s: not an IDX file (magic starts %02x %02x, expected 00 00, or gzip's 1f 8b)",
                             path, head[0], head[1]);
    return DGM_STATUS_OK;
}

dgm_status dgm_dataset_load_idx(dgm_ctx *ctx, const char *images_path, const char *labels_path,
                                dgm_dataset **out)
{
    dgm_status st = dgm_check_ctx(ctx);
    if (st != DGM_STATUS_OK) return st;
    if (!out || !images_path)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_dataset_load_idx: %s is NULL",
                             out ? "images_path" : "out");
    *out = NULL;
    unsigned char *img = NULL, *lab = NULL;
    size_t img_len = 0, lab_len = 0;
    st = dgm_read_file_checked(ctx, images_path, DGM_DATA_MAX_BYTES, idx_head, &img, &img_len);
    if (st == DGM_STATUS_OK && labels_path)
        st = dgm_read_file_checked(ctx, labels_path, DGM_DATA_MAX_BYTES, idx_head, &lab, &lab_len);
    if (st == DGM_STATUS_OK)
        st = dgm_idx_dataset_from_memory(ctx, images_path, img, img_len, labels_path, lab, lab_len,
                                         DGM_DATA_MAX_BYTES, out);
    free(img);
    free(lab);
    return st;
}
