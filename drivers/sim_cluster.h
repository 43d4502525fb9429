/* sim_cluster.h - an in-process cluster for unit tests, replay and the demo: hosts with CPU and
 * memory capacity and a linear power model, VMs whose CPU load follows a function of time or a
 * trace, power on/off with delays, live migration with a duration. Driven by an injected clock:
 * nothing here sleeps. The sim hypervisor, meter and power drivers are views of one sim_cluster. */
#ifndef JOULE_DRIVERS_SIM_CLUSTER_H
#define JOULE_DRIVERS_SIM_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct clock;

enum sim_power { SIM_POWER_ON, SIM_POWER_OFF, SIM_POWER_BOOTING, SIM_POWER_SHUTTING_DOWN };

enum sim_load_kind {
    SIM_LOAD_CONST,   /* a */
    SIM_LOAD_DAYNIGHT,/* a + b * (1 - cos(2 pi (t - phase) / period)) / 2: trough at phase */
    SIM_LOAD_TRACE,   /* values[i] at start + i * step, linear in between, last value held */
};

/* A VM's CPU demand as a fraction of its vCPUs (0..1). */
struct sim_load {
    enum sim_load_kind kind;
    double a;
    double b;
    int64_t period_ns;
    int64_t phase_ns;
    const double *values; /* TRACE: borrowed, outlives the cluster */
    size_t n_values;
    int64_t start_ns;
    int64_t step_ns;
};

struct sim_host {
    char *name;
    double cpus;
    int64_t mem_mib;
    double idle_w;
    double max_w;
    double standby_w;
    uint64_t meter_ieee;
    int64_t boot_ns;
    int64_t shutdown_ns;
    enum sim_power power;
    int64_t transition_end_ns;
    bool reachable;          /* false: hypervisor calls fail (daemon down) */
    bool refuse_migrations;  /* incoming migrations fail (tests) */
    bool power_fails;        /* power on/off requests are ignored (tests) */
    double energy_j;         /* integrated since creation */
    int64_t energy_t_ns;
};

struct sim_vm {
    char uuid[37];
    char *name;
    int host;
    unsigned vcpus;
    int64_t mem_mib;
    struct sim_load load;
    double cpu_time_ns;      /* cumulative on the current host (reset by a migration) */
    int64_t cpu_t_ns;        /* when cpu_time_ns was last brought up to date */
};

struct sim_cluster {
    const struct clock *clock;
    struct sim_host *hosts;
    size_t n_hosts;
    size_t cap_hosts;
    struct sim_vm *vms;
    size_t n_vms;
    size_t cap_vms;
    double migration_mibps;  /* bandwidth: migration time = memory / bandwidth */
    uint64_t migrations;
    uint64_t migration_failures;
    /* Added (issue 9, replay's executor engine): the sim hypervisor's migrate call blocks on the
     * clock for the migration's duration (clock_sleep_until_ns: a sim clock jumps) before the VM
     * switches over, as a real blocking migrate call does; the VM runs on its source meanwhile.
     * Default false: the VM moves at once and the duration is only reported. */
    bool migrate_blocks;
    /* Optional, with migrate_blocks: called to wait until the monotonic deadline instead of
     * clock_sleep_until_ns, so that the caller's per-tick work (monitor, power state machine)
     * goes on while a migration runs, as it does in jouled. Must leave the clock there. */
    void (*migrate_wait)(void *arg, int64_t mono_deadline_ns);
    void *migrate_wait_arg;
};

struct sim_cluster *sim_cluster_new(const struct clock *clock);
void sim_cluster_free(struct sim_cluster *sc);

/* Returns the new host's index. Starts powered on and reachable. */
int sim_host_add(struct sim_cluster *sc, const char *name, double cpus, int64_t mem_mib,
                 double idle_w, double max_w);
/* Returns the new VM's index; uuid is derived from the name when NULL. */
int sim_vm_add(struct sim_cluster *sc, const char *name, const char *uuid, int host,
               unsigned vcpus, int64_t mem_mib, const struct sim_load *load);
int sim_host_find(const struct sim_cluster *sc, const char *name);
int sim_vm_find(const struct sim_cluster *sc, const char *uuid_or_name);

/* Brings power transitions, cpu times and energy up to the clock's time. Every accessor below
 * calls it, so callers only need it to force integration. */
void sim_cluster_update(struct sim_cluster *sc);

double sim_load_at(const struct sim_load *l, int64_t t_ns);       /* 0..1 of the VM's vCPUs */
double sim_vm_cores(const struct sim_cluster *sc, int vm, int64_t t_ns);
/* Demand of its VMs over capacity, capped at 100; 0 when not on. */
double sim_host_load_pct(const struct sim_cluster *sc, int host, int64_t t_ns);
double sim_host_watts(const struct sim_cluster *sc, int host, int64_t t_ns);
size_t sim_host_vm_count(const struct sim_cluster *sc, int host);
int64_t sim_host_mem_used_mib(const struct sim_cluster *sc, int host);

/* Power requests: take effect after boot_ns / shutdown_ns of simulated time. Off refuses while
 * VMs run on the host unless `force` (then the VMs are destroyed, as a real power cut would). */
int sim_host_power_on(struct sim_cluster *sc, int host, struct joule_err *err);
int sim_host_power_off(struct sim_cluster *sc, int host, bool force, struct joule_err *err);

/* Live migration: checks destination is on, reachable, accepts, and has memory; moves the VM
 * and resets its cpu time (a new process). *duration_ns = mem / bandwidth. */
int sim_vm_migrate(struct sim_cluster *sc, int vm, int dest, int64_t *duration_ns,
                   struct joule_err *err);

#endif
