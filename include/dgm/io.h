/* dgm output files: PNG pictures (image grids like torchvision's save_image, 2-D scatter
 * and density plots), samples as .npy or .csv. Every file is written atomically
 * (temporary file, fsync, rename): a failed write leaves the previous file intact. Data
 * are host arrays. */
#ifndef DGM_IO_H
#define DGM_IO_H

#include "dgm/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A grid of n images [n, channels, height, width] (channels 1 or 3, values in [0, 1],
 * clamped), `nrow` images per row, `padding` pixels between and around them filled with
 * pad_value — torchvision.utils.save_image's layout. */
DGM_API dgm_status dgm_save_image_grid(dgm_ctx *ctx, const char *path, const float *images,
                                       int64_t n, int channels, int height, int width, int nrow,
                                       int padding, float pad_value);

/* Plot area: xmin, xmax, ymin, ymax. */
typedef struct dgm_extent {
    float xmin, xmax, ymin, ymax;
} dgm_extent;

/* The data's extent (min/max of each coordinate of points [n, 2]), padded by 5% per side. */
DGM_API dgm_extent dgm_extent_of(const float *points, int64_t n);

/* A size×size PNG scatter plot of points [n, 2] over `extent` (NULL: the points' own),
 * each point coloured by labels[i] (NULL: one colour), on white with axes. */
DGM_API dgm_status dgm_save_scatter_png(dgm_ctx *ctx, const char *path, const float *points,
                                        int64_t n, const int32_t *labels, const dgm_extent *extent,
                                        int size);
/* A size×size PNG of the 2-D histogram of points [n, 2] in bins×bins cells over `extent`
 * (NULL: the points' own), counts mapped through a perceptual colour map. */
DGM_API dgm_status dgm_save_density_png(dgm_ctx *ctx, const char *path, const float *points,
                                        int64_t n, const dgm_extent *extent, int bins, int size);

/* A size×size PNG of values on a bins×bins grid over `extent` (values[by·bins + bx], row
 * 0 at ymin: a density evaluated at the cells' centres), through the same colour map,
 * scaled to the largest finite value; cells not above 0 stay blank. */
DGM_API dgm_status dgm_save_heatmap_png(dgm_ctx *ctx, const char *path, const float *values,
                                        int bins, const dgm_extent *extent, int size);

/* .npy format 1.0, little-endian float32, C order. */
DGM_API dgm_status dgm_save_npy(dgm_ctx *ctx, const char *path, const float *data, int ndim,
                                const int64_t *shape);
/* One row of `cols` floats per line, comma-separated, shortest round-trip form. */
DGM_API dgm_status dgm_save_csv(dgm_ctx *ctx, const char *path, const float *data, int64_t rows,
                                int64_t cols);

#ifdef __cplusplus
}
#endif
#endif
