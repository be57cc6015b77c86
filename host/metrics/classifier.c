/* dgm's own image classifier: an MLP whose last hidden layer gives the features of the
 * Fréchet distance and whose softmax gives the Inception-style score's probabilities.
 *
 * Layout: fc1 .. fc{L} (ReLU after each, dropout between them while training) form a
 * dgm_mlp "trunk" whose output is the features; fc{L+1} is the head. The labels live on
 * the device with the images (a labelled loader) and become one-hot rows each step
 * (dgm_one_hot). Cross-entropy is composed from recorded ops: logsumexp of the
 * logits minus the true class's logit (the logits times the one-hot rows, summed). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "dgm/data.h"
#include "dgm/metrics.h"
#include "dgm/nn.h"
#include "dgm/optim.h"
#include "dgm/safetensors.h"
#include "dgm/train.h"

#define CHUNK_ROWS 1000
#define MAX_LAYERS (DGM_CLASSIFIER_MAX_HIDDEN + 1)
#define MAX_WIDTH ((int64_t)1 << 20)
#define N_TRAIN_META 7

struct dgm_classifier {
    dgm_ctx *ctx;
    dgm_params *params;
    dgm_mlp *trunk;  /* x -> features: fc1 .. fc{L}, ReLU after each */
    dgm_linear head; /* features -> logits: fc{L+1} */
    int n_hidden;
    int64_t widths[MAX_LAYERS + 1]; /* in, hidden widths, classes */
    float dropout;
    /* How it was trained, kept as metadata (a loaded file's are carried over). */
    int n_meta;
    char meta_keys[N_TRAIN_META][16];
    char meta_values[N_TRAIN_META][32];
};

dgm_classifier_options dgm_classifier_options_default(void)
{
    dgm_classifier_options o;
    memset(&o, 0, sizeof o);
    o.n_hidden = 2;
    o.hidden[0] = 512;
    o.hidden[1] = 128;
    o.epochs = 30;
    o.batch = 128;
    o.lr = 1e-3f;
    o.weight_decay = 0.0f;
    o.dropout = 0.2f;
    o.seed = 0;
    return o;
}

void dgm_classifier_free(dgm_classifier *clf)
{
    if (!clf) return;
    dgm_mlp_free(clf->trunk);
    dgm_params_free(clf->params);
    free(clf);
}

dgm_ctx *dgm_classifier_ctx(const dgm_classifier *clf) { return clf ? clf->ctx : NULL; }
int64_t dgm_classifier_input_dim(const dgm_classifier *clf) { return clf ? clf->widths[0] : 0; }
int64_t dgm_classifier_feature_dim(const dgm_classifier *clf)
{
    return clf ? clf->widths[clf->n_hidden] : 0;
}
int dgm_classifier_classes(const dgm_classifier *clf)
{
    return clf ? (int)clf->widths[clf->n_hidden + 1] : 0;
}

/* Declares and allocates the network: widths [in, hidden..., classes]. `init` is PyTorch's
 * for training and zeros for loading (so loading draws nothing from the generator). */
static dgm_status build(dgm_ctx *ctx, int n_hidden, const int64_t *widths, float dropout,
                        dgm_nn_init init, dgm_classifier **out)
{
    dgm_classifier *clf = calloc(1, sizeof *clf);
    if (!clf) return dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_classifier: out of host memory");
    clf->ctx = ctx;
    clf->n_hidden = n_hidden;
    clf->dropout = dropout;
    memcpy(clf->widths, widths, (size_t)(n_hidden + 2) * sizeof *widths);
    char names[MAX_LAYERS][8];
    const char *linear_names[MAX_LAYERS];
    for (int i = 0; i <= n_hidden; i++) {
        snprintf(names[i], sizeof names[i], "fc%d", i + 1);
        linear_names[i] = names[i];
    }
    dgm_mlp_config cfg = dgm_mlp_config_default();
    cfg.activation = DGM_ACT_RELU;
    cfg.output_activation = DGM_ACT_RELU; /* the features are post-ReLU, as Inception's */
    cfg.dropout = dropout;
    cfg.init = init;
    cfg.linear_names = linear_names;
    dgm_status st = dgm_params_create(ctx, &clf->params);
    if (st == DGM_STATUS_OK)
        st = dgm_mlp_create(clf->params, NULL, n_hidden + 1, widths, &cfg, &clf->trunk);
    if (st == DGM_STATUS_OK)
        st = dgm_linear_declare(clf->params, names[n_hidden], widths[n_hidden],
                                widths[n_hidden + 1], true, init, 0.0f, &clf->head);
    if (st == DGM_STATUS_OK) st = dgm_params_alloc(clf->params);
    if (st != DGM_STATUS_OK) {
        dgm_classifier_free(clf);
        return st;
    }
    *out = clf;
    return DGM_STATUS_OK;
}

static dgm_status check_options(dgm_ctx *ctx, const dgm_classifier_options *o)
{
    if (o->n_hidden < 1 || o->n_hidden > DGM_CLASSIFIER_MAX_HIDDEN)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_classifier_train: n_hidden %d (1 to %d)", o->n_hidden,
                             DGM_CLASSIFIER_MAX_HIDDEN);
    for (int i = 0; i < o->n_hidden; i++)
        if (o->hidden[i] < 1 || o->hidden[i] > MAX_WIDTH)
            return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                                 "dgm_classifier_train: hidden width %d is %lld (1 to %lld)", i,
                                 (long long)o->hidden[i], (long long)MAX_WIDTH);
    if (o->epochs < 1 || o->batch < 1 || !(o->lr > 0.0f) || !isfinite(o->lr) ||
        !(o->weight_decay >= 0.0f) || !isfinite(o->weight_decay) || !(o->dropout >= 0.0f) ||
        !(o->dropout < 1.0f))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_classifier_train: needs epochs >= 1 (%lld), batch >= 1 (%lld), "
                             "lr > 0 (%g), weight_decay >= 0 (%g), dropout in [0, 1) (%g)",
                             (long long)o->epochs, (long long)o->batch, (double)o->lr,
                             (double)o->weight_decay, (double)o->dropout);
    return DGM_STATUS_OK;
}

/* The number of classes (largest label + 1) after checking the labels. */
static dgm_status count_classes(dgm_ctx *ctx, const dgm_dataset *train, int64_t batch,
                                int *classes)
{
    const int32_t *labels = dgm_dataset_labels(train);
    const int64_t n = dgm_dataset_count(train);
    if (!labels)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_classifier_train: the training set has no labels");
    if (n < batch)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_classifier_train: %lld training rows, fewer than a batch (%lld)",
                             (long long)n, (long long)batch);
    int32_t top = 0;
    for (int64_t i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= DGM_DATASET_MAX_CLASSES)
            return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                                 "dgm_classifier_train: label %d of row %lld is outside [0, %d)",
                                 (int)labels[i], (long long)i, DGM_DATASET_MAX_CLASSES);
        if (labels[i] > top) top = labels[i];
    }
    if (top < 1)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_classifier_train: the labels name one class only");
    *classes = top + 1;
    return DGM_STATUS_OK;
}

/* Logits [B, classes] of x [B, in]; `training` turns dropout on. */
static dgm_status forward(dgm_classifier *clf, dgm_tensor *x, bool training, dgm_tensor **features,
                          dgm_tensor **logits)
{
    dgm_ctx *ctx = clf->ctx;
    dgm_tensor *h, *hd;
    DGM_TRY(dgm_mlp_forward(ctx, clf->trunk, x, training, &h));
    if (features) *features = h;
    if (!logits) return DGM_STATUS_OK;
    /* dgm_mlp puts dropout only between its hidden layers: this one follows the last. */
    DGM_TRY(dgm_dropout(ctx, h, clf->dropout, training && clf->dropout > 0.0f, &hd));
    return dgm_linear_forward(ctx, &clf->head, hd, DGM_ACT_NONE, 0.0f, logits);
}

/* Mean softmax cross-entropy of the logits against one-hot rows y: mean(lse(l) − Σ l·y). */
static dgm_status cross_entropy(dgm_ctx *ctx, dgm_tensor *logits, dgm_tensor *y, dgm_tensor **loss)
{
    dgm_tensor *lse, *masked, *picked, *nll;
    DGM_TRY(dgm_logsumexp_rows(ctx, logits, &lse));
    DGM_TRY(dgm_mul(ctx, logits, y, &masked));
    DGM_TRY(dgm_sum(ctx, masked, DGM_AXIS_ROWS, &picked));
    DGM_TRY(dgm_sub(ctx, lse, picked, &nll));
    return dgm_mean(ctx, nll, DGM_AXIS_ALL, loss);
}

static void meta_set(dgm_classifier *clf, const char *key, const char *value)
{
    if (clf->n_meta >= N_TRAIN_META) return;
    snprintf(clf->meta_keys[clf->n_meta], sizeof clf->meta_keys[0], "%s", key);
    snprintf(clf->meta_values[clf->n_meta], sizeof clf->meta_values[0], "%s", value);
    clf->n_meta++;
}

static void record_options(dgm_classifier *clf, const dgm_classifier_options *o, int64_t rows)
{
    char v[32];
    snprintf(v, sizeof v, "%lld", (long long)o->epochs);
    meta_set(clf, "epochs", v);
    snprintf(v, sizeof v, "%lld", (long long)o->batch);
    meta_set(clf, "batch", v);
    snprintf(v, sizeof v, "%.9g", (double)o->lr);
    meta_set(clf, "lr", v);
    snprintf(v, sizeof v, "%.9g", (double)o->weight_decay);
    meta_set(clf, "weight_decay", v);
    snprintf(v, sizeof v, "%.9g", (double)o->dropout);
    meta_set(clf, "dropout", v);
    snprintf(v, sizeof v, "%llu", (unsigned long long)o->seed);
    meta_set(clf, "seed", v);
    snprintf(v, sizeof v, "%lld", (long long)rows);
    meta_set(clf, "train_rows", v);
}

/* The trainer's step (dgm/train.h): the next images and their labels as one-hot rows,
 * the cross-entropy and its gradients. */
typedef struct train_run {
    dgm_classifier *clf;
    dgm_loader *images;
    const dgm_classifier_options *o;
    int64_t per_epoch;
    double epoch_sum; /* of the losses of the epoch so far */
} train_run;

static dgm_status train_step(void *user, int64_t step, dgm_tensor **loss)
{
    (void)step;
    train_run *r = user;
    dgm_ctx *ctx = r->clf->ctx;
    dgm_tensor *x, *labels, *y, *logits;
    DGM_TRY(dgm_loader_next_labeled(r->images, &x, &labels, NULL));
    DGM_TRY(dgm_one_hot(ctx, labels, dgm_loader_classes(r->images), &y));
    DGM_TRY(forward(r->clf, x, true, NULL, &logits));
    DGM_TRY(cross_entropy(ctx, logits, y, loss));
    return dgm_backward(ctx, *loss);
}

/* Called every step (the trainer reads each loss): the epoch's mean for on_epoch. */
static int on_step(void *user, const dgm_train_progress *p)
{
    train_run *r = user;
    r->epoch_sum += p->loss;
    if (p->step % r->per_epoch) return 0;
    const double mean = r->epoch_sum / (double)r->per_epoch;
    r->epoch_sum = 0.0;
    return r->o->on_epoch && r->o->on_epoch(r->o->user, p->step / r->per_epoch, mean);
}

/* Adam at o->lr, decayed to 0 by a cosine over the run, through the library's trainer. */
static dgm_status train_epochs(dgm_classifier *clf, const dgm_classifier_options *o,
                               dgm_loader *images)
{
    train_run run = {clf, images, o, dgm_loader_batches_per_epoch(images), 0.0};
    dgm_train_options t;
    memset(&t, 0, sizeof t);
    t.run.run = DGM_RUN_EPOCHS;
    t.run.length = o->epochs;
    t.run.batch = o->batch;
    t.run.optim = dgm_optim_config_default(DGM_OPTIM_ADAM);
    t.run.optim.lr = o->lr;
    t.run.optim.weight_decay = o->weight_decay;
    t.run.schedule = (dgm_lr_schedule){DGM_LR_COSINE, o->lr, 0, 0, 0.0f};
    t.run.log_every = run.per_epoch;
    t.on_progress = on_step;
    t.user = &run;
    t.progress_every = 1;
    dgm_trainer *trainer = NULL;
    dgm_status st = dgm_trainer_create_custom(clf->ctx, clf->params, run.per_epoch, train_step, &run, &t, &trainer);
    if (st == DGM_STATUS_OK) st = dgm_trainer_run(trainer);
    if (st == DGM_STATUS_OK && dgm_trainer_stopped(trainer))
        st = dgm_set_error(clf->ctx, DGM_STATUS_STATE_ERROR,
                           "dgm_classifier_train: stopped by on_epoch after epoch %lld",
                           (long long)(dgm_trainer_steps(trainer) / run.per_epoch));
    dgm_trainer_free(trainer);
    return st;
}

dgm_status dgm_classifier_train(dgm_ctx *ctx, const dgm_dataset *train,
                                const dgm_classifier_options *options, dgm_classifier **out)
{
    DGM_TRY(dgm_check_ctx(ctx));
    if (!train || !out)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_classifier_train: needs a training set and out");
    const dgm_classifier_options o = options ? *options : dgm_classifier_options_default();
    DGM_TRY(check_options(ctx, &o));
    int classes = 0;
    DGM_TRY(count_classes(ctx, train, o.batch, &classes));
    int64_t widths[MAX_LAYERS + 1];
    widths[0] = dgm_dataset_dim(train);
    for (int i = 0; i < o.n_hidden; i++) widths[i + 1] = o.hidden[i];
    widths[o.n_hidden + 1] = classes;

    dgm_classifier *clf = NULL;
    dgm_loader *images = NULL;
    const bool grad = dgm_ctx_grad_enabled(ctx);
    dgm_ctx_set_grad_enabled(ctx, true);
    dgm_status st = build(ctx, o.n_hidden, widths, o.dropout, DGM_NN_INIT_PYTORCH, &clf);
    if (st == DGM_STATUS_OK) st = dgm_loader_create_labeled(ctx, train, o.batch, o.seed, true, classes, &images);
    if (st == DGM_STATUS_OK) st = train_epochs(clf, &o, images);
    dgm_ctx_set_grad_enabled(ctx, grad);
    dgm_loader_free(images);
    if (st != DGM_STATUS_OK) {
        dgm_ctx_step_end(ctx); /* drop a failed step's tensors; the error stays the first */
        dgm_classifier_free(clf);
        return st;
    }
    record_options(clf, &o, dgm_dataset_count(train));
    *out = clf;
    return DGM_STATUS_OK;
}

/* ---- inference ---- */

/* The features or the logits of x [n, in] (host) into dst (host), CHUNK_ROWS at a time,
 * with grad mode off and the step ended after each chunk. */
static dgm_status run_chunks(dgm_classifier *clf, const float *x, int64_t n, bool logits,
                             float *dst)
{
    dgm_ctx *ctx = clf->ctx;
    const int64_t in = clf->widths[0];
    const int64_t cols = logits ? clf->widths[clf->n_hidden + 1] : clf->widths[clf->n_hidden];
    const bool grad = dgm_ctx_grad_enabled(ctx);
    dgm_ctx_set_grad_enabled(ctx, false);
    dgm_status st = DGM_STATUS_OK;
    for (int64_t start = 0; start < n && st == DGM_STATUS_OK; start += CHUNK_ROWS) {
        const int64_t rows = n - start < CHUNK_ROWS ? n - start : CHUNK_ROWS;
        const int64_t shape[2] = {rows, in};
        dgm_tensor *xt, *feats, *lg = NULL;
        st = dgm_tensor_from_host(ctx, 2, shape, x + start * in, &xt);
        if (st == DGM_STATUS_OK) st = forward(clf, xt, false, &feats, logits ? &lg : NULL);
        if (st == DGM_STATUS_OK) st = dgm_tensor_to_host(ctx, logits ? lg : feats, dst + start * cols);
        const dgm_status end = dgm_ctx_step_end(ctx);
        if (st == DGM_STATUS_OK) st = end;
    }
    dgm_ctx_set_grad_enabled(ctx, grad);
    return st;
}

static dgm_status check_inputs(const dgm_classifier *clf, const float *x, int64_t n,
                               const void *dst, const char *fn)
{
    if (!clf) return DGM_STATUS_INVALID_ARGUMENT; /* no context to put a message on */
    if (!x || !dst || n < 1)
        return dgm_set_error(clf->ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: needs images, an output and n >= 1 (%lld)", fn, (long long)n);
    return DGM_STATUS_OK;
}

dgm_status dgm_classifier_features(dgm_classifier *clf, const float *x, int64_t n, float *feats)
{
    DGM_TRY(check_inputs(clf, x, n, feats, "dgm_classifier_features"));
    return run_chunks(clf, x, n, false, feats);
}

dgm_status dgm_classifier_probs(dgm_classifier *clf, const float *x, int64_t n, float *probs)
{
    DGM_TRY(check_inputs(clf, x, n, probs, "dgm_classifier_probs"));
    DGM_TRY(run_chunks(clf, x, n, true, probs));
    const int k = dgm_classifier_classes(clf);
    for (int64_t i = 0; i < n; i++) { /* softmax in place, in double */
        float *row = probs + i * k;
        double top = row[0], sum = 0.0;
        for (int c = 1; c < k; c++) top = row[c] > top ? row[c] : top;
        for (int c = 0; c < k; c++) sum += exp((double)row[c] - top);
        for (int c = 0; c < k; c++) row[c] = (float)(exp((double)row[c] - top) / sum);
    }
    return DGM_STATUS_OK;
}

dgm_status dgm_classifier_accuracy(dgm_classifier *clf, const float *x, const int32_t *labels,
                                   int64_t n, double *out)
{
    DGM_TRY(check_inputs(clf, x, n, out, "dgm_classifier_accuracy"));
    if (!labels)
        return dgm_set_error(clf->ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_classifier_accuracy: labels is NULL");
    const int k = dgm_classifier_classes(clf);
    float *logits = malloc((size_t)n * (size_t)k * sizeof *logits);
    if (!logits)
        return dgm_set_error(clf->ctx, DGM_STATUS_OOM,
                             "dgm_classifier_accuracy: out of memory for %lld rows", (long long)n);
    dgm_status st = run_chunks(clf, x, n, true, logits);
    int64_t right = 0;
    for (int64_t i = 0; i < n && st == DGM_STATUS_OK; i++) {
        const float *row = logits + i * k;
        int best = 0;
        for (int c = 1; c < k; c++)
            if (row[c] > row[best]) best = c;
        right += best == labels[i];
    }
    free(logits);
    if (st == DGM_STATUS_OK) *out = (double)right / (double)n;
    return st;
}

/* ---- files ---- */

dgm_status dgm_classifier_save(dgm_classifier *clf, const char *path)
{
    if (!clf) return DGM_STATUS_INVALID_ARGUMENT;
    dgm_ctx *ctx = clf->ctx;
    if (!path)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_classifier_save: path is NULL");
    const int count = dgm_params_count(clf->params);
    float *values = malloc((size_t)dgm_params_total_numel(clf->params) * sizeof *values);
    dgm_st_tensor *tensors = calloc((size_t)count, sizeof *tensors);
    dgm_status st = DGM_STATUS_OK;
    if (!values || !tensors)
        st = dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_classifier_save: out of host memory");
    int64_t offset = 0;
    for (int i = 0; i < count && st == DGM_STATUS_OK; i++) {
        dgm_tensor *t = dgm_params_at(clf->params, i);
        dgm_st_tensor *s = &tensors[i];
        s->name = dgm_params_name(clf->params, i);
        s->ndim = dgm_tensor_ndim(t);
        for (int d = 0; d < s->ndim; d++) s->shape[d] = dgm_tensor_dim(t, d);
        s->data = values + offset;
        st = dgm_tensor_to_host(ctx, t, values + offset);
        offset += dgm_tensor_numel(t);
    }
    char widths[256] = "";
    for (int i = 0, len = 0; i <= clf->n_hidden + 1; i++)
        len += snprintf(widths + len, sizeof widths - (size_t)len, "%s%lld", i ? "," : "",
                        (long long)clf->widths[i]);
    enum { FIXED = 4 };
    const char *keys[FIXED + N_TRAIN_META] = {"format", "dgm_version", "widths", "activation"};
    const char *vals[FIXED + N_TRAIN_META] = {"dgm-classifier", dgm_version(), widths, "relu"};
    for (int i = 0; i < clf->n_meta; i++) {
        keys[FIXED + i] = clf->meta_keys[i];
        vals[FIXED + i] = clf->meta_values[i];
    }
    if (st == DGM_STATUS_OK)
        st = dgm_safetensors_save(ctx, path, tensors, count, keys, vals, FIXED + clf->n_meta);
    free(values);
    free(tensors);
    return st;
}

/* "784,512,128,10" -> widths; the count into *n. */
static dgm_status parse_widths(dgm_ctx *ctx, const char *path, const char *text, int64_t *widths,
                               int *n)
{
    *n = 0;
    const char *p = text;
    while (p && *p) {
        char *end = NULL;
        const long long v = strtoll(p, &end, 10);
        if (end == p || (*end && *end != ',') || v < 1 || v > MAX_WIDTH || *n >= MAX_LAYERS + 1)
            break;
        widths[(*n)++] = v;
        p = *end ? end + 1 : end;
    }
    if (!text || (p && *p) || *n < 3)
        return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                             "dgm_classifier_load: %s: metadata \"widths\" is '%s' (expected 3 to "
                             "%d positive widths, e.g. 784,512,128,10)",
                             path, text ? text : "(missing)", MAX_LAYERS + 1);
    return DGM_STATUS_OK;
}

/* The tensor `name` of the file, checked to be [rows] (cols 0) or [rows, cols], finite. */
static dgm_status find_tensor(dgm_ctx *ctx, const dgm_safetensors *st, const char *path,
                              const char *name, int64_t rows, int64_t cols, const float **data)
{
    const int i = dgm_safetensors_find(st, name);
    const int ndim = cols ? 2 : 1;
    if (i < 0)
        return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT, "dgm_classifier_load: %s has no tensor '%s'",
                             path, name);
    const int64_t *shape = dgm_safetensors_shape(st, i);
    if (dgm_safetensors_ndim(st, i) != ndim || shape[0] != rows || (cols && shape[1] != cols)) {
        char want[64];
        if (cols) snprintf(want, sizeof want, "[%lld, %lld]", (long long)rows, (long long)cols);
        else snprintf(want, sizeof want, "[%lld]", (long long)rows);
        return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                             "dgm_classifier_load: %s: '%s' is not %s as the widths say", path,
                             name, want);
    }
    const float *v = dgm_safetensors_data(st, i);
    const int64_t numel = dgm_safetensors_numel(st, i);
    for (int64_t k = 0; k < numel; k++)
        if (!isfinite(v[k]))
            return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                                 "dgm_classifier_load: %s: '%s' element %lld is %g", path, name,
                                 (long long)k, (double)v[k]);
    *data = v;
    return DGM_STATUS_OK;
}

/* Copies the file's weights into clf after checking every name and shape. */
static dgm_status fill_weights(dgm_classifier *clf, const dgm_safetensors *st, const char *path)
{
    dgm_ctx *ctx = clf->ctx;
    const int layers = clf->n_hidden + 1;
    if (dgm_safetensors_count(st) != 2 * layers)
        return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                             "dgm_classifier_load: %s has %d tensors; widths say %d", path,
                             dgm_safetensors_count(st), 2 * layers);
    for (int l = 1; l <= layers; l++) {
        char wname[32], bname[32];
        snprintf(wname, sizeof wname, "fc%d.weight", l);
        snprintf(bname, sizeof bname, "fc%d.bias", l);
        const float *w, *b;
        DGM_TRY(find_tensor(ctx, st, path, wname, clf->widths[l], clf->widths[l - 1], &w));
        DGM_TRY(find_tensor(ctx, st, path, bname, clf->widths[l], 0, &b));
        DGM_TRY(dgm_tensor_copy_from_host(ctx, dgm_params_get(clf->params, wname), w));
        DGM_TRY(dgm_tensor_copy_from_host(ctx, dgm_params_get(clf->params, bname), b));
    }
    static const char *const carried[N_TRAIN_META] = {"epochs", "batch", "lr", "weight_decay",
                                                      "dropout", "seed", "train_rows"};
    for (int i = 0; i < N_TRAIN_META; i++) {
        const char *v = dgm_safetensors_meta(st, carried[i]);
        if (v) meta_set(clf, carried[i], v);
    }
    return DGM_STATUS_OK;
}

dgm_status dgm_classifier_load(dgm_ctx *ctx, const char *path, dgm_classifier **out)
{
    DGM_TRY(dgm_check_ctx(ctx));
    if (!path || !out)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_classifier_load: needs a path and out");
    dgm_safetensors *st = NULL;
    DGM_TRY(dgm_safetensors_load(ctx, path, &st));
    const char *format = dgm_safetensors_meta(st, "format");
    const char *activation = dgm_safetensors_meta(st, "activation");
    int64_t widths[MAX_LAYERS + 1];
    int n = 0;
    dgm_status s = DGM_STATUS_OK;
    if (!format || strcmp(format, "dgm-classifier"))
        s = dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                          "dgm_classifier_load: %s is not a dgm classifier (format '%s')", path,
                          format ? format : "(none)");
    else if (activation && strcmp(activation, "relu"))
        s = dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                          "dgm_classifier_load: %s: activation '%s' (this dgm knows relu)", path,
                          activation);
    if (s == DGM_STATUS_OK) s = parse_widths(ctx, path, dgm_safetensors_meta(st, "widths"), widths, &n);
    dgm_classifier *clf = NULL;
    /* Dropout only matters in training, which a loaded classifier does not do. */
    if (s == DGM_STATUS_OK) s = build(ctx, n - 2, widths, 0.0f, DGM_NN_INIT_ZEROS, &clf);
    if (s == DGM_STATUS_OK) s = fill_weights(clf, st, path);
    dgm_safetensors_free(st);
    if (s != DGM_STATUS_OK) {
        dgm_classifier_free(clf);
        return s;
    }
    *out = clf;
    return DGM_STATUS_OK;
}
