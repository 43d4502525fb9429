/* The power state machine (controller/power.c) on the sim cluster and the sim power driver,
 * with a simulated clock: every path of the transition table, verification, method fallback,
 * soft->hard off, deadlines -> unknown + alert, and the safety refusals. Driver calls run
 * inline (power_ctl_set_inline); nothing sleeps. The exec method runs /bin/true and /bin/false. */
#include "support/test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "power.h"
#include "registry.h"
#include "sim_cluster.h"
#include "util/xalloc.h"

#define S JOULE_NS_PER_S
#define BOOT_S 60
#define SHUT_S 30
#define GRACE_S 20
#define SIM_SHUT_S 15 /* the sim hosts shut down faster than configured (no hard off needed) */

struct fx {
    struct clock_sim *cs;
    struct sim_cluster *sc;
    struct config *cfg;
    struct drv_env env;
    struct power_ctl *pc;
    struct power_facts facts[3];
    bool stale_meter; /* facts carry no fresh watts */
};

#define BASE_CFG \
    "api = { listen = \"\"; };\n" \
    "policy = { min_active_hosts = %u; };\n" \
    "excluded_hosts = [ %s ];\n" \
    "hosts = (\n" \
    "  { name = \"a\"; hypervisor = \"sim\"; boot_s = %d; shutdown_s = %d; standby_w = 20;\n" \
    "    power = { methods = [ %s ]; ipmi = { host = \"127.0.0.1\"; soft_off_grace_s = %d; };\n" \
    "              exec = { on = [ \"%s\" ]; off = [ \"%s\" ]; timeout_s = 5; }; }; },\n" \
    "  { name = \"b\"; hypervisor = \"sim\"; boot_s = %d; shutdown_s = %d;\n" \
    "    power = { methods = [ \"sim\" ];\n" \
    "              ipmi = { host = \"127.0.0.1\"; soft_off_grace_s = 120; }; }; },\n" \
    "  { name = \"c\"; hypervisor = \"sim\"; excluded = %s; boot_s = %d; shutdown_s = %d;\n" \
    "    power = { methods = [ \"sim\" ]; }; }\n" \
    ");\n"

struct opts {
    unsigned min_active;
    const char *excluded_list;
    const char *methods_a;
    const char *exec_on;
    const char *exec_off;
    const char *c_excluded;
};

static struct fx *fx_make(const struct opts *o)
{
    struct fx *f = xcalloc(1, sizeof *f);
    f->cs = clock_sim_new(1700000000LL * S);
    f->sc = sim_cluster_new(clock_sim_clock(f->cs));
    char *text = xasprintf(BASE_CFG, o->min_active, o->excluded_list ? o->excluded_list : "",
                           BOOT_S, SHUT_S, o->methods_a ? o->methods_a : "\"sim\"", GRACE_S,
                           o->exec_on ? o->exec_on : "/bin/true",
                           o->exec_off ? o->exec_off : "/bin/true", BOOT_S, SHUT_S,
                           o->c_excluded ? o->c_excluded : "false", BOOT_S, SHUT_S);
    char *errors = NULL;
    if (config_load_string(text, &f->cfg, &errors) < 0)
        fail_msg("config: %s", errors);
    free(text);
    const char *names[] = { "a", "b", "c" };
    for (int i = 0; i < 3; i++) {
        int h = sim_host_add(f->sc, names[i], 4, 8192, 100, 200);
        f->sc->hosts[h].boot_ns = BOOT_S * S;
        f->sc->hosts[h].shutdown_ns = SIM_SHUT_S * S;
        f->sc->hosts[h].standby_w = 5;
    }
    f->env.clock = clock_sim_clock(f->cs);
    f->env.sim = f->sc;
    struct joule_err err = { 0 };
    if (power_ctl_new(f->cfg, &f->env, &f->pc, &err) < 0)
        fail_msg("power_ctl_new: %s", err.msg);
    power_ctl_set_inline(f->pc, true);
    return f;
}

static void fx_free(struct fx *f)
{
    power_ctl_free(f->pc);
    sim_cluster_free(f->sc);
    clock_sim_free(f->cs);
    config_free(f->cfg);
    free(f);
}

static int setup(void **state)
{
    struct opts o = { .min_active = 1 };
    *state = fx_make(&o);
    return 0;
}

static int teardown(void **state)
{
    fx_free(*state);
    return 0;
}

/* What the monitor would report: libvirt answers while the sim host is on and reachable. */
static void facts_from_sim(struct fx *f)
{
    sim_cluster_update(f->sc);
    int64_t now = clock_now_ns(clock_sim_clock(f->cs));
    for (size_t i = 0; i < 3; i++) {
        struct sim_host *h = &f->sc->hosts[i];
        struct power_facts *pf = &f->facts[i];
        pf->libvirt_reachable = h->power == SIM_POWER_ON && h->reachable;
        pf->n_vms = sim_host_vm_count(f->sc, (int)i);
        pf->watts = sim_host_watts(f->sc, (int)i, now);
        pf->watts_fresh = !f->stale_meter;
    }
}

static int64_t mono(struct fx *f) { return clock_mono_ns(clock_sim_clock(f->cs)); }

static void step(struct fx *f)
{
    facts_from_sim(f);
    power_ctl_step(f->pc, mono(f), f->facts, 3);
}

/* Steps every `tick_s` for `secs` of simulated time. */
static void run_for(struct fx *f, int secs, int tick_s)
{
    for (int t = 0; t < secs; t += tick_s) {
        clock_sim_advance(f->cs, (int64_t)tick_s * S);
        step(f);
    }
}

static void settle_on(struct fx *f)
{
    step(f);
    for (int i = 0; i < 3; i++)
        assert_int_equal(power_ctl_state(f->pc, i), POWER_STATE_ON);
}

static size_t take_recs(struct fx *f, struct power_action_record *r, size_t max)
{
    return power_ctl_take_records(f->pc, r, max);
}

static bool has_alert(struct fx *f, const char *host, const char *needle)
{
    struct event_record ev[16];
    size_t n = power_ctl_take_events(f->pc, ev, 16);
    for (size_t i = 0; i < n; i++)
        if (strcmp(ev[i].kind, "alert") == 0 && strcmp(ev[i].host, host) == 0 &&
            strstr(ev[i].detail, needle))
            return true;
    return false;
}

/* ------------------------------------------------------------------------------ tests */

static void test_startup_resolves_unknown(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(power_ctl_state(f->pc, i), POWER_STATE_UNKNOWN);
        assert_false(power_ctl_is_capacity(f->pc, i));
    }
    /* b is off: the sim status says so */
    f->sc->hosts[1].power = SIM_POWER_OFF;
    step(f);
    assert_int_equal(power_ctl_state(f->pc, 0), POWER_STATE_ON);
    assert_true(power_ctl_is_capacity(f->pc, 0));
    assert_int_equal(power_ctl_state(f->pc, 1), POWER_STATE_OFF);
    assert_false(power_ctl_is_capacity(f->pc, 1));
    assert_int_equal(power_ctl_off_since(f->pc, 1), mono(f));
    assert_int_equal(power_ctl_off_since(f->pc, 0), SNAP_NEVER);
    /* observations are not actions: nothing recorded, no alert for a first sighting */
    struct power_action_record r[4];
    assert_int_equal(take_recs(f, r, 4), 0);
    struct event_record ev[4];
    assert_int_equal(power_ctl_take_events(f->pc, ev, 4), 0);
}

static void test_drain_off_verified_by_status(void **state)
{
    struct fx *f = *state;
    f->stale_meter = true; /* only the status can verify */
    settle_on(f);
    struct joule_err err = { 0 };
    int64_t t0 = clock_now_ns(clock_sim_clock(f->cs));
    assert_int_equal(power_ctl_mark_draining(f->pc, 1, &err), 0);
    assert_int_equal(power_ctl_state(f->pc, 1), POWER_STATE_DRAINING);
    assert_false(power_ctl_is_capacity(f->pc, 1));
    step(f);
    assert_int_equal(power_ctl_request_off(f->pc, 1, &f->facts[1], 3, false, &err), 0);
    assert_int_equal(power_ctl_state(f->pc, 1), POWER_STATE_POWERING_OFF);
    step(f); /* the soft off goes out */
    assert_int_equal(f->sc->hosts[1].power, SIM_POWER_SHUTTING_DOWN);
    run_for(f, SIM_SHUT_S - 2, 1);
    assert_int_equal(power_ctl_state(f->pc, 1), POWER_STATE_POWERING_OFF);
    run_for(f, 4, 1);
    assert_int_equal(power_ctl_state(f->pc, 1), POWER_STATE_OFF);
    assert_true(power_ctl_off_since(f->pc, 1) >= (SIM_SHUT_S - 1) * S);
    struct power_action_record r[4];
    assert_int_equal(take_recs(f, r, 4), 1);
    assert_string_equal(r[0].host, "b");
    assert_int_equal(r[0].action, RECORD_POWER_OFF);
    assert_true(r[0].ok);
    assert_string_equal(r[0].method, "sim");
    assert_string_equal(r[0].verified_by, "sim_status");
    assert_false(r[0].hard);
    assert_false(r[0].forced);
    assert_int_equal(r[0].start_ns, t0);
    assert_true(r[0].end_ns >= t0 + SIM_SHUT_S * S);
}

static void test_wake_verified_by_libvirt(void **state)
{
    struct fx *f = *state;
    f->sc->hosts[2].power = SIM_POWER_OFF;
    step(f);
    assert_int_equal(power_ctl_state(f->pc, 2), POWER_STATE_OFF);
    struct joule_err err = { 0 };
    assert_int_equal(power_ctl_request_on(f->pc, 2, &err), 0);
    assert_int_equal(power_ctl_state(f->pc, 2), POWER_STATE_WAKING);
    assert_false(power_ctl_is_capacity(f->pc, 2)); /* waking is not capacity yet */
    assert_int_equal(power_ctl_request_on(f->pc, 2, &err), 0); /* idempotent while waking */
    step(f);
    assert_int_equal(f->sc->hosts[2].power, SIM_POWER_BOOTING);
    run_for(f, BOOT_S - 5, 5);
    assert_int_equal(power_ctl_state(f->pc, 2), POWER_STATE_WAKING);
    run_for(f, 10, 5);
    assert_int_equal(power_ctl_state(f->pc, 2), POWER_STATE_ON);
    assert_true(power_ctl_is_capacity(f->pc, 2));
    assert_int_equal(power_ctl_off_since(f->pc, 2), SNAP_NEVER);
    struct power_action_record r[4];
    assert_int_equal(take_recs(f, r, 4), 1);
    assert_int_equal(r[0].action, RECORD_POWER_ON);
    assert_true(r[0].ok);
    assert_string_equal(r[0].verified_by, "libvirt_reachable");
    struct power_ctl_stats st;
    power_ctl_stats(f->pc, &st);
    assert_int_equal(st.wakes_verified, 1);
    assert_true(st.last_wake_ns >= BOOT_S * S && st.last_wake_ns <= (BOOT_S + 5) * S);
}

/* When a host came on (issue 10 item 3: Th2 does not empty a host on for less than
 * host_min_on_s): unknown at the first sighting, the verification time of a wake, kept while
 * draining and through an aborted off, gone when off; a host seen coming on by itself also
 * came on then. */
static void test_on_since(void **state)
{
    struct fx *f = *state;
    f->sc->hosts[2].power = SIM_POWER_OFF;
    step(f);
    assert_int_equal(power_ctl_on_since(f->pc, 0), SNAP_NEVER); /* on before we knew it */
    assert_int_equal(power_ctl_on_since(f->pc, 2), SNAP_NEVER);
    assert_int_equal(power_ctl_on_since(f->pc, 7), SNAP_NEVER);  /* out of range */
    struct joule_err err = { 0 };
    assert_int_equal(power_ctl_request_on(f->pc, 2, &err), 0);
    assert_int_equal(power_ctl_on_since(f->pc, 2), SNAP_NEVER); /* waking is not on */
    int64_t asked = mono(f);
    int64_t on_at = SNAP_NEVER;
    for (int t = 0; t < BOOT_S + 30 && on_at == SNAP_NEVER; t += 5) {
        clock_sim_advance(f->cs, 5 * S);
        step(f);
        if (power_ctl_state(f->pc, 2) == POWER_STATE_ON)
            on_at = mono(f);
    }
    assert_true(on_at != SNAP_NEVER && on_at >= asked + BOOT_S * S);
    assert_int_equal(power_ctl_on_since(f->pc, 2), on_at);
    /* draining keeps it; a VM seen there aborts the drain and it is still the same time */
    run_for(f, 30, 5);
    assert_int_equal(power_ctl_mark_draining(f->pc, 2, &err), 0);
    assert_int_equal(power_ctl_on_since(f->pc, 2), on_at);
    assert_int_equal(power_ctl_request_on(f->pc, 2, &err), 0); /* cancels the drain */
    assert_int_equal(power_ctl_state(f->pc, 2), POWER_STATE_ON);
    assert_int_equal(power_ctl_on_since(f->pc, 2), on_at);
    /* off: gone; back on without joule: on since it was seen on */
    f->sc->hosts[2].power = SIM_POWER_OFF;
    step(f);
    assert_int_equal(power_ctl_state(f->pc, 2), POWER_STATE_OFF);
    assert_int_equal(power_ctl_on_since(f->pc, 2), SNAP_NEVER);
    run_for(f, 10, 5);
    f->sc->hosts[2].power = SIM_POWER_ON;
    step(f);
    assert_int_equal(power_ctl_state(f->pc, 2), POWER_STATE_ON);
    assert_int_equal(power_ctl_on_since(f->pc, 2), mono(f));
    assert_int_equal(power_ctl_on_since(f->pc, 0), SNAP_NEVER); /* untouched */
    /* a wake that fails leaves unknown; the host then seen on (someone pressed the button)
     * came on at that sighting, unlike the first sighting at start */
    f->sc->hosts[1].power = SIM_POWER_OFF;
    step(f);
    f->sc->hosts[1].power_fails = true;
    assert_int_equal(power_ctl_request_on(f->pc, 1, &err), 0);
    run_for(f, 100, 5);
    assert_int_equal(power_ctl_state(f->pc, 1), POWER_STATE_UNKNOWN);
    assert_int_equal(power_ctl_on_since(f->pc, 1), SNAP_NEVER);
    f->sc->hosts[1].power = SIM_POWER_ON;
    int64_t seen = SNAP_NEVER;
    for (int t = 0; t < (int)(POWER_UNKNOWN_HOLD_NS / S) + 60 && seen == SNAP_NEVER; t += 10) {
        clock_sim_advance(f->cs, 10 * S);
        step(f);
        if (power_ctl_state(f->pc, 1) == POWER_STATE_ON)
            seen = mono(f);
    }
    assert_true(seen != SNAP_NEVER);
    assert_int_equal(power_ctl_on_since(f->pc, 1), seen);
}

static void test_wake_never_completes(void **state)
{
    struct fx *f = *state;
    f->sc->hosts[1].power = SIM_POWER_OFF;
    step(f);
    f->sc->hosts[1].power_fails = true; /* requests are lost */
    struct joule_err err = { 0 };
    assert_int_equal(power_ctl_request_on(f->pc, 1, &err), 0);
    /* deadline: boot 60 s + margin max(10, 30) = 90 s after the call */
    run_for(f, 85, 5);
    assert_int_equal(power_ctl_state(f->pc, 1), POWER_STATE_WAKING);
    run_for(f, 10, 5);
    assert_int_equal(power_ctl_state(f->pc, 1), POWER_STATE_UNKNOWN);
    assert_false(power_ctl_is_capacity(f->pc, 1));
    assert_true(has_alert(f, "b", "power on failed"));
    struct power_action_record r[4];
    assert_int_equal(take_recs(f, r, 4), 1);
    assert_false(r[0].ok);
    assert_string_equal(r[0].method, "sim");
    assert_non_null(strstr(r[0].error, "not verified on"));
    /* the host stays unknown (sim status says off, but it is on hold) ... */
    run_for(f, 60, 5);
    assert_int_equal(power_ctl_state(f->pc, 1), POWER_STATE_UNKNOWN);
    /* ... and after the hold, observation settles it */
    run_for(f, (int)(POWER_UNKNOWN_HOLD_NS / S), 10);
    assert_int_equal(power_ctl_state(f->pc, 1), POWER_STATE_OFF);
}

static void test_off_never_verifies_soft_then_hard(void **state)
{
    struct fx *f = *state;
    settle_on(f);
    f->sc->hosts[0].power_fails = true;
    struct joule_err err = { 0 };
    assert_int_equal(power_ctl_request_off(f->pc, 0, &f->facts[0], 3, false, &err), 0);
    step(f);
    /* grace 20 s: soft off only until then */
    run_for(f, GRACE_S - 2, 1);
    assert_int_equal(power_ctl_state(f->pc, 0), POWER_STATE_POWERING_OFF);
    run_for(f, 4, 1); /* grace over -> hard off sent */
    /* the hard off is verified within the margin (10 s) or the attempt fails */
    run_for(f, 12, 1);
    assert_int_equal(power_ctl_state(f->pc, 0), POWER_STATE_UNKNOWN);
    assert_true(has_alert(f, "a", "power off failed"));
    struct power_action_record r[4];
    assert_int_equal(take_recs(f, r, 4), 1);
    assert_false(r[0].ok);
    assert_true(r[0].hard);
    assert_int_equal(r[0].action, RECORD_POWER_OFF);
    /* libvirt still answers, but during the hold the host is not counted */
    run_for(f, 60, 5);
    assert_int_equal(power_ctl_state(f->pc, 0), POWER_STATE_UNKNOWN);
    run_for(f, (int)(POWER_UNKNOWN_HOLD_NS / S), 10);
    assert_int_equal(power_ctl_state(f->pc, 0), POWER_STATE_ON);
}

static void test_slow_shutdown_gets_hard_off(void **state)
{
    struct fx *f = *state;
    settle_on(f);
    /* the OS needs 25 s, the grace is 20 s: a hard off follows, then it is verified */
    f->sc->hosts[0].shutdown_ns = 25 * S;
    struct joule_err err = { 0 };
    assert_int_equal(power_ctl_request_off(f->pc, 0, &f->facts[0], 3, false, &err), 0);
    run_for(f, GRACE_S + 3, 1);
    assert_int_equal(power_ctl_state(f->pc, 0), POWER_STATE_POWERING_OFF);
    run_for(f, 5, 1);
    assert_int_equal(power_ctl_state(f->pc, 0), POWER_STATE_OFF);
    struct power_action_record r[2];
    assert_int_equal(take_recs(f, r, 2), 1);
    assert_true(r[0].ok);
    assert_true(r[0].hard);
}

static void test_vm_appears_on_draining_host(void **state)
{
    struct fx *f = *state;
    struct sim_load idle = { .kind = SIM_LOAD_CONST };
    int vm = sim_vm_add(f->sc, "vm1", NULL, 1, 1, 512, &idle);
    assert_true(vm >= 0);
    settle_on(f);
    struct joule_err err = { 0 };
    assert_int_equal(power_ctl_mark_draining(f->pc, 1, &err), 0);
    step(f);
    /* the VM leaving: fine */
    f->sc->vms[vm].host = 0;
    step(f);
    assert_int_equal(power_ctl_state(f->pc, 1), POWER_STATE_DRAINING);
    /* a new VM lands there: the drain is off, and so is any power-off */
    f->sc->vms[vm].host = 1;
    step(f);
    assert_int_equal(power_ctl_state(f->pc, 1), POWER_STATE_ON);
    struct event_record ev[4];
    assert_int_equal(power_ctl_take_events(f->pc, ev, 4), 1);
    assert_string_equal(ev[0].kind, "drain_aborted");
    assert_string_equal(ev[0].host, "b");
    assert_int_equal(power_ctl_request_off(f->pc, 1, &f->facts[1], 3, false, &err), JOULE_EPERM);
    assert_non_null(strstr(err.msg, "runs 1 VM"));
}

static void test_incoming_migration_aborts_drain(void **state)
{
    struct fx *f = *state;
    settle_on(f);
    struct joule_err err = { 0 };
    assert_int_equal(power_ctl_mark_draining(f->pc, 1, &err), 0);
    facts_from_sim(f);
    f->facts[1].receiving_vm = true;
    power_ctl_step(f->pc, mono(f), f->facts, 3);
    assert_int_equal(power_ctl_state(f->pc, 1), POWER_STATE_ON);
}

static void test_vm_appears_while_powering_off(void **state)
{
    struct fx *f = *state;
    settle_on(f);
    f->sc->hosts[1].power_fails = true; /* the soft off is lost: the host keeps running */
    struct joule_err err = { 0 };
    assert_int_equal(power_ctl_request_off(f->pc, 1, &f->facts[1], 3, false, &err), 0);
    step(f);
    run_for(f, 5, 1);
    sim_vm_add(f->sc, "late", NULL, 1, 1, 512, &(struct sim_load){ .kind = SIM_LOAD_CONST });
    f->sc->hosts[1].power_fails = false;
    step(f);
    assert_int_equal(power_ctl_state(f->pc, 1), POWER_STATE_ON);
    assert_true(has_alert(f, "b", "power off aborted"));
    /* no hard off after the grace: the VM survives */
    run_for(f, 120 + 15, 1);
    assert_int_equal(f->sc->hosts[1].power, SIM_POWER_ON);
    assert_int_equal(sim_host_vm_count(f->sc, 1), 1);
    struct power_action_record r[2];
    assert_int_equal(take_recs(f, r, 2), 1);
    assert_false(r[0].ok);
    assert_non_null(strstr(r[0].error, "aborted"));
}

static void test_refusals(void **state)
{
    struct fx *f = *state;
    settle_on(f);
    struct joule_err err = { 0 };
    struct power_facts busy = { .libvirt_reachable = true, .n_vms = 2 };
    assert_int_equal(power_ctl_request_off(f->pc, 0, &busy, 3, false, &err), JOULE_EPERM);
    assert_non_null(strstr(err.msg, "runs 2 VMs"));
    assert_int_equal(power_ctl_request_off(f->pc, 0, &busy, 3, true, &err), JOULE_EPERM);
    struct power_facts recv = { .libvirt_reachable = true, .receiving_vm = true };
    assert_int_equal(power_ctl_request_off(f->pc, 0, &recv, 3, true, &err), JOULE_EPERM);
    assert_non_null(strstr(err.msg, "migrating to it"));
    assert_int_equal(power_ctl_request_off(f->pc, 0, NULL, 3, true, &err), JOULE_EPERM);
    struct power_facts idle = { .libvirt_reachable = true };
    /* min_active_hosts = 1: with one active host left, no */
    assert_int_equal(power_ctl_request_off(f->pc, 0, &idle, 1, false, &err), JOULE_EPERM);
    assert_non_null(strstr(err.msg, "min_active_hosts is 1"));
    assert_int_equal(power_ctl_state(f->pc, 0), POWER_STATE_ON);
    /* a state that does not allow it */
    assert_int_equal(power_ctl_request_on(f->pc, 0, &err), JOULE_ESTATE);
    /* nothing was recorded for refusals, nothing was switched */
    struct power_action_record r[2];
    assert_int_equal(take_recs(f, r, 2), 0);
    assert_int_equal(f->sc->hosts[0].power, SIM_POWER_ON);
    /* --force skips only the min_active_hosts guard, and is recorded */
    assert_int_equal(power_ctl_request_off(f->pc, 0, &idle, 1, true, &err), 0);
    run_for(f, SHUT_S + 2, 1);
    assert_int_equal(power_ctl_state(f->pc, 0), POWER_STATE_OFF);
    assert_int_equal(take_recs(f, r, 2), 1);
    assert_true(r[0].forced);
    assert_true(r[0].ok);
    /* out of range */
    assert_int_equal(power_ctl_request_on(f->pc, 7, &err), JOULE_EINVAL);
    assert_int_equal(power_ctl_mark_draining(f->pc, 0, &err), JOULE_ESTATE);
}

static void test_min_active_counts_own_view(void **state)
{
    struct fx *f = *state;
    f->sc->hosts[2].power = SIM_POWER_OFF;
    step(f); /* a, b on; c off */
    struct joule_err err = { 0 };
    struct power_facts idle = { .libvirt_reachable = true };
    assert_int_equal(power_ctl_request_off(f->pc, 0, &idle, 2, false, &err), 0);
    /* the caller still says 2 active (stale), but only b is on now */
    assert_int_equal(power_ctl_request_off(f->pc, 1, &idle, 2, false, &err), JOULE_EPERM);
    assert_non_null(strstr(err.msg, "1 active host"));
}

static void test_excluded_refused(void **state)
{
    struct opts o = { .min_active = 0, .excluded_list = "\"b\"", .c_excluded = "true" };
    struct fx *f = fx_make(&o);
    settle_on(f);
    struct joule_err err = { 0 };
    struct power_facts idle = { .libvirt_reachable = true };
    assert_int_equal(power_ctl_request_off(f->pc, 1, &idle, 3, true, &err), JOULE_EPERM);
    assert_non_null(strstr(err.msg, "excluded"));
    assert_int_equal(power_ctl_request_off(f->pc, 2, &idle, 3, true, &err), JOULE_EPERM);
    assert_int_equal(power_ctl_mark_draining(f->pc, 2, &err), JOULE_EPERM);
    assert_int_equal(power_ctl_request_off(f->pc, 0, &idle, 3, false, &err), 0);
    fx_free(f);
    (void)state;
}

static void test_fallback_after_failed_call(void **state)
{
    (void)state;
    struct opts o = { .min_active = 1, .methods_a = "\"exec\", \"sim\"", .exec_on = "/bin/false" };
    struct fx *f = fx_make(&o);
    f->sc->hosts[0].power = SIM_POWER_OFF;
    step(f);
    assert_int_equal(power_ctl_state(f->pc, 0), POWER_STATE_OFF); /* exec has no status: sim */
    struct joule_err err = { 0 };
    assert_int_equal(power_ctl_request_on(f->pc, 0, &err), 0);
    step(f); /* exec try 1 fails */
    assert_int_equal(f->sc->hosts[0].power, SIM_POWER_OFF);
    step(f); /* exec try 2 fails -> fallback to sim */
    step(f); /* sim on */
    assert_int_equal(f->sc->hosts[0].power, SIM_POWER_BOOTING);
    run_for(f, BOOT_S + 2, 2);
    assert_int_equal(power_ctl_state(f->pc, 0), POWER_STATE_ON);
    struct power_action_record r[2];
    assert_int_equal(take_recs(f, r, 2), 1);
    assert_true(r[0].ok);
    assert_string_equal(r[0].method, "sim");
    fx_free(f);
}

static void test_fallback_after_unverified_call(void **state)
{
    (void)state;
    /* exec "on" succeeds but nothing boots: after boot + margin the next method is tried */
    struct opts o = { .min_active = 1, .methods_a = "\"exec\", \"sim\"", .exec_on = "/bin/true" };
    struct fx *f = fx_make(&o);
    f->sc->hosts[0].power = SIM_POWER_OFF;
    step(f);
    struct joule_err err = { 0 };
    assert_int_equal(power_ctl_request_on(f->pc, 0, &err), 0);
    step(f);
    run_for(f, 85, 5);
    assert_int_equal(f->sc->hosts[0].power, SIM_POWER_OFF);
    assert_int_equal(power_ctl_state(f->pc, 0), POWER_STATE_WAKING);
    run_for(f, 10, 5); /* exec attempt times out; sim on goes out */
    assert_int_equal(f->sc->hosts[0].power, SIM_POWER_BOOTING);
    run_for(f, BOOT_S + 5, 5);
    assert_int_equal(power_ctl_state(f->pc, 0), POWER_STATE_ON);
    struct power_action_record r[2];
    assert_int_equal(take_recs(f, r, 2), 1);
    assert_true(r[0].ok);
    assert_string_equal(r[0].method, "sim");
    fx_free(f);
}

static void test_off_verified_by_meter(void **state)
{
    (void)state;
    /* exec only, no status command: off is verified by libvirt down + fresh watts < standby */
    struct opts o = { .min_active = 1, .methods_a = "\"exec\"" };
    struct fx *f = fx_make(&o);
    settle_on(f);
    struct joule_err err = { 0 };
    assert_int_equal(power_ctl_request_off(f->pc, 0, &f->facts[0], 3, false, &err), 0);
    step(f); /* /bin/true: "off" sent */
    /* the host goes down by itself; libvirt stops answering */
    f->sc->hosts[0].power = SIM_POWER_OFF;
    facts_from_sim(f);
    f->facts[0].watts_fresh = false; /* stale meter: not proof */
    clock_sim_advance(f->cs, 5 * S);
    power_ctl_step(f->pc, mono(f), f->facts, 3);
    assert_int_equal(power_ctl_state(f->pc, 0), POWER_STATE_POWERING_OFF);
    f->facts[0].watts_fresh = true;
    f->facts[0].watts = 25; /* above standby (20) */
    power_ctl_step(f->pc, mono(f), f->facts, 3);
    assert_int_equal(power_ctl_state(f->pc, 0), POWER_STATE_POWERING_OFF);
    f->facts[0].watts = 12;
    power_ctl_step(f->pc, mono(f), f->facts, 3);
    assert_int_equal(power_ctl_state(f->pc, 0), POWER_STATE_OFF);
    struct power_action_record r[2];
    assert_int_equal(take_recs(f, r, 2), 1);
    assert_string_equal(r[0].verified_by, "libvirt_down+meter");
    assert_string_equal(r[0].method, "exec");
    fx_free(f);
}

static void test_off_exec_unverified_gives_up(void **state)
{
    (void)state;
    struct opts o = { .min_active = 1, .methods_a = "\"exec\"" };
    struct fx *f = fx_make(&o);
    settle_on(f);
    struct joule_err err = { 0 };
    assert_int_equal(power_ctl_request_off(f->pc, 0, &f->facts[0], 3, false, &err), 0);
    /* shutdown 30 s + margin max(10, 15) = 45 s; the host never goes down */
    run_for(f, 40, 5);
    assert_int_equal(power_ctl_state(f->pc, 0), POWER_STATE_POWERING_OFF);
    run_for(f, 10, 5);
    assert_int_equal(power_ctl_state(f->pc, 0), POWER_STATE_UNKNOWN);
    assert_true(has_alert(f, "a", "not verified off"));
    fx_free(f);
}

static void test_unexpected_changes(void **state)
{
    struct fx *f = *state;
    settle_on(f);
    /* someone pulls the plug on b: libvirt down, meter at standby */
    f->sc->hosts[1].power = SIM_POWER_OFF;
    step(f);
    assert_int_equal(power_ctl_state(f->pc, 1), POWER_STATE_OFF);
    assert_true(has_alert(f, "b", "went off without joule"));
    /* and powers it back on */
    f->sc->hosts[1].power = SIM_POWER_ON;
    step(f);
    assert_int_equal(power_ctl_state(f->pc, 1), POWER_STATE_ON);
    assert_true(has_alert(f, "b", "went on without joule"));
    /* a host being drained that dies is also news */
    struct joule_err err = { 0 };
    assert_int_equal(power_ctl_mark_draining(f->pc, 1, &err), 0);
    f->sc->hosts[1].power = SIM_POWER_OFF;
    step(f);
    assert_int_equal(power_ctl_state(f->pc, 1), POWER_STATE_OFF);
    assert_true(has_alert(f, "b", "went off without joule"));
}

static void test_request_on_cancels_drain_and_from_unknown(void **state)
{
    struct fx *f = *state;
    settle_on(f);
    struct joule_err err = { 0 };
    assert_int_equal(power_ctl_mark_draining(f->pc, 0, &err), 0);
    assert_int_equal(power_ctl_mark_draining(f->pc, 0, &err), 0);
    assert_int_equal(power_ctl_request_on(f->pc, 0, &err), 0);
    assert_int_equal(power_ctl_state(f->pc, 0), POWER_STATE_ON);
    /* a failed wake leaves unknown; a new request may still act on it */
    f->sc->hosts[1].power = SIM_POWER_OFF;
    step(f);
    f->sc->hosts[1].power_fails = true;
    assert_int_equal(power_ctl_request_on(f->pc, 1, &err), 0);
    run_for(f, 100, 5);
    assert_int_equal(power_ctl_state(f->pc, 1), POWER_STATE_UNKNOWN);
    f->sc->hosts[1].power_fails = false;
    assert_int_equal(power_ctl_request_on(f->pc, 1, &err), 0);
    run_for(f, BOOT_S + 5, 5);
    assert_int_equal(power_ctl_state(f->pc, 1), POWER_STATE_ON);
    struct power_action_record r[4];
    assert_int_equal(take_recs(f, r, 1), 1); /* partial take keeps the rest, in order */
    assert_false(r[0].ok);
    assert_int_equal(take_recs(f, r, 4), 1);
    assert_true(r[0].ok);
}

static void test_off_from_unknown(void **state)
{
    struct fx *f = *state;
    struct joule_err err = { 0 };
    struct power_facts idle = { .libvirt_reachable = true };
    /* before anything was observed, joule counts no active host: refused */
    assert_int_equal(power_ctl_request_off(f->pc, 1, &idle, 3, false, &err), JOULE_EPERM);
    assert_non_null(strstr(err.msg, "0 active hosts"));
    /* b fails an off and is left unknown (on hold); a later request may still switch it off */
    settle_on(f);
    f->sc->hosts[1].power_fails = true;
    assert_int_equal(power_ctl_request_off(f->pc, 1, &idle, 3, false, &err), 0);
    run_for(f, 200, 5);
    assert_int_equal(power_ctl_state(f->pc, 1), POWER_STATE_UNKNOWN);
    f->sc->hosts[1].power_fails = false;
    facts_from_sim(f);
    assert_int_equal(power_ctl_request_off(f->pc, 1, &f->facts[1], 3, false, &err), 0);
    assert_int_equal(power_ctl_state(f->pc, 1), POWER_STATE_POWERING_OFF);
    run_for(f, SIM_SHUT_S + 2, 1);
    assert_int_equal(power_ctl_state(f->pc, 1), POWER_STATE_OFF);
    struct power_action_record r[4];
    assert_int_equal(take_recs(f, r, 4), 2);
    assert_false(r[0].ok);
    assert_true(r[1].ok);
}

static void test_off_fallback_to_next_method(void **state)
{
    (void)state;
    /* exec off fails (exit 1, twice): sim off is next */
    struct opts o = { .min_active = 1, .methods_a = "\"exec\", \"sim\"", .exec_off = "/bin/false" };
    struct fx *f = fx_make(&o);
    settle_on(f);
    struct joule_err err = { 0 };
    assert_int_equal(power_ctl_request_off(f->pc, 0, &f->facts[0], 3, false, &err), 0);
    step(f);
    step(f);
    assert_int_equal(f->sc->hosts[0].power, SIM_POWER_ON);
    step(f);
    assert_int_equal(f->sc->hosts[0].power, SIM_POWER_SHUTTING_DOWN);
    run_for(f, SIM_SHUT_S + 2, 1);
    assert_int_equal(power_ctl_state(f->pc, 0), POWER_STATE_OFF);
    struct power_action_record r[2];
    assert_int_equal(take_recs(f, r, 2), 1);
    assert_true(r[0].ok);
    assert_string_equal(r[0].method, "sim");
    fx_free(f);
}

static void test_status_failures_back_off(void **state)
{
    (void)state;
    char *errors = NULL;
    struct config *cfg = NULL;
    if (config_load_string("api = { listen = \"\"; };\n"
                           "hosts = ( { name = \"x\"; hypervisor = \"sim\"; power = { methods = "
                           "[\"exec\"]; exec = { on = [\"/bin/true\"]; status = [\"/bin/sh\", "
                           "\"-c\", \"exit 2\"]; }; }; } );",
                           &cfg, &errors) < 0)
        fail_msg("%s", errors);
    struct clock_sim *cs = clock_sim_new(0);
    struct drv_env env = { .clock = clock_sim_clock(cs) };
    struct power_ctl *pc = NULL;
    struct joule_err err = { 0 };
    assert_int_equal(power_ctl_new(cfg, &env, &pc, &err), 0);
    power_ctl_set_inline(pc, true);
    struct power_facts down = { .libvirt_reachable = false };
    /* unknown, and the status command keeps failing: 1, 2, 4, 8, 16, 32 s apart */
    for (int i = 0; i <= 60; i++) {
        power_ctl_step(pc, clock_mono_ns(clock_sim_clock(cs)), &down, 1);
        clock_sim_advance(cs, S);
    }
    struct power_ctl_stats st;
    power_ctl_stats(pc, &st);
    assert_int_equal(st.call_errors, st.calls);
    assert_in_range(st.calls, 5, 7);
    assert_int_equal(power_ctl_state(pc, 0), POWER_STATE_UNKNOWN);
    power_ctl_free(pc);
    clock_sim_free(cs);
    config_free(cfg);
}

static void test_no_methods(void **state)
{
    (void)state;
    char *errors = NULL;
    struct config *cfg = NULL;
    if (config_load_string("api = { listen = \"\"; };\n"
                           "hosts = ( { name = \"x\"; hypervisor = \"sim\"; } );",
                           &cfg, &errors) < 0)
        fail_msg("%s", errors);
    struct clock_sim *cs = clock_sim_new(0);
    struct drv_env env = { .clock = clock_sim_clock(cs) };
    struct power_ctl *pc = NULL;
    struct joule_err err = { 0 };
    assert_int_equal(power_ctl_new(cfg, &env, &pc, &err), 0);
    assert_int_equal(power_ctl_request_on(pc, 0, &err), JOULE_EPERM);
    struct power_facts up = { .libvirt_reachable = true };
    power_ctl_step(pc, 0, &up, 1);
    assert_int_equal(power_ctl_state(pc, 0), POWER_STATE_ON);
    assert_int_equal(power_ctl_request_off(pc, 0, &up, 5, false, &err), JOULE_EPERM);
    assert_non_null(strstr(err.msg, "no configured method"));
    power_ctl_free(pc);
    clock_sim_free(cs);
    config_free(cfg);
}

static void test_sim_needs_cluster(void **state)
{
    (void)state;
    char *errors = NULL;
    struct config *cfg = NULL;
    if (config_load_string("api = { listen = \"\"; };\n"
                           "hosts = ( { name = \"x\"; hypervisor = \"sim\"; "
                           "power = { methods = [\"sim\"]; }; } );",
                           &cfg, &errors) < 0)
        fail_msg("%s", errors);
    struct clock_sim *cs = clock_sim_new(0);
    struct drv_env env = { .clock = clock_sim_clock(cs) };
    struct power_ctl *pc = NULL;
    struct joule_err err = { 0 };
    assert_int_equal(power_ctl_new(cfg, &env, &pc, &err), JOULE_EINVAL);
    assert_non_null(strstr(err.msg, "x/sim"));
    assert_null(pc);
    clock_sim_free(cs);
    config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_startup_resolves_unknown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drain_off_verified_by_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wake_verified_by_libvirt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wake_never_completes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_off_never_verifies_soft_then_hard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_shutdown_gets_hard_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vm_appears_on_draining_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incoming_migration_aborts_drain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vm_appears_while_powering_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_min_active_counts_own_view, setup, teardown),
        cmocka_unit_test(test_excluded_refused),
        cmocka_unit_test(test_fallback_after_failed_call),
        cmocka_unit_test(test_fallback_after_unverified_call),
        cmocka_unit_test(test_off_verified_by_meter),
        cmocka_unit_test(test_off_exec_unverified_gives_up),
        cmocka_unit_test_setup_teardown(test_unexpected_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_on_cancels_drain_and_from_unknown, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_off_from_unknown, setup, teardown),
        cmocka_unit_test(test_off_fallback_to_next_method),
        cmocka_unit_test(test_status_failures_back_off),
        cmocka_unit_test(test_no_methods),
        cmocka_unit_test(test_sim_needs_cluster),
        cmocka_unit_test_setup_teardown(test_on_since, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
