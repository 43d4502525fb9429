/* executor.h - runs a plan: live migrations with bounded concurrency (in all and per source
 * host), a timeout after which a migration is aborted, verification of each result on both
 * hosts, abort of the rest of the plan when one fails, cooldowns; then the plan's power
 * actions through the power state machine (never powering off a host that still runs a VM).
 * In synchronous mode (replay, unit tests) everything runs in the caller's thread.
 * Implementation: libvirt issue (#5). Extend by adding, do not rename. */
#ifndef JOULE_EXECUTOR_H
#define JOULE_EXECUTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "clock.h"
#include "config.h"
#include "model.h"
#include "policy/plan.h"
#include "power.h"
#include "records.h"
#include "registry.h"

struct executor;

struct executor_deps {
    const struct config *cfg;
    struct model *model;
    struct hypervisor **hv;   /* one per config host, borrowed */
    struct power_ctl *power;  /* NULL: power actions are refused */
    const struct clock *clock;
    bool synchronous;
};

int executor_new(const struct executor_deps *deps, struct executor **out, struct joule_err *err);
void executor_free(struct executor *ex);
/* Starts a plan whose indices refer to `snap` (borrowed until the plan finishes or is aborted).
 * JOULE_EBUSY if a plan is still running. */
int executor_start(struct executor *ex, const struct plan *plan, const struct model_snapshot *snap,
                   const char *plan_id, struct joule_err *err);
/* Collects finished migrations, starts queued ones, applies results to the model. Returns the
 * number of actions still pending. */
int executor_poll(struct executor *ex);
bool executor_busy(const struct executor *ex);
/* Aborts running migrations (VMs stay on their sources) and drops the rest (SIGTERM). */
void executor_abort(struct executor *ex);
size_t executor_take_records(struct executor *ex, struct migration_record *out, size_t max);

/* Added (libvirt issue). What became of the last plan. */
struct executor_outcome {
    bool finished;                 /* nothing pending any more */
    bool failed;                   /* an action failed: the rest of the plan was dropped */
    size_t migrations_ok;
    size_t migrations_failed;      /* includes aborted ones */
    size_t migrations_skipped;     /* dropped after a failure or executor_abort */
    size_t power_requested;
    size_t power_failed;
    char error[RECORD_ERROR_MAX];  /* the first failure, "" if none */
};
void executor_outcome(const struct executor *ex, struct executor_outcome *out);
/* An eventfd that becomes readable when a worker posted a result: put it in the loop's poll
 * set and call executor_poll() when it fires. -1 in synchronous mode. */
int executor_fd(const struct executor *ex);
/* A migration to `host` is in flight (for power_facts.receiving_vm and snap_host.receiving). */
bool executor_host_receiving(const struct executor *ex, int host);

#endif
