/* Policy engine rules one by one (wake, peak, minimum hosts, host_min_off, excluded hosts,
 * memory, repeated Th2), input validation, the snapshot JSON reader/writer and the config glue.
 * Expected plans are worked out by hand in the comments. */
#include "support/test_support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "policy_glue.h"
#include "snapshot_json.h"

#define HOST(name, state, load, extra)                                                             \
    "{ \"name\": \"" name "\", \"cpus\": 4, \"mem_mib\": 8192, \"state\": \"" state                \
    "\", \"load_pct\": " #load ", \"idle_w\": 60, \"max_w\": 120" extra " }"
#define VM(uuid, host, cores) \
    "{ \"uuid\": \"" uuid "\", \"host\": \"" host "\", \"mem_mib\": 1024, "          \
    "\"cpu_cores\": " #cores " }"
#define NOW_NS 100000000000000LL /* 100000 s */
#define NOW "\"now_ns\": 100000000000000, "

static void assert_power(const struct snapshot_doc *d, const struct plan_action *a,
                         enum plan_action_kind kind, enum plan_reason reason, const char *h)
{
    assert_int_equal(a->kind, kind);
    assert_int_equal(a->reason, reason);
    assert_int_equal(a->host, joule_test_snapshot_host(d, h));
}

/* Peak: 8 cores expected must fit under 80% -> 10 cores; A gives 4; wake in order priority,
 * idle watts: D (prio 0), then C (prio 1, 50 W) -> 12 cores. B (prio 1, 70 W) stays off. */
static void peak_wakes_enough_in_priority_order(void **state)
{
    struct snapshot_doc *d = joule_test_snapshot(
        "{" NOW "\"expected_load_cores\": 8, \"consolidation_allowed\": true, \"hosts\": ["
        HOST("A", "on", 50, "") ","
        HOST("B", "off", 0, ", \"priority\": 1, \"idle_w\": 70, \"off_since_ns\": 0") ","
        HOST("C", "off", 0, ", \"priority\": 1, \"idle_w\": 50, \"off_since_ns\": 0") ","
        HOST("D", "off", 0, ", \"priority\": 0, \"idle_w\": 90, \"off_since_ns\": 0")
        "], \"vms\": ["
        VM("v1", "A", 2.0) "]}");
    struct plan p;
    joule_test_plan(d, &p);
    assert_int_equal(p.n, 2);
    assert_power(d, &p.actions[0], PLAN_ACTION_POWER_ON, PLAN_REASON_PEAK_WAKE, "D");
    assert_power(d, &p.actions[1], PLAN_ACTION_POWER_ON, PLAN_REASON_PEAK_WAKE, "C");
    assert_true(p.actions[1].expected_gain_w < 0);
    plan_free(&p);
    snapshot_doc_free(d);
}

/* Same, C powered off 10 minutes ago (< host_min_off 30 min): D then B. */
static void peak_skips_recently_off_host(void **state)
{
    struct snapshot_doc *d = joule_test_snapshot(
        "{" NOW "\"expected_load_cores\": 8, \"hosts\": ["
        HOST("A", "on", 50, "") ","
        HOST("B", "off", 0, ", \"priority\": 1, \"idle_w\": 70, \"off_since_ns\": 0") ","
        HOST("C", "off", 0,
             ", \"priority\": 1, \"idle_w\": 50, \"off_since_ns\": 99400000000000") ","
        HOST("D", "off", 0, ", \"priority\": 0, \"idle_w\": 90, \"off_since_ns\": 0") "]}");
    struct plan p;
    joule_test_plan(d, &p);
    assert_int_equal(p.n, 2);
    assert_power(d, &p.actions[0], PLAN_ACTION_POWER_ON, PLAN_REASON_PEAK_WAKE, "D");
    assert_power(d, &p.actions[1], PLAN_ACTION_POWER_ON, PLAN_REASON_PEAK_WAKE, "B");
    plan_free(&p);
    snapshot_doc_free(d);
}

/* Th1 needs it: the only host left was powered off a minute ago; it is woken anyway. */
static void th1_wakes_recently_off_host(void **state)
{
    struct snapshot_doc *d = joule_test_snapshot(
        "{" NOW "\"hosts\": [" HOST("A", "on", 90, "") "," HOST("B", "on", 90, "") ","
        HOST("C", "off", 0, ", \"off_since_ns\": 99940000000000") "]}");
    struct plan p;
    joule_test_plan(d, &p);
    assert_int_equal(p.n, 1);
    assert_power(d, &p.actions[0], PLAN_ACTION_POWER_ON, PLAN_REASON_TH1_WAKE, "C");
    plan_free(&p);
    snapshot_doc_free(d);
}

/* A waking host counts: 2 x 4 cores at 95% = 7.6 cores over 12 cores = 63% -> no second wake;
 * at 4 active hosts of 100% + 1 waking: 16 / 20 = 80% -> not above; at 3 active of 100% and
 * one waking host of 1 core: 12 / 13 = 92% > 80 -> wake one more (D). */
static void waking_host_counts_as_capacity(void **state)
{
    struct snapshot_doc *d = joule_test_snapshot(
        "{" NOW "\"hosts\": [" HOST("A", "on", 95, "") "," HOST("B", "on", 95, "") ","
        HOST("C", "waking", 0, "") "," HOST("D", "off", 0, "") "]}");
    struct plan p;
    joule_test_plan(d, &p);
    assert_int_equal(p.n, 0);
    plan_free(&p);
    snapshot_doc_free(d);

    d = joule_test_snapshot("{" NOW "\"hosts\": [" HOST("A", "on", 100, "") ","
                            HOST("B", "on", 100, "") "," HOST("C", "on", 100, "") ","
                            HOST("W", "waking", 0, "") "," HOST("D", "off", 0, "") "]}");
    d->snap.hosts[joule_test_snapshot_host(d, "W")].cpus = 1;
    joule_test_plan(d, &p);
    assert_int_equal(p.n, 1);
    assert_power(d, &p.actions[0], PLAN_ACTION_POWER_ON, PLAN_REASON_TH1_WAKE, "D");
    plan_free(&p);
    snapshot_doc_free(d);
}

/* min_active_hosts 3 with one active: wake two (MIN_HOSTS); Th2 is then skipped. */
static void min_hosts_wakes(void **state)
{
    struct snapshot_doc *d = joule_test_snapshot(
        "{" NOW "\"min_active_hosts\": 3, \"consolidation_allowed\": true, \"hosts\": ["
        HOST("A", "on", 5, "") "," HOST("B", "off", 0, "") "," HOST("C", "off", 0, "") ","
        HOST("E", "off", 0, ", \"excluded\": true, \"priority\": -1") "]}");
    struct plan p;
    joule_test_plan(d, &p);
    assert_int_equal(p.n, 2);
    assert_power(d, &p.actions[0], PLAN_ACTION_POWER_ON, PLAN_REASON_MIN_HOSTS, "B");
    assert_power(d, &p.actions[1], PLAN_ACTION_POWER_ON, PLAN_REASON_MIN_HOSTS, "C");
    plan_free(&p);
    snapshot_doc_free(d);
}

/* The only off host is excluded: Th1 has nothing to wake -> alert. */
static void excluded_host_never_woken(void **state)
{
    struct snapshot_doc *d = joule_test_snapshot(
        "{" NOW "\"hosts\": [" HOST("A", "on", 90, "") ","
        HOST("E", "off", 0, ", \"excluded\": true") "]}");
    struct plan p;
    joule_test_plan(d, &p);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.actions[0].kind, PLAN_ACTION_ALERT);
    assert_int_equal(p.actions[0].reason, PLAN_REASON_NO_CAPACITY);
    plan_free(&p);
    snapshot_doc_free(d);
}

/* An excluded host neither gives nor takes VMs nor is powered off: E at 1% (the lowest) is
 * not emptied; A at 60% and E: no balance either (E is out of it). */
static void excluded_host_untouched(void **state)
{
    struct snapshot_doc *d = joule_test_snapshot(
        "{" NOW "\"consolidation_allowed\": true, \"hosts\": ["
        HOST("A", "on", 60, "") "," HOST("E", "on", 1, ", \"excluded\": true") "], \"vms\": ["
        VM("a1", "A", 1.2) "," VM("a2", "A", 1.2) "," VM("e1", "E", 0.04) "]}");
    struct plan p;
    joule_test_plan(d, &p);
    assert_int_equal(p.n, 0);
    plan_free(&p);
    snapshot_doc_free(d);
}

/* Balance 80/40 but B's memory is full: no move. */
static void balance_respects_memory(void **state)
{
    struct snapshot_doc *d = joule_test_snapshot(
        "{" NOW "\"hosts\": [" HOST("A", "on", 80, "") ","
        HOST("B", "on", 40, "") "], \"vms\": [" VM("a1", "A", 2.4) "," VM("a2", "A", 0.8) ","
        VM("b1", "B", 1.6) "]}");
    d->snap.hosts[joule_test_snapshot_host(d, "B")].mem_mib = 1536;
    struct plan p;
    joule_test_plan(d, &p);
    assert_int_equal(p.n, 0);
    plan_free(&p);
    /* now a2 (20% of A <= d/2) fits */
    d->snap.hosts[joule_test_snapshot_host(d, "B")].mem_mib = 2048;
    joule_test_plan(d, &p);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.actions[0].vm, 1);
    plan_free(&p);
    snapshot_doc_free(d);
}

/* Th2 repeats: 4 hosts of 4 cores at 10% (one 0.4-core VM each), U = 1.6 cores.
 * h0 (lowest, lowest index) -> its VM to h1 (best fit: all equal, lowest index), off;
 * C' = 8 -> h2 -> h1 (30%, tightest), off; C' = 4 -> 3.2 > 1.6 -> h3 -> h1 (40%), off. */
static void th2_repeats_while_condition_holds(void **state)
{
    struct snapshot_doc *d = joule_test_snapshot(
        "{" NOW "\"consolidation_allowed\": true, \"hosts\": ["
        HOST("h0", "on", 10, "") "," HOST("h1", "on", 10, "") "," HOST("h2", "on", 10, "") ","
        HOST("h3", "on", 10, "") "], \"vms\": [" VM("v0", "h0", 0.4) "," VM("v1", "h1", 0.4) ","
        VM("v2", "h2", 0.4) "," VM("v3", "h3", 0.4) "]}");
    struct plan p;
    joule_test_plan(d, &p);
    assert_int_equal(p.n, 6);
    const char *src[] = { "h0", "h2", "h3" };
    for (int i = 0; i < 3; i++) {
        const struct plan_action *m = &p.actions[2 * i], *off = &p.actions[2 * i + 1];
        assert_int_equal(m->kind, PLAN_ACTION_MIGRATE);
        assert_int_equal(m->from, joule_test_snapshot_host(d, src[i]));
        assert_int_equal(m->to, joule_test_snapshot_host(d, "h1"));
        assert_true(fabs(m->to_load_pct - 10.0 * (i + 2)) < 1e-9);
        assert_power(d, off, PLAN_ACTION_POWER_OFF, PLAN_REASON_TH2_CONSOLIDATE, src[i]);
    }
    plan_free(&p);
    snapshot_doc_free(d);
}

/* Th2 placement target: h0 (35%, the lowest) has a 2-core VM (50%) that would push h1 or h2
 * from 40% to 90% > 80: h0 is left alone (never powered off with a VM on it). The next lowest,
 * h1 (40%): U 4.6 < 0.8 x 8 cores; its 1.6-core VM (40%) goes best fit to h2 (40 -> 80, no
 * headroom left) rather than h0 (35 -> 75); h1 off. Then C' = 4 x 0.8 = 3.2 < 4.6: stop. */
static void th2_respects_placement_target(void **state)
{
    struct snapshot_doc *d = joule_test_snapshot(
        "{" NOW "\"consolidation_allowed\": true, \"hosts\": [" HOST("h0", "on", 35, "") ","
        HOST("h1", "on", 40, "") "," HOST("h2", "on", 40, "") "], \"vms\": ["
        VM("v0", "h0", 2.0) "," VM("v1", "h1", 1.6) "," VM("v2", "h2", 1.6) "]}");
    d->cfg.balance = POLICY_BALANCE_NONE;
    struct plan p;
    joule_test_plan(d, &p);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.actions[0].kind, PLAN_ACTION_MIGRATE);
    assert_int_equal(p.actions[0].vm, 1);
    assert_int_equal(p.actions[0].to, joule_test_snapshot_host(d, "h2"));
    assert_true(fabs(p.actions[0].to_load_pct - 80) < 1e-9);
    assert_power(d, &p.actions[1], PLAN_ACTION_POWER_OFF, PLAN_REASON_TH2_CONSOLIDATE, "h1");
    plan_free(&p);
    snapshot_doc_free(d);
}

/* h0 (the lowest) is receiving a VM (migration in flight): it is not emptied; h1 is, onto h0. */
static void th2_never_powers_off_receiving_host(void **state)
{
    struct snapshot_doc *d = joule_test_snapshot(
        "{" NOW "\"consolidation_allowed\": true, \"hosts\": ["
        HOST("h0", "on", 10, ", \"receiving\": true") "," HOST("h1", "on", 20, "") "], \"vms\": ["
        VM("v0", "h0", 0.4) "," VM("v1", "h1", 0.8) "]}");
    struct plan p;
    joule_test_plan(d, &p);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.actions[0].kind, PLAN_ACTION_MIGRATE);
    assert_int_equal(p.actions[0].from, joule_test_snapshot_host(d, "h1"));
    assert_int_equal(p.actions[0].to, joule_test_snapshot_host(d, "h0"));
    assert_power(d, &p.actions[1], PLAN_ACTION_POWER_OFF, PLAN_REASON_TH2_CONSOLIDATE, "h1");
    plan_free(&p);
    snapshot_doc_free(d);
}

static void bad_input_is_rejected(void **state)
{
    struct snapshot_doc *d =
        joule_test_snapshot("{" NOW "\"hosts\": [" HOST("A", "on", 50, "") "], \"vms\": ["
                                   VM("v", "A", 1) "]}");
    struct plan p;
    struct joule_err err = { 0 };
    plan_init(&p);
    d->snap.vms[0].host = 5;
    assert_int_equal(policy_run(&d->cfg, &d->snap, &p, &err), JOULE_EINVAL);
    assert_non_null(strstr(err.msg, "host index 5"));
    d->snap.vms[0].host = 0;
    d->snap.hosts[0].load_pct = NAN;
    assert_int_equal(policy_run(&d->cfg, &d->snap, &p, &err), JOULE_EINVAL);
    assert_non_null(strstr(err.msg, "(A)"));
    d->snap.hosts[0].load_pct = 50;
    d->cfg.th1_pct = 0;
    assert_int_equal(policy_run(&d->cfg, &d->snap, &p, &err), JOULE_EINVAL);
    d->cfg.th1_pct = 80;
    d->cfg.algorithm = POLICY_ALGORITHM__COUNT; /* thr-mmt/lr-mmt/joule exist since issue 9 */
    assert_int_equal(policy_run(&d->cfg, &d->snap, &p, &err), JOULE_ENOTSUP);
    assert_int_equal(p.n, 0);
    plan_free(&p);
    snapshot_doc_free(d);
}

static void expect_json_error(const char *json, const char *needle)
{
    struct snapshot_doc *d = NULL;
    struct joule_err err = { 0 };
    assert_int_equal(snapshot_json_parse(json, strlen(json), "snap.json", &d, &err), JOULE_EINVAL);
    assert_null(d);
    if (!strstr(err.msg, needle))
        fail_msg("error \"%s\" lacks \"%s\"", err.msg, needle);
}

static void json_errors_name_the_field(void **state)
{
    expect_json_error("{", "snap.json: invalid JSON");
    expect_json_error("{\"hosts\": []}", "now_ns: missing");
    expect_json_error("{" NOW "\"hosts\": [{\"name\": \"A\", \"mem_mib\": 1, \"state\": \"on\", "
                      "\"load_pct\": 1}]}", "hosts[0].cpus: missing");
    expect_json_error("{" NOW "\"hosts\": [" HOST("A", "sleeping", 1, "") "]}",
                      "hosts[0].state: \"sleeping\" is not one of");
    expect_json_error("{" NOW "\"hosts\": [" HOST("A", "on", -1, "") "]}",
                      "hosts[0].load_pct: -1 is out of range");
    expect_json_error("{" NOW "\"hosts\": [" HOST("A", "on", 1, ", \"colour\": 1") "]}",
                      "hosts[0].colour: unknown key");
    expect_json_error("{" NOW "\"hosts\": [" HOST("A", "on", 1, "") "], \"vms\": [" VM("v", "Z", 1)
                      "]}", "vms[0].host: no host named \"Z\"");
    expect_json_error("{" NOW "\"hosts\": [" HOST("A", "on", 1, "") "," HOST("A", "on", 1, "") "]}",
                      "hosts[1].name: duplicate");
    expect_json_error("{" NOW "\"policy\": {\"balance\": \"zigzag\"}, \"hosts\": []}",
                      "policy.balance: \"zigzag\" is not one of");
    expect_json_error("{" NOW "\"hosts\": [], \"vms\": [1]}", "vms[0]: expected an object");
}

static void json_round_trip(void **state)
{
    struct snapshot_doc *d = joule_test_snapshot(
        "{" NOW "\"consolidation_allowed\": true, \"peak\": true, \"min_active_hosts\": 2, "
        "\"expected_load_cores\": 3.5, \"policy\": {\"balance\": \"bands\", \"th1_pct\": 75, "
        "\"max_moves_per_round\": 7, \"algorithm\": \"thr-mmt\"}, \"hosts\": ["
        HOST("A", "on", 12.5,
             ", \"excluded\": true, \"priority\": 3, \"boot_ns\": 5, \"receiving\": true") ","
        HOST("B", "off", 0, ", \"off_since_ns\": 42, \"reachable\": false") "], \"vms\": ["
        "{\"uuid\": \"u1\", \"name\": \"web\", \"host\": \"A\", \"vcpus\": 2, \"mem_mib\": 512, "
        "\"cpu_cores\": 0.25, \"pinned\": true, \"migrating\": true, \"last_move_ns\": 7},"
        "{\"uuid\": \"u2\", \"host\": null, \"mem_mib\": 1, \"cpu_cores\": 0}]}");
    char *j = snapshot_json_write(&d->snap, &d->cfg);
    struct snapshot_doc *e = joule_test_snapshot(j);
    free(j);
    assert_true(e->has_policy);
    assert_int_equal(e->cfg.balance, POLICY_BALANCE_BANDS);
    assert_int_equal(e->cfg.algorithm, POLICY_ALGORITHM_THR_MMT);
    assert_int_equal(e->cfg.max_moves_per_round, 7);
    assert_true(e->cfg.th1_pct == 75);
    assert_true(e->snap.consolidation_allowed && e->snap.peak);
    assert_int_equal(e->snap.min_active_hosts, 2);
    assert_true(e->snap.expected_load_cores == 3.5);
    assert_int_equal(e->snap.n_hosts, 2);
    assert_string_equal(e->snap.hosts[1].name, "B");
    assert_true(e->snap.hosts[0].excluded && e->snap.hosts[0].load_pct == 12.5);
    assert_int_equal(e->snap.hosts[0].priority, 3);
    assert_int_equal(e->snap.hosts[0].boot_ns, 5);
    assert_int_equal(e->snap.hosts[0].off_since_ns, SNAP_NEVER);
    assert_int_equal(e->snap.hosts[1].off_since_ns, 42);
    assert_false(e->snap.hosts[1].reachable);
    assert_true(e->snap.hosts[0].receiving);
    assert_int_equal(e->snap.hosts[1].state, POWER_STATE_OFF);
    assert_int_equal(e->snap.n_vms, 2);
    assert_string_equal(e->snap.vms[0].name, "web");
    assert_string_equal(e->snap.vms[1].name, "u2");
    assert_int_equal(e->snap.vms[1].host, -1);
    assert_true(e->snap.vms[0].pinned && e->snap.vms[0].migrating);
    assert_int_equal(e->snap.vms[0].last_move_ns, 7);
    assert_int_equal(e->snap.vms[1].last_move_ns, SNAP_NEVER);
    assert_true(e->snap.vms[0].cpu_cores == 0.25 && e->snap.vms[0].vcpus == 2);
    snapshot_doc_free(e);
    snapshot_doc_free(d);
}

static void plan_json_names_things(void **state)
{
    struct snapshot_doc *d = joule_test_snapshot(
        "{" NOW "\"hosts\": [" HOST("A", "on", 80, "") "," HOST("B", "on", 40, "") "], \"vms\": ["
        VM("a1", "A", 2.4) "," VM("a2", "A", 0.8) "]}");
    struct plan p;
    joule_test_plan(d, &p);
    assert_int_equal(p.n, 1);
    char *j = plan_json_write(&p, &d->snap);
    assert_non_null(strstr(j, "\"kind\" : \"migrate\""));
    assert_non_null(strstr(j, "\"reason\" : \"balance\""));
    assert_non_null(strstr(j, "\"vm\" : \"a2\""));
    assert_non_null(strstr(j, "\"from\" : \"A\""));
    assert_non_null(strstr(j, "\"to\" : \"B\""));
    free(j);
    plan_free(&p);
    snapshot_doc_free(d);
}

static void cfg_from_config(void **state)
{
    struct config *cfg = NULL;
    char *errors = NULL;
    int rc = config_load_string(
        "api = { listen = \"\"; };\n"
        "policy = { algorithm = \"lr-mmt\"; th1_pct = 70; th2_factor = 0.6; balance = \"bands\";\n"
        "  balance_gap_pct = 15; max_moves_per_round = 9; vm_cooldown_s = 60;\n"
        "  host_min_off_s = 120;\n"
        "  seed = 7; consolidate = \"never\"; };",
        &cfg, &errors);
    if (rc < 0)
        fail_msg("%s", errors);
    struct policy_cfg pc;
    policy_cfg_from_config(cfg, &pc);
    assert_int_equal(pc.algorithm, POLICY_ALGORITHM_LR_MMT);
    assert_int_equal(pc.balance, POLICY_BALANCE_BANDS);
    assert_true(pc.th1_pct == 70 && pc.th2_factor == 0.6 && pc.balance_gap_pct == 15);
    assert_true(pc.placement_target_pct == 70); /* defaults to th1 */
    assert_int_equal(pc.max_moves_per_round, 9);
    assert_int_equal(pc.vm_cooldown_ns, 60 * JOULE_NS_PER_S);
    assert_int_equal(pc.host_min_off_ns, 120 * JOULE_NS_PER_S);
    assert_int_equal(pc.seed, 7);
    assert_false(policy_consolidation_configured(cfg, true));
    config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(peak_wakes_enough_in_priority_order),
        cmocka_unit_test(peak_skips_recently_off_host),
        cmocka_unit_test(th1_wakes_recently_off_host),
        cmocka_unit_test(waking_host_counts_as_capacity),
        cmocka_unit_test(min_hosts_wakes),
        cmocka_unit_test(excluded_host_never_woken),
        cmocka_unit_test(excluded_host_untouched),
        cmocka_unit_test(balance_respects_memory),
        cmocka_unit_test(th2_repeats_while_condition_holds),
        cmocka_unit_test(th2_respects_placement_target),
        cmocka_unit_test(th2_never_powers_off_receiving_host),
        cmocka_unit_test(bad_input_is_rejected),
        cmocka_unit_test(json_errors_name_the_field),
        cmocka_unit_test(json_round_trip),
        cmocka_unit_test(plan_json_names_things),
        cmocka_unit_test(cfg_from_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
