/* replay_exec.h - the executor engine of joulectl replay: a workload replayed onto a
 * configuration's hosts through the controller's own code, not a model of it.
 *
 * A sim_cluster holds the configured hosts (cpus, memory_mib, idle_w/max_w, boot_s, shutdown_s)
 * and one VM per trace, whose CPU follows the trace (SIM_LOAD_TRACE, linear between samples).
 * On a clock_sim the engine runs, at every tick (config tick_s), the real monitor (sim
 * hypervisor + sim meter drivers -> model) and the power state machine (sim power driver,
 * inline calls); at every decision interval model_record_history, model_snapshot_build,
 * policy_run and the executor in synchronous mode. The sim hypervisor's migrate call blocks on
 * the simulated clock for memory / bandwidth (sim_cluster.migrate_blocks): the executor's
 * migrations run one after another, each VM on its source until it switches over. A plan that
 * switches hosts on is run as its power-ons only (the executor runs migrations before power
 * actions, and a migration to a host that is still off fails); the policy plans the moves again
 * once the host is on.
 *
 * Figures:
 * - energy_kwh: the sim cluster's integrated energy of every host (trapezoid between updates;
 *   idle_w while booting or shutting down, 0 W when off, as CloudSim counts an empty host).
 * - migrations: migrations the executor verified on their destination (failed ones apart).
 * - host_shutdowns: power-offs the power state machine verified.
 * - SLATAH: time during which an active (on) host's VMs ask for more CPU than it has, over the
 *   time hosts are active, both sampled at every tick (at the middle of the tick).
 * - PDM: degradation x the CPU a VM asks for while it migrates (from the executor's migration
 *   records: start to switch-over), over the CPU all VMs ask for during the replay.
 * - SLAV = SLATAH x PDM, ESV = energy x SLAV, overall_sla = CPU asked for above capacity on
 *   overloaded hosts (sampled as SLATAH) over all CPU asked for. */
#ifndef JOULE_REPLAY_EXEC_H
#define JOULE_REPLAY_EXEC_H

#include "replay.h"

struct config;

struct replay_exec_opts {
    const struct config *cfg;      /* hosts, tick_s, load_window_s, migration limits, policy
                                    * min_active_hosts; drivers are replaced by sim ones */
    struct policy_cfg policy;
    double interval_s;             /* decision interval (300) */
    double tick_s;                 /* monitor tick; 0 = the config's tick_s */
    double duration_s;             /* 0 = the workload's length */
    double migration_mib_s;        /* 62.5 */
    double migration_degradation;  /* 0.1: CPU share a migrating VM loses (PDM only) */
    bool keep_series;
};

/* interval 300 s, tick from the config, migration 62.5 MiB/s and 10 %, policy from the config */
void replay_exec_opts_defaults(struct replay_exec_opts *o, const struct config *cfg);
/* VMs with initial_host >= 0 start there; the others are placed by the policy at t=0 (hosts
 * left without VMs start switched off). VM i has ceil(mips) vCPUs (at least 1), memory ram_mib
 * (1024 when 0) and asks for util x mips cores. */
int replay_exec_run(const struct replay_workload *w, const struct replay_exec_opts *o,
                    struct replay_result *out, struct joule_err *err);

#endif
