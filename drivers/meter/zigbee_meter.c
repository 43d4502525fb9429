/* zigbee_meter.c - the meter drivers "xbee1", "xbee2" and "znp": one ZigBee coordinator on a
 * serial port, one smart meter per host (config hosts[i].meter = its IEEE address).
 *
 * open: opens the port (serial.c) and asks every configured meter for its scaling attributes
 * (Read Attributes: ACPowerMultiplier/Divisor on 0x0B04, UnitOfMeasure/Multiplier/Divisor on
 * 0x0702); the answers are cached per meter. With a ZNP, which reports only 16-bit network
 * addresses in AF_INCOMING_MSG, the driver also asks ZDO for each meter's network address and
 * for the IEEE address of any unknown sender.
 * poll: reads with a timeout, resynchronises through garbage and corrupt frames (zb_stream),
 * turns Report Attributes / Read Attributes Response into readings (watts from ActivePower or
 * InstantaneousDemand, energy from CurrentSummationDelivered, joules integrated between two
 * readings), holds readings whose scaling is not known yet, and on a hang-up closes the port and
 * reopens it with exponential backoff without losing its state. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "driver.h"
#include "meter/serial.h"
#include "meter/zigbee.h"
#include "util/log.h"
#include "util/xalloc.h"

#define LOG_MODULE "meter"

#define MAX_METERS 64                    /* configured + discovered (unknown) meters */
#define PENDING_MAX 256                  /* readings waiting for scaling or an address */
#define READY_MAX 1024                   /* readings waiting for poll() */
#define REOPEN_MIN_NS (100 * 1000000LL)  /* backoff after a hang-up: 100 ms doubling ... */
#define REOPEN_MAX_NS (2 * 1000000000LL) /* ... up to 2 s */
#define REQUEST_EVERY_NS 1000000000LL    /* re-ask for scaling/addresses at most once a second */
#define PENDING_MAX_AGE_NS (30 * 1000000000LL)
#define WRITE_TIMEOUT_MS 200
#define GAP_MIN_NS (50 * 1000000LL)      /* quiet line inside a frame: the frame was cut ... */
#define GAP_BYTES 64                     /* ... or this many byte times, if longer */
#define COORD_ENDPOINT 1
#define DEFAULT_METER_ENDPOINT 1

enum scale_bits { SC_MULT = 1, SC_DIV = 2, SC_UNIT = 4 };
#define EM_COMPLETE (SC_MULT | SC_DIV)
#define MET_COMPLETE (SC_MULT | SC_DIV | SC_UNIT)

struct zmeter {
    uint64_t ieee;
    bool has_ieee;             /* false: known only by network address (ZNP, not resolved yet) */
    int host;                  /* config host index, -1 if not in config */
    bool has_nwk;
    uint16_t nwk;
    uint8_t endpoint;
    unsigned em_bits, met_bits;
    double em_mult, em_div, met_mult, met_div;
    unsigned unit;
    int64_t em_asked_ns, met_asked_ns, addr_asked_ns;
    bool warned_unscaled, warned_div0, warned_unit;
    bool has_last;
    double last_w;
    int64_t last_t_ns;
};

struct raw_reading {
    int meter;                 /* index into meters */
    uint16_t cluster;
    int64_t t_ns;
    int64_t queued_mono_ns;
    bool has_power, has_demand, has_sum;
    int64_t power, demand;
    uint64_t sum;
};

struct zb_meter {
    enum zb_proto proto;
    const struct clock *clock;
    char *port;
    struct serial_opts opts;
    int read_timeout_ms;
    int64_t stale_ns;
    int64_t gap_ns;
    int64_t last_rx_ns;
    bool idle_checked;            /* the quiet line was already looked at since the last read */
    struct zmeter meters[MAX_METERS];
    size_t n_meters;
    bool table_full_warned;
    struct serial_port *sp;
    bool ever_opened;
    int64_t next_open_ns;
    int64_t backoff_ns;
    struct log_complaint open_fail;
    struct zb_stream *stream;
    struct zb_stream_counts done; /* counts of streams before the last reopen */
    struct raw_reading pending[PENDING_MAX];
    size_t n_pending;
    struct meter_reading ready[READY_MAX];
    size_t ready_head, n_ready;
    struct meter_stats stats;
    uint8_t zcl_seq;
    uint8_t znp_trans;
};

static int64_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t wall_now(const struct zb_meter *s)
{
    if (s->clock)
        return clock_now_ns(s->clock);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void ieee_str(uint64_t v, char *buf, size_t n)
{
    snprintf(buf, n, "%02x:%02x:%02x:%02x:%02x:%02x:%02x:%02x", (unsigned)(v >> 56) & 0xFF,
             (unsigned)(v >> 48) & 0xFF, (unsigned)(v >> 40) & 0xFF, (unsigned)(v >> 32) & 0xFF,
             (unsigned)(v >> 24) & 0xFF, (unsigned)(v >> 16) & 0xFF, (unsigned)(v >> 8) & 0xFF,
             (unsigned)v & 0xFF);
}

/* ------------------------------------------------------------------------- meter table */

static int meter_by_ieee(struct zb_meter *s, uint64_t ieee)
{
    for (size_t i = 0; i < s->n_meters; i++)
        if (s->meters[i].has_ieee && s->meters[i].ieee == ieee)
            return (int)i;
    return -1;
}

static int meter_by_nwk(struct zb_meter *s, uint16_t nwk)
{
    for (size_t i = 0; i < s->n_meters; i++)
        if (s->meters[i].has_nwk && s->meters[i].nwk == nwk)
            return (int)i;
    return -1;
}

static int meter_add(struct zb_meter *s)
{
    if (s->n_meters == MAX_METERS) {
        if (!s->table_full_warned)
            JLOG_WARN("event=meter_table_full max=%d", MAX_METERS);
        s->table_full_warned = true;
        return -1;
    }
    struct zmeter *m = &s->meters[s->n_meters];
    memset(m, 0, sizeof *m);
    m->host = -1;
    m->endpoint = DEFAULT_METER_ENDPOINT;
    m->em_mult = m->em_div = m->met_mult = m->met_div = 1;
    m->em_asked_ns = m->met_asked_ns = m->addr_asked_ns = INT64_MIN / 2;
    return (int)s->n_meters++;
}

/* A sender not in config: counted each frame, logged once, given a table slot (host -1) so its
 * scaling can be read like any other meter's. */
static int meter_unknown(struct zb_meter *s, bool has_ieee, uint64_t ieee, uint16_t nwk)
{
    int i = meter_add(s);
    if (i < 0)
        return -1;
    struct zmeter *m = &s->meters[i];
    m->has_ieee = has_ieee;
    m->ieee = ieee;
    m->has_nwk = true;
    m->nwk = nwk;
    if (has_ieee) {
        char buf[32];
        ieee_str(ieee, buf, sizeof buf);
        JLOG_WARN("event=unknown_meter ieee=%s nwk=0x%04x note=\"not the meter of any host\"",
                  buf, nwk);
    }
    return i;
}

/* ------------------------------------------------------------------------- requests */

static void send_frame(struct zb_meter *s, const uint8_t *wire, size_t n)
{
    struct joule_err err = { 0 };
    if (!s->sp || n == 0)
        return;
    if (serial_write(s->sp, wire, n, WRITE_TIMEOUT_MS, &err) < 0)
        JLOG_DEBUG("event=write_failed error=\"%s\"", err.msg);
}

static void send_znp(struct zb_meter *s, uint8_t cmd0, uint8_t cmd1, const uint8_t *d, size_t n)
{
    uint8_t wire[ZNP_LEN_MAX + 5];
    send_frame(s, wire, znp_frame_build(wire, sizeof wire, cmd0, cmd1, d, n));
}

/* False when the meter cannot be addressed yet (ZNP: network address unknown). */
static bool send_zcl(struct zb_meter *s, struct zmeter *m, uint16_t cluster, const uint8_t *zcl,
                     size_t n)
{
    if (s->proto == ZB_PROTO_ZNP) {
        if (!m->has_nwk)
            return false;
        uint8_t d[ZNP_LEN_MAX];
        d[0] = (uint8_t)m->nwk;
        d[1] = (uint8_t)(m->nwk >> 8);
        d[2] = m->endpoint;
        d[3] = COORD_ENDPOINT;
        d[4] = (uint8_t)cluster;
        d[5] = (uint8_t)(cluster >> 8);
        d[6] = ++s->znp_trans;
        d[7] = 0;    /* options */
        d[8] = 0x1E; /* radius */
        d[9] = (uint8_t)n;
        memcpy(d + 10, zcl, n);
        send_znp(s, ZNP_CMD0(ZNP_TYPE_SREQ, ZNP_SUBSYS_AF), ZNP_AF_DATA_REQUEST, d, 10 + n);
        return true;
    }
    if (!m->has_ieee)
        return false;
    uint8_t data[64], wire[2 * 64 + 8];
    size_t dl = xbee_explicit_tx(data, sizeof data, 0, m->ieee, m->has_nwk ? m->nwk : 0xFFFE,
                                 COORD_ENDPOINT, m->endpoint, cluster, ZCL_PROFILE_HA, zcl, n);
    int mode = s->proto == ZB_PROTO_XBEE2 ? 2 : 1;
    send_frame(s, wire, xbee_frame_build(wire, sizeof wire, mode, data, dl));
    return true;
}

static void ask_scaling(struct zb_meter *s, struct zmeter *m, uint16_t cluster, int64_t now)
{
    static const uint16_t em[] = { ZCL_ATTR_AC_POWER_MULTIPLIER, ZCL_ATTR_AC_POWER_DIVISOR };
    static const uint16_t met[] = { ZCL_ATTR_UNIT_OF_MEASURE, ZCL_ATTR_MULTIPLIER,
                                    ZCL_ATTR_DIVISOR };
    int64_t *asked = cluster == ZCL_CLUSTER_ELECTRICAL ? &m->em_asked_ns : &m->met_asked_ns;
    if (now - *asked < REQUEST_EVERY_NS)
        return;
    uint8_t zcl[16];
    size_t n = cluster == ZCL_CLUSTER_ELECTRICAL
                   ? zcl_build_read(zcl, sizeof zcl, ++s->zcl_seq, em, 2)
                   : zcl_build_read(zcl, sizeof zcl, ++s->zcl_seq, met, 3);
    if (send_zcl(s, m, cluster, zcl, n))
        *asked = now;
}

/* ZNP: the network address of a configured meter, or the IEEE address of a sender. */
static void ask_address(struct zb_meter *s, struct zmeter *m, int64_t now)
{
    if (s->proto != ZB_PROTO_ZNP || now - m->addr_asked_ns < REQUEST_EVERY_NS)
        return;
    m->addr_asked_ns = now;
    uint8_t d[10];
    if (m->has_ieee) {
        for (int k = 0; k < 8; k++)
            d[k] = (uint8_t)(m->ieee >> (8 * k));
        d[8] = 0; /* single device */
        d[9] = 0;
        send_znp(s, ZNP_CMD0(ZNP_TYPE_SREQ, ZNP_SUBSYS_ZDO), ZNP_ZDO_NWK_ADDR_REQ, d, 10);
    } else if (m->has_nwk) {
        d[0] = (uint8_t)m->nwk;
        d[1] = (uint8_t)(m->nwk >> 8);
        d[2] = 0;
        d[3] = 0;
        send_znp(s, ZNP_CMD0(ZNP_TYPE_SREQ, ZNP_SUBSYS_ZDO), ZNP_ZDO_IEEE_ADDR_REQ, d, 4);
    }
}

/* ------------------------------------------------------------------------- readings */

static void ready_push(struct zb_meter *s, const struct meter_reading *r)
{
    if (s->n_ready == READY_MAX) { /* the controller stopped polling: keep the newest */
        s->ready_head = (s->ready_head + 1) % READY_MAX;
        s->n_ready--;
        s->stats.dropped++;
    }
    s->ready[(s->ready_head + s->n_ready) % READY_MAX] = *r;
    s->n_ready++;
    s->stats.readings++;
}

static bool scaling_known(const struct zmeter *m, const struct raw_reading *r)
{
    if (!m->has_ieee)
        return false;
    if (r->cluster == ZCL_CLUSTER_ELECTRICAL)
        return (m->em_bits & EM_COMPLETE) == EM_COMPLETE;
    return (m->met_bits & MET_COMPLETE) == MET_COMPLETE;
}

/* Scaled reading from a raw one whose meter's scaling is known. */
static void emit(struct zb_meter *s, const struct raw_reading *r)
{
    struct zmeter *m = &s->meters[r->meter];
    struct meter_reading out = { .ieee = m->ieee, .host = m->host, .t_ns = r->t_ns };
    char buf[32];
    if (r->cluster == ZCL_CLUSTER_ELECTRICAL) {
        if (r->has_power && m->em_div != 0) {
            out.has_watts = true;
            out.watts = (double)r->power * m->em_mult / m->em_div;
        } else if (r->has_power && !m->warned_div0) {
            m->warned_div0 = true;
            ieee_str(m->ieee, buf, sizeof buf);
            JLOG_WARN("event=unknown_scaling ieee=%s cluster=0x0b04 note=\"divisor 0\"", buf);
        }
    } else {
        bool usable = m->met_div != 0 && m->unit == 0; /* 0 = kWh / kW, binary */
        if (!usable && (r->has_sum || r->has_demand) && !m->warned_unit) {
            m->warned_unit = true;
            ieee_str(m->ieee, buf, sizeof buf);
            JLOG_WARN("event=unknown_scaling ieee=%s cluster=0x0702 unit=%u divisor=%g", buf,
                      m->unit, m->met_div);
        }
        if (usable && r->has_sum) {
            out.has_energy = true;
            out.energy_kwh = (double)r->sum * m->met_mult / m->met_div;
        }
        if (usable && r->has_demand) {
            out.has_watts = true;
            out.watts = (double)r->demand * m->met_mult / m->met_div * 1000.0;
        }
    }
    if (!out.has_watts && !out.has_energy) {
        s->stats.dropped++;
        return;
    }
    if (out.has_watts) {
        int64_t dt = r->t_ns - m->last_t_ns;
        if (m->has_last && dt > 0 && dt <= s->stale_ns) {
            out.has_joules = true;
            out.interval_ns = dt;
            out.joules = (m->last_w + out.watts) / 2.0 * (double)dt / 1e9;
        }
        m->has_last = true;
        m->last_w = out.watts;
        m->last_t_ns = r->t_ns;
    }
    ready_push(s, &out);
}

static void pending_add(struct zb_meter *s, const struct raw_reading *r)
{
    if (s->n_pending == PENDING_MAX) {
        memmove(s->pending, s->pending + 1, (PENDING_MAX - 1) * sizeof s->pending[0]);
        s->n_pending--;
        s->stats.dropped++;
    }
    s->pending[s->n_pending++] = *r;
}

/* Emits pending readings whose meter became usable (in arrival order), drops expired ones. */
static void pending_resolve(struct zb_meter *s, int64_t now)
{
    size_t k = 0;
    for (size_t i = 0; i < s->n_pending; i++) {
        struct raw_reading *r = &s->pending[i];
        struct zmeter *m = &s->meters[r->meter];
        if (scaling_known(m, r)) {
            emit(s, r);
            continue;
        }
        if (now - r->queued_mono_ns > PENDING_MAX_AGE_NS) {
            s->stats.dropped++;
            if (!m->warned_unscaled) {
                char buf[32];
                m->warned_unscaled = true;
                ieee_str(m->ieee, buf, sizeof buf);
                JLOG_WARN("event=no_scaling ieee=%s nwk=0x%04x cluster=0x%04x note=\"no answer "
                          "to Read Attributes; readings dropped\"",
                          m->has_ieee ? buf : "?", m->nwk, r->cluster);
            }
            continue;
        }
        s->pending[k++] = *r;
    }
    s->n_pending = k;
}

/* ------------------------------------------------------------------------- ZCL -> readings */

static void scale_attr(struct zmeter *m, uint16_t cluster, const struct zcl_attr *a)
{
    bool ok = a->has_value && a->integer;
    bool unsupported = a->has_status && a->status == ZCL_STATUS_UNSUPPORTED_ATTRIBUTE;
    if (!ok && !unsupported)
        return;
    /* An attribute the meter does not have takes its ZCL default: multiplier/divisor 1, kWh. */
    double v = ok ? (double)a->value : 1.0;
    if (cluster == ZCL_CLUSTER_ELECTRICAL) {
        if (a->id == ZCL_ATTR_AC_POWER_MULTIPLIER) {
            m->em_mult = v;
            m->em_bits |= SC_MULT;
        } else if (a->id == ZCL_ATTR_AC_POWER_DIVISOR) {
            m->em_div = v;
            m->em_bits |= SC_DIV;
        }
    } else if (cluster == ZCL_CLUSTER_METERING) {
        if (a->id == ZCL_ATTR_MULTIPLIER) {
            m->met_mult = v;
            m->met_bits |= SC_MULT;
        } else if (a->id == ZCL_ATTR_DIVISOR) {
            m->met_div = v;
            m->met_bits |= SC_DIV;
        } else if (a->id == ZCL_ATTR_UNIT_OF_MEASURE) {
            m->unit = ok ? (unsigned)a->value : 0;
            m->met_bits |= SC_UNIT;
        }
    }
}

static void handle_zcl(struct zb_meter *s, int mi, uint8_t src_ep, const struct zcl_frame *z,
                       int64_t t_ns, int64_t now)
{
    struct zmeter *m = &s->meters[mi];
    m->endpoint = src_ep;
    bool standard = !(z->frame_control & ZCL_FC_MANUFACTURER); /* else: vendor attribute ids */
    bool from_server = (z->frame_control & ZCL_FC_SERVER_TO_CLIENT) != 0;
    if (z->ignore || !standard || !from_server ||
        (z->cluster_id != ZCL_CLUSTER_ELECTRICAL && z->cluster_id != ZCL_CLUSTER_METERING)) {
        s->stats.other_frames++;
        return;
    }
    struct raw_reading r = { .meter = mi, .cluster = z->cluster_id, .t_ns = t_ns,
                             .queued_mono_ns = now };
    bool scaled_before = scaling_known(m, &r);
    for (size_t i = 0; i < z->n_attrs; i++) {
        const struct zcl_attr *a = &z->attrs[i];
        scale_attr(m, z->cluster_id, a);
        if (!a->has_value || !a->integer || zcl_value_invalid(a))
            continue;
        if (z->cluster_id == ZCL_CLUSTER_ELECTRICAL && a->id == ZCL_ATTR_ACTIVE_POWER) {
            r.has_power = true;
            r.power = a->value;
        } else if (z->cluster_id == ZCL_CLUSTER_METERING) {
            if (a->id == ZCL_ATTR_SUMMATION_DELIVERED) {
                r.has_sum = true;
                r.sum = (uint64_t)a->value;
            } else if (a->id == ZCL_ATTR_INSTANTANEOUS_DEMAND) {
                r.has_demand = true;
                r.demand = a->value;
            }
        }
    }
    if (!scaled_before && scaling_known(m, &r))
        pending_resolve(s, now);
    if (!r.has_power && !r.has_sum && !r.has_demand)
        return;
    if (scaling_known(m, &r) && s->n_pending == 0) {
        emit(s, &r);
        return;
    }
    pending_add(s, &r); /* keeps per-meter order behind older pending readings */
    if (m->has_ieee)
        ask_scaling(s, m, z->cluster_id, now);
    else
        ask_address(s, m, now);
    pending_resolve(s, now);
}

/* Source of a frame -> meter index; counts unknown meters. */
static int source_meter(struct zb_meter *s, bool has_ieee, uint64_t ieee, bool has_nwk,
                        uint16_t nwk)
{
    int mi = has_ieee ? meter_by_ieee(s, ieee) : -1;
    if (mi < 0 && !has_ieee && has_nwk)
        mi = meter_by_nwk(s, nwk);
    if (mi < 0)
        mi = meter_unknown(s, has_ieee, ieee, nwk);
    if (mi < 0)
        return -1;
    struct zmeter *m = &s->meters[mi];
    if (has_nwk) {
        m->has_nwk = true;
        m->nwk = nwk;
    }
    return mi;
}

static void learn_address(struct zb_meter *s, uint64_t ieee, uint16_t nwk, int64_t now)
{
    int by_nwk = meter_by_nwk(s, nwk);
    int by_ieee = meter_by_ieee(s, ieee);
    if (by_nwk >= 0 && !s->meters[by_nwk].has_ieee) {
        if (by_ieee >= 0 && by_ieee != by_nwk) {
            /* The configured entry takes over the readings held under the bare address. */
            for (size_t i = 0; i < s->n_pending; i++)
                if (s->pending[i].meter == by_nwk)
                    s->pending[i].meter = by_ieee;
            s->meters[by_nwk].has_nwk = false;
        } else {
            s->meters[by_nwk].has_ieee = true;
            s->meters[by_nwk].ieee = ieee;
            by_ieee = by_nwk;
            char buf[32];
            ieee_str(ieee, buf, sizeof buf);
            JLOG_WARN("event=unknown_meter ieee=%s nwk=0x%04x note=\"not the meter of any "
                      "host\"", buf, nwk);
        }
    }
    if (by_ieee >= 0) {
        struct zmeter *m = &s->meters[by_ieee];
        m->has_nwk = true;
        m->nwk = nwk;
        /* now that the meter can be addressed, ask for the scaling it still lacks */
        if ((m->em_bits & EM_COMPLETE) != EM_COMPLETE)
            ask_scaling(s, m, ZCL_CLUSTER_ELECTRICAL, now);
        if ((m->met_bits & MET_COMPLETE) != MET_COMPLETE)
            ask_scaling(s, m, ZCL_CLUSTER_METERING, now);
    }
    pending_resolve(s, now);
}

static bool frame_xbee(struct zb_meter *s, const struct zb_event *ev, int64_t t_ns, int64_t now)
{
    struct xbee_frame f;
    if (xbee_frame_parse(ev->data, ev->len, s->proto == ZB_PROTO_XBEE2 ? 2 : 1, &f) < 0)
        return false;
    if (!zb_frame_plausible(s->proto, ev->data, ev->len))
        return false;
    if (f.frame_type != XBEE_RX_EXPLICIT) {
        s->stats.other_frames++;
        return true;
    }
    struct zcl_frame z;
    if (zcl_decode(f.payload, f.payload_len, f.cluster_id, &z) < 0)
        return false;
    s->stats.frames_ok++;
    int mi = source_meter(s, true, f.src64, f.src16 != 0xFFFE, f.src16);
    if (mi < 0)
        return true;
    if (s->meters[mi].host < 0)
        s->stats.unknown_meter++;
    handle_zcl(s, mi, f.src_endpoint, &z, t_ns, now);
    return true;
}

static bool frame_znp(struct zb_meter *s, const struct zb_event *ev, int64_t t_ns, int64_t now)
{
    struct znp_frame f;
    if (znp_frame_parse(ev->data, ev->len, &f) < 0)
        return false;
    if (f.incoming) {
        struct zcl_frame z;
        if (zcl_decode(f.payload, f.len, f.cluster_id, &z) < 0)
            return false;
        s->stats.frames_ok++;
        int mi = source_meter(s, f.has_src64, f.src64, f.has_src16, f.src16);
        if (mi < 0)
            return true;
        if (s->meters[mi].has_ieee && s->meters[mi].host < 0)
            s->stats.unknown_meter++;
        handle_zcl(s, mi, f.src_endpoint, &z, t_ns, now);
        return true;
    }
    if (!zb_frame_plausible(s->proto, ev->data, ev->len))
        return false;
    const uint8_t *d = f.data;
    bool zdo = f.cmd0 == ZNP_CMD0(ZNP_TYPE_AREQ, ZNP_SUBSYS_ZDO);
    if (zdo && (f.cmd1 == ZNP_ZDO_NWK_ADDR_RSP || f.cmd1 == ZNP_ZDO_IEEE_ADDR_RSP) &&
        f.data_length >= 11 && d[0] == 0) {
        uint64_t ieee = 0;
        for (int k = 8; k >= 1; k--)
            ieee = (ieee << 8) | d[k];
        learn_address(s, ieee, (uint16_t)(d[9] | d[10] << 8), now);
    } else if (zdo && f.cmd1 == ZNP_ZDO_END_DEVICE_ANNCE_IND && f.data_length >= 13) {
        uint64_t ieee = 0;
        for (int k = 11; k >= 4; k--)
            ieee = (ieee << 8) | d[k];
        learn_address(s, ieee, (uint16_t)(d[2] | d[3] << 8), now);
    }
    s->stats.other_frames++;
    return true;
}

static void drain_stream(struct zb_meter *s)
{
    struct zb_event ev;
    int64_t now = mono_now();
    int64_t t_ns = wall_now(s);
    while (zb_stream_next(s->stream, &ev) == 1) {
        if (ev.kind != ZB_EVENT_FRAME)
            continue; /* counted by the stream */
        bool ok = s->proto == ZB_PROTO_ZNP ? frame_znp(s, &ev, t_ns, now)
                                           : frame_xbee(s, &ev, t_ns, now);
        if (!ok) /* checksum matched by chance, or the ZCL inside is broken: rescan */
            zb_stream_reject_last(s->stream);
    }
}

/* ------------------------------------------------------------------------- port */

static void port_close(struct zb_meter *s)
{
    if (!s->sp)
        return;
    serial_close(s->sp);
    s->sp = NULL;
    /* a frame cut by the hang-up must not be glued to what comes after the reopen */
    const struct zb_stream_counts *c = &s->stream->counts;
    s->done.frames += c->frames;
    for (int i = 0; i < ZB_REJECT__COUNT; i++)
        s->done.rejected[i] += c->rejected[i];
    s->done.garbage_bytes += c->garbage_bytes;
    s->done.resyncs += c->resyncs;
    zb_stream_init(s->stream, s->proto);
}

static int port_open(struct zb_meter *s, struct joule_err *err)
{
    int rc = serial_open(s->port, &s->opts, &s->sp, err);
    int64_t now = mono_now();
    if (rc < 0) {
        s->next_open_ns = now + s->backoff_ns;
        s->backoff_ns = s->backoff_ns * 2 > REOPEN_MAX_NS ? REOPEN_MAX_NS : s->backoff_ns * 2;
        if (log_complain(&s->open_fail))
            JLOG_WARN("event=port_unavailable port=%s error=\"%s\"", s->port, err->msg);
        return rc;
    }
    unsigned long fails = log_release(&s->open_fail);
    if (s->ever_opened) {
        s->stats.reopens++;
        JLOG_NOTICE("event=port_reopened port=%s device=%s backend=%s failures=%lu", s->port,
                    serial_device(s->sp), serial_backend(s->sp), fails);
    } else {
        JLOG_INFO("event=port_opened port=%s device=%s backend=%s", s->port,
                  serial_device(s->sp), serial_backend(s->sp));
    }
    s->ever_opened = true;
    s->backoff_ns = REOPEN_MIN_NS;
    /* scaling is cached across reopens; ask only for what is still missing */
    for (size_t i = 0; i < s->n_meters; i++) {
        struct zmeter *m = &s->meters[i];
        m->em_asked_ns = m->met_asked_ns = m->addr_asked_ns = INT64_MIN / 2;
        if (s->proto == ZB_PROTO_ZNP && !m->has_nwk)
            ask_address(s, m, now);
        if ((m->em_bits & EM_COMPLETE) != EM_COMPLETE)
            ask_scaling(s, m, ZCL_CLUSTER_ELECTRICAL, now);
        if ((m->met_bits & MET_COMPLETE) != MET_COMPLETE)
            ask_scaling(s, m, ZCL_CLUSTER_METERING, now);
    }
    return 0;
}

/* ------------------------------------------------------------------------- ops */

static int zb_create(enum zb_proto proto, const struct config *cfg, const struct drv_env *env,
                     void **state, struct joule_err *err)
{
    if (!cfg->meter.port || !*cfg->meter.port)
        return joule_err_set(err, JOULE_ECONFIG, "meter: no serial port configured");
    struct zb_meter *s = xcalloc(1, sizeof *s);
    s->proto = proto;
    s->clock = env->clock;
    s->port = xstrdup(cfg->meter.port);
    s->opts = (struct serial_opts){ .baud = cfg->meter.baud, .data_bits = cfg->meter.data_bits,
                                    .parity = cfg->meter.parity,
                                    .stop_bits = cfg->meter.stop_bits, .flow = cfg->meter.flow };
    int64_t ms = cfg->meter.read_timeout_ns / 1000000;
    s->read_timeout_ms = ms < 1 ? 1 : (int)ms;
    s->stale_ns = cfg->meter.stale_ns;
    /* 10 bits per byte on the wire (start + 8 data + stop, more with parity: close enough) */
    int baud = cfg->meter.baud > 0 ? cfg->meter.baud : 9600;
    s->gap_ns = (int64_t)GAP_BYTES * 10 * 1000000000LL / baud;
    if (s->gap_ns < GAP_MIN_NS)
        s->gap_ns = GAP_MIN_NS;
    s->backoff_ns = REOPEN_MIN_NS;
    s->stream = xmalloc(sizeof *s->stream);
    zb_stream_init(s->stream, proto);
    for (size_t i = 0; i < cfg->n_hosts; i++) {
        if (!cfg->hosts[i].meter)
            continue;
        int mi = meter_add(s);
        if (mi < 0) {
            free(s->stream);
            free(s->port);
            free(s);
            return joule_err_set(err, JOULE_ECONFIG, "meter: more than %d meters", MAX_METERS);
        }
        s->meters[mi].has_ieee = true;
        s->meters[mi].ieee = cfg->hosts[i].meter_ieee;
        s->meters[mi].host = (int)i;
    }
    *state = s;
    return 0;
}

static int zb_create_xbee1(const struct config *cfg, const struct drv_env *env, void **state,
                           struct joule_err *err)
{
    return zb_create(ZB_PROTO_XBEE1, cfg, env, state, err);
}

static int zb_create_xbee2(const struct config *cfg, const struct drv_env *env, void **state,
                           struct joule_err *err)
{
    return zb_create(ZB_PROTO_XBEE2, cfg, env, state, err);
}

static int zb_create_znp(const struct config *cfg, const struct drv_env *env, void **state,
                         struct joule_err *err)
{
    return zb_create(ZB_PROTO_ZNP, cfg, env, state, err);
}

/* Fails when the port cannot be opened now; poll() keeps retrying with backoff either way. */
static int zb_open(void *state, struct joule_err *err)
{
    struct zb_meter *s = state;
    if (s->sp)
        return 0;
    return port_open(s, err);
}

static size_t take_ready(struct zb_meter *s, struct meter_reading *out, size_t max, size_t k)
{
    while (k < max && s->n_ready > 0) {
        out[k++] = s->ready[s->ready_head];
        s->ready_head = (s->ready_head + 1) % READY_MAX;
        s->n_ready--;
    }
    return k;
}

static void sleep_ns(int64_t ns)
{
    if (ns <= 0)
        return;
    struct timespec ts = { .tv_sec = ns / 1000000000LL, .tv_nsec = ns % 1000000000LL };
    nanosleep(&ts, NULL);
}

static int zb_poll(void *state, struct meter_reading *out, size_t max, int timeout_ms,
                   struct joule_err *err)
{
    struct zb_meter *s = state;
    if (timeout_ms < 1)
        timeout_ms = 1; /* never "wait forever", never spin */
    int64_t deadline = mono_now() + (int64_t)timeout_ms * 1000000LL;
    size_t k = take_ready(s, out, max, 0);
    uint8_t buf[512];
    while (k < max) {
        int64_t now = mono_now();
        if (now >= deadline)
            break;
        if (!s->sp) {
            if (now >= s->next_open_ns) {
                struct joule_err oe = { 0 };
                if (port_open(s, &oe) == 0)
                    continue;
            }
            int64_t until = s->next_open_ns < deadline ? s->next_open_ns : deadline;
            sleep_ns(until - now);
            continue;
        }
        pending_resolve(s, now);
        k = take_ready(s, out, max, k);
        if (k > 0)
            break;
        int64_t wait_until = deadline;
        if (zb_stream_pending(s->stream)) {
            /* a candidate is waiting for bytes: if the line stays quiet, it was cut */
            if (!s->idle_checked && now - s->last_rx_ns >= s->gap_ns) {
                s->idle_checked = true;
                zb_stream_idle(s->stream);
                drain_stream(s);
                continue;
            }
            if (!s->idle_checked && s->last_rx_ns + s->gap_ns < wait_until)
                wait_until = s->last_rx_ns + s->gap_ns;
        }
        int wait_ms = (int)((wait_until - now + 999999) / 1000000);
        struct joule_err re = { 0 };
        int n = serial_read(s->sp, buf, sizeof buf, wait_ms, &re);
        if (n > 0) {
            s->last_rx_ns = mono_now();
            s->idle_checked = false;
        }
        if (n < 0) {
            JLOG_WARN("event=port_lost port=%s error=\"%s\"", s->port, re.msg);
            port_close(s);
            s->next_open_ns = mono_now() + s->backoff_ns;
            continue;
        }
        for (size_t off = 0; off < (size_t)n;) {
            off += zb_stream_feed(s->stream, buf + off, (size_t)n - off);
            drain_stream(s);
        }
        k = take_ready(s, out, max, k);
        if (k > 0)
            break;
    }
    (void)err;
    return (int)k;
}

static void zb_stats(void *state, struct meter_stats *out)
{
    struct zb_meter *s = state;
    const struct zb_stream_counts *c = &s->stream->counts;
    *out = s->stats;
    out->bad_checksum = s->done.rejected[ZB_REJECT_CHECKSUM] + c->rejected[ZB_REJECT_CHECKSUM];
    out->truncated = s->done.rejected[ZB_REJECT_TRUNCATED] + c->rejected[ZB_REJECT_TRUNCATED] +
                     s->done.rejected[ZB_REJECT_LENGTH_OVERRUN] +
                     c->rejected[ZB_REJECT_LENGTH_OVERRUN] +
                     s->done.rejected[ZB_REJECT_OVERLAP] + c->rejected[ZB_REJECT_OVERLAP];
    out->rejected_length = s->done.rejected[ZB_REJECT_LENGTH] + c->rejected[ZB_REJECT_LENGTH];
    out->rejected_format = s->done.rejected[ZB_REJECT_FORMAT] + c->rejected[ZB_REJECT_FORMAT];
    out->resyncs = s->done.resyncs + c->resyncs;
    out->garbage_bytes = s->done.garbage_bytes + c->garbage_bytes;
}

static void zb_close(void *state)
{
    struct zb_meter *s = state;
    if (s)
        port_close(s);
}

static void zb_destroy(void *state)
{
    struct zb_meter *s = state;
    if (!s)
        return;
    port_close(s);
    free(s->stream);
    free(s->port);
    free(s);
}

const struct meter_ops meter_xbee1_ops = {
    .abi = JOULE_DRIVER_ABI,
    .name = "xbee1",
    .create = zb_create_xbee1,
    .open = zb_open,
    .poll = zb_poll,
    .stats = zb_stats,
    .close = zb_close,
    .destroy = zb_destroy,
};

const struct meter_ops meter_xbee2_ops = {
    .abi = JOULE_DRIVER_ABI,
    .name = "xbee2",
    .create = zb_create_xbee2,
    .open = zb_open,
    .poll = zb_poll,
    .stats = zb_stats,
    .close = zb_close,
    .destroy = zb_destroy,
};

const struct meter_ops meter_znp_ops = {
    .abi = JOULE_DRIVER_ABI,
    .name = "znp",
    .create = zb_create_znp,
    .open = zb_open,
    .poll = zb_poll,
    .stats = zb_stats,
    .close = zb_close,
    .destroy = zb_destroy,
};
