// `dgm plot` and dgm_save_line_plot_png: the picture's size, one colour per run, a falling
// loss drawn falling, the last line of a repeated step, gaps and missing keys, --log-y's
// refusal of values <= 0, and the error lines and exit codes of bad files and options.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "cli_test.h"
#include "dgm/io.h"
#include "test_png.h"

using namespace dgmtest;

namespace {

class Plot : public CliTest {
protected:
    // DIR/NAME/metrics.jsonl holding `text`; returns the file's path.
    std::string metrics(const std::string &name, const std::string &text)
    {
        const std::string folder = dir + "/" + name;
        std::system(("mkdir -p " + folder).c_str());
        std::ofstream(folder + "/metrics.jsonl") << text;
        return folder + "/metrics.jsonl";
    }
    // `n` lines of steps 10, 20, ... with loss = f(i).
    template <class F>
    static std::string lines(int n, F f)
    {
        std::string t;
        for (int i = 0; i < n; i++)
            t += "{\"step\": " + std::to_string(10 * (i + 1)) + ", \"epoch\": 0.5, \"loss\": " +
                 std::to_string(f(i)) + ", \"lr\": 0.001, \"elapsed_s\": 1.0}\n";
        return t;
    }
    static std::string falling() { return lines(50, [](int i) { return 10.0 - 0.18 * i; }); }
};

// tab10's first two colours: run 1 and run 2.
const uint8_t BLUE[3] = {0x1f, 0x77, 0xb4}, ORANGE[3] = {0xff, 0x7f, 0x0e};

bool is(const Png &p, int x, int y, const uint8_t c[3]) { return p.is(x, y, c[0], c[1], c[2]); }

TEST_F(Plot, WritesThePictureAtTheRequestedSize)
{
    const std::string m = metrics("a", falling());
    CliResult r = dgm("plot " + m + " -o " + dir + "/a.png --width 640 --height 360");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("1 run, 50 points"), std::string::npos) << r.out;
    Png png;
    ASSERT_TRUE(read_png(dir + "/a.png", &png));
    EXPECT_EQ(png.width, 640);
    EXPECT_EQ(png.height, 360);
    EXPECT_TRUE(png.color);

    r = dgm("plot " + m + " -o " + dir + "/b.png"); // the default size
    ASSERT_EQ(r.code, 0) << r.err;
    ASSERT_TRUE(read_png(dir + "/b.png", &png));
    EXPECT_EQ(png.width, 800);
    EXPECT_EQ(png.height, 500);
}

TEST_F(Plot, TwoRunsGetTwoColoursAndAFolderStandsForItsFile)
{
    metrics("a", falling());
    metrics("b", lines(50, [](int i) { return 8.0 - 0.1 * i; }));
    CliResult r = dgm("plot " + dir + "/a/metrics.jsonl " + dir + "/b/ -o " + dir + "/cmp.png");
    ASSERT_EQ(r.code, 0) << r.err;
    Png png;
    ASSERT_TRUE(read_png(dir + "/cmp.png", &png));
    EXPECT_GT(png.count(BLUE[0], BLUE[1], BLUE[2]), 100u);
    EXPECT_GT(png.count(ORANGE[0], ORANGE[1], ORANGE[2]), 100u);

    r = dgm("plot " + dir + "/a -o " + dir + "/one.png");
    ASSERT_EQ(r.code, 0) << r.err;
    ASSERT_TRUE(read_png(dir + "/one.png", &png));
    EXPECT_GT(png.count(BLUE[0], BLUE[1], BLUE[2]), 100u);
    EXPECT_EQ(png.count(ORANGE[0], ORANGE[1], ORANGE[2]), 0u) << "one run, one colour";
}

// The top-most curve pixel of each column, -1 where the column has none.
std::vector<int> curve_top(const Png &png)
{
    std::vector<int> top(png.width, -1);
    for (int x = 0; x < png.width; x++)
        for (int y = 0; y < png.height && top[x] < 0; y++)
            if (is(png, x, y, BLUE)) top[x] = y;
    return top;
}

TEST_F(Plot, AFallingLossIsDrawnFallingAndRisingOnesRising)
{
    for (int rising = 0; rising < 2; rising++) {
        const std::string m = metrics(rising ? "up" : "down",
                                      rising ? lines(50, [](int i) { return 1.0 + 0.18 * i; }) : falling());
        const std::string out = dir + (rising ? "/up.png" : "/down.png");
        CliResult r = dgm("plot " + m + " -o " + out);
        ASSERT_EQ(r.code, 0) << r.err;
        Png png;
        ASSERT_TRUE(read_png(out, &png));
        std::vector<int> top = curve_top(png);
        int first = 0, last = png.width - 1;
        while (first < png.width && top[first] < 0) first++;
        while (last >= 0 && top[last] < 0) last--;
        ASSERT_LT(first + png.width / 2, last) << "the curve spans most of the width";
        if (rising) EXPECT_GT(top[first], top[last] + png.height / 2) << "rising: the right end is higher";
        else EXPECT_LT(top[first] + png.height / 2, top[last]) << "falling: the left end is higher";
    }
}

TEST_F(Plot, LogYRefusesValuesNotAboveZero)
{
    const std::string m = metrics("z", "{\"step\": 1, \"loss\": 2}\n{\"step\": 2, \"loss\": 1}\n\n"
                                       "{\"step\": 3, \"loss\": 0}\n");
    CliResult r = dgm("plot " + m + " --log-y -o " + dir + "/z.png");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("metrics.jsonl:4:"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("--log-y"), std::string::npos) << r.err;
    EXPECT_FALSE(exists(dir + "/z.png"));
    r = dgm("plot " + m + " -o " + dir + "/z.png"); // a linear axis shows 0
    EXPECT_EQ(r.code, 0) << r.err;

    const std::string pos = metrics("p", lines(30, [](int i) { return std::pow(10.0, 3.0 - 0.2 * i); }));
    r = dgm("plot " + pos + " --log-y -o " + dir + "/p.png");
    ASSERT_EQ(r.code, 0) << r.err;
    Png png;
    ASSERT_TRUE(read_png(dir + "/p.png", &png));
    std::vector<int> top = curve_top(png);
    // An exponential decay is a straight line on a log axis: the middle column's curve lies
    // half-way between the ends'.
    int first = 0, last = png.width - 1;
    while (top[first] < 0) first++;
    while (top[last] < 0) last--;
    const int mid = (first + last) / 2;
    ASSERT_GE(top[mid], 0);
    EXPECT_NEAR(top[mid], (top[first] + top[last]) / 2.0, 6.0);
}

TEST_F(Plot, ARepeatedStepKeepsItsLastLine)
{
    // A run to step 50, resumed from step 30: steps 40 and 50 are logged again.
    std::string t = lines(5, [](int i) { return 5.0 - i; });
    t += "{\"step\": 40, \"loss\": 100}\n{\"step\": 50, \"loss\": 100}\n{\"step\": 60, \"loss\": 100}\n";
    const std::string m = metrics("r", t);
    CliResult r = dgm("plot " + m + " -o " + dir + "/r.png");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("6 points"), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("2 repeated steps"), std::string::npos) << r.err;
    // Steps 40..60 hold 100: the right end of the curve is at the top.
    Png png;
    ASSERT_TRUE(read_png(dir + "/r.png", &png));
    std::vector<int> top = curve_top(png);
    int last = png.width - 1;
    while (top[last] < 0) last--;
    EXPECT_LT(top[last], png.height / 4);
}

TEST_F(Plot, MalformedLinesAreErrorsNamingTheLine)
{
    struct Case {
        const char *text, *want;
    } cases[] = {
        {"{\"step\": 1, \"loss\": 2}\n{\"step\": 2, \"loss\": 1}\n{\"step\": 3, \"loss\": }\n", "metrics.jsonl:3: not valid JSON"},
        {"{\"step\": 1, \"loss\": 2}\n[1, 2]\n", "metrics.jsonl:2: not a JSON object"},
        {"{\"loss\": 2}\n", "metrics.jsonl:1: no numeric \"step\""},
        {"{\"step\": 1, \"loss\": \"nan\"}\n", "metrics.jsonl:1: \"loss\" is a string, not a number"},
        {"{\"step\": 1, \"loss\": 1e999}\n", "metrics.jsonl:1: not valid JSON"},
        {"", "empty"},
        {"\n  \n", "empty"},
        {"{\"step\": 1, \"lr\": 0.1}\n", "no line has a numeric \"loss\" (line 1 has: step, lr)"},
        {"{\"step\": 1, \"loss\": null}\n", "every \"loss\" is null"},
    };
    int k = 0;
    for (const Case &c : cases) {
        const std::string m = metrics("bad" + std::to_string(k++), c.text);
        CliResult r = dgm("plot " + m + " -o " + dir + "/bad.png");
        EXPECT_EQ(r.code, 1) << c.text;
        EXPECT_NE(r.err.find(c.want), std::string::npos) << c.text << " gave: " << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
        EXPECT_FALSE(exists(dir + "/bad.png"));
    }
}

TEST_F(Plot, SkippedLinesAndGapsAreWarnedNotFatal)
{
    const std::string m = metrics("g", "{\"step\": 1, \"loss\": 3}\n{\"step\": 2, \"eval_nll\": 9}\n"
                                       "{\"step\": 3, \"loss\": null}\n{\"step\": 4, \"loss\": 2}\n"
                                       "{\"step\": 5, \"loss\": 1}\n");
    CliResult r = dgm("plot " + m + " -o " + dir + "/g.png");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.err.find("skipped 1 of 5 lines without \"loss\" (the first: line 2)"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("1 null value left as gaps in the curve (the first: line 3)"), std::string::npos) << r.err;
    r = dgm("plot " + m + " --y eval_nll -o " + dir + "/e.png");
    EXPECT_EQ(r.code, 0) << r.err;
    r = dgm("plot " + m + " --y lr -o " + dir + "/lr.png");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("no line has a numeric \"lr\""), std::string::npos) << r.err;
}

TEST_F(Plot, MissingFilesAndBadOptions)
{
    const std::string m = metrics("a", falling());
    CliResult r = dgm("plot " + dir + "/nope/metrics.jsonl -o " + dir + "/x.png");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("nope/metrics.jsonl: cannot read"), std::string::npos) << r.err;
    r = dgm("plot " + dir + "/nope -o " + dir + "/x.png");
    EXPECT_EQ(r.code, 1);
    r = dgm("plot " + m + " " + dir + "/nope -o " + dir + "/x.png"); // one bad run of two
    EXPECT_EQ(r.code, 1);
    EXPECT_FALSE(exists(dir + "/x.png"));

    const char *usage[] = {"--colour red", "--width 100", "--height 9000", "--width abc", "--smooth 1",
                           "--log-y=1", "--y", "-o " /* needs -o FILE.png */};
    for (const char *u : usage) {
        r = dgm("plot " + m + " -o " + dir + "/x.png " + u);
        EXPECT_EQ(r.code, 2) << u << ": " << r.err;
        EXPECT_NE(r.err.find("usage error"), std::string::npos) << u;
    }
    EXPECT_EQ(dgm("plot -o " + dir + "/x.png").code, 2);    // no run
    EXPECT_EQ(dgm("plot " + m).code, 2);                    // no -o
    EXPECT_EQ(dgm("plot " + m + " -o " + dir + "/x.jpg").code, 2);
    EXPECT_FALSE(exists(dir + "/x.png"));
    r = dgm("plot --help");
    EXPECT_EQ(r.code, 0);
    EXPECT_NE(r.out.find("--log-y"), std::string::npos);
}

TEST_F(Plot, SmoothingFollowsTensorBoard)
{
    // Alternating 1, 3, 1, 3, ...: the smoothed curve (weight 0.9) ends near 2, far from
    // both; the raw curve reaches both rows. Measured by the height the curve covers on
    // the right half.
    const std::string m = metrics("s", lines(200, [](int i) { return i % 2 ? 3.0 : 1.0; }));
    ASSERT_EQ(dgm("plot " + m + " -o " + dir + "/raw.png").code, 0);
    CliResult r = dgm("plot " + m + " --smooth 0.9 -o " + dir + "/smooth.png");
    ASSERT_EQ(r.code, 0) << r.err;
    auto spread = [&](const std::string &path) {
        Png png;
        EXPECT_TRUE(read_png(path, &png));
        int lo = png.height, hi = -1;
        for (int y = 0; y < png.height; y++)
            for (int x = png.width / 2; x < png.width * 3 / 4; x++)
                if (is(png, x, y, BLUE)) lo = std::min(lo, y), hi = std::max(hi, y);
        return hi - lo;
    };
    const int raw = spread(dir + "/raw.png"), smooth = spread(dir + "/smooth.png");
    EXPECT_GT(raw, 0);
    EXPECT_LT(smooth * 3, raw) << raw << " " << smooth;
}

// ---- the library call ----

TEST(PlotLibrary, ValidatesItsArguments)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    TempDir tmp;
    const std::string path = tmp.file("l.png");
    const double x[3] = {1, 2, 3}, y[3] = {1, -1, 2};
    dgm_line_series s = {x, y, 3, "run"};
    dgm_line_plot_config cfg = dgm_line_plot_config_default();
    EXPECT_EQ(cfg.width, 800);
    EXPECT_EQ(cfg.height, 500);
    EXPECT_FALSE(cfg.log_y);
    EXPECT_EQ(dgm_save_line_plot_png(ctx.get(), path.c_str(), &s, 1, nullptr), DGM_STATUS_OK);
    EXPECT_EQ(dgm_save_line_plot_png(ctx.get(), path.c_str(), &s, 0, nullptr), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_save_line_plot_png(ctx.get(), path.c_str(), nullptr, 1, nullptr), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_save_line_plot_png(ctx.get(), "", &s, 1, nullptr), DGM_STATUS_INVALID_ARGUMENT);
    cfg.width = 159;
    EXPECT_EQ(dgm_save_line_plot_png(ctx.get(), path.c_str(), &s, 1, &cfg), DGM_STATUS_INVALID_ARGUMENT);
    cfg = dgm_line_plot_config_default();
    cfg.log_y = true;
    EXPECT_EQ(dgm_save_line_plot_png(ctx.get(), path.c_str(), &s, 1, &cfg), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find("point 1: y = -1 is not positive"), std::string::npos)
        << dgm_last_error(ctx.get());
    dgm_line_series nul = {nullptr, nullptr, 2, nullptr};
    EXPECT_EQ(dgm_save_line_plot_png(ctx.get(), path.c_str(), &nul, 1, nullptr), DGM_STATUS_INVALID_ARGUMENT);
}

TEST(PlotLibrary, OddDataDrawsWithoutFailing)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    TempDir tmp;
    const std::string path = tmp.file("o.png");
    const double nan = NAN, inf = INFINITY;
    const double x[6] = {0, 1, 2, nan, 4, 5}, y[6] = {1, nan, 3, 4, inf, 1e300};
    const double one_x[1] = {7}, one_y[1] = {7};
    const double big_x[2] = {-1e300, 1e300}, big_y[2] = {-1e300, 1e300};
    std::vector<dgm_line_series> cases = {
        {x, y, 6, "gaps"}, {one_x, one_y, 1, "one point"}, {nullptr, nullptr, 0, "empty"},
        {big_x, big_y, 2, "wide"}, {x, y, 0, nullptr},
    };
    for (const dgm_line_series &s : cases) {
        for (int log_y = 0; log_y < 2; log_y++) {
            dgm_line_plot_config cfg = dgm_line_plot_config_default();
            cfg.width = 160;
            cfg.height = 120;
            cfg.log_y = log_y;
            const dgm_status st = dgm_save_line_plot_png(ctx.get(), path.c_str(), &s, 1, &cfg);
            const bool refused = log_y && s.n == 2; // -1e300 on a log axis
            EXPECT_EQ(st, refused ? DGM_STATUS_INVALID_ARGUMENT : DGM_STATUS_OK)
                << (s.label ? s.label : "unlabelled") << " log " << log_y << ": " << dgm_last_error(ctx.get());
        }
    }
    // Many series, long labels: the legend keeps to the rows that fit.
    std::vector<dgm_line_series> many(64, dgm_line_series{x, y, 6, "a label far longer than the legend allows it to be"});
    EXPECT_EQ(dgm_save_line_plot_png(ctx.get(), path.c_str(), many.data(), 64, nullptr), DGM_STATUS_OK)
        << dgm_last_error(ctx.get());
    EXPECT_EQ(dgm_save_line_plot_png(ctx.get(), path.c_str(), many.data(), 65, nullptr), DGM_STATUS_INVALID_ARGUMENT);
}

}  // namespace
