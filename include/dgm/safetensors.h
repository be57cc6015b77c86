/* dgm safetensors: a writer and a strict reader of the safetensors format (8-byte
 * little-endian header length N, N bytes of JSON header, raw little-endian tensor data).
 *
 * The reader accepts F32, F64, F16 and BF16 tensors (converted to float) and checks: the
 * header length is bounded (100 MB) and inside the file, the header is a JSON object,
 * "__metadata__" (optional) maps strings to strings, every tensor has a known dtype, a
 * shape of non-negative integers, and data_offsets [begin, end] with end - begin equal to
 * its byte size, the tensors covering the data area exactly with no gap or overlap.
 * Anything else is DGM_STATUS_BAD_FORMAT with a message saying what and where. */
#ifndef DGM_SAFETENSORS_H
#define DGM_SAFETENSORS_H

#include "dgm/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One tensor to write: float32 host data. */
typedef struct dgm_st_tensor {
    const char *name;
    int ndim;             /* 0..4 (0: a scalar) */
    int64_t shape[4];
    const float *data;
} dgm_st_tensor;

/* Writes tensors (in the given order; names unique) and metadata pairs atomically. */
DGM_API dgm_status dgm_safetensors_save(dgm_ctx *ctx, const char *path, const dgm_st_tensor *tensors,
                                        int n_tensors, const char *const *meta_keys,
                                        const char *const *meta_values, int n_meta);

typedef struct dgm_safetensors dgm_safetensors;

DGM_API dgm_status dgm_safetensors_load(dgm_ctx *ctx, const char *path, dgm_safetensors **out);
/* Parses a file already in memory (copies what it keeps). */
DGM_API dgm_status dgm_safetensors_parse(dgm_ctx *ctx, const void *bytes, size_t len,
                                         dgm_safetensors **out);
DGM_API void dgm_safetensors_free(dgm_safetensors *st);

DGM_API int dgm_safetensors_count(const dgm_safetensors *st);
/* Index of the tensor named `name`, or -1. */
DGM_API int dgm_safetensors_find(const dgm_safetensors *st, const char *name);
DGM_API const char *dgm_safetensors_name(const dgm_safetensors *st, int i);
DGM_API int dgm_safetensors_ndim(const dgm_safetensors *st, int i);
DGM_API const int64_t *dgm_safetensors_shape(const dgm_safetensors *st, int i);
DGM_API int64_t dgm_safetensors_numel(const dgm_safetensors *st, int i);
/* The values as float32 (converted from the stored dtype), host memory owned by st. */
DGM_API const float *dgm_safetensors_data(const dgm_safetensors *st, int i);
/* The stored dtype's name ("F32", ...). */
DGM_API const char *dgm_safetensors_dtype(const dgm_safetensors *st, int i);

/* Metadata value of `key`, or NULL. */
DGM_API const char *dgm_safetensors_meta(const dgm_safetensors *st, const char *key);
DGM_API int dgm_safetensors_meta_count(const dgm_safetensors *st);
DGM_API const char *dgm_safetensors_meta_key(const dgm_safetensors *st, int i);

#ifdef __cplusplus
}
#endif
#endif
