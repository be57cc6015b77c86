/* Score matching, shared by the score-based families (ebm, ncsn; the score SDE next): the
 * noise-level ladder, the denoising and sliced score-matching losses (the seed's Fisher
 * divergence made trainable), the score of an energy, and the Fisher divergence of a
 * score to a Gaussian mixture's. */
#ifndef DGM_MODELS_SCORE_MATCHING_H
#define DGM_MODELS_SCORE_MATCHING_H

#include "dgm/dgm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* σ_i = σ_max·(σ_min/σ_max)^(i/(L−1)), i = 0 .. L−1 (largest first; L = 1: σ_max). */
void dgm_sigma_ladder(double sigma_max, double sigma_min, int levels, double *out);

/* The largest Euclidean distance between two of the first min(n, max_rows) rows (NCSNv2's
 * choice of σ₁: the largest noise level must reach from any point to any other). */
double dgm_data_max_distance(const dgm_dataset *data, int64_t max_rows);

/* Denoising score matching (Vincent 2011) at x̃ = x + σ·z, weighted by σ² (Song & Ermon):
 * ½·mean over rows of Σ_d (σ·s(x̃) + z)², from sigma_score = σ·s(x̃) [B, d] and z. */
dgm_status dgm_dsm_loss(dgm_ctx *ctx, dgm_tensor *sigma_score, dgm_tensor *z, dgm_tensor **out);

/* Sliced score matching (Song et al. 2019): mean over rows of vᵀ∇ₓ(vᵀs(x)) + ½(vᵀs(x))²,
 * one projection v per row. x [B, d] must require a gradient and score [B, d] be computed
 * from it by recorded ops; the loss keeps the graph (create_graph), so the parameters'
 * gradients flow through ∇ₓ. */
dgm_status dgm_ssm_loss(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor *score, dgm_tensor *v,
                        dgm_tensor **out);

/* Projections [n, d]: Rademacher (±1) or standard normal. */
dgm_status dgm_ssm_projections(dgm_ctx *ctx, int64_t n, int64_t d, bool rademacher,
                               dgm_tensor **out);

/* −∇ₓE(x) for energies [B, 1] of x [B, d] (x requires a gradient): the score of
 * p ∝ exp(−E). create_graph keeps it differentiable (a loss of the score). */
dgm_status dgm_energy_score(dgm_ctx *ctx, dgm_tensor *energy, dgm_tensor *x, bool create_graph,
                            dgm_tensor **out);

/* A Gaussian-mixture toy's centres and variance, for Fisher divergences (ring8, grid25,
 * gauss8; INVALID_ARGUMENT naming `who` otherwise). */
typedef struct dgm_mixture_toy {
    double centres[2 * 32], var;
    int k;
} dgm_mixture_toy;
dgm_status dgm_mixture_toy_of(dgm_ctx *ctx, const dgm_dataset *data, int64_t dim, const char *who,
                              dgm_mixture_toy *out);

/* A model's output at noised data rows, for dgm_mixture_fisher: x [n, 2] (data rows on the
 * device) -> *xt, the rows as noised, and *out [n, 2], the network's output there; and per
 * row r into coef[4r .. 4r + 3]: the factor a_r on the mixture's centres and the variance
 * v_r added to its components' (the data noised as a_r·x + √v_r·ε has the mixture with
 * centres a_r·c_j and variance a_r²·var + v_r), the factor k_r that makes the output a
 * score (s = k_r·out) and the row's weight w_r. */
typedef dgm_status (*dgm_noised_output_fn)(void *user, dgm_tensor *x, dgm_tensor **xt,
                                           dgm_tensor **out, double *coef);

/* The Fisher divergence of a (noise-conditional) score to a mixture toy's, weighted as the
 * model's loss weights it: (1/n)·Σ_r w_r·|k_r·out_r − ∇log q_r(xt_r)|² over the first n =
 * min(2,000, rows) rows of data (0 for the ideal model; per sample). */
dgm_status dgm_mixture_fisher(dgm_ctx *ctx, const dgm_mixture_toy *toy, const dgm_dataset *data,
                              dgm_noised_output_fn fn, void *user, double *value);

/* The "fisher" metric of model m (user of fn) on a mixture toy: dgm_mixture_fisher on the
 * weights' moving average when `ema` (ema_weights.c), else on the weights. */
dgm_status dgm_model_fisher(dgm_model *m, const dgm_dataset *data, dgm_noised_output_fn fn, bool ema,
                            double *value);

#ifdef __cplusplus
}
#endif

#endif
