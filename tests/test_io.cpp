// Output files: image grids (torchvision's save_image layout, read back with libpng),
// scatter and density plots, dgm_extent_of, .npy (byte-level header checks; numpy loads it
// and writes the same bytes when `python3 -c "import numpy"` works, set DGM_PYTHON for
// another interpreter) and CSV round trips; failed writes keep the previous file.
#include <png.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cfloat>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "test_files.h"
#include "test_png.h"
#include "test_util.h"

using namespace dgmtest;
namespace fs = std::filesystem;

namespace {

// ---- image grids ----

// Pixel (k, c, i, j) of the test images holds q/255 with this q, so torchvision's
// uint8(clamp(x*255 + 0.5, 0, 255)) gives q back.
int grid_q(int64_t k, int c, int i, int j) { return (int)((k * 50 + c * 17 + i * 5 + j * 3) % 256); }

std::vector<float> grid_images(int64_t n, int ch, int h, int w)
{
    std::vector<float> v((size_t)(n * ch * h * w));
    for (int64_t k = 0; k < n; k++)
        for (int c = 0; c < ch; c++)
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++)
                    v[(size_t)(((k * ch + c) * h + i) * w + j)] = (float)grid_q(k, c, i, j) / 255.0f;
    return v;
}

TEST(IO, ImageGridMatchesTorchvisionLayout)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir dir;
    const int64_t n = 5;
    const int C = 3, H = 4, W = 3, nrow = 2, pad = 2;
    auto img = grid_images(n, C, H, W);
    const std::string path = dir.file("grid.png");
    DGM_ASSERT_OK(ctx.get(), dgm_save_image_grid(ctx.get(), path.c_str(), img.data(), n, C, H, W,
                                                 nrow, pad, 0.5f));
    Png png;
    ASSERT_TRUE(read_png(path, &png));
    // make_grid: 2 per row, 3 rows, padding between and around.
    ASSERT_EQ(png.width, 2 * (W + pad) + pad);
    ASSERT_EQ(png.height, 3 * (H + pad) + pad);
    EXPECT_TRUE(png.color);
    std::vector<bool> inside((size_t)png.width * png.height, false);
    for (int64_t k = 0; k < n; k++) {
        const int top = (int)(k / nrow) * (H + pad) + pad, left = (int)(k % nrow) * (W + pad) + pad;
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++) {
                inside[(size_t)(top + i) * png.width + left + j] = true;
                for (int c = 0; c < C; c++)
                    ASSERT_EQ(png.at(left + j, top + i)[c], grid_q(k, c, i, j))
                        << "image " << k << " channel " << c << " pixel " << i << "," << j;
            }
    }
    // Everything else, including the sixth (empty) cell, is pad_value: 0.5*255+0.5 = 128.
    for (int y = 0; y < png.height; y++) {
        for (int x = 0; x < png.width; x++) {
            if (!inside[(size_t)y * png.width + x]) {
                ASSERT_TRUE(png.is(x, y, 128, 128, 128)) << "padding at " << x << "," << y;
            }
        }
    }
    EXPECT_EQ(dir.entries(), std::vector<std::string>{"grid.png"});
}

TEST(IO, ImageGridClampsAndConvertsLikeTorchvision)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir dir;
    // One-channel 2x4 images, two of them in one row, no padding between... padding 1.
    const float a[8] = {-0.3f, 0.0f, 0.001f, 0.002f, 0.5f, 0.999f, 1.0f, 1.7f};
    const float b[8] = {NAN, INFINITY, -INFINITY, 0.25f, 0.75f, 0.1f, 0.9f, 0.3f};
    std::vector<float> img(a, a + 8);
    img.insert(img.end(), b, b + 8);
    const std::string path = dir.file("gray.png");
    DGM_ASSERT_OK(ctx.get(), dgm_save_image_grid(ctx.get(), path.c_str(), img.data(), 2, 1, 2, 4,
                                                 8, 1, 1.0f));
    Png png;
    ASSERT_TRUE(read_png(path, &png));
    EXPECT_FALSE(png.color) << "one-channel images are written as greyscale";
    ASSERT_EQ(png.width, 2 * 5 + 1);
    ASSERT_EQ(png.height, 2 + 2);
    // x*255+0.5 truncated: 0.001 -> 0.755 -> 0, 0.002 -> 1.01 -> 1, 0.999 -> 255.245 -> 255.
    const int want_a[8] = {0, 0, 0, 1, 128, 255, 255, 255};
    const int want_b[8] = {0, 255, 0, 64, 191, 26, 230, 77};
    for (int p = 0; p < 8; p++) {
        EXPECT_EQ(png.at(1 + p % 4, 1 + p / 4)[0], want_a[p]) << "a " << p;
        EXPECT_EQ(png.at(6 + p % 4, 1 + p / 4)[0], want_b[p]) << "b " << p;
    }
    EXPECT_TRUE(png.is(0, 0, 255, 255, 255));
    EXPECT_TRUE(png.is(5, 2, 255, 255, 255));
}

TEST(IO, ImageGridEdgeCases)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir dir;
    const std::string path = dir.file("g.png");
    // A single image: make_grid returns it unpadded.
    auto one = grid_images(1, 3, 5, 7);
    DGM_ASSERT_OK(ctx.get(), dgm_save_image_grid(ctx.get(), path.c_str(), one.data(), 1, 3, 5, 7, 8,
                                                 2, 0.0f));
    Png png;
    ASSERT_TRUE(read_png(path, &png));
    EXPECT_EQ(png.width, 7);
    EXPECT_EQ(png.height, 5);
    EXPECT_EQ(png.at(6, 4)[2], grid_q(0, 2, 4, 6));
    // nrow larger than n: one row of n; padding 0.
    auto three = grid_images(3, 3, 2, 2);
    DGM_ASSERT_OK(ctx.get(), dgm_save_image_grid(ctx.get(), path.c_str(), three.data(), 3, 3, 2, 2,
                                                 10, 0, 0.0f));
    ASSERT_TRUE(read_png(path, &png));
    EXPECT_EQ(png.width, 6);
    EXPECT_EQ(png.height, 2);
    EXPECT_EQ(png.at(5, 1)[0], grid_q(2, 0, 1, 1));

    struct Bad {
        const char *what;
        int64_t n;
        int c, h, w, nrow, pad;
        const float *data;
    } bad[] = {
        {"n 0", 0, 3, 2, 2, 1, 0, three.data()},     {"2 channels", 3, 2, 2, 2, 1, 0, three.data()},
        {"height 0", 3, 3, 0, 2, 1, 0, three.data()}, {"nrow 0", 3, 3, 2, 2, 0, 0, three.data()},
        {"padding -1", 3, 3, 2, 2, 1, -1, three.data()}, {"NULL", 3, 3, 2, 2, 1, 0, nullptr},
        {"too large", 3, 3, 2, 2000000, 1, 0, three.data()},
    };
    for (const auto &b : bad)
        EXPECT_EQ(dgm_save_image_grid(ctx.get(), path.c_str(), b.data, b.n, b.c, b.h, b.w, b.nrow,
                                      b.pad, 0.0f),
                  DGM_STATUS_INVALID_ARGUMENT)
            << b.what;
    const std::string missing = dir.file("no/dir/g.png");
    EXPECT_EQ(dgm_save_image_grid(ctx.get(), missing.c_str(), three.data(), 3, 3, 2, 2, 1, 0, 0.0f),
              DGM_STATUS_IO_ERROR);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find(missing), std::string::npos)
        << dgm_last_error(ctx.get());
    EXPECT_EQ(dir.entries(), std::vector<std::string>{"g.png"});
}

// ---- plots ----

const uint8_t TAB10[10][3] = {
    {0x1f, 0x77, 0xb4}, {0xff, 0x7f, 0x0e}, {0x2c, 0xa0, 0x2c}, {0xd6, 0x27, 0x28},
    {0x94, 0x67, 0xbd}, {0x8c, 0x56, 0x4b}, {0xe3, 0x77, 0xc2}, {0x7f, 0x7f, 0x7f},
    {0xbc, 0xbd, 0x22}, {0x17, 0xbe, 0xcf},
};

size_t non_white(const Png &p) { return (size_t)p.width * p.height - p.count(255, 255, 255); }

TEST(IO, ExtentOfPadsFivePercent)
{
    const float pts[] = {0.0f, 0.0f, 10.0f, 20.0f, NAN, 100.0f, 5.0f, INFINITY};
    dgm_extent e = dgm_extent_of(pts, 4);
    EXPECT_FLOAT_EQ(e.xmin, -0.5f);
    EXPECT_FLOAT_EQ(e.xmax, 10.5f);
    EXPECT_FLOAT_EQ(e.ymin, -1.0f);
    EXPECT_FLOAT_EQ(e.ymax, 21.0f);
    const float single[] = {3.0f, 1000.0f};
    e = dgm_extent_of(single, 1);
    EXPECT_FLOAT_EQ(e.xmin, 2.5f);
    EXPECT_FLOAT_EQ(e.xmax, 3.5f);
    EXPECT_FLOAT_EQ(e.ymin, 950.0f);
    EXPECT_FLOAT_EQ(e.ymax, 1050.0f);
    e = dgm_extent_of(nullptr, 0);
    EXPECT_EQ(e.xmin, -1.0f);
    EXPECT_EQ(e.ymax, 1.0f);
    const float huge[] = {-FLT_MAX, FLT_MAX, FLT_MAX, FLT_MAX};
    e = dgm_extent_of(huge, 2);
    EXPECT_TRUE(std::isfinite(e.xmin) && std::isfinite(e.xmax) && e.xmin < e.xmax);
    EXPECT_TRUE(std::isfinite(e.ymin) && std::isfinite(e.ymax) && e.ymin < e.ymax);
}

TEST(IO, ScatterPlotDrawsColouredPoints)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir dir;
    const int n = 400;
    std::vector<float> pts(2 * n);
    std::vector<int32_t> labels(n);
    for (int i = 0; i < n; i++) {
        const double a = 2.0 * M_PI * i / n;
        pts[2 * i] = (float)(3.0 * std::cos(a));
        pts[2 * i + 1] = (float)(2.0 * std::sin(a) + 1.0);
        labels[i] = i % 4 + (i % 8 == 7 ? -10 : 0); // -7 % 10 -> palette 3 as well
    }
    const std::string path = dir.file("scatter.png");
    DGM_ASSERT_OK(ctx.get(), dgm_save_scatter_png(ctx.get(), path.c_str(), pts.data(), n,
                                                  labels.data(), nullptr, 128));
    Png png;
    ASSERT_TRUE(read_png(path, &png));
    ASSERT_EQ(png.width, 128);
    ASSERT_EQ(png.height, 128);
    EXPECT_TRUE(png.color);
    for (int l = 0; l < 4; l++)
        EXPECT_GT(png.count(TAB10[l][0], TAB10[l][1], TAB10[l][2]), 20u) << "label " << l;
    EXPECT_EQ(png.count(TAB10[4][0], TAB10[4][1], TAB10[4][2]), 0u);
    EXPECT_TRUE(png.is(0, 0, 255, 255, 255)) << "white background";
    EXPECT_TRUE(png.is(50, 70, 255, 255, 255)) << "inside the ellipse is empty";
    EXPECT_GT(non_white(png), 500u);
    EXPECT_LT(non_white(png), 128u * 128u / 2);

    // Orientation: over the extent [0, 1]², (0, 0) is bottom left, (1, 1) top right.
    const float corners[] = {0.0f, 0.0f, 1.0f, 1.0f};
    const int32_t corner_labels[] = {0, 1};
    const dgm_extent unit = {0.0f, 1.0f, 0.0f, 1.0f};
    DGM_ASSERT_OK(ctx.get(), dgm_save_scatter_png(ctx.get(), path.c_str(), corners, 2,
                                                  corner_labels, &unit, 128));
    ASSERT_TRUE(read_png(path, &png));
    // Plot area: margin 128/32 = 4, columns and rows 4 .. 123.
    EXPECT_TRUE(png.is(4, 123, TAB10[0][0], TAB10[0][1], TAB10[0][2]));
    EXPECT_TRUE(png.is(123, 4, TAB10[1][0], TAB10[1][1], TAB10[1][2]));
}

TEST(IO, ScatterPlotEdgeCases)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir dir;
    const std::string path = dir.file("s.png");
    // NaN points are skipped; n == 0 gives the empty frame; no labels: palette[0].
    const float pts[] = {NAN, 1.0f, 0.5f, 0.5f, 2.0f, NAN, INFINITY, 0.0f};
    DGM_ASSERT_OK(ctx.get(), dgm_save_scatter_png(ctx.get(), path.c_str(), pts, 4, nullptr,
                                                  nullptr, 16));
    Png png;
    ASSERT_TRUE(read_png(path, &png));
    EXPECT_EQ(png.width, 16);
    EXPECT_EQ(png.count(TAB10[0][0], TAB10[0][1], TAB10[0][2]), 9u) << "one 3x3 dot";
    DGM_ASSERT_OK(ctx.get(), dgm_save_scatter_png(ctx.get(), path.c_str(), nullptr, 0, nullptr,
                                                  nullptr, 64));
    ASSERT_TRUE(read_png(path, &png));
    EXPECT_EQ(png.width, 64);
    EXPECT_EQ(png.count(TAB10[0][0], TAB10[0][1], TAB10[0][2]), 0u);
    EXPECT_GT(non_white(png), 4u * 56) << "the frame";
    // Points outside an explicit extent are clipped.
    const dgm_extent far = {10.0f, 11.0f, 10.0f, 11.0f};
    DGM_ASSERT_OK(ctx.get(), dgm_save_scatter_png(ctx.get(), path.c_str(), pts, 4, nullptr, &far, 32));
    ASSERT_TRUE(read_png(path, &png));
    EXPECT_EQ(png.count(TAB10[0][0], TAB10[0][1], TAB10[0][2]), 0u);

    for (int size : {15, 8193, 0, -1})
        EXPECT_EQ(dgm_save_scatter_png(ctx.get(), path.c_str(), pts, 4, nullptr, nullptr, size),
                  DGM_STATUS_INVALID_ARGUMENT)
            << size;
    const dgm_extent flat = {1.0f, 1.0f, 0.0f, 1.0f}, inf = {0.0f, INFINITY, 0.0f, 1.0f};
    EXPECT_EQ(dgm_save_scatter_png(ctx.get(), path.c_str(), pts, 4, nullptr, &flat, 64),
              DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_save_scatter_png(ctx.get(), path.c_str(), pts, 4, nullptr, &inf, 64),
              DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_save_scatter_png(ctx.get(), path.c_str(), nullptr, 3, nullptr, nullptr, 64),
              DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_save_scatter_png(ctx.get(), path.c_str(), pts, -1, nullptr, nullptr, 64),
              DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find(path), std::string::npos);
}

TEST(IO, DensityPlotShowsTheHistogram)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir dir;
    std::mt19937 rng(3);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    const int n = 20000;
    std::vector<float> pts(2 * n);
    for (auto &v : pts) v = normal(rng);
    pts[10] = NAN;
    const std::string path = dir.file("density.png");
    DGM_ASSERT_OK(ctx.get(), dgm_save_density_png(ctx.get(), path.c_str(), pts.data(), n, nullptr,
                                                  40, 200));
    Png png;
    ASSERT_TRUE(read_png(path, &png));
    ASSERT_EQ(png.width, 200);
    ASSERT_EQ(png.height, 200);
    EXPECT_TRUE(png.color);
    EXPECT_GT(png.count(0xfd, 0xe7, 0x25), 0u) << "the fullest cell is viridis' top (yellow)";
    EXPECT_FALSE(png.is(100, 100, 255, 255, 255)) << "the centre is dense";
    EXPECT_TRUE(png.is(1, 1, 255, 255, 255));
    EXPECT_GT(non_white(png), 200u * 200u / 10);

    // All points in one cell: that cell's block is yellow, the rest of the area white.
    const float same[] = {0.1f, 0.1f, 0.1f, 0.1f, 0.12f, 0.1f};
    const dgm_extent unit = {0.0f, 1.0f, 0.0f, 1.0f};
    DGM_ASSERT_OK(ctx.get(), dgm_save_density_png(ctx.get(), path.c_str(), same, 3, &unit, 4, 64));
    ASSERT_TRUE(read_png(path, &png));
    // Plot area 2..61 (margin max(2, 64/32)), 4 bins of 15 px; cell (0, 0) is the
    // bottom-left block.
    EXPECT_EQ(png.count(0xfd, 0xe7, 0x25), 15u * 15u);
    EXPECT_TRUE(png.is(2, 61, 0xfd, 0xe7, 0x25));
    EXPECT_TRUE(png.is(16, 47, 0xfd, 0xe7, 0x25));
    EXPECT_TRUE(png.is(17, 47, 255, 255, 255));
    EXPECT_TRUE(png.is(16, 46, 255, 255, 255));

    DGM_ASSERT_OK(ctx.get(), dgm_save_density_png(ctx.get(), path.c_str(), nullptr, 0, nullptr, 8, 64));
    for (int bins : {0, -3, 61})
        EXPECT_EQ(dgm_save_density_png(ctx.get(), path.c_str(), same, 3, &unit, bins, 64),
                  DGM_STATUS_INVALID_ARGUMENT)
            << bins;
    EXPECT_EQ(dgm_save_density_png(ctx.get(), path.c_str(), same, 3, &unit, 4, 8),
              DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_save_density_png(ctx.get(), path.c_str(), same, 3, &unit, 4, 9000),
              DGM_STATUS_INVALID_ARGUMENT);
}

// ---- .npy ----

// numpy's header for a float32 C-order array: dict, 21 - len(str(shape[0])) spaces,
// then spaces and '\n' to a multiple of 64 bytes including the 10-byte prefix.
std::string npy_header(const std::string &shape_repr, const std::string &first_dim)
{
    std::string h = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_repr + ", }";
    if (!first_dim.empty()) h += std::string(21 - first_dim.size(), ' ');
    const size_t pad = 64 - (10 + h.size() + 1) % 64;
    return h + std::string(pad, ' ') + "\n";
}

TEST(IO, NpyHeaderBytes)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir dir;
    struct Case {
        std::vector<int64_t> shape;
        std::string repr, first;
    } cases[] = {
        {{3, 4}, "(3, 4)", "3"},         {{5}, "(5,)", "5"},
        {{}, "()", ""},                  {{0, 3}, "(0, 3)", "0"},
        {{2, 1, 3}, "(2, 1, 3)", "2"},   {{1234567}, "(1234567,)", "1234567"},
    };
    for (const auto &c : cases) {
        const int64_t n = numel(c.shape);
        std::vector<float> data((size_t)n);
        for (int64_t i = 0; i < n; i++) data[(size_t)i] = (float)i * 0.5f - 1.0f;
        const std::string path = dir.file("a.npy");
        DGM_ASSERT_OK(ctx.get(), dgm_save_npy(ctx.get(), path.c_str(), data.data(),
                                              (int)c.shape.size(), c.shape.data()));
        auto b = read_bytes(path);
        ASSERT_GE(b.size(), 10u);
        const unsigned char magic[8] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
        EXPECT_EQ(std::memcmp(b.data(), magic, 8), 0) << c.repr;
        const size_t hlen = b[8] | (size_t)b[9] << 8;
        EXPECT_EQ((10 + hlen) % 64, 0u) << c.repr;
        ASSERT_EQ(b.size(), 10 + hlen + 4 * (size_t)n) << c.repr;
        const std::string header(b.begin() + 10, b.begin() + 10 + (long)hlen);
        EXPECT_EQ(header, npy_header(c.repr, c.first));
        for (int64_t i = 0; i < std::min<int64_t>(n, 100); i++) {
            uint32_t u = 0;
            for (int j = 3; j >= 0; j--) u = (u << 8) | b[10 + hlen + 4 * i + j];
            EXPECT_EQ(u, bits(data[(size_t)i]));
        }
    }
    const int64_t neg[2] = {2, -1};
    const float x = 0.0f;
    EXPECT_EQ(dgm_save_npy(ctx.get(), dir.file("b.npy").c_str(), &x, 2, neg),
              DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_save_npy(ctx.get(), dir.file("b.npy").c_str(), nullptr, 2, cases[0].shape.data()),
              DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_save_npy(ctx.get(), dir.file("b.npy").c_str(), &x, 33, neg),
              DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dir.entries(), std::vector<std::string>{"a.npy"});
}

TEST(IO, NumpyLoadsNpyAndWritesTheSameBytes)
{
    const std::string why = python_skip_reason("numpy");
    if (!why.empty()) GTEST_SKIP() << why;
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir dir;
    const std::vector<std::vector<int64_t>> shapes = {{3, 4}, {5}, {}, {0, 3}, {2, 1, 3}, {1000, 2}};
    std::vector<std::string> args;
    for (size_t s = 0; s < shapes.size(); s++) {
        const int64_t n = numel(shapes[s]);
        std::vector<float> data((size_t)n);
        for (int64_t i = 0; i < n; i++) data[(size_t)i] = (float)i * 0.5f - 1.0f;
        const std::string path = dir.file("a" + std::to_string(s) + ".npy");
        DGM_ASSERT_OK(ctx.get(), dgm_save_npy(ctx.get(), path.c_str(), data.data(),
                                              (int)shapes[s].size(), shapes[s].data()));
        std::string shape = "";
        for (int64_t d : shapes[s]) shape += std::to_string(d) + "x";
        args.push_back(path);
        args.push_back(shape);
    }
    const char *script = R"PY(
import io, sys
import numpy as np
args = sys.argv[1:]
for path, shape in zip(args[0::2], args[1::2]):
    shape = tuple(int(d) for d in shape.split("x") if d)
    a = np.load(path)
    assert a.dtype == np.float32 and a.shape == shape, (path, a.dtype, a.shape, shape)
    n = int(np.prod(shape))
    want = (np.arange(n, dtype=np.float32) * np.float32(0.5) - np.float32(1)).reshape(shape)
    assert np.array_equal(a, want), path
    buf = io.BytesIO()
    np.save(buf, a)
    assert buf.getvalue() == open(path, "rb").read(), (path, buf.getvalue()[:128])
print("ok")
)PY";
    std::string out;
    EXPECT_EQ(run_python(dir, script, args, &out), 0) << out;
    EXPECT_NE(out.find("ok"), std::string::npos) << out;
}

// ---- CSV ----

TEST(IO, CsvRoundTripsThroughStrtof)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir dir;
    std::mt19937 rng(11);
    const int64_t rows = 50, cols = 3;
    std::vector<float> data = random_values(rng, rows * cols, -1e4f, 1e4f);
    const float specials[] = {0.1f, 1.0f, -0.0f, 1e-45f, FLT_MAX, -FLT_MIN, NAN, INFINITY,
                              -INFINITY, 123456789.0f, 1.0f / 3.0f, 0.5f};
    std::copy(std::begin(specials), std::end(specials), data.begin());
    for (size_t i = 12; i < 30; i++) data[i] = std::ldexp(data[i], (int)i - 40);
    const std::string path = dir.file("s.csv");
    DGM_ASSERT_OK(ctx.get(), dgm_save_csv(ctx.get(), path.c_str(), data.data(), rows, cols));
    const std::string text = read_text(path);
    ASSERT_FALSE(text.empty());
    EXPECT_EQ(text.back(), '\n');
    std::istringstream lines(text);
    std::string line;
    int64_t r = 0;
    while (std::getline(lines, line)) {
        ASSERT_LT(r, rows);
        std::istringstream fields(line);
        std::string field;
        int64_t c = 0;
        while (std::getline(fields, field, ',')) {
            ASSERT_LT(c, cols) << line;
            char *end = nullptr;
            const float v = std::strtof(field.c_str(), &end);
            EXPECT_EQ(*end, '\0') << field;
            const float want = data[(size_t)(r * cols + c)];
            if (std::isnan(want)) EXPECT_TRUE(std::isnan(v)) << field;
            else EXPECT_EQ(bits(v), bits(want)) << field << " vs " << want;
            c++;
        }
        EXPECT_EQ(c, cols) << line;
        r++;
    }
    EXPECT_EQ(r, rows);
    // Shortest round-trip forms.
    EXPECT_EQ(text.rfind("0.1,1,-0\n", 0), 0u) << text.substr(0, 40);
    EXPECT_NE(text.find(",0.33333334,0.5\n"), std::string::npos) << text.substr(0, 200);

    DGM_ASSERT_OK(ctx.get(), dgm_save_csv(ctx.get(), path.c_str(), nullptr, 0, 4));
    EXPECT_EQ(read_text(path), "");
    EXPECT_EQ(dgm_save_csv(ctx.get(), path.c_str(), data.data(), 2, 0), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_save_csv(ctx.get(), path.c_str(), nullptr, 2, 2), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dir.entries(), std::vector<std::string>{"s.csv"});
}

// ---- failed writes ----

// Runs `write` in a child under a 64 KiB file-size limit (SIGXFSZ ignored: writes fail
// with EFBIG, as on a full disk) and returns its status and message.
std::string write_under_file_limit(const std::function<dgm_status()> &write, dgm_ctx *ctx,
                                   dgm_status *status)
{
    *status = DGM_STATUS_COUNT;
    int fds[2];
    if (pipe(fds) != 0) return "pipe failed";
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid < 0) return "fork failed";
    if (pid == 0) {
        close(fds[0]);
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {65536, 65536};
        dgm_status s = DGM_STATUS_COUNT;
        if (setrlimit(RLIMIT_FSIZE, &rl) == 0) s = write();
        int code = (int)s;
        ssize_t w = ::write(fds[1], dgm_last_error(ctx), std::strlen(dgm_last_error(ctx)));
        (void)w;
        _exit(code);
    }
    close(fds[1]);
    std::string msg;
    char buf[256];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) msg.append(buf, (size_t)n);
    close(fds[0]);
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    *status = WIFEXITED(wstatus) ? (dgm_status)WEXITSTATUS(wstatus) : DGM_STATUS_COUNT;
    return msg;
}

TEST(IO, FailedWritesKeepThePreviousFile)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir dir;
    std::mt19937 rng(5);
    const std::vector<float> small = random_values(rng, 12, 0.0f, 1.0f);
    const std::vector<float> big = random_values(rng, 3 * 3 * 128 * 128, 0.0f, 1.0f);
    const std::string npy = dir.file("x.npy"), csv = dir.file("x.csv"), png = dir.file("x.png");
    const int64_t small_shape[1] = {12}, big_shape[1] = {(int64_t)big.size()};
    DGM_ASSERT_OK(ctx.get(), dgm_save_npy(ctx.get(), npy.c_str(), small.data(), 1, small_shape));
    DGM_ASSERT_OK(ctx.get(), dgm_save_csv(ctx.get(), csv.c_str(), small.data(), 4, 3));
    DGM_ASSERT_OK(ctx.get(), dgm_save_image_grid(ctx.get(), png.c_str(), small.data(), 1, 3, 2, 2,
                                                 1, 0, 0.0f));
    const auto npy0 = read_bytes(npy), csv0 = read_bytes(csv), png0 = read_bytes(png);

    struct Case {
        const char *what;
        std::string path;
        std::function<dgm_status()> write;
    } cases[] = {
        {"npy", npy, [&] { return dgm_save_npy(ctx.get(), npy.c_str(), big.data(), 1, big_shape); }},
        {"csv", csv,
         [&] { return dgm_save_csv(ctx.get(), csv.c_str(), big.data(), (int64_t)big.size() / 3, 3); }},
        {"png", png,
         [&] {
             return dgm_save_image_grid(ctx.get(), png.c_str(), big.data(), 3, 3, 128, 128, 3, 2,
                                        0.0f);
         }},
    };
    for (const auto &c : cases) {
        dgm_status s = DGM_STATUS_COUNT;
        const std::string msg = write_under_file_limit(c.write, ctx.get(), &s);
        EXPECT_EQ(s, DGM_STATUS_IO_ERROR) << c.what << ": " << msg;
        EXPECT_NE(msg.find(c.path), std::string::npos) << c.what << ": " << msg;
    }
    EXPECT_EQ(read_bytes(npy), npy0);
    EXPECT_EQ(read_bytes(csv), csv0);
    EXPECT_EQ(read_bytes(png), png0);
    EXPECT_EQ(dir.entries(), (std::vector<std::string>{"x.csv", "x.npy", "x.png"}));

    // A missing directory: IO_ERROR naming the path, nothing created.
    const std::string missing = dir.file("missing/x.npy");
    EXPECT_EQ(dgm_save_npy(ctx.get(), missing.c_str(), small.data(), 1, small_shape),
              DGM_STATUS_IO_ERROR);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find(missing), std::string::npos);
    EXPECT_EQ(dgm_save_csv(ctx.get(), dir.file("missing/x.csv").c_str(), small.data(), 4, 3),
              DGM_STATUS_IO_ERROR);
    EXPECT_EQ(dgm_save_scatter_png(ctx.get(), dir.file("missing/x.png").c_str(), small.data(), 6,
                                   nullptr, nullptr, 32),
              DGM_STATUS_IO_ERROR);
    EXPECT_EQ(dir.entries(), (std::vector<std::string>{"x.csv", "x.npy", "x.png"}));
}

} // namespace
