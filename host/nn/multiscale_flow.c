/* RealNVP's multi-scale flow on images (see multiscale_flow.h). */
#include <stdio.h>
#include <stdlib.h>

#include "nn/multiscale_flow.h"
#include "nn/nn_internal.h"

#define MS_MAX_SCALES 4
#define MS_MAX_STEPS (MS_MAX_SCALES * 8 + 4)

typedef enum { STEP_COUPLE, STEP_SQUEEZE, STEP_FACTOR } step_kind;

typedef struct ms_step {
    step_kind kind;
    dgm_conv_coupling *coupling;
    dgm_actnorm *actnorm; /* NULL without ActNorm */
    dgm_permutation *squeeze;
    int64_t width; /* active columns before the step */
} ms_step;

struct dgm_multiscale_flow {
    int n;
    ms_step step[MS_MAX_STEPS];
    int64_t dim;
};

static dgm_status add_coupling(dgm_params *p, const dgm_multiscale_config *cfg, dgm_multiscale_flow *f,
                               const int64_t img[3], dgm_coupling_mask mask, bool flip, int *k)
{
    ms_step *s = &f->step[f->n++];
    s->kind = STEP_COUPLE;
    s->width = img[0] * img[1] * img[2];
    char name[DGM_NN_NAME_MAX];
    if (cfg->actnorm) {
        snprintf(name, sizeof name, "actnorm.%d", *k);
        DGM_TRY(dgm_actnorm_create(p, name, s->width, &s->actnorm));
    }
    snprintf(name, sizeof name, "flow.%d", (*k)++);
    return dgm_conv_coupling_create(p, name, img[0], img[1], img[2], mask, flip, cfg->features, cfg->blocks,
                                    &s->coupling);
}

static dgm_status build(dgm_params *p, const dgm_multiscale_config *cfg, dgm_multiscale_flow *f)
{
    dgm_ctx *ctx = dgm_params_ctx(p);
    int64_t img[3] = {cfg->channels, cfg->height, cfg->width};
    int k = 0;
    for (int sc = 0; sc < cfg->scales; sc++) {
        for (int i = 0; i < 3; i++) DGM_TRY(add_coupling(p, cfg, f, img, DGM_COUPLING_CHECKERBOARD, i % 2, &k));
        ms_step *sq = &f->step[f->n++];
        sq->kind = STEP_SQUEEZE;
        sq->width = img[0] * img[1] * img[2];
        DGM_TRY(dgm_permutation_create_squeeze(ctx, img[0], img[1], img[2], &sq->squeeze));
        img[0] *= 4, img[1] /= 2, img[2] /= 2;
        for (int i = 0; i < 3; i++) DGM_TRY(add_coupling(p, cfg, f, img, DGM_COUPLING_CHANNEL, i % 2, &k));
        ms_step *fo = &f->step[f->n++];
        fo->kind = STEP_FACTOR;
        fo->width = img[0] * img[1] * img[2];
        img[0] /= 2;
    }
    for (int i = 0; i < 4; i++) DGM_TRY(add_coupling(p, cfg, f, img, DGM_COUPLING_CHECKERBOARD, i % 2, &k));
    return DGM_STATUS_OK;
}

dgm_status dgm_multiscale_flow_create(dgm_params *p, const dgm_multiscale_config *c, dgm_multiscale_flow **out)
{
    dgm_ctx *ctx = dgm_params_ctx(p);
    if (!ctx) return DGM_STATUS_INVALID_ARGUMENT;
    const char *fn = "dgm_multiscale_flow_create";
    if (!c || !out) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: config and out must not be NULL", fn);
    *out = NULL;
    const int64_t side = c->scales >= 0 && c->scales <= MS_MAX_SCALES ? (int64_t)1 << c->scales : 0;
    if (!side || c->channels < 1 || c->height < 2 || c->width < 2 || c->height % side || c->width % side ||
        c->channels * c->height * c->width > 4096)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: [%lld, %lld, %lld] images with %d scales: 0 to %d scales, the sides divisible "
                             "by 2 per scale, at most 4096 values", fn, (long long)c->channels,
                             (long long)c->height, (long long)c->width, c->scales, MS_MAX_SCALES);
    dgm_multiscale_flow *f = calloc(1, sizeof *f);
    if (!f) return dgm_set_error(ctx, DGM_STATUS_OOM, "%s: out of host memory", fn);
    f->dim = c->channels * c->height * c->width;
    const dgm_status st = build(p, c, f);
    if (st != DGM_STATUS_OK) {
        dgm_multiscale_flow_free(f);
        return st;
    }
    *out = f;
    return DGM_STATUS_OK;
}

void dgm_multiscale_flow_free(dgm_multiscale_flow *f)
{
    if (!f) return;
    for (int i = 0; i < f->n; i++) {
        dgm_conv_coupling_free(f->step[i].coupling);
        dgm_actnorm_free(f->step[i].actnorm);
        dgm_permutation_free(f->step[i].squeeze);
    }
    free(f);
}

static dgm_status add_logdet(dgm_ctx *ctx, dgm_tensor *ld, dgm_tensor **total)
{
    if (!*total) return (*total = ld, DGM_STATUS_OK);
    return dgm_add(ctx, *total, ld, total);
}

dgm_status dgm_multiscale_flow_forward(dgm_ctx *ctx, const dgm_multiscale_flow *f, dgm_tensor *x,
                                       bool init_actnorm, dgm_tensor **z, dgm_tensor **logdet)
{
    if (!f || !x || !z || !logdet)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_multiscale_flow_forward: NULL argument");
    dgm_tensor *h = x, *ld = NULL, *total = NULL, *out[MS_MAX_SCALES];
    int n_out = 0;
    for (int i = 0; i < f->n; i++) {
        const ms_step *s = &f->step[i];
        if (s->kind == STEP_SQUEEZE) {
            DGM_TRY(dgm_permutation_forward(ctx, s->squeeze, h, &h));
        } else if (s->kind == STEP_FACTOR) {
            DGM_TRY(dgm_slice_cols(ctx, h, s->width / 2, s->width - s->width / 2, &out[n_out++]));
            DGM_TRY(dgm_slice_cols(ctx, h, 0, s->width / 2, &h));
        } else {
            if (s->actnorm) {
                if (init_actnorm) DGM_TRY(dgm_actnorm_init_data(ctx, s->actnorm, h));
                DGM_TRY(dgm_actnorm_forward(ctx, s->actnorm, h, &h, &ld));
                DGM_TRY(add_logdet(ctx, ld, &total));
            }
            DGM_TRY(dgm_conv_coupling_forward(ctx, s->coupling, h, &h, &ld));
            DGM_TRY(add_logdet(ctx, ld, &total));
        }
    }
    while (n_out > 0) DGM_TRY(dgm_concat_cols(ctx, h, out[--n_out], &h));
    *z = h;
    *logdet = total;
    return DGM_STATUS_OK;
}

dgm_status dgm_multiscale_flow_inverse(dgm_ctx *ctx, const dgm_multiscale_flow *f, dgm_tensor *z, dgm_tensor **x)
{
    if (!f || !z || !x) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_multiscale_flow_inverse: NULL argument");
    if (dgm_tensor_ndim(z) != 2 || dgm_tensor_dim(z, 1) != f->dim)
        return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH, "dgm_multiscale_flow_inverse: z must be [B, %lld]",
                             (long long)f->dim);
    /* z = [h_final, f_last, ..., f_first]: the final width is the last coupling's */
    int64_t at = f->step[f->n - 1].width;
    dgm_tensor *h = NULL, *part = NULL;
    DGM_TRY(dgm_slice_cols(ctx, z, 0, at, &h));
    for (int i = f->n - 1; i >= 0; i--) {
        const ms_step *s = &f->step[i];
        if (s->kind == STEP_SQUEEZE) {
            DGM_TRY(dgm_permutation_inverse(ctx, s->squeeze, h, &h));
        } else if (s->kind == STEP_FACTOR) {
            const int64_t n = s->width - s->width / 2;
            DGM_TRY(dgm_slice_cols(ctx, z, at, n, &part));
            DGM_TRY(dgm_concat_cols(ctx, h, part, &h));
            at += n;
        } else {
            DGM_TRY(dgm_conv_coupling_inverse(ctx, s->coupling, h, &h));
            if (s->actnorm) DGM_TRY(dgm_actnorm_inverse(ctx, s->actnorm, h, &h));
        }
    }
    *x = h;
    return DGM_STATUS_OK;
}
