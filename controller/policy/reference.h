/* reference.h - policies added by issue 9, dispatched by policy_run on cfg->algorithm:
 * CloudSim's ThrMmt and LrMmt (cloudsim.c) and joule's own consolidation policy (joule.c).
 * Same contract as policy_run: pure, snapshot in, actions appended to `out`. */
#ifndef JOULE_POLICY_REFERENCE_H
#define JOULE_POLICY_REFERENCE_H

#include "model_snapshot.h"
#include "plan.h"
#include "policy.h"
#include "util/err.h"

int policy_run_thr_mmt(const struct policy_cfg *cfg, const struct model_snapshot *snap,
                       struct plan *out, struct joule_err *err);
int policy_run_lr_mmt(const struct policy_cfg *cfg, const struct model_snapshot *snap,
                      struct plan *out, struct joule_err *err);
int policy_run_joule(const struct policy_cfg *cfg, const struct model_snapshot *snap,
                     struct plan *out, struct joule_err *err);

#endif
