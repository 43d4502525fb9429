/* zb_stream.c - the resynchronising stream decoder shared by XBee AP=1/AP=2 and ZNP: buffers
 * bytes from any number of reads, finds start bytes, and for each candidate emits a frame or a
 * rejection. A rejected candidate is rescanned from the byte after its start byte (never skipped
 * by its claimed length), so a false start cannot swallow the real frame behind it. */
#include <string.h>

#include "zigbee.h"

const char *zb_reject_name(enum zb_reject r)
{
    switch (r) {
    case ZB_REJECT_CHECKSUM:
        return "checksum";
    case ZB_REJECT_TRUNCATED:
        return "truncated";
    case ZB_REJECT_LENGTH:
        return "length";
    case ZB_REJECT_LENGTH_OVERRUN:
        return "length_overrun";
    case ZB_REJECT_FORMAT:
        return "format";
    case ZB_REJECT__COUNT:
        break;
    }
    return "?";
}

void zb_stream_init(struct zb_stream *s, enum zb_proto proto)
{
    memset(s, 0, sizeof *s);
    s->proto = proto;
}

static uint8_t start_byte(const struct zb_stream *s)
{
    return s->proto == ZB_PROTO_ZNP ? ZNP_SOF : XBEE_START;
}

static void try_at(const struct zb_stream *s, size_t i, uint8_t *scratch, struct zb_try *t)
{
    switch (s->proto) {
    case ZB_PROTO_XBEE1:
        xbee_try_frame(s->buf, i, s->end, 1, s->requests, scratch, t);
        return;
    case ZB_PROTO_XBEE2:
        xbee_try_frame(s->buf, i, s->end, 2, s->requests, scratch, t);
        return;
    case ZB_PROTO_ZNP:
        znp_try_frame(s->buf, i, s->end, s->requests, t);
        return;
    }
}

size_t zb_stream_feed(struct zb_stream *s, const uint8_t *p, size_t n)
{
    s->has_last = false;
    if (s->eof || n == 0)
        return 0;
    if (s->start > 0 && s->end + n > ZB_STREAM_BUF) {
        memmove(s->buf, s->buf + s->start, s->end - s->start);
        s->base += s->start;
        s->end -= s->start;
        s->start = 0;
    }
    size_t take = ZB_STREAM_BUF - s->end;
    if (take > n)
        take = n;
    memcpy(s->buf + s->end, p, take);
    s->end += take;
    return take;
}

void zb_stream_finish(struct zb_stream *s) { s->eof = true; }

/* At end of input, a candidate whose length runs past the data: is there a complete frame
 * after its start byte? Then the length was wrong (overrun); otherwise the frame was cut. */
static bool later_frame_exists(const struct zb_stream *s, size_t i)
{
    uint8_t scratch[sizeof s->frame];
    uint8_t sb = start_byte(s);
    for (size_t j = i + 1; j < s->end; j++) {
        if (s->buf[j] != sb)
            continue;
        struct zb_try t;
        try_at(s, j, scratch, &t);
        if (t.kind == ZB_TRY_FRAME)
            return true;
    }
    return false;
}

static int emit_reject(struct zb_stream *s, struct zb_event *ev, size_t at, enum zb_reject why,
                       size_t next)
{
    ev->kind = ZB_EVENT_REJECT;
    ev->offset = s->base + at;
    ev->reason = why;
    ev->data = NULL;
    ev->len = 0;
    s->counts.rejected[why]++;
    s->counts.resyncs++;
    s->start = next;
    return 1;
}

int zb_stream_next(struct zb_stream *s, struct zb_event *ev)
{
    s->has_last = false;
    uint8_t sb = start_byte(s);
    while (s->start < s->end) {
        if (s->buf[s->start] != sb) {
            const uint8_t *p = memchr(s->buf + s->start, sb, s->end - s->start);
            size_t skip = p ? (size_t)(p - (s->buf + s->start)) : s->end - s->start;
            s->counts.garbage_bytes += skip;
            if (!s->in_garbage) {
                s->in_garbage = true;
                s->counts.resyncs++;
            }
            s->start += skip;
            continue;
        }
        struct zb_try t;
        try_at(s, s->start, s->frame, &t);
        switch (t.kind) {
        case ZB_TRY_MORE:
            if (!s->eof)
                return 0;
            if (later_frame_exists(s, s->start))
                return emit_reject(s, ev, s->start, ZB_REJECT_LENGTH_OVERRUN, s->start + 1);
            return emit_reject(s, ev, s->start, ZB_REJECT_TRUNCATED, s->end);
        case ZB_TRY_REJECT:
            return emit_reject(s, ev, s->start, t.reason, t.next);
        case ZB_TRY_FRAME:
            ev->kind = ZB_EVENT_FRAME;
            ev->offset = s->base + s->start;
            ev->data = t.data;
            ev->len = t.len;
            s->has_last = true;
            s->last_start = s->start;
            s->start = t.next;
            s->in_garbage = false;
            s->counts.frames++;
            return 1;
        }
    }
    return 0;
}

void zb_stream_reject_last(struct zb_stream *s)
{
    if (!s->has_last)
        return;
    s->has_last = false;
    s->start = s->last_start + 1;
    s->counts.frames--;
    s->counts.rejected[ZB_REJECT_FORMAT]++;
    s->counts.resyncs++;
}
