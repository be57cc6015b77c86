/* PNG output: the encoder every picture goes through (libpng, silent error handlers,
 * written through dgm_atomic_file) and dgm_save_image_grid, torchvision's save_image:
 *
 *   grid = make_grid(images [n, C, H, W], nrow, padding, pad_value)
 *   pixel = uint8(clamp(grid * 255 + 0.5, 0, 255))
 *
 * make_grid puts min(nrow, n) images per row, ceil(n / that) rows, `padding` pixels of
 * pad_value between the images and around the whole grid; like make_grid, a single image
 * (n == 1) is written as it is, without padding. One-channel images are written as
 * greyscale PNGs (the same pixel values torchvision's RGB file holds in each channel). */
#define _POSIX_C_SOURCE 200809L

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "dgm/io.h"
#include "io/io_util.h"

/* libpng's default user limit on either dimension. */
#define DGM_PNG_MAX_DIM 1000000

typedef struct png_sink {
    dgm_ctx *ctx;
    dgm_atomic_file *af;
    dgm_status status;   /* of the first failed write, already reported on ctx */
    char msg[256];       /* libpng's own error message */
} png_sink;

static void sink_write(png_structp png, png_bytep data, size_t len)
{
    png_sink *s = png_get_io_ptr(png);
    dgm_status st = dgm_atomic_file_write(s->ctx, s->af, data, len);
    if (st != DGM_STATUS_OK) {
        s->status = st;
        png_error(png, "write failed");
    }
}

static void sink_flush(png_structp png) { (void)png; }

static void on_png_error(png_structp png, png_const_charp msg)
{
    png_sink *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg ? msg : "unknown libpng error");
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg)
{
    (void)png; /* the library never prints */
    (void)msg;
}

/* Encodes into af; 0 on success, -1 with s->status / s->msg set. */
static int encode_png(png_sink *s, const uint8_t *pixels, int width, int height, int channels)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, s, on_png_error,
                                              on_png_warning);
    if (!png) {
        snprintf(s->msg, sizeof s->msg, "cannot create the PNG encoder (out of memory)");
        return -1;
    }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        snprintf(s->msg, sizeof s->msg, "cannot create the PNG encoder (out of memory)");
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_set_write_fn(png, s, sink_write, sink_flush);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
                 channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    const size_t stride = (size_t)width * (size_t)channels;
    for (int y = 0; y < height; y++) png_write_row(png, pixels + (size_t)y * stride);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

dgm_status dgm_io_write_png(dgm_ctx *ctx, const char *what, const char *path,
                            const uint8_t *pixels, int width, int height, int channels)
{
    if (width < 1 || height < 1 || width > DGM_PNG_MAX_DIM || height > DGM_PNG_MAX_DIM)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: %s: a %dx%d picture is outside PNG's 1..%d pixels per side",
                             what, path, width, height, DGM_PNG_MAX_DIM);
    dgm_atomic_file af;
    dgm_status st = dgm_atomic_file_open(ctx, path, &af);
    if (st != DGM_STATUS_OK) return st;
    png_sink sink = {ctx, &af, DGM_STATUS_OK, ""};
    if (encode_png(&sink, pixels, width, height, channels) != 0) {
        dgm_atomic_file_abort(&af);
        if (sink.status != DGM_STATUS_OK) return sink.status; /* message already set */
        return dgm_set_error(ctx, DGM_STATUS_IO_ERROR, "%s: encoding %s failed: %s", what,
                             path, sink.msg);
    }
    return dgm_atomic_file_commit(ctx, &af);
}

/* torchvision's conversion: x*255 + 0.5, clamped to [0, 255], truncated; in float32
 * like torch. NaN becomes 0. */
static uint8_t to_u8(float v)
{
    float t = v * 255.0f;
    t = t + 0.5f;
    if (!(t > 0.0f)) return 0;
    if (t >= 255.0f) return 255;
    return (uint8_t)t;
}

dgm_status dgm_save_image_grid(dgm_ctx *ctx, const char *path, const float *images, int64_t n,
                               int channels, int height, int width, int nrow, int padding,
                               float pad_value)
{
    static const char *fn = "dgm_save_image_grid";
    dgm_status ctx_st = dgm_check_ctx(ctx);
    if (ctx_st != DGM_STATUS_OK) return ctx_st;
    if (!path || !*path)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: path is NULL or empty", fn);
    if (!images)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: %s: images is NULL", fn,
                             path);
    if (n < 1 || (channels != 1 && channels != 3) || height < 1 || width < 1)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: %s: images [%lld, %d, %d, %d] must have n >= 1, channels 1 "
                             "or 3 and a positive height and width",
                             fn, path, (long long)n, channels, height, width);
    if (nrow < 1 || padding < 0)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: %s: nrow %d must be >= 1 and padding %d >= 0", fn, path, nrow,
                             padding);

    /* make_grid returns a lone image as it is. */
    const int pad = n == 1 ? 0 : padding;
    const int64_t xmaps = n < nrow ? n : nrow;
    const int64_t ymaps = (n + xmaps - 1) / xmaps;
    const int64_t cell_h = (int64_t)height + pad, cell_w = (int64_t)width + pad;
    /* Bounded before multiplying: ymaps <= n and cell_* < 2^32 could still overflow. */
    if (ymaps > DGM_PNG_MAX_DIM || xmaps > DGM_PNG_MAX_DIM ||
        cell_h * ymaps + pad > DGM_PNG_MAX_DIM || cell_w * xmaps + pad > DGM_PNG_MAX_DIM)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: %s: a grid of %lld images of %dx%d, %lld per row, padding %d "
                             "is larger than PNG's %d pixels per side",
                             fn, path, (long long)n, height, width, (long long)xmaps, pad,
                             DGM_PNG_MAX_DIM);
    const int gh = (int)(cell_h * ymaps + pad), gw = (int)(cell_w * xmaps + pad);

    const size_t npix = (size_t)gw * (size_t)gh * (size_t)channels;
    uint8_t *pix = malloc(npix);
    if (!pix)
        return dgm_set_error(ctx, DGM_STATUS_OOM, "%s: %s: out of host memory for a %dx%d grid",
                             fn, path, gw, gh);
    memset(pix, to_u8(pad_value), npix);
    const size_t plane = (size_t)height * (size_t)width;
    for (int64_t k = 0; k < n; k++) {
        const int64_t top = (k / xmaps) * cell_h + pad, left = (k % xmaps) * cell_w + pad;
        const float *img = images + (size_t)k * (size_t)channels * plane; /* [C, H, W] */
        for (int c = 0; c < channels; c++) {
            const float *src = img + (size_t)c * plane;
            for (int i = 0; i < height; i++) {
                uint8_t *dst = pix + ((size_t)(top + i) * (size_t)gw + (size_t)left) *
                                         (size_t)channels + (size_t)c;
                const float *row = src + (size_t)i * (size_t)width;
                for (int j = 0; j < width; j++) dst[(size_t)j * (size_t)channels] = to_u8(row[j]);
            }
        }
    }
    dgm_status st = dgm_io_write_png(ctx, fn, path, pix, gw, gh, channels);
    free(pix);
    return st;
}
