// dgm_cpu_small_gemm (host/cpu/cpu_small_gemm.c): the CPU backend's own loops for products
// with a side of at most 4, checked against a double-precision product for every
// transpose, beta, alpha and padded leading dimension; beta 0 never reads C.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

extern "C" {
#include "cpu/cpu_internal.h"
}

namespace {

struct Shape {
    int m, n, k;
};

// Element (i, j) of op(X) for a row-major X with leading dimension ld.
float at(const std::vector<float> &x, int ld, bool trans, int i, int j)
{
    return trans ? x[(size_t)j * ld + i] : x[(size_t)i * ld + j];
}

void check_product(bool ta, bool tb, Shape s, float alpha, float beta)
{
    const int pad = 3;
    const int rows_a = ta ? s.k : s.m, cols_a = ta ? s.m : s.k;
    const int rows_b = tb ? s.n : s.k, cols_b = tb ? s.k : s.n;
    const int lda = cols_a + pad, ldb = cols_b + pad, ldc = s.n + pad;
    std::vector<float> a((size_t)rows_a * lda), b((size_t)rows_b * ldb);
    for (size_t i = 0; i < a.size(); i++) a[i] = (float)((i * 37 % 101) / 50.0 - 1.0);
    for (size_t i = 0; i < b.size(); i++) b[i] = (float)((i * 53 % 97) / 48.0 - 1.0);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> c((size_t)s.m * ldc);
    for (size_t i = 0; i < c.size(); i++) c[i] = beta == 0.0f ? nan : (float)(i % 7) - 3.0f;
    const std::vector<float> c0 = c;
    const int taken = dgm_cpu_small_gemm(ta, tb, s.m, s.n, s.k, alpha, a.data(), lda, b.data(),
                                         ldb, beta, c.data(), ldc);
    const std::string what = std::string(ta ? "T" : "N") + (tb ? "T" : "N") + " " +
                             std::to_string(s.m) + "x" + std::to_string(s.n) + "x" +
                             std::to_string(s.k) + " alpha " + std::to_string(alpha) +
                             " beta " + std::to_string(beta);
    const bool small = s.m <= DGM_CPU_SMALL_DIM || s.n <= DGM_CPU_SMALL_DIM ||
                       s.k <= DGM_CPU_SMALL_DIM;
    if (!taken) {
        // declined: only what OpenBLAS's AVX-512 kernels run faster, or a large B
        EXPECT_FALSE(small && s.k * s.n <= 4096 && !dgm_cpu_small_gemm_defers(s.m, s.k))
            << what << ": a small product was declined";
        for (size_t i = 0; i < c.size(); i++)
            ASSERT_TRUE(c[i] == c0[i] || (std::isnan(c[i]) && std::isnan(c0[i])))
                << what << ": declined, yet C changed";
        return;
    }
    EXPECT_TRUE(small) << what << ": taken, but no side is small";
    for (int i = 0; i < s.m; i++) {
        for (int j = 0; j < ldc; j++) {
            const float got = c[(size_t)i * ldc + j], old = c0[(size_t)i * ldc + j];
            if (j >= s.n) { // the padding of C's rows is never written
                ASSERT_TRUE(got == old || (std::isnan(got) && std::isnan(old))) << what;
                continue;
            }
            double sum = 0.0, scale = 0.0;
            for (int p = 0; p < s.k; p++) {
                const double t = (double)at(a, lda, ta, i, p) * at(b, ldb, tb, p, j);
                sum += t;
                scale += std::fabs(t);
            }
            const double want = alpha * sum + (beta == 0.0f ? 0.0 : (double)beta * old);
            // a float sum of k terms is off by at most about k·2^-24 of their magnitudes
            const double tol = (s.k + 2) * 6e-8 * std::fabs(alpha) * scale +
                               1e-6 * ((beta == 0.0f ? 0.0 : std::fabs(old)) + 1.0);
            ASSERT_NEAR(got, want, tol)
                << what << " at (" << i << ", " << j << ")";
        }
    }
}

} // namespace

TEST(CpuSmallGemm, MatchesADoublePrecisionProduct)
{
    const Shape shapes[] = {{1, 1, 1},    {512, 64, 1},  {512, 2, 64},  {512, 64, 2},
                            {2, 64, 512}, {512, 1, 64},  {64, 1, 512},  {256, 64, 3},
                            {64, 3, 256}, {100, 400, 2}, {200, 1, 200}, {100, 2, 200},
                            {4, 300, 17}, {17, 4, 300},  {300, 17, 4},  {5, 5, 5},
                            {3, 2000, 5}, {9, 9, 2000},  {700, 70, 4}};
    for (const Shape &s : shapes)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (float beta : {0.0f, 1.0f, 0.5f})
                    for (float alpha : {1.0f, -0.75f}) {
                        check_product(ta, tb, s, alpha, beta);
                        if (HasFatalFailure()) return;
                    }
}

// Every small product of the 2-D families' training steps (bench_small_gemm's list)
// takes dgm's loops, but for those it leaves to OpenBLAS's AVX-512 kernels where they run:
// none of them falls back to OpenBLAS unnoticed.
TEST(CpuSmallGemm, TakesTheModelsSmallProducts)
{
    struct Call {
        int ta, tb, m, n, k;
    };
    const Call calls[] = {{0, 1, 512, 64, 1}, {0, 1, 512, 2, 64}, {0, 0, 512, 64, 2},
                          {1, 0, 2, 64, 512}, {0, 0, 512, 1, 64}, {1, 0, 64, 1, 512},
                          {0, 1, 256, 64, 3}, {1, 0, 64, 3, 256}, {0, 0, 256, 64, 1},
                          {0, 0, 100, 2, 200}, {1, 0, 400, 2, 100}};
    for (const Call &u : calls) {
        const int lda = u.ta ? u.m : u.k, ldb = u.tb ? u.k : u.n;
        std::vector<float> a((size_t)u.m * u.k, 0.5f), b((size_t)u.k * u.n, 0.25f),
            c((size_t)u.m * u.n);
        const bool taken = dgm_cpu_small_gemm(u.ta, u.tb, u.m, u.n, u.k, 1.0f, a.data(), lda,
                                              b.data(), ldb, 0.0f, c.data(), u.n);
        EXPECT_EQ(taken, !dgm_cpu_small_gemm_defers(u.m, u.k)) << u.m << "x" << u.n << "x" << u.k;
        if (taken) {
            EXPECT_FLOAT_EQ(c[0], 0.125f * (float)u.k);
        }
    }
}
