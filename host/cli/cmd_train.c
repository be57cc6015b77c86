/* dgm train MODEL --data DATA ...: the library's trainer (dgm/train.h: the loop, the
 * checkpoints every --save-every steps and at the end, metrics.jsonl, --resume from
 * DIR/checkpoint.safetensors) around a model made from the options, a progress line on a
 * terminal, and samples.png at the end. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/progress.h"
#include "cli/train_args.h"

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
    dgm_trainer *trainer;
    dgm_progress progress;
    bool converging; /* a run until the plateau rule stops it */
    char dir[4096], ckpt[4200], samples_path[4200], density_path[4200];
    char exact_density_path[4200]; /* "" unless the model has an exact density (2-D data) */
    char warned[512];              /* the model's warning printed last */
} run;

/* The model's warning, once: at creation, or when a training step sets one. */
static void print_warning(run *r)
{
    const char *w = dgm_model_warning(r->model);
    if (!*w || !strcmp(w, r->warned)) return;
    if (r->progress.tty) printf("\n"); /* off the progress line */
    fprintf(stderr, "warning: %s\n", w);
    snprintf(r->warned, sizeof r->warned, "%s", w);
}

static void run_free(run *r)
{
    dgm_trainer_free(r->trainer);
    dgm_model_free(r->model);
    dgm_dataset_free(r->train);
    dgm_ctx_free(r->ctx);
    json_decref(r->a.model_options);
    json_decref(r->a.run_options);
}

/* The trainer's progress callback: the terminal's progress line. */
static int on_progress(void *user, const dgm_train_progress *p)
{
    run *r = user;
    print_warning(r);
    if (r->progress.tty) dgm_progress_update(&r->progress, p->step, (float)p->loss, p->model_fields);
    return 0;
}

static int write_samples(run *r)
{
    dgm_ctx *ctx = r->ctx;
    const int64_t dim = dgm_model_dim(r->model);
    /* 2-D: enough points for a density picture, fewer for a many-step sampler (an EBM's
     * 5,000 Langevin steps: 2,000 points) */
    const int64_t passes = dgm_model_sampler_passes(r->model);
    const int64_t n = dim != 2 ? 64 : passes > 2000 ? 2000 : passes > 1 ? 4000 : 20000;
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

/* The trainer's messages about an option start with its name ("resume: ...", "clip: ..."):
 * on the command line it is "--resume". */
static const char *option_prefix(const char *msg)
{
    const size_t n = strcspn(msg, ": ");
    char name[32];
    if (n >= sizeof name) return "";
    snprintf(name, sizeof name, "%.*s", (int)n, msg);
    return dgm_train_is_run_option(name) || !strcmp(name, "resume") || !strcmp(name, "data") ? "--" : "";
}

/* A resumed run continues with its recorded seed (the data's split and the loader's
 * shuffles follow it): with --seed omitted it is taken from the checkpoint, and another
 * --seed is refused rather than silently giving other batches than the run's. */
static int resume_seed(run *r)
{
    train_args *a = &r->a;
    char *text = NULL, *end = NULL;
    if (dgm_checkpoint_meta(r->ctx, r->ckpt, "rng_seed", &text)) return cli_fail(r->ctx, r->ckpt);
    errno = 0;
    const unsigned long long seed = strtoull(text, &end, 10);
    const bool ok = end != text && !*end && !errno;
    free(text);
    if (!ok) return cli_error("--resume: %s: metadata 'rng_seed' is not a number", r->ckpt);
    if (a->seed_given && a->seed != seed)
        return cli_usage_error("--resume: the run in %s has seed %llu, not --seed %llu (omit --seed to "
                               "continue it)", r->dir, seed, (unsigned long long)a->seed);
    a->seed = seed;
    return dgm_ctx_set_rng_state(r->ctx, seed, 0) ? cli_fail(r->ctx, "--seed") : CLI_OK;
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
    snprintf(r->ckpt, sizeof r->ckpt, "%s/checkpoint.safetensors", r->dir);
    if (a->resume && access(r->ckpt, F_OK) != 0) return cli_error("--resume: %s does not exist", r->ckpt);
    if (a->resume && (rc = resume_seed(r))) return rc;
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
    if (a->resume) {
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
        if (st == DGM_STATUS_INVALID_ARGUMENT) return cli_usage_error("%s", cli_last_error(ctx));
        if (st) return cli_fail(ctx, "creating the model");
    }
    print_warning(r);
    /* The run: the defaults of this configuration (a resumed one: the checkpoint's) and the
     * options given. */
    dgm_train_options o;
    memset(&o, 0, sizeof o);
    int64_t model_shape[3];
    const int model_ndim = dgm_model_sample_shape(r->model, model_shape);
    /* Resuming continues the recorded run; a checkpoint without a record resolves as new. */
    char *extra = NULL;
    if (a->resume && (dgm_checkpoint_meta(ctx, r->ckpt, "extra", &extra) || !strstr(extra, "train_run"))) {
        free(extra);
        extra = NULL;
    }
    if (extra) {
        char *given = json_dumps(a->run_options, JSON_COMPACT), err[512];
        const dgm_status st = dgm_train_defaults_resume(extra, given, &o.run, err, sizeof err);
        free(given);
        free(extra);
        if (st) return cli_usage_error("--%s", err);
    } else if ((rc = train_resolve(a, dgm_model_config(r->model), model_ndim, &o.run))) {
        return rc;
    }
    r->converging = o.run.run == DGM_RUN_CONVERGED;
    o.seed = a->seed;
    o.dir = r->dir;
    o.data_name = a->data;
    o.resume = a->resume;
    o.on_progress = on_progress;
    o.user = r;
    o.progress_seconds = isatty(fileno(stdout)) ? 0.25 : 0.0; /* the progress line's redraws */
    const dgm_status st = dgm_trainer_create(r->model, r->train, &o, &r->trainer);
    const char *msg = cli_last_error(ctx);
    if (st == DGM_STATUS_INVALID_ARGUMENT || st == DGM_STATUS_SHAPE_MISMATCH)
        return cli_usage_error("%s%s", option_prefix(msg), msg);
    if (st == DGM_STATUS_STATE_ERROR || st == DGM_STATUS_IO_ERROR) return cli_error("%s%s", option_prefix(msg), msg);
    if (st) return cli_fail(ctx, "setting up the training");
    return CLI_OK;
}

int cmd_train(int argc, char **argv)
{
    run r;
    memset(&r, 0, sizeof r);
    int rc = train_parse_args(argc, argv, &r.a);
    if (rc) {
        json_decref(r.a.model_options);
        json_decref(r.a.run_options);
        return rc < 0 ? CLI_OK : rc;
    }
    rc = setup(&r);
    dgm_ctx *ctx = r.ctx;
    dgm_trainer *t = r.trainer;
    const double start = now_s();
    if (!rc) {
        dgm_progress_init(&r.progress, dgm_trainer_steps(t), dgm_trainer_total_steps(t));
        bool done = false;
        while (!done) {
            const dgm_status st = dgm_trainer_step(t, &done);
            if (st == DGM_STATUS_OK) continue;
            dgm_progress_end(&r.progress);
            rc = st == DGM_STATUS_NOT_FINITE ? cli_error("%s", cli_last_error(ctx)) : cli_fail(ctx, "training step");
            break;
        }
        dgm_progress_end(&r.progress);
        print_warning(&r);
    }
    if (!rc && dgm_trainer_save(t)) rc = cli_fail(ctx, r.ckpt);
    if (!rc) rc = write_samples(&r);
    if (!rc) {
        const double el = now_s() - start;
        const int64_t step = dgm_trainer_steps(t), per_epoch = dgm_trainer_steps_per_epoch(t);
        char how[64] = "";
        if (r.converging)
            snprintf(how, sizeof how, dgm_trainer_converged(t) ? ", converged" : ", not converged at the cap");
        printf("trained %s on %s for %lld steps (%.1f epochs%s) in %.1f s on %s; final loss %.5g\n",
               r.a.model, r.a.data, (long long)step, (double)step / (double)per_epoch, how, el,
               dgm_device_name(dgm_ctx_device(ctx)), dgm_trainer_last_loss(t));
        const bool plane = dgm_model_dim(r.model) == 2;
        printf("wrote %s, %s, %s%s%s%s%s\n", r.ckpt, dgm_trainer_metrics_path(t), r.samples_path,
               plane ? ", " : "", plane ? r.density_path : "", plane && r.exact_density_path[0] ? ", " : "",
               plane ? r.exact_density_path : "");
    }
    run_free(&r);
    return rc;
}
