// The backend entry cases; see backend_cases.h.
#include "backend_cases.h"

namespace dgmtest {

BackendBuffers::BackendBuffers(dgm_ctx *ctx)
    : ctx_(ctx),
      be_(dgm_ctx_device(ctx) == DGM_DEVICE_CUDA ? dgm_cuda_backend() : dgm_cpu_backend())
{
}

BackendBuffers::~BackendBuffers()
{
    for (void *p : bufs_) be_->free(ctx_, p);
}

void *BackendBuffers::alloc(size_t bytes)
{
    void *p = nullptr;
    const dgm_status st = be_->alloc(ctx_, bytes, &p);
    if (st != DGM_STATUS_OK) {
        ADD_FAILURE() << be_->name << " alloc of " << bytes << " bytes: " << dgm_last_error(ctx_);
        return nullptr;
    }
    bufs_.push_back(p);
    return p;
}

float *BackendBuffers::upload(const std::vector<float> &v)
{
    auto *p = static_cast<float *>(alloc(v.size() * sizeof(float)));
    if (p) {
        EXPECT_EQ(be_->copy(ctx_, p, v.data(), v.size() * sizeof(float), DGM_COPY_HOST_TO_DEVICE),
                  DGM_STATUS_OK)
            << dgm_last_error(ctx_);
    }
    return p;
}

int32_t *BackendBuffers::upload_index(const std::vector<int32_t> &v)
{
    auto *p = static_cast<int32_t *>(alloc(v.size() * sizeof(int32_t)));
    if (p) {
        EXPECT_EQ(be_->copy(ctx_, p, v.data(), v.size() * sizeof(int32_t), DGM_COPY_HOST_TO_DEVICE),
                  DGM_STATUS_OK)
            << dgm_last_error(ctx_);
    }
    return p;
}

float *BackendBuffers::filled(size_t n, float value)
{
    return upload(std::vector<float>(n, value));
}

std::vector<float> BackendBuffers::download(const float *p, size_t n)
{
    std::vector<float> v(n, 0.0f);
    if (p) {
        EXPECT_EQ(be_->copy(ctx_, v.data(), p, n * sizeof(float), DGM_COPY_DEVICE_TO_HOST),
                  DGM_STATUS_OK)
            << dgm_last_error(ctx_);
    }
    return v;
}

std::vector<int32_t> BackendBuffers::download_index(const int32_t *p, size_t n)
{
    std::vector<int32_t> v(n, 0);
    if (p) {
        EXPECT_EQ(be_->copy(ctx_, v.data(), p, n * sizeof(int32_t), DGM_COPY_DEVICE_TO_HOST),
                  DGM_STATUS_OK)
            << dgm_last_error(ctx_);
    }
    return v;
}

namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();

// CUDA kernels stride over at most 65,536 blocks of 256 threads: this many elements makes
// every grid-stride loop go round more than once.
const size_t kBeyondOneGrid = (size_t)(65536 + 3) * 256 + 5;

std::vector<float> values(uint32_t seed, size_t n, float lo, float hi)
{
    std::mt19937 rng(seed);
    return random_values(rng, (int64_t)n, lo, hi);
}

// Records a failed status as a test failure naming the entry.
void ok(BackendBuffers &d, dgm_status st, const std::string &entry)
{
    EXPECT_EQ(st, DGM_STATUS_OK) << d.be()->name << " " << entry << ": " << dgm_last_error(d.ctx());
}

std::string beta_name(float beta) { return beta == 0.0f ? "beta0" : "beta_acc"; }

// A destination for `beta`: NaN when beta is 0 (it must not be read), else values to keep.
float *destination(BackendBuffers &d, size_t n, float beta, uint32_t seed)
{
    return beta == 0.0f ? d.filled(n, kNaN) : d.upload(values(seed, n, -1.0f, 1.0f));
}

// ---- gemm ----

BackendCase gemm_case(int ta, int tb, int64_t m, int64_t n, int64_t k, float beta, int64_t pad)
{
    BackendCase c;
    c.family = "gemm";
    c.name = std::string("gemm_") + (ta ? "t" : "n") + (tb ? "t" : "n") + "_" +
             std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k) + "_" +
             beta_name(beta) + (pad ? "_strided" : "");
    // FP32 products of k terms in [-1, 1] summed in another order: a few ulps of the
    // largest partial sums, which grow like sqrt(k).
    c.rtol = 1e-4;
    c.atol = 1e-5 * std::sqrt((double)k + 1.0);
    c.run = [=](BackendBuffers &d) {
        // BLAS wants every leading dimension >= 1, even for an empty matrix.
        const int64_t lda = std::max<int64_t>((ta ? m : k) + pad, 1);
        const int64_t ldb = std::max<int64_t>((tb ? k : n) + pad, 1), ldc = n + pad;
        const int64_t arows = ta ? k : m, brows = tb ? n : k;
        float *a = d.upload(values(1, (size_t)std::max<int64_t>(arows * lda, 1), -1.0f, 1.0f));
        float *b = d.upload(values(2, (size_t)std::max<int64_t>(brows * ldb, 1), -1.0f, 1.0f));
        const size_t nc = (size_t)(m * ldc);
        float *cm = destination(d, nc, beta, 3);
        ok(d, d.be()->gemm(d.ctx(), ta, tb, m, n, k, 0.75f, a, lda, b, ldb, beta, cm, ldc), "gemm");
        // Only the [m, n] part of each row of C is defined (the padding is left as it was).
        std::vector<float> all = d.download(cm, nc), out;
        for (int64_t r = 0; r < m; r++) out.insert(out.end(), all.begin() + r * ldc, all.begin() + r * ldc + n);
        return std::vector<BackendOutput>{{"C", out}};
    };
    return c;
}

// ---- unary ----

// Inputs inside each kind's domain: log and sqrt want x > 0, the dropout mask a uniform
// draw in (0, 1]. Kinds added later get [-3, 3] until they say otherwise here.
void unary_range(int kind, float *lo, float *hi)
{
    *lo = -3.0f;
    *hi = 3.0f;
    if (kind == DGM_UNARY_LOG || kind == DGM_UNARY_SQRT) *lo = 0.05f;
    if (kind == DGM_UNARY_DROPOUT_MASK) {
        *lo = 1e-6f;
        *hi = 1.0f;
    }
}

BackendCase unary_case(int kind, size_t n, float beta, bool big)
{
    BackendCase c;
    c.family = "unary";
    c.name = "unary_kind" + std::to_string(kind) + "_n" + std::to_string(n) + "_" + beta_name(beta);
    c.big = big;
    // The same math (elementwise_math.h) on both; libm and CUDA's expf/erff/tanhf/logf
    // differ by a few ulps.
    c.rtol = 2e-5;
    c.atol = 2e-6;
    c.run = [=](BackendBuffers &d) {
        float lo, hi;
        unary_range(kind, &lo, &hi);
        const float pa = 0.2f, pb = 0.3f;
        float *x = d.upload(values(10 + kind, n, lo, hi));
        float *y = d.filled(n, kNaN);
        ok(d, d.be()->unary(d.ctx(), kind, pa, pb, n, x, y), "unary");
        float *dy = d.upload(values(40 + kind, n, -1.0f, 1.0f));
        float *dx = destination(d, n, beta, 70 + kind);
        ok(d, d.be()->unary_backward(d.ctx(), kind, pa, pb, n, x, y, dy, beta, dx),
           "unary_backward");
        float *g = d.upload(values(100 + kind, n, -1.0f, 1.0f));
        float *dx2 = destination(d, n, beta, 130 + kind);
        ok(d, d.be()->unary_backward2(d.ctx(), kind, pa, pb, n, x, y, g, dy, beta, dx2),
           "unary_backward2");
        float *dx3 = destination(d, n, beta, 160 + kind);
        ok(d, d.be()->unary_backward3(d.ctx(), kind, pa, pb, n, x, y, g, dy, beta, dx3),
           "unary_backward3");
        return std::vector<BackendOutput>{{"y", d.download(y, n)},
                                          {"dx", d.download(dx, n)},
                                          {"dx2", d.download(dx2, n)},
                                          {"dx3", d.download(dx3, n)}};
    };
    return c;
}

// ---- binary and broadcast ----

const char *bcast_name(int b)
{
    static const char *names[] = {"full", "row", "col", "scalar"};
    return names[b];
}

size_t bcast_len(int b, int64_t rows, int64_t cols)
{
    return b == DGM_BCAST_FULL ? (size_t)(rows * cols)
           : b == DGM_BCAST_ROW ? (size_t)cols
           : b == DGM_BCAST_COL ? (size_t)rows
                                : 1;
}

BackendCase binary_case(int kind, int bcast_a, int bcast_b, int64_t rows, int64_t cols,
                        float beta_a, float beta_b, bool big)
{
    BackendCase c;
    c.family = "binary";
    c.name = "binary_kind" + std::to_string(kind) + "_" + bcast_name(bcast_a) + "_" +
             bcast_name(bcast_b) + "_" + std::to_string(rows) + "x" + std::to_string(cols) +
             "_a" + beta_name(beta_a) + "_b" + beta_name(beta_b);
    c.big = big;
    c.rtol = 2e-5;
    c.atol = 2e-6;
    c.run = [=](BackendBuffers &d) {
        const size_t n = (size_t)(rows * cols);
        // b in [0.5, 2]: a divisor, a log-variance or a target, all well defined.
        float *a = d.upload(values(100 + kind, bcast_len(bcast_a, rows, cols), -2.0f, 2.0f));
        float *b = d.upload(values(200 + kind, bcast_len(bcast_b, rows, cols), 0.5f, 2.0f));
        float *out = d.filled(n, kNaN);
        ok(d, d.be()->binary(d.ctx(), kind, rows, cols, a, bcast_a, b, bcast_b, out), "binary");
        float *dy = d.upload(values(300 + kind, n, -1.0f, 1.0f));
        float *da = destination(d, n, beta_a, 400 + kind);
        float *db = destination(d, n, beta_b, 500 + kind);
        ok(d, d.be()->binary_backward(d.ctx(), kind, rows, cols, a, bcast_a, b, bcast_b, dy,
                                      beta_a, da, beta_b, db),
           "binary_backward");
        return std::vector<BackendOutput>{
            {"out", d.download(out, n)}, {"da", d.download(da, n)}, {"db", d.download(db, n)}};
    };
    return c;
}

BackendCase broadcast_case(int bcast, int64_t rows, int64_t cols, float beta, bool big)
{
    BackendCase c;
    c.family = "broadcast";
    c.name = std::string("broadcast_") + bcast_name(bcast) + "_" + std::to_string(rows) + "x" +
             std::to_string(cols) + "_" + beta_name(beta);
    c.big = big;
    c.rtol = 1e-6;
    c.atol = 1e-7;
    c.run = [=](BackendBuffers &d) {
        const size_t n = (size_t)(rows * cols);
        float *src = d.upload(values(600 + bcast, bcast_len(bcast, rows, cols), -1.0f, 1.0f));
        float *dst = destination(d, n, beta, 610 + bcast);
        ok(d, d.be()->broadcast(d.ctx(), bcast, rows, cols, 1.5f, src, beta, dst), "broadcast");
        return std::vector<BackendOutput>{{"dst", d.download(dst, n)}};
    };
    return c;
}

// ---- reductions ----

BackendCase reduce_case(int axis, int64_t rows, int64_t cols, float beta, bool big)
{
    static const char *axis_names[] = {"all", "rows", "cols"};
    BackendCase c;
    c.family = "reduce_sum";
    c.name = std::string("reduce_sum_") + axis_names[axis] + "_" + std::to_string(rows) + "x" +
             std::to_string(cols) + "_" + beta_name(beta);
    c.big = big;
    // Both backends sum in double and round once: a float ulp or two, at any length.
    c.rtol = 1e-6;
    c.atol = 1e-6;
    c.run = [=](BackendBuffers &d) {
        const size_t n = (size_t)(rows * cols);
        const size_t out_len = axis == DGM_AXIS_ROWS ? (size_t)rows
                               : axis == DGM_AXIS_COLS ? (size_t)cols
                                                       : 1;
        // Positive values: the sums cannot cancel to something tiny, where a relative
        // comparison would mean nothing.
        float *x = d.upload(values(700 + axis, n, 0.0f, 1.0f));
        float *y = destination(d, out_len, beta, 710 + axis);
        ok(d, d.be()->reduce_sum(d.ctx(), axis, rows, cols, 0.25f, x, beta, y), "reduce_sum");
        return std::vector<BackendOutput>{{"y", d.download(y, out_len)}};
    };
    return c;
}

BackendCase logsumexp_case(int64_t rows, int64_t cols, float beta, bool big)
{
    BackendCase c;
    c.family = "logsumexp_rows";
    c.name = "logsumexp_rows_" + std::to_string(rows) + "x" + std::to_string(cols) + "_" +
             beta_name(beta);
    c.big = big;
    c.rtol = 1e-5;
    c.atol = 1e-6;
    c.run = [=](BackendBuffers &d) {
        const size_t n = (size_t)(rows * cols);
        float *x = d.upload(values(800, n, -5.0f, 5.0f));
        float *y = d.filled((size_t)rows, kNaN);
        ok(d, d.be()->logsumexp_rows(d.ctx(), rows, cols, x, y), "logsumexp_rows");
        float *dy = d.upload(values(801, (size_t)rows, -1.0f, 1.0f));
        float *dx = destination(d, n, beta, 802);
        ok(d, d.be()->logsumexp_rows_backward(d.ctx(), rows, cols, x, y, dy, beta, dx),
           "logsumexp_rows_backward");
        return std::vector<BackendOutput>{{"y", d.download(y, (size_t)rows)},
                                          {"dx", d.download(dx, n)}};
    };
    return c;
}

// ---- copies ----

BackendCase copy_cols_case(int64_t rows, int64_t cols, float beta, bool big)
{
    BackendCase c;
    c.family = "copy_cols";
    c.name = "copy_cols_" + std::to_string(rows) + "x" + std::to_string(cols) + "_" + beta_name(beta);
    c.big = big;
    c.rtol = 0.0;
    c.atol = 0.0;  // one addition at most: exact on both
    c.run = [=](BackendBuffers &d) {
        const int64_t src_ld = cols + 5, dst_ld = cols + 9;
        float *src = d.upload(values(900, (size_t)(rows * src_ld), -1.0f, 1.0f));
        // The destination's padding must survive: it is compared too.
        float *dst = d.upload(values(901, (size_t)(rows * dst_ld), -1.0f, 1.0f));
        ok(d, d.be()->copy_cols(d.ctx(), rows, cols, src, src_ld, beta, dst, dst_ld), "copy_cols");
        return std::vector<BackendOutput>{{"dst", d.download(dst, (size_t)(rows * dst_ld))}};
    };
    return c;
}

BackendCase gather_case(int64_t rows, int64_t cols, int64_t src_rows)
{
    BackendCase c;
    c.family = "gather_rows";
    c.name = "gather_rows_" + std::to_string(rows) + "x" + std::to_string(cols);
    c.rtol = 0.0;
    c.atol = 0.0;
    c.run = [=](BackendBuffers &d) {
        std::mt19937 rng(910);
        std::uniform_int_distribution<int32_t> pick(0, (int32_t)src_rows - 1);
        std::vector<int32_t> idx((size_t)rows);
        for (auto &i : idx) i = pick(rng);
        float *src = d.upload(values(911, (size_t)(src_rows * cols), -1.0f, 1.0f));
        int32_t *di = d.upload_index(idx);
        float *dst = d.filled((size_t)(rows * cols), kNaN);
        ok(d, d.be()->gather_rows(d.ctx(), rows, cols, src, di, dst), "gather_rows");
        return std::vector<BackendOutput>{{"dst", d.download(dst, (size_t)(rows * cols))}};
    };
    return c;
}

BackendCase fill_axpy_case(size_t n, bool big)
{
    BackendCase c;
    c.family = "fill_axpy";
    c.name = "fill_axpy_n" + std::to_string(n);
    c.big = big;
    c.rtol = 1e-7;
    c.atol = 0.0;
    c.run = [=](BackendBuffers &d) {
        float *y = d.filled(n, kNaN);
        ok(d, d.be()->fill(d.ctx(), y, n, -2.5f), "fill");
        float *x = d.upload(values(920, n, -1.0f, 1.0f));
        ok(d, d.be()->axpy(d.ctx(), n, 0.5f, x, y), "axpy");
        return std::vector<BackendOutput>{{"y", d.download(y, n)}};
    };
    return c;
}

// ---- maxout ----

BackendCase maxout_case(int64_t rows, int64_t cols, int k, float beta, bool big)
{
    BackendCase c;
    c.family = "maxout";
    c.name = "maxout_" + std::to_string(rows) + "x" + std::to_string(cols) + "_k" +
             std::to_string(k) + "_" + beta_name(beta);
    c.big = big;
    c.rtol = 0.0;
    c.atol = 0.0;
    c.run = [=](BackendBuffers &d) {
        const size_t n_out = (size_t)(rows * cols), n_in = n_out * (size_t)k;
        // Few distinct values, so ties happen: the first maximum must win on both.
        std::vector<float> xv = values(930, n_in, 0.0f, 8.0f);
        for (auto &v : xv) v = std::floor(v);
        float *x = d.upload(xv);
        float *y = d.filled(n_out, kNaN);
        int32_t *arg = d.upload_index(std::vector<int32_t>(n_out, -1));
        ok(d, d.be()->maxout(d.ctx(), rows, cols, k, x, y, arg), "maxout");
        float *dy = d.upload(values(931, n_out, -1.0f, 1.0f));
        float *dx = destination(d, n_in, beta, 932);
        ok(d, d.be()->maxout_backward(d.ctx(), rows, cols, k, arg, dy, beta, dx), "maxout_backward");
        std::vector<int32_t> ai = d.download_index(arg, n_out);
        return std::vector<BackendOutput>{{"y", d.download(y, n_out)},
                                          {"argmax", std::vector<float>(ai.begin(), ai.end())},
                                          {"dx", d.download(dx, n_in)}};
    };
    return c;
}

// ---- batch norm ----

BackendCase batchnorm_case(int training, int64_t rows, int64_t cols, float beta_dx, bool big)
{
    BackendCase c;
    c.family = "batchnorm";
    c.name = std::string("batchnorm_") + (training ? "train_" : "eval_") + std::to_string(rows) +
             "x" + std::to_string(cols) + "_dx" + beta_name(beta_dx);
    c.big = big;
    // Statistics in double on both; the normalized values and the gradients are a few
    // float operations from them.
    c.rtol = 2e-5;
    c.atol = 2e-5;
    c.run = [=](BackendBuffers &d) {
        const size_t n = (size_t)(rows * cols), C = (size_t)cols;
        float *x = d.upload(values(940, n, -2.0f, 3.0f));
        float *gamma = d.upload(values(941, C, 0.5f, 1.5f));
        float *beta = d.upload(values(942, C, -0.5f, 0.5f));
        float *rmean = d.upload(values(943, C, -0.5f, 0.5f));
        float *rvar = d.upload(values(944, C, 0.5f, 2.0f));
        float *y = d.filled(n, kNaN), *smean = d.filled(C, kNaN), *sinv = d.filled(C, kNaN);
        ok(d, d.be()->batchnorm_forward(d.ctx(), training, rows, cols, 1e-5f, 0.1f, x, gamma,
                                        beta, rmean, rvar, y, smean, sinv),
           "batchnorm_forward");
        float *dy = d.upload(values(945, n, -1.0f, 1.0f));
        float *dx = destination(d, n, beta_dx, 946);
        // dgamma and dbeta accumulate (+=) into what is there.
        float *dgamma = d.upload(values(947, C, -1.0f, 1.0f));
        float *dbeta = d.upload(values(948, C, -1.0f, 1.0f));
        ok(d, d.be()->batchnorm_backward(d.ctx(), training, rows, cols, x, gamma, smean, sinv, dy,
                                         beta_dx, dx, dgamma, dbeta),
           "batchnorm_backward");
        return std::vector<BackendOutput>{
            {"y", d.download(y, n)},          {"save_mean", d.download(smean, C)},
            {"save_invstd", d.download(sinv, C)}, {"running_mean", d.download(rmean, C)},
            {"running_var", d.download(rvar, C)}, {"dx", d.download(dx, n)},
            {"dgamma", d.download(dgamma, C)},   {"dbeta", d.download(dbeta, C)}};
    };
    return c;
}

}  // namespace

std::vector<BackendCase> all_backend_cases()
{
    std::vector<BackendCase> v;
    // gemm: every transpose pair at sizes spanning many cuBLAS tiles, both betas, leading
    // dimensions wider than the matrices, and an empty inner dimension (C = beta·C).
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (float beta : {0.0f, 0.5f}) v.push_back(gemm_case(ta, tb, 300, 200, 150, beta, 0));
    v.push_back(gemm_case(0, 1, 129, 65, 257, 0.5f, 3));
    for (float beta : {0.0f, 0.5f}) v.push_back(gemm_case(0, 0, 37, 23, 0, beta, 0));
    for (float beta : {0.0f, 0.5f}) v.push_back(gemm_case(1, 1, 37, 23, 0, beta, 2));

    // unary: every kind (DGM_UNARY_COUNT follows kinds added later), both betas.
    for (int kind = 0; kind < DGM_UNARY_COUNT; kind++)
        for (float beta : {0.0f, 0.7f}) v.push_back(unary_case(kind, 100003, beta, false));
    v.push_back(unary_case(DGM_UNARY_GELU, kBeyondOneGrid, 0.7f, true));

    // binary: every kind against every layout of b, both betas on each side.
    for (int kind = 0; kind < DGM_BINARY_COUNT; kind++)
        for (int bb = DGM_BCAST_FULL; bb <= DGM_BCAST_SCALAR; bb++) {
            v.push_back(binary_case(kind, DGM_BCAST_FULL, bb, 300, 517, 0.0f, 0.5f, false));
            v.push_back(binary_case(kind, bb, DGM_BCAST_FULL, 300, 517, 0.5f, 0.0f, false));
        }
    v.push_back(binary_case(DGM_BINARY_MUL, DGM_BCAST_COL, DGM_BCAST_ROW, 65543, 257, 0.5f,
                            0.5f, true));

    for (int b = DGM_BCAST_FULL; b <= DGM_BCAST_SCALAR; b++)
        for (float beta : {0.0f, 0.5f}) v.push_back(broadcast_case(b, 300, 517, beta, false));
    v.push_back(broadcast_case(DGM_BCAST_ROW, 65543, 257, 0.5f, true));

    // sums: every axis, rows and columns longer than a block or a warp, narrow and wide.
    for (int axis = DGM_AXIS_ALL; axis <= DGM_AXIS_COLS; axis++)
        for (float beta : {0.0f, 0.5f}) {
            v.push_back(reduce_case(axis, 1000, 700, beta, false));
            v.push_back(reduce_case(axis, 3, 100000, beta, false));
            v.push_back(reduce_case(axis, 100000, 3, beta, false));
        }
    // More rows than 65,536 blocks of 8 warps; more column tiles than 65,536 blocks.
    v.push_back(reduce_case(DGM_AXIS_ROWS, 600000, 29, 0.5f, true));
    v.push_back(reduce_case(DGM_AXIS_COLS, 2, 2100000, 0.5f, true));
    v.push_back(reduce_case(DGM_AXIS_ALL, 4099, 4099, 0.5f, true));

    // logsumexp: more than 256 columns (several per thread of the row's block), more rows
    // than blocks.
    for (float beta : {0.0f, 0.5f}) v.push_back(logsumexp_case(300, 1000, beta, false));
    v.push_back(logsumexp_case(70000, 5, 0.5f, true));

    for (float beta : {0.0f, 1.0f}) v.push_back(copy_cols_case(1000, 300, beta, false));
    v.push_back(copy_cols_case(65543, 257, 1.0f, true));
    v.push_back(gather_case(1000, 300, 777));
    v.push_back(fill_axpy_case(100003, false));
    v.push_back(fill_axpy_case(kBeyondOneGrid, true));

    for (float beta : {0.0f, 0.5f}) v.push_back(maxout_case(1000, 200, 3, beta, false));
    v.push_back(maxout_case(65543, 257, 2, 0.5f, true));

    // batch norm: more rows than threads in a block, and more columns than blocks.
    for (int training = 0; training < 2; training++)
        for (float beta : {0.0f, 0.5f}) v.push_back(batchnorm_case(training, 1000, 300, beta, false));
    v.push_back(batchnorm_case(1, 3, 70000, 0.5f, true));
    return v;
}

std::vector<std::string> backend_case_families()
{
    std::vector<std::string> f;
    for (const auto &c : all_backend_cases())
        if (std::find(f.begin(), f.end(), c.family) == f.end()) f.push_back(c.family);
    return f;
}

}  // namespace dgmtest
