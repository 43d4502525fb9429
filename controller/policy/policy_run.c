/* policy_run.c - dispatch on cfg->algorithm. The papers' THRESHOLD policy lives on branch
 * `policy`; when it lands, its case replaces the ENOTSUP below (merge note for the lead). */
#include "policy.h"
#include "reference.h"

int policy_run(const struct policy_cfg *cfg, const struct model_snapshot *snap, struct plan *out,
               struct joule_err *err)
{
    switch (cfg->algorithm) {
    case POLICY_ALGORITHM_JOULE:
        return policy_run_joule(cfg, snap, out, err);
    case POLICY_ALGORITHM_THR_MMT:
        return policy_run_thr_mmt(cfg, snap, out, err);
    case POLICY_ALGORITHM_LR_MMT:
        return policy_run_lr_mmt(cfg, snap, out, err);
    case POLICY_ALGORITHM_THRESHOLD:
        return joule_err_set(err, JOULE_ENOTSUP, "policy: the threshold algorithm is not built in");
    case POLICY_ALGORITHM__COUNT:
        break;
    }
    return joule_err_set(err, JOULE_EINVAL, "policy: unknown algorithm %d", (int)cfg->algorithm);
}
