/* policy_glue.h - struct config -> struct policy_cfg (kept out of the pure policy library). */
#ifndef JOULE_POLICY_GLUE_H
#define JOULE_POLICY_GLUE_H

#include <stdbool.h>

#include "config.h"
#include "policy/policy.h"

/* Fills every policy setting from the config's policy block (defaults for the rest). */
void policy_cfg_from_config(const struct config *c, struct policy_cfg *out);
/* The snapshot's consolidation_allowed for the config's `consolidate` setting, given whether
 * now is inside the off-peak window (computed by trigger). */
bool policy_consolidation_configured(const struct config *c, bool in_off_peak);

#endif
