/* The dgm command: shared helpers of its subcommands. The command prints; the library
 * never does. Exit status: 0 success, 2 usage error, 1 any other error, with one line on
 * stderr naming the file, option or value at fault. */
#ifndef DGM_CLI_H
#define DGM_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "dgm/dgm.h"

enum { CLI_OK = 0, CLI_ERROR = 1, CLI_USAGE = 2 };

int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Reports a failed library call: "dgm: error: <what>: <last error>" (the last error alone
 * when it already names <what>: each path once). */
int cli_fail(dgm_ctx *ctx, const char *what);
/* The context's last error for a user: without the library function's name that some
 * messages start with ("dgm_mmd2_rbf: ..."), which says nothing to someone at a shell. */
const char *cli_last_error(dgm_ctx *ctx);

bool cli_parse_int(const char *s, int64_t min, int64_t *out);
bool cli_parse_float(const char *s, float *out);
bool cli_parse_u64(const char *s, uint64_t *out);

/* Option iteration: argv[*i] is "--name" or "--name=value"; *value gets the value (the
 * next argument, or the text after '='). Returns false when the value is missing. */
bool cli_take_value(int argc, char **argv, int *i, const char **value);
/* "--name=value" -> "name"; "--name" -> "name" (into buf). */
const char *cli_option_name(const char *arg, char *buf, size_t len);
/* The name of option arg ("-n" -> "n", "-o" -> "out", "--name[=value]" -> "name") into
 * name (len bytes, 64 enough), checked against allowed (the names, space-separated and
 * space-enclosed: " n seed "). CLI_OK, else the usage error's exit code ("unknown option
 * ARG for dgm CMD"). */
int cli_option_key(const char *arg, const char *cmd, const char *allowed, char *name, size_t len);

/* n x dim floats (malloc: free() them), or NULL when out of memory or when the size does
 * not fit in size_t (-n is the user's: n * dim must not wrap round to a small buffer). */
float *cli_alloc_rows(int64_t n, int64_t dim);

/* A context on --device (auto|cpu|cuda). On failure prints and returns the exit code. */
int cli_make_ctx(const char *device, uint64_t seed, dgm_ctx **out);

/* Ends with the given extension (".png"), case-insensitively. */
bool cli_has_ext(const char *path, const char *ext);

/* Writes samples [n, dim] (host) by the file's extension: .npy, .csv, or .png (an image
 * grid for image-shaped samples, a scatter plot over `extent` (NULL: the samples' own) for
 * 2-D ones). */
int cli_write_samples(dgm_ctx *ctx, const char *path, const float *x, int64_t n, int64_t dim,
                      int sample_ndim, const int64_t *sample_shape, const dgm_extent *extent);

/* For a 2-D model with an exact density (dgm_model_log_density), that density at the
 * centres of a 128×128 grid over `extent` as a heatmap PNG at path; for other models
 * nothing, and path is set to "". */
int cli_write_exact_density(dgm_ctx *ctx, dgm_model *m, char *path, const dgm_extent *extent);

/* FID and the Inception-style score through dgm's Fashion-MNIST classifier
 * (image_metrics.c). "fid" or "is" (name, len bytes)? */
bool cli_is_image_metric(const char *name, size_t len);
/* The classifier file: `given` (--classifier), else $DGM_CLASSIFIER, else the installed
 * share/dgm/ copy, else the source tree's models/. Loaded on ctx. */
int cli_open_classifier(dgm_ctx *ctx, const char *given, dgm_classifier **out);
/* name "fid": the Fréchet distance of a's features to b's; "is": a's score (b unused). */
int cli_image_metric(dgm_ctx *ctx, dgm_classifier *clf, const char *name, const float *a, int64_t na,
                     const float *b, int64_t nb, int64_t dim, double *value);

int cmd_train(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_classifier(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_plot(int argc, char **argv);

#endif
