/* The trainer's options: a model's defaults, overrides by `dgm train`'s option names (the
 * CLI, the JSON constructor and Python all go through dgm_train_defaults_override), and
 * their one-line descriptions (the help, the checkpoint's record of the run). */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "core/internal.h"
#include "dgm/train.h"
#include "train/train_internal.h"

void dgm_optim_describe(const dgm_optim_config *o, char *buf, size_t len)
{
    if (!buf || !len) return;
    int n = snprintf(buf, len, "%s, lr %g", dgm_optim_kind_name(o->kind), (double)o->lr);
    if (o->kind == DGM_OPTIM_SGD) {
        if (o->momentum > 0 && (size_t)n < len)
            n += snprintf(buf + n, len - (size_t)n, ", momentum %g%s", (double)o->momentum,
                          o->nesterov ? ", nesterov" : "");
    } else if ((size_t)n < len) {
        n += snprintf(buf + n, len - (size_t)n, ", betas %g,%g, eps %g", (double)o->beta1,
                      (double)o->beta2, (double)o->eps);
    }
    if ((size_t)n < len) snprintf(buf + n, len - (size_t)n, ", weight decay %g", (double)o->weight_decay);
}

void dgm_train_describe_run(const dgm_train_defaults *t, char *buf, size_t len)
{
    if (!buf || !len) return;
    const dgm_plateau_rule *r = &t->converge;
    buf[0] = 0;
    switch (t->run) {
    case DGM_RUN_EPOCHS:
        snprintf(buf, len, "%lld epoch%s", (long long)t->length, t->length == 1 ? "" : "s");
        break;
    case DGM_RUN_STEPS: snprintf(buf, len, "%lld steps", (long long)t->length); break;
    case DGM_RUN_CONVERGED: {
        char decays[48] = "once";
        if (r->max_decays != 1) snprintf(decays, sizeof decays, "at most %lld times", (long long)r->max_decays);
        snprintf(buf, len,
                 "until converged: the training loss is averaged over windows of %lld steps; "
                 "after %lld window%s that do not beat the best by %g, the lr is multiplied by "
                 "%g (%s), and the next such plateau stops the run; at most %lld steps",
                 (long long)r->window, (long long)r->patience, r->patience == 1 ? "" : "s",
                 r->tol, (double)r->lr_factor, decays, (long long)t->length);
        break;
    }
    }
}

dgm_status dgm_train_options_default(const dgm_model *m, const dgm_dataset *train,
                                     dgm_train_options *out)
{
    if (!m || !train || !out) return DGM_STATUS_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    int64_t shape[3];
    const int ndim = dgm_dataset_sample_shape(train, shape);
    dgm_status st = dgm_model_train_defaults_for_data(dgm_model_kind(m), dgm_model_config(m), ndim, &out->run);
    if (st != DGM_STATUS_OK) st = dgm_model_train_defaults(dgm_model_kind(m), &out->run);
    return st;
}

static dgm_status fail(char *err, size_t err_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static dgm_status fail(char *err, size_t err_len, const char *fmt, ...)
{
    if (err && err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return DGM_STATUS_INVALID_ARGUMENT;
}

bool dgm_train_json_text(const json_t *v, char *buf, size_t len)
{
    if (json_is_string(v)) snprintf(buf, len, "%s", json_string_value(v));
    else if (json_is_integer(v)) snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v)) snprintf(buf, len, "%.17g", json_real_value(v));
    else return false;
    return true;
}

bool dgm_train_parse_int(const char *s, int64_t min, int64_t *out)
{
    char *end;
    errno = 0;
    const long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno || v < min) return false;
    *out = v;
    return true;
}

static bool parse_float(const char *s, float *out)
{
    char *end;
    errno = 0;
    const float v = strtof(s, &end);
    if (end == s || *end || errno || !isfinite(v)) return false;
    *out = v;
    return true;
}

/* "B1,B2", each in [0, 1) (PyTorch's check). */
static bool parse_betas(const char *v, float *b1, float *b2)
{
    const char *comma = strchr(v, ',');
    char first[64];
    if (!comma || (size_t)(comma - v) >= sizeof first) return false;
    snprintf(first, sizeof first, "%.*s", (int)(comma - v), v);
    return parse_float(first, b1) && parse_float(comma + 1, b2) && *b1 >= 0.0f && *b1 < 1.0f &&
           *b2 >= 0.0f && *b2 < 1.0f;
}

/* Option `name` given as `text` (NULL: not given, *dst kept): an integer >= min. */
static bool int_option(const char *name, const char *text, int64_t min, int64_t *dst, char *err, size_t err_len)
{
    if (text && !dgm_train_parse_int(text, min, dst)) {
        fail(err, err_len, "%s %s: not a valid value", name, text);
        return false;
    }
    return true;
}

/* The same for a finite float above min (strictly, or at least min). */
static bool float_option(const char *name, const char *text, float min, bool strict, float *dst, char *err,
                         size_t err_len)
{
    float v;
    if (!text) return true;
    if (!parse_float(text, &v) || v < min || (strict && v == min)) {
        fail(err, err_len, "%s %s: not a valid value", name, text);
        return false;
    }
    *dst = v;
    return true;
}

static const char *const RUN_OPTIONS[] = {"steps", "epochs", "batch", "lr", "optimizer", "betas",
                                          "weight-decay", "clip", "log-every", "save-every", NULL};

bool dgm_train_is_run_option(const char *name)
{
    for (int i = 0; RUN_OPTIONS[i]; i++)
        if (!strcmp(RUN_OPTIONS[i], name)) return true;
    return false;
}

/* The text of option `name` in o (NULL: not given); false (and the message) for a value
 * that is neither a string nor a number. */
static bool option_text(const json_t *o, const char *name, char *buf, size_t len, const char **text,
                        char *err, size_t err_len)
{
    *text = NULL;
    const json_t *v = json_object_get(o, name);
    if (!v) return true;
    if (!dgm_train_json_text(v, buf, len)) {
        fail(err, err_len, "%s: expected a string or a number", name);
        return false;
    }
    *text = buf;
    return true;
}

dgm_status dgm_train_defaults_override(dgm_train_defaults *run, const char *overrides_json,
                                       char *err, size_t err_len)
{
    if (!run) return fail(err, err_len, "dgm_train_defaults_override: run is NULL");
    if (!overrides_json || !*overrides_json) return DGM_STATUS_OK;
    json_error_t je;
    json_t *o = json_loads(overrides_json, 0, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return fail(err, err_len, "run options: not a JSON object (%s)", je.text);
    }
    const char *key;
    json_t *value;
    json_object_foreach(o, key, value) {
        if (!dgm_train_is_run_option(key)) {
            fail(err, err_len, "%s: unknown run option (valid: steps, epochs, batch, lr, optimizer, "
                 "betas, weight-decay, clip, log-every, save-every)", key); /* key lives in o */
            json_decref(o);
            return DGM_STATUS_INVALID_ARGUMENT;
        }
    }
    dgm_train_defaults t = *run;
    char b[10][128];
    const char *steps, *epochs, *batch, *lr, *optimizer, *betas, *wd, *clip, *log_every, *save_every;
    dgm_status st = DGM_STATUS_INVALID_ARGUMENT;
    if (!option_text(o, "steps", b[0], sizeof b[0], &steps, err, err_len) ||
        !option_text(o, "epochs", b[1], sizeof b[1], &epochs, err, err_len) ||
        !option_text(o, "batch", b[2], sizeof b[2], &batch, err, err_len) ||
        !option_text(o, "lr", b[3], sizeof b[3], &lr, err, err_len) ||
        !option_text(o, "optimizer", b[4], sizeof b[4], &optimizer, err, err_len) ||
        !option_text(o, "betas", b[5], sizeof b[5], &betas, err, err_len) ||
        !option_text(o, "weight-decay", b[6], sizeof b[6], &wd, err, err_len) ||
        !option_text(o, "clip", b[7], sizeof b[7], &clip, err, err_len) ||
        !option_text(o, "log-every", b[8], sizeof b[8], &log_every, err, err_len) ||
        !option_text(o, "save-every", b[9], sizeof b[9], &save_every, err, err_len))
        goto done;
    if (steps && epochs) {
        fail(err, err_len, "epochs %s: give steps or epochs, not both", epochs);
        goto done;
    }
    if (optimizer) {
        dgm_optim_kind kind;
        if (!strcmp(optimizer, "sgd")) kind = DGM_OPTIM_SGD;
        else if (!strcmp(optimizer, "adam")) kind = DGM_OPTIM_ADAM;
        else if (!strcmp(optimizer, "adamw")) kind = DGM_OPTIM_ADAMW;
        else {
            fail(err, err_len, "optimizer %s: expected adam, adamw or sgd", optimizer);
            goto done;
        }
        if (kind != t.optim.kind) t.optim = dgm_optim_config_default(kind);
    }
    if (!float_option("lr", lr, 0.0f, true, &t.optim.lr, err, err_len) ||
        !float_option("weight-decay", wd, 0.0f, false, &t.optim.weight_decay, err, err_len))
        goto done;
    if (betas) {
        float b1, b2;
        if (!parse_betas(betas, &b1, &b2)) {
            fail(err, err_len, "betas %s: expected B1,B2 with each in [0, 1), e.g. 0.9,0.999", betas);
            goto done;
        }
        if (t.optim.kind == DGM_OPTIM_SGD) {
            fail(err, err_len, "betas %s: the sgd optimizer has no betas (add optimizer adam or adamw)", betas);
            goto done;
        }
        t.optim.beta1 = b1;
        t.optim.beta2 = b2;
    }
    t.schedule.base_lr = t.optim.lr;
    if (!int_option("steps", steps, 1, &t.length, err, err_len) ||
        !int_option("epochs", epochs, 1, &t.length, err, err_len) ||
        !int_option("batch", batch, 1, &t.batch, err, err_len) ||
        !float_option("clip", clip, 0.0f, false, &t.clip, err, err_len) ||
        !int_option("log-every", log_every, 1, &t.log_every, err, err_len) ||
        !int_option("save-every", save_every, 0, &t.save_every, err, err_len))
        goto done;
    if (steps) t.run = DGM_RUN_STEPS;
    if (epochs) t.run = DGM_RUN_EPOCHS;
    *run = t;
    st = DGM_STATUS_OK;
done:
    json_decref(o);
    return st;
}

dgm_status dgm_trainer_create_json(dgm_model *m, const dgm_dataset *train, const char *options_json,
                                   dgm_train_callback on_progress, void *user, dgm_trainer **out)
{
    if (out) *out = NULL;
    dgm_params *params = m ? dgm_model_params(m) : NULL;
    dgm_ctx *ctx = params ? dgm_params_ctx(params) : NULL;
    if (!ctx) return DGM_STATUS_INVALID_ARGUMENT;
    if (!train || !out)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_trainer_create_json: needs a training set and out");
    dgm_train_options o;
    DGM_TRY(dgm_train_options_default(m, train, &o));
    o.on_progress = on_progress;
    o.user = user;
    json_error_t je;
    json_t *all = json_loads(options_json && *options_json ? options_json : "{}", 0, &je);
    if (!json_is_object(all)) {
        json_decref(all);
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "trainer options: not a JSON object (%s)", je.text);
    }
    /* The run options go to dgm_train_defaults_override; the rest are read here. */
    json_t *run = json_object();
    const char *key;
    json_t *v;
    char text[4096], err[512];
    char dir[4096] = "", data_name[1024] = "";
    dgm_status st = DGM_STATUS_OK;
    json_object_foreach(all, key, v) {
        if (dgm_train_is_run_option(key)) {
            json_object_set(run, key, v);
        } else if (!strcmp(key, "resume")) {
            if (!json_is_boolean(v)) st = dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "resume: expected true or false");
            o.resume = json_is_true(v);
        } else if (!strcmp(key, "dir") || !strcmp(key, "data_name")) {
            const bool is_dir = !strcmp(key, "dir");
            if (!json_is_string(v)) st = dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: expected a string", key);
            else snprintf(is_dir ? dir : data_name, is_dir ? sizeof dir : sizeof data_name, "%s", json_string_value(v));
        } else if (!strcmp(key, "seed") || !strcmp(key, "progress_every")) {
            int64_t n = 0;
            if (!dgm_train_json_text(v, text, sizeof text) || !dgm_train_parse_int(text, 0, &n))
                st = dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: expected an integer >= 0", key);
            else if (!strcmp(key, "seed")) o.seed = (uint64_t)n;
            else o.progress_every = n;
        } else if (!strcmp(key, "progress_seconds")) {
            if (!json_is_number(v) || !(json_number_value(v) >= 0))
                st = dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "progress_seconds: expected a number >= 0");
            else o.progress_seconds = json_number_value(v);
        } else {
            st = dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                               "%s: unknown trainer option (valid: steps, epochs, batch, lr, optimizer, betas, "
                               "weight-decay, clip, log-every, save-every, dir, data_name, seed, resume, "
                               "progress_every, progress_seconds)", key);
        }
        if (st != DGM_STATUS_OK) break;
    }
    json_decref(all);
    char *run_text = st == DGM_STATUS_OK ? json_dumps(run, JSON_COMPACT) : NULL;
    json_decref(run);
    /* Resuming continues the recorded run (a checkpoint without a record: the defaults). */
    char *extra = NULL;
    if (st == DGM_STATUS_OK && o.resume && dir[0]) {
        char ckpt[4200];
        snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", dir);
        if (dgm_checkpoint_meta(ctx, ckpt, "extra", &extra) != DGM_STATUS_OK || !strstr(extra, "train_run")) {
            free(extra);
            extra = NULL;
        }
    }
    if (st == DGM_STATUS_OK && (extra ? dgm_train_defaults_resume(extra, run_text, &o.run, err, sizeof err)
                                      : dgm_train_defaults_override(&o.run, run_text, err, sizeof err)) != DGM_STATUS_OK)
        st = dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s", err);
    free(extra);
    free(run_text);
    if (st != DGM_STATUS_OK) return st;
    o.dir = dir[0] ? dir : NULL;
    o.data_name = data_name[0] ? data_name : NULL;
    return dgm_trainer_create(m, train, &o, out);
}

/* ---- the recorded run: what resuming continues ---- */

char *dgm_train_run_to_json(const dgm_train_defaults *t)
{
    const dgm_optim_config *o = &t->optim;
    const dgm_lr_schedule *s = &t->schedule;
    const dgm_plateau_rule *p = &t->converge;
    json_t *j = json_pack("{s:i, s:I, s:I, s:i, s:f, s:f, s:f, s:b, s:f, s:f, s:f, s:f, s:i, s:f, s:I, s:f, s:f, s:I, s:I, "
                          "s:f, s:I, s:f, s:I, s:I}",
                          "run", (int)t->run, "length", (json_int_t)t->length, "batch", (json_int_t)t->batch,
                          "optimizer", (int)o->kind, "lr", (double)o->lr, "momentum", (double)o->momentum,
                          "dampening", (double)o->dampening, "nesterov", (int)o->nesterov, "beta1", (double)o->beta1,
                          "beta2", (double)o->beta2, "eps", (double)o->eps, "weight_decay", (double)o->weight_decay,
                          "schedule", (int)s->kind, "base_lr", (double)s->base_lr, "warmup", (json_int_t)s->warmup_steps,
                          "min_lr", (double)s->min_lr, "clip", (double)t->clip, "log_every", (json_int_t)t->log_every,
                          "save_every", (json_int_t)t->save_every, "tol", p->tol, "window", (json_int_t)p->window,
                          "lr_factor", (double)p->lr_factor, "patience", (json_int_t)p->patience,
                          "max_decays", (json_int_t)p->max_decays);
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(j);
    return text;
}

bool dgm_train_run_from_json(const char *text, dgm_train_defaults *t)
{
    json_t *j = json_loads(text, 0, NULL);
    int run = 0, kind = 0, sched = 0, nesterov = 0;
    json_int_t length = 0, batch = 0, warmup = 0, log_every = 0, save_every = 0, window = 0, patience = 0, max_decays = 0;
    double lr = 0, momentum = 0, dampening = 0, beta1 = 0, beta2 = 0, eps = 0, wd = 0, base_lr = 0, min_lr = 0, clip = 0,
           tol = 0, lr_factor = 0;
    const int bad = !j || json_unpack(j, "{s:i, s:I, s:I, s:i, s:F, s:F, s:F, s:b, s:F, s:F, s:F, s:F, s:i, s:F, s:I, s:F, "
                                         "s:F, s:I, s:I, s:F, s:I, s:F, s:I, s:I}",
                                      "run", &run, "length", &length, "batch", &batch, "optimizer", &kind, "lr", &lr,
                                      "momentum", &momentum, "dampening", &dampening, "nesterov", &nesterov, "beta1",
                                      &beta1, "beta2", &beta2, "eps", &eps, "weight_decay", &wd, "schedule", &sched,
                                      "base_lr", &base_lr, "warmup", &warmup, "min_lr", &min_lr, "clip", &clip,
                                      "log_every", &log_every, "save_every", &save_every, "tol", &tol, "window",
                                      &window, "lr_factor", &lr_factor, "patience", &patience, "max_decays",
                                      &max_decays);
    json_decref(j);
    if (bad || run < DGM_RUN_EPOCHS || run > DGM_RUN_CONVERGED || kind < 0 || kind >= DGM_OPTIM_COUNT ||
        (sched != DGM_LR_CONSTANT && sched != DGM_LR_COSINE) || length < 1 || batch < 1 || log_every < 1 ||
        save_every < 0)
        return false;
    memset(t, 0, sizeof *t);
    t->run = (dgm_run_kind)run, t->length = length, t->batch = batch;
    t->optim = (dgm_optim_config){(dgm_optim_kind)kind, (float)lr, (float)momentum, (float)dampening, nesterov != 0,
                                  (float)beta1, (float)beta2, (float)eps, (float)wd};
    t->schedule = (dgm_lr_schedule){(dgm_lr_kind)sched, (float)base_lr, warmup, 0, (float)min_lr};
    t->clip = (float)clip, t->log_every = log_every, t->save_every = save_every;
    t->converge = (dgm_plateau_rule){window, tol, patience, (float)lr_factor, max_decays};
    return true;
}

/* The recorded value of a run option, for the message of a conflicting one. */
static void recorded_value(const dgm_train_defaults *t, const char *name, char *buf, size_t len)
{
    if (!strcmp(name, "optimizer")) snprintf(buf, len, "%s", dgm_optim_kind_name(t->optim.kind));
    else if (!strcmp(name, "lr")) snprintf(buf, len, "%g", (double)t->optim.lr);
    else if (!strcmp(name, "betas")) snprintf(buf, len, "%g,%g", (double)t->optim.beta1, (double)t->optim.beta2);
    else if (!strcmp(name, "weight-decay")) snprintf(buf, len, "%g", (double)t->optim.weight_decay);
    else if (!strcmp(name, "clip")) snprintf(buf, len, "%g", (double)t->clip);
    else if (!strcmp(name, "batch")) snprintf(buf, len, "%lld", (long long)t->batch);
    else snprintf(buf, len, "another value");
}

dgm_status dgm_train_defaults_resume(const char *recorded_json, const char *given_json, dgm_train_defaults *run,
                                     char *err, size_t err_len)
{
    dgm_train_defaults rec;
    json_t *extra = recorded_json ? json_loads(recorded_json, 0, NULL) : NULL;
    const char *record = json_string_value(json_object_get(extra, "train_run"));
    const bool readable = record && dgm_train_run_from_json(record, &rec);
    json_decref(extra);
    if (!readable) return fail(err, err_len, "resume: the checkpoint holds no record of its run's options");
    dgm_train_defaults t = rec;
    DGM_TRY(dgm_train_defaults_override(&t, given_json, err, err_len));
    /* The length and the log/save cadence may change (train on for more steps); anything
     * else given must be what the run was trained with. */
    json_t *given = given_json && *given_json ? json_loads(given_json, 0, NULL) : NULL;
    const char *key;
    json_t *v;
    dgm_status st = DGM_STATUS_OK;
    json_object_foreach(given, key, v) {
        if (!strcmp(key, "steps") || !strcmp(key, "epochs") || !strcmp(key, "log-every") || !strcmp(key, "save-every"))
            continue;
        dgm_train_defaults one = rec;
        json_t *single = json_object();
        json_object_set(single, key, v);
        char *text = json_dumps(single, JSON_COMPACT);
        json_decref(single);
        const bool changes = dgm_train_defaults_override(&one, text, NULL, 0) == DGM_STATUS_OK &&
                             memcmp(&one, &rec, sizeof one) != 0;
        free(text);
        if (!changes) continue;
        char was[64], now[128];
        recorded_value(&rec, key, was, sizeof was);
        dgm_train_json_text(v, now, sizeof now);
        st = fail(err, err_len, "%s %s: the run was trained with %s %s; resuming continues it as recorded (drop "
                  "the option, or train into another folder)", key, now, key, was);
        break;
    }
    json_decref(given);
    if (st == DGM_STATUS_OK) *run = t;
    return st;
}
