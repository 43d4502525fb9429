/* replay_exec.c - the executor engine of the replay (see replay_exec.h): the real monitor,
 * model, policy, executor (synchronous) and power state machine (inline) on sim drivers and a
 * simulated clock. Single-threaded and deterministic: the same input gives the same figures. */
#include "replay_exec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "executor.h"
#include "model.h"
#include "monitor.h"
#include "policy_glue.h"
#include "power.h"
#include "registry.h"
#include "sim_cluster.h"
#include "util/xalloc.h"

/* A fixed start (2023-11-14T22:13:20Z): only differences of time matter, and a fixed one
 * keeps plan ids and figures identical from run to run. */
#define RX_EPOCH_NS (1700000000LL * JOULE_NS_PER_S)
#define RX_DEFAULT_VM_MIB 1024
#define RX_UNLIMITED_MIB (1LL << 40)
#define RX_RECORDS 64
#define RX_PDM_STEPS 16           /* trapezoid steps over one migration */
#define RX_LOAD_EPS 1e-9          /* cores: demand above capacity by more is a violation */

struct rx {
    const struct replay_workload *w;
    const struct replay_exec_opts *o;
    struct config cfg;            /* shallow copy of o->cfg with sim drivers */
    struct config_host *hosts;    /* owned copy of the host array (strings borrowed) */
    struct clock_sim *cs;
    const struct clock *ck;
    struct sim_cluster *sc;
    struct drv_env env;
    struct hypervisor **hv;
    struct meter *meter;
    struct model *model;
    struct monitor *mon;
    struct power_ctl *pc;
    struct executor *ex;
    double **load;                /* per VM: trace values scaled to its vCPUs */
    int *vm_sim;                  /* workload VM -> sim VM */
    /* accounting */
    double t_active, t_viol;      /* host-seconds */
    double req_core_s, over_core_s, mig_loss_core_s;
    int64_t acc_t_ns;
    struct replay_result *out;
    int64_t tick_ns, next_tick_ns, end_ns;
};

void replay_exec_opts_defaults(struct replay_exec_opts *o, const struct config *cfg)
{
    memset(o, 0, sizeof *o);
    o->cfg = cfg;
    policy_cfg_from_config(cfg, &o->policy);
    o->interval_s = 300;
    o->migration_mib_s = 62.5;
    o->migration_degradation = 0.1;
}

static void rx_free(struct rx *x)
{
    executor_free(x->ex);
    power_ctl_free(x->pc);
    monitor_free(x->mon);
    model_free(x->model);
    meter_free(x->meter);
    for (size_t h = 0; x->hv && h < x->cfg.n_hosts; h++)
        hypervisor_free(x->hv[h]);
    free(x->hv);
    sim_cluster_free(x->sc);
    clock_sim_free(x->cs);
    for (size_t h = 0; x->hosts && h < x->cfg.n_hosts; h++)
        free(x->hosts[h].meter);
    free(x->hosts);
    for (size_t v = 0; x->load && v < x->w->n_vms; v++)
        free(x->load[v]);
    free(x->load);
    free(x->vm_sim);
}

static unsigned vm_vcpus(const struct replay_vm *v)
{
    double c = ceil(v->mips);
    return c < 1 ? 1 : (unsigned)c;
}

/* The configuration with every driver replaced by its sim twin. */
static void sim_config(struct rx *x)
{
    const struct config *c = x->o->cfg;
    x->cfg = *c;
    x->hosts = xcalloc(c->n_hosts + 1, sizeof *x->hosts);
    for (size_t i = 0; i < c->n_hosts; i++) {
        struct config_host *h = &x->hosts[i];
        *h = c->hosts[i];
        h->hypervisor = CONFIG_HYPERVISOR_SIM;
        h->methods[0] = CONFIG_POWER_SIM;
        h->n_methods = 1;
        h->meter = xstrdup("sim");
        h->meter_ieee = (uint64_t)i + 1;
    }
    x->cfg.hosts = x->hosts;
    x->cfg.meter.protocol = CONFIG_METER_SIM;
    x->cfg.mode = CONFIG_MODE_AUTO;
}

static int build(struct rx *x, struct joule_err *err)
{
    const struct replay_workload *w = x->w;
    const struct replay_exec_opts *o = x->o;
    int rc;
    sim_config(x);
    x->cs = clock_sim_new(RX_EPOCH_NS);
    x->ck = clock_sim_clock(x->cs);
    x->sc = sim_cluster_new(x->ck);
    x->sc->migration_mibps = o->migration_mib_s;
    x->sc->migrate_blocks = true;
    x->env.clock = x->ck;
    x->env.sim = x->sc;
    for (size_t i = 0; i < x->cfg.n_hosts; i++) {
        const struct config_host *h = &x->hosts[i];
        if (h->cpus <= 0 || h->idle_w < 0 || h->max_w < h->idle_w)
            return joule_err_set(err, JOULE_ECONFIG,
                                 "%s:%d: host %s: replay needs cpus > 0 and 0 <= idle_w <= max_w",
                                 x->cfg.path ? x->cfg.path : "<config>", h->line, h->name);
        int s = sim_host_add(x->sc, h->name, h->cpus,
                             h->memory_mib > 0 ? h->memory_mib : RX_UNLIMITED_MIB, h->idle_w,
                             h->max_w);
        x->sc->hosts[s].boot_ns = h->boot_ns;
        x->sc->hosts[s].shutdown_ns = h->shutdown_ns;
        x->sc->hosts[s].standby_w = 0; /* an off host draws nothing (CloudSim's accounting) */
        x->sc->hosts[s].meter_ieee = h->meter_ieee;
    }
    x->load = xcalloc(w->n_vms + 1, sizeof *x->load);
    x->vm_sim = xcalloc(w->n_vms + 1, sizeof *x->vm_sim);
    for (size_t v = 0; v < w->n_vms; v++) {
        const struct replay_vm *rv = &w->vms[v];
        const char *name = rv->name ? rv->name : "vm";
        for (size_t k = 0; k < v; k++)
            if (w->vms[k].name && rv->name && strcmp(w->vms[k].name, rv->name) == 0)
                return joule_err_set(err, JOULE_EINVAL, "replay: two VMs are named %s", name);
        if (!(rv->mips > 0))
            return joule_err_set(err, JOULE_EINVAL, "replay: VM %s has no size", name);
        unsigned vcpus = vm_vcpus(rv);
        x->load[v] = xcalloc(w->n_samples + 1, sizeof *x->load[v]);
        for (size_t i = 0; i <= w->n_samples; i++)
            x->load[v][i] = rv->util[i] * rv->mips / vcpus;
        struct sim_load l = {
            .kind = SIM_LOAD_TRACE,
            .values = x->load[v],
            .n_values = w->n_samples + 1,
            .start_ns = RX_EPOCH_NS,
            .step_ns = (int64_t)(w->sample_s * 1e9),
        };
        int64_t mem = rv->ram_mib > 0 ? (int64_t)ceil(rv->ram_mib) : RX_DEFAULT_VM_MIB;
        x->vm_sim[v] = sim_vm_add(x->sc, name, NULL, -1, vcpus, mem, &l);
    }
    x->hv = xcalloc(x->cfg.n_hosts + 1, sizeof *x->hv);
    for (size_t h = 0; h < x->cfg.n_hosts; h++)
        if ((rc = hypervisor_new(registry_find_hypervisor("sim"), &x->hosts[h], &x->env, &x->hv[h],
                                 err)) < 0)
            return rc;
    if ((rc = meter_new(registry_find_meter("sim"), &x->cfg, &x->env, &x->meter, err)) < 0 ||
        (rc = meter_open(x->meter, err)) < 0)
        return rc;
    x->model = model_new(&x->cfg);
    struct monitor_deps md = { .cfg = &x->cfg, .model = x->model, .hv = x->hv,
                               .meter = x->meter, .clock = x->ck };
    if ((rc = monitor_new(&md, &x->mon, err)) < 0)
        return rc;
    if ((rc = power_ctl_new(&x->cfg, &x->env, &x->pc, err)) < 0)
        return rc;
    power_ctl_set_inline(x->pc, true);
    struct executor_deps xd = { .cfg = &x->cfg, .model = x->model, .hv = x->hv, .power = x->pc,
                                .clock = x->ck, .synchronous = true };
    return executor_new(&xd, &x->ex, err);
}

/* t=0: the given hosts, else the policy's placement on a cluster of empty hosts. Hosts that
 * get no VM start switched off. */
static int place_initial(struct rx *x, struct replay_result *out, struct joule_err *err)
{
    const struct replay_workload *w = x->w;
    size_t nh = x->cfg.n_hosts;
    struct model_snapshot snap = { 0 };
    snap.now_ns = RX_EPOCH_NS;
    snap.n_hosts = nh;
    snap.hosts = xcalloc(nh + 1, sizeof *snap.hosts);
    snap.vms = xcalloc(w->n_vms + 1, sizeof *snap.vms);
    snap.n_vms = w->n_vms;
    snap.consolidation_allowed = true;
    snap.min_active_hosts = x->cfg.policy.min_active_hosts;
    for (size_t h = 0; h < nh; h++) {
        const struct config_host *ch = &x->hosts[h];
        struct snap_host *sh = &snap.hosts[h];
        sh->name = ch->name;
        sh->cpus = ch->cpus;
        sh->mem_mib = (double)ch->memory_mib;
        sh->state = POWER_STATE_ON;
        sh->idle_w = ch->idle_w;
        sh->max_w = ch->max_w;
        sh->priority = ch->priority;
        sh->excluded = ch->excluded;
        sh->reachable = true;
        sh->off_since_ns = SNAP_NEVER;
        sh->on_since_ns = SNAP_NEVER;
        sh->boot_ns = ch->boot_ns;
    }
    bool any_unplaced = false;
    for (size_t v = 0; v < w->n_vms; v++) {
        struct snap_vm *sv = &snap.vms[v];
        const struct sim_vm *vm = &x->sc->vms[x->vm_sim[v]];
        sv->uuid = vm->uuid;
        sv->name = vm->name;
        sv->host = w->vms[v].initial_host;
        if (sv->host >= (int)nh)
            sv->host = -1;
        any_unplaced |= sv->host < 0;
        sv->vcpus = vm->vcpus;
        sv->mem_mib = (double)vm->mem_mib;
        sv->cpu_cores = w->vms[v].util[0] * w->vms[v].mips;
        sv->cpu_max = w->vms[v].mips;
        sv->last_move_ns = SNAP_NEVER;
        sv->host_seq = v;
    }
    int rc = 0;
    struct plan plan;
    plan_init(&plan);
    if (any_unplaced) {
        struct policy_cfg pc = x->o->policy;
        pc.interval_s = x->o->interval_s;
        pc.migration_mib_s = x->o->migration_mib_s;
        if ((rc = policy_run(&pc, &snap, &plan, err)) < 0)
            goto out;
        for (size_t i = 0; i < plan.n; i++) {
            const struct plan_action *a = &plan.actions[i];
            if (a->kind == PLAN_ACTION_MIGRATE && a->vm >= 0 && (size_t)a->vm < snap.n_vms &&
                snap.vms[a->vm].host < 0 && a->to >= 0 && (size_t)a->to < nh)
                snap.vms[a->vm].host = a->to;
        }
    }
    for (size_t v = 0; v < w->n_vms; v++) {
        x->sc->vms[x->vm_sim[v]].host = snap.vms[v].host;
        out->unplaced_vms += snap.vms[v].host < 0;
    }
    if (out->unplaced_vms) {
        rc = joule_err_set(err, JOULE_EINVAL, "replay: %u of %zu VMs fit on no host at t=0",
                           out->unplaced_vms, w->n_vms);
        goto out;
    }
    for (size_t h = 0; h < nh; h++)
        if (sim_host_vm_count(x->sc, (int)h) == 0)
            x->sc->hosts[h].power = SIM_POWER_OFF;
 out:
    plan_free(&plan);
    free(snap.hosts);
    free(snap.vms);
    return rc;
}

/* The model's power states from the state machine (as the daemon does every tick). */
static void power_sync(struct rx *x)
{
    power_ctl_to_model(x->pc, x->model, clock_now_ns(x->ck), clock_mono_ns(x->ck));
}

static void power_step(struct rx *x, struct replay_result *out)
{
    size_t nh = x->cfg.n_hosts;
    struct power_facts *f = xcalloc(nh + 1, sizeof *f);
    int64_t now = clock_now_ns(x->ck);
    for (size_t h = 0; h < nh; h++) {
        const struct model_host *mh = &x->model->hosts[h];
        f[h].libvirt_reachable = mh->reachable;
        f[h].n_vms = mh->n_vms;
        f[h].receiving_vm = executor_host_receiving(x->ex, (int)h);
        f[h].watts_fresh = !mh->watts_from_model && mh->meter_t_ns != SNAP_NEVER &&
                           now - mh->meter_t_ns <= x->cfg.meter.stale_ns;
        f[h].watts = mh->watts;
    }
    power_ctl_step(x->pc, clock_mono_ns(x->ck), f, nh);
    free(f);
    struct power_action_record r[RX_RECORDS];
    size_t n;
    while ((n = power_ctl_take_records(x->pc, r, RX_RECORDS)) > 0)
        for (size_t i = 0; i < n; i++)
            out->host_shutdowns += r[i].ok && r[i].action == RECORD_POWER_OFF;
    struct event_record e[RX_RECORDS];
    while (power_ctl_take_events(x->pc, e, RX_RECORDS) > 0) {
    }
    power_sync(x);
}

/* SLATAH, requested CPU: the hosts and VMs as they are now, over (acc_t, now]. */
static void account(struct rx *x, struct replay_result *out)
{
    int64_t now = clock_now_ns(x->ck);
    if (now <= x->acc_t_ns)
        return;
    double dt = (double)(now - x->acc_t_ns) / 1e9;
    int64_t mid = x->acc_t_ns + (now - x->acc_t_ns) / 2;
    size_t nh = x->sc->n_hosts;
    double *demand = xcalloc(nh + 1, sizeof *demand);
    for (size_t v = 0; v < x->sc->n_vms; v++) {
        int h = x->sc->vms[v].host;
        if (h < 0)
            continue;
        double c = sim_vm_cores(x->sc, (int)v, mid);
        demand[h] += c;
        x->req_core_s += c * dt;
    }
    unsigned active = 0;
    for (size_t h = 0; h < nh; h++) {
        const struct sim_host *sh = &x->sc->hosts[h];
        if (sh->power != SIM_POWER_ON)
            continue;
        active++;
        x->t_active += dt;
        if (demand[h] > sh->cpus + RX_LOAD_EPS) {
            x->t_viol += dt;
            x->over_core_s += (demand[h] - sh->cpus) * dt;
        }
    }
    if (active > out->max_active_hosts)
        out->max_active_hosts = active;
    free(demand);
    x->acc_t_ns = now;
}

/* Demand of sim VM v integrated over [a, b] (core-seconds). */
static double vm_core_s(const struct rx *x, int v, int64_t a, int64_t b)
{
    if (b <= a)
        return 0;
    double sum = 0, step = (double)(b - a) / RX_PDM_STEPS;
    for (int i = 0; i < RX_PDM_STEPS; i++) {
        int64_t t0 = a + (int64_t)(step * i);
        int64_t t1 = i + 1 == RX_PDM_STEPS ? b : a + (int64_t)(step * (i + 1));
        double c0 = sim_vm_cores(x->sc, v, t0), c1 = sim_vm_cores(x->sc, v, t1);
        sum += (c0 + c1) / 2 * (double)(t1 - t0) / 1e9;
    }
    return sum;
}

/* One tick's work of the daemon's loop: measure, sample, step the power state machine. */
static void tick_work(struct rx *x)
{
    struct monitor_tick_out mo;
    struct joule_err e = { 0 };
    account(x, x->out);
    monitor_tick(x->mon, &mo, &e); /* per-host failures are states, never errors of the tick */
    power_step(x, x->out);
}

/* A migration in flight (sim_cluster.migrate_wait): the ticks up to its end run meanwhile. */
static void migrate_wait(void *arg, int64_t mono_deadline_ns)
{
    struct rx *x = arg;
    int64_t until = RX_EPOCH_NS + mono_deadline_ns;
    while (x->next_tick_ns <= until && x->next_tick_ns < x->end_ns) {
        clock_sim_set(x->cs, x->next_tick_ns);
        tick_work(x);
        x->next_tick_ns += x->tick_ns;
    }
    clock_sim_set(x->cs, until);
}

static int decide(struct rx *x, struct replay_result *out, unsigned *started,
                  struct joule_err *err)
{
    int64_t now = clock_now_ns(x->ck);
    model_record_history(x->model, now);
    struct model_snapshot snap;
    model_snapshot_build(x->model, now, &snap);
    for (size_t h = 0; h < snap.n_hosts; h++)
        model_snapshot_set_receiving(&snap, (int)h, executor_host_receiving(x->ex, (int)h));
    snap.consolidation_allowed = x->cfg.policy.consolidate != CONFIG_CONSOLIDATE_NEVER;
    struct policy_cfg pc = x->o->policy;
    pc.interval_s = x->o->interval_s;
    pc.migration_mib_s = x->o->migration_mib_s;
    struct plan plan, run;
    plan_init(&plan);
    plan_init(&run);
    int rc = policy_run(&pc, &snap, &plan, err);
    if (rc < 0)
        goto out;
    /* the executor migrates first and powers on after: a plan that wakes hosts runs as its
     * power-ons; the moves onto them are planned again once they are on */
    bool wakes = plan_count(&plan, PLAN_ACTION_POWER_ON) > 0;
    for (size_t i = 0; i < plan.n; i++) {
        const struct plan_action *a = &plan.actions[i];
        bool take = wakes ? a->kind == PLAN_ACTION_POWER_ON
                          : a->kind == PLAN_ACTION_MIGRATE || a->kind == PLAN_ACTION_POWER_OFF;
        if (take)
            *plan_add(&run, a->kind, a->reason) = *a;
    }
    if (run.n == 0)
        goto out;
    char id[48];
    snprintf(id, sizeof id, "replay-%u", out->rounds);
    if ((rc = executor_start(x->ex, &run, &snap, id, err)) < 0)
        goto out;
    while (executor_poll(x->ex) > 0 && executor_busy(x->ex)) {
    }
    struct executor_outcome oc;
    executor_outcome(x->ex, &oc);
    out->migrations += oc.migrations_ok;
    out->migrations_failed += oc.migrations_failed;
    out->host_wakes += wakes ? oc.power_requested : 0;
    *started = (unsigned)(oc.migrations_ok + oc.migrations_failed);
    struct migration_record r[RX_RECORDS];
    size_t n;
    while ((n = executor_take_records(x->ex, r, RX_RECORDS)) > 0) {
        for (size_t i = 0; i < n; i++) {
            int v = sim_vm_find(x->sc, r[i].vm_uuid);
            if (v >= 0 && r[i].end_ns > r[i].start_ns)
                x->mig_loss_core_s += x->o->migration_degradation *
                                      vm_core_s(x, v, r[i].start_ns, r[i].end_ns);
        }
    }
 out:
    plan_free(&run);
    plan_free(&plan);
    model_snapshot_free(&snap);
    return rc;
}

int replay_exec_run(const struct replay_workload *w, const struct replay_exec_opts *o,
                    struct replay_result *out, struct joule_err *err)
{
    memset(out, 0, sizeof *out);
    if (!o->cfg || o->cfg->n_hosts == 0)
        return joule_err_set(err, JOULE_EINVAL, "replay: the executor engine needs a config "
                                                "with hosts");
    if (!w->n_vms || !w->n_samples || w->sample_s <= 0)
        return joule_err_set(err, JOULE_EINVAL, "replay: empty workload");
    double tick_s = o->tick_s > 0 ? o->tick_s : (double)o->cfg->tick_ns / 1e9;
    double duration_s = o->duration_s > 0 ? o->duration_s : (double)w->n_samples * w->sample_s;
    if (!(o->interval_s > 0) || !(tick_s > 0) || tick_s > o->interval_s ||
        !(o->migration_mib_s > 0) || o->migration_degradation < 0 ||
        o->migration_degradation >= 1)
        return joule_err_set(err, JOULE_EINVAL,
                             "replay: interval, tick and migration throughput must be > 0, the "
                             "tick at most the interval, the migration degradation in [0, 1)");
    struct rx x = { .w = w, .o = o };
    int rc = build(&x, err);
    if (rc < 0)
        goto out;
    if ((rc = place_initial(&x, out, err)) < 0)
        goto out;
    int64_t interval = (int64_t)(o->interval_s * 1e9);
    int64_t end = RX_EPOCH_NS + (int64_t)(duration_s * 1e9);
    int64_t next_round = RX_EPOCH_NS + interval;
    x.out = out;
    x.tick_ns = (int64_t)(tick_s * 1e9);
    x.end_ns = end;
    x.next_tick_ns = RX_EPOCH_NS;
    x.acc_t_ns = RX_EPOCH_NS;
    x.sc->migrate_wait = migrate_wait;
    x.sc->migrate_wait_arg = &x;
    size_t cap_series = 0;
    while (clock_now_ns(x.ck) <= end) {
        clock_sim_set(x.cs, x.next_tick_ns);
        tick_work(&x);
        x.next_tick_ns += x.tick_ns;
        int64_t now = clock_now_ns(x.ck);
        if (now >= next_round && now < end) {
            unsigned started = 0;
            if ((rc = decide(&x, out, &started, err)) < 0)
                goto out;
            out->rounds++;
            if (o->keep_series) {
                unsigned act = 0;
                double watts = 0;
                for (size_t h = 0; h < x.sc->n_hosts; h++) {
                    act += x.sc->hosts[h].power == SIM_POWER_ON;
                    watts += sim_host_watts(x.sc, (int)h, clock_now_ns(x.ck));
                }
                xgrow((void **)&out->series, &cap_series, out->n_series + 1, sizeof *out->series);
                out->series[out->n_series++] = (struct replay_point){
                    (double)(now - RX_EPOCH_NS) / 1e9, act, watts, started };
            }
            while (next_round <= clock_now_ns(x.ck))
                next_round += interval;
        }
        if (now >= end)
            break;
        /* the ticks during migrations ran already: resume at the next one */
        while (x.next_tick_ns <= clock_now_ns(x.ck))
            x.next_tick_ns += x.tick_ns;
        if (x.next_tick_ns > end)
            x.next_tick_ns = end;
    }
    sim_cluster_update(x.sc);
    double joules = 0;
    for (size_t h = 0; h < x.sc->n_hosts; h++)
        joules += x.sc->hosts[h].energy_j;
    out->energy_kwh = joules / 3.6e6;
    out->slatah = x.t_active > 0 ? x.t_viol / x.t_active : 0;
    out->pdm = x.req_core_s > 0 ? x.mig_loss_core_s / x.req_core_s : 0;
    out->slav = out->slatah * out->pdm;
    out->esv = out->energy_kwh * out->slav;
    out->overall_sla = x.req_core_s > 0 ? x.over_core_s / x.req_core_s : 0;
 out:
    rx_free(&x);
    if (rc < 0)
        replay_result_free(out);
    return rc;
}
