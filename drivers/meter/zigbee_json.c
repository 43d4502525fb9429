/* zigbee_json.c - decoded frames as BSON documents with exactly the field names of the shared
 * test vectors' `expect` objects (vectors/zigbee/README.md): joulectl prints them as JSON, the
 * vector test compares them field by field. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "zigbee.h"

void zb_hex_format(const uint8_t *p, size_t n, char *out, size_t cap)
{
    static const char digits[] = "0123456789abcdef";
    size_t o = 0;
    if (cap == 0)
        return;
    for (size_t i = 0; i < n; i++) {
        size_t need = (i > 0 ? 1 : 0) + 2;
        if (o + need + 1 > cap)
            break;
        if (i > 0)
            out[o++] = ' ';
        out[o++] = digits[p[i] >> 4];
        out[o++] = digits[p[i] & 15];
    }
    out[o] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long zb_hex_parse(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (const char *c = s; *c; c++) {
        if (*c == ' ' || *c == ':' || *c == ',' || *c == '\n' || *c == '\t' || *c == '\r' ||
            *c == '-') {
            if (hi >= 0)
                return -1; /* odd digit count inside a byte */
            continue;
        }
        if (*c == '0' && (c[1] == 'x' || c[1] == 'X') && hi < 0) {
            c++;
            continue;
        }
        int v = hexval(*c);
        if (v < 0)
            return -1;
        if (hi < 0) {
            hi = v;
            continue;
        }
        if (n == cap)
            return -1;
        out[n++] = (uint8_t)(hi << 4 | v);
        hi = -1;
    }
    return hi >= 0 ? -1 : (long)n;
}

static void append_hex(bson_t *doc, const char *key, const uint8_t *p, size_t n)
{
    char buf[3 * 1024 + 1];
    if (n > 1024)
        n = 1024;
    zb_hex_format(p, n, buf, sizeof buf);
    BSON_APPEND_UTF8(doc, key, buf);
}

static void append_ieee(bson_t *doc, const char *key, uint64_t v)
{
    char buf[17];
    snprintf(buf, sizeof buf, "%016" PRIx64, v);
    BSON_APPEND_UTF8(doc, key, buf);
}

static double half_to_double(uint16_t h)
{
    int e = (h >> 10) & 0x1F, m = h & 0x3FF;
    double v;
    if (e == 0)
        v = ldexp(m, -24);
    else if (e == 31)
        v = m ? NAN : INFINITY;
    else
        v = ldexp(m + 1024, e - 25);
    return h & 0x8000 ? -v : v;
}

static void append_value(bson_t *doc, const struct zcl_attr *a, const uint8_t *payload)
{
    const uint8_t *v = payload + a->value_off;
    if (a->integer) {
        if (a->type >= 0x25 && a->type <= 0x27) { /* uint48..uint64: decimal strings */
            char buf[24];
            snprintf(buf, sizeof buf, "%" PRIu64, (uint64_t)a->value);
            BSON_APPEND_UTF8(doc, "value", buf);
        } else {
            BSON_APPEND_INT64(doc, "value", a->value);
        }
        return;
    }
    if (a->type == 0x38 && a->value_len == 2) {
        BSON_APPEND_DOUBLE(doc, "value", half_to_double((uint16_t)(v[0] | v[1] << 8)));
    } else if (a->type == 0x39 && a->value_len == 4) {
        uint32_t u = (uint32_t)v[0] | (uint32_t)v[1] << 8 | (uint32_t)v[2] << 16 |
                     (uint32_t)v[3] << 24;
        float f;
        memcpy(&f, &u, sizeof f);
        BSON_APPEND_DOUBLE(doc, "value", f);
    } else if (a->type == 0x3A && a->value_len == 8) {
        uint64_t u = 0;
        for (int i = 7; i >= 0; i--)
            u = (u << 8) | v[i];
        double d;
        memcpy(&d, &u, sizeof d);
        BSON_APPEND_DOUBLE(doc, "value", d);
    } else if ((a->type == 0x42 || a->type == 0x44) &&
               bson_utf8_validate((const char *)v, a->value_len, false)) {
        bson_append_utf8(doc, "value", 5, (const char *)v, (int)a->value_len);
    } else {
        append_hex(doc, "value", v, a->value_len);
    }
}

void zcl_frame_to_bson(const struct zcl_frame *f, const uint8_t *payload, bson_t *doc)
{
    uint8_t fc = f->frame_control;
    BSON_APPEND_INT32(doc, "cluster_id", f->cluster_id);
    BSON_APPEND_INT32(doc, "frame_control", fc);
    BSON_APPEND_INT32(doc, "frame_type", fc & 0x03);
    BSON_APPEND_BOOL(doc, "manufacturer_specific", (fc & ZCL_FC_MANUFACTURER) != 0);
    BSON_APPEND_INT32(doc, "direction", (fc & ZCL_FC_SERVER_TO_CLIENT) ? 1 : 0);
    BSON_APPEND_BOOL(doc, "disable_default_response", (fc & ZCL_FC_DISABLE_DEFAULT_RSP) != 0);
    if (fc & ZCL_FC_MANUFACTURER)
        BSON_APPEND_INT32(doc, "manufacturer_code", f->manufacturer_code);
    else
        BSON_APPEND_NULL(doc, "manufacturer_code");
    BSON_APPEND_INT32(doc, "sequence", f->sequence);
    BSON_APPEND_INT32(doc, "command_id", f->command_id);
    const char *name = zcl_command_name(f);
    if (name)
        BSON_APPEND_UTF8(doc, "command", name);
    else
        BSON_APPEND_NULL(doc, "command");
    bool global = !(fc & ZCL_FC_CLUSTER_SPECIFIC);
    if (global && (f->command_id == ZCL_CMD_REPORT || f->command_id == ZCL_CMD_READ_RSP)) {
        bson_t arr, item;
        BSON_APPEND_ARRAY_BEGIN(doc, "attributes", &arr);
        for (size_t i = 0; i < f->n_attrs; i++) {
            const struct zcl_attr *a = &f->attrs[i];
            char key[16];
            const char *k;
            bson_uint32_to_string((uint32_t)i, &k, key, sizeof key);
            BSON_APPEND_DOCUMENT_BEGIN(&arr, k, &item);
            BSON_APPEND_INT32(&item, "id", a->id);
            if (a->has_status)
                BSON_APPEND_INT32(&item, "status", a->status);
            if (a->has_value) {
                BSON_APPEND_INT32(&item, "type", a->type);
                append_value(&item, a, payload);
            }
            bson_append_document_end(&arr, &item);
        }
        bson_append_array_end(doc, &arr);
    } else if (global && f->command_id == ZCL_CMD_CONFIG_REPORT_RSP) {
        bson_t arr, item;
        BSON_APPEND_ARRAY_BEGIN(doc, "records", &arr);
        for (size_t i = 0; i < f->n_records; i++) {
            const struct zcl_record *r = &f->records[i];
            char key[16];
            const char *k;
            bson_uint32_to_string((uint32_t)i, &k, key, sizeof key);
            BSON_APPEND_DOCUMENT_BEGIN(&arr, k, &item);
            BSON_APPEND_INT32(&item, "status", r->status);
            if (r->has_attr) {
                BSON_APPEND_INT32(&item, "direction", r->direction);
                BSON_APPEND_INT32(&item, "attr_id", r->attr_id);
            }
            bson_append_document_end(&arr, &item);
        }
        bson_append_array_end(doc, &arr);
    } else if (global && f->has_default_rsp) {
        bson_t rec;
        BSON_APPEND_DOCUMENT_BEGIN(doc, "records", &rec);
        BSON_APPEND_INT32(&rec, "cmd_id", f->default_cmd_id);
        BSON_APPEND_INT32(&rec, "status", f->default_status);
        bson_append_document_end(doc, &rec);
    }
    BSON_APPEND_BOOL(doc, "ignore", f->ignore);
}

/* "zcl": the decoded payload, or null + "zcl_error" when it does not decode. */
static void append_zcl(bson_t *doc, const uint8_t *p, size_t n, uint16_t cluster)
{
    struct zcl_frame z;
    int rc = zcl_decode(p, n, cluster, &z);
    if (rc < 0) {
        BSON_APPEND_NULL(doc, "zcl");
        BSON_APPEND_UTF8(doc, "zcl_error", zcl_error_name(rc));
        return;
    }
    bson_t sub;
    BSON_APPEND_DOCUMENT_BEGIN(doc, "zcl", &sub);
    zcl_frame_to_bson(&z, p, &sub);
    bson_append_document_end(doc, &sub);
}

static void xbee_to_bson(int api_mode, const uint8_t *data, size_t len, bson_t *doc)
{
    struct xbee_frame f;
    if (xbee_frame_parse(data, len, api_mode, &f) < 0) {
        BSON_APPEND_INT32(doc, "api_mode", api_mode);
        BSON_APPEND_UTF8(doc, "error", "format");
        append_hex(doc, "frame_data_hex", data, len);
        return;
    }
    BSON_APPEND_INT32(doc, "api_mode", api_mode);
    BSON_APPEND_INT32(doc, "frame_type", f.frame_type);
    switch (f.frame_type) {
    case XBEE_RX_EXPLICIT:
        append_ieee(doc, "src64", f.src64);
        BSON_APPEND_INT32(doc, "src16", f.src16);
        BSON_APPEND_INT32(doc, "src_endpoint", f.src_endpoint);
        BSON_APPEND_INT32(doc, "dst_endpoint", f.dst_endpoint);
        BSON_APPEND_INT32(doc, "cluster_id", f.cluster_id);
        BSON_APPEND_INT32(doc, "profile_id", f.profile_id);
        BSON_APPEND_INT32(doc, "receive_options", f.receive_options);
        BSON_APPEND_NULL(doc, "link_quality");
        append_hex(doc, "payload_hex", f.payload, f.payload_len);
        append_zcl(doc, f.payload, f.payload_len, f.cluster_id);
        break;
    case XBEE_RX_PACKET:
        append_ieee(doc, "src64", f.src64);
        BSON_APPEND_INT32(doc, "src16", f.src16);
        BSON_APPEND_INT32(doc, "receive_options", f.receive_options);
        BSON_APPEND_NULL(doc, "cluster_id");
        BSON_APPEND_NULL(doc, "profile_id");
        BSON_APPEND_NULL(doc, "link_quality");
        append_hex(doc, "payload_hex", f.payload, f.payload_len);
        break;
    case XBEE_MODEM_STATUS:
        BSON_APPEND_INT32(doc, "modem_status", f.modem_status);
        break;
    case XBEE_AT_RESPONSE:
        BSON_APPEND_INT32(doc, "frame_id", f.frame_id);
        if (bson_utf8_validate(f.at_command, 2, false))
            BSON_APPEND_UTF8(doc, "at_command", f.at_command);
        else
            append_hex(doc, "at_command", (const uint8_t *)f.at_command, 2);
        BSON_APPEND_INT32(doc, "command_status", f.command_status);
        append_hex(doc, "command_data_hex", f.command_data, f.command_data_len);
        break;
    default:
        append_hex(doc, "frame_data_hex", data + 1, len - 1);
        break;
    }
    BSON_APPEND_BOOL(doc, "skip", f.skip);
}

static void fields_to_bson(const struct znp_frame *f, bson_t *doc)
{
    const uint8_t *d = f->data;
    size_t n = f->data_length;
    unsigned type = f->cmd0 >> 5, sub = f->cmd0 & 0x1F;
    bson_t fl;
    if (type == ZNP_TYPE_AREQ && sub == ZNP_SUBSYS_SYS && f->cmd1 == ZNP_SYS_RESET_IND && n >= 6) {
        static const char *const k[] = { "reason", "transportrev", "productid",
                                         "majorrel", "minorrel", "hwrev" };
        BSON_APPEND_DOCUMENT_BEGIN(doc, "fields", &fl);
        for (int i = 0; i < 6; i++)
            BSON_APPEND_INT32(&fl, k[i], d[i]);
        bson_append_document_end(doc, &fl);
    } else if (type == ZNP_TYPE_AREQ && sub == ZNP_SUBSYS_AF && f->cmd1 == ZNP_AF_DATA_CONFIRM &&
               n >= 3) {
        BSON_APPEND_DOCUMENT_BEGIN(doc, "fields", &fl);
        BSON_APPEND_INT32(&fl, "status", d[0]);
        BSON_APPEND_INT32(&fl, "endpoint", d[1]);
        BSON_APPEND_INT32(&fl, "transid", d[2]);
        bson_append_document_end(doc, &fl);
    } else if (type == ZNP_TYPE_AREQ && sub == ZNP_SUBSYS_ZDO &&
               f->cmd1 == ZNP_ZDO_STATE_CHANGE_IND && n >= 1) {
        BSON_APPEND_DOCUMENT_BEGIN(doc, "fields", &fl);
        BSON_APPEND_INT32(&fl, "state", d[0]);
        bson_append_document_end(doc, &fl);
    } else if (type == ZNP_TYPE_AREQ && sub == ZNP_SUBSYS_ZDO &&
               f->cmd1 == ZNP_ZDO_END_DEVICE_ANNCE_IND && n >= 13) {
        uint64_t ieee = 0;
        for (int i = 11; i >= 4; i--)
            ieee = (ieee << 8) | d[i];
        BSON_APPEND_DOCUMENT_BEGIN(doc, "fields", &fl);
        BSON_APPEND_INT32(&fl, "srcaddr", d[0] | d[1] << 8);
        BSON_APPEND_INT32(&fl, "nwkaddr", d[2] | d[3] << 8);
        append_ieee(&fl, "ieeeaddr", ieee);
        BSON_APPEND_INT32(&fl, "capabilities", d[12]);
        bson_append_document_end(doc, &fl);
    } else if (type == ZNP_TYPE_AREQ && sub == ZNP_SUBSYS_ZDO &&
               (f->cmd1 == ZNP_ZDO_NWK_ADDR_RSP || f->cmd1 == ZNP_ZDO_IEEE_ADDR_RSP) && n >= 11) {
        uint64_t ieee = 0;
        for (int i = 8; i >= 1; i--)
            ieee = (ieee << 8) | d[i];
        BSON_APPEND_DOCUMENT_BEGIN(doc, "fields", &fl);
        BSON_APPEND_INT32(&fl, "status", d[0]);
        append_ieee(&fl, "ieeeaddr", ieee);
        BSON_APPEND_INT32(&fl, "nwkaddr", d[9] | d[10] << 8);
        bson_append_document_end(doc, &fl);
    } else {
        append_hex(doc, "data_hex", d, n);
    }
}

static void append_name(bson_t *doc, const char *key, const char *v)
{
    if (v)
        BSON_APPEND_UTF8(doc, key, v);
    else
        BSON_APPEND_NULL(doc, key);
}

static void znp_to_bson(const uint8_t *data, size_t len, bson_t *doc)
{
    struct znp_frame f;
    if (znp_frame_parse(data, len, &f) < 0) {
        BSON_APPEND_UTF8(doc, "error", "format");
        append_hex(doc, "frame_data_hex", data, len);
        return;
    }
    append_name(doc, "type", znp_type_name(f.cmd0));
    append_name(doc, "subsystem", znp_subsystem_name(f.cmd0));
    BSON_APPEND_INT32(doc, "cmd0", f.cmd0);
    BSON_APPEND_INT32(doc, "cmd1", f.cmd1);
    append_name(doc, "command", znp_command_name(f.cmd0, f.cmd1));
    BSON_APPEND_INT32(doc, "data_length", f.data_length);
    if (!f.incoming) {
        fields_to_bson(&f, doc);
        BSON_APPEND_BOOL(doc, "skip", true);
        return;
    }
    BSON_APPEND_INT32(doc, "group_id", f.group_id);
    BSON_APPEND_INT32(doc, "cluster_id", f.cluster_id);
    if (f.ext)
        BSON_APPEND_INT32(doc, "src_addr_mode", f.src_addr_mode);
    if (f.has_src64)
        append_ieee(doc, "src64", f.src64);
    else
        BSON_APPEND_NULL(doc, "src64");
    if (f.has_src16)
        BSON_APPEND_INT32(doc, "src16", f.src16);
    else
        BSON_APPEND_NULL(doc, "src16");
    if (f.ext)
        BSON_APPEND_INT32(doc, "src_pan_id", f.src_pan_id);
    BSON_APPEND_INT32(doc, "src_endpoint", f.src_endpoint);
    BSON_APPEND_INT32(doc, "dst_endpoint", f.dst_endpoint);
    BSON_APPEND_NULL(doc, "profile_id");
    BSON_APPEND_INT32(doc, "was_broadcast", f.was_broadcast);
    BSON_APPEND_INT32(doc, "link_quality", f.link_quality);
    BSON_APPEND_INT32(doc, "security_use", f.security_use);
    BSON_APPEND_INT64(doc, "timestamp", f.timestamp);
    BSON_APPEND_INT32(doc, "trans_seq", f.trans_seq);
    BSON_APPEND_INT32(doc, "len", f.len);
    append_hex(doc, "payload_hex", f.payload, f.len);
    append_hex(doc, "trailer_hex", f.trailer, f.trailer_len);
    append_zcl(doc, f.payload, f.len, f.cluster_id);
    BSON_APPEND_BOOL(doc, "skip", false);
}

void zb_frame_to_bson(enum zb_proto proto, const uint8_t *data, size_t len, bson_t *doc)
{
    switch (proto) {
    case ZB_PROTO_XBEE1:
        xbee_to_bson(1, data, len, doc);
        return;
    case ZB_PROTO_XBEE2:
        xbee_to_bson(2, data, len, doc);
        return;
    case ZB_PROTO_ZNP:
        znp_to_bson(data, len, doc);
        return;
    }
}
