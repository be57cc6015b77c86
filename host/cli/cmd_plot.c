/* dgm plot: training curves from metrics.jsonl files as one line chart PNG — loss against
 * step by default, each run in its own colour, the legend naming each run by its folder.
 *
 * Each line of a metrics file is a JSON object ({"step": 100, "loss": 1.23, ...}); blank
 * lines are skipped. A resumed run appends to its file, so a step may appear more than
 * once: the points are put in step order and the last line of each step wins (the one the
 * resumed run wrote). A line without the plotted key is skipped with a warning (an error
 * when no line has it); a null value is a gap in the curve (warned). Anything else that
 * is not a number, a line that is not a JSON object, or a line without a numeric "step"
 * stops with FILE:LINE in the message. With --log-y a value <= 0 is an error (never
 * silently dropped). */
#define _XOPEN_SOURCE 700 /* getline, realpath */

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"

#define MAX_RUNS 64 /* dgm_save_line_plot_png's limit */
#define MIN_WIDTH 160
#define MIN_HEIGHT 120
#define MAX_SIDE 8192

typedef struct plot_args {
    const char *runs[MAX_RUNS];
    int nruns;
    const char *out, *xkey, *ykey;
    bool log_y, help;
    double smooth;
    int64_t width, height;
} plot_args;

typedef struct point {
    double step, x, y;
    size_t line;
} point;

typedef struct run {
    char path[PATH_MAX + 32];
    char label[256];
    point *pts;
    size_t n, cap;
    double *x, *y; /* [n] each, for the chart */
} run;

static const char *plural(size_t n) { return n == 1 ? "" : "s"; }

static void usage(void)
{
    printf("usage: dgm plot RUN [RUN...] -o FILE.png [--y KEY] [--x KEY] [--log-y] [--smooth W]\n"
           "                [--width W] [--height H]\n"
           "  RUN: a metrics.jsonl file, or a run folder (RUN/metrics.jsonl); up to %d runs, one\n"
           "    curve each, in its own colour, labelled in the legend by the run's folder name\n"
           "  --y KEY       the value to plot (default loss; any numeric key: lr, epoch, ...)\n"
           "  --x KEY       the horizontal axis (default step; elapsed_s, epoch, ...)\n"
           "  --log-y       log10 y axis; a value <= 0 is then an error\n"
           "  --smooth W    TensorBoard's smoothing: a debiased moving average with weight W in\n"
           "                [0, 1) (default 0: the raw values)\n"
           "  --width W, --height H   picture size in pixels (default 800 x 500; W in [%d, %d],\n"
           "                H in [%d, %d])\n"
           "  Points are drawn in step order; a step logged twice (a resumed run) keeps its\n"
           "  last line. Lines without KEY are skipped with a warning, null values leave gaps.\n",
           MAX_RUNS, MIN_WIDTH, MAX_SIDE, MIN_HEIGHT, MAX_SIDE);
}

static int parse_side(const char *opt, const char *v, int64_t min, int64_t *out)
{
    if (!cli_parse_int(v, min, out) || *out > MAX_SIDE)
        return cli_usage_error("%s %s: expected an integer in [%lld, %d]", opt, v, (long long)min,
                               MAX_SIDE);
    return CLI_OK;
}

static int parse(int argc, char **argv, plot_args *a)
{
    memset(a, 0, sizeof *a);
    a->xkey = "step";
    a->ykey = "loss";
    a->width = 800;
    a->height = 500;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v = NULL;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            a->help = true;
            return CLI_OK;
        }
        if (arg[0] != '-') {
            if (a->nruns == MAX_RUNS) return cli_usage_error("dgm plot takes at most %d runs", MAX_RUNS);
            a->runs[a->nruns++] = arg;
            continue;
        }
        char name[64];
        int rc = cli_option_key(arg, "plot", " out y x log-y smooth width height ", name, sizeof name);
        if (rc) return rc;
        if (!strcmp(name, "log-y")) {
            if (strchr(arg, '=')) return cli_usage_error("--log-y takes no value");
            a->log_y = true;
            continue;
        }
        if (!cli_take_value(argc, argv, &i, &v)) return cli_usage_error("%s needs a value", arg);
        if (!strcmp(name, "out")) {
            a->out = v;
        } else if (!strcmp(name, "y") || !strcmp(name, "x")) {
            if (!*v) return cli_usage_error("--%s needs a key name", name);
            *(name[0] == 'y' ? &a->ykey : &a->xkey) = v;
        } else if (!strcmp(name, "smooth")) {
            char *end = NULL;
            errno = 0;
            a->smooth = strtod(v, &end);
            if (end == v || *end || errno || !(a->smooth >= 0.0 && a->smooth < 1.0))
                return cli_usage_error("--smooth %s: expected a weight in [0, 1)", v);
        } else if (!strcmp(name, "width")) {
            if ((rc = parse_side("--width", v, MIN_WIDTH, &a->width))) return rc;
        } else if ((rc = parse_side("--height", v, MIN_HEIGHT, &a->height))) {
            return rc;
        }
    }
    if (!a->nruns) return cli_usage_error("dgm plot needs a metrics.jsonl file or a run folder");
    if (!a->out) return cli_usage_error("dgm plot needs -o FILE.png");
    if (!cli_has_ext(a->out, ".png")) return cli_usage_error("-o %s: dgm plot writes a PNG: name it FILE.png", a->out);
    return CLI_OK;
}

/* RUN or RUN/metrics.jsonl into r->path; the file's folder name into r->label. */
static void resolve(const char *arg, run *r)
{
    struct stat st;
    if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode)) {
        size_t n = strlen(arg);
        while (n > 1 && arg[n - 1] == '/') n--;
        snprintf(r->path, sizeof r->path, "%.*s/metrics.jsonl", (int)n, arg);
    } else {
        snprintf(r->path, sizeof r->path, "%s", arg);
    }
    char real[PATH_MAX];
    const char *p = realpath(r->path, real) ? real : r->path;
    char dir[sizeof r->path];
    snprintf(dir, sizeof dir, "%s", p);
    char *slash = strrchr(dir, '/');
    if (!slash) {
        snprintf(r->label, sizeof r->label, ".");
        return;
    }
    if (slash == dir) {
        snprintf(r->label, sizeof r->label, "/");
        return;
    }
    *slash = 0;
    const char *base = strrchr(dir, '/');
    snprintf(r->label, sizeof r->label, "%.200s", base ? base + 1 : dir);
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "not a number";
    }
}

/* The value of key in o: 1 a number (*out), 0 absent, -1 null (*out NaN); -2 any other
 * type (reported). */
static int number_of(const run *r, size_t line, const json_t *o, const char *key, double *out)
{
    const json_t *v = json_object_get(o, key);
    if (!v) return 0;
    if (json_is_null(v)) {
        *out = NAN;
        return -1;
    }
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 1;
    }
    cli_error("%s:%zu: \"%s\" is %s, not a number", r->path, line, key, type_name(v));
    return -2;
}

static int push(run *r, point p)
{
    if (r->n == r->cap) {
        const size_t cap = r->cap ? 2 * r->cap : 256;
        point *q = realloc(r->pts, cap * sizeof *q);
        if (!q) return cli_error("%s: out of memory after %zu points", r->path, r->n);
        r->pts = q;
        r->cap = cap;
    }
    r->pts[r->n++] = p;
    return CLI_OK;
}

/* The numeric keys of line `line`'s object, for the "no such key" error. */
static void numeric_keys(const json_t *o, char *buf, size_t len)
{
    const char *key;
    const json_t *v;
    size_t used = 0;
    buf[0] = 0;
    json_object_foreach((json_t *)o, key, v) {
        if (!json_is_number(v) || used + 1 >= len) continue;
        int k = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", key);
        if (k < 0) break;
        used += (size_t)k < len - used ? (size_t)k : len - used - 1;
    }
    if (!buf[0]) snprintf(buf, len, "no numeric key");
}

/* Reads the file's lines into r->pts (file order). */
static int read_lines(const plot_args *a, run *r)
{
    FILE *f = fopen(r->path, "r");
    if (!f) return cli_error("%s: cannot read: %s", r->path, strerror(errno));
    char *line = NULL;
    size_t cap = 0, lineno = 0, nonblank = 0, missing = 0, first_missing = 0, first_line = 0;
    json_t *first = NULL;
    ssize_t len;
    int rc = CLI_OK;
    const bool x_is_step = !strcmp(a->xkey, "step");
    while (!rc && (len = getline(&line, &cap, f)) != -1) {
        lineno++;
        size_t i = 0;
        while (i < (size_t)len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '\n')) i++;
        if (i == (size_t)len) continue;
        nonblank++;
        json_error_t err;
        json_t *o = json_loadb(line, (size_t)len, 0, &err);
        if (!o) {
            rc = cli_error("%s:%zu: not valid JSON: %s", r->path, lineno, err.text);
            break;
        }
        if (!json_is_object(o)) {
            json_decref(o);
            rc = cli_error("%s:%zu: not a JSON object", r->path, lineno);
            break;
        }
        if (!first) {
            first = json_incref(o);
            first_line = lineno;
        }
        point p = {0, 0, 0, lineno};
        int ks = number_of(r, lineno, o, "step", &p.step);
        if (ks != 1) {
            if (ks != -2) cli_error("%s:%zu: no numeric \"step\" in this line", r->path, lineno);
            rc = CLI_ERROR;
        }
        int kx = 1, ky = 0;
        if (!rc) {
            p.x = p.step;
            if (!x_is_step) kx = number_of(r, lineno, o, a->xkey, &p.x);
            if (kx != -2) ky = number_of(r, lineno, o, a->ykey, &p.y);
            if (kx == -2 || ky == -2) rc = CLI_ERROR;
        }
        json_decref(o);
        if (rc) break;
        if (kx == 0 || ky == 0) {
            if (!missing++) first_missing = lineno;
            continue;
        }
        rc = push(r, p);
    }
    if (!rc && ferror(f)) rc = cli_error("%s: read error: %s", r->path, strerror(errno));
    free(line);
    fclose(f);
    if (!rc && !nonblank) rc = cli_error("%s: empty: no metrics to plot", r->path);
    if (!rc && !r->n) {
        char keys[256];
        numeric_keys(first, keys, sizeof keys);
        rc = cli_error("%s: no line has a numeric \"%s\"%s%s%s (line %zu has: %s)", r->path, a->ykey,
                       x_is_step ? "" : " and \"", x_is_step ? "" : a->xkey, x_is_step ? "" : "\"",
                       first_line, keys);
    } else if (!rc && missing) {
        fprintf(stderr, "dgm: warning: %s: skipped %zu of %zu lines without \"%s\"%s%s%s (the first: "
                "line %zu)\n", r->path, missing, nonblank, a->ykey, x_is_step ? "" : " or \"",
                x_is_step ? "" : a->xkey, x_is_step ? "" : "\"", first_missing);
    }
    json_decref(first);
    return rc;
}

static int by_step_then_line(const void *pa, const void *pb)
{
    const point *a = pa, *b = pb;
    if (a->step != b->step) return a->step < b->step ? -1 : 1;
    return a->line < b->line ? -1 : a->line > b->line;
}

/* Step order, the last line of each step; gaps, --log-y and --smooth; r->x, r->y. */
static int prepare(const plot_args *a, run *r)
{
    qsort(r->pts, r->n, sizeof *r->pts, by_step_then_line);
    size_t m = 0, repeated = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (i + 1 < r->n && r->pts[i + 1].step == r->pts[i].step) {
            repeated++;
            continue;
        }
        r->pts[m++] = r->pts[i];
    }
    r->n = m;
    if (repeated)
        fprintf(stderr, "dgm: note: %s: %zu repeated step%s (a resumed run?): the last line of each "
                "step is drawn\n", r->path, repeated, plural(repeated));
    size_t gaps = 0, first_gap = 0, finite = 0;
    for (size_t i = 0; i < r->n; i++) {
        const point *p = &r->pts[i];
        if (!isfinite(p->x) || !isfinite(p->y)) {
            if (!gaps++ || p->line < first_gap) first_gap = p->line;
            continue;
        }
        finite++;
        if (a->log_y && !(p->y > 0.0))
            return cli_error("%s:%zu: %s = %g is not positive, which a log axis cannot show "
                             "(plot it without --log-y)", r->path, p->line, a->ykey, p->y);
    }
    if (!finite) return cli_error("%s: every \"%s\" is null: nothing to plot", r->path, a->ykey);
    if (gaps)
        fprintf(stderr, "dgm: warning: %s: %zu null value%s left as gaps in the curve (the first: "
                "line %zu)\n", r->path, gaps, plural(gaps), first_gap);
    r->x = malloc((r->n ? r->n : 1) * sizeof *r->x);
    r->y = malloc((r->n ? r->n : 1) * sizeof *r->y);
    if (!r->x || !r->y) return cli_error("%s: out of memory for %zu points", r->path, r->n);
    /* TensorBoard's smoothing: an exponential moving average, debiased by 1 - w^k. */
    double avg = 0.0;
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++) {
        r->x[i] = r->pts[i].x;
        r->y[i] = r->pts[i].y;
        if (a->smooth > 0.0 && isfinite(r->y[i])) {
            avg = avg * a->smooth + (1.0 - a->smooth) * r->y[i];
            r->y[i] = avg / (1.0 - pow(a->smooth, (double)++k));
        }
    }
    return CLI_OK;
}

static int draw(const plot_args *a, run *runs)
{
    dgm_ctx *ctx = NULL;
    int rc = cli_make_ctx("cpu", 0, &ctx);
    if (rc) return rc;
    dgm_line_series series[MAX_RUNS];
    size_t points = 0;
    for (int i = 0; i < a->nruns; i++) {
        series[i] = (dgm_line_series){runs[i].x, runs[i].y, (int64_t)runs[i].n, runs[i].label};
        points += runs[i].n;
    }
    char ylabel[160];
    snprintf(ylabel, sizeof ylabel, "%s%s", a->ykey, a->log_y ? " (log scale)" : "");
    if (a->smooth > 0.0)
        snprintf(ylabel + strlen(ylabel), sizeof ylabel - strlen(ylabel), ", smoothed %g", a->smooth);
    dgm_line_plot_config cfg = dgm_line_plot_config_default();
    cfg.width = (int)a->width;
    cfg.height = (int)a->height;
    cfg.log_y = a->log_y;
    cfg.x_label = a->xkey;
    cfg.y_label = ylabel;
    if (dgm_save_line_plot_png(ctx, a->out, series, a->nruns, &cfg) != DGM_STATUS_OK)
        rc = cli_fail(ctx, a->out);
    else
        printf("wrote %s (%d run%s, %zu point%s)\n", a->out, a->nruns, plural((size_t)a->nruns), points,
               plural(points));
    dgm_ctx_free(ctx);
    return rc;
}

int cmd_plot(int argc, char **argv)
{
    plot_args a;
    int rc = parse(argc, argv, &a);
    if (rc) return rc;
    if (a.help) {
        usage();
        return CLI_OK;
    }
    run *runs = calloc((size_t)a.nruns, sizeof *runs);
    if (!runs) return cli_error("out of memory");
    for (int i = 0; i < a.nruns && !rc; i++) {
        resolve(a.runs[i], &runs[i]);
        rc = read_lines(&a, &runs[i]);
        if (!rc) rc = prepare(&a, &runs[i]);
    }
    if (!rc) rc = draw(&a, runs);
    for (int i = 0; i < a.nruns; i++) {
        free(runs[i].pts);
        free(runs[i].x);
        free(runs[i].y);
    }
    free(runs);
    return rc;
}
