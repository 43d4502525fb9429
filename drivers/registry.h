/* registry.h - the static name -> driver tables, and the handles the controller owns.
 * The controller calls these wrappers, never ops->fn directly: they handle optional ops
 * (JOULE_ENOTSUP), add the driver id to errors, and count calls. */
#ifndef JOULE_DRIVERS_REGISTRY_H
#define JOULE_DRIVERS_REGISTRY_H

#include "driver.h"

const struct hypervisor_ops *registry_find_hypervisor(const char *name);
const struct meter_ops *registry_find_meter(const char *name);
const struct power_ops *registry_find_power(const char *name);
const struct store_ops *registry_find_store(const char *name);
/* Checks every table's ABI and required ops. */
int registry_validate(struct joule_err *err);
/* Writes "hypervisor: libvirt sim; meter: ...; ..." for --version / diagnostics. */
void registry_describe(char *buf, size_t n);

struct hypervisor {
    const struct hypervisor_ops *ops;
    void *state;
    char *id;          /* host name */
    unsigned long calls;
};
int hypervisor_new(const struct hypervisor_ops *ops, const struct config_host *host,
                   const struct drv_env *env, struct hypervisor **out, struct joule_err *err);
void hypervisor_free(struct hypervisor *h);
int hypervisor_connect(struct hypervisor *h, struct joule_err *err);
bool hypervisor_alive(struct hypervisor *h);
/* The host is being powered on: its next connect attempt should not wait for the backoff. */
void hypervisor_retry_soon(struct hypervisor *h);
/* Added (monitor-parallel): may this handle be sampled on a worker thread (ops->thread_safe)? */
bool hypervisor_thread_safe(const struct hypervisor *h);
int hypervisor_sample(struct hypervisor *h, struct hv_sample *out, struct joule_err *err);
int hypervisor_migrate(struct hypervisor *h, const char *vm_uuid, const struct hv_migrate_dest *dest,
                       const struct hv_migrate_opts *opts, struct hv_migrate_result *res,
                       struct joule_err *err);
int hypervisor_abort_migration(struct hypervisor *h, const char *vm_uuid, struct joule_err *err);
int hypervisor_job_info(struct hypervisor *h, const char *vm_uuid, struct hv_job_info *out,
                        struct joule_err *err);

struct meter {
    const struct meter_ops *ops;
    void *state;
    char *id;
    unsigned long calls;
};
int meter_new(const struct meter_ops *ops, const struct config *cfg, const struct drv_env *env,
              struct meter **out, struct joule_err *err);
void meter_free(struct meter *m);
int meter_open(struct meter *m, struct joule_err *err);
int meter_poll(struct meter *m, struct meter_reading *out, size_t max, int timeout_ms,
               struct joule_err *err);
void meter_stats(struct meter *m, struct meter_stats *out);

struct power {
    const struct power_ops *ops;
    void *state;
    char *id;          /* "host/method" */
    unsigned long calls;
};
int power_new(const struct power_ops *ops, const struct config_host *host,
              const struct drv_env *env, struct power **out, struct joule_err *err);
void power_free(struct power *p);
int power_status(struct power *p, enum power_hw *out, struct joule_err *err);
int power_on(struct power *p, struct joule_err *err);
int power_off(struct power *p, bool hard, struct joule_err *err);
int power_read_watts(struct power *p, double *watts, struct joule_err *err);

struct store {
    const struct store_ops *ops;
    void *state;
    char *id;
    unsigned long calls;
};
int store_new(const struct store_ops *ops, const struct config *cfg, const struct drv_env *env,
              struct store **out, struct joule_err *err);
void store_free(struct store *s);
int store_open(struct store *s, struct joule_err *err);
int store_insert(struct store *s, const char *collection, const bson_t *const *docs, size_t n,
                 struct joule_err *err);
int store_upsert(struct store *s, const char *collection, const bson_t *selector,
                 const bson_t *doc, struct joule_err *err);
int store_lease(struct store *s, const char *cluster, const char *holder, int64_t now_ns,
                int64_t ttl_ns, bool *held, struct joule_err *err);
int store_flush(struct store *s, struct joule_err *err);
size_t store_spool_depth(struct store *s);
/* Retention (optional op; 0 when the driver has none). */
int store_expire(struct store *s, const char *collection, const char *field, int64_t before_ns,
                 size_t max_docs, struct joule_err *err);

#endif
