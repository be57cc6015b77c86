/* dgm output files: PNG pictures (image grids like torchvision's save_image, 2-D scatter
 * and density plots, line charts of training curves), samples as .npy or .csv. Every file is written atomically
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

/* One curve of a line chart: the points (x[i], y[i]), joined in index order. A point
 * with a non-finite x or y is left out and breaks the line there (a gap). */
typedef struct dgm_line_series {
    const double *x, *y; /* [n] each; the caller's, read only during the call */
    int64_t n;           /* >= 0 */
    const char *label;   /* legend text (ASCII; other bytes drawn as '?'); NULL or "": none */
} dgm_line_series;

typedef struct dgm_line_plot_config {
    int width, height;   /* pixels, each in [160, 8192]; default 800 × 500 */
    bool log_y;          /* log10 y axis (every finite y must be > 0); default false */
    const char *x_label; /* under the x axis; default "step"; NULL or "": none */
    const char *y_label; /* above the y axis; default "loss"; NULL or "": none */
} dgm_line_plot_config;

/* The defaults above. */
DGM_API dgm_line_plot_config dgm_line_plot_config_default(void);

/* A line chart PNG of nseries curves (1..64) overlaid on one pair of axes, each in its
 * own colour (matplotlib's tab10, in order, repeating after 10), with tick labels, the
 * axis labels and a legend of the labelled series in the corner the curves cross least.
 * x spans the finite x values exactly; y their range plus 5% on each side (of log10 y
 * on a log axis). config NULL: the defaults. INVALID_ARGUMENT for a bad size or count,
 * NULL arrays with n > 0, or (log_y) a finite y <= 0, naming the series and index; the
 * file is written atomically. Thread-safe for distinct ctx. */
DGM_API dgm_status dgm_save_line_plot_png(dgm_ctx *ctx, const char *path,
                                          const dgm_line_series *series, int nseries,
                                          const dgm_line_plot_config *config);

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
