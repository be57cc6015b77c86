// safetensors: round trips, the exact header layout, files exchanged with Python's
// safetensors package (skipped when `python3 -c "import safetensors, numpy"` fails; set
// DGM_PYTHON to use another interpreter), every malformed-header class, truncation at
// every length, and atomic writes that leave the previous checkpoint intact when the
// directory is missing, read-only or the disk is full.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cfloat>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <memory>
#include <sstream>

#include "test_files.h"
#include "test_util.h"

using namespace dgmtest;
namespace fs = std::filesystem;

namespace {

struct StDeleter {
    void operator()(dgm_safetensors *s) const { dgm_safetensors_free(s); }
};
using StPtr = std::unique_ptr<dgm_safetensors, StDeleter>;

// A safetensors file: length field (hlen, or the header's length), header, data bytes.
std::vector<unsigned char> st_bytes(const std::string &header, size_t data_len,
                                    uint64_t hlen = UINT64_MAX)
{
    if (hlen == UINT64_MAX) hlen = header.size();
    std::vector<unsigned char> b(8);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(hlen >> (8 * i));
    b.insert(b.end(), header.begin(), header.end());
    b.insert(b.end(), data_len, 0);
    return b;
}

// The test checkpoint: a scalar, a vector, a 4-D tensor, an empty one, special values.
struct Checkpoint {
    std::vector<std::string> names;
    std::vector<std::vector<int64_t>> shapes;
    std::vector<std::vector<float>> values;
    std::vector<std::string> meta_keys, meta_values;

    std::vector<dgm_st_tensor> tensors() const
    {
        std::vector<dgm_st_tensor> t(names.size());
        for (size_t i = 0; i < names.size(); i++) {
            t[i].name = names[i].c_str();
            t[i].ndim = (int)shapes[i].size();
            for (size_t d = 0; d < shapes[i].size(); d++) t[i].shape[d] = shapes[i][d];
            t[i].data = values[i].data();
        }
        return t;
    }
    dgm_status save(dgm_ctx *ctx, const std::string &path) const
    {
        auto t = tensors();
        std::vector<const char *> k, v;
        for (const auto &s : meta_keys) k.push_back(s.c_str());
        for (const auto &s : meta_values) v.push_back(s.c_str());
        return dgm_safetensors_save(ctx, path.c_str(), t.data(), (int)t.size(), k.data(), v.data(),
                                    (int)k.size());
    }
};

Checkpoint make_checkpoint(uint32_t seed, int64_t big = 6)
{
    std::mt19937 rng(seed);
    Checkpoint c;
    c.names = {"encoder.fc1.weight", "scalar", std::string(300, 'n') + ".long",
               "décodeur.β", "empty", "specials"};
    c.shapes = {{3, big}, {}, {2, 1, 3, 2}, {5}, {0, 3}, {8}};
    for (const auto &s : c.shapes) c.values.push_back(random_values(rng, numel(s), -3.0f, 3.0f));
    c.values[5] = {from_bits(0x7fc12345u), INFINITY, -INFINITY, -0.0f, from_bits(1u),
                   from_bits(0x807fffffu), FLT_MAX, -FLT_MIN};
    c.meta_keys = {"format", "step", "note"};
    c.meta_values = {"dgm", "1234", "ünïcode \"quoted\"\n"};
    return c;
}

::testing::AssertionResult matches(const dgm_safetensors *st, const Checkpoint &c)
{
    if (dgm_safetensors_count(st) != (int)c.names.size())
        return ::testing::AssertionFailure() << "count " << dgm_safetensors_count(st);
    for (int i = 0; i < (int)c.names.size(); i++) {
        if (c.names[i] != dgm_safetensors_name(st, i))
            return ::testing::AssertionFailure() << "name " << i << ": " << dgm_safetensors_name(st, i);
        if (dgm_safetensors_find(st, c.names[i].c_str()) != i)
            return ::testing::AssertionFailure() << "find " << c.names[i];
        if (std::string(dgm_safetensors_dtype(st, i)) != "F32")
            return ::testing::AssertionFailure() << "dtype " << dgm_safetensors_dtype(st, i);
        const int nd = dgm_safetensors_ndim(st, i);
        std::vector<int64_t> shape(dgm_safetensors_shape(st, i), dgm_safetensors_shape(st, i) + nd);
        if (shape != c.shapes[i]) return ::testing::AssertionFailure() << "shape of " << c.names[i];
        if (dgm_safetensors_numel(st, i) != (int64_t)c.values[i].size())
            return ::testing::AssertionFailure() << "numel of " << c.names[i];
        const float *d = dgm_safetensors_data(st, i);
        if (!d) return ::testing::AssertionFailure() << "no data for " << c.names[i];
        for (size_t j = 0; j < c.values[i].size(); j++)
            if (bits(d[j]) != bits(c.values[i][j]))
                return ::testing::AssertionFailure()
                       << c.names[i] << "[" << j << "] = " << d[j] << ", wrote " << c.values[i][j];
    }
    if (dgm_safetensors_meta_count(st) != (int)c.meta_keys.size())
        return ::testing::AssertionFailure() << "meta count " << dgm_safetensors_meta_count(st);
    for (size_t i = 0; i < c.meta_keys.size(); i++) {
        const char *v = dgm_safetensors_meta(st, c.meta_keys[i].c_str());
        if (!v || c.meta_values[i] != v)
            return ::testing::AssertionFailure() << "meta " << c.meta_keys[i];
        if (c.meta_keys[i] != dgm_safetensors_meta_key(st, (int)i))
            return ::testing::AssertionFailure() << "meta key order " << i;
    }
    return ::testing::AssertionSuccess();
}

// ---------------------------------------------------------------------------------------

TEST(Safetensors, RoundTripIsBitwiseExact)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir dir;
    ASSERT_FALSE(dir.path.empty());
    const Checkpoint c = make_checkpoint(1);
    const std::string path = dir.file("model.safetensors");
    DGM_ASSERT_OK(ctx.get(), c.save(ctx.get(), path));
    dgm_safetensors *raw = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_safetensors_load(ctx.get(), path.c_str(), &raw));
    StPtr st(raw);
    EXPECT_TRUE(matches(st.get(), c));
    EXPECT_EQ(dgm_safetensors_find(st.get(), "missing"), -1);
    EXPECT_EQ(dgm_safetensors_meta(st.get(), "missing"), nullptr);
    EXPECT_EQ(dgm_safetensors_name(st.get(), -1), nullptr);
    EXPECT_EQ(dgm_safetensors_data(st.get(), (int)c.names.size()), nullptr);
    EXPECT_EQ(dir.entries(), std::vector<std::string>{"model.safetensors"});

    // The same bytes parse from memory too.
    auto bytes = read_bytes(path);
    DGM_ASSERT_OK(ctx.get(), dgm_safetensors_parse(ctx.get(), bytes.data(), bytes.size(), &raw));
    StPtr st2(raw);
    EXPECT_TRUE(matches(st2.get(), c));
}

TEST(Safetensors, HeaderLayout)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir dir;
    const std::string path = dir.file("a.safetensors");
    const float w[6] = {1, 2, 3, 4, 5, 6}, b[1] = {7};
    dgm_st_tensor t[2] = {{"w", 2, {2, 3}, w}, {"b", 0, {}, b}};
    const char *k[1] = {"epoch"}, *v[1] = {"3"};
    DGM_ASSERT_OK(ctx.get(), dgm_safetensors_save(ctx.get(), path.c_str(), t, 2, k, v, 1));
    auto bytes = read_bytes(path);
    ASSERT_GE(bytes.size(), 8u);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | bytes[i];
    EXPECT_EQ(n % 8, 0u) << "the data must start 8-byte aligned";
    ASSERT_EQ(bytes.size(), 8 + n + 7 * 4);
    std::string header(bytes.begin() + 8, bytes.begin() + 8 + (long)n);
    const std::string json = "{\"__metadata__\":{\"epoch\":\"3\"},"
                             "\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                             "\"b\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[24,28]}}";
    EXPECT_EQ(header.substr(0, json.size()), json);
    EXPECT_EQ(header.find_first_not_of(' ', json.size()), std::string::npos)
        << "padding must be spaces";
    EXPECT_LT(header.size() - json.size(), 8u);
    // Data: little-endian float32 in the given order.
    for (int i = 0; i < 7; i++) {
        uint32_t u = 0;
        for (int j = 3; j >= 0; j--) u = (u << 8) | bytes[8 + n + 4 * i + j];
        EXPECT_EQ(from_bits(u), i < 6 ? w[i] : b[0]);
    }

    // No metadata: no "__metadata__" key; no tensors at all: "{}" padded.
    DGM_ASSERT_OK(ctx.get(), dgm_safetensors_save(ctx.get(), path.c_str(), t, 1, nullptr, nullptr, 0));
    bytes = read_bytes(path);
    EXPECT_EQ(std::string(bytes.begin() + 8, bytes.end()).find("__metadata__"), std::string::npos);
    DGM_ASSERT_OK(ctx.get(), dgm_safetensors_save(ctx.get(), path.c_str(), nullptr, 0, nullptr, nullptr, 0));
    bytes = read_bytes(path);
    EXPECT_EQ(bytes, st_bytes("{}      ", 0));
    dgm_safetensors *raw = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_safetensors_load(ctx.get(), path.c_str(), &raw));
    StPtr st(raw);
    EXPECT_EQ(dgm_safetensors_count(st.get()), 0);
    EXPECT_EQ(dgm_safetensors_meta_count(st.get()), 0);
}

TEST(Safetensors, WriterRejectsBadArguments)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir dir;
    const std::string path = dir.file("a.safetensors");
    const float x[4] = {1, 2, 3, 4};
    struct Case {
        const char *what;
        std::vector<dgm_st_tensor> t;
        const char *fragment;
    } cases[] = {
        {"empty name", {{"", 1, {4}, x}}, "no name"},
        {"NULL name", {{nullptr, 1, {4}, x}}, "no name"},
        {"duplicate", {{"a", 1, {4}, x}, {"a", 1, {4}, x}}, "twice"},
        {"reserved", {{"__metadata__", 1, {4}, x}}, "__metadata__"},
        {"ndim 5", {{"a", 5, {1, 1, 1, 1}, x}}, "ndim 5"},
        {"ndim -1", {{"a", -1, {4}, x}}, "ndim -1"},
        {"negative", {{"a", 2, {-1, 4}, x}}, "negative"},
        {"NULL data", {{"a", 1, {4}, nullptr}}, "NULL data"},
        {"bad UTF-8", {{"\xff\xfe", 1, {4}, x}}, "UTF-8"},
    };
    const float old_value = 42.0f;
    dgm_st_tensor old_t = {"old", 0, {}, &old_value};
    DGM_ASSERT_OK(ctx.get(), dgm_safetensors_save(ctx.get(), path.c_str(), &old_t, 1, nullptr, nullptr, 0));
    const auto before = read_bytes(path);
    for (const auto &c : cases) {
        dgm_status s = dgm_safetensors_save(ctx.get(), path.c_str(), c.t.data(), (int)c.t.size(),
                                            nullptr, nullptr, 0);
        EXPECT_EQ(s, DGM_STATUS_INVALID_ARGUMENT) << c.what;
        EXPECT_NE(std::string(dgm_last_error(ctx.get())).find(c.fragment), std::string::npos)
            << c.what << ": " << dgm_last_error(ctx.get());
    }
    const char *keys[2] = {"k", "k"}, *vals[2] = {"1", "2"};
    EXPECT_EQ(dgm_safetensors_save(ctx.get(), path.c_str(), &old_t, 1, keys, vals, 2),
              DGM_STATUS_INVALID_ARGUMENT);
    const char *null_val[1] = {nullptr};
    EXPECT_EQ(dgm_safetensors_save(ctx.get(), path.c_str(), &old_t, 1, keys, null_val, 1),
              DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_safetensors_save(ctx.get(), nullptr, &old_t, 1, nullptr, nullptr, 0),
              DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_safetensors_save(ctx.get(), path.c_str(), nullptr, 1, nullptr, nullptr, 0),
              DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(read_bytes(path), before) << "a rejected save must not touch the file";
    EXPECT_EQ(dir.entries(), std::vector<std::string>{"a.safetensors"});
    EXPECT_EQ(dgm_safetensors_load(ctx.get(), path.c_str(), nullptr), DGM_STATUS_INVALID_ARGUMENT);
}

TEST(Safetensors, ConvertsF16BF16F64)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    const uint16_t f16[] = {0x3c00, 0xc000, 0x0001, 0x03ff, 0x7bff, 0x7c00, 0xfc00, 0x8000, 0x3555};
    const float f16_want[] = {1.0f, -2.0f, 5.9604644775390625e-08f, 6.097555160522461e-05f,
                              65504.0f, INFINITY, -INFINITY, -0.0f, 0.333251953125f};
    const uint16_t bf16[] = {0x3f80, 0xc049, 0x7f80, 0x0001};
    const float bf16_want[] = {1.0f, from_bits(0xc0490000u), INFINITY, from_bits(0x00010000u)};
    const double f64[] = {0.1, -1.5, 1e300, 1e-300};
    const float f64_want[] = {0.1f, -1.5f, INFINITY, 0.0f};
    std::string header = "{\"h\":{\"dtype\":\"F16\",\"shape\":[9],\"data_offsets\":[0,18]},"
                         "\"b\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[18,26]},"
                         "\"d\":{\"dtype\":\"F64\",\"shape\":[4],\"data_offsets\":[26,58]}}";
    auto bytes = st_bytes(header, 0);
    for (uint16_t h : f16) bytes.push_back(h & 0xff), bytes.push_back(h >> 8);
    for (uint16_t h : bf16) bytes.push_back(h & 0xff), bytes.push_back(h >> 8);
    for (double d : f64) {
        uint64_t u;
        std::memcpy(&u, &d, 8);
        for (int i = 0; i < 8; i++) bytes.push_back((unsigned char)(u >> (8 * i)));
    }
    bytes.push_back(0); // one byte too many
    dgm_safetensors *raw = nullptr;
    EXPECT_EQ(dgm_safetensors_parse(ctx.get(), bytes.data(), bytes.size(), &raw),
              DGM_STATUS_BAD_FORMAT);
    EXPECT_EQ(raw, nullptr);
    bytes.pop_back();
    DGM_ASSERT_OK(ctx.get(), dgm_safetensors_parse(ctx.get(), bytes.data(), bytes.size(), &raw));
    StPtr st(raw);
    ASSERT_EQ(dgm_safetensors_count(st.get()), 3);
    EXPECT_STREQ(dgm_safetensors_dtype(st.get(), 0), "F16");
    EXPECT_STREQ(dgm_safetensors_dtype(st.get(), 1), "BF16");
    EXPECT_STREQ(dgm_safetensors_dtype(st.get(), 2), "F64");
    for (int i = 0; i < 9; i++)
        EXPECT_EQ(bits(dgm_safetensors_data(st.get(), 0)[i]), bits(f16_want[i])) << "F16 " << i;
    for (int i = 0; i < 4; i++)
        EXPECT_EQ(bits(dgm_safetensors_data(st.get(), 1)[i]), bits(bf16_want[i])) << "BF16 " << i;
    for (int i = 0; i < 4; i++)
        EXPECT_EQ(bits(dgm_safetensors_data(st.get(), 2)[i]), bits(f64_want[i])) << "F64 " << i;

    // F16 NaN stays NaN.
    const unsigned char nan16[2] = {0x00, 0x7e};
    bytes = st_bytes("{\"n\":{\"dtype\":\"F16\",\"shape\":[],\"data_offsets\":[0,2]}}", 0);
    bytes.insert(bytes.end(), nan16, nan16 + 2);
    DGM_ASSERT_OK(ctx.get(), dgm_safetensors_parse(ctx.get(), bytes.data(), bytes.size(), &raw));
    StPtr st2(raw);
    EXPECT_TRUE(std::isnan(dgm_safetensors_data(st2.get(), 0)[0]));
}

TEST(Safetensors, AcceptsWhatTheFormatAllows)
{
    // Metadata anywhere, entries in any order, unknown keys inside an entry, whitespace,
    // several empty tensors at one offset.
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    std::string header = " { \"b\" : {\"shape\":[1],\"dtype\":\"F32\",\"data_offsets\":[4,8],"
                         "\"extra\":[1,{}]},\n\"__metadata__\":{},"
                         "\"e1\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
                         "\"e2\":{\"dtype\":\"F16\",\"shape\":[3,0],\"data_offsets\":[0,0]},"
                         "\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}  ";
    auto bytes = st_bytes(header, 8);
    dgm_safetensors *raw = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_safetensors_parse(ctx.get(), bytes.data(), bytes.size(), &raw));
    StPtr st(raw);
    ASSERT_EQ(dgm_safetensors_count(st.get()), 4);
    EXPECT_STREQ(dgm_safetensors_name(st.get(), 0), "b"); // header order
    EXPECT_EQ(dgm_safetensors_find(st.get(), "a"), 3);
    EXPECT_EQ(dgm_safetensors_numel(st.get(), 2), 0);
    EXPECT_EQ(dgm_safetensors_ndim(st.get(), 3), 0);
    EXPECT_EQ(dgm_safetensors_numel(st.get(), 3), 1);
    EXPECT_EQ(dgm_safetensors_meta_count(st.get()), 0);
}

TEST(Safetensors, FindWorksForManyNames)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir dir;
    std::vector<std::string> names;
    for (int i = 0; i < 200; i++) names.push_back("layer" + std::to_string((i * 7919) % 200) + ".w");
    std::vector<float> vals(200);
    std::vector<dgm_st_tensor> t(200);
    for (int i = 0; i < 200; i++) {
        vals[i] = (float)i;
        t[i] = {names[i].c_str(), 0, {}, &vals[i]};
    }
    const std::string path = dir.file("many.safetensors");
    DGM_ASSERT_OK(ctx.get(), dgm_safetensors_save(ctx.get(), path.c_str(), t.data(), 200, nullptr, nullptr, 0));
    dgm_safetensors *raw = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_safetensors_load(ctx.get(), path.c_str(), &raw));
    StPtr st(raw);
    for (int i = 0; i < 200; i++) {
        const int k = dgm_safetensors_find(st.get(), names[i].c_str());
        ASSERT_EQ(k, i) << names[i];
        EXPECT_EQ(dgm_safetensors_data(st.get(), k)[0], (float)i);
    }
}

struct Malformed {
    const char *name;
    std::vector<unsigned char> bytes;
    const char *fragment; // the message must say this
};

std::string entry(const char *name, const char *dtype, const char *shape, const char *offsets)
{
    return std::string("\"") + name + "\":{\"dtype\":" + dtype + ",\"shape\":" + shape +
           ",\"data_offsets\":" + offsets + "}";
}

std::vector<Malformed> malformed_cases()
{
    const std::string a4 = entry("a", "\"F32\"", "[1]", "[0,4]");
    auto one = [](const std::string &e, size_t data) { return st_bytes("{" + e + "}", data); };
    std::vector<Malformed> m = {
        {"length_field_truncated", {1, 0, 0, 0, 0}, "8-byte header length"},
        {"empty_file", {}, "8-byte header length"},
        {"header_over_100MB", st_bytes("{}", 0, 100000001ull), "exceeds the limit"},
        {"header_length_2^63", st_bytes("{}", 0, 1ull << 63), "exceeds the limit"},
        {"header_past_end_of_file", st_bytes("{}", 0, 3), "truncated"},
        {"empty_header", st_bytes("", 0), "not valid JSON"},
        {"header_not_json", st_bytes("{\"a\":", 0), "not valid JSON"},
        {"header_trailing_garbage", st_bytes("{} x", 0), "not valid JSON"},
        {"header_bad_utf8", st_bytes("{\"\xff\":{}}", 0), "not valid JSON"},
        {"header_array", st_bytes("[{\"dtype\":\"F32\"}]", 0), "not a JSON object"},
        {"duplicate_key", st_bytes("{" + a4 + "," + entry("a", "\"F32\"", "[1]", "[4,8]") + "}", 8),
         "duplicate"},
        {"nul_in_name", st_bytes("{" + entry("a\\u0000b", "\"F32\"", "[1]", "[0,4]") + "}", 4),
         "NUL"},
        {"empty_name", one(entry("", "\"F32\"", "[1]", "[0,4]"), 4), "empty name"},
        {"entry_not_object", st_bytes("{\"a\":[1,2]}", 0), "not an object"},
        {"missing_dtype", st_bytes("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4),
         "missing \"dtype\""},
        {"missing_shape", st_bytes("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4),
         "missing \"shape\""},
        {"missing_offsets", st_bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4),
         "missing \"data_offsets\""},
        {"unknown_dtype", one(entry("a", "\"F31\"", "[1]", "[0,4]"), 4), "unknown dtype \"F31\""},
        {"lowercase_dtype", one(entry("a", "\"f32\"", "[1]", "[0,4]"), 4), "unknown dtype"},
        {"unsupported_dtype", one(entry("a", "\"I64\"", "[1]", "[0,8]"), 8), "not supported"},
        {"dtype_not_string", one(entry("a", "32", "[1]", "[0,4]"), 4), "dtype is an integer"},
        {"shape_not_array", one(entry("a", "\"F32\"", "1", "[0,4]"), 4), "shape is an integer"},
        {"negative_shape", one(entry("a", "\"F32\"", "[-1]", "[0,4]"), 4), "negative"},
        {"real_shape", one(entry("a", "\"F32\"", "[1.0]", "[0,4]"), 4), "not a non-negative integer"},
        {"string_shape", one(entry("a", "\"F32\"", "[\"1\"]", "[0,4]"), 4),
         "not a non-negative integer"},
        {"shape_overflow", one(entry("a", "\"F32\"", "[4294967296,4294967296,16]", "[0,4]"), 4),
         "more elements"},
        {"offsets_one_number", one(entry("a", "\"F32\"", "[1]", "[4]"), 4), "data_offsets is not"},
        {"offsets_three_numbers", one(entry("a", "\"F32\"", "[1]", "[0,4,4]"), 4),
         "data_offsets is not"},
        {"offsets_real", one(entry("a", "\"F32\"", "[1]", "[0.0,4]"), 4), "data_offsets is not"},
        {"offsets_string", one(entry("a", "\"F32\"", "[1]", "[0,\"4\"]"), 4), "data_offsets is not"},
        {"offsets_negative", one(entry("a", "\"F32\"", "[0]", "[-4,-4]"), 0), "data_offsets is not"},
        {"offsets_object", one(entry("a", "\"F32\"", "[1]", "{\"0\":4}"), 4), "data_offsets is not"},
        {"end_before_begin", one(entry("a", "\"F32\"", "[1]", "[8,4]"), 8), "ends before"},
        {"size_mismatch", one(entry("a", "\"F32\"", "[2]", "[0,4]"), 4), "need 8"},
        {"size_mismatch_dtype", one(entry("a", "\"F16\"", "[2]", "[0,8]"), 8), "need 4"},
        {"out_of_range", one(entry("a", "\"F32\"", "[2]", "[0,8]"), 4), "past the end"},
        {"overlap", st_bytes("{" + entry("a", "\"F32\"", "[2]", "[0,8]") + "," +
                                 entry("b", "\"F32\"", "[2]", "[4,12]") + "}", 12),
         "overlaps"},
        {"same_range_twice", st_bytes("{" + a4 + "," + entry("b", "\"F32\"", "[1]", "[0,4]") + "}", 4),
         "overlaps"},
        {"gap_between", st_bytes("{" + a4 + "," + entry("b", "\"F32\"", "[1]", "[8,12]") + "}", 12),
         "gap"},
        {"gap_at_start", one(entry("a", "\"F32\"", "[1]", "[4,8]"), 8), "gap"},
        {"trailing_bytes", one(a4, 8), "trailing"},
        {"data_without_tensors", st_bytes("{}", 4), "trailing"},
        {"metadata_not_object", st_bytes("{\"__metadata__\":\"x\"}", 0), "not an object"},
        {"metadata_null", st_bytes("{\"__metadata__\":null}", 0), "not an object"},
        {"metadata_value_number", st_bytes("{\"__metadata__\":{\"k\":1}}", 0), "not a string"},
        {"metadata_value_object", st_bytes("{\"__metadata__\":{\"k\":{}}}", 0), "not a string"},
        {"metadata_twice", st_bytes("{\"__metadata__\":{},\"__metadata__\":{}}", 0), "duplicate"},
    };
    return m;
}

TEST(Safetensors, EveryMalformedHeaderIsBadFormat)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    for (const auto &c : malformed_cases()) {
        int dummy = 0;
        dgm_safetensors *st = reinterpret_cast<dgm_safetensors *>(&dummy); // must be reset
        dgm_status s = dgm_safetensors_parse(ctx.get(), c.bytes.data(), c.bytes.size(), &st);
        const std::string msg = dgm_last_error(ctx.get());
        EXPECT_EQ(s, DGM_STATUS_BAD_FORMAT) << c.name << ": " << msg;
        EXPECT_EQ(st, nullptr) << c.name;
        if (s == DGM_STATUS_OK) dgm_safetensors_free(st);
        EXPECT_NE(msg.find(c.fragment), std::string::npos)
            << c.name << ": message \"" << msg << "\" lacks \"" << c.fragment << "\"";
        EXPECT_EQ(msg.rfind("safetensors buffer: ", 0), 0u) << c.name << ": " << msg;
    }
}

TEST(Safetensors, LoadErrorsNameTheFile)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir dir;
    const std::string path = dir.file("bad.safetensors");
    write_bytes(path, st_bytes("{\"a\":{\"dtype\":\"X\",\"shape\":[],\"data_offsets\":[0,4]}}", 4));
    dgm_safetensors *st = nullptr;
    EXPECT_EQ(dgm_safetensors_load(ctx.get(), path.c_str(), &st), DGM_STATUS_BAD_FORMAT);
    EXPECT_EQ(st, nullptr);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find(path + ": tensor \"a\": unknown dtype"),
              std::string::npos)
        << dgm_last_error(ctx.get());

    const std::string missing = dir.file("no/such/file.safetensors");
    EXPECT_EQ(dgm_safetensors_load(ctx.get(), missing.c_str(), &st), DGM_STATUS_IO_ERROR);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find(missing), std::string::npos)
        << dgm_last_error(ctx.get());
    // A directory opens but cannot be read.
    EXPECT_EQ(dgm_safetensors_load(ctx.get(), dir.path.c_str(), &st), DGM_STATUS_IO_ERROR);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find(dir.path), std::string::npos)
        << dgm_last_error(ctx.get());
    if (geteuid() != 0) {
        write_bytes(path, st_bytes("{}", 0));
        chmod(path.c_str(), 0);
        EXPECT_EQ(dgm_safetensors_load(ctx.get(), path.c_str(), &st), DGM_STATUS_IO_ERROR);
        EXPECT_NE(std::string(dgm_last_error(ctx.get())).find(path), std::string::npos);
    }
}

TEST(Safetensors, TruncatedAtEveryLengthIsRejected)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir dir;
    const float w[4] = {1, -2, 3.5f, 4}, b = 0.25f;
    dgm_st_tensor t[2] = {{"w", 2, {2, 2}, w}, {"b", 0, {}, &b}};
    const char *k[1] = {"k"}, *v[1] = {"v"};
    const std::string path = dir.file("full.safetensors"), cut = dir.file("cut.safetensors");
    DGM_ASSERT_OK(ctx.get(), dgm_safetensors_save(ctx.get(), path.c_str(), t, 2, k, v, 1));
    const auto bytes = read_bytes(path);
    ASSERT_GT(bytes.size(), 8u);
    for (size_t len = 0; len < bytes.size(); len++) {
        std::vector<unsigned char> prefix(bytes.begin(), bytes.begin() + (long)len);
        write_bytes(cut, prefix);
        dgm_safetensors *st = nullptr;
        dgm_status s = dgm_safetensors_load(ctx.get(), cut.c_str(), &st);
        EXPECT_EQ(s, DGM_STATUS_BAD_FORMAT) << "prefix of " << len << " bytes";
        EXPECT_EQ(st, nullptr);
        EXPECT_NE(std::string(dgm_last_error(ctx.get())).find(cut), std::string::npos);
        if (s == DGM_STATUS_OK) dgm_safetensors_free(st);
        // And from memory, from a buffer exactly that long (ASan catches over-reads).
        std::unique_ptr<unsigned char[]> exact(new unsigned char[len ? len : 1]);
        if (len) std::memcpy(exact.get(), bytes.data(), len);
        EXPECT_EQ(dgm_safetensors_parse(ctx.get(), exact.get(), len, &st), DGM_STATUS_BAD_FORMAT)
            << len;
    }
    dgm_safetensors *st = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_safetensors_parse(ctx.get(), bytes.data(), bytes.size(), &st));
    dgm_safetensors_free(st);
}

// ---- atomic writes ----

TEST(Safetensors, FailedWriteToMissingDirectory)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir dir;
    const Checkpoint c = make_checkpoint(2);
    const std::string path = dir.file("missing/model.safetensors");
    EXPECT_EQ(c.save(ctx.get(), path), DGM_STATUS_IO_ERROR);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find(path), std::string::npos)
        << dgm_last_error(ctx.get());
    EXPECT_TRUE(dir.entries().empty());
}

// Runs `body` in a forked child, so that what it changes (privileges, resource limits)
// dies with it. The child's exit code and the message it returns come back.
int run_in_child(const std::function<int(std::string *)> &body, std::string *msg)
{
    int fds[2];
    if (pipe(fds) != 0) return -1;
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        close(fds[0]);
        std::string m;
        const int code = body(&m);
        ssize_t w = write(fds[1], m.data(), m.size());
        (void)w;
        close(fds[1]);
        _exit(code);
    }
    close(fds[1]);
    char buf[256];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) msg->append(buf, (size_t)n);
    close(fds[0]);
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

// 0 when the save fails with IO_ERROR naming the path, else 1; the message in *msg.
int expect_io_error(dgm_ctx *ctx, const Checkpoint &c, const std::string &path, std::string *msg)
{
    dgm_status s = c.save(ctx, path);
    *msg = std::string(dgm_status_name(s)) + ": " + dgm_last_error(ctx);
    return s == DGM_STATUS_IO_ERROR && msg->find(path) != std::string::npos ? 0 : 1;
}

TEST(Safetensors, FailedWriteInReadOnlyDirectoryKeepsPreviousFile)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir dir;
    const Checkpoint v1 = make_checkpoint(3), v2 = make_checkpoint(4);
    const std::string path = dir.file("model.safetensors");
    DGM_ASSERT_OK(ctx.get(), v1.save(ctx.get(), path));
    const auto before = read_bytes(path);
    ASSERT_EQ(chmod(dir.path.c_str(), 0555), 0);
    // Root ignores permissions: the child drops to "nobody" first.
    std::string msg;
    const int code = run_in_child(
        [&](std::string *m) {
            if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) {
                *m = "cannot drop root privileges";
                return 77;
            }
            if (access(dir.path.c_str(), W_OK) == 0) {
                *m = "the read-only directory is writable";
                return 77;
            }
            return expect_io_error(ctx.get(), v2, path, m);
        },
        &msg);
    chmod(dir.path.c_str(), 0755);
    if (code == 77) GTEST_SKIP() << msg;
    EXPECT_EQ(code, 0) << "saving into a read-only directory gave " << msg;
    EXPECT_EQ(read_bytes(path), before);
    dgm_safetensors *raw = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_safetensors_load(ctx.get(), path.c_str(), &raw));
    StPtr st(raw);
    EXPECT_TRUE(matches(st.get(), v1));
    EXPECT_EQ(dir.entries(), std::vector<std::string>{"model.safetensors"});
}

TEST(Safetensors, DiskFullKeepsPreviousCheckpoint)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir dir;
    const Checkpoint v1 = make_checkpoint(5), v2 = make_checkpoint(6, 40000); // v2: ~480 KB
    const std::string path = dir.file("model.safetensors");
    DGM_ASSERT_OK(ctx.get(), v1.save(ctx.get(), path));
    const auto before = read_bytes(path);
    ASSERT_LT(before.size(), 8192u);

    // In the child, a file-size limit of 64 KiB (SIGXFSZ ignored) makes writes fail with
    // EFBIG, as a full disk would.
    std::string msg;
    const int code = run_in_child(
        [&](std::string *m) {
            signal(SIGXFSZ, SIG_IGN);
            struct rlimit rl = {65536, 65536};
            if (setrlimit(RLIMIT_FSIZE, &rl) != 0) {
                *m = "setrlimit failed";
                return 2;
            }
            return expect_io_error(ctx.get(), v2, path, m);
        },
        &msg);
    EXPECT_EQ(code, 0) << "the save under a 64 KiB file limit gave " << msg;

    EXPECT_EQ(read_bytes(path), before);
    dgm_safetensors *raw = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_safetensors_load(ctx.get(), path.c_str(), &raw));
    StPtr st(raw);
    EXPECT_TRUE(matches(st.get(), v1));
    EXPECT_EQ(dir.entries(), std::vector<std::string>{"model.safetensors"}) << "temp file left";

    // Without the limit the same save succeeds.
    DGM_ASSERT_OK(ctx.get(), v2.save(ctx.get(), path));
    DGM_ASSERT_OK(ctx.get(), dgm_safetensors_load(ctx.get(), path.c_str(), &raw));
    StPtr st2(raw);
    EXPECT_TRUE(matches(st2.get(), v2));
}

// ---- Python interoperability ----

TEST(Safetensors, ReadsFilesWrittenByPython)
{
    const std::string why = python_skip_reason("safetensors, numpy");
    if (!why.empty()) GTEST_SKIP() << why;
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir dir;
    const std::string path = dir.file("py.safetensors");
    const char *script = R"PY(
import sys
import numpy as np
from safetensors.numpy import save_file
k = np.arange(24)
save_file({
    "f32": ((k - 7) * 0.125).astype(np.float32).reshape(2, 3, 4),
    "f64": np.array([0.1, -1.5, 1e300, 2.0 ** -30], dtype=np.float64),
    "f16": ((k[:6] - 3) * 0.25).astype(np.float16).reshape(3, 2),
    "scalar": np.array(3.5, dtype=np.float32),
    "empty": np.zeros((0, 4), dtype=np.float32),
}, sys.argv[1], metadata={"epoch": "7", "name": "python"})
)PY";
    std::string out;
    ASSERT_EQ(run_python(dir, script, {path}, &out), 0) << out;
    dgm_safetensors *raw = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_safetensors_load(ctx.get(), path.c_str(), &raw));
    StPtr st(raw);
    ASSERT_EQ(dgm_safetensors_count(st.get()), 5);
    EXPECT_STREQ(dgm_safetensors_meta(st.get(), "epoch"), "7");
    EXPECT_STREQ(dgm_safetensors_meta(st.get(), "name"), "python");

    int i = dgm_safetensors_find(st.get(), "f32");
    ASSERT_GE(i, 0);
    EXPECT_STREQ(dgm_safetensors_dtype(st.get(), i), "F32");
    ASSERT_EQ(dgm_safetensors_ndim(st.get(), i), 3);
    EXPECT_EQ(std::vector<int64_t>(dgm_safetensors_shape(st.get(), i),
                                   dgm_safetensors_shape(st.get(), i) + 3),
              (std::vector<int64_t>{2, 3, 4}));
    for (int j = 0; j < 24; j++) EXPECT_EQ(dgm_safetensors_data(st.get(), i)[j], (j - 7) * 0.125f);

    i = dgm_safetensors_find(st.get(), "f64");
    ASSERT_GE(i, 0);
    EXPECT_STREQ(dgm_safetensors_dtype(st.get(), i), "F64");
    const float f64_want[4] = {0.1f, -1.5f, INFINITY, std::ldexp(1.0f, -30)};
    for (int j = 0; j < 4; j++) EXPECT_EQ(dgm_safetensors_data(st.get(), i)[j], f64_want[j]);

    i = dgm_safetensors_find(st.get(), "f16");
    ASSERT_GE(i, 0);
    EXPECT_STREQ(dgm_safetensors_dtype(st.get(), i), "F16");
    EXPECT_EQ(dgm_safetensors_shape(st.get(), i)[0], 3);
    for (int j = 0; j < 6; j++) EXPECT_EQ(dgm_safetensors_data(st.get(), i)[j], (j - 3) * 0.25f);

    i = dgm_safetensors_find(st.get(), "scalar");
    ASSERT_GE(i, 0);
    EXPECT_EQ(dgm_safetensors_ndim(st.get(), i), 0);
    EXPECT_EQ(dgm_safetensors_data(st.get(), i)[0], 3.5f);

    i = dgm_safetensors_find(st.get(), "empty");
    ASSERT_GE(i, 0);
    EXPECT_EQ(dgm_safetensors_numel(st.get(), i), 0);
    EXPECT_EQ(dgm_safetensors_shape(st.get(), i)[1], 4);
}

TEST(Safetensors, PythonLoadsDgmFiles)
{
    const std::string why = python_skip_reason("safetensors, numpy");
    if (!why.empty()) GTEST_SKIP() << why;
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir dir;
    const Checkpoint c = make_checkpoint(7);
    const std::string path = dir.file("dgm.safetensors"), expect = dir.file("expect.txt");
    DGM_ASSERT_OK(ctx.get(), c.save(ctx.get(), path));
    // The expected values as float32 bit patterns, one tensor per line.
    {
        std::ofstream f(expect);
        for (size_t i = 0; i < c.names.size(); i++) {
            f << c.names[i] << "\t";
            for (size_t d = 0; d < c.shapes[i].size(); d++) f << (d ? "," : "") << c.shapes[i][d];
            f << "\t";
            for (size_t j = 0; j < c.values[i].size(); j++) f << (j ? "," : "") << bits(c.values[i][j]);
            f << "\n";
        }
    }
    const char *script = R"PY(
import sys
import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file
path, expect = sys.argv[1], sys.argv[2]
tensors = load_file(path)
with safe_open(path, framework="np") as f:
    meta = f.metadata()
    keys = list(f.keys())
want_meta = {"format": "dgm", "step": "1234", "note": "\u00fcn\u00efcode \"quoted\"\n"}
assert meta == want_meta, meta
lines = open(expect, encoding="utf-8").read().splitlines()
assert sorted(keys) == sorted(l.split("\t")[0] for l in lines), keys
for line in lines:
    name, shape, values = line.split("\t")
    shape = tuple(int(s) for s in shape.split(",")) if shape else ()
    t = tensors[name]
    assert t.dtype == np.float32, (name, t.dtype)
    assert t.shape == shape, (name, t.shape, shape)
    got = t.reshape(-1).view(np.uint32).tolist()
    want = [int(v) for v in values.split(",")] if values else []
    assert got == want, (name, got, want)
print("ok", len(lines))
)PY";
    std::string out;
    EXPECT_EQ(run_python(dir, script, {path, expect}, &out), 0) << out;
    EXPECT_NE(out.find("ok 6"), std::string::npos) << out;
}

} // namespace
