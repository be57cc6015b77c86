// A fixture for tests that run the dgm command: a scratch folder per test, and `dgm ARGS`
// with stdout and stderr captured (stdout is not a terminal).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <string>

#include "test_files.h"
#include "test_util.h"

namespace dgmtest {

struct CliResult {
    int code = -1;
    std::string out, err;
};

/* The number after "key": in one line of JSON (NaN when absent). */
inline double json_value(const std::string &out, const std::string &key)
{
    const size_t at = out.find("\"" + key + "\":");
    return at == std::string::npos ? NAN : std::strtod(out.c_str() + at + key.size() + 3, nullptr);
}

class CliTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        char tmpl[] = "/tmp/dgm-cli-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir = tmpl;
    }
    void TearDown() override { std::system(("rm -rf " + dir).c_str()); }

    CliResult dgm(const std::string &args)
    {
        CliResult r;
        const std::string o = dir + "/stdout", e = dir + "/stderr";
        int status = std::system((std::string(DGM_CLI_PATH) + " " + args + " >" + o + " 2>" + e).c_str());
        r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        r.out = read_text(o);
        r.err = read_text(e);
        // Whatever the run, no library function's name reaches the user (issue 23).
        static const std::regex internal_name("(^|[^A-Za-z0-9_/.-])dgm_[a-z0-9_]+:");
        EXPECT_FALSE(std::regex_search(r.err, internal_name)) << "dgm " << args << ":\n" << r.err;
        return r;
    }
    bool exists(const std::string &p) { return access(p.c_str(), F_OK) == 0; }
    // n rows of N((m0, m1), diag(s0², s1²)) as a CSV, DIR/data.csv.
    std::string gaussian_csv(int64_t n, double m0 = 2.0, double s0 = 0.5, double m1 = -1.0, double s1 = 0.25)
    {
        std::mt19937 rng(5);
        std::normal_distribution<double> z;
        const std::string path = dir + "/data.csv";
        std::ofstream f(path);
        for (int64_t i = 0; i < n; i++) f << m0 + s0 * z(rng) << "," << m1 + s1 * z(rng) << "\n";
        return path;
    }
    // `dgm sample CKPT -n N --seed 3`'s values, row after row.
    std::vector<double> sample_values(const std::string &ckpt, int n)
    {
        const std::string out = dir + "/s.csv";
        CliResult s = dgm("sample " + ckpt + " -n " + std::to_string(n) + " -o " + out + " --seed 3");
        EXPECT_EQ(s.code, 0) << s.err;
        std::vector<double> v;
        std::ifstream f(out);
        std::string line;
        while (std::getline(f, line)) {
            std::stringstream ls(line);
            std::string cell;
            while (std::getline(ls, cell, ',')) v.push_back(std::strtod(cell.c_str(), nullptr));
        }
        return v;
    }
    // Trains on 4,000 rows of N((m0, m1), diag(s0², s1²)) (DIR/data.csv) into DIR/m; 2,000
    // samples' moments match.
    void learns_gaussian(const std::string &model_and_options, double mean_tol, double sd_tol, double m0 = 2.0,
                         double s0 = 0.5, double m1 = -1.0, double s1 = 0.25)
    {
        const std::string data = gaussian_csv(4000, m0, s0, m1, s1);
        CliResult r = dgm("train " + model_and_options + " --data " + data + " --device cpu --out " + dir + "/m");
        ASSERT_EQ(r.code, 0) << r.err;
        const std::vector<double> v = sample_values(dir + "/m/checkpoint.safetensors", 2000);
        ASSERT_EQ(v.size(), 4000u);
        double m[2], sd[2];
        moments2(v, m, sd);
        EXPECT_NEAR(m[0], m0, mean_tol) << model_and_options;
        EXPECT_NEAR(m[1], m1, mean_tol) << model_and_options;
        EXPECT_NEAR(sd[0], s0, sd_tol) << model_and_options;
        EXPECT_NEAR(sd[1], s1, sd_tol) << model_and_options;
    }
    // Every tensor of a checkpoint (names and bytes).
    static std::string tensors_of(const std::string &path)
    {
        CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
        dgm_safetensors *st = nullptr;
        EXPECT_EQ(dgm_safetensors_load(ctx.get(), path.c_str(), &st), DGM_STATUS_OK) << dgm_last_error(ctx.get());
        std::string bytes;
        for (int i = 0; st && i < dgm_safetensors_count(st); i++) {
            bytes += dgm_safetensors_name(st, i);
            bytes.append((const char *)dgm_safetensors_data(st, i),
                         (size_t)dgm_safetensors_numel(st, i) * sizeof(float));
        }
        dgm_safetensors_free(st);
        return bytes;
    }
    // Means and standard deviations of the columns of 2-column values.
    static void moments2(const std::vector<double> &v, double mean[2], double sd[2])
    {
        const double n = (double)(v.size() / 2);
        mean[0] = mean[1] = sd[0] = sd[1] = 0.0;
        for (size_t i = 0; i < v.size(); i++) mean[i % 2] += v[i] / n;
        for (size_t i = 0; i < v.size(); i++) sd[i % 2] += (v[i] - mean[i % 2]) * (v[i] - mean[i % 2]) / n;
        sd[0] = std::sqrt(sd[0]);
        sd[1] = std::sqrt(sd[1]);
    }
    std::string dir;
};

}  // namespace dgmtest
