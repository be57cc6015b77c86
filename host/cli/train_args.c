/* `dgm train` options: parsing, the help (with each model's options and training
 * defaults), and their combination with the model's defaults. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/train_args.h"

#define DEFAULTS_LINES 8

/* The training defaults of `kind` configured by config_json, for data of sample_ndim
 * dimensions (0: any), as "name  value" lines. */
static int defaults_lines(const char *kind, const char *config_json, int sample_ndim,
                          char lines[][600])
{
    dgm_train_defaults t;
    char run[512];
    int n = 0;
    if (dgm_model_train_defaults_for_data(kind, config_json, sample_ndim, &t) != DGM_STATUS_OK) return 0;
    dgm_train_describe_run(&t, run, sizeof run);
    snprintf(lines[n++], 600, "run         %s", run);
    snprintf(lines[n++], 600, "batch       %lld (a batch larger than the training set is the whole set)",
             (long long)t.batch);
    char *opt = lines[n++];
    memcpy(opt, "optimizer   ", 12);
    dgm_optim_describe(&t.optim, opt + 12, 600 - 12);
    if (t.schedule.kind == DGM_LR_COSINE)
        snprintf(lines[n++], 600, "lr schedule %lld warm-up steps, cosine to %g at the end",
                 (long long)t.schedule.warmup_steps, (double)t.schedule.min_lr);
    else if (t.schedule.warmup_steps)
        snprintf(lines[n++], 600, "lr schedule %lld warm-up steps, then constant", (long long)t.schedule.warmup_steps);
    else
        snprintf(lines[n++], 600, "lr schedule constant%s", t.run == DGM_RUN_CONVERGED ? " (but for the plateau decays)" : "");
    if (t.clip > 0) snprintf(lines[n++], 600, "clip        %g", (double)t.clip);
    else snprintf(lines[n++], 600, "clip        off");
    snprintf(lines[n++], 600, "log every   %lld steps", (long long)t.log_every);
    if (t.save_every) snprintf(lines[n++], 600, "save every  %lld steps", (long long)t.save_every);
    else snprintf(lines[n++], 600, "save        at the end");
    return n;
}

/* The kind's training defaults, then what changes with each option value that changes them. */
static void print_defaults(const char *kind)
{
    char base[DEFAULTS_LINES][600], other[DEFAULTS_LINES][600];
    const int n = defaults_lines(kind, NULL, 0, base);
    printf("  training defaults:\n");
    for (int i = 0; i < n; i++) printf("    %s\n", base[i]);
    const int ni = defaults_lines(kind, NULL, 2, other);
    bool images_differ = false;
    for (int i = 0; i < ni; i++) images_differ |= i >= n || strcmp(base[i], other[i]);
    if (images_differ) {
        printf("  on images (samples of 2 or more dimensions), instead:\n");
        for (int i = 0; i < ni; i++)
            if (i >= n || strcmp(base[i], other[i])) printf("    %s\n", other[i]);
        const char *took = dgm_model_image_run_time(kind);
        if (took) printf("    time        %s\n", took);
    }
    const dgm_model_option *v = dgm_model_defaults_variants(kind);
    for (; v && v->name; v++) {
        json_t *o = json_object();
        json_object_set_new(o, v->name, json_string(v->default_value));
        char *cfg = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        const int m = cfg ? defaults_lines(kind, cfg, 0, other) : 0;
        free(cfg);
        printf("  with --%s %s (%s), instead:\n", v->name, v->default_value, v->help);
        for (int i = 0; i < m; i++)
            if (i >= n || strcmp(base[i], other[i])) printf("    %s\n", other[i]);
    }
}

static void train_help(const char *model)
{
    printf("usage: dgm train MODEL --data DATA [options] [model options]\n\n"
           "  --data DATA           fashion-mnist, mnist, a toy (%s), or an .npy/.csv/IDX file\n"
           "  --device D            auto (default: CUDA when a GPU is usable), cpu or cuda\n"
           "  --steps N | --epochs N  length of the run (default: the model's, below)\n"
           "  --batch B             batch size (default: the model's)\n"
           "  --lr X                learning rate (default: the model's, or the optimizer's when\n"
           "                        --optimizer names another)\n"
           "  --optimizer NAME      adam, adamw or sgd (default: the model's)\n"
           "  --betas B1,B2         Adam/AdamW betas, each in [0, 1) (default 0.9,0.999)\n"
           "  --weight-decay X      (default: the optimizer's, 0 for adam/sgd, 1e-2 for adamw)\n"
           "  --clip X              clip gradients to global norm X (default off)\n"
           "  --seed S              seed of initialization, shuffling and noise (default 0)\n"
           "  --out DIR             output folder (default runs/MODEL-DATA)\n"
           "  --save-every N        checkpoint every N steps (default: only at the end)\n"
           "  --log-every N         metrics line every N steps (default 100)\n"
           "  --resume              continue from DIR/checkpoint.safetensors, its options and seed\n",
           "ring8, grid25, gauss8, moons, checkerboard, swissroll, pinwheel, 2spirals");
    const char *const *kinds = dgm_model_kinds();
    for (int k = 0; kinds[k]; k++) {
        if (model && strcmp(model, kinds[k])) continue;
        const dgm_model_option *o = dgm_model_options(kinds[k]);
        printf("\nmodel %s: %s\n", kinds[k], dgm_model_summary(kinds[k]));
        if (!o[0].name) printf("  (no model options)\n");
        for (; o->name; o++) printf("  --%-20s %s (default %s)\n", o->name, o->help, o->default_value);
        print_defaults(kinds[k]);
    }
}

/* "gaussian, vae" */
static const char *kinds_list(void)
{
    static char buf[256];
    const char *const *k = dgm_model_kinds();
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; k[i] && n < sizeof buf; i++) n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", i ? ", " : "", k[i]);
    return buf;
}

static bool is_model_option(const char *model, const char *name)
{
    const dgm_model_option *o = dgm_model_options(model);
    for (; o && o->name; o++)
        if (!strcmp(o->name, name)) return true;
    return false;
}

int train_parse_args(int argc, char **argv, train_args *a)
{
    memset(a, 0, sizeof *a);
    a->device = "auto";
    a->model_options = json_object();
    a->run_options = json_object();
    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
            train_help(NULL);
            return -1;
        }
        return cli_usage_error("dgm train needs a MODEL (%s)", kinds_list());
    }
    a->model = argv[1];
    if (!dgm_model_options(a->model)) return cli_usage_error("unknown model '%s' (valid: %s)", a->model, kinds_list());
    for (int i = 2; i < argc; i++) {
        char name[64];
        const char *v = NULL;
        if (strncmp(argv[i], "--", 2)) return cli_usage_error("unexpected argument '%s'", argv[i]);
        cli_option_name(argv[i], name, sizeof name);
        if (!strcmp(name, "help")) {
            train_help(a->model);
            return -1;
        }
        if (!strcmp(name, "resume")) {
            a->resume = true;
            continue;
        }
        if (!cli_take_value(argc, argv, &i, &v)) return cli_usage_error("--%s needs a value", name);
        bool ok = true;
        if (!strcmp(name, "data")) a->data = v;
        else if (!strcmp(name, "device")) a->device = v;
        else if (!strcmp(name, "out")) a->out = v;
        else if (!strcmp(name, "seed")) ok = cli_parse_u64(v, &a->seed), a->seed_given = true;
        else if (dgm_train_is_run_option(name)) json_object_set_new(a->run_options, name, json_string(v));
        else if (is_model_option(a->model, name)) json_object_set_new(a->model_options, name, json_string(v));
        else {
            const dgm_model_option *o = dgm_model_options(a->model);
            char list[512] = "";
            size_t n = 0;
            for (; o->name && n < sizeof list; o++) n += (size_t)snprintf(list + n, sizeof list - n, " --%s", o->name);
            return cli_usage_error("unknown option --%s for dgm train %s (model options:%s)", name,
                                   a->model, n ? list : " none");
        }
        if (!ok) return cli_usage_error("--%s %s: not a valid value", name, v);
    }
    if (!a->data) return cli_usage_error("dgm train %s needs --data", a->model);
    if (a->resume && json_object_size(a->model_options))
        return cli_usage_error("--resume takes the model options from the checkpoint; drop them");
    dgm_train_defaults t;
    char *cfg = json_dumps(a->model_options, JSON_COMPACT);
    const int rc = train_resolve(a, cfg, 0, &t);
    free(cfg);
    return rc;
}

int train_resolve(const train_args *a, const char *config_json, int sample_ndim,
                  dgm_train_defaults *t)
{
    if (dgm_model_train_defaults_for_data(a->model, config_json, sample_ndim, t) != DGM_STATUS_OK)
        dgm_model_train_defaults(a->model, t);
    char *given = json_dumps(a->run_options, JSON_COMPACT);
    char err[512];
    const dgm_status st = dgm_train_defaults_override(t, given, err, sizeof err);
    free(given);
    return st == DGM_STATUS_OK ? CLI_OK : cli_usage_error("--%s", err);
}
