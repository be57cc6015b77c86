/* libFuzzer target: a whole checkpoint load (dgm_model_load_memory: the safetensors header,
 * the metadata, the model's config JSON, the tensors against the model the config
 * declares) on arbitrary bytes, seeded with real checkpoints of every family. Any input
 * must give either a model that samples (finite or NOT_FINITE, never a crash) or an error
 * with a message and nothing returned; no out-of-bounds access, no leak (ASan), and no
 * allocation beyond what the file holds (libFuzzer's -malloc_limit_mb). */
#include <stddef.h>
#include <stdint.h>

#include "dgm/dgm.h"
#include "fuzz_common.h"

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond)) __builtin_trap();                                                         \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dgm_ctx *ctx = dgm_fuzz_ctx();
    if (!ctx) return 0;
    dgm_model *m = (dgm_model *)&m; /* must be reset on failure */
    const dgm_status status = dgm_model_load_memory(ctx, data, size, NULL, &m);
    if (status != DGM_STATUS_OK) {
        CHECK(m == NULL);
        CHECK(dgm_last_error(ctx)[0] != '\0');
        return 0;
    }
    CHECK(m && dgm_model_dim(m) >= 1);
    int64_t shape[3];
    const int nd = dgm_model_sample_shape(m, shape);
    int64_t prod = 1;
    for (int i = 0; i < nd; i++) prod *= shape[i];
    CHECK(nd >= 1 && nd <= 3 && prod == dgm_model_dim(m));
    /* Two samples: every family's sampler over the loaded weights (a DDPM's T passes). */
    float x[2 * 64];
    if (dgm_model_dim(m) <= 64) {
        const dgm_status s = dgm_model_sample_into(m, 2, x, DGM_MEMORY_HOST);
        CHECK(s == DGM_STATUS_OK || s == DGM_STATUS_NOT_FINITE);
    }
    dgm_model_free(m);
    dgm_ctx_step_end(ctx);
    return 0;
}
