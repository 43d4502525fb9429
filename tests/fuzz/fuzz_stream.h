/* fuzz_stream.h - shared by fuzz_xbee.c and fuzz_znp.c: decode one input through the stream
 * decoder whole and cut into reads, and require the same events both ways (the decoder's
 * promise that chunking never changes the result), turning every frame into JSON. */
#ifndef JOULE_FUZZ_STREAM_H
#define JOULE_FUZZ_STREAM_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "meter/zigbee.h"

#define FUZZ_MAX_EVENTS 4096

struct fuzz_event {
    int kind;
    uint64_t offset;
    int reason;
    size_t len;
    uint32_t sum;
};

static uint32_t fuzz_sum(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static size_t fuzz_run(enum zb_proto proto, const uint8_t *p, size_t n, size_t chunk,
                       struct fuzz_event *ev, bool to_json)
{
    struct zb_stream *s = malloc(sizeof *s);
    if (!s)
        abort();
    zb_stream_init(s, proto);
    size_t k = 0, off = 0;
    bool done = false;
    while (!done) {
        if (off < n) {
            size_t want = chunk && chunk < n - off ? chunk : n - off;
            off += zb_stream_feed(s, p + off, want);
        } else {
            zb_stream_finish(s);
            done = true;
        }
        struct zb_event e;
        while (zb_stream_next(s, &e) == 1) {
            if (e.kind == ZB_EVENT_FRAME && to_json) {
                bson_t doc = BSON_INITIALIZER;
                zb_frame_to_bson(proto, e.data, e.len, &doc);
                if (!bson_validate(&doc, BSON_VALIDATE_UTF8, NULL))
                    abort();
                bson_destroy(&doc);
            }
            if (e.offset >= n || (e.kind == ZB_EVENT_FRAME && e.len > n))
                abort(); /* events must point inside the input */
            if (k < FUZZ_MAX_EVENTS)
                ev[k++] = (struct fuzz_event){ e.kind, e.offset, (int)e.reason, e.len,
                                               e.kind == ZB_EVENT_FRAME ? fuzz_sum(e.data, e.len)
                                                                        : 0 };
        }
    }
    free(s);
    return k;
}

static void fuzz_stream_check(enum zb_proto proto, const uint8_t *p, size_t n, size_t chunk)
{
    static struct fuzz_event a[FUZZ_MAX_EVENTS], b[FUZZ_MAX_EVENTS];
    size_t na = fuzz_run(proto, p, n, 0, a, true);
    size_t nb = fuzz_run(proto, p, n, chunk, b, false);
    if (na != nb)
        abort(); /* chunking changed the decoded result */
    for (size_t i = 0; i < na; i++)
        if (a[i].kind != b[i].kind || a[i].offset != b[i].offset || a[i].reason != b[i].reason ||
            a[i].len != b[i].len || a[i].sum != b[i].sum)
            abort();
}

#endif
