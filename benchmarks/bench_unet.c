/* bench_unet: one training step of the default UNet (dgm/nn.h: 28×28×1, channels 32/64/64,
 * two residual blocks per level, attention at 14×14 and 7×7) as DDPM trains it —
 * ε-prediction, MSE, Adam — at batch 128 on dgm's CPU backend: the median seconds per step
 * over timed steps, the step arena's peak and the process's peak resident memory. The
 * PyTorch peer (peers/torch_convnets.py --bench) runs the same step on the same module tree.
 *
 * --export DIR writes what the peer's strict-load check needs: DIR/nets.safetensors with
 * the parameters of the default UNet ("unet.*"), the DCGAN pair ("generator.*",
 * "discriminator.*") and the convolutional VAE's encoder and decoder ("encoder.*",
 * "decoder.*"), fixed inputs ("input.*") and dgm's outputs on them ("output.*").
 *
 * Usage: bench_unet [--quick] [--batch B] [--steps N] [--export DIR]
 */
#include "bench_common.h"

#include <math.h>
#include <string.h>
#include <sys/resource.h>

#include "dgm/dgm.h"

static int fail(dgm_ctx *ctx, const char *what)
{
    fprintf(stderr, "bench_unet: %s: %s\n", what, dgm_last_error(ctx));
    return 1;
}

static dgm_tensor *random_tensor(dgm_ctx *ctx, int ndim, const int64_t *shape, unsigned seed, float lo,
                                 float hi)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    float *v = bench_random((size_t)n, seed);
    dgm_tensor *t = NULL;
    if (v) {
        for (int64_t i = 0; i < n; i++) v[i] = lo + (hi - lo) * (v[i] + 0.5f);
        if (dgm_tensor_create(ctx, ndim, shape, &t) || dgm_tensor_copy_from_host(ctx, t, v)) t = NULL;
    }
    free(v);
    return t;
}

typedef struct step_args {
    dgm_ctx *ctx;
    dgm_params *p;
    dgm_unet *unet;
    dgm_time_embedding *emb;
    dgm_optim *opt;
    dgm_tensor *x0, *eps, *t;
} step_args;

/* x_t = 0.8·x0 + 0.6·ε (one noise level: the noising is a few elementwise passes, the
 * network is the step), loss = mean (ε̂ - ε)². */
static int train_step(void *arg)
{
    step_args *a = arg;
    dgm_ctx *ctx = a->ctx;
    dgm_tensor *xt = NULL, *e = NULL, *pred = NULL, *loss = NULL;
    dgm_status st = dgm_scale(ctx, a->x0, 0.8f, 0.0f, &xt);
    dgm_tensor *noise = NULL;
    if (!st) st = dgm_scale(ctx, a->eps, 0.6f, 0.0f, &noise);
    if (!st) st = dgm_add(ctx, xt, noise, &xt);
    if (!st) st = dgm_time_embedding_forward(ctx, a->emb, a->t, &e);
    if (!st) st = dgm_unet_forward(ctx, a->unet, xt, e, true, &pred);
    if (!st) st = dgm_mse(ctx, pred, a->eps, DGM_REDUCTION_MEAN, &loss);
    if (!st) st = dgm_params_zero_grad(a->p);
    if (!st) st = dgm_backward(ctx, loss);
    if (!st) st = dgm_optim_step(a->opt);
    if (!st) st = dgm_ctx_step_end(ctx);
    if (st) fail(ctx, "training step");
    return st != DGM_STATUS_OK;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- --export: the networks' parameters, inputs and outputs for the peer ---- */

#define EXPORT_MAX 400

typedef struct export_list {
    dgm_st_tensor t[EXPORT_MAX];
    float *owned[EXPORT_MAX];
    char names[EXPORT_MAX][160];
    int n;
} export_list;

static int add_tensor(dgm_ctx *ctx, export_list *l, const char *name, dgm_tensor *t)
{
    if (l->n >= EXPORT_MAX) return 1;
    const int64_t n = dgm_tensor_numel(t);
    float *v = malloc((size_t)n * sizeof *v);
    if (!v || dgm_tensor_to_host(ctx, t, v)) {
        free(v);
        return 1;
    }
    dgm_st_tensor *s = &l->t[l->n];
    snprintf(l->names[l->n], sizeof l->names[l->n], "%s", name);
    s->name = l->names[l->n];
    s->ndim = dgm_tensor_ndim(t);
    for (int d = 0; d < s->ndim; d++) s->shape[d] = dgm_tensor_dim(t, d);
    s->data = v;
    l->owned[l->n++] = v;
    return 0;
}

static int export_nets(const char *dir)
{
    dgm_ctx *ctx = NULL;
    if (dgm_ctx_create(NULL, &ctx)) return fail(ctx, "context");
    dgm_params *p = NULL;
    dgm_unet *unet = NULL;
    dgm_dcgan_generator *g = NULL, *dec = NULL;
    dgm_dcgan_discriminator *d = NULL, *enc = NULL;
    dgm_unet_config uc = dgm_unet_config_default();
    dgm_dcgan_config gc = dgm_dcgan_config_default(), vc = dgm_dcgan_config_default();
    vc.latent = 20;
    vc.hidden = 400;
    vc.base_channels = 32;
    vc.batch_norm = false;
    vc.output = DGM_ACT_NONE;
    vc.out_features = 40;
    if (dgm_params_create(ctx, &p) || dgm_unet_create(p, "unet", &uc, &unet) ||
        dgm_dcgan_generator_create(p, "generator", &gc, &g) ||
        dgm_dcgan_discriminator_create(p, "discriminator", &gc, &d) ||
        dgm_dcgan_discriminator_create(p, "encoder", &vc, &enc) ||
        dgm_dcgan_generator_create(p, "decoder", &vc, &dec) || dgm_params_alloc(p))
        return fail(ctx, "building the networks");
    /* The UNet's zero-initialized layers would hide most of the network: every trainable
     * tensor gets random values instead (the batch norms' running statistics stay). */
    for (int i = 0; i < dgm_params_count(p); i++) {
        if (dgm_params_is_buffer(p, i)) continue;
        dgm_tensor *t = dgm_params_at(p, i);
        float *v = bench_random((size_t)dgm_tensor_numel(t), 11 + (unsigned)i);
        if (!v) return 1;
        for (int64_t k = 0; k < dgm_tensor_numel(t); k++) v[k] *= 0.2f;
        const dgm_status st = dgm_tensor_copy_from_host(ctx, t, v);
        free(v);
        if (st) return fail(ctx, "values");
    }
    const int64_t total = dgm_params_numel(p);

    export_list *l = calloc(1, sizeof *l);
    if (!l) return 1;
    for (int i = 0; i < dgm_params_count(p); i++)
        if (add_tensor(ctx, l, dgm_params_name(p, i), dgm_params_at(p, i))) return fail(ctx, "export");
    const int64_t xs[4] = {4, 1, 28, 28}, es[2] = {4, 32}, zs[2] = {4, 64}, vs[2] = {4, 20};
    dgm_tensor *x = random_tensor(ctx, 4, xs, 1, -1.0f, 1.0f), *e = random_tensor(ctx, 2, es, 2, -1.0f, 1.0f);
    dgm_tensor *z = random_tensor(ctx, 2, zs, 3, -2.0f, 2.0f), *zv = random_tensor(ctx, 2, vs, 4, -2.0f, 2.0f);
    dgm_tensor *yu = NULL, *yg = NULL, *yd = NULL, *ye = NULL, *yv = NULL;
    dgm_ctx_set_grad_enabled(ctx, false);
    if (!x || !e || !z || !zv || dgm_unet_forward(ctx, unet, x, e, false, &yu) ||
        dgm_dcgan_generator_forward(ctx, g, z, false, &yg) ||
        dgm_dcgan_discriminator_forward(ctx, d, x, &yd) ||
        dgm_dcgan_discriminator_forward(ctx, enc, x, &ye) ||
        dgm_dcgan_generator_forward(ctx, dec, zv, false, &yv))
        return fail(ctx, "forward");
    const char *names[] = {"input.x", "input.e", "input.z", "input.z_vae", "output.unet",
                           "output.generator", "output.discriminator", "output.encoder",
                           "output.decoder"};
    dgm_tensor *ts[] = {x, e, z, zv, yu, yg, yd, ye, yv};
    for (int i = 0; i < 9; i++)
        if (add_tensor(ctx, l, names[i], ts[i])) return fail(ctx, "export");
    char path[1024];
    snprintf(path, sizeof path, "%s/nets.safetensors", dir);
    if (dgm_safetensors_save(ctx, path, l->t, l->n, NULL, NULL, 0)) return fail(ctx, "save");
    printf("wrote %s: %d tensors (%lld parameters)\n", path, l->n, (long long)total);
    for (int i = 0; i < l->n; i++) free(l->owned[i]);
    free(l);
    dgm_ctx_step_end(ctx);
    dgm_tensor_free(x);
    dgm_tensor_free(e);
    dgm_tensor_free(z);
    dgm_tensor_free(zv);
    dgm_unet_free(unet);
    dgm_dcgan_generator_free(g);
    dgm_dcgan_generator_free(dec);
    dgm_dcgan_discriminator_free(d);
    dgm_dcgan_discriminator_free(enc);
    dgm_params_free(p);
    dgm_ctx_free(ctx);
    return 0;
}

int main(int argc, char **argv)
{
    dgm_exec_with_thread_policy(argv); /* as the dgm command runs */
    int quick = 0;
    int64_t batch = 128, steps = 10;
    const char *export_dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--export") && i + 1 < argc) export_dir = argv[++i];
        else {
            fprintf(stderr, "usage: bench_unet [--quick] [--batch B] [--steps N] [--export DIR]\n");
            return 2;
        }
    }
    if (export_dir) return export_nets(export_dir);
    if (quick) steps = 3;
    if (batch < 1 || steps < 1) return 2;
    dgm_ctx *ctx = NULL;
    if (dgm_ctx_create(NULL, &ctx)) return fail(ctx, "context");
    step_args a;
    memset(&a, 0, sizeof a);
    a.ctx = ctx;
    dgm_unet_config uc = dgm_unet_config_default();
    dgm_optim_config oc = dgm_optim_config_default(DGM_OPTIM_ADAM);
    oc.lr = 1e-4f;
    if (dgm_params_create(ctx, &a.p) || dgm_unet_create(a.p, "net", &uc, &a.unet) ||
        dgm_params_alloc(a.p) || dgm_optim_create(a.p, &oc, &a.opt) ||
        dgm_time_embedding_create(ctx, (int)uc.embedding_dim, &a.emb))
        return fail(ctx, "setup");
    const int64_t xs[4] = {batch, 1, 28, 28}, ts[2] = {batch, 1};
    a.x0 = random_tensor(ctx, 4, xs, 1, -1.0f, 1.0f);
    a.eps = random_tensor(ctx, 4, xs, 2, -1.7f, 1.7f);
    a.t = random_tensor(ctx, 2, ts, 3, 0.0f, 999.0f);
    if (!a.x0 || !a.eps || !a.t) return fail(ctx, "inputs");
    printf("UNet: %lld parameters, batch %lld\n", (long long)dgm_params_numel(a.p), (long long)batch);
    if (train_step(&a) || train_step(&a)) return 1; /* warm-up: primitives, arena */
    double *sec = malloc((size_t)steps * sizeof *sec);
    if (!sec) return 1;
    for (int64_t i = 0; i < steps; i++) {
        const double t0 = bench_now();
        if (train_step(&a)) return 1;
        sec[i] = bench_now() - t0;
    }
    qsort(sec, (size_t)steps, sizeof *sec, cmp_double);
    const double median = sec[steps / 2];
    size_t in_use = 0, peak = 0;
    dgm_ctx_arena_usage(ctx, &in_use, &peak);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("dgm: %.3f s/step (median of %lld; range %.3f-%.3f), step memory %.0f MiB, peak RSS %.0f MiB\n",
           median, (long long)steps, sec[0], sec[steps - 1], (double)peak / 1048576.0,
           (double)ru.ru_maxrss / 1024.0);
    printf("json: {\"bench\":\"unet\",\"what\":\"dgm\",\"batch\":%lld,\"seconds_per_step\":%.6g,"
           "\"min\":%.6g,\"max\":%.6g,\"steps\":%lld,\"arena_peak_mib\":%.1f,\"peak_rss_mib\":%.1f}\n",
           (long long)batch, median, sec[0], sec[steps - 1], (long long)steps,
           (double)peak / 1048576.0, (double)ru.ru_maxrss / 1024.0);
    free(sec);
    dgm_tensor_free(a.x0);
    dgm_tensor_free(a.eps);
    dgm_tensor_free(a.t);
    dgm_time_embedding_free(a.emb);
    dgm_optim_free(a.opt);
    dgm_unet_free(a.unet);
    dgm_params_free(a.p);
    dgm_ctx_free(ctx);
    return 0;
}
