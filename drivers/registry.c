/* registry.c - the only file that names every driver. */
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

extern const struct hypervisor_ops hypervisor_sim_ops;
extern const struct hypervisor_ops hypervisor_libvirt_ops;
extern const struct meter_ops meter_sim_ops;
extern const struct meter_ops meter_xbee1_ops, meter_xbee2_ops, meter_znp_ops;
extern const struct power_ops power_sim_ops;
extern const struct power_ops power_ipmi_ops;
extern const struct power_ops power_wol_ops;
extern const struct power_ops power_exec_ops;
extern const struct store_ops store_memory_ops;
extern const struct store_ops store_mongo_ops;

static const struct hypervisor_ops *const hypervisor_drivers[] = {
    &hypervisor_sim_ops,
    &hypervisor_libvirt_ops,
    NULL,
};
static const struct meter_ops *const meter_drivers[] = {
    &meter_sim_ops,
    &meter_xbee1_ops, &meter_xbee2_ops, &meter_znp_ops,
    NULL,
};
static const struct power_ops *const power_drivers[] = {
    &power_sim_ops,
    &power_ipmi_ops, &power_wol_ops, &power_exec_ops,
    NULL,
};
static const struct store_ops *const store_drivers[] = {
    &store_memory_ops,
    &store_mongo_ops,
    NULL,
};

#define FIND(table, name)                                                                          \
    do {                                                                                           \
        for (size_t i_ = 0; table[i_]; i_++)                                                       \
            if (strcmp(table[i_]->name, name) == 0)                                                \
                return table[i_];                                                                  \
        return NULL;                                                                               \
    } while (0)

const struct hypervisor_ops *registry_find_hypervisor(const char *name) { FIND(hypervisor_drivers, name); }
const struct meter_ops *registry_find_meter(const char *name) { FIND(meter_drivers, name); }
const struct power_ops *registry_find_power(const char *name) { FIND(power_drivers, name); }
const struct store_ops *registry_find_store(const char *name) { FIND(store_drivers, name); }

static int check(bool ok, const char *kind, const char *name, const char *what,
                 struct joule_err *err)
{
    if (ok)
        return 0;
    return joule_err_set(err, JOULE_EINVAL, "%s driver %s: %s", kind, name, what);
}

int registry_validate(struct joule_err *err)
{
    int rc = 0;
    for (size_t i = 0; hypervisor_drivers[i] && rc == 0; i++) {
        const struct hypervisor_ops *o = hypervisor_drivers[i];
        rc = check(o->abi == JOULE_DRIVER_ABI && o->name && o->create && o->connect && o->alive &&
                       o->sample && o->migrate && o->destroy,
                   "hypervisor", o->name ? o->name : "?", "wrong ABI or a required op is missing",
                   err);
    }
    for (size_t i = 0; meter_drivers[i] && rc == 0; i++) {
        const struct meter_ops *o = meter_drivers[i];
        rc = check(o->abi == JOULE_DRIVER_ABI && o->name && o->create && o->open && o->poll &&
                       o->destroy,
                   "meter", o->name ? o->name : "?", "wrong ABI or a required op is missing", err);
    }
    for (size_t i = 0; power_drivers[i] && rc == 0; i++) {
        const struct power_ops *o = power_drivers[i];
        rc = check(o->abi == JOULE_DRIVER_ABI && o->name && o->create && o->on && o->destroy,
                   "power", o->name ? o->name : "?", "wrong ABI or a required op is missing", err);
    }
    for (size_t i = 0; store_drivers[i] && rc == 0; i++) {
        const struct store_ops *o = store_drivers[i];
        rc = check(o->abi == JOULE_DRIVER_ABI && o->name && o->create && o->open && o->insert &&
                       o->upsert && o->lease && o->destroy,
                   "store", o->name ? o->name : "?", "wrong ABI or a required op is missing", err);
    }
    return rc;
}

void registry_describe(char *buf, size_t n)
{
    size_t used = 0;
#define LIST(label, table)                                                                         \
    do {                                                                                           \
        int w_ = snprintf(buf + used, n - used, "%s%s:", used ? "; " : "", label);                 \
        if (w_ > 0 && (size_t)w_ < n - used)                                                       \
            used += (size_t)w_;                                                                    \
        for (size_t i_ = 0; table[i_]; i_++) {                                                     \
            w_ = snprintf(buf + used, n - used, " %s", table[i_]->name);                           \
            if (w_ > 0 && (size_t)w_ < n - used)                                                   \
                used += (size_t)w_;                                                                \
        }                                                                                          \
    } while (0)
    if (n == 0)
        return;
    buf[0] = '\0';
    LIST("hypervisor", hypervisor_drivers);
    LIST("meter", meter_drivers);
    LIST("power", power_drivers);
    LIST("store", store_drivers);
#undef LIST
}

/* ---- handles ---- */

/* Handles are used from several threads at once (monitor sample workers, executor migration
 * workers, power jobs): the call counter is the wrappers' only own state, so it is atomic. */
#define CALL_COUNT(h) __atomic_fetch_add(&(h)->calls, 1UL, __ATOMIC_RELAXED)

#define PREFIXED(rc, id)                                                                           \
    ((rc) < 0 ? joule_err_prefix(err, (rc), "%s: ", (id)) : (rc))

int hypervisor_new(const struct hypervisor_ops *ops, const struct config_host *host,
                   const struct drv_env *env, struct hypervisor **out, struct joule_err *err)
{
    void *st = NULL;
    int rc = ops->create(host, env, &st, err);
    if (rc < 0)
        return joule_err_prefix(err, rc, "%s: ", host->name);
    struct hypervisor *h = xcalloc(1, sizeof *h);
    h->ops = ops;
    h->state = st;
    h->id = xstrdup(host->name);
    *out = h;
    return 0;
}

void hypervisor_free(struct hypervisor *h)
{
    if (!h)
        return;
    if (h->ops->close)
        h->ops->close(h->state);
    h->ops->destroy(h->state);
    free(h->id);
    free(h);
}

int hypervisor_connect(struct hypervisor *h, struct joule_err *err)
{
    CALL_COUNT(h);
    int rc = h->ops->connect(h->state, err);
    return PREFIXED(rc, h->id);
}

bool hypervisor_alive(struct hypervisor *h) { return h->ops->alive(h->state); }

void hypervisor_retry_soon(struct hypervisor *h)
{
    if (h->ops->retry_soon)
        h->ops->retry_soon(h->state);
}
bool hypervisor_thread_safe(const struct hypervisor *h) { return h->ops->thread_safe; }

int hypervisor_sample(struct hypervisor *h, struct hv_sample *out, struct joule_err *err)
{
    CALL_COUNT(h);
    int rc = h->ops->sample(h->state, out, err);
    return PREFIXED(rc, h->id);
}

int hypervisor_migrate(struct hypervisor *h, const char *vm_uuid, const struct hv_migrate_dest *dest,
                       const struct hv_migrate_opts *opts, struct hv_migrate_result *res,
                       struct joule_err *err)
{
    CALL_COUNT(h);
    int rc = h->ops->migrate(h->state, vm_uuid, dest, opts, res, err);
    return PREFIXED(rc, h->id);
}

int hypervisor_abort_migration(struct hypervisor *h, const char *vm_uuid, struct joule_err *err)
{
    if (!h->ops->abort_migration)
        return joule_err_set(err, JOULE_ENOTSUP, "%s: abort is not supported", h->id);
    CALL_COUNT(h);
    int rc = h->ops->abort_migration(h->state, vm_uuid, err);
    return PREFIXED(rc, h->id);
}

int hypervisor_job_info(struct hypervisor *h, const char *vm_uuid, struct hv_job_info *out,
                        struct joule_err *err)
{
    if (!h->ops->job_info)
        return joule_err_set(err, JOULE_ENOTSUP, "%s: job info is not supported", h->id);
    CALL_COUNT(h);
    int rc = h->ops->job_info(h->state, vm_uuid, out, err);
    return PREFIXED(rc, h->id);
}

int meter_new(const struct meter_ops *ops, const struct config *cfg, const struct drv_env *env,
              struct meter **out, struct joule_err *err)
{
    void *st = NULL;
    int rc = ops->create(cfg, env, &st, err);
    if (rc < 0)
        return joule_err_prefix(err, rc, "meter %s: ", ops->name);
    struct meter *m = xcalloc(1, sizeof *m);
    m->ops = ops;
    m->state = st;
    m->id = xasprintf("meter %s", ops->name);
    *out = m;
    return 0;
}

void meter_free(struct meter *m)
{
    if (!m)
        return;
    if (m->ops->close)
        m->ops->close(m->state);
    m->ops->destroy(m->state);
    free(m->id);
    free(m);
}

int meter_open(struct meter *m, struct joule_err *err)
{
    CALL_COUNT(m);
    int rc = m->ops->open(m->state, err);
    return PREFIXED(rc, m->id);
}

int meter_poll(struct meter *m, struct meter_reading *out, size_t max, int timeout_ms,
               struct joule_err *err)
{
    CALL_COUNT(m);
    int rc = m->ops->poll(m->state, out, max, timeout_ms, err);
    return PREFIXED(rc, m->id);
}

void meter_stats(struct meter *m, struct meter_stats *out)
{
    memset(out, 0, sizeof *out);
    if (m->ops->stats)
        m->ops->stats(m->state, out);
}

int power_new(const struct power_ops *ops, const struct config_host *host,
              const struct drv_env *env, struct power **out, struct joule_err *err)
{
    void *st = NULL;
    int rc = ops->create(host, env, &st, err);
    if (rc < 0)
        return joule_err_prefix(err, rc, "%s/%s: ", host->name, ops->name);
    struct power *p = xcalloc(1, sizeof *p);
    p->ops = ops;
    p->state = st;
    p->id = xasprintf("%s/%s", host->name, ops->name);
    *out = p;
    return 0;
}

void power_free(struct power *p)
{
    if (!p)
        return;
    p->ops->destroy(p->state);
    free(p->id);
    free(p);
}

int power_status(struct power *p, enum power_hw *out, struct joule_err *err)
{
    if (!p->ops->status)
        return joule_err_set(err, JOULE_ENOTSUP, "%s: status is not supported", p->id);
    CALL_COUNT(p);
    int rc = p->ops->status(p->state, out, err);
    return PREFIXED(rc, p->id);
}

int power_on(struct power *p, struct joule_err *err)
{
    CALL_COUNT(p);
    int rc = p->ops->on(p->state, err);
    return PREFIXED(rc, p->id);
}

int power_off(struct power *p, bool hard, struct joule_err *err)
{
    if (!p->ops->off)
        return joule_err_set(err, JOULE_ENOTSUP, "%s: power off is not supported", p->id);
    CALL_COUNT(p);
    int rc = p->ops->off(p->state, hard, err);
    return PREFIXED(rc, p->id);
}

int power_read_watts(struct power *p, double *watts, struct joule_err *err)
{
    if (!p->ops->read_watts)
        return joule_err_set(err, JOULE_ENOTSUP, "%s: power reading is not supported", p->id);
    CALL_COUNT(p);
    int rc = p->ops->read_watts(p->state, watts, err);
    return PREFIXED(rc, p->id);
}

int store_new(const struct store_ops *ops, const struct config *cfg, const struct drv_env *env,
              struct store **out, struct joule_err *err)
{
    void *st = NULL;
    int rc = ops->create(cfg, env, &st, err);
    if (rc < 0)
        return joule_err_prefix(err, rc, "store %s: ", ops->name);
    struct store *s = xcalloc(1, sizeof *s);
    s->ops = ops;
    s->state = st;
    s->id = xasprintf("store %s", ops->name);
    *out = s;
    return 0;
}

void store_free(struct store *s)
{
    if (!s)
        return;
    if (s->ops->close)
        s->ops->close(s->state);
    s->ops->destroy(s->state);
    free(s->id);
    free(s);
}

int store_open(struct store *s, struct joule_err *err)
{
    CALL_COUNT(s);
    int rc = s->ops->open(s->state, err);
    return PREFIXED(rc, s->id);
}

int store_insert(struct store *s, const char *collection, const bson_t *const *docs, size_t n,
                 struct joule_err *err)
{
    CALL_COUNT(s);
    int rc = s->ops->insert(s->state, collection, docs, n, err);
    return PREFIXED(rc, s->id);
}

int store_upsert(struct store *s, const char *collection, const bson_t *selector,
                 const bson_t *doc, struct joule_err *err)
{
    CALL_COUNT(s);
    int rc = s->ops->upsert(s->state, collection, selector, doc, err);
    return PREFIXED(rc, s->id);
}

int store_lease(struct store *s, const char *cluster, const char *holder, int64_t now_ns,
                int64_t ttl_ns, bool *held, struct joule_err *err)
{
    CALL_COUNT(s);
    int rc = s->ops->lease(s->state, cluster, holder, now_ns, ttl_ns, held, err);
    return PREFIXED(rc, s->id);
}

int store_flush(struct store *s, struct joule_err *err)
{
    if (!s->ops->flush)
        return 0;
    CALL_COUNT(s);
    int rc = s->ops->flush(s->state, err);
    return PREFIXED(rc, s->id);
}

size_t store_spool_depth(struct store *s)
{
    return s->ops->spool_depth ? s->ops->spool_depth(s->state) : 0;
}

int store_expire(struct store *s, const char *collection, const char *field, int64_t before_ns,
                 size_t max_docs, struct joule_err *err)
{
    if (!s->ops->expire)
        return 0;
    CALL_COUNT(s);
    int rc = s->ops->expire(s->state, collection, field, before_ns, max_docs, err);
    return PREFIXED(rc, s->id);
}
