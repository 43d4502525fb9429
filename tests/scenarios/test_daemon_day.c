/* The whole loop on the simulated cluster, tick by tick on the simulated clock (no sleeping):
 * off-peak consolidation powers hosts off, hosts are woken before the peak window, dry-run
 * stores plans and moves nothing, manual runs and pause, /metrics from the running daemon
 * through real libmicrohttpd and promtool, and reloads. */
#include "support/test_support.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "registry.h"
#include "sim_cluster.h"
#include "store/memory.h"
#include "support/promtool.h"
#include "util/httpc.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

#define S JOULE_NS_PER_S
#define MIN (60 * S)
#define H (3600 * S)
#define DAY0 (1795392000LL * S) /* 2026-11-23T00:00:00Z, a Monday */
#define TICK_S 60

static char *make_config(const char *mode, const char *schedule, const char *api)
{
    struct strbuf sb = { 0 };
    strbuf_addf(&sb,
                "cluster = \"t\"; mode = \"%s\"; tick_s = %d; load_window_s = 120; periodic_s = 600;\n"
                "log_level = \"warn\";\n"
                "policy = { th1_pct = 80; th2_factor = 0.8; min_active_hosts = 1; "
                "vm_cooldown_s = 1800; host_min_off_s = 1800; max_moves_per_round = 4; };\n"
                "schedule = { timezone = \"UTC\"; %s };\n"
                "meter = { protocol = \"sim\"; };\n"
                "store = { uri = \"memory:\"; };\n"
                "api = { %s };\n"
                "hosts = (\n",
                mode, TICK_S, schedule, api);
    for (int h = 0; h < 4; h++)
        strbuf_addf(&sb,
                    "  { name = \"n%d\"; hypervisor = \"sim\"; cpus = 8; memory_mib = 32768; "
                    "idle_w = 100; max_w = 200; standby_w = 10; boot_s = 300; shutdown_s = 60; "
                    "priority = %d; meter = \"00:00:00:00:00:00:00:%02x\"; "
                    "power = { methods = [ \"sim\" ]; }; }%s\n",
                    h, h, h + 1, h < 3 ? "," : "");
    strbuf_addf(&sb, ");\nsim = { start = \"2026-11-23T00:00:00Z\"; vms = (\n");
    for (int v = 0; v < 12; v++)
        strbuf_addf(&sb,
                    "  { name = \"vm%02d\"; host = \"n%d\"; vcpus = 2; memory_mib = 2048; "
                    "base = 0.1; amplitude = 0.7; trough_h = 3; }%s\n",
                    v, v % 4, v < 11 ? "," : "");
    strbuf_addf(&sb, "); };\n");
    return strbuf_steal(&sb);
}

static struct daemon *start_opts(const char *mode, const char *schedule, const char *api,
                                 const char *holder, struct store *store)
{
    char *text = make_config(mode, schedule, api);
    struct config *cfg = NULL;
    char *errors = NULL;
    if (config_load_string(text, &cfg, &errors) < 0)
        fail_msg("%s\n%s", errors, text);
    free(text);
    struct daemon *d = NULL;
    struct joule_err err = { 0 };
    struct daemon_opts o = { .holder = holder, .store = store };
    if (daemon_new(cfg, &o, &d, &err) < 0)
        fail_msg("daemon_new: %s", err.msg);
    return d;
}

static struct daemon *start(const char *mode, const char *schedule, const char *api)
{
    return start_opts(mode, schedule, api, "test", NULL);
}

static void *mem(struct daemon *d) { return daemon_store(d)->state; }

static size_t count_where(struct daemon *d, const char *coll, const char *key, const char *value)
{
    size_t n = 0, total = store_memory_count(mem(d), coll);
    for (size_t i = 0; i < total; i++) {
        bson_iter_t it, f;
        const bson_t *doc = store_memory_doc(mem(d), coll, i);
        if (!key) {
            n++;
            continue;
        }
        if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, key, &f) &&
            BSON_ITER_HOLDS_UTF8(&f) && strcmp(bson_iter_utf8(&f, NULL), value) == 0)
            n++;
    }
    return n;
}

static size_t sim_hosts_off(struct daemon *d)
{
    struct sim_cluster *sc = daemon_sim(d);
    sim_cluster_update(sc);
    size_t n = 0;
    for (size_t i = 0; i < sc->n_hosts; i++)
        n += sc->hosts[i].power == SIM_POWER_OFF;
    return n;
}

static int64_t now(struct daemon *d) { return clock_now_ns(daemon_clock(d)); }

/* Ticks until the simulated clock reaches t; returns the number of ticks. */
static int run_until(struct daemon *d, int64_t t)
{
    int n = 0;
    while (now(d) < t) {
        assert_int_equal(daemon_tick(d), 0);
        n++;
    }
    return n;
}

static void test_day_consolidates_off_peak_wakes_before_peak(void **state)
{
    (void)state;
    struct daemon *d = start("auto",
                             "peak = [ \"daily 08:00-18:00\" ]; peak_expected_load_pct = 60;", "listen = \"\";");
    /* night: the 12 VMs use 12 x 2 x 0.1..0.2 cores of 32: Th2 empties hosts, powers them off */
    run_until(d, DAY0 + 5 * H);
    struct daemon_stats st;
    daemon_stats(d, &st);
    assert_true(st.migrations_ok > 0);
    assert_true(st.power_off_ok >= 2);
    assert_true(sim_hosts_off(d) >= 2);
    size_t off_at_5 = sim_hosts_off(d);
    uint64_t on_before = st.power_on_ok;
    /* before 08:00 (lead = boot 300 s + one tick) hosts come back for the expected peak load:
     * 60% of 32 cores = 19.2 cores must fit under 80% -> 24 cores -> 3 hosts at least */
    run_until(d, DAY0 + 8 * H);
    daemon_stats(d, &st);
    assert_true(st.power_on_ok > on_before);
    assert_true(sim_hosts_off(d) < off_at_5);
    assert_true(sim_hosts_off(d) <= 1);
    assert_true(st.power_off_off_peak >= 2);
    assert_true(st.power_on_prewake >= 1); /* verified on before the window opened */
    assert_true(count_where(d, "plans", "actions.0.reason", "peak_wake") +
                    count_where(d, "plans", "actions.0.reason", "min_hosts") > 0);
    /* peak: load rises to 0.8 x 24 = 19.2 cores at 15:00; Th1 keeps the average under 80% */
    run_until(d, DAY0 + 15 * H);
    daemon_stats(d, &st);
    assert_true(st.hosts_on >= 3);
    /* everything was stored: samples, plans, migrations, power actions, events */
    assert_true(count_where(d, "power_samples", NULL, NULL) >= 4 * 60 * 15 - 8);
    assert_true(count_where(d, "migrations", NULL, NULL) == st.migrations_ok + st.migrations_failed);
    assert_true(count_where(d, "power_actions", NULL, NULL) ==
                st.power_on_ok + st.power_off_ok + st.power_failed);
    assert_true(count_where(d, "events", "kind", "periodic") > 0);
    assert_true(count_where(d, "plans", "mode", "auto") > 0);
    assert_true(st.max_tick_ns > 0);
    daemon_shutdown(d);
    daemon_free(d);
}

static void test_dry_run_stores_plans_moves_nothing(void **state)
{
    (void)state;
    struct daemon *d = start("dry-run", "peak = [ \"daily 08:00-18:00\" ];", "listen = \"\";");
    run_until(d, DAY0 + 3 * H);
    struct daemon_stats st;
    daemon_stats(d, &st);
    assert_true(st.plans_dry_run > 0);
    assert_int_equal(st.migrations_ok + st.migrations_failed, 0);
    assert_int_equal(st.power_off_ok + st.power_on_ok, 0);
    assert_int_equal(daemon_sim(d)->migrations, 0);
    assert_int_equal(sim_hosts_off(d), 0);
    assert_true(count_where(d, "plans", "outcome", "dry-run") > 0);
    assert_true(count_where(d, "plans", "actions.0.kind", "migrate") > 0);
    assert_int_equal(count_where(d, "migrations", NULL, NULL), 0);
    daemon_free(d);
}

static void test_manual_consolidation_and_pause(void **state)
{
    (void)state;
    /* peak all day: no consolidation by itself */
    struct daemon *d = start("auto", "peak = [ \"daily 00:00-24:00\" ];", "listen = \"\";");
    run_until(d, DAY0 + 2 * H);
    struct daemon_stats st;
    daemon_stats(d, &st);
    assert_int_equal(st.migrations_ok, 0);
    assert_int_equal(sim_hosts_off(d), 0);

    struct joule_err err = { 0 };
    daemon_pause(d, true);
    assert_int_equal(daemon_request_run(d, true, &err), JOULE_ESTATE);
    uint64_t plans = st.plans;
    run_until(d, DAY0 + 3 * H);
    daemon_stats(d, &st);
    assert_int_equal(st.plans, plans); /* paused: no plans */
    daemon_pause(d, false);

    assert_int_equal(daemon_request_run(d, true, &err), 0);
    daemon_tick(d);
    daemon_stats(d, &st);
    assert_true(st.migrations_ok > 0); /* the operator's off-peak run empties a host */
    assert_true(count_where(d, "events", "kind", "manual") == 1);
    run_until(d, DAY0 + 3 * H + 10 * MIN);
    assert_true(sim_hosts_off(d) >= 1);
    daemon_free(d);
}

struct server {
    struct api *api;
    atomic_bool stop;
};

static void *serve(void *arg)
{
    struct server *s = arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN };
    epoll_ctl(ep, EPOLL_CTL_ADD, api_fd(s->api), &ev);
    while (!atomic_load(&s->stop)) {
        struct epoll_event got;
        if (epoll_wait(ep, &got, 1, 20) > 0)
            api_process(s->api);
    }
    close(ep);
    return NULL;
}

static void test_metrics_from_running_daemon_pass_promtool(void **state)
{
    (void)state;
    struct daemon *d = start("auto", "peak = [ \"daily 08:00-18:00\" ];", "listen = \"127.0.0.1:0\";");
    run_until(d, DAY0 + 4 * H);
    struct server s = { .api = daemon_api(d) };
    assert_non_null(s.api);
    atomic_store(&s.stop, false);
    pthread_t thr;
    pthread_create(&thr, NULL, serve, &s);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", api_port(s.api));
    struct httpc_reply r, st;
    struct joule_err err = { 0 };
    int rc = httpc_request(addr, "GET", "/metrics", NULL, 5000, &r, &err);
    int rc2 = httpc_request(addr, "GET", "/status", NULL, 5000, &st, &err);
    atomic_store(&s.stop, true);
    pthread_join(thr, NULL);
    assert_int_equal(rc, 0);
    assert_int_equal(rc2, 0);
    assert_int_equal(r.status, 200);
    for (const char *m = "joule_host_load_percent\0joule_host_watts\0joule_host_power_state\0"
                         "joule_migrations_total\0joule_power_actions_total\0"
                         "joule_meter_frames_total\0joule_store_spool_documents\0"
                         "joule_loop_duration_seconds_count\0joule_monitor_lagging_total\0";
         *m; m += strlen(m) + 1)
        if (!strstr(r.body, m))
            fail_msg("/metrics lacks %s", m);
    assert_non_null(strstr(r.body, "joule_host_power_state{host=\"n0\",state=\"on\"}"));
    char out[4096];
    int prc = promtool_check(r.body, out, sizeof out);
    if (prc == PROMTOOL_MISSING) {
        httpc_reply_free(&r);
        httpc_reply_free(&st);
        daemon_free(d);
        exit(joule_test_skip("promtool not installed (Debian package prometheus; tools/setup)"));
    }
    if (prc != 0)
        fail_msg("promtool check metrics failed: %s\n%s", out, r.body);
    /* /status is JSON with hosts, VMs and the last plan */
    bson_error_t be;
    bson_t *doc = bson_new_from_json((const uint8_t *)st.body, (ssize_t)st.len, &be);
    assert_non_null(doc);
    bson_iter_t it, f;
    assert_true(bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, "hosts.3.name", &f));
    assert_true(bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, "vms.11.host", &f));
    assert_true(bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, "last_plan._id", &f));
    bson_destroy(doc);
    httpc_reply_free(&r);
    httpc_reply_free(&st);
    daemon_free(d);
}

static void test_reload(void **state)
{
    (void)state;
    struct daemon *d = start("auto", "peak = [ \"daily 08:00-18:00\" ];", "listen = \"\";");
    run_until(d, DAY0 + 10 * MIN);
    /* a valid config with a new mode and threshold is taken */
    char *text = make_config("dry-run", "peak = [ \"daily 08:00-18:00\" ];", "listen = \"\";");
    struct config *cfg = NULL;
    char *errors = NULL;
    assert_int_equal(config_load_string(text, &cfg, &errors), 0);
    free(text);
    struct joule_err err = { 0 };
    assert_int_equal(daemon_reload(d, cfg, &err), 0);
    assert_int_equal(daemon_config(d)->mode, CONFIG_MODE_DRY_RUN);
    /* a different host list needs a restart: refused, the running config stays */
    assert_int_equal(config_load_string("api = { listen = \"\"; }; store = { uri = \"memory:\"; };\n"
                                        "hosts = ( { name = \"other\"; hypervisor = \"sim\"; } );\n"
                                        "sim = { vms = ( ); };",
                                        &cfg, &errors),
                     0);
    assert_int_equal(daemon_reload(d, cfg, &err), JOULE_ECONFIG);
    assert_non_null(strstr(err.msg, "host list changed"));
    config_free(cfg);
    assert_int_equal(daemon_config(d)->mode, CONFIG_MODE_DRY_RUN);
    assert_int_equal(daemon_config(d)->n_hosts, 4);
    run_until(d, DAY0 + 3 * H);
    struct daemon_stats st;
    daemon_stats(d, &st);
    assert_true(st.plans_dry_run > 0);
    daemon_free(d);
}

static void test_lease_one_active_other_standby(void **state)
{
    (void)state;
    struct config *scfg = NULL;
    char *errors = NULL;
    assert_int_equal(config_load_string("api = { listen = \"\"; }; store = { uri = \"memory:\"; };",
                                        &scfg, &errors), 0);
    struct drv_env env = { .clock = clock_real() };
    struct store *shared = NULL;
    struct joule_err err = { 0 };
    assert_int_equal(store_new(registry_find_store("memory"), scfg, &env, &shared, &err), 0);
    assert_int_equal(store_open(shared, &err), 0);
    const char *sched = "peak = [ \"daily 08:00-18:00\" ];";
    struct daemon *one = start_opts("auto", sched, "listen = \"\";", "one", shared);
    struct daemon *two = start_opts("auto", sched, "listen = \"\";", "two", shared);
    struct daemon_stats s1, s2;
    for (int i = 0; i < 10; i++) {
        daemon_tick(one);
        daemon_tick(two);
    }
    daemon_stats(one, &s1);
    daemon_stats(two, &s2);
    assert_true(s1.active);
    assert_false(s2.active);
    assert_true(s1.plans > 0);
    assert_int_equal(s2.plans, 0); /* a standby decides nothing */
    assert_int_equal(daemon_request_run(two, true, &err), JOULE_ESTATE);
    assert_non_null(strstr(err.msg, "standby"));
    /* the active one stops and hands the lease on; the standby takes over at its next tick */
    daemon_shutdown(one);
    daemon_free(one);
    daemon_tick(two);
    daemon_stats(two, &s2);
    assert_true(s2.active);
    daemon_free(two);
    store_free(shared);
    config_free(scfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_day_consolidates_off_peak_wakes_before_peak),
        cmocka_unit_test(test_dry_run_stores_plans_moves_nothing),
        cmocka_unit_test(test_manual_consolidation_and_pause),
        cmocka_unit_test(test_metrics_from_running_daemon_pass_promtool),
        cmocka_unit_test(test_reload),
        cmocka_unit_test(test_lease_one_active_other_standby),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
