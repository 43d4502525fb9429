/* monitor.c - one sampling tick: every host's hypervisor (one sample call each), then the meter,
 * into the model; the samples also go to the store (host_samples, vm_samples, power_samples).
 * A host whose connection is gone is reconnected here (the driver rate-limits the attempts with
 * its own backoff); while it cannot be sampled it is marked unreachable, logged once when that
 * starts and once when it ends. */
#include "monitor.h"

#include "docs.h"

#include <bson/bson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/xalloc.h"

#define LOG_MODULE "monitor"
#define MONITOR_METER_BATCH 64

struct monitor {
    struct monitor_deps d;
    struct hv_sample sample;
    struct log_complaint *unreachable; /* one per host */
    struct log_complaint meter_fail;
    struct log_complaint store_fail;
    struct docs_power_prev *power_prev; /* one per host: energy between power samples */
};

int monitor_new(const struct monitor_deps *deps, struct monitor **out, struct joule_err *err)
{
    if (!deps->cfg || !deps->model || !deps->clock || (!deps->hv && deps->cfg->n_hosts > 0))
        return joule_err_set(err, JOULE_EINVAL,
                             "monitor: config, model, clock and hypervisors are required");
    struct monitor *mon = xcalloc(1, sizeof *mon);
    mon->d = *deps;
    mon->unreachable = xcalloc(deps->cfg->n_hosts + 1, sizeof *mon->unreachable);
    mon->power_prev = xcalloc(deps->cfg->n_hosts + 1, sizeof *mon->power_prev);
    *out = mon;
    return 0;
}

void monitor_free(struct monitor *mon)
{
    if (!mon)
        return;
    hv_sample_free(&mon->sample);
    free(mon->unreachable);
    free(mon->power_prev);
    free(mon);
}

static void docs_free(bson_t **docs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        bson_destroy(docs[i]);
    free(docs);
}

static int insert(struct monitor *mon, const char *coll, bson_t **docs, size_t n,
                  struct joule_err *e)
{
    int rc = n ? store_insert(mon->d.store, coll, (const bson_t *const *)docs, n, e) : 0;
    docs_free(docs, n);
    return rc < 0 ? rc : 0; /* store_insert returns a count */
}

/* One insert per collection (docs.h builders, the schemas/ shapes): host_samples and
 * power_samples for every host, vm_samples for the VMs seen in this tick's samples. */
static int store_tick(struct monitor *mon, int64_t t_ns, const bool *sampled)
{
    const struct model *m = mon->d.model;
    const char *cluster = mon->d.cfg->cluster;
    struct joule_err e = { 0 };
    bson_t **hd = xcalloc(m->n_hosts + 1, sizeof *hd);
    for (size_t h = 0; h < m->n_hosts; h++)
        hd[h] = docs_host_sample(cluster, m, (int)h, t_ns);
    int rc = insert(mon, DOCS_HOST_SAMPLES, hd, m->n_hosts, &e);
    if (rc == 0) {
        bson_t **pd = xcalloc(m->n_hosts + 1, sizeof *pd);
        for (size_t h = 0; h < m->n_hosts; h++)
            pd[h] = docs_power_sample(cluster, m, (int)h, t_ns, &mon->power_prev[h]);
        rc = insert(mon, DOCS_POWER_SAMPLES, pd, m->n_hosts, &e);
    }
    if (rc == 0) {
        bson_t **vd = xcalloc(m->n_vms + 1, sizeof *vd);
        size_t n = 0;
        for (size_t i = 0; i < m->n_vms; i++) {
            const struct model_vm *v = &m->vms[i];
            if (v->host >= 0 && sampled[v->host] && v->last_seen_ns == t_ns &&
                (vd[n] = docs_vm_sample(cluster, m, (int)i, t_ns)))
                n++;
        }
        rc = insert(mon, DOCS_VM_SAMPLES, vd, n, &e);
    }
    if (rc < 0) {
        if (log_complain(&mon->store_fail))
            JLOG_WARN("event=store_failed error=\"%s\"", e.msg);
    } else {
        unsigned long k = log_release(&mon->store_fail);
        if (k)
            JLOG_NOTICE("event=store_recovered failures=%lu", k);
    }
    return rc;
}

static void meter_tick(struct monitor *mon)
{
    struct meter_reading r[MONITOR_METER_BATCH];
    struct joule_err e = { 0 };
    int n = meter_poll(mon->d.meter, r, MONITOR_METER_BATCH, 0, &e);
    if (n < 0) {
        if (log_complain(&mon->meter_fail))
            JLOG_WARN("event=meter_failed error=\"%s\"", e.msg);
        return;
    }
    unsigned long k = log_release(&mon->meter_fail);
    if (k)
        JLOG_NOTICE("event=meter_recovered failures=%lu", k);
    for (int i = 0; i < n; i++) {
        if (r[i].host < 0 || (size_t)r[i].host >= mon->d.model->n_hosts || !r[i].has_watts)
            continue;
        model_apply_meter(mon->d.model, r[i].host, r[i].t_ns, r[i].watts,
                          r[i].has_energy ? r[i].energy_kwh : -1);
    }
}

int monitor_tick(struct monitor *mon, struct monitor_tick_out *out, struct joule_err *err)
{
    (void)err; /* per-host failures are states (unreachable), not errors of the tick */
    struct model *m = mon->d.model;
    const struct clock *ck = mon->d.clock;
    struct monitor_tick_out o = { 0 };
    int64_t tick0 = clock_mono_ns(ck);
    o.t_ns = clock_now_ns(ck);
    bool *sampled = xcalloc(m->n_hosts + 1, sizeof *sampled);
    for (size_t h = 0; h < m->n_hosts; h++) {
        struct hypervisor *hv = mon->d.hv[h];
        struct joule_err e = { 0 };
        int64_t h0 = clock_mono_ns(ck);
        int rc = JOULE_EUNAVAIL;
        if (!hv) {
            joule_err_set(&e, rc, "%s: no hypervisor driver", m->hosts[h].name);
        } else {
            if (m->hosts[h].state == POWER_STATE_WAKING)
                hypervisor_retry_soon(hv); /* being powered on: try every tick, no backoff */
            rc = hypervisor_alive(hv) ? 0 : hypervisor_connect(hv, &e);
            if (rc == 0)
                rc = hypervisor_sample(hv, &mon->sample, &e);
        }
        int64_t cost = clock_mono_ns(ck) - h0;
        o.host_cost_ns_sum += cost;
        if (cost > o.host_cost_ns_max)
            o.host_cost_ns_max = cost;
        if (rc < 0) {
            bool was = m->hosts[h].reachable;
            model_host_set_unreachable(m, (int)h, o.t_ns);
            o.hosts_unreachable++;
            if (log_complain(&mon->unreachable[h]) || was)
                JLOG_WARN("event=host_unreachable host=%s error=\"%s\"", m->hosts[h].name, e.msg);
            continue;
        }
        unsigned long k = log_release(&mon->unreachable[h]);
        if (k)
            JLOG_NOTICE("event=host_reachable host=%s failed_ticks=%lu", m->hosts[h].name, k);
        /* one time stamp per tick for every host (deltas still use the sample's mono_ns) */
        mon->sample.t_ns = o.t_ns;
        model_apply_sample(m, (int)h, &mon->sample);
        /* a host whose hypervisor answers is on, unless the power state machine knows better */
        if (m->hosts[h].state == POWER_STATE_UNKNOWN)
            m->hosts[h].state = POWER_STATE_ON;
        sampled[h] = true;
        o.hosts_sampled++;
        JLOG_DEBUG("event=host_sampled host=%s vms=%zu load_pct=%.1f cost_ms=%.2f",
                   m->hosts[h].name, mon->sample.n_vms, m->hosts[h].load_pct, (double)cost / 1e6);
    }
    if (mon->d.meter)
        meter_tick(mon);
    model_estimate_watts(m, o.t_ns, mon->d.cfg->meter.stale_ns);
    if (mon->d.store)
        o.store_rc = store_tick(mon, o.t_ns, sampled);
    free(sampled);
    o.cost_ns = clock_mono_ns(ck) - tick0;
    if (out)
        *out = o;
    return 0;
}
