/* RealNVP's multi-scale architecture for images (Dinh et al. 2017, section 3.6), on
 * [B, C·H·W] rows whose columns are a [C, H, W] image:
 *   per scale: 3 checkerboard couplings (alternating parity), a squeeze to
 *   [4C, H/2, W/2], 3 channel couplings (alternating halves), then half the channels
 *   factored out (they go to the base density as they are);
 *   after the last scale: 4 checkerboard couplings.
 * Each coupling is a dgm_conv_coupling (a ResNet conditioner), with an ActNorm before it
 * when `actnorm` (initialized from data: dgm_multiscale_flow_init_data). Factoring out
 * takes the last half of the columns (the last channels), so the base point is
 * z = [h_final, f_last, ..., f_first]. Parameters: "flow.<k>.*" (couplings, in order) and
 * "actnorm.<k>.*". */
#ifndef DGM_NN_MULTISCALE_FLOW_H
#define DGM_NN_MULTISCALE_FLOW_H

#include "dgm/flow.h"

#ifdef __cplusplus
extern "C" {

#endif

typedef struct dgm_multiscale_config {
    int64_t channels, height, width; /* the image; the sides divide by 2^scales */
    int scales;                      /* squeeze-and-factor levels before the final couplings */
    int64_t features;                /* the conditioners' channels */
    int blocks;                      /* residual blocks per conditioner */
    bool actnorm;
} dgm_multiscale_config;

typedef struct dgm_multiscale_flow dgm_multiscale_flow;

dgm_status dgm_multiscale_flow_create(dgm_params *p, const dgm_multiscale_config *c, dgm_multiscale_flow **out);
void dgm_multiscale_flow_free(dgm_multiscale_flow *f);
/* x [B, D] -> the base point *z [B, D] and log|det ∂z/∂x| per row [B, 1]. With init_actnorm
 * each ActNorm is first set from the batch reaching it (data-dependent initialization). */
dgm_status dgm_multiscale_flow_forward(dgm_ctx *ctx, const dgm_multiscale_flow *f, dgm_tensor *x,
                                       bool init_actnorm, dgm_tensor **z, dgm_tensor **logdet);
dgm_status dgm_multiscale_flow_inverse(dgm_ctx *ctx, const dgm_multiscale_flow *f, dgm_tensor *z, dgm_tensor **x);

#ifdef __cplusplus
}
#endif

#endif
