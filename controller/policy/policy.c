/* policy.c - policy_run: a dispatcher on cfg->algorithm, and the papers' threshold round. */
#include "policy.h"

#include "policy_priv.h"
#include "reference.h"

int policy_threshold_run(const struct policy_cfg *cfg, const struct model_snapshot *snap,
                         struct plan *out, struct joule_err *err)
{
    struct pol_round r;
    pol_round_init(&r, cfg, snap, out);
    /* One round = Th1 (with peak pre-wake and minimum hosts), then Th2 only if nothing was
     * woken, then balance over the hosts that stay active, on the state the steps left. */
    size_t woken = policy_wake(&r);
    if (woken == 0 && snap->consolidation_allowed)
        policy_consolidate(&r);
    switch (cfg->balance) {
    case POLICY_BALANCE_DIFFERENCING: policy_balance(&r); break;
    case POLICY_BALANCE_BANDS: policy_bands(&r); break;
    case POLICY_BALANCE_NONE: break;
    }
    pol_round_free(&r);
    (void)err;
    return 0;
}

static int check_cfg(const struct policy_cfg *cfg, struct joule_err *err)
{
    if (!(cfg->th1_pct > 0 && cfg->th1_pct <= 100))
        return joule_err_set(err, JOULE_EINVAL, "policy: th1_pct %g is out of range (0..100]",
                             cfg->th1_pct);
    if (!(cfg->th2_factor > 0 && cfg->th2_factor <= 1))
        return joule_err_set(err, JOULE_EINVAL, "policy: th2_factor %g is out of range (0..1]",
                             cfg->th2_factor);
    if (!(cfg->placement_target_pct > 0 && cfg->placement_target_pct <= 100))
        return joule_err_set(err, JOULE_EINVAL,
                             "policy: placement_target_pct %g is out of range (0..100]",
                             cfg->placement_target_pct);
    if (!(cfg->balance_gap_pct > 0 && cfg->balance_gap_pct <= 100))
        return joule_err_set(err, JOULE_EINVAL,
                             "policy: balance_gap_pct %g is out of range (0..100]",
                             cfg->balance_gap_pct);
    if (cfg->vm_cooldown_ns < 0 || cfg->host_min_off_ns < 0 || cfg->host_min_on_ns < 0)
        return joule_err_set(err, JOULE_EINVAL, "policy: negative cooldown");
    if (!(cfg->th2_dead_band_pct >= 0 && cfg->th2_dead_band_pct < cfg->th1_pct))
        return joule_err_set(err, JOULE_EINVAL,
                             "policy: th2_dead_band_pct %g is out of range [0..th1_pct %g)",
                             cfg->th2_dead_band_pct, cfg->th1_pct);
    switch (cfg->balance) {
    case POLICY_BALANCE_DIFFERENCING:
    case POLICY_BALANCE_BANDS:
    case POLICY_BALANCE_NONE: return 0;
    }
    return joule_err_set(err, JOULE_EINVAL, "policy: unknown balance %d", (int)cfg->balance);
}

int policy_run(const struct policy_cfg *cfg, const struct model_snapshot *snap, struct plan *out,
               struct joule_err *err)
{
    int rc;
    if ((rc = check_cfg(cfg, err)) < 0 || (rc = pol_snapshot_validate(snap, err)) < 0)
        return rc;
    /* One case per algorithm; each lives in its own file (threshold: wake/consolidate/balance/
     * bands). Add a case here and a file of your own for a new algorithm. */
    switch (cfg->algorithm) {
    case POLICY_ALGORITHM_THRESHOLD: return policy_threshold_run(cfg, snap, out, err);
    case POLICY_ALGORITHM_JOULE: return policy_run_joule(cfg, snap, out, err);
    case POLICY_ALGORITHM_THR_MMT: return policy_run_thr_mmt(cfg, snap, out, err);
    case POLICY_ALGORITHM_LR_MMT: return policy_run_lr_mmt(cfg, snap, out, err);
    case POLICY_ALGORITHM__COUNT: break;
    }
    return joule_err_set(err, JOULE_ENOTSUP, "policy: algorithm %d is not implemented",
                         (int)cfg->algorithm);
}
