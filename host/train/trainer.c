/* The training loop (dgm/train.h): optimizer steps over a loader with the run's schedule,
 * clipping and length; metrics as JSON lines; checkpoints every save_every steps and at the
 * end; a stop on a non-finite loss; --resume's bit-exact continuation (the optimizer, the
 * loader's position and the RNG from dgm_model_load_train_state, the plateau rule's state
 * and the lr scale from the checkpoint's "extra" metadata). `dgm train` and dgm's FID
 * classifier both train through it. */
#define _DEFAULT_SOURCE /* flock */

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "core/internal.h"
#include "dgm/train.h"
#include "train/train_internal.h"

#define PATH_LEN 4096

struct dgm_trainer {
    dgm_ctx *ctx;
    dgm_model *model; /* NULL: a custom step */
    dgm_params *params;
    dgm_train_step_fn step_fn;
    void *step_user;
    dgm_train_options o; /* dir and data_name point into the buffers below */
    char dir[PATH_LEN], data_name[1024], ckpt[PATH_LEN + 32], metrics_path[PATH_LEN + 32];
    dgm_optim *optim;   /* NULL for a model that steps its own (a GAN) */
    dgm_loader *loader; /* NULL for a custom step */
    const dgm_dataset *train; /* the model's training data (borrowed; NULL for a custom step) */
    char fields[512];         /* the model's fields of the last metrics line */
    dgm_plateau plateau; /* DGM_RUN_CONVERGED */
    double lr_scale;     /* product of the plateau's decays so far */
    FILE *metrics;
    int lock_fd; /* DIR/.dgm.lock, flock'ed for the trainer's life; -1: none */
    int64_t step, total, per_epoch, last_saved;
    double start, last_call, last_loss;
    bool converged, stopped, failed;
    bool saved; /* a checkpoint of this run (or the resumed one) is on disk */
    bool made_dir; /* the folder did not exist: a failed setup removes it again */
};

/* mkdir -p */
static int make_dirs(const char *path)
{
    char buf[PATH_LEN];
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

/* A setup that failed leaves no trace: the folder it made (with only the lock in it) goes. */
static void trainer_discard(dgm_trainer *t)
{
    if (t && t->made_dir && t->lock_fd >= 0) {
        char path[PATH_LEN + 16];
        snprintf(path, sizeof path, "%s/.dgm.lock", t->dir);
        unlink(path);
        rmdir(t->dir); /* fails, harmlessly, when anything else is in it */
    }
    dgm_trainer_free(t);
}

void dgm_trainer_free(dgm_trainer *t)
{
    if (!t) return;
    if (t->metrics) fclose(t->metrics);
    if (t->lock_fd >= 0) close(t->lock_fd); /* releases the folder */
    dgm_loader_free(t->loader);
    dgm_optim_free(t->optim);
    free(t);
}

/* The run's setup and the plateau rule's state, as the checkpoint's "extra" metadata (a
 * JSON object of strings): the record of how the run was trained, and what resuming needs
 * to continue a converging run exactly. */
static char *extra_json(const dgm_trainer *t)
{
    const dgm_train_defaults *r = &t->o.run;
    const dgm_plateau *p = &t->plateau;
    char opt[256], run_text[512], buf[160];
    dgm_optim_describe(&r->optim, opt, sizeof opt);
    dgm_train_describe_run(r, run_text, sizeof run_text);
    json_t *o = json_object();
    json_object_set_new(o, "run", json_string(run_text));
    json_object_set_new(o, "optimizer", json_string(opt));
    if (r->optim.kind != DGM_OPTIM_SGD) {
        snprintf(buf, sizeof buf, "%g,%g", (double)r->optim.beta1, (double)r->optim.beta2);
        json_object_set_new(o, "betas", json_string(buf));
    }
    snprintf(buf, sizeof buf, "%lld", (long long)r->batch);
    json_object_set_new(o, "batch", json_string(buf));
    snprintf(buf, sizeof buf, "%.17g", t->lr_scale);
    json_object_set_new(o, "lr_scale", json_string(buf));
    char *record = dgm_train_run_to_json(r); /* what resuming continues */
    if (record) json_object_set_new(o, "train_run", json_string(record));
    free(record);
    if (r->run == DGM_RUN_CONVERGED) {
        snprintf(buf, sizeof buf, "%.17g %lld %.17g %lld %lld", p->sum, (long long)p->count, p->best,
                 (long long)p->since, (long long)p->decays);
        json_object_set_new(o, "plateau", json_string(buf));
        json_object_set_new(o, "converged", json_string(t->converged ? "true" : "false"));
    }
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return text;
}

/* Restores lr_scale and the plateau state of a checkpoint the trainer wrote. */
static dgm_status restore_extra(dgm_trainer *t)
{
    char *text = NULL;
    if (dgm_checkpoint_meta(t->ctx, t->ckpt, "extra", &text) != DGM_STATUS_OK) return DGM_STATUS_OK; /* older */
    json_t *o = json_loads(text, 0, NULL);
    free(text);
    const char *scale = json_string_value(json_object_get(o, "lr_scale"));
    const char *plat = json_string_value(json_object_get(o, "plateau"));
    const char *conv = json_string_value(json_object_get(o, "converged"));
    const bool converging = t->o.run.run == DGM_RUN_CONVERGED;
    if (scale) t->lr_scale = strtod(scale, NULL);
    if (plat && converging) {
        long long count = 0, since = 0, decays = 0;
        dgm_plateau *p = &t->plateau;
        if (sscanf(plat, "%lf %lld %lf %lld %lld", &p->sum, &count, &p->best, &since, &decays) == 5)
            p->count = count, p->since = since, p->decays = decays;
    }
    const bool done = conv && !strcmp(conv, "true") && converging;
    json_decref(o);
    if (done)
        return dgm_set_error(t->ctx, DGM_STATUS_STATE_ERROR,
                             "resume: %s already converged (give steps or epochs to train on)", t->ckpt);
    return DGM_STATUS_OK;
}

static dgm_status params_finite(dgm_trainer *t, bool *finite);
static dgm_status not_finite(dgm_trainer *t, const char *what);

dgm_status dgm_trainer_save(dgm_trainer *t)
{
    if (!t) return DGM_STATUS_INVALID_ARGUMENT;
    if (!t->model || !t->ckpt[0])
        return dgm_set_error(t->ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_trainer_save: this trainer writes no checkpoint (no folder or no model)");
    bool finite = false;
    DGM_TRY(params_finite(t, &finite));
    if (!finite) return not_finite(t, "a parameter is NaN or infinite");
    if (t->train) DGM_TRY(dgm_model_refresh(t->model, t->train));
    char *extra = extra_json(t);
    dgm_train_state s = {t->step, t->optim, t->loader, t->data_name[0] ? t->data_name : NULL, extra};
    const dgm_status st = dgm_model_save(t->model, t->ckpt, &s);
    free(extra);
    if (st == DGM_STATUS_OK) t->last_saved = t->step, t->saved = true;
    return st;
}

/* One run per folder: an exclusive flock on DIR/.dgm.lock, taken before any file in the
 * folder is touched and held until dgm_trainer_free (or the process's end), with the
 * holder's process id in the file for the message of the run that finds it taken. */
static dgm_status lock_dir(dgm_trainer *t)
{
    char path[PATH_LEN + 16];
    snprintf(path, sizeof path, "%s/.dgm.lock", t->dir);
    const int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return dgm_set_error(t->ctx, DGM_STATUS_IO_ERROR, "%s: cannot create the run's lock file: %s", path,
                             strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        const int err = errno;
        char holder[32] = "";
        const ssize_t got = pread(fd, holder, sizeof holder - 1, 0);
        holder[got > 0 ? got : 0] = 0;
        holder[strcspn(holder, "\n")] = 0;
        close(fd);
        if (err == EWOULDBLOCK)
            return dgm_set_error(t->ctx, DGM_STATUS_STATE_ERROR,
                                 "%s is in use by another run (process %s): wait for it to end or choose another folder",
                                 t->dir, holder[0] ? holder : "unknown");
        return dgm_set_error(t->ctx, DGM_STATUS_IO_ERROR, "%s: cannot lock: %s", path, strerror(err));
    }
    char pid[32];
    const int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) || pwrite(fd, pid, (size_t)n, 0) != n) {
        const int err = errno;
        close(fd);
        return dgm_set_error(t->ctx, DGM_STATUS_IO_ERROR, "%s: cannot write: %s", path, strerror(err));
    }
    t->lock_fd = fd;
    return DGM_STATUS_OK;
}

/* What both constructors share: the copy of the options, the folder and its paths. */
static dgm_status trainer_new(dgm_ctx *ctx, const dgm_train_options *o, dgm_trainer **out)
{
    dgm_trainer *t = calloc(1, sizeof *t);
    if (!t) return dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_trainer_create: out of memory");
    t->ctx = ctx;
    t->o = *o;
    t->lr_scale = 1.0;
    t->last_loss = NAN;
    t->start = t->last_call = dgm_seconds_now();
    t->lock_fd = -1;
    snprintf(t->data_name, sizeof t->data_name, "%s", o->data_name ? o->data_name : "");
    t->o.data_name = t->data_name[0] ? t->data_name : NULL;
    t->o.dir = NULL;
    *out = t;
    if (o->run.log_every < 1 || o->run.length < 1 || o->run.batch < 1 || o->run.save_every < 0 ||
        o->progress_every < 0 || !(o->run.clip >= 0))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_trainer_create: needs a run length, batch and log interval of at "
                             "least 1, a save interval and progress interval of at least 0 and a "
                             "clip of at least 0 (length %lld, batch %lld, log_every %lld, "
                             "save_every %lld, progress_every %lld, clip %g)",
                             (long long)o->run.length, (long long)o->run.batch,
                             (long long)o->run.log_every, (long long)o->run.save_every,
                             (long long)o->progress_every, (double)o->run.clip);
    if (!o->dir) return DGM_STATUS_OK;
    if (strlen(o->dir) >= PATH_LEN)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_trainer_create: the folder name is too long");
    snprintf(t->dir, sizeof t->dir, "%s", o->dir);
    t->o.dir = t->dir;
    t->made_dir = access(t->dir, F_OK) != 0;
    if (make_dirs(t->dir))
        return dgm_set_error(ctx, DGM_STATUS_IO_ERROR, "%s: cannot create the folder: %s", t->dir, strerror(errno));
    snprintf(t->ckpt, sizeof t->ckpt, "%s/checkpoint.safetensors", t->dir);
    snprintf(t->metrics_path, sizeof t->metrics_path, "%s/metrics.jsonl", t->dir);
    return lock_dir(t);
}

/* The run's length in steps; opens metrics.jsonl. */
static dgm_status trainer_start(dgm_trainer *t)
{
    const dgm_train_defaults *r = &t->o.run;
    t->total = r->run == DGM_RUN_EPOCHS ? r->length * t->per_epoch : r->length;
    if (t->o.run.schedule.kind == DGM_LR_COSINE) t->o.run.schedule.total_steps = t->total;
    dgm_plateau_init(&t->plateau, &r->converge);
    return DGM_STATUS_OK;
}

/* metrics.jsonl is opened (a fresh run: emptied) at its first line, not before: a run that
 * fails in its first steps leaves an earlier run's file as it was. The folder must be
 * writable from the start. */
static dgm_status check_writable(dgm_trainer *t)
{
    if (t->o.dir && access(t->dir, W_OK))
        return dgm_set_error(t->ctx, DGM_STATUS_IO_ERROR, "%s: cannot write in the folder: %s", t->dir, strerror(errno));
    return DGM_STATUS_OK;
}

static dgm_status open_metrics(dgm_trainer *t)
{
    if (t->metrics || !t->o.dir) return DGM_STATUS_OK;
    if (!(t->metrics = fopen(t->metrics_path, t->o.resume ? "a" : "w")))
        return dgm_set_error(t->ctx, DGM_STATUS_IO_ERROR, "%s: cannot write: %s", t->metrics_path, strerror(errno));
    return DGM_STATUS_OK;
}

static dgm_status create_model_trainer(dgm_trainer *t, dgm_model *m, const dgm_dataset *train)
{
    dgm_ctx *ctx = t->ctx;
    const dgm_train_options *o = &t->o;
    const char *name = t->data_name[0] ? t->data_name : "the training data";
    if (o->resume && !o->dir)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "resume: needs the run's folder (dir)");
    if (o->resume && access(t->ckpt, F_OK) != 0)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "resume: %s does not exist", t->ckpt);
    if (o->resume && o->data_name) { /* the run continues on its own data */
        char *was = NULL;
        if (dgm_checkpoint_meta(ctx, t->ckpt, "data", &was) == DGM_STATUS_OK && strcmp(was, o->data_name)) {
            const dgm_status st = dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                                                "data %s: the run in %s was trained on %s; resuming continues it "
                                                "(give that data, or train into another folder)",
                                                o->data_name, t->dir, was);
            free(was);
            return st;
        }
        free(was);
    }
    char why[1024]; /* the model's message, prefixed (dgm_set_error writes the buffer it is in) */
    dgm_status st = dgm_model_check_data(m, train);
    if (st != DGM_STATUS_OK) {
        snprintf(why, sizeof why, "%s", dgm_last_error(ctx));
        return dgm_set_error(ctx, st, "data %s: %s", name, why);
    }
    /* A resumed model keeps its parameters; the data-derived state is rebuilt. */
    t->train = train;
    st = dgm_model_prepare(m, train, !o->resume);
    if (st == DGM_STATUS_INVALID_ARGUMENT) {
        snprintf(why, sizeof why, "%s", dgm_last_error(ctx));
        return dgm_set_error(ctx, st, "data %s: %s", name, why);
    }
    if (st != DGM_STATUS_OK) return st;
    /* A model whose players own their optimizers (a GAN) gets the configuration instead. */
    if (dgm_model_owns_optimizers(m)) {
        /* made now on --resume, so that the checkpoint's state has somewhere to go */
        if (o->resume) DGM_TRY(dgm_model_create_optimizers(m, &o->run.optim));
        DGM_TRY(dgm_model_set_grad_clip(m, o->run.clip)); /* each player's own norm */
    } else {
        DGM_TRY(dgm_optim_create(t->params, &o->run.optim, &t->optim));
    }
    /* A batch larger than the data set is the whole set. */
    const int64_t n = dgm_dataset_count(train);
    if (t->o.run.batch > n) t->o.run.batch = n;
    DGM_TRY(dgm_loader_create(ctx, train, t->o.run.batch, o->seed, false, &t->loader));
    t->per_epoch = dgm_loader_batches_per_epoch(t->loader);
    DGM_TRY(trainer_start(t));
    if (o->resume) {
        DGM_TRY(dgm_model_load_train_state(m, t->ckpt, t->optim, t->loader, &t->step));
        t->last_saved = t->step;
        t->saved = true;
        DGM_TRY(restore_extra(t));
        if (t->step >= t->total)
            return dgm_set_error(ctx, DGM_STATUS_STATE_ERROR, "resume: %s is already at step %lld of %lld",
                                 t->ckpt, (long long)t->step, (long long)t->total);
    }
    return check_writable(t);
}

dgm_status dgm_trainer_create(dgm_model *m, const dgm_dataset *train, const dgm_train_options *options,
                              dgm_trainer **out)
{
    if (out) *out = NULL;
    dgm_params *params = m ? dgm_model_params(m) : NULL;
    dgm_ctx *ctx = params ? dgm_params_ctx(params) : NULL;
    if (!ctx) return DGM_STATUS_INVALID_ARGUMENT;
    if (!train || !options || !out)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_trainer_create: needs a training set, options and out");
    /* What can be checked before the folder is touched (a batch larger than the data set
     * is the whole set). */
    const int64_t n = dgm_dataset_count(train);
    if (options->run.batch >= 1) DGM_TRY(dgm_model_check_batch_size(m, options->run.batch < n ? options->run.batch : n));
    dgm_trainer *t = NULL;
    dgm_status st = trainer_new(ctx, options, &t);
    if (st == DGM_STATUS_OK) {
        t->model = m;
        t->params = params;
        st = create_model_trainer(t, m, train);
    }
    if (st != DGM_STATUS_OK) {
        trainer_discard(t);
        return st;
    }
    *out = t;
    return DGM_STATUS_OK;
}

dgm_status dgm_trainer_create_custom(dgm_ctx *ctx, dgm_params *params, int64_t steps_per_epoch,
                                     dgm_train_step_fn step_fn, void *user, const dgm_train_options *options,
                                     dgm_trainer **out)
{
    if (out) *out = NULL;
    if (!ctx) return DGM_STATUS_INVALID_ARGUMENT;
    if (!params || !step_fn || !options || !out || steps_per_epoch < 1)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_trainer_create_custom: needs params, a step function, options, out "
                             "and steps_per_epoch >= 1 (%lld)", (long long)steps_per_epoch);
    if (options->resume)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_trainer_create_custom: resume needs a model (dgm_trainer_create)");
    dgm_trainer *t = NULL;
    dgm_status st = trainer_new(ctx, options, &t);
    if (st == DGM_STATUS_OK) {
        t->params = params;
        t->step_fn = step_fn;
        t->step_user = user;
        t->ckpt[0] = 0; /* no checkpoint: the caller saves its own object */
        t->per_epoch = steps_per_epoch;
        st = trainer_start(t);
    }
    if (st == DGM_STATUS_OK) st = dgm_optim_create(params, &t->o.run.optim, &t->optim);
    if (st == DGM_STATUS_OK) st = check_writable(t);
    if (st != DGM_STATUS_OK) {
        trainer_discard(t);
        return st;
    }
    *out = t;
    return DGM_STATUS_OK;
}

/* The step's forward, backward and update; *loss is the step tensor to read. */
static dgm_status run_update(dgm_trainer *t, float lr, dgm_tensor **loss)
{
    if (!t->optim) { /* the model steps its own optimizers */
        dgm_optim_config oc = t->o.run.optim;
        oc.lr = lr;
        return dgm_model_train_iteration(t->model, t->loader, &oc, t->step, loss);
    }
    dgm_optim_set_lr(t->optim, lr);
    DGM_TRY(dgm_params_zero_grad(t->params));
    if (t->model) {
        dgm_tensor *batch = NULL;
        DGM_TRY(dgm_loader_next(t->loader, &batch, NULL));
        DGM_TRY(dgm_model_train_step(t->model, batch, t->step, loss));
    } else {
        DGM_TRY(t->step_fn(t->step_user, t->step, loss));
    }
    if (t->o.run.clip > 0) DGM_TRY(dgm_clip_grad_norm(t->params, t->o.run.clip, NULL));
    DGM_TRY(dgm_optim_step(t->optim));
    return t->model ? dgm_model_after_step(t->model, t->step + 1) : DGM_STATUS_OK;
}

/* Whether every value of the parameter block is finite: its sum, one pass over the block
 * (at saves only, so a checkpoint never holds what a diverged step left). */
static dgm_status params_finite(dgm_trainer *t, bool *finite)
{
    const int64_t shape[1] = {dgm_params_total_numel(t->params)};
    dgm_tensor *all = NULL, *sum = NULL;
    float v = 0.0f;
    DGM_TRY(dgm_tensor_wrap_step(t->ctx, 1, shape, dgm_params_values(t->params), &all));
    DGM_TRY(dgm_sum(t->ctx, all, DGM_AXIS_ALL, &sum));
    DGM_TRY(dgm_tensor_to_host(t->ctx, sum, &v));
    *finite = isfinite(v);
    return dgm_ctx_step_end(t->ctx);
}

/* The message of a run stopped by a non-finite value at the current step. */
static dgm_status not_finite(dgm_trainer *t, const char *what)
{
    if (t->ckpt[0] && t->model && t->saved)
        return dgm_set_error(t->ctx, DGM_STATUS_NOT_FINITE,
                             "%s at step %lld; stopped (the last checkpoint, step %lld, is intact)", what,
                             (long long)t->step, (long long)t->last_saved);
    if (t->ckpt[0] && t->model)
        return dgm_set_error(t->ctx, DGM_STATUS_NOT_FINITE, "%s at step %lld; stopped (no checkpoint of this run was written)",
                             what, (long long)t->step);
    return dgm_set_error(t->ctx, DGM_STATUS_NOT_FINITE, "%s at step %lld; stopped", what, (long long)t->step);
}

static bool run_done(const dgm_trainer *t) { return t->step >= t->total || t->converged || t->stopped; }

static dgm_status trainer_step(dgm_trainer *t)
{
    const dgm_train_defaults *r = &t->o.run;
    const bool converging = r->run == DGM_RUN_CONVERGED;
    const float lr = (float)(dgm_lr_at(&r->schedule, t->step) * t->lr_scale);
    dgm_tensor *loss = NULL;
    const dgm_status st = run_update(t, lr, &loss);
    if (st == DGM_STATUS_NOT_FINITE) { /* a family's own check (an EBM's energies): add the step and the checkpoint */
        char what[1024];
        snprintf(what, sizeof what, "%s", dgm_last_error(t->ctx));
        return not_finite(t, what);
    }
    DGM_TRY(st);
    t->step++;
    bool log_now = t->step % r->log_every == 0 || t->step == t->total;
    /* A periodic checkpoint is written only after this step's loss is known to be finite. */
    const bool save_now = r->save_every && t->step % r->save_every == 0 && t->ckpt[0] && t->model;
    const double now = t->o.progress_seconds > 0 ? dgm_seconds_now() : 0.0;
    bool call_now = false;
    if (t->o.on_progress) {
        call_now = t->o.progress_every ? t->step % t->o.progress_every == 0 : log_now;
        call_now |= t->o.progress_seconds > 0 && now - t->last_call >= t->o.progress_seconds;
        call_now |= t->step == t->total;
    }
    /* Reading the loss waits for the device: only when it is logged, shown or, for a run
     * until convergence, fed to the plateau rule (every step). */
    if (log_now || call_now || converging || save_now) {
        float lv = 0;
        DGM_TRY(dgm_tensor_to_host(t->ctx, loss, &lv));
        if (!isfinite(lv)) return not_finite(t, isnan(lv) ? "the loss is NaN" : "the loss is infinite");
        t->last_loss = lv;
        if (converging) {
            const dgm_plateau_event ev = dgm_plateau_update(&t->plateau, lv);
            if (ev == DGM_PLATEAU_DECAY) t->lr_scale *= r->converge.lr_factor;
            if (ev == DGM_PLATEAU_STOP) t->converged = log_now = true;
        }
        const double elapsed = dgm_seconds_now() - t->start;
        if (log_now && t->o.dir) DGM_TRY(open_metrics(t));
        if (log_now && t->metrics) {
            if (t->model) DGM_TRY(dgm_model_log_fields(t->model, t->step, t->fields, sizeof t->fields));
            fprintf(t->metrics, "{\"step\": %lld, \"epoch\": %.4f, \"loss\": %.7g, \"lr\": %.6g, \"elapsed_s\": %.3f%s%s}\n",
                    (long long)t->step, (double)t->step / (double)t->per_epoch, (double)lv, (double)lr, elapsed,
                    t->fields[0] ? ", " : "", t->fields);
            fflush(t->metrics);
        }
        if (call_now || (t->o.on_progress && t->converged)) {
            const dgm_train_progress p = {t->step, t->total, t->per_epoch, lv, lr, elapsed, log_now && t->metrics,
                                          t->fields};
            t->last_call = now;
            if (t->o.on_progress(t->o.user, &p)) t->stopped = true;
        }
    }
    DGM_TRY(dgm_ctx_step_end(t->ctx));
    if (save_now && !run_done(t)) DGM_TRY(dgm_trainer_save(t));
    return DGM_STATUS_OK;
}

dgm_status dgm_trainer_step(dgm_trainer *t, bool *done)
{
    if (!t) return DGM_STATUS_INVALID_ARGUMENT;
    if (t->failed)
        return dgm_set_error(t->ctx, DGM_STATUS_STATE_ERROR, "dgm_trainer_step: an earlier step failed; the run is over");
    if (!run_done(t)) {
        const dgm_status st = trainer_step(t);
        if (st != DGM_STATUS_OK) {
            t->failed = true;
            dgm_ctx_step_end(t->ctx); /* drop the failed step's tensors; the error stays the first */
            return st;
        }
    }
    if (done) *done = run_done(t);
    return DGM_STATUS_OK;
}

dgm_status dgm_trainer_run(dgm_trainer *t)
{
    if (!t) return DGM_STATUS_INVALID_ARGUMENT;
    bool done = false;
    while (!done) DGM_TRY(dgm_trainer_step(t, &done));
    if (t->model && t->ckpt[0]) return dgm_trainer_save(t); /* refreshes the model first */
    return t->train ? dgm_model_refresh(t->model, t->train) : DGM_STATUS_OK;
}

int64_t dgm_trainer_steps(const dgm_trainer *t) { return t ? t->step : 0; }
int64_t dgm_trainer_total_steps(const dgm_trainer *t) { return t ? t->total : 0; }
int64_t dgm_trainer_steps_per_epoch(const dgm_trainer *t) { return t ? t->per_epoch : 0; }
double dgm_trainer_last_loss(const dgm_trainer *t) { return t ? t->last_loss : NAN; }
bool dgm_trainer_converged(const dgm_trainer *t) { return t && t->converged; }
bool dgm_trainer_stopped(const dgm_trainer *t) { return t && t->stopped; }
const char *dgm_trainer_checkpoint_path(const dgm_trainer *t) { return t ? t->ckpt : ""; }
const char *dgm_trainer_metrics_path(const dgm_trainer *t) { return t && t->o.dir ? t->metrics_path : ""; }
