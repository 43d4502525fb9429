/* monitor.c with the sim drivers on a simulated clock: loads into the model, unreachable hosts
 * and their recovery, capacity override, meter readings, documents for the store. */
#include "support/test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "model.h"
#include "monitor.h"
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
    struct model *model;
    struct hypervisor *hv[2];
    struct meter *meter;
    struct store *store;
    struct monitor *mon;
};

static int setup_with(void **state, bool meters)
{
    struct fx *f = xcalloc(1, sizeof *f);
    f->cs = clock_sim_new(1700000000LL * S);
    f->sc = sim_cluster_new(clock_sim_clock(f->cs));
    char *errors = NULL;
    int rc = config_load_string(
        "api = { listen = \"\"; };\ntick_s = 10;\nload_window_s = 30;\n"
        "hosts = ( { name = \"a\"; hypervisor = \"sim\"; meter = \"00:00:00:00:00:00:00:0a\"; idle_w = 100; max_w = 200; },\n"
        "          { name = \"b\"; hypervisor = \"sim\"; cpus = 2; idle_w = 50; max_w = 150; } );",
        &f->cfg, &errors);
    if (rc < 0)
        fail_msg("%s", errors);
    sim_host_add(f->sc, "a", 4, 8192, 100, 200);
    sim_host_add(f->sc, "b", 8, 8192, 50, 150); /* config says 2 cores: the override wins */
    struct sim_load l50 = { .kind = SIM_LOAD_CONST, .a = 0.5 };
    struct sim_load l100 = { .kind = SIM_LOAD_CONST, .a = 1.0 };
    sim_vm_add(f->sc, "v1", NULL, 0, 2, 1024, &l50);  /* 1 core on a */
    sim_vm_add(f->sc, "v2", NULL, 0, 1, 512, &l100);  /* 1 core on a */
    sim_vm_add(f->sc, "v3", NULL, 1, 1, 512, &l50);   /* 0.5 core on b */
    f->env.clock = clock_sim_clock(f->cs);
    f->env.sim = f->sc;
    f->model = model_new(f->cfg);
    struct joule_err err = { 0 };
    for (int h = 0; h < 2; h++)
        assert_int_equal(hypervisor_new(registry_find_hypervisor("sim"), &f->cfg->hosts[h], &f->env,
                                        &f->hv[h], &err), 0);
    if (meters) {
        assert_int_equal(meter_new(registry_find_meter("sim"), f->cfg, &f->env, &f->meter, &err), 0);
        assert_int_equal(meter_open(f->meter, &err), 0);
    }
    assert_int_equal(store_new(registry_find_store("memory"), f->cfg, &f->env, &f->store, &err), 0);
    assert_int_equal(store_open(f->store, &err), 0);
    struct monitor_deps d = { .cfg = f->cfg, .model = f->model, .hv = f->hv, .meter = f->meter,
                              .clock = f->env.clock, .store = f->store };
    assert_int_equal(monitor_new(&d, &f->mon, &err), 0);
    *state = f;
    return 0;
}

static int setup(void **state) { return setup_with(state, false); }
static int setup_meters(void **state) { return setup_with(state, true); }

static int teardown(void **state)
{
    struct fx *f = *state;
    monitor_free(f->mon);
    store_free(f->store);
    meter_free(f->meter);
    for (int h = 0; h < 2; h++)
        hypervisor_free(f->hv[h]);
    model_free(f->model);
    sim_cluster_free(f->sc);
    clock_sim_free(f->cs);
    config_free(f->cfg);
    free(f);
    return 0;
}

static void ticks(struct fx *f, int n, struct monitor_tick_out *o)
{
    struct joule_err err = { 0 };
    for (int i = 0; i < n; i++) {
        clock_sim_advance(f->cs, 10 * S);
        assert_int_equal(monitor_tick(f->mon, o, &err), 0);
    }
}

static void test_loads_into_model(void **state)
{
    struct fx *f = *state;
    struct monitor_tick_out o;
    struct joule_err err = { 0 };
    assert_int_equal(monitor_tick(f->mon, &o, &err), 0);
    assert_int_equal(o.hosts_sampled, 2);
    assert_int_equal(o.hosts_unreachable, 0);
    assert_int_equal(f->model->n_vms, 3);
    assert_true(f->model->hosts[0].reachable);
    assert_int_equal(f->model->hosts[0].state, POWER_STATE_ON);
    ticks(f, 3, &o);
    int64_t now = clock_now_ns(f->env.clock);
    /* a: 2 cores of 4 -> 50 %; b: 0.5 core of the configured 2 (not the sim's 8) -> 25 % */
    assert_float_equal(f->model->hosts[0].cpus, 4, 1e-9);
    assert_float_equal(f->model->hosts[1].cpus, 2, 1e-9);
    assert_float_equal(model_host_load_smoothed(f->model, 0, now), 50, 0.01);
    assert_float_equal(model_host_load_smoothed(f->model, 1, now), 25, 0.01);
    int v1 = model_vm_find(f->model, f->sc->vms[0].uuid);
    assert_true(v1 >= 0);
    assert_float_equal(f->model->vms[v1].cpu_cores, 1.0, 0.01);
    assert_int_equal(f->model->vms[v1].vcpus, 2);
    assert_float_equal(f->model->vms[v1].mem_mib, 1024, 1e-9);
    assert_int_equal(f->model->hosts[0].n_vms, 2);
    /* no meter: watts from the power model, marked as such */
    assert_true(f->model->hosts[0].watts_from_model);
    assert_float_equal(f->model->hosts[0].watts, 150, 0.1);
}

static void test_documents_for_store(void **state)
{
    struct fx *f = *state;
    struct monitor_tick_out o;
    ticks(f, 3, &o);
    assert_int_equal(o.store_rc, 0);
    /* every tick: one document per host (samples and power); VMs of the ticks they were seen */
    assert_int_equal(store_memory_count(f->store->state, "host_samples"), 6);
    assert_int_equal(store_memory_count(f->store->state, "power_samples"), 6);
    assert_int_equal(store_memory_count(f->store->state, "vm_samples"), 9);
    const bson_t *d = store_memory_doc(f->store->state, "host_samples", 4);
    bson_iter_t it;
    assert_true(bson_iter_init_find(&it, d, "host"));
    assert_string_equal(bson_iter_utf8(&it, NULL), "a");
    assert_true(bson_iter_init_find(&it, d, "load_pct"));
    assert_float_equal(bson_iter_double(&it), 50, 0.01);
    assert_true(bson_iter_init_find(&it, d, "n_vms"));
    assert_int_equal(bson_iter_int32(&it), 2);
    assert_true(bson_iter_init_find(&it, d, "reachable"));
    assert_true(bson_iter_bool(&it));
    const bson_t *v = store_memory_doc(f->store->state, "vm_samples", 8);
    assert_true(bson_iter_init_find(&it, v, "cpu_instant_cores"));
    assert_true(bson_iter_double(&it) > 0.4);
    assert_true(bson_iter_init_find(&it, v, "_id"));
    /* power: watts from the power model (no meter), 10 s of it in joules after the first */
    const bson_t *p = store_memory_doc(f->store->state, "power_samples", 4);
    assert_true(bson_iter_init_find(&it, p, "watts"));
    assert_float_equal(bson_iter_double(&it), 150, 0.1);
    assert_true(bson_iter_init_find(&it, p, "joules"));
    assert_float_equal(bson_iter_double(&it), 1500, 1);
}

static void test_unreachable_and_back(void **state)
{
    struct fx *f = *state;
    struct monitor_tick_out o;
    ticks(f, 2, &o);
    f->sc->hosts[0].reachable = false; /* libvirtd gone */
    ticks(f, 1, &o);
    assert_int_equal(o.hosts_unreachable, 1);
    assert_int_equal(o.hosts_sampled, 1);
    assert_false(f->model->hosts[0].reachable);
    assert_true(f->model->hosts[1].reachable);
    /* the VMs keep their last known place while the host cannot be seen */
    int v2 = model_vm_find(f->model, f->sc->vms[1].uuid);
    assert_int_equal(f->model->vms[v2].host, 0);
    int64_t seen = f->model->vms[v2].last_seen_ns;
    ticks(f, 2, &o);
    assert_int_equal(f->model->vms[v2].last_seen_ns, seen);
    /* host documents still say it is unreachable */
    size_t n = store_memory_count(f->store->state, "host_samples");
    const bson_t *d = store_memory_doc(f->store->state, "host_samples", n - 2);
    bson_iter_t it;
    assert_true(bson_iter_init_find(&it, d, "reachable"));
    assert_false(bson_iter_bool(&it));
    f->sc->hosts[0].reachable = true;
    ticks(f, 1, &o);
    assert_int_equal(o.hosts_unreachable, 0);
    assert_true(f->model->hosts[0].reachable);
    assert_true(f->model->vms[v2].last_seen_ns > seen);
    /* the first sample after the gap is a new baseline: the load returns on the next tick */
    ticks(f, 1, &o);
    assert_float_equal(f->model->vms[v2].cpu_cores, 1.0, 0.01);
}

static void test_migration_resets_baseline(void **state)
{
    struct fx *f = *state;
    struct monitor_tick_out o;
    ticks(f, 2, &o);
    int64_t dur = 0;
    struct joule_err err = { 0 };
    assert_int_equal(sim_vm_migrate(f->sc, 1, 1, &dur, &err), 0); /* v2 a -> b, behind our back */
    ticks(f, 1, &o);
    int v2 = model_vm_find(f->model, f->sc->vms[1].uuid);
    assert_int_equal(f->model->vms[v2].host, 1);
    assert_int_equal(f->model->hosts[0].n_vms, 1);
    assert_int_equal(f->model->hosts[1].n_vms, 2);
    ticks(f, 1, &o);
    assert_float_equal(f->model->vms[v2].cpu_cores, 1.0, 0.01);
    assert_float_equal(f->model->hosts[1].load_pct, 75, 0.01); /* 1.5 of 2 cores */
}

static void test_meter_watts(void **state)
{
    struct fx *f = *state;
    struct monitor_tick_out o;
    ticks(f, 2, &o);
    /* host a has a meter: real (sim) watts, not the model's estimate; b has none */
    assert_false(f->model->hosts[0].watts_from_model);
    assert_float_equal(f->model->hosts[0].watts, sim_host_watts(f->sc, 0, clock_now_ns(f->env.clock)),
                       1.0);
    assert_true(f->model->hosts[1].watts_from_model);
}

static void test_bad_deps(void **state)
{
    struct fx *f = *state;
    struct monitor *m = NULL;
    struct joule_err err = { 0 };
    struct monitor_deps d = { .cfg = f->cfg, .model = f->model, .hv = NULL, .clock = f->env.clock };
    assert_int_equal(monitor_new(&d, &m, &err), JOULE_EINVAL);
    assert_null(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_loads_into_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_documents_for_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreachable_and_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_resets_baseline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meter_watts, setup_meters, teardown),
        cmocka_unit_test_setup_teardown(test_bad_deps, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
