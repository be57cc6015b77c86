/* dgm optimizers over a parameter block's one contiguous buffer: each step is one fused
 * kernel per backend over all parameters. PyTorch's semantics: SGD with momentum,
 * dampening and Nesterov; Adam with bias correction and L2 weight decay added to the
 * gradient; AdamW with decoupled weight decay (w -= lr·wd·w). Also gradient clipping by
 * global norm, an exponential moving average (EMA) of the weights, and learning-rate
 * schedules. */
#ifndef DGM_OPTIM_H
#define DGM_OPTIM_H

#include "dgm/params.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dgm_optim_kind {
    DGM_OPTIM_SGD = 0,
    DGM_OPTIM_ADAM,
    DGM_OPTIM_ADAMW,
    DGM_OPTIM_COUNT
} dgm_optim_kind;

typedef struct dgm_optim_config {
    dgm_optim_kind kind;
    float lr;           /* SGD 1e-2, Adam/AdamW 1e-3 */
    float momentum;     /* SGD: 0 */
    float dampening;    /* SGD: 0 */
    bool nesterov;      /* SGD: false (needs momentum > 0 and dampening 0) */
    float beta1, beta2; /* Adam/AdamW: 0.9, 0.999 */
    float eps;          /* Adam/AdamW: 1e-8 */
    float weight_decay; /* SGD/Adam: 0 (L2, added to the gradient); AdamW: 1e-2 (decoupled) */
} dgm_optim_config;

/* PyTorch's defaults for `kind` (as listed above). */
DGM_API dgm_optim_config dgm_optim_config_default(dgm_optim_kind kind);
/* "sgd", "adam", "adamw"; NULL out of range. */
DGM_API const char *dgm_optim_kind_name(dgm_optim_kind kind);

typedef struct dgm_optim dgm_optim;

/* An optimizer for the (allocated) block p; its state (momentum, or Adam's m and v) is one
 * buffer per role the size of p's trainable part, zero at start. The optimizer borrows p. */
DGM_API dgm_status dgm_optim_create(dgm_params *p, const dgm_optim_config *config,
                                    dgm_optim **out);
/* The same for the trainable floats [offset, offset + count) of p only (one player of a
 * GAN: see dgm_params_prefix_range); its state is `count` floats per role. The gradients
 * of the rest are neither read nor changed. INVALID_ARGUMENT for a range outside the
 * trainable part. */
DGM_API dgm_status dgm_optim_create_range(dgm_params *p, int64_t offset, int64_t count,
                                          const dgm_optim_config *config, dgm_optim **out);
DGM_API void dgm_optim_free(dgm_optim *o);
/* How many floats the optimizer updates (the block's trainable part, or its range). */
DGM_API int64_t dgm_optim_numel(const dgm_optim *o);

/* One update of every trainable parameter from the gradients in p (not cleared). */
DGM_API dgm_status dgm_optim_step(dgm_optim *o);
DGM_API void dgm_optim_set_lr(dgm_optim *o, float lr);
DGM_API float dgm_optim_lr(const dgm_optim *o);
/* Updates done so far (Adam's t). */
DGM_API int64_t dgm_optim_steps(const dgm_optim *o);

/* State for checkpoints: named buffers ("momentum_buffer"; "exp_avg", "exp_avg_sq" as in
 * PyTorch's state dicts), each dgm_params_numel floats of device memory, and the step
 * count. */
DGM_API int dgm_optim_state_count(const dgm_optim *o);
DGM_API const char *dgm_optim_state_name(const dgm_optim *o, int i);
DGM_API float *dgm_optim_state_data(dgm_optim *o, int i);
DGM_API void dgm_optim_set_steps(dgm_optim *o, int64_t steps);

/* Scales p's gradients so their global L2 norm is at most max_norm (torch's
 * clip_grad_norm_, eps 1e-6), on the device. When norm_out is not NULL, writes the norm
 * before clipping (which waits for the device). */
DGM_API dgm_status dgm_clip_grad_norm(dgm_params *p, float max_norm, float *norm_out);
/* The same over the gradients of the trainable floats [offset, offset + count) of p only
 * (one player of a GAN: each is clipped to its own norm, as two clip_grad_norm_ calls). */
DGM_API dgm_status dgm_clip_grad_norm_range(dgm_params *p, int64_t offset, int64_t count,
                                            float max_norm, float *norm_out);

/* Exponential moving average of p's trainable values: ema = decay·ema + (1-decay)·w. */
typedef struct dgm_ema dgm_ema;
DGM_API dgm_status dgm_ema_create(dgm_params *p, float decay, dgm_ema **out);
/* An average of the trainable floats [offset, offset + count) of p only (a GAN's
 * generator); update and swap touch that range alone. */
DGM_API dgm_status dgm_ema_create_range(dgm_params *p, int64_t offset, int64_t count,
                                        float decay, dgm_ema **out);
DGM_API void dgm_ema_free(dgm_ema *e);
DGM_API dgm_status dgm_ema_update(dgm_ema *e);
/* Device memory of dgm_params_numel floats (or the range's count). */
DGM_API float *dgm_ema_data(dgm_ema *e);
/* Swaps the EMA values and p's trainable values (evaluate or sample with the average, then
 * swap back). */
DGM_API dgm_status dgm_ema_swap(dgm_ema *e);

/* Learning-rate schedules: linear warm-up from 0 over warmup_steps, then constant or a
 * cosine decay to min_lr at total_steps. */
typedef enum dgm_lr_kind { DGM_LR_CONSTANT = 0, DGM_LR_COSINE } dgm_lr_kind;
typedef struct dgm_lr_schedule {
    dgm_lr_kind kind;
    float base_lr;
    int64_t warmup_steps; /* 0: none */
    int64_t total_steps;  /* cosine: where min_lr is reached */
    float min_lr;
} dgm_lr_schedule;
/* The rate for update number `step` (0-based). */
DGM_API float dgm_lr_at(const dgm_lr_schedule *s, int64_t step);

/* A plateau rule (PyTorch's ReduceLROnPlateau with a stop): the loss is averaged over
 * windows of `window` steps; a window whose mean beats the best window mean so far by more
 * than `tol` is an improvement. After `patience` windows without one the rule asks for a
 * learning-rate decay by `lr_factor`, at most `max_decays` times; the plateau after those
 * ends the run. A decay starts the comparison afresh (the next window is the new best). */
typedef struct dgm_plateau_rule {
    int64_t window;
    double tol;
    int64_t patience;
    float lr_factor;
    int64_t max_decays;
} dgm_plateau_rule;

/* The rule's state: plain values, so a checkpoint can save and restore it exactly. */
typedef struct dgm_plateau {
    dgm_plateau_rule rule;
    double sum;     /* of the losses of the current window */
    int64_t count;  /* steps in the current window */
    double best;    /* best window mean (INFINITY at first) */
    int64_t since;  /* windows since the last improvement (or decay) */
    int64_t decays; /* decays so far */
} dgm_plateau;

typedef enum dgm_plateau_event {
    DGM_PLATEAU_CONTINUE = 0,
    DGM_PLATEAU_DECAY, /* multiply the learning rate by rule.lr_factor */
    DGM_PLATEAU_STOP   /* converged: end the run */
} dgm_plateau_event;

DGM_API void dgm_plateau_init(dgm_plateau *p, const dgm_plateau_rule *rule);
/* Feeds the loss of one step; says what to do after it. A non-finite loss is not an
 * improvement. */
DGM_API dgm_plateau_event dgm_plateau_update(dgm_plateau *p, double loss);

#ifdef __cplusplus
}
#endif
#endif
