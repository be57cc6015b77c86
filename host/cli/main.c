/* dgm: train, sample, evaluate and inspect deep generative models. */
#define _POSIX_C_SOURCE 200809L /* setenv, execv */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "thread_policy.h"

static void usage(FILE *f)
{
    fprintf(f,
            "dgm %s: deep generative models in C and CUDA\n\n"
            "usage:\n"
            "  dgm train MODEL --data DATA [--device auto|cpu|cuda] [--steps N | --epochs N]\n"
            "            [--batch B] [--lr X] [--optimizer adam|adamw|sgd] [--betas B1,B2]\n"
            "            [--seed S] [--out DIR] [--save-every N] [--resume] [model options]\n"
            "            (each model has its own defaults: dgm train MODEL --help)\n"
            "  dgm sample CHECKPOINT -n N -o FILE.npy|FILE.csv|FILE.png [--seed S] [--device D]\n"
            "  dgm eval CHECKPOINT [--data DATA] [--metric NAME[,NAME...]] [--device D]\n"
            "  dgm info CHECKPOINT\n"
            "  dgm classifier --data DATA -o FILE.safetensors [--epochs E] [--seed S] [--device D]\n"
            "  dgm compare A B [--metric NAME[,NAME...]] [--bins N] [--extent x0,x1,y0,y1]\n"
            "              [--seed S] [-n N]  (sample files or toy names: dgm compare --help)\n"
            "  dgm plot RUN [RUN...] -o FILE.png [--y KEY] [--x KEY] [--log-y] [--smooth W]\n"
            "           [--width W] [--height H]  (loss curves of runs/DIR/metrics.jsonl files)\n"
            "  dgm --help | dgm train MODEL --help | dgm --version\n\n"
            "models:",
            dgm_version());
    const char *const *kinds = dgm_model_kinds();
    for (int i = 0; kinds[i]; i++) fprintf(f, "\n  %-10s %s", kinds[i], dgm_model_summary(kinds[i]));
    fprintf(f, "\n\nexit status: 0 success, 1 error, 2 usage error\n");
}

int main(int argc, char **argv)
{
    dgm_exec_with_thread_policy(argv);
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(cmd, "--version")) {
        printf("dgm %s\n", dgm_version());
        return CLI_OK;
    }
    if (!strcmp(cmd, "train")) return cmd_train(argc - 1, argv + 1);
    if (!strcmp(cmd, "sample")) return cmd_sample(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval")) return cmd_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "info")) return cmd_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "classifier")) return cmd_classifier(argc - 1, argv + 1);
    if (!strcmp(cmd, "compare")) return cmd_compare(argc - 1, argv + 1);
    if (!strcmp(cmd, "plot")) return cmd_plot(argc - 1, argv + 1);
    return cli_usage_error("unknown command '%s' (train, sample, eval, info, classifier, compare, plot)",
                           cmd);
}
