/* dgm models: every model family behind one handle with the same shape — create from a
 * kind and a JSON config, train_step, sample, evaluate, save and load (safetensors
 * checkpoints whose tensor names and layouts are PyTorch's).
 *
 * Kinds so far: "gaussian" (a full-covariance Gaussian fitted by maximum likelihood),
 * "vae" (a variational autoencoder), "gan" (generative adversarial network) and "realnvp"
 * (a normalizing flow with an exact density).
 * dgm_model_kinds lists them; dgm_model_options describes each kind's options. */
#ifndef DGM_MODEL_H
#define DGM_MODEL_H

#include "dgm/data.h"
#include "dgm/optim.h"
#include "dgm/params.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dgm_model dgm_model;

/* NULL-terminated list of model kinds. */
DGM_API const char *const *dgm_model_kinds(void);

/* One option of a model kind: its name (as on the command line, without "--"), default
 * (as text) and help. */
typedef struct dgm_model_option {
    const char *name;
    const char *default_value;
    const char *help;
} dgm_model_option;
/* The options of `kind`, terminated by an entry with name NULL; NULL for unknown kinds. */
DGM_API const dgm_model_option *dgm_model_options(const char *kind);
/* One-line description of `kind`. */
DGM_API const char *dgm_model_summary(const char *kind);

/* ---- training defaults ----
 * Each kind declares how `dgm train KIND` trains it when an option is not given: the run
 * length, the batch, the optimizer and its settings, the learning-rate schedule and the
 * log/save cadence. A program embedding dgm reads them with dgm_model_train_defaults. */

typedef enum dgm_run_kind {
    DGM_RUN_EPOCHS = 0, /* `length` passes over the training set */
    DGM_RUN_STEPS,      /* `length` optimizer steps */
    DGM_RUN_CONVERGED   /* until the plateau rule `converge` (dgm/optim.h) stops it on the
                           training loss, at most `length` steps */
} dgm_run_kind;

typedef struct dgm_train_defaults {
    dgm_run_kind run;
    int64_t length;             /* epochs, steps, or the step cap of DGM_RUN_CONVERGED */
    dgm_plateau_rule converge;  /* used by DGM_RUN_CONVERGED only */
    int64_t batch;              /* a batch larger than the training set is the whole set */
    dgm_optim_config optim;     /* kind, lr, momentum, betas, eps, weight decay */
    dgm_lr_schedule schedule;   /* base_lr is optim.lr; a cosine decays to min_lr at the
                                   end of the run; DGM_LR_CONSTANT, no warm-up: none */
    float clip;                 /* gradient clipping by global norm; 0: off */
    int64_t log_every;          /* a metrics line every N steps */
    int64_t save_every;         /* a checkpoint every N steps; 0: only at the end */
} dgm_train_defaults;

/* Fills *out with the training defaults of `kind`. INVALID_ARGUMENT for an unknown kind or
 * a NULL out (nothing written). Thread-safe: reads constant tables only. */
DGM_API dgm_status dgm_model_train_defaults(const char *kind, dgm_train_defaults *out);
/* The same for a model of `kind` configured by config_json (the model options given, as
 * for dgm_model_create; NULL or "{}": none): some defaults depend on an option (a GAN's
 * --loss wgan-gp trains with the WGAN-GP paper's optimizer). INVALID_ARGUMENT for an
 * unknown kind, a NULL out or a config that is not a JSON object. */
DGM_API dgm_status dgm_model_train_defaults_for(const char *kind, const char *config_json,
                                                dgm_train_defaults *out);
/* The same for data whose samples have sample_ndim dimensions (1: vectors; 2 or 3: images,
 * which some kinds train differently, e.g. a RealNVP; 0: not known, as above). */
DGM_API dgm_status dgm_model_train_defaults_for_data(const char *kind, const char *config_json,
                                                     int sample_ndim, dgm_train_defaults *out);
/* The option values that change `kind`'s training defaults, as {name, value, whose setup}
 * entries ending with name NULL; NULL when none do (or for an unknown kind). */
DGM_API const dgm_model_option *dgm_model_defaults_variants(const char *kind);
/* How long `kind`'s default training run on images took on 2 CPU cores as measured, a
 * sentence for --help, or NULL (unknown kind, or not measured). */
DGM_API const char *dgm_model_image_run_time(const char *kind);

/* Creates a model of `kind` for data of `dim` floats per sample (sample_shape: informational,
 * e.g. {28, 28}). config_json is a JSON object of options (NULL or "{}" for the defaults);
 * an unknown option or a bad value is INVALID_ARGUMENT with a message listing the valid
 * options. Parameters are initialized from the context's generator. */
DGM_API dgm_status dgm_model_create(dgm_ctx *ctx, const char *kind, const char *config_json,
                                    int64_t dim, int sample_ndim, const int64_t *sample_shape,
                                    dgm_model **out);
/* Frees the model and its parameter block (before its context). NULL is a no-op. */
DGM_API void dgm_model_free(dgm_model *m);

/* The kind ("vae", "realnvp", ...); a static string. */
DGM_API const char *dgm_model_kind(const dgm_model *m);
/* The full config (defaults filled in) as a JSON object; owned by the model. */
DGM_API const char *dgm_model_config(const dgm_model *m);
/* The model's parameter block; owned by the model (do not free). */
DGM_API dgm_params *dgm_model_params(dgm_model *m);
/* Floats per sample: the product of the sample shape. */
DGM_API int64_t dgm_model_dim(const dgm_model *m);
/* Writes the sample shape ({28, 28} for Fashion-MNIST images, {dim} for vectors) into
 * shape and returns its number of dimensions (1 to 3). */
DGM_API int dgm_model_sample_shape(const dgm_model *m, int64_t shape[3]);

/* The loss of one batch [B, dim] (a step tensor), after dgm_backward has accumulated its
 * gradients; the caller zeroes gradients and steps the optimizer. *loss is the scalar
 * the model minimizes (a step tensor: read it when you log, not every step). After
 * dgm_model_prepare, a gaussian's gradients are preconditioned (see there). */
DGM_API dgm_status dgm_model_train_step(dgm_model *m, dgm_tensor *batch, int64_t step,
                                        dgm_tensor **loss);

/* Whether the model's players step their own optimizers (a GAN): then it trains with
 * dgm_model_train_iteration, not dgm_model_train_step. */
DGM_API bool dgm_model_owns_optimizers(const dgm_model *m);
/* One training iteration of such a model: it draws the batches it needs from `loader`
 * (a GAN: one per discriminator step), updates its parameters with optimizers it makes
 * from `optim` on the first call (`optim->lr` is this iteration's rate) and returns in
 * *loss the scalar to log (a step tensor; a GAN's: the generator's loss). The caller
 * ends the step afterwards. UNSUPPORTED for models that train with dgm_model_train_step.
 * dgm_model_save with a dgm_train_state saves these optimizers' state (state->optim NULL),
 * and dgm_model_load_train_state with optim NULL restores it into optimizers that exist:
 * to resume, make them first with dgm_model_create_optimizers. */
DGM_API dgm_status dgm_model_train_iteration(dgm_model *m, dgm_loader *loader,
                                             const dgm_optim_config *optim, int64_t step,
                                             dgm_tensor **loss);
/* Such a model clips each player's gradients to global norm max_norm before that
 * player's step (dgm_clip_grad_norm_range over its parameters; 0, the default: off).
 * UNSUPPORTED for models that train with dgm_model_train_step: their caller clips. */
DGM_API dgm_status dgm_model_set_grad_clip(dgm_model *m, float max_norm);
/* Makes such a model's optimizers from `optim` now, as its first iteration would (those
 * that exist stay). UNSUPPORTED for other models. */
DGM_API dgm_status dgm_model_create_optimizers(dgm_model *m, const dgm_optim_config *optim);

/* Call after each optimizer step when training with dgm_model_train_step yourself (as
 * dgm train does): a model with a moving average of its weights (ddpm, fm with --ema)
 * updates it here; others do nothing. */
DGM_API dgm_status dgm_model_after_step(dgm_model *m, int64_t step);

/* Recomputes what the family estimates from the training data at the current weights for
 * evaluation: a MAF's batch-norm statistics over the first 20,000 rows of `data` (its
 * running averages otherwise); nothing for other families. The trainer calls it before
 * each checkpoint and at the end of a run; a program training with its own loop calls
 * it before evaluating. Draws nothing from the context's generator. */
DGM_API dgm_status dgm_model_refresh(dgm_model *m, const dgm_dataset *data);

/* At a training run's metrics line (after `step` steps): the family's own fields for the
 * line, JSON members without a leading comma ("nfe": 32, ...) written into buf (len
 * bytes), "" for a family without any. A CNF checks its training solver there against
 * one of twice the steps, and may set dgm_model_warning. Runs with grad mode off. */
DGM_API dgm_status dgm_model_log_fields(dgm_model *m, int64_t step, char *buf, size_t len);

/* Network passes per sample drawn (1 for one-pass samplers; a DDPM's T, an ODE solver's
 * steps times its stages): what sampling costs relative to one forward pass. */
DGM_API int64_t dgm_model_sampler_passes(const dgm_model *m);

/* A warning about a legal but dubious configuration ("" when none; owned by the model):
 * a DDPM schedule whose last ᾱ is far from 0, set at creation; or one found while training
 * (an OT-coupled flow-matching batch that takes seconds a step), set once by the step that
 * found it: read it again after training steps (dgm train prints it once). */
DGM_API const char *dgm_model_warning(const dgm_model *m);

/* What the last evaluation or sampling computed on its own that a reader of its numbers
 * should know ("" when nothing; owned by the model): an energy-based model's log Z, with
 * the grid and the box it was integrated over; an ODE solver's number of evaluations.
 * After dgm_model_evaluate, the notes of its metrics joined by "; ". dgm eval and dgm
 * sample print it on stderr. */
DGM_API const char *dgm_model_note(const dgm_model *m);

/* n samples [n, dim] as a step tensor (grad mode is turned off inside). A multi-step
 * sampler (ddpm, fm) ends the context's step between its steps, so step tensors made
 * before the call are invalid after it. */
DGM_API dgm_status dgm_model_sample(dgm_model *m, int64_t n, dgm_tensor **out);

/* The exact log-density log p(x), nats, of each row of x [B, dim]: *out [B, 1] (a step
 * tensor; grad mode is off inside). For models with a tractable density on their data as
 * given (realnvp on non-image data); UNSUPPORTED otherwise. */
DGM_API dgm_status dgm_model_log_density(dgm_model *m, dgm_tensor *x, dgm_tensor **out);

/* The model's natural metrics on a dataset ("nll" for gaussian: nats per sample). `metrics`
 * is a comma-separated list or NULL for the kind's default; writes a JSON object
 * ({"nll": 1.23, ...}) into out (out_len bytes). Ends the context's step (per batch). */
DGM_API dgm_status dgm_model_evaluate(dgm_model *m, const dgm_dataset *data, const char *metrics,
                                      char *out, size_t out_len);
/* Whether `data` suits the model: its sample size, and the model's own conditions (a VAE
 * with a Bernoulli decoder needs values in [0, 1]). INVALID_ARGUMENT/SHAPE_MISMATCH with a
 * message saying what to change. */
DGM_API dgm_status dgm_model_check_data(dgm_model *m, const dgm_dataset *data);
/* Whether the model can train on batches of `batch` rows: INVALID_ARGUMENT, with a message
 * starting "batch", when it cannot (a GAN needs at least 2 rows, a multiple of its pack).
 * The trainer checks it before its first step (and before it touches any file). */
DGM_API dgm_status dgm_model_check_batch_size(dgm_model *m, int64_t batch);

/* Prepares m for training on `train` (call before its first train step): data-derived
 * training state and, when init_params is true (a fresh model, not a loaded one), a
 * data-dependent initialization of the parameters. The gaussian starts at the data's mean
 * and per-column scales and preconditions its gradients by the data's scales (so SGD takes
 * the same steps on any shifted or rescaled copy of the data); other kinds: nothing. */
DGM_API dgm_status dgm_model_prepare(dgm_model *m, const dgm_dataset *train, bool init_params);

/* Importance samples K of sampled bounds (the VAE's "iwae"; default 1). */
DGM_API dgm_status dgm_model_set_eval_samples(dgm_model *m, int64_t k);

/* Latent means of a batch [B, dim] -> [B, latent], and reconstructions [B, dim] (the
 * decoder's mean at the latent mean), for models with an encoder (vae); UNSUPPORTED
 * otherwise. Grad mode is off inside. */
DGM_API dgm_status dgm_model_encode(dgm_model *m, dgm_tensor *batch, dgm_tensor **out);
DGM_API dgm_status dgm_model_reconstruct(dgm_model *m, dgm_tensor *batch, dgm_tensor **out);

/* ---- embedding: a trained model inside another program ----
 * Open a checkpoint with dgm_model_load on a context of your own (CPU or CUDA), ask
 * dgm_model_kind, dgm_model_config, dgm_model_dim and dgm_model_sample_shape, then sample
 * and score with the two calls below; dgm_model_free and dgm_ctx_free when done. These
 * work for every kind. Like every call on a context, they must not run on one context
 * from two threads at once; two threads with a context and a model each are independent
 * (no global state). Each call ends the context's step: tensors from an earlier call on
 * the context (step tensors) are invalid afterwards. `dgm sample` and `dgm eval` use them. */

/* Where a caller's buffer lives. */
typedef enum dgm_memory {
    DGM_MEMORY_HOST = 0,  /* ordinary memory */
    DGM_MEMORY_DEVICE = 1 /* memory of the context's GPU (cudaMalloc'd); CUDA contexts only */
} dgm_memory;

/* Draws n samples into dst: n·dim floats, row-major [n, dim] (dim = dgm_model_dim; images
 * in [0, 1] in the sample shape's order). dst is host memory or, with DGM_MEMORY_DEVICE on
 * a CUDA context, device memory; it is written when the call returns OK (and may be
 * partly written on failure). Samples in chunks of at most 4,096 rows, so memory stays
 * bounded for any n; the same seed and the same calls give the same samples (and `dgm
 * sample --seed S` those of a context made with seed S). INVALID_ARGUMENT for n < 1 or a
 * NULL dst; UNSUPPORTED for device memory on a CPU context; NOT_FINITE when a sample holds
 * a NaN or infinite value (a model whose parameters went NaN). */
DGM_API dgm_status dgm_model_sample_into(dgm_model *m, int64_t n, float *dst, dgm_memory where);

/* The mean over n rows of host data x [n, dim] of one metric (NULL: the kind's default;
 * dgm_model_metric_names lists them: "nll" for a gaussian or a realnvp, "elbo" for a VAE),
 * in the units `dgm eval` prints, into *value. Metrics computed from samples instead of
 * the data (a GAN's mode coverage) are UNSUPPORTED here: use dgm_model_evaluate with a
 * dataset. x is read as [n, dim]. INVALID_ARGUMENT for an unknown metric, n < 1 or NULL
 * pointers; NOT_FINITE when the mean is not finite. */
DGM_API dgm_status dgm_model_score(dgm_model *m, const float *x, int64_t n, const char *metric,
                                   double *value);

/* The metric names `kind` knows, comma-separated. */
DGM_API const char *dgm_model_metric_names(const char *kind);

/* ---- checkpoints ----
 * checkpoint.safetensors holds the parameters and buffers under PyTorch's names, with
 * __metadata__: format "dgm-checkpoint", dgm_version, model (kind), config (JSON), step,
 * rng_seed, rng_offset, and, when training state was saved, optimizer (the file name of the
 * optimizer state, beside the checkpoint), loader_epoch, loader_batch and data. Every file
 * is written atomically; the optimizer state is written first under a per-step name, and
 * the previous one is removed only after the checkpoint naming the new one is in place. */

/* Training state saved with a checkpoint (all optional). */
typedef struct dgm_train_state {
    int64_t step;
    dgm_optim *optim;          /* NULL: no optimizer state */
    dgm_loader *loader;        /* NULL: no loader position */
    const char *data;          /* the --data spec, for the record; may be NULL */
    const char *extra_json;    /* more metadata as a JSON object of strings; may be NULL */
} dgm_train_state;

/* Writes m (and, when state is not NULL, that training state) to path, atomically. */
DGM_API dgm_status dgm_model_save(dgm_model *m, const char *path, const dgm_train_state *state);

/* Loads a checkpoint's model (kind, config, parameters) on ctx. */
DGM_API dgm_status dgm_model_load(dgm_ctx *ctx, const char *path, dgm_model **out);
/* The same with some of its options replaced: overrides_json is a JSON object of options
 * (NULL: none), e.g. {"sampler": "ddim", "sample-steps": "20"} to sample a DDPM
 * differently. Options that shape the parameters cannot change: the load then fails
 * (SHAPE_MISMATCH or BAD_FORMAT naming the tensor); an unknown option or a bad value is
 * INVALID_ARGUMENT. */
DGM_API dgm_status dgm_model_load_with(dgm_ctx *ctx, const char *path, const char *overrides_json,
                                       dgm_model **out);

/* The same from a checkpoint file's bytes already in memory (a model built into a
 * program, or read by the caller): len bytes at `bytes`, copied as needed (the caller may
 * free them on return); overrides_json as for dgm_model_load_with (NULL: none). A
 * checkpoint is untrusted input: whatever the bytes, the call returns BAD_FORMAT (or OOM)
 * with a message rather than crash, and allocates no more than the file's tensors. */
DGM_API dgm_status dgm_model_load_memory(dgm_ctx *ctx, const void *bytes, size_t len,
                                         const char *overrides_json, dgm_model **out);

/* Restores the training state of a checkpoint written by dgm_model_save: the step, the
 * context's RNG state, the optimizer's buffers and step count (when optim is not NULL) and
 * the loader's position (when loader is not NULL); with optim NULL, the state of a model's
 * own optimizers (a GAN's, once dgm_model_create_optimizers made them). */
DGM_API dgm_status dgm_model_load_train_state(dgm_model *m, const char *path, dgm_optim *optim,
                                              dgm_loader *loader, int64_t *step);

/* A checkpoint's metadata value, read without loading the model: *out is malloc'd (free it). */
DGM_API dgm_status dgm_checkpoint_meta(dgm_ctx *ctx, const char *path, const char *key, char **out);

#ifdef __cplusplus
}
#endif
#endif
