/* The context: backend selection, arenas, errors, random state. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

const char *dgm_version(void) { return DGM_VERSION_STRING; }

static const char *const status_names[DGM_STATUS_COUNT] = {
    "DGM_STATUS_OK",          "DGM_STATUS_INVALID_ARGUMENT", "DGM_STATUS_SHAPE_MISMATCH",
    "DGM_STATUS_WRONG_DEVICE", "DGM_STATUS_OOM",             "DGM_STATUS_UNSUPPORTED",
    "DGM_STATUS_NO_DEVICE",   "DGM_STATUS_BACKEND_ERROR",    "DGM_STATUS_IO_ERROR",
    "DGM_STATUS_BAD_FORMAT",  "DGM_STATUS_NOT_FINITE",       "DGM_STATUS_STATE_ERROR",
};
_Static_assert(sizeof status_names / sizeof status_names[0] == DGM_STATUS_COUNT,
               "one name per status");

const char *dgm_status_name(dgm_status status)
{
    if ((unsigned)status >= DGM_STATUS_COUNT) return "DGM_STATUS_UNKNOWN";
    return status_names[status];
}

const char *dgm_device_name(dgm_device device)
{
    switch (device) {
    case DGM_DEVICE_CPU: return "cpu";
    case DGM_DEVICE_CUDA: return "cuda";
    default: return "auto";
    }
}

dgm_status dgm_set_error(dgm_ctx *ctx, dgm_status status, const char *fmt, ...)
{
    if (!ctx) return status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->err, sizeof ctx->err, fmt, ap);
    va_end(ap);
    return status;
}

const char *dgm_last_error(const dgm_ctx *ctx)
{
    if (!ctx) return "context is NULL";
    return ctx->err;
}

void *dgm_ctx_backend_state(dgm_ctx *ctx) { return ctx->be_state; }

bool dgm_cuda_available(char *why, size_t why_len)
{
    char buf[256];
    dgm_status st = dgm_cuda_probe(buf, sizeof buf);
    if (st != DGM_STATUS_OK && why && why_len) snprintf(why, why_len, "%s", buf);
    return st == DGM_STATUS_OK;
}

bool dgm_ctx_flush_denormals(const dgm_ctx *ctx)
{
    return ctx && !ctx->keep_denormals && ctx->device == DGM_DEVICE_CPU;
}

dgm_ctx_config dgm_ctx_config_default(void)
{
    dgm_ctx_config c;
    memset(&c, 0, sizeof c);
    c.device = DGM_DEVICE_AUTO;
    return c;
}

static dgm_status dev_alloc(void *user, size_t bytes, void **ptr)
{
    dgm_ctx *ctx = user;
    return ctx->be->alloc(ctx, bytes, ptr);
}

static void dev_free(void *user, void *ptr)
{
    dgm_ctx *ctx = user;
    ctx->be->free(ctx, ptr);
}

static dgm_status host_alloc(void *user, size_t bytes, void **ptr)
{
    (void)user;
    *ptr = malloc(bytes);
    return *ptr ? DGM_STATUS_OK : DGM_STATUS_OOM;
}

static void host_free(void *user, void *ptr)
{
    (void)user;
    free(ptr);
}

static dgm_status pick_backend(dgm_ctx *ctx, const dgm_ctx_config *cfg)
{
    char why[256] = "";
    switch (cfg->device) {
    case DGM_DEVICE_CPU:
        ctx->be = dgm_cpu_backend();
        return DGM_STATUS_OK;
    case DGM_DEVICE_CUDA: {
        dgm_status st = dgm_cuda_probe(why, sizeof why);
        if (st != DGM_STATUS_OK)
            return dgm_set_error(ctx, st, "device cuda: %s", why);
        ctx->be = dgm_cuda_backend();
        return DGM_STATUS_OK;
    }
    case DGM_DEVICE_AUTO:
        ctx->be = dgm_cuda_probe(why, sizeof why) == DGM_STATUS_OK ? dgm_cuda_backend()
                                                                   : dgm_cpu_backend();
        return DGM_STATUS_OK;
    default:
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_ctx_create: unknown device %d", (int)cfg->device);
    }
}

dgm_status dgm_ctx_create(const dgm_ctx_config *config, dgm_ctx **out)
{
    if (!out) return DGM_STATUS_INVALID_ARGUMENT;
    *out = NULL;
    dgm_ctx_config cfg = config ? *config : dgm_ctx_config_default();
    dgm_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return DGM_STATUS_OOM;
    *out = ctx;
    ctx->failed = true;
    ctx->grad_enabled = true;
    ctx->gen = 1;
    ctx->rng_seed = cfg.seed;
    ctx->keep_denormals = cfg.keep_denormals;
    dgm_status st = pick_backend(ctx, &cfg);
    if (st != DGM_STATUS_OK) return st;
    ctx->device = ctx->be->device;
    st = ctx->be->init(ctx, cfg.cuda_device, cfg.seed, &ctx->be_state);
    if (st != DGM_STATUS_OK) return st;
    dgm_arena_init(&ctx->dev_arena, dev_alloc, dev_free, ctx, (size_t)16 << 20, cfg.arena_limit,
                   true);
    dgm_arena_init(&ctx->host_arena, host_alloc, host_free, NULL, (size_t)1 << 20, 0, false);
    ctx->failed = false;
    return DGM_STATUS_OK;
}

void dgm_ctx_free(dgm_ctx *ctx)
{
    if (!ctx) return;
    if (!ctx->failed) {
        dgm_rng_pool_release(ctx);
        dgm_workspace_release(ctx);
        dgm_arena_release(&ctx->dev_arena);
        dgm_arena_release(&ctx->host_arena);
    }
    if (ctx->be && ctx->be_state) ctx->be->shutdown(ctx->be_state);
    free(ctx);
}

dgm_status dgm_check_ctx(const dgm_ctx *ctx)
{
    if (!ctx) return DGM_STATUS_INVALID_ARGUMENT;
    if (ctx->failed) return DGM_STATUS_STATE_ERROR;
    return DGM_STATUS_OK;
}

dgm_device dgm_ctx_device(const dgm_ctx *ctx) { return ctx ? ctx->device : DGM_DEVICE_CPU; }

dgm_status dgm_ctx_step_end(dgm_ctx *ctx)
{
    dgm_status st = dgm_check_ctx(ctx);
    if (st != DGM_STATUS_OK) return st;
    ctx->tape = NULL;
    ctx->backward_done = false;
    ctx->gen++;
    /* Device work of this step may still read arena memory; the next step's kernels queue
     * behind it on the same stream, so reuse is safe without a synchronize. */
    st = dgm_arena_reset(&ctx->dev_arena);
    if (st != DGM_STATUS_OK)
        return dgm_set_error(ctx, st, "dgm_ctx_step_end: could not consolidate step memory");
    st = dgm_arena_reset(&ctx->host_arena);
    if (st != DGM_STATUS_OK)
        return dgm_set_error(ctx, st, "dgm_ctx_step_end: out of host memory");
    return DGM_STATUS_OK;
}

dgm_status dgm_ctx_seed(dgm_ctx *ctx, uint64_t seed)
{
    return dgm_ctx_set_rng_state(ctx, seed, 0);
}

void dgm_ctx_rng_state(const dgm_ctx *ctx, uint64_t *seed, uint64_t *offset)
{
    if (!ctx) return;
    if (seed) *seed = ctx->rng_seed;
    if (offset) *offset = ctx->rng_offset;
}

dgm_status dgm_ctx_set_rng_state(dgm_ctx *ctx, uint64_t seed, uint64_t offset)
{
    dgm_status st = dgm_check_ctx(ctx);
    if (st != DGM_STATUS_OK) return st;
    return dgm_rng_restart(ctx, seed, offset);
}

void dgm_ctx_set_grad_enabled(dgm_ctx *ctx, bool enabled)
{
    if (ctx) ctx->grad_enabled = enabled;
}

bool dgm_ctx_grad_enabled(const dgm_ctx *ctx) { return ctx && ctx->grad_enabled; }

dgm_status dgm_ctx_synchronize(dgm_ctx *ctx)
{
    dgm_status st = dgm_check_ctx(ctx);
    if (st != DGM_STATUS_OK) return st;
    return ctx->be->synchronize(ctx);
}

void dgm_ctx_arena_usage(const dgm_ctx *ctx, size_t *in_use, size_t *peak)
{
    if (!ctx) return;
    if (in_use) *in_use = ctx->dev_arena.in_use;
    if (peak) *peak = ctx->dev_arena.peak;
}

dgm_status dgm_scratch(dgm_ctx *ctx, size_t bytes, void **ptr)
{
    dgm_status st = dgm_arena_alloc(&ctx->dev_arena, bytes, ptr);
    if (st != DGM_STATUS_OK)
        return dgm_set_error(ctx, st,
                             "%s: out of step memory: %zu bytes asked, %zu in use%s",
                             ctx->op ? ctx->op : "dgm", bytes,
                             ctx->dev_arena.in_use,
                             ctx->dev_arena.limit ? " (arena_limit reached?)" : "");
    return DGM_STATUS_OK;
}
