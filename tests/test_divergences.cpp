// Distances between two sample sets (host/metrics: histogram.c, wasserstein.c, sliced.c,
// mmd.c) against closed forms, and the `dgm compare` command.
#include <algorithm>
#include <cstring>
#include <numeric>

#include "cli_test.h"
#include "test_util.h"

using namespace dgmtest;

namespace {

using Points = std::vector<float>; // n x dim, row-major

Points gaussian(std::mt19937 &rng, int64_t n, const std::vector<double> &mean,
                const std::vector<double> &sd)
{
    std::normal_distribution<double> z;
    const size_t dim = mean.size();
    Points p((size_t)n * dim);
    for (int64_t i = 0; i < n; i++)
        for (size_t c = 0; c < dim; c++) p[(size_t)i * dim + c] = (float)(mean[c] + sd[c] * z(rng));
    return p;
}

Points uniform(std::mt19937 &rng, int64_t n, int dim, double lo, double hi)
{
    std::uniform_real_distribution<double> u(lo, hi);
    Points p((size_t)n * dim);
    for (float &v : p) v = (float)u(rng);
    return p;
}

// Each test's CPU context (seed 1).
class CpuCtxTest : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(ctx); }
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
};
using DivergenceHistogram = CpuCtxTest;
using DivergenceWasserstein = CpuCtxTest;
using DivergenceSliced = CpuCtxTest;
using DivergenceMmd = CpuCtxTest;
using DivergenceArgs = CpuCtxTest;

// Points on a grid of step 1/256 in [-8, 8]: adding a translation by small integers to
// them is exact in float, so distances to the translated set are exact.
Points grid_points(std::mt19937 &rng, int64_t n, int dim)
{
    std::uniform_int_distribution<int> k(-2048, 2048);
    Points p((size_t)n * dim);
    for (float &v : p) v = (float)k(rng) / 256.0f;
    return p;
}

// x + d per row, rows shuffled.
Points translated(std::mt19937 &rng, const Points &x, const std::vector<float> &d)
{
    const size_t dim = d.size(), n = x.size() / dim;
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    Points y(x.size());
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < dim; c++) y[i * dim + c] = x[order[i] * dim + c] + d[c];
    return y;
}

int64_t rows(const Points &p, int dim) { return (int64_t)p.size() / dim; }

// The wrappers below return the metric, expecting the call to succeed.
void expect_ok(dgm_ctx *c, dgm_status st) { EXPECT_EQ(st, DGM_STATUS_OK) << dgm_last_error(c); }

dgm_divergences hist(dgm_ctx *c, const Points &a, const Points &b, int dim,
                     const dgm_histogram_options *o = nullptr)
{
    dgm_divergences d{};
    expect_ok(c, dgm_histogram_divergences(c, a.data(), rows(a, dim), b.data(), rows(b, dim), dim, o, &d));
    return d;
}

double exact_w(dgm_ctx *c, int p, const Points &a, const Points &b, int dim)
{
    double w = -1;
    const int64_t n = rows(a, dim);
    expect_ok(c, p == 1 ? dgm_wasserstein1(c, a.data(), b.data(), n, dim, &w)
                        : dgm_wasserstein2(c, a.data(), b.data(), n, dim, &w));
    return w;
}

double sliced(dgm_ctx *c, const Points &a, const Points &b, int dim, int directions,
              uint64_t seed)
{
    double w = -1;
    expect_ok(c, dgm_sliced_wasserstein2(c, a.data(), rows(a, dim), b.data(), rows(b, dim), dim,
                                         directions, seed, &w));
    return w;
}

double mmd2(dgm_ctx *c, const Points &a, const Points &b, int dim, double bandwidth = 0,
            double *used = nullptr)
{
    double v = NAN;
    expect_ok(c, dgm_mmd2_rbf(c, a.data(), rows(a, dim), b.data(), rows(b, dim), dim, bandwidth, &v,
                              used));
    return v;
}

double energy(dgm_ctx *c, const Points &a, const Points &b, int dim)
{
    double v = NAN;
    expect_ok(c, dgm_energy_distance(c, a.data(), rows(a, dim), b.data(), rows(b, dim), dim, &v));
    return v;
}

} // namespace

// P = N(0, 1), Q = N(0.5, 1.5^2), 200,000 draws each, 400 bins: KL(P||Q) = log(s2/s1) +
// (s1^2 + (m1-m2)^2)/(2 s2^2) - 1/2 = 0.18324 and H^2 = 1 - sqrt(2 s1 s2/(s1^2 + s2^2))
// exp(-(m1-m2)^2/(4 (s1^2 + s2^2))) = 0.05753. P is the narrower, so every cell where it
// has mass Q has enough draws too (the reverse KL would hinge on Q's tails).
TEST_F(DivergenceHistogram, KlAndHellingerOfTwoGaussiansMatchClosedForms)
{
    std::mt19937 rng(21);
    const int64_t n = 200000;
    const double s1 = 1.0, s2 = 1.5, dm = 0.5;
    Points p = gaussian(rng, n, {0.0}, {s1}), q = gaussian(rng, n, {dm}, {s2});
    dgm_histogram_options o = dgm_histogram_options_default();
    o.bins = 400;
    const dgm_divergences d = hist(ctx.get(), p, q, 1, &o);
    const double kl = std::log(s2 / s1) + (s1 * s1 + dm * dm) / (2 * s2 * s2) - 0.5;
    EXPECT_NEAR(d.kl, kl, 0.03 * kl);
    const double h2 = 1.0 - std::sqrt(2 * s1 * s2 / (s1 * s1 + s2 * s2)) *
                                std::exp(-dm * dm / (4 * (s1 * s1 + s2 * s2)));
    EXPECT_NEAR(d.hellinger2, h2, 0.05 * h2);
    EXPECT_EQ(d.outside_a, 0);
    EXPECT_EQ(d.outside_b, 0);
}

// Disjoint supports: TV = 1, JS = log 2, H^2 = 1 exactly (no smoothing there); a set
// against itself: all five are 0.
TEST_F(DivergenceHistogram, DisjointSetsAndASetWithItself)
{
    std::mt19937 rng(3);
    Points a = uniform(rng, 3000, 2, 0.0, 1.0), b = uniform(rng, 2000, 2, 2.0, 3.0);
    const dgm_divergences d = hist(ctx.get(), a, b, 2);
    EXPECT_NEAR(d.tv, 1.0, 1e-12);
    EXPECT_NEAR(d.js, std::log(2.0), 1e-12);
    EXPECT_NEAR(d.hellinger2, 1.0, 1e-12);
    EXPECT_GT(d.kl, 1.0);
    EXPECT_GT(d.chi2, 1.0);
    const dgm_divergences s = hist(ctx.get(), a, a, 2);
    EXPECT_EQ(s.kl, 0.0);
    EXPECT_EQ(s.js, 0.0);
    EXPECT_EQ(s.tv, 0.0);
    EXPECT_EQ(s.hellinger2, 0.0);
    EXPECT_EQ(s.chi2, 0.0);
}

// On random sets of different sizes, dimensions and bins: each divergence in its range,
// and the inequalities between them (H^2 <= TV <= sqrt(1 - (1 - H^2)^2), JS <= TV log 2).
TEST_F(DivergenceHistogram, RangesAndInequalitiesOnRandomSets)
{
    std::mt19937 rng(8);
    for (int trial = 0; trial < 12; trial++) {
        const int dim = 1 + trial % 3;
        std::vector<double> m(dim, 0.0), s(dim, 1.0), m2(dim, 0.3 * trial), s2(dim, 0.5 + 0.1 * trial);
        Points a = gaussian(rng, 500 + 100 * trial, m, s), b = gaussian(rng, 800, m2, s2);
        dgm_histogram_options o = dgm_histogram_options_default();
        o.bins = 4 + 3 * trial;
        const dgm_divergences d = hist(ctx.get(), a, b, dim, &o);
        EXPECT_GE(d.js, 0.0) << trial;
        EXPECT_LE(d.js, std::log(2.0)) << trial;
        EXPECT_GE(d.tv, 0.0);
        EXPECT_LE(d.tv, 1.0);
        EXPECT_GE(d.hellinger2, 0.0);
        EXPECT_LE(d.hellinger2, d.tv + 1e-12) << trial;
        const double bc = 1.0 - d.hellinger2;
        EXPECT_LE(d.tv, std::sqrt(1.0 - bc * bc) + 1e-12) << trial;
        EXPECT_LE(d.js, d.tv * std::log(2.0) + 1e-12) << trial;
        EXPECT_GT(d.kl, 0.0);
        EXPECT_GT(d.chi2, 0.0);
        EXPECT_GE(d.chi2, std::expm1(d.kl) - 1e-9) << trial; // KL <= log(1 + chi^2)
    }
}

// A given extent: points outside it are left out and counted; moving the extent over
// one set alone is an error.
TEST_F(DivergenceHistogram, ExtentLeavesOutsidePointsOut)
{
    const Points a{0.1f, 0.2f, 0.6f, 5.0f}, b{0.15f, 0.7f, -3.0f};
    const double extent[2] = {0.0, 1.0};
    dgm_histogram_options o = dgm_histogram_options_default();
    o.bins = 2;
    o.extent = extent;
    const dgm_divergences d = hist(ctx.get(), a, b, 1, &o);
    EXPECT_EQ(d.outside_a, 1);
    EXPECT_EQ(d.outside_b, 1);
    // p = (2/3, 1/3), q = (1/2, 1/2)
    EXPECT_NEAR(d.tv, 1.0 / 6.0, 1e-12);
    EXPECT_NEAR(d.hellinger2, 1.0 - std::sqrt(1.0 / 3.0) - std::sqrt(1.0 / 6.0), 1e-12);
    const double far[2] = {10.0, 11.0};
    o.extent = far;
    dgm_divergences bad{};
    EXPECT_EQ(dgm_histogram_divergences(ctx.get(), a.data(), 4, b.data(), 3, 1, &o, &bad),
              DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find("within the extent"), std::string::npos);
}

// b = a + d, rows shuffled: the exact W2 and W1 are |d| (the grid makes a + d exact).
TEST_F(DivergenceWasserstein, TranslatedSetIsTheTranslationLength)
{
    std::mt19937 rng(5);
    Points a = grid_points(rng, 400, 2);
    Points b = translated(rng, a, {3.0f, -4.0f});
    EXPECT_NEAR(exact_w(ctx.get(), 2, a, b, 2), 5.0, 1e-12);
    EXPECT_NEAR(exact_w(ctx.get(), 1, a, b, 2), 5.0, 1e-12);
    Points c = grid_points(rng, 300, 3);
    Points e = translated(rng, c, {0.5f, 1.0f, -1.0f});
    EXPECT_NEAR(exact_w(ctx.get(), 2, c, e, 3), 1.5, 1e-12);
    EXPECT_NEAR(exact_w(ctx.get(), 1, c, e, 3), 1.5, 1e-12);
    // W1 <= W2 (Jensen) on sets that are not translates.
    Points f = grid_points(rng, 300, 3);
    EXPECT_LE(exact_w(ctx.get(), 1, c, f, 3), exact_w(ctx.get(), 2, c, f, 3));
}

// N(m1, S1) against N(m2, S2) in 2-D: W2^2 = |m1 - m2|^2 + tr(S1 + S2 - 2 (S1^1/2 S2
// S1^1/2)^1/2) = 1.9236^2 (SciPy's sqrtm, and the 2x2 closed form below). 1,000 draws each:
// the empirical W2 runs a little above (two samples of one law are ~0.2 apart at this n,
// which adds roughly in quadrature: ~1.934).
TEST_F(DivergenceWasserstein, TwoGaussiansNearTheirClosedForm)
{
    std::mt19937 rng(11);
    const int64_t n = 1000;
    // S1 = [[1, .6], [.6, 1]] = L L^T with L = [[1, 0], [.6, .8]]; S2 = diag(2, .5).
    std::normal_distribution<double> z;
    Points a((size_t)(2 * n)), b((size_t)(2 * n));
    for (int64_t i = 0; i < n; i++) {
        const double z0 = z(rng), z1 = z(rng);
        a[(size_t)(2 * i)] = (float)z0;
        a[(size_t)(2 * i + 1)] = (float)(0.6 * z0 + 0.8 * z1);
        b[(size_t)(2 * i)] = (float)(1.5 + std::sqrt(2.0) * z(rng));
        b[(size_t)(2 * i + 1)] = (float)(-1.0 + std::sqrt(0.5) * z(rng));
    }
    // sqrt of a 2x2 SPD M: (M + sqrt(det M) I) / sqrt(tr M + 2 sqrt(det M)).
    auto sqrtm2 = [](const double m[4], double r[4]) {
        const double s = std::sqrt(m[0] * m[3] - m[1] * m[2]), t = std::sqrt(m[0] + m[3] + 2 * s);
        r[0] = (m[0] + s) / t, r[1] = m[1] / t, r[2] = m[2] / t, r[3] = (m[3] + s) / t;
    };
    auto mul = [](const double x[4], const double y[4], double r[4]) {
        r[0] = x[0] * y[0] + x[1] * y[2], r[1] = x[0] * y[1] + x[1] * y[3];
        r[2] = x[2] * y[0] + x[3] * y[2], r[3] = x[2] * y[1] + x[3] * y[3];
    };
    const double s1[4] = {1, 0.6, 0.6, 1}, s2[4] = {2, 0, 0, 0.5};
    double r1[4], t[4], mid[4], root[4];
    sqrtm2(s1, r1);
    mul(r1, s2, t);
    mul(t, r1, mid);
    sqrtm2(mid, root);
    const double w2sq = 1.5 * 1.5 + 1.0 + (s1[0] + s1[3] + s2[0] + s2[3]) - 2 * (root[0] + root[3]);
    EXPECT_NEAR(std::sqrt(w2sq), 1.923618635212469, 1e-12); // SciPy, as a check of the above
    EXPECT_NEAR(exact_w(ctx.get(), 2, a, b, 2), std::sqrt(w2sq), 0.1);
}

namespace {

// The test sets of the SciPy references: coordinates (k - 10000) / 1000 for k = (s >> 33)
// mod 20001 of a 64-bit LCG s <- s * 6364136223846793005 + 1442695040888963407 started
// at `seed` (float32, as both sides use them).
Points lcg_points(uint64_t seed, int64_t n, int dim)
{
    Points p((size_t)(n * dim));
    uint64_t s = seed;
    for (float &v : p) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        const int64_t k = (int64_t)((s >> 33) % 20001);
        v = (float)((double)(k - 10000) / 1000.0);
    }
    return p;
}

double brute_force_w(int p, const Points &a, const Points &b, int64_t n, int dim)
{
    std::vector<int> perm((size_t)n);
    std::iota(perm.begin(), perm.end(), 0);
    double best = INFINITY;
    do {
        double s = 0;
        for (int64_t i = 0; i < n; i++) {
            double d2 = 0;
            for (int c = 0; c < dim; c++) {
                const double d = (double)a[(size_t)(i * dim + c)] - b[(size_t)(perm[(size_t)i] * dim + c)];
                d2 += d * d;
            }
            s += p == 2 ? d2 : std::sqrt(d2);
        }
        best = std::min(best, s / (double)n);
    } while (std::next_permutation(perm.begin(), perm.end()));
    return p == 2 ? std::sqrt(best) : best;
}

} // namespace

// Exact W2 and W1 against SciPy 1.17's scipy.optimize.linear_sum_assignment on the same
// float32 sets (made with numpy from the LCG above, in a throwaway script: costs
// ((a[:,None]-b[None])**2).sum(-1) and its sqrt, W2 = sqrt(mean matched cost), W1 = mean
// matched distance), and against brute force over all 7! matchings.
TEST_F(DivergenceWasserstein, MatchesScipyAndBruteForce)
{
    struct Case {
        int64_t n;
        int dim;
        uint64_t seed_a, seed_b;
        double w2, w1;
    };
    const Case cases[] = {
        {7, 2, 1, 2, 7.5927064479552735, 7.188501947241083},
        {60, 2, 3, 4, 2.9007172935751835, 2.5803852361957444},
        {300, 3, 5, 6, 2.61647418754019, 2.386198384713511},
    };
    for (const Case &k : cases) {
        Points a = lcg_points(k.seed_a, k.n, k.dim), b = lcg_points(k.seed_b, k.n, k.dim);
        EXPECT_NEAR(exact_w(ctx.get(), 2, a, b, k.dim), k.w2, 1e-12 * k.w2) << k.n;
        EXPECT_NEAR(exact_w(ctx.get(), 1, a, b, k.dim), k.w1, 1e-12 * k.w1) << k.n;
        if (k.n <= 8) {
            EXPECT_NEAR(brute_force_w(2, a, b, k.n, k.dim), k.w2, 1e-12 * k.w2);
            EXPECT_NEAR(brute_force_w(1, a, b, k.n, k.dim), k.w1, 1e-12 * k.w1);
        }
    }
    // the LCG points themselves, as printed by the script: a[0] of the first case and
    // b[-1] of the second
    Points a0 = lcg_points(1, 7, 2), b1 = lcg_points(4, 60, 2);
    EXPECT_EQ(a0[0], -0.665f);
    EXPECT_EQ(a0[1], -0.541f);
    EXPECT_EQ(b1[118], 0.809f);
    EXPECT_EQ(b1[119], 9.108f);
}

// b = a + d in D dimensions: every direction u moves each projection by u.d, so SW2^2 is
// the mean of (u.d)^2 over the directions, whose expectation is |d|^2 / D. 2,000
// directions: the relative sd of the mean of (u.d)^2 is ~2% in 3-D.
TEST_F(DivergenceSliced, TranslationGivesLengthOverSqrtDim)
{
    std::mt19937 rng(2);
    Points a = grid_points(rng, 500, 3);
    Points b = translated(rng, a, {1.0f, 2.0f, 2.0f});
    const double sw = sliced(ctx.get(), a, b, 3, 2000, 7);
    EXPECT_NEAR(sw * sw, 9.0 / 3.0, 0.08 * 3.0);
    EXPECT_EQ(sliced(ctx.get(), a, b, 3, 2000, 7), sw); // the seed fixes the directions
    EXPECT_NE(sliced(ctx.get(), a, b, 3, 2000, 8), sw);
    // 16-D, d = 4 e_1: |d| / 4 = 1
    Points c = grid_points(rng, 200, 16);
    std::vector<float> d(16, 0.0f);
    d[0] = 4.0f;
    const double sw16 = sliced(ctx.get(), c, translated(rng, c, d), 16, 4000, 1);
    EXPECT_NEAR(sw16 * sw16, 1.0, 0.1);
}

// In 1-D the only directions are +-1: the sliced distance is the exact W2. For sets of
// different sizes, quantile matching: a set against each of its points repeated twice
// (the same empirical law) is 0, and two point masses are their distance apart.
TEST_F(DivergenceSliced, OneDimensionAndUnequalSizes)
{
    std::mt19937 rng(4);
    Points a = gaussian(rng, 300, {0.0}, {1.0}), b = gaussian(rng, 300, {0.7}, {2.0});
    EXPECT_NEAR(sliced(ctx.get(), a, b, 1, 3, 0), exact_w(ctx.get(), 2, a, b, 1), 1e-12);
    Points twice;
    for (float v : a) twice.insert(twice.end(), {v, v});
    EXPECT_EQ(sliced(ctx.get(), a, twice, 1, 5, 0), 0.0);
    // {0, 1} against {0, 0, 3}: quantiles on (0,1/3) 0 vs 0, (1/3,1/2) 0 vs 0,
    // (1/2,2/3) 1 vs 0, (2/3,1) 1 vs 3: W2^2 = 1/6 + 4/3 = 1.5.
    EXPECT_NEAR(sliced(ctx.get(), {0.0f, 1.0f}, {0.0f, 0.0f, 3.0f}, 1, 1, 0), std::sqrt(1.5), 1e-12);
}

// Two independent samples of one law: the unbiased MMD^2 is near 0 (either sign; its sd
// at these sizes is ~1e-3); a shift by 1 sd gives a clearly positive one. The energy
// distance of a set with itself is exactly 0 and of the shifted sets positive.
TEST_F(DivergenceMmd, SameLawNearZeroShiftPositive)
{
    std::mt19937 rng(6);
    Points a = gaussian(rng, 600, {0.0, 0.0}, {1.0, 1.0});
    Points b = gaussian(rng, 500, {0.0, 0.0}, {1.0, 1.0});
    Points c = gaussian(rng, 500, {1.0, 0.0}, {1.0, 1.0});
    double sigma = 0;
    const double same = mmd2(ctx.get(), a, b, 2, 0, &sigma);
    EXPECT_LT(std::fabs(same), 0.005) << same;
    // the median distance of two N(0, I) points in 2-D is sqrt(2 * 2 log 2) = 1.665
    EXPECT_NEAR(sigma, std::sqrt(4 * std::log(2.0)), 0.1);
    const double shifted = mmd2(ctx.get(), a, c, 2);
    EXPECT_GT(shifted, 0.05) << shifted;
    EXPECT_EQ(energy(ctx.get(), a, a, 2), 0.0);
    EXPECT_GT(energy(ctx.get(), a, c, 2), 10 * std::fabs(energy(ctx.get(), a, b, 2)));
    EXPECT_GT(energy(ctx.get(), a, b, 2), 0.0);
}

// Hand-computed cases: kernel sums and the median heuristic, and the energy distance.
TEST_F(DivergenceMmd, HandComputedValues)
{
    const Points a{0.0f, 1.0f}, b{0.0f, 3.0f};
    // sigma = 1: k(0,1) = e^-1/2, k(0,3) = e^-9/2, k(1,3) = e^-2
    const double kaa = std::exp(-0.5), kbb = std::exp(-4.5),
                 kab = (1 + std::exp(-4.5) + std::exp(-0.5) + std::exp(-2.0)) / 4;
    EXPECT_NEAR(mmd2(ctx.get(), a, b, 1, 1.0), kaa + kbb - 2 * kab, 1e-15);
    // pooled {0, 1, 0, 3}: distances 1, 0, 3, 1, 2, 3; median (1 + 2)/2 = 1.5
    double sigma = 0;
    const double v = mmd2(ctx.get(), a, b, 1, 0, &sigma);
    EXPECT_EQ(sigma, 1.5);
    const double g = 1 / (2 * 1.5 * 1.5);
    EXPECT_NEAR(v, std::exp(-g) + std::exp(-9 * g) - (1 + std::exp(-9 * g) + std::exp(-g) + std::exp(-4 * g)) / 2, 1e-15);
    // {0, 1} against {2}: 2 E|X-Y| = 3, E|X-X'| = 1/2, E|Y-Y'| = 0
    EXPECT_NEAR(energy(ctx.get(), a, {2.0f}, 1), 2.5, 1e-15);
}

// Bad arguments: INVALID_ARGUMENT with a message naming the call and what is wrong.
TEST_F(DivergenceArgs, RejectBadArguments)
{
    dgm_ctx *c = ctx.get();
    Points a(8, 0.5f), b(8, 1.0f), bad = b;
    bad[7] = NAN;
    double v = -1;
    dgm_divergences d{};
    auto expect = [&](dgm_status st, const char *fn, const char *needle) {
        EXPECT_EQ(st, DGM_STATUS_INVALID_ARGUMENT) << fn << " " << needle;
        const std::string msg = dgm_last_error(c);
        EXPECT_NE(msg.find(fn), std::string::npos) << msg;
        EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    };
    expect(dgm_wasserstein1(c, a.data(), bad.data(), 4, 2, &v), "dgm_wasserstein1", "b row 3");
    expect(dgm_wasserstein1(c, a.data(), b.data(), 4, 0, &v), "dgm_wasserstein1", "dim >= 1 (0)");
    expect(dgm_sliced_wasserstein2(c, bad.data(), 4, b.data(), 4, 2, 10, 0, &v),
           "dgm_sliced_wasserstein2", "a row 3");
    expect(dgm_sliced_wasserstein2(c, a.data(), 4, b.data(), 4, 2, 0, 0, &v),
           "dgm_sliced_wasserstein2", "directions >= 1 (0)");
    expect(dgm_sliced_wasserstein2(c, a.data(), 0, b.data(), 4, 2, 1, 0, &v),
           "dgm_sliced_wasserstein2", "na >= 1 (0)");
    expect(dgm_mmd2_rbf(c, a.data(), 4, bad.data(), 4, 2, 0, &v, nullptr), "dgm_mmd2_rbf", "b row 3");
    expect(dgm_mmd2_rbf(c, a.data(), 1, b.data(), 4, 2, 0, &v, nullptr), "dgm_mmd2_rbf", "na >= 2 (1)");
    expect(dgm_mmd2_rbf(c, a.data(), 4, b.data(), 4, 2, NAN, &v, nullptr), "dgm_mmd2_rbf", "bandwidth");
    expect(dgm_energy_distance(c, a.data(), 4, b.data(), 4, 0, &v), "dgm_energy_distance", "dim >= 1 (0)");
    expect(dgm_energy_distance(c, nullptr, 4, b.data(), 4, 2, &v), "dgm_energy_distance", "needs a, b and out");
    expect(dgm_histogram_divergences(c, a.data(), 4, bad.data(), 4, 2, nullptr, &d),
           "dgm_histogram_divergences", "b row 3");
    expect(dgm_histogram_divergences(c, a.data(), 2, b.data(), 2, 4, nullptr, &d),
           "dgm_histogram_divergences", "dim 1..3");
    expect(dgm_histogram_divergences(c, a.data(), 4, b.data(), 4, 0, nullptr, &d),
           "dgm_histogram_divergences", "dim >= 1 (0)");
    dgm_histogram_options o = dgm_histogram_options_default();
    o.pseudo_count = -1;
    expect(dgm_histogram_divergences(c, a.data(), 4, b.data(), 4, 2, &o, &d),
           "dgm_histogram_divergences", "pseudo_count");
    const double flat[4] = {0, 1, 2, 2};
    o = dgm_histogram_options_default();
    o.extent = flat;
    expect(dgm_histogram_divergences(c, a.data(), 4, b.data(), 4, 2, &o, &d),
           "dgm_histogram_divergences", "axis 1");
    EXPECT_EQ(v, -1.0);
}

namespace {

class CompareCli : public CliTest {
protected:
    // rows as a CSV in the test's folder
    std::string write_csv(const std::string &name, const Points &p, int dim)
    {
        const std::string path = dir + "/" + name;
        std::ofstream f(path);
        f.precision(9);
        for (size_t i = 0; i < p.size(); i++) f << p[i] << ((i + 1) % dim ? "," : "\n");
        return path;
    }
    // the number after "name": in a one-line JSON object, NaN when absent
    static double field(const std::string &json, const std::string &name)
    {
        const size_t at = json.find("\"" + name + "\":");
        return at == std::string::npos ? NAN : std::strtod(json.c_str() + at + name.size() + 3, nullptr);
    }
};

} // namespace

// A translated CSV against the original: w1 = w2 = the translation's length; the default
// metric for 2-D sets is w2; stdout is the JSON object alone.
TEST_F(CompareCli, TranslatedCsvGivesTheTranslationLength)
{
    std::mt19937 rng(1);
    Points a = grid_points(rng, 300, 2);
    const std::string pa = write_csv("a.csv", a, 2), pb = write_csv("b.csv", translated(rng, a, {3.0f, 4.0f}), 2);
    CliResult r = dgm("compare " + pa + " " + pb + " --metric w2,w1,sliced-w2,mmd,energy,tv");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(r.out.front(), '{');
    EXPECT_EQ(r.out, r.out.substr(0, r.out.find('\n') + 1)) << "one line";
    EXPECT_NEAR(field(r.out, "w2"), 5.0, 1e-9) << r.out;
    EXPECT_NEAR(field(r.out, "w1"), 5.0, 1e-9) << r.out;
    EXPECT_NEAR(field(r.out, "sliced-w2"), 5.0 / std::sqrt(2.0), 0.3) << r.out;
    EXPECT_GT(field(r.out, "mmd"), 0.0) << r.out;
    EXPECT_GT(field(r.out, "energy"), 0.0) << r.out;
    EXPECT_GT(field(r.out, "tv"), 0.0) << r.out;
    r = dgm("compare " + pa + " " + pb);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NEAR(field(r.out, "w2"), 5.0, 1e-9) << r.out;
    EXPECT_EQ(r.out.find(','), std::string::npos) << r.out;
}

// Toy names draw points (A and B from different seeds); sets of different sizes work,
// the exact distances on an equal-size subsample.
TEST_F(CompareCli, ToysAndUnequalSizes)
{
    CliResult r = dgm("compare moons moons -n 800 --bins 12 --metric js,tv,hellinger,kl,chi2,w2,mmd --seed 3");
    ASSERT_EQ(r.code, 0) << r.err;
    for (const char *m : {"js", "tv", "hellinger", "kl", "chi2", "w2", "mmd"})
        EXPECT_FALSE(std::isnan(field(r.out, m))) << m << " in " << r.out;
    EXPECT_GT(field(r.out, "w2"), 0.0); // independent draws
    EXPECT_LT(std::fabs(field(r.out, "mmd")), 0.01) << r.out;
    CliResult far = dgm("compare moons ring8 -n 800 --bins 12 --metric js --seed 3");
    ASSERT_EQ(far.code, 0) << far.err;
    EXPECT_GT(field(far.out, "js"), 5 * field(r.out, "js")) << far.out << r.out;

    std::mt19937 rng(2);
    const std::string pa = write_csv("a.csv", gaussian(rng, 300, {0, 0}, {1, 1}), 2);
    const std::string pc = write_csv("c.csv", gaussian(rng, 450, {0, 0}, {1, 1}), 2);
    r = dgm("compare " + pa + " " + pc + " --metric w1,w2,energy --bins 8 --extent -4,4,-4,4");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_GT(field(r.out, "w2"), 0.0);
    EXPECT_LT(field(r.out, "w2"), 0.5);
    r = dgm("compare " + pa + " moons --metric tv --extent -4,4,-4,4");
    ASSERT_EQ(r.code, 0) << r.err;
}

// Usage errors (exit 2) and errors (exit 1): one line on stderr, nothing on stdout.
TEST_F(CompareCli, ErrorsAndUsageErrors)
{
    std::mt19937 rng(3);
    const std::string pa = write_csv("a.csv", gaussian(rng, 50, {0, 0}, {1, 1}), 2);
    const std::string p3 = write_csv("d3.csv", gaussian(rng, 50, {0, 0, 0}, {1, 1, 1}), 3);
    CliResult r = dgm("compare " + pa + " moons --metric w2,wasserstein");
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("'wasserstein'"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("sliced-w2"), std::string::npos) << r.err; // lists the known ones
    EXPECT_EQ(r.out, "");
    r = dgm("compare " + pa + " " + dir + "/missing.csv");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("missing.csv"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.out, "");
    r = dgm("compare " + pa);
    EXPECT_EQ(r.code, 2);
    r = dgm("compare " + pa + " moons --bins 0");
    EXPECT_EQ(r.code, 2);
    r = dgm("compare " + pa + " moons --metric tv --extent 0,1,2");
    EXPECT_EQ(r.code, 2);
    r = dgm("compare " + pa + " moons --metric tv --extent 0,1");
    EXPECT_EQ(r.code, 2) << r.err;
    r = dgm("compare " + pa + " " + p3);
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("dimension"), std::string::npos) << r.err;
    r = dgm("compare --help");
    EXPECT_EQ(r.code, 0);
    EXPECT_NE(r.out.find("sliced-w2"), std::string::npos);
}
