/* power.c - the per-host power state machine (see power.h).
 *
 * States: unknown, on, draining, powering_off, off, waking. Every change goes through the
 * transition table `fsm` below ({next, action, guard}, STYLE.md §10); the safety rules are its
 * guards. An unlisted (state, event) pair is refused with JOULE_ESTATE.
 *
 * An action (on or off) walks the host's methods in configured order, skipping those that lack
 * the operation (WoL has no off). Per method: the driver call is tried up to POWER_CALL_TRIES
 * times; once it succeeds the controller waits for verification until the attempt deadline
 * (boot_s or shutdown_s, plus a margin); then the next method. Off starts with a soft (ACPI)
 * shutdown; for methods that have a hard off (ipmi, sim) a hard off follows after
 * ipmi.soft_off_grace_s. When no method is left the host goes to unknown, an alert is emitted,
 * and observations cannot lift it out of unknown for POWER_UNKNOWN_HOLD_NS (an operator's or
 * the executor's request can). Only `on` counts as capacity.
 *
 * Verification: off = a status-capable method (ipmi, exec with a status command, sim) says off,
 * or libvirt unreachable and a fresh meter reading below the host's standby watts; on = libvirt
 * reachable again.
 *
 * Blocking: driver calls (IPMI sessions, commands) can take seconds. By default each call runs
 * on its own short-lived worker thread (at most one per host at a time): requests only record
 * what to do, power_ctl_step starts calls and collects finished ones, so neither ever waits
 * on a driver. power_ctl_set_inline(pc, true) runs calls in the caller's thread instead (unit
 * tests with sim drivers and clock_sim; joulectl). */
#include "power.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "model.h"
#include "registry.h"
#include "util/log.h"
#include "util/xalloc.h"

#define LOG_MODULE "power"

enum power_ev {
    POWER_EV_DRAIN,          /* the executor starts emptying the host */
    POWER_EV_REQ_OFF,        /* power off requested */
    POWER_EV_REQ_ON,         /* power on requested */
    POWER_EV_VM_SEEN,        /* a VM appeared on (or is migrating to) a host being emptied */
    POWER_EV_SEEN_ON,        /* verified on: libvirt reachable */
    POWER_EV_SEEN_OFF,       /* verified off: status says off, or libvirt down + meter low */
    POWER_EV_GRACE,          /* soft-off grace over, not off yet: hard off */
    POWER_EV_ATTEMPT_FAILED, /* the current method failed or did not verify in time */
    POWER_EV_GIVE_UP,        /* no method left */
    POWER_EV__COUNT
};

static const char *const ev_names[POWER_EV__COUNT] = {
    [POWER_EV_DRAIN] = "drain",          [POWER_EV_REQ_OFF] = "request_off",
    [POWER_EV_REQ_ON] = "request_on",    [POWER_EV_VM_SEEN] = "vm_seen",
    [POWER_EV_SEEN_ON] = "seen_on",      [POWER_EV_SEEN_OFF] = "seen_off",
    [POWER_EV_GRACE] = "grace_over",     [POWER_EV_ATTEMPT_FAILED] = "attempt_failed",
    [POWER_EV_GIVE_UP] = "give_up",
};

enum call_kind { CALL_NONE, CALL_STATUS, CALL_ON, CALL_OFF_SOFT, CALL_OFF_HARD };

/* One driver call, run on a worker thread or inline. Written by the worker, read by the loop
 * after `done` (release/acquire). */
struct power_job {
    enum call_kind kind;
    size_t method;            /* index into the host's methods */
    unsigned action_seq;      /* which action an on/off call belongs to */
    struct power *drv;
    int64_t started_mono_ns;
    pthread_t thread;
    bool threaded;
    atomic_bool done;
    int rc;
    enum power_hw hw;
    int64_t duration_ns;
    struct joule_err err;
};

struct power_host {
    const struct config_host *cfg;
    int index;
    struct power *drv[CONFIG_POWER__COUNT]; /* by position in cfg->methods */
    size_t n_methods;
    bool excluded;
    enum power_state state;
    int64_t off_since_ns;     /* monotonic; SNAP_NEVER when not off */
    int64_t on_since_ns;      /* monotonic: when it came on; SNAP_NEVER if not on or unknown */
    bool ever_known;          /* left unknown at least once (the first sighting is not a wake) */
    int64_t hold_until_ns;    /* after a failure: unknown stays until then */
    size_t drain_vms;         /* fewest VMs seen while draining */

    /* the running action */
    bool acting;
    unsigned action_seq;      /* bumped by every new action */
    enum record_power_action action;
    int64_t start_wall_ns;
    int64_t start_mono_ns;
    size_t attempt;           /* method index */
    int call_tries;
    enum call_kind pending;   /* call to start when no job runs */
    bool call_ok;             /* the current method's call went through; verifying */
    bool hard;                /* a hard off was sent */
    int64_t grace_end_ns;     /* 0: no grace running */
    int64_t attempt_deadline_ns;
    bool forced;
    char method[16];
    char error[RECORD_ERROR_MAX];

    bool job_busy;
    struct power_job job;
    int64_t last_status_ns;
    int64_t status_every_ns;  /* POWER_POLL_NS, doubled after each failed status, capped */
    struct log_complaint status_complaint;
};

struct power_ctl {
    const struct config *cfg;
    const struct clock *clock;
    struct power_host *hosts;
    size_t n_hosts;
    bool inline_calls;
    struct power_action_record *recs;
    size_t n_recs, cap_recs;
    struct event_record *evs;
    size_t n_evs, cap_evs;
    struct power_ctl_stats stats;
};

/* What the transition table's guards and actions see. */
struct fsm_ctx {
    int64_t now_ns;                     /* monotonic */
    const struct power_facts *facts;    /* may be NULL (requests without facts) */
    size_t active_hosts;
    bool force;
    const char *verified_by;
    const char *detail;
    enum power_state prev;
};

typedef int power_guard_fn(const struct power_ctl *pc, const struct power_host *h,
                           const struct fsm_ctx *c, struct joule_err *err);
typedef void power_action_fn(struct power_ctl *pc, struct power_host *h, const struct fsm_ctx *c);

struct power_transition {
    bool listed;
    enum power_state next;
    power_action_fn *action;
    power_guard_fn *guard;
};

/* ------------------------------------------------------------------------------ helpers */

/* power_state_name() is defined once, in model.c (both headers declare it). */

static const char *method_name(const struct power_host *h, size_t m)
{
    return config_power_method_name(h->cfg->methods[m]);
}

static bool method_can(const struct power_host *h, size_t m, enum record_power_action a)
{
    const struct power_ops *ops = h->drv[m]->ops;
    return a == RECORD_POWER_ON ? ops->on != NULL : ops->off != NULL;
}

/* Methods with a hard off distinct from the soft one. */
static bool method_has_hard(const struct power_host *h, size_t m)
{
    enum config_power_method k = h->cfg->methods[m];
    return k == CONFIG_POWER_IPMI || k == CONFIG_POWER_SIM;
}

/* First method at or after `from` that can do `a`; n_methods if none. */
static size_t next_method(const struct power_host *h, size_t from, enum record_power_action a)
{
    size_t m = from;
    while (m < h->n_methods && !method_can(h, m, a))
        m++;
    return m;
}

static int64_t margin_ns(int64_t expected_ns)
{
    int64_t m = expected_ns / 2;
    return m < POWER_VERIFY_MARGIN_MIN_NS ? POWER_VERIFY_MARGIN_MIN_NS : m;
}

static int64_t soft_grace_ns(const struct power_host *h)
{
    return h->cfg->ipmi.soft_off_grace_ns;
}

static size_t active_count(const struct power_ctl *pc)
{
    size_t n = 0;
    for (size_t i = 0; i < pc->n_hosts; i++)
        n += pc->hosts[i].state == POWER_STATE_ON || pc->hosts[i].state == POWER_STATE_DRAINING;
    return n;
}

static void push_event(struct power_ctl *pc, const char *kind, const struct power_host *h,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void push_event(struct power_ctl *pc, const char *kind, const struct power_host *h,
                       const char *fmt, ...)
{
    xgrow((void **)&pc->evs, &pc->cap_evs, pc->n_evs + 1, sizeof *pc->evs);
    struct event_record *e = &pc->evs[pc->n_evs++];
    memset(e, 0, sizeof *e);
    snprintf(e->kind, sizeof e->kind, "%s", kind);
    e->t_ns = clock_now_ns(pc->clock);
    snprintf(e->host, sizeof e->host, "%s", h ? h->cfg->name : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->detail, sizeof e->detail, fmt, ap);
    va_end(ap);
}

static void push_record(struct power_ctl *pc, struct power_host *h, bool ok,
                        const char *verified_by)
{
    xgrow((void **)&pc->recs, &pc->cap_recs, pc->n_recs + 1, sizeof *pc->recs);
    struct power_action_record *r = &pc->recs[pc->n_recs++];
    memset(r, 0, sizeof *r);
    snprintf(r->host, sizeof r->host, "%s", h->cfg->name);
    r->action = h->action;
    snprintf(r->method, sizeof r->method, "%s", h->method);
    r->start_ns = h->start_wall_ns;
    r->end_ns = clock_now_ns(pc->clock);
    r->ok = ok;
    snprintf(r->verified_by, sizeof r->verified_by, "%s", ok && verified_by ? verified_by : "");
    snprintf(r->error, sizeof r->error, "%s", ok ? "" : h->error);
    r->forced = h->forced;
    r->hard = h->hard;
}

/* -------------------------------------------------------------------------------- guards */

static int g_off_safe(const struct power_ctl *pc, const struct power_host *h,
                      const struct fsm_ctx *c, struct joule_err *err)
{
    const char *n = h->cfg->name;
    if (h->excluded)
        return joule_err_set(err, JOULE_EPERM, "power off %s refused: the host is excluded", n);
    if (!c->facts)
        return joule_err_set(err, JOULE_EPERM,
                             "power off %s refused: nothing is known about its VMs", n);
    if (c->facts->n_vms > 0)
        return joule_err_set(err, JOULE_EPERM, "power off %s refused: it runs %zu VM%s", n,
                             c->facts->n_vms, c->facts->n_vms == 1 ? "" : "s");
    if (c->facts->receiving_vm)
        return joule_err_set(err, JOULE_EPERM,
                             "power off %s refused: a VM is migrating to it", n);
    if (next_method(h, 0, RECORD_POWER_OFF) == h->n_methods)
        return joule_err_set(err, JOULE_EPERM,
                             "power off %s refused: no configured method can power it off", n);
    /* Both the caller's count and ours must leave enough hosts on. */
    size_t active = active_count(pc);
    if (c->active_hosts < active)
        active = c->active_hosts;
    unsigned min = pc->cfg->policy.min_active_hosts;
    if (active <= min && !c->force)
        return joule_err_set(err, JOULE_EPERM,
                             "power off %s refused: %zu active host%s, min_active_hosts is %u", n,
                             active, active == 1 ? "" : "s", min);
    return 0;
}

static int g_can_drain(const struct power_ctl *pc, const struct power_host *h,
                       const struct fsm_ctx *c, struct joule_err *err)
{
    (void)pc;
    (void)c;
    if (h->excluded)
        return joule_err_set(err, JOULE_EPERM, "drain %s refused: the host is excluded",
                             h->cfg->name);
    return 0;
}

static int g_can_wake(const struct power_ctl *pc, const struct power_host *h,
                      const struct fsm_ctx *c, struct joule_err *err)
{
    (void)pc;
    (void)c;
    if (h->n_methods == 0)
        return joule_err_set(err, JOULE_EPERM, "power on %s refused: no power method configured",
                             h->cfg->name);
    return 0;
}

static int g_more_methods(const struct power_ctl *pc, const struct power_host *h,
                          const struct fsm_ctx *c, struct joule_err *err)
{
    (void)pc;
    (void)c;
    if (next_method(h, h->attempt + 1, h->action) < h->n_methods)
        return 0;
    return joule_err_set(err, JOULE_EPERM, "%s: no method left", h->cfg->name);
}

/* Observations may move a host out of unknown only after the hold that follows a failure. */
static int g_settled(const struct power_ctl *pc, const struct power_host *h,
                     const struct fsm_ctx *c, struct joule_err *err)
{
    (void)pc;
    if (c->now_ns >= h->hold_until_ns)
        return 0;
    return joule_err_set(err, JOULE_EBUSY, "%s: unknown after a failure, on hold",
                         h->cfg->name);
}

/* ------------------------------------------------------------------------------- actions */

static void begin_action(struct power_ctl *pc, struct power_host *h, enum record_power_action a,
                         const struct fsm_ctx *c)
{
    h->acting = true;
    h->action_seq++;
    h->action = a;
    h->start_wall_ns = clock_now_ns(pc->clock);
    h->start_mono_ns = c->now_ns;
    h->attempt = next_method(h, 0, a);
    h->call_tries = 0;
    h->call_ok = false;
    h->hard = false;
    h->grace_end_ns = 0;
    h->attempt_deadline_ns = 0;
    h->forced = c->force;
    h->error[0] = '\0';
    snprintf(h->method, sizeof h->method, "%s",
             h->attempt < h->n_methods ? method_name(h, h->attempt) : "");
    h->pending = a == RECORD_POWER_ON ? CALL_ON : CALL_OFF_SOFT;
    h->status_every_ns = POWER_POLL_NS;
}

static void a_start_off(struct power_ctl *pc, struct power_host *h, const struct fsm_ctx *c)
{
    begin_action(pc, h, RECORD_POWER_OFF, c);
    if (c->force)
        JLOG_WARN("event=power_off_forced host=%s reason=\"operator --force\" active_hosts=%zu "
                  "min_active_hosts=%u",
                  h->cfg->name, c->active_hosts, pc->cfg->policy.min_active_hosts);
}

static void a_start_on(struct power_ctl *pc, struct power_host *h, const struct fsm_ctx *c)
{
    begin_action(pc, h, RECORD_POWER_ON, c);
}

static void a_drain(struct power_ctl *pc, struct power_host *h, const struct fsm_ctx *c)
{
    (void)pc;
    h->drain_vms = c->facts ? c->facts->n_vms : SIZE_MAX;
}

static void a_next_method(struct power_ctl *pc, struct power_host *h, const struct fsm_ctx *c)
{
    (void)pc;
    JLOG_NOTICE("event=power_fallback host=%s from=%s to=%s reason=\"%s\"", h->cfg->name,
                method_name(h, h->attempt),
                method_name(h, next_method(h, h->attempt + 1, h->action)),
                c->detail ? c->detail : h->error);
    h->attempt = next_method(h, h->attempt + 1, h->action);
    snprintf(h->method, sizeof h->method, "%s", method_name(h, h->attempt));
    h->call_tries = 0;
    h->call_ok = false;
    h->hard = false;
    h->grace_end_ns = 0;
    h->attempt_deadline_ns = 0;
    h->pending = h->action == RECORD_POWER_ON ? CALL_ON : CALL_OFF_SOFT;
}

static void a_hard_off(struct power_ctl *pc, struct power_host *h, const struct fsm_ctx *c)
{
    (void)pc;
    (void)c;
    JLOG_NOTICE("event=power_soft_off_timeout host=%s method=%s grace_s=%.1f next=hard_off",
                h->cfg->name, h->method, (double)soft_grace_ns(h) / JOULE_NS_PER_S);
    h->grace_end_ns = 0;
    h->call_ok = false;
    h->call_tries = 0;
    h->pending = CALL_OFF_HARD;
}

static void a_done(struct power_ctl *pc, struct power_host *h, const struct fsm_ctx *c)
{
    if (!h->acting)
        return;
    int64_t took = c->now_ns - h->start_mono_ns;
    JLOG_NOTICE("event=power_verified host=%s action=%s method=%s verified_by=%s took_s=%.3f",
                h->cfg->name, h->action == RECORD_POWER_ON ? "on" : "off", h->method,
                c->verified_by ? c->verified_by : "?", (double)took / JOULE_NS_PER_S);
    if (h->action == RECORD_POWER_ON) {
        pc->stats.wakes_verified++;
        pc->stats.last_wake_ns = took;
    }
    push_record(pc, h, true, c->verified_by);
    h->acting = false;
    h->pending = CALL_NONE;
}

static void a_give_up(struct power_ctl *pc, struct power_host *h, const struct fsm_ctx *c)
{
    if (!h->error[0])
        snprintf(h->error, sizeof h->error, "%s", c->detail ? c->detail : "not verified");
    push_record(pc, h, false, NULL);
    push_event(pc, "alert", h, "power %s failed after trying every method: %s; host state unknown",
               h->action == RECORD_POWER_ON ? "on" : "off", h->error);
    JLOG_ERR("event=power_failed host=%s action=%s last_method=%s error=\"%s\"", h->cfg->name,
             h->action == RECORD_POWER_ON ? "on" : "off", h->method, h->error);
    h->acting = false;
    h->pending = CALL_NONE;
    h->hold_until_ns = c->now_ns + POWER_UNKNOWN_HOLD_NS;
}

static void a_abort_off(struct power_ctl *pc, struct power_host *h, const struct fsm_ctx *c)
{
    snprintf(h->error, sizeof h->error, "aborted: %s", c->detail ? c->detail : "a VM appeared");
    push_record(pc, h, false, NULL);
    push_event(pc, "alert", h, "power off aborted: %s", c->detail ? c->detail : "a VM appeared");
    JLOG_WARN("event=power_off_aborted host=%s reason=\"%s\" hard_sent=%s", h->cfg->name,
              c->detail ? c->detail : "a VM appeared", h->hard ? "yes" : "no");
    h->acting = false;
    h->pending = CALL_NONE;
}

static void a_drain_aborted(struct power_ctl *pc, struct power_host *h, const struct fsm_ctx *c)
{
    push_event(pc, "drain_aborted", h, "%s", c->detail ? c->detail : "a VM appeared");
}

static void a_cancel_drain(struct power_ctl *pc, struct power_host *h, const struct fsm_ctx *c)
{
    (void)pc;
    (void)c;
    JLOG_NOTICE("event=power_drain_cancelled host=%s", h->cfg->name);
}

/* A host changed state by itself (first observation, or someone pressed a button). */
static void a_observed(struct power_ctl *pc, struct power_host *h, const struct fsm_ctx *c)
{
    /* from unknown it is a first sighting (or the end of a hold); otherwise nobody asked */
    if (c->prev != POWER_STATE_UNKNOWN)
        push_event(pc, "alert", h, "host went %s without joule (%s)",
                   h->state == POWER_STATE_OFF ? "off" : "on",
                   c->verified_by ? c->verified_by : "?");
}

static void a_nothing(struct power_ctl *pc, struct power_host *h, const struct fsm_ctx *c)
{
    (void)pc;
    (void)h;
    (void)c;
}

/* ---------------------------------------------------------------------- the transition table */

#define T(n, a, g) { .listed = true, .next = POWER_STATE_##n, .action = (a), .guard = (g) }

static const struct power_transition fsm[POWER_STATE__COUNT][POWER_EV__COUNT] = {
    [POWER_STATE_UNKNOWN] = {
        [POWER_EV_SEEN_ON] = T(ON, a_observed, g_settled),
        [POWER_EV_SEEN_OFF] = T(OFF, a_observed, g_settled),
        [POWER_EV_REQ_ON] = T(WAKING, a_start_on, g_can_wake),
        [POWER_EV_REQ_OFF] = T(POWERING_OFF, a_start_off, g_off_safe),
    },
    [POWER_STATE_ON] = {
        [POWER_EV_DRAIN] = T(DRAINING, a_drain, g_can_drain),
        [POWER_EV_REQ_OFF] = T(POWERING_OFF, a_start_off, g_off_safe),
        [POWER_EV_SEEN_OFF] = T(OFF, a_observed, NULL),
    },
    [POWER_STATE_DRAINING] = {
        [POWER_EV_DRAIN] = T(DRAINING, a_nothing, g_can_drain),
        [POWER_EV_REQ_OFF] = T(POWERING_OFF, a_start_off, g_off_safe),
        [POWER_EV_REQ_ON] = T(ON, a_cancel_drain, NULL),
        [POWER_EV_VM_SEEN] = T(ON, a_drain_aborted, NULL),
        [POWER_EV_SEEN_OFF] = T(OFF, a_observed, NULL),
    },
    [POWER_STATE_POWERING_OFF] = {
        [POWER_EV_SEEN_OFF] = T(OFF, a_done, NULL),
        [POWER_EV_GRACE] = T(POWERING_OFF, a_hard_off, NULL),
        [POWER_EV_ATTEMPT_FAILED] = T(POWERING_OFF, a_next_method, g_more_methods),
        [POWER_EV_GIVE_UP] = T(UNKNOWN, a_give_up, NULL),
        [POWER_EV_VM_SEEN] = T(ON, a_abort_off, NULL),
    },
    [POWER_STATE_OFF] = {
        [POWER_EV_REQ_ON] = T(WAKING, a_start_on, g_can_wake),
        [POWER_EV_SEEN_ON] = T(ON, a_observed, NULL),
    },
    [POWER_STATE_WAKING] = {
        [POWER_EV_REQ_ON] = T(WAKING, a_nothing, NULL),
        [POWER_EV_SEEN_ON] = T(ON, a_done, NULL),
        [POWER_EV_ATTEMPT_FAILED] = T(WAKING, a_next_method, g_more_methods),
        [POWER_EV_GIVE_UP] = T(UNKNOWN, a_give_up, NULL),
    },
};

#undef T

/* When the host came on: set when it enters ON from off, waking, or an unknown it fell into
 * after a failed action (it was seen on or off before); the first sighting after start says
 * nothing (SNAP_NEVER). Kept through draining / powering_off and an aborted off (still on). */
static void set_on_since(struct power_host *h, const struct fsm_ctx *c)
{
    switch (h->state) {
    case POWER_STATE_ON:
        if (c->prev == POWER_STATE_OFF || c->prev == POWER_STATE_WAKING ||
            (c->prev == POWER_STATE_UNKNOWN && h->ever_known))
            h->on_since_ns = c->now_ns;
        else if (c->prev == POWER_STATE_UNKNOWN)
            h->on_since_ns = SNAP_NEVER;
        break;
    case POWER_STATE_DRAINING:
    case POWER_STATE_POWERING_OFF: break;
    case POWER_STATE_OFF:
    case POWER_STATE_WAKING:
    case POWER_STATE_UNKNOWN:
    case POWER_STATE__COUNT: h->on_since_ns = SNAP_NEVER; break;
    }
    if (h->state != POWER_STATE_UNKNOWN)
        h->ever_known = true;
}

static int fire(struct power_ctl *pc, struct power_host *h, enum power_ev ev,
                struct fsm_ctx *c, struct joule_err *err)
{
    const struct power_transition *t = &fsm[h->state][ev];
    if (!t->listed) {
        JLOG_NOTICE("event=power_refused host=%s state=%s ev=%s reason=not_allowed",
                    h->cfg->name, power_state_name(h->state), ev_names[ev]);
        return joule_err_set(err, JOULE_ESTATE, "%s: %s is not possible while %s", h->cfg->name,
                             ev_names[ev], power_state_name(h->state));
    }
    int rc;
    if (t->guard && (rc = t->guard(pc, h, c, err)) < 0)
        return rc;
    c->prev = h->state;
    h->state = t->next;
    if (t->next == POWER_STATE_OFF && c->prev != POWER_STATE_OFF)
        h->off_since_ns = c->now_ns;
    else if (t->next != POWER_STATE_OFF)
        h->off_since_ns = SNAP_NEVER;
    set_on_since(h, c);
    if (t->action)
        t->action(pc, h, c);
    if (t->action != a_nothing)
        JLOG_NOTICE("event=power_transition host=%s from=%s to=%s ev=%s%s%s", h->cfg->name,
                    power_state_name(c->prev), power_state_name(t->next), ev_names[ev],
                    c->verified_by ? " verified_by=" : "", c->verified_by ? c->verified_by : "");
    return 0;
}

/* Fires an observation or internal event only where the table lists it; guard refusals are
 * expected here (e.g. unknown on hold) and stay quiet. Returns true if the state machine took
 * it. */
static bool fire_if_listed(struct power_ctl *pc, struct power_host *h, enum power_ev ev,
                           struct fsm_ctx *c)
{
    if (!fsm[h->state][ev].listed)
        return false;
    struct joule_err err = { 0 };
    return fire(pc, h, ev, c, &err) == 0;
}

/* --------------------------------------------------------------------------------- jobs */

static void job_run(struct power_job *j)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    joule_err_clear(&j->err);
    switch (j->kind) {
    case CALL_STATUS:
        j->rc = power_status(j->drv, &j->hw, &j->err);
        break;
    case CALL_ON:
        j->rc = power_on(j->drv, &j->err);
        break;
    case CALL_OFF_SOFT:
        j->rc = power_off(j->drv, false, &j->err);
        break;
    case CALL_OFF_HARD:
        j->rc = power_off(j->drv, true, &j->err);
        break;
    case CALL_NONE:
        j->rc = 0;
        break;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    j->duration_ns = (int64_t)(b.tv_sec - a.tv_sec) * JOULE_NS_PER_S + (b.tv_nsec - a.tv_nsec);
    atomic_store_explicit(&j->done, true, memory_order_release);
}

static void *job_thread(void *arg)
{
    job_run(arg);
    return NULL;
}

static void job_start(struct power_ctl *pc, struct power_host *h, enum call_kind kind, size_t m,
                      int64_t now_ns)
{
    struct power_job *j = &h->job;
    memset(j, 0, sizeof *j);
    j->kind = kind;
    j->method = m;
    j->action_seq = h->action_seq;
    j->drv = h->drv[m];
    j->started_mono_ns = now_ns;
    atomic_init(&j->done, false);
    h->job_busy = true;
    if (!pc->inline_calls) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        int rc = pthread_create(&j->thread, &attr, job_thread, j);
        pthread_attr_destroy(&attr);
        if (rc == 0) {
            j->threaded = true;
            return;
        }
        JLOG_WARN("event=power_thread_failed host=%s errno=%d fallback=inline", h->cfg->name, rc);
    }
    job_run(j);
}

static void job_join(struct power_host *h)
{
    if (h->job_busy && h->job.threaded) {
        pthread_join(h->job.thread, NULL);
        h->job.threaded = false;
    }
}

static const char *call_name(enum call_kind k)
{
    switch (k) {
    case CALL_NONE: return "none";
    case CALL_STATUS: return "status";
    case CALL_ON: return "on";
    case CALL_OFF_SOFT: return "soft_off";
    case CALL_OFF_HARD: return "hard_off";
    }
    return "?";
}

/* Verification by a status-capable method saying off. */
static const char *status_verified_by(const struct power_host *h, size_t m)
{
    switch (h->cfg->methods[m]) {
    case CONFIG_POWER_IPMI: return "ipmi_status";
    case CONFIG_POWER_EXEC: return "exec_status";
    case CONFIG_POWER_SIM: return "sim_status";
    case CONFIG_POWER_WOL:
    case CONFIG_POWER__COUNT: break;
    }
    return "status";
}

static void attempt_failed(struct power_ctl *pc, struct power_host *h, struct fsm_ctx *c)
{
    struct joule_err err = { 0 };
    if (fire(pc, h, POWER_EV_ATTEMPT_FAILED, c, &err) < 0)
        fire(pc, h, POWER_EV_GIVE_UP, c, &err);
}

static void job_harvest(struct power_ctl *pc, struct power_host *h, struct fsm_ctx *c)
{
    if (!h->job_busy || !atomic_load_explicit(&h->job.done, memory_order_acquire))
        return;
    job_join(h);
    h->job_busy = false;
    struct power_job *j = &h->job;
    pc->stats.calls++;
    pc->stats.call_ns_total += j->duration_ns;
    if (j->duration_ns > pc->stats.call_ns_max)
        pc->stats.call_ns_max = j->duration_ns;
    if (j->rc < 0)
        pc->stats.call_errors++;

    if (j->kind == CALL_STATUS) {
        if (j->rc < 0) {
            if (log_complain(&h->status_complaint))
                JLOG_WARN("event=power_status_failed host=%s error=\"%s\"", h->cfg->name,
                          j->err.msg);
            h->status_every_ns *= 2;
            if (h->status_every_ns > POWER_POLL_MAX_NS)
                h->status_every_ns = POWER_POLL_MAX_NS;
            return;
        }
        unsigned long failed = log_release(&h->status_complaint);
        if (failed)
            JLOG_NOTICE("event=power_status_ok host=%s failed_before=%lu", h->cfg->name, failed);
        h->status_every_ns = POWER_POLL_NS;
        /* a status taken before the current action began proves nothing about it */
        if (h->acting && j->started_mono_ns < h->start_mono_ns)
            return;
        if (j->hw == POWER_HW_OFF) {
            c->verified_by = status_verified_by(h, j->method);
            fire_if_listed(pc, h, POWER_EV_SEEN_OFF, c);
            c->verified_by = NULL;
        }
        return;
    }
    /* an action call; its result matters only for the action and attempt it belongs to */
    if (!h->acting || j->action_seq != h->action_seq || j->method != h->attempt)
        return;
    if (j->rc == 0) {
        h->call_ok = true;
        int64_t expect;
        if (j->kind == CALL_ON) {
            expect = h->cfg->boot_ns;
            h->attempt_deadline_ns = c->now_ns + expect + margin_ns(expect);
        } else if (j->kind == CALL_OFF_SOFT && method_has_hard(h, j->method)) {
            h->grace_end_ns = c->now_ns + soft_grace_ns(h);
            h->attempt_deadline_ns = h->grace_end_ns + margin_ns(h->cfg->shutdown_ns);
        } else if (j->kind == CALL_OFF_HARD) {
            h->hard = true;
            h->attempt_deadline_ns = c->now_ns + POWER_VERIFY_MARGIN_MIN_NS;
        } else {
            expect = h->cfg->shutdown_ns;
            h->attempt_deadline_ns = c->now_ns + expect + margin_ns(expect);
        }
        h->last_status_ns = c->now_ns; /* first status poll one interval after the call */
        return;
    }
    snprintf(h->error, sizeof h->error, "%s", j->err.msg);
    JLOG_WARN("event=power_call_failed host=%s method=%s call=%s try=%d error=\"%s\"",
              h->cfg->name, method_name(h, j->method), call_name(j->kind), h->call_tries,
              j->err.msg);
    bool retry = h->call_tries < POWER_CALL_TRIES && j->rc != JOULE_ENOTSUP &&
                 j->rc != JOULE_EPERM && j->rc != JOULE_EINVAL && j->rc != JOULE_ENOENT;
    if (retry) {
        h->pending = j->kind;
        return;
    }
    c->detail = h->error;
    attempt_failed(pc, h, c);
    c->detail = NULL;
}

static bool has_status(const struct power_host *h, size_t *m)
{
    for (size_t i = 0; i < h->n_methods; i++) {
        if (!h->drv[i]->ops->status)
            continue;
        if (h->cfg->methods[i] == CONFIG_POWER_EXEC && !h->cfg->exec.status)
            continue;
        *m = i;
        return true;
    }
    return false;
}

/* ---------------------------------------------------------------------------------- API */

int power_ctl_new(const struct config *cfg, const struct drv_env *env, struct power_ctl **out,
                  struct joule_err *err)
{
    if (!env || !env->clock)
        return joule_err_set(err, JOULE_EINVAL, "power: a clock is needed");
    struct power_ctl *pc = xcalloc(1, sizeof *pc);
    pc->cfg = cfg;
    pc->clock = env->clock;
    pc->n_hosts = cfg->n_hosts;
    pc->hosts = xcalloc(cfg->n_hosts ? cfg->n_hosts : 1, sizeof *pc->hosts);
    for (size_t i = 0; i < cfg->n_hosts; i++) {
        struct power_host *h = &pc->hosts[i];
        const struct config_host *ch = &cfg->hosts[i];
        h->cfg = ch;
        h->index = (int)i;
        h->state = POWER_STATE_UNKNOWN;
        h->off_since_ns = SNAP_NEVER;
        h->on_since_ns = SNAP_NEVER;
        h->hold_until_ns = INT64_MIN;
        h->last_status_ns = INT64_MIN;
        h->status_every_ns = POWER_POLL_NS;
        h->excluded = ch->excluded;
        for (size_t k = 0; cfg->excluded_hosts && cfg->excluded_hosts[k]; k++)
            h->excluded |= strcmp(cfg->excluded_hosts[k], ch->name) == 0;
        for (size_t m = 0; m < ch->n_methods; m++) {
            const char *name = config_power_method_name(ch->methods[m]);
            const struct power_ops *ops = registry_find_power(name);
            int rc;
            if (!ops)
                rc = joule_err_set(err, JOULE_ENOTSUP, "host %s: power method %s is not built in",
                                   ch->name, name);
            else
                rc = power_new(ops, ch, env, &h->drv[m], err);
            if (rc < 0) {
                power_ctl_free(pc);
                return joule_err_prefix(err, rc, "power: ");
            }
            h->n_methods = m + 1;
        }
    }
    *out = pc;
    return 0;
}

void power_ctl_free(struct power_ctl *pc)
{
    if (!pc)
        return;
    for (size_t i = 0; i < pc->n_hosts; i++) {
        struct power_host *h = &pc->hosts[i];
        job_join(h); /* waits for a driver call still running (bounded by its timeout) */
        for (size_t m = 0; m < h->n_methods; m++)
            power_free(h->drv[m]);
    }
    free(pc->hosts);
    free(pc->recs);
    free(pc->evs);
    free(pc);
}

void power_ctl_set_inline(struct power_ctl *pc, bool inline_calls)
{
    pc->inline_calls = inline_calls;
}

enum power_state power_ctl_state(const struct power_ctl *pc, int host)
{
    if (host < 0 || (size_t)host >= pc->n_hosts)
        return POWER_STATE_UNKNOWN;
    return pc->hosts[host].state;
}

int64_t power_ctl_off_since(const struct power_ctl *pc, int host)
{
    if (host < 0 || (size_t)host >= pc->n_hosts)
        return SNAP_NEVER;
    return pc->hosts[host].off_since_ns;
}

int64_t power_ctl_on_since(const struct power_ctl *pc, int host)
{
    if (host < 0 || (size_t)host >= pc->n_hosts)
        return SNAP_NEVER;
    return pc->hosts[host].on_since_ns;
}

void power_ctl_to_model(const struct power_ctl *pc, struct model *m, int64_t now_ns,
                        int64_t now_mono_ns)
{
    size_t n = m->n_hosts < pc->n_hosts ? m->n_hosts : pc->n_hosts;
    for (size_t i = 0; i < n; i++) {
        const struct power_host *h = &pc->hosts[i];
        struct model_host *mh = &m->hosts[i];
        mh->state = h->state;
        mh->off_since_ns = h->state == POWER_STATE_OFF && h->off_since_ns != SNAP_NEVER
                               ? now_ns - (now_mono_ns - h->off_since_ns)
                               : SNAP_NEVER;
        mh->on_since_ns = h->on_since_ns != SNAP_NEVER ? now_ns - (now_mono_ns - h->on_since_ns)
                                                       : SNAP_NEVER;
    }
}

bool power_ctl_is_capacity(const struct power_ctl *pc, int host)
{
    return power_ctl_state(pc, host) == POWER_STATE_ON;
}

static int host_arg(const struct power_ctl *pc, int host, struct joule_err *err)
{
    if (host < 0 || (size_t)host >= pc->n_hosts)
        return joule_err_set(err, JOULE_EINVAL, "power: host index %d is out of range (0..%zu)",
                             host, pc->n_hosts);
    return 0;
}

int power_ctl_request_off(struct power_ctl *pc, int host, const struct power_facts *facts,
                          size_t active_hosts, bool force, struct joule_err *err)
{
    int rc;
    if ((rc = host_arg(pc, host, err)) < 0)
        return rc;
    struct power_host *h = &pc->hosts[host];
    struct fsm_ctx c = { .now_ns = clock_mono_ns(pc->clock), .facts = facts,
                         .active_hosts = active_hosts, .force = force };
    rc = fire(pc, h, POWER_EV_REQ_OFF, &c, err);
    if (rc == JOULE_EPERM)
        JLOG_NOTICE("event=power_off_refused host=%s reason=\"%s\"", h->cfg->name, err->msg);
    return rc;
}

int power_ctl_request_on(struct power_ctl *pc, int host, struct joule_err *err)
{
    int rc;
    if ((rc = host_arg(pc, host, err)) < 0)
        return rc;
    struct fsm_ctx c = { .now_ns = clock_mono_ns(pc->clock) };
    return fire(pc, &pc->hosts[host], POWER_EV_REQ_ON, &c, err);
}

int power_ctl_mark_draining(struct power_ctl *pc, int host, struct joule_err *err)
{
    int rc;
    if ((rc = host_arg(pc, host, err)) < 0)
        return rc;
    struct fsm_ctx c = { .now_ns = clock_mono_ns(pc->clock) };
    return fire(pc, &pc->hosts[host], POWER_EV_DRAIN, &c, err);
}

static void observe(struct power_ctl *pc, struct power_host *h, const struct power_facts *f,
                    struct fsm_ctx *c)
{
    /* a VM appearing where joule is emptying a host, or on a host being switched off */
    if (h->state == POWER_STATE_DRAINING) {
        if (h->drain_vms == SIZE_MAX)
            h->drain_vms = f->n_vms;
        if (f->n_vms > h->drain_vms || f->receiving_vm) {
            char d[96];
            snprintf(d, sizeof d, "%s", f->receiving_vm ? "a VM is migrating to the host"
                                                        : "a new VM appeared on the host");
            c->detail = d;
            fire_if_listed(pc, h, POWER_EV_VM_SEEN, c);
            c->detail = NULL;
            return;
        }
        if (f->n_vms < h->drain_vms)
            h->drain_vms = f->n_vms;
    }
    if (h->state == POWER_STATE_POWERING_OFF && f->libvirt_reachable &&
        (f->n_vms > 0 || f->receiving_vm)) {
        char d[96];
        snprintf(d, sizeof d, "%zu VM%s on the host while powering off%s", f->n_vms,
                 f->n_vms == 1 ? "" : "s", f->receiving_vm ? " (one migrating to it)" : "");
        c->detail = d;
        fire_if_listed(pc, h, POWER_EV_VM_SEEN, c);
        c->detail = NULL;
        return;
    }
    if (f->libvirt_reachable) {
        c->verified_by = "libvirt_reachable";
        fire_if_listed(pc, h, POWER_EV_SEEN_ON, c);
    } else if (f->watts_fresh && f->watts < h->cfg->standby_w) {
        c->verified_by = "libvirt_down+meter";
        fire_if_listed(pc, h, POWER_EV_SEEN_OFF, c);
    }
    c->verified_by = NULL;
}

static void deadlines(struct power_ctl *pc, struct power_host *h, struct fsm_ctx *c)
{
    if (!h->acting || !h->call_ok)
        return;
    if (h->state == POWER_STATE_POWERING_OFF && h->grace_end_ns && c->now_ns >= h->grace_end_ns &&
        !h->hard) {
        fire_if_listed(pc, h, POWER_EV_GRACE, c);
        return;
    }
    if (h->attempt_deadline_ns && c->now_ns >= h->attempt_deadline_ns) {
        char d[128];
        snprintf(d, sizeof d, "%s: not verified %s within %.0f s", h->method,
                 h->action == RECORD_POWER_ON ? "on" : "off",
                 (double)(h->attempt_deadline_ns - h->start_mono_ns) / JOULE_NS_PER_S);
        snprintf(h->error, sizeof h->error, "%s", d);
        c->detail = d;
        attempt_failed(pc, h, c);
        c->detail = NULL;
    }
}

static void launch(struct power_ctl *pc, struct power_host *h, struct fsm_ctx *c)
{
    if (h->job_busy)
        return;
    if (h->acting && h->pending != CALL_NONE) {
        if (h->attempt >= h->n_methods) {
            snprintf(h->error, sizeof h->error, "no method can %s this host",
                     h->action == RECORD_POWER_ON ? "power on" : "power off");
            struct joule_err err = { 0 };
            fire(pc, h, POWER_EV_GIVE_UP, c, &err);
            return;
        }
        enum call_kind k = h->pending;
        h->pending = CALL_NONE;
        h->call_tries++;
        job_start(pc, h, k, h->attempt, c->now_ns);
        return;
    }
    /* status polls: to verify an off, and to resolve unknown */
    size_t m;
    bool want = h->state == POWER_STATE_POWERING_OFF || h->state == POWER_STATE_UNKNOWN;
    if (want && (!h->acting || h->call_ok) && has_status(h, &m) &&
        (h->last_status_ns == INT64_MIN || c->now_ns - h->last_status_ns >= h->status_every_ns)) {
        h->last_status_ns = c->now_ns;
        job_start(pc, h, CALL_STATUS, m, c->now_ns);
    }
}

void power_ctl_step(struct power_ctl *pc, int64_t now_mono_ns, const struct power_facts *facts,
                    size_t n_hosts)
{
    size_t n = n_hosts < pc->n_hosts ? n_hosts : pc->n_hosts;
    for (size_t i = 0; i < pc->n_hosts; i++) {
        struct power_host *h = &pc->hosts[i];
        struct fsm_ctx c = { .now_ns = now_mono_ns, .facts = i < n ? &facts[i] : NULL };
        job_harvest(pc, h, &c);
        if (i < n)
            observe(pc, h, &facts[i], &c);
        deadlines(pc, h, &c);
        launch(pc, h, &c);
        if (pc->inline_calls)
            job_harvest(pc, h, &c); /* the call ran already: take its result now */
    }
}

bool power_ctl_busy(const struct power_ctl *pc)
{
    for (size_t i = 0; i < pc->n_hosts; i++)
        if (pc->hosts[i].job_busy || pc->hosts[i].acting)
            return true;
    return false;
}

void power_ctl_stats(const struct power_ctl *pc, struct power_ctl_stats *out)
{
    *out = pc->stats;
}

size_t power_ctl_take_records(struct power_ctl *pc, struct power_action_record *out, size_t max)
{
    size_t n = pc->n_recs < max ? pc->n_recs : max;
    if (n == 0)
        return 0;
    memcpy(out, pc->recs, n * sizeof *out);
    memmove(pc->recs, pc->recs + n, (pc->n_recs - n) * sizeof *pc->recs);
    pc->n_recs -= n;
    return n;
}

size_t power_ctl_take_events(struct power_ctl *pc, struct event_record *out, size_t max)
{
    size_t n = pc->n_evs < max ? pc->n_evs : max;
    if (n == 0)
        return 0;
    memcpy(out, pc->evs, n * sizeof *out);
    memmove(pc->evs, pc->evs + n, (pc->n_evs - n) * sizeof *pc->evs);
    pc->n_evs -= n;
    return n;
}
