/* monitor.c - one sampling tick: every host's hypervisor (one sample call each), then the meter,
 * into the model; the samples also go to the store (host_samples, vm_samples).
 * A host whose connection is gone is reconnected here (the driver rate-limits the attempts with
 * its own backoff); while it cannot be sampled it is marked unreachable, logged once when that
 * starts and once when it ends. */
#include "monitor.h"

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
};

int monitor_new(const struct monitor_deps *deps, struct monitor **out, struct joule_err *err)
{
    if (!deps->cfg || !deps->model || !deps->clock || (!deps->hv && deps->cfg->n_hosts > 0))
        return joule_err_set(err, JOULE_EINVAL,
                             "monitor: config, model, clock and hypervisors are required");
    struct monitor *mon = xcalloc(1, sizeof *mon);
    mon->d = *deps;
    mon->unreachable = xcalloc(deps->cfg->n_hosts + 1, sizeof *mon->unreachable);
    *out = mon;
    return 0;
}

void monitor_free(struct monitor *mon)
{
    if (!mon)
        return;
    hv_sample_free(&mon->sample);
    free(mon->unreachable);
    free(mon);
}

static void doc_id(bson_t *doc, const char *cluster, const char *who, int64_t t_ns)
{
    char id[256];
    snprintf(id, sizeof id, "%s/%s/%lld", cluster, who, (long long)t_ns);
    BSON_APPEND_UTF8(doc, "_id", id);
}

static bson_t *host_doc(const struct monitor *mon, int h, int64_t t_ns)
{
    const struct model *m = mon->d.model;
    const struct model_host *mh = &m->hosts[h];
    bson_t *doc = bson_new();
    doc_id(doc, mon->d.cfg->cluster, mh->name, t_ns);
    BSON_APPEND_UTF8(doc, "cluster", mon->d.cfg->cluster);
    BSON_APPEND_UTF8(doc, "host", mh->name);
    BSON_APPEND_DATE_TIME(doc, "t", t_ns / JOULE_NS_PER_MS);
    BSON_APPEND_BOOL(doc, "reachable", mh->reachable);
    BSON_APPEND_UTF8(doc, "state", power_state_name(mh->state));
    if (mh->reachable) {
        BSON_APPEND_DOUBLE(doc, "load", model_host_load_smoothed(m, h, t_ns));
        BSON_APPEND_DOUBLE(doc, "cpu_instant", mh->load_pct);
        BSON_APPEND_DOUBLE(doc, "cpus", mh->cpus);
        BSON_APPEND_DOUBLE(doc, "mem_used_mib", mh->mem_used_mib);
        BSON_APPEND_DOUBLE(doc, "mem_mib", mh->mem_mib);
        BSON_APPEND_INT64(doc, "vms", (int64_t)mh->n_vms);
    }
    return doc;
}

static bson_t *vm_doc(const struct monitor *mon, int vi, int64_t t_ns)
{
    const struct model *m = mon->d.model;
    const struct model_vm *v = &m->vms[vi];
    bson_t *doc = bson_new();
    doc_id(doc, mon->d.cfg->cluster, v->uuid, t_ns);
    BSON_APPEND_UTF8(doc, "cluster", mon->d.cfg->cluster);
    BSON_APPEND_UTF8(doc, "vm", v->uuid);
    BSON_APPEND_UTF8(doc, "name", v->name);
    BSON_APPEND_UTF8(doc, "host", m->hosts[v->host].name);
    BSON_APPEND_DATE_TIME(doc, "t", t_ns / JOULE_NS_PER_MS);
    BSON_APPEND_DOUBLE(doc, "cpu", v->cpu_cores);
    BSON_APPEND_INT32(doc, "vcpus", (int32_t)v->vcpus);
    BSON_APPEND_DOUBLE(doc, "mem_mib", v->mem_mib);
    BSON_APPEND_INT64(doc, "rx_bytes", (int64_t)v->rx_bytes);
    BSON_APPEND_INT64(doc, "tx_bytes", (int64_t)v->tx_bytes);
    return doc;
}

static void docs_free(bson_t **docs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        bson_destroy(docs[i]);
    free(docs);
}

/* Host documents for every host; VM documents for VMs seen in this tick's samples. */
static int store_tick(struct monitor *mon, int64_t t_ns, const bool *sampled)
{
    const struct model *m = mon->d.model;
    struct joule_err e = { 0 };
    bson_t **hd = xcalloc(m->n_hosts + 1, sizeof *hd);
    for (size_t h = 0; h < m->n_hosts; h++)
        hd[h] = host_doc(mon, (int)h, t_ns);
    int rc = store_insert(mon->d.store, "host_samples", (const bson_t *const *)hd, m->n_hosts, &e);
    docs_free(hd, m->n_hosts);
    if (rc >= 0) { /* a count of documents written */
        bson_t **vd = xcalloc(m->n_vms + 1, sizeof *vd);
        size_t n = 0;
        for (size_t i = 0; i < m->n_vms; i++)
            if (m->vms[i].host >= 0 && sampled[m->vms[i].host] && m->vms[i].last_seen_ns == t_ns)
                vd[n++] = vm_doc(mon, (int)i, t_ns);
        if (n > 0)
            rc = store_insert(mon->d.store, "vm_samples", (const bson_t *const *)vd, n, &e);
        docs_free(vd, n);
    }
    if (rc < 0) {
        if (log_complain(&mon->store_fail))
            JLOG_WARN("event=store_failed error=\"%s\"", e.msg);
    } else {
        unsigned long k = log_release(&mon->store_fail);
        if (k)
            JLOG_NOTICE("event=store_recovered failures=%lu", k);
    }
    return rc < 0 ? rc : 0;
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
