/* The CPU backend's convolutions through oneDNN (Debian's libdnnl, the library PyTorch's
 * CPU convolutions run on), chosen over im2col + OpenBLAS by measurement
 * (benchmarks/bench_conv, docs/benchmark-notes.md): oneDNN's direct AVX-512/AVX2 kernels
 * work on blocked layouts (nChw16c), so each call reorders its NCHW operands into the
 * layouts the primitive chose and its result back; with the reorders a 32 -> 32 3×3
 * convolution of 128 images of 28×28, forward and backward, ran in 14 ms against 44 ms on
 * oneDNN's own plain-layout (im2col) path and 55 ms on dgm's im2col + OpenBLAS.
 *
 * Primitives are made once per shape (a JIT compilation each) and kept per context in a
 * small cache; the blocked copies live in per-context buffers that grow to the largest
 * shape seen. A shape oneDNN cannot take (a padding it rejects) returns
 * DGM_STATUS_UNSUPPORTED without an error, and the caller runs the im2col method. */
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu_internal.h"

#ifdef DGM_HAVE_DNNL
#include <dnnl.h>

#define DNNL_CACHE_SIZE 128
#define SLOTS 4 /* input 0, input 1, output, bias (forward: input; weight: output) */

typedef struct conv_entry {
    int kind; /* DGM_CONV_FORWARD ... */
    int bias; /* a forward convolution with a bias */
    dgm_conv_geom g;
    uint64_t used; /* last use, for eviction */
    dnnl_primitive_t prim;
    dnnl_primitive_t reorder[3];   /* inputs: plain -> inner; output: inner -> plain */
    dnnl_memory_t plain[SLOTS];    /* NCHW views of dgm's tensors (handles set per call) */
    dnnl_memory_t inner[3];        /* the primitive's layouts (handles: the buffers) */
    size_t inner_bytes[3];
    dnnl_memory_desc_t inner_md[3];
    int arg[SLOTS];
} conv_entry;

struct dgm_dnnl_state {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    conv_entry cache[DNNL_CACHE_SIZE];
    int count;
    uint64_t clock;
    /* inner copies of slots 0-2, plain outputs (2, 3) to accumulate, and dy's copy that a
     * whole backward shares */
    void *buf[6];
    size_t buf_bytes[6];
};

static dgm_status dnnl_fail(dgm_ctx *ctx, dnnl_status_t s, const char *what)
{
    return dgm_set_error(ctx, s == dnnl_out_of_memory ? DGM_STATUS_OOM : DGM_STATUS_BACKEND_ERROR,
                         "oneDNN: %s failed (dnnl_status %d)", what, (int)s);
}

#define DGM_TRY(expr)                                                                         \
    do {                                                                                      \
        dgm_status t_ = (expr);                                                               \
        if (t_ != DGM_STATUS_OK) return t_;                                                   \
    } while (0)

#define DNNL_TRY(ctx, call)                                                                   \
    do {                                                                                      \
        dnnl_status_t s_ = (call);                                                            \
        if (s_ != dnnl_success) return dnnl_fail((ctx), s_, #call);                          \
    } while (0)

static void entry_release(conv_entry *e)
{
    if (e->prim) dnnl_primitive_destroy(e->prim);
    for (int i = 0; i < 3; i++) {
        if (e->reorder[i]) dnnl_primitive_destroy(e->reorder[i]);
        if (e->inner[i]) dnnl_memory_destroy(e->inner[i]);
    }
    for (int i = 0; i < SLOTS; i++)
        if (e->plain[i]) dnnl_memory_destroy(e->plain[i]);
    memset(e, 0, sizeof *e);
}

void dgm_dnnl_release(struct dgm_dnnl_state *s)
{
    if (!s) return;
    for (int i = 0; i < s->count; i++) entry_release(&s->cache[i]);
    for (int i = 0; i < 6; i++) free(s->buf[i]);
    if (s->stream) dnnl_stream_destroy(s->stream);
    if (s->engine) dnnl_engine_destroy(s->engine);
    free(s);
}

/* The plain descriptors of the convolution's data (x-shaped, y-shaped), weight and bias. */
typedef struct conv_mds {
    dnnl_memory_desc_t x, y, w, b;
    dnnl_memory_desc_t ax, ay, aw; /* the same dims, layout left to the primitive */
    dnnl_dims_t strides, dilates, pad_l, pad_r;
} conv_mds;

static dgm_status make_mds(dgm_ctx *ctx, const dgm_conv_geom *g, conv_mds *m)
{
    const dnnl_dims_t xd = {g->n, g->c, g->h, g->w}, yd = {g->n, g->o, g->oh, g->ow};
    const dnnl_dims_t bd = {g->o};
    DNNL_TRY(ctx, dnnl_memory_desc_init_by_tag(&m->x, 4, xd, dnnl_f32, dnnl_nchw));
    DNNL_TRY(ctx, dnnl_memory_desc_init_by_tag(&m->y, 4, yd, dnnl_f32, dnnl_nchw));
    DNNL_TRY(ctx, dnnl_memory_desc_init_by_tag(&m->b, 1, bd, dnnl_f32, dnnl_x));
    DNNL_TRY(ctx, dnnl_memory_desc_init_by_tag(&m->ax, 4, xd, dnnl_f32, dnnl_format_tag_any));
    DNNL_TRY(ctx, dnnl_memory_desc_init_by_tag(&m->ay, 4, yd, dnnl_f32, dnnl_format_tag_any));
    if (g->groups == 1) {
        const dnnl_dims_t wd = {g->o, g->c, g->kh, g->kw};
        DNNL_TRY(ctx, dnnl_memory_desc_init_by_tag(&m->w, 4, wd, dnnl_f32, dnnl_oihw));
        DNNL_TRY(ctx, dnnl_memory_desc_init_by_tag(&m->aw, 4, wd, dnnl_f32, dnnl_format_tag_any));
    } else { /* [G, O/G, C/G, KH, KW]: the same memory as dgm's [O, C/G, KH, KW] */
        const dnnl_dims_t wd = {g->groups, g->o / g->groups, g->c / g->groups, g->kh, g->kw};
        DNNL_TRY(ctx, dnnl_memory_desc_init_by_tag(&m->w, 5, wd, dnnl_f32, dnnl_goihw));
        DNNL_TRY(ctx, dnnl_memory_desc_init_by_tag(&m->aw, 5, wd, dnnl_f32, dnnl_format_tag_any));
    }
    m->strides[0] = g->sh;
    m->strides[1] = g->sw;
    m->dilates[0] = g->dh - 1; /* oneDNN counts the gaps */
    m->dilates[1] = g->dw - 1;
    m->pad_l[0] = g->ph;
    m->pad_l[1] = g->pw;
    /* the right padding that makes oneDNN's output size dgm's */
    m->pad_r[0] = (g->oh - 1) * g->sh + (g->kh - 1) * g->dh + 1 - g->h - g->ph;
    m->pad_r[1] = (g->ow - 1) * g->sw + (g->kw - 1) * g->dw + 1 - g->w - g->pw;
    return DGM_STATUS_OK;
}

/* Slot i of the entry: a plain memory of `plain` and, when the primitive's own layout
 * `want` differs, an inner memory and the reorder between them (into the primitive for
 * inputs, out of it for the output). */
static dgm_status make_slot(dgm_ctx *ctx, struct dgm_dnnl_state *s, conv_entry *e, int i,
                            const dnnl_memory_desc_t *plain, const dnnl_memory_desc_t *want,
                            int arg, bool output)
{
    e->arg[i] = arg;
    DNNL_TRY(ctx, dnnl_memory_create(&e->plain[i], plain, s->engine, DNNL_MEMORY_NONE));
    if (!want || dnnl_memory_desc_equal(plain, want)) return DGM_STATUS_OK;
    DNNL_TRY(ctx, dnnl_memory_create(&e->inner[i], want, s->engine, DNNL_MEMORY_NONE));
    e->inner_bytes[i] = dnnl_memory_desc_get_size(want);
    e->inner_md[i] = *want;
    dnnl_primitive_desc_t rpd = NULL;
    if (output)
        DNNL_TRY(ctx, dnnl_reorder_primitive_desc_create(&rpd, want, s->engine, plain, s->engine, NULL));
    else
        DNNL_TRY(ctx, dnnl_reorder_primitive_desc_create(&rpd, plain, s->engine, want, s->engine, NULL));
    dnnl_status_t st = dnnl_primitive_create(&e->reorder[i], rpd);
    dnnl_primitive_desc_destroy(rpd);
    if (st != dnnl_success) return dnnl_fail(ctx, st, "dnnl_primitive_create (reorder)");
    return DGM_STATUS_OK;
}

/* Creates the primitive of `kind` for g into e (slots: forward x, w -> y (+ bias);
 * data dy, w -> dx; weight x, dy -> dw). UNSUPPORTED without an error when oneDNN
 * rejects the shape. */
static dgm_status make_entry(dgm_ctx *ctx, struct dgm_dnnl_state *s, int kind, int bias,
                             const dgm_conv_geom *g, conv_entry *e)
{
    conv_mds m;
    DGM_TRY(make_mds(ctx, g, &m));
    if (m.pad_r[0] < 0 || m.pad_r[1] < 0) return DGM_STATUS_UNSUPPORTED;
    dnnl_convolution_desc_t fd, bd;
    if (dnnl_dilated_convolution_forward_desc_init(&fd, dnnl_forward_training,
                                                   dnnl_convolution_direct, &m.ax, &m.aw,
                                                   bias ? &m.b : NULL, &m.ay,
                                                   m.strides, m.dilates, m.pad_l,
                                                   m.pad_r) != dnnl_success)
        return DGM_STATUS_UNSUPPORTED;
    dnnl_primitive_desc_t fpd = NULL, pd = NULL;
    if (dnnl_primitive_desc_create(&fpd, &fd, NULL, s->engine, NULL) != dnnl_success)
        return DGM_STATUS_UNSUPPORTED;
    dnnl_status_t st = dnnl_success;
    if (kind == DGM_CONV_FORWARD) {
        pd = fpd;
        fpd = NULL;
    } else {
        if (kind == DGM_CONV_DATA)
            st = dnnl_dilated_convolution_backward_data_desc_init(
                &bd, dnnl_convolution_direct, &m.ax, &m.aw, &m.ay, m.strides, m.dilates, m.pad_l,
                m.pad_r);
        else
            st = dnnl_dilated_convolution_backward_weights_desc_init(
                &bd, dnnl_convolution_direct, &m.ax, &m.aw, bias ? &m.b : NULL, &m.ay, m.strides,
                m.dilates, m.pad_l, m.pad_r);
        if (st == dnnl_success) st = dnnl_primitive_desc_create(&pd, &bd, NULL, s->engine, fpd);
        dnnl_primitive_desc_destroy(fpd);
        if (st != dnnl_success) return DGM_STATUS_UNSUPPORTED;
    }
#define MD(q) dnnl_primitive_desc_query_md(pd, (q), 0)
    dgm_status r = DGM_STATUS_OK;
    if (kind == DGM_CONV_FORWARD) {
        r = make_slot(ctx, s, e, 0, &m.x, MD(dnnl_query_src_md), DNNL_ARG_SRC, false);
        if (!r) r = make_slot(ctx, s, e, 1, &m.w, MD(dnnl_query_weights_md), DNNL_ARG_WEIGHTS, false);
        if (!r) r = make_slot(ctx, s, e, 2, &m.y, MD(dnnl_query_dst_md), DNNL_ARG_DST, true);
        if (!r && bias) r = make_slot(ctx, s, e, 3, &m.b, NULL, DNNL_ARG_BIAS, false);
    } else if (kind == DGM_CONV_DATA) {
        r = make_slot(ctx, s, e, 0, &m.y, MD(dnnl_query_diff_dst_md), DNNL_ARG_DIFF_DST, false);
        if (!r) r = make_slot(ctx, s, e, 1, &m.w, MD(dnnl_query_weights_md), DNNL_ARG_WEIGHTS, false);
        if (!r) r = make_slot(ctx, s, e, 2, &m.x, MD(dnnl_query_diff_src_md), DNNL_ARG_DIFF_SRC, true);
    } else {
        r = make_slot(ctx, s, e, 0, &m.x, MD(dnnl_query_src_md), DNNL_ARG_SRC, false);
        if (!r) r = make_slot(ctx, s, e, 1, &m.y, MD(dnnl_query_diff_dst_md), DNNL_ARG_DIFF_DST, false);
        if (!r) r = make_slot(ctx, s, e, 2, &m.w, MD(dnnl_query_diff_weights_md), DNNL_ARG_DIFF_WEIGHTS, true);
        if (!r && bias) r = make_slot(ctx, s, e, 3, &m.b, NULL, DNNL_ARG_DIFF_BIAS, true);
    }
#undef MD
    if (!r) {
        st = dnnl_primitive_create(&e->prim, pd);
        if (st != dnnl_success) r = dnnl_fail(ctx, st, "dnnl_primitive_create (convolution)");
    }
    dnnl_primitive_desc_destroy(pd);
    if (r) {
        entry_release(e);
        return r;
    }
    e->kind = kind;
    e->bias = bias;
    e->g = *g;
    return DGM_STATUS_OK;
}

static dgm_status state_of(dgm_ctx *ctx, struct dgm_dnnl_state **out)
{
    struct dgm_dnnl_state **slot = dgm_cpu_dnnl_slot(ctx);
    if (!slot) return DGM_STATUS_UNSUPPORTED;
    if (!*slot) {
        struct dgm_dnnl_state *s = calloc(1, sizeof *s);
        if (!s) return dgm_set_error(ctx, DGM_STATUS_OOM, "oneDNN: out of host memory");
        dnnl_status_t st = dnnl_engine_create(&s->engine, dnnl_cpu, 0);
        if (st == dnnl_success) st = dnnl_stream_create(&s->stream, s->engine, dnnl_stream_default_flags);
        if (st != dnnl_success) {
            dgm_dnnl_release(s);
            return dnnl_fail(ctx, st, "creating the CPU engine and stream");
        }
        *slot = s;
    }
    *out = *slot;
    return DGM_STATUS_OK;
}

/* The cached entry of (kind, g), made when missing (the least recently used one makes
 * room). */
static dgm_status lookup(dgm_ctx *ctx, struct dgm_dnnl_state *s, int kind, int bias,
                         const dgm_conv_geom *g, conv_entry **out)
{
    conv_entry *victim = NULL;
    for (int i = 0; i < s->count; i++) {
        conv_entry *e = &s->cache[i];
        if (e->prim && e->kind == kind && e->bias == bias && !memcmp(&e->g, g, sizeof *g)) {
            e->used = ++s->clock;
            *out = e;
            return DGM_STATUS_OK;
        }
        if (!victim || e->used < victim->used) victim = e;
    }
    conv_entry *e = s->count < DNNL_CACHE_SIZE ? &s->cache[s->count] : victim;
    if (e == victim) entry_release(e);
    DGM_TRY(make_entry(ctx, s, kind, bias, g, e));
    if (s->count < DNNL_CACHE_SIZE && e == &s->cache[s->count]) s->count++;
    e->used = ++s->clock;
    *out = e;
    return DGM_STATUS_OK;
}

static dgm_status buffer(dgm_ctx *ctx, struct dgm_dnnl_state *s, int i, size_t bytes, void **p)
{
    if (s->buf_bytes[i] < bytes) {
        free(s->buf[i]);
        s->buf_bytes[i] = 0;
        s->buf[i] = aligned_alloc(64, (bytes + 63) / 64 * 64);
        if (!s->buf[i])
            return dgm_set_error(ctx, DGM_STATUS_OOM, "oneDNN: cannot allocate %zu bytes", bytes);
        s->buf_bytes[i] = bytes;
    }
    *p = s->buf[i];
    return DGM_STATUS_OK;
}

static dgm_status reorder(dgm_ctx *ctx, struct dgm_dnnl_state *s, dnnl_primitive_t r,
                          dnnl_memory_t from, dnnl_memory_t to)
{
    const dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    DNNL_TRY(ctx, dnnl_primitive_execute(r, s->stream, 2, args));
    return DGM_STATUS_OK;
}

/* Runs the entry on in0, in1 (and the forward's bias) into out = beta·out + result, with
 * beta 0 or 1, and the weight map's bias gradient into db alike. Input slot `ready` (-1:
 * none) is already in the primitive's layout at ready_buf. */
static dgm_status run(dgm_ctx *ctx, struct dgm_dnnl_state *s, conv_entry *e, const float *in0,
                      const float *in1, const float *bias, float beta, float *out, size_t out_n,
                      float *db, size_t db_n, int ready, void *ready_buf)
{
    DGM_CPU_FP_SCOPE(ctx);
    const float *src[2] = {in0, in1};
    dnnl_exec_arg_t args[SLOTS];
    int nargs = 0;
    for (int i = 0; i < 2; i++) {
        DNNL_TRY(ctx, dnnl_memory_set_data_handle(e->plain[i], (void *)src[i]));
        if (i == ready) {
            DNNL_TRY(ctx, dnnl_memory_set_data_handle(e->inner[i], ready_buf));
        } else if (e->inner[i]) {
            void *p = NULL;
            DGM_TRY(buffer(ctx, s, i, e->inner_bytes[i], &p));
            DNNL_TRY(ctx, dnnl_memory_set_data_handle(e->inner[i], p));
            DGM_TRY(reorder(ctx, s, e->reorder[i], e->plain[i], e->inner[i]));
        }
        args[nargs++] = (dnnl_exec_arg_t){e->arg[i], e->inner[i] ? e->inner[i] : e->plain[i]};
    }
    float *plain_db = db;
    if (e->plain[3] && bias) {
        DNNL_TRY(ctx, dnnl_memory_set_data_handle(e->plain[3], (void *)bias));
        args[nargs++] = (dnnl_exec_arg_t){e->arg[3], e->plain[3]};
    } else if (e->plain[3]) {
        if (beta != 0.0f) DGM_TRY(buffer(ctx, s, 4, db_n * sizeof(float), (void **)&plain_db));
        DNNL_TRY(ctx, dnnl_memory_set_data_handle(e->plain[3], plain_db));
        args[nargs++] = (dnnl_exec_arg_t){e->arg[3], e->plain[3]};
    }
    /* The result in plain layout lands in out, or, to be added to out, in a buffer. */
    float *plain_out = out;
    if (beta != 0.0f) DGM_TRY(buffer(ctx, s, 3, out_n * sizeof(float), (void **)&plain_out));
    DNNL_TRY(ctx, dnnl_memory_set_data_handle(e->plain[2], plain_out));
    if (e->inner[2]) {
        void *p = NULL;
        DGM_TRY(buffer(ctx, s, 2, e->inner_bytes[2], &p));
        DNNL_TRY(ctx, dnnl_memory_set_data_handle(e->inner[2], p));
    }
    args[nargs++] = (dnnl_exec_arg_t){e->arg[2], e->inner[2] ? e->inner[2] : e->plain[2]};
    DNNL_TRY(ctx, dnnl_primitive_execute(e->prim, s->stream, nargs, args));
    if (e->inner[2]) DGM_TRY(reorder(ctx, s, e->reorder[2], e->inner[2], e->plain[2]));
    DNNL_TRY(ctx, dnnl_stream_wait(s->stream));
    if (beta == 0.0f) return DGM_STATUS_OK;
    if (db && e->plain[3]) DGM_TRY(dgm_cpu_axpy(ctx, db_n, 1.0f, plain_db, db));
    return dgm_cpu_axpy(ctx, out_n, 1.0f, plain_out, out);
}

static dgm_status conv_call(dgm_ctx *ctx, int kind, const dgm_conv_geom *g, const float *a,
                            const float *b, const float *bias, float beta, float *out,
                            size_t out_n, float *db)
{
    if (beta != 0.0f && beta != 1.0f) return DGM_STATUS_UNSUPPORTED;
    struct dgm_dnnl_state *s = NULL;
    DGM_TRY(state_of(ctx, &s));
    conv_entry *e = NULL;
    DGM_TRY(lookup(ctx, s, kind, bias != NULL || db != NULL, g, &e));
    return run(ctx, s, e, a, b, bias, beta, out, out_n, db, (size_t)g->o, -1, NULL);
}

dgm_status dgm_cpu_conv_forward(dgm_ctx *ctx, const dgm_conv_geom *g, const float *x,
                                const float *w, const float *bias, float beta, float *y)
{
    return conv_call(ctx, DGM_CONV_FORWARD, g, x, w, bias, beta, y,
                     (size_t)(g->n * g->o * g->oh * g->ow), NULL);
}

dgm_status dgm_cpu_conv_data(dgm_ctx *ctx, const dgm_conv_geom *g, const float *dy,
                             const float *w, float beta, float *dx)
{
    return conv_call(ctx, DGM_CONV_DATA, g, dy, w, NULL, beta, dx,
                     (size_t)(g->n * g->c * g->h * g->w), NULL);
}

dgm_status dgm_cpu_conv_weight(dgm_ctx *ctx, const dgm_conv_geom *g, const float *x,
                               const float *dy, float beta, float *dw, float *db)
{
    return conv_call(ctx, DGM_CONV_WEIGHT, g, x, dy, NULL, beta, dw,
                     (size_t)(g->o * (g->c / g->groups) * g->kh * g->kw), db);
}

/* Both gradients of a convolution from one reorder of dy, when the two primitives chose
 * the same layout for it (PyTorch's backward shares it too); else the two maps apart. */
dgm_status dgm_cpu_conv_backward(dgm_ctx *ctx, const dgm_conv_geom *g, const float *x,
                                 const float *w, const float *dy, float beta_x, float *dx,
                                 float beta_w, float *dw, float *db)
{
    if ((beta_x != 0.0f && beta_x != 1.0f) || (beta_w != 0.0f && beta_w != 1.0f))
        return DGM_STATUS_UNSUPPORTED;
    struct dgm_dnnl_state *s = NULL;
    DGM_TRY(state_of(ctx, &s));
    conv_entry *ed = NULL, *ew = NULL;
    DGM_TRY(lookup(ctx, s, DGM_CONV_DATA, 0, g, &ed));
    DGM_TRY(lookup(ctx, s, DGM_CONV_WEIGHT, db != NULL, g, &ew));
    /* The lookups may have evicted each other in a full cache: look the first up again. */
    if (ed->kind != DGM_CONV_DATA || memcmp(&ed->g, g, sizeof *g))
        DGM_TRY(lookup(ctx, s, DGM_CONV_DATA, 0, g, &ed));
    const size_t nx = (size_t)(g->n * g->c * g->h * g->w);
    const size_t nw = (size_t)(g->o * (g->c / g->groups) * g->kh * g->kw);
    if (!ed->inner[0] || !ew->inner[1] || !dnnl_memory_desc_equal(&ed->inner_md[0], &ew->inner_md[1])) {
        DGM_TRY(run(ctx, s, ed, dy, w, NULL, beta_x, dx, nx, NULL, 0, -1, NULL));
        return run(ctx, s, ew, x, dy, NULL, beta_w, dw, nw, db, (size_t)g->o, -1, NULL);
    }
    void *shared = NULL;
    DGM_TRY(buffer(ctx, s, 5, ed->inner_bytes[0], &shared));
    {
        DGM_CPU_FP_SCOPE(ctx);
        DNNL_TRY(ctx, dnnl_memory_set_data_handle(ed->plain[0], (void *)dy));
        DNNL_TRY(ctx, dnnl_memory_set_data_handle(ed->inner[0], shared));
        DGM_TRY(reorder(ctx, s, ed->reorder[0], ed->plain[0], ed->inner[0]));
    }
    DGM_TRY(run(ctx, s, ed, dy, w, NULL, beta_x, dx, nx, NULL, 0, 0, shared));
    return run(ctx, s, ew, x, dy, NULL, beta_w, dw, nw, db, (size_t)g->o, 1, shared);
}

#else /* built without oneDNN: the im2col method (host/ops/conv_exec.c) runs instead */

void dgm_dnnl_release(struct dgm_dnnl_state *s) { (void)s; }

#endif
