/* Sinusoidal time embedding of DDPM (formula and source in include/dgm/nn.h):
 * [sin(t·f), cos(t·f) (, 0)] with f_i = exp(−ln(10000)·i/(half−1)); or random Fourier
 * features, the same with f_i = 2π·w_i, w_i ~ N(0, scale²).
 *
 * The frequencies live in a persistent [1, half] tensor made once, so a forward call is
 * device work only: the K = 1 matmul t [B, 1] · f [1, half] for the arguments, a sine and
 * a cosine pass, and the concatenation. */
#include <math.h>
#include <stdlib.h>

#include "nn/nn_internal.h"

struct dgm_time_embedding {
    dgm_ctx *ctx;
    int dim;
    dgm_tensor *freqs; /* [1, half], persistent */
};

/* The embedding of `dim` columns with the frequencies of fill(f, half, arg). */
static dgm_status make(dgm_ctx *ctx, const char *who, int dim, void (*fill)(float *, int, const void *),
                       const void *arg, dgm_time_embedding **out)
{
    DGM_TRY(dgm_check_ctx(ctx));
    if (!out) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: out is NULL", who);
    *out = NULL;
    if (dim < 2 || dim > (1 << 24))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: dim is %d (must be 2 to 2^24)", who, dim);
    const int half = dim / 2;
    dgm_time_embedding *e = calloc(1, sizeof *e);
    float *f = malloc((size_t)half * sizeof *f);
    if (!e || !f) {
        free(e);
        free(f);
        return dgm_set_error(ctx, DGM_STATUS_OOM, "%s: out of host memory", who);
    }
    fill(f, half, arg);
    e->ctx = ctx;
    e->dim = dim;
    const int64_t shape[2] = {1, half};
    dgm_status st = dgm_tensor_create(ctx, 2, shape, &e->freqs);
    if (st == DGM_STATUS_OK) st = dgm_tensor_copy_from_host(ctx, e->freqs, f);
    free(f);
    if (st != DGM_STATUS_OK) {
        dgm_time_embedding_free(e);
        return st;
    }
    *out = e;
    return DGM_STATUS_OK;
}

static void geometric(float *f, int half, const void *arg)
{
    (void)arg;
    const double step = half > 1 ? log(10000.0) / (half - 1) : 0.0;
    for (int i = 0; i < half; i++) f[i] = (float)exp(-step * i);
}

dgm_status dgm_time_embedding_create(dgm_ctx *ctx, int dim, dgm_time_embedding **out)
{
    return make(ctx, "dgm_time_embedding_create", dim, geometric, NULL, out);
}

typedef struct fourier {
    double scale;
    uint64_t seed;
} fourier;

/* splitmix64: a portable stream, so the frequencies do not depend on the backend. */
static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* 2π·w, w ~ N(0, scale²) by Box–Muller in double. */
static void gaussian(float *f, int half, const void *arg)
{
    const fourier *p = arg;
    uint64_t state = p->seed;
    const double two_pi = 6.283185307179586;
    for (int i = 0; i < half; i += 2) {
        const double u1 = ((double)(splitmix(&state) >> 11) + 1.0) / 9007199254740993.0;
        const double u2 = (double)(splitmix(&state) >> 11) / 9007199254740992.0;
        const double r = sqrt(-2.0 * log(u1));
        f[i] = (float)(two_pi * p->scale * r * cos(two_pi * u2));
        if (i + 1 < half) f[i + 1] = (float)(two_pi * p->scale * r * sin(two_pi * u2));
    }
}

dgm_status dgm_time_embedding_create_fourier(dgm_ctx *ctx, int dim, double scale, uint64_t seed,
                                             dgm_time_embedding **out)
{
    const char *who = "dgm_time_embedding_create_fourier";
    if (out) *out = NULL;
    if (dim % 2 || !(scale > 0.0 && scale < 1e6))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: dim %d must be even and scale %g in (0, 1e6)",
                             who, dim, scale);
    const fourier arg = {scale, seed};
    return make(ctx, who, dim, gaussian, &arg, out);
}

void dgm_time_embedding_free(dgm_time_embedding *emb)
{
    if (!emb) return;
    dgm_tensor_free(emb->freqs);
    free(emb);
}

int dgm_time_embedding_dim(const dgm_time_embedding *emb) { return emb ? emb->dim : 0; }

/* sin or cos of every element of x, into a new step tensor of x's shape; not recorded. */
static dgm_status apply(dgm_ctx *ctx, int kind, dgm_tensor *x, dgm_tensor **out)
{
    DGM_TRY(dgm_tensor_alloc_step(ctx, x->ndim, x->shape, out));
    return ctx->be->unary(ctx, kind, 0.0f, 0.0f, (size_t)x->numel, x->data, (*out)->data);
}

static dgm_status embed(dgm_ctx *ctx, const dgm_time_embedding *emb, dgm_tensor *t,
                        dgm_tensor **out)
{
    const int64_t rows = t->numel, col[2] = {rows, 1};
    dgm_tensor *t2, *args, *s, *c, *sc;
    DGM_TRY(dgm_reshape(ctx, t, 2, col, &t2));
    DGM_TRY(dgm_matmul(ctx, t2, false, emb->freqs, false, NULL, DGM_ACT_NONE, 0.0f, &args));
    DGM_TRY(apply(ctx, DGM_UNARY_SIN, args, &s));
    DGM_TRY(apply(ctx, DGM_UNARY_COS, args, &c));
    if (emb->dim % 2 == 0) return dgm_concat_cols(ctx, s, c, out);
    dgm_tensor *zero;
    DGM_TRY(dgm_concat_cols(ctx, s, c, &sc));
    DGM_TRY(dgm_tensor_new(ctx, 2, col, &zero));
    DGM_TRY(dgm_tensor_fill(ctx, zero, 0.0f));
    return dgm_concat_cols(ctx, sc, zero, out);
}

dgm_status dgm_time_embedding_forward(dgm_ctx *ctx, const dgm_time_embedding *emb, dgm_tensor *t,
                                      dgm_tensor **out)
{
    DGM_TRY(dgm_op_begin(ctx, "time_embedding", out));
    if (!emb)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "time_embedding: emb is NULL");
    if (emb->ctx != ctx)
        return dgm_set_error(ctx, DGM_STATUS_WRONG_DEVICE,
                             "time_embedding: the embedding belongs to another context");
    DGM_TRY(dgm_check_tensor(ctx, t, "time_embedding", "t"));
    if (!(t->ndim == 1 || (t->ndim == 2 && t->shape[1] == 1))) {
        char s[96];
        return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH,
                             "time_embedding: t is %s, expected [B] or [B, 1]",
                             dgm_shape_str(t, s, sizeof s));
    }
    /* No gradient flows to t: record nothing, whatever t requires. */
    const bool grad = dgm_ctx_grad_enabled(ctx);
    dgm_ctx_set_grad_enabled(ctx, false);
    const dgm_status st = embed(ctx, emb, t, out);
    dgm_ctx_set_grad_enabled(ctx, grad);
    return st;
}
