/* The replay's executor engine (controller/replay_exec.c): the real monitor, model, policy,
 * synchronous executor and power state machine on sim drivers and a simulated clock.
 *  - a tiny 2-host trace: joule consolidates, powers a host off, and the energy is the hand
 *    computation below (to 1e-6 relative: the sim integrates piecewise-constant power exactly);
 *  - the same input twice gives identical figures (determinism);
 *  - the CloudSim-compatible engine on the same input agrees in direction: both consolidate,
 *    power a host off and save a similar share of the energy used without migrations (within
 *    10 points; the engines differ in detail: CloudSim's model counts an emptied host as off
 *    at once and charges 0 W before the first update, the executor engine runs the host's
 *    30 s shutdown at idle watts);
 *  - bad input: a config without hosts, a VM that fits nowhere. */
#include "support/test_support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "replay.h"
#include "policy_glue.h"
#include "replay_exec.h"
#include "util/log.h"
#include "util/xalloc.h"

/* 4 cores, 100 W idle, 200 W at full load, boot 60 s, shutdown 30 s. */
static const char *const CFG =
    "api = { listen = \"\"; };\ntick_s = 10;\nload_window_s = 60;\n"
    "policy = { algorithm = \"joule\"; consolidate = \"always\"; };\n"
    "hosts = ( { name = \"h0\"; hypervisor = \"sim\"; cpus = 4; memory_mib = 8192; idle_w = 100;"
    "            max_w = 200; boot_s = 60; shutdown_s = 30; power = { methods = [ \"sim\" ]; }; },"
    "          { name = \"h1\"; hypervisor = \"sim\"; cpus = 4; memory_mib = 8192; idle_w = 100;"
    "            max_w = 200; boot_s = 60; shutdown_s = 30; power = { methods = [ \"sim\" ]; }; } );";

struct fx {
    struct config *cfg;
    struct replay_workload *w;
};

/* Two 1-vCPU VMs of 1024 MiB at a constant 20 % for an hour (12 x 300 s), one per host. */
static int setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof *f);
    char *errors = NULL;
    if (config_load_string(CFG, &f->cfg, &errors) < 0)
        fail_msg("%s", errors);
    f->w = replay_workload_new(2, 12, 300);
    for (size_t v = 0; v < 2; v++) {
        f->w->vms[v].name = xasprintf("vm%zu", v);
        f->w->vms[v].mips = 1;
        f->w->vms[v].ram_mib = 1024;
        f->w->vms[v].initial_host = (int)v;
        for (size_t i = 0; i <= 12; i++)
            f->w->vms[v].util[i] = 0.2;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    replay_workload_free(f->w);
    config_free(f->cfg);
    free(f);
    return 0;
}

static void run_exec(struct fx *f, struct replay_result *r)
{
    struct replay_exec_opts o;
    replay_exec_opts_defaults(&o, f->cfg);
    struct joule_err err = { 0 };
    if (replay_exec_run(f->w, &o, r, &err) < 0)
        fail_msg("%s", err.msg);
}

/* Round 1 at t = 300 s: both hosts at 5 %; joule empties h0 (first in order) onto h1 and powers
 * it off. The migration blocks for 1024 MiB / 62.5 MiB/s = 16.384 s (vm0 runs on h0
 * meanwhile); the power-off request is launched at the next tick (320 s), the shutdown takes
 * 30 s at idle watts, then h0 draws nothing.
 *   h0: 105 W x 316.384 s + 100 W x (350 - 316.384) s             =  36581.92 J
 *   h1: 105 W x 316.384 s + 110 W x (3600 - 316.384) s            = 394418.08 J
 *   total 431000.00 J = 0.1197222 kWh (no consolidation: 2 x 105 W x 3600 s = 0.21 kWh). */
static void test_tiny_trace_consolidates_and_energy_matches(void **state)
{
    struct fx *f = *state;
    struct replay_result r;
    run_exec(f, &r);
    assert_int_equal(r.migrations, 1);
    assert_int_equal(r.migrations_failed, 0);
    assert_int_equal(r.host_shutdowns, 1);
    assert_int_equal(r.rounds, 11); /* 300 .. 3300 s; none at the end */
    assert_int_equal(r.max_active_hosts, 2);
    double expect_kwh = 431000.0 / 3.6e6;
    printf("executor engine: %.7f kWh, hand computation %.7f kWh (%.2e relative)\n",
           r.energy_kwh, expect_kwh, fabs(r.energy_kwh - expect_kwh) / expect_kwh);
    assert_true(fabs(r.energy_kwh - expect_kwh) <= 1e-6 * expect_kwh);
    /* no host is ever short of CPU; the one migration costs 10 % of 0.2 cores for 16.384 s
     * out of 2 x 0.2 cores x 3600 s asked for */
    assert_float_equal(r.slatah, 0, 1e-12);
    assert_float_equal(r.pdm, 0.1 * 0.2 * 16.384 / (0.4 * 3600), 1e-9);
    assert_float_equal(r.slav, 0, 1e-12);
    replay_result_free(&r);
}

static void test_deterministic(void **state)
{
    struct fx *f = *state;
    /* a varying load so that more happens: consolidation onto h1, then vm1 climbs to all of its
     * 4 vCPUs, more than h1 can give next to vm0: h0 is woken and takes a VM back */
    for (size_t i = 0; i <= 12; i++) {
        f->w->vms[0].util[i] = 0.1 + 0.05 * (double)(i % 4);
        f->w->vms[1].util[i] = i <= 9 ? (i < 5 ? 0.2 * (double)i + 0.01 : 1.0) : 0.3;
    }
    f->w->vms[1].mips = 4;
    struct replay_result a, b;
    run_exec(f, &a);
    run_exec(f, &b);
    assert_memory_equal(&a.energy_kwh, &b.energy_kwh, sizeof a.energy_kwh);
    assert_memory_equal(&a.slatah, &b.slatah, sizeof a.slatah);
    assert_memory_equal(&a.pdm, &b.pdm, sizeof a.pdm);
    assert_int_equal(a.migrations, b.migrations);
    assert_int_equal(a.host_shutdowns, b.host_shutdowns);
    assert_int_equal(a.host_wakes, b.host_wakes);
    assert_true(a.host_wakes >= 1);
    assert_true(a.migrations >= 2);
    assert_true(a.slatah > 0); /* vm1 + vm0 asked for more than h1 had until h0 was up */
    printf("varying load: %.5f kWh, %llu migrations, %llu shutdowns, %llu wakes, "
           "SLATAH %.4f, PDM %.6f\n", a.energy_kwh, (unsigned long long)a.migrations,
           (unsigned long long)a.host_shutdowns, (unsigned long long)a.host_wakes, a.slatah,
           a.pdm);
    replay_result_free(&a);
    replay_result_free(&b);
}

static void run_cloudsim_engine(struct fx *f, bool migrations, struct replay_result *r)
{
    struct replay_opts o;
    replay_opts_defaults(&o);
    policy_cfg_from_config(f->cfg, &o.policy);
    struct replay_host_model *models = NULL;
    struct joule_err err = { 0 };
    assert_int_equal(replay_hosts_from_config(f->cfg, &models, &err), 0);
    const struct replay_host_model *hosts[2] = { &models[0], &models[1] };
    o.hosts = hosts;
    o.n_hosts = 2;
    o.placement = REPLAY_PLACEMENT_GIVEN;
    o.start_s = 0;
    o.duration_s = 3600;
    o.remove_idle_vms = false;
    o.policy.limits_at_creation_only = false;
    o.migrations = migrations;
    if (replay_run(f->w, &o, r, &err) < 0)
        fail_msg("%s", err.msg);
    free(models);
}

static void test_agrees_with_cloudsim_engine(void **state)
{
    struct fx *f = *state;
    struct replay_result ex, cs, cs_none;
    run_exec(f, &ex);
    run_cloudsim_engine(f, true, &cs);
    run_cloudsim_engine(f, false, &cs_none);
    printf("tiny trace: executor engine %.5f kWh %llu migrations %llu shutdowns; CloudSim engine "
           "%.5f kWh %llu migrations %llu shutdowns; without migrations %.5f kWh\n",
           ex.energy_kwh, (unsigned long long)ex.migrations,
           (unsigned long long)ex.host_shutdowns, cs.energy_kwh,
           (unsigned long long)cs.migrations, (unsigned long long)cs.host_shutdowns,
           cs_none.energy_kwh);
    assert_true(ex.migrations >= 1 && cs.migrations >= 1);
    assert_true(ex.host_shutdowns >= 1 && cs.host_shutdowns >= 1);
    /* without migrations the executor engine's figure is 2 x 105 W x 3600 s (see above) */
    double ex_saved = 1 - ex.energy_kwh / 0.21, cs_saved = 1 - cs.energy_kwh / cs_none.energy_kwh;
    printf("energy saved: executor engine %.1f %%, CloudSim engine %.1f %%\n", ex_saved * 100,
           cs_saved * 100);
    assert_true(ex_saved > 0.3 && cs_saved > 0.3);
    assert_true(fabs(ex_saved - cs_saved) <= 0.10);
    replay_result_free(&ex);
    replay_result_free(&cs);
    replay_result_free(&cs_none);
}

static void test_bad_input(void **state)
{
    struct fx *f = *state;
    struct replay_exec_opts o;
    replay_exec_opts_defaults(&o, f->cfg);
    struct replay_result r;
    struct joule_err err = { 0 };
    f->w->vms[1].mips = 16; /* 16 vCPUs on 4-core hosts: fits nowhere */
    f->w->vms[1].initial_host = -1;
    for (size_t i = 0; i <= 12; i++)
        f->w->vms[1].util[i] = 1;
    assert_int_equal(replay_exec_run(f->w, &o, &r, &err), JOULE_EINVAL);
    assert_non_null(strstr(err.msg, "fit on no host"));
    o.tick_s = 600; /* longer than the interval */
    assert_int_equal(replay_exec_run(f->w, &o, &r, &err), JOULE_EINVAL);
    struct config *none = NULL;
    char *errors = NULL;
    assert_int_equal(config_load_string("api = { listen = \"\"; };", &none, &errors), 0);
    replay_exec_opts_defaults(&o, none);
    assert_int_equal(replay_exec_run(f->w, &o, &r, &err), JOULE_EINVAL);
    assert_non_null(strstr(err.msg, "config with hosts"));
    config_free(none);
}

int main(void)
{
    /* the controller logs a notice for every migration and power step; JOULE_TEST_LOG=notice */
    log_set_levels(getenv("JOULE_TEST_LOG") ? getenv("JOULE_TEST_LOG") : "err", NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tiny_trace_consolidates_and_energy_matches, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deterministic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agrees_with_cloudsim_engine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
