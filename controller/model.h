/* model.h - the controller's in-memory cluster: hosts, VMs, loads smoothed over the load window.
 * Owned by the loop thread. model_snapshot_build() copies what the policy needs. */
#ifndef JOULE_MODEL_H
#define JOULE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "policy/model_snapshot.h"

struct hv_sample;

#define MODEL_WINDOW_MAX 256 /* samples kept per series; older ones are dropped */
/* Decision-interval demand history kept per VM (model_record_history): enough for the policies'
 * longest look-back (LrMmt's regression, lr_history <= 30; joule's percentile window). */
#define MODEL_HISTORY_MAX 30

/* A time-windowed moving average: the mean of the samples taken in the last window_ns. */
struct model_window {
    double v[MODEL_WINDOW_MAX];
    int64_t t[MODEL_WINDOW_MAX];
    size_t head;   /* index of the oldest */
    size_t n;
};

void model_window_push(struct model_window *w, int64_t t_ns, double v);
/* Mean of samples with t > now - window_ns; `fallback` when there are none. */
double model_window_mean(const struct model_window *w, int64_t now_ns, int64_t window_ns,
                         double fallback);
void model_window_reset(struct model_window *w);

struct model_vm {
    char uuid[37];
    char *name;
    int host;                 /* host index; -1 when not seen on any host */
    unsigned vcpus;
    double mem_mib;
    uint64_t prev_cpu_time_ns;
    int64_t prev_mono_ns;
    bool have_prev;
    double cpu_cores;         /* instant: cores used over the last interval */
    struct model_window cpu;  /* cores */
    uint64_t rx_bytes;
    uint64_t tx_bytes;
    bool pinned;
    bool migrating;
    int64_t last_move_ns;     /* SNAP_NEVER if never moved by joule */
    int64_t last_seen_ns;
    /* Added (issue 9): smoothed demand (cores) at each policy round, most recent first, at most
     * MODEL_HISTORY_MAX; the oldest falls off. Written by model_record_history only. */
    double history[MODEL_HISTORY_MAX];
    size_t n_history;
    /* Monotonic time the executor confirmed the VM on its new host (model_vm_moved); 0 if
     * never. A host sample taken before it is older than that fact: it neither brings the VM
     * back to its old host nor, not listing it, removes it from the new one. */
    int64_t moved_mono_ns;
};

struct model_host {
    char *name;
    int cfg_index;
    double cpus;              /* capacity in cores (config override or hypervisor) */
    double mem_mib;
    enum power_state state;
    bool reachable;
    double load_pct;          /* instant */
    struct model_window load; /* pct */
    double watts;
    bool watts_from_model;    /* no fresh meter reading: estimated from the power model */
    int64_t watts_t_ns;
    int64_t meter_t_ns;       /* last real meter reading */
    double meter_kwh;         /* last CurrentSummationDelivered, if any (-1 none) */
    int64_t last_sample_ns;
    int64_t off_since_ns;
    size_t n_vms;
    double mem_used_mib;
    int64_t on_since_ns;      /* added (issue 10 item 3): wall time it came on; SNAP_NEVER if
                               * not on or unknown (set from the power state machine) */
};

struct model {
    const struct config *cfg; /* borrowed */
    struct model_host *hosts;
    size_t n_hosts;
    struct model_vm *vms;
    size_t n_vms;
    size_t cap_vms;
    int64_t history_t_ns;     /* last model_record_history (SNAP_NEVER: none yet) */
};

/* One host per configured host, state UNKNOWN, unreachable until sampled. */
struct model *model_new(const struct config *cfg);
void model_free(struct model *m);
/* Points the model at a reloaded config with the same host list (SIGHUP). */
void model_set_config(struct model *m, const struct config *cfg);

int model_host_find(const struct model *m, const char *name);
int model_vm_find(const struct model *m, const char *uuid);

/* Applies one hypervisor sample of host `h`: per-VM CPU from cpu.time deltas (a negative delta,
 * as after a migration, restarts the baseline), host load = sum of VM use / capacity. VMs
 * missing from the sample leave the host. */
void model_apply_sample(struct model *m, int h, const struct hv_sample *s);
void model_host_set_unreachable(struct model *m, int h, int64_t now_ns);
/* Meter reading (watts, optional kWh counter). */
void model_apply_meter(struct model *m, int h, int64_t t_ns, double watts, double kwh);
/* For hosts without a fresh meter reading (older than stale_ns), sets watts from the power
 * model (idle + (max - idle) * load, standby when off) and marks them as estimated. */
void model_estimate_watts(struct model *m, int64_t now_ns, int64_t stale_ns);
void model_vm_moved(struct model *m, int vm, int dest, int64_t now_ns, int64_t now_mono_ns);

double model_host_load_smoothed(const struct model *m, int h, int64_t now_ns);
double model_vm_cores_smoothed(const struct model *m, int vm, int64_t now_ns);

/* Builds a snapshot; names are borrowed from the model (valid until the model changes).
 * Each VM's demand_history / n_history borrow the model's history arrays: valid until the next
 * model_record_history or model_apply_sample (which may grow the VM table) or model_free, so a
 * snapshot serves the round it was built for (the executor copies what it keeps).
 * No host is marked `receiving`: the caller marks them (model_snapshot_set_receiving). */
void model_snapshot_build(const struct model *m, int64_t now_ns, struct model_snapshot *out);
void model_snapshot_free(struct model_snapshot *s);

/* Records one history value per VM: its smoothed demand (model_vm_cores_smoothed, cores) at
 * now_ns, pushed in front of its history (most recent first, bounded by MODEL_HISTORY_MAX).
 * The daemon calls it once per policy round (decision interval), just before
 * model_snapshot_build, so that the policies see one value per decision, as they assume
 * (LrMmt's regression on the last lr_history rounds, joule's percentile over joule_window
 * rounds). Only VMs the model sees on a host are recorded; a VM that leaves keeps its history
 * (a migrated VM is still the same workload). A second call at the same now_ns records
 * nothing. Returns the number of VMs recorded. */
size_t model_record_history(struct model *m, int64_t now_ns);
/* Marks a host of a snapshot as receiving a migration (or not): such a host is never emptied
 * nor powered off by the policies. The daemon calls it for every host with
 * executor_host_receiving() (the model does not depend on the executor). Out-of-range hosts
 * are ignored. */
void model_snapshot_set_receiving(struct model_snapshot *s, int host, bool receiving);

const char *power_state_name(enum power_state s);

#endif
