/* The diffusion SDEs' closed forms, the probability-flow velocity and the likelihood
 * weighting's importance sampling (sde.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/model_impl.h"
#include "models/sde.h"

int dgm_sde_kind_parse(const char *name)
{
    static const char *const names[] = {"vp", "subvp", "ve"};
    for (int i = 0; name && i < 3; i++)
        if (!strcmp(name, names[i])) return i;
    return -1;
}

/* log mean(t) of VP and sub-VP: −¼t²(β_max − β_min) − ½t·β_min. */
static double log_mean(const dgm_sde *sde, double t)
{
    return -0.25 * t * t * (sde->beta_max - sde->beta_min) - 0.5 * t * sde->beta_min;
}

void dgm_sde_marginal(const dgm_sde *sde, double t, double *mean, double *std)
{
    if (sde->kind == DGM_SDE_VE) {
        *mean = 1.0;
        *std = sde->sigma_min * pow(sde->sigma_max / sde->sigma_min, t);
        return;
    }
    const double lm = log_mean(sde, t);
    *mean = exp(lm);
    /* 1 − e^{2·lm} by expm1: at t = 1e-5 it is 1e-6, which 1 − exp would round */
    *std = sde->kind == DGM_SDE_VP ? sqrt(-expm1(2.0 * lm)) : -expm1(2.0 * lm);
}

double dgm_sde_drift(const dgm_sde *sde, double t)
{
    return sde->kind == DGM_SDE_VE ? 0.0 : -0.5 * (sde->beta_min + t * (sde->beta_max - sde->beta_min));
}

double dgm_sde_g2(const dgm_sde *sde, double t)
{
    if (sde->kind == DGM_SDE_VE) {
        const double sigma = sde->sigma_min * pow(sde->sigma_max / sde->sigma_min, t);
        return sigma * sigma * 2.0 * log(sde->sigma_max / sde->sigma_min);
    }
    const double beta = sde->beta_min + t * (sde->beta_max - sde->beta_min);
    return sde->kind == DGM_SDE_VP ? beta : beta * -expm1(4.0 * log_mean(sde, t));
}

double dgm_sde_prior_std(const dgm_sde *sde) { return sde->kind == DGM_SDE_VE ? sde->sigma_max : 1.0; }

dgm_status dgm_sde_prior_draw(dgm_ctx *ctx, const dgm_sde *sde, int64_t n, int64_t d, dgm_tensor **out)
{
    const int64_t shape[2] = {n, d};
    return dgm_rand_normal(ctx, 2, shape, 0.0f, (float)dgm_sde_prior_std(sde), out);
}

dgm_status dgm_sde_flow_velocity(void *flow, dgm_tensor *x, float t, dgm_tensor **v)
{
    const dgm_sde_flow *f = flow;
    dgm_tensor *s = NULL, *fx = NULL;
    DGM_TRY(f->score(f->user, x, (double)t, &s));
    DGM_TRY(dgm_scale(f->ctx, s, (float)(-0.5 * dgm_sde_g2(f->sde, t)), 0.0f, &s));
    if (f->sde->kind == DGM_SDE_VE) {
        *v = s;
        return DGM_STATUS_OK;
    }
    DGM_TRY(dgm_scale(f->ctx, x, (float)dgm_sde_drift(f->sde, t), 0.0f, &fx));
    return dgm_add(f->ctx, fx, s, v);
}

/* g²/std²: the likelihood weighting's factor on ½|std·s + z|². */
static double weight(const dgm_sde *sde, double t)
{
    double mean = 0.0, std = 0.0;
    dgm_sde_marginal(sde, t, &mean, &std);
    return dgm_sde_g2(sde, t) / (std * std);
}

#define IS_GRID 4097

bool dgm_sde_importance_init(const dgm_sde *sde, double eps, dgm_sde_importance *out)
{
    memset(out, 0, sizeof *out);
    out->log_t = malloc(2 * IS_GRID * sizeof *out->log_t);
    if (!out->log_t) return false;
    out->cdf = out->log_t + IS_GRID;
    out->n = IS_GRID;
    out->eps = eps;
    /* ∫ w(t) dt = ∫ w(e^u)·e^u du on u = log t: w ~ 1/t near 0 on VP and sub-VP, so the
     * integrand is smooth in u; the trapezoid rule on 4,097 points */
    const double lo = log(eps), step = -lo / (IS_GRID - 1);
    double prev = 0.0, acc = 0.0;
    for (int i = 0; i < IS_GRID; i++) {
        const double u = lo + step * i, f = weight(sde, exp(u)) * exp(u);
        if (i) acc += 0.5 * (prev + f) * step;
        out->log_t[i] = u;
        out->cdf[i] = acc;
        prev = f;
    }
    out->z = acc;
    for (int i = 0; i < IS_GRID; i++) out->cdf[i] /= acc;
    return true;
}

double dgm_sde_importance_draw(const dgm_sde_importance *is, double u)
{
    int lo = 0, hi = is->n - 1;
    while (hi - lo > 1) {
        const int mid = (lo + hi) / 2;
        if (is->cdf[mid] <= u) lo = mid;
        else hi = mid;
    }
    const double span = is->cdf[hi] - is->cdf[lo], f = span > 0.0 ? (u - is->cdf[lo]) / span : 0.0;
    const double t = exp(is->log_t[lo] + f * (is->log_t[hi] - is->log_t[lo]));
    return t < is->eps ? is->eps : t > 1.0 ? 1.0 : t;
}

void dgm_sde_importance_free(dgm_sde_importance *is)
{
    free(is->log_t);
    memset(is, 0, sizeof *is);
}
