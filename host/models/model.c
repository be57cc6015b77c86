/* The model registry and the generic half of every model: config validation against the
 * kind's option table, parameter allocation, and dispatch to the family's ops. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model_impl.h"
#include "ops/ops_common.h"

static const dgm_model_ops *const registry[] = {&dgm_gaussian_ops, &dgm_vae_ops, &dgm_gan_ops,
                                                &dgm_realnvp_ops, &dgm_ddpm_ops, &dgm_fm_ops,
                                                &dgm_ebm_ops,     &dgm_ncsn_ops, &dgm_sde_ops,
                                                &dgm_maf_ops, &dgm_cnf_ops};
#define N_KINDS (sizeof registry / sizeof registry[0])

/* The registry's kinds in its order (a test checks each names its entry). */
static const char *const kind_names[] = {"gaussian", "vae", "gan", "realnvp", "ddpm", "fm", "ebm", "ncsn", "sde", "maf", "cnf", NULL};
_Static_assert(sizeof kind_names / sizeof kind_names[0] == N_KINDS + 1,
               "kind_names must list every registered model");

const char *const *dgm_model_kinds(void) { return kind_names; }

static const dgm_model_ops *find_kind(const char *kind)
{
    for (size_t i = 0; kind && i < N_KINDS; i++)
        if (!strcmp(registry[i]->kind, kind)) return registry[i];
    return NULL;
}

const dgm_model_ops *dgm_model_find_ops(const char *kind) { return find_kind(kind); }

const dgm_model_option *dgm_model_options(const char *kind)
{
    const dgm_model_ops *ops = find_kind(kind);
    return ops ? ops->options : NULL;
}

const char *dgm_model_summary(const char *kind)
{
    const dgm_model_ops *ops = find_kind(kind);
    return ops ? ops->summary : NULL;
}

dgm_status dgm_model_train_defaults(const char *kind, dgm_train_defaults *out)
{
    return dgm_model_train_defaults_for(kind, NULL, out);
}

dgm_status dgm_model_train_defaults_for(const char *kind, const char *config_json,
                                        dgm_train_defaults *out)
{
    return dgm_model_train_defaults_for_data(kind, config_json, 0, out);
}

dgm_status dgm_model_train_defaults_for_data(const char *kind, const char *config_json,
                                             int sample_ndim, dgm_train_defaults *out)
{
    const dgm_model_ops *ops = find_kind(kind);
    if (!ops || !out) return DGM_STATUS_INVALID_ARGUMENT;
    json_t *given = NULL;
    if (config_json && *config_json) {
        given = json_loads(config_json, 0, NULL);
        if (!json_is_object(given)) {
            json_decref(given);
            return DGM_STATUS_INVALID_ARGUMENT;
        }
    }
    ops->train_defaults(given, sample_ndim < 0 || sample_ndim > 3 ? 0 : sample_ndim, out);
    json_decref(given);
    return DGM_STATUS_OK;
}

const dgm_model_option *dgm_model_defaults_variants(const char *kind)
{
    const dgm_model_ops *ops = find_kind(kind);
    return ops ? ops->defaults_variants : NULL;
}

const char *dgm_model_image_run_time(const char *kind)
{
    const dgm_model_ops *ops = find_kind(kind);
    return ops ? ops->image_run_time : NULL;
}

const char *dgm_given_option(const json_t *given, const dgm_model_option *table, const char *name)
{
    const char *text = json_string_value(json_object_get(given, name));
    if (text) return text;
    for (; table->name; table++)
        if (!strcmp(table->name, name)) return table->default_value;
    return NULL;
}

const char *dgm_model_metric_names(const char *kind)
{
    const dgm_model_ops *ops = find_kind(kind);
    return ops ? ops->metrics : NULL;
}

/* ---- config ---- */

static void list_options(const dgm_model_ops *ops, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = 0;
    for (const dgm_model_option *o = ops->options; o->name && n < len; o++)
        n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? ", " : "", o->name);
}

/* Converts `value` (a JSON value, or text from the command line) to the option's type. */
static json_t *typed_value(dgm_ctx *ctx, const dgm_model_ops *ops, const dgm_model_option *o,
                           dgm_opt_type type, json_t *value, dgm_status *st)
{
    char text[256];
    *st = DGM_STATUS_OK;
    if (json_is_string(value)) snprintf(text, sizeof text, "%s", json_string_value(value));
    else if (json_is_integer(value)) snprintf(text, sizeof text, "%lld", (long long)json_integer_value(value));
    else if (json_is_real(value)) snprintf(text, sizeof text, "%.17g", json_real_value(value));
    else if (json_is_boolean(value)) snprintf(text, sizeof text, "%s", json_is_true(value) ? "true" : "false");
    else if (json_is_array(value) && type == DGM_OPT_INT_LIST) {
        size_t n = 0;
        text[0] = 0;
        for (size_t i = 0; i < json_array_size(value) && n < sizeof text; i++)
            n += (size_t)snprintf(text + n, sizeof text - n, "%s%lld", i ? "," : "",
                                  (long long)json_integer_value(json_array_get(value, i)));
    } else {
        *st = dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s option %s: unsupported value",
                            ops->kind, o->name);
        return NULL;
    }
    char *end = NULL;
    errno = 0;
    switch (type) {
    case DGM_OPT_INT: {
        long long v = strtoll(text, &end, 10);
        if (end != text && !*end && !errno) return json_integer(v);
        break;
    }
    case DGM_OPT_FLOAT: {
        double v = strtod(text, &end);
        if (end != text && !*end && isfinite(v)) return json_real(v);
        break;
    }
    case DGM_OPT_BOOL:
        if (!strcmp(text, "true") || !strcmp(text, "1")) return json_true();
        if (!strcmp(text, "false") || !strcmp(text, "0")) return json_false();
        break;
    case DGM_OPT_STRING: return json_string(text);
    case DGM_OPT_INT_LIST: {
        json_t *arr = json_array();
        const char *p = text;
        while (arr && *p) {
            long long v = strtoll(p, &end, 10);
            if (end == p || v < 1) {
                json_decref(arr);
                arr = NULL;
                break;
            }
            json_array_append_new(arr, json_integer(v));
            p = *end == ',' ? end + 1 : end;
            if (*end && *end != ',') {
                json_decref(arr);
                arr = NULL;
            }
        }
        if (arr && json_array_size(arr) > 0) return arr;
        json_decref(arr);
        break;
    }
    }
    static const char *const type_names[] = {"an integer", "a number", "a comma-separated list "
                                              "of positive integers", "a string", "true or false"};
    *st = dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s option --%s: '%s' is not %s",
                        ops->kind, o->name, text, type_names[type]);
    return NULL;
}

/* The complete typed config: defaults, overridden by `given` (validated). */
static dgm_status build_config(dgm_ctx *ctx, const dgm_model_ops *ops, const char *config_json,
                               int sample_ndim, json_t **out)
{
    *out = NULL;
    json_t *given = NULL;
    if (config_json && *config_json) {
        json_error_t jerr;
        given = json_loads(config_json, JSON_REJECT_DUPLICATES, &jerr);
        if (!given || !json_is_object(given)) {
            json_decref(given);
            return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                                 "%s config is not a JSON object: %s", ops->kind,
                                 given ? "not an object" : jerr.text);
        }
    }
    const char *key;
    json_t *val;
    json_object_foreach(given, key, val) {
        bool known = false;
        for (const dgm_model_option *o = ops->options; o->name; o++) known |= !strcmp(o->name, key);
        if (!known) {
            char names[512];
            list_options(ops, names, sizeof names);
            /* Format before the decref: key points into `given`. */
            dgm_status st = dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                                          "unknown %s option '%s' (valid: %s)", ops->kind, key,
                                          names);
            json_decref(given);
            return st;
        }
    }
    json_t *cfg = json_object();
    dgm_status st = DGM_STATUS_OK;
    for (int i = 0; ops->options[i].name && st == DGM_STATUS_OK; i++) {
        const dgm_model_option *o = &ops->options[i];
        json_t *v = given ? json_object_get(given, o->name) : NULL;
        json_t *def = NULL;
        if (!v) {
            const char *d = ops->option_default ? ops->option_default(given, sample_ndim, o->name) : NULL;
            v = def = json_string(d ? d : o->default_value);
        }
        json_t *typed = typed_value(ctx, ops, o, ops->option_types[i], v, &st);
        json_decref(def);
        if (typed) json_object_set_new(cfg, o->name, typed);
    }
    json_decref(given);
    if (st != DGM_STATUS_OK) {
        json_decref(cfg);
        return st;
    }
    *out = cfg;
    return DGM_STATUS_OK;
}

int64_t dgm_config_int(const dgm_model *m, const char *name)
{
    return json_integer_value(json_object_get(m->config, name));
}

double dgm_config_float(const dgm_model *m, const char *name)
{
    return json_number_value(json_object_get(m->config, name));
}

bool dgm_config_bool(const dgm_model *m, const char *name)
{
    return json_is_true(json_object_get(m->config, name));
}

const char *dgm_config_string(const dgm_model *m, const char *name)
{
    return json_string_value(json_object_get(m->config, name));
}

int dgm_config_int_list(const dgm_model *m, const char *name, int64_t *out, int max)
{
    json_t *arr = json_object_get(m->config, name);
    int n = (int)json_array_size(arr);
    for (int i = 0; i < n && i < max; i++) out[i] = json_integer_value(json_array_get(arr, i));
    return n;
}

dgm_status dgm_read_scalar(dgm_ctx *ctx, dgm_tensor *t, double *value)
{
    float v = 0;
    DGM_TRY(dgm_tensor_to_host(ctx, t, &v));
    *value = v;
    return DGM_STATUS_OK;
}

/* ---- lifecycle ---- */

dgm_status dgm_model_create(dgm_ctx *ctx, const char *kind, const char *config_json, int64_t dim,
                            int sample_ndim, const int64_t *sample_shape, dgm_model **out)
{
    return dgm_model_create_checked(ctx, kind, config_json, dim, sample_ndim, sample_shape, NULL, NULL, out);
}

dgm_status dgm_model_create_checked(dgm_ctx *ctx, const char *kind, const char *config_json, int64_t dim,
                                    int sample_ndim, const int64_t *sample_shape,
                                    dgm_status (*check)(dgm_model *m, void *arg), void *arg,
                                    dgm_model **out)
{
    DGM_TRY(dgm_check_ctx(ctx));
    if (!out) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_model_create: out is NULL");
    *out = NULL;
    const dgm_model_ops *ops = find_kind(kind);
    if (!ops) {
        char names[256] = "";
        size_t n = 0;
        for (size_t i = 0; i < N_KINDS; i++)
            n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", i ? ", " : "", registry[i]->kind);
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "unknown model '%s' (valid: %s)",
                             kind ? kind : "(null)", names);
    }
    if (dim < 1)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: data dimension %lld", kind,
                             (long long)dim);
    dgm_model *m = calloc(1, sizeof *m);
    if (!m) return dgm_set_error(ctx, DGM_STATUS_OOM, "out of host memory");
    m->ops = ops;
    m->ctx = ctx;
    m->dim = dim;
    m->sample_ndim = 1;
    m->sample_shape[0] = dim;
    if (sample_ndim >= 1 && sample_ndim <= 3 && sample_shape) {
        int64_t prod = 1;
        for (int i = 0; i < sample_ndim; i++) prod *= sample_shape[i];
        if (prod == dim) {
            m->sample_ndim = sample_ndim;
            for (int i = 0; i < sample_ndim; i++) m->sample_shape[i] = sample_shape[i];
        }
    }
    dgm_status st = build_config(ctx, ops, config_json, m->sample_ndim, &m->config);
    if (st == DGM_STATUS_OK) {
        m->config_text = json_dumps(m->config, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!m->config_text) st = dgm_set_error(ctx, DGM_STATUS_OOM, "out of host memory");
    }
    if (st == DGM_STATUS_OK) st = dgm_params_create(ctx, &m->params);
    if (st == DGM_STATUS_OK) st = ops->build(m);
    if (st == DGM_STATUS_OK && check) st = check(m, arg);
    if (st == DGM_STATUS_OK) st = dgm_params_alloc(m->params);
    if (st == DGM_STATUS_OK && ops->ready) st = ops->ready(m);
    if (st != DGM_STATUS_OK) {
        dgm_model_free(m);
        return st;
    }
    *out = m;
    return DGM_STATUS_OK;
}

void dgm_model_free(dgm_model *m)
{
    if (!m) return;
    if (m->ops->destroy) m->ops->destroy(m);
    dgm_params_free(m->params);
    json_decref(m->config);
    free(m->config_text);
    free(m);
}

const char *dgm_model_kind(const dgm_model *m) { return m ? m->ops->kind : NULL; }
const char *dgm_model_config(const dgm_model *m) { return m ? m->config_text : NULL; }
dgm_params *dgm_model_params(dgm_model *m) { return m ? m->params : NULL; }
int64_t dgm_model_dim(const dgm_model *m) { return m ? m->dim : 0; }

int dgm_model_sample_shape(const dgm_model *m, int64_t shape[3])
{
    if (!m) return 0;
    for (int i = 0; i < m->sample_ndim; i++) shape[i] = m->sample_shape[i];
    return m->sample_ndim;
}

static dgm_status check_batch(dgm_model *m, dgm_tensor *batch, const char *fn)
{
    DGM_TRY(dgm_check_tensor(m->ctx, batch, fn, "batch"));
    if (dgm_cols(batch) != m->dim || batch->ndim != 2) {
        char s[96];
        return dgm_set_error(m->ctx, DGM_STATUS_SHAPE_MISMATCH,
                             "%s: batch %s is not [B, %lld] for this %s model", fn,
                             dgm_shape_str(batch, s, sizeof s), (long long)m->dim, m->ops->kind);
    }
    return DGM_STATUS_OK;
}

dgm_status dgm_model_train_step(dgm_model *m, dgm_tensor *batch, int64_t step, dgm_tensor **loss)
{
    if (!m || !loss) return DGM_STATUS_INVALID_ARGUMENT;
    *loss = NULL;
    DGM_MODEL_FP_SCOPE(m->ctx);
    DGM_TRY(check_batch(m, batch, "dgm_model_train_step"));
    DGM_TRY(m->ops->train_step(m, batch, step, loss));
    return dgm_backward(m->ctx, *loss);
}

bool dgm_model_owns_optimizers(const dgm_model *m) { return m && m->ops->train_iteration; }

dgm_status dgm_model_create_optimizers(dgm_model *m, const dgm_optim_config *optim)
{
    if (!m || !optim) return DGM_STATUS_INVALID_ARGUMENT;
    if (!m->ops->own_optimizers)
        return dgm_set_error(m->ctx, DGM_STATUS_UNSUPPORTED,
                             "dgm_model_create_optimizers: a %s model trains with an optimizer of "
                             "its parameters that the caller makes", m->ops->kind);
    int n = 0;
    dgm_optim *o[DGM_MODEL_MAX_OPTIMIZERS];
    const char *prefix[DGM_MODEL_MAX_OPTIMIZERS];
    return m->ops->own_optimizers(m, optim, &n, o, prefix);
}

dgm_status dgm_model_set_grad_clip(dgm_model *m, float max_norm)
{
    if (!m) return DGM_STATUS_INVALID_ARGUMENT;
    if (!(max_norm >= 0.0f) || isinf(max_norm))
        return dgm_set_error(m->ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "clip: %g is not a finite number >= 0 (0: off)", (double)max_norm);
    if (!m->ops->train_iteration)
        return dgm_set_error(m->ctx, DGM_STATUS_UNSUPPORTED,
                             "dgm_model_set_grad_clip: a %s model's caller clips its gradients "
                             "(dgm_clip_grad_norm) before its optimizer's step", m->ops->kind);
    m->grad_clip = max_norm;
    return DGM_STATUS_OK;
}

dgm_status dgm_model_train_iteration(dgm_model *m, dgm_loader *loader,
                                     const dgm_optim_config *optim, int64_t step,
                                     dgm_tensor **loss)
{
    if (!m || !loss) return DGM_STATUS_INVALID_ARGUMENT;
    *loss = NULL;
    if (!loader || !optim)
        return dgm_set_error(m->ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_model_train_iteration: loader and optim must not be NULL");
    if (!m->ops->train_iteration)
        return dgm_set_error(m->ctx, DGM_STATUS_UNSUPPORTED,
                             "dgm_model_train_iteration: a %s model trains with "
                             "dgm_model_train_step and an optimizer of its parameters",
                             m->ops->kind);
    DGM_MODEL_FP_SCOPE(m->ctx);
    return m->ops->train_iteration(m, loader, optim, step, loss);
}

dgm_status dgm_model_sample(dgm_model *m, int64_t n, dgm_tensor **out)
{
    if (!m || !out) return DGM_STATUS_INVALID_ARGUMENT;
    *out = NULL;
    if (n < 1)
        return dgm_set_error(m->ctx, DGM_STATUS_INVALID_ARGUMENT, "sample: n = %lld", (long long)n);
    DGM_MODEL_FP_SCOPE(m->ctx);
    bool grad = dgm_ctx_grad_enabled(m->ctx);
    dgm_ctx_set_grad_enabled(m->ctx, false);
    dgm_status st = m->ops->sample(m, n, out);
    dgm_ctx_set_grad_enabled(m->ctx, grad);
    return st;
}

dgm_status dgm_clamp_values(dgm_ctx *ctx, dgm_tensor *x, float lo, float hi, dgm_tensor **out)
{
    dgm_tensor *a = NULL, *b = NULL;
    DGM_TRY(dgm_scale(ctx, x, 1.0f, -lo, &a));
    DGM_TRY(dgm_relu(ctx, a, &a));
    DGM_TRY(dgm_scale(ctx, x, 1.0f, -hi, &b));
    DGM_TRY(dgm_relu(ctx, b, &b));
    DGM_TRY(dgm_sub(ctx, a, b, out));
    return lo == 0.0f ? DGM_STATUS_OK : dgm_scale(ctx, *out, 1.0f, lo, out);
}

dgm_status dgm_model_refresh(dgm_model *m, const dgm_dataset *data)
{
    if (!m || !data) return DGM_STATUS_INVALID_ARGUMENT;
    if (!m->ops->refresh) return DGM_STATUS_OK;
    const bool grad = dgm_ctx_grad_enabled(m->ctx);
    dgm_ctx_set_grad_enabled(m->ctx, false);
    DGM_MODEL_FP_SCOPE(m->ctx);
    const dgm_status st = m->ops->refresh(m, data);
    dgm_ctx_set_grad_enabled(m->ctx, grad);
    return st;
}

dgm_status dgm_model_log_fields(dgm_model *m, int64_t step, char *buf, size_t len)
{
    if (!m || !buf || len == 0) return DGM_STATUS_INVALID_ARGUMENT;
    *buf = '\0';
    if (!m->ops->log_fields) return DGM_STATUS_OK;
    const bool grad = dgm_ctx_grad_enabled(m->ctx);
    dgm_ctx_set_grad_enabled(m->ctx, false);
    DGM_MODEL_FP_SCOPE(m->ctx);
    const dgm_status st = m->ops->log_fields(m, step, buf, len);
    dgm_ctx_set_grad_enabled(m->ctx, grad);
    return st;
}

dgm_status dgm_model_after_step(dgm_model *m, int64_t step)
{
    if (!m) return DGM_STATUS_INVALID_ARGUMENT;
    return m->ops->after_step ? m->ops->after_step(m, step) : DGM_STATUS_OK;
}

const char *dgm_model_warning(const dgm_model *m) { return m ? m->warning : ""; }
const char *dgm_model_note(const dgm_model *m) { return m ? m->note : ""; }

int64_t dgm_model_sampler_passes(const dgm_model *m)
{
    return m && m->ops->sampler_passes ? m->ops->sampler_passes(m) : 1;
}

dgm_status dgm_model_log_density(dgm_model *m, dgm_tensor *x, dgm_tensor **out)
{
    if (!m || !x || !out) return DGM_STATUS_INVALID_ARGUMENT;
    *out = NULL;
    if (!m->ops->log_density)
        return dgm_set_error(m->ctx, DGM_STATUS_UNSUPPORTED,
                             "log_density: a %s model has no exact density", m->ops->kind);
    if (dgm_tensor_ndim(x) != 2 || dgm_tensor_dim(x, 1) != m->dim)
        return dgm_set_error(m->ctx, DGM_STATUS_SHAPE_MISMATCH, "log_density: x must be [B, %lld]",
                             (long long)m->dim);
    bool grad = dgm_ctx_grad_enabled(m->ctx);
    dgm_ctx_set_grad_enabled(m->ctx, false);
    dgm_status st = m->ops->log_density(m, x, out);
    dgm_ctx_set_grad_enabled(m->ctx, grad);
    return st;
}

dgm_status dgm_model_check_batch_size(dgm_model *m, int64_t batch)
{
    if (!m) return DGM_STATUS_INVALID_ARGUMENT;
    if (batch < 1) return dgm_set_error(m->ctx, DGM_STATUS_INVALID_ARGUMENT, "batch %lld: at least 1", (long long)batch);
    return m->ops->check_batch_size ? m->ops->check_batch_size(m, batch) : DGM_STATUS_OK;
}

dgm_status dgm_model_check_data(dgm_model *m, const dgm_dataset *data)
{
    if (!m || !data) return DGM_STATUS_INVALID_ARGUMENT;
    if (dgm_dataset_dim(data) != m->dim)
        return dgm_set_error(m->ctx, DGM_STATUS_SHAPE_MISMATCH,
                             "the data have %lld values per sample, the %s model %lld",
                             (long long)dgm_dataset_dim(data), m->ops->kind, (long long)m->dim);
    return m->ops->check_data ? m->ops->check_data(m, data) : DGM_STATUS_OK;
}

dgm_status dgm_model_prepare(dgm_model *m, const dgm_dataset *train, bool init_params)
{
    if (!m || !train) return DGM_STATUS_INVALID_ARGUMENT;
    DGM_TRY(dgm_model_check_data(m, train));
    return m->ops->prepare ? m->ops->prepare(m, train, init_params) : DGM_STATUS_OK;
}

dgm_status dgm_model_set_eval_samples(dgm_model *m, int64_t k)
{
    if (!m) return DGM_STATUS_INVALID_ARGUMENT;
    if (k < 1)
        return dgm_set_error(m->ctx, DGM_STATUS_INVALID_ARGUMENT, "importance samples k = %lld", (long long)k);
    m->eval_samples = k;
    return DGM_STATUS_OK;
}

/* Runs an optional batch map (encode/reconstruct) with grad mode off. */
static dgm_status batch_map(dgm_model *m, dgm_tensor *batch, dgm_tensor **out,
                            dgm_status (*fn)(dgm_model *, dgm_tensor *, dgm_tensor **), const char *what)
{
    if (!m || !out) return DGM_STATUS_INVALID_ARGUMENT;
    *out = NULL;
    if (!fn)
        return dgm_set_error(m->ctx, DGM_STATUS_UNSUPPORTED, "%s: a %s model has no %s", what,
                             m->ops->kind, what + strlen("dgm_model_"));
    DGM_TRY(check_batch(m, batch, what));
    bool grad = dgm_ctx_grad_enabled(m->ctx);
    dgm_ctx_set_grad_enabled(m->ctx, false);
    dgm_status st = fn(m, batch, out);
    dgm_ctx_set_grad_enabled(m->ctx, grad);
    return st;
}

dgm_status dgm_model_encode(dgm_model *m, dgm_tensor *batch, dgm_tensor **out)
{
    return batch_map(m, batch, out, m ? m->ops->encode : NULL, "dgm_model_encode");
}

dgm_status dgm_model_reconstruct(dgm_model *m, dgm_tensor *batch, dgm_tensor **out)
{
    return batch_map(m, batch, out, m ? m->ops->reconstruct : NULL, "dgm_model_reconstruct");
}

dgm_status dgm_model_w2(dgm_model *m, const dgm_dataset *data, double *value)
{
    const int64_t n = dgm_dataset_count(data) < 2000 ? dgm_dataset_count(data) : 2000;
    float *host = malloc((size_t)(n * m->dim) * sizeof *host);
    if (!host) return dgm_set_error(m->ctx, DGM_STATUS_OOM, "out of host memory");
    dgm_tensor *x = NULL;
    dgm_status st = dgm_model_sample(m, n, &x);
    if (st == DGM_STATUS_OK) st = dgm_tensor_to_host(m->ctx, x, host);
    if (st == DGM_STATUS_OK)
        st = dgm_wasserstein2(m->ctx, host, dgm_dataset_data(data), n, (int)m->dim, value);
    free(host);
    return st;
}

void dgm_model_steps_defaults(dgm_train_defaults *t, int64_t length, int64_t batch, dgm_optim_kind kind,
                              float lr, int64_t warmup, int64_t log_every)
{
    memset(t, 0, sizeof *t);
    t->run = DGM_RUN_STEPS;
    t->length = length;
    t->batch = batch;
    t->optim = dgm_optim_config_default(kind);
    t->optim.lr = lr;
    t->schedule = (dgm_lr_schedule){.kind = DGM_LR_CONSTANT, .base_lr = lr, .warmup_steps = warmup};
    t->log_every = log_every;
}

dgm_status dgm_model_sample_metric(dgm_model *m, const dgm_dataset *data, const char *metric,
                                   double *value)
{
    if (!strcmp(metric, "w2")) return dgm_model_w2(m, data, value);
    const char *toy = dgm_dataset_toy_name(data);
    double centres[2 * 32], std = 0.0;
    int k = 0;
    if (!toy || m->dim != 2 || dgm_toy_mixture(m->ctx, toy, 32, centres, &k, &std) != DGM_STATUS_OK)
        return dgm_set_error(m->ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s metric %s: needs --data ring8, grid25 or gauss8", m->ops->kind, metric);
    const int64_t n = 2500;
    float *host = malloc((size_t)(2 * n) * sizeof *host);
    if (!host) return dgm_set_error(m->ctx, DGM_STATUS_OOM, "out of host memory");
    dgm_tensor *x = NULL;
    dgm_mode_coverage mc;
    dgm_status st = m->ops->sample(m, n, &x);
    if (st == DGM_STATUS_OK) st = dgm_tensor_to_host(m->ctx, x, host);
    if (st == DGM_STATUS_OK) st = dgm_mode_coverage_compute(m->ctx, host, n, 2, centres, k, std, &mc);
    free(host);
    DGM_TRY(st);
    if (!strcmp(metric, "modes")) *value = mc.modes;
    else if (!strcmp(metric, "high_quality")) *value = mc.high_quality;
    else *value = mc.reverse_kl;
    return DGM_STATUS_OK;
}

int dgm_model_parse_activation(const char *name)
{
    static const struct {
        const char *name;
        dgm_activation act;
    } acts[] = {{"relu", DGM_ACT_RELU}, {"tanh", DGM_ACT_TANH}, {"leaky_relu", DGM_ACT_LEAKY_RELU},
                {"elu", DGM_ACT_ELU},   {"selu", DGM_ACT_SELU}, {"gelu", DGM_ACT_GELU},
                {"silu", DGM_ACT_SILU}, {"sigmoid", DGM_ACT_SIGMOID}};
    for (size_t i = 0; name && i < sizeof acts / sizeof acts[0]; i++)
        if (!strcmp(name, acts[i].name)) return (int)acts[i].act;
    return -1;
}

int dgm_model_parse_widths(const char *text, int64_t *out, int max)
{
    int n = 0;
    for (const char *p = text; p;) {
        char *end = NULL;
        const long long v = strtoll(p, &end, 10);
        if (end == p || v < 1 || v > 65536 || n == max) return -1;
        out[n++] = v;
        if (*end == 0) return n;
        if (*end != ',') return -1;
        p = end + 1;
    }
    return -1;
}

/* Is `name` in the comma-separated list `list`? */
bool dgm_model_in_list(const char *list, const char *name, size_t len)
{
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == len && !strncmp(p, name, len)) return true;
        p = e ? e + 1 : NULL;
    }
    return false;
}

dgm_status dgm_model_mean_metric(dgm_model *m, const float *x, int64_t n, const char *name,
                                 double *mean)
{
    DGM_MODEL_FP_SCOPE(m->ctx);
    dgm_ctx *ctx = m->ctx;
    const int64_t B = 1000;
    double total = 0.0;
    dgm_status st = DGM_STATUS_OK;
    for (int64_t i = 0; i < n && st == DGM_STATUS_OK; i += B) {
        const int64_t rows = n - i < B ? n - i : B, shape[2] = {rows, m->dim};
        dgm_tensor *batch = NULL;
        double sum = 0.0;
        st = dgm_tensor_from_host(ctx, 2, shape, x + i * m->dim, &batch);
        if (st == DGM_STATUS_OK) st = m->ops->evaluate_batch(m, batch, name, &sum);
        const dgm_status end = dgm_ctx_step_end(ctx);
        if (st == DGM_STATUS_OK) st = end;
        total += sum;
    }
    DGM_TRY(st);
    *mean = total / (double)n;
    if (!isfinite(*mean)) return dgm_set_error(ctx, DGM_STATUS_NOT_FINITE, "metric %s is not finite", name);
    return DGM_STATUS_OK;
}

/* notes += "; " + note, when note is new to it. */
static void add_note(char *notes, size_t size, const char *note)
{
    const size_t used = strlen(notes), len = strlen(note), sep = used ? 2 : 0;
    if (!len || strstr(notes, note) || used + sep + len >= size) return;
    memcpy(notes + used, "; ", sep);
    memcpy(notes + used + sep, note, len + 1);
}

dgm_status dgm_model_evaluate(dgm_model *m, const dgm_dataset *data, const char *metrics,
                              char *out, size_t out_len)
{
    if (!m) return DGM_STATUS_INVALID_ARGUMENT;
    if (!data || !out || !out_len)
        return dgm_set_error(m->ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_model_evaluate: data and out must not be NULL, out_len > 0");
    dgm_ctx *ctx = m->ctx;
    DGM_MODEL_FP_SCOPE(ctx);
    if (dgm_dataset_dim(data) != m->dim)
        return dgm_set_error(ctx, DGM_STATUS_SHAPE_MISMATCH,
                             "evaluate: data has %lld values per sample, the %s model %lld",
                             (long long)dgm_dataset_dim(data), m->ops->kind, (long long)m->dim);
    if (!metrics || !*metrics) metrics = m->ops->default_metrics;
    bool grad = dgm_ctx_grad_enabled(ctx);
    dgm_ctx_set_grad_enabled(ctx, false);
    json_t *result = json_object();
    dgm_status st = DGM_STATUS_OK;
    const int64_t n = dgm_dataset_count(data);
    /* each metric's note (the family's word on how it computed it), joined */
    char notes[sizeof m->note] = "";
    for (const char *p = metrics; p && *p && st == DGM_STATUS_OK; add_note(notes, sizeof notes, m->note)) {
        m->note[0] = '\0';
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(len < 63 ? len : 63), p);
        if (!dgm_model_in_list(m->ops->metrics, p, len)) {
            st = dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                               "unknown metric '%s' for %s (valid: %s)", name, m->ops->kind,
                               m->ops->metrics);
            break;
        }
        if (m->ops->evaluate_samples && dgm_model_in_list(m->ops->sample_metrics, p, len)) {
            double v = NAN;
            st = m->ops->evaluate_samples(m, data, name, &v);
            dgm_ctx_step_end(ctx);
            if (st == DGM_STATUS_OK) /* NaN (nothing to measure) is written as null */
                json_object_set_new(result, name, isfinite(v) ? json_real(v) : json_null());
            p = e ? e + 1 : NULL;
            continue;
        }
        double v = NAN;
        st = dgm_model_mean_metric(m, dgm_dataset_data(data), n, name, &v);
        if (st == DGM_STATUS_OK) json_object_set_new(result, name, json_real(v));
        p = e ? e + 1 : NULL;
    }
    dgm_ctx_set_grad_enabled(ctx, grad);
    memcpy(m->note, notes, sizeof m->note);
    if (st == DGM_STATUS_OK) {
        char *text = json_dumps(result, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
        if (!text) st = dgm_set_error(ctx, DGM_STATUS_OOM, "out of host memory");
        else if (strlen(text) >= out_len)
            st = dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "evaluate: output buffer too small");
        else strcpy(out, text);
        free(text);
    }
    json_decref(result);
    return st;
}
