// The data module: datasets from memory, IDX (plain and gzip), CSV and .npy readers with
// every malformed class they must refuse, the toy densities and their stated properties,
// dgm_dataset_load's resolution (including the real Fashion-MNIST when installed), and
// loaders: coverage, order, determinism, resume by seek, partial batches.
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "test_util.h"

extern "C" {
#include "data/data_internal.h"
}

using namespace dgmtest;

namespace {

struct DatasetDeleter {
    void operator()(dgm_dataset *d) const { dgm_dataset_free(d); }
};
using DatasetPtr = std::unique_ptr<dgm_dataset, DatasetDeleter>;

struct LoaderDeleter {
    void operator()(dgm_loader *l) const { dgm_loader_free(l); }
};
using LoaderPtr = std::unique_ptr<dgm_loader, LoaderDeleter>;

using Bytes = std::vector<unsigned char>;

// A fresh folder for one test's files, removed when the test ends.
class TempDir {
  public:
    TempDir()
    {
        const ::testing::TestInfo *info =
            ::testing::UnitTest::GetInstance()->current_test_info();
        std::string name = std::string(info->test_suite_name()) + "_" + info->name();
        for (char &c : name)
            if (c == '/') c = '_';
        path = ::testing::TempDir() + "dgm_data_" + name;
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~TempDir()
    {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string path;
};

void write_file(const std::string &path, const Bytes &b)
{
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char *>(b.data()), (std::streamsize)b.size());
    ASSERT_TRUE(f.good()) << path;
}

void write_text(const std::string &path, const std::string &s)
{
    write_file(path, Bytes(s.begin(), s.end()));
}

// Writes b gzip-compressed through zlib's own file interface.
void write_gzip(const std::string &path, const Bytes &b)
{
    gzFile g = gzopen(path.c_str(), "wb");
    ASSERT_NE(g, nullptr) << path;
    ASSERT_EQ(gzwrite(g, b.data(), (unsigned)b.size()), (int)b.size());
    ASSERT_EQ(gzclose(g), Z_OK);
}

Bytes read_bytes(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

void put_be32(Bytes &b, uint32_t v)
{
    for (int s = 24; s >= 0; s -= 8) b.push_back((unsigned char)(v >> s));
}

// An IDX header of `type` and `dims` followed by `data`.
Bytes idx_bytes(int type, const std::vector<uint32_t> &dims, const Bytes &data)
{
    Bytes b = {0, 0, (unsigned char)type, (unsigned char)dims.size()};
    for (uint32_t d : dims) put_be32(b, d);
    b.insert(b.end(), data.begin(), data.end());
    return b;
}

// A 2-image 2x3 ubyte images file and its labels.
Bytes small_images()
{
    return idx_bytes(0x08, {2, 2, 3}, {0, 51, 102, 153, 204, 255, 255, 0, 0, 0, 0, 255});
}
Bytes small_labels() { return idx_bytes(0x08, {2}, {7, 3}); }

// A .npy file: version 1 or 2 header with `dict`, padded to 64 bytes, then data.
Bytes npy_bytes(const std::string &dict, const Bytes &data, int version = 1)
{
    size_t prefix = version == 1 ? 10 : 12;
    std::string h = dict;
    while ((prefix + h.size() + 1) % 64) h += ' ';
    h += '\n';
    Bytes b = {0x93, 'N', 'U', 'M', 'P', 'Y', (unsigned char)version, 0};
    uint32_t n = (uint32_t)h.size();
    b.push_back((unsigned char)n);
    b.push_back((unsigned char)(n >> 8));
    if (version != 1) {
        b.push_back((unsigned char)(n >> 16));
        b.push_back((unsigned char)(n >> 24));
    }
    b.insert(b.end(), h.begin(), h.end());
    b.insert(b.end(), data.begin(), data.end());
    return b;
}

template <typename T> Bytes le_values(const std::vector<T> &v)
{
    Bytes b(v.size() * sizeof(T));
    std::memcpy(b.data(), v.data(), b.size()); // the test machines are little-endian
    return b;
}

std::string dict(const std::string &descr, const std::string &shape, bool fortran = false)
{
    return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
           ", 'shape': " + shape + ", }";
}

std::vector<float> data_of(const dgm_dataset *ds)
{
    const float *x = dgm_dataset_data(ds);
    return std::vector<float>(x, x + dgm_dataset_count(ds) * dgm_dataset_dim(ds));
}

// Expects `st` to be `want` with `needle` (a file name) in the context's message.
::testing::AssertionResult fails_naming(dgm_ctx *ctx, dgm_status st, dgm_status want,
                                        const std::string &needle)
{
    if (st != want)
        return ::testing::AssertionFailure() << "status " << dgm_status_name(st) << ", expected "
                                             << dgm_status_name(want) << " ("
                                             << dgm_last_error(ctx) << ")";
    std::string msg = dgm_last_error(ctx);
    if (msg.find(needle) == std::string::npos)
        return ::testing::AssertionFailure() << "message '" << msg << "' does not name '"
                                             << needle << "'";
    return ::testing::AssertionSuccess() << msg;
}

// ---------------------------------------------------------------- datasets from memory

TEST(DataDataset, FromMemoryCopiesAndReportsShape)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    std::vector<int32_t> labels = {4, 5};
    const int64_t shape[2] = {2, 3};
    dgm_dataset *raw = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_dataset_from_memory(ctx.get(), 2, 2, shape, x.data(),
                                                     labels.data(), &raw));
    DatasetPtr ds(raw);
    x[0] = -1; // the dataset holds a copy
    labels[0] = -1;
    EXPECT_EQ(dgm_dataset_count(ds.get()), 2);
    EXPECT_EQ(dgm_dataset_dim(ds.get()), 6);
    int64_t s[3] = {0, 0, 0};
    ASSERT_EQ(dgm_dataset_sample_shape(ds.get(), s), 2);
    EXPECT_EQ(s[0], 2);
    EXPECT_EQ(s[1], 3);
    EXPECT_EQ(dgm_dataset_data(ds.get())[0], 1.0f);
    EXPECT_EQ(dgm_dataset_data(ds.get())[11], 12.0f);
    ASSERT_NE(dgm_dataset_labels(ds.get()), nullptr);
    EXPECT_EQ(dgm_dataset_labels(ds.get())[0], 4);
    EXPECT_EQ(dgm_dataset_labels(ds.get())[1], 5);
}

TEST(DataDataset, FromMemoryRejectsBadArguments)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    float x[4] = {0, 0, 0, 0};
    const int64_t good[1] = {2}, zero[1] = {0};
    dgm_dataset *ds = nullptr;
    EXPECT_EQ(dgm_dataset_from_memory(ctx.get(), 0, 1, good, x, nullptr, &ds),
              DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_dataset_from_memory(ctx.get(), 2, 0, good, x, nullptr, &ds),
              DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_dataset_from_memory(ctx.get(), 2, 4, good, x, nullptr, &ds),
              DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_dataset_from_memory(ctx.get(), 2, 1, zero, x, nullptr, &ds),
              DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_dataset_from_memory(ctx.get(), 2, 1, good, nullptr, nullptr, &ds),
              DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(ds, nullptr);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())), "");
    // NULL-safe accessors and free.
    dgm_dataset_free(nullptr);
    EXPECT_EQ(dgm_dataset_count(nullptr), 0);
    EXPECT_EQ(dgm_dataset_data(nullptr), nullptr);
}

// ---------------------------------------------------------------- IDX

TEST(DataIdx, ReadsPlainImagesAndLabels)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir tmp;
    const std::string &dir = tmp.path;
    write_file(dir + "/img-idx3-ubyte", small_images());
    write_file(dir + "/lab-idx1-ubyte", small_labels());
    dgm_dataset *raw = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_dataset_load_idx(ctx.get(), (dir + "/img-idx3-ubyte").c_str(),
                                                  (dir + "/lab-idx1-ubyte").c_str(), &raw));
    DatasetPtr ds(raw);
    EXPECT_EQ(dgm_dataset_count(ds.get()), 2);
    EXPECT_EQ(dgm_dataset_dim(ds.get()), 6);
    int64_t s[3];
    ASSERT_EQ(dgm_dataset_sample_shape(ds.get(), s), 2);
    EXPECT_EQ(s[0], 2);
    EXPECT_EQ(s[1], 3);
    std::vector<float> x = data_of(ds.get());
    const unsigned char raw_px[12] = {0, 51, 102, 153, 204, 255, 255, 0, 0, 0, 0, 255};
    for (int i = 0; i < 12; i++) EXPECT_FLOAT_EQ(x[i], raw_px[i] / 255.0f) << i;
    EXPECT_EQ(*std::max_element(x.begin(), x.end()), 1.0f);
    ASSERT_NE(dgm_dataset_labels(ds.get()), nullptr);
    EXPECT_EQ(dgm_dataset_labels(ds.get())[0], 7);
    EXPECT_EQ(dgm_dataset_labels(ds.get())[1], 3);

    // Without labels.
    DGM_ASSERT_OK(ctx.get(), dgm_dataset_load_idx(ctx.get(), (dir + "/img-idx3-ubyte").c_str(),
                                                  nullptr, &raw));
    DatasetPtr nolab(raw);
    EXPECT_EQ(dgm_dataset_labels(nolab.get()), nullptr);
    EXPECT_EQ(data_of(nolab.get()), x);
}

TEST(DataIdx, GzipMatchesPlain)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir tmp;
    const std::string &dir = tmp.path;
    write_file(dir + "/img", small_images());
    write_gzip(dir + "/img.gz", small_images());
    write_gzip(dir + "/lab.gz", small_labels());
    dgm_dataset *a = nullptr, *b = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_dataset_load_idx(ctx.get(), (dir + "/img").c_str(), nullptr, &a));
    DatasetPtr plain(a);
    DGM_ASSERT_OK(ctx.get(), dgm_dataset_load_idx(ctx.get(), (dir + "/img.gz").c_str(),
                                                  (dir + "/lab.gz").c_str(), &b));
    DatasetPtr gz(b);
    EXPECT_EQ(data_of(plain.get()), data_of(gz.get()));
    EXPECT_EQ(dgm_dataset_labels(gz.get())[1], 3);

    // Concatenated gzip members (cat a.gz b.gz) inflate to the concatenation.
    Bytes whole = small_images();
    Bytes first(whole.begin(), whole.begin() + 10), rest(whole.begin() + 10, whole.end());
    write_gzip(dir + "/p1.gz", first);
    write_gzip(dir + "/p2.gz", rest);
    Bytes cat = read_bytes(dir + "/p1.gz"), p2 = read_bytes(dir + "/p2.gz");
    cat.insert(cat.end(), p2.begin(), p2.end());
    write_file(dir + "/cat.gz", cat);
    dgm_dataset *c = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_dataset_load_idx(ctx.get(), (dir + "/cat.gz").c_str(), nullptr, &c));
    DatasetPtr catds(c);
    EXPECT_EQ(data_of(catds.get()), data_of(plain.get()));
}

TEST(DataIdx, ReadsEveryElementType)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir tmp;
    const std::string &dir = tmp.path;
    struct Case {
        int type;
        Bytes data;
        std::vector<float> want;
    };
    std::vector<Case> cases = {
        {0x09, {0xff, 0x05}, {-1.0f, 5.0f}},                        // sbyte: not scaled
        {0x0B, {0xff, 0xfe, 0x01, 0x00}, {-2.0f, 256.0f}},          // short, big-endian
        {0x0C, {0xff, 0xff, 0xff, 0xfd, 0, 1, 0, 0}, {-3.0f, 65536.0f}},
        {0x0D, {0x3f, 0xc0, 0, 0, 0xc0, 0x20, 0, 0}, {1.5f, -2.5f}}, // float
        {0x0E, {0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0xc0, 0x04, 0, 0, 0, 0, 0, 0}, {1.5f, -2.5f}},
    };
    for (const Case &c : cases) {
        std::string path = dir + "/t" + std::to_string(c.type);
        write_file(path, idx_bytes(c.type, {2}, c.data));
        dgm_dataset *raw = nullptr;
        DGM_ASSERT_OK(ctx.get(), dgm_dataset_load_idx(ctx.get(), path.c_str(), nullptr, &raw));
        DatasetPtr ds(raw);
        EXPECT_EQ(dgm_dataset_dim(ds.get()), 1);
        EXPECT_EQ(data_of(ds.get()), c.want) << "type " << c.type;
    }
}

struct BadIdx {
    const char *name;
    Bytes images;
    Bytes labels; // empty: none
    bool gzip_images;
};

std::vector<BadIdx> bad_idx_cases()
{
    Bytes good = small_images();
    Bytes wrong_magic = good;
    wrong_magic[0] = 1;
    Bytes unknown_type = good;
    unknown_type[2] = 0x0A;
    Bytes truncated(good.begin(), good.end() - 1);
    Bytes trailing = good;
    trailing.push_back(0);
    Bytes header_only(good.begin(), good.begin() + 9);
    Bytes gz_garbage = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 'n', 'o', 't', ' ', 'g', 'z'};
    return {
        {"wrong_magic", wrong_magic, {}, false},
        {"unknown_type", unknown_type, {}, false},
        {"zero_dims", idx_bytes(0x08, {}, {}), {}, false},
        {"five_dims", idx_bytes(0x08, {1, 1, 1, 1, 1}, {0}), {}, false},
        {"zero_size", idx_bytes(0x08, {2, 0, 3}, {}), {}, false},
        {"too_short", {0, 0}, {}, false},
        {"truncated_header", header_only, {}, false},
        {"truncated_data", truncated, {}, false},
        {"trailing_bytes", trailing, {}, false},
        {"oversize_dims", idx_bytes(0x0E, {0xffffffffu, 0xffffffffu, 0xffffffffu}, {0}), {}, false},
        {"huge_dims_short_data", idx_bytes(0x08, {60000, 28, 28}, Bytes(100)), {}, false},
        {"label_count_mismatch", good, idx_bytes(0x08, {3}, {1, 2, 3}), false},
        {"labels_not_1d", good, idx_bytes(0x08, {2, 1}, {1, 2}), false},
        {"labels_float", good, idx_bytes(0x0D, {2}, Bytes(8)), false},
        {"nan_float_images", idx_bytes(0x0D, {1}, {0x7f, 0xc0, 0, 0}), {}, false},
        {"bad_gzip", gz_garbage, {}, false},
        {"truncated_gzip", good, {}, true}, // gzipped below, then cut
        {"gzip_of_garbage", Bytes{'h', 'e', 'l', 'l', 'o'}, {}, true},
    };
}

class DataIdxMalformed : public ::testing::TestWithParam<BadIdx> {};

TEST_P(DataIdxMalformed, IsBadFormatNamingTheFile)
{
    const BadIdx &c = GetParam();
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir tmp;
    const std::string &dir = tmp.path;
    std::string images = dir + "/" + c.name + "-images", labels = dir + "/" + c.name + "-labels";
    if (c.gzip_images) {
        write_gzip(images, c.images);
        if (std::string(c.name) == "truncated_gzip") {
            Bytes gz = read_bytes(images);
            gz.resize(gz.size() - 6);
            write_file(images, gz);
        }
    } else {
        write_file(images, c.images);
    }
    if (!c.labels.empty()) write_file(labels, c.labels);
    dgm_dataset *ds = nullptr;
    dgm_status st = dgm_dataset_load_idx(ctx.get(), images.c_str(),
                                         c.labels.empty() ? nullptr : labels.c_str(), &ds);
    EXPECT_EQ(ds, nullptr);
    dgm_dataset_free(ds);
    // The message names the file at fault: the labels file for the label cases.
    EXPECT_TRUE(fails_naming(ctx.get(), st, DGM_STATUS_BAD_FORMAT,
                             c.labels.empty() ? images : labels));
}

INSTANTIATE_TEST_SUITE_P(Data, DataIdxMalformed, ::testing::ValuesIn(bad_idx_cases()),
                         [](const ::testing::TestParamInfo<BadIdx> &i) { return i.param.name; });

TEST(DataIdx, MissingFileIsIoErrorNamingIt)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir tmp;
    const std::string &dir = tmp.path;
    std::string missing = dir + "/no-such-file.gz";
    dgm_dataset *ds = nullptr;
    EXPECT_TRUE(fails_naming(ctx.get(), dgm_dataset_load_idx(ctx.get(), missing.c_str(), nullptr, &ds),
                             DGM_STATUS_IO_ERROR, missing));
    write_file(dir + "/img", small_images());
    EXPECT_TRUE(fails_naming(ctx.get(),
                             dgm_dataset_load_idx(ctx.get(), (dir + "/img").c_str(),
                                                  missing.c_str(), &ds),
                             DGM_STATUS_IO_ERROR, missing));
    EXPECT_EQ(ds, nullptr);
}

// A gzip bomb (a small file that inflates past the cap) is BAD_FORMAT, not an allocation of
// everything it claims. The cap is lowered through the in-memory entry so the test stays
// small; the file loaders use the same code with a 2 GiB cap.
TEST(DataIdx, GzipBombHitsTheCap)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    Bytes zeros = idx_bytes(0x08, {1 << 20, 4}, Bytes(4 << 20)); // 4 MiB of zeros
    uLongf cap = compressBound((uLong)zeros.size());
    Bytes z(cap);
    // gzip wrapper via deflateInit2 with 16 + MAX_WBITS.
    z_stream zs{};
    ASSERT_EQ(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = zeros.data();
    zs.avail_in = (uInt)zeros.size();
    zs.next_out = z.data();
    zs.avail_out = (uInt)z.size();
    ASSERT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
    z.resize(zs.total_out);
    deflateEnd(&zs);
    ASSERT_LT(z.size(), 16u << 10);

    dgm_dataset *ds = nullptr;
    EXPECT_TRUE(fails_naming(ctx.get(),
                             dgm_idx_dataset_from_memory(ctx.get(), "bomb.gz", z.data(), z.size(),
                                                         nullptr, nullptr, 0, 1 << 20, &ds),
                             DGM_STATUS_BAD_FORMAT, "bomb.gz"));
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find("more than"), std::string::npos);
    EXPECT_EQ(ds, nullptr);
    // Exactly at the cap is fine.
    DGM_ASSERT_OK(ctx.get(), dgm_idx_dataset_from_memory(ctx.get(), "bomb.gz", z.data(), z.size(),
                                                         nullptr, nullptr, 0, zeros.size(), &ds));
    DatasetPtr ok(ds);
    EXPECT_EQ(dgm_dataset_count(ok.get()), 1 << 20);
}

// ---------------------------------------------------------------- CSV

DatasetPtr load_csv_text(dgm_ctx *ctx, const std::string &dir, const std::string &text,
                         dgm_status *st, const std::string &name = "data.csv")
{
    std::string path = dir + "/" + name;
    write_text(path, text);
    dgm_dataset *ds = nullptr;
    *st = dgm_dataset_load_csv(ctx, path.c_str(), &ds);
    return DatasetPtr(ds);
}

TEST(DataCsv, HeaderIsDetectedAndSkipped)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir tmp;
    const std::string &dir = tmp.path;
    dgm_status st;
    DatasetPtr with = load_csv_text(ctx.get(), dir, "x,y,z\n1,2,3\n4.5,-0.25,1e-3\n", &st);
    ASSERT_EQ(st, DGM_STATUS_OK) << dgm_last_error(ctx.get());
    EXPECT_EQ(dgm_dataset_count(with.get()), 2);
    EXPECT_EQ(dgm_dataset_dim(with.get()), 3);
    EXPECT_EQ(data_of(with.get()), (std::vector<float>{1, 2, 3, 4.5f, -0.25f, 1e-3f}));
    EXPECT_EQ(dgm_dataset_labels(with.get()), nullptr);

    DatasetPtr without = load_csv_text(ctx.get(), dir, "1,2,3\n4.5,-0.25,1e-3", &st, "b.csv");
    ASSERT_EQ(st, DGM_STATUS_OK) << dgm_last_error(ctx.get());
    EXPECT_EQ(data_of(without.get()), data_of(with.get()));
}

TEST(DataCsv, ParsesNumbersExactlyAndToleratesLayout)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir tmp;
    const std::string &dir = tmp.path;
    dgm_status st;
    // CRLF, blank lines, spaces and tabs around fields, signs, exponents, no leading digit.
    DatasetPtr ds = load_csv_text(
        ctx.get(), dir,
        "\r\n 0.1 ,\t-2.5E+2\r\n\r\n+.5,3.\n  \n1234567.0,0.000001\n6.02214076e23,-1e-40\n", &st);
    ASSERT_EQ(st, DGM_STATUS_OK) << dgm_last_error(ctx.get());
    EXPECT_EQ(data_of(ds.get()), (std::vector<float>{0.1f, -250.0f, 0.5f, 3.0f, 1234567.0f,
                                                     0.000001f, 6.02214076e23f, -1e-40f}));
    // A UTF-8 byte-order mark does not turn the first row into a header.
    DatasetPtr bom = load_csv_text(ctx.get(), dir, "\xEF\xBB\xBF" "1,2\n3,4\n", &st, "bom.csv");
    ASSERT_EQ(st, DGM_STATUS_OK) << dgm_last_error(ctx.get());
    EXPECT_EQ(dgm_dataset_count(bom.get()), 2);
}

TEST(DataCsv, MalformedFilesAreBadFormatWithTheLine)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir tmp;
    const std::string &dir = tmp.path;
    struct Case {
        const char *name, *text, *needle;
    } cases[] = {
        {"ragged", "1,2\n3,4\n5\n", "line 3"},
        {"ragged_header", "a,b,c\n1,2\n", "line 2"},
        {"garbage", "1,2\n3,4\n5,x\n", "line 3"},
        {"empty_field", "1,2\n3,\n", "line 2"},
        {"nan", "1,2\n3,nan\n", "line 2"},
        {"inf_first_row", "-Infinity,1\n2,3\n", "line 1"},
        {"inf", "1,2\ninf,4\n", "NaN or infinite"},
        {"overflow", "1,2\n1e39,4\n", "out of float range"},
        {"trailing_junk", "1,2\n3,4abc\n", "line 2"},
        {"hex", "1,2\n0x10,4\n", "line 2"},
        {"empty", "", "empty"},
        {"blank_only", "\n  \n\r\n", "no data"},
        {"header_only", "a,b\n", "no data"},
        {"two_headers", "a,b\nc,d\n1,2\n", "line 2"},
    };
    for (const Case &c : cases) {
        std::string name = std::string(c.name) + ".csv";
        dgm_status st;
        DatasetPtr ds = load_csv_text(ctx.get(), dir, c.text, &st, name);
        EXPECT_EQ(ds, nullptr) << c.name;
        EXPECT_TRUE(fails_naming(ctx.get(), st, DGM_STATUS_BAD_FORMAT, name)) << c.name;
        EXPECT_TRUE(fails_naming(ctx.get(), st, DGM_STATUS_BAD_FORMAT, c.needle)) << c.name;
    }
    dgm_dataset *ds = nullptr;
    EXPECT_TRUE(fails_naming(ctx.get(),
                             dgm_dataset_load_csv(ctx.get(), (dir + "/missing.csv").c_str(), &ds),
                             DGM_STATUS_IO_ERROR, "missing.csv"));
}

// ---------------------------------------------------------------- .npy

DatasetPtr load_npy_bytes(dgm_ctx *ctx, const std::string &path, const Bytes &b, dgm_status *st)
{
    write_file(path, b);
    dgm_dataset *ds = nullptr;
    *st = dgm_dataset_load_npy(ctx, path.c_str(), &ds);
    return DatasetPtr(ds);
}

TEST(DataNpy, ReadsFloat32AndFloat64InBothVersions)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir tmp;
    const std::string &dir = tmp.path;
    std::vector<float> want = {1.5f, -2, 3, 4.25f, 5, 6};
    std::vector<double> wantd(want.begin(), want.end());
    Bytes files[4] = {
        npy_bytes(dict("<f4", "(2, 3)"), le_values(want), 1),
        npy_bytes(dict("<f4", "(2, 3)"), le_values(want), 2),
        npy_bytes(dict("<f8", "(2, 3)"), le_values(wantd), 1),
        npy_bytes(dict("<f8", "(2, 3)"), le_values(wantd), 2),
    };
    for (int i = 0; i < 4; i++) {
        dgm_status st;
        DatasetPtr ds = load_npy_bytes(ctx.get(), dir + "/a" + std::to_string(i) + ".npy",
                                       files[i], &st);
        ASSERT_EQ(st, DGM_STATUS_OK) << i << ": " << dgm_last_error(ctx.get());
        EXPECT_EQ(dgm_dataset_count(ds.get()), 2);
        EXPECT_EQ(dgm_dataset_dim(ds.get()), 3);
        EXPECT_EQ(data_of(ds.get()), want) << i;
    }
}

TEST(DataNpy, ShapesOneDAndMore)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir tmp;
    const std::string &dir = tmp.path;
    dgm_status st;
    // 1-D: n samples of one value; key order and quoting as other writers produce them.
    DatasetPtr one = load_npy_bytes(
        ctx.get(), dir + "/one.npy",
        npy_bytes("{\"shape\": (3,), \"fortran_order\": False, \"descr\": \"<f4\"}",
                  le_values(std::vector<float>{1, 2, 3})),
        &st);
    ASSERT_EQ(st, DGM_STATUS_OK) << dgm_last_error(ctx.get());
    EXPECT_EQ(dgm_dataset_count(one.get()), 3);
    EXPECT_EQ(dgm_dataset_dim(one.get()), 1);
    // [n, 2, 3, 2]: the sample shape is kept.
    DatasetPtr four = load_npy_bytes(ctx.get(), dir + "/four.npy",
                                     npy_bytes(dict("<f4", "(2, 2, 3, 2)"),
                                               le_values(std::vector<float>(24, 0.5f))),
                                     &st);
    ASSERT_EQ(st, DGM_STATUS_OK) << dgm_last_error(ctx.get());
    int64_t s[3];
    ASSERT_EQ(dgm_dataset_sample_shape(four.get(), s), 3);
    EXPECT_EQ(s[0], 2);
    EXPECT_EQ(s[1], 3);
    EXPECT_EQ(s[2], 2);
    // Five dimensions are flattened per sample.
    DatasetPtr five = load_npy_bytes(ctx.get(), dir + "/five.npy",
                                     npy_bytes(dict("<f4", "(2, 1, 2, 1, 3)"),
                                               le_values(std::vector<float>(12, 1.0f))),
                                     &st);
    ASSERT_EQ(st, DGM_STATUS_OK) << dgm_last_error(ctx.get());
    ASSERT_EQ(dgm_dataset_sample_shape(five.get(), s), 1);
    EXPECT_EQ(s[0], 6);
}

TEST(DataNpy, MalformedFilesAreBadFormat)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir tmp;
    const std::string &dir = tmp.path;
    Bytes four = le_values(std::vector<float>{1, 2, 3, 4});
    Bytes good = npy_bytes(dict("<f4", "(2, 2)"), four);
    Bytes truncated(good.begin(), good.end() - 1), trailing = good;
    trailing.push_back(0);
    Bytes bad_magic = good;
    bad_magic[1] = 'X';
    Bytes v3 = good;
    v3[6] = 3;
    Bytes header_cut(good.begin(), good.begin() + 40);
    struct Case {
        const char *name;
        Bytes bytes;
        const char *needle;
    } cases[] = {
        {"fortran", npy_bytes(dict("<f4", "(2, 2)", true), four), "Fortran"},
        {"truncated", truncated, "truncated"},
        {"trailing", trailing, "trailing"},
        {"bad_magic", bad_magic, "magic"},
        {"version3", v3, "version"},
        {"header_cut", header_cut, "header"},
        {"big_endian", npy_bytes(dict(">f4", "(2, 2)"), four), ">f4"},
        {"int16", npy_bytes(dict("<i2", "(2, 2)"), Bytes(8, 0)), "<i2"},
        {"scalar", npy_bytes(dict("<f4", "()"), Bytes(four.begin(), four.begin() + 4)), "0-d"},
        {"one_tuple_no_comma", npy_bytes(dict("<f4", "(4)"), four), "comma"},
        {"empty_dim", npy_bytes(dict("<f4", "(0, 2)"), {}), "no elements"},
        {"unknown_key", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), "
                                  "'x': 1}",
                                  four),
         "unknown key"},
        {"missing_shape", npy_bytes("{'descr': '<f4', 'fortran_order': False}", four), "shape"},
        {"duplicate", npy_bytes("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, "
                                "'shape': (4,)}",
                                four),
         "twice"},
        {"negative_dim", npy_bytes(dict("<f4", "(-4,)"), four), "integers"},
        {"nan", npy_bytes(dict("<f4", "(1,)"), {0, 0, 0xc0, 0x7f}), "finite"},
        {"f8_overflow", npy_bytes(dict("<f8", "(1,)"), le_values(std::vector<double>{1e300})),
         "finite"},
        {"overflow_shape",
         npy_bytes(dict("<f4", "(4294967296, 4294967296, 4294967296)"), four), "overflow"},
    };
    for (const Case &c : cases) {
        std::string path = dir + "/" + c.name + ".npy";
        dgm_status st;
        DatasetPtr ds = load_npy_bytes(ctx.get(), path, c.bytes, &st);
        EXPECT_EQ(ds, nullptr) << c.name;
        EXPECT_TRUE(fails_naming(ctx.get(), st, DGM_STATUS_BAD_FORMAT, path)) << c.name;
        EXPECT_TRUE(fails_naming(ctx.get(), st, DGM_STATUS_BAD_FORMAT, c.needle)) << c.name;
    }
}

// ---------------------------------------------------------------- toys

DatasetPtr toy(dgm_ctx *ctx, const char *name, int64_t n, uint64_t seed)
{
    dgm_dataset *ds = nullptr;
    dgm_status st = dgm_dataset_toy(ctx, name, n, seed, &ds);
    EXPECT_EQ(st, DGM_STATUS_OK) << name << ": " << dgm_last_error(ctx);
    return DatasetPtr(ds);
}

class DataToy : public ::testing::TestWithParam<std::string> {};

TEST_P(DataToy, IsTwoDimensionalDeterministicAndSeeded)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    const char *name = GetParam().c_str();
    DatasetPtr a = toy(ctx.get(), name, 5000, 11), b = toy(ctx.get(), name, 5000, 11),
               c = toy(ctx.get(), name, 5000, 12);
    ASSERT_TRUE(a && b && c);
    EXPECT_EQ(dgm_dataset_count(a.get()), 5000);
    EXPECT_EQ(dgm_dataset_dim(a.get()), 2);
    int64_t s[3];
    EXPECT_EQ(dgm_dataset_sample_shape(a.get(), s), 1);
    EXPECT_EQ(s[0], 2);
    EXPECT_EQ(data_of(a.get()), data_of(b.get()));
    EXPECT_NE(data_of(a.get()), data_of(c.get()));
    for (float v : data_of(a.get())) ASSERT_TRUE(std::isfinite(v));
    // A shorter draw with the same seed is a prefix: each sample is drawn in turn.
    DatasetPtr prefix = toy(ctx.get(), name, 100, 11);
    std::vector<float> pa = data_of(prefix.get()), full = data_of(a.get());
    EXPECT_TRUE(std::equal(pa.begin(), pa.end(), full.begin()));
}

INSTANTIATE_TEST_SUITE_P(Data, DataToy,
                         ::testing::Values("ring8", "grid25", "gauss8", "moons", "checkerboard",
                                           "swissroll", "pinwheel", "2spirals"),
                         [](const ::testing::TestParamInfo<std::string> &i) {
                             return i.param == "2spirals" ? std::string("spirals2") : i.param;
                         });

TEST(DataToyProperty, EveryNameIsListedAndUnknownNamesListTheValidOnes)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    std::vector<std::string> names;
    for (const char *const *n = dgm_toy_names(); *n; n++) names.push_back(*n);
    EXPECT_EQ(names, (std::vector<std::string>{"ring8", "grid25", "gauss8", "moons",
                                               "checkerboard", "swissroll", "pinwheel",
                                               "2spirals"}));
    dgm_dataset *ds = nullptr;
    EXPECT_EQ(dgm_dataset_toy(ctx.get(), "ring9", 10, 0, &ds), DGM_STATUS_INVALID_ARGUMENT);
    std::string msg = dgm_last_error(ctx.get());
    for (const auto &n : names) EXPECT_NE(msg.find(n), std::string::npos) << msg;
    EXPECT_EQ(dgm_dataset_toy(ctx.get(), "ring8", 0, 0, &ds), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(ds, nullptr);
}

const int64_t kN = 20000;

TEST(DataToyProperty, Ring8OnTheUnitCircleLabelledByComponent)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    DatasetPtr ds = toy(ctx.get(), "ring8", kN, 1);
    const float *x = dgm_dataset_data(ds.get());
    const int32_t *l = dgm_dataset_labels(ds.get());
    ASSERT_NE(l, nullptr);
    std::vector<int> count(8);
    for (int64_t i = 0; i < kN; i++) {
        double r = std::hypot(x[2 * i], x[2 * i + 1]);
        ASSERT_NEAR(r, 1.0, 0.05) << i;
        ASSERT_TRUE(l[i] >= 0 && l[i] < 8);
        double a = 2 * M_PI * l[i] / 8;
        ASSERT_LT(std::hypot(x[2 * i] - std::cos(a), x[2 * i + 1] - std::sin(a)), 0.07) << i;
        count[l[i]]++;
    }
    for (int c : count) EXPECT_NEAR(c, kN / 8, kN / 8 / 5); // roughly equal weights
}

TEST(DataToyProperty, Grid25NearItsGridPoint)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    DatasetPtr ds = toy(ctx.get(), "grid25", kN, 2);
    const float *x = dgm_dataset_data(ds.get());
    const int32_t *l = dgm_dataset_labels(ds.get());
    ASSERT_NE(l, nullptr);
    std::set<int> seen;
    for (int64_t i = 0; i < kN; i++) {
        ASSERT_TRUE(l[i] >= 0 && l[i] < 25);
        double cx = -4 + 2 * (l[i] % 5), cy = -4 + 2 * (l[i] / 5);
        ASSERT_LT(std::hypot(x[2 * i] - cx, x[2 * i + 1] - cy), 0.35) << i; // 7 std
        // The label's point is also the nearest grid point.
        EXPECT_EQ(std::lround(x[2 * i] / 2) * 2, (long)cx);
        seen.insert(l[i]);
    }
    EXPECT_EQ(seen.size(), 25u);
}

TEST(DataToyProperty, Gauss8RadiusIsFourOver1414)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    DatasetPtr ds = toy(ctx.get(), "gauss8", kN, 3);
    const float *x = dgm_dataset_data(ds.get());
    const int32_t *l = dgm_dataset_labels(ds.get());
    ASSERT_NE(l, nullptr);
    double sum_r = 0, mx = 0, my = 0;
    for (int64_t i = 0; i < kN; i++) {
        sum_r += std::hypot(x[2 * i], x[2 * i + 1]);
        mx += x[2 * i];
        my += x[2 * i + 1];
        ASSERT_TRUE(l[i] >= 0 && l[i] < 8);
    }
    // E|c + e| for |c| = 2.829, e ~ N(0, 0.354²)·I is 2.829 + 0.354²/(2·2.829) ≈ 2.85.
    EXPECT_NEAR(sum_r / kN, 4.0 / 1.414, 0.05);
    EXPECT_NEAR(mx / kN, 0.0, 0.05);
    EXPECT_NEAR(my / kN, 0.0, 0.05);
    // Component 0 is centred at (4, 0) / 1.414.
    double c0x = 0;
    int64_t c0 = 0;
    for (int64_t i = 0; i < kN; i++)
        if (l[i] == 0) {
            c0x += x[2 * i];
            c0++;
        }
    EXPECT_NEAR(c0x / c0, 4.0 / 1.414, 0.05);
}

TEST(DataToyProperty, MoonsAreTwoHalfCircles)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    DatasetPtr ds = toy(ctx.get(), "moons", kN, 4);
    const float *x = dgm_dataset_data(ds.get());
    const int32_t *l = dgm_dataset_labels(ds.get());
    ASSERT_NE(l, nullptr);
    int64_t inner = 0;
    for (int64_t i = 0; i < kN; i++) {
        ASSERT_TRUE(l[i] == 0 || l[i] == 1);
        // Outer moon: circle of radius 2 about (-1, -0.2), upper half; inner: about (1, 0.8),
        // lower half. Noise std 0.2 after scaling.
        double cx = l[i] ? 1.0 : -1.0, cy = l[i] ? 0.8 : -0.2;
        double dx = x[2 * i] - cx, dy = x[2 * i + 1] - cy;
        ASSERT_NEAR(std::hypot(dx, dy), 2.0, 1.2) << i;
        ASSERT_TRUE(l[i] ? dy < 1.0 : dy > -1.0) << i;
        inner += l[i];
    }
    EXPECT_NEAR((double)inner / kN, 0.5, 0.02);
}

TEST(DataToyProperty, CheckerboardFillsAlternatingCells)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    DatasetPtr ds = toy(ctx.get(), "checkerboard", kN, 5);
    const float *x = dgm_dataset_data(ds.get());
    EXPECT_EQ(dgm_dataset_labels(ds.get()), nullptr);
    std::set<std::pair<int, int>> cells;
    for (int64_t i = 0; i < kN; i++) {
        ASSERT_TRUE(x[2 * i] >= -4 && x[2 * i] < 4 && x[2 * i + 1] >= -4 && x[2 * i + 1] < 4);
        int cx = (int)std::floor(x[2 * i] / 2), cy = (int)std::floor(x[2 * i + 1] / 2);
        ASSERT_EQ(((cx + cy) % 2 + 2) % 2, 0) << x[2 * i] << ", " << x[2 * i + 1];
        cells.insert({cx, cy});
    }
    EXPECT_EQ(cells.size(), 8u); // half of the 4x4 cells
}

TEST(DataToyProperty, SwissrollPinwheelAndSpiralsStayInTheirRings)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    struct Case {
        const char *name;
        double mean_r_lo, mean_r_hi, max_r;
    } cases[] = {
        // t·(cos t, sin t)/5 with t uniform in [1.5π, 4.5π]: mean radius 3π/5 ≈ 1.88.
        {"swissroll", 1.75, 2.05, (4.5 * M_PI + 6) / 5},
        // radius 2·|f| with f ≈ (N(1, 0.3), N(0, 0.1)): mean ≈ 2.05.
        {"pinwheel", 1.9, 2.2, 2 * (1 + 6 * 0.3) + 1},
        // n up to 3π: radius up to ≈ (3π + 0.7)/3 plus noise; mean ≈ 2·π/3·… ≈ 2.2.
        {"2spirals", 1.8, 2.6, (3 * M_PI + 0.8) / 3 + 0.6},
    };
    for (const Case &c : cases) {
        DatasetPtr ds = toy(ctx.get(), c.name, kN, 6);
        const float *x = dgm_dataset_data(ds.get());
        EXPECT_EQ(dgm_dataset_labels(ds.get()), nullptr) << c.name;
        double sum_r = 0, mx = 0, my = 0;
        for (int64_t i = 0; i < kN; i++) {
            double r = std::hypot(x[2 * i], x[2 * i + 1]);
            ASSERT_LT(r, c.max_r) << c.name << " " << i;
            sum_r += r;
            mx += x[2 * i];
            my += x[2 * i + 1];
        }
        EXPECT_GT(sum_r / kN, c.mean_r_lo) << c.name;
        EXPECT_LT(sum_r / kN, c.mean_r_hi) << c.name;
        if (std::string(c.name) != "swissroll") { // the others are symmetric about 0
            EXPECT_NEAR(mx / kN, 0.0, 0.1) << c.name;
            EXPECT_NEAR(my / kN, 0.0, 0.1) << c.name;
        }
    }
}

// ---------------------------------------------------------------- dgm_dataset_load

// Sets an environment variable for one scope.
class ScopedEnv {
  public:
    ScopedEnv(const char *name, const std::string &value) : name_(name)
    {
        const char *old = std::getenv(name);
        had_ = old != nullptr;
        if (had_) old_ = old;
        setenv(name, value.c_str(), 1);
    }
    ~ScopedEnv()
    {
        if (had_)
            setenv(name_, old_.c_str(), 1);
        else
            unsetenv(name_);
    }

  private:
    const char *name_;
    bool had_;
    std::string old_;
};

TEST(DataLoad, ToysHaveTrainAndTestSplits)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    dgm_dataset *a = nullptr, *b = nullptr, *c = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_dataset_load(ctx.get(), "moons", DGM_SPLIT_TRAIN, 9, &a));
    DGM_ASSERT_OK(ctx.get(), dgm_dataset_load(ctx.get(), "moons", DGM_SPLIT_TEST, 9, &b));
    DGM_ASSERT_OK(ctx.get(), dgm_dataset_toy(ctx.get(), "moons", 100000, 9, &c));
    DatasetPtr train(a), test(b), direct(c);
    EXPECT_EQ(dgm_dataset_count(train.get()), 100000);
    EXPECT_EQ(dgm_dataset_count(test.get()), 10000);
    EXPECT_EQ(data_of(train.get()), data_of(direct.get()));
    // The test split is not a prefix of the train split.
    std::vector<float> tr = data_of(train.get()), te = data_of(test.get());
    EXPECT_FALSE(std::equal(te.begin(), te.begin() + 20, tr.begin()));
}

TEST(DataLoad, PathsByExtensionAndByMagic)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir tmp;
    const std::string &dir = tmp.path;
    write_text(dir + "/d.csv", "1,2\n3,4\n");
    write_file(dir + "/d.npy", npy_bytes(dict("<f4", "(2, 2)"),
                                         le_values(std::vector<float>{1, 2, 3, 4})));
    write_gzip(dir + "/x-images-idx3-ubyte.gz", small_images());
    write_gzip(dir + "/x-labels-idx1-ubyte.gz", small_labels());
    write_file(dir + "/plainidx", small_images());
    write_text(dir + "/notes.txt", "hello");
    for (const char *f : {"/d.csv", "/d.npy", "/x-images-idx3-ubyte.gz", "/plainidx"}) {
        dgm_dataset *ds = nullptr;
        DGM_ASSERT_OK(ctx.get(), dgm_dataset_load(ctx.get(), (dir + f).c_str(), DGM_SPLIT_TRAIN,
                                                  0, &ds));
        DatasetPtr p(ds);
        EXPECT_EQ(dgm_dataset_count(p.get()), 2) << f;
        // The labels file beside an images file comes along.
        if (std::string(f) == "/x-images-idx3-ubyte.gz") {
            ASSERT_NE(dgm_dataset_labels(p.get()), nullptr);
            EXPECT_EQ(dgm_dataset_labels(p.get())[0], 7);
        }
    }
    dgm_dataset *ds = nullptr;
    EXPECT_TRUE(fails_naming(ctx.get(),
                             dgm_dataset_load(ctx.get(), (dir + "/notes.txt").c_str(),
                                              DGM_SPLIT_TRAIN, 0, &ds),
                             DGM_STATUS_BAD_FORMAT, "notes.txt"));
    EXPECT_TRUE(fails_naming(ctx.get(),
                             dgm_dataset_load(ctx.get(), (dir + "/gone").c_str(), DGM_SPLIT_TRAIN,
                                              0, &ds),
                             DGM_STATUS_IO_ERROR, dir + "/gone"));
    EXPECT_TRUE(fails_naming(ctx.get(),
                             dgm_dataset_load(ctx.get(), "fashion_mnist", DGM_SPLIT_TRAIN, 0, &ds),
                             DGM_STATUS_INVALID_ARGUMENT, "checkerboard"));
    EXPECT_EQ(ds, nullptr);
}

TEST(DataLoad, NamedSetsComeFromDgmDataDirThenTheSystemFolder)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir tmp;
    const std::string data = tmp.path + "/data", sys = tmp.path + "/sys";
    std::filesystem::create_directories(data + "/mnist");
    std::filesystem::create_directories(sys + "/fashion-mnist");
    // mnist under $DGM_DATA_DIR/mnist (plain files), test split only.
    write_file(data + "/mnist/t10k-images-idx3-ubyte", small_images());
    write_file(data + "/mnist/t10k-labels-idx1-ubyte", small_labels());
    // fashion-mnist directly in $DGM_DATA_DIR (gzipped), test split only; the train split
    // in the system folder.
    write_gzip(data + "/t10k-images-idx3-ubyte.gz", idx_bytes(0x08, {3, 1, 1}, {1, 2, 3}));
    write_gzip(data + "/t10k-labels-idx1-ubyte.gz", idx_bytes(0x08, {3}, {1, 2, 3}));
    write_gzip(sys + "/fashion-mnist/train-images-idx3-ubyte.gz",
               idx_bytes(0x08, {4, 1, 1}, {1, 2, 3, 4}));
    write_gzip(sys + "/fashion-mnist/train-labels-idx1-ubyte.gz",
               idx_bytes(0x08, {4}, {1, 2, 3, 4}));
    ScopedEnv env("DGM_DATA_DIR", data);
    struct Case {
        const char *name;
        dgm_split split;
        int64_t n;
    } found[] = {{"mnist", DGM_SPLIT_TEST, 2},
                 {"fashion-mnist", DGM_SPLIT_TEST, 3},
                 {"fashion-mnist", DGM_SPLIT_TRAIN, 4}};
    for (const Case &c : found) {
        dgm_dataset *ds = nullptr;
        DGM_ASSERT_OK(ctx.get(), dgm_dataset_load_named(ctx.get(), c.name, c.split, sys.c_str(), &ds));
        DatasetPtr p(ds);
        EXPECT_EQ(dgm_dataset_count(p.get()), c.n) << c.name;
        EXPECT_NE(dgm_dataset_labels(p.get()), nullptr);
    }
    // Not found: the message names each place looked and how to get the files.
    dgm_dataset *ds = nullptr;
    dgm_status st = dgm_dataset_load_named(ctx.get(), "mnist", DGM_SPLIT_TRAIN, sys.c_str(), &ds);
    EXPECT_EQ(st, DGM_STATUS_IO_ERROR);
    EXPECT_EQ(ds, nullptr);
    std::string msg = dgm_last_error(ctx.get());
    for (const std::string &needle : {data + "/mnist,", data + ",", sys + "/mnist",
                                      std::string("train-images-idx3-ubyte"),
                                      std::string("DGM_DATA_DIR")})
        EXPECT_NE(msg.find(needle), std::string::npos) << needle << " not in: " << msg;
    std::remove((sys + "/fashion-mnist/train-labels-idx1-ubyte.gz").c_str());
    st = dgm_dataset_load_named(ctx.get(), "fashion-mnist", DGM_SPLIT_TRAIN, sys.c_str(), &ds);
    EXPECT_TRUE(fails_naming(ctx.get(), st, DGM_STATUS_IO_ERROR,
                             "apt-get install dataset-fashion-mnist"));
    EXPECT_TRUE(fails_naming(ctx.get(), st, DGM_STATUS_IO_ERROR, sys + "/fashion-mnist"));
}

TEST(DataLoad, RealFashionMnist)
{
    const char *sys = "/usr/share/datasets/fashion-mnist";
    const char *env = std::getenv("DGM_DATA_DIR");
    FILE *f = std::fopen((std::string(sys) + "/train-images-idx3-ubyte.gz").c_str(), "rb");
    const bool installed = f != nullptr;
    if (f) std::fclose(f);
    if (!installed && !(env && *env))
        GTEST_SKIP() << "Fashion-MNIST not installed (" << sys
                     << " missing, DGM_DATA_DIR unset): apt-get install dataset-fashion-mnist";
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    struct Split {
        dgm_split split;
        int64_t n;
    } splits[] = {{DGM_SPLIT_TRAIN, 60000}, {DGM_SPLIT_TEST, 10000}};
    for (const Split &s : splits) {
        dgm_dataset *raw = nullptr;
        dgm_status st = dgm_dataset_load(ctx.get(), "fashion-mnist", s.split, 0, &raw);
        if (st == DGM_STATUS_IO_ERROR && !installed)
            GTEST_SKIP() << "Fashion-MNIST not found: " << dgm_last_error(ctx.get());
        ASSERT_EQ(st, DGM_STATUS_OK) << dgm_last_error(ctx.get());
        DatasetPtr ds(raw);
        EXPECT_EQ(dgm_dataset_count(ds.get()), s.n);
        EXPECT_EQ(dgm_dataset_dim(ds.get()), 784);
        int64_t shape[3];
        ASSERT_EQ(dgm_dataset_sample_shape(ds.get(), shape), 2);
        EXPECT_EQ(shape[0], 28);
        EXPECT_EQ(shape[1], 28);
        const float *x = dgm_dataset_data(ds.get());
        auto mm = std::minmax_element(x, x + s.n * 784);
        EXPECT_EQ(*mm.first, 0.0f);
        EXPECT_EQ(*mm.second, 1.0f);
        const int32_t *l = dgm_dataset_labels(ds.get());
        ASSERT_NE(l, nullptr);
        std::vector<int64_t> per_class(10);
        for (int64_t i = 0; i < s.n; i++) {
            ASSERT_TRUE(l[i] >= 0 && l[i] <= 9) << i;
            per_class[l[i]]++;
        }
        for (int64_t c : per_class) EXPECT_EQ(c, s.n / 10); // Fashion-MNIST is balanced
    }
}

// ---------------------------------------------------------------- loaders

// n samples of dim 3 whose row i is (i, i + 0.5, -i): a batch row tells its sample.
DatasetPtr indexed_dataset(dgm_ctx *ctx, int64_t n)
{
    std::vector<float> x((size_t)n * 3);
    for (int64_t i = 0; i < n; i++) {
        x[3 * i] = (float)i;
        x[3 * i + 1] = (float)i + 0.5f;
        x[3 * i + 2] = -(float)i;
    }
    const int64_t shape[1] = {3};
    dgm_dataset *ds = nullptr;
    EXPECT_EQ(dgm_dataset_from_memory(ctx, n, 1, shape, x.data(), nullptr, &ds), DGM_STATUS_OK)
        << dgm_last_error(ctx);
    return DatasetPtr(ds);
}

// The sample indices of the next batch (checking its rows are whole samples).
std::vector<int> next_batch(dgm_ctx *ctx, dgm_loader *l, bool *ended = nullptr)
{
    dgm_tensor *t = nullptr;
    bool e = false;
    dgm_status st = dgm_loader_next(l, &t, &e);
    EXPECT_EQ(st, DGM_STATUS_OK) << dgm_last_error(ctx);
    if (ended) *ended = e;
    if (st != DGM_STATUS_OK) return {};
    EXPECT_EQ(dgm_tensor_ndim(t), 2);
    EXPECT_EQ(dgm_tensor_dim(t, 1), 3);
    std::vector<float> v = to_host(ctx, t);
    std::vector<int> idx;
    for (size_t r = 0; r < v.size() / 3; r++) {
        EXPECT_EQ(v[3 * r + 1], v[3 * r] + 0.5f);
        EXPECT_EQ(v[3 * r + 2], -v[3 * r]);
        idx.push_back((int)v[3 * r]);
    }
    EXPECT_EQ(dgm_ctx_step_end(ctx), DGM_STATUS_OK);
    return idx;
}

// One whole epoch's sample order, checking batch sizes and the end-of-epoch flag.
std::vector<int> epoch_order(dgm_ctx *ctx, dgm_loader *l, int64_t batch, int64_t n,
                             bool drop_last)
{
    std::vector<int> order;
    int64_t bpe = dgm_loader_batches_per_epoch(l);
    for (int64_t k = 0; k < bpe; k++) {
        bool ended = false;
        std::vector<int> b = next_batch(ctx, l, &ended);
        int64_t want = (!drop_last && k == bpe - 1 && n % batch) ? n % batch : batch;
        EXPECT_EQ((int64_t)b.size(), want) << "batch " << k;
        EXPECT_EQ(ended, k == bpe - 1) << "batch " << k;
        order.insert(order.end(), b.begin(), b.end());
    }
    return order;
}

TEST(DataLoader, EachEpochServesEverySampleOnceInAFreshOrder)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    const int64_t n = 103, batch = 10;
    DatasetPtr ds = indexed_dataset(ctx.get(), n);
    dgm_loader *raw = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_loader_create(ctx.get(), ds.get(), batch, 5, false, &raw));
    LoaderPtr l(raw);
    ds.reset(); // the loader keeps no reference to the dataset
    EXPECT_EQ(dgm_loader_batches_per_epoch(l.get()), 11);
    std::vector<std::vector<int>> orders;
    for (int e = 0; e < 3; e++) {
        std::vector<int> o = epoch_order(ctx.get(), l.get(), batch, n, false);
        std::vector<int> sorted = o;
        std::sort(sorted.begin(), sorted.end());
        std::vector<int> all(n);
        for (int i = 0; i < n; i++) all[i] = i;
        EXPECT_EQ(sorted, all) << "epoch " << e;
        int64_t ep, bi;
        dgm_loader_position(l.get(), &ep, &bi);
        EXPECT_EQ(ep, e + 1);
        EXPECT_EQ(bi, 0);
        orders.push_back(o);
    }
    EXPECT_NE(orders[0], orders[1]);
    EXPECT_NE(orders[1], orders[2]);
    std::vector<int> identity(n);
    for (int i = 0; i < n; i++) identity[i] = i;
    EXPECT_NE(orders[0], identity);

    // Same seed, same orders; another seed, another order.
    DatasetPtr ds2 = indexed_dataset(ctx.get(), n);
    dgm_loader *r2 = nullptr, *r3 = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_loader_create(ctx.get(), ds2.get(), batch, 5, false, &r2));
    DGM_ASSERT_OK(ctx.get(), dgm_loader_create(ctx.get(), ds2.get(), batch, 6, false, &r3));
    LoaderPtr same(r2), other(r3);
    EXPECT_EQ(epoch_order(ctx.get(), same.get(), batch, n, false), orders[0]);
    EXPECT_EQ(epoch_order(ctx.get(), same.get(), batch, n, false), orders[1]);
    EXPECT_NE(epoch_order(ctx.get(), other.get(), batch, n, false), orders[0]);
}

TEST(DataLoader, DropLastSkipsThePartialBatch)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    const int64_t n = 25, batch = 8;
    DatasetPtr ds = indexed_dataset(ctx.get(), n);
    dgm_loader *a = nullptr, *b = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_loader_create(ctx.get(), ds.get(), batch, 1, true, &a));
    DGM_ASSERT_OK(ctx.get(), dgm_loader_create(ctx.get(), ds.get(), batch, 1, false, &b));
    LoaderPtr drop(a), keep(b);
    EXPECT_EQ(dgm_loader_batches_per_epoch(drop.get()), 3);
    EXPECT_EQ(dgm_loader_batches_per_epoch(keep.get()), 4);
    std::vector<int> od = epoch_order(ctx.get(), drop.get(), batch, n, true);
    std::vector<int> ok = epoch_order(ctx.get(), keep.get(), batch, n, false);
    ASSERT_EQ(od.size(), 24u);
    ASSERT_EQ(ok.size(), 25u);
    // Same seed: the same order, one sample short.
    EXPECT_TRUE(std::equal(od.begin(), od.end(), ok.begin()));
    std::set<int> distinct(od.begin(), od.end());
    EXPECT_EQ(distinct.size(), 24u);
    // The next epoch starts with a full batch again.
    EXPECT_EQ(next_batch(ctx.get(), drop.get()).size(), 8u);

    // A batch larger than the dataset: one partial batch per epoch, or an error with drop_last.
    dgm_loader *c = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_loader_create(ctx.get(), ds.get(), 100, 1, false, &c));
    LoaderPtr big(c);
    EXPECT_EQ(dgm_loader_batches_per_epoch(big.get()), 1);
    bool ended = false;
    EXPECT_EQ(next_batch(ctx.get(), big.get(), &ended).size(), 25u);
    EXPECT_TRUE(ended);
    dgm_loader *d = nullptr;
    EXPECT_EQ(dgm_loader_create(ctx.get(), ds.get(), 100, 1, true, &d),
              DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(d, nullptr);
    EXPECT_EQ(dgm_loader_create(ctx.get(), ds.get(), 0, 1, false, &d),
              DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_loader_create(ctx.get(), nullptr, 4, 1, false, &d),
              DGM_STATUS_INVALID_ARGUMENT);
    dgm_loader_free(nullptr);
}

TEST(DataLoader, SeekReproducesAnUninterruptedRun)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    const int64_t n = 50, batch = 7; // 8 batches, the last of 1
    DatasetPtr ds = indexed_dataset(ctx.get(), n);
    dgm_loader *raw = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_loader_create(ctx.get(), ds.get(), batch, 77, false, &raw));
    LoaderPtr ref(raw);
    // The reference: 4 epochs' batches, with the position before each.
    std::vector<std::vector<int>> batches;
    std::vector<std::pair<int64_t, int64_t>> positions;
    for (int k = 0; k < 4 * 8; k++) {
        int64_t e, b;
        dgm_loader_position(ref.get(), &e, &b);
        positions.push_back({e, b});
        batches.push_back(next_batch(ctx.get(), ref.get()));
    }
    EXPECT_EQ(positions[11], std::make_pair(int64_t(1), int64_t(3)));
    // Resume from several positions, in a fresh loader and in one that has served other
    // batches already (its device order must be replaced).
    dgm_loader *r2 = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_loader_create(ctx.get(), ds.get(), batch, 77, false, &r2));
    LoaderPtr used(r2);
    next_batch(ctx.get(), used.get());
    for (int start : {0, 3, 8, 11, 17, 23}) {
        dgm_loader *r = nullptr;
        DGM_ASSERT_OK(ctx.get(), dgm_loader_create(ctx.get(), ds.get(), batch, 77, false, &r));
        LoaderPtr fresh(r);
        for (dgm_loader *l : {fresh.get(), used.get()}) {
            DGM_ASSERT_OK(ctx.get(), dgm_loader_seek(l, positions[start].first,
                                                     positions[start].second));
            for (int k = start; k < (int)batches.size(); k++)
                ASSERT_EQ(next_batch(ctx.get(), l), batches[k]) << "from " << start << " at " << k;
        }
    }
    // (e, batches_per_epoch) is the start of epoch e + 1; beyond is an error.
    DGM_ASSERT_OK(ctx.get(), dgm_loader_seek(used.get(), 1, 8));
    int64_t e, b;
    dgm_loader_position(used.get(), &e, &b);
    EXPECT_EQ(e, 2);
    EXPECT_EQ(b, 0);
    EXPECT_EQ(next_batch(ctx.get(), used.get()), batches[16]);
    EXPECT_EQ(dgm_loader_seek(used.get(), 1, 9), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_loader_seek(used.get(), -1, 0), DGM_STATUS_INVALID_ARGUMENT);
}

TEST(DataLoader, CudaServesTheSameBatchesAsCpu)
{
    SKIP_WITHOUT_GPU();
    CtxPtr cpu = make_ctx(DGM_DEVICE_CPU), gpu = make_ctx(DGM_DEVICE_CUDA);
    ASSERT_TRUE(cpu && gpu);
    const int64_t n = 1000, batch = 64;
    DatasetPtr dc = indexed_dataset(cpu.get(), n), dg = indexed_dataset(gpu.get(), n);
    dgm_loader *a = nullptr, *b = nullptr;
    DGM_ASSERT_OK(cpu.get(), dgm_loader_create(cpu.get(), dc.get(), batch, 3, false, &a));
    DGM_ASSERT_OK(gpu.get(), dgm_loader_create(gpu.get(), dg.get(), batch, 3, false, &b));
    LoaderPtr lc(a), lg(b);
    for (int k = 0; k < 40; k++) // crosses two epoch boundaries
        ASSERT_EQ(next_batch(gpu.get(), lg.get()), next_batch(cpu.get(), lc.get())) << k;
}

// ---------------------------------------------------------------- class labels

// A CSV's last column becomes the labels and leaves the samples; a value that is not a
// class index names the column and the row; a column that does not exist says so.
TEST(DataLabels, ALabelColumnLeavesTheSamples)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir tmp;
    const std::string path = tmp.path + "/l.csv";
    write_text(path, "x,y,label\n1.5,2,0\n3,4,2\n5,6,1\n");
    dgm_dataset *raw = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_dataset_load_csv(ctx.get(), path.c_str(), &raw));
    DatasetPtr ds(raw);
    EXPECT_EQ(dgm_dataset_class_count(ds.get()), 0);
    EXPECT_EQ(fails_naming(ctx.get(), dgm_dataset_take_label_column(ctx.get(), ds.get(), 3),
                           DGM_STATUS_INVALID_ARGUMENT, "column 3"), ::testing::AssertionSuccess());
    DGM_ASSERT_OK(ctx.get(), dgm_dataset_take_label_column(ctx.get(), ds.get(), -1));
    EXPECT_EQ(dgm_dataset_dim(ds.get()), 2);
    int64_t shape[3] = {0, 0, 0};
    EXPECT_EQ(dgm_dataset_sample_shape(ds.get(), shape), 1);
    EXPECT_EQ(shape[0], 2);
    EXPECT_EQ(data_of(ds.get()), (std::vector<float>{1.5f, 2, 3, 4, 5, 6}));
    const int32_t *l = dgm_dataset_labels(ds.get());
    ASSERT_NE(l, nullptr);
    EXPECT_EQ(std::vector<int32_t>(l, l + 3), (std::vector<int32_t>{0, 2, 1}));
    EXPECT_EQ(dgm_dataset_class_count(ds.get()), 3);

    write_text(path, "1,0\n2,1\n3,2.5\n");
    DGM_ASSERT_OK(ctx.get(), dgm_dataset_load_csv(ctx.get(), path.c_str(), &raw));
    ds.reset(raw);
    EXPECT_TRUE(fails_naming(ctx.get(), dgm_dataset_take_label_column(ctx.get(), ds.get(), 1),
                             DGM_STATUS_BAD_FORMAT, "label column 1: row 3 holds 2.5"));
    EXPECT_EQ(dgm_dataset_dim(ds.get()), 2);  // untouched by the refusal
    EXPECT_EQ(dgm_dataset_labels(ds.get()), nullptr);
    write_text(path, "1,-1\n");
    DGM_ASSERT_OK(ctx.get(), dgm_dataset_load_csv(ctx.get(), path.c_str(), &raw));
    ds.reset(raw);
    EXPECT_TRUE(fails_naming(ctx.get(), dgm_dataset_take_label_column(ctx.get(), ds.get(), 1),
                             DGM_STATUS_BAD_FORMAT, "row 1 holds -1"));
}

// Labels from a second file: numpy's int64 .npy (as np.save writes labels), a one-column
// CSV, an IDX labels file (gzip); a count that differs, or rows of two values, name the file.
TEST(DataLabels, ASecondFileLabelsTheRows)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir tmp;
    const std::vector<float> x = {0, 1, 2, 3};
    const int64_t one[1] = {1};
    dgm_dataset *raw = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_dataset_from_memory(ctx.get(), 4, 1, one, x.data(), nullptr, &raw));
    DatasetPtr ds(raw);
    const std::vector<int32_t> want = {3, 0, 9, 1};
    const std::string npy = tmp.path + "/y.npy", csv = tmp.path + "/y.csv", idx = tmp.path + "/y-labels-idx1-ubyte.gz";
    write_file(npy, npy_bytes(dict("<i8", "(4,)"), le_values(std::vector<int64_t>{3, 0, 9, 1})));
    write_text(csv, "label\n3\n0\n9\n1\n");
    write_gzip(idx, idx_bytes(0x08, {4}, {3, 0, 9, 1}));
    for (const std::string &path : {npy, csv, idx}) {
        DGM_ASSERT_OK(ctx.get(), dgm_dataset_load_labels(ctx.get(), ds.get(), path.c_str()));
        const int32_t *l = dgm_dataset_labels(ds.get());
        ASSERT_NE(l, nullptr) << path;
        EXPECT_EQ(std::vector<int32_t>(l, l + 4), want) << path;
        EXPECT_EQ(dgm_dataset_class_count(ds.get()), 10) << path;
    }
    const std::string short_npy = tmp.path + "/short.npy", wide = tmp.path + "/wide.npy";
    write_file(short_npy, npy_bytes(dict("|u1", "(3,)"), Bytes{1, 2, 3}));
    EXPECT_TRUE(fails_naming(ctx.get(), dgm_dataset_load_labels(ctx.get(), ds.get(), short_npy.c_str()),
                             DGM_STATUS_BAD_FORMAT, "short.npy: 3 labels for 4 samples"));
    write_file(wide, npy_bytes(dict("<f4", "(4, 2)"), le_values(std::vector<float>(8, 1.0f))));
    EXPECT_TRUE(fails_naming(ctx.get(), dgm_dataset_load_labels(ctx.get(), ds.get(), wide.c_str()),
                             DGM_STATUS_BAD_FORMAT, "wide.npy"));
    const std::string short_idx = tmp.path + "/s-labels-idx1-ubyte";
    write_file(short_idx, idx_bytes(0x08, {5}, {1, 2, 3, 4, 5}));
    EXPECT_TRUE(fails_naming(ctx.get(), dgm_dataset_load_labels(ctx.get(), ds.get(), short_idx.c_str()),
                             DGM_STATUS_BAD_FORMAT, "s-labels-idx1-ubyte: 5 labels for 4 images"));
    // The refusals kept the last good labels.
    EXPECT_EQ(std::vector<int32_t>(dgm_dataset_labels(ds.get()), dgm_dataset_labels(ds.get()) + 4), want);
}

// .npy integer dtypes (numpy's defaults for integer arrays, and bytes) read as floats.
TEST(DataNpy, ReadsIntegerDtypes)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    TempDir tmp;
    const std::vector<float> want = {-3, 0, 7, 100000};
    Bytes files[3] = {npy_bytes(dict("<i8", "(4,)"), le_values(std::vector<int64_t>{-3, 0, 7, 100000})),
                      npy_bytes(dict("<i4", "(4,)"), le_values(std::vector<int32_t>{-3, 0, 7, 100000})),
                      npy_bytes(dict("|i1", "(2, 2)"), Bytes{0xfd, 0, 7, 0x7f})};
    for (int i = 0; i < 3; i++) {
        dgm_status st;
        DatasetPtr ds = load_npy_bytes(ctx.get(), tmp.path + "/i" + std::to_string(i) + ".npy", files[i], &st);
        ASSERT_EQ(st, DGM_STATUS_OK) << i << ": " << dgm_last_error(ctx.get());
        std::vector<float> v = data_of(ds.get());
        EXPECT_EQ(v, i < 2 ? want : (std::vector<float>{-3, 0, 7, 127})) << i;
    }
    dgm_status st;
    load_npy_bytes(ctx.get(), tmp.path + "/b.npy", npy_bytes(dict(">i8", "(1,)"), Bytes(8, 0)), &st);
    EXPECT_TRUE(fails_naming(ctx.get(), st, DGM_STATUS_BAD_FORMAT, "'>i8' not supported"));
}

// A labelled loader serves each batch's labels with its rows (x = i, label = i mod 7,
// across epochs); a label beyond the class count names the row; a loader without labels
// refuses dgm_loader_next_labeled; dgm_one_hot turns the labels into rows.
TEST(DataLoader, LabelsTravelWithTheirRows)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    dgm_ctx *c = ctx.get();
    const int64_t n = 53, batch = 8, one[1] = {1};
    std::vector<float> x(n);
    std::vector<int32_t> y(n);
    for (int64_t i = 0; i < n; i++) x[i] = (float)i, y[i] = (int32_t)(i % 7);
    dgm_dataset *raw = nullptr;
    DGM_ASSERT_OK(c, dgm_dataset_from_memory(c, n, 1, one, x.data(), y.data(), &raw));
    DatasetPtr ds(raw);
    dgm_loader *lr = nullptr;
    EXPECT_TRUE(fails_naming(c, dgm_loader_create_labeled(c, ds.get(), batch, 1, false, 6, &lr),
                             DGM_STATUS_INVALID_ARGUMENT, "the label of row 7 is 6, out of range for 6 classes"));
    EXPECT_EQ(lr, nullptr);
    DGM_ASSERT_OK(c, dgm_loader_create_labeled(c, ds.get(), batch, 1, false, 7, &lr));
    LoaderPtr l(lr);
    EXPECT_EQ(dgm_loader_classes(l.get()), 7);
    for (int k = 0; k < 20; k++) {  // 7 batches an epoch: crosses two epochs
        dgm_tensor *b = nullptr, *lab = nullptr;
        DGM_ASSERT_OK(c, dgm_loader_next_labeled(l.get(), &b, &lab, nullptr));
        ASSERT_EQ(dgm_tensor_dim(lab, 0), dgm_tensor_dim(b, 0));
        ASSERT_EQ(dgm_tensor_dim(lab, 1), 1);
        const std::vector<float> bv = to_host(c, b), lv = to_host(c, lab);
        for (size_t r = 0; r < bv.size(); r++) EXPECT_EQ(lv[r], (float)((int)bv[r] % 7)) << k << " " << r;
        if (k == 0) {
            dgm_tensor *oh = nullptr;
            DGM_ASSERT_OK(c, dgm_one_hot(c, lab, 7, &oh));
            const std::vector<float> o = to_host(c, oh);
            ASSERT_EQ(o.size(), lv.size() * 7);
            for (size_t r = 0; r < lv.size(); r++)
                for (int j = 0; j < 7; j++) EXPECT_EQ(o[r * 7 + j], j == (int)lv[r] ? 1.0f : 0.0f);
        }
        DGM_ASSERT_OK(c, dgm_ctx_step_end(c));
    }
    // Same seed: the unlabelled loader serves the same rows.
    dgm_loader *plain = nullptr;
    DGM_ASSERT_OK(c, dgm_loader_create(c, ds.get(), batch, 1, false, &plain));
    LoaderPtr p(plain);
    EXPECT_EQ(dgm_loader_classes(p.get()), 0);
    dgm_tensor *b = nullptr, *lab = nullptr;
    EXPECT_TRUE(fails_naming(c, dgm_loader_next_labeled(p.get(), &b, &lab, nullptr),
                             DGM_STATUS_INVALID_ARGUMENT, "without labels"));
    DatasetPtr bare(nullptr);
    DGM_ASSERT_OK(c, dgm_dataset_from_memory(c, n, 1, one, x.data(), nullptr, &raw));
    bare.reset(raw);
    EXPECT_TRUE(fails_naming(c, dgm_loader_create_labeled(c, bare.get(), batch, 1, false, 7, &lr),
                             DGM_STATUS_INVALID_ARGUMENT, "no labels"));
}

// The CUDA loader serves the same labels with the same rows as the CPU one.
TEST(DataLoader, CudaServesTheSameLabelsAsCpu)
{
    SKIP_WITHOUT_GPU();
    CtxPtr cpu = make_ctx(DGM_DEVICE_CPU), gpu = make_ctx(DGM_DEVICE_CUDA);
    ASSERT_TRUE(cpu && gpu);
    const int64_t n = 300, one[1] = {1};
    std::vector<float> x(n);
    std::vector<int32_t> y(n);
    for (int64_t i = 0; i < n; i++) x[i] = (float)i, y[i] = (int32_t)(i % 10);
    dgm_dataset *raw = nullptr;
    DGM_ASSERT_OK(cpu.get(), dgm_dataset_from_memory(cpu.get(), n, 1, one, x.data(), y.data(), &raw));
    DatasetPtr ds(raw);
    dgm_loader *a = nullptr, *b = nullptr;
    DGM_ASSERT_OK(cpu.get(), dgm_loader_create_labeled(cpu.get(), ds.get(), 32, 3, false, 10, &a));
    DGM_ASSERT_OK(gpu.get(), dgm_loader_create_labeled(gpu.get(), ds.get(), 32, 3, false, 10, &b));
    LoaderPtr lc(a), lg(b);
    for (int k = 0; k < 25; k++) {
        dgm_tensor *xc = nullptr, *yc = nullptr, *xg = nullptr, *yg = nullptr, *oc = nullptr, *og = nullptr;
        DGM_ASSERT_OK(cpu.get(), dgm_loader_next_labeled(lc.get(), &xc, &yc, nullptr));
        DGM_ASSERT_OK(gpu.get(), dgm_loader_next_labeled(lg.get(), &xg, &yg, nullptr));
        ASSERT_EQ(to_host(gpu.get(), xg), to_host(cpu.get(), xc)) << k;
        ASSERT_EQ(to_host(gpu.get(), yg), to_host(cpu.get(), yc)) << k;
        DGM_ASSERT_OK(cpu.get(), dgm_one_hot(cpu.get(), yc, 10, &oc));
        DGM_ASSERT_OK(gpu.get(), dgm_one_hot(gpu.get(), yg, 10, &og));
        ASSERT_EQ(to_host(gpu.get(), og), to_host(cpu.get(), oc)) << k;
        DGM_ASSERT_OK(cpu.get(), dgm_ctx_step_end(cpu.get()));
        DGM_ASSERT_OK(gpu.get(), dgm_ctx_step_end(gpu.get()));
    }
}

// -1 (no class) and indices beyond the count are zero rows; a non-column is refused.
TEST(OneHot, RowsOfZerosForNoClass)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    ASSERT_TRUE(ctx);
    dgm_ctx *c = ctx.get();
    const int64_t s[2] = {4, 1}, wide[2] = {2, 2};
    const float v[4] = {2, -1, 0, 3};
    dgm_tensor *t = nullptr, *o = nullptr;
    DGM_ASSERT_OK(c, dgm_tensor_from_host(c, 2, s, v, &t));
    DGM_ASSERT_OK(c, dgm_one_hot(c, t, 3, &o));
    EXPECT_EQ(to_host(c, o), (std::vector<float>{0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0}));
    DGM_ASSERT_OK(c, dgm_tensor_from_host(c, 2, wide, v, &t));
    EXPECT_EQ(dgm_one_hot(c, t, 3, &o), DGM_STATUS_SHAPE_MISMATCH);
    DGM_ASSERT_OK(c, dgm_ctx_step_end(c));
}

} // namespace
