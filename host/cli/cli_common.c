/* Shared helpers of the dgm command. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"

int cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("dgm: usage error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (see dgm --help)\n", stderr);
    va_end(ap);
    return CLI_USAGE;
}

int cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("dgm: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return CLI_ERROR;
}

const char *cli_last_error(dgm_ctx *ctx)
{
    const char *msg = dgm_last_error(ctx), *p = msg;
    if (strncmp(p, "dgm_", 4)) return msg;
    for (p += 4; (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'; p++) {}
    return p[0] == ':' && p[1] == ' ' ? p + 2 : msg;
}

int cli_fail(dgm_ctx *ctx, const char *what)
{
    /* A message that already names the file (or option) says it once. */
    const char *msg = cli_last_error(ctx);
    if (what && *what && strstr(msg, what)) return cli_error("%s", msg);
    return cli_error("%s: %s", what, msg);
}

bool cli_parse_int(const char *s, int64_t min, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || end == s || *end || errno || v < min) return false;
    *out = v;
    return true;
}

bool cli_parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    if (!s || *s == '-') return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end || errno) return false;
    *out = v;
    return true;
}

bool cli_parse_float(const char *s, float *out)
{
    char *end = NULL;
    errno = 0;
    float v = s ? strtof(s, &end) : 0;
    if (!s || end == s || *end || errno || !isfinite(v)) return false;
    *out = v;
    return true;
}

bool cli_take_value(int argc, char **argv, int *i, const char **value)
{
    const char *eq = strchr(argv[*i], '=');
    if (eq) {
        *value = eq + 1;
        return true;
    }
    if (*i + 1 >= argc) return false;
    *value = argv[++*i];
    return true;
}

const char *cli_option_name(const char *arg, char *buf, size_t len)
{
    const char *p = arg + 2;
    const char *eq = strchr(p, '=');
    size_t n = eq ? (size_t)(eq - p) : strlen(p);
    snprintf(buf, len, "%.*s", (int)n, p);
    return buf;
}

int cli_option_key(const char *arg, const char *cmd, const char *allowed, char *name, size_t len)
{
    if (!strcmp(arg, "-n")) snprintf(name, len, "n");
    else if (!strcmp(arg, "-o")) snprintf(name, len, "out");
    else if (!strncmp(arg, "--", 2)) cli_option_name(arg, name, len);
    else return cli_usage_error("unknown option %s for dgm %s", arg, cmd);
    char key[72];
    snprintf(key, sizeof key, " %s ", name);
    if (!strstr(allowed, key)) return cli_usage_error("unknown option %s for dgm %s", arg, cmd);
    return CLI_OK;
}

float *cli_alloc_rows(int64_t n, int64_t dim)
{
    if (n < 1 || dim < 1 || (uint64_t)n > SIZE_MAX / sizeof(float) / (uint64_t)dim) return NULL;
    return malloc((size_t)n * (size_t)dim * sizeof(float));
}

int cli_make_ctx(const char *device, uint64_t seed, dgm_ctx **out)
{
    dgm_ctx_config cfg = dgm_ctx_config_default();
    cfg.seed = seed;
    if (!device || !strcmp(device, "auto")) cfg.device = DGM_DEVICE_AUTO;
    else if (!strcmp(device, "cpu")) cfg.device = DGM_DEVICE_CPU;
    else if (!strcmp(device, "cuda")) cfg.device = DGM_DEVICE_CUDA;
    else return cli_usage_error("--device %s: expected auto, cpu or cuda", device);
    dgm_ctx *ctx = NULL;
    if (dgm_ctx_create(&cfg, &ctx) != DGM_STATUS_OK) {
        int rc = cli_error("--device %s: %s", device ? device : "auto",
                           ctx ? cli_last_error(ctx) : "out of memory");
        dgm_ctx_free(ctx);
        return rc;
    }
    *out = ctx;
    return CLI_OK;
}

bool cli_has_ext(const char *path, const char *ext)
{
    size_t n = strlen(path), e = strlen(ext);
    return n > e && !strcasecmp(path + n - e, ext);
}

int cli_write_samples(dgm_ctx *ctx, const char *path, const float *x, int64_t n, int64_t dim,
                      int sample_ndim, const int64_t *sample_shape, const dgm_extent *extent)
{
    dgm_status st;
    if (cli_has_ext(path, ".npy")) {
        const int64_t shape[2] = {n, dim};
        st = dgm_save_npy(ctx, path, x, 2, shape);
    } else if (cli_has_ext(path, ".csv")) {
        st = dgm_save_csv(ctx, path, x, n, dim);
    } else if (cli_has_ext(path, ".png")) {
        if (dim == 2) {
            st = dgm_save_scatter_png(ctx, path, x, n, NULL, extent, 512);
        } else if (sample_ndim >= 2) {
            int c = sample_ndim == 3 ? (int)sample_shape[0] : 1;
            int h = (int)sample_shape[sample_ndim - 2], w = (int)sample_shape[sample_ndim - 1];
            int nrow = (int)ceil(sqrt((double)n));
            st = dgm_save_image_grid(ctx, path, x, n, c, h, w, nrow, 2, 0.0f);
        } else {
            return cli_error("%s: a PNG needs image-shaped or 2-D samples; these have %lld "
                             "values each (write .npy or .csv)", path, (long long)dim);
        }
    } else {
        return cli_usage_error("%s: the output must end in .npy, .csv or .png", path);
    }
    if (st != DGM_STATUS_OK) return cli_fail(ctx, path);
    return CLI_OK;
}

int cli_write_exact_density(dgm_ctx *ctx, dgm_model *m, char *path, const dgm_extent *extent)
{
    enum { bins = 128 };
    float *pts = malloc(2 * bins * bins * sizeof *pts), *dens = malloc(bins * bins * sizeof *dens);
    int rc = pts && dens ? CLI_OK : cli_error("out of memory");
    for (int by = 0; !rc && by < bins; by++)
        for (int bx = 0; bx < bins; bx++) {
            float *p = pts + 2 * (by * bins + bx);
            p[0] = extent->xmin + (extent->xmax - extent->xmin) * ((float)bx + 0.5f) / bins;
            p[1] = extent->ymin + (extent->ymax - extent->ymin) * ((float)by + 0.5f) / bins;
        }
    const int64_t shape[2] = {bins * bins, 2};
    dgm_tensor *x = NULL, *logp = NULL;
    if (!rc && dgm_tensor_from_host(ctx, 2, shape, pts, &x)) rc = cli_fail(ctx, "the density grid");
    if (!rc) {
        dgm_status st = dgm_model_log_density(m, x, &logp);
        if (st == DGM_STATUS_UNSUPPORTED) path[0] = 0; /* no exact density: no picture */
        else if (st || dgm_tensor_to_host(ctx, logp, dens)) rc = cli_fail(ctx, "the model's density");
    }
    if (!rc && path[0]) {
        for (int i = 0; i < bins * bins; i++) dens[i] = expf(dens[i]);
        if (dgm_save_heatmap_png(ctx, path, dens, bins, extent, 512)) rc = cli_fail(ctx, path);
    }
    dgm_ctx_step_end(ctx);
    free(pts);
    free(dens);
    return rc;
}
