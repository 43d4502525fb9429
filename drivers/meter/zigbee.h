/* zigbee.h - pure decoders (and the few encoders) for ZigBee power meters behind a serial
 * coordinator: ZCL (zcl.c), Digi XBee API frames AP=1/AP=2 (xbee.c), TI Z-Stack MT (znp.c), and
 * their JSON form (zigbee_json.c). No I/O, no clock, no allocation: everything here can be fed
 * bytes from a test, a fuzzer, joulectl or the meter driver. Internal to drivers/meter and the
 * tools/tests that exercise it. */
#ifndef JOULE_DRIVERS_METER_ZIGBEE_H
#define JOULE_DRIVERS_METER_ZIGBEE_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------------------ ZCL */

#define ZCL_CLUSTER_METERING 0x0702
#define ZCL_CLUSTER_ELECTRICAL 0x0B04
#define ZCL_PROFILE_HA 0x0104

#define ZCL_CMD_READ 0x00
#define ZCL_CMD_READ_RSP 0x01
#define ZCL_CMD_CONFIG_REPORT_RSP 0x07
#define ZCL_CMD_REPORT 0x0A
#define ZCL_CMD_DEFAULT_RSP 0x0B

#define ZCL_FC_CLUSTER_SPECIFIC 0x01
#define ZCL_FC_MANUFACTURER 0x04
#define ZCL_FC_SERVER_TO_CLIENT 0x08
#define ZCL_FC_DISABLE_DEFAULT_RSP 0x10

#define ZCL_STATUS_SUCCESS 0x00
#define ZCL_STATUS_UNSUPPORTED_ATTRIBUTE 0x86

/* Electrical Measurement (0x0B04) */
#define ZCL_ATTR_RMS_VOLTAGE 0x0505
#define ZCL_ATTR_RMS_CURRENT 0x0508
#define ZCL_ATTR_ACTIVE_POWER 0x050B
#define ZCL_ATTR_AC_POWER_MULTIPLIER 0x0604
#define ZCL_ATTR_AC_POWER_DIVISOR 0x0605
/* Metering (0x0702) */
#define ZCL_ATTR_SUMMATION_DELIVERED 0x0000
#define ZCL_ATTR_UNIT_OF_MEASURE 0x0300
#define ZCL_ATTR_MULTIPLIER 0x0301
#define ZCL_ATTR_DIVISOR 0x0302
#define ZCL_ATTR_SUMMATION_FORMATTING 0x0303
#define ZCL_ATTR_INSTANTANEOUS_DEMAND 0x0400

/* Data types (ZCL spec table 2-10) that the decoders size. */
#define ZCL_TYPE_BITMAP8 0x18
#define ZCL_TYPE_UINT16 0x21
#define ZCL_TYPE_UINT24 0x22
#define ZCL_TYPE_UINT48 0x25
#define ZCL_TYPE_INT8 0x28
#define ZCL_TYPE_INT16 0x29
#define ZCL_TYPE_INT24 0x2A
#define ZCL_TYPE_ENUM8 0x30
#define ZCL_TYPE_OCTSTR 0x41
#define ZCL_TYPE_CHARSTR 0x42

#define ZCL_MAX_ATTRS 96   /* a 250-byte frame holds at most ~83 three-byte records */
#define ZCL_MAX_RECORDS 64

enum zcl_error {
    ZCL_OK = 0,
    ZCL_ERR_SHORT = -1,      /* shorter than a ZCL header */
    ZCL_ERR_TRUNCATED = -2,  /* a record ends inside its id, status, type or value */
    ZCL_ERR_TYPE = -3,       /* a data type whose size we do not know: cannot continue */
    ZCL_ERR_TOO_MANY = -4,   /* more records than ZCL_MAX_ATTRS */
};

struct zcl_attr {
    uint16_t id;
    bool has_status;         /* Read Attributes Response records carry one */
    uint8_t status;
    bool has_value;          /* false when status != 0 */
    uint8_t type;
    int64_t value;           /* integers: sign-extended for intN, zero-extended otherwise */
    bool integer;            /* value is meaningful; else value_off/value_len locate the bytes */
    uint16_t value_off;      /* offset of the value bytes in the ZCL payload */
    uint16_t value_len;
};

struct zcl_record {          /* Configure Reporting Response record */
    uint8_t status;
    bool has_attr;
    uint8_t direction;
    uint16_t attr_id;
};

struct zcl_frame {
    uint16_t cluster_id;
    uint8_t frame_control;
    uint16_t manufacturer_code;  /* valid when frame_control & ZCL_FC_MANUFACTURER */
    uint8_t sequence;
    uint8_t command_id;
    bool ignore;                 /* not a Report Attributes / Read Attributes Response */
    size_t n_attrs;
    struct zcl_attr attrs[ZCL_MAX_ATTRS];
    size_t n_records;            /* Configure Reporting Response */
    struct zcl_record records[ZCL_MAX_RECORDS];
    bool has_default_rsp;        /* Default Response */
    uint8_t default_cmd_id;
    uint8_t default_status;
};

/* Decodes one ZCL frame received under `cluster_id`. 0 or a ZCL_ERR_*; `out` is always written. */
int zcl_decode(const uint8_t *p, size_t n, uint16_t cluster_id, struct zcl_frame *out);
const char *zcl_error_name(int rc);               /* "zcl_truncated", ... */
const char *zcl_command_name(const struct zcl_frame *f); /* herdsman's name or NULL */
/* Size of a fixed-size type in bytes, 0 if variable or unknown. */
size_t zcl_type_size(uint8_t type);
/* True when the value is ZCL's "invalid" pattern for its type (int16 0x8000, int24 0x800000,
 * uint48 0xFFFFFFFFFFFF, uint16 0xFFFF, ...). */
bool zcl_value_invalid(const struct zcl_attr *a);
/* Read Attributes request (global, client->server, default response disabled).
 * Returns the number of bytes written or 0 if `cap` is too small. */
size_t zcl_build_read(uint8_t *out, size_t cap, uint8_t seq, const uint16_t *ids, size_t n);

/* ----------------------------------------------------------------------- transport frames */

enum zb_proto { ZB_PROTO_XBEE1, ZB_PROTO_XBEE2, ZB_PROTO_ZNP };

#define XBEE_START 0x7E
#define XBEE_ESCAPE 0x7D
#define XBEE_XON 0x11
#define XBEE_XOFF 0x13
#define XBEE_LEN_MAX 512       /* xbee-api's parser buffer: longer is impossible */
#define XBEE_RX_EXPLICIT 0x91
#define XBEE_RX_PACKET 0x90
#define XBEE_MODEM_STATUS 0x8A
#define XBEE_AT_RESPONSE 0x88
#define XBEE_TX_EXPLICIT 0x11
#define XBEE_RX_EXPLICIT_HDR 18

#define ZNP_SOF 0xFE
#define ZNP_LEN_MAX 250
#define ZNP_AF_INCOMING_HDR 17
#define ZNP_AF_INCOMING_EXT_HDR 27

struct xbee_frame {
    int api_mode;
    uint8_t frame_type;
    /* 0x90 / 0x91 */
    uint64_t src64;
    uint16_t src16;
    uint8_t src_endpoint, dst_endpoint;          /* 0x91 */
    uint16_t cluster_id, profile_id;              /* 0x91 */
    uint8_t receive_options;
    const uint8_t *payload;                       /* RF data; borrowed from the input */
    size_t payload_len;
    /* 0x8A */
    uint8_t modem_status;
    /* 0x88 */
    uint8_t frame_id;
    char at_command[3];
    uint8_t command_status;
    const uint8_t *command_data;
    size_t command_data_len;
    bool skip;                                    /* everything but 0x91 */
};

/* Parses unescaped frame data (the `len` bytes between the length and the checksum).
 * 0, or -1 if too short for its type or not a module->host frame type. */
int xbee_frame_parse(const uint8_t *data, size_t len, int api_mode, struct xbee_frame *out);
/* Wraps frame data: 7E, length, data, checksum; escaped when api_mode == 2. Returns bytes
 * written, 0 if `cap` is too small (worst case 2 * (len + 3) + 1). */
size_t xbee_frame_build(uint8_t *out, size_t cap, int api_mode, const uint8_t *data, size_t len);
/* 0x11 Explicit Addressing Command frame data (unescaped, not wrapped); returns bytes written. */
size_t xbee_explicit_tx(uint8_t *out, size_t cap, uint8_t frame_id, uint64_t dst64,
                        uint16_t dst16, uint8_t src_ep, uint8_t dst_ep, uint16_t cluster,
                        uint16_t profile, const uint8_t *payload, size_t n);

#define ZNP_TYPE_POLL 0
#define ZNP_TYPE_SREQ 1
#define ZNP_TYPE_AREQ 2
#define ZNP_TYPE_SRSP 3
#define ZNP_SUBSYS_SYS 1
#define ZNP_SUBSYS_AF 4
#define ZNP_SUBSYS_ZDO 5
#define ZNP_CMD0(type, subsys) ((uint8_t)(((type) << 5) | (subsys)))

#define ZNP_AF_DATA_CONFIRM 0x80
#define ZNP_AF_INCOMING_MSG 0x81
#define ZNP_AF_INCOMING_MSG_EXT 0x82
#define ZNP_AF_DATA_REQUEST 0x01
#define ZNP_SYS_RESET_IND 0x80
#define ZNP_ZDO_NWK_ADDR_REQ 0x00
#define ZNP_ZDO_IEEE_ADDR_REQ 0x01
#define ZNP_ZDO_NWK_ADDR_RSP 0x80
#define ZNP_ZDO_IEEE_ADDR_RSP 0x81
#define ZNP_ZDO_STATE_CHANGE_IND 0xC0
#define ZNP_ZDO_END_DEVICE_ANNCE_IND 0xC1

struct znp_frame {
    uint8_t cmd0, cmd1;
    uint8_t data_length;
    const uint8_t *data;          /* borrowed from the input */
    bool incoming;                /* AF_INCOMING_MSG or _EXT: the fields below are set */
    bool ext;
    uint16_t group_id, cluster_id;
    uint8_t src_addr_mode;        /* _EXT only */
    bool has_src64;
    uint64_t src64;
    bool has_src16;
    uint16_t src16;
    uint16_t src_pan_id;          /* _EXT only */
    uint8_t src_endpoint, dst_endpoint, was_broadcast, link_quality, security_use;
    uint32_t timestamp;
    uint8_t trans_seq;
    uint16_t len;
    const uint8_t *payload;
    const uint8_t *trailer;
    size_t trailer_len;
    bool skip;
};

/* Parses `cmd0 cmd1 data` (len = data_length + 2). 0, or -1 if a host->device type (SREQ,
 * POLL) or an AF_INCOMING_MSG(_EXT) whose fields do not fit. */
int znp_frame_parse(const uint8_t *p, size_t len, struct znp_frame *out);
/* FE len cmd0 cmd1 data FCS; returns bytes written, 0 if it does not fit or len > 250. */
size_t znp_frame_build(uint8_t *out, size_t cap, uint8_t cmd0, uint8_t cmd1, const uint8_t *data,
                       size_t len);
const char *znp_type_name(uint8_t cmd0);
const char *znp_subsystem_name(uint8_t cmd0);
const char *znp_command_name(uint8_t cmd0, uint8_t cmd1);

/* ----------------------------------------------------------------------- stream decoder */

enum zb_reject {
    ZB_REJECT_CHECKSUM,
    ZB_REJECT_TRUNCATED,      /* input ended (or AP=2: a new 0x7E came) inside the frame */
    ZB_REJECT_LENGTH,         /* impossible length: 0 or > 512 (XBee), > 250 (MT) */
    ZB_REJECT_LENGTH_OVERRUN, /* at end of input, a length runs past it but a later frame exists */
    ZB_REJECT_FORMAT,         /* checksum fine, but not a frame a coordinator sends */
    ZB_REJECT_OVERLAP,        /* checksum fine, but a complete valid frame starts inside it: a
                               * cut frame or garbage whose checksum matched by chance */
    ZB_REJECT__COUNT
};
const char *zb_reject_name(enum zb_reject r);

enum zb_event_kind { ZB_EVENT_FRAME, ZB_EVENT_REJECT };

struct zb_event {
    enum zb_event_kind kind;
    uint64_t offset;          /* stream offset of the start byte */
    enum zb_reject reason;    /* ZB_EVENT_REJECT */
    const uint8_t *data;      /* ZB_EVENT_FRAME: XBee frame data / MT cmd0 cmd1 data, unescaped;
                               * valid until the next zb_stream_* call */
    size_t len;
};

#define ZB_STREAM_BUF 4096

struct zb_stream_counts {
    uint64_t frames;
    uint64_t rejected[ZB_REJECT__COUNT];
    uint64_t garbage_bytes;   /* bytes skipped looking for a start byte */
    uint64_t resyncs;         /* runs of skipped bytes + rescans after a rejected candidate */
};

struct zb_stream {
    enum zb_proto proto;
    uint8_t buf[ZB_STREAM_BUF];
    size_t start, end;        /* unread bytes are buf[start..end) */
    uint64_t base;            /* stream offset of buf[0] */
    bool eof;
    bool idle;                /* zb_stream_idle() was called: see there */
    bool requests;            /* decode host->coordinator frames (see xbee_try_frame) */
    bool has_last;            /* the last event was a frame starting at last_start */
    size_t last_start;
    bool in_garbage;
    uint8_t frame[2 * (XBEE_LEN_MAX + 3)];
    struct zb_stream_counts counts;
};

/* One candidate frame starting with the start byte at buf[i] (buf[i..end) available). */
enum zb_try_kind { ZB_TRY_FRAME, ZB_TRY_MORE, ZB_TRY_REJECT };
struct zb_try {
    enum zb_try_kind kind;
    enum zb_reject reason;    /* ZB_TRY_REJECT */
    size_t next;              /* FRAME: index after it; REJECT: where to rescan from */
    const uint8_t *data;      /* FRAME: unescaped frame data (points into buf or scratch) */
    size_t len;
};
/* scratch: at least XBEE_LEN_MAX + 1 bytes (AP=2 unescapes into it). */
/* requests: the stream carries host->coordinator frames (meter-sim's side); the frame-type
 * plausibility checks are then skipped. */
void xbee_try_frame(const uint8_t *buf, size_t i, size_t end, int api_mode, bool requests,
                    uint8_t *scratch, struct zb_try *t);
void znp_try_frame(const uint8_t *buf, size_t i, size_t end, bool requests, struct zb_try *t);

/* A frame that passed its checksum (one byte: 1 in 256 corrupt candidates pass it) and looks like
 * what a coordinator really sends: a data frame whose ZCL decodes, or a known status frame of its
 * exact size. The meter driver drops (and rescans) anything else. */
bool zb_frame_plausible(enum zb_proto proto, const uint8_t *data, size_t len);

void zb_stream_init(struct zb_stream *s, enum zb_proto proto);
/* Appends bytes; returns how many it took (fewer when the buffer is full: drain with
 * zb_stream_next and feed the rest). */
size_t zb_stream_feed(struct zb_stream *s, const uint8_t *p, size_t n);
/* No more input will come: pending bytes are resolved (truncated / length_overrun). */
void zb_stream_finish(struct zb_stream *s);
/* The line has been quiet: if a candidate still waiting for bytes has a complete, valid frame
 * after its start byte, its length was a lie (a cut or corrupt frame): it is rejected
 * (length_overrun) and the bytes after its start byte are rescanned, so the valid frame behind
 * it is not held back until more traffic comes. A candidate with nothing complete behind it
 * keeps waiting: it may be a real frame delayed mid-way (USB latency, a loaded host). */
void zb_stream_idle(struct zb_stream *s);
/* True when bytes are buffered that are not yet a frame or a rejection. */
bool zb_stream_pending(const struct zb_stream *s);
/* 1 with *ev filled, 0 when more input is needed (or all input is consumed after finish). */
int zb_stream_next(struct zb_stream *s, struct zb_event *ev);
/* The caller found the last FRAME implausible (its content does not parse): un-consume it and
 * rescan from the byte after its start byte, as for a bad checksum. Counted as FORMAT. */
void zb_stream_reject_last(struct zb_stream *s);

/* ----------------------------------------------------------------------- JSON (libbson) */

/* Append the objects of vectors.json's `expect` schema to `doc`. */
void zcl_frame_to_bson(const struct zcl_frame *f, const uint8_t *payload, bson_t *doc);
/* A transport frame (ev->data) for proto: XBee or ZNP object, with "zcl" decoded. */
void zb_frame_to_bson(enum zb_proto proto, const uint8_t *data, size_t len, bson_t *doc);
/* "a1 b2 ..." */
void zb_hex_format(const uint8_t *p, size_t n, char *out, size_t cap);
/* Parses hex with optional spaces/colons/0x; returns bytes or -1 on a bad digit / overflow. */
long zb_hex_parse(const char *s, uint8_t *out, size_t cap);

#endif
