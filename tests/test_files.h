// File helpers shared by the test files that write and read files: a temporary folder,
// raw bytes, float bit patterns, and running Python (the interpreter in $DGM_PYTHON, else
// python3) for cross-checks against numpy and safetensors.
#pragma once

#include <sys/wait.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace dgmtest {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it.
struct TempDir {
    std::string path;
    TempDir()
    {
        const char *base = std::getenv("TMPDIR");
        std::string tmpl = std::string(base && *base ? base : "/tmp") + "/dgm_test_XXXXXX";
        std::vector<char> buf(tmpl.begin(), tmpl.end());
        buf.push_back('\0');
        if (mkdtemp(buf.data())) path = buf.data();
    }
    ~TempDir()
    {
        if (path.empty()) return;
        std::error_code ec;
        std::filesystem::permissions(path, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
        std::filesystem::remove_all(path, ec);
    }
    std::string file(const std::string &name) const { return path + "/" + name; }
    std::vector<std::string> entries() const
    {
        std::vector<std::string> names;
        for (const auto &e : std::filesystem::directory_iterator(path)) names.push_back(e.path().filename());
        std::sort(names.begin(), names.end());
        return names;
    }
};

inline std::vector<unsigned char> read_bytes(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    return std::vector<unsigned char>((std::istreambuf_iterator<char>(f)),
                                      std::istreambuf_iterator<char>());
}

inline std::string read_text(const std::string &path)
{
    auto b = read_bytes(path);
    return std::string(b.begin(), b.end());
}

inline void write_bytes(const std::string &path, const std::vector<unsigned char> &bytes)
{
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char *>(bytes.data()), (std::streamsize)bytes.size());
}

inline uint32_t bits(float f)
{
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}

inline float from_bits(uint32_t u)
{
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

inline std::string python()
{
    const char *p = std::getenv("DGM_PYTHON");
    return p && *p ? p : "python3";
}

// "" when python() imports the modules, else why the test skips.
inline std::string python_skip_reason(const std::string &modules)
{
    std::string cmd = python() + " -c 'import " + modules + "' >/dev/null 2>&1";
    if (std::system(cmd.c_str()) == 0) return "";
    return python() + " cannot import " + modules +
           " (pip install " + modules + ", or set DGM_PYTHON)";
}

// Runs a Python script with arguments; returns the exit status, output in *out.
inline int run_python(const TempDir &dir, const std::string &script,
                      const std::vector<std::string> &args, std::string *out)
{
    const std::string file = dir.file("script.py");
    {
        std::ofstream f(file);
        f << script;
    }
    std::string cmd = python() + " '" + file + "'";
    for (const auto &a : args) cmd += " '" + a + "'";
    cmd += " 2>&1";
    FILE *p = popen(cmd.c_str(), "r");
    if (!p) return -1;
    char buf[512];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
    int rc = pclose(p);
    std::remove(file.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

}  // namespace dgmtest
