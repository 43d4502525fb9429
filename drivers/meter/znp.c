/* znp.c - TI Z-Stack MT frames over UART (SOF 0xFE, len, cmd0, cmd1, data, FCS = XOR of len..data):
 * one candidate frame at a time for the stream decoder, AF_INCOMING_MSG / _EXT parsing (the ZCL
 * payload is located from its `len` field; Z-Stack 3.x appends MacSrcAddr + radius after it),
 * and the encoder for requests (AF_DATA_REQUEST, ZDO address requests). */
#include <string.h>

#include "zigbee.h"

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

int znp_frame_parse(const uint8_t *p, size_t len, struct znp_frame *f)
{
    memset(f, 0, sizeof *f);
    if (len < 2 || len - 2 > ZNP_LEN_MAX)
        return -1;
    f->cmd0 = p[0];
    f->cmd1 = p[1];
    f->data = p + 2;
    f->data_length = (uint8_t)(len - 2);
    f->skip = true;
    unsigned type = p[0] >> 5;
    /* A ZNP sends only asynchronous requests and synchronous responses to its host; anything
     * else is corrupt data that passed the FCS by chance. */
    if (type != ZNP_TYPE_AREQ && type != ZNP_TYPE_SRSP)
        return -1;
    if (p[0] != ZNP_CMD0(ZNP_TYPE_AREQ, ZNP_SUBSYS_AF))
        return 0;
    const uint8_t *d = f->data;
    size_t dl = f->data_length;
    size_t hdr;
    if (p[1] == ZNP_AF_INCOMING_MSG) {
        hdr = ZNP_AF_INCOMING_HDR;
        if (dl < hdr)
            return -1;
        f->group_id = le16(d);
        f->cluster_id = le16(d + 2);
        f->has_src16 = true;
        f->src16 = le16(d + 4);
        f->src_endpoint = d[6];
        f->dst_endpoint = d[7];
        f->was_broadcast = d[8];
        f->link_quality = d[9];
        f->security_use = d[10];
        f->timestamp = le32(d + 11);
        f->trans_seq = d[15];
        f->len = d[16];
    } else if (p[1] == ZNP_AF_INCOMING_MSG_EXT) {
        hdr = ZNP_AF_INCOMING_EXT_HDR;
        if (dl < hdr)
            return -1;
        f->ext = true;
        f->group_id = le16(d);
        f->cluster_id = le16(d + 2);
        f->src_addr_mode = d[4];
        if (f->src_addr_mode == 3) {
            f->has_src64 = true;
            f->src64 = le64(d + 5);
        } else {
            f->has_src16 = true;
            f->src16 = le16(d + 5);
        }
        f->src_endpoint = d[13];
        f->src_pan_id = le16(d + 14);
        f->dst_endpoint = d[16];
        f->was_broadcast = d[17];
        f->link_quality = d[18];
        f->security_use = d[19];
        f->timestamp = le32(d + 20);
        f->trans_seq = d[24];
        f->len = le16(d + 25);
    } else {
        return 0;
    }
    if (hdr + f->len > dl)
        return -1;
    f->incoming = true;
    f->skip = false;
    f->payload = d + hdr;
    f->trailer = d + hdr + f->len;
    f->trailer_len = dl - hdr - f->len;
    return 0;
}

void znp_try_frame(const uint8_t *buf, size_t i, size_t end, bool requests, struct zb_try *t)
{
    t->kind = ZB_TRY_MORE;
    if (end - i < 2)
        return;
    size_t len = buf[i + 1];
    if (len > ZNP_LEN_MAX) {
        t->kind = ZB_TRY_REJECT;
        t->reason = ZB_REJECT_LENGTH;
        t->next = i + 1;
        return;
    }
    if (end - i < len + 5)
        return;
    uint8_t x = 0;
    for (size_t k = i + 1; k < i + 5 + len; k++)
        x ^= buf[k];
    struct znp_frame f;
    if (x != 0 || (!requests && znp_frame_parse(buf + i + 2, len + 2, &f) < 0)) {
        t->kind = ZB_TRY_REJECT;
        t->reason = x != 0 ? ZB_REJECT_CHECKSUM : ZB_REJECT_FORMAT;
        t->next = i + 1;
        return;
    }
    t->kind = ZB_TRY_FRAME;
    t->data = buf + i + 2;
    t->len = len + 2;
    t->next = i + 5 + len;
}

size_t znp_frame_build(uint8_t *out, size_t cap, uint8_t cmd0, uint8_t cmd1, const uint8_t *data,
                       size_t len)
{
    if (len > ZNP_LEN_MAX || cap < len + 5)
        return 0;
    out[0] = ZNP_SOF;
    out[1] = (uint8_t)len;
    out[2] = cmd0;
    out[3] = cmd1;
    if (len)
        memcpy(out + 4, data, len);
    uint8_t x = 0;
    for (size_t k = 1; k < len + 4; k++)
        x ^= out[k];
    out[len + 4] = x;
    return len + 5;
}

const char *znp_type_name(uint8_t cmd0)
{
    static const char *const names[] = { "POLL", "SREQ", "AREQ", "SRSP" };
    unsigned t = cmd0 >> 5;
    return t < 4 ? names[t] : NULL;
}

const char *znp_subsystem_name(uint8_t cmd0)
{
    static const char *const names[] = { "RESERVED", "SYS", "MAC", "NWK", "AF", "ZDO",
                                         "SAPI", "UTIL", "DEBUG", "APP", NULL, NULL,
                                         NULL, NULL, NULL, "APP_CNF", NULL, NULL,
                                         NULL, NULL, NULL, "GREENPOWER" };
    unsigned s = cmd0 & 0x1F;
    return s < sizeof names / sizeof names[0] ? names[s] : NULL;
}

const char *znp_command_name(uint8_t cmd0, uint8_t cmd1)
{
    unsigned type = cmd0 >> 5, sub = cmd0 & 0x1F;
    if (type == ZNP_TYPE_AREQ && sub == ZNP_SUBSYS_AF) {
        switch (cmd1) {
        case ZNP_AF_DATA_CONFIRM:
            return "dataConfirm";
        case ZNP_AF_INCOMING_MSG:
            return "incomingMsg";
        case ZNP_AF_INCOMING_MSG_EXT:
            return "incomingMsgExt";
        default:
            return NULL;
        }
    }
    if (type == ZNP_TYPE_AREQ && sub == ZNP_SUBSYS_SYS && cmd1 == ZNP_SYS_RESET_IND)
        return "resetInd";
    if (type == ZNP_TYPE_AREQ && sub == ZNP_SUBSYS_ZDO) {
        switch (cmd1) {
        case ZNP_ZDO_STATE_CHANGE_IND:
            return "stateChangeInd";
        case ZNP_ZDO_END_DEVICE_ANNCE_IND:
            return "endDeviceAnnceInd";
        case ZNP_ZDO_NWK_ADDR_RSP:
            return "nwkAddrRsp";
        case ZNP_ZDO_IEEE_ADDR_RSP:
            return "ieeeAddrRsp";
        default:
            return NULL;
        }
    }
    if (type == ZNP_TYPE_SRSP && sub == ZNP_SUBSYS_AF && cmd1 == ZNP_AF_DATA_REQUEST)
        return "dataRequest";
    return NULL;
}
