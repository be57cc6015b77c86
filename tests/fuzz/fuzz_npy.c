/* libFuzzer target: .npy parsing from memory. Built by the fuzz build with
 * -fsanitize=fuzzer,address. */
#include <stddef.h>
#include <stdint.h>

#include "data/data_internal.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dgm_ctx *ctx = dgm_fuzz_ctx();
    if (!ctx) return 0;
    dgm_dataset *ds = NULL;
    dgm_npy_dataset_from_memory(ctx, "fuzz.npy", data, size, &ds);
    dgm_dataset_free(ds);
    return 0;
}
