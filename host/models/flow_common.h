/* What the discrete-time likelihood flows (realnvp, maf) share: images as 256-level pixels
 * dequantized and logit-transformed (RealNVP's preprocessing), the base density's term of
 * the negative log-likelihood, and the nll/bpd metrics. */
#ifndef DGM_MODELS_FLOW_COMMON_H
#define DGM_MODELS_FLOW_COMMON_H

#include "models/model_impl.h"

/* x in [0, 1] -> w = logit(α + (1 − 2α)·y), y = (255·x + u)/256 (u ~ U(0, 1) when
 * dequantize, else 1/2: the bin's centre), α = 0.05, and log|dw/dy| per row [B, 1]. */
dgm_status dgm_flow_to_logit(dgm_ctx *ctx, dgm_tensor *x, bool dequantize, dgm_tensor **w, dgm_tensor **logdet);
/* The inverse into pixel values: (sigmoid(w) − α)/(1 − 2α), clamped to [0, 1]. */
dgm_status dgm_flow_from_logit(dgm_ctx *ctx, dgm_tensor *w, dgm_tensor **x);
/* −log p per row [B, 1] from the base point z [B, D] and the summed log-determinant [B, 1]:
 * ½Σz² + (D/2)·log 2π − logdet, plus D·log 256 for images (the discrete pixels' bound). */
dgm_status dgm_flow_nll_from_base(dgm_ctx *ctx, dgm_tensor *z, dgm_tensor *logdet, bool image, dgm_tensor **out);
/* "nll" (nats per sample) or "bpd" (bits per dimension) summed over rows [B, 1]. */
dgm_status dgm_flow_metric_sum(dgm_model *m, dgm_tensor *rows, const char *metric, double *sum);
/* INVALID_ARGUMENT naming `kind` and the first value outside [0, 1]. */
dgm_status dgm_flow_check_pixels(dgm_model *m, const dgm_dataset *data, const char *kind);

#endif
