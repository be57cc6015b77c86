/* Private: an RGB picture in host memory and the drawing the plots share (host/io/plot.c,
 * host/io/line_plot.c): clipped pixels and rectangles, matplotlib's tab10 colours, and
 * text in the built-in 5×7 bitmap font (host/io/font5x7.c). (0, 0) is the top-left
 * pixel; every primitive clips to the picture. */
#ifndef DGM_RASTER_H
#define DGM_RASTER_H

#include <stdint.h>
#include <string.h>

typedef struct dgm_raster {
    uint8_t *rgb; /* [height, width, 3] */
    int width, height;
} dgm_raster;

/* matplotlib's "tab10" colour cycle. */
#define DGM_TAB10_SIZE 10
extern const uint8_t dgm_tab10[DGM_TAB10_SIZE][3];

static inline void dgm_raster_put(dgm_raster *r, int x, int y, const uint8_t rgb[3])
{
    if (x < 0 || y < 0 || x >= r->width || y >= r->height) return;
    memcpy(r->rgb + ((size_t)y * (size_t)r->width + (size_t)x) * 3, rgb, 3);
}

static inline const uint8_t *dgm_raster_at(const dgm_raster *r, int x, int y)
{
    return r->rgb + ((size_t)y * (size_t)r->width + (size_t)x) * 3;
}

/* Fills columns x0..x1 of rows y0..y1 (inclusive; either order). */
void dgm_raster_fill(dgm_raster *r, int x0, int y0, int x1, int y1, const uint8_t rgb[3]);

/* The 5×7 font: each glyph 5 columns × 7 rows, drawn with `scale`×`scale` pixel blocks,
 * DGM_FONT_ADVANCE columns apart. Printable ASCII (32..126); any other byte is '?'. */
#define DGM_FONT_W 5
#define DGM_FONT_H 7
#define DGM_FONT_ADVANCE 6
/* Column bits of character c, bit 0 the top row: [5]. */
const uint8_t *dgm_font5x7_glyph(unsigned char c);
/* Width in pixels of s at `scale` (no trailing gap); 0 for "". */
int dgm_raster_text_width(const char *s, int scale);
/* Draws s with its top-left corner at (x, y). */
void dgm_raster_text(dgm_raster *r, int x, int y, const char *s, int scale, const uint8_t rgb[3]);

#endif
