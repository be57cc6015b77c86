/* dgm sample / eval / info: commands that open a checkpoint. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

typedef struct ckpt_args {
    const char *path, *device, *out, *data, *metrics;
    int64_t n;
    uint64_t seed;
    bool help;
} ckpt_args;

/* Parses CHECKPOINT and the options this command allows (a string of option names). */
static int parse(int argc, char **argv, const char *cmd, const char *allowed, ckpt_args *a)
{
    memset(a, 0, sizeof *a);
    a->device = "auto";
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v = NULL;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            a->help = true;
            return 0;
        }
        if (arg[0] != '-') {
            if (a->path) return cli_usage_error("dgm %s takes one CHECKPOINT, got '%s' too", cmd, arg);
            a->path = arg;
            continue;
        }
        char name[64];
        if (!strcmp(arg, "-n")) snprintf(name, sizeof name, "n");
        else if (!strcmp(arg, "-o")) snprintf(name, sizeof name, "out");
        else if (!strncmp(arg, "--", 2)) cli_option_name(arg, name, sizeof name);
        else return cli_usage_error("unknown option %s for dgm %s", arg, cmd);
        char key[72];
        snprintf(key, sizeof key, " %s ", name);
        if (!strstr(allowed, key)) return cli_usage_error("unknown option %s for dgm %s", arg, cmd);
        if (!cli_take_value(argc, argv, &i, &v)) return cli_usage_error("%s needs a value", arg);
        bool ok = true;
        if (!strcmp(name, "n")) ok = cli_parse_int(v, 1, &a->n);
        else if (!strcmp(name, "out")) a->out = v;
        else if (!strcmp(name, "seed")) ok = cli_parse_u64(v, &a->seed);
        else if (!strcmp(name, "device")) a->device = v;
        else if (!strcmp(name, "data")) a->data = v;
        else if (!strcmp(name, "metric")) a->metrics = v;
        if (!ok) return cli_usage_error("%s %s: not a valid value", arg, v);
    }
    if (!a->path) return cli_usage_error("dgm %s needs a CHECKPOINT", cmd);
    return 0;
}

static int open_model(ckpt_args *a, dgm_ctx **ctx, dgm_model **m)
{
    int rc = cli_make_ctx(a->device, a->seed, ctx);
    if (rc) return rc;
    if (dgm_model_load(*ctx, a->path, m)) return cli_fail(*ctx, a->path);
    return CLI_OK;
}

int cmd_sample(int argc, char **argv)
{
    ckpt_args a;
    int rc = parse(argc, argv, "sample", " n out seed device ", &a);
    if (rc) return rc;
    if (a.help) {
        printf("usage: dgm sample CHECKPOINT -n N -o FILE.npy|FILE.csv|FILE.png [--seed S] [--device D]\n"
               "  a PNG is an image grid for image data and a scatter plot for 2-D data\n");
        return CLI_OK;
    }
    if (!a.n) return cli_usage_error("dgm sample needs -n N");
    if (!a.out) return cli_usage_error("dgm sample needs -o FILE");
    if (!cli_has_ext(a.out, ".npy") && !cli_has_ext(a.out, ".csv") && !cli_has_ext(a.out, ".png"))
        return cli_usage_error("-o %s: the output must end in .npy, .csv or .png", a.out);
    dgm_ctx *ctx = NULL;
    dgm_model *m = NULL;
    rc = open_model(&a, &ctx, &m);
    float *host = NULL;
    if (!rc) {
        const int64_t dim = dgm_model_dim(m);
        int64_t shape[3];
        int nd = dgm_model_sample_shape(m, shape);
        dgm_tensor *x = NULL;
        host = malloc((size_t)(a.n * dim) * sizeof *host);
        if (!host) rc = cli_error("-n %lld: out of memory", (long long)a.n);
        else if (dgm_model_sample(m, a.n, &x) || dgm_tensor_to_host(ctx, x, host))
            rc = cli_fail(ctx, "sampling");
        else rc = cli_write_samples(ctx, a.out, host, a.n, dim, nd, shape, NULL);
        if (!rc) printf("wrote %lld samples to %s\n", (long long)a.n, a.out);
    }
    free(host);
    dgm_model_free(m);
    dgm_ctx_free(ctx);
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    ckpt_args a;
    int rc = parse(argc, argv, "eval", " data metric seed device ", &a);
    if (rc) return rc;
    if (a.help) {
        printf("usage: dgm eval CHECKPOINT [--data DATA] [--metric NAME[,NAME...]] [--seed S] [--device D]\n"
               "  prints one JSON object of the metrics on the test split of DATA (default: the\n"
               "  data the checkpoint was trained on)\n");
        return CLI_OK;
    }
    dgm_ctx *ctx = NULL;
    dgm_model *m = NULL;
    dgm_dataset *ds = NULL;
    char *data = NULL;
    rc = open_model(&a, &ctx, &m);
    if (!rc && !a.data && dgm_checkpoint_meta(ctx, a.path, "data", &data))
        rc = cli_error("%s does not say what data it was trained on: give --data", a.path);
    const char *spec = a.data ? a.data : data;
    if (!rc && dgm_dataset_load(ctx, spec, DGM_SPLIT_TEST, a.seed, &ds)) rc = cli_fail(ctx, "--data");
    char out[4096];
    if (!rc) {
        dgm_status st = dgm_model_evaluate(m, ds, a.metrics, out, sizeof out);
        if (st == DGM_STATUS_INVALID_ARGUMENT && a.metrics) rc = cli_usage_error("--metric: %s", dgm_last_error(ctx));
        else if (st) rc = cli_fail(ctx, "evaluation");
        else printf("%s\n", out);
    }
    free(data);
    dgm_dataset_free(ds);
    dgm_model_free(m);
    dgm_ctx_free(ctx);
    return rc;
}

int cmd_info(int argc, char **argv)
{
    ckpt_args a;
    int rc = parse(argc, argv, "info", " ", &a);
    if (rc) return rc;
    if (a.help) {
        printf("usage: dgm info CHECKPOINT\n  kind, config, step, parameter names, shapes and count\n");
        return CLI_OK;
    }
    a.device = "cpu";
    dgm_ctx *ctx = NULL;
    dgm_model *m = NULL;
    rc = open_model(&a, &ctx, &m);
    if (!rc) {
        char *step = NULL, *version = NULL, *data = NULL;
        dgm_checkpoint_meta(ctx, a.path, "step", &step);
        dgm_checkpoint_meta(ctx, a.path, "dgm_version", &version);
        dgm_checkpoint_meta(ctx, a.path, "data", &data);
        printf("checkpoint: %s\nmodel: %s\nconfig: %s\nstep: %s\ndata: %s\ndgm version: %s\n", a.path,
               dgm_model_kind(m), dgm_model_config(m), step ? step : "?", data ? data : "?",
               version ? version : "?");
        dgm_params *p = dgm_model_params(m);
        printf("parameters:\n");
        for (int i = 0; i < dgm_params_count(p); i++) {
            dgm_tensor *t = dgm_params_at(p, i);
            printf("  %-32s [", dgm_params_name(p, i));
            for (int d = 0; d < dgm_tensor_ndim(t); d++)
                printf(d ? ", %lld" : "%lld", (long long)dgm_tensor_dim(t, d));
            printf("]%s\n", dgm_params_is_buffer(p, i) ? " (buffer)" : "");
        }
        printf("trainable parameters: %lld\n", (long long)dgm_params_numel(p));
        free(step), free(version), free(data);
    }
    dgm_model_free(m);
    dgm_ctx_free(ctx);
    return rc;
}
