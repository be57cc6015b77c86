/* Private shape of a model family: each file in host/models/ fills one dgm_model_ops and
 * the registry in model.c lists them. */
#ifndef DGM_MODEL_IMPL_H
#define DGM_MODEL_IMPL_H

#include <jansson.h>

#include "core/internal.h"
#include "dgm/dgm.h" /* models are the top layer: they see every module */

typedef enum dgm_opt_type {
    DGM_OPT_INT = 0,
    DGM_OPT_FLOAT,
    DGM_OPT_INT_LIST, /* "512,256" -> [512, 256] */
    DGM_OPT_STRING,
    DGM_OPT_BOOL
} dgm_opt_type;

#define DGM_MODEL_MAX_OPTIMIZERS 2

typedef struct dgm_model_ops {
    const char *kind;
    const char *summary;
    const dgm_model_option *options; /* ends with name NULL */
    const dgm_opt_type *option_types; /* one per option */
    const char *metrics;              /* known metric names, comma-separated */
    /* Options that only change how the model samples (" sampler eta ", space-enclosed):
     * the only ones dgm_model_load_with may replace. NULL: none (every option shapes what
     * the weights mean: widths, schedules, the objective). */
    const char *sampling_options;
    const char *default_metrics;
    /* Declares parameters into m->params (not yet allocated) and sets up m->state from
     * m->config. Called once, before dgm_params_alloc. */
    dgm_status (*build)(dgm_model *m);
    /* After dgm_params_alloc (and after loading parameters): anything derived. May be NULL. */
    dgm_status (*ready)(dgm_model *m);
    /* Optional: before training on `data` (dgm_model_prepare): data-derived training state,
     * and when init_params a data-dependent initialization of the parameters. */
    dgm_status (*prepare)(dgm_model *m, const dgm_dataset *data, bool init_params);
    /* How `dgm train` trains this family when an option is not given (required). `given`:
     * the model options given (a JSON object, or NULL), for families whose defaults depend
     * on one (read it with dgm_given_option); sample_ndim: the data's sample dimensions
     * (2 or 3: images), 0 when not known. */
    void (*train_defaults)(const json_t *given, int sample_ndim, dgm_train_defaults *out);
    /* Optional: an option's default when it depends on the options given (`given`, a JSON
     * object or NULL: read it with dgm_given_option) or on the data's sample dimensions
     * (sample_ndim: 1 for vectors, 2 or 3 for images), as text; NULL: the table's. The
     * config a model is built from, and its checkpoint, hold the value taken. */
    const char *(*option_default)(const json_t *given, int sample_ndim, const char *name);
    /* Optional: option values that change the training defaults, for --help (ends with
     * name NULL; help says whose setup those defaults are). */
    const dgm_model_option *defaults_variants;
    /* Optional: options added after checkpoints were written without them, with the value
     * such a checkpoint meant (a default that changed: --net auto on images was the MLP
     * before), applied at load where the checkpoint's config lacks them; string options. */
    const dgm_model_option *legacy_options;
    /* Optional: how long the default run on images takes on 2 CPU cores, as measured
     * (--help prints it; each image default is sized to end within 30 minutes). */
    const char *image_run_time;
    dgm_status (*train_step)(dgm_model *m, dgm_tensor *batch, int64_t step, dgm_tensor **loss);
    /* Optional: at each metrics line of a training run, after the step: fields of the
     * family's own appended to the line, written into buf as JSON members without a
     * leading comma (`"nfe": 32`), "" for none. It may evaluate the model (grad mode off)
     * and set m->warning, which dgm train prints. */
    dgm_status (*log_fields)(dgm_model *m, int64_t step, char *buf, size_t len);
    /* Optional: what the family estimates from the training data at fixed weights for
     * evaluation (MAF's batch-norm statistics over the training set, as pytorch-flows
     * sets them before it evaluates); the trainer calls it before each checkpoint and at
     * the end of a run. It must not draw from the context's generator (a resumed run
     * stays bit-exact). */
    dgm_status (*refresh)(dgm_model *m, const dgm_dataset *data);
    /* Optional: after each optimizer step (a moving average of the weights). */
    dgm_status (*after_step)(dgm_model *m, int64_t step);
    /* Optional: a family whose players step their own optimizers (a GAN). One training
     * iteration: draws its batches from the loader, updates the parameters with optimizers
     * it makes from `optim` on the first call (lr: this iteration's rate) and returns the
     * loss to log. When set, dgm train calls it instead of train_step + its optimizer. */
    dgm_status (*train_iteration)(dgm_model *m, dgm_loader *loader,
                                  const dgm_optim_config *optim, int64_t step, dgm_tensor **loss);
    /* With train_iteration: the optimizers it steps, *n of at most DGM_MODEL_MAX_OPTIMIZERS
     * (0 before they exist), each with the prefix its state is saved under in a
     * checkpoint's optimizer file; with `make` not NULL it first makes any that do not
     * exist from that configuration (what --resume needs before it loads their state). */
    dgm_status (*own_optimizers)(dgm_model *m, const dgm_optim_config *make, int *n, dgm_optim **out,
                                 const char **prefix);
    dgm_status (*sample)(dgm_model *m, int64_t n, dgm_tensor **out);
    /* Optional: network passes per sample of `sample` (a DDPM's T); 1 when NULL. */
    int64_t (*sampler_passes)(const dgm_model *m);
    /* Sums `metric` over the rows of batch [B, dim] into *sum (host, double) — the
     * evaluation driver averages over the dataset. */
    dgm_status (*evaluate_batch)(dgm_model *m, dgm_tensor *batch, const char *metric,
                                 double *sum);
    /* Optional: metrics of the model's samples against a dataset as a whole (a GAN's mode
     * coverage), named in sample_metrics (a subset of metrics); *value may be NaN. */
    const char *sample_metrics;
    dgm_status (*evaluate_samples)(dgm_model *m, const dgm_dataset *data, const char *metric,
                                   double *value);
    /* Optional: the exact log-density log p(x) per row [B, 1] of x [B, dim] (a flow). */
    dgm_status (*log_density)(dgm_model *m, dgm_tensor *x, dgm_tensor **out);
    /* Optional: whether the model trains on batches of `batch` rows (message: "batch ..."). */
    dgm_status (*check_batch_size)(dgm_model *m, int64_t batch);
    /* Optional: whether a dataset suits the model (a Bernoulli decoder needs [0, 1]). */
    dgm_status (*check_data)(dgm_model *m, const dgm_dataset *data);
    /* Optional: latent means [B, latent] and reconstructions [B, dim] of a batch. */
    dgm_status (*encode)(dgm_model *m, dgm_tensor *batch, dgm_tensor **out);
    dgm_status (*reconstruct)(dgm_model *m, dgm_tensor *batch, dgm_tensor **out);
    void (*destroy)(dgm_model *m);
} dgm_model_ops;

struct dgm_model {
    const dgm_model_ops *ops;
    dgm_ctx *ctx;
    dgm_params *params;
    json_t *config;       /* complete, typed */
    char *config_text;
    int64_t dim;
    int sample_ndim;
    int64_t sample_shape[3];
    int64_t eval_samples; /* importance samples of sampled metrics (iwae's K) */
    float grad_clip;      /* with train_iteration: each player's gradient-norm clip (0: off) */
    int64_t sample_chunk; /* rows per sampling call of dgm_model_sample_into (0: its
                             default); set by build where the network's activations are large */
    void *state;          /* the family's own */
    char warning[512];    /* set by build when the configuration is legal but dubious */
    char note[1024];      /* what the last evaluation or sampling computed on its own (dgm_model_note) */
};

/* At the start of a model call that runs many backend calls (a training step, sampling,
 * evaluation): the CPU backend's subnormal flushing (host/cpu/cpu_fpenv.h) entered once
 * for the whole call, so that each backend call inside finds the mode set and changes
 * nothing (two MXCSR writes a backend call cost a GAN iteration about 5 %). */
#include "cpu/cpu_fpenv.h"
#define DGM_MODEL_FP_SCOPE(ctx) DGM_CPU_FP_SCOPE(ctx)

/* A run of `length` steps: batch, optimizer kind and rate, a constant rate after `warmup`
 * steps of linear warm-up, a metrics line every `log_every` steps (the shape of every
 * step-counted family's train_defaults; each passes its own numbers). */
void dgm_model_steps_defaults(dgm_train_defaults *t, int64_t length, int64_t batch, dgm_optim_kind kind,
                              float lr, int64_t warmup, int64_t log_every);

/* Typed config reads (the config was validated against the option table). */
int64_t dgm_config_int(const dgm_model *m, const char *name);
double dgm_config_float(const dgm_model *m, const char *name);
bool dgm_config_bool(const dgm_model *m, const char *name);
const char *dgm_config_string(const dgm_model *m, const char *name);
/* Length of an int list; values into out (up to max). */
int dgm_config_int_list(const dgm_model *m, const char *name, int64_t *out, int max);

/* The value of option `name` in `given` (a JSON object of options, or NULL) as text, or
 * the table's default when it is not given (or not a string). */
const char *dgm_given_option(const json_t *given, const dgm_model_option *table, const char *name);

/* An activation's option name (relu, tanh, leaky_relu, elu, selu, gelu, silu, sigmoid)
 * -> the dgm_activation, or -1. */
#define DGM_MODEL_ACTIVATIONS "relu, tanh, leaky_relu, elu, selu, gelu, silu or sigmoid"
int dgm_model_parse_activation(const char *name);
/* "64,64" -> 1 to max widths of 1 to 65536 into out; their number, or -1. */
int dgm_model_parse_widths(const char *text, int64_t *out, int max);

/* "w2", a sample metric for any kind: the exact 2-Wasserstein distance between
 * min(2,000, rows) samples and the data's first that many rows (dgm_wasserstein2). */
dgm_status dgm_model_w2(dgm_model *m, const dgm_dataset *data, double *value);
/* The sample metrics any 2-D family offers: "w2" (above), and on a Gaussian-mixture toy
 * (ring8, grid25, gauss8) the mode coverage of 2,500 samples (PacGAN/VEEGAN): "modes"
 * captured, the "high_quality" share and the "reverse_kl" of the modes' histogram. */
dgm_status dgm_model_sample_metric(dgm_model *m, const dgm_dataset *data, const char *metric,
                                   double *value);

/* Is `name` (len bytes) in the comma-separated list `list`? */
bool dgm_model_in_list(const char *list, const char *name, size_t len);
/* The mean over n rows of host data x [n, dim] of metric `name` (one the kind's
 * evaluate_batch knows), in batches of 1,000, each ending the step; NOT_FINITE when the
 * mean is not finite. Grad mode: the caller's (turn it off). */
dgm_status dgm_model_mean_metric(dgm_model *m, const float *x, int64_t n, const char *name,
                                 double *mean);

/* dgm_model_create with `check` (when not NULL) called after the family declared its
 * parameters and before anything is allocated for them: a checkpoint load compares the
 * declared names and shapes with the file's, so a hostile config cannot make dgm allocate
 * more than the file holds. */
dgm_status dgm_model_create_checked(dgm_ctx *ctx, const char *kind, const char *config_json, int64_t dim,
                                    int sample_ndim, const int64_t *sample_shape,
                                    dgm_status (*check)(dgm_model *m, void *arg), void *arg,
                                    dgm_model **out);

/* The registered family of `kind`, or NULL. */
const dgm_model_ops *dgm_model_find_ops(const char *kind);

/* *out = x clamped to [lo, hi] elementwise, as lo + relu(x − lo) − relu(x − hi) (recorded
 * ops: the gradient is 1 inside, 0 outside). Images back into [0, 1], DDPM's x̂₀ into
 * [−1, 1]. */
dgm_status dgm_clamp_values(dgm_ctx *ctx, dgm_tensor *x, float lo, float hi, dgm_tensor **out);

/* Reads a one-element tensor to the host (waits for the device). */
dgm_status dgm_read_scalar(dgm_ctx *ctx, dgm_tensor *t, double *value);

extern const dgm_model_ops dgm_gaussian_ops;
extern const dgm_model_ops dgm_vae_ops;
extern const dgm_model_ops dgm_gan_ops;
extern const dgm_model_ops dgm_realnvp_ops;
extern const dgm_model_ops dgm_ddpm_ops;
extern const dgm_model_ops dgm_fm_ops;
extern const dgm_model_ops dgm_ebm_ops;
extern const dgm_model_ops dgm_ncsn_ops;
extern const dgm_model_ops dgm_sde_ops;
extern const dgm_model_ops dgm_maf_ops;
extern const dgm_model_ops dgm_cnf_ops;

#endif
