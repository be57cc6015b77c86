/* The drawing primitives of host/io/raster.h. */
#include "io/raster.h"

const uint8_t dgm_tab10[DGM_TAB10_SIZE][3] = {
    {0x1f, 0x77, 0xb4}, {0xff, 0x7f, 0x0e}, {0x2c, 0xa0, 0x2c}, {0xd6, 0x27, 0x28},
    {0x94, 0x67, 0xbd}, {0x8c, 0x56, 0x4b}, {0xe3, 0x77, 0xc2}, {0x7f, 0x7f, 0x7f},
    {0xbc, 0xbd, 0x22}, {0x17, 0xbe, 0xcf},
};

void dgm_raster_fill(dgm_raster *r, int x0, int y0, int x1, int y1, const uint8_t rgb[3])
{
    if (x0 > x1) { const int t = x0; x0 = x1; x1 = t; }
    if (y0 > y1) { const int t = y0; y0 = y1; y1 = t; }
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 >= r->width) x1 = r->width - 1;
    if (y1 >= r->height) y1 = r->height - 1;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) dgm_raster_put(r, x, y, rgb);
}

int dgm_raster_text_width(const char *s, int scale)
{
    const size_t n = strlen(s);
    return n ? (int)n * DGM_FONT_ADVANCE * scale - scale : 0;
}

void dgm_raster_text(dgm_raster *r, int x, int y, const char *s, int scale, const uint8_t rgb[3])
{
    for (; *s; s++, x += DGM_FONT_ADVANCE * scale) {
        const uint8_t *g = dgm_font5x7_glyph((unsigned char)*s);
        for (int col = 0; col < DGM_FONT_W; col++)
            for (int row = 0; row < DGM_FONT_H; row++)
                if (g[col] >> row & 1)
                    dgm_raster_fill(r, x + col * scale, y + row * scale, x + col * scale + scale - 1,
                                    y + row * scale + scale - 1, rgb);
    }
}
