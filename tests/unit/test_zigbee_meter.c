/* The xbee1 meter driver against a pty the test plays the coordinator on (no sleeps: bytes are
 * written before the driver polls, and polls return as soon as readings are there): scaling read
 * at open and applied, readings held until scaled, joules between readings on the simulated
 * clock, unknown meters counted and logged once, vendor frames and ZCL invalid values ignored,
 * Metering energy and demand, divisor 0. */
#include "support/test_support.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "meter/zigbee.h"
#include "registry.h"
#include "util/log.h"
#include "util/xalloc.h"

#define S JOULE_NS_PER_S
#define IEEE_A 0x0013a20040a1b2c3ULL
#define IEEE_B 0x0013a20040a10001ULL
#define IEEE_X 0x0013a200deadbeefULL /* in no host's config */

struct fx {
    int master;
    struct clock_sim *cs;
    struct config *cfg;
    struct meter *m;
    struct zb_stream req; /* what the driver sent */
    uint64_t seen_ieee[64];
    uint16_t seen_cluster[64];
    size_t n_seen;
    int unknown_logs;
};

static void sink(void *arg, enum log_level level, const char *mod, const char *line)
{
    struct fx *f = arg;
    (void)level;
    (void)mod;
    if (strstr(line, "event=unknown_meter"))
        f->unknown_logs++;
}

static int setup_proto(void **state, const char *proto)
{
    struct fx *f = xcalloc(1, sizeof *f);
    f->master = posix_openpt(O_RDWR | O_NOCTTY);
    assert_true(f->master >= 0);
    assert_int_equal(grantpt(f->master), 0);
    assert_int_equal(unlockpt(f->master), 0);
    fcntl(f->master, F_SETFL, fcntl(f->master, F_GETFL) | O_NONBLOCK);
    char *text = xasprintf(
        "api = { listen = \"\"; };\n"
        "meter = { protocol = \"%s\"; port = \"%s\"; read_timeout_ms = 50; stale_s = 60; };\n"
        "hosts = ( { name = \"a\"; hypervisor = \"sim\"; meter = \"00:13:a2:00:40:a1:b2:c3\"; power = { methods = [\"sim\"]; }; },\n"
        "          { name = \"b\"; hypervisor = \"sim\"; meter = \"00:13:a2:00:40:a1:00:01\"; power = { methods = [\"sim\"]; }; } );",
        proto, ptsname(f->master));
    char *errors = NULL;
    if (config_load_string(text, &f->cfg, &errors) < 0)
        fail_msg("%s", errors);
    free(text);
    f->cs = clock_sim_new(1700000000LL * S);
    struct drv_env env = { .clock = clock_sim_clock(f->cs) };
    struct joule_err err = { 0 };
    assert_int_equal(meter_new(registry_find_meter(proto), f->cfg, &env, &f->m, &err), 0);
    log_set_sink(sink, f);
    if (meter_open(f->m, &err) < 0)
        fail_msg("%s", err.msg);
    zb_stream_init(&f->req, strcmp(proto, "znp") == 0 ? ZB_PROTO_ZNP : ZB_PROTO_XBEE1);
    f->req.requests = true;
    *state = f;
    return 0;
}

static int setup(void **state) { return setup_proto(state, "xbee1"); }
static int setup_znp(void **state) { return setup_proto(state, "znp"); }

static int teardown(void **state)
{
    struct fx *f = *state;
    meter_free(f->m);
    log_set_sink(NULL, NULL);
    close(f->master);
    config_free(f->cfg);
    clock_sim_free(f->cs);
    free(f);
    return 0;
}

/* Read Attributes requests the driver wrote: count per (ieee, cluster). */
static int requests_for(struct fx *f, uint64_t ieee, uint16_t cluster)
{
    uint8_t buf[4096];
    ssize_t n;
    int count = 0;
    while ((n = read(f->master, buf, sizeof buf)) > 0)
        zb_stream_feed(&f->req, buf, (size_t)n);
    struct zb_event ev;
    while (zb_stream_next(&f->req, &ev) == 1) {
        if (ev.kind != ZB_EVENT_FRAME || ev.len < 23 || ev.data[0] != XBEE_TX_EXPLICIT)
            continue;
        uint64_t dst = 0;
        for (int k = 0; k < 8; k++)
            dst = (dst << 8) | ev.data[2 + k];
        assert_int_equal(ev.data[22], ZCL_CMD_READ); /* fc, seq, cmd after the 20-byte header */
        if (f->n_seen < 64) {
            f->seen_ieee[f->n_seen] = dst;
            f->seen_cluster[f->n_seen++] = (uint16_t)(ev.data[14] << 8 | ev.data[15]);
        }
    }
    for (size_t i = 0; i < f->n_seen; i++)
        if (f->seen_ieee[i] == ieee && f->seen_cluster[i] == cluster)
            count++;
    return count;
}

static void send_zcl(struct fx *f, uint64_t ieee, uint16_t cluster, const uint8_t *zcl, size_t n)
{
    uint8_t d[128], wire[300];
    size_t o = 0;
    d[o++] = XBEE_RX_EXPLICIT;
    for (int k = 0; k < 8; k++)
        d[o++] = (uint8_t)(ieee >> (56 - 8 * k));
    d[o++] = 0x1a, d[o++] = 0x2b, d[o++] = 1, d[o++] = 1;
    d[o++] = (uint8_t)(cluster >> 8), d[o++] = (uint8_t)cluster, d[o++] = 0x01, d[o++] = 0x04;
    d[o++] = 0x01;
    memcpy(d + o, zcl, n);
    size_t wl = xbee_frame_build(wire, sizeof wire, 1, d, o + n);
    assert_int_equal(write(f->master, wire, wl), (ssize_t)wl);
}

static void send_power(struct fx *f, uint64_t ieee, int16_t raw)
{
    uint8_t z[] = { 0x18, 1, 0x0a, 0x0b, 0x05, 0x29, (uint8_t)raw, (uint8_t)((uint16_t)raw >> 8) };
    send_zcl(f, ieee, ZCL_CLUSTER_ELECTRICAL, z, sizeof z);
}

static void send_em_scaling(struct fx *f, uint64_t ieee, uint16_t mult, uint16_t div)
{
    uint8_t z[] = { 0x18, 2, 0x01, 0x04, 0x06, 0x00, 0x21, (uint8_t)mult, (uint8_t)(mult >> 8),
                    0x05, 0x06, 0x00, 0x21, (uint8_t)div, (uint8_t)(div >> 8) };
    send_zcl(f, ieee, ZCL_CLUSTER_ELECTRICAL, z, sizeof z);
}

static int poll_some(struct fx *f, struct meter_reading *r, size_t max, int timeout_ms)
{
    struct joule_err err = { 0 };
    int n = meter_poll(f->m, r, max, timeout_ms, &err);
    if (n < 0)
        fail_msg("%s", err.msg);
    return n;
}

static void test_scaling_held_then_joules(void **state)
{
    struct fx *f = *state;
    /* open asked both configured meters for both scaling sets */
    assert_int_equal(requests_for(f, IEEE_A, ZCL_CLUSTER_ELECTRICAL), 1);
    assert_int_equal(requests_for(f, IEEE_B, ZCL_CLUSTER_METERING), 1);
    struct meter_reading r[8];
    send_power(f, IEEE_A, 1523);
    assert_int_equal(poll_some(f, r, 8, 30), 0); /* held: scaling unknown */
    send_em_scaling(f, IEEE_A, 1, 10);
    assert_int_equal(poll_some(f, r, 8, 1000), 1);
    assert_int_equal(r[0].host, 0);
    assert_int_equal(r[0].ieee, IEEE_A);
    assert_true(r[0].has_watts);
    assert_float_equal(r[0].watts, 152.3, 1e-9);
    assert_false(r[0].has_joules); /* first reading: nothing to integrate yet */
    assert_int_equal(r[0].t_ns, 1700000000LL * S);
    int asked = requests_for(f, IEEE_A, ZCL_CLUSTER_ELECTRICAL);
    clock_sim_advance(f->cs, 10 * S);
    send_power(f, IEEE_A, 1600);
    assert_int_equal(poll_some(f, r, 8, 1000), 1);
    assert_float_equal(r[0].watts, 160.0, 1e-9);
    assert_true(r[0].has_joules);
    assert_int_equal(r[0].interval_ns, 10 * S);
    assert_float_equal(r[0].joules, (152.3 + 160.0) / 2 * 10, 1e-6);
    /* cached: once known, the scaling is not asked for again */
    assert_int_equal(requests_for(f, IEEE_A, ZCL_CLUSTER_ELECTRICAL), asked);
    /* a gap longer than stale_s is not integrated */
    clock_sim_advance(f->cs, 120 * S);
    send_power(f, IEEE_A, 1000);
    assert_int_equal(poll_some(f, r, 8, 1000), 1);
    assert_false(r[0].has_joules);
}

static void test_unknown_meter(void **state)
{
    struct fx *f = *state;
    struct meter_reading r[8];
    send_power(f, IEEE_X, 500);
    send_power(f, IEEE_X, 600);
    assert_int_equal(poll_some(f, r, 8, 30), 0);
    /* the driver asks the stranger for its scaling too; it has none: ZCL defaults (1/1) */
    assert_true(requests_for(f, IEEE_X, ZCL_CLUSTER_ELECTRICAL) >= 1);
    uint8_t unsup[] = { 0x18, 3, 0x01, 0x04, 0x06, 0x86, 0x05, 0x06, 0x86 };
    send_zcl(f, IEEE_X, ZCL_CLUSTER_ELECTRICAL, unsup, sizeof unsup);
    int n = poll_some(f, r, 8, 1000);
    assert_int_equal(n, 2);
    assert_int_equal(r[0].host, -1);
    assert_int_equal(r[0].ieee, IEEE_X);
    assert_float_equal(r[0].watts, 500.0, 1e-9);
    assert_float_equal(r[1].watts, 600.0, 1e-9);
    struct meter_stats st;
    meter_stats(f->m, &st);
    assert_int_equal(st.unknown_meter, 3); /* every frame from it counts */
    assert_int_equal(f->unknown_logs, 1); /* logged once */
}

static void test_ignored_frames(void **state)
{
    struct fx *f = *state;
    struct meter_reading r[8];
    send_em_scaling(f, IEEE_B, 1, 1);
    /* manufacturer-specific: attribute 0x050B is the vendor's, not ActivePower */
    uint8_t mfr[] = { 0x1c, 0x7c, 0x11, 0x31, 0x0a, 0x0b, 0x05, 0x29, 0x64, 0x00 };
    send_zcl(f, IEEE_B, ZCL_CLUSTER_ELECTRICAL, mfr, sizeof mfr);
    send_power(f, IEEE_B, (int16_t)0x8000); /* ZCL "invalid" */
    uint8_t dflt[] = { 0x18, 0x42, 0x0b, 0x00, 0x00 }; /* Default Response */
    send_zcl(f, IEEE_B, ZCL_CLUSTER_ELECTRICAL, dflt, sizeof dflt);
    send_power(f, IEEE_B, 42);
    assert_int_equal(poll_some(f, r, 8, 1000), 1);
    assert_float_equal(r[0].watts, 42.0, 1e-9);
    assert_int_equal(r[0].host, 1);
    struct meter_stats st;
    meter_stats(f->m, &st);
    assert_true(st.other_frames >= 2);
    assert_int_equal(st.unknown_meter, 0);
}

static void test_metering_energy_and_demand(void **state)
{
    struct fx *f = *state;
    struct meter_reading r[8];
    /* UnitOfMeasure 0 (kWh), Multiplier 1, Divisor 1000 */
    uint8_t scal[] = { 0x18, 0x23, 0x01, 0x00, 0x03, 0x00, 0x30, 0x00, 0x01, 0x03, 0x00, 0x22,
                       0x01, 0x00, 0x00, 0x02, 0x03, 0x00, 0x22, 0xe8, 0x03, 0x00 };
    send_zcl(f, IEEE_A, ZCL_CLUSTER_METERING, scal, sizeof scal);
    uint8_t sum[] = { 0x18, 0x20, 0x0a, 0x00, 0x00, 0x25, 0x14, 0x1a, 0x99, 0xbe, 0x1c, 0x00 };
    send_zcl(f, IEEE_A, ZCL_CLUSTER_METERING, sum, sizeof sum);
    uint8_t dem[] = { 0x18, 0x25, 0x0a, 0x00, 0x04, 0x2a, 0x24, 0xfa, 0xff };
    send_zcl(f, IEEE_A, ZCL_CLUSTER_METERING, dem, sizeof dem);
    int n = 0;
    for (int i = 0; i < 5 && n < 2; i++)
        n += poll_some(f, r + n, (size_t)(8 - n), 1000);
    assert_int_equal(n, 2);
    assert_true(r[0].has_energy);
    assert_false(r[0].has_watts);
    assert_float_equal(r[0].energy_kwh, 123456789.012, 1e-6);
    assert_true(r[1].has_watts);
    assert_float_equal(r[1].watts, -1500.0, 1e-9); /* -1.5 kW */
}

static void test_divisor_zero(void **state)
{
    struct fx *f = *state;
    struct meter_reading r[8];
    send_em_scaling(f, IEEE_B, 1, 0);
    send_power(f, IEEE_B, 100);
    send_em_scaling(f, IEEE_A, 1, 1);
    send_power(f, IEEE_A, 7);
    assert_int_equal(poll_some(f, r, 8, 1000), 1); /* only A's; B's has no usable scaling */
    assert_int_equal(r[0].host, 0);
    struct meter_stats st;
    meter_stats(f->m, &st);
    assert_int_equal(st.dropped, 1);
}

/* ---- ZNP: network addresses are learned through ZDO before anything can be asked */

struct znp_req {
    uint8_t cmd0, cmd1;
    uint8_t data[256];
    size_t len;
};

/* Next MT request the driver wrote (0 if none is waiting). */
static int next_znp_request(struct fx *f, struct znp_req *r)
{
    uint8_t buf[4096];
    ssize_t n;
    while ((n = read(f->master, buf, sizeof buf)) > 0)
        zb_stream_feed(&f->req, buf, (size_t)n);
    struct zb_event ev;
    while (zb_stream_next(&f->req, &ev) == 1) {
        if (ev.kind != ZB_EVENT_FRAME)
            continue;
        r->cmd0 = ev.data[0];
        r->cmd1 = ev.data[1];
        r->len = ev.len - 2;
        memcpy(r->data, ev.data + 2, r->len);
        return 1;
    }
    return 0;
}

static void send_mt(struct fx *f, uint8_t cmd0, uint8_t cmd1, const uint8_t *d, size_t n)
{
    uint8_t wire[300];
    size_t wl = znp_frame_build(wire, sizeof wire, cmd0, cmd1, d, n);
    assert_int_equal(write(f->master, wire, wl), (ssize_t)wl);
}

static void send_addr_rsp(struct fx *f, uint8_t cmd1, uint64_t ieee, uint16_t nwk)
{
    uint8_t d[13] = { 0 };
    for (int k = 0; k < 8; k++)
        d[1 + k] = (uint8_t)(ieee >> (8 * k));
    d[9] = (uint8_t)nwk;
    d[10] = (uint8_t)(nwk >> 8);
    send_mt(f, 0x45, cmd1, d, sizeof d);
}

/* AF_INCOMING_MSG (nwk source) or _EXT with a 64-bit source. */
static void send_incoming(struct fx *f, bool ext, uint64_t ieee, uint16_t nwk, uint16_t cluster,
                          const uint8_t *zcl, size_t n)
{
    uint8_t d[128];
    size_t o = 0;
    d[o++] = 0, d[o++] = 0, d[o++] = (uint8_t)cluster, d[o++] = (uint8_t)(cluster >> 8);
    if (ext) {
        d[o++] = 3;
        for (int k = 0; k < 8; k++)
            d[o++] = (uint8_t)(ieee >> (8 * k));
        d[o++] = 1, d[o++] = 0x62, d[o++] = 0x1a;          /* src ep, pan id */
        d[o++] = 1, d[o++] = 0, d[o++] = 0x60, d[o++] = 0; /* dst ep, bcast, lqi, sec */
        d[o++] = 0, d[o++] = 0, d[o++] = 0, d[o++] = 0, d[o++] = 0; /* timestamp, seq */
        d[o++] = (uint8_t)n, d[o++] = 0;
    } else {
        d[o++] = (uint8_t)nwk, d[o++] = (uint8_t)(nwk >> 8);
        d[o++] = 1, d[o++] = 1, d[o++] = 0, d[o++] = 0x73, d[o++] = 0;
        d[o++] = 0, d[o++] = 0, d[o++] = 0, d[o++] = 0, d[o++] = 0;
        d[o++] = (uint8_t)n;
    }
    memcpy(d + o, zcl, n);
    o += n;
    d[o++] = (uint8_t)nwk, d[o++] = (uint8_t)(nwk >> 8), d[o++] = 0x1e; /* trailer */
    send_mt(f, 0x44, ext ? ZNP_AF_INCOMING_MSG_EXT : ZNP_AF_INCOMING_MSG, d, o);
}

static void test_znp_addresses(void **state)
{
    struct fx *f = *state;
    struct meter_reading r[8];
    struct znp_req q;
    /* open asked ZDO for both configured meters' network addresses */
    int nwk_reqs = 0;
    while (next_znp_request(f, &q))
        if (q.cmd0 == 0x25 && q.cmd1 == ZNP_ZDO_NWK_ADDR_REQ)
            nwk_reqs++;
    assert_int_equal(nwk_reqs, 2);
    /* meter A reports through AF_INCOMING_MSG_EXT (64-bit source, no network address) */
    uint8_t pw[] = { 0x18, 1, 0x0a, 0x0b, 0x05, 0x29, 0x64, 0x00 };
    send_incoming(f, true, IEEE_A, 0, ZCL_CLUSTER_ELECTRICAL, pw, sizeof pw);
    assert_int_equal(poll_some(f, r, 8, 30), 0); /* held: no scaling, and A cannot be asked */
    send_addr_rsp(f, ZNP_ZDO_NWK_ADDR_RSP, IEEE_A, 0x1a2b);
    assert_int_equal(poll_some(f, r, 8, 30), 0);
    /* now the driver can ask A (AF_DATA_REQUEST to 0x1a2b, cluster 0x0b04, Read Attributes) */
    bool asked = false;
    while (next_znp_request(f, &q))
        if (q.cmd0 == 0x24 && q.cmd1 == ZNP_AF_DATA_REQUEST &&
            (q.data[0] | q.data[1] << 8) == 0x1a2b &&
            (q.data[4] | q.data[5] << 8) == ZCL_CLUSTER_ELECTRICAL && q.data[12] == ZCL_CMD_READ)
            asked = true;
    assert_true(asked);
    uint8_t scal[] = { 0x18, 2, 0x01, 0x04, 0x06, 0x00, 0x21, 1, 0, 0x05, 0x06, 0x00, 0x21, 10, 0 };
    send_incoming(f, false, 0, 0x1a2b, ZCL_CLUSTER_ELECTRICAL, scal, sizeof scal);
    assert_int_equal(poll_some(f, r, 8, 1000), 1);
    assert_int_equal(r[0].host, 0);
    assert_float_equal(r[0].watts, 10.0, 1e-9);

    /* a report from a network address nobody told us about: the driver asks ZDO who it is */
    send_incoming(f, false, 0, 0x2222, ZCL_CLUSTER_ELECTRICAL, pw, sizeof pw);
    assert_int_equal(poll_some(f, r, 8, 30), 0);
    bool who = false;
    while (next_znp_request(f, &q))
        if (q.cmd0 == 0x25 && q.cmd1 == ZNP_ZDO_IEEE_ADDR_REQ &&
            (q.data[0] | q.data[1] << 8) == 0x2222)
            who = true;
    assert_true(who);
    send_addr_rsp(f, ZNP_ZDO_IEEE_ADDR_RSP, IEEE_B, 0x2222); /* it is host b's meter */
    uint8_t unsup[] = { 0x18, 3, 0x01, 0x04, 0x06, 0x86, 0x05, 0x06, 0x86 };
    assert_int_equal(poll_some(f, r, 8, 30), 0);
    send_incoming(f, false, 0, 0x2222, ZCL_CLUSTER_ELECTRICAL, unsup, sizeof unsup);
    assert_int_equal(poll_some(f, r, 8, 1000), 1);
    assert_int_equal(r[0].host, 1);
    assert_int_equal(r[0].ieee, IEEE_B);
    assert_float_equal(r[0].watts, 100.0, 1e-9); /* no scaling attributes: 1/1 */
    struct meter_stats st;
    meter_stats(f->m, &st);
    assert_int_equal(st.unknown_meter, 0);
    assert_int_equal(f->unknown_logs, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scaling_held_then_joules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_meter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ignored_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metering_energy_and_demand, setup, teardown),
        cmocka_unit_test_setup_teardown(test_divisor_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_znp_addresses, setup_znp, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
