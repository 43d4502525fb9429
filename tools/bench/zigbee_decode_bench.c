/* zigbee_decode_bench - decode rate of the ZigBee meter decoders on one core.
 * Builds a buffer of frames as a coordinator would send them (ActivePower and summation reports
 * from 3 meters), with a share of them corrupted (bad checksum, truncated, garbage before them),
 * then times the meter driver's decode path over it: stream decoder (resync), frame parse and ZCL
 * decode, for XBee AP=1, AP=2 and ZNP. Prints frames/s (all frames in the buffer, valid or not).
 *   zigbee_decode_bench [FRAMES (default 1000000)] [CORRUPT_PCT (default 30)] */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "meter/zigbee.h"

static uint64_t rng = 88172645463325252ULL;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* key: cluster and value, to match decoded readings against the valid frames sent */
static uint64_t key_of(uint16_t cluster, uint64_t value)
{
    return (uint64_t)cluster << 48 | (value & 0xFFFFFFFFFFFFULL);
}

static size_t make_frame(enum zb_proto proto, unsigned meter, unsigned k, uint8_t *out,
                         size_t cap, uint64_t *key)
{
    uint8_t z[32], d[128];
    size_t zn = 0;
    bool energy = k % 4 == 0;
    z[zn++] = 0x18;
    z[zn++] = (uint8_t)k;
    z[zn++] = ZCL_CMD_REPORT;
    uint64_t v = 0;
    if (energy) {
        z[zn++] = 0x00, z[zn++] = 0x00, z[zn++] = ZCL_TYPE_UINT48;
        for (int i = 0; i < 6; i++) {
            uint8_t b = (uint8_t)rnd();
            v |= (uint64_t)b << (8 * i);
            z[zn++] = b;
        }
    } else {
        z[zn++] = 0x0B, z[zn++] = 0x05, z[zn++] = ZCL_TYPE_INT16;
        v = rnd() & 0x7FFF;
        z[zn++] = (uint8_t)v, z[zn++] = (uint8_t)(v >> 8);
    }
    uint16_t cluster = energy ? ZCL_CLUSTER_METERING : ZCL_CLUSTER_ELECTRICAL;
    *key = key_of(cluster, v);
    size_t o = 0;
    if (proto == ZB_PROTO_ZNP) {
        uint8_t hdr[17] = { 0, 0, (uint8_t)cluster, (uint8_t)(cluster >> 8), (uint8_t)meter, 0x1a,
                            1, 1, 0, 0x73, 0, 1, 2, 3, 4, 0, (uint8_t)zn };
        memcpy(d, hdr, sizeof hdr);
        o = sizeof hdr;
        memcpy(d + o, z, zn);
        o += zn;
        d[o++] = (uint8_t)meter, d[o++] = 0x1a, d[o++] = 0x1e;
        return znp_frame_build(out, cap, 0x44, ZNP_AF_INCOMING_MSG, d, o);
    }
    d[o++] = XBEE_RX_EXPLICIT;
    uint64_t ieee = 0x0013a20040a10001ULL + meter;
    for (int i = 0; i < 8; i++)
        d[o++] = (uint8_t)(ieee >> (56 - 8 * i));
    d[o++] = 0x1a, d[o++] = (uint8_t)meter, d[o++] = 1, d[o++] = 1;
    d[o++] = (uint8_t)(cluster >> 8), d[o++] = (uint8_t)cluster, d[o++] = 0x01, d[o++] = 0x04;
    d[o++] = 0x01;
    memcpy(d + o, z, zn);
    o += zn;
    return xbee_frame_build(out, cap, proto == ZB_PROTO_XBEE2 ? 2 : 1, d, o);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int bench(enum zb_proto proto, const char *name, size_t frames, unsigned corrupt_pct)
{
    size_t cap = frames * 80 + 1024, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return -1;
    size_t valid = 0;
    uint64_t *keys = malloc(frames * sizeof *keys);
    if (!keys)
        return -1;
    for (size_t k = 0; k < frames; k++) {
        uint8_t f[160];
        uint64_t key;
        size_t fl = make_frame(proto, (unsigned)(k % 3), (unsigned)k, f, sizeof f, &key);
        unsigned r = rnd() % 100;
        if (r < corrupt_pct / 3) {
            f[fl - 1] ^= 0x01; /* bad checksum */
            if (f[fl - 1] == XBEE_START || f[fl - 1] == ZNP_SOF || f[fl - 1] == XBEE_ESCAPE)
                f[fl - 1] ^= 0x03;
        } else if (r < 2 * corrupt_pct / 3) {
            fl = 1 + rnd() % (fl - 1); /* truncated */
        } else {
            if (r < corrupt_pct) /* garbage before an intact frame */
                for (unsigned g = 1 + rnd() % 8; g > 0; g--)
                    buf[n++] = (uint8_t)rnd();
            keys[valid++] = key;
        }
        memcpy(buf + n, f, fl);
        n += fl;
    }
    static struct zb_stream s;
    static struct zcl_frame z;
    zb_stream_init(&s, proto);
    size_t got = 0, readings = 0, matched = 0, next_key = 0;
    double t0 = now_s();
    const size_t read_size = 4096;
    for (size_t off = 0; off < n || !s.eof;) {
        if (off < n)
            off += zb_stream_feed(&s, buf + off, n - off < read_size ? n - off : read_size);
        else
            zb_stream_finish(&s);
        struct zb_event ev;
        while (zb_stream_next(&s, &ev) == 1) {
            if (ev.kind != ZB_EVENT_FRAME)
                continue;
            if (!zb_frame_plausible(proto, ev.data, ev.len)) { /* as the meter driver does */
                zb_stream_reject_last(&s);
                continue;
            }
            const uint8_t *p;
            size_t pl;
            uint16_t cluster;
            if (proto == ZB_PROTO_ZNP) {
                struct znp_frame f;
                if (znp_frame_parse(ev.data, ev.len, &f) < 0) {
                    zb_stream_reject_last(&s);
                    continue;
                }
                if (!f.incoming)
                    continue;
                p = f.payload, pl = f.len, cluster = f.cluster_id;
            } else {
                struct xbee_frame f;
                if (xbee_frame_parse(ev.data, ev.len, proto == ZB_PROTO_XBEE2 ? 2 : 1, &f) < 0) {
                    zb_stream_reject_last(&s);
                    continue;
                }
                if (f.skip)
                    continue;
                p = f.payload, pl = f.payload_len, cluster = f.cluster_id;
            }
            if (zcl_decode(p, pl, cluster, &z) < 0) { /* as the driver does: rescan */
                zb_stream_reject_last(&s);
                continue;
            }
            got++;
            if (z.n_attrs > 0 && z.attrs[0].integer) {
                readings++;
                /* valid frames must come out in order; extra (chance) frames match nothing; a
                 * valid frame that never came is skipped over (lost) */
                uint64_t kk = key_of(cluster, (uint64_t)z.attrs[0].value);
                for (size_t w = 0; w < 16 && next_key + w < valid; w++)
                    if (keys[next_key + w] == kk) {
                        if (w > 0 && getenv("BENCH_DEBUG"))
                            fprintf(stderr, "skipped valid #%zu key %016" PRIx64
                                            " at reading %zu\n",
                                    next_key, keys[next_key], readings);
                        next_key += w + 1;
                        matched++;
                        break;
                    }
            }
        }
    }
    double dt = now_s() - t0;
    free(keys);
    printf("%-6s %zu frames (%zu valid, %u%% corrupted), %.1f MB: %zu readings, %zu of the valid "
           "frames in order, in %.3f s = %.0f frames/s, %.1f MB/s\n",
           name, frames, valid, corrupt_pct, n / 1e6, readings, matched, dt, frames / dt,
           n / 1e6 / dt);
    free(buf);
    if (matched < valid)
        printf("%-6s LOST %zu valid frames\n", name, valid - matched);
    return matched == valid ? 0 : 1; /* a decoder that loses valid frames fails */
}

int main(int argc, char **argv)
{
    size_t frames = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
    unsigned pct = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 30;
    if (frames == 0 || pct > 100) {
        fprintf(stderr, "usage: zigbee_decode_bench [FRAMES] [CORRUPT_PCT]\n");
        return 2;
    }
    int rc = 0;
    rc |= bench(ZB_PROTO_XBEE1, "xbee1", frames, pct);
    rc |= bench(ZB_PROTO_XBEE2, "xbee2", frames, pct);
    rc |= bench(ZB_PROTO_ZNP, "znp", frames, pct);
    return rc;
}
