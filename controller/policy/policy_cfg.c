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
}
