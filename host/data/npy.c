/* NumPy .npy files, format 1.0 and 2.0: the magic "\x93NUMPY", a version, the header length
 * (2 bytes little-endian in 1.0, 4 in 2.0), an ASCII Python dict literal with exactly the
 * keys 'descr', 'fortran_order' and 'shape', then the raw elements.
 *
 * The dict is parsed by a strict little grammar rather than anything resembling Python:
 * quoted strings without escapes, True/False, and a tuple of non-negative integers (one
 * element needs its trailing comma, as in Python). Only little-endian float32 ('<f4'),
 * float64 ('<f8'), int64 and int32 ('<i8', '<i4': numpy's integer defaults, as labels are
 * saved) and bytes ('|u1', '|i1') in C order are read, integers converted to floats, and
 * the data must be exactly as long as the shape says. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "data/data_internal.h"

#define NPY_MAX_DIMS 32 /* NumPy's own limit is 64; no dataset comes near either */

typedef struct npy_header {
    int itemsize; /* 1, 4 or 8 */
    char kind;    /* 'f' float, 'i' signed or 'u' unsigned integer */
    int ndim;
    int64_t shape[NPY_MAX_DIMS];
} npy_header;

typedef struct cursor {
    const unsigned char *p, *end;
    dgm_ctx *ctx;
    const char *name;
} cursor;

static dgm_status bad(cursor *c, const char *what)
{
    return dgm_set_error(c->ctx, DGM_STATUS_BAD_FORMAT, "%s: bad .npy header: %s", c->name, what);
}

static void skip_ws(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int take(cursor *c, unsigned char ch)
{
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted string into buf (NUL-terminated, at most cap-1 bytes). */
static dgm_status parse_string(cursor *c, char *buf, size_t cap)
{
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return bad(c, "expected a string");
    unsigned char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || *c->p < 0x20 || *c->p > 0x7e || n + 1 >= cap)
            return bad(c, "unexpected string content");
        buf[n++] = (char)*c->p++;
    }
    if (!take(c, q)) return bad(c, "unterminated string");
    buf[n] = '\0';
    return DGM_STATUS_OK;
}

static int take_word(cursor *c, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0) return 0;
    c->p += n;
    return 1;
}

static dgm_status parse_shape(cursor *c, npy_header *h)
{
    if (!take(c, '(')) return bad(c, "'shape' is not a tuple");
    h->ndim = 0;
    int trailing_comma = 0;
    for (;;) {
        skip_ws(c);
        if (take(c, ')')) break;
        if (c->p >= c->end || *c->p < '0' || *c->p > '9')
            return bad(c, "'shape' holds something other than non-negative integers");
        if (h->ndim == NPY_MAX_DIMS) return bad(c, "'shape' has too many dimensions");
        int64_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            if (v > (INT64_MAX - 9) / 10) return bad(c, "a 'shape' entry overflows");
            v = v * 10 + (*c->p++ - '0');
        }
        take(c, 'L'); /* Python 2 wrote longs as 3L */
        h->shape[h->ndim++] = v;
        skip_ws(c);
        trailing_comma = take(c, ',');
        if (!trailing_comma) {
            skip_ws(c);
            if (!take(c, ')')) return bad(c, "'shape' entries must be separated by commas");
            break;
        }
    }
    /* (3) is the integer 3 in Python, not a tuple. */
    if (h->ndim == 1 && !trailing_comma) return bad(c, "'shape' of one entry needs a comma: (n,)");
    return DGM_STATUS_OK;
}

static dgm_status parse_dict(cursor *c, npy_header *h)
{
    int have_descr = 0, have_order = 0, have_shape = 0;
    skip_ws(c);
    if (!take(c, '{')) return bad(c, "not a dict");
    for (;;) {
        skip_ws(c);
        if (take(c, '}')) break;
        char key[32];
        dgm_status st = parse_string(c, key, sizeof key);
        if (st != DGM_STATUS_OK) return st;
        skip_ws(c);
        if (!take(c, ':')) return bad(c, "expected ':' after a key");
        skip_ws(c);
        if (!strcmp(key, "descr")) {
            if (have_descr++) return bad(c, "'descr' given twice");
            char descr[32];
            st = parse_string(c, descr, sizeof descr);
            if (st != DGM_STATUS_OK) return st;
            static const struct { const char *descr; int size; char kind; } dtypes[] = {
                {"<f4", 4, 'f'}, {"<f8", 8, 'f'}, {"<i8", 8, 'i'}, {"<i4", 4, 'i'},
                {"|u1", 1, 'u'}, {"<u1", 1, 'u'}, {"|i1", 1, 'i'}, {"<i1", 1, 'i'}};
            h->itemsize = 0;
            for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
                if (!strcmp(descr, dtypes[i].descr)) h->itemsize = dtypes[i].size, h->kind = dtypes[i].kind;
            if (!h->itemsize)
                return dgm_set_error(c->ctx, DGM_STATUS_BAD_FORMAT,
                                     "%s: .npy dtype '%s' not supported (little-endian float32 "
                                     "'<f4', float64 '<f8', int64 '<i8', int32 '<i4', or bytes "
                                     "'|u1', '|i1')",
                                     c->name, descr);
        } else if (!strcmp(key, "fortran_order")) {
            if (have_order++) return bad(c, "'fortran_order' given twice");
            if (take_word(c, "True"))
                return dgm_set_error(c->ctx, DGM_STATUS_BAD_FORMAT,
                                     "%s: Fortran-order .npy arrays are not supported (save with "
                                     "numpy.ascontiguousarray)",
                                     c->name);
            if (!take_word(c, "False")) return bad(c, "'fortran_order' is not True or False");
        } else if (!strcmp(key, "shape")) {
            if (have_shape++) return bad(c, "'shape' given twice");
            st = parse_shape(c, h);
            if (st != DGM_STATUS_OK) return st;
        } else {
            return bad(c, "unknown key (only 'descr', 'fortran_order', 'shape')");
        }
        skip_ws(c);
        if (take(c, '}')) break;
        if (!take(c, ',')) return bad(c, "expected ',' or '}' after a value");
    }
    if (!have_descr || !have_order || !have_shape)
        return bad(c, !have_descr ? "no 'descr'" : !have_order ? "no 'fortran_order'" : "no 'shape'");
    /* Only the padding may follow: spaces and the closing newline. */
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n')) c->p++;
    if (c->p != c->end) return bad(c, "text after the dict");
    return DGM_STATUS_OK;
}

static uint64_t le_bytes(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

dgm_status dgm_npy_dataset_from_memory(dgm_ctx *ctx, const char *name, const unsigned char *buf,
                                       size_t len, dgm_dataset **out)
{
    *out = NULL;
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT, "%s: not a .npy file (bad magic)", name);
    int major = buf[6], minor = buf[7];
    if ((major != 1 && major != 2) || minor != 0)
        return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                             "%s: .npy format version %d.%d not supported (1.0 and 2.0 only)",
                             name, major, minor);
    size_t prefix = major == 1 ? 10 : 12;
    if (len < prefix)
        return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT, "%s: truncated .npy header", name);
    size_t hlen = (size_t)le_bytes(buf + 8, major == 1 ? 2 : 4);
    if (hlen > len - prefix)
        return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                             "%s: truncated .npy header (%zu bytes promised, %zu present)", name,
                             hlen, len - prefix);
    npy_header h = {0};
    cursor c = {buf + prefix, buf + prefix + hlen, ctx, name};
    dgm_status st = parse_dict(&c, &h);
    if (st != DGM_STATUS_OK) return st;
    if (h.ndim == 0)
        return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                             "%s: a 0-d .npy array (a scalar) is not a dataset", name);
    uint64_t limit = (uint64_t)(SIZE_MAX < INT64_MAX ? SIZE_MAX : INT64_MAX) / (uint64_t)h.itemsize;
    uint64_t count = 1;
    for (int i = 0; i < h.ndim; i++) {
        if (h.shape[i] == 0)
            return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT, "%s: .npy array has no elements "
                                 "(dimension %d is 0)", name, i);
        if (count > limit / (uint64_t)h.shape[i])
            return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT, "%s: .npy shape overflows", name);
        count *= (uint64_t)h.shape[i];
    }
    size_t want = (size_t)count * (size_t)h.itemsize, have = len - prefix - hlen;
    if (have != want)
        return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                             "%s: .npy data is %zu bytes, the shape needs %zu (%s)", name, have,
                             want, have < want ? "truncated" : "trailing bytes");
    float *x = malloc((size_t)count * sizeof(float));
    if (!x)
        return dgm_set_error(ctx, DGM_STATUS_OOM, "%s: out of host memory for %llu floats", name,
                             (unsigned long long)count);
    const unsigned char *d = buf + prefix + hlen;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t u = le_bytes(d + i * (uint64_t)h.itemsize, h.itemsize);
        if (h.kind == 'u') {
            x[i] = (float)u;
        } else if (h.kind == 'i') { /* sign-extend the item's bytes */
            const int bits = 8 * h.itemsize;
            const int64_t v = bits == 64 ? (int64_t)u : (int64_t)(u << (64 - bits)) >> (64 - bits);
            x[i] = (float)v;
        } else if (h.itemsize == 4) {
            uint32_t u32 = (uint32_t)u;
            memcpy(&x[i], &u32, sizeof(float));
        } else {
            double v;
            memcpy(&v, &u, sizeof v);
            x[i] = (float)v;
        }
        /* NaN, inf, or a double beyond float range would poison every loss. */
        if (!isfinite(x[i])) {
            free(x);
            return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                                 "%s: element %llu is not a finite float", name,
                                 (unsigned long long)i);
        }
    }
    /* [n, ...]: the trailing dimensions are the sample shape (flattened when there are more
     * than 3); a 1-D array is n samples of one value. */
    int64_t sample[3] = {1, 1, 1};
    int sample_ndim = 1;
    if (h.ndim >= 2 && h.ndim <= 4) {
        sample_ndim = h.ndim - 1;
        for (int i = 0; i < sample_ndim; i++) sample[i] = h.shape[i + 1];
    } else if (h.ndim > 4) {
        for (int i = 1; i < h.ndim; i++) sample[0] *= h.shape[i];
    }
    return dgm_dataset_adopt(ctx, h.shape[0], sample_ndim, sample, x, NULL, out);
}

/* The magic, before the rest of the file is read. */
static dgm_status npy_head(dgm_ctx *ctx, const char *path, const unsigned char *head, size_t n)
{
    if (memcmp(head, "\x93NUMPY", n < 6 ? n : 6) != 0)
        return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT, "%s: not a .npy file (bad magic)", path);
    return DGM_STATUS_OK;
}

dgm_status dgm_dataset_load_npy(dgm_ctx *ctx, const char *path, dgm_dataset **out)
{
    return dgm_dataset_load_with(ctx, path, "dgm_dataset_load_npy", npy_head, dgm_npy_dataset_from_memory, out);
}
