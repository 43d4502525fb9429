/* test_replay.c - the replay simulator against values computed by hand from CloudSim's
 * definitions (CLOUDSIM.md): energy of a tiny cluster, SLATAH and PDM around one migration,
 * determinism, and bad input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "policy/plan.h"
#include "policy/policy.h"
#include "policy/reference.h"
#include "policy_glue.h"
#include "replay.h"
#include "support/test_support.h"
#include "util/xalloc.h"

/* One core of 1000 MIPS; 100 W idle, +10 W per 10 % (so P(u) = 100 + 100 u). */
static const struct replay_host_model tiny = {
    "tiny", 1000, 1, 4096, 0, { 100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200 },
};

static void set_const(struct replay_vm *v, size_t n, double u)
{
    for (size_t i = 0; i <= n; i++)
        v->util[i] = u;
}

static void tiny_opts(struct replay_opts *o, const struct replay_host_model **hosts, size_t nh)
{
    replay_opts_defaults(o);
    for (size_t i = 0; i < nh; i++)
        hosts[i] = &tiny;
    o->hosts = hosts;
    o->n_hosts = nh;
    o->start_s = 0;   /* updates at 300, 600, ... exactly: no interpolation */
    o->placement = REPLAY_PLACEMENT_GIVEN;
}

/* Two hosts, no migrations. Host 0: VM at 50 % then 70 % from t=600; host 1: VM at 20 %;
 * host 2: empty (switched off, 0 W). Updates at 300, 600, 900, 1200; the first frame (0-300)
 * costs nothing (previous utilisation 0, CloudSim). By hand:
 *   host 0: 300-600 (150+170)/2*300 = 48000 J; 600-900 170*300 = 51000; 900-1200 51000
 *   host 1: 120 W * 900 s = 108000 J
 *   total 258000 J = 0.0716666... kWh */
static void test_energy_two_hosts(void **state)
{
    (void)state;
    struct replay_workload *w = replay_workload_new(2, 4, 300);
    w->vms[0].name = xstrdup("a");
    w->vms[0].mips = 1000;
    w->vms[0].ram_mib = 100;
    w->vms[0].initial_host = 0;
    double a[] = { 0.5, 0.5, 0.7, 0.7, 0.7 };
    memcpy(w->vms[0].util, a, sizeof a);
    w->vms[1].name = xstrdup("b");
    w->vms[1].mips = 1000;
    w->vms[1].ram_mib = 100;
    w->vms[1].initial_host = 1;
    set_const(&w->vms[1], 4, 0.2);
    const struct replay_host_model *hosts[3];
    struct replay_opts o;
    tiny_opts(&o, hosts, 3);
    o.migrations = false;
    o.duration_s = 1200;
    struct replay_result r;
    struct joule_err err = { 0 };
    assert_int_equal(replay_run(w, &o, &r, &err), 0);
    assert_true(fabs(r.energy_kwh - 258000.0 / 3.6e6) < 1e-9);
    assert_int_equal(r.migrations, 0);
    assert_int_equal(r.rounds, 4);
    assert_true(r.slatah == 0 && r.pdm == 0);
    /* host 2 is never used: CloudSim's counter starts "active", so it counts one shutdown */
    assert_int_equal(r.host_shutdowns, 1);
    replay_result_free(&r);
    replay_workload_free(w);
}

/* ThrMmt 0.8 on two 1000-MIPS hosts. A (60 %, 625 MiB) and B (30 %, 312.5 MiB) start on host 0:
 * 900/1000 > 0.8, so at t=300 MMT picks B (less memory) and puts it on host 1 (empty hosts may
 * take VMs from an overloaded host). Migration time 312.5 / 62.5 = 5 s. Then nothing moves
 * (host 1 at 0.3 cannot go onto host 0: 0.9 > 0.8; host 0 may not go onto host 1, already
 * chosen to be emptied).
 * By hand (CLOUDSIM.md section 6):
 *   host 1 during [300, 305]: allocated 10 % of B's 300 MIPS < requested 300: 5 s of
 *   violation; active time host 0: 600 s, host 1: 600 s -> SLATAH = 5 / 1200.
 *   B on the source during [300, 305]: 270 of 300 MIPS -> 150 MIPS.s lost while migrating;
 *   requested MIPS.s from 300 to 900: 600*600 + 300*600 = 540000 -> PDM = 150 / 540000.
 *   energy: host 0 190 W*5 s + 160 W*595 s; host 1 P(30/1000)*5 s + 130 W*595 s. */
static void test_slatah_pdm_one_migration(void **state)
{
    (void)state;
    struct replay_workload *w = replay_workload_new(2, 4, 300);
    w->vms[0].name = xstrdup("a");
    w->vms[0].mips = 1000;
    w->vms[0].ram_mib = 625;
    w->vms[0].initial_host = 0;
    set_const(&w->vms[0], 4, 0.6);
    w->vms[1].name = xstrdup("b");
    w->vms[1].mips = 1000;
    w->vms[1].ram_mib = 312.5;
    w->vms[1].initial_host = 0;
    set_const(&w->vms[1], 4, 0.3);
    const struct replay_host_model *hosts[2];
    struct replay_opts o;
    tiny_opts(&o, hosts, 2);
    o.policy.algorithm = POLICY_ALGORITHM_THR_MMT;
    o.duration_s = 900;
    struct replay_result r;
    struct joule_err err = { 0 };
    assert_int_equal(replay_run(w, &o, &r, &err), 0);
    assert_int_equal(r.migrations, 1);
    assert_true(fabs(r.slatah - 5.0 / 1200.0) < 1e-12);
    assert_true(fabs(r.pdm - 150.0 / 540000.0) < 1e-9);
    assert_true(fabs(r.slav - r.slatah * r.pdm) < 1e-15);
    double p_in = 100 + 100 * (0.1 * 300 / 1000); /* the target adds only its 10 % */
    double joules = 190 * 5 + 160 * 595 + p_in * 5 + 130 * 595;
    assert_true(fabs(r.energy_kwh - joules / 3.6e6) < 1e-9);
    assert_int_equal(r.host_shutdowns, 0);
    replay_result_free(&r);
    replay_workload_free(w);
}

static void test_bad_input(void **state)
{
    (void)state;
    char *tmp = joule_test_tmpdir("replay");
    free(joule_test_write_file(tmp, "vm1", "10\n20\nabc\n", 0644));
    struct replay_workload *w = NULL;
    struct joule_err err = { 0 };
    assert_true(replay_load_planetlab(tmp, NULL, &w, &err) < 0);
    assert_non_null(strstr(err.msg, "vm1:3"));
    assert_null(w);
    err = (struct joule_err){ 0 };
    assert_true(replay_load_planetlab("/nonexistent-joule-dir", NULL, &w, &err) < 0);
    assert_non_null(strstr(err.msg, "nonexistent"));
    char *csv = joule_test_write_file(tmp, "order.csv",
                                      "vm_id,vm_type,vm_mips,vm_ram_mb,trace_file\n"
                                      "0,0,2500,870,\"vm1\n", 0644);
    err = (struct joule_err){ 0 };
    assert_true(replay_load_planetlab(tmp, csv, &w, &err) < 0);
    assert_non_null(strstr(err.msg, "order.csv:2"));
    free(csv);
    joule_test_rmtree(tmp);
    free(tmp);
}

/* The reference policies are pure functions of the snapshot: an overloaded host sheds its
 * smallest-memory VM onto the host with the least power increase. */
static void test_thr_mmt_plan(void **state)
{
    (void)state;
    struct snap_host h[3] = { 0 };
    for (int i = 0; i < 3; i++) {
        h[i].name = i == 0 ? "h0" : i == 1 ? "h1" : "h2";
        h[i].cpus = 1000;
        h[i].pe_cpus = 1000;
        h[i].state = POWER_STATE_ON;
        h[i].idle_w = 100;
        h[i].max_w = 200;
        h[i].reachable = true;
    }
    h[0].used_cpus = 900;
    h[1].used_cpus = 100;
    h[2].state = POWER_STATE_OFF;
    struct snap_vm v[3] = { 0 };
    v[0] = (struct snap_vm){ .name = "big", .host = 0, .mem_mib = 2000, .cpu_cores = 600,
                             .last_move_ns = SNAP_NEVER, .host_seq = 1 };
    v[1] = (struct snap_vm){ .name = "small", .host = 0, .mem_mib = 500, .cpu_cores = 300,
                             .last_move_ns = SNAP_NEVER, .host_seq = 2 };
    v[2] = (struct snap_vm){ .name = "other", .host = 1, .mem_mib = 500, .cpu_cores = 100,
                             .last_move_ns = SNAP_NEVER, .host_seq = 3 };
    struct model_snapshot s = { .hosts = h, .n_hosts = 3, .vms = v, .n_vms = 3,
                                .consolidation_allowed = true };
    struct policy_cfg cfg;
    policy_cfg_defaults(&cfg);
    cfg.algorithm = POLICY_ALGORITHM_THR_MMT;
    struct plan p;
    plan_init(&p);
    struct joule_err err = { 0 };
    assert_int_equal(policy_run(&cfg, &s, &p, &err), 0);
    assert_true(p.n >= 1);
    assert_int_equal(p.actions[0].kind, PLAN_ACTION_MIGRATE);
    assert_int_equal(p.actions[0].reason, PLAN_REASON_OVERLOAD);
    assert_int_equal(p.actions[0].vm, 1);
    assert_int_equal(p.actions[0].from, 0);
    /* a linear model costs +30 W on any host: ties go to the first, as in CloudSim */
    assert_int_equal(p.actions[0].to, 1);
    /* h1 busy (750 + 300 > 800): the VM goes to the switched-off h2, switched on first; the
     * underloaded h1 cannot be emptied (h0 overloaded, h2 off at the start of the round). */
    v[2].cpu_cores = 750;
    h[1].used_cpus = 750;
    plan_clear(&p);
    assert_int_equal(policy_run(&cfg, &s, &p, &err), 0);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.actions[0].kind, PLAN_ACTION_POWER_ON);
    assert_int_equal(p.actions[0].host, 2);
    assert_int_equal(p.actions[1].kind, PLAN_ACTION_MIGRATE);
    assert_int_equal(p.actions[1].vm, 1);
    assert_int_equal(p.actions[1].to, 2);
    plan_free(&p);
}

/* Every policy setting of issue 9 is a config key with a default, reaches policy_cfg, and
 * inconsistent values are file:line errors. */
static void test_config_settings(void **state)
{
    (void)state;
    struct config *cfg = NULL;
    char *errors = NULL;
    assert_int_equal(config_load_string("policy = { algorithm = \"joule\"; };\n", &cfg, &errors),
                     0);
    struct policy_cfg pc;
    policy_cfg_from_config(cfg, &pc);
    struct policy_cfg def;
    policy_cfg_defaults(&def);
    assert_int_equal(pc.algorithm, POLICY_ALGORITHM_JOULE);
    assert_true(pc.joule_percentile == def.joule_percentile && pc.joule_window == def.joule_window);
    assert_true(pc.joule_target_pct == def.joule_target_pct &&
                pc.joule_low_pct == def.joule_low_pct);
    assert_true(pc.thr_threshold == 0.8 && pc.lr_safety == 1.2 && pc.lr_history == 10);
    config_free(cfg);
    cfg = NULL;
    assert_int_equal(config_load_string("policy = { algorithm = \"lr-mmt\"; lr_safety = 1.4;\n"
                                        "  thr_threshold = 0.7; joule_percentile = 95;\n"
                                        "  joule_window = 6; joule_target_pct = 85; };\n",
                                        &cfg, &errors), 0);
    policy_cfg_from_config(cfg, &pc);
    assert_int_equal(pc.algorithm, POLICY_ALGORITHM_LR_MMT);
    assert_true(pc.lr_safety == 1.4 && pc.thr_threshold == 0.7 && pc.joule_percentile == 95);
    assert_true(pc.joule_window == 6 && pc.joule_target_pct == 85);
    config_free(cfg);
    cfg = NULL;
    assert_int_equal(config_load_string("policy = {\n  joule_high_pct = 80;\n"
                                        "  joule_target_pct = 90;\n  lr_history = 1; };\n",
                                        &cfg, &errors), JOULE_ECONFIG);
    assert_non_null(strstr(errors, ":3: joule_target_pct: 90 is above joule_high_pct 80"));
    assert_non_null(strstr(errors, "lr_history"));
    free(errors);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_energy_two_hosts),
        cmocka_unit_test(test_slatah_pdm_one_migration),
        cmocka_unit_test(test_thr_mmt_plan),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_config_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
