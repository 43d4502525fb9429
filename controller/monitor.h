/* monitor.h - one sampling tick: every host's hypervisor (one call each) + meters -> model, and
 * the samples for the store. Hosts that went away are marked unreachable and reconnected with
 * backoff; nothing blocks the loop longer than the driver timeouts.
 * Implementation: libvirt issue (#5). Extend by adding, do not rename.
 *
 * Added (monitor-parallel): hosts are sampled concurrently, each on its own short-lived worker
 * thread (at most one sample in flight per host); a tick waits at most cfg->sample_timeout_ns
 * for them. A host still in flight then is "lagging": it keeps its last data, no second sample
 * is started for it, and its result is used at the next tick if still fresh (its sample is at
 * most tick_s old), else dropped. In flight for cfg->sample_unreachable_ns: unreachable.
 * Drivers whose ops are not thread_safe (sim) are sampled inline on the caller's thread. */
#ifndef JOULE_MONITOR_H
#define JOULE_MONITOR_H

#include <stdbool.h>
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
    /* Added (monitor-parallel): */
    size_t hosts_lagging;     /* sample still in flight when the tick stopped waiting */
    size_t hosts_stuck;       /* ... for sample_unreachable_s or more: counted unreachable too */
    size_t late_applied;      /* results of earlier ticks applied now (fresh) */
    size_t late_dropped;      /* results of earlier ticks dropped (stale, or superseded) */
    int64_t wait_ns;          /* how long the tick waited for worker threads (wall time) */
};

/* Added (monitor-parallel): totals since monitor_new, for /metrics. */
struct monitor_stats {
    uint64_t ticks;
    uint64_t lagging;         /* host-ticks lagging (sum of hosts_lagging) */
    uint64_t stuck;           /* host-ticks marked unreachable for a sample in flight too long */
    uint64_t late_applied;
    uint64_t late_dropped;
    size_t hosts_lagging;     /* in the last tick */
};

int monitor_new(const struct monitor_deps *deps, struct monitor **out, struct joule_err *err);
void monitor_free(struct monitor *mon);
int monitor_tick(struct monitor *mon, struct monitor_tick_out *out, struct joule_err *err);

/* Added (monitor-parallel). */
void monitor_stats(const struct monitor *mon, struct monitor_stats *out);
/* Is host's sample still in flight after the last tick stopped waiting (it keeps its last data)?
 * Loop thread only, like monitor_tick. */
bool monitor_host_lagging(const struct monitor *mon, size_t host);
/* Samples every host inline on the caller's thread, one after another, even with thread-safe
 * drivers (default false: thread-safe drivers run on workers). Takes effect for samples started
 * after the call. */
void monitor_set_inline(struct monitor *mon, bool inline_samples);
/* Waits (wall time, at most timeout_ns) until no sample is in flight; returns how many still
 * are. Their results stay for the next tick. For tests and orderly shutdowns. */
size_t monitor_drain(struct monitor *mon, int64_t timeout_ns);
/* A reloaded config with the same host list (SIGHUP): samples in flight stay with the monitor
 * (a hung host keeps at most one). `cfg` is borrowed and must outlive the monitor. */
void monitor_set_config(struct monitor *mon, const struct config *cfg);

#endif
