/* test_policy_joule.c - joule's own policy (controller/policy/joule.c) on hand-made snapshots:
 * each option does what etc/jouled.conf.example says. Cores as the CPU unit, linear power. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "policy/plan.h"
#include "policy/policy.h"
#include "support/test_support.h"

#define NH 4
#define NV 8

struct fx {
    struct snap_host h[NH];
    struct snap_vm v[NV];
    double hist[NV][12];
    struct model_snapshot s;
    struct policy_cfg cfg;
    struct plan p;
};

static void host(struct fx *f, int i, const char *name, double cpus, double idle, double max,
                 enum power_state st)
{
    f->h[i] = (struct snap_host){ .name = name, .cpus = cpus, .mem_mib = 65536, .state = st,
                                  .idle_w = idle, .max_w = max, .reachable = true,
                                  .off_since_ns = SNAP_NEVER };
}

/* A VM whose demand was `steady` cores for 12 decisions, except `spikes` of them at `peak`. */
static void vm(struct fx *f, int i, const char *name, int h, double now, double steady,
               int spikes, double peak)
{
    for (int k = 0; k < 12; k++)
        f->hist[i][k] = k < spikes ? peak : steady;
    f->hist[i][0] = now;
    f->v[i] = (struct snap_vm){ .uuid = name, .name = name, .host = h, .vcpus = 4,
                                .mem_mib = 1024, .cpu_cores = now, .last_move_ns = SNAP_NEVER,
                                .demand_history = f->hist[i], .n_history = 12,
                                .host_seq = (uint64_t)i };
}

static void finish(struct fx *f, size_t nh, size_t nv)
{
    for (size_t i = 0; i < nh; i++) {
        double used = 0;
        for (size_t k = 0; k < nv; k++)
            if (f->v[k].host == (int)i)
                used += f->v[k].cpu_cores;
        f->h[i].used_cpus = used;
        f->h[i].load_pct = 100 * used / f->h[i].cpus;
    }
    f->s = (struct model_snapshot){ .now_ns = 86400LL * 1000000000LL, .hosts = f->h,
                                    .n_hosts = nh, .vms = f->v, .n_vms = nv,
                                    .consolidation_allowed = true, .min_active_hosts = 1 };
    policy_cfg_defaults(&f->cfg);
    f->cfg.algorithm = POLICY_ALGORITHM_JOULE;
    plan_init(&f->p);
}

static bool moved(const struct plan *p, int vm)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->actions[i].kind == PLAN_ACTION_MIGRATE && p->actions[i].vm == vm)
            return true;
    return false;
}

static void run(struct fx *f)
{
    struct joule_err err = { 0 };
    plan_clear(&f->p);
    assert_int_equal(policy_run(&f->cfg, &f->s, &f->p, &err), 0);
}

static size_t count(const struct plan *p, enum plan_action_kind k)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++)
        n += p->actions[i].kind == k;
    return n;
}

/* Two hosts at 20 % and 30 %: the least loaded is emptied onto the other (fits below
 * target - headroom = 80 %), then switched off; the plan says what it saves. */
static void test_empties_low_host(void **state)
{
    (void)state;
    struct fx f;
    memset(&f, 0, sizeof f);
    host(&f, 0, "a", 10, 100, 200, POWER_STATE_ON);
    host(&f, 1, "b", 10, 100, 200, POWER_STATE_ON);
    vm(&f, 0, "v0", 0, 2, 2, 0, 0);
    vm(&f, 1, "v1", 1, 3, 3, 0, 0);
    finish(&f, 2, 2);
    run(&f);
    assert_int_equal(count(&f.p, PLAN_ACTION_MIGRATE), 1);
    assert_int_equal(f.p.actions[0].vm, 0);
    assert_int_equal(f.p.actions[0].to, 1);
    assert_int_equal(f.p.actions[1].kind, PLAN_ACTION_POWER_OFF);
    assert_int_equal(f.p.actions[1].host, 0);
    assert_true(f.p.actions[1].expected_gain_w > 99);
    /* never below min_active_hosts */
    f.s.min_active_hosts = 2;
    run(&f);
    assert_int_equal(f.p.n, 0);
    plan_free(&f.p);
}

/* Headroom: b at 75 % cannot take a's 2 cores (95 % > 90 - 10): nothing moves. Without the
 * headroom (and target 100) it would. */
static void test_headroom_blocks(void **state)
{
    (void)state;
    struct fx f;
    memset(&f, 0, sizeof f);
    host(&f, 0, "a", 10, 100, 200, POWER_STATE_ON);
    host(&f, 1, "b", 10, 100, 200, POWER_STATE_ON);
    vm(&f, 0, "v0", 0, 2, 2, 0, 0);
    vm(&f, 1, "v1", 1, 7.5, 7.5, 0, 0);
    finish(&f, 2, 2);
    run(&f);
    assert_int_equal(f.p.n, 0);
    f.cfg.joule_headroom_pct = 0;
    f.cfg.joule_target_pct = 100;
    run(&f);
    assert_int_equal(count(&f.p, PLAN_ACTION_MIGRATE), 1);
    plan_free(&f.p);
}

/* Percentile sizing: v0 is at 1 core now but was at 6 cores in 3 of the last 12 decisions;
 * sized at the 80th percentile (1 + 0.8 * 5 = 5 cores) it does not fit on b (4 + 5 > 8), so a
 * stays. Sized by its demand now only (percentile 0) it moves. */
static void test_percentile_sizing(void **state)
{
    (void)state;
    struct fx f;
    memset(&f, 0, sizeof f);
    host(&f, 0, "a", 10, 100, 200, POWER_STATE_ON);
    host(&f, 1, "b", 10, 100, 200, POWER_STATE_ON);
    vm(&f, 0, "v0", 0, 1, 1, 4, 6);
    vm(&f, 1, "v1", 1, 4, 4, 0, 0);
    finish(&f, 2, 2);
    f.cfg.joule_percentile = 80;
    run(&f);
    assert_int_equal(count(&f.p, PLAN_ACTION_MIGRATE), 0);
    f.cfg.joule_percentile = 0;
    run(&f);
    assert_int_equal(count(&f.p, PLAN_ACTION_MIGRATE), 1);
    plan_free(&f.p);
}

/* Relief with hysteresis: a at 105 % sized sheds the smallest VM that brings it to the 90 %
 * target (v1, 2 cores), onto an active host (b, 60 % -> 80 %) before waking one. At 95 %
 * (between target and high) nothing moves. */
static void test_relieve_hysteresis(void **state)
{
    (void)state;
    struct fx f;
    memset(&f, 0, sizeof f);
    host(&f, 0, "a", 10, 100, 200, POWER_STATE_ON);
    host(&f, 1, "b", 10, 100, 200, POWER_STATE_ON);
    host(&f, 2, "c", 10, 100, 200, POWER_STATE_OFF);
    vm(&f, 0, "v0", 0, 6.5, 6.5, 0, 0);
    vm(&f, 1, "v1", 0, 2, 2, 0, 0);
    vm(&f, 2, "v2", 0, 2, 2, 0, 0);
    vm(&f, 3, "v3", 1, 6, 6, 0, 0);
    finish(&f, 3, 4);
    f.cfg.joule_low_pct = 0; /* relief only */
    run(&f);
    assert_int_equal(count(&f.p, PLAN_ACTION_MIGRATE), 1);
    assert_int_equal(f.p.actions[0].reason, PLAN_REASON_OVERLOAD);
    assert_int_equal(f.p.actions[0].vm, 1);
    assert_int_equal(f.p.actions[0].to, 1);
    assert_int_equal(count(&f.p, PLAN_ACTION_POWER_ON), 0);
    f.v[0].cpu_cores = 5.5; /* a at 95 % */
    for (int k = 0; k < 12; k++)
        f.hist[0][k] = 5.5;
    run(&f);
    assert_int_equal(f.p.n, 0);
    plan_free(&f.p);
}

/* Waking: when no active host has room, the off host with the fewest watts per unit of
 * capacity is switched on (POWER_ON first in the plan), not the first one. */
static void test_wakes_efficient_host(void **state)
{
    (void)state;
    struct fx f;
    memset(&f, 0, sizeof f);
    host(&f, 0, "a", 10, 100, 200, POWER_STATE_ON);
    host(&f, 1, "hungry", 10, 150, 300, POWER_STATE_OFF);
    host(&f, 2, "frugal", 20, 100, 200, POWER_STATE_OFF);
    vm(&f, 0, "v0", 0, 6, 6, 0, 0);
    vm(&f, 1, "v1", 0, 5, 5, 0, 0);
    finish(&f, 3, 2);
    run(&f);
    assert_true(f.p.n >= 2);
    assert_int_equal(f.p.actions[0].kind, PLAN_ACTION_POWER_ON);
    assert_int_equal(f.p.actions[0].host, 2);
    assert_int_equal(f.p.actions[1].kind, PLAN_ACTION_MIGRATE);
    assert_int_equal(f.p.actions[1].to, 2);
    plan_free(&f.p);
}

/* A move must pay for itself: with a horizon of 1 s the saved watts never repay the
 * migration energy, so nothing is emptied. Pinned VMs and VMs inside their cooldown keep their
 * host (the other host may still be emptied onto theirs). */
static void test_pays_for_itself_and_rules(void **state)
{
    (void)state;
    struct fx f;
    memset(&f, 0, sizeof f);
    host(&f, 0, "a", 10, 100, 200, POWER_STATE_ON);
    host(&f, 1, "b", 10, 100, 200, POWER_STATE_ON);
    vm(&f, 0, "v0", 0, 2, 2, 0, 0);
    vm(&f, 1, "v1", 1, 3, 3, 0, 0);
    finish(&f, 2, 2);
    f.cfg.joule_horizon_s = 1;
    f.cfg.joule_migration_w = 1000;
    run(&f);
    assert_int_equal(f.p.n, 0);
    policy_cfg_defaults(&f.cfg);
    f.cfg.algorithm = POLICY_ALGORITHM_JOULE;
    f.v[0].pinned = true;
    run(&f);
    assert_false(moved(&f.p, 0));
    assert_true(moved(&f.p, 1));
    f.v[0].pinned = false;
    f.v[0].last_move_ns = f.s.now_ns - 60LL * 1000000000LL; /* moved a minute ago */
    run(&f);
    assert_false(moved(&f.p, 0));
    f.cfg.vm_cooldown_ns = 0;
    run(&f);
    assert_true(moved(&f.p, 0));
    assert_int_equal(count(&f.p, PLAN_ACTION_MIGRATE), 1);
    plan_free(&f.p);
}

/* Same snapshot, same plan (byte for byte). */
static void test_deterministic_plan(void **state)
{
    (void)state;
    struct fx f;
    memset(&f, 0, sizeof f);
    host(&f, 0, "a", 10, 100, 200, POWER_STATE_ON);
    host(&f, 1, "b", 10, 100, 200, POWER_STATE_ON);
    host(&f, 2, "c", 10, 100, 200, POWER_STATE_ON);
    vm(&f, 0, "v0", 0, 2, 2, 3, 4);
    vm(&f, 1, "v1", 1, 3, 3, 0, 0);
    vm(&f, 2, "v2", 2, 1, 1, 1, 5);
    finish(&f, 3, 3);
    run(&f);
    struct plan q;
    plan_init(&q);
    struct joule_err err = { 0 };
    assert_int_equal(policy_run(&f.cfg, &f.s, &q, &err), 0);
    assert_int_equal(q.n, f.p.n);
    assert_true(q.n > 0);
    assert_memory_equal(q.actions, f.p.actions, q.n * sizeof *q.actions);
    plan_free(&q);
    plan_free(&f.p);
}

static void test_bad_settings(void **state)
{
    (void)state;
    struct fx f;
    memset(&f, 0, sizeof f);
    host(&f, 0, "a", 10, 100, 200, POWER_STATE_ON);
    vm(&f, 0, "v0", 0, 2, 2, 0, 0);
    finish(&f, 1, 1);
    f.cfg.joule_target_pct = 95;
    f.cfg.joule_high_pct = 90;
    struct joule_err err = { 0 };
    assert_int_equal(policy_run(&f.cfg, &f.s, &f.p, &err), JOULE_EINVAL);
    assert_non_null(strstr(err.msg, "joule"));
    plan_free(&f.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empties_low_host),
        cmocka_unit_test(test_headroom_blocks),
        cmocka_unit_test(test_percentile_sizing),
        cmocka_unit_test(test_relieve_hysteresis),
        cmocka_unit_test(test_wakes_efficient_host),
        cmocka_unit_test(test_pays_for_itself_and_rules),
        cmocka_unit_test(test_deterministic_plan),
        cmocka_unit_test(test_bad_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
