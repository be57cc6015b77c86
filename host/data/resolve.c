/* dgm_dataset_load: what a --data argument names.
 *
 *  "fashion-mnist", "mnist"  the four IDX files as distributed ({train,t10k}-{images-idx3,
 *                            labels-idx1}-ubyte, gzipped or not), looked for in
 *                            $DGM_DATA_DIR/<name>, $DGM_DATA_DIR, then
 *                            /usr/share/datasets/<name> (Debian's dataset-fashion-mnist).
 *  a toy name                train: 100000 samples from `seed`; test: 10000 samples from a
 *                            seed derived from it, so the two never share a stream.
 *  a path                    by extension: .npy, .csv, .gz (IDX); otherwise by content
 *                            (IDX or .npy magic). An IDX images file named *images-idx3*
 *                            gets the *labels-idx1* file beside it as labels when there is
 *                            one. The split does not apply to a path.
 */
#define _POSIX_C_SOURCE 200809L /* access */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "io/atomic_file.h"
#include "data/data_internal.h"

#define TOY_TRAIN_COUNT 100000
#define TOY_TEST_COUNT 10000
#define PATH_CAP 4096

static int file_exists(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    return f != NULL;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    if (n < m) return 0;
    for (size_t i = 0; i < m; i++) {
        char a = s[n - m + i], b = suffix[i];
        if (a >= 'A' && a <= 'Z') a = (char)(a + 32);
        if (a != b) return 0;
    }
    return 1;
}

/* Looks in `dir` for the split's images and labels (gzipped first, then plain). */
static int find_pair(const char *dir, const char *prefix, char *images, char *labels)
{
    static const char *const ext[2] = {".gz", ""};
    for (int e = 0; e < 2; e++) {
        int a = snprintf(images, PATH_CAP, "%s/%s-images-idx3-ubyte%s", dir, prefix, ext[e]);
        int b = snprintf(labels, PATH_CAP, "%s/%s-labels-idx1-ubyte%s", dir, prefix, ext[e]);
        if (a < 0 || a >= PATH_CAP || b < 0 || b >= PATH_CAP) return 0;
        if (file_exists(images) && file_exists(labels)) return 1;
    }
    return 0;
}

dgm_status dgm_dataset_load_named(dgm_ctx *ctx, const char *name, dgm_split split,
                                  const char *system_root, dgm_dataset **out)
{
    const char *prefix = split == DGM_SPLIT_TEST ? "t10k" : "train";
    const char *env = getenv("DGM_DATA_DIR");
    char dirs[3][PATH_CAP];
    int ndirs = 0;
    if (env && *env) {
        snprintf(dirs[ndirs++], PATH_CAP, "%s/%s", env, name);
        snprintf(dirs[ndirs++], PATH_CAP, "%s", env);
    }
    snprintf(dirs[ndirs++], PATH_CAP, "%s/%s", system_root, name);
    char *images = malloc(PATH_CAP), *labels = malloc(PATH_CAP);
    if (!images || !labels) {
        free(images);
        free(labels);
        return dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_dataset_load: out of host memory");
    }
    dgm_status st = DGM_STATUS_OK;
    int found = 0;
    for (int i = 0; i < ndirs && !found; i++) {
        found = find_pair(dirs[i], prefix, images, labels);
        if (found) st = dgm_dataset_load_idx(ctx, images, labels, out);
    }
    free(images);
    free(labels);
    if (found) return st;
    /* Not found (or unreadable): say everywhere we looked and how to get the files. */
    char where[3 * 256] = "";
    size_t used = 0;
    for (int i = 0; i < ndirs && used < sizeof where; i++)
        used += (size_t)snprintf(where + used, sizeof where - used, "%s%.250s", i ? ", " : "",
                                 dirs[i]);
    return dgm_set_error(
        ctx, DGM_STATUS_IO_ERROR,
        "dgm_dataset_load: %s %s set not found: no %s-images-idx3-ubyte[.gz] with "
        "%s-labels-idx1-ubyte[.gz] in %s; %s",
        name, prefix, prefix, prefix, where,
        strcmp(name, "fashion-mnist") == 0
            ? "install them with `apt-get install dataset-fashion-mnist` or set DGM_DATA_DIR"
            : "set DGM_DATA_DIR to a folder holding the four MNIST IDX files");
}

/* The *labels-idx1* file beside an *images-idx3* file, if the name has that form and the
 * file exists; else NULL. Caller frees. */
static char *companion_labels(const char *images)
{
    const char *base = strrchr(images, '/');
    base = base ? base + 1 : images;
    const char *hit = strstr(base, "images-idx3");
    if (!hit) return NULL;
    size_t n = strlen(images);
    char *labels = malloc(n + 1);
    if (!labels) return NULL;
    memcpy(labels, images, n + 1);
    memcpy(labels + (hit - images), "labels-idx1", 11);
    if (!file_exists(labels)) {
        free(labels);
        return NULL;
    }
    return labels;
}

static dgm_status load_idx_path(dgm_ctx *ctx, const char *path, dgm_dataset **out)
{
    char *labels = companion_labels(path);
    dgm_status st = dgm_dataset_load_idx(ctx, path, labels, out);
    free(labels);
    return st;
}

static int is_toy(const char *spec)
{
    for (const char *const *t = dgm_toy_names(); *t; t++)
        if (!strcmp(*t, spec)) return 1;
    return 0;
}

dgm_status dgm_dataset_load(dgm_ctx *ctx, const char *spec, dgm_split split, uint64_t seed,
                            dgm_dataset **out)
{
    dgm_status st = dgm_check_ctx(ctx);
    if (st != DGM_STATUS_OK) return st;
    if (!out || !spec)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_dataset_load: %s is NULL",
                             out ? "spec" : "out");
    *out = NULL;
    if (split != DGM_SPLIT_TRAIN && split != DGM_SPLIT_TEST)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_dataset_load: unknown split %d",
                             (int)split);
    if (!strcmp(spec, "fashion-mnist") || !strcmp(spec, "mnist"))
        return dgm_dataset_load_named(ctx, spec, split, DGM_DATA_SYSTEM_ROOT, out);
    if (is_toy(spec)) {
        if (split == DGM_SPLIT_TRAIN) return dgm_dataset_toy(ctx, spec, TOY_TRAIN_COUNT, seed, out);
        /* "test" in ASCII, mixed in so the test stream is unrelated to the train stream. */
        return dgm_dataset_toy(ctx, spec, TOY_TEST_COUNT, dgm_data_mix64(seed ^ 0x74657374ull),
                               out);
    }
    if (ends_with(spec, ".npy")) return dgm_dataset_load_npy(ctx, spec, out);
    if (ends_with(spec, ".csv")) return dgm_dataset_load_csv(ctx, spec, out);
    if (ends_with(spec, ".gz")) return load_idx_path(ctx, spec, out);

    /* No telling extension: look at the first bytes (of a regular file only: a FIFO would
     * block the open). */
    if (access(spec, F_OK) == 0) DGM_TRY(dgm_check_regular_file(ctx, spec));
    FILE *f = fopen(spec, "rb");
    if (!f) {
        if (strchr(spec, '/'))
            return dgm_set_error(ctx, DGM_STATUS_IO_ERROR, "dgm_dataset_load: cannot open %s",
                                 spec);
        char toys[256] = "";
        size_t used = 0;
        for (const char *const *t = dgm_toy_names(); *t && used < sizeof toys; t++)
            used += (size_t)snprintf(toys + used, sizeof toys - used, ", %s", *t);
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_dataset_load: unknown dataset '%s': not one of fashion-mnist, "
                             "mnist%s, and no file of that name (.npy, .csv or IDX)",
                             spec, toys);
    }
    unsigned char head[6] = {0};
    size_t got = fread(head, 1, sizeof head, f);
    fclose(f);
    if (dgm_gzip_detect(head, got) ||
        (got >= 4 && head[0] == 0 && head[1] == 0 && head[3] >= 1 && head[3] <= 4))
        return load_idx_path(ctx, spec, out);
    if (got == 6 && memcmp(head, "\x93NUMPY", 6) == 0) return dgm_dataset_load_npy(ctx, spec, out);
    return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                         "dgm_dataset_load: %s is neither IDX nor .npy (by its first bytes) and "
                         "has no .npy, .csv or .gz extension",
                         spec);
}
