/* libFuzzer target: IDX parsing from memory (plain and gzip), alone and with the same
 * bytes as a labels file. Built by the fuzz build with -fsanitize=fuzzer,address. */
#include <stddef.h>
#include <stdint.h>

#include "data/data_internal.h"
#include "fuzz_common.h"

/* A gzip bomb must end as BAD_FORMAT well inside libFuzzer's memory limit. */
#define FUZZ_MAX_INFLATED ((size_t)64 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dgm_ctx *ctx = dgm_fuzz_ctx();
    if (!ctx) return 0;
    dgm_dataset *ds = NULL;
    dgm_idx_dataset_from_memory(ctx, "fuzz-images", data, size, NULL, NULL, 0, FUZZ_MAX_INFLATED,
                                &ds);
    dgm_dataset_free(ds);
    /* The input split in two at its first byte: images, then labels. */
    if (size > 1) {
        size_t cut = 1 + (size_t)data[0] * (size - 1) / 256;
        ds = NULL;
        dgm_idx_dataset_from_memory(ctx, "fuzz-images", data + 1, cut - 1, "fuzz-labels",
                                    data + cut, size - cut, FUZZ_MAX_INFLATED, &ds);
        dgm_dataset_free(ds);
    }
    return 0;
}
