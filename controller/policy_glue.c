/* policy_glue.c - the policy engine's settings from the daemon's configuration. Lives outside
 * controller/policy/ so that the policy library stays pure (it never sees struct config). */
#include "policy_glue.h"

void policy_cfg_from_config(const struct config *c, struct policy_cfg *out)
{
    const struct config_policy *p = &c->policy;
    policy_cfg_defaults(out);
    switch (p->algorithm) {
    case CONFIG_ALGORITHM_THRESHOLD: out->algorithm = POLICY_ALGORITHM_THRESHOLD; break;
    case CONFIG_ALGORITHM_JOULE: out->algorithm = POLICY_ALGORITHM_JOULE; break;
    case CONFIG_ALGORITHM_THR_MMT: out->algorithm = POLICY_ALGORITHM_THR_MMT; break;
    case CONFIG_ALGORITHM_LR_MMT: out->algorithm = POLICY_ALGORITHM_LR_MMT; break;
    case CONFIG_ALGORITHM__COUNT: break;
    }
    switch (p->balance) {
    case CONFIG_BALANCE_DIFFERENCING: out->balance = POLICY_BALANCE_DIFFERENCING; break;
    case CONFIG_BALANCE_BANDS: out->balance = POLICY_BALANCE_BANDS; break;
    case CONFIG_BALANCE_NONE: out->balance = POLICY_BALANCE_NONE; break;
    case CONFIG_BALANCE__COUNT: break;
    }
    out->th1_pct = p->th1_pct;
    out->th2_factor = p->th2_factor;
    out->placement_target_pct = p->placement_target_pct;
    out->balance_gap_pct = p->balance_gap_pct;
    out->max_moves_per_round = p->max_moves_per_round;
    out->vm_cooldown_ns = p->vm_cooldown_ns;
    out->host_min_off_ns = p->host_min_off_ns;
    out->seed = p->seed;
    out->thr_threshold = p->thr_threshold;
    out->lr_safety = p->lr_safety;
    out->lr_fallback_threshold = p->lr_fallback_threshold;
    out->lr_history = p->lr_history;
    out->joule_percentile = p->joule_percentile;
    out->joule_window = p->joule_window;
    out->joule_target_pct = p->joule_target_pct;
    out->joule_high_pct = p->joule_high_pct;
    out->joule_low_pct = p->joule_low_pct;
    out->joule_headroom_pct = p->joule_headroom_pct;
    out->joule_min_gain_wh = p->joule_min_gain_wh;
    out->joule_horizon_s = p->joule_horizon_s;
    out->joule_migration_w = p->joule_migration_w;
    out->th2_dead_band_pct = p->th2_dead_band_pct;
    out->host_min_on_ns = p->host_min_on_ns;
}

bool policy_consolidation_configured(const struct config *c, bool in_off_peak)
{
    switch (c->policy.consolidate) {
    case CONFIG_CONSOLIDATE_ALWAYS: return true;
    case CONFIG_CONSOLIDATE_NEVER: return false;
    case CONFIG_CONSOLIDATE_OFF_PEAK: return in_off_peak;
    case CONFIG_CONSOLIDATE__COUNT: break;
    }
    return false;
}
