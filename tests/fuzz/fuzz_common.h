/* Shared by the libFuzzer targets. */
#ifndef DGM_FUZZ_COMMON_H
#define DGM_FUZZ_COMMON_H

#include "dgm/dgm.h"

/* One CPU context for the whole run: creating one per input would dominate the time.
 * NULL if it cannot be made. */
static inline dgm_ctx *dgm_fuzz_ctx(void)
{
    static dgm_ctx *ctx;
    if (!ctx) {
        dgm_ctx_config cfg = dgm_ctx_config_default();
        cfg.device = DGM_DEVICE_CPU;
        if (dgm_ctx_create(&cfg, &ctx) != DGM_STATUS_OK) {
            dgm_ctx_free(ctx);
            ctx = NULL;
        }
    }
    return ctx;
}

#endif
