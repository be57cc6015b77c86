/* Inflating gzip files in memory (zlib), with a cap on the inflated size so that a small
 * hostile file cannot claim gigabytes; concatenated members (what `cat a.gz b.gz` makes,
 * and what gzip -d accepts) are inflated one after another. */
#include <limits.h>
#include <stdlib.h>
#include <zlib.h>

#include "core/internal.h"
#include "data/data_internal.h"

int dgm_gzip_detect(const unsigned char *buf, size_t len)
{
    return len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b;
}

/* Doubles *buf's capacity, to at most max_cap bytes; 0 on OOM. */
static int grow(unsigned char **buf, size_t *cap, size_t max_cap)
{
    size_t ncap = *cap < max_cap / 2 ? *cap * 2 : max_cap;
    unsigned char *b = realloc(*buf, ncap);
    if (!b) return 0;
    *buf = b;
    *cap = ncap;
    return 1;
}

dgm_status dgm_gzip_inflate(dgm_ctx *ctx, const char *name, const unsigned char *in, size_t len,
                            size_t max_out, unsigned char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    /* One byte of room beyond the cap tells "exactly max_out" from "more". */
    size_t room = max_out < SIZE_MAX ? max_out + 1 : max_out;
    z_stream zs = {0};
    /* 16 + MAX_WBITS: expect the gzip wrapper (header, CRC-32 and length are checked). */
    int zr = inflateInit2(&zs, 16 + MAX_WBITS);
    if (zr != Z_OK)
        return dgm_set_error(ctx, zr == Z_MEM_ERROR ? DGM_STATUS_OOM : DGM_STATUS_BACKEND_ERROR,
                             "%s: cannot start zlib inflate (%s)", name, zs.msg ? zs.msg : "?");
    /* A first guess of 4x the compressed size, never above the cap; the gzip trailer's
     * length field is not trusted for this. */
    size_t cap = len < room / 4 ? len * 4 : room;
    if (cap < 4096) cap = room < 4096 ? room : 4096;
    unsigned char *buf = malloc(cap);
    size_t used = 0, consumed = 0;
    dgm_status st = DGM_STATUS_OK;
    if (!buf) st = dgm_set_error(ctx, DGM_STATUS_OOM, "%s: out of memory inflating", name);
    while (st == DGM_STATUS_OK) {
        if (used == cap) {
            if (cap >= room) {
                st = dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                                   "%s: gzip data inflates to more than %zu bytes", name, max_out);
                break;
            }
            if (!grow(&buf, &cap, room)) {
                st = dgm_set_error(ctx, DGM_STATUS_OOM,
                                   "%s: out of memory inflating (%zu bytes so far)", name, used);
                break;
            }
        }
        /* zlib counts in uInt: feed and drain at most UINT_MAX bytes per call. */
        size_t in_left = len - consumed, out_left = cap - used;
        zs.next_in = (Bytef *)(in + consumed);
        zs.avail_in = in_left > UINT_MAX ? UINT_MAX : (uInt)in_left;
        zs.next_out = buf + used;
        zs.avail_out = out_left > UINT_MAX ? UINT_MAX : (uInt)out_left;
        uInt in_before = zs.avail_in, out_before = zs.avail_out;
        zr = inflate(&zs, Z_NO_FLUSH);
        consumed += in_before - zs.avail_in;
        used += out_before - zs.avail_out;
        if (zr == Z_STREAM_END) {
            /* Another member may follow; anything else after a member is garbage. */
            if (consumed == len) break;
            if (!dgm_gzip_detect(in + consumed, len - consumed)) {
                st = dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                                   "%s: %zu bytes of garbage after the gzip data", name,
                                   len - consumed);
                break;
            }
            inflateReset(&zs);
            continue;
        }
        if (zr == Z_OK) continue;
        if (zr == Z_BUF_ERROR && zs.avail_out == 0) continue; /* output full: grow */
        if (zr == Z_BUF_ERROR)
            st = dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                               "%s: truncated gzip data (ends after %zu bytes)", name, len);
        else if (zr == Z_MEM_ERROR)
            st = dgm_set_error(ctx, DGM_STATUS_OOM, "%s: out of memory inflating", name);
        else
            st = dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT, "%s: corrupt gzip data (%s)", name,
                               zs.msg ? zs.msg : "zlib error");
    }
    inflateEnd(&zs);
    if (st == DGM_STATUS_OK && used > max_out)
        st = dgm_set_error(ctx, DGM_STATUS_BAD_FORMAT,
                           "%s: gzip data inflates to more than %zu bytes", name, max_out);
    if (st != DGM_STATUS_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    *out_len = used;
    return DGM_STATUS_OK;
}
