#include "policy.h"

#include <string.h>

void policy_cfg_defaults(struct policy_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->algorithm = POLICY_ALGORITHM_THRESHOLD;
    cfg->th1_pct = 80;
    cfg->th2_factor = 0.8;
    cfg->placement_target_pct = 80;
    cfg->balance_gap_pct = 10;
    cfg->balance = POLICY_BALANCE_DIFFERENCING;
    cfg->max_moves_per_round = 4;
    cfg->vm_cooldown_ns = 1800LL * 1000000000LL;
    cfg->host_min_off_ns = 1800LL * 1000000000LL;
    cfg->seed = 1;
    cfg->interval_s = 300;
    cfg->migration_mib_s = 62.5;
    cfg->thr_threshold = 0.8;
    cfg->lr_safety = 1.2;
    cfg->lr_fallback_threshold = 0.7;
    cfg->lr_history = 10;
    cfg->joule_percentile = JOULE_DEFAULT_PERCENTILE;
    cfg->joule_window = JOULE_DEFAULT_WINDOW;
    cfg->joule_target_pct = JOULE_DEFAULT_TARGET_PCT;
    cfg->joule_high_pct = JOULE_DEFAULT_HIGH_PCT;
    cfg->joule_low_pct = JOULE_DEFAULT_LOW_PCT;
    cfg->joule_headroom_pct = JOULE_DEFAULT_HEADROOM_PCT;
    cfg->joule_min_gain_wh = JOULE_DEFAULT_MIN_GAIN_WH;
    cfg->joule_horizon_s = JOULE_DEFAULT_HORIZON_S;
    cfg->joule_migration_w = JOULE_DEFAULT_MIGRATION_W;
    cfg->th2_dead_band_pct = POLICY_DEFAULT_TH2_DEAD_BAND_PCT;
    cfg->host_min_on_ns = POLICY_DEFAULT_HOST_MIN_ON_S * 1000000000LL;
}
