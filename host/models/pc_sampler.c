/* The predictor–corrector sampler of the reverse-time SDE (sde.h). The predictors, one
 * step from t down by 1/N, written as x_mean = a·x + c·s(x, t), x = x_mean + G·z:
 *   Euler–Maruyama:     a = 1 − f(t)/N, c = g²/N, G = √(g²/N);
 *   reverse diffusion:  the forward chain's discretization reversed (Song et al.'s code):
 *     VP with β_i = β_min/N + i·(β_max − β_min)/(N(N − 1)): a = 2 − √(1 − β_i), c = β_i,
 *       G = √β_i;
 *     VE with σ_i = σ_min(σ_max/σ_min)^(i/(N−1)): a = 1, c = σ_i² − σ_{i−1}², G = √c;
 *     sub-VP (no chain of its own): Euler–Maruyama's;
 * i = ⌊t·(N − 1)⌋ the discrete step of time t. */
#include <math.h>
#include <string.h>

#include "models/langevin.h"
#include "models/model_impl.h"
#include "models/ode.h"
#include "models/sde.h"

int dgm_sde_predictor_parse(const char *name)
{
    static const char *const names[] = {"none", "euler-maruyama", "reverse-diffusion"};
    for (int i = 0; name && i < 3; i++)
        if (!strcmp(name, names[i])) return i;
    return -1;
}

/* VP's β_i of N discrete steps. */
static double discrete_beta(const dgm_sde *sde, int64_t i, int64_t n)
{
    const double nn = (double)n;
    return sde->beta_min / nn + (n > 1 ? (double)i * (sde->beta_max - sde->beta_min) / (nn * (nn - 1.0)) : 0.0);
}

static void predictor_coefs(const dgm_sde *sde, dgm_sde_predictor p, double t, int64_t n, double *a, double *c,
                            double *g)
{
    const int64_t i = (int64_t)(t * (double)(n - 1));
    if (p == DGM_PREDICTOR_REVERSE_DIFFUSION && sde->kind == DGM_SDE_VP) {
        const double b = discrete_beta(sde, i, n);
        *a = 2.0 - sqrt(1.0 - b);
        *c = b;
        *g = sqrt(b);
        return;
    }
    if (p == DGM_PREDICTOR_REVERSE_DIFFUSION && sde->kind == DGM_SDE_VE) {
        const double r = sde->sigma_max / sde->sigma_min, den = n > 1 ? (double)(n - 1) : 1.0;
        const double s = sde->sigma_min * pow(r, (double)i / den);
        const double prev = i > 0 ? sde->sigma_min * pow(r, (double)(i - 1) / den) : 0.0;
        *a = 1.0;
        *c = s * s - prev * prev;
        *g = sqrt(*c);
        return;
    }
    const double g2 = dgm_sde_g2(sde, t);
    *a = 1.0 - dgm_sde_drift(sde, t) / (double)n;
    *c = g2 / (double)n;
    *g = sqrt(*c);
}

bool dgm_sde_pc_steps_valid(const dgm_sde *sde, dgm_sde_predictor p, int64_t steps)
{
    return !(p == DGM_PREDICTOR_REVERSE_DIFFUSION && sde->kind == DGM_SDE_VP && sde->beta_max >= (double)steps);
}

/* E‖z‖ for z ~ N(0, I_d): √2·Γ((d+1)/2)/Γ(d/2). */
static double normal_norm(int64_t d)
{
    return sqrt(2.0) * exp(lgamma(0.5 * (double)(d + 1)) - lgamma(0.5 * (double)d));
}

/* The mean over rows of ‖s_r‖. */
static dgm_status mean_row_norm(dgm_ctx *ctx, dgm_tensor *s, double *out)
{
    dgm_tensor *sq = NULL, *rows = NULL, *norms = NULL, *mean = NULL;
    DGM_TRY(dgm_square(ctx, s, &sq));
    DGM_TRY(dgm_sum(ctx, sq, DGM_AXIS_ROWS, &rows));
    DGM_TRY(dgm_sqrt(ctx, rows, &norms));
    DGM_TRY(dgm_mean(ctx, norms, DGM_AXIS_ALL, &mean));
    return dgm_read_scalar(ctx, mean, out);
}

static dgm_status corrector(dgm_ctx *ctx, const dgm_sde *sde, const dgm_pc_config *cfg, dgm_time_score_fn score,
                            void *user, double t, dgm_tensor **x)
{
    const double alpha =
        sde->kind == DGM_SDE_VE ? 1.0 : 1.0 - discrete_beta(sde, (int64_t)(t * (double)(cfg->steps - 1)), cfg->steps);
    const double znorm = normal_norm(dgm_tensor_dim(*x, 1));
    for (int k = 0; k < cfg->corrector_steps; k++) {
        dgm_tensor *s = NULL;
        double snorm = 0.0;
        DGM_TRY(score(user, *x, t, &s));
        DGM_TRY(mean_row_norm(ctx, s, &snorm));
        if (!(snorm > 0.0) || !isfinite(snorm))
            return dgm_set_error(ctx, DGM_STATUS_NOT_FINITE, "pc sampler: the score's norm is %g at t = %g", snorm, t);
        const double r = cfg->snr * znorm / snorm, step = 2.0 * alpha * r * r;
        const dgm_langevin lcfg = {.step = (float)step, .noise = (float)sqrt(2.0 * step)};
        DGM_TRY(dgm_langevin_step(ctx, &lcfg, *x, s, x));
    }
    return DGM_STATUS_OK;
}

/* x_mean = a·x + c·s; with noise, x_mean + G·z. */
static dgm_status predictor(dgm_ctx *ctx, const dgm_sde *sde, const dgm_pc_config *cfg, dgm_time_score_fn score,
                            void *user, double t, bool noise, dgm_tensor **x)
{
    double a = 0.0, c = 0.0, g = 0.0;
    predictor_coefs(sde, cfg->predictor, t, cfg->steps, &a, &c, &g);
    dgm_tensor *s = NULL, *ax = NULL, *z = NULL;
    DGM_TRY(score(user, *x, t, &s));
    DGM_TRY(dgm_scale(ctx, s, (float)c, 0.0f, &s));
    DGM_TRY(dgm_scale(ctx, *x, (float)a, 0.0f, &ax));
    DGM_TRY(dgm_add(ctx, ax, s, x));
    if (!noise) return DGM_STATUS_OK;
    const int64_t shape[2] = {dgm_tensor_dim(*x, 0), dgm_tensor_dim(*x, 1)};
    DGM_TRY(dgm_rand_normal(ctx, 2, shape, 0.0f, (float)g, &z));
    return dgm_add(ctx, *x, z, x);
}

dgm_status dgm_sde_pc_sample(dgm_ctx *ctx, const dgm_sde *sde, const dgm_pc_config *cfg, dgm_time_score_fn score,
                             void *user, dgm_tensor *x)
{
    if (cfg->steps < 1 || cfg->corrector_steps < 0 || !(cfg->eps > 0.0 && cfg->eps < 1.0))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "pc sampler: %lld steps, %d corrector steps, eps %g",
                             (long long)cfg->steps, cfg->corrector_steps, cfg->eps);
    if (!dgm_sde_pc_steps_valid(sde, cfg->predictor, cfg->steps))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "pc sampler: the reverse-diffusion predictor's last β, β_max/N = %g/%lld, must be below 1 "
                             "(more steps, or the euler-maruyama predictor)",
                             sde->beta_max, (long long)cfg->steps);
    for (int64_t i = 0; i < cfg->steps; i++) {
        /* linspace(1, eps, N) */
        const double t = cfg->steps > 1 ? 1.0 + (cfg->eps - 1.0) * (double)i / (double)(cfg->steps - 1) : 1.0;
        const bool last = i == cfg->steps - 1;
        dgm_tensor *y = x;
        dgm_status st = corrector(ctx, sde, cfg, score, user, t, &y);
        if (st == DGM_STATUS_OK && cfg->predictor != DGM_PREDICTOR_NONE)
            st = predictor(ctx, sde, cfg, score, user, t, !(last && cfg->denoise), &y);
        if (st == DGM_STATUS_OK && y != x) st = dgm_tensor_copy(ctx, x, y);
        const dgm_status end = dgm_ctx_step_end(ctx);
        DGM_TRY(st);
        DGM_TRY(end);
    }
    return DGM_STATUS_OK;
}
