/* model_snapshot.h - the read-only cluster picture the policy engine decides on.
 * Plain data: no pointers into live state except borrowed name strings, which live as long as
 * the snapshot's owner (model_snapshot_free releases only the arrays). */
#ifndef JOULE_POLICY_MODEL_SNAPSHOT_H
#define JOULE_POLICY_MODEL_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Host power states of the controller's state machine (controller/power.c). */
enum power_state {
    POWER_STATE_UNKNOWN,
    POWER_STATE_ON,
    POWER_STATE_DRAINING,
    POWER_STATE_POWERING_OFF,
    POWER_STATE_OFF,
    POWER_STATE_WAKING,
    POWER_STATE__COUNT
};

#define SNAP_NEVER INT64_MIN

struct snap_host {
    const char *name;
    double cpus;            /* capacity in cores (or MIPS-equivalent units: same unit as VMs) */
    double mem_mib;
    enum power_state state;
    double load_pct;        /* measured, smoothed over the load window; 0..100 of cpus */
    double idle_w;          /* power model: watts at 0% and at 100% */
    double max_w;
    int priority;           /* lower wakes first */
    bool excluded;          /* never a target, never powered off */
    bool reachable;
    int64_t off_since_ns;   /* SNAP_NEVER if not off */
    int64_t boot_ns;        /* expected boot-to-verified time */
    bool receiving;         /* a migration to it is in flight: never emptied or powered off */
    /* Added for replay and the reference policies (issue 9). Zero = not known / no limit. */
    double pe_cpus;         /* capacity of one core (same unit as cpus); 0 = no per-core cap */
    double used_cpus;       /* CPU actually allocated to its VMs now (same unit as cpus) */
    bool has_power_curve;   /* power_curve_w holds watts at 0,10,...,100 % (else idle_w..max_w) */
    double power_curve_w[11];
    unsigned max_vms;       /* at most this many VMs (0 = no limit) */
    /* Added by issue 10 item 3: when the host came on (a wake, or a power-on seen after it was
     * known off); SNAP_NEVER if unknown (on since before the controller knew it) or not on.
     * Th2 does not empty a host on for less than host_min_on_ns. */
    int64_t on_since_ns;
};

struct snap_vm {
    const char *uuid;
    const char *name;
    int host;               /* index into hosts */
    double vcpus;
    double mem_mib;
    double cpu_cores;       /* smoothed CPU in use, in cores (same unit as snap_host.cpus) */
    bool pinned;            /* never moved */
    bool migrating;         /* a migration of it is in flight */
    int64_t last_move_ns;   /* SNAP_NEVER if never moved */
    /* Added for replay and the reference policies (issue 9). */
    double cpu_max;         /* the VM's full CPU size in host units (0 = vcpus) */
    const double *demand_history; /* borrowed: recent CPU demand (cpu_cores unit), most recent
                                   * first, one per decision interval; may be NULL */
    size_t n_history;
    uint64_t host_seq;      /* order of the VM in its host's list (lower = earlier) */
};

struct model_snapshot {
    int64_t now_ns;
    struct snap_host *hosts;
    size_t n_hosts;
    struct snap_vm *vms;
    size_t n_vms;
    bool consolidation_allowed; /* off-peak window (or configured "always") */
    bool peak;                  /* inside a peak window */
    unsigned min_active_hosts;  /* for now (peak minimum during peak) */
    double expected_load_cores; /* peak pre-wake: load that must fit under Th1; 0 = none */
};

#endif
