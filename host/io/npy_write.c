/* .npy output, format 1.0, byte for byte what numpy.save writes for a C-ordered
 * little-endian float32 array:
 *
 *   "\x93NUMPY" 0x01 0x00, header length (uint16 LE), header, data
 *   header = "{'descr': '<f4', 'fortran_order': False, 'shape': (d0, d1, ...), }"
 *            + 21 - len(str(d0)) spaces (numpy's room to grow axis 0; none for 0-d)
 *            + spaces and a final '\n' so the data starts at a multiple of 64 bytes.
 *
 * Shapes are written like Python tuples: "()", "(n,)", "(a, b)". Also the little-endian
 * float writer shared with the safetensors writer. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "dgm/io.h"
#include "io/io_util.h"

#define NPY_MAX_NDIM 32
#define NPY_ALIGN 64
#define NPY_GROWTH_AXIS_MAX_DIGITS 21

dgm_status dgm_io_write_f32le(dgm_ctx *ctx, dgm_atomic_file *af, const float *data, size_t n)
{
    unsigned char buf[16384];
    const size_t per = sizeof buf / 4;
    for (size_t done = 0; done < n;) {
        const size_t m = n - done < per ? n - done : per;
        for (size_t i = 0; i < m; i++) {
            uint32_t u;
            memcpy(&u, &data[done + i], 4);
            buf[4 * i + 0] = (unsigned char)(u & 0xff);
            buf[4 * i + 1] = (unsigned char)((u >> 8) & 0xff);
            buf[4 * i + 2] = (unsigned char)((u >> 16) & 0xff);
            buf[4 * i + 3] = (unsigned char)(u >> 24);
        }
        dgm_status st = dgm_atomic_file_write(ctx, af, buf, 4 * m);
        if (st != DGM_STATUS_OK) return st;
        done += m;
    }
    return DGM_STATUS_OK;
}

dgm_status dgm_save_npy(dgm_ctx *ctx, const char *path, const float *data, int ndim,
                        const int64_t *shape)
{
    static const char *fn = "dgm_save_npy";
    dgm_status ctx_st = dgm_check_ctx(ctx);
    if (ctx_st != DGM_STATUS_OK) return ctx_st;
    if (!path || !*path)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: path is NULL or empty", fn);
    if (ndim < 0 || ndim > NPY_MAX_NDIM || (ndim > 0 && !shape))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: %s: ndim %d must be in [0, %d] with a shape", fn, path, ndim,
                             NPY_MAX_NDIM);
    int64_t numel = 1;
    int overflow = 0;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                                 "%s: %s: shape[%d] = %lld is negative", fn, path, i,
                                 (long long)shape[i]);
        if (shape[i] != 0 && numel > INT64_MAX / 4 / shape[i]) overflow = 1;
        else numel *= shape[i];
    }
    for (int i = 0; i < ndim; i++)
        if (shape[i] == 0) numel = 0, overflow = 0;
    if (overflow || (uint64_t)numel > SIZE_MAX / 4)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: %s: the shape is too large",
                             fn, path);
    if (numel > 0 && !data)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: %s: data is NULL", fn, path);

    /* 10 bytes of prefix, the dict (< 1024 bytes for 32 axes), growth room, alignment. */
    char header[2048];
    int len = snprintf(header, sizeof header,
                       "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int i = 0; i < ndim; i++)
        len += snprintf(header + len, sizeof header - (size_t)len, "%s%lld", i ? ", " : "",
                        (long long)shape[i]);
    len += snprintf(header + len, sizeof header - (size_t)len, "%s), }", ndim == 1 ? "," : "");
    if (ndim > 0) {
        char first[32];
        int digits = snprintf(first, sizeof first, "%lld", (long long)shape[0]);
        for (int i = digits; i < NPY_GROWTH_AXIS_MAX_DIGITS; i++) header[len++] = ' ';
    }
    /* numpy: padlen = 64 - (10 + len + 1) % 64, in [1, 64], then '\n'. */
    const int pad = NPY_ALIGN - (10 + len + 1) % NPY_ALIGN;
    for (int i = 0; i < pad; i++) header[len++] = ' ';
    header[len++] = '\n';

    unsigned char prefix[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                (unsigned char)(len & 0xff), (unsigned char)(len >> 8)};
    dgm_atomic_file af;
    dgm_status st = dgm_atomic_file_open(ctx, path, &af);
    if (st != DGM_STATUS_OK) return st;
    st = dgm_atomic_file_write(ctx, &af, prefix, sizeof prefix);
    if (st == DGM_STATUS_OK) st = dgm_atomic_file_write(ctx, &af, header, (size_t)len);
    if (st == DGM_STATUS_OK) st = dgm_io_write_f32le(ctx, &af, data, (size_t)numel);
    if (st != DGM_STATUS_OK) {
        dgm_atomic_file_abort(&af);
        return st;
    }
    return dgm_atomic_file_commit(ctx, &af);
}
