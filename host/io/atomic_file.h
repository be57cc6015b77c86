/* Atomic file replacement: write to a temporary file in the target's folder, flush and
 * fsync it, rename it over the target, fsync the folder. A crash or a full disk at any
 * point leaves either the old file or the new one, never a torn one. */
#ifndef DGM_ATOMIC_FILE_H
#define DGM_ATOMIC_FILE_H

#include <stdio.h>

#include "dgm/core.h"

typedef struct dgm_atomic_file {
    FILE *fp;          /* write through this */
    char *path;        /* the target */
    char *tmp_path;    /* the temporary, beside it */
} dgm_atomic_file;

/* Opens a temporary file beside `path` for writing. */
dgm_status dgm_atomic_file_open(dgm_ctx *ctx, const char *path, dgm_atomic_file *af);
/* Flushes, fsyncs and renames over the target; on any failure removes the temporary and
 * leaves the target untouched. Always releases af. */
dgm_status dgm_atomic_file_commit(dgm_ctx *ctx, dgm_atomic_file *af);
/* Removes the temporary; the target is untouched. NULL-safe, idempotent. */
void dgm_atomic_file_abort(dgm_atomic_file *af);

/* Writes `len` bytes; IO_ERROR naming the path on failure (the caller aborts). */
dgm_status dgm_atomic_file_write(dgm_ctx *ctx, dgm_atomic_file *af, const void *data, size_t len);

/* OK when path names a regular file (after symlinks); IO_ERROR when it does not exist or
 * is a folder, FIFO, device or socket (never opened: a FIFO blocks). */
dgm_status dgm_check_regular_file(dgm_ctx *ctx, const char *path);
/* Reads a regular file (dgm_check_regular_file first) whole into malloc'd memory (*data,
 * *len); at most max_len bytes, else BAD_FORMAT. IO_ERROR naming the path when it cannot
 * be read. */
dgm_status dgm_read_file(dgm_ctx *ctx, const char *path, size_t max_len, unsigned char **data,
                         size_t *len);

/* Judges a file's first n bytes (n: 64 KiB, or the whole file when it is shorter):
 * BAD_FORMAT, with a message naming path, when they cannot begin the format. */
typedef dgm_status (*dgm_head_check)(dgm_ctx *ctx, const char *path, const unsigned char *head, size_t n);
/* dgm_read_file that calls `check` (NULL: none) on the first bytes before reading on, so
 * a large file of another format is refused at its first bytes, not once read whole. */
dgm_status dgm_read_file_checked(dgm_ctx *ctx, const char *path, size_t max_len, dgm_head_check check,
                                 unsigned char **data, size_t *len);

#endif
