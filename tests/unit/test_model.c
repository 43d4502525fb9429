/* Model: cpu.time deltas -> VM cores, host load, smoothing over the load window, counter resets,
 * VMs leaving, power-model watts, snapshots. Driven by explicit timestamps (no sleeping). */
#include "support/test_support.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "driver.h"
#include "model.h"
#include "util/xalloc.h"

#define S JOULE_NS_PER_S

struct fx {
    struct config *cfg;
    struct model *m;
    struct hv_sample s;
};

static int setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof *f);
    char *errors = NULL;
    int rc = config_load_string("api = { listen = \"\"; };\nload_window_s = 30;\ntick_s = 10;\n"
                                "pinned_vms = [ \"vm-b\" ];\n"
                                "hosts = ( { name = \"h1\"; uri = \"x\"; cpus = 4; idle_w = 50; max_w = 150; },"
                                "          { name = \"h2\"; uri = \"y\"; } );",
                                &f->cfg, &errors);
    if (rc < 0)
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

static void add_vm(struct hv_sample *s, const char *uuid, const char *name, uint64_t cpu_ns,
                   unsigned vcpus)
{
    struct hv_vm_sample *v = hv_sample_add_vm(s);
    snprintf(v->uuid, sizeof v->uuid, "%s", uuid);
    v->name = xstrdup(name);
    v->cpu_time_ns = cpu_ns;
    v->vcpus = vcpus;
    v->mem_kib = 1024 * 1024;
    v->state = HV_VM_RUNNING;
}

/* one sample at t seconds with vm a at cumulative a_s cpu-seconds and b at b_s */
static void sample(struct fx *f, int64_t t, double a_s, double b_s)
{
    hv_sample_clear(&f->s);
    f->s.t_ns = t * S;
    f->s.mono_ns = t * S;
    f->s.cpus = 64; /* ignored: config says 4 */
    f->s.mem_kib = 8 * 1024 * 1024;
    add_vm(&f->s, "aaaaaaaa-0000-4000-8000-000000000001", "vm-a", (uint64_t)(a_s * S), 2);
    if (b_s >= 0)
        add_vm(&f->s, "aaaaaaaa-0000-4000-8000-000000000002", "vm-b", (uint64_t)(b_s * S), 2);
    model_apply_sample(f->m, 0, &f->s);
}

static void test_cpu_from_deltas(void **state)
{
    struct fx *f = *state;
    sample(f, 0, 0, 0);
    assert_int_equal(f->m->n_vms, 2);
    assert_true(f->m->hosts[0].load_pct == 0); /* no delta yet */
    sample(f, 10, 15, 5);                       /* a: 1.5 cores, b: 0.5 cores */
    int a = model_vm_find(f->m, "aaaaaaaa-0000-4000-8000-000000000001");
    assert_true(a >= 0);
    assert_float_equal(f->m->vms[a].cpu_cores, 1.5, 1e-9);
    assert_float_equal(f->m->hosts[0].load_pct, 50.0, 1e-9); /* 2 of 4 cores (config override) */
    assert_true(f->m->hosts[0].cpus == 4);
    assert_int_equal(f->m->hosts[0].n_vms, 2);
    assert_true(f->m->hosts[0].reachable);
}

static void test_smoothing_over_window(void **state)
{
    struct fx *f = *state;
    sample(f, 0, 0, 0);
    sample(f, 10, 10, 10);  /* 2 cores: 50% */
    sample(f, 20, 30, 30);  /* 4 cores: 100% */
    sample(f, 30, 40, 40);  /* 2 cores: 50% */
    /* window 30 s at t=30 covers samples with t in (0, 30]: 50, 100, 50 */
    assert_float_equal(model_host_load_smoothed(f->m, 0, 30 * S), 200.0 / 3, 1e-9);
    /* the first sample (no deltas yet) is not averaged in as a 0 */
    assert_float_equal(model_host_load_smoothed(f->m, 0, 20 * S), 75.0, 1e-9);
    sample(f, 40, 40, 40);  /* 0% */
    assert_float_equal(model_host_load_smoothed(f->m, 0, 40 * S), 50.0, 1e-9); /* 100,50,0 */
    sample(f, 50, 40, 40);
    sample(f, 60, 40, 40);
    assert_float_equal(model_host_load_smoothed(f->m, 0, 60 * S), 0.0, 1e-9);
}

static void test_counter_reset_is_rebaselined(void **state)
{
    struct fx *f = *state;
    sample(f, 0, 100, 0);
    sample(f, 10, 110, 0);  /* a: 1 core */
    sample(f, 20, 2, 0);    /* counter restarted (new qemu process) */
    int a = model_vm_find(f->m, "aaaaaaaa-0000-4000-8000-000000000001");
    assert_float_equal(f->m->vms[a].cpu_cores, 1.0, 1e-9); /* kept, not negative */
    sample(f, 30, 7, 0);    /* 0.5 core from the new baseline */
    assert_float_equal(f->m->vms[a].cpu_cores, 0.5, 1e-9);
}

static void test_vm_leaves_and_arrives(void **state)
{
    struct fx *f = *state;
    sample(f, 0, 0, 0);
    sample(f, 10, 10, 0);
    sample(f, 20, 20, -1); /* vm-b gone from h1 */
    int b = model_vm_find(f->m, "aaaaaaaa-0000-4000-8000-000000000002");
    assert_int_equal(f->m->vms[b].host, -1);
    assert_int_equal(f->m->hosts[0].n_vms, 1);
    /* it shows up on h2 */
    struct hv_sample s2 = { 0 };
    s2.t_ns = s2.mono_ns = 20 * S;
    s2.cpus = 8;
    s2.mem_kib = 16 * 1024 * 1024;
    add_vm(&s2, "aaaaaaaa-0000-4000-8000-000000000002", "vm-b", 3 * S, 2);
    model_apply_sample(f->m, 1, &s2);
    assert_int_equal(f->m->vms[b].host, 1);
    assert_true(f->m->hosts[1].cpus == 8); /* from the hypervisor: no override */
    assert_true(f->m->hosts[1].mem_mib == 16384);
    hv_sample_free(&s2);
}

/* The executor confirmed vm-b's move from h1 to h2 at mono 30 s. Samples taken before that
 * (late or slow ones, applied afterwards) must not undo it: h1's still lists vm-b, h2's does
 * not list it yet. A sample taken after the move is the truth again. */
static void test_sample_older_than_a_move_does_not_undo_it(void **state)
{
    struct fx *f = *state;
    sample(f, 0, 0, 0);
    sample(f, 10, 10, 1);
    int b = model_vm_find(f->m, "aaaaaaaa-0000-4000-8000-000000000002");
    assert_int_equal(f->m->vms[b].host, 0);
    model_vm_moved(f->m, b, 1, 30 * S, 30 * S);
    assert_int_equal(f->m->hosts[0].n_vms, 1);
    assert_int_equal(f->m->hosts[1].n_vms, 1);
    sample(f, 25, 25, 2); /* h1, taken at 25 s: vm-b still there then */
    assert_int_equal(f->m->vms[b].host, 1);
    assert_int_equal(f->m->hosts[0].n_vms, 1);
    assert_true(f->m->hosts[0].load_pct == 25.0); /* vm-a's 1 core of 4; vm-b not counted */
    struct hv_sample s2 = { 0 };
    s2.t_ns = s2.mono_ns = 28 * S; /* h2 at 28 s, before the move was confirmed: empty */
    s2.cpus = 8;
    s2.mem_kib = 16 * 1024 * 1024;
    model_apply_sample(f->m, 1, &s2);
    assert_int_equal(f->m->vms[b].host, 1);
    assert_int_equal(f->m->hosts[1].n_vms, 1);
    s2.t_ns = s2.mono_ns = 40 * S; /* after the move, h2 does not list it: it left */
    model_apply_sample(f->m, 1, &s2);
    assert_int_equal(f->m->vms[b].host, -1);
    sample(f, 50, 50, 3); /* and h1 lists it after the move: it is back on h1 */
    assert_int_equal(f->m->vms[b].host, 0);
    assert_int_equal(f->m->hosts[0].n_vms, 2);
    hv_sample_free(&s2);
}

static void test_snapshot(void **state)
{
    struct fx *f = *state;
    sample(f, 0, 0, 0);
    sample(f, 10, 10, 10);
    f->m->hosts[0].state = POWER_STATE_ON;
    f->m->hosts[1].state = POWER_STATE_OFF;
    struct model_snapshot snap;
    model_snapshot_build(f->m, 10 * S, &snap);
    assert_int_equal(snap.n_hosts, 2);
    assert_int_equal(snap.n_vms, 2);
    assert_float_equal(snap.hosts[0].load_pct, 50.0, 1e-9);
    assert_int_equal(snap.hosts[1].state, POWER_STATE_OFF);
    assert_true(snap.hosts[0].idle_w == 50);
    int b = -1;
    for (size_t i = 0; i < snap.n_vms; i++)
        if (strcmp(snap.vms[i].name, "vm-b") == 0)
            b = (int)i;
    assert_true(b >= 0);
    assert_true(snap.vms[b].pinned);
    assert_float_equal(snap.vms[b].cpu_cores, 1.0, 1e-9);
    assert_int_equal(snap.vms[b].last_move_ns, SNAP_NEVER);
    assert_int_equal(snap.min_active_hosts, 1);
    model_snapshot_free(&snap);
}

static void test_power_model_watts(void **state)
{
    struct fx *f = *state;
    sample(f, 0, 0, 0);
    sample(f, 10, 10, 10); /* 50% */
    f->m->hosts[1].state = POWER_STATE_OFF;
    model_estimate_watts(f->m, 10 * S, 60 * S);
    assert_float_equal(f->m->hosts[0].watts, 100.0, 1e-9); /* 50 + 100 * 0.5 */
    assert_true(f->m->hosts[0].watts_from_model);
    assert_float_equal(f->m->hosts[1].watts, 15.0, 1e-9);  /* standby default */
    model_apply_meter(f->m, 0, 10 * S, 123.0, 4.5);
    model_estimate_watts(f->m, 20 * S, 60 * S);
    assert_float_equal(f->m->hosts[0].watts, 123.0, 1e-9); /* fresh: kept */
    assert_false(f->m->hosts[0].watts_from_model);
    model_estimate_watts(f->m, 100 * S, 60 * S);            /* stale: model again */
    assert_true(f->m->hosts[0].watts_from_model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cpu_from_deltas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sample_older_than_a_move_does_not_undo_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_smoothing_over_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counter_reset_is_rebaselined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vm_leaves_and_arrives, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_power_model_watts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
