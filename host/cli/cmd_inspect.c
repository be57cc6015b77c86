/* dgm sample / eval / info: commands that open a checkpoint. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

typedef struct ckpt_args {
    const char *path, *device, *out, *data, *metrics, *classifier;
    int64_t n, k;
    uint64_t seed;
    bool help, reconstruct, latent_map;
    const char *set[16]; /* --set NAME=VALUE: model options replaced (sampling) */
    int nset;
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
        const int rc = cli_option_key(arg, cmd, allowed, name, sizeof name);
        if (rc) return rc;
        if (!strcmp(name, "reconstruct") || !strcmp(name, "latent-map")) {
            *(name[0] == 'r' ? &a->reconstruct : &a->latent_map) = true;
            continue;
        }
        if (!cli_take_value(argc, argv, &i, &v)) return cli_usage_error("%s needs a value", arg);
        bool ok = true;
        if (!strcmp(name, "n")) ok = cli_parse_int(v, 1, &a->n);
        else if (!strcmp(name, "out")) a->out = v;
        else if (!strcmp(name, "seed")) ok = cli_parse_u64(v, &a->seed);
        else if (!strcmp(name, "device")) a->device = v;
        else if (!strcmp(name, "data")) a->data = v;
        else if (!strcmp(name, "metric")) a->metrics = v;
        else if (!strcmp(name, "classifier")) a->classifier = v;
        else if (!strcmp(name, "k")) ok = cli_parse_int(v, 1, &a->k);
        else if (!strcmp(name, "set")) {
            ok = strchr(v, '=') && v[0] != '=' && a->nset < 16;
            if (ok) a->set[a->nset++] = v;
        }
        if (!ok) return cli_usage_error("%s %s: not a valid value", arg, v);
    }
    if (!a->path) return cli_usage_error("dgm %s needs a CHECKPOINT", cmd);
    return 0;
}

static int open_model(ckpt_args *a, dgm_ctx **ctx, dgm_model **m)
{
    int rc = cli_make_ctx(a->device, a->seed, ctx);
    if (rc) return rc;
    char *set = NULL;
    if (a->nset) {
        json_t *o = json_object();
        for (int i = 0; i < a->nset; i++) {
            const char *eq = strchr(a->set[i], '=');
            char key[64];
            snprintf(key, sizeof key, "%.*s", (int)(eq - a->set[i] < 63 ? eq - a->set[i] : 63), a->set[i]);
            json_object_set_new(o, key, json_string(eq + 1));
        }
        set = json_dumps(o, JSON_COMPACT);
        json_decref(o);
    }
    const dgm_status st = dgm_model_load_with(*ctx, a->path, set, m);
    free(set);
    if (st == DGM_STATUS_INVALID_ARGUMENT && a->nset) return cli_usage_error("--set: %s", cli_last_error(*ctx));
    if (st) return cli_fail(*ctx, a->path);
    return CLI_OK;
}

/* The test split of --data, or of the data the checkpoint was trained on, checked against
 * the model (its sample size above all: the rows are copied to the device at the model's
 * width). */
static int open_test_data(ckpt_args *a, dgm_ctx *ctx, dgm_model *m, dgm_dataset **ds)
{
    char *data = NULL;
    if (!a->data && dgm_checkpoint_meta(ctx, a->path, "data", &data))
        return cli_error("%s does not say what data it was trained on: give --data", a->path);
    const char *spec = a->data ? a->data : data;
    /* The checkpoint's entry is only a default, from an untrusted file: say which data it is. */
    if (!a->data) fprintf(stderr, "dgm: data: %s (recorded in %s; --data chooses other data)\n", spec, a->path);
    int rc = CLI_OK;
    if (dgm_dataset_load(ctx, spec, DGM_SPLIT_TEST, a->seed, ds)) rc = cli_fail(ctx, "--data");
    else if (dgm_model_check_data(m, *ds)) rc = cli_usage_error("--data %s: %s", spec, cli_last_error(ctx));
    if (rc) {
        dgm_dataset_free(*ds);
        *ds = NULL;
    }
    free(data);
    return rc;
}

/* A usage error for --reconstruct/--latent-map on a model without an encoder. */
static int no_encoder(const ckpt_args *a, dgm_model *m, const char *option)
{
    return cli_usage_error("%s needs a model with an encoder (a vae); %s holds a %s model", option, a->path,
                           dgm_model_kind(m));
}

/* --reconstruct: the first n test images above their reconstructions. */
static int sample_reconstruct(ckpt_args *a, dgm_ctx *ctx, dgm_model *m)
{
    dgm_dataset *ds = NULL;
    int rc = open_test_data(a, ctx, m, &ds);
    if (rc) return rc;
    const int64_t dim = dgm_model_dim(m);
    int64_t shape[3];
    const int nd = dgm_model_sample_shape(m, shape);
    int64_t n = a->n < dgm_dataset_count(ds) ? a->n : dgm_dataset_count(ds);
    const int nrow = n <= 16 ? (int)n : 16;
    n -= n % nrow; /* whole rows, so the reconstructions start a row of their own */
    float *grid = malloc((size_t)(2 * n * dim) * sizeof *grid);
    const int64_t bshape[2] = {n, dim};
    dgm_tensor *x = NULL, *y = NULL;
    dgm_status st = DGM_STATUS_OK;
    if (!grid) rc = cli_error("-n %lld: out of memory", (long long)n);
    else if (nd < 2) rc = cli_usage_error("--reconstruct needs image data; this model's samples have %lld values", (long long)dim);
    else if (dgm_tensor_from_host(ctx, 2, bshape, dgm_dataset_data(ds), &x)) rc = cli_fail(ctx, "reconstructing");
    else if ((st = dgm_model_reconstruct(m, x, &y)) == DGM_STATUS_UNSUPPORTED) rc = no_encoder(a, m, "--reconstruct");
    else if (st || dgm_tensor_to_host(ctx, y, grid + n * dim)) rc = cli_fail(ctx, "reconstructing");
    if (!rc) {
        memcpy(grid, dgm_dataset_data(ds), (size_t)(n * dim) * sizeof *grid);
        int c = nd == 3 ? (int)shape[0] : 1;
        if (dgm_save_image_grid(ctx, a->out, grid, 2 * n, c, (int)shape[nd - 2], (int)shape[nd - 1], nrow, 2, 0.0f))
            rc = cli_fail(ctx, a->out);
        else printf("wrote %lld test images and their reconstructions to %s\n", (long long)n, a->out);
    }
    free(grid);
    dgm_dataset_free(ds);
    return rc;
}

/* --latent-map: the latent means of n test samples, coloured by label (2-D latents). */
static int sample_latent_map(ckpt_args *a, dgm_ctx *ctx, dgm_model *m)
{
    dgm_dataset *ds = NULL;
    int rc = open_test_data(a, ctx, m, &ds);
    if (rc) return rc;
    const int64_t dim = dgm_model_dim(m), n = a->n < dgm_dataset_count(ds) ? a->n : dgm_dataset_count(ds);
    const int64_t bshape[2] = {n, dim};
    dgm_tensor *x = NULL, *z = NULL;
    float *pts = NULL;
    dgm_status st = DGM_STATUS_OK;
    if (dgm_tensor_from_host(ctx, 2, bshape, dgm_dataset_data(ds), &x)) rc = cli_fail(ctx, "encoding");
    else if ((st = dgm_model_encode(m, x, &z)) == DGM_STATUS_UNSUPPORTED) rc = no_encoder(a, m, "--latent-map");
    else if (st) rc = cli_fail(ctx, "encoding");
    else if (dgm_tensor_dim(z, 1) != 2)
        rc = cli_error("--latent-map needs a model with --latent 2 (this one has %lld)", (long long)dgm_tensor_dim(z, 1));
    else if (!(pts = malloc((size_t)(2 * n) * sizeof *pts))) rc = cli_error("out of memory");
    else if (dgm_tensor_to_host(ctx, z, pts)) rc = cli_fail(ctx, "encoding");
    else if (dgm_save_scatter_png(ctx, a->out, pts, n, dgm_dataset_labels(ds), NULL, 640))
        rc = cli_fail(ctx, a->out);
    else printf("wrote the latent means of %lld test samples to %s\n", (long long)n, a->out);
    free(pts);
    dgm_dataset_free(ds);
    return rc;
}

int cmd_sample(int argc, char **argv)
{
    ckpt_args a;
    int rc = parse(argc, argv, "sample", " n out seed device reconstruct latent-map data set ", &a);
    if (rc) return rc;
    if (a.help) {
        printf("usage: dgm sample CHECKPOINT -n N -o FILE.npy|FILE.csv|FILE.png [--seed S] [--device D]\n"
               "                  [--set OPTION=VALUE ...]  (sampling options, e.g. --set sampler=ddim\n"
               "                  --set sample-steps=20 for a ddpm, --set solver=rk4 for an fm)\n"
               "       dgm sample CHECKPOINT --reconstruct -n N -o FILE.png [--data DATA]\n"
               "       dgm sample CHECKPOINT --latent-map -n N -o FILE.png [--data DATA]\n"
               "  a PNG is an image grid for image data and a scatter plot for 2-D data;\n"
               "  --reconstruct: N test images above their reconstructions (models with an encoder);\n"
               "  --latent-map: the latent means of N test samples coloured by label (2-D latents)\n");
        return CLI_OK;
    }
    if (!a.n) return cli_usage_error("dgm sample needs -n N");
    if (a.reconstruct && a.latent_map) return cli_usage_error("give --reconstruct or --latent-map, not both");
    if ((a.reconstruct || a.latent_map) && a.out && !cli_has_ext(a.out, ".png"))
        return cli_usage_error("-o %s: --%s writes a .png", a.out, a.reconstruct ? "reconstruct" : "latent-map");
    if (!a.out) return cli_usage_error("dgm sample needs -o FILE");
    if (!cli_has_ext(a.out, ".npy") && !cli_has_ext(a.out, ".csv") && !cli_has_ext(a.out, ".png"))
        return cli_usage_error("-o %s: the output must end in .npy, .csv or .png", a.out);
    dgm_ctx *ctx = NULL;
    dgm_model *m = NULL;
    rc = open_model(&a, &ctx, &m);
    float *host = NULL;
    if (!rc && (a.reconstruct || a.latent_map)) {
        rc = a.reconstruct ? sample_reconstruct(&a, ctx, m) : sample_latent_map(&a, ctx, m);
    } else if (!rc) {
        const int64_t dim = dgm_model_dim(m);
        int64_t shape[3];
        int nd = dgm_model_sample_shape(m, shape);
        host = cli_alloc_rows(a.n, dim);
        if (!host) rc = cli_error("-n %lld: out of memory", (long long)a.n);
        else if (dgm_model_sample_into(m, a.n, host, DGM_MEMORY_HOST)) rc = cli_fail(ctx, "sampling");
        else rc = cli_write_samples(ctx, a.out, host, a.n, dim, nd, shape, NULL);
        if (!rc && dgm_model_note(m)[0]) fprintf(stderr, "dgm: %s\n", dgm_model_note(m));
        if (!rc) printf("wrote %lld samples to %s\n", (long long)a.n, a.out);
    }
    free(host);
    dgm_model_free(m);
    dgm_ctx_free(ctx);
    return rc;
}

/* Splits the --metric list into the model's metrics (*model_list, NULL when none) and the
 * image metrics fid and is (*fid, *is). */
static int split_metrics(const char *list, char *model_list, size_t len, bool *fid, bool *is)
{
    size_t used = 0;
    *fid = *is = false;
    model_list[0] = '\0';
    if (!*list) return cli_usage_error("--metric '': no metric named (give NAME[,NAME...])");
    for (const char *p = list; p;) {
        const char *comma = strchr(p, ',');
        const size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (!n) return cli_usage_error("--metric %s: an empty name in the list", list);
        for (const char *q = list; q < p;) { /* each name once */
            const size_t m = strcspn(q, ",");
            if (m == n && !strncmp(q, p, n))
                return cli_usage_error("--metric %s: %.*s is named twice", list, (int)n, p);
            q += m + 1;
        }
        if (cli_is_image_metric(p, n)) *(p[0] == 'f' ? fid : is) = true;
        else if (n) {
            if (used + n + 2 > len) return cli_usage_error("--metric: the list is too long");
            used += (size_t)snprintf(model_list + used, len - used, "%s%.*s", used ? "," : "", (int)n, p);
        }
        p = comma ? comma + 1 : NULL;
    }
    return CLI_OK;
}

/* fid (to the test rows) and is of n samples, as JSON members appended to out. */
static int image_metrics(dgm_ctx *ctx, dgm_model *m, const dgm_dataset *ds, const ckpt_args *a, bool fid,
                         bool is, char *out, size_t len)
{
    const int64_t n = a->n ? a->n : 5000, dim = dgm_model_dim(m);
    dgm_classifier *clf = NULL;
    int rc = cli_open_classifier(ctx, a->classifier, &clf);
    float *x = rc ? NULL : cli_alloc_rows(n, dim);
    if (!rc && !x) rc = cli_error("out of memory for %lld samples", (long long)n);
    if (!rc && dgm_model_sample_into(m, n, x, DGM_MEMORY_HOST)) rc = cli_fail(ctx, "sampling");
    for (int k = 0; k < 2 && !rc; k++) {
        if (!(k ? is : fid)) continue;
        double v = 0.0;
        rc = cli_image_metric(ctx, clf, k ? "is" : "fid", x, n, dgm_dataset_data(ds), dgm_dataset_count(ds), dim, &v);
        const size_t at = strlen(out) - 1; /* the closing brace */
        if (!rc) snprintf(out + at, len - at, "%s\"%s\":%.10g}", at > 1 ? "," : "", k ? "is" : "fid", v);
    }
    free(x);
    dgm_classifier_free(clf);
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    ckpt_args a;
    int rc = parse(argc, argv, "eval", " data metric k seed device set n classifier ", &a);
    if (rc) return rc;
    if (a.help) {
        printf("usage: dgm eval CHECKPOINT [--data DATA] [--metric NAME[,NAME...]] [--k K] [--seed S] [--device D]\n"
               "                [--set OPTION=VALUE ...]  (sampling options, as for dgm sample)\n"
               "                [-n N] [--classifier FILE]  (fid, is)\n"
               "  metrics: gaussian: nll; vae: elbo (default), iwae (with K importance samples, default 1);\n"
               "  see `dgm train MODEL --help` for each model's; and for image models on Fashion-MNIST\n"
               "  fid (of N samples, default 5000, to the test set) and is (of the N samples), through\n"
               "  dgm's classifier (models/fashion-mnist-classifier.safetensors, or --classifier,\n"
               "  or $DGM_CLASSIFIER)\n"
               "  prints one JSON object of the metrics on the test split of DATA (default: the\n"
               "  data the checkpoint was trained on)\n");
        return CLI_OK;
    }
    char model_metrics[1024];
    bool fid = false, is = false;
    if (a.metrics && (rc = split_metrics(a.metrics, model_metrics, sizeof model_metrics, &fid, &is))) return rc;
    dgm_ctx *ctx = NULL;
    dgm_model *m = NULL;
    dgm_dataset *ds = NULL;
    rc = open_model(&a, &ctx, &m);
    if (!rc) rc = open_test_data(&a, ctx, m, &ds);
    char out[4096];
    if (!rc && a.k && dgm_model_set_eval_samples(m, a.k)) rc = cli_fail(ctx, "--k");
    if (!rc) {
        dgm_status st = DGM_STATUS_OK;
        if (!a.metrics || model_metrics[0]) st = dgm_model_evaluate(m, ds, a.metrics ? model_metrics : NULL, out, sizeof out);
        else snprintf(out, sizeof out, "{}");
        if (st == DGM_STATUS_INVALID_ARGUMENT && a.metrics) rc = cli_usage_error("--metric: %s", cli_last_error(ctx));
        else if (st) rc = cli_fail(ctx, "evaluation");
        if (!rc && (fid || is)) rc = image_metrics(ctx, m, ds, &a, fid, is, out, sizeof out);
        if (!rc && dgm_model_note(m)[0]) fprintf(stderr, "dgm: %s\n", dgm_model_note(m));
        if (!rc) printf("%s\n", out);
    }
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
        char *step = NULL, *version = NULL, *data = NULL, *extra = NULL;
        dgm_checkpoint_meta(ctx, a.path, "step", &step);
        dgm_checkpoint_meta(ctx, a.path, "dgm_version", &version);
        dgm_checkpoint_meta(ctx, a.path, "data", &data);
        dgm_checkpoint_meta(ctx, a.path, "extra", &extra); /* how dgm train ran it */
        printf("checkpoint: %s\nmodel: %s\nconfig: %s\nstep: %s\ndata: %s\ndgm version: %s\n", a.path,
               dgm_model_kind(m), dgm_model_config(m), step ? step : "?", data ? data : "?",
               version ? version : "?");
        if (extra) printf("training: %s\n", extra);
        free(extra);
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
