/* Private structures of the core: context, tensors, arena, tape. */
#ifndef DGM_INTERNAL_H
#define DGM_INTERNAL_H

/* The core sees the object and op headers, never the layers above (optim, data, models). */
#include "dgm/core.h"
#include "dgm/tensor.h"
#include "dgm/params.h"
#include "dgm/ops.h"
#include "dgm/autodiff.h"
#include "backend.h"
#include "core/arena.h"

typedef enum dgm_tensor_kind {
    DGM_TENSOR_STEP = 0,   /* from the arena, dies at step end */
    DGM_TENSOR_PERSISTENT, /* owned by the caller */
    DGM_TENSOR_PARAM       /* a view into a dgm_params block */
} dgm_tensor_kind;

struct dgm_tensor {
    dgm_ctx *ctx;
    int ndim;
    int64_t shape[DGM_MAX_DIMS];
    int64_t numel;
    float *data;
    float *grad;        /* NULL until a gradient is written (params: into the block) */
    uint64_t gen;       /* step generation of a step tensor */
    uint64_t grad_gen;  /* step generation in which grad was allocated (non-params) */
    uint8_t kind;       /* dgm_tensor_kind */
    bool requires_grad;
    bool grad_written;  /* grad holds this backward's value (beta 1 from now on) */
    bool is_buffer;     /* parameter-block buffer: no gradient */
    /* dgm_autograd's bookkeeping, valid only while equal to ctx->autograd_pass: */
    uint64_t ag_pass;   /* pass in which ag_grad was set */
    uint64_t dep_pass;  /* pass in which this tensor was found to depend on an input */
    dgm_tensor *ag_grad; /* the gradient as a tensor (itself on the tape with create_graph) */
};

typedef struct dgm_node dgm_node;
typedef dgm_status (*dgm_backward_fn)(dgm_ctx *ctx, dgm_node *node);
/* The backward written with recorded ops: given the output's gradient gy (a tensor),
 * adds each input's gradient with dgm_autograd_accumulate. When grad mode is on (a
 * create_graph pass) the ops it runs go on the tape, so the gradient can be
 * differentiated again. */
typedef dgm_status (*dgm_graph_backward_fn)(dgm_ctx *ctx, dgm_node *node, dgm_tensor *gy);

/* One recorded op: its backward (fast, raw kernels into gradient buffers), its backward
 * in recorded ops (NULL: the op has no double backward), output, inputs, saved values. */
struct dgm_node {
    dgm_backward_fn backward;
    dgm_graph_backward_fn graph_backward;
    dgm_op op;
    dgm_tensor *out;
    dgm_tensor *in[3];
    float f[4];
    int64_t i[4];
    void *saved[3];
    dgm_node *prev;
};

/* Raw generator words drawn ahead in blocks (host/core/rng_draw.c): words[cur][j] is
 * stream position base + j for j < len; the generator stands at base + len. The other
 * buffer receives the kept tail at the next refill. Device memory of the backend. */
typedef struct dgm_rng_pool {
    uint32_t *words[2];
    size_t cap; /* words in each buffer */
    int cur;
    uint64_t base;
    size_t len;
} dgm_rng_pool;

struct dgm_ctx {
    dgm_device device;
    const dgm_backend *be;
    void *be_state;
    bool failed;        /* creation failed: only last_error and free work */
    dgm_arena dev_arena;  /* step tensors' data */
    dgm_arena host_arena; /* tensor structs, tape nodes */
    dgm_node *tape;     /* last recorded node */
    bool backward_done;
    bool grad_enabled;
    uint64_t gen;
    uint64_t rng_seed;
    uint64_t rng_offset; /* stream position of the next value (host/rng_math.h) */
    dgm_rng_pool rng_pool;
    uint64_t autograd_pass; /* counts dgm_autograd calls; tags tensors' ag_* fields */
    void *workspace;    /* device memory that one op call uses and returns (column buffers) */
    size_t workspace_bytes;
    const char *op;     /* the public call in progress, for error messages */
    bool keep_denormals; /* dgm_ctx_config: compute in the caller's floating-point mode */
    char err[1024];
};

/* Seconds on the monotonic clock (host/core/clock.c), for durations. */
double dgm_seconds_now(void);

#define DGM_TRY(expr)                                                                         \
    do {                                                                                      \
        dgm_status dgm_try_status_ = (expr);                                                  \
        if (dgm_try_status_ != DGM_STATUS_OK) return dgm_try_status_;                         \
    } while (0)

/* "[128, 784]" into buf. */
const char *dgm_shape_str(const dgm_tensor *t, char *buf, size_t len);

/* Checks a tensor argument of an op: not NULL, this context's, alive. */
dgm_status dgm_check_tensor(dgm_ctx *ctx, const dgm_tensor *t, const char *op,
                            const char *arg);
/* Checks ctx itself (not NULL, not failed). */
dgm_status dgm_check_ctx(const dgm_ctx *ctx);

/* A step tensor of the given shape from the arena (data uninitialized). */
dgm_status dgm_tensor_alloc_step(dgm_ctx *ctx, int ndim, const int64_t *shape,
                                 dgm_tensor **out);
/* A step tensor struct of the given shape over existing device memory (a view: the
 * memory must live until step end). */
dgm_status dgm_tensor_wrap_step(dgm_ctx *ctx, int ndim, const int64_t *shape, float *data,
                                dgm_tensor **out);
/* Step-lifetime device scratch memory. */
dgm_status dgm_scratch(dgm_ctx *ctx, size_t bytes, void **ptr);
/* Device memory for the duration of one op call (host/core/workspace.c): the context's one
 * workspace, grown to `bytes` when smaller. The next call may reuse or replace it, so
 * nothing that outlives the call may point into it. */
dgm_status dgm_workspace(dgm_ctx *ctx, size_t bytes, void **ptr);
void dgm_workspace_release(dgm_ctx *ctx);

/* [rows, cols] view of a tensor (cols = last dim). */
static inline int64_t dgm_cols(const dgm_tensor *t) { return t->shape[t->ndim - 1]; }
static inline int64_t dgm_rows(const dgm_tensor *t) { return t->numel / dgm_cols(t); }

/* Draws n values (uniform in (0,1) or N(0,1)) into dst from the context's generator:
 * the values at stream positions rng_offset .. rng_offset + n - 1 (host/rng_math.h). */
dgm_status dgm_rng_draw(dgm_ctx *ctx, bool normal, float *dst, size_t n);
/* Places the generator at `offset` of seed's stream and empties the pool. */
dgm_status dgm_rng_restart(dgm_ctx *ctx, uint64_t seed, uint64_t offset);
/* Frees the pool's buffers (context teardown). */
void dgm_rng_pool_release(dgm_ctx *ctx);

/* Tape. Whether an op with these inputs must be recorded (grad on, some input needs it). */
bool dgm_tape_needed(dgm_ctx *ctx, dgm_tensor *const *inputs, int n);
/* Records a node for `out` (marks out as requiring a gradient); *node is filled by the
 * caller with what the backward needs. graph_fn may be NULL (no double backward). */
dgm_status dgm_tape_record(dgm_ctx *ctx, dgm_op op, dgm_backward_fn fn,
                           dgm_graph_backward_fn graph_fn, dgm_tensor *out,
                           dgm_tensor *const *inputs, int n, dgm_node **node);
/* Where to write t's gradient and with which beta (0 the first time in this backward,
 * 1 afterwards; always 1 for parameters). *grad is NULL when t needs no gradient. */
dgm_status dgm_grad_target(dgm_ctx *ctx, dgm_tensor *t, float **grad, float *beta);

#endif
