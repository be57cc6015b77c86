/* FID and the Inception-style score for the dgm command: where dgm's Fashion-MNIST
 * classifier file is found, and the two metrics of image sets through it. */
#define _POSIX_C_SOURCE 200809L /* readlink, access */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

#define CLASSIFIER_FILE "fashion-mnist-classifier.safetensors"
enum { PATH_LEN = 4096 };

static bool readable(const char *path)
{
    return access(path, R_OK) == 0;
}

/* --classifier, then $DGM_CLASSIFIER, then the installed copy (BIN/../share/dgm/), then the
 * source tree's models/ (a build run in place). */
static bool find_classifier(const char *given, char *path, size_t len)
{
    if (given) return snprintf(path, len, "%s", given), true;
    const char *env = getenv("DGM_CLASSIFIER");
    if (env && *env) return snprintf(path, len, "%s", env), true;
    char exe[PATH_LEN];
    const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(path, len, "%s/../share/dgm/" CLASSIFIER_FILE, exe);
            if (readable(path)) return true;
        }
    }
#ifdef DGM_SOURCE_MODELS_DIR
    snprintf(path, len, "%s/" CLASSIFIER_FILE, DGM_SOURCE_MODELS_DIR);
    if (readable(path)) return true;
#endif
    return false;
}

bool cli_is_image_metric(const char *name, size_t len)
{
    return (len == 3 && !strncmp(name, "fid", 3)) || (len == 2 && !strncmp(name, "is", 2));
}

int cli_open_classifier(dgm_ctx *ctx, const char *given, dgm_classifier **out)
{
    char path[PATH_LEN + 64];
    if (!find_classifier(given, path, sizeof path))
        return cli_error("fid/is need dgm's Fashion-MNIST classifier (" CLASSIFIER_FILE "): give "
                         "--classifier FILE or set DGM_CLASSIFIER (it is models/" CLASSIFIER_FILE
                         " in the source tree, share/dgm/ when installed)");
    if (dgm_classifier_load(ctx, path, out)) return cli_fail(ctx, path);
    return CLI_OK;
}

int cli_image_metric(dgm_ctx *ctx, dgm_classifier *clf, const char *name, const float *a, int64_t na,
                     const float *b, int64_t nb, int64_t dim, double *value)
{
    if (dim != dgm_classifier_input_dim(clf))
        return cli_error("%s: the classifier takes images of %lld values, these have %lld", name,
                         (long long)dgm_classifier_input_dim(clf), (long long)dim);
    const dgm_status st = !strcmp(name, "fid") ? dgm_fid_images(ctx, clf, a, na, b, nb, value)
                                               : dgm_inception_score(ctx, clf, a, na, value);
    return st ? cli_fail(ctx, name) : CLI_OK;
}
