/* libFuzzer target: dgm_safetensors_parse on arbitrary bytes. Any input must give either
 * a parsed file whose every accessor is consistent (names found, numel = product of the
 * shape, every value readable) or BAD_FORMAT/OOM with nothing returned; never a crash,
 * an out-of-bounds access or a leak (ASan). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dgm/dgm.h"
#include "fuzz_common.h"

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond)) __builtin_trap();                                                         \
    } while (0)

static void check_parsed(const dgm_safetensors *st)
{
    const int n = dgm_safetensors_count(st);
    CHECK(n >= 0);
    volatile float sink = 0.0f;
    for (int i = 0; i < n; i++) {
        const char *name = dgm_safetensors_name(st, i);
        CHECK(name && *name && strcmp(name, "__metadata__") != 0);
        CHECK(dgm_safetensors_find(st, name) == i);
        const char *dtype = dgm_safetensors_dtype(st, i);
        CHECK(dtype && (!strcmp(dtype, "F32") || !strcmp(dtype, "F64") || !strcmp(dtype, "F16") ||
                        !strcmp(dtype, "BF16")));
        const int ndim = dgm_safetensors_ndim(st, i);
        const int64_t *shape = dgm_safetensors_shape(st, i);
        CHECK(ndim >= 0 && shape);
        uint64_t numel = 1; /* wraps harmlessly before a zero dimension */
        for (int d = 0; d < ndim; d++) {
            CHECK(shape[d] >= 0);
            numel *= (uint64_t)shape[d];
        }
        CHECK((uint64_t)dgm_safetensors_numel(st, i) == numel);
        const float *data = dgm_safetensors_data(st, i);
        CHECK(data);
        for (uint64_t k = 0; k < numel; k++) sink += data[k];
    }
    CHECK(dgm_safetensors_name(st, n) == NULL && dgm_safetensors_data(st, -1) == NULL);
    for (int i = 0; i < dgm_safetensors_meta_count(st); i++) {
        const char *key = dgm_safetensors_meta_key(st, i);
        CHECK(key);
        const char *value = dgm_safetensors_meta(st, key);
        CHECK(value);
        sink += (float)strlen(value);
    }
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dgm_ctx *ctx = dgm_fuzz_ctx();
    if (!ctx) return 0;
    dgm_safetensors *st = (dgm_safetensors *)&st; /* must be reset on failure */
    const dgm_status status = dgm_safetensors_parse(ctx, data, size, &st);
    if (status == DGM_STATUS_OK) {
        CHECK(st);
        check_parsed(st);
        dgm_safetensors_free(st);
    } else {
        CHECK(status == DGM_STATUS_BAD_FORMAT || status == DGM_STATUS_OOM);
        CHECK(st == NULL);
        CHECK(dgm_last_error(ctx)[0] != '\0');
    }
    return 0;
}
