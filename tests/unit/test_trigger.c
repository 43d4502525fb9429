/* Trigger: overload at once with a cooldown, periodic events, peak / off-peak windows in a time
 * zone, pre-peak wake-up requirement (lead, expected load, hosts needed), manual runs.
 * Time is passed explicitly (simulated); nothing sleeps. */
#include "support/test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "trigger.h"
#include "util/xalloc.h"

#define S JOULE_NS_PER_S
#define MIN (60 * S)
#define H (3600 * S)
/* 2026-11-23T00:00:00Z, a Monday */
#define MONDAY_UTC (1795392000LL * S)

struct fx {
    struct config *cfg;
    struct trigger *t;
    struct model_snapshot snap;
    struct snap_host hosts[4];
    struct snap_vm vms[4];
    struct trigger_schedule sched;
    struct trigger_event ev[8];
};

static struct config *load(const char *policy, const char *extra)
{
    char text[4096];
    snprintf(text, sizeof text,
             "api = { listen = \"\"; };\n"
             "tick_s = 10; periodic_s = 600;\n"
             "policy = { th1_pct = 80; overload_pct = 90; overload_cooldown_s = 120; "
             "min_active_hosts = 1; %s };\n"
             "%s\n"
             "hosts = ( { name = \"h0\"; uri = \"x\"; cpus = 8; boot_s = 120; priority = 1; },\n"
             "          { name = \"h1\"; uri = \"x\"; cpus = 8; boot_s = 120; priority = 3; },\n"
             "          { name = \"h2\"; uri = \"x\"; cpus = 8; boot_s = 300; priority = 2; },\n"
             "          { name = \"h3\"; uri = \"x\"; cpus = 8; boot_s = 120; priority = 4; } );",
             policy, extra);
    struct config *cfg = NULL;
    char *errors = NULL;
    if (config_load_string(text, &cfg, &errors) < 0)
        fail_msg("%s", errors);
    return cfg;
}

static void use2(struct fx *f, const char *policy, const char *extra)
{
    trigger_free(f->t);
    config_free(f->cfg);
    f->t = NULL;
    f->cfg = NULL;
    f->cfg = load(policy, extra);
    f->t = trigger_new(f->cfg);
}

static void use(struct fx *f, const char *extra) { use2(f, "", extra); }

static int setup(void **state)
{
    setenv("TZ", "Europe/Paris", 1); /* what main.c does once for schedule.timezone */
    tzset();
    struct fx *f = xcalloc(1, sizeof *f);
    use(f, "schedule = { timezone = \"Europe/Paris\"; peak = [ \"mon-fri 08:00-18:00\" ]; "
           "peak_min_active_hosts = 2; };");
    static const char *const names[] = { "h0", "h1", "h2", "h3" };
    for (int i = 0; i < 4; i++) {
        f->hosts[i] = (struct snap_host){ .name = names[i], .cpus = 8, .state = POWER_STATE_ON,
                                          .load_pct = 20, .priority = i, .reachable = true,
                                          .off_since_ns = SNAP_NEVER };
        f->vms[i] = (struct snap_vm){ .uuid = names[i], .name = names[i], .host = i,
                                      .vcpus = 4, .cpu_cores = 1.6, .last_move_ns = SNAP_NEVER };
    }
    f->snap.hosts = f->hosts;
    f->snap.n_hosts = 4;
    f->snap.vms = f->vms;
    f->snap.n_vms = 4;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    trigger_free(f->t);
    config_free(f->cfg);
    free(f);
    return 0;
}

static size_t eval(struct fx *f, int64_t now, int64_t mono)
{
    return trigger_eval(f->t, &f->snap, now, mono, &f->sched, f->ev, 8);
}

static size_t count(const struct fx *f, size_t n, enum trigger_kind k)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += f->ev[i].kind == k;
    return c;
}

static void test_local_time_in_zone(void **state)
{
    (void)state;
    int wd, min;
    /* Monday 07:30 UTC = 08:30 in Paris (UTC+1 in November) */
    trigger_local(MONDAY_UTC + 7 * H + 30 * MIN, &wd, &min);
    assert_int_equal(wd, 0);
    assert_int_equal(min, 8 * 60 + 30);
    /* Sunday 23:30 UTC = Monday 00:30 in Paris */
    trigger_local(MONDAY_UTC - 30 * MIN, &wd, &min);
    assert_int_equal(wd, 0);
    assert_int_equal(min, 30);
}

static void test_periodic(void **state)
{
    struct fx *f = *state;
    int64_t now = MONDAY_UTC + 2 * H, mono = 1000 * S;
    size_t n = eval(f, now, mono);
    assert_int_equal(n, 1); /* the first evaluation runs the policy once */
    assert_int_equal(f->ev[0].kind, TRIGGER_PERIODIC);
    for (int k = 1; k < 60; k++)
        assert_int_equal(eval(f, now + k * 10 * S, mono + k * 10 * S), 0);
    n = eval(f, now + 600 * S, mono + 600 * S);
    assert_int_equal(n, 1);
    assert_int_equal(f->ev[0].kind, TRIGGER_PERIODIC);
    assert_int_equal(eval(f, now + 610 * S, mono + 610 * S), 0);
}

static void test_overload_at_once_with_cooldown(void **state)
{
    struct fx *f = *state;
    int64_t now = MONDAY_UTC + 2 * H, mono = 1000 * S;
    eval(f, now, mono); /* periodic */
    f->hosts[2].load_pct = 95;
    size_t n = eval(f, now + 10 * S, mono + 10 * S);
    assert_int_equal(n, 1);
    assert_int_equal(f->ev[0].kind, TRIGGER_OVERLOAD);
    assert_int_equal(f->ev[0].host, 2);
    assert_true(strstr(f->ev[0].detail, "h2") != NULL);
    /* still overloaded, inside the 120 s cooldown: nothing */
    assert_int_equal(eval(f, now + 20 * S, mono + 20 * S), 0);
    assert_int_equal(eval(f, now + 120 * S, mono + 120 * S), 0);
    /* a second host overloads: its own event at once */
    f->hosts[0].load_pct = 91;
    n = eval(f, now + 100 * S, mono + 100 * S);
    assert_int_equal(n, 1);
    assert_int_equal(f->ev[0].host, 0);
    /* cooldown of h2 over */
    n = eval(f, now + 140 * S, mono + 140 * S);
    assert_int_equal(count(f, n, TRIGGER_OVERLOAD), 1);
    assert_int_equal(f->ev[0].host, 2);
    /* exactly at the threshold is not above it; a host that is not on never fires */
    f->hosts[0].load_pct = 90;
    f->hosts[2].state = POWER_STATE_DRAINING;
    assert_int_equal(eval(f, now + 400 * S, mono + 400 * S), 0);
}

static void test_windows_and_consolidation(void **state)
{
    struct fx *f = *state;
    /* Monday 03:00 Paris: off-peak (no off_peak list: everything outside peak) */
    eval(f, MONDAY_UTC + 2 * H, 0);
    assert_false(f->sched.peak);
    assert_true(f->sched.off_peak);
    assert_false(f->sched.prewake);
    assert_true(f->sched.consolidation_allowed);
    assert_int_equal(f->sched.min_active_hosts, 1);
    assert_true(f->sched.expected_load_cores == 0);
    /* Monday 09:00 Paris: peak, the peak minimum applies, no consolidation */
    size_t n = eval(f, MONDAY_UTC + 8 * H, 60 * S);
    assert_true(f->sched.peak);
    assert_false(f->sched.consolidation_allowed);
    assert_true(f->sched.min_active_hosts >= 2);
    assert_int_equal(count(f, n, TRIGGER_SCHEDULE), 1); /* the window change is an event */
    /* Saturday 09:00 Paris: not a peak day */
    eval(f, MONDAY_UTC + 5 * 24 * H + 8 * H, 120 * S);
    assert_false(f->sched.peak);
    assert_true(f->sched.consolidation_allowed);

    struct model_snapshot snap = { 0 };
    trigger_eval(f->t, &f->snap, MONDAY_UTC + 8 * H, 200 * S, &f->sched, f->ev, 8);
    trigger_apply(&f->sched, &snap);
    assert_true(snap.peak);
    assert_false(snap.consolidation_allowed);
    assert_int_equal(snap.min_active_hosts, f->sched.min_active_hosts);
}

static void test_explicit_off_peak_windows(void **state)
{
    struct fx *f = *state;
    use(f, "schedule = { peak = [ \"mon-fri 08:00-18:00\" ]; off_peak = [ \"daily 22:00-06:00\" ]; };");
    setenv("TZ", "UTC", 1);
    tzset();
    eval(f, MONDAY_UTC + 20 * H, 0); /* 20:00: neither */
    assert_false(f->sched.peak);
    assert_false(f->sched.off_peak);
    assert_false(f->sched.consolidation_allowed);
    eval(f, MONDAY_UTC + 23 * H, 10 * S); /* 23:00: off-peak */
    assert_true(f->sched.off_peak);
    assert_true(f->sched.consolidation_allowed);
    eval(f, MONDAY_UTC + 24 * H + 5 * H, 20 * S); /* Tuesday 05:00, window from Monday */
    assert_true(f->sched.off_peak);
    use2(f, "consolidate = \"always\";", "schedule = { peak = [ \"daily 00:00-24:00\" ]; };");
    eval(f, MONDAY_UTC + 12 * H, 30 * S);
    assert_true(f->sched.peak);
    assert_true(f->sched.consolidation_allowed);
    use2(f, "consolidate = \"never\";", "");
    eval(f, MONDAY_UTC + 3 * H, 40 * S);
    assert_false(f->sched.consolidation_allowed);
}

static void test_prewake_before_peak(void **state)
{
    struct fx *f = *state;
    use(f, "schedule = { timezone = \"Europe/Paris\"; peak = [ \"mon-fri 08:00-18:00\" ]; "
           "peak_expected_load_pct = 50; };");
    /* two hosts off: h1 (priority 1... index 1) and h3 */
    f->hosts[1].state = POWER_STATE_OFF;
    f->hosts[2].state = POWER_STATE_OFF;
    f->hosts[3].state = POWER_STATE_OFF;
    /* lead = longest boot_s (300 s, h2) + one tick (10 s) = 310 s. Peak starts at 07:00 UTC. */
    int64_t peak = MONDAY_UTC + 7 * H;
    eval(f, peak - 320 * S, 0);
    assert_false(f->sched.prewake);
    assert_true(f->sched.consolidation_allowed);
    assert_int_equal(f->sched.min_active_hosts, 1);
    size_t n = eval(f, peak - 305 * S, 10 * S);
    assert_true(f->sched.prewake);
    assert_false(f->sched.peak);
    assert_false(f->sched.consolidation_allowed); /* do not empty hosts we are about to need */
    assert_int_equal(f->sched.lead_ns, 310 * S);
    assert_int_equal(count(f, n, TRIGGER_SCHEDULE), 1);
    /* expected = 50% of 32 cores = 16 cores; under Th1 80% needs 20 cores = 3 hosts of 8 */
    assert_true(f->sched.expected_load_cores > 15.99 && f->sched.expected_load_cores < 16.01);
    assert_int_equal(f->sched.min_active_hosts, 3);

    /* with every host on, the fewest hosts that carry it are required, not all that run */
    f->hosts[1].state = f->hosts[2].state = f->hosts[3].state = POWER_STATE_ON;
    eval(f, peak - 300 * S, 20 * S);
    assert_int_equal(f->sched.min_active_hosts, 3);

    /* a measured boot of 20 min stretches the lead */
    use(f, "schedule = { timezone = \"Europe/Paris\"; peak = [ \"mon-fri 08:00-18:00\" ]; "
           "peak_expected_load_pct = 50; };");
    trigger_note_boot(f->t, 3, 20 * MIN);
    eval(f, peak - 15 * MIN, 0);
    assert_true(f->sched.prewake);
    assert_int_equal(f->sched.lead_ns, 20 * MIN + 10 * S);
    /* a configured lead wins over measurements */
    use(f, "schedule = { timezone = \"Europe/Paris\"; peak = [ \"mon-fri 08:00-18:00\" ]; "
           "wake_lead_s = 60; peak_expected_load_pct = 50; };");
    eval(f, peak - 2 * MIN, 0);
    assert_false(f->sched.prewake);
    eval(f, peak - 50 * S, 10 * S);
    assert_true(f->sched.prewake);
}

static void test_learns_peak_load(void **state)
{
    struct fx *f = *state;
    use(f, "schedule = { timezone = \"Europe/Paris\"; peak = [ \"mon-fri 08:00-18:00\" ]; "
           "wake_lead_s = 600; };");
    int64_t peak = MONDAY_UTC + 7 * H;
    /* nothing learned yet: pre-wake asks for at least the current demand (4 x 1.6 cores) */
    eval(f, peak - 5 * MIN, 0);
    assert_true(f->sched.prewake);
    assert_true(f->sched.expected_load_cores > 6.39 && f->sched.expected_load_cores < 6.41);
    /* Monday's peak reaches 4 x 5 = 20 cores */
    eval(f, peak + H, 10 * S);
    for (int i = 0; i < 4; i++)
        f->vms[i].cpu_cores = 5;
    eval(f, peak + 2 * H, 20 * S);
    for (int i = 0; i < 4; i++)
        f->vms[i].cpu_cores = 0.5;
    eval(f, peak + 11 * H, 30 * S); /* the window ended */
    assert_false(f->sched.peak);
    f->hosts[1].state = POWER_STATE_OFF;
    f->hosts[2].state = POWER_STATE_OFF;
    f->hosts[3].state = POWER_STATE_OFF;
    /* Tuesday before the peak: expects Monday's 20 cores -> 20 / 0.8 = 25 cores = 4 hosts */
    eval(f, peak + 24 * H - 5 * MIN, 40 * S);
    assert_true(f->sched.prewake);
    assert_true(f->sched.expected_load_cores > 19.99 && f->sched.expected_load_cores < 20.01);
    assert_int_equal(f->sched.min_active_hosts, 4);
    /* an excluded host is never counted as a candidate to wake */
    f->hosts[3].excluded = true;
    eval(f, peak + 24 * H - 4 * MIN, 50 * S);
    assert_int_equal(f->sched.min_active_hosts, 3);
}

static void test_manual_run(void **state)
{
    struct fx *f = *state;
    eval(f, MONDAY_UTC + 9 * H, 0); /* peak */
    assert_false(f->sched.consolidation_allowed);
    trigger_request_manual(f->t, true);
    size_t n = eval(f, MONDAY_UTC + 9 * H + 10 * S, 10 * S);
    assert_int_equal(n, 1);
    assert_int_equal(f->ev[0].kind, TRIGGER_MANUAL);
    assert_true(f->sched.consolidation_allowed);
    /* one round only */
    assert_int_equal(eval(f, MONDAY_UTC + 9 * H + 20 * S, 20 * S), 0);
    assert_false(f->sched.consolidation_allowed);
    assert_string_equal(trigger_kind_name(TRIGGER_OVERLOAD), "overload");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_local_time_in_zone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_periodic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overload_at_once_with_cooldown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_windows_and_consolidation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_explicit_off_peak_windows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prewake_before_peak, setup, teardown),
        cmocka_unit_test_setup_teardown(test_learns_peak_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_manual_run, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
