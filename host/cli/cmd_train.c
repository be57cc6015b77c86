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
#include "cli/train_args.h"

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
    dgm_train_defaults t; /* the run: the model's defaults and the given options */
    dgm_ctx *ctx;
    dgm_dataset *train;
    dgm_model *model;
    dgm_optim *optim;
    dgm_loader *loader;
    dgm_plateau plateau; /* DGM_RUN_CONVERGED */
    double lr_scale;     /* product of the plateau decays so far */
    bool converged;
    FILE *metrics;
    char dir[4096], ckpt[4200], metrics_path[4200], samples_path[4200], density_path[4200];
    char exact_density_path[4200]; /* "" unless the model has an exact density (2-D data) */
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

/* The training setup and the plateau rule's state, as the checkpoint's "extra" metadata
 * (a JSON object of strings): the record of how the run was trained, and what --resume
 * needs to continue a converging run exactly. */
static char *extra_json(const run *r)
{
    const dgm_train_defaults *t = &r->t;
    const dgm_plateau *p = &r->plateau;
    char opt[256], run_text[512], buf[160];
    train_describe_optim(&t->optim, opt, sizeof opt);
    train_describe_run(t, run_text, sizeof run_text);
    json_t *o = json_object();
    json_object_set_new(o, "run", json_string(run_text));
    json_object_set_new(o, "optimizer", json_string(opt));
    if (t->optim.kind != DGM_OPTIM_SGD) {
        snprintf(buf, sizeof buf, "%g,%g", (double)t->optim.beta1, (double)t->optim.beta2);
        json_object_set_new(o, "betas", json_string(buf));
    }
    snprintf(buf, sizeof buf, "%lld", (long long)t->batch);
    json_object_set_new(o, "batch", json_string(buf));
    snprintf(buf, sizeof buf, "%.17g", r->lr_scale);
    json_object_set_new(o, "lr_scale", json_string(buf));
    if (t->run == DGM_RUN_CONVERGED) {
        snprintf(buf, sizeof buf, "%.17g %lld %.17g %lld %lld", p->sum, (long long)p->count, p->best,
                 (long long)p->since, (long long)p->decays);
        json_object_set_new(o, "plateau", json_string(buf));
        json_object_set_new(o, "converged", json_string(r->converged ? "true" : "false"));
    }
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return text;
}

/* Restores lr_scale and the plateau state of a checkpoint written by this command. */
static int restore_extra(run *r)
{
    char *text = NULL;
    if (dgm_checkpoint_meta(r->ctx, r->ckpt, "extra", &text) != DGM_STATUS_OK) return CLI_OK; /* older */
    json_t *o = json_loads(text, 0, NULL);
    free(text);
    const char *scale = json_string_value(json_object_get(o, "lr_scale"));
    const char *plat = json_string_value(json_object_get(o, "plateau"));
    const char *conv = json_string_value(json_object_get(o, "converged"));
    if (scale) r->lr_scale = strtod(scale, NULL);
    if (plat && r->t.run == DGM_RUN_CONVERGED) {
        long long count = 0, since = 0, decays = 0;
        if (sscanf(plat, "%lf %lld %lf %lld %lld", &r->plateau.sum, &count, &r->plateau.best, &since,
                   &decays) == 5)
            r->plateau.count = count, r->plateau.since = since, r->plateau.decays = decays;
    }
    const bool done = conv && !strcmp(conv, "true") && r->t.run == DGM_RUN_CONVERGED;
    json_decref(o);
    if (done) return cli_error("--resume: %s already converged (give --steps or --epochs to train on)", r->ckpt);
    return CLI_OK;
}

static int save(run *r, int64_t step)
{
    char *extra = extra_json(r);
    dgm_train_state s = {step, r->optim, r->loader, r->a.data, extra};
    dgm_status st = dgm_model_save(r->model, r->ckpt, &s);
    free(extra);
    if (st != DGM_STATUS_OK) return cli_fail(r->ctx, r->ckpt);
    return CLI_OK;
}

static int write_samples(run *r)
{
    dgm_ctx *ctx = r->ctx;
    const int64_t dim = dgm_model_dim(r->model);
    /* 2-D: enough points for a density picture, fewer for a many-step sampler */
    const int64_t n = dim != 2 ? 64 : dgm_model_sampler_passes(r->model) > 1 ? 4000 : 20000;
    int64_t shape[3];
    int nd = dgm_model_sample_shape(r->model, shape);
    float *host = malloc((size_t)(n * dim) * sizeof *host);
    if (!host) return cli_error("out of memory");
    int rc = CLI_OK;
    if (dgm_model_sample_into(r->model, n, host, DGM_MEMORY_HOST)) rc = cli_fail(ctx, "sampling");
    else {
        dgm_extent ext = dgm_extent_of(dgm_dataset_data(r->train), dgm_dataset_count(r->train));
        rc = cli_write_samples(ctx, r->samples_path, host, n, dim, nd, shape, dim == 2 ? &ext : NULL);
        /* 2-D data: also the samples' 2-D histogram over the data's extent. */
        if (!rc && dim == 2 && dgm_save_density_png(ctx, r->density_path, host, n, &ext, 64, 512))
            rc = cli_fail(ctx, r->density_path);
        /* and, for a model with an exact density (a flow), that density on a grid */
        if (!rc && dim == 2) rc = cli_write_exact_density(ctx, r->model, r->exact_density_path, &ext);
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
    snprintf(r->density_path, sizeof r->density_path, "%s/samples-density.png", r->dir);
    snprintf(r->exact_density_path, sizeof r->exact_density_path, "%s/density.png", r->dir);

    if (dgm_dataset_load(ctx, a->data, DGM_SPLIT_TRAIN, a->seed, &r->train))
        return cli_fail(ctx, "--data");
    /* A picture for images and 2-D data; the samples themselves otherwise. */
    int64_t shp[3];
    const bool png = dgm_dataset_dim(r->train) == 2 || dgm_dataset_sample_shape(r->train, shp) >= 2;
    snprintf(r->samples_path, sizeof r->samples_path, "%s/samples.%s", r->dir, png ? "png" : "npy");
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
    /* The run: the defaults of this configuration (a resumed one: the checkpoint's). */
    if (*dgm_model_warning(r->model)) fprintf(stderr, "warning: %s\n", dgm_model_warning(r->model));
    int64_t model_shape[3];
    const int model_ndim = dgm_model_sample_shape(r->model, model_shape);
    if ((rc = train_resolve(a, dgm_model_config(r->model), model_ndim, &r->t))) return rc;
    if (dgm_model_check_data(r->model, r->train) != DGM_STATUS_OK)
        return cli_usage_error("--data %s: %s", a->data, dgm_last_error(ctx));
    /* A resumed model keeps its parameters; the data-derived state is rebuilt. */
    dgm_status st = dgm_model_prepare(r->model, r->train, !resuming);
    if (st == DGM_STATUS_INVALID_ARGUMENT) return cli_usage_error("--data %s: %s", a->data, dgm_last_error(ctx));
    if (st) return cli_fail(ctx, "preparing the model");
    /* A model whose players own their optimizers (a GAN) gets the configuration instead. */
    if (dgm_model_owns_optimizers(r->model)) {
        if (resuming)
            return cli_usage_error("--resume: a %s model does not save its optimizers' state "
                                   "yet; train it again", a->model);
        if (r->t.clip > 0)
            return cli_usage_error("--clip: not supported for a %s model yet", a->model);
    } else if (dgm_optim_create(dgm_model_params(r->model), &r->t.optim, &r->optim)) {
        return cli_fail(ctx, "optimizer");
    }
    /* A batch larger than the data set is the whole set. */
    const int64_t n = dgm_dataset_count(r->train);
    if (r->t.batch > n) r->t.batch = n;
    if (dgm_loader_create(ctx, r->train, r->t.batch, a->seed, false, &r->loader)) return cli_fail(ctx, "data loader");
    return CLI_OK;
}

int cmd_train(int argc, char **argv)
{
    run r;
    memset(&r, 0, sizeof r);
    int rc = train_parse_args(argc, argv, &r.a);
    if (rc) {
        json_decref(r.a.model_options);
        return rc < 0 ? CLI_OK : rc;
    }
    train_args *a = &r.a;
    dgm_train_defaults *t = &r.t;
    r.lr_scale = 1.0;
    rc = setup(&r); /* resolves the run (t) once the model's config is known */
    dgm_plateau_init(&r.plateau, &t->converge);
    int64_t step = 0;
    if (!rc && a->resume && dgm_model_load_train_state(r.model, r.ckpt, r.optim, r.loader, &step))
        rc = cli_fail(r.ctx, r.ckpt);
    if (!rc && a->resume) rc = restore_extra(&r);
    const int64_t per_epoch = r.loader ? dgm_loader_batches_per_epoch(r.loader) : 1;
    const int64_t total = t->run == DGM_RUN_EPOCHS ? t->length * per_epoch : t->length;
    const bool converging = t->run == DGM_RUN_CONVERGED;
    if (t->schedule.kind == DGM_LR_COSINE) t->schedule.total_steps = total;
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
    while (!rc && step < total && !r.converged) {
        dgm_tensor *batch = NULL, *loss = NULL;
        bool epoch_end = false;
        const float lr = (float)(dgm_lr_at(&t->schedule, step) * r.lr_scale);
        if (!r.optim) { /* the model steps its own optimizers */
            dgm_optim_config oc = t->optim;
            oc.lr = lr;
            if (dgm_model_train_iteration(r.model, r.loader, &oc, step, &loss)) {
                rc = cli_fail(ctx, "training iteration");
                break;
            }
        } else {
            dgm_optim_set_lr(r.optim, lr);
            if (dgm_loader_next(r.loader, &batch, &epoch_end) || dgm_params_zero_grad(params) ||
                dgm_model_train_step(r.model, batch, step, &loss)) {
                rc = cli_fail(ctx, "training step");
                break;
            }
            if (t->clip > 0 && dgm_clip_grad_norm(params, t->clip, NULL)) {
                rc = cli_fail(ctx, "--clip");
                break;
            }
            if (dgm_optim_step(r.optim)) {
                rc = cli_fail(ctx, "optimizer step");
                break;
            }
            if (dgm_model_after_step(r.model, step + 1)) {
                rc = cli_fail(ctx, "after the optimizer step");
                break;
            }
        }
        step++;
        bool log_now = step % t->log_every == 0 || step == total;
        /* Reading the loss waits for the device: only when it is shown, logged or, for a
         * run until convergence, fed to the plateau rule (every step). */
        if (log_now || converging || (progress.tty && dgm_progress_due(&progress))) {
            float lv = 0;
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
            if (converging) {
                dgm_plateau_event ev = dgm_plateau_update(&r.plateau, lv);
                if (ev == DGM_PLATEAU_DECAY) r.lr_scale *= t->converge.lr_factor;
                if (ev == DGM_PLATEAU_STOP) r.converged = log_now = true;
            }
            if (progress.tty) dgm_progress_update(&progress, step, lv);
            if (log_now) {
                double el = now_s() - start;
                fprintf(r.metrics, "{\"step\": %lld, \"epoch\": %.4f, \"loss\": %.7g, \"lr\": %.6g, "
                        "\"elapsed_s\": %.3f}\n", (long long)step, (double)step / (double)per_epoch,
                        (double)lv, (double)lr, el);
                fflush(r.metrics);
            }
        }
        if (dgm_ctx_step_end(ctx)) {
            rc = cli_fail(ctx, "step end");
            break;
        }
        if (t->save_every && step % t->save_every == 0 && step < total && !r.converged) {
            if ((rc = save(&r, step))) break;
            last_saved = step;
        }
    }
    dgm_progress_end(&progress);
    if (!rc) rc = save(&r, step);
    if (!rc) rc = write_samples(&r);
    if (!rc) {
        double el = now_s() - start;
        char how[64] = "";
        if (converging)
            snprintf(how, sizeof how, r.converged ? ", converged" : ", not converged at the cap");
        printf("trained %s on %s for %lld steps (%.1f epochs%s) in %.1f s on %s; final loss %.5g\n",
               a->model, a->data, (long long)step, (double)step / (double)per_epoch, how, el,
               dgm_device_name(dgm_ctx_device(ctx)), last_loss);
        const bool plane = dgm_model_dim(r.model) == 2;
        printf("wrote %s, %s, %s%s%s%s%s\n", r.ckpt, r.metrics_path, r.samples_path,
               plane ? ", " : "", plane ? r.density_path : "", plane && r.exact_density_path[0] ? ", " : "",
               plane ? r.exact_density_path : "");
    }
    run_free(&r);
    return rc;
}
