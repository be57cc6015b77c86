/* GAN objectives (see gan_loss.h). For the f-GAN divergences, with v the discriminator's
 * raw output, T = g_f(v) its output activation and f* the convex conjugate (Nowozin et
 * al. 2016, Table 2), f*(g_f(v)) is simplified so nothing overflows or takes a log of a
 * negative number:
 *
 *   divergence   T = g_f(v)            f*(T)            f*(g_f(v))
 *   kl           v                     e^(T-1)          e^(v-1)
 *   rkl          -e^-v                 -1 - log(-T)     v - 1
 *   js           log 2 - softplus(-v)  -log(2 - e^T)    softplus(v) - log 2
 *   tv           tanh(v)/2             T                tanh(v)/2
 *   pearson      v                     T²/4 + T         v²/4 + v
 *   hellinger    1 - e^-v              T/(1-T)          e^v - 1
 *
 * The minimax game is the GAN row (T = -softplus(-v), f*(T) = softplus(v)): the
 * discriminator minimizes E_P softplus(-v) + E_Q softplus(v), i.e. binary cross-entropy
 * with D = σ(v). */
#include <math.h>
#include <string.h>

#include "models/gan_loss.h"

static const char *const loss_names[DGM_GAN_LOSS_COUNT] = {
    "minimax", "ns", "f:kl", "f:rkl", "f:js", "f:tv", "f:pearson", "f:hellinger", "wgan-gp",
};

const char *dgm_gan_loss_name(int loss)
{
    return loss >= 0 && loss < DGM_GAN_LOSS_COUNT ? loss_names[loss] : NULL;
}

int dgm_gan_loss_parse(const char *name)
{
    for (int i = 0; name && i < DGM_GAN_LOSS_COUNT; i++)
        if (!strcmp(loss_names[i], name)) return i;
    return -1;
}

#define LOG2 0.69314718055994531f

/* T = g_f(v). */
static dgm_status activation(dgm_ctx *ctx, int loss, dgm_tensor *v, dgm_tensor **t)
{
    dgm_tensor *a = NULL;
    switch (loss) {
    case DGM_GAN_F_KL:
    case DGM_GAN_F_PEARSON:
    case DGM_GAN_WGAN_GP: *t = v; return DGM_STATUS_OK;
    case DGM_GAN_F_RKL: /* -e^-v */
        DGM_TRY(dgm_scale(ctx, v, -1.0f, 0.0f, &a));
        DGM_TRY(dgm_exp(ctx, a, &a));
        return dgm_scale(ctx, a, -1.0f, 0.0f, t);
    case DGM_GAN_F_JS: /* log 2 - softplus(-v) */
        DGM_TRY(dgm_scale(ctx, v, -1.0f, 0.0f, &a));
        DGM_TRY(dgm_softplus(ctx, a, &a));
        return dgm_scale(ctx, a, -1.0f, LOG2, t);
    case DGM_GAN_F_TV:
        DGM_TRY(dgm_tanh(ctx, v, &a));
        return dgm_scale(ctx, a, 0.5f, 0.0f, t);
    case DGM_GAN_F_HELLINGER: /* 1 - e^-v */
        DGM_TRY(dgm_scale(ctx, v, -1.0f, 0.0f, &a));
        DGM_TRY(dgm_exp(ctx, a, &a));
        return dgm_scale(ctx, a, -1.0f, 1.0f, t);
    default: /* minimax, ns: -softplus(-v) = log σ(v) */
        DGM_TRY(dgm_scale(ctx, v, -1.0f, 0.0f, &a));
        DGM_TRY(dgm_softplus(ctx, a, &a));
        return dgm_scale(ctx, a, -1.0f, 0.0f, t);
    }
}

/* f*(g_f(v)). */
static dgm_status conjugate(dgm_ctx *ctx, int loss, dgm_tensor *v, dgm_tensor **c)
{
    dgm_tensor *a = NULL, *b = NULL;
    switch (loss) {
    case DGM_GAN_F_KL:
        DGM_TRY(dgm_scale(ctx, v, 1.0f, -1.0f, &a));
        return dgm_exp(ctx, a, c);
    case DGM_GAN_F_RKL: return dgm_scale(ctx, v, 1.0f, -1.0f, c);
    case DGM_GAN_F_JS:
        DGM_TRY(dgm_softplus(ctx, v, &a));
        return dgm_scale(ctx, a, 1.0f, -LOG2, c);
    case DGM_GAN_F_TV: return activation(ctx, loss, v, c);
    case DGM_GAN_F_PEARSON:
        DGM_TRY(dgm_square(ctx, v, &a));
        DGM_TRY(dgm_scale(ctx, a, 0.25f, 0.0f, &a));
        DGM_TRY(dgm_add(ctx, a, v, &b));
        *c = b;
        return DGM_STATUS_OK;
    case DGM_GAN_F_HELLINGER:
        DGM_TRY(dgm_exp(ctx, v, &a));
        return dgm_scale(ctx, a, 1.0f, -1.0f, c);
    case DGM_GAN_WGAN_GP: *c = v; return DGM_STATUS_OK;
    default: return dgm_softplus(ctx, v, c); /* minimax, ns */
    }
}

static dgm_status check(dgm_ctx *ctx, int loss, const char *fn)
{
    if (loss < 0 || loss >= DGM_GAN_LOSS_COUNT)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: unknown GAN loss %d", fn,
                             loss);
    return DGM_STATUS_OK;
}

dgm_status dgm_gan_d_loss(dgm_ctx *ctx, int loss, dgm_tensor *v_real, dgm_tensor *v_fake,
                          dgm_tensor **out)
{
    DGM_TRY(check(ctx, loss, "dgm_gan_d_loss"));
    dgm_tensor *t = NULL, *c = NULL, *mt = NULL, *mc = NULL;
    DGM_TRY(activation(ctx, loss, v_real, &t));
    DGM_TRY(conjugate(ctx, loss, v_fake, &c));
    DGM_TRY(dgm_mean(ctx, t, DGM_AXIS_ALL, &mt));
    DGM_TRY(dgm_mean(ctx, c, DGM_AXIS_ALL, &mc));
    return dgm_sub(ctx, mc, mt, out); /* -(E_P T - E_Q f*(T)) */
}

dgm_status dgm_gan_g_loss(dgm_ctx *ctx, int loss, dgm_tensor *v_fake, dgm_tensor **out)
{
    DGM_TRY(check(ctx, loss, "dgm_gan_g_loss"));
    dgm_tensor *a = NULL, *m = NULL;
    if (loss == DGM_GAN_MINIMAX) { /* E_Q log(1 - D) = -E_Q softplus(v), minimized */
        DGM_TRY(dgm_softplus(ctx, v_fake, &a));
        DGM_TRY(dgm_mean(ctx, a, DGM_AXIS_ALL, &m));
        return dgm_scale(ctx, m, -1.0f, 0.0f, out);
    }
    DGM_TRY(activation(ctx, loss, v_fake, &a)); /* ns: T = log D */
    DGM_TRY(dgm_mean(ctx, a, DGM_AXIS_ALL, &m));
    return dgm_scale(ctx, m, -1.0f, 0.0f, out);
}

/* ‖∇_x Σ d_out‖² per row [B, 1], the gradient recorded. */
static dgm_status grad_norm2(dgm_ctx *ctx, dgm_tensor *d_out, dgm_tensor *x, dgm_tensor **out)
{
    dgm_tensor *s = NULL, *g = NULL, *sq = NULL;
    DGM_TRY(dgm_sum(ctx, d_out, DGM_AXIS_ALL, &s)); /* rows are independent samples */
    DGM_TRY(dgm_autograd(ctx, s, NULL, 1, &x, true, &g));
    DGM_TRY(dgm_square(ctx, g, &sq));
    return dgm_sum(ctx, sq, DGM_AXIS_ROWS, out);
}

dgm_status dgm_gan_gradient_penalty(dgm_ctx *ctx, dgm_tensor *d_out, dgm_tensor *x,
                                    dgm_tensor **out)
{
    dgm_tensor *n2 = NULL, *n = NULL;
    DGM_TRY(grad_norm2(ctx, d_out, x, &n2));
    /* sqrt has an infinite slope at 0: a tiny floor keeps the penalty's gradient finite
     * for a critic that is flat at a point (the norm is then ~1e-6, not 0). */
    DGM_TRY(dgm_scale(ctx, n2, 1.0f, 1e-12f, &n2));
    DGM_TRY(dgm_sqrt(ctx, n2, &n));
    DGM_TRY(dgm_scale(ctx, n, 1.0f, -1.0f, &n));
    DGM_TRY(dgm_square(ctx, n, &n));
    return dgm_mean(ctx, n, DGM_AXIS_ALL, out);
}

dgm_status dgm_gan_r1_penalty(dgm_ctx *ctx, dgm_tensor *d_out, dgm_tensor *x,
                              dgm_tensor **out)
{
    dgm_tensor *n2 = NULL;
    DGM_TRY(grad_norm2(ctx, d_out, x, &n2));
    return dgm_mean(ctx, n2, DGM_AXIS_ALL, out);
}
