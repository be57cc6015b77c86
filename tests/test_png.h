// PNG files read back with libpng's simplified API, for the tests of the pictures dgm
// writes (test_io.cpp, test_plot.cpp).
#pragma once

#include <png.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace dgmtest {

// A PNG read back with libpng: the stored format, and the pixels as 8-bit RGB.
struct Png {
    int width = 0, height = 0;
    bool color = false;
    std::vector<uint8_t> rgb; // [height, width, 3]
    const uint8_t *at(int x, int y) const { return &rgb[((size_t)y * width + x) * 3]; }
    bool is(int x, int y, uint8_t r, uint8_t g, uint8_t b) const
    {
        const uint8_t *p = at(x, y);
        return p[0] == r && p[1] == g && p[2] == b;
    }
    size_t count(uint8_t r, uint8_t g, uint8_t b) const
    {
        size_t n = 0;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++) n += is(x, y, r, g, b);
        return n;
    }
};

inline ::testing::AssertionResult read_png(const std::string &path, Png *out)
{
    png_image img;
    std::memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path.c_str()))
        return ::testing::AssertionFailure() << path << ": " << img.message;
    out->width = (int)img.width;
    out->height = (int)img.height;
    out->color = (img.format & PNG_FORMAT_FLAG_COLOR) != 0;
    img.format = PNG_FORMAT_RGB;
    out->rgb.assign(PNG_IMAGE_SIZE(img), 0);
    if (!png_image_finish_read(&img, nullptr, out->rgb.data(), 0, nullptr))
        return ::testing::AssertionFailure() << path << ": " << img.message;
    return ::testing::AssertionSuccess();
}

}  // namespace dgmtest
