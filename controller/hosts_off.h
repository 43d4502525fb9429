/* hosts_off.h - how many hosts were off in each hour (or day) of a report, from the power
 * state the controller stored per host per tick (host_samples.state). Pure: samples in,
 * figures out; no store, no clock. joulectl report fetches the samples; tests feed them.
 *
 * Rules (DESIGN.md, "Reports: hosts off"):
 * - A host is off while its stored state is `off` or `powering_off` (told to shut down, no VM
 *   left). `on`, `draining` and `waking` are not off. joule has no separate standby state: a
 *   host drawing standby watts is `off`.
 * - A sample stands for its host's state from its time until the host's next sample, but for at
 *   most `hold`: HOSTS_OFF_HOLD_TICKS times the median interval between consecutive samples of
 *   a host (the tick), never more than the cap the caller gives (the report uses 600 s, the
 *   longest interval a power sample integrates energy over) unless the tick itself is longer:
 *   then one tick. Time no sample stands for, and
 *   time whose sample says `unknown`, is unknown: it never counts as off.
 * - Buckets are UTC hours or days (t truncated, as power_samples' `hour`/`day`), clipped to
 *   [since, until). Per bucket: the time-weighted mean number of hosts off (host-seconds off /
 *   bucket seconds), the same for unknown, and the number of hosts off for all of the bucket. */
#ifndef JOULE_HOSTS_OFF_H
#define JOULE_HOSTS_OFF_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* A sample stands for at most this many ticks (one tick missed is still no gap). */
#define HOSTS_OFF_HOLD_TICKS 2
/* At most this many buckets (100000 hours: 11 years); more is refused, not allocated. */
#define HOSTS_OFF_MAX_BUCKETS 100000

enum hosts_off_state {
    HOSTS_OFF_STATE_UP,       /* known and not off: on, draining, waking */
    HOSTS_OFF_STATE_OFF,      /* off, powering_off */
    HOSTS_OFF_STATE_UNKNOWN,  /* the controller did not know */
    HOSTS_OFF_STATE__COUNT
};

struct hosts_off_sample {
    size_t host;              /* index < n_hosts */
    int64_t t_ms;             /* UTC */
    enum hosts_off_state state;
};

struct hosts_off_bucket {
    int64_t start_ms;         /* the hour / day it belongs to (label) */
    int64_t from_ms, to_ms;   /* the part of it inside [since, until) */
    double mean_off;          /* host-seconds off / bucket seconds */
    double mean_unknown;      /* host-seconds unknown / bucket seconds */
    size_t off_whole;         /* hosts off from from_ms to to_ms */
};

struct hosts_off {
    size_t n_hosts;
    struct hosts_off_bucket *buckets;
    size_t n_buckets;
    int64_t *off_ms;          /* [bucket * n_hosts + host]: time host was off in the bucket */
    int64_t interval_ms;      /* median interval between a host's samples; 0: none seen */
    int64_t hold_ms;          /* the longest a sample stood for */
};

/* "off", "powering_off" -> OFF; "on", "draining", "waking" -> UP; "unknown" -> UNKNOWN.
 * Returns -1 for anything else (a malformed document). */
int hosts_off_state_parse(const char *name, enum hosts_off_state *out);

/* Fills *out (free with hosts_off_free). Sorts `samples` in place (host, then time). Samples
 * before `since_ms` carry their state into the window; those at or after `until_ms` are
 * ignored. bucket_ms is 3600000 or 86400000; hold_cap_ms > 0. Returns 0, or JOULE_EINVAL
 * (err says why) on a bad argument: since >= until, bucket_ms or hold_cap_ms <= 0, a host
 * index out of range, more than HOSTS_OFF_MAX_BUCKETS buckets. */
int hosts_off_compute(struct hosts_off_sample *samples, size_t n, size_t n_hosts,
                      int64_t since_ms, int64_t until_ms, int64_t bucket_ms,
                      int64_t hold_cap_ms, struct hosts_off *out, struct joule_err *err);
void hosts_off_free(struct hosts_off *h);

#endif
