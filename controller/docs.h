/* docs.h - builders that turn the controller's data into the BSON documents of schemas/.
 * Every document carries `cluster` and a deterministic `_id` (the same input gives the same
 * _id), so a spool replay or a retry never duplicates. Each builder returns a new bson_t the
 * caller destroys. Times are UTC dates (ms). */
#ifndef JOULE_DOCS_H
#define JOULE_DOCS_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#include "model.h"
#include "policy/model_snapshot.h"
#include "policy/plan.h"
#include "records.h"

/* Longest interval a power sample integrates over; a longer gap (controller down) counts only
 * this much, rather than guessing the energy of a time nobody watched. */
#define DOCS_MAX_GAP_NS (600LL * 1000000000LL)

/* What docs_power_sample remembers per host between samples; zero it to start. */
struct docs_power_prev {
    bool have;
    int64_t t_ns;
    double watts;
    double meter_kwh;   /* < 0: none */
};

/* Collections (the names in schemas/). */
#define DOCS_HOSTS "hosts"
#define DOCS_HOST_SAMPLES "host_samples"
#define DOCS_VM_SAMPLES "vm_samples"
#define DOCS_POWER_SAMPLES "power_samples"
#define DOCS_EVENTS "events"
#define DOCS_PLANS "plans"
#define DOCS_MIGRATIONS "migrations"
#define DOCS_POWER_ACTIONS "power_actions"
#define DOCS_LEASES "leases"

/* Current inventory/state of host h ("hosts"; _id cluster/host: replace it with an upsert). */
bson_t *docs_host(const char *cluster, const struct model *m, int h, int64_t t_ns);
/* One tick of host h ("host_samples"). */
bson_t *docs_host_sample(const char *cluster, const struct model *m, int h, int64_t t_ns);
/* One tick of VM v ("vm_samples"); NULL if the VM is on no host. */
bson_t *docs_vm_sample(const char *cluster, const struct model *m, int v, int64_t t_ns);
/* One power sample of host h ("power_samples") from m->hosts[h].watts: joules since the previous
 * sample of the host (trapezoid over the interval, capped at DOCS_MAX_GAP_NS; the difference of
 * the meter's kWh counter instead when both samples have it and it did not go backwards),
 * `hour`/`day` = t truncated, source "meter" or "model". Updates *prev. */
bson_t *docs_power_sample(const char *cluster, const struct model *m, int h, int64_t t_ns,
                          struct docs_power_prev *prev);
bson_t *docs_event(const char *cluster, const struct event_record *r);
bson_t *docs_migration(const char *cluster, const struct migration_record *r);
bson_t *docs_power_action(const char *cluster, const struct power_action_record *r);
/* A plan; host and VM names come from the snapshot it was made on. plan_id is its _id (see
 * docs_plan_id). outcome: "planned", "dry-run", "executed", "failed", ... */
bson_t *docs_plan(const char *cluster, const char *plan_id, int64_t t_ns, const char *trigger,
                  const char *policy, const char *mode, const char *outcome,
                  const struct plan *p, const struct model_snapshot *snap);
/* Writes "cluster/plan/<t ms>" into buf (n >= 64 recommended); returns buf. */
const char *docs_plan_id(const char *cluster, int64_t t_ns, char *buf, size_t n);

struct store;
/* Retention: deletes this cluster's host, VM and power samples older than retention_days
 * before now_ns, at most max_docs per collection per call (call it every tick or so: it works
 * in batches and stays within its time budget). Returns the number deleted. */
int docs_retention(struct store *s, int64_t now_ns, int retention_days, size_t max_docs,
                   struct joule_err *err);

/* t truncated to the UTC hour / day, in ns. */
int64_t docs_hour_ns(int64_t t_ns);
int64_t docs_day_ns(int64_t t_ns);

#endif
