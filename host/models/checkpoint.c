/* Model checkpoints on safetensors: parameters and buffers under their PyTorch names in
 * checkpoint.safetensors, training metadata in its __metadata__, the optimizer state in a
 * per-step file beside it (so a crash between the two writes never pairs a checkpoint
 * with another step's optimizer state). */
#define _POSIX_C_SOURCE 200809L /* strdup, unlink */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/model_impl.h"
#include "ops/ops_common.h"

#define META_MAX 16

typedef struct meta_list {
    const char *keys[META_MAX];
    const char *values[META_MAX];
    char owned[META_MAX][64];
    int n;
} meta_list;

static void meta_add(meta_list *ml, const char *key, const char *value)
{
    if (ml->n < META_MAX) {
        ml->keys[ml->n] = key;
        ml->values[ml->n] = value;
        ml->n++;
    }
}

static void meta_add_int(meta_list *ml, const char *key, int64_t v)
{
    if (ml->n < META_MAX) {
        snprintf(ml->owned[ml->n], sizeof ml->owned[0], "%" PRId64, v);
        meta_add(ml, key, ml->owned[ml->n]);
    }
}

/* "dir/checkpoint.safetensors" -> "dir/" + name, into buf. */
static void sibling_path(const char *path, const char *name, char *buf, size_t len)
{
    const char *slash = strrchr(path, '/');
    if (slash) snprintf(buf, len, "%.*s/%s", (int)(slash - path), path, name);
    else snprintf(buf, len, "%s", name);
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* A checkpoint is untrusted input: the optimizer file it names must be a plain file name
 * of the form dgm writes, "<name>.optimizer-<step>.safetensors", which stays in the
 * checkpoint's folder (no '/', no leading '.'). To be removed it must also carry the
 * checkpoint's own name (the files dgm_model_save writes beside it), so a crafted
 * checkpoint can neither make dgm read a file elsewhere nor delete one it did not write. */
static bool optimizer_name_ok(const char *ckpt_path, const char *name, bool own_prefix)
{
    const char *mark = strstr(name, ".optimizer-");
    if (!mark || mark == name || name[0] == '.' || strchr(name, '/')) return false;
    if (own_prefix && ((size_t)(mark - name) != strlen(base_name(ckpt_path)) ||
                       strncmp(name, base_name(ckpt_path), (size_t)(mark - name))))
        return false;
    const char *p = mark + strlen(".optimizer-");
    if (*p < '0' || *p > '9') return false;
    while (*p >= '0' && *p <= '9') p++;
    return !strcmp(p, ".safetensors");
}

/* Copies device buffers to host for writing; frees what it made on failure. */
static dgm_status params_to_host(dgm_model *m, dgm_st_tensor *ts, float **host)
{
    dgm_params *p = m->params;
    const int n = dgm_params_count(p);
    for (int i = 0; i < n; i++) {
        dgm_tensor *t = dgm_params_at(p, i);
        host[i] = malloc((size_t)dgm_tensor_numel(t) * sizeof(float));
        if (!host[i]) return dgm_set_error(m->ctx, DGM_STATUS_OOM, "out of host memory");
        DGM_TRY(dgm_tensor_to_host(m->ctx, t, host[i]));
        ts[i].name = dgm_params_name(p, i);
        ts[i].ndim = dgm_tensor_ndim(t);
        for (int d = 0; d < ts[i].ndim; d++) ts[i].shape[d] = dgm_tensor_dim(t, d);
        ts[i].data = host[i];
    }
    return DGM_STATUS_OK;
}

/* The optimizers whose state goes with a checkpoint: the trainer's one (saved under its
 * state names), or the players' own of a model that steps its own (a GAN: each under its
 * parameter prefix, "discriminator.exp_avg"). */
typedef struct optim_list {
    int n;
    dgm_optim *o[DGM_MODEL_MAX_OPTIMIZERS];
    const char *prefix[DGM_MODEL_MAX_OPTIMIZERS];
} optim_list;

#define OPTIM_TENSORS_MAX (4 * DGM_MODEL_MAX_OPTIMIZERS)

static dgm_status optimizers_of(dgm_model *m, dgm_optim *trainer_optim, optim_list *l)
{
    memset(l, 0, sizeof *l);
    if (trainer_optim) {
        l->n = 1, l->o[0] = trainer_optim, l->prefix[0] = "";
        return DGM_STATUS_OK;
    }
    if (!m->ops->own_optimizers) return DGM_STATUS_OK;
    return m->ops->own_optimizers(m, NULL, &l->n, l->o, l->prefix);
}

/* "<prefix><key>" into buf: a metadata key or a tensor name of one optimizer. */
static const char *prefixed(char *buf, size_t len, const char *prefix, const char *key)
{
    snprintf(buf, len, "%s%s", prefix, key);
    return buf;
}

static dgm_status save_optimizer(dgm_model *m, const char *path, const optim_list *l, int64_t step)
{
    dgm_ctx *ctx = m->ctx;
    dgm_st_tensor ts[OPTIM_TENSORS_MAX];
    float *host[OPTIM_TENSORS_MAX] = {0};
    char names[OPTIM_TENSORS_MAX][96], keys[2 * DGM_MODEL_MAX_OPTIMIZERS][96];
    char lr[DGM_MODEL_MAX_OPTIMIZERS][32];
    int nt = 0;
    dgm_status st = DGM_STATUS_OK;
    meta_list ml = {0};
    meta_add(&ml, "format", "dgm-optimizer");
    meta_add_int(&ml, "step", step);
    for (int k = 0; k < l->n && st == DGM_STATUS_OK; k++) {
        dgm_optim *o = l->o[k];
        const int64_t numel = dgm_optim_numel(o);
        for (int i = 0; i < dgm_optim_state_count(o) && i < 4 && st == DGM_STATUS_OK; i++, nt++) {
            host[nt] = malloc((size_t)numel * sizeof(float));
            if (!host[nt]) st = dgm_set_error(ctx, DGM_STATUS_OOM, "out of host memory");
            else st = ctx->be->copy(ctx, host[nt], dgm_optim_state_data(o, i), (size_t)numel * sizeof(float),
                                    DGM_COPY_DEVICE_TO_HOST);
            ts[nt].name = prefixed(names[nt], sizeof names[0], l->prefix[k], dgm_optim_state_name(o, i));
            ts[nt].ndim = 1;
            ts[nt].shape[0] = numel;
            ts[nt].data = host[nt];
        }
        snprintf(lr[k], sizeof lr[0], "%.9g", (double)dgm_optim_lr(o));
        meta_add_int(&ml, prefixed(keys[2 * k], sizeof keys[0], l->prefix[k], "optimizer_steps"),
                     dgm_optim_steps(o));
        meta_add(&ml, prefixed(keys[2 * k + 1], sizeof keys[0], l->prefix[k], "lr"), lr[k]);
    }
    if (st == DGM_STATUS_OK) st = dgm_safetensors_save(ctx, path, ts, nt, ml.keys, ml.values, ml.n);
    for (int i = 0; i < OPTIM_TENSORS_MAX; i++) free(host[i]);
    return st;
}

dgm_status dgm_model_save(dgm_model *m, const char *path, const dgm_train_state *state)
{
    if (!m || !path) return DGM_STATUS_INVALID_ARGUMENT;
    dgm_ctx *ctx = m->ctx;
    const int n = dgm_params_count(m->params);
    dgm_st_tensor *ts = calloc((size_t)n, sizeof *ts);
    float **host = calloc((size_t)n, sizeof *host);
    dgm_status st = ts && host ? params_to_host(m, ts, host)
                               : dgm_set_error(ctx, DGM_STATUS_OOM, "out of host memory");
    /* The previous optimizer file, removed once the new checkpoint is in place. */
    char *old_optim = NULL;
    char optim_name[256] = "", optim_path[4096];
    const int64_t step = state ? state->step : 0;
    optim_list optims = {0};
    if (st == DGM_STATUS_OK && state) st = optimizers_of(m, state->optim, &optims);
    if (st == DGM_STATUS_OK && optims.n > 0) {
        if (dgm_checkpoint_meta(ctx, path, "optimizer", &old_optim) != DGM_STATUS_OK) old_optim = NULL;
        snprintf(optim_name, sizeof optim_name, "%s.optimizer-%" PRId64 ".safetensors",
                 base_name(path), step);
        sibling_path(path, optim_name, optim_path, sizeof optim_path);
        st = save_optimizer(m, optim_path, &optims, step);
    }
    if (st == DGM_STATUS_OK) {
        meta_list ml = {0};
        uint64_t seed = 0, offset = 0;
        dgm_ctx_rng_state(ctx, &seed, &offset);
        meta_add(&ml, "format", "dgm-checkpoint");
        meta_add(&ml, "dgm_version", dgm_version());
        meta_add(&ml, "model", m->ops->kind);
        meta_add(&ml, "config", m->config_text);
        /* "dim s0 [s1 [s2]]": the sample size and shape */
        char dims[128];
        int k = snprintf(dims, sizeof dims, "%" PRId64, m->dim);
        for (int d = 0; d < m->sample_ndim; d++)
            k += snprintf(dims + k, sizeof dims - (size_t)k, " %" PRId64, m->sample_shape[d]);
        meta_add(&ml, "dim", dims);
        meta_add_int(&ml, "step", step);
        meta_add_int(&ml, "rng_seed", (int64_t)seed);
        meta_add_int(&ml, "rng_offset", (int64_t)offset);
        if (optim_name[0]) meta_add(&ml, "optimizer", optim_name);
        if (state && state->loader) {
            int64_t epoch = 0, batch = 0;
            dgm_loader_position(state->loader, &epoch, &batch);
            meta_add_int(&ml, "loader_epoch", epoch);
            meta_add_int(&ml, "loader_batch", batch);
        }
        if (state && state->data) meta_add(&ml, "data", state->data);
        if (state && state->extra_json) meta_add(&ml, "extra", state->extra_json);
        st = dgm_safetensors_save(ctx, path, ts, n, ml.keys, ml.values, ml.n);
        if (st != DGM_STATUS_OK && optim_name[0]) unlink(optim_path); /* never referenced */
    }
    if (st == DGM_STATUS_OK && old_optim && strcmp(old_optim, optim_name) && optimizer_name_ok(path, old_optim, true)) {
        char old_path[4096];
        sibling_path(path, old_optim, old_path, sizeof old_path);
        unlink(old_path);
    }
    free(old_optim);
    for (int i = 0; host && i < n; i++) free(host[i]);
    free(host);
    free(ts);
    return st;
}

dgm_status dgm_checkpoint_meta(dgm_ctx *ctx, const char *path, const char *key, char **out)
{
    *out = NULL;
    dgm_safetensors *st = NULL;
    DGM_TRY(dgm_safetensors_load(ctx, path, &st));
    const char *v = dgm_safetensors_meta(st, key);
    dgm_status s = DGM_STATUS_OK;
    if (!v) s = dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT, "%s has no metadata '%s'", path, key);
    else if (!(*out = strdup(v))) s = dgm_set_error(ctx, DGM_STATUS_OOM, "out of host memory");
    dgm_safetensors_free(st);
    return s;
}

/* The model's parameters and buffers must be exactly the checkpoint's tensors: the same
 * names and shapes, as many. Runs before the parameters are allocated, so a config in a
 * hostile file cannot make dgm allocate more than the file holds. */
static dgm_status check_tensors(dgm_model *m, const dgm_safetensors *st, const char *path)
{
    dgm_ctx *ctx = m->ctx;
    const int n = dgm_params_count(m->params);
    for (int i = 0; i < n; i++) {
        const char *name = dgm_params_name(m->params, i);
        const dgm_tensor *t = dgm_params_at(m->params, i);
        int k = dgm_safetensors_find(st, name);
        if (k < 0)
            return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT, "%s: no tensor '%s' for this %s model",
                                 path, name, m->ops->kind);
        bool same = dgm_safetensors_ndim(st, k) == dgm_tensor_ndim(t);
        for (int d = 0; same && d < dgm_tensor_ndim(t); d++)
            same = dgm_safetensors_shape(st, k)[d] == dgm_tensor_dim(t, d);
        if (!same)
            return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                                 "%s: tensor '%s' has another shape than the model's", path, name);
    }
    if (dgm_safetensors_count(st) != n)
        return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                             "%s: %d tensors, the %s model has %d", path,
                             dgm_safetensors_count(st), m->ops->kind, n);
    return DGM_STATUS_OK;
}

/* Copies every parameter and buffer of the checkpoint into m. */
static dgm_status load_params(dgm_model *m, const dgm_safetensors *st, const char *path)
{
    DGM_TRY(check_tensors(m, st, path));
    for (int i = 0; i < dgm_params_count(m->params); i++)
        DGM_TRY(dgm_tensor_copy_from_host(m->ctx, dgm_params_at(m->params, i),
                                          dgm_safetensors_data(st, dgm_safetensors_find(st, dgm_params_name(m->params, i)))));
    return DGM_STATUS_OK;
}

typedef struct tensors_of {
    const dgm_safetensors *st;
    const char *path;
} tensors_of;

static dgm_status check_declared(dgm_model *m, void *arg)
{
    const tensors_of *f = arg;
    return check_tensors(m, f->st, f->path);
}

/* Whether `name` is an option of `ops` that may change at load: one that only says how the
 * model samples. Others (widths, the schedule, T) fix what the weights mean: a DDPM trained
 * with a linear schedule of 1000 steps and sampled with a cosine one of 5 gives garbage. */
static bool replaceable_at_load(const dgm_model_ops *ops, const char *name)
{
    char key[80];
    snprintf(key, sizeof key, " %s ", name);
    return ops->sampling_options && strstr(ops->sampling_options, key);
}

static bool is_option(const dgm_model_ops *ops, const char *name)
{
    for (const dgm_model_option *o = ops->options; o->name; o++)
        if (!strcmp(o->name, name)) return true;
    return false;
}

/* The checkpoint's config with the family's legacy options filled in where it lacks them
 * (what a checkpoint written before they existed meant), as a malloc'd JSON text in *out,
 * or *out NULL when nothing was missing. */
static dgm_status with_legacy_options(dgm_ctx *ctx, const char *kind, const char *config, char **out)
{
    *out = NULL;
    const dgm_model_ops *ops = dgm_model_find_ops(kind);
    if (!ops || !ops->legacy_options) return DGM_STATUS_OK;
    json_t *cfg = json_loads(config, 0, NULL);
    if (!json_is_object(cfg)) { /* dgm_model_create names the fault */
        json_decref(cfg);
        return DGM_STATUS_OK;
    }
    bool changed = false;
    for (const dgm_model_option *o = ops->legacy_options; o->name; o++)
        if (!json_object_get(cfg, o->name)) {
            json_object_set_new(cfg, o->name, json_string(o->default_value));
            changed = true;
        }
    dgm_status st = DGM_STATUS_OK;
    if (changed && !(*out = json_dumps(cfg, JSON_COMPACT | JSON_PRESERVE_ORDER)))
        st = dgm_set_error(ctx, DGM_STATUS_OOM, "out of host memory");
    json_decref(cfg);
    return st;
}

/* The checkpoint's config with the options in overrides_json replacing its own, as a
 * malloc'd JSON text in *out. An unknown option is left to dgm_model_create's message. */
static dgm_status merged_config(dgm_ctx *ctx, const char *kind, const char *config,
                                const char *overrides_json, char **out)
{
    json_t *cfg = json_loads(config, 0, NULL), *over = json_loads(overrides_json, 0, NULL);
    const dgm_model_ops *ops = dgm_model_find_ops(kind);
    dgm_status st = DGM_STATUS_OK;
    *out = NULL;
    if (!json_is_object(cfg) || !ops)
        st = dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT, "the checkpoint's config is not a JSON object of a known model");
    else if (!json_is_object(over))
        st = dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_model_load_with: overrides must be a JSON object");
    const char *key;
    json_t *v;
    if (st == DGM_STATUS_OK) {
        json_object_foreach(over, key, v) {
            if (!is_option(ops, key) || replaceable_at_load(ops, key)) continue;
            const char *can = ops->sampling_options;
            st = dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                               "%s: fixed by the checkpoint (it says what the %s's weights mean); loading "
                               "can change %s%.*s", key, ops->kind, can ? "only:" : "none of its options",
                               can ? (int)strlen(can) - 1 : 0, can ? can : "");
            break;
        }
    }
    if (st == DGM_STATUS_OK && (json_object_update(cfg, over) || !(*out = json_dumps(cfg, JSON_COMPACT | JSON_PRESERVE_ORDER))))
        st = dgm_set_error(ctx, DGM_STATUS_OOM, "out of host memory");
    json_decref(cfg);
    json_decref(over);
    return st;
}

/* The "dim" metadata, "D [S0 [S1 [S2]]]": the sample size and its shape, whose product is D
 * (no shape: a vector). false when it is anything else. */
static bool parse_dims(const char *text, int64_t *dim, int *ndim, int64_t shape[3])
{
    int64_t v[4];
    int n = 0;
    const char *p = text;
    while (*p) {
        if (n == 4 || *p < '0' || *p > '9') return false;
        char *end = NULL;
        errno = 0;
        long long x = strtoll(p, &end, 10);
        if (errno || x < 1 || x > ((int64_t)1 << 40)) return false;
        v[n++] = x;
        p = end;
        if (*p == ' ') p++;
        else if (*p) return false;
    }
    if (n == 0) return false;
    int64_t prod = 1;
    for (int i = 1; i < n; i++) {
        if (v[i] > v[0] / prod) return false;
        prod *= v[i];
    }
    if (n > 1 && prod != v[0]) return false;
    *dim = v[0];
    *ndim = n - 1;
    for (int i = 1; i < n; i++) shape[i - 1] = v[i];
    return true;
}

/* The model in a parsed checkpoint; `path` names the file in messages. */
static dgm_status load_parsed(dgm_ctx *ctx, const dgm_safetensors *st, const char *path,
                              const char *overrides_json, dgm_model **out)
{
    const char *kind = dgm_safetensors_meta(st, "model"), *config = dgm_safetensors_meta(st, "config");
    const char *fmt = dgm_safetensors_meta(st, "format");
    const char *dim_text = dgm_safetensors_meta(st, "dim");
    if (!fmt || strcmp(fmt, "dgm-checkpoint") || !kind || !config || !dim_text)
        return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                             "%s is not a dgm checkpoint (metadata format/model/config/dim missing)", path);
    int64_t dim = 0, shape[3] = {0};
    int nd = 0;
    if (!parse_dims(dim_text, &dim, &nd, shape))
        return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                             "%s: metadata dim '%.40s' is not a size and a shape of that size", path, dim_text);
    char *merged = NULL, *upgraded = NULL;
    dgm_status s = with_legacy_options(ctx, kind, config, &upgraded);
    if (upgraded) config = upgraded;
    if (s == DGM_STATUS_OK && overrides_json) s = merged_config(ctx, kind, config, overrides_json, &merged);
    if (s != DGM_STATUS_OK) {
        free(upgraded);
        return s;
    }
    tensors_of file = {st, path};
    dgm_model *m = NULL;
    s = dgm_model_create_checked(ctx, kind, merged ? merged : config, dim, nd, shape, check_declared,
                                 &file, &m);
    /* A config (or kind) the model refuses is the file's fault unless an override made it
     * so: then the override's message stands (INVALID_ARGUMENT, the caller's). */
    if (s == DGM_STATUS_INVALID_ARGUMENT) {
        char why[1024];
        snprintf(why, sizeof why, "%s", dgm_last_error(ctx));
        bool file_at_fault = !merged;
        if (merged) {
            dgm_model *plain = NULL;
            file_at_fault = dgm_model_create_checked(ctx, kind, config, dim, nd, shape, check_declared,
                                                     &file, &plain) != DGM_STATUS_OK;
            if (file_at_fault) snprintf(why, sizeof why, "%s", dgm_last_error(ctx));
            dgm_model_free(plain);
        }
        s = file_at_fault ? dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT, "%s: its model config is not valid: %s", path, why)
                          : dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s", why);
    }
    free(merged);
    free(upgraded);
    if (s == DGM_STATUS_OK) s = load_params(m, st, path);
    if (s == DGM_STATUS_OK && m->ops->ready) s = m->ops->ready(m);
    if (s != DGM_STATUS_OK) {
        dgm_model_free(m);
        return s;
    }
    *out = m;
    return DGM_STATUS_OK;
}

dgm_status dgm_model_load(dgm_ctx *ctx, const char *path, dgm_model **out)
{
    return dgm_model_load_with(ctx, path, NULL, out);
}

dgm_status dgm_model_load_with(dgm_ctx *ctx, const char *path, const char *overrides_json,
                               dgm_model **out)
{
    DGM_TRY(dgm_check_ctx(ctx));
    if (!out) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_model_load: out is NULL");
    *out = NULL;
    dgm_safetensors *st = NULL;
    DGM_TRY(dgm_safetensors_load(ctx, path, &st));
    dgm_status s = load_parsed(ctx, st, path, overrides_json, out);
    dgm_safetensors_free(st);
    return s;
}

dgm_status dgm_model_load_memory(dgm_ctx *ctx, const void *bytes, size_t len, const char *overrides_json,
                                 dgm_model **out)
{
    DGM_TRY(dgm_check_ctx(ctx));
    if (!out) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_model_load_memory: out is NULL");
    *out = NULL;
    if (!bytes) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_model_load_memory: bytes is NULL");
    dgm_safetensors *st = NULL;
    DGM_TRY(dgm_safetensors_parse(ctx, bytes, len, &st));
    dgm_status s = load_parsed(ctx, st, "the checkpoint in memory", overrides_json, out);
    dgm_safetensors_free(st);
    return s;
}

static dgm_status meta_int(dgm_ctx *ctx, const dgm_safetensors *st, const char *path,
                           const char *key, int64_t *v)
{
    const char *text = dgm_safetensors_meta(st, key);
    char *end = NULL;
    errno = 0;
    long long x = text ? strtoll(text, &end, 10) : 0;
    if (!text || end == text || *end || errno)
        return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT, "%s: metadata '%s' is missing or not an integer",
                             path, key);
    *v = x;
    return DGM_STATUS_OK;
}

static dgm_status load_optimizer(dgm_model *m, const char *path, const char *name, const optim_list *l,
                                 int64_t step)
{
    dgm_ctx *ctx = m->ctx;
    if (!optimizer_name_ok(path, name, false))
        return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                             "%s names its optimizer state '%s', not a file of the form "
                             "NAME.optimizer-STEP.safetensors beside it: refused", path, name);
    char opath[4096];
    sibling_path(path, name, opath, sizeof opath);
    dgm_safetensors *st = NULL;
    DGM_TRY(dgm_safetensors_load(ctx, opath, &st));
    int64_t ostep = -1;
    dgm_status s = meta_int(ctx, st, opath, "step", &ostep);
    if (s == DGM_STATUS_OK && ostep != step)
        s = dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT, "%s is the state of step %lld, the checkpoint's is %lld",
                          opath, (long long)ostep, (long long)step);
    char key[96];
    for (int k = 0; s == DGM_STATUS_OK && k < l->n; k++) {
        dgm_optim *o = l->o[k];
        int64_t osteps = 0;
        s = meta_int(ctx, st, opath, prefixed(key, sizeof key, l->prefix[k], "optimizer_steps"), &osteps);
        const int64_t numel = dgm_optim_numel(o);
        for (int i = 0; s == DGM_STATUS_OK && i < dgm_optim_state_count(o); i++) {
            const char *tname = prefixed(key, sizeof key, l->prefix[k], dgm_optim_state_name(o, i));
            int t = dgm_safetensors_find(st, tname);
            if (t < 0 || dgm_safetensors_numel(st, t) != numel)
                s = dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                                  "%s has no '%s' of %lld values (another optimizer?)", opath, tname,
                                  (long long)numel);
            else
                s = ctx->be->copy(ctx, dgm_optim_state_data(o, i), dgm_safetensors_data(st, t),
                                  (size_t)numel * sizeof(float), DGM_COPY_HOST_TO_DEVICE);
        }
        if (s == DGM_STATUS_OK) dgm_optim_set_steps(o, osteps);
    }
    dgm_safetensors_free(st);
    return s;
}

dgm_status dgm_model_load_train_state(dgm_model *m, const char *path, dgm_optim *optim,
                                      dgm_loader *loader, int64_t *step)
{
    if (!m || !path) return DGM_STATUS_INVALID_ARGUMENT;
    dgm_ctx *ctx = m->ctx;
    dgm_safetensors *st = NULL;
    DGM_TRY(dgm_safetensors_load(ctx, path, &st));
    int64_t s_step = 0, seed = 0, offset = 0, epoch = 0, batch = 0;
    dgm_status s = meta_int(ctx, st, path, "step", &s_step);
    if (s == DGM_STATUS_OK) s = meta_int(ctx, st, path, "rng_seed", &seed);
    if (s == DGM_STATUS_OK) s = meta_int(ctx, st, path, "rng_offset", &offset);
    if (s == DGM_STATUS_OK && loader) s = meta_int(ctx, st, path, "loader_epoch", &epoch);
    if (s == DGM_STATUS_OK && loader) s = meta_int(ctx, st, path, "loader_batch", &batch);
    const char *oname = dgm_safetensors_meta(st, "optimizer");
    optim_list optims = {0};
    if (s == DGM_STATUS_OK) s = optimizers_of(m, optim, &optims);
    if (s == DGM_STATUS_OK && optims.n > 0 && !oname)
        s = dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT, "%s holds no optimizer state", path);
    if (s == DGM_STATUS_OK && optims.n > 0) s = load_optimizer(m, path, oname, &optims, s_step);
    if (s == DGM_STATUS_OK) s = load_params(m, st, path);
    if (s == DGM_STATUS_OK) s = dgm_ctx_set_rng_state(ctx, (uint64_t)seed, (uint64_t)offset);
    if (s == DGM_STATUS_OK && loader) s = dgm_loader_seek(loader, epoch, batch);
    if (s == DGM_STATUS_OK && step) *step = s_step;
    dgm_safetensors_free(st);
    return s;
}
