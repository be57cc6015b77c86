/* dgm metrics: numbers that judge samples, independent of any model family. */
#ifndef DGM_METRICS_H
#define DGM_METRICS_H

#include "dgm/core.h"
#include "dgm/data.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Mode coverage of samples from a Gaussian mixture with equal weights and a common std
 * (the 2-D benchmarks of VEEGAN and PacGAN: ring8, grid25). Each sample is assigned to its
 * nearest centre; it is of high quality when within 3 std of it (Euclidean distance). */
typedef struct dgm_mode_coverage {
    int modes;           /* modes captured: with at least one high-quality sample */
    int total_modes;     /* centres */
    double high_quality; /* share of the samples that are of high quality, in [0, 1] */
    double reverse_kl;   /* KL(h ‖ uniform) in nats, h the histogram of the high-quality
                            samples over the modes (0 when all are equally hit; log K when
                            all fall in one mode); NaN without high-quality samples */
} dgm_mode_coverage;

/* samples: n points of dimension dim (row-major, host memory); centres: k points of the
 * same dimension (host, double). INVALID_ARGUMENT for n < 1, k < 1, dim < 1, std <= 0 or
 * NULL pointers. Pure host computation; thread-safe. */
DGM_API dgm_status dgm_mode_coverage_compute(dgm_ctx *ctx, const float *samples, int64_t n,
                                             int dim, const double *centres, int k, double std,
                                             dgm_mode_coverage *out);

/* The exact 2-Wasserstein distance between two sets of n points of dimension dim with
 * uniform weights: *out = sqrt((1/n) sum_i |a_i - b_sigma(i)|^2), sigma the optimal
 * matching (an exact assignment, not an entropic or sliced approximation; squared
 * Euclidean distances in double). a, b: n x dim (row-major, host memory). Time O(n^2 dim)
 * for the costs plus the assignment, worst case O(n^3) (2-D samples, one core: n = 512 in
 * about 15 ms, n = 2000 in about 1 s); memory 8 n^2 bytes. INVALID_ARGUMENT for n < 1,
 * dim < 1, NULL pointers or a non-finite coordinate (the message names the set and row);
 * OOM when the costs cannot be allocated. Pure host computation; thread-safe. */
DGM_API dgm_status dgm_wasserstein2(dgm_ctx *ctx, const float *a, const float *b, int64_t n,
                                    int dim, double *out);

/* ---- Fréchet distance and Inception-style score on features of dgm's own classifier ----
 *
 * FID (Heusel et al. 2017) compares the Gaussians fitted to two sets of feature vectors:
 *     FD = |μa − μb|² + tr(Σa + Σb − 2·(Σa^½ Σb Σa^½)^½),
 * means and unbiased (n − 1) covariances in double, as pytorch-fid's np.cov. The square
 * roots come from LAPACK's symmetric eigensolver (dsyevd) in double: Σa^½ = V·diag(√λ)·Vᵀ
 * and tr((Σa^½ Σb Σa^½)^½) = Σ √μ_i over the eigenvalues μ_i of the symmetric PSD middle
 * matrix. Covariances are PSD only up to rounding: negative eigenvalues (tiny ones, from
 * rounding; a covariance of fewer rows than dimensions has many zeros) are clamped to 0,
 * and a result below 0 by rounding is returned as 0. Features here are dgm's Fashion-MNIST
 * classifier's (below), not Inception-v3's: numbers are comparable between dgm runs, not
 * with published FIDs. All of these are host computations on host arrays. */

/* The mean [dim] and unbiased covariance [dim, dim] (row-major, double) of n >= 2 feature
 * rows [n, dim] (float, host): the statistics to keep for a reference set and pass to
 * dgm_frechet_distance_moments. INVALID_ARGUMENT for NULL pointers, n < 2 or dim < 1;
 * NOT_FINITE naming the row of a NaN or infinite value; OOM. */
DGM_API dgm_status dgm_feature_moments(dgm_ctx *ctx, const float *feats, int64_t n, int dim,
                                       double *mean, double *cov);

/* FD between N(mean_a, cov_a) and N(mean_b, cov_b) in dim dimensions (double, host,
 * row-major; the covariances symmetric PSD: only their upper triangles are read).
 * INVALID_ARGUMENT for NULL pointers or dim < 1; NOT_FINITE for non-finite inputs;
 * BACKEND_ERROR when the eigensolver fails; OOM. */
DGM_API dgm_status dgm_frechet_distance_moments(dgm_ctx *ctx, int dim, const double *mean_a,
                                                const double *cov_a, const double *mean_b,
                                                const double *cov_b, double *out);

/* FD between two feature sets [na, dim] and [nb, dim] (float, host; na, nb >= 2):
 * dgm_feature_moments of each, then dgm_frechet_distance_moments. Time O((na + nb)·dim²
 * + dim³); 128 features of 10,000 rows take well under a second on one core. */
DGM_API dgm_status dgm_frechet_distance(dgm_ctx *ctx, const float *feats_a, int64_t na,
                                        const float *feats_b, int64_t nb, int dim, double *out);

/* Inception-style score (Salimans et al. 2016) of class probabilities [n, classes] (float,
 * host; each row non-negative, summing to 1 within 1e-3): IS = exp(E_x KL(p(y|x) ‖ p(y))),
 * p(y) the mean row, in double, over ONE split of all n rows (the paper's 10 splits would
 * give their mean and spread; one split is the lower-variance number for comparing runs).
 * Between 1 (every row the same) and `classes` (confident rows spread evenly over the
 * classes). INVALID_ARGUMENT for NULL pointers, n < 1, classes < 1 or a row that is not a
 * distribution (the message names it). */
DGM_API dgm_status dgm_inception_score_probs(dgm_ctx *ctx, const float *probs, int64_t n,
                                             int classes, double *out);

/* ---- dgm's own image classifier (the feature extractor of the metrics above) ----
 *
 * An MLP on flattened images, in [0, 1]: x [n, in] -> fc1 -> ReLU -> ... -> fc{L} -> ReLU
 * = the features [n, F] (the last hidden layer's activations) -> fc{L+1} -> logits
 * [n, classes]. Parameter names are those of a PyTorch module with attributes fc1,
 * fc2, ... (nn.Linear each). Trained with softmax cross-entropy, Adam and a cosine
 * learning-rate decay to 0, dropout after every hidden layer.
 *
 * The repository keeps one trained on Fashion-MNIST (784-512-128-10, float32):
 * DGM_FASHION_MNIST_CLASSIFIER, relative to the source tree; `dgm classifier` (and the CMake
 * target fid-classifier) regenerates it.
 *
 * A classifier computes on the context it was trained or loaded on and borrows it (free the
 * classifier first). The calls that run it (features, probabilities, accuracy, FID, IS)
 * go in chunks of 1,000 rows with grad mode off (restored after) and end the context's
 * step after each chunk, as dgm_model_sample_into does: step tensors made before the call
 * are invalid afterwards. Failures are reported on that context. */
#define DGM_FASHION_MNIST_CLASSIFIER "models/fashion-mnist-classifier.safetensors"

#define DGM_CLASSIFIER_MAX_HIDDEN 4

typedef struct dgm_classifier dgm_classifier;

typedef struct dgm_classifier_options {
    int n_hidden;                             /* hidden layers, 1..4 (default 2) */
    int64_t hidden[DGM_CLASSIFIER_MAX_HIDDEN]; /* their widths (default 512, 128): the last
                                                 is the feature dimension F */
    int64_t epochs;                           /* passes over the training set (30) */
    int64_t batch;                            /* rows per step (128; a partial last batch
                                                 of an epoch is skipped) */
    float lr;                                 /* Adam's peak learning rate (1e-3), decayed
                                                 to 0 by a cosine over the run */
    float weight_decay;                       /* Adam's L2 weight decay (0) */
    float dropout;                            /* p after each hidden layer (0.2) */
    uint64_t seed;                            /* the data order (0); the initialization
                                                 and the dropout masks draw from the
                                                 context's generator (its seed) */
    /* Called after each epoch with the epoch (1-based) and its mean training loss, when
     * not NULL (the command prints progress with it); a non-zero return stops training
     * with DGM_STATUS_STATE_ERROR. */
    int (*on_epoch)(void *user, int64_t epoch, double mean_loss);
    void *user;
} dgm_classifier_options;

/* The defaults above. */
DGM_API dgm_classifier_options dgm_classifier_options_default(void);

/* Trains a classifier on `train` (images [n, in] with labels in [0, classes), classes the
 * largest label + 1, at least 2) on ctx's device, and makes *out (free with
 * dgm_classifier_free). Deterministic for a given context seed, options and machine.
 * INVALID_ARGUMENT for a dataset without labels, with negative labels, fewer rows than a
 * batch, or bad options; the errors of the ops otherwise (NOT_FINITE if the loss diverges). */
DGM_API dgm_status dgm_classifier_train(dgm_ctx *ctx, const dgm_dataset *train,
                                        const dgm_classifier_options *options,
                                        dgm_classifier **out);

/* Writes the weights (float32) and the shape and training options as metadata
 * ("format": "dgm-classifier", "widths": "784,512,128,10", ...) to a safetensors file,
 * atomically. */
DGM_API dgm_status dgm_classifier_save(dgm_classifier *clf, const char *path);

/* Reads a file dgm_classifier_save wrote onto ctx's device. IO_ERROR when it cannot be
 * read; BAD_FORMAT for a corrupt or truncated file, another kind of safetensors file,
 * missing or misshapen tensors or non-finite weights (the message says which). Does not
 * draw from the context's generator. */
DGM_API dgm_status dgm_classifier_load(dgm_ctx *ctx, const char *path, dgm_classifier **out);

/* NULL is a no-op. */
DGM_API void dgm_classifier_free(dgm_classifier *clf);

DGM_API dgm_ctx *dgm_classifier_ctx(const dgm_classifier *clf);
DGM_API int64_t dgm_classifier_input_dim(const dgm_classifier *clf);   /* 784 */
DGM_API int64_t dgm_classifier_feature_dim(const dgm_classifier *clf); /* F, 128 */
DGM_API int dgm_classifier_classes(const dgm_classifier *clf);         /* 10 */

/* Features [n, F] (the last hidden layer's activations) of images x [n, in] (host, float,
 * in [0, 1]), into feats (host, n·F floats). INVALID_ARGUMENT for NULL pointers or n < 1. */
DGM_API dgm_status dgm_classifier_features(dgm_classifier *clf, const float *x, int64_t n,
                                           float *feats);

/* Class probabilities [n, classes] (softmax of the logits, in double, rounded to float)
 * of images x [n, in] (host) into probs (host, n·classes floats). */
DGM_API dgm_status dgm_classifier_probs(dgm_classifier *clf, const float *x, int64_t n,
                                        float *probs);

/* The share of images x [n, in] whose most probable class (the first on a tie) is their
 * label (host int32 [n]), in [0, 1]. */
DGM_API dgm_status dgm_classifier_accuracy(dgm_classifier *clf, const float *x,
                                           const int32_t *labels, int64_t n, double *out);

/* FID with the classifier's features: dgm_classifier_features of both image sets (each
 * [n, in], host, n >= 2), then dgm_frechet_distance. ctx must be the classifier's context
 * (INVALID_ARGUMENT otherwise). */
DGM_API dgm_status dgm_fid_images(dgm_ctx *ctx, dgm_classifier *clf, const float *imgs_a,
                                  int64_t na, const float *imgs_b, int64_t nb, double *out);

/* Inception-style score with the classifier's probabilities of images [n, in] (host):
 * dgm_classifier_probs, then dgm_inception_score_probs (one split). ctx must be the
 * classifier's context. */
DGM_API dgm_status dgm_inception_score(dgm_ctx *ctx, dgm_classifier *clf, const float *imgs,
                                       int64_t n, double *out);

/* The exact 1-Wasserstein distance between two sets of n points with uniform weights:
 * *out = (1/n) sum_i |a_i - b_sigma(i)|, sigma the optimal matching of the Euclidean
 * distances (the same exact assignment as dgm_wasserstein2; no centring shortcut exists
 * for W1, so two sets far apart solve several times slower than for W2). Equal sizes only:
 * subsample the larger set first. Arguments, errors, memory and thread safety as for
 * dgm_wasserstein2 (messages name dgm_wasserstein1); n up to a few thousand (n = 5000
 * takes 200 MB for the costs and, 2-D sets that overlap on one core, about 8 s). */
DGM_API dgm_status dgm_wasserstein1(dgm_ctx *ctx, const float *a, const float *b, int64_t n,
                                    int dim, double *out);

/* The sliced 2-Wasserstein distance between a (na points) and b (nb points) of any
 * dimension: *out = sqrt((1/L) sum_l W2^2(a.u_l, b.u_l)), u_1..u_L uniform random unit
 * vectors (normalised Gaussian draws from splitmix64 seeded with `seed`: the same seed
 * gives the same directions on any machine) and W2 on the line computed exactly between
 * the projected empirical measures: for na == nb the mean squared difference of the sorted
 * projections, otherwise the integral of the squared difference of the two quantile
 * functions (steps at k/na and k/nb). Same units as W2; for b = a + d it estimates
 * |d| / sqrt(dim) (E (u.d)^2 = |d|^2 / dim). directions = L >= 1. Time O(L (na + nb)
 * (dim + log n)); memory 8 (na + nb + dim) bytes. INVALID_ARGUMENT for na or nb < 1,
 * dim < 1, directions < 1, NULL pointers or a non-finite coordinate (naming the set and
 * row); OOM. Pure host computation; thread-safe. */
DGM_API dgm_status dgm_sliced_wasserstein2(dgm_ctx *ctx, const float *a, int64_t na,
                                           const float *b, int64_t nb, int dim,
                                           int directions, uint64_t seed, double *out);

/* The unbiased estimate (a U-statistic) of the squared maximum mean discrepancy with the
 * Gaussian kernel k(x, y) = exp(-|x - y|^2 / (2 sigma^2)):
 *   *out = 1/(na(na-1)) sum_{i!=j} k(a_i, a_j) + 1/(nb(nb-1)) sum_{i!=j} k(b_i, b_j)
 *          - 2/(na nb) sum_{i,j} k(a_i, b_j).
 * It can be slightly negative when the two laws agree (its mean is then 0). sigma is
 * `bandwidth` when > 0; when <= 0, the median heuristic: sigma = the median of the
 * Euclidean distances |z_i - z_j|, i < j, over the pooled sample z = (a, b) (sigma itself,
 * not sigma^2), taken over an evenly strided subset of 1000 pooled points when there are
 * more (deterministic), and 1 when that median is 0. bandwidth_used (may be NULL) receives
 * sigma. Sizes may differ; na, nb >= 2. Time O((na + nb)^2 dim) (e.g. 2 x 5000 points in
 * 2-D: about a second); memory O(1) besides 4 MB for the median. INVALID_ARGUMENT for
 * na or nb < 2, dim < 1, a NaN or infinite bandwidth, NULL a, b or out, or a non-finite
 * coordinate (naming the set and row); OOM. Pure host computation; thread-safe. */
DGM_API dgm_status dgm_mmd2_rbf(dgm_ctx *ctx, const float *a, int64_t na, const float *b,
                                int64_t nb, int dim, double bandwidth, double *out,
                                double *bandwidth_used);

/* The energy distance (Szekely and Rizzo) between the empirical measures of a and b:
 * *out = 2 E|X - Y| - E|X - X'| - E|Y - Y'|, the biased V-statistic (every mean over all
 * na nb, na^2 or nb^2 pairs, the zero diagonal included), Euclidean |.|. It is >= 0 (up to
 * rounding), 0 exactly for a set against a copy of itself in the same order, and the
 * square of a metric on distributions. Sizes may differ. Time O((na + nb)^2 dim), memory
 * O(1). Errors as for dgm_mmd2_rbf with na, nb >= 1. Pure host computation; thread-safe. */
DGM_API dgm_status dgm_energy_distance(dgm_ctx *ctx, const float *a, int64_t na,
                                       const float *b, int64_t nb, int dim, double *out);

/* Histogram divergences (dgm_histogram_divergences). */
typedef struct dgm_histogram_options {
    /* Bins per axis; 0: 64 in 1-D, 32 in 2-D, 16 in 3-D. At most 2^24 cells in all. */
    int bins;
    /* NULL: the union bounding box of both sets, each side padded by 1% of its range (0.5
     * for a flat axis). Otherwise 2 dim values lo0, hi0, lo1, hi1, ... (finite, lo < hi);
     * points outside are left out of their histogram (counted in outside_a/_b). */
    const double *extent;
    /* Pseudo-count added to every cell of both histograms before normalising, for kl and
     * chi2 only (p_k = (c_k + alpha) / (n + K alpha)); default 0.5 (Krichevsky-Trofimov,
     * the add-1/2 estimate of a cell's probability). Why not ~1e-10: a cell that got none
     * of n draws has probability of order 1/n, not 1e-10, and a tiny alpha makes KL follow
     * log(1/alpha) wherever b has an empty cell that a does not. Keep K well below n: the
     * pseudo-counts hold K alpha / (n + K alpha) of the mass. 0 is allowed (KL and chi2
     * are then +inf when b has an empty cell where a has points). */
    double pseudo_count;
} dgm_histogram_options;

/* {bins 0, extent NULL, pseudo_count 0.5}. */
DGM_API dgm_histogram_options dgm_histogram_options_default(void);

/* P = histogram of a, Q = histogram of b, p_k and q_k their cell frequencies. */
typedef struct dgm_divergences {
    double kl;         /* KL(P || Q) = sum p log(p/q) in nats, on the smoothed histograms */
    double js;         /* Jensen-Shannon: KL(p || m)/2 + KL(q || m)/2, m = (p + q)/2, raw
                          frequencies; nats, in [0, log 2] (log 2: disjoint cells) */
    double tv;         /* total variation: sum |p - q| / 2, raw; in [0, 1] */
    double hellinger2; /* squared Hellinger distance: 1 - sum sqrt(p q) = sum (sqrt p -
                          sqrt q)^2 / 2, raw; in [0, 1] */
    double chi2;       /* Pearson chi^2(P || Q) = sum (p - q)^2 / q, on the smoothed ones */
    int64_t outside_a, outside_b; /* points outside the extent, left out */
} dgm_divergences;

/* Bins a (na points) and b (nb points) of dimension dim (1..3) on one grid (options: NULL
 * for the defaults) and computes the five divergences between the two histograms. These
 * are the divergences of the binned laws: at most those of the densities, approaching
 * them as bins get finer while every cell keeps enough points. Sizes may differ. Time
 * O((na + nb) dim + K), memory 16 K bytes (K cells). INVALID_ARGUMENT for na or nb < 1,
 * dim outside 1..3, NULL a, b or out, a non-finite coordinate (naming the set and row), bad
 * options, or a set with no point within the extent; OOM. Pure host computation;
 * thread-safe. */
DGM_API dgm_status dgm_histogram_divergences(dgm_ctx *ctx, const float *a, int64_t na,
                                             const float *b, int64_t nb, int dim,
                                             const dgm_histogram_options *options,
                                             dgm_divergences *out);

#ifdef __cplusplus
}
#endif
#endif
