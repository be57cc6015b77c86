/* Atomic file replacement and whole-file reads; see atomic_file.h. */
#define _POSIX_C_SOURCE 200809L

#include "io/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "core/internal.h"

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static void release(dgm_atomic_file *af)
{
    if (af->fp) fclose(af->fp);
    free(af->path);
    free(af->tmp_path);
    af->fp = NULL;
    af->path = af->tmp_path = NULL;
}

dgm_status dgm_atomic_file_open(dgm_ctx *ctx, const char *path, dgm_atomic_file *af)
{
    memset(af, 0, sizeof *af);
    if (!path || !*path) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "empty output path");
    size_t n = strlen(path) + 16;
    af->path = dup_str(path);
    af->tmp_path = malloc(n);
    if (!af->path || !af->tmp_path) {
        release(af);
        return dgm_set_error(ctx, DGM_STATUS_OOM, "out of host memory");
    }
    snprintf(af->tmp_path, n, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(af->tmp_path);
    if (fd < 0) {
        dgm_status st = dgm_set_error(ctx, DGM_STATUS_IO_ERROR, "cannot create a file beside %s: %s",
                                      path, strerror(errno));
        free(af->tmp_path);
        af->tmp_path = NULL;
        release(af);
        return st;
    }
    fchmod(fd, 0644); /* mkstemp makes 0600; a checkpoint is an ordinary file */
    af->fp = fdopen(fd, "wb");
    if (!af->fp) {
        close(fd);
        dgm_atomic_file_abort(af);
        return dgm_set_error(ctx, DGM_STATUS_IO_ERROR, "cannot open %s", path);
    }
    return DGM_STATUS_OK;
}

dgm_status dgm_atomic_file_write(dgm_ctx *ctx, dgm_atomic_file *af, const void *data, size_t len)
{
    if (len && fwrite(data, 1, len, af->fp) != len)
        return dgm_set_error(ctx, DGM_STATUS_IO_ERROR, "writing %s failed: %s", af->path,
                             strerror(errno));
    return DGM_STATUS_OK;
}

void dgm_atomic_file_abort(dgm_atomic_file *af)
{
    if (!af) return;
    if (af->fp) {
        fclose(af->fp);
        af->fp = NULL;
    }
    if (af->tmp_path) unlink(af->tmp_path);
    release(af);
}

dgm_status dgm_atomic_file_commit(dgm_ctx *ctx, dgm_atomic_file *af)
{
    const char *step = NULL;
    int err = 0;
    if (fflush(af->fp) != 0) step = "flush";
    else if (fsync(fileno(af->fp)) != 0) step = "fsync";
    if (step) err = errno;
    if (!step) {
        int rc = fclose(af->fp);
        af->fp = NULL;
        if (rc != 0) {
            step = "close";
            err = errno;
        }
    }
    if (!step && rename(af->tmp_path, af->path) != 0) {
        step = "rename";
        err = errno;
    }
    if (step) {
        dgm_status st = dgm_set_error(ctx, DGM_STATUS_IO_ERROR,
                                      "writing %s failed at %s: %s (the previous file is intact)",
                                      af->path, step, strerror(err));
        dgm_atomic_file_abort(af);
        return st;
    }
    /* The rename is durable only once the folder is synced. */
    char *dir_copy = dup_str(af->path);
    if (dir_copy) {
        int dfd = open(dirname(dir_copy), O_RDONLY | O_DIRECTORY);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dir_copy);
    }
    release(af);
    return DGM_STATUS_OK;
}

dgm_status dgm_check_regular_file(dgm_ctx *ctx, const char *path)
{
    struct stat sb;
    if (stat(path, &sb)) return dgm_set_error(ctx, DGM_STATUS_IO_ERROR, "cannot open %s: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return dgm_set_error(ctx, DGM_STATUS_IO_ERROR,
                             "%s is not a regular file (a %s): dgm reads data and checkpoints from files", path,
                             S_ISDIR(sb.st_mode) ? "folder" : S_ISFIFO(sb.st_mode) ? "FIFO" : "device or socket");
    return DGM_STATUS_OK;
}

dgm_status dgm_read_file(dgm_ctx *ctx, const char *path, size_t max_len, unsigned char **data,
                         size_t *len)
{
    return dgm_read_file_checked(ctx, path, max_len, NULL, data, len);
}

dgm_status dgm_read_file_checked(dgm_ctx *ctx, const char *path, size_t max_len, dgm_head_check check,
                                 unsigned char **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    if (!path) return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT, "path is NULL");
    /* Before opening: a FIFO would block the open, a device never end the read. */
    DGM_TRY(dgm_check_regular_file(ctx, path));
    FILE *f = fopen(path, "rb");
    if (!f) return dgm_set_error(ctx, DGM_STATUS_IO_ERROR, "cannot open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    dgm_status head = DGM_STATUS_OK;
    while (buf) {
        if (n == cap && check && cap == 1 << 16 && (head = check(ctx, path, buf, n)) != DGM_STATUS_OK) break;
        if (n == cap) {
            if (cap > max_len) break;
            unsigned char *b = realloc(buf, cap * 2);
            if (!b) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int read_err = ferror(f);
    fclose(f);
    if (!buf) return dgm_set_error(ctx, DGM_STATUS_OOM, "out of memory reading %s", path);
    if (read_err) {
        free(buf);
        return dgm_set_error(ctx, DGM_STATUS_IO_ERROR, "reading %s failed", path);
    }
    /* A file shorter than the first chunk is judged whole. */
    if (head == DGM_STATUS_OK && check && n < (size_t)1 << 16) head = check(ctx, path, buf, n);
    if (head != DGM_STATUS_OK) {
        free(buf);
        return head;
    }
    if (n > max_len) {
        free(buf);
        return dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT, "%s is larger than %zu bytes", path, max_len);
    }
    *data = buf;
    *len = n;
    return DGM_STATUS_OK;
}
