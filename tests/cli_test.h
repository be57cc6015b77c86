// A fixture for tests that run the dgm command: a scratch folder per test, and `dgm ARGS`
// with stdout and stderr captured (stdout is not a terminal).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "test_files.h"
#include "test_util.h"

namespace dgmtest {

struct CliResult {
    int code = -1;
    std::string out, err;
};

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
        return r;
    }
    bool exists(const std::string &p) { return access(p.c_str(), F_OK) == 0; }
    std::string dir;
};

}  // namespace dgmtest
