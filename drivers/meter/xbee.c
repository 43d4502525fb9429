/* xbee.c - Digi XBee API frames, AP=1 (plain) and AP=2 (escaped): one candidate frame at a
 * time for the stream decoder, frame-data parsing (0x91 Explicit RX Indicator carries the ZCL
 * payload; 0x90, 0x8A, 0x88 and other module->host types are skipped), and the encoders the
 * driver and meter-sim use (0x11 Explicit Addressing Command, any frame wrapped/escaped). */
#include <string.h>

#include "zigbee.h"

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

int xbee_frame_parse(const uint8_t *d, size_t len, int api_mode, struct xbee_frame *f)
{
    memset(f, 0, sizeof *f);
    if (len < 1)
        return -1;
    f->api_mode = api_mode;
    f->frame_type = d[0];
    f->skip = true;
    switch (d[0]) {
    case XBEE_RX_EXPLICIT:
        if (len < XBEE_RX_EXPLICIT_HDR)
            return -1;
        f->src64 = be64(d + 1);
        f->src16 = be16(d + 9);
        f->src_endpoint = d[11];
        f->dst_endpoint = d[12];
        f->cluster_id = be16(d + 13);
        f->profile_id = be16(d + 15);
        f->receive_options = d[17];
        f->payload = d + XBEE_RX_EXPLICIT_HDR;
        f->payload_len = len - XBEE_RX_EXPLICIT_HDR;
        f->skip = false;
        return 0;
    case XBEE_RX_PACKET:
        if (len < 12)
            return -1;
        f->src64 = be64(d + 1);
        f->src16 = be16(d + 9);
        f->receive_options = d[11];
        f->payload = d + 12;
        f->payload_len = len - 12;
        return 0;
    case XBEE_MODEM_STATUS:
        if (len < 2)
            return -1;
        f->modem_status = d[1];
        return 0;
    case XBEE_AT_RESPONSE:
        if (len < 5)
            return -1;
        f->frame_id = d[1];
        f->at_command[0] = (char)d[2];
        f->at_command[1] = (char)d[3];
        f->at_command[2] = '\0';
        f->command_status = d[4];
        f->command_data = d + 5;
        f->command_data_len = len - 5;
        return 0;
    default:
        /* Every frame a module sends to its host has bit 7 set (0x80..0xFF); a lower type is a
         * host->module request, so a candidate with one is corrupt data that passed the
         * checksum by chance. */
        return d[0] & 0x80 ? 0 : -1;
    }
}

static void reject(struct zb_try *t, enum zb_reject why, size_t next)
{
    t->kind = ZB_TRY_REJECT;
    t->reason = why;
    t->next = next;
}

static void finish_candidate(const uint8_t *data, size_t len, uint8_t checksum, int api_mode,
                             bool requests, size_t i, size_t next, struct zb_try *t)
{
    unsigned sum = checksum;
    for (size_t k = 0; k < len; k++)
        sum += data[k];
    if ((sum & 0xFF) != 0xFF) {
        reject(t, ZB_REJECT_CHECKSUM, i + 1);
        return;
    }
    struct xbee_frame f;
    if (!requests && xbee_frame_parse(data, len, api_mode, &f) < 0) {
        reject(t, ZB_REJECT_FORMAT, i + 1);
        return;
    }
    t->kind = ZB_TRY_FRAME;
    t->data = data;
    t->len = len;
    t->next = next;
}

void xbee_try_frame(const uint8_t *buf, size_t i, size_t end, int api_mode, bool requests,
                    uint8_t *scratch, struct zb_try *t)
{
    t->kind = ZB_TRY_MORE;
    if (api_mode != 2) {
        if (end - i < 3)
            return;
        size_t len = be16(buf + i + 1);
        if (len == 0 || len > XBEE_LEN_MAX) {
            reject(t, ZB_REJECT_LENGTH, i + 1);
            return;
        }
        if (end - i < len + 4)
            return;
        finish_candidate(buf + i + 3, len, buf[i + 3 + len], api_mode, requests, i, i + 4 + len,
                         t);
        return;
    }
    /* AP=2: unescape as we go; a raw 0x7E always starts a new frame. */
    uint8_t hdr[2];
    size_t need = 2, k = 0, len = 0, j = i + 1;
    while (k < need) {
        if (j >= end)
            return;
        uint8_t b = buf[j];
        if (b == XBEE_START) {
            reject(t, ZB_REJECT_TRUNCATED, j);
            return;
        }
        if (b == XBEE_ESCAPE) {
            if (j + 1 >= end)
                return;
            if (buf[j + 1] == XBEE_START) {
                reject(t, ZB_REJECT_TRUNCATED, j + 1);
                return;
            }
            b = buf[j + 1] ^ 0x20;
            j += 2;
        } else {
            j++;
        }
        if (k < 2)
            hdr[k] = b;
        else
            scratch[k - 2] = b;
        k++;
        if (k == 2) {
            len = be16(hdr);
            if (len == 0 || len > XBEE_LEN_MAX) {
                reject(t, ZB_REJECT_LENGTH, i + 1);
                return;
            }
            need = 2 + len + 1;
        }
    }
    finish_candidate(scratch, len, scratch[len], api_mode, requests, i, j, t);
}

static size_t put(uint8_t *out, size_t cap, size_t o, uint8_t b, int api_mode)
{
    if (o == 0)
        return 0;
    if (api_mode == 2 &&
        (b == XBEE_START || b == XBEE_ESCAPE || b == XBEE_XON || b == XBEE_XOFF)) {
        if (o + 2 > cap)
            return 0;
        out[o] = XBEE_ESCAPE;
        out[o + 1] = b ^ 0x20;
        return o + 2;
    }
    if (o + 1 > cap)
        return 0;
    out[o] = b;
    return o + 1;
}

size_t xbee_frame_build(uint8_t *out, size_t cap, int api_mode, const uint8_t *data, size_t len)
{
    if (cap < 1 || len == 0 || len > XBEE_LEN_MAX)
        return 0;
    out[0] = XBEE_START;
    size_t o = 1;
    o = put(out, cap, o, (uint8_t)(len >> 8), api_mode);
    o = put(out, cap, o, (uint8_t)(len & 0xFF), api_mode);
    unsigned sum = 0;
    for (size_t k = 0; k < len; k++) {
        sum += data[k];
        o = put(out, cap, o, data[k], api_mode);
    }
    return put(out, cap, o, (uint8_t)(0xFF - (sum & 0xFF)), api_mode);
}

size_t xbee_explicit_tx(uint8_t *out, size_t cap, uint8_t frame_id, uint64_t dst64,
                        uint16_t dst16, uint8_t src_ep, uint8_t dst_ep, uint16_t cluster,
                        uint16_t profile, const uint8_t *payload, size_t n)
{
    const size_t hdr = 20;
    if (cap < hdr + n)
        return 0;
    out[0] = XBEE_TX_EXPLICIT;
    out[1] = frame_id;
    for (int k = 0; k < 8; k++)
        out[2 + k] = (uint8_t)(dst64 >> (56 - 8 * k));
    out[10] = (uint8_t)(dst16 >> 8);
    out[11] = (uint8_t)dst16;
    out[12] = src_ep;
    out[13] = dst_ep;
    out[14] = (uint8_t)(cluster >> 8);
    out[15] = (uint8_t)cluster;
    out[16] = (uint8_t)(profile >> 8);
    out[17] = (uint8_t)profile;
    out[18] = 0; /* broadcast radius: maximum hops */
    out[19] = 0; /* transmit options */
    if (n)
        memcpy(out + hdr, payload, n);
    return hdr + n;
}
