/* daemon.c - jouled's wiring and one pass of the control loop. See daemon.h. */
#include "daemon.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "docs.h"
#include "executor.h"
#include "model.h"
#include "monitor.h"
#include "policy/policy.h"
#include "policy_glue.h"
#include "power.h"
#include "registry.h"
#include "sim_cluster.h"
#include "trigger.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

#define LOG_MODULE "daemon"
#include "util/log.h"

#define RECENT_PLANS 20
#define RECORDS_MAX 64
#define EVENTS_MAX 16
#define SIM_DEFAULT_CPUS 16
#define SIM_DEFAULT_MEM_MIB 65536
#define LEASE_MIN_TTL_NS (30 * JOULE_NS_PER_S)
#define LEASE_TICKS 3
#define HOSTS_DOC_EVERY_TICKS 30
#define RETENTION_EVERY_NS (3600 * JOULE_NS_PER_S)
#define RETENTION_BATCH 5000
#define SIM_SUBSTEP_NS (5 * JOULE_NS_PER_S)

struct daemon {
    struct config *cfg;
    struct config **old_cfgs;  /* earlier configs, still borrowed by drivers / power FSM */
    size_t n_old;
    struct clock_sim *cs;      /* sim run only */
    const struct clock *clock;
    struct sim_cluster *sim;
    struct drv_env env;
    struct hypervisor **hv;
    size_t n_hv;
    struct meter *meter;
    struct store *store;
    bool store_borrowed;
    struct model *model;
    struct monitor *mon;
    struct monitor *mon_sub;   /* sim run: samples between ticks, model only (no store) */
    struct executor *ex;
    struct power_ctl *pc;
    struct trigger *trig;
    struct api *api;
    char *holder;

    bool active;               /* holds the lease */
    bool paused;
    bool manual_pending;
    int64_t sim_end_ns;        /* sim run: wall (simulated) time to stop; 0 = never */
    struct trigger_schedule sched;
    enum power_state *last_state;

    /* the plan the executor is running: it borrows the snapshot until it finishes */
    bool running;
    struct plan run_plan;
    struct model_snapshot run_snap;
    char run_id[64];
    char run_trigger[96];

    bson_t *recent[RECENT_PLANS]; /* newest at (recent_head - 1) */
    size_t recent_head;
    size_t recent_n;

    struct daemon_stats st;
    uint64_t events_by_kind[TRIGGER__COUNT];
    struct log_complaint store_fail;
    struct log_complaint lease_fail;
    int64_t retention_mono;    /* when retention last ran; SNAP_NEVER before */
    int64_t start_mono;        /* first tick; SNAP_NEVER before */
    bool warm;                 /* a whole load window has been sampled */
};

/* ---------------------------------------------------------------- helpers */

static int64_t now_ns(const struct daemon *d) { return clock_now_ns(d->clock); }
static int64_t mono_ns(const struct daemon *d) { return clock_mono_ns(d->clock); }

static int64_t real_mono_ns(void)
{
    return clock_mono_ns(clock_real());
}

static void store_docs(struct daemon *d, const char *coll, bson_t **docs, size_t n)
{
    if (n == 0 || !d->store)
        goto out;
    struct joule_err err = { 0 };
    if (store_insert(d->store, coll, (const bson_t *const *)docs, n, &err) < 0) {
        if (log_complain(&d->store_fail))
            JLOG_ERR("event=store_failed collection=%s error=\"%s\"", coll, err.msg);
    } else {
        unsigned long c = log_release(&d->store_fail);
        if (c)
            JLOG_NOTICE("event=store_recovered failures=%lu", c);
    }
 out:
    for (size_t i = 0; i < n; i++)
        bson_destroy(docs[i]);
}

static void store_one(struct daemon *d, const char *coll, bson_t *doc)
{
    store_docs(d, coll, &doc, 1);
}

static void store_event(struct daemon *d, const char *kind, int host, const char *detail)
{
    struct event_record r;
    memset(&r, 0, sizeof r);
    snprintf(r.kind, sizeof r.kind, "%s", kind);
    r.t_ns = now_ns(d);
    if (host >= 0 && (size_t)host < d->cfg->n_hosts)
        snprintf(r.host, sizeof r.host, "%s", d->cfg->hosts[host].name);
    snprintf(r.detail, sizeof r.detail, "%s", detail);
    store_one(d, DOCS_EVENTS, docs_event(d->cfg->cluster, &r));
}

/* ---------------------------------------------------------------- sim cluster */

static void sim_build(struct daemon *d)
{
    const struct config *cfg = d->cfg;
    int64_t start = cfg->sim.start_ns ? cfg->sim.start_ns : clock_now_ns(clock_real());
    d->cs = clock_sim_new(start);
    d->clock = clock_sim_clock(d->cs);
    d->sim = sim_cluster_new(d->clock);
    d->sim->migration_mibps = cfg->sim.migration_mibps;
    for (size_t i = 0; i < cfg->n_hosts; i++) {
        const struct config_host *ch = &cfg->hosts[i];
        int h = sim_host_add(d->sim, ch->name, ch->cpus > 0 ? ch->cpus : SIM_DEFAULT_CPUS,
                             ch->memory_mib > 0 ? ch->memory_mib : SIM_DEFAULT_MEM_MIB, ch->idle_w,
                             ch->max_w);
        struct sim_host *sh = &d->sim->hosts[h];
        sh->standby_w = ch->standby_w;
        sh->boot_ns = ch->boot_ns;
        sh->shutdown_ns = ch->shutdown_ns;
        sh->meter_ieee = ch->meter_ieee;
    }
    for (size_t i = 0; i < cfg->sim.n_vms; i++) {
        const struct config_sim_vm *v = &cfg->sim.vms[i];
        struct sim_load load = { .kind = SIM_LOAD_DAYNIGHT, .a = v->base, .b = v->amplitude,
                                 .period_ns = v->period_ns, .phase_ns = v->trough_ns };
        sim_vm_add(d->sim, v->name, NULL, config_host_index(cfg, v->host), v->vcpus,
                   v->memory_mib, &load);
    }
    if (cfg->sim.duration_ns > 0)
        d->sim_end_ns = start + cfg->sim.duration_ns;
}

/* ---------------------------------------------------------------- construction */

static const char *meter_driver_name(enum config_meter_protocol p)
{
    switch (p) {
    case CONFIG_METER_XBEE1:
        return "xbee1";
    case CONFIG_METER_XBEE2:
        return "xbee2";
    case CONFIG_METER_ZNP:
        return "znp";
    case CONFIG_METER_SIM:
        return "sim";
    case CONFIG_METER_NONE:
    case CONFIG_METER__COUNT:
        break;
    }
    return NULL;
}

static int build_drivers(struct daemon *d, struct store *borrowed, struct joule_err *err)
{
    const struct config *cfg = d->cfg;
    int rc;
    d->n_hv = cfg->n_hosts;
    d->hv = xcalloc(cfg->n_hosts + 1, sizeof *d->hv);
    for (size_t i = 0; i < cfg->n_hosts; i++) {
        const char *name = cfg->hosts[i].hypervisor == CONFIG_HYPERVISOR_SIM ? "sim" : "libvirt";
        const struct hypervisor_ops *ops = registry_find_hypervisor(name);
        if (!ops)
            return joule_err_set(err, JOULE_ENOTSUP,
                                 "host %s: hypervisor driver \"%s\" is not built in",
                                 cfg->hosts[i].name, name);
        if ((rc = hypervisor_new(ops, &cfg->hosts[i], &d->env, &d->hv[i], err)) < 0)
            return rc;
    }
    const char *mname = meter_driver_name(cfg->meter.protocol);
    if (mname) {
        const struct meter_ops *ops = registry_find_meter(mname);
        if (!ops)
            return joule_err_set(err, JOULE_ENOTSUP, "meter driver \"%s\" is not built in", mname);
        if ((rc = meter_new(ops, cfg, &d->env, &d->meter, err)) < 0)
            return rc;
        struct joule_err oerr = { 0 };
        if (meter_open(d->meter, &oerr) < 0) /* the monitor reopens; power model meanwhile */
            JLOG_WARN("event=meter_open_failed error=\"%s\"", oerr.msg);
    }
    if (borrowed) {
        d->store = borrowed;
        d->store_borrowed = true;
        return 0;
    }
    const char *sname = strcmp(cfg->store.uri, "memory:") == 0 ? "memory" : "mongo";
    const struct store_ops *sops = registry_find_store(sname);
    if (!sops)
        return joule_err_set(err, JOULE_ENOTSUP, "store driver \"%s\" is not built in", sname);
    if ((rc = store_new(sops, cfg, &d->env, &d->store, err)) < 0)
        return rc;
    struct joule_err oerr = { 0 };
    if (store_open(d->store, &oerr) < 0) /* spools until the database is back */
        JLOG_WARN("event=store_open_failed error=\"%s\"", oerr.msg);
    return 0;
}

static int build_loop_parts(struct daemon *d, struct joule_err *err)
{
    int rc;
    struct monitor_deps md = { .cfg = d->cfg, .model = d->model, .hv = d->hv, .meter = d->meter,
                               .clock = d->clock, .store = d->store };
    if ((rc = monitor_new(&md, &d->mon, err)) < 0)
        return rc;
    md.store = NULL;
    if (d->sim && (rc = monitor_new(&md, &d->mon_sub, err)) < 0)
        return rc;
    struct executor_deps ed = { .cfg = d->cfg, .model = d->model, .hv = d->hv, .power = d->pc,
                                .clock = d->clock, .synchronous = d->sim != NULL };
    return executor_new(&ed, &d->ex, err);
}

static int api_action(void *arg, enum api_action a, struct joule_err *err)
{
    struct daemon *d = arg;
    switch (a) {
    case API_ACTION_PAUSE:
        daemon_pause(d, true);
        return 0;
    case API_ACTION_RESUME:
        daemon_pause(d, false);
        return 0;
    case API_ACTION_RUN_ROUND:
        return daemon_request_run(d, false, err);
    case API_ACTION_RUN_CONSOLIDATE:
    case API_ACTION__COUNT:
        break;
    }
    return daemon_request_run(d, true, err);
}

int daemon_new(struct config *cfg, const struct daemon_opts *opts, struct daemon **out,
               struct joule_err *err)
{
    struct daemon *d = xcalloc(1, sizeof *d);
    d->cfg = cfg;
    d->clock = clock_real();
    d->retention_mono = SNAP_NEVER;
    d->start_mono = SNAP_NEVER;
    int rc;
    bool any_sim = false;
    for (size_t i = 0; i < cfg->n_hosts; i++)
        any_sim |= cfg->hosts[i].hypervisor == CONFIG_HYPERVISOR_SIM;
    if (any_sim && !cfg->sim.enabled) {
        rc = joule_err_set(err, JOULE_ECONFIG,
                           "%s: hosts with hypervisor \"sim\" need a sim group (the simulated "
                           "cluster: sim = { vms = ( ... ); };)",
                           cfg->path);
        goto fail;
    }
    if (cfg->n_hosts == 0) {
        rc = joule_err_set(err, JOULE_ECONFIG, "%s: no hosts configured", cfg->path);
        goto fail;
    }
    if (cfg->sim.enabled)
        sim_build(d);
    d->env.clock = d->clock;
    d->env.sim = d->sim;
    if (opts && opts->holder) {
        d->holder = xstrdup(opts->holder);
    } else {
        char hn[256] = "jouled";
        gethostname(hn, sizeof hn - 1);
        hn[sizeof hn - 1] = '\0';
        d->holder = xasprintf("%s:%ld", hn, (long)getpid());
    }
    if ((rc = build_drivers(d, opts ? opts->store : NULL, err)) < 0)
        goto fail;
    d->model = model_new(cfg);
    if ((rc = power_ctl_new(cfg, &d->env, &d->pc, err)) < 0)
        goto fail;
    if (d->sim) /* the sim drivers live on the loop's simulated clock: no worker threads */
        power_ctl_set_inline(d->pc, true);
    if ((rc = build_loop_parts(d, err)) < 0)
        goto fail;
    d->trig = trigger_new(cfg);
    d->last_state = xcalloc(cfg->n_hosts + 1, sizeof *d->last_state);
    plan_init(&d->run_plan);
    if (!(opts && opts->no_api) && cfg->api.listen && cfg->api.listen[0]) {
        struct api_handlers h = { .arg = d, .metrics = daemon_metrics, .status = daemon_status,
                                  .plans = daemon_plans, .action = api_action };
        if ((rc = api_new(cfg->api.listen, cfg->api.token, &h, &d->api, err)) < 0)
            goto fail;
        JLOG_NOTICE("event=api_listening addr=%s port=%u token=%s", cfg->api.listen,
                    api_port(d->api), cfg->api.token ? "yes" : "no");
    }
    JLOG_NOTICE("event=started cluster=%s hosts=%zu mode=%s sim=%s holder=%s", cfg->cluster,
                cfg->n_hosts, config_mode_name(cfg->mode), d->sim ? "yes" : "no", d->holder);
    *out = d;
    return 0;
 fail:
    daemon_free(d);
    return rc;
}

void daemon_free(struct daemon *d)
{
    if (!d)
        return;
    api_free(d->api);
    executor_free(d->ex);
    monitor_free(d->mon);
    monitor_free(d->mon_sub);
    power_ctl_free(d->pc);
    trigger_free(d->trig);
    model_free(d->model);
    for (size_t i = 0; i < d->n_hv; i++)
        hypervisor_free(d->hv[i]);
    free(d->hv);
    meter_free(d->meter);
    if (d->store && !d->store_borrowed) {
        struct joule_err err;
        store_flush(d->store, &err);
        store_free(d->store);
    }
    sim_cluster_free(d->sim);
    clock_sim_free(d->cs);
    plan_free(&d->run_plan);
    model_snapshot_free(&d->run_snap);
    for (size_t i = 0; i < RECENT_PLANS; i++)
        if (d->recent[i])
            bson_destroy(d->recent[i]);
    free(d->last_state);
    free(d->holder);
    for (size_t i = 0; i < d->n_old; i++)
        config_free(d->old_cfgs[i]);
    free(d->old_cfgs);
    config_free(d->cfg);
    free(d);
}

/* ---------------------------------------------------------------- loop steps */

static bool lease_step(struct daemon *d)
{
    int64_t ttl = LEASE_TICKS * d->cfg->tick_ns;
    if (ttl < LEASE_MIN_TTL_NS)
        ttl = LEASE_MIN_TTL_NS;
    bool held = false;
    struct joule_err err = { 0 };
    if (store_lease(d->store, d->cfg->cluster, d->holder, now_ns(d), ttl, &held, &err) < 0) {
        /* the database is away: keep the role we had (a lease holder keeps acting, a standby
         * stays standby) until it answers again */
        if (log_complain(&d->lease_fail))
            JLOG_WARN("event=lease_failed error=\"%s\" keeping=%s", err.msg,
                      d->active ? "active" : "standby");
        return d->active;
    }
    log_release(&d->lease_fail);
    if (held != d->active)
        JLOG_NOTICE("event=%s cluster=%s holder=%s", held ? "active" : "standby", d->cfg->cluster,
                    d->holder);
    d->active = held;
    return held;
}

static void plan_remember(struct daemon *d, bson_t *doc)
{
    size_t i = d->recent_head;
    if (d->recent[i])
        bson_destroy(d->recent[i]);
    d->recent[i] = doc;
    d->recent_head = (i + 1) % RECENT_PLANS;
    if (d->recent_n < RECENT_PLANS)
        d->recent_n++;
}

static void record_migrations(struct daemon *d)
{
    struct migration_record recs[RECORDS_MAX];
    size_t n;
    while ((n = executor_take_records(d->ex, recs, RECORDS_MAX)) > 0) {
        bson_t *docs[RECORDS_MAX];
        for (size_t i = 0; i < n; i++) {
            const struct migration_record *r = &recs[i];
            if (r->ok)
                d->st.migrations_ok++;
            else
                d->st.migrations_failed++;
            JLOG_NOTICE("event=migration vm=%s from=%s to=%s result=%s duration_s=%.1f%s%s%s",
                        r->vm_name, r->from, r->to, r->ok ? "ok" : (r->aborted ? "aborted" : "failed"),
                        (double)(r->end_ns - r->start_ns) / JOULE_NS_PER_S, r->ok ? "" : " error=\"",
                        r->error, r->ok ? "" : "\"");
            docs[i] = docs_migration(d->cfg->cluster, r);
        }
        store_docs(d, DOCS_MIGRATIONS, docs, n);
    }
}

static void finish_plan_if_done(struct daemon *d)
{
    if (!d->running || executor_busy(d->ex))
        return;
    struct executor_outcome oc;
    executor_outcome(d->ex, &oc);
    const char *outcome = oc.failed ? "failed" : "executed";
    bson_t *doc = docs_plan(d->cfg->cluster, d->run_id, d->run_snap.now_ns, d->run_trigger,
                            config_algorithm_name(d->cfg->policy.algorithm),
                            config_mode_name(d->cfg->mode), outcome, &d->run_plan, &d->run_snap);
    if (d->store) {
        /* the plan document is replaced by its final outcome (same _id) */
        bson_t sel = BSON_INITIALIZER;
        BSON_APPEND_UTF8(&sel, "_id", d->run_id);
        struct joule_err err = { 0 };
        if (store_upsert(d->store, DOCS_PLANS, &sel, doc, &err) < 0 && log_complain(&d->store_fail))
            JLOG_ERR("event=store_failed collection=plans error=\"%s\"", err.msg);
        bson_destroy(&sel);
    }
    JLOG_NOTICE("event=plan_done plan=%s outcome=%s migrations_ok=%zu migrations_failed=%zu%s%s%s",
                d->run_id, outcome, oc.migrations_ok, oc.migrations_failed,
                oc.error[0] ? " error=\"" : "", oc.error, oc.error[0] ? "\"" : "");
    plan_remember(d, doc);
    d->running = false;
    plan_clear(&d->run_plan);
    model_snapshot_free(&d->run_snap);
}

void daemon_poll_executor(struct daemon *d)
{
    executor_poll(d->ex);
    record_migrations(d);
    finish_plan_if_done(d);
}

/* One step of the power state machine with what the model knows, and its records stored. */
static void power_fsm_step(struct daemon *d)
{
    size_t n = d->cfg->n_hosts;
    struct power_facts *facts = xcalloc(n + 1, sizeof *facts);
    int64_t now = now_ns(d);
    for (size_t i = 0; i < n; i++) {
        const struct model_host *mh = &d->model->hosts[i];
        facts[i].libvirt_reachable = mh->reachable;
        facts[i].n_vms = mh->n_vms;
        facts[i].watts_fresh = mh->meter_t_ns != SNAP_NEVER && mh->meter_t_ns != 0 &&
                               now - mh->meter_t_ns <= d->cfg->meter.stale_ns;
        facts[i].watts = mh->watts;
    }
    power_ctl_step(d->pc, mono_ns(d), facts, n);
    free(facts);

    struct power_action_record recs[RECORDS_MAX];
    size_t k;
    while ((k = power_ctl_take_records(d->pc, recs, RECORDS_MAX)) > 0) {
        bson_t *docs[RECORDS_MAX];
        for (size_t i = 0; i < k; i++) {
            const struct power_action_record *r = &recs[i];
            bool on = r->action == RECORD_POWER_ON;
            if (!r->ok)
                d->st.power_failed++;
            else if (on)
                d->st.power_on_ok++;
            else
                d->st.power_off_ok++;
            if (r->ok && !on && d->sched.off_peak)
                d->st.power_off_off_peak++;
            if (r->ok && on && d->sched.prewake)
                d->st.power_on_prewake++;
            if (r->ok && on && d->sched.peak)
                d->st.power_on_peak++;
            if (on && r->ok)
                trigger_note_boot(d->trig, config_host_index(d->cfg, r->host), r->end_ns - r->start_ns);
            JLOG_NOTICE("event=power_%s host=%s method=%s result=%s duration_s=%.1f verified_by=%s%s%s%s",
                        on ? "on" : "off", r->host, r->method, r->ok ? "ok" : "failed",
                        (double)(r->end_ns - r->start_ns) / JOULE_NS_PER_S, r->verified_by,
                        r->ok ? "" : " error=\"", r->error, r->ok ? "" : "\"");
            docs[i] = docs_power_action(d->cfg->cluster, r);
        }
        store_docs(d, DOCS_POWER_ACTIONS, docs, k);
    }
    struct event_record evs[RECORDS_MAX];
    while ((k = power_ctl_take_events(d->pc, evs, RECORDS_MAX)) > 0) {
        bson_t *docs[RECORDS_MAX];
        for (size_t i = 0; i < k; i++) {
            JLOG_WARN("event=%s host=%s detail=\"%s\"", evs[i].kind, evs[i].host, evs[i].detail);
            docs[i] = docs_event(d->cfg->cluster, &evs[i]);
        }
        store_docs(d, DOCS_EVENTS, docs, k);
    }

}

/* The model's view of power comes from the state machine. */
static void power_model_sync(struct daemon *d)
{
    size_t n = d->cfg->n_hosts;
    power_ctl_to_model(d->pc, d->model, now_ns(d), mono_ns(d));
    d->st.hosts_on = d->st.hosts_off = 0;
    for (size_t i = 0; i < n; i++) {
        enum power_state s = d->model->hosts[i].state;
        if (s == POWER_STATE_OFF)
            d->st.hosts_off++;
        else if (s == POWER_STATE_ON)
            d->st.hosts_on++;
    }
}

static void hosts_doc_step(struct daemon *d, bool hosts_doc)
{
    /* host_samples, vm_samples and power_samples are the monitor's; the hosts collection
     * (inventory and power state) is kept here, on a change of state or every so often */
    int64_t now = now_ns(d);
    size_t n = d->cfg->n_hosts;
    for (size_t i = 0; i < n && d->store; i++) {
        enum power_state s = d->model->hosts[i].state;
        if (!hosts_doc && s == d->last_state[i])
            continue;
        d->last_state[i] = s;
        bson_t *doc = docs_host(d->cfg->cluster, d->model, (int)i, now);
        bson_t sel = BSON_INITIALIZER;
        bson_iter_t it;
        if (bson_iter_init_find(&it, doc, "_id"))
            bson_append_value(&sel, "_id", 3, bson_iter_value(&it));
        struct joule_err err = { 0 };
        if (store_upsert(d->store, DOCS_HOSTS, &sel, doc, &err) < 0 && log_complain(&d->store_fail))
            JLOG_ERR("event=store_failed collection=hosts error=\"%s\"", err.msg);
        bson_destroy(&sel);
        bson_destroy(doc);
    }
}

/* Deletes samples older than store.retention_days, once an hour, in bounded batches. */
static void retention_step(struct daemon *d)
{
    int64_t mono = mono_ns(d);
    if (d->retention_mono != SNAP_NEVER && mono - d->retention_mono < RETENTION_EVERY_NS)
        return;
    d->retention_mono = mono;
    int64_t before = now_ns(d) - (int64_t)d->cfg->store.retention_days * 86400 * JOULE_NS_PER_S;
    static const char *const colls[] = { DOCS_HOST_SAMPLES, DOCS_VM_SAMPLES, DOCS_POWER_SAMPLES };
    for (size_t i = 0; i < sizeof colls / sizeof colls[0]; i++) {
        struct joule_err err = { 0 };
        int n = store_expire(d->store, colls[i], "t", before, RETENTION_BATCH, &err);
        if (n < 0)
            JLOG_WARN("event=retention_failed collection=%s error=\"%s\"", colls[i], err.msg);
        else if (n > 0)
            JLOG_INFO("event=retention collection=%s deleted=%d", colls[i], n);
    }
}

static const char *trigger_names(const struct trigger_event *ev, size_t n, char *buf, size_t len)
{
    buf[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < n && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? "+" : "", trigger_kind_name(ev[i].kind));
        if (w < 0)
            break;
        used += (size_t)w;
    }
    return buf;
}

/* The model as the policy sees it, with the hosts a migration is flowing to marked receiving. */
static void build_snapshot(struct daemon *d, int64_t now, struct model_snapshot *snap)
{
    model_snapshot_build(d->model, now, snap);
    for (size_t h = 0; h < snap->n_hosts; h++)
        model_snapshot_set_receiving(snap, (int)h, executor_host_receiving(d->ex, (int)h));
}

static void policy_step(struct daemon *d, const struct trigger_event *ev, size_t n_ev,
                        struct model_snapshot *snap)
{
    struct policy_cfg pc;
    policy_cfg_from_config(d->cfg, &pc);
    struct plan plan;
    plan_init(&plan);
    struct joule_err err = { 0 };
    char trig[96];
    trigger_names(ev, n_ev, trig, sizeof trig);
    int64_t now = snap->now_ns;
    pc.interval_s = (double)d->cfg->periodic_ns / JOULE_NS_PER_S;
    /* the policies that look at trends get one demand value per decision */
    if (model_record_history(d->model, now) > 0) {
        model_snapshot_free(snap);
        build_snapshot(d, now, snap);
        trigger_apply(&d->sched, snap);
    }
    if (policy_run(&pc, snap, &plan, &err) < 0) {
        JLOG_ERR("event=policy_failed trigger=%s error=\"%s\"", trig, err.msg);
        store_event(d, "alert", -1, err.msg);
        plan_free(&plan);
        return;
    }
    bool dry = d->cfg->mode == CONFIG_MODE_DRY_RUN;
    char id[64];
    docs_plan_id(d->cfg->cluster, now, id, sizeof id);
    d->st.plans++;
    for (size_t i = 0; i < plan.n; i++) {
        const struct plan_action *a = &plan.actions[i];
        const char *vm = a->vm >= 0 ? snap->vms[a->vm].name : "";
        const char *from = a->from >= 0 ? snap->hosts[a->from].name : "";
        const char *to = a->to >= 0 ? snap->hosts[a->to].name : "";
        const char *host = a->host >= 0 ? snap->hosts[a->host].name : "";
        JLOG_NOTICE("event=plan_action plan=%s mode=%s action=%s reason=%s vm=%s from=%s to=%s "
                    "host=%s gain_w=%.0f detail=\"%s\"",
                    id, config_mode_name(d->cfg->mode), plan_action_kind_name(a->kind),
                    plan_reason_name(a->reason), vm, from, to, host, a->expected_gain_w, a->detail);
        if (a->kind == PLAN_ACTION_ALERT)
            store_event(d, "alert", a->host, a->detail);
    }
    const char *outcome = "empty";
    bool execute = plan.n > 0 && !dry &&
                   (plan_count(&plan, PLAN_ACTION_MIGRATE) + plan_count(&plan, PLAN_ACTION_POWER_ON) +
                    plan_count(&plan, PLAN_ACTION_POWER_OFF)) > 0;
    if (dry && plan.n > 0) {
        outcome = "dry-run";
        d->st.plans_dry_run++;
    } else if (execute) {
        outcome = "started";
    }
    bson_t *doc = docs_plan(d->cfg->cluster, id, now, trig,
                            config_algorithm_name(d->cfg->policy.algorithm),
                            config_mode_name(d->cfg->mode), outcome, &plan, snap);
    store_one(d, DOCS_PLANS, bson_copy(doc));
    if (!execute) {
        if (plan.n > 0)
            JLOG_NOTICE("event=plan plan=%s trigger=%s mode=%s actions=%zu outcome=%s", id, trig,
                        config_mode_name(d->cfg->mode), plan.n, outcome);
        plan_remember(d, doc);
        plan_free(&plan);
        return;
    }
    bson_destroy(doc);
    /* the executor borrows plan and snapshot until it finishes */
    plan_free(&d->run_plan);
    d->run_plan = plan;
    model_snapshot_free(&d->run_snap);
    d->run_snap = *snap;
    memset(snap, 0, sizeof *snap);
    snprintf(d->run_id, sizeof d->run_id, "%s", id);
    snprintf(d->run_trigger, sizeof d->run_trigger, "%s", trig);
    JLOG_NOTICE("event=plan plan=%s trigger=%s mode=auto actions=%zu outcome=started", id, trig,
                d->run_plan.n);
    if (executor_start(d->ex, &d->run_plan, &d->run_snap, d->run_id, &err) < 0) {
        JLOG_ERR("event=executor_refused plan=%s error=\"%s\"", id, err.msg);
        store_event(d, "alert", -1, err.msg);
        plan_clear(&d->run_plan);
        model_snapshot_free(&d->run_snap);
        return;
    }
    d->running = true;
    daemon_poll_executor(d);
}

int daemon_tick(struct daemon *d)
{
    int64_t t0 = real_mono_ns();
    if (d->cs) {
        /* the simulated clock jumps a whole tick; the power state machine still sees it pass
         * in steps no longer than SIM_SUBSTEP_NS, as it would poll a real BMC */
        for (int64_t left = d->cfg->tick_ns; left > 0;) {
            int64_t step = left < SIM_SUBSTEP_NS ? left : SIM_SUBSTEP_NS;
            clock_sim_advance(d->cs, step);
            left -= step;
            if (left > 0 && d->active) {
                struct monitor_tick_out smo;
                struct joule_err serr = { 0 };
                monitor_tick(d->mon_sub, &smo, &serr); /* fresh reachability for the FSM */
                power_fsm_step(d);
                power_model_sync(d);
            }
        }
    }
    int64_t now = now_ns(d);
    d->st.ticks++;

    if (!lease_step(d))
        goto out;

    /* no decision before loads were measured over one whole load window */
    if (d->start_mono == SNAP_NEVER)
        d->start_mono = mono_ns(d);
    if (!d->warm && mono_ns(d) - d->start_mono >= d->cfg->load_window_ns) {
        d->warm = true;
        JLOG_NOTICE("event=warmed_up load_window_s=%.0f",
                    (double)d->cfg->load_window_ns / JOULE_NS_PER_S);
    }
    struct monitor_tick_out mo;
    struct joule_err err = { 0 };
    if (monitor_tick(d->mon, &mo, &err) < 0)
        JLOG_WARN("event=monitor_failed error=\"%s\"", err.msg);

    daemon_poll_executor(d);
    power_fsm_step(d);
    power_model_sync(d);
    hosts_doc_step(d, d->st.ticks % HOSTS_DOC_EVERY_TICKS == 1);
    retention_step(d);

    struct model_snapshot snap;
    build_snapshot(d, now, &snap);
    if (d->manual_pending) {
        d->manual_pending = false;
        trigger_request_manual(d->trig, true);
    }
    struct trigger_event ev[EVENTS_MAX];
    /* triggers start once loads are measured: the first round then runs at once */
    size_t n_ev = d->warm ? trigger_eval(d->trig, &snap, now, mono_ns(d), &d->sched, ev, EVENTS_MAX)
                          : 0;
    trigger_apply(&d->sched, &snap);
    for (size_t i = 0; i < n_ev; i++) {
        d->st.events++;
        d->events_by_kind[ev[i].kind]++;
        if (ev[i].kind != TRIGGER_PERIODIC)
            JLOG_NOTICE("event=trigger kind=%s detail=\"%s\"", trigger_kind_name(ev[i].kind),
                        ev[i].detail);
        store_event(d, trigger_kind_name(ev[i].kind), ev[i].host, ev[i].detail);
    }
    if (n_ev > 0 && !d->paused && !d->running)
        policy_step(d, ev, n_ev, &snap);
    else if (n_ev > 0)
        JLOG_INFO("event=policy_skipped reason=%s", d->paused ? "paused" : "plan_running");
    model_snapshot_free(&snap);

 out:;
    int64_t cost = real_mono_ns() - t0;
    d->st.last_tick_ns = cost;
    d->st.sum_tick_ns += cost;
    if (cost > d->st.max_tick_ns)
        d->st.max_tick_ns = cost;
    d->st.active = d->active;
    d->st.paused = d->paused;
    if (d->sim_end_ns && now >= d->sim_end_ns)
        return 1;
    return 0;
}

/* ---------------------------------------------------------------- control */

int daemon_reload(struct daemon *d, struct config *cfg, struct joule_err *err)
{
    const struct config *old = d->cfg;
    if (cfg->n_hosts != old->n_hosts)
        return joule_err_set(err, JOULE_ECONFIG,
                             "%s: the host list changed (%zu -> %zu hosts): restart jouled", cfg->path,
                             old->n_hosts, cfg->n_hosts);
    for (size_t i = 0; i < cfg->n_hosts; i++)
        if (strcmp(cfg->hosts[i].name, old->hosts[i].name) != 0 ||
            cfg->hosts[i].hypervisor != old->hosts[i].hypervisor)
            return joule_err_set(err, JOULE_ECONFIG,
                                 "%s:%d: host \"%s\" replaces \"%s\": the host list changed, "
                                 "restart jouled",
                                 cfg->path, cfg->hosts[i].line, cfg->hosts[i].name,
                                 old->hosts[i].name);
    if (cfg->sim.enabled != old->sim.enabled)
        return joule_err_set(err, JOULE_ECONFIG, "%s: sim group added or removed: restart jouled",
                             cfg->path);
    if (d->running)
        return joule_err_set(err, JOULE_EBUSY, "a plan is running: reload again when it is done");
    /* drivers, the power state machine and the store keep the settings they were created with
     * (they borrow the old config, kept until exit); everything read per tick takes the new one.
     * The monitors stay (a sample still in flight on a hung host stays theirs) and take the new
     * config. */
    struct executor *ex = NULL;
    struct executor_deps ed = { .cfg = cfg, .model = d->model, .hv = d->hv, .power = d->pc,
                                .clock = d->clock, .synchronous = d->sim != NULL };
    int rc = executor_new(&ed, &ex, err);
    if (rc < 0)
        return rc;
    monitor_set_config(d->mon, cfg);
    if (d->mon_sub)
        monitor_set_config(d->mon_sub, cfg);
    executor_free(d->ex);
    d->ex = ex;
    d->old_cfgs = xrealloc(d->old_cfgs, (d->n_old + 1) * sizeof *d->old_cfgs);
    d->old_cfgs[d->n_old++] = d->cfg;
    d->cfg = cfg;
    model_set_config(d->model, cfg);
    trigger_set_config(d->trig, cfg);
    if (d->api)
        api_set_token(d->api, cfg->api.token);
    if (cfg->sim.enabled && cfg->sim.duration_ns > 0)
        d->sim_end_ns = clock_now_ns(d->clock) - clock_mono_ns(d->clock) + cfg->sim.duration_ns;
    JLOG_NOTICE("event=reloaded path=%s mode=%s th1_pct=%g th2_factor=%g", cfg->path,
                config_mode_name(cfg->mode), cfg->policy.th1_pct, cfg->policy.th2_factor);
    return 0;
}

void daemon_shutdown(struct daemon *d)
{
    if (d->running) {
        JLOG_NOTICE("event=shutdown_abort plan=%s", d->run_id);
        executor_abort(d->ex);
        for (int i = 0; i < 100 && executor_poll(d->ex) > 0; i++)
            ; /* collect what the abort finished */
        record_migrations(d);
        finish_plan_if_done(d);
    }
    struct joule_err err = { 0 };
    if (d->active && d->store) {
        /* hand the lease on at once: renewed with a lifetime of 1 ns, it has expired when a
         * standby (or the next jouled) asks */
        bool held = false;
        store_lease(d->store, d->cfg->cluster, d->holder, now_ns(d), 1, &held, &err);
    }
    if (d->store && store_flush(d->store, &err) < 0 && err.code != JOULE_ENOTSUP)
        JLOG_ERR("event=store_flush_failed error=\"%s\" spooled=%zu", err.msg,
                 store_spool_depth(d->store));
    JLOG_NOTICE("event=stopped ticks=%llu plans=%llu migrations=%llu migrations_failed=%llu "
                "power_on=%llu power_off=%llu power_failed=%llu power_off_off_peak=%llu "
                "power_on_before_peak=%llu power_on_in_peak=%llu loop_mean_s=%.4f loop_max_s=%.4f",
                (unsigned long long)d->st.ticks, (unsigned long long)d->st.plans,
                (unsigned long long)d->st.migrations_ok, (unsigned long long)d->st.migrations_failed,
                (unsigned long long)d->st.power_on_ok, (unsigned long long)d->st.power_off_ok,
                (unsigned long long)d->st.power_failed, (unsigned long long)d->st.power_off_off_peak,
                (unsigned long long)d->st.power_on_prewake, (unsigned long long)d->st.power_on_peak,
                d->st.ticks ? (double)d->st.sum_tick_ns / (double)d->st.ticks / 1e9 : 0.0,
                (double)d->st.max_tick_ns / 1e9);
}

void daemon_pause(struct daemon *d, bool paused)
{
    if (paused != d->paused)
        JLOG_NOTICE("event=%s", paused ? "paused" : "resumed");
    d->paused = paused;
    d->st.paused = paused;
}

int daemon_request_run(struct daemon *d, bool consolidate, struct joule_err *err)
{
    if (!d->active && d->st.ticks > 0)
        return joule_err_set(err, JOULE_ESTATE, "standby: another jouled holds the lease");
    if (d->paused)
        return joule_err_set(err, JOULE_ESTATE, "paused: resume first");
    if (d->running)
        return joule_err_set(err, JOULE_EBUSY, "a plan is running (%s)", d->run_id);
    if (consolidate)
        d->manual_pending = true;
    else
        trigger_request_manual(d->trig, false);
    JLOG_NOTICE("event=run_requested consolidate=%s", consolidate ? "yes" : "no");
    return 0;
}

const struct config *daemon_config(const struct daemon *d) { return d->cfg; }
const struct clock *daemon_clock(const struct daemon *d) { return d->clock; }
struct api *daemon_api(const struct daemon *d) { return d->api; }
int daemon_executor_fd(const struct daemon *d) { return executor_fd(d->ex); }
struct store *daemon_store(const struct daemon *d) { return d->store; }
struct sim_cluster *daemon_sim(const struct daemon *d) { return d->sim; }

int64_t daemon_tick_interval_ns(const struct daemon *d)
{
    double f = d->cfg->sim.enabled ? d->cfg->sim.time_factor : 1.0;
    int64_t ns = (int64_t)((double)d->cfg->tick_ns / f);
    return ns > JOULE_NS_PER_MS ? ns : JOULE_NS_PER_MS;
}

void daemon_stats(const struct daemon *d, struct daemon_stats *out) { *out = d->st; }

/* ---------------------------------------------------------------- API content */

static const char *state_label(const struct daemon *d)
{
    if (!d->active)
        return "standby";
    return d->paused ? "paused" : "active";
}

static char *lbl(char *buf, size_t n, const char *key, const char *value)
{
    buf[0] = '\0';
    return api_label(buf, n, key, value);
}

void daemon_metrics(void *arg, struct strbuf *sb)
{
    struct daemon *d = arg;
    const struct model *m = d->model;
    int64_t now = now_ns(d);
    char l[256];

    api_metric_family(sb, "joule_host_load_percent", "gauge",
                      "Host CPU load smoothed over the load window, percent of its cores.");
    for (size_t i = 0; i < m->n_hosts; i++)
        api_metric(sb, "joule_host_load_percent", lbl(l, sizeof l, "host", m->hosts[i].name),
                   model_host_load_smoothed(m, (int)i, now));
    api_metric_family(sb, "joule_host_watts", "gauge",
                      "Host power draw (source meter, or model when no fresh meter reading).");
    for (size_t i = 0; i < m->n_hosts; i++) {
        l[0] = '\0';
        api_label(l, sizeof l, "host", m->hosts[i].name);
        api_label(l, sizeof l, "source", m->hosts[i].watts_from_model ? "model" : "meter");
        api_metric(sb, "joule_host_watts", l, m->hosts[i].watts);
    }
    api_metric_family(sb, "joule_host_power_state", "gauge",
                      "1 for the host's current power state, 0 for the others.");
    for (size_t i = 0; i < m->n_hosts; i++)
        for (int s = 0; s < POWER_STATE__COUNT; s++) {
            l[0] = '\0';
            api_label(l, sizeof l, "host", m->hosts[i].name);
            api_label(l, sizeof l, "state", power_state_name((enum power_state)s));
            api_metric(sb, "joule_host_power_state", l, m->hosts[i].state == (enum power_state)s);
        }
    api_metric_family(sb, "joule_host_vms", "gauge", "VMs running on the host.");
    for (size_t i = 0; i < m->n_hosts; i++)
        api_metric(sb, "joule_host_vms", lbl(l, sizeof l, "host", m->hosts[i].name),
                   (double)m->hosts[i].n_vms);
    api_metric_family(sb, "joule_migrations_total", "counter", "Live migrations finished, by result.");
    api_metric(sb, "joule_migrations_total", "result=\"ok\"", (double)d->st.migrations_ok);
    api_metric(sb, "joule_migrations_total", "result=\"failed\"", (double)d->st.migrations_failed);
    api_metric_family(sb, "joule_power_actions_total", "counter",
                      "Power actions finished (verified or given up), by action and result.");
    api_metric(sb, "joule_power_actions_total", "action=\"on\",result=\"ok\"", (double)d->st.power_on_ok);
    api_metric(sb, "joule_power_actions_total", "action=\"off\",result=\"ok\"", (double)d->st.power_off_ok);
    api_metric(sb, "joule_power_actions_total", "action=\"any\",result=\"failed\"",
               (double)d->st.power_failed);
    api_metric_family(sb, "joule_plans_total", "counter", "Plans made by the policy.");
    api_metric(sb, "joule_plans_total", "", (double)d->st.plans);
    api_metric_family(sb, "joule_trigger_events_total", "counter", "Policy trigger events, by kind.");
    for (int k = 0; k < TRIGGER__COUNT; k++)
        api_metric(sb, "joule_trigger_events_total",
                   lbl(l, sizeof l, "kind", trigger_kind_name((enum trigger_kind)k)),
                   (double)d->events_by_kind[k]);
    if (d->meter) {
        struct meter_stats ms = { 0 };
        meter_stats(d->meter, &ms);
        api_metric_family(sb, "joule_meter_frames_total", "counter",
                          "Meter frames read from the coordinator, by outcome.");
        const struct {
            const char *k;
            uint64_t v;
        } fr[] = { { "ok", ms.frames_ok }, { "bad_checksum", ms.bad_checksum },
                   { "unknown_meter", ms.unknown_meter }, { "truncated", ms.truncated },
                   { "other", ms.other_frames } };
        for (size_t i = 0; i < sizeof fr / sizeof fr[0]; i++)
            api_metric(sb, "joule_meter_frames_total",
                       lbl(l, sizeof l, "outcome", fr[i].k), (double)fr[i].v);
        api_metric_family(sb, "joule_meter_resyncs_total", "counter", "Frame resynchronisations.");
        api_metric(sb, "joule_meter_resyncs_total", "", (double)ms.resyncs);
        api_metric_family(sb, "joule_meter_reopens_total", "counter", "Serial port reopens.");
        api_metric(sb, "joule_meter_reopens_total", "", (double)ms.reopens);
    }
    api_metric_family(sb, "joule_store_spool_documents", "gauge",
                      "Documents spooled locally, waiting for the database.");
    api_metric(sb, "joule_store_spool_documents", "", d->store ? (double)store_spool_depth(d->store) : 0);
    struct monitor_stats ms;
    monitor_stats(d->mon, &ms);
    api_metric_family(sb, "joule_monitor_hosts_lagging", "gauge",
                      "Hosts whose sample was still in flight when the last tick stopped waiting.");
    api_metric(sb, "joule_monitor_hosts_lagging", "", (double)ms.hosts_lagging);
    api_metric_family(sb, "joule_monitor_lagging_total", "counter",
                      "Host-ticks a host's sample was still in flight at the tick's deadline.");
    api_metric(sb, "joule_monitor_lagging_total", "", (double)ms.lagging);
    api_metric_family(sb, "joule_monitor_stuck_total", "counter",
                      "Host-ticks a host counted unreachable for a sample in flight too long.");
    api_metric(sb, "joule_monitor_stuck_total", "", (double)ms.stuck);
    api_metric_family(sb, "joule_monitor_late_samples_total", "counter",
                      "Samples that came back after their tick, applied (fresh) or dropped.");
    api_metric(sb, "joule_monitor_late_samples_total", "result=\"applied\"",
               (double)ms.late_applied);
    api_metric(sb, "joule_monitor_late_samples_total", "result=\"dropped\"",
               (double)ms.late_dropped);
    api_metric_family(sb, "joule_loop_duration_seconds", "summary", "Wall time of one loop tick.");
    api_metric(sb, "joule_loop_duration_seconds_sum", "", (double)d->st.sum_tick_ns / 1e9);
    api_metric(sb, "joule_loop_duration_seconds_count", "", (double)d->st.ticks);
    api_metric_family(sb, "joule_loop_duration_max_seconds", "gauge", "Longest loop tick so far.");
    api_metric(sb, "joule_loop_duration_max_seconds", "", (double)d->st.max_tick_ns / 1e9);
    api_metric_family(sb, "joule_controller_state", "gauge",
                      "1 for the controller's state (active, paused, standby).");
    static const char *const states[] = { "active", "paused", "standby" };
    for (size_t i = 0; i < 3; i++)
        api_metric(sb, "joule_controller_state",
                   lbl(l, sizeof l, "state", states[i]),
                   strcmp(state_label(d), states[i]) == 0);
    api_metric_family(sb, "joule_dry_run", "gauge", "1 when plans are only stored, not executed.");
    api_metric(sb, "joule_dry_run", "", d->cfg->mode == CONFIG_MODE_DRY_RUN);
    if (d->api) {
        api_metric_family(sb, "joule_api_requests_total", "counter", "HTTP requests answered.");
        api_metric(sb, "joule_api_requests_total", "", (double)api_requests(d->api));
    }
}

static void append_time(bson_t *b, const char *key, int64_t t_ns)
{
    bson_append_date_time(b, key, -1, t_ns / JOULE_NS_PER_MS);
}

void daemon_status(void *arg, bson_t *out)
{
    struct daemon *d = arg;
    const struct model *m = d->model;
    int64_t now = now_ns(d);
    BSON_APPEND_UTF8(out, "cluster", d->cfg->cluster);
    BSON_APPEND_UTF8(out, "state", state_label(d));
    BSON_APPEND_UTF8(out, "mode", config_mode_name(d->cfg->mode));
    BSON_APPEND_UTF8(out, "holder", d->holder);
    append_time(out, "time", now);
    BSON_APPEND_BOOL(out, "simulated", d->sim != NULL);
    BSON_APPEND_UTF8(out, "timezone", d->cfg->schedule.timezone);
    BSON_APPEND_BOOL(out, "peak", d->sched.peak);
    BSON_APPEND_BOOL(out, "off_peak", d->sched.off_peak);
    BSON_APPEND_BOOL(out, "prewake", d->sched.prewake);
    BSON_APPEND_BOOL(out, "consolidation_allowed", d->sched.consolidation_allowed);
    BSON_APPEND_INT32(out, "min_active_hosts", (int32_t)d->sched.min_active_hosts);
    BSON_APPEND_BOOL(out, "plan_running", d->running);
    bson_t arr, doc;
    char key[24];
    BSON_APPEND_ARRAY_BEGIN(out, "hosts", &arr);
    for (size_t i = 0; i < m->n_hosts; i++) {
        const struct model_host *h = &m->hosts[i];
        snprintf(key, sizeof key, "%zu", i);
        BSON_APPEND_DOCUMENT_BEGIN(&arr, key, &doc);
        BSON_APPEND_UTF8(&doc, "name", h->name);
        BSON_APPEND_UTF8(&doc, "state", power_state_name(h->state));
        BSON_APPEND_BOOL(&doc, "reachable", h->reachable);
        BSON_APPEND_BOOL(&doc, "lagging", monitor_host_lagging(d->mon, i));
        BSON_APPEND_DOUBLE(&doc, "load_pct", round(model_host_load_smoothed(m, (int)i, now) * 10) / 10);
        BSON_APPEND_DOUBLE(&doc, "watts", round(h->watts * 10) / 10);
        BSON_APPEND_UTF8(&doc, "watts_source", h->watts_from_model ? "model" : "meter");
        BSON_APPEND_DOUBLE(&doc, "cpus", h->cpus);
        BSON_APPEND_INT32(&doc, "vms", (int32_t)h->n_vms);
        BSON_APPEND_BOOL(&doc, "excluded", d->cfg->hosts[i].excluded);
        bson_append_document_end(&arr, &doc);
    }
    bson_append_array_end(out, &arr);
    BSON_APPEND_ARRAY_BEGIN(out, "vms", &arr);
    size_t k = 0;
    for (size_t i = 0; i < m->n_vms; i++) {
        const struct model_vm *v = &m->vms[i];
        if (v->host < 0)
            continue;
        snprintf(key, sizeof key, "%zu", k++);
        BSON_APPEND_DOCUMENT_BEGIN(&arr, key, &doc);
        BSON_APPEND_UTF8(&doc, "name", v->name ? v->name : "");
        BSON_APPEND_UTF8(&doc, "uuid", v->uuid);
        BSON_APPEND_UTF8(&doc, "host", m->hosts[v->host].name);
        BSON_APPEND_INT32(&doc, "vcpus", (int32_t)v->vcpus);
        BSON_APPEND_DOUBLE(&doc, "cpu_cores", round(model_vm_cores_smoothed(m, (int)i, now) * 100) / 100);
        BSON_APPEND_DOUBLE(&doc, "mem_mib", v->mem_mib);
        BSON_APPEND_BOOL(&doc, "pinned", v->pinned);
        BSON_APPEND_BOOL(&doc, "migrating", v->migrating);
        bson_append_document_end(&arr, &doc);
    }
    bson_append_array_end(out, &arr);
    BSON_APPEND_DOCUMENT_BEGIN(out, "counters", &doc);
    BSON_APPEND_INT64(&doc, "ticks", (int64_t)d->st.ticks);
    BSON_APPEND_INT64(&doc, "plans", (int64_t)d->st.plans);
    BSON_APPEND_INT64(&doc, "migrations_ok", (int64_t)d->st.migrations_ok);
    BSON_APPEND_INT64(&doc, "migrations_failed", (int64_t)d->st.migrations_failed);
    BSON_APPEND_INT64(&doc, "power_on_ok", (int64_t)d->st.power_on_ok);
    BSON_APPEND_INT64(&doc, "power_off_ok", (int64_t)d->st.power_off_ok);
    BSON_APPEND_INT64(&doc, "power_failed", (int64_t)d->st.power_failed);
    BSON_APPEND_DOUBLE(&doc, "loop_last_s", (double)d->st.last_tick_ns / 1e9);
    BSON_APPEND_DOUBLE(&doc, "loop_max_s", (double)d->st.max_tick_ns / 1e9);
    struct monitor_stats ms;
    monitor_stats(d->mon, &ms);
    BSON_APPEND_INT64(&doc, "hosts_lagging", (int64_t)ms.hosts_lagging);
    BSON_APPEND_INT64(&doc, "monitor_lagging", (int64_t)ms.lagging);
    bson_append_document_end(out, &doc);
    if (d->recent_n > 0) {
        const bson_t *last = d->recent[(d->recent_head + RECENT_PLANS - 1) % RECENT_PLANS];
        BSON_APPEND_DOCUMENT(out, "last_plan", last);
    }
}

void daemon_plans(void *arg, bson_t *out)
{
    struct daemon *d = arg;
    bson_t arr;
    char key[24];
    BSON_APPEND_ARRAY_BEGIN(out, "plans", &arr);
    for (size_t k = 0; k < d->recent_n; k++) {
        const bson_t *p = d->recent[(d->recent_head + RECENT_PLANS - 1 - k) % RECENT_PLANS];
        snprintf(key, sizeof key, "%zu", k);
        BSON_APPEND_DOCUMENT(&arr, key, p);
    }
    bson_append_array_end(out, &arr);
}
