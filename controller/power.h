/* power.h - the per-host power state machine: on -> draining -> powering_off -> off -> waking
 * -> on, plus unknown. Every transition is verified (IPMI status, or libvirt unreachable and
 * meter watts below standby; on = libvirt reachable again); methods are tried in configured
 * order with retries and a deadline; safety rules are guards in the transition table.
 * Implementation: power issue (#7). The API below is what the executor and the loop use; extend
 * it by adding, do not rename. */
#ifndef JOULE_POWER_H
#define JOULE_POWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "driver.h"
#include "policy/model_snapshot.h"
#include "records.h"

struct power_ctl;

/* What the loop knows about a host this tick (from the monitor and the executor). */
struct power_facts {
    bool libvirt_reachable;
    size_t n_vms;                  /* VMs running there */
    bool receiving_vm;             /* a migration to it is in flight */
    bool watts_fresh;              /* a meter reading within meter.stale_s */
    double watts;
};

int power_ctl_new(const struct config *cfg, const struct drv_env *env, struct power_ctl **out,
                  struct joule_err *err);
void power_ctl_free(struct power_ctl *pc);
enum power_state power_ctl_state(const struct power_ctl *pc, int host);
/* Monotonic time the host entered OFF (SNAP_NEVER if not off). */
int64_t power_ctl_off_since(const struct power_ctl *pc, int host);
/* Requests; refused (JOULE_EPERM, err says which rule) when a safety guard fails. `force` skips
 * the min_active_hosts guard only (logged, for joulectl power --force), never the VM guards. */
int power_ctl_request_off(struct power_ctl *pc, int host, const struct power_facts *facts,
                          size_t active_hosts, bool force, struct joule_err *err);
int power_ctl_request_on(struct power_ctl *pc, int host, struct joule_err *err);
/* Draining: the executor is emptying the host (a VM appearing there aborts a pending off). */
int power_ctl_mark_draining(struct power_ctl *pc, int host, struct joule_err *err);
/* Every tick: retries, method fallback, verification, deadlines -> unknown + alert. */
void power_ctl_step(struct power_ctl *pc, int64_t now_mono_ns, const struct power_facts *facts,
                    size_t n_hosts);
/* Finished actions since the last call (moved out; up to max). */
size_t power_ctl_take_records(struct power_ctl *pc, struct power_action_record *out, size_t max);
size_t power_ctl_take_events(struct power_ctl *pc, struct event_record *out, size_t max);

#endif
