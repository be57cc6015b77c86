/* Draws from the context's generator through a pool of raw words.
 *
 * cuRAND's host generator costs 50–130 µs a call whatever its length, so the context asks
 * it for a block of words at a time (DGM_RNG_POOL_WORDS, or a draw's whole need when that
 * is larger) and the backend turns the words a draw needs into values (host/rng_math.h).
 * A refill keeps the unread tail of the pool (and the even word before an odd offset,
 * which a normal pairs with), so every draw reads one contiguous run of the stream: the
 * values depend on the offset alone, never on where the blocks fell. Core, so parameter
 * initialization needs no op. */
#include "core/internal.h"

/* 256 KiB: the cost of a refill (~450 µs on the host) spread over 64k values. */
#define DGM_RNG_POOL_WORDS ((size_t)1 << 16)

void dgm_rng_pool_release(dgm_ctx *ctx)
{
    dgm_rng_pool *p = &ctx->rng_pool;
    for (int b = 0; b < 2; b++) {
        if (p->words[b]) ctx->be->free(ctx, p->words[b]);
        p->words[b] = NULL;
    }
    p->cap = 0;
    p->len = 0;
}

dgm_status dgm_rng_restart(dgm_ctx *ctx, uint64_t seed, uint64_t offset)
{
    const uint64_t even = offset & ~(uint64_t)1;
    DGM_TRY(ctx->be->rng_seed(ctx, seed, even));
    ctx->rng_pool.base = even;
    ctx->rng_pool.len = 0;
    ctx->rng_seed = seed;
    ctx->rng_offset = offset;
    return DGM_STATUS_OK;
}

/* Makes the pool start at the even position `from` and hold at least `need` words. */
static dgm_status pool_refill(dgm_ctx *ctx, uint64_t from, size_t need)
{
    dgm_rng_pool *p = &ctx->rng_pool;
    /* The generator stands at base + len; [from, base + len) is already drawn. */
    const size_t keep = (size_t)(p->base + p->len - from);
    const size_t cap = need > DGM_RNG_POOL_WORDS ? need : DGM_RNG_POOL_WORDS;
    uint32_t *dst = NULL;
    if (cap > p->cap) {
        uint32_t *grown[2] = {NULL, NULL};
        for (int b = 0; b < 2; b++) {
            dgm_status st = ctx->be->alloc(ctx, cap * sizeof(uint32_t), (void **)&grown[b]);
            if (st != DGM_STATUS_OK) {
                if (grown[0]) ctx->be->free(ctx, grown[0]);
                return st;
            }
        }
        dst = grown[0];
        dgm_status st = keep ? ctx->be->copy(ctx, dst, p->words[p->cur] + (from - p->base),
                                             keep * sizeof(uint32_t), DGM_COPY_DEVICE_TO_DEVICE)
                             : DGM_STATUS_OK;
        if (st != DGM_STATUS_OK) {
            ctx->be->free(ctx, grown[0]);
            ctx->be->free(ctx, grown[1]);
            return st;
        }
        dgm_rng_pool_release(ctx);
        p->words[0] = grown[0];
        p->words[1] = grown[1];
        p->cap = cap;
        p->cur = 0;
    } else {
        /* The tail goes to the other buffer: a device-to-device copy must not overlap. */
        dst = p->words[p->cur ^ 1];
        if (keep)
            DGM_TRY(ctx->be->copy(ctx, dst, p->words[p->cur] + (from - p->base),
                                  keep * sizeof(uint32_t), DGM_COPY_DEVICE_TO_DEVICE));
        p->cur ^= 1;
    }
    p->base = from;
    p->len = keep;
    DGM_TRY(ctx->be->rng_words(ctx, dst + keep, p->cap - keep));
    p->len = p->cap;
    return DGM_STATUS_OK;
}

dgm_status dgm_rng_draw(dgm_ctx *ctx, bool normal, float *dst, size_t n)
{
    if (n == 0) return DGM_STATUS_OK;
    dgm_rng_pool *p = &ctx->rng_pool;
    const uint64_t at = ctx->rng_offset, from = at & ~(uint64_t)1;
    /* One past the last word read: a normal at an even last position pairs with the next. */
    uint64_t end = at + n;
    if (normal && (end & 1)) end++;
    if (end > p->base + p->len) DGM_TRY(pool_refill(ctx, from, (size_t)(end - from)));
    const uint64_t even = from - p->base; /* even: base is even */
    DGM_TRY(ctx->be->rng_transform(ctx, normal, p->words[p->cur] + even, (size_t)(at - from),
                                   n, dst));
    ctx->rng_offset = at + n;
    return DGM_STATUS_OK;
}
