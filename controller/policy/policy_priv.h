/* policy_priv.h - the working state of one policy round, shared by the rule files (wake.c,
 * consolidate.c, balance.c, bands.c) and by other algorithms added to policy_run's switch.
 * Pure: no I/O, no clock, no globals. The snapshot is never written; the round keeps its own
 * picture of the cluster "as the earlier steps left it" (planned moves, wakes, power-offs). */
#ifndef JOULE_POLICY_PRIV_H
#define JOULE_POLICY_PRIV_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model_snapshot.h"
#include "plan.h"
#include "policy.h"

/* Named epsilons: loads are compared with these, never with ==. */
#define POLICY_LOAD_EPS_PCT 1e-9  /* percent of a host */
#define POLICY_CORES_EPS 1e-9     /* cores */
#define POLICY_MEM_EPS_MIB 1e-6   /* MiB */
#define POLICY_WATTS_EPS 1e-6     /* W: smaller expected gains are float noise, shown as 0 */

/* Where a host stands in this round. */
enum pol_host_role {
    POL_HOST_ACTIVE,      /* ON (possibly excluded): carries load, counted for Th1 */
    POL_HOST_WAKING,      /* WAKING in the snapshot, or a power-on planned this round */
    POL_HOST_OFF,         /* OFF: a wake candidate */
    POL_HOST_OFF_PLANNED, /* a power-off planned this round */
    POL_HOST_OTHER,       /* UNKNOWN, DRAINING, POWERING_OFF, or no known capacity */
    POL_HOST_ROLE__COUNT
};

struct pol_round {
    const struct policy_cfg *cfg;
    const struct model_snapshot *snap;
    struct plan *out;
    size_t nh;
    size_t nv;
    double *load_pct;       /* per host: measured load, adjusted by the planned moves */
    double *mem_used_mib;   /* per host: memory of the VMs on it (planned) */
    enum pol_host_role *role;
    int *vm_host;           /* per VM: host after the planned moves, -1 = none */
    int *first;             /* per host: first VM of its list, -1 = none */
    int *next;              /* per VM: next VM on the same host, -1 = end */
    int *prev;              /* per VM: previous VM on the same host, -1 = head */
    size_t *n_vms;          /* per host */
    bool *moved;            /* per VM: moved in this round (never twice) */
    unsigned moves;         /* migrations planned so far */
    size_t woken;           /* power-ons planned so far */
};

/* Builds the round's state from the snapshot. The snapshot must have been validated. */
void pol_round_init(struct pol_round *r, const struct policy_cfg *cfg,
                    const struct model_snapshot *snap, struct plan *out);
void pol_round_free(struct pol_round *r);

/* Checks the snapshot: indices in range, finite non-negative numbers. JOULE_EINVAL + message. */
int pol_snapshot_validate(const struct model_snapshot *snap, struct joule_err *err);

/* Host is ON, reachable, not excluded, with a known capacity: may give and receive VMs, and
 * be emptied and powered off. */
bool pol_host_managed(const struct pol_round *r, int h);
/* Host may be woken: OFF, not excluded, known capacity. */
bool pol_host_wakeable(const struct pol_round *r, int h);
/* VM may be migrated now: on a host, not pinned, not migrating, out of its cooldown, not yet
 * moved in this round, and the round's move cap is not reached. */
bool pol_vm_movable(const struct pol_round *r, int v);
/* The VM's load in percent of host h's capacity. */
double pol_vm_pct_on(const struct pol_round *r, int v, int h);
/* The VM's memory fits on host h (with what is planned there already). */
bool pol_vm_mem_fits(const struct pol_round *r, int v, int h);
/* Linear power model of host h at `load_pct` (idle + (max - idle) * load). */
double pol_host_watts(const struct pol_round *r, int h, double load_pct);
/* now - then in ns without overflow; 0 if `then` is in the future. */
uint64_t pol_elapsed_ns(int64_t now_ns, int64_t then_ns);
/* Moves left under the per-round cap. */
unsigned pol_moves_left(const struct pol_round *r);

/* Plans a migration of VM v to host `to` and applies it to the round's state. */
struct plan_action *pol_plan_move(struct pol_round *r, int v, int to, enum plan_reason reason,
                                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Applies a move to the state without planning it (for trial placements); undo with the reverse. */
void pol_apply_move(struct pol_round *r, int v, int to);
struct plan_action *pol_plan_power_on(struct pol_round *r, int h, enum plan_reason reason,
                                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
struct plan_action *pol_plan_power_off(struct pol_round *r, int h, enum plan_reason reason,
                                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
struct plan_action *pol_plan_alert(struct pol_round *r, int h, enum plan_reason reason,
                                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Managed hosts with the highest and lowest load (ties: lowest index); false if fewer than 2. */
bool pol_find_extremes(const struct pol_round *r, int *hmax, int *hmin);
/* Differencing balance's choice: the movable VM on hmax whose load there is the largest not
 * above d/2 (nor above d/2 on hmin), > 0, whose memory fits on hmin. -1 if none qualifies. */
int pol_balance_pick(const struct pol_round *r, int hmax, int hmin);
/* Band balance's choice (see bands.c). -1 if no move helps. */
int pol_bands_pick(const struct pol_round *r, int heavy, int light, double vector_pct);

/* The rules of the threshold algorithm, in round order. Each returns what it planned (count). */
size_t policy_wake(struct pol_round *r);        /* wake.c: Th1, peak pre-wake, min hosts */
size_t policy_consolidate(struct pol_round *r); /* consolidate.c: Th2 */
size_t policy_balance(struct pol_round *r);     /* balance.c: differencing (seed 003) */
size_t policy_bands(struct pol_round *r);       /* bands.c: light/moderate/heavy (seed 001) */

/* The papers' round (POLICY_ALGORITHM_THRESHOLD). */
int policy_threshold_run(const struct policy_cfg *cfg, const struct model_snapshot *snap,
                         struct plan *out, struct joule_err *err);

#endif
