/* CSV output: data [rows, cols], one row per line ("\n"), values separated by ",", no
 * header line. Each value in the shortest "%.{1..9}g" form that strtof reads back to the
 * same float ("%.9g" always does), "nan", "inf" or "-inf" for the non-finite ones; always
 * with a '.' decimal point, whatever the caller's locale. rows == 0 gives an empty file. */
#define _POSIX_C_SOURCE 200809L

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "dgm/io.h"
#include "io/io_util.h"

/* Writes v into buf (at least 32 bytes) and returns its length. */
static int format_value(char *buf, size_t cap, float v)
{
    if (isnan(v)) return snprintf(buf, cap, "nan");
    if (isinf(v)) return snprintf(buf, cap, v < 0 ? "-inf" : "inf");
    int len = 0;
    for (int digits = 1; digits <= 9; digits++) {
        len = snprintf(buf, cap, "%.*g", digits, (double)v);
        if (strtof(buf, NULL) == v) break;
    }
    return len;
}

dgm_status dgm_save_csv(dgm_ctx *ctx, const char *path, const float *data, int64_t rows,
                        int64_t cols)
{
    static const char *fn = "dgm_save_csv";
    dgm_status ctx_st = dgm_check_ctx(ctx);
    if (ctx_st != DGM_STATUS_OK) return ctx_st;
    if (!path || !*path)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: path is NULL or empty", fn);
    if (rows < 0 || cols < 1 || (rows > 0 && !data))
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "%s: %s: data [%lld, %lld] must be non-NULL with rows >= 0 and "
                             "cols >= 1",
                             fn, path, (long long)rows, (long long)cols);
    if (rows > 0 && (uint64_t)cols > SIZE_MAX / (uint64_t)rows)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "%s: %s: [%lld, %lld] is too large",
                             fn, path, (long long)rows, (long long)cols);

    /* snprintf and strtof follow LC_NUMERIC: use "C" on this thread while writing. */
    locale_t c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (c_locale == (locale_t)0)
        return dgm_set_error(ctx, DGM_STATUS_OOM, "%s: %s: cannot create the C locale", fn, path);
    locale_t previous = uselocale(c_locale);

    dgm_atomic_file af;
    dgm_status st = dgm_atomic_file_open(ctx, path, &af);
    char line[4096];
    size_t used = 0;
    for (int64_t r = 0; st == DGM_STATUS_OK && r < rows; r++) {
        const float *row = data + (size_t)r * (size_t)cols; /* [cols] */
        for (int64_t c = 0; st == DGM_STATUS_OK && c < cols; c++) {
            if (sizeof line - used < 40) {
                st = dgm_atomic_file_write(ctx, &af, line, used);
                used = 0;
            }
            if (c > 0) line[used++] = ',';
            used += (size_t)format_value(line + used, sizeof line - used, row[c]);
        }
        line[used++] = '\n';
    }
    if (st == DGM_STATUS_OK && used > 0) st = dgm_atomic_file_write(ctx, &af, line, used);

    uselocale(previous);
    freelocale(c_locale);
    if (st != DGM_STATUS_OK) {
        dgm_atomic_file_abort(&af); /* a no-op when the open failed */
        return st;
    }
    return dgm_atomic_file_commit(ctx, &af);
}
