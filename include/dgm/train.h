/* dgm trainer: the training loop of `dgm train` as a library object, for programs that
 * embed dgm (and for Python). It takes a model (dgm_model_create, or dgm_model_load to
 * resume), a training set and the run's options, and runs optimizer steps: the run length
 * (epochs, steps, or until the plateau rule says converged), the learning-rate schedule,
 * gradient clipping, checkpoints every save_every steps and at the end (atomically: a
 * failed save leaves the previous checkpoint intact), metrics as JSON lines, a stop on a
 * NaN or infinite loss, and --resume's bit-exact continuation. Progress reaches the caller
 * through a callback.
 *
 *   dgm_train_options o;
 *   dgm_train_options_default(model, train, &o);   // the model's own defaults
 *   o.dir = "runs/mine";                           // checkpoint + metrics.jsonl there
 *   dgm_trainer *t;
 *   if (dgm_trainer_create(model, train, &o, &t) || dgm_trainer_run(t)) ... dgm_last_error(ctx)
 *   dgm_trainer_free(t);
 *
 * A trainer computes on its model's context and, like every call on a context, must not
 * run on one context from two threads at once. */
#ifndef DGM_TRAIN_H
#define DGM_TRAIN_H

#include "dgm/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dgm_trainer dgm_trainer;

/* What the progress callback sees. */
typedef struct dgm_train_progress {
    int64_t step;            /* optimizer steps done (1 after the first) */
    int64_t total;           /* the run's length in steps (a converging run: its cap) */
    int64_t steps_per_epoch; /* batches in one pass over the training set */
    double loss;             /* this step's loss */
    double lr;               /* the learning rate this step used */
    double elapsed_s;        /* wall time since dgm_trainer_create (this process) */
    bool logged;             /* a metrics.jsonl line was written for this step */
    const char *model_fields; /* the family's own fields of the last metrics line, JSON
                                 members ("nfe": 32, ...; dgm_model_log_fields), "" if none */
} dgm_train_progress;

/* Called after the steps the options ask for (below). Return 0 to go on, nonzero to stop
 * the run after this step (dgm_trainer_run then saves a checkpoint, when it writes any,
 * and returns OK; dgm_trainer_stopped says so). */
typedef int (*dgm_train_callback)(void *user, const dgm_train_progress *progress);

typedef struct dgm_train_options {
    dgm_train_defaults run; /* run length, batch, optimizer, schedule, clip, log/save cadence
                               (dgm/model.h): dgm_train_options_default fills in the
                               model's; change what you like */
    uint64_t seed;          /* the loader's shuffle seed (`dgm train --seed`) */
    const char *dir;        /* run folder, created if missing: checkpoint.safetensors and
                               metrics.jsonl go there (metrics.jsonl is opened, for a fresh
                               run emptied, at its first line); NULL: nothing is written */
    const char *data_name;  /* recorded in the checkpoint and named in errors; may be NULL */
    bool resume;            /* continue the run in dir: the model must be the one loaded
                               from dir/checkpoint.safetensors (dgm_model_load); restores
                               the optimizer, the loader's position, the RNG and the plateau
                               rule's state, so the steps equal those of an unbroken run;
                               metrics.jsonl is appended to */
    dgm_train_callback on_progress; /* NULL: none */
    void *user;                     /* passed to on_progress */
    int64_t progress_every;  /* call on_progress every N steps; 0: at each logged step */
    double progress_seconds; /* > 0: also when this much time has passed since the last
                                call (a terminal's progress line); reading the loss waits
                                for the device, so a callback costs a synchronization */
} dgm_train_options;

/* The options a model trains with by default on `train` (dgm_model_train_defaults_for_data
 * of its kind and config, for the data's sample shape; no folder, seed 0, no callback).
 * INVALID_ARGUMENT for NULL pointers. */
DGM_API dgm_status dgm_train_options_default(const dgm_model *m, const dgm_dataset *train,
                                             dgm_train_options *out);

/* Sets the run options by their `dgm train` names, given as a JSON object of strings or
 * numbers: {"steps": 1000, "lr": "1e-3", "optimizer": "sgd"}. Names: steps, epochs, batch,
 * lr, optimizer (adam|adamw|sgd), betas ("B1,B2"), weight-decay, clip, log-every,
 * save-every. Applied in one order whatever the object's: naming another optimizer than
 * run->optim's first takes that optimizer's own defaults (PyTorch's), then lr, betas and
 * weight-decay override them; clip 0 turns clipping off. INVALID_ARGUMENT for an unknown
 * name, a bad value, steps and epochs together, or betas with sgd (*run unchanged then),
 * with a message in err (err_len bytes; may be NULL) that starts with the option's name
 * ("betas 0.9,0.99: the sgd optimizer has no betas ..."). Needs no context. */
DGM_API dgm_status dgm_train_defaults_override(dgm_train_defaults *run, const char *overrides_json,
                                               char *err, size_t err_len);

/* The run options of a resumed run: those recorded in a checkpoint the trainer wrote
 * (recorded_json: its "extra" metadata, dgm_checkpoint_meta(ctx, path, "extra", ...)), then
 * the options given, of which only steps, epochs,
 * log-every and save-every may differ from the record (train on for more steps); any other
 * given with another value than the run's is INVALID_ARGUMENT naming both values (*run
 * unchanged). INVALID_ARGUMENT too when recorded_json is NULL or holds no record (a
 * checkpoint of dgm before 0.1's trainer). */
DGM_API dgm_status dgm_train_defaults_resume(const char *recorded_json, const char *given_json,
                                             dgm_train_defaults *run, char *err, size_t err_len);

/* Whether `name` is one of dgm_train_defaults_override's names (a command line or a
 * binding tells run options from model options by it). */
DGM_API bool dgm_train_is_run_option(const char *name);

/* A trainer for m on `train`: checks that the data suits the model (dgm_model_check_data),
 * prepares the model (dgm_model_prepare; a fresh model's data-dependent initialization
 * unless resuming), makes the optimizer and the loader (a batch larger than the set is the
 * whole set) and, with resume, restores the run's state from dir. Borrows m and train
 * (both must outlive the trainer; train only until this call returns). INVALID_ARGUMENT or
 * SHAPE_MISMATCH for data or options that do not fit (the message says what to change);
 * IO_ERROR when the folder cannot be made or written; STATE_ERROR when a resumed run is
 * already complete, or when another trainer (in this process or another) holds the folder:
 * a trainer with a folder takes an exclusive lock on DIR/.dgm.lock (flock, the holder's
 * process id inside) before it touches any file there, until dgm_trainer_free. */
DGM_API dgm_status dgm_trainer_create(dgm_model *m, const dgm_dataset *train,
                                      const dgm_train_options *options, dgm_trainer **out);

/* The same with the options as one JSON object, for bindings that would rather not mirror
 * dgm_train_options (Python's): the model's defaults (dgm_train_options_default), then
 * the run options of dgm_train_defaults_override, and "dir", "data_name" (strings), "seed"
 * (a number or a decimal string), "resume" (true/false), "progress_every" and
 * "progress_seconds". NULL or "{}": the defaults. INVALID_ARGUMENT naming an unknown key
 * or a bad value. */
DGM_API dgm_status dgm_trainer_create_json(dgm_model *m, const dgm_dataset *train,
                                           const char *options_json, dgm_train_callback on_progress,
                                           void *user, dgm_trainer **out);

/* A training step of a network that is not a dgm_model (dgm's FID classifier uses it):
 * draws its own batch, computes the loss and accumulates its gradients into the parameter
 * block's (dgm_backward), and returns the loss (a step tensor). The trainer zeroes the
 * gradients before it and steps the optimizer, clips and schedules the rate around it. */
typedef dgm_status (*dgm_train_step_fn)(void *user, int64_t step, dgm_tensor **loss);

/* A trainer over `params` that calls step_fn for each step; steps_per_epoch gives the
 * run's length for DGM_RUN_EPOCHS and the epoch column of metrics.jsonl. Writes
 * metrics.jsonl when options->dir is set, never a checkpoint (save your own object);
 * resume is INVALID_ARGUMENT. The model-less trainer's loss is NaN-checked like a model's. */
DGM_API dgm_status dgm_trainer_create_custom(dgm_ctx *ctx, dgm_params *params,
                                             int64_t steps_per_epoch, dgm_train_step_fn step_fn,
                                             void *user, const dgm_train_options *options,
                                             dgm_trainer **out);

/* One optimizer step (a GAN: one iteration of both players); *done (may be NULL) is set
 * when the run has reached its length, converged or was stopped by the callback. Writes
 * metrics and periodic checkpoints as the options say, but not the final checkpoint
 * (dgm_trainer_save or dgm_trainer_run). The loss is read and checked at every log step
 * and every save step, and the parameters are checked finite before each save: NOT_FINITE
 * when either is not; the run stops, and the last checkpoint written (the message names
 * its step) stays as it was. */
DGM_API dgm_status dgm_trainer_step(dgm_trainer *t, bool *done);

/* Steps until done, then saves the checkpoint (when the trainer writes one). */
DGM_API dgm_status dgm_trainer_run(dgm_trainer *t);

/* Writes dir/checkpoint.safetensors now with the run's state (atomically).
 * INVALID_ARGUMENT when the trainer has no folder or no model. */
DGM_API dgm_status dgm_trainer_save(dgm_trainer *t);

DGM_API int64_t dgm_trainer_steps(const dgm_trainer *t);        /* steps done, resumed ones included */
DGM_API int64_t dgm_trainer_total_steps(const dgm_trainer *t);  /* the run's length (cap) */
DGM_API int64_t dgm_trainer_steps_per_epoch(const dgm_trainer *t);
DGM_API double dgm_trainer_last_loss(const dgm_trainer *t);     /* NaN before any was read */
DGM_API bool dgm_trainer_converged(const dgm_trainer *t);      /* a converging run stopped */
DGM_API bool dgm_trainer_stopped(const dgm_trainer *t);        /* the callback stopped it */
/* The folder's files ("" when the trainer writes none); owned by the trainer. */
DGM_API const char *dgm_trainer_checkpoint_path(const dgm_trainer *t);
DGM_API const char *dgm_trainer_metrics_path(const dgm_trainer *t);

/* Frees the trainer (its optimizer, loader and open files; not the model). NULL: no-op. */
DGM_API void dgm_trainer_free(dgm_trainer *t);

/* "adam, lr 0.001, betas 0.9,0.999, eps 1e-08, weight decay 0" into buf. */
DGM_API void dgm_optim_describe(const dgm_optim_config *o, char *buf, size_t len);
/* "10 epochs" / "5000 steps" / "until converged: ..." into buf. */
DGM_API void dgm_train_describe_run(const dgm_train_defaults *t, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
