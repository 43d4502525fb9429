/* trigger.c - overload / periodic / schedule / manual events, and the schedule inputs of the
 * policy (peak, off-peak, pre-peak wake-up). See trigger.h. */
#include "trigger.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/xalloc.h"

#define MINUTE_NS (60 * JOULE_NS_PER_S)
#define MAX_LEAD_SCAN_MIN (7 * 24 * 60) /* a lead longer than a week is not a lead */

struct trigger {
    const struct config *cfg;
    size_t n_hosts;
    int64_t *last_overload_mono; /* per host; SNAP_NEVER */
    int64_t *boot_measured_ns;   /* per host; 0 = none yet */
    int64_t last_run_mono;       /* SNAP_NEVER before the first event */
    bool have_state;
    bool was_peak, was_off_peak, was_prewake;
    double peak_max_cores;       /* demand seen in the current peak window */
    double last_peak_cores;      /* the previous peak window's highest demand */
    bool manual;
    bool manual_consolidate;
};

const char *trigger_kind_name(enum trigger_kind k)
{
    static const char *const names[] = { "overload", "periodic", "schedule", "manual" };
    return k < TRIGGER__COUNT ? names[k] : "?";
}

static void host_arrays(struct trigger *t, size_t n)
{
    int64_t *lo = xcalloc(n + 1, sizeof *lo);
    int64_t *bm = xcalloc(n + 1, sizeof *bm);
    for (size_t i = 0; i < n; i++) {
        lo[i] = i < t->n_hosts ? t->last_overload_mono[i] : SNAP_NEVER;
        bm[i] = i < t->n_hosts ? t->boot_measured_ns[i] : 0;
    }
    free(t->last_overload_mono);
    free(t->boot_measured_ns);
    t->last_overload_mono = lo;
    t->boot_measured_ns = bm;
    t->n_hosts = n;
}

struct trigger *trigger_new(const struct config *cfg)
{
    struct trigger *t = xcalloc(1, sizeof *t);
    t->cfg = cfg;
    t->last_run_mono = SNAP_NEVER;
    host_arrays(t, cfg->n_hosts);
    return t;
}

void trigger_free(struct trigger *t)
{
    if (!t)
        return;
    free(t->last_overload_mono);
    free(t->boot_measured_ns);
    free(t);
}

void trigger_set_config(struct trigger *t, const struct config *cfg)
{
    t->cfg = cfg;
    if (cfg->n_hosts != t->n_hosts)
        host_arrays(t, cfg->n_hosts);
}

void trigger_note_boot(struct trigger *t, int h, int64_t boot_to_verified_ns)
{
    if (h >= 0 && (size_t)h < t->n_hosts && boot_to_verified_ns > 0)
        t->boot_measured_ns[h] = boot_to_verified_ns;
}

void trigger_request_manual(struct trigger *t, bool consolidate)
{
    t->manual = true;
    t->manual_consolidate |= consolidate;
}

void trigger_local(int64_t now_ns, int *weekday, int *minute)
{
    time_t secs = (time_t)(now_ns / JOULE_NS_PER_S);
    struct tm tm;
    localtime_r(&secs, &tm);
    *weekday = (tm.tm_wday + 6) % 7; /* tm: 0 = Sunday; windows: 0 = Monday */
    *minute = tm.tm_hour * 60 + tm.tm_min;
}

bool trigger_in_windows(const struct config_window *w, size_t n, int64_t now_ns)
{
    if (n == 0)
        return false;
    int wd, min;
    trigger_local(now_ns, &wd, &min);
    for (size_t i = 0; i < n; i++)
        if (config_window_contains(&w[i], wd, min))
            return true;
    return false;
}

static int64_t lead_ns(const struct trigger *t)
{
    const struct config *cfg = t->cfg;
    if (cfg->schedule.wake_lead_ns > 0)
        return cfg->schedule.wake_lead_ns;
    int64_t lead = 0;
    for (size_t i = 0; i < cfg->n_hosts && i < t->n_hosts; i++) {
        int64_t b = t->boot_measured_ns[i] > 0 ? t->boot_measured_ns[i] : cfg->hosts[i].boot_ns;
        if (b > lead)
            lead = b;
    }
    /* one tick on top: the wake is planned at a tick, not at the instant the lead begins */
    return lead + cfg->tick_ns;
}

/* Does a peak window start within (now, now + lead]? Scans minute by minute (windows are
 * minute-aligned), so DST changes in the zone are handled by localtime_r itself. */
static bool peak_within(const struct config *cfg, int64_t now_ns, int64_t lead)
{
    int64_t steps = lead / MINUTE_NS;
    if (steps > MAX_LEAD_SCAN_MIN)
        steps = MAX_LEAD_SCAN_MIN;
    for (int64_t k = 1; k <= steps; k++)
        if (trigger_in_windows(cfg->schedule.peak, cfg->schedule.n_peak, now_ns + k * MINUTE_NS))
            return true;
    return trigger_in_windows(cfg->schedule.peak, cfg->schedule.n_peak, now_ns + lead);
}

static double demand_cores(const struct model_snapshot *snap)
{
    double sum = 0;
    for (size_t i = 0; i < snap->n_vms; i++)
        sum += snap->vms[i].cpu_cores;
    return sum;
}

static bool host_active(enum power_state s)
{
    return s == POWER_STATE_ON || s == POWER_STATE_WAKING;
}

struct cand {
    int idx;
    int group;       /* 0: active (already there), 1: off, in wake order */
    int priority;
    double cpus;
};

static int cand_cmp(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->group != y->group)
        return x->group - y->group;
    if (x->group == 0 && x->cpus != y->cpus)
        return x->cpus > y->cpus ? -1 : 1; /* biggest active hosts first: fewest hosts */
    if (x->priority != y->priority)
        return x->priority < y->priority ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* The fewest hosts that carry `expected` cores under Th1: active ones first (largest first),
 * then off ones in wake order (priority, then config order). */
static unsigned hosts_needed(const struct config *cfg, const struct model_snapshot *snap,
                             double expected)
{
    double th1 = cfg->policy.th1_pct / 100.0;
    struct cand *c = xcalloc(snap->n_hosts + 1, sizeof *c);
    size_t nc = 0;
    for (size_t i = 0; i < snap->n_hosts; i++) {
        const struct snap_host *h = &snap->hosts[i];
        /* capacity of a host never sampled is unknown: take its configured override */
        double cpus = h->cpus > 0 ? h->cpus : cfg->hosts[i].cpus;
        if (host_active(h->state))
            c[nc++] = (struct cand){ (int)i, 0, h->priority, cpus };
        else if (!h->excluded)
            c[nc++] = (struct cand){ (int)i, 1, h->priority, cpus };
    }
    qsort(c, nc, sizeof *c, cand_cmp);
    double cap = 0;
    unsigned n = 0;
    for (size_t k = 0; k < nc && expected > th1 * cap + 1e-9; k++) {
        cap += c[k].cpus;
        n++;
    }
    free(c);
    return n;
}

static void schedule_eval(struct trigger *t, const struct model_snapshot *snap, int64_t now_ns,
                          struct trigger_schedule *s)
{
    const struct config *cfg = t->cfg;
    const struct config_schedule *sc = &cfg->schedule;
    memset(s, 0, sizeof *s);
    s->peak = trigger_in_windows(sc->peak, sc->n_peak, now_ns);
    s->off_peak = sc->n_off_peak > 0 ? trigger_in_windows(sc->off_peak, sc->n_off_peak, now_ns)
                                     : !s->peak;
    s->lead_ns = lead_ns(t);
    s->prewake = !s->peak && sc->n_peak > 0 && peak_within(cfg, now_ns, s->lead_ns);
    switch (cfg->policy.consolidate) {
    case CONFIG_CONSOLIDATE_ALWAYS:
        s->consolidation_allowed = true;
        break;
    case CONFIG_CONSOLIDATE_OFF_PEAK:
        s->consolidation_allowed = s->off_peak && !s->peak && !s->prewake;
        break;
    case CONFIG_CONSOLIDATE_NEVER:
    case CONFIG_CONSOLIDATE__COUNT:
        s->consolidation_allowed = false;
        break;
    }
    s->min_active_hosts = cfg->policy.min_active_hosts;

    double demand = demand_cores(snap);
    if (s->peak) {
        if (demand > t->peak_max_cores)
            t->peak_max_cores = demand;
    } else if (t->peak_max_cores > 0) {
        t->last_peak_cores = t->peak_max_cores; /* a peak window just ended */
        t->peak_max_cores = 0;
    }
    if (s->peak || s->prewake) {
        if (sc->peak_min_active_hosts > s->min_active_hosts)
            s->min_active_hosts = sc->peak_min_active_hosts;
        double total = 0;
        for (size_t i = 0; i < snap->n_hosts; i++)
            total += snap->hosts[i].cpus > 0 ? snap->hosts[i].cpus : cfg->hosts[i].cpus;
        double expected = sc->peak_expected_load_pct / 100.0 * total;
        if (t->last_peak_cores > expected)
            expected = t->last_peak_cores;
        if (expected <= 0)
            expected = demand; /* nothing known yet: at least what runs now */
        s->expected_load_cores = expected;
        unsigned need = hosts_needed(cfg, snap, expected);
        if (need > s->min_active_hosts)
            s->min_active_hosts = need;
    }
    if (s->min_active_hosts > snap->n_hosts)
        s->min_active_hosts = (unsigned)snap->n_hosts;
}

static struct trigger_event *add(struct trigger_event *out, size_t max, size_t *n,
                                 enum trigger_kind kind)
{
    if (*n >= max)
        return NULL;
    struct trigger_event *e = &out[(*n)++];
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->host = -1;
    return e;
}

static const char *schedule_change(const struct trigger *t, const struct trigger_schedule *s)
{
    if (s->prewake && !t->was_prewake)
        return "peak starts within the lead";
    if (s->peak && !t->was_peak)
        return "peak window started";
    if (!s->peak && t->was_peak)
        return "peak window ended";
    return s->off_peak ? "off-peak window started" : "off-peak window ended";
}

size_t trigger_eval(struct trigger *t, const struct model_snapshot *snap, int64_t now_ns,
                    int64_t mono_ns, struct trigger_schedule *sched, struct trigger_event *out,
                    size_t max)
{
    const struct config *cfg = t->cfg;
    size_t n = 0;
    schedule_eval(t, snap, now_ns, sched);

    if (t->manual) {
        struct trigger_event *e = add(out, max, &n, TRIGGER_MANUAL);
        if (e)
            snprintf(e->detail, sizeof e->detail, "operator request%s",
                     t->manual_consolidate ? ": consolidate now" : "");
        if (t->manual_consolidate && cfg->policy.consolidate != CONFIG_CONSOLIDATE_NEVER)
            sched->consolidation_allowed = true;
        t->manual = t->manual_consolidate = false;
    }

    for (size_t i = 0; i < snap->n_hosts && i < t->n_hosts; i++) {
        const struct snap_host *h = &snap->hosts[i];
        if (h->state != POWER_STATE_ON || h->load_pct <= cfg->policy.overload_pct)
            continue;
        if (t->last_overload_mono[i] != SNAP_NEVER &&
            mono_ns - t->last_overload_mono[i] < cfg->policy.overload_cooldown_ns)
            continue;
        struct trigger_event *e = add(out, max, &n, TRIGGER_OVERLOAD);
        if (!e)
            break;
        t->last_overload_mono[i] = mono_ns;
        e->host = (int)i;
        e->load_pct = h->load_pct;
        snprintf(e->detail, sizeof e->detail, "host %s load %.1f%% > overload_pct %.0f%%",
                 h->name ? h->name : "?", h->load_pct, cfg->policy.overload_pct);
    }

    if (t->have_state && (sched->peak != t->was_peak || sched->off_peak != t->was_off_peak ||
                          sched->prewake != t->was_prewake)) {
        struct trigger_event *e = add(out, max, &n, TRIGGER_SCHEDULE);
        if (e) {
            const char *what = schedule_change(t, sched);
            snprintf(e->detail, sizeof e->detail, "%s (lead %.0f s, expected %.1f cores, min %u hosts)",
                     what, (double)sched->lead_ns / JOULE_NS_PER_S, sched->expected_load_cores,
                     sched->min_active_hosts);
        }
    }
    t->have_state = true;
    t->was_peak = sched->peak;
    t->was_off_peak = sched->off_peak;
    t->was_prewake = sched->prewake;

    if (n == 0 && (t->last_run_mono == SNAP_NEVER || mono_ns - t->last_run_mono >= cfg->periodic_ns)) {
        struct trigger_event *e = add(out, max, &n, TRIGGER_PERIODIC);
        if (e)
            snprintf(e->detail, sizeof e->detail, "every %.0f s",
                     (double)cfg->periodic_ns / JOULE_NS_PER_S);
    }
    if (n > 0)
        t->last_run_mono = mono_ns;
    return n;
}

void trigger_apply(const struct trigger_schedule *sched, struct model_snapshot *snap)
{
    snap->peak = sched->peak;
    snap->consolidation_allowed = sched->consolidation_allowed;
    snap->min_active_hosts = sched->min_active_hosts;
    snap->expected_load_cores = sched->expected_load_cores;
}
