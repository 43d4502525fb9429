/* meter-sim - a fake ZigBee coordinator for N smart meters: writes real XBee API frames (AP=1 or
 * AP=2, 0x91 Explicit RX Indicator) or Z-Stack MT frames (AF_INCOMING_MSG with the Z-Stack 3.x
 * trailer) carrying ZCL Report Attributes (ActivePower on 0x0B04, CurrentSummationDelivered on
 * 0x0702) to a pty (or stdout), answers Read Attributes requests for the scaling attributes and
 * ZNP ZDO address requests, and injects faults: bad checksums, garbage, truncated frames,
 * silence, unplugging. See `meter-sim --help`. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "meter/zigbee.h"

#define MAX_METERS 64
#define MAX_FILE_WATTS 4096
#define EM_DIVISOR 10         /* ActivePower unit: 0.1 W */
#define MET_DIVISOR 1000      /* summation unit: Wh (kWh = raw / 1000) */
#define RECONNECT_STEP_MS 50

enum watts_kind { W_CONST, W_FILE, W_SINE, W_POWER };
enum { FAULT_CHECKSUM = 1, FAULT_GARBAGE = 2, FAULT_TRUNCATE = 4 };

struct sim {
    enum zb_proto proto;
    const char *port;        /* NULL = stdout */
    int fd;
    bool is_tty;
    size_t n_meters;
    uint64_t ieee[MAX_METERS];
    uint16_t nwk[MAX_METERS];
    double energy_wh[MAX_METERS];
    enum watts_kind wk;
    double w_const, w_mean, w_amp, w_period_s;
    double *w_file;
    size_t n_file;
    /* W_POWER: meter i reads power_path[i] (0 or 1, as a BMC's chassis-control script writes
     * it) every round: on -> w_on, off -> w_off */
    char *power_path[MAX_METERS];
    size_t n_power;
    double w_on, w_off;
    int interval_ms;
    long count;              /* report rounds (one EM frame per meter each); 0 = forever */
    int energy_every;
    int corrupt_pct;
    unsigned faults;
    int silence_every, silence_ms;
    int unplug_every, unplug_ms;
    int reconnect_s;
    bool wait_request;
    bool got_request;
    int linger_ms;
    uint64_t rng;
    FILE *log;
    uint8_t seq;
    struct zb_stream in;
    long sent_valid, sent_corrupt, answered;
};

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static uint32_t rnd(struct sim *s)
{
    s->rng ^= s->rng << 13; /* xorshift64 */
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return (uint32_t)(s->rng >> 16);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !g_stop) {
    }
}

/* ------------------------------------------------------------------------- port */

static int port_open(struct sim *s)
{
    if (!s->port) {
        s->fd = STDOUT_FILENO;
        s->is_tty = false;
        return 0;
    }
    int fd = open(s->port, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct termios t;
    if (tcgetattr(fd, &t) == 0) {
        cfmakeraw(&t);
        t.c_cc[VMIN] = 0;
        t.c_cc[VTIME] = 0;
        tcsetattr(fd, TCSANOW, &t);
        s->is_tty = true;
    }
    s->fd = fd;
    zb_stream_init(&s->in, s->proto);
    s->in.requests = true;
    return 0;
}

static void port_close(struct sim *s)
{
    if (s->port && s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

/* After a hang-up (socat killed) the link path comes back when socat restarts. */
static int port_reconnect(struct sim *s)
{
    port_close(s);
    int64_t deadline = mono_ms() + (int64_t)s->reconnect_s * 1000;
    while (!g_stop && mono_ms() < deadline) {
        if (port_open(s) == 0) {
            fprintf(stderr, "meter-sim: reconnected to %s\n", s->port);
            return 0;
        }
        sleep_ms(RECONNECT_STEP_MS);
    }
    fprintf(stderr, "meter-sim: %s did not come back within %d s\n", s->port, s->reconnect_s);
    return -1;
}

/* 0 when every byte was written, -1 on a hang-up that reconnecting could not fix. */
static int write_all(struct sim *s, const uint8_t *p, size_t n, bool *lost)
{
    size_t done = 0;
    *lost = false;
    while (done < n) {
        ssize_t w = write(s->fd, p + done, n - done);
        if (w > 0) {
            done += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (!s->port)
            return -1;
        *lost = true; /* the rest of this frame is gone with the old link */
        return port_reconnect(s);
    }
    return 0;
}

/* ------------------------------------------------------------------------- frames */

static double watts_at(const struct sim *s, size_t meter, long round, double t_s)
{
    switch (s->wk) {
    case W_CONST:
        return s->w_const + 10.0 * (double)meter;
    case W_FILE:
        return s->w_file[((size_t)round + meter) % s->n_file];
    case W_SINE:
        return s->w_mean + s->w_amp * sin(2 * M_PI * t_s / s->w_period_s + (double)meter);
    case W_POWER: {
        FILE *f = s->n_power ? fopen(s->power_path[meter % s->n_power], "r") : NULL;
        int on = 0;
        if (f) {
            if (fscanf(f, "%d", &on) != 1)
                on = 0;
            fclose(f);
        }
        return on ? s->w_on : s->w_off;
    }
    }
    return 0;
}

/* Wraps a ZCL payload from meter i into the coordinator's frame. Returns wire bytes. */
static size_t wrap(struct sim *s, size_t i, uint16_t cluster, const uint8_t *zcl, size_t n,
                   uint8_t *wire, size_t cap)
{
    uint8_t d[300];
    if (s->proto == ZB_PROTO_ZNP) {
        uint32_t ts = (uint32_t)mono_ms();
        size_t o = 0;
        d[o++] = 0; /* group */
        d[o++] = 0;
        d[o++] = (uint8_t)cluster;
        d[o++] = (uint8_t)(cluster >> 8);
        d[o++] = (uint8_t)s->nwk[i];
        d[o++] = (uint8_t)(s->nwk[i] >> 8);
        d[o++] = 1; /* src endpoint */
        d[o++] = 1; /* dst endpoint */
        d[o++] = 0; /* was broadcast */
        d[o++] = 0x73; /* link quality */
        d[o++] = 0;    /* security */
        for (int k = 0; k < 4; k++)
            d[o++] = (uint8_t)(ts >> (8 * k));
        d[o++] = 0; /* trans seq (Z-Stack 3.x writes 0) */
        d[o++] = (uint8_t)n;
        memcpy(d + o, zcl, n);
        o += n;
        d[o++] = (uint8_t)s->nwk[i]; /* MacSrcAddr + radius trailer */
        d[o++] = (uint8_t)(s->nwk[i] >> 8);
        d[o++] = 0x1E;
        return znp_frame_build(wire, cap, ZNP_CMD0(ZNP_TYPE_AREQ, ZNP_SUBSYS_AF),
                               ZNP_AF_INCOMING_MSG, d, o);
    }
    size_t o = 0;
    d[o++] = XBEE_RX_EXPLICIT;
    for (int k = 0; k < 8; k++)
        d[o++] = (uint8_t)(s->ieee[i] >> (56 - 8 * k));
    d[o++] = (uint8_t)(s->nwk[i] >> 8);
    d[o++] = (uint8_t)s->nwk[i];
    d[o++] = 1; /* src endpoint */
    d[o++] = 1; /* dst endpoint */
    d[o++] = (uint8_t)(cluster >> 8);
    d[o++] = (uint8_t)cluster;
    d[o++] = (uint8_t)(ZCL_PROFILE_HA >> 8);
    d[o++] = (uint8_t)ZCL_PROFILE_HA;
    d[o++] = 0x01; /* acknowledged */
    memcpy(d + o, zcl, n);
    o += n;
    return xbee_frame_build(wire, cap, s->proto == ZB_PROTO_XBEE2 ? 2 : 1, d, o);
}

static size_t zcl_header(uint8_t *z, uint8_t seq, uint8_t cmd)
{
    z[0] = ZCL_FC_SERVER_TO_CLIENT | ZCL_FC_DISABLE_DEFAULT_RSP;
    z[1] = seq;
    z[2] = cmd;
    return 3;
}

/* Writes one report, corrupted or not; logs it when it went out valid. */
static int send_report(struct sim *s, size_t i, uint16_t cluster, int64_t raw)
{
    uint8_t z[32], wire[700];
    size_t n = zcl_header(z, ++s->seq, ZCL_CMD_REPORT);
    if (cluster == ZCL_CLUSTER_ELECTRICAL) {
        z[n++] = (uint8_t)ZCL_ATTR_ACTIVE_POWER;
        z[n++] = (uint8_t)(ZCL_ATTR_ACTIVE_POWER >> 8);
        z[n++] = ZCL_TYPE_INT16;
        z[n++] = (uint8_t)raw;
        z[n++] = (uint8_t)((uint64_t)raw >> 8);
    } else {
        z[n++] = (uint8_t)ZCL_ATTR_SUMMATION_DELIVERED;
        z[n++] = (uint8_t)(ZCL_ATTR_SUMMATION_DELIVERED >> 8);
        z[n++] = ZCL_TYPE_UINT48;
        for (int k = 0; k < 6; k++)
            z[n++] = (uint8_t)((uint64_t)raw >> (8 * k));
    }
    size_t wl = wrap(s, i, cluster, z, n, wire, sizeof wire);
    unsigned fault = 0;
    if (s->faults && (int)(rnd(s) % 100) < s->corrupt_pct) {
        unsigned kinds[3], nk = 0;
        for (unsigned f = FAULT_CHECKSUM; f <= FAULT_TRUNCATE; f <<= 1)
            if (s->faults & f)
                kinds[nk++] = f;
        fault = kinds[rnd(s) % nk];
    }
    bool lost = false;
    if (fault == FAULT_GARBAGE) {
        uint8_t g[16];
        size_t gl = 1 + rnd(s) % sizeof g;
        for (size_t k = 0; k < gl; k++)
            g[k] = (uint8_t)rnd(s);
        if (write_all(s, g, gl, &lost) < 0)
            return -1;
    } else if (fault == FAULT_CHECKSUM) {
        uint8_t sb = s->proto == ZB_PROTO_ZNP ? ZNP_SOF : XBEE_START;
        uint8_t b = wire[wl - 1] ^ 0x01;
        if (b == sb || b == XBEE_ESCAPE)
            b = wire[wl - 1] ^ 0x02;
        wire[wl - 1] = b;
    } else if (fault == FAULT_TRUNCATE) {
        wl = 1 + rnd(s) % (wl - 1);
    }
    if (write_all(s, wire, wl, &lost) < 0)
        return -1;
    bool valid = !lost && (fault == 0 || fault == FAULT_GARBAGE);
    if (valid) {
        s->sent_valid++;
        if (s->log) {
            fprintf(s->log, "%c %zu %016" PRIx64 " %" PRId64 "\n",
                    cluster == ZCL_CLUSTER_ELECTRICAL ? 'P' : 'E', i, s->ieee[i], raw);
            fflush(s->log);
        }
    } else {
        s->sent_corrupt++;
    }
    return 0;
}

/* ------------------------------------------------------------------------- requests */

static int meter_by_ieee(const struct sim *s, uint64_t ieee)
{
    for (size_t i = 0; i < s->n_meters; i++)
        if (s->ieee[i] == ieee)
            return (int)i;
    return -1;
}

static int meter_by_nwk(const struct sim *s, uint16_t nwk)
{
    for (size_t i = 0; i < s->n_meters; i++)
        if (s->nwk[i] == nwk)
            return (int)i;
    return -1;
}

/* Read Attributes Response for the attributes asked (scaling ones answered, others 0x86). */
static size_t read_response(const uint8_t *req, size_t n, uint16_t cluster, uint8_t *z,
                            size_t cap)
{
    if (n < 3 || (req[0] & (ZCL_FC_CLUSTER_SPECIFIC | ZCL_FC_MANUFACTURER)) ||
        req[2] != ZCL_CMD_READ)
        return 0;
    size_t o = zcl_header(z, req[1], ZCL_CMD_READ_RSP);
    for (size_t k = 3; k + 1 < n && o + 8 <= cap; k += 2) {
        uint16_t id = (uint16_t)(req[k] | req[k + 1] << 8);
        z[o++] = req[k];
        z[o++] = req[k + 1];
        uint32_t v;
        uint8_t type;
        if (cluster == ZCL_CLUSTER_ELECTRICAL && id == ZCL_ATTR_AC_POWER_MULTIPLIER) {
            type = ZCL_TYPE_UINT16, v = 1;
        } else if (cluster == ZCL_CLUSTER_ELECTRICAL && id == ZCL_ATTR_AC_POWER_DIVISOR) {
            type = ZCL_TYPE_UINT16, v = EM_DIVISOR;
        } else if (cluster == ZCL_CLUSTER_METERING && id == ZCL_ATTR_UNIT_OF_MEASURE) {
            type = ZCL_TYPE_ENUM8, v = 0;
        } else if (cluster == ZCL_CLUSTER_METERING && id == ZCL_ATTR_MULTIPLIER) {
            type = ZCL_TYPE_UINT24, v = 1;
        } else if (cluster == ZCL_CLUSTER_METERING && id == ZCL_ATTR_DIVISOR) {
            type = ZCL_TYPE_UINT24, v = MET_DIVISOR;
        } else {
            z[o++] = ZCL_STATUS_UNSUPPORTED_ATTRIBUTE;
            continue;
        }
        z[o++] = ZCL_STATUS_SUCCESS;
        z[o++] = type;
        size_t sz = zcl_type_size(type);
        for (size_t b = 0; b < sz; b++)
            z[o++] = (uint8_t)(v >> (8 * b));
    }
    return o;
}

static int send_raw(struct sim *s, const uint8_t *wire, size_t n)
{
    bool lost;
    return write_all(s, wire, n, &lost);
}

static int answer_xbee(struct sim *s, const uint8_t *d, size_t len)
{
    if (len < 20 || d[0] != XBEE_TX_EXPLICIT)
        return 0;
    uint64_t dst = 0;
    for (int k = 0; k < 8; k++)
        dst = (dst << 8) | d[2 + k];
    uint16_t cluster = (uint16_t)(d[14] << 8 | d[15]);
    int i = meter_by_ieee(s, dst);
    uint8_t wire[700], z[128];
    int mode = s->proto == ZB_PROTO_XBEE2 ? 2 : 1;
    if (d[1] != 0) { /* 0x8B Transmit Status for a non-zero frame id */
        uint8_t st[] = { 0x8B, d[1], 0xFF, 0xFE, 0, i < 0 ? 0x24 : 0, 0 };
        if (send_raw(s, wire, xbee_frame_build(wire, sizeof wire, mode, st, sizeof st)) < 0)
            return -1;
    }
    if (i < 0)
        return 0;
    size_t zl = read_response(d + 20, len - 20, cluster, z, sizeof z);
    if (zl == 0)
        return 0;
    s->answered++;
    s->got_request = true;
    return send_raw(s, wire, wrap(s, (size_t)i, cluster, z, zl, wire, sizeof wire));
}

static int answer_znp(struct sim *s, const uint8_t *f, size_t len)
{
    uint8_t cmd0 = f[0], cmd1 = f[1];
    const uint8_t *d = f + 2;
    size_t dl = len - 2;
    uint8_t wire[300], out[64], z[128];
    if (cmd0 == ZNP_CMD0(ZNP_TYPE_SREQ, ZNP_SUBSYS_ZDO) &&
        (cmd1 == ZNP_ZDO_NWK_ADDR_REQ || cmd1 == ZNP_ZDO_IEEE_ADDR_REQ)) {
        int i = -1;
        if (cmd1 == ZNP_ZDO_NWK_ADDR_REQ && dl >= 8) {
            uint64_t ieee = 0;
            for (int k = 7; k >= 0; k--)
                ieee = (ieee << 8) | d[k];
            i = meter_by_ieee(s, ieee);
        } else if (cmd1 == ZNP_ZDO_IEEE_ADDR_REQ && dl >= 2) {
            i = meter_by_nwk(s, (uint16_t)(d[0] | d[1] << 8));
        }
        out[0] = 0;
        if (send_raw(s, wire, znp_frame_build(wire, sizeof wire,
                                               ZNP_CMD0(ZNP_TYPE_SRSP, ZNP_SUBSYS_ZDO), cmd1, out,
                                               1)) < 0)
            return -1;
        s->got_request = true;
        if (i < 0)
            return 0;
        out[0] = 0;
        for (int k = 0; k < 8; k++)
            out[1 + k] = (uint8_t)(s->ieee[i] >> (8 * k));
        out[9] = (uint8_t)s->nwk[i];
        out[10] = (uint8_t)(s->nwk[i] >> 8);
        out[11] = 0;
        out[12] = 0;
        s->answered++;
        return send_raw(s, wire, znp_frame_build(wire, sizeof wire,
                                                  ZNP_CMD0(ZNP_TYPE_AREQ, ZNP_SUBSYS_ZDO),
                                                  (uint8_t)(cmd1 | 0x80), out, 13));
    }
    if (cmd0 == ZNP_CMD0(ZNP_TYPE_SREQ, ZNP_SUBSYS_AF) && cmd1 == ZNP_AF_DATA_REQUEST &&
        dl >= 10 && dl >= 10u + d[9]) {
        uint16_t nwk = (uint16_t)(d[0] | d[1] << 8);
        uint16_t cluster = (uint16_t)(d[4] | d[5] << 8);
        out[0] = 0;
        if (send_raw(s, wire, znp_frame_build(wire, sizeof wire,
                                               ZNP_CMD0(ZNP_TYPE_SRSP, ZNP_SUBSYS_AF), cmd1, out,
                                               1)) < 0)
            return -1;
        int i = meter_by_nwk(s, nwk);
        out[0] = i < 0 ? 0xCD : 0; /* NWK_NO_ROUTE */
        out[1] = d[3];
        out[2] = d[6];
        if (send_raw(s, wire, znp_frame_build(wire, sizeof wire,
                                               ZNP_CMD0(ZNP_TYPE_AREQ, ZNP_SUBSYS_AF),
                                               ZNP_AF_DATA_CONFIRM, out, 3)) < 0)
            return -1;
        if (i < 0)
            return 0;
        size_t zl = read_response(d + 10, d[9], cluster, z, sizeof z);
        if (zl == 0)
            return 0;
        s->answered++;
        s->got_request = true;
        return send_raw(s, wire, wrap(s, (size_t)i, cluster, z, zl, wire, sizeof wire));
    }
    return 0;
}

/* Reads and answers requests until `until_ms` (monotonic). */
static int service(struct sim *s, int64_t until_ms)
{
    for (;;) {
        int64_t left = until_ms - mono_ms();
        if (g_stop)
            return 0;
        if (!s->is_tty) {
            if (left > 0)
                sleep_ms((int)left);
            return 0;
        }
        if (left <= 0)
            left = 0;
        struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
        int r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return 0;
        uint8_t buf[512];
        ssize_t n = (pfd.revents & POLLIN) ? read(s->fd, buf, sizeof buf) : -1;
        if (n <= 0) {
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (port_reconnect(s) < 0)
                return -1;
            continue;
        }
        for (size_t off = 0; off < (size_t)n;) {
            off += zb_stream_feed(&s->in, buf + off, (size_t)n - off);
            struct zb_event ev;
            while (zb_stream_next(&s->in, &ev) == 1) {
                if (ev.kind != ZB_EVENT_FRAME)
                    continue;
                int rc = s->proto == ZB_PROTO_ZNP ? answer_znp(s, ev.data, ev.len)
                                                  : answer_xbee(s, ev.data, ev.len);
                if (rc < 0)
                    return -1;
            }
        }
    }
}

/* ------------------------------------------------------------------------- main */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: meter-sim --protocol xbee1|xbee2|znp [options]\n"
            "  --port PATH          pty (or serial device) to write to; default stdout\n"
            "  --meters N           number of meters (default 1, max %d)\n"
            "  --ieee HEX[,HEX...]  their IEEE addresses (default 0013a20040a10001, ...)\n"
            "  --watts SPEC         const:W | file:PATH (one value per line, cycled) |\n"
            "                       power:ON_W:OFF_W:PATH[,PATH..] (meter i reads 0/1 from\n"
            "                       PATH i every round, e.g. a BMC's chassis power file) |\n"
            "                       sine:MEAN:AMP:PERIOD_S   (default const:150)\n"
            "  --interval-ms MS     time between report rounds (default 1000)\n"
            "  --count N            report rounds, then linger and exit (default: forever)\n"
            "  --energy-every N     a Metering summation report every N rounds (default 5; 0 off)\n"
            "  --corrupt PCT        corrupt this share of frames (default 0)\n"
            "  --faults LIST        checksum,garbage,truncate (default all three)\n"
            "  --silence-ms MS --silence-every N   go quiet for MS after every N rounds\n"
            "  --unplug-ms MS --unplug-every N     close the port for MS after every N rounds\n"
            "  --wait-request       report only after the first request from the host\n"
            "  --linger-ms MS       keep answering requests this long after the last round\n"
            "  --reconnect-s S      how long to wait for a vanished pty (default 30)\n"
            "  --log PATH           append every valid report: P|E meter ieee raw\n"
            "  --seed N             fault randomness (default 1)\n",
            MAX_METERS);
}

static int parse_watts(struct sim *s, const char *spec)
{
    char *end;
    if (strncmp(spec, "const:", 6) == 0) {
        s->wk = W_CONST;
        s->w_const = strtod(spec + 6, &end);
        return *end ? -1 : 0;
    }
    if (strncmp(spec, "sine:", 5) == 0) {
        s->wk = W_SINE;
        s->w_mean = strtod(spec + 5, &end);
        if (*end != ':')
            return -1;
        s->w_amp = strtod(end + 1, &end);
        if (*end != ':')
            return -1;
        s->w_period_s = strtod(end + 1, &end);
        return *end || s->w_period_s <= 0 ? -1 : 0;
    }
    if (strncmp(spec, "power:", 6) == 0) { /* power:ON_W:OFF_W:PATH[,PATH...] */
        s->wk = W_POWER;
        s->w_on = strtod(spec + 6, &end);
        if (*end != ':')
            return -1;
        s->w_off = strtod(end + 1, &end);
        if (*end != ':' || !end[1])
            return -1;
        for (char *p = end + 1; *p && s->n_power < MAX_METERS;) {
            char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            s->power_path[s->n_power] = strndup(p, len);
            if (!s->power_path[s->n_power++])
                return -1;
            p += len + (comma ? 1 : 0);
        }
        return s->n_power > 0 ? 0 : -1;
    }
    if (strncmp(spec, "file:", 5) == 0) {
        FILE *f = fopen(spec + 5, "r");
        if (!f)
            return -1;
        s->wk = W_FILE;
        s->w_file = calloc(MAX_FILE_WATTS, sizeof *s->w_file);
        char line[128];
        while (s->w_file && s->n_file < MAX_FILE_WATTS && fgets(line, sizeof line, f)) {
            double v = strtod(line, &end);
            if (end != line)
                s->w_file[s->n_file++] = v;
        }
        fclose(f);
        return s->n_file > 0 ? 0 : -1;
    }
    return -1;
}

static long parse_long(const char *v, long lo, long hi, const char *what)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 0);
    if (errno || *end || x < lo || x > hi) {
        fprintf(stderr, "meter-sim: %s: \"%s\" is not a number in %ld..%ld\n", what, v, lo, hi);
        exit(2);
    }
    return x;
}

int main(int argc, char **argv)
{
    static struct sim s;
    s.proto = ZB_PROTO_XBEE1;
    s.n_meters = 1;
    s.wk = W_CONST;
    s.w_const = 150;
    s.interval_ms = 1000;
    s.energy_every = 5;
    s.faults = FAULT_CHECKSUM | FAULT_GARBAGE | FAULT_TRUNCATE;
    s.reconnect_s = 30;
    s.linger_ms = 300;
    s.rng = 1;
    s.fd = -1;
    const char *ieee_list = NULL;
    bool have_proto = false;
    enum {
        O_PROTO = 256, O_PORT, O_METERS, O_IEEE, O_WATTS, O_INTERVAL, O_COUNT, O_ENERGY,
        O_CORRUPT, O_FAULTS, O_SIL_MS, O_SIL_EVERY, O_UNP_MS, O_UNP_EVERY, O_WAIT, O_LINGER,
        O_RECON, O_LOG, O_SEED, O_HELP
    };
    static const struct option opts[] = {
        { "protocol", required_argument, NULL, O_PROTO },
        { "port", required_argument, NULL, O_PORT },
        { "meters", required_argument, NULL, O_METERS },
        { "ieee", required_argument, NULL, O_IEEE },
        { "watts", required_argument, NULL, O_WATTS },
        { "interval-ms", required_argument, NULL, O_INTERVAL },
        { "count", required_argument, NULL, O_COUNT },
        { "energy-every", required_argument, NULL, O_ENERGY },
        { "corrupt", required_argument, NULL, O_CORRUPT },
        { "faults", required_argument, NULL, O_FAULTS },
        { "silence-ms", required_argument, NULL, O_SIL_MS },
        { "silence-every", required_argument, NULL, O_SIL_EVERY },
        { "unplug-ms", required_argument, NULL, O_UNP_MS },
        { "unplug-every", required_argument, NULL, O_UNP_EVERY },
        { "wait-request", no_argument, NULL, O_WAIT },
        { "linger-ms", required_argument, NULL, O_LINGER },
        { "reconnect-s", required_argument, NULL, O_RECON },
        { "log", required_argument, NULL, O_LOG },
        { "seed", required_argument, NULL, O_SEED },
        { "help", no_argument, NULL, O_HELP },
        { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_PROTO:
            have_proto = true;
            if (strcmp(optarg, "xbee1") == 0)
                s.proto = ZB_PROTO_XBEE1;
            else if (strcmp(optarg, "xbee2") == 0)
                s.proto = ZB_PROTO_XBEE2;
            else if (strcmp(optarg, "znp") == 0)
                s.proto = ZB_PROTO_ZNP;
            else {
                fprintf(stderr, "meter-sim: --protocol: xbee1, xbee2 or znp\n");
                return 2;
            }
            break;
        case O_PORT:
            s.port = strcmp(optarg, "-") == 0 ? NULL : optarg;
            break;
        case O_METERS:
            s.n_meters = (size_t)parse_long(optarg, 1, MAX_METERS, "--meters");
            break;
        case O_IEEE:
            ieee_list = optarg;
            break;
        case O_WATTS:
            if (parse_watts(&s, optarg) < 0) {
                fprintf(stderr, "meter-sim: --watts %s: const:W, file:PATH or sine:M:A:P\n",
                        optarg);
                return 2;
            }
            break;
        case O_INTERVAL:
            s.interval_ms = (int)parse_long(optarg, 0, 3600000, "--interval-ms");
            break;
        case O_COUNT:
            s.count = parse_long(optarg, 0, 1L << 40, "--count");
            break;
        case O_ENERGY:
            s.energy_every = (int)parse_long(optarg, 0, 1000000, "--energy-every");
            break;
        case O_CORRUPT:
            s.corrupt_pct = (int)parse_long(optarg, 0, 100, "--corrupt");
            break;
        case O_FAULTS: {
            s.faults = 0;
            char *copy = strdup(optarg), *save = NULL;
            for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (strcmp(t, "checksum") == 0)
                    s.faults |= FAULT_CHECKSUM;
                else if (strcmp(t, "garbage") == 0)
                    s.faults |= FAULT_GARBAGE;
                else if (strcmp(t, "truncate") == 0)
                    s.faults |= FAULT_TRUNCATE;
                else {
                    fprintf(stderr, "meter-sim: --faults: unknown fault \"%s\"\n", t);
                    free(copy);
                    return 2;
                }
            }
            free(copy);
            break;
        }
        case O_SIL_MS:
            s.silence_ms = (int)parse_long(optarg, 0, 3600000, "--silence-ms");
            break;
        case O_SIL_EVERY:
            s.silence_every = (int)parse_long(optarg, 0, 1000000, "--silence-every");
            break;
        case O_UNP_MS:
            s.unplug_ms = (int)parse_long(optarg, 0, 3600000, "--unplug-ms");
            break;
        case O_UNP_EVERY:
            s.unplug_every = (int)parse_long(optarg, 0, 1000000, "--unplug-every");
            break;
        case O_WAIT:
            s.wait_request = true;
            break;
        case O_LINGER:
            s.linger_ms = (int)parse_long(optarg, 0, 3600000, "--linger-ms");
            break;
        case O_RECON:
            s.reconnect_s = (int)parse_long(optarg, 1, 3600, "--reconnect-s");
            break;
        case O_LOG:
            s.log = fopen(optarg, "a");
            if (!s.log) {
                fprintf(stderr, "meter-sim: --log %s: %s\n", optarg, strerror(errno));
                return 1;
            }
            break;
        case O_SEED:
            s.rng = (uint64_t)parse_long(optarg, 1, 1L << 40, "--seed") * 0x9E3779B97F4A7C15ULL;
            break;
        case O_HELP:
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!have_proto || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (s.rng == 0)
        s.rng = 1;
    for (size_t i = 0; i < s.n_meters; i++) {
        s.ieee[i] = 0x0013a20040a10001ULL + i;
        s.nwk[i] = (uint16_t)(0x1a2b + 0x111 * i);
    }
    if (ieee_list) {
        const char *p = ieee_list;
        for (size_t i = 0; i < s.n_meters && *p; i++) {
            uint8_t b[8];
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            char one[64];
            long got = -1;
            if (len < sizeof one) {
                memcpy(one, p, len);
                one[len] = '\0';
                got = zb_hex_parse(one, b, sizeof b);
            }
            if (got != 8) {
                fprintf(stderr, "meter-sim: --ieee: \"%.*s\" is not 8 hex bytes\n", (int)len, p);
                return 2;
            }
            s.ieee[i] = 0;
            for (int k = 0; k < 8; k++)
                s.ieee[i] = (s.ieee[i] << 8) | b[k];
            p = comma ? comma + 1 : p + len;
        }
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    if (port_open(&s) < 0 && port_reconnect(&s) < 0)
        return 1;
    if (s.proto == ZB_PROTO_ZNP) { /* a coordinator that just came up, and its meters joining */
        uint8_t wire[64], d[13] = { 9 };
        if (send_raw(&s, wire, znp_frame_build(wire, sizeof wire,
                                                ZNP_CMD0(ZNP_TYPE_AREQ, ZNP_SUBSYS_ZDO),
                                                ZNP_ZDO_STATE_CHANGE_IND, d, 1)) < 0)
            return 1;
        for (size_t i = 0; i < s.n_meters; i++) {
            d[0] = d[2] = (uint8_t)s.nwk[i];
            d[1] = d[3] = (uint8_t)(s.nwk[i] >> 8);
            for (int k = 0; k < 8; k++)
                d[4 + k] = (uint8_t)(s.ieee[i] >> (8 * k));
            d[12] = 0x8E;
            if (send_raw(&s, wire, znp_frame_build(wire, sizeof wire,
                                                    ZNP_CMD0(ZNP_TYPE_AREQ, ZNP_SUBSYS_ZDO),
                                                    ZNP_ZDO_END_DEVICE_ANNCE_IND, d, 13)) < 0)
                return 1;
        }
    }
    while (s.wait_request && !s.got_request && !g_stop)
        if (service(&s, mono_ms() + 100) < 0)
            return 1;
    int64_t t0 = mono_ms(), next = t0;
    int rc = 0;
    for (long rd = 0; !g_stop && (s.count == 0 || rd < s.count); rd++) {
        if (service(&s, next) < 0) {
            rc = 1;
            break;
        }
        double t_s = (double)(mono_ms() - t0) / 1000.0;
        for (size_t i = 0; i < s.n_meters && rc == 0; i++) {
            double w = watts_at(&s, i, rd, t_s);
            double raw = round(w * EM_DIVISOR);
            if (raw > 32767)
                raw = 32767;
            if (raw < -32767)
                raw = -32767;
            s.energy_wh[i] += w * s.interval_ms / 3600000.0;
            if (send_report(&s, i, ZCL_CLUSTER_ELECTRICAL, (int64_t)raw) < 0)
                rc = 1;
            if (rc == 0 && s.energy_every > 0 && rd % s.energy_every == 0 &&
                send_report(&s, i, ZCL_CLUSTER_METERING, (int64_t)llround(s.energy_wh[i])) < 0)
                rc = 1;
        }
        if (rc)
            break;
        next += s.interval_ms;
        if (s.silence_every > 0 && (rd + 1) % s.silence_every == 0)
            next += s.silence_ms;
        if (s.unplug_every > 0 && (rd + 1) % s.unplug_every == 0 && s.port) {
            port_close(&s);
            sleep_ms(s.unplug_ms);
            if (port_reconnect(&s) < 0) {
                rc = 1;
                break;
            }
        }
    }
    if (rc == 0)
        service(&s, mono_ms() + s.linger_ms);
    fprintf(stderr, "meter-sim: %ld valid frames, %ld corrupted, %ld requests answered\n",
            s.sent_valid, s.sent_corrupt, s.answered);
    if (s.log)
        fclose(s.log);
    port_close(&s);
    free(s.w_file);
    for (size_t i = 0; i < s.n_power; i++)
        free(s.power_path[i]);
    return rc;
}
