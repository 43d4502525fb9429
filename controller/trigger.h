/* trigger.h - when the policy runs, and the time-dependent inputs it gets.
 * Events: an overload event at once when one host's smoothed load passes overload_pct (then a
 * cooldown for that host), a periodic event every periodic_s, a schedule event when a peak or
 * off-peak window starts or ends or a pre-peak wake-up becomes due, and manual runs.
 * Schedule: peak / off-peak windows are evaluated in the configured time zone through
 * localtime_r, so the process TZ must already be set to it (main.c does setenv("TZ") + tzset()
 * once, the loop thread being the only one that reads local time). Before a peak starts
 * (lead = wake_lead_s, or the longest measured boot-to-verified time, or the configured boot_s)
 * enough hosts are required active for the expected peak load to fit under Th1; the result
 * goes to the policy as plain snapshot fields. Nothing here sleeps or reads a clock itself. */
#ifndef JOULE_TRIGGER_H
#define JOULE_TRIGGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "policy/model_snapshot.h"

enum trigger_kind {
    TRIGGER_OVERLOAD,
    TRIGGER_PERIODIC,
    TRIGGER_SCHEDULE,
    TRIGGER_MANUAL,
    TRIGGER__COUNT
};

#define TRIGGER_DETAIL_MAX 160

struct trigger_event {
    enum trigger_kind kind;
    int host;                 /* OVERLOAD: host index, else -1 */
    double load_pct;          /* OVERLOAD: the smoothed load that fired it */
    char detail[TRIGGER_DETAIL_MAX];
};

/* What the policy gets for "now" (copied into the snapshot by trigger_apply). */
struct trigger_schedule {
    bool peak;                  /* inside a peak window */
    bool off_peak;              /* inside an off-peak window (or outside peak if none) */
    bool prewake;               /* a peak window starts within the lead */
    bool consolidation_allowed;
    unsigned min_active_hosts;
    double expected_load_cores; /* 0 = no pre-wake requirement */
    int64_t lead_ns;
};

struct trigger;

/* `cfg` is borrowed (trigger_set_config after a reload). */
struct trigger *trigger_new(const struct config *cfg);
void trigger_free(struct trigger *t);
void trigger_set_config(struct trigger *t, const struct config *cfg);

/* A measured power-on (request to verified) of host `h`: the pre-wake lead uses the longest. */
void trigger_note_boot(struct trigger *t, int h, int64_t boot_to_verified_ns);
/* An operator's run (joulectl run consolidate --now): the next evaluation returns a MANUAL
 * event, with consolidation allowed for that round even outside off-peak (unless "never"). */
void trigger_request_manual(struct trigger *t, bool consolidate);

/* Evaluates at wall time now_ns / monotonic mono_ns for the cluster in `snap`: fills *sched and
 * writes up to `max` events to `out`; returns their number. Events reset the periodic timer. */
size_t trigger_eval(struct trigger *t, const struct model_snapshot *snap, int64_t now_ns,
                    int64_t mono_ns, struct trigger_schedule *sched, struct trigger_event *out,
                    size_t max);
/* Copies the schedule's fields into the snapshot the policy will see. */
void trigger_apply(const struct trigger_schedule *sched, struct model_snapshot *snap);

/* Local time helpers (exposed for tests and /status): weekday 0 = Monday. */
void trigger_local(int64_t now_ns, int *weekday, int *minute);
bool trigger_in_windows(const struct config_window *w, size_t n, int64_t now_ns);
const char *trigger_kind_name(enum trigger_kind k);

#endif
