/* GAN objectives on the discriminator's raw outputs v (logits / critic values), and the
 * gradient penalties. Private to the GAN family (host/models/gan*.c). */
#ifndef DGM_GAN_LOSS_H
#define DGM_GAN_LOSS_H

#include "core/internal.h"

typedef enum dgm_gan_loss {
    DGM_GAN_MINIMAX = 0, /* Goodfellow et al. 2014, the saturating generator loss */
    DGM_GAN_NS,          /* the same game, non-saturating generator loss -log D(G(z)) */
    DGM_GAN_F_KL,        /* f-GAN (Nowozin et al. 2016, Table 2) divergences */
    DGM_GAN_F_RKL,
    DGM_GAN_F_JS,
    DGM_GAN_F_TV,
    DGM_GAN_F_PEARSON,
    DGM_GAN_F_HELLINGER,
    DGM_GAN_WGAN_GP,     /* Gulrajani et al. 2017: critic values, penalty added apart */
    DGM_GAN_LOSS_COUNT
} dgm_gan_loss;

/* "minimax", "ns", "f:kl", "f:rkl", "f:js", "f:tv", "f:pearson", "f:hellinger",
 * "wgan-gp"; NULL out of range. */
const char *dgm_gan_loss_name(int loss);
/* The loss named `name`, or -1. */
int dgm_gan_loss_parse(const char *name);

/* The discriminator's loss to minimize, one element: v_real [B, 1] on data, v_fake
 * [B', 1] on generated samples. f-GAN: -(E_P[T(v)] - E_Q[f*(T(v))]) with T = g_f(v). */
dgm_status dgm_gan_d_loss(dgm_ctx *ctx, int loss, dgm_tensor *v_real, dgm_tensor *v_fake,
                          dgm_tensor **out);
/* The generator's loss to minimize, one element, from v_fake [B, 1]. f-GAN: -E_Q[T(v)]
 * (the paper's alternative, as for the non-saturating GAN). */
dgm_status dgm_gan_g_loss(dgm_ctx *ctx, int loss, dgm_tensor *v_fake, dgm_tensor **out);

/* WGAN-GP's penalty mean_b (‖∇_x d_out_b‖ - 1)², with d_out = D(x) [B, 1] computed from x
 * [B, dim] (x requires a gradient); recorded, so its gradient reaches D's parameters. */
dgm_status dgm_gan_gradient_penalty(dgm_ctx *ctx, dgm_tensor *d_out, dgm_tensor *x,
                                    dgm_tensor **out);
/* R1 (Mescheder et al. 2018): mean_b ‖∇_x d_out_b‖² at data points x; recorded. */
dgm_status dgm_gan_r1_penalty(dgm_ctx *ctx, dgm_tensor *d_out, dgm_tensor *x,
                              dgm_tensor **out);

#endif
