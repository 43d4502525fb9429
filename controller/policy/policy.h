/* policy.h - the pure policy engine: snapshot in, plan out. No I/O, no clock, no globals.
 * Same input -> byte-identical plan. */
#ifndef JOULE_POLICY_POLICY_H
#define JOULE_POLICY_POLICY_H

#include <stdint.h>

#include "model_snapshot.h"
#include "plan.h"
#include "util/err.h"

enum policy_algorithm {
    POLICY_ALGORITHM_THRESHOLD, /* the papers: Th1 wake, Th2 consolidation, balance/bands */
    POLICY_ALGORITHM_JOULE,     /* joule's own default for replay quality (issue 9) */
    POLICY_ALGORITHM_THR_MMT,   /* CloudSim ThrMmt (reference) */
    POLICY_ALGORITHM_LR_MMT,    /* CloudSim LrMmt (reference) */
    POLICY_ALGORITHM__COUNT
};

enum policy_balance { POLICY_BALANCE_DIFFERENCING, POLICY_BALANCE_BANDS, POLICY_BALANCE_NONE };

struct policy_cfg {
    enum policy_algorithm algorithm;
    double th1_pct;              /* 80 */
    double th2_factor;           /* 0.8 */
    double placement_target_pct; /* 80 (= th1) */
    double balance_gap_pct;      /* 10 */
    enum policy_balance balance;
    unsigned max_moves_per_round;/* 4 */
    int64_t vm_cooldown_ns;      /* 1800 s */
    int64_t host_min_off_ns;     /* 1800 s */
    uint64_t seed;
};

/* Fills the papers' defaults. */
void policy_cfg_defaults(struct policy_cfg *cfg);

/* One round: Th1, then (only if Th1 woke nothing) Th2, then balance over the hosts that stay
 * active. `out` must be initialised (plan_init); actions are appended.
 * Dispatches on cfg->algorithm: THRESHOLD is the papers' round (wake.c, consolidate.c,
 * balance.c / bands.c); other algorithms return JOULE_ENOTSUP until a case for them is added
 * (one file per algorithm; controller/policy/policy_priv.h has the round's shared helpers).
 * Errors: JOULE_EINVAL for a bad cfg or snapshot (message names the host/VM), JOULE_ENOTSUP.
 * THRESHOLD semantics:
 *  - active host = state ON with cpus > 0; WAKING hosts are capacity on its way; OFF hosts (not
 *    excluded) are wake candidates (priority, then idle_w, then index). Excluded or unreachable
 *    active hosts count for Th1's average and min_active_hosts but never give or take VMs and
 *    are never powered off; excluded hosts are never powered on.
 *  - Th1 (capacity-weighted average load of active hosts > th1_pct) wakes one host, or emits an
 *    ALERT/NO_CAPACITY; expected_load_cores > 0 wakes hosts until it fits under th1_pct
 *    (PEAK_WAKE); fewer than min_active_hosts active + waking wakes more (MIN_HOSTS). PEAK_WAKE
 *    and MIN_HOSTS skip hosts off for less than host_min_off_ns; Th1 does not.
 *  - Th2 only when snap->consolidation_allowed and nothing was woken.
 *  - A VM moves at most once per round, never when pinned, migrating or inside vm_cooldown_ns
 *    of last_move_ns; at most max_moves_per_round migrations per plan; memory always fits. */
int policy_run(const struct policy_cfg *cfg, const struct model_snapshot *snap, struct plan *out,
               struct joule_err *err);

#endif
