/* safetensors: writer and strict reader (see include/dgm/safetensors.h).
 *
 *   file = N (uint64 LE) | header: N bytes of UTF-8 JSON | data area
 *   header = {"__metadata__": {"k": "v", ...},            (optional, strings only)
 *             "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
 *
 * Offsets are relative to the data area. The writer puts "__metadata__" first (when there
 * is any) and the tensors in the caller's order with contiguous offsets, compact JSON
 * padded with spaces to a multiple of 8 bytes so the data starts 8-byte aligned (as the
 * safetensors library does); its dtype is always F32.
 *
 * The reader checks everything the format defines and rejects the rest as BAD_FORMAT,
 * naming the file (or "safetensors buffer") and the tensor: the 8-byte length, the header
 * length (at most 100,000,000 and inside the file), JSON syntax (duplicate keys
 * included), a top-level object, "__metadata__" an object of strings, non-empty tensor
 * names without NUL, each entry an object with a known dtype (F32, F64, F16, BF16; the
 * other safetensors dtypes are rejected as unsupported), a shape of non-negative
 * integers, data_offsets two non-negative integers begin <= end with end - begin =
 * numel·dtype size, and the tensors covering the data area exactly: no gap, no overlap,
 * nothing past its end, no trailing bytes. Keys other than dtype, shape and data_offsets
 * inside an entry are ignored, as the safetensors library does. Tensors are kept in
 * header order and converted to float32 (F64 rounds to nearest, overflowing to ±inf). */
#define _POSIX_C_SOURCE 200809L

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "dgm/safetensors.h"
#include "io/atomic_file.h"
#include "io/io_util.h"

#define ST_MAX_HEADER 100000000ull
#define ST_META_KEY "__metadata__"
#define ST_NAME_FMT "%.160s" /* tensor names are quoted at most this long in messages */

enum { ST_F32, ST_F64, ST_F16, ST_BF16, ST_DTYPE_COUNT };

static const struct {
    const char *name;
    int size;
} DTYPES[ST_DTYPE_COUNT] = {{"F32", 4}, {"F64", 8}, {"F16", 2}, {"BF16", 2}};

/* Valid safetensors dtypes this reader does not convert. */
static const char *const UNSUPPORTED_DTYPES[] = {
    "BOOL", "U8", "I8", "I16", "U16", "I32", "U32", "I64", "U64", "F8_E5M2", "F8_E4M3",
    "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64", NULL};

typedef struct st_entry {
    char *name;
    int dtype;
    int ndim;
    int64_t *shape;  /* [ndim], into dgm_safetensors.shapes */
    int64_t numel;
    uint64_t begin, end;
    float *data;     /* [numel], into dgm_safetensors.values */
} st_entry;

struct dgm_safetensors {
    int n;
    st_entry *t;        /* [n] in header order */
    int *by_name;       /* [n] indices sorted by name */
    int64_t *shapes;    /* all shapes */
    float *values;      /* all data */
    int n_meta;
    char **meta_keys;   /* [n_meta] in header order */
    char **meta_values; /* [n_meta] */
};

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "an unknown JSON value";
}

static uint64_t load_u64le(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static float half_to_float(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13); /* inf, NaN (payload kept) */
    } else if (exp != 0) {
        bits = sign | ((exp + 112u) << 23) | (mant << 13);
    } else if (mant == 0) {
        bits = sign; /* ±0 */
    } else {         /* subnormal: normalise */
        int e = -1;
        do {
            e++;
            mant <<= 1;
        } while (!(mant & 0x400u));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static void convert(int dtype, const unsigned char *src, int64_t n, float *dst)
{
    for (int64_t i = 0; i < n; i++) {
        switch (dtype) {
        case ST_F32: {
            const unsigned char *p = src + 4 * i;
            uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                         (uint32_t)p[3] << 24;
            memcpy(&dst[i], &u, 4);
            break;
        }
        case ST_F64: {
            double d;
            uint64_t u = load_u64le(src + 8 * i);
            memcpy(&d, &u, 8);
            dst[i] = (float)d;
            break;
        }
        case ST_F16:
            dst[i] = half_to_float((uint16_t)(src[2 * i] | src[2 * i + 1] << 8));
            break;
        default: { /* BF16: the upper half of a float32 */
            uint32_t u = (uint32_t)src[2 * i] << 16 | (uint32_t)src[2 * i + 1] << 24;
            memcpy(&dst[i], &u, 4);
            break;
        }
        }
    }
}

void dgm_safetensors_free(dgm_safetensors *st)
{
    if (!st) return;
    for (int i = 0; st->t && i < st->n; i++) free(st->t[i].name);
    for (int i = 0; st->meta_keys && i < st->n_meta; i++) {
        free(st->meta_keys[i]);
        free(st->meta_values[i]);
    }
    free(st->t);
    free(st->by_name);
    free(st->shapes);
    free(st->values);
    free(st->meta_keys);
    free(st->meta_values);
    free(st);
}

/* ---- reader ---- */

typedef struct parse_state {
    dgm_ctx *ctx;
    const char *where;
    dgm_safetensors *st;
} parse_state;

#define BAD(ps, ...) dgm_set_error((ps)->ctx, DGM_STATUS_BAD_FORMAT, __VA_ARGS__)

static dgm_status parse_metadata(parse_state *ps, json_t *meta)
{
    if (!json_is_object(meta))
        return BAD(ps, "%s: \"__metadata__\" is %s, not an object of strings", ps->where,
                   json_kind(meta));
    dgm_safetensors *st = ps->st;
    const size_t n = json_object_size(meta);
    st->meta_keys = calloc(n ? n : 1, sizeof *st->meta_keys);
    st->meta_values = calloc(n ? n : 1, sizeof *st->meta_values);
    if (!st->meta_keys || !st->meta_values)
        return dgm_set_error(ps->ctx, DGM_STATUS_OOM, "%s: out of host memory", ps->where);
    const char *key;
    json_t *value;
    json_object_foreach(meta, key, value) {
        const size_t key_len = json_object_iter_key_len(json_object_key_to_iter(key));
        if (!json_is_string(value))
            return BAD(ps, "%s: \"__metadata__\" value of key \"" ST_NAME_FMT "\" is %s, not a "
                       "string", ps->where, key, json_kind(value));
        const char *v = json_string_value(value);
        const size_t v_len = json_string_length(value);
        if (key_len != strlen(key) || v_len != strlen(v))
            return BAD(ps, "%s: \"__metadata__\" key or value contains a NUL character",
                       ps->where);
        st->meta_keys[st->n_meta] = dup_n(key, key_len);
        st->meta_values[st->n_meta] = dup_n(v, v_len);
        st->n_meta++;
        if (!st->meta_keys[st->n_meta - 1] || !st->meta_values[st->n_meta - 1])
            return dgm_set_error(ps->ctx, DGM_STATUS_OOM, "%s: out of host memory", ps->where);
    }
    return DGM_STATUS_OK;
}

static int lookup_dtype(const char *s)
{
    for (int d = 0; d < ST_DTYPE_COUNT; d++)
        if (strcmp(s, DTYPES[d].name) == 0) return d;
    return -1;
}

/* Checks one tensor entry and fills e's dtype, ndim, numel and offsets, the shape into
 * shape_out [ndim]. data_len: bytes in the data area. */
static dgm_status parse_entry(parse_state *ps, const char *name, json_t *v, uint64_t data_len,
                              st_entry *e, int64_t *shape_out)
{
    const char *w = ps->where;
    if (!json_is_object(v))
        return BAD(ps, "%s: tensor \"" ST_NAME_FMT "\": entry is %s, not an object", w, name,
                   json_kind(v));
    json_t *dtype = json_object_get(v, "dtype"), *shape = json_object_get(v, "shape");
    json_t *offsets = json_object_get(v, "data_offsets");
    if (!dtype || !shape || !offsets)
        return BAD(ps, "%s: tensor \"" ST_NAME_FMT "\": missing \"%s\"", w, name,
                   !dtype ? "dtype" : !shape ? "shape" : "data_offsets");
    if (!json_is_string(dtype))
        return BAD(ps, "%s: tensor \"" ST_NAME_FMT "\": dtype is %s, not a string", w, name,
                   json_kind(dtype));
    const char *dt = json_string_value(dtype);
    e->dtype = lookup_dtype(dt);
    if (e->dtype < 0) {
        for (int i = 0; UNSUPPORTED_DTYPES[i]; i++)
            if (strcmp(dt, UNSUPPORTED_DTYPES[i]) == 0)
                return BAD(ps, "%s: tensor \"" ST_NAME_FMT "\": dtype %s is not supported "
                           "(F32, F64, F16 and BF16 are)", w, name, dt);
        return BAD(ps, "%s: tensor \"" ST_NAME_FMT "\": unknown dtype \"%.32s\"", w, name, dt);
    }
    if (!json_is_array(shape))
        return BAD(ps, "%s: tensor \"" ST_NAME_FMT "\": shape is %s, not an array", w, name,
                   json_kind(shape));
    const size_t ndim = json_array_size(shape);
    e->ndim = (int)ndim;
    int64_t numel = 1;
    int zero = 0, overflow = 0;
    const int64_t limit = INT64_MAX / 8; /* numel·dtype size stays representable */
    for (size_t i = 0; i < ndim; i++) {
        json_t *d = json_array_get(shape, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0) {
            if (json_is_integer(d))
                return BAD(ps, "%s: tensor \"" ST_NAME_FMT "\": shape[%zu] = %lld is negative",
                           w, name, i, (long long)json_integer_value(d));
            return BAD(ps, "%s: tensor \"" ST_NAME_FMT "\": shape[%zu] is %s, not a "
                       "non-negative integer", w, name, i, json_kind(d));
        }
        const int64_t dim = (int64_t)json_integer_value(d);
        shape_out[i] = dim;
        if (dim == 0) zero = 1;
        else if (numel > limit / dim) overflow = 1;
        else numel *= dim;
    }
    if (zero) numel = 0;
    else if (overflow)
        return BAD(ps, "%s: tensor \"" ST_NAME_FMT "\": its shape has more elements than any "
                   "file can hold", w, name);
    e->numel = numel;
    if (!json_is_array(offsets) || json_array_size(offsets) != 2 ||
        !json_is_integer(json_array_get(offsets, 0)) ||
        !json_is_integer(json_array_get(offsets, 1)) ||
        json_integer_value(json_array_get(offsets, 0)) < 0 ||
        json_integer_value(json_array_get(offsets, 1)) < 0)
        return BAD(ps, "%s: tensor \"" ST_NAME_FMT "\": data_offsets is not [begin, end] of "
                   "two non-negative integers", w, name);
    e->begin = (uint64_t)json_integer_value(json_array_get(offsets, 0));
    e->end = (uint64_t)json_integer_value(json_array_get(offsets, 1));
    if (e->end < e->begin)
        return BAD(ps, "%s: tensor \"" ST_NAME_FMT "\": data_offsets [%llu, %llu] ends before "
                   "it begins", w, name, (unsigned long long)e->begin,
                   (unsigned long long)e->end);
    const uint64_t bytes = (uint64_t)numel * (uint64_t)DTYPES[e->dtype].size;
    if (e->end - e->begin != bytes)
        return BAD(ps, "%s: tensor \"" ST_NAME_FMT "\": data_offsets [%llu, %llu] hold %llu "
                   "bytes but %lld %s values need %llu", w, name, (unsigned long long)e->begin,
                   (unsigned long long)e->end, (unsigned long long)(e->end - e->begin),
                   (long long)numel, DTYPES[e->dtype].name, (unsigned long long)bytes);
    if (e->end > data_len)
        return BAD(ps, "%s: tensor \"" ST_NAME_FMT "\": data_offsets [%llu, %llu] run past the "
                   "end of the %llu-byte data area", w, name, (unsigned long long)e->begin,
                   (unsigned long long)e->end, (unsigned long long)data_len);
    return DGM_STATUS_OK;
}

typedef struct offset_key {
    uint64_t begin, end;
    int index;
} offset_key;

static int by_offset(const void *a, const void *b)
{
    const offset_key *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->index - y->index;
}

typedef struct name_key {
    const char *name;
    int index;
} name_key;

static int by_name(const void *a, const void *b)
{
    const name_key *x = a, *y = b;
    return strcmp(x->name, y->name);
}

/* The tensors cover [0, data_len) exactly, in some order. */
static dgm_status check_coverage(parse_state *ps, uint64_t data_len)
{
    dgm_safetensors *st = ps->st;
    offset_key *keys = malloc((st->n > 0 ? (size_t)st->n : 1) * sizeof *keys);
    if (!keys) return dgm_set_error(ps->ctx, DGM_STATUS_OOM, "%s: out of host memory", ps->where);
    for (int i = 0; i < st->n; i++) keys[i] = (offset_key){st->t[i].begin, st->t[i].end, i};
    qsort(keys, (size_t)st->n, sizeof *keys, by_offset);
    uint64_t at = 0;
    int prev = -1;
    dgm_status rc = DGM_STATUS_OK;
    for (int k = 0; k < st->n && rc == DGM_STATUS_OK; k++) {
        const st_entry *e = &st->t[keys[k].index];
        if (e->begin > at)
            rc = BAD(ps, "%s: a gap of %llu unused bytes at data offset %llu before tensor \""
                     ST_NAME_FMT "\"", ps->where, (unsigned long long)(e->begin - at),
                     (unsigned long long)at, e->name);
        else if (e->begin < at)
            rc = BAD(ps, "%s: tensor \"" ST_NAME_FMT "\" [%llu, %llu] overlaps tensor \""
                     ST_NAME_FMT "\" (which ends at %llu)", ps->where, e->name,
                     (unsigned long long)e->begin, (unsigned long long)e->end,
                     st->t[prev].name, (unsigned long long)at);
        at = e->end; /* as the safetensors library: even an empty tensor sits at `at` */
        prev = keys[k].index;
    }
    free(keys);
    if (rc == DGM_STATUS_OK && at != data_len)
        rc = BAD(ps, "%s: %llu trailing bytes after the last tensor (the data area has %llu, the "
                 "tensors cover %llu)", ps->where, (unsigned long long)(data_len - at),
                 (unsigned long long)data_len, (unsigned long long)at);
    return rc;
}

static dgm_status parse_header(parse_state *ps, json_t *root, const unsigned char *data_area,
                               uint64_t data_len)
{
    dgm_safetensors *st = ps->st;
    const size_t n_keys = json_object_size(root);
    const int has_meta = json_object_get(root, ST_META_KEY) != NULL;
    const size_t n = n_keys - (size_t)has_meta;
    /* n <= header bytes / 2 <= 5e7: fits an int. */
    st->t = calloc(n ? n : 1, sizeof *st->t);
    if (!st->t) return dgm_set_error(ps->ctx, DGM_STATUS_OOM, "%s: out of host memory", ps->where);

    /* Shapes: count the dims first so they fit one block. */
    size_t total_dims = 0;
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value) {
        json_t *shape = json_is_object(value) ? json_object_get(value, "shape") : NULL;
        if (shape && json_is_array(shape)) total_dims += json_array_size(shape);
    }
    st->shapes = malloc((total_dims ? total_dims : 1) * sizeof *st->shapes);
    if (!st->shapes)
        return dgm_set_error(ps->ctx, DGM_STATUS_OOM, "%s: out of host memory", ps->where);

    size_t dims_used = 0;
    json_object_foreach(root, key, value) {
        const size_t key_len = json_object_iter_key_len(json_object_key_to_iter(key));
        if (key_len != strlen(key))
            return BAD(ps, "%s: a tensor name contains a NUL character", ps->where);
        if (strcmp(key, ST_META_KEY) == 0) {
            dgm_status rc = parse_metadata(ps, value);
            if (rc != DGM_STATUS_OK) return rc;
            continue;
        }
        if (key_len == 0) return BAD(ps, "%s: a tensor has an empty name", ps->where);
        st_entry *e = &st->t[st->n];
        e->shape = st->shapes + dims_used;
        dgm_status rc = parse_entry(ps, key, value, data_len, e, e->shape);
        if (rc != DGM_STATUS_OK) return rc;
        dims_used += (size_t)e->ndim;
        e->name = dup_n(key, key_len);
        if (!e->name)
            return dgm_set_error(ps->ctx, DGM_STATUS_OOM, "%s: out of host memory", ps->where);
        st->n++;
    }

    dgm_status rc = check_coverage(ps, data_len);
    if (rc != DGM_STATUS_OK) return rc;

    /* All values in one block; its size is bounded by 4 bytes per data byte / 2. */
    size_t total = 0;
    for (int i = 0; i < st->n; i++) total += (size_t)st->t[i].numel;
    const size_t count = st->n > 0 ? (size_t)st->n : 1;
    st->values = malloc((total ? total : 1) * sizeof *st->values);
    st->by_name = malloc(count * sizeof *st->by_name);
    name_key *names = malloc(count * sizeof *names);
    if (!st->values || !st->by_name || !names) {
        free(names);
        return dgm_set_error(ps->ctx, DGM_STATUS_OOM, "%s: out of host memory for %zu values",
                             ps->where, total);
    }
    size_t at = 0;
    for (int i = 0; i < st->n; i++) {
        st_entry *e = &st->t[i];
        e->data = st->values + at;
        convert(e->dtype, data_area + e->begin, e->numel, e->data);
        at += (size_t)e->numel;
        names[i] = (name_key){e->name, i};
    }
    qsort(names, (size_t)st->n, sizeof *names, by_name);
    for (int i = 0; i < st->n; i++) st->by_name[i] = names[i].index;
    free(names);
    return DGM_STATUS_OK;
}

static dgm_status parse(dgm_ctx *ctx, const char *where, const unsigned char *bytes, size_t len,
                        dgm_safetensors **out)
{
    parse_state ps = {ctx, where, NULL};
    if (len < 8)
        return BAD(&ps, "%s: truncated: %zu bytes, shorter than the 8-byte header length", where,
                   len);
    const uint64_t hlen = load_u64le(bytes);
    if (hlen > ST_MAX_HEADER)
        return BAD(&ps, "%s: header length %llu exceeds the limit of %llu bytes", where,
                   (unsigned long long)hlen, ST_MAX_HEADER);
    if (hlen > len - 8)
        return BAD(&ps, "%s: truncated: the header length is %llu bytes but only %zu follow "
                   "the length field", where, (unsigned long long)hlen, len - 8);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)bytes + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return BAD(&ps, "%s: the header is not valid JSON: %s (line %d, column %d, byte %d of the "
                   "header)", where, jerr.text, jerr.line, jerr.column, jerr.position);
    if (!json_is_object(root)) {
        dgm_status rc = BAD(&ps, "%s: the header is %s, not a JSON object", where, json_kind(root));
        json_decref(root);
        return rc;
    }
    ps.st = calloc(1, sizeof *ps.st);
    if (!ps.st) {
        json_decref(root);
        return dgm_set_error(ctx, DGM_STATUS_OOM, "%s: out of host memory", where);
    }
    dgm_status rc = parse_header(&ps, root, bytes + 8 + hlen, (uint64_t)(len - 8 - hlen));
    json_decref(root);
    if (rc != DGM_STATUS_OK) {
        dgm_safetensors_free(ps.st);
        return rc;
    }
    *out = ps.st;
    return DGM_STATUS_OK;
}

dgm_status dgm_safetensors_parse(dgm_ctx *ctx, const void *bytes, size_t len,
                                 dgm_safetensors **out)
{
    dgm_status st = dgm_check_ctx(ctx);
    if (st != DGM_STATUS_OK) return st;
    if (!out)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_safetensors_parse: out is NULL");
    *out = NULL;
    if (!bytes && len)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_safetensors_parse: bytes is NULL");
    return parse(ctx, "safetensors buffer", bytes, len, out);
}

/* The header length and the header's first byte, before the rest is read: a large file of
 * another kind is refused at once. (What these bytes cannot settle, parse says.) */
static dgm_status safetensors_head(dgm_ctx *ctx, const char *path, const unsigned char *head, size_t n)
{
    if (n >= 8 && load_u64le(head) > ST_MAX_HEADER)
        return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT, "%s: header length %llu exceeds the limit of %llu bytes",
                             path, (unsigned long long)load_u64le(head), ST_MAX_HEADER);
    size_t i = 8;
    while (i < n && (head[i] == ' ' || head[i] == '\t' || head[i] == '\n' || head[i] == '\r')) i++;
    if (i < n && head[i] != '{')
        return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                             "%s is not a safetensors file: its header does not start with '{'", path);
    return DGM_STATUS_OK;
}

dgm_status dgm_safetensors_load(dgm_ctx *ctx, const char *path, dgm_safetensors **out)
{
    dgm_status st = dgm_check_ctx(ctx);
    if (st != DGM_STATUS_OK) return st;
    if (!out)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "dgm_safetensors_load: out is NULL");
    *out = NULL;
    if (!path || !*path)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_safetensors_load: path is NULL or empty");
    unsigned char *data;
    size_t len;
    st = dgm_read_file_checked(ctx, path, SIZE_MAX / 2, safetensors_head, &data, &len);
    if (st != DGM_STATUS_OK) return st;
    st = parse(ctx, path, data, len, out);
    free(data);
    return st;
}

/* ---- accessors ---- */

int dgm_safetensors_count(const dgm_safetensors *st) { return st ? st->n : 0; }

static const st_entry *entry(const dgm_safetensors *st, int i)
{
    return st && i >= 0 && i < st->n ? &st->t[i] : NULL;
}

int dgm_safetensors_find(const dgm_safetensors *st, const char *name)
{
    if (!st || !name) return -1;
    int lo = 0, hi = st->n - 1;
    while (lo <= hi) {
        const int mid = lo + (hi - lo) / 2;
        const int c = strcmp(name, st->t[st->by_name[mid]].name);
        if (c == 0) return st->by_name[mid];
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return -1;
}

const char *dgm_safetensors_name(const dgm_safetensors *st, int i)
{
    const st_entry *e = entry(st, i);
    return e ? e->name : NULL;
}

int dgm_safetensors_ndim(const dgm_safetensors *st, int i)
{
    const st_entry *e = entry(st, i);
    return e ? e->ndim : -1;
}

const int64_t *dgm_safetensors_shape(const dgm_safetensors *st, int i)
{
    const st_entry *e = entry(st, i);
    return e ? e->shape : NULL;
}

int64_t dgm_safetensors_numel(const dgm_safetensors *st, int i)
{
    const st_entry *e = entry(st, i);
    return e ? e->numel : -1;
}

const float *dgm_safetensors_data(const dgm_safetensors *st, int i)
{
    const st_entry *e = entry(st, i);
    return e ? e->data : NULL;
}

const char *dgm_safetensors_dtype(const dgm_safetensors *st, int i)
{
    const st_entry *e = entry(st, i);
    return e ? DTYPES[e->dtype].name : NULL;
}

const char *dgm_safetensors_meta(const dgm_safetensors *st, const char *key)
{
    if (!st || !key) return NULL;
    for (int i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta_keys[i], key) == 0) return st->meta_values[i];
    return NULL;
}

int dgm_safetensors_meta_count(const dgm_safetensors *st) { return st ? st->n_meta : 0; }

const char *dgm_safetensors_meta_key(const dgm_safetensors *st, int i)
{
    return st && i >= 0 && i < st->n_meta ? st->meta_keys[i] : NULL;
}

/* ---- writer ---- */

#define INVALID(ctx, ...) dgm_set_error((ctx), DGM_STATUS_INVALID_ARGUMENT, __VA_ARGS__)

/* Builds the header object; offsets contiguous in the given order. */
static dgm_status build_header(dgm_ctx *ctx, const char *path, const dgm_st_tensor *tensors,
                               int n_tensors, const char *const *meta_keys,
                               const char *const *meta_values, int n_meta, json_t *root,
                               uint64_t *data_bytes)
{
    static const char *fn = "dgm_safetensors_save";
    const char *oom = "%s: %s: out of host memory building the header";
    if (n_meta > 0) {
        json_t *meta = json_object();
        if (!meta || json_object_set_new(root, ST_META_KEY, meta) != 0)
            return dgm_set_error(ctx, DGM_STATUS_OOM, oom, fn, path);
        for (int i = 0; i < n_meta; i++) {
            const char *k = meta_keys[i], *v = meta_values[i];
            if (!k || !v)
                return INVALID(ctx, "%s: %s: metadata %d has a NULL key or value", fn, path, i);
            if (json_object_get(meta, k))
                return INVALID(ctx, "%s: %s: metadata key \"" ST_NAME_FMT "\" appears twice", fn,
                               path, k);
            json_t *s = json_string(v);
            if (!s)
                return INVALID(ctx, "%s: %s: metadata value of \"" ST_NAME_FMT "\" is not valid "
                               "UTF-8", fn, path, k);
            if (json_object_set_new(meta, k, s) != 0)
                return INVALID(ctx, "%s: %s: metadata key %d is not valid UTF-8", fn, path, i);
        }
    }
    uint64_t at = 0;
    for (int i = 0; i < n_tensors; i++) {
        const dgm_st_tensor *t = &tensors[i];
        if (!t->name || !*t->name)
            return INVALID(ctx, "%s: %s: tensor %d has no name", fn, path, i);
        if (strcmp(t->name, ST_META_KEY) == 0)
            return INVALID(ctx, "%s: %s: tensor %d may not be called \"__metadata__\"", fn, path,
                           i);
        if (json_object_get(root, t->name))
            return INVALID(ctx, "%s: %s: tensor name \"" ST_NAME_FMT "\" appears twice", fn,
                           path, t->name);
        if (t->ndim < 0 || t->ndim > 4)
            return INVALID(ctx, "%s: %s: tensor \"" ST_NAME_FMT "\": ndim %d is outside [0, 4]",
                           fn, path, t->name, t->ndim);
        int64_t numel = 1;
        int zero = 0, overflow = 0;
        for (int d = 0; d < t->ndim; d++) {
            if (t->shape[d] < 0)
                return INVALID(ctx, "%s: %s: tensor \"" ST_NAME_FMT "\": shape[%d] = %lld is "
                               "negative", fn, path, t->name, d, (long long)t->shape[d]);
            if (t->shape[d] == 0) zero = 1;
            else if (numel > INT64_MAX / 8 / t->shape[d]) overflow = 1;
            else numel *= t->shape[d];
        }
        if (zero) numel = 0;
        else if (overflow || (uint64_t)numel > SIZE_MAX / 4)
            return INVALID(ctx, "%s: %s: tensor \"" ST_NAME_FMT "\" is too large", fn, path,
                           t->name);
        if (numel > 0 && !t->data)
            return INVALID(ctx, "%s: %s: tensor \"" ST_NAME_FMT "\" has NULL data", fn, path,
                           t->name);
        const uint64_t end = at + (uint64_t)numel * 4;
        if (end < at || end > (uint64_t)INT64_MAX)
            return INVALID(ctx, "%s: %s: the tensors are too large together", fn, path);

        json_t *entry_obj = json_object(), *shape = json_array(), *offsets = json_array();
        int bad = !entry_obj || !shape || !offsets;
        for (int d = 0; !bad && d < t->ndim; d++)
            bad = json_array_append_new(shape, json_integer((json_int_t)t->shape[d])) != 0;
        bad = bad || json_array_append_new(offsets, json_integer((json_int_t)at)) != 0 ||
              json_array_append_new(offsets, json_integer((json_int_t)end)) != 0 ||
              json_object_set_new(entry_obj, "dtype", json_string("F32")) != 0;
        if (bad) {
            json_decref(entry_obj);
            json_decref(shape);
            json_decref(offsets);
            return dgm_set_error(ctx, DGM_STATUS_OOM, oom, fn, path);
        }
        /* set_new steals the reference, even on failure. */
        bad = json_object_set_new(entry_obj, "shape", shape) != 0;
        bad = json_object_set_new(entry_obj, "data_offsets", offsets) != 0 || bad;
        if (bad) {
            json_decref(entry_obj);
            return dgm_set_error(ctx, DGM_STATUS_OOM, oom, fn, path);
        }
        if (json_object_set_new(root, t->name, entry_obj) != 0)
            return INVALID(ctx, "%s: %s: tensor name %d is not valid UTF-8", fn, path, i);
        at = end;
    }
    *data_bytes = at;
    return DGM_STATUS_OK;
}

dgm_status dgm_safetensors_save(dgm_ctx *ctx, const char *path, const dgm_st_tensor *tensors,
                                int n_tensors, const char *const *meta_keys,
                                const char *const *meta_values, int n_meta)
{
    static const char *fn = "dgm_safetensors_save";
    dgm_status st = dgm_check_ctx(ctx);
    if (st != DGM_STATUS_OK) return st;
    if (!path || !*path) return INVALID(ctx, "%s: path is NULL or empty", fn);
    if (n_tensors < 0 || (n_tensors > 0 && !tensors))
        return INVALID(ctx, "%s: %s: %d tensors at %p", fn, path, n_tensors, (const void *)tensors);
    if (n_meta < 0 || (n_meta > 0 && (!meta_keys || !meta_values)))
        return INVALID(ctx, "%s: %s: %d metadata pairs without keys or values", fn, path, n_meta);

    json_t *root = json_object();
    if (!root) return dgm_set_error(ctx, DGM_STATUS_OOM, "%s: %s: out of host memory", fn, path);
    uint64_t data_bytes = 0;
    st = build_header(ctx, path, tensors, n_tensors, meta_keys, meta_values, n_meta,
                                 root, &data_bytes);
    char *json = NULL;
    if (st == DGM_STATUS_OK) {
        json = json_dumps(root, JSON_COMPACT);
        if (!json) st = dgm_set_error(ctx, DGM_STATUS_OOM, "%s: %s: out of host memory", fn, path);
    }
    json_decref(root);
    if (st != DGM_STATUS_OK) return st;

    const size_t jlen = strlen(json);
    const size_t hlen = (jlen + 7) / 8 * 8; /* data 8-byte aligned: 8 + hlen */
    if (hlen > ST_MAX_HEADER) {
        free(json);
        return INVALID(ctx, "%s: %s: the header would be %zu bytes, over the format's %llu", fn,
                       path, hlen, ST_MAX_HEADER);
    }
    unsigned char prefix[8];
    for (int i = 0; i < 8; i++) prefix[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    static const char spaces[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};

    dgm_atomic_file af;
    st = dgm_atomic_file_open(ctx, path, &af);
    if (st == DGM_STATUS_OK) st = dgm_atomic_file_write(ctx, &af, prefix, sizeof prefix);
    if (st == DGM_STATUS_OK) st = dgm_atomic_file_write(ctx, &af, json, jlen);
    if (st == DGM_STATUS_OK) st = dgm_atomic_file_write(ctx, &af, spaces, hlen - jlen);
    free(json);
    for (int i = 0; st == DGM_STATUS_OK && i < n_tensors; i++) {
        const dgm_st_tensor *t = &tensors[i];
        size_t numel = 1;
        for (int d = 0; d < t->ndim; d++) numel *= (size_t)t->shape[d];
        st = dgm_io_write_f32le(ctx, &af, t->data, numel);
    }
    if (st != DGM_STATUS_OK) {
        dgm_atomic_file_abort(&af);
        return st;
    }
    return dgm_atomic_file_commit(ctx, &af);
}
