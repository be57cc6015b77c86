/* The options of `dgm train` and how they combine with the model's training defaults
 * (dgm_model_train_defaults): a given option wins; naming another optimizer than the
 * model's brings that optimizer's own defaults (PyTorch's) for what is not given. */
#ifndef DGM_CLI_TRAIN_ARGS_H
#define DGM_CLI_TRAIN_ARGS_H

#include <jansson.h>

#include "cli/cli.h"

typedef struct train_args {
    const char *model, *data, *device, *out;
    bool resume;
    uint64_t seed;
    bool seed_given; /* --seed on the command line (a resumed run takes its recorded one) */
    json_t *model_options;
    json_t *run_options; /* the run options given (steps, lr, ...), as dgm_train_defaults_override
                            takes them */
} train_args;

/* Parses argv (argv[0] is "train"). Returns 0, a CLI exit code, or -1 after printing the
 * help. */
int train_parse_args(int argc, char **argv, train_args *a);

/* The run `a` asks for: the defaults of the model configured by config_json (its options
 * as a JSON object; a GAN's depend on --loss) on data of sample_ndim dimensions (0: not
 * known; a RealNVP trains images differently) overridden by the given options
 * (dgm_train_defaults_override). Returns 0 or a usage error (a bad value, --betas with sgd). */
int train_resolve(const train_args *a, const char *config_json, int sample_ndim,
                  dgm_train_defaults *t);


#endif
