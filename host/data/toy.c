/* Built-in 2-D toy densities, each sample drawn independently from the host generator
 * seeded with `seed` (so a dataset depends on (name, n, seed) alone, on every platform).
 *
 *  ring8        8 Gaussians, centres on the unit circle at angles 2πk/8, std 0.01.
 *  grid25       25 Gaussians, centres {-4,-2,0,2,4}^2, std 0.05.
 *  gauss8       FFJORD's 8gaussians: centres (±1,0), (0,±1), (±1/√2,±1/√2) times 4, std
 *               0.5, everything divided by 1.414 (radius ≈ 2.83, std ≈ 0.354).
 *  moons        two half circles as sklearn's make_moons (outer: (cos t, sin t), inner:
 *               (1 - cos t, 0.5 - sin t), t uniform in [0, π], noise std 0.1), then, as in
 *               FFJORD, times 2 plus (-1, -0.2). The half is a fair coin per sample
 *               (make_moons splits n evenly and spaces t on a grid).
 *  checkerboard FFJORD's: x uniform in [-4, 4), y in the cells of alternating parity, so
 *               floor(x/2) + floor(y/2) is even.
 *  swissroll    sklearn's make_swiss_roll with noise 1 seen from above, as FFJORD:
 *               t = 1.5π(1 + 2u), (t cos t + e1, t sin t + e2) / 5.
 *  pinwheel     FFJORD's: 5 arms; radial N(1, 0.3), tangential N(0, 0.1), rotated by
 *               2πk/5 + 0.25·exp(radial), times 2.
 *  2spirals     FFJORD's: n = 3π√u, (-n cos n + 0.5u', n sin n + 0.5u''), negated for
 *               the second spiral, / 3, plus N(0, 0.1) noise.
 *
 * Labels are the mixture component for ring8, grid25 and gauss8 (0..7, 0..24, 0..7) and
 * the half for moons (0 outer, 1 inner); the others have none. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "data/data_internal.h"

#define TWO_PI 6.283185307179586
#define PI 3.141592653589793

typedef void (*toy_fn)(dgm_data_rng *r, float *xy, int32_t *label);

static double nrm(dgm_data_rng *r) { return dgm_data_rng_normal(r); }
static double uni(dgm_data_rng *r) { return dgm_data_rng_uniform(r); }

static void put(float *xy, double x, double y)
{
    xy[0] = (float)x;
    xy[1] = (float)y;
}

static void ring8(dgm_data_rng *r, float *xy, int32_t *label)
{
    int k = (int)dgm_data_rng_below(r, 8);
    double a = TWO_PI * k / 8.0;
    double ex = nrm(r), ey = nrm(r);
    put(xy, cos(a) + 0.01 * ex, sin(a) + 0.01 * ey);
    *label = k;
}

static void grid25(dgm_data_rng *r, float *xy, int32_t *label)
{
    int k = (int)dgm_data_rng_below(r, 25);
    double ex = nrm(r), ey = nrm(r);
    put(xy, -4.0 + 2.0 * (k % 5) + 0.05 * ex, -4.0 + 2.0 * (k / 5) + 0.05 * ey);
    *label = k;
}

#define GAUSS8_S 0.70710678118654752 /* 1/√2 */
static const double gauss8_dirs[8][2] = {{1, 0},
                                         {-1, 0},
                                         {0, 1},
                                         {0, -1},
                                         {GAUSS8_S, GAUSS8_S},
                                         {GAUSS8_S, -GAUSS8_S},
                                         {-GAUSS8_S, GAUSS8_S},
                                         {-GAUSS8_S, -GAUSS8_S}};

static void gauss8(dgm_data_rng *r, float *xy, int32_t *label)
{
    const double(*centres)[2] = gauss8_dirs;
    int k = (int)dgm_data_rng_below(r, 8);
    double ex = nrm(r), ey = nrm(r);
    put(xy, (4.0 * centres[k][0] + 0.5 * ex) / 1.414, (4.0 * centres[k][1] + 0.5 * ey) / 1.414);
    *label = k;
}

static void moons(dgm_data_rng *r, float *xy, int32_t *label)
{
    int k = (int)dgm_data_rng_below(r, 2);
    double t = PI * uni(r);
    double x = k ? 1.0 - cos(t) : cos(t);
    double y = k ? 0.5 - sin(t) : sin(t);
    double ex = nrm(r), ey = nrm(r);
    put(xy, 2.0 * (x + 0.1 * ex) - 1.0, 2.0 * (y + 0.1 * ey) - 0.2);
    *label = k;
}

static void checkerboard(dgm_data_rng *r, float *xy, int32_t *label)
{
    (void)label;
    double x1 = uni(r) * 4.0 - 2.0;
    double x2 = uni(r) - 2.0 * (double)dgm_data_rng_below(r, 2);
    /* floor(x1) mod 2, never negative (Python's %): shifts y into the matching cells. */
    double parity = fmod(floor(x1), 2.0);
    if (parity < 0) parity += 2.0;
    put(xy, 2.0 * x1, 2.0 * (x2 + parity));
}

static void swissroll(dgm_data_rng *r, float *xy, int32_t *label)
{
    (void)label;
    double t = 1.5 * PI * (1.0 + 2.0 * uni(r));
    double ex = nrm(r), ey = nrm(r);
    put(xy, (t * cos(t) + ex) / 5.0, (t * sin(t) + ey) / 5.0);
}

static void pinwheel(dgm_data_rng *r, float *xy, int32_t *label)
{
    (void)label;
    int k = (int)dgm_data_rng_below(r, 5);
    double f0 = 1.0 + 0.3 * nrm(r), f1 = 0.1 * nrm(r);
    double a = TWO_PI * k / 5.0 + 0.25 * exp(f0);
    double c = cos(a), s = sin(a);
    put(xy, 2.0 * (f0 * c + f1 * s), 2.0 * (-f0 * s + f1 * c));
}

static void two_spirals(dgm_data_rng *r, float *xy, int32_t *label)
{
    (void)label;
    int k = (int)dgm_data_rng_below(r, 2);
    double n = sqrt(uni(r)) * 3.0 * PI; /* 540 degrees */
    double x = -cos(n) * n + 0.5 * uni(r);
    double y = sin(n) * n + 0.5 * uni(r);
    double sign = k ? -1.0 : 1.0;
    double ex = nrm(r), ey = nrm(r);
    put(xy, sign * x / 3.0 + 0.1 * ex, sign * y / 3.0 + 0.1 * ey);
}

typedef struct toy {
    const char *name;
    toy_fn fn;
    bool labelled;
} toy;

static const toy toys[] = {
    {"ring8", ring8, true},
    {"grid25", grid25, true},
    {"gauss8", gauss8, true},
    {"moons", moons, true},
    {"checkerboard", checkerboard, false},
    {"swissroll", swissroll, false},
    {"pinwheel", pinwheel, false},
    {"2spirals", two_spirals, false},
};

#define TOY_COUNT (sizeof toys / sizeof toys[0])

/* The same names in the same order as toys[]; a test checks they agree. */
static const char *const toy_names[] = {"ring8",        "grid25",    "gauss8",   "moons",
                                        "checkerboard", "swissroll", "pinwheel", "2spirals",
                                        NULL};
_Static_assert(sizeof toy_names / sizeof toy_names[0] == TOY_COUNT + 1,
               "toy_names must list every toy");

const char *const *dgm_toy_names(void) { return toy_names; }

dgm_status dgm_dataset_toy(dgm_ctx *ctx, const char *name, int64_t n, uint64_t seed,
                           dgm_dataset **out)
{
    dgm_status st = dgm_check_ctx(ctx);
    if (st != DGM_STATUS_OK) return st;
    if (!out || !name)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_dataset_toy: %s is NULL",
                             out ? "name" : "out");
    *out = NULL;
    const toy *t = NULL;
    for (size_t i = 0; i < TOY_COUNT; i++)
        if (!strcmp(toys[i].name, name)) t = &toys[i];
    if (!t) {
        char valid[256] = "";
        size_t used = 0;
        for (size_t i = 0; i < TOY_COUNT && used < sizeof valid; i++)
            used += (size_t)snprintf(valid + used, sizeof valid - used, "%s%s", i ? ", " : "",
                                     toys[i].name);
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_dataset_toy: unknown toy '%s' (valid: %s)", name, valid);
    }
    if (n <= 0 || (uint64_t)n > SIZE_MAX / (2 * sizeof(float)))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_dataset_toy: sample count %lld out of range", (long long)n);
    float *x = malloc((size_t)n * 2 * sizeof(float));
    int32_t *labels = t->labelled ? malloc((size_t)n * sizeof(int32_t)) : NULL;
    if (!x || (t->labelled && !labels)) {
        free(x);
        free(labels);
        return dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_dataset_toy: out of host memory for %lld "
                             "samples", (long long)n);
    }
    dgm_data_rng r;
    dgm_data_rng_seed(&r, seed, 0);
    int32_t unused = 0;
    for (int64_t i = 0; i < n; i++) t->fn(&r, x + 2 * i, labels ? labels + i : &unused);
    int64_t shape[1] = {2};
    st = dgm_dataset_adopt(ctx, n, 1, shape, x, labels, out);
    if (st == DGM_STATUS_OK) dgm_dataset_set_toy(*out, t->name);
    return st;
}

/* The mixture toys' components, the same constants as the samplers above. */
static void ring8_centre(int k, double *c)
{
    c[0] = cos(TWO_PI * k / 8.0);
    c[1] = sin(TWO_PI * k / 8.0);
}

static void grid25_centre(int k, double *c)
{
    c[0] = -4.0 + 2.0 * (k % 5);
    c[1] = -4.0 + 2.0 * (k / 5);
}

static void gauss8_centre(int k, double *c)
{
    c[0] = 4.0 * gauss8_dirs[k][0] / 1.414;
    c[1] = 4.0 * gauss8_dirs[k][1] / 1.414;
}

dgm_status dgm_toy_mixture(dgm_ctx *ctx, const char *name, int max, double *centres,
                           int *count, double *std)
{
    dgm_status st = dgm_check_ctx(ctx);
    if (st != DGM_STATUS_OK) return st;
    if (!name || !count || !std || (max > 0 && !centres))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_toy_mixture: name, centres, count and std must not be NULL");
    static const struct {
        const char *name;
        int count;
        double std;
        void (*centre)(int k, double *c);
    } mixtures[] = {{"ring8", 8, 0.01, ring8_centre},
                    {"grid25", 25, 0.05, grid25_centre},
                    {"gauss8", 8, 0.5 / 1.414, gauss8_centre}};
    for (size_t i = 0; i < sizeof mixtures / sizeof mixtures[0]; i++) {
        if (strcmp(mixtures[i].name, name)) continue;
        *count = mixtures[i].count;
        *std = mixtures[i].std;
        if (max < mixtures[i].count)
            return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                                 "dgm_toy_mixture: %s has %d centres, room for %d", name,
                                 mixtures[i].count, max);
        for (int k = 0; k < mixtures[i].count; k++) mixtures[i].centre(k, centres + 2 * k);
        return DGM_STATUS_OK;
    }
    return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                         "dgm_toy_mixture: '%s' is not a Gaussian-mixture toy (ring8, grid25, "
                         "gauss8)", name);
}
