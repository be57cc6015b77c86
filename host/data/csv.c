/* CSV files of floats: one sample a line, fields separated by commas, every line the same
 * number of fields. Blank lines are skipped; CRLF line ends and a leading UTF-8 byte-order
 * mark are accepted; spaces and tabs around a field are ignored. No quoting. A first line that does not parse as numbers is a header.
 *
 * Numbers are parsed here rather than with strtod, whose decimal point follows the
 * process's locale (a program that called setlocale for German text would read "0.5" as
 * 0). NaN and infinity are refused: a dataset that holds them poisons every loss. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "data/data_internal.h"

typedef enum field_kind { FIELD_NUMBER, FIELD_NONFINITE, FIELD_RANGE, FIELD_TEXT } field_kind;

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static int lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* Case-insensitive: is [p, p+n) exactly `word`? */
static int is_word(const unsigned char *p, size_t n, const char *word)
{
    if (n != strlen(word)) return 0;
    for (size_t i = 0; i < n; i++)
        if (lower(p[i]) != (unsigned char)word[i]) return 0;
    return 1;
}

/* 10^e for 0 <= e; exact up to 22, then repeated products (the result is rounded to
 * float anyway). */
static double pow10_pos(int e)
{
    static const double exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    double r = 1.0;
    while (e > 22) {
        r *= 1e22;
        e -= 22;
        if (isinf(r)) return r;
    }
    return r * exact[e];
}

/* Parses one trimmed field [p, p+n): [+-] digits [. digits] [(e|E) [+-] digits], with at
 * least one digit in the mantissa. */
static field_kind parse_number(const unsigned char *p, size_t n, float *value)
{
    size_t i = 0;
    int neg = 0;
    if (i < n && (p[i] == '+' || p[i] == '-')) neg = p[i++] == '-';
    if (is_word(p + i, n - i, "nan") || is_word(p + i, n - i, "inf") ||
        is_word(p + i, n - i, "infinity"))
        return FIELD_NONFINITE;
    uint64_t mant = 0;
    int digits = 0, exp10 = 0, sig = 0;
    while (i < n && is_digit(p[i])) {
        /* 19 significant digits fit a uint64 and exceed float's precision by far. */
        if (sig < 19) {
            mant = mant * 10 + (uint64_t)(p[i] - '0');
            if (mant) sig++;
        } else {
            exp10++;
        }
        digits++;
        i++;
    }
    if (i < n && p[i] == '.') {
        i++;
        while (i < n && is_digit(p[i])) {
            if (sig < 19) {
                mant = mant * 10 + (uint64_t)(p[i] - '0');
                if (mant) sig++;
                exp10--;
            }
            digits++;
            i++;
        }
    }
    if (!digits) return FIELD_TEXT;
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        int eneg = 0, edigits = 0;
        long e = 0;
        if (i < n && (p[i] == '+' || p[i] == '-')) eneg = p[i++] == '-';
        while (i < n && is_digit(p[i])) {
            if (e < 100000) e = e * 10 + (p[i] - '0');
            edigits++;
            i++;
        }
        if (!edigits) return FIELD_TEXT;
        exp10 += (int)(eneg ? -e : e);
    }
    if (i != n) return FIELD_TEXT;
    double v = (double)mant;
    if (mant == 0 || exp10 == 0) {
        /* v as is */
    } else if (exp10 > 0) {
        v *= pow10_pos(exp10 > 400 ? 400 : exp10);
    } else {
        int e = -exp10 > 400 ? 400 : -exp10;
        /* Dividing by an exact power keeps a single rounding for the common cases; very
         * small values go in two steps so the divisor does not overflow. */
        if (e > 300) {
            v /= 1e300;
            e -= 300;
        }
        v /= pow10_pos(e);
    }
    if (v > FLT_MAX) return FIELD_RANGE;
    *value = (float)(neg ? -v : v);
    return FIELD_NUMBER;
}

static int is_blank(unsigned char c) { return c == ' ' || c == '\t'; }

/* A growing float array. */
typedef struct vec {
    float *v;
    size_t n, cap;
} vec;

static int vec_push(vec *a, float x)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 1024;
        float *v = realloc(a->v, cap * sizeof(float));
        if (!v) return 0;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = x;
    return 1;
}

/* Splits the line [p, end) into fields, appending each number to out. On a field that is
 * not a finite number, *bad holds its kind and *bad_col its 1-based column: the first plain
 * text field if any (so a header is told from bad data), else the first NaN/inf/overflow.
 * Returns the number of fields, or -1 on OOM. */
static long parse_line(const unsigned char *p, const unsigned char *end, vec *out,
                       field_kind *bad, long *bad_col)
{
    long cols = 0;
    *bad = FIELD_NUMBER;
    *bad_col = 0;
    for (;;) {
        const unsigned char *a = p;
        while (p < end && *p != ',') p++;
        const unsigned char *b = p;
        while (a < b && is_blank(*a)) a++;
        while (b > a && is_blank(b[-1])) b--;
        cols++;
        float v = 0.0f;
        field_kind k = parse_number(a, (size_t)(b - a), &v);
        if (k == FIELD_TEXT) {
            if (*bad != FIELD_TEXT) {
                *bad = FIELD_TEXT;
                *bad_col = cols;
            }
        } else if (k != FIELD_NUMBER) {
            if (*bad == FIELD_NUMBER) {
                *bad = k;
                *bad_col = cols;
            }
        } else if (!vec_push(out, v)) {
            return -1;
        }
        if (p == end) break;
        p++; /* the comma */
    }
    return cols;
}

static const char *kind_text(field_kind k)
{
    return k == FIELD_NONFINITE ? "is NaN or infinite"
           : k == FIELD_RANGE   ? "is out of float range"
                                : "is not a number";
}

dgm_status dgm_csv_dataset_from_memory(dgm_ctx *ctx, const char *name, const unsigned char *buf,
                                       size_t len, dgm_dataset **out)
{
    *out = NULL;
    vec data = {0};
    long cols = -1, line_no = 0, header_line = 0, width_line = 0;
    int64_t rows = 0;
    dgm_status st = DGM_STATUS_OK;
    const unsigned char *p = buf, *end = buf + len;
    /* A UTF-8 byte-order mark (spreadsheet exports write one) would make a numeric first
     * line look like a header and silently drop it. */
    if (len >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) p += 3;
    while (p < end) {
        const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
        const unsigned char *le = nl ? nl : end;
        const unsigned char *next = nl ? nl + 1 : end;
        if (le > p && le[-1] == '\r') le--;
        line_no++;
        const unsigned char *q = p;
        while (q < le && is_blank(*q)) q++;
        p = next;
        if (q == le) continue; /* blank line */
        size_t before = data.n;
        field_kind bad;
        long bad_col;
        long c = parse_line(q, le, &data, &bad, &bad_col);
        if (c < 0) {
            st = dgm_set_error(ctx, DGM_STATUS_OOM, "%s: out of host memory at line %ld", name,
                               line_no);
            break;
        }
        if (cols < 0) {
            /* The first line fixes the width, header or not. */
            cols = c;
            width_line = line_no;
            if (bad == FIELD_TEXT) {
                header_line = line_no;
                data.n = before;
                continue;
            }
        }
        if (c != cols) {
            st = dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                               "%s: line %ld has %ld field%s, expected %ld as on line %ld", name,
                               line_no, c, c == 1 ? "" : "s", cols, width_line);
            break;
        }
        if (bad != FIELD_NUMBER) {
            st = dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT, "%s: line %ld, field %ld %s", name,
                               line_no, bad_col, kind_text(bad));
            break;
        }
        rows++;
    }
    if (st == DGM_STATUS_OK && rows == 0)
        st = dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT, "%s: no data rows%s", name,
                           header_line ? " after the header" : " (empty file)");
    if (st != DGM_STATUS_OK) {
        free(data.v);
        return st;
    }
    int64_t shape[1] = {cols};
    return dgm_dataset_adopt(ctx, rows, 1, shape, data.v, NULL, out);
}

dgm_status dgm_dataset_load_csv(dgm_ctx *ctx, const char *path, dgm_dataset **out)
{
    return dgm_dataset_load_with(ctx, path, "dgm_dataset_load_csv", NULL, dgm_csv_dataset_from_memory, out);
}
