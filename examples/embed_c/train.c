/* Training a model from C with dgm's trainer (the loop `dgm train` runs):
 *   train_c KIND DATA STEPS DIR     e.g. train_c realnvp moons 500 runs/mine
 * makes a model of KIND with its default options for DATA (a toy name, fashion-mnist, or an
 * .npy/.csv file), trains it for STEPS steps with the kind's other defaults, prints the
 * loss every 100 steps from the progress callback, and leaves DIR/checkpoint.safetensors
 * and DIR/metrics.jsonl. */
#include <stdio.h>
#include <stdlib.h>

#include <dgm/dgm.h>

static int on_progress(void *user, const dgm_train_progress *p)
{
    (void)user;
    printf("step %lld/%lld  loss %.4f  lr %g  %.1f s\n", (long long)p->step, (long long)p->total, p->loss,
           p->lr, p->elapsed_s);
    return 0; /* nonzero would stop the run here (and still save) */
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s KIND DATA STEPS DIR\n", argv[0]);
        return 2;
    }
    dgm_ctx_config cfg = dgm_ctx_config_default(); /* the GPU when usable, seed 0 */
    dgm_ctx *ctx = NULL;
    dgm_dataset *data = NULL;
    dgm_model *model = NULL;
    dgm_trainer *trainer = NULL;
    int rc = 1;
    if (dgm_ctx_create(&cfg, &ctx) != DGM_STATUS_OK) goto done;
    if (dgm_dataset_load(ctx, argv[2], DGM_SPLIT_TRAIN, 0, &data) != DGM_STATUS_OK) goto done;
    int64_t shape[3];
    const int ndim = dgm_dataset_sample_shape(data, shape);
    if (dgm_model_create(ctx, argv[1], NULL, dgm_dataset_dim(data), ndim, shape, &model) != DGM_STATUS_OK)
        goto done;

    dgm_train_options o;
    if (dgm_train_options_default(model, data, &o) != DGM_STATUS_OK) goto done;
    o.run.run = DGM_RUN_STEPS; /* the kind's optimizer, batch and schedule; our length */
    o.run.length = atoll(argv[3]);
    o.run.log_every = 100;
    o.dir = argv[4];
    o.data_name = argv[2];
    o.on_progress = on_progress;
    if (dgm_trainer_create(model, data, &o, &trainer) != DGM_STATUS_OK) goto done;
    if (dgm_trainer_run(trainer) != DGM_STATUS_OK) goto done;
    printf("wrote %s after %lld steps\n", dgm_trainer_checkpoint_path(trainer), (long long)dgm_trainer_steps(trainer));
    rc = 0;
done:
    if (rc && ctx) fprintf(stderr, "error: %s\n", dgm_last_error(ctx));
    dgm_trainer_free(trainer);
    dgm_model_free(model);
    dgm_dataset_free(data);
    dgm_ctx_free(ctx);
    return rc;
}
