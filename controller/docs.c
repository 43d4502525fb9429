/* docs.c - BSON documents for the store; see docs.h and schemas/. */
#include "docs.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "util/xalloc.h"

#define NS_PER_HOUR (3600LL * JOULE_NS_PER_S)
#define NS_PER_DAY (24LL * NS_PER_HOUR)
#define J_PER_KWH 3.6e6

static int64_t ns_to_ms(int64_t t_ns)
{
    /* floor, so times before 1970 still truncate the same way */
    return t_ns >= 0 ? t_ns / JOULE_NS_PER_MS : -((-t_ns + JOULE_NS_PER_MS - 1) / JOULE_NS_PER_MS);
}

static int64_t floor_to(int64_t t_ns, int64_t unit)
{
    int64_t q = t_ns / unit;
    if (t_ns % unit < 0)
        q--;
    return q * unit;
}

int64_t docs_hour_ns(int64_t t_ns) { return floor_to(t_ns, NS_PER_HOUR); }
int64_t docs_day_ns(int64_t t_ns) { return floor_to(t_ns, NS_PER_DAY); }

static void put_str(bson_t *b, const char *key, const char *v)
{
    BSON_APPEND_UTF8(b, key, v ? v : "");
}

static void put_date(bson_t *b, const char *key, int64_t t_ns)
{
    BSON_APPEND_DATE_TIME(b, key, ns_to_ms(t_ns));
}

static void put_id(bson_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put_id(bson_t *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof small) {
        BSON_APPEND_UTF8(b, "_id", small);
        return;
    }
    char *big = xmalloc((size_t)(n > 0 ? n : 0) + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)(n > 0 ? n : 0) + 1, fmt, ap);
    va_end(ap);
    BSON_APPEND_UTF8(b, "_id", big);
    free(big);
}

static const char *host_name(const struct model *m, int h)
{
    return h >= 0 && (size_t)h < m->n_hosts ? m->hosts[h].name : "";
}

bson_t *docs_host(const char *cluster, const struct model *m, int h, int64_t t_ns)
{
    const struct model_host *mh = &m->hosts[h];
    const struct config_host *ch = &m->cfg->hosts[mh->cfg_index];
    bson_t *b = bson_new();
    put_id(b, "%s/%s", cluster, mh->name);
    put_str(b, "cluster", cluster);
    put_str(b, "host", mh->name);
    put_date(b, "t", t_ns);
    put_str(b, "state", power_state_name(mh->state));
    BSON_APPEND_BOOL(b, "reachable", mh->reachable);
    BSON_APPEND_DOUBLE(b, "cpus", mh->cpus);
    BSON_APPEND_DOUBLE(b, "mem_mib", mh->mem_mib);
    BSON_APPEND_DOUBLE(b, "idle_w", ch->idle_w);
    BSON_APPEND_DOUBLE(b, "max_w", ch->max_w);
    BSON_APPEND_DOUBLE(b, "standby_w", ch->standby_w);
    BSON_APPEND_BOOL(b, "excluded", ch->excluded);
    BSON_APPEND_INT32(b, "n_vms", (int32_t)mh->n_vms);
    return b;
}

bson_t *docs_host_sample(const char *cluster, const struct model *m, int h, int64_t t_ns)
{
    const struct model_host *mh = &m->hosts[h];
    bson_t *b = bson_new();
    put_id(b, "%s/%s/%lld", cluster, mh->name, (long long)ns_to_ms(t_ns));
    put_str(b, "cluster", cluster);
    put_str(b, "host", mh->name);
    put_date(b, "t", t_ns);
    BSON_APPEND_DOUBLE(b, "load_pct", model_host_load_smoothed(m, h, t_ns));
    BSON_APPEND_DOUBLE(b, "cpu_instant_pct", mh->load_pct);
    BSON_APPEND_DOUBLE(b, "mem_used_mib", mh->mem_used_mib);
    BSON_APPEND_DOUBLE(b, "mem_mib", mh->mem_mib);
    BSON_APPEND_INT32(b, "n_vms", (int32_t)mh->n_vms);
    put_str(b, "state", power_state_name(mh->state));
    BSON_APPEND_BOOL(b, "reachable", mh->reachable);
    return b;
}

bson_t *docs_vm_sample(const char *cluster, const struct model *m, int v, int64_t t_ns)
{
    const struct model_vm *vm = &m->vms[v];
    if (vm->host < 0 || (size_t)vm->host >= m->n_hosts)
        return NULL;
    bson_t *b = bson_new();
    put_id(b, "%s/%s/%lld", cluster, vm->uuid, (long long)ns_to_ms(t_ns));
    put_str(b, "cluster", cluster);
    put_str(b, "vm", vm->uuid);
    put_str(b, "name", vm->name ? vm->name : "");
    put_str(b, "host", host_name(m, vm->host));
    put_date(b, "t", t_ns);
    BSON_APPEND_DOUBLE(b, "cpu_cores", model_vm_cores_smoothed(m, v, t_ns));
    BSON_APPEND_DOUBLE(b, "cpu_instant_cores", vm->cpu_cores);
    BSON_APPEND_INT32(b, "vcpus", (int32_t)vm->vcpus);
    BSON_APPEND_DOUBLE(b, "mem_mib", vm->mem_mib);
    return b;
}

bson_t *docs_power_sample(const char *cluster, const struct model *m, int h, int64_t t_ns,
                          struct docs_power_prev *prev)
{
    const struct model_host *mh = &m->hosts[h];
    const struct config_host *ch = &m->cfg->hosts[mh->cfg_index];
    double watts = mh->watts > 0 ? mh->watts : 0;
    double kwh = mh->watts_from_model ? -1 : mh->meter_kwh;
    double joules = 0, interval_s = 0;
    bool from_counter = false;
    if (prev->have && t_ns > prev->t_ns) {
        int64_t dt = t_ns - prev->t_ns;
        if (dt > DOCS_MAX_GAP_NS)
            dt = DOCS_MAX_GAP_NS;
        interval_s = (double)dt / JOULE_NS_PER_S;
        if (kwh >= 0 && prev->meter_kwh >= 0 && kwh >= prev->meter_kwh &&
            t_ns - prev->t_ns <= DOCS_MAX_GAP_NS) {
            joules = (kwh - prev->meter_kwh) * J_PER_KWH;
            from_counter = true;
        } else {
            joules = (prev->watts + watts) / 2 * interval_s;
        }
    }
    bson_t *b = bson_new();
    put_id(b, "%s/%s/%lld", cluster, mh->name, (long long)ns_to_ms(t_ns));
    put_str(b, "cluster", cluster);
    put_str(b, "host", mh->name);
    put_str(b, "meter", ch->meter && !mh->watts_from_model ? ch->meter : "");
    put_date(b, "t", t_ns);
    put_date(b, "hour", docs_hour_ns(t_ns));
    put_date(b, "day", docs_day_ns(t_ns));
    BSON_APPEND_DOUBLE(b, "watts", watts);
    BSON_APPEND_DOUBLE(b, "joules", joules);
    BSON_APPEND_DOUBLE(b, "interval_s", interval_s);
    put_str(b, "source", mh->watts_from_model ? "model" : "meter");
    put_str(b, "energy_from", from_counter ? "counter" : "watts");
    if (kwh >= 0)
        BSON_APPEND_DOUBLE(b, "meter_kwh", kwh);
    else
        BSON_APPEND_NULL(b, "meter_kwh");
    prev->have = true;
    prev->t_ns = t_ns;
    prev->watts = watts;
    prev->meter_kwh = kwh;
    return b;
}

/* FNV-1a, to tell apart events of the same kind, host and millisecond. */
static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

bson_t *docs_event(const char *cluster, const struct event_record *r)
{
    bson_t *b = bson_new();
    put_id(b, "%s/%lld/%s/%s/%08x", cluster, (long long)ns_to_ms(r->t_ns), r->kind, r->host,
           fnv1a(r->detail));
    put_str(b, "cluster", cluster);
    put_str(b, "kind", r->kind);
    put_date(b, "t", r->t_ns);
    put_str(b, "host", r->host);
    put_str(b, "detail", r->detail);
    return b;
}

static double seconds(int64_t ns) { return (double)ns / JOULE_NS_PER_S; }

bson_t *docs_migration(const char *cluster, const struct migration_record *r)
{
    bson_t *b = bson_new();
    put_id(b, "%s/%s/%s/%lld", cluster, r->plan_id, r->vm_uuid, (long long)ns_to_ms(r->start_ns));
    put_str(b, "cluster", cluster);
    put_str(b, "plan", r->plan_id);
    put_str(b, "vm", r->vm_uuid);
    put_str(b, "vm_name", r->vm_name);
    put_str(b, "from", r->from);
    put_str(b, "to", r->to);
    put_date(b, "start", r->start_ns);
    put_date(b, "end", r->end_ns);
    BSON_APPEND_DOUBLE(b, "duration_s", r->end_ns > r->start_ns ? seconds(r->end_ns - r->start_ns) : 0);
    const char *result = "failed";
    if (r->ok)
        result = "ok";
    else if (r->aborted)
        result = "aborted";
    put_str(b, "result", result);
    BSON_APPEND_BOOL(b, "ok", r->ok);
    BSON_APPEND_BOOL(b, "aborted", r->aborted);
    BSON_APPEND_INT64(b, "bytes", (int64_t)(r->bytes > INT64_MAX ? INT64_MAX : r->bytes));
    put_str(b, "error", r->error);
    put_str(b, "reason", r->reason);
    if (r->downtime_ns >= 0)
        BSON_APPEND_DOUBLE(b, "downtime_s", seconds(r->downtime_ns));
    else
        BSON_APPEND_NULL(b, "downtime_s");
    return b;
}

bson_t *docs_power_action(const char *cluster, const struct power_action_record *r)
{
    const char *action = r->action == RECORD_POWER_ON ? "on" : "off";
    bson_t *b = bson_new();
    put_id(b, "%s/%s/%s/%lld", cluster, r->host, action, (long long)ns_to_ms(r->start_ns));
    put_str(b, "cluster", cluster);
    put_str(b, "host", r->host);
    put_str(b, "action", action);
    put_str(b, "method", r->method);
    put_date(b, "start", r->start_ns);
    put_date(b, "end", r->end_ns);
    BSON_APPEND_DOUBLE(b, "duration_s", r->end_ns > r->start_ns ? seconds(r->end_ns - r->start_ns) : 0);
    put_str(b, "result", r->ok ? "ok" : "failed");
    BSON_APPEND_BOOL(b, "ok", r->ok);
    put_str(b, "verified_by", r->verified_by);
    put_str(b, "error", r->error);
    BSON_APPEND_BOOL(b, "forced", r->forced);
    return b;
}

const char *docs_plan_id(const char *cluster, int64_t t_ns, char *buf, size_t n)
{
    snprintf(buf, n, "%s/plan/%lld", cluster, (long long)ns_to_ms(t_ns));
    return buf;
}

static void put_name_or_null(bson_t *b, const char *key, const char *name)
{
    if (name)
        BSON_APPEND_UTF8(b, key, name);
    else
        BSON_APPEND_NULL(b, key);
}

static const char *snap_host_name(const struct model_snapshot *s, int h)
{
    return h >= 0 && (size_t)h < s->n_hosts ? s->hosts[h].name : NULL;
}

bson_t *docs_plan(const char *cluster, const char *plan_id, int64_t t_ns, const char *trigger,
                  const char *policy, const char *mode, const char *outcome,
                  const struct plan *p, const struct model_snapshot *snap)
{
    bson_t *b = bson_new();
    BSON_APPEND_UTF8(b, "_id", plan_id);
    put_str(b, "cluster", cluster);
    put_date(b, "t", t_ns);
    put_str(b, "trigger", trigger);
    put_str(b, "policy", policy);
    put_str(b, "mode", mode);
    put_str(b, "outcome", outcome);
    BSON_APPEND_INT32(b, "n_actions", (int32_t)p->n);
    bson_t arr;
    BSON_APPEND_ARRAY_BEGIN(b, "actions", &arr);
    for (size_t i = 0; i < p->n; i++) {
        const struct plan_action *a = &p->actions[i];
        char key[16];
        const char *k = NULL;
        bson_uint32_to_string((uint32_t)i, &k, key, sizeof key);
        bson_t act;
        bson_append_document_begin(&arr, k, -1, &act);
        put_str(&act, "kind", plan_action_kind_name(a->kind));
        put_str(&act, "reason", plan_reason_name(a->reason));
        put_str(&act, "detail", a->detail);
        BSON_APPEND_DOUBLE(&act, "expected_gain_w", a->expected_gain_w);
        const struct snap_vm *vm =
            a->vm >= 0 && (size_t)a->vm < snap->n_vms ? &snap->vms[a->vm] : NULL;
        put_name_or_null(&act, "vm", vm ? vm->uuid : NULL);
        put_name_or_null(&act, "vm_name", vm ? vm->name : NULL);
        put_name_or_null(&act, "from", snap_host_name(snap, a->from));
        put_name_or_null(&act, "to", snap_host_name(snap, a->to));
        put_name_or_null(&act, "host", snap_host_name(snap, a->host));
        if (a->kind == PLAN_ACTION_MIGRATE) {
            BSON_APPEND_DOUBLE(&act, "from_load_pct", a->from_load_pct);
            BSON_APPEND_DOUBLE(&act, "to_load_pct", a->to_load_pct);
        } else {
            BSON_APPEND_NULL(&act, "from_load_pct");
            BSON_APPEND_NULL(&act, "to_load_pct");
        }
        bson_append_document_end(&arr, &act);
    }
    bson_append_array_end(b, &arr);
    return b;
}

int docs_retention(struct store *s, int64_t now_ns, int retention_days, size_t max_docs,
                   struct joule_err *err)
{
    static const char *const samples[] = { DOCS_HOST_SAMPLES, DOCS_VM_SAMPLES,
                                           DOCS_POWER_SAMPLES };
    int64_t before = now_ns - (int64_t)retention_days * NS_PER_DAY;
    int total = 0;
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        int rc = store_expire(s, samples[i], "t", before, max_docs, err);
        if (rc < 0)
            return rc;
        total += rc;
    }
    return total;
}
