/* zcl.c - ZCL frames as a power meter sends them: Report Attributes and Read Attributes
 * Response (per-attribute status) for Electrical Measurement and Metering; other global
 * commands are decoded enough to be shown, and flagged `ignore`. Pure: bytes in, struct out. */
#include <string.h>

#include "zigbee.h"

size_t zcl_type_size(uint8_t type)
{
    if (type >= 0x08 && type <= 0x0F) /* data8 .. data64 */
        return (size_t)(type - 0x08 + 1);
    if (type >= 0x18 && type <= 0x1F) /* bitmap8 .. bitmap64 */
        return (size_t)(type - 0x18 + 1);
    if (type >= 0x20 && type <= 0x27) /* uint8 .. uint64 */
        return (size_t)(type - 0x20 + 1);
    if (type >= 0x28 && type <= 0x2F) /* int8 .. int64 */
        return (size_t)(type - 0x28 + 1);
    switch (type) {
    case 0x10: /* bool */
    case 0x30: /* enum8 */
        return 1;
    case 0x31: /* enum16 */
    case 0x38: /* semi-precision float */
    case 0xE8: /* cluster id */
    case 0xE9: /* attribute id */
        return 2;
    case 0x39: /* single float */
    case 0xE0: /* time of day */
    case 0xE1: /* date */
    case 0xE2: /* UTC time */
    case 0xEA: /* BACnet OID */
        return 4;
    case 0x3A: /* double */
    case 0xF0: /* IEEE address */
        return 8;
    case 0xF1: /* 128-bit security key */
        return 16;
    default:
        return 0;
    }
}

static bool type_is_integer(uint8_t t)
{
    return (t >= 0x08 && t <= 0x31) || (t >= 0xE0 && t <= 0xEA) || t == 0xF0;
}

static bool type_is_signed(uint8_t t) { return t >= 0x28 && t <= 0x2F; }

bool zcl_value_invalid(const struct zcl_attr *a)
{
    if (!a->has_value || !a->integer)
        return false;
    size_t n = zcl_type_size(a->type);
    if (n == 0 || n > 8)
        return false;
    if (type_is_signed(a->type))
        return (uint64_t)a->value == ~0ULL << (8 * n - 1);
    if ((a->type >= 0x20 && a->type <= 0x27) || a->type == 0x30 || a->type == 0x31) {
        uint64_t all = n == 8 ? UINT64_MAX : ((1ULL << (8 * n)) - 1);
        return (uint64_t)a->value == all;
    }
    return false;
}

/* Reads one value of `type` at p[*off]; advances *off. */
static int read_value(const uint8_t *p, size_t n, size_t *off, struct zcl_attr *a)
{
    size_t sz = zcl_type_size(a->type);
    size_t o = *off;
    if (sz == 0) {
        size_t hdr;
        size_t vlen;
        if (a->type == ZCL_TYPE_OCTSTR || a->type == ZCL_TYPE_CHARSTR) {
            if (o + 1 > n)
                return ZCL_ERR_TRUNCATED;
            hdr = 1;
            vlen = p[o] == 0xFF ? 0 : p[o]; /* 0xFF = invalid string, no bytes */
        } else if (a->type == 0x43 || a->type == 0x44) {
            if (o + 2 > n)
                return ZCL_ERR_TRUNCATED;
            hdr = 2;
            uint16_t l = (uint16_t)(p[o] | p[o + 1] << 8);
            vlen = l == 0xFFFF ? 0 : l;
        } else {
            return ZCL_ERR_TYPE;
        }
        if (o + hdr + vlen > n)
            return ZCL_ERR_TRUNCATED;
        a->integer = false;
        a->value_off = (uint16_t)(o + hdr);
        a->value_len = (uint16_t)vlen;
        a->has_value = true;
        *off = o + hdr + vlen;
        return 0;
    }
    if (o + sz > n)
        return ZCL_ERR_TRUNCATED;
    a->value_off = (uint16_t)o;
    a->value_len = (uint16_t)sz;
    a->has_value = true;
    a->integer = type_is_integer(a->type) && sz <= 8;
    if (a->integer) {
        uint64_t v = 0;
        for (size_t i = 0; i < sz; i++)
            v |= (uint64_t)p[o + i] << (8 * i);
        if (type_is_signed(a->type) && sz < 8 && (v >> (8 * sz - 1)) & 1)
            v |= ~0ULL << (8 * sz);
        a->value = (int64_t)v;
    }
    *off = o + sz;
    return 0;
}

static int decode_attrs(const uint8_t *p, size_t n, size_t off, bool with_status,
                        struct zcl_frame *f)
{
    while (off < n) {
        if (f->n_attrs == ZCL_MAX_ATTRS)
            return ZCL_ERR_TOO_MANY;
        struct zcl_attr *a = &f->attrs[f->n_attrs];
        memset(a, 0, sizeof *a);
        if (off + 2 > n)
            return ZCL_ERR_TRUNCATED;
        a->id = (uint16_t)(p[off] | p[off + 1] << 8);
        off += 2;
        if (with_status) {
            if (off + 1 > n)
                return ZCL_ERR_TRUNCATED;
            a->has_status = true;
            a->status = p[off++];
            if (a->status != ZCL_STATUS_SUCCESS) {
                f->n_attrs++;
                continue;
            }
        }
        if (off + 1 > n)
            return ZCL_ERR_TRUNCATED;
        a->type = p[off++];
        int rc = read_value(p, n, &off, a);
        if (rc < 0)
            return rc;
        f->n_attrs++;
    }
    return 0;
}

static int decode_config_rsp(const uint8_t *p, size_t n, size_t off, struct zcl_frame *f)
{
    if (n - off == 1) { /* all records succeeded: a single status byte */
        f->records[0] = (struct zcl_record){ .status = p[off] };
        f->n_records = 1;
        return 0;
    }
    while (off < n) {
        if (f->n_records == ZCL_MAX_RECORDS)
            return ZCL_ERR_TOO_MANY;
        if (off + 4 > n)
            return ZCL_ERR_TRUNCATED;
        f->records[f->n_records++] = (struct zcl_record){
            .status = p[off],
            .has_attr = true,
            .direction = p[off + 1],
            .attr_id = (uint16_t)(p[off + 2] | p[off + 3] << 8),
        };
        off += 4;
    }
    return 0;
}

int zcl_decode(const uint8_t *p, size_t n, uint16_t cluster_id, struct zcl_frame *f)
{
    f->cluster_id = cluster_id;
    f->n_attrs = 0;
    f->n_records = 0;
    f->has_default_rsp = false;
    f->ignore = true;
    f->manufacturer_code = 0;
    f->sequence = 0;
    f->command_id = 0;
    if (n < 1)
        return ZCL_ERR_SHORT;
    f->frame_control = p[0];
    size_t off = 1;
    if (f->frame_control & ZCL_FC_MANUFACTURER) {
        if (n < 5)
            return ZCL_ERR_SHORT;
        f->manufacturer_code = (uint16_t)(p[1] | p[2] << 8);
        off = 3;
    } else if (n < 3) {
        return ZCL_ERR_SHORT;
    }
    f->sequence = p[off];
    f->command_id = p[off + 1];
    off += 2;
    if (f->frame_control & ZCL_FC_CLUSTER_SPECIFIC)
        return 0; /* cluster-specific command: nothing a meter reading needs */
    switch (f->command_id) {
    case ZCL_CMD_REPORT:
        f->ignore = false;
        return decode_attrs(p, n, off, false, f);
    case ZCL_CMD_READ_RSP:
        f->ignore = false;
        return decode_attrs(p, n, off, true, f);
    case ZCL_CMD_CONFIG_REPORT_RSP:
        return decode_config_rsp(p, n, off, f);
    case ZCL_CMD_DEFAULT_RSP:
        if (off + 2 > n)
            return ZCL_ERR_TRUNCATED;
        f->has_default_rsp = true;
        f->default_cmd_id = p[off];
        f->default_status = p[off + 1];
        return 0;
    default:
        return 0;
    }
}

const char *zcl_error_name(int rc)
{
    switch (rc) {
    case ZCL_OK:
        return "ok";
    case ZCL_ERR_SHORT:
        return "zcl_short";
    case ZCL_ERR_TRUNCATED:
        return "zcl_truncated";
    case ZCL_ERR_TYPE:
        return "zcl_unknown_type";
    case ZCL_ERR_TOO_MANY:
        return "zcl_too_many_records";
    default:
        return "zcl_error";
    }
}

const char *zcl_command_name(const struct zcl_frame *f)
{
    static const char *const global[] = {
        "read",       "readRsp",        "write",           "writeUndiv",
        "writeRsp",   "writeNoRsp",     "configReport",    "configReportRsp",
        "readReportConfig", "readReportConfigRsp", "report", "defaultRsp",
        "discover",   "discoverRsp",    "readStructured",  "writeStructured",
        "writeStructuredRsp", "discoverCommands", "discoverCommandsRsp",
        "discoverCommandsGen", "discoverCommandsGenRsp", "discoverExt", "discoverExtRsp",
    };
    if (f->frame_control & ZCL_FC_CLUSTER_SPECIFIC)
        return NULL;
    if (f->command_id < sizeof global / sizeof global[0])
        return global[f->command_id];
    return NULL;
}

size_t zcl_build_read(uint8_t *out, size_t cap, uint8_t seq, const uint16_t *ids, size_t n)
{
    size_t need = 3 + 2 * n;
    if (cap < need)
        return 0;
    out[0] = ZCL_FC_DISABLE_DEFAULT_RSP; /* global, client -> server */
    out[1] = seq;
    out[2] = ZCL_CMD_READ;
    for (size_t i = 0; i < n; i++) {
        out[3 + 2 * i] = (uint8_t)(ids[i] & 0xFF);
        out[4 + 2 * i] = (uint8_t)(ids[i] >> 8);
    }
    return need;
}
