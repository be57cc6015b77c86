/* The time-conditioned network of ddpm, fm, ncsn, the score SDE and the CNF: an MLP of
 * [x, embedding(t)] -> [dim], the time embedded sinusoidally (dgm_time_embedding, emb_dim
 * > 0), by random Fourier features, or fed as the raw column t (emb_dim = 0); or FFJORD's
 * ConcatSquash layers, t gating and shifting every layer. Parameters "<prefix>.*" (an
 * nn.Sequential MLP, or FFJORD's ODEnet names). */
#ifndef DGM_MODELS_TIME_NET_H
#define DGM_MODELS_TIME_NET_H

#include "dgm/dgm.h"

typedef struct dgm_time_net {
    dgm_mlp *mlp;            /* NULL for ConcatSquash layers */
    dgm_concatsquash *cs;    /* NULL for the MLP */
    dgm_time_embedding *emb; /* NULL: raw t */
} dgm_time_net;

#define DGM_TIME_NET_MAX_HIDDEN 8

/* Declares the MLP [dim + (emb_dim or 1)] -> hidden... -> [dim] into p. */
dgm_status dgm_time_net_create(dgm_params *p, const char *prefix, int64_t dim, int emb_dim,
                               int n_hidden, const int64_t *hidden, dgm_activation act,
                               dgm_time_net *out);
/* The same with Gaussian random Fourier features of t (scale, seed: as
 * dgm_time_embedding_create_fourier's; emb_dim even). */
dgm_status dgm_time_net_create_fourier(dgm_params *p, const char *prefix, int64_t dim, int emb_dim,
                                       double scale, uint64_t seed, int n_hidden, const int64_t *hidden,
                                       dgm_activation act, dgm_time_net *out);
/* ConcatSquash layers [dim] -> hidden... -> [dim] with `act` between them. */
dgm_status dgm_time_net_create_concatsquash(dgm_params *p, const char *prefix, int64_t dim, int n_hidden,
                                            const int64_t *hidden, dgm_activation act, dgm_time_net *out);
void dgm_time_net_free(dgm_time_net *net);
/* x [B, dim], t [B, 1] -> [B, dim]. */
dgm_status dgm_time_net_forward(dgm_ctx *ctx, const dgm_time_net *net, dgm_tensor *x,
                                dgm_tensor *t, dgm_tensor **out);

#endif
