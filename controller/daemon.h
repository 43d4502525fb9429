/* daemon.h - jouled's wiring: drivers, model, monitor, store, trigger, policy, executor, power
 * state machine and API, and one pass of the control loop (daemon_tick):
 *   lease -> monitor (samples -> model + store) -> executor results -> power FSM step ->
 *   power samples -> trigger -> policy -> executor (auto) or stored plan only (dry-run).
 * main.c owns the process (epoll, timerfd, signals) and calls in here; tests call daemon_tick()
 * directly on a simulated cluster, so the loop is tested without sleeping.
 * With a `sim` config group the daemon builds the simulated cluster itself and runs on a
 * simulated clock that each tick advances by tick_s (main.c arms its timer at tick_s divided
 * by sim.time_factor, so a day can pass in a minute). */
#ifndef JOULE_DAEMON_H
#define JOULE_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "clock.h"
#include "config.h"
#include "util/err.h"

struct daemon;

struct daemon_opts {
    bool no_api;          /* do not listen even if api.listen is set (tests) */
    const char *holder;   /* lease holder id; default "hostname:pid" */
    struct store *store;  /* borrowed store instead of the configured one (tests: two daemons
                           * sharing one store compete for the lease) */
};

/* Takes ownership of cfg (also on failure). Builds the drivers (and the sim cluster), opens the
 * store, starts the API. Nothing is sampled until the first tick. */
int daemon_new(struct config *cfg, const struct daemon_opts *opts, struct daemon **out,
               struct joule_err *err);
void daemon_free(struct daemon *d);

/* One pass of the loop. Failures of parts (a host, the store) are logged and counted; the loop
 * goes on. Returns 0, or 1 when a sim run reached sim.duration_s (main then shuts down). */
int daemon_tick(struct daemon *d);

/* Collects finished migrations (the executor's fd fired). */
void daemon_poll_executor(struct daemon *d);

/* SIGHUP with a valid new config (ownership taken on success; on failure the old config stays
 * and err says why, e.g. the host list changed, which needs a restart). */
int daemon_reload(struct daemon *d, struct config *cfg, struct joule_err *err);

/* SIGTERM: aborts running migrations (VMs stay on their sources), records them, flushes the
 * store. */
void daemon_shutdown(struct daemon *d);

/* Run-time control (also reachable through the API). */
void daemon_pause(struct daemon *d, bool paused);
int daemon_request_run(struct daemon *d, bool consolidate, struct joule_err *err);

const struct config *daemon_config(const struct daemon *d);
const struct clock *daemon_clock(const struct daemon *d);
struct api *daemon_api(const struct daemon *d);
int daemon_executor_fd(const struct daemon *d);
/* Wall-clock interval between ticks: tick_s, divided by sim.time_factor in a sim run. */
int64_t daemon_tick_interval_ns(const struct daemon *d);

/* Introspection for tests and the demo. */
struct daemon_stats {
    uint64_t ticks;
    uint64_t plans;
    uint64_t plans_dry_run;
    uint64_t events;
    uint64_t migrations_ok;
    uint64_t migrations_failed;
    uint64_t power_on_ok;
    uint64_t power_off_ok;
    uint64_t power_failed;
    size_t hosts_on;
    size_t hosts_off;
    bool active;            /* holds the lease */
    bool paused;
    int64_t last_tick_ns;   /* wall time the last tick took */
    int64_t max_tick_ns;
    int64_t sum_tick_ns;
    /* verified power actions by the schedule phase they finished in */
    uint64_t power_off_off_peak;
    uint64_t power_on_prewake;
    uint64_t power_on_peak;
};
void daemon_stats(const struct daemon *d, struct daemon_stats *out);
/* The store handle (tests inspect the memory store through it). */
struct store *daemon_store(const struct daemon *d);
struct sim_cluster *daemon_sim(const struct daemon *d);

/* The API's content, also used by tests without HTTP. */
void daemon_metrics(void *d, struct strbuf *out);
void daemon_status(void *d, bson_t *out);
void daemon_plans(void *d, bson_t *out);

#endif
