// `dgm eval --metric fid,is` and `dgm compare --metric fid,is`: the classifier is found,
// the numbers are the library's, and a missing classifier is a clear error.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>

#include "cli_test.h"

namespace {

using namespace dgmtest;

struct ImageMetricsCli : CliTest {
    void SetUp() override
    {
        CliTest::SetUp();
        CliResult probe = dgm("compare fashion-mnist fashion-mnist --metric sliced-w2");
        if (probe.code != 0) GTEST_SKIP() << "Fashion-MNIST not found (apt-get install dataset-fashion-mnist): " << probe.err;
    }
};

double member(const std::string &json, const std::string &name)
{
    const size_t at = json.find("\"" + name + "\":");
    return at == std::string::npos ? NAN : std::strtod(json.c_str() + at + name.size() + 3, nullptr);
}

// The test split against itself: FID 0 (rounding), and its score, 8.40 by the library test.
TEST_F(ImageMetricsCli, CompareTheTestSetWithItself)
{
    CliResult r = dgm("compare fashion-mnist fashion-mnist --metric fid,is");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NEAR(member(r.out, "fid"), 0.0, 1e-3) << r.out;
    EXPECT_NEAR(member(r.out, "is"), 8.40, 0.05) << r.out;
    CliResult missing = dgm("compare fashion-mnist fashion-mnist --metric fid --classifier " + dir + "/none.safetensors");
    EXPECT_EQ(missing.code, 1);
    EXPECT_NE(missing.err.find("none.safetensors"), std::string::npos) << missing.err;
    CliResult toy = dgm("compare moons moons --metric fid");
    EXPECT_EQ(toy.code, 1);
    EXPECT_NE(toy.err.find("784"), std::string::npos) << toy.err;
}

// A barely trained VAE's samples are far from the data, with the model's own metric beside.
TEST_F(ImageMetricsCli, EvalAddsFidAndIsToTheModelsMetrics)
{
    CliResult t = dgm("train vae --data fashion-mnist --device cpu --steps 20 --out " + dir + "/v");
    ASSERT_EQ(t.code, 0) << t.err;
    CliResult r = dgm("eval " + dir + "/v/checkpoint.safetensors --metric elbo,fid,is -n 500");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_GT(member(r.out, "elbo"), 0.0) << r.out;
    EXPECT_GT(member(r.out, "fid"), 20.0) << r.out;
    EXPECT_GE(member(r.out, "is"), 1.0) << r.out;
    EXPECT_LE(member(r.out, "is"), 10.0) << r.out;
    CliResult only = dgm("eval " + dir + "/v/checkpoint.safetensors --metric is -n 100");
    ASSERT_EQ(only.code, 0) << only.err;
    EXPECT_EQ(only.out.find("elbo"), std::string::npos) << only.out;
    CliResult bad = dgm("eval " + dir + "/v/checkpoint.safetensors --metric fid,nonsense -n 100");
    EXPECT_EQ(bad.code, 2) << bad.err;
}

}  // namespace
