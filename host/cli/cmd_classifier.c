/* dgm classifier --data DATA -o FILE: trains dgm's own image classifier (the feature
 * extractor of the FID and the Inception-style score), reports its test accuracy and
 * writes it as a safetensors file. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

typedef struct classifier_args {
    const char *data, *out, *device;
    uint64_t seed;
    dgm_classifier_options opt;
} classifier_args;

static void usage(FILE *f)
{
    const dgm_classifier_options d = dgm_classifier_options_default();
    fprintf(f,
            "usage: dgm classifier --data DATA -o FILE.safetensors [--epochs E] [--seed S]\n"
            "                      [--device auto|cpu|cuda] [--batch B] [--lr X]\n"
            "                      [--hidden W1,W2,...] [--dropout P]\n\n"
            "Trains dgm's image classifier on DATA's labelled training split (fashion-mnist:\n"
            "the file %s in the source tree), prints the accuracy\n"
            "on its test split and writes the weights. Defaults: %lld epochs, batch %lld, Adam\n"
            "lr %g with a cosine decay, hidden %lld,%lld, dropout %g, seed 0 (the data order,\n"
            "the initialization and dropout).\n",
            DGM_FASHION_MNIST_CLASSIFIER, (long long)d.epochs, (long long)d.batch, (double)d.lr,
            (long long)d.hidden[0], (long long)d.hidden[1], (double)d.dropout);
}

static bool parse_hidden(const char *v, dgm_classifier_options *o)
{
    int n = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", v);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n >= DGM_CLASSIFIER_MAX_HIDDEN || !cli_parse_int(tok, 1, &o->hidden[n])) return false;
        n++;
    }
    o->n_hidden = n;
    return n >= 1;
}

/* 0 to go on, -1 after --help, else the exit code. */
static int parse(int argc, char **argv, classifier_args *a)
{
    memset(a, 0, sizeof *a);
    a->device = "auto";
    a->opt = dgm_classifier_options_default();
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v = NULL;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            usage(stdout);
            return -1;
        }
        char name[64];
        if (!strcmp(arg, "-o")) snprintf(name, sizeof name, "out");
        else if (!strncmp(arg, "--", 2)) cli_option_name(arg, name, sizeof name);
        else return cli_usage_error("unexpected argument '%s' for dgm classifier", arg);
        if (!cli_take_value(argc, argv, &i, &v)) return cli_usage_error("%s needs a value", arg);
        bool ok = true;
        if (!strcmp(name, "data")) a->data = v;
        else if (!strcmp(name, "out")) a->out = v;
        else if (!strcmp(name, "device")) a->device = v;
        else if (!strcmp(name, "seed")) ok = cli_parse_u64(v, &a->seed);
        else if (!strcmp(name, "epochs")) ok = cli_parse_int(v, 1, &a->opt.epochs);
        else if (!strcmp(name, "batch")) ok = cli_parse_int(v, 1, &a->opt.batch);
        else if (!strcmp(name, "lr")) ok = cli_parse_float(v, &a->opt.lr) && a->opt.lr > 0.0f;
        else if (!strcmp(name, "dropout"))
            ok = cli_parse_float(v, &a->opt.dropout) && a->opt.dropout >= 0.0f && a->opt.dropout < 1.0f;
        else if (!strcmp(name, "hidden")) ok = parse_hidden(v, &a->opt);
        else return cli_usage_error("unknown option %s for dgm classifier", arg);
        if (!ok) return cli_usage_error("%s %s: not a valid value", arg, v);
    }
    if (!a->data || !a->out) return cli_usage_error("dgm classifier needs --data and -o FILE");
    if (!cli_has_ext(a->out, ".safetensors"))
        return cli_usage_error("-o %s: the classifier is written as .safetensors", a->out);
    a->opt.seed = a->seed;
    return 0;
}

static int print_epoch(void *user, int64_t epoch, double mean_loss)
{
    const classifier_args *a = user;
    printf("epoch %lld/%lld: training loss %.5f\n", (long long)epoch, (long long)a->opt.epochs,
           mean_loss);
    fflush(stdout);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cmd_classifier(int argc, char **argv)
{
    classifier_args a;
    int rc = parse(argc, argv, &a);
    if (rc) return rc < 0 ? CLI_OK : rc;
    dgm_ctx *ctx = NULL;
    if ((rc = cli_make_ctx(a.device, a.seed, &ctx))) return rc;
    dgm_dataset *train = NULL, *test = NULL;
    dgm_classifier *clf = NULL;
    a.opt.on_epoch = print_epoch;
    a.opt.user = &a;
    const double start = now_s();
    double accuracy = 0.0;
    if (dgm_dataset_load(ctx, a.data, DGM_SPLIT_TRAIN, a.seed, &train))
        rc = cli_fail(ctx, a.data);
    else if (dgm_dataset_load(ctx, a.data, DGM_SPLIT_TEST, a.seed, &test))
        rc = cli_fail(ctx, a.data);
    else if (!dgm_dataset_labels(test))
        rc = cli_error("%s: the test split has no labels", a.data);
    else if (dgm_classifier_train(ctx, train, &a.opt, &clf))
        rc = cli_fail(ctx, "training the classifier");
    else if (dgm_classifier_accuracy(clf, dgm_dataset_data(test), dgm_dataset_labels(test),
                                     dgm_dataset_count(test), &accuracy))
        rc = cli_fail(ctx, "test accuracy");
    else if (dgm_classifier_save(clf, a.out))
        rc = cli_fail(ctx, a.out);
    if (!rc) {
        printf("trained on %lld rows of %s in %.1f s on %s\n", (long long)dgm_dataset_count(train),
               a.data, now_s() - start, dgm_device_name(dgm_ctx_device(ctx)));
        printf("test accuracy %.4f (%lld rows)\n", accuracy, (long long)dgm_dataset_count(test));
        printf("wrote %s\n", a.out);
    }
    dgm_classifier_free(clf);
    dgm_dataset_free(test);
    dgm_dataset_free(train);
    dgm_ctx_free(ctx);
    return rc;
}
