/* joulectl report on a seeded data set whose figures are worked out by hand below, in all four
 * formats, hosts off per hour included; malformed documents (missing fields, wrong types, impossible values) are skipped and
 * counted; another cluster's documents and those outside --since/--until do not count. */
#include "support/test_support.h"

#include <math.h>
#include <unistd.h>

#include "registry.h"
#include "store_fixture.h"
#include "store_support.h"

static struct ferret g_ferret;
static char *g_dir;
static char *g_joulectl;

#define MIN (60 * FX_S)
#define DB "report"

static struct store *g_store;

static void put(const char *coll, bson_t *doc)
{
    struct joule_err e = { 0 };
    const bson_t *one[1] = { doc };
    if (store_insert(g_store, coll, one, 1, &e) != 1)
        fail_msg("seed %s: %s", coll, e.msg);
    bson_destroy(doc);
}

static void put_json(const char *coll, const char *json)
{
    bson_error_t be;
    bson_t *d = bson_new_from_json((const uint8_t *)json, -1, &be);
    if (!d)
        fail_msg("seed json: %s: %s", be.message, json);
    put(coll, d);
}

/* A valid power sample at FX_T0 (08:00Z) + min minutes. */
static bson_t *ps(const char *cluster, const char *host, int min, double watts, double joules,
                  double interval_s)
{
    int64_t t = FX_T0 + (int64_t)min * MIN;
    char id[96];
    snprintf(id, sizeof id, "%s/%s/%lld", cluster, host, (long long)(t / 1000000));
    return BCON_NEW("_id", BCON_UTF8(id), "cluster", BCON_UTF8(cluster), "host", BCON_UTF8(host),
                    "meter", BCON_UTF8(""), "t", BCON_DATE_TIME(t / 1000000), "hour",
                    BCON_DATE_TIME(docs_hour_ns(t) / 1000000), "day",
                    BCON_DATE_TIME(docs_day_ns(t) / 1000000), "watts", BCON_DOUBLE(watts),
                    "joules", BCON_DOUBLE(joules), "interval_s", BCON_DOUBLE(interval_s), "source",
                    BCON_UTF8("meter"), "energy_from", BCON_UTF8("watts"), "meter_kwh", BCON_NULL);
}

/* A valid host sample (the stored power state) at FX_T0 + min minutes. */
static bson_t *hs(const char *cluster, const char *host, int min, const char *state)
{
    int64_t t = FX_T0 + (int64_t)min * MIN;
    char id[96];
    snprintf(id, sizeof id, "%s/%s/%lld", cluster, host, (long long)(t / 1000000));
    return BCON_NEW("_id", BCON_UTF8(id), "cluster", BCON_UTF8(cluster), "host", BCON_UTF8(host),
                    "t", BCON_DATE_TIME(t / 1000000), "load_pct", BCON_DOUBLE(10),
                    "cpu_instant_pct", BCON_DOUBLE(10), "mem_used_mib", BCON_DOUBLE(1024),
                    "mem_mib", BCON_DOUBLE(8192), "n_vms", BCON_INT32(0), "state",
                    BCON_UTF8(state), "reachable", BCON_BOOL(strcmp(state, "on") == 0));
}

static void migration(const char *cluster, const char *vm, const char *from, const char *to,
                      int min, int dur_s, bool ok, bool aborted)
{
    struct migration_record r = { .start_ns = FX_T0 + (int64_t)min * MIN, .ok = ok,
                                  .aborted = aborted, .downtime_ns = -1 };
    r.end_ns = r.start_ns + (int64_t)dur_s * FX_S;
    snprintf(r.plan_id, sizeof r.plan_id, "%s/plan/%d", cluster, min);
    snprintf(r.vm_uuid, sizeof r.vm_uuid, "%s", vm);
    snprintf(r.vm_name, sizeof r.vm_name, "%s", vm);
    snprintf(r.from, sizeof r.from, "%s", from);
    snprintf(r.to, sizeof r.to, "%s", to);
    if (!ok)
        snprintf(r.error, sizeof r.error, "failed");
    put(DOCS_MIGRATIONS, docs_migration(cluster, &r));
}

static void power_action(const char *host, bool on, int min, int dur_s, bool ok)
{
    struct power_action_record r = { .action = on ? RECORD_POWER_ON : RECORD_POWER_OFF,
                                     .start_ns = FX_T0 + (int64_t)min * MIN, .ok = ok };
    r.end_ns = r.start_ns + (int64_t)dur_s * FX_S;
    snprintf(r.host, sizeof r.host, "%s", host);
    snprintf(r.method, sizeof r.method, "ipmi");
    put(DOCS_POWER_ACTIONS, docs_power_action("c1", &r));
}

static void event(const char *cluster, const char *kind, int min)
{
    struct event_record r = { .t_ns = FX_T0 + (int64_t)min * MIN };
    snprintf(r.kind, sizeof r.kind, "%s", kind);
    put(DOCS_EVENTS, docs_event(cluster, &r));
}

/* The data set. Window 08:00Z .. 10:00Z.
 * power_samples (c1):
 *   h1 08:15, 08:30, 08:45  200 W, 180000 J each          -> 08h 0.150 kWh
 *   h1 09:10                100 W, 360000 J                -> 09h 0.100 kWh
 *   h2 08:20, 08:40          10 W, 12000 J, 1200 s each    -> 08h 0.006667 kWh (off: below idle)
 *   h2 09:30                120 W, 216000 J, 1800 s        -> 09h 0.060 kWh
 *   h1 07:59 and 10:00 are outside the window; c2's h1 08:30 is another cluster.
 *   h1 0.25, h2 0.0666667, total 0.3166667 kWh; 08h 0.1566667, 09h 0.16.
 * savings: hosts idle_w h1 50, h2 60. h2 drew 10 W < 60 W for 2400 s:
 *   60 * 2400 - 24000 = 120000 J = 0.0333333 kWh; all-on 0.35 kWh; 9.5238 %.
 * malformed power samples: joules a string, host missing, joules negative, t a string -> 4.
 * migrations (c1): ok 10 s h2->h1, ok 20 s h2->h1, ok 30 s h1->h2, ok 40 s h1->h2,
 *   failed h2->h1, aborted h1->h2 -> 6 (4 ok, 1 failed, 1 aborted); nearest-rank p50 = 20 s,
 *   p95 = 40 s, max 40 s. h1: out 3, in 2, failed 1. h2: out 3, in 2, failed 1.
 *   malformed: "to" missing, duration_s a string, start missing -> 3. One at 07:00 is outside.
 * power actions: off h2 08:05 27 s ok; on h2 09:25 90 s ok; on h2 09:40 120 s failed
 *   -> 3 (2 on, 1 off, 1 failed); p50 27 s, p95 90 s, max 90 s. malformed: action "reboot" -> 1.
 * events: overload 2, periodic 3, alert 1; kind a number -> 1 skipped; one in c2.
 * hosts: h1, h2 valid; h3 with idle_w a string -> 1 skipped.
 * host_samples (c1), every 5 min (the tick: a sample stands for at most 2 ticks = 600 s):
 *   h1 on 07:55..08:25, powering_off 08:30, off 08:35..09:55; on at 10:00 (outside).
 *     08h off 08:30-09:00 = 1800 s (powering_off counts); 09h off all 3600 s.
 *   h2 off 07:55..08:55 (07:55 carries into 08:00); no sample 09:00..09:15 (a gap); waking
 *     09:20, on 09:25..09:55. 08:55 stands until 09:05, 09:05-09:20 is unknown.
 *     08h off all 3600 s; 09h off 300 s, unknown 900 s.
 *   08h: mean off (1800 + 3600) / 3600 = 1.5, off whole hour 1 (h2), unknown 0.
 *   09h: mean off (3600 + 300) / 3600 = 1.0833, off whole hour 1 (h1), unknown 0.25.
 *   c2's h2 on 08:00..09:55 is another cluster. Malformed: state "sleeping", host missing,
 *   state missing (at 08:xx) -> 3; one with state "sleeping" at 07:52 (before --since, fetched
 *   for the state at 08:00) is not counted. */
static void seed(void)
{
    char *spool = xasprintf("%s/spool", g_dir);
    struct config *cfg = fx_config(g_ferret.uri, DB, spool, 10);
    struct joule_err e = { 0 };
    if (store_new(registry_find_store("mongo"), cfg, NULL, &g_store, &e) < 0 ||
        store_open(g_store, &e) < 0)
        fail_msg("store: %s", e.msg);
    struct model *m = fx_model(cfg, FX_T0);
    bson_t *h1 = docs_host("c1", m, 0, FX_T0), *h2 = docs_host("c1", m, 1, FX_T0);
    put(DOCS_HOSTS, h1);
    put(DOCS_HOSTS, h2);
    put_json(DOCS_HOSTS, "{\"_id\":\"c1/h3\",\"cluster\":\"c1\",\"host\":\"h3\",\"idle_w\":\"50\"}");
    model_free(m);

    put(DOCS_POWER_SAMPLES, ps("c1", "h1", 15, 200, 180000, 900));
    put(DOCS_POWER_SAMPLES, ps("c1", "h1", 30, 200, 180000, 900));
    put(DOCS_POWER_SAMPLES, ps("c1", "h1", 45, 200, 180000, 900));
    put(DOCS_POWER_SAMPLES, ps("c1", "h1", 70, 100, 360000, 3600));
    put(DOCS_POWER_SAMPLES, ps("c1", "h2", 20, 10, 12000, 1200));
    put(DOCS_POWER_SAMPLES, ps("c1", "h2", 40, 10, 12000, 1200));
    put(DOCS_POWER_SAMPLES, ps("c1", "h2", 90, 120, 216000, 1800));
    put(DOCS_POWER_SAMPLES, ps("c1", "h1", -1, 200, 999999, 10));
    put(DOCS_POWER_SAMPLES, ps("c1", "h1", 120, 200, 999999, 10));
    put(DOCS_POWER_SAMPLES, ps("c2", "h1", 30, 200, 720000, 3600));
    /* malformed */
    bson_t *b = ps("c1", "h1", 50, 200, 1, 10);
    bson_t *bad = bson_new();
    bson_copy_to_excluding_noinit(b, bad, "joules", NULL);
    BSON_APPEND_UTF8(bad, "joules", "lots");
    put(DOCS_POWER_SAMPLES, bad);
    bson_destroy(b);
    b = ps("c1", "h1", 51, 200, 1000, 10);
    bad = bson_new();
    bson_copy_to_excluding_noinit(b, bad, "host", NULL);
    put(DOCS_POWER_SAMPLES, bad);
    bson_destroy(b);
    put(DOCS_POWER_SAMPLES, ps("c1", "h2", 52, 200, -5000, 10));
    put_json(DOCS_POWER_SAMPLES, "{\"_id\":\"c1/h1/x\",\"cluster\":\"c1\",\"host\":\"h1\","
                                 "\"t\":\"2026-11-27T08:30:00Z\",\"joules\":100.0}");

    for (int k = -5; k <= 120; k += 5) {
        const char *st = "off";
        if (k < 30 || k == 120)
            st = "on";
        else if (k == 30)
            st = "powering_off";
        put(DOCS_HOST_SAMPLES, hs("c1", "h1", k, st));
    }
    for (int k = -5; k <= 55; k += 5)
        put(DOCS_HOST_SAMPLES, hs("c1", "h2", k, "off"));
    put(DOCS_HOST_SAMPLES, hs("c1", "h2", 80, "waking"));
    for (int k = 85; k <= 115; k += 5)
        put(DOCS_HOST_SAMPLES, hs("c1", "h2", k, "on"));
    for (int k = 0; k <= 115; k += 5)
        put(DOCS_HOST_SAMPLES, hs("c2", "h2", k, "on"));
    put(DOCS_HOST_SAMPLES, hs("c1", "h3", 12, "sleeping"));
    put(DOCS_HOST_SAMPLES, hs("c1", "h3", -8, "sleeping"));
    b = hs("c1", "h3", 13, "off");
    bad = bson_new();
    bson_copy_to_excluding_noinit(b, bad, "host", NULL);
    put(DOCS_HOST_SAMPLES, bad);
    bson_destroy(b);
    b = hs("c1", "h3", 14, "off");
    bad = bson_new();
    bson_copy_to_excluding_noinit(b, bad, "state", NULL);
    put(DOCS_HOST_SAMPLES, bad);
    bson_destroy(b);

    migration("c1", "vm-a", "h2", "h1", 10, 10, true, false);
    migration("c1", "vm-b", "h2", "h1", 11, 20, true, false);
    migration("c1", "vm-c", "h1", "h2", 60, 30, true, false);
    migration("c1", "vm-d", "h1", "h2", 61, 40, true, false);
    migration("c1", "vm-e", "h2", "h1", 62, 5, false, false);
    migration("c1", "vm-f", "h1", "h2", 63, 300, false, true);
    migration("c1", "vm-g", "h1", "h2", -60, 10, true, false);
    migration("c2", "vm-h", "h1", "h2", 30, 10, true, false);
    put_json(DOCS_MIGRATIONS, "{\"_id\":\"m7\",\"cluster\":\"c1\",\"vm\":\"x\",\"from\":\"h1\","
                              "\"start\":{\"$date\":\"2026-11-27T08:30:00Z\"},\"duration_s\":1.0,"
                              "\"result\":\"ok\",\"ok\":true}");
    put_json(DOCS_MIGRATIONS, "{\"_id\":\"m8\",\"cluster\":\"c1\",\"vm\":\"x\",\"from\":\"h1\","
                              "\"to\":\"h2\",\"start\":{\"$date\":\"2026-11-27T08:31:00Z\"},"
                              "\"duration_s\":\"long\",\"result\":\"ok\",\"ok\":true}");
    put_json(DOCS_MIGRATIONS, "{\"_id\":\"m9\",\"cluster\":\"c1\",\"vm\":\"x\",\"from\":\"h1\","
                              "\"to\":\"h2\",\"duration_s\":1.0,\"result\":\"ok\",\"ok\":true}");

    power_action("h2", false, 5, 27, true);
    power_action("h2", true, 85, 90, true);
    power_action("h2", true, 100, 120, false);
    put_json(DOCS_POWER_ACTIONS, "{\"_id\":\"p4\",\"cluster\":\"c1\",\"host\":\"h2\",\"action\":"
                                 "\"reboot\",\"start\":{\"$date\":\"2026-11-27T08:31:00Z\"},"
                                 "\"duration_s\":1.0,\"ok\":true}");

    event("c1", "overload", 10);
    event("c1", "overload", 50);
    event("c1", "periodic", 0);
    event("c1", "periodic", 10);
    event("c1", "periodic", 20);
    event("c1", "alert", 30);
    event("c2", "alert", 30);
    put_json(DOCS_EVENTS, "{\"_id\":\"e9\",\"cluster\":\"c1\",\"kind\":7,\"t\":{\"$date\":"
                          "\"2026-11-27T08:30:00Z\"},\"host\":\"\",\"detail\":\"\"}");
    store_free(g_store);
    g_store = NULL;
    config_free(cfg);
    free(spool);
}

static char *report(int *status, const char *a1, const char *a2, const char *a3)
{
    char *uri = g_ferret.uri;
    char *argv[16] = { g_joulectl, "report", "--uri", uri, "--database", DB, "--cluster", "c1",
                       "--since", "2026-11-27T08:00:00Z", "--until", "2026-11-27T10:00Z" };
    int n = 12;
    if (a1)
        argv[n++] = (char *)a1;
    if (a2)
        argv[n++] = (char *)a2;
    if (a3)
        argv[n++] = (char *)a3;
    argv[n] = NULL;
    char *out = NULL;
    *status = run_cmd(argv, &out, 60);
    return out;
}

static double jnum(const bson_t *b, const char *dotted)
{
    bson_iter_t it, f;
    assert_true(bson_iter_init(&it, b));
    if (!bson_iter_find_descendant(&it, dotted, &f))
        fail_msg("no %s in the JSON report", dotted);
    assert_true(BSON_ITER_HOLDS_NUMBER(&f));
    return bson_iter_as_double(&f);
}

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-6)

static void test_json(void **state)
{
    (void)state;
    int st;
    char *out = report(&st, "--json", NULL, NULL);
    assert_int_equal(st, 0);
    bson_error_t be;
    bson_t *b = bson_new_from_json((const uint8_t *)out, -1, &be);
    if (!b)
        fail_msg("--json is not JSON (%s): %s", be.message, out);
    NEAR(jnum(b, "energy.hosts_kwh.h1"), 0.25);
    NEAR(jnum(b, "energy.hosts_kwh.h2"), 24000.0 / 3.6e6 + 0.06);
    NEAR(jnum(b, "energy.total_kwh"), 0.25 + 24000.0 / 3.6e6 + 0.06);
    NEAR(jnum(b, "energy.buckets.0.total_kwh"), 0.15 + 24000.0 / 3.6e6);
    NEAR(jnum(b, "energy.buckets.1.total_kwh"), 0.16);
    NEAR(jnum(b, "energy.buckets.1.hosts_kwh.h2"), 0.06);
    NEAR(jnum(b, "savings.kwh"), 120000.0 / 3.6e6);
    NEAR(jnum(b, "savings.all_on_kwh"), 0.35);
    NEAR(jnum(b, "savings.pct"), 100.0 * (120000.0 / 3.6e6) / 0.35);
    NEAR(jnum(b, "migrations.count"), 6);
    NEAR(jnum(b, "migrations.ok"), 4);
    NEAR(jnum(b, "migrations.failed"), 1);
    NEAR(jnum(b, "migrations.aborted"), 1);
    NEAR(jnum(b, "migrations.p50_s"), 20);
    NEAR(jnum(b, "migrations.p95_s"), 40);
    NEAR(jnum(b, "migrations.max_s"), 40);
    NEAR(jnum(b, "hosts.h1.mig_out"), 3);
    NEAR(jnum(b, "hosts.h1.mig_in"), 2);
    NEAR(jnum(b, "hosts.h2.mig_failed"), 1);
    NEAR(jnum(b, "power_actions.count"), 3);
    NEAR(jnum(b, "power_actions.on"), 2);
    NEAR(jnum(b, "power_actions.off"), 1);
    NEAR(jnum(b, "power_actions.failed"), 1);
    NEAR(jnum(b, "power_actions.p50_s"), 27);
    NEAR(jnum(b, "power_actions.p95_s"), 90);
    NEAR(jnum(b, "power_actions.max_s"), 90);
    NEAR(jnum(b, "hosts.h2.pwr_on"), 2);
    NEAR(jnum(b, "events.overload"), 2);
    NEAR(jnum(b, "events.periodic"), 3);
    NEAR(jnum(b, "events.alert"), 1);
    NEAR(jnum(b, "skipped.power_samples"), 4);
    NEAR(jnum(b, "skipped.hosts"), 1);
    NEAR(jnum(b, "skipped.migrations"), 3);
    NEAR(jnum(b, "skipped.power_actions"), 1);
    NEAR(jnum(b, "skipped.events"), 1);
    NEAR(jnum(b, "skipped.host_samples"), 3);
    NEAR(jnum(b, "hosts_off.hosts"), 2);
    NEAR(jnum(b, "hosts_off.interval_s"), 300);
    NEAR(jnum(b, "hosts_off.hold_s"), 600);
    NEAR(jnum(b, "hosts_off.buckets.0.seconds"), 3600);
    NEAR(jnum(b, "hosts_off.buckets.0.mean_off"), 1.5);
    NEAR(jnum(b, "hosts_off.buckets.0.off_whole"), 1);
    NEAR(jnum(b, "hosts_off.buckets.0.mean_unknown"), 0);
    NEAR(jnum(b, "hosts_off.buckets.0.hosts_off_s.h1"), 1800);
    NEAR(jnum(b, "hosts_off.buckets.0.hosts_off_s.h2"), 3600);
    NEAR(jnum(b, "hosts_off.buckets.1.mean_off"), 3900.0 / 3600.0);
    NEAR(jnum(b, "hosts_off.buckets.1.off_whole"), 1);
    NEAR(jnum(b, "hosts_off.buckets.1.mean_unknown"), 0.25);
    NEAR(jnum(b, "hosts_off.buckets.1.hosts_off_s.h1"), 3600);
    NEAR(jnum(b, "hosts_off.buckets.1.hosts_off_s.h2"), 300);
    bson_iter_t it, f;
    assert_true(bson_iter_init(&it, b));
    assert_false(bson_iter_find_descendant(&it, "hosts_off.buckets.2", &f)); /* 2 hours */
    bson_destroy(b);
    free(out);
}

static void expect_line(const char *out, const char *line)
{
    if (!strstr(out, line))
        fail_msg("expected \"%s\" in:\n%s", line, out);
}

static void test_csv(void **state)
{
    (void)state;
    int st;
    char *out = report(&st, "--csv", NULL, NULL);
    assert_int_equal(st, 0);
    expect_line(out, "section,bucket,host,key,value\n");
    expect_line(out, "energy,2026-11-27T08:00:00Z,h1,kwh,0.150000\n");
    expect_line(out, "energy,2026-11-27T08:00:00Z,h2,kwh,0.006667\n");
    expect_line(out, "energy,2026-11-27T08:00:00Z,,total_kwh,0.156667\n");
    expect_line(out, "energy,2026-11-27T09:00:00Z,,total_kwh,0.160000\n");
    expect_line(out, "energy,,h1,kwh,0.250000\n");
    expect_line(out, "energy,,,total_kwh,0.316667\n");
    expect_line(out, "savings,,,kwh,0.033333\n");
    expect_line(out, "savings,,h2,kwh,0.033333\n");
    expect_line(out, "migrations,,,count,6.000000\n");
    expect_line(out, "migrations,,,p95_s,40.000000\n");
    expect_line(out, "power_actions,,,p50_s,27.000000\n");
    expect_line(out, "hosts,,h2,mig_out,3.000000\n");
    expect_line(out, "events,,,periodic,3.000000\n");
    expect_line(out, "skipped,,,power_samples,4.000000\n");
    expect_line(out, "skipped,,,migrations,3.000000\n");
    expect_line(out, "skipped,,,host_samples,3.000000\n");
    expect_line(out, "hosts_off,2026-11-27T08:00:00Z,,mean_off,1.500000\n");
    expect_line(out, "hosts_off,2026-11-27T08:00:00Z,,off_whole,1.000000\n");
    expect_line(out, "hosts_off,2026-11-27T08:00:00Z,,mean_unknown,0.000000\n");
    expect_line(out, "hosts_off,2026-11-27T08:00:00Z,h1,off_s,1800.000000\n");
    expect_line(out, "hosts_off,2026-11-27T09:00:00Z,,mean_off,1.083333\n");
    expect_line(out, "hosts_off,2026-11-27T09:00:00Z,,mean_unknown,0.250000\n");
    expect_line(out, "hosts_off,2026-11-27T09:00:00Z,h2,off_s,300.000000\n");
    expect_line(out, "hosts_off,,,hold_s,600.000000\n");
    assert_null(strstr(out, "2026-11-27T10:00:00Z")); /* --until is exclusive */
    free(out);
}

static void test_table(void **state)
{
    (void)state;
    int st;
    char *out = report(&st, NULL, NULL, NULL);
    assert_int_equal(st, 0);
    expect_line(out, "2026-11-27 08:00 UTC        0.150      0.007      0.157\n");
    expect_line(out, "2026-11-27 09:00 UTC        0.100      0.060      0.160\n");
    expect_line(out, "total                       0.250      0.067      0.317\n");
    expect_line(out, "Savings versus all hosts on: 0.033 kWh (9.5% of 0.350 kWh)");
    expect_line(out, "Migrations: 6 (4 ok, 1 failed, 1 aborted)  duration s:  p50 20.0  p95 40.0  "
                     "max 40.0\n");
    expect_line(out, "Power actions: 3 (2 on, 1 off, 1 failed)  time to verified state s:  p50 "
                     "27.0  p95 90.0  max 90.0\n");
    expect_line(out, "  overload                    2\n");
    expect_line(out, "Skipped malformed documents: power_samples 4, hosts 1, migrations 3, "
                     "power_actions 1, events 1, host_samples 3\n");
    expect_line(out, "\nHosts off per hour  [stored power state: host_samples.state off or "
                     "powering_off; no sample: unknown]\n"
                     "hour                   mean off off whole hour  unknown\n"
                     "2026-11-27 08:00 UTC       1.50              1     0.00\n"
                     "2026-11-27 09:00 UTC       1.08              1     0.25\n"
                     "(2 hosts; a sample stands for its host's state until the next one, at "
                     "most 600 s; tick 300 s)\n");
    /* the section comes between the savings and the migrations (issue #10's order) */
    assert_true(strstr(out, "Savings versus") < strstr(out, "Hosts off per hour"));
    assert_true(strstr(out, "Hosts off per hour") < strstr(out, "Migrations:"));
    free(out);
    /* per day: one bucket with the same total */
    out = report(&st, "--per", "day", NULL);
    assert_int_equal(st, 0);
    expect_line(out, "2026-11-27 UTC              0.250      0.067      0.317\n");
    /* (1800 + 3600 + 3600 + 300) s off / 7200 s; neither host off the whole window */
    expect_line(out, "day                    mean off  off whole day  unknown\n"
                     "2026-11-27 UTC             1.29              0     0.12\n");
    free(out);
}

static size_t occurrences(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void test_svg(void **state)
{
    (void)state;
    char *path = xasprintf("%s/energy.svg", g_dir);
    int st;
    char *out = report(&st, "--json", "--svg", path);
    assert_int_equal(st, 0);
    free(out);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char buf[16384];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    assert_true(strncmp(buf, "<svg", 4) == 0);
    assert_non_null(strstr(buf, "</svg>\n"));
    assert_int_equal(occurrences(buf, "<polyline"), 3); /* h1, h2, total */
    assert_int_equal(occurrences(buf, "class=\"power-off\""), 1);
    assert_int_equal(occurrences(buf, "class=\"power-on\""), 2);
    assert_int_equal(occurrences(buf, "</title></path>"), 3); /* each mark names its host */
    /* the hosts-off panel: mean off 1.5 then 1.08 of 2 hosts, and the unknown line (09h) */
    assert_int_equal(occurrences(buf, "class=\"hosts-off\""), 1);
    assert_int_equal(occurrences(buf, "class=\"hosts-unknown\""), 1);
    assert_non_null(strstr(buf, "Hosts off (mean per hour) of 2"));
    /* the total line: 2 points, the 09h one higher (0.16 > 0.1567) */
    assert_non_null(strstr(buf, "class=\"total\""));
    free(path);
}

/* --all-clusters: hosts off per cluster/host (c2's h2 is another host than c1's h2, on all
 * along); the same hours off as for c1 alone. */
static void test_hosts_off_all_clusters(void **state)
{
    (void)state;
    char *argv[] = { g_joulectl, "report", "--uri", g_ferret.uri, "--database", DB,
                     "--all-clusters", "--since", "2026-11-27T08:00:00Z", "--until",
                     "2026-11-27T10:00Z", "--json", NULL };
    char *out = NULL;
    assert_int_equal(run_cmd(argv, &out, 60), 0);
    bson_error_t be;
    bson_t *b = bson_new_from_json((const uint8_t *)out, -1, &be);
    if (!b)
        fail_msg("--json is not JSON (%s): %s", be.message, out);
    NEAR(jnum(b, "hosts_off.hosts"), 3);
    NEAR(jnum(b, "hosts_off.buckets.0.mean_off"), 1.5);
    NEAR(jnum(b, "hosts_off.buckets.0.hosts_off_s.c1/h1"), 1800);
    NEAR(jnum(b, "hosts_off.buckets.0.hosts_off_s.c2/h2"), 0);
    NEAR(jnum(b, "hosts_off.buckets.1.mean_off"), 3900.0 / 3600.0);
    NEAR(jnum(b, "hosts_off.buckets.1.hosts_off_s.c1/h2"), 300);
    NEAR(jnum(b, "hosts_off.buckets.1.mean_unknown"), 0.25);
    bson_destroy(b);
    free(out);
}

static void test_bad_input(void **state)
{
    (void)state;
    int st;
    /* 26 years of hours: more rows than the hosts-off section takes; refused before any query */
    char *msg = report(&st, "--since", "2000-01-01", NULL);
    assert_int_equal(st, 2);
    free(msg);
    free(report(&st, "--since", "yesterday", NULL));
    assert_int_equal(st, 2);
    free(report(&st, "--per", "week", NULL));
    assert_int_equal(st, 2);
    char *help[] = { g_joulectl, "report", "--help", NULL };
    char *text = NULL;
    assert_int_equal(run_cmd(help, &text, 30), 0);
    assert_non_null(strstr(text, "example: joulectl report"));
    free(text);
    /* nothing listens there: a clear failure, not a hang */
    char *argv[] = { g_joulectl, "report", "--uri",
                     "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=500", NULL };
    char *out = NULL;
    assert_int_equal(run_cmd(argv, &out, 60), 1);
    free(out);
}

int main(void)
{
    if (!ferret_binary())
        return joule_test_skip("FerretDB is not installed (tools/setup builds it)");
    const char *build = getenv("JOULE_BUILD_DIR");
    g_joulectl = xasprintf("%s/tools/joulectl", build ? build : ".");
    if (access(g_joulectl, X_OK) != 0) {
        fprintf(stderr, "%s is missing\n", g_joulectl);
        return 1;
    }
    setenv("TZ", "UTC", 1);
    if (ferret_start(&g_ferret, "reportferret") < 0) {
        ferret_destroy(&g_ferret);
        fprintf(stderr, "FerretDB did not start\n");
        return 1;
    }
    g_dir = joule_test_tmpdir("report");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json),  cmocka_unit_test(test_csv),
        cmocka_unit_test(test_table), cmocka_unit_test(test_svg),
        cmocka_unit_test(test_hosts_off_all_clusters),
        cmocka_unit_test(test_bad_input),
    };
    seed();
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ferret_destroy(&g_ferret);
    joule_test_rmtree(g_dir);
    free(g_dir);
    free(g_joulectl);
    return rc;
}
