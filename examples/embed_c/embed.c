/* Embedding dgm in a C program: open a trained checkpoint, say what it is, draw samples into
 * our own buffer, score them with the model's metric, and write them to an .npy file.
 *
 *   embed_c CHECKPOINT N SEED OUT.npy [cpu|cuda|auto]
 *
 * The samples equal `dgm sample CHECKPOINT -n N --seed SEED -o OUT.npy --device D`'s: the
 * same context seed, the same calls. Built against an installed dgm with pkg-config:
 *   cc -std=c11 embed.c $(pkg-config --cflags --libs dgm) -o embed_c
 * or with CMake (find_package(dgm), see CMakeLists.txt). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dgm/dgm.h>

static int fail(dgm_ctx *ctx, const char *what)
{
    fprintf(stderr, "embed_c: %s: %s\n", what, ctx ? dgm_last_error(ctx) : "out of memory");
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 5 || argc > 6) {
        fprintf(stderr, "usage: %s CHECKPOINT N SEED OUT.npy [cpu|cuda|auto]\n", argv[0]);
        return 2;
    }
    const int64_t n = strtoll(argv[2], NULL, 10);
    if (n < 1) {
        fprintf(stderr, "embed_c: N must be a positive number\n");
        return 2;
    }
    dgm_ctx_config cfg = dgm_ctx_config_default();
    cfg.seed = strtoull(argv[3], NULL, 10);
    const char *device = argc == 6 ? argv[5] : "cpu";
    cfg.device = !strcmp(device, "cuda") ? DGM_DEVICE_CUDA
                 : !strcmp(device, "auto") ? DGM_DEVICE_AUTO : DGM_DEVICE_CPU;

    dgm_ctx *ctx = NULL;
    if (dgm_ctx_create(&cfg, &ctx) != DGM_STATUS_OK) {
        const int rc = fail(ctx, "context");
        dgm_ctx_free(ctx);
        return rc;
    }
    dgm_model *model = NULL;
    float *samples = NULL;
    int rc = 0;
    if (dgm_model_load(ctx, argv[1], &model) != DGM_STATUS_OK) {
        rc = fail(ctx, argv[1]);
        goto done;
    }
    const int64_t dim = dgm_model_dim(model);
    int64_t shape[3];
    const int nd = dgm_model_sample_shape(model, shape);
    printf("dgm %s: a %s model, %lld values per sample (", dgm_version(), dgm_model_kind(model),
           (long long)dim);
    for (int i = 0; i < nd; i++) printf("%s%lld", i ? "x" : "", (long long)shape[i]);
    printf("), config %s\n", dgm_model_config(model));

    samples = malloc((size_t)(n * dim) * sizeof *samples);
    if (!samples) {
        rc = fail(NULL, "samples");
        goto done;
    }
    if (dgm_model_sample_into(model, n, samples, DGM_MEMORY_HOST) != DGM_STATUS_OK) {
        rc = fail(ctx, "sampling");
        goto done;
    }
    /* The model's own metric on what it drew (a flow's exact NLL, a VAE's ELBO); kinds
     * whose metrics need a data set (a GAN's mode coverage) say so. */
    double score = 0.0;
    const dgm_status st = dgm_model_score(model, samples, n, NULL, &score);
    if (st == DGM_STATUS_OK)
        printf("the model's default metric (of %s) on the samples: %.6f\n",
               dgm_model_metric_names(dgm_model_kind(model)), score);
    else if (st == DGM_STATUS_UNSUPPORTED)
        printf("no per-sample metric: %s\n", dgm_last_error(ctx));
    else {
        rc = fail(ctx, "scoring");
        goto done;
    }

    /* [n, dim], as dgm sample writes it (an image is a row of its pixels) */
    const int64_t file_shape[2] = {n, dim};
    if (dgm_save_npy(ctx, argv[4], samples, 2, file_shape) != DGM_STATUS_OK) {
        rc = fail(ctx, argv[4]);
        goto done;
    }
    printf("wrote %lld samples to %s\n", (long long)n, argv[4]);
done:
    free(samples);
    dgm_model_free(model);
    dgm_ctx_free(ctx);
    return rc;
}
