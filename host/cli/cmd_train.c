/* dgm train MODEL --data DATA ...: the training loop around a model — data loader,
 * optimizer, checkpoints every --save-every steps and at the end, metrics as JSON lines,
 * a progress line on a terminal, and samples.png at the end. --resume continues from
 * DIR/checkpoint.safetensors so that the next steps equal those of a run that never
 * stopped. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/progress.h"

typedef struct train_args {
    const char *model, *data, *device, *out, *optimizer;
    int64_t steps, epochs, batch, save_every, log_every;
    float lr, weight_decay, clip;
    bool lr_given, wd_given, resume;
    uint64_t seed;
    json_t *model_options;
} train_args;

static void train_help(const char *model)
{
    printf("usage: dgm train MODEL --data DATA [options] [model options]\n\n"
           "  --data DATA           fashion-mnist, mnist, a toy (%s), or an .npy/.csv/IDX file\n"
           "  --device D            auto (default: CUDA when a GPU is usable), cpu or cuda\n"
           "  --steps N | --epochs N  length of the run (default: 1 epoch)\n"
           "  --batch B             batch size (default 128)\n"
           "  --lr X                learning rate (default 1e-3)\n"
           "  --optimizer NAME      adam (default), adamw or sgd\n"
           "  --weight-decay X      (default: the optimizer's, 0 for adam/sgd, 1e-2 for adamw)\n"
           "  --clip X              clip gradients to global norm X (default off)\n"
           "  --seed S              seed of initialization, shuffling and noise (default 0)\n"
           "  --out DIR             output folder (default runs/MODEL-DATA)\n"
           "  --save-every N        checkpoint every N steps (default: only at the end)\n"
           "  --log-every N         metrics line every N steps (default 100)\n"
           "  --resume              continue from DIR/checkpoint.safetensors\n",
           "ring8, grid25, gauss8, moons, checkerboard, swissroll, pinwheel, 2spirals");
    const char *const *kinds = dgm_model_kinds();
    for (int k = 0; kinds[k]; k++) {
        if (model && strcmp(model, kinds[k])) continue;
        const dgm_model_option *o = dgm_model_options(kinds[k]);
        printf("\nmodel %s: %s\n", kinds[k], dgm_model_summary(kinds[k]));
        if (!o[0].name) printf("  (no model options)\n");
        for (; o->name; o++) printf("  --%-20s %s (default %s)\n", o->name, o->help, o->default_value);
    }
}

/* "gaussian, vae" */
static const char *kinds_list(void)
{
    static char buf[256];
    const char *const *k = dgm_model_kinds();
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; k[i] && n < sizeof buf; i++) n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", i ? ", " : "", k[i]);
    return buf;
}

static bool is_model_option(const char *model, const char *name)
{
    const dgm_model_option *o = dgm_model_options(model);
    for (; o && o->name; o++)
        if (!strcmp(o->name, name)) return true;
    return false;
}

static int parse_args(int argc, char **argv, train_args *a)
{
    memset(a, 0, sizeof *a);
    a->device = "auto";
    a->optimizer = "adam";
    a->batch = 128;
    a->log_every = 100;
    a->lr = 1e-3f;
    a->model_options = json_object();
    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
            train_help(NULL);
            return -1;
        }
        return cli_usage_error("dgm train needs a MODEL (%s)", kinds_list());
    }
    a->model = argv[1];
    if (!dgm_model_options(a->model)) return cli_usage_error("unknown model '%s' (valid: %s)", a->model, kinds_list());
    for (int i = 2; i < argc; i++) {
        char name[64];
        const char *v = NULL;
        if (strncmp(argv[i], "--", 2)) return cli_usage_error("unexpected argument '%s'", argv[i]);
        cli_option_name(argv[i], name, sizeof name);
        if (!strcmp(name, "help")) {
            train_help(a->model);
            return -1;
        }
        if (!strcmp(name, "resume")) {
            a->resume = true;
            continue;
        }
        if (!cli_take_value(argc, argv, &i, &v)) return cli_usage_error("--%s needs a value", name);
        bool ok = true;
        if (!strcmp(name, "data")) a->data = v;
        else if (!strcmp(name, "device")) a->device = v;
        else if (!strcmp(name, "out")) a->out = v;
        else if (!strcmp(name, "optimizer")) a->optimizer = v;
        else if (!strcmp(name, "steps")) ok = cli_parse_int(v, 1, &a->steps);
        else if (!strcmp(name, "epochs")) ok = cli_parse_int(v, 1, &a->epochs);
        else if (!strcmp(name, "batch")) ok = cli_parse_int(v, 1, &a->batch);
        else if (!strcmp(name, "save-every")) ok = cli_parse_int(v, 1, &a->save_every);
        else if (!strcmp(name, "log-every")) ok = cli_parse_int(v, 1, &a->log_every);
        else if (!strcmp(name, "seed")) ok = cli_parse_u64(v, &a->seed);
        else if (!strcmp(name, "lr")) ok = cli_parse_float(v, &a->lr) && a->lr > 0, a->lr_given = true;
        else if (!strcmp(name, "weight-decay")) ok = cli_parse_float(v, &a->weight_decay) && a->weight_decay >= 0, a->wd_given = true;
        else if (!strcmp(name, "clip")) ok = cli_parse_float(v, &a->clip) && a->clip > 0;
        else if (is_model_option(a->model, name)) json_object_set_new(a->model_options, name, json_string(v));
        else {
            const dgm_model_option *o = dgm_model_options(a->model);
            char list[512] = "";
            size_t n = 0;
            for (; o->name && n < sizeof list; o++) n += (size_t)snprintf(list + n, sizeof list - n, " --%s", o->name);
            return cli_usage_error("unknown option --%s for dgm train %s (model options:%s)", name,
                                   a->model, n ? list : " none");
        }
        if (!ok) return cli_usage_error("--%s %s: not a valid value", name, v);
    }
    if (!a->data) return cli_usage_error("dgm train %s needs --data", a->model);
    if (a->steps && a->epochs) return cli_usage_error("give --steps or --epochs, not both");
    if (strcmp(a->optimizer, "adam") && strcmp(a->optimizer, "adamw") && strcmp(a->optimizer, "sgd"))
        return cli_usage_error("--optimizer %s: expected adam, adamw or sgd", a->optimizer);
    if (a->resume && json_object_size(a->model_options))
        return cli_usage_error("--resume takes the model options from the checkpoint; drop them");
    return 0;
}

/* mkdir -p */
static int make_dirs(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0755) && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(buf, 0755) && errno != EEXIST) return -1;
    return 0;
}

static const char *data_label(const char *spec, char *buf, size_t len)
{
    const char *slash = strrchr(spec, '/');
    snprintf(buf, len, "%s", slash ? slash + 1 : spec);
    char *dot = strchr(buf, '.');
    if (dot && dot != buf) *dot = 0;
    return buf;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct run {
    train_args a;
    dgm_ctx *ctx;
    dgm_dataset *train;
    dgm_model *model;
    dgm_optim *optim;
    dgm_loader *loader;
    FILE *metrics;
    char dir[4096], ckpt[4200], metrics_path[4200], samples_path[4200], density_path[4200];
} run;

static void run_free(run *r)
{
    if (r->metrics) fclose(r->metrics);
    dgm_loader_free(r->loader);
    dgm_optim_free(r->optim);
    dgm_model_free(r->model);
    dgm_dataset_free(r->train);
    dgm_ctx_free(r->ctx);
    json_decref(r->a.model_options);
}

static int save(run *r, int64_t step)
{
    dgm_train_state s = {step, r->optim, r->loader, r->a.data, NULL};
    if (dgm_model_save(r->model, r->ckpt, &s) != DGM_STATUS_OK) return cli_fail(r->ctx, r->ckpt);
    return CLI_OK;
}

static int write_samples(run *r)
{
    dgm_ctx *ctx = r->ctx;
    const int64_t dim = dgm_model_dim(r->model);
    const int64_t n = dim == 2 ? 20000 : 64;
    int64_t shape[3];
    int nd = dgm_model_sample_shape(r->model, shape);
    dgm_tensor *x = NULL;
    float *host = malloc((size_t)(n * dim) * sizeof *host);
    if (!host) return cli_error("out of memory");
    int rc = CLI_OK;
    if (dgm_model_sample(r->model, n, &x) || dgm_tensor_to_host(ctx, x, host)) rc = cli_fail(ctx, "sampling");
    else {
        dgm_extent ext = dgm_extent_of(dgm_dataset_data(r->train), dgm_dataset_count(r->train));
        rc = cli_write_samples(ctx, r->samples_path, host, n, dim, nd, shape, dim == 2 ? &ext : NULL);
        /* 2-D data: also the samples' 2-D histogram over the data's extent. */
        if (!rc && dim == 2 && dgm_save_density_png(ctx, r->density_path, host, n, &ext, 64, 512))
            rc = cli_fail(ctx, r->density_path);
    }
    dgm_ctx_step_end(ctx);
    free(host);
    return rc;
}

static int setup(run *r)
{
    train_args *a = &r->a;
    int rc = cli_make_ctx(a->device, a->seed, &r->ctx);
    if (rc) return rc;
    dgm_ctx *ctx = r->ctx;
    char label[256];
    if (a->out) snprintf(r->dir, sizeof r->dir, "%s", a->out);
    else snprintf(r->dir, sizeof r->dir, "runs/%s-%s", a->model, data_label(a->data, label, sizeof label));
    if (make_dirs(r->dir)) return cli_error("--out %s: cannot create the folder: %s", r->dir, strerror(errno));
    snprintf(r->ckpt, sizeof r->ckpt, "%s/checkpoint.safetensors", r->dir);
    snprintf(r->metrics_path, sizeof r->metrics_path, "%s/metrics.jsonl", r->dir);
    snprintf(r->samples_path, sizeof r->samples_path, "%s/samples.png", r->dir);
    snprintf(r->density_path, sizeof r->density_path, "%s/samples-density.png", r->dir);

    if (dgm_dataset_load(ctx, a->data, DGM_SPLIT_TRAIN, a->seed, &r->train))
        return cli_fail(ctx, "--data");
    const int64_t dim = dgm_dataset_dim(r->train);
    int64_t shape[3];
    int nd = dgm_dataset_sample_shape(r->train, shape);
    bool resuming = a->resume && access(r->ckpt, F_OK) == 0;
    if (a->resume && !resuming)
        return cli_error("--resume: %s does not exist", r->ckpt);
    if (resuming) {
        if (dgm_model_load(ctx, r->ckpt, &r->model)) return cli_fail(ctx, r->ckpt);
        if (strcmp(dgm_model_kind(r->model), a->model))
            return cli_error("--resume: %s holds a %s model, not %s", r->ckpt, dgm_model_kind(r->model), a->model);
        if (dgm_model_dim(r->model) != dim)
            return cli_error("--resume: %s was trained on data of %lld values per sample, --data %s has %lld",
                             r->ckpt, (long long)dgm_model_dim(r->model), a->data, (long long)dim);
    } else {
        char *cfg = json_dumps(a->model_options, JSON_COMPACT);
        dgm_status st = dgm_model_create(ctx, a->model, cfg, dim, nd, shape, &r->model);
        free(cfg);
        if (st == DGM_STATUS_INVALID_ARGUMENT) return cli_usage_error("%s", dgm_last_error(ctx));
        if (st) return cli_fail(ctx, "creating the model");
    }
    if (dgm_model_check_data(r->model, r->train) != DGM_STATUS_OK)
        return cli_usage_error("--data %s: %s", a->data, dgm_last_error(ctx));
    dgm_optim_kind kind = !strcmp(a->optimizer, "sgd") ? DGM_OPTIM_SGD
                          : !strcmp(a->optimizer, "adamw") ? DGM_OPTIM_ADAMW : DGM_OPTIM_ADAM;
    dgm_optim_config oc = dgm_optim_config_default(kind);
    oc.lr = a->lr;
    if (a->wd_given) oc.weight_decay = a->weight_decay;
    if (dgm_optim_create(dgm_model_params(r->model), &oc, &r->optim)) return cli_fail(ctx, "optimizer");
    if (dgm_loader_create(ctx, r->train, a->batch, a->seed, false, &r->loader)) return cli_fail(ctx, "data loader");
    return CLI_OK;
}

int cmd_train(int argc, char **argv)
{
    run r;
    memset(&r, 0, sizeof r);
    int rc = parse_args(argc, argv, &r.a);
    if (rc) {
        json_decref(r.a.model_options);
        return rc < 0 ? CLI_OK : rc;
    }
    train_args *a = &r.a;
    rc = setup(&r);
    int64_t step = 0;
    if (!rc && a->resume && dgm_model_load_train_state(r.model, r.ckpt, r.optim, r.loader, &step))
        rc = cli_fail(r.ctx, r.ckpt);
    const int64_t per_epoch = r.loader ? dgm_loader_batches_per_epoch(r.loader) : 1;
    const int64_t total = a->steps ? a->steps : (a->epochs ? a->epochs : 1) * per_epoch;
    if (!rc && step >= total)
        rc = cli_error("--resume: %s is already at step %lld of %lld", r.ckpt, (long long)step, (long long)total);
    if (!rc && !(r.metrics = fopen(r.metrics_path, a->resume ? "a" : "w")))
        rc = cli_error("%s: cannot write: %s", r.metrics_path, strerror(errno));
    dgm_ctx *ctx = r.ctx;
    dgm_params *params = rc ? NULL : dgm_model_params(r.model);
    dgm_progress progress;
    dgm_progress_init(&progress, step, total);
    const double start = now_s();
    int64_t last_saved = step;
    double last_loss = NAN;
    while (!rc && step < total) {
        dgm_tensor *batch = NULL, *loss = NULL;
        bool epoch_end = false;
        if (dgm_loader_next(r.loader, &batch, &epoch_end) || dgm_params_zero_grad(params) ||
            dgm_model_train_step(r.model, batch, step, &loss)) {
            rc = cli_fail(ctx, "training step");
            break;
        }
        if (a->clip > 0 && dgm_clip_grad_norm(params, a->clip, NULL)) {
            rc = cli_fail(ctx, "--clip");
            break;
        }
        if (dgm_optim_step(r.optim)) {
            rc = cli_fail(ctx, "optimizer step");
            break;
        }
        step++;
        const bool log_now = step % a->log_every == 0 || step == total;
        if (log_now || progress.tty) {
            float lv = 0;
            /* Reading the loss waits for the device: only when it is shown or logged. */
            if (log_now || dgm_progress_due(&progress)) {
                if (dgm_tensor_to_host(ctx, loss, &lv)) {
                    rc = cli_fail(ctx, "reading the loss");
                    break;
                }
                if (!isfinite(lv)) {
                    dgm_progress_end(&progress);
                    rc = cli_error("the loss is %s at step %lld; stopped (the last checkpoint, step "
                                   "%lld, is intact)", isnan(lv) ? "NaN" : "infinite",
                                   (long long)step, (long long)last_saved);
                    break;
                }
                last_loss = lv;
                dgm_progress_update(&progress, step, lv);
            }
            if (log_now) {
                double el = now_s() - start;
                fprintf(r.metrics, "{\"step\": %lld, \"epoch\": %.4f, \"loss\": %.7g, \"lr\": %.6g, "
                        "\"elapsed_s\": %.3f}\n", (long long)step, (double)step / (double)per_epoch,
                        (double)lv, (double)dgm_optim_lr(r.optim), el);
                fflush(r.metrics);
            }
        }
        if (dgm_ctx_step_end(ctx)) {
            rc = cli_fail(ctx, "step end");
            break;
        }
        if (a->save_every && step % a->save_every == 0 && step < total) {
            if ((rc = save(&r, step))) break;
            last_saved = step;
        }
    }
    dgm_progress_end(&progress);
    if (!rc) rc = save(&r, step);
    if (!rc) rc = write_samples(&r);
    if (!rc) {
        double el = now_s() - start;
        printf("trained %s on %s for %lld steps (%.1f epochs) in %.1f s on %s; final loss %.5g\n",
               a->model, a->data, (long long)total, (double)total / (double)per_epoch, el,
               dgm_device_name(dgm_ctx_device(ctx)), last_loss);
        printf("wrote %s, %s, %s%s%s\n", r.ckpt, r.metrics_path, r.samples_path,
               dgm_model_dim(r.model) == 2 ? ", " : "", dgm_model_dim(r.model) == 2 ? r.density_path : "");
    }
    run_free(&r);
    return rc;
}
