/* libFuzzer target: .npy parsing from memory. Built by the fuzz build with
 * -fsanitize=fuzzer,address. */
#include <stddef.h>
#include <stdint.h>

#include "data/data_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* One context for the whole run: creating one per input would dominate the time. */
    static dgm_ctx *ctx;
    if (!ctx) {
        dgm_ctx_config cfg = dgm_ctx_config_default();
        cfg.device = DGM_DEVICE_CPU;
        if (dgm_ctx_create(&cfg, &ctx) != DGM_STATUS_OK) {
            dgm_ctx_free(ctx);
            ctx = NULL;
            return 0;
        }
    }
    dgm_dataset *ds = NULL;
    dgm_npy_dataset_from_memory(ctx, "fuzz.npy", data, size, &ds);
    dgm_dataset_free(ds);
    return 0;
}
