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
    {"net", "auto", "the network: mlp, unet (images whose sides halve once per level), or "   \
                    "auto: the UNet on such images, else the MLP"},                           \
    {"channels", "32,64,64", "--net unet: channels per level (one level per width)"},        \
    {"blocks", "1", "--net unet: residual blocks per level"},                                \
    {"attention", "auto", "--net unet: image sides at which blocks add self-attention, "     \
                          "comma-separated, none, or auto: every level but the first"},     \
    {"dropout", "0", "--net unet: dropout in the residual blocks"}
#define DGM_TIME_NET_OPTION_TYPES DGM_OPT_STRING, DGM_OPT_INT_LIST, DGM_OPT_INT, DGM_OPT_STRING, DGM_OPT_FLOAT

#define DGM_TIME_NET_MAX_HIDDEN 8

/* What a checkpoint written before --net existed meant: the MLP (the families'
 * legacy_options). */
extern const dgm_model_option dgm_time_net_legacy_options[];

/* Whether a run of `given` options (a JSON object, or NULL) on data of sample_ndim
 * dimensions trains a UNet: --net unet, or --net auto (the default) on images. The families'
 * train_defaults take their image budget from it. */
bool dgm_time_net_given_unet(const json_t *given, int sample_ndim);
/* Whether m's network is the UNet (--net unet, or auto on images it fits). */
bool dgm_time_net_unet_chosen(const dgm_model *m);

/* The image run of ddpm, fm, ncsn and sde with the UNet, sized to end within 30 minutes on
 * 2 CPU cores (docs/benchmark-notes.md): DGM_TIME_NET_UNET_STEPS steps of batch 64, Adam
 * 5e-4 after 500 warm-up steps, a metrics line every 100. */
#define DGM_TIME_NET_UNET_STEPS 2000
void dgm_time_net_unet_run(dgm_train_defaults *t);

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
