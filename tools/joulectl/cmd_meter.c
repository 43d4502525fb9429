/* joulectl meter decode - paste bytes captured from a ZigBee coordinator and see, per frame,
 * what the meter driver's decoders make of them (the JSON field names of the shared test
 * vectors), or why a frame was rejected. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "joulectl.h"
#include "meter/zigbee.h"
#include "util/xalloc.h"

#define INPUT_MAX (16 * 1024 * 1024)

static void usage(FILE *f)
{
    fprintf(f,
            "usage: joulectl meter decode [--protocol xbee1|xbee2|znp|zcl] [--cluster ID]\n"
            "                             [--raw] [HEX...]\n"
            "Decodes a captured byte stream (hex arguments, or hex text on stdin, or raw\n"
            "bytes on stdin with --raw) and prints one JSON object per frame, or\n"
            "{\"offset\", \"error\"} per rejected candidate. --cluster (default 0x0b04)\n"
            "applies to --protocol zcl, whose input is one bare ZCL payload.\n"
            "Exit 0: every candidate decoded; 1: some were rejected.\n"
            "example: joulectl meter decode --protocol xbee1 7e 00 02 8a 06 6f\n");
}

static void print_doc(const bson_t *doc)
{
    char *json = bson_as_relaxed_extended_json(doc, NULL);
    puts(json);
    bson_free(json);
}

static void print_reject(uint64_t offset, const char *reason)
{
    bson_t doc = BSON_INITIALIZER;
    BSON_APPEND_INT64(&doc, "offset", (int64_t)offset);
    BSON_APPEND_UTF8(&doc, "error", reason);
    print_doc(&doc);
    bson_destroy(&doc);
}

static int read_stdin(char **out, size_t *n)
{
    size_t cap = 4096, len = 0;
    char *buf = xmalloc(cap);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, stdin)) > 0) {
        len += got;
        if (len + 1 == cap) {
            if (cap >= INPUT_MAX) {
                free(buf);
                return -1;
            }
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
    }
    buf[len] = '\0';
    *out = buf;
    *n = len;
    return 0;
}

static int decode(int argc, char **argv)
{
    const char *proto_name = "xbee1";
    long cluster = ZCL_CLUSTER_ELECTRICAL;
    bool raw = false;
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return JOULECTL_EXIT_OK;
        } else if (strcmp(argv[i], "--protocol") == 0 && i + 1 < argc) {
            proto_name = argv[++i];
        } else if (strcmp(argv[i], "--cluster") == 0 && i + 1 < argc) {
            char *end;
            cluster = strtol(argv[++i], &end, 0);
            if (*end || cluster < 0 || cluster > 0xFFFF) {
                fprintf(stderr, "joulectl meter decode: --cluster %s: not a 16-bit number\n",
                        argv[i]);
                return JOULECTL_EXIT_USAGE;
            }
        } else if (strcmp(argv[i], "--raw") == 0) {
            raw = true;
        } else if (strncmp(argv[i], "--", 2) == 0) {
            fprintf(stderr, "joulectl meter decode: unknown option %s\n", argv[i]);
            usage(stderr);
            return JOULECTL_EXIT_USAGE;
        } else {
            break;
        }
    }
    enum zb_proto proto = ZB_PROTO_XBEE1;
    bool zcl_only = false;
    if (strcmp(proto_name, "xbee1") == 0)
        proto = ZB_PROTO_XBEE1;
    else if (strcmp(proto_name, "xbee2") == 0)
        proto = ZB_PROTO_XBEE2;
    else if (strcmp(proto_name, "znp") == 0)
        proto = ZB_PROTO_ZNP;
    else if (strcmp(proto_name, "zcl") == 0)
        zcl_only = true;
    else {
        fprintf(stderr, "joulectl meter decode: --protocol %s: xbee1, xbee2, znp or zcl\n",
                proto_name);
        return JOULECTL_EXIT_USAGE;
    }

    char *text = NULL;
    size_t text_len = 0;
    if (i < argc) {
        if (raw) {
            fprintf(stderr, "joulectl meter decode: --raw reads stdin, not arguments\n");
            return JOULECTL_EXIT_USAGE;
        }
        size_t total = 1;
        for (int k = i; k < argc; k++)
            total += strlen(argv[k]) + 1;
        text = xmalloc(total);
        size_t o = 0;
        for (int k = i; k < argc; k++) {
            size_t l = strlen(argv[k]);
            memcpy(text + o, argv[k], l);
            o += l;
            text[o++] = ' ';
        }
        text[o] = '\0';
        text_len = o;
    } else if (read_stdin(&text, &text_len) < 0) {
        fprintf(stderr, "joulectl meter decode: input larger than %d bytes\n", INPUT_MAX);
        return JOULECTL_EXIT_FAIL;
    }
    uint8_t *bytes;
    size_t n;
    if (raw) {
        bytes = (uint8_t *)text;
        n = text_len;
        text = NULL;
    } else {
        bytes = xmalloc(text_len / 2 + 1);
        long got = zb_hex_parse(text, bytes, text_len / 2 + 1);
        if (got < 0) {
            fprintf(stderr, "joulectl meter decode: input is not hex bytes (\"7e 00 02 ...\"); "
                            "use --raw for binary\n");
            free(text);
            free(bytes);
            return JOULECTL_EXIT_USAGE;
        }
        n = (size_t)got;
    }
    free(text);

    int rejected = 0;
    if (zcl_only) {
        struct zcl_frame *z = xmalloc(sizeof *z);
        int rc = zcl_decode(bytes, n, (uint16_t)cluster, z);
        if (rc < 0) {
            print_reject(0, zcl_error_name(rc));
            rejected++;
        } else {
            bson_t doc = BSON_INITIALIZER;
            zcl_frame_to_bson(z, bytes, &doc);
            print_doc(&doc);
            bson_destroy(&doc);
        }
        free(z);
    } else {
        struct zb_stream *s = xmalloc(sizeof *s);
        zb_stream_init(s, proto);
        size_t off = 0;
        bool done = false;
        while (!done) {
            if (off < n) {
                off += zb_stream_feed(s, bytes + off, n - off);
            } else {
                zb_stream_finish(s);
                done = true;
            }
            struct zb_event ev;
            while (zb_stream_next(s, &ev) == 1) {
                if (ev.kind == ZB_EVENT_REJECT) {
                    print_reject(ev.offset, zb_reject_name(ev.reason));
                    rejected++;
                    continue;
                }
                bson_t doc = BSON_INITIALIZER;
                zb_frame_to_bson(proto, ev.data, ev.len, &doc);
                print_doc(&doc);
                bson_destroy(&doc);
            }
        }
        if (s->counts.garbage_bytes)
            fprintf(stderr, "joulectl meter decode: skipped %llu bytes outside frames\n",
                    (unsigned long long)s->counts.garbage_bytes);
        free(s);
    }
    free(bytes);
    return rejected ? JOULECTL_EXIT_FAIL : JOULECTL_EXIT_OK;
}

int cmd_meter(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "decode") == 0)
        return decode(argc - 1, argv + 1);
    bool help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
    usage(help ? stdout : stderr);
    return help ? JOULECTL_EXIT_OK : JOULECTL_EXIT_USAGE;
}
