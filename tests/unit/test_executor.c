/* executor.c: synchronous mode on the sim cluster (success, refusal, timeout, power actions
 * without a power controller, validation, stale plans), and threaded mode on a gated fake
 * hypervisor whose migrations block until the test releases them (bounded concurrency in all and
 * per source, failure stops the rest, abort). No sleeps: the test waits on condition variables
 * and on the executor's eventfd. */
#include "support/test_support.h"

#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "executor.h"
#include "model.h"
#include "monitor.h"
#include "power.h"
#include "registry.h"
#include "sim_cluster.h"
#include "util/xalloc.h"

#define S JOULE_NS_PER_S

/* ---------------------------------------------------------------- gated fake hypervisor */

#define GATE_VMS 8
#define GATE_HOSTS 3

struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char uuid[GATE_VMS][JOULE_UUID_STRLEN];
    int host[GATE_VMS];
    size_t n_vms;
    bool released[GATE_VMS];
    bool fail[GATE_VMS];
    bool aborted[GATE_VMS];
    int running, max_running;
    int running_from[GATE_HOSTS], max_from[GATE_HOSTS];
    int entered;
};

struct gate_host {
    struct gate *g;
    int idx;
};

static int gate_vm(struct gate *g, const char *uuid)
{
    for (size_t i = 0; i < g->n_vms; i++)
        if (strcmp(g->uuid[i], uuid) == 0)
            return (int)i;
    return -1;
}

static int gate_connect(void *st, struct joule_err *err) { (void)st; (void)err; return 0; }
static bool gate_alive(void *st) { (void)st; return true; }
static void gate_destroy(void *st) { (void)st; }

static int gate_sample(void *st, struct hv_sample *out, struct joule_err *err)
{
    (void)err;
    struct gate_host *gh = st;
    struct gate *g = gh->g;
    hv_sample_clear(out);
    pthread_mutex_lock(&g->mu);
    out->t_ns = out->mono_ns = 1;
    out->cpus = 4;
    out->mem_kib = 8u << 20;
    for (size_t i = 0; i < g->n_vms; i++) {
        if (g->host[i] != gh->idx)
            continue;
        struct hv_vm_sample *v = hv_sample_add_vm(out);
        memcpy(v->uuid, g->uuid[i], sizeof v->uuid);
        v->name = xasprintf("v%zu", i);
        v->state = HV_VM_RUNNING;
        v->vcpus = 1;
        v->mem_kib = 512 * 1024;
    }
    pthread_mutex_unlock(&g->mu);
    return 0;
}

static int gate_migrate(void *st, const char *uuid, const struct hv_migrate_dest *dest,
                        const struct hv_migrate_opts *opts, struct hv_migrate_result *res,
                        struct joule_err *err)
{
    (void)opts;
    struct gate_host *gh = st;
    struct gate *g = gh->g;
    const struct gate_host *dh = dest->state;
    memset(res, 0, sizeof *res);
    res->downtime_ns = -1;
    pthread_mutex_lock(&g->mu);
    int vm = gate_vm(g, uuid);
    g->running++;
    g->running_from[gh->idx]++;
    if (g->running > g->max_running)
        g->max_running = g->running;
    if (g->running_from[gh->idx] > g->max_from[gh->idx])
        g->max_from[gh->idx] = g->running_from[gh->idx];
    g->entered++;
    pthread_cond_broadcast(&g->cv);
    while (!g->released[vm] && !g->aborted[vm])
        pthread_cond_wait(&g->cv, &g->mu);
    g->running--;
    g->running_from[gh->idx]--;
    int rc = 0;
    if (g->aborted[vm]) {
        res->aborted = true;
        rc = joule_err_set(err, JOULE_ETIMEDOUT, "migrate %s: aborted", uuid);
    } else if (g->fail[vm]) {
        rc = joule_err_set(err, JOULE_EIO, "migrate %s: destination refused", uuid);
    } else {
        g->host[vm] = dh->idx;
        res->bytes = 512u << 20;
    }
    pthread_mutex_unlock(&g->mu);
    return rc;
}

static int gate_abort(void *st, const char *uuid, struct joule_err *err)
{
    (void)err;
    struct gate *g = ((struct gate_host *)st)->g;
    pthread_mutex_lock(&g->mu);
    int vm = gate_vm(g, uuid);
    if (vm >= 0)
        g->aborted[vm] = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    return 0;
}

static const struct hypervisor_ops gate_ops = {
    .abi = JOULE_DRIVER_ABI, .name = "gate", .connect = gate_connect, .alive = gate_alive,
    .sample = gate_sample, .migrate = gate_migrate, .abort_migration = gate_abort,
    .destroy = gate_destroy,
};

static void gate_release(struct gate *g, int vm)
{
    pthread_mutex_lock(&g->mu);
    g->released[vm] = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* Blocks until n migrate calls have entered the fake (a condition, not a sleep). */
static void gate_wait_entered(struct gate *g, int n)
{
    pthread_mutex_lock(&g->mu);
    while (g->entered < n)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

/* ---------------------------------------------------------------- fixtures */

struct fx {
    struct clock_sim *cs;
    struct config *cfg;
    struct drv_env env;
    struct model *model;
    struct hypervisor *hv[GATE_HOSTS];
    struct monitor *mon;
    struct executor *ex;
    struct sim_cluster *sc;   /* sim fixtures */
    struct power_ctl *pc;     /* power fixtures */
    struct gate g;            /* gate fixtures */
    struct gate_host gh[GATE_HOSTS];
};

static const char *const CFG =
    "api = { listen = \"\"; };\n"
    "migration = { in_flight = 2; per_source = 1; timeout_s = 30; };\n"
    "pinned_vms = [ \"pinned\" ];\n"
    "hosts = ( { name = \"h0\"; hypervisor = \"sim\"; boot_s = 60; shutdown_s = 30; power = { methods = [ \"sim\" ]; }; },\n"
    "          { name = \"h1\"; hypervisor = \"sim\"; boot_s = 60; shutdown_s = 30; power = { methods = [ \"sim\" ]; }; },\n"
    "          { name = \"h2\"; hypervisor = \"sim\"; excluded = false; power = { methods = [ \"sim\" ]; }; } );";

static void common(struct fx *f)
{
    f->cs = clock_sim_new(1700000000LL * S);
    char *errors = NULL;
    if (config_load_string(CFG, &f->cfg, &errors) < 0)
        fail_msg("%s", errors);
    f->env.clock = clock_sim_clock(f->cs);
    f->model = model_new(f->cfg);
}

static void build_rest(struct fx *f, bool synchronous)
{
    struct joule_err err = { 0 };
    if (f->sc) {
        assert_int_equal(power_ctl_new(f->cfg, &f->env, &f->pc, &err), 0);
        power_ctl_set_inline(f->pc, true);
    }
    struct monitor_deps md = { .cfg = f->cfg, .model = f->model, .hv = f->hv, .clock = f->env.clock };
    assert_int_equal(monitor_new(&md, &f->mon, &err), 0);
    struct executor_deps xd = { .cfg = f->cfg, .model = f->model, .hv = f->hv,
                                .clock = f->env.clock, .synchronous = synchronous };
    xd.power = NULL; /* tests that need it use with_power() */
    assert_int_equal(executor_new(&xd, &f->ex, &err), 0);
}

static void tick(struct fx *f)
{
    struct joule_err err = { 0 };
    struct monitor_tick_out o;
    clock_sim_advance(f->cs, 10 * S);
    assert_int_equal(monitor_tick(f->mon, &o, &err), 0);
}

static int setup_sim(void **state)
{
    struct fx *f = xcalloc(1, sizeof *f);
    common(f);
    f->sc = sim_cluster_new(f->env.clock);
    f->env.sim = f->sc;
    for (int h = 0; h < 3; h++) {
        sim_host_add(f->sc, f->cfg->hosts[h].name, 4, 8192, 100, 200);
        struct joule_err err = { 0 };
        assert_int_equal(hypervisor_new(registry_find_hypervisor("sim"), &f->cfg->hosts[h],
                                        &f->env, &f->hv[h], &err), 0);
    }
    struct sim_load l = { .kind = SIM_LOAD_CONST, .a = 0.5 };
    sim_vm_add(f->sc, "v0", NULL, 0, 1, 512, &l);
    sim_vm_add(f->sc, "v1", NULL, 0, 1, 512, &l);
    sim_vm_add(f->sc, "big", NULL, 1, 1, 6000, &l);    /* 60 s at 100 MiB/s: beyond the timeout */
    sim_vm_add(f->sc, "pinned", NULL, 1, 1, 256, &l);
    build_rest(f, true);
    tick(f);
    tick(f);
    *state = f;
    return 0;
}

static int setup_gate(void **state)
{
    struct fx *f = xcalloc(1, sizeof *f);
    common(f);
    pthread_mutex_init(&f->g.mu, NULL);
    pthread_cond_init(&f->g.cv, NULL);
    static const int hosts[] = { 0, 0, 1, 1 };
    for (int i = 0; i < 4; i++) {
        snprintf(f->g.uuid[i], JOULE_UUID_STRLEN, "00000000-0000-4000-8000-00000000000%d", i);
        f->g.host[i] = hosts[i];
    }
    f->g.n_vms = 4;
    for (int h = 0; h < GATE_HOSTS; h++) {
        f->gh[h].g = &f->g;
        f->gh[h].idx = h;
        struct hypervisor *hv = xcalloc(1, sizeof *hv);
        hv->ops = &gate_ops;
        hv->state = &f->gh[h];
        hv->id = xstrdup(f->cfg->hosts[h].name);
        f->hv[h] = hv;
    }
    build_rest(f, false);
    tick(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    executor_free(f->ex);
    power_ctl_free(f->pc);
    monitor_free(f->mon);
    for (int h = 0; h < GATE_HOSTS; h++)
        hypervisor_free(f->hv[h]);
    model_free(f->model);
    sim_cluster_free(f->sc);
    if (!f->sc) {
        pthread_mutex_destroy(&f->g.mu);
        pthread_cond_destroy(&f->g.cv);
    }
    clock_sim_free(f->cs);
    config_free(f->cfg);
    free(f);
    return 0;
}

/* Adds a migration of the VM named `name` (looked up in `snap`). */
static void add_mig(struct plan *p, const struct model_snapshot *snap, const char *name, int to)
{
    for (size_t i = 0; i < snap->n_vms; i++) {
        if (strcmp(snap->vms[i].name, name) == 0) {
            struct plan_action *a = plan_add(p, PLAN_ACTION_MIGRATE, PLAN_REASON_BALANCE);
            a->vm = (int)i;
            a->from = snap->vms[i].host;
            a->to = to;
            return;
        }
    }
    fail_msg("no VM %s in the snapshot", name);
}

static int vm_host(const struct fx *f, const char *name)
{
    for (size_t i = 0; i < f->model->n_vms; i++)
        if (strcmp(f->model->vms[i].name, name) == 0)
            return f->model->vms[i].host;
    return -2;
}

static const struct model_vm *vm_get(const struct fx *f, const char *name)
{
    for (size_t i = 0; i < f->model->n_vms; i++)
        if (strcmp(f->model->vms[i].name, name) == 0)
            return &f->model->vms[i];
    fail_msg("no VM %s", name);
    return NULL;
}

/* ---------------------------------------------------------------- synchronous (sim) */

static void test_sync_success(void **state)
{
    struct fx *f = *state;
    struct model_snapshot snap;
    model_snapshot_build(f->model, clock_now_ns(f->env.clock), &snap);
    struct plan p;
    plan_init(&p);
    add_mig(&p, &snap, "v0", 2);
    add_mig(&p, &snap, "v1", 1);
    struct joule_err err = { 0 };
    assert_int_equal(executor_start(f->ex, &p, &snap, "plan-1", &err), 0);
    assert_true(executor_busy(f->ex));
    assert_int_equal(executor_fd(f->ex), -1);
    assert_int_equal(executor_poll(f->ex), 0);
    assert_false(executor_busy(f->ex));
    struct executor_outcome oc;
    executor_outcome(f->ex, &oc);
    assert_true(oc.finished);
    assert_false(oc.failed);
    assert_int_equal(oc.migrations_ok, 2);
    /* really moved (sim), and the model follows with the cooldown started */
    assert_int_equal(f->sc->vms[0].host, 2);
    assert_int_equal(f->sc->vms[1].host, 1);
    assert_int_equal(vm_host(f, "v0"), 2);
    assert_int_equal(vm_get(f, "v0")->last_move_ns, clock_now_ns(f->env.clock));
    assert_false(vm_get(f, "v0")->migrating);
    assert_int_equal(f->model->hosts[0].n_vms, 0);
    struct migration_record r[4];
    assert_int_equal(executor_take_records(f->ex, r, 4), 2);
    assert_true(r[0].ok);
    assert_string_equal(r[0].plan_id, "plan-1");
    assert_string_equal(r[0].vm_name, "v0");
    assert_string_equal(r[0].from, "h0");
    assert_string_equal(r[0].to, "h2");
    assert_string_equal(r[0].reason, "balance");
    assert_int_equal(r[0].end_ns - r[0].start_ns, (int64_t)(5.12 * S));
    assert_string_equal(r[0].error, "");
    assert_int_equal(executor_take_records(f->ex, r, 4), 0);
    /* the monitor agrees on the next tick */
    tick(f);
    assert_int_equal(vm_host(f, "v0"), 2);
    model_snapshot_free(&snap);
    plan_free(&p);
}

static void test_sync_refused_stops_plan(void **state)
{
    struct fx *f = *state;
    f->sc->hosts[2].refuse_migrations = true;
    struct model_snapshot snap;
    model_snapshot_build(f->model, clock_now_ns(f->env.clock), &snap);
    struct plan p;
    plan_init(&p);
    add_mig(&p, &snap, "v0", 2);
    add_mig(&p, &snap, "v1", 1); /* would work, but comes after a failure */
    struct joule_err err = { 0 };
    assert_int_equal(executor_start(f->ex, &p, &snap, "plan-2", &err), 0);
    executor_poll(f->ex);
    struct executor_outcome oc;
    executor_outcome(f->ex, &oc);
    assert_true(oc.failed);
    assert_int_equal(oc.migrations_failed, 1);
    assert_int_equal(oc.migrations_skipped, 1);
    assert_non_null(strstr(oc.error, "refused"));
    assert_int_equal(f->sc->vms[0].host, 0);
    assert_int_equal(f->sc->vms[1].host, 0);
    assert_int_equal(vm_host(f, "v0"), 0);
    assert_int_equal(vm_get(f, "v0")->last_move_ns, SNAP_NEVER);
    struct migration_record r[4];
    assert_int_equal(executor_take_records(f->ex, r, 4), 1);
    assert_false(r[0].ok);
    assert_false(r[0].aborted);
    assert_non_null(strstr(r[0].error, "refused"));
    model_snapshot_free(&snap);
    plan_free(&p);
}

static void test_sync_timeout_aborts(void **state)
{
    struct fx *f = *state;
    struct model_snapshot snap;
    model_snapshot_build(f->model, clock_now_ns(f->env.clock), &snap);
    struct plan p;
    plan_init(&p);
    add_mig(&p, &snap, "big", 0);
    struct joule_err err = { 0 };
    assert_int_equal(executor_start(f->ex, &p, &snap, "plan-3", &err), 0);
    executor_poll(f->ex);
    struct migration_record r[2];
    assert_int_equal(executor_take_records(f->ex, r, 2), 1);
    assert_false(r[0].ok);
    assert_true(r[0].aborted);
    assert_int_equal(r[0].end_ns - r[0].start_ns, 30 * S);
    assert_int_equal(f->sc->vms[2].host, 1);
    assert_int_equal(vm_host(f, "big"), 1);
    model_snapshot_free(&snap);
    plan_free(&p);
}

static void test_sync_power_without_controller(void **state)
{
    struct fx *f = *state;
    struct model_snapshot snap;
    model_snapshot_build(f->model, clock_now_ns(f->env.clock), &snap);
    struct plan p;
    plan_init(&p);
    add_mig(&p, &snap, "v0", 1);
    add_mig(&p, &snap, "v1", 1);
    plan_add(&p, PLAN_ACTION_POWER_OFF, PLAN_REASON_TH2_CONSOLIDATE)->host = 0;
    struct joule_err err = { 0 };
    assert_int_equal(executor_start(f->ex, &p, &snap, "plan-4", &err), 0);
    executor_poll(f->ex);
    struct executor_outcome oc;
    executor_outcome(f->ex, &oc);
    assert_int_equal(oc.migrations_ok, 2);     /* the migrations are valid on their own */
    assert_true(oc.failed);
    assert_int_equal(oc.power_failed, 1);
    assert_int_equal(oc.power_requested, 0);
    assert_non_null(strstr(oc.error, "no power control"));
    assert_int_equal(f->sc->hosts[0].power, SIM_POWER_ON);
    model_snapshot_free(&snap);
    plan_free(&p);
}

static void test_start_validation(void **state)
{
    struct fx *f = *state;
    struct model_snapshot snap;
    model_snapshot_build(f->model, clock_now_ns(f->env.clock), &snap);
    struct plan p;
    plan_init(&p);
    struct joule_err err = { 0 };
    /* a pinned VM is never migrated */
    add_mig(&p, &snap, "pinned", 0);
    assert_int_equal(executor_start(f->ex, &p, &snap, "bad", &err), JOULE_EPERM);
    assert_false(executor_busy(f->ex));
    plan_clear(&p);
    /* bad indices */
    struct plan_action *a = plan_add(&p, PLAN_ACTION_MIGRATE, PLAN_REASON_BALANCE);
    a->vm = 99;
    a->from = 0;
    a->to = 1;
    assert_int_equal(executor_start(f->ex, &p, &snap, "bad", &err), JOULE_EINVAL);
    plan_clear(&p);
    add_mig(&p, &snap, "v0", 0); /* to its own host */
    assert_int_equal(executor_start(f->ex, &p, &snap, "bad", &err), JOULE_EINVAL);
    plan_clear(&p);
    plan_add(&p, PLAN_ACTION_POWER_ON, PLAN_REASON_TH1_WAKE)->host = 7;
    assert_int_equal(executor_start(f->ex, &p, &snap, "bad", &err), JOULE_EINVAL);
    /* nothing moved */
    assert_int_equal(f->sc->migrations, 0);
    /* busy */
    plan_clear(&p);
    add_mig(&p, &snap, "v0", 1);
    assert_int_equal(executor_start(f->ex, &p, &snap, "ok", &err), 0);
    assert_int_equal(executor_start(f->ex, &p, &snap, "again", &err), JOULE_EBUSY);
    executor_poll(f->ex);
    assert_false(executor_busy(f->ex));
    model_snapshot_free(&snap);
    plan_free(&p);
}

static void test_stale_plan(void **state)
{
    struct fx *f = *state;
    struct model_snapshot snap;
    model_snapshot_build(f->model, clock_now_ns(f->env.clock), &snap);
    struct plan p;
    plan_init(&p);
    add_mig(&p, &snap, "v0", 2);
    /* v0 moves elsewhere before the plan runs */
    int64_t dur;
    struct joule_err err = { 0 };
    assert_int_equal(sim_vm_migrate(f->sc, 0, 1, &dur, &err), 0);
    tick(f);
    assert_int_equal(executor_start(f->ex, &p, &snap, "stale", &err), 0);
    executor_poll(f->ex);
    struct executor_outcome oc;
    executor_outcome(f->ex, &oc);
    assert_true(oc.failed);
    assert_non_null(strstr(oc.error, "stale plan"));
    assert_int_equal(f->sc->vms[0].host, 1);
    model_snapshot_free(&snap);
    plan_free(&p);
}

/* ---------------------------------------------------------------- with the power state machine */

/* What the loop gives the power state machine each tick: the model's view. */
static void power_step(struct fx *f)
{
    struct power_facts facts[3];
    for (size_t h = 0; h < 3; h++) {
        memset(&facts[h], 0, sizeof facts[h]);
        facts[h].libvirt_reachable = f->model->hosts[h].reachable;
        facts[h].n_vms = f->model->hosts[h].n_vms;
    }
    power_ctl_step(f->pc, clock_mono_ns(f->env.clock), facts, 3);
}

/* Rebuilds the executor with the power controller, after the hosts were seen on. */
static void with_power(struct fx *f)
{
    for (int i = 0; i < 3; i++) {
        power_step(f);
        tick(f);
    }
    for (int h = 0; h < 3; h++)
        assert_int_equal(power_ctl_state(f->pc, h), POWER_STATE_ON);
    executor_free(f->ex);
    struct joule_err err = { 0 };
    struct executor_deps xd = { .cfg = f->cfg, .model = f->model, .hv = f->hv, .power = f->pc,
                                .clock = f->env.clock, .synchronous = true };
    assert_int_equal(executor_new(&xd, &f->ex, &err), 0);
}

static void test_power_off_after_drain(void **state)
{
    struct fx *f = *state;
    with_power(f);
    struct model_snapshot snap;
    model_snapshot_build(f->model, clock_now_ns(f->env.clock), &snap);
    struct plan p;
    plan_init(&p);
    add_mig(&p, &snap, "v0", 2);
    add_mig(&p, &snap, "v1", 2);
    plan_add(&p, PLAN_ACTION_POWER_OFF, PLAN_REASON_TH2_CONSOLIDATE)->host = 0;
    struct joule_err err = { 0 };
    assert_int_equal(executor_start(f->ex, &p, &snap, "drain", &err), 0);
    assert_int_equal(power_ctl_state(f->pc, 0), POWER_STATE_DRAINING);
    executor_poll(f->ex);
    struct executor_outcome oc;
    executor_outcome(f->ex, &oc);
    assert_false(oc.failed);
    assert_int_equal(oc.migrations_ok, 2);
    assert_int_equal(oc.power_requested, 1);
    assert_int_equal(f->model->hosts[0].n_vms, 0);
    /* the state machine carries it out on its own ticks */
    for (int i = 0; i < 10 && power_ctl_state(f->pc, 0) != POWER_STATE_OFF; i++) {
        power_step(f);
        tick(f);
    }
    assert_int_equal(power_ctl_state(f->pc, 0), POWER_STATE_OFF);
    assert_int_equal(f->sc->hosts[0].power, SIM_POWER_OFF);
    assert_int_equal(f->sc->hosts[2].power, SIM_POWER_ON);
    model_snapshot_free(&snap);
    plan_free(&p);
}

/* A plan that wakes a host and also moves a VM onto it: the wake is requested at once (before
 * any migration), the move onto the still-off host is deferred to a later round (not a
 * failure), and the rest of the plan runs. */
static void test_wake_first_moves_onto_waking_host_deferred(void **state)
{
    struct fx *f = *state;
    with_power(f);
    struct joule_err err = { 0 };
    struct model_snapshot snap;
    struct plan p;
    /* h2 is empty: switch it off first */
    model_snapshot_build(f->model, clock_now_ns(f->env.clock), &snap);
    plan_init(&p);
    plan_add(&p, PLAN_ACTION_POWER_OFF, PLAN_REASON_TH2_CONSOLIDATE)->host = 2;
    assert_int_equal(executor_start(f->ex, &p, &snap, "off", &err), 0);
    executor_poll(f->ex);
    for (int i = 0; i < 10 && power_ctl_state(f->pc, 2) != POWER_STATE_OFF; i++) {
        power_step(f);
        tick(f);
    }
    assert_int_equal(power_ctl_state(f->pc, 2), POWER_STATE_OFF);
    model_snapshot_free(&snap);
    plan_free(&p);

    model_snapshot_build(f->model, clock_now_ns(f->env.clock), &snap);
    plan_init(&p);
    add_mig(&p, &snap, "v0", 2);
    add_mig(&p, &snap, "v1", 1);
    plan_add(&p, PLAN_ACTION_POWER_ON, PLAN_REASON_TH1_WAKE)->host = 2;
    assert_int_equal(executor_start(f->ex, &p, &snap, "wake", &err), 0);
    assert_int_equal(power_ctl_state(f->pc, 2), POWER_STATE_WAKING); /* requested at start */
    executor_poll(f->ex);
    struct executor_outcome oc;
    executor_outcome(f->ex, &oc);
    assert_false(oc.failed);
    assert_int_equal(oc.migrations_ok, 1);
    assert_int_equal(oc.migrations_deferred, 1);
    assert_int_equal(oc.migrations_failed, 0);
    assert_int_equal(oc.power_requested, 1);
    assert_int_equal(vm_host(f, "v0"), 0); /* still on its source */
    assert_int_equal(vm_host(f, "v1"), 1);
    model_snapshot_free(&snap);
    plan_free(&p);
}

static void test_power_off_refused_while_vms_run(void **state)
{
    struct fx *f = *state;
    with_power(f);
    struct model_snapshot snap;
    model_snapshot_build(f->model, clock_now_ns(f->env.clock), &snap);
    struct plan p;
    plan_init(&p);
    plan_add(&p, PLAN_ACTION_POWER_OFF, PLAN_REASON_TH2_CONSOLIDATE)->host = 1; /* runs 2 VMs */
    plan_add(&p, PLAN_ACTION_POWER_OFF, PLAN_REASON_TH2_CONSOLIDATE)->host = 2; /* after a failure: not done */
    struct joule_err err = { 0 };
    assert_int_equal(executor_start(f->ex, &p, &snap, "unsafe", &err), 0);
    executor_poll(f->ex);
    struct executor_outcome oc;
    executor_outcome(f->ex, &oc);
    assert_true(oc.failed);
    assert_int_equal(oc.power_failed, 1);
    assert_int_equal(oc.power_requested, 0);
    assert_non_null(strstr(oc.error, "still runs 2 VMs"));
    for (int i = 0; i < 5; i++) {
        power_step(f);
        tick(f);
    }
    assert_int_equal(f->sc->hosts[1].power, SIM_POWER_ON);
    assert_int_equal(f->sc->hosts[2].power, SIM_POWER_ON); /* dropped after the failure */
    /* neither host is left draining: both can be emptied or offered again later */
    assert_int_equal(power_ctl_state(f->pc, 1), POWER_STATE_ON);
    assert_int_equal(power_ctl_state(f->pc, 2), POWER_STATE_ON);
    model_snapshot_free(&snap);
    plan_free(&p);
}

/* ---------------------------------------------------------------- threaded (gate) */

static void wait_fd(struct fx *f)
{
    struct pollfd pfd = { .fd = executor_fd(f->ex), .events = POLLIN };
    assert_int_equal(poll(&pfd, 1, 30000), 1);
}

/* Polls until the executor has collected `n` finished migrations. */
static void collect(struct fx *f, size_t n)
{
    struct executor_outcome oc;
    for (;;) {
        executor_poll(f->ex);
        executor_outcome(f->ex, &oc);
        if (oc.migrations_ok + oc.migrations_failed >= n)
            return;
        wait_fd(f);
    }
}

static void plan_all(struct fx *f, struct plan *p, struct model_snapshot *snap)
{
    model_snapshot_build(f->model, clock_now_ns(f->env.clock), snap);
    plan_init(p);
    add_mig(p, snap, "v0", 2);
    add_mig(p, snap, "v1", 2);
    add_mig(p, snap, "v2", 2);
    add_mig(p, snap, "v3", 2);
}

static void test_threaded_bounded_concurrency(void **state)
{
    struct fx *f = *state;
    struct gate *g = &f->g;
    struct model_snapshot snap;
    struct plan p;
    plan_all(f, &p, &snap);
    struct joule_err err = { 0 };
    assert_int_equal(executor_start(f->ex, &p, &snap, "conc", &err), 0);
    assert_true(executor_fd(f->ex) >= 0);
    /* v0 (h0) and v2 (h1) start; v1 waits for h0 (1 per source), v3 for h1 */
    assert_int_equal(executor_poll(f->ex), 4);
    gate_wait_entered(g, 2);
    assert_true(vm_get(f, "v0")->migrating);
    assert_false(vm_get(f, "v1")->migrating);
    assert_true(executor_host_receiving(f->ex, 2));
    assert_false(executor_host_receiving(f->ex, 0));
    gate_release(g, 0);
    collect(f, 1);
    gate_wait_entered(g, 3); /* v1 started once v0 left h0 */
    assert_true(vm_get(f, "v1")->migrating);
    assert_int_equal(vm_host(f, "v0"), 2);
    gate_release(g, 2);
    collect(f, 2);
    gate_wait_entered(g, 4);
    gate_release(g, 1);
    gate_release(g, 3);
    collect(f, 4);
    executor_poll(f->ex);
    assert_false(executor_busy(f->ex));
    assert_false(executor_host_receiving(f->ex, 2));
    pthread_mutex_lock(&g->mu);
    assert_int_equal(g->max_running, 2);
    assert_int_equal(g->max_from[0], 1);
    assert_int_equal(g->max_from[1], 1);
    pthread_mutex_unlock(&g->mu);
    struct executor_outcome oc;
    executor_outcome(f->ex, &oc);
    assert_int_equal(oc.migrations_ok, 4);
    assert_false(oc.failed);
    for (int i = 0; i < 4; i++) {
        char name[8];
        snprintf(name, sizeof name, "v%d", i);
        assert_int_equal(vm_host(f, name), 2);
        assert_true(vm_get(f, name)->last_move_ns != SNAP_NEVER);
    }
    struct migration_record r[8];
    assert_int_equal(executor_take_records(f->ex, r, 8), 4);
    model_snapshot_free(&snap);
    plan_free(&p);
}

static void test_threaded_failure_drops_rest(void **state)
{
    struct fx *f = *state;
    struct gate *g = &f->g;
    g->fail[0] = true;
    struct model_snapshot snap;
    struct plan p;
    plan_all(f, &p, &snap);
    struct joule_err err = { 0 };
    assert_int_equal(executor_start(f->ex, &p, &snap, "fail", &err), 0);
    executor_poll(f->ex);
    gate_wait_entered(g, 2);
    gate_release(g, 0); /* fails */
    collect(f, 1);
    /* nothing new starts; the one in flight (v2) finishes */
    gate_release(g, 2);
    collect(f, 2);
    executor_poll(f->ex);
    assert_false(executor_busy(f->ex));
    pthread_mutex_lock(&g->mu);
    assert_int_equal(g->entered, 2);
    pthread_mutex_unlock(&g->mu);
    struct executor_outcome oc;
    executor_outcome(f->ex, &oc);
    assert_true(oc.failed);
    assert_int_equal(oc.migrations_failed, 1);
    assert_int_equal(oc.migrations_ok, 1);
    assert_int_equal(oc.migrations_skipped, 2);
    assert_int_equal(vm_host(f, "v0"), 0);  /* stayed */
    assert_int_equal(vm_host(f, "v2"), 2);
    assert_int_equal(vm_host(f, "v1"), 0);
    model_snapshot_free(&snap);
    plan_free(&p);
}

static void test_threaded_abort(void **state)
{
    struct fx *f = *state;
    struct gate *g = &f->g;
    struct model_snapshot snap;
    struct plan p;
    plan_all(f, &p, &snap);
    struct joule_err err = { 0 };
    assert_int_equal(executor_start(f->ex, &p, &snap, "abort", &err), 0);
    executor_poll(f->ex);
    gate_wait_entered(g, 2);
    executor_abort(f->ex); /* SIGTERM: running ones aborted, the rest dropped */
    assert_false(executor_busy(f->ex));
    struct executor_outcome oc;
    executor_outcome(f->ex, &oc);
    assert_true(oc.failed);
    assert_int_equal(oc.migrations_failed, 2);
    assert_int_equal(oc.migrations_skipped, 2);
    struct migration_record r[8];
    assert_int_equal(executor_take_records(f->ex, r, 8), 2);
    assert_true(r[0].aborted && r[1].aborted);
    for (int i = 0; i < 4; i++) {
        char name[8];
        snprintf(name, sizeof name, "v%d", i);
        assert_int_equal(vm_host(f, name), i < 2 ? 0 : 1);
        assert_false(vm_get(f, name)->migrating);
    }
    model_snapshot_free(&snap);
    plan_free(&p);
}

static void test_threaded_executor_timeout(void **state)
{
    struct fx *f = *state;
    struct gate *g = &f->g;
    struct model_snapshot snap;
    struct plan p;
    plan_all(f, &p, &snap);
    struct joule_err err = { 0 };
    assert_int_equal(executor_start(f->ex, &p, &snap, "hang", &err), 0);
    executor_poll(f->ex);
    gate_wait_entered(g, 2);
    /* the fake never aborts by itself: past timeout (30 s) + grace the executor aborts it */
    clock_sim_advance(f->cs, 39 * S);
    executor_poll(f->ex);
    pthread_mutex_lock(&g->mu);
    assert_false(g->aborted[0]);
    pthread_mutex_unlock(&g->mu);
    clock_sim_advance(f->cs, 2 * S);
    collect(f, 2);
    executor_poll(f->ex);
    assert_false(executor_busy(f->ex));
    struct executor_outcome oc;
    executor_outcome(f->ex, &oc);
    assert_true(oc.failed);
    assert_int_equal(oc.migrations_failed, 2);
    assert_int_equal(oc.migrations_skipped, 2);
    struct migration_record r[8];
    assert_int_equal(executor_take_records(f->ex, r, 8), 2);
    assert_true(r[0].aborted && r[1].aborted);
    assert_int_equal(vm_host(f, "v0"), 0);
    assert_int_equal(vm_host(f, "v2"), 1);
    model_snapshot_free(&snap);
    plan_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sync_success, setup_sim, teardown),
        cmocka_unit_test_setup_teardown(test_sync_refused_stops_plan, setup_sim, teardown),
        cmocka_unit_test_setup_teardown(test_sync_timeout_aborts, setup_sim, teardown),
        cmocka_unit_test_setup_teardown(test_sync_power_without_controller, setup_sim, teardown),
        cmocka_unit_test_setup_teardown(test_start_validation, setup_sim, teardown),
        cmocka_unit_test_setup_teardown(test_stale_plan, setup_sim, teardown),
        cmocka_unit_test_setup_teardown(test_power_off_after_drain, setup_sim, teardown),
        cmocka_unit_test_setup_teardown(test_power_off_refused_while_vms_run, setup_sim, teardown),
        cmocka_unit_test_setup_teardown(test_wake_first_moves_onto_waking_host_deferred, setup_sim,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_threaded_bounded_concurrency, setup_gate, teardown),
        cmocka_unit_test_setup_teardown(test_threaded_failure_drops_rest, setup_gate, teardown),
        cmocka_unit_test_setup_teardown(test_threaded_abort, setup_gate, teardown),
        cmocka_unit_test_setup_teardown(test_threaded_executor_timeout, setup_gate, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
