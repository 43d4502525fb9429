/* Model history (issue 9): the per-VM demand history recorded once per decision interval
 * (bounds, order, one value per round), the snapshot fields that borrow it, hosts marked
 * receiving, and proof that the policies decide differently with it: LrMmt sees an overload
 * coming from a rising trend only with history; joule's policy sizes a VM whose demand just
 * dropped by its recent percentile only with history. Explicit timestamps, no sleeping. */
#include "support/test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "driver.h"
#include "model.h"
#include "policy/plan.h"
#include "policy/policy.h"
#include "util/xalloc.h"

#define S JOULE_NS_PER_S
#define ROUND_S 300
#define MAX_VMS 4

struct fx {
    struct config *cfg;
    struct model *m;
    struct hv_sample s;
    int64_t t_s;
    double cpu_s[MAX_VMS]; /* cumulative cpu seconds per VM */
};

/* h0, h1 with a power model; 4 cores, 8 GiB each. Window 30 s < a round. */
static const char *const CFG =
    "api = { listen = \"\"; };\nload_window_s = 30;\ntick_s = 10;\n"
    "hosts = ( { name = \"h0\"; uri = \"x\"; cpus = 4; memory_mib = 8192; idle_w = 100; max_w = 200; },"
    "          { name = \"h1\"; uri = \"y\"; cpus = 4; memory_mib = 8192; idle_w = 100; max_w = 200; } );";

struct vmdef {
    const char *uuid;
    const char *name;
    int host;
    unsigned vcpus;
    unsigned mem_mib;
};

static int setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof *f);
    char *errors = NULL;
    if (config_load_string(CFG, &f->cfg, &errors) < 0)
        fail_msg("%s", errors);
    f->m = model_new(f->cfg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    hv_sample_free(&f->s);
    model_free(f->m);
    config_free(f->cfg);
    free(f);
    return 0;
}

/* Samples every host at t_s with each VM having used cores[i] since the last round. */
static void round_at(struct fx *f, const struct vmdef *vms, size_t n, const double *cores)
{
    for (size_t i = 0; i < n; i++)
        f->cpu_s[i] += cores[i] * ROUND_S;
    for (int h = 0; h < 2; h++) {
        hv_sample_clear(&f->s);
        f->s.t_ns = f->t_s * S;
        f->s.mono_ns = f->t_s * S;
        f->s.cpus = 4;
        f->s.mem_kib = 8192 * 1024;
        for (size_t i = 0; i < n; i++) {
            if (vms[i].host != h)
                continue;
            struct hv_vm_sample *v = hv_sample_add_vm(&f->s);
            snprintf(v->uuid, sizeof v->uuid, "%s", vms[i].uuid);
            v->name = xstrdup(vms[i].name);
            v->cpu_time_ns = (uint64_t)(f->cpu_s[i] * S);
            v->vcpus = vms[i].vcpus;
            v->mem_kib = (uint64_t)vms[i].mem_mib * 1024;
            v->state = HV_VM_RUNNING;
        }
        model_apply_sample(f->m, h, &f->s);
        f->m->hosts[h].state = POWER_STATE_ON;
    }
}

static const struct vmdef ONE[] = {
    { "aaaaaaaa-0000-4000-8000-000000000001", "vm-a", 0, 4, 1024 },
    { "aaaaaaaa-0000-4000-8000-000000000002", "vm-b", 1, 4, 1024 },
};

static void test_history_bounds_and_order(void **state)
{
    struct fx *f = *state;
    size_t rounds = MODEL_HISTORY_MAX + 7;
    for (size_t k = 0; k <= rounds; k++) {
        double c[2] = { 0.01 * (double)k, 2.0 };
        round_at(f, ONE, 2, c);
        if (k > 0) { /* the first sample gives no delta */
            assert_int_equal(model_record_history(f->m, f->t_s * S), 2);
            /* a second call in the same round records nothing */
            assert_int_equal(model_record_history(f->m, f->t_s * S), 0);
        }
        f->t_s += ROUND_S;
    }
    int a = model_vm_find(f->m, ONE[0].uuid);
    assert_true(a >= 0);
    const struct model_vm *v = &f->m->vms[a];
    assert_int_equal(v->n_history, MODEL_HISTORY_MAX); /* bounded: the oldest fell off */
    for (size_t i = 0; i < MODEL_HISTORY_MAX; i++) /* most recent first: round `rounds - i` */
        assert_float_equal(v->history[i], 0.01 * (double)(rounds - i), 1e-9);
    /* a VM that is nowhere is not recorded, and keeps what it had */
    f->m->vms[a].host = -1;
    assert_int_equal(model_record_history(f->m, f->t_s * S), 1);
    assert_int_equal(v->n_history, MODEL_HISTORY_MAX);
    assert_float_equal(v->history[0], 0.01 * (double)rounds, 1e-9);
}

static void test_snapshot_borrows_history_and_receiving(void **state)
{
    struct fx *f = *state;
    for (int k = 0; k < 4; k++) {
        double c[2] = { 1.0 + k, 0.5 };
        round_at(f, ONE, 2, c);
        if (k > 0)
            model_record_history(f->m, f->t_s * S);
        f->t_s += ROUND_S;
    }
    struct model_snapshot snap;
    model_snapshot_build(f->m, (f->t_s - ROUND_S) * S, &snap);
    assert_int_equal(snap.n_vms, 2);
    int a = model_vm_find(f->m, ONE[0].uuid);
    const struct snap_vm *sa = NULL;
    for (size_t i = 0; i < snap.n_vms; i++)
        if (strcmp(snap.vms[i].uuid, ONE[0].uuid) == 0)
            sa = &snap.vms[i];
    assert_non_null(sa);
    assert_int_equal(sa->n_history, 3);
    assert_ptr_equal(sa->demand_history, f->m->vms[a].history); /* borrowed, not copied */
    assert_float_equal(sa->demand_history[0], 4.0, 1e-9);
    assert_float_equal(sa->demand_history[1], 3.0, 1e-9);
    assert_float_equal(sa->demand_history[2], 2.0, 1e-9);
    assert_float_equal(sa->cpu_cores, 4.0, 1e-9);
    /* nobody is receiving until the caller says so */
    assert_false(snap.hosts[0].receiving);
    assert_false(snap.hosts[1].receiving);
    model_snapshot_set_receiving(&snap, 1, true);
    model_snapshot_set_receiving(&snap, 7, true);  /* out of range: ignored */
    model_snapshot_set_receiving(&snap, -1, true);
    assert_false(snap.hosts[0].receiving);
    assert_true(snap.hosts[1].receiving);
    model_snapshot_set_receiving(&snap, 1, false);
    assert_false(snap.hosts[1].receiving);
    model_snapshot_free(&snap);

    /* without any recorded round the snapshot has no history */
    struct model *m2 = model_new(f->cfg);
    model_snapshot_build(m2, 0, &snap);
    assert_int_equal(snap.n_vms, 0);
    model_snapshot_free(&snap);
    model_free(m2);
}

static size_t count(const struct plan *p, enum plan_action_kind k, int reason)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++)
        n += p->actions[i].kind == k && (reason < 0 || (int)p->actions[i].reason == reason);
    return n;
}

/* Runs the policy on the model's snapshot, then on the same snapshot without history. */
static void run_both(struct fx *f, enum policy_algorithm alg, double migration_mib_s,
                     struct plan *with, struct plan *without)
{
    struct policy_cfg pc;
    policy_cfg_defaults(&pc);
    pc.algorithm = alg;
    pc.migration_mib_s = migration_mib_s;
    pc.max_moves_per_round = 100;
    struct model_snapshot snap;
    model_snapshot_build(f->m, (f->t_s - ROUND_S) * S, &snap);
    snap.consolidation_allowed = true;
    struct joule_err err = { 0 };
    size_t with_hist = 0;
    for (size_t i = 0; i < snap.n_vms; i++)
        with_hist += snap.vms[i].n_history > 0;
    assert_int_equal(with_hist, snap.n_vms);
    assert_int_equal(policy_run(&pc, &snap, with, &err), 0);
    for (size_t i = 0; i < snap.n_vms; i++) {
        snap.vms[i].demand_history = NULL;
        snap.vms[i].n_history = 0;
    }
    assert_int_equal(policy_run(&pc, &snap, without, &err), 0);
    model_snapshot_free(&snap);
}

/* h0: vm-r rising by 0.28 cores a round to 2.62 of 4 cores, + vm-s small and steady; h1: vm-b
 * steady. h0 is at 68 %: under LrMmt's 0.7 fallback threshold, but over a slow migration link
 * (6 MiB/s: vm-r's 4 GiB take 683 s, 3 rounds) the regression over the last 10 rounds, 3 rounds
 * ahead, times the default safety 1.2, is 1.07 >= 1: overloaded. By the fallback threshold
 * nothing fits anywhere (each host plus a VM of the other is above 70 %): no move at all. */
static void test_lr_mmt_sees_trend_only_with_history(void **state)
{
    struct fx *f = *state;
    static const struct vmdef V[] = {
        { "bbbbbbbb-0000-4000-8000-000000000001", "vm-r", 0, 4, 4096 },
        { "bbbbbbbb-0000-4000-8000-000000000002", "vm-s", 0, 1, 512 },
        { "bbbbbbbb-0000-4000-8000-000000000003", "vm-b", 1, 4, 1024 },
    };
    double c0[3] = { 0.1, 0.1, 0.5 };
    round_at(f, V, 3, c0); /* baseline */
    for (int k = 0; k < 10; k++) {
        f->t_s += ROUND_S;
        double c[3] = { 0.1 + 0.28 * k, 0.1, 0.5 };
        round_at(f, V, 3, c);
        model_record_history(f->m, f->t_s * S);
    }
    f->t_s += ROUND_S;
    struct plan with, without;
    plan_init(&with);
    plan_init(&without);
    run_both(f, POLICY_ALGORITHM_LR_MMT, 6.0, &with, &without);
    assert_true(count(&with, PLAN_ACTION_MIGRATE, PLAN_REASON_OVERLOAD) >= 1);
    bool from_h0 = false;
    for (size_t i = 0; i < with.n; i++)
        from_h0 |= with.actions[i].kind == PLAN_ACTION_MIGRATE && with.actions[i].from == 0 &&
                   with.actions[i].to == 1;
    assert_true(from_h0);
    assert_int_equal(count(&without, PLAN_ACTION_MIGRATE, -1), 0);
    plan_free(&with);
    plan_free(&without);
}

/* h0: vm-x busy (3 of 4 cores) for 12 rounds, then 0.4 in the last one; h1: vm-y at 0.4.
 * Sized by its last value, vm-x leaves h0 at 10 %: joule empties a host. Sized by the 70th
 * percentile of its history (3 cores) h0 is 75 % busy and vm-y does not fit on it within
 * target - headroom (80 %): nothing moves. */
static void test_joule_sizes_by_history(void **state)
{
    struct fx *f = *state;
    static const struct vmdef V[] = {
        { "cccccccc-0000-4000-8000-000000000001", "vm-x", 0, 4, 1024 },
        { "cccccccc-0000-4000-8000-000000000002", "vm-y", 1, 4, 1024 },
    };
    double c0[2] = { 3.0, 0.4 };
    round_at(f, V, 2, c0);
    for (int k = 0; k < 13; k++) {
        f->t_s += ROUND_S;
        double c[2] = { k == 12 ? 0.4 : 3.0, 0.4 };
        round_at(f, V, 2, c);
        model_record_history(f->m, f->t_s * S);
    }
    f->t_s += ROUND_S;
    struct plan with, without;
    plan_init(&with);
    plan_init(&without);
    run_both(f, POLICY_ALGORITHM_JOULE, 62.5, &with, &without);
    assert_int_equal(count(&with, PLAN_ACTION_MIGRATE, -1), 0);
    assert_int_equal(count(&with, PLAN_ACTION_POWER_OFF, -1), 0);
    assert_int_equal(count(&without, PLAN_ACTION_MIGRATE, PLAN_REASON_UNDERLOAD), 1);
    assert_int_equal(count(&without, PLAN_ACTION_POWER_OFF, -1), 1);
    plan_free(&with);
    plan_free(&without);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_history_bounds_and_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_borrows_history_and_receiving, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lr_mmt_sees_trend_only_with_history, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_joule_sizes_by_history, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
