/* monitor.h - one sampling tick: every host's hypervisor (one call each) + meters -> model, and
 * the samples for the store. Hosts that went away are marked unreachable and reconnected with
 * backoff; nothing blocks the loop longer than the driver timeouts.
 * Implementation: libvirt issue (#5). Extend by adding, do not rename. */
#ifndef JOULE_MONITOR_H
#define JOULE_MONITOR_H

#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "config.h"
#include "model.h"
#include "registry.h"

struct monitor;

struct monitor_deps {
    const struct config *cfg;
    struct model *model;
    struct hypervisor **hv;   /* one per config host (index = host), borrowed */
    struct meter *meter;      /* NULL: watts from the power model only */
    const struct clock *clock;
    /* Added (libvirt issue): optional; NULL = samples go only into the model. One insert per
     * collection per tick (docs.h builders): host_samples, power_samples, vm_samples. */
    struct store *store;
};

/* Per-tick output: what the store gets (the daemon turns it into documents). */
struct monitor_tick_out {
    int64_t t_ns;
    size_t hosts_sampled;
    size_t hosts_unreachable;
    int64_t cost_ns;          /* wall time of the whole tick */
    /* Added (libvirt issue): */
    int64_t host_cost_ns_max; /* slowest host's connect + sample */
    int64_t host_cost_ns_sum; /* all hosts' connect + sample */
    int store_rc;             /* 0, or the store's error code (samples kept in the model) */
};

int monitor_new(const struct monitor_deps *deps, struct monitor **out, struct joule_err *err);
void monitor_free(struct monitor *mon);
int monitor_tick(struct monitor *mon, struct monitor_tick_out *out, struct joule_err *err);

#endif
