/* replay_mongo.h - a replay workload from the controller's own vm_samples in MongoDB.
 * Documents read (schemas/vm_samples.json): { cluster, vm (uuid), name, host, t (date),
 * cpu_instant_cores (else cpu_cores, else cpu), vcpus, mem_mib }. Samples are averaged per
 * decision interval from `from_s` (like PlanetLab's 5-minute averages; a bucket without samples
 * repeats the previous value); a VM's size is its vCPUs (utilisation = cores / vcpus) and it
 * starts on the host of its first sample, which must be a host of the configuration. */
#ifndef JOULE_REPLAY_MONGO_H
#define JOULE_REPLAY_MONGO_H

#include "replay.h"

struct config;

struct replay_mongo_query {
    const char *uri;
    const char *database;  /* NULL: the config's store.database, else "joule" */
    const char *cluster;   /* NULL: the config's cluster */
    double from_s;         /* Unix seconds, UTC */
    double to_s;
    double interval_s;
};

/* "2026-03-01T00:00:00Z" (or without Z, or a plain Unix time) -> Unix seconds. */
int replay_parse_time(const char *text, double *out_s);
int replay_load_mongo(const struct replay_mongo_query *q, const struct config *cfg,
                      struct replay_workload **out, struct joule_err *err);

#endif
