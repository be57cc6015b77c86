/* The diffusion SDEs of Song et al. 2021 ("Score-based generative modeling through
 * stochastic differential equations") and their samplers, shared by the families that
 * condition on a continuous time: dx = f(t)·x dt + g(t) dw on t ∈ [0, 1],
 *   VP     f = −½β(t), g² = β(t), β(t) = β_min + t(β_max − β_min)  (DDPM's limit)
 *   sub-VP f = −½β(t), g² = β(t)·(1 − e^{−2∫β})
 *   VE     f = 0, g² = d σ²(t)/dt, σ(t) = σ_min(σ_max/σ_min)^t       (NCSN's limit)
 * with x_t | x_0 ~ N(mean(t)·x_0, std(t)²·I) in closed form; the predictor–corrector
 * sampler of the reverse SDE and the probability-flow ODE dx/dt = f·x − ½g²·s(x, t),
 * which has the SDE's marginals (so ode.c's change of variables gives its density). */
#ifndef DGM_MODELS_SDE_H
#define DGM_MODELS_SDE_H

#include "dgm/dgm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dgm_sde_kind { DGM_SDE_VP = 0, DGM_SDE_SUBVP, DGM_SDE_VE } dgm_sde_kind;

/* "vp", "subvp", "ve" -> the kind, or -1. */
int dgm_sde_kind_parse(const char *name);

typedef struct dgm_sde {
    dgm_sde_kind kind;
    double beta_min, beta_max;   /* VP, sub-VP */
    double sigma_min, sigma_max; /* VE */
} dgm_sde;

/* x_t = mean·x_0 + std·z. */
void dgm_sde_marginal(const dgm_sde *sde, double t, double *mean, double *std);
/* The drift's factor f(t) (drift f(t)·x) and g(t)². */
double dgm_sde_drift(const dgm_sde *sde, double t);
double dgm_sde_g2(const dgm_sde *sde, double t);
/* The prior at t = 1: N(0, prior_std²·I) (VP, sub-VP: 1; VE: σ_max). */
double dgm_sde_prior_std(const dgm_sde *sde);

/* The score ∇ₓ log p_t(x) of x [n, d] at time t, a step tensor [n, d]. */
typedef dgm_status (*dgm_time_score_fn)(void *user, dgm_tensor *x, double t, dgm_tensor **score);

typedef enum dgm_sde_predictor {
    DGM_PREDICTOR_NONE = 0,
    DGM_PREDICTOR_EULER_MARUYAMA,   /* x − (f·x − g²·s)/N + g·√(1/N)·z */
    DGM_PREDICTOR_REVERSE_DIFFUSION /* the reverse of the forward chain's discretization */
} dgm_sde_predictor;

/* "none", "euler-maruyama", "reverse-diffusion" -> the predictor, or -1. */
int dgm_sde_predictor_parse(const char *name);

/* The predictor–corrector sampler (Song et al. 2021, Algorithms 2–3 as their code runs
 * them): N times t_i from 1 down to eps; at each, corrector_steps Langevin steps (langevin.c)
 * of size 2α·(snr·‖z‖/‖s‖)², the norms averaged over the rows (‖z‖ as its expectation for
 * a standard normal of d values), α = 1 − β_i for VP and sub-VP (1 for VE), then one
 * predictor step; with denoise the last predictor step adds no noise. */
typedef struct dgm_pc_config {
    dgm_sde_predictor predictor;
    int corrector_steps; /* 0: no corrector */
    double snr;
    int64_t steps; /* N */
    double eps;
    bool denoise;
} dgm_pc_config;

/* VP's reverse-diffusion predictor takes β_i up to β_max/N, which must stay below 1. */
bool dgm_sde_pc_steps_valid(const dgm_sde *sde, dgm_sde_predictor p, int64_t steps);

/* Runs the sampler on the persistent x (a draw of the prior: dgm_sde_prior_draw), ending
 * the step after each time. */
dgm_status dgm_sde_pc_sample(dgm_ctx *ctx, const dgm_sde *sde, const dgm_pc_config *cfg, dgm_time_score_fn score,
                             void *user, dgm_tensor *x);

/* [n, d] drawn from the prior (a step tensor). */
dgm_status dgm_sde_prior_draw(dgm_ctx *ctx, const dgm_sde *sde, int64_t n, int64_t d, dgm_tensor **out);

/* The probability-flow ODE's velocity f(t)·x − ½g(t)²·s(x, t) as a dgm_velocity_fn (user:
 * a dgm_sde_flow). */
typedef struct dgm_sde_flow {
    dgm_ctx *ctx;
    const dgm_sde *sde;
    dgm_time_score_fn score;
    void *user;
} dgm_sde_flow;
dgm_status dgm_sde_flow_velocity(void *flow, dgm_tensor *x, float t, dgm_tensor **v);

/* Importance sampling of t for the likelihood weighting λ(t) = g(t)² of the denoising loss
 * (Song et al. 2021, "Maximum likelihood training of score-based diffusion models"): t
 * drawn from q(t) ∝ g(t)²/std(t)² on [eps, 1], so each row's weight in ½|std·s + z|² is the
 * constant z/(1 − eps) (z = ∫ g²/std² dt; uniform draws would need g²/std², which reaches
 * 1e5 at t = 1e-5 on VP). q's inverse CDF is tabulated on a grid in log t. */
typedef struct dgm_sde_importance {
    int n;
    double *log_t, *cdf; /* [n] */
    double z, eps;
} dgm_sde_importance;
/* false: out of memory. */
bool dgm_sde_importance_init(const dgm_sde *sde, double eps, dgm_sde_importance *out);
/* t for u ∈ [0, 1). */
double dgm_sde_importance_draw(const dgm_sde_importance *is, double u);
void dgm_sde_importance_free(dgm_sde_importance *is);

#ifdef __cplusplus
}
#endif

#endif
