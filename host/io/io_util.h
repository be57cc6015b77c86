/* Private helpers shared by the output-file writers (host/io/): little-endian float
 * output and PNG encoding. Every file goes through dgm_atomic_file. */
#ifndef DGM_IO_UTIL_H
#define DGM_IO_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "dgm/core.h"
#include "io/atomic_file.h"

/* Writes n floats [n] as little-endian IEEE binary32, whatever the host's byte order. */
dgm_status dgm_io_write_f32le(dgm_ctx *ctx, dgm_atomic_file *af, const float *data, size_t n);

/* Encodes 8-bit pixels [height, width, channels] (channels 1: grey, 3: RGB) as a PNG and
 * writes it atomically to `path`. `what` names the caller in error messages. */
dgm_status dgm_io_write_png(dgm_ctx *ctx, const char *what, const char *path,
                            const uint8_t *pixels, int width, int height, int channels);

#endif
