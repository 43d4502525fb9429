/* replay.h - replay a workload trace through the real policy code on a simulated cluster with a
 * simulated clock, and measure energy, migrations and CloudSim's SLA metrics.
 *
 * The simulation model is CloudSim 3.0.3's (data/planetlab/CLOUDSIM.md): hosts with cores of a
 * given capacity (MIPS) and an 11-point power table; a VM's demand is its trace's utilisation x
 * its size, capped at one core; over-subscribed hosts scale every VM down; a migration takes
 * RAM / throughput seconds, during which the VM gets (1 - degradation) of its demand on the source
 * and the target reserves `degradation` of it; energy is the trapezoid of P(u) between updates and
 * a host at 0 % counts as switched off. Decisions are policy_run() on a model_snapshot built from
 * the simulated state, every interval; the plan's migrations are started at once (synchronously,
 * no threads) and completed by simulated-clock events. */
#ifndef JOULE_REPLAY_H
#define JOULE_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"
#include "util/err.h"

struct replay_host_model {
    const char *name;
    double pe_mips;        /* capacity of one core */
    unsigned pes;          /* cores */
    double ram_mib;        /* checked at initial placement */
    unsigned max_vms;      /* checked at initial placement (CloudSim: BW 1 Gbit/s / 100 Mbit/s) */
    double power_w[11];    /* watts at 0, 10, ..., 100 % */
};

extern const struct replay_host_model replay_model_g4; /* HP ProLiant ML110 G4 (Xeon 3040) */
extern const struct replay_host_model replay_model_g5; /* HP ProLiant ML110 G5 (Xeon 3075) */

struct replay_vm {
    char *name;            /* trace file name, or the VM name */
    double mips;           /* size: demand = utilisation x mips */
    double ram_mib;
    double *util;          /* n_samples + 1 utilisation fractions (last one repeated) */
    int initial_host;      /* -1: placed by the policy at t=0; else index into the hosts */
};

struct replay_workload {
    size_t n_vms;
    size_t n_samples;      /* per VM */
    double sample_s;       /* 300 for PlanetLab */
    struct replay_vm *vms;
};

/* Reads one PlanetLab day: one file per VM, one integer CPU % per line. `order_csv` NULL: VM ids
 * in sorted file-name order (strcmp); else a vm_order CSV (vm_id,vm_type,vm_mips,vm_ram_mb,
 * trace_file) gives the order, and its MIPS/RAM. Every malformed line is an error naming it. */
int replay_load_planetlab(const char *dir, const char *order_csv, struct replay_workload **out,
                          struct joule_err *err);
/* CloudSim's VM types: id i gets type i / ceil(n/4) of (2500 MIPS, 870 MB), (2000, 1740),
 * (1000, 1740), (500, 613). Overwrites mips and ram_mib. */
void replay_cloudsim_vm_types(struct replay_workload *w);
/* A workload built in memory (tests, MongoDB): n_vms VMs with n_samples samples each. */
struct replay_workload *replay_workload_new(size_t n_vms, size_t n_samples, double sample_s);
void replay_workload_free(struct replay_workload *w);

enum replay_placement {
    REPLAY_PLACEMENT_POLICY,    /* the policy places the VMs at t=0 (CloudSim: PABFD) */
    REPLAY_PLACEMENT_FIRST_FIT, /* first fit in host order (CloudSim's Dvfs / NonPowerAware) */
    REPLAY_PLACEMENT_GIVEN,     /* each VM's initial_host */
};

struct replay_opts {
    struct policy_cfg policy;
    bool migrations;           /* false: no decisions at all (Dvfs baseline) */
    enum replay_placement placement;
    const struct replay_host_model *const *hosts; /* n_hosts pointers (borrowed) */
    size_t n_hosts;
    double interval_s;         /* 300 */
    double start_s;            /* 0.1: first decision at start_s + interval_s (CloudSim) */
    double duration_s;         /* 86400 */
    double migration_mib_s;    /* 62.5 */
    double migration_degradation; /* 0.1 */
    bool keep_series;          /* record active hosts and power at each decision */
    /* CloudSim quirk (PowerDatacenter "Remove completed VMs", Host.getCompletedVms): a VM not
     * in migration whose demand is exactly 0 at an update is removed for good. On in the
     * CloudSim-compatible mode only (replay_opts_defaults sets it). */
    bool remove_idle_vms;
};

void replay_opts_defaults(struct replay_opts *o); /* CloudSim's values, no hosts */
/* 800 hosts alternating G4 (even ids) / G5 (odd ids): a static table, valid forever. */
const struct replay_host_model *const *replay_cloudsim_hosts(size_t *n);

struct replay_point {
    double t_s;
    unsigned active_hosts;
    double power_w;
    unsigned migrations;       /* started at this decision */
};

struct replay_result {
    double energy_kwh;
    uint64_t migrations;
    double slatah;             /* fractions (x100 for %) */
    double pdm;
    double slav;
    double esv;                /* energy_kwh x slav */
    double overall_sla;        /* (requested - allocated) / requested over all VMs */
    uint64_t host_shutdowns;
    unsigned rounds;
    unsigned max_active_hosts;
    unsigned unplaced_vms;     /* VMs no host could take at t=0 (not simulated) */
    struct replay_point *series;
    size_t n_series;
};

int replay_run(const struct replay_workload *w, const struct replay_opts *o,
               struct replay_result *out, struct joule_err *err);
void replay_result_free(struct replay_result *r);

/* ---- wiring to the jouled configuration ---- */
struct config;
/* (The config's policy group -> policy_cfg is policy_cfg_from_config, policy_glue.h.) */
/* One model per configured host: capacity cpus (must be set; no per-core cap, VMs are sized
 * in cores), linear power from idle_w to max_w, memory_mib (0 = unchecked). Returns a
 * malloc'd array of cfg->n_hosts. */
int replay_hosts_from_config(const struct config *cfg, struct replay_host_model **out,
                             struct joule_err *err);
/* PlanetLab VMs on a configured cluster: each VM is one vCPU (size 1 core). */
void replay_scale_vms_to_cores(struct replay_workload *w);

#endif
