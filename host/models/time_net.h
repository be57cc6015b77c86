/* The time-conditioned network of ddpm, fm, ncsn, the score SDE and the CNF, one interface
 * for all: the time embedded sinusoidally (dgm_time_embedding, emb_dim > 0), by random
 * Fourier features, or fed as the raw column t (emb_dim = 0), then
 *   --net mlp:  an MLP of [x, embedding(t)] -> [dim] (parameters "<prefix>.N.*", an
 *               nn.Sequential),
 *   --net unet: the UNet of dgm/nn.h over the model's image shape, the embedding its
 *               time input (parameters "<prefix>.conv_in.*" ...);
 * or FFJORD's ConcatSquash layers, t gating and shifting every layer (the CNF). A family
 * offers the choice by adding DGM_TIME_NET_OPTIONS to its option table (and
 * DGM_TIME_NET_OPTION_TYPES to its types) and creating the network with
 * dgm_time_net_create; nothing else of the UNet is its business. */
#ifndef DGM_MODELS_TIME_NET_H
#define DGM_MODELS_TIME_NET_H

#include "dgm/dgm.h"
#include "models/model_impl.h"

typedef struct dgm_time_net {
    dgm_mlp *mlp;            /* the MLP body, or NULL */
    dgm_unet *unet;          /* the UNet body, or NULL */
    dgm_concatsquash *cs;    /* ConcatSquash layers, or NULL */
    dgm_time_embedding *emb; /* NULL: raw t */
    int64_t image[3];        /* the UNet's [C, H, W] */
} dgm_time_net;

/* The network options of the time-conditioned families (append to the option table). */
#define DGM_TIME_NET_OPTIONS                                                                  \
    {"net", "mlp", "the network: mlp, or unet (images whose sides halve once per level)"},   \
    {"channels", "32,64,64", "--net unet: channels per level (one level per width)"},        \
    {"blocks", "2", "--net unet: residual blocks per level"},                                \
    {"attention", "14,7", "--net unet: image sides at which blocks add self-attention, "     \
                          "comma-separated, or none"},                                       \
    {"dropout", "0", "--net unet: dropout in the residual blocks"}
#define DGM_TIME_NET_OPTION_TYPES DGM_OPT_STRING, DGM_OPT_INT_LIST, DGM_OPT_INT, DGM_OPT_STRING, DGM_OPT_FLOAT

#define DGM_TIME_NET_MAX_HIDDEN 8

/* Declares the network of m's --net into m->params: the MLP [dim + (emb_dim or 1)] ->
 * hidden... -> [dim] with `act`, or the UNet (hidden and act unused; a raw t is embedded
 * sinusoidally at the first level's width for it). */
dgm_status dgm_time_net_create(dgm_model *m, const char *prefix, int emb_dim, int n_hidden,
                               const int64_t *hidden, dgm_activation act, dgm_time_net *out);
/* The same with Gaussian random Fourier features of t (scale, seed: as
 * dgm_time_embedding_create_fourier's; emb_dim even). */
dgm_status dgm_time_net_create_fourier(dgm_model *m, const char *prefix, int emb_dim, double scale,
                                       uint64_t seed, int n_hidden, const int64_t *hidden,
                                       dgm_activation act, dgm_time_net *out);
/* ConcatSquash layers [dim] -> hidden... -> [dim] with `act` between them. */
dgm_status dgm_time_net_create_concatsquash(dgm_params *p, const char *prefix, int64_t dim, int n_hidden,
                                            const int64_t *hidden, dgm_activation act, dgm_time_net *out);
void dgm_time_net_free(dgm_time_net *net);
/* x [B, dim], t [B, 1] -> [B, dim]. The UNet's dropout is on while gradients are
 * recorded (training steps) and off otherwise (sampling, evaluation). */
dgm_status dgm_time_net_forward(dgm_ctx *ctx, const dgm_time_net *net, dgm_tensor *x,
                                dgm_tensor *t, dgm_tensor **out);

#endif
