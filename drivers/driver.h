/* driver.h - the four driver vtables (hypervisor, meter, power, store) and the plain data they
 * exchange with the controller. The controller never includes a driver's own header; it owns a
 * handle { ops, state } and calls the wrappers in drivers/registry.h. */
#ifndef JOULE_DRIVERS_DRIVER_H
#define JOULE_DRIVERS_DRIVER_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "util/err.h"

#define JOULE_DRIVER_ABI 1
#define JOULE_UUID_STRLEN 37 /* 36 characters + NUL */

struct clock;
struct log_ctx;
struct sim_cluster;

/* What the core lends a driver; borrowed, outlives it. */
struct drv_env {
    const struct clock *clock;  /* injected: real or simulated */
    struct sim_cluster *sim;    /* only for the sim drivers; NULL otherwise */
};

/* ---------------------------------------------------------------- hypervisor (one per host) */

enum hv_vm_state { HV_VM_RUNNING, HV_VM_PAUSED, HV_VM_SHUTOFF, HV_VM_OTHER };

struct hv_vm_sample {
    char uuid[JOULE_UUID_STRLEN];
    char *name;                 /* owned by the sample */
    enum hv_vm_state state;
    uint64_t cpu_time_ns;       /* cumulative; may restart after a migration (new process) */
    unsigned vcpus;
    uint64_t mem_kib;           /* current (balloon) or maximum if no balloon */
    uint64_t rx_bytes;          /* summed over interfaces, cumulative */
    uint64_t tx_bytes;
    bool migrating;             /* an outgoing migration job is active */
};

struct hv_sample {
    int64_t t_ns;               /* when taken (driver's clock, wall) */
    int64_t mono_ns;            /* when taken (monotonic): deltas use this */
    double cpus;                /* node cores as the hypervisor reports them */
    unsigned mhz;
    uint64_t mem_kib;
    struct hv_vm_sample *vms;
    size_t n_vms;
    size_t cap_vms;
};

struct hv_migrate_dest {
    const char *name;           /* destination host name */
    const char *uri;            /* its control URI */
    const char *migration_uri;  /* what the source dials for peer-to-peer */
    void *state;                /* the destination host's driver state (same driver) */
};

struct hv_migrate_opts {
    unsigned flags;             /* CONFIG_MIGRATE_* */
    int64_t timeout_ns;         /* abort after this; 0 = none */
    unsigned bandwidth_mibps;   /* 0 = unlimited */
};

struct hv_migrate_result {
    int64_t start_ns;
    int64_t end_ns;
    int64_t downtime_ns;        /* -1 unknown */
    uint64_t bytes;             /* transferred, 0 unknown */
    bool aborted;               /* the timeout fired and the job was aborted */
};

struct hv_job_info {
    bool active;
    int64_t elapsed_ns;
    uint64_t data_total;
    uint64_t data_processed;
    uint64_t data_remaining;
};

struct hypervisor_ops {
    unsigned abi;
    const char *name;
    /* Parse what the driver needs from `host` (borrowed) and allocate state. No I/O. */
    int (*create)(const struct config_host *host, const struct drv_env *env, void **state,
                  struct joule_err *err);
    int (*connect)(void *state, struct joule_err *err);
    bool (*alive)(void *state);
    /* One call per host per tick: all running domains with their counters. `out` is cleared
     * first and reused. */
    int (*sample)(void *state, struct hv_sample *out, struct joule_err *err);
    /* Blocking live migration of one VM; aborts itself after opts->timeout_ns. On failure the VM
     * keeps running on the source. */
    int (*migrate)(void *state, const char *vm_uuid, const struct hv_migrate_dest *dest,
                   const struct hv_migrate_opts *opts, struct hv_migrate_result *res,
                   struct joule_err *err);
    int (*abort_migration)(void *state, const char *vm_uuid, struct joule_err *err); /* optional */
    int (*job_info)(void *state, const char *vm_uuid, struct hv_job_info *out,
                    struct joule_err *err);                                          /* optional */
    void (*close)(void *state);   /* optional; idempotent */
    void (*destroy)(void *state); /* NULL-safe */
    /* Optional: the host is expected back (it is being powered on), so the next connect()
     * tries at once instead of after the reconnect backoff. */
    void (*retry_soon)(void *state);
    /* Added (monitor-parallel): connect/alive/sample of different instances may run at once on
     * different threads (one call at a time per instance from the monitor; migrate, job_info and
     * sample may still overlap on one instance from executor workers). false (the default):
     * the monitor calls this driver inline on the loop thread, one host after another (the sim
     * drivers share one sim_cluster and the simulated clock). */
    bool thread_safe;
};

/* ---------------------------------------------------------------- meters (one per cluster) */

struct meter_reading {
    uint64_t ieee;              /* the meter's 64-bit IEEE address */
    int host;                   /* config host index, -1 if the meter is unknown */
    int64_t t_ns;
    bool has_watts;
    double watts;
    bool has_energy;
    double energy_kwh;          /* CurrentSummationDelivered, scaled */
    bool has_joules;            /* energy since this meter's previous watts reading */
    double joules;              /* trapezoid of the two readings; set when interval <= stale */
    int64_t interval_ns;        /* time since that previous reading */
};

struct meter_stats {
    uint64_t frames_ok;
    uint64_t bad_checksum;
    uint64_t unknown_meter;
    uint64_t resyncs;
    uint64_t truncated;
    uint64_t other_frames;      /* valid frames of types we skip */
    uint64_t reopens;
    uint64_t rejected_length;   /* impossible length field */
    uint64_t rejected_format;   /* checksum fine, content not a coordinator frame / bad ZCL */
    uint64_t garbage_bytes;     /* bytes skipped between frames */
    uint64_t readings;          /* readings produced */
    uint64_t dropped;           /* readings lost: never scaled, or the queue overflowed */
};

struct meter_ops {
    unsigned abi;
    const char *name;
    /* cfg->meter has the port settings, cfg->hosts the IEEE address -> host map. No I/O. */
    int (*create)(const struct config *cfg, const struct drv_env *env, void **state,
                  struct joule_err *err);
    int (*open)(void *state, struct joule_err *err);
    /* Fill up to `max` readings; count >= 0 or JOULE_E*. Corrupt frames: counted, skipped. */
    int (*poll)(void *state, struct meter_reading *out, size_t max, int timeout_ms,
                struct joule_err *err);
    void (*stats)(void *state, struct meter_stats *out); /* optional */
    void (*close)(void *state);
    void (*destroy)(void *state);
};

/* ---------------------------------------------------------------- power (one per host and method) */

enum power_hw { POWER_HW_UNKNOWN, POWER_HW_ON, POWER_HW_OFF };

struct power_ops {
    unsigned abi;
    const char *name;           /* "ipmi", "wol", "exec", "sim" */
    int (*create)(const struct config_host *host, const struct drv_env *env, void **state,
                  struct joule_err *err);
    int (*status)(void *state, enum power_hw *out, struct joule_err *err); /* optional (WoL) */
    int (*on)(void *state, struct joule_err *err);
    int (*off)(void *state, bool hard, struct joule_err *err);            /* optional (WoL) */
    int (*read_watts)(void *state, double *watts, struct joule_err *err); /* optional */
    void (*destroy)(void *state);
};

/* ---------------------------------------------------------------- store (one per controller) */

struct store_ops {
    unsigned abi;
    const char *name;           /* "mongo", "memory" */
    int (*create)(const struct config *cfg, const struct drv_env *env, void **state,
                  struct joule_err *err);
    int (*open)(void *state, struct joule_err *err);
    /* Inserts documents that each carry a deterministic _id; a duplicate _id is not an error
     * (replays are idempotent). Never blocks longer than a tick: on outage, spools. */
    int (*insert)(void *state, const char *collection, const bson_t *const *docs, size_t n,
                  struct joule_err *err);
    /* Replaces (or inserts) the one document matching selector. */
    int (*upsert)(void *state, const char *collection, const bson_t *selector, const bson_t *doc,
                  struct joule_err *err);
    /* Takes or renews the controller lease; *held tells whether `holder` has it now. */
    int (*lease)(void *state, const char *cluster, const char *holder, int64_t now_ns,
                 int64_t ttl_ns, bool *held, struct joule_err *err);
    int (*flush)(void *state, struct joule_err *err); /* optional: replay the spool now */
    size_t (*spool_depth)(void *state);               /* optional: documents waiting */
    void (*close)(void *state);
    void (*destroy)(void *state);
    /* optional: retention. Deletes this cluster's documents of `collection` whose date `field`
     * is before before_ns, in batches, at most max_docs per call; returns how many. */
    int (*expire)(void *state, const char *collection, const char *field, int64_t before_ns,
                  size_t max_docs, struct joule_err *err);
};

/* Sample helpers (drivers/sample.c). */
struct hv_vm_sample *hv_sample_add_vm(struct hv_sample *s); /* zeroed; name NULL */
void hv_sample_clear(struct hv_sample *s);                  /* keeps capacity */
void hv_sample_free(struct hv_sample *s);

#endif
