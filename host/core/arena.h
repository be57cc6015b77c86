/* A bump allocator over chunks of memory from an allocator callback (host malloc or the
 * backend's device allocator). Reset at every step end; when a step needed more than one
 * chunk, the chunks are replaced by one large enough for the whole step, so from then on
 * every step gets the same addresses (what CUDA-graph replay needs). */
#ifndef DGM_ARENA_H
#define DGM_ARENA_H

#include <stdbool.h>
#include <stddef.h>

#include "dgm/core.h"

typedef dgm_status (*dgm_arena_alloc_fn)(void *user, size_t bytes, void **ptr);
typedef void (*dgm_arena_free_fn)(void *user, void *ptr);

typedef struct dgm_arena_chunk {
    char *base;
    size_t size;
    size_t used;
} dgm_arena_chunk;

#define DGM_ARENA_MAX_CHUNKS 32

typedef struct dgm_arena {
    dgm_arena_alloc_fn alloc;
    dgm_arena_free_fn free;
    void *user;
    dgm_arena_chunk chunks[DGM_ARENA_MAX_CHUNKS];
    int nchunks;
    size_t in_use;   /* bytes handed out this step */
    size_t peak;     /* most bytes handed out in one step */
    size_t limit;    /* 0 = none */
    size_t min_chunk;
    int cur;          /* chunk taking allocations now */
    bool consolidate; /* merge chunks at reset (stable addresses) or keep them (host) */
} dgm_arena;

void dgm_arena_init(dgm_arena *a, dgm_arena_alloc_fn alloc, dgm_arena_free_fn free_fn,
                    void *user, size_t min_chunk, size_t limit, bool consolidate);
/* 256-byte aligned memory; OOM when the limit or the allocator says no. */
dgm_status dgm_arena_alloc(dgm_arena *a, size_t bytes, void **ptr);
/* Forgets every allocation. With `consolidate`, several chunks are replaced by one (may fail
 * with OOM, leaving none); without, they are kept and reused in order, so memory handed out
 * earlier stays readable until dgm_arena_release (the host arena holds tensor structs
 * that a stale pointer may still reach). */
dgm_status dgm_arena_reset(dgm_arena *a);
void dgm_arena_release(dgm_arena *a);

#endif
