/* dgm compare: distances between two sample sets (files, a data set's test split or toy
 * draws), one JSON object. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* Exact W1/W2 match points one to one (O(n^2) memory, up to O(n^3) time), and MMD and the
 * energy distance look at every pair: their sets are subsampled to at most this many. */
#define PAIRWISE_MAX 5000
#define DEFAULT_TOY_N 2000
#define SLICED_DIRECTIONS 500

static const char *const metric_names[] = {"kl", "js",  "tv",        "hellinger", "chi2",  "w1",
                                           "w2", "sliced-w2", "mmd", "energy", "fid", "is"};
enum { NMETRICS = sizeof metric_names / sizeof metric_names[0] };
enum { NHIST = 5 }; /* the first five: the histogram divergences, computed together */

typedef struct compare_args {
    const char *spec[2];
    const char *metrics, *classifier;
    int64_t n, bins;
    double extent[6];
    int nextent;
    double bandwidth;
    uint64_t seed;
    bool help;
} compare_args;

/* One loaded side: its rows, from a dataset or a subsample of one. */
typedef struct side {
    dgm_dataset *ds;
    const float *x;
    int64_t n;
} side;

static void usage(void)
{
    printf("usage: dgm compare A B [--metric NAME[,NAME...]] [--bins N] [--extent x0,x1[,y0,y1[,z0,z1]]]\n"
           "                  [--seed S] [-n N] [--bandwidth SIGMA] [--classifier FILE]\n"
           "  A, B: sample files (.npy float32/float64 [n, dim], or .csv), a data set's test split\n"
           "    (fashion-mnist, an IDX file) or toy names (");
    for (const char *const *t = dgm_toy_names(); *t; t++) printf("%s%s", t == dgm_toy_names() ? "" : ", ", *t);
    printf(");\n"
           "    a toy draws N points (-n; default the other set's row count, or %d), A and B\n"
           "    from different seeds derived from --seed (default 0)\n"
           "  prints one JSON object {\"NAME\":value,...}; A is P and B is Q where it matters:\n"
           "    kl         KL(P||Q) in nats of the histograms, pseudo-count 0.5 per cell\n"
           "    js         Jensen-Shannon divergence of the histograms, nats, in [0, log 2]\n"
           "    tv         total variation of the histograms, in [0, 1]\n"
           "    hellinger  squared Hellinger distance 1 - sum sqrt(pq) of the histograms, in [0, 1]\n"
           "    chi2       Pearson chi^2(P||Q) of the histograms, pseudo-count 0.5 per cell\n"
           "    w1, w2     exact 1- and 2-Wasserstein distances (optimal matching); these need\n"
           "               equal sizes: the larger set is subsampled to the smaller one's size,\n"
           "               and both to at most %d points (deterministic, from --seed)\n"
           "    sliced-w2  sliced 2-Wasserstein over %d random directions (from --seed), all points\n"
           "    mmd        unbiased MMD^2, Gaussian kernel exp(-|x-y|^2/(2 sigma^2)), sigma by the\n"
           "               median heuristic unless --bandwidth; each set at most %d points\n"
           "    energy     energy distance 2E|X-Y| - E|X-X'| - E|Y-Y'| (V-statistic); each set\n"
           "               at most %d points\n"
           "    fid        Frechet distance of dgm's Fashion-MNIST classifier's features (images of\n"
           "               784 values in [0, 1]; models/fashion-mnist-classifier.safetensors, or\n"
           "               --classifier, or $DGM_CLASSIFIER), all points\n"
           "    is         Inception-style score of A by the same classifier\n"
           "  default: w2 for dim <= 3, else sliced-w2,mmd. The histogram metrics need dim 1..3:\n"
           "  --bins per axis (default 64, 32, 16 for dim 1, 2, 3) over --extent (2 values per\n"
           "  axis; default the union bounding box of both sets, padded by 1%%)\n",
           DEFAULT_TOY_N, PAIRWISE_MAX, SLICED_DIRECTIONS, PAIRWISE_MAX, PAIRWISE_MAX);
}

static bool is_toy(const char *spec)
{
    for (const char *const *t = dgm_toy_names(); *t; t++)
        if (!strcmp(*t, spec)) return true;
    return false;
}

/* "x0,x1,..." into up to 6 finite doubles. */
static bool parse_extent(const char *v, double *out, int *count)
{
    *count = 0;
    for (const char *p = v;;) {
        char *end = NULL;
        const double x = strtod(p, &end);
        if (end == p || !isfinite(x) || *count == 6) return false;
        out[(*count)++] = x;
        if (*end == 0) return true;
        if (*end != ',') return false;
        p = end + 1;
    }
}

static int parse(int argc, char **argv, compare_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v = NULL;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            a->help = true;
            return 0;
        }
        if (arg[0] != '-') {
            if (a->spec[1]) return cli_usage_error("dgm compare takes two sets A B, got '%s' too", arg);
            a->spec[a->spec[0] ? 1 : 0] = arg;
            continue;
        }
        char name[64];
        const int rc = cli_option_key(arg, "compare", " n metric bins extent seed bandwidth classifier ", name,
                                      sizeof name);
        if (rc) return rc;
        if (!cli_take_value(argc, argv, &i, &v)) return cli_usage_error("%s needs a value", arg);
        bool ok = true;
        float bw = 0.0f;
        if (!strcmp(name, "n")) ok = cli_parse_int(v, 1, &a->n);
        else if (!strcmp(name, "bins")) ok = cli_parse_int(v, 1, &a->bins) && a->bins <= (1 << 24);
        else if (!strcmp(name, "seed")) ok = cli_parse_u64(v, &a->seed);
        else if (!strcmp(name, "metric")) a->metrics = v;
        else if (!strcmp(name, "classifier")) a->classifier = v;
        else if (!strcmp(name, "extent")) ok = parse_extent(v, a->extent, &a->nextent) && a->nextent % 2 == 0;
        else if (!strcmp(name, "bandwidth")) {
            ok = cli_parse_float(v, &bw) && bw > 0.0f;
            a->bandwidth = bw;
        }
        if (!ok) return cli_usage_error("%s %s: not a valid value", arg, v);
    }
    if (!a->spec[1]) return cli_usage_error("dgm compare needs two sets A B");
    return 0;
}

/* The metrics named in list (in its order, duplicates once) into which[]; *count of them. */
static int parse_metrics(const char *list, int *which, int *count)
{
    *count = 0;
    for (const char *p = list; *p;) {
        const size_t len = strcspn(p, ",");
        int k = 0;
        while (k < NMETRICS && (strlen(metric_names[k]) != len || strncmp(metric_names[k], p, len))) k++;
        if (k == NMETRICS) {
            char known[200] = "";
            for (int j = 0; j < NMETRICS; j++)
                snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", j ? ", " : "", metric_names[j]);
            return cli_usage_error("--metric: unknown metric '%.*s' (known: %s)", (int)len, p, known);
        }
        bool seen = false;
        for (int j = 0; j < *count; j++) seen |= which[j] == k;
        if (!seen) which[(*count)++] = k;
        p += len;
        if (*p == ',') p++;
    }
    if (!*count) return cli_usage_error("--metric: no metric named");
    return CLI_OK;
}

static int64_t min64(int64_t x, int64_t y) { return x < y ? x : y; }

static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* k of the n rows of x (k < n), chosen by a seeded partial Fisher-Yates shuffle and kept in
 * their file order. NULL when out of memory. */
static float *subsample(const float *x, int64_t n, int64_t dim, int64_t k, uint64_t seed)
{
    int64_t *idx = malloc((size_t)n * sizeof *idx);
    float *out = malloc((size_t)(k * dim) * sizeof *out);
    bool *keep = calloc((size_t)n, sizeof *keep);
    if (idx && out && keep) {
        for (int64_t i = 0; i < n; i++) idx[i] = i;
        uint64_t s = seed;
        for (int64_t i = 0; i < k; i++) {
            s = mix64(s);
            const int64_t j = i + (int64_t)(s % (uint64_t)(n - i));
            const int64_t t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
            keep[idx[i]] = true;
        }
        for (int64_t i = 0, r = 0; i < n; i++)
            if (keep[i]) memcpy(out + (r++) * dim, x + i * dim, (size_t)dim * sizeof *out);
    } else {
        free(out);
        out = NULL;
    }
    free(idx);
    free(keep);
    return out;
}

/* Loads the file sides, then draws the toy sides (their N may depend on the other side). */
static int load_sides(dgm_ctx *ctx, const compare_args *a, side *s)
{
    for (int k = 0; k < 2; k++) {
        if (is_toy(a->spec[k])) continue;
        if (dgm_dataset_load(ctx, a->spec[k], DGM_SPLIT_TEST, a->seed, &s[k].ds)) return cli_fail(ctx, a->spec[k]);
    }
    for (int k = 0; k < 2; k++) {
        if (s[k].ds) continue;
        const int64_t n = a->n ? a->n : s[1 - k].ds ? dgm_dataset_count(s[1 - k].ds) : DEFAULT_TOY_N;
        if (dgm_dataset_toy(ctx, a->spec[k], n, mix64(a->seed * 2 + (uint64_t)k), &s[k].ds))
            return cli_fail(ctx, a->spec[k]);
    }
    for (int k = 0; k < 2; k++) {
        s[k].x = dgm_dataset_data(s[k].ds);
        s[k].n = dgm_dataset_count(s[k].ds);
    }
    if (dgm_dataset_dim(s[0].ds) != dgm_dataset_dim(s[1].ds))
        return cli_error("%s has %lld values per row, %s has %lld: the sets must have the same dimension",
                         a->spec[0], (long long)dgm_dataset_dim(s[0].ds), a->spec[1],
                         (long long)dgm_dataset_dim(s[1].ds));
    return CLI_OK;
}

/* Side k cut to at most max rows (a subsample owned by *own; else the rows themselves). */
static int capped(const side *s, int k, int64_t dim, int64_t max, uint64_t seed, float **own, const float **x,
                  int64_t *n)
{
    *own = NULL;
    *x = s[k].x;
    *n = s[k].n;
    if (s[k].n <= max) return CLI_OK;
    *own = subsample(s[k].x, s[k].n, dim, max, mix64(seed ^ (0x5eedull + (uint64_t)k)));
    if (!*own) return cli_error("out of memory subsampling %lld rows", (long long)s[k].n);
    *x = *own;
    *n = max;
    return CLI_OK;
}

/* The value of metric k into *v. */
static int compute(dgm_ctx *ctx, const compare_args *a, const side *s, int64_t dim, int k, dgm_divergences *hist,
                   bool *have_hist, dgm_classifier **clf, double *v)
{
    const char *name = metric_names[k];
    /* MMD's unbiased estimate and FID's covariances need two points a set. */
    if ((!strcmp(name, "mmd") || !strcmp(name, "fid")) && (s[0].n < 2 || s[1].n < 2)) {
        const char *which = s[0].n < 2 ? a->spec[0] : a->spec[1];
        if (a->n < 2 && a->n) return cli_usage_error("--metric %s needs at least 2 points in each set: give -n 2 or more", name);
        return cli_error("--metric %s needs at least 2 points in each set; %s has 1", name, which);
    }
    if (cli_is_image_metric(name, strlen(name))) {
        int rc = *clf ? CLI_OK : cli_open_classifier(ctx, a->classifier, clf);
        return rc ? rc : cli_image_metric(ctx, *clf, name, s[0].x, s[0].n, s[1].x, s[1].n, dim, v);
    }
    const int d = (int)dim;
    dgm_status st = DGM_STATUS_OK;
    int rc = CLI_OK;
    if (k < NHIST) {
        if (dim > 3)
            return cli_error("--metric %s: histograms need dim 1..3 (these sets have %lld); use sliced-w2, mmd or energy",
                             name, (long long)dim);
        if (!*have_hist) {
            dgm_histogram_options o = dgm_histogram_options_default();
            o.bins = (int)a->bins;
            o.extent = a->nextent ? a->extent : NULL;
            if (a->nextent && a->nextent != 2 * d)
                return cli_usage_error("--extent has %d values; sets of dimension %d need %d", a->nextent, d, 2 * d);
            if (dgm_histogram_divergences(ctx, s[0].x, s[0].n, s[1].x, s[1].n, d, &o, hist)) return cli_fail(ctx, name);
            *have_hist = true;
        }
        const double vals[NHIST] = {hist->kl, hist->js, hist->tv, hist->hellinger2, hist->chi2};
        *v = vals[k];
        return CLI_OK;
    }
    if (!strcmp(name, "sliced-w2"))
        st = dgm_sliced_wasserstein2(ctx, s[0].x, s[0].n, s[1].x, s[1].n, d, SLICED_DIRECTIONS, mix64(a->seed ^ 0x51cedull), v);
    else {
        /* w1 and w2 match the sets one to one: both cut to the smaller one's size */
        int64_t cap = PAIRWISE_MAX;
        if (name[0] == 'w') cap = min64(cap, min64(s[0].n, s[1].n));
        float *own[2] = {NULL, NULL};
        const float *x[2];
        int64_t n[2];
        for (int j = 0; j < 2 && !rc; j++) rc = capped(s, j, dim, cap, a->seed, &own[j], &x[j], &n[j]);
        if (!rc) {
            if (!strcmp(name, "w1")) st = dgm_wasserstein1(ctx, x[0], x[1], n[0], d, v);
            else if (!strcmp(name, "w2")) st = dgm_wasserstein2(ctx, x[0], x[1], n[0], d, v);
            else if (!strcmp(name, "mmd")) st = dgm_mmd2_rbf(ctx, x[0], n[0], x[1], n[1], d, a->bandwidth, v, NULL);
            else st = dgm_energy_distance(ctx, x[0], n[0], x[1], n[1], d, v);
        }
        free(own[0]);
        free(own[1]);
    }
    if (!rc && st) rc = cli_fail(ctx, name);
    return rc;
}

int cmd_compare(int argc, char **argv)
{
    compare_args a;
    int rc = parse(argc, argv, &a);
    if (rc) return rc;
    if (a.help) {
        usage();
        return CLI_OK;
    }
    int which[NMETRICS], count = 0;
    if (a.metrics && (rc = parse_metrics(a.metrics, which, &count))) return rc;
    dgm_ctx *ctx = NULL;
    if ((rc = cli_make_ctx("cpu", a.seed, &ctx))) return rc;
    side s[2] = {{0}};
    rc = load_sides(ctx, &a, s);
    const int64_t dim = rc ? 0 : dgm_dataset_dim(s[0].ds);
    if (!rc && !a.metrics) rc = parse_metrics(dim <= 3 ? "w2" : "sliced-w2,mmd", which, &count);
    double values[NMETRICS];
    dgm_divergences hist;
    bool have_hist = false;
    dgm_classifier *clf = NULL;
    for (int i = 0; i < count && !rc; i++) rc = compute(ctx, &a, s, dim, which[i], &hist, &have_hist, &clf, &values[i]);
    dgm_classifier_free(clf);
    if (!rc) {
        printf("{");
        for (int i = 0; i < count; i++) {
            printf("%s\"%s\":", i ? "," : "", metric_names[which[i]]);
            if (isfinite(values[i])) printf("%.10g", values[i]);
            else printf("null");
        }
        printf("}\n");
    }
    dgm_dataset_free(s[0].ds);
    dgm_dataset_free(s[1].ds);
    dgm_ctx_free(ctx);
    return rc;
}
