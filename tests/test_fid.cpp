// The Fréchet distance, the Inception-style score and dgm's own image classifier
// (host/metrics/frechet.c, sym_eig.c, inception.c, classifier.c): closed forms of the
// distance and the score, the matrix square root, training, files, and the classifier kept
// in the repository on the real Fashion-MNIST test set.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "test_files.h"
#include "test_util.h"

extern "C" {
#include "metrics/sym_eig.h"
}

using dgmtest::make_ctx;
using dgmtest::TempDir;

namespace {

using Mat = std::vector<double>; // row-major n x n

Mat matmul(const Mat &a, const Mat &b, int n)
{
    Mat c((size_t)n * n, 0.0);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < n; k++)
            for (int j = 0; j < n; j++) c[i * n + j] += a[i * n + k] * b[k * n + j];
    return c;
}

// G·Gᵀ + ridge·I for a random G: symmetric positive definite.
Mat random_spd(std::mt19937 &rng, int n, double ridge)
{
    std::normal_distribution<double> nd(0.0, 1.0);
    Mat g((size_t)n * n);
    for (double &v : g) v = nd(rng);
    Mat a((size_t)n * n, 0.0);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            for (int k = 0; k < n; k++) a[i * n + j] += g[i * n + k] * g[j * n + k];
            if (i == j) a[i * n + j] += ridge;
        }
    return a;
}

double trace(const Mat &a, int n)
{
    double t = 0.0;
    for (int i = 0; i < n; i++) t += a[i * n + i];
    return t;
}

double frechet(dgm_ctx *ctx, int dim, const std::vector<double> &ma, const Mat &ca,
               const std::vector<double> &mb, const Mat &cb)
{
    double fd = -1.0;
    EXPECT_EQ(dgm_frechet_distance_moments(ctx, dim, ma.data(), ca.data(), mb.data(), cb.data(), &fd),
              DGM_STATUS_OK)
        << dgm_last_error(ctx);
    return fd;
}

// Features whose values are multiples of 1/256 in [-4, 4]: adding a shift that is also
// such a multiple is exact in float, so a shifted copy has exactly the same covariance.
std::vector<float> grid_features(std::mt19937 &rng, int64_t n, int dim)
{
    std::uniform_int_distribution<int> ud(-1024, 1024);
    std::vector<float> x((size_t)n * dim);
    for (float &v : x) v = (float)ud(rng) / 256.0f;
    return x;
}

} // namespace

// ---- the matrix square root ----

TEST(FrechetMath, SqrtOfDiagonalIsElementwise)
{
    auto ctx = make_ctx(DGM_DEVICE_CPU);
    const Mat a = {4, 0, 0, 0, 9, 0, 0, 0, 0.25};
    Mat s(9, -1.0);
    int clamped = -1;
    DGM_ASSERT_OK(ctx.get(), dgm_sym_sqrt(ctx.get(), 3, a.data(), s.data(), &clamped));
    const Mat want = {2, 0, 0, 0, 3, 0, 0, 0, 0.5};
    for (int i = 0; i < 9; i++) EXPECT_NEAR(s[i], want[i], 1e-14) << i;
    EXPECT_EQ(clamped, 0);
}

TEST(FrechetMath, SqrtOfRandomSpdSquaresBack)
{
    auto ctx = make_ctx(DGM_DEVICE_CPU);
    std::mt19937 rng(7);
    const int n = 24;
    const Mat a = random_spd(rng, n, 0.1);
    Mat s((size_t)n * n);
    DGM_ASSERT_OK(ctx.get(), dgm_sym_sqrt(ctx.get(), n, a.data(), s.data(), nullptr));
    const Mat s2 = matmul(s, s, n);
    double scale = 0.0;
    for (double v : a) scale = std::max(scale, std::fabs(v));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            EXPECT_NEAR(s2[i * n + j], a[i * n + j], 1e-11 * scale) << i << "," << j;
            EXPECT_NEAR(s[i * n + j], s[j * n + i], 1e-12 * scale) << "symmetric";
        }
    // Eigenvalues of a PSD root are >= 0: its quadratic form is.
    std::vector<double> w(n);
    DGM_ASSERT_OK(ctx.get(), dgm_sym_eig(ctx.get(), n, s.data(), w.data(), nullptr));
    EXPECT_GT(w[0], 0.0);
}

TEST(FrechetMath, NegativeEigenvaluesAreClampedToZero)
{
    auto ctx = make_ctx(DGM_DEVICE_CPU);
    // A rotation of diag(4, -1e-12): PSD but for rounding.
    const double c = std::cos(0.3), s = std::sin(0.3);
    const double l1 = 4.0, l2 = -1e-12;
    const Mat a = {c * c * l1 + s * s * l2, c * s * (l1 - l2), c * s * (l1 - l2), s * s * l1 + c * c * l2};
    Mat r(4);
    int clamped = 0;
    DGM_ASSERT_OK(ctx.get(), dgm_sym_sqrt(ctx.get(), 2, a.data(), r.data(), &clamped));
    EXPECT_EQ(clamped, 1);
    const Mat want = {c * c * 2.0, c * s * 2.0, c * s * 2.0, s * s * 2.0}; // √4 along (c, s)
    for (int i = 0; i < 4; i++) EXPECT_NEAR(r[i], want[i], 1e-9) << i;
}

// ---- the Fréchet distance ----

TEST(Frechet, TwoByTwoMatchesClosedForm)
{
    // For 2 x 2 PSD M, tr √M = √(tr M + 2√det M); with M = A^½ B A^½, tr M = tr(AB) and
    // det M = det A · det B. A and B do not commute, so this checks the general formula.
    auto ctx = make_ctx(DGM_DEVICE_CPU);
    std::mt19937 rng(3);
    for (int trial = 0; trial < 20; trial++) {
        const Mat a = random_spd(rng, 2, 0.05), b = random_spd(rng, 2, 0.05);
        std::normal_distribution<double> nd(0.0, 2.0);
        const std::vector<double> ma = {nd(rng), nd(rng)}, mb = {nd(rng), nd(rng)};
        const Mat ab = matmul(a, b, 2);
        const double det_a = a[0] * a[3] - a[1] * a[2], det_b = b[0] * b[3] - b[1] * b[2];
        const double d2 = (ma[0] - mb[0]) * (ma[0] - mb[0]) + (ma[1] - mb[1]) * (ma[1] - mb[1]);
        const double want = d2 + trace(a, 2) + trace(b, 2) -
                            2.0 * std::sqrt(trace(ab, 2) + 2.0 * std::sqrt(det_a * det_b));
        const double fd = frechet(ctx.get(), 2, ma, a, mb, b);
        EXPECT_NEAR(fd, want, 1e-10 * (1.0 + want)) << "trial " << trial;
        EXPECT_NEAR(frechet(ctx.get(), 2, mb, b, ma, a), fd, 1e-10 * (1.0 + want)) << "symmetric";
    }
}

TEST(Frechet, ScaledCovarianceMatchesClosedForm)
{
    // B = c·A: (A^½ c A A^½)^½ = √c·A, so FD = tr A·(1 − √c)².
    auto ctx = make_ctx(DGM_DEVICE_CPU);
    std::mt19937 rng(11);
    const int n = 32;
    const Mat a = random_spd(rng, n, 0.01);
    Mat b = a;
    const double c = 2.25;
    for (double &v : b) v *= c;
    const std::vector<double> zero(n, 0.0);
    const double want = trace(a, n) * (1.0 - std::sqrt(c)) * (1.0 - std::sqrt(c));
    EXPECT_NEAR(frechet(ctx.get(), n, zero, a, zero, b), want, 1e-9 * want);
}

TEST(Frechet, DiagonalGaussiansMatchClosedForm)
{
    // Commuting covariances: FD = |μa − μb|² + Σ (σa_i − σb_i)².
    auto ctx = make_ctx(DGM_DEVICE_CPU);
    const int n = 5;
    const std::vector<double> ma = {0, 1, 2, 3, 4}, mb = {1, 1, 0, 3, -1};
    const std::vector<double> sa = {1, 2, 3, 0.5, 0}, sb = {2, 2, 1, 0.25, 3};
    Mat ca((size_t)n * n, 0.0), cb((size_t)n * n, 0.0);
    double want = 0.0;
    for (int i = 0; i < n; i++) {
        ca[i * n + i] = sa[i] * sa[i];
        cb[i * n + i] = sb[i] * sb[i];
        want += (ma[i] - mb[i]) * (ma[i] - mb[i]) + (sa[i] - sb[i]) * (sa[i] - sb[i]);
    }
    EXPECT_NEAR(frechet(ctx.get(), n, ma, ca, mb, cb), want, 1e-12 * want);
}

TEST(Frechet, SetsWithKnownSampleMoments)
{
    // {μ ± d} has mean μ and unbiased variance 2d²: {0 ± 1} and {3 ± 2} give
    // 3² + (√2 − √8)² = 9 + 2 = 11.
    auto ctx = make_ctx(DGM_DEVICE_CPU);
    const std::vector<float> a = {-1, 1}, b = {1, 5};
    double fd = -1.0;
    DGM_ASSERT_OK(ctx.get(), dgm_frechet_distance(ctx.get(), a.data(), 2, b.data(), 2, 1, &fd));
    EXPECT_NEAR(fd, 11.0, 1e-12);
    // In 2-D, {o ± (p, 0), o ± (0, q)} has mean o and covariance diag(2p²/3, 2q²/3).
    const float p = 3, q = 1.5f;
    const std::vector<float> c = {1 + p, 2, 1 - p, 2, 1, 2 + q, 1, 2 - q};
    const std::vector<float> d = {-1 + q, 0, -1 - q, 0, -1, p, -1, -p};
    const double sp = std::sqrt(2.0 * p * p / 3.0), sq = std::sqrt(2.0 * q * q / 3.0);
    const double want = 2.0 * 2.0 + 2.0 * 2.0 + 2.0 * (sp - sq) * (sp - sq);
    DGM_ASSERT_OK(ctx.get(), dgm_frechet_distance(ctx.get(), c.data(), 4, d.data(), 4, 2, &fd));
    EXPECT_NEAR(fd, want, 1e-12 * want);
}

TEST(Frechet, MomentsMatchDirectComputation)
{
    auto ctx = make_ctx(DGM_DEVICE_CPU);
    std::mt19937 rng(5);
    const int64_t n = 300;
    const int dim = 7;
    std::vector<float> x = dgmtest::random_values(rng, n * dim, -3.0f, 5.0f);
    std::vector<double> mean(dim), cov((size_t)dim * dim);
    DGM_ASSERT_OK(ctx.get(), dgm_feature_moments(ctx.get(), x.data(), n, dim, mean.data(), cov.data()));
    for (int c = 0; c < dim; c++) {
        double m = 0.0;
        for (int64_t i = 0; i < n; i++) m += x[i * dim + c];
        m /= (double)n;
        EXPECT_NEAR(mean[c], m, 1e-12);
    }
    for (int r = 0; r < dim; r++)
        for (int c = 0; c < dim; c++) {
            double s = 0.0;
            for (int64_t i = 0; i < n; i++) s += (x[i * dim + r] - mean[r]) * (x[i * dim + c] - mean[c]);
            EXPECT_NEAR(cov[r * dim + c], s / (double)(n - 1), 1e-11) << r << "," << c;
        }
}

TEST(Frechet, SetWithItselfIsZero)
{
    auto ctx = make_ctx(DGM_DEVICE_CPU);
    std::mt19937 rng(1);
    const int64_t n = 2000;
    const int dim = 64;
    const std::vector<float> x = dgmtest::random_values(rng, n * dim, 0.0f, 3.0f);
    double fd = -1.0;
    DGM_ASSERT_OK(ctx.get(), dgm_frechet_distance(ctx.get(), x.data(), n, x.data(), n, dim, &fd));
    EXPECT_GE(fd, 0.0);
    EXPECT_LT(fd, 1e-9);
}

TEST(Frechet, ShiftedSetIsShiftSquared)
{
    auto ctx = make_ctx(DGM_DEVICE_CPU);
    std::mt19937 rng(2);
    const int64_t n = 1000;
    const int dim = 16;
    const std::vector<float> x = grid_features(rng, n, dim);
    std::vector<float> y = x;
    double shift2 = 0.0;
    for (int c = 0; c < dim; c++) {
        const float s = (float)(c % 5 - 2) * 0.375f; // exact in float
        shift2 += (double)s * s;
        for (int64_t i = 0; i < n; i++) y[i * dim + c] += s;
    }
    double fd = -1.0;
    DGM_ASSERT_OK(ctx.get(), dgm_frechet_distance(ctx.get(), x.data(), n, y.data(), n, dim, &fd));
    EXPECT_GT(fd, 0.0);
    EXPECT_NEAR(fd, shift2, 1e-9 * shift2);
}

TEST(Frechet, RejectsBadInput)
{
    auto ctx = make_ctx(DGM_DEVICE_CPU);
    std::vector<float> x = {1, 2, 3, 4, 5, 6};
    double fd = 0.0;
    EXPECT_EQ(dgm_frechet_distance(ctx.get(), x.data(), 1, x.data(), 3, 2, &fd), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_frechet_distance(ctx.get(), nullptr, 3, x.data(), 3, 2, &fd), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_frechet_distance(ctx.get(), x.data(), 3, x.data(), 3, 0, &fd), DGM_STATUS_INVALID_ARGUMENT);
    x[3] = NAN;
    EXPECT_EQ(dgm_frechet_distance(ctx.get(), x.data(), 3, x.data(), 3, 2, &fd), DGM_STATUS_NOT_FINITE);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find("row 1"), std::string::npos)
        << dgm_last_error(ctx.get());
    const std::vector<double> m = {0.0}, c = {INFINITY};
    EXPECT_EQ(dgm_frechet_distance_moments(ctx.get(), 1, m.data(), c.data(), m.data(), m.data(), &fd),
              DGM_STATUS_NOT_FINITE);
}

// dim x dim covariances that size_t cannot count are OOM before anything is allocated or
// read (2^30: two of them wrapped round to a 0-byte allocation).
TEST(Frechet, DimTooLargeForSizeTIsOom)
{
    auto ctx = make_ctx(DGM_DEVICE_CPU);
    const std::vector<float> x(8, 1.0f);
    const int huge = 1 << 30;
    double fd = -1.0;
    EXPECT_EQ(dgm_frechet_distance(ctx.get(), x.data(), 2, x.data(), 2, huge, &fd), DGM_STATUS_OOM);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find("too large"), std::string::npos);
    const std::vector<double> m(8, 0.0);
    EXPECT_EQ(dgm_frechet_distance_moments(ctx.get(), INT32_MAX, m.data(), m.data(), m.data(), m.data(), &fd),
              DGM_STATUS_OOM);
    EXPECT_EQ(fd, -1.0);
}

// ---- the Inception-style score ----

TEST(Inception, IdenticalConfidentPredictionsScoreOne)
{
    auto ctx = make_ctx(DGM_DEVICE_CPU);
    const int k = 10, n = 40;
    std::vector<float> p((size_t)n * k, 0.0f);
    for (int i = 0; i < n; i++) p[i * k + 3] = 1.0f;
    double is = 0.0;
    DGM_ASSERT_OK(ctx.get(), dgm_inception_score_probs(ctx.get(), p.data(), n, k, &is));
    EXPECT_NEAR(is, 1.0, 1e-12);
    // So do identical unsure rows: p(y|x) = p(y).
    for (int i = 0; i < n; i++)
        for (int c = 0; c < k; c++) p[i * k + c] = 0.1f;
    DGM_ASSERT_OK(ctx.get(), dgm_inception_score_probs(ctx.get(), p.data(), n, k, &is));
    EXPECT_NEAR(is, 1.0, 1e-6);
}

TEST(Inception, SpreadConfidentPredictionsScoreClassCount)
{
    auto ctx = make_ctx(DGM_DEVICE_CPU);
    const int k = 10, n = 50;
    std::vector<float> p((size_t)n * k, 0.0f);
    for (int i = 0; i < n; i++) p[i * k + i % k] = 1.0f;
    double is = 0.0;
    DGM_ASSERT_OK(ctx.get(), dgm_inception_score_probs(ctx.get(), p.data(), n, k, &is));
    EXPECT_NEAR(is, (double)k, 1e-10);
    // Confident over 4 of the classes only: 4.
    for (int i = 0; i < 40; i++) {
        std::fill(p.begin() + i * k, p.begin() + (i + 1) * k, 0.0f);
        p[i * k + i % 4] = 1.0f;
    }
    DGM_ASSERT_OK(ctx.get(), dgm_inception_score_probs(ctx.get(), p.data(), 40, k, &is));
    EXPECT_NEAR(is, 4.0, 1e-10);
}

TEST(Inception, RandomRowsScoreBetweenOneAndClassCount)
{
    auto ctx = make_ctx(DGM_DEVICE_CPU);
    std::mt19937 rng(9);
    const int k = 6, n = 200;
    std::vector<float> p = dgmtest::random_values(rng, (int64_t)n * k, 0.0f, 1.0f);
    for (int i = 0; i < n; i++) {
        float s = 0.0f;
        for (int c = 0; c < k; c++) s += p[i * k + c];
        for (int c = 0; c < k; c++) p[i * k + c] /= s;
    }
    double is = 0.0;
    DGM_ASSERT_OK(ctx.get(), dgm_inception_score_probs(ctx.get(), p.data(), n, k, &is));
    EXPECT_GT(is, 1.0);
    EXPECT_LT(is, (double)k);
}

TEST(Inception, RejectsRowsThatAreNotDistributions)
{
    auto ctx = make_ctx(DGM_DEVICE_CPU);
    std::vector<float> p = {0.5f, 0.5f, 0.7f, 0.7f};
    double is = 0.0;
    EXPECT_EQ(dgm_inception_score_probs(ctx.get(), p.data(), 2, 2, &is), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find("row 1"), std::string::npos);
    p = {1.5f, -0.5f};
    EXPECT_EQ(dgm_inception_score_probs(ctx.get(), p.data(), 1, 2, &is), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(dgm_inception_score_probs(ctx.get(), nullptr, 1, 2, &is), DGM_STATUS_INVALID_ARGUMENT);
}

// ---- the classifier ----

namespace {

struct ClassifierDeleter {
    void operator()(dgm_classifier *c) const { dgm_classifier_free(c); }
};
using ClassifierPtr = std::unique_ptr<dgm_classifier, ClassifierDeleter>;

struct DatasetDeleter {
    void operator()(dgm_dataset *d) const { dgm_dataset_free(d); }
};
using DatasetPtr = std::unique_ptr<dgm_dataset, DatasetDeleter>;

// `classes` noisy copies of random prototype images: separable, so a classifier learns it.
struct Synthetic {
    std::vector<float> x;
    std::vector<int32_t> y;
};

Synthetic synthetic_images(uint32_t seed, int64_t n, int dim, int classes, float noise)
{
    std::mt19937 proto_rng(1234); // the same prototypes for every set
    std::vector<float> protos = dgmtest::random_values(proto_rng, (int64_t)classes * dim, 0.0f, 1.0f);
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, noise);
    Synthetic s;
    s.x.resize((size_t)n * dim);
    s.y.resize((size_t)n);
    for (int64_t i = 0; i < n; i++) {
        const int c = (int)(rng() % (uint32_t)classes);
        s.y[i] = c;
        for (int d = 0; d < dim; d++)
            s.x[i * dim + d] = std::clamp(protos[c * dim + d] + nd(rng), 0.0f, 1.0f);
    }
    return s;
}

DatasetPtr dataset_of(dgm_ctx *ctx, const Synthetic &s, int dim)
{
    dgm_dataset *ds = nullptr;
    const int64_t shape[1] = {dim};
    EXPECT_EQ(dgm_dataset_from_memory(ctx, (int64_t)s.y.size(), 1, shape, s.x.data(), s.y.data(), &ds),
              DGM_STATUS_OK)
        << dgm_last_error(ctx);
    return DatasetPtr(ds);
}

// A classifier trained on s (images of dim values) with o; nullptr, with a failure, when
// training fails.
ClassifierPtr train_on(dgm_ctx *ctx, const Synthetic &s, int dim, const dgm_classifier_options &o)
{
    DatasetPtr ds = dataset_of(ctx, s, dim);
    dgm_classifier *clf = nullptr;
    EXPECT_EQ(dgm_classifier_train(ctx, ds.get(), &o, &clf), DGM_STATUS_OK) << dgm_last_error(ctx);
    return ClassifierPtr(clf);
}

dgm_classifier_options small_options()
{
    dgm_classifier_options o = dgm_classifier_options_default();
    o.hidden[0] = 32;
    o.hidden[1] = 8;
    o.epochs = 3;
    o.batch = 32;
    o.lr = 3e-3f;
    o.seed = 4;
    return o;
}

// The Fashion-MNIST split, or nullptr with the reason in *why.
DatasetPtr fashion(dgm_ctx *ctx, dgm_split split, std::string *why)
{
    dgm_dataset *ds = nullptr;
    if (dgm_dataset_load(ctx, "fashion-mnist", split, 0, &ds) != DGM_STATUS_OK) {
        *why = std::string("Fashion-MNIST not found (apt-get install dataset-fashion-mnist or set "
                           "DGM_DATA_DIR): ") +
               dgm_last_error(ctx);
        return DatasetPtr();
    }
    return DatasetPtr(ds);
}

// The classifier kept in the repository.
ClassifierPtr committed_classifier(dgm_ctx *ctx)
{
    const std::string path = std::string(DGM_SOURCE_DIR) + "/" + DGM_FASHION_MNIST_CLASSIFIER;
    dgm_classifier *clf = nullptr;
    EXPECT_EQ(dgm_classifier_load(ctx, path.c_str(), &clf), DGM_STATUS_OK) << dgm_last_error(ctx);
    return ClassifierPtr(clf);
}

} // namespace

TEST(Classifier, LearnsSeparableClasses)
{
    auto ctx = make_ctx(DGM_DEVICE_CPU, 1);
    const int dim = 64, k = 5;
    const Synthetic train = synthetic_images(1, 2000, dim, k, 0.3f);
    const Synthetic test = synthetic_images(2, 500, dim, k, 0.3f);
    dgm_classifier_options o = small_options();
    o.epochs = 10; // long enough for confident predictions (the score below)
    ClassifierPtr clf = train_on(ctx.get(), train, dim, o);
    ASSERT_TRUE(clf);
    dgm_classifier *raw = clf.get();
    EXPECT_EQ(dgm_classifier_input_dim(raw), dim);
    EXPECT_EQ(dgm_classifier_feature_dim(raw), 8);
    EXPECT_EQ(dgm_classifier_classes(raw), k);
    double acc = 0.0;
    DGM_ASSERT_OK(ctx.get(), dgm_classifier_accuracy(raw, test.x.data(), test.y.data(), 500, &acc));
    EXPECT_GT(acc, 0.95);
    std::vector<float> probs(500 * k);
    DGM_ASSERT_OK(ctx.get(), dgm_classifier_probs(raw, test.x.data(), 500, probs.data()));
    for (int i = 0; i < 500; i++) {
        double s = 0.0;
        for (int c = 0; c < k; c++) s += probs[i * k + c];
        EXPECT_NEAR(s, 1.0, 1e-5);
    }
    // Confident and balanced over 5 classes: an Inception-style score near 5.
    double is = 0.0;
    DGM_ASSERT_OK(ctx.get(), dgm_inception_score(ctx.get(), raw, test.x.data(), 500, &is));
    EXPECT_GT(is, 4.0);
    EXPECT_LE(is, 5.0 + 1e-9);
}

TEST(Classifier, TrainingIsDeterministicForTheSeed)
{
    const int dim = 32, k = 3;
    const Synthetic train = synthetic_images(3, 600, dim, k, 0.4f);
    std::vector<float> feats[2];
    for (int run = 0; run < 2; run++) {
        auto ctx = make_ctx(DGM_DEVICE_CPU, 5);
        dgm_classifier_options o = small_options();
        o.epochs = 2;
        ClassifierPtr clf = train_on(ctx.get(), train, dim, o);
        ASSERT_TRUE(clf);
        dgm_classifier *raw = clf.get();
        feats[run].resize(100 * 8);
        DGM_ASSERT_OK(ctx.get(), dgm_classifier_features(raw, train.x.data(), 100, feats[run].data()));
    }
    EXPECT_EQ(feats[0], feats[1]);
}

TEST(Classifier, FashionSubsetWellAboveChance)
{
    auto ctx = make_ctx(DGM_DEVICE_CPU, 0);
    std::string why;
    DatasetPtr train = fashion(ctx.get(), DGM_SPLIT_TRAIN, &why);
    if (!train) GTEST_SKIP() << why;
    DatasetPtr test = fashion(ctx.get(), DGM_SPLIT_TEST, &why);
    if (!test) GTEST_SKIP() << why;
    // The first 10,000 training images, 3 epochs of a small network: a few seconds.
    const int64_t n = 10000, dim = dgm_dataset_dim(train.get());
    dgm_dataset *sub = nullptr;
    const int64_t shape[2] = {28, 28};
    DGM_ASSERT_OK(ctx.get(), dgm_dataset_from_memory(ctx.get(), n, 2, shape, dgm_dataset_data(train.get()),
                                                     dgm_dataset_labels(train.get()), &sub));
    DatasetPtr subset(sub);
    dgm_classifier_options o = dgm_classifier_options_default();
    o.hidden[0] = 128;
    o.hidden[1] = 32;
    o.epochs = 3;
    o.batch = 64;
    dgm_classifier *raw = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_classifier_train(ctx.get(), sub, &o, &raw));
    ClassifierPtr clf(raw);
    double acc = 0.0;
    DGM_ASSERT_OK(ctx.get(), dgm_classifier_accuracy(raw, dgm_dataset_data(test.get()),
                                                     dgm_dataset_labels(test.get()), 2000, &acc));
    std::printf("[ classifier ] 10000 training images, 3 epochs: accuracy %.4f on 2000 test images\n", acc);
    EXPECT_GT(acc, 0.70); // chance is 0.10
    EXPECT_EQ(dim, 784);
}

TEST(Classifier, SaveLoadRoundTripGivesIdenticalOutputs)
{
    auto ctx = make_ctx(DGM_DEVICE_CPU, 2);
    const int dim = 48, k = 4;
    const Synthetic train = synthetic_images(4, 800, dim, k, 0.3f);
    dgm_classifier_options o = small_options();
    o.n_hidden = 3;
    o.hidden[2] = 6;
    ClassifierPtr clf = train_on(ctx.get(), train, dim, o);
    ASSERT_TRUE(clf);
    dgm_classifier *raw = clf.get();
    TempDir dir;
    const std::string path = dir.file("clf.safetensors");
    DGM_ASSERT_OK(ctx.get(), dgm_classifier_save(raw, path.c_str()));

    uint64_t seed0, off0, seed1, off1;
    dgm_ctx_rng_state(ctx.get(), &seed0, &off0);
    dgm_classifier *loaded_raw = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_classifier_load(ctx.get(), path.c_str(), &loaded_raw));
    ClassifierPtr loaded(loaded_raw);
    dgm_ctx_rng_state(ctx.get(), &seed1, &off1);
    EXPECT_EQ(off0, off1) << "loading drew from the generator";
    EXPECT_EQ(dgm_classifier_feature_dim(loaded_raw), 6);
    EXPECT_EQ(dgm_classifier_classes(loaded_raw), k);

    const int64_t n = 300;
    std::vector<float> fa(n * 6), fb(n * 6), pa(n * k), pb(n * k);
    DGM_ASSERT_OK(ctx.get(), dgm_classifier_features(raw, train.x.data(), n, fa.data()));
    DGM_ASSERT_OK(ctx.get(), dgm_classifier_features(loaded_raw, train.x.data(), n, fb.data()));
    DGM_ASSERT_OK(ctx.get(), dgm_classifier_probs(raw, train.x.data(), n, pa.data()));
    DGM_ASSERT_OK(ctx.get(), dgm_classifier_probs(loaded_raw, train.x.data(), n, pb.data()));
    EXPECT_EQ(fa, fb);
    EXPECT_EQ(pa, pb);

    // Saving the loaded one writes the same bytes (the training metadata is carried over).
    const std::string again = dir.file("again.safetensors");
    DGM_ASSERT_OK(ctx.get(), dgm_classifier_save(loaded_raw, again.c_str()));
    EXPECT_EQ(dgmtest::read_bytes(path), dgmtest::read_bytes(again));
    dgm_safetensors *st = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_safetensors_load(ctx.get(), path.c_str(), &st));
    EXPECT_STREQ(dgm_safetensors_meta(st, "format"), "dgm-classifier");
    EXPECT_STREQ(dgm_safetensors_meta(st, "widths"), "48,32,8,6,4");
    EXPECT_STREQ(dgm_safetensors_meta(st, "epochs"), "3");
    EXPECT_GE(dgm_safetensors_find(st, "fc4.weight"), 0);
    dgm_safetensors_free(st);
}

TEST(Classifier, CorruptOrWrongFilesAreErrors)
{
    auto ctx = make_ctx(DGM_DEVICE_CPU, 2);
    const int dim = 16, k = 3;
    const Synthetic train = synthetic_images(5, 200, dim, k, 0.3f);
    dgm_classifier_options o = small_options();
    o.epochs = 1;
    ClassifierPtr clf = train_on(ctx.get(), train, dim, o);
    ASSERT_TRUE(clf);
    dgm_classifier *raw = clf.get();
    TempDir dir;
    const std::string good = dir.file("good.safetensors");
    DGM_ASSERT_OK(ctx.get(), dgm_classifier_save(raw, good.c_str()));
    const std::vector<unsigned char> bytes = dgmtest::read_bytes(good);

    auto load = [&](const std::string &path) {
        dgm_classifier *c = nullptr;
        const dgm_status st = dgm_classifier_load(ctx.get(), path.c_str(), &c);
        EXPECT_EQ(c, nullptr);
        dgm_classifier_free(c);
        return st;
    };
    EXPECT_EQ(load(dir.file("missing.safetensors")), DGM_STATUS_IO_ERROR);
    // Truncated anywhere: in the length, the header, the data.
    for (size_t cut : {size_t(4), size_t(20), bytes.size() / 2, bytes.size() - 1}) {
        const std::string p = dir.file("cut.safetensors");
        dgmtest::write_bytes(p, std::vector<unsigned char>(bytes.begin(), bytes.begin() + (long)cut));
        EXPECT_EQ(load(p), DGM_STATUS_BAD_FORMAT) << "cut at " << cut;
    }
    const std::string junk = dir.file("junk.safetensors");
    dgmtest::write_bytes(junk, std::vector<unsigned char>(300, 0xAB));
    EXPECT_EQ(load(junk), DGM_STATUS_BAD_FORMAT);

    // Well-formed safetensors that are not a classifier, or not the one the widths say.
    const std::vector<float> w(16 * 32, 0.5f), bias(32, 0.0f);
    dgm_st_tensor t[2] = {{"fc1.weight", 2, {32, 16}, w.data()}, {"fc1.bias", 1, {32}, bias.data()}};
    auto write = [&](const char *name, const std::vector<const char *> &keys,
                     const std::vector<const char *> &vals, int n_tensors) {
        const std::string p = dir.file(name);
        EXPECT_EQ(dgm_safetensors_save(ctx.get(), p.c_str(), t, n_tensors, keys.data(), vals.data(),
                                       (int)keys.size()),
                  DGM_STATUS_OK);
        return p;
    };
    EXPECT_EQ(load(write("other.safetensors", {"format"}, {"dgm-checkpoint"}, 2)), DGM_STATUS_BAD_FORMAT);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find("not a dgm classifier"), std::string::npos);
    EXPECT_EQ(load(write("widths.safetensors", {"format", "widths"}, {"dgm-classifier", "16,x,3"}, 2)),
              DGM_STATUS_BAD_FORMAT);
    EXPECT_EQ(load(write("count.safetensors", {"format", "widths"}, {"dgm-classifier", "16,32,3"}, 2)),
              DGM_STATUS_BAD_FORMAT);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find("tensors"), std::string::npos);
    const std::vector<float> w2(3 * 32, 0.1f), b2(3, 0.0f);
    dgm_st_tensor t4[4] = {t[0], t[1], {"fc2.weight", 2, {3, 31}, w2.data()}, {"fc2.bias", 1, {3}, b2.data()}};
    {
        const std::string p = dir.file("shape.safetensors");
        const char *keys[2] = {"format", "widths"}, *vals[2] = {"dgm-classifier", "16,32,3"};
        DGM_ASSERT_OK(ctx.get(), dgm_safetensors_save(ctx.get(), p.c_str(), t4, 4, keys, vals, 2));
        EXPECT_EQ(load(p), DGM_STATUS_BAD_FORMAT);
        EXPECT_NE(std::string(dgm_last_error(ctx.get())).find("fc2.weight"), std::string::npos)
            << dgm_last_error(ctx.get());
        std::vector<float> nan_w(3 * 32, 0.1f);
        nan_w[7] = NAN;
        t4[2] = {"fc2.weight", 2, {3, 32}, nan_w.data()};
        DGM_ASSERT_OK(ctx.get(), dgm_safetensors_save(ctx.get(), p.c_str(), t4, 4, keys, vals, 2));
        EXPECT_EQ(load(p), DGM_STATUS_BAD_FORMAT);
        nan_w[7] = 0.0f; // and with a finite value it loads
        DGM_ASSERT_OK(ctx.get(), dgm_safetensors_save(ctx.get(), p.c_str(), t4, 4, keys, vals, 2));
        dgm_classifier *c = nullptr;
        DGM_ASSERT_OK(ctx.get(), dgm_classifier_load(ctx.get(), p.c_str(), &c));
        EXPECT_EQ(dgm_classifier_feature_dim(c), 32);
        dgm_classifier_free(c);
    }
}

TEST(Classifier, RejectsBadTrainingInput)
{
    auto ctx = make_ctx(DGM_DEVICE_CPU);
    const std::vector<float> x(100 * 4, 0.5f);
    const int64_t shape[1] = {4};
    dgm_dataset *raw = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_dataset_from_memory(ctx.get(), 100, 1, shape, x.data(), nullptr, &raw));
    DatasetPtr unlabelled(raw);
    dgm_classifier *clf = nullptr;
    EXPECT_EQ(dgm_classifier_train(ctx.get(), raw, nullptr, &clf), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find("no labels"), std::string::npos);
    std::vector<int32_t> y(100, 0);
    DGM_ASSERT_OK(ctx.get(), dgm_dataset_from_memory(ctx.get(), 100, 1, shape, x.data(), y.data(), &raw));
    DatasetPtr one_class(raw);
    EXPECT_EQ(dgm_classifier_train(ctx.get(), raw, nullptr, &clf), DGM_STATUS_INVALID_ARGUMENT);
    y[5] = -1;
    DGM_ASSERT_OK(ctx.get(), dgm_dataset_from_memory(ctx.get(), 100, 1, shape, x.data(), y.data(), &raw));
    DatasetPtr negative(raw);
    EXPECT_EQ(dgm_classifier_train(ctx.get(), raw, nullptr, &clf), DGM_STATUS_INVALID_ARGUMENT);
    y[5] = 1;
    DGM_ASSERT_OK(ctx.get(), dgm_dataset_from_memory(ctx.get(), 100, 1, shape, x.data(), y.data(), &raw));
    DatasetPtr ok(raw);
    dgm_classifier_options o = small_options();
    o.dropout = 1.0f;
    EXPECT_EQ(dgm_classifier_train(ctx.get(), raw, &o, &clf), DGM_STATUS_INVALID_ARGUMENT);
    o = small_options();
    o.n_hidden = 0;
    EXPECT_EQ(dgm_classifier_train(ctx.get(), raw, &o, &clf), DGM_STATUS_INVALID_ARGUMENT);
    o = small_options();
    o.batch = 101;
    EXPECT_EQ(dgm_classifier_train(ctx.get(), raw, &o, &clf), DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(clf, nullptr);
    EXPECT_EQ(dgm_classifier_features(nullptr, x.data(), 1, nullptr), DGM_STATUS_INVALID_ARGUMENT);
}

// ---- the classifier kept in the repository, on the real test set ----

TEST(Fid, CommittedClassifierReachesItsAccuracy)
{
    auto ctx = make_ctx(DGM_DEVICE_CPU);
    ClassifierPtr clf = committed_classifier(ctx.get());
    ASSERT_TRUE(clf);
    dgm_classifier *raw = clf.get();
    EXPECT_EQ(dgm_classifier_input_dim(raw), 784);
    EXPECT_EQ(dgm_classifier_classes(raw), 10);
    std::string why;
    DatasetPtr test = fashion(ctx.get(), DGM_SPLIT_TEST, &why);
    if (!test) GTEST_SKIP() << why;
    double acc = 0.0;
    DGM_ASSERT_OK(ctx.get(), dgm_classifier_accuracy(raw, dgm_dataset_data(test.get()),
                                                     dgm_dataset_labels(test.get()),
                                                     dgm_dataset_count(test.get()), &acc));
    std::printf("[ classifier ] %s: test accuracy %.4f on %lld images\n", DGM_FASHION_MNIST_CLASSIFIER,
                acc, (long long)dgm_dataset_count(test.get()));
    EXPECT_GE(acc, 0.89);
}

TEST(Fid, TestHalvesAreCloseAndDistortedImagesFar)
{
    auto ctx = make_ctx(DGM_DEVICE_CPU, 3);
    ClassifierPtr clf = committed_classifier(ctx.get());
    ASSERT_TRUE(clf);
    dgm_classifier *raw = clf.get();
    std::string why;
    DatasetPtr test = fashion(ctx.get(), DGM_SPLIT_TEST, &why);
    if (!test) GTEST_SKIP() << why;
    const int64_t half = 5000, dim = 784;
    const float *x = dgm_dataset_data(test.get());
    ASSERT_EQ(dgm_dataset_count(test.get()), 2 * half);
    const float *first = x, *last = x + half * dim;

    std::mt19937 rng(17);
    std::normal_distribution<float> nd(0.0f, 0.2f);
    std::vector<float> noised(last, last + half * dim), shifted((size_t)(half * dim), 0.0f),
        brighter(last, last + half * dim);
    for (float &v : noised) v = std::clamp(v + nd(rng), 0.0f, 1.0f);
    for (float &v : brighter) v = std::min(v + 0.25f, 1.0f);
    for (int64_t i = 0; i < half; i++) // 3 pixels right and down, zeros in
        for (int r = 3; r < 28; r++)
            for (int c = 3; c < 28; c++) shifted[i * dim + r * 28 + c] = last[i * dim + (r - 3) * 28 + (c - 3)];

    double same = 0, noise = 0, shift = 0, bright = 0;
    DGM_ASSERT_OK(ctx.get(), dgm_fid_images(ctx.get(), raw, first, half, last, half, &same));
    DGM_ASSERT_OK(ctx.get(), dgm_fid_images(ctx.get(), raw, first, half, noised.data(), half, &noise));
    DGM_ASSERT_OK(ctx.get(), dgm_fid_images(ctx.get(), raw, first, half, shifted.data(), half, &shift));
    DGM_ASSERT_OK(ctx.get(), dgm_fid_images(ctx.get(), raw, first, half, brighter.data(), half, &bright));
    double is_test = 0, is_noise = 0;
    DGM_ASSERT_OK(ctx.get(), dgm_inception_score(ctx.get(), raw, x, 2 * half, &is_test));
    DGM_ASSERT_OK(ctx.get(), dgm_inception_score(ctx.get(), raw, noised.data(), half, &is_noise));
    std::printf("[ fid ] test[:5000] vs test[5000:]: %.4f; vs noised (σ 0.2): %.4f; vs shifted "
                "(3 px): %.4f; vs brighter (+0.25): %.4f\n",
                same, noise, shift, bright);
    std::printf("[ is ] test set: %.4f; noised last half: %.4f (of 10)\n", is_test, is_noise);
    EXPECT_GT(noise, 10.0 * same);
    EXPECT_GT(shift, 10.0 * same);
    EXPECT_GT(bright, 10.0 * same);
    EXPECT_GT(is_test, 5.0);
    EXPECT_LE(is_test, 10.0);
    EXPECT_EQ(dgm_fid_images(ctx.get(), nullptr, first, half, last, half, &same), DGM_STATUS_INVALID_ARGUMENT);
}
