/* The seed paper 003 cases (two-host KVM lab): balance 80%/40%, consolidation of 8 idle VMs,
 * Th1 wake. Expected plans are written by hand from the paper, never regenerated. */
#include <math.h>

#include "scenario_util.h"

/* Hosts A 80% / B 40%; A's VMs at 80/40/20/20% of 2 vCPUs: the 40% VM (20% of A) moves to B,
 * both hosts end at 60%. Nothing else: no Th1 (avg 60), no Th2 (U 4.8 >= 0.8 x 4 cores). */
static void balance_moves_the_40pct_vm(void **state)
{
    struct snapshot_doc *d = scenario_load("seed003_balance.json");
    struct plan p;
    scenario_run(d, &d->cfg, &p);
    assert_int_equal(p.n, 1);
    assert_migrate(d, &p.actions[0], "a-40", "A", "B", PLAN_REASON_BALANCE);
    assert_true(fabs(p.actions[0].from_load_pct - 60.0) < 1e-6);
    assert_true(fabs(p.actions[0].to_load_pct - 60.0) < 1e-6);
    plan_free(&p);
    snapshot_doc_free(d);
}

/* Same with the bands rule: threshold 60, band 50..70; A heavy, B light; vector 20 -> a-40. */
static void balance_with_bands_moves_the_same_vm(void **state)
{
    struct snapshot_doc *d = scenario_load("seed003_balance.json");
    d->cfg.balance = POLICY_BALANCE_BANDS;
    struct plan p;
    scenario_run(d, &d->cfg, &p);
    assert_int_equal(p.n, 1);
    assert_migrate(d, &p.actions[0], "a-40", "A", "B", PLAN_REASON_BANDS);
    plan_free(&p);
    snapshot_doc_free(d);
}

/* A pinned 40% VM: no other VM of A is within d/2 = 20 points except the 10% ones, which are
 * the largest that qualify: one of them moves (the first in snapshot order), then d = 20 and
 * the other 10% VM moves: both hosts at 60% again. */
static void balance_skips_pinned(void **state)
{
    struct snapshot_doc *d = scenario_load("seed003_balance.json");
    d->snap.vms[scenario_vm(d, "a-40")].pinned = true;
    struct plan p;
    scenario_run(d, &d->cfg, &p);
    assert_int_equal(p.n, 2);
    assert_migrate(d, &p.actions[0], "a-20a", "A", "B", PLAN_REASON_BALANCE);
    assert_migrate(d, &p.actions[1], "a-20b", "A", "B", PLAN_REASON_BALANCE);
    assert_true(fabs(p.actions[1].from_load_pct - 60.0) < 1e-6);
    plan_free(&p);
    snapshot_doc_free(d);
}

/* 8 idle VMs, 4 per host: the 4 VMs of the lower host (B) move to A, then B is powered off. */
static void consolidation_empties_lower_host(void **state)
{
    struct snapshot_doc *d = scenario_load("seed003_consolidation.json");
    struct plan p;
    scenario_run(d, &d->cfg, &p);
    assert_int_equal(p.n, 5);
    const char *vms[] = { "idle-b1", "idle-b2", "idle-b3", "idle-b4" };
    for (int i = 0; i < 4; i++)
        assert_migrate(d, &p.actions[i], vms[i], "B", "A", PLAN_REASON_TH2_CONSOLIDATE);
    assert_int_equal(p.actions[4].kind, PLAN_ACTION_POWER_OFF);
    assert_int_equal(p.actions[4].reason, PLAN_REASON_TH2_CONSOLIDATE);
    assert_int_equal(p.actions[4].host, scenario_host(d, "B"));
    assert_true(p.actions[4].expected_gain_w >= 58.0); /* at least B's idle watts */
    plan_free(&p);
    snapshot_doc_free(d);
}

/* Outside the off-peak window nothing happens (and balance has d = 1 < 10). */
static void consolidation_only_when_allowed(void **state)
{
    struct snapshot_doc *d = scenario_load("seed003_consolidation.json");
    d->snap.consolidation_allowed = false;
    struct plan p;
    scenario_run(d, &d->cfg, &p);
    assert_int_equal(p.n, 0);
    plan_free(&p);
    snapshot_doc_free(d);
}

/* A per-round cap of 3 moves cannot empty a host of 4 VMs: nothing, not a partial drain. */
static void consolidation_respects_move_cap(void **state)
{
    struct snapshot_doc *d = scenario_load("seed003_consolidation.json");
    d->cfg.max_moves_per_round = 3;
    struct plan p;
    scenario_run(d, &d->cfg, &p);
    assert_int_equal(p.n, 0);
    plan_free(&p);
    snapshot_doc_free(d);
}

/* A must keep 2 hosts: no power-off. */
static void consolidation_respects_min_hosts(void **state)
{
    struct snapshot_doc *d = scenario_load("seed003_consolidation.json");
    d->snap.min_active_hosts = 2;
    struct plan p;
    scenario_run(d, &d->cfg, &p);
    assert_int_equal(p.n, 0);
    plan_free(&p);
    snapshot_doc_free(d);
}

/* One VM of B just moved (cooldown): B cannot be emptied; A (higher) is not the Th2 choice
 * either... A can be emptied onto B, which is the other host: then A is powered off. */
static void consolidation_cooldown_blocks_host(void **state)
{
    struct snapshot_doc *d = scenario_load("seed003_consolidation.json");
    d->snap.vms[scenario_vm(d, "idle-b2")].last_move_ns = d->snap.now_ns - 60 * 1000000000LL;
    struct plan p;
    scenario_run(d, &d->cfg, &p);
    assert_int_equal(p.n, 5);
    for (int i = 0; i < 4; i++)
        assert_int_equal(p.actions[i].from, scenario_host(d, "A"));
    assert_int_equal(p.actions[4].kind, PLAN_ACTION_POWER_OFF);
    assert_int_equal(p.actions[4].host, scenario_host(d, "A"));
    plan_free(&p);
    snapshot_doc_free(d);
}

/* 2 active hosts at 85% > Th1 80%: power on the third; Th2 is skipped, balance has nothing. */
static void wake_third_host(void **state)
{
    struct snapshot_doc *d = scenario_load("seed003_wake.json");
    struct plan p;
    scenario_run(d, &d->cfg, &p);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.actions[0].kind, PLAN_ACTION_POWER_ON);
    assert_int_equal(p.actions[0].reason, PLAN_REASON_TH1_WAKE);
    assert_int_equal(p.actions[0].host, scenario_host(d, "C"));
    plan_free(&p);
    snapshot_doc_free(d);
}

/* No third host: an alert "no capacity". */
static void wake_without_third_host_alerts(void **state)
{
    struct snapshot_doc *d = scenario_load("seed003_wake.json");
    d->snap.n_hosts = 2; /* C is last and runs nothing */
    struct plan p;
    scenario_run(d, &d->cfg, &p);
    d->snap.n_hosts = 3; /* so that snapshot_doc_free frees C's name */
    assert_int_equal(p.n, 1);
    assert_int_equal(p.actions[0].kind, PLAN_ACTION_ALERT);
    assert_int_equal(p.actions[0].reason, PLAN_REASON_NO_CAPACITY);
    plan_free(&p);
    snapshot_doc_free(d);
}

/* C already waking: it counts as capacity on its way (6.8 cores / 12 = 57%): no second wake. */
static void wake_pending_counts(void **state)
{
    struct snapshot_doc *d = scenario_load("seed003_wake.json");
    d->snap.hosts[scenario_host(d, "C")].state = POWER_STATE_WAKING;
    struct plan p;
    scenario_run(d, &d->cfg, &p);
    assert_int_equal(p.n, 0);
    plan_free(&p);
    snapshot_doc_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(balance_moves_the_40pct_vm),
        cmocka_unit_test(balance_with_bands_moves_the_same_vm),
        cmocka_unit_test(balance_skips_pinned),
        cmocka_unit_test(consolidation_empties_lower_host),
        cmocka_unit_test(consolidation_only_when_allowed),
        cmocka_unit_test(consolidation_respects_move_cap),
        cmocka_unit_test(consolidation_respects_min_hosts),
        cmocka_unit_test(consolidation_cooldown_blocks_host),
        cmocka_unit_test(wake_third_host),
        cmocka_unit_test(wake_without_third_host_alerts),
        cmocka_unit_test(wake_pending_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
