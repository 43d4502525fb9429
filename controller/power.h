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

/* ---- additions (power issue #7) ---- */

/* Per method: a failing driver call is tried this often before the next method. */
#define POWER_CALL_TRIES 2
/* After a call went through: wait expected time (boot_s / shutdown_s) plus max(this, half the
 * expected time) for verification; after a hard off, this long. */
#define POWER_VERIFY_MARGIN_MIN_NS (10 * JOULE_NS_PER_S)
/* Status polls (to verify an off, to resolve unknown) at most this often per host. */
#define POWER_POLL_NS (1 * JOULE_NS_PER_S)
/* A failing status read doubles the interval, up to this. */
#define POWER_POLL_MAX_NS (60 * JOULE_NS_PER_S)
/* After a failed action the host stays unknown (not capacity) at least this long, whatever is
 * observed; a request (on/off) can still act on it. */
#define POWER_UNKNOWN_HOLD_NS (300 * JOULE_NS_PER_S)

const char *power_state_name(enum power_state s);
/* Driver calls run on worker threads by default (requests and step never block); inline = in
 * the caller's thread, inside power_ctl_step (unit tests with sim drivers, joulectl). */
void power_ctl_set_inline(struct power_ctl *pc, bool inline_calls);
/* Only a verified-on host counts as capacity (not waking, not unknown). */
bool power_ctl_is_capacity(const struct power_ctl *pc, int host);
/* An action or a driver call is still under way on some host. */
bool power_ctl_busy(const struct power_ctl *pc);

struct power_ctl_stats {
    uint64_t calls;            /* driver calls finished */
    uint64_t call_errors;
    int64_t call_ns_total;     /* wall time spent in driver calls */
    int64_t call_ns_max;
    uint64_t wakes_verified;
    int64_t last_wake_ns;      /* request_on -> verified on, monotonic, of the last wake */
};
void power_ctl_stats(const struct power_ctl *pc, struct power_ctl_stats *out);

/* ---- addition (issue 10 item 3) ---- */
/* Monotonic time the host came on (entered ON from off, waking, or an unknown after a failed
 * action); SNAP_NEVER when not on or on since before the controller first saw it. Kept while it
 * drains or powers off. Th2 does not empty a host on for less than host_min_on_s. */
int64_t power_ctl_on_since(const struct power_ctl *pc, int host);

/* Copies every host's power state and its off-since / on-since times (as wall-clock ns) into
 * the model: the daemon does it every tick, the executor replay engine every step. */
struct model;
void power_ctl_to_model(const struct power_ctl *pc, struct model *m, int64_t now_ns,
                        int64_t now_mono_ns);

#endif
