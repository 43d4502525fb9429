/* store_fixture.h - a small seeded cluster (config + model) and documents of every collection,
 * for the store tests. Header-only: each test includes it once. */
#ifndef JOULE_TEST_STORE_FIXTURE_H
#define JOULE_TEST_STORE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "docs.h"
#include "driver.h"
#include "model.h"
#include "records.h"
#include "util/xalloc.h"

#define FX_S JOULE_NS_PER_S
/* 2026-11-27T08:00:00Z */
#define FX_T0 (1795766400LL * FX_S)

static inline struct config *fx_config(const char *uri, const char *database, const char *spool,
                                int tick_s)
{
    char *text = xasprintf(
        "cluster = \"c1\";\ntick_s = %d;\napi = { listen = \"\"; };\n"
        "store = { uri = \"%s\"; database = \"%s\"; spool_path = \"%s\"; spool_max_mb = 16; };\n"
        "hosts = ( { name = \"h1\"; uri = \"x\"; cpus = 4; idle_w = 50; max_w = 150; "
        "meter = \"00:13:a2:00:40:a1:b2:c3\"; },\n"
        "          { name = \"h2\"; uri = \"y\"; cpus = 4; idle_w = 60; max_w = 160; } );\n",
        tick_s, uri, database, spool);
    struct config *cfg = NULL;
    char *errors = NULL;
    if (config_load_string(text, &cfg, &errors) < 0) {
        fprintf(stderr, "config: %s\n", errors);
        abort();
    }
    free(text);
    return cfg;
}

static inline void fx_add_vm(struct hv_sample *s, int i, double cpu_s)
{
    struct hv_vm_sample *v = hv_sample_add_vm(s);
    snprintf(v->uuid, sizeof v->uuid, "aaaaaaaa-0000-4000-8000-%012d", i);
    v->name = xasprintf("vm-%d", i);
    v->cpu_time_ns = (uint64_t)(cpu_s * FX_S);
    v->vcpus = 2;
    v->mem_kib = 1024 * 1024;
    v->state = HV_VM_RUNNING;
}

/* h1 runs vm-1 and vm-2, h2 runs vm-3; two samples 10 s apart so loads are non-zero. */
static inline struct model *fx_model(const struct config *cfg, int64_t t_ns)
{
    struct model *m = model_new(cfg);
    struct hv_sample s = { 0 };
    for (int k = 0; k < 2; k++) {
        int64_t t = t_ns - (1 - k) * 10 * FX_S;
        for (int h = 0; h < 2; h++) {
            hv_sample_clear(&s);
            s.t_ns = t;
            s.mono_ns = t;
            s.cpus = 4;
            s.mem_kib = 8 * 1024 * 1024;
            if (h == 0) {
                fx_add_vm(&s, 1, k * 10.0);
                fx_add_vm(&s, 2, k * 5.0);
            } else {
                fx_add_vm(&s, 3, k * 20.0);
            }
            model_apply_sample(m, h, &s);
        }
    }
    hv_sample_free(&s);
    model_apply_meter(m, 0, t_ns, 95.5, 12.25);
    model_estimate_watts(m, t_ns, 60 * FX_S);
    return m;
}

struct fx_docs {
    const char *coll[64];
    bson_t *doc[64];
    size_t n;
};

static inline void fx_push(struct fx_docs *d, const char *coll, bson_t *doc)
{
    if (!doc)
        return;
    d->coll[d->n] = coll;
    d->doc[d->n++] = doc;
}

/* One or more documents of every collection but leases (the store writes those itself). */
static inline void fx_all_docs(const char *cluster, const struct model *m, int64_t t, struct fx_docs *d)
{
    memset(d, 0, sizeof *d);
    for (size_t h = 0; h < m->n_hosts; h++) {
        fx_push(d, DOCS_HOSTS, docs_host(cluster, m, (int)h, t));
        fx_push(d, DOCS_HOST_SAMPLES, docs_host_sample(cluster, m, (int)h, t));
        struct docs_power_prev prev = { .have = true, .t_ns = t - 10 * FX_S, .watts = 90,
                                        .meter_kwh = h == 0 ? 12.0 : -1 };
        fx_push(d, DOCS_POWER_SAMPLES, docs_power_sample(cluster, m, (int)h, t, &prev));
    }
    for (size_t v = 0; v < m->n_vms; v++)
        fx_push(d, DOCS_VM_SAMPLES, docs_vm_sample(cluster, m, (int)v, t));
    struct event_record ev = { .kind = "overload", .t_ns = t, .host = "h1",
                               .detail = "load 93.0% > 90%" };
    fx_push(d, DOCS_EVENTS, docs_event(cluster, &ev));
    struct event_record ev2 = { .kind = "periodic", .t_ns = t, .host = "", .detail = "" };
    fx_push(d, DOCS_EVENTS, docs_event(cluster, &ev2));

    struct model_snapshot snap;
    model_snapshot_build(m, t, &snap);
    struct plan p;
    plan_init(&p);
    struct plan_action *a = plan_add(&p, PLAN_ACTION_MIGRATE, PLAN_REASON_TH2_CONSOLIDATE);
    a->vm = 2;
    a->from = 1;
    a->to = 0;
    a->expected_gain_w = 0;
    a->from_load_pct = 0;
    a->to_load_pct = 62.5;
    snprintf(a->detail, sizeof a->detail, "empty h2");
    a = plan_add(&p, PLAN_ACTION_POWER_OFF, PLAN_REASON_TH2_CONSOLIDATE);
    a->host = 1;
    a->expected_gain_w = 60;
    a = plan_add(&p, PLAN_ACTION_ALERT, PLAN_REASON_NO_CAPACITY);
    snprintf(a->detail, sizeof a->detail, "nothing left to wake");
    char pid[64];
    docs_plan_id(cluster, t, pid, sizeof pid);
    fx_push(d, DOCS_PLANS, docs_plan(cluster, pid, t, "periodic", "threshold", "auto", "planned",
                                     &p, &snap));
    plan_free(&p);
    model_snapshot_free(&snap);

    struct migration_record mr = { .start_ns = t + FX_S, .end_ns = t + 12 * FX_S, .ok = true,
                                   .bytes = 1u << 30, .downtime_ns = 150 * JOULE_NS_PER_MS };
    snprintf(mr.plan_id, sizeof mr.plan_id, "%s", pid);
    snprintf(mr.vm_uuid, sizeof mr.vm_uuid, "aaaaaaaa-0000-4000-8000-000000000003");
    snprintf(mr.vm_name, sizeof mr.vm_name, "vm-3");
    snprintf(mr.from, sizeof mr.from, "h2");
    snprintf(mr.to, sizeof mr.to, "h1");
    snprintf(mr.reason, sizeof mr.reason, "th2_consolidate");
    fx_push(d, DOCS_MIGRATIONS, docs_migration(cluster, &mr));
    mr.start_ns += 20 * FX_S;
    mr.end_ns = mr.start_ns + 300 * FX_S;
    mr.ok = false;
    mr.aborted = true;
    mr.downtime_ns = -1;
    mr.bytes = 0;
    snprintf(mr.error, sizeof mr.error, "timed out after 300 s");
    fx_push(d, DOCS_MIGRATIONS, docs_migration(cluster, &mr));

    struct power_action_record pa = { .action = RECORD_POWER_OFF, .start_ns = t + 13 * FX_S,
                                      .end_ns = t + 40 * FX_S, .ok = true };
    snprintf(pa.host, sizeof pa.host, "h2");
    snprintf(pa.method, sizeof pa.method, "ipmi");
    snprintf(pa.verified_by, sizeof pa.verified_by, "ipmi_status");
    fx_push(d, DOCS_POWER_ACTIONS, docs_power_action(cluster, &pa));
    pa.action = RECORD_POWER_ON;
    pa.start_ns = t + 600 * FX_S;
    pa.end_ns = t + 690 * FX_S;
    pa.ok = false;
    pa.forced = true;
    snprintf(pa.method, sizeof pa.method, "wol");
    pa.verified_by[0] = '\0';
    snprintf(pa.error, sizeof pa.error, "not reachable after 90 s");
    fx_push(d, DOCS_POWER_ACTIONS, docs_power_action(cluster, &pa));
}

static inline void fx_docs_free(struct fx_docs *d)
{
    for (size_t i = 0; i < d->n; i++)
        bson_destroy(d->doc[i]);
    d->n = 0;
}

#endif
