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
    case ZB_REJECT_OVERLAP:
        return "overlap";
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
    s->idle = false;
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

/* Status frames a coordinator sends, by type and exact size. */
static bool xbee_other_plausible(const struct xbee_frame *f, size_t len)
{
    switch (f->frame_type) {
    case XBEE_MODEM_STATUS:
        return len == 2;
    case 0x8B: /* Transmit Status */
        return len == 7;
    case XBEE_RX_PACKET:
        return len >= 12;
    case XBEE_AT_RESPONSE:
        for (int i = 0; i < 2; i++) {
            char c = f->at_command[i];
            if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '%'))
                return false;
        }
        return true;
    default:
        return false;
    }
}

static bool znp_other_plausible(const struct znp_frame *f)
{
    const uint8_t *d = f->data;
    size_t n = f->data_length;
    unsigned type = f->cmd0 >> 5, sub = f->cmd0 & 0x1F;
    if (type == ZNP_TYPE_SRSP)
        return (sub == ZNP_SUBSYS_AF || sub == ZNP_SUBSYS_ZDO) ? n == 1 : sub == ZNP_SUBSYS_SYS;
    if (sub == ZNP_SUBSYS_SYS)
        return f->cmd1 == ZNP_SYS_RESET_IND && n == 6;
    if (sub == ZNP_SUBSYS_AF)
        return f->cmd1 == ZNP_AF_DATA_CONFIRM && n == 3;
    if (sub != ZNP_SUBSYS_ZDO)
        return false;
    switch (f->cmd1) {
    case ZNP_ZDO_STATE_CHANGE_IND:
        return n == 1;
    case ZNP_ZDO_END_DEVICE_ANNCE_IND:
        return n == 13;
    case ZNP_ZDO_NWK_ADDR_RSP:
    case ZNP_ZDO_IEEE_ADDR_RSP:
        return n >= 13 && n == 13u + 2u * d[12];
    case 0xC4: /* source route indication */
        return n >= 3 && n == 3u + 2u * d[2];
    case 0xC9: /* leave indication */
        return n == 13;
    case 0xCA: /* trust center device indication */
        return n == 12;
    case 0xCB: /* permit join indication */
        return n == 1;
    default:
        return false;
    }
}

bool zb_frame_plausible(enum zb_proto proto, const uint8_t *data, size_t len)
{
    struct zcl_frame z;
    if (proto == ZB_PROTO_ZNP) {
        struct znp_frame f;
        if (znp_frame_parse(data, len, &f) < 0)
            return false;
        if (f.incoming)
            return zcl_decode(f.payload, f.len, f.cluster_id, &z) == 0;
        return znp_other_plausible(&f);
    }
    struct xbee_frame f;
    if (xbee_frame_parse(data, len, proto == ZB_PROTO_XBEE2 ? 2 : 1, &f) < 0)
        return false;
    if (f.frame_type == XBEE_RX_EXPLICIT)
        return zcl_decode(f.payload, f.payload_len, f.cluster_id, &z) == 0;
    return xbee_other_plausible(&f, len);
}

/* A candidate frame [i, next) passed its checksum. Does a start byte inside it begin a complete,
 * valid and plausible frame? Then the candidate is a cut frame (or garbage) plus the next frame,
 * and keeping it would swallow that frame. (For a real frame to hold one by chance, its payload
 * would need a start byte, a fitting length, a matching checksum and a plausible frame.)
 * 1: overlap, 0: none, -1: cannot tell yet (an inner candidate needs more bytes). AP=2 needs no
 * check: a raw 0x7E never sits inside a frame. */
static int overlaps_later_frame(const struct zb_stream *s, size_t i, size_t next)
{
    if (s->proto == ZB_PROTO_XBEE2)
        return 0;
    uint8_t sb = start_byte(s);
    int undecided = 0;
    for (size_t j = i + 1; j < next; j++) {
        if (s->buf[j] != sb)
            continue;
        struct zb_try t;
        try_at(s, j, NULL, &t);
        if (t.kind == ZB_TRY_FRAME && zb_frame_plausible(s->proto, t.data, t.len))
            return 1;
        if (t.kind == ZB_TRY_MORE)
            undecided = 1;
    }
    return undecided && !s->eof && !s->idle ? -1 : 0;
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
            if (s->idle && !s->eof && later_frame_exists(s, s->start))
                return emit_reject(s, ev, s->start, ZB_REJECT_LENGTH_OVERRUN, s->start + 1);
            if (!s->eof) {
                s->idle = false;
                return 0;
            }
            if (later_frame_exists(s, s->start))
                return emit_reject(s, ev, s->start, ZB_REJECT_LENGTH_OVERRUN, s->start + 1);
            return emit_reject(s, ev, s->start, ZB_REJECT_TRUNCATED, s->end);
        case ZB_TRY_REJECT:
            return emit_reject(s, ev, s->start, t.reason, t.next);
        case ZB_TRY_FRAME: {
            int ov = overlaps_later_frame(s, s->start, t.next);
            if (ov < 0) {
                s->idle = false;
                return 0;
            }
            if (ov > 0)
                return emit_reject(s, ev, s->start, ZB_REJECT_OVERLAP, s->start + 1);
            ev->kind = ZB_EVENT_FRAME;
            ev->reason = ZB_REJECT__COUNT; /* not a rejection */
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
    }
    s->idle = false;
    return 0;
}

void zb_stream_idle(struct zb_stream *s) { s->idle = true; }

bool zb_stream_pending(const struct zb_stream *s) { return s->start < s->end; }

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
