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

/* Defaults of joule's own policy (tuned on PlanetLab day 20110303 only; see
 * etc/jouled.conf.example). Shared with config.c so that both give the same defaults. */
#define JOULE_DEFAULT_PERCENTILE 70.0
#define JOULE_DEFAULT_WINDOW 12
#define JOULE_DEFAULT_TARGET_PCT 90.0
#define JOULE_DEFAULT_HIGH_PCT 100.0
#define JOULE_DEFAULT_LOW_PCT 60.0
#define JOULE_DEFAULT_HEADROOM_PCT 10.0
#define JOULE_DEFAULT_MIN_GAIN_WH 0.0
#define JOULE_DEFAULT_HORIZON_S 3600.0
#define JOULE_DEFAULT_MIGRATION_W 10.0

/* Th2's dead band below Th1 and a woken host's minimum on-time (issue 10 item 3): with the
 * papers' th1 80 / th2 0.8 both thresholds meet, and a host woken for Th1 was emptied again at
 * once. Shared with config.c; justified in etc/jouled.conf.example. */
#define POLICY_DEFAULT_TH2_DEAD_BAND_PCT 20.0
#define POLICY_DEFAULT_HOST_MIN_ON_S 1800

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
    /* Added by issue 9 (reference policies and joule's own policy); defaults in
     * policy_cfg_defaults, documented in etc/jouled.conf.example. */
    double interval_s;           /* 300: decision interval (LR's migration-interval term) */
    double migration_mib_s;      /* 62.5: migration throughput (MiB/s) for time estimates */
    double thr_threshold;        /* 0.8: ThrMmt overload threshold (fraction of capacity) */
    double lr_safety;            /* 1.2: LrMmt safety parameter */
    double lr_fallback_threshold;/* 0.7: LrMmt threshold when history is short */
    unsigned lr_history;         /* 10: LrMmt regression length */
    /* POLICY_ALGORITHM_JOULE */
    double joule_percentile;     /* 90: size each VM by this percentile of its recent demand */
    unsigned joule_window;       /* 12: samples of history in the percentile */
    double joule_target_pct;     /* 70: place VMs so hosts stay below this (sized demand) */
    double joule_high_pct;       /* 90: a host above this (current demand) is relieved */
    double joule_low_pct;        /* 50: hosts below this are candidates to empty */
    double joule_headroom_pct;   /* 10: a host is emptied only if its VMs fit with this margin */
    double joule_min_gain_wh;    /* 0: a migration must save at least this much energy */
    double joule_horizon_s;      /* 3600: time a move is expected to pay back over */
    double joule_migration_w;    /* 10: extra watts drawn while a migration runs */
    /* CloudSim's resource model (replay --cloudsim): memory and VM-count limits bind only when
     * a VM is first placed (CloudSim's RAM/BW requests drop to 0 once a VM exists). Applies to
     * thr-mmt, lr-mmt and joule. Default false: memory always has to fit. */
    bool limits_at_creation_only;
    /* Added by issue 10 item 3 (no ping-pong between Th2 and Th1), THRESHOLD only: */
    double th2_dead_band_pct;    /* 20: Th2 empties a host only if the hosts that stay on then
                                  * average at most th1_pct - this (percent of their capacity) */
    int64_t host_min_on_ns;      /* 1800 s: a host on for less than this (snap on_since_ns) is
                                  * not emptied by Th2; Th1 wakes never wait for it */
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
 *  - Th2 only when snap->consolidation_allowed and nothing was woken. It empties a host only if
 *    the active hosts that stay on would then average at most th1_pct - th2_dead_band_pct of
 *    their capacity (measured as Th1 measures it), and never a host whose on_since_ns is less
 *    than host_min_on_ns ago (SNAP_NEVER: unknown, no limit).
 *  - A VM moves at most once per round, never when pinned, migrating or inside vm_cooldown_ns
 *    of last_move_ns; at most max_moves_per_round migrations per plan; memory always fits. */
int policy_run(const struct policy_cfg *cfg, const struct model_snapshot *snap, struct plan *out,
               struct joule_err *err);

#endif
