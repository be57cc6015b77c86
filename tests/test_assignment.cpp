// The exact linear assignment solver (host/metrics/assignment.c) and the exact
// 2-Wasserstein distance built on it.
#include <algorithm>
#include <numeric>
#include <thread>

extern "C" {
#include "metrics/assignment.h"
}
#include "test_util.h"

using namespace dgmtest;

namespace {

using Matrix = std::vector<double>; // n x n, row-major

struct Solution {
    std::vector<int64_t> row_to_col;
    double total = 0;
};

Solution solve(dgm_ctx *ctx, int64_t n, const Matrix &cost)
{
    Solution s;
    s.row_to_col.assign((size_t)n, -1);
    EXPECT_EQ(dgm_assignment_solve(ctx, n, cost.data(), s.row_to_col.data(), &s.total),
              DGM_STATUS_OK)
        << dgm_last_error(ctx);
    return s;
}

bool is_perm(const std::vector<int64_t> &p)
{
    std::vector<bool> seen(p.size(), false);
    for (int64_t j : p) {
        if (j < 0 || j >= (int64_t)p.size() || seen[(size_t)j]) return false;
        seen[(size_t)j] = true;
    }
    return true;
}

// The cost of a matching, added in row order as the solver adds its total.
double matching_cost(int64_t n, const Matrix &cost, const std::vector<int64_t> &p)
{
    double t = 0;
    for (int64_t i = 0; i < n; i++) t += cost[(size_t)(i * n + p[(size_t)i])];
    return t;
}

double brute_force_min(int64_t n, const Matrix &cost)
{
    std::vector<int64_t> p((size_t)n);
    std::iota(p.begin(), p.end(), 0);
    double best = INFINITY;
    do best = std::min(best, matching_cost(n, cost, p));
    while (std::next_permutation(p.begin(), p.end()));
    return best;
}

// An independent O(n^3) Hungarian method (potentials over 1-based rows and columns, one
// row added per phase): the reference for sizes beyond brute force.
double hungarian_min(int64_t n, const Matrix &a)
{
    std::vector<double> u((size_t)n + 1, 0.0), v((size_t)n + 1, 0.0), minv((size_t)n + 1);
    std::vector<int64_t> p((size_t)n + 1, 0), way((size_t)n + 1, 0);
    std::vector<char> used((size_t)n + 1);
    for (int64_t i = 1; i <= n; i++) {
        p[0] = i;
        int64_t j0 = 0;
        std::fill(minv.begin(), minv.end(), INFINITY);
        std::fill(used.begin(), used.end(), 0);
        do {
            used[(size_t)j0] = 1;
            const int64_t i0 = p[(size_t)j0];
            double delta = INFINITY;
            int64_t j1 = 0;
            for (int64_t j = 1; j <= n; j++) {
                if (used[(size_t)j]) continue;
                const double cur = a[(size_t)((i0 - 1) * n + j - 1)] - u[(size_t)i0] - v[(size_t)j];
                if (cur < minv[(size_t)j]) {
                    minv[(size_t)j] = cur;
                    way[(size_t)j] = j0;
                }
                if (minv[(size_t)j] < delta) {
                    delta = minv[(size_t)j];
                    j1 = j;
                }
            }
            for (int64_t j = 0; j <= n; j++) {
                if (used[(size_t)j]) {
                    u[(size_t)p[(size_t)j]] += delta;
                    v[(size_t)j] -= delta;
                } else {
                    minv[(size_t)j] -= delta;
                }
            }
            j0 = j1;
        } while (p[(size_t)j0] != 0);
        do {
            const int64_t j1 = way[(size_t)j0];
            p[(size_t)j0] = p[(size_t)j1];
            j0 = j1;
        } while (j0);
    }
    std::vector<int64_t> row_to_col((size_t)n);
    for (int64_t j = 1; j <= n; j++) row_to_col[(size_t)(p[(size_t)j] - 1)] = j - 1;
    return matching_cost(n, a, row_to_col);
}

// Squared Euclidean distances between the rows of a and b (n x dim each).
Matrix sq_distances(const std::vector<float> &a, const std::vector<float> &b, int64_t n, int dim)
{
    Matrix c((size_t)(n * n));
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            double d2 = 0;
            for (int k = 0; k < dim; k++) {
                const double d = (double)a[(size_t)(i * dim + k)] - b[(size_t)(j * dim + k)];
                d2 += d * d;
            }
            c[(size_t)(i * n + j)] = d2;
        }
    return c;
}

std::vector<float> normal_points(std::mt19937 &rng, int64_t n, int dim,
                                 std::vector<double> mean = {})
{
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::vector<float> x((size_t)(n * dim));
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < dim; k++)
            x[(size_t)(i * dim + k)] = g(rng) + (mean.empty() ? 0.0f : (float)mean[(size_t)k]);
    return x;
}

double w2(dgm_ctx *ctx, const std::vector<float> &a, const std::vector<float> &b, int64_t n,
          int dim)
{
    double out = -1;
    EXPECT_EQ(dgm_wasserstein2(ctx, a.data(), b.data(), n, dim, &out), DGM_STATUS_OK)
        << dgm_last_error(ctx);
    return out;
}

} // namespace

// Every n <= 7 against all n! permutations: real costs of both signs, small integers with
// many ties (and negatives), and constant matrices (every matching optimal).
TEST(Assignment, MatchesBruteForceOnSmallMatrices)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    std::mt19937 rng(7);
    std::uniform_real_distribution<double> real(-1.0, 1.0);
    std::uniform_int_distribution<int> small(-1, 2);
    for (int seed = 0; seed < 1200; seed++) {
        const int64_t n = 1 + seed % 7;
        const int kind = (seed / 7) % 3;
        Matrix c((size_t)(n * n));
        for (double &x : c) x = kind == 0 ? real(rng) : kind == 1 ? (double)small(rng) : 0.25;
        Solution s = solve(ctx.get(), n, c);
        ASSERT_TRUE(is_perm(s.row_to_col)) << "seed " << seed;
        EXPECT_EQ(s.total, matching_cost(n, c, s.row_to_col)) << "seed " << seed;
        const double best = brute_force_min(n, c);
        if (kind == 0)
            EXPECT_NEAR(s.total, best, 1e-12) << "seed " << seed << " n " << n;
        else // integers and quarters add exactly
            EXPECT_EQ(s.total, best) << "seed " << seed << " n " << n << " kind " << kind;
    }
}

// Sizes beyond brute force against an independent Hungarian method, including the cases
// that stress the solver: many ties, negative costs, and two point sets far apart.
TEST(Assignment, AgreesWithHungarianMethod)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    std::mt19937 rng(11);
    std::uniform_real_distribution<double> u(-300.0, 700.0);
    std::uniform_int_distribution<int> ties(0, 4);
    for (int t = 0; t < 40; t++) {
        const int64_t n = 8 + t * 4;
        const int kind = t % 4;
        Matrix c((size_t)(n * n));
        if (kind == 3) {
            auto a = normal_points(rng, n, 2);
            auto b = normal_points(rng, n, 2, {3.0, -2.0});
            c = sq_distances(a, b, n, 2);
        } else {
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = 0; j < n; j++)
                    c[(size_t)(i * n + j)] = kind == 0 ? u(rng)
                                           : kind == 1 ? (double)ties(rng)
                                                       : -(double)((i - j) * (i - j));
        }
        Solution s = solve(ctx.get(), n, c);
        ASSERT_TRUE(is_perm(s.row_to_col)) << "n " << n;
        const double ref = hungarian_min(n, c);
        EXPECT_NEAR(s.total, ref, 1e-9 * (1.0 + std::fabs(ref))) << "n " << n << " kind " << kind;
    }
}

// n = 300 random 2-D points: no random permutation nor the greedy matching (each row in
// turn takes its nearest free column) is cheaper, and shuffling the rows changes nothing
// but the order (with random real costs the optimum is unique).
TEST(Assignment, BeatsRandomAndGreedyMatchingsAndIgnoresRowOrder)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    std::mt19937 rng(3);
    const int64_t n = 300;
    auto a = random_values(rng, 2 * n, 0.0f, 1.0f);
    auto b = random_values(rng, 2 * n, 0.0f, 1.0f);
    const Matrix c = sq_distances(a, b, n, 2);
    Solution s = solve(ctx.get(), n, c);
    ASSERT_TRUE(is_perm(s.row_to_col));
    EXPECT_EQ(s.total, matching_cost(n, c, s.row_to_col));

    std::vector<int64_t> p((size_t)n);
    std::iota(p.begin(), p.end(), 0);
    for (int k = 0; k < 1000; k++) {
        std::shuffle(p.begin(), p.end(), rng);
        ASSERT_LE(s.total, matching_cost(n, c, p)) << "permutation " << k;
    }
    std::vector<bool> taken((size_t)n, false);
    for (int64_t i = 0; i < n; i++) {
        int64_t best = -1;
        const double *ci = c.data() + i * n;
        for (int64_t j = 0; j < n; j++)
            if (!taken[(size_t)j] && (best < 0 || ci[j] < ci[best])) best = j;
        taken[(size_t)best] = true;
        p[(size_t)i] = best;
    }
    const double greedy = matching_cost(n, c, p);
    EXPECT_LT(s.total, greedy);

    std::vector<int64_t> order((size_t)n);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    Matrix shuffled((size_t)(n * n));
    for (int64_t k = 0; k < n; k++)
        std::copy_n(c.begin() + order[(size_t)k] * n, n, shuffled.begin() + k * n);
    Solution s2 = solve(ctx.get(), n, shuffled);
    EXPECT_NEAR(s2.total, s.total, 1e-12 * s.total);
    for (int64_t k = 0; k < n; k++)
        EXPECT_EQ(s2.row_to_col[(size_t)k], s.row_to_col[(size_t)order[(size_t)k]]) << k;
}

TEST(Assignment, RejectsBadArguments)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    dgm_ctx *c = ctx.get();
    Matrix cost(9, 1.0);
    std::vector<int64_t> r(3);
    double total = 0;
    auto expect_invalid = [&](int64_t n, const double *m, int64_t *rows, double *t,
                              const char *needle) {
        EXPECT_EQ(dgm_assignment_solve(c, n, m, rows, t), DGM_STATUS_INVALID_ARGUMENT) << needle;
        EXPECT_NE(std::string(dgm_last_error(c)).find("dgm_assignment_solve"), std::string::npos);
        EXPECT_NE(std::string(dgm_last_error(c)).find(needle), std::string::npos)
            << dgm_last_error(c);
    };
    expect_invalid(0, cost.data(), r.data(), &total, "(0)");
    expect_invalid(-2, cost.data(), r.data(), &total, "(-2)");
    expect_invalid(3, nullptr, r.data(), &total, "needs cost");
    expect_invalid(3, cost.data(), nullptr, &total, "needs cost");
    expect_invalid(3, cost.data(), r.data(), nullptr, "needs cost");
    cost[5] = NAN;
    expect_invalid(3, cost.data(), r.data(), &total, "cost[1][2]");
    cost[5] = -INFINITY;
    expect_invalid(3, cost.data(), r.data(), &total, "cost[1][2]");
    cost[5] = 1e200; // beyond the documented +-1e150
    expect_invalid(3, cost.data(), r.data(), &total, "cost[1][2]");
    cost[5] = 1.0;
    EXPECT_EQ(dgm_assignment_solve(nullptr, 3, cost.data(), r.data(), &total),
              DGM_STATUS_INVALID_ARGUMENT);
    DGM_ASSERT_OK(c, dgm_assignment_solve(c, 3, cost.data(), r.data(), &total));
    EXPECT_EQ(total, 3.0);
}

// Two threads solving at once get what one thread gets (no shared state).
TEST(Assignment, ConcurrentSolvesAgree)
{
    std::mt19937 rng(5);
    const int64_t n = 200;
    Matrix c((size_t)(n * n));
    for (double &x : c) x = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    const Solution ref = solve(ctx.get(), n, c);
    Solution got[2];
    auto run = [&](int t) {
        CtxPtr own = make_ctx(DGM_DEVICE_CPU, 1);
        for (int k = 0; k < 5; k++) got[t] = solve(own.get(), n, c);
    };
    std::thread t0(run, 0), t1(run, 1);
    t0.join();
    t1.join();
    for (const Solution &g : got) {
        EXPECT_EQ(g.total, ref.total);
        EXPECT_EQ(g.row_to_col, ref.row_to_col);
    }
}

// On a line the optimal matching of squared distances pairs the sorted sets in order, so
// W2 has a closed form; and two hand-made cases.
TEST(Wasserstein, OneDimensionalIsTheSortedMatching)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    std::mt19937 rng(9);
    const int64_t n = 400;
    auto a = random_values(rng, n, -1.0f, 2.0f);
    auto b = normal_points(rng, n, 1, {0.3});
    auto sa = a, sb = b;
    std::sort(sa.begin(), sa.end());
    std::sort(sb.begin(), sb.end());
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        const double d = (double)sa[(size_t)i] - sb[(size_t)i];
        sum += d * d;
    }
    EXPECT_NEAR(w2(ctx.get(), a, b, n, 1), std::sqrt(sum / n), 1e-12);

    // The solver's matching itself: the i-th smallest of a goes to the i-th smallest of b.
    Solution s = solve(ctx.get(), n, sq_distances(a, b, n, 1));
    for (int64_t i = 0; i < n; i++) {
        const auto rank_a = std::lower_bound(sa.begin(), sa.end(), a[(size_t)i]) - sa.begin();
        const auto rank_b =
            std::lower_bound(sb.begin(), sb.end(), b[(size_t)s.row_to_col[(size_t)i]]) -
            sb.begin();
        EXPECT_EQ(rank_a, rank_b) << "row " << i;
    }

    // Each point of a half a unit from its partner: W2 = 0.5 exactly.
    const std::vector<float> line_a{0, 1, 2, 3}, line_b{3.5f, 0.5f, 2.5f, 1.5f};
    EXPECT_EQ(w2(ctx.get(), line_a, line_b, 4, 1), 0.5);
    // One point each: their distance, |(1, 2, 2)| = 3.
    EXPECT_EQ(w2(ctx.get(), {0, 0, 0}, {1, 2, 2}, 1, 3), 3.0);
}

// A set against a shuffled copy of itself (with repeated points, so some matchings tie):
// exactly 0.
TEST(Wasserstein, ShuffledCopyIsExactlyZero)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    std::mt19937 rng(13);
    const int64_t n = 500;
    const int dim = 3;
    auto a = normal_points(rng, n, dim, {5.0, -1.0, 0.5});
    for (int64_t i = 0; i < 20; i++) // rows 0..19 repeated at 100..119
        std::copy_n(a.begin() + i * dim, dim, a.begin() + (100 + i) * dim);
    std::vector<int64_t> order((size_t)n);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<float> b((size_t)(n * dim));
    for (int64_t k = 0; k < n; k++)
        std::copy_n(a.begin() + order[(size_t)k] * dim, dim, b.begin() + k * dim);
    EXPECT_EQ(w2(ctx.get(), a, b, n, dim), 0.0);
}

// N(0, I) against N(mu, I), n = 1000 in 2-D: W2 of the samples estimates |mu| = 2. Over
// 150 seeds (a quick check when this was written) the error W2 - 2 had mean +0.015 (the
// samples' own W2 adds to |mu|^2) and sd 0.047, at most 0.137: 0.2 is ~4 sd. Two samples
// of the same law are ~0.2 apart at this n (0.198 +- 0.016 over 50 seeds).
TEST(Wasserstein, GaussianShiftGivesTheMeanDistance)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    std::mt19937 rng(17);
    const int64_t n = 1000;
    auto a = normal_points(rng, n, 2);
    auto b = normal_points(rng, n, 2, {1.2, 1.6});
    EXPECT_NEAR(w2(ctx.get(), a, b, n, 2), 2.0, 0.2);
    auto c = normal_points(rng, n, 2);
    EXPECT_LT(w2(ctx.get(), a, c, n, 2), 0.3);
}

TEST(Wasserstein, RejectsBadArguments)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    ASSERT_TRUE(ctx);
    dgm_ctx *c = ctx.get();
    std::vector<float> a(8, 0.5f), b(8, 1.0f);
    double out = -1;
    auto expect_invalid = [&](const float *x, const float *y, int64_t n, int dim, double *o,
                              const char *needle) {
        EXPECT_EQ(dgm_wasserstein2(c, x, y, n, dim, o), DGM_STATUS_INVALID_ARGUMENT) << needle;
        EXPECT_NE(std::string(dgm_last_error(c)).find("dgm_wasserstein2"), std::string::npos);
        EXPECT_NE(std::string(dgm_last_error(c)).find(needle), std::string::npos)
            << dgm_last_error(c);
    };
    expect_invalid(a.data(), b.data(), 0, 2, &out, "n >= 1 (0)");
    expect_invalid(a.data(), b.data(), 4, 0, &out, "dim >= 1 (0)");
    expect_invalid(nullptr, b.data(), 4, 2, &out, "needs a, b and out");
    expect_invalid(a.data(), nullptr, 4, 2, &out, "needs a, b and out");
    expect_invalid(a.data(), b.data(), 4, 2, nullptr, "needs a, b and out");
    b[7] = NAN;
    expect_invalid(a.data(), b.data(), 4, 2, &out, "b row 3");
    a[0] = INFINITY;
    expect_invalid(a.data(), b.data(), 4, 2, &out, "a row 0");
    EXPECT_EQ(out, -1.0);
    a[0] = 0.5f;
    b[7] = 1.0f;
    EXPECT_EQ(dgm_wasserstein2(nullptr, a.data(), b.data(), 4, 2, &out),
              DGM_STATUS_INVALID_ARGUMENT);
    DGM_ASSERT_OK(c, dgm_wasserstein2(c, a.data(), b.data(), 4, 2, &out));
    EXPECT_NEAR(out, std::sqrt(0.5), 1e-15); // every pair (0.5, 0.5) to (1, 1)
}
