/* The options of `dgm train` and how they combine with the model's training defaults
 * (dgm_model_train_defaults): a given option wins; naming another optimizer than the
 * model's brings that optimizer's own defaults (PyTorch's) for what is not given. */
#ifndef DGM_CLI_TRAIN_ARGS_H
#define DGM_CLI_TRAIN_ARGS_H

#include <jansson.h>

#include "cli/cli.h"

typedef struct train_args {
    const char *model, *data, *device, *out;
    const char *optimizer; /* NULL: the model's */
    const char *betas;     /* the --betas text; NULL: not given */
    int64_t steps, epochs, batch, save_every, log_every; /* 0: not given */
    float lr, weight_decay, clip, beta1, beta2;
    bool lr_given, wd_given, clip_given, resume;
    uint64_t seed;
    json_t *model_options;
} train_args;

/* Parses argv (argv[0] is "train"). Returns 0, a CLI exit code, or -1 after printing the
 * help. */
int train_parse_args(int argc, char **argv, train_args *a);

/* The run `a` asks for: the defaults of the model configured by config_json (its options
 * as a JSON object; a GAN's depend on --loss) on data of sample_ndim dimensions (0: not
 * known; a RealNVP trains images differently) overridden by the given options. Returns 0
 * or a usage error (--betas with sgd). */
int train_resolve(const train_args *a, const char *config_json, int sample_ndim,
                  dgm_train_defaults *t);

/* "sgd, lr 0.1, momentum 0.9, nesterov" / "adam, lr 0.001, betas 0.9,0.999, eps 1e-08" */
void train_describe_optim(const dgm_optim_config *o, char *buf, size_t len);
/* "10 epochs" / "until converged (...)" */
void train_describe_run(const dgm_train_defaults *t, char *buf, size_t len);

#endif
