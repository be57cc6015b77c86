// The dgm command end to end: the Gaussian model against its closed-form MLE, --resume
// equal to an uninterrupted run, the outputs of train/sample/eval/info, and usage errors.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "cli_test.h"

using namespace dgmtest;

namespace {

using Result = CliResult;
class Cli : public CliTest {};

// Closed-form MLE of a full-covariance Gaussian on the train split, its mean NLL on the
// test split (nats per sample), computed here independently in double.
double closed_form_nll(const char *data)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    dgm_dataset *tr = nullptr, *te = nullptr;
    EXPECT_EQ(dgm_dataset_load(ctx.get(), data, DGM_SPLIT_TRAIN, 0, &tr), DGM_STATUS_OK);
    EXPECT_EQ(dgm_dataset_load(ctx.get(), data, DGM_SPLIT_TEST, 0, &te), DGM_STATUS_OK);
    if (!tr || !te) return NAN;
    const float *x = dgm_dataset_data(tr);
    const int64_t n = dgm_dataset_count(tr);
    double mx = 0, my = 0, sxx = 0, syy = 0, sxy = 0;
    for (int64_t i = 0; i < n; i++) mx += x[2 * i], my += x[2 * i + 1];
    mx /= n, my /= n;
    for (int64_t i = 0; i < n; i++) {
        double dx = x[2 * i] - mx, dy = x[2 * i + 1] - my;
        sxx += dx * dx, syy += dy * dy, sxy += dx * dy;
    }
    sxx /= n, syy /= n, sxy /= n;
    const double det = sxx * syy - sxy * sxy;
    const float *t = dgm_dataset_data(te);
    const int64_t m = dgm_dataset_count(te);
    double nll = 0;
    for (int64_t i = 0; i < m; i++) {
        double dx = t[2 * i] - mx, dy = t[2 * i + 1] - my;
        double q = (syy * dx * dx - 2 * sxy * dx * dy + sxx * dy * dy) / det;
        nll += 0.5 * q + 0.5 * std::log(det) + std::log(2 * M_PI);
    }
    dgm_dataset_free(tr);
    dgm_dataset_free(te);
    return nll / m;
}

double json_number(const std::string &json, const std::string &key)
{
    size_t p = json.find("\"" + key + "\"");
    if (p == std::string::npos) return NAN;
    p = json.find(':', p);
    return std::strtod(json.c_str() + p + 1, nullptr);
}

TEST_F(Cli, GaussianMatchesClosedFormMleOnMoons)
{
    Result t = dgm("train gaussian --data moons --device cpu --steps 1500 --batch 1000 --lr 0.02 --out " + dir + "/g");
    ASSERT_EQ(t.code, 0) << t.err;
    EXPECT_TRUE(exists(dir + "/g/checkpoint.safetensors"));
    EXPECT_TRUE(exists(dir + "/g/metrics.jsonl"));
    EXPECT_TRUE(exists(dir + "/g/samples.png"));
    Result e = dgm("eval " + dir + "/g/checkpoint.safetensors --device cpu");
    ASSERT_EQ(e.code, 0) << e.err;
    const double got = json_number(e.out, "nll"), want = closed_form_nll("moons");
    EXPECT_NEAR(got, want, 0.01) << e.out;
}


TEST_F(Cli, ResumeEqualsAnUninterruptedRun)
{
    const std::string common = "train gaussian --data moons --device cpu --batch 256 --lr 0.01 --seed 3 ";
    Result a = dgm(common + "--steps 40 --out " + dir + "/a");
    ASSERT_EQ(a.code, 0) << a.err;
    Result b1 = dgm(common + "--steps 17 --out " + dir + "/b");
    ASSERT_EQ(b1.code, 0) << b1.err;
    Result b2 = dgm(common + "--steps 40 --resume --out " + dir + "/b");
    ASSERT_EQ(b2.code, 0) << b2.err;
    std::string ta = tensors_of(dir + "/a/checkpoint.safetensors");
    ASSERT_FALSE(ta.empty());
    EXPECT_EQ(ta, tensors_of(dir + "/b/checkpoint.safetensors"));
    // The resumed run left one optimizer file, the one its checkpoint names.
    Result ls = dgm("info " + dir + "/b/checkpoint.safetensors");
    EXPECT_NE(ls.out.find("step: 40"), std::string::npos) << ls.out;
}

TEST_F(Cli, SampleWritesEachFormatAndInfoListsParameters)
{
    ASSERT_EQ(dgm("train gaussian --data ring8 --device cpu --steps 20 --out " + dir + "/r").code, 0);
    const std::string ck = dir + "/r/checkpoint.safetensors";
    for (const char *ext : {".npy", ".csv", ".png"}) {
        Result s = dgm("sample " + ck + " -n 100 -o " + dir + "/s" + ext + " --seed 1");
        EXPECT_EQ(s.code, 0) << s.err;
        EXPECT_TRUE(exists(dir + "/s" + ext)) << ext;
    }
    std::string csv = read_text(dir + "/s.csv");
    EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 100);
    // -n times the dimension past size_t: an error, not a buffer whose size wrapped round
    // (2^62 + 1 rows of 2 floats made 8 bytes)
    Result big = dgm("sample " + ck + " -n 4611686018427387905 -o " + dir + "/big.npy");
    EXPECT_EQ(big.code, 1) << big.err;
    EXPECT_NE(big.err.find("out of memory"), std::string::npos) << big.err;
    Result i = dgm("info " + ck);
    ASSERT_EQ(i.code, 0) << i.err;
    EXPECT_NE(i.out.find("model: gaussian"), std::string::npos);
    EXPECT_NE(i.out.find("whiten_offdiag"), std::string::npos);
    EXPECT_NE(i.out.find("trainable parameters: 8"), std::string::npos) << i.out;  // 2 + 4 + 2
}

TEST_F(Cli, UsageErrorsExitTwoWithOneLineNamingTheFault)
{
    struct Case {
        std::string args, mention;
    } cases[] = {
        {"", "usage"},
        {"frobnicate", "frobnicate"},
        {"train", "MODEL"},
        {"train nosuchmodel --data moons", "nosuchmodel"},
        {"train gaussian", "--data"},
        {"train gaussian --data moons --steps x", "--steps"},
        {"train gaussian --data moons --steps 0", "--steps"},
        {"train gaussian --data moons --bogus 3", "--bogus"},
        {"train gaussian --data moons --steps 5 --epochs 1", "--epochs"},
        {"train gaussian --data moons --device tpu", "tpu"},
        {"train vae --data moons --steps 1 --device cpu", "--decoder gaussian"},
        {"sample x.safetensors -o out.png", "-n"},
        {"sample x.safetensors -n 5 -o out.txt", "out.txt"},
        {"eval", "CHECKPOINT"},
    };
    for (const auto &c : cases) {
        Result r = dgm(c.args);
        EXPECT_EQ(r.code, 2) << c.args << ": " << r.err;
        EXPECT_NE(r.err.find(c.mention), std::string::npos) << c.args << ": " << r.err;
        if (!c.args.empty()) {
            EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << c.args << ": " << r.err;
        }
    }
}

TEST_F(Cli, OtherErrorsExitOneNamingTheFile)
{
    Result r = dgm("info " + dir + "/missing.safetensors");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("missing.safetensors"), std::string::npos) << r.err;
    std::ofstream(dir + "/junk.safetensors") << "not a checkpoint at all";
    r = dgm("sample " + dir + "/junk.safetensors -n 3 -o " + dir + "/x.npy");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("junk.safetensors"), std::string::npos) << r.err;
    r = dgm("train gaussian --data " + dir + "/nothere.csv --steps 1 --out " + dir + "/o");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("nothere.csv"), std::string::npos) << r.err;
    r = dgm("train gaussian --data moons --steps 5 --resume --out " + dir + "/fresh");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("checkpoint.safetensors"), std::string::npos) << r.err;
}

TEST_F(Cli, HelpAndVersion)
{
    Result v = dgm("--version");
    EXPECT_EQ(v.code, 0);
    EXPECT_NE(v.out.find(dgm_version()), std::string::npos);
    Result h = dgm("--help");
    EXPECT_EQ(h.code, 0);
    EXPECT_NE(h.out.find("dgm train MODEL"), std::string::npos);
    Result th = dgm("train gaussian --help");
    EXPECT_EQ(th.code, 0);
    EXPECT_NE(th.out.find("--save-every"), std::string::npos);
}

}  // namespace
