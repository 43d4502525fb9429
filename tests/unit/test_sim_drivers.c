/* Sim cluster and the sim hypervisor/power/meter/store drivers, through the registry and the
 * handle wrappers, on a simulated clock. */
#include "support/test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "model.h"
#include "registry.h"
#include "sim_cluster.h"
#include "store/memory.h"
#include "util/xalloc.h"

#define S JOULE_NS_PER_S

struct fx {
    struct clock_sim *cs;
    struct sim_cluster *sc;
    struct config *cfg;
    struct drv_env env;
};

static int setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof *f);
    f->cs = clock_sim_new(1700000000LL * S);
    f->sc = sim_cluster_new(clock_sim_clock(f->cs));
    char *errors = NULL;
    int rc = config_load_string(
        "api = { listen = \"\"; };\n"
        "hosts = ( { name = \"a\"; hypervisor = \"sim\"; meter = \"00:00:00:00:00:00:00:0a\"; power = { methods = [\"sim\"]; }; },\n"
        "          { name = \"b\"; hypervisor = \"sim\"; meter = \"00:00:00:00:00:00:00:0b\"; power = { methods = [\"sim\"]; }; } );",
        &f->cfg, &errors);
    if (rc < 0)
        fail_msg("%s", errors);
    sim_host_add(f->sc, "a", 4, 8192, 100, 200);
    sim_host_add(f->sc, "b", 4, 8192, 100, 200);
    f->env.clock = clock_sim_clock(f->cs);
    f->env.sim = f->sc;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    sim_cluster_free(f->sc);
    clock_sim_free(f->cs);
    config_free(f->cfg);
    free(f);
    return 0;
}

static void test_registry_valid(void **state)
{
    (void)state;
    struct joule_err err;
    assert_int_equal(registry_validate(&err), 0);
    assert_non_null(registry_find_hypervisor("sim"));
    assert_non_null(registry_find_power("sim"));
    assert_non_null(registry_find_meter("sim"));
    assert_non_null(registry_find_store("memory"));
    assert_null(registry_find_hypervisor("xen"));
}

static void test_loads(void **state)
{
    (void)state;
    struct sim_load c = { .kind = SIM_LOAD_CONST, .a = 0.25 };
    assert_float_equal(sim_load_at(&c, 0), 0.25, 1e-12);
    struct sim_load dn = { .kind = SIM_LOAD_DAYNIGHT, .a = 0.1, .b = 0.8, .period_ns = 86400 * S,
                           .phase_ns = 0 };
    assert_float_equal(sim_load_at(&dn, 0), 0.1, 1e-12);             /* trough */
    assert_float_equal(sim_load_at(&dn, 43200 * S), 0.9, 1e-12);     /* peak half a day later */
    double vals[] = { 0.0, 1.0, 0.5 };
    struct sim_load tr = { .kind = SIM_LOAD_TRACE, .values = vals, .n_values = 3, .start_ns = 0,
                           .step_ns = 300 * S };
    assert_float_equal(sim_load_at(&tr, 150 * S), 0.5, 1e-12);       /* interpolated */
    assert_float_equal(sim_load_at(&tr, 450 * S), 0.75, 1e-12);
    assert_float_equal(sim_load_at(&tr, 9000 * S), 0.5, 1e-12);      /* last value held */
}

static void test_hypervisor_sample_and_model(void **state)
{
    struct fx *f = *state;
    struct sim_load l1 = { .kind = SIM_LOAD_CONST, .a = 0.5 };
    sim_vm_add(f->sc, "vm1", NULL, 0, 2, 1024, &l1);     /* 1 core */
    struct sim_load l2 = { .kind = SIM_LOAD_CONST, .a = 1.0 };
    sim_vm_add(f->sc, "vm2", NULL, 0, 1, 1024, &l2);     /* 1 core */
    struct hypervisor *hv = NULL;
    struct joule_err err;
    assert_int_equal(hypervisor_new(registry_find_hypervisor("sim"), &f->cfg->hosts[0], &f->env,
                                    &hv, &err), 0);
    assert_int_equal(hypervisor_connect(hv, &err), 0);
    struct model *m = model_new(f->cfg);
    struct hv_sample s = { 0 };
    for (int i = 0; i < 4; i++) {
        assert_int_equal(hypervisor_sample(hv, &s, &err), 0);
        model_apply_sample(m, 0, &s);
        clock_sim_advance(f->cs, 10 * S);
    }
    assert_int_equal(s.n_vms, 2);
    assert_float_equal(m->hosts[0].load_pct, 50.0, 1e-6); /* 2 cores of 4 */
    assert_float_equal(sim_host_watts(f->sc, 0, clock_now_ns(f->env.clock)), 150.0, 1e-9);
    hv_sample_free(&s);
    model_free(m);
    hypervisor_free(hv);
}

static void test_migration(void **state)
{
    struct fx *f = *state;
    struct sim_load l = { .kind = SIM_LOAD_CONST, .a = 0.2 };
    int vm = sim_vm_add(f->sc, "vm1", NULL, 0, 2, 2048, &l);
    struct hypervisor *ha = NULL, *hb = NULL;
    struct joule_err err;
    assert_int_equal(hypervisor_new(&*registry_find_hypervisor("sim"), &f->cfg->hosts[0], &f->env, &ha, &err), 0);
    assert_int_equal(hypervisor_new(registry_find_hypervisor("sim"), &f->cfg->hosts[1], &f->env, &hb, &err), 0);
    struct hv_migrate_dest d = { .name = "b", .uri = "sim", .migration_uri = "sim", .state = hb->state };
    struct hv_migrate_opts o = { .flags = CONFIG_MIGRATE_LIVE, .timeout_ns = 300 * S };
    struct hv_migrate_result r;
    /* refused destination: the VM stays on its source, the error says why */
    f->sc->hosts[1].refuse_migrations = true;
    assert_true(hypervisor_migrate(ha, f->sc->vms[vm].uuid, &d, &o, &r, &err) < 0);
    assert_non_null(strstr(err.msg, "refused"));
    assert_int_equal(f->sc->vms[vm].host, 0);
    f->sc->hosts[1].refuse_migrations = false;
    /* a timeout shorter than the transfer: aborted, still on the source */
    f->sc->migration_mibps = 10; /* 2048 MiB -> 204.8 s */
    o.timeout_ns = 60 * S;
    assert_int_equal(hypervisor_migrate(ha, f->sc->vms[vm].uuid, &d, &o, &r, &err), JOULE_ETIMEDOUT);
    assert_true(r.aborted);
    assert_int_equal(f->sc->vms[vm].host, 0);
    /* succeeds */
    o.timeout_ns = 300 * S;
    assert_int_equal(hypervisor_migrate(ha, f->sc->vms[vm].uuid, &d, &o, &r, &err), 0);
    assert_int_equal(f->sc->vms[vm].host, 1);
    assert_int_equal(r.end_ns - r.start_ns, (int64_t)(204.8 * S));
    /* not enough memory on the destination */
    f->sc->hosts[0].mem_mib = 1024;
    struct hv_migrate_dest back = { .name = "a", .state = ha->state };
    assert_int_equal(hypervisor_migrate(hb, f->sc->vms[vm].uuid, &back, &o, &r, &err), JOULE_ENOSPC);
    hypervisor_free(ha);
    hypervisor_free(hb);
}

/* migrate_blocks: the call takes the transfer time on the clock, the VM on its source (and its
 * energy there) until it switches over; a timeout waits the timeout and leaves it there; an
 * impossible migration fails at once; migrate_wait gets the deadline when set. */
struct wait_rec {
    struct clock_sim *cs;
    int64_t deadline;
};

static void record_wait(void *arg, int64_t mono_deadline_ns)
{
    struct wait_rec *w = arg;
    w->deadline = mono_deadline_ns;
    clock_sim_set(w->cs, 1700000000LL * S + mono_deadline_ns);
}

static void test_migration_blocks(void **state)
{
    struct fx *f = *state;
    struct sim_load l = { .kind = SIM_LOAD_CONST, .a = 1 };
    int vm = sim_vm_add(f->sc, "vm1", NULL, 0, 2, 2048, &l);
    struct hypervisor *ha = NULL, *hb = NULL;
    struct joule_err err;
    assert_int_equal(hypervisor_new(registry_find_hypervisor("sim"), &f->cfg->hosts[0], &f->env, &ha, &err), 0);
    assert_int_equal(hypervisor_new(registry_find_hypervisor("sim"), &f->cfg->hosts[1], &f->env, &hb, &err), 0);
    struct hv_migrate_dest d = { .name = "b", .state = hb->state };
    struct hv_migrate_opts o = { .flags = CONFIG_MIGRATE_LIVE, .timeout_ns = 60 * S };
    struct hv_migrate_result r;
    const struct clock *ck = clock_sim_clock(f->cs);
    f->sc->migrate_blocks = true;
    f->sc->migration_mibps = 20; /* 2048 MiB -> 102.4 s */
    int64_t t0 = clock_now_ns(ck);
    assert_int_equal(hypervisor_migrate(ha, f->sc->vms[vm].uuid, &d, &o, &r, &err), JOULE_ETIMEDOUT);
    assert_true(r.aborted);
    assert_int_equal(clock_now_ns(ck) - t0, 60 * S);
    assert_int_equal(f->sc->vms[vm].host, 0);
    /* destination off: fails at once */
    f->sc->hosts[1].power = SIM_POWER_OFF;
    t0 = clock_now_ns(ck);
    assert_true(hypervisor_migrate(ha, f->sc->vms[vm].uuid, &d, &o, &r, &err) < 0);
    assert_int_equal(clock_now_ns(ck), t0);
    f->sc->hosts[1].power = SIM_POWER_ON;
    sim_cluster_update(f->sc);
    double e0 = f->sc->hosts[0].energy_j, e1 = f->sc->hosts[1].energy_j;
    o.timeout_ns = 300 * S;
    t0 = clock_now_ns(ck);
    assert_int_equal(hypervisor_migrate(ha, f->sc->vms[vm].uuid, &d, &o, &r, &err), 0);
    assert_int_equal(clock_now_ns(ck) - t0, (int64_t)(102.4 * S));
    assert_int_equal(r.end_ns - r.start_ns, (int64_t)(102.4 * S));
    assert_int_equal(f->sc->vms[vm].host, 1);
    /* during the copy the 2 busy vCPUs ran on a: 150 W there, 100 W on b */
    assert_float_equal(f->sc->hosts[0].energy_j - e0, 150 * 102.4, 1e-6);
    assert_float_equal(f->sc->hosts[1].energy_j - e1, 100 * 102.4, 1e-6);
    /* with a wait hook the deadline goes to it */
    struct wait_rec wr = { f->cs, 0 };
    f->sc->migrate_wait = record_wait;
    f->sc->migrate_wait_arg = &wr;
    struct hv_migrate_dest back = { .name = "a", .state = ha->state };
    int64_t m0 = clock_mono_ns(ck);
    assert_int_equal(hypervisor_migrate(hb, f->sc->vms[vm].uuid, &back, &o, &r, &err), 0);
    assert_int_equal(wr.deadline, m0 + (int64_t)(102.4 * S));
    assert_int_equal(f->sc->vms[vm].host, 0);
    hypervisor_free(ha);
    hypervisor_free(hb);
}

static void test_power_cycle_with_delays(void **state)
{
    struct fx *f = *state;
    f->sc->hosts[1].boot_ns = 120 * S;
    f->sc->hosts[1].shutdown_ns = 30 * S;
    struct power *p = NULL;
    struct joule_err err;
    assert_int_equal(power_new(registry_find_power("sim"), &f->cfg->hosts[1], &f->env, &p, &err), 0);
    enum power_hw hw;
    assert_int_equal(power_status(p, &hw, &err), 0);
    assert_int_equal(hw, POWER_HW_ON);
    /* refuses to cut a host that runs a VM */
    struct sim_load l = { .kind = SIM_LOAD_CONST, .a = 0.1 };
    int vm = sim_vm_add(f->sc, "vm1", NULL, 1, 1, 512, &l);
    assert_int_equal(power_off(p, false, &err), JOULE_EBUSY);
    f->sc->vms[vm].host = 0;
    assert_int_equal(power_off(p, false, &err), 0);
    clock_sim_advance(f->cs, 29 * S);
    assert_int_equal(power_status(p, &hw, &err), 0);
    assert_int_equal(hw, POWER_HW_ON);
    clock_sim_advance(f->cs, 2 * S);
    assert_int_equal(power_status(p, &hw, &err), 0);
    assert_int_equal(hw, POWER_HW_OFF);
    assert_float_equal(sim_host_watts(f->sc, 1, clock_now_ns(f->env.clock)), 5.0, 1e-9);
    /* hypervisor unreachable while off */
    struct hypervisor *hb = NULL;
    assert_int_equal(hypervisor_new(registry_find_hypervisor("sim"), &f->cfg->hosts[1], &f->env, &hb, &err), 0);
    assert_int_equal(hypervisor_connect(hb, &err), JOULE_EUNAVAIL);
    assert_int_equal(power_on(p, &err), 0);
    clock_sim_advance(f->cs, 119 * S);
    assert_int_equal(hypervisor_connect(hb, &err), JOULE_EUNAVAIL);
    clock_sim_advance(f->cs, 1 * S);
    assert_int_equal(hypervisor_connect(hb, &err), 0);
    assert_true(hypervisor_alive(hb));
    hypervisor_free(hb);
    power_free(p);
}

static void test_energy_integration(void **state)
{
    struct fx *f = *state;
    struct sim_load l = { .kind = SIM_LOAD_CONST, .a = 1.0 };
    sim_vm_add(f->sc, "vm1", NULL, 0, 4, 512, &l);  /* host a at 100%: 200 W */
    clock_sim_advance(f->cs, 3600 * S);
    sim_cluster_update(f->sc);
    assert_float_equal(f->sc->hosts[0].energy_j, 200.0 * 3600, 1e-6);
    assert_float_equal(f->sc->hosts[1].energy_j, 100.0 * 3600, 1e-6); /* idle */
    /* a shutdown inside a step: idle until it completes, then standby */
    f->sc->hosts[1].shutdown_ns = 600 * S;
    struct joule_err err;
    assert_int_equal(sim_host_power_off(f->sc, 1, false, &err), 0);
    clock_sim_advance(f->cs, 3600 * S);
    sim_cluster_update(f->sc);
    assert_float_equal(f->sc->hosts[1].energy_j, 100.0 * 3600 + 100.0 * 600 + 5.0 * 3000, 1e-6);
}

static void test_meter_readings(void **state)
{
    struct fx *f = *state;
    struct meter *m = NULL;
    struct joule_err err;
    assert_int_equal(meter_new(registry_find_meter("sim"), f->cfg, &f->env, &m, &err), 0);
    assert_int_equal(meter_open(m, &err), 0);
    struct meter_reading r[4];
    clock_sim_advance(f->cs, 10 * S);
    assert_int_equal(meter_poll(m, r, 4, 100, &err), 2);
    assert_true(r[0].ieee == 0x0a);
    assert_int_equal(r[1].host, 1);
    assert_float_equal(r[0].watts, 100.0, 1e-9);
    assert_int_equal(meter_poll(m, r, 4, 100, &err), 0); /* same instant: nothing new */
    struct meter_stats st;
    meter_stats(m, &st);
    assert_int_equal(st.frames_ok, 2);
    meter_free(m);
}

static void test_memory_store(void **state)
{
    struct fx *f = *state;
    struct store *s = NULL;
    struct joule_err err;
    assert_int_equal(store_new(registry_find_store("memory"), f->cfg, &f->env, &s, &err), 0);
    assert_int_equal(store_open(s, &err), 0);
    bson_t *d1 = BCON_NEW("_id", BCON_UTF8("x1"), "v", BCON_INT32(1));
    bson_t *d2 = BCON_NEW("_id", BCON_UTF8("x2"), "v", BCON_INT32(2));
    const bson_t *docs[] = { d1, d2, d1 };
    assert_int_equal(store_insert(s, "host_samples", docs, 3, &err), 3);
    assert_int_equal(store_memory_count(s->state, "host_samples"), 2); /* duplicate _id ignored */
    bool held = false;
    assert_int_equal(store_lease(s, "c", "one", 0, 30 * S, &held, &err), 0);
    assert_true(held);
    assert_int_equal(store_lease(s, "c", "two", 10 * S, 30 * S, &held, &err), 0);
    assert_false(held);
    assert_int_equal(store_lease(s, "c", "two", 31 * S, 30 * S, &held, &err), 0);
    assert_true(held); /* expired: taken over */
    bson_destroy(d1);
    bson_destroy(d2);
    store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_registry_valid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hypervisor_sample_and_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_power_cycle_with_delays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_energy_integration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meter_readings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_store, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
