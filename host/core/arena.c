/* Chunked bump allocator; see arena.h. */
#include "core/arena.h"

#include <string.h>

#define DGM_ARENA_ALIGN 256

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

void dgm_arena_init(dgm_arena *a, dgm_arena_alloc_fn alloc, dgm_arena_free_fn free_fn,
                    void *user, size_t min_chunk, size_t limit, bool consolidate)
{
    memset(a, 0, sizeof *a);
    a->alloc = alloc;
    a->free = free_fn;
    a->user = user;
    a->min_chunk = min_chunk;
    a->limit = limit;
    a->consolidate = consolidate;
}

static dgm_status add_chunk(dgm_arena *a, size_t need)
{
    if (a->nchunks == DGM_ARENA_MAX_CHUNKS) return DGM_STATUS_OOM;
    size_t total = 0;
    for (int i = 0; i < a->nchunks; i++) total += a->chunks[i].size;
    /* Grow geometrically so a step needs few chunks. */
    size_t size = need > a->min_chunk ? need : a->min_chunk;
    if (total > size) size = total;
    size = round_up(size, DGM_ARENA_ALIGN);
    if (a->limit && total + size > a->limit) {
        if (total + round_up(need, DGM_ARENA_ALIGN) > a->limit) return DGM_STATUS_OOM;
        size = a->limit - total;
    }
    void *p = NULL;
    dgm_status st = a->alloc(a->user, size, &p);
    if (st != DGM_STATUS_OK) return st;
    a->chunks[a->nchunks].base = p;
    a->chunks[a->nchunks].size = size;
    a->chunks[a->nchunks].used = 0;
    a->cur = a->nchunks;
    a->nchunks++;
    return DGM_STATUS_OK;
}

dgm_status dgm_arena_alloc(dgm_arena *a, size_t bytes, void **ptr)
{
    *ptr = NULL;
    size_t need = round_up(bytes ? bytes : 1, DGM_ARENA_ALIGN);
    if (a->limit && a->in_use + need > a->limit) return DGM_STATUS_OOM;
    /* Chunks are filled in order; one too small for this request is left behind. */
    while (a->cur < a->nchunks && a->chunks[a->cur].size - a->chunks[a->cur].used < need) a->cur++;
    if (a->cur >= a->nchunks) {
        dgm_status st = add_chunk(a, need);
        if (st != DGM_STATUS_OK) return st;
    }
    dgm_arena_chunk *c = &a->chunks[a->cur];
    *ptr = c->base + c->used;
    c->used += need;
    a->in_use += need;
    if (a->in_use > a->peak) a->peak = a->in_use;
    return DGM_STATUS_OK;
}

dgm_status dgm_arena_reset(dgm_arena *a)
{
    a->in_use = 0;
    a->cur = 0;
    if (a->nchunks <= 1 || !a->consolidate) {
        for (int i = 0; i < a->nchunks; i++) a->chunks[i].used = 0;
        return DGM_STATUS_OK;
    }
    size_t total = 0;
    for (int i = 0; i < a->nchunks; i++) total += a->chunks[i].size;
    dgm_arena_release(a);
    return add_chunk(a, total);
}

void dgm_arena_release(dgm_arena *a)
{
    for (int i = 0; i < a->nchunks; i++) a->free(a->user, a->chunks[i].base);
    a->nchunks = 0;
    a->cur = 0;
    a->in_use = 0;
}
